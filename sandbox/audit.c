// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "parse.h"
#include "state.h"
#include "text.h"
#include "util.h"

#define LOG_SUFFIX     ".jsonl"
#define ROTATED_SUFFIX ".jsonl.1"
/* JSON text of the command in a "start" event: the rest of the line is small. */
#define COMMAND_BUDGET 32768

struct moat_audit_log {
	int dirfd;
	int fd;
	uint64_t cap;
	bool torn; /* the last line was only partly written: end it before the next */
	char name[MOAT_NAME_MAX + 1];
	char file[MOAT_NAME_MAX + sizeof(LOG_SUFFIX)];
	char rotated[MOAT_NAME_MAX + sizeof(ROTATED_SUFFIX)];
};

/* ---- strings -------------------------------------------------------------- */

/*
 * A JSON string of s with every byte that is not part of valid UTF-8 written
 * as the text "\xNN": json-c copies bytes as they are, and one invalid byte
 * (a process can put any in its comm) would make the whole line invalid JSON
 * for strict readers. Control characters are left to json-c, which escapes them.
 */
static json_object *clean_string(const char *s, size_t n)
{
	_cleanup_free_ char *buf = malloc(MOAT_ESCAPE_MAX_PER_BYTE * n + 1);
	size_t out;

	if (!buf)
		return NULL;
	moat_escape(s, n, MOAT_ESCAPE_UTF8, buf, MOAT_ESCAPE_MAX_PER_BYTE * n + 1, &out);
	return json_object_new_string_len(buf, (int)out);
}

/* Bytes s takes in JSON text: what the start event's command budget counts. */
static size_t json_text_len(json_object *str)
{
	const char *s = json_object_get_string(str);
	size_t n = 2;

	for (; *s; s++)
		n += (unsigned char)*s < 0x20 ? 6 : *s == '"' || *s == '\\' ? 2 : 1;
	return n + 1;
}

void moat_audit_format_time(uint64_t realtime_ns, char buf[MOAT_AUDIT_TIME_LEN])
{
	time_t sec = (time_t)(realtime_ns / 1000000000ull);
	char date[32] = "";
	struct tm tm;

	if (gmtime_r(&sec, &tm))
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, MOAT_AUDIT_TIME_LEN, "%.19s.%09uZ", date,
		 (unsigned)(realtime_ns % 1000000000ull));
}

