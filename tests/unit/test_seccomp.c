// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for sandbox/seccomp.c: profile parsing, the merge of the policy's
 * allow and deny lists, and (in forked children, which needs no privilege once
 * no_new_privs is set) what the installed filter answers.
 *
 * The shipped profiles are read from $MOAT_POLICY_DIR/seccomp, else
 * policies/seccomp relative to the current directory (make unit runs from the
 * source tree).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"
#include "util.h"

static char shipped_dir[4096];
static char tmp_dir[] = "/tmp/moat-test-seccomp.XXXXXX";

static void policy_init(struct moat_policy *p, const char *profile, enum moat_seccomp_action a)
{
	memset(p, 0, sizeof(*p));
	p->seccomp_profile = (char *)profile;
	p->seccomp_action = a;
}

static void policy_clear(struct moat_policy *p)
{
	moat_strv_clear(&p->syscalls_allow);
	moat_strv_clear(&p->syscalls_deny);
}

static void write_profile(const char *name, const char *text)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.profile", tmp_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Builds profile NAME (written to the temporary directory from text, unless
 * text is NULL) and returns the result; the message goes to err. */
static int build_tmp(const char *name, const char *text, struct moat_error *err)
{
	struct moat_policy p;
	struct moat_seccomp *s = NULL;
	int r;

	if (text)
		write_profile(name, text);
	policy_init(&p, name, MOAT_SECCOMP_ERRNO);
	r = moat_seccomp_build(&p, tmp_dir, NULL, &s, err);
	moat_seccomp_free(s);
	return r;
}

static void expect_error(const char *text, const char *needle)
{
	struct moat_error err = {0};

	assert_int_equal(build_tmp("t", text, &err), -1);
	if (!strstr(err.msg, needle))
		fail_msg("error \"%s\" does not contain \"%s\"", err.msg, needle);
}

/* --- Parsing -------------------------------------------------------------------------- */

static void test_parse_errors(void **state)
{
	(void)state;
	expect_error("default allow\ndeny nosuchcall\n",
		     "t.profile:2: unknown syscall \"nosuchcall\"");
	expect_error("default allow\nblock ptrace\n", "t.profile:2: unknown keyword \"block\"");
	expect_error("deny ptrace\n", "t.profile:1: the first line must be");
	expect_error("# only a comment\n", "no \"default\" line");
	expect_error("default allow\ndefault allow\n", "default given twice");
	expect_error("default maybe\n", "expected \"default allow\"");
	expect_error("default allow\nallow read\n", "allow in a default-allow profile");
	expect_error("default deny\ndeny ptrace\n", "deny in a default-deny profile");
	expect_error("default allow\ndeny\n", "missing syscall name");
	expect_error("default allow\nenosys clone3 arg0==1\n", "enosys takes no comparison");
	expect_error("default allow\ndeny ioctl arg9==1\n", "expected argN");
	expect_error("default allow\ndeny ioctl arg1~1\n", "bad comparison");
	expect_error("default allow\ndeny ioctl arg1&0xffffffff==NO_SUCH\n",
		     "bad value \"NO_SUCH\"");
	expect_error("default allow\ndeny ioctl arg1&0xffffffff==TIOCSTI|\n", "bad value");
	expect_error("default allow\ndeny ioctl arg1&0==0\n", "bad mask");
	expect_error("default allow\ndeny ioctl arg1&0xff==0x5412\n", "bits outside the mask");
	expect_error("default allow\ndeny socket arg0&0xffffffff==1 arg0!=2\n",
		     "arg0 compared twice");
	expect_error("default allow\ndeny ptrace\ndeny ptrace arg0!=0\n",
		     "t.profile:3: ptrace already has a rule at line 2");
	expect_error("default allow\ndeny ptrace a b c d e f g h\n", "too many words");
}

/* The CVE-2019-10063 guard: comparisons that junk above bit 31 could dodge. */
static void test_parse_unsafe_comparisons(void **state)
{
	(void)state;
	expect_error("default allow\ndeny ioctl arg1==TIOCSTI\n", "CVE-2019-10063");
	expect_error("default allow\nforbid socket arg0<3\n", "a deny rule may only use");
	expect_error("default deny\nallow socket arg0!=17\n", "an allow rule may only use");
	expect_error("default deny\nallow socket arg0>1\n", "an allow rule may only use");
	expect_error("default deny\nallow clone arg0&0xff!=0\n", "an allow rule may only use");
}

