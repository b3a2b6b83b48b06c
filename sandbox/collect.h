/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collecting a sandbox whose supervisor died (SIGKILL, a crash): the same
 * teardown it would have run, from what its state recorded and what can be
 * found by its name, then the end of its audit log. For `moat gc` and for a
 * launch that claims the dead sandbox's name (moat_state_claim()).
 */
#ifndef MOAT_COLLECT_H
#define MOAT_COLLECT_H

#include <json.h>

#include "error.h"

/*
 * A moat_state_collector: with the global lock held and the name's
 * directory still in place, removes NAME's BPF map entries, NAT element,
 * veth and cgroups (as state recorded them; state may be NULL when the
 * supervisor died before its first state.json, which it writes before it
 * makes any of them) and every address lease naming NAME. Then, unless the
 * log already ends with this launch's "stop" (the supervisor died after
 * writing it), appends a "stop" event with "collected": true and status
 * MOAT_EXIT_LAUNCH (moat failed: its supervisor died) to NAME's audit log
 * (docs/audit.md), best effort: an unwritable log does not keep the
 * resources, or the name, from being collected. Idempotent. Returns 0, or
 * -1 with err filled (the directory then stays, for a later gc).
 */
int moat_sandbox_collect(const char *name, json_object *state, struct moat_error *err);

#endif
