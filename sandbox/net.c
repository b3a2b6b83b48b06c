// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "net.h"
#include "util.h"

/* Every network namespace registers its loopback first, as ifindex 1
 * (LOOPBACK_IFINDEX): one request brings it up, with no lookup before. */
#define LOOPBACK_IFINDEX 1

int moat_net_loopback_up(struct moat_error *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *lo = rtnl_link_alloc(), *change = rtnl_link_alloc();
	int r = -NLE_NOMEM;

	if (!sk || !lo || !change) {
		moat_error_set(err, ENOMEM, "bring lo up");
		goto out;
	}
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		moat_error_set(err, 0, "netlink connect: %s", nl_geterror(r));
		goto out;
	}
	rtnl_link_set_ifindex(lo, LOOPBACK_IFINDEX);
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, lo, change, 0);
	if (r < 0)
		moat_error_set(err, 0, "bring lo up: %s", nl_geterror(r));
out:
	rtnl_link_put(change);
	rtnl_link_put(lo);
	nl_socket_free(sk);
	return r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------
 * Names and the address pool (pure)
 */

/* FNV-1a: stable across builds and hosts, so a name keeps its interface name
 * and its first-choice address; not meant to resist chosen collisions. */
static uint32_t fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* Names up to this long are used as they are: "mt-" + 11 = 14 characters,
 * one short of the 15 of the hashed form, so the two forms cannot meet. */
#define IFNAME_PLAIN_MAX (IFNAMSIZ - 1 - (sizeof(MOAT_NET_IFNAME_PREFIX) - 1) - 1)

void moat_net_host_ifname(const char *sandbox_name, char buf[IFNAMSIZ])
{
	if (strlen(sandbox_name) <= IFNAME_PLAIN_MAX)
		snprintf(buf, IFNAMSIZ, MOAT_NET_IFNAME_PREFIX "%s", sandbox_name);
	else
		snprintf(buf, IFNAMSIZ, MOAT_NET_IFNAME_PREFIX "%.3s-%08x", sandbox_name,
			 fnv1a32(sandbox_name));
}

uint32_t moat_net_pool_slots(const struct moat_cidr *pool)
{
	if (pool->family != AF_INET || pool->prefix > MOAT_NET_LEASE_PREFIX)
		return 0;
	return UINT32_C(1) << (MOAT_NET_LEASE_PREFIX - pool->prefix);
}

int moat_net_pool_slot(const struct moat_cidr *pool, uint32_t i, struct in_addr *ret_host,
		       struct in_addr *ret_sandbox)
{
	uint32_t net, base;

	if (i >= moat_net_pool_slots(pool))
		return -1;
	memcpy(&net, pool->addr, sizeof(net));
	base = ntohl(net) + i * 4;
	ret_host->s_addr = htonl(base + 1);
	ret_sandbox->s_addr = htonl(base + 2);
	return 0;
}

uint32_t moat_net_pool_start(const char *sandbox_name, uint32_t n_slots)
{
	return n_slots ? fnv1a32(sandbox_name) % n_slots : 0;
}

/* ---------------------------------------------------------------------------
 * libnl helpers: cleanup, and libnl's own error codes turned into errno so
 * messages read "create veth mt-web1: File exists" like every other layer.
 */

static void sock_freep(struct nl_sock **sk)
{
	nl_socket_free(*sk);
}

static void link_putp(struct rtnl_link **link)
{
	rtnl_link_put(*link);
}

static void addr_putp(struct rtnl_addr **addr)
{
	rtnl_addr_put(*addr);
}

static void nladdr_putp(struct nl_addr **addr)
{
	nl_addr_put(*addr);
}

static void route_putp(struct rtnl_route **route)
{
	rtnl_route_put(*route);
}

static void cache_freep(struct nl_cache **cache)
{
	nl_cache_free(*cache);
}

static int nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_EXIST:
		return EEXIST;
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_PERM:
		return EPERM;
	case NLE_NOACCESS:
		return EACCES;
	case NLE_NODEV:
		return ENODEV;
	case NLE_OBJ_NOTFOUND:
		return ENOENT;
	case NLE_INVAL:
		return EINVAL;
	case NLE_BUSY:
		return EBUSY;
	case NLE_RANGE:
		return ERANGE;
	case NLE_NOADDR:
		return EADDRNOTAVAIL;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return EAFNOSUPPORT;
	default:
		return 0;
	}
}

