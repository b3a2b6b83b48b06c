#!/bin/bash
# Resource limits: each sandbox's cgroup (moat/NAME below moat's own) holds
# memory, cpus, pids and the device allow-list, on hybrid and cgroup2-only
# hosts alike; an OOM kill is reported; teardown leaves no cgroup behind.
. "$(dirname "$0")/lib.sh"
require_root

command -v python3 >/dev/null || skip_all "python3 is needed for the workloads"

# cgdirs NAME: the sandbox's cgroup directories, one per hierarchy.
cgdirs() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 12 -type d -path "*/moat/$1" 2>/dev/null
}

# cgval NAME FILE: FILE's content in whichever of NAME's directories has it.
cgval() {
	local d
	for d in $(cgdirs "$1"); do
		[ -f "$d/$2" ] && { cat "$d/$2"; return; }
	done
	echo "(no $2)"
}

# host_open NAME DEV:MODE...: a root process on the host joins every cgroup of
# sandbox NAME, then opens each device ("r" or "w"); prints "DEV MODE ok" or
# "DEV MODE ERRNO". Root passes every permission check but the cgroup's, so an
# EPERM here is the devices controller (or its cgroup2 BPF program) refusing.
host_open() {
	local name=$1
	shift
	# shellcheck disable=SC2046 # one argument per directory
	python3 - "$@" -- $(cgdirs "$name") <<'EOF'
import errno, os, sys
args = sys.argv[1:]
sep = args.index("--")
opens, dirs = args[:sep], args[sep + 1:]
if not dirs:
    print("no cgroup directories")
    sys.exit(1)
for d in dirs:
    with open(os.path.join(d, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
for spec in opens:
    dev, mode = spec.rsplit(":", 1)
    flags = (os.O_WRONLY if mode == "w" else os.O_RDONLY) | os.O_NONBLOCK | os.O_NOCTTY
    try:
        os.close(os.open(dev, flags))
        print(dev, mode, "ok")
    except OSError as e:
        print(dev, mode, errno.errorcode.get(e.errno, e.errno))
EOF
}

# --- memory: a bomb is OOM-killed at the limit, reported, exit 137 ---------------
name=cg-oom-$$
err=$(timeout -s KILL 60 "$MOAT" run --name "$name" --memory 64M -- /bin/sh -c \
	'python3 -c "
chunks = []
for _ in range(1024):
    chunks.append(b\"x\" * (1 << 20))  # touched: counts against the limit
print(\"survived\", flush=True)
"' 2>&1 >"$TMP/oom.out")
code=$?
is "$code" 137 "a memory bomb under --memory 64M exits 137"
like "$err" "moat: $name: out of memory \(limit 64M\), killed" "stderr reports the OOM kill with the limit"
is "$(cat "$TMP/oom.out")" "" "the bomb never got past the limit"
check_no_leaks

# --- pids: a fork bomb stops at the limit and is killed at teardown ----------------
# Every process forks forever (exponential) and retries on EAGAIN; the first
# one counts the sandbox's processes after 2 s, tries one more fork, exits.
name=cg-pids-$$
marker=moat-test-forkbomb-$$ # in every bomb process's argv, for pgrep
start=$(date +%s%N)
out=$(timeout -s KILL 60 "$MOAT" run --name "$name" --pids 32 -- /usr/bin/python3 -c '
import errno, os, sys, time
if os.fork() == 0:
    while True:
        try:
            os.fork()          # parent and child both keep forking
        except OSError:
            time.sleep(0.01)
time.sleep(2)
n = sum(1 for d in os.listdir("/proc") if d.isdigit())
try:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print(n, "fork-ok")
except OSError as e:
    print(n, errno.errorcode[e.errno])
' "$marker" 2>"$TMP/bomb.err")
code=$?
ms=$((($(date +%s%N) - start) / 1000000))
is "$code" 0 "the fork bomb's first process exits on its own (moat returned in ${ms} ms)"
n=${out%% *}
like "$out" "^[0-9]+ EAGAIN$" "at the limit fork fails with EAGAIN ($out)"
ok "$([ "${n:-99}" -le 32 ] 2>/dev/null && echo 0 || echo 1)" "at most 32 processes in the sandbox (${n:-?})"
ok "$([ "$ms" -lt 20000 ] && echo 0 || echo 1)" "teardown of the bomb is bounded (${ms} ms)"
left=$(pgrep -f -- "$marker" | tr '\n' ' ')
is "$left" "" "no bomb process survives the sandbox"
for p in $left; do kill -KILL "$p"; done # only ours: argv carries the marker
check_no_leaks

# --- cpus: a busy loop gets half a core, +-20% ------------------------------------
# CPU time of the process (user + sys, what the quota throttles) over 3 s of
# wall time, measured inside the sandbox.
out=$(timeout -s KILL 60 "$MOAT" run --name "cg-cpu-$$" --cpus 0.5 -- /usr/bin/python3 -c '
import time
t0, c0 = time.monotonic(), time.process_time()
while time.monotonic() - t0 < 3:
    pass
print("%.3f" % ((time.process_time() - c0) / (time.monotonic() - t0)))
' 2>&1)
like "$out" "^0\.[0-9]+$" "the busy loop reports its share ($out)"
ok "$(awk -v v="$out" 'BEGIN { exit !(v ~ /^[0-9.]+$/ && v >= 0.4 && v <= 0.6) }' && echo 0 || echo 1)" \
	"--cpus 0.5: the busy loop gets 0.5 of a core +-20% (got $out)"
check_no_leaks

# --- the cgroup itself: where it is, what it holds, that stop removes it ------------
name=cg-files-$$
mdetach "$name" --memory 64M --cpus 0.5 --pids 32 -- /bin/sleep 1000 >/dev/null
dirs=$(cgdirs "$name")
ok "$([ -n "$dirs" ] && echo 0 || echo 1)" "the sandbox has cgroup directories named moat/$name"
ok "$(grep -q . <<<"$dirs" && ! grep -v "/moat/$name\$" <<<"$dirs" | grep -q . && echo 0 || echo 1)" \
	"every one of them is moat/$name"
v2=$(for d in $dirs; do [ "$(stat -f -c %T "$d")" = cgroup2fs ] && echo "$d"; done)
is "$(grep -c . <<<"$v2")" 1 "one of them is on cgroup2 (where the eBPF programs attach)"
mem=$(cgval "$name" memory.max)
[ "$mem" = "(no memory.max)" ] && mem=$(cgval "$name" memory.limit_in_bytes)
is "$mem" 67108864 "memory limit is 64M"
swap=$(cgval "$name" memory.swap.max)
[ "$swap" = "(no memory.swap.max)" ] && swap=$(cgval "$name" memory.memsw.limit_in_bytes)
like "$swap" "^(0|67108864|\(no memory.memsw.limit_in_bytes\))$" "swap adds nothing to the limit ($swap)"
is "$(cgval "$name" pids.max)" 32 "pids.max is 32"
cpu=$(cgval "$name" cpu.max)
[ "$cpu" = "(no cpu.max)" ] && cpu="$(cgval "$name" cpu.cfs_quota_us) $(cgval "$name" cpu.cfs_period_us)"
is "$cpu" "50000 100000" "the CPU quota is 50 ms per 100 ms"
procs=$(for d in $dirs; do cat "$d/cgroup.procs"; done | sort -u | wc -l)
ok "$([ "$procs" -ge 1 ] && echo 0 || echo 1)" "the sandbox's processes are in its cgroup ($procs)"
# init and the command, in every hierarchy: on a hybrid host init joins the
# v1 ones itself, and the command, forked later, must be there too.
empty=$(for d in $dirs; do [ "$(grep -c . "$d/cgroup.procs")" = 2 ] || echo "$d"; done)
is "$empty" "" "every one of its directories holds init and the command"

# --- devices: the allow-list is enforced by the kernel ------------------------------
out=$(msandbox --name "cg-dev-$$" -- /usr/bin/python3 -c '
import errno, os
for dev, flags in (("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY), ("/dev/urandom", os.O_RDONLY), ("/dev/mem", os.O_RDONLY)):
    try:
        os.close(os.open(dev, flags)); print(dev, "ok")
    except OSError as e:
        print(dev, errno.errorcode[e.errno])
' 2>&1 | tr '\n' ' ')
like "$out" "/dev/null ok /dev/zero ok /dev/urandom ok " "the standard devices open inside the sandbox"
like "$out" "/dev/mem (ENOENT|EPERM) $" "/dev/mem is absent or refused inside the sandbox"

out=$(host_open "$name" /dev/null:w /dev/full:r /dev/kmsg:r | tr '\n' ' ')
is "$out" "/dev/null w ok /dev/full r ok /dev/kmsg r EPERM " \
	"in the sandbox's cgroup even root cannot open a device outside the allow-list"

# A host process that joined the sandbox's groups is outside its PID namespace,
# so init's death spares it: teardown must kill it to remove the groups.
# shellcheck disable=SC2046 # one argument per directory
python3 -c '
import os, sys, time
for d in sys.argv[1:]:
    with open(os.path.join(d, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
print("joined", flush=True)
time.sleep(600)
' $(cgdirs "$name") >"$TMP/joiner.out" 2>&1 &
joiner=$!
for _ in $(seq 100); do
	[ -s "$TMP/joiner.out" ] && break
	sleep 0.05
done
is "$(cat "$TMP/joiner.out")" joined "a host process joined the sandbox's groups"

"$MOAT" stop --timeout 2 "$name"
is "$?" 0 "moat stop returns 0"
state=$(awk '{ print $3 }' "/proc/$joiner/stat" 2>/dev/null) # gone or Z: dead
kill -KILL "$joiner" 2>/dev/null # a no-op unless teardown spared it
wait "$joiner"
is "${state:-Z} $?" "Z 137" "teardown killed the host process that had joined the groups"
is "$(cgdirs "$name")" "" "stop removed the sandbox's cgroups in every hierarchy"

# --- the device program: loaded once, pinned, shared by the same allow-list ---------
v2dir() { # v2dir NAME: the sandbox's cgroup2 directory
	local d
	for d in $(cgdirs "$1"); do
		[ "$(stat -f -c %T "$d")" = cgroup2fs ] && echo "$d"
	done
}
mdetach "cg-da-$$" -- /bin/sleep 60 >/dev/null
mdetach "cg-db-$$" -- /bin/sleep 60 >/dev/null
da=$(bpftool cgroup show "$(v2dir "cg-da-$$")" 2>&1 | awk '$2 == "cgroup_device" { print $1, $NF }')
db=$(bpftool cgroup show "$(v2dir "cg-db-$$")" 2>&1 | awk '$2 == "cgroup_device" { print $1, $NF }')
like "$da" "^[0-9]+ moat_devices$" "the device program is attached to the cgroup2 directory ($da)"
is "$db" "$da" "a second sandbox with the same allow-list attaches the same program"
ok "$(ls /sys/fs/bpf/moat/devices-*/prog >/dev/null 2>&1; echo $?)" "it is pinned for the next launch"
"$MOAT" stop "cg-da-$$" >/dev/null 2>&1
"$MOAT" stop "cg-db-$$" >/dev/null 2>&1

# --- a dead sandbox's group of the same name: refused, and left for gc -------------
# In the last hierarchy (a v1 one on a hybrid host, made after clone).
leftover=cg-left-$$
ldir=$(printf '%s\n' $dirs | tail -1)
ldir=${ldir%/*}/$leftover
mkdir -p "$ldir"
out=$("$MOAT" run --name "$leftover" -- /bin/true 2>&1)
is "$?" 125 "a group of the name exists already: exit 125"
like "$out" "$ldir exists \(a dead sandbox's\? try 'moat gc'\)" "the error names it"
ok "$([ -d "$ldir" ]; echo $?)" "that group is left alone"
is "$(cgdirs "$leftover" | grep -vxF "$ldir")" "" "nothing else of the name is left"
rmdir "$ldir" "${ldir%/*}" 2>/dev/null

# A policy device: allowed with the access the policy grants, and no more.
if [ -c /dev/kmsg ]; then
	name=cg-kmsg-$$
	printf '[resources]\ndevices = /dev/kmsg r\n' >"$TMP/kmsg.ini"
	mdetach "$name" --policy "$TMP/kmsg.ini" -- /bin/sleep 1000 >/dev/null
	out=$(host_open "$name" /dev/kmsg:r /dev/kmsg:w | tr '\n' ' ')
	is "$out" "/dev/kmsg r ok /dev/kmsg w EPERM " "a policy device opens for r, not for w"
	"$MOAT" stop --timeout 2 "$name"
	# (Not opened from inside: dmesg_restrict would refuse it without CAP_SYSLOG.)
	out=$(msandbox --policy "$TMP/kmsg.ini" -- /bin/sh -c 'test -c /dev/kmsg && echo present')
	is "$out" "present" "the policy device is in the sandbox's /dev"
fi

check_no_leaks
done_testing
