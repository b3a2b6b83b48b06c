// SPDX-License-Identifier: GPL-2.0-or-later
/* moat gc: tear down what supervisors that died (SIGKILL, a crash, a reboot of
 * /run excepted) left behind, with the same teardown steps they would have run. */
#include <stdio.h>
#include <string.h>

#include "bpf.h"
#include "collect.h"
#include "launch.h"
#include "moat.h"
#include "nat.h"
#include "net.h"
#include "seccomp.h"
#include "state.h"
#include "util.h"

/* What sandboxes share on the host (the pinned egress and accounting
 * programs and maps, the NAT table, the lease directory, the cache of
 * compiled seccomp programs) is kept between launches: gone once none runs. */
static int release_shared(const struct moat_strv *names, struct moat_error *err)
{
	for (size_t i = 0; i < names->n; i++)
		if (moat_state_alive(names->v[i]))
			return 0;
	if (moat_bpf_unpin_all(err) < 0 || moat_net_lease_dir_remove(err) < 0 ||
	    moat_rm_rf(MOAT_SECCOMP_CACHE_DIR, err) < 0)
		return -1;
	return moat_nat_cleanup_if_unused(err);
}

/* Leases whose holder is gone, whatever its state said (a sandbox collected
 * by an older moat, a state directory removed by hand). Under the global
 * lock: a name claimed meanwhile could otherwise lose the temporary lease it
 * is writing. */
static int collect_leases(struct moat_error *err)
{
	int lock = moat_state_lock_global(err), r;

	if (lock < 0)
		return -1;
	r = moat_net_lease_collect(err);
	moat_state_unlock_global(lock);
	return r;
}

int cmd_gc(int argc, char **argv)
{
	struct moat_strv names = {0};
	struct moat_error err;
	int code = MOAT_EXIT_OK;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			puts("Usage: moat gc\n\nRemoves the state, cgroups and other resources of "
			     "sandboxes whose supervisor is gone.\nPrints one line per sandbox "
			     "collected. Exit: 0 ok, 1 something could not be removed.");
			return MOAT_EXIT_OK;
		}
		return moat_usage_error(MOAT_EXIT_USAGE, "gc", "takes no arguments");
	}
	if (moat_state_list(&names, &err) < 0)
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	for (size_t i = 0; i < names.n; i++) {
		int r = moat_state_collect(names.v[i], moat_sandbox_collect, &err);

		if (r < 0) {
			moat_error_print(&err, stderr);
			code = MOAT_EXIT_FAILURE;
		} else if (r > 0) {
			printf("collected %s\n", names.v[i]);
		}
	}
	moat_strv_clear(&names);
	if (collect_leases(&err) < 0) {
		moat_error_print(&err, stderr);
		code = MOAT_EXIT_FAILURE;
	}
	if (moat_state_list(&names, &err) < 0 || release_shared(&names, &err) < 0) {
		moat_error_print(&err, stderr);
		code = MOAT_EXIT_FAILURE;
	}
	moat_strv_clear(&names);
	return code;
}
