// SPDX-License-Identifier: GPL-2.0-or-later
/* moat status [NAME] [--json]: what a sandbox is, what it uses and does, and
 * which guarantees are in force. The data is sandbox/status.c's; this file
 * only prints it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "moat.h"
#include "parse.h"
#include "status.h"

#define LABEL_WIDTH 17 /* "    destinations" and a space */

static int status_usage(FILE *f, int code)
{
	fputs("Usage: moat status [NAME] [--json]\n"
	      "\n"
	      "Shows the sandbox NAME (every sandbox without NAME): its policy and its\n"
	      "sha256, tier, pids, uptime; memory use, limit and OOM kills; CPU time;\n"
	      "tasks; system calls by name; network bytes and packets in and out,\n"
	      "connections allowed and denied, the top destinations and clients; a\n"
	      "detached sandbox's log and the output its log budget dropped; the last\n"
	      "denied attempts from its audit log; and which guarantees are in force\n"
	      "(namespaces, each cgroup limit, seccomp, egress, accounting), flagging any\n"
	      "that is not, and the layers that --allow-degraded let fail.\n"
	      "A source that cannot be read is shown as unavailable, with the reason.\n"
	      "\n"
	      "Options:\n"
	      "      --json    print a JSON object (an array of them without NAME), fields\n"
	      "                described in docs/status.md\n"
	      "  -h, --help    print this help\n"
	      "\n"
	      "Exit: 0 ok, 3 no such sandbox, 1 failure, 2 bad usage.\n"
	      "\n"
	      "Examples:\n"
	      "  moat status llm\n"
	      "  moat status --json llm | jq .network.counters\n"
	      "  moat status --json | jq -r '.[] | select(.enforcement.degraded != []) | .name'\n",
	      f);
	return code;
}

/* ---- printing helpers ------------------------------------------------------ */

static void label(int indent, const char *name)
{
	printf("%*s%-*s ", indent, "", LABEL_WIDTH - indent - 1, name);
}

static void put_bytes(uint64_t v)
{
	char buf[16];

	moat_status_format_bytes(v, buf, sizeof(buf));
	fputs(buf, stdout);
}

static uint64_t u64(json_object *st, const char *path)
{
	uint64_t v = 0;

	moat_status_u64(st, path, &v);
	return v;
}

/* When the section's source could not be read: "unavailable: why", and true. */
static bool unavailable(json_object *st, const char *section)
{
	json_object *s = moat_status_get(st, section), *avail = moat_status_get(s, "available");

	if (s && avail && json_object_get_boolean(avail))
		return false;
	fputs("unavailable: ", stdout);
	moat_put_safe(moat_status_str(s, "error", "not collected"));
	putchar('\n');
	return true;
}

/* ---- sections -------------------------------------------------------------- */

static void print_header(json_object *st)
{
	const char *state = moat_status_str(st, "state", "?");
	json_object *cmd = moat_status_get(st, "command");
	double up;
	char buf[32];

	moat_put_safe(moat_status_str(st, "name", "?"));
	printf("  %s  tier ", state);
	moat_put_safe(moat_status_str(st, "tier", "?"));
	if (moat_status_double(st, "uptime_seconds", &up)) {
		moat_status_format_duration((uint64_t)up, buf, sizeof(buf));
		printf("  up %s", buf);
	}
	if (strcmp(state, "dead") == 0)
		fputs("  (its supervisor is gone: run moat gc)", stdout);
	putchar('\n');

	label(2, "policy");
	moat_put_safe(moat_status_str(st, "policy", "?"));
	fputs("  sha256 ", stdout);
	moat_put_safe(moat_status_str(st, "policy_sha256", "?"));
	putchar('\n');
	label(2, "command");
	for (size_t i = 0; cmd && i < json_object_array_length(cmd); i++) {
		fputs(i ? " " : "", stdout);
		moat_put_safe(json_object_get_string(json_object_array_get_idx(cmd, i)));
	}
	putchar('\n');
	label(2, "user");
	moat_put_safe(moat_status_str(st, "user", "?"));
	putchar('\n');
	label(2, "pids");
	printf("supervisor %" PRIu64 ", init %" PRIu64 ", command ", u64(st, "pids.supervisor"),
	       u64(st, "pids.init"));
	if (u64(st, "pids.command"))
		printf("%" PRIu64 "\n", u64(st, "pids.command"));
	else
		puts("unknown");
}

