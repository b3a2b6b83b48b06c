// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Syscall filtering with libseccomp (see seccomp.h for the model and
 * policies/seccomp/baseline.profile for the file format).
 *
 * Why two programs for an allow-list: libseccomp cannot say "allow ioctl
 * except TIOCSTI" in one filter. An unconditional rule for a syscall absorbs
 * every conditional rule for it whatever their actions, and an argument may
 * be compared only once per rule, so the exception cannot be written as
 * allow rules either. The kernel, however, runs every stacked filter and
 * keeps the strictest verdict (kernel/seccomp.c seccomp_run_filters), so the
 * allow-list is installed on top of the deny-list floor, reduced to the
 * syscalls the allow-list lets through. Syscalls both programs allow without
 * looking at arguments stay in the kernel's per-filter verdict cache
 * (SECCOMP_CACHE, Linux 5.11) and cost nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <seccomp.h> /* libseccomp's; ours is "seccomp.h" (the Makefile uses -iquote) */

#include "seccomp.h"

#define PROFILE_MAX_BYTES (256 * 1024)
#define PROFILE_NAME_MAX  64
#define RULE_TOKENS_MAX	  (2 + 6) /* verb, syscall, one comparison per argument */
#define SYSCALL_NAME_MAX  64
#define DESC_MAX	  512

struct moat_seccomp {
	/* Installed in this order. With two, [0] is the floor (a deny-list,
	 * so it lets the second seccomp(2) call through) and [1] the allow-list. */
	struct sock_fprog progs[2];
	unsigned n_progs;
	char desc[DESC_MAX];
};

enum rule_kind { RULE_ALLOW, RULE_DENY, RULE_FORBID, RULE_ENOSYS };

static const char *const rule_kind_names[] = {
    [RULE_ALLOW] = "allow",
    [RULE_DENY] = "deny",
    [RULE_FORBID] = "forbid",
    [RULE_ENOSYS] = "enosys",
};

struct rule {
	enum rule_kind kind;
	int nr;
	char name[SYSCALL_NAME_MAX];
	unsigned line;
	unsigned n_cmp;
	struct scmp_arg_cmp cmp[6];
	/* Index in cmp of an "argN&M!=V", -1 if none. libseccomp has no masked
	 * not-equal, so the rule is added once per bit b of M as
	 * (argN & b) == (~V & b): the value differs from V in some bit of M. */
	int expand;
	uint64_t expand_value;
};

struct profile {
	char path[PATH_MAX];
	bool default_allow;
	struct rule *rules;
	size_t n_rules;
};

static void profile_clear(struct profile *pf)
{
	free(pf->rules);
	pf->rules = NULL;
	pf->n_rules = 0;
}

/* Constants a profile may name. Values come from the C headers of the
 * architecture moat is built for, so a profile stays portable. */
static const struct {
	const char *name;
	uint64_t value;
} constants[] = {
    {"TIOCSTI", TIOCSTI},
    {"TIOCLINUX", TIOCLINUX},
    {"TIOCSETD", TIOCSETD},
    {"TIOCCONS", TIOCCONS},
    {"FIONREAD", FIONREAD},
    {"AF_UNIX", AF_UNIX},
    {"AF_INET", AF_INET},
    {"AF_INET6", AF_INET6},
    {"AF_NETLINK", AF_NETLINK},
    {"AF_PACKET", AF_PACKET},
    {"AF_VSOCK", AF_VSOCK},
    {"NETLINK_ROUTE", NETLINK_ROUTE},
    {"CLONE_NEWNS", CLONE_NEWNS},
    {"CLONE_NEWCGROUP", CLONE_NEWCGROUP},
    {"CLONE_NEWUTS", CLONE_NEWUTS},
    {"CLONE_NEWIPC", CLONE_NEWIPC},
    {"CLONE_NEWUSER", CLONE_NEWUSER},
    {"CLONE_NEWPID", CLONE_NEWPID},
    {"CLONE_NEWNET", CLONE_NEWNET},
    {"PER_LINUX", PER_LINUX},
};

/* --- Parsing profiles --------------------------------------------------------- */

