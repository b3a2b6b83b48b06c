// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Zero-trust egress for sandboxes: default deny, an allow-list per sandbox.
 *
 * Loaded once per host (sandbox/egress.c pins it) and attached to each
 * sandbox's cgroup2 directory with links. Per-sandbox state lives in map
 * entries keyed by the cgroup id of the socket, so one loaded copy serves
 * every sandbox and a sandbox never sees another's rules.
 *
 *   connect4/6   connect(2), also TCP Fast Open and ping sockets: EPERM
 *   sendmsg4/6   unconnected datagram sends (sendto/sendmsg): EPERM
 *   egress       every packet a sandbox socket sends, so raw sockets and
 *                whatever bypasses the socket hooks are decided too: drop
 *   ingress      counts what comes in
 *   sockops      marks accepted TCP sockets, whose replies go back to the
 *                peer that connected in
 *   sock_release counts a closing socket's last datagrams
 *
 * A decision made for a socket is cached in socket-local storage, so the
 * packets of an allowed connection cost one storage lookup, not a rule match.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "moat_bpf.h"

#define AF_INET6_MAPPED_WORD bpf_htonl(0xffff)
#define LOOPBACK_IFINDEX 1 /* net->loopback_dev is ifindex 1 in every netns */

#define TCP_LISTEN_STATE 10	  /* TCP_LISTEN */
#define TCP_TIME_WAIT_STATE 6	  /* TCP_TIME_WAIT */
#define TCP_NEW_SYN_RECV_STATE 12 /* TCP_NEW_SYN_RECV: a request sock */

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MOAT_RULES_MAX);
	__type(key, struct moat_rule_key);
	__type(value, struct moat_rule_value);
} moat_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOAT_SANDBOXES_MAX);
	__type(key, __u64);
	__type(value, struct moat_sandbox_cfg);
} moat_sandboxes SEC(".maps");

/* Counters in the sandbox cgroup's own storage, made by the kernel when
 * the first program is attached there and freed with the cgroup: found
 * without a hash lookup on every packet. Keyed by the cgroup id alone, so
 * every hook shares one copy. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, struct moat_net_counters);
} moat_netstat SEC(".maps");

/*
 * Ring buffers in slots, one per running sandbox (its supervisor is the only
 * reader). Slots are filled once and reused by later sandboxes: inserting
 * into a map-in-map costs an RCU grace period, too slow for every launch.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MOAT_RINGS_MAX);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_RINGBUF);
		__uint(max_entries, MOAT_EVENTS_BYTES);
	});
} moat_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, MOAT_DESTS_MAX);
	__type(key, struct moat_dest_key);
	__type(value, struct moat_dest_value);
} moat_dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct moat_sock_verdict);
} moat_verdicts SEC(".maps");

/* What one attempt is: the sandbox, where to, and how. */
struct attempt {
	__u64 cgroup_id;
	__u32 addr[4]; /* IPv6 or v4-mapped, network order */
	__u16 port;    /* host order, 0 when the protocol has none */
	__u8 proto;
	__u8 hook;
};

/* Per-CPU values: no atomics needed, and a program cannot migrate. */
static __always_inline struct moat_net_counters *counters(void)
{
	return bpf_get_local_storage(&moat_netstat, 0);
}

/* The sandbox's own netns: loopback, the unspecified address (connect to it
 * means this host) and its own veth address never leave it. */
static __always_inline bool is_own(const struct attempt *a, const struct moat_sandbox_cfg *cfg)
{
	if (a->addr[0] || a->addr[1])
		return false;
	if (a->addr[2] == AF_INET6_MAPPED_WORD) {
		__u32 v4 = a->addr[3];

		return v4 == 0 || (bpf_ntohl(v4) >> 24) == 127 || (cfg->addr4 && v4 == cfg->addr4);
	}
	return a->addr[2] == 0 && (a->addr[3] == 0 || a->addr[3] == bpf_htonl(1));
}

