// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One sandbox's status as a JSON object (docs/status.md). Every source is
 * read without locks and without writing: the state file, cgroup files, the
 * pinned BPF maps (lookups only), clients.json and the audit log's tail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "audit.h"
#include "egress.h"
#include "parse.h"
#include "state.h"
#include "status.h"
#include "syscount.h"
#include "util.h"

#define CGROUP_FILE_MAX 4096	    /* memory.events, cpu.stat: a few lines */
#define CLIENTS_FILE_MAX (1u << 20) /* clients.json: the supervisor writes at most a few KiB */
#define OUTPUT_FILE_MAX 4096	    /* output.json: one counter */

/* cgroup v1 writes "no limit" as the largest page-aligned signed value; anything this
 * large is no limit in practice. */
#define V1_UNLIMITED (1ull << 62)

/* ---- small helpers --------------------------------------------------------- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(json_object *o, const char *key, const char *fallback)
{
	json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : fallback;
}

static uint64_t get_u64(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	return v ? json_object_get_uint64(v) : 0;
}

/* "MESSAGE: strerror", as moat_error_print would say it, without "moat: ". */
static json_object *error_json(const struct moat_error *err)
{
	char buf[MOAT_ERROR_MSG_MAX + 128];

	if (err->errnum)
		snprintf(buf, sizeof(buf), "%s%s%s", err->msg, err->msg[0] ? ": " : "",
			 strerror(err->errnum));
	else
		snprintf(buf, sizeof(buf), "%s", err->msg[0] ? err->msg : "unknown error");
	return json_object_new_string(buf);
}

/* A section: an object whose first members say whether its source could be read. */
static json_object *section_new(void)
{
	json_object *s = json_object_new_object();

	json_object_object_add(s, "available", json_object_new_boolean(false));
	json_object_object_add(s, "error", NULL);
	return s;
}

/* Adding an existing key replaces the value in place: the order stays. */
static void section_ok(json_object *s)
{
	json_object_object_add(s, "available", json_object_new_boolean(true));
}

static void section_fail(json_object *s, const struct moat_error *err)
{
	json_object_object_add(s, "error", error_json(err));
}

static void section_failf(json_object *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void section_failf(json_object *s, const char *fmt, ...)
{
	struct moat_error err = {0};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	section_fail(s, &err);
}

/* A double written with a fixed number of decimals: json-c would print all 17
 * significant digits ("0.064865999999999993"). */
static json_object *new_double(double v, int decimals)
{
	char text[64];

	snprintf(text, sizeof(text), "%.*f", decimals, v);
	return json_object_new_double_s(v, text);
}

static json_object *u64_or_null(bool known, uint64_t v)
{
	return known ? json_object_new_uint64(v) : NULL;
}

/* ---- cgroup files ------------------------------------------------------------ */

/* The roles a sandbox's cgroup directory can play for status. */
enum cg_role { CG_V2, CG_MEMORY, CG_CPU, CG_CPUACCT, CG_PIDS, CG_ROLES };
#define ROLE(r) (1u << (r))

/* A cgroup file system mounted on the host, from /proc/self/mountinfo. */
struct cgroup_mount {
	char *path;
	unsigned int roles; /* CG_V2 alone for cgroup2; the v1 controllers it holds */
};

/*
 * The cgroup mounts, read once per process: `moat top` refreshes and the
 * sandboxes of one `moat status` share them. A directory's roles come from
 * the mount it is on, so only the files that exist are opened: probing every
 * file in every directory would cost more system calls than the reads.
 */
static struct cgroup_mount mounts[32];
static size_t n_mounts;
static bool mounts_read;

/* Controllers in a v1 mount's super options ("rw,cpu,cpuacct"). */
static unsigned int v1_roles(const char *opts)
{
	static const struct {
		const char *name;
		enum cg_role role;
	} controllers[] = {
		{"memory", CG_MEMORY}, {"cpu", CG_CPU}, {"cpuacct", CG_CPUACCT}, {"pids", CG_PIDS},
	};
	unsigned int roles = 0;

	while (*opts) {
		size_t len = strcspn(opts, ",\n");

		for (size_t i = 0; i < ARRAY_SIZE(controllers); i++)
			if (strlen(controllers[i].name) == len &&
			    strncmp(opts, controllers[i].name, len) == 0)
				roles |= ROLE(controllers[i].role);
		opts += len;
		opts += strspn(opts, ",");
		if (*opts == '\n')
			break;
	}
	return roles;
}

/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS" */
static void read_mounts(void)
{
	_cleanup_free_ char *text = NULL;
	struct moat_error ignored;

	mounts_read = true;
	if (moat_read_file("/proc/self/mountinfo", 1 << 20, &text, NULL, &ignored) < 0)
		return;
	for (char *line = text, *next; line && *line && n_mounts < ARRAY_SIZE(mounts);
	     line = next) {
		char *dash, mountpoint[512], fstype[32], opts[256];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mountpoint) != 1 ||
		    sscanf(dash + 3, "%31s %*s %255s", fstype, opts) != 2)
			continue;
		if (strcmp(fstype, "cgroup2") != 0 && strcmp(fstype, "cgroup") != 0)
			continue;
		mounts[n_mounts].path = strdup(mountpoint);
		mounts[n_mounts].roles =
		    strcmp(fstype, "cgroup2") == 0 ? ROLE(CG_V2) : v1_roles(opts);
		if (mounts[n_mounts].path)
			n_mounts++;
	}
}