static void test_parse_accepts(void **state)
{
	struct moat_error err = {0};
	char floor[4200];

	(void)state;
	snprintf(floor, sizeof(floor), "%s/baseline.profile", tmp_dir);
	unlink(floor);
	/* Comments, blank lines, tabs, constants joined with '|', a name that
	 * exists on other architectures only (vm86: i386). */
	assert_int_equal(build_tmp("ok",
				   "# header\n\n default allow # trailing\n"
				   "deny\tptrace\n"
				   "deny vm86\n"
				   "forbid clone arg0&CLONE_NEWNS|CLONE_NEWUSER!=0\n"
				   "deny socket arg0&0xffffffff==AF_NETLINK arg2!=NETLINK_ROUTE\n"
				   "deny personality arg0>0\n"
				   "enosys clone3\n",
				   &err),
			 0);
	assert_int_equal(build_tmp("ok2",
				   "default deny\nallow read\nallow socket arg0==AF_UNIX\n"
				   "allow socket arg0<=2\nallow ioctl arg1&0xffff==0x5401\n",
				   &err),
			 -1); /* no baseline.profile in the temporary directory */
	assert_non_null(strstr(err.msg, "baseline.profile"));
}

/* "argN&M!=V" becomes one rule per bit of M. */
static void test_masked_ne_expansion(void **state)
{
	struct moat_policy p;
	struct moat_error err = {0};
	struct moat_seccomp *s = NULL;

	(void)state;
	write_profile(
	    "exp", "default allow\nforbid clone arg0&CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET!=0\n");
	policy_init(&p, "exp", MOAT_SECCOMP_ERRNO);
	assert_int_equal(moat_seccomp_build(&p, tmp_dir, NULL, &s, &err), 0);
	assert_non_null(strstr(moat_seccomp_describe(s), "3 rules"));
	moat_seccomp_free(s);
}

static void test_missing_and_bad_profile(void **state)
{
	struct moat_error err = {0};

	(void)state;
	assert_int_equal(build_tmp("absent", NULL, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_int_equal(build_tmp("../etc/passwd", NULL, &err), -1);
	assert_non_null(strstr(err.msg, "bad seccomp profile name"));
}

/* --- The shipped profiles and the policy's lists -------------------------------------- */

static void test_shipped_profiles_build(void **state)
{
	static const char *const profiles[] = {"baseline", "strict", "none"};
	static const enum moat_seccomp_action actions[] = {MOAT_SECCOMP_ERRNO, MOAT_SECCOMP_KILL,
							   MOAT_SECCOMP_LOG};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(profiles); i++)
		for (size_t j = 0; j < ARRAY_SIZE(actions); j++) {
			struct moat_policy p;
			struct moat_error err = {0};
			struct moat_seccomp *s = NULL;

			policy_init(&p, profiles[i], actions[j]);
			if (moat_seccomp_build(&p, shipped_dir, NULL, &s, &err) < 0)
				fail_msg("%s/%zu: %s", profiles[i], j, err.msg);
			assert_int_equal(moat_seccomp_n_programs(s),
					 strcmp(profiles[i], "strict") == 0 ? 2
					 : strcmp(profiles[i], "none") == 0 ? 0
									    : 1);
			moat_seccomp_free(s);
		}
}

static int build_shipped(const char *profile, const char *allow, const char *deny,
			 struct moat_seccomp **ret, struct moat_error *err)
{
	struct moat_policy p;
	struct moat_seccomp *s = NULL;
	int r;

	policy_init(&p, profile, MOAT_SECCOMP_ERRNO);
	if (allow)
		assert_int_equal(moat_strv_push(&p.syscalls_allow, allow), 0);
	if (deny)
		assert_int_equal(moat_strv_push(&p.syscalls_deny, deny), 0);
	r = moat_seccomp_build(&p, shipped_dir, NULL, &s, err);
	policy_clear(&p);
	if (ret)
		*ret = s;
	else
		moat_seccomp_free(s);
	return r;
}

static void test_policy_lists(void **state)
{
	struct moat_error err = {0};
	struct moat_seccomp *s = NULL;

	(void)state;
	assert_int_equal(build_shipped("baseline", "nosuchcall", NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "syscalls: allow: unknown syscall \"nosuchcall\""));
	assert_int_equal(build_shipped("strict", NULL, "nosuchcall", NULL, &err), -1);
	assert_non_null(strstr(err.msg, "syscalls: deny: unknown syscall \"nosuchcall\""));
	assert_int_equal(build_shipped("baseline", "ptrace", "ptrace", NULL, &err), -1);
	assert_non_null(strstr(err.msg, "both allowed and denied"));

	/* The core set cannot be allowed, under either profile. */
	assert_int_equal(build_shipped("baseline", "bpf", NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "bpf cannot be allowed"));
	assert_int_equal(build_shipped("strict", "mount", NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "mount cannot be allowed"));
	assert_int_equal(build_shipped("strict", "clone3", NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "answers ENOSYS"));

	/* deny rules are lifted, and status says so. */
	assert_int_equal(build_shipped("baseline", "ptrace", NULL, &s, &err), 0);
	assert_non_null(strstr(moat_seccomp_describe(s), "lifts ptrace"));
	moat_seccomp_free(s);
	assert_int_equal(build_shipped("strict", "perf_event_open", NULL, &s, &err), 0);
	assert_non_null(strstr(moat_seccomp_describe(s), "lifts perf_event_open"));
	moat_seccomp_free(s);
	/* ioctl's forbid rules have conditions: allowing ioctl keeps them. */
	assert_int_equal(build_shipped("baseline", "ioctl", NULL, NULL, &err), 0);

	/* none: no filter, unless the policy denies something. */
	assert_int_equal(build_shipped("none", NULL, NULL, &s, &err), 0);
	assert_int_equal(moat_seccomp_n_programs(s), 0);
	moat_seccomp_free(s);
	assert_int_equal(build_shipped("none", NULL, "ptrace", &s, &err), 0);
	assert_int_equal(moat_seccomp_n_programs(s), 1);
	moat_seccomp_free(s);
}

/* An allow-list that lists what the floor denies outright is refused. */
static void test_allowlist_against_floor(void **state)
{
	struct moat_error err = {0};

	(void)state;
	write_profile("baseline", "default allow\nforbid bpf\ndeny ptrace\n"
				  "forbid ioctl arg1&0xffffffff==TIOCSTI\n");
	assert_int_equal(build_tmp("al", "default deny\nallow read\nallow ioctl\n", &err), 0);
	expect_error("default deny\nallow read\nallow bpf\n", "t.profile:3: allows bpf, which");
	expect_error("default deny\nallow ptrace\n", "allows ptrace, which");
}

/* --- The installed filter ----------------------------------------------------------------- */

/* Runs fn in a child with the filter installed; returns its wait status. */
static int run_filtered(const struct moat_seccomp *s, int (*fn)(void))
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct moat_error err = {0};

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || moat_seccomp_install(s, &err) < 0)
			_exit(100);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* Exit codes: 0 all as expected, else the number of the failed check. */
