#!/bin/bash
# A detached sandbox's output (sandbox/output.c): a flood is held to its log
# budget ([resources] log_rate, log_burst), the excess dropped and counted in
# moat status, moat metrics and log_dropped events; and NAME.log is always
# there for a reader polling it, through every rotation.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "python3 is needed for the JSON checks and the log poller"

RATE=65536   # log_rate of the flood's policy: 64K a second
BURST=262144 # log_burst: 256K

# detach NAME ARGS...: a detached sandbox (no helpers needed), stopped on exit.
detach() {
	local name=$1
	shift
	_started+=("$name")
	"$MOAT" run --detach --name "$name" "$@"
}

# json EXPRESSION: evaluates a Python expression over the JSON on stdin (as d).
json() {
	python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# --- a flood against its budget ----------------------------------------------------
name=out-flood-$$
log=/var/log/moat/$name.log
rm -f "$log" "$log.1" "/var/log/moat/$name.jsonl" "/var/log/moat/$name.jsonl.1"
printf '[resources]\nlog_rate = 64K\nlog_burst = 256K\n' >"$TMP/flood.ini"
t0=$(date +%s%N)
detach "$name" --policy "$TMP/flood.ini" -- /usr/bin/yes flood >/dev/null
ok $? "a detached yes starts"
# Until the supervisor has reported drops twice (a report a second at most).
for _ in $(seq 100); do
	n=$(grep -c '"log_dropped"' "/var/log/moat/$name.jsonl" 2>/dev/null)
	[ "${n:-0}" -ge 2 ] && break
	sleep 0.1
done
"$MOAT" status --json "$name" >"$TMP/status.json"
is "$(json 'd["output"]["available"], d["output"]["log"], d["output"]["rate_bytes_per_second"], d["output"]["burst_bytes"]' <"$TMP/status.json")" \
	"(True, '$log', $RATE, $BURST)" "status --json: the log and its budget"
dropped=$(json 'd["output"]["dropped_bytes"]' <"$TMP/status.json")
ok "$([ "$dropped" -gt 0 ] && echo 0 || echo 1)" "status --json: output.dropped_bytes counts the flood's excess ($dropped)"
like "$("$MOAT" status "$name")" "output +$log, limit 64K/s burst 256K, [0-9.]+[BKMG] dropped" \
	"status: the output line"
"$MOAT" metrics >"$TMP/metrics.txt"
like "$(cat "$TMP/metrics.txt")" "moat_log_dropped_bytes_total\{sandbox=\"$name\",tier=\"public\"\} [1-9][0-9]*" \
	"metrics: moat_log_dropped_bytes_total with sandbox and tier labels"
like "$(cat "$TMP/metrics.txt")" "moat_log_rate_limit_bytes_per_second\{sandbox=\"$name\",tier=\"public\"\} $RATE" \
	"metrics: the budget"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$TMP/metrics.txt" 2>&1)
	is "$?:$out" "0:" "promtool check metrics accepts the new families"
fi
"$MOAT" stop "$name" >/dev/null
t1=$(date +%s%N)

# Within budget: the burst, plus the rate over the sandbox's whole life (an
# upper bound: measured from before the launch to after the stop), plus the
# supervisor's own exit line.
size=$(( $(stat -c %s "$log") + $(stat -c %s "$log.1" 2>/dev/null || echo 0) ))
budget=$(( BURST + RATE * (t1 - t0) / 1000000000 + 100 ))
ok "$([ "$size" -le "$budget" ] && echo 0 || echo 1)" "the log stays within its budget ($size <= $budget bytes)"
ok "$([ "$size" -ge "$BURST" ] && echo 0 || echo 1)" "and the burst was let through ($size >= $BURST bytes)"
like "$(tail -1 "$log")" "moat: $name: exited with status 143" "the supervisor's own lines still reach the log"

# log_dropped events: aggregated (at most about one a second, not one per
# read), exact (their bytes add up to the last total), the last before exit.
"$MOAT" events --json "$name" >"$TMP/events"
python3 - "$TMP/events" "$(( (t1 - t0) / 1000000000 ))" >"$TMP/check" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
seconds = int(sys.argv[2])
drops = [e for e in ev if e["event"] == "log_dropped"]
names = [e["event"] for e in ev]
problems = []
if len(drops) < 2:
    problems.append("%d log_dropped events" % len(drops))
if len(drops) > seconds + 2:
    problems.append("%d log_dropped events in %d s: not aggregated" % (len(drops), seconds))
if sum(e["bytes"] for e in drops) != drops[-1]["total_bytes"]:
    problems.append("bytes do not add up to total_bytes")
if any(e["rate_bytes_per_second"] != 65536 for e in drops):
    problems.append("rate_bytes_per_second")
if names.index("exit") < max(i for i, n in enumerate(names) if n == "log_dropped"):
    problems.append("a log_dropped event after exit")
print("\n".join(problems) or "ok")
print(drops[-1]["total_bytes"] if drops else 0)
EOF
is "$(head -1 "$TMP/check")" ok "log_dropped events: aggregated, exact, before exit"
total=$(tail -1 "$TMP/check")
ok "$([ "$total" -ge "$dropped" ] && echo 0 || echo 1)" "the last event's total covers what status showed ($total >= $dropped)"
like "$("$MOAT" events "$name")" "log_dropped [0-9]+ bytes of output dropped \(log_rate 64K/s\), [0-9]+ in all" \
	"events: log_dropped for people"
rm -f "$log" "$log.1" "/var/log/moat/$name.jsonl" "/var/log/moat/$name.jsonl.1"

# Bad budgets are refused with one line, before anything exists.
printf '[resources]\nlog_rate = 100\n' >"$TMP/bad.ini"
out=$("$MOAT" run --policy "$TMP/bad.ini" -- /bin/true 2>&1)
is "$?:$out" "125:moat: $TMP/bad.ini:2: log_rate: rate below 1K a second (0 means no limit) \"100\"" \
	"a log_rate without its unit is refused"

# A sandbox in the foreground has no log and no budget in its status.
"$MOAT" run --name out-fg-$$ -- /bin/sleep 3 >/dev/null 2>&1 </dev/null &
fg=$!
_pids+=("$fg")
out=
for _ in $(seq 50); do
	"$MOAT" status --json out-fg-$$ >"$TMP/fg.json" 2>/dev/null &&
		[ "$(json 'd["state"]' <"$TMP/fg.json")" = running ] && break
	sleep 0.1
done
is "$(json 'd["output"]["log"], d["output"]["rate_bytes_per_second"], d["output"]["dropped_bytes"]' <"$TMP/fg.json")" \
	"(None, None, None)" "status --json: a foreground sandbox has no log, budget or drops"
wait "$fg"
rm -f "/var/log/moat/out-fg-$$.jsonl"

# --- NAME.log is never missing during rotation --------------------------------------
# No budget, so that 256 MiB of output makes sixteen rotations in under a
# second; a poller on the host checks the name as fast as it can meanwhile
# (before the fix it found it missing tens to thousands of times).
name=out-rotate-$$
log=/var/log/moat/$name.log
printf '[resources]\nlog_rate = 0\n' >"$TMP/unlimited.ini"
cat >"$TMP/poll.py" <<'EOF'
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
seen = missing = 0
deadline = time.monotonic() + 60 # bounded, whatever happens to the sandbox
while not os.path.exists(path) and time.monotonic() < deadline:
    pass
while not os.path.exists(stop) and time.monotonic() < deadline:
    seen += 1
    if not os.path.exists(path):
        missing += 1
print(seen, missing)
EOF
rm -f "$log" "$log.1" "$TMP/stop"
python3 "$TMP/poll.py" "$log" "$TMP/stop" >"$TMP/poll.out" &
poller=$!
_pids+=("$poller")
detach "$name" --policy "$TMP/unlimited.ini" -- /bin/sh -c 'head -c 268435456 /dev/zero' >/dev/null
for _ in $(seq 300); do [ -e "/run/moat/$name" ] || break; sleep 0.1; done
: >"$TMP/stop"
wait "$poller"
read -r seen missing <"$TMP/poll.out"
size=$(stat -c %s "$log.1")
ok "$([ "$size" -gt 15000000 ] && echo 0 || echo 1)" "the flood rotated the log ($size bytes in $name.log.1)"
ok "$([ "$seen" -gt 1000 ] && echo 0 || echo 1)" "the poller looked often ($seen times)"
is "$missing" 0 "NAME.log was there each of the $seen times the poller looked"
ok "$([ ! -e "/var/log/moat/.$name.log.tmp" ] && echo 0 || echo 1)" "no temporary name is left"
rm -f "$log" "$log.1" "/var/log/moat/$name.jsonl" "/var/log/moat/$name.jsonl.1"

check_no_leaks
done_testing