/* The roles of the mount a path is on (the longest mount point that is a
 * prefix of it); 0 when none is known. */
static unsigned int path_roles(const char *path)
{
	size_t best = 0;
	unsigned int roles = 0;

	if (!mounts_read)
		read_mounts();
	for (size_t i = 0; i < n_mounts; i++) {
		size_t len = strlen(mounts[i].path);

		if (len > best && strncmp(path, mounts[i].path, len) == 0 &&
		    (path[len] == '/' || path[len] == '\0')) {
			best = len;
			roles = mounts[i].roles;
		}
	}
	return roles;
}

struct cgroup_dirs {
	int fd[CG_ROLES]; /* -EBADF where no directory plays the role */
	int owned[CG_ROLES];
	size_t n_owned;
	uint64_t v2_id; /* inode of the cgroup2 directory: its cgroup id; 0 when none */
};

static void cgroup_dirs_close(struct cgroup_dirs *d)
{
	for (size_t i = 0; i < d->n_owned; i++)
		moat_closep(&d->owned[i]);
	d->n_owned = 0;
}

/*
 * The directories the state file lists that status reads (not devices or
 * freezer), each checked to be on a cgroup file system of the kind its path
 * says: a path that is not (a stale or edited state file) is skipped.
 */
static void cgroup_dirs_open(json_object *state, struct cgroup_dirs *d)
{
	json_object *arr = get(state, "cgroups");
	size_t n =
	    arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;

	d->n_owned = 0;
	d->v2_id = 0;
	for (size_t r = 0; r < CG_ROLES; r++)
		d->fd[r] = -EBADF;
	for (size_t i = 0; i < n && d->n_owned < CG_ROLES; i++) {
		const char *path = json_object_get_string(json_object_array_get_idx(arr, i));
		unsigned int roles = path && path[0] == '/' ? path_roles(path) : 0;
		unsigned long magic =
		    roles & ROLE(CG_V2) ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC;
		struct statfs sfs;
		struct stat st;
		int fd;

		/* Roles another directory already plays are not taken twice. */
		for (size_t r = 0; r < CG_ROLES; r++)
			if (d->fd[r] >= 0)
				roles &= ~ROLE(r);
		if (!roles)
			continue;
		fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstatfs(fd, &sfs) < 0 || (unsigned long)sfs.f_type != magic) {
			close(fd);
			continue;
		}
		if (roles & ROLE(CG_V2) && fstat(fd, &st) == 0)
			d->v2_id = st.st_ino;
		d->owned[d->n_owned++] = fd;
		for (size_t r = 0; r < CG_ROLES; r++)
			if (roles & ROLE(r))
				d->fd[r] = fd;
	}
}

/*
 * Where a controller's files are: its v1 directory on a hybrid host, where the
 * controller is bound to v1 and absent from cgroup2; the cgroup2 directory
 * otherwise.
 */
static int dir_for(const struct cgroup_dirs *d, enum cg_role v1)
{
	return d->fd[v1] >= 0 ? d->fd[v1] : d->fd[CG_V2];
}

