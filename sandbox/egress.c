// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "egress.h"
#include "egress.hash.h"
#include "egress.skel.h"
#include "state.h"
#include "util.h"

#define FEATURE "egress"

static const struct egress_prog {
	const char *name;
	enum bpf_attach_type type;
} progs[] = {
	/* The packet filter first: once any hook is attached, every later
	 * step is already enforced by it. */
	{"handle_egress", BPF_CGROUP_INET_EGRESS},
	{"handle_connect4", BPF_CGROUP_INET4_CONNECT},
	{"handle_connect6", BPF_CGROUP_INET6_CONNECT},
	{"handle_sendmsg4", BPF_CGROUP_UDP4_SENDMSG},
	{"handle_sendmsg6", BPF_CGROUP_UDP6_SENDMSG},
	{"handle_ingress", BPF_CGROUP_INET_INGRESS},
	{"handle_sockops", BPF_CGROUP_SOCK_OPS},
	{"handle_release", BPF_CGROUP_INET_SOCK_RELEASE},
};
#define N_PROGS ARRAY_SIZE(progs)

enum { MAP_RULES, MAP_SANDBOXES, MAP_NETSTAT, MAP_EVENTS, MAP_DESTS, N_MAPS };
static const char *const map_names[N_MAPS] = {
	[MAP_RULES] = "moat_rules",
	[MAP_SANDBOXES] = "moat_sandboxes",
	[MAP_NETSTAT] = "moat_netstat",
	[MAP_EVENTS] = "moat_events",
	[MAP_DESTS] = "moat_dests",
};

/* File descriptors of the pinned objects. */
struct egress_objs {
	int prog[N_PROGS];
	int map[N_MAPS];
};

struct moat_egress {
	struct moat_egress_net *nets;
	size_t n_nets;
	struct moat_rule_key *keys;
	struct moat_rule_value *values;
	size_t n_entries;

	uint64_t cgroup_id;
	struct egress_objs objs;
	int links[N_PROGS];
	int ring_fd;
	struct ring_buffer *ring;
	size_t n_inserted; /* rule entries in the map */
	bool inserted;	   /* config and ring entries in the maps */
	uint32_t cfg_flags; /* MOAT_CFG_*, from the policy */

	moat_egress_event_fn on_event;
	void *on_event_data;
};

static void objs_init(struct egress_objs *o)
{
	for (size_t i = 0; i < N_PROGS; i++)
		o->prog[i] = -EBADF;
	for (size_t i = 0; i < N_MAPS; i++)
		o->map[i] = -EBADF;
}

static void objs_close(struct egress_objs *o)
{
	for (size_t i = 0; i < N_PROGS; i++)
		moat_closep(&o->prog[i]);
	for (size_t i = 0; i < N_MAPS; i++)
		moat_closep(&o->map[i]);
	objs_init(o);
}

/* ---- resolving rules into networks ---------------------------------------------- */

struct net_list {
	struct moat_egress_net *v;
	size_t n, cap;
};

static int net_push(struct net_list *l, const struct moat_egress_net *net)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct moat_egress_net *v = reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *net;
	return 0;
}

static void set_v4(uint32_t addr[4], const void *v4)
{
	addr[0] = 0;
	addr[1] = 0;
	addr[2] = htonl(0xffff);
	memcpy(&addr[3], v4, 4);
}

static struct moat_port_rule port_rule_of(const struct moat_egress_rule *r)
{
	static const uint8_t match[] = {
		[MOAT_PROTO_ANY] = MOAT_MATCH_ANY,
		[MOAT_PROTO_TCP] = MOAT_MATCH_TCP,
		[MOAT_PROTO_UDP] = MOAT_MATCH_UDP,
		[MOAT_PROTO_ICMP] = MOAT_MATCH_ICMP,
	};
	struct moat_port_rule pr = {.proto = match[r->proto], .lo = 0, .hi = 65535};

	if (r->port_lo) {
		pr.lo = r->port_lo;
		pr.hi = r->port_hi;
	}
	return pr;
}

/* An address of either family as a network of one host. */
static int push_host(struct net_list *l, int family, const void *addr, struct moat_port_rule pr)
{
	struct moat_egress_net net = {.port = pr};

	if (family == AF_INET) {
		set_v4(net.addr, addr);
		net.prefix = 128;
	} else {
		memcpy(net.addr, addr, 16);
		net.prefix = 128;
	}
	return net_push(l, &net);
}

static int resolve_cidr(struct net_list *l, const struct moat_egress_rule *r)
{
	struct moat_egress_net net = {.port = port_rule_of(r)};

	if (r->cidr.family == AF_INET) {
		set_v4(net.addr, r->cidr.addr);
		net.prefix = 96 + r->cidr.prefix;
	} else {
		memcpy(net.addr, r->cidr.addr, 16);
		net.prefix = r->cidr.prefix;
	}
	return net_push(l, &net);
}

