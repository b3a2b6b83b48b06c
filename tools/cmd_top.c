// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * moat top: every sandbox on one screen, refreshed each second, sortable.
 * Plain ANSI escape sequences on the terminal's alternate screen; the
 * terminal goes to non-canonical, no-echo mode for single keys and is put
 * back on every way out (q, SIGINT, SIGTERM, SIGHUP) and around a suspend.
 * Not on a terminal, it prints one snapshot and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "moat.h"
#include "status.h"
#include "text.h"
#include "util.h"

#define REFRESH_MS 1000

enum sort_key { SORT_CPU, SORT_MEMORY, SORT_SYSCALLS, SORT_NET_IN, SORT_NET_OUT, SORT_DENIED,
		SORT_NAME };

static const struct {
	char key;
	const char *name;
} sort_keys[] = {
	[SORT_CPU] = {'c', "cpu"},	     [SORT_MEMORY] = {'m', "memory"},
	[SORT_SYSCALLS] = {'s', "syscalls/s"}, [SORT_NET_IN] = {'i', "net in"},
	[SORT_NET_OUT] = {'o', "net out"},   [SORT_DENIED] = {'d', "denied"},
	[SORT_NAME] = {'n', "name"},
};

/* One sandbox as shown. Rates are per second: since the previous refresh when
 * there was one for the same sandbox (same start), else averaged since start. */
struct row {
	char name[64], tier[32], state[12], enforced[4];
	uint64_t pid, uptime, started;
	bool has_mem, has_max, has_cpu, has_sys, has_net;
	uint64_t mem, max;
	double cpu_s, cpu_pct;
	uint64_t syscalls;
	double sys_rate;
	uint64_t bytes_in, bytes_out, denied;
	double in_rate, out_rate;
};

struct top {
	struct row *rows, *prev;
	size_t n, n_prev;
	uint64_t sampled_ns, prev_ns;
	enum sort_key sort;
	bool reverse;
	int width, height;
};

static volatile sig_atomic_t got_quit, got_winch, got_tstp;
static struct termios saved_termios;
static bool screen_active, termios_saved;

/* ---- sampling -------------------------------------------------------------- */

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const struct row *find_prev(const struct top *t, const struct row *r)
{
	for (size_t i = 0; i < t->n_prev; i++)
		if (strcmp(t->prev[i].name, r->name) == 0 && t->prev[i].started == r->started)
			return &t->prev[i];
	return NULL;
}

static double rate(uint64_t now, uint64_t before, double dt)
{
	return now >= before && dt > 0 ? (double)(now - before) / dt : 0;
}

static void row_from(struct row *r, json_object *st)
{
	json_object *degraded = moat_status_get(st, "enforcement.degraded");
	json_object *known = moat_status_get(st, "enforcement.known");
	double up = 0;
	uint64_t v;

	memset(r, 0, sizeof(*r));
	moat_escape_str(moat_status_str(st, "name", ""), r->name, sizeof(r->name));
	moat_escape_str(moat_status_str(st, "tier", ""), r->tier, sizeof(r->tier));
	moat_escape_str(moat_status_str(st, "state", ""), r->state, sizeof(r->state));
	moat_status_u64(st, "pids.init", &r->pid);
	moat_status_u64(st, "started", &r->started);
	moat_status_double(st, "uptime_seconds", &up);
	r->uptime = (uint64_t)up;
	r->has_mem = moat_status_u64(st, "memory.current_bytes", &r->mem);
	r->has_max = moat_status_u64(st, "memory.max_bytes", &r->max);
	r->has_cpu = moat_status_double(st, "cpu.usage_seconds", &r->cpu_s);
	r->has_sys = moat_status_u64(st, "syscalls.total", &r->syscalls);
	r->has_net = moat_status_u64(st, "network.counters.bytes_in", &r->bytes_in) &&
		     moat_status_u64(st, "network.counters.bytes_out", &r->bytes_out);
	if (moat_status_u64(st, "network.counters.connections_denied", &v))
		r->denied += v;
	if (moat_status_u64(st, "network.counters.datagrams_denied", &v))
		r->denied += v;
	if (moat_status_u64(st, "network.counters.packets_denied", &v))
		r->denied += v;
	snprintf(r->enforced, sizeof(r->enforced), "%s",
		 !known || !json_object_get_boolean(known)			 ? "?"
		 : degraded && json_object_array_length(degraded) > 0 ? "DEG"
								      : "ok");
	/* Averages since start, replaced below when there is a previous sample. */
	if (up > 0) {
		r->cpu_pct = r->cpu_s / up * 100;
		r->sys_rate = (double)r->syscalls / up;
		r->in_rate = (double)r->bytes_in / up;
		r->out_rate = (double)r->bytes_out / up;
	}
}

