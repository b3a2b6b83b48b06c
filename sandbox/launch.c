// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The launch sequence, as two columns of named steps: the supervisor's
 * (outside) and the child's (init, PID 1 inside the new namespaces, and the
 * command it forks). Everything that can fail on bad input happens in the
 * supervisor before the child exists; the child only replays validated data.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "caps.h"
#include "cgroup.h"
#include "collect.h"
#include "egress.h"
#include "env.h"
#include "launch.h"
#include "memory.h"
#include "mount.h"
#include "nat.h"
#include "net.h"
#include "ns.h"
#include "output.h"
#include "publish.h"
#include "seccomp.h"
#include "state.h"
#include "supervise.h"
#include "syscount.h"
#include "util.h"

#define SANDBOX_HOME "/tmp"

/* The supervisor and init give back their set-up's memory (release_setup,
 * moat_memory_release) once the sandbox has run this long: a short command
 * is over before, and does not pay for a release it would not use, nor for
 * faulting its teardown's code back in. */
#define RELEASE_AFTER_MS 1000

struct sandbox {
	const struct moat_launch_opts *opts;
	const struct moat_policy *policy;
	struct moat_state state;
	bool claimed;
	struct moat_mount_plan plan;
	struct moat_seccomp *seccomp;
	struct moat_cgroup *cgroup;
	struct moat_egress *egress;	  /* mode = veth: the allow-list, attached to the cgroup */
	struct moat_net_lease lease;	  /* mode = veth: its /30 */
	bool leased, veth_created, nat_added;
	struct moat_publisher *publisher; /* published ports, bound before the claim */
	struct moat_audit_log *audit;	  /* /var/log/moat/NAME.jsonl, from the claim on */
	struct moat_output *output;	  /* --detach: stdout and stderr, relayed to NAME.log */
	uint64_t cgroup_id;		  /* of the cgroup2 directory; 0 without one */
	struct moat_syscount *syscount;	  /* accounting = yes: registered for syscall counts */
	json_object *degraded;		  /* layers --allow-degraded let fail (array) */
	int clients_timer;		  /* published ports: clients.json once a second */
	int release_timer;		  /* fires once, RELEASE_AFTER_MS after the start */
	uint64_t clients_seen;		  /* what clients.json last showed (a checksum) */
	uint64_t events_lost;		  /* denials the ring had no room for, as logged */
	uint64_t allowed_lost;		  /* allowed events (audit = full) the same */
	struct moat_strv env;
	char *passwd;
	char *group;
	char *policy_text;
	char policy_sha256[65];
	int sync[2];	 /* [0] supervisor's end, [1] init's end */
	int sigfd;
	sigset_t saved_mask;
	pid_t init_pid;
	int in_cgroup2; /* clone3 placed init in the cgroup2 directory */
	int mntns;	/* init's mount namespace, released after accounting */
	char *const *argv; /* the command's: opts->argv, in init a copy (see init_hide_cmdline) */
};

/* What the command's process tells init when it could not exec. */
struct exec_report {
	int is_exec; /* 1: execve itself failed; 0: a step before it */
	struct moat_error err;
};

/* ---- the child: the command ------------------------------------------- */

/* The command starts as from a fresh shell: default dispositions (the
 * supervisor ignores SIGPIPE, and ignored signals survive exec), empty mask. */
static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int wait_for(int sync_fd, enum moat_sync_type type, struct moat_error *err)
{
	struct moat_sync_msg msg;
	int r = moat_sync_recv(sync_fd, &msg);

	if (r <= 0 || msg.type != type)
		return moat_error_set(err, EPIPE, "supervisor went away before the start");
	return 0;
}

static _Noreturn void command_fail(int report_fd, int is_exec, const struct moat_error *err)
{
	struct exec_report rep = {.is_exec = is_exec, .err = *err};

	moat_write_all(report_fd, &rep, sizeof(rep));
	_exit(is_exec && err->errnum == ENOENT ? MOAT_EXIT_NOTFOUND : MOAT_EXIT_NOEXEC);
}

static _Noreturn void command_main(struct sandbox *sb, int report_fd)
{
	const struct moat_policy *p = sb->policy;
	struct moat_error err = {0};
	extern char **environ;

	/* A new session: the command cannot push input into the caller's
	 * terminal with TIOCSTI (CVE-2017-5226). */
	if (setsid() < 0) {
		moat_error_errno(&err, "setsid");
		command_fail(report_fd, 0, &err);
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		moat_error_errno(&err, "set the parent-death signal");
		command_fail(report_fd, 0, &err);
	}
	if (chdir("/") < 0) {
		moat_error_errno(&err, "chdir /");
		command_fail(report_fd, 0, &err);
	}
	/* No core files: a model's memory (weights, prompts) must not land on
	 * the host, where core_pattern may hand it to a helper. Hard limit
	 * too, before the capability that could raise it is gone. */
	if (setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}) < 0) {
		moat_error_errno(&err, "set RLIMIT_CORE");
		command_fail(report_fd, 0, &err);
	}
	if (moat_caps_drop_all(p->uid, p->gid, &err) < 0)
		command_fail(report_fd, 0, &err);
	/* Every inherited fd above 2 closes at exec; the report pipe too, so
	 * EOF on it tells init that exec succeeded. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		moat_error_errno(&err, "mark fds close-on-exec");
		command_fail(report_fd, 0, &err);
	}
	reset_signals();
	/* execvp searches the PATH of the current environment, so switch first. */
	environ = sb->env.v;
	/* Set up while the supervisor turns accounting on; its EXEC comes on
	 * init's socket, which init, waiting for our exec, does not read. */
	if (wait_for(sb->sync[1], MOAT_SYNC_EXEC, &err) < 0)
		command_fail(report_fd, 0, &err);
	/* Last: the filter would refuse the capability and prctl calls above. */
	if (moat_seccomp_install(sb->seccomp, &err) < 0)
		command_fail(report_fd, 0, &err);
	execvp(sb->argv[0], sb->argv);
	moat_error_errno(&err, "exec %s", sb->argv[0]);
	command_fail(report_fd, 1, &err);
}

/* ---- the child: init, PID 1 of the sandbox ----------------------------- */

/* Only the sync socket and stdio cross into the sandbox: not the state
 * directory's lock, not any other descriptor the caller leaked to moat. */
static int init_close_fds(int keep, struct moat_error *err)
{
	if ((keep > 3 && close_range(3, (unsigned)keep - 1, 0) < 0) ||
	    close_range((unsigned)keep + 1, ~0U, 0) < 0)
		return moat_error_errno(err, "close inherited fds");
	return 0;
}

/* ICMP echo through unprivileged ping sockets for the sandbox's group, so an
 * "icmp" egress rule can be used without CAP_NET_RAW; the egress programs
 * decide every echo like any other packet. Written while init still sees
 * the host's /proc: /proc/sys/net belongs to the writer's netns. */