/* Reads FILE in the directory dirfd into buf. 0, or -1 with errno. */
static int cgroup_read(int dirfd, const char *file, char *buf, size_t size)
{
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	if (dirfd < 0) {
		errno = ENOENT;
		return -1;
	}
	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* A file holding one number, or "max" (v2: no limit, *ret_max true). */
static int cgroup_read_u64(int dirfd, const char *file, uint64_t *ret, bool *ret_max)
{
	char buf[64], *end;

	if (cgroup_read(dirfd, file, buf, sizeof(buf)) < 0)
		return -1;
	if (ret_max)
		*ret_max = strncmp(buf, "max", 3) == 0;
	if (ret_max && *ret_max) {
		*ret = 0;
		return 0;
	}
	errno = 0;
	*ret = strtoull(buf, &end, 10);
	if (errno || end == buf) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The value of "KEY VALUE" in a flat-keyed file (memory.events, cpu.stat). */
static int cgroup_read_keyed(int dirfd, const char *file, const char *key, uint64_t *ret)
{
	char buf[CGROUP_FILE_MAX];
	size_t klen = strlen(key);

	if (cgroup_read(dirfd, file, buf, sizeof(buf)) < 0)
		return -1;
	for (const char *line = buf; *line;) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			*ret = strtoull(line + klen + 1, NULL, 10);
			return 0;
		}
		line += strcspn(line, "\n");
		line += *line == '\n';
	}
	errno = ENOENT;
	return -1;
}

static json_object *memory_json(const struct cgroup_dirs *d)
{
	json_object *s = section_new();
	uint64_t current, max = 0, kills = 0;
	bool unlimited = false, max_known, kills_known;

	if (d->fd[CG_MEMORY] >= 0) {
		/* v1. "No limit" is the largest page-aligned signed value. */
		if (cgroup_read_u64(d->fd[CG_MEMORY], "memory.usage_in_bytes", &current, NULL) < 0)
			goto fail;
		max_known = cgroup_read_u64(d->fd[CG_MEMORY], "memory.limit_in_bytes", &max,
					    NULL) == 0;
		unlimited = max >= V1_UNLIMITED;
		kills_known = cgroup_read_keyed(d->fd[CG_MEMORY], "memory.oom_control", "oom_kill",
						&kills) == 0;
	} else {
		if (cgroup_read_u64(d->fd[CG_V2], "memory.current", &current, NULL) < 0)
			goto fail;
		max_known = cgroup_read_u64(d->fd[CG_V2], "memory.max", &max, &unlimited) == 0;
		kills_known = cgroup_read_keyed(d->fd[CG_V2], "memory.events", "oom_kill",
						&kills) == 0;
	}
	section_ok(s);
	json_object_object_add(s, "current_bytes", json_object_new_uint64(current));
	json_object_object_add(s, "max_bytes", u64_or_null(max_known && !unlimited, max));
	json_object_object_add(s, "oom_kills", u64_or_null(kills_known, kills));
	return s;
fail:
	section_failf(s, "no memory controller in the sandbox's cgroups");
	return s;
}

/* The CPU limit in CPUs: v2 cpu.max "QUOTA PERIOD", v1 cfs_quota_us / cfs_period_us. */
static json_object *cpu_limit_json(const struct cgroup_dirs *d)
{
	char buf[64];
	uint64_t quota = 0, period = 0;
	long long q;

	if (d->fd[CG_CPU] >= 0) {
		if (cgroup_read(d->fd[CG_CPU], "cpu.cfs_quota_us", buf, sizeof(buf)) == 0 &&
		    sscanf(buf, "%lld", &q) == 1 && q > 0 &&
		    cgroup_read_u64(d->fd[CG_CPU], "cpu.cfs_period_us", &period, NULL) == 0)
			quota = (uint64_t)q;
	} else if (cgroup_read(d->fd[CG_V2], "cpu.max", buf, sizeof(buf)) == 0 &&
		   sscanf(buf, "%" SCNu64 " %" SCNu64, &quota, &period) != 2) {
		quota = 0; /* "max 100000" */
	}
	if (!quota || !period)
		return NULL;
	return new_double((double)quota / (double)period, 3);
}

static json_object *cpu_json(const struct cgroup_dirs *d)
{
	json_object *s = section_new();
	uint64_t usec = 0, nsec = 0;

	/* cgroup2 counts usage in every cpu.stat, controller enabled or not (hybrid
	 * hosts too); v1 only where cpuacct is mounted. */
	if (cgroup_read_keyed(d->fd[CG_V2], "cpu.stat", "usage_usec", &usec) == 0) {
		nsec = usec * 1000;
	} else if (cgroup_read_u64(d->fd[CG_CPUACCT], "cpuacct.usage", &nsec, NULL) < 0) {
		section_failf(s, "no CPU usage in the sandbox's cgroups (no cpu.stat usage_usec, "
			      "no cpuacct.usage)");
		return s;
	}
	section_ok(s);
	json_object_object_add(s, "usage_seconds", new_double((double)nsec / 1e9, 6));
	json_object_object_add(s, "limit_cpus", cpu_limit_json(d));
	return s;
}

