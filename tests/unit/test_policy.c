// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for sandbox/policy.c. Every test runs against fixture tiers
 * written into a mkdtemp() directory that MOAT_POLICY_DIR points to; only
 * test_shipped_tiers reads the repository's policies/ (found through
 * $MOAT_SRCDIR, default ".": run from the repository root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy.h"

static char tmpdir[PATH_MAX];
static unsigned file_seq;

/* ---- fixtures ------------------------------------------------------------------------------ */

/* Distinct from every built-in default, so that inheritance is visible. */
static const char base_tier[] = "; fixture: a bit of everything\n"
				"[sandbox]\n"
				"tier = base\n"
				"user = 1000:1000\n"
				"audit = full\n"
				"\n"
				"[filesystem]\n"
				"ro = /usr\n"
				"rw = /var/cache/model\n"
				"ro = /models\n"
				"tmp_size = 128M\n"
				"\n"
				"[resources]\n"
				"memory = 2G\n"
				"cpus = 1.5\n"
				"pids = 300\n"
				"log_rate = 64K\n"
				"log_burst = 1M\n"
				"devices = /dev/null rw\n"
				"\n"
				"[syscalls]\n"
				"profile = baseline\n"
				"action = errno\n"
				"allow = io_uring_setup\n"
				"deny = ptrace\n"
				"\n"
				"[network]\n"
				"mode = veth\n"
				"nat = yes\n"
				"egress = dns\n"
				"egress = 10.0.0.0/8 tcp/443\n"
				"publish = 8080:80\n"
				"\n"
				"[env]\n"
				"pass = LANG\n"
				"set = A=1\n";

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void write_tier(const char *name, const char *text)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.ini", tmpdir, name);
	write_text(path, text);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/moat-test-policy.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	setenv("MOAT_POLICY_DIR", tmpdir, 1);
	return 0;
}

static int group_teardown(void **state)
{
	struct moat_error err;

	(void)state;
	return moat_rm_rf(tmpdir, &err);
}

/* Each test writes its own tiers: start from a directory with only these. */
static int test_setup(void **state)
{
	(void)state;
	setenv("MOAT_POLICY_DIR", tmpdir, 1);
	write_tier("public", "[sandbox]\ntier = public\n[resources]\npids = 77\n");
	write_tier("base", base_tier);
	return 0;
}

/* Writes text to a fresh file in tmpdir and loads it; path receives its name. */
static int load_text(const char *text, char *path, size_t len, struct moat_policy **ret,
		     struct moat_diag *diag)
{
	snprintf(path, len, "%s/policy-%u.ini", tmpdir, ++file_seq);
	write_text(path, text);
	return moat_policy_load_file(path, ret, diag);
}

/* Loads text that must be valid. */
static struct moat_policy *load_ok(const char *text)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char path[PATH_MAX + 64];

	if (load_text(text, path, sizeof(path), &p, &diag) < 0)
		fail_msg("load failed: %s", diag.lines.n ? diag.lines.v[0] : "(no message)");
	assert_non_null(p);
	assert_int_equal(diag.lines.n, 0);
	moat_diag_free(&diag);
	return p;
}

static void print_diag(const struct moat_diag *d)
{
	for (size_t i = 0; i < d->lines.n; i++)
		print_message("  diag[%zu] %s\n", i, d->lines.v[i]);
}

static void expect_lines(const struct moat_diag *d, size_t n)
{
	if (d->lines.n != n) {
		print_diag(d);
		fail_msg("%zu diagnostics, want %zu", d->lines.n, n);
	}
}

static void expect_line(const struct moat_diag *d, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void expect_line(const struct moat_diag *d, size_t i, const char *fmt, ...)
{
	char want[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	if (i >= d->lines.n || strcmp(d->lines.v[i], want) != 0) {
		print_diag(d);
		fail_msg("diag[%zu] is not \"%s\"", i, want);
	}
}

/* One file, one expected error: "PATH:LINE: msg". */
static void expect_file_error(const char *text, unsigned line, const char *msg)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = (void *)1;
	char path[PATH_MAX + 64];

	assert_int_equal(load_text(text, path, sizeof(path), &p, &diag), -1);
	assert_null(p);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "%s:%u: %s", path, line, msg);
	moat_diag_free(&diag);
}

