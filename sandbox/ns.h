/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_NS_H
#define MOAT_NS_H

#include <sys/types.h>

#include "error.h"

/*
 * The namespaces a sandbox's init is cloned into. The cgroup namespace is
 * not among them: init unshares it only after the supervisor has moved it
 * into the sandbox's cgroups, so the namespace's root is the sandbox's own
 * cgroup in every hierarchy. A user namespace (rootless use) would be added
 * here, with the uid/gid maps written by the supervisor before the go message.
 */
#define MOAT_CLONE_NS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)

/*
 * fork()-like clone into new namespaces; returns 0 in the child, the child's
 * pid in the parent, -1 with err on failure. When cgroup_fd >= 0 the child
 * starts in that cgroup2 directory (clone3 CLONE_INTO_CGROUP), so it never
 * runs a single instruction outside the sandbox's cgroup and its BPF programs.
 * *ret_into_cgroup says whether that happened (false on kernels before 5.7,
 * where the caller moves the child itself before letting it run).
 */
pid_t moat_ns_clone(int cgroup_fd, int *ret_into_cgroup, struct moat_error *err);

/* In init, after it entered its cgroups: a new cgroup namespace rooted there. */
int moat_ns_enter_cgroup(struct moat_error *err);

/* Sets the UTS namespace's hostname (and a neutral domain name). */
int moat_ns_set_hostname(const char *hostname, struct moat_error *err);

#endif