static void print_resources(json_object *st)
{
	uint64_t v;
	double d;

	label(2, "memory");
	if (!unavailable(st, "memory")) {
		put_bytes(u64(st, "memory.current_bytes"));
		if (moat_status_u64(st, "memory.max_bytes", &v)) {
			fputs(" of ", stdout);
			put_bytes(v);
		} else {
			fputs(", no limit", stdout);
		}
		if (moat_status_u64(st, "memory.oom_kills", &v))
			printf(", %" PRIu64 " OOM kill%s", v, v == 1 ? "" : "s");
		putchar('\n');
	}
	label(2, "cpu");
	if (!unavailable(st, "cpu")) {
		moat_status_double(st, "cpu.usage_seconds", &d);
		printf("%.2f s", d);
		if (moat_status_double(st, "cpu.limit_cpus", &d))
			printf(", limit %.3g CPU%s", d, d == 1 ? "" : "s");
		else
			fputs(", no limit", stdout);
		putchar('\n');
	}
	label(2, "tasks");
	if (!unavailable(st, "tasks")) {
		printf("%" PRIu64, u64(st, "tasks.current"));
		if (moat_status_u64(st, "tasks.max", &v))
			printf(" of %" PRIu64 "\n", v);
		else
			puts(", no limit");
	}
}

static void print_syscalls(json_object *st)
{
	json_object *top = moat_status_get(st, "syscalls.top");
	double rate = 0;

	label(2, "syscalls");
	if (unavailable(st, "syscalls"))
		return;
	moat_status_double(st, "syscalls.per_second", &rate);
	printf("%" PRIu64 " in all, %.0f/s on average\n", u64(st, "syscalls.total"), rate);
	for (size_t i = 0; top && i < json_object_array_length(top); i++) {
		json_object *e = json_object_array_get_idx(top, i);
		const char *name = moat_status_str(e, "name", NULL);

		label(4, i ? "" : "top");
		if (name)
			printf("%-20s", name);
		else
			printf("nr %-17" PRIu64, u64(e, "nr"));
		printf(" %" PRIu64 "\n", u64(e, "count"));
	}
}

static void print_counters(json_object *st)
{
	label(4, "in");
	put_bytes(u64(st, "network.counters.bytes_in"));
	printf(", %" PRIu64 " packets\n", u64(st, "network.counters.packets_in"));
	label(4, "out");
	put_bytes(u64(st, "network.counters.bytes_out"));
	printf(", %" PRIu64 " packets\n", u64(st, "network.counters.packets_out"));
	label(4, "connections");
	printf("%" PRIu64 " allowed, %" PRIu64 " denied\n",
	       u64(st, "network.counters.connections_allowed"),
	       u64(st, "network.counters.connections_denied"));
	label(4, "datagrams");
	printf("%" PRIu64 " allowed, %" PRIu64 " denied\n",
	       u64(st, "network.counters.datagrams_allowed"),
	       u64(st, "network.counters.datagrams_denied"));
	label(4, "packets");
	printf("%" PRIu64 " denied", u64(st, "network.counters.packets_denied"));
	if (u64(st, "network.counters.denials_lost"))
		printf("; %" PRIu64 " denials not logged (ring buffer full)",
		       u64(st, "network.counters.denials_lost"));
	putchar('\n');
}

static void print_destinations(json_object *st)
{
	json_object *top = moat_status_get(st, "network.destinations.top");

	if (!moat_status_get(st, "network.destinations"))
		return;
	label(4, "destinations");
	if (unavailable(st, "network.destinations"))
		return;
	if (!top || json_object_array_length(top) == 0)
		puts("none yet");
	for (size_t i = 0; top && i < json_object_array_length(top); i++) {
		json_object *e = json_object_array_get_idx(top, i);
		bool v6 = strcmp(moat_status_str(e, "family", ""), "ipv6") == 0;
		char where[96];

		if (i)
			label(4, "");
		snprintf(where, sizeof(where), "%s%s%s:%" PRIu64 "/%s", v6 ? "[" : "",
			 moat_status_str(e, "address", "?"), v6 ? "]" : "", u64(e, "port"),
			 moat_status_str(e, "proto", "?"));
		moat_put_safe(where);
		fputs("  ", stdout);
		put_bytes(u64(e, "bytes"));
		printf(", %" PRIu64 " packets\n", u64(e, "packets"));
	}
}

static void print_clients(json_object *st)
{
	json_object *top = moat_status_get(st, "network.clients.top");

	if (!moat_status_get(st, "network.clients"))
		return;
	label(4, "clients");
	if (unavailable(st, "network.clients"))
		return;
	if (!top || json_object_array_length(top) == 0)
		puts("none");
	for (size_t i = 0; top && i < json_object_array_length(top); i++) {
		json_object *e = json_object_array_get_idx(top, i);

		if (i)
			label(4, "");
		moat_put_safe(moat_status_str(e, "address", "?"));
		printf("  %" PRIu64 " connections, in ", u64(e, "connections"));
		put_bytes(u64(e, "bytes_in"));
		fputs(", out ", stdout);
		put_bytes(u64(e, "bytes_out"));
		putchar('\n');
	}
}