/* Field by field: everything a policy holds except where it came from. */
static void assert_policy_equal(const struct moat_policy *a, const struct moat_policy *b)
{
	assert_string_equal(a->tier, b->tier);
	if (a->hostname || b->hostname) {
		assert_non_null(a->hostname);
		assert_non_null(b->hostname);
		assert_string_equal(a->hostname, b->hostname);
	}
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->accounting, b->accounting);
	assert_int_equal(a->audit, b->audit);
	assert_int_equal(a->n_binds, b->n_binds);
	for (size_t i = 0; i < a->n_binds; i++) {
		assert_string_equal(a->binds[i].src, b->binds[i].src);
		assert_string_equal(a->binds[i].dst, b->binds[i].dst);
		assert_int_equal(a->binds[i].rw, b->binds[i].rw);
	}
	assert_int_equal(a->tmp_size, b->tmp_size);
	assert_int_equal(a->memory, b->memory);
	assert_int_equal(a->cpus_milli, b->cpus_milli);
	assert_int_equal(a->pids, b->pids);
	assert_int_equal(a->log_rate, b->log_rate);
	assert_int_equal(a->log_burst, b->log_burst);
	assert_int_equal(a->n_devices, b->n_devices);
	for (size_t i = 0; i < a->n_devices; i++) {
		assert_string_equal(a->devices[i].path, b->devices[i].path);
		assert_string_equal(a->devices[i].access, b->devices[i].access);
	}
	assert_string_equal(a->seccomp_profile, b->seccomp_profile);
	assert_int_equal(a->syscalls_allow.n, b->syscalls_allow.n);
	for (size_t i = 0; i < a->syscalls_allow.n; i++)
		assert_string_equal(a->syscalls_allow.v[i], b->syscalls_allow.v[i]);
	assert_int_equal(a->syscalls_deny.n, b->syscalls_deny.n);
	for (size_t i = 0; i < a->syscalls_deny.n; i++)
		assert_string_equal(a->syscalls_deny.v[i], b->syscalls_deny.v[i]);
	assert_int_equal(a->seccomp_action, b->seccomp_action);
	assert_int_equal(a->net_mode, b->net_mode);
	assert_int_equal(a->n_egress, b->n_egress);
	for (size_t i = 0; i < a->n_egress; i++) {
		const struct moat_egress_rule *x = &a->egress[i], *y = &b->egress[i];

		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->proto, y->proto);
		assert_int_equal(x->port_lo, y->port_lo);
		assert_int_equal(x->port_hi, y->port_hi);
		if (x->kind == MOAT_RULE_CIDR) {
			assert_int_equal(x->cidr.family, y->cidr.family);
			assert_int_equal(x->cidr.prefix, y->cidr.prefix);
			assert_memory_equal(x->cidr.addr, y->cidr.addr, 16);
		}
		if (x->kind == MOAT_RULE_HOST || x->kind == MOAT_RULE_MODEL)
			assert_string_equal(x->target, y->target);
	}
	assert_int_equal(a->n_publish, b->n_publish);
	for (size_t i = 0; i < a->n_publish; i++) {
		assert_string_equal(a->publish[i].host_ip, b->publish[i].host_ip);
		assert_int_equal(a->publish[i].host_port, b->publish[i].host_port);
		assert_int_equal(a->publish[i].port, b->publish[i].port);
	}
	assert_int_equal(a->nat, b->nat);
	assert_int_equal(a->env_pass.n, b->env_pass.n);
	for (size_t i = 0; i < a->env_pass.n; i++)
		assert_string_equal(a->env_pass.v[i], b->env_pass.v[i]);
	assert_int_equal(a->n_env_set, b->n_env_set);
	for (size_t i = 0; i < a->n_env_set; i++) {
		assert_string_equal(a->env_set[i].name, b->env_set[i].name);
		assert_string_equal(a->env_set[i].value, b->env_set[i].value);
	}
}

/* format -> file -> load must give the same policy, and the same text again. */
static void assert_roundtrip(const struct moat_policy *p)
{
	_cleanup_free_ char *text = moat_policy_to_string(p);
	_cleanup_free_ char *again = NULL;
	struct moat_policy *q;

	assert_non_null(text);
	q = load_ok(text);
	assert_policy_equal(p, q);
	again = moat_policy_to_string(q);
	assert_non_null(again);
	/* Only the first comment line, which names the source, may differ. */
	assert_string_equal(strchr(text, '\n'), strchr(again, '\n'));
	moat_policy_free(q);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct moat_policy *p = moat_policy_new();

	(void)state;
	assert_non_null(p);
	assert_null(p->tier);
	assert_null(p->hostname);
	assert_int_equal(p->uid, 65534);
	assert_int_equal(p->gid, 65534);
	assert_true(p->accounting);
	assert_int_equal(p->audit, MOAT_AUDIT_DENIALS);
	assert_int_equal(p->tmp_size, 64ull << 20);
	assert_int_equal(p->memory, 1ull << 30);
	assert_int_equal(p->cpus_milli, 1000);
	assert_int_equal(p->pids, 256);
	assert_int_equal(p->log_rate, 1ull << 20);
	assert_int_equal(p->log_burst, 4ull << 20);
	assert_string_equal(p->seccomp_profile, "strict");
	assert_int_equal(p->seccomp_action, MOAT_SECCOMP_KILL);
	assert_int_equal(p->net_mode, MOAT_NET_NONE);
	assert_false(p->nat);
	assert_int_equal(p->n_binds + p->n_devices + p->n_egress + p->n_publish + p->n_env_set, 0);
	moat_policy_free(p);
	moat_policy_free(NULL);
}

static void test_policy_dir(void **state)
{
	(void)state;
	setenv("MOAT_POLICY_DIR", "/some/where", 1);
	assert_string_equal(moat_policy_dir(), "/some/where");
	/* This binary is build/tests/unit/test_policy: build/tests/policies does not exist. */
	unsetenv("MOAT_POLICY_DIR");
	assert_string_equal(moat_policy_dir(), MOAT_DATADIR "/policies");
	setenv("MOAT_POLICY_DIR", "", 1);
	assert_string_equal(moat_policy_dir(), MOAT_DATADIR "/policies");
}

static void test_load_tier(void **state)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;

	(void)state;
	assert_int_equal(moat_policy_load_tier("base", &p, &diag), 0);
	assert_int_equal(diag.lines.n, 0);
	assert_string_equal(p->tier, "base");
	assert_string_equal(p->source, "tier:base");
	assert_int_equal(p->memory, 2ull << 30);
	assert_int_equal(p->net_mode, MOAT_NET_VETH);
	moat_policy_free(p);
}

static void test_inherit_tier(void **state)
{
	struct moat_policy *p = load_ok("[sandbox]\ntier = base\n");
	char path[PATH_MAX + 64];

	(void)state;
	snprintf(path, sizeof(path), "%s/policy-%u.ini", tmpdir, file_seq);
	assert_string_equal(p->tier, "base");
	assert_string_equal(p->source, path);
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->audit, MOAT_AUDIT_FULL);
	assert_int_equal(p->tmp_size, 128ull << 20);
	assert_int_equal(p->memory, 2ull << 30);
	assert_int_equal(p->cpus_milli, 1500);
	assert_int_equal(p->pids, 300);
	assert_int_equal(p->log_rate, 64ull << 10);
	assert_int_equal(p->log_burst, 1ull << 20);
	assert_int_equal(p->n_binds, 3);
	assert_string_equal(p->binds[0].dst, "/usr");
	assert_false(p->binds[0].rw);
	assert_string_equal(p->binds[1].dst, "/var/cache/model");
	assert_true(p->binds[1].rw);
	assert_int_equal(p->n_devices, 1);
	assert_string_equal(p->seccomp_profile, "baseline");
	assert_int_equal(p->seccomp_action, MOAT_SECCOMP_ERRNO);
	assert_int_equal(p->n_egress, 2);
	assert_int_equal(p->egress[0].kind, MOAT_RULE_DNS);
	assert_int_equal(p->n_publish, 1);
	assert_true(p->nat);
	assert_string_equal(p->env_pass.v[0], "LANG");
	assert_string_equal(p->env_set[0].value, "1");
	moat_policy_free(p);
}

