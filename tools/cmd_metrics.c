// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * moat metrics [--listen ADDR:PORT]: every sandbox's counters in the
 * Prometheus text exposition format (version 0.0.4), once on stdout or served
 * at /metrics by a minimal single-threaded HTTP/1.0 server. Metric names and
 * types are documented in docs/status.md; they are a contract like the JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "moat.h"
#include "status.h"
#include "util.h"

#define REQUEST_MAX	 8192 /* request line and headers: a scraper sends a few hundred bytes */
#define CLIENT_TIMEOUT_S 5    /* one slow client must not hold the single thread for long */
#define CONTENT_TYPE	 "text/plain; version=0.0.4; charset=utf-8"

/* ---- the exposition ----------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped (the format's rule). */
static void put_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* "name{sandbox="..",tier=".."" without the closing brace: callers add labels. */
static void sample_start(FILE *f, const char *name, json_object *st)
{
	fprintf(f, "%s{sandbox=\"", name);
	put_label_value(f, moat_status_str(st, "name", ""));
	fputs("\",tier=\"", f);
	put_label_value(f, moat_status_str(st, "tier", ""));
	fputc('"', f);
}

/* The value as it is in the status. */
static void put_value(FILE *f, json_object *v)
{
	if (json_object_is_type(v, json_type_int))
		fprintf(f, " %" PRIu64 "\n", json_object_get_uint64(v));
	else if (json_object_is_type(v, json_type_boolean))
		fprintf(f, " %d\n", json_object_get_boolean(v) ? 1 : 0);
	else /* a double as the status wrote it, in its fixed decimals */
		fprintf(f, " %s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/* One sample per sandbox of the value at path; sandboxes where it is
 * unavailable (or null: no limit) have none. */
static void simple_family(FILE *f, json_object *all, const char *name, const char *type,
			  const char *help, const char *path)
{
	family(f, name, type, help);
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);
		json_object *v = moat_status_get(st, path);

		if (!v)
			continue;
		sample_start(f, name, st);
		fputc('}', f);
		put_value(f, v);
	}
}

/* One sample per sandbox and value of the extra label. */
static void labelled_family(FILE *f, json_object *all, const char *name, const char *help,
			    const char *label, const char *const values[][2], size_t n)
{
	family(f, name, "counter", help);
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);

		for (size_t k = 0; k < n; k++) {
			json_object *v = moat_status_get(st, values[k][1]);

			if (!v)
				continue;
			sample_start(f, name, st);
			fprintf(f, ",%s=\"%s\"}", label, values[k][0]);
			put_value(f, v);
		}
	}
}

static void info_families(FILE *f, json_object *all)
{
	family(f, "moat_sandboxes", "gauge", "Sandboxes with a state directory on this host.");
	fprintf(f, "moat_sandboxes %zu\n", json_object_array_length(all));

	family(f, "moat_sandbox_info", "gauge",
	       "Always 1: the sandbox's tier and the sha256 of its effective policy.");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);

		sample_start(f, "moat_sandbox_info", st);
		fputs(",policy_sha256=\"", f);
		put_label_value(f, moat_status_str(st, "policy_sha256", ""));
		fputs("\"} 1\n", f);
	}

	family(f, "moat_sandbox_up", "gauge",
	       "1 while the sandbox runs; 0 while it starts or once its supervisor is gone.");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);

		sample_start(f, "moat_sandbox_up", st);
		fprintf(f, "} %d\n", strcmp(moat_status_str(st, "state", ""), "running") == 0);
	}
	simple_family(f, all, "moat_sandbox_start_time_seconds", "gauge",
		      "When the sandbox started, in seconds since the Unix epoch.", "started");
}

