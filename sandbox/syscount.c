// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <seccomp.h>

#include "bpf.h"
#include "syscount.h"
#include "syscount.hash.h"
#include "syscount.skel.h"
#include "util.h"

#define FEATURE "syscount"

/* Pin names are a contract between moat versions: unregistering, reading
 * and gc open an older version's directory by these names. Programs are
 * pinned under their own names, their links under link_TRACEPOINT. */
#define PIN_INDEX    "moat_sc_index"
#define PIN_COUNTS   "moat_sc_counts"
#define PIN_GEN	     "moat_sc_gen"
#define PIN_LINK_SYS "link_sys_enter" /* pinned: the counter is attached */

static const struct sc_prog {
	const char *name;
	const char *tracepoint;
	const char *link; /* the pin of its link */
} progs[] = {
    /* The counter last: it trusts its per-CPU cache only while the
     * programs that invalidate it run. Detached in reverse. */
    {"handle_exit", "sched_process_exit", "link_sched_process_exit"},
    {"handle_attach", "cgroup_attach_task", "link_cgroup_attach_task"},
    {"handle_sysenter", "sys_enter", PIN_LINK_SYS},
};
#define N_PROGS	  ARRAY_SIZE(progs)
#define PROG_LAST (N_PROGS - 1) /* pinned last when loading: the directory is complete */

/* The counters are preallocated for every slot on every possible CPU, 4 KiB
 * each: as many slots as fit in this, but at least SLOTS_MIN. */
#define COUNTERS_MEM_MAX (64UL << 20)
#define SLOTS_MIN	 16

#define PIN_PATH_MAX 256

struct moat_syscount {
	uint64_t cgroup_id;
};

/* One pinned version's maps, its index (and, writable, its generation)
 * mapped into this process. Sizes are read from the maps: an older
 * version's may differ from this build's. */
struct sc_maps {
	int index_fd, counts_fd, gen_fd;
	struct moat_sc_entry *index;
	size_t index_len; /* bytes mapped */
	uint64_t *gen;
	uint32_t n_entries;
	unsigned int bucket_bits;
	uint32_t n_slots;
	uint32_t value_size; /* of one slot's counters on one CPU */
};

static int pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* This build's pin directory. */
static void pin_dir_of_build(char *buf, size_t len)
{
	moat_bpf_pin_dir(FEATURE, MOAT_SYSCOUNT_BPF_HASH, buf, len);
}

/* Opens dir/name: 1 and *ret_fd when it is pinned, 0 when it is not, -1. */
static int open_pin(const char *dir, const char *name, int *ret_fd, struct moat_error *err)
{
	char path[PIN_PATH_MAX];
	int fd;

	*ret_fd = -EBADF;
	if (pin_path(path, sizeof(path), dir, name) < 0)
		return moat_error_set(err, ENAMETOOLONG, "pin path %s", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : moat_error_errno(err, "open pinned %s", path);
	*ret_fd = fd;
	return 1;
}

/* Whether dir/name exists, without opening it: a link fd held by this
 * process, even for a moment, would keep the link attached. */
static int pin_exists(const char *dir, const char *name, struct moat_error *err)
{
	char path[PIN_PATH_MAX];
	struct stat st;

	if (pin_path(path, sizeof(path), dir, name) < 0)
		return moat_error_set(err, ENAMETOOLONG, "pin path %s", dir);
	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : moat_error_errno(err, "stat %s", path);
}

/* ---- the maps of one version ----------------------------------------------------- */

static void maps_close(struct sc_maps *m)
{
	if (m->index)
		munmap(m->index, m->index_len);
	if (m->gen)
		munmap(m->gen, sizeof(*m->gen));
	moat_closep(&m->index_fd);
	moat_closep(&m->counts_fd);
	moat_closep(&m->gen_fd);
	*m = (struct sc_maps){.index_fd = -EBADF, .counts_fd = -EBADF, .gen_fd = -EBADF};
}

static int map_info(int fd, struct bpf_map_info *info, const char *dir, const char *name,
		    struct moat_error *err)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len) < 0)
		return moat_error_errno(err, "inspect %s/%s", dir, name);
	return 0;
}

