// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Syscall accounting: how often each sandbox made each syscall.
 *
 * One program for the whole host on the sys_enter raw tracepoint, loaded
 * once and pinned by sandbox/syscount.c, attached only while a registered
 * sandbox runs (a syscall tracepoint moves every task on the host onto the
 * slow syscall path, whatever the program does).
 *
 * It runs for every syscall of every task, sandboxed or not, so its common
 * path makes no helper call: where returns go through a mitigation thunk,
 * one call costs more than everything else the program does. Each CPU
 * remembers the task that last entered a syscall on it (by its pt_regs,
 * which the tracepoint passes and no two live tasks share) and that task's
 * slot; while the same task keeps making syscalls there, counting is a
 * compare and a per-CPU increment. Another task, or a changed generation,
 * takes the slow path once: the current task's cgroup id, one bucket of
 * the index compared (see struct moat_sc_entry). A task outside every
 * sandbox stops there. Nothing depends on the number of sandboxes.
 *
 * The generation changes whenever a cached answer may have become wrong:
 * user space bumps it after every change of the index, handle_exit when a
 * task exits (its kernel stack, and so its pt_regs address, may go to a
 * new task) and handle_attach when a task moves to another cgroup.
 *
 * The counters are per CPU, so the hot path has no atomics; syscall
 * tracepoint probes run with preemption disabled, so no two increments on
 * one CPU interleave.
 *
 * Only tasks directly in the sandbox's cgroup are counted, not those of
 * cgroups below it: the key is the task's own cgroup.
 *
 * The number is the one the tracepoint reports: a compat (32-bit) task's
 * numbers come from its own table and are counted, unreliably named, under
 * the native ones; x32 numbers (bit 30 set) and numbers past the table are
 * not counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "moat_bpf.h"

/* Written by user space through mmap; see struct moat_sc_entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, (MOAT_SC_BUCKETS * MOAT_SC_WAYS));
	__type(key, __u32);
	__type(value, struct moat_sc_entry);
} moat_sc_index SEC(".maps");

/* Preallocated for every slot and CPU: user space lowers max_entries before
 * loading on hosts with many CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOAT_SC_SLOTS_MAX);
	__type(key, __u32);
	__type(value, struct moat_syscounts);
} moat_sc_counts SEC(".maps");

/* The generation: bumped atomically here and through mmap by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} moat_sc_gen SEC(".maps");

/* What one CPU knows about the task that entered a syscall on it last. */
struct cpu_cache {
	__u64 regs; /* its pt_regs */
	__u64 gen;  /* the generation when its slot was looked up */
	__u32 slot; /* its slot + 1; 0: in no sandbox */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_cache);
} moat_sc_cache SEC(".maps");

/* cgroup_id's slot + 1 from the index, 0 when it is not registered. */
static __always_inline __u32 slot_of(__u64 cgroup_id)
{
	__u32 first =
	    (__u32)((cgroup_id * MOAT_SC_HASH_MUL) >> (64 - MOAT_SC_BUCKET_BITS)) * MOAT_SC_WAYS;
	struct moat_sc_entry *e;

#pragma unroll
	for (__u32 i = 0; i < MOAT_SC_WAYS; i++) {
		__u32 k = first + i;

		e = bpf_map_lookup_elem(&moat_sc_index, &k);
		if (e && e->cgroup_id == cgroup_id)
			return e->slot + 1;
	}
	return 0;
}

/* raw_tracepoint/sys_enter: args[0] is the task's pt_regs, args[1] the
 * syscall number. */
SEC("raw_tracepoint/sys_enter")
int handle_sysenter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, slot;
	struct cpu_cache *cc = bpf_map_lookup_elem(&moat_sc_cache, &zero);
	__u64 *gen = bpf_map_lookup_elem(&moat_sc_gen, &zero);
	struct moat_syscounts *c;
	__u64 g, nr;

	if (!cc || !gen)
		return 0;
	g = *(volatile __u64 *)gen; /* before the index: a later bump redoes this */
	if (cc->regs != ctx->args[0] || cc->gen != g) {
		struct task_struct *task = bpf_get_current_task_btf();

		/* What bpf_get_current_cgroup_id() returns, without its
		 * call and the two inside it (RCU is held here already). */
		cc->slot = slot_of(task->cgroups->dfl_cgrp->kn->id);
		cc->regs = ctx->args[0];
		cc->gen = g;
	}
	if (!cc->slot)
		return 0;
	slot = cc->slot - 1;
	c = bpf_map_lookup_elem(&moat_sc_counts, &slot);
	nr = ctx->args[1];
	if (c && nr < MOAT_SYSCALLS_MAX)
		c->n[nr]++; /* per CPU, preemption off: no atomics needed */
	return 0;
}

static __always_inline void bump_generation(void)
{
	__u32 zero = 0;
	__u64 *gen = bpf_map_lookup_elem(&moat_sc_gen, &zero);

	if (gen)
		__sync_fetch_and_add(gen, 1);
}

/* Before the task's kernel stack is freed: no cache trusts its pt_regs. */
SEC("raw_tracepoint/sched_process_exit")
int handle_exit(void *ctx)
{
	bump_generation();
	return 0;
}

/* After a task (or a thread group) moved to another cgroup. */
SEC("raw_tracepoint/cgroup_attach_task")
int handle_attach(void *ctx)
{
	bump_generation();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