/* Adds val (owned) under key; fails on a NULL val, which is how json-c reports ENOMEM. */
static int add(json_object *obj, const char *key, json_object *val)
{
	if (!val || json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- writer ----------------------------------------------------------------- */

int moat_audit_open_at(const char *dir, const char *name, uint64_t cap,
		       struct moat_audit_log **ret, struct moat_error *err)
{
	_cleanup_free_ struct moat_audit_log *a = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	int fd;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	if (moat_mkdir_p(dir, 0750, err) < 0)
		return moat_error_prefix(err, "audit log");
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return moat_error_errno(err, "open %s", dir);
	a = calloc(1, sizeof(*a));
	if (!a)
		return moat_error_errno(err, "audit log of %s", name);
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->file, sizeof(a->file), "%s" LOG_SUFFIX, name);
	snprintf(a->rotated, sizeof(a->rotated), "%s" ROTATED_SUFFIX, name);
	a->cap = cap ? cap : MOAT_AUDIT_CAP_DEFAULT;
	fd = moat_log_file_open(dirfd, a->file, err);
	if (fd < 0)
		return moat_error_prefix(err, "audit log %s", dir);
	a->fd = fd;
	a->dirfd = TAKE_FD(dirfd);
	*ret = TAKE_PTR(a);
	return 0;
}

int moat_audit_open(const char *name, struct moat_audit_log **ret, struct moat_error *err)
{
	return moat_audit_open_at(MOAT_LOG_DIR, name, 0, ret, err);
}

static int rotate(struct moat_audit_log *a, struct moat_error *err)
{
	int fd;

	/* The old file is finished evidence: on disk before the name moves. */
	fsync(a->fd);
	if (renameat(a->dirfd, a->file, a->dirfd, a->rotated) < 0)
		return moat_error_errno(err, "rename %s to %s", a->file, a->rotated);
	fd = moat_log_file_open(a->dirfd, a->file, err);
	if (fd < 0)
		return -1;
	close(a->fd);
	a->fd = fd;
	a->torn = false;
	fsync(a->dirfd);
	return 0;
}

/* As moat_audit_write() with the event's wall-clock time given (ns since the epoch). */
static int write_at(struct moat_audit_log *a, uint64_t realtime_ns, const char *event,
		    json_object *fields, struct moat_error *err)
{
	json_object *obj = json_object_new_object();
	_cleanup_free_ char *line = NULL;
	char stamp[MOAT_AUDIT_TIME_LEN];
	struct moat_error ignored;
	const char *text;
	struct stat st;
	size_t len, skip;
	ssize_t n;

	if (!obj)
		return moat_error_errno(err, "audit %s", event);
	moat_audit_format_time(realtime_ns, stamp);
	if (add(obj, "time", json_object_new_string(stamp)) < 0 ||
	    add(obj, "sandbox", json_object_new_string(a->name)) < 0 ||
	    add(obj, "event", json_object_new_string(event)) < 0)
		goto nomem;
	if (fields && !json_object_is_type(fields, json_type_object)) {
		json_object_put(obj);
		return moat_error_set(err, EINVAL, "audit %s: fields are not an object", event);
	}
	if (fields) {
		json_object_object_foreach(fields, key, val) {
			if (json_object_object_get_ex(obj, key, NULL)) {
				json_object_put(obj);
				return moat_error_set(err, EINVAL,
						      "audit %s: field \"%s\" is reserved", event,
						      key);
			}
			/* json null is a NULL pointer: add() would take it for ENOMEM. */
			if (json_object_object_add(obj, key, json_object_get(val)) < 0) {
				json_object_put(val);
				goto nomem;
			}
		}
	}
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		goto nomem;
	len = strlen(text);
	if (len + 1 > MOAT_AUDIT_LINE_MAX) {
		json_object_put(obj);
		return moat_error_set(err, EMSGSIZE, "audit %s: %zu bytes", event, len + 1);
	}
	/* Room for a newline that ends a torn line first, and this line's own. */
	line = malloc(len + 2);
	if (!line)
		goto nomem;
	line[0] = '\n';
	memcpy(line + 1, text, len);
	line[len + 1] = '\n';
	len += 2;
	json_object_put(obj);

	if (fstat(a->fd, &st) < 0)
		return moat_error_errno(err, "audit %s: stat %s", event, a->file);
	/* A failed rotation still writes the event, past the cap: a full log
	 * directory is better than lost evidence. The next write tries again. */
	if (st.st_size > 0 && (uint64_t)st.st_size + len - 1 > a->cap)
		rotate(a, &ignored);
	skip = a->torn ? 0 : 1;
	/* One write(2) of the whole line: with O_APPEND, readers see all of it or none. */
	do
		n = write(a->fd, line + skip, len - skip);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return moat_error_errno(err, "audit %s: write %s", event, a->file);
	if ((size_t)n < len - skip) {
		/* Out of space or over RLIMIT_FSIZE mid-line: the rest, and if that
		 * fails too, a newline before the next event keeps it parseable. */
		a->torn = true;
		if (moat_write_all(a->fd, line + skip + n, len - skip - (size_t)n) < 0)
			return moat_error_errno(err, "audit %s: write %s", event, a->file);
	}
	a->torn = false;
	return 0;
nomem:
	json_object_put(obj);
	return moat_error_set(err, ENOMEM, "audit %s", event);
}

int moat_audit_write(struct moat_audit_log *a, const char *event, json_object *fields,
		     struct moat_error *err)
{
	return write_at(a, moat_now_ns(), event, fields, err);
}

/* Writes event with fields (owned, put here), or fails with ENOMEM when building them failed. */
static int write_owned(struct moat_audit_log *a, const char *event, json_object *fields,
		       bool built, struct moat_error *err)
{
	int r;

	if (!built) {
		json_object_put(fields);
		return moat_error_set(err, ENOMEM, "audit %s", event);
	}
	r = moat_audit_write(a, event, fields, err);
	json_object_put(fields);
	return r;
}

static json_object *command_json(char *const *argv, bool *ret_truncated)
{
	json_object *arr = json_object_new_array();
	size_t used = 0;

	*ret_truncated = false;
	if (!arr)
		return NULL;
	for (size_t i = 0; argv && argv[i]; i++) {
		json_object *s = clean_string(argv[i], strlen(argv[i]));

		if (!s) {
			json_object_put(arr);
			return NULL;
		}
		used += json_text_len(s);
		/* An argv can be as long as ARG_MAX: keep the line under MOAT_AUDIT_LINE_MAX. */
		if (used > COMMAND_BUDGET) {
			json_object_put(s);
			*ret_truncated = true;
			break;
		}
		json_object_array_add(arr, s);
	}
	return arr;
}

int moat_audit_start(struct moat_audit_log *a, const struct moat_audit_start *s,
		     struct moat_error *err)
{
	const char *tier = s->tier ? s->tier : "", *policy = s->policy ? s->policy : "";
	json_object *f = json_object_new_object();
	bool truncated = false;
	char user[32];
	bool ok;

	snprintf(user, sizeof(user), "%u:%u", (unsigned)s->uid, (unsigned)s->gid);
	ok = f && add(f, "tier", clean_string(tier, strlen(tier))) == 0 &&
	     add(f, "policy", clean_string(policy, strlen(policy))) == 0 &&
	     add(f, "policy_sha256",
		 json_object_new_string(s->policy_sha256 ? s->policy_sha256 : "")) == 0 &&
	     add(f, "pid", json_object_new_int(s->pid)) == 0 &&
	     (s->command_pid <= 0 ||
	      add(f, "command_pid", json_object_new_int(s->command_pid)) == 0) &&
	     add(f, "user", json_object_new_string(user)) == 0 &&
	     add(f, "command", command_json(s->argv, &truncated)) == 0 &&
	     (!truncated || add(f, "command_truncated", json_object_new_boolean(1)) == 0);
	return write_owned(a, "start", f, ok, err);
}

/* "SIGKILL"; real-time signals as "SIGRTMIN+N", as kill -l shows them. */
static void signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, len, "SIG%d", sig);
}