/* As moat_error_set() for a negative libnl return value. */
static int __attribute__((format(printf, 3, 4)))
nl_fail(struct moat_error *err, int nlerr, const char *fmt, ...)
{
	char what[MOAT_ERROR_MSG_MAX];
	int e = nl_errno(nlerr);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (e)
		return moat_error_set(err, e, "%s", what);
	return moat_error_set(err, 0, "%s: %s", what, nl_geterror(nlerr));
}

static bool nl_missing(int nlerr)
{
	return nlerr == -NLE_NODEV || nlerr == -NLE_OBJ_NOTFOUND;
}

static int nl_open(struct nl_sock **ret, struct moat_error *err)
{
	_cleanup_(sock_freep) struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return moat_error_set(err, ENOMEM, "netlink socket");
	/* libnl creates the socket with SOCK_CLOEXEC. */
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return nl_fail(err, r, "netlink connect");
	*ret = TAKE_PTR(sk);
	return 0;
}

static int nl_addr_v4(const struct in_addr *a, uint8_t prefix, struct nl_addr **ret,
		      struct moat_error *err)
{
	struct nl_addr *addr = nl_addr_build(AF_INET, a, sizeof(*a));

	if (!addr)
		return moat_error_set(err, ENOMEM, "netlink address");
	nl_addr_set_prefixlen(addr, prefix);
	*ret = addr;
	return 0;
}

static int link_get(struct nl_sock *sk, const char *ifname, struct rtnl_link **ret,
		    struct moat_error *err)
{
	int r = rtnl_link_get_kernel(sk, 0, ifname, ret);

	if (r < 0)
		return nl_fail(err, r, "find link %s", ifname);
	return 0;
}

static int link_up(struct nl_sock *sk, struct rtnl_link *link, struct moat_error *err)
{
	_cleanup_(link_putp) struct rtnl_link *change = rtnl_link_alloc();
	int r;

	if (!change)
		return moat_error_set(err, ENOMEM, "bring %s up", rtnl_link_get_name(link));
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, link, change, 0);
	if (r < 0)
		return nl_fail(err, r, "bring %s up", rtnl_link_get_name(link));
	return 0;
}

static int addr_add(struct nl_sock *sk, struct rtnl_link *link, const struct in_addr *a,
		    uint8_t prefix, struct moat_error *err)
{
	_cleanup_(addr_putp) struct rtnl_addr *addr = rtnl_addr_alloc();
	_cleanup_(nladdr_putp) struct nl_addr *local = NULL;
	char text[INET_ADDRSTRLEN];
	int r;

	inet_ntop(AF_INET, a, text, sizeof(text));
	if (!addr || nl_addr_v4(a, prefix, &local, err) < 0)
		return moat_error_set(err, ENOMEM, "add address %s/%u to %s", text, prefix,
				      rtnl_link_get_name(link));
	rtnl_addr_set_ifindex(addr, rtnl_link_get_ifindex(link));
	rtnl_addr_set_family(addr, AF_INET);
	r = rtnl_addr_set_local(addr, local); /* takes its own reference */
	if (r >= 0)
		rtnl_addr_set_prefixlen(addr, prefix);
	if (r >= 0)
		r = rtnl_addr_add(sk, addr, NLM_F_EXCL);
	if (r < 0)
		return nl_fail(err, r, "add address %s/%u to %s", text, prefix,
			       rtnl_link_get_name(link));
	return 0;
}

static int route_add_default(struct nl_sock *sk, struct rtnl_link *link, const struct in_addr *gw,
			     struct moat_error *err)
{
	static const struct in_addr any = {.s_addr = INADDR_ANY};
	_cleanup_(route_putp) struct rtnl_route *route = rtnl_route_alloc();
	_cleanup_(nladdr_putp) struct nl_addr *dst = NULL, *via = NULL;
	struct rtnl_nexthop *nh;
	char text[INET_ADDRSTRLEN];
	int r;

	inet_ntop(AF_INET, gw, text, sizeof(text));
	if (!route || nl_addr_v4(&any, 0, &dst, err) < 0 || nl_addr_v4(gw, 32, &via, err) < 0)
		return moat_error_set(err, ENOMEM, "add default route via %s", text);
	nh = rtnl_route_nh_alloc();
	if (!nh)
		return moat_error_set(err, ENOMEM, "add default route via %s", text);
	rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(link));
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(route, nh); /* the route owns nh from here */
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	r = rtnl_route_set_dst(route, dst);
	if (r >= 0)
		r = rtnl_route_add(sk, route, NLM_F_EXCL);
	if (r < 0)
		return nl_fail(err, r, "add default route via %s dev %s", text,
			       rtnl_link_get_name(link));
	return 0;
}