/* Opens dir's maps and maps the index, and for the holder of the load lock
 * (writable) also the generation: 1, 0 when they are not pinned, -1. */
static int maps_open(const char *dir, bool writable, struct sc_maps *m, struct moat_error *err)
{
	struct bpf_map_info info;
	uint32_t buckets;
	void *p;
	int r;

	*m = (struct sc_maps){.index_fd = -EBADF, .counts_fd = -EBADF, .gen_fd = -EBADF};
	r = open_pin(dir, PIN_INDEX, &m->index_fd, err);
	if (r > 0)
		r = open_pin(dir, PIN_COUNTS, &m->counts_fd, err);
	if (r > 0)
		r = open_pin(dir, PIN_GEN, &m->gen_fd, err);
	if (r <= 0)
		goto fail;
	r = -1;
	if (map_info(m->index_fd, &info, dir, PIN_INDEX, err) < 0)
		goto fail;
	buckets = info.max_entries / MOAT_SC_WAYS;
	if (info.value_size != sizeof(struct moat_sc_entry) || buckets < 2 ||
	    (buckets & (buckets - 1)) || buckets * MOAT_SC_WAYS != info.max_entries) {
		moat_error_set(err, EPROTO, "%s/%s: not a syscount index", dir, PIN_INDEX);
		goto fail;
	}
	m->n_entries = info.max_entries;
	m->bucket_bits = (unsigned int)__builtin_ctz(buckets);
	if (map_info(m->counts_fd, &info, dir, PIN_COUNTS, err) < 0)
		goto fail;
	m->n_slots = info.max_entries;
	m->value_size = info.value_size;
	m->index_len = (size_t)m->n_entries * sizeof(struct moat_sc_entry);
	p = mmap(NULL, m->index_len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED,
		 m->index_fd, 0);
	if (p == MAP_FAILED) {
		moat_error_errno(err, "map %s/%s", dir, PIN_INDEX);
		goto fail;
	}
	m->index = p;
	if (writable) {
		p = mmap(NULL, sizeof(*m->gen), PROT_READ | PROT_WRITE, MAP_SHARED, m->gen_fd, 0);
		if (p == MAP_FAILED) {
			moat_error_errno(err, "map %s/%s", dir, PIN_GEN);
			goto fail;
		}
		m->gen = p;
	}
	return 1;
fail:
	maps_close(m);
	return r;
}

static struct moat_sc_entry *bucket(const struct sc_maps *m, uint64_t cgroup_id)
{
	uint64_t b = (cgroup_id * MOAT_SC_HASH_MUL) >> (64 - m->bucket_bits);

	return &m->index[b * MOAT_SC_WAYS];
}

/* The entry of cgroup_id, or NULL. Never a free entry: 0 is no id. */
static struct moat_sc_entry *find_entry(const struct sc_maps *m, uint64_t cgroup_id)
{
	struct moat_sc_entry *b = bucket(m, cgroup_id);

	if (cgroup_id == 0)
		return NULL;
	for (int i = 0; i < MOAT_SC_WAYS; i++)
		if (__atomic_load_n(&b[i].cgroup_id, __ATOMIC_ACQUIRE) == cgroup_id)
			return &b[i];
	return NULL;
}

static size_t n_registered(const struct sc_maps *m)
{
	size_t n = 0;

	for (uint32_t i = 0; i < m->n_entries; i++)
		n += __atomic_load_n(&m->index[i].cgroup_id, __ATOMIC_RELAXED) != 0;
	return n;
}

/* After every change of the index: the programs' per-CPU caches hold
 * answers of the old generation, which they no longer trust. */
static void bump_generation(const struct sc_maps *m)
{
	__atomic_fetch_add(m->gen, 1, __ATOMIC_SEQ_CST);
}

/* The lowest slot no entry uses, or n_slots. */
static uint32_t free_slot(const struct sc_maps *m)
{
	_cleanup_free_ bool *used = calloc(m->n_slots, sizeof(*used));
	uint32_t s;

	if (!used)
		return m->n_slots;
	for (uint32_t i = 0; i < m->n_entries; i++)
		if (m->index[i].cgroup_id && m->index[i].slot < m->n_slots)
			used[m->index[i].slot] = true;
	for (s = 0; s < m->n_slots && used[s]; s++)
		;
	return s;
}

