#!/bin/bash
# moat run's contract with orchestration scripts: exit codes, signals,
# --detach and stop, unique names, gc, and nothing left behind.
. "$(dirname "$0")/lib.sh"
require_root

code_of() { "$@" >/dev/null 2>&1; echo $?; }

is "$(code_of msandbox -- /bin/true)" 0 "exit 0 is passed through"
is "$(code_of msandbox -- /bin/sh -c 'exit 1')" 1 "exit 1 is passed through"
is "$(code_of msandbox -- /bin/sh -c 'exit 42')" 42 "exit 42 is passed through"
is "$(code_of msandbox -- /bin/sh -c 'kill -TERM $$')" 143 "death by SIGTERM is 128+15"
is "$(code_of msandbox -- /bin/sh -c 'kill -KILL $$')" 137 "death by SIGKILL is 128+9"
is "$(code_of msandbox -- /no/such/command)" 127 "a missing command is 127"
is "$(code_of msandbox -- no-such-command-in-path)" 127 "a command not in PATH is 127"
printf '#!/bin/sh\necho hi\n' >"$TMP/noexec.sh"
chmod 644 "$TMP/noexec.sh"
is "$(code_of msandbox --bind "$TMP:/work" -- /work/noexec.sh)" 126 "a non-executable command is 126"
is "$(code_of msandbox -- /tmp)" 126 "a directory as command is 126"
# exec runs a script without "#!" through /bin/sh, copying argv on the
# command's stack before exec: as many arguments as exec takes must fit.
mkdir -p "$TMP/bare"
printf 'echo "$#"\n' >"$TMP/bare/bare.sh"
chmod 755 "$TMP/bare" "$TMP/bare/bare.sh"
out=$(msandbox --bind "$TMP/bare:/work" -- /work/bare.sh $(seq 100000) 2>&1)
is "$out" 100000 "a script without #! gets its 100000 arguments"

# A standard fd the caller closed must not be taken by one of moat's own
# files (a lock, a pipe to init), which the command would inherit as it.
fds='for f in 0 1 2; do printf "%s " "$(readlink /proc/$$/fd/$f)" >&2; done'
out=$(msandbox -- /bin/sh -c "$fds" 2>&1 <&- >&-)
like "$out" "^/dev/null /dev/null pipe:" "a closed stdin and stdout reach the command as /dev/null"
out=$(msandbox -- /bin/sh -c 'readlink /proc/$$/fd/2; exit 3' 2>&-)
is "$?" 3 "a closed stderr does not fail the launch"
is "$out" /dev/null "a closed stderr reaches the command as /dev/null"
name=life-stdio-$$
mdetach "$name" -- /bin/sh -c "echo to-the-log; $fds; echo done >&2; exec sleep 1000" <&- >&- 2>&-
for _ in $(seq 50); do grep -qs '^done' "/var/log/moat/$name.log" && break; sleep 0.1; done
"$MOAT" stop "$name" >/dev/null 2>&1
like "$(tr '\n' ' ' <"/var/log/moat/$name.log")" "to-the-log /dev/null pipe:\[[0-9]+\] pipe:\[[0-9]+\] done" \
	"--detach with closed stdio logs the command's output"
rm -f "/var/log/moat/$name.log" "/var/log/moat/$name.jsonl"

err=$(msandbox -- /no/such/command 2>&1 >/dev/null)
is "$(wc -l <<<"$err")" 1 "a failed exec is one line on stderr"
like "$err" "^moat: exec /no/such/command: No such file or directory$" "the line names the command"

