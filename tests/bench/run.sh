#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Launch latency of `moat run -- /bin/true` next to what it is made of and
# what it competes with, measured in one run on one machine, in turns:
#
#   exec      fork + exec of /bin/true: the floor
#   unshare   unshare(1) into new mount/pid/net/uts/ipc namespaces
#   bwrap     bubblewrap with a comparable tmpfs root, /proc and /dev
#   moat      moat run -- /bin/true
#
# and, as context for the ratio (no target):
#
#   bwrap-as-moat  bubblewrap building the root moat's default tier builds,
#                  with its user, no capabilities and a new session; no
#                  cgroups, seccomp, accounting, state or audit log
#   moat-no-acct   moat run with accounting = no: the share of attaching and
#                  detaching the host-wide syscall tracepoint, which every
#                  launch here pays (it is the only accounted sandbox)
#
# Prints median, p90 and mean per launcher, moat's median as ratios to
# unshare's and bwrap's, and the target: moat/bwrap <= 1.0, PASS or MISS.
#
# Then the cost of the seccomp filter per syscall (seccomp-bench): getppid,
# which no argument rule touches, and ioctl, which has argument rules, with
# no filter, an allow-all filter, baseline and strict; its targets are
# printed as PASS or MISS lines. "getppid under strict within 3% of no
# filter" is reported but not counted by BENCH_STRICT: where seccomp's
# syscall entry path alone costs more (the allow-all row shows it), no
# filter can meet it, so the filter is held to 3% of allow-all instead
# (the same targets as `seccomp-bench --check`).
#
# Then the egress filter's cost on the network (net-bench): TCP connects/s,
# bulk TCP MB/s and 64-byte UDP sends/s over veths between namespaces, with
# no filter, with moat's egress programs holding 10, 1000 and 100000 rules
# and with nftables holding the same 100000; then rule loading. Its targets
# are printed as PASS or MISS lines too.
#
# Last, syscall accounting (syscount-bench): ns per getppid inside and
# outside a sandbox with no sys_enter program, an empty one, and moat's
# counter at 1, 10 and 100 registered sandboxes; PASS or MISS lines again.
# It needs a host where no other sandbox has accounting on (else SKIP).
#
# Then the memory of moat's processes (tests/bench/memory.sh): VmRSS and
# PSS of the supervisors and inits of 20 sandboxes of the three tiers,
# median and max; target: the max VmRSS of each <= 2 MiB, PASS or MISS.
#
# Then the cost of an output flood outside the sandbox: the supervisor's CPU
# share (utime + stime from /proc/PID/stat over 5 s) while a detached `yes`
# writes without end, under the default log budget (target < 5% of a CPU)
# and, as context, with no budget (log_rate = 0), with what the supervisor
# wrote into the log per second (wchar from /proc/PID/io).
#
# Then `moat status --json` with 100 sandboxes running (half on veths, so
# that the egress counters are read for real): best of 5, target < 50 ms.
#
# Run as root (`make bench` sets MOAT and MOAT_TEST_HELPERS). Environment:
#   MOAT               the launcher (default build/moat)
#   MOAT_TEST_HELPERS  directory holding launch-bench and seccomp-bench
#                      (default build/tests/helpers)
#   MOAT_POLICY_DIR    directory holding seccomp/*.profile (default policies/)
#   BENCH_RUNS         timed runs per launcher, at least 50 (default 100)
#   BENCH_WARMUP       untimed runs first (default 5)
#   BENCH_SECCOMP_CALLS   syscalls per seccomp-bench round (default 2000000)
#   BENCH_SECCOMP_ROUNDS  seccomp-bench rounds, the best counts (default 5)
#   BENCH_NET_ROUNDS      net-bench rounds, the median counts (default 40: one
#                         round's bulk TCP ratio scatters +-15% on a 2-CPU VM, and
#                         15 rounds could not tell a 3% target from noise)
#   BENCH_NET_SLICE_MS    net-bench slice per test and configuration (default 200)
#   BENCH_STRICT=1     exit 1 on a MISS too
# Exit status: 0 measured (PASS or MISS), 1 moat, a benchmark or a
# prerequisite failed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOAT=${MOAT:-$repo/build/moat}
MOAT_TEST_HELPERS=${MOAT_TEST_HELPERS:-$repo/build/tests/helpers}
runs=${BENCH_RUNS:-100}
warmup=${BENCH_WARMUP:-5}
target=1.0 # moat's median over bwrap's