/* "dns": udp and tcp 53 to every nameserver the sandbox's resolv.conf names. */
static int resolve_dns(struct net_list *l, const char *resolv_conf, struct moat_error *err)
{
	const struct moat_port_rule udp = {.proto = MOAT_MATCH_UDP, .lo = 53, .hi = 53};
	const struct moat_port_rule tcp = {.proto = MOAT_MATCH_TCP, .lo = 53, .hi = 53};
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;

	if (moat_read_file(resolv_conf, 1 << 20, &text, NULL, err) < 0)
		return moat_error_prefix(err, "egress dns");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char word[16], addr[80], *pct; /* room for %79s: an address and a scope */
		unsigned char bin[16];
		int family;

		if (sscanf(line, " %15s %79s", word, addr) != 2 || strcmp(word, "nameserver") != 0)
			continue;
		pct = strchr(addr, '%'); /* fe80::1%eth0: the scope is not part of the address */
		if (pct)
			*pct = '\0';
		family = strchr(addr, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(family, addr, bin) != 1)
			continue;
		if (push_host(l, family, bin, udp) < 0 || push_host(l, family, bin, tcp) < 0)
			return moat_error_errno(err, "egress dns");
	}
	return 0;
}

/* Hostnames are resolved once, at launch: a later change of the name's
 * addresses does not reach a running sandbox (docs/policy.md). */
static int resolve_host(struct net_list *l, const struct moat_egress_rule *r, struct moat_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(r->target, NULL, &hints, &res);

	if (rc != 0)
		return moat_error_set(err, 0, "egress %s: cannot resolve: %s", r->target,
				      rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if (push_host(l, ai->ai_family, a, port_rule_of(r)) < 0) {
			freeaddrinfo(res);
			return moat_error_errno(err, "egress %s", r->target);
		}
	}
	freeaddrinfo(res);
	return 0;
}

/* model:NAME: the address another running sandbox recorded for its veth. */
static int resolve_model(struct net_list *l, const struct moat_egress_rule *r, struct moat_error *err)
{
	json_object *state = NULL, *net, *addr;
	struct in_addr a;
	int rc = -1;

	if (!moat_state_alive(r->target))
		return moat_error_set(err, 0, "egress model:%s: no such sandbox is running", r->target);
	if (moat_state_read(r->target, &state, err) < 0)
		return moat_error_prefix(err, "egress model:%s", r->target);
	if (!json_object_object_get_ex(state, "network", &net) ||
	    !json_object_object_get_ex(net, "address", &addr) ||
	    inet_pton(AF_INET, json_object_get_string(addr), &a) != 1) {
		moat_error_set(err, 0, "egress model:%s: that sandbox has no network address "
			       "(mode = veth)", r->target);
		goto out;
	}
	if (push_host(l, AF_INET, &a, port_rule_of(r)) < 0) {
		moat_error_errno(err, "egress model:%s", r->target);
		goto out;
	}
	rc = 0;
out:
	json_object_put(state);
	return rc;
}

