// SPDX-License-Identifier: GPL-2.0-or-later
/* moat run: load the policy, apply the command line, start the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "moat.h"
#include "policy.h"

/* Every `moat run` failure of its own is 125: lower codes belong to the command. */
#define RUN_FAIL MOAT_EXIT_LAUNCH

struct run_args {
	const char *name;
	const char *policy_path;
	const char *tier;
	bool detach;
	bool allow_degraded;
	struct moat_strv overrides; /* "section\0key\0value" triples, flattened */
};

static void run_usage(FILE *f)
{
	fputs("Usage: moat run [OPTIONS] -- COMMAND [ARG...]\n"
	      "\n"
	      "Starts COMMAND in a new sandbox and waits for it (or returns at once with --detach).\n"
	      "\n"
	      "  -n, --name NAME          sandbox name, unique on the host: a letter or digit,\n"
	      "                           then letters, digits, '_', '.', '-' (default TIER-RANDOM)\n"
	      "  -p, --policy FILE        policy file (its [sandbox] tier is the base)\n"
	      "  -t, --tier TIER          use tier TIER (public, internal, critical) as the policy\n"
	      "      --allow-degraded     run even if syscall accounting cannot be set up (shown\n"
	      "                           by moat status); every other layer always fails closed\n"
	      "  -d, --detach             return once COMMAND runs; print the name; output goes\n"
	      "                           to /var/log/moat/NAME.log\n"
	      "Overrides of policy keys:\n"
	      "      --bind SRC[:DST[:ro|rw]]  bind a host path (read-only unless :rw)\n"
	      "      --env NAME[=VALUE]   pass NAME from this environment, or set it\n"
	      "      --user UID:GID       run COMMAND as UID:GID (default 65534:65534)\n"
	      "      --memory SIZE        memory limit (e.g. 512M, 4G)\n"
	      "      --cpus N             CPU quota (e.g. 1.5)\n"
	      "      --pids N             process limit\n"
	      "      --net none|veth      network mode; none also turns off nat and egress rules\n"
	      "      --allow RULE         allow egress to RULE (e.g. '10.0.0.0/8 tcp/443',\n"
	      "                           'model:NAME tcp/9000'; needs --net veth)\n"
	      "      --publish [HOSTIP:]HOSTPORT:PORT\n"
	      "                           serve the sandbox's 127.0.0.1:PORT on HOSTIP:HOSTPORT\n"
	      "                           (default 127.0.0.1)\n"
	      "  -h, --help               show this help\n"
	      "\n"
	      "Exit status: COMMAND's own; 125 moat failed; 126 COMMAND not executable;\n"
	      "127 COMMAND not found; 128+N COMMAND died of signal N.\n"
	      "\n"
	      "Examples:\n"
	      "  moat run -- /bin/sh -c 'id; hostname'\n"
	      "  moat run --tier internal --net none --bind /srv/models:/models --env HF_HOME=/tmp -- \\\n"
	      "      python3 /models/serve.py\n"
	      "  moat run -d --name clf --policy /etc/moat/clf.ini -- /usr/bin/clf-server\n"
	      "  moat run -d --name emb --tier internal --publish 8080:8000 -- /srv/emb/serve\n",
	      f);
}

static int add_override(struct run_args *a, const char *section, const char *key,
			const char *value)
{
	if (moat_strv_push(&a->overrides, section) < 0 || moat_strv_push(&a->overrides, key) < 0 ||
	    moat_strv_push(&a->overrides, value) < 0)
		return -1;
	return 0;
}

/* --bind SRC[:DST[:ro|rw]]: the mode suffix picks the key, the rest is the key's value. */
static int add_bind(struct run_args *a, const char *spec)
{
	_cleanup_free_ char *copy = strdup(spec);
	const char *key = "ro";
	char *colon;

	if (!copy)
		return -1;
	colon = strrchr(copy, ':');
	if (colon && (strcmp(colon, ":ro") == 0 || strcmp(colon, ":rw") == 0)) {
		key = colon[2] == 'w' ? "rw" : "ro";
		*colon = '\0';
	}
	return add_override(a, "filesystem", key, copy);
}