static void guarantee_families(FILE *f, json_object *all)
{
	family(f, "moat_sandbox_degraded_layers", "gauge",
	       "Layers --allow-degraded let fail at launch; 0 when every required layer applies.");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);
		json_object *d = moat_status_get(st, "enforcement.degraded");

		sample_start(f, "moat_sandbox_degraded_layers", st);
		fprintf(f, "} %zu\n", d ? json_object_array_length(d) : 0);
	}
	family(f, "moat_guarantee_applied", "gauge",
	       "1 when the guarantee is in force, 0 when it is not (see moat status NAME).");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);
		json_object *g = moat_status_get(st, "guarantees"), *applied;

		if (!g || !json_object_is_type(g, json_type_object))
			continue;
		json_object_object_foreach(g, key, val) {
			if (!json_object_is_type(val, json_type_object) ||
			    !json_object_object_get_ex(val, "applied", &applied))
				continue;
			sample_start(f, "moat_guarantee_applied", st);
			fputs(",guarantee=\"", f);
			put_label_value(f, key);
			fprintf(f, "\"} %d\n", json_object_get_boolean(applied) ? 1 : 0);
		}
	}
	family(f, "moat_status_source_up", "gauge",
	       "1 when the source of a group of metrics could be read for the sandbox, else 0.");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		static const char *const sources[][2] = {
			{"memory", "memory.available"},	  {"cpu", "cpu.available"},
			{"tasks", "tasks.available"},	  {"syscalls", "syscalls.available"},
			{"network", "network.counters.available"}, {"output", "output.available"},
		};
		json_object *st = json_object_array_get_idx(all, i);

		for (size_t k = 0; k < ARRAY_SIZE(sources); k++) {
			json_object *v = moat_status_get(st, sources[k][1]);

			sample_start(f, "moat_status_source_up", st);
			fprintf(f, ",source=\"%s\"} %d\n", sources[k][0],
				v && json_object_get_boolean(v) ? 1 : 0);
		}
	}
}

static void syscall_family(FILE *f, json_object *all)
{
	family(f, "moat_syscalls_total", "counter",
	       "System calls the sandbox's processes made, by name (nr_N when unnamed).");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);
		json_object *counts = moat_status_get(st, "syscalls.counts");

		if (!counts || !json_object_is_type(counts, json_type_object))
			continue;
		json_object_object_foreach(counts, key, val) {
			sample_start(f, "moat_syscalls_total", st);
			fputs(",syscall=\"", f);
			put_label_value(f, key);
			fputs("\"}", f);
			put_value(f, val);
		}
	}
}

static void network_families(FILE *f, json_object *all)
{
	static const char *const connections[][2] = {
		{"allowed", "network.counters.connections_allowed"},
		{"denied", "network.counters.connections_denied"},
	};
	static const char *const datagrams[][2] = {
		{"allowed", "network.counters.datagrams_allowed"},
		{"denied", "network.counters.datagrams_denied"},
	};

	simple_family(f, all, "moat_network_receive_bytes_total", "counter",
		      "Bytes of IP packets the sandbox received on its veth.",
		      "network.counters.bytes_in");
	simple_family(f, all, "moat_network_transmit_bytes_total", "counter",
		      "Bytes of IP packets the sandbox sent and the egress filter let out.",
		      "network.counters.bytes_out");
	simple_family(f, all, "moat_network_receive_packets_total", "counter",
		      "IP packets the sandbox received on its veth.",
		      "network.counters.packets_in");
	simple_family(f, all, "moat_network_transmit_packets_total", "counter",
		      "IP packets the egress filter let out of the sandbox.",
		      "network.counters.packets_out");
	labelled_family(f, all, "moat_network_connections_total",
			"connect(2) attempts, by the egress policy's verdict.", "result",
			connections, ARRAY_SIZE(connections));
	labelled_family(f, all, "moat_network_datagrams_total",
			"Unconnected datagram sends, by the egress policy's verdict.", "result",
			datagrams, ARRAY_SIZE(datagrams));
	simple_family(f, all, "moat_network_packets_denied_total", "counter",
		      "Packets the egress filter dropped.", "network.counters.packets_denied");
	simple_family(f, all, "moat_network_denials_lost_total", "counter",
		      "Denials enforced but not written to the audit log (ring buffer full).",
		      "network.counters.denials_lost");
}