static int sample(struct top *t, struct moat_error *err)
{
	json_object *all = NULL;
	struct row *rows;
	size_t n;
	uint64_t now;
	double dt;

	if (moat_status_collect_all(0, &all, err) < 0)
		return -1;
	now = monotonic_ns();
	n = json_object_array_length(all);
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows) {
		json_object_put(all);
		return moat_error_set(err, ENOMEM, "top");
	}
	/* The previous refresh's rows become the base of the rates. */
	free(t->prev);
	t->prev = t->rows;
	t->n_prev = t->n;
	t->prev_ns = t->sampled_ns;
	dt = t->prev_ns ? (double)(now - t->prev_ns) / 1e9 : 0;
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];
		const struct row *p;

		row_from(r, json_object_array_get_idx(all, i));
		p = dt > 0 ? find_prev(t, r) : NULL;
		if (!p)
			continue;
		if (r->has_cpu && p->has_cpu)
			r->cpu_pct = r->cpu_s >= p->cpu_s ? (r->cpu_s - p->cpu_s) / dt * 100 : 0;
		if (r->has_sys && p->has_sys)
			r->sys_rate = rate(r->syscalls, p->syscalls, dt);
		if (r->has_net && p->has_net) {
			r->in_rate = rate(r->bytes_in, p->bytes_in, dt);
			r->out_rate = rate(r->bytes_out, p->bytes_out, dt);
		}
	}
	json_object_put(all);
	t->rows = rows;
	t->n = n;
	t->sampled_ns = now;
	return 0;
}

/* ---- sorting ------------------------------------------------------------------ */

static enum sort_key current_sort;
static bool current_reverse;

static int cmp_double(double a, double b)
{
	return a == b ? 0 : a > b ? -1 : 1; /* biggest first */
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = 0;

	switch (current_sort) {
	case SORT_CPU: c = cmp_double(x->cpu_pct, y->cpu_pct); break;
	case SORT_MEMORY: c = cmp_double((double)x->mem, (double)y->mem); break;
	case SORT_SYSCALLS: c = cmp_double(x->sys_rate, y->sys_rate); break;
	case SORT_NET_IN: c = cmp_double(x->in_rate, y->in_rate); break;
	case SORT_NET_OUT: c = cmp_double(x->out_rate, y->out_rate); break;
	case SORT_DENIED: c = cmp_double((double)x->denied, (double)y->denied); break;
	case SORT_NAME: break;
	}
	if (c == 0)
		c = strcmp(x->name, y->name);
	return current_reverse ? -c : c;
}

static void sort_rows(struct top *t)
{
	current_sort = t->sort;
	current_reverse = t->reverse;
	if (t->n)
		qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
}

/* ---- drawing ------------------------------------------------------------------ */

static void cell_bytes(bool known, double v, char *buf, size_t len)
{
	if (known)
		moat_status_format_bytes((uint64_t)v, buf, len);
	else
		snprintf(buf, len, "-");
}

/* A line cut at width columns (every character here is one column: the
 * strings were sanitised to ASCII escapes or are moat's own). */
static void put_line(FILE *f, const char *line, int width, bool tty)
{
	fprintf(f, "%.*s%s\n", width > 0 ? width : 0, line, tty ? "\033[K" : "");
}

