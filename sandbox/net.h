/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sandbox's network: loopback only (mode = none), or a veth pair (mode =
 * veth) whose host end "mt-..." lives in the launcher's namespace and whose
 * peer "eth0" lives in the sandbox's. Each pair is a point-to-point /30 taken
 * from a pool: the host end holds the first address and is the sandbox's
 * default gateway, eth0 holds the second. Sandboxes reach each other only by
 * being routed through the host, where the egress policy decides.
 *
 * Address leases are files under MOAT_NET_LEASE_DIR named by the sandbox
 * address ("/run/moat/.net/10.208.0.2", in sandbox/lease.c) and holding the owner's sandbox name.
 * A lease whose owner is not alive (moat_state_alive()) is stale: a launch
 * that needs it takes it over, and `moat gc` removes it.
 * Every link and route is made through rtnetlink (libnl), never by running ip.
 */
#ifndef MOAT_NET_H
#define MOAT_NET_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "parse.h"
#include "state.h"

#define MOAT_NET_POOL_DEFAULT	"10.208.0.0/16"
#define MOAT_NET_LEASE_DIR	MOAT_RUN_DIR "/.net" /* a dot: never a sandbox name */
#define MOAT_NET_IFNAME_PREFIX	"mt-" /* every moat host veth; nat.c matches "mt-*" */
#define MOAT_NET_SANDBOX_IFNAME "eth0"
#define MOAT_NET_LEASE_PREFIX	30

/* One /30 held by one sandbox. Plain data: copy it freely (the child gets it
 * across fork); only moat_net_lease_release() gives the address back. */
struct moat_net_lease {
	struct in_addr host;	      /* host end of the veth, e.g. 10.208.0.1 */
	struct in_addr sandbox;	      /* sandbox end (eth0), e.g. 10.208.0.2 */
	uint8_t prefix;		      /* MOAT_NET_LEASE_PREFIX */
	char host_ifname[IFNAMSIZ];   /* moat_net_host_ifname(name) */
	char name[MOAT_NAME_MAX + 1]; /* the owner sandbox, as written in the file */
	char path[128];		      /* the lease file, "" when none is held */
};

/* In the sandbox's new network namespace: brings the loopback link up
 * (rtnetlink through libnl), the only link a mode = none sandbox has. */
int moat_net_loopback_up(struct moat_error *err);

/*
 * The host end's name for a sandbox name: "mt-NAME" for names of up to 11
 * characters; longer names give exactly 15 characters, "mt-" + the first 3
 * characters + "-" + 8 hex digits of a 32-bit FNV-1a hash of the whole name
 * ("mt-inf-1a2b3c4d"). The two forms differ in length, so a short name can
 * never spell a long name's result; two long names with the same first 3
 * characters collide with probability 2^-32, and a collision fails the launch
 * with EEXIST rather than sharing a link. Always starts with "mt-", always
 * shorter than IFNAMSIZ, and a valid interface name for every name that
 * moat_name_valid() accepts. Pure.
 */
void moat_net_host_ifname(const char *sandbox_name, char buf[IFNAMSIZ]);

/* Number of /30 slots in pool: 2^(30 - prefix), or 0 when pool is not an
 * IPv4 network of prefix 0..30 (nothing can be leased from it). Pure. */
uint32_t moat_net_pool_slots(const struct moat_cidr *pool);

/* The i-th /30 of pool: its first address (the host end) and second (the
 * sandbox). Returns 0, or -1 when i is out of range or pool unusable. Pure. */
int moat_net_pool_slot(const struct moat_cidr *pool, uint32_t i, struct in_addr *ret_host,
		       struct in_addr *ret_sandbox);

/* The slot probing starts at for sandbox_name (a hash of it modulo n_slots),
 * so a relaunched sandbox usually gets its old address back. Pure. */
uint32_t moat_net_pool_start(const char *sandbox_name, uint32_t n_slots);

