// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * net-bench: what moat's egress filter costs the traffic it lets through
 * (issue #4), next to no filter and next to nftables holding the same
 * rules, measured in one run on one machine.
 *
 * Configurations:
 *
 *   none       no filter
 *   egress N   bpf/egress.bpf.c with N rules, attached to the client's
 *              cgroup by moat_egress_prepare() and moat_egress_attach()
 *   nft N      the same N rules as an nftables set in the client's network
 *              namespace: an output chain with policy drop, loopback
 *              accepted, and one rule
 *              "ip daddr . meta l4proto . th dport @allowed accept"
 *
 * Each configuration has a client of its own: a process in a network
 * namespace of its own, behind eth0, the sandbox end of a veth made the
 * way a sandbox's is (sandbox/net.c), in a cgroup2 directory of its own
 * under ours, where moat attaches a sandbox's programs. The host ends of
 * all the veths lie in one more namespace, the server's. Every
 * configuration is set up once and stays; so they can take turns quickly,
 * one short slice each, test after test, round after round, and other load
 * on the machine falls on all of them alike. Each slice measures one of:
 *
 *   TCP connects per second: connect(), then close() (the server accepts
 *   and closes); one bulk TCP stream in MB/s (64 KiB writes); unconnected
 *   64-byte UDP sendto()s per second
 *
 * The table holds each figure's median over the rounds and, for each
 * filter, the median of its ratios to no filter measured in the same round
 * and test, moments apart. The N rules are the server's address (any
 * protocol, every port) and N-1 others: random /32s and, one in ten, /24s,
 * distinct and disjoint, each with a tcp or udp port or port range; so the
 * rule map holds N entries, the nft set N elements, and smaller rulesets
 * are the first rules of the largest. Rule loading is the time of
 * moat_egress_attach() for the largest egress ruleset: at setup, and then a
 * few more times to an empty cgroup with no traffic (each freed again).
 *
 * Then the targets of the issue, for the largest egress ruleset, one PASS
 * or MISS line each: connect rate within 5% of no filter, bulk within 3%,
 * UDP send rate within 10%, rule loading under 200 ms (medians). On a small
 * VM a slice's figures scatter by several percent; the target lines show
 * the middle half of the per-round changes, so a verdict that noise could
 * flip reads as such. More rounds (-n) narrow it.
 *
 * While egress programs are attached anywhere, every cgroup's sockets pay
 * the kernel's check for programs of their own, "none" too: as on a host
 * where moat runs sandboxes. Each configuration's rules are keyed by its
 * cgroup, so no client sees another's.
 *
 * Nothing outlives it. The namespaces belong to children that die with it
 * (PR_SET_PDEATHSIG, so also when it is SIGKILLed) and take the veths and
 * nft tables with them; moat_egress_free() takes the rules out of the map;
 * the cgroup directories are removed at exit, and those a killed run left
 * are collected, rules and directories, by the next run. The pinned
 * programs stay: they are moat's cache, which `moat gc` removes.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "egress.h"
#include "net.h"
#include "policy.h"
#include "util.h"

/*
 * Configuration k's veth is 10.209.0.4k/30: the host end 4k+1 in the
 * server's namespace, eth0 4k+2 in the client's. (moat's own tests use
 * 10.208.0.0/16; all ends lie in namespaces of ours, so nothing here can
 * clash with the host's addresses anyway.) Every client talks to
 * SERVER_ADDR, the host end of configuration 0, through its own veth: the
 * next hop is its own host end in each case.
 */
#define NET_BASE    0x0ad10000u /* 10.209.0.0 */
#define NET_PREFIX  30
#define SERVER_ADDR "10.209.0.1"

enum { PORT_CONNECT = 5001, PORT_BULK = 5002, PORT_UDP = 5003 };

#define BULK_WRITE_BYTES  (64 * 1024)
#define BULK_READ_BYTES	  (256 * 1024)
#define BULK_WARMUP_MS	  50 /* slow start and buffer autotuning, not measured */
#define UDP_PAYLOAD_BYTES 64
#define IO_TIMEOUT_S	  2 /* a connect() or send() blocked this long lost a packet */
#define LISTEN_BACKLOG	  4096

#define SLICE_MS_DEFAULT 200
#define ROUNDS_DEFAULT	 15
#define ROUNDS_MAX	 100
#define WARMUP_MS	 100
#define LOAD_REPEATS	 3
#define SIZES_MAX	 6
#define CONFIGS_MAX	 (1 + 2 * SIZES_MAX)
#define REPLY_SLACK_MS	 60000 /* beyond a slice: a large nft ruleset takes seconds */

#define CGROUP_PREFIX "moat-netbench."
#define NFT_TABLE     "moat_netbench"
#define RESOLV_CONF   "/etc/resolv.conf" /* never read: no rule says "dns" */

/* Issue #4's targets, for the largest egress ruleset against no filter. */
#define TARGET_RULES	   100000
#define TARGET_CONNECT_PCT 5.0
#define TARGET_BULK_PCT	   3.0
#define TARGET_UDP_PCT	   10.0
#define TARGET_LOAD_MS	   200.0

enum test { TEST_CONNECT, TEST_BULK, TEST_UDP, N_TESTS };

static const struct {
	const char *column; /* table heading */
	const char *name;   /* target line */
	double target_pct;
	int decimals;
} tests[N_TESTS] = {
    [TEST_CONNECT] = {"connect/s", "TCP connect rate", TARGET_CONNECT_PCT, 0},
    [TEST_BULK] = {"TCP MB/s", "bulk TCP throughput", TARGET_BULK_PCT, 1},
    [TEST_UDP] = {"UDP sends/s", "UDP send rate", TARGET_UDP_PCT, 0},
};

/* ---- a parent's orders to a child, over a SOCK_SEQPACKET pair -------------- */

enum op {
	OP_HELLO = 1, /* (reply only) the child is in its network namespace */
	OP_SETUP,     /* eth0 addressed and up, the cgroup joined */
	OP_NFT_LOAD,  /* arg: how many rules */
	OP_RUN,	      /* arg: enum test */
};

struct request {
	uint32_t op;
	uint32_t arg;
	uint32_t slice_ms;
};

struct reply {
	int32_t status; /* 0, or -1 with err */
	uint64_t count; /* connects, bytes or datagrams */
	uint64_t ns;	/* the time they took, or the nft command's */
	struct moat_error err;
};

enum config_kind { CONFIG_NONE, CONFIG_EGRESS, CONFIG_NFT };

struct config {
	enum config_kind kind;
	size_t n_rules;
	char cgroup[24]; /* its directory's name in ours */
	int cgroup_fd;
	struct moat_policy *policy; /* CONFIG_EGRESS */
	struct moat_egress *eg;	    /* CONFIG_EGRESS, attached */
	pid_t pid;		    /* its client */
	int ctl;
	double load_ms;	   /* attach, or the nft load, at setup */
	double compile_ms; /* moat_egress_prepare, at setup */
	char skip[160];	   /* why it is not measured: "" when it is */
	double result[N_TESTS][ROUNDS_MAX];
};