static int init_allow_ping(gid_t gid, struct moat_error *err)
{
	const char *path = "/proc/sys/net/ipv4/ping_group_range";
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	char range[32];
	int n = snprintf(range, sizeof(range), "%u %u", gid, gid);

	if (fd < 0 || moat_write_all(fd, range, (size_t)n) < 0)
		return moat_error_errno(err, "write %s", path);
	return 0;
}

static int init_setup(struct sandbox *sb, struct moat_error *err)
{
	bool veth = sb->policy->net_mode == MOAT_NET_VETH;
	int fd = sb->sync[1];
	const char *hostname = sb->policy->hostname ? sb->policy->hostname : sb->opts->name;
	int v1[MOAT_CG_V1_COUNT]; /* init exits on failure: no need to close on the way */
	int r;

	/* Dies with the supervisor; the PID namespace, and all in it, with us. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return moat_error_errno(err, "set the parent-death signal");
	/* --detach: the output pipe, never the log file itself (see output.h). */
	if (sb->output && (dup2(moat_output_writer_fd(sb->output), STDOUT_FILENO) < 0 ||
			   dup2(moat_output_writer_fd(sb->output), STDERR_FILENO) < 0))
		return moat_error_errno(err, "redirect output to its pipe");
	if (init_close_fds(fd, err) < 0)
		return -1;
	if (moat_cgroup_v1_open(sb->cgroup, v1, err) < 0)
		return -1;
	if (wait_for(fd, MOAT_SYNC_GO, err) < 0)
		return -1;
	if (moat_ns_set_hostname(hostname, err) < 0)
		return -1;
	if (veth && init_allow_ping(sb->policy->gid, err) < 0)
		return -1;
	if (moat_mount_apply(&sb->plan, err) < 0)
		return -1;
	if (moat_net_loopback_up(err) < 0)
		return -1;
	if (prctl(PR_SET_NAME, "moat-init") < 0)
		return moat_error_errno(err, "name init");
	/* The command runs under another uid; stop it from ptracing init. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		return moat_error_errno(err, "set init non-dumpable");
	/* The supervisor connected the network meanwhile (and, on a kernel
	 * without CLONE_INTO_CGROUP, moved us into cgroup2). Nothing of the
	 * command runs before that, and the new cgroup namespace is rooted at
	 * the sandbox's own cgroups. */
	if (wait_for(fd, MOAT_SYNC_JOINED, err) < 0)
		return -1;
	/* cgroup2 placed us at clone; the v1 groups, made meanwhile, we join
	 * ourselves, still single-threaded. */
	r = moat_cgroup_join_v1_self(sb->cgroup, v1, err);
	moat_cgroup_v1_close(v1);
	if (r < 0)
		return -1;
	/* The supervisor made the veth pair before JOINED; eth0 is ours now. */
	if (veth && moat_net_veth_configure_inside(&sb->lease, err) < 0)
		return -1;
	return moat_ns_enter_cgroup(err);
}

static void protect_from_oom(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		moat_write_all(fd, "-1000", 5);
		close(fd);
	}
}

#ifdef __SANITIZE_ADDRESS__
/* ASan cannot follow a child onto a stack it did not make: fork. */
static pid_t spawn_command(struct sandbox *sb, int report_fd, struct moat_error *err)
{
	pid_t pid = fork();

	if (pid == 0)
		command_main(sb, report_fd);
	if (pid < 0)
		moat_error_errno(err, "start the command");
	return pid;
}
#else
struct command_start {
	struct sandbox *sb;
	int report_fd;
};

static int command_entry(void *data)
{
	struct command_start *start = data;

	command_main(start->sb, start->report_fd);
}

/* The command's stack until its exec: what command_main needs, plus room for
 * the copies execvp makes on the stack (argv for a script without "#!", a
 * PATH entry joined to the name), which exec itself bounds by ARG_MAX. Only
 * touched pages cost anything. */
#define COMMAND_STACK_BASE (256 << 10)

/*
 * Starts the command as posix_spawn does: a child sharing init's memory, on
 * a stack of its own, while init waits for its exec (CLONE_VFORK). A fork
 * would copy init's page tables only for the exec to tear them down again.
 * The child changes its own credentials, seccomp filter and signal
 * dispositions (all per task), and of the memory only what init no longer
 * reads: environ, put back here.
 */