static int probe_baseline(void)
{
	int p[2];
	char c = 'x';
	int n;
	long r;

	if (syscall(SYS_getppid) <= 0)
		return 1;
	if (unshare(CLONE_NEWUTS) != -1 || errno != EPERM)
		return 2;
	if (pipe(p) < 0)
		return 3;
	/* Not a tty, so without the filter these would fail with ENOTTY. */
	if (ioctl(p[0], TIOCSTI, &c) != -1 || errno != EPERM)
		return 4;
	if (syscall(SYS_ioctl, p[0], TIOCSTI | 0x100000000UL, &c) != -1 || errno != EPERM)
		return 5;
	if (ioctl(p[0], FIONREAD, &n) != 0)
		return 6;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 7;
	r = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r != -1 || errno != EPERM)
		return 8;
	r = fork();
	if (r == 0)
		_exit(0);
	if (r < 0 || waitpid((pid_t)r, NULL, 0) != r)
		return 9;
	if (socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EPERM)
		return 10;
	if (syscall(SYS_bpf, -1, NULL, 0) != -1 || errno != EPERM)
		return 11;
	return 0;
}

static int call_unshare(void)
{
	unshare(CLONE_NEWUTS);
	return 0;
}

/* x32 ABI: the syscall number with bit 30 (__X32_SYSCALL_BIT) set. */
static int call_x32_getppid(void)
{
	syscall(0x40000000 | SYS_getppid);
	return 0;
}

