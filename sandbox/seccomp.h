/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The syscall filter (policy [syscalls]), built with libseccomp in the
 * launcher before the sandbox's child exists and installed by the child as
 * the last step before exec.
 *
 * Profiles are text files in policies/seccomp/NAME.profile, one rule a line
 * (the format is described at the top of baseline.profile):
 *
 *   default allow | default deny    the profile is a deny-list or an allow-list
 *   allow  SYSCALL [COND...]        allowed (allow-lists only)
 *   deny   SYSCALL [COND...]        the policy's action; `allow =` lifts it
 *   forbid SYSCALL [COND...]        the policy's action; `allow =` cannot lift it
 *   enosys SYSCALL                  fails with ENOSYS whatever the action; not liftable
 *   COND: argN==V argN!=V argN<V argN<=V argN>V argN>=V argN&M==V argN&M!=V
 *         (V and M: numbers or known constants joined with '|')
 *
 * Profiles:
 *   baseline  default allow; denies the kernel attack surface and the
 *             syscalls that leave or alter the sandbox.
 *   strict    default deny; an allow-list for a Python or C model server.
 *             Every allow-list is stacked on baseline.profile (the floor):
 *             the kernel runs both filters and the strictest verdict wins,
 *             so what baseline denies stays denied under strict.
 *   none      no filter (unless the policy's `deny =` names syscalls).
 *
 * Policy lists: `deny = X` denies X outright with the action (replacing the
 * profile's rules for X, except an enosys answer, which stays). `allow = X`
 * lifts the `deny` rules for X and, under an allow-list, allows X; naming a
 * syscall that the profile forbids outright (forbid or enosys without
 * conditions) is an error. A forbid rule with conditions stays in force:
 * `allow = ioctl` still denies TIOCSTI.
 *
 * Actions: errno (EPERM), kill (the whole process, SIGSYS), log (allowed and
 * logged by the kernel: for building allow-lists, not for enforcement).
 * Other architectures (i386 via int 0x80) and the x32 ABI (syscall numbers
 * with bit 30 set) kill the process whatever the action.
 */
#ifndef MOAT_SECCOMP_H
#define MOAT_SECCOMP_H

#include "error.h"
#include "policy.h"
#include "state.h"

#define MOAT_SECCOMP_FLOOR "baseline" /* the deny-list every allow-list is stacked on */

/* The compiled filter: one or two BPF programs ready to install. Opaque. */
struct moat_seccomp;

/* Compiled programs are kept here between launches (see seccomp.c). */
#define MOAT_SECCOMP_CACHE_DIR MOAT_RUN_DIR "/.seccomp"

/*
 * Reads the profile p->seccomp_profile from profile_dir (the directory holding
 * NAME.profile, normally moat_policy_dir()/seccomp), merges the policy's allow
 * and deny lists, and compiles the BPF programs. Everything that can fail
 * fails here: unknown syscall names (in profiles or the policy), bad lines,
 * a filter over the kernel's 4096-instruction limit.
 * With a cache_dir (made 0700 if missing), a filter compiled before from the
 * same inputs is read from there instead, and a new one is stored there.
 * Returns 0 and a new filter in *ret (owned by the caller, free with
 * moat_seccomp_free()), or -1 with err filled.
 */
int moat_seccomp_build(const struct moat_policy *p, const char *profile_dir,
		       const char *cache_dir, struct moat_seccomp **ret, struct moat_error *err);

/*
 * In the sandbox's child, last before exec, after PR_SET_NO_NEW_PRIVS: installs
 * the programs with seccomp(SECCOMP_SET_MODE_FILTER). Allocates nothing and
 * makes no syscall but seccomp(2). A filter with no program (profile none) is
 * a no-op. Returns 0, or -1 with err filled.
 */
int moat_seccomp_install(const struct moat_seccomp *s, struct moat_error *err);

/* One line for status and logs, e.g. "strict, action errno: 2 filters, 163
 * rules, 241 instructions; allow = ptrace lifts baseline.profile:57".
 * Owned by s; "none" for a NULL filter. */
const char *moat_seccomp_describe(const struct moat_seccomp *s);

/* Number of BPF programs install would load (0, 1 or 2). */
unsigned moat_seccomp_n_programs(const struct moat_seccomp *s);

void moat_seccomp_free(struct moat_seccomp *s);

#endif
