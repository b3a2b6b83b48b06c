/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A sandbox's status, collected from what is already there: its state file
 * (/run/moat/NAME/state.json), its cgroup files, the pinned BPF maps of the
 * egress and syscall accounting programs, the supervisor's clients.json and
 * the tail of its audit log. Nothing here signals, locks or writes anything a
 * sandbox uses, so reading status never slows a sandbox down.
 *
 * The result is one JSON object (schema in docs/status.md, version
 * MOAT_STATUS_SCHEMA); `moat status`, `ls`, `top` and `metrics` are views of
 * it. A source that cannot be read (a cgroup file, a BPF map, the log) leaves
 * its section with "available": false and an "error", never a failure of the
 * whole collection: only a missing or unreadable state file fails.
 */
#ifndef MOAT_STATUS_H
#define MOAT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json.h>

#include "error.h"

#define MOAT_STATUS_SCHEMA 1 /* "schema" in every object: bumped only by an incompatible change */

#define MOAT_STATUS_TOP_N     10 /* syscalls, destinations and clients listed by name */
#define MOAT_STATUS_DENIALS_N 10 /* last denied events kept from the audit log */

/* The audit log is read backwards from its end, at most this many bytes (both
 * files together): the cost of `moat status` is bounded whatever the log's size. */
#define MOAT_STATUS_LOG_SCAN_MAX (1u << 20)

/* What moat_status_collect() gathers beyond the counters every view needs. */
enum moat_status_detail {
	MOAT_STATUS_SYSCALL_NAMES = 1 << 0, /* syscalls.top and syscalls.counts by name */
	MOAT_STATUS_TOP = 1 << 1,	    /* network.destinations and network.clients */
	MOAT_STATUS_DENIALS = 1 << 2,	    /* denials.last, from the audit log's tail */
};
#define MOAT_STATUS_FULL (MOAT_STATUS_SYSCALL_NAMES | MOAT_STATUS_TOP | MOAT_STATUS_DENIALS)

/*
 * Collects the status of the sandbox NAME with the details asked for (a
 * mask of enum moat_status_detail). Returns 0 and a new object in *ret,
 * owned by the caller (json_object_put), or -1 with err filled: errno ENOENT
 * when there is no sandbox of that name (or it is too early in its start to
 * have a state file), EINVAL for an invalid name.
 */
int moat_status_collect(const char *name, unsigned int detail, json_object **ret,
			struct moat_error *err);

/* The status of every sandbox, sorted by name, as a new array owned by the
 * caller. A sandbox that vanishes while it is read is left out. */
int moat_status_collect_all(unsigned int detail, json_object **ret, struct moat_error *err);

/* --- Reading the object back (for the views) ---------------------------- */

/* The member at a dotted path ("memory.current_bytes"), borrowed; NULL when
 * a component is missing or JSON null. */
json_object *moat_status_get(json_object *status, const char *path);

/* The integer at path, or false when it is absent or null. */
bool moat_status_u64(json_object *status, const char *path, uint64_t *ret);

/* The number (integer or double) at path, or false when absent or null. */
bool moat_status_double(json_object *status, const char *path, double *ret);

/* The string at path, or fallback. Borrowed. */
const char *moat_status_str(json_object *status, const char *path, const char *fallback);

/* v as text: a string as it is, anything else as compact JSON. Borrowed. */
const char *moat_status_text(json_object *v);

/* --- Formatting for people --------------------------------------------- */

/* "512B", "980K", "1.2M", "8.0G": binary units, at most 5 characters + NUL. */
void moat_status_format_bytes(uint64_t v, char *buf, size_t len);

/* "42s", "3m07s", "5h02m", "12d03h". */
void moat_status_format_duration(uint64_t seconds, char *buf, size_t len);

#endif
