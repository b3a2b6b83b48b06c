// SPDX-License-Identifier: GPL-2.0-or-later
/* Collecting a sandbox whose supervisor died. See collect.h. */
#include <arpa/inet.h>

#include "cgroup.h"
#include "collect.h"
#include "egress.h"
#include "nat.h"
#include "net.h"
#include "syscount.h"
#include "util.h"

/* A dead sandbox's network: every step is idempotent. The lease goes by its
 * owner's name, not the recorded address: the supervisor records the
 * address only after leasing it. */
static int collect_network(json_object *net, struct moat_error *err)
{
	json_object *v;
	struct in_addr addr;
	const char *address = NULL;

	if (json_object_object_get_ex(net, "cgroup_id", &v) &&
	    moat_egress_collect(json_object_get_uint64(v), err) < 0)
		return -1;
	if (json_object_object_get_ex(net, "address", &v))
		address = json_object_get_string(v);
	if (address && inet_pton(AF_INET, address, &addr) == 1 &&
	    json_object_object_get_ex(net, "nat", &v) && json_object_get_boolean(v) &&
	    moat_nat_remove(&addr, err) < 0)
		return -1;
	if (json_object_object_get_ex(net, "host_ifname", &v) &&
	    moat_net_veth_delete(json_object_get_string(v), err) < 0)
		return -1;
	return 0;
}

static int collect_cgroups(const char *name, json_object *arr, struct moat_error *err)
{
	struct moat_strv paths = {0};
	int r;

	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (moat_strv_push(&paths, json_object_get_string(json_object_array_get_idx(arr, i))) < 0) {
			moat_strv_clear(&paths);
			return moat_error_errno(err, "collect %s", name);
		}
	r = moat_cgroup_destroy_paths(&paths, err);
	moat_strv_clear(&paths);
	return r;
}

int moat_sandbox_collect(const char *name, json_object *state, struct moat_error *err)
{
	json_object *v;

	if (state && json_object_object_get_ex(state, "network", &v) &&
	    collect_network(v, err) < 0)
		return -1;
	if (moat_net_lease_release_owner(name, err) < 0)
		return -1;
	if (state && json_object_object_get_ex(state, "cgroup_id", &v) && json_object_get_uint64(v) &&
	    moat_syscount_collect(json_object_get_uint64(v), err) < 0)
		return -1;
	if (state && json_object_object_get_ex(state, "cgroups", &v) &&
	    collect_cgroups(name, v, err) < 0)
		return -1;
	return 0;
}