static void test_default_tier(void **state)
{
	struct moat_policy *p = load_ok("[resources]\nmemory = 3G\n");

	(void)state;
	assert_string_equal(p->tier, MOAT_DEFAULT_TIER);
	assert_int_equal(p->pids, 77); /* from the fixture public.ini */
	assert_int_equal(p->memory, 3ull << 30);
	moat_policy_free(p);
}

static void test_scalar_override(void **state)
{
	struct moat_policy *p = load_ok("[sandbox]\ntier = base\nuser = 0:0\naudit = denials\n"
					"[resources]\nmemory = 3G\nmemory = 5G\ncpus = 0\n"
					"[syscalls]\nprofile = none\n");

	(void)state;
	assert_int_equal(p->uid, 0);
	assert_int_equal(p->audit, MOAT_AUDIT_DENIALS);
	assert_int_equal(p->memory, 5ull << 30); /* the last assignment wins */
	assert_int_equal(p->cpus_milli, 0);
	assert_string_equal(p->seccomp_profile, "none");
	assert_int_equal(p->pids, 300); /* untouched: still the tier's */
	moat_policy_free(p);
}

static void test_list_append(void **state)
{
	struct moat_policy *p = load_ok("[sandbox]\ntier = base\n"
					"[filesystem]\nro = /data:/mnt/data\n"
					"[syscalls]\nallow = perf_event_open\n"
					"allow = io_uring_setup\n"
					"[network]\negress = api.example.com tcp/443\n"
					"egress = dns\negress = 10.0.0.0/8 TCP/443-443\n"
					"[env]\npass = HF_HOME\nset = B=2\nset = A=3\n"
					"[resources]\ndevices = /dev/nvidia0\n"
					"devices = /dev/null r\n");

	(void)state;
	assert_int_equal(p->n_binds, 4);
	assert_string_equal(p->binds[3].src, "/data");
	assert_string_equal(p->binds[3].dst, "/mnt/data");
	/* Appended after the tier's, a duplicate is not repeated. */
	assert_int_equal(p->syscalls_allow.n, 2);
	assert_string_equal(p->syscalls_allow.v[0], "io_uring_setup");
	assert_string_equal(p->syscalls_allow.v[1], "perf_event_open");
	/* A rule the tier already has, however spelt, is not added twice. */
	assert_int_equal(p->n_egress, 3);
	assert_int_equal(p->egress[2].kind, MOAT_RULE_HOST);
	assert_int_equal(p->env_pass.n, 2);
	assert_string_equal(p->env_pass.v[1], "HF_HOME");
	/* set: a later value for a name replaces the earlier one. */
	assert_int_equal(p->n_env_set, 2);
	assert_string_equal(p->env_set[0].name, "A");
	assert_string_equal(p->env_set[0].value, "3");
	assert_string_equal(p->env_set[1].name, "B");
	/* devices: the same path changes its access. */
	assert_int_equal(p->n_devices, 2);
	assert_string_equal(p->devices[0].path, "/dev/null");
	assert_string_equal(p->devices[0].access, "r");
	moat_policy_free(p);
}

static void test_list_clear(void **state)
{
	struct moat_policy *p = load_ok("[sandbox]\ntier = base\n"
					"[filesystem]\nro =\nro = /opt\n"
					"[resources]\ndevices =\n"
					"[syscalls]\nallow =\ndeny =\ndeny = bpf\n"
					"[network]\negress =\negress = 192.0.2.0/24 udp/53\n"
					"publish =\n"
					"[env]\npass =\nset =\n");

	(void)state;
	/* "ro =" clears the read-only binds; the tier's rw bind stays. */
	assert_int_equal(p->n_binds, 2);
	assert_string_equal(p->binds[0].dst, "/var/cache/model");
	assert_true(p->binds[0].rw);
	assert_string_equal(p->binds[1].dst, "/opt");
	assert_false(p->binds[1].rw);
	assert_int_equal(p->n_devices, 0);
	assert_int_equal(p->syscalls_allow.n, 0);
	assert_int_equal(p->syscalls_deny.n, 1);
	assert_string_equal(p->syscalls_deny.v[0], "bpf");
	assert_int_equal(p->n_egress, 1);
	assert_int_equal(p->egress[0].proto, MOAT_PROTO_UDP);
	assert_int_equal(p->n_publish, 0);
	assert_int_equal(p->env_pass.n, 0);
	assert_int_equal(p->n_env_set, 0);
	moat_policy_free(p);

	p = load_ok("[sandbox]\ntier = base\n[filesystem]\nrw =\n");
	assert_int_equal(p->n_binds, 2);
	assert_false(p->binds[0].rw);
	assert_false(p->binds[1].rw);
	moat_policy_free(p);
}

static void test_unknown_section_and_key(void **state)
{
	(void)state;
	/* The section is reported once, at its header; its keys are not. */
	expect_file_error("[sandbox]\nuser = 1:1\n\n[bogus]\na = 1\nb = 2\n", 4,
			  "unknown section [bogus]");
	expect_file_error("[network]\nmode = none\nbogus = 1\n", 3,
			  "unknown key \"bogus\" in [network]");
	expect_file_error("[Network]\nmode = none\n", 1, "unknown section [Network]");
	expect_file_error("mode = none\n[network]\n", 1, "\"mode\" before any [section]");
	/* A key of another section is unknown here. */
	expect_file_error("[network]\nmemory = 1G\n", 2, "unknown key \"memory\" in [network]");
}

