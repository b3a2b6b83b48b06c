// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for sandbox/env.c: only what the policy names crosses into the sandbox. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "env.h"

static char *const caller_env[] = {
	"PATH=/home/me/bin:/usr/bin",
	"HOME=/home/me",
	"TERM=xterm-256color",
	"LD_PRELOAD=/tmp/evil.so",
	"AWS_SECRET_ACCESS_KEY=hunter2",
	"LANG=C.UTF-8",
	"HF_HOME=/srv/hf",
	"HF=short", /* a prefix of HF_HOME: must not match "HF_HOME" lookups */
	"EMPTY=",
	NULL,
};

static struct moat_policy *policy_with(const char *const *kv)
{
	struct moat_policy *p = moat_policy_new();

	assert_non_null(p);
	for (; kv && kv[0]; kv += 2) {
		char *msg = NULL;

		if (moat_policy_set(p, "env", kv[0], kv[1], &msg) < 0)
			fail_msg("env %s = %s: %s", kv[0], kv[1], msg);
	}
	return p;
}

/* The value of name in the built environment, or NULL; fails on a duplicate name. */
static const char *value_of(const struct moat_strv *env, const char *name)
{
	size_t len = strlen(name);
	const char *found = NULL;

	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], name, len) != 0 || env->v[i][len] != '=')
			continue;
		if (found)
			fail_msg("%s appears twice", name);
		found = env->v[i] + len + 1;
	}
	return found;
}

static void test_only_base_variables(void **state)
{
	struct moat_policy *p = policy_with(NULL);
	struct moat_strv env = { 0 };

	(void)state;
	assert_int_equal(moat_env_build(p, caller_env, "/home/model", &env), 0);
	assert_int_equal(env.n, 3);
	assert_string_equal(env.v[0], "PATH=" MOAT_SANDBOX_PATH);
	assert_string_equal(env.v[1], "HOME=/home/model");
	assert_string_equal(env.v[2], "TERM=xterm-256color");
	/* NULL-terminated, ready for execve(). */
	assert_null(env.v[3]);
	assert_null(value_of(&env, "LD_PRELOAD"));
	assert_null(value_of(&env, "AWS_SECRET_ACCESS_KEY"));
	moat_strv_clear(&env);
	moat_policy_free(p);
}

static void test_term_default(void **state)
{
	static char *const no_term[] = { "HOME=/root", NULL };
	static char *const empty_term[] = { "TERM=", NULL };
	struct moat_policy *p = policy_with(NULL);
	struct moat_strv env = { 0 };

	(void)state;
	assert_int_equal(moat_env_build(p, no_term, "/", &env), 0);
	assert_string_equal(value_of(&env, "TERM"), "dumb");
	moat_strv_clear(&env);
	assert_int_equal(moat_env_build(p, empty_term, "/", &env), 0);
	assert_string_equal(value_of(&env, "TERM"), "dumb");
	moat_strv_clear(&env);
	/* No caller environment at all, and no home: still a usable environment. */
	assert_int_equal(moat_env_build(p, NULL, NULL, &env), 0);
	assert_int_equal(env.n, 3);
	assert_string_equal(value_of(&env, "TERM"), "dumb");
	assert_string_equal(value_of(&env, "HOME"), "/");
	moat_strv_clear(&env);
	moat_policy_free(p);
}

static void test_pass(void **state)
{
	static const char *const kv[] = { "pass", "LANG", "pass", "HF_HOME", "pass", "NOT_THERE",
					  "pass", "EMPTY", NULL };
	struct moat_policy *p = policy_with(kv);
	struct moat_strv env = { 0 };

	(void)state;
	assert_int_equal(moat_env_build(p, caller_env, "/home/model", &env), 0);
	assert_string_equal(value_of(&env, "LANG"), "C.UTF-8");
	assert_string_equal(value_of(&env, "HF_HOME"), "/srv/hf");
	assert_string_equal(value_of(&env, "EMPTY"), "");
	/* A passed name the caller lacks is skipped, not set empty. */
	assert_null(value_of(&env, "NOT_THERE"));
	assert_null(value_of(&env, "HF"));
	assert_int_equal(env.n, 6);
	moat_strv_clear(&env);
	moat_policy_free(p);
}

static void test_set_overrides(void **state)
{
	static const char *const kv[] = { "pass", "LANG", "set", "HF_HOME=/models/hf",
					  "set", "PATH=/opt/bin", "set", "MODE=a=b", NULL };
	struct moat_policy *p = policy_with(kv);
	struct moat_strv env = { 0 };

	(void)state;
	assert_int_equal(moat_env_build(p, caller_env, "/home/model", &env), 0);
	/* set replaces the base PATH in place, and wins over the caller's value. */
	assert_string_equal(env.v[0], "PATH=/opt/bin");
	assert_string_equal(value_of(&env, "HF_HOME"), "/models/hf");
	assert_string_equal(value_of(&env, "MODE"), "a=b");
	assert_string_equal(value_of(&env, "LANG"), "C.UTF-8");
	assert_int_equal(env.n, 6);
	moat_strv_clear(&env);
	moat_policy_free(p);
}

/* set beats pass for one name (a policy validate() refuses, but env.c must not care). */
static void test_set_beats_pass(void **state)
{
	struct moat_policy *p = policy_with(NULL);
	struct moat_strv env = { 0 };

	(void)state;
	assert_int_equal(moat_policy_set(p, "env", "pass", "LANG", NULL), 0);
	assert_int_equal(moat_policy_set(p, "env", "set", "LANG=C", NULL), 0);
	assert_int_equal(moat_env_build(p, caller_env, "/", &env), 0);
	assert_string_equal(value_of(&env, "LANG"), "C");
	assert_int_equal(env.n, 4);
	moat_strv_clear(&env);

	/* Passing PATH takes the caller's over the sandbox default. */
	assert_int_equal(moat_policy_set(p, "env", "pass", "PATH", NULL), 0);
	assert_int_equal(moat_env_build(p, caller_env, "/", &env), 0);
	assert_string_equal(value_of(&env, "PATH"), "/home/me/bin:/usr/bin");
	moat_strv_clear(&env);
	moat_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_base_variables),
		cmocka_unit_test(test_term_default),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_set_overrides),
		cmocka_unit_test(test_set_beats_pass),
	};

	return cmocka_run_group_tests_name("env", tests, NULL, NULL);
}
