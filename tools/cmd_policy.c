// SPDX-License-Identifier: GPL-2.0-or-later
/* moat policy check FILE... | moat policy show [--tier T | FILE] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "moat.h"
#include "policy.h"

static int policy_usage(FILE *f, int code)
{
	fputs("Usage: moat policy check FILE...\n"
	      "       moat policy show [--tier TIER | FILE]\n"
	      "\n"
	      "check: prints every problem as FILE:LINE: message; exit 1 if any.\n"
	      "show:  prints the effective policy after inheritance (default: the\n"
	      "       default tier, " MOAT_DEFAULT_TIER ").\n"
	      "See moat policy check --help and moat policy show --help.\n"
	      "\n"
	      "Examples:\n"
	      "  moat policy check policies/*.ini /etc/moat/llm.ini\n"
	      "  moat policy show --tier critical\n",
	      f);
	return code;
}

static int check_usage(FILE *f, int code)
{
	fputs("Usage: moat policy check [--] FILE...\n"
	      "\n"
	      "Loads and validates each FILE with its base tier. Prints \"FILE: ok\" for a\n"
	      "valid file, and every problem of an invalid one on stderr, one a line, as\n"
	      "FILE:LINE: message. Needs no privileges. A FILE that starts with '-'\n"
	      "comes after --.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help    print this help\n"
	      "\n"
	      "Exit: 0 every file valid, 1 a problem (or a file that cannot be read),\n"
	      "2 bad usage.\n"
	      "\n"
	      "Example:\n"
	      "  moat policy check policies/*.ini /etc/moat/llm.ini\n",
	      f);
	return code;
}

static int show_usage(FILE *f, int code)
{
	fputs("Usage: moat policy show [-t|--tier TIER | [--] FILE]\n"
	      "\n"
	      "Prints the effective policy after inheritance, of FILE, of the tier TIER,\n"
	      "or of the default tier (" MOAT_DEFAULT_TIER "): every key, so that the\n"
	      "output loads back to the same policy. Problems are printed as by\n"
	      "moat policy check.\n"
	      "\n"
	      "Options:\n"
	      "  -t, --tier TIER  the tier TIER (public, internal, critical)\n"
	      "  -h, --help       print this help\n"
	      "\n"
	      "Exit: 0 ok, 1 the policy does not load, 2 bad usage.\n"
	      "\n"
	      "Examples:\n"
	      "  moat policy show --tier critical\n"
	      "  moat policy show /etc/moat/llm.ini\n",
	      f);
	return code;
}

static void print_diag(const struct moat_diag *d)
{
	for (size_t i = 0; i < d->lines.n; i++)
		moat_print_line(stderr, "%s", d->lines.v[i]);
}

/* Loads one file, printing its problems. Returns 0 if valid. */
static int check_one(const char *path, struct moat_policy **ret)
{
	struct moat_diag diag = {0};
	struct moat_policy *p = NULL;
	int r;

	/* Loading validates too: conflicts come back with the other problems. */
	r = moat_policy_load_file(path, &p, &diag);
	print_diag(&diag);
	moat_diag_free(&diag);
	if (r < 0 || !ret)
		moat_policy_free(p);
	else
		*ret = p;
	return r;
}

static int policy_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int code = MOAT_EXIT_OK, c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return check_usage(stdout, MOAT_EXIT_OK);
		return moat_option_error(MOAT_EXIT_USAGE, "policy check", c, argv);
	}
	if (optind >= argc)
		return moat_usage_error(MOAT_EXIT_USAGE, "policy check", "expected FILE...");
	for (int i = optind; i < argc; i++) {
		if (check_one(argv[i], NULL) < 0)
			code = MOAT_EXIT_FAILURE;
		else
			moat_print_line(stdout, "%s: ok", argv[i]);
	}
	return code;
}

static int policy_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"tier", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct moat_policy *p = NULL;
	struct moat_diag diag = {0};
	const char *tier = NULL;
	int r, c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tier = optarg;
			break;
		case 'h':
			return show_usage(stdout, MOAT_EXIT_OK);
		default:
			return moat_option_error(MOAT_EXIT_USAGE, "policy show", c, argv);
		}
	}
	if (argc - optind > 1 || (tier && optind < argc))
		return moat_usage_error(MOAT_EXIT_USAGE, "policy show",
					"expected --tier TIER or one FILE");
	if (optind < argc) {
		r = check_one(argv[optind], &p);
	} else {
		r = moat_policy_load_tier(tier ? tier : MOAT_DEFAULT_TIER, &p, &diag);
		print_diag(&diag);
		moat_diag_free(&diag);
	}
	if (r < 0)
		return MOAT_EXIT_FAILURE;
	moat_policy_format(p, stdout);
	moat_policy_free(p);
	return MOAT_EXIT_OK;
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2)
		return moat_usage_error(MOAT_EXIT_USAGE, "policy",
					"expected check or show (see moat policy --help)");
	if (strcmp(argv[1], "check") == 0)
		return policy_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return policy_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return policy_usage(stdout, MOAT_EXIT_OK);
	return moat_usage_error(MOAT_EXIT_USAGE, "policy", "unknown subcommand \"%s\"", argv[1]);
}
