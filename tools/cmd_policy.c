// SPDX-License-Identifier: GPL-2.0-or-later
/* moat policy check FILE... | moat policy show [--tier T | FILE] */
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
	      "\n"
	      "Examples:\n"
	      "  moat policy check policies/*.ini /etc/moat/llm.ini\n"
	      "  moat policy show --tier critical\n",
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
	int code = MOAT_EXIT_OK;

	if (argc < 2)
		return moat_usage_error(MOAT_EXIT_USAGE, "policy check", "expected FILE...");
	for (int i = 1; i < argc; i++) {
		if (check_one(argv[i], NULL) < 0)
			code = MOAT_EXIT_FAILURE;
		else
			moat_print_line(stdout, "%s: ok", argv[i]);
	}
	return code;
}

static int policy_show(int argc, char **argv)
{
	struct moat_policy *p = NULL;
	struct moat_diag diag = {0};
	int r;

	if (argc == 3 && strcmp(argv[1], "--tier") == 0) {
		r = moat_policy_load_tier(argv[2], &p, &diag);
		print_diag(&diag);
		moat_diag_free(&diag);
	} else if (argc == 2 && argv[1][0] != '-') {
		r = check_one(argv[1], &p);
	} else if (argc == 1) {
		r = moat_policy_load_tier(MOAT_DEFAULT_TIER, &p, &diag);
		print_diag(&diag);
		moat_diag_free(&diag);
	} else {
		return moat_usage_error(MOAT_EXIT_USAGE, "policy show",
					"expected --tier TIER or one FILE");
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