static void draw(struct top *t, FILE *f, bool tty)
{
	char line[512], uptime[16], mem[16], memp[8], cpu[12], sys[16], in[16], out[16];
	size_t degraded = 0, shown;
	char clock[16];
	time_t now = time(NULL);
	struct tm tm;

	sort_rows(t);
	for (size_t i = 0; i < t->n; i++)
		degraded += strcmp(t->rows[i].enforced, "DEG") == 0;
	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (tty)
		fputs("\033[H", f);
	snprintf(
	    line, sizeof(line),
	    "moat top  %s  %zu sandbox%s, %zu degraded  sort: %s%s  (q quit; c m s i o d n sort; "
	    "r reverse)",
	    clock, t->n, t->n == 1 ? "" : "es", degraded, sort_keys[t->sort].name,
	    t->reverse ? " (reversed)" : "");
	put_line(f, line, t->width, tty);
	snprintf(line, sizeof(line),
		 "%s%-24s %-10s %-8s %8s %8s %6s %7s %5s %8s %8s %8s %7s %-3s%s",
		 tty ? "\033[7m" : "", "NAME", "TIER", "STATE", "PID", "UPTIME", "CPU%", "MEMORY",
		 "MEM%", "SYSC/S", "IN/S", "OUT/S", "DENIED", "ENF", "");
	fprintf(f, "%.*s%s%s\n", t->width + (tty ? 4 : 0), line, tty ? "\033[K" : "",
		tty ? "\033[0m" : "");
	shown = t->height > 2 ? (size_t)t->height - 2 : 0;
	for (size_t i = 0; i < t->n && (!tty || i < shown); i++) {
		const struct row *r = &t->rows[i];

		moat_status_format_duration(r->uptime, uptime, sizeof(uptime));
		cell_bytes(r->has_mem, (double)r->mem, mem, sizeof(mem));
		if (r->has_mem && r->has_max && r->max)
			snprintf(memp, sizeof(memp), "%.0f", (double)r->mem * 100 / (double)r->max);
		else
			snprintf(memp, sizeof(memp), "-");
		if (r->has_cpu)
			snprintf(cpu, sizeof(cpu), "%.1f", r->cpu_pct);
		else
			snprintf(cpu, sizeof(cpu), "-");
		if (r->has_sys)
			snprintf(sys, sizeof(sys), "%.0f", r->sys_rate);
		else
			snprintf(sys, sizeof(sys), "-");
		cell_bytes(r->has_net, r->in_rate, in, sizeof(in));
		cell_bytes(r->has_net, r->out_rate, out, sizeof(out));
		snprintf(
		    line, sizeof(line),
		    "%-24s %-10s %-8s %8" PRIu64 " %8s %6s %7s %5s %8s %8s %8s %7" PRIu64 " %-3s",
		    r->name, r->tier, r->state, r->pid, strcmp(r->state, "dead") ? uptime : "-",
		    cpu, mem, memp, sys, in, out, r->denied, r->enforced);
		put_line(f, line, t->width, tty);
	}
	if (tty)
		fputs("\033[J", f);
	fflush(f);
}

/* ---- the terminal -------------------------------------------------------------- */

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else if (sig == SIGTSTP)
		got_tstp = 1;
	else
		got_quit = 1;
}

static void window_size(struct top *t)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		t->width = ws.ws_col;
		t->height = ws.ws_row;
	} else {
		t->width = 80;
		t->height = 24;
	}
}

/* Keys one at a time without echo. ISIG stays: ^C is SIGINT, handled like q. */
static void screen_enter(void)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
		struct termios raw = saved_termios;

		termios_saved = true;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	/* Alternate screen, cursor hidden, cleared. */
	fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
	fflush(stdout);
	screen_active = true;
}

