// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for sandbox/audit.c: the writer's lines and rotation, the event
 * constructors, and the reader's following of a growing, rotating log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "util.h"
#include "tmpdir.h"

static int setup(void **state)
{
	return tmpdir_setup(state, "audit");
}

static int teardown(void **state)
{
	return tmpdir_teardown(state);
}

static struct moat_audit_log *open_log(struct fixture *f, const char *name, uint64_t cap)
{
	struct moat_audit_log *a = NULL;
	struct moat_error err = {0};

	if (moat_audit_open_at(f->dir, name, cap, &a, &err) < 0)
		fail_msg("open: %s (%s)", err.msg, strerror(err.errnum));
	return a;
}

/* Every line of file, parsed: each must be one JSON object. The caller puts the array. */
static json_object *read_lines(struct fixture *f, const char *file)
{
	struct moat_error err = {0};
	json_object *arr = json_object_new_array();
	char *data = NULL, *line, *save = NULL;
	size_t len = 0;

	if (moat_read_file(path_of(f, file), 1 << 24, &data, &len, &err) < 0)
		fail_msg("read %s: %s", file, err.msg);
	assert_true(len == 0 || data[len - 1] == '\n');
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line);

		if (!o || !json_object_is_type(o, json_type_object))
			fail_msg("%s: not a JSON object: %s", file, line);
		json_object_array_add(arr, o);
	}
	free(data);
	return arr;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no field %s in %s", key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

