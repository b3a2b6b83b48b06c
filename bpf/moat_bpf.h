/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the kernel side (bpf/NAME.bpf.c) and the user side (sandbox/bpf.c,
 * sandbox/egress.c) share: fixed-width structs, enums and limits only.
 * Included by BPF C after vmlinux.h and by user space after <linux/types.h>.
 */
#ifndef MOAT_BPF_H
#define MOAT_BPF_H

/* Port rules one destination network may carry, after the rules of every
 * network that contains it have been merged in (see struct moat_rule_key). */
#define MOAT_RULE_PORTS_MAX 16

/* Map capacities. LPM tries allocate per entry, so the cap costs nothing. */
#define MOAT_RULES_MAX	   (1U << 20) /* all sandboxes' destination networks */
#define MOAT_SANDBOXES_MAX 4096
#define MOAT_EVENTS_BYTES  (256 * 1024) /* one ring buffer per running sandbox */
#define MOAT_RINGS_MAX	   1024	/* ring slots: sandboxes with egress running at once */

enum moat_proto_match {
	MOAT_MATCH_ANY = 0,
	MOAT_MATCH_TCP = 6,	/* IPPROTO_TCP */
	MOAT_MATCH_UDP = 17,	/* IPPROTO_UDP */
	MOAT_MATCH_ICMP = 1,	/* IPPROTO_ICMP; also matches ICMPv6 */
};

/*
 * The rule map: an LPM trie keyed by (sandbox, destination).
 *
 * The sandbox's cgroup id comes first and is always matched whole (its 64
 * bits are part of every prefix), so a lookup never sees another sandbox's
 * rules. Addresses are IPv6; an IPv4 network a.b.c.d/N is stored as
 * ::ffff:a.b.c.d/(96+N), so an AF_INET6 socket sending to the v4-mapped
 * form ::ffff:10.0.0.1 is decided by the IPv4 rules, and 0.0.0.0/0 matches
 * IPv4 destinations only.
 *
 * Longest prefix wins, and the value of every entry already holds the port
 * rules of every shorter entry that contains it (merged when loading): with
 * "10.0.0.0/8 tcp/443" and "10.1.0.0/16 udp/53", 10.1.2.3 allows tcp/443
 * and udp/53, and 10.2.0.1 only tcp/443. A destination with no entry is
 * denied.
 */
struct moat_rule_key {
	__u32 prefixlen;    /* 64 + address bits */
	__u32 cgroup_id[2]; /* the u64 id's bytes as in memory (4-aligned: BPF stack rule) */
	__u32 addr[4];	    /* network order */
};

#define MOAT_RULE_PREFIX_BASE 64 /* the cgroup id's bits */

struct moat_port_rule {
	__u8 proto; /* enum moat_proto_match */
	__u8 pad;
	__u16 lo, hi; /* host order; 0-65535 for every port */
};

struct moat_rule_value {
	__u32 n;
	struct moat_port_rule r[MOAT_RULE_PORTS_MAX];
};

/* Per sandbox, keyed by its cgroup2 id. No entry: every attempt is denied. */
struct moat_sandbox_cfg {
	__u32 addr4; /* its own veth address (network order), 0 without veth */
	__u32 ring;  /* its slot in moat_events: the ring buffer its supervisor reads */
	__u32 flags; /* MOAT_CFG_* */
	__u32 pad;
};

/* audit = full: what the rules allowed is reported too, once per decision (a
 * connect(2); a datagram socket's or raw socket's first send to a
 * destination), never for the sandbox's own addresses. */
#define MOAT_CFG_AUDIT_ALLOWED 1u

/* Per sandbox and CPU, summed by user space. */
struct moat_net_counters {
	__u64 packets_out, bytes_out;
	__u64 packets_in, bytes_in;
	__u64 connect_allowed, connect_denied; /* connect(2), incl. TCP Fast Open */
	__u64 sendmsg_allowed, sendmsg_denied; /* unconnected datagram sends */
	__u64 packets_denied;		       /* dropped by the packet filter */
	__u64 events_lost;		       /* denials the ring buffer had no room for */
	__u64 allowed_lost;		       /* allowed events it had no room for */
};

enum moat_hook {
	MOAT_HOOK_CONNECT4 = 1,
	MOAT_HOOK_CONNECT6,
	MOAT_HOOK_SENDMSG4,
	MOAT_HOOK_SENDMSG6,
	MOAT_HOOK_EGRESS,
};

/* One attempt the programs refused or (MOAT_CFG_AUDIT_ALLOWED) allowed, in
 * the sandbox's ring buffer. */