static void screen_leave(void)
{
	if (!screen_active)
		return;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (termios_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
	screen_active = false;
}

static void handle_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns EINTR */

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ^Z: the terminal back as it was, stopped, then the screen again on SIGCONT. */
static void suspend(void)
{
	screen_leave();
	signal(SIGTSTP, SIG_DFL);
	raise(SIGTSTP);
	/* Continued. */
	handle_signals();
	screen_enter();
}

/* Returns false to quit. */
static bool handle_key(struct top *t, char c)
{
	if (c == 'q' || c == 'Q')
		return false;
	if (c == 'r' || c == 'R') {
		t->reverse = !t->reverse;
		return true;
	}
	for (size_t k = 0; k < ARRAY_SIZE(sort_keys); k++)
		if (c == sort_keys[k].key || c == sort_keys[k].key - 'a' + 'A')
			t->sort = (enum sort_key)k;
	return true;
}

static int run_live(struct top *t)
{
	struct moat_error err;
	uint64_t next = 0;
	int code = MOAT_EXIT_OK;
	bool redraw;

	handle_signals();
	window_size(t);
	screen_enter();
	while (!got_quit) {
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		uint64_t now = monotonic_ns();
		int timeout;

		redraw = false;
		if (now >= next) {
			if (sample(t, &err) < 0) {
				code = MOAT_EXIT_FAILURE;
				break;
			}
			next = now + REFRESH_MS * 1000000ull;
			redraw = true;
		}
		if (got_winch) {
			got_winch = 0;
			window_size(t);
			redraw = true;
		}
		if (got_tstp) {
			got_tstp = 0;
			suspend();
			redraw = true;
		}
		if (redraw)
			draw(t, stdout, true);
		now = monotonic_ns();
		timeout = now >= next ? 0 : (int)((next - now + 999999) / 1000000);
		if (poll(&p, termios_saved ? 1 : 0, timeout) > 0 &&
		    (p.revents & (POLLIN | POLLHUP))) {
			char keys[32];
			ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));

			/* An escape sequence (arrow keys) arrives whole: its bytes are
			 * not sort keys. */
			if (n > 1 && keys[0] == '\033')
				n = 0;
			/* The terminal hung up: nobody is watching. */
			if (n <= 0 && (p.revents & POLLHUP))
				got_quit = 1;
			for (ssize_t i = 0; i < n; i++)
				if (!handle_key(t, keys[i]))
					got_quit = 1;
			if (n > 0)
				draw(t, stdout, true);
		}
	}
	screen_leave();
	if (code != MOAT_EXIT_OK)
		moat_fail(&err, code);
	return code;
}

static int top_usage(FILE *f, int code)
{
	fputs("Usage: moat top [-s|--sort KEY]\n"
	      "\n"
	      "Shows every sandbox on one screen, refreshed each second: CPU use, memory,\n"
	      "system calls, network bytes in and out per second, denied attempts in all,\n"
	      "and whether its guarantees are all in force (ENF: ok, DEG degraded, ? not\n"
	      "recorded). Rates are over the last second; on the first screen, and for a\n"
	      "sandbox new since the last refresh, they are averages since its start.\n"
	      "\n"
	      "Keys: q quit (also ^C); sort by c CPU, m memory, s syscalls/s, i net in,\n"
	      "o net out, d denied, n name; r reverses the order.\n"
	      "Not on a terminal, prints one snapshot and exits.\n"
	      "\n"
	      "Options:\n"
	      "  -s, --sort KEY  the first sort: cpu, memory, syscalls, in, out, denied, name\n"
	      "                  (or its key letter); default cpu\n"
	      "  -h, --help      print this help\n"
	      "\n"
	      "Examples:\n"
	      "  moat top\n"
	      "  moat top --sort memory\n"
	      "  moat top | head -5\n",
	      f);
	return code;
}

static int parse_sort(const char *s, enum sort_key *ret)
{
	static const char *const words[] = {
		[SORT_CPU] = "cpu",	[SORT_MEMORY] = "memory",     [SORT_SYSCALLS] = "syscalls",
		[SORT_NET_IN] = "in",	[SORT_NET_OUT] = "out",	      [SORT_DENIED] = "denied",
		[SORT_NAME] = "name",
	};

	for (size_t k = 0; k < ARRAY_SIZE(words); k++) {
		if (strcmp(s, words[k]) == 0 || (s[0] == sort_keys[k].key && s[1] == '\0')) {
			*ret = (enum sort_key)k;
			return 0;
		}
	}
	return -1;
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{"sort", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct top t = {.sort = SORT_CPU, .width = 1000, .height = 0};
	struct moat_error err;
	int c, code;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_sort(optarg, &t.sort) < 0)
				return moat_usage_error(MOAT_EXIT_USAGE, "top",
							"--sort: unknown key \"%s\"", optarg);
			break;
		case 'h':
			return top_usage(stdout, MOAT_EXIT_OK);
		default:
			return moat_option_error(MOAT_EXIT_USAGE, "top", c, argv);
		}
	}
	if (optind < argc)
		return moat_usage_error(MOAT_EXIT_USAGE, "top", "unexpected argument \"%s\"",
					argv[optind]);
	if (isatty(STDOUT_FILENO)) {
		code = run_live(&t);
	} else if (sample(&t, &err) < 0) {
		code = moat_fail(&err, MOAT_EXIT_FAILURE);
	} else {
		draw(&t, stdout, false);
		code = ferror(stdout) ? MOAT_EXIT_FAILURE : MOAT_EXIT_OK;
	}
	free(t.rows);
	free(t.prev);
	return code;
}
