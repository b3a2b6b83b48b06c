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
# Prints median, p90 and mean per launcher, moat's median as ratios to
# unshare's and bwrap's, and the target: moat/bwrap <= 1.0, PASS or MISS.
#
# Run as root (`make bench` sets MOAT and MOAT_TEST_HELPERS). Environment:
#   MOAT               the launcher (default build/moat)
#   MOAT_TEST_HELPERS  directory holding launch-bench (default build/tests/helpers)
#   BENCH_RUNS         timed runs per launcher, at least 50 (default 100)
#   BENCH_WARMUP       untimed runs first (default 5)
#   BENCH_STRICT=1     exit 1 on a MISS too
# Exit status: 0 measured (PASS or MISS), 1 moat or a prerequisite failed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOAT=${MOAT:-$repo/build/moat}
MOAT_TEST_HELPERS=${MOAT_TEST_HELPERS:-$repo/build/tests/helpers}
runs=${BENCH_RUNS:-100}
warmup=${BENCH_WARMUP:-5}
target=1.0 # moat's median over bwrap's

bench=$MOAT_TEST_HELPERS/launch-bench
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
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $runs =~ ^[0-9]+$ && $runs -ge 50 ]] || die "BENCH_RUNS=$runs: need a number >= 50"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP=$warmup: not a number"
[[ $(id -u) -eq 0 ]] || die "run as root: moat and unshare create namespaces"
[[ -x $bench ]] || die "$bench missing: make build/tests/helpers/launch-bench"
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

printf '  %-8s %10s %10s %10s   (ms)\n' launcher median p90 mean
for l in "${labels[@]}"; do
	if [[ -z ${result[$l]:-} ]]; then
		printf '  %-8s %10s   SKIP: %s\n' "$l" - "$bwrap_skip"
		continue
	fi
	printf '  %-8s %10s %10s %10s\n' "$l" "$(field "${result[$l]}" median_ms)" \
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

# Every `moat run` above must have torn its sandbox down.
left=$(comm -13 <(echo "$sandboxes_before") <(bench_sandboxes))
[[ -z $left ]] || die "sandboxes left behind by 'moat run -- /bin/true': ${left//$'\n'/ }"

if [[ $verdict == MISS && ${BENCH_STRICT:-0} == 1 ]]; then
	exit 1
fi
exit 0
