// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

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
	char ctx[MOAT_ERROR_MSG_MAX];
	va_list ap;

	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	snprintf(err->msg, sizeof(err->msg), "%s: %s", ctx, old);
	return -1;
}

void moat_error_print(const struct moat_error *err, FILE *f)
{
	if (err->errnum)
		fprintf(f, "moat: %s: %s\n", err->msg, strerror(err->errnum));
	else
		fprintf(f, "moat: %s\n", err->msg);
}
