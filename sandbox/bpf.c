// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "state.h"
#include "util.h"

#define BPF_LOCK MOAT_RUN_DIR "/.bpf.lock"

int moat_bpf_fs_ensure(struct moat_error *err)
{
	struct statfs st;

	if (statfs(MOAT_BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (moat_mkdir_p(MOAT_BPFFS, 0700, err) < 0)
		return -1;
	/* mode=0700: pinned maps hold every sandbox's rules and counters. */
	if (mount("bpf", MOAT_BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
		return moat_error_errno(err, "mount bpffs on %s", MOAT_BPFFS);
	return 0;
}

int moat_bpf_lock(struct moat_error *err)
{
	return moat_state_lock_file(BPF_LOCK, err);
}

void moat_bpf_pin_dir(const char *feature, const char *hash, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s-%s", MOAT_BPF_PIN_ROOT, feature, hash);
}

static char last_log[512];

static int keep_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[sizeof(last_log)];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* The verifier's log arrives line by line; its last non-empty line
	 * before libbpf's own summary says why the program was refused. */
	if (n && strncmp(line, "libbpf: failed to load", 22) != 0 && strstr(line, "-- END") == NULL)
		memcpy(last_log, line, n + 1);
	return 0;
}

void moat_bpf_quiet(void)
{
	libbpf_set_print(keep_log);
}

const char *moat_bpf_last_log(void)
{
	return last_log;
}

/* Pins are files of a bpffs: unlinking them drops the pin's reference;
 * the objects live on while a link or fd still uses them. */
int moat_bpf_remove_pin_dir(const char *dir, struct moat_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return errno == ENOENT ? 0 : moat_error_errno(err, "open %s", dir);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
			moat_error_errno(err, "unpin %s/%s", dir, e->d_name);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return moat_error_errno(err, "remove %s", dir);
	return 0;
}

int moat_bpf_unpin_all(struct moat_error *err)
{
	DIR *d;
	struct dirent *e;
	int lock, r = 0;

	lock = moat_bpf_lock(err);
	if (lock < 0)
		return -1;
	d = opendir(MOAT_BPF_PIN_ROOT);
	if (!d) {
		r = errno == ENOENT ? 0 : moat_error_errno(err, "open %s", MOAT_BPF_PIN_ROOT);
		goto out;
	}
	while (r == 0 && (e = readdir(d))) {
		_cleanup_free_ char *path = NULL;

		if (e->d_name[0] == '.')
			continue;
		path = moat_strdup_printf("%s/%s", MOAT_BPF_PIN_ROOT, e->d_name);
		r = path ? moat_bpf_remove_pin_dir(path, err)
			 : moat_error_errno(err, "unpin %s", e->d_name);
	}
	closedir(d);
	if (r == 0 && rmdir(MOAT_BPF_PIN_ROOT) < 0 && errno != ENOENT)
		r = moat_error_errno(err, "remove %s", MOAT_BPF_PIN_ROOT);
out:
	close(lock);
	return r;
}
