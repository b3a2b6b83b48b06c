/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Each sandbox's own cgroup, moat/NAME below the cgroup the launcher runs in,
 * in every hierarchy it needs. Two layouts are supported:
 *
 *   unified  cgroup2 only (/sys/fs/cgroup on current distributions): one
 *            directory; memory, cpu and pids limits there.
 *   hybrid   v1 controllers plus cgroup2 (e.g. /sys/fs/cgroup/unified): a
 *            cgroup2 directory (the eBPF programs attach there) and a v1
 *            memory, cpu and pids directory for each limit the policy sets.
 *
 * On both, the device allow-list is a BPF_CGROUP_DEVICE program attached to
 * the cgroup2 directory with a BPF link: the kernel runs it for a hybrid
 * host's tasks too, so neither layout needs the v1 devices hierarchy.
 *
 * cgroup v1 alone is refused: the eBPF layers need a cgroup2 directory.
 * Mount points come from /proc/self/mountinfo, never from a fixed path.
 */
#ifndef MOAT_CGROUP_H
#define MOAT_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"
#include "util.h"

/* The shared parent directory of every sandbox's cgroup, in each hierarchy. */
#define MOAT_CGROUP_PARENT "moat"

/* How long destroy waits for killed processes to leave, in milliseconds. */
#define MOAT_CGROUP_KILL_TIMEOUT_MS 5000

/* The v1 controllers moat uses on hybrid hosts, in the order it enters them. */
enum moat_cgroup_v1 {
	MOAT_CG_MEMORY = 0,
	MOAT_CG_CPU,
	MOAT_CG_PIDS,
	MOAT_CG_V1_COUNT
};

struct moat_cgroup; /* opaque; owns its paths, fds and the devices BPF link */

/*
 * Plans moat/NAME below the calling process's cgroup in every hierarchy
 * needed, making nothing: detects the layout, expands p's device rules and
 * names every directory, so that the caller can record them
 * (moat_cgroup_paths) before they exist and `moat gc` finds whatever a
 * supervisor killed from then on made. Returns 0 and the cgroup in *ret
 * (owned by the caller: moat_cgroup_destroy() or moat_cgroup_free()), or -1
 * with err filled.
 */
int moat_cgroup_new(const char *name, const struct moat_policy *p, struct moat_cgroup **ret,
		    struct moat_error *err);

/*
 * Creates the cgroup2 directory moat_cgroup_new named and applies p's
 * [resources] (0 means no limit): memory as a hard limit with swap off, cpus
 * as a CFS quota over a 100 ms period, pids, and the device allow-list (plus
 * the standard null, zero, full, random, urandom, tty, ptmx and pts nodes;
 * everything else denied). Everything is applied before any task joins.
 * Returns 0, or -1 with err naming the file, e.g. "write memory.max in
 * /sys/fs/cgroup/moat/web: Invalid argument"; on failure nothing that was
 * created is left behind, and cg names no directory any more (destroying it
 * is a no-op). An existing moat/NAME (a dead sandbox's leftover, for `moat
 * gc`) is an error, never adopted.
 */
int moat_cgroup_create(struct moat_cgroup *cg, const struct moat_policy *p,
		       struct moat_error *err);

/*
 * On a hybrid host, the v1 groups (memory, cpu, pids: those p limits) are
 * made by this third step, with their limits, while the child builds its
 * root: moat_cgroup_new names them (moat_cgroup_paths lists them from then
 * on, and moat_cgroup_join_v1_self knows them in the child).
 * Nothing to do on a cgroup2-only host. Returns 0, or -1 with err filled;
 * on failure the caller destroys the cgroup, which removes only what moat
 * made (an existing group of the same name stays, for `moat gc`).
 */
int moat_cgroup_create_v1(struct moat_cgroup *cg, const struct moat_policy *p,
			  struct moat_error *err);

/* O_PATH|O_DIRECTORY fd of the cgroup2 directory, borrowed (valid until the
 * cgroup is freed): for clone3(CLONE_INTO_CGROUP) and BPF attach. */
int moat_cgroup_v2_fd(const struct moat_cgroup *cg);

/* The cgroup2 directory's absolute path, borrowed. */
const char *moat_cgroup_v2_path(const struct moat_cgroup *cg);

/* Moves pid into the sandbox's cgroup2 directory: for kernels without
 * clone3(CLONE_INTO_CGROUP), which places a child there at birth. */
int moat_cgroup_enter_v2(const struct moat_cgroup *cg, pid_t pid, struct moat_error *err);

/*
 * Joining the v1 groups from the child, which makes them reachable after
 * pivot_root: moat_cgroup_v1_open opens (O_PATH) the calling process's own
 * cgroup in each v1 hierarchy the sandbox uses, before the root changes;
 * fds[c] is -EBADF where there is none. moat_cgroup_v1_close closes them.
 * Returns 0, or -1 with err filled and nothing open.
 */
int moat_cgroup_v1_open(const struct moat_cgroup *cg, int fds[MOAT_CG_V1_COUNT],
			struct moat_error *err);
void moat_cgroup_v1_close(int fds[MOAT_CG_V1_COUNT]);

/*
 * Moves the calling thread into the sandbox's v1 groups below fds (hybrid
 * hosts, once moat_cgroup_create_v1 made them; nothing to do elsewhere).
 * For init, before anything of the command runs: a thread that moves itself
 * ("0" into a v1 "tasks" file) skips the kernel's cgroup_threadgroup_rwsem
 * write side, which costs an RCU grace period (5-16 ms here) when one
 * process moves another. The caller must have no other threads: they would
 * stay behind.
 */
