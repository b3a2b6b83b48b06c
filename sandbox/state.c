// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "state.h"

#define STATE_FILE     "state.json"
#define STATE_MAX      (1 << 20)
#define GLOBAL_LOCK    MOAT_RUN_DIR "/.lock"

static int ensure_run_dir(struct moat_error *err)
{
	if (mkdir(MOAT_RUN_DIR, 0711) < 0 && errno != EEXIST)
		return moat_error_errno(err, "mkdir %s", MOAT_RUN_DIR);
	return 0;
}

int moat_state_lock_file(const char *path, struct moat_error *err)
{
	int fd;

	if (ensure_run_dir(err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return moat_error_errno(err, "open %s", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			moat_error_errno(err, "lock %s", path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

int moat_state_lock_global(struct moat_error *err)
{
	return moat_state_lock_file(GLOBAL_LOCK, err);
}

void moat_state_unlock_global(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the only fd drops the flock */
}

static int open_state_dir(const char *name)
{
	char path[sizeof(MOAT_RUN_DIR) + MOAT_NAME_MAX + 2];

	snprintf(path, sizeof(path), "%s/%s", MOAT_RUN_DIR, name);
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Alive means somebody holds the directory's flock: only a live supervisor does. */
static bool dir_locked(int dirfd)
{
	if (flock(dirfd, LOCK_SH | LOCK_NB) == 0) {
		flock(dirfd, LOCK_UN);
		return false;
	}
	return errno == EWOULDBLOCK;
}

bool moat_state_alive(const char *name)
{
	_cleanup_close_ int fd = -EBADF;

	if (!moat_name_valid(name))
		return false;
	fd = open_state_dir(name);
	return fd >= 0 && dir_locked(fd);
}

static int read_state_at(int dirfd, const char *name, json_object **ret, struct moat_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *buf = NULL;
	struct stat stbuf;
	ssize_t n;
	json_object *obj;

	if (fd < 0)
		return moat_error_errno(err, "read state of %s", name);
	if (fstat(fd, &stbuf) < 0)
		return moat_error_errno(err, "read state of %s", name);
	if (stbuf.st_size > STATE_MAX)
		return moat_error_set(err, EFBIG, "read state of %s", name);
	buf = malloc((size_t)stbuf.st_size + 1);
	if (!buf)
		return moat_error_errno(err, "read state of %s", name);
	n = read(fd, buf, (size_t)stbuf.st_size);
	if (n < 0)
		return moat_error_errno(err, "read state of %s", name);
	buf[n] = '\0';
	obj = json_tokener_parse(buf);
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return moat_error_set(err, EINVAL, "state of %s is not a JSON object", name);
	}
	*ret = obj;
	return 0;
}

int moat_state_read(const char *name, json_object **ret, struct moat_error *err)
{
	_cleanup_close_ int fd = -EBADF;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	fd = open_state_dir(name);
	if (fd < 0)
		return moat_error_set(err, errno == ENOENT ? ENOENT : errno, "sandbox %s", name);
	return read_state_at(fd, name, ret, err);
}

/* With the global lock held: cleans up after a dead supervisor. */
static int collect_locked(const char *name, moat_state_collector collect, struct moat_error *err)
{
	_cleanup_close_ int fd = open_state_dir(name);
	char path[sizeof(MOAT_RUN_DIR) + MOAT_NAME_MAX + 2];
	json_object *state = NULL;
	struct moat_error unread;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : moat_error_errno(err, "open state of %s", name);
	if (dir_locked(fd))
		return 0;
	/* A supervisor records what it makes before making it, so one that died
	 * before its first state.json made nothing the state would name; the
	 * collector still runs, without state, for what it finds by name. That
	 * state.json is missing is no error of the claim or the gc: ours stays
	 * unfilled unless the collector fails. */
	if (read_state_at(fd, name, &state, &unread) < 0)
		state = NULL;
	if (collect)
		r = collect(name, state, err);
	json_object_put(state);
	if (r < 0)
		return moat_error_prefix(err, "collect %s", name);
	snprintf(path, sizeof(path), "%s/%s", MOAT_RUN_DIR, name);
	if (moat_rm_rf(path, err) < 0)
		return -1;
	return 1;
}

int moat_state_collect(const char *name, moat_state_collector collect, struct moat_error *err)
{
	int lock, r;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	lock = moat_state_lock_global(err);
	if (lock < 0)
		return -1;
	r = collect_locked(name, collect, err);
	moat_state_unlock_global(lock);
	return r;
}

int moat_state_claim(const char *name, moat_state_collector collect, struct moat_state *st,
		     struct moat_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	int lock;

	*st = (struct moat_state){.dirfd = -EBADF};
	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	lock = moat_state_lock_global(err);
	if (lock < 0)
		return -1;
	if (collect_locked(name, collect, err) < 0)
		goto fail;
	st->dir = moat_strdup_printf("%s/%s", MOAT_RUN_DIR, name);
	if (!st->dir) {
		moat_error_errno(err, "claim %s", name);
		goto fail;
	}
	if (mkdir(st->dir, 0700) < 0) {
		if (errno == EEXIST)
			moat_error_set(err, 0, "sandbox %s is already running", name);
		else
			moat_error_errno(err, "mkdir %s", st->dir);
		goto fail;
	}
	fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		moat_error_errno(err, "lock %s", st->dir);
		rmdir(st->dir);
		goto fail;
	}
	moat_state_unlock_global(lock);
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->dirfd = TAKE_FD(fd);
	st->json = json_object_new_object();
	return st->json ? 0 : moat_error_set(err, ENOMEM, "claim %s", name);
fail:
	moat_state_unlock_global(lock);
	free(st->dir);
	st->dir = NULL;
	return -1;
}

int moat_state_write_file(struct moat_state *st, const char *file, const char *data,
			  struct moat_error *err)
{
	_cleanup_free_ char *path = moat_strdup_printf("%s/%s", st->dir, file);

	if (!path)
		return moat_error_errno(err, "write %s", file);
	return moat_write_file_atomic(path, data, strlen(data), 0600, err);
}

int moat_state_save(struct moat_state *st, struct moat_error *err)
{
	const char *text = json_object_to_json_string_ext(st->json, JSON_C_TO_STRING_PRETTY);

	if (!text)
		return moat_error_set(err, ENOMEM, "serialise state of %s", st->name);
	return moat_state_write_file(st, STATE_FILE, text, err);
}

/*
 * The files go in an order that lets a supervisor killed on the way be told
 * from one that died before its stop event (collect.c): the state, with the
 * launch's start time, last; the policy, written at the claim, before it;
 * whatever else first. Entries that are not files are left to moat_rm_rf.
 */
static void remove_files_in_order(int dirfd)
{
	static const char *const last[] = {MOAT_STATE_POLICY_FILE, STATE_FILE};
	/* A descriptor of its own: readdir moves its offset. */
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d) {
		fd = -EBADF; /* closedir closes it */
		while ((de = readdir(d)))
			if (de->d_type == DT_REG && strcmp(de->d_name, last[0]) != 0 &&
			    strcmp(de->d_name, last[1]) != 0)
				unlinkat(dirfd, de->d_name, 0);
		closedir(d);
	}
	for (size_t i = 0; i < ARRAY_SIZE(last); i++)
		unlinkat(dirfd, last[i], 0);
}

int moat_state_remove(struct moat_state *st, struct moat_error *err)
{
	int r = 0;

	/* Remove while still holding the lock, so no one claims a half-removed
	 * name. The files in order, best effort; moat_rm_rf for anything else
	 * (and the error). */
	if (st->dir && st->dirfd >= 0)
		remove_files_in_order(st->dirfd);
	if (st->dir && rmdir(st->dir) < 0 && errno != ENOENT && moat_rm_rf(st->dir, err) < 0)
		r = -1;
	moat_state_release(st);
	return r;
}

void moat_state_release(struct moat_state *st)
{
	moat_closep(&st->dirfd);
	free(st->dir);
	st->dir = NULL;
	json_object_put(st->json);
	st->json = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int moat_state_list(struct moat_strv *ret, struct moat_error *err)
{
	DIR *d = opendir(MOAT_RUN_DIR);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : moat_error_errno(err, "open %s", MOAT_RUN_DIR);
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !moat_name_valid(de->d_name))
			continue;
		if (moat_strv_push(ret, de->d_name) < 0) {
			closedir(d);
			return moat_error_errno(err, "list %s", MOAT_RUN_DIR);
		}
	}
	closedir(d);
	if (ret->n)
		qsort(ret->v, ret->n, sizeof(*ret->v), cmp_str);
	return 0;
}