/* ---------------------------------------------------------------------------
 * Addresses already in use on the host
 */

int moat_net_host_addrs(uint32_t **ret, size_t *ret_n, struct moat_error *err)
{
	_cleanup_(sock_freep) struct nl_sock *sk = NULL;
	_cleanup_(cache_freep) struct nl_cache *cache = NULL;
	_cleanup_free_ uint32_t *v = NULL;
	struct nl_object *obj;
	size_t n = 0;
	int r;

	if (nl_open(&sk, err) < 0)
		return -1;
	r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0)
		return nl_fail(err, r, "list host addresses");
	v = calloc(2 * (size_t)nl_cache_nitems(cache) + 1, sizeof(*v));
	if (!v)
		return moat_error_errno(err, "list host addresses");
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *a = (struct rtnl_addr *)obj;
		struct nl_addr *both[] = {rtnl_addr_get_local(a), rtnl_addr_get_peer(a)};

		if (rtnl_addr_get_family(a) != AF_INET)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(both); k++) {
			uint32_t be;

			if (!both[k] || nl_addr_get_len(both[k]) != sizeof(be))
				continue;
			memcpy(&be, nl_addr_get_binary_addr(both[k]), sizeof(be));
			v[n++] = ntohl(be);
		}
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * The veth pair
 */

static int write_sysctl(const char *family, const char *ifname, const char *key, const char *value,
			bool optional, struct moat_error *err)
{
	char path[128];
	_cleanup_close_ int fd = -EBADF;

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && optional && errno == ENOENT)
		return 0;
	if (fd < 0 || moat_write_all(fd, value, strlen(value)) < 0)
		return moat_error_errno(err, "set net.%s.conf.%s.%s = %s", family, ifname, key,
					value);
	return 0;
}

/* Sysctls go first, before the link is up and has an address. */
static int host_end_sysctls(const char *ifname, struct moat_error *err)
{
	/* Only this interface forwards: what arrives from the sandbox may be
	 * routed (to the uplink, or to another sandbox's mt- link when the
	 * egress policy allows it); the host's ip_forward is not ours to set. */
	if (write_sysctl("ipv4", ifname, "forwarding", "1", false, err) < 0)
		return -1;
	/* Strict reverse-path check: a packet from this link must carry this
	 * link's /30 source, so a sandbox cannot pose as another one. */
	if (write_sysctl("ipv4", ifname, "rp_filter", "1", false, err) < 0)
		return -1;
	/* IPv4 only: no link-local IPv6 path to host services bound to ::.
	 * Optional: a host without IPv6 has no such file. */
	return write_sysctl("ipv6", ifname, "disable_ipv6", "1", true, err);
}

static int host_end_setup(struct nl_sock *sk, const struct moat_net_lease *lease,
			  struct moat_error *err)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;

	if (link_get(sk, lease->host_ifname, &link, err) < 0)
		return -1;
	if (host_end_sysctls(lease->host_ifname, err) < 0)
		return -1;
	if (addr_add(sk, link, &lease->host, lease->prefix, err) < 0)
		return -1;
	return link_up(sk, link, err);
}

/* Why a veth could not be created with EEXIST: the host name or eth0 inside. */
static int veth_exists_fail(struct nl_sock *sk, const char *ifname, pid_t netns_pid,
			    struct moat_error *err)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;

	if (rtnl_link_get_kernel(sk, 0, ifname, &link) >= 0)
		return moat_error_set(err, EEXIST,
				      "create veth %s: a link of that name exists "
				      "already (a dead sandbox's leftover? moat gc removes it)",
				      ifname);
	return moat_error_set(err, EEXIST,
			      "create veth %s: " MOAT_NET_SANDBOX_IFNAME
			      " exists already in the network namespace of pid %d",
			      ifname, (int)netns_pid);
}