err=$(msandbox --bind /no/such/source:/x -- /bin/true 2>&1)
is "$?" 125 "a missing bind source is 125"
like "$err" "^moat: bind source /no/such/source: No such file or directory$" "the error names the bind source"
# init fails building the root (no mount point can be made in a read-only
# bind): its error, not the supervisor's broken pipe to it, is the line.
mkdir -p "$TMP/robind"
err=$(msandbox --bind "$TMP/robind:/ro" --bind "$TMP:/ro/inner" -- /bin/true 2>&1)
is "$?" 125 "a mount point init cannot make is 125"
is "$err" "moat: mkdir /ro/inner: Read-only file system" "the error is init's, naming the mount point"
err=$(msandbox --memory 12Q -- /bin/true 2>&1)
is "$?" 125 "a bad override is 125"
is "$(wc -l <<<"$err")" 1 "a bad override is one line"
printf '[sandbox]\nbogus = 1\n' >"$TMP/bad.ini"
err=$("$MOAT" run --policy "$TMP/bad.ini" -- /bin/true 2>&1)
is "$?" 125 "a malformed policy is 125"
like "$err" "bad.ini:2: " "the error names file and line"
err=$("$MOAT" run --policy "$TMP/missing.ini" -- /bin/true 2>&1)
is "$?" 125 "a missing policy file is 125"
err=$("$MOAT" run --tier no-such-tier -- /bin/true 2>&1)
is "$?" 125 "an unknown tier is 125"
err=$("$MOAT" run --bogus-option -- /bin/true 2>&1)
is "$?" 125 "an unknown option is 125"
like "$err" "^moat: run: unknown option --bogus-option$" "an unknown option is named, without the help"
err=$("$MOAT" run --detach -xq -- /bin/true 2>&1)
is "$err" "moat: run: unknown option -x" "an unknown letter inside a cluster is named"
err=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$MOAT" run -- /bin/true 2>&1)
is "$?" 125 "without root moat run is 125"
like "$err" "needs root" "and says it needs root"
check_no_leaks

# Signal forwarding: SIGTERM/SIGINT/SIGHUP to moat reach the command.
mkdir -p "$TMP/sig" && chmod 777 "$TMP/sig"
for sig in TERM INT HUP; do
	rm -f "$TMP/sig/got" "$TMP/sig/ready"
	# moat itself in the background, not a subshell around it: $! must be moat.
	"$MOAT" run "${HELPER_BIND[@]}" --bind "$TMP/sig:/sig:rw" -- /bin/sh -c \
		"trap 'echo $sig >/sig/got; exit 7' $sig; touch /sig/ready; while :; do sleep 0.05; done" &
	pid=$!
	for _ in $(seq 100); do [ -e "$TMP/sig/ready" ] && break; sleep 0.05; done
	kill -s "$sig" "$pid"
	wait "$pid"
	code=$?
	is "$code" 7 "SIG$sig to moat reaches the command, which exits with its own code"
	is "$(cat "$TMP/sig/got" 2>/dev/null)" "$sig" "the command's SIG$sig handler ran"
done