static json_object *tasks_json(const struct cgroup_dirs *d)
{
	json_object *s = section_new();
	int dirfd = dir_for(d, CG_PIDS);
	uint64_t current, max = 0;
	bool unlimited = false, max_known;

	if (cgroup_read_u64(dirfd, "pids.current", &current, NULL) < 0) {
		section_failf(s, "no pids controller in the sandbox's cgroups");
		return s;
	}
	max_known = cgroup_read_u64(dirfd, "pids.max", &max, &unlimited) == 0 && !unlimited;
	section_ok(s);
	json_object_object_add(s, "current", json_object_new_uint64(current));
	json_object_object_add(s, "max", u64_or_null(max_known, max));
	return s;
}

/* ---- syscalls ----------------------------------------------------------------- */

struct syscall_count {
	int nr;
	uint64_t count;
};

static int count_cmp(const void *a, const void *b)
{
	const struct syscall_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->nr - y->nr;
}

static void syscall_key(int nr, char *buf, size_t len)
{
	const char *name = moat_syscall_name(nr);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "nr_%d", nr);
}

static json_object *syscalls_json(uint64_t cgroup_id, json_object *accounting, double uptime_s,
				  unsigned int detail)
{
	json_object *s = section_new(), *top, *counts;
	_cleanup_free_ uint64_t *counts_by_nr = calloc(MOAT_SYSCALLS_MAX, sizeof(uint64_t));
	struct syscall_count sorted[MOAT_SYSCALLS_MAX];
	struct moat_error err = {0};
	uint64_t total = 0;
	size_t n = 0;
	char key[32];

	if (!counts_by_nr) {
		section_failf(s, "out of memory");
		return s;
	}
	if (!cgroup_id) {
		section_failf(s, "no cgroup2 directory: syscalls are not counted");
		return s;
	}
	/* Not registered at launch (accounting = no, or degraded): say why. */
	if (accounting && !json_object_get_boolean(get(accounting, "applied"))) {
		section_failf(s, "not counted: %s",
			      get_str(accounting, "why",
				      "accounting could not be set up (--allow-degraded)"));
		return s;
	}
	if (moat_syscount_read(cgroup_id, counts_by_nr, &err) < 0) {
		section_fail(s, &err);
		return s;
	}
	for (int nr = 0; nr < MOAT_SYSCALLS_MAX; nr++) {
		total += counts_by_nr[nr];
		if (counts_by_nr[nr])
			sorted[n++] = (struct syscall_count){nr, counts_by_nr[nr]};
	}
	section_ok(s);
	json_object_object_add(s, "total", json_object_new_uint64(total));
	json_object_object_add(s, "per_second",
			       new_double(uptime_s > 0 ? (double)total / uptime_s : 0, 1));
	if (!(detail & MOAT_STATUS_SYSCALL_NAMES))
		return s;
	qsort(sorted, n, sizeof(sorted[0]), count_cmp);
	top = json_object_new_array();
	counts = json_object_new_object();
	for (size_t i = 0; i < n; i++) {
		const char *name = moat_syscall_name(sorted[i].nr);

		if (i < MOAT_STATUS_TOP_N) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "name",
					       name ? json_object_new_string(name) : NULL);
			json_object_object_add(e, "nr", json_object_new_int(sorted[i].nr));
			json_object_object_add(e, "count", json_object_new_uint64(sorted[i].count));
			json_object_array_add(top, e);
		}
		syscall_key(sorted[i].nr, key, sizeof(key));
		json_object_object_add(counts, key, json_object_new_uint64(sorted[i].count));
	}
	json_object_object_add(s, "top", top);
	json_object_object_add(s, "counts", counts);
	return s;
}

/* ---- network ------------------------------------------------------------------- */

static json_object *counters_json(uint64_t cgroup_id, const char *mode)
{
	json_object *s = section_new();
	struct moat_net_counters c;
	struct moat_error err = {0};

	if (!cgroup_id) {
		section_failf(s, "no cgroup2 directory: the network is not counted");
		return s;
	}
	if (moat_egress_read(cgroup_id, &c, &err) < 0) {
		if (err.errnum == ENOENT && strcmp(mode, "none") == 0)
			section_failf(s, "mode none: no network to count");
		else
			section_fail(s, &err);
		return s;
	}
	section_ok(s);
	json_object_object_add(s, "bytes_in", json_object_new_uint64(c.bytes_in));
	json_object_object_add(s, "bytes_out", json_object_new_uint64(c.bytes_out));
	json_object_object_add(s, "packets_in", json_object_new_uint64(c.packets_in));
	json_object_object_add(s, "packets_out", json_object_new_uint64(c.packets_out));
	json_object_object_add(s, "connections_allowed", json_object_new_uint64(c.connect_allowed));
	json_object_object_add(s, "connections_denied", json_object_new_uint64(c.connect_denied));
	json_object_object_add(s, "datagrams_allowed", json_object_new_uint64(c.sendmsg_allowed));
	json_object_object_add(s, "datagrams_denied", json_object_new_uint64(c.sendmsg_denied));
	json_object_object_add(s, "packets_denied", json_object_new_uint64(c.packets_denied));
	json_object_object_add(s, "denials_lost", json_object_new_uint64(c.events_lost));
	return s;
}

