/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Syscall accounting, the user side of bpf/syscount.bpf.c: one raw
 * tracepoint program on sys_enter for the whole host counts each
 * registered sandbox's syscalls by number, keyed by the sandbox's cgroup2
 * id, in per-CPU counters. Tasks directly in the sandbox's cgroup are
 * counted, not those of cgroups below it.
 *
 * Enabling a syscall tracepoint moves every task on the host onto the slow
 * syscall path, counted or not, so the programs are attached only while at
 * least one registered sandbox runs: the first registration attaches them
 * (their links pinned, so they outlive the registering supervisor while
 * others need them) and the last unregistration detaches them. Both happen
 * under the BPF load lock (sandbox/bpf.h), so "attached" and "some sandbox
 * is registered" change together.
 *
 * Programs, maps and links are pinned in MOAT_BPF_PIN_ROOT "/syscount-HASH/".
 * Unregistering, reading and gc look in every version's directory, so a
 * sandbox registered by an older moat is still found and that version's
 * programs still detached when it ends.
 *
 * Limits: the counters are preallocated per slot and CPU (4 KiB each, at
 * most 64 MiB in all), so a host has MOAT_SC_SLOTS_MAX slots, fewer with
 * more than 16 CPUs (E2BIG beyond); see also struct moat_sc_entry (ENOSPC).
 */
#ifndef MOAT_SYSCOUNT_H
#define MOAT_SYSCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "error.h"
#include "moat_bpf.h" /* MOAT_SYSCALLS_MAX: syscall numbers counted, 0..511 */

struct moat_syscount; /* one sandbox's registration, owned by its supervisor */

/* Registers the sandbox whose cgroup2 id is cgroup_id with zeroed counters,
 * loading and pinning the programs when this host has none and attaching
 * them when it is the first. Call before any task joins the cgroup. EEXIST
 * when cgroup_id is already registered. *ret is owned by the caller
 * (moat_syscount_free). */
int moat_syscount_register(uint64_t cgroup_id, struct moat_syscount **ret, struct moat_error *err);

/* Unregisters, zeroing the counters; detaches the programs when no
 * registered sandbox is left. Errors are dropped: what stays behind is
 * moat gc's (moat_syscount_collect). NULL ok. */
void moat_syscount_free(struct moat_syscount *sc);

/* Reads a sandbox's counts from the pinned maps (any process): counts[nr]
 * summed over CPUs. ENOENT when the sandbox is not registered. */
int moat_syscount_read(uint64_t cgroup_id, uint64_t counts[MOAT_SYSCALLS_MAX],
		       struct moat_error *err);

/* How many sandboxes are registered and whether the counter is attached
 * (its link is pinned), over every pinned version: a snapshot. */
int moat_syscount_info(size_t *ret_registered, bool *ret_attached, struct moat_error *err);

/* For moat gc after a supervisor died: unregisters cgroup_id (detaching the
 * programs when none is left). Nothing registered, or nothing pinned at all,
 * is success; creates nothing. */
int moat_syscount_collect(uint64_t cgroup_id, struct moat_error *err);

/* The name of syscall nr on this architecture ("getppid"), or NULL when it
 * has none. The string belongs to the library and lives until exit. */
const char *moat_syscall_name(int nr);

#endif