static void print_network(json_object *st)
{
	const char *mode = moat_status_str(st, "network.mode", "none");

	label(2, "network");
	if (strcmp(mode, "veth") == 0) {
		fputs("veth ", stdout);
		moat_put_safe(moat_status_str(st, "network.address", "?"));
		fputs(", host end ", stdout);
		moat_put_safe(moat_status_str(st, "network.host_address", "?"));
		fputs(" on ", stdout);
		moat_put_safe(moat_status_str(st, "network.host_ifname", "?"));
		if (moat_status_get(st, "network.egress_rules"))
			printf(", %" PRIu64 " egress rules", u64(st, "network.egress_rules"));
		putchar('\n');
	} else {
		moat_put_safe(mode);
		puts(strcmp(mode, "none") == 0 ? ": loopback only" : "");
	}
	if (moat_status_get(st, "network.counters.available") &&
	    json_object_get_boolean(moat_status_get(st, "network.counters.available"))) {
		print_counters(st);
	} else if (strcmp(mode, "none") != 0) {
		label(4, "counters");
		unavailable(st, "network.counters");
	}
	/* Nothing leaves a mode none sandbox but through its published ports. */
	if (strcmp(mode, "none") != 0)
		print_destinations(st);
	print_clients(st);
}

/* A detached sandbox's log: "output  /var/log/moat/x.log, limit 1.0M/s burst
 * 4.0M, 12M dropped". Nothing for one in the foreground. */
static void print_output(json_object *st)
{
	uint64_t rate;

	if (!moat_status_get(st, "output"))
		return;
	label(2, "output");
	if (unavailable(st, "output"))
		return;
	if (!moat_status_str(st, "output.log", NULL)) {
		puts("to moat run's own (not detached)");
		return;
	}
	moat_put_safe(moat_status_str(st, "output.log", "?"));
	if (moat_status_u64(st, "output.rate_bytes_per_second", &rate)) {
		fputs(", limit ", stdout);
		put_bytes(rate);
		fputs("/s burst ", stdout);
		put_bytes(u64(st, "output.burst_bytes"));
	} else {
		fputs(", no limit", stdout);
	}
	fputs(", ", stdout);
	put_bytes(u64(st, "output.dropped_bytes"));
	puts(" dropped");
}

/* ---- guarantees -------------------------------------------------------------- */

static void put_limit(const char *name, uint64_t limit)
{
	char buf[32];

	if (limit == 0) {
		fputs("no limit", stdout);
	} else if (strcmp(name, "memory") == 0) {
		moat_status_format_bytes(limit, buf, sizeof(buf));
		printf("limit %s", buf);
	} else if (strcmp(name, "cpus") == 0) {
		/* Recorded in thousandths of a CPU. */
		printf("limit %.3g CPU%s", (double)limit / 1000, limit == 1000 ? "" : "s");
	} else {
		printf("limit %" PRIu64, limit);
	}
}

/* The members other than "applied" and "why": what the guarantee is. */
static void put_details(const char *name, json_object *g)
{
	bool first = true;

	if (json_object_is_type(g, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(g); i++) {
			fputs(i ? " " : ": ", stdout);
			moat_put_safe(json_object_get_string(json_object_array_get_idx(g, i)));
		}
		return;
	}
	if (!json_object_is_type(g, json_type_object))
		return;
	json_object_object_foreach(g, key, val) {
		if (!strcmp(key, "applied") || !strcmp(key, "why"))
			continue;
		fputs(first ? ": " : ", ", stdout);
		first = false;
		if (!strcmp(key, "limit") && json_object_is_type(val, json_type_int)) {
			put_limit(name, json_object_get_uint64(val));
			continue;
		}
		moat_put_safe(key);
		putchar(' ');
		moat_put_safe(moat_status_text(val));
	}
}