static int resolve_rules(const struct moat_policy *p, const char *resolv_conf, struct net_list *l,
			 struct moat_error *err)
{
	for (size_t i = 0; i < p->n_egress; i++) {
		const struct moat_egress_rule *r = &p->egress[i];
		int rc;

		switch (r->kind) {
		case MOAT_RULE_CIDR:
			rc = resolve_cidr(l, r) < 0 ? moat_error_errno(err, "egress rules") : 0;
			break;
		case MOAT_RULE_DNS:
			rc = resolve_dns(l, resolv_conf, err);
			break;
		case MOAT_RULE_HOST:
			rc = resolve_host(l, r, err);
			break;
		case MOAT_RULE_MODEL:
			rc = resolve_model(l, r, err);
			break;
		default:
			rc = moat_error_set(err, EINVAL, "egress: unknown rule kind %d", r->kind);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- compiling networks into LPM entries --------------------------------------- */

static void mask_addr(const uint32_t in[4], unsigned prefix, uint32_t out[4])
{
	for (unsigned i = 0; i < 4; i++) {
		unsigned bits = prefix > 32 * i ? prefix - 32 * i : 0;

		if (bits >= 32)
			out[i] = in[i];
		else
			out[i] = bits ? in[i] & htonl(~0U << (32 - bits)) : 0;
	}
}

static int net_cmp(const void *a, const void *b)
{
	const struct moat_egress_net *x = a, *y = b;

	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* A distinct network and the run of sorted nets that carry its own rules. */
struct distinct {
	uint32_t addr[4];
	uint8_t prefix;
	size_t first, count;
};

static int distinct_cmp(const void *a, const void *b)
{
	const struct distinct *x = a, *y = b;

	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static bool port_rule_covers(const struct moat_port_rule *a, const struct moat_port_rule *b)
{
	return (a->proto == MOAT_MATCH_ANY || a->proto == b->proto) && a->lo <= b->lo && a->hi >= b->hi;
}

/* Adds pr to v unless a rule there covers it, dropping the rules pr covers:
 * the result does not depend on the order rules came in. */
static int value_add(struct moat_rule_value *v, const struct moat_port_rule *pr)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < v->n; i++)
		if (port_rule_covers(&v->r[i], pr))
			return 0;
	for (uint32_t i = 0; i < v->n; i++)
		if (!port_rule_covers(pr, &v->r[i]))
			v->r[kept++] = v->r[i];
	v->n = kept;
	if (v->n == MOAT_RULE_PORTS_MAX)
		return -1;
	v->r[v->n++] = *pr;
	return 0;
}

static int value_add_run(struct moat_rule_value *v, const struct moat_egress_net *sorted,
			 const struct distinct *d)
{
	for (size_t i = d->first; i < d->first + d->count; i++)
		if (value_add(v, &sorted[i].port) < 0)
			return -1;
	return 0;
}

static void format_addr(const uint32_t addr[4], bool v4, char *buf, size_t len)
{
	if (v4)
		inet_ntop(AF_INET, &addr[3], buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}

static int too_many(const struct distinct *d, struct moat_error *err)
{
	char text[INET6_ADDRSTRLEN];
	bool v4 = d->prefix >= 96 && d->addr[0] == 0 && d->addr[1] == 0 && d->addr[2] == htonl(0xffff);

	format_addr(d->addr, v4, text, sizeof(text));
	return moat_error_set(err, E2BIG, "egress: more than %d port rules apply to %s/%u",
			      MOAT_RULE_PORTS_MAX, text, v4 ? d->prefix - 96 : d->prefix);
}

int moat_egress_compile(const struct moat_egress_net *nets, size_t n,
			struct moat_rule_key **ret_keys, struct moat_rule_value **ret_values,
			size_t *ret_n, struct moat_error *err)
{
	_cleanup_free_ struct moat_egress_net *sorted = NULL;
	_cleanup_free_ struct distinct *dist = NULL;
	_cleanup_free_ struct moat_rule_key *keys = NULL;
	_cleanup_free_ struct moat_rule_value *values = NULL;
	bool lengths[129] = {false};
	size_t nd = 0;

	*ret_n = 0;
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	dist = calloc(n ? n : 1, sizeof(*dist));
	if (!sorted || !dist)
		return moat_error_errno(err, "compile egress rules");
	for (size_t i = 0; i < n; i++) {
		sorted[i] = nets[i];
		mask_addr(nets[i].addr, nets[i].prefix, sorted[i].addr);
	}
	qsort(sorted, n, sizeof(*sorted), net_cmp);
	for (size_t i = 0; i < n; i++) {
		if (nd && dist[nd - 1].prefix == sorted[i].prefix &&
		    memcmp(dist[nd - 1].addr, sorted[i].addr, sizeof(sorted[i].addr)) == 0) {
			dist[nd - 1].count++;
			continue;
		}
		memcpy(dist[nd].addr, sorted[i].addr, sizeof(sorted[i].addr));
		dist[nd].prefix = sorted[i].prefix;
		dist[nd].first = i;
		dist[nd].count = 1;
		lengths[sorted[i].prefix] = true;
		nd++;
	}
	keys = calloc(nd ? nd : 1, sizeof(*keys));
	values = calloc(nd ? nd : 1, sizeof(*values));
	if (!keys || !values)
		return moat_error_errno(err, "compile egress rules");
	for (size_t i = 0; i < nd; i++) {
		const struct distinct *d = &dist[i];

		keys[i].prefixlen = MOAT_RULE_PREFIX_BASE + d->prefix;
		memcpy(keys[i].addr, d->addr, sizeof(d->addr));
		if (value_add_run(&values[i], sorted, d) < 0)
			return too_many(d, err);
		/* Every shorter network containing this one adds its rules. */
		for (unsigned len = 0; len < d->prefix; len++) {
			struct distinct probe = {.prefix = (uint8_t)len};
			const struct distinct *outer;

			if (!lengths[len])
				continue;
			mask_addr(d->addr, len, probe.addr);
			outer = bsearch(&probe, dist, nd, sizeof(*dist), distinct_cmp);
			if (outer && value_add_run(&values[i], sorted, outer) < 0)
				return too_many(d, err);
		}
	}
	*ret_keys = TAKE_PTR(keys);
	*ret_values = TAKE_PTR(values);
	*ret_n = nd;
	return 0;
}


/* ---- the sandbox's egress ------------------------------------------------------ */

static struct moat_egress *egress_new(void)
{
	struct moat_egress *eg = calloc(1, sizeof(*eg));

	if (!eg)
		return NULL;
	objs_init(&eg->objs);
	for (size_t i = 0; i < N_PROGS; i++)
		eg->links[i] = -EBADF;
	eg->ring_fd = -EBADF;
	return eg;
}

int moat_egress_prepare(const struct moat_policy *p, const char *resolv_conf,
			struct moat_egress **ret, struct moat_error *err)
{
	struct net_list nets = {0};
	struct moat_egress *eg = egress_new();

	if (!eg)
		return moat_error_errno(err, "egress");
	if (resolve_rules(p, resolv_conf, &nets, err) < 0)
		goto fail;
	eg->nets = nets.v;
	eg->n_nets = nets.n;
	nets.v = NULL;
	if (p->audit == MOAT_AUDIT_FULL)
		eg->cfg_flags |= MOAT_CFG_AUDIT_ALLOWED;
	if (moat_egress_compile(eg->nets, eg->n_nets, &eg->keys, &eg->values, &eg->n_entries,
				err) < 0)
		goto fail;
	*ret = eg;
	return 0;
fail:
	free(nets.v);
	moat_egress_free(eg);
	return -1;
}

size_t moat_egress_n_rules(const struct moat_egress *eg)
{
	return eg ? eg->n_nets : 0;
}

static int pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Opens every pinned object; returns 1 when all were there, 0 when the
 * set is missing or incomplete (nothing left open), -1 on another error. */
static int open_pinned(const char *dir, struct egress_objs *o, struct moat_error *err)
{
	char path[256];

	objs_init(o);
	for (size_t i = 0; i < N_PROGS + N_MAPS; i++) {
		const char *name = i < N_PROGS ? progs[i].name : map_names[i - N_PROGS];
		int fd;

		if (pin_path(path, sizeof(path), dir, name) < 0)
			return moat_error_set(err, ENAMETOOLONG, "pin path %s", dir);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			objs_close(o);
			return errno == ENOENT ? 0 : moat_error_errno(err, "open pinned %s", path);
		}
		if (i < N_PROGS)
			o->prog[i] = fd;
		else
			o->map[i - N_PROGS] = fd;
	}
	return 1;
}

static int pin_all(struct egress_bpf *skel, const char *dir, struct moat_error *err)
{
	char path[256];

	if (mkdir(MOAT_BPF_PIN_ROOT, 0700) < 0 && errno != EEXIST)
		return moat_error_errno(err, "mkdir %s", MOAT_BPF_PIN_ROOT);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return moat_error_errno(err, "mkdir %s", dir);
	for (size_t i = 0; i < N_PROGS; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, progs[i].name);

		if (!prog || pin_path(path, sizeof(path), dir, progs[i].name) < 0)
			return moat_error_set(err, ENOENT, "egress program %s", progs[i].name);
		unlink(path);
		if (bpf_program__pin(prog, path) < 0)
			return moat_error_errno(err, "pin %s", path);
	}
	for (size_t i = 0; i < N_MAPS; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skel->obj, map_names[i]);

		if (!map || pin_path(path, sizeof(path), dir, map_names[i]) < 0)
			return moat_error_set(err, ENOENT, "egress map %s", map_names[i]);
		unlink(path);
		if (bpf_map__pin(map, path) < 0)
			return moat_error_errno(err, "pin %s", path);
	}
	return 0;
}

/* The slow path, once per host (or after gc): load, verify, pin. */
static int load_and_pin(const char *dir, struct moat_error *err)
{
	struct egress_bpf *skel;
	int r;

	skel = egress_bpf__open();
	if (!skel)
		return moat_error_errno(err, "open the egress BPF object");
	r = egress_bpf__load(skel);
	if (r < 0) {
		moat_error_set(err, -r, "load the egress BPF programs (%s)", moat_bpf_last_log());
		egress_bpf__destroy(skel);
		return -1;
	}
	r = pin_all(skel, dir, err);
	egress_bpf__destroy(skel);
	if (r < 0) {
		struct moat_error ignored;

		moat_bpf_remove_pin_dir(dir, &ignored);
	}
	return r;
}

/* This build's pin directory. */
static void pin_dir_of_build(char *buf, size_t len)
{
	moat_bpf_pin_dir(FEATURE, MOAT_EGRESS_BPF_HASH, buf, len);
}

/* Opens the pinned programs and maps, loading them first when this host has
 * none (or an older moat's). Under the load lock: concurrent first launches
 * load once. */
static int get_objs(struct egress_objs *o, struct moat_error *err)
{
	char dir[256];
	int lock, r;

	moat_bpf_quiet();
	pin_dir_of_build(dir, sizeof(dir));
	r = open_pinned(dir, o, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (moat_bpf_fs_ensure(err) < 0)
		return -1;
	lock = moat_bpf_lock(err);
	if (lock < 0)
		return -1;
	r = open_pinned(dir, o, err);
	if (r == 0 && load_and_pin(dir, err) == 0)
		r = open_pinned(dir, o, err);
	if (r == 0)
		r = moat_error_set(err, ENOENT, "egress programs vanished from %s", dir);
	close(lock);
	return r < 0 ? -1 : 0;
}

static int on_ring_sample(void *ctx, void *data, size_t size)
{
	struct moat_egress *eg = ctx;

	if (size >= sizeof(struct moat_net_event) && eg->on_event)
		eg->on_event(data, eg->on_event_data);
	return 0;
}

static int discard_sample(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* Slots in use: the ring of every configured sandbox. */
static int used_rings(int cfg_fd, bool used[MOAT_RINGS_MAX], struct moat_error *err)
{
	__u64 key, next;
	void *prev = NULL;

	memset(used, 0, MOAT_RINGS_MAX * sizeof(bool));
	while (bpf_map_get_next_key(cfg_fd, prev, &next) == 0) {
		struct moat_sandbox_cfg cfg;

		if (bpf_map_lookup_elem(cfg_fd, &next, &cfg) == 0 && cfg.ring < MOAT_RINGS_MAX)
			used[cfg.ring] = true;
		key = next;
		prev = &key;
	}
	if (errno != ENOENT)
		return moat_error_errno(err, "list the egress ring slots");
	return 0;
}

/* The ring in slot, created and put there on its first use since the
 * programs were loaded (that one insert waits for an RCU grace period). */
static int ring_of_slot(int events_fd, __u32 slot, struct moat_error *err)
{
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(events_fd, &slot, &id) == 0) {
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			return moat_error_errno(err, "open denial ring %u", slot);
		return fd;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "moat_ev", 0, 0, MOAT_EVENTS_BYTES, NULL);
	if (fd < 0)
		return moat_error_errno(err, "create a denial ring buffer");
	if (bpf_map_update_elem(events_fd, &slot, &fd, BPF_ANY) < 0) {
		moat_error_errno(err, "insert denial ring %u", slot);
		close(fd);
		return -1;
	}
	return fd;
}

/* Under the load lock: a free ring slot, then the config entry that claims
 * it (and, last, turns on the sandbox's rules: until it exists every attempt
 * is denied). */
static int insert_cfg_and_ring(struct moat_egress *eg, uint32_t own4, struct moat_error *err)
{
	struct moat_sandbox_cfg cfg = {.addr4 = own4, .flags = eg->cfg_flags};
	struct ring_buffer *ring;
	bool used[MOAT_RINGS_MAX];
	int lock, r = -1;

	lock = moat_bpf_lock(err);
	if (lock < 0)
		return -1;
	if (used_rings(eg->objs.map[MAP_SANDBOXES], used, err) < 0)
		goto out;
	while (cfg.ring < MOAT_RINGS_MAX && used[cfg.ring])
		cfg.ring++;
	if (cfg.ring == MOAT_RINGS_MAX) {
		moat_error_set(err, EBUSY, "all %d egress ring slots are in use", MOAT_RINGS_MAX);
		goto out;
	}
	eg->ring_fd = ring_of_slot(eg->objs.map[MAP_EVENTS], cfg.ring, err);
	if (eg->ring_fd < 0)
		goto out;
	/* A previous owner consumed all before it ended; drop anything left.
	 * Unmapped again: the consumer is moat_egress_events_open's. */
	ring = ring_buffer__new(eg->ring_fd, discard_sample, eg, NULL);
	if (!ring) {
		moat_error_errno(err, "open the denial ring buffer");
		goto out;
	}
	ring_buffer__consume(ring);
	ring_buffer__free(ring);
	if (bpf_map_update_elem(eg->objs.map[MAP_SANDBOXES], &eg->cgroup_id, &cfg, BPF_NOEXIST) < 0) {
		moat_error_errno(err, "insert the sandbox's egress config");
		goto out;
	}
	r = 0;
out:
	close(lock);
	return r;
}

static int insert_rules(struct moat_egress *eg, struct moat_error *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	__u32 count = (__u32)eg->n_entries;

	if (!eg->n_entries)
		return 0;
	for (size_t i = 0; i < eg->n_entries; i++)
		memcpy(eg->keys[i].cgroup_id, &eg->cgroup_id, sizeof(eg->keys[i].cgroup_id));
	/* One call for all: a syscall per entry was half the time of 100000.
	 * On failure count says how many went in (deleted again by free). */
	if (bpf_map_update_batch(eg->objs.map[MAP_RULES], eg->keys, eg->values, &count,
				 &opts) == 0) {
		eg->n_inserted = eg->n_entries;
		return 0;
	}
	eg->n_inserted = count;
	/* EINVAL or 524 (the kernel's ENOTSUPP): no batches for this map type
	 * on this kernel; one by one then. */
	if (errno != EINVAL && errno != 524)
		return moat_error_errno(err, "insert %zu egress rules", eg->n_entries);
	for (size_t i = count; i < eg->n_entries; i++) {
		if (bpf_map_update_elem(eg->objs.map[MAP_RULES], &eg->keys[i], &eg->values[i],
					BPF_ANY) < 0)
			return moat_error_errno(err, "insert egress rule %zu of %zu", i + 1,
						eg->n_entries);
		eg->n_inserted = i + 1;
	}
	return 0;
}

static int insert_entries(struct moat_egress *eg, uint32_t own4, struct moat_error *err)
{
	/* Marked first, so a failure half-way still deletes what went in. */
	eg->inserted = true;
	if (insert_rules(eg, err) < 0)
		return -1;
	return insert_cfg_and_ring(eg, own4, err);
}

static int attach_links(struct moat_egress *eg, int cgroup_fd, struct moat_error *err)
{
	for (size_t i = 0; i < N_PROGS; i++) {
		eg->links[i] = bpf_link_create(eg->objs.prog[i], cgroup_fd, progs[i].type, NULL);
		if (eg->links[i] < 0)
			return moat_error_errno(err, "attach %s to the sandbox's cgroup", progs[i].name);
	}
	return 0;
}

int moat_egress_attach(struct moat_egress *eg, int cgroup_fd, uint64_t cgroup_id, uint32_t own4,
		       struct moat_error *err)
{
	if (cgroup_fd < 0 || cgroup_id == 0)
		return moat_error_set(err, EOPNOTSUPP, "egress needs a cgroup2 directory");
	eg->cgroup_id = cgroup_id;
	if (get_objs(&eg->objs, err) < 0)
		return -1;
	if (insert_entries(eg, own4, err) < 0)
		return -1;
	return attach_links(eg, cgroup_fd, err);
}

int moat_egress_events_open(struct moat_egress *eg, struct moat_error *err)
{
	if (eg->ring)
		return 0;
	if (eg->ring_fd < 0)
		return moat_error_set(err, EINVAL, "open the denial ring buffer: not attached");
	eg->ring = ring_buffer__new(eg->ring_fd, on_ring_sample, eg, NULL);
	if (!eg->ring)
		return moat_error_errno(err, "open the denial ring buffer");
	return 0;
}

int moat_egress_events_fd(const struct moat_egress *eg)
{
	return eg && eg->ring ? ring_buffer__epoll_fd(eg->ring) : -1;
}

int moat_egress_events_consume(struct moat_egress *eg, moat_egress_event_fn fn, void *data)
{
	if (!eg || !eg->ring)
		return 0;
	eg->on_event = fn;
	eg->on_event_data = data;
	return ring_buffer__consume(eg->ring);
}

static int read_counters(int map_fd, uint64_t cgroup_id, struct moat_net_counters *ret,
			 struct moat_error *err)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ struct moat_net_counters *per_cpu = NULL;

	memset(ret, 0, sizeof(*ret));
	if (ncpu <= 0)
		return moat_error_set(err, -ncpu, "count possible CPUs");
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return moat_error_errno(err, "network counters");
	if (bpf_map_lookup_elem(map_fd, &cgroup_id, per_cpu) < 0)
		return moat_error_errno(err, "read the network counters");
	for (int c = 0; c < ncpu; c++) {
		const __u64 *src = (const __u64 *)&per_cpu[c];
		__u64 *dst = (__u64 *)ret;

		for (size_t f = 0; f < sizeof(*ret) / sizeof(__u64); f++)
			dst[f] += src[f];
	}
	return 0;
}

int moat_egress_counters(const struct moat_egress *eg, struct moat_net_counters *ret,
			 struct moat_error *err)
{
	if (!eg || eg->objs.map[MAP_NETSTAT] < 0)
		return moat_error_set(err, ENOENT, "egress is not attached");
	return read_counters(eg->objs.map[MAP_NETSTAT], eg->cgroup_id, ret, err);
}

/* The whole LRU destination map, every sandbox's, with ncpu values per key. */
struct dest_table {
	struct moat_dest_key *keys;
	struct moat_dest_value *values;
	size_t n, cap;
};

static void dest_table_free(struct dest_table *t)
{
	free(t->keys);
	free(t->values);
	*t = (struct dest_table){0};
}

/* Reads it in batches (one syscall per batch, not per entry), reusing t's buffers. */
static int read_dests(int map_fd, int ncpu, struct dest_table *t, struct moat_error *err)
{
	const size_t batch = 4096;
	__u64 in = 0, out = 0;
	bool first = true;

	t->n = 0;
	for (;;) {
		__u32 count = (__u32)batch;
		int r;

		if (t->n + batch > t->cap) {
			size_t cap = t->cap ? t->cap * 2 : batch;
			struct moat_dest_key *k = reallocarray(t->keys, cap, sizeof(*k));
			struct moat_dest_value *v;

			if (!k)
				return moat_error_errno(err, "read destinations");
			t->keys = k;
			v = reallocarray(t->values, cap * (size_t)ncpu, sizeof(*v));
			if (!v)
				return moat_error_errno(err, "read destinations");
			t->values = v;
			t->cap = cap;
		}
		r = bpf_map_lookup_batch(map_fd, first ? NULL : &in, &out, t->keys + t->n,
					 t->values + t->n * (size_t)ncpu, &count, NULL);
		if (r < 0 && errno != ENOENT)
			return moat_error_errno(err, "read destinations");
		t->n += count;
		if (r < 0) /* ENOENT: that was the last batch */
			return 0;
		in = out;
		first = false;
	}
}

static void delete_dests(int map_fd, uint64_t cgroup_id)
{
	int ncpu = libbpf_num_possible_cpus();
	struct dest_table t = {0};
	struct moat_error ignored;

	if (ncpu > 0 && read_dests(map_fd, ncpu, &t, &ignored) == 0)
		for (size_t i = 0; i < t.n; i++)
			if (t.keys[i].cgroup_id == cgroup_id)
				bpf_map_delete_elem(map_fd, &t.keys[i]);
	dest_table_free(&t);
}

static void delete_sandbox_entries(const struct egress_objs *o, uint64_t cgroup_id)
{
	/* Config first: from here on, a straggling packet is denied; its ring
	 * slot is free for the next sandbox. */
	bpf_map_delete_elem(o->map[MAP_SANDBOXES], &cgroup_id);
	/* The counters are the cgroup's storage: they go with the cgroup. */
	delete_dests(o->map[MAP_DESTS], cgroup_id);
}

void moat_egress_free(struct moat_egress *eg)
{
	if (!eg)
		return;
	for (size_t i = 0; i < N_PROGS; i++)
		moat_closep(&eg->links[i]);
	if (eg->inserted)
		delete_sandbox_entries(&eg->objs, eg->cgroup_id);
	if (eg->n_inserted) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = (__u32)eg->n_inserted;

		/* A batch stops at its first failure: the rest one by one. */
		if (bpf_map_delete_batch(eg->objs.map[MAP_RULES], eg->keys, &count, &opts) < 0)
			for (size_t i = count; i < eg->n_inserted; i++)
				bpf_map_delete_elem(eg->objs.map[MAP_RULES], &eg->keys[i]);
	}
	ring_buffer__free(eg->ring);
	moat_closep(&eg->ring_fd);
	objs_close(&eg->objs);
	free(eg->nets);
	free(eg->keys);
	free(eg->values);
	free(eg);
}

