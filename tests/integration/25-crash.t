#!/bin/bash
# The supervisor killed at chosen points of a launch (strace delivers SIGKILL
# on entry to a system call), then `moat gc`: whatever the crash left is
# collected, and the name can be used again.
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

# This process's cgroup2 directory, where moat makes moat/NAME.
cgroup2_dir() {
	local mnt rel
	mnt=$(findmnt -t cgroup2 -no TARGET | head -1)
	rel=$(sed -n 's/^0:://p' /proc/self/cgroup)
	echo "$mnt${rel%/}"
}

sandbox_cgroups() { find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -path "*/moat/$1" 2>/dev/null; }

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

check_no_leaks
done_testing
