/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scope-based cleanup with explicit hand-off (bubblewrap utils.h,
 * systemd _cleanup_): every owned variable is initialised (NULL, -EBADF)
 * and released when it leaves scope unless TAKE_PTR/TAKE_FD moved it out.
 */
#ifndef MOAT_UTIL_H
#define MOAT_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void moat_freep(void *p)
{
	free(*(void **)p);
}

/* Closes *fd if open and marks it closed: calling it twice is harmless. */
static inline void moat_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}

#define _cleanup_(f)	 __attribute__((cleanup(f)))
#define _cleanup_free_	 _cleanup_(moat_freep)
#define _cleanup_close_	 _cleanup_(moat_closep)

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -EBADF;                                                                     \
		_fd;                                                                               \
	})

/* A growable list of owned strings; the list owns every element. */
struct moat_strv {
	char **v;
	size_t n;
};

/* Appends a copy of s. Returns 0, or -1 with errno ENOMEM. */
int moat_strv_push(struct moat_strv *sv, const char *s);
/* Appends s itself, taking ownership (freed on failure too). */
int moat_strv_push_take(struct moat_strv *sv, char *s);
/* Frees every element and empties the list; the list stays usable. */
void moat_strv_clear(struct moat_strv *sv);
bool moat_strv_contains(const struct moat_strv *sv, const char *s);

/* xasprintf-like: returns a malloc'd string or NULL with errno ENOMEM. */
char *moat_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* write(2) of all bytes, retrying on EINTR and short writes. */
int moat_write_all(int fd, const void *buf, size_t len);

/* Replaces path with data atomically for readers: a temporary file in the
 * same directory, then rename (no fsync: for run-time state, see util.c).
 * Returns 0, or -1 with err filled. */
int moat_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			   struct moat_error *err);

/* Reads a whole small file (at most max bytes) into a NUL-terminated malloc'd buffer,
 * owned by the caller. Returns 0, or -1 with err filled. */
int moat_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len,
		   struct moat_error *err);

/* Opens file in dirfd for appending, creating it mode 0640: a log moat
 * (root) writes. Refuses a link, a FIFO or a file with other hard links. */
int moat_log_file_open(int dirfd, const char *file, struct moat_error *err);

/* mkdir -p with mode for each created component. */
int moat_mkdir_p(const char *path, mode_t mode, struct moat_error *err);

/* Removes a directory tree that moat created (no mount points inside:
 * it does not cross file systems). Missing path is success. */
int moat_rm_rf(const char *path, struct moat_error *err);

/* sha256 of a buffer as 64 hex digits plus NUL into out[65]. */
int moat_sha256_hex(const void *data, size_t len, char out[65], struct moat_error *err);

/* Monotonic and wall clocks in nanoseconds. */
uint64_t moat_now_ns(void);
uint64_t moat_boottime_ns(void);
uint64_t moat_monotonic_ns(void); /* for intervals: never jumps */

/* Fields first .. first + n - 1 of /proc/PID/stat as numbers, numbered as in
 * proc(5); first >= 4 (field 3, the state, is a letter). */
int moat_proc_stat(pid_t pid, int first, int n, unsigned long long *ret);

/* Start time of a process, in clock ticks since boot (/proc/PID/stat field 22):
 * with the pid it names a process uniquely, so a reused pid is told apart. */
int moat_proc_starttime(pid_t pid, unsigned long long *ret);

#endif