int moat_audit_exit(struct moat_audit_log *a, int status, struct moat_error *err)
{
	json_object *f = json_object_new_object();
	char sig[32];
	bool ok;

	ok = f && add(f, "status", json_object_new_int(status)) == 0;
	if (ok && status > MOAT_EXIT_SIGNAL_BASE && status - MOAT_EXIT_SIGNAL_BASE < NSIG) {
		signal_name(status - MOAT_EXIT_SIGNAL_BASE, sig, sizeof(sig));
		ok = add(f, "signal", json_object_new_string(sig)) == 0;
	}
	return write_owned(a, "exit", f, ok, err);
}

int moat_audit_oom(struct moat_audit_log *a, uint64_t limit_bytes, uint64_t kills,
		   struct moat_error *err)
{
	json_object *f = json_object_new_object();
	bool ok;

	ok = f && add(f, "limit_bytes", json_object_new_uint64(limit_bytes)) == 0 &&
	     add(f, "kills", json_object_new_uint64(kills)) == 0;
	return write_owned(a, "oom", f, ok, err);
}

int moat_audit_log_dropped(struct moat_audit_log *a, uint64_t bytes, uint64_t total_bytes,
			   uint64_t rate, struct moat_error *err)
{
	json_object *f = json_object_new_object();
	bool ok;

	ok = f && add(f, "bytes", json_object_new_uint64(bytes)) == 0 &&
	     add(f, "total_bytes", json_object_new_uint64(total_bytes)) == 0 &&
	     add(f, "rate_bytes_per_second", json_object_new_uint64(rate)) == 0;
	return write_owned(a, "log_dropped", f, ok, err);
}

int moat_audit_stop(struct moat_audit_log *a, int status, const char *error, struct moat_error *err)
{
	json_object *f = json_object_new_object();
	bool ok;

	ok = f && add(f, "status", json_object_new_int(status)) == 0 &&
	     (!error || add(f, "error", clean_string(error, strlen(error))) == 0);
	return write_owned(a, "stop", f, ok, err);
}