/* Every key's bad value, with the text a user sees. */
static void test_value_errors(void **state)
{
	static const struct {
		const char *section, *key, *value, *msg;
	} cases[] = {
		{ "sandbox", "user", "root", "user: bad user (expected numeric UID:GID) \"root\"" },
		{ "sandbox", "hostname", "-x", "hostname: bad hostname (RFC 1123, at most 63 "
					       "characters) \"-x\"" },
		{ "sandbox", "accounting", "maybe", "accounting: not a boolean (yes/no, "
						    "true/false, on/off, 1/0) \"maybe\"" },
		{ "sandbox", "audit", "all", "audit: \"all\" is not denials or full" },
		{ "filesystem", "ro", "relative", "ro: bind path not absolute and clean (no empty, "
						  ". or .. component) \"relative\"" },
		{ "filesystem", "rw", "/a:/proc/x", "rw: bind destination is /, or under /proc or "
						    "/dev (moat builds those) \"/a:/proc/x\"" },
		{ "filesystem", "tmp_size", "1K", "tmp_size: size below 4K \"1K\"" },
		{ "filesystem", "tmp_size", "0", "tmp_size: size below 4K \"0\"" },
		{ "resources", "memory", "12Q", "memory: bad size \"12Q\"" },
		{ "resources", "memory", "512",
		  "memory: size below 1M (0 means no limit) \"512\"" },
		{ "resources", "memory", "99999999999T",
		  "memory: size too large \"99999999999T\"" },
		{ "resources", "cpus", "-1", "cpus: bad cpu count \"-1\"" },
		{ "resources", "cpus", "5000", "cpus: cpu count out of range (0.001 to 4096) "
					       "\"5000\"" },
		{ "resources", "pids", "4194305", "pids: not a number from 0 to 4194304 "
						  "\"4194305\"" },
		{ "resources", "pids", "many", "pids: not a number from 0 to 4194304 \"many\"" },
		{ "resources", "log_rate", "100",
		  "log_rate: rate below 1K a second (0 means no limit) \"100\"" },
		{ "resources", "log_rate", "fast", "log_rate: bad size \"fast\"" },
		{ "resources", "log_burst", "0", "log_burst: size below 4K \"0\"" },
		{ "resources", "log_burst", "-4M", "log_burst: negative size \"-4M\"" },
		{ "resources", "pids", "1", "pids: below 2, the fewest a sandbox runs with "
					    "(moat-init and the command; 0 means no limit) \"1\"" },
		{ "resources", "devices", "/etc/shadow", "devices: device path not a clean path "
							 "under /dev/ \"/etc/shadow\"" },
		{ "syscalls", "profile", "lax",
		  "profile: \"lax\" is not baseline, strict or none" },
		{ "syscalls", "allow", "Read", "allow: bad syscall name \"Read\"" },
		{ "syscalls", "deny", "a b", "deny: bad syscall name \"a b\"" },
		{ "syscalls", "action", "trap", "action: \"trap\" is not errno, kill or log" },
		{ "network", "mode", "host", "mode: \"host\" is not none or veth" },
		{ "network", "egress", "10.0.0.1/8", "egress: address has host bits set beyond the "
						     "prefix \"10.0.0.1/8\"" },
		{ "network", "publish", "80", "publish: bad publish (expected "
					      "[HOSTIP:]HOSTPORT:PORT) \"80\"" },
		{ "network", "nat", "2", "nat: not a boolean (yes/no, true/false, on/off, 1/0) "
					 "\"2\"" },
		{ "env", "pass", "A-B", "pass: bad variable name \"A-B\"" },
		{ "env", "set", "NOVALUE", "set: expected NAME=VALUE \"NOVALUE\"" },
		{ "env", "set", "1X=2", "set: bad variable name \"1X=2\"" },
		{ "sandbox", "tier", "../x",
		  "tier: bad tier name \"../x\" (expected [a-z0-9_-]+)" },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		/* Line 3, after a comment: the number is the file's, not inih's count of keys. */
		snprintf(text, sizeof(text), "[%s]\n; comment\n%s = %s\n", cases[i].section,
			 cases[i].key, cases[i].value);
		expect_file_error(text, 3, cases[i].msg);
	}
}

static void test_every_error_reported(void **state)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char path[PATH_MAX + 64];
	const char text[] = "[sandbox]\n"		     /* 1 */
			    "user = nobody\n"		     /* 2 */
			    "this line has no equals\n"	     /* 3 */
			    "[resources\n"		     /* 4 */
			    "memory = 12Q\n"		     /* 5 */
			    "  cpus = 2\n"		     /* 6 */
			    "[network]\n"		     /* 7 */
			    "mode = veth\n"		     /* 8 */
			    "egress = 10.0.0.0/8 tcp/0\n"    /* 9 */
			    "egress = 10.0.0.0/8 tcp/80\n"   /* 10 */
			    "[nope] trailing\n"		     /* 11 */
			    "[syscalls]\n"		     /* 12 */
			    "allow = read\n"		     /* 13 */
			    "deny = read\n"		     /* 14 */
			    "action = maybe\n";		     /* 15 */

	(void)state;
	assert_int_equal(load_text(text, path, sizeof(path), &p, &diag), -1);
	assert_null(p);
	expect_lines(&diag, 10);
	expect_line(&diag, 0, "%s:2: user: bad user (expected numeric UID:GID) \"nobody\"", path);
	expect_line(&diag, 1, "%s:3: expected KEY = VALUE", path);
	expect_line(&diag, 2, "%s:4: section header without ']'", path);
	/* [resources was not a header: memory is still in [sandbox]. */
	expect_line(&diag, 3, "%s:5: unknown key \"memory\" in [sandbox]", path);
	expect_line(&diag, 4,
		    "%s:6: line starts with a space (continuation lines are not supported)", path);
	expect_line(&diag, 5, "%s:9: egress: port out of range (1-65535) \"10.0.0.0/8 tcp/0\"",
		    path);
	/* Both problems of line 11. */
	expect_line(&diag, 6, "%s:11: text after the section header", path);
	expect_line(&diag, 7, "%s:11: unknown section [nope]", path);
	expect_line(&diag, 8, "%s:15: action: \"maybe\" is not errno, kill or log", path);
	/* Conflicts come last, without a line: they span keys. */
	expect_line(&diag, 9, "%s: syscall \"read\" is both allowed and denied", path);
	moat_diag_free(&diag);

	/* Conflicts are checked too, after the line errors, even when those exist. */
	assert_int_equal(load_text("[syscalls]\nallow = read\ndeny = read\naction = x\n", path,
				   sizeof(path), &p, &diag),
			 -1);
	expect_lines(&diag, 2);
	expect_line(&diag, 0, "%s:4: action: \"x\" is not errno, kill or log", path);
	expect_line(&diag, 1, "%s: syscall \"read\" is both allowed and denied", path);
	moat_diag_free(&diag);
}