static pid_t spawn_command(struct sandbox *sb, int report_fd, struct moat_error *err)
{
	struct command_start start = {sb, report_fd};
	long arg_max = sysconf(_SC_ARG_MAX), page = sysconf(_SC_PAGESIZE);
	size_t size = COMMAND_STACK_BASE + (size_t)(arg_max > 0 ? arg_max : 2 << 20);
	extern char **environ;
	char **init_environ = environ;
	char *map;
	pid_t pid;

	/* The lowest page stays inaccessible: an overflow faults in the child
	 * instead of writing over init's memory. */
	map = mmap(NULL, size + (size_t)page, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return moat_error_errno(err, "map the command's stack");
	if (mprotect(map + page, size, PROT_READ | PROT_WRITE) < 0) {
		moat_error_errno(err, "map the command's stack");
		munmap(map, size + (size_t)page);
		return -1;
	}
	pid = clone(command_entry, map + page + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
	if (pid < 0)
		moat_error_errno(err, "start the command");
	environ = init_environ;
	munmap(map, size + (size_t)page);
	return pid;
}
#endif

/* Starts the command, waits for its exec, then drops to CAP_KILL only. */
static pid_t init_start_command(struct sandbox *sb, struct moat_error *err)
{
	int report[2];
	struct exec_report rep;
	ssize_t n;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0)
		return moat_error_errno(err, "pipe");
	pid = spawn_command(sb, report[1], err);
	if (pid < 0) {
		close(report[0]);
		close(report[1]);
		return -1;
	}
	close(report[1]);
	/* The OOM killer must pick the command, never init: init's exit would
	 * take the command's status with it. Set after the fork, so the command
	 * keeps the default score. Best effort: it needs CAP_SYS_RESOURCE, which
	 * some hosts withhold even from root. */
	protect_from_oom();
	do
		n = read(report[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(rep)) {
		*err = rep.err;
		moat_sync_send(sb->sync[1], rep.is_exec ? MOAT_SYNC_EXEC_FAILED : MOAT_SYNC_ERROR, 0,
			       err);
	} else {
		moat_sync_send(sb->sync[1], MOAT_SYNC_EXEC_OK, 0, NULL);
	}
	if (moat_caps_keep_kill_only(err) < 0) {
		kill(pid, SIGKILL);
		return -1;
	}
	return pid;
}

/*
 * Init never exec's, so /proc/1/cmdline, which every process in the sandbox
 * may read, would show moat's own command line: policy and bind paths,
 * --env values. Before the command starts, its argv (which points into
 * that area) moves to a copy, and the area is overwritten. Best effort: on
 * failure the command still starts, with argv where it was.
 */
static void init_hide_cmdline(struct sandbox *sb)
{
	static const char name[] = "moat-init";
	unsigned long long area[2]; /* arg_start, arg_end (proc(5)) */
	char *start, *copy, **argv;
	size_t len, n = 0;

	if (moat_proc_stat(getpid(), 48, 2, area) < 0 || area[1] <= area[0])
		return;
	start = (char *)(uintptr_t)area[0];
	len = (size_t)(area[1] - area[0]);
	while (sb->argv[n])
		n++;
	copy = malloc(len);
	argv = calloc(n + 1, sizeof(*argv));
	if (!copy || !argv) {
		free(copy);
		free(argv);
		return;
	}
	memcpy(copy, start, len);
	for (size_t i = 0; i < n; i++) {
		char *a = sb->argv[i];

		argv[i] = a >= start && a < start + len ? copy + (a - start) : a;
	}
	sb->argv = argv; /* init's to keep until it exits */
	memset(start, 0, len);
	memcpy(start, name, len < sizeof(name) ? len - 1 : sizeof(name));
}

static _Noreturn void init_main(struct sandbox *sb)
{
	struct moat_error err = {0};
	pid_t command;
	int sigfd;
	sigset_t mask;

	if (init_setup(sb, &err) < 0)
		goto fail;
	/* The supervisor blocked these before clone; we inherited the mask. */
	moat_forwarded_signals(&mask);
	sigaddset(&mask, SIGCHLD);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		moat_error_errno(&err, "signalfd");
		goto fail;
	}
	init_hide_cmdline(sb);
	command = init_start_command(sb, &err);
	if (command < 0)
		goto fail;
	/* From here init only reaps and forwards signals, for as long as the
	 * sandbox lives: once settled, it gives back the set-up it ran and the
	 * supervisor's memory it inherited and never reads (see memory.h). */
	moat_init_reap(command, sigfd, sb->sync[1], RELEASE_AFTER_MS, moat_memory_release);
	_exit(0);
fail:
	moat_sync_send(sb->sync[1], MOAT_SYNC_ERROR, 0, &err);
	_exit(MOAT_EXIT_LAUNCH);
}

/* ---- the supervisor ------------------------------------------------------ */

static int make_identity(struct sandbox *sb, struct moat_error *err)
{
	const struct moat_policy *p = sb->policy;

	/* Only root and the sandbox user exist; the host's accounts stay outside. */
	sb->passwd = p->uid == 0
		? moat_strdup_printf("root:x:0:%u:root:" SANDBOX_HOME ":/bin/sh\n", p->gid)
		: moat_strdup_printf("root:x:0:0:root:/root:/usr/sbin/nologin\n"
				     "sandbox:x:%u:%u:moat sandbox:" SANDBOX_HOME ":/bin/sh\n",
				     p->uid, p->gid);
	sb->group = p->gid == 0 ? moat_strdup_printf("root:x:0:\n")
				: moat_strdup_printf("root:x:0:\nsandbox:x:%u:\n", p->gid);
	if (!sb->passwd || !sb->group)
		return moat_error_errno(err, "make passwd");
	return 0;
}

static int hash_policy(struct sandbox *sb, struct moat_error *err)
{
	sb->policy_text = moat_policy_to_string(sb->policy);
	if (!sb->policy_text)
		return moat_error_errno(err, "format the policy");
	return moat_sha256_hex(sb->policy_text, strlen(sb->policy_text), sb->policy_sha256, err);
}

static int build_seccomp(struct sandbox *sb, struct moat_error *err)
{
	_cleanup_free_ char *dir = moat_strdup_printf("%s/seccomp", moat_policy_dir());

	if (!dir)
		return moat_error_errno(err, "seccomp profile directory");
	return moat_seccomp_build(sb->policy, dir, MOAT_SECCOMP_CACHE_DIR, &sb->seccomp, err);
}

/* Rules resolved (hostnames, model:NAME) and published ports bound now:
 * an unknown host or a taken port fails before anything exists. */
static int prepare_network(struct sandbox *sb, struct moat_error *err)
{
	const struct moat_policy *p = sb->policy;

	if (p->net_mode == MOAT_NET_VETH &&
	    moat_egress_prepare(p, "/etc/resolv.conf", &sb->egress, err) < 0)
		return -1;
	if (p->n_publish && moat_publish_open(p->publish, p->n_publish, &sb->publisher, err) < 0)
		return -1;
	return 0;
}

static int prepare(struct sandbox *sb, struct moat_error *err)
{
	const struct moat_policy *p = sb->policy;
	bool tty = isatty(0) || isatty(1) || isatty(2);

	if (make_identity(sb, err) < 0)
		return -1;
	if (hash_policy(sb, err) < 0)
		return -1;
	if (moat_env_build(p, sb->opts->caller_env, SANDBOX_HOME, &sb->env) < 0)
		return moat_error_errno(err, "build the environment");
	/* Mounted over in init's mount namespace only: no directory of its own
	 * to make and remove on the host. */
	if (moat_mount_plan_build(p, MOAT_RUN_DIR, sb->passwd, sb->group, tty, &sb->plan, err) < 0)
		return -1;
	if (build_seccomp(sb, err) < 0)
		return -1;
	return prepare_network(sb, err);
}

static int claim(struct sandbox *sb, struct moat_error *err)
{
	if (moat_state_claim(sb->opts->name, moat_sandbox_collect, &sb->state, err) < 0)
		return -1;
	sb->claimed = true;
	if (moat_state_write_file(&sb->state, MOAT_STATE_POLICY_FILE, sb->policy_text, err) < 0)
		return -1;
	/* From here on, even a failed launch leaves its "stop" event. */
	return moat_audit_open(sb->opts->name, &sb->audit, err);
}

/*
 * The cgroup exists, limits and device rules applied, before any task joins.
 * Its paths are recorded before it is made: a supervisor killed between the
 * mkdir and a later save would leave a cgroup no state names, and the name
 * locked by it for good.
 */
static int make_cgroup(struct sandbox *sb, struct moat_error *err)
{
	struct moat_strv paths = {0};
	json_object *arr;
	struct stat st;

	if (moat_cgroup_new(sb->opts->name, sb->policy, &sb->cgroup, err) < 0)
		return -1;
	if (moat_cgroup_paths(sb->cgroup, &paths) < 0) {
		moat_strv_clear(&paths);
		return moat_error_errno(err, "record cgroups");
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < paths.n; i++)
		json_object_array_add(arr, json_object_new_string(paths.v[i]));
	moat_strv_clear(&paths);
	json_object_object_add(sb->state.json, "cgroups", arr);
	if (moat_state_save(&sb->state, err) < 0 ||
	    moat_cgroup_create(sb->cgroup, sb->policy, err) < 0)
		return -1;
	/* A cgroup2 directory's inode number is its cgroup id: the key of the
	 * sandbox's BPF map entries (egress, accounting), recorded before any. */
	if (moat_cgroup_v2_fd(sb->cgroup) >= 0 && fstat(moat_cgroup_v2_fd(sb->cgroup), &st) == 0)
		sb->cgroup_id = st.st_ino;
	json_object_object_add(sb->state.json, "cgroup_id", json_object_new_uint64(sb->cgroup_id));
	return moat_state_save(&sb->state, err);
}

/* The one layer --allow-degraded may lose; every other fails the launch. */
static int degrade(struct sandbox *sb, const char *layer, struct moat_error *err)
{
	if (!sb->opts->allow_degraded)
		return -1;
	if (!sb->degraded)
		sb->degraded = json_object_new_array();
	json_object_array_add(sb->degraded,
			      json_object_new_string_len(err->msg, (int)strnlen(err->msg, sizeof(err->msg))));
	moat_print_line(stderr, "moat: %s: running without %s (--allow-degraded): %s",
			sb->opts->name, layer, err->msg);
	*err = (struct moat_error){0};
	return 0;
}

/* accounting = yes: the sandbox's syscalls counted from its first one. */
static int make_accounting(struct sandbox *sb, struct moat_error *err)
{
	if (!sb->policy->accounting)
		return 0;
	if (sb->cgroup_id == 0)
		moat_error_set(err, EOPNOTSUPP, "syscall accounting needs a cgroup2 directory");
	else if (moat_syscount_register(sb->cgroup_id, &sb->syscount, err) == 0)
		return 0;
	moat_error_prefix(err, "accounting");
	return degrade(sb, "accounting", err);
}

static json_object *limit_json(uint64_t limit)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "limit", json_object_new_uint64(limit));
	json_object_object_add(o, "applied", json_object_new_boolean(true));
	return o;
}