struct bench {
	int slice_ms;
	int rounds;
	bool verbose; /* every round's figures too */
	size_t egress_sizes[SIZES_MAX], nft_sizes[SIZES_MAX];
	size_t n_egress_sizes, n_nft_sizes;

	struct moat_egress_rule *rules; /* the largest ruleset; smaller ones are its start */
	size_t n_rules;
	struct config configs[CONFIGS_MAX]; /* [0] is none */
	size_t n_configs;

	int client_cpu, server_cpu; /* -1: not pinned */
	pid_t self;
	sigset_t original;
	int sigfd;
	int stop_signal;

	char cgroup_dir[PATH_MAX];
	bool cgroup_made;
	int cgroup_fd;
	int load_cgroup_fd; /* "load": no task, for timing rule loading alone */
	struct moat_egress *load_eg;
	double first_attach_ms; /* loads and pins the programs when the host has none */
	/* The largest egress ruleset: [0] its attach at setup, then the repeats. */
	double load_ms[1 + LOAD_REPEATS], compile_ms[1 + LOAD_REPEATS];
	double unload_ms[LOAD_REPEATS];

	pid_t server;
	int server_ctl;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the rules ------------------------------------------------------------- */

/* xorshift64*: the same rules in every run, so runs compare. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* A set of nonzero 32-bit values: open addressing, linear probing. */
struct u32_set {
	uint32_t *v;
	size_t mask;
};

static int u32_set_init(struct u32_set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	s->v = calloc(cap, sizeof(*s->v));
	s->mask = cap - 1;
	return s->v ? 0 : -1;
}

static size_t u32_slot(const struct u32_set *s, uint32_t x)
{
	size_t i = (x * 0x9e3779b1u) & s->mask;

	while (s->v[i] && s->v[i] != x)
		i = (i + 1) & s->mask;
	return i;
}

static bool u32_set_has(const struct u32_set *s, uint32_t x)
{
	return s->v[u32_slot(s, x)] == x;
}

static void u32_set_add(struct u32_set *s, uint32_t x)
{
	s->v[u32_slot(s, x)] = x;
}

/* A unicast IPv4 address outside 10/8 (the server's) and 127/8, host order. */
static uint32_t random_addr(uint64_t *rng)
{
	for (;;) {
		uint32_t a = (uint32_t)(rng_next(rng) >> 32);
		uint32_t first = a >> 24;

		if (first >= 11 && first <= 223 && first != 127)
			return a;
	}
}

static void rule_cidr(struct moat_egress_rule *r, uint32_t addr, uint8_t prefix)
{
	uint32_t be = htonl(addr);

	r->kind = MOAT_RULE_CIDR;
	r->cidr.family = AF_INET;
	memcpy(r->cidr.addr, &be, sizeof(be));
	r->cidr.prefix = prefix;
}

/*
 * Rule 0 allows the server, any protocol and port; the others are distinct
 * and disjoint (no /32 inside a /24): one map entry and one nft element
 * each, and no nft interval overlaps another.
 */
static int rules_generate(size_t n, struct moat_egress_rule **ret, struct moat_error *err)
{
	_cleanup_free_ struct moat_egress_rule *rules = calloc(n, sizeof(*rules));
	struct u32_set hosts = {0}, host_nets = {0}, nets = {0};
	uint64_t rng = 0x6d6f61742d6e6574ull;
	struct in_addr server;
	int r = -1;

	if (!rules || u32_set_init(&hosts, n) < 0 || u32_set_init(&host_nets, n) < 0 ||
	    u32_set_init(&nets, n / 10 + 1) < 0) {
		moat_error_errno(err, "generate %zu rules", n);
		goto out;
	}
	inet_pton(AF_INET, SERVER_ADDR, &server);
	rule_cidr(&rules[0], ntohl(server.s_addr), 32);
	rules[0].proto = MOAT_PROTO_ANY;
	for (size_t i = 1; i < n; i++) {
		struct moat_egress_rule *rule = &rules[i];
		uint64_t x = rng_next(&rng);

		if (i % 10 == 5) {
			uint32_t net;

			do
				net = random_addr(&rng) >> 8;
			while (u32_set_has(&nets, net) || u32_set_has(&host_nets, net));
			u32_set_add(&nets, net);
			rule_cidr(rule, net << 8, 24);
		} else {
			uint32_t host;

			do
				host = random_addr(&rng);
			while (u32_set_has(&hosts, host) || u32_set_has(&nets, host >> 8));
			u32_set_add(&hosts, host);
			u32_set_add(&host_nets, host >> 8);
			rule_cidr(rule, host, 32);
		}
		rule->proto = x & 1 ? MOAT_PROTO_TCP : MOAT_PROTO_UDP;
		rule->port_lo = (uint16_t)(1 + (x >> 8) % 65000);
		/* One port in four is a range of up to 64. */
		rule->port_hi = (uint16_t)(rule->port_lo + ((x >> 4) & 3 ? 0 : (x >> 32) % 64));
	}
	*ret = TAKE_PTR(rules);
	r = 0;
out:
	free(hosts.v);
	free(host_nets.v);
	free(nets.v);
	return r;
}

/* An egress-only policy holding the first n rules. Owned by the caller. */
static struct moat_policy *policy_of(const struct moat_egress_rule *rules, size_t n,
				     struct moat_error *err)
{
	struct moat_policy *p = moat_policy_new();

	if (!p || !(p->egress = calloc(n, sizeof(*p->egress)))) {
		moat_policy_free(p);
		moat_error_errno(err, "policy of %zu rules", n);
		return NULL;
	}
	memcpy(p->egress, rules, n * sizeof(*rules));
	p->n_egress = n;
	p->net_mode = MOAT_NET_VETH;
	return p;
}

/* One rule as an nft set element "ADDR[/LEN] . PROTO . PORTS"; "any"
 * protocol is the whole 0-255 range of meta l4proto. */
static void nft_element(FILE *f, const struct moat_egress_rule *r)
{
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, r->cidr.addr, addr, sizeof(addr));
	fputs(addr, f);
	if (r->cidr.prefix < 32)
		fprintf(f, "/%u", r->cidr.prefix);
	switch (r->proto) {
	case MOAT_PROTO_TCP:
		fputs(" . tcp", f);
		break;
	case MOAT_PROTO_UDP:
		fputs(" . udp", f);
		break;
	default:
		fputs(" . 0-255", f);
	}
	if (!r->port_lo)
		fputs(" . 0-65535", f);
	else if (r->port_lo == r->port_hi)
		fprintf(f, " . %u", r->port_lo);
	else
		fprintf(f, " . %u-%u", r->port_lo, r->port_hi);
}

/* The ruleset as nft -f reads it; malloc'd, owned by the caller. The table
 * is added and deleted first, so that loading is idempotent. */
