#!/bin/bash
# Network segments and zero-trust egress: real sandboxes on veth pairs,
# real eBPF programs, peers on the host ends of those veths. Traffic goes
# only to addresses this file puts on veths (10.208.7x.0/30 pools) and to
# 169.254.77.77, where nothing listens, for the metadata range.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "python3 is needed for the host-side peers"
command -v bpftool >/dev/null || skip_all "bpftool is needed to inspect the BPF maps"

NP=/opt/t/netprobe
HOST=10.208.77.1 # the host end of every sandbox run with $POLICY
SELF=10.208.77.2

# A pool of exactly one /30: each sandbox of this policy gets HOST/SELF.
POLICY=$TMP/net.ini
cat >"$POLICY" <<EOF
[sandbox]
tier = internal
[network]
nat = no
pool = 10.208.77.0/30
egress =
egress = $HOST tcp/9100
egress = $HOST/32 udp/9101
EOF

LOG=$TMP/peer.log
start_peers "$LOG" --tcp $HOST:9100 --tcp $HOST:9102 --udp $HOST:9101 --udp $HOST:9103

# probe ARGS...: one netprobe run in a sandbox of $POLICY, named "np".
probe() {
	msandbox --name np --policy "$POLICY" -- $NP "$@" 2>&1
}

# --- segmentation -----------------------------------------------------------
links='awk "NR > 2 {sub(\":\", \"\", \$1); print \$1}" /proc/net/dev | sort | tr "\n" " "'
out=$(msandbox --policy "$POLICY" -- /bin/sh -c 'cat /proc/net/route' 2>&1)
like "$out" "eth0[[:space:]]+00000000[[:space:]]+014DD00A[[:space:]]+0003" \
	"veth: eth0 has a default route via the host end"
is "$(msandbox --policy "$POLICY" -- /bin/sh -c "$links" 2>&1)" "eth0 lo " \
	"veth: the sandbox sees only lo and eth0"
is "$(msandbox -- /bin/sh -c "$links" 2>&1)" "lo " "mode none: loopback only"

# --- allowed and denied -------------------------------------------------------
is "$(probe tcp $HOST 9100 hello)" "ok echo hello" "tcp to an allowed port answers"
is "$(probe tcp $HOST 9102 hello)" "EPERM" "tcp to a port not allowed: EPERM on connect"
is "$(probe tcp 10.208.77.3 9100)" "EPERM" "tcp to an address not allowed: EPERM"
is "$(probe sendto $HOST 9101 allowed-datagram)" "ok" "udp sendto an allowed port"
is "$(probe sendto $HOST 9103 denied-datagram)" "EPERM" "unconnected udp sendto a port not allowed: EPERM"
out=$(probe tfo $HOST 9102 fastopen-data)
ok "$([ "$out" != ok ]; echo $?)" "TCP Fast Open to a port not allowed is refused ($out)"
is "$(probe tcp ::ffff:$HOST 9102)" "EPERM" "AF_INET6 to the v4-mapped form: decided by the v4 rules (denied)"
is "$(probe tcp ::ffff:$HOST 9100 mapped)" "ok echo mapped" "AF_INET6 to the v4-mapped form: allowed like v4"
is "$(probe tcp 2001:db8::1 80)" "EPERM" "an IPv6 destination: EPERM"
is "$(probe raw-icmp $HOST)" "EPERM" "raw ICMP socket: refused"
is "$(probe ping $HOST)" "EPERM" "ICMP echo without an icmp rule: dropped by the packet filter"
is "$(msandbox --policy "$POLICY" --allow "$HOST icmp" -- $NP ping $HOST 2>&1)" "ok" \
	"ICMP echo with an icmp rule: answered"
is "$(probe tcp 169.254.77.77 80)" "EPERM" "link-local (metadata) range: tcp denied"
is "$(probe udp-connect 169.254.77.77 53)" "EPERM" "link-local (metadata) range: udp denied"
is "$(probe tcp 127.0.0.1 9)" "ECONNREFUSED" "the sandbox's own loopback is always allowed"
sleep 0.3
grep -q 'allowed-datagram' "$LOG"
ok $? "the allowed datagram arrived"
grep -q 'denied-datagram\|fastopen-data' "$LOG"
ok "$([ $? -ne 0 ]; echo $?)" "nothing denied arrived at the peers"
is "$(grep -c 'connect' "$LOG")" "2" "the peers saw exactly the two allowed tcp connections"

