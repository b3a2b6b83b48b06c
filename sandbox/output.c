// SPDX-License-Identifier: GPL-2.0-or-later
/* A detached sandbox's output, relayed into its log file. See output.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "parse.h"
#include "state.h"
#include "util.h"

#define FILE_SUFFIX    ".log"
#define ROTATED_SUFFIX ".log.1"
#define TMP_SUFFIX     ".log.tmp" /* as .NAME.log.tmp: no sandbox's file starts with a dot */
#define CHUNK	       65536 /* a default pipe's capacity */
#define RELAY_CHUNKS   16    /* per call: a sandbox that writes without end must not
			      * keep the supervisor from its signals and other fds */

struct moat_output {
	int dirfd;
	int fd;	       /* the current NAME.log */
	int pipe[2];   /* [0] the supervisor reads, [1] the sandbox writes */
	uint64_t cap;
	char path[PATH_MAX];
	char file[MOAT_NAME_MAX + sizeof(FILE_SUFFIX)];
	char rotated[MOAT_NAME_MAX + sizeof(ROTATED_SUFFIX)];
	char tmp[1 + MOAT_NAME_MAX + sizeof(TMP_SUFFIX)];
	char buf[CHUNK];
};

/*
 * A rotation cut short by a crash can leave the temporary name, and
 * NAME.log.1 as a second link to NAME.log: the opener refuses a file with
 * two links, and the names are ours (we hold the sandbox's name), so the
 * extra ones go. NAME.log keeps the data.
 */
