// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <net/if.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "net.h"

int moat_net_loopback_up(struct moat_error *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *lo = NULL, *change = NULL;
	int r;

	if (!sk)
		return moat_error_set(err, ENOMEM, "netlink socket");
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		moat_error_set(err, 0, "netlink connect: %s", nl_geterror(r));
		goto out;
	}
	r = rtnl_link_get_kernel(sk, 0, "lo", &lo);
	if (r < 0) {
		moat_error_set(err, 0, "find link lo: %s", nl_geterror(r));
		goto out;
	}
	change = rtnl_link_alloc();
	if (!change) {
		r = moat_error_set(err, ENOMEM, "bring lo up");
		goto out;
	}
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