static __always_inline bool port_rule_matches(const struct moat_port_rule *r, __u8 proto, __u16 port)
{
	__u8 class = proto == PROTO_ICMPV6 ? PROTO_ICMP : proto;

	if (r->proto != MOAT_MATCH_ANY && r->proto != class)
		return false;
	return port >= r->lo && port <= r->hi;
}

static __always_inline bool rules_allow(const struct attempt *a)
{
	struct moat_rule_key key = {.prefixlen = MOAT_RULE_PREFIX_BASE + 128};
	struct moat_rule_value *v;

	__builtin_memcpy(key.cgroup_id, &a->cgroup_id, sizeof(key.cgroup_id));
	__builtin_memcpy(key.addr, a->addr, sizeof(key.addr));
	v = bpf_map_lookup_elem(&moat_rules, &key);
	if (!v)
		return false;
	for (int i = 0; i < MOAT_RULE_PORTS_MAX; i++) {
		if (i >= v->n)
			break;
		if (port_rule_matches(&v->r[i], a->proto, a->port))
			return true;
	}
	return false;
}

static __always_inline void report(const struct attempt *a, const struct moat_sandbox_cfg *cfg,
				   struct moat_net_counters *c, bool allowed)
{
	struct moat_net_event *e;
	void *rb;

	if (!cfg)
		return;
	rb = bpf_map_lookup_elem(&moat_events, &cfg->ring);
	if (!rb)
		return;
	e = bpf_ringbuf_reserve(rb, sizeof(*e), 0);
	if (!e) {
		if (c)
			__sync_fetch_and_add(allowed ? &c->allowed_lost : &c->events_lost, 1);
		return;
	}
	e->boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = a->cgroup_id;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->hook = a->hook;
	e->proto = a->proto;
	e->port = a->port;
	__builtin_memcpy(e->addr, a->addr, sizeof(e->addr));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->allowed = allowed;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_ringbuf_submit(e, 0);
}

/* audit = full: the rules' own decisions, not the sandbox's own addresses. */
static __always_inline void report_allowed(const struct attempt *a,
					   const struct moat_sandbox_cfg *cfg,
					   struct moat_net_counters *c)
{
	if (cfg && (cfg->flags & MOAT_CFG_AUDIT_ALLOWED))
		report(a, cfg, c, true);
}

/* Per-CPU values: no atomics; the first packet to a destination creates it. */
static __always_inline void account_dest(__u64 cgroup_id, const __u32 addr[4], __u16 port, __u8 proto,
					 __u64 bytes, __u64 packets)
{
	struct moat_dest_key key = {.cgroup_id = cgroup_id, .port = port, .proto = proto};
	struct moat_dest_value *d;

	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	d = bpf_map_lookup_elem(&moat_dests, &key);
	if (!d) {
		struct moat_dest_value zero = {};

		bpf_map_update_elem(&moat_dests, &key, &zero, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&moat_dests, &key);
		if (!d)
			return;
	}
	d->bytes += bytes;
	d->packets += packets;
}

/* Adds a socket's pending datagrams to its destination's entry. Atomic:
 * threads on two CPUs may send on one socket. */
static __always_inline void flush_pending(struct moat_sock_verdict *v)
{
	__u64 pending = __sync_lock_test_and_set(&v->pending, 0);

	if (pending)
		account_dest(v->cgroup_id, v->addr, v->port, v->proto,
			     pending & ((1ULL << MOAT_PENDING_SHIFT) - 1), pending >> MOAT_PENDING_SHIFT);
}

static __always_inline void account_pending(struct moat_sock_verdict *v, __u32 len)
{
	__u64 before = __sync_fetch_and_add(&v->pending, (1ULL << MOAT_PENDING_SHIFT) | len);

	if ((before >> MOAT_PENDING_SHIFT) + 1 >= MOAT_DEST_BATCH)
		flush_pending(v);
}