/* What is in force, for `moat status`: everything the launch applied (a
 * layer that failed would have stopped it, unless degraded). */
static void record_guarantees(struct sandbox *sb)
{
	const struct moat_policy *p = sb->policy;
	static const char *const namespaces[] = {"mount", "pid", "net", "uts", "ipc", "cgroup"};
	static const char *const actions[] = {[MOAT_SECCOMP_ERRNO] = "errno",
					      [MOAT_SECCOMP_KILL] = "kill",
					      [MOAT_SECCOMP_LOG] = "log"};
	json_object *g = json_object_new_object(), *ns = json_object_new_array(), *o;

	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++)
		json_object_array_add(ns, json_object_new_string(namespaces[i]));
	json_object_object_add(g, "namespaces", ns);
	json_object_object_add(g, "memory", limit_json(p->memory));
	json_object_object_add(g, "cpus", limit_json(p->cpus_milli));
	json_object_object_add(g, "pids", limit_json(p->pids));
	o = json_object_new_object();
	json_object_object_add(o, "applied", json_object_new_boolean(true));
	json_object_object_add(o, "rules", json_object_new_uint64(p->n_devices));
	json_object_object_add(g, "devices", o);
	o = json_object_new_object();
	json_object_object_add(o, "profile", json_object_new_string(p->seccomp_profile));
	json_object_object_add(o, "action", json_object_new_string(actions[p->seccomp_action]));
	json_object_object_add(o, "applied", json_object_new_boolean(strcmp(p->seccomp_profile,
									   "none") != 0));
	json_object_object_add(g, "seccomp", o);
	o = json_object_new_object();
	json_object_object_add(o, "applied", json_object_new_boolean(sb->egress != NULL));
	if (!sb->egress)
		json_object_object_add(o, "why", json_object_new_string("mode none: no network"));
	json_object_object_add(g, "egress", o);
	o = json_object_new_object();
	json_object_object_add(o, "applied", json_object_new_boolean(sb->syscount != NULL));
	if (!p->accounting)
		json_object_object_add(o, "why", json_object_new_string("accounting = no"));
	json_object_object_add(g, "accounting", o);
	json_object_object_add(g, "degraded", sb->degraded ? json_object_get(sb->degraded)
							   : json_object_new_array());
	json_object_object_add(sb->state.json, "guarantees", g);
}

static json_object *network_json(const struct sandbox *sb, uint64_t cgroup_id)
{
	const struct moat_net_lease *l = &sb->lease;
	char addr[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
	json_object *net = json_object_new_object();

	inet_ntop(AF_INET, &l->sandbox, addr, sizeof(addr));
	inet_ntop(AF_INET, &l->host, host, sizeof(host));
	json_object_object_add(net, "mode", json_object_new_string("veth"));
	json_object_object_add(net, "address", json_object_new_string(addr));
	json_object_object_add(net, "host_address", json_object_new_string(host));
	json_object_object_add(net, "prefix", json_object_new_int(l->prefix));
	json_object_object_add(net, "host_ifname", json_object_new_string(l->host_ifname));
	json_object_object_add(net, "nat", json_object_new_boolean(sb->policy->nat));
	json_object_object_add(net, "cgroup_id", json_object_new_uint64(cgroup_id));
	json_object_object_add(net, "egress_rules",
			       json_object_new_uint64(moat_egress_n_rules(sb->egress)));
	return net;
}

/* mode = veth: a /30 from the pool and the egress programs on the cgroup,
 * before init is cloned into it. Recorded before they exist, so gc finds
 * the lease, the veth name and the map entries if we die from here on. */
static int make_network(struct sandbox *sb, struct moat_error *err)
{
	int cgroup_fd = moat_cgroup_v2_fd(sb->cgroup);

	if (sb->policy->net_mode != MOAT_NET_VETH)
		return 0;
	if (cgroup_fd < 0 || sb->cgroup_id == 0)
		return moat_error_set(err, EOPNOTSUPP, "mode = veth needs a cgroup2 directory for "
				      "the egress programs");
	if (moat_net_lease_acquire(sb->opts->name, &sb->policy->pool, &sb->lease, err) < 0)
		return -1;
	sb->leased = true;
	json_object_object_add(sb->state.json, "network", network_json(sb, sb->cgroup_id));
	if (moat_state_save(&sb->state, err) < 0)
		return -1;
	return moat_egress_attach(sb->egress, cgroup_fd, sb->cgroup_id, sb->lease.sandbox.s_addr,
				  err);
}

/* While init builds its root: its end of the veth, NAT, published ports. */
static int connect_network(struct sandbox *sb, struct moat_error *err)
{
	_cleanup_close_ int netns = -EBADF;
	struct rlimit nofile;
	char path[64];

	if (sb->leased) {
		if (moat_net_veth_create(&sb->lease, sb->init_pid, err) < 0)
			return -1;
		sb->veth_created = true;
		if (sb->policy->nat) {
			if (moat_nat_add(&sb->lease.sandbox, err) < 0)
				return -1;
			sb->nat_added = true;
			/* Needed again only at teardown: not kept mapped meanwhile. */
			moat_nat_unload();
		}
	}
	if (!sb->publisher)
		return 0;
	/* Two fds per forwarded connection: the supervisor alone (init has
	 * been cloned with the caller's limit) may use all the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", sb->init_pid);
	netns = open(path, O_RDONLY | O_CLOEXEC);
	if (netns < 0)
		return moat_error_errno(err, "open %s", path);
	return moat_publish_start(sb->publisher, netns, err);
}

/* Standard input from /dev/null: for a detached or a background sandbox. */
static int stdin_from_null(struct moat_error *err)
{
	_cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0)
		return moat_error_errno(err, "open /dev/null as standard input");
	return 0;
}

/*
 * A terminal shared with the sandbox is readable by it, and the command runs
 * outside the caller's session, where job control cannot stop it: from
 * there it could read what is typed at the terminal long after moat was put
 * in the background. So output terminals are reopened write-only, and a
 * terminal on stdin is kept only when moat starts in its foreground.
 */
static int guard_terminal(struct moat_error *err)
{
	for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
		_cleanup_close_ int wronly = -EBADF;
		char path[32];

		if (!isatty(fd))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		wronly = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (wronly < 0 || dup2(wronly, fd) < 0)
			return moat_error_errno(err, "reopen the terminal on fd %d write-only", fd);
	}
	if (!isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) == getpgrp())
		return 0;
	return stdin_from_null(err);
}