static int dest_cmp(const void *a, const void *b)
{
	const struct moat_egress_dest *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->packets == y->packets ? 0 : x->packets > y->packets ? -1 : 1;
}

static json_object *destinations_json(uint64_t cgroup_id)
{
	json_object *s = section_new(), *top;
	struct moat_egress_dest dests[MOAT_STATUS_TOP_N];
	struct moat_error err = {0};
	size_t n = 0;

	if (!cgroup_id) {
		section_failf(s, "no cgroup2 directory: the network is not counted");
		return s;
	}
	if (moat_egress_top_destinations(cgroup_id, dests, MOAT_STATUS_TOP_N, &n, &err) < 0) {
		section_fail(s, &err);
		return s;
	}
	if (n > MOAT_STATUS_TOP_N)
		n = MOAT_STATUS_TOP_N;
	qsort(dests, n, sizeof(dests[0]), dest_cmp);
	top = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_new_object();
		char addr[INET6_ADDRSTRLEN] = "?", proto[8];
		bool v4 = dests[i].family == AF_INET;

		inet_ntop(v4 ? AF_INET : AF_INET6, dests[i].addr, addr, sizeof(addr));
		json_object_object_add(e, "family", json_object_new_string(v4 ? "ipv4" : "ipv6"));
		json_object_object_add(e, "address", json_object_new_string(addr));
		json_object_object_add(e, "proto", json_object_new_string(
			moat_egress_proto_name(dests[i].proto, proto, sizeof(proto))));
		json_object_object_add(e, "port", json_object_new_int(dests[i].port));
		json_object_object_add(e, "bytes", json_object_new_uint64(dests[i].bytes));
		json_object_object_add(e, "packets", json_object_new_uint64(dests[i].packets));
		json_object_array_add(top, e);
	}
	section_ok(s);
	json_object_object_add(s, "top", top);
	return s;
}

/* Most connections first, as the supervisor ranks them: one client making
 * thousands of requests (model extraction) stands out; then most bytes. */
static int client_cmp(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	uint64_t cx = get_u64(x, "connections"), cy = get_u64(y, "connections");
	uint64_t bx = get_u64(x, "bytes_in") + get_u64(x, "bytes_out");
	uint64_t by = get_u64(y, "bytes_in") + get_u64(y, "bytes_out");

	if (cx != cy)
		return cx > cy ? -1 : 1;
	return bx == by ? 0 : bx > by ? -1 : 1;
}

/*
 * clients.json, written by the supervisor once a second while clients of the
 * published ports come (sandbox/launch.c). No file: no client so far, or no
 * published port. Only the members documented are copied, so a newer
 * supervisor's additions do not change this schema.
 */
static json_object *clients_json(const char *name)
{
	json_object *s = section_new(), *top, *root = NULL, *arr;
	_cleanup_free_ char *path = moat_strdup_printf("%s/%s/clients.json", MOAT_RUN_DIR, name);
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ json_object **rows = NULL;
	struct moat_error err = {0};
	size_t n = 0;

	top = json_object_new_array();
	if (!path || moat_read_file(path, CLIENTS_FILE_MAX, &text, NULL, &err) < 0) {
		if (path && err.errnum == ENOENT) {
			section_ok(s);
			json_object_object_add(s, "active_connections", json_object_new_uint64(0));
			json_object_object_add(s, "top", top);
		} else {
			section_fail(s, &err);
			json_object_put(top);
		}
		return s;
	}
	root = json_tokener_parse(text);
	arr = get(root, "clients");
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		section_failf(s, "%s: not a clients object", path);
		json_object_put(root);
		json_object_put(top);
		return s;
	}
	rows = calloc(json_object_array_length(arr) + 1, sizeof(*rows));
	if (!rows) {
		section_failf(s, "%s: out of memory", path);
		json_object_put(root);
		json_object_put(top);
		return s;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *c = json_object_array_get_idx(arr, i);

		if (json_object_is_type(c, json_type_object))
			rows[n++] = c;
	}
	qsort(rows, n, sizeof(*rows), client_cmp);
	for (size_t i = 0; i < n && i < MOAT_STATUS_TOP_N; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "address",
				       json_object_new_string(get_str(rows[i], "address", "")));
		json_object_object_add(e, "connections",
				       json_object_new_uint64(get_u64(rows[i], "connections")));
		json_object_object_add(e, "bytes_in",
				       json_object_new_uint64(get_u64(rows[i], "bytes_in")));
		json_object_object_add(e, "bytes_out",
				       json_object_new_uint64(get_u64(rows[i], "bytes_out")));
		json_object_array_add(top, e);
	}
	section_ok(s);
	json_object_object_add(s, "active_connections",
			       json_object_new_uint64(get_u64(root, "active_connections")));
	json_object_object_add(s, "top", top);
	json_object_put(root);
	return s;
}

