// SPDX-License-Identifier: GPL-2.0-or-later
/* A detached sandbox's output, relayed into its log file. See output.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
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
#define PIPE_SIZE      (1 << 20) /* asked for: slack for a writer between two drains */
#define DRAIN_NS       100000000ull  /* while the budget is spent: a drain every 100 ms */
#define REPORT_NS      1000000000ull /* drops reported at most once a second */
#define NSEC	       1000000000ull

struct moat_output {
	int dirfd;
	int fd;	       /* the current NAME.log */
	int pipe[2];   /* [0] the supervisor reads, [1] the sandbox writes */
	int timer;     /* drains and reports; -EBADF without a rate limit */
	int null;      /* /dev/null, where dropped output is spliced */
	uint64_t cap;
	size_t pipe_size;
	struct moat_token_bucket bucket; /* rate 0: no limit */
	bool throttled;			 /* the budget is spent: the pipe is left unread */
	uint64_t dropped, reported; /* bytes dropped, and of those reported */
	uint64_t reported_ns;	    /* when last reported; 0: never */
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

int moat_output_open_at(const char *dir, const char *name, const struct moat_output_limits *limits,
			struct moat_output **ret, struct moat_error *err)
{
	int size;

	_cleanup_(output_freep) struct moat_output *o = NULL;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	if (moat_mkdir_p(dir, 0750, err) < 0)
		return moat_error_prefix(err, "output log");
	o = calloc(1, sizeof(*o));
	if (!o)
		return moat_error_errno(err, "output log of %s", name);
	o->dirfd = o->fd = o->pipe[0] = o->pipe[1] = o->timer = o->null = -EBADF;
	o->cap = limits->cap ? limits->cap : MOAT_OUTPUT_CAP_DEFAULT;
	moat_token_bucket_init(&o->bucket, limits->rate, limits->burst);
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
	/* Best effort: a smaller pipe only makes a fast writer wait sooner. Its
	 * pages are charged to the writer's memory cgroup, the sandbox's. */
	fcntl(o->pipe[0], F_SETPIPE_SZ, PIPE_SIZE);
	size = fcntl(o->pipe[0], F_GETPIPE_SZ);
	o->pipe_size = size > 0 ? (size_t)size : CHUNK;
	if (limits->rate) {
		o->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (o->timer < 0)
			return moat_error_errno(err, "output timer of %s", name);
		o->null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (o->null < 0)
			return moat_error_errno(err, "open /dev/null");
	}
	*ret = TAKE_PTR(o);
	return 0;
}

int moat_output_open(const char *name, const struct moat_output_limits *limits,
		     struct moat_output **ret, struct moat_error *err)
{
	return moat_output_open_at(MOAT_LOG_DIR, name, limits, ret, err);
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

/* ---- the budget ---------------------------------------------------------- */

void moat_token_bucket_init(struct moat_token_bucket *b, uint64_t rate, uint64_t burst)
{
	*b = (struct moat_token_bucket){.rate = rate, .burst = burst, .tokens = burst};
}

uint64_t moat_token_bucket_refill(struct moat_token_bucket *b, uint64_t now_ns)
{
	unsigned __int128 earned;

	if (!b->started) {
		b->started = true;
		b->last_ns = now_ns;
		return b->tokens;
	}
	if (now_ns <= b->last_ns)
		return b->tokens;
	/* 128 bits: years of nanoseconds times any rate do not overflow. */
	earned = (unsigned __int128)(now_ns - b->last_ns) * b->rate + b->frac;
	b->last_ns = now_ns;
	if (earned / NSEC >= b->burst - b->tokens) {
		b->tokens = b->burst;
		b->frac = 0;
	} else {
		b->tokens += (uint64_t)(earned / NSEC);
		b->frac = (uint64_t)(earned % NSEC);
	}
	return b->tokens;
}

static int arm(struct moat_output *o, uint64_t delay_ns)
{
	struct itimerspec at = {.it_value = {(time_t)(delay_ns / NSEC), (long)(delay_ns % NSEC)}};

	/* A zero it_value would disarm it: at least a nanosecond. */
	if (!delay_ns)
		at.it_value.tv_nsec = 1;
	return timerfd_settime(o->timer, 0, &at, NULL);
}

static void disarm(struct moat_output *o)
{
	struct itimerspec never = {0};

	timerfd_settime(o->timer, 0, &never, NULL);
}

/* What the pipe holds now, at most its capacity (the writer refills it as
 * we go), spliced to /dev/null without a copy, or read where splice cannot. */
static void discard(struct moat_output *o)
{
	size_t left = o->pipe_size;

	while (left) {
		ssize_t n = splice(o->pipe[0], NULL, o->null, NULL, left, SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINVAL)
			n = read(o->pipe[0], o->buf, left < sizeof(o->buf) ? left : sizeof(o->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		o->dropped += (uint64_t)n;
		left -= (size_t)n;
	}
}

/*
 * The budget is spent: the pipe is left unread until the next drain. Why
 * not read on and discard, which is what keeps a writer from ever
 * blocking? Because that costs the supervisor a wake-up and a read for
 * every write the sandbox makes, as fast as the sandbox can write: the
 * host's CPU, outside the sandbox's limits, which is what the budget is
 * for. Why not simply stop reading until the budget allows more, as a
 * full pipe would? Because a model server that logs synchronously (a
 * print in the request path) would then run at the speed of its log
 * budget, and what it wrote over budget would be neither kept nor
 * counted. So: drained ten times a second, what the budget earned kept and
 * the rest dropped and counted. A writer up to the pipe's capacity per
 * drain (about 10 MiB/s) never waits; a faster one waits on its full pipe
 * in between, which costs no one CPU.
 */
static void throttle(struct moat_output *o)
{
	/* Without a timer to end it, an unread pipe would stall the sandbox for
	 * good: drop what is there instead (settime fails only on bad values). */
	if (arm(o, DRAIN_NS) == 0)
		o->throttled = true;
	else
		discard(o);
}

int moat_output_relay(struct moat_output *o, uint64_t now_ns, bool follow_stdio)
{
	bool limited = o->bucket.rate != 0;

	if (limited)
		moat_token_bucket_refill(&o->bucket, now_ns);
	for (int chunks = 0; chunks < RELAY_CHUNKS;) {
		size_t want = sizeof(o->buf);
		ssize_t n;

		if (limited && o->bucket.tokens == 0) {
			throttle(o);
			return 0;
		}
		if (limited && o->bucket.tokens < want)
			want = (size_t)o->bucket.tokens;
		n = read(o->pipe[0], o->buf, want);
		if (n > 0) {
			append(o, (size_t)n, follow_stdio);
			if (limited)
				o->bucket.tokens -= (uint64_t)n;
			chunks++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -1;
	}
	return 1;
}

bool moat_output_wants_input(const struct moat_output *o)
{
	return !o->throttled;
}

int moat_output_timer_fd(const struct moat_output *o)
{
	return o->timer >= 0 ? o->timer : -1;
}

uint64_t moat_output_dropped_total(const struct moat_output *o)
{
	return o->dropped;
}

static int report(struct moat_output *o, uint64_t now_ns, bool force,
		  struct moat_output_dropped *ret)
{
	if (o->dropped == o->reported ||
	    (!force && o->reported_ns && now_ns - o->reported_ns < REPORT_NS))
		return 0;
	*ret = (struct moat_output_dropped){.bytes = o->dropped - o->reported,
					    .total = o->dropped};
	o->reported = o->dropped;
	o->reported_ns = now_ns ? now_ns : 1;
	return 1;
}

/* The budget's earnings since the last drain are kept, the rest of what
 * the pipe holds dropped. */
static void drain(struct moat_output *o, uint64_t now_ns, bool follow_stdio)
{
	o->throttled = false;
	moat_output_relay(o, now_ns, follow_stdio);
	if (o->throttled)
		discard(o);
}

int moat_output_tick(struct moat_output *o, uint64_t now_ns, bool follow_stdio,
		     struct moat_output_dropped *ret)
{
	uint64_t expirations;
	int r;

	if (o->timer < 0)
		return 0;
	if (read(o->timer, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return 0;
	if (o->throttled)
		drain(o, now_ns, follow_stdio);
	r = report(o, now_ns, false, ret);
	/* Next: the next drain, or the report still owed; else nothing. */
	if (o->throttled)
		arm(o, DRAIN_NS);
	else if (o->dropped != o->reported)
		arm(o, o->reported_ns + REPORT_NS > now_ns ? o->reported_ns + REPORT_NS - now_ns : 0);
	else
		disarm(o);
	return r;
}

int moat_output_finish(struct moat_output *o, uint64_t now_ns, bool follow_stdio,
		       struct moat_output_dropped *ret)
{
	/* Bounded: a writer outside the sandbox (handed the pipe's write end
	 * over a socket) must not keep the teardown waiting. */
	for (int calls = 0; calls < 16 && moat_output_relay(o, now_ns, follow_stdio) > 0; calls++)
		;
	if (o->throttled)
		discard(o);
	o->throttled = false;
	if (o->timer >= 0)
		disarm(o);
	return report(o, now_ns, true, ret);
}

void moat_output_free(struct moat_output *o)
{
	if (!o)
		return;
	moat_closep(&o->fd);
	moat_closep(&o->pipe[0]);
	moat_closep(&o->pipe[1]);
	moat_closep(&o->timer);
	moat_closep(&o->null);
	moat_closep(&o->dirfd);
	free(o);
}