static __always_inline void remember(struct bpf_sock *sk, const struct attempt *a, __u8 verdict)
{
	struct moat_sock_verdict *v;

	if (!sk)
		return;
	v = bpf_sk_storage_get(&moat_verdicts, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!v)
		return;
	flush_pending(v); /* the datagrams sent to where it sent before */
	v->cgroup_id = a->cgroup_id;
	__builtin_memcpy(v->addr, a->addr, sizeof(v->addr));
	v->port = a->port;
	v->proto = a->proto;
	v->verdict = verdict;
}

/* ---- socket hooks: connect(2) and sendmsg(2) ------------------------------ */

/* The socket's last allowed attempt went to the same place: datagrams to one
 * peer are decided once, without a rule lookup (rules do not change while
 * the sandbox runs). */
static __always_inline bool same_as_last(struct bpf_sock *sk, const struct attempt *a)
{
	struct moat_sock_verdict *v;

	if (!sk)
		return false;
	v = bpf_sk_storage_get(&moat_verdicts, sk, 0, 0);
	return v && v->verdict == MOAT_VERDICT_ALLOWED && v->proto == a->proto &&
	       v->port == a->port && v->addr[0] == a->addr[0] && v->addr[1] == a->addr[1] &&
	       v->addr[2] == a->addr[2] && v->addr[3] == a->addr[3];
}

static __always_inline int decide_sock(struct bpf_sock_addr *ctx, struct attempt *a, bool connect)
{
	struct moat_sandbox_cfg *cfg = NULL;
	struct moat_net_counters *c;
	bool allowed, known, own;

	a->port = bpf_ntohs((__u16)ctx->user_port);
	a->proto = ctx->protocol;
	/* A datagram socket sending where it was last allowed to: decided. Its
	 * memory only exists while the sandbox is configured (links go first
	 * at teardown), so no config lookup for it. A TCP socket has none. */
	known = a->proto != PROTO_TCP && same_as_last(ctx->sk, a);
	if (!known) {
		a->cgroup_id = bpf_get_current_cgroup_id();
		cfg = bpf_map_lookup_elem(&moat_sandboxes, &a->cgroup_id);
	}
	/* Attached but not (or no longer) configured: fail closed. */
	own = cfg && is_own(a, cfg);
	allowed = known || own || (cfg && rules_allow(a));
	c = counters();
	if (c) {
		if (connect)
			allowed ? c->connect_allowed++ : c->connect_denied++;
		else
			allowed ? c->sendmsg_allowed++ : c->sendmsg_denied++;
	}
	/* TCP needs no memory of it: a connected TCP socket sends only to the
	 * peer connect() allowed, which the packet filter reads from the socket. */
	if (a->proto != PROTO_TCP && !known)
		remember(ctx->sk, a, allowed ? MOAT_VERDICT_ALLOWED : MOAT_VERDICT_NONE);
	if (allowed) {
		if (!known && !own)
			report_allowed(a, cfg, c);
		return 1;
	}
	report(a, cfg, c, false);
	return 0;
}

static __always_inline void addr_from_v4(struct attempt *a, __u32 v4)
{
	a->addr[0] = 0;
	a->addr[1] = 0;
	a->addr[2] = AF_INET6_MAPPED_WORD;
	a->addr[3] = v4;
}

static __always_inline void addr_from_v6(struct attempt *a, const struct bpf_sock_addr *ctx)
{
	a->addr[0] = ctx->user_ip6[0];
	a->addr[1] = ctx->user_ip6[1];
	a->addr[2] = ctx->user_ip6[2];
	a->addr[3] = ctx->user_ip6[3];
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	struct attempt a = {.hook = MOAT_HOOK_CONNECT4};

	addr_from_v4(&a, ctx->user_ip4);
	return decide_sock(ctx, &a, true);
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	struct attempt a = {.hook = MOAT_HOOK_CONNECT6};

	addr_from_v6(&a, ctx);
	return decide_sock(ctx, &a, true);
}