static json_object *network_json(const char *name, json_object *state, uint64_t cgroup_id,
				 unsigned int detail)
{
	json_object *net = json_object_new_object(), *recorded = get(state, "network");
	const char *mode = get_str(recorded, "mode", "none");
	json_object *v;

	json_object_object_add(net, "mode", json_object_new_string(mode));
	json_object_object_add(net, "address",
			       (v = get(recorded, "address")) ? json_object_get(v) : NULL);
	json_object_object_add(net, "host_address",
			       (v = get(recorded, "host_address")) ? json_object_get(v) : NULL);
	json_object_object_add(net, "host_ifname",
			       (v = get(recorded, "host_ifname")) ? json_object_get(v) : NULL);
	json_object_object_add(net, "egress_rules",
			       (v = get(recorded, "egress_rules")) ? json_object_get(v) : NULL);
	json_object_object_add(net, "counters", counters_json(cgroup_id, mode));
	if (detail & MOAT_STATUS_TOP) {
		json_object_object_add(net, "destinations", destinations_json(cgroup_id));
		json_object_object_add(net, "clients", clients_json(name));
	}
	return net;
}

/* ---- a detached sandbox's output ----------------------------------------------- */

/*
 * Its log, the budget the launch recorded in state.json, and the bytes over
 * it that were dropped: output.json, which the supervisor rewrites at most
 * once a second while drops happen (sandbox/output.h). No file: nothing
 * dropped so far. A sandbox in the foreground has no log, and nulls here.
 */
static json_object *output_json(const char *name, json_object *state)
{
	json_object *s = section_new(), *root;
	const char *log = get_str(state, "log", NULL);
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct moat_error err = {0};
	uint64_t dropped = 0;

	if (log) {
		path = moat_strdup_printf("%s/%s/output.json", MOAT_RUN_DIR, name);
		if (!path || moat_read_file(path, OUTPUT_FILE_MAX, &text, NULL, &err) < 0) {
			if (!path || err.errnum != ENOENT) {
				section_fail(s, &err);
				return s;
			}
		} else {
			root = json_tokener_parse(text);
			if (!get(root, "dropped_bytes")) {
				section_failf(s, "%s: not an output object", path);
				json_object_put(root);
				return s;
			}
			dropped = get_u64(root, "dropped_bytes");
			json_object_put(root);
		}
	}
	section_ok(s);
	json_object_object_add(s, "log", log ? json_object_new_string(log) : NULL);
	json_object_object_add(s, "rate_bytes_per_second",
			       u64_or_null(get_u64(state, "log_rate") != 0, get_u64(state, "log_rate")));
	json_object_object_add(s, "burst_bytes",
			       u64_or_null(get_u64(state, "log_rate") != 0, get_u64(state, "log_burst")));
	json_object_object_add(s, "dropped_bytes", u64_or_null(log != NULL, dropped));
	return s;
}

/* ---- the audit log's tail -------------------------------------------------------- */

struct tail {
	json_object *ev[MOAT_STATUS_DENIALS_N]; /* newest first */
	size_t n;
	json_tokener *tok;
};

/*
 * One whole line, newest first. Only lines that could be a "denied" or a
 * "start" event are parsed: the reader's cost is the bytes it scans, not the
 * events. Returns 1 to stop: enough denials, or the "start" of the sandbox's
 * current life (a log outlives its sandbox; older denials were another's).
 */
static int tail_line(const char *line, size_t len, void *data)
{
	struct tail *t = data;
	json_object *ev;
	const char *event;

	if (!memmem(line, len, "\"denied\"", 8) && !memmem(line, len, "\"start\"", 7))
		return 0;
	json_tokener_reset(t->tok);
	ev = json_tokener_parse_ex(t->tok, line, (int)len);
	if (!ev || json_tokener_get_error(t->tok) != json_tokener_success ||
	    json_tokener_get_parse_end(t->tok) != len ||
	    !json_object_is_type(ev, json_type_object)) {
		json_object_put(ev);
		return 0;
	}
	event = get_str(ev, "event", "");
	if (strcmp(event, "start") == 0) {
		json_object_put(ev);
		return 1;
	}
	if (strcmp(event, "denied") != 0) {
		json_object_put(ev);
		return 0;
	}
	t->ev[t->n++] = ev;
	return t->n == MOAT_STATUS_DENIALS_N;
}