int moat_audit_lost(struct moat_audit_log *a, uint64_t denials, uint64_t allowed,
		    struct moat_error *err)
{
	json_object *f = json_object_new_object();
	bool ok;

	ok = f && add(f, "denials", json_object_new_uint64(denials)) == 0 &&
	     (!allowed || add(f, "allowed", json_object_new_uint64(allowed)) == 0);
	return write_owned(a, "lost", f, ok, err);
}

/* The BPF programs stamp CLOCK_BOOTTIME, which counts suspend and never jumps;
 * the log shows the wall clock, with the offset between the two right now. */
static uint64_t boot_to_realtime(uint64_t boot_ns)
{
	int64_t offset = (int64_t)(moat_now_ns() - moat_boottime_ns());

	return (uint64_t)((int64_t)boot_ns + offset);
}

int moat_audit_access(struct moat_audit_log *a, const struct moat_audit_access *d,
		      struct moat_error *err)
{
	const char *family = d->family == AF_INET ? "ipv4" : "ipv6";
	char addr[INET6_ADDRSTRLEN];
	json_object *f;
	bool ok;
	int r;

	if (!d->hook || !d->proto || (d->family != AF_INET && d->family != AF_INET6))
		return moat_error_set(err, EINVAL, "audit access: incomplete event");
	/* ::ffff:a.b.c.d stays v6 text: it is what the program saw in a v6 socket. */
	if (!inet_ntop(d->family, d->addr, addr, sizeof(addr)))
		return moat_error_errno(err, "audit access: address");
	f = json_object_new_object();
	ok = f && add(f, "hook", json_object_new_string(d->hook)) == 0 &&
	     add(f, "pid", json_object_new_int64(d->pid)) == 0 &&
	     add(f, "comm", clean_string(d->comm, strnlen(d->comm, sizeof(d->comm)))) == 0 &&
	     add(f, "proto", json_object_new_string(d->proto)) == 0 &&
	     add(f, "family", json_object_new_string(family)) == 0 &&
	     add(f, "address", json_object_new_string(addr)) == 0 &&
	     add(f, "port", json_object_new_int(d->port)) == 0;
	if (!ok) {
		json_object_put(f);
		return moat_error_set(err, ENOMEM, "audit access");
	}
	r = write_at(a, d->ktime_ns ? boot_to_realtime(d->ktime_ns) : moat_now_ns(),
		     d->allowed ? "allowed" : "denied", f, err);
	json_object_put(f);
	return r;
}

void moat_audit_close(struct moat_audit_log *a)
{
	if (!a)
		return;
	/* The log is evidence: it must survive a crash right after the sandbox ends. */
	fsync(a->fd);
	close(a->fd);
	close(a->dirfd);
	free(a);
}

/* ---- reader ----------------------------------------------------------------- */

struct moat_audit_reader {
	int dirfd;
	int fd;	       /* the file being read */
	int next_fd;   /* NAME.jsonl, opened with NAME.jsonl.1 and read after it; or -EBADF */
	dev_t dev;     /* identity of fd, to notice that NAME.jsonl was replaced */
	ino_t ino;
	off_t off;     /* bytes of fd read */
	bool skipping; /* dropping the rest of a line longer than MOAT_AUDIT_LINE_MAX */
	size_t len;    /* bytes in buf: the start of a line without its newline yet */
	json_tokener *tok;
	char file[MOAT_NAME_MAX + sizeof(LOG_SUFFIX)];
	char rotated[MOAT_NAME_MAX + sizeof(ROTATED_SUFFIX)];
	char buf[MOAT_AUDIT_LINE_MAX + 1]; /* + NUL */
};

/* O_NONBLOCK: a FIFO at the log's name must not hang the reader in open. */
static int open_read(int dirfd, const char *file)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	return TAKE_FD(fd);
}

static void reader_use(struct moat_audit_reader *r, int fd)
{
	struct stat st = {0};

	moat_closep(&r->fd);
	r->fd = fd;
	fstat(fd, &st);
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->off = 0;
	r->len = 0;
	r->skipping = false;
}

static bool same_file(int fd, const struct stat *st)
{
	struct stat fst;

	return fd >= 0 && fstat(fd, &fst) == 0 && fst.st_dev == st->st_dev &&
	       fst.st_ino == st->st_ino;
}