# --- the audit log --------------------------------------------------------------
rm -f /var/log/moat/np.jsonl /var/log/moat/np.jsonl.1
probe tcp $HOST 9102 >/dev/null
probe sendto $HOST 9103 x >/dev/null
probe tcp 169.254.77.77 80 >/dev/null
probe tcp $HOST 9100 x >/dev/null
ev=$("$MOAT" events np --json 2>&1)
is "$(printf '%s\n' "$ev" | grep -c '"event": *"denied"')" "3" "each denial is one audit event"
is "$(printf '%s\n' "$ev" | grep -c '"event": *"allowed"')" "0" "audit = denials: what was allowed is not logged"
like "$ev" '"hook": *"connect4".*"proto": *"tcp".*"address": *"10.208.77.1".*"port": *9102' \
	"the tcp denial names hook, proto, address and port"
like "$ev" '"hook": *"sendmsg4".*"proto": *"udp".*"port": *9103' "the udp denial names sendmsg4"
like "$ev" '"comm": *"netprobe"' "denials name the process"
rm -f /var/log/moat/np.jsonl /var/log/moat/np.jsonl.1

# audit = full: each decision the rules allowed is an event too (a connect,
# a datagram socket's send to a new destination); the sandbox's own loopback
# is not egress and is not logged.
FULL=$TMP/full.ini
sed 's/^tier = internal$/&\naudit = full/' "$POLICY" >"$FULL"
rm -f /var/log/moat/npf.jsonl /var/log/moat/npf.jsonl.1
msandbox --name npf --policy "$FULL" -- /bin/sh -c "$NP tcp $HOST 9100 full; \
	$NP sendto $HOST 9101 full-datagram; $NP tcp $HOST 9102; $NP tcp 127.0.0.1 9" >/dev/null 2>&1
ev=$("$MOAT" events npf --json 2>&1)
is "$(printf '%s\n' "$ev" | grep -c '"event": *"allowed"')" "2" "audit = full: each allowed decision is one event"
like "$ev" '"event": *"allowed".*"hook": *"connect4".*"comm": *"netprobe".*"proto": *"tcp".*"address": *"10.208.77.1".*"port": *9100' \
	"the allowed connect names hook, process, proto, address and port"
like "$ev" '"event": *"allowed".*"hook": *"sendmsg4".*"proto": *"udp".*"port": *9101' \
	"the allowed datagram names sendmsg4"
is "$(printf '%s\n' "$ev" | grep -c '"event": *"denied"')" "1" "and the denial is still logged"
like "$("$MOAT" events npf)" "allowed +connect4 tcp 10\.208\.77\.1:9100 pid [0-9]+ \(netprobe\)" \
	"moat events shows an allowed event like a denial"
rm -f /var/log/moat/npf.jsonl /var/log/moat/npf.jsonl.1

# `moat events --follow` streams a denial made after it started, and ends
# with the sandbox once it has printed everything.
mdetach follower --policy "$POLICY" -- /bin/sh -c "sleep 1; $NP tcp $HOST 9102" >/dev/null
timeout 15 "$MOAT" events follower --follow --json >"$TMP/follow.out" 2>&1
is "$?" "0" "events --follow ends when the sandbox has ended"
like "$(grep '"denied"' "$TMP/follow.out")" '"port": *9102' "events --follow showed the denial made after it started"
like "$(tail -n 1 "$TMP/follow.out")" '"event": *"stop"' "and the stop event last"
rm -f /var/log/moat/follower.jsonl /var/log/moat/follower.jsonl.1