static json_object *denials_json(const char *name)
{
	json_object *s = section_new(), *last;
	struct moat_error err = {0};
	struct tail t = {0};
	int r = -1;

	t.tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (t.tok) {
		json_tokener_set_flags(t.tok, JSON_TOKENER_STRICT);
		r = moat_audit_tail(name, MOAT_STATUS_LOG_SCAN_MAX, tail_line, &t, &err);
		json_tokener_free(t.tok);
	} else {
		moat_error_set(&err, ENOMEM, "read the audit log of %s", name);
	}
	if (r < 0) {
		section_fail(s, &err);
		return s;
	}
	/* Oldest first, as in the log. */
	last = json_object_new_array();
	for (size_t i = t.n; i > 0; i--)
		json_object_array_add(last, t.ev[i - 1]);
	section_ok(s);
	json_object_object_add(s, "last", last);
	return s;
}

/* ---- guarantees ----------------------------------------------------------------------- */

/*
 * What the launch recorded as in force, and a summary: every guarantee
 * recorded with "applied": false (and its "why"), and the layers that
 * --allow-degraded let fail. A state file from a moat that recorded none
 * says "known": false.
 */
static json_object *enforcement_json(json_object *guarantees)
{
	json_object *e = json_object_new_object(), *not_applied = json_object_new_array(), *v, *n;
	json_object *degraded = get(guarantees, "degraded");
	bool known = guarantees && json_object_is_type(guarantees, json_type_object);

	json_object_object_add(e, "known", json_object_new_boolean(known));
	if (known) {
		json_object_object_foreach(guarantees, key, val) {
			if (!json_object_is_type(val, json_type_object) ||
			    !(v = get(val, "applied")) || json_object_get_boolean(v))
				continue;
			n = json_object_new_object();
			json_object_object_add(n, "guarantee", json_object_new_string(key));
			json_object_object_add(n, "why",
					       (v = get(val, "why")) ? json_object_get(v) : NULL);
			json_object_array_add(not_applied, n);
		}
	}
	json_object_object_add(e, "degraded",
			       degraded && json_object_is_type(degraded, json_type_array)
				       ? json_object_get(degraded)
				       : json_object_new_array());
	json_object_object_add(e, "not_applied", not_applied);
	return e;
}

/* ---- the whole ------------------------------------------------------------------------ */

static json_object *copy_or_null(json_object *state, const char *key)
{
	json_object *v = get(state, key);

	return v ? json_object_get(v) : NULL;
}

static int collect(const char *name, json_object *state, bool alive, unsigned int detail,
		   json_object **ret)
{
	json_object *st = json_object_new_object(), *pids = json_object_new_object();
	struct cgroup_dirs dirs;
	uint64_t started_ns = get_u64(state, "started_ns"), now = moat_now_ns(), cgroup_id;
	double uptime = started_ns && now > started_ns ? (double)(now - started_ns) / 1e9 : 0;
	const char *status = alive ? get_str(state, "status", "starting") : "dead";

	if (!st || !pids) {
		json_object_put(st);
		json_object_put(pids);
		return -1;
	}
	cgroup_dirs_open(state, &dirs);
	/* Recorded by the launch; older state files have it in "network" only; the
	 * directory's inode is the same number. */
	cgroup_id = get_u64(state, "cgroup_id");
	if (!cgroup_id)
		cgroup_id = get_u64(get(state, "network"), "cgroup_id");
	if (!cgroup_id)
		cgroup_id = dirs.v2_id;

	json_object_object_add(st, "schema", json_object_new_int(MOAT_STATUS_SCHEMA));
	json_object_object_add(st, "name", json_object_new_string(name));
	json_object_object_add(st, "state", json_object_new_string(status));
	json_object_object_add(st, "tier", json_object_new_string(get_str(state, "tier", "")));
	json_object_object_add(st, "policy", json_object_new_string(get_str(state, "policy", "")));
	json_object_object_add(st, "policy_sha256",
			       json_object_new_string(get_str(state, "policy_sha256", "")));
	json_object_object_add(st, "user", json_object_new_string(get_str(state, "user", "")));
	json_object_object_add(st, "command", get(state, "command") ? copy_or_null(state, "command")
								    : json_object_new_array());
	json_object_object_add(st, "detached", json_object_new_boolean(
		json_object_get_boolean(get(state, "detached"))));
	json_object_object_add(pids, "supervisor",
			       json_object_new_int64((int64_t)get_u64(state, "supervisor_pid")));
	json_object_object_add(pids, "init", json_object_new_int64((int64_t)get_u64(state, "pid")));
	json_object_object_add(pids, "command",
			       json_object_new_int64((int64_t)get_u64(state, "command_pid")));
	json_object_object_add(st, "pids", pids);
	json_object_object_add(st, "started", json_object_new_uint64(started_ns / 1000000000ull));
	json_object_object_add(st, "uptime_seconds", alive ? new_double(uptime, 3) : NULL);
	json_object_object_add(st, "cgroup_id", u64_or_null(cgroup_id != 0, cgroup_id));
	json_object_object_add(st, "memory", memory_json(&dirs));
	json_object_object_add(st, "cpu", cpu_json(&dirs));
	json_object_object_add(st, "tasks", tasks_json(&dirs));
	cgroup_dirs_close(&dirs);
	json_object_object_add(
	    st, "syscalls",
	    syscalls_json(cgroup_id, get(get(state, "guarantees"), "accounting"), uptime, detail));
	json_object_object_add(st, "network", network_json(name, state, cgroup_id, detail));
	json_object_object_add(st, "output", output_json(name, state));
	if (detail & MOAT_STATUS_DENIALS)
		json_object_object_add(st, "denials", denials_json(name));
	json_object_object_add(st, "guarantees", copy_or_null(state, "guarantees"));
	json_object_object_add(st, "enforcement", enforcement_json(get(state, "guarantees")));
	*ret = st;
	return 0;
}

