#!/bin/bash
# Status, accounting and metrics (docs/status.md): moat status --json and
# moat ls --json against the documented schema, moat metrics against promtool
# and over HTTP, moat top's snapshot, and the numbers themselves: a known
# number of getppid calls, a known number of bytes through an allowed
# connection, denials as the audit log has them. Traffic goes only to the
# host end of a veth this file's sandbox gets (pool 10.208.81.0/30) and to
# 127.0.0.1 (a published port, 18190).
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "python3 is needed for the workloads and the JSON checks"
command -v promtool >/dev/null ||
	skip_all "promtool is needed to check the metrics (Debian package prometheus)"

PY=/usr/bin/python3 # inside the sandboxes
HOST=10.208.81.1    # the host end of the network sandbox's veth
CALLS=100000        # getppid calls the workload makes
SENT=4194304        # bytes the workload sends through its allowed connection

# wait_log NAME TEXT: until the detached sandbox NAME has printed TEXT (30 s at most).
wait_log() {
	for _ in $(seq 300); do
		grep -q "$2" "/var/log/moat/$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The schema of docs/status.md, checked member by member: status objects (one,
# or an array with --all) or ls entries on stdin; prints "ok" or each problem.
cat >"$TMP/schema.py" <<'EOF'
import json, sys

kind = sys.argv[1]
doc = json.load(sys.stdin)
problems = []
INT, NUM, STR, BOOL, ARR, OBJ, NULL = int, (int, float), str, bool, list, dict, type(None)

def need(obj, key, types, where):
    if not isinstance(obj, dict) or key not in obj:
        problems.append("%s: no %s" % (where, key))
        return None
    v = obj[key]
    ok = isinstance(v, types) and not (isinstance(v, bool) and bool not in
                                       (types if isinstance(types, tuple) else (types,)))
    if not ok:
        problems.append("%s.%s: %r is not %s" % (where, key, v, types))
    return v

def section(obj, key, members, where):
    s = need(obj, key, OBJ, where)
    if not isinstance(s, dict):
        return None
    w = where + "." + key
    avail = need(s, "available", BOOL, w)
    need(s, "error", (STR, NULL) if avail else STR, w)
    if avail:
        for m, t in members.items():
            need(s, m, t, w)
    return s if avail else None

def status(st, w):
    for k, t in [("schema", INT), ("name", STR), ("state", STR), ("tier", STR),
                 ("policy", STR), ("policy_sha256", STR), ("user", STR), ("command", ARR),
                 ("detached", BOOL), ("pids", OBJ), ("started", INT),
                 ("uptime_seconds", (NUM, NULL)), ("cgroup_id", (INT, NULL)),
                 ("network", OBJ), ("guarantees", (OBJ, NULL)), ("enforcement", OBJ)]:
        need(st, k, t, w)
    if st.get("state") not in ("starting", "running", "dead"):
        problems.append("%s.state: %r" % (w, st.get("state")))
    for k in ("supervisor", "init", "command"):
        need(st.get("pids"), k, INT, w + ".pids")
    section(st, "memory", {"current_bytes": INT, "max_bytes": (INT, NULL),
                           "oom_kills": (INT, NULL)}, w)
    section(st, "cpu", {"usage_seconds": NUM, "limit_cpus": (NUM, NULL)}, w)
    section(st, "tasks", {"current": INT, "max": (INT, NULL)}, w)
    sc = section(st, "syscalls", {"total": INT, "per_second": NUM, "top": ARR,
                                  "counts": OBJ}, w)
    for e in (sc or {}).get("top", []):
        need(e, "name", (STR, NULL), w + ".syscalls.top")
        need(e, "nr", INT, w + ".syscalls.top")
        need(e, "count", INT, w + ".syscalls.top")
    net, wn = st.get("network", {}), w + ".network"
    need(net, "mode", STR, wn)
    for k in ("address", "host_address", "host_ifname"):
        need(net, k, (STR, NULL), wn)
    need(net, "egress_rules", (INT, NULL), wn)
    section(net, "counters", {k: INT for k in (
        "bytes_in", "bytes_out", "packets_in", "packets_out", "connections_allowed",
        "connections_denied", "datagrams_allowed", "datagrams_denied", "packets_denied",
        "denials_lost")}, wn)
    d = section(net, "destinations", {"top": ARR}, wn)
    for e in (d or {}).get("top", []):
        for k, t in [("family", STR), ("address", STR), ("proto", STR), ("port", INT),
                     ("bytes", INT), ("packets", INT)]:
            need(e, k, t, wn + ".destinations.top")
    c = section(net, "clients", {"active_connections": INT, "top": ARR}, wn)
    for e in (c or {}).get("top", []):
        for k, t in [("address", STR), ("connections", INT), ("bytes_in", INT),
                     ("bytes_out", INT)]:
            need(e, k, t, wn + ".clients.top")
    section(st, "output", {"log": (STR, NULL), "rate_bytes_per_second": (INT, NULL),
                           "burst_bytes": (INT, NULL), "dropped_bytes": (INT, NULL)}, w)
    dn = section(st, "denials", {"last": ARR}, w)
    for e in (dn or {}).get("last", []):
        if e.get("event") != "denied":
            problems.append("%s.denials.last: %r" % (w, e))
    en = st.get("enforcement", {})
    need(en, "known", BOOL, w + ".enforcement")
    need(en, "degraded", ARR, w + ".enforcement")
    for e in need(en, "not_applied", ARR, w + ".enforcement") or []:
        need(e, "guarantee", STR, w + ".enforcement.not_applied")
        need(e, "why", (STR, NULL), w + ".enforcement.not_applied")

def ls_entry(e, w):
    for k, t in [("name", STR), ("tier", STR), ("state", STR), ("pid", INT),
                 ("command_pid", INT), ("supervisor_pid", INT), ("started", INT),
                 ("uptime_s", INT), ("policy", STR), ("policy_sha256", STR),
                 ("command", ARR), ("memory_bytes", (INT, NULL)),
                 ("memory_max_bytes", (INT, NULL)), ("cpu_seconds", (NUM, NULL)),
                 ("syscalls_total", (INT, NULL)), ("syscalls_per_second", (NUM, NULL)),
                 ("network_bytes_in", (INT, NULL)), ("network_bytes_out", (INT, NULL)),
                 ("degraded", BOOL)]:
        need(e, k, t, w)

check = status if kind == "status" else ls_entry
if isinstance(doc, list):
    for i, x in enumerate(doc):
        check(x, "[%d]" % i)
else:
    check(doc, "status")
print("\n".join(problems) if problems else "ok")
EOF

# json EXPRESSION: evaluates a Python expression over the JSON on stdin (as d).
json() {
	python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# --- usage and absence ----------------------------------------------------------
"$MOAT" status --json no-such-sandbox-$$ >/dev/null 2>"$TMP/err"
is "$?:$(cat "$TMP/err")" "3:moat: status: no sandbox named \"no-such-sandbox-$$\"" \
	"status of no sandbox: exit 3, one line"
"$MOAT" status --bogus >/dev/null 2>&1
is "$?" 2 "status with a bad option: exit 2"
"$MOAT" metrics --listen nowhere >/dev/null 2>&1
is "$?" 2 "metrics --listen without ADDR:PORT: exit 2"
like "$("$MOAT" status --help)" "Examples:" "status --help ends with examples"

# --- syscalls: exactly the workload's getppid calls ------------------------------
# Counting starts before moat's init enters the sandbox's cgroup, so the count
# holds init's set-up and python's start-up too; neither calls getppid (init
# sets up with mount, prctl and the like; CPython's start-up never asks for its
# parent). The bound leaves 100 for a runtime that would.
sys=st-sys-$$
rm -f "/var/log/moat/$sys.jsonl" "/var/log/moat/$sys.jsonl.1"
mdetach "$sys" -- $PY -c "
import os, time
for _ in range($CALLS):
    os.getppid()
print('done', flush=True)
time.sleep(600)
" >/dev/null
wait_log "$sys" "done"
ok $? "the getppid workload ran"
st=$("$MOAT" status --json "$sys")
is "$?" 0 "status --json of a running sandbox: exit 0"
is "$(printf '%s' "$st" | python3 "$TMP/schema.py" status)" ok \
	"status --json parses and has every documented member"
is "$(printf '%s' "$st" | json 'd["state"], d["tier"], d["schema"]')" "('running', 'public', 1)" \
	"status: state, tier and schema"
n=$(printf '%s' "$st" | json 'd["syscalls"]["counts"].get("getppid", 0)')
ok "$([ "$n" -ge $CALLS ] && [ "$n" -le $((CALLS + 100)) ] && echo 0 || echo 1)" \
	"getppid counted $n times for $CALLS calls (bound: +100)"
is "$(printf '%s' "$st" | json 'd["syscalls"]["top"][0]["name"]')" getppid \
	"getppid tops the syscalls, by name"
is "$(printf '%s' "$st" | json '[e["guarantee"] for e in d["enforcement"]["not_applied"]]')" \
	"['egress']" "mode none: egress is the one guarantee not applied"
out=$("$MOAT" status "$sys")
like "$out" "getppid +[0-9]+" "status shows syscalls by name"
like "$out" "egress +NOT APPLIED \(mode none: no network\)" "status flags egress as not applied, with why"
like "$out" "seccomp +in force: profile strict" "status shows the seccomp profile in force"

# --- network: bytes through an allowed connection, denials ----------------------------
POLICY=$TMP/net.ini
cat >"$POLICY" <<EOF
[sandbox]
tier = internal
[network]
nat = no
pool = 10.208.81.0/30
egress =
egress = $HOST tcp/9200
egress = $HOST udp/9204-9205
EOF
# A sink on the veth's host end: logs each connection's bytes.
start_peers "$TMP/sink.log" --sink $HOST:9200

net=st-net-$$
rm -f "/var/log/moat/$net.jsonl" "/var/log/moat/$net.jsonl.1"
mdetach "$net" --policy "$POLICY" -- $PY -c "
import errno, socket, struct, time
s = socket.create_connection(('$HOST', 9200))
s.sendall(b'x' * $SENT)
# Until the sink has read it all and closed: then TCP_INFO holds every byte
# TCP sent again (tcpi_bytes_retrans, offset 208), which bytes_out counts too.
s.shutdown(socket.SHUT_WR)
while s.recv(4096):
    pass
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
print('retrans', struct.unpack_from('Q', info, 208)[0] if len(info) >= 216 else 0, flush=True)
s.close()
for port in (9201, 9202, 9203):
    try:
        socket.create_connection(('$HOST', port), timeout=2)
    except OSError as e:
        print('refused', port, errno.errorcode.get(e.errno), flush=True)
# Datagrams of 100 bytes: 100 from a socket that closes, 70 from one that
# stays open (its last ones may still be pending: docs/status.md).
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(100):
    u.sendto(b'u' * 100, ('$HOST', 9204))
u.close()
w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(70):
    w.sendto(b'w' * 100, ('$HOST', 9205))
print('done', flush=True)
time.sleep(600)
" >/dev/null
wait_log "$net" "done"
ok $? "the network workload ran"
for _ in $(seq 50); do grep -q bytes "$TMP/sink.log" && break; sleep 0.1; done
is "$(cat "$TMP/sink.log")" "bytes $SENT" "the sink received the $SENT bytes"
is "$(grep -c 'refused .* EPERM' "/var/log/moat/$net.log")" 3 "the three other ports were refused"
sleep 0.3 # the supervisor logs denials as it collects them
st=$("$MOAT" status --json "$net")
is "$(printf '%s' "$st" | python3 "$TMP/schema.py" status)" ok \
	"status --json of a veth sandbox has every documented member"
out=$(printf '%s' "$st" | json 'd["network"]["counters"]["bytes_out"]')
retrans=$(sed -n 's/^retrans \([0-9]*\)$/\1/p' "/var/log/moat/$net.log")
# 5% for IP and TCP headers, over what TCP sent (again, when it retransmitted),
# plus the 170 datagrams of 128 bytes below.
ok "$(awk -v n="$out" -v s=$SENT -v r="${retrans:-x}" \
	'BEGIN { exit !(r ~ /^[0-9]+$/ && n >= s && n <= (s + r) * 1.05 + 21760) }' && echo 0 || echo 1)" \
	"bytes_out counts the $SENT bytes within 5% ($out, $retrans retransmitted: IP and TCP headers included)"
is "$(printf '%s' "$st" | json 'd["network"]["counters"]["connections_allowed"], d["network"]["counters"]["connections_denied"]')" \
	"(1, 3)" "one connection allowed, three denied"
is "$(printf '%s' "$st" | json '[(e["address"], e["proto"], e["port"]) for e in d["network"]["destinations"]["top"]][:1]')" \
	"[('$HOST', 'tcp', 9200)]" "the top destination is the sink"
udp_dest() {
	printf '%s' "$st" | json "[(e['packets'], e['bytes']) for e in d['network']['destinations']['top'] if e['proto'] == 'udp' and e['port'] == $1]"
}
is "$(udp_dest 9204)" "[(100, 12800)]" \
	"a closed socket's 100 datagrams are all counted, IP and UDP headers included"
is "$(udp_dest 9205)" "[(64, 8192)]" \
	"an open socket's 70 datagrams: the first batch of 64 counted, 6 pending"
is "$(printf '%s' "$st" | json 'd["network"]["counters"]["datagrams_allowed"]')" 170 \
	"the sandbox's datagram counter has all 170 at once"
want=$("$MOAT" events --json "$net" | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
print([(e["hook"], e["address"], e["port"], e["pid"]) for e in ev if e["event"] == "denied"])')
got=$(printf '%s' "$st" | json '[(e["hook"], e["address"], e["port"], e["pid"]) for e in d["denials"]["last"]]')
is "$got" "$want" "status's last denials are the audit log's denied events"
like "$got" "9201.*9202.*9203" "the three denials, oldest first"
like "$("$MOAT" status "$net")" "connect4 tcp $HOST:9203 pid [0-9]+ \(python3\)" \
	"status shows the last denial with its process"

# --- published ports: the top clients ----------------------------------------------------
# Three requests of 5 bytes, each answered with 1000: clients.json, which the
# supervisor rewrites once a second, then status.
pub=st-pub-$$
mdetach "$pub" --publish 127.0.0.1:18190:9000 -- $PY -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 9000))
s.listen(16)
print('listening', flush=True)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b'y' * 1000)
    c.close()