static void test_install_baseline(void **state)
{
	struct moat_error err = {0};
	struct moat_seccomp *s = NULL;
	int status;

	(void)state;
	assert_int_equal(build_shipped("baseline", NULL, NULL, &s, &err), 0);
	status = run_filtered(s, probe_baseline);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("baseline probe: check %d failed (status %#x)", WEXITSTATUS(status),
			 status);
	status = run_filtered(s, call_x32_getppid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	moat_seccomp_free(s);
}

static void test_install_kill_and_strict(void **state)
{
	struct moat_policy p;
	struct moat_error err = {0};
	struct moat_seccomp *s = NULL;
	int status;

	(void)state;
	policy_init(&p, "baseline", MOAT_SECCOMP_KILL);
	assert_int_equal(moat_seccomp_build(&p, shipped_dir, NULL, &s, &err), 0);
	status = run_filtered(s, call_unshare);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	moat_seccomp_free(s);

	s = NULL;
	assert_int_equal(build_shipped("strict", NULL, NULL, &s, &err), 0);
	status = run_filtered(s, probe_baseline);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("strict probe: check %d failed (status %#x)", WEXITSTATUS(status), status);
	status = run_filtered(s, call_x32_getppid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	moat_seccomp_free(s);
}

/* The one file in dir: its path into path, and how many there are. */
static int cache_files(const char *dir, char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && ++n == 1)
			snprintf(path, len, "%s/%s", dir, de->d_name);
	closedir(d);
	return n;
}

static struct moat_seccomp *build_cached(const char *cache, enum moat_seccomp_action a)
{
	struct moat_policy p;
	struct moat_error err = {0};
	struct moat_seccomp *s = NULL;

	policy_init(&p, "strict", a);
	if (moat_seccomp_build(&p, shipped_dir, cache, &s, &err) < 0)
		fail_msg("strict: %s", err.msg);
	policy_clear(&p);
	return s;
}

/* A hit is the stored filter (a marked description shows it was read), it
 * enforces like a compiled one, and a damaged or untrusted entry is a miss. */
static void test_cache(void **state)
{
	char cache[4200], path[4600], desc[512];
	struct moat_seccomp *s;
	struct stat st;
	off_t size;
	int fd, status;

	(void)state;
	snprintf(cache, sizeof(cache), "%s/cache", tmp_dir);
	s = build_cached(cache, MOAT_SECCOMP_ERRNO);
	snprintf(desc, sizeof(desc), "%s", moat_seccomp_describe(s));
	moat_seccomp_free(s);
	assert_int_equal(cache_files(cache, path, sizeof(path)), 1);
	assert_int_equal(stat(cache, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	size = st.st_size;

	/* The description is the file's last bytes: mark its last character. */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "#", 1, size - 1), 1);
	close(fd);
	s = build_cached(cache, MOAT_SECCOMP_ERRNO);
	assert_int_equal(moat_seccomp_n_programs(s), 2);
	assert_int_equal(strncmp(moat_seccomp_describe(s), desc, strlen(desc) - 1), 0);
	assert_int_equal(moat_seccomp_describe(s)[strlen(desc) - 1], '#');
	status = run_filtered(s, probe_baseline);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("cached strict probe: check %d failed (status %#x)", WEXITSTATUS(status),
			 status);
	status = run_filtered(s, call_x32_getppid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	moat_seccomp_free(s);

	/* Untrusted (open to others): compiled afresh, the mark not read. */
	assert_int_equal(chmod(cache, 0755), 0);
	s = build_cached(cache, MOAT_SECCOMP_ERRNO);
	assert_string_equal(moat_seccomp_describe(s), desc);
	moat_seccomp_free(s);
	assert_int_equal(chmod(cache, 0700), 0);

	/* Truncated: a miss, compiled and stored again whole. */
	assert_int_equal(truncate(path, size - 9), 0);
	s = build_cached(cache, MOAT_SECCOMP_ERRNO);
	assert_string_equal(moat_seccomp_describe(s), desc);
	moat_seccomp_free(s);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, size);

	/* Another input, another entry. */
	s = build_cached(cache, MOAT_SECCOMP_KILL);
	assert_non_null(strstr(moat_seccomp_describe(s), "action kill"));
	moat_seccomp_free(s);
	assert_int_equal(cache_files(cache, path, sizeof(path)), 2);
}

static int setup(void **state)
{
	const char *dir = getenv("MOAT_POLICY_DIR");

	(void)state;
	snprintf(shipped_dir, sizeof(shipped_dir), "%s/seccomp", dir ? dir : "policies");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct moat_error err = {0};

	(void)state;
	return moat_rm_rf(tmp_dir, &err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_parse_unsafe_comparisons),
	    cmocka_unit_test(test_parse_accepts),
	    cmocka_unit_test(test_masked_ne_expansion),
	    cmocka_unit_test(test_missing_and_bad_profile),
	    cmocka_unit_test(test_shipped_profiles_build),
	    cmocka_unit_test(test_policy_lists),
	    cmocka_unit_test(test_allowlist_against_floor),
	    cmocka_unit_test(test_install_baseline),
	    cmocka_unit_test(test_install_kill_and_strict),
	    cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests_name("seccomp", tests, setup, teardown);
}
