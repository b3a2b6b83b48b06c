/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory a long-lived moat process gives back once set-up is over. The
 * supervisor and init each live as long as their sandbox, and a host runs
 * many sandboxes: what set-up touched and the running process no longer needs
 * would otherwise stay counted against every one of them (VmRSS).
 *
 * Nothing here changes what the process reads: freed heap pages were free,
 * dropped bss pages held only zeros (they read back as zeros), dropped code
 * and constant pages read back from the file they came from. The caller must
 * be single-threaded (a page checked for zeros must not be written before it
 * is dropped), as the supervisor and init are.
 */
#ifndef MOAT_MEMORY_H
#define MOAT_MEMORY_H

#include <stddef.h>

/*
 * Everything below, in order: the heap's free pages (malloc_trim), then the
 * zero pages of every loaded object's bss, then the page-table entries of
 * every object's read-only segments. Best effort: it cannot fail.
 */
void moat_memory_release(void);

/*
 * The resident pages of every loaded object's bss (its zero-initialised,
 * anonymous part) that hold only zeros go back to the kernel; reading one
 * later maps a fresh zero page. libcgroup's cgroup_init() clears its 800 KiB
 * mount table, of which a dozen entries are used. Returns the bytes dropped.
 */
size_t moat_memory_drop_zero_bss(void);

/*
 * Drops this process's page-table entries for the read-only PT_LOAD segments
 * (code, constants) of every loaded object but the vDSO. The pages stay in
 * the page cache, shared with every other process that maps them; what runs
 * from here on faults its pages back in, as after the kernel had reclaimed
 * them. VmRSS then counts what the process runs, not all that set-up ran.
 * Writable segments (data, relocated RELRO) are never touched.
 */
void moat_memory_drop_file_pages(void);

#endif