static void undo_half_rotation(struct moat_output *o)
{
	struct stat cur, old;

	unlinkat(o->dirfd, o->tmp, 0);
	if (fstatat(o->dirfd, o->file, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(o->dirfd, o->rotated, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(cur.st_mode) && cur.st_dev == old.st_dev && cur.st_ino == old.st_ino)
		unlinkat(o->dirfd, o->rotated, 0);
}

static void output_freep(struct moat_output **o)
{
	moat_output_free(*o);
}

int moat_output_open_at(const char *dir, const char *name, uint64_t cap,
			struct moat_output **ret, struct moat_error *err)
{
	_cleanup_(output_freep) struct moat_output *o = NULL;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	if (moat_mkdir_p(dir, 0750, err) < 0)
		return moat_error_prefix(err, "output log");
	o = calloc(1, sizeof(*o));
	if (!o)
		return moat_error_errno(err, "output log of %s", name);
	o->dirfd = o->fd = o->pipe[0] = o->pipe[1] = -EBADF;
	o->cap = cap ? cap : MOAT_OUTPUT_CAP_DEFAULT;
	snprintf(o->path, sizeof(o->path), "%s/%s" FILE_SUFFIX, dir, name);
	snprintf(o->file, sizeof(o->file), "%s" FILE_SUFFIX, name);
	snprintf(o->rotated, sizeof(o->rotated), "%s" ROTATED_SUFFIX, name);
	snprintf(o->tmp, sizeof(o->tmp), ".%s" TMP_SUFFIX, name);
	o->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0)
		return moat_error_errno(err, "open %s", dir);
	undo_half_rotation(o);
	o->fd = moat_log_file_open(o->dirfd, o->file, err);
	if (o->fd < 0)
		return moat_error_prefix(err, "output log %s", dir);
	if (pipe2(o->pipe, O_CLOEXEC) < 0 || fcntl(o->pipe[0], F_SETFL, O_NONBLOCK) < 0)
		return moat_error_errno(err, "output pipe of %s", name);
	*ret = TAKE_PTR(o);
	return 0;
}

int moat_output_open(const char *name, struct moat_output **ret, struct moat_error *err)
{
	return moat_output_open_at(MOAT_LOG_DIR, name, 0, ret, err);
}

const char *moat_output_path(const struct moat_output *o)
{
	return o->path;
}

int moat_output_file_fd(const struct moat_output *o)
{
	return o->fd;
}

int moat_output_writer_fd(const struct moat_output *o)
{
	return o->pipe[1];
}

void moat_output_close_writer(struct moat_output *o)
{
	moat_closep(&o->pipe[1]);
}

int moat_output_reader_fd(const struct moat_output *o)
{
	return o->pipe[0];
}

/* A fresh, empty file of our own at o->tmp: O_EXCL, so never a link or FIFO
 * planted there (one left by a crash is removed first). */
static int create_tmp(struct moat_output *o)
{
	for (int tries = 0; tries < 2; tries++) {
		int fd = openat(o->dirfd, o->tmp,
				O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);

		if (fd >= 0 || errno != EEXIST)
			return fd;
		unlinkat(o->dirfd, o->tmp, 0);
	}
	return -1;
}

/* A second name, o->tmp, for the file we write: by its fd, so not whatever
 * is at NAME.log now; without /proc, by the name, if that is still the file. */
static int link_current(struct moat_output *o)
{
	struct stat ours, linked;
	char self[64];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", o->fd);
	unlinkat(o->dirfd, o->tmp, 0);
	if (linkat(AT_FDCWD, self, o->dirfd, o->tmp, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (linkat(o->dirfd, o->file, o->dirfd, o->tmp, 0) < 0)
		return -1;
	if (fstat(o->fd, &ours) == 0 &&
	    fstatat(o->dirfd, o->tmp, &linked, AT_SYMLINK_NOFOLLOW) == 0 &&
	    ours.st_dev == linked.st_dev && ours.st_ino == linked.st_ino)
		return 0;
	unlinkat(o->dirfd, o->tmp, 0);
	return -1;
}

/*
 * NAME.log becomes NAME.log.1 and a fresh NAME.log takes its place, without
 * a moment where the name is missing, so that a reader polling it (tail -F,
 * a log shipper) always finds a file: renaming over a full NAME.log.1 takes
 * milliseconds (the old file's blocks are freed in the call). So the current
 * file gets a second name, that name replaces NAME.log.1, and the new file,
 * made under the temporary name, replaces NAME.log in one rename. On any
 * failure writing goes on where it was.
 */
static void rotate(struct moat_output *o, bool follow_stdio)
{
	int fd;

	if (link_current(o) < 0)
		return;
	if (renameat(o->dirfd, o->tmp, o->dirfd, o->rotated) < 0) {
		unlinkat(o->dirfd, o->tmp, 0);
		return;
	}
	/* From here a failure gives NAME.log its only name back: the opener
	 * of the next sandbox of this name refuses a file with two. */
	fd = create_tmp(o);
	if (fd < 0) {
		unlinkat(o->dirfd, o->rotated, 0);
		return;
	}
	if (renameat(o->dirfd, o->tmp, o->dirfd, o->file) < 0) {
		unlinkat(o->dirfd, o->tmp, 0);
		unlinkat(o->dirfd, o->rotated, 0);
		close(fd);
		return;
	}
	if (follow_stdio) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	close(o->fd);
	o->fd = fd;
}

/* Appends n bytes of buf, rotating first when they would pass the cap. */
static void append(struct moat_output *o, size_t n, bool follow_stdio)
{
	struct stat st;

	/* Sized by fstat: the supervisor's own messages append to it too. */
	if (fstat(o->fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size + n > o->cap)
		rotate(o, follow_stdio);
	moat_write_all(o->fd, o->buf, n); /* dropped if refused: see output.h */
}

int moat_output_relay(struct moat_output *o, bool follow_stdio)
{
	for (int chunks = 0; chunks < RELAY_CHUNKS;) {
		ssize_t n = read(o->pipe[0], o->buf, sizeof(o->buf));

		if (n > 0) {
			append(o, (size_t)n, follow_stdio);
			chunks++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -1;
	}
	return 1;
}

void moat_output_free(struct moat_output *o)
{
	if (!o)
		return;
	moat_closep(&o->fd);
	moat_closep(&o->pipe[0]);
	moat_closep(&o->pipe[1]);
	moat_closep(&o->dirfd);
	free(o);
}