/*
 * Opens NAME.jsonl, then NAME.jsonl.1, to read .1 first. The current file
 * first: if a rotation comes between the two opens, .1 is the file already
 * open, and is skipped. done_fd is the file just read to its end (or -1):
 * .1 is skipped when it is that file, and read when it is another one, so
 * that two rotations between reads lose nothing. Returns 0, or -1 with
 * errno (ENOENT: neither file exists).
 */
static int open_files(struct moat_audit_reader *r, int done_fd)
{
	_cleanup_close_ int cur = open_read(r->dirfd, r->file), old = -EBADF;
	struct stat st;

	if (cur < 0 && errno != ENOENT)
		return -1;
	old = open_read(r->dirfd, r->rotated);
	if (old < 0 && errno != ENOENT)
		return -1;
	if (old >= 0 && fstat(old, &st) == 0 && (same_file(cur, &st) || same_file(done_fd, &st)))
		moat_closep(&old);
	if (cur < 0 && old < 0) {
		errno = ENOENT;
		return -1;
	}
	if (old >= 0) {
		reader_use(r, TAKE_FD(old));
		r->next_fd = TAKE_FD(cur);
	} else {
		reader_use(r, TAKE_FD(cur));
	}
	return 0;
}

int moat_audit_reader_open_at(const char *dir, const char *name, struct moat_audit_reader **ret,
			      struct moat_error *err)
{
	struct moat_audit_reader *r;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	r = calloc(1, sizeof(*r));
	if (!r)
		return moat_error_errno(err, "audit log of %s", name);
	r->dirfd = r->fd = r->next_fd = -EBADF;
	snprintf(r->file, sizeof(r->file), "%s" LOG_SUFFIX, name);
	snprintf(r->rotated, sizeof(r->rotated), "%s" ROTATED_SUFFIX, name);
	r->tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!r->tok) {
		moat_error_set(err, ENOMEM, "audit log of %s", name);
		goto fail;
	}
	json_tokener_set_flags(r->tok, JSON_TOKENER_STRICT);
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0 || open_files(r, -1) < 0) {
		if (errno == ENOENT)
			moat_error_set(err, ENOENT, "no audit log for sandbox %s", name);
		else
			moat_error_errno(err, "open the audit log of %s in %s", name, dir);
		goto fail;
	}
	*ret = r;
	return 0;
fail:
	moat_audit_reader_free(r);
	return -1;
}

int moat_audit_reader_open(const char *name, struct moat_audit_reader **ret, struct moat_error *err)
{
	return moat_audit_reader_open_at(MOAT_LOG_DIR, name, ret, err);
}

void moat_audit_reader_free(struct moat_audit_reader *r)
{
	if (!r)
		return;
	moat_closep(&r->fd);
	moat_closep(&r->next_fd);
	moat_closep(&r->dirfd);
	if (r->tok)
		json_tokener_free(r->tok);
	free(r);
}

/* Hands line (len bytes inside r->buf, followed by room for a NUL) to fn. */
static int deliver(struct moat_audit_reader *r, char *line, size_t len, bool whole,
		   moat_audit_line_fn fn, void *userdata)
{
	json_object *obj = NULL;
	int ret;

	line[len] = '\0';
	if (whole) {
		json_tokener_reset(r->tok);
		obj = json_tokener_parse_ex(r->tok, line, (int)len);
		if (obj && (json_tokener_get_error(r->tok) != json_tokener_success ||
			    json_tokener_get_parse_end(r->tok) != len ||
			    !json_object_is_type(obj, json_type_object))) {
			json_object_put(obj);
			obj = NULL;
		}
	}
	ret = fn(line, len, obj, userdata);
	json_object_put(obj);
	return ret;
}

