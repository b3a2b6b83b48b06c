// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy files (policy.h, docs/policy.md). A file is read whole (capped at
 * 1 MiB) and handed to libinih through our own reader, which numbers the
 * lines: Debian's inih calls the handler without a line number and returns
 * only the first syntax error, and `moat policy check` must show an operator
 * every problem, each with FILE:LINE, in one run. So nothing stops at the
 * first error: entries are collected, applied on top of the tier, and all
 * errors are reported together, sorted by line.
 */
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "policy.h"

#ifndef MOAT_DATADIR
#define MOAT_DATADIR "/usr/local/share/moat"
#endif

#define POLICY_FILE_MAX (1024 * 1024) /* a policy is a page of text; cap what we read */
#define POLICY_LIST_MAX 1024	      /* entries per list key */
#define TIER_NAME_MAX	64
#define MIB		(1024ull * 1024)
#define PIDS_MAX	4194304 /* PID_MAX_LIMIT on 64-bit kernels */
/* moat-init and the command are in the pids limit from the start: with 1,
 * init's fork of the command fails (EAGAIN) and no sandbox can launch. */
#define PIDS_MIN	2

/* inih reads a line into INI_MAX_LINE bytes, its newline and NUL included:
 * the longest line a policy file can hold (and moat_policy_format print). */
#define POLICY_LINE_MAX (INI_MAX_LINE - 2)

/* ---- built-in defaults, life cycle ----------------------------------------------------- */

/*
 * The values a key has when neither the tier nor the file sets it. They are
 * the public tier's, so a tier file that forgets a key fails closed.
 */
struct moat_policy *moat_policy_new(void)
{
	struct moat_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->seccomp_profile = strdup("strict");
	if (!p->seccomp_profile) {
		free(p);
		return NULL;
	}
	p->uid = 65534; /* nobody:nogroup */
	p->gid = 65534;
	p->accounting = true;
	p->audit = MOAT_AUDIT_DENIALS;
	p->tmp_size = 64 * MIB;
	p->memory = 1024 * MIB;
	p->cpus_milli = 1000;
	p->pids = 256;
	p->log_rate = MIB;
	p->log_burst = 4 * MIB;
	p->seccomp_action = MOAT_SECCOMP_KILL;
	p->net_mode = MOAT_NET_NONE;
	if (moat_parse_cidr(MOAT_DEFAULT_POOL, &p->pool, &(const char *){NULL}) < 0) {
		moat_policy_free(p);
		return NULL;
	}
	return p;
}

static void binds_clear(struct moat_policy *p, bool rw)
{
	size_t kept = 0;

	/* Only the binds of one key ("ro =" or "rw ="); the rest keep their order. */
	for (size_t i = 0; i < p->n_binds; i++) {
		if (p->binds[i].rw == rw) {
			free(p->binds[i].src);
			free(p->binds[i].dst);
			continue;
		}
		p->binds[kept++] = p->binds[i];
	}
	p->n_binds = kept;
	if (kept == 0) {
		free(p->binds);
		p->binds = NULL;
	}
}

static void env_set_clear(struct moat_policy *p)
{
	for (size_t i = 0; i < p->n_env_set; i++) {
		free(p->env_set[i].name);
		free(p->env_set[i].value);
	}
	free(p->env_set);
	p->env_set = NULL;
	p->n_env_set = 0;
}

void moat_policy_free(struct moat_policy *p)
{
	if (!p)
		return;
	free(p->tier);
	free(p->source);
	free(p->hostname);
	binds_clear(p, false);
	binds_clear(p, true);
	free(p->devices);
	free(p->seccomp_profile);
	moat_strv_clear(&p->syscalls_allow);
	moat_strv_clear(&p->syscalls_deny);
	free(p->egress);
	free(p->publish);
	moat_strv_clear(&p->env_pass);
	env_set_clear(p);
	free(p);
}

void moat_diag_free(struct moat_diag *d)
{
	moat_strv_clear(&d->lines);
}

static void diag_add(struct moat_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Out of memory loses the line, never the failure: callers return -1 regardless. */
static void diag_add(struct moat_diag *d, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	moat_strv_push_take(&d->lines, s);
}

/* ---- where tier files live --------------------------------------------------------------- */

static bool tier_name_valid(const char *name)
{
	size_t len = strlen(name);

	/* No '/' or '.': the name becomes a file name under the policy directory. */
	return len > 0 && len <= TIER_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static void strip_last_component(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash)
		*(slash == path ? slash + 1 : slash) = '\0';
}

/*
 * moat runs as root and is not setuid, so MOAT_POLICY_DIR is the operator's
 * own choice, not an attacker's. The result is recomputed on every call
 * (tests switch the variable) into one static buffer: not thread-safe.
 */
const char *moat_policy_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("MOAT_POLICY_DIR");
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n;

	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
		return dir;
	}
	/* build/moat finds ./policies: the tree is the parent of the binary's directory. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		strip_last_component(exe);
		strip_last_component(exe);
		snprintf(probe, sizeof(probe), "%s/policies/%s.ini", exe, MOAT_DEFAULT_TIER);
		if (access(probe, R_OK) == 0 &&
		    (size_t)snprintf(dir, sizeof(dir), "%s/policies", exe) < sizeof(dir))
			return dir;
	}
	return MOAT_DATADIR "/policies";
}

/* ---- keys ------------------------------------------------------------------------------ */

/* Every value error reads "KEY: WHAT "VALUE"" (the caller adds FILE:LINE). */
static int bad_value(char **ret_msg, const char *key, const char *what, const char *value)
{
	*ret_msg = moat_strdup_printf("%s: %s \"%s\"", key, what, value);
	return -1;
}

static int bad_choice(char **ret_msg, const char *key, const char *value, const char *choices)
{
	*ret_msg = moat_strdup_printf("%s: \"%s\" is not %s", key, value, choices);
	return -1;
}

static int too_many(char **ret_msg, const char *key)
{
	*ret_msg = moat_strdup_printf("%s: more than %d entries", key, POLICY_LIST_MAX);
	return -1;
}