# The sandbox dies with moat: SIGKILL to moat kills everything inside.
rm -f "$TMP/sig/ready"
"$MOAT" run --bind "$TMP/sig:/sig:rw" -- /bin/sh -c 'echo $$ > /sig/ready; sleep 1000' &
pid=$!
for _ in $(seq 100); do [ -s "$TMP/sig/ready" ] && break; sleep 0.05; done
inner=$(pgrep -P "$pid" | head -1)
kill -KILL "$pid"
wait "$pid" 2>/dev/null
for _ in $(seq 100); do [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null || break; sleep 0.05; done
ok $( [ -n "$inner" ] && ! kill -0 "$inner" 2>/dev/null && echo 0 || echo 1) "the sandbox dies with moat (init pid $inner gone)"
out=$("$MOAT" ls | tail -n +2)
like "$out" "dead" "a sandbox whose supervisor was killed shows as dead"
out=$("$MOAT" gc)
like "$out" "^collected " "moat gc collects it"
check_no_leaks

# Orphans are reparented to init and reaped: no zombies accumulate.
out=$(msandbox -- /bin/sh -c 'for i in 1 2 3 4 5; do /bin/sh -c "sleep 0.1 &"; done; sleep 0.6; grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l')
is "$out" "0" "orphaned children are reaped"

# --detach and stop.
name=life-detach-$$
out=$(mdetach "$name" -- /bin/sleep 1000)
is "$?" 0 "--detach returns 0"
is "$out" "$name" "--detach prints the name"
out=$("$MOAT" ls)
like "$out" "^$name +public +running +[0-9]+ " "moat ls shows it running"
json=$("$MOAT" ls --json)
is "$(python3 -c 'import json,sys; l=json.load(sys.stdin); print(l[0]["name"], l[0]["state"], l[0]["tier"], type(l[0]["pid"]).__name__, len(l[0]["policy_sha256"]))' <<<"$json")" "$name running public int 64" "moat ls --json has name, state, tier, pid, policy_sha256"
ok $([ -f "/run/moat/$name/state.json" ] && echo 0 || echo 1) "state is in /run/moat/NAME"
out=$(msandbox --name "$name" -- /bin/true 2>&1)
is "$?" 125 "a second sandbox with a running name is refused with 125"
like "$out" "already running" "and the error says so"
like "$("$MOAT" ls)" "^$name +public +running" "the first sandbox is untouched"
start=$(date +%s%N)
"$MOAT" stop "$name"
is "$?" 0 "moat stop returns 0"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok $([ "$ms" -lt 5000 ] && echo 0 || echo 1) "SIGTERM stopped it without the timeout (${ms} ms)"
ok $([ ! -e "/run/moat/$name" ] && echo 0 || echo 1) "stop waits for teardown: state removed"
"$MOAT" stop "$name" 2>/dev/null
is "$?" 3 "stopping an unknown sandbox is 3"

# A command that ignores SIGTERM is killed after the timeout.
name=life-stubborn-$$
mdetach "$name" -- /bin/sh -c 'trap "" TERM; while :; do sleep 0.1; done' >/dev/null
start=$(date +%s%N)
"$MOAT" stop --timeout 1 "$name"
is "$?" 0 "moat stop --timeout 1 stops a command that ignores SIGTERM"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok $([ "$ms" -ge 900 ] && [ "$ms" -lt 6000 ] && echo 0 || echo 1) "after about the timeout (${ms} ms)"
like "$(tail -1 "/var/log/moat/$name.log")" "exited with status 137" "the log records the SIGKILL"
rm -f "/var/log/moat/$name.log" "/var/log/moat/life-detach-$$.log"

# A detached sandbox writes into a pipe the supervisor copies into NAME.log:
# it cannot truncate the file, and the file is rotated at 16 MiB (with no log
# budget: 70-output.t tests that).
name=life-output-$$
printf '[resources]\nlog_rate = 0\n' >"$TMP/no-log-budget.ini"
mdetach "$name" --policy "$TMP/no-log-budget.ini" -- /usr/bin/python3 -c '
import os
os.write(1, b"kept\n")
try:
    os.ftruncate(1, 0)
    os.write(1, b"truncated\n")
except OSError:
    os.write(1, b"ftruncate refused\n")
chunk = b"0123456789abcdef" * 4096
for _ in range(17 * 16):
    os.write(1, chunk)
os.write(1, b"\nlast\n")
' >/dev/null
for _ in $(seq 100); do [ -e "/run/moat/$name" ] || break; sleep 0.1; done
log=/var/log/moat/$name.log
is "$(head -2 "$log.1")" "kept
ftruncate refused" "the sandbox cannot truncate its log"
size=$(stat -c %s "$log.1")
ok $([ "$size" -gt 15000000 ] && [ "$size" -le 16777216 ] && echo 0 || echo 1) "the log rotated at 16 MiB ($size bytes)"
is "$(tail -2 "$log")" "last
moat: $name: exited with status 0" "the rest, and the exit, are in the fresh file"
rm -f "$log" "$log.1"

# Detached failures are reported by `moat run` itself.
out=$("$MOAT" run --detach --name life-fail-$$ -- /no/such/command 2>&1)
is "$?" 127 "--detach reports a missing command as 127"
ok $([ ! -e "/run/moat/life-fail-$$" ] && echo 0 || echo 1) "and leaves no state"
rm -f "/var/log/moat/life-fail-$$.log"

# Many sandboxes in parallel: unique names hold under concurrency.
for i in 1 2 3 4 5 6; do "$MOAT" run --name "life-race-$$" -- /bin/sleep 0.5 >/dev/null 2>&1 & done
wins=0
for job in $(jobs -p); do wait "$job" && wins=$((wins + 1)); done
is "$wins" 1 "of six concurrent runs with one name, exactly one runs"

check_no_leaks
done_testing