static int zero_counters(const struct sc_maps *m, uint32_t slot, struct moat_error *err)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ void *zero = NULL;

	if (ncpu <= 0)
		return moat_error_set(err, -ncpu, "count possible CPUs");
	zero = calloc((size_t)ncpu, ((size_t)m->value_size + 7) & ~(size_t)7);
	if (!zero)
		return moat_error_errno(err, "syscall counters");
	if (bpf_map_update_elem(m->counts_fd, &slot, zero, BPF_ANY) < 0)
		return moat_error_errno(err, "zero the syscall counters of slot %" PRIu32, slot);
	return 0;
}

/* ---- every pinned version --------------------------------------------------------- */

typedef int (*version_fn)(const char *dir, void *data, struct moat_error *err);

/* Calls fn on every pinned version's directory until it returns nonzero,
 * and returns that; 0 when fn returned 0 for all, or there are none. */
static int for_each_version(version_fn fn, void *data, struct moat_error *err)
{
	DIR *d = opendir(MOAT_BPF_PIN_ROOT);
	struct dirent *e;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : moat_error_errno(err, "open %s", MOAT_BPF_PIN_ROOT);
	while (r == 0 && (e = readdir(d))) {
		char dir[PIN_PATH_MAX];

		if (strncmp(e->d_name, FEATURE "-", strlen(FEATURE "-")) != 0)
			continue;
		if (pin_path(dir, sizeof(dir), MOAT_BPF_PIN_ROOT, e->d_name) < 0)
			continue;
		r = fn(dir, data, err);
	}
	closedir(d);
	return r;
}

static int found(const char *dir, void *data, struct moat_error *err)
{
	(void)dir;
	(void)data;
	(void)err;
	return 1;
}

/* Takes the load lock when some version is pinned. The paths that must
 * create nothing (gc, status) get *ret_none and -EBADF when none is. */
static int lock_if_pinned(bool *ret_none, struct moat_error *err)
{
	int r = for_each_version(found, NULL, err);

	*ret_none = r == 0;
	if (r <= 0)
		return r < 0 ? -1 : -EBADF;
	return moat_bpf_lock(err);
}

/* ---- loading, attaching, detaching (under the lock) ----------------------------- */

static uint32_t slots_for_host(void)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t n =
	    COUNTERS_MEM_MAX / ((size_t)(ncpu > 0 ? ncpu : 1) * sizeof(struct moat_syscounts));

	return n < SLOTS_MIN ? SLOTS_MIN : n > MOAT_SC_SLOTS_MAX ? MOAT_SC_SLOTS_MAX : (uint32_t)n;
}

static int pin_map(struct bpf_map *map, const char *dir, const char *name, struct moat_error *err)
{
	char path[PIN_PATH_MAX];
	int r;

	if (pin_path(path, sizeof(path), dir, name) < 0)
		return moat_error_set(err, ENAMETOOLONG, "pin path %s", dir);
	unlink(path);
	r = bpf_map__pin(map, path);
	return r < 0 ? moat_error_set(err, -r, "pin %s", path) : 0;
}

static int pin_prog(struct syscount_bpf *skel, const char *dir, const char *name,
		    struct moat_error *err)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, name);
	char path[PIN_PATH_MAX];
	int r;

	if (!prog)
		return moat_error_set(err, ENOENT, "syscount program %s", name);
	if (pin_path(path, sizeof(path), dir, name) < 0)
		return moat_error_set(err, ENAMETOOLONG, "pin path %s", dir);
	unlink(path);
	r = bpf_program__pin(prog, path);
	return r < 0 ? moat_error_set(err, -r, "pin %s", path) : 0;
}

