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
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "env.h"
#include "launch.h"
#include "mount.h"
#include "net.h"
#include "ns.h"
#include "seccomp.h"
#include "state.h"
#include "supervise.h"
#include "util.h"

#define SANDBOX_HOME "/tmp"

struct sandbox {
	const struct moat_launch_opts *opts;
	const struct moat_policy *policy;
	struct moat_state state;
	bool claimed;
	struct moat_mount_plan plan;
	struct moat_seccomp *seccomp;
	struct moat_cgroup *cgroup;
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
	/* Last: the filter would refuse the capability and prctl calls above. */
	if (moat_seccomp_install(sb->seccomp, &err) < 0)
		command_fail(report_fd, 0, &err);
	execvp(sb->opts->argv[0], sb->opts->argv);
	moat_error_errno(&err, "exec %s", sb->opts->argv[0]);
	command_fail(report_fd, 1, &err);
}

/* ---- the child: init, PID 1 of the sandbox ----------------------------- */

static int init_wait_for(int sync_fd, enum moat_sync_type type, struct moat_error *err)
{
	struct moat_sync_msg msg;
	int r = moat_sync_recv(sync_fd, &msg);

	if (r <= 0 || msg.type != type)
		return moat_error_set(err, EPIPE, "supervisor went away before the start");
	return 0;
}

/* Only the sync socket and stdio cross into the sandbox: not the state
 * directory's lock, not any other descriptor the caller leaked to moat. */
static int init_close_fds(int keep, struct moat_error *err)
{
	if ((keep > 3 && close_range(3, (unsigned)keep - 1, 0) < 0) ||
	    close_range((unsigned)keep + 1, ~0U, 0) < 0)
		return moat_error_errno(err, "close inherited fds");
	return 0;
}

