/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy model: what a sandbox may do, loaded from INI files
 * (docs/policy.md). A policy names a tier (policies/TIER.ini) as its base;
 * the tier is applied first, then the file's keys in order. Scalar keys
 * replace the inherited value; list keys append, and an empty assignment
 * ("egress =") clears what was inherited (systemd's convention).
 * Unknown sections and keys are errors, never ignored.
 */
#ifndef MOAT_POLICY_H
#define MOAT_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"
#include "parse.h"
#include "util.h"

#define MOAT_DEFAULT_TIER "public" /* deny by default: no network, small limits */
#define MOAT_DEFAULT_POOL "10.208.0.0/16"

enum moat_net_mode { MOAT_NET_NONE = 0, MOAT_NET_VETH };
enum moat_seccomp_action { MOAT_SECCOMP_ERRNO = 0, MOAT_SECCOMP_KILL, MOAT_SECCOMP_LOG };
enum moat_audit { MOAT_AUDIT_DENIALS = 0, MOAT_AUDIT_FULL };

struct moat_bind {
	char *src;
	char *dst;
	bool rw;
};

struct moat_env_set {
	char *name;
	char *value;
};

struct moat_policy {
	char *tier;   /* the base tier's name ("public", ...) */
	char *source; /* the file the policy came from, or "tier:NAME" */

	/* [sandbox] */
	char *hostname; /* NULL: the sandbox's name */
	uid_t uid;
	gid_t gid;
	bool accounting;
	enum moat_audit audit;

	/* [filesystem] */
	struct moat_bind *binds;
	size_t n_binds;
	uint64_t tmp_size; /* bytes, the cap on the private /tmp */

	/* [resources]: 0 means no limit */
	uint64_t memory;     /* bytes */
	uint32_t cpus_milli; /* thousandths of a CPU */
	uint64_t pids;
	uint64_t log_rate;  /* bytes/s a detached sandbox's output may add to its log */
	uint64_t log_burst; /* bytes it may write at once above that rate (a token bucket) */
	struct moat_device *devices;
	size_t n_devices;

	/* [syscalls] */
	char *seccomp_profile; /* "baseline", "strict" or "none" */
	struct moat_strv syscalls_allow;
	struct moat_strv syscalls_deny;
	enum moat_seccomp_action seccomp_action;

	/* [network] */
	enum moat_net_mode net_mode;
	struct moat_egress_rule *egress;
	size_t n_egress;
	struct moat_publish *publish;
	size_t n_publish;
	bool nat;
	struct moat_cidr pool; /* IPv4 network the veth /30s come from */

	/* [env] */
	struct moat_strv env_pass; /* names taken from the caller's environment */
	struct moat_env_set *env_set;
	size_t n_env_set;
};

/* Error list: one "FILE:LINE: message" string per problem. */
struct moat_diag {
	struct moat_strv lines;
};
void moat_diag_free(struct moat_diag *d);

/* Directory holding TIER.ini files: $MOAT_POLICY_DIR, else policies/ next to
 * the binary's parent directory (a build tree), else the installed
 * $(PREFIX)/share/moat/policies. Returns a static string. */
const char *moat_policy_dir(void);

/* An empty policy with the built-in defaults (before any tier). Caller frees. */
struct moat_policy *moat_policy_new(void);
void moat_policy_free(struct moat_policy *p);

/*
 * Loads tier TIER from moat_policy_dir(). Returns 0 and a new policy in *ret
 * (owned by the caller), or -1 with every problem appended to diag.
 */
int moat_policy_load_tier(const char *tier, struct moat_policy **ret, struct moat_diag *diag);

/* Loads a policy file and its base tier ([sandbox] tier, default MOAT_DEFAULT_TIER). */
int moat_policy_load_file(const char *path, struct moat_policy **ret, struct moat_diag *diag);

/*
 * Applies one key as if it stood in SECTION of a policy file (the parser and
 * the command-line overrides share it). Returns 0, or -1 with a message
 * (malloc'd, owned by the caller) in *ret_msg, e.g. "memory: bad size "12Q"".
 */
int moat_policy_set(struct moat_policy *p, const char *section, const char *key,
		    const char *value, char **ret_msg);

/* Checks rules that span keys (nat without veth, a syscall both allowed and
 * denied, two binds on one destination, ...). Problems go to diag prefixed
 * with where ("FILE: message"). Returns 0 or -1. */
int moat_policy_validate(const struct moat_policy *p, const char *where, struct moat_diag *diag);

/* Prints the effective policy as an INI file that loads back to the same policy. */
int moat_policy_format(const struct moat_policy *p, FILE *out);

/* Same, into a malloc'd string owned by the caller. */
char *moat_policy_to_string(const struct moat_policy *p);

#endif