/* The whole exposition into a malloc'd buffer, owned by the caller. */
static int render(char **ret, size_t *ret_len, struct moat_error *err)
{
	json_object *all = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (moat_status_collect_all(MOAT_STATUS_SYSCALL_NAMES, &all, err) < 0)
		return -1;
	f = open_memstream(&buf, &len);
	if (!f) {
		json_object_put(all);
		return moat_error_errno(err, "metrics");
	}
	info_families(f, all);
	guarantee_families(f, all);
	simple_family(f, all, "moat_memory_usage_bytes", "gauge",
		      "Memory the sandbox's cgroup uses now.", "memory.current_bytes");
	simple_family(f, all, "moat_memory_limit_bytes", "gauge",
		      "The sandbox's memory limit; no sample when it has none.",
		      "memory.max_bytes");
	simple_family(f, all, "moat_memory_oom_kills_total", "counter",
		      "Processes of the sandbox the kernel's OOM killer killed.",
		      "memory.oom_kills");
	simple_family(f, all, "moat_cpu_usage_seconds_total", "counter",
		      "CPU time the sandbox's processes used, user and system.",
		      "cpu.usage_seconds");
	simple_family(f, all, "moat_tasks", "gauge",
		      "Tasks (processes and threads) in the sandbox.", "tasks.current");
	simple_family(f, all, "moat_tasks_limit", "gauge",
		      "The sandbox's task limit; no sample when it has none.", "tasks.max");
	syscall_family(f, all);
	network_families(f, all);
	simple_family(f, all, "moat_log_dropped_bytes_total", "counter",
		      "Output of a detached sandbox dropped over its log budget (log_rate).",
		      "output.dropped_bytes");
	simple_family(f, all, "moat_log_rate_limit_bytes_per_second", "gauge",
		      "A detached sandbox's log budget in bytes a second; no sample without one.",
		      "output.rate_bytes_per_second");
	json_object_put(all);
	if (fclose(f) != 0) {
		free(buf);
		return moat_error_errno(err, "metrics");
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* ---- the HTTP server ------------------------------------------------------- */

/* "ADDR:PORT", "[V6ADDR]:PORT": numeric only, no name lookups. */
static int parse_listen(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	size_t hlen;
	int r;

	if (!colon || colon == spec || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hlen < 3 || spec[hlen - 1] != ']')
			return -1;
		spec++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (strtoul(colon + 1, NULL, 10) > 65535)
		return -1;
	r = getaddrinfo(host, colon + 1, &hints, &res);
	if (r != 0 || !res)
		return -1;
	memcpy(ret, res->ai_addr, res->ai_addrlen);
	*ret_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the client went away or stalled: its loss */
		buf += n;
		len -= (size_t)n;
	}
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len,
		    bool head)
{
	char header[256];
	int n = snprintf(header, sizeof(header),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, len);

	send_all(fd, header, (size_t)n);
	if (!head)
		send_all(fd, body, len);
}

static void respond_text(int fd, const char *status, const char *text, bool head)
{
	respond(fd, status, "text/plain; charset=utf-8", text, strlen(text), head);
}

/* Reads the request head: the request line is all that matters. */
static ssize_t read_request(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		ssize_t n = recv(fd, buf + len, size - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static void serve_one(int fd)
{
	char req[REQUEST_MAX], method[16], target[256], version[16];
	struct timeval timeout = {.tv_sec = CLIENT_TIMEOUT_S};
	struct moat_error err;
	char *body = NULL;
	size_t len = 0;
	bool head;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (read_request(fd, req, sizeof(req)) <= 0)
		return;
	if (sscanf(req, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/", 5) != 0) {
		respond_text(fd, "400 Bad Request", "bad request\n", false);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	/* A query string (?name[]=...) is ignored: the exposition is always whole. */
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics") != 0) {
		respond_text(fd, "404 Not Found", "not found: try /metrics\n", head);
		return;
	}
	if (!head && strcmp(method, "GET") != 0) {
		respond_text(fd, "405 Method Not Allowed", "only GET and HEAD\n", false);
		return;
	}
	if (render(&body, &len, &err) < 0) {
		char msg[MOAT_ERROR_MSG_MAX + 2];

		snprintf(msg, sizeof(msg), "%s\n", err.msg);
		respond_text(fd, "500 Internal Server Error", msg, head);
		return;
	}
	respond(fd, "200 OK", CONTENT_TYPE, body, len, head);
	free(body);
}

static int serve(const char *spec)
{
	struct sockaddr_storage addr;
	socklen_t addr_len = 0;
	char host[INET6_ADDRSTRLEN] = "?";
	_cleanup_close_ int fd = -EBADF;
	int one = 1;
	uint16_t port;

	if (parse_listen(spec, &addr, &addr_len) < 0)
		return moat_usage_error(MOAT_EXIT_USAGE, "metrics",
					"--listen: expected ADDR:PORT (e.g. 127.0.0.1:9477, "
					"[::1]:9477), got \"%s\"", spec);
	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		moat_print_line(stderr, "moat: metrics: socket: %s", strerror(errno));
		return MOAT_EXIT_FAILURE;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0) {
		moat_print_line(stderr, "moat: metrics: listen on %s: %s", spec, strerror(errno));
		return MOAT_EXIT_FAILURE;
	}
	if (addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
		printf("serving http://[%s]:%u/metrics\n", host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
		printf("serving http://%s:%u/metrics\n", host, port);
	}
	fflush(stdout);
	/* SIGINT and SIGTERM keep their default action: nothing to clean up. */
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			/* A client that reset before accept, or fds running out: go on. */
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				continue;
			moat_print_line(stderr, "moat: metrics: accept: %s", strerror(errno));
			return MOAT_EXIT_FAILURE;
		}
		serve_one(c);
		close(c);
	}
}

static int metrics_usage(FILE *f, int code)
{
	fputs("Usage: moat metrics [--listen ADDR:PORT]\n"
	      "\n"
	      "Prints every sandbox's counters (memory, CPU, tasks, system calls by name,\n"
	      "network bytes, packets and connections, which guarantees are in force) in\n"
	      "the Prometheus text format. Metric names (moat_..., labels sandbox and\n"
	      "tier) are documented in docs/status.md.\n"
	      "\n"
	      "Options:\n"
	      "  -l, --listen ADDR:PORT  serve them at http://ADDR:PORT/metrics instead\n"
	      "                          (HTTP/1.0, one request at a time, until killed);\n"
	      "                          port 0 picks a free port; the address served is\n"
	      "                          printed on stdout first\n"
	      "  -h, --help              print this help\n"
	      "\n"
	      "Exit: 0 ok, 1 failure, 2 bad usage.\n"
	      "\n"
	      "Examples:\n"
	      "  moat metrics | grep moat_memory_usage_bytes\n"
	      "  moat metrics --listen 127.0.0.1:9477\n"
	      "  moat metrics | promtool check metrics\n",
	      f);
	return code;
}

int cmd_metrics(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *listen_on = NULL;
	struct moat_error err;
	char *body = NULL;
	size_t len = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_on = optarg;
			break;
		case 'h':
			return metrics_usage(stdout, MOAT_EXIT_OK);
		default:
			return moat_option_error(MOAT_EXIT_USAGE, "metrics", c, argv);
		}
	}
	if (optind < argc)
		return moat_usage_error(MOAT_EXIT_USAGE, "metrics", "unexpected argument \"%s\"",
					argv[optind]);
	if (listen_on)
		return serve(listen_on);
	if (render(&body, &len, &err) < 0)
		return moat_fail(&err, MOAT_EXIT_FAILURE);
	fwrite(body, 1, len, stdout);
	free(body);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			moat_print_line(stderr, "moat: metrics: write: %s",
					strerror(errno ? errno : EIO));
		return MOAT_EXIT_FAILURE;
	}
	return MOAT_EXIT_OK;
}
