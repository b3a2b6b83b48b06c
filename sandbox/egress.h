/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Zero-trust egress, the user side of bpf/egress.bpf.c: a sandbox's
 * [network] egress rules resolved into networks, compiled into entries of
 * the shared rule map (keyed by the sandbox's cgroup id; see struct
 * moat_rule_key in bpf/moat_bpf.h for the matching semantics), and the
 * programs attached to the sandbox's cgroup2 directory with links.
 *
 * The programs and maps are loaded once per host and pinned (sandbox/bpf.h);
 * a launch only inserts its entries and creates its links. Links are held
 * by the supervisor: they detach when it exits, even when it is killed.
 */
#ifndef MOAT_EGRESS_H
#define MOAT_EGRESS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "error.h"
#include "moat_bpf.h"
#include "policy.h"

/* One allowed destination network with one port rule; addresses are IPv6
 * or v4-mapped (an IPv4 /N is ::ffff:a.b.c.d/(96+N)), prefix in 0..128. */
struct moat_egress_net {
	uint32_t addr[4]; /* network order */
	uint8_t prefix;
	struct moat_port_rule port;
};

struct moat_egress;

/*
 * Resolves the policy's rules: literal networks as they are, "dns" to the
 * nameservers of resolv_conf (udp and tcp 53), hostnames to all their
 * addresses (once, now), model:NAME to that running sandbox's address.
 * Then compiles them. Runs before anything is created, so a rule that
 * cannot be resolved fails the launch cleanly. *ret is owned by the caller.
 */
int moat_egress_prepare(const struct moat_policy *p, const char *resolv_conf,
			struct moat_egress **ret, struct moat_error *err);

/* The sandbox's networks after resolution, for status and the audit log. */
size_t moat_egress_n_rules(const struct moat_egress *eg);

/*
 * Loads or reuses the pinned programs, inserts the sandbox's entries keyed
 * by cgroup_id (the id of the cgroup2 directory cgroup_fd; its own veth
 * address own4, network order, 0 without one) and attaches every program
 * to cgroup_fd. Call before any task joins the cgroup: the sandbox never
 * runs unenforced.
 */
int moat_egress_attach(struct moat_egress *eg, int cgroup_fd, uint64_t cgroup_id, uint32_t own4,
		       struct moat_error *err);

/*
 * Maps the sandbox's event ring (after moat_egress_attach) for the calls
 * below. Events wait in the ring until then, so it may come after the
 * sandbox started: the supervisor maps it after cloning init, which would
 * otherwise inherit the 512 KiB mapping for its whole life. Idempotent.
 */
int moat_egress_events_open(struct moat_egress *eg, struct moat_error *err);

/* Denials, and with audit = full what the rules allowed: poll this fd for
 * POLLIN, then consume, which calls fn for each event without blocking.
 * Before moat_egress_events_open the fd is -1 and there is nothing to consume. */
int moat_egress_events_fd(const struct moat_egress *eg);
typedef void (*moat_egress_event_fn)(const struct moat_net_event *e, void *data);
int moat_egress_events_consume(struct moat_egress *eg, moat_egress_event_fn fn, void *data);

/* The sandbox's counters summed over CPUs. */
int moat_egress_counters(const struct moat_egress *eg, struct moat_net_counters *ret,
			 struct moat_error *err);

/* For readers in other processes (status, metrics): a sandbox's counters
 * from the pinned maps. ENOENT when no egress programs are loaded. */
int moat_egress_read(uint64_t cgroup_id, struct moat_net_counters *ret, struct moat_error *err);

/* One destination of allowed outbound traffic and what went there. */
struct moat_egress_dest {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; v4 in the first 4 bytes */
	uint8_t proto;	  /* IPPROTO_* */
	uint16_t port;	  /* 0 when the protocol has none */
	uint64_t bytes, packets;
};

/* The max destinations with the most bytes, most first, into ret. */
int moat_egress_top_destinations(uint64_t cgroup_id, struct moat_egress_dest *ret, size_t max,
				 size_t *ret_n, struct moat_error *err);

/* Detaches the programs and deletes every entry of the sandbox. NULL ok. */
void moat_egress_free(struct moat_egress *eg);

/* For moat gc, after a supervisor died: deletes the entries keyed by cgroup_id. */
int moat_egress_collect(uint64_t cgroup_id, struct moat_error *err);

/*
 * Compiles networks into rule map entries (pure; exported for tests): one
 * entry per distinct network, holding its own port rules and those of
 * every shorter network containing it, so that the longest match allows
 * exactly what the union of the matching rules allows. Entries have
 * cgroup_id 0 (set at attach). *ret_keys and *ret_values are owned by the
 * caller. Fails when more than MOAT_RULE_PORTS_MAX port rules apply to one
 * network.
 */
int moat_egress_compile(const struct moat_egress_net *nets, size_t n,
			struct moat_rule_key **ret_keys, struct moat_rule_value **ret_values,
			size_t *ret_n, struct moat_error *err);

/* Names for the audit log and status: an event's hook ("connect4") and an
 * IP protocol ("tcp", or the number written into buf). */
const char *moat_egress_hook_name(uint8_t hook);
const char *moat_egress_proto_name(uint8_t proto, char *buf, size_t len);

#endif
