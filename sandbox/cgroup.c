// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-sandbox cgroups: layout detection, creation and limits with libcgroup,
 * the cgroup2 devices program, OOM counting and teardown. See cgroup.h.
 *
 * libcgroup creates the v1 groups and writes every limit. A few things are
 * done on cgroupfs directly, each marked where it happens; libcgroup 2.0
 * cannot do them:
 *  - init moves itself into the v1 groups by writing "0" to their tasks
 *    files below fds opened before pivot_root (libcgroup moves a task by
 *    pid, from outside, which costs an RCU grace period);
 *  - libcgroup reaches the cgroup2 mount only through a controller listed in its
 *    cgroup.controllers, and on a hybrid host moat uses none there (often none
 *    is listed), so the cgroup2 directory, its cgroup.procs, cgroup.kill and
 *    cgroup.freeze are plain files;
 *  - its cgroup_create_cgroup() enables cgroup2 controllers from the mount
 *    root down, which writes to cgroups above our own; we enable them only in
 *    our own cgroup and in moat/;
 *  - its cgroup_delete_cgroup_ext(CGFLAG_DELETE_EMPTY_ONLY) returns success
 *    when rmdir fails with EBUSY, and it names groups relative to the mounts it
 *    sees, not by the absolute paths `moat gc` has: teardown uses rmdir.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <libcgroup.h>

#include "bpf.h"
#include "cgroup.h"
#include "parse.h"

#define CPU_PERIOD_US 100000
#define CPU_QUOTA_MIN_US 1000 /* the kernel rejects smaller cfs quotas */
#define PROC_FILE_MAX (4u << 20) /* mountinfo of a host with thousands of mounts */
#define CG_FILE_MAX (4u << 20)	 /* cgroup.procs of a large cgroup */

static const char *const v1_names[MOAT_CG_V1_COUNT] = {
	[MOAT_CG_MEMORY] = "memory",
	[MOAT_CG_CPU] = "cpu",
	[MOAT_CG_PIDS] = "pids",
};

const char *moat_cgroup_v1_name(enum moat_cgroup_v1 c)
{
	return (unsigned)c < MOAT_CG_V1_COUNT ? v1_names[c] : NULL;
}

struct moat_cgroup {
	char *name;
	enum moat_cgroup_mode mode;
	char *v2_path;			       /* .../moat/NAME on cgroup2 */
	char *v2_rel;			       /* the same relative to its mount (libcgroup) */
	char *v1_path[MOAT_CG_V1_COUNT];       /* hybrid: v1 directories (made by _create_v1) */
	char *v1_rel[MOAT_CG_V1_COUNT];	       /* libcgroup names of those */
	char *v1_mount[MOAT_CG_V1_COUNT];      /* hybrid: where each is mounted */
	char *v1_dir[MOAT_CG_V1_COUNT];	       /* hybrid: our own cgroup there */
	bool v2_ctrl[MOAT_CG_V1_COUNT];	       /* unified: controllers enabled for us */
	bool v2_made;			       /* v2_path was made by moat_cgroup_create */
	int v2_fd;			       /* O_PATH of v2_path */
	int dev_link_fd;		       /* unified: the devices BPF link */
	struct moat_cgroup_layout layout;      /* as moat_cgroup_new found it */
	struct moat_dev_rule *dev_rules;       /* the allow-list, for moat_cgroup_create */
	size_t n_dev_rules;
};

static void cgroup_freep(struct moat_cgroup **cg)
{
	moat_cgroup_free(*cg);
}

static void strv_clearp(struct moat_strv *sv)
{
	moat_strv_clear(sv);
}

static void layout_clearp(struct moat_cgroup_layout *l)
{
	moat_cgroup_layout_clear(l);
}

/* ---------------------------------------------------------------------------
 * Small file helpers
 */

/* path without its last component, malloc'd; NULL without a '/'. */
static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, (size_t)(slash - path)) : NULL;
}

static char *path_join(const char *dir, const char *file)
{
	return moat_strdup_printf("%s/%s", dir, file);
}

/* Writes value to dir/file directly (callers say why libcgroup is not used). */
static int write_cg_file(const char *dir, const char *file, const char *value,
			 struct moat_error *err)
{
	_cleanup_free_ char *path = path_join(dir, file);
	_cleanup_close_ int fd = -EBADF;

	if (!path)
		return moat_error_errno(err, "write %s in %s", file, dir);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || moat_write_all(fd, value, strlen(value)) < 0)
		return moat_error_errno(err, "write %s in %s", file, dir);
	return 0;
}

static int read_cg_file(const char *dir, const char *file, char **ret, struct moat_error *err)
{
	_cleanup_free_ char *path = path_join(dir, file);

	if (!path)
		return moat_error_errno(err, "read %s in %s", file, dir);
	return moat_read_file(path, CG_FILE_MAX, ret, NULL, err);
}

static bool cg_file_exists(const char *dir, const char *file)
{
	_cleanup_free_ char *path = path_join(dir, file);

	return path && access(path, F_OK) == 0;
}

/* Is word one of the space-separated words of list ("cpu memory pids")? */
static bool word_in(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += len) {
		bool start = p == list || p[-1] == ' ' || p[-1] == '\n';
		bool end = p[len] == '\0' || p[len] == ' ' || p[len] == '\n';

		if (start && end)
			return true;
	}
	return false;
}

/* "KEY N" line of a flat-keyed file (memory.events, memory.oom_control). */
static bool keyed_value(const char *text, const char *key, uint64_t *ret)
{
	size_t len = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, len) == 0 && p[len] == ' ') {
			*ret = strtoull(p + len + 1, NULL, 10);
			return true;
		}
	}
	return false;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Does the host have active swap? (/proc/swaps has lines past its header.) */
static bool swap_active(void)
{
	struct moat_error ignored;
	_cleanup_free_ char *text = NULL;
	char *nl;

	if (moat_read_file("/proc/swaps", 1 << 16, &text, NULL, &ignored) < 0)
		return true; /* unknown: assume the worse */
	nl = strchr(text, '\n');
	return nl && nl[1] != '\0';
}

/* ---------------------------------------------------------------------------
 * Layout detection (pure)
 */

static bool path_within(const char *root, const char *path)
{
	size_t len = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* Decodes mountinfo's octal escapes (\040 for a space, ...). */
static char *mi_unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

struct mi_pick {
	char *dir;  /* mount point */
	char *root; /* root of the mount inside its hierarchy */
};

static void mi_pick_clear(struct mi_pick *m)
{
	free(m->dir);
	free(m->root);
	m->dir = m->root = NULL;
}

/*
 * A hierarchy may be mounted more than once (bind mounts, containers that
 * mount a subtree): keep the first mount whose root contains our cgroup.
 */
static int mi_offer(struct mi_pick *m, const char *dir, const char *root, const char *own)
{
	if (m->dir && (!own || path_within(m->root, own) || !path_within(root, own)))
		return 0;
	mi_pick_clear(m);
	m->dir = mi_unescape(dir);
	m->root = mi_unescape(root);
	return m->dir && m->root ? 0 : -1;
}

/* Splits a copy of line into at most max space-separated fields. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t && n < max; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	return n;
}

static bool opt_in(const char *opts, const char *opt)
{
	size_t len = strlen(opt);

	for (const char *p = opts; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (strncmp(p, opt, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

static int hier_resolve(struct moat_cgroup_hier *h, const struct mi_pick *m, const char *own,
			const char *what, struct moat_error *err)
{
	const char *rel;

	if (!path_within(m->root, own))
		return moat_error_set(err, 0,
				      "our %s cgroup %s is outside the mount at %s (root %s)", what,
				      own, m->dir, m->root);
	rel = own + (strcmp(m->root, "/") == 0 ? 0 : strlen(m->root));
	while (*rel == '/')
		rel++;
	h->mount = strdup(m->dir);
	h->rel = strdup(rel);
	/* strip a trailing '/' (never written by the kernel, but cheap to tolerate) */
	if (h->rel && *h->rel && h->rel[strlen(h->rel) - 1] == '/')
		h->rel[strlen(h->rel) - 1] = '\0';
	h->dir = h->rel && *h->rel ? moat_strdup_printf("%s/%s", m->dir, h->rel) : strdup(m->dir);
	if (!h->mount || !h->rel || !h->dir)
		return moat_error_set(err, ENOMEM, "cgroup layout");
	return 0;
}