/* Walks the whole trie: gc has no list of what the dead supervisor inserted. */
static int collect_rules(int map_fd, uint64_t cgroup_id, struct moat_error *err)
{
	struct moat_rule_key key, next, *mine = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		uint64_t id;

		memcpy(&id, next.cgroup_id, sizeof(id));
		if (id == cgroup_id) {
			if (n == cap) {
				struct moat_rule_key *m = reallocarray(mine, cap ? cap * 2 : 64,
								       sizeof(*m));
				if (!m) {
					r = moat_error_errno(err, "collect egress rules");
					goto out;
				}
				mine = m;
				cap = cap ? cap * 2 : 64;
			}
			mine[n++] = next;
		}
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(map_fd, &mine[i]);
out:
	free(mine);
	return r;
}

int moat_egress_collect(uint64_t cgroup_id, struct moat_error *err)
{
	struct egress_objs o;
	char dir[256];
	int r;

	moat_bpf_quiet();
	pin_dir_of_build(dir, sizeof(dir));
	r = open_pinned(dir, &o, err);
	if (r <= 0)
		return r; /* nothing pinned: the entries went with the maps */
	delete_sandbox_entries(&o, cgroup_id);
	r = collect_rules(o.map[MAP_RULES], cgroup_id, err);
	objs_close(&o);
	return r;
}