static void test_syntax(void **state)
{
	struct moat_policy *p;

	(void)state;
	expect_file_error("[sandbox]\n[\n", 2, "section header without ']'");
	expect_file_error("[sandbox ; comment]\n", 1, "section header without ']'");
	expect_file_error("[sandbox]\nuser\n", 2, "expected KEY = VALUE");
	/* inih would read an indented line as a continuation of the value above. */
	expect_file_error("[sandbox]\nuser = 1:1\n\t2:2\n", 3,
			  "line starts with a space (continuation lines are not supported)");
	/* '#' is a comment only at the start of a line; " ;" also inline. */
	expect_file_error("[resources]\nmemory = 2G # two\n", 2, "memory: bad size \"2G # two\"");

	/* What is fine: comments, blank lines, inline " ;" comments, CRLF, a BOM,
	 * "key: value", header comments, indented comments. */
	p = load_ok("\xEF\xBB\xBF; policy\r\n"
		    "# another comment\r\n"
		    "\r\n"
		    "[resources] ; limits\r\n"
		    "memory = 2G ; two\r\n"
		    "   ; an indented comment\r\n"
		    "cpus: 3\r\n"
		    "[env]\r\n"
		    "set = X=a;b\r\n");
	assert_int_equal(p->memory, 2ull << 30);
	assert_int_equal(p->cpus_milli, 3000);
	assert_string_equal(p->env_set[0].value, "a;b");
	moat_policy_free(p);

	p = load_ok("");
	assert_string_equal(p->tier, MOAT_DEFAULT_TIER);
	moat_policy_free(p);
}

static void test_long_line(void **state)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char path[PATH_MAX + 64];
	char text[1024];
	int n;

	(void)state;
	/* A 300-character value: inih's 200-byte buffer would split the line in two. */
	n = snprintf(text, sizeof(text), "[env]\nset = X=");
	memset(text + n, 'x', 300);
	snprintf(text + n + 300, sizeof(text) - (size_t)n - 300, "\nbogus = 1\n");
	assert_int_equal(load_text(text, path, sizeof(path), &p, &diag), -1);
	expect_lines(&diag, 2);
	expect_line(&diag, 0, "%s:2: line longer than 198 characters", path);
	expect_line(&diag, 1, "%s:3: unknown key \"bogus\" in [env]", path);
	moat_diag_free(&diag);

	/* 198 characters is still one line. */
	n = snprintf(text, sizeof(text), "[env]\nset = X=");
	memset(text + n, 'x', (size_t)(198 - 8));
	snprintf(text + n + 190, sizeof(text) - (size_t)n - 190, "\n");
	p = load_ok(text);
	assert_int_equal(strlen(p->env_set[0].value), 190);
	moat_policy_free(p);

	/* 198 characters written tightly print as 200 ("set = "): the policy
	 * would not load back, so it does not load. */
	n = snprintf(text, sizeof(text), "[env]\nset=X=");
	memset(text + n, 'x', (size_t)(198 - 6));
	snprintf(text + n + 192, sizeof(text) - (size_t)n - 192, "\n");
	assert_int_equal(load_text(text, path, sizeof(path), &p, &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0,
		    "%s: set: value too long (its line \"set = ...\" would be 200 characters, a "
		    "policy file line at most 198)",
		    path);
	moat_diag_free(&diag);

	/* The same from the command line (moat_policy_set), caught by validate. */
	p = load_ok("");
	memset(text, 'x', 300);
	memcpy(text, "TOKEN=", 6);
	text[300] = '\0';
	assert_int_equal(moat_policy_set(p, "env", "set", text, NULL), 0);
	assert_int_equal(moat_policy_validate(p, "--env", &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0,
		    "--env: set: value too long (its line \"set = ...\" would be 306 characters, a "
		    "policy file line at most 198)");
	moat_diag_free(&diag);
	moat_policy_free(p);
}

/* The first comment line names the source: a long path is cut to fit. */
static void test_long_source(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct moat_policy *p;

	(void)state;
	p = load_ok("[sandbox]\ntier = base\n");
	free(p->source);
	p->source = malloc(400);
	assert_non_null(p->source);
	memset(p->source, 'd', 399);
	p->source[0] = '/';
	p->source[399] = '\0';
	text = moat_policy_to_string(p);
	assert_non_null(text);
	assert_int_equal(strchr(text, '\n') - text, 198);
	assert_non_null(strstr(text, ", source ...ddd"));
	assert_roundtrip(p);
	moat_policy_free(p);
}

static void test_tier_missing(void **state)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char path[PATH_MAX + 64];

	(void)state;
	/* The tier's absence is reported, and the file's own errors still are. */
	assert_int_equal(load_text("[sandbox]\ntier = nosuch\n[resources]\nmemory = lots\n", path,
				   sizeof(path), &p, &diag),
			 -1);
	assert_null(p);
	expect_lines(&diag, 2);
	expect_line(&diag, 0, "%s:2: tier \"nosuch\": %s/nosuch.ini: No such file or directory",
		    path, tmpdir);
	expect_line(&diag, 1, "%s:4: memory: bad size \"lots\"", path);
	moat_diag_free(&diag);

	assert_int_equal(moat_policy_load_tier("nosuch", &p, &diag), -1);
	assert_null(p);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "tier \"nosuch\": %s/nosuch.ini: No such file or directory", tmpdir);
	moat_diag_free(&diag);

	/* Without a tier key the default tier must exist too. */
	setenv("MOAT_POLICY_DIR", "/nonexistent", 1);
	assert_int_equal(load_text("[resources]\nmemory = 1G\n", path, sizeof(path), &p, &diag),
			 -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0,
		    "%s: default tier \"public\": /nonexistent/public.ini: "
		    "No such file or directory",
		    path);
	moat_diag_free(&diag);
}

