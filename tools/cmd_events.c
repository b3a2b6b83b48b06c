// SPDX-License-Identifier: GPL-2.0-or-later
/* moat events NAME [--follow] [--json]: a sandbox's audit log, also after it has ended. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "moat.h"
#include "parse.h"
#include "state.h"
#include "status.h"


/* How often --follow looks for new lines and whether the sandbox has ended. */
#define FOLLOW_INTERVAL_NS 200000000L

struct events {
	bool json;
	bool follow;
	int write_errno; /* stdout failed (a closed pipe): stop */
};

/* An argument as a shell would need it, so that the command can be read back. */
static void put_arg(const char *s)
{
	const char *q;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_./:=,@%+-") == strlen(s)) {
		moat_put_safe(s);
		return;
	}
	putchar('\'');
	while ((q = strchr(s, '\''))) {
		moat_put_safe_n(s, (size_t)(q - s));
		fputs("'\\''", stdout);
		s = q + 1;
	}
	moat_put_safe(s);
	putchar('\'');
}

static json_object *get(json_object *ev, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(ev, key, &v) ? v : NULL;
}

/* A string field, or "?" when the field is missing. */
static const char *get_str(json_object *ev, const char *key)
{
	json_object *v = get(ev, key);

	return v ? json_object_get_string(v) : "?";
}

/* "2026-11-29T20:43:50.123Z": milliseconds are enough to read; --json has the rest. */
static void put_time(json_object *ev)
{
	const char *t = get_str(ev, "time");
	size_t n = strlen(t);

	if (n > 24 && t[19] == '.' && t[n - 1] == 'Z')
		printf("%.23sZ", t);
	else
		moat_put_safe(t);
}

static void put_access(json_object *ev)
{
	const char *family = get_str(ev, "family");
	json_object *port = get(ev, "port");
	bool v6 = strcmp(family, "ipv6") == 0;

	moat_put_safe(get_str(ev, "hook"));
	putchar(' ');
	moat_put_safe(get_str(ev, "proto"));
	putchar(' ');
	if (port && json_object_get_int(port) != 0) {
		fputs(v6 ? "[" : "", stdout);
		moat_put_safe(get_str(ev, "address"));
		printf("%s:%d", v6 ? "]" : "", json_object_get_int(port));
	} else {
		moat_put_safe(get_str(ev, "address"));
	}
	/* pid 0: a packet dropped outside any process's context. */
	if (strcmp(get_str(ev, "pid"), "0") == 0)
		return;
	fputs(" pid ", stdout);
	moat_put_safe(get_str(ev, "pid"));
	fputs(" (", stdout);
	moat_put_safe(get_str(ev, "comm"));
	putchar(')');
}

static void put_start(json_object *ev)
{
	json_object *cmd = get(ev, "command");

	fputs("tier ", stdout);
	moat_put_safe(get_str(ev, "tier"));
	fputs(" pid ", stdout);
	moat_put_safe(get_str(ev, "pid"));
	fputs(" command", stdout);
	for (size_t i = 0; cmd && i < json_object_array_length(cmd); i++) {
		putchar(' ');
		put_arg(json_object_get_string(json_object_array_get_idx(cmd, i)));
	}
	if (get(ev, "command_truncated"))
		fputs(" ...", stdout);
}

static void put_exit(json_object *ev)
{
	fputs("status ", stdout);
	moat_put_safe(get_str(ev, "status"));
	if (get(ev, "signal")) {
		fputs(" (", stdout);
		moat_put_safe(get_str(ev, "signal"));
		putchar(')');
	}
}

static void put_oom(json_object *ev)
{
	json_object *limit = get(ev, "limit_bytes");
	char size[32] = "?";

	if (limit && json_object_get_uint64(limit) == 0)
		snprintf(size, sizeof(size), "none");
	else if (limit)
		moat_format_size(json_object_get_uint64(limit), size, sizeof(size));
	printf("limit %s kills ", size);
	moat_put_safe(get_str(ev, "kills"));
}

static void put_stop(json_object *ev)
{
	fputs("status ", stdout);
	moat_put_safe(get_str(ev, "status"));
	if (get(ev, "error")) {
		fputs(" error ", stdout);
		moat_put_safe(get_str(ev, "error"));
	}
}

static void put_lost(json_object *ev)
{
	fputs("denials ", stdout);
	moat_put_safe(get_str(ev, "denials"));
	if (get(ev, "allowed")) {
		fputs(", allowed ", stdout);
		moat_put_safe(get_str(ev, "allowed"));
	}
	fputs(" not logged", stdout);
}

static void put_log_dropped(json_object *ev)
{
	json_object *rate = get(ev, "rate_bytes_per_second");
	char size[32] = "?";

	if (rate)
		moat_format_size(json_object_get_uint64(rate), size, sizeof(size));
	moat_put_safe(get_str(ev, "bytes"));
	printf(" bytes of output dropped (log_rate %s/s), ", size);
	moat_put_safe(get_str(ev, "total_bytes"));
	fputs(" in all", stdout);
}

/* An event this moat does not know (a newer writer): every field as key=value. */
static void put_other(json_object *ev)
{
	bool first = true;

	json_object_object_foreach(ev, key, val) {
		if (!strcmp(key, "time") || !strcmp(key, "sandbox") || !strcmp(key, "event"))
			continue;
		fputs(first ? "" : " ", stdout);
		first = false;
		moat_put_safe(key);
		putchar('=');
		moat_put_safe(moat_status_text(val));
	}
}

