/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sandbox state: one directory per running sandbox, /run/moat/NAME/, holding
 * state.json (written atomically) and the effective policy. The supervisor
 * holds an exclusive flock on the directory for its whole life, so "is it
 * alive?" is a non-blocking lock probe: no pid files to go stale, no pid reuse.
 * A global lock (/run/moat/.lock) serialises claiming and collecting names.
 */
#ifndef MOAT_STATE_H
#define MOAT_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json.h>

#include "error.h"
#include "util.h"

#define MOAT_RUN_DIR "/run/moat"
#define MOAT_STATE_POLICY_FILE "policy.ini" /* the effective policy, written at the claim */
#define MOAT_LOG_DIR "/var/log/moat"

struct moat_state {
	char name[64];
	int dirfd;     /* O_DIRECTORY fd of /run/moat/NAME, flock'ed; -EBADF when closed */
	char *dir;     /* "/run/moat/NAME" */
	json_object *json;
};

/*
 * Claims NAME: under the global lock, refuses a name whose supervisor is alive
 * (EEXIST, "sandbox NAME is already running"), collects a dead one's leftovers
 * with collect, then creates the directory and locks it. On success *st is
 * initialised and owned by the caller (moat_state_release()), and err is
 * untouched.
 *
 * A collector gets the dead sandbox's state.json (borrowed), or NULL when it
 * died before writing one (or left one that cannot be read); it runs with the
 * global lock held and the directory still in place, and returns 0 or -1 with
 * err filled (the directory then stays, for a later gc).
 */
typedef int (*moat_state_collector)(const char *name, json_object *state, struct moat_error *err);
int moat_state_claim(const char *name, moat_state_collector collect, struct moat_state *st,
		     struct moat_error *err);

/* Writes st->json to state.json atomically. */
int moat_state_save(struct moat_state *st, struct moat_error *err);

/* Writes a file into the state directory atomically (e.g. "policy.ini"). */
int moat_state_write_file(struct moat_state *st, const char *file, const char *data,
			  struct moat_error *err);

/* Removes the directory and drops the lock: the last step of teardown.
 * state.json goes last, MOAT_STATE_POLICY_FILE just before it (see
 * collect.h). Idempotent. */
int moat_state_remove(struct moat_state *st, struct moat_error *err);

/* Frees memory and closes the lock fd without removing anything (the child side). */
void moat_state_release(struct moat_state *st);

/* True while a supervisor holds NAME's lock. */
bool moat_state_alive(const char *name);

/* Reads /run/moat/NAME/state.json; the caller owns *ret (json_object_put).
 * ENOENT when there is no such sandbox. */
int moat_state_read(const char *name, json_object **ret, struct moat_error *err);

/* Names of every state directory, sorted. */
int moat_state_list(struct moat_strv *ret, struct moat_error *err);

/*
 * Garbage collection: when NAME's supervisor is dead, runs collect on its
 * recorded state (cgroups, veths, BPF pins: whatever the layers recorded)
 * and removes the directory. Returns 1 when something was collected, 0 when
 * NAME is alive or absent. Takes the global lock itself.
 */
int moat_state_collect(const char *name, moat_state_collector collect, struct moat_error *err);

/* Takes/drops the global lock (a flock on /run/moat/.lock). */
int moat_state_lock_global(struct moat_error *err);

/* Creates path (a lock file in MOAT_RUN_DIR, made 0711 if missing) and takes
 * an exclusive flock on it, waiting. Returns the fd (closing it unlocks) or
 * -1 with err filled. */
int moat_state_lock_file(const char *path, struct moat_error *err);
void moat_state_unlock_global(int fd);

#endif