static char *nft_ruleset(const struct moat_egress_rule *rules, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "add table inet " NFT_TABLE "\n"
		   "delete table inet " NFT_TABLE "\n"
		   "table inet " NFT_TABLE " {\n"
		   "\tset allowed {\n"
		   "\t\ttype ipv4_addr . inet_proto . inet_service\n"
		   "\t\tflags interval\n"
		   "\t\telements = {\n");
	for (size_t i = 0; i < n; i++) {
		fputs("\t\t\t", f);
		nft_element(f, &rules[i]);
		fputs(i + 1 < n ? ",\n" : "\n", f);
	}
	fprintf(f, "\t\t}\n"
		   "\t}\n"
		   "\tchain output {\n"
		   "\t\ttype filter hook output priority filter; policy drop;\n"
		   "\t\toif \"lo\" accept\n"
		   "\t\tip daddr . meta l4proto . th dport @allowed accept\n"
		   "\t}\n"
		   "}\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void nft_ctx_freep(struct nft_ctx **ctx)
{
	if (*ctx)
		nft_ctx_free(*ctx);
}

/* Runs nft commands in the caller's namespace; *ret_ns: how long nft took. */
static int nft_run(const char *cmd, const char *what, uint64_t *ret_ns, struct moat_error *err)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	uint64_t t0;

	if (!ctx || nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
		return moat_error_set(err, ENOMEM, "%s: nftables context", what);
	t0 = mono_ns();
	if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
		const char *msg = nft_ctx_get_error_buffer(ctx);

		/* Its first line: the rest quotes our (long) input. */
		return moat_error_set(err, 0, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
	}
	*ret_ns = mono_ns() - t0;
	return 0;
}

/* ---- both kinds of children ---------------------------------------------------- */

/* Configuration k's /30 (see NET_BASE). */
static void lease_fill(struct moat_net_lease *l, size_t k)
{
	memset(l, 0, sizeof(*l));
	l->host.s_addr = htonl(NET_BASE + 4 * (uint32_t)k + 1);
	l->sandbox.s_addr = htonl(NET_BASE + 4 * (uint32_t)k + 2);
	l->prefix = NET_PREFIX;
	snprintf(l->host_ifname, sizeof(l->host_ifname), MOAT_NET_IFNAME_PREFIX "nb%u",
		 (unsigned)k);
	snprintf(l->name, sizeof(l->name), "net-bench-%u", (unsigned)k);
	/* path stays "": no lease file; these namespaces hold nobody else. */
}

/* Right after fork: die with the parent, also when it is SIGKILLed (so the
 * namespaces go with it), take back the signal mask, drop the parent's
 * descriptors but keep_ctl, stay on one CPU. */
static int child_start(const struct bench *b, int keep_ctl, int cpu, struct moat_error *err)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return moat_error_errno(err, "PR_SET_PDEATHSIG");
	if (getppid() != b->self)
		_exit(1); /* it died before prctl: nobody is waiting for us */
	sigprocmask(SIG_SETMASK, &b->original, NULL);
	close(b->sigfd);
	for (size_t i = 0; i < b->n_configs; i++)
		if (b->configs[i].ctl >= 0 && b->configs[i].ctl != keep_ctl)
			close(b->configs[i].ctl);
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			return moat_error_errno(err, "pin to CPU %d", cpu);
	}
	return 0;
}

static void send_reply(int ctl, const struct reply *rp)
{
	while (send(ctl, rp, sizeof(*rp), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static struct sockaddr_in server_sockaddr(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	inet_pton(AF_INET, SERVER_ADDR, &sa.sin_addr);
	return sa;
}

/* ---- the server ------------------------------------------------------------------ */

static int server_socket(int type, int port, struct moat_error *err)
{
	struct sockaddr_in sa = server_sockaddr(port);
	_cleanup_close_ int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, LISTEN_BACKLOG) < 0))
		return moat_error_errno(err, "server socket %s:%d", SERVER_ADDR, port);
	return TAKE_FD(fd);
}

/* Accepts, and closes once the client has: closing first would reset the
 * connection while the client's connect() is still on its way back to user
 * space (ECONNRESET after a complete handshake). The client closes with a
 * reset, so no TIME_WAIT piles up on either side and ports never run out. */
static void __attribute__((noreturn)) serve_connects(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char byte;
		ssize_t n;

		if (fd < 0)
			continue;
		do
			n = recv(fd, &byte, 1, 0);
		while (n > 0 || (n < 0 && errno == EINTR));
		close(fd);
	}
}

static void __attribute__((noreturn)) serve_bulk(int lfd)
{
	static char buf[BULK_READ_BYTES];

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			continue;
		do
			n = recv(fd, buf, sizeof(buf), 0);
		while (n > 0 || (n < 0 && errno == EINTR));
		close(fd);
	}
}

static void __attribute__((noreturn)) serve_datagrams(int fd)
{
	static char buf[2048];

	for (;;)
		recv(fd, buf, sizeof(buf), 0);
}

/* A worker process of the server's: dies with it. */
static int spawn_worker(void (*serve)(int), int fd, struct moat_error *err)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return moat_error_errno(err, "fork a server worker");
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		serve(fd);
	}
	return 0;
}

static int server_setup(const struct bench *b, int fds[3], struct moat_error *err)
{
	if (unshare(CLONE_NEWNET) < 0)
		return moat_error_errno(err, "unshare the server's network namespace");
	if (moat_net_loopback_up(err) < 0)
		return -1;
	for (size_t k = 0; k < b->n_configs; k++) {
		struct moat_net_lease lease;

		lease_fill(&lease, k);
		/* As for a sandbox: the host end here, eth0 made straight
		 * inside the client's namespace. */
		if (moat_net_veth_create(&lease, b->configs[k].pid, err) < 0)
			return -1;
	}
	fds[0] = server_socket(SOCK_STREAM, PORT_CONNECT, err);
	fds[1] = fds[0] < 0 ? -1 : server_socket(SOCK_STREAM, PORT_BULK, err);
	fds[2] = fds[1] < 0 ? -1 : server_socket(SOCK_DGRAM, PORT_UDP, err);
	if (fds[2] < 0)
		return -1;
	if (spawn_worker(serve_connects, fds[0], err) < 0 ||
	    spawn_worker(serve_bulk, fds[1], err) < 0)
		return -1;
	return 0;
}

static void __attribute__((noreturn)) server_main(const struct bench *b, int ctl)
{
	struct reply rp = {0};
	int fds[3] = {-EBADF, -EBADF, -EBADF};

	close(b->cgroup_fd);
	close(b->load_cgroup_fd);
	for (size_t i = 0; i < b->n_configs; i++)
		close(b->configs[i].cgroup_fd);
	if (child_start(b, ctl, b->server_cpu, &rp.err) < 0 || server_setup(b, fds, &rp.err) < 0) {
		rp.status = -1;
		send_reply(ctl, &rp);
		_exit(1);
	}
	send_reply(ctl, &rp);
	serve_datagrams(fds[2]);
}

