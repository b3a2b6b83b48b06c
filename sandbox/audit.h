/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-sandbox audit log: evidence of what a sandbox was and what it was
 * refused, one JSON object per line in MOAT_LOG_DIR/NAME.jsonl (schema in
 * docs/audit.md). It outlives the sandbox. Each event is one write(2) of a
 * whole line on an O_APPEND fd, so a reader never sees half an event from a
 * live writer. When a line would take the file past its cap, the file is
 * renamed to NAME.jsonl.1 (replacing an older one) and a fresh one started.
 *
 * One writer per log: the sandbox's supervisor, which holds the name, or,
 * once it is dead, its collector under the global lock (collect.h), for
 * the "stop" it did not write. The writer is not thread-safe. Readers need
 * no lock.
 */
#ifndef MOAT_AUDIT_H
#define MOAT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json.h>

#include "error.h"

/* Not "struct moat_audit": policy.h has enum moat_audit, and C tags share one namespace. */
struct moat_audit_log;

#define MOAT_AUDIT_CAP_DEFAULT (16ull << 20) /* bytes per file; one rotated file kept */
#define MOAT_AUDIT_LINE_MAX    65536	     /* longest line written or read, newline included */
#define MOAT_AUDIT_TIME_LEN    31	     /* "2026-11-29T20:43:50.123456789Z" plus NUL */

/*
 * Opens (creating mode 0640, and the directory mode 0750 if missing)
 * MOAT_LOG_DIR/NAME.jsonl for appending. On success *ret is owned by the
 * caller (moat_audit_close()). EINVAL for an invalid name.
 */
int moat_audit_open(const char *name, struct moat_audit_log **ret, struct moat_error *err);

/* As moat_audit_open() in dir, rotating at cap bytes (0: the default): for tests. */
int moat_audit_open_at(const char *dir, const char *name, uint64_t cap,
		       struct moat_audit_log **ret, struct moat_error *err);

/*
 * Appends one event: "time" (now, RFC 3339 UTC with nanoseconds), "sandbox",
 * "event", then the members of fields in their order. fields is borrowed
 * (the caller keeps its reference) and may be NULL; it must be an object and
 * must not hold "time", "sandbox" or "event" (EINVAL). A line longer than
 * MOAT_AUDIT_LINE_MAX is refused (EMSGSIZE). A line that alone exceeds the
 * cap is still written, in a fresh file: evidence is never dropped for size.
 */
int moat_audit_write(struct moat_audit_log *a, const char *event, json_object *fields,
		     struct moat_error *err);

/* What the sandbox is, written once the command runs ("start"). */
struct moat_audit_start {
	const char *tier;	   /* the policy's base tier */
	const char *policy;	   /* the policy file, or "tier:NAME" */
	const char *policy_sha256; /* of the effective policy text (policy.ini) */
	pid_t pid;		   /* init's host pid */
	pid_t command_pid;	   /* the command's host pid; 0: unknown, not written */
	uid_t uid;		   /* the command's user */
	gid_t gid;
	char *const *argv;	   /* the command, NULL-terminated */
};
int moat_audit_start(struct moat_audit_log *a, const struct moat_audit_start *s,
		     struct moat_error *err);

/* "exit": the command's exit status as moat run reports it (code, or 128+N for
 * signal N); a status above 128 also gets the "signal" name ("SIGKILL"). */
int moat_audit_exit(struct moat_audit_log *a, int status, struct moat_error *err);

/* "oom": the kernel's OOM killer killed kills processes of the sandbox under a
 * memory limit of limit_bytes (0: none). */
int moat_audit_oom(struct moat_audit_log *a, uint64_t limit_bytes, uint64_t kills,
		   struct moat_error *err);

/* "log_dropped": bytes of a detached sandbox's output that its log budget
 * ([resources] log_rate, at rate bytes a second) did not let into NAME.log
 * since the last such event, total_bytes since its start. The supervisor
 * writes at most one a second, so a flood adds one line a second. */
int moat_audit_log_dropped(struct moat_audit_log *a, uint64_t bytes, uint64_t total_bytes,
			   uint64_t rate, struct moat_error *err);

/* "stop": the sandbox has been torn down, the last event of its life. status is
 * what moat run exits with; error, when not NULL, is why moat failed (the
 * launch or the teardown), as printed on stderr without "moat: ". */
int moat_audit_stop(struct moat_audit_log *a, int status, const char *error,
		    struct moat_error *err);

