// SPDX-License-Identifier: GPL-2.0-or-later
/* moat ls [--json]: one line (or one JSON object) per sandbox. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "moat.h"
#include "state.h"

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static void format_uptime(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)s / 60,
			 (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)s / 3600,
			 (unsigned long long)(s % 3600) / 60);
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)s / 86400,
			 (unsigned long long)(s % 86400) / 3600);
}

/* The entry as `ls --json` shows it: stable field names, documented in README.md. */
static json_object *entry_json(const char *name, json_object *state, bool alive)
{
	json_object *e = json_object_new_object(), *cmd;
	uint64_t started = (uint64_t)get_int(state, "started_ns");
	uint64_t now = moat_now_ns();

	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "tier", json_object_new_string(get_str(state, "tier")));
	json_object_object_add(e, "state", json_object_new_string(
		alive ? get_str(state, "status") : "dead"));
	json_object_object_add(e, "pid", json_object_new_int((int)get_int(state, "pid")));
	json_object_object_add(e, "command_pid",
			       json_object_new_int((int)get_int(state, "command_pid")));
	json_object_object_add(e, "supervisor_pid",
			       json_object_new_int((int)get_int(state, "supervisor_pid")));
	json_object_object_add(e, "started", json_object_new_uint64(started / 1000000000ull));
	json_object_object_add(e, "uptime_s", json_object_new_uint64(
		started && now > started ? (now - started) / 1000000000ull : 0));
	json_object_object_add(e, "policy", json_object_new_string(get_str(state, "policy")));
	json_object_object_add(e, "policy_sha256",
			       json_object_new_string(get_str(state, "policy_sha256")));
	if (json_object_object_get_ex(state, "command", &cmd))
		json_object_object_add(e, "command", json_object_get(cmd));
	return e;
}

static void print_row(json_object *e)
{
	char uptime[32], command[64] = "";
	json_object *cmd;
	const char *state = get_str(e, "state");

	format_uptime((uint64_t)get_int(e, "uptime_s"), uptime, sizeof(uptime));
	if (json_object_object_get_ex(e, "command", &cmd)) {
		size_t used = 0;

		for (size_t i = 0; i < json_object_array_length(cmd) && used < sizeof(command); i++)
			used += (size_t)snprintf(command + used, sizeof(command) - used, "%s%s",
						 i ? " " : "",
						 json_object_get_string(json_object_array_get_idx(cmd, i)));
	}
	printf("%-24s %-10s %-8s %8lld %8s  %s\n", get_str(e, "name"), get_str(e, "tier"), state,
	       (long long)get_int(e, "pid"), strcmp(state, "dead") ? uptime : "-", command);
}

int cmd_ls(int argc, char **argv)
{
	struct moat_strv names = {0};
	struct moat_error err;
	json_object *list;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			puts("Usage: moat ls [--json]\n\nLists sandboxes: name, tier, state "
			     "(starting, running, or dead: run moat gc), pid of its init, uptime,\n"
			     "command.\n\n"
			     "Example:\n  moat ls --json | python3 -m json.tool");
			return MOAT_EXIT_OK;
		} else {
			return moat_usage_error(MOAT_EXIT_USAGE, "ls", "unknown option %s", argv[i]);
		}
	}
	if (moat_state_list(&names, &err) < 0)
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	list = json_object_new_array();
	for (size_t i = 0; i < names.n; i++) {
		json_object *state = NULL;
		bool alive = moat_state_alive(names.v[i]);

		/* A sandbox still starting has no state file yet: skip it. */
		if (moat_state_read(names.v[i], &state, &err) < 0)
			continue;
		json_object_array_add(list, entry_json(names.v[i], state, alive));
		json_object_put(state);
	}
	moat_strv_clear(&names);
	if (json) {
		puts(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PRETTY |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%-24s %-10s %-8s %8s %8s  %s\n", "NAME", "TIER", "STATE", "PID", "UPTIME",
		       "COMMAND");
		for (size_t i = 0; i < json_object_array_length(list); i++)
			print_row(json_object_array_get_idx(list, i));
	}
	json_object_put(list);
	return MOAT_EXIT_OK;
}