void moat_cgroup_layout_clear(struct moat_cgroup_layout *l)
{
	struct moat_cgroup_hier *all[1 + MOAT_CG_V1_COUNT] = { &l->v2 };

	for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
		all[1 + c] = &l->v1[c];
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		free(all[i]->mount);
		free(all[i]->rel);
		free(all[i]->dir);
		all[i]->mount = all[i]->rel = all[i]->dir = NULL;
	}
	l->mode = 0;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "/..")); p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return true;
	return false;
}

/* Own cgroup paths from /proc/self/cgroup: "0::/a/b" (v2), "4:memory:/x" (v1). */
static int parse_proc_cgroup(const char *text, char **ret_v2, char *ret_v1[MOAT_CG_V1_COUNT],
			     struct moat_error *err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;

	if (!copy)
		return moat_error_set(err, ENOMEM, "parse /proc/self/cgroup");
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *ctrls, *path;

		if (!c2)
			return moat_error_set(err, 0, "parse /proc/self/cgroup: bad line \"%s\"",
					      line);
		*c1 = '\0';
		*c2 = '\0';
		ctrls = c1 + 1;
		path = c2 + 1;
		bool v2 = strcmp(line, "0") == 0 && *ctrls == '\0';
		bool used = v2;

		for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
			used = used || opt_in(ctrls, v1_names[c]);
		if (!used)
			continue;
		/* A cgroup namespace shows a cgroup outside its root as "/.."; a
		 * cgroup we cannot see is not one to create under. */
		if (path[0] != '/' || has_dotdot(path))
			return moat_error_set(err, 0,
					      "our cgroup \"%s\" is not visible from here "
					      "(outside the cgroup namespace?)",
					      path);
		if (v2) {
			free(*ret_v2);
			*ret_v2 = strdup(path);
			if (!*ret_v2)
				return moat_error_set(err, ENOMEM, "parse /proc/self/cgroup");
			continue;
		}
		for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
			if (!opt_in(ctrls, v1_names[c]) || ret_v1[c])
				continue;
			ret_v1[c] = strdup(path);
			if (!ret_v1[c])
				return moat_error_set(err, ENOMEM, "parse /proc/self/cgroup");
		}
	}
	return 0;
}

int moat_cgroup_layout_parse(const char *mountinfo, const char *proc_cgroup,
			     struct moat_cgroup_layout *ret, struct moat_error *err)
{
	_cleanup_(layout_clearp) struct moat_cgroup_layout l = { 0 };
	_cleanup_free_ char *copy = strdup(mountinfo);
	char *own_v1[MOAT_CG_V1_COUNT] = { 0 };
	char *own_v2 = NULL;
	struct mi_pick v2 = { 0 }, v1[MOAT_CG_V1_COUNT] = { 0 };
	bool any_v1 = false, hybrid = false;
	char *save = NULL;
	int r = -1;

	if (!copy) {
		moat_error_set(err, ENOMEM, "parse /proc/self/mountinfo");
		goto out;
	}
	if (parse_proc_cgroup(proc_cgroup, &own_v2, own_v1, err) < 0)
		goto out;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *f[64];
		size_t n = split_fields(line, f, ARRAY_SIZE(f)), sep;

		for (sep = 6; sep < n && strcmp(f[sep], "-") != 0; sep++)
			;
		if (n < 7 || sep + 3 >= n)
			continue;
		const char *root = f[3], *dir = f[4], *fstype = f[sep + 1], *superopts = f[sep + 3];

		if (strcmp(fstype, "cgroup2") == 0) {
			if (mi_offer(&v2, dir, root, own_v2) < 0)
				goto nomem;
		} else if (strcmp(fstype, "cgroup") == 0) {
			any_v1 = true;
			for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
				if (!opt_in(superopts, v1_names[c]))
					continue;
				hybrid = true;
				if (mi_offer(&v1[c], dir, root, own_v1[c]) < 0)
					goto nomem;
			}
		}
	}

	if (!v2.dir) {
		if (any_v1)
			moat_error_set(err, 0,
				       "cgroup v1 only (no cgroup2 mount in /proc/self/mountinfo): "
				       "unsupported, moat's eBPF layers attach to cgroup2 "
				       "(boot with systemd.unified_cgroup_hierarchy=1)");
		else
			moat_error_set(err, 0, "no cgroup file system mounted");
		goto out;
	}
	if (!own_v2) {
		moat_error_set(err, 0, "no cgroup2 line (\"0::PATH\") in /proc/self/cgroup");
		goto out;
	}
	if (hier_resolve(&l.v2, &v2, own_v2, "cgroup2", err) < 0)
		goto out;
	l.mode = hybrid ? MOAT_CGROUP_HYBRID : MOAT_CGROUP_UNIFIED;
	for (int c = 0; hybrid && c < MOAT_CG_V1_COUNT; c++) {
		if (!v1[c].dir)
			continue;
		if (!own_v1[c]) {
			moat_error_set(err, 0, "%s is mounted at %s but not in /proc/self/cgroup",
				       v1_names[c], v1[c].dir);
			goto out;
		}
		if (hier_resolve(&l.v1[c], &v1[c], own_v1[c], v1_names[c], err) < 0)
			goto out;
	}
	*ret = l;
	memset(&l, 0, sizeof(l));
	r = 0;
	goto out;
nomem:
	moat_error_set(err, ENOMEM, "parse /proc/self/mountinfo");
out:
	mi_pick_clear(&v2);
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
		mi_pick_clear(&v1[c]);
		free(own_v1[c]);
	}
	free(own_v2);
	return r;
}

static int layout_detect(struct moat_cgroup_layout *ret, struct moat_error *err)
{
	_cleanup_free_ char *mountinfo = NULL;
	_cleanup_free_ char *self = NULL;

	if (moat_read_file("/proc/self/mountinfo", PROC_FILE_MAX, &mountinfo, NULL, err) < 0 ||
	    moat_read_file("/proc/self/cgroup", PROC_FILE_MAX, &self, NULL, err) < 0)
		return -1;
	return moat_cgroup_layout_parse(mountinfo, self, ret, err);
}

/* ---------------------------------------------------------------------------
 * libcgroup glue
 */