struct moat_net_event {
	__u64 boot_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;
	__u32 pid;     /* tgid in the initial PID namespace; 0 when not in task context */
	__u8 hook;     /* enum moat_hook */
	__u8 proto;    /* IPPROTO_* */
	__u16 port;    /* host order */
	__u32 addr[4]; /* network order; IPv6 or v4-mapped */
	char comm[16];
	__u8 allowed;  /* 0: refused */
	__u8 pad[7];
};

/*
 * Bytes and packets per (sandbox, destination, protocol, port) of allowed
 * outbound traffic, for the top destinations in `moat status`. An LRU map:
 * when it is full, the destinations least recently sent to make room.
 */
#define MOAT_DESTS_MAX 65536

struct moat_dest_key {
	__u64 cgroup_id;
	__u32 addr[4]; /* network order; IPv6 or v4-mapped */
	__u16 port;    /* host order, 0 when the protocol has none */
	__u8 proto;    /* IPPROTO_* */
	__u8 pad;
	__u32 pad2;    /* explicit: hashed with the key, so it must be zero */
};

struct moat_dest_value {
	__u64 bytes, packets;
};

/* Socket-local verdict cache: a connected socket is decided once. */
enum moat_verdict {
	MOAT_VERDICT_NONE = 0,
	MOAT_VERDICT_ALLOWED, /* the last connect() or sendmsg() to addr/port/proto passed */
	MOAT_VERDICT_INBOUND, /* accepted: replies only to the peer that connected in */
};

struct moat_sock_verdict {
	__u32 addr[4]; /* network order */
	__u16 port;
	__u8 proto;
	__u8 verdict;
	__u64 cgroup_id; /* the sandbox the socket belongs to */
	/* Datagrams sent to addr/port and not yet added to moat_dests, as
	 * count << MOAT_PENDING_SHIFT | bytes: one atomic add adds both. */
	__u64 pending;
};

/* A socket's datagrams to one destination reach moat_dests in batches of
 * this many (and when it sends elsewhere or closes): a map update per
 * datagram would be most of the filter's cost. */
#define MOAT_PENDING_SHIFT 48
#define MOAT_DEST_BATCH	   64

/* ---- syscall accounting (bpf/syscount.bpf.c, sandbox/syscount.c) ---------- */

#define MOAT_SYSCALLS_MAX 512 /* syscall numbers counted: 0..511 */

/*
 * One sandbox's syscalls on one CPU, indexed by the syscall number the
 * sys_enter tracepoint reports (the native table; see bpf/syscount.bpf.c
 * for compat tasks). 4 KiB per CPU per sandbox; user space sums the CPUs.
 * The counters of all sandboxes are one per-CPU array, a sandbox's slot
 * the index into it: at most MOAT_SC_SLOTS_MAX, fewer on hosts with many
 * CPUs (sandbox/syscount.c sizes it when loading).
 */
struct moat_syscounts {
	__u64 n[MOAT_SYSCALLS_MAX];
};

#define MOAT_SC_SLOTS_MAX 1024

/*
 * The index: which cgroup ids are registered, and their slots. The
 * sys_enter program runs for every syscall of every task on the host, so
 * finding a task's sandbox, or that it has none, takes no lock and no map
 * lookup call (array lookups are inlined): the index is an array of
 * buckets of MOAT_SC_WAYS entries (one cache line), and cgroup id C can
 * only be in bucket
 *
 *	(C * MOAT_SC_HASH_MUL) >> (64 - MOAT_SC_BUCKET_BITS)
 *
 * in any of its entries; a lookup compares all of them. With 1024 sandboxes
 * in 4096 buckets a full bucket is rare (about 1 registration in 10^4 at
 * that load); registering there fails with ENOSPC.
 *
 * An entry whose cgroup_id is 0 is free (no cgroup has id 0: the root's is
 * 1). User space writes the index through mmap under the BPF load lock: the
 * slot first, then the id, so a lookup that sees the id sees its slot.
 *
 * struct moat_sc_entry, MOAT_SC_WAYS and MOAT_SC_HASH_MUL are a contract
 * with older pinned copies, which gc still reads: the sizes are read from
 * the maps, these are not.
 */
#define MOAT_SC_BUCKET_BITS 12
#define MOAT_SC_BUCKETS	    (1U << MOAT_SC_BUCKET_BITS)
#define MOAT_SC_WAYS	    4
#define MOAT_SC_HASH_MUL    0x9e3779b97f4a7c15ULL /* 2^64 / the golden ratio */

struct moat_sc_entry {
	__u64 cgroup_id; /* 0: free */
	__u32 slot;	 /* of the sandbox's counters */
	__u32 pad;
};

#endif