static void test_tier_bad_name(void **state)
{
	static const char *const bad[] = { "a/b", "../public", "Public", "", ".", "pub lic",
					   "public.ini" };
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char text[256], want[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(moat_policy_load_tier(bad[i], &p, &diag), -1);
		assert_null(p);
		expect_lines(&diag, 1);
		expect_line(&diag, 0, "bad tier name \"%s\" (expected [a-z0-9_-]+)", bad[i]);
		moat_diag_free(&diag);
	}
	/* From a file too: a path that would reach the fixture base.ini is still refused. */
	snprintf(text, sizeof(text), "[sandbox]\ntier = ../%s/base\n", strrchr(tmpdir, '/') + 1);
	snprintf(want, sizeof(want), "tier: bad tier name \"../%s/base\" (expected [a-z0-9_-]+)",
		 strrchr(tmpdir, '/') + 1);
	expect_file_error(text, 2, want);
}

static void test_tier_rules(void **state)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char path[PATH_MAX + 64];

	(void)state;
	/* A tier naming itself is fine; naming another would be inheritance. */
	write_tier("loops", "[sandbox]\ntier = loops\ntier = base\n[resources]\npids = 5\n");
	assert_int_equal(moat_policy_load_tier("loops", &p, &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "%s/loops.ini:3: tier: a tier file cannot name another tier",
		    tmpdir);
	moat_diag_free(&diag);

	/* A tier's own errors and conflicts surface through a file that uses it. */
	write_tier("broken", "[resources]\nmemory = lots\n[network]\nnat = yes\n");
	assert_int_equal(load_text("[sandbox]\ntier = broken\n", path, sizeof(path), &p, &diag),
			 -1);
	expect_lines(&diag, 2);
	expect_line(&diag, 0, "%s/broken.ini:2: memory: bad size \"lots\"", tmpdir);
	expect_line(&diag, 1, "%s/broken.ini: nat = yes needs mode = veth", tmpdir);
	moat_diag_free(&diag);

	/* One tier key per file. */
	expect_file_error("[sandbox]\ntier = base\ntier = base\n", 3,
			  "tier: given twice (first on line 2)");

	/* moat_policy_set() can confirm the tier but not switch it. */
	p = moat_policy_new();
	{
		char *msg = NULL;

		assert_int_equal(moat_policy_set(p, "sandbox", "tier", "base", &msg), -1);
		assert_string_equal(msg, "tier: the base tier is fixed when a policy is loaded, "
					 "cannot change it to \"base\"");
		free(msg);
	}
	moat_policy_free(p);
	assert_int_equal(moat_policy_load_tier("base", &p, &diag), 0);
	assert_int_equal(moat_policy_set(p, "sandbox", "tier", "base", NULL), 0);
	moat_policy_free(p);
}

