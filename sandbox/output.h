/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A detached sandbox's output: its stdout and stderr go into a pipe, and the
 * supervisor copies what arrives into MOAT_LOG_DIR/NAME.log. The sandbox
 * never holds the file, so it cannot truncate it, punch holes in it or
 * grow it without bound: the supervisor renames it to NAME.log.1 (replacing
 * an older one) when a write would take it past its cap, and starts afresh.
 * NAME.log exists throughout a rotation (a reader polling it always finds a
 * file); the steps use a temporary name, .NAME.log.tmp, which a supervisor
 * killed in the middle may leave, and the next open of NAME removes.
 *
 * The supervisor's own messages about the sandbox go to the same file, as
 * its stdout and stderr; they follow each rotation.
 *
 * The copying is done on the host, outside the sandbox's cgroup, so the
 * policy bounds it ([resources] log_rate and log_burst): a token bucket,
 * full at the start, that the sandbox's output spends and time refills.
 * Output beyond it is dropped and counted (see moat_output_relay()).
 */
#ifndef MOAT_OUTPUT_H
#define MOAT_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define MOAT_OUTPUT_CAP_DEFAULT (16ull << 20) /* bytes per file; one rotated file kept */

struct moat_output;

/* What a relay may cost; 0 in a member means its default (cap) or no limit
 * (rate: then burst is unused). */
struct moat_output_limits {
	uint64_t cap;	/* bytes per file before a rotation */
	uint64_t rate;	/* bytes per second into the file */
	uint64_t burst; /* bytes the bucket holds */
};

/*
 * Opens (creating mode 0640, and the directory mode 0750 if missing)
 * MOAT_LOG_DIR/NAME.log for appending, and the pipe. On success *ret is
 * owned by the caller (moat_output_free()).
 */
int moat_output_open(const char *name, const struct moat_output_limits *limits,
		     struct moat_output **ret, struct moat_error *err);

/* As moat_output_open() in dir: for tests. */
int moat_output_open_at(const char *dir, const char *name, const struct moat_output_limits *limits,
			struct moat_output **ret, struct moat_error *err);

/* The file's path, for state.json. */
const char *moat_output_path(const struct moat_output *o);

/* The current file: where the supervisor points its own stdout and stderr. */
int moat_output_file_fd(const struct moat_output *o);

/* The pipe's write end: the sandbox's stdout and stderr. The supervisor
 * closes its copy once the sandbox has one (moat_output_close_writer()). */
int moat_output_writer_fd(const struct moat_output *o);
void moat_output_close_writer(struct moat_output *o);

/* The pipe's read end (non-blocking), to poll. */
int moat_output_reader_fd(const struct moat_output *o);

/*
 * Copies what the pipe holds, up to 1 MiB a call and as far as the budget
 * goes, into the file, rotating on the way, and, with follow_stdio, points
 * fds 1 and 2 at a file that replaced the old one. now_ns is CLOCK_MONOTONIC
 * (moat_monotonic_ns(); tests pass their own). Returns 1 when it stopped at
 * that bound (call again), 0 when the pipe is empty for now or the budget is
 * spent (then moat_output_wants_input() is false until the timer has fired),
 * -1 once every writer has closed the pipe (or reading failed): nothing more
 * will come. Output the file refuses (disk full) is read and dropped: the
 * sandbox never blocks on a full disk.
 */
int moat_output_relay(struct moat_output *o, uint64_t now_ns, bool follow_stdio);

/* False while the budget is spent: leave the pipe unread (poll the timer). */
bool moat_output_wants_input(const struct moat_output *o);

/* A timerfd (non-blocking) armed while the budget is spent or dropped bytes
 * are yet to be reported; -1 without a rate limit. Readable: call
 * moat_output_tick(). */
int moat_output_timer_fd(const struct moat_output *o);

/* Bytes dropped: those of one report, and all since the open. */
struct moat_output_dropped {
	uint64_t bytes;
	uint64_t total;
};

/*
 * When the timer fires: the budget is refilled, what it allows of what the
 * pipe holds is relayed and the rest of it, at most the pipe's capacity,
 * discarded and counted. Returns 1 with *ret filled when bytes were dropped
 * since the last report and that was at least a second ago (the first
 * report comes at once), else 0.
 */
int moat_output_tick(struct moat_output *o, uint64_t now_ns, bool follow_stdio,
		     struct moat_output_dropped *ret);

/*
 * At the end, once the sandbox is gone: relays what the budget allows of
 * what is left, discards the rest (the pipe's capacity at most) and returns
 * 1 with *ret filled when drops are unreported, however recent the last
 * report, else 0.
 */
int moat_output_finish(struct moat_output *o, uint64_t now_ns, bool follow_stdio,
		       struct moat_output_dropped *ret);

/* Bytes dropped since the open. */
uint64_t moat_output_dropped_total(const struct moat_output *o);

/*
 * The budget itself, exposed for tests: rate bytes a second, at most burst
 * held. The first refill starts the clock; tokens start full. Fractions of
 * a byte are carried over, so any refill frequency earns the same bytes.
 */
struct moat_token_bucket {
	uint64_t rate, burst, tokens;
	uint64_t last_ns;
	uint64_t frac; /* byte-nanoseconds earned beyond tokens, < 1e9 */
	bool started;
};
void moat_token_bucket_init(struct moat_token_bucket *b, uint64_t rate, uint64_t burst);
/* Adds what the time since the last refill earned; returns the tokens. */
uint64_t moat_token_bucket_refill(struct moat_token_bucket *b, uint64_t now_ns);

void moat_output_free(struct moat_output *o);

#endif