/* A reader (status, metrics, top) asks for many sandboxes in one run: the
 * pinned objects are opened once per process and kept. 0 when nothing is
 * pinned. */
static struct egress_objs reader_objs;
static bool reader_open;

static int open_for_reading(const struct egress_objs **ret, struct moat_error *err)
{
	char dir[256];
	int r;

	if (!reader_open) {
		moat_bpf_quiet();
		pin_dir_of_build(dir, sizeof(dir));
		r = open_pinned(dir, &reader_objs, err);
		if (r <= 0)
			return r;
		reader_open = true;
	}
	*ret = &reader_objs;
	return 1;
}

int moat_egress_read(uint64_t cgroup_id, struct moat_net_counters *ret, struct moat_error *err)
{
	const struct egress_objs *o;
	int r = open_for_reading(&o, err);

	if (r == 0)
		return moat_error_set(err, ENOENT, "no egress programs are loaded");
	if (r < 0)
		return -1;
	return read_counters(o->map[MAP_NETSTAT], cgroup_id, ret, err);
}

static int dest_cmp(const void *a, const void *b)
{
	const struct moat_egress_dest *x = a, *y = b;

	return x->bytes == y->bytes ? 0 : x->bytes > y->bytes ? -1 : 1;
}

static void dest_from(struct moat_egress_dest *d, const struct moat_dest_key *k,
		      const struct moat_dest_value *per_cpu, int ncpu)
{
	bool v4 = k->addr[0] == 0 && k->addr[1] == 0 && k->addr[2] == htonl(0xffff);

	memset(d, 0, sizeof(*d));
	d->family = v4 ? AF_INET : AF_INET6;
	memcpy(d->addr, v4 ? (const void *)&k->addr[3] : (const void *)k->addr, v4 ? 4 : 16);
	d->proto = k->proto;
	d->port = k->port;
	for (int c = 0; c < ncpu; c++) {
		d->bytes += per_cpu[c].bytes;
		d->packets += per_cpu[c].packets;
	}
}

