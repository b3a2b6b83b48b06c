// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for sandbox/output.c: a detached sandbox's output relayed from
 * its pipe into NAME.log, rotated at the cap, and the end of the pipe. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "output.h"
#include "util.h"
#include "tmpdir.h"

/*
 * Every rename, link and unlink the code under test makes goes through these
 * (they are found before libc's), and each checks, once the call is made,
 * whether the watched name still exists: a rotation must never leave it
 * missing, not even between two of its steps. The calls themselves are the
 * kernel's.
 */
static const char *watched; /* a path, or NULL */
static int watched_missing, watched_calls;

static void watch_check(void)
{
	if (!watched)
		return;
	watched_calls++;
	if (access(watched, F_OK) < 0)
		watched_missing++;
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	int r = (int)syscall(SYS_renameat, olddirfd, oldpath, newdirfd, newpath);

	watch_check();
	return r;
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	int r = (int)syscall(SYS_linkat, olddirfd, oldpath, newdirfd, newpath, flags);

	watch_check();
	return r;
}

int unlinkat(int dirfd, const char *path, int flags)
{
	int r = (int)syscall(SYS_unlinkat, dirfd, path, flags);

	watch_check();
	return r;
}

static const struct moat_output_limits no_limits = {0};
static const struct moat_output_limits small_files = {.cap = 10};

#define MS 1000000ull
#define T0 (1000 * MS) /* any start: the clock is the caller's */

static int setup(void **state)
{
	return tmpdir_setup(state, "output");
}

static int teardown(void **state)
{
	return tmpdir_teardown(state);
}