/* ---- a client, in its namespace and cgroup --------------------------------------- */

static int client_setup(size_t k, int cgroup_fd, struct moat_error *err)
{
	struct moat_net_lease lease;
	_cleanup_close_ int procs = -EBADF;

	lease_fill(&lease, k);
	if (moat_net_loopback_up(err) < 0 || moat_net_veth_configure_inside(&lease, err) < 0)
		return -1;
	/* Into the cgroup: the sockets made from now on are the ones its
	 * programs judge. */
	procs = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (procs < 0 || moat_write_all(procs, "0", 1) < 0)
		return moat_error_errno(err, "join cgroup %zu", k);
	return 0;
}

/* Bounds connect() (Linux applies SO_SNDTIMEO to it) and send(): a packet
 * a filter drops then fails the test instead of hanging it. */
static int bounded(int fd)
{
	const struct timeval tv = {.tv_sec = IO_TIMEOUT_S};

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int io_fail(struct moat_error *err, int fd, const char *what, int port)
{
	int e = errno;

	if (fd >= 0)
		close(fd);
	errno = e == EINPROGRESS || e == EAGAIN ? ETIMEDOUT : e;
	return moat_error_errno(err, "%s %s:%d (did a filter drop it?)", what, SERVER_ADDR, port);
}

static int run_connects(uint64_t ns, struct reply *rp, struct moat_error *err)
{
	const struct sockaddr_in sa = server_sockaddr(PORT_CONNECT);
	const struct linger reset = {.l_onoff = 1, .l_linger = 0};
	uint64_t t0 = mono_ns(), t = t0, n = 0;

	while (t - t0 < ns) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || bounded(fd) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)) < 0 ||
		    connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
			return io_fail(err, fd, "connect to", PORT_CONNECT);
		close(fd);
		n++;
		t = mono_ns();
	}
	rp->count = n;
	rp->ns = t - t0;
	return 0;
}

static int run_bulk(uint64_t ns, struct reply *rp, struct moat_error *err)
{
	static char buf[BULK_WRITE_BYTES];
	const struct sockaddr_in sa = server_sockaddr(PORT_BULK);
	const uint64_t warmup = BULK_WARMUP_MS * 1000000ull;
	uint64_t t0 = mono_ns(), t = t0, bytes = 0;
	bool measuring = false;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bounded(fd) < 0 || connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		return io_fail(err, fd, "connect to", PORT_BULK);
	for (;;) {
		ssize_t k = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return io_fail(err, fd, "send to", PORT_BULK);
		t = mono_ns();
		if (!measuring) {
			if (t - t0 >= warmup) {
				measuring = true;
				t0 = t;
			}
			continue;
		}
		bytes += (uint64_t)k;
		if (t - t0 >= ns)
			break;
	}
	close(fd);
	rp->count = bytes;
	rp->ns = t - t0;
	return 0;
}

static int run_datagrams(uint64_t ns, struct reply *rp, struct moat_error *err)
{
	static const char payload[UDP_PAYLOAD_BYTES];
	const struct sockaddr_in sa = server_sockaddr(PORT_UDP);
	uint64_t t0 = mono_ns(), t = t0, n = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bounded(fd) < 0)
		return io_fail(err, fd, "socket for", PORT_UDP);
	while (t - t0 < ns) {
		/* The clock every 64 sends: it would cost ~1% per send. */
		for (int i = 0; i < 64; i++) {
			if (sendto(fd, payload, sizeof(payload), 0, (const struct sockaddr *)&sa,
				   sizeof(sa)) == (ssize_t)sizeof(payload))
				n++;
			else if (errno != ENOBUFS && errno != EINTR)
				return io_fail(err, fd, "sendto", PORT_UDP);
		}
		t = mono_ns();
	}
	close(fd);
	rp->count = n;
	rp->ns = t - t0;
	return 0;
}

static int client_do(const struct bench *b, size_t k, const struct request *rq, struct reply *rp)
{
	uint64_t ns = (uint64_t)rq->slice_ms * 1000000ull;
	_cleanup_free_ char *text = NULL;

	switch (rq->op) {
	case OP_SETUP:
		return client_setup(k, b->configs[k].cgroup_fd, &rp->err);
	case OP_NFT_LOAD:
		if (rq->arg > b->n_rules)
			return moat_error_set(&rp->err, EINVAL, "nft: %u rules asked for", rq->arg);
		text = nft_ruleset(b->rules, rq->arg);
		if (!text)
			return moat_error_errno(&rp->err, "nft ruleset of %u rules", rq->arg);
		return nft_run(text, "load the nft ruleset", &rp->ns, &rp->err);
	case OP_RUN:
		if (rq->arg == TEST_CONNECT)
			return run_connects(ns, rp, &rp->err);
		if (rq->arg == TEST_BULK)
			return run_bulk(ns, rp, &rp->err);
		if (rq->arg == TEST_UDP)
			return run_datagrams(ns, rp, &rp->err);
		break;
	}
	return moat_error_set(&rp->err, EINVAL, "client: unknown order %u/%u", rq->op, rq->arg);
}

static void __attribute__((noreturn)) client_main(const struct bench *b, size_t k, int ctl)
{
	struct reply rp = {0};
	struct request rq;

	close(b->cgroup_fd);
	close(b->load_cgroup_fd);
	for (size_t i = 0; i < b->n_configs; i++)
		if (i != k)
			close(b->configs[i].cgroup_fd);
	if (child_start(b, ctl, b->client_cpu, &rp.err) < 0 ||
	    (unshare(CLONE_NEWNET) < 0 &&
	     moat_error_errno(&rp.err, "unshare the client's network namespace") < 0)) {
		rp.status = -1;
		send_reply(ctl, &rp);
		_exit(1);
	}
	send_reply(ctl, &rp); /* OP_HELLO: the server may now put eth0 in here */
	for (;;) {
		ssize_t n = recv(ctl, &rq, sizeof(rq), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(rq))
			_exit(0); /* the parent is gone */
		memset(&rp, 0, sizeof(rp));
		rp.status = client_do(b, k, &rq, &rp) < 0 ? -1 : 0;
		send_reply(ctl, &rp);
	}
}

/* ---- the parent: cgroups ----------------------------------------------------------- */

/* Unescapes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * Our own cgroup2 directory: the first cgroup2 mount of /proc/self/mountinfo
 * (/sys/fs/cgroup on a cgroup2-only host, /sys/fs/cgroup/unified on a hybrid
 * one) joined with the "0::" path of /proc/self/cgroup, less the mount's
 * root when that mount shows only a subtree.
 */
