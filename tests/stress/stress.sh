#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What an operator's fleet does to moat, bounded: kills the supervisor at each
# system call of a launch (every tier, with the shared state warm and, every
# few points, cold), then runs `moat gc` and checks that nothing is left; then
# many launches at once, and races of launches of one name. As root. It stops
# by itself; exit 0 when everything held, 1 otherwise.
#
#   tests/stress/stress.sh                       # the full run (`make stress`)
#   tests/stress/stress.sh --step 7 --tiers public --cold-step 0
#
# A crash point is one system call of the supervisor: for the k-th call of
# syscall S in a reference launch, strace delivers SIGKILL on entry to the
# k-th call of S (strace counts injections per syscall and per tracee, and
# without -f only the supervisor is traced; init dies with it, by its
# parent-death signal). After each point `moat gc` must leave the host as it
# was (state directories, address leases, veths, cgroups in every hierarchy,
# mounts, NAT elements, egress map entries, BPF pins, the seccomp cache,
# processes), the name must be usable again, and the sandbox's audit log must
# end with exactly one `stop` for that launch.
#
# With --lock FILE the machine's shared lock is taken for at most --chunk
# seconds at a time and released between chunks, at a point where nothing of
# this script runs.
set -u
export LC_ALL=C

usage() {
	cat <<EOF
Usage: $0 [--tiers "public internal critical"] [--step N] [--cold-step N]
          [--concurrent N] [--races N] [--racers N] [--lock FILE] [--chunk SECONDS]

  --tiers LIST      the tiers to sweep (default: public internal critical)
  --step N          sweep every Nth crash point of a warm launch (default 1; 0: none)
  --cold-step N     and every Nth of a cold one, nothing else running (default 10; 0: none)
  --concurrent N    launches at once, of distinct names (default 30; 0: none)
  --races N         rounds of same-name races (default 20; 0: none)
  --racers N        launches of one name per round (default 8)
  --lock FILE       take FILE with flock for each chunk of work
  --chunk SECONDS   longest hold of the lock (default 240)
Environment: MOAT (the binary, default build/moat), MOAT_POLICY_DIR.
EOF
	exit "$1"
}

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOAT=${MOAT:-$SRCDIR/build/moat}
export MOAT_POLICY_DIR=${MOAT_POLICY_DIR:-$SRCDIR/policies}
TIERS="public internal critical"
STEP=1 COLD_STEP=10 CONCURRENT=30 RACES=20 RACERS=8 LOCK="" CHUNK=240

while [ $# -gt 0 ]; do
	case $1 in
	--tiers) TIERS=$2 ;;
	--step) STEP=$2 ;;
	--cold-step) COLD_STEP=$2 ;;
	--concurrent) CONCURRENT=$2 ;;
	--races) RACES=$2 ;;
	--racers) RACERS=$2 ;;
	--lock) LOCK=$2 ;;
	--chunk) CHUNK=$2 ;;
	-h | --help) usage 0 ;;
	*) echo "stress.sh: unknown option $1" >&2; usage 2 >&2 ;;
	esac
	shift 2 || usage 2 >&2
done
for v in "$STEP" "$COLD_STEP" "$CONCURRENT" "$RACES" "$RACERS" "$CHUNK"; do
	case $v in '' | *[!0-9]*) echo "stress.sh: not a number: $v" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "stress.sh: needs root" >&2; exit 2; }
for tool in strace bpftool ip nft; do
	command -v "$tool" >/dev/null || { echo "stress.sh: $tool is missing (make deps)" >&2; exit 2; }
done
[ -x "$MOAT" ] || { echo "stress.sh: no moat binary at $MOAT" >&2; exit 2; }

TMP=$(mktemp -d /tmp/moat-stress.XXXXXX)
ANCHOR="" # the sandbox that keeps the shared state warm, while one runs
LOCK_FD=""
LOCKED_AT=0
failures=0
swept=0 leaked=0 unended=0 failed=0 unreached=0
declare -A swept_by

say() { echo "# $*"; }
problem() { failures=$((failures + 1)); say "FAIL: $*"; }