/*
 * Leases a free /30 of pool for sandbox_name and fills *ret (addresses,
 * host_ifname, lease path); the caller owns the lease and gives it back with
 * moat_net_lease_release(). The caller must already hold the sandbox's name
 * (moat_state_claim()), or its own lease would look stale to other launchers.
 *
 * Probing starts at moat_net_pool_start() and skips every /30 holding an
 * address configured on an interface of the caller's namespace. A lease is
 * made by link(2)ing a fully written temporary file to the address's name
 * (atomic, fails with EEXIST when taken, and readers never see a half-written
 * file). A lease whose owner is dead, or is sandbox_name itself (a previous
 * run that was never collected: names are unique among live sandboxes), is
 * taken over under an exclusive flock by rename(2) of the temporary file over
 * it; the locker checks afterwards that the path still names the inode it
 * locked, so of two launchers finding the same stale lease one renames and the
 * other finds a live owner. EADDRNOTAVAIL when every slot is taken.
 */
int moat_net_lease_acquire(const char *sandbox_name, const struct moat_cidr *pool,
			   struct moat_net_lease *ret, struct moat_error *err);

/* Removes the lease file if it still names lease->name as its owner (it may
 * have been taken over after we were presumed dead) and clears lease->path.
 * Best effort and idempotent: for teardown paths that cannot report. */
void moat_net_lease_release(struct moat_net_lease *lease);

/*
 * For collecting a dead sandbox (moat gc, or a launch claiming its name):
 * removes every lease, and the temporary lease, that names sandbox_name as
 * its owner, whatever address its state recorded (it may have died before
 * recording one). The caller holds the name (a dead one's, under the global
 * lock). Returns 0, or -1 with err filled.
 */
int moat_net_lease_release_owner(const char *sandbox_name, struct moat_error *err);

/*
 * For moat gc, with the global lock held (moat_state_lock_global()), so that
 * no name is claimed meanwhile: removes every lease and temporary lease whose
 * owner is not alive (moat_state_alive()), such as those of a sandbox whose
 * state directory is gone. Files of other shapes are left alone. Returns 0,
 * or -1 with err filled.
 */
int moat_net_lease_collect(struct moat_error *err);

/* For moat gc once no sandbox runs: removes the lease directory when it is
 * empty. A launch leasing meanwhile makes it again. Returns 0, or -1 with err
 * filled. */
int moat_net_lease_dir_remove(struct moat_error *err);

/* The IPv4 addresses (local and peer) configured on any interface of the
 * caller's namespace, host byte order, in a malloc'd array for the caller. A
 * /30 holding one of them would route to two places at once. */
int moat_net_host_addrs(uint32_t **ret, size_t *ret_n, struct moat_error *err);

/*
 * In the caller's (the host's) namespace: creates the veth pair, the host end
 * lease->host_ifname and its peer "eth0" made directly inside the network
 * namespace of netns_pid (so the peer never appears on the host). The host end
 * gets forwarding = 1 (this interface only: sandbox traffic may be routed, the
 * host's ip_forward stays as it is), rp_filter = 1 (a sandbox cannot send with
 * another sandbox's source address), IPv6 off (the pair is IPv4 only; a link-
 * local address would be an unplanned path to host services bound to ::), then
 * lease->host/prefix, then up. On failure the pair is deleted; EEXIST when a
 * link of that name exists already (a leftover for moat gc, or a name clash),
 * ESRCH when netns_pid is gone.
 */
int moat_net_veth_create(const struct moat_net_lease *lease, pid_t netns_pid,
			 struct moat_error *err);

/* Inside the sandbox's namespace, as root there: eth0 gets lease->sandbox/
 * prefix and is brought up, and the default route goes via lease->host. */
int moat_net_veth_configure_inside(const struct moat_net_lease *lease, struct moat_error *err);

/* Deletes the host end (the kernel deletes its peer with it). A missing link
 * is success; a name without the "mt-" prefix, or a link that is not a veth,
 * is refused (EINVAL): gc passes names read from state files. Idempotent. */
int moat_net_veth_delete(const char *host_ifname, struct moat_error *err);

#endif