/* A NULL message tells the caller it was out of memory. */
static int no_memory(char **ret_msg)
{
	*ret_msg = NULL;
	errno = ENOMEM;
	return -1;
}

static int choice(const char *value, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(value, names[i]) == 0)
			return (int)i;
	return -1;
}

static int replace_string(char **field, const char *value, char **ret_msg)
{
	char *copy = strdup(value);

	if (!copy)
		return no_memory(ret_msg);
	free(*field);
	*field = copy;
	return 0;
}

/* Grows an array by one element; the new slot is the caller's to fill. */
static void *array_grow(void *array, size_t n, size_t size)
{
	return realloc(array, (n + 1) * size);
}

/* An empty assignment clears a list key (systemd's convention); evaluates to 0. */
#define LIST_CLEAR(array, n)                                                                       \
	({                                                                                         \
		free(array);                                                                       \
		(array) = NULL;                                                                    \
		(n) = 0;                                                                           \
		0;                                                                                 \
	})

/*
 * Appends a copy of elem to a list key's array of *n elements, capped at
 * POLICY_LIST_MAX. Returns the new array (*n incremented), or NULL with
 * *ret_msg set; the old array is untouched then.
 */
static void *list_append(void *array, size_t *n, size_t size, const void *elem, const char *key,
			 char **ret_msg)
{
	char *grown;

	if (*n >= POLICY_LIST_MAX) {
		too_many(ret_msg, key);
		return NULL;
	}
	grown = array_grow(array, *n, size);
	if (!grown) {
		no_memory(ret_msg);
		return NULL;
	}
	memcpy(grown + *n * size, elem, size);
	(*n)++;
	return grown;
}

/* The loaders resolve the tier before anything else; here it can only be confirmed. */
static int set_tier(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	if (!tier_name_valid(value))
		return bad_value(ret_msg, key, "bad tier name (expected [a-z0-9_-]+)", value);
	if (p->tier && strcmp(p->tier, value) == 0)
		return 0;
	*ret_msg = moat_strdup_printf("%s: the base tier is fixed when a policy is loaded, "
				      "cannot change it to \"%s\"",
				      key, value);
	return -1;
}