lock_take() {
	[ -n "$LOCK" ] || return 0
	[ -n "$LOCK_FD" ] || exec {LOCK_FD}>>"$LOCK"
	flock "$LOCK_FD"
	LOCKED_AT=$SECONDS
}

lock_release() {
	[ -n "$LOCK_FD" ] || return 0
	flock -u "$LOCK_FD"
}

chunk_over() { [ -n "$LOCK" ] && [ $((SECONDS - LOCKED_AT)) -ge "$CHUNK" ]; }

# The host state a sandbox can leave behind, one sorted line per object.
snapshot() {
	local m n
	{
		find /run/moat -mindepth 1 -maxdepth 2 ! -name '*.lock' -printf 'run:%P\n' 2>/dev/null
		ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^mt-/ {sub(/@.*/, "", $2); print "veth:" $2}'
		find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -path '*/moat*' -printf 'cgroup:%p\n' 2>/dev/null
		echo "mounts:$(grep -c ' /run/moat' /proc/self/mountinfo)"
		find /sys/fs/bpf/moat -mindepth 1 -printf 'pin:%P\n' 2>/dev/null
		for m in /sys/fs/bpf/moat/egress-*/moat_sandboxes /sys/fs/bpf/moat/egress-*/moat_rules; do
			[ -e "$m" ] || continue
			n=$(bpftool map dump pinned "$m" 2>/dev/null | grep -c '^key\|"key"')
			echo "entries:${m#/sys/fs/bpf/moat/}:$n"
		done
		nft list set ip moat nat_sources 2>/dev/null | sed -n 's/.*elements = { *\(.*\) *}.*/nat:\1/p'
		# Zombies are not counted: on a host whose PID 1 does not reap, every
		# killed supervisor's init stays one, holding nothing but its pid.
		ps -eo stat=,comm= | awk '$1 !~ /^Z/ && ($2 == "moat" || $2 == "moat-init") {n++}
			END {print "procs:" n + 0}'
	} | sort
}

# What a leak left, removed as far as a script can, so that the sweep goes
# on from a clean host: the sandbox's processes (by pid, from its cgroups),
# cgroups, leases, NAT element, veth and state.
force_clean() {
	local name=$1 d p f
	for d in $(find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -path "*/moat/$name" 2>/dev/null); do
		[ -e "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	done
	for d in $(find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -path "*/moat/$name" 2>/dev/null); do
		for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; sleep 0.02; done
		rmdir "${d%/*}" 2>/dev/null
	done
	for f in /run/moat/.net/*; do
		[ -f "$f" ] && [ "$(cat "$f" 2>/dev/null)" = "$name" ] || continue
		nft delete element ip moat nat_sources "{ ${f##*/} }" 2>/dev/null
		rm -f "$f"
	done
	rm -f "/run/moat/.net/.tmp.$name"
	ip link del "mt-$name" 2>/dev/null
	rm -rf "/run/moat/${name:?}"
	"$MOAT" gc >/dev/null 2>&1
}

log_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

anchor_start() { # anchor_start TIER
	ANCHOR=sa${1:0:3}$$
	"$MOAT" run --detach --name "$ANCHOR" --tier "$1" -- /bin/sleep 100000 >/dev/null ||
		problem "the anchor sandbox of tier $1 did not start"
}

anchor_stop() {
	[ -n "$ANCHOR" ] || return 0
	"$MOAT" stop --timeout 2 "$ANCHOR" >/dev/null 2>&1
	rm -f "/var/log/moat/$ANCHOR.jsonl" "/var/log/moat/$ANCHOR.log"
	ANCHOR=""
}

# The reference launch, traced: one "SYSCALL K" line per call of the
# supervisor, K counting the calls of SYSCALL so far.
reference() { # reference TIER NAME OUT
	strace -qq -o "$TMP/trace" -e trace=all "$MOAT" run --name "$2" --tier "$1" -- /bin/true \
		>/dev/null 2>&1 || problem "the reference launch of tier $1 failed"
	sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' "$TMP/trace" | awk '{print $1, ++k[$1]}' >"$3"
}

