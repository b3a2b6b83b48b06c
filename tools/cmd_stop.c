// SPDX-License-Identifier: GPL-2.0-or-later
/* moat stop NAME [--timeout S]: SIGTERM to the command, SIGKILL to the sandbox after S. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "moat.h"
#include "parse.h"
#include "state.h"

#define DEFAULT_TIMEOUT_S 10
/* After SIGKILL the supervisor only tears down: this is its bound. */
#define TEARDOWN_TIMEOUT_S 30

/* A pidfd of pid, if pid still names the process that started at starttime. */
static int open_process(json_object *state, const char *pid_key, const char *start_key)
{
	json_object *jp, *js;
	unsigned long long start, now;
	pid_t pid;
	int fd;

	if (!json_object_object_get_ex(state, pid_key, &jp))
		return -1;
	pid = json_object_get_int(jp);
	if (pid <= 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	/* Checked after opening the pidfd: from here on pid cannot be reused under us. */
	if (start_key && json_object_object_get_ex(state, start_key, &js)) {
		start = json_object_get_uint64(js);
		if (moat_proc_starttime(pid, &now) < 0 || now != start) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static bool wait_exit(int pidfd, int timeout_s)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, timeout_s * 1000);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

static void send_signal(int pidfd, int sig)
{
	syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int stop_usage(FILE *f, int code)
{
	fputs("Usage: moat stop NAME [-T|--timeout S]\n"
	      "\n"
	      "Sends SIGTERM to the sandbox's command, SIGKILL to the whole sandbox after S\n"
	      "seconds (default 10), and waits until moat has torn it down.\n"
	      "Exit: 0 stopped, 3 no such sandbox, 1 it could not be stopped, 2 bad usage.\n"
	      "\n"
	      "Example:\n"
	      "  moat stop llm --timeout 5\n",
	      f);
	return code;
}

int cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int timeout = DEFAULT_TIMEOUT_S, c;
	const char *name;
	json_object *state = NULL;
	struct moat_error err;
	int sup = -1, init = -1;
	uint64_t v;
	const char *msg;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'T':
			if (moat_parse_uint(optarg, 0, 86400, &v, &msg) < 0)
				return moat_usage_error(MOAT_EXIT_USAGE, "stop", "--timeout: %s", msg);
			timeout = (int)v;
			break;
		case 'h':
			return stop_usage(stdout, MOAT_EXIT_OK);
		default:
			return moat_option_error(MOAT_EXIT_USAGE, "stop", c, argv);
		}
	}
	if (optind + 1 != argc)
		return moat_usage_error(MOAT_EXIT_USAGE, "stop", "expected one sandbox name");
	name = argv[optind];
	/* A name no sandbox can have is a usage error, as for status and events. */
	if (!moat_name_valid(name))
		return moat_usage_error(MOAT_EXIT_USAGE, "stop", "invalid sandbox name \"%s\"",
					name);
	if (!moat_state_alive(name)) {
		moat_print_line(stderr, "moat: stop: no running sandbox named \"%s\"", name);
		return MOAT_EXIT_NOT_FOUND;
	}
	if (moat_state_read(name, &state, &err) < 0)
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	sup = open_process(state, "supervisor_pid", "supervisor_starttime");
	init = open_process(state, "pid", "pid_starttime");
	json_object_put(state);
	if (sup < 0) {
		moat_print_line(stderr, "moat: stop: %s: supervisor is gone (run moat gc)", name);
		if (init >= 0)
			close(init);
		return MOAT_EXIT_NOT_FOUND;
	}
	/* The supervisor forwards SIGTERM to the command, through init. */
	send_signal(sup, SIGTERM);
	if (!wait_exit(sup, timeout)) {
		/* SIGKILL to PID 1 of the sandbox takes the whole PID namespace down;
		 * the supervisor sees init die and tears everything down. */
		if (init >= 0)
			send_signal(init, SIGKILL);
		if (!wait_exit(sup, TEARDOWN_TIMEOUT_S)) {
			moat_print_line(stderr, "moat: stop: %s: teardown did not finish in %d s",
					name, TEARDOWN_TIMEOUT_S);
			close(sup);
			if (init >= 0)
				close(init);
			return MOAT_EXIT_FAILURE;
		}
	}
	close(sup);
	if (init >= 0)
		close(init);
	return MOAT_EXIT_OK;
}