static int set_user(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	const char *msg;

	if (moat_parse_user(value, &p->uid, &p->gid, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	return 0;
}

static int set_hostname(struct moat_policy *p, const char *key, const char *value,
			char **ret_msg)
{
	if (!*value) {
		/* Back to the default: the sandbox's name. */
		free(p->hostname);
		p->hostname = NULL;
		return 0;
	}
	/* The kernel's UTS name holds 64 bytes with the NUL. */
	if (strlen(value) > MOAT_NAME_MAX || !moat_hostname_valid(value))
		return bad_value(ret_msg, key, "bad hostname (RFC 1123, at most 63 characters)",
				 value);
	return replace_string(&p->hostname, value, ret_msg);
}

static int set_bool(bool *field, const char *key, const char *value, char **ret_msg)
{
	const char *msg;

	if (moat_parse_bool(value, field, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	return 0;
}

static int set_accounting(struct moat_policy *p, const char *key, const char *value,
			  char **ret_msg)
{
	return set_bool(&p->accounting, key, value, ret_msg);
}

static int set_audit(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	static const char *const names[] = { [MOAT_AUDIT_DENIALS] = "denials",
					     [MOAT_AUDIT_FULL] = "full" };
	int i = choice(value, names, ARRAY_SIZE(names));

	if (i < 0)
		return bad_choice(ret_msg, key, value, "denials or full");
	p->audit = (enum moat_audit)i;
	return 0;
}

static int add_bind(struct moat_policy *p, const char *key, const char *value, bool rw,
		    char **ret_msg)
{
	char *src = NULL, *dst = NULL;
	struct moat_bind *binds;
	const char *msg;

	if (!*value) {
		binds_clear(p, rw);
		return 0;
	}
	if (p->n_binds >= POLICY_LIST_MAX)
		return too_many(ret_msg, key);
	if (moat_parse_bind(value, &src, &dst, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	binds = array_grow(p->binds, p->n_binds, sizeof(*binds));
	if (!binds) {
		free(src);
		free(dst);
		return no_memory(ret_msg);
	}
	p->binds = binds;
	binds[p->n_binds++] = (struct moat_bind){ .src = src, .dst = dst, .rw = rw };
	return 0;
}

static int set_ro(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	return add_bind(p, key, value, false, ret_msg);
}

static int set_rw(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	return add_bind(p, key, value, true, ret_msg);
}

static int set_tmp_size(struct moat_policy *p, const char *key, const char *value,
			char **ret_msg)
{
	const char *msg;
	uint64_t v;

	if (moat_parse_size(value, &v, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	/* tmpfs reads size=0 as "no limit": never let a cap turn into none. */
	if (v < 4096)
		return bad_value(ret_msg, key, "size below 4K", value);
	p->tmp_size = v;
	return 0;
}

static int set_memory(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	const char *msg;
	uint64_t v;

	if (moat_parse_size(value, &v, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	/* "memory = 512" is a forgotten unit, not a 512-byte model server. */
	if (v && v < MIB)
		return bad_value(ret_msg, key, "size below 1M (0 means no limit)", value);
	p->memory = v;
	return 0;
}

static int set_cpus(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	const char *msg;
	uint32_t milli;

	/* As for every [resources] key, 0 means no limit. */
	if (strcmp(value, "0") == 0) {
		p->cpus_milli = 0;
		return 0;
	}
	if (moat_parse_cpus(value, &milli, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	p->cpus_milli = milli;
	return 0;
}

static int set_pids(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	const char *msg;
	uint64_t pids;

	if (moat_parse_uint(value, 0, PIDS_MAX, &pids, &msg) < 0)
		return bad_value(ret_msg, key, "not a number from 0 to 4194304", value);
	if (pids != 0 && pids < PIDS_MIN) {
		*ret_msg = moat_strdup_printf("%s: below %d, the fewest a sandbox runs with "
					      "(moat-init and the command; 0 means no limit) \"%s\"",
					      key, PIDS_MIN, value);
		return -1;
	}
	p->pids = pids;
	return 0;
}

static int set_log_rate(struct moat_policy *p, const char *key, const char *value,
			char **ret_msg)
{
	const char *msg;
	uint64_t v;

	if (moat_parse_size(value, &v, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	/* "log_rate = 100" is a forgotten unit: 100 bytes a second keeps nothing. */
	if (v && v < 1024)
		return bad_value(ret_msg, key, "rate below 1K a second (0 means no limit)", value);
	p->log_rate = v;
	return 0;
}

static int set_log_burst(struct moat_policy *p, const char *key, const char *value,
			 char **ret_msg)
{
	const char *msg;
	uint64_t v;

	if (moat_parse_size(value, &v, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	/* With no burst at all nothing could ever be written. */
	if (v < 4096)
		return bad_value(ret_msg, key, "size below 4K", value);
	p->log_burst = v;
	return 0;
}

static int set_devices(struct moat_policy *p, const char *key, const char *value,
		       char **ret_msg)
{
	struct moat_device dev, *devices;
	const char *msg;

	if (!*value)
		return LIST_CLEAR(p->devices, p->n_devices);
	if (moat_parse_device(value, &dev, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	/* A later line for the same path changes its access, like a scalar. */
	for (size_t i = 0; i < p->n_devices; i++) {
		if (strcmp(p->devices[i].path, dev.path) == 0) {
			p->devices[i] = dev;
			return 0;
		}
	}
	devices = list_append(p->devices, &p->n_devices, sizeof(dev), &dev, key, ret_msg);
	if (!devices)
		return -1;
	p->devices = devices;
	return 0;
}

static int set_profile(struct moat_policy *p, const char *key, const char *value,
		       char **ret_msg)
{
	static const char *const names[] = { "baseline", "strict", "none" };

	if (choice(value, names, ARRAY_SIZE(names)) < 0)
		return bad_choice(ret_msg, key, value, "baseline, strict or none");
	return replace_string(&p->seccomp_profile, value, ret_msg);
}

static int add_syscall(struct moat_strv *sv, const char *key, const char *value, char **ret_msg)
{
	if (!*value) {
		moat_strv_clear(sv);
		return 0;
	}
	if (!moat_syscall_name_valid(value))
		return bad_value(ret_msg, key, "bad syscall name", value);
	if (moat_strv_contains(sv, value))
		return 0;
	if (sv->n >= POLICY_LIST_MAX)
		return too_many(ret_msg, key);
	if (moat_strv_push(sv, value) < 0)
		return no_memory(ret_msg);
	return 0;
}

static int set_allow(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	return add_syscall(&p->syscalls_allow, key, value, ret_msg);
}

static int set_deny(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	return add_syscall(&p->syscalls_deny, key, value, ret_msg);
}

static int set_action(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	static const char *const names[] = { [MOAT_SECCOMP_ERRNO] = "errno",
					     [MOAT_SECCOMP_KILL] = "kill",
					     [MOAT_SECCOMP_LOG] = "log" };
	int i = choice(value, names, ARRAY_SIZE(names));

	if (i < 0)
		return bad_choice(ret_msg, key, value, "errno, kill or log");
	p->seccomp_action = (enum moat_seccomp_action)i;
	return 0;
}

static int set_mode(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	static const char *const names[] = { [MOAT_NET_NONE] = "none", [MOAT_NET_VETH] = "veth" };
	int i = choice(value, names, ARRAY_SIZE(names));

	if (i < 0)
		return bad_choice(ret_msg, key, value, "none or veth");
	p->net_mode = (enum moat_net_mode)i;
	return 0;
}

/* Field by field: struct padding need not compare equal. */
static bool rule_equal(const struct moat_egress_rule *a, const struct moat_egress_rule *b)
{
	if (a->kind != b->kind || a->proto != b->proto || a->port_lo != b->port_lo ||
	    a->port_hi != b->port_hi)
		return false;
	switch (a->kind) {
	case MOAT_RULE_CIDR:
		return a->cidr.family == b->cidr.family && a->cidr.prefix == b->cidr.prefix &&
		       memcmp(a->cidr.addr, b->cidr.addr, sizeof(a->cidr.addr)) == 0;
	case MOAT_RULE_HOST:
	case MOAT_RULE_MODEL:
		return strcmp(a->target, b->target) == 0;
	case MOAT_RULE_DNS:
		return true;
	}
	return false;
}

static int set_egress(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	struct moat_egress_rule rule, *egress;
	const char *msg;

	if (!*value)
		return LIST_CLEAR(p->egress, p->n_egress);
	if (moat_parse_egress_rule(value, &rule, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	/* A repeat adds nothing (a tier file loaded as a policy file repeats them all). */
	for (size_t i = 0; i < p->n_egress; i++)
		if (rule_equal(&p->egress[i], &rule))
			return 0;
	egress = list_append(p->egress, &p->n_egress, sizeof(rule), &rule, key, ret_msg);
	if (!egress)
		return -1;
	p->egress = egress;
	return 0;
}

static int set_publish(struct moat_policy *p, const char *key, const char *value,
		       char **ret_msg)
{
	struct moat_publish pub, *publish;
	const char *msg;

	if (!*value)
		return LIST_CLEAR(p->publish, p->n_publish);
	if (moat_parse_publish(value, &pub, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	publish = list_append(p->publish, &p->n_publish, sizeof(pub), &pub, key, ret_msg);
	if (!publish)
		return -1;
	p->publish = publish;
	return 0;
}

/* The pool must hold at least one /30 (a host end and a sandbox end). */
static int set_pool(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	struct moat_cidr pool;
	const char *msg;

	if (moat_parse_cidr(value, &pool, &msg) < 0)
		return bad_value(ret_msg, key, msg, value);
	if (pool.family != AF_INET || pool.prefix > 30)
		return bad_value(ret_msg, key, "expected an IPv4 network of /30 or more addresses", value);
	p->pool = pool;
	return 0;
}

static int set_nat(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	return set_bool(&p->nat, key, value, ret_msg);
}

static int set_pass(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	if (!*value) {
		moat_strv_clear(&p->env_pass);
		return 0;
	}
	if (!moat_env_name_valid(value))
		return bad_value(ret_msg, key, "bad variable name", value);
	if (moat_strv_contains(&p->env_pass, value))
		return 0;
	if (p->env_pass.n >= POLICY_LIST_MAX)
		return too_many(ret_msg, key);
	if (moat_strv_push(&p->env_pass, value) < 0)
		return no_memory(ret_msg);
	return 0;
}

static int set_env(struct moat_policy *p, const char *key, const char *value, char **ret_msg)
{
	const char *eq = strchr(value, '=');
	_cleanup_free_ char *name = NULL;
	struct moat_env_set *set;
	char *copy;

	if (!*value) {
		env_set_clear(p);
		return 0;
	}
	if (!eq)
		return bad_value(ret_msg, key, "expected NAME=VALUE", value);
	name = strndup(value, (size_t)(eq - value));
	if (!name)
		return no_memory(ret_msg);
	if (!moat_env_name_valid(name))
		return bad_value(ret_msg, key, "bad variable name", value);
	copy = strdup(eq + 1);
	if (!copy)
		return no_memory(ret_msg);
	/* A later value for the same name replaces the earlier one, like a scalar. */
	for (size_t i = 0; i < p->n_env_set; i++) {
		if (strcmp(p->env_set[i].name, name) == 0) {
			free(p->env_set[i].value);
			p->env_set[i].value = copy;
			return 0;
		}
	}
	if (p->n_env_set >= POLICY_LIST_MAX) {
		free(copy);
		return too_many(ret_msg, key);
	}
	set = array_grow(p->env_set, p->n_env_set, sizeof(*set));
	if (!set) {
		free(copy);
		return no_memory(ret_msg);
	}
	p->env_set = set;
	set[p->n_env_set++] = (struct moat_env_set){ .name = TAKE_PTR(name), .value = copy };
	return 0;
}

typedef int (*key_setter)(struct moat_policy *p, const char *key, const char *value,
			  char **ret_msg);

static const struct key_def {
	const char *section;
	const char *key;
	key_setter set;
} keys[] = {
	{ "sandbox", "tier", set_tier },
	{ "sandbox", "user", set_user },
	{ "sandbox", "hostname", set_hostname },
	{ "sandbox", "accounting", set_accounting },
	{ "sandbox", "audit", set_audit },
	{ "filesystem", "ro", set_ro },
	{ "filesystem", "rw", set_rw },
	{ "filesystem", "tmp_size", set_tmp_size },
	{ "resources", "memory", set_memory },
	{ "resources", "cpus", set_cpus },
	{ "resources", "pids", set_pids },
	{ "resources", "log_rate", set_log_rate },
	{ "resources", "log_burst", set_log_burst },
	{ "resources", "devices", set_devices },
	{ "syscalls", "profile", set_profile },
	{ "syscalls", "allow", set_allow },
	{ "syscalls", "deny", set_deny },
	{ "syscalls", "action", set_action },
	{ "network", "mode", set_mode },
	{ "network", "egress", set_egress },
	{ "network", "publish", set_publish },
	{ "network", "nat", set_nat },
	{ "network", "pool", set_pool },
	{ "env", "pass", set_pass },
	{ "env", "set", set_env },
};

static bool section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

static const struct key_def *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return &keys[i];
	return NULL;
}

/*
 * Why value could not stand in a policy file, or NULL. The command line
 * shares moat_policy_set(), and what it accepts must print back as a file
 * that loads to the same policy: inih trims both ends of a value and cuts it
 * at " ;" (an inline comment), and a line ends at a newline.
 */
static const char *unwritable(const char *value)
{
	size_t len = strlen(value);

	for (const char *c = value; *c; c++) {
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return "control character in value";
		/* At the start too: the file has "key = ;...". */
		if (*c == ';' && (c == value || isspace((unsigned char)c[-1])))
			return "\";\" after a space or at the start "
			       "(a policy file reads a comment)";
	}
	if (len && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[len - 1])))
		return "space at the start or end of value";
	return NULL;
}

int moat_policy_set(struct moat_policy *p, const char *section, const char *key,
		    const char *value, char **ret_msg)
{
	const struct key_def *def = find_key(section, key);
	const char *why;
	char *msg = NULL;
	int r;

	if (!section_known(section)) {
		msg = moat_strdup_printf("unknown section [%s]", section);
		r = -1;
	} else if (!def) {
		msg = moat_strdup_printf("unknown key \"%s\" in [%s]", key, section);
		r = -1;
	} else if ((why = unwritable(value))) {
		msg = moat_strdup_printf("%s: %s", key, why);
		r = -1;
	} else {
		r = def->set(p, key, value, &msg);
	}
	if (ret_msg)
		*ret_msg = msg;
	else
		free(msg);
	return r;
}

/* ---- reading a file -------------------------------------------------------------------- */

/* One "KEY = VALUE", or with key NULL one "[SECTION]" header, and its line. */
struct ini_entry {
	char *section;
	char *key;
	char *value;
	unsigned line;
};

struct file_error {
	unsigned line; /* 0: about the file as a whole */
	size_t seq;    /* keeps one line's errors in the order found */
	char *msg;
};

/* A policy file being read: the reader's cursor, what inih reported, what went wrong. */
struct policy_file {
	const char *path;
	char *data; /* the whole file, NUL-terminated */
	size_t len, pos;
	unsigned lineno; /* the line inih is working on */
	const char *line; /* its text without the newline; NULL once checked */
	size_t line_len;
	bool line_indented;
	bool line_too_long;
	int max_line; /* inih's buffer size, as its reader calls tell */
	unsigned keys_on_line;
	struct ini_entry *entries;
	size_t n_entries;
	struct file_error *errors;
	size_t n_errors;
	bool oom;
};

static void policy_file_free(struct policy_file *f)
{
	for (size_t i = 0; i < f->n_entries; i++) {
		free(f->entries[i].section);
		free(f->entries[i].key);
		free(f->entries[i].value);
	}
	free(f->entries);
	for (size_t i = 0; i < f->n_errors; i++)
		free(f->errors[i].msg);
	free(f->errors);
	free(f->data);
}

static void file_error(struct policy_file *f, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void file_error(struct policy_file *f, unsigned line, const char *fmt, ...)
{
	struct file_error *errors;
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	errors = msg ? array_grow(f->errors, f->n_errors, sizeof(*errors)) : NULL;
	if (!errors) {
		free(msg);
		f->oom = true;
		return;
	}
	f->errors = errors;
	errors[f->n_errors] = (struct file_error){ .line = line, .seq = f->n_errors, .msg = msg };
	f->n_errors++;
}

static bool has_error_on(const struct policy_file *f, unsigned line)
{
	for (size_t i = 0; i < f->n_errors; i++)
		if (f->errors[i].line == line)
			return true;
	return false;
}

static void add_entry(struct policy_file *f, const char *section, const char *key,
		      const char *value, size_t section_len)
{
	struct ini_entry e = { .line = f->lineno };
	struct ini_entry *entries;

	e.section = strndup(section, section_len);
	e.key = key ? strdup(key) : NULL;
	e.value = value ? strdup(value) : NULL;
	entries = array_grow(f->entries, f->n_entries, sizeof(*entries));
	if (!e.section || (key && !e.key) || (value && !e.value) || !entries) {
		free(e.section);
		free(e.key);
		free(e.value);
		f->oom = true;
		if (entries)
			f->entries = entries;
		return;
	}
	f->entries = entries;
	entries[f->n_entries++] = e;
}

static bool blank(char c)
{
	return isspace((unsigned char)c);
}

/* The line without a UTF-8 byte order mark, which inih skips on line 1. */
static const char *skip_bom(const struct policy_file *f, const char *s, size_t len)
{
	if (f->lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		return s + 3;
	return s;
}

/*
 * "[name]", optionally followed by a comment. The scan stops where inih's
 * does: at ']' or at a ';' after whitespace, which starts an inline comment.
 * inih ignores anything else after ']'; we call it an error.
 */
static void check_section(struct policy_file *f, const char *s, const char *end)
{
	const char *p = s + 1, *rest;
	bool was_space = false;

	for (; p < end && *p != ']'; p++) {
		if (was_space && *p == ';')
			break;
		was_space = blank(*p);
	}
	if (p >= end || *p != ']') {
		file_error(f, f->lineno, "section header without ']'");
		return;
	}
	for (rest = p + 1; rest < end && blank(*rest); rest++)
		;
	/* inih switched sections all the same: record it, as inih files the keys below under it. */
	if (rest < end && *rest != ';' && *rest != '#')
		file_error(f, f->lineno, "text after the section header");
	add_entry(f, s + 1, NULL, NULL, (size_t)(p - s - 1));
}

/*
 * Called once inih has finished with a line. It reports only the first
 * syntax error, so each line is classified here the way inih does: blank and
 * comment lines are fine, a section header must close, and any other line
 * must have given inih a KEY = VALUE to pass to the handler.
 */
static void check_line(struct policy_file *f)
{
	const char *s = f->line, *end, *t;

	if (!s)
		return;
	f->line = NULL;
	if (f->line_too_long) {
		file_error(f, f->lineno, "line longer than %d characters", f->max_line - 2);
		return;
	}
	end = s + f->line_len;
	s = skip_bom(f, s, f->line_len);
	for (t = s; t < end && blank(*t); t++)
		;
	while (end > t && blank(end[-1]))
		end--;
	if (t == end || *t == ';' || *t == '#')
		return;
	if (t != s) {
		/* inih would read it as the continuation of the previous value. */
		file_error(f, f->lineno,
			   "line starts with a space (continuation lines are not supported)");
		return;
	}
	if (*t == '[') {
		check_section(f, t, end);
		return;
	}
	if (f->keys_on_line == 0)
		file_error(f, f->lineno, "expected KEY = VALUE");
}

/* inih's fgets-like reader: hands out one line at a time and numbers it. */
static char *ini_read_line(char *str, int num, void *stream)
{
	struct policy_file *f = stream;
	const char *start, *nl, *s;
	size_t len;

	check_line(f);
	if (f->pos >= f->len)
		return NULL;
	start = f->data + f->pos;
	nl = memchr(start, '\n', f->len - f->pos);
	len = nl ? (size_t)(nl - start) : f->len - f->pos;
	f->pos += len + (nl != NULL);
	f->lineno++;
	f->line = start;
	f->line_len = len;
	f->keys_on_line = 0;
	f->max_line = num;
	s = skip_bom(f, start, len);
	f->line_indented = s < start + len && (*s == ' ' || *s == '\t');
	/*
	 * inih would cut a longer line in two and parse the rest as a line of
	 * its own: hand it a blank line instead, and report the long one.
	 */
	f->line_too_long = len + 2 > (size_t)num;
	if (f->line_too_long)
		len = 0;
	memcpy(str, start, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int ini_on_key(void *user, const char *section, const char *name, const char *value)
{
	struct policy_file *f = user;

	f->keys_on_line++;
	if (!f->line_indented) /* otherwise a continuation: check_line() reports it */
		add_entry(f, section, name, value, strlen(section));
	return 1; /* always, so that inih's result means a syntax error only */
}

/* Reads path whole. On failure puts one line in diag, after what ("tier "x"") if given. */
static int policy_file_read(struct policy_file *f, const char *path, const char *what,
			    struct moat_diag *diag)
{
	const char *sep = what ? ": " : "";
	struct moat_error err = { 0 };
	struct stat st;

	f->path = path;
	what = what ? what : "";
	if (stat(path, &st) < 0) {
		diag_add(diag, "%s%s%s: %s", what, sep, path, strerror(errno));
		return -1;
	}
	/* A FIFO or a device would block or stream forever. */
	if (!S_ISREG(st.st_mode)) {
		diag_add(diag, "%s%s%s: not a regular file", what, sep, path);
		return -1;
	}
	if (moat_read_file(path, POLICY_FILE_MAX, &f->data, &f->len, &err) < 0) {
		if (err.errnum == EFBIG)
			diag_add(diag, "%s%s%s: larger than 1 MiB", what, sep, path);
		else
			diag_add(diag, "%s%s%s: %s", what, sep, err.msg, strerror(err.errnum));
		return -1;
	}
	if (memchr(f->data, '\0', f->len)) {
		diag_add(diag, "%s%s%s: contains a NUL byte", what, sep, path);
		return -1;
	}
	return 0;
}

static void policy_file_parse(struct policy_file *f)
{
	int r = ini_parse_stream(ini_read_line, f, ini_on_key, f);

	if (r == -2)
		f->oom = true;
	else if (r > 0 && !has_error_on(f, (unsigned)r))
		file_error(f, (unsigned)r, "syntax error"); /* inih saw one we did not */
}

static int error_cmp(const void *a, const void *b)
{
	const struct file_error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Moves f's errors into diag as "FILE:LINE: message", in line order. Returns how many. */
static size_t flush_errors(struct policy_file *f, struct moat_diag *diag)
{
	size_t n = f->n_errors;

	if (f->n_errors > 1) /* qsort() of a NULL array is undefined even for 0 elements */
		qsort(f->errors, f->n_errors, sizeof(*f->errors), error_cmp);
	for (size_t i = 0; i < f->n_errors; i++) {
		if (f->errors[i].line)
			diag_add(diag, "%s:%u: %s", f->path, f->errors[i].line, f->errors[i].msg);
		else
			diag_add(diag, "%s: %s", f->path, f->errors[i].msg);
	}
	if (f->oom) {
		diag_add(diag, "%s: out of memory", f->path);
		n++;
	}
	return n;
}

static bool is_tier_key(const struct ini_entry *e)
{
	return strcmp(e->section, "sandbox") == 0 && strcmp(e->key, "tier") == 0;
}

/*
 * Applies f's entries to p in file order. own_tier is the tier a tier file
 * defines, or NULL for a policy file (whose tier was resolved beforehand).
 */
static void apply_entries(struct policy_file *f, struct moat_policy *p, const char *own_tier)
{
	for (size_t i = 0; i < f->n_entries; i++) {
		const struct ini_entry *e = &f->entries[i];
		char *msg = NULL;

		if (!e->key) {
			if (!section_known(e->section))
				file_error(f, e->line, "unknown section [%s]", e->section);
			continue;
		}
		if (!*e->section) {
			file_error(f, e->line, "\"%s\" before any [section]", e->key);
			continue;
		}
		if (!section_known(e->section))
			continue; /* reported once, at its header */
		if (is_tier_key(e)) {
			/* Tiers are standalone: a tier naming another would recurse. */
			if (own_tier && strcmp(e->value, own_tier) != 0)
				file_error(f, e->line,
					   "tier: a tier file cannot name another tier");
			continue;
		}
		if (moat_policy_set(p, e->section, e->key, e->value, &msg) < 0)
			file_error(f, e->line, "%s", msg ? msg : "out of memory");
		free(msg);
	}
}

/* A tier file: the built-in defaults, then its keys. what prefixes a read error. */
static int tier_load(const char *tier, const char *what, struct moat_policy **ret,
		     struct moat_diag *diag)
{
	_cleanup_free_ char *path = moat_strdup_printf("%s/%s.ini", moat_policy_dir(), tier);
	struct policy_file f = { 0 };
	struct moat_policy *p = NULL;
	bool bad = false;

	*ret = NULL;
	if (!path) {
		diag_add(diag, "%s: out of memory", what);
		return -1;
	}
	if (policy_file_read(&f, path, what, diag) < 0) {
		policy_file_free(&f);
		return -1;
	}
	policy_file_parse(&f);
	p = moat_policy_new();
	if (!p || !(p->tier = strdup(tier)) || !(p->source = moat_strdup_printf("tier:%s", tier)))
		f.oom = true;
	else
		apply_entries(&f, p, tier);
	if (flush_errors(&f, diag) > 0)
		bad = true;
	if (!f.oom && moat_policy_validate(p, path, diag) < 0)
		bad = true;
	policy_file_free(&f);
	if (bad) {
		moat_policy_free(p);
		return -1;
	}
	*ret = p;
	return 0;
}

int moat_policy_load_tier(const char *tier, struct moat_policy **ret, struct moat_diag *diag)
{
	_cleanup_free_ char *what = NULL;

	*ret = NULL;
	if (!tier_name_valid(tier)) {
		diag_add(diag, "bad tier name \"%s\" (expected [a-z0-9_-]+)", tier);
		return -1;
	}
	what = moat_strdup_printf("tier \"%s\"", tier);
	if (!what) {
		diag_add(diag, "out of memory");
		return -1;
	}
	return tier_load(tier, what, ret, diag);
}

/*
 * The file's [sandbox] tier (MOAT_DEFAULT_TIER if it has none) and the line
 * naming it (0 if none). Returns NULL if the name is unusable (reported in f).
 */
static const char *file_tier(struct policy_file *f, unsigned *ret_line)
{
	const char *tier = MOAT_DEFAULT_TIER;
	bool ok = true;

	*ret_line = 0;
	for (size_t i = 0; i < f->n_entries; i++) {
		const struct ini_entry *e = &f->entries[i];

		if (!e->key || !is_tier_key(e))
			continue;
		if (*ret_line) {
			file_error(f, e->line, "tier: given twice (first on line %u)", *ret_line);
			ok = false;
			continue;
		}
		*ret_line = e->line;
		tier = e->value;
		if (!tier_name_valid(tier)) {
			file_error(f, e->line, "tier: bad tier name \"%s\" (expected [a-z0-9_-]+)",
				   tier);
			ok = false;
		}
	}
	return ok ? tier : NULL;
}

/* Loads the base tier into *ret; on failure *ret is NULL and the problems are in diag. */
static int file_base(struct policy_file *f, const char *tier, unsigned line,
		     struct moat_policy **ret, struct moat_diag *diag)
{
	_cleanup_free_ char *what = NULL;

	if (line)
		what = moat_strdup_printf("%s:%u: tier \"%s\"", f->path, line, tier);
	else
		what = moat_strdup_printf("%s: default tier \"%s\"", f->path, tier);
	if (!what) {
		f->oom = true;
		*ret = NULL;
		return -1;
	}
	return tier_load(tier, what, ret, diag);
}

int moat_policy_load_file(const char *path, struct moat_policy **ret, struct moat_diag *diag)
{
	struct policy_file f = { 0 };
	struct moat_policy *p = NULL;
	bool bad = false, base_ok = false;
	const char *tier;
	unsigned tier_line;

	*ret = NULL;
	if (policy_file_read(&f, path, NULL, diag) < 0) {
		policy_file_free(&f);
		return -1;
	}
	policy_file_parse(&f);
	tier = file_tier(&f, &tier_line);
	if (tier)
		base_ok = file_base(&f, tier, tier_line, &p, diag) == 0;
	bad = !base_ok;
	/* Without its base the file is still checked, on the built-in defaults. */
	if (!p)
		p = moat_policy_new();
	if (p) {
		free(p->source);
		p->source = strdup(path);
	}
	if (p && p->source)
		apply_entries(&f, p, NULL);
	else
		f.oom = true;
	if (flush_errors(&f, diag) > 0)
		bad = true;
	/* On a broken base, conflicts would be the defaults' and only mislead. */
	if (base_ok && !f.oom && moat_policy_validate(p, path, diag) < 0)
		bad = true;
	policy_file_free(&f);
	if (bad) {
		moat_policy_free(p);
		return -1;
	}
	*ret = p;
	return 0;
}

/* ---- rules that span keys -------------------------------------------------------------- */

static bool publish_clash(const struct moat_publish *a, const struct moat_publish *b)
{
	if (a->host_port != b->host_port)
		return false;
	/* 0.0.0.0 takes the port on every address, so it clashes with any other. */
	return strcmp(a->host_ip, b->host_ip) == 0 || strcmp(a->host_ip, "0.0.0.0") == 0 ||
	       strcmp(b->host_ip, "0.0.0.0") == 0;
}

static bool check_network(const struct moat_policy *p, const char *w, const char *sep,
			  struct moat_diag *diag)
{
	bool ok = true;

	if (p->net_mode != MOAT_NET_VETH) {
		if (p->nat) {
			diag_add(diag, "%s%snat = yes needs mode = veth", w, sep);
			ok = false;
		}
		if (p->n_egress) {
			diag_add(diag,
				 "%s%segress rules need mode = veth (\"egress =\" clears them)", w,
				 sep);
			ok = false;
		}
	}
	for (size_t i = 0; i < p->n_publish; i++) {
		for (size_t j = 0; j < i; j++) {
			if (!publish_clash(&p->publish[i], &p->publish[j]))
				continue;
			diag_add(diag, "%s%shost port %s:%u is published twice", w, sep,
				 p->publish[i].host_ip, p->publish[i].host_port);
			ok = false;
			break;
		}
	}
	return ok;
}

static bool check_binds(const struct moat_policy *p, const char *w, const char *sep,
			struct moat_diag *diag)
{
	bool ok = true;

	for (size_t i = 0; i < p->n_binds; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(p->binds[i].dst, p->binds[j].dst) != 0)
				continue;
			diag_add(diag, "%s%stwo binds on \"%s\"", w, sep, p->binds[i].dst);
			ok = false;
			break;
		}
	}
	return ok;
}

static bool check_lists(const struct moat_policy *p, const char *w, const char *sep,
			struct moat_diag *diag)
{
	bool ok = true;

	for (size_t i = 0; i < p->syscalls_allow.n; i++) {
		if (!moat_strv_contains(&p->syscalls_deny, p->syscalls_allow.v[i]))
			continue;
		diag_add(diag, "%s%ssyscall \"%s\" is both allowed and denied", w, sep,
			 p->syscalls_allow.v[i]);
		ok = false;
	}
	for (size_t i = 0; i < p->n_env_set; i++) {
		if (!moat_strv_contains(&p->env_pass, p->env_set[i].name))
			continue;
		diag_add(diag, "%s%senvironment variable \"%s\" is both passed and set", w, sep,
			 p->env_set[i].name);
		ok = false;
	}
	return ok;
}

/* What moat_policy_format prints must load back, so each of its lines must
 * fit inih's buffer: a value (a path, an environment value) that made its
 * line longer is refused here, wherever it came from. */
static bool check_line_lengths(const struct moat_policy *p, const char *w, const char *sep,
			       struct moat_diag *diag)
{
	_cleanup_free_ char *text = moat_policy_to_string(p);
	bool ok = true;

	if (!text) {
		diag_add(diag, "%s%sout of memory", w, sep);
		return false;
	}
	for (char *line = text, *nl; *line; line = *nl ? nl + 1 : nl) {
		size_t len;
		int key;

		nl = strchrnul(line, '\n');
		len = (size_t)(nl - line);
		if (len <= POLICY_LINE_MAX)
			continue;
		key = (int)strcspn(line, " ");
		diag_add(diag, "%s%s%.*s: value too long (its line \"%.*s = ...\" would be %zu "
			 "characters, a policy file line at most %d)",
			 w, sep, key, line, key, line, len, POLICY_LINE_MAX);
		ok = false;
	}
	return ok;
}

int moat_policy_validate(const struct moat_policy *p, const char *where, struct moat_diag *diag)
{
	const char *w = where ? where : "", *sep = where ? ": " : "";
	bool ok = true;

	/* Each check runs, so that every conflict is reported at once. */
	ok &= check_network(p, w, sep, diag);
	ok &= check_binds(p, w, sep, diag);
	ok &= check_lists(p, w, sep, diag);
	ok &= check_line_lengths(p, w, sep, diag);
	return ok ? 0 : -1;
}

/* ---- printing -------------------------------------------------------------------------- */

static void format_cpus(uint32_t milli, char *buf, size_t len)
{
	char frac[4];
	int n;

	if (milli % 1000 == 0) {
		snprintf(buf, len, "%u", milli / 1000);
		return;
	}
	snprintf(frac, sizeof(frac), "%03u", milli % 1000);
	for (n = 3; frac[n - 1] == '0'; n--)
		;
	snprintf(buf, len, "%u.%.*s", milli / 1000, n, frac);
}

/* Text for a comment line: a control character would end the comment early. */
static void put_comment_text(const char *s, FILE *out)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void format_sandbox(const struct moat_policy *p, FILE *out)
{
	fprintf(out, "[sandbox]\ntier = %s\n", p->tier ? p->tier : MOAT_DEFAULT_TIER);
	fprintf(out, "user = %u:%u\n", (unsigned)p->uid, (unsigned)p->gid);
	if (p->hostname)
		fprintf(out, "hostname = %s\n", p->hostname);
	else
		fputs("hostname =\n", out);
	fprintf(out, "accounting = %s\n", p->accounting ? "yes" : "no");
	fprintf(out, "audit = %s\n", p->audit == MOAT_AUDIT_FULL ? "full" : "denials");
}

static void format_filesystem(const struct moat_policy *p, FILE *out)
{
	char size[32];

	moat_format_size(p->tmp_size, size, sizeof(size));
	fprintf(out, "\n[filesystem]\ntmp_size = %s\nro =\nrw =\n", size);
	for (size_t i = 0; i < p->n_binds; i++) {
		const struct moat_bind *b = &p->binds[i];

		if (strcmp(b->src, b->dst) == 0)
			fprintf(out, "%s = %s\n", b->rw ? "rw" : "ro", b->src);
		else
			fprintf(out, "%s = %s:%s\n", b->rw ? "rw" : "ro", b->src, b->dst);
	}
}

static void format_resources(const struct moat_policy *p, FILE *out)
{
	char memory[32], cpus[32], rate[32], burst[32];

	moat_format_size(p->memory, memory, sizeof(memory));
	format_cpus(p->cpus_milli, cpus, sizeof(cpus));
	moat_format_size(p->log_rate, rate, sizeof(rate));
	moat_format_size(p->log_burst, burst, sizeof(burst));
	fprintf(out, "\n[resources]\nmemory = %s\ncpus = %s\npids = %llu\n", memory, cpus,
		(unsigned long long)p->pids);
	fprintf(out, "log_rate = %s\nlog_burst = %s\ndevices =\n", rate, burst);
	for (size_t i = 0; i < p->n_devices; i++)
		fprintf(out, "devices = %s %s\n", p->devices[i].path, p->devices[i].access);
}

static void format_syscalls(const struct moat_policy *p, FILE *out)
{
	static const char *const actions[] = { [MOAT_SECCOMP_ERRNO] = "errno",
					       [MOAT_SECCOMP_KILL] = "kill",
					       [MOAT_SECCOMP_LOG] = "log" };

	fprintf(out, "\n[syscalls]\nprofile = %s\naction = %s\nallow =\n", p->seccomp_profile,
		actions[p->seccomp_action]);
	for (size_t i = 0; i < p->syscalls_allow.n; i++)
		fprintf(out, "allow = %s\n", p->syscalls_allow.v[i]);
	fputs("deny =\n", out);
	for (size_t i = 0; i < p->syscalls_deny.n; i++)
		fprintf(out, "deny = %s\n", p->syscalls_deny.v[i]);
}

static void format_network(const struct moat_policy *p, FILE *out)
{
	char rule[512];

	fprintf(out, "\n[network]\nmode = %s\nnat = %s\negress =\n",
		p->net_mode == MOAT_NET_VETH ? "veth" : "none", p->nat ? "yes" : "no");
	for (size_t i = 0; i < p->n_egress; i++) {
		moat_format_egress_rule(&p->egress[i], rule, sizeof(rule));
		fprintf(out, "egress = %s\n", rule);
	}
	inet_ntop(AF_INET, p->pool.addr, rule, sizeof(rule));
	fprintf(out, "pool = %s/%u\n", rule, p->pool.prefix);
	fputs("publish =\n", out);
	for (size_t i = 0; i < p->n_publish; i++)
		fprintf(out, "publish = %s:%u:%u\n", p->publish[i].host_ip, p->publish[i].host_port,
			p->publish[i].port);
}

static void format_env(const struct moat_policy *p, FILE *out)
{
	fputs("\n[env]\npass =\n", out);
	for (size_t i = 0; i < p->env_pass.n; i++)
		fprintf(out, "pass = %s\n", p->env_pass.v[i]);
	fputs("set =\n", out);
	for (size_t i = 0; i < p->n_env_set; i++)
		fprintf(out, "set = %s=%s\n", p->env_set[i].name, p->env_set[i].value);
}

int moat_policy_format(const struct moat_policy *p, FILE *out)
{
	const char *tier = p->tier ? p->tier : MOAT_DEFAULT_TIER;
	const char *source = p->source ? p->source : "(built-in defaults)";
	/* The comment must fit a line too: a long source keeps its end. */
	size_t room = POLICY_LINE_MAX - strlen("# moat policy: tier , source ") - strlen(tier);

	fputs("# moat policy: tier ", out);
	put_comment_text(tier, out);
	fputs(", source ", out);
	if (strlen(source) > room) {
		fputs("...", out);
		source += strlen(source) - (room - 3);
	}
	put_comment_text(source, out);
	fputs("\n# Every list key starts with an empty assignment, which clears what the tier "
	      "set.\n\n",
	      out);
	format_sandbox(p, out);
	format_filesystem(p, out);
	format_resources(p, out);
	format_syscalls(p, out);
	format_network(p, out);
	format_env(p, out);
	if (ferror(out)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

char *moat_policy_to_string(const struct moat_policy *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int r;

	if (!out)
		return NULL;
	r = moat_policy_format(p, out);
	if (fclose(out) != 0)
		r = -1;
	if (r < 0) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	return buf;
}