SEC("cgroup/sendmsg4")
int handle_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct attempt a = {.hook = MOAT_HOOK_SENDMSG4};

	addr_from_v4(&a, ctx->user_ip4);
	return decide_sock(ctx, &a, false);
}

SEC("cgroup/sendmsg6")
int handle_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct attempt a = {.hook = MOAT_HOOK_SENDMSG6};

	addr_from_v6(&a, ctx);
	return decide_sock(ctx, &a, false);
}

/* ---- packets ---------------------------------------------------------------- */

/* Reads the destination of an outgoing IPv4/IPv6 packet (the skb starts at
 * the network header). Returns false for anything else. */
/* The common case read in place: an IPv4 header and its ports in the
 * skb's linear part, as every locally built datagram has them. */
static __always_inline bool parse_ipv4_direct(struct __sk_buff *skb, struct attempt *a,
					      bool *fragment)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data;
	__u16 *ports;

	if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5)
		return false;
	addr_from_v4(a, ip->daddr);
	a->proto = ip->protocol;
	*fragment = (ip->frag_off & bpf_htons(0x1fff)) != 0;
	if (*fragment || (a->proto != PROTO_TCP && a->proto != PROTO_UDP))
		return true;
	ports = (void *)(ip + 1);
	if ((void *)(ports + 2) > end)
		return false;
	a->port = bpf_ntohs(ports[1]);
	return true;
}

static __always_inline bool parse_packet(struct __sk_buff *skb, struct attempt *a, bool *fragment)
{
	__u8 first;
	__u16 l4_ports[2];
	__u32 l4_off;

	*fragment = false;
	if (parse_ipv4_direct(skb, a, fragment))
		return true;
	if (bpf_skb_load_bytes(skb, 0, &first, 1) < 0)
		return false;
	if ((first >> 4) == 4) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
			return false;
		addr_from_v4(a, ip.daddr);
		a->proto = ip.protocol;
		/* Later fragments carry no ports: decided by the first. */
		if (ip.frag_off & bpf_htons(0x1fff)) {
			*fragment = true;
			return true;
		}
		l4_off = (__u32)ip.ihl * 4;
	} else if ((first >> 4) == 6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return false;
		__builtin_memcpy(a->addr, &ip6.daddr, sizeof(a->addr));
		/* Extension headers are not walked: such a packet matches
		 * "any" rules only, by its first next-header value. */
		a->proto = ip6.nexthdr;
		l4_off = sizeof(ip6);
	} else {
		return false;
	}
	if (a->proto == PROTO_TCP || a->proto == PROTO_UDP) {
		if (bpf_skb_load_bytes(skb, l4_off, l4_ports, sizeof(l4_ports)) < 0)
			return false;
		a->port = bpf_ntohs(l4_ports[1]);
	}
	return true;
}

static __always_inline bool same_destination(const struct moat_sock_verdict *v, const struct attempt *a,
					     bool fragment)
{
	if (v->addr[0] != a->addr[0] || v->addr[1] != a->addr[1] || v->addr[2] != a->addr[2] ||
	    v->addr[3] != a->addr[3])
		return false;
	return fragment || (v->proto == a->proto && v->port == a->port);
}

/* Sockets whose packets answer a peer that reached the sandbox first: a
 * listener (SYN-ACK), a request sock, a TIME_WAIT sock of a past connection.
 * The last two are TCP-only minisocks, whose protocol field is unreadable. */
static __always_inline bool is_reply_minisock(struct bpf_sock *sk)
{
	__u32 state = sk->state;

	return state == TCP_NEW_SYN_RECV_STATE || state == TCP_TIME_WAIT_STATE;
}

/* A connected socket's peer, from the socket itself. */
static __always_inline void sock_peer(const struct bpf_sock *sk, struct attempt *a)
{
	if (sk->family == 2 /* AF_INET */) {
		addr_from_v4(a, sk->dst_ip4);
	} else {
		a->addr[0] = sk->dst_ip6[0];
		a->addr[1] = sk->dst_ip6[1];
		a->addr[2] = sk->dst_ip6[2];
		a->addr[3] = sk->dst_ip6[3];
	}
	a->port = bpf_ntohs(sk->dst_port);
}