/* Detached: stdio goes to the log, which outlives the sandbox. */
static int redirect_to_log(struct sandbox *sb, struct moat_error *err)
{
	int logfd;

	struct moat_output_limits limits = {.rate = sb->policy->log_rate,
					    .burst = sb->policy->log_burst};

	if (moat_output_open(sb->opts->name, &limits, &sb->output, err) < 0 ||
	    stdin_from_null(err) < 0)
		return -1;
	logfd = moat_output_file_fd(sb->output);
	/* Our own messages go to the file; the sandbox gets the pipe (init_setup). */
	if (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		return moat_error_errno(err, "redirect stdio to %s", moat_output_path(sb->output));
	json_object_object_add(sb->state.json, "log",
			       json_object_new_string(moat_output_path(sb->output)));
	json_object_object_add(sb->state.json, "log_rate", json_object_new_uint64(limits.rate));
	json_object_object_add(sb->state.json, "log_burst", json_object_new_uint64(limits.burst));
	return 0;
}

static int block_signals(struct sandbox *sb, struct moat_error *err)
{
	sigset_t mask;

	moat_forwarded_signals(&mask);
	sigaddset(&mask, SIGCHLD);
	/* An ignored signal is dropped before signalfd sees it, and shells start
	 * background jobs with SIGINT and SIGQUIT ignored: every signal moat
	 * forwards must reach it, so undo that. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&mask, sig) == 1)
			signal(sig, SIG_DFL);
	if (sigprocmask(SIG_BLOCK, &mask, &sb->saved_mask) < 0)
		return moat_error_errno(err, "block signals");
	sb->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sb->sigfd < 0)
		return moat_error_errno(err, "signalfd");
	return 0;
}

static int spawn(struct sandbox *sb, struct moat_error *err)
{
	char path[64];
	int into_cgroup;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sb->sync) < 0)
		return moat_error_errno(err, "socketpair");
	/* Into the cgroup at birth: init never runs outside the sandbox's limits
	 * and, once the egress programs are attached there, their enforcement. */
	pid = moat_ns_clone(moat_cgroup_v2_fd(sb->cgroup), &into_cgroup, err);
	if (pid < 0)
		return -1;
	if (pid == 0)
		init_main(sb);
	moat_closep(&sb->sync[1]);
	if (sb->output)
		moat_output_close_writer(sb->output); /* EOF once the sandbox is gone */
	sb->init_pid = pid;
	sb->in_cgroup2 = into_cgroup;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	sb->mntns = open(path, O_RDONLY | O_CLOEXEC); /* best effort: see teardown */
	return 0;
}

/* A message to init that cannot be sent found init gone: it failed first,
 * and its ERROR, queued on the socket, says why. */
static int send_to_init(struct sandbox *sb, enum moat_sync_type type, struct moat_error *err)
{
	struct moat_sync_msg msg;
	int errnum;

	if (moat_sync_send(sb->sync[0], type, 0, NULL) == 0)
		return 0;
	errnum = errno;
	if (moat_sync_recv(sb->sync[0], &msg) > 0 && msg.type == MOAT_SYNC_ERROR) {
		*err = msg.err;
		return -1;
	}
	return moat_error_set(err, errnum, "start the sandbox");
}

/*
 * The supervisor's part of the set-up after clone, while init builds its
 * root. On JOINED init starts the command, which drops its privileges and
 * waits; on EXEC it installs its seccomp filter and execs.
 */
static int finish_setup(struct sandbox *sb, struct moat_error *err)
{
	if (send_to_init(sb, MOAT_SYNC_GO, err) < 0)
		return -1;
	/* Mapped only now that init is cloned, which does not need it. */
	if (sb->egress && moat_egress_events_open(sb->egress, err) < 0)
		return -1;
	/* Hybrid hosts: the v1 groups and their limits, 1-2 ms of mkdir and
	 * writes that init's mounts now hide. */
	if (moat_cgroup_create_v1(sb->cgroup, sb->policy, err) < 0)
		return -1;
	if (connect_network(sb, err) < 0)
		return -1;
	if (!sb->in_cgroup2 && moat_cgroup_enter_v2(sb->cgroup, sb->init_pid, err) < 0)
		return -1;
	if (send_to_init(sb, MOAT_SYNC_JOINED, err) < 0)
		return -1;
	/* While init and the command set up: attaching the host-wide
	 * tracepoint may wait for an RCU grace period (after the last accounted
	 * sandbox detached it), which that work hides. Only moat's own set-up
	 * runs uncounted; the command's exec is its first counted syscall. */
	if (make_accounting(sb, err) < 0)
		return -1;
	record_guarantees(sb);
	return send_to_init(sb, MOAT_SYNC_EXEC, err);
}

static json_object *argv_json(char *const *argv)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && argv[i]; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	return a;
}