/* Delivers the whole lines in buf and keeps the rest at its start. */
static int deliver_lines(struct moat_audit_reader *r, moat_audit_line_fn fn, void *userdata)
{
	size_t start = 0;
	int ret = 0;

	while (start < r->len && ret == 0) {
		char *nl = memchr(r->buf + start, '\n', r->len - start);
		size_t end;

		if (!nl)
			break;
		end = (size_t)(nl - r->buf);
		if (r->skipping)
			r->skipping = false;
		else
			ret = deliver(r, r->buf + start, end - start, true, fn, userdata);
		start = end + 1;
	}
	memmove(r->buf, r->buf + start, r->len - start);
	r->len -= start;
	if (ret == 0 && r->len == MOAT_AUDIT_LINE_MAX) {
		/* moat never writes such a line: the file was damaged. Show its start. */
		if (!r->skipping)
			ret = deliver(r, r->buf, r->len, false, fn, userdata);
		r->skipping = true;
		r->len = 0;
	}
	return ret;
}

/* Delivers every whole line up to the end of fd. */
static int drain(struct moat_audit_reader *r, moat_audit_line_fn fn, void *userdata,
		 struct moat_error *err)
{
	for (;;) {
		int ret = deliver_lines(r, fn, userdata);
		ssize_t n;

		if (ret)
			return ret;
		n = read(r->fd, r->buf + r->len, MOAT_AUDIT_LINE_MAX - r->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return moat_error_errno(err, "read %s", r->file);
		}
		if (n == 0)
			return 0;
		r->len += (size_t)n;
		r->off += n;
	}
}

int moat_audit_reader_flush(struct moat_audit_reader *r, moat_audit_line_fn fn, void *userdata)
{
	int ret = 0;

	if (r->len > 0 && !r->skipping)
		ret = deliver(r, r->buf, r->len, true, fn, userdata);
	r->len = 0;
	r->skipping = false;
	return ret;
}

int moat_audit_reader_read(struct moat_audit_reader *r, moat_audit_line_fn fn, void *userdata,
			   struct moat_error *err)
{
	struct stat st;
	int ret;

	for (;;) {
		ret = drain(r, fn, userdata, err);
		if (ret)
			return ret;
		if (r->next_fd >= 0) {
			/* NAME.jsonl.1 is finished: a line without its newline stays torn. */
			ret = moat_audit_reader_flush(r, fn, userdata);
			if (ret)
				return ret;
			reader_use(r, TAKE_FD(r->next_fd));
			continue;
		}
		if (fstatat(r->dirfd, r->file, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* Between the writer's rename and its new file; or not yet created. */
			if (errno == ENOENT)
				return 0;
			return moat_error_errno(err, "stat %s", r->file);
		}
		if (st.st_dev == r->dev && st.st_ino == r->ino) {
			if (st.st_size >= r->off)
				return 0;
			/* Truncated by someone else than moat: start over, as tail -F does. */
			if (lseek(r->fd, 0, SEEK_SET) < 0)
				return moat_error_errno(err, "seek %s", r->file);
			r->off = 0;
			r->len = 0;
			r->skipping = false;
			continue;
		}
		/* Rotated: the writer wrote its last line to our file before renaming
		 * it, so one more drain gets all of it; then the new file from 0. */
		ret = drain(r, fn, userdata, err);
		if (ret)
			return ret;
		ret = moat_audit_reader_flush(r, fn, userdata);
		if (ret)
			return ret;
		/* ENOENT: rotating again right now; the next call sees the new file. */
		if (open_files(r, r->fd) < 0)
			return errno == ENOENT ? 0 : moat_error_errno(err, "open %s", r->file);
	}
}

/* ---- reading backwards --------------------------------------------------------- */

#define TAIL_CHUNK (64u << 10) /* the log is read backwards this much at a time */

struct tail_reader {
	size_t budget; /* bytes left to read */
	char *buf;     /* TAIL_CHUNK + MOAT_AUDIT_LINE_MAX */
	moat_audit_tail_fn fn;
	void *data;
};

/*
 * Reads fd backwards from its end in TAIL_CHUNK steps. buf holds the chunk
 * followed by the carry: the part of a line whose start is in an earlier
 * chunk. A last line without its newline is being written: skipped, as is a
 * line longer than MOAT_AUDIT_LINE_MAX (moat writes none). Returns 1 when
 * the scan should stop, 0 at the start of the file.
 */
static int tail_fd(struct tail_reader *t, int fd, off_t size)
{
	off_t end = size;
	size_t carry = 0;
	bool partial = true; /* buf's end is not the end of a line */

	while (end > 0) {
		size_t want = (size_t)(end < (off_t)TAIL_CHUNK ? end : (off_t)TAIL_CHUNK), got = 0, e;
		off_t start;
		char *nl;

		if (t->budget == 0)
			return 1;
		if (want > t->budget)
			want = t->budget;
		start = end - (off_t)want;
		memmove(t->buf + want, t->buf, carry);
		while (got < want) {
			ssize_t r = pread(fd, t->buf + got, want - got, start + (off_t)got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return 1; /* truncated under us (not by moat): what we have is it */
			got += (size_t)r;
		}
		t->budget -= want;
		e = want + carry;
		if (partial) {
			nl = memrchr(t->buf, '\n', e);
			if (!nl) {
				carry = 0;
				end = start;
				continue;
			}
			e = (size_t)(nl - t->buf) + 1;
			partial = false;
		}
		/* buf[0, e) ends with a newline: hand over each line whose start
		 * is here, skipping those over MOAT_AUDIT_LINE_MAX (newline
		 * included), as the carry below does. */
		while (e > 1 && (nl = memrchr(t->buf, '\n', e - 1))) {
			size_t s = (size_t)(nl - t->buf) + 1;

			if (e - s <= MOAT_AUDIT_LINE_MAX && t->fn(t->buf + s, e - 1 - s, t->data))
				return 1;
			e = s;
		}
		if (start == 0)
			return e > 1 && e <= MOAT_AUDIT_LINE_MAX ? t->fn(t->buf, e - 1, t->data) : 0;
		if (e > MOAT_AUDIT_LINE_MAX) {
			carry = 0;
			partial = true;
		} else {
			carry = e;
		}
		end = start;
	}
	return 0;
}

/* O_NONBLOCK: a FIFO planted at a log's name must not hang status. */
static int open_log(int dirfd, const char *file, struct stat *st)
{
	_cleanup_close_ int fd =
	    openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0 || fstat(fd, st) < 0)
		return -1;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		return -1;
	}
	return TAKE_FD(fd);
}