static void test_file_errors(void **state)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char path[PATH_MAX + 64];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.ini", tmpdir);
	assert_int_equal(moat_policy_load_file(path, &p, &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "%s: No such file or directory", path);
	moat_diag_free(&diag);

	assert_int_equal(moat_policy_load_file(tmpdir, &p, &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "%s: not a regular file", tmpdir);
	moat_diag_free(&diag);

	/* Over 1 MiB: refused before parsing (comment lines, so only the size is wrong). */
	snprintf(path, sizeof(path), "%s/huge.ini", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 1024 * 1024 / 64 + 1; i++)
		fprintf(f, "; %61s\n", "padding");
	fclose(f);
	assert_int_equal(moat_policy_load_file(path, &p, &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "%s: larger than 1 MiB", path);
	moat_diag_free(&diag);
	assert_int_equal(truncate(path, 1024 * 1024), 0); /* exactly the cap is fine */
	assert_int_equal(moat_policy_load_file(path, &p, &diag), 0);
	moat_policy_free(p);

	snprintf(path, sizeof(path), "%s/nul.ini", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("[sandbox]\n\0x = 1\n", 1, 17, f);
	fclose(f);
	assert_int_equal(moat_policy_load_file(path, &p, &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "%s: contains a NUL byte", path);
	moat_diag_free(&diag);
}

static void test_conflicts(void **state)
{
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char path[PATH_MAX + 64];

	(void)state;
	/* Every conflict at once, from a file. */
	assert_int_equal(load_text("[network]\nmode = none\nnat = yes\negress = dns\n"
				   "publish = 8080:80\npublish = 127.0.0.1:8080:81\n"
				   "publish = 0.0.0.0:9000:80\npublish = 10.1.1.1:9000:81\n"
				   "publish = 10.1.1.1:9001:81\npublish = 10.1.1.2:9001:81\n"
				   "[filesystem]\nro = /a:/x\nrw = /b:/x\nro = /x\nro = /y\n"
				   "[syscalls]\nallow = ptrace\ndeny = ptrace\n"
				   "[env]\npass = A\nset = A=1\nset = B=2\n",
				   path, sizeof(path), &p, &diag),
			 -1);
	assert_null(p);
	/* publish is fine without veth: the supervisor forwards into the netns. */
	expect_lines(&diag, 8);
	expect_line(&diag, 0, "%s: nat = yes needs mode = veth", path);
	expect_line(&diag, 1, "%s: egress rules need mode = veth (\"egress =\" clears them)", path);
	expect_line(&diag, 2, "%s: host port 127.0.0.1:8080 is published twice", path);
	expect_line(&diag, 3, "%s: host port 10.1.1.1:9000 is published twice", path);
	expect_line(&diag, 4, "%s: two binds on \"/x\"", path);
	expect_line(&diag, 5, "%s: two binds on \"/x\"", path);
	expect_line(&diag, 6, "%s: syscall \"ptrace\" is both allowed and denied", path);
	expect_line(&diag, 7, "%s: environment variable \"A\" is both passed and set", path);
	moat_diag_free(&diag);

	/* A conflict made of the tier's value and the file's. */
	assert_int_equal(load_text("[sandbox]\ntier = base\n[syscalls]\nallow = ptrace\n"
				   "[network]\nmode = none\negress =\npublish =\n",
				   path, sizeof(path), &p, &diag),
			 -1);
	expect_lines(&diag, 2);
	expect_line(&diag, 0, "%s: nat = yes needs mode = veth", path);
	expect_line(&diag, 1, "%s: syscall \"ptrace\" is both allowed and denied", path);
	moat_diag_free(&diag);

	/* Directly, as the command line uses it after its overrides. */
	p = moat_policy_new();
	assert_int_equal(moat_policy_validate(p, "x", &diag), 0);
	assert_int_equal(moat_policy_set(p, "network", "nat", "yes", NULL), 0);
	assert_int_equal(moat_policy_validate(p, "--nat", &diag), -1);
	expect_lines(&diag, 1);
	expect_line(&diag, 0, "--nat: nat = yes needs mode = veth");
	moat_diag_free(&diag);
	assert_int_equal(moat_policy_validate(p, NULL, &diag), -1);
	expect_line(&diag, 0, "nat = yes needs mode = veth");
	moat_diag_free(&diag);
	assert_int_equal(moat_policy_set(p, "network", "mode", "veth", NULL), 0);
	assert_int_equal(moat_policy_validate(p, "x", &diag), 0);
	assert_int_equal(diag.lines.n, 0);
	moat_policy_free(p);
}

static void test_policy_set(void **state)
{
	struct moat_policy *p = moat_policy_new();
	char *msg = NULL, host[80];

	(void)state;
	assert_int_equal(moat_policy_set(p, "resources", "memory", "512M", &msg), 0);
	assert_null(msg);
	assert_int_equal(p->memory, 512ull << 20);
	assert_int_equal(moat_policy_set(p, "resources", "memory", "0", &msg), 0);
	assert_int_equal(p->memory, 0);
	assert_int_equal(moat_policy_set(p, "resources", "pids", "0", &msg), 0);
	assert_int_equal(p->pids, 0);

	assert_int_equal(moat_policy_set(p, "nope", "memory", "1G", &msg), -1);
	assert_string_equal(msg, "unknown section [nope]");
	free(msg);
	assert_int_equal(moat_policy_set(p, "resources", "ram", "1G", &msg), -1);
	assert_string_equal(msg, "unknown key \"ram\" in [resources]");
	free(msg);
	/* A value a policy file could not hold is refused, so format() round-trips. */
	assert_int_equal(moat_policy_set(p, "env", "set", "A=x\ny", &msg), -1);
	assert_string_equal(msg, "set: control character in value");
	free(msg);
	assert_int_equal(moat_policy_set(p, "env", "set", "A=x ;y", &msg), -1);
	assert_string_equal(msg, "set: \";\" after a space or at the start "
				 "(a policy file reads a comment)");
	free(msg);
	assert_int_equal(moat_policy_set(p, "sandbox", "hostname", ";x", &msg), -1);
	assert_string_equal(msg, "hostname: \";\" after a space or at the start "
				 "(a policy file reads a comment)");
	free(msg);
	assert_int_equal(moat_policy_set(p, "env", "set", "A=x ", &msg), -1);
	assert_string_equal(msg, "set: space at the start or end of value");
	free(msg);
	assert_int_equal(moat_policy_set(p, "env", "set", "A=x y;z", &msg), 0);
	assert_int_equal(moat_policy_set(p, "env", "set", "E=", &msg), 0);
	assert_string_equal(p->env_set[1].value, "");
	/* A NULL ret_msg is allowed. */
	assert_int_equal(moat_policy_set(p, "resources", "memory", "bad", NULL), -1);

	/* hostname: set, then back to the sandbox's name with an empty value. */
	assert_int_equal(moat_policy_set(p, "sandbox", "hostname", "llm-1", &msg), 0);
	assert_string_equal(p->hostname, "llm-1");
	assert_int_equal(moat_policy_set(p, "sandbox", "hostname", "", &msg), 0);
	assert_null(p->hostname);
	/* 64 characters: one more than the kernel's UTS name holds. */
	memset(host, 'a', 64);
	host[64] = '\0';
	assert_int_equal(moat_policy_set(p, "sandbox", "hostname", host, &msg), -1);
	free(msg);
	host[63] = '\0';
	assert_int_equal(moat_policy_set(p, "sandbox", "hostname", host, &msg), 0);

	/* Scalars have no empty form. */
	assert_int_equal(moat_policy_set(p, "resources", "cpus", "", &msg), -1);
	assert_string_equal(msg, "cpus: bad cpu count \"\"");
	free(msg);
	moat_policy_free(p);
}

static void test_list_cap(void **state)
{
	struct moat_policy *p = moat_policy_new();
	char name[32], *msg = NULL;

	(void)state;
	for (int i = 0; i < 1024; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		assert_int_equal(moat_policy_set(p, "env", "pass", name, NULL), 0);
	}
	assert_int_equal(moat_policy_set(p, "env", "pass", "ONE_MORE", &msg), -1);
	assert_string_equal(msg, "pass: more than 1024 entries");
	free(msg);
	moat_policy_free(p);
}

static void test_roundtrip(void **state)
{
	struct moat_policy *p;
	_cleanup_free_ char *text = NULL;

	(void)state;
	/* A rich policy on a tier: clears, odd sizes, every rule kind, v6. */
	p = load_ok("[sandbox]\ntier = base\nhostname = llm-1\naccounting = no\n"
		    "[filesystem]\nro =\nro = /srv/models:/models\nrw = /srv/cache\n"
		    "tmp_size = 1.5G\n"
		    "[resources]\nmemory = 1536M\ncpus = 0.125\npids = 0\nlog_rate = 0\n"
		    "log_burst = 1.5M\n"
		    "devices = /dev/nvidia* rwm\n"
		    "[syscalls]\nprofile = strict\naction = log\nallow = perf_event_open\n"
		    "[network]\negress = 2001:db8::/32 udp/5000-5100\n"
		    "egress = api.example.com tcp/443\negress = model:embedder tcp/9000\n"
		    "egress = 192.0.2.7 icmp\negress = 10.1.0.0/16 any/80\n"
		    "egress = 10.2.0.0/16 tcp\npublish = 0.0.0.0:9443:443\n"
		    "[env]\npass = HF_HOME\nset = PROMPT=a=b;c\nset = EMPTY=\n");
	assert_roundtrip(p);
	text = moat_policy_to_string(p);
	assert_non_null(text);
	assert_non_null(strstr(text, "# moat policy: tier base, source "));
	assert_non_null(strstr(text, "tmp_size = 1536M\n"));
	assert_non_null(strstr(text, "cpus = 0.125\n"));
	assert_non_null(strstr(text, "log_rate = 0\nlog_burst = 1536K\n"));
	assert_non_null(strstr(text, "egress = 192.0.2.7/32 icmp\n"));
	moat_policy_free(p);

	/* The built-in defaults alone, and a policy reduced to nothing. */
	p = load_ok("");
	assert_roundtrip(p);
	moat_policy_free(p);
	p = load_ok("[sandbox]\ntier = base\n[filesystem]\nro =\nrw =\n[resources]\ndevices =\n"
		    "[syscalls]\nallow =\ndeny =\n[network]\negress =\npublish =\nnat = no\n"
		    "[env]\npass =\nset =\n");
	assert_roundtrip(p);
	moat_policy_free(p);

	/* moat_policy_format() onto a stream gives the same text. */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		p = load_ok("[sandbox]\ntier = base\n");
		assert_non_null(f);
		assert_int_equal(moat_policy_format(p, f), 0);
		fclose(f);
		free(text);
		text = moat_policy_to_string(p);
		assert_string_equal(buf, text);
		free(buf);
		moat_policy_free(p);
	}
}

/* The three shipped tiers load on their own, say what docs/policy.md says, round-trip. */
static void test_shipped_tiers(void **state)
{
	static const char *const names[] = { "public", "internal", "critical" };
	const char *srcdir = getenv("MOAT_SRCDIR");
	struct moat_diag diag = { 0 };
	struct moat_policy *p = NULL;
	char dir[PATH_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/policies", srcdir && *srcdir ? srcdir : ".");
	setenv("MOAT_POLICY_DIR", dir, 1);

	if (moat_policy_load_tier("public", &p, &diag) < 0) {
		print_diag(&diag);
		fail_msg("tier public does not load from %s", dir);
	}
	assert_int_equal(p->net_mode, MOAT_NET_NONE);
	assert_int_equal(p->n_egress, 0);
	assert_int_equal(p->memory, 1ull << 30);
	assert_int_equal(p->cpus_milli, 1000);
	assert_int_equal(p->pids, 256);
	assert_int_equal(p->tmp_size, 64ull << 20);
	assert_string_equal(p->seccomp_profile, "strict");
	assert_int_equal(p->seccomp_action, MOAT_SECCOMP_KILL);
	assert_int_equal(p->audit, MOAT_AUDIT_DENIALS);
	assert_roundtrip(p);
	moat_policy_free(p);

	assert_int_equal(moat_policy_load_tier("internal", &p, &diag), 0);
	assert_int_equal(p->net_mode, MOAT_NET_VETH);
	assert_int_equal(p->n_egress, 1);
	assert_int_equal(p->egress[0].kind, MOAT_RULE_DNS);
	assert_int_equal(p->memory, 4ull << 30);
	assert_int_equal(p->cpus_milli, 2000);
	assert_int_equal(p->pids, 1024);
	assert_string_equal(p->seccomp_profile, "baseline");
	assert_int_equal(p->seccomp_action, MOAT_SECCOMP_ERRNO);
	assert_roundtrip(p);
	moat_policy_free(p);

	assert_int_equal(moat_policy_load_tier("critical", &p, &diag), 0);
	assert_int_equal(p->net_mode, MOAT_NET_VETH);
	assert_int_equal(p->n_egress, 0);
	assert_int_equal(p->memory, 8ull << 30);
	assert_int_equal(p->cpus_milli, 4000);
	assert_int_equal(p->pids, 1024);
	assert_string_equal(p->seccomp_profile, "strict");
	assert_int_equal(p->seccomp_action, MOAT_SECCOMP_KILL);
	assert_int_equal(p->audit, MOAT_AUDIT_FULL);
	assert_int_equal(p->log_rate, 1ull << 20);
	assert_int_equal(p->log_burst, 4ull << 20);
	assert_roundtrip(p);
	moat_policy_free(p);
	assert_int_equal(diag.lines.n, 0);

	/* Each is also a valid policy file on its own (moat policy check runs on them),
	 * equal to the tier it names. */
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct moat_policy *tier = NULL;
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/%s.ini", dir, names[i]);
		if (moat_policy_load_file(path, &p, &diag) < 0) {
			print_diag(&diag);
			fail_msg("%s does not load as a policy file", path);
		}
		assert_int_equal(moat_policy_load_tier(names[i], &tier, &diag), 0);
		assert_policy_equal(p, tier);
		moat_policy_free(tier);
		moat_policy_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_policy_dir),
		cmocka_unit_test_setup(test_load_tier, test_setup),
		cmocka_unit_test_setup(test_inherit_tier, test_setup),
		cmocka_unit_test_setup(test_default_tier, test_setup),
		cmocka_unit_test_setup(test_scalar_override, test_setup),
		cmocka_unit_test_setup(test_list_append, test_setup),
		cmocka_unit_test_setup(test_list_clear, test_setup),
		cmocka_unit_test_setup(test_unknown_section_and_key, test_setup),
		cmocka_unit_test_setup(test_value_errors, test_setup),
		cmocka_unit_test_setup(test_every_error_reported, test_setup),
		cmocka_unit_test_setup(test_syntax, test_setup),
		cmocka_unit_test_setup(test_long_line, test_setup),
		cmocka_unit_test_setup(test_long_source, test_setup),
		cmocka_unit_test_setup(test_tier_missing, test_setup),
		cmocka_unit_test_setup(test_tier_bad_name, test_setup),
		cmocka_unit_test_setup(test_tier_rules, test_setup),
		cmocka_unit_test_setup(test_file_errors, test_setup),
		cmocka_unit_test_setup(test_conflicts, test_setup),
		cmocka_unit_test_setup(test_policy_set, test_setup),
		cmocka_unit_test_setup(test_list_cap, test_setup),
		cmocka_unit_test_setup(test_roundtrip, test_setup),
		cmocka_unit_test_setup(test_shipped_tiers, test_setup),
	};

	return cmocka_run_group_tests_name("policy", tests, group_setup, group_teardown);
}