/* The slow path, once per host (or after gc): size, load, verify, pin. */
static int load_and_pin(const char *dir, struct moat_error *err)
{
	struct syscount_bpf *skel;
	int r;

	skel = syscount_bpf__open();
	if (!skel)
		return moat_error_errno(err, "open the syscount BPF object");
	r = bpf_map__set_max_entries(skel->maps.moat_sc_counts, slots_for_host());
	if (r < 0) {
		moat_error_set(err, -r, "size the syscall counters");
		goto out;
	}
	r = syscount_bpf__load(skel);
	if (r < 0) {
		moat_error_set(err, -r, "load the syscount BPF program (%s)", moat_bpf_last_log());
		goto out;
	}
	if ((mkdir(MOAT_BPF_PIN_ROOT, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		r = moat_error_errno(err, "mkdir %s", dir);
		goto out;
	}
	/* progs[PROG_LAST] last: with it pinned, the directory is complete. */
	r = pin_map(skel->maps.moat_sc_index, dir, PIN_INDEX, err);
	if (r == 0)
		r = pin_map(skel->maps.moat_sc_counts, dir, PIN_COUNTS, err);
	if (r == 0)
		r = pin_map(skel->maps.moat_sc_gen, dir, PIN_GEN, err);
	for (size_t i = 0; i < N_PROGS && r == 0; i++)
		r = pin_prog(skel, dir, progs[i].name, err);
out:
	syscount_bpf__destroy(skel);
	return r < 0 ? -1 : 0;
}

/* Attaches p unless its link is pinned already. The link is pinned and its
 * fd closed at once, so the pin is all that holds it: it stays attached
 * after this process exits, and unlinking the pin detaches. */
static int attach(const char *dir, const struct sc_prog *p, struct moat_error *err)
{
	_cleanup_close_ int prog = -EBADF;
	char path[PIN_PATH_MAX];
	int link, r;

	r = pin_exists(dir, p->link, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (pin_path(path, sizeof(path), dir, p->link) < 0)
		return moat_error_set(err, ENAMETOOLONG, "pin path %s", dir);
	r = open_pin(dir, p->name, &prog, err);
	if (r <= 0)
		return r < 0 ? -1 : moat_error_set(err, ENOENT, "%s/%s vanished", dir, p->name);
	link = bpf_raw_tracepoint_open(p->tracepoint, prog);
	if (link < 0)
		return moat_error_errno(err, "attach %s to %s", p->name, p->tracepoint);
	r = bpf_obj_pin(link, path) < 0 ? moat_error_errno(err, "pin %s", path) : 0;
	close(link);
	return r;
}

static int ensure_attached(const char *dir, struct moat_error *err)
{
	for (size_t i = 0; i < N_PROGS; i++)
		if (attach(dir, &progs[i], err) < 0)
			return -1;
	return 0;
}

/* The pins hold the links' last references, so unlinking them releases the
 * links and detaches the programs (after an RCU grace period). */
static int detach(const char *dir, struct moat_error *err)
{
	char path[PIN_PATH_MAX];

	for (size_t i = N_PROGS; i-- > 0;) {
		if (pin_path(path, sizeof(path), dir, progs[i].link) < 0)
			return moat_error_set(err, ENAMETOOLONG, "pin path %s", dir);
		if (unlink(path) < 0 && errno != ENOENT)
			return moat_error_errno(err, "unpin %s", path);
	}
	return 0;
}

/* Detaches dir's programs when no sandbox is registered there. */
static int detach_if_unused(const char *dir, const struct sc_maps *m, struct moat_error *err)
{
	return n_registered(m) > 0 ? 0 : detach(dir, err);
}

static int unregister_in(const char *dir, void *data, struct moat_error *err)
{
	const uint64_t *cgroup_id = data;
	struct sc_maps m;
	struct moat_sc_entry *e;
	int r = maps_open(dir, true, &m, err);

	if (r <= 0)
		return r;
	e = find_entry(&m, *cgroup_id);
	if (e) {
		uint32_t slot = e->slot;

		__atomic_store_n(&e->cgroup_id, 0, __ATOMIC_RELEASE);
		bump_generation(&m);
		/* Counters go with the sandbox (a syscall in flight on
		 * another CPU may still add one; registration zeroes too). */
		if (slot < m.n_slots) {
			struct moat_error ignored;

			zero_counters(&m, slot, &ignored);
		}
	}
	/* Also when cgroup_id was not there: a supervisor killed between
	 * clearing its entry and unpinning the link left it attached. */
	r = detach_if_unused(dir, &m, err);
	maps_close(&m);
	return r;
}

/* Unregisters cgroup_id in whichever version registered it. */
static int unregister(uint64_t cgroup_id, struct moat_error *err)
{
	bool none;
	int lock = lock_if_pinned(&none, err), r;

	if (none || lock < 0)
		return none ? 0 : -1;
	r = for_each_version(unregister_in, &cgroup_id, err);
	close(lock);
	return r < 0 ? -1 : 0;
}

/* Enters cgroup_id into this build's index with zeroed counters. */
static int insert(const char *dir, uint64_t cgroup_id, struct moat_error *err)
{
	struct sc_maps m;
	struct moat_sc_entry *b, *e = NULL;
	uint32_t slot;
	int r = maps_open(dir, true, &m, err);

	if (r <= 0)
		return r < 0
			   ? -1
			   : moat_error_set(err, ENOENT, "the syscount maps vanished from %s", dir);
	r = -1;
	if (find_entry(&m, cgroup_id)) {
		moat_error_set(err, EEXIST, "cgroup %" PRIu64 " already has syscall accounting",
			       cgroup_id);
		goto out;
	}
	slot = free_slot(&m);
	if (slot >= m.n_slots) {
		moat_error_set(err, E2BIG, "%" PRIu32 " sandboxes have syscall accounting already",
			       m.n_slots);
		goto out;
	}
	b = bucket(&m, cgroup_id);
	for (int i = 0; i < MOAT_SC_WAYS && !e; i++)
		if (b[i].cgroup_id == 0)
			e = &b[i];
	if (!e) {
		moat_error_set(err, ENOSPC, "no room for cgroup %" PRIu64 " in the syscount index",
			       cgroup_id);
		goto out;
	}
	if (zero_counters(&m, slot, err) < 0)
		goto out;
	/* The slot before the id: a lookup that sees the id sees its slot. */
	e->slot = slot;
	e->pad = 0;
	__atomic_store_n(&e->cgroup_id, cgroup_id, __ATOMIC_RELEASE);
	bump_generation(&m);
	r = 0;
out:
	maps_close(&m);
	return r;
}

/* ---- the interface ------------------------------------------------------------- */

int moat_syscount_register(uint64_t cgroup_id, struct moat_syscount **ret, struct moat_error *err)
{
	_cleanup_free_ struct moat_syscount *sc = NULL;
	_cleanup_close_ int lock = -EBADF;
	char dir[PIN_PATH_MAX];
	int r;

	if (cgroup_id == 0)
		return moat_error_set(err, EINVAL, "syscall accounting: no cgroup id");
	moat_bpf_quiet();
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return moat_error_errno(err, "syscall accounting");
	sc->cgroup_id = cgroup_id;
	pin_dir_of_build(dir, sizeof(dir));
	if (moat_bpf_fs_ensure(err) < 0)
		return -1;
	/* Held until the end: the entry and the link change together, so a
	 * concurrent last unregistration cannot detach what this attaches. */
	lock = moat_bpf_lock(err);
	if (lock < 0)
		return -1;
	r = pin_exists(dir, progs[PROG_LAST].name, err);
	if (r == 0)
		r = load_and_pin(dir, err);
	if (r < 0)
		return -1;
	/* The entry first: once attached, the sandbox is counted. */
	if (insert(dir, cgroup_id, err) < 0)
		return -1;
	if (ensure_attached(dir, err) < 0) {
		struct moat_error ignored;

		unregister_in(dir, &cgroup_id, &ignored);
		return -1;
	}
	*ret = TAKE_PTR(sc);
	return 0;
}

void moat_syscount_free(struct moat_syscount *sc)
{
	struct moat_error ignored;

	if (!sc)
		return;
	unregister(sc->cgroup_id, &ignored);
	free(sc);
}

int moat_syscount_collect(uint64_t cgroup_id, struct moat_error *err)
{
	return unregister(cgroup_id, err);
}

struct read_ctx {
	uint64_t cgroup_id;
	uint64_t *counts;
};

static int read_in(const char *dir, void *data, struct moat_error *err)
{
	struct read_ctx *ctx = data;
	_cleanup_free_ __u64 *per_cpu = NULL;
	int ncpu = libbpf_num_possible_cpus();
	struct moat_sc_entry *e;
	struct sc_maps m;
	size_t stride, n;
	uint32_t slot;
	int r = maps_open(dir, false, &m, err);

	if (r <= 0)
		return r;
	r = 0;
	e = find_entry(&m, ctx->cgroup_id);
	if (!e)
		goto out;
	slot = e->slot;
	r = -1;
	if (ncpu <= 0) {
		moat_error_set(err, -ncpu, "count possible CPUs");
		goto out;
	}
	/* Another version's counters may count fewer or more syscalls. */
	stride = ((size_t)m.value_size + 7) / 8;
	n = stride < MOAT_SYSCALLS_MAX ? stride : MOAT_SYSCALLS_MAX;
	per_cpu = calloc((size_t)ncpu, stride * sizeof(*per_cpu));
	if (!per_cpu) {
		moat_error_errno(err, "syscall counters");
		goto out;
	}
	if (bpf_map_lookup_elem(m.counts_fd, &slot, per_cpu) < 0) {
		moat_error_errno(err, "read the syscall counters");
		goto out;
	}
	/* Unregistered meanwhile, the slot may be another's already. */
	r = 0;
	if (__atomic_load_n(&e->cgroup_id, __ATOMIC_ACQUIRE) != ctx->cgroup_id || e->slot != slot)
		goto out;
	memset(ctx->counts, 0, MOAT_SYSCALLS_MAX * sizeof(*ctx->counts));
	for (int c = 0; c < ncpu; c++)
		for (size_t nr = 0; nr < n; nr++)
			ctx->counts[nr] += per_cpu[(size_t)c * stride + nr];
	r = 1;
out:
	maps_close(&m);
	return r;
}

int moat_syscount_read(uint64_t cgroup_id, uint64_t counts[MOAT_SYSCALLS_MAX],
		       struct moat_error *err)
{
	struct read_ctx ctx = {.cgroup_id = cgroup_id, .counts = counts};
	int r = cgroup_id ? for_each_version(read_in, &ctx, err) : 0;

	if (r < 0)
		return -1;
	if (r == 0)
		return moat_error_set(err, ENOENT, "cgroup %" PRIu64 " has no syscall accounting",
				      cgroup_id);
	return 0;
}

struct info_ctx {
	size_t registered;
	bool attached;
};

static int info_in(const char *dir, void *data, struct moat_error *err)
{
	struct info_ctx *ctx = data;
	struct sc_maps m;
	int r = pin_exists(dir, PIN_LINK_SYS, err);

	if (r < 0)
		return -1;
	ctx->attached = ctx->attached || r > 0;
	r = maps_open(dir, false, &m, err);
	if (r <= 0)
		return r;
	ctx->registered += n_registered(&m);
	maps_close(&m);
	return 0;
}

int moat_syscount_info(size_t *ret_registered, bool *ret_attached, struct moat_error *err)
{
	struct info_ctx ctx = {0};
	bool none;
	int lock, r;

	*ret_registered = 0;
	*ret_attached = false;
	/* Under the lock, which registrations hold while they insert and
	 * attach: a snapshot in which both agree. */
	lock = lock_if_pinned(&none, err);
	if (none || lock < 0)
		return none ? 0 : -1;
	r = for_each_version(info_in, &ctx, err);
	close(lock);
	if (r < 0)
		return -1;
	*ret_registered = ctx.registered;
	*ret_attached = ctx.attached;
	return 0;
}

/* ---- names --------------------------------------------------------------------- */

/* Resolved on first use and kept: callers get a const char * that lives
 * until exit. Threads racing on one number each resolve it, one wins. */
static char *names[MOAT_SYSCALLS_MAX];

const char *moat_syscall_name(int nr)
{
	char *name, *expected = NULL;

	if (nr < 0 || nr >= MOAT_SYSCALLS_MAX)
		return NULL;
	name = __atomic_load_n(&names[nr], __ATOMIC_ACQUIRE);
	if (name)
		return name;
	/* NULL for a number with no name (and on ENOMEM): not cached. */
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	if (!name)
		return NULL;
	if (!__atomic_compare_exchange_n(&names[nr], &expected, name, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(name);
		name = expected;
	}
	return name;
}