static int parse_error(struct moat_error *err, const struct profile *pf, unsigned line,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int parse_error(struct moat_error *err, const struct profile *pf, unsigned line,
		       const char *fmt, ...)
{
	char msg[MOAT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return moat_error_set(err, 0, "%s:%u: %s", pf->path, line, msg);
}

/* "0x5412", "17", "AF_NETLINK", "CLONE_NEWNS|CLONE_NEWPID": the or of its terms. */
static int parse_value(const char *s, uint64_t *ret, const char **ret_bad)
{
	uint64_t v = 0;

	*ret_bad = s;
	if (!*s)
		return -1;
	while (*s) {
		const char *end = strchr(s, '|');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char term[64];
		bool found = false;

		if (len == 0 || len >= sizeof(term))
			return -1;
		memcpy(term, s, len);
		term[len] = '\0';
		*ret_bad = s;
		if (isdigit((unsigned char)term[0])) {
			char *e = NULL;
			unsigned long long n;

			errno = 0;
			n = strtoull(term, &e, 0);
			if (errno || *e)
				return -1;
			v |= n;
			found = true;
		} else {
			for (size_t i = 0; i < ARRAY_SIZE(constants); i++)
				if (strcmp(term, constants[i].name) == 0) {
					v |= constants[i].value;
					found = true;
					break;
				}
		}
		if (!found)
			return -1;
		s = end ? end + 1 : s + len;
		if (end && !*s)
			return -1; /* trailing '|' */
	}
	*ret = v;
	return 0;
}

/*
 * Whether a comparison is safe for the kind of rule. The kernel reads int
 * arguments (ioctl's cmd, socket's family) from the low 32 bits only, while
 * the filter sees all 64: a comparison that a value with junk above bit 31
 * can fail must not decide a deny (CVE-2019-10063: TIOCSTI | 1 << 32 passed
 * a filter that compared the whole argument). A deny compares with a mask or
 * with !=, >, >= (junk only makes those match more often); an allow with
 * ==, <, <= or a mask (junk only makes those match less often).
 */
static const char *unsafe_comparison(enum rule_kind kind, enum scmp_compare op, bool masked_ne)
{
	if (kind == RULE_ALLOW &&
	    (op == SCMP_CMP_NE || op == SCMP_CMP_GT || op == SCMP_CMP_GE || masked_ne))
		return "an allow rule may only use ==, <, <= or &MASK== (a value with junk "
		       "above bit 31 would be allowed)";
	if (kind != RULE_ALLOW && (op == SCMP_CMP_EQ || op == SCMP_CMP_LT || op == SCMP_CMP_LE))
		return "a deny rule may only use !=, >, >= or &MASK==/&MASK!= (a value with junk "
		       "above bit 31 would slip past, CVE-2019-10063): write argN&0xffffffff==V";
	return NULL;
}

/* "arg1&0xffffffff==TIOCSTI", "arg0!=0", "arg2>=5" */
static int parse_comparison(const struct profile *pf, unsigned line, struct rule *r,
			    const char *tok, struct moat_error *err)
{
	static const struct {
		const char *text;
		enum scmp_compare op;
	} ops[] = {
	    /* two-character operators first */
	    {"==", SCMP_CMP_EQ}, {"!=", SCMP_CMP_NE}, {"<=", SCMP_CMP_LE},
	    {">=", SCMP_CMP_GE}, {"<", SCMP_CMP_LT},  {">", SCMP_CMP_GT},
	};
	const char *s = tok, *bad = NULL, *why;
	char mask_text[128];
	uint64_t mask = 0, value = 0;
	bool masked = false, masked_ne = false;
	enum scmp_compare op = _SCMP_CMP_MIN;
	unsigned arg;

	if (strncmp(s, "arg", 3) != 0 || s[3] < '0' || s[3] > '5')
		return parse_error(err, pf, line, "bad comparison \"%s\" (expected argN, N 0..5)",
				   tok);
	arg = (unsigned)(s[3] - '0');
	s += 4;
	for (unsigned i = 0; i < r->n_cmp; i++)
		if (r->cmp[i].arg == arg)
			return parse_error(err, pf, line,
					   "arg%u compared twice (libseccomp allows one "
					   "comparison per argument in a rule)",
					   arg);
	if (*s == '&') {
		const char *eq = strstr(s, "=="), *ne = strstr(s, "!=");
		const char *opp = eq && (!ne || eq < ne) ? eq : ne;
		size_t len;

		if (!opp)
			return parse_error(err, pf, line,
					   "bad comparison \"%s\" (a mask needs == or !=)", tok);
		len = (size_t)(opp - s - 1);
		if (len >= sizeof(mask_text))
			return parse_error(err, pf, line, "mask too long in \"%s\"", tok);
		memcpy(mask_text, s + 1, len);
		mask_text[len] = '\0';
		if (parse_value(mask_text, &mask, &bad) < 0 || mask == 0)
			return parse_error(err, pf, line, "bad mask \"%s\" in \"%s\"", mask_text,
					   tok);
		masked = true;
		masked_ne = opp == ne;
		op = SCMP_CMP_MASKED_EQ;
		s = opp + 2;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
			if (strncmp(s, ops[i].text, strlen(ops[i].text)) == 0) {
				op = ops[i].op;
				s += strlen(ops[i].text);
				break;
			}
		if (op == _SCMP_CMP_MIN)
			return parse_error(err, pf, line,
					   "bad comparison \"%s\" (operators: == != < <= > >= "
					   "&MASK== &MASK!=)",
					   tok);
	}
	if (parse_value(s, &value, &bad) < 0)
		return parse_error(err, pf, line,
				   "bad value \"%s\" in \"%s\" (a number or a known constant)", bad,
				   tok);
	why = unsafe_comparison(r->kind, op, masked_ne);
	if (why)
		return parse_error(err, pf, line, "\"%s\": %s", tok, why);
	if (masked && (value & ~mask))
		return parse_error(err, pf, line, "\"%s\": the value has bits outside the mask",
				   tok);
	if (masked_ne) {
		if (r->expand >= 0)
			return parse_error(err, pf, line,
					   "at most one &MASK!= comparison per rule");
		r->expand = (int)r->n_cmp;
		r->expand_value = value;
	}
	r->cmp[r->n_cmp++] = (struct scmp_arg_cmp){
	    .arg = arg,
	    .op = op,
	    .datum_a = masked ? mask : value,
	    .datum_b = masked ? value : 0,
	};
	return 0;
}

static int parse_rule(struct profile *pf, unsigned line, char **tok, size_t n_tok,
		      struct moat_error *err)
{
	struct rule *r, *rules;
	enum rule_kind kind;
	size_t k;
	int nr;

	for (k = 0; k < ARRAY_SIZE(rule_kind_names); k++)
		if (strcmp(tok[0], rule_kind_names[k]) == 0)
			break;
	if (k == ARRAY_SIZE(rule_kind_names))
		return parse_error(err, pf, line,
				   "unknown keyword \"%s\" (default, allow, deny, forbid, enosys)",
				   tok[0]);
	kind = (enum rule_kind)k;
	if (n_tok < 2)
		return parse_error(err, pf, line, "%s: missing syscall name", tok[0]);
	if (pf->default_allow && kind == RULE_ALLOW)
		return parse_error(
		    err, pf, line,
		    "allow in a default-allow profile: everything is allowed already");
	if (!pf->default_allow && (kind == RULE_DENY || kind == RULE_FORBID))
		return parse_error(err, pf, line,
				   "%s in a default-deny profile: what is not allowed is denied "
				   "already; the floor is %s.profile",
				   tok[0], MOAT_SECCOMP_FLOOR);
	if (kind == RULE_ENOSYS && n_tok > 2)
		return parse_error(err, pf, line, "enosys takes no comparison");
	if (strlen(tok[1]) >= SYSCALL_NAME_MAX)
		return parse_error(err, pf, line, "syscall name too long");
	nr = seccomp_syscall_resolve_name(tok[1]);
	if (nr == __NR_SCMP_ERROR)
		return parse_error(err, pf, line, "unknown syscall \"%s\"", tok[1]);

	rules = realloc(pf->rules, (pf->n_rules + 1) * sizeof(*rules));
	if (!rules)
		return moat_error_errno(err, "%s:%u", pf->path, line);
	pf->rules = rules;
	r = &rules[pf->n_rules];
	*r = (struct rule){.kind = kind, .nr = nr, .line = line, .expand = -1};
	snprintf(r->name, sizeof(r->name), "%s", tok[1]);
	for (size_t i = 2; i < n_tok; i++)
		if (parse_comparison(pf, line, r, tok[i], err) < 0)
			return -1;

	/* A negative number is libseccomp's pseudo-syscall for a name that exists on
	 * other architectures only (vm86 on x86_64): nothing to filter here, but the
	 * line was still checked. */
	if (nr < 0)
		return 0;

	/* An unconditional rule absorbs every other rule for the syscall in
	 * libseccomp, whatever its action: refuse the mix rather than let the
	 * order of lines decide. */
	for (size_t i = 0; i < pf->n_rules; i++) {
		const struct rule *o = &rules[i];

		if (o->nr == nr && (o->n_cmp == 0 || r->n_cmp == 0))
			return parse_error(err, pf, line,
					   "%s already has a rule at line %u, and a rule without "
					   "comparisons would absorb the other",
					   r->name, o->line);
	}
	pf->n_rules++;
	return 0;
}

static int parse_profile(struct profile *pf, char *text, struct moat_error *err)
{
	bool have_default = false;
	unsigned line = 0;
	char *next = text;

	while (next) {
		char *s = next, *hash, *save = NULL, *tok[RULE_TOKENS_MAX + 1];
		size_t n_tok = 0;

		next = strchr(s, '\n');
		if (next)
			*next++ = '\0';
		line++;
		hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		for (char *t = strtok_r(s, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
			if (n_tok == ARRAY_SIZE(tok))
				return parse_error(err, pf, line, "too many words");
			tok[n_tok++] = t;
		}
		if (n_tok == 0)
			continue;
		if (strcmp(tok[0], "default") == 0) {
			if (have_default)
				return parse_error(err, pf, line, "default given twice");
			if (n_tok != 2 || (strcmp(tok[1], "allow") && strcmp(tok[1], "deny")))
				return parse_error(err, pf, line,
						   "expected \"default allow\" or "
						   "\"default deny\"");
			pf->default_allow = strcmp(tok[1], "allow") == 0;
			have_default = true;
			continue;
		}
		if (!have_default)
			return parse_error(err, pf, line,
					   "the first line must be \"default allow\" or \"default "
					   "deny\"");
		if (parse_rule(pf, line, tok, n_tok, err) < 0)
			return -1;
	}
	if (!have_default)
		return parse_error(err, pf, line, "empty profile: no \"default\" line");
	return 0;
}

static bool profile_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > PROFILE_NAME_MAX ||
	    !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '-' && name[i] != '_')
			return false;
	return true;
}

/* Reads dir/NAME.profile into *ret_text (the caller's) and names pf after it. */
static int read_profile(const char *dir, const char *name, struct profile *pf, char **ret_text,
			size_t *ret_len, struct moat_error *err)
{
	if (!profile_name_valid(name))
		return moat_error_set(err, 0, "bad seccomp profile name \"%s\"", name);
	if ((size_t)snprintf(pf->path, sizeof(pf->path), "%s/%s.profile", dir, name) >=
	    sizeof(pf->path))
		return moat_error_set(err, ENAMETOOLONG, "seccomp profile %s/%s.profile", dir,
				      name);
	if (moat_read_file(pf->path, PROFILE_MAX_BYTES, ret_text, ret_len, err) < 0)
		return moat_error_prefix(err, "profile %s", name);
	return 0;
}

/* Parses text (in place) into pf. */
static int load_profile(struct profile *pf, char *text, struct moat_error *err)
{
	if (parse_profile(pf, text, err) < 0) {
		profile_clear(pf);
		return -1;
	}
	return 0;
}

/* --- Building filters ----------------------------------------------------------- */

/* A syscall named in the policy's allow or deny list. */
struct named_nr {
	int nr;
	const char *name;
};

struct build {
	uint32_t action; /* libseccomp action for what is denied */
	struct named_nr *allow, *deny;
	size_t n_allow, n_deny;
	unsigned n_rules;
	char lifted[256]; /* "ptrace, perf_event_open": lifted by allow = */
};

static void build_clear(struct build *b)
{
	free(b->allow);
	free(b->deny);
}

static const struct named_nr *find_nr(const struct named_nr *v, size_t n, int nr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].nr == nr)
			return &v[i];
	return NULL;
}

