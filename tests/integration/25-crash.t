#!/bin/bash
# The supervisor killed at chosen points of a launch (strace delivers SIGKILL
# on entry to a system call), then `moat gc`: whatever the crash left is
# collected, the name can be used again, and the audit log gets its end.
. "$(dirname "$0")/lib.sh"
require_root
command -v strace >/dev/null || skip_all "strace is not installed (run 'make deps')"

code_of() { "$@" >/dev/null 2>&1; echo $?; }

# crash SYSCALL K [STRACE-OPTION...] -- RUN-ARGS...: moat run RUN-ARGS, its
# supervisor killed on entering its K-th call of SYSCALL (strace counts per
# syscall; without -f it traces the supervisor alone, and init dies with
# it). Prints the exit status: 137 when the kill landed.
crash() {
	local sc=$1 k=$2 opts=()
	shift 2
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	{ strace -qq -o /dev/null "${opts[@]}" -e trace="$sc" -e inject="$sc:signal=SIGKILL:when=$k" \
		"$MOAT" run "${HELPER_BIND[@]}" "$@" </dev/null >/dev/null 2>&1; } 2>/dev/null
	echo $?
}

# nth_call SYSCALL AFTER-RE MATCH-RE RUN-ARGS...: in a traced launch, the
# number K of the first call of SYSCALL whose line matches MATCH-RE after a
# line matching AFTER-RE (a reference for crash; calls at relative paths,
# which strace -P cannot match, are found this way). After a first launch:
# a launch that finds the shared state cold (seccomp cache, BPF pins) makes
# more calls than the warm one crash will run.
nth_call() {
	local sc=$1 after=$2 match=$3
	shift 3
	"$MOAT" run "${HELPER_BIND[@]}" "$@" </dev/null >/dev/null 2>&1
	strace -qq -o "$TMP/trace" -e trace=all "$MOAT" run "${HELPER_BIND[@]}" "$@" \
		</dev/null >/dev/null 2>&1
	awk -v sc="$sc" -v after="$after" -v want="$match" '
		$0 ~ after { seen = 1 }
		index($0, sc "(") == 1 { n++; if (seen && $0 ~ want) { print n; exit } }' "$TMP/trace"
}

# This process's cgroup2 directory, where moat makes moat/NAME.
cgroup2_dir() {
	local mnt rel
	mnt=$(findmnt -t cgroup2 -no TARGET | head -1)
	rel=$(sed -n 's/^0:://p' /proc/self/cgroup)
	echo "$mnt${rel%/}"
}

sandbox_cgroups() { find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -path "*/moat/$1" 2>/dev/null; }

stops() { grep -c '"event":"stop"' "/var/log/moat/$1.jsonl" 2>/dev/null; }

msandbox -- /bin/true >/dev/null 2>&1 # the shared state warm, as on a busy host

# Killed between making its cgroup2 directory and its next state.json: the
# state named the directory before it existed.
name=crash-cg-$$
cg=$(cgroup2_dir)/moat/$name
is "$(crash openat 1 -P "$cg" -- --name "$name" -- /bin/true)" 137 \
	"the supervisor is killed just after making moat/NAME in cgroup2"
ok $([ -d "$cg" ] && echo 0 || echo 1) "its cgroup2 directory exists ($cg)"
like "$("$MOAT" gc)" "^collected $name$" "moat gc collects the sandbox"
is "$(sandbox_cgroups "$name")" "" "and removes moat/NAME in every hierarchy"
is "$(code_of msandbox --name "$name" -- /bin/true)" 0 "the name can be used again"
rm -f "/var/log/moat/$name.jsonl"

# The same just after a v1 group (hybrid hosts) has been made.
v1mem=$(findmnt -t cgroup -no TARGET,OPTIONS | awk '$2 ~ /(^|,)memory(,|$)/ {print $1; exit}')
if [ -n "$v1mem" ]; then
	name=crash-v1-$$
	rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
	v1=$v1mem${rel%/}/moat/$name
	is "$(crash openat 1 -P "$v1/memory.limit_in_bytes" -- --name "$name" -- /bin/true)" 137 \
		"the supervisor is killed just after making its v1 memory group"
	ok $([ -d "$v1" ] && echo 0 || echo 1) "the v1 group exists ($v1)"
	"$MOAT" gc >/dev/null
	is "$(sandbox_cgroups "$name")" "" "moat gc removes it, and moat/NAME in cgroup2"
	is "$(code_of msandbox --name "$name" -- /bin/true)" 0 "the name can be used again"
	rm -f "/var/log/moat/$name.jsonl"
fi

# Killed right after leasing its address, before the state records it.
name=crash-lease-$$
msandbox --tier internal -- /bin/true >/dev/null 2>&1
k=$(nth_call unlinkat '^linkat\(' '\.tmp\.' --name "$name" --tier internal -- /bin/true)
is "$(crash unlinkat "$k" -- --name "$name" --tier internal -- /bin/true)" 137 \
	"the supervisor is killed just after taking an address lease (unlinkat #$k)"
