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
 */
#ifndef MOAT_OUTPUT_H
#define MOAT_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define MOAT_OUTPUT_CAP_DEFAULT (16ull << 20) /* bytes per file; one rotated file kept */

struct moat_output;

/*
 * Opens (creating mode 0640, and the directory mode 0750 if missing)
 * MOAT_LOG_DIR/NAME.log for appending, and the pipe. On success *ret is
 * owned by the caller (moat_output_free()).
 */
int moat_output_open(const char *name, struct moat_output **ret, struct moat_error *err);

/* As moat_output_open() in dir, rotating at cap bytes (0: the default): for tests. */
int moat_output_open_at(const char *dir, const char *name, uint64_t cap,
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
 * Copies what the pipe holds, up to 1 MiB a call, into the file, rotating on
 * the way, and, with follow_stdio, points fds 1 and 2 at a file that
 * replaced the old one. Returns 1 when it stopped at that bound (call again),
 * 0 when the pipe is empty for now, -1 once every writer has closed it (or
 * reading failed): nothing more will come. Output the file refuses (disk
 * full) is read and dropped: the sandbox never blocks on a full disk.
 */
int moat_output_relay(struct moat_output *o, bool follow_stdio);

void moat_output_free(struct moat_output *o);

#endif