/* The whole file as a string (at most 4 KiB): the tests write less. */
static const char *contents(struct fixture *f, const char *file)
{
	static char buf[4096];
	int fd = open(path_of(f, file), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static void put(struct moat_output *o, const char *s)
{
	assert_int_equal(moat_write_all(moat_output_writer_fd(o), s, strlen(s)), 0);
}

static void test_relay_appends(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;
	int fd;

	/* An existing log is appended to, not replaced. */
	fd = open(path_of(f, "sb.log"), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "before\n", 7), 7);
	close(fd);
	assert_int_equal(moat_output_open_at(f->dir, "sb", &no_limits, &o, &err), 0);
	assert_string_equal(moat_output_path(o), path_of(f, "sb.log"));
	/* Nothing yet: more may come. */
	assert_int_equal(moat_output_relay(o, 0, false), 0);
	put(o, "one\n");
	put(o, "two\n");
	assert_int_equal(moat_output_relay(o, 0, false), 0);
	assert_string_equal(contents(f, "sb.log"), "before\none\ntwo\n");
	moat_output_free(o);
}

static void test_relay_rotates(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;
	struct stat st;

	assert_int_equal(moat_output_open_at(f->dir, "sb", &small_files, &o, &err), 0);
	put(o, "12345678\n");
	assert_int_equal(moat_output_relay(o, 0, false), 0);
	/* 9 + 9 bytes would pass the cap of 10: a fresh file first. */
	put(o, "abcdefgh\n");
	assert_int_equal(moat_output_relay(o, 0, false), 0);
	assert_string_equal(contents(f, "sb.log.1"), "12345678\n");
	assert_string_equal(contents(f, "sb.log"), "abcdefgh\n");
	/* One rotated file is kept: the next rotation replaces it. */
	put(o, "ABCDEFGH\n");
	assert_int_equal(moat_output_relay(o, 0, false), 0);
	assert_string_equal(contents(f, "sb.log.1"), "abcdefgh\n");
	assert_string_equal(contents(f, "sb.log"), "ABCDEFGH\n");
	/* A chunk bigger than the cap still goes in whole, into a fresh file. */
	put(o, "a line longer than the cap\n");
	assert_int_equal(moat_output_relay(o, 0, false), 0);
	assert_string_equal(contents(f, "sb.log"), "a line longer than the cap\n");
	assert_int_equal(stat(path_of(f, "sb.log.1"), &st), 0);
	assert_int_equal(st.st_size, 9);
	moat_output_free(o);
}

/* tail -F, or a log shipper, polling NAME.log finds it after every step of
 * every rotation; and the file at the name is the new one, with one link. */
static void test_rotation_keeps_the_name(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;
	char path[128];
	struct stat st;

	assert_int_equal(moat_output_open_at(f->dir, "sb", &small_files, &o, &err), 0);
	snprintf(path, sizeof(path), "%s", path_of(f, "sb.log"));
	watched = path;
	watched_missing = watched_calls = 0;
	for (int i = 0; i < 3; i++) {
		put(o, "12345678\n");
		assert_int_equal(moat_output_relay(o, 0, false), 0);
	}
	watched = NULL;
	/* Two rotations, each with its link, renames and unlinks. */
	assert_true(watched_calls >= 6);
	assert_int_equal(watched_missing, 0);
	assert_string_equal(contents(f, "sb.log.1"), "12345678\n");
	assert_string_equal(contents(f, "sb.log"), "12345678\n");
	assert_int_equal(stat(path_of(f, "sb.log"), &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(stat(path_of(f, "sb.log.1"), &st), 0);
	assert_int_equal(st.st_nlink, 1);
	/* The temporary name is gone, and the file written is the one at the name. */
	assert_int_equal(access(path_of(f, ".sb.log.tmp"), F_OK), -1);
	assert_int_equal(fstat(moat_output_file_fd(o), &st), 0);
	{
		struct stat at_name;

		assert_int_equal(stat(path_of(f, "sb.log"), &at_name), 0);
		assert_int_equal(at_name.st_ino, st.st_ino);
	}
	moat_output_free(o);
}

/* A supervisor killed in the middle of a rotation leaves NAME.log with a
 * second name (the temporary one, or NAME.log.1): the next sandbox of that
 * name must still open its log, not refuse it for its links. */
static void test_open_after_half_rotation(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;
	char log[128];
	struct stat st;
	int fd;

	snprintf(log, sizeof(log), "%s", path_of(f, "sb.log"));
	fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "kept\n", 5), 5);
	close(fd);
	assert_int_equal(link(log, path_of(f, ".sb.log.tmp")), 0);
	assert_int_equal(moat_output_open_at(f->dir, "sb", &no_limits, &o, &err), 0);
	moat_output_free(o);
	o = NULL;
	assert_int_equal(access(path_of(f, ".sb.log.tmp"), F_OK), -1);

	assert_int_equal(link(log, path_of(f, "sb.log.1")), 0);
	assert_int_equal(moat_output_open_at(f->dir, "sb", &no_limits, &o, &err), 0);
	assert_int_equal(access(path_of(f, "sb.log.1"), F_OK), -1);
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	put(o, "more\n");
	assert_int_equal(moat_output_relay(o, 0, false), 0);
	assert_string_equal(contents(f, "sb.log"), "kept\nmore\n");
	moat_output_free(o);
	o = NULL;

	/* A hard link from elsewhere is still refused: only our own names go. */
	assert_int_equal(link(log, path_of(f, "other")), 0);
	assert_int_equal(moat_output_open_at(f->dir, "sb", &no_limits, &o, &err), -1);
	assert_int_equal(err.errnum, EPERM);
	assert_null(o);
}

/* The budget's arithmetic: full at the start, earned with time, capped at
 * the burst, fractions of a byte carried over, never overflowing. */
static void test_token_bucket(void **state)
{
	struct moat_token_bucket b;
	uint64_t now = T0;

	(void)state;
	moat_token_bucket_init(&b, 1000, 100);
	assert_int_equal(moat_token_bucket_refill(&b, now), 100);
	b.tokens = 0;
	assert_int_equal(moat_token_bucket_refill(&b, now + 50 * MS), 50);
	/* A clock that goes back earns nothing and takes nothing. */
	assert_int_equal(moat_token_bucket_refill(&b, now), 50);
	assert_int_equal(moat_token_bucket_refill(&b, now + 10000 * MS), 100);

	/* 2000 refills half a millisecond apart, each worth half a byte: one
	 * second, so exactly 1000 bytes, whatever the refill frequency. */
	moat_token_bucket_init(&b, 1000, 1 << 20);
	moat_token_bucket_refill(&b, now);
	b.tokens = 0;
	for (int i = 1; i <= 2000; i++)
		moat_token_bucket_refill(&b, now + (uint64_t)i * MS / 2);
	assert_int_equal(b.tokens, 1000);

	/* Years at the largest rate: the burst, no wrap-around. */
	moat_token_bucket_init(&b, UINT64_MAX, UINT64_MAX - 1);
	moat_token_bucket_refill(&b, 0);
	b.tokens = 0;
	assert_true(moat_token_bucket_refill(&b, 100ull * 365 * 86400 * 1000 * MS) == UINT64_MAX - 1);
}

static void put_bytes(struct moat_output *o, char c, size_t n)
{
	char buf[4096];

	assert_true(n <= sizeof(buf));
	memset(buf, c, n);
	assert_int_equal(moat_write_all(moat_output_writer_fd(o), buf, n), 0);
}

static off_t size_of(struct fixture *f, const char *file)
{
	struct stat st;

	assert_int_equal(stat(path_of(f, file), &st), 0);
	return st.st_size;
}

/* Output over the budget is left in the pipe until a drain, which keeps
 * what the budget earned since and drops and counts the rest; drops are
 * reported at once, then at most once a second. */
static void test_relay_budget(void **state)
{
	struct fixture *f = *state;
	struct moat_output_limits lim = {.rate = 1000, .burst = 100};
	struct moat_output_dropped d = {0};
	struct moat_output *o = NULL;
	struct moat_error err;

	assert_int_equal(moat_output_open_at(f->dir, "sb", &lim, &o, &err), 0);
	assert_true(moat_output_timer_fd(o) >= 0);
	assert_true(moat_output_wants_input(o));
	put_bytes(o, 'a', 300);
	/* The burst goes in; then the pipe is left alone. */
	assert_int_equal(moat_output_relay(o, T0, false), 0);
	assert_int_equal(size_of(f, "sb.log"), 100);
	assert_false(moat_output_wants_input(o));
	assert_int_equal(moat_output_dropped_total(o), 0);

	/* 50 ms later: 50 bytes earned and kept, the other 150 dropped. */
	assert_int_equal(moat_output_tick(o, T0 + 50 * MS, false, &d), 1);
	assert_int_equal(size_of(f, "sb.log"), 150);
	assert_int_equal(d.bytes, 150);
	assert_int_equal(d.total, 150);
	assert_false(moat_output_wants_input(o)); /* spent again */

	/* Dropped again 50 ms later, but reported only a second after the last. */
	put_bytes(o, 'b', 100);
	assert_int_equal(moat_output_tick(o, T0 + 100 * MS, false, &d), 0);
	assert_int_equal(size_of(f, "sb.log"), 200);
	assert_int_equal(moat_output_dropped_total(o), 200);
	assert_int_equal(moat_output_tick(o, T0 + 1100 * MS, false, &d), 1);
	assert_int_equal(d.bytes, 50);
	assert_int_equal(d.total, 200);
	/* The budget is back (capped at the burst): the pipe is read again. */
	assert_true(moat_output_wants_input(o));
	put_bytes(o, 'c', 100);
	assert_int_equal(moat_output_relay(o, T0 + 1100 * MS, false), 0);
	assert_int_equal(size_of(f, "sb.log"), 300);
	/* Nothing new dropped: nothing to report, at the end either. */
	assert_int_equal(moat_output_tick(o, T0 + 5000 * MS, false, &d), 0);
	assert_int_equal(moat_output_finish(o, T0 + 5000 * MS, false, &d), 0);
	assert_int_equal(moat_output_dropped_total(o), 200);
	moat_output_free(o);
}

/* At the end, what the budget allows of what is left is kept, the rest
 * dropped, and the drops reported however recent the last report. */
static void test_finish_reports(void **state)
{
	struct fixture *f = *state;
	struct moat_output_limits lim = {.rate = 1000, .burst = 100};
	struct moat_output_dropped d = {0};
	struct moat_output *o = NULL;
	struct moat_error err;

	assert_int_equal(moat_output_open_at(f->dir, "sb", &lim, &o, &err), 0);
	put_bytes(o, 'a', 150);
	assert_int_equal(moat_output_relay(o, T0, false), 0);
	assert_int_equal(moat_output_tick(o, T0 + 10 * MS, false, &d), 1);
	assert_int_equal(d.bytes, 40);
	put_bytes(o, 'b', 200);
	moat_output_close_writer(o);
	assert_int_equal(moat_output_finish(o, T0 + 20 * MS, false, &d), 1);
	assert_int_equal(d.bytes, 190);
	assert_int_equal(d.total, 230);
	assert_int_equal(size_of(f, "sb.log"), 120);
	assert_string_equal(contents(f, "sb.log") + 100, "aaaaaaaaaabbbbbbbbbb");
	moat_output_free(o);
}

/* Without a rate nothing is held back, dropped or timed. */
static void test_relay_unlimited(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;

	assert_int_equal(moat_output_open_at(f->dir, "sb", &no_limits, &o, &err), 0);
	assert_int_equal(moat_output_timer_fd(o), -1);
	for (int i = 0; i < 4; i++)
		put_bytes(o, 'x', 4096);
	assert_int_equal(moat_output_relay(o, T0, false), 0);
	assert_true(moat_output_wants_input(o));
	assert_int_equal(size_of(f, "sb.log"), 4 * 4096);
	assert_int_equal(moat_output_dropped_total(o), 0);
	moat_output_free(o);
}

static void test_relay_end(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;

	assert_int_equal(moat_output_open_at(f->dir, "sb", &no_limits, &o, &err), 0);
	put(o, "last words\n");
	moat_output_close_writer(o);
	assert_int_equal(moat_output_writer_fd(o), -EBADF);
	/* What was written before the end is kept, and the end is reported. */
	assert_int_equal(moat_output_relay(o, 0, false), -1);
	assert_string_equal(contents(f, "sb.log"), "last words\n");
	moat_output_free(o);
}

/* Whoever can write to the log directory must not get moat (root) to write
 * to another file through a link at the log's name. */
static void test_open_refuses_link(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;
	char target[128];

	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	assert_int_equal(symlink(target, path_of(f, "sb.log")), 0);
	assert_int_equal(moat_output_open_at(f->dir, "sb", &no_limits, &o, &err), -1);
	assert_int_equal(err.errnum, ELOOP);
	assert_null(o);
	assert_int_equal(access(target, F_OK), -1);
}

static void test_open_bad_name(void **state)
{
	struct fixture *f = *state;
	struct moat_output *o = NULL;
	struct moat_error err;

	assert_int_equal(moat_output_open_at(f->dir, "../escape", &no_limits, &o, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_null(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_rotates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_keeps_the_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_after_half_rotation, setup, teardown),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test_setup_teardown(test_relay_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finish_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_unlimited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bad_name, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