" >/dev/null
wait_log "$pub" listening
ok $? "the published server listens"
for _ in 1 2 3; do
	python3 -c 'import socket
s = socket.create_connection(("127.0.0.1", 18190), timeout=5)
s.sendall(b"hello")
while s.recv(65536):
    pass' 2>/dev/null
done
clients=""
for _ in $(seq 40); do
	clients=$("$MOAT" status --json "$pub" |
		json '[(e["address"], e["connections"], e["bytes_in"], e["bytes_out"]) for e in d["network"]["clients"]["top"]]')
	[ "$clients" != "[]" ] && break
	sleep 0.1
done
is "$clients" "[('127.0.0.1', 3, 15, 3000)]" "status: the top client of the published port, with its bytes"
like "$("$MOAT" status "$pub")" "clients +127\.0\.0\.1 +3 connections" "status shows the top clients"
"$MOAT" stop --timeout 1 "$pub" >/dev/null 2>&1

# --- ls --------------------------------------------------------------------------------
ls_json=$("$MOAT" ls --json)
is "$?" 0 "ls --json: exit 0"
is "$(printf '%s' "$ls_json" | python3 "$TMP/schema.py" ls)" ok \
	"ls --json parses and has every documented member"
n=$(printf '%s' "$ls_json" | json "[e['syscalls_total'] for e in d if e['name'] == '$sys'][0]")
ok "$([ "${n:-0}" -ge $CALLS ] && echo 0 || echo 1)" "ls --json counts the workload's syscalls ($n)"
n=$(printf '%s' "$ls_json" | json "[e['network_bytes_out'] for e in d if e['name'] == '$net'][0]")
ok "$([ "${n:-0}" -ge $SENT ] && echo 0 || echo 1)" "ls --json counts the bytes sent ($n)"
like "$("$MOAT" ls)" "^NAME +TIER +STATE +PID +UPTIME +MEMORY +SYSC/S +NET-IN +NET-OUT +COMMAND" \
	"ls: the documented columns"

