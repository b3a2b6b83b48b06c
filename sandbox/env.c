// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command's environment (env.h), built from nothing: whatever the caller
 * had (LD_PRELOAD, proxy settings, cloud credentials) stays outside unless
 * the policy names it.
 */
#include <errno.h>
#include <string.h>

#include "env.h"

/* The value of name in a NULL-terminated "NAME=VALUE" array, or NULL. */
static const char *env_lookup(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

/* Sets name=value in sv, replacing an earlier entry of the same name in place. */
static int env_put(struct moat_strv *sv, const char *name, const char *value)
{
	char *entry = moat_strdup_printf("%s=%s", name, value);
	size_t len = strlen(name);

	if (!entry)
		return -1;
	for (size_t i = 0; i < sv->n; i++) {
		if (strncmp(sv->v[i], name, len) == 0 && sv->v[i][len] == '=') {
			free(sv->v[i]);
			sv->v[i] = entry;
			return 0;
		}
	}
	return moat_strv_push_take(sv, entry);
}

static int env_fill(const struct moat_policy *p, char *const *caller_env, const char *home,
		    struct moat_strv *ret)
{
	const char *term = env_lookup(caller_env, "TERM");

	if (env_put(ret, "PATH", MOAT_SANDBOX_PATH) < 0 ||
	    env_put(ret, "HOME", home ? home : "/") < 0 ||
	    env_put(ret, "TERM", term && *term ? term : "dumb") < 0)
		return -1;
	for (size_t i = 0; i < p->env_pass.n; i++) {
		const char *value = env_lookup(caller_env, p->env_pass.v[i]);

		/* A name the caller does not have is skipped, not set empty. */
		if (value && env_put(ret, p->env_pass.v[i], value) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->n_env_set; i++)
		if (env_put(ret, p->env_set[i].name, p->env_set[i].value) < 0)
			return -1;
	return 0;
}

int moat_env_build(const struct moat_policy *p, char *const *caller_env, const char *home,
		   struct moat_strv *ret)
{
	if (env_fill(p, caller_env, home, ret) < 0) {
		moat_strv_clear(ret);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