static void put_event(json_object *ev)
{
	static const struct {
		const char *name;
		void (*put)(json_object *ev);
	} kinds[] = {
		{"denied", put_access}, {"allowed", put_access}, {"start", put_start}, {"exit", put_exit},
		{"oom", put_oom},	{"stop", put_stop},	{"lost", put_lost},
		{"log_dropped", put_log_dropped},
	};
	const char *event = get_str(ev, "event");
	void (*put)(json_object *) = put_other;

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (strcmp(event, kinds[i].name) == 0)
			put = kinds[i].put;
	put_time(ev);
	putchar(' ');
	moat_put_safe(event);
	/* Event names padded to one column, so that the details line up. */
	printf("%*s", strlen(event) < 7 ? (int)(7 - strlen(event)) : 0, "");
	putchar(' ');
	put(ev);
	putchar('\n');
}

static int print_line(const char *line, size_t len, json_object *ev, void *userdata)
{
	struct events *e = userdata;

	if (e->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	} else if (ev) {
		put_event(ev);
	} else {
		puts("(unparseable line)");
	}
	/* Scripts read --follow through a pipe: each event as soon as it is known. */
	if (e->follow && fflush(stdout) == EOF) {
		e->write_errno = errno;
		return 1;
	}
	return 0;
}

static int no_events(const char *name)
{
	moat_print_line(stderr, "moat: no events for sandbox %s", name);
	return MOAT_EXIT_NOT_FOUND;
}

static int write_failed(int errnum)
{
	/* A reader that went away (| head) is not an error worth a message. */
	if (errnum != EPIPE)
		moat_print_line(stderr, "moat: events: write: %s", strerror(errnum));
	return MOAT_EXIT_FAILURE;
}

static int read_once(const char *name, struct events *e)
{
	struct moat_audit_reader *r = NULL;
	struct moat_error err;
	int ret;

	if (moat_audit_reader_open(name, &r, &err) < 0)
		return err.errnum == ENOENT ? no_events(name) : moat_fail(&err, MOAT_EXIT_FAILURE);
	ret = moat_audit_reader_read(r, print_line, e, &err);
	if (ret == 0)
		ret = moat_audit_reader_flush(r, print_line, e);
	moat_audit_reader_free(r);
	if (ret < 0)
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	if (fflush(stdout) == EOF || ferror(stdout))
		return write_failed(errno ? errno : EIO);
	return MOAT_EXIT_OK;
}

/*
 * Until the sandbox has ended and everything it wrote is printed; SIGINT and
 * SIGTERM keep their default action (each line is already flushed).
 */
static int follow(const char *name, struct events *e)
{
	static const struct timespec interval = {.tv_nsec = FOLLOW_INTERVAL_NS};
	struct moat_audit_reader *r = NULL;
	struct moat_error err;
	int ret = 0;

	for (;;) {
		/* Sampled before reading: the supervisor writes its last event
		 * before it drops the lock, so a dead sandbox's log is complete. */
		bool alive = moat_state_alive(name);

		if (!r && moat_audit_reader_open(name, &r, &err) < 0) {
			if (err.errnum != ENOENT)
				return moat_fail(&err, MOAT_EXIT_FAILURE);
			/* A sandbox still starting may not have written its log yet. */
			if (!alive)
				return no_events(name);
		}
		if (r) {
			ret = moat_audit_reader_read(r, print_line, e, &err);
			if (ret == 0 && !alive)
				ret = moat_audit_reader_flush(r, print_line, e);
			if (ret != 0 || !alive)
				break;
		}
		nanosleep(&interval, NULL);
	}
	moat_audit_reader_free(r);
	if (ret < 0)
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	if (e->write_errno)
		return write_failed(e->write_errno);
	return MOAT_EXIT_OK;
}

static int events_usage(FILE *f, int code)
{
	fputs("Usage: moat events NAME [-f|--follow] [--json]\n"
	      "\n"
	      "Prints the audit log of the sandbox NAME, one line per event: its start,\n"
	      "the command's exit, out-of-memory kills, its teardown and the network\n"
	      "access it was denied (with audit = full, also the access it was allowed).\n"
	      "The log (" MOAT_LOG_DIR "/NAME.jsonl, after NAME.jsonl.1 when it has been\n"
	      "rotated) is kept after the sandbox has ended.\n"
	      "\n"
	      "Options:\n"
	      "  -f, --follow  print events as they are written, until the sandbox has\n"
	      "                ended and all its events are printed\n"
	      "      --json    print the log's lines as they are: one JSON object a line,\n"
	      "                fields described in docs/audit.md\n"
	      "  -h, --help    print this help\n"
	      "\n"
	      "Exit: 0 ok, 3 no events for that sandbox, 1 the log could not be read,\n"
	      "2 bad usage.\n"
	      "\n"
	      "Examples:\n"
	      "  moat events llm\n"
	      "  moat events --follow --json llm | jq -c 'select(.event == \"denied\")'\n",
	      f);
	return code;
}

int cmd_events(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct events e = {0};
	const char *name;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			e.follow = true;
			break;
		case OPT_JSON:
			e.json = true;
			break;
		case 'h':
			return events_usage(stdout, MOAT_EXIT_OK);
		default:
			return moat_option_error(MOAT_EXIT_USAGE, "events", c, argv);
		}
	}
	if (optind + 1 != argc)
		return moat_usage_error(MOAT_EXIT_USAGE, "events", "expected one sandbox name");
	name = argv[optind];
	if (!moat_name_valid(name))
		return moat_usage_error(MOAT_EXIT_USAGE, "events", "invalid sandbox name \"%s\"",
					name);
	return e.follow ? follow(name, &e) : read_once(name, &e);
}