# --- metrics ---------------------------------------------------------------------------
"$MOAT" metrics >"$TMP/metrics.txt"
is "$?" 0 "metrics: exit 0"
out=$(promtool check metrics <"$TMP/metrics.txt" 2>&1)
is "$?:$out" "0:" "promtool check metrics finds no problem"
like "$(cat "$TMP/metrics.txt")" "moat_syscalls_total\{sandbox=\"$sys\",tier=\"public\",syscall=\"getppid\"\} [0-9]+" \
	"metrics: syscalls by name, with sandbox and tier labels"
like "$(cat "$TMP/metrics.txt")" "moat_network_transmit_bytes_total\{sandbox=\"$net\",tier=\"internal\"\} [0-9]+" \
	"metrics: network bytes"
like "$(cat "$TMP/metrics.txt")" "moat_sandbox_info\{sandbox=\"$net\",tier=\"internal\",policy_sha256=\"[0-9a-f]{64}\"\} 1" \
	"metrics: moat_sandbox_info"

"$MOAT" metrics --listen 127.0.0.1:0 >"$TMP/listen.out" 2>&1 &
_pids+=($!)
url=""
for _ in $(seq 50); do
	url=$(awk '/^serving /{print $2}' "$TMP/listen.out" 2>/dev/null) # created by the background job
	[ -n "$url" ] && break
	sleep 0.1