static int resolve_list(const struct moat_strv *names, const char *key, struct named_nr **ret,
			size_t *ret_n, struct moat_error *err)
{
	_cleanup_free_ struct named_nr *v = NULL;
	size_t n = 0;

	if (names->n == 0)
		return 0;
	v = calloc(names->n, sizeof(*v));
	if (!v)
		return moat_error_errno(err, "syscalls: %s", key);
	for (size_t i = 0; i < names->n; i++) {
		int nr = seccomp_syscall_resolve_name(names->v[i]);

		if (nr == __NR_SCMP_ERROR)
			return moat_error_set(err, 0, "syscalls: %s: unknown syscall \"%s\"", key,
					      names->v[i]);
		if (nr < 0 || find_nr(v, n, nr))
			continue; /* not on this architecture, or listed twice */
		v[n++] = (struct named_nr){.nr = nr, .name = names->v[i]};
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static void note_lifted(struct build *b, const char *name)
{
	size_t len = strlen(b->lifted), n = strlen(name);

	for (const char *at = b->lifted; (at = strstr(at, name)); at += n)
		if ((at == b->lifted || at[-1] == ' ') && (at[n] == ',' || at[n] == '\0'))
			return; /* already noted */
	snprintf(b->lifted + len, sizeof(b->lifted) - len, "%s%s", len ? ", " : "", name);
}

static int new_filter(uint32_t default_action, scmp_filter_ctx *ret, struct moat_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(default_action);
	int r;

	if (!ctx)
		return moat_error_set(err, EINVAL,
				      "libseccomp: cannot create a filter with action %#x (does "
				      "the kernel support it?)",
				      default_action);
	/* Only the native architecture is in the filter; anything else (i386
	 * through int 0x80 on x86_64) kills. On x86_64 libseccomp also sends
	 * syscall numbers with bit 30 set (the x32 ABI, __X32_SYSCALL_BIT) to
	 * this action, as long as SCMP_ARCH_X32 is not added: a deny-list that
	 * forgets x32 is bypassed by its aliases of the same syscalls. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A binary tree over syscall numbers instead of a linear list: an
	 * allow-list of ~200 syscalls costs ~8 comparisons, not ~200, on the
	 * syscalls the kernel's verdict cache cannot answer. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0) {
		seccomp_release(ctx);
		return moat_error_set(err, -r, "libseccomp: set filter attributes");
	}
	*ret = ctx;
	return 0;
}

static int add_rule(struct build *b, scmp_filter_ctx ctx, const struct rule *r, uint32_t action,
		    const char *where, struct moat_error *err)
{
	struct scmp_arg_cmp cmp[6];
	int rc = 0;

	memcpy(cmp, r->cmp, sizeof(cmp));
	if (r->expand < 0) {
		rc = seccomp_rule_add_exact_array(ctx, action, r->nr, r->n_cmp, cmp);
		b->n_rules++;
	} else {
		struct scmp_arg_cmp *e = &cmp[r->expand];
		uint64_t mask = r->cmp[r->expand].datum_a;

		for (unsigned bit = 0; bit < 64 && rc == 0; bit++) {
			uint64_t m = (uint64_t)1 << bit;

			if (!(mask & m))
				continue;
			e->datum_a = m;
			e->datum_b = ~r->expand_value & m;
			rc = seccomp_rule_add_exact_array(ctx, action, r->nr, r->n_cmp, cmp);
			b->n_rules++;
		}
	}
	if (rc < 0)
		return moat_error_set(err, -rc, "libseccomp: add rule for %s (%s:%u)", r->name,
				      where, r->line);
	return 0;
}

static int add_named(struct build *b, scmp_filter_ctx ctx, const struct named_nr *n,
		     uint32_t action, const char *key, struct moat_error *err)
{
	int rc = seccomp_rule_add_exact(ctx, action, n->nr, 0);

	if (rc < 0)
		return moat_error_set(err, -rc, "libseccomp: add rule for %s (syscalls: %s)",
				      n->name, key);
	b->n_rules++;
	return 0;
}

/* Whether pf answers ENOSYS to nr: a policy's deny of it keeps that answer,
 * since libc falls back to the older syscall only on ENOSYS (deny = clone3
 * answered EPERM would break pthread_create). */
static bool profile_enosys(const struct profile *pf, int nr)
{
	for (size_t i = 0; i < pf->n_rules; i++)
		if (pf->rules[i].nr == nr && pf->rules[i].kind == RULE_ENOSYS)
			return true;
	return false;
}

/* Whether an allow-list lets nr through, and from which line (0: the policy). */
struct passed {
	const struct rule *rule; /* NULL when the policy's allow list passed it */
	const char *path;
};

static bool allowlist_passes(const struct build *b, const struct profile *allowlist, int nr,
			     struct passed *ret)
{
	if (find_nr(b->deny, b->n_deny, nr))
		return false;
	if (find_nr(b->allow, b->n_allow, nr)) {
		*ret = (struct passed){.rule = NULL, .path = allowlist->path};
		return true;
	}
	for (size_t i = 0; i < allowlist->n_rules; i++) {
		const struct rule *r = &allowlist->rules[i];

		if (r->nr == nr && r->kind == RULE_ALLOW) {
			*ret = (struct passed){.rule = r, .path = allowlist->path};
			return true;
		}
	}
	return false;
}

/*
 * A deny-list program (default allow) from pf. Alone (allowlist NULL) it also
 * carries the policy's deny list. As the floor under an allow-list it keeps
 * only the rules for syscalls the allow-list lets through: the rest never
 * reach it with a verdict other than the allow-list's own denial.
 */
static int build_denylist(struct build *b, const struct profile *pf,
			  const struct profile *allowlist, scmp_filter_ctx *ret,
			  struct moat_error *err)
{
	scmp_filter_ctx ctx = NULL;

	if (new_filter(SCMP_ACT_ALLOW, &ctx, err) < 0)
		return -1;
	for (size_t i = 0; i < pf->n_rules; i++) {
		const struct rule *r = &pf->rules[i];
		uint32_t action = r->kind == RULE_ENOSYS ? SCMP_ACT_ERRNO(ENOSYS) : b->action;
		const struct named_nr *allowed = find_nr(b->allow, b->n_allow, r->nr);
		struct passed passed;

		if (r->nr < 0)
			continue;
		if (allowlist && !allowlist_passes(b, allowlist, r->nr, &passed))
			continue;
		if (!allowlist && r->kind != RULE_ENOSYS && find_nr(b->deny, b->n_deny, r->nr))
			continue; /* replaced by the policy's unconditional deny below */
		if (allowed && r->kind == RULE_DENY) {
			note_lifted(b, r->name);
			continue;
		}
		if (allowed && r->n_cmp == 0) {
			seccomp_release(ctx);
			return moat_error_set(
			    err, 0, "syscalls: allow: %s cannot be allowed: %s:%u %s it",
			    allowed->name, pf->path, r->line,
			    r->kind == RULE_ENOSYS ? "answers ENOSYS to" : "forbids");
		}
		if (allowlist && passed.rule && r->n_cmp == 0) {
			seccomp_release(ctx);
			return moat_error_set(err, 0, "%s:%u: allows %s, which %s:%u %s",
					      passed.path, passed.rule->line, r->name, pf->path,
					      r->line, rule_kind_names[r->kind]);
		}
		if (add_rule(b, ctx, r, action, pf->path, err) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	}
	for (size_t i = 0; !allowlist && i < b->n_deny; i++)
		if (!profile_enosys(pf, b->deny[i].nr) &&
		    add_named(b, ctx, &b->deny[i], b->action, "deny", err) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	*ret = ctx;
	return 0;
}

/* An allow-list program (default: the action) from pf and the policy's lists. */
static int build_allowlist(struct build *b, const struct profile *pf, scmp_filter_ctx *ret,
			   struct moat_error *err)
{
	scmp_filter_ctx ctx = NULL;

	if (new_filter(b->action, &ctx, err) < 0)
		return -1;
	for (size_t i = 0; i < pf->n_rules; i++) {
		const struct rule *r = &pf->rules[i];
		const struct named_nr *allowed = find_nr(b->allow, b->n_allow, r->nr);

		if (r->nr < 0)
			continue;
		if (r->kind != RULE_ENOSYS && find_nr(b->deny, b->n_deny, r->nr))
			continue; /* the policy's deny: left to the default action */
		if (r->kind == RULE_ENOSYS && allowed) {
			seccomp_release(ctx);
			return moat_error_set(
			    err, 0,
			    "syscalls: allow: %s cannot be allowed: %s:%u answers "
			    "ENOSYS to it",
			    allowed->name, pf->path, r->line);
		}
		if (r->kind == RULE_ALLOW && allowed)
			continue; /* allowed without conditions below */
		if (add_rule(b, ctx, r,
			     r->kind == RULE_ENOSYS ? SCMP_ACT_ERRNO(ENOSYS) : SCMP_ACT_ALLOW,
			     pf->path, err) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	}
	for (size_t i = 0; i < b->n_allow; i++)
		if (add_named(b, ctx, &b->allow[i], SCMP_ACT_ALLOW, "allow", err) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	*ret = ctx;
	return 0;
}

/*
 * libseccomp 2.5 has no export to memory (seccomp_export_bpf_mem is 2.6), so
 * the program goes through a memfd, which unlike a pipe cannot block on a
 * small pipe buffer.
 */
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *ret, struct moat_error *err)
{
	_cleanup_close_ int fd = memfd_create("moat-seccomp", MFD_CLOEXEC);
	_cleanup_free_ struct sock_filter *insns = NULL;
	size_t size, done = 0;
	off_t end;
	int rc;

	if (fd < 0)
		return moat_error_errno(err, "memfd_create for the seccomp program");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return moat_error_set(err, -rc, "libseccomp: export the BPF program");
	end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return moat_error_errno(err, "seek in the exported seccomp program");
	size = (size_t)end;
	if (size == 0 || size % sizeof(struct sock_filter))
		return moat_error_set(err, EINVAL, "libseccomp exported %zu bytes, not a program",
				      size);
	if (size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return moat_error_set(err, E2BIG,
				      "seccomp program of %zu instructions: the kernel takes at "
				      "most %d",
				      size / sizeof(struct sock_filter), BPF_MAXINSNS);
	insns = malloc(size);
	if (!insns)
		return moat_error_errno(err, "seccomp program");
	while (done < size) {
		ssize_t n = pread(fd, (char *)insns + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return moat_error_errno(err, "read the exported seccomp program");
		if (n == 0)
			return moat_error_set(err, EIO, "exported seccomp program shrank");
		done += (size_t)n;
	}
	ret->len = (unsigned short)(size / sizeof(struct sock_filter));
	ret->filter = TAKE_PTR(insns);
	return 0;
}

static int export_and_release(scmp_filter_ctx ctx, struct moat_seccomp *s, struct moat_error *err)
{
	int r = export_program(ctx, &s->progs[s->n_progs], err);

	seccomp_release(ctx);
	if (r < 0)
		return -1;
	s->n_progs++;
	return 0;
}

static const char *action_name(enum moat_seccomp_action a)
{
	switch (a) {
	case MOAT_SECCOMP_ERRNO:
		return "errno";
	case MOAT_SECCOMP_KILL:
		return "kill";
	case MOAT_SECCOMP_LOG:
		return "log";
	}
	return "?";
}

static int action_to_scmp(enum moat_seccomp_action a, uint32_t *ret, struct moat_error *err)
{
	switch (a) {
	case MOAT_SECCOMP_ERRNO:
		*ret = SCMP_ACT_ERRNO(EPERM);
		return 0;
	case MOAT_SECCOMP_KILL:
		/* The process, not the thread: a server whose worker thread vanished
		 * would hang instead of failing visibly. */
		*ret = SCMP_ACT_KILL_PROCESS;
		return 0;
	case MOAT_SECCOMP_LOG:
		*ret = SCMP_ACT_LOG;
		return 0;
	}
	return moat_error_set(err, 0, "syscalls: unknown action %d", (int)a);
}

static void describe(struct moat_seccomp *s, const char *profile, enum moat_seccomp_action a,
		     const struct build *b)
{
	unsigned insns = 0;
	int n;

	for (unsigned i = 0; i < s->n_progs; i++)
		insns += s->progs[i].len;
	if (s->n_progs == 0) {
		snprintf(s->desc, sizeof(s->desc), "%s: no filter", profile);
		return;
	}
	n = snprintf(s->desc, sizeof(s->desc),
		     "%s, action %s: %u filter%s, %u rules, %u BPF "
		     "instructions",
		     profile, action_name(a), s->n_progs, s->n_progs == 1 ? "" : "s", b->n_rules,
		     insns);
	if (b->lifted[0] && n > 0 && (size_t)n < sizeof(s->desc))
		snprintf(s->desc + n, sizeof(s->desc) - (size_t)n, "; allow = lifts %s", b->lifted);
}

/* What a filter is compiled from: the profile's text and the floor's. */
struct sources {
	struct profile profile, floor;
	char *text, *floor_text; /* NULL: profile none; the floor not read */
	size_t len, floor_len;
};

static void sources_clear(struct sources *src)
{
	profile_clear(&src->profile);
	profile_clear(&src->floor);
	free(src->text);
	free(src->floor_text);
}

/* --- The cache of compiled programs ------------------------------------------ */

/*
 * libseccomp takes over a millisecond to generate the programs, on every
 * launch, from the same inputs. The result is kept under a hash of all of
 * them: this moat binary (a rebuild changes its inode or mtime), the
 * libseccomp version and API level, the native architecture, the policy's
 * action and lists, and the texts of the profile and the floor. A hit is a
 * filter that compiled before from identical inputs, so every check the
 * compile makes held. The directory is the caller's, owned by us and closed
 * to others (0700); anything else is not trusted and is a miss. Writing the
 * cache is best effort: a launch never fails for it.
 */
#define CACHE_MAGIC "moatsc1"
#define CACHE_FILE_MAX \
	(sizeof(struct cache_header) + 2 * BPF_MAXINSNS * sizeof(struct sock_filter) + DESC_MAX)

struct cache_header {
	char magic[8];
	uint32_t n_progs;
	uint32_t len[2];
	uint32_t desc_len;
};

static void hash_bytes(struct sha256_ctx *h, const void *data, size_t len)
{
	uint64_t n = len;

	/* Length first: no two different inputs concatenate alike. */
	sha256_update(h, sizeof(n), (const uint8_t *)&n);
	if (len)
		sha256_update(h, len, data);
}

static void hash_str(struct sha256_ctx *h, const char *str)
{
	hash_bytes(h, str ? str : "", str ? strlen(str) + 1 : 0);
}

static int cache_key(const struct moat_policy *p, const struct sources *src, char key[65])
{
	const struct scmp_version *v = seccomp_version();
	struct sha256_ctx h;
	uint8_t md[SHA256_DIGEST_SIZE];
	struct stat exe;
	uint64_t ids[] = {0, 0, 0, 0, 0, 0, 0, 0};

	if (stat("/proc/self/exe", &exe) < 0 || !v)
		return -1;
	ids[0] = exe.st_dev;
	ids[1] = exe.st_ino;
	ids[2] = (uint64_t)exe.st_size;
	ids[3] = (uint64_t)exe.st_mtim.tv_sec * 1000000000u + (uint64_t)exe.st_mtim.tv_nsec;
	ids[4] = (uint64_t)v->major << 32 | (uint64_t)v->minor << 16 | v->micro;
	ids[5] = seccomp_api_get();
	ids[6] = seccomp_arch_native();
	ids[7] = (uint64_t)p->seccomp_action;
	sha256_init(&h);
	hash_str(&h, CACHE_MAGIC);
	hash_bytes(&h, ids, sizeof(ids));
	hash_str(&h, p->seccomp_profile);
	for (size_t i = 0; i < p->syscalls_allow.n; i++)
		hash_str(&h, p->syscalls_allow.v[i]);
	hash_str(&h, NULL); /* between the lists */
	for (size_t i = 0; i < p->syscalls_deny.n; i++)
		hash_str(&h, p->syscalls_deny.v[i]);
	hash_bytes(&h, src->text, src->text ? src->len : 0);
	hash_bytes(&h, src->floor_text, src->floor_text ? src->floor_len : 0);
	sha256_digest(&h, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The cache directory, if it is ours and closed to everyone else. */
static int cache_open_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077))
		return -1;
	return TAKE_FD(fd);
}

static bool cache_header_valid(const struct cache_header *hd, size_t size)
{
	size_t want = sizeof(*hd) + hd->desc_len;

	if (memcmp(hd->magic, CACHE_MAGIC, sizeof(hd->magic)) != 0 || hd->n_progs > 2 ||
	    hd->desc_len >= DESC_MAX)
		return false;
	for (uint32_t i = 0; i < hd->n_progs; i++) {
		if (hd->len[i] == 0 || hd->len[i] > BPF_MAXINSNS)
			return false;
		want += hd->len[i] * sizeof(struct sock_filter);
	}
	return want == size;
}

static struct moat_seccomp *cache_parse(const char *buf, size_t size)
{
	struct moat_seccomp *s;
	struct cache_header hd;
	size_t off = sizeof(hd);

	if (size < sizeof(hd))
		return NULL;
	memcpy(&hd, buf, sizeof(hd));
	if (!cache_header_valid(&hd, size) || !(s = calloc(1, sizeof(*s))))
		return NULL;
	for (; s->n_progs < hd.n_progs; s->n_progs++) {
		size_t bytes = hd.len[s->n_progs] * sizeof(struct sock_filter);
		struct sock_filter *insns = malloc(bytes);

		if (!insns) {
			moat_seccomp_free(s);
			return NULL;
		}
		memcpy(insns, buf + off, bytes);
		off += bytes;
		s->progs[s->n_progs] = (struct sock_fprog){.len = (unsigned short)hd.len[s->n_progs],
							   .filter = insns};
	}
	memcpy(s->desc, buf + off, hd.desc_len);
	s->desc[hd.desc_len] = '\0';
	return s;
}

/* The cached filter for key, or NULL. */
static struct moat_seccomp *cache_load(const char *dir, const char *key)
{
	_cleanup_close_ int dfd = cache_open_dir(dir), fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (dfd < 0)
		return NULL;
	fd = openat(dfd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || (size_t)st.st_size > CACHE_FILE_MAX)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	n = pread(fd, buf, (size_t)st.st_size + 1, 0);
	if (n != st.st_size)
		return NULL;
	return cache_parse(buf, (size_t)n);
}

static void cache_store(const char *dir, const char *key, const struct moat_seccomp *s)
{
	_cleanup_free_ char *buf = NULL, *path = NULL;
	_cleanup_close_ int dfd = -EBADF;
	struct cache_header hd = {.magic = CACHE_MAGIC, .n_progs = s->n_progs};
	struct moat_error ignored;
	size_t size = sizeof(hd), off = sizeof(hd);

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return;
	dfd = cache_open_dir(dir);
	if (dfd < 0)
		return;
	hd.desc_len = (uint32_t)strlen(s->desc);
	for (unsigned i = 0; i < s->n_progs; i++) {
		hd.len[i] = s->progs[i].len;
		size += s->progs[i].len * sizeof(struct sock_filter);
	}
	size += hd.desc_len;
	buf = malloc(size);
	path = moat_strdup_printf("%s/%s", dir, key);
	if (!buf || !path)
		return;
	memcpy(buf, &hd, sizeof(hd));
	for (unsigned i = 0; i < s->n_progs; i++) {
		memcpy(buf + off, s->progs[i].filter, s->progs[i].len * sizeof(struct sock_filter));
		off += s->progs[i].len * sizeof(struct sock_filter);
	}
	memcpy(buf + off, s->desc, hd.desc_len);
	moat_write_file_atomic(path, buf, size, 0600, &ignored);
}

/* Compiles the programs from the profile's text (NULL for profile none) and
 * the floor's (NULL when it could not be read: read again for the error if
 * the profile needs it). Parsing writes into both texts. */
static int compile(const struct moat_policy *p, const char *profile_dir, struct sources *src,
		   struct moat_seccomp **ret, struct moat_error *err)
{
	struct profile *pf = &src->profile, *floor = &src->floor;
	struct build b = {0};
	struct moat_seccomp *s = NULL;
	scmp_filter_ctx ctx = NULL;
	const char *name = p->seccomp_profile;
	int r = -1;

	if (action_to_scmp(p->seccomp_action, &b.action, err) < 0)
		return -1;
	if (resolve_list(&p->syscalls_allow, "allow", &b.allow, &b.n_allow, err) < 0 ||
	    resolve_list(&p->syscalls_deny, "deny", &b.deny, &b.n_deny, err) < 0)
		goto out;
	for (size_t i = 0; i < b.n_deny; i++)
		if (find_nr(b.allow, b.n_allow, b.deny[i].nr)) {
			moat_error_set(err, 0, "syscalls: %s is both allowed and denied",
				       b.deny[i].name);
			goto out;
		}
	s = calloc(1, sizeof(*s));
	if (!s) {
		moat_error_errno(err, "seccomp filter");
		goto out;
	}

	if (strcmp(name, "none") == 0) {
		/* No profile; still a filter when the policy denies something. */
		snprintf(pf->path, sizeof(pf->path), "(profile none)");
		if (b.n_deny > 0 && (build_denylist(&b, pf, NULL, &ctx, err) < 0 ||
				     export_and_release(ctx, s, err) < 0))
			goto out;
	} else {
		if (load_profile(pf, src->text, err) < 0)
			goto out;
		if (pf->default_allow) {
			if (build_denylist(&b, pf, NULL, &ctx, err) < 0 ||
			    export_and_release(ctx, s, err) < 0)
				goto out;
		} else {
			if ((!src->floor_text &&
			     read_profile(profile_dir, MOAT_SECCOMP_FLOOR, floor, &src->floor_text,
					  &src->floor_len, err) < 0) ||
			    load_profile(floor, src->floor_text, err) < 0)
				goto out;
			if (!floor->default_allow) {
				moat_error_set(err, 0, "%s: the floor must be default allow",
					       floor->path);
				goto out;
			}
			/* The floor first: it lets the second seccomp(2) through. */
			if (build_denylist(&b, floor, pf, &ctx, err) < 0 ||
			    export_and_release(ctx, s, err) < 0)
				goto out;
			if (build_allowlist(&b, pf, &ctx, err) < 0 ||
			    export_and_release(ctx, s, err) < 0)
				goto out;
		}
	}
	describe(s, name, p->seccomp_action, &b);
	*ret = TAKE_PTR(s);
	r = 0;
out:
	moat_seccomp_free(s);
	build_clear(&b);
	return r;
}

int moat_seccomp_build(const struct moat_policy *p, const char *profile_dir,
		       const char *cache_dir, struct moat_seccomp **ret, struct moat_error *err)
{
	struct sources src = {.profile = {.default_allow = true}, .floor = {.default_allow = true}};
	struct moat_error ignored;
	char key[65];
	bool keyed = false;
	int r = -1;

	if (!p->seccomp_profile)
		return moat_error_set(err, 0, "seccomp: syscalls: no seccomp profile");
	if (strcmp(p->seccomp_profile, "none") != 0) {
		if (read_profile(profile_dir, p->seccomp_profile, &src.profile, &src.text, &src.len,
				 err) < 0)
			goto out;
		/* Part of the key whether or not this profile stacks on it; an
		 * allow-list that needs it and cannot read it fails in compile.
		 * The floor itself is not read twice. */
		if (strcmp(p->seccomp_profile, MOAT_SECCOMP_FLOOR) == 0) {
			src.floor = src.profile;
			src.floor_text = strndup(src.text, src.len);
			src.floor_len = src.floor_text ? src.len : 0;
		} else if (read_profile(profile_dir, MOAT_SECCOMP_FLOOR, &src.floor,
					&src.floor_text, &src.floor_len, &ignored) < 0) {
			src.floor_text = NULL;
		}
	}
	if (cache_dir) {
		keyed = cache_key(p, &src, key) == 0;
		if (keyed && (*ret = cache_load(cache_dir, key))) {
			r = 0;
			goto out;
		}
	}
	r = compile(p, profile_dir, &src, ret, err);
	if (r == 0 && keyed && *ret)
		cache_store(cache_dir, key, *ret);
out:
	if (r < 0)
		moat_error_prefix(err, "seccomp");
	sources_clear(&src);
	return r;
}

int moat_seccomp_install(const struct moat_seccomp *s, struct moat_error *err)
{
	if (!s)
		return 0;
	/*
	 * No SECCOMP_FILTER_FLAG_TSYNC: the child of clone() has one thread, and
	 * the filter is inherited by everything it creates and kept across
	 * execve. No SECCOMP_FILTER_FLAG_SPEC_ALLOW: a sandbox keeps whatever
	 * speculative-store-bypass mitigation the kernel applies to filtered tasks.
	 */
	for (unsigned i = 0; i < s->n_progs; i++)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &s->progs[i]) < 0) {
			if (errno == EACCES)
				return moat_error_errno(err, "install seccomp filter: "
							     "no_new_privs is not set");
			return moat_error_errno(err, "install seccomp filter %u of %u", i + 1,
						s->n_progs);
		}
	return 0;
}

const char *moat_seccomp_describe(const struct moat_seccomp *s)
{
	return s ? s->desc : "none";
}

unsigned moat_seccomp_n_programs(const struct moat_seccomp *s)
{
	return s ? s->n_progs : 0;
}

void moat_seccomp_free(struct moat_seccomp *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n_progs; i++)
		free(s->progs[i].filter);
	free(s);
}