static int own_cgroup_dir(char *buf, size_t len, struct moat_error *err)
{
	_cleanup_free_ char *info = NULL, *cg = NULL;
	char *line, *save = NULL, *path = NULL, *mnt = NULL, *root = NULL;
	size_t root_len;

	if (moat_read_file("/proc/self/mountinfo", 4 << 20, &info, NULL, err) < 0 ||
	    moat_read_file("/proc/self/cgroup", 1 << 16, &cg, NULL, err) < 0)
		return -1;
	for (line = strtok_r(info, "\n", &save); line && !mnt; line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - "), *f[5], *fsave = NULL;
		int i;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE ..." */
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		f[0] = strtok_r(line, " ", &fsave);
		for (i = 1; i < 5 && f[i - 1]; i++)
			f[i] = strtok_r(NULL, " ", &fsave);
		if (i == 5 && f[4]) {
			root = f[3];
			mnt = f[4];
		}
	}
	for (line = strtok_r(cg, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "0::", 3) == 0)
			path = line + 3;
	if (!mnt || !path)
		return moat_error_set(err, ENOENT, "no cgroup2 %s",
				      mnt ? "path in /proc/self/cgroup"
					  : "mount in /proc/self/mountinfo");
	unescape_octal(mnt);
	unescape_octal(root);
	root_len = strcmp(root, "/") == 0 ? 0 : strlen(root);
	if (strncmp(path, root, root_len) != 0 || (path[root_len] && path[root_len] != '/'))
		return moat_error_set(err, ENOENT, "our cgroup %s is outside the cgroup2 mount %s",
				      path, mnt);
	path += root_len;
	if ((size_t)snprintf(buf, len, "%s%s", mnt, strcmp(path, "/") == 0 ? "" : path) >= len)
		return moat_error_set(err, ENAMETOOLONG, "cgroup path %s%s", mnt, path);
	return 0;
}

/* A directory a killed run left: each subdirectory's rules out of the map
 * (keyed by its cgroup id), then the subdirectories, then itself. */
static void collect_leftover(const char *dir, struct moat_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_type != DT_DIR || de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (moat_egress_collect(st.st_ino, err) < 0)
			fprintf(stderr, "net-bench: leftover %s/%s: %s\n", dir, de->d_name,
				err->msg);
		else if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
			fprintf(stderr, "net-bench: leftover %s/%s: %s\n", dir, de->d_name,
				strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) < 0)
		fprintf(stderr, "net-bench: leftover %s: %s\n", dir, strerror(errno));
}

/* Only our own prefix, and only when the run that made it is gone. */
static void collect_leftovers(const char *own, struct moat_error *err)
{
	DIR *d = opendir(own);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX], *end;
		long pid;

		if (strncmp(de->d_name, CGROUP_PREFIX, strlen(CGROUP_PREFIX)) != 0)
			continue;
		pid = strtol(de->d_name + strlen(CGROUP_PREFIX), &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", own, de->d_name) < sizeof(path))
			collect_leftover(path, err);
	}
	closedir(d);
}

static int subdir_make(struct bench *b, const char *name, int *ret_fd, struct moat_error *err)
{
	if (mkdirat(b->cgroup_fd, name, 0755) < 0)
		return moat_error_errno(err, "mkdir %s/%s", b->cgroup_dir, name);
	*ret_fd = openat(b->cgroup_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*ret_fd < 0)
		return moat_error_errno(err, "open %s/%s", b->cgroup_dir, name);
	return 0;
}

/* CGROUP_PREFIX PID under our own cgroup; in it, one directory for each
 * configuration and "load". */
static int cgroups_make(struct bench *b, struct moat_error *err)
{
	char own[PATH_MAX - 32];

	if (own_cgroup_dir(own, sizeof(own), err) < 0)
		return -1;
	collect_leftovers(own, err);
	snprintf(b->cgroup_dir, sizeof(b->cgroup_dir), "%s/" CGROUP_PREFIX "%d", own, (int)b->self);
	if (mkdir(b->cgroup_dir, 0755) < 0)
		return moat_error_errno(err, "mkdir %s", b->cgroup_dir);
	b->cgroup_made = true;
	b->cgroup_fd = open(b->cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->cgroup_fd < 0)
		return moat_error_errno(err, "open %s", b->cgroup_dir);
	for (size_t i = 0; i < b->n_configs; i++) {
		struct config *c = &b->configs[i];

		snprintf(c->cgroup, sizeof(c->cgroup), "config-%u", (unsigned)i);
		if (subdir_make(b, c->cgroup, &c->cgroup_fd, err) < 0)
			return -1;
	}
	return subdir_make(b, "load", &b->load_cgroup_fd, err);
}

/* Once the clients are reaped, the directories hold no task; a moment's
 * EBUSY is the kernel still taking the last one out. */