static int64_t num(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no field %s in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static bool has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

static bool file_exists(struct fixture *f, const char *file)
{
	struct stat st;

	return lstat(path_of(f, file), &st) == 0;
}

static void test_time_format(void **state)
{
	char buf[MOAT_AUDIT_TIME_LEN];

	(void)state;
	moat_audit_format_time(1795985030123456789ull, buf);
	assert_string_equal(buf, "2026-11-29T20:43:50.123456789Z");
	moat_audit_format_time(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	moat_audit_format_time(1000000007ull, buf);
	assert_string_equal(buf, "1970-01-01T00:00:01.000000007Z");
}

/* The common fields come first, then the caller's in their order. */
static void test_write_order(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "box", 0);
	json_object *fields = json_object_new_object(), *lines, *o;
	struct moat_error err = {0};
	const char *expect[] = {"time", "sandbox", "event", "zeta", "alpha", "nothing"};
	size_t i = 0;

	json_object_object_add(fields, "zeta", json_object_new_int(1));
	json_object_object_add(fields, "alpha", json_object_new_string("a/b"));
	json_object_object_add(fields, "nothing", NULL);
	assert_int_equal(moat_audit_write(a, "custom", fields, &err), 0);
	/* Borrowed: still the caller's, unchanged. */
	assert_int_equal(json_object_object_length(fields), 3);
	json_object_put(fields);
	assert_int_equal(moat_audit_write(a, "bare", NULL, &err), 0);
	moat_audit_close(a);

	lines = read_lines(f, "box.jsonl");
	assert_int_equal(json_object_array_length(lines), 2);
	o = json_object_array_get_idx(lines, 0);
	json_object_object_foreach(o, key, val) {
		(void)val;
		assert_true(i < ARRAY_SIZE(expect));
		assert_string_equal(key, expect[i++]);
	}
	assert_int_equal(i, ARRAY_SIZE(expect));
	assert_string_equal(str(o, "sandbox"), "box");
	assert_string_equal(str(o, "event"), "custom");
	assert_string_equal(str(o, "alpha"), "a/b");
	assert_int_equal(strlen(str(o, "time")), MOAT_AUDIT_TIME_LEN - 1);
	assert_int_equal(str(o, "time")[10], 'T');
	assert_string_equal(str(json_object_array_get_idx(lines, 1), "event"), "bare");
	json_object_put(lines);
}

static void test_write_refused(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = NULL;
	json_object *fields = json_object_new_object(), *arr = json_object_new_array(), *lines;
	struct moat_error err = {0};
	char big[MOAT_AUDIT_LINE_MAX];

	assert_int_equal(moat_audit_open_at(f->dir, "../x", 0, &a, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(moat_audit_open_at(f->dir, "", 0, &a, &err), -1);

	a = open_log(f, "box", 0);
	json_object_object_add(fields, "event", json_object_new_string("forged"));
	assert_int_equal(moat_audit_write(a, "x", fields, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(moat_audit_write(a, "x", arr, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	json_object_put(fields);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fields = json_object_new_object();
	json_object_object_add(fields, "big", json_object_new_string(big));
	assert_int_equal(moat_audit_write(a, "x", fields, &err), -1);
	assert_int_equal(err.errnum, EMSGSIZE);
	json_object_put(fields);
	json_object_put(arr);
	moat_audit_close(a);
	/* Nothing refused was written. */
	lines = read_lines(f, "box.jsonl");
	assert_int_equal(json_object_array_length(lines), 0);
	json_object_put(lines);
}

/* A link or a FIFO at the log's name is refused, never followed or waited on. */
static void test_open_refuses_links(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = NULL;
	struct moat_error err = {0};
	char target[128];
	int fd;

	assert_int_equal(symlink("/etc/passwd", path_of(f, "sym.jsonl")), 0);
	assert_int_equal(moat_audit_open_at(f->dir, "sym", 0, &a, &err), -1);
	assert_int_equal(err.errnum, ELOOP);

	fd = open(path_of(f, "target"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(target, sizeof(target), "%s", path_of(f, "target"));
	assert_int_equal(link(target, path_of(f, "hard.jsonl")), 0);
	assert_int_equal(moat_audit_open_at(f->dir, "hard", 0, &a, &err), -1);
	assert_int_equal(err.errnum, EPERM);

	assert_int_equal(mkfifo(path_of(f, "fifo.jsonl"), 0600), 0);
	assert_int_equal(moat_audit_open_at(f->dir, "fifo", 0, &a, &err), -1);
	assert_null(a);
}

/* The directory is created when missing (mode 0750). */
static void test_open_creates_dir(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = NULL;
	struct moat_error err = {0};
	char dir[128];
	struct stat st;
	mode_t old = umask(022);

	snprintf(dir, sizeof(dir), "%s/log/moat", f->dir);
	assert_int_equal(moat_audit_open_at(dir, "box", 0, &a, &err), 0);
	umask(old);
	moat_audit_close(a);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(stat(path_of(f, "log/moat/box.jsonl"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

static int write_seq(struct moat_audit_log *a, int seq)
{
	json_object *fields = json_object_new_object();
	struct moat_error err = {0};
	int r;

	json_object_object_add(fields, "seq", json_object_new_int(seq));
	json_object_object_add(fields, "pad", json_object_new_string("0123456789abcdef"));
	r = moat_audit_write(a, "test", fields, &err);
	json_object_put(fields);
	return r;
}

/* At a tiny cap: one rotated file, the newest events in order, no file past the cap. */
static void test_rotation(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "rot", 400);
	json_object *old, *cur;
	size_t n_old, n_cur;
	struct stat st;
	int next;

	for (int i = 0; i < 3; i++)
		assert_int_equal(write_seq(a, i), 0);
	assert_false(file_exists(f, "rot.jsonl.1"));
	for (int i = 3; i < 40; i++)
		assert_int_equal(write_seq(a, i), 0);
	moat_audit_close(a);

	assert_true(file_exists(f, "rot.jsonl.1"));
	assert_false(file_exists(f, "rot.jsonl.2"));
	assert_int_equal(stat(path_of(f, "rot.jsonl"), &st), 0);
	assert_true(st.st_size <= 400);
	assert_int_equal(stat(path_of(f, "rot.jsonl.1"), &st), 0);
	assert_true(st.st_size <= 400 && st.st_size > 200);

	old = read_lines(f, "rot.jsonl.1");
	cur = read_lines(f, "rot.jsonl");
	n_old = json_object_array_length(old);
	n_cur = json_object_array_length(cur);
	assert_true(n_old > 0 && n_cur > 0);
	/* .1 then the current file: consecutive, ending with the last event. */
	next = (int)num(json_object_array_get_idx(old, 0), "seq");
	for (size_t i = 0; i < n_old; i++)
		assert_int_equal(num(json_object_array_get_idx(old, i), "seq"), next++);
	for (size_t i = 0; i < n_cur; i++)
		assert_int_equal(num(json_object_array_get_idx(cur, i), "seq"), next++);
	assert_int_equal(next, 40);
	json_object_put(old);
	json_object_put(cur);
}

/* A line larger than the whole cap is still written, alone in a fresh file. */
static void test_rotation_oversized(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "big", 50);
	json_object *lines;

	assert_int_equal(write_seq(a, 1), 0);
	assert_int_equal(write_seq(a, 2), 0);
	moat_audit_close(a);
	lines = read_lines(f, "big.jsonl");
	assert_int_equal(json_object_array_length(lines), 1);
	assert_int_equal(num(json_object_array_get_idx(lines, 0), "seq"), 2);
	json_object_put(lines);
	lines = read_lines(f, "big.jsonl.1");
	assert_int_equal(num(json_object_array_get_idx(lines, 0), "seq"), 1);
	json_object_put(lines);
}

/* Reopening appends: a sandbox name used again keeps its history. */
static void test_reopen_appends(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "again", 0);
	json_object *lines;

	assert_int_equal(write_seq(a, 1), 0);
	moat_audit_close(a);
	a = open_log(f, "again", 0);
	assert_int_equal(write_seq(a, 2), 0);
	moat_audit_close(a);
	lines = read_lines(f, "again.jsonl");
	assert_int_equal(json_object_array_length(lines), 2);
	json_object_put(lines);
}

static json_object *one_access(struct fixture *f, const char *name,
			       const struct moat_audit_access *d)
{
	struct moat_audit_log *a = open_log(f, name, 0);
	struct moat_error err = {0};
	char file[80];
	json_object *lines, *o;

	if (moat_audit_access(a, d, &err) < 0)
		fail_msg("denial: %s", err.msg);
	moat_audit_close(a);
	snprintf(file, sizeof(file), "%s.jsonl", name);
	lines = read_lines(f, file);
	assert_int_equal(json_object_array_length(lines), 1);
	o = json_object_get(json_object_array_get_idx(lines, 0));
	json_object_put(lines);
	return o;
}

static void test_denial_v4(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_access d = {
		.ktime_ns = moat_boottime_ns(),
		.pid = 1234,
		.comm = "python3",
		.hook = "connect4",
		.proto = "tcp",
		.family = AF_INET,
		.port = 9,
	};
	const char *expect[] = {"time", "sandbox", "event", "hook", "pid", "comm",
				"proto", "family", "address", "port"};
	char now[MOAT_AUDIT_TIME_LEN];
	json_object *o;
	size_t i = 0;

	assert_int_equal(inet_pton(AF_INET, "10.208.0.1", d.addr), 1);
	moat_audit_format_time(moat_now_ns(), now);
	o = one_access(f, "v4", &d);
	json_object_object_foreach(o, key, val) {
		(void)val;
		assert_string_equal(key, expect[i++]);
	}
	assert_string_equal(str(o, "event"), "denied");
	assert_string_equal(str(o, "hook"), "connect4");
	assert_int_equal(num(o, "pid"), 1234);
	assert_string_equal(str(o, "comm"), "python3");
	assert_string_equal(str(o, "proto"), "tcp");
	assert_string_equal(str(o, "family"), "ipv4");
	assert_string_equal(str(o, "address"), "10.208.0.1");
	assert_int_equal(num(o, "port"), 9);
	/* Boot time converted to the wall clock: the same second as now (or the next). */
	assert_memory_equal(str(o, "time"), now, 17);
	json_object_put(o);
}

static void test_denial_v6(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_access d = {
		.pid = 7,
		.comm = "curl",
		.hook = "sendmsg6",
		.proto = "udp",
		.family = AF_INET6,
		.port = 53,
	};
	json_object *o;

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", d.addr), 1);
	o = one_access(f, "v6", &d);
	assert_string_equal(str(o, "family"), "ipv6");
	assert_string_equal(str(o, "address"), "2001:db8::1");
	assert_int_equal(num(o, "port"), 53);
	json_object_put(o);
}

/* audit = full: the same fields, as an "allowed" event. */
static void test_allowed(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_access d = {
		.allowed = true,
		.pid = 11,
		.comm = "python3",
		.hook = "connect4",
		.proto = "tcp",
		.family = AF_INET,
		.port = 5432,
	};
	json_object *o;

	assert_int_equal(inet_pton(AF_INET, "10.208.0.9", d.addr), 1);
	o = one_access(f, "allowed", &d);
	assert_string_equal(str(o, "event"), "allowed");
	assert_string_equal(str(o, "hook"), "connect4");
	assert_string_equal(str(o, "address"), "10.208.0.9");
	assert_int_equal(num(o, "port"), 5432);
	json_object_put(o);
}

/* A v4 address reached through a v6 socket stays in its v6 spelling. */
static void test_denial_v4_mapped(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_access d = {
		.pid = 8,
		.comm = "node",
		.hook = "connect6",
		.proto = "tcp",
		.family = AF_INET6,
		.port = 443,
	};
	json_object *o;

	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", d.addr), 1);
	o = one_access(f, "mapped", &d);
	assert_string_equal(str(o, "family"), "ipv6");
	assert_string_equal(str(o, "address"), "::ffff:192.0.2.7");
	json_object_put(o);
}

/* comm is 16 untrusted bytes: no NUL needed, invalid UTF-8 escaped, the line still JSON. */
static void test_denial_comm(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_access d = {
		.pid = 9,
		.hook = "egress",
		.proto = "icmp",
		.family = AF_INET,
	};
	struct moat_error err = {0};
	struct moat_audit_log *a;
	json_object *o;

	memcpy(d.comm, "\xff\x1b[31mabcdefghijk", 16);
	o = one_access(f, "comm", &d);
	assert_string_equal(str(o, "comm"), "\\xff\x1b[31mabcdefghij");
	assert_int_equal(num(o, "port"), 0);
	json_object_put(o);

	a = open_log(f, "bad", 0);
	d.family = AF_UNIX;
	assert_int_equal(moat_audit_access(a, &d, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	d.family = AF_INET;
	d.hook = NULL;
	assert_int_equal(moat_audit_access(a, &d, &err), -1);
	moat_audit_close(a);
}

static void test_lifecycle_events(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "life", 0);
	char *const argv[] = {"python3", "server.py", "--port", "8000", NULL};
	struct moat_audit_start s = {
		.tier = "internal",
		.policy = "tier:internal",
		.policy_sha256 = "ab12",
		.pid = 4321,
		.command_pid = 4322,
		.uid = 65534,
		.gid = 65534,
		.argv = argv,
	};
	struct moat_error err = {0};
	json_object *lines, *o, *cmd;

	assert_int_equal(moat_audit_start(a, &s, &err), 0);
	assert_int_equal(moat_audit_oom(a, 512ull << 20, 2, &err), 0);
	assert_int_equal(moat_audit_exit(a, 137, &err), 0);
	assert_int_equal(moat_audit_exit(a, 0, &err), 0);
	assert_int_equal(moat_audit_exit(a, 128 + 40, &err), 0);
	assert_int_equal(moat_audit_stop(a, 137, NULL, &err), 0);
	assert_int_equal(moat_audit_stop(a, 125, "mount /usr: Permission denied", &err), 0);
	assert_int_equal(moat_audit_lost(a, 12, 0, &err), 0);
	assert_int_equal(moat_audit_lost(a, 0, 3, &err), 0);
	moat_audit_close(a);

	lines = read_lines(f, "life.jsonl");
	assert_int_equal(json_object_array_length(lines), 9);
	o = json_object_array_get_idx(lines, 0);
	assert_string_equal(str(o, "event"), "start");
	assert_string_equal(str(o, "tier"), "internal");
	assert_string_equal(str(o, "policy"), "tier:internal");
	assert_string_equal(str(o, "policy_sha256"), "ab12");
	assert_int_equal(num(o, "pid"), 4321);
	assert_int_equal(num(o, "command_pid"), 4322);
	assert_string_equal(str(o, "user"), "65534:65534");
	assert_true(json_object_object_get_ex(o, "command", &cmd));
	assert_int_equal(json_object_array_length(cmd), 4);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cmd, 3)), "8000");
	assert_false(has(o, "command_truncated"));

	o = json_object_array_get_idx(lines, 1);
	assert_string_equal(str(o, "event"), "oom");
	assert_int_equal(num(o, "limit_bytes"), 512 << 20);
	assert_int_equal(num(o, "kills"), 2);

	o = json_object_array_get_idx(lines, 2);
	assert_string_equal(str(o, "event"), "exit");
	assert_int_equal(num(o, "status"), 137);
	assert_string_equal(str(o, "signal"), "SIGKILL");
	assert_false(has(json_object_array_get_idx(lines, 3), "signal"));
	assert_string_equal(str(json_object_array_get_idx(lines, 4), "signal"), "SIGRTMIN+6");

	o = json_object_array_get_idx(lines, 5);
	assert_string_equal(str(o, "event"), "stop");
	assert_int_equal(num(o, "status"), 137);
	assert_false(has(o, "error"));
	o = json_object_array_get_idx(lines, 6);
	assert_string_equal(str(o, "error"), "mount /usr: Permission denied");
	o = json_object_array_get_idx(lines, 7);
	assert_string_equal(str(o, "event"), "lost");
	assert_int_equal(num(o, "denials"), 12);
	assert_false(has(o, "allowed"));
	o = json_object_array_get_idx(lines, 8);
	assert_int_equal(num(o, "denials"), 0);
	assert_int_equal(num(o, "allowed"), 3);
	json_object_put(lines);
}

/* A detached sandbox's output over its log budget: one event per report. */
static void test_log_dropped(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "flood", 0);
	struct moat_error err = {0};
	json_object *lines, *o;

	assert_int_equal(moat_audit_log_dropped(a, 5000, 5000, 1 << 20, &err), 0);
	assert_int_equal(moat_audit_log_dropped(a, 7000000000ull, 7000005000ull, 1 << 20, &err), 0);
	moat_audit_close(a);
	lines = read_lines(f, "flood.jsonl");
	assert_int_equal(json_object_array_length(lines), 2);
	o = json_object_array_get_idx(lines, 0);
	assert_string_equal(str(o, "event"), "log_dropped");
	assert_int_equal(num(o, "bytes"), 5000);
	assert_int_equal(num(o, "total_bytes"), 5000);
	assert_int_equal(num(o, "rate_bytes_per_second"), 1 << 20);
	o = json_object_array_get_idx(lines, 1);
	assert_int_equal(num(o, "bytes"), 7000000000ll);
	assert_int_equal(num(o, "total_bytes"), 7000005000ll);
	json_object_put(lines);
}

/* A command as long as ARG_MAX allows is cut to fit one line, and says so. */
static void test_start_long_command(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "long", 0);
	char **argv = calloc(1001, sizeof(*argv));
	char arg[200];
	struct moat_audit_start s = {.tier = "public", .pid = 1};
	struct moat_error err = {0};
	json_object *lines, *o, *cmd;

	memset(arg, 'x', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	for (int i = 0; i < 1000; i++)
		argv[i] = arg;
	s.argv = argv;
	assert_int_equal(moat_audit_start(a, &s, &err), 0);
	moat_audit_close(a);
	free(argv);
	lines = read_lines(f, "long.jsonl");
	o = json_object_array_get_idx(lines, 0);
	assert_true(json_object_object_get_ex(o, "command", &cmd));
	assert_true(json_object_array_length(cmd) > 100 && json_object_array_length(cmd) < 1000);
	assert_true(has(o, "command_truncated"));
	assert_false(has(o, "command_pid"));
	json_object_put(lines);
}

/* ---- reader ------------------------------------------------------------------ */

struct collected {
	int n;
	int unparsed;
	int seq[256];
	char last_raw[128];
	int stop_after; /* stop the read after this many lines; 0: never */
};

static int collect(const char *line, size_t len, json_object *ev, void *userdata)
{
	struct collected *c = userdata;
	json_object *v;

	assert_int_equal(strlen(line), len);
	snprintf(c->last_raw, sizeof(c->last_raw), "%s", line);
	if (!ev)
		c->unparsed++;
	else if (json_object_object_get_ex(ev, "seq", &v) && c->n < 256)
		c->seq[c->n++] = json_object_get_int(v);
	return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static void append_raw(struct fixture *f, const char *file, const char *text)
{
	int fd = open(path_of(f, file), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(moat_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static struct moat_audit_reader *open_reader(struct fixture *f, const char *name)
{
	struct moat_audit_reader *r = NULL;
	struct moat_error err = {0};

	if (moat_audit_reader_open_at(f->dir, name, &r, &err) < 0)
		fail_msg("reader: %s", err.msg);
	return r;
}

static void read_more(struct moat_audit_reader *r, struct collected *c)
{
	struct moat_error err = {0};
	int ret = moat_audit_reader_read(r, collect, c, &err);

	if (ret < 0)
		fail_msg("read: %s", err.msg);
}

static void test_reader_missing(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_reader *r = NULL;
	struct moat_error err = {0};
	char dir[128];

	assert_int_equal(moat_audit_reader_open_at(f->dir, "none", &r, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	snprintf(dir, sizeof(dir), "%s/nodir", f->dir);
	assert_int_equal(moat_audit_reader_open_at(dir, "none", &r, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_int_equal(moat_audit_reader_open_at(f->dir, "a/b", &r, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
}

/* Whole lines only; a line still being written waits for its newline. */
static void test_reader_partial_lines(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "part", 0);
	struct collected c = {0};
	struct moat_audit_reader *r;

	write_seq(a, 0);
	write_seq(a, 1);
	r = open_reader(f, "part");
	read_more(r, &c);
	assert_int_equal(c.n, 2);
	append_raw(f, "part.jsonl", "{\"seq\":");
	read_more(r, &c);
	assert_int_equal(c.n, 2);
	append_raw(f, "part.jsonl", "2}\nnot json\n[1]\n{\"seq\":3} trailing\n");
	write_seq(a, 4);
	read_more(r, &c);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.seq[2], 2);
	assert_int_equal(c.seq[3], 4);
	assert_int_equal(c.unparsed, 3);
	/* A torn last line is handed over by flush only. */
	append_raw(f, "part.jsonl", "{\"seq\":5");
	read_more(r, &c);
	assert_int_equal(c.unparsed, 3);
	assert_int_equal(moat_audit_reader_flush(r, collect, &c), 0);
	assert_int_equal(c.unparsed, 4);
	assert_string_equal(c.last_raw, "{\"seq\":5");
	moat_audit_reader_free(r);
	moat_audit_close(a);
}

/* fn stops the read with a positive value; the next read goes on after that line. */
static void test_reader_stop(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "stop", 0);
	struct collected c = {.stop_after = 2};
	struct moat_audit_reader *r;
	struct moat_error err = {0};

	for (int i = 0; i < 5; i++)
		write_seq(a, i);
	moat_audit_close(a);
	r = open_reader(f, "stop");
	assert_int_equal(moat_audit_reader_read(r, collect, &c, &err), 7);
	assert_int_equal(c.n, 2);
	c.stop_after = 0;
	read_more(r, &c);
	assert_int_equal(c.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(c.seq[i], i);
	moat_audit_reader_free(r);
}

/* A damaged line longer than the reader's cap is reported once, the next line is read. */
static void test_reader_overlong(void **state)
{
	struct fixture *f = *state;
	char *junk = malloc(3 * MOAT_AUDIT_LINE_MAX + 2);
	struct collected c = {0};
	struct moat_audit_reader *r;

	memset(junk, 'j', 3 * MOAT_AUDIT_LINE_MAX);
	memcpy(junk + 3 * MOAT_AUDIT_LINE_MAX, "\n", 2);
	append_raw(f, "long.jsonl", "{\"seq\":0}\n");
	append_raw(f, "long.jsonl", junk);
	append_raw(f, "long.jsonl", "{\"seq\":1}\n");
	free(junk);
	r = open_reader(f, "long");
	read_more(r, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.unparsed, 1);
	assert_int_equal(c.seq[1], 1);
	moat_audit_reader_free(r);
}

struct tail_lines {
	size_t n;
	size_t len[8];
};

static int collect_tail(const char *line, size_t len, void *data)
{
	struct tail_lines *t = data;

	(void)line;
	if (t->n < 8)
		t->len[t->n++] = len;
	return 0;
}

/* The tail skips a line over MOAT_AUDIT_LINE_MAX wherever it falls: within a
 * chunk, across chunks, or first in the file. */
static void test_tail_skips_overlong(void **state)
{
	struct fixture *f = *state;
	size_t big = 100000;
	char *junk = malloc(big + 2);
	struct tail_lines t = {0};
	struct moat_error err;

	memset(junk, 'x', big);
	memcpy(junk + big, "\n", 2);
	append_raw(f, "tl.jsonl", junk);
	append_raw(f, "tl.jsonl", "{\"seq\":0}\n");
	append_raw(f, "tl.jsonl", junk);
	append_raw(f, "tl.jsonl", "{\"seq\":1}\n");
	junk[MOAT_AUDIT_LINE_MAX] = '\n'; /* with its newline one byte too long */
	junk[MOAT_AUDIT_LINE_MAX + 1] = '\0';
	append_raw(f, "tl.jsonl", junk);
	append_raw(f, "tl.jsonl", "{\"seq\":2}\n");
	junk[MOAT_AUDIT_LINE_MAX - 1] = '\n'; /* exactly MOAT_AUDIT_LINE_MAX: kept */
	junk[MOAT_AUDIT_LINE_MAX] = '\0';
	append_raw(f, "tl.jsonl", junk);
	free(junk);
	assert_int_equal(moat_audit_tail_at(f->dir, "tl", 1 << 20, collect_tail, &t, &err), 0);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.len[0], MOAT_AUDIT_LINE_MAX - 1);
	assert_int_equal(t.len[1], 9);
	assert_int_equal(t.len[2], 9);
	assert_int_equal(t.len[3], 9);
}

/* .1 first, then the current file; rotations while following lose nothing. */
static void test_reader_follows_rotation(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "fol", 400);
	struct collected c = {0};
	struct moat_audit_reader *r;
	int seq = 0;

	/* Past one rotation before the reader starts. */
	while (!file_exists(f, "fol.jsonl.1"))
		write_seq(a, seq++);
	write_seq(a, seq++);
	r = open_reader(f, "fol");
	read_more(r, &c);
	assert_int_equal(c.seq[c.n - 1], seq - 1);
	/* Then a rotation at most between two reads. */
	for (int round = 0; round < 20; round++) {
		write_seq(a, seq++);
		write_seq(a, seq++);
		read_more(r, &c);
		assert_int_equal(c.seq[c.n - 1], seq - 1);
	}
	for (int i = 1; i < c.n; i++)
		assert_int_equal(c.seq[i], c.seq[i - 1] + 1);
	assert_int_equal(c.unparsed, 0);
	moat_audit_reader_free(r);
	moat_audit_close(a);
}

/* Two rotations between reads: the file in between is NAME.jsonl.1, read too. */
static void test_reader_two_rotations(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a = open_log(f, "two", 400);
	struct collected c = {0};
	struct moat_audit_reader *r;
	int seq = 0;

	write_seq(a, seq++);
	r = open_reader(f, "two");
	read_more(r, &c);
	/* 3 lines of 107 bytes fit in 400: 5 lines rotate at most twice. */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 5; i++)
			write_seq(a, seq++);
		read_more(r, &c);
		assert_int_equal(c.seq[c.n - 1], seq - 1);
	}
	assert_int_equal(c.n, seq);
	for (int i = 0; i < c.n; i++)
		assert_int_equal(c.seq[i], i);
	moat_audit_reader_free(r);
	moat_audit_close(a);
}

/* NAME.jsonl.1 alone (the writer between its rename and its new file). */
static void test_reader_rotated_only(void **state)
{
	struct fixture *f = *state;
	struct moat_audit_log *a;
	struct collected c = {0};
	struct moat_audit_reader *r;

	append_raw(f, "only.jsonl.1", "{\"seq\":0}\n{\"seq\":1}\n");
	r = open_reader(f, "only");
	read_more(r, &c);
	assert_int_equal(c.n, 2);
	a = open_log(f, "only", 0);
	write_seq(a, 2);
	read_more(r, &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seq[2], 2);
	moat_audit_reader_free(r);
	moat_audit_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_format),
		cmocka_unit_test_setup_teardown(test_write_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_creates_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denial_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denial_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denial_v4_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denial_comm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_long_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_partial_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_overlong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_skips_overlong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_follows_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_two_rotations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_rotated_only, setup, teardown),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
