/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nat = yes: a sandbox's traffic is masqueraded behind the host's address when
 * it leaves through a non-moat interface. Traffic between sandboxes (out of
 * an "mt-" link) keeps its source, so the egress policy sees who is talking.
 *
 * All of it is one nftables table, driven through libnftables (nothing is
 * printed: output and errors are buffered and turned into moat_error):
 *
 *   table ip moat {
 *           set nat_sources { type ipv4_addr; }
 *           chain postrouting {
 *                   type nat hook postrouting priority srcnat; policy accept;
 *                   ip saddr @nat_sources oifname != "mt-*" masquerade
 *           }
 *   }
 *
 * A sandbox is an element of the set: adding and removing one never touches
 * the rule, so there are no rule handles to track. Every change runs as one
 * nftables transaction under an flock on MOAT_NAT_LOCK, so that a launch
 * adding its address and a gc dropping the table as unused cannot interleave.
 *
 * The masqueraded replies come back in through the uplink, and IPv4 forwards
 * a packet only when its incoming interface has forwarding on: moat turns it
 * on for its mt- links only, so for replies to reach the sandbox the uplink's
 * net.ipv4.conf.IF.forwarding (or the host's ip_forward) must be 1 — a host
 * setting for the operator, not something moat changes behind their back.
 */
#ifndef MOAT_NAT_H
#define MOAT_NAT_H

#include <netinet/in.h>

#include "error.h"
#include "state.h"

#define MOAT_NAT_TABLE "moat" /* family ip */
#define MOAT_NAT_SET   "nat_sources"
#define MOAT_NAT_CHAIN "postrouting"
#define MOAT_NAT_LOCK  MOAT_RUN_DIR "/.nat.lock"

/* Creates the table, set, chain and rule when missing (the rule is replaced
 * in the same transaction, so there is always exactly one) and adds
 * sandbox_addr to the set. Adding an address already there is success. */
int moat_nat_add(const struct in_addr *sandbox_addr, struct moat_error *err);

/* Removes sandbox_addr from the set. A missing element, set or table is
 * success; nothing is created. Idempotent, for teardown and moat gc. */
int moat_nat_remove(const struct in_addr *sandbox_addr, struct moat_error *err);

/* For moat gc: drops the whole table when its set is empty. Returns 1 when
 * dropped, 0 when the table is absent or still in use, -1 with err filled. */
int moat_nat_cleanup_if_unused(struct moat_error *err);

/* Unmaps libnftables and the libraries it pulled in (over 1 MiB resident in
 * a supervisor) until the next call above loads it again, for a process that
 * will not need it for a while: a supervisor once its NAT element is added.
 * Idempotent. */
void moat_nat_unload(void);

#endif
