/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sandbox's file system, built as a list of steps (bubblewrap's SetupOp):
 * the plan is made and validated in the parent, where a missing bind source
 * is an ordinary error; the child only replays it inside its own mount
 * namespace, then enters the new root with pivot_root.
 */
#ifndef MOAT_MOUNT_H
#define MOAT_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"

enum moat_mount_kind {
	MOAT_MNT_DIR,	  /* mkdir dst */
	MOAT_MNT_BIND,	  /* bind src on dst, then remount with flags (MS_RDONLY...) unless 0 */
	MOAT_MNT_TMPFS,	  /* tmpfs on dst with data ("size=...,mode=...") and flags */
	MOAT_MNT_PROC,	  /* a new proc for the sandbox's PID namespace */
	MOAT_MNT_DEVPTS,  /* a private devpts instance */
	MOAT_MNT_SYMLINK, /* symlink dst -> src */
	MOAT_MNT_FILE,	  /* create dst with mode and data as its content */
	MOAT_MNT_COPY,	  /* copy the host's file src to dst, with mode */
	MOAT_MNT_NODE,	  /* device node dst like the host's src (mode, rdev); bound if mknod is refused */
	MOAT_MNT_MASK,	  /* hide dst: /dev/null on a file, an empty read-only tmpfs on a dir */
	MOAT_MNT_RDONLY,  /* remount dst (already a mount or bound on itself) read-only */
	MOAT_MNT_PIVOT,	  /* enter dst as the new root, then make it read-only */
};

struct moat_mount_step {
	enum moat_mount_kind kind;
	char *src;
	char *dst; /* absolute path inside the sandbox */
	char *data;
	mode_t mode; /* FILE, COPY: permissions; NODE: type and permissions */
	dev_t rdev;  /* NODE */
	unsigned long flags;
	bool src_is_dir;
	bool optional; /* missing in the sandbox (a /proc entry the kernel lacks): skip */
};

struct moat_mount_plan {
	char *root; /* directory the new root is mounted over, in init's mount namespace */
	struct moat_mount_step *steps;
	size_t n;
};

/*
 * Builds the plan for policy p: a tmpfs root on root_dir, read-only /usr and
 * the /bin,/sbin,/lib* entries as on the host, a curated /etc with the given
 * passwd and group, /tmp, /proc with the OCI runtimes' masks, a minimal /dev
 * (with devpts when with_tty), the policy's device nodes and binds.
 * Every bind source is resolved and checked here. The plan owns its strings.
 */
int moat_mount_plan_build(const struct moat_policy *p, const char *root_dir, const char *passwd,
			  const char *group, bool with_tty, struct moat_mount_plan *ret,
			  struct moat_error *err);
void moat_mount_plan_free(struct moat_mount_plan *plan);

/* In the child, in a new mount and PID namespace: replays the plan and pivots. */
int moat_mount_apply(const struct moat_mount_plan *plan, struct moat_error *err);

#endif