/* --env NAME=VALUE sets; --env NAME passes the caller's value. */
static int add_env(struct run_args *a, const char *spec)
{
	return add_override(a, "env", strchr(spec, '=') ? "set" : "pass", spec);
}

/* --net none means no network at all: what the tier allowed out goes too. */
static int add_net(struct run_args *a, const char *mode)
{
	if (add_override(a, "network", "mode", mode) < 0)
		return -1;
	if (strcmp(mode, "none") != 0)
		return 0;
	if (add_override(a, "network", "nat", "no") < 0)
		return -1;
	return add_override(a, "network", "egress", "");
}

static int parse_args(int argc, char **argv, struct run_args *a)
{
	enum { OPT_BIND = 256, OPT_ENV, OPT_USER, OPT_MEMORY, OPT_CPUS, OPT_PIDS, OPT_NET,
	       OPT_ALLOW, OPT_PUBLISH, OPT_ALLOW_DEGRADED };
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'},	  {"policy", required_argument, NULL, 'p'},
		{"tier", required_argument, NULL, 't'},	  {"detach", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},	  {"bind", required_argument, NULL, OPT_BIND},
		{"env", required_argument, NULL, OPT_ENV}, {"user", required_argument, NULL, OPT_USER},
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"cpus", required_argument, NULL, OPT_CPUS},
		{"pids", required_argument, NULL, OPT_PIDS},
		{"net", required_argument, NULL, OPT_NET},
		{"allow", required_argument, NULL, OPT_ALLOW},
		{"publish", required_argument, NULL, OPT_PUBLISH},
		{"allow-degraded", no_argument, NULL, OPT_ALLOW_DEGRADED},
		{0},
	};
	int c, r = 0;

	opterr = 0;
	/* "+": stop at the first non-option, which is the command; ":": report a
	 * missing value as ':'. */
	while ((c = getopt_long(argc, argv, "+:n:p:t:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': a->name = optarg; break;
		case 'p': a->policy_path = optarg; break;
		case 't': a->tier = optarg; break;
		case 'd': a->detach = true; break;
		case 'h': run_usage(stdout); return 1;
		case OPT_BIND: r = add_bind(a, optarg); break;
		case OPT_ENV: r = add_env(a, optarg); break;
		case OPT_USER: r = add_override(a, "sandbox", "user", optarg); break;
		case OPT_MEMORY: r = add_override(a, "resources", "memory", optarg); break;
		case OPT_CPUS: r = add_override(a, "resources", "cpus", optarg); break;
		case OPT_PIDS: r = add_override(a, "resources", "pids", optarg); break;
		case OPT_NET: r = add_net(a, optarg); break;
		case OPT_ALLOW: r = add_override(a, "network", "egress", optarg); break;
		case OPT_PUBLISH: r = add_override(a, "network", "publish", optarg); break;
		case OPT_ALLOW_DEGRADED: a->allow_degraded = true; break;
		default:
			return moat_option_error(-1, "run", c, argv);
		}
		if (r < 0)
			return moat_usage_error(-1, "run", "out of memory");
	}
	if (optind >= argc)
		return moat_usage_error(-1, "run", "no command given (moat run [OPTIONS] -- COMMAND)");
	if (a->policy_path && a->tier)
		return moat_usage_error(-1, "run", "--policy and --tier conflict: a policy file "
					"names its tier in [sandbox] tier");
	if (a->name && !moat_name_valid(a->name))
		return moat_usage_error(-1, "run", "invalid name \"%s\" (letters, digits, '_', '.', "
					"'-'; at most %d)", a->name, MOAT_NAME_MAX);
	return 0;
}

static void print_diag(const struct moat_diag *d)
{
	/* One line: the first problem. `moat policy check` lists them all. */
	if (d->lines.n > 0)
		moat_print_line(stderr, "moat: %s%s", d->lines.v[0],
				d->lines.n > 1 ? " (and more problems)" : "");
}