# One crash point: the launch killed at the K-th call of SYSCALL, then gc.
crash_point() { # crash_point TIER NAME SYSCALL K BASELINE LABEL
	local tier=$1 name=$2 sc=$3 k=$4 base=$5 label=$6 log rc before after new now
	log=/var/log/moat/$name.jsonl
	before=$(log_lines "$log")
	# In braces: the shell's own "Killed" line goes with their stderr.
	{ strace -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=SIGKILL:when=$k" \
		"$MOAT" run --name "$name" --tier "$tier" -- /bin/true </dev/null >/dev/null 2>"$TMP/err"; } 2>/dev/null
	rc=$?
	"$MOAT" gc >/dev/null 2>"$TMP/gc-err" || problem "$label: moat gc failed: $(head -1 "$TMP/gc-err")"
	swept=$((swept + 1))
	swept_by[$tier]=$((${swept_by[$tier]:-0} + 1))
	case $rc in
	137) ;;
	0) unreached=$((unreached + 1)) ;; # the launch made fewer calls of $sc this time
	*)
		failed=$((failed + 1))
		problem "$label: the launch exited $rc: $(head -1 "$TMP/err")"
		;;
	esac
	after=$(log_lines "$log")
	if [ "$after" -gt "$before" ]; then
		new=$(tail -n +"$((before + 1))" "$log")
		if [ "$(grep -c '"event":"stop"' <<<"$new")" != 1 ] ||
			! tail -n 1 <<<"$new" | grep -q '"event":"stop"'; then
			unended=$((unended + 1))
			problem "$label: the audit log does not end with one stop: $(tail -n 1 <<<"$new")"
		fi
	fi
	now=$(snapshot)
	# init dies of its parent-death signal a moment after the supervisor, and
	# holds the sandbox's lock until then, so gc may have seen it alive: once
	# it is gone, gc must collect everything.
	[ "$now" = "$(cat "$base")" ] || { sleep 0.2; "$MOAT" gc >/dev/null 2>&1; now=$(snapshot); }
	if [ "$now" != "$(cat "$base")" ]; then
		leaked=$((leaked + 1))
		problem "$label left: $(comm -13 "$base" <(echo "$now") | tr '\n' ' ')$(
			comm -23 "$base" <(echo "$now") | sed 's/^/-/' | tr '\n' ' ')"
		force_clean "$name"
		return 1
	fi
	return 0
}

# Sweeps TIER's crash points, every STEP-th, warm (an anchor sandbox of the
# tier keeps BPF pins, leases directory and seccomp cache) or cold.
sweep() { # sweep TIER warm|cold STEP
	local tier=$1 mode=$2 step=$3 name seq=0 i=0 total sc k
	[ "$step" -gt 0 ] || return 0
	name=sx${tier:0:3}$seq
	lock_take
	"$MOAT" gc >/dev/null 2>&1
	snapshot >"$TMP/empty"
	[ "$mode" = warm ] && anchor_start "$tier"
	reference "$tier" "$name" "$TMP/points"
	"$MOAT" gc >/dev/null 2>&1
	total=$(wc -l <"$TMP/points")
	say "$tier, $mode: $total system calls in a launch, sweeping every $step"
	snapshot >"$TMP/base"
	while read -r sc k <&3; do
		i=$((i + 1))
		[ $(((i - 1) % step)) = 0 ] || continue
		if ! crash_point "$tier" "$name" "$sc" "$k" "$TMP/base" "$tier $mode point $i ($sc #$k)"; then
			# A leak may lock the name: go on with another of the same length.
			seq=$((seq + 1))
			name=sx${tier:0:3}$seq
			snapshot >"$TMP/base"
		fi
		if chunk_over; then
			anchor_stop
			"$MOAT" gc >/dev/null 2>&1
			lock_release
			say "$tier, $mode: $i of $total, lock released for a moment"
			sleep 2
			lock_take
			"$MOAT" gc >/dev/null 2>&1
			snapshot >"$TMP/empty"
			[ "$mode" = warm ] && anchor_start "$tier"
			snapshot >"$TMP/base"
		fi
	done 3<"$TMP/points"
	# The name is usable again, and the host is as it was once nothing runs.
	"$MOAT" run --name "$name" --tier "$tier" -- /bin/true >/dev/null 2>"$TMP/err" ||
		problem "$tier $mode: $name cannot be launched after the sweep: $(head -1 "$TMP/err")"
	anchor_stop
	"$MOAT" gc >/dev/null 2>&1
	[ "$(snapshot)" = "$(cat "$TMP/empty")" ] ||
		problem "$tier $mode: left after the sweep: $(comm -13 "$TMP/empty" <(snapshot) | tr '\n' ' ')"
	for ((j = 0; j <= seq; j++)); do rm -f "/var/log/moat/sx${tier:0:3}$j.jsonl"; done
	lock_release
}

