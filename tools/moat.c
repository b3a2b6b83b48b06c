// SPDX-License-Identifier: GPL-2.0-or-later
/* moat: run model servers in kernel-enforced sandboxes. Subcommand dispatch. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "moat.h"
#include "text.h"

#define MOAT_VERSION "0.1.0"

static void usage(FILE *f)
{
	fputs("Usage: moat COMMAND [OPTIONS]\n"
	      "\n"
	      "Run model servers in sandboxes: their own namespaces, file system, no\n"
	      "capabilities, and a policy file that says what each may do.\n"
	      "\n"
	      "Commands:\n"
	      "  run [OPTIONS] -- CMD [ARG...]   start CMD in a new sandbox (see moat run --help)\n"
	      "  stop NAME [--timeout S]         stop a sandbox: SIGTERM, SIGKILL after S seconds\n"
	      "  ls [--json]                     list sandboxes\n"
	      "  status [NAME] [--json]          a sandbox's use, limits, guarantees, denials\n"
	      "  top [--sort KEY]                every sandbox live, refreshed each second (q quits)\n"
	      "  metrics [--listen ADDR:PORT]    counters in the Prometheus text format\n"
	      "  events NAME [-f] [--json]       a sandbox's audit log, also after it ended\n"
	      "  gc                              remove what dead sandboxes left behind\n"
	      "  policy check FILE...            validate policy files\n"
	      "  policy show [--tier T | FILE]   print the effective policy after inheritance\n"
	      "  help [COMMAND [SUBCOMMAND]]     this help, or COMMAND's (as COMMAND --help)\n"
	      "\n"
	      "Exit codes of moat run: the command's own; 125 moat failed; 126 command not\n"
	      "executable; 127 command not found; 128+N the command died of signal N.\n"
	      "Other commands: 0 ok, 1 failed (policy check: invalid), 2 bad usage, 3 no such sandbox.\n"
	      "\n"
	      "Examples:\n"
	      "  moat run -- python3 -c 'print(1)'\n"
	      "  moat run --detach --name llm --bind /srv/models:/models --memory 8G -- \\\n"
	      "      python3 /models/serve.py\n"
	      "  moat ls --json\n"
	      "  moat stop llm --timeout 5\n"
	      "  moat events --follow llm\n"
	      "  moat status llm\n"
	      "  moat metrics --listen 127.0.0.1:9477\n"
	      "  moat policy check policies/*.ini\n",
	      f);
}

int moat_usage_error(int code, const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The message often quotes an argument: it is escaped with the rest. */
	moat_print_line(stderr, "moat: %s: %s", cmd, msg);
	return code;
}

static bool short_cluster_has(const char *word, int opt)
{
	return word && word[0] == '-' && word[1] != '-' && strchr(word + 1, opt);
}

int moat_option_error(int code, const char *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return moat_usage_error(code, cmd, "option %s needs a value", arg);
	/* getopt stays on a cluster ("-xq") until its last letter, so a bad
	 * letter is in argv[optind] or, the last one, in argv[optind - 1]. */
	if (optopt > 0 && optopt < 256 &&
	    (short_cluster_has(argv[optind], optopt) || short_cluster_has(arg, optopt)))
		return moat_usage_error(code, cmd, "unknown option -%c", optopt);
	return moat_usage_error(code, cmd, "unknown option %s", arg);
}

void moat_put_safe_n(const char *s, size_t n)
{
	moat_escape_write(stdout, s, n);
}

void moat_put_safe(const char *s)
{
	moat_put_safe_n(s, strlen(s));
}

int moat_fail(const struct moat_error *err, int code)
{
	moat_error_print(err, stderr);
	return code;
}

/* Opens /dev/null on each of fds 0-2 that the caller left closed. */
static int open_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* Those below are open by now: the lowest free fd is this one. */
		if (open("/dev/null", O_RDWR) < 0)
			return -1;
	}
	return 0;
}

typedef int command_fn(int argc, char **argv);

static command_fn *find_command(const char *name)
{
	static const struct {
		const char *name;
		command_fn *fn;
	} cmds[] = {
		{"run", cmd_run}, {"stop", cmd_stop},	  {"ls", cmd_ls},
		{"gc", cmd_gc},	  {"policy", cmd_policy}, {"events", cmd_events},
		{"status", cmd_status}, {"top", cmd_top}, {"metrics", cmd_metrics},
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(name, cmds[i].name) == 0)
			return cmds[i].fn;
	return NULL;
}

/* moat help CMD [SUB]: what `moat CMD [SUB] --help` prints. */
static int help(int argc, char **argv)
{
	command_fn *fn = find_command(argv[0]);
	char *args[4] = {0};

	if (!fn)
		return moat_usage_error(MOAT_EXIT_USAGE, "help",
					"unknown command \"%s\" (see moat --help)", argv[0]);
	if (argc > 2 || (argc == 2 && fn != cmd_policy))
		return moat_usage_error(MOAT_EXIT_USAGE, "help", "expected COMMAND [SUBCOMMAND]");
	args[0] = argv[0];
	args[argc] = "--help";
	if (argc == 2)
		args[1] = argv[1];
	return fn(argc + 1, args);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	command_fn *fn;

	/* Before anything opens a file: one would otherwise become stdin,
	 * stdout or stderr, and reach the sandbox as such. */
	if (open_std_fds() < 0) {
		perror("moat: open /dev/null for a closed standard fd");
		return cmd && strcmp(cmd, "run") == 0 ? MOAT_EXIT_LAUNCH : MOAT_EXIT_FAILURE;
	}
	if (!cmd) {
		moat_print_line(stderr, "moat: no command given (see moat --help)");
		return MOAT_EXIT_USAGE;
	}
	if (strcmp(cmd, "help") == 0 && argc > 2)
		return help(argc - 2, argv + 2);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return MOAT_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("moat %s\n", MOAT_VERSION);
		return MOAT_EXIT_OK;
	}
	fn = find_command(cmd);
	if (fn)
		return fn(argc - 1, argv + 1);
	moat_print_line(stderr, "moat: unknown command \"%s\" (see moat --help)", cmd);
	return MOAT_EXIT_USAGE;
}
