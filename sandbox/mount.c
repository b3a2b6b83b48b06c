// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define NOSUID_NODEV (MS_NOSUID | MS_NODEV)

/* What of the host's /etc a model server needs; nothing else crosses (no shadow,
 * ssh keys, machine-id, credentials). Missing entries are skipped. */
static const char *const etc_entries[] = {
	"ld.so.cache", "nsswitch.conf", "hosts",      "resolv.conf", "ssl/certs",
	"ssl/openssl.cnf", "alternatives", "localtime", "protocols",   "services",
};

/* The host's top-level entries that hold programs and libraries: symlinks into
 * /usr on merged-/usr systems, real directories elsewhere. */
static const char *const usr_links[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};

/* Device nodes every sandbox gets (what OCI runtimes give), bound from the host. */
static const char *const base_devices[] = {"null", "zero", "full", "random", "urandom", "tty"};

/* /proc entries that leak host state or let root in the sandbox poke the kernel:
 * masked or read-only, as the OCI runtime spec's defaults. */
static const char *const proc_masked[] = {
	"/proc/acpi",	      "/proc/asound",	    "/proc/kcore",	 "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi",
};
static const char *const proc_readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static int plan_add(struct moat_mount_plan *plan, enum moat_mount_kind kind, const char *src,
		    const char *dst, const char *data, unsigned long flags, bool src_is_dir)
{
	struct moat_mount_step *steps, *s;

	steps = realloc(plan->steps, (plan->n + 1) * sizeof(*steps));
	if (!steps)
		return -1;
	plan->steps = steps;
	s = &steps[plan->n];
	*s = (struct moat_mount_step){.kind = kind, .flags = flags, .src_is_dir = src_is_dir};
	s->src = src ? strdup(src) : NULL;
	s->dst = dst ? strdup(dst) : NULL;
	s->data = data ? strdup(data) : NULL;
	plan->n++;
	if ((src && !s->src) || (dst && !s->dst) || (data && !s->data))
		return -1;
	return 0;
}

static struct moat_mount_step *plan_last(struct moat_mount_plan *plan)
{
	return &plan->steps[plan->n - 1];
}

static int plan_add_file(struct moat_mount_plan *plan, enum moat_mount_kind kind,
			 const char *src, const char *dst, const char *data, mode_t mode)
{
	if (plan_add(plan, kind, src, dst, data, 0, false) < 0)
		return -1;
	plan_last(plan)->mode = mode;
	return 0;
}

void moat_mount_plan_free(struct moat_mount_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->steps[i].src);
		free(plan->steps[i].dst);
		free(plan->steps[i].data);
	}
	free(plan->steps);
	free(plan->root);
	*plan = (struct moat_mount_plan){0};
}

/* Regular files of /etc are copied into the root (by init, as it builds it),
 * not bound: a bind costs two mount calls and a mount to tear down, per
 * file. A copy is what a file bind becomes anyway once the host rewrites the
 * file by rename (as resolv.conf and hosts are), and a larger file is bound. */
#define ETC_COPY_MAX (1 << 20)

static int add_host_etc(struct moat_mount_plan *plan, struct moat_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(etc_entries); i++) {
		char host[PATH_MAX], dst[PATH_MAX], target[PATH_MAX];
		struct stat st;
		ssize_t n;

		snprintf(host, sizeof(host), "/etc/%s", etc_entries[i]);
		snprintf(dst, sizeof(dst), "/etc/%s", etc_entries[i]);
		if (lstat(host, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) && strcmp(etc_entries[i], "localtime") == 0) {
			/* localtime points into /usr/share/zoneinfo, which the sandbox has. */
			n = readlink(host, target, sizeof(target) - 1);
			if (n < 0)
				return moat_error_errno(err, "readlink %s", host);
			target[n] = '\0';
			if (plan_add(plan, MOAT_MNT_SYMLINK, target, dst, NULL, 0, false) < 0)
				goto oom;
			continue;
		}
		/* Other links (resolv.conf -> /run/...) are taken by their target. */
		if (!realpath(host, target) || stat(target, &st) < 0)
			continue;
		if (S_ISREG(st.st_mode) && st.st_size <= ETC_COPY_MAX) {
			if (plan_add_file(plan, MOAT_MNT_COPY, target, dst, NULL, st.st_mode & 0777) < 0)
				goto oom;
			continue;
		}
		if (plan_add(plan, MOAT_MNT_BIND, target, dst, NULL, MS_RDONLY | NOSUID_NODEV,
			     S_ISDIR(st.st_mode)) < 0)
			goto oom;
	}
	return 0;