static int veth_add(struct nl_sock *sk, const char *ifname, pid_t netns_pid, struct moat_error *err)
{
	_cleanup_(link_putp) struct rtnl_link *veth = rtnl_link_veth_alloc();
	_cleanup_(link_putp) struct rtnl_link *peer = NULL;
	int r;

	if (!veth)
		return moat_error_set(err, ENOMEM, "create veth %s", ifname);
	peer = rtnl_link_veth_get_peer(veth); /* a new reference */
	rtnl_link_set_name(veth, ifname);
	rtnl_link_set_name(peer, MOAT_NET_SANDBOX_IFNAME);
	/* IFLA_NET_NS_PID in the peer's attributes: the kernel creates eth0 in
	 * the sandbox's namespace, so it never exists on the host. */
	rtnl_link_set_ns_pid(peer, netns_pid);
	r = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (r == -NLE_EXIST)
		return veth_exists_fail(sk, ifname, netns_pid, err);
	/* libnl reports the kernel's ESRCH as "object not found" (ENOENT). */
	if (r == -NLE_OBJ_NOTFOUND)
		return moat_error_set(err, ESRCH, "create veth %s: no network namespace of pid %d",
				      ifname, (int)netns_pid);
	if (r < 0)
		return nl_fail(err, r, "create veth %s (peer in the namespace of pid %d)", ifname,
			       (int)netns_pid);
	return 0;
}

/* Deletes ifname if it is a veth. Returns 0 also when there is no such link. */
static int veth_delete(struct nl_sock *sk, const char *ifname, struct moat_error *err)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	const char *type;
	int r;

	r = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (nl_missing(r))
		return 0;
	if (r < 0)
		return nl_fail(err, r, "find link %s", ifname);
	type = rtnl_link_get_type(link);
	if (!type || strcmp(type, "veth") != 0)
		return moat_error_set(err, EINVAL, "delete %s: not a veth (type %s), left alone",
				      ifname, type ? type : "none");
	/* By index (the link we just looked at), not by a name that may be reused. */
	r = rtnl_link_delete(sk, link);
	if (r < 0 && !nl_missing(r))
		return nl_fail(err, r, "delete veth %s", ifname);
	return 0;
}

/*
 * The caller holds the sandbox's name, so a link with its host name is a
 * previous owner's: one whose supervisor was killed leaves the pair to the
 * kernel, which removes it with the dying netns in the background. Wait
 * for that, then remove what is still there.
 */
static int wait_for_leftover(struct nl_sock *sk, const char *ifname, struct moat_error *err)
{
	const struct timespec tick = {0, 10 * 1000 * 1000};

	for (int i = 0; i < 50; i++) {
		_cleanup_(link_putp) struct rtnl_link *link = NULL;

		if (nl_missing(rtnl_link_get_kernel(sk, 0, ifname, &link)))
			return 0;
		nanosleep(&tick, NULL);
	}
	return veth_delete(sk, ifname, err);
}

int moat_net_veth_create(const struct moat_net_lease *lease, pid_t netns_pid,
			 struct moat_error *err)
{
	_cleanup_(sock_freep) struct nl_sock *sk = NULL;
	struct moat_error ignored;
	int r;

	if (nl_open(&sk, err) < 0)
		return -1;
	r = veth_add(sk, lease->host_ifname, netns_pid, err);
	if (r < 0 && err->errnum == EEXIST && wait_for_leftover(sk, lease->host_ifname, err) == 0)
		r = veth_add(sk, lease->host_ifname, netns_pid, err);
	if (r < 0)
		return -1;
	if (host_end_setup(sk, lease, err) < 0) {
		veth_delete(sk, lease->host_ifname, &ignored);
		return moat_error_prefix(err, "set up veth %s", lease->host_ifname);
	}
	return 0;
}

int moat_net_veth_configure_inside(const struct moat_net_lease *lease, struct moat_error *err)
{
	_cleanup_(sock_freep) struct nl_sock *sk = NULL;
	_cleanup_(link_putp) struct rtnl_link *link = NULL;

	if (nl_open(&sk, err) < 0)
		return -1;
	if (link_get(sk, MOAT_NET_SANDBOX_IFNAME, &link, err) < 0)
		return -1;
	if (addr_add(sk, link, &lease->sandbox, lease->prefix, err) < 0)
		return -1;
	/* Up before the route: the kernel refuses a gateway on a down link. */
	if (link_up(sk, link, err) < 0)
		return -1;
	return route_add_default(sk, link, &lease->host, err);
}

int moat_net_veth_delete(const char *host_ifname, struct moat_error *err)
{
	_cleanup_(sock_freep) struct nl_sock *sk = NULL;
	size_t prefix = sizeof(MOAT_NET_IFNAME_PREFIX) - 1;

	if (strncmp(host_ifname, MOAT_NET_IFNAME_PREFIX, prefix) != 0 ||
	    strlen(host_ifname) >= IFNAMSIZ)
		return moat_error_set(err, EINVAL, "delete veth \"%s\": not a moat interface name",
				      host_ifname);
	if (nl_open(&sk, err) < 0)
		return -1;
	return veth_delete(sk, host_ifname, err);
}
