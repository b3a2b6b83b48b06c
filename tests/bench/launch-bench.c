// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * launch-bench: times commands from fork to exit, many times, and prints
 * the median, 90th percentile and mean in milliseconds, one line each:
 *
 *   launch-bench -n 100 -l unshare -l moat -- unshare -m -p -f /bin/true \
 *           ::: build/moat run -- /bin/true
 *   unshare n=100 median_ms=2.950 p90_ms=3.410 mean_ms=3.010 min_ms=2.700 max_ms=5.120
 *   moat n=100 median_ms=4.210 p90_ms=4.870 mean_ms=4.390 min_ms=3.950 max_ms=9.020
 *
 * Several commands (separated by ":::", since "--" belongs to commands
 * like `moat run --`) are run in turns, one run of each per round, so that
 * whatever else loads the machine falls on all of them alike: comparing
 * launchers measured one after the other would compare the load too.
 *
 * The output lines are stable (label, then key=value pairs) so that
 * tests/bench/run.sh can read them. Each run is fork + execvp + wait, with
 * the command's stdio on /dev/null; a run that exits non-zero stops the
 * benchmark, as a failing launch measures nothing.
 *
 * It never leaves a process behind: each run has its own process group,
 * killed once its leader has exited; a timeout or SIGINT/SIGTERM/SIGHUP to
 * launch-bench terminates the group (SIGTERM, then SIGKILL) and reaps the
 * child before exiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS_DEFAULT	  100
#define RUNS_MAX	  100000
#define WARMUP_DEFAULT	  5
#define TIMEOUT_DEFAULT_S 30
#define GRACE_S		  2 /* between SIGTERM and SIGKILL when a run must be stopped */

#define COMMANDS_MAX 16
#define SEPARATOR    ":::"

struct command {
	char **argv; /* NULL-terminated, inside main's argv */
	const char *label;
	double *ms; /* one sample per timed run */
};

struct bench {
	struct command cmds[COMMANDS_MAX];
	int n_cmds;
	int runs;
	int warmup;
	int timeout_s;
	bool verbose;	 /* keep the command's stdout and stderr */
	int devnull;	 /* O_CLOEXEC; dup2'd onto the child's stdio */
	int errfd;	 /* our stderr, O_CLOEXEC: where the child reports execvp failing */
	sigset_t waited; /* blocked; taken with sigtimedwait() */
	sigset_t original;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: launch-bench [-n RUNS] [-w WARMUP] [-t SECONDS] [-l LABEL]... [-v]\n"
		"                    -- COMMAND [ARG...] [::: COMMAND [ARG...]]...\n"
		"Times each COMMAND from fork to exit RUNS times (default %d) after WARMUP\n"
		"untimed runs (default %d), the commands taking turns, and prints median, p90\n"
		"and mean in ms, a line per command. A run that exits non-zero or outlives\n"
		"-t SECONDS (default %d) stops the benchmark with status 1.\n"
		"\n"
		"  -l LABEL  first word of the next command's line (default: its COMMAND)\n"
		"  -v        keep the commands' stdout and stderr (default: /dev/null)\n"
		"\n"
		"Examples:\n"
		"  launch-bench -- /bin/true\n"
		"  launch-bench -n 200 -l exec -l unshare -- /bin/true ::: unshare -m -p -f "
		"/bin/true\n",
		RUNS_DEFAULT, WARMUP_DEFAULT, TIMEOUT_DEFAULT_S);
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * Waits until the child has exited or deadline (CLOCK_MONOTONIC) passes.
 * Returns 0 once it has exited, still unreaped: as a zombie it keeps its
 * pid, so kill(-pid) cannot reach a process group that reused the number.
 * Returns -ETIMEDOUT at the deadline, or the negated signal number when
 * launch-bench itself was told to stop; the child still runs then.
 */
