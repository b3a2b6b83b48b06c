/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CAPS_H
#define MOAT_CAPS_H

#include <sys/types.h>

#include "error.h"

/*
 * In the command's process, before exec: locks the securebits so root in the
 * sandbox gains nothing from uid 0, empties the bounding set, switches to
 * uid:gid with only gid as group, empties the permitted, effective,
 * inheritable and ambient sets, sets PR_SET_NO_NEW_PRIVS, and checks the
 * result (fails closed if any capability survived).
 */
int moat_caps_drop_all(uid_t uid, gid_t gid, struct moat_error *err);

/* For the sandbox's init: keeps only CAP_KILL, which it needs to forward
 * signals to a command running under another uid. */
int moat_caps_keep_kill_only(struct moat_error *err);

#endif