/* Every destination of every sandbox, read in batches and kept for a
 * moment: a status of all sandboxes reads the map once, not once each. */
#define DESTS_FRESH_NS (200 * 1000 * 1000ULL)

static struct dest_table dests_snapshot;
static uint64_t dests_read_ns;

static int snapshot_dests(int map_fd, int ncpu, struct moat_error *err)
{
	if (dests_read_ns && moat_now_ns() - dests_read_ns < DESTS_FRESH_NS)
		return 0;
	if (read_dests(map_fd, ncpu, &dests_snapshot, err) < 0)
		return -1;
	dests_read_ns = moat_now_ns();
	return 0;
}

int moat_egress_top_destinations(uint64_t cgroup_id, struct moat_egress_dest *ret, size_t max,
				 size_t *ret_n, struct moat_error *err)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ struct moat_egress_dest *mine = NULL;
	const struct egress_objs *o;
	size_t kept = 0;
	int r;

	*ret_n = 0;
	if (ncpu <= 0)
		return moat_error_set(err, -ncpu, "count possible CPUs");
	r = open_for_reading(&o, err);
	if (r <= 0)
		return r == 0 ? moat_error_set(err, ENOENT, "no egress programs are loaded") : -1;
	if (snapshot_dests(o->map[MAP_DESTS], ncpu, err) < 0)
		return -1;
	mine = calloc(dests_snapshot.n ? dests_snapshot.n : 1, sizeof(*mine));
	if (!mine)
		return moat_error_errno(err, "read destinations");
	for (size_t i = 0; i < dests_snapshot.n; i++)
		if (dests_snapshot.keys[i].cgroup_id == cgroup_id)
			dest_from(&mine[kept++], &dests_snapshot.keys[i],
				  dests_snapshot.values + i * (size_t)ncpu, ncpu);
	qsort(mine, kept, sizeof(*mine), dest_cmp);
	*ret_n = kept < max ? kept : max;
	memcpy(ret, mine, *ret_n * sizeof(*ret));
	return 0;
}

const char *moat_egress_hook_name(uint8_t hook)
{
	static const char *const names[] = {
		[MOAT_HOOK_CONNECT4] = "connect4", [MOAT_HOOK_CONNECT6] = "connect6",
		[MOAT_HOOK_SENDMSG4] = "sendmsg4", [MOAT_HOOK_SENDMSG6] = "sendmsg6",
		[MOAT_HOOK_EGRESS] = "egress",
	};

	return hook < ARRAY_SIZE(names) && names[hook] ? names[hook] : "unknown";
}

const char *moat_egress_proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: snprintf(buf, len, "%u", proto); return buf;
	}
}
