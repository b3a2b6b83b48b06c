/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The moat command-line front: one cmd_NAME per subcommand, each returning an exit code. */
#ifndef MOAT_TOOLS_H
#define MOAT_TOOLS_H

#include <stdio.h>

#include "error.h"

int cmd_run(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/* One line "moat: CMD: message" on stderr for a bad option; returns code. */
int moat_usage_error(int code, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The one line for what getopt_long (optstring starting with ':') returned
 * other than an option: c is ':' (an option without its value) or '?'. */
int moat_option_error(int code, const char *cmd, int c, char **argv);

/* Writes s (n bytes) to stdout escaped (text.h): strings from inside a
 * sandbox (a process's name, its command line) must not drive the reader's
 * terminal. */
void moat_put_safe_n(const char *s, size_t n);
void moat_put_safe(const char *s);

/* Prints err as one line and returns code. */
int moat_fail(const struct moat_error *err, int code);

#endif
