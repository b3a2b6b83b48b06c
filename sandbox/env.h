/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_ENV_H
#define MOAT_ENV_H

#include "policy.h"
#include "util.h"

#define MOAT_SANDBOX_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Builds the command's environment from nothing: PATH, HOME and TERM (the
 * caller's TERM, else "dumb"), then the policy's `pass` names whose values
 * come from caller_env, then the policy's `set` entries; a later entry
 * replaces an earlier one of the same name. Nothing else of caller_env
 * crosses. ret (empty on entry) receives "NAME=VALUE" strings.
 */
int moat_env_build(const struct moat_policy *p, char *const *caller_env, const char *home,
		   struct moat_strv *ret);

#endif