static int wait_child(const struct bench *b, pid_t pid, const struct timespec *deadline)
{
	for (;;) {
		struct timespec now, left;
		siginfo_t info;
		int sig;

		info.si_pid = 0; /* WNOHANG leaves it untouched while the child runs */
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 &&
		    errno != EINTR)
			return -errno;
		if (info.si_pid == pid)
			return 0;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = deadline->tv_sec - now.tv_sec;
		left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return -ETIMEDOUT;

		sig = sigtimedwait(&b->waited, NULL, &left);
		if (sig < 0 && errno == EAGAIN)
			return -ETIMEDOUT;
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
			return -sig;
		/* SIGCHLD or EINTR: look again. */
	}
}

/* Kills what the exited leader left in its group, then reaps the leader. */
static void reap_group(pid_t pid, int *status)
{
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* Stops a run's whole process group: politely, then for good; reaps. */
static void stop_group(const struct bench *b, pid_t pid)
{
	struct timespec deadline;
	int status;

	kill(-pid, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += GRACE_S;
	if (wait_child(b, pid, &deadline) != 0)
		kill(-pid, SIGKILL);
	reap_group(pid, &status);
}

static void child_exec(const struct bench *b, char **argv)
{
	int err;

	/* Own process group, so that stop_group() reaches what it spawns. */
	setpgid(0, 0);
	/* The mask survives execve: unblock what the parent blocked. */
	sigprocmask(SIG_SETMASK, &b->original, NULL);
	if (dup2(b->devnull, STDIN_FILENO) < 0 ||
	    (!b->verbose &&
	     (dup2(b->devnull, STDOUT_FILENO) < 0 || dup2(b->devnull, STDERR_FILENO) < 0)))
		_exit(126);
	execvp(argv[0], argv);
	err = errno; /* dprintf may change it */
	dprintf(b->errfd, "launch-bench: %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126); /* the shell's convention */
}

/* One timed run. Returns 0 and the time in *ret_ms, or the exit code for
 * main: 1 when the command failed, 128+N when we were told to stop. */
static int run_once(const struct bench *b, const struct command *c, int n, double *ret_ms)
{
	struct timespec t0, t1, deadline;
	int status = 0, r;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "launch-bench: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0)
		child_exec(b, c->argv);
	setpgid(pid, pid); /* also here: no window where kill(-pid) misses */

	deadline = t0;
	deadline.tv_sec += b->timeout_s;
	r = wait_child(b, pid, &deadline);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0) {
		stop_group(b, pid);
		if (r == -ETIMEDOUT) {
			fprintf(stderr,
				"launch-bench: %s: run %d still running after %d s, killed\n",
				c->label, n, b->timeout_s);
			return 1;
		}
		if (r == -SIGINT || r == -SIGTERM || r == -SIGHUP)
			return 128 - r;
		fprintf(stderr, "launch-bench: waitid: %s\n", strerror(-r));
		return 1;
	}
	/* The leader has exited; anything it left in its group goes too. */
	reap_group(pid, &status);

	if (WIFSIGNALED(status)) {
		fprintf(stderr, "launch-bench: %s: run %d killed by signal %d\n", c->label, n,
			WTERMSIG(status));
		return 1;
	}
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "launch-bench: %s: run %d exited with status %d\n", c->label, n,
			WEXITSTATUS(status));
		return 1;
	}
	*ret_ms = ms_between(&t0, &t1);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts samples in place and prints the result line. The median of an
 * even count is the mean of the two middle samples; p90 is the nearest
 * rank, the smallest sample with at least 90% of samples at or below it. */
static void report(const char *label, double *ms, int n)
{
	double sum = 0, median;
	int p90;

	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	for (int i = 0; i < n; i++)
		sum += ms[i];
	median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
	p90 = (9 * n + 9) / 10 - 1; /* ceil(0.9 n) - 1, in integers: no libm */
	printf("%s n=%d median_ms=%.3f p90_ms=%.3f mean_ms=%.3f min_ms=%.3f max_ms=%.3f\n", label,
	       n, median, ms[p90], sum / n, ms[0], ms[n - 1]);
}

static int parse_int(const char *s, int min, int max, const char *what, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "launch-bench: %s: '%s' is not a number in %d..%d\n", what, s, min,
			max);
		return -1;
	}
	*ret = (int)v;
	return 0;
}