/* "lost": denials (and, with audit = full, allowed events) the kernel could
 * not hand over (its ring buffer was full) since the last such event, so that
 * a gap in the evidence is on record. allowed 0 is not written. */
int moat_audit_lost(struct moat_audit_log *a, uint64_t denials, uint64_t allowed,
		    struct moat_error *err);

/* A connection or packet the egress programs refused, or with audit = full
 * allowed, as the caller decoded it from bpf/moat_bpf.h. Strings are
 * borrowed for the call. */
struct moat_audit_access {
	bool allowed;	   /* an "allowed" event; false: "denied" */
	uint64_t ktime_ns; /* bpf_ktime_get_boot_ns() of the attempt; 0: now */
	uint32_t pid;	   /* host pid (tgid); 0 outside a task (the egress packet hook) */
	char comm[16];	   /* need not be NUL-terminated; untrusted bytes; "" with pid 0 */
	const char *hook;  /* "connect4", "connect6", "sendmsg4", "sendmsg6", "egress" */
	const char *proto; /* "tcp", "udp", "icmp", "icmpv6" or the number as a string */
	int family;	   /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network order; v4 in the first 4 bytes */
	uint16_t port;	   /* host order, 0 when none */
};
/* "denied" or "allowed": the time is converted from CLOCK_BOOTTIME to the
 * wall clock with the clocks' offset at the time of the call. */
int moat_audit_access(struct moat_audit_log *a, const struct moat_audit_access *d,
		      struct moat_error *err);

/* fsync, then close. NULL is fine. */
void moat_audit_close(struct moat_audit_log *a);

/* "2026-11-29T20:43:50.123456789Z" for realtime_ns into buf[MOAT_AUDIT_TIME_LEN]. */
void moat_audit_format_time(uint64_t realtime_ns, char buf[MOAT_AUDIT_TIME_LEN]);

/*
 * Reader side. fn gets each line, oldest first: the raw text (len bytes,
 * newline removed, NUL-terminated for convenience) and the parsed object, or
 * NULL when the line is not exactly one JSON object (a torn or corrupted
 * line; longer than MOAT_AUDIT_LINE_MAX: the first bytes only). Both are
 * borrowed for the call. fn returns 0 to go on, or a positive value to stop
 * the read, which then returns that value (-1 is the read's own error).
 */
typedef int (*moat_audit_line_fn)(const char *line, size_t len, json_object *event, void *userdata);

/* A position in NAME.jsonl.1 then NAME.jsonl that can be read again as the log grows. */
struct moat_audit_reader;

/* Opens NAME's log in MOAT_LOG_DIR (or dir) for reading from the start of
 * NAME.jsonl.1, if any. ENOENT when neither file exists. *ret is owned by the
 * caller (moat_audit_reader_free()). */
int moat_audit_reader_open(const char *name, struct moat_audit_reader **ret,
			   struct moat_error *err);
int moat_audit_reader_open_at(const char *dir, const char *name, struct moat_audit_reader **ret,
			      struct moat_error *err);

/*
 * Calls fn for every whole line written since the last call, then returns 0
 * at the end of the data. When NAME.jsonl has been replaced by a rotation, it
 * finishes the old file and goes on from the start of the new one (up to two
 * rotations between calls are followed; more lose the files in between).
 * A line without its newline yet is kept for the next call.
 */
int moat_audit_reader_read(struct moat_audit_reader *r, moat_audit_line_fn fn, void *userdata,
			   struct moat_error *err);

/* Hands a trailing line that has no newline (a writer died mid-line) to fn. */
int moat_audit_reader_flush(struct moat_audit_reader *r, moat_audit_line_fn fn, void *userdata);

void moat_audit_reader_free(struct moat_audit_reader *r);

/*
 * The log's end, for status: calls fn for whole lines of NAME.jsonl newest
 * first, then of NAME.jsonl.1, reading at most budget bytes; a last line
 * still being written, and a line longer than MOAT_AUDIT_LINE_MAX, are
 * skipped. fn returns 1 to stop. ENOENT when NAME has no log.
 */
typedef int (*moat_audit_tail_fn)(const char *line, size_t len, void *data);
int moat_audit_tail(const char *name, size_t budget, moat_audit_tail_fn fn, void *data,
		    struct moat_error *err);
/* As moat_audit_tail() in dir: for tests. */
int moat_audit_tail_at(const char *dir, const char *name, size_t budget, moat_audit_tail_fn fn,
		       void *data, struct moat_error *err);

#endif
