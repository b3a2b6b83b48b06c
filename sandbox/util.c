// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "util.h"

int moat_strv_push_take(struct moat_strv *sv, char *s)
{
	char **v;

	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	v = realloc(sv->v, (sv->n + 2) * sizeof(*v));
	if (!v) {
		free(s);
		errno = ENOMEM;
		return -1;
	}
	v[sv->n++] = s;
	v[sv->n] = NULL;
	sv->v = v;
	return 0;
}

int moat_strv_push(struct moat_strv *sv, const char *s)
{
	return moat_strv_push_take(sv, strdup(s));
}

void moat_strv_clear(struct moat_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

bool moat_strv_contains(const struct moat_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

char *moat_strdup_printf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

int moat_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int moat_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			   struct moat_error *err)
{
	_cleanup_free_ char *tmp = moat_strdup_printf("%s.tmp.%d", path, getpid());
	_cleanup_close_ int fd = -EBADF;

	if (!tmp)
		return moat_error_errno(err, "write %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return moat_error_errno(err, "create %s", tmp);
	/* No fsync: this is run-time state (/run is a tmpfs on most hosts, and
	 * meaningless after a crash); rename alone keeps readers from seeing a
	 * half-written file, and a launch should not wait on a disk. */
	if (moat_write_all(fd, data, len) < 0) {
		moat_error_errno(err, "write %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		moat_error_errno(err, "rename %s to %s", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int moat_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len,
		   struct moat_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	if (fd < 0)
		return moat_error_errno(err, "open %s", path);
	buf = malloc(max + 1);
	if (!buf)
		return moat_error_errno(err, "read %s", path);
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return moat_error_errno(err, "read %s", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return moat_error_set(err, EFBIG, "read %s: larger than %zu bytes", path,
					      max);
	}
	buf[len] = '\0';
	*ret_data = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

/*
 * O_NOFOLLOW and the checks after open: whoever can plant a link or a FIFO
 * at the log's name must not get moat (root) to append to another file, or
 * to block. A hard link to another file keeps st_nlink above 1.
 */
int moat_log_file_open(int dirfd, const char *file, struct moat_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, file,
					O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
						O_NONBLOCK,
					0640);
	struct stat st;

	if (fd < 0)
		return moat_error_errno(err, "open %s", file);
	if (fstat(fd, &st) < 0)
		return moat_error_errno(err, "stat %s", file);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return moat_error_set(err, EPERM, "%s: not a regular file with one link", file);
	if (fcntl(fd, F_SETFL, O_APPEND) < 0)
		return moat_error_errno(err, "fcntl %s", file);
	return TAKE_FD(fd);
}

int moat_mkdir_p(const char *path, mode_t mode, struct moat_error *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return moat_error_set(err, ENAMETOOLONG, "mkdir %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return moat_error_errno(err, "mkdir %s", buf);
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int rm_rf_at(int parentfd, const char *name, struct moat_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	DIR *d;
	struct dirent *de;

	if (unlinkat(parentfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return moat_error_errno(err, "unlink %s", name);
	fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return moat_error_errno(err, "open %s", name);
	d = fdopendir(fd);
	if (!d)
		return moat_error_errno(err, "open %s", name);
	TAKE_FD(fd);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rm_rf_at(dirfd(d), de->d_name, err) < 0) {
			closedir(d);
			return moat_error_prefix(err, "%s", name);
		}
	}
	closedir(d);
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return moat_error_errno(err, "rmdir %s", name);
	return 0;
}

int moat_rm_rf(const char *path, struct moat_error *err)
{
	return rm_rf_at(AT_FDCWD, path, err);
}

int moat_sha256_hex(const void *data, size_t len, char out[65], struct moat_error *err)
{
	uint8_t md[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;

	(void)err; /* nettle's hash cannot fail */
	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t moat_now_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t moat_boottime_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

uint64_t moat_monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int moat_proc_stat(pid_t pid, int first, int n, unsigned long long *ret)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -EBADF;
	ssize_t len;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++; /* the space before field 3 */
	for (int field = 4; field < first + n; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -1;
		if (field >= first)
			ret[field - first] = strtoull(p + 1, NULL, 10);
	}
	return 0;
}

int moat_proc_starttime(pid_t pid, unsigned long long *ret)
{
	return moat_proc_stat(pid, 22, 1, ret);
}