static void print_guarantees(json_object *st)
{
	json_object *g = moat_status_get(st, "guarantees");
	json_object *degraded = moat_status_get(st, "enforcement.degraded");
	size_t n_degraded = degraded ? json_object_array_length(degraded) : 0;

	label(2, "guarantees");
	if (!g || !json_object_is_type(g, json_type_object)) {
		puts("unknown: the sandbox's state records none (started by an older moat)");
		return;
	}
	if (n_degraded)
		printf("DEGRADED: %zu layer%s could not be applied (--allow-degraded)\n",
		       n_degraded, n_degraded == 1 ? "" : "s");
	else
		puts("as recorded at launch");
	json_object_object_foreach(g, key, val) {
		json_object *applied = NULL;

		if (!strcmp(key, "degraded"))
			continue;
		label(4, key);
		if (json_object_is_type(val, json_type_object))
			json_object_object_get_ex(val, "applied", &applied);
		if (applied && !json_object_get_boolean(applied)) {
			json_object *why = NULL;

			fputs("NOT APPLIED", stdout);
			if (json_object_object_get_ex(val, "why", &why)) {
				fputs(" (", stdout);
				moat_put_safe(json_object_get_string(why));
				putchar(')');
			}
		} else {
			fputs("in force", stdout);
		}
		put_details(key, val);
		putchar('\n');
	}
	for (size_t i = 0; i < n_degraded; i++) {
		label(4, i ? "" : "DEGRADED");
		moat_put_safe(json_object_get_string(json_object_array_get_idx(degraded, i)));
		putchar('\n');
	}
}

/* ---- denials ------------------------------------------------------------------ */

static void put_denial(json_object *ev)
{
	const char *t = moat_status_str(ev, "time", "?");
	bool v6 = strcmp(moat_status_str(ev, "family", ""), "ipv6") == 0;
	char where[96];

	/* Milliseconds are enough to read; --json has the rest. */
	if (strlen(t) > 24 && t[19] == '.')
		printf("%.23sZ", t);
	else
		moat_put_safe(t);
	putchar(' ');
	moat_put_safe(moat_status_str(ev, "hook", "?"));
	putchar(' ');
	moat_put_safe(moat_status_str(ev, "proto", "?"));
	putchar(' ');
	if (u64(ev, "port"))
		snprintf(where, sizeof(where), "%s%s%s:%" PRIu64, v6 ? "[" : "",
			 moat_status_str(ev, "address", "?"), v6 ? "]" : "", u64(ev, "port"));
	else
		snprintf(where, sizeof(where), "%s", moat_status_str(ev, "address", "?"));
	moat_put_safe(where);
	if (u64(ev, "pid")) {
		printf(" pid %" PRIu64 " (", u64(ev, "pid"));
		moat_put_safe(moat_status_str(ev, "comm", ""));
		putchar(')');
	}
	putchar('\n');
}

static void print_denials(json_object *st)
{
	json_object *last = moat_status_get(st, "denials.last");

	label(2, "last denied");
	if (unavailable(st, "denials"))
		return;
	if (!last || json_object_array_length(last) == 0) {
		puts("none");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(last); i++) {
		if (i)
			label(2, "");
		put_denial(json_object_array_get_idx(last, i));
	}
}

static void print_status(json_object *st)
{
	print_header(st);
	print_resources(st);
	print_syscalls(st);
	print_network(st);
	print_output(st);
	print_guarantees(st);
	print_denials(st);
}

static int finish(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			moat_print_line(stderr, "moat: status: write: %s",
					strerror(errno ? errno : EIO));
		return MOAT_EXIT_FAILURE;
	}
	return MOAT_EXIT_OK;
}

int cmd_status(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct moat_error err;
	json_object *st = NULL;
	bool json = false;
	const char *name = NULL;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			return status_usage(stdout, MOAT_EXIT_OK);
		default:
			return moat_option_error(MOAT_EXIT_USAGE, "status", c, argv);
		}
	}
	if (argc - optind > 1)
		return moat_usage_error(MOAT_EXIT_USAGE, "status",
					"expected at most one sandbox name");
	if (optind < argc) {
		name = argv[optind];
		if (!moat_name_valid(name))
			return moat_usage_error(MOAT_EXIT_USAGE, "status",
						"invalid sandbox name \"%s\"", name);
		if (moat_status_collect(name, MOAT_STATUS_FULL, &st, &err) < 0) {
			if (err.errnum == ENOENT) {
				moat_print_line(stderr, "moat: status: no sandbox named \"%s\"",
						name);
				return MOAT_EXIT_NOT_FOUND;
			}
			return moat_fail(&err, MOAT_EXIT_FAILURE);
		}
	} else if (moat_status_collect_all(MOAT_STATUS_FULL, &st, &err) < 0) {
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	}
	if (json) {
		puts(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	} else if (name) {
		print_status(st);
	} else {
		for (size_t i = 0; i < json_object_array_length(st); i++) {
			if (i)
				putchar('\n');
			print_status(json_object_array_get_idx(st, i));
		}
	}
	json_object_put(st);
	return finish();
}
