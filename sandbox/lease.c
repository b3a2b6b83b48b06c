// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Address leases: one file per leased /30 under MOAT_NET_LEASE_DIR, named by
 * the sandbox address and holding the owner's name, and how they are taken,
 * given back and collected. See net.h.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

/* How often a lease file may change under us before we give up on it: each
 * round means another launcher took or released that very lease meanwhile. */
#define LEASE_LOCK_ROUNDS 16

/* A lease being written, ".tmp.NAME": never an address, never a sandbox name. */
#define LEASE_TMP_PREFIX ".tmp."

static bool slot_in_use(const uint32_t *used, size_t n, const struct in_addr *host)
{
	uint32_t base = ntohl(host->s_addr) & ~UINT32_C(3);

	for (size_t i = 0; i < n; i++)
		if ((used[i] & ~UINT32_C(3)) == base)
			return true;
	return false;
}

enum lease_result {
	LEASE_BUSY = 0, /* a live sandbox holds it */
	LEASE_OURS = 1, /* the lease file now names us */
	LEASE_GONE = 2, /* released while we looked: try to create it again */
};

static int lease_dir_open(bool create, struct moat_error *err)
{
	int fd;

	if (create) {
		if (mkdir(MOAT_RUN_DIR, 0711) < 0 && errno != EEXIST)
			return moat_error_errno(err, "mkdir %s", MOAT_RUN_DIR);
		if (mkdir(MOAT_NET_LEASE_DIR, 0700) < 0 && errno != EEXIST)
			return moat_error_errno(err, "mkdir %s", MOAT_NET_LEASE_DIR);
	}
	fd = open(MOAT_NET_LEASE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return moat_error_errno(err, "open %s", MOAT_NET_LEASE_DIR);
	return fd;
}

/* A complete lease naming sandbox_name, under a private temporary name: it is
 * link(2)ed or rename(2)d into place, so no reader sees a half-written lease. */
static int lease_tmp_create(int dirfd, const char *sandbox_name, char *tmp, size_t len,
			    struct moat_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	char data[MOAT_NAME_MAX + 2];
	int n = snprintf(data, sizeof(data), "%s\n", sandbox_name);

	/* Ours alone: the caller holds sandbox_name, unique among live sandboxes
	 * (a pid could repeat across pid namespaces sharing /run). */
	snprintf(tmp, len, LEASE_TMP_PREFIX "%s", sandbox_name);
	/* A crashed earlier run may have left it hard-linked to a lease: start
	 * from a fresh inode rather than truncating that lease. */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return moat_error_errno(err, "unlink %s/%s", MOAT_NET_LEASE_DIR, tmp);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return moat_error_errno(err, "create %s/%s", MOAT_NET_LEASE_DIR, tmp);
	if (moat_write_all(fd, data, (size_t)n) < 0) {
		moat_error_errno(err, "write %s/%s", MOAT_NET_LEASE_DIR, tmp);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

/*
 * Opens the lease file and takes its flock. The name may be unlinked or
 * replaced by another locker before our flock is granted, so the lock only
 * counts once the name still refers to the inode we locked. Returns 1 with
 * *ret_fd locked, 0 when there is no such lease, -1 with err filled.
 */
static int lease_lock(int dirfd, const char *file, int *ret_fd, struct moat_error *err)
{
	for (int round = 0; round < LEASE_LOCK_ROUNDS; round++) {
		_cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat locked, named;

		if (fd < 0)
			return errno == ENOENT ? 0 : moat_error_errno(err, "open lease %s", file);
		while (flock(fd, LOCK_EX) < 0)
			if (errno != EINTR)
				return moat_error_errno(err, "lock lease %s", file);
		if (fstat(fd, &locked) < 0)
			return moat_error_errno(err, "stat lease %s", file);
		if (fstatat(dirfd, file, &named, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				return 0;
			return moat_error_errno(err, "stat lease %s", file);
		}
		if (locked.st_dev == named.st_dev && locked.st_ino == named.st_ino) {
			*ret_fd = TAKE_FD(fd);
			return 1;
		}
	}
	return moat_error_set(err, EBUSY, "lock lease %s: it keeps changing", file);
}

/* The owner's name, newline stripped; "" for an empty or unreadable-as-text lease. */
static int lease_read_owner(int fd, const char *file, char *owner, size_t len,
			    struct moat_error *err)
{
	ssize_t n;

	do
		n = pread(fd, owner, len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return moat_error_errno(err, "read lease %s", file);
	owner[n] = '\0';
	owner[strcspn(owner, "\n")] = '\0';
	return 0;
}

/* The lease exists: take it over when its owner is dead, or is sandbox_name
 * itself (names are unique among live sandboxes, so that lease is a leftover
 * of an earlier run that nobody collected). */
static int lease_take_over(int dirfd, const char *tmp, const char *file, const char *sandbox_name,
			   struct moat_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	char owner[MOAT_NAME_MAX + 2];
	int r;

	r = lease_lock(dirfd, file, &fd, err);
	if (r <= 0)
		return r < 0 ? -1 : LEASE_GONE;
	if (lease_read_owner(fd, file, owner, sizeof(owner), err) < 0)
		return -1;
	if (strcmp(owner, sandbox_name) != 0 && moat_state_alive(owner))
		return LEASE_BUSY;
	/* Still holding the old inode's lock: a launcher waiting on it wakes to
	 * find the name on a new inode, re-locks, and sees us alive. */
	if (renameat(dirfd, tmp, dirfd, file) < 0)
		return moat_error_errno(err, "take over lease %s", file);
	return LEASE_OURS;
}

static int lease_try(int dirfd, const char *tmp, const char *file, const char *sandbox_name,
		     struct moat_error *err)
{
	for (int round = 0; round < LEASE_LOCK_ROUNDS; round++) {
		int r;

		/* link(2), not rename(2): it fails when the name exists, like O_EXCL. */
		if (linkat(dirfd, tmp, dirfd, file, 0) == 0)
			return LEASE_OURS;
		if (errno != EEXIST)
			return moat_error_errno(err, "create lease %s/%s", MOAT_NET_LEASE_DIR,
						file);
		r = lease_take_over(dirfd, tmp, file, sandbox_name, err);
		if (r != LEASE_GONE)
			return r;
	}
	return LEASE_BUSY;
}

static void lease_fill(struct moat_net_lease *ret, const char *sandbox_name,
		       const struct in_addr *host, const struct in_addr *sandbox, const char *file)
{
	ret->host = *host;
	ret->sandbox = *sandbox;
	ret->prefix = MOAT_NET_LEASE_PREFIX;
	moat_net_host_ifname(sandbox_name, ret->host_ifname);
	snprintf(ret->name, sizeof(ret->name), "%s", sandbox_name);
	snprintf(ret->path, sizeof(ret->path), "%s/%s", MOAT_NET_LEASE_DIR, file);
}

/* Probes every slot from the name's start. Returns 1 with *ret filled, 0 when
 * the pool is full, -1 with err filled. */
static int lease_probe(int dirfd, const char *tmp, const char *sandbox_name,
		       const struct moat_cidr *pool, const uint32_t *used, size_t n_used,
		       struct moat_net_lease *ret, struct moat_error *err)
{
	uint32_t n = moat_net_pool_slots(pool);
	uint32_t start = moat_net_pool_start(sandbox_name, n);

	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = (uint32_t)(((uint64_t)start + k) % n);
		struct in_addr host, sandbox;
		char file[INET_ADDRSTRLEN];
		int r;

		if (moat_net_pool_slot(pool, i, &host, &sandbox) < 0)
			break;
		if (slot_in_use(used, n_used, &host))
			continue;
		inet_ntop(AF_INET, &sandbox, file, sizeof(file));
		r = lease_try(dirfd, tmp, file, sandbox_name, err);
		if (r < 0)
			return -1;
		if (r == LEASE_OURS) {
			lease_fill(ret, sandbox_name, &host, &sandbox, file);
			return 1;
		}
	}
	return 0;
}

/* The lease directory, holding our temporary lease: from then on `moat gc`
 * cannot remove it (rmdir fails on a directory that is not empty). Once, gc
 * may have removed it between our mkdir and our create: make it again. */
static int lease_dir_enter(const char *sandbox_name, char *tmp, size_t len, struct moat_error *err)
{
	for (int attempt = 0;; attempt++) {
		_cleanup_close_ int dirfd = lease_dir_open(true, err);

		if (dirfd < 0)
			return -1;
		if (lease_tmp_create(dirfd, sandbox_name, tmp, len, err) == 0)
			return TAKE_FD(dirfd);
		if (err->errnum != ENOENT || attempt > 0)
			return -1;
	}
}

int moat_net_lease_dir_remove(struct moat_error *err)
{
	if (rmdir(MOAT_NET_LEASE_DIR) < 0 && errno != ENOENT && errno != ENOTEMPTY &&
	    errno != EEXIST)
		return moat_error_errno(err, "remove %s", MOAT_NET_LEASE_DIR);
	return 0;
}

static void format_pool(const struct moat_cidr *pool, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	inet_ntop(pool->family, pool->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, pool->prefix);
}

int moat_net_lease_acquire(const char *sandbox_name, const struct moat_cidr *pool,
			   struct moat_net_lease *ret, struct moat_error *err)
{
	_cleanup_free_ uint32_t *used = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	char tmp[MOAT_NAME_MAX + 8], text[INET6_ADDRSTRLEN + 4];
	size_t n_used = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	format_pool(pool, text, sizeof(text));
	if (!moat_name_valid(sandbox_name))
		return moat_error_set(err, EINVAL, "lease an address: invalid sandbox name \"%s\"",
				      sandbox_name);
	if (moat_net_pool_slots(pool) == 0)
		return moat_error_set(err, EINVAL,
				      "address pool %s: an IPv4 network of /%d or "
				      "shorter is needed",
				      text, MOAT_NET_LEASE_PREFIX);
	if (moat_net_host_addrs(&used, &n_used, err) < 0)
		return moat_error_prefix(err, "lease an address for %s", sandbox_name);
	dirfd = lease_dir_enter(sandbox_name, tmp, sizeof(tmp), err);
	if (dirfd < 0)
		return -1;
	r = lease_probe(dirfd, tmp, sandbox_name, pool, used, n_used, ret, err);
	/* Gone already when a takeover renamed it into place. */
	unlinkat(dirfd, tmp, 0);
	if (r < 0)
		return moat_error_prefix(err, "lease an address for %s", sandbox_name);
	if (r == 0)
		return moat_error_set(err, EADDRNOTAVAIL,
				      "lease an address for %s: no free /%d "
				      "left in pool %s",
				      sandbox_name, MOAT_NET_LEASE_PREFIX, text);
	return 0;
}

/* Unlinks the lease file when sandbox_name owns it, under its lock so that a
 * concurrent takeover either happened before (we see the new owner) or waits
 * and then finds the name gone. Returns 1 removed, 0 not ours or absent. */
static int lease_remove(const char *file, const char *sandbox_name, struct moat_error *err)
{
	_cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
	char owner[MOAT_NAME_MAX + 2];
	int r;

	dirfd = lease_dir_open(false, err);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -1;
	r = lease_lock(dirfd, file, &fd, err);
	if (r <= 0)
		return r;
	if (lease_read_owner(fd, file, owner, sizeof(owner), err) < 0)
		return -1;
	if (strcmp(owner, sandbox_name) != 0)
		return 0;
	if (unlinkat(dirfd, file, 0) < 0 && errno != ENOENT)
		return moat_error_errno(err, "remove lease %s/%s", MOAT_NET_LEASE_DIR, file);
	return 1;
}

void moat_net_lease_release(struct moat_net_lease *lease)
{
	struct moat_error ignored;
	char file[INET_ADDRSTRLEN];

	if (!lease->path[0])
		return;
	inet_ntop(AF_INET, &lease->sandbox, file, sizeof(file));
	lease_remove(file, lease->name, &ignored);
	lease->path[0] = '\0';
}

/* A name in the lease directory moat made: a lease, by its canonical
 * address, or a temporary lease, with the owner in its name. Anything else
 * is not ours to remove. */
static bool lease_file_name(const char *file, char *ret_tmp_owner, size_t len)
{
	char canonical[INET_ADDRSTRLEN];
	struct in_addr a;

	ret_tmp_owner[0] = '\0';
	if (strncmp(file, LEASE_TMP_PREFIX, strlen(LEASE_TMP_PREFIX)) == 0) {
		if (!moat_name_valid(file + strlen(LEASE_TMP_PREFIX)))
			return false;
		snprintf(ret_tmp_owner, len, "%s", file + strlen(LEASE_TMP_PREFIX));
		return true;
	}
	return inet_pton(AF_INET, file, &a) == 1 &&
	       strcmp(inet_ntop(AF_INET, &a, canonical, sizeof(canonical)), file) == 0;
}

/* Calls fn for each lease and temporary lease in the directory; stops at
 * fn's first error. 0 when there is no directory. */
static int lease_for_each(int (*fn)(int dirfd, const char *file, const char *tmp_owner,
				    const char *arg, struct moat_error *err),
			  const char *arg, struct moat_error *err)
{
	_cleanup_close_ int dirfd = -EBADF, listfd = -EBADF;
	struct dirent *de;
	DIR *d;
	int r = 0;

	dirfd = lease_dir_open(false, err);
	if (dirfd < 0)
		return err->errnum == ENOENT ? 0 : -1;
	/* A descriptor of its own for readdir, whose offset it moves. */
	listfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = listfd >= 0 ? fdopendir(listfd) : NULL;
	if (!d)
		return moat_error_errno(err, "list %s", MOAT_NET_LEASE_DIR);
	listfd = -EBADF; /* closedir closes it */
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		char tmp_owner[MOAT_NAME_MAX + 1];

		if (lease_file_name(de->d_name, tmp_owner, sizeof(tmp_owner)))
			r = fn(dirfd, de->d_name, tmp_owner, arg, err);
	}
	if (r >= 0 && errno != 0)
		r = moat_error_errno(err, "list %s", MOAT_NET_LEASE_DIR);
	closedir(d);
	return r;
}

/* Unlinks file when owner_ok says its owner has no claim on it any more.
 * A lease is checked under its lock (see lease_remove); a temporary lease
 * belongs to the sandbox its name names. */
static int lease_drop_if(int dirfd, const char *file, const char *tmp_owner,
			 bool (*owner_gone)(const char *owner, const char *arg), const char *arg,
			 struct moat_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	char owner[MOAT_NAME_MAX + 2];
	int r;

	if (tmp_owner[0]) {
		if (!owner_gone(tmp_owner, arg))
			return 0;
		if (unlinkat(dirfd, file, 0) < 0 && errno != ENOENT)
			return moat_error_errno(err, "remove %s/%s", MOAT_NET_LEASE_DIR, file);
		return 1;
	}
	r = lease_lock(dirfd, file, &fd, err);
	if (r <= 0)
		return r;
	if (lease_read_owner(fd, file, owner, sizeof(owner), err) < 0)
		return -1;
	if (!owner_gone(owner, arg))
		return 0;
	if (unlinkat(dirfd, file, 0) < 0 && errno != ENOENT)
		return moat_error_errno(err, "remove lease %s/%s", MOAT_NET_LEASE_DIR, file);
	return 1;
}

static bool owner_is(const char *owner, const char *name)
{
	return strcmp(owner, name) == 0;
}

static int drop_named(int dirfd, const char *file, const char *tmp_owner, const char *name,
		      struct moat_error *err)
{
	return lease_drop_if(dirfd, file, tmp_owner, owner_is, name, err);
}

int moat_net_lease_release_owner(const char *sandbox_name, struct moat_error *err)
{
	if (!moat_name_valid(sandbox_name))
		return moat_error_set(err, EINVAL, "release leases: invalid sandbox name \"%s\"",
				      sandbox_name);
	if (lease_for_each(drop_named, sandbox_name, err) < 0)
		return moat_error_prefix(err, "release the leases of %s", sandbox_name);
	return 0;
}

/* An owner that is no valid name (an empty or damaged lease) has no
 * supervisor either. */
static bool owner_dead(const char *owner, const char *unused)
{
	(void)unused;
	return !moat_state_alive(owner);
}

static int drop_orphan(int dirfd, const char *file, const char *tmp_owner, const char *unused,
		       struct moat_error *err)
{
	return lease_drop_if(dirfd, file, tmp_owner, owner_dead, unused, err);
}

int moat_net_lease_collect(struct moat_error *err)
{
	if (lease_for_each(drop_orphan, NULL, err) < 0)
		return moat_error_prefix(err, "collect address leases");
	return 0;
}