/* Splits argv at SEPARATOR into b->cmds; labels[] name them in order. */
static int split_commands(struct bench *b, char **argv, int argc, const char **labels, int n_labels)
{
	int start = 0;

	for (int i = 0; i <= argc; i++) {
		if (i < argc && strcmp(argv[i], SEPARATOR) != 0)
			continue;
		if (i == start) {
			fprintf(stderr, "launch-bench: empty command around '%s'\n", SEPARATOR);
			return -1;
		}
		if (b->n_cmds == COMMANDS_MAX) {
			fprintf(stderr, "launch-bench: more than %d commands\n", COMMANDS_MAX);
			return -1;
		}
		argv[i] = NULL; /* ends this command's argv (argv[argc] is NULL already) */
		b->cmds[b->n_cmds].argv = argv + start;
		b->cmds[b->n_cmds].label = b->n_cmds < n_labels ? labels[b->n_cmds] : argv[start];
		b->n_cmds++;
		start = i + 1;
	}
	if (n_labels > b->n_cmds) {
		fprintf(stderr, "launch-bench: %d labels for %d commands\n", n_labels, b->n_cmds);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bench b = {
	    .runs = RUNS_DEFAULT,
	    .warmup = WARMUP_DEFAULT,
	    .timeout_s = TIMEOUT_DEFAULT_S,
	    .devnull = -1,
	    .errfd = -1,
	};
	const char *labels[COMMANDS_MAX];
	int n_labels = 0;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "+n:w:t:l:vh", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_int(optarg, 1, RUNS_MAX, "-n", &b.runs) < 0)
				return 2;
			break;
		case 'w':
			if (parse_int(optarg, 0, RUNS_MAX, "-w", &b.warmup) < 0)
				return 2;
			break;
		case 't':
			if (parse_int(optarg, 1, 3600, "-t", &b.timeout_s) < 0)
				return 2;
			break;
		case 'l':
			if (n_labels == COMMANDS_MAX) {
				fprintf(stderr, "launch-bench: more than %d labels\n",
					COMMANDS_MAX);
				return 2;
			}
			labels[n_labels++] = optarg;
			break;
		case 'v':
			b.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "launch-bench: see --help\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "launch-bench: no command (launch-bench -- COMMAND [ARG...])\n");
		return 2;
	}
	if (split_commands(&b, argv + optind, argc - optind, labels, n_labels) < 0)
		return 2;

	/* Blocked before the first fork, so no signal is lost between a
	 * child's birth and our wait; sigtimedwait() takes them. */
	sigemptyset(&b.waited);
	sigaddset(&b.waited, SIGCHLD);
	sigaddset(&b.waited, SIGINT);
	sigaddset(&b.waited, SIGTERM);
	sigaddset(&b.waited, SIGHUP);
	sigprocmask(SIG_BLOCK, &b.waited, &b.original);

	b.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	b.errfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (b.devnull < 0 || b.errfd < 0) {
		fprintf(stderr, "launch-bench: setup: %s\n", strerror(errno));
		r = 1;
		goto out;
	}
	for (int k = 0; k < b.n_cmds; k++) {
		b.cmds[k].ms = calloc((size_t)b.runs, sizeof(double));
		if (!b.cmds[k].ms) {
			fprintf(stderr, "launch-bench: out of memory\n");
			r = 1;
			goto out;
		}
	}

	/* Round i runs every command once, starting one further each round,
	 * so that no command always follows the same one. */
	for (int i = 0; i < b.warmup + b.runs && r == 0; i++) {
		for (int j = 0; j < b.n_cmds && r == 0; j++) {
			struct command *cmd = &b.cmds[(i + j) % b.n_cmds];
			double t = 0;

			r = run_once(&b, cmd, i + 1, &t);
			if (i >= b.warmup)
				cmd->ms[i - b.warmup] = t;
		}
	}
	if (r == 0)
		for (int k = 0; k < b.n_cmds; k++)
			report(b.cmds[k].label, b.cmds[k].ms, b.runs);
out:
	for (int k = 0; k < b.n_cmds; k++)
		free(b.cmds[k].ms);
	if (b.devnull >= 0)
		close(b.devnull);
	if (b.errfd >= 0)
		close(b.errfd);
	if (fflush(stdout) != 0 && r == 0)
		r = 1;
	return r;
}
