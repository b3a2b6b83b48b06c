#!/bin/bash
# What the command sees from inside: its own PID, UTS, mount and network
# namespaces, a curated file system, no capabilities, a clean environment.
. "$(dirname "$0")/lib.sh"
require_root

# in_sandbox ARGS... -- CMD: stdout of CMD run in a fresh sandbox (stderr to the TAP comment stream).
in_sandbox() {
	msandbox "$@" 2> >(sed 's/^/# stderr: /' >&2)
}

out=$(in_sandbox --name iso-pid -- /bin/sh -c 'cat /proc/1/comm; echo $$')
is "$out" "moat-init"$'\n'"2" "PID 1 in the sandbox is moat's init, the command is PID 2"
# ls as the command itself: only init (1) and ls (2) exist, nothing of the host.
out=$(in_sandbox -- /bin/ls /proc | grep '^[0-9][0-9]*$' | sort -n | tr '\n' ' ')
is "$out" "1 2 " "only the sandbox's processes are visible"

out=$(in_sandbox --name iso-uts -- /bin/cat /proc/sys/kernel/hostname)
is "$out" "iso-uts" "hostname is the sandbox's name"
is "$(cat /proc/sys/kernel/hostname)" "$(hostname)" "the host's hostname is unchanged"

echo secret >"$TMP/outside-file"
out=$(in_sandbox -- /bin/sh -c "
	for p in /etc/shadow /etc/gshadow /etc/machine-id /etc/ssh /root /home /boot /sys /var $TMP/outside-file; do
		[ -e \$p ] && echo visible:\$p
	done
	echo done")
is "$out" "done" "host secrets, homes and files outside the binds are absent"

out=$(in_sandbox -- /bin/sh -c 'ls /etc | sort | tr "\n" " "')
like "$out" "^(alternatives )?group (hosts )?(ld.so.cache )?.*passwd" "/etc holds the curated files"
is "$(in_sandbox -- /bin/cat /etc/hosts)" "$(cat /etc/hosts)" "/etc/hosts is the host's"
out=$(in_sandbox -- /bin/sh -c 'grep -c " /etc/hosts " /proc/self/mountinfo')
is "$out" "0" "small /etc files are copied, not bound"
out=$(umask 077; in_sandbox -- /bin/sh -c 'head -n 1 /etc/passwd; ls /usr/bin/env; umask')
is "$out" "root:x:0:0:root:/root:/usr/sbin/nologin"$'\n'"/usr/bin/env"$'\n'"0077" \
	"a caller's umask 077 leaves the root usable, and the command keeps it"
out=$(in_sandbox -- /bin/cat /etc/passwd)
like "$out" "^root:x:0:0:" "generated passwd has root"
like "$out" "sandbox:x:65534:65534:" "generated passwd has the sandbox user"
ok $(grep -q "^$(id -un 1000 2>/dev/null || echo nosuchuser):" <<<"$out" && echo 1 || echo 0) "host accounts are not in passwd"

out=$(in_sandbox -- /opt/t/probe caps)
like "$out" "CapInh:[[:space:]]+0000000000000000" "inheritable set empty"
like "$out" "CapPrm:[[:space:]]+0000000000000000" "permitted set empty"
like "$out" "CapEff:[[:space:]]+0000000000000000" "effective set empty"
like "$out" "CapBnd:[[:space:]]+0000000000000000" "bounding set empty"
like "$out" "CapAmb:[[:space:]]+0000000000000000" "ambient set empty"
like "$out" "NoNewPrivs:[[:space:]]+1" "no_new_privs is set"

out=$(in_sandbox -- /opt/t/probe ids)
like "$out" "uid=65534" "runs as the default sandbox uid"
out=$(in_sandbox --user 1234:4321 -- /opt/t/probe ids)
like "$out" "uid=1234.*gid=4321" "--user sets uid and gid"
out=$(in_sandbox --user 0:0 -- /opt/t/probe caps)
like "$out" "CapEff:[[:space:]]+0000000000000000" "uid 0 in the sandbox still has no capabilities"

out=$(in_sandbox -- /opt/t/probe sid)
is "$out" "leader yes" "the command leads its own session (no TIOCSTI into the caller's tty)"

# Leak descriptors into moat: none may reach the command.
out=$(exec 7</dev/null 9>"$TMP/leak"; in_sandbox -- /opt/t/probe fds | tr '\n' ' ')
is "$out" "0 1 2 " "no fd above 2 is open in the command"

out=$(SECRET_TOKEN=hunter2 PASSME=passed TERM=xterm-test in_sandbox --env PASSME --env SETME=value --env ABSENT_VAR -- /usr/bin/env | sort | tr '\n' ' ')
is "$out" "HOME=/tmp PASSME=passed PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SETME=value TERM=xterm-test " "only PATH, HOME, TERM and the policy's variables cross"

# init is a fork of moat and holds the caller's whole environment: non-dumpable, so unreadable.
out=$(SECRET_TOKEN=hunter2 in_sandbox --user 0:0 -- /bin/sh -c 'cat /proc/1/environ 2>/dev/null | tr "\0" "\n" | grep -c SECRET_TOKEN')
is "$out" "0" "init's environment is not readable from the command, even as uid 0"
out=$(ulimit -c unlimited; in_sandbox -- /bin/sh -c 'ulimit -c; ulimit -H -c' | tr '\n' ' ')
is "$out" "0 0 " "no core files: RLIMIT_CORE is 0, soft and hard, whatever the caller's"

# A terminal shared with the sandbox: the command is outside the caller's
# session, so job control cannot stop it reading the terminal. Run moat on
# a pty of its own, in the terminal's foreground group and in another one.
cat >"$TMP/ptyrun.py" <<'EOF'
import os, pty, sys
args = sys.argv[1:]
bg = args[0] == "--bg"
args = args[1:] if bg else args
pid, fd = pty.fork()
if pid == 0:
    if bg:
        # A session leader cannot leave its group: a child in a new one.
        child = os.fork()
        if child:
            os._exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
        os.setpgid(0, 0)
    os.execvp(args[0], args)
out = b""
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
EOF
# fd N's access mode (0 read, 1 write, 2 both), and what stdin is.
modes='for f in 0 1 2; do printf "%s:%s " $f "$(grep ^flags /proc/$$/fdinfo/$f | tr -dc 0-7 | tail -c 1)"; done; readlink /proc/$$/fd/0'
out=$(python3 "$TMP/ptyrun.py" "$MOAT" run -- /bin/sh -c "$modes")
like "$out" "^0:2 1:1 2:1 /dev/pts/" "in the foreground the terminal is stdin; as stdout and stderr it is write-only"
out=$(python3 "$TMP/ptyrun.py" --bg "$MOAT" run -- /bin/sh -c "$modes")
is "$out" "0:0 1:1 2:1 /dev/null" "in the background a terminal stdin is replaced by /dev/null"

# Its command line is readable by anyone, and would be moat's own (paths, --env values).
out=$(in_sandbox --env SETME=cmdline-secret -- /bin/sh -c 'tr "\0" " " </proc/1/cmdline')
like "$out" "^moat-init *$" "init's command line is moat-init only, not moat's arguments"

mkdir -p "$TMP/ro" "$TMP/rw"
chmod 777 "$TMP/rw" "$TMP/ro"
out=$(in_sandbox --bind "$TMP/ro:/data" -- /opt/t/probe write /data/x)
is "$out" "EROFS" "a read-only bind cannot be written"
out=$(in_sandbox --bind "$TMP/rw:/data:rw" -- /opt/t/probe write /data/x)
is "$out" "ok" "a read-write bind can be written"
ok $([ -f "$TMP/rw/x" ] && echo 0 || echo 1) "the write reached the host"
# A bind inside another: the inner one is mounted through the outer.
mkdir -p "$TMP/ro/in/rw" "$TMP/rw2"
chmod 777 "$TMP/rw2"
out=$(in_sandbox --bind "$TMP/ro:/data" --bind "$TMP/rw2:/data/in/rw:rw" -- /bin/sh -c \
	'/opt/t/probe write /data/in/rw/y; /opt/t/probe write /data/in/z' | tr '\n' ' ')
is "$out" "ok EROFS " "a rw bind inside a read-only one: writable, its parent not"
ok $([ -f "$TMP/rw2/y" ] && echo 0 || echo 1) "the inner write reached the host"
out=$(in_sandbox -- /opt/t/probe write /usr/x)
is "$out" "EROFS" "/usr is read-only"
out=$(in_sandbox -- /opt/t/probe write /etc/x)
is "$out" "EROFS" "the root and /etc are read-only"
out=$(in_sandbox -- /opt/t/probe write /tmp/x)
is "$out" "ok" "/tmp is writable"
out=$(in_sandbox -- /bin/sh -c 'grep " /tmp " /proc/mounts')
like "$out" "tmpfs /tmp tmpfs .*size=65536k" "/tmp is a private tmpfs with the policy's size cap"
out=$(in_sandbox -- /opt/t/probe write /proc/sys/kernel/hostname)
like "$out" "EROFS|EACCES" "/proc/sys is read-only"
out=$(in_sandbox -- /bin/sh -c 'cat /proc/kcore 2>/dev/null | wc -c')
is "$out" "0" "/proc/kcore is masked"
out=$(in_sandbox -- /bin/sh -c 'ls /dev | tr "\n" " "')
like "$out" "^fd full null ptmx random shm stderr stdin stdout tty urandom zero $" "/dev is minimal"
out=$(in_sandbox -- /bin/sh -c 'for d in null zero full random urandom tty; do [ -c /dev/$d ] && printf c; done
	echo x >/dev/null && head -c 4 /dev/zero | wc -c')
is "$out" "cccccc4" "/dev holds the character devices, usable by the sandbox user"

out=$(in_sandbox -- /bin/sh -c 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "')
is "$out" "lo" "the network namespace has only loopback"
out=$(in_sandbox -- /bin/sh -c 'grep -c "^ *lo:" /proc/net/dev; cat /sys/class/net/lo/operstate 2>/dev/null; ip -o link show lo 2>/dev/null | grep -c UP')
like "$out" "^1" "loopback is present"
out=$(in_sandbox -- /usr/bin/python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname()); print("loopback ok")')
is "$out" "loopback ok" "loopback is up and usable"

check_no_leaks
done_testing