lease=$(grep -lx "$name" /run/moat/.net/* 2>/dev/null)
ok $([ -n "$lease" ] && ! grep -qs '"address"' "/run/moat/$name/state.json" && echo 0 || echo 1) \
	"it holds a lease ($lease) its state does not record"
"$MOAT" gc >/dev/null
is "$(grep -lx "$name" /run/moat/.net/* 2>/dev/null)" "" "moat gc removes the lease"
ok $([ ! -e "/run/moat/.net/.tmp.$name" ] && echo 0 || echo 1) "and the temporary lease"
rm -f "/var/log/moat/$name.jsonl"

# Leases whose holder is gone, whatever the state said: gc removes them, and
# only them.
anchor=crash-anchor-$$
mdetach "$anchor" --tier internal -- /bin/sleep 1000 >/dev/null
live=$(grep -lx "$anchor" /run/moat/.net/* 2>/dev/null)
ghost=/run/moat/.net/10.208.255.254
[ "$live" = "$ghost" ] && ghost=/run/moat/.net/10.208.255.250
echo "crash-ghost-$$" >"$ghost"
echo "crash-ghost-$$" >"/run/moat/.net/.tmp.crash-ghost-$$"
echo "not a lease" >/run/moat/.net/crash-other-$$
"$MOAT" gc >/dev/null
ok $([ ! -e "$ghost" ] && [ ! -e "/run/moat/.net/.tmp.crash-ghost-$$" ] && echo 0 || echo 1) \
	"moat gc removes a lease and a temporary lease whose holder is gone"
ok $([ -n "$live" ] && [ -e "$live" ] && echo 0 || echo 1) "but not the lease of a running sandbox"
ok $([ -e /run/moat/.net/crash-other-$$ ] && echo 0 || echo 1) "nor a file that is no lease"
rm -f /run/moat/.net/crash-other-$$
"$MOAT" stop "$anchor" >/dev/null
rm -f "/var/log/moat/$anchor.jsonl" "/var/log/moat/$anchor.log"

# A crash before the first state.json leaves a directory without it: the next
# launch of the name collects it without a word.
name=crash-nostate-$$
k=$(nth_call rename '^' '/policy\.ini"' --name "$name" -- /bin/true)
is "$(crash rename "$k" -- --name "$name" -- /bin/true)" 137 \
	"the supervisor is killed before its first state.json (rename #$k)"
ok $([ -d "/run/moat/$name" ] && [ ! -e "/run/moat/$name/state.json" ] && echo 0 || echo 1) \
	"a state directory without state.json is left"
out=$(msandbox --name "$name" -- /bin/true 2>&1)
is "$?" 0 "the next launch of the name succeeds"
is "$out" "" "and prints nothing"
rm -f "/var/log/moat/$name.jsonl"

# A sandbox whose supervisor was killed gets its end when it is collected:
# by moat gc, or by the next launch of its name.
name=crash-end-$$
log=/var/log/moat/$name.jsonl
mdetach "$name" -- /bin/sleep 1000 >/dev/null
kill -KILL "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisor_pid"])' \
	"/run/moat/$name/state.json")"
for _ in $(seq 50); do "$MOAT" ls | grep -q "^$name .*dead" && break; sleep 0.1; done
like "$("$MOAT" gc)" "^collected $name$" "moat gc collects a sandbox whose supervisor was killed"
is "$(tail -n 1 "$log" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["event"], e.get("status"), e.get("collected"), "supervisor" in e.get("error", ""))')" \
	"stop 125 True True" "its audit log ends with stop, status 125, collected, and why"
is "$(stops "$name")" 1 "one stop for the one launch"
"$MOAT" gc >/dev/null
is "$(stops "$name")" 1 "a second gc adds none"
mdetach "$name" -- /bin/sleep 1000 >/dev/null
kill -KILL "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisor_pid"])' \
	"/run/moat/$name/state.json")"
for _ in $(seq 50); do "$MOAT" ls | grep -q "^$name .*dead" && break; sleep 0.1; done
is "$(code_of msandbox --name "$name" -- /bin/true)" 0 "a launch of the dead sandbox's name succeeds"
is "$(grep -o '"event":"[a-z]*"' "$log" | tail -n 5 | cut -d'"' -f4 | tr '\n' ' ')" \
	"start stop start exit stop " "and the log reads: the dead one's start and stop, then its own life"
rm -f "$log" "/var/log/moat/$name.log"

# Killed after writing its stop, while removing its state: gc adds no second.
name=crash-late-$$
k=$(nth_call unlinkat '^' '"state\.json"' --name "$name" -- /bin/true)
before=$(stops "$name")
is "$(crash unlinkat "$k" -- --name "$name" -- /bin/true)" 137 \
	"the supervisor is killed removing its state.json (unlinkat #$k)"
like "$("$MOAT" gc)" "^collected $name$" "moat gc collects what it left"
is "$(($(stops "$name") - before))" 1 "the launch has its own stop, not doubled by gc"
rm -f "/var/log/moat/$name.jsonl"

check_no_leaks
done_testing