int moat_status_collect(const char *name, unsigned int detail, json_object **ret,
			struct moat_error *err)
{
	json_object *state = NULL;
	bool alive;
	int r;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "invalid sandbox name \"%s\"", name);
	/* Sampled before the state is read: a sandbox that ends in between shows
	 * as alive with the state it had. */
	alive = moat_state_alive(name);
	if (moat_state_read(name, &state, err) < 0)
		return -1;
	r = collect(name, state, alive, detail, ret);
	json_object_put(state);
	if (r < 0)
		return moat_error_set(err, ENOMEM, "status of %s", name);
	return 0;
}

int moat_status_collect_all(unsigned int detail, json_object **ret, struct moat_error *err)
{
	struct moat_strv names = {0};
	json_object *list;

	if (moat_state_list(&names, err) < 0)
		return -1;
	list = json_object_new_array();
	if (!list) {
		moat_strv_clear(&names);
		return moat_error_set(err, ENOMEM, "status");
	}
	for (size_t i = 0; i < names.n; i++) {
		json_object *st = NULL;
		struct moat_error ignored;

		/* Gone since the listing, or too early to have a state file. */
		if (moat_status_collect(names.v[i], detail, &st, &ignored) == 0)
			json_object_array_add(list, st);
	}
	moat_strv_clear(&names);
	*ret = list;
	return 0;
}

/* ---- reading back ------------------------------------------------------------------------ */

json_object *moat_status_get(json_object *status, const char *path)
{
	json_object *o = status;
	char key[64];

	while (o && *path) {
		size_t len = strcspn(path, ".");

		if (len >= sizeof(key) || !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		o = get(o, key);
		path += len + (path[len] == '.');
	}
	return o;
}

bool moat_status_u64(json_object *status, const char *path, uint64_t *ret)
{
	json_object *v = moat_status_get(status, path);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_uint64(v);
	return true;
}

bool moat_status_double(json_object *status, const char *path, double *ret)
{
	json_object *v = moat_status_get(status, path);

	if (!v ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return false;
	*ret = json_object_get_double(v);
	return true;
}

const char *moat_status_str(json_object *status, const char *path, const char *fallback)
{
	json_object *v = moat_status_get(status, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : fallback;
}

const char *moat_status_text(json_object *v)
{
	return json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* ---- formatting ------------------------------------------------------------------------------ */

void moat_status_format_bytes(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	size_t u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", v);
		return;
	}
	d /= 1024;
	while (d >= 1024 && u + 1 < sizeof(units) - 1) {
		d /= 1024;
		u++;
	}
	/* One decimal below 10 ("1.2M"), none above ("980K"), as du -h. */
	if (d < 9.95)
		snprintf(buf, len, "%.1f%c", d, units[u]);
	else
		snprintf(buf, len, "%.0f%c", d, units[u]);
}

void moat_status_format_duration(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, (s % 86400) / 3600);
}
