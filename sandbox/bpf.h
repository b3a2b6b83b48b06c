/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every moat BPF feature shares: the bpffs where loaded objects are
 * pinned so later launches reuse them instead of loading and verifying
 * again, the lock that serialises loading, and libbpf's log.
 *
 * Pins live in /sys/fs/bpf/moat/FEATURE-HASH/, HASH naming the object's
 * bytes, so a new moat never reuses an older moat's programs or maps.
 * They are a cache: `moat gc` removes them when no sandbox runs.
 */
#ifndef MOAT_SANDBOX_BPF_H
#define MOAT_SANDBOX_BPF_H

#include <stddef.h>

#include "error.h"

#define MOAT_BPFFS	   "/sys/fs/bpf"
#define MOAT_BPF_PIN_ROOT  MOAT_BPFFS "/moat"

/* Mounts a bpffs on /sys/fs/bpf when none is there (hosts without systemd). */
int moat_bpf_fs_ensure(struct moat_error *err);

/* Takes the exclusive lock under which objects are loaded, pinned and
 * unpinned. Returns the lock's fd (close it to unlock) or -1. */
int moat_bpf_lock(struct moat_error *err);

/* Writes MOAT_BPF_PIN_ROOT "/FEATURE-HASH" into buf, HASH the object's
 * MOAT_<FEATURE>_BPF_HASH from the generated FEATURE.hash.h (12 hex
 * digits of its sha256). */
void moat_bpf_pin_dir(const char *feature, const char *hash, char *buf, size_t len);

/* Routes libbpf's messages into a buffer instead of stderr (library code
 * never prints); the last warning, e.g. the verifier's verdict, is kept
 * for the error message of a failed load. Call before any libbpf use. */
void moat_bpf_quiet(void);
const char *moat_bpf_last_log(void);

/* Removes one pinned object directory and its pins. The caller holds the lock. */
int moat_bpf_remove_pin_dir(const char *dir, struct moat_error *err);

/* For moat gc when no sandbox runs: takes the lock and removes every
 * pinned object of every feature and version, and the root. */
int moat_bpf_unpin_all(struct moat_error *err);

#endif