seccomp_calls=${BENCH_SECCOMP_CALLS:-2000000}
seccomp_rounds=${BENCH_SECCOMP_ROUNDS:-5}
profile_dir=${MOAT_POLICY_DIR:-$repo/policies}/seccomp

bench=$MOAT_TEST_HELPERS/launch-bench
seccomp_bench=$MOAT_TEST_HELPERS/seccomp-bench
net_bench=$MOAT_TEST_HELPERS/net-bench
net_rounds=${BENCH_NET_ROUNDS:-40}
net_slice=${BENCH_NET_SLICE_MS:-200}
bench_pid=
tmpdir=

die() {
	echo "bench: $*" >&2
	exit 1
}

# launch-bench kills and reaps its command on SIGTERM; run it in the
# background so that this trap can reach it while we wait.
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [[ -n $bench_pid ]]; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	[[ -z $tmpdir ]] || rm -rf "$tmpdir"
}
trap cleanup EXIT

# run_part OUT WHAT CMD...: runs CMD into $tmpdir/OUT in the background, so
# that the traps can reach it while we wait, shows what it printed and sets
# part_verdict to MISS when a line of it ends in MISS, else PASS.
run_part() {
	local out=$tmpdir/$1 what=$2
	shift 2
	"$@" >"$out" &
	bench_pid=$!
	wait "$bench_pid" || die "$what failed (its message above)"
	bench_pid=
	cat "$out"
	part_verdict=PASS
	if grep -q ' MISS$' "$out"; then part_verdict=MISS; fi
}
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $runs =~ ^[0-9]+$ && $runs -ge 50 ]] || die "BENCH_RUNS=$runs: need a number >= 50"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP=$warmup: not a number"
[[ $seccomp_calls =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECCOMP_CALLS=$seccomp_calls: need a number > 0"
[[ $seccomp_rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECCOMP_ROUNDS=$seccomp_rounds: need a number > 0"
[[ $net_rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_NET_ROUNDS=$net_rounds: need a number > 0"
[[ $net_slice =~ ^[1-9][0-9]*$ ]] || die "BENCH_NET_SLICE_MS=$net_slice: need a number > 0"
[[ $(id -u) -eq 0 ]] || die "run as root: moat and unshare create namespaces"
[[ -x $net_bench ]] || die "$net_bench missing: make build/tests/helpers/net-bench"
syscount_bench=$MOAT_TEST_HELPERS/syscount-bench
[[ -x $syscount_bench ]] || die "$syscount_bench missing: make build/tests/helpers/syscount-bench"
[[ -x $bench ]] || die "$bench missing: make build/tests/helpers/launch-bench"
[[ -x $seccomp_bench ]] || die "$seccomp_bench missing: make build/tests/helpers/seccomp-bench"
[[ -r $profile_dir/baseline.profile && -r $profile_dir/strict.profile ]] ||
	die "no baseline.profile and strict.profile in $profile_dir (set MOAT_POLICY_DIR)"
[[ -x $MOAT ]] || die "$MOAT missing or not executable: make (or set MOAT)"

# Fail loudly and early if moat cannot launch at all: a benchmark of a
# launcher that fails measures its error path.
rc=0
out=$(timeout --kill-after=5 30 "$MOAT" run -- /bin/true 2>&1) || rc=$?
if [[ $rc -ne 0 ]]; then
	echo "bench: '$MOAT run -- /bin/true' failed with exit status $rc:" >&2
	[[ -n $out ]] && printf '%s\n' "$out" | sed 's/^/  /' >&2
	exit 1
fi
# bench_sandboxes: names of running sandboxes whose command is /bin/true,
# ours; other sandboxes on the machine may come and go meanwhile.
bench_sandboxes() {
	"$MOAT" ls 2>/dev/null | awk 'NR > 1 && $NF == "/bin/true" { print $1 }' | sort
}
sandboxes_before=$(bench_sandboxes)

tmpdir=$(mktemp -d)

bwrap_skip=
bwrap_cmd=(bwrap --unshare-all --ro-bind /usr /usr --symlink usr/lib /lib
	--symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin
	--proc /proc --dev /dev /bin/true)
if ! command -v bwrap >/dev/null; then
	bwrap_skip="bwrap not installed (apt-get install bubblewrap)"
elif ! "${bwrap_cmd[@]}" 2>/dev/null; then
	bwrap_skip="bwrap cannot run here: ${bwrap_cmd[*]}"
fi

# Context for the ratio, not part of the target: bwrap building the root
# that moat's default tier builds (the same mounts, read from a sandbox's
# mountinfo, and symlinks in /) with the same privileges (the sandbox user,
# no capabilities, a new session), but no cgroups, seccomp filter,
# accounting, state or audit log; and moat without syscall accounting,
# whose host-wide tracepoint the first accounted sandbox attaches and the
# last detaches, here on every launch.
bwrap_like_moat() {
	local user kind mp what opts
	user=$("$MOAT" policy show | awk -F' = ' '$1 == "user" { print $2 }')
	[[ $user =~ ^[0-9]+:[0-9]+$ ]] || return 1
	printf '%s\n' --unshare-all --die-with-parent --new-session --cap-drop ALL \
		--uid "${user%:*}" --gid "${user#*:}"
	# One sandbox prints its / symlinks ("link PATH TARGET"), the files and
	# links moat put in its /etc ("file PATH", "link ...": bwrap binds the
	# files; passwd and group moat writes), and its mountinfo.
	# shellcheck disable=SC2016 # expanded by the sandbox's shell
	"$MOAT" run -- /bin/sh -c 'for f in /*; do
		if [ -L "$f" ]; then echo "link $f $(readlink "$f")"; fi; done
		find /etc -xdev -type f -printf "file %p\n" -o -type l -printf "link %p %l\n"
		cat /proc/self/mountinfo' |
		awk '$1 == "link" { print "link", $2, $3; next }
		     $1 == "file" { print "file", $2; next }
		     { for (i = 7; $i != "-"; i++); print "mount", $5, $(i + 1), $(i + 3) }' |
		while read -r kind mp what opts; do # what: a link's target, a mount's fstype
			case $kind:$mp in
			link:*) printf '%s\n' --symlink "$what" "$mp" ;;
			file:/etc/passwd | file:/etc/group) ;;
			file:*) printf '%s\n' --ro-bind "$mp" "$mp" ;;
			esac
			[[ $kind == mount ]] || continue
			case $mp:$what in
			/:*) ;;
			/dev/*:*) ;; # --dev makes them
			/dev:*) printf '%s\n' --dev /dev ;;
			/proc:*) printf '%s\n' --proc /proc ;;
			/proc/*:devtmpfs) printf '%s\n' --ro-bind /dev/null "$mp" ;;
			/proc/*:tmpfs) printf '%s\n' --tmpfs "$mp" ;;
			*:tmpfs)
				[[ $opts =~ size=([0-9]+)k ]] &&
					printf '%s\n' --size $((BASH_REMATCH[1] * 1024))
				printf '%s\n' --tmpfs "$mp"
				;;
			*) printf '%s\n' --ro-bind "$mp" "$mp" ;;
			esac
		done
}
bwrap_moat_cmd=()
bwrap_moat_skip=$bwrap_skip
if [[ -z $bwrap_skip ]]; then
	mapfile -t bwrap_moat_cmd < <(bwrap_like_moat || echo FAILED)
	if [[ " ${bwrap_moat_cmd[*]} " == *" FAILED "* ]]; then
		bwrap_moat_skip="could not read the sandbox's root from moat"
	elif ! bwrap "${bwrap_moat_cmd[@]}" /bin/true 2>/dev/null; then
		bwrap_moat_skip="bwrap cannot run here: bwrap ${bwrap_moat_cmd[*]} /bin/true"
	fi
fi
printf '[sandbox]\naccounting = no\n' >"$tmpdir/no-accounting.ini"

# One launch-bench for all launchers: they take turns, run by run, so
# that other load on the machine falls on each of them alike.
labels=(exec unshare bwrap moat)
args=(-n "$runs" -w "$warmup" -l exec -l unshare)
cmds=(/bin/true ::: unshare --mount --pid --net --uts --ipc --fork /bin/true)
if [[ -z $bwrap_skip ]]; then
	args+=(-l bwrap)
	cmds+=(::: "${bwrap_cmd[@]}")
fi
args+=(-l moat)
cmds+=(::: "$MOAT" run -- /bin/true)
labels+=(bwrap-as-moat)
if [[ -z $bwrap_moat_skip ]]; then
	args+=(-l bwrap-as-moat)
	cmds+=(::: bwrap "${bwrap_moat_cmd[@]}" /bin/true)
fi
labels+=(moat-no-acct)
args+=(-l moat-no-acct)
cmds+=(::: "$MOAT" run --policy "$tmpdir/no-accounting.ini" -- /bin/true)

echo "Launch latency, fork to exit: $runs runs of each launcher, in turns, after $warmup warm-ups"
echo "($(uname -sr), $(nproc) CPUs; other load on the machine shows up here too)"
echo

# In the background, so that the trap can reach launch-bench while we wait.
"$bench" "${args[@]}" -- "${cmds[@]}" >"$tmpdir/out" &
bench_pid=$!
wait "$bench_pid" || die "a launcher failed during the benchmark (launch-bench's message above)"
bench_pid=

# field LINE KEY: the value of KEY=value in a launch-bench line.
field() {
	local kv
	for kv in $1; do
		[[ $kv == "$2="* ]] && { echo "${kv#*=}"; return; }
	done
	echo "?"
}

declare -A result
while read -r label rest; do
	result[$label]=$rest
done <"$tmpdir/out"

printf '  %-13s %10s %10s %10s   (ms)\n' launcher median p90 mean
for l in "${labels[@]}"; do
	if [[ -z ${result[$l]:-} ]]; then
		skip=$bwrap_skip
		[[ $l == bwrap-as-moat ]] && skip=$bwrap_moat_skip
		printf '  %-13s %10s   SKIP: %s\n' "$l" - "$skip"
		continue
	fi
	printf '  %-13s %10s %10s %10s\n' "$l" "$(field "${result[$l]}" median_ms)" \
		"$(field "${result[$l]}" p90_ms)" "$(field "${result[$l]}" mean_ms)"
done
echo

moat_median=$(field "${result[moat]}" median_ms)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

printf '  moat / unshare  %6s x  (median)\n' "$(ratio "$moat_median" "$(field "${result[unshare]}" median_ms)")"
verdict=SKIP
if [[ -n ${result[bwrap]:-} ]]; then
	r=$(ratio "$moat_median" "$(field "${result[bwrap]}" median_ms)")
	if awk -v r="$r" -v t="$target" 'BEGIN { exit !(r <= t) }'; then
		verdict=PASS
	else
		verdict=MISS
	fi
	printf '  moat / bwrap    %6s x  (median)  target <= %s  %s\n' "$r" "$target" "$verdict"
else
	printf '  moat / bwrap         -    target <= %s  SKIP: %s\n' "$target" "$bwrap_skip"
fi
if [[ -n ${result[bwrap-as-moat]:-} ]]; then
	printf '  moat / bwrap-as-moat          %6s x  (context: the same root and privileges with bwrap)\n' \
		"$(ratio "$moat_median" "$(field "${result[bwrap-as-moat]}" median_ms)")"
fi
if [[ -n ${result[bwrap-as-moat]:-} ]]; then
	printf '  moat-no-acct / bwrap-as-moat  %6s x  (context: the same, without syscall accounting)\n' \
		"$(ratio "$(field "${result[moat-no-acct]}" median_ms)" \
			"$(field "${result[bwrap-as-moat]}" median_ms)")"
fi
printf '  moat - moat-no-acct   %+.2f ms  (context: attaching and detaching the accounting tracepoint)\n' \
	"$(awk -v a="$moat_median" -v b="$(field "${result[moat-no-acct]}" median_ms)" 'BEGIN { print a - b }')"

# Every `moat run` above must have torn its sandbox down.
left=$(comm -13 <(echo "$sandboxes_before") <(bench_sandboxes))
[[ -z $left ]] || die "sandboxes left behind by 'moat run -- /bin/true': ${left//$'\n'/ }"

# --- seccomp filter cost ---------------------------------------------------
echo
# In the background, as above. Its workers read their orders from a pipe
# and exit when it closes, so killing seccomp-bench ends them too.
"$seccomp_bench" -n "$seccomp_calls" -r "$seccomp_rounds" "$profile_dir" >"$tmpdir/seccomp" &
bench_pid=$!
wait "$bench_pid" || die "seccomp-bench failed (its message above)"
bench_pid=

# seccomp-bench marks each target "ok" or "MISSED"; print them as PASS or
# MISS like the launch target. The comparison with no filter at all is
# reported, not counted (see the top of this file).
seccomp_verdict=PASS
n_targets=0
while IFS= read -r line; do
	case $line in
	*" MISSED")
		line="${line% MISSED} MISS"
		n_targets=$((n_targets + 1))
		[[ $line == *"of no filter"* ]] || seccomp_verdict=MISS
		;;
	*" ok")
		line="${line% ok} PASS"
		n_targets=$((n_targets + 1))
		;;
	esac
	printf '%s\n' "$line"
done <"$tmpdir/seccomp"
[[ $n_targets -gt 0 ]] || die "seccomp-bench printed no target lines (see its output above)"

# --- egress filter cost on the network ---------------------------------------
echo
# In the background, as above. SIGTERM makes it detach its programs, delete
# its rules and remove its cgroups; its children, which hold the network
# namespaces, die with it (PR_SET_PDEATHSIG).
run_part net net-bench "$net_bench" -n "$net_rounds" -t "$net_slice"
grep -qE ' (PASS|MISS)$' "$tmpdir/net" || die "net-bench printed no target lines (see its output above)"
net_verdict=$part_verdict

# --- syscall accounting cost --------------------------------------------------
echo
run_part syscount syscount-bench "$syscount_bench"
syscount_verdict=$part_verdict

# --- memory of the supervisors and inits ----------------------------------------
echo
run_part memory "the memory benchmark" env MOAT="$MOAT" "$repo/tests/bench/memory.sh"
grep -qE ' (PASS|MISS)$' "$tmpdir/memory" || die "memory.sh printed no target lines"
memory_verdict=$part_verdict

# --- an output flood: what the supervisor pays ---------------------------------
echo
flood_name=
stop_flood() {
	[[ -z $flood_name ]] && return
	"$MOAT" stop --timeout 1 "$flood_name" >/dev/null 2>&1 || true
	rm -f /var/log/moat/"$flood_name".{log,log.1,jsonl,jsonl.1}
	flood_name=
}
trap 'stop_flood; cleanup' EXIT
# flood LABEL [POLICY]: prints "LABEL supervisor S% sandbox C% log B/s".
flood() {
	local label=$1 sup hz s0 s1 c0 c1 w0 w1 l0 l1
	shift
	flood_name=bench-flood-$$
	"$MOAT" run -d --name "$flood_name" "$@" -- /usr/bin/yes >/dev/null ||
		die "could not start the flood sandbox"
	sleep 1 # past the burst
	sup=$("$MOAT" status --json "$flood_name" | awk -F'[:,]' '/"supervisor"/ {
		for (i = 1; i < NF; i++) if ($i ~ /"supervisor"/) { print $(i + 1) + 0; exit } }')
	[[ $sup =~ ^[0-9]+$ && -r /proc/$sup/stat ]] || die "no supervisor pid for the flood"
	hz=$(getconf CLK_TCK)
	cg_cpu() { "$MOAT" status --json "$flood_name" | sed -n 's/.*"usage_seconds":\([0-9.]*\).*/\1/p'; }
	# What the supervisor wrote (wchar): the log's growth, across rotations.
	log_bytes() { awk '$1 == "wchar:" { print $2 }' "/proc/$sup/io"; }
	s0=$(awk '{ print $14 + $15 }' "/proc/$sup/stat") c0=$(cg_cpu) l0=$(log_bytes) w0=$(date +%s%N)
	sleep 5
	s1=$(awk '{ print $14 + $15 }' "/proc/$sup/stat") c1=$(cg_cpu) l1=$(log_bytes) w1=$(date +%s%N)
	stop_flood
	awk -v l="$label" -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" -v l0="$l0" -v l1="$l1" \
		-v w="$((w1 - w0))" -v hz="$hz" 'BEGIN { t = w / 1e9
		printf "%s %.1f %.1f %.0f\n", l, (s1 - s0) / hz / t * 100, (c1 - c0) / t * 100,
			(l1 > l0 ? l1 - l0 : 0) / t }'
}
printf '[resources]\nlog_rate = 0\n' >"$tmpdir/no-log-budget.ini"
read -r _ flood_sup flood_sb flood_log < <(flood budget)
read -r _ free_sup free_sb free_log < <(flood none --policy "$tmpdir/no-log-budget.ini")
flood_verdict=PASS
awk -v s="$flood_sup" 'BEGIN { exit !(s < 5) }' || flood_verdict=MISS
echo "Output flood: a detached yes, 5 s, the supervisor's CPU (utime + stime) and the log's growth"
printf '  %-28s supervisor %5.1f%% of a CPU  (sandbox %5.1f%%)  log %s/s  target < 5%%  %s\n' \
	"default budget (1M/s, 4M)" "$flood_sup" "$flood_sb" "$(numfmt --to=iec "$flood_log")" "$flood_verdict"
printf '  %-28s supervisor %5.1f%% of a CPU  (sandbox %5.1f%%)  log %s/s  (context)\n' \
	"no budget (log_rate = 0)" "$free_sup" "$free_sb" "$(numfmt --to=iec "$free_log")"

# --- moat status with 100 sandboxes --------------------------------------------
echo
status_names=()
stop_status_sandboxes() {
	local n pids=()
	for n in "${status_names[@]}"; do
		"$MOAT" stop --timeout 1 "$n" >/dev/null 2>&1 &
		pids+=($!)
	done
	[[ ${#pids[@]} -eq 0 ]] || wait "${pids[@]}"
	for n in "${status_names[@]}"; do rm -f "/var/log/moat/$n.log" "/var/log/moat/$n.jsonl"; done
	status_names=()
}
trap 'stop_status_sandboxes; stop_flood; cleanup' EXIT
printf '[sandbox]\ntier = internal\n[network]\nnat = no\npool = 10.208.82.0/24\negress =\n' \
	>"$tmpdir/status.ini"
for i in $(seq 100); do
	n=bench-status-$$-$i
	status_names+=("$n")
	if ((i % 2 == 0)); then
		"$MOAT" run -d --name "$n" --policy "$tmpdir/status.ini" -- /bin/sleep 600 >/dev/null
	else
		"$MOAT" run -d --name "$n" -- /bin/sleep 600 >/dev/null
	fi || die "could not start sandbox $n for the status benchmark"
done
best=
for _ in 1 2 3 4 5; do
	start=$(date +%s%N)
	"$MOAT" status --json >/dev/null || die "moat status --json failed"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[[ -n $best && $best -le $ms ]] || best=$ms
done
status_verdict=PASS
((best < 50)) || status_verdict=MISS
printf '  moat status --json, 100 sandboxes: %d ms (best of 5)  target < 50 ms  %s\n' "$best" "$status_verdict"
stop_status_sandboxes

if [[ ${BENCH_STRICT:-0} == 1 && ($verdict == MISS || $seccomp_verdict == MISS ||
	$net_verdict == MISS || $syscount_verdict == MISS || $memory_verdict == MISS ||
	$flood_verdict == MISS ||
	$status_verdict == MISS) ]]; then
	exit 1
fi
exit 0