done
like "$url" "^http://127\.0\.0\.1:[0-9]+/metrics$" "metrics --listen prints the address it serves"
# fetch URL: "STATUS CONTENT-TYPE" and the body into $TMP/body.
fetch() {
	python3 - "$1" "$TMP/body" <<'EOF'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=10)
except urllib.error.HTTPError as e:
    r = e
open(sys.argv[2], "wb").write(r.read())
print(r.status, r.headers.get("Content-Type"))
EOF
}
is "$(fetch "$url")" "200 text/plain; version=0.0.4; charset=utf-8" "GET /metrics: 200, the exposition's content type"
out=$(promtool check metrics <"$TMP/body" 2>&1)
is "$?:$out" "0:" "what it serves passes promtool too"
grep -q "moat_sandbox_up{sandbox=\"$net\",tier=\"internal\"} 1" "$TMP/body"
ok $? "it serves every sandbox's metrics"
like "$(fetch "${url%/metrics}/other")" "^404 " "any other path: 404"

# --- top ---------------------------------------------------------------------------------
out=$("$MOAT" top --sort memory </dev/null | cat)
is "$?" 0 "top, not on a terminal: one snapshot, exit 0"
like "$out" "^moat top .*sort: memory" "the snapshot's header names the sort"
like "$out" "$sys +public +running" "the snapshot lists the sandboxes"
if printf '%s' "$out" | grep -q $'\033'; then esc=1; else esc=0; fi
ok $esc "no escape sequences when not on a terminal"

"$MOAT" stop --timeout 1 "$sys" >/dev/null 2>&1
"$MOAT" stop --timeout 1 "$net" >/dev/null 2>&1
rm -f "/var/log/moat/$sys.jsonl" "/var/log/moat/$net.jsonl" "/var/log/moat/$pub.jsonl"
check_no_leaks
done_testing