/* Library code never prints: swallow libcgroup's log (errors come back as codes). */
static void lcg_quiet(void *userdata, int level, const char *fmt, va_list ap)
{
	(void)userdata;
	(void)level;
	(void)fmt;
	(void)ap;
}

/* Fills err from a libcgroup error code: errno when the OS said why. */
static int lcg_error(struct moat_error *err, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int lcg_error(struct moat_error *err, int r, const char *fmt, ...)
{
	char what[MOAT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r == ECGOTHER && cgroup_get_last_errno())
		return moat_error_set(err, cgroup_get_last_errno(), "%s", what);
	if (r == ECGROUPVALUENOTEXIST)
		return moat_error_set(err, ENOENT, "%s", what);
	return moat_error_set(err, 0, "%s: %s (libcgroup)", what, cgroup_strerror(r));
}

static int lcg_init(struct moat_error *err)
{
	int r;

	cgroup_set_logger(lcg_quiet, CGROUP_LOG_ERROR, NULL);
	r = cgroup_init();
	if (r)
		return lcg_error(err, r, "libcgroup init");
	return 0;
}

/* libcgroup must see controller where /proc/self/mountinfo does, or it would
 * create and write somewhere else than we record and tear down. */
static int lcg_check_mount(const char *controller, const char *mount, struct moat_error *err)
{
	_cleanup_free_ char *mp = NULL;
	int r = cgroup_get_subsys_mount_point(controller, &mp);

	if (r)
		return lcg_error(err, r, "libcgroup: find the %s controller", controller);
	if (strcmp(mp, mount) != 0)
		return moat_error_set(err, 0,
				      "libcgroup sees the %s controller at %s, "
				      "/proc/self/mountinfo at %s",
				      controller, mp, mount);
	return 0;
}

/* Writes one control file with libcgroup; one value per call so that an error
 * names the file. */
static int lcg_set(const char *rel, const char *controller, const char *dir, const char *file,
		   const char *value, struct moat_error *err)
{
	struct cgroup *cg = cgroup_new_cgroup(rel);
	struct cgroup_controller *ctl = cg ? cgroup_add_controller(cg, controller) : NULL;
	int r = ctl ? cgroup_add_value_string(ctl, file, value) : ECGFAIL;

	if (r == 0)
		r = cgroup_modify_cgroup(cg);
	if (cg)
		cgroup_free(&cg);
	if (r)
		return lcg_error(err, r, "write %s in %s", file, dir);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Device rules and the cgroup2 devices program
 */

static const struct moat_dev_rule standard_devices[] = {
	{ 'c', 1, 3, "rwm" },		/* /dev/null */
	{ 'c', 1, 5, "rwm" },		/* /dev/zero */
	{ 'c', 1, 7, "rwm" },		/* /dev/full */
	{ 'c', 1, 8, "rwm" },		/* /dev/random */
	{ 'c', 1, 9, "rwm" },		/* /dev/urandom */
	{ 'c', 5, 0, "rwm" },		/* /dev/tty */
	{ 'c', 5, 2, "rwm" },		/* /dev/ptmx */
	{ 'c', 136, MOAT_DEV_ANY, "rwm" }, /* /dev/pts/N */
};

static bool access_valid(const char *a)
{
	return *a && strspn(a, "rwm") == strlen(a) && strlen(a) <= 3;
}

int moat_cgroup_device_rules(const struct moat_policy *p, struct moat_dev_rule **ret,
			     size_t *ret_n, struct moat_error *err)
{
	_cleanup_free_ struct moat_dev_rule *rules = NULL;
	size_t n = ARRAY_SIZE(standard_devices);

	rules = malloc(MOAT_DEV_RULES_MAX * sizeof(*rules));
	if (!rules)
		return moat_error_errno(err, "device rules");
	memcpy(rules, standard_devices, sizeof(standard_devices));

	for (size_t i = 0; i < p->n_devices; i++) {
		const struct moat_device *d = &p->devices[i];
		glob_t g = { 0 };
		int r;

		if (strncmp(d->path, "/dev/", 5) != 0 || !access_valid(d->access))
			return moat_error_set(err, EINVAL, "device \"%s %s\": not /dev/... rwm",
					      d->path, d->access);
		r = glob(d->path, GLOB_ERR, NULL, &g);
		if (r == GLOB_NOMATCH) {
			globfree(&g);
			/* A pattern may match nothing (the hardware is absent); a
			 * named node must exist, as mount.c requires too. */
			if (strpbrk(d->path, "*?["))
				continue;
			return moat_error_set(err, ENOENT, "device %s", d->path);
		}
		if (r != 0) {
			globfree(&g);
			return moat_error_set(err, r == GLOB_NOSPACE ? ENOMEM : EIO,
					      "expand device %s", d->path);
		}
		for (size_t j = 0; j < g.gl_pathc; j++) {
			struct stat st;

			if (stat(g.gl_pathv[j], &st) < 0 ||
			    (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
				continue; /* directories like /dev/dri/by-path */
			if (n == MOAT_DEV_RULES_MAX) {
				globfree(&g);
				return moat_error_set(err, E2BIG,
						      "device %s: more than %d device rules",
						      d->path, MOAT_DEV_RULES_MAX);
			}
			rules[n].type = S_ISCHR(st.st_mode) ? 'c' : 'b';
			rules[n].major = major(st.st_rdev);
			rules[n].minor = minor(st.st_rdev);
			snprintf(rules[n].access, sizeof(rules[n].access), "%s", d->access);
			n++;
		}
		globfree(&g);
	}
	*ret = TAKE_PTR(rules);
	*ret_n = n;
	return 0;
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };

	return i;
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define MOV_REG(dst, src)    insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV_IMM(dst, imm)    insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define AND_IMM(dst, imm)    insn(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH_IMM(dst, imm)    insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define JNE_IMM(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define EXIT()		     insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * The program, for struct bpf_cgroup_dev_ctx in r1 (as systemd's and crun's):
 *   r2 = access_type >> 16 (BPF_DEVCG_ACC_*), r3 = access_type & 0xffff
 *   (BPF_DEVCG_DEV_*), r4 = major, r5 = minor; then per rule
 *   if r3 != TYPE goto next; [if r4 != MAJOR goto next;] [if r5 != MINOR goto next;]
 *   [if (r2 & ~ALLOWED) != 0 goto next;] return 1;
 * and finally return 0: anything no rule allows is denied.
 */
static size_t dev_prog_build(const struct moat_dev_rule *rules, size_t n, struct bpf_insn *out)
{
	size_t k = 0;

	out[k++] = LDX_W(BPF_REG_2, BPF_REG_1, 0);
	out[k++] = MOV_REG(BPF_REG_3, BPF_REG_2);
	out[k++] = AND_IMM(BPF_REG_3, 0xffff);
	out[k++] = RSH_IMM(BPF_REG_2, 16);
	out[k++] = LDX_W(BPF_REG_4, BPF_REG_1, 4);
	out[k++] = LDX_W(BPF_REG_5, BPF_REG_1, 8);
	for (size_t i = 0; i < n; i++) {
		const struct moat_dev_rule *r = &rules[i];
		int32_t acc = 0;
		size_t len, start = k;

		acc |= strchr(r->access, 'r') ? BPF_DEVCG_ACC_READ : 0;
		acc |= strchr(r->access, 'w') ? BPF_DEVCG_ACC_WRITE : 0;
		acc |= strchr(r->access, 'm') ? BPF_DEVCG_ACC_MKNOD : 0;
		bool all = acc == (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);

		len = 1 + (r->major != MOAT_DEV_ANY) + (r->minor != MOAT_DEV_ANY) + (all ? 0 : 3) + 2;
#define SKIP() ((int16_t)(len - (k - start) - 1)) /* to the first insn after this block */
		out[k] = JNE_IMM(BPF_REG_3, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK,
				 0);
		out[k].off = SKIP();
		k++;
		if (r->major != MOAT_DEV_ANY) {
			out[k] = JNE_IMM(BPF_REG_4, (int32_t)r->major, 0);
			out[k].off = SKIP();
			k++;
		}
		if (r->minor != MOAT_DEV_ANY) {
			out[k] = JNE_IMM(BPF_REG_5, (int32_t)r->minor, 0);
			out[k].off = SKIP();
			k++;
		}
		if (!all) {
			out[k++] = MOV_REG(BPF_REG_6, BPF_REG_2);
			out[k++] = AND_IMM(BPF_REG_6, ~acc);
			out[k] = JNE_IMM(BPF_REG_6, 0, 0);
			out[k].off = SKIP();
			k++;
		}
#undef SKIP
		out[k++] = MOV_IMM(BPF_REG_0, 1);
		out[k++] = EXIT();
	}
	out[k++] = MOV_IMM(BPF_REG_0, 0);
	out[k++] = EXIT();
	return k;
}

/*
 * BPF_PROG_LOAD itself, not libbpf's bpf_prog_load(): that probes the kernel
 * first, once per process, with two throwaway programs (memcg accounting of
 * BPF memory, program names), a quarter of a millisecond of every launch.
 * moat needs Linux 5.12 or later anyway, which has both.
 */
static int dev_prog_load(const struct bpf_insn *insns, size_t cnt, char *log, size_t log_size)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = (uint32_t)cnt;
	attr.license = (uintptr_t) "GPL";
	attr.log_buf = (uintptr_t)log;
	attr.log_size = (uint32_t)log_size;
	attr.log_level = log ? 1 : 0;
	snprintf(attr.prog_name, sizeof(attr.prog_name), "moat_devices");
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

/*
 * A program is kept pinned, as the other BPF objects are (bpf.h), under
 * MOAT_BPF_PIN_ROOT/devices-HASH/prog, HASH naming its instructions: the
 * next sandbox with the same allow-list attaches it without a load and a
 * verification. Best effort: without bpffs or the pin, the program is
 * loaded as if none had been.
 */
static int dev_prog_pin_path(const struct bpf_insn *insns, size_t cnt, char *dir, size_t dir_len,
			     char *pin, size_t pin_len)
{
	struct moat_error ignored;
	char hash[65];

	if (moat_sha256_hex(insns, cnt * sizeof(*insns), hash, &ignored) < 0)
		return -1;
	hash[12] = '\0';
	moat_bpf_pin_dir("devices", hash, dir, dir_len);
	snprintf(pin, pin_len, "%s/prog", dir);
	return 0;
}

static int dev_prog_open_pinned(const char *pin)
{
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(pin);

	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ||
	    info.type != BPF_PROG_TYPE_CGROUP_DEVICE) {
		close(fd);
		return -1;
	}
	return fd;
}

static void dev_prog_pin(int prog_fd, const char *dir, const char *pin)
{
	struct moat_error ignored;
	_cleanup_close_ int lock = -EBADF;

	if (moat_bpf_fs_ensure(&ignored) < 0)
		return;
	lock = moat_bpf_lock(&ignored);
	if (lock < 0)
		return;
	if ((mkdir(MOAT_BPF_PIN_ROOT, 0700) == 0 || errno == EEXIST) &&
	    (mkdir(dir, 0700) == 0 || errno == EEXIST))
		bpf_obj_pin(prog_fd, pin);
}

/* Loads the program, with the verifier's verdict in err when it is refused. */
static int dev_prog_load_checked(const struct bpf_insn *prog, size_t cnt, struct moat_error *err)
{
	const size_t log_size = 1 << 16;
	_cleanup_free_ char *log = NULL;
	int fd = dev_prog_load(prog, cnt, NULL, 0), saved;
	size_t len;

	if (fd >= 0)
		return fd;
	/* Load again with the verifier log, to show why. */
	saved = errno;
	log = calloc(1, log_size);
	fd = log ? dev_prog_load(prog, cnt, log, log_size) : -1;
	if (fd >= 0)
		return fd;
	/* The verdict is at the end of the log. */
	len = log ? strlen(log) : 0;
	return moat_error_set(err, saved, "load the devices BPF program (%zu insns)%s%s", cnt,
			      len ? ", verifier: ..." : "", log ? log + (len > 300 ? len - 300 : 0) : "");
}

int moat_cgroup_devices_bpf_attach(int cgroup_fd, const struct moat_dev_rule *rules, size_t n,
				   int *ret_link_fd, struct moat_error *err)
{
	_cleanup_free_ struct bpf_insn *prog = NULL;
	_cleanup_close_ int prog_fd = -EBADF;
	char dir[256], pin[sizeof(dir) + sizeof("/prog")] = "";
	int link_fd;
	size_t cnt;

	if (n > MOAT_DEV_RULES_MAX)
		return moat_error_set(err, E2BIG, "devices program: %zu rules", n);
	/* 6 header + 8 per rule at most + 2 trailer */
	prog = calloc(8 + 8 * n, sizeof(*prog));
	if (!prog)
		return moat_error_errno(err, "devices program");
	cnt = dev_prog_build(rules, n, prog);

	if (dev_prog_pin_path(prog, cnt, dir, sizeof(dir), pin, sizeof(pin)) == 0)
		prog_fd = dev_prog_open_pinned(pin);
	if (prog_fd < 0) {
		prog_fd = dev_prog_load_checked(prog, cnt, err);
		if (prog_fd < 0)
			return -1;
		if (pin[0])
			dev_prog_pin(prog_fd, dir, pin);
	}
	link_fd = bpf_link_create(prog_fd, cgroup_fd, BPF_CGROUP_DEVICE, NULL);
	if (link_fd < 0)
		return moat_error_errno(err, "attach the devices BPF program (link)");
	*ret_link_fd = link_fd;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Teardown, shared by destroy and gc
 */

struct td_dir {
	const char *path;
	bool v2;
};

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

/* Reads cgroup.procs into a malloc'd array. Missing directory: empty. */
static int read_procs(const char *dir, pid_t **ret, size_t *ret_n, struct moat_error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0, cap = 0;

	*ret = NULL;
	*ret_n = 0;
	if (read_cg_file(dir, "cgroup.procs", &text, err) < 0)
		return err->errnum == ENOENT ? 0 : -1;
	for (char *p = text, *end; *p; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (n == cap) {
			pid_t *np = realloc(pids, (cap = cap ? 2 * cap : 64) * sizeof(*pids));

			if (!np)
				return moat_error_errno(err, "read cgroup.procs in %s", dir);
			pids = np;
		}
		pids[n++] = (pid_t)v;
	}
	*ret = TAKE_PTR(pids);
	*ret_n = n;
	return 0;
}

static bool pid_listed(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/*
 * SIGKILLs every process listed in dir/cgroup.procs. Each pid is pinned with a
 * pidfd and signalled only if it is still a member after that: a pid read from
 * the file may have exited and been reused by a process outside the sandbox.
 */
static int kill_members(const char *dir, struct moat_error *err)
{
	_cleanup_free_ pid_t *pids = NULL, *again = NULL;
	_cleanup_free_ int *fds = NULL;
	size_t n = 0, n2 = 0;
	pid_t self = getpid();
	int r = 0;

	if (read_procs(dir, &pids, &n, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	fds = malloc(n * sizeof(*fds));
	if (!fds)
		return moat_error_errno(err, "kill processes in %s", dir);
	for (size_t i = 0; i < n; i++) {
		fds[i] = pids[i] > 1 && pids[i] != self ? pidfd_open_(pids[i]) : -EBADF;
		if (fds[i] < 0 && errno == ENOSYS && pids[i] > 1 && pids[i] != self)
			kill(pids[i], SIGKILL); /* kernel < 5.3: no pidfds, accept the race */
	}
	if (read_procs(dir, &again, &n2, err) < 0)
		r = -1;
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (r == 0 && pid_listed(again, n2, pids[i]))
			pidfd_kill(fds[i]);
		close(fds[i]);
	}
	return r;
}

/* Freezes (or thaws) a directory that can be frozen; waits up to 1 s for it. */
static void freeze(const struct td_dir *d, bool on)
{
	struct moat_error ignored;
	const char *file = d->v2 ? "cgroup.freeze" : "freezer.state";
	const char *value = d->v2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED");

	if (!cg_file_exists(d->path, file) || write_cg_file(d->path, file, value, &ignored) < 0 ||
	    !on)
		return;
	for (int i = 0; i < 100; i++) {
		_cleanup_free_ char *state = NULL;
		uint64_t frozen = 0;

		if (d->v2) {
			if (read_cg_file(d->path, "cgroup.events", &state, &ignored) < 0 ||
			    (keyed_value(state, "frozen", &frozen) && frozen == 1))
				return;
		} else if (read_cg_file(d->path, "freezer.state", &state, &ignored) < 0 ||
			   strncmp(state, "FROZEN", 6) == 0) {
			return;
		}
		sleep_ms(10);
	}
}

static int populated(const struct td_dir *dirs, size_t n, const char **ret_which,
		     struct moat_error *err)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t np = 0;

		if (read_procs(dirs[i].path, &pids, &np, err) < 0)
			return -1;
		if (np > 0) {
			*ret_which = dirs[i].path;
			return 1;
		}
	}
	return 0;
}

/* Kills every process in dirs and waits until all are empty (bounded). */
static int kill_all(const struct td_dir *dirs, size_t n, struct moat_error *err)
{
	uint64_t deadline = moat_boottime_ns() + MOAT_CGROUP_KILL_TIMEOUT_MS * 1000000ull;
	const char *which = NULL;

	for (unsigned round = 0;; round++) {
		bool killed_by_kernel = false;
		int r = populated(dirs, n, &which, err);

		if (r <= 0)
			return r;
		if (moat_boottime_ns() > deadline)
			return moat_error_set(err, EBUSY, "processes remain in %s after %d ms",
					      which, MOAT_CGROUP_KILL_TIMEOUT_MS);
		/* cgroup.kill (5.14+) kills the whole subtree atomically, forks included. */
		for (size_t i = 0; i < n; i++) {
			struct moat_error ignored;

			if (dirs[i].v2 && cg_file_exists(dirs[i].path, "cgroup.kill") &&
			    write_cg_file(dirs[i].path, "cgroup.kill", "1", &ignored) == 0)
				killed_by_kernel = true;
		}
		/* Otherwise (or for members cgroup.kill missed: a task that entered
		 * only v1 hierarchies) freeze so that nothing forks while we read
		 * the lists, kill each member, thaw so that the kills land. */
		if (!killed_by_kernel || round >= 3) {
			for (size_t i = 0; i < n; i++)
				freeze(&dirs[i], true);
			for (size_t i = 0; i < n; i++)
				if (kill_members(dirs[i].path, err) < 0)
					return -1;
			for (size_t i = 0; i < n; i++)
				freeze(&dirs[i], false);
		}
		sleep_ms(round < 10 ? 5 : 20);
	}
}

/* A directory moat made: absolute, no "." or ".." or empty component, and its
 * parent is named MOAT_CGROUP_PARENT: gc never removes anything else. */
static bool moat_shaped(const char *path)
{
	const char *base = strrchr(path, '/'), *pstart;
	size_t plen = strlen(MOAT_CGROUP_PARENT);

	if (path[0] != '/' || !base || strstr(path, "//") || strstr(path, "/./") ||
	    strstr(path, "/../") || strcmp(base, "/") == 0 || strcmp(base, "/.") == 0 ||
	    strcmp(base, "/..") == 0)
		return false;
	for (pstart = base; pstart > path && pstart[-1] != '/'; pstart--)
		;
	return pstart > path && (size_t)(base - pstart) == plen &&
	       strncmp(pstart, MOAT_CGROUP_PARENT, plen) == 0;
}

/* 1 when path is on a cgroup filesystem (*ret_v2: cgroup2), 0 when it is
 * not, -errno when statfs fails. */
static int on_cgroupfs(const char *path, bool *ret_v2)
{
	struct statfs sfs;

	if (statfs(path, &sfs) < 0)
		return -errno;
	if (ret_v2)
		*ret_v2 = sfs.f_type == CGROUP2_SUPER_MAGIC;
	return sfs.f_type == CGROUP2_SUPER_MAGIC || sfs.f_type == CGROUP_SUPER_MAGIC;
}

/* rmdir, retried while a just-emptied v1 hierarchy still reports EBUSY. */
static int remove_emptied(const char *path, struct moat_error *err)
{
	for (int tries = 0; rmdir(path) < 0 && errno != ENOENT; tries++) {
		if (errno != EBUSY || tries >= 50)
			return moat_error_errno(err, "rmdir %s", path);
		sleep_ms(10);
	}
	return 0;
}

static int teardown(const struct moat_strv *paths, struct moat_error *err)
{
	_cleanup_free_ struct td_dir *dirs = calloc(paths->n + 1, sizeof(*dirs));
	size_t n = 0;
	int r = 0;

	if (!dirs)
		return moat_error_errno(err, "remove cgroups");
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];
		int kind;

		if (!moat_shaped(p))
			return moat_error_set(err, EINVAL,
					      "refusing to remove %s: not a .../" MOAT_CGROUP_PARENT
					      "/NAME cgroup",
					      p);
		kind = on_cgroupfs(p, &dirs[n].v2);
		if (kind == -ENOENT)
			continue; /* already removed: teardown is idempotent */
		if (kind < 0)
			return moat_error_set(err, -kind, "remove cgroup %s", p);
		if (kind == 0)
			return moat_error_set(err, EINVAL, "refusing to remove %s: not a cgroup", p);
		/* Empty, as after every sandbox whose PID namespace died with its
		 * init, the group goes at once; the rest are emptied first. */
		if (rmdir(p) == 0 || errno == ENOENT)
			continue;
		dirs[n++].path = p;
	}
	if (kill_all(dirs, n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct moat_error ignored; /* the first error is the one reported */

		if (remove_emptied(dirs[i].path, r == 0 ? err : &ignored) < 0)
			r = -1;
	}
	/* The shared parent goes when its last sandbox does; EBUSY/ENOTEMPTY just
	 * means another sandbox still lives there. */
	for (size_t i = 0; i < paths->n; i++) {
		_cleanup_free_ char *parent = parent_of(paths->v[i]);

		if (!parent)
			continue;
		if (on_cgroupfs(parent, NULL) <= 0)
			continue; /* gone, or a path that was never ours */
		if (rmdir(parent) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY &&
		    r == 0)
			r = moat_error_errno(err, "rmdir %s", parent);
	}
	return r;
}

int moat_cgroup_destroy_paths(const struct moat_strv *paths, struct moat_error *err)
{
	return teardown(paths, err);
}

/* ---------------------------------------------------------------------------
 * Public API
 */

void moat_cgroup_free(struct moat_cgroup *cg)
{
	if (!cg)
		return;
	moat_closep(&cg->dev_link_fd);
	moat_closep(&cg->v2_fd);
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
		free(cg->v1_path[c]);
		free(cg->v1_rel[c]);
		free(cg->v1_mount[c]);
		free(cg->v1_dir[c]);
	}
	free(cg->v2_path);
	free(cg->v2_rel);
	free(cg->name);
	free(cg->dev_rules);
	moat_cgroup_layout_clear(&cg->layout);
	free(cg);
}

int moat_cgroup_v2_fd(const struct moat_cgroup *cg)
{
	return cg->v2_fd;
}

const char *moat_cgroup_v2_path(const struct moat_cgroup *cg)
{
	return cg->v2_path;
}

int moat_cgroup_paths(const struct moat_cgroup *cg, struct moat_strv *ret)
{
	if (cg->v2_path && moat_strv_push(ret, cg->v2_path) < 0)
		return -1;
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
		if (cg->v1_path[c] && moat_strv_push(ret, cg->v1_path[c]) < 0)
			return -1;
	return 0;
}

int moat_cgroup_destroy(struct moat_cgroup *cg, struct moat_error *err)
{
	_cleanup_(strv_clearp) struct moat_strv paths = { 0 };
	int r;

	if (!cg)
		return 0;
	if (moat_cgroup_paths(cg, &paths) < 0) {
		r = moat_error_errno(err, "remove cgroups of %s", cg->name);
	} else {
		r = teardown(&paths, err);
		if (r < 0)
			moat_error_prefix(err, "remove cgroups of %s", cg->name);
	}
	/* Frees the devices link too: only now, with the processes gone. */
	moat_cgroup_free(cg);
	return r;
}

int moat_cgroup_oom_kills(const struct moat_cgroup *cg, uint64_t *ret)
{
	struct moat_error ignored;
	_cleanup_free_ char *text = NULL;
	const char *dir = cg->mode == MOAT_CGROUP_HYBRID ? cg->v1_path[MOAT_CG_MEMORY] : cg->v2_path;
	const char *file = cg->mode == MOAT_CGROUP_HYBRID ? "memory.oom_control" : "memory.events";

	*ret = 0;
	if (!dir || !cg_file_exists(dir, file))
		return 0; /* no memory controller: nothing was counted */
	if (read_cg_file(dir, file, &text, &ignored) < 0) {
		errno = ignored.errnum;
		return -1;
	}
	keyed_value(text, "oom_kill", ret);
	return 0;
}

int moat_cgroup_enter_v2(const struct moat_cgroup *cg, pid_t pid, struct moat_error *err)
{
	char buf[32];

	/* Direct: libcgroup reaches cgroup2 only through an enabled controller. */
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (write_cg_file(cg->v2_path, "cgroup.procs", buf, err) < 0)
		return moat_error_prefix(err, "move %d into %s", (int)pid, cg->v2_path);
	return 0;
}

int moat_cgroup_v1_open(const struct moat_cgroup *cg, int fds[MOAT_CG_V1_COUNT],
			struct moat_error *err)
{
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
		fds[c] = -EBADF;
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
		if (!cg->v1_path[c])
			continue;
		fds[c] = open(cg->v1_dir[c], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fds[c] < 0) {
			moat_error_errno(err, "open %s", cg->v1_dir[c]);
			moat_cgroup_v1_close(fds);
			return -1;
		}
	}
	return 0;
}

void moat_cgroup_v1_close(int fds[MOAT_CG_V1_COUNT])
{
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
		moat_closep(&fds[c]);
}

int moat_cgroup_join_v1_self(const struct moat_cgroup *cg, const int fds[MOAT_CG_V1_COUNT],
			     struct moat_error *err)
{
	char tasks[MOAT_NAME_MAX + sizeof(MOAT_CGROUP_PARENT "//tasks")];

	snprintf(tasks, sizeof(tasks), "%s/%s/tasks", MOAT_CGROUP_PARENT, cg->name);
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
		_cleanup_close_ int fd = -EBADF;

		if (fds[c] < 0)
			continue;
		/* Below the hierarchy's own mount, which the fd keeps reachable
		 * after pivot_root: no mount to cross. */
		fd = openat(fds[c], tasks, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || moat_write_all(fd, "0", 1) < 0)
			return moat_error_errno(err, "write tasks in %s", cg->v1_path[c]);
	}
	return 0;
}

/* --- creation --------------------------------------------------------------- */

/* mkdir path's parent moat/ (shared, may exist) then path, .../moat/NAME
 * (must not exist). */
static int mkdir_sandbox(const char *path, struct moat_error *err)
{
	_cleanup_free_ char *parent = parent_of(path);

	if (!parent)
		return moat_error_errno(err, "mkdir %s", path);
	/* Another sandbox's teardown may remove the empty parent between our two
	 * mkdirs: try again a few times. */
	for (int tries = 0;; tries++) {
		if (mkdir(parent, 0755) < 0 && errno != EEXIST)
			return moat_error_errno(err, "mkdir %s", parent);
		if (mkdir(path, 0755) == 0)
			break;
		if (errno == EEXIST)
			return moat_error_set(err, EEXIST,
					      "cgroup %s exists (a dead sandbox's? try 'moat gc')",
					      path);
		if (errno != ENOENT || tries == 3) {
			moat_error_errno(err, "mkdir %s", path);
			rmdir(parent); /* ours if it is empty; another sandbox's otherwise */
			return -1;
		}
	}
	return 0;
}

/* unified: makes ctrl available to children of dir (writes cgroup.subtree_control
 * directly: libcgroup would start at the mount root, above our own cgroup). */
static int v2_delegate(const char *dir, const char *ctrl, bool required, struct moat_error *err)
{
	_cleanup_free_ char *avail = NULL, *enabled = NULL;
	char buf[32];

	if (read_cg_file(dir, "cgroup.controllers", &avail, err) < 0 ||
	    read_cg_file(dir, "cgroup.subtree_control", &enabled, err) < 0)
		return -1;
	if (word_in(enabled, ctrl))
		return 0;
	if (!word_in(avail, ctrl)) {
		if (!required)
			return 1;
		return moat_error_set(err, ENODEV,
				      "the %s controller is not available in %s "
				      "(not delegated to this cgroup)",
				      ctrl, dir);
	}
	snprintf(buf, sizeof(buf), "+%s", ctrl);
	if (write_cg_file(dir, "cgroup.subtree_control", buf, err) < 0) {
		if (!required)
			return 1;
		if (err->errnum == EBUSY)
			moat_error_prefix(err,
					  "%s holds processes, so cgroup2 forbids enabling "
					  "controllers for its children; run moat from a cgroup "
					  "of its own (e.g. systemd-run -p Delegate=yes --scope)",
					  dir);
		return -1;
	}
	return 0;
}

/* CPU time per CPU_PERIOD_US for p's cpus, at least the kernel's 1 ms minimum. */
static uint64_t cpu_quota_us(const struct moat_policy *p)
{
	uint64_t quota = (uint64_t)p->cpus_milli * CPU_PERIOD_US / 1000;

	return quota < CPU_QUOTA_MIN_US ? CPU_QUOTA_MIN_US : quota;
}

static int apply_limits_v1(struct moat_cgroup *cg, const struct moat_policy *p,
			   struct moat_error *err)
{
	char buf[64];
	const char *dir;

#define SET(c, file, value) lcg_set(cg->v1_rel[c], v1_names[c], cg->v1_path[c], file, value, err)
	if (p->memory) {
		dir = cg->v1_path[MOAT_CG_MEMORY];
		snprintf(buf, sizeof(buf), "%" PRIu64, p->memory);
		/* limit_in_bytes first: memsw may never be below it. */
		if (SET(MOAT_CG_MEMORY, "memory.limit_in_bytes", buf) < 0)
			return -1;
		if (cg_file_exists(dir, "memory.memsw.limit_in_bytes")) {
			if (SET(MOAT_CG_MEMORY, "memory.memsw.limit_in_bytes", buf) < 0)
				return -1;
		} else if (swap_active()) {
			return moat_error_set(err, ENOTSUP,
					      "swap is on but %s has no memory.memsw.limit_in_bytes: "
					      "the memory limit cannot cover swap (boot with "
					      "swapaccount=1)",
					      dir);
		}
	}
	if (p->cpus_milli) {
		uint64_t quota = cpu_quota_us(p);

		snprintf(buf, sizeof(buf), "%d", CPU_PERIOD_US);
		if (SET(MOAT_CG_CPU, "cpu.cfs_period_us", buf) < 0)
			return -1;
		snprintf(buf, sizeof(buf), "%" PRIu64, quota);
		if (SET(MOAT_CG_CPU, "cpu.cfs_quota_us", buf) < 0)
			return -1;
	}
	if (p->pids) {
		snprintf(buf, sizeof(buf), "%" PRIu64, p->pids);
		if (SET(MOAT_CG_PIDS, "pids.max", buf) < 0)
			return -1;
	}
#undef SET
	return 0;
}

/* The device allow-list, on either layout: cgroup2 has no devices controller,
 * its equivalent is a BPF program on the cgroup2 directory, which the kernel
 * also runs for a hybrid host's tasks (their cgroup2 directory is where cgroup
 * BPF programs attach), so the v1 devices hierarchy is not needed. */
static int apply_devices_bpf(struct moat_cgroup *cg, const struct moat_dev_rule *rules,
			     size_t n_rules, struct moat_error *err)
{
	if (moat_cgroup_devices_bpf_attach(cg->v2_fd, rules, n_rules, &cg->dev_link_fd, err) < 0)
		return moat_error_prefix(err, "%s", cg->v2_path);
	return 0;
}

static int apply_limits_v2(struct moat_cgroup *cg, const struct moat_policy *p,
			   const struct moat_dev_rule *rules, size_t n_rules, struct moat_error *err)
{
	char buf[64];

#define SET(c, file, value) lcg_set(cg->v2_rel, v1_names[c], cg->v2_path, file, value, err)
	if (p->memory) {
		snprintf(buf, sizeof(buf), "%" PRIu64, p->memory);
		if (SET(MOAT_CG_MEMORY, "memory.max", buf) < 0)
			return -1;
		if (cg_file_exists(cg->v2_path, "memory.swap.max")) {
			if (SET(MOAT_CG_MEMORY, "memory.swap.max", "0") < 0)
				return -1;
		} else if (swap_active()) {
			return moat_error_set(err, ENOTSUP,
					      "swap is on but %s has no memory.swap.max: the memory "
					      "limit cannot cover swap (boot with swapaccount=1)",
					      cg->v2_path);
		}
	}
	if (p->cpus_milli) {
		snprintf(buf, sizeof(buf), "%" PRIu64 " %d", cpu_quota_us(p), CPU_PERIOD_US);
		if (SET(MOAT_CG_CPU, "cpu.max", buf) < 0)
			return -1;
	}
	if (p->pids) {
		snprintf(buf, sizeof(buf), "%" PRIu64, p->pids);
		if (SET(MOAT_CG_PIDS, "pids.max", buf) < 0)
			return -1;
	}
#undef SET
	return apply_devices_bpf(cg, rules, n_rules, err);
}

/* Which controllers p's limits need (cgroup2 or v1 alike). */
static void limits_required(const struct moat_policy *p, bool required[MOAT_CG_V1_COUNT])
{
	required[MOAT_CG_MEMORY] = p->memory != 0;
	required[MOAT_CG_CPU] = p->cpus_milli != 0;
	required[MOAT_CG_PIDS] = p->pids != 0;
}

static int create_unified(struct moat_cgroup *cg, const struct moat_cgroup_layout *l,
			  const struct moat_policy *p, struct moat_error *err)
{
	_cleanup_free_ char *parent = path_join(l->v2.dir, MOAT_CGROUP_PARENT);
	bool required[MOAT_CG_V1_COUNT] = { 0 }, want[MOAT_CG_V1_COUNT] = { 0 };

	limits_required(p, required);
	if (!parent)
		return moat_error_errno(err, "create cgroup");
	/* memory also without a limit, when libcgroup is up and it is delegated:
	 * memory.events counts OOM kills for the report. */
	want[MOAT_CG_MEMORY] = p->memory || p->cpus_milli || p->pids;
	want[MOAT_CG_CPU] = required[MOAT_CG_CPU];
	want[MOAT_CG_PIDS] = required[MOAT_CG_PIDS];

	for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
		int r;

		if (!want[c])
			continue;
		r = v2_delegate(l->v2.dir, v1_names[c], required[c], err);
		if (r < 0)
			return -1;
		cg->v2_ctrl[c] = r == 0;
	}
	if (mkdir_sandbox(cg->v2_path, err) < 0)
		return -1;
	cg->v2_made = true;
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
		int r;

		if (!cg->v2_ctrl[c])
			continue;
		r = v2_delegate(parent, v1_names[c], required[c], err);
		if (r < 0)
			return -1;
		cg->v2_ctrl[c] = r == 0;
		if (required[c] && lcg_check_mount(v1_names[c], l->v2.mount, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * Hybrid: the names of the v1 groups, which moat_cgroup_create_v1 makes.
 * Knowing them now, init can join them later and the state records them
 * before they exist (gc skips a missing one).
 */
static int name_v1(struct moat_cgroup *cg, const struct moat_cgroup_layout *l,
		   const struct moat_policy *p, struct moat_error *err)
{
	bool required[MOAT_CG_V1_COUNT] = { 0 };

	limits_required(p, required);
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++) {
		const struct moat_cgroup_hier *h = &l->v1[c];

		if (!required[c])
			continue;
		if (!h->mount)
			return moat_error_set(err, ENODEV,
					      "the %s controller is not mounted (hybrid cgroup layout)",
					      v1_names[c]);
		cg->v1_mount[c] = strdup(h->mount);
		cg->v1_dir[c] = strdup(h->dir);
		cg->v1_path[c] = moat_strdup_printf("%s/%s/%s", h->dir, MOAT_CGROUP_PARENT, cg->name);
		cg->v1_rel[c] = moat_strdup_printf("%s%s%s/%s", h->rel, *h->rel ? "/" : "",
						   MOAT_CGROUP_PARENT, cg->name);
		if (!cg->v1_mount[c] || !cg->v1_dir[c] || !cg->v1_path[c] || !cg->v1_rel[c])
			return moat_error_errno(err, "create cgroup");
	}
	return 0;
}

/* Hybrid, before clone: the cgroup2 directory. Direct mkdir: libcgroup 2.0
 * cannot create a cgroup2 directory without a cgroup2 controller, and
 * hybrid hosts have none for us. */
static int create_hybrid(struct moat_cgroup *cg, struct moat_error *err)
{
	if (mkdir_sandbox(cg->v2_path, err) < 0)
		return -1;
	cg->v2_made = true;
	return 0;
}

/* Drops the v1 names from the first controller on: teardown must not
 * remove what is not ours. */
static void forget_v1(struct moat_cgroup *cg, int first)
{
	for (int c = first; c < MOAT_CG_V1_COUNT; c++) {
		free(cg->v1_path[c]);
		free(cg->v1_rel[c]);
		cg->v1_path[c] = cg->v1_rel[c] = NULL;
	}
}

/* Creates one v1 group of create_hybrid's; on failure it is left only if it
 * is ours (made by us, possibly before libcgroup failed). */
static int create_v1_group(struct moat_cgroup *cg, int c, struct moat_error *err)
{
	_cleanup_free_ char *parent = NULL;
	struct cgroup *g;
	int r;

	if (lcg_check_mount(v1_names[c], cg->v1_mount[c], err) < 0)
		goto not_ours;
	/* libcgroup's mkdir -p accepts an existing group: refuse it ourselves. */
	if (access(cg->v1_path[c], F_OK) == 0) {
		moat_error_set(err, EEXIST, "cgroup %s exists (a dead sandbox's? try 'moat gc')",
			       cg->v1_path[c]);
		goto not_ours;
	}
	g = cgroup_new_cgroup(cg->v1_rel[c]);
	r = g && cgroup_add_controller(g, v1_names[c]) ? 0 : ECGFAIL;
	if (r == 0)
		r = cgroup_create_cgroup(g, 1 /* keep root ownership */);
	if (g)
		cgroup_free(&g);
	if (r == 0)
		return 0;
	lcg_error(err, r, "create cgroup %s", cg->v1_path[c]);
	if (access(cg->v1_path[c], F_OK) == 0)
		return -1; /* made before libcgroup failed: teardown removes it */
	/* libcgroup's mkdir -p may have made moat/ before failing: removed
	 * unless shared (then rmdir fails, harmlessly). */
	parent = parent_of(cg->v1_path[c]);
	if (parent)
		rmdir(parent);
not_ours:
	forget_v1(cg, c);
	return -1;
}

int moat_cgroup_new(const char *name, const struct moat_policy *p, struct moat_cgroup **ret,
		    struct moat_error *err)
{
	_cleanup_(cgroup_freep) struct moat_cgroup *cg = NULL;
	const struct moat_cgroup_layout *l;

	if (!moat_name_valid(name))
		return moat_error_set(err, EINVAL, "bad sandbox name \"%s\"", name);
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return moat_error_errno(err, "create cgroup");
	cg->v2_fd = cg->dev_link_fd = -EBADF;
	l = &cg->layout;
	if (layout_detect(&cg->layout, err) < 0 ||
	    moat_cgroup_device_rules(p, &cg->dev_rules, &cg->n_dev_rules, err) < 0)
		return -1;
	/* cgroup_init() fails on a cgroup2 host that delegates no controller to
	 * us; that only matters when there is a limit to write. Hybrid hosts
	 * write theirs in moat_cgroup_create_v1. */
	if (l->mode == MOAT_CGROUP_UNIFIED && (p->memory || p->cpus_milli || p->pids) &&
	    lcg_init(err) < 0)
		return -1;
	cg->mode = l->mode;
	cg->name = strdup(name);
	cg->v2_path = moat_strdup_printf("%s/%s/%s", l->v2.dir, MOAT_CGROUP_PARENT, name);
	cg->v2_rel = moat_strdup_printf("%s%s%s/%s", l->v2.rel, *l->v2.rel ? "/" : "",
					MOAT_CGROUP_PARENT, name);
	if (!cg->name || !cg->v2_path || !cg->v2_rel)
		return moat_error_errno(err, "create cgroup");
	if (l->mode == MOAT_CGROUP_HYBRID && name_v1(cg, l, p, err) < 0)
		return -1;
	*ret = TAKE_PTR(cg);
	return 0;
}

int moat_cgroup_create(struct moat_cgroup *cg, const struct moat_policy *p,
		       struct moat_error *err)
{
	int r;

	r = cg->mode == MOAT_CGROUP_UNIFIED ? create_unified(cg, &cg->layout, p, err)
					    : create_hybrid(cg, err);
	if (r == 0) {
		cg->v2_fd = open(cg->v2_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg->v2_fd < 0)
			r = moat_error_errno(err, "open %s", cg->v2_path);
	}
	/* Limits before any task joins: there is no window without them. */
	if (r == 0 && cg->mode == MOAT_CGROUP_UNIFIED)
		r = apply_limits_v2(cg, p, cg->dev_rules, cg->n_dev_rules, err);
	else if (r == 0)
		r = apply_devices_bpf(cg, cg->dev_rules, cg->n_dev_rules, err);
	if (r < 0) {
		_cleanup_(strv_clearp) struct moat_strv paths = { 0 };
		struct moat_error ignored;

		/* Nothing left behind: remove what we made (keeping the first
		 * error), which is no v1 group yet, and forget the names of what
		 * we did not make (an existing moat/NAME stays, for `moat gc`). */
		forget_v1(cg, 0);
		if (!cg->v2_made) {
			free(cg->v2_path);
			cg->v2_path = NULL;
		}
		if (moat_cgroup_paths(cg, &paths) == 0)
			teardown(&paths, &ignored);
		free(cg->v2_path);
		cg->v2_path = NULL;
		return -1;
	}
	return 0;
}

int moat_cgroup_create_v1(struct moat_cgroup *cg, const struct moat_policy *p,
			  struct moat_error *err)
{
	bool any = false;

	for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
		any |= cg->v1_path[c] != NULL;
	if (cg->mode != MOAT_CGROUP_HYBRID || !any)
		return 0;
	if (lcg_init(err) < 0)
		return -1;
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
		if (cg->v1_path[c] && create_v1_group(cg, c, err) < 0) {
			forget_v1(cg, c + 1); /* not made: a name's leftover stays gc's */
			return -1;
		}
	return apply_limits_v1(cg, p, err);
}