oom:
	return moat_error_errno(err, "plan /etc");
}

static int add_usr(struct moat_mount_plan *plan, struct moat_error *err)
{
	if (plan_add(plan, MOAT_MNT_BIND, "/usr", "/usr", NULL, MS_RDONLY | NOSUID_NODEV, true) < 0)
		return moat_error_errno(err, "plan /usr");
	for (size_t i = 0; i < ARRAY_SIZE(usr_links); i++) {
		char host[64], target[PATH_MAX];
		struct stat st;
		ssize_t n;
		int r;

		snprintf(host, sizeof(host), "/%s", usr_links[i]);
		if (lstat(host, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(host, target, sizeof(target) - 1);
			if (n < 0)
				return moat_error_errno(err, "readlink %s", host);
			target[n] = '\0';
			r = plan_add(plan, MOAT_MNT_SYMLINK, target, host, NULL, 0, false);
		} else if (S_ISDIR(st.st_mode)) {
			r = plan_add(plan, MOAT_MNT_BIND, host, host, NULL, MS_RDONLY | NOSUID_NODEV,
				     true);
		} else {
			continue;
		}
		if (r < 0)
			return moat_error_errno(err, "plan %s", host);
	}
	return 0;
}

static int add_proc(struct moat_mount_plan *plan, struct moat_error *err)
{
	if (plan_add(plan, MOAT_MNT_PROC, NULL, "/proc", NULL, NOSUID_NODEV | MS_NOEXEC, true) < 0)
		return moat_error_errno(err, "plan /proc");
	for (size_t i = 0; i < ARRAY_SIZE(proc_masked); i++) {
		if (plan_add(plan, MOAT_MNT_MASK, NULL, proc_masked[i], NULL, 0, false) < 0)
			return moat_error_errno(err, "plan /proc");
		plan_last(plan)->optional = true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(proc_readonly); i++) {
		if (plan_add(plan, MOAT_MNT_RDONLY, NULL, proc_readonly[i], NULL,
			     MS_RDONLY | NOSUID_NODEV | MS_NOEXEC, false) < 0)
			return moat_error_errno(err, "plan /proc");
		plan_last(plan)->optional = true;
	}
	return 0;
}

/* Adds the nodes a [resources] devices entry names; a glob may match nothing
 * (no GPU on this host), a plain path must exist. */
static int add_policy_device(struct moat_mount_plan *plan, const struct moat_device *dev,
			     struct moat_error *err)
{
	glob_t g = {0};
	int r = glob(dev->path, GLOB_NOSORT, NULL, &g);

	if (r == GLOB_NOMATCH) {
		globfree(&g);
		if (strpbrk(dev->path, "*?["))
			return 0;
		return moat_error_set(err, ENOENT, "device %s", dev->path);
	}
	if (r != 0) {
		globfree(&g);
		return moat_error_set(err, EINVAL, "device pattern %s", dev->path);
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *path = g.gl_pathv[i];
		struct stat st;
		/* Only read-only needs a remount: nosuid and noexec mean nothing
		 * on a device node (exec takes a regular file). Writes to a node
		 * are refused by the device cgroup rule, not by the mount. */
		unsigned long flags = strchr(dev->access, 'w') ? 0 : MS_RDONLY | MS_NOSUID | MS_NOEXEC;

		if (stat(path, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
			continue;
		if (plan_add(plan, MOAT_MNT_BIND, path, path, NULL, flags, false) < 0) {
			globfree(&g);
			return moat_error_errno(err, "plan %s", path);
		}
	}
	globfree(&g);
	return 0;
}

static int add_dev(struct moat_mount_plan *plan, const struct moat_policy *p, bool with_tty,
		   struct moat_error *err)
{
	static const char *const links[][2] = {
		{"/proc/self/fd", "/dev/fd"},	     {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
		{"pts/ptmx", "/dev/ptmx"},
	};
	char shm_opts[64];

	/* No MS_NODEV here: the device nodes must open. Nothing can create new
	 * nodes in it once CAP_MKNOD is gone. */
	if (plan_add(plan, MOAT_MNT_TMPFS, NULL, "/dev", "mode=0755,size=64k",
		     MS_NOSUID | MS_NOEXEC, true) < 0)
		goto oom;
	/* Made, as runc does, rather than bound: a node costs a mknod, a bind a
	 * mount to set up and tear down. The device cgroup rules govern both. */
	for (size_t i = 0; i < ARRAY_SIZE(base_devices); i++) {
		char path[32];
		struct stat st;

		snprintf(path, sizeof(path), "/dev/%s", base_devices[i]);
		if (stat(path, &st) < 0)
			return moat_error_errno(err, "device %s", path);
		if (!S_ISCHR(st.st_mode))
			return moat_error_set(err, ENODEV, "device %s: not a character device", path);
		if (plan_add(plan, MOAT_MNT_NODE, path, path, NULL, 0, false) < 0)
			goto oom;
		plan_last(plan)->mode = st.st_mode & (S_IFMT | 0777);
		plan_last(plan)->rdev = st.st_rdev;
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (plan_add(plan, MOAT_MNT_SYMLINK, links[i][0], links[i][1], NULL, 0, false) < 0)
			goto oom;
	snprintf(shm_opts, sizeof(shm_opts), "mode=1777,size=%llu", (unsigned long long)p->tmp_size);
	if (plan_add(plan, MOAT_MNT_TMPFS, NULL, "/dev/shm", shm_opts,
		     NOSUID_NODEV | MS_NOEXEC, true) < 0)
		goto oom;
	if (with_tty && plan_add(plan, MOAT_MNT_DEVPTS, NULL, "/dev/pts",
				 "newinstance,ptmxmode=0666,mode=0620", MS_NOSUID | MS_NOEXEC,
				 true) < 0)
		goto oom;
	for (size_t i = 0; i < p->n_devices; i++)
		if (add_policy_device(plan, &p->devices[i], err) < 0)
			return -1;
	return 0;
oom:
	return moat_error_errno(err, "plan /dev");
}

static int cmp_bind_dst(const void *a, const void *b)
{
	const struct moat_bind *x = *(const struct moat_bind *const *)a;
	const struct moat_bind *y = *(const struct moat_bind *const *)b;

	return strcmp(x->dst, y->dst);
}

/* Policy binds, parents before children ("/data" before "/data/cache"). */
static int add_binds(struct moat_mount_plan *plan, const struct moat_policy *p,
		     struct moat_error *err)
{
	_cleanup_free_ const struct moat_bind **sorted = calloc(p->n_binds + 1, sizeof(*sorted));

	if (!sorted)
		return moat_error_errno(err, "plan binds");
	for (size_t i = 0; i < p->n_binds; i++)
		sorted[i] = &p->binds[i];
	qsort(sorted, p->n_binds, sizeof(*sorted), cmp_bind_dst);
	for (size_t i = 0; i < p->n_binds; i++) {
		const struct moat_bind *b = sorted[i];
		char real[PATH_MAX];
		struct stat st;
		unsigned long flags = NOSUID_NODEV | (b->rw ? 0 : MS_RDONLY);

		if (!realpath(b->src, real) || stat(real, &st) < 0)
			return moat_error_errno(err, "bind source %s", b->src);
		if (plan_add(plan, MOAT_MNT_BIND, real, b->dst, NULL, flags, S_ISDIR(st.st_mode)) < 0)
			return moat_error_errno(err, "plan bind %s", b->dst);
	}
	return 0;
}

int moat_mount_plan_build(const struct moat_policy *p, const char *root_dir, const char *passwd,
			  const char *group, bool with_tty, struct moat_mount_plan *ret,
			  struct moat_error *err)
{
	struct moat_mount_plan plan = {0};
	char tmp_opts[64];

	plan.root = strdup(root_dir);
	if (!plan.root)
		goto oom;
	snprintf(tmp_opts, sizeof(tmp_opts), "mode=1777,size=%llu", (unsigned long long)p->tmp_size);
	if (add_usr(&plan, err) < 0)
		goto fail;
	if (plan_add_file(&plan, MOAT_MNT_FILE, NULL, "/etc/passwd", passwd, 0644) < 0 ||
	    plan_add_file(&plan, MOAT_MNT_FILE, NULL, "/etc/group", group, 0644) < 0)
		goto oom;
	if (add_host_etc(&plan, err) < 0)
		goto fail;
	if (plan_add(&plan, MOAT_MNT_TMPFS, NULL, "/tmp", tmp_opts, NOSUID_NODEV, true) < 0)
		goto oom;
	if (add_proc(&plan, err) < 0 || add_dev(&plan, p, with_tty, err) < 0 ||
	    add_binds(&plan, p, err) < 0)
		goto fail;
	if (plan_add(&plan, MOAT_MNT_PIVOT, NULL, "/", NULL, MS_RDONLY | NOSUID_NODEV, true) < 0)
		goto oom;
	*ret = plan;
	return 0;
oom:
	moat_error_errno(err, "plan the sandbox root");
fail:
	moat_mount_plan_free(&plan);
	return -1;
}

/* ---- the child side ---------------------------------------------------- */

/*
 * Where the steps are applied: the new root, and the directory the last step
 * was made in, kept open because most steps are siblings (/etc/..., /dev/...,
 * /proc/...) and walking from the root costs four syscalls a level.
 */
struct apply_ctx {
	int rootfd;
	int parentfd;		/* -EBADF: none kept */
	char parent[PATH_MAX];	/* its path in the sandbox, "" for the root */
};

static void forget_parent(struct apply_ctx *ctx)
{
	if (ctx->parentfd >= 0)
		close(ctx->parentfd);
	ctx->parentfd = -EBADF;
}

/* A mount on path hides what was below it: a kept directory at or under
 * path must be opened again, through the new mount. */
static void mounted_on(struct apply_ctx *ctx, const char *path)
{
	size_t n = strlen(path);

	if (ctx->parentfd >= 0 && strncmp(ctx->parent, path, n) == 0 &&
	    (ctx->parent[n] == '\0' || ctx->parent[n] == '/'))
		forget_parent(ctx);
}

/*
 * Opens the directory dir (len bytes of an absolute path in the sandbox)
 * below rootfd, creating missing directories and never following a
 * symlink, so a link planted in a rw bind by an earlier run cannot send a
 * mount outside the sandbox root.
 */
static int walk_to(int rootfd, const char *dir, size_t len, struct moat_error *err)
{
	char comp[NAME_MAX + 1];
	const char *slash;
	size_t i = 0, n;
	int dirfd, nfd;

	dirfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (dirfd < 0)
		return moat_error_errno(err, "%.*s", (int)len, dir);
	while (i < len) {
		while (i < len && dir[i] == '/')
			i++;
		slash = memchr(dir + i, '/', len - i);
		n = slash ? (size_t)(slash - (dir + i)) : len - i;
		if (n == 0)
			break;
		if (n > NAME_MAX) {
			close(dirfd);
			return moat_error_set(err, ENAMETOOLONG, "%.*s", (int)len, dir);
		}
		memcpy(comp, dir + i, n);
		comp[n] = '\0';
		i += n;
		if (mkdirat(dirfd, comp, 0755) < 0 && errno != EEXIST) {
			moat_error_errno(err, "mkdir %.*s", (int)i, dir);
			close(dirfd);
			return -1;
		}
		nfd = openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		close(dirfd);
		if (nfd < 0)
			return moat_error_errno(err, "open %.*s", (int)i, dir);
		dirfd = nfd;
	}
	return dirfd;
}

/* The parent directory of path (absolute, in the sandbox), borrowed from
 * ctx; *ret_last points into path at the final component. */
static int open_parent(struct apply_ctx *ctx, const char *path, const char **ret_last,
		       struct moat_error *err)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd;

	if (!slash)
		return moat_error_set(err, EINVAL, "%s: not an absolute path", path);
	n = (size_t)(slash - path);
	if (n >= sizeof(ctx->parent))
		return moat_error_set(err, ENAMETOOLONG, "%s", path);
	*ret_last = slash + 1;
	if (ctx->parentfd >= 0 && strlen(ctx->parent) == n && memcmp(ctx->parent, path, n) == 0)
		return ctx->parentfd;
	forget_parent(ctx);
	fd = walk_to(ctx->rootfd, path, n, err);
	if (fd < 0)
		return -1;
	memcpy(ctx->parent, path, n);
	ctx->parent[n] = '\0';
	ctx->parentfd = fd;
	return fd;
}

/* Opens (creating when asked: 'd' a directory, 'f' an empty file) a mount point. */
static int open_target(struct apply_ctx *ctx, const char *path, int create, struct moat_error *err)
{
	const char *last;
	int dirfd, fd;
	struct stat st;

	if (strcmp(path, "/") == 0)
		return fcntl(ctx->rootfd, F_DUPFD_CLOEXEC, 3);
	dirfd = open_parent(ctx, path, &last, err);
	if (dirfd < 0)
		return -1;
	if (create == 'd' && mkdirat(dirfd, last, 0755) < 0 && errno != EEXIST)
		return moat_error_errno(err, "mkdir %s", path);
	if (create == 'f') {
		fd = openat(dirfd, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST)
			return moat_error_errno(err, "create %s", path);
	}
	fd = openat(dirfd, last, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return moat_error_errno(err, "open %s", path);
	if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
		close(fd);
		return moat_error_set(err, ELOOP, "%s is a symlink", path);
	}
	return fd;
}

static void fd_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Mounts (source, fstype, flags, data) on path. */
static int mount_at(struct apply_ctx *ctx, const char *path, int create, const char *source,
		    const char *fstype, unsigned long flags, const char *data,
		    struct moat_error *err)
{
	_cleanup_close_ int fd = open_target(ctx, path, create, err);
	char target[64];

	if (fd < 0)
		return -1;
	fd_path(target, sizeof(target), fd);
	if (mount(source, target, fstype, flags, data) < 0)
		return moat_error_errno(err, "mount %s on %s", source ? source : fstype, path);
	mounted_on(ctx, path);
	return 0;
}

/* Bind mounts ignore most flags on creation: they are set by a remount of
 * the new mount, which opening path again reaches. */
static int remount_at(struct apply_ctx *ctx, const char *path, unsigned long flags,
		      struct moat_error *err)
{
	_cleanup_close_ int fd = open_target(ctx, path, 0, err);
	char target[64];

	if (fd < 0)
		return -1;
	fd_path(target, sizeof(target), fd);
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return moat_error_errno(err, "remount %s", path);
	return 0;
}

static int make_dir_at(struct apply_ctx *ctx, const char *path, struct moat_error *err)
{
	_cleanup_close_ int fd = open_target(ctx, path, 'd', err);

	return fd < 0 ? -1 : 0;
}

/* A path becomes its own mount, so its flags can differ from its parent's. */
static int bind_self_at(struct apply_ctx *ctx, const char *path, struct moat_error *err)
{
	_cleanup_close_ int fd = open_target(ctx, path, 0, err);
	char target[64];

	if (fd < 0)
		return -1;
	fd_path(target, sizeof(target), fd);
	if (mount(target, target, NULL, MS_BIND, NULL) < 0)
		return moat_error_errno(err, "bind %s on itself", path);
	mounted_on(ctx, path);
	return 0;
}

static int write_file_at(struct apply_ctx *ctx, const struct moat_mount_step *s,
			 struct moat_error *err)
{
	const char *last;
	int dirfd = open_parent(ctx, s->dst, &last, err);
	_cleanup_close_ int fd = -EBADF;

	if (dirfd < 0)
		return -1;
	fd = openat(dirfd, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, s->mode);
	if (fd < 0 || moat_write_all(fd, s->data, strlen(s->data)) < 0)
		return moat_error_errno(err, "write %s", s->dst);
	return 0;
}

static int copy_file_at(struct apply_ctx *ctx, const struct moat_mount_step *s,
			struct moat_error *err)
{
	const char *last;
	int dirfd = open_parent(ctx, s->dst, &last, err);
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	ssize_t n;

	if (dirfd < 0)
		return -1;
	in = open(s->src, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (in < 0)
		return moat_error_errno(err, "copy %s", s->src);
	out = openat(dirfd, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, s->mode);
	if (out < 0)
		return moat_error_errno(err, "create %s", s->dst);
	/* To the end, however the file changed since the plan: the root's
	 * size cap bounds it. */
	while ((n = sendfile(out, in, NULL, 1 << 20)) > 0)
		;
	if (n < 0)
		return moat_error_errno(err, "copy %s to %s", s->src, s->dst);
	return 0;
}

/* Without CAP_MKNOD over the device (in a user namespace) the host's node is
 * bound instead, as bubblewrap does. */
static int node_at(struct apply_ctx *ctx, const struct moat_mount_step *s, struct moat_error *err)
{
	const char *last;
	int dirfd = open_parent(ctx, s->dst, &last, err);

	if (dirfd < 0)
		return -1;
	if (mknodat(dirfd, last, s->mode, s->rdev) == 0)
		return 0;
	if (errno != EPERM)
		return moat_error_errno(err, "mknod %s", s->dst);
	return mount_at(ctx, s->dst, 'f', s->src, NULL, MS_BIND, NULL, err);
}

static int symlink_at(struct apply_ctx *ctx, const char *target, const char *path,
		      struct moat_error *err)
{
	const char *last;
	int dirfd = open_parent(ctx, path, &last, err);

	if (dirfd < 0)
		return -1;
	if (symlinkat(target, dirfd, last) < 0)
		return moat_error_errno(err, "symlink %s", path);
	return 0;
}

static int mask_at(struct apply_ctx *ctx, const struct moat_mount_step *s, struct moat_error *err)
{
	_cleanup_close_ int fd = open_target(ctx, s->dst, 0, err);
	char target[64];
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return moat_error_errno(err, "stat %s", s->dst);
	fd_path(target, sizeof(target), fd);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", target, "tmpfs", MS_RDONLY | NOSUID_NODEV | MS_NOEXEC,
			  "size=0,mode=0555") < 0)
			return moat_error_errno(err, "mask %s", s->dst);
	} else if (mount("/dev/null", target, NULL, MS_BIND, NULL) < 0) {
		return moat_error_errno(err, "mask %s", s->dst);
	}
	mounted_on(ctx, s->dst);
	return 0;
}

static int pivot(const char *root, unsigned long flags, struct moat_error *err)
{
	/* pivot_root(".", ".") stacks the old root on top of the new one; the
	 * lazy unmount then drops it, with no directory needed for it. */
	if (chdir(root) < 0)
		return moat_error_errno(err, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return moat_error_errno(err, "pivot_root to %s", root);
	if (umount2(".", MNT_DETACH) < 0)
		return moat_error_errno(err, "detach the host root");
	if (chdir("/") < 0)
		return moat_error_errno(err, "chdir /");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return moat_error_errno(err, "remount / read-only");
	return 0;
}

static int apply_step(struct apply_ctx *ctx, const char *root, const struct moat_mount_step *s,
		      struct moat_error *err)
{
	switch (s->kind) {
	case MOAT_MNT_DIR:
		return make_dir_at(ctx, s->dst, err);
	case MOAT_MNT_BIND:
		if (mount_at(ctx, s->dst, s->src_is_dir ? 'd' : 'f', s->src, NULL, MS_BIND, NULL,
			     err) < 0)
			return -1;
		return s->flags ? remount_at(ctx, s->dst, s->flags, err) : 0;
	case MOAT_MNT_TMPFS:
		return mount_at(ctx, s->dst, 'd', "tmpfs", "tmpfs", s->flags, s->data, err);
	case MOAT_MNT_PROC:
		return mount_at(ctx, s->dst, 'd', "proc", "proc", s->flags, NULL, err);
	case MOAT_MNT_DEVPTS:
		return mount_at(ctx, s->dst, 'd', "devpts", "devpts", s->flags, s->data, err);
	case MOAT_MNT_SYMLINK:
		return symlink_at(ctx, s->src, s->dst, err);
	case MOAT_MNT_FILE:
		return write_file_at(ctx, s, err);
	case MOAT_MNT_COPY:
		return copy_file_at(ctx, s, err);
	case MOAT_MNT_NODE:
		return node_at(ctx, s, err);
	case MOAT_MNT_MASK:
		return mask_at(ctx, s, err);
	case MOAT_MNT_RDONLY:
		if (bind_self_at(ctx, s->dst, err) < 0)
			return -1;
		return remount_at(ctx, s->dst, s->flags, err);
	case MOAT_MNT_PIVOT:
		return pivot(root, s->flags, err);
	}
	return moat_error_set(err, EINVAL, "unknown mount step %d", (int)s->kind);
}

int moat_mount_apply(const struct moat_mount_plan *plan, struct moat_error *err)
{
	struct apply_ctx ctx = {.rootfd = -EBADF, .parentfd = -EBADF};
	/* Modes are the plan's, whatever the caller's umask (077 would leave
	 * /etc unreadable to the sandbox user); the command gets it back. */
	mode_t caller_umask = umask(0);
	int r = -1;

	/* Nothing we mount may propagate back to the host (shared / on systemd hosts). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		moat_error_errno(err, "make / private");
		goto out;
	}
	/* Room for the copied /etc files (ETC_COPY_MAX each); read-only once entered. */
	if (mount("tmpfs", plan->root, "tmpfs", NOSUID_NODEV, "mode=0755,size=16m,nr_inodes=4096") < 0) {
		moat_error_errno(err, "mount tmpfs on %s", plan->root);
		goto out;
	}
	ctx.rootfd = open(plan->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx.rootfd < 0) {
		moat_error_errno(err, "open %s", plan->root);
		goto out;
	}
	for (size_t i = 0; i < plan->n; i++) {
		const struct moat_mount_step *s = &plan->steps[i];
		struct moat_error step_err;

		if (s->kind == MOAT_MNT_PIVOT)
			forget_parent(&ctx); /* nothing of the old root stays open */
		if (apply_step(&ctx, plan->root, s, &step_err) == 0)
			continue;
		if (s->optional && step_err.errnum == ENOENT)
			continue;
		*err = step_err;
		goto out;
	}
	r = 0;
out:
	forget_parent(&ctx);
	if (ctx.rootfd >= 0)
		close(ctx.rootfd);
	umask(caller_umask);
	return r;
}