static void remove_dir(int parent_fd, const char *name)
{
	for (int i = 0; i < 100; i++) {
		if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	fprintf(stderr, "net-bench: rmdir %s: %s\n", name, strerror(errno));
}

static void cgroups_remove(struct bench *b)
{
	for (size_t i = 0; i < b->n_configs; i++) {
		moat_closep(&b->configs[i].cgroup_fd);
		b->configs[i].cgroup_fd = -EBADF;
		if (b->cgroup_fd >= 0 && b->configs[i].cgroup[0])
			remove_dir(b->cgroup_fd, b->configs[i].cgroup);
	}
	moat_closep(&b->load_cgroup_fd);
	b->load_cgroup_fd = -EBADF;
	if (b->cgroup_fd >= 0)
		remove_dir(b->cgroup_fd, "load");
	moat_closep(&b->cgroup_fd);
	b->cgroup_fd = -EBADF;
	if (b->cgroup_made)
		remove_dir(AT_FDCWD, b->cgroup_dir);
}

/* ---- the parent: children ---------------------------------------------------------- */

/* Waits for a child's reply, a stop signal or the timeout. */
static int wait_reply(struct bench *b, int ctl, const char *who, int timeout_ms, struct reply *rp,
		      struct moat_error *err)
{
	struct pollfd p[2] = {{.fd = ctl, .events = POLLIN}, {.fd = b->sigfd, .events = POLLIN}};
	ssize_t n;
	int r;

	do
		r = poll(p, 2, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return moat_error_errno(err, "wait for %s", who);
	if (p[1].revents & POLLIN) {
		struct signalfd_siginfo si;

		if (read(b->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			b->stop_signal = (int)si.ssi_signo;
		return moat_error_set(err, 0, "stopped by %s", strsignal(b->stop_signal));
	}
	if (r == 0)
		return moat_error_set(err, ETIMEDOUT, "%s did not answer in %d ms", who,
				      timeout_ms);
	n = recv(ctl, rp, sizeof(*rp), 0);
	if (n != (ssize_t)sizeof(*rp))
		return moat_error_set(err, ECHILD, "%s exited unexpectedly", who);
	if (rp->status < 0) {
		*err = rp->err;
		return moat_error_prefix(err, "%s", who);
	}
	return 0;
}

static void config_name(const struct config *c, char *buf, size_t len)
{
	static const char *const kinds[] = {"none", "egress", "nft"};

	if (c->kind == CONFIG_NONE)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%s %zu", kinds[c->kind], c->n_rules);
}

static int client_call(struct bench *b, struct config *c, enum op op, uint32_t arg,
		       struct reply *rp, struct moat_error *err)
{
	const struct request rq = {.op = op, .arg = arg, .slice_ms = (uint32_t)b->slice_ms};
	char who[48], name[32];

	config_name(c, name, sizeof(name));
	snprintf(who, sizeof(who), "client (%s)", name);
	if (send(c->ctl, &rq, sizeof(rq), MSG_NOSIGNAL) < 0)
		return moat_error_errno(err, "order the %s", who);
	return wait_reply(b, c->ctl, who, b->slice_ms + REPLY_SLACK_MS, rp, err);
}

/* A client for configs[k] when c, else the server. Returns once it has said
 * hello: unshared (a client) or set up and serving (the server). */
static int spawn(struct bench *b, struct config *c, struct moat_error *err)
{
	int sv[2];
	pid_t pid;
	struct reply rp;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return moat_error_errno(err, "socketpair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return moat_error_errno(err, "fork");
	}
	if (pid == 0) {
		close(sv[0]);
		if (c)
			client_main(b, (size_t)(c - b->configs), sv[1]);
		server_main(b, sv[1]);
	}
	close(sv[1]);
	if (c) {
		c->pid = pid;
		c->ctl = sv[0];
	} else {
		b->server = pid;
		b->server_ctl = sv[0];
	}
	return wait_reply(b, sv[0], c ? "a client" : "the server", REPLY_SLACK_MS, &rp, err);
}

static void stop_child(pid_t *pid, int *ctl)
{
	moat_closep(ctl);
	*ctl = -EBADF;
	if (*pid <= 0)
		return;
	/* Our unreaped child: the pid cannot name anyone else. */
	kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
}

/* ---- the parent: measuring ---------------------------------------------------------- */

static int egress_attach(const struct moat_policy *p, int cgroup_fd, uint32_t own4,
			 struct moat_egress **ret, double *ret_compile_ms, double *ret_attach_ms,
			 struct moat_error *err)
{
	uint64_t t0 = mono_ns(), t1;
	struct stat st;

	/* A cgroup2 directory's inode number is its cgroup id. */
	if (fstat(cgroup_fd, &st) < 0)
		return moat_error_errno(err, "stat the client's cgroup");
	if (moat_egress_prepare(p, RESOLV_CONF, ret, err) < 0)
		return -1;
	t1 = mono_ns();
	if (moat_egress_attach(*ret, cgroup_fd, st.st_ino, own4, err) < 0)
		return -1;
	*ret_compile_ms = (double)(t1 - t0) / 1e6;
	*ret_attach_ms = (double)(mono_ns() - t1) / 1e6;
	return 0;
}

/* The first attach of a run loads, verifies and pins the programs when the
 * host has none yet: not what a launch pays, so not in any figure. */
static int first_attach(struct bench *b, struct moat_error *err)
{
	const struct config *small = NULL;
	double compile_ms;

	for (size_t i = 0; i < b->n_configs; i++)
		if (b->configs[i].kind == CONFIG_EGRESS &&
		    (!small || b->configs[i].n_rules < small->n_rules))
			small = &b->configs[i];
	if (!small)
		return 0;
	if (egress_attach(small->policy, b->load_cgroup_fd, 0, &b->load_eg, &compile_ms,
			  &b->first_attach_ms, err) < 0)
		return moat_error_prefix(err, "egress %zu", small->n_rules);
	moat_egress_free(TAKE_PTR(b->load_eg));
	return 0;
}

/* nftables missing or refusing the ruleset skips that configuration, with
 * the reason in the table: the comparison, not the subject. */
static int nft_load(struct bench *b, struct config *c, struct moat_error *err)
{
	struct reply rp = {0};

	if (client_call(b, c, OP_NFT_LOAD, (uint32_t)c->n_rules, &rp, err) == 0) {
		c->load_ms = (double)rp.ns / 1e6;
		return 0;
	}
	if (rp.status == 0)
		return -1; /* no answer: the client died, timed out, or we were stopped */
	snprintf(c->skip, sizeof(c->skip), "%.*s", (int)sizeof(c->skip) - 1, rp.err.msg);
	return 0;
}

/* Clients first (the server puts each one's eth0 into its namespace), then
 * the server, then each client's address and cgroup, then its filter. */
static int setup(struct bench *b, struct moat_error *err)
{
	struct reply rp;

	if (first_attach(b, err) < 0)
		return -1;
	for (size_t k = 0; k < b->n_configs; k++)
		if (spawn(b, &b->configs[k], err) < 0)
			return -1;
	if (spawn(b, NULL, err) < 0)
		return -1;
	for (size_t k = 0; k < b->n_configs; k++) {
		struct config *c = &b->configs[k];
		struct moat_net_lease lease;

		if (client_call(b, c, OP_SETUP, 0, &rp, err) < 0)
			return -1;
		if (c->kind == CONFIG_EGRESS) {
			lease_fill(&lease, k);
			if (egress_attach(c->policy, c->cgroup_fd, lease.sandbox.s_addr, &c->eg,
					  &c->compile_ms, &c->load_ms, err) < 0)
				return moat_error_prefix(err, "egress %zu", c->n_rules);
		} else if (c->kind == CONFIG_NFT && nft_load(b, c, err) < 0) {
			return -1;
		}
	}
	return 0;
}

static int measure(struct bench *b, struct config *c, int t, int round, struct moat_error *err)
{
	struct reply rp;
	double per_s;

	if (c->skip[0])
		return 0;
	if (client_call(b, c, OP_RUN, (uint32_t)t, &rp, err) < 0)
		return -1;
	per_s = (double)rp.count * 1e9 / (double)rp.ns;
	if (round >= 0)
		c->result[t][round] = t == TEST_BULK ? per_s / 1e6 : per_s;
	return 0;
}

static void print_round(const struct bench *b, int r)
{
	char name[32];

	for (size_t i = 0; i < b->n_configs; i++) {
		const struct config *c = &b->configs[i];

		if (c->skip[0])
			continue;
		config_name(c, name, sizeof(name));
		printf("  round %-3d %-14s", r + 1, name);
		for (int t = 0; t < N_TESTS; t++)
			printf(" %s %.*f", tests[t].column, tests[t].decimals, c->result[t][r]);
		printf("\n");
	}
	fflush(stdout);
}

/* Round after round, test after test, every configuration takes a slice;
 * each round starts one configuration further, so that none always follows
 * the same one. Untimed first: a short slice of each, for ARP and caches. */
static int run_rounds(struct bench *b, struct moat_error *err)
{
	int slice = b->slice_ms;

	b->slice_ms = WARMUP_MS;
	for (int t = 0; t < N_TESTS; t++)
		for (size_t j = 0; j < b->n_configs; j++)
			if (measure(b, &b->configs[j], t, -1, err) < 0)
				return -1;
	b->slice_ms = slice;
	for (int r = 0; r < b->rounds; r++) {
		for (int t = 0; t < N_TESTS; t++)
			for (size_t j = 0; j < b->n_configs; j++)
				if (measure(b, &b->configs[((size_t)r + j) % b->n_configs], t, r,
					    err) < 0)
					return -1;
		if (b->verbose)
			print_round(b, r);
	}
	return 0;
}

/* What a launch and a teardown pay for the largest egress ruleset: its
 * attach at setup, then more to the empty "load" cgroup with no traffic,
 * each freed again. */
static int time_loading(struct bench *b, const struct config *big, struct moat_error *err)
{
	b->load_ms[0] = big->load_ms;
	b->compile_ms[0] = big->compile_ms;
	for (int i = 0; i < LOAD_REPEATS; i++) {
		uint64_t t0;

		if (egress_attach(big->policy, b->load_cgroup_fd, 0, &b->load_eg,
				  &b->compile_ms[1 + i], &b->load_ms[1 + i], err) < 0)
			return moat_error_prefix(err, "egress %zu (load timing)", big->n_rules);
		t0 = mono_ns();
		moat_egress_free(TAKE_PTR(b->load_eg));
		b->unload_ms[i] = (double)(mono_ns() - t0) / 1e6;
	}
	return 0;
}

/* ---- the parent: results ------------------------------------------------------------ */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return (a > c) - (a < c);
}

/* Sorted copy of v[0..n) in s. */
static void sorted(const double *v, int n, double *s)
{
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
}

static double median(const double *v, int n)
{
	double s[ROUNDS_MAX];

	sorted(v, n, s);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* c against none, test t: each round's ratio, as a change in percent. */
static void changes(const struct bench *b, const struct config *c, int t, double *ret)
{
	const struct config *none = &b->configs[0];

	for (int r = 0; r < b->rounds; r++)
		ret[r] = (c->result[t][r] / none->result[t][r] - 1) * 100;
}

static const struct config *largest_egress(const struct bench *b)
{
	const struct config *big = NULL;

	for (size_t i = 0; i < b->n_configs; i++)
		if (b->configs[i].kind == CONFIG_EGRESS &&
		    (!big || b->configs[i].n_rules > big->n_rules))
			big = &b->configs[i];
	return big;
}

static void print_table(const struct bench *b)
{
	struct utsname u;
	char name[32];

	uname(&u);
	printf("Egress filter cost over veths between network namespaces: %d rounds, in each a\n"
	       "%d ms slice per test and configuration, in turns (%s %s, %ld CPUs",
	       b->rounds, b->slice_ms, u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN));
	if (b->client_cpu >= 0)
		printf("; clients on CPU %d, server on CPU %d", b->client_cpu, b->server_cpu);
	printf(").\nMedians; a change is the median of each round's ratio to none; load ms is\n"
	       "moat_egress_attach(), or nft loading the ruleset, at setup.\n\n");
	printf("  %-14s", "config");
	for (int t = 0; t < N_TESTS; t++)
		printf(" %12s %7s", tests[t].column, "change");
	printf(" %9s\n", "load ms");
	for (size_t i = 0; i < b->n_configs; i++) {
		const struct config *c = &b->configs[i];

		config_name(c, name, sizeof(name));
		printf("  %-14s", name);
		if (c->skip[0]) {
			printf(" SKIP: %s\n", c->skip);
			continue;
		}
		for (int t = 0; t < N_TESTS; t++) {
			double ch[ROUNDS_MAX];

			printf(" %12.*f", tests[t].decimals, median(c->result[t], b->rounds));
			if (c->kind == CONFIG_NONE) {
				printf(" %7s", "");
				continue;
			}
			changes(b, c, t, ch);
			printf(" %+6.1f%%", median(ch, b->rounds));
		}
		if (c->kind == CONFIG_NONE)
			printf(" %9s\n", "-");
		else
			printf(" %9.1f\n", c->load_ms);
	}
}

static const char *verdict(bool pass)
{
	return pass ? "PASS" : "MISS";
}

/* The targets, for the largest egress ruleset. */
static void print_targets(const struct bench *b)
{
	const struct config *big = largest_egress(b);
	double s[1 + LOAD_REPEATS], load;

	if (!big)
		return;
	printf("\n");
	if (big->n_rules != TARGET_RULES)
		printf("  (the targets are set for %d rules; measured at %zu)\n", TARGET_RULES,
		       big->n_rules);
	for (int t = 0; t < N_TESTS; t++) {
		double ch[ROUNDS_MAX], q[ROUNDS_MAX], m;
		int n = b->rounds;

		changes(b, big, t, ch);
		m = median(ch, n);
		sorted(ch, n, q);
		printf("  egress %zu vs none: %-19s %+6.1f%% (middle half %+.1f..%+.1f%%)  "
		       "target within %.0f%%  %s\n",
		       big->n_rules, tests[t].name, m, q[(n - 1) / 4], q[(3 * (n - 1) + 3) / 4],
		       tests[t].target_pct, verdict(m >= -tests[t].target_pct));
	}
	sorted(b->load_ms, 1 + LOAD_REPEATS, s);
	load = median(b->load_ms, 1 + LOAD_REPEATS);
	printf("  egress %zu: rule loading (moat_egress_attach) %.1f ms (%.1f..%.1f, %d times)  "
	       "target < %.0f ms  %s\n",
	       big->n_rules, load, s[0], s[LOAD_REPEATS], 1 + LOAD_REPEATS, TARGET_LOAD_MS,
	       verdict(load < TARGET_LOAD_MS));
	printf("  (before it, moat_egress_prepare: %.1f ms; after, moat_egress_free: %.1f ms; the\n"
	       "  run's first attach, which loads the programs when the host has none: %.1f ms)\n",
	       median(b->compile_ms, 1 + LOAD_REPEATS), median(b->unload_ms, LOAD_REPEATS),
	       b->first_attach_ms);
}

/* ---- options ------------------------------------------------------------------------- */

/* "10,1000,100000" into sizes[]. */
static int parse_sizes(const char *s, size_t *sizes, size_t *n, const char *opt)
{
	_cleanup_free_ char *copy = strdup(s);
	char *tok, *save = NULL;

	*n = 0;
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(tok, &end, 10);
		if (errno || *end || v < 1 || v > MOAT_RULES_MAX / 4 || *n == SIZES_MAX) {
			fprintf(stderr,
				"net-bench: %s: '%s' is not a list of up to %d sizes in 1..%u\n",
				opt, s, SIZES_MAX, MOAT_RULES_MAX / 4);
			return -1;
		}
		sizes[(*n)++] = v;
	}
	return 0;
}

static int parse_int(const char *s, int min, int max, const char *opt, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "net-bench: %s: '%s' is not a number in %d..%d\n", opt, s, min,
			max);
		return -1;
	}
	*ret = (int)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: net-bench [-t MS] [-n ROUNDS] [-s SIZES] [-x SIZES] [-v]\n"
		"Measures TCP connects/s, bulk TCP MB/s and 64-byte UDP sends/s over veths\n"
		"between network namespaces of its own, with no filter, with moat's egress\n"
		"programs holding N rules and with nftables holding the same rules, in turns;\n"
		"then the time to load the largest egress ruleset. Prints medians and issue\n"
		"#4's targets as PASS or MISS lines. Run as root.\n"
		"\n"
		"  -t MS      one slice: a test in one configuration (default %d)\n"
		"  -n ROUNDS  rounds of slices (default %d, at most %d)\n"
		"  -s SIZES   egress ruleset sizes (default 10,1000,100000)\n"
		"  -x SIZES   nftables ruleset sizes (default 100000)\n"
		"  -v         every round's figures too, as they come\n"
		"\n"
		"Exit status: 0 measured (PASS or MISS), 1 a step failed, 2 usage.\n"
		"\n"
		"Examples:\n"
		"  net-bench\n"
		"  net-bench -t 500 -n 20 -s 100000 -x 10,100000\n",
		SLICE_MS_DEFAULT, ROUNDS_DEFAULT, ROUNDS_MAX);
}

