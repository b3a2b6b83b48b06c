/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_LAUNCH_H
#define MOAT_LAUNCH_H

#include <stdbool.h>

#include <json.h>

#include "error.h"
#include "parse.h"
#include "policy.h"

struct moat_launch_opts {
	const char *name;	     /* valid sandbox name (see moat_sandbox_name_generate) */
	const struct moat_policy *policy; /* effective and validated */
	const char *policy_path;     /* the file it came from, or NULL for a plain tier */
	char *const *argv;	     /* the command, argv[0] looked up in the sandbox's PATH */
	char *const *caller_env;     /* where [env] pass takes values from */
	bool detach;		     /* stdio to the log; report the start on notify_fd */
	bool allow_degraded;	     /* accounting may fail: recorded, shown by status */
	int notify_fd;		     /* detach: receives one struct moat_launch_report; else -1 */
};

/* What a detached supervisor tells the `moat run` that forked it. */
struct moat_launch_report {
	int code; /* 0: the command was exec'd; else the exit code moat run returns */
	struct moat_error err;
};

/*
 * Runs one sandbox from start to teardown and returns moat's exit status:
 * the command's own, 128+N when it died of signal N, or when moat failed
 * 125 (126/127: the command could not be executed / was not found) with
 * err->msg set to the one line to print. The caller must be single-threaded.
 */
int moat_sandbox_run(const struct moat_launch_opts *opts, struct moat_error *err);

/* Writes a fresh name "TIER-xxxxxxxx" into buf (at least MOAT_NAME_MAX + 1 bytes). */
int moat_sandbox_name_generate(const char *tier, char *buf, size_t len, struct moat_error *err);

#endif