SEC("cgroup_skb/egress")
int handle_egress(struct __sk_buff *skb)
{
	struct attempt a = {.hook = MOAT_HOOK_EGRESS};
	struct moat_sock_verdict *v = NULL;
	struct moat_sandbox_cfg *cfg = NULL;
	struct moat_net_counters *c;
	struct bpf_sock *sk, *full = NULL;
	bool fragment, own;

	c = counters();
	if (c) {
		c->packets_out++;
		c->bytes_out += skb->len;
	}
	if (skb->ifindex == LOOPBACK_IFINDEX)
		return 1;
	sk = skb->sk;
	if (sk) {
		full = bpf_sk_fullsock(sk);
		if (!full)
			return is_reply_minisock(sk);
		if (full->protocol == PROTO_TCP && full->state == TCP_LISTEN_STATE)
			return 1;
		v = bpf_sk_storage_get(&moat_verdicts, full, 0, 0);
		if (v && v->verdict == MOAT_VERDICT_INBOUND)
			return 1;
		/* Every other TCP socket that sends was connected by connect(2)
		 * (or TCP Fast Open), which connect4/6 decided: it sends only to
		 * the peer they allowed. */
		if (full->protocol == PROTO_TCP) {
			sock_peer(full, &a);
			account_dest(bpf_skb_cgroup_id(skb), a.addr, a.port, PROTO_TCP, skb->len, 1);
			return 1;
		}
	}
	if (!parse_packet(skb, &a, &fragment))
		goto deny;
	if (v && v->verdict == MOAT_VERDICT_ALLOWED && same_destination(v, &a, fragment)) {
		account_pending(v, skb->len);
		return 1;
	}
	/* Not before the cache: a lookup per datagram of every UDP flow. */
	a.cgroup_id = bpf_skb_cgroup_id(skb);
	cfg = bpf_map_lookup_elem(&moat_sandboxes, &a.cgroup_id);
	own = cfg && is_own(&a, cfg);
	if (own || (cfg && !fragment && rules_allow(&a))) {
		remember(full, &a, MOAT_VERDICT_ALLOWED);
		account_dest(a.cgroup_id, a.addr, a.port, a.proto, skb->len, 1);
		if (!own)
			report_allowed(&a, cfg, c);
		return 1;
	}
deny:
	if (!a.cgroup_id) /* a packet that did not parse */
		a.cgroup_id = bpf_skb_cgroup_id(skb);
	if (!cfg)
		cfg = bpf_map_lookup_elem(&moat_sandboxes, &a.cgroup_id);
	if (c)
		c->packets_denied++;
	report(&a, cfg, c, false);
	return 0;
}

SEC("cgroup_skb/ingress")
int handle_ingress(struct __sk_buff *skb)
{
	struct moat_net_counters *c = counters();

	if (c) {
		c->packets_in++;
		c->bytes_in += skb->len;
	}
	return 1;
}

SEC("sockops")
int handle_sockops(struct bpf_sock_ops *ops)
{
	struct moat_sock_verdict *v;
	struct bpf_sock *sk;

	if (ops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	sk = ops->sk;
	if (!sk)
		return 1;
	v = bpf_sk_storage_get(&moat_verdicts, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (v)
		v->verdict = MOAT_VERDICT_INBOUND;
	return 1;
}

/* A closing socket's last datagrams are still counted. */
SEC("cgroup/sock_release")
int handle_release(struct bpf_sock *sk)
{
	struct moat_sock_verdict *v;

	if (sk->protocol == PROTO_TCP)
		return 1; /* counted per packet: nothing pending */
	v = bpf_sk_storage_get(&moat_verdicts, sk, 0, 0);
	if (v)
		flush_pending(v);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