/* What the sandbox is, recorded (with the cgroups) before anything runs. */
static void record_identity(struct sandbox *sb)
{
	const struct moat_policy *p = sb->policy;
	json_object *j = sb->state.json;
	unsigned long long starttime = 0;
	char user[32];

	moat_proc_starttime(getpid(), &starttime);
	snprintf(user, sizeof(user), "%u:%u", p->uid, p->gid);
	json_object_object_add(j, "name", json_object_new_string(sb->opts->name));
	json_object_object_add(j, "tier", json_object_new_string(p->tier ? p->tier : ""));
	json_object_object_add(j, "policy", json_object_new_string(sb->opts->policy_path
									   ? sb->opts->policy_path
									   : p->source ? p->source : ""));
	json_object_object_add(j, "policy_sha256", json_object_new_string(sb->policy_sha256));
	json_object_object_add(j, "supervisor_pid", json_object_new_int(getpid()));
	json_object_object_add(j, "supervisor_starttime", json_object_new_uint64(starttime));
	json_object_object_add(j, "started_ns", json_object_new_uint64(moat_now_ns()));
	json_object_object_add(j, "user", json_object_new_string(user));
	json_object_object_add(j, "detached", json_object_new_boolean(sb->opts->detach));
	json_object_object_add(j, "command", argv_json(sb->opts->argv));
	json_object_object_add(j, "status", json_object_new_string("starting"));
}

/* Once the command runs: the pids, init's and the command's (init's only
 * child, read from /proc where the kernel has CONFIG_PROC_CHILDREN). */
static int record_running(struct sandbox *sb, struct moat_error *err)
{
	json_object *j = sb->state.json;
	_cleanup_free_ char *buf = NULL;
	struct moat_error ignored;
	unsigned long long starttime = 0;
	char path[64];

	struct moat_audit_start start = {
		.tier = sb->policy->tier,
		.policy = sb->opts->policy_path ? sb->opts->policy_path : sb->policy->source,
		.policy_sha256 = sb->policy_sha256,
		.pid = sb->init_pid,
		.uid = sb->policy->uid,
		.gid = sb->policy->gid,
		.argv = sb->opts->argv,
	};

	json_object_object_add(j, "pid", json_object_new_int(sb->init_pid));
	/* moat stop checks it: the supervisor may have reaped init already. */
	if (moat_proc_starttime(sb->init_pid, &starttime) == 0)
		json_object_object_add(j, "pid_starttime", json_object_new_uint64(starttime));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", sb->init_pid, sb->init_pid);
	if (moat_read_file(path, 4096, &buf, NULL, &ignored) == 0 && atoi(buf) > 0) {
		start.command_pid = atoi(buf);
		json_object_object_add(j, "command_pid", json_object_new_int(start.command_pid));
	}
	json_object_object_add(j, "status", json_object_new_string("running"));
	if (moat_state_save(&sb->state, err) < 0)
		return -1;
	return moat_audit_start(sb->audit, &start, err);
}

/* Waits for init's report on the exec. Returns 0 once the command runs. */
static int wait_started(struct sandbox *sb, int *ret_code, struct moat_error *err)
{
	struct moat_sync_msg msg;
	int r, status;

	for (;;) {
		r = moat_sync_recv(sb->sync[0], &msg);
		if (r <= 0)
			break;
		switch (msg.type) {
		case MOAT_SYNC_EXEC_OK:
			return 0;
		case MOAT_SYNC_EXEC_FAILED:
			*err = msg.err;
			*ret_code = err->errnum == ENOENT ? MOAT_EXIT_NOTFOUND : MOAT_EXIT_NOEXEC;
			return -1;
		case MOAT_SYNC_ERROR:
			*err = msg.err;
			*ret_code = MOAT_EXIT_LAUNCH;
			return -1;
		default:
			break;
		}
	}
	/* init died without a word: something killed it. */
	if (waitpid(sb->init_pid, &status, 0) == sb->init_pid)
		sb->init_pid = 0;
	*ret_code = MOAT_EXIT_LAUNCH;
	return moat_error_set(err, 0, "sandbox init died before the command started");
}

static void notify(const struct sandbox *sb, int code, const struct moat_error *err)
{
	struct moat_launch_report rep = {.code = code};

	if (sb->opts->notify_fd < 0)
		return;
	if (err)
		rep.err = *err;
	moat_write_all(sb->opts->notify_fd, &rep, sizeof(rep));
	close(sb->opts->notify_fd);
}

/* Mirrors make_network and connect_network; each step runs if its setup did.
 * The veth goes before its lease: the dying netns would remove the pair
 * too, but in the background, and the next sandbox must not find the
 * address still routed to it. */
static void release_network(struct sandbox *sb)
{
	struct moat_error ignored;

	moat_publish_free(sb->publisher);
	sb->publisher = NULL;
	moat_egress_free(sb->egress);
	sb->egress = NULL;
	if (sb->nat_added)
		moat_nat_remove(&sb->lease.sandbox, &ignored);
	sb->nat_added = false;
	if (sb->veth_created)
		moat_net_veth_delete(sb->lease.host_ifname, &ignored);
	sb->veth_created = false;
	if (sb->leased)
		moat_net_lease_release(&sb->lease);
	sb->leased = false;
}

/* What only the set-up needs (init has its own copy): for release_setup,
 * and teardown when the launch failed first. Idempotent. */
static void free_setup(struct sandbox *sb)
{
	moat_seccomp_free(sb->seccomp);
	sb->seccomp = NULL;
	moat_mount_plan_free(&sb->plan);
	moat_strv_clear(&sb->env);
	free(sb->passwd);
	sb->passwd = NULL;
	free(sb->group);
	sb->group = NULL;
	free(sb->policy_text);
	sb->policy_text = NULL;
}

/* Once the command runs the supervisor only serves it, for as long as the
 * sandbox lives: what set-up needed goes, then the memory it leaves behind
 * (see memory.h). */
static void release_setup(struct sandbox *sb)
{
	free_setup(sb);
	moat_memory_release();
}

/* Teardown mirrors setup and runs whatever state was reached. The audit
 * log's "stop" comes before the state goes: `moat events --follow` ends
 * when the state does, and must have printed it. */