int moat_cgroup_join_v1_self(const struct moat_cgroup *cg, const int fds[MOAT_CG_V1_COUNT],
			     struct moat_error *err);

/* Appends every directory (the cgroup2 one first) to ret, for the state file
 * and `moat gc`. Returns 0 or -1 with errno ENOMEM. */
int moat_cgroup_paths(const struct moat_cgroup *cg, struct moat_strv *ret);

/* OOM kills so far: memory.events oom_kill (cgroup2) or memory.oom_control
 * oom_kill (v1). 0 when there is no memory controller. */
int moat_cgroup_oom_kills(const struct moat_cgroup *cg, uint64_t *ret);

/*
 * Kills every process (cgroup.kill when the kernel has it, else freeze, SIGKILL
 * each member, thaw), waits until the cgroup is empty (at most
 * MOAT_CGROUP_KILL_TIMEOUT_MS), removes the directory in every hierarchy and
 * then the shared parent "moat" where it became empty (another sandbox may
 * still use it). The devices BPF link is closed only once the processes are
 * gone. Idempotent: directories already gone are fine. Always frees cg; on
 * failure the leftovers are for moat_cgroup_destroy_paths() (`moat gc`).
 */
int moat_cgroup_destroy(struct moat_cgroup *cg, struct moat_error *err);

/*
 * The same teardown from the directories moat_cgroup_paths() recorded, for
 * `moat gc` after a supervisor died. Refuses any path that is not a
 * directory .../moat/NAME on a cgroup file system.
 */
int moat_cgroup_destroy_paths(const struct moat_strv *paths, struct moat_error *err);

/* Frees cg without touching the cgroups (closing the devices BPF link detaches
 * the program: do it only once the sandbox is dead or handed over). */
void moat_cgroup_free(struct moat_cgroup *cg);

/* --- Layout detection: exported for unit tests ----------------------------- */

enum moat_cgroup_mode { MOAT_CGROUP_UNIFIED = 1, MOAT_CGROUP_HYBRID };

/* One hierarchy as the calling process sees it. */
struct moat_cgroup_hier {
	char *mount; /* mount point, e.g. "/sys/fs/cgroup/memory"; NULL: not mounted */
	char *rel;   /* own cgroup relative to the mount, "" or "process_api/x" (no
		      * leading or trailing '/'); libcgroup names groups this way */
	char *dir;   /* mount + "/" + rel: the directory moat/NAME is created in */
};

struct moat_cgroup_layout {
	enum moat_cgroup_mode mode;
	struct moat_cgroup_hier v2;			  /* always present */
	struct moat_cgroup_hier v1[MOAT_CG_V1_COUNT]; /* hybrid only; mount NULL if absent */
};

/* "memory", "cpu", ... for enum moat_cgroup_v1. */
const char *moat_cgroup_v1_name(enum moat_cgroup_v1 c);

/*
 * Detects the layout from the text of /proc/self/mountinfo and
 * /proc/self/cgroup. Pure: no I/O. Returns 0 with ret filled (strings owned by
 * ret: moat_cgroup_layout_clear()), or -1 with err saying what is unsupported
 * (v1 only, nothing mounted, our cgroup outside every mount).
 */
int moat_cgroup_layout_parse(const char *mountinfo, const char *proc_cgroup,
			     struct moat_cgroup_layout *ret, struct moat_error *err);
void moat_cgroup_layout_clear(struct moat_cgroup_layout *l);

/* --- Device rules ------------------------------------------------------------ */

#define MOAT_DEV_ANY UINT32_MAX /* wildcard major or minor */
#define MOAT_DEV_RULES_MAX 1024 /* cap on what a policy's globs may expand to */

/* One device allow rule, as the v1 devices controller spells it ("c 1:3 rwm"). */
struct moat_dev_rule {
	char type;	/* 'c' or 'b' */
	uint32_t major; /* or MOAT_DEV_ANY */
	uint32_t minor; /* or MOAT_DEV_ANY */
	char access[4]; /* non-empty subset of "rwm" */
};

/*
 * The allow-list for p: the standard nodes, then each [resources] devices glob
 * expanded against the host's /dev (character and block nodes only; a pattern
 * matching nothing adds nothing, the hardware may be absent, but a named node
 * must exist). Returns 0 with a malloc'd array in *ret (owned by the caller)
 * and its length, or -1.
 */
int moat_cgroup_device_rules(const struct moat_policy *p, struct moat_dev_rule **ret,
			     size_t *ret_n, struct moat_error *err);

/*
 * Loads a BPF_CGROUP_DEVICE program allowing exactly rules (everything else
 * denied), or takes the one an earlier launch pinned for the same rules
 * (MOAT_BPF_PIN_ROOT/devices-HASH), and attaches it to the cgroup2 directory
 * cgroup_fd with a BPF link.
 * Returns 0 and the link fd (O_CLOEXEC, owned by the caller: closing it
 * detaches the program), or -1 with the verifier log in err on a load failure.
 */
int moat_cgroup_devices_bpf_attach(int cgroup_fd, const struct moat_dev_rule *rules, size_t n,
				   int *ret_link_fd, struct moat_error *err);

#endif
