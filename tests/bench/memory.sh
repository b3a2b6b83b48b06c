#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What each running sandbox costs in moat's own processes: 20 detached
# sandboxes running /bin/sleep, a mix of the shipped tiers (7 public, 7
# internal with its NAT, 6 critical), then VmRSS (/proc/PID/status) and PSS
# (/proc/PID/smaps_rollup) of every supervisor and every init, per tier and
# over all: median and max, in KiB.
#
# VmRSS counts every page a process maps, shared or not (libc's code, the
# moat binary's, the double mapping of a sandbox's denial ring); PSS divides
# each page among the processes that map it, which makes it the fair measure
# of what one more sandbox costs. The target is on VmRSS, as the issue that
# set it (moat's issue 15) measured it: the max of each role <= 2 MiB.
#
# Run by tests/bench/run.sh (make bench), or alone as root:
#   MOAT=build/moat tests/bench/memory.sh
# Prints PASS or MISS lines; exit status 0 measured, 1 a sandbox would not
# start or vanished (nothing is left running either way).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOAT=${MOAT:-$repo/build/moat}
target_kib=2048

die() {
	echo "memory bench: $*" >&2
	exit 1
}

names=()
cleanup() {
	local n pids=()
	for n in "${names[@]}"; do
		"$MOAT" stop --timeout 1 "$n" >/dev/null 2>&1 &
		pids+=($!)
	done
	[[ ${#pids[@]} -eq 0 ]] || wait "${pids[@]}"
	for n in "${names[@]}"; do rm -f "/var/log/moat/$n.log" "/var/log/moat/$n.jsonl"; done
	names=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || die "run as root"
[[ -x $MOAT ]] || die "$MOAT missing or not executable: make (or set MOAT)"

tiers=()
for i in $(seq 20); do
	if ((i <= 7)); then t=public; elif ((i <= 14)); then t=internal; else t=critical; fi
	n=bench-mem-$$-$i
	names+=("$n")
	tiers+=("$t")
	"$MOAT" run -d --name "$n" --tier "$t" -- /bin/sleep 600 >/dev/null ||
		die "could not start sandbox $n (tier $t)"
done
# The supervisor and init give back their set-up's memory once their
# sandbox has run a second (RELEASE_AFTER_MS in sandbox/launch.c): measure
# the sandboxes as they run from then on.
sleep 2

# kib PID FILE KEY: the value in kB of "KEY: N kB" in /proc/PID/FILE.
kib() {
	awk -v k="$3:" '$1 == k { print $2; found = 1 } END { exit !found }' "/proc/$1/$2"
}

# stats: "median max" of the numbers on stdin.
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%d %d\n", m, v[NR] }'
}

declare -A rows # "ROLE TIER" -> lines of "VMRSS PSS"
for i in "${!names[@]}"; do
	n=${names[$i]}
	state=/run/moat/$n/state.json
	read -r sup init < <(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s["supervisor_pid"], s["pid"])' "$state") || die "no state for $n"
	for role in supervisor init; do
		if [[ $role == supervisor ]]; then pid=$sup; else pid=$init; fi
		if ! rss=$(kib "$pid" status VmRSS) || ! pss=$(kib "$pid" smaps_rollup Pss); then
			die "$role of $n (pid $pid) is gone"
		fi
		rows["$role ${tiers[$i]}"]+="$rss $pss"$'\n'
		rows["$role all"]+="$rss $pss"$'\n'
	done
done

echo "Memory of moat's processes, 20 sandboxes running sleep (7 public, 7 internal with NAT, 6 critical)"
printf '  %-10s %-9s %13s %13s %13s %13s   (KiB)\n' role tier "VmRSS median" "VmRSS max" \
	"PSS median" "PSS max"
verdicts=()
for role in supervisor init; do
	for t in public internal critical all; do
		read -r rss_med rss_max < <(printf '%s' "${rows["$role $t"]}" | awk '{ print $1 }' | stats)
		read -r pss_med pss_max < <(printf '%s' "${rows["$role $t"]}" | awk '{ print $2 }' | stats)
		printf '  %-10s %-9s %13d %13d %13d %13d\n' "$role" "$t" "$rss_med" "$rss_max" \
			"$pss_med" "$pss_max"
	done
	verdict=PASS
	((rss_max <= target_kib)) || verdict=MISS
	verdicts+=("$(printf '  %s VmRSS, max of 20: %d KiB (median %d)  target <= %d KiB  %s' \
		"$role" "$rss_max" "$rss_med" "$target_kib" "$verdict")")
done
printf '%s\n' "${verdicts[@]}"