static void teardown(struct sandbox *sb, int code, const struct moat_error *failure)
{
	struct moat_error ignored;

	if (sb->init_pid > 0) {
		/* Killing PID 1 of the namespace kills everything in it. */
		kill(sb->init_pid, SIGKILL);
		waitpid(sb->init_pid, NULL, 0);
		sb->init_pid = 0;
	}
	release_network(sb);
	moat_syscount_free(sb->syscount);
	sb->syscount = NULL;
	/*
	 * Freeing the sandbox's mount namespace ends in an expedited RCU grace
	 * period (namespace_unlock). Done after the accounting tracepoint may
	 * have been detached, it often completes the grace period the next
	 * launch's attach would otherwise wait for, a whole normal one of
	 * 5-16 ms (tracepoint_add_func's 1->0->1 sync): here, back-to-back
	 * launches that waited went from 16-19 in 30 to 5-10 in 30. Without
	 * this fd it would have ended with init, before the detach.
	 */
	moat_closep(&sb->mntns);
	if (sb->cgroup && moat_cgroup_destroy(sb->cgroup, &ignored) < 0) {
		/* The recorded paths stay for moat gc, and so does the state. */
		moat_error_print(&ignored, stderr);
		sb->claimed = false;
		moat_state_release(&sb->state);
	}
	sb->cgroup = NULL;
	if (sb->audit)
		moat_audit_stop(sb->audit, code, failure && failure->msg[0] ? failure->msg : NULL,
				&ignored);
	moat_audit_close(sb->audit);
	sb->audit = NULL;
	moat_output_free(sb->output);
	sb->output = NULL;
	if (sb->claimed)
		moat_state_remove(&sb->state, &ignored);
	moat_closep(&sb->sync[0]);
	moat_closep(&sb->sync[1]);
	moat_closep(&sb->sigfd);
	moat_closep(&sb->clients_timer);
	moat_closep(&sb->release_timer);
	json_object_put(sb->degraded);
	free_setup(sb);
	sigprocmask(SIG_SETMASK, &sb->saved_mask, NULL);
}

/* A publisher that could not return to the host's netns would serve the
 * host's clients from inside the sandbox's: stop rather than go on. */
static bool serve_published(void *data)
{
	struct sandbox *sb = data;
	struct moat_error err;

	if (moat_publish_dispatch(sb->publisher, &err) == 0)
		return true;
	moat_error_prefix(&err, "%s", sb->opts->name);
	moat_error_print(&err, stderr);
	kill(sb->init_pid, SIGKILL);
	return true;
}

/* IPv4 hooks, and v4-mapped packets, are logged as IPv4; an AF_INET6
 * socket's v4-mapped destination keeps the form it was given in. */
static void on_net_event(const struct moat_net_event *d, void *data)
{
	struct sandbox *sb = data;
	struct moat_audit_access a = {
		.allowed = d->allowed != 0,
		.ktime_ns = d->boot_ns,
		.pid = d->pid,
		.hook = moat_egress_hook_name(d->hook),
		.port = d->port,
	};
	bool mapped = d->addr[0] == 0 && d->addr[1] == 0 && d->addr[2] == htonl(0xffff);
	bool v4 = d->hook == MOAT_HOOK_CONNECT4 || d->hook == MOAT_HOOK_SENDMSG4 ||
		  (d->hook == MOAT_HOOK_EGRESS && mapped);
	struct moat_error ignored;
	char proto[8];

	a.proto = moat_egress_proto_name(d->proto, proto, sizeof(proto));
	if (d->pid)
		memcpy(a.comm, d->comm, sizeof(a.comm));
	a.family = v4 ? AF_INET : AF_INET6;
	if (v4)
		memcpy(a.addr, &d->addr[3], 4);
	else
		memcpy(a.addr, d->addr, 16);
	moat_audit_access(sb->audit, &a, &ignored);
}

/* Events the ring buffer had no room for leave a "lost" event: a gap in
 * the evidence is recorded, not silent. */
static void log_lost(struct sandbox *sb)
{
	struct moat_net_counters c;
	struct moat_error ignored;

	if (moat_egress_counters(sb->egress, &c, &ignored) < 0 ||
	    (c.events_lost <= sb->events_lost && c.allowed_lost <= sb->allowed_lost))
		return;
	moat_audit_lost(sb->audit, c.events_lost - sb->events_lost,
			c.allowed_lost - sb->allowed_lost, &ignored);
	sb->events_lost = c.events_lost;
	sb->allowed_lost = c.allowed_lost;
}

static bool serve_net_events(void *data)
{
	struct sandbox *sb = data;

	if (moat_egress_events_consume(sb->egress, on_net_event, sb) > 0)
		log_lost(sb);
	return true;
}

/* --detach: what the sandbox wrote, into its log. */
static bool serve_output(void *data)
{
	struct sandbox *sb = data;

	return moat_output_relay(sb->output, moat_monotonic_ns(), true) >= 0;
}

static bool output_wants_input(void *data)
{
	struct sandbox *sb = data;

	return moat_output_wants_input(sb->output);
}

/* Output over the log budget: a log_dropped event, and output.json, where
 * `moat status` reads the count; at most once a second (see output.h). */
static void report_dropped(struct sandbox *sb, const struct moat_output_dropped *d)
{
	json_object *root = json_object_new_object();
	struct moat_error ignored;

	moat_audit_log_dropped(sb->audit, d->bytes, d->total, sb->policy->log_rate, &ignored);
	if (!root)
		return;
	json_object_object_add(root, "dropped_bytes", json_object_new_uint64(d->total));
	moat_state_write_file(&sb->state, "output.json",
			      json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN), &ignored);
	json_object_put(root);
}

static bool serve_output_timer(void *data)
{
	struct sandbox *sb = data;
	struct moat_output_dropped d;

	if (moat_output_tick(sb->output, moat_monotonic_ns(), true, &d) > 0)
		report_dropped(sb, &d);
	return true;
}

#define CLIENTS_SHOWN 64

struct client_row {
	char address[INET6_ADDRSTRLEN];
	uint64_t connections, bytes_in, bytes_out;
};

struct client_rows {
	struct client_row *v;
	size_t n, cap;
	uint64_t checksum;
};

static void add_client(const struct sockaddr_storage *client, uint64_t connections,
		       uint64_t bytes_in, uint64_t bytes_out, void *data)
{
	struct client_rows *rows = data;
	struct client_row *r;

	rows->checksum += connections * 1000003 + bytes_in * 31 + bytes_out;
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 64;
		struct client_row *v = reallocarray(rows->v, cap, sizeof(*v));

		if (!v)
			return;
		rows->v = v;
		rows->cap = cap;
	}
	r = &rows->v[rows->n++];
	if (client->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)client)->sin6_addr, r->address,
			  sizeof(r->address));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)client)->sin_addr, r->address,
			  sizeof(r->address));
	r->connections = connections;
	r->bytes_in = bytes_in;
	r->bytes_out = bytes_out;
}

static int client_cmp(const void *a, const void *b)
{
	const struct client_row *x = a, *y = b;

	if (x->connections != y->connections)
		return x->connections > y->connections ? -1 : 1;
	return x->bytes_in == y->bytes_in ? 0 : x->bytes_in > y->bytes_in ? -1 : 1;
}

/* Once a second while clients come: the busiest clients of the published
 * ports into clients.json, where `moat status` reads them (one client making
 * thousands of requests, model extraction, stands out). */
