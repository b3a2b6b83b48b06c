/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One error convention for all of moat (after crun's libcrun_error_t):
 * a function that can fail returns a negative value and fills a
 * struct moat_error with the errno and a message naming the object.
 * Callers add context with moat_error_prefix() instead of replacing it.
 * Library code never prints or exits; only main() turns an error into
 * one line on stderr and an exit code.
 */
#ifndef MOAT_ERROR_H
#define MOAT_ERROR_H

#include <stdarg.h>
#include <stdio.h>

#define MOAT_ERROR_MSG_MAX 512

struct moat_error {
	int errnum;			/* errno of the cause, 0 when none */
	char msg[MOAT_ERROR_MSG_MAX];	/* "mount /usr on /run/...": no trailing newline */
};

/*
 * Exit codes: a documented contract with orchestration scripts (README.md
 * "Exit codes", moat.1 EXIT STATUS). 125-127 follow docker and podman.
 */
enum moat_exit {
	MOAT_EXIT_OK = 0,
	MOAT_EXIT_FAILURE = 1,	   /* a subcommand failed, or `policy check` found errors */
	MOAT_EXIT_USAGE = 2,	   /* bad option or argument (not for `run`, which uses 125) */
	MOAT_EXIT_NOT_FOUND = 3,   /* no sandbox of that name */
	MOAT_EXIT_LAUNCH = 125,	   /* moat itself failed to start the sandbox */
	MOAT_EXIT_NOEXEC = 126,	   /* the command exists but cannot be executed */
	MOAT_EXIT_NOTFOUND = 127,  /* the command was not found */
	MOAT_EXIT_SIGNAL_BASE = 128 /* + N: the command died of signal N */
};

/* Sets err to (errnum, message) and returns -1, so callers can `return moat_error_set(...)`. */
int moat_error_set(struct moat_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As moat_error_set() with errno as the cause. */
int moat_error_errno(struct moat_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prepends "context: " to the message already in err; returns -1. */
int moat_error_prefix(struct moat_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Writes the formatted text and a newline to f as one line, in one write:
 * every byte that could end the line or drive a terminal escaped (text.h,
 * MOAT_ESCAPE_TERMINAL), as messages carry names, paths and values that came
 * from the user or the sandbox. Escaping once here, at output, means no
 * caller escapes its arguments. Text past 2 KiB is cut.
 */
void moat_print_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "moat: MESSAGE[: strerror]" with moat_print_line: the one line a user sees. */
void moat_error_print(const struct moat_error *err, FILE *f);

#endif
