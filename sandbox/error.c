// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "text.h"

static void error_vset(struct moat_error *err, int errnum, const char *fmt, va_list ap)
{
	err->errnum = errnum;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int moat_error_set(struct moat_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int moat_error_errno(struct moat_error *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, saved, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int moat_error_prefix(struct moat_error *err, const char *fmt, ...)
{
	char old[MOAT_ERROR_MSG_MAX];
	size_t len, rest;
	va_list ap;
	int n;

	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	len = n < 0 ? 0 : (size_t)n;
	if (len > sizeof(err->msg) - 3)
		len = sizeof(err->msg) - 3;
	/* Long messages are cut: the context and the start of the cause matter most. */
	memcpy(err->msg + len, ": ", 2);
	len += 2;
	rest = strnlen(old, sizeof(old) - 1);
	if (rest > sizeof(err->msg) - 1 - len)
		rest = sizeof(err->msg) - 1 - len;
	memcpy(err->msg + len, old, rest);
	err->msg[len + rest] = '\0';
	return -1;
}

/* The longest line moat_print_line writes; longer ones are cut. */
#define LINE_MAX_RAW 2048

void moat_print_line(FILE *f, const char *fmt, ...)
{
	char raw[LINE_MAX_RAW], line[MOAT_ESCAPE_MAX_PER_BYTE * LINE_MAX_RAW + 2];
	size_t len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	moat_escape(raw, strnlen(raw, sizeof(raw)), MOAT_ESCAPE_TERMINAL, line, sizeof(line) - 1,
		    &len);
	line[len++] = '\n';
	/* One write: the line cannot interleave with another process's output
	 * (a detached sandbox's log gets the supervisor's lines too). */
	fwrite(line, 1, len, f);
	fflush(f);
}

void moat_error_print(const struct moat_error *err, FILE *f)
{
	if (err->errnum)
		moat_print_line(f, "moat: %s: %s", err->msg, strerror(err->errnum));
	else
		moat_print_line(f, "moat: %s", err->msg);
}