/* NAME.jsonl from its end, then NAME.jsonl.1 (unless a rotation in between
 * made it the file just read). */
static int tail_log(struct tail_reader *t, const char *dir, const char *name,
		    struct moat_error *err)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char file[MOAT_NAME_MAX + 16];
	struct stat cur = {0}, old;
	bool found = false;
	int fd;

	if (dirfd < 0)
		return moat_error_errno(err, "open %s", dir);
	snprintf(file, sizeof(file), "%s.jsonl", name);
	fd = open_log(dirfd, file, &cur);
	if (fd < 0 && errno != ENOENT)
		return moat_error_errno(err, "open %s/%s", dir, file);
	if (fd >= 0) {
		found = true;
		if (tail_fd(t, fd, cur.st_size)) {
			close(fd);
			return 0;
		}
		close(fd);
	}
	snprintf(file, sizeof(file), "%s.jsonl.1", name);
	fd = open_log(dirfd, file, &old);
	if (fd < 0 && errno != ENOENT)
		return moat_error_errno(err, "open %s/%s", dir, file);
	if (fd >= 0) {
		found = true;
		if (old.st_dev != cur.st_dev || old.st_ino != cur.st_ino)
			tail_fd(t, fd, old.st_size);
		close(fd);
	}
	if (!found)
		return moat_error_set(err, ENOENT, "no audit log for sandbox %s", name);
	return 0;
}

int moat_audit_tail_at(const char *dir, const char *name, size_t budget, moat_audit_tail_fn fn,
		       void *data, struct moat_error *err)
{
	struct tail_reader t = {.budget = budget, .fn = fn, .data = data};
	int r;

	t.buf = malloc(TAIL_CHUNK + MOAT_AUDIT_LINE_MAX);
	if (!t.buf)
		return moat_error_set(err, ENOMEM, "read the audit log of %s", name);
	r = tail_log(&t, dir, name, err);
	free(t.buf);
	return r;
}

int moat_audit_tail(const char *name, size_t budget, moat_audit_tail_fn fn, void *data,
		    struct moat_error *err)
{
	return moat_audit_tail_at(MOAT_LOG_DIR, name, budget, fn, data, err);
}