# N launches at once of distinct names, the tiers in turn: each must succeed.
concurrent() {
	local n=$1 i tiers=(public internal critical) ok=0 pids=()
	[ "$n" -gt 0 ] || return 0
	lock_take
	"$MOAT" gc >/dev/null 2>&1
	snapshot >"$TMP/empty"
	for ((i = 0; i < n; i++)); do
		"$MOAT" run --name "sc$i-$$" --tier "${tiers[i % 3]}" -- /bin/sleep 1 \
			>/dev/null 2>"$TMP/conc-$i" &
		pids+=($!)
	done
	for ((i = 0; i < n; i++)); do
		if wait "${pids[i]}"; then
			ok=$((ok + 1))
		else
			problem "concurrent launch $i failed: $(head -1 "$TMP/conc-$i")"
		fi
	done
	say "concurrent: $ok of $n launches at once succeeded"
	"$MOAT" gc >/dev/null 2>&1
	[ "$(snapshot)" = "$(cat "$TMP/empty")" ] ||
		problem "concurrent launches left: $(comm -13 "$TMP/empty" <(snapshot) | tr '\n' ' ')"
	for ((i = 0; i < n; i++)); do rm -f "/var/log/moat/sc$i-$$.jsonl"; done
	lock_release
}

# ROUNDS rounds of RACERS launches of one name at once: exactly one runs, the
# others fail with 125 and the one line that says the name is taken.
races() {
	local rounds=$1 racers=$2 r i wins clean=0 rc pids tiers=(public internal)
	[ "$rounds" -gt 0 ] || return 0
	lock_take
	"$MOAT" gc >/dev/null 2>&1
	snapshot >"$TMP/empty"
	for ((r = 0; r < rounds; r++)); do
		pids=()
		for ((i = 0; i < racers; i++)); do
			"$MOAT" run --name "sr$r-$$" --tier "${tiers[r % 2]}" -- /bin/sleep 1 \
				>/dev/null 2>"$TMP/race-$i" &
			pids+=($!)
		done
		wins=0
		for ((i = 0; i < racers; i++)); do
			wait "${pids[i]}"
			rc=$?
			if [ "$rc" = 0 ]; then
				wins=$((wins + 1))
			elif [ "$rc" != 125 ] || [ "$(wc -l <"$TMP/race-$i")" != 1 ] ||
				! grep -q "^moat: sandbox sr$r-$$ is already running$" "$TMP/race-$i"; then
				problem "race $r: a loser exited $rc: $(head -2 "$TMP/race-$i" | tr '\n' ' ')"
			fi
		done
		if [ "$wins" = 1 ]; then
			clean=$((clean + 1))
		else
			problem "race $r: $wins of $racers launches of one name ran"
		fi
		rm -f "/var/log/moat/sr$r-$$.jsonl"
	done
	say "races: $clean of $rounds rounds of $racers had exactly one winner"
	"$MOAT" gc >/dev/null 2>&1
	[ "$(snapshot)" = "$(cat "$TMP/empty")" ] ||
		problem "races left: $(comm -13 "$TMP/empty" <(snapshot) | tr '\n' ' ')"
	lock_release
}

cleanup() {
	anchor_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$SECONDS
for tier in $TIERS; do
	sweep "$tier" warm "$STEP"
	sweep "$tier" cold "$COLD_STEP"
done
concurrent "$CONCURRENT"
races "$RACES" "$RACERS"
by=""
for tier in $TIERS; do by+=" $tier ${swept_by[$tier]:-0}"; done
say "crash points: $swept swept ($by ), $leaked left something behind," \
	"$unended without an end event, $failed failed launches, $unreached not reached"
say "$((SECONDS - start)) s, $failures failures"
[ "$failures" = 0 ]
