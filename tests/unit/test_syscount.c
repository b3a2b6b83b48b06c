// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the unprivileged parts of sandbox/syscount.c: syscall
 * names, and the arguments refused before anything is opened. Counting
 * itself needs root and the kernel (the benchmark and the integration tests
 * check it).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include <cmocka.h>
#include <seccomp.h>

#include "syscount.h"

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(moat_syscall_name(SYS_getppid), "getppid");
	assert_string_equal(moat_syscall_name(SYS_read), "read");
	assert_string_equal(moat_syscall_name(SYS_exit_group), "exit_group");
	/* Cached: the same string every time. */
	assert_ptr_equal(moat_syscall_name(SYS_getppid), moat_syscall_name(SYS_getppid));
}

static void test_names_out_of_range(void **state)
{
	(void)state;
	assert_null(moat_syscall_name(-1));
	assert_null(moat_syscall_name(MOAT_SYSCALLS_MAX));
	assert_null(moat_syscall_name(1 << 30));
}

/* Every name there is belongs to its number, and most numbers have one. */
static void test_names_round_trip(void **state)
{
	int named = 0;

	(void)state;
	for (int nr = 0; nr < MOAT_SYSCALLS_MAX; nr++) {
		const char *name = moat_syscall_name(nr);

		if (!name)
			continue;
		named++;
		assert_int_equal(seccomp_syscall_resolve_name(name), nr);
	}
	assert_true(named > 250);
}

static void *resolve_all(void *arg)
{
	const char **out = arg;

	for (int nr = 0; nr < MOAT_SYSCALLS_MAX; nr++)
		out[nr] = moat_syscall_name(nr);
	return NULL;
}

/* Threads racing on the same numbers all get the one cached string. */
static void test_names_threads(void **state)
{
	static const char *seen[4][MOAT_SYSCALLS_MAX];
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, resolve_all, seen[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int nr = 0; nr < MOAT_SYSCALLS_MAX; nr++)
		for (int i = 1; i < 4; i++)
			assert_ptr_equal(seen[i][nr], seen[0][nr]);
}

/* Refused before bpffs, the lock or a map is touched: no root needed. */
static void test_no_cgroup_id(void **state)
{
	struct moat_error err = {0};
	struct moat_syscount *sc = NULL;
	uint64_t counts[MOAT_SYSCALLS_MAX];

	(void)state;
	assert_int_equal(moat_syscount_register(0, &sc, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_null(sc);
	assert_int_equal(moat_syscount_read(0, counts, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	moat_syscount_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_names_out_of_range),
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_names_threads),
	    cmocka_unit_test(test_no_cgroup_id),
	};

	return cmocka_run_group_tests_name("syscount", tests, NULL, NULL);
}
