// SPDX-License-Identifier: GPL-2.0-or-later
/* moat ls [--json]: one line (or one JSON object) per sandbox. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "moat.h"
#include "status.h"
#include "text.h"

/* A value of the status, shared (the entry takes a reference), or JSON null
 * when its source was unavailable. */
static json_object *value_at(json_object *st, const char *path)
{
	json_object *v = moat_status_get(st, path);

	return v ? json_object_get(v) : NULL;
}

/*
 * The entry as `ls --json` shows it: stable field names, documented in
 * docs/status.md. The first fields are those of the first moat ls; fields
 * are only ever added.
 */
static json_object *entry_json(json_object *st)
{
	json_object *e = json_object_new_object(), *v;
	json_object *degraded = moat_status_get(st, "enforcement.degraded");
	uint64_t n;
	double up = 0;

	json_object_object_add(e, "name", json_object_new_string(moat_status_str(st, "name", "")));
	json_object_object_add(e, "tier", json_object_new_string(moat_status_str(st, "tier", "")));
	json_object_object_add(e, "state",
			       json_object_new_string(moat_status_str(st, "state", "")));
	json_object_object_add(e, "pid", json_object_new_int(moat_status_u64(st, "pids.init", &n)
								     ? (int)n : 0));
	json_object_object_add(e, "command_pid", json_object_new_int(
		moat_status_u64(st, "pids.command", &n) ? (int)n : 0));
	json_object_object_add(e, "supervisor_pid", json_object_new_int(
		moat_status_u64(st, "pids.supervisor", &n) ? (int)n : 0));
	json_object_object_add(e, "started", value_at(st, "started"));
	/* A dead sandbox has no uptime in the status; ls has always shown the
	 * time since its start. */
	if (!moat_status_double(st, "uptime_seconds", &up) && moat_status_u64(st, "started", &n) &&
	    (uint64_t)time(NULL) > n)
		up = (double)((uint64_t)time(NULL) - n);
	json_object_object_add(e, "uptime_s", json_object_new_uint64((uint64_t)up));
	json_object_object_add(e, "policy",
			       json_object_new_string(moat_status_str(st, "policy", "")));
	json_object_object_add(e, "policy_sha256",
			       json_object_new_string(moat_status_str(st, "policy_sha256", "")));
	if ((v = moat_status_get(st, "command")))
		json_object_object_add(e, "command", json_object_get(v));
	json_object_object_add(e, "memory_bytes", value_at(st, "memory.current_bytes"));
	json_object_object_add(e, "memory_max_bytes", value_at(st, "memory.max_bytes"));
	json_object_object_add(e, "cpu_seconds", value_at(st, "cpu.usage_seconds"));
	json_object_object_add(e, "syscalls_total", value_at(st, "syscalls.total"));
	json_object_object_add(e, "syscalls_per_second", value_at(st, "syscalls.per_second"));
	json_object_object_add(e, "network_bytes_in", value_at(st, "network.counters.bytes_in"));
	json_object_object_add(e, "network_bytes_out", value_at(st, "network.counters.bytes_out"));
	json_object_object_add(e, "degraded", json_object_new_boolean(
		degraded && json_object_array_length(degraded) > 0));
	return e;
}

/* A size column: "-" when its source was unavailable. */
static void size_cell(json_object *e, const char *key, char *buf, size_t len)
{
	uint64_t v;

	if (moat_status_u64(e, key, &v))
		moat_status_format_bytes(v, buf, len);
	else
		snprintf(buf, len, "-");
}

static void print_row(json_object *e)
{
	char name[64], tier[32], uptime[32], mem[16], in[16], out[16], rate[24], command[128] = "";
	const char *state = moat_status_str(e, "state", "");
	json_object *cmd = moat_status_get(e, "command");
	uint64_t up = 0;
	double r;

	moat_escape_str(moat_status_str(e, "name", ""), name, sizeof(name));
	moat_escape_str(moat_status_str(e, "tier", ""), tier, sizeof(tier));
	moat_status_u64(e, "uptime_s", &up);
	moat_status_format_duration(up, uptime, sizeof(uptime));
	size_cell(e, "memory_bytes", mem, sizeof(mem));
	size_cell(e, "network_bytes_in", in, sizeof(in));
	size_cell(e, "network_bytes_out", out, sizeof(out));
	if (moat_status_double(e, "syscalls_per_second", &r))
		snprintf(rate, sizeof(rate), "%.0f", r);
	else
		snprintf(rate, sizeof(rate), "-");
	for (size_t i = 0, used = 0;
	     cmd && i < json_object_array_length(cmd) && used < sizeof(command); i++) {
		char arg[128];

		moat_escape_str(json_object_get_string(json_object_array_get_idx(cmd, i)), arg,
				sizeof(arg));
		used += (size_t)snprintf(command + used, sizeof(command) - used, "%s%s",
					 i ? " " : "", arg);
	}
	printf("%-24s %-10s %-8s %8" PRIu64 " %8s %7s %8s %7s %7s  %s\n", name, tier, state,
	       moat_status_u64(e, "pid", &up) ? up : 0, strcmp(state, "dead") ? uptime : "-", mem,
	       rate, in, out, command);
}

static int ls_usage(FILE *f, int code)
{
	fputs("Usage: moat ls [--json]\n"
	      "\n"
	      "Lists sandboxes, one line each: name, tier, state (starting, running, or\n"
	      "dead: run moat gc), pid of its init, uptime, memory in use, system calls\n"
	      "per second (average since its start), network bytes in and out, command.\n"
	      "A value whose source cannot be read shows as \"-\" (JSON null).\n"
	      "moat status NAME shows one sandbox in full; moat top, all of them live.\n"
	      "\n"
	      "Options:\n"
	      "      --json    print a JSON array, fields described in docs/status.md\n"
	      "  -h, --help    print this help\n"
	      "\n"
	      "Examples:\n"
	      "  moat ls\n"
	      "  moat ls --json | jq -r '.[] | select(.state == \"dead\") | .name'\n",
	      f);
	return code;
}

int cmd_ls(int argc, char **argv)
{
	struct moat_error err;
	json_object *all = NULL, *list;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return ls_usage(stdout, MOAT_EXIT_OK);
		else
			return moat_usage_error(MOAT_EXIT_USAGE, "ls", "unknown option %s",
						argv[i]);
	}
	/* The counters only: no syscall names, top lists or audit log, so that
	 * ls stays fast with many sandboxes. */
	if (moat_status_collect_all(0, &all, &err) < 0)
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	list = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++)
		json_object_array_add(list, entry_json(json_object_array_get_idx(all, i)));
	json_object_put(all);
	if (json) {
		puts(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PRETTY |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%-24s %-10s %-8s %8s %8s %7s %8s %7s %7s  %s\n", "NAME", "TIER", "STATE",
		       "PID", "UPTIME", "MEMORY", "SYSC/S", "NET-IN", "NET-OUT", "COMMAND");
		for (size_t i = 0; i < json_object_array_length(list); i++)
			print_row(json_object_array_get_idx(list, i));
	}
	json_object_put(list);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			moat_print_line(stderr, "moat: ls: write: %s",
					strerror(errno ? errno : EIO));
		return MOAT_EXIT_FAILURE;
	}
	return MOAT_EXIT_OK;
}