static int parse_options(struct bench *b, int argc, char **argv)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	size_t total = 0, max = 0;
	int c;

	opterr = 0; /* one line of our own for a bad option */
	while ((c = getopt_long(argc, argv, ":t:n:s:x:vh", options, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_int(optarg, 50, 60000, "-t", &b->slice_ms) < 0)
				return 2;
			break;
		case 'n':
			if (parse_int(optarg, 1, ROUNDS_MAX, "-n", &b->rounds) < 0)
				return 2;
			break;
		case 's':
			if (parse_sizes(optarg, b->egress_sizes, &b->n_egress_sizes, "-s") < 0)
				return 2;
			break;
		case 'x':
			if (parse_sizes(optarg, b->nft_sizes, &b->n_nft_sizes, "-x") < 0)
				return 2;
			break;
		case 'v':
			b->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "net-bench: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "net-bench: unknown option %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "net-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* All rulesets and the load timing's share the one rule map. */
	for (size_t i = 0; i < b->n_egress_sizes; i++) {
		total += b->egress_sizes[i];
		max = b->egress_sizes[i] > max ? b->egress_sizes[i] : max;
	}
	if (total + max > MOAT_RULES_MAX / 2) {
		fprintf(stderr, "net-bench: -s: %zu rules in all, more than half the rule map\n",
			total + max);
		return 2;
	}
	return 0;
}

/* ---- main ---------------------------------------------------------------------------- */

static int configs_make(struct bench *b, struct moat_error *err)
{
	size_t max = 1;

	for (size_t i = 0; i < b->n_egress_sizes; i++)
		max = b->egress_sizes[i] > max ? b->egress_sizes[i] : max;
	for (size_t i = 0; i < b->n_nft_sizes; i++)
		max = b->nft_sizes[i] > max ? b->nft_sizes[i] : max;
	if (rules_generate(max, &b->rules, err) < 0)
		return -1;
	b->n_rules = max;
	b->configs[b->n_configs++].kind = CONFIG_NONE;
	for (size_t i = 0; i < b->n_egress_sizes; i++) {
		struct config *c = &b->configs[b->n_configs++];

		c->kind = CONFIG_EGRESS;
		c->n_rules = b->egress_sizes[i];
		c->policy = policy_of(b->rules, c->n_rules, err);
		if (!c->policy)
			return -1;
	}
	for (size_t i = 0; i < b->n_nft_sizes; i++) {
		struct config *c = &b->configs[b->n_configs++];

		c->kind = CONFIG_NFT;
		c->n_rules = b->nft_sizes[i];
	}
	return 0;
}

/* Clients and server on CPUs of their own when there are two: a figure
 * then measures one path, not where the scheduler put things that moment. */
static void pick_cpus(struct bench *b)
{
	cpu_set_t set;
	int found = 0;

	b->client_cpu = b->server_cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (found++ == 0)
			b->client_cpu = cpu;
		else
			b->server_cpu = cpu;
	}
	if (found < 2)
		b->client_cpu = b->server_cpu = -1;
}