static int init_setup(struct sandbox *sb, struct moat_error *err)
{
	int fd = sb->sync[1];
	const char *hostname = sb->policy->hostname ? sb->policy->hostname : sb->opts->name;

	/* Dies with the supervisor; the PID namespace, and all in it, with us. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return moat_error_errno(err, "set the parent-death signal");
	if (init_close_fds(fd, err) < 0)
		return -1;
	if (init_wait_for(fd, MOAT_SYNC_GO, err) < 0)
		return -1;
	if (moat_ns_set_hostname(hostname, err) < 0)
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
	/* The supervisor joined the v1 hierarchies meanwhile (cgroup2: at clone).
	 * Nothing of the command runs before that, and the new cgroup namespace
	 * is rooted at the sandbox's own cgroups. */
	if (init_wait_for(fd, MOAT_SYNC_JOINED, err) < 0)
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

/* Forks the command, waits for its exec, then drops to CAP_KILL only. */
static pid_t init_start_command(struct sandbox *sb, struct moat_error *err)
{
	int report[2];
	struct exec_report rep;
	ssize_t n;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0)
		return moat_error_errno(err, "pipe");
	pid = fork();
	if (pid < 0)
		return moat_error_errno(err, "fork the command");
	if (pid == 0) {
		close(report[0]);
		command_main(sb, report[1]);
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
	command = init_start_command(sb, &err);
	if (command < 0)
		goto fail;
	moat_init_reap(command, sigfd, sb->sync[1]);
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

/* Fail closed: a policy asking for a layer this moat cannot apply does not run. */
static int check_enforceable(const struct moat_policy *p, struct moat_error *err)
{
	if (p->net_mode == MOAT_NET_VETH)
		return moat_error_set(err, 0, "[network] mode = veth cannot be enforced by this "
				      "moat yet (use --net none)");
	if (p->n_publish)
		return moat_error_set(err, 0, "[network] publish is not available in this moat yet");
	return 0;
}

static int build_seccomp(struct sandbox *sb, struct moat_error *err)
{
	_cleanup_free_ char *dir = moat_strdup_printf("%s/seccomp", moat_policy_dir());

	if (!dir)
		return moat_error_errno(err, "seccomp profile directory");
	return moat_seccomp_build(sb->policy, dir, &sb->seccomp, err);
}

static int prepare(struct sandbox *sb, struct moat_error *err)
{
	const struct moat_policy *p = sb->policy;
	_cleanup_free_ char *root = NULL;
	bool tty = isatty(0) || isatty(1) || isatty(2);

	/* Cheapest first: a layer that cannot be applied needs no plan. */
	if (check_enforceable(p, err) < 0)
		return -1;
	if (make_identity(sb, err) < 0)
		return -1;
	if (hash_policy(sb, err) < 0)
		return -1;
	if (moat_env_build(p, sb->opts->caller_env, SANDBOX_HOME, &sb->env) < 0)
		return moat_error_errno(err, "build the environment");
	root = moat_strdup_printf("%s/%s/root", MOAT_RUN_DIR, sb->opts->name);
	if (!root)
		return moat_error_errno(err, "plan the sandbox root");
	if (moat_mount_plan_build(p, root, sb->passwd, sb->group, tty, &sb->plan, err) < 0)
		return -1;
	return build_seccomp(sb, err);
}

static int claim(struct sandbox *sb, struct moat_error *err)
{
	if (moat_state_claim(sb->opts->name, moat_sandbox_collect, &sb->state, err) < 0)
		return -1;
	sb->claimed = true;
	if (mkdir(sb->plan.root, 0700) < 0)
		return moat_error_errno(err, "mkdir %s", sb->plan.root);
	return moat_state_write_file(&sb->state, "policy.ini", sb->policy_text, err);
}

/* The cgroup exists, limits and device rules applied, before any task joins;
 * its paths are recorded at once, so gc finds them if we die from here on. */
static int make_cgroup(struct sandbox *sb, struct moat_error *err)
{
	struct moat_strv paths = {0};
	json_object *arr;

	if (moat_cgroup_create(sb->opts->name, sb->policy, &sb->cgroup, err) < 0)
		return -1;
	if (moat_cgroup_paths(sb->cgroup, &paths) < 0)
		return moat_error_errno(err, "record cgroups");
	arr = json_object_new_array();
	for (size_t i = 0; i < paths.n; i++)
		json_object_array_add(arr, json_object_new_string(paths.v[i]));
	moat_strv_clear(&paths);
	json_object_object_add(sb->state.json, "cgroups", arr);
	return moat_state_save(&sb->state, err);
}

/* Detached: stdio goes to the log, which outlives the sandbox. */
static int redirect_to_log(struct sandbox *sb, struct moat_error *err)
{
	_cleanup_free_ char *path = moat_strdup_printf("%s/%s.log", MOAT_LOG_DIR, sb->opts->name);
	_cleanup_close_ int logfd = -EBADF, nullfd = -EBADF;

	if (!path)
		return moat_error_errno(err, "open the log");
	if (moat_mkdir_p(MOAT_LOG_DIR, 0750, err) < 0)
		return -1;
	logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (logfd < 0)
		return moat_error_errno(err, "open %s", path);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0)
		return moat_error_errno(err, "open /dev/null");
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		return moat_error_errno(err, "redirect stdio to %s", path);
	json_object_object_add(sb->state.json, "log", json_object_new_string(path));
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
	close(sb->sync[1]);
	sb->sync[1] = -EBADF;
	sb->init_pid = pid;
	sb->in_cgroup2 = into_cgroup;
	return 0;
}

/*
 * Joining a v1 hierarchy (hybrid hosts) waits for an RCU grace period (the
 * cgroup_threadgroup_rwsem write side), ~10 ms here: init builds the root
 * meanwhile, and starts the command only on the JOINED message.
 */
static int join_cgroups(struct sandbox *sb, struct moat_error *err)
{
	if (moat_sync_send(sb->sync[0], MOAT_SYNC_GO, 0, NULL) < 0)
		return moat_error_errno(err, "start the sandbox");
	if (moat_cgroup_enter(sb->cgroup, sb->init_pid, sb->in_cgroup2, err) < 0)
		return -1;
	if (moat_sync_send(sb->sync[0], MOAT_SYNC_JOINED, 0, NULL) < 0)
		return moat_error_errno(err, "start the sandbox");
	return 0;
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
	char path[64];

	json_object_object_add(j, "pid", json_object_new_int(sb->init_pid));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", sb->init_pid, sb->init_pid);
	if (moat_read_file(path, 4096, &buf, NULL, &ignored) == 0 && atoi(buf) > 0)
		json_object_object_add(j, "command_pid", json_object_new_int(atoi(buf)));
	json_object_object_add(j, "status", json_object_new_string("running"));
	return moat_state_save(&sb->state, err);
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

/* Teardown mirrors setup and runs whatever state was reached. */
static void teardown(struct sandbox *sb)
{
	struct moat_error ignored;

	if (sb->init_pid > 0) {
		/* Killing PID 1 of the namespace kills everything in it. */
		kill(sb->init_pid, SIGKILL);
		waitpid(sb->init_pid, NULL, 0);
		sb->init_pid = 0;
	}
	if (sb->cgroup && moat_cgroup_destroy(sb->cgroup, &ignored) < 0) {
		/* The recorded paths stay for moat gc, and so does the state. */
		moat_error_print(&ignored, stderr);
		sb->claimed = false;
		moat_state_release(&sb->state);
	}
	sb->cgroup = NULL;
	if (sb->claimed)
		moat_state_remove(&sb->state, &ignored);
	moat_seccomp_free(sb->seccomp);
	moat_closep(&sb->sync[0]);
	moat_closep(&sb->sync[1]);
	moat_closep(&sb->sigfd);
	moat_mount_plan_free(&sb->plan);
	moat_strv_clear(&sb->env);
	free(sb->passwd);
	free(sb->group);
	free(sb->policy_text);
	sigprocmask(SIG_SETMASK, &sb->saved_mask, NULL);
}

static void report_oom(const struct sandbox *sb)
{
	uint64_t kills = 0;
	char limit[32];

	if (moat_cgroup_oom_kills(sb->cgroup, &kills) < 0 || kills == 0)
		return;
	moat_format_size(sb->policy->memory, limit, sizeof(limit));
	fprintf(stderr, "moat: %s: out of memory (limit %s), killed\n", sb->opts->name, limit);
}

static void log_exit(const struct sandbox *sb, int code)
{
	if (sb->opts->detach)
		fprintf(stderr, "moat: %s: exited with status %d\n", sb->opts->name, code);
}

int moat_sandbox_run(const struct moat_launch_opts *opts, struct moat_error *err)
{
	struct sandbox sb = {
		.opts = opts,
		.policy = opts->policy,
		.sync = {-EBADF, -EBADF},
		.sigfd = -EBADF,
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
	if (opts->detach && redirect_to_log(&sb, err) < 0)
		goto fail;
	record_identity(&sb);
	if (make_cgroup(&sb, err) < 0)
		goto fail;
	/* Block before clone: a signal must not slip between start and supervision. */
	if (block_signals(&sb, err) < 0)
		goto fail;
	if (spawn(&sb, err) < 0)
		goto fail;
	if (join_cgroups(&sb, err) < 0)
		goto fail;
	if (wait_started(&sb, &code, err) < 0)
		goto fail;
	if (record_running(&sb, err) < 0)
		goto fail;
	notify(&sb, 0, NULL);
	code = moat_supervise(sb.init_pid, sb.sigfd, sb.sync[0]);
	sb.init_pid = 0; /* reaped by moat_supervise */
	report_oom(&sb);
	log_exit(&sb, code);
	teardown(&sb);
	return code;
fail:
	notify(&sb, code, err);
	teardown(&sb);
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

int moat_sandbox_collect(const char *name, json_object *state, struct moat_error *err)
{
	struct moat_strv paths = {0};
	json_object *arr;
	int r;

	if (!json_object_object_get_ex(state, "cgroups", &arr))
		return 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (moat_strv_push(&paths, json_object_get_string(json_object_array_get_idx(arr, i))) < 0) {
			moat_strv_clear(&paths);
			return moat_error_errno(err, "collect %s", name);
		}
	r = moat_cgroup_destroy_paths(&paths, err);
	moat_strv_clear(&paths);
	return r;
}
