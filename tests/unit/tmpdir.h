/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A cmocka fixture for unit tests that write files: a fresh directory under
 * /tmp for each test, removed after it (moat_rm_rf, from sandbox/util.c). */
#ifndef MOAT_TEST_TMPDIR_H
#define MOAT_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

struct fixture {
	char dir[64];
	char path[128]; /* path_of()'s result */
};

/* For a setup function: *state becomes a fixture with /tmp/moat-test-NAME-XXXXXX made. */
static inline int tmpdir_setup(void **state, const char *name)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-%s-XXXXXX", name);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int tmpdir_teardown(void **state)
{
	struct fixture *f = *state;
	struct moat_error err;

	moat_rm_rf(f->dir, &err);
	free(f);
	return 0;
}

/* DIR/file, in the fixture: valid until the next call. */
static inline const char *path_of(struct fixture *f, const char *file)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, file);
	return f->path;
}

#endif