static int bench_run(struct bench *b, struct moat_error *err)
{
	const struct config *big;

	if (configs_make(b, err) < 0 || cgroups_make(b, err) < 0 || setup(b, err) < 0)
		return -1;
	if (run_rounds(b, err) < 0)
		return -1;
	big = largest_egress(b);
	if (big && time_loading(b, big, err) < 0)
		return -1;
	print_table(b);
	print_targets(b);
	return fflush(stdout) == 0 ? 0 : moat_error_errno(err, "write the results");
}

/* The mirror of setup; safe after a failure at any step. */
static void bench_teardown(struct bench *b)
{
	/* Links and rules first, while the cgroups exist. */
	moat_egress_free(TAKE_PTR(b->load_eg));
	for (size_t i = 0; i < b->n_configs; i++)
		moat_egress_free(TAKE_PTR(b->configs[i].eg));
	for (size_t i = 0; i < b->n_configs; i++)
		stop_child(&b->configs[i].pid, &b->configs[i].ctl);
	stop_child(&b->server, &b->server_ctl);
	cgroups_remove(b);
	for (size_t i = 0; i < b->n_configs; i++)
		moat_policy_free(b->configs[i].policy);
	free(b->rules);
	moat_closep(&b->sigfd);
}

int main(int argc, char **argv)
{
	struct bench b = {
	    .slice_ms = SLICE_MS_DEFAULT,
	    .rounds = ROUNDS_DEFAULT,
	    .egress_sizes = {10, 1000, 100000},
	    .n_egress_sizes = 3,
	    .nft_sizes = {100000},
	    .n_nft_sizes = 1,
	    .sigfd = -EBADF,
	    .cgroup_fd = -EBADF,
	    .load_cgroup_fd = -EBADF,
	    .server_ctl = -EBADF,
	};
	struct moat_error err = {0};
	sigset_t stop;
	int r;

	for (size_t i = 0; i < CONFIGS_MAX; i++) {
		b.configs[i].cgroup_fd = -EBADF;
		b.configs[i].ctl = -EBADF;
	}
	r = parse_options(&b, argc, argv);
	if (r)
		return r;
	if (geteuid() != 0) {
		fprintf(stderr, "net-bench: run as root: it creates namespaces and cgroups and "
				"loads BPF programs\n");
		return 1;
	}
	b.self = getpid();
	pick_cpus(&b);
	/* Blocked, and read from a signalfd while waiting for the children:
	 * a stop request then tears everything down like any failure. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &b.original);
	b.sigfd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (b.sigfd < 0)
		r = moat_error_errno(&err, "signalfd");
	else
		r = bench_run(&b, &err);
	bench_teardown(&b);
	if (r < 0) {
		fprintf(stderr, "net-bench: %s%s%s\n", err.msg, err.errnum ? ": " : "",
			err.errnum ? strerror(err.errnum) : "");
		return b.stop_signal ? 128 + b.stop_signal : 1;
	}
	return 0;
}