static bool serve_clients_tick(void *data)
{
	struct sandbox *sb = data;
	struct client_rows rows = {0};
	struct moat_error ignored;
	json_object *root, *arr;
	uint64_t ticks;

	if (read(sb->clients_timer, &ticks, sizeof(ticks)) < 0)
		return true;
	moat_publish_for_each_client(sb->publisher, add_client, &rows);
	if (rows.checksum == sb->clients_seen) {
		free(rows.v);
		return true;
	}
	sb->clients_seen = rows.checksum;
	qsort(rows.v, rows.n, sizeof(*rows.v), client_cmp);
	root = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < rows.n && i < CLIENTS_SHOWN; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "address", json_object_new_string(rows.v[i].address));
		json_object_object_add(c, "connections", json_object_new_uint64(rows.v[i].connections));
		json_object_object_add(c, "bytes_in", json_object_new_uint64(rows.v[i].bytes_in));
		json_object_object_add(c, "bytes_out", json_object_new_uint64(rows.v[i].bytes_out));
		json_object_array_add(arr, c);
	}
	json_object_object_add(root, "clients", arr);
	json_object_object_add(root, "active_connections",
			       json_object_new_uint64(moat_publish_active(sb->publisher)));
	moat_state_write_file(&sb->state, "clients.json",
			      json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN), &ignored);
	json_object_put(root);
	free(rows.v);
	return true;
}

static bool serve_release(void *data)
{
	struct sandbox *sb = data;
	uint64_t ticks;

	if (read(sb->release_timer, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return true;
	release_setup(sb);
	return false; /* once */
}

/* Returns -1 when the timer cannot be set; the caller releases at once. */
static int start_release_timer(struct sandbox *sb)
{
	struct itimerspec once = {.it_value = {RELEASE_AFTER_MS / 1000,
					       RELEASE_AFTER_MS % 1000 * 1000000L}};

	sb->release_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sb->release_timer < 0 || timerfd_settime(sb->release_timer, 0, &once, NULL) < 0)
		return -1;
	return 0;
}

static int start_clients_timer(struct sandbox *sb)
{
	struct itimerspec every_second = {.it_interval = {1, 0}, .it_value = {1, 0}};

	sb->clients_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sb->clients_timer < 0 || timerfd_settime(sb->clients_timer, 0, &every_second, NULL) < 0)
		return -1;
	return 0;
}

/* Until init is reaped: signals, published ports, denials for the audit
 * log, output, and once the releasing of set-up memory. */
static int supervise(struct sandbox *sb)
{
	struct moat_watch watches[6];
	struct moat_output_dropped d;
	size_t n = 0;
	int code;

	if (start_release_timer(sb) == 0)
		watches[n++] = (struct moat_watch){.fd = sb->release_timer, .ready = serve_release, .data = sb};
	else
		release_setup(sb);
	if (sb->publisher) {
		watches[n++] = (struct moat_watch){.fd = moat_publish_fd(sb->publisher),
						   .ready = serve_published, .data = sb};
		if (start_clients_timer(sb) == 0)
			watches[n++] = (struct moat_watch){.fd = sb->clients_timer,
							   .ready = serve_clients_tick, .data = sb};
	}
	if (moat_egress_events_fd(sb->egress) >= 0)
		watches[n++] = (struct moat_watch){.fd = moat_egress_events_fd(sb->egress),
						   .ready = serve_net_events, .data = sb};
	if (sb->output) {
		watches[n++] = (struct moat_watch){.fd = moat_output_reader_fd(sb->output),
						   .ready = serve_output, .data = sb,
						   .wanted = output_wants_input};
		if (moat_output_timer_fd(sb->output) >= 0)
			watches[n++] = (struct moat_watch){.fd = moat_output_timer_fd(sb->output),
							   .ready = serve_output_timer, .data = sb};
	}
	code = moat_supervise(sb->init_pid, sb->sigfd, sb->sync[0], watches, n);
	/* Output and denials made just before the end still reach the logs. */
	if (sb->output && moat_output_finish(sb->output, moat_monotonic_ns(), true, &d) > 0)
		report_dropped(sb, &d);
	serve_net_events(sb);
	if (sb->egress)
		log_lost(sb);
	return code;
}

static void report_oom(const struct sandbox *sb)
{
	struct moat_error ignored;
	uint64_t kills = 0;
	char limit[32];

	if (moat_cgroup_oom_kills(sb->cgroup, &kills) < 0 || kills == 0)
		return;
	moat_format_size(sb->policy->memory, limit, sizeof(limit));
	moat_print_line(stderr, "moat: %s: out of memory (limit %s), killed", sb->opts->name, limit);
	moat_audit_oom(sb->audit, sb->policy->memory, kills, &ignored);
}

static void log_exit(const struct sandbox *sb, int code)
{
	struct moat_error ignored;

	moat_audit_exit(sb->audit, code, &ignored);
	if (sb->opts->detach)
		moat_print_line(stderr, "moat: %s: exited with status %d", sb->opts->name, code);
}

int moat_sandbox_run(const struct moat_launch_opts *opts, struct moat_error *err)
{
	struct sandbox sb = {
		.opts = opts,
		.policy = opts->policy,
		.argv = opts->argv,
		.sync = {-EBADF, -EBADF},
		.sigfd = -EBADF,
		.clients_timer = -EBADF,
		.release_timer = -EBADF,
		.mntns = -EBADF,
		.state = {.dirfd = -EBADF},
	};
	int code = MOAT_EXIT_LAUNCH;

	*err = (struct moat_error){0};
	sigprocmask(SIG_SETMASK, NULL, &sb.saved_mask);
	signal(SIGPIPE, SIG_IGN);
	/* Bad input fails here, before any state exists. */
	if (prepare(&sb, err) < 0)
		goto fail;
	if (claim(&sb, err) < 0)
		goto fail;
	if ((opts->detach ? redirect_to_log(&sb, err) : guard_terminal(err)) < 0)
		goto fail;
	record_identity(&sb);
	if (make_cgroup(&sb, err) < 0)
		goto fail;
	/* Egress enforced before any task joins the cgroup. */
	if (make_network(&sb, err) < 0)
		goto fail;
	/* Block before clone: a signal must not slip between start and supervision. */
	if (block_signals(&sb, err) < 0)
		goto fail;
	if (spawn(&sb, err) < 0)
		goto fail;
	if (finish_setup(&sb, err) < 0)
		goto fail;
	if (wait_started(&sb, &code, err) < 0)
		goto fail;
	if (record_running(&sb, err) < 0)
		goto fail;
	notify(&sb, 0, NULL);
	code = supervise(&sb);
	sb.init_pid = 0; /* reaped by moat_supervise */
	report_oom(&sb);
	log_exit(&sb, code);
	teardown(&sb, code, NULL);
	return code;
fail:
	notify(&sb, code, err);
	teardown(&sb, code, err);
	return code;
}

int moat_sandbox_name_generate(const char *tier, char *buf, size_t len, struct moat_error *err)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		return moat_error_errno(err, "getrandom");
	snprintf(buf, len, "%.40s-%08x", tier && *tier ? tier : "moat", r);
	return 0;
}