static int load_policy(const struct run_args *a, struct moat_policy **ret)
{
	struct moat_diag diag = {0};
	struct moat_policy *p = NULL;
	int r;

	if (a->policy_path)
		r = moat_policy_load_file(a->policy_path, &p, &diag);
	else
		r = moat_policy_load_tier(a->tier ? a->tier : MOAT_DEFAULT_TIER, &p, &diag);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i + 2 < a->overrides.n; i += 3) {
		_cleanup_free_ char *msg = NULL;
		const char *key = a->overrides.v[i + 1];

		if (moat_policy_set(p, a->overrides.v[i], key, a->overrides.v[i + 2], &msg) < 0) {
			moat_print_line(stderr, "moat: run: %s", msg ? msg : "bad override");
			moat_policy_free(p);
			moat_diag_free(&diag);
			return RUN_FAIL;
		}
	}
	if (moat_policy_validate(p, a->policy_path ? a->policy_path : "command line", &diag) < 0)
		goto fail;
	*ret = p;
	moat_diag_free(&diag);
	return 0;
fail:
	print_diag(&diag);
	moat_diag_free(&diag);
	moat_policy_free(p);
	return RUN_FAIL;
}

/*
 * --detach: the supervisor must be the process that clones the sandbox (the
 * parent-death signal is tied to it), so fork it first and wait here only for
 * its report that the command was exec'd.
 */
static int run_detached(struct moat_launch_opts *o)
{
	struct moat_launch_report rep = {.code = RUN_FAIL};
	int pipefd[2];
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("moat: pipe");
		return RUN_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("moat: fork");
		return RUN_FAIL;
	}
	if (pid == 0) {
		struct moat_error err;

		close(pipefd[0]);
		/* Out of the caller's session: a closing terminal must not kill it. */
		setsid();
		o->notify_fd = pipefd[1];
		_exit(moat_sandbox_run(o, &err));
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n != (ssize_t)sizeof(rep)) {
		/* The supervisor died before reporting: reap it for its status. */
		int status = 0;

		waitpid(pid, &status, 0);
		moat_print_line(stderr, "moat: run: supervisor exited before the start");
		return RUN_FAIL;
	}
	if (rep.code != 0) {
		waitpid(pid, NULL, 0);
		return moat_fail(&rep.err, rep.code);
	}
	printf("%s\n", o->name);
	return MOAT_EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
	extern char **environ;
	struct run_args a = {0};
	struct moat_policy *p = NULL;
	struct moat_error err;
	char name[MOAT_NAME_MAX + 1];
	int code;

	code = parse_args(argc, argv, &a);
	if (code != 0) {
		moat_strv_clear(&a.overrides);
		return code > 0 ? MOAT_EXIT_OK : RUN_FAIL;
	}
	if (geteuid() != 0) {
		moat_strv_clear(&a.overrides);
		moat_print_line(stderr, "moat: run: needs root (namespaces, mounts, cgroups)");
		return RUN_FAIL;
	}
	code = load_policy(&a, &p);
	moat_strv_clear(&a.overrides);
	if (code != 0)
		return code;
	if (a.name) {
		snprintf(name, sizeof(name), "%s", a.name);
	} else if (moat_sandbox_name_generate(p->tier, name, sizeof(name), &err) < 0) {
		moat_policy_free(p);
		return moat_fail(&err, RUN_FAIL);
	}
	struct moat_launch_opts o = {
		.name = name,
		.policy = p,
		.policy_path = a.policy_path,
		.argv = argv + optind,
		.caller_env = environ,
		.detach = a.detach,
		.allow_degraded = a.allow_degraded,
		.notify_fd = -1,
	};
	if (a.detach) {
		code = run_detached(&o);
	} else {
		code = moat_sandbox_run(&o, &err);
		if (err.msg[0])
			moat_error_print(&err, stderr);
	}
	moat_policy_free(p);
	return code;
}
