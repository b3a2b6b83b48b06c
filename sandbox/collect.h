/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collecting a sandbox whose supervisor died (SIGKILL, a crash): the same
 * teardown it would have run, from what its state recorded. For `moat gc`
 * and for a launch that claims the dead sandbox's name (moat_state_claim()).
 */
#ifndef MOAT_COLLECT_H
#define MOAT_COLLECT_H

#include <json.h>

#include "error.h"

/*
 * A moat_state_collector: with the global lock held and the name's
 * directory still in place, removes what state recorded: NAME's BPF map
 * entries, NAT element, veth and cgroups (state may be NULL when the
 * supervisor died before its first state.json, which it writes before it
 * makes any of them); and every address lease naming NAME, recorded or not
 * (it is recorded only once taken). Idempotent. Returns 0, or -1 with err filled (the directory then stays,
 * for a later gc).
 */
int moat_sandbox_collect(const char *name, json_object *state, struct moat_error *err);

#endif
