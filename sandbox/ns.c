// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ns.h"

pid_t moat_ns_clone(int cgroup_fd, int *ret_into_cgroup, struct moat_error *err)
{
	struct clone_args args = {
		.flags = MOAT_CLONE_NS,
		.exit_signal = SIGCHLD,
	};
	long pid;

	*ret_into_cgroup = 0;
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	/* Raw clone3/clone without a new stack behave like fork(): the child
	 * continues here on a copy of our stack. We are single-threaded. */
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid >= 0) {
		*ret_into_cgroup = cgroup_fd >= 0;
		return (pid_t)pid;
	}
	if (errno != ENOSYS && !(errno == EINVAL && cgroup_fd >= 0))
		return moat_error_errno(err, "clone3 into new namespaces");
	pid = syscall(SYS_clone, (unsigned long)(MOAT_CLONE_NS | SIGCHLD), NULL, NULL, NULL, 0);
	if (pid < 0)
		return moat_error_errno(err, "clone into new namespaces");
	return (pid_t)pid;
}

int moat_ns_enter_cgroup(struct moat_error *err)
{
	if (unshare(CLONE_NEWCGROUP) < 0)
		return moat_error_errno(err, "unshare the cgroup namespace");
	return 0;
}

int moat_ns_set_hostname(const char *hostname, struct moat_error *err)
{
	if (sethostname(hostname, strlen(hostname)) < 0)
		return moat_error_errno(err, "sethostname %s", hostname);
	if (setdomainname("(none)", strlen("(none)")) < 0)
		return moat_error_errno(err, "setdomainname");
	return 0;
}