# --- dns ----------------------------------------------------------------------------
ns=$(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ {print $2; exit}' /etc/resolv.conf)
if [ -n "$ns" ] && [ "${ns%%.*}" != 127 ]; then
	dns_out=$(msandbox --policy "$POLICY" --allow dns -- /bin/sh -c \
		"$NP udp-connect $ns 53; $NP udp-connect $ns 54; $NP udp-connect $HOST 53" 2>&1)
	is "$dns_out" "ok"$'\n'"EPERM"$'\n'"EPERM" "dns allows udp/53 to the resolver and nothing else"
else
	ok 0 "dns: the host's resolver is on loopback (the sandbox's own), nothing to decide # SKIP"
fi

# --- model to model -------------------------------------------------------------------
cat >"$TMP/a.ini" <<EOF
[sandbox]
tier = internal
[network]
nat = no
pool = 10.208.78.0/30
EOF
sed 's/10.208.78.0/10.208.79.0/' "$TMP/a.ini" >"$TMP/b.ini"
mdetach model-a --policy "$TMP/a.ini" -- $NP serve 9000 >/dev/null
is "$(msandbox --policy "$TMP/b.ini" -- $NP tcp 10.208.78.2 9000 hi 2>&1)" "EPERM" \
	"two sandboxes cannot reach each other"
is "$(msandbox --policy "$TMP/b.ini" --allow 'model:model-a tcp/9000' -- $NP tcp 10.208.78.2 9000 hi 2>&1)" \
	"ok echo hi" "they can when one allows model:OTHER"
out=$(msandbox --policy "$TMP/b.ini" --allow 'model:nobody tcp/9000' -- true 2>&1)
is "$?:$out" "125:moat: egress model:nobody: no such sandbox is running" \
	"model:NAME of no running sandbox fails the launch"

# --- publish ------------------------------------------------------------------------------
mdetach pub --publish 127.0.0.1:18080:9000 -- $NP serve 9000 >/dev/null
reply=""
for _ in $(seq 30); do
	reply=$(python3 -c 'import socket
s = socket.create_connection(("127.0.0.1", 18080), timeout=2)
s.sendall(b"from-host\n"); print(s.makefile().readline().strip())' 2>/dev/null) && [ -n "$reply" ] && break
	sleep 0.1
done
is "$reply" "echo from-host" "--publish serves a request from the host (mode none)"
out=$(msandbox --publish 127.0.0.1:18080:9000 -- true 2>&1)
like "$?:$out" "^125:moat: .*18080.*in use" "a taken host port fails the launch with one line"

# --- bad input leaves nothing -----------------------------------------------------------
out=$(msandbox --policy "$POLICY" --allow 'no-such-host.invalid tcp/80' -- true 2>&1)
like "$?:$out" "^125:moat: egress no-such-host.invalid: cannot resolve" "an unresolvable hostname fails the launch"

"$MOAT" stop model-a >/dev/null 2>&1
"$MOAT" stop pub >/dev/null 2>&1

# --- nat ---------------------------------------------------------------------------------
sed 's/^nat = no/nat = yes/' "$TMP/a.ini" >"$TMP/nat.ini"
mdetach natted --policy "$TMP/nat.ini" -- /bin/sleep 60 >/dev/null
like "$(nft list set ip moat nat_sources 2>&1)" "10\.208\.78\.2" "nat = yes: the sandbox's address is masqueraded"
# What set-up needed is not kept for the sandbox's life: the supervisor
# unloads libnftables once the element is in (it loads it again to remove
# it, below), and init, cloned before the denial ring is mapped, never maps
# it; the supervisor does, which shows what the grep looks for.
sup=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisor_pid"])' /run/moat/natted/state.json)
init=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' /run/moat/natted/state.json)
is "$(grep -c libnftables "/proc/$sup/maps")" "0" "nat = yes: the running supervisor no longer maps libnftables"
is "$(grep -c 'anon_inode:bpf-map' "/proc/$init/maps")" "0" "init does not map the denial ring"
ok "$([ "$(grep -c 'anon_inode:bpf-map' "/proc/$sup/maps")" -gt 0 ]; echo $?)" "the supervisor maps the denial ring"
"$MOAT" stop natted >/dev/null 2>&1
nft list set ip moat nat_sources 2>/dev/null | grep -q "10\.208\.78\.2"
ok "$([ $? -ne 0 ]; echo $?)" "nat: the address is removed at teardown"

# libnftables is opened only when needed: hidden (a private mount namespace
# binds /dev/null over it), nat = yes fails with a line naming it, and gc works.
without_nft() {
	unshare -m --propagation private sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' \
		sh "$nftlib" "$@"
}
nftlib=$(ldconfig -p | awk '$1 == "libnftables.so.1" { print $NF; exit }')
ok "$([ -n "$nftlib" ]; echo $?)" "libnftables.so.1 is in ld.so.cache"
out=$(without_nft "$MOAT" run --name nonft --policy "$TMP/nat.ini" -- /bin/true 2>&1)
is "$?" "125" "nat = yes without libnftables: exit 125"
like "$out" "NAT needs libnftables\.so\.1" "the error names the missing library"
without_nft "$MOAT" gc >/dev/null 2>&1
is "$?" "0" "gc without libnftables: nothing to drop, exit 0"

# --- a killed supervisor: gc releases the network -----------------------------------------
mdetach doomed --policy "$POLICY" -- /bin/sleep 60 >/dev/null
sup=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisor_pid"])' /run/moat/doomed/state.json)
ifname=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["network"]["host_ifname"])' /run/moat/doomed/state.json)
ip link show "$ifname" >/dev/null 2>&1
ok $? "the host end $ifname exists while the sandbox runs"
kill -KILL "$sup"
for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.05; done
is "$("$MOAT" gc 2>&1)" "collected doomed" "gc collects the sandbox of a killed supervisor"
ip link show "$ifname" >/dev/null 2>&1
ok "$([ $? -ne 0 ]; echo $?)" "the veth is gone"
is "$(ls /run/moat/.net 2>/dev/null | wc -l)" "0" "gc released the address lease"
check_no_leaks
done_testing
