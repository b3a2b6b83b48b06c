// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The publish data path (see publish.h). One epoll set holds the listeners and
 * both sockets of every connection. Each connection is two relays, one per
 * direction: source socket -> pipe -> destination socket, with splice().
 *
 * Listeners are level-triggered: accept takes a bounded batch per event and
 * whatever is left keeps the listener readable. Connection sockets are
 * edge-triggered with EPOLLIN|EPOLLOUT registered once: any event on either
 * socket pumps both relays until the source is drained (EAGAIN) or the
 * destination is full (EAGAIN), so no interest mask has to be switched and
 * nothing spins: TCP wakes a socket for writing only after a write found its
 * buffer full (SOCK_NOSPACE), so a lone EPOLLOUT means a pipe holds bytes that
 * did not fit, and any other wakeup (data, FIN, a state change) costs one pump
 * that ends at EAGAIN.
 *
 * A relay moves at most PUMP_ROUNDS pipe loads per event; one that used up its
 * budget while bytes keep coming is re-armed with EPOLL_CTL_MOD, which queues
 * its source again when it is still ready. So one bulk transfer cannot starve
 * the other connections or the supervisor: with two 500 MB downloads running,
 * a small request took 1.4 ms (median) with 4 rounds, 4.3 ms with 16, 10.6 ms
 * with 64, for a 2% difference in bulk throughput.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "publish.h"
#include "util.h"

#define MAX_EVENTS	  64 /* events per dispatch */
#define ACCEPT_BATCH	  64 /* accepts per listener event */
#define PUMP_ROUNDS	  4  /* pipe loads per relay per event (256 KiB): see the comment above */
#define PIPE_POOL_MAX	  32 /* idle pipes kept for reuse */
#define CLIENT_BUCKETS	  1024
#define NO_CLIENT	  UINT32_MAX
#define CONN_EPOLL_EVENTS (EPOLLIN | EPOLLOUT | EPOLLET)

/* Eviction needs an idle address whenever the table is full. */
_Static_assert(MOAT_PUBLISH_MAX_CLIENTS > MOAT_PUBLISH_MAX_CONNS, "client table too small");

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum endpoint_kind { ENDPOINT_LISTENER, ENDPOINT_CLIENT, ENDPOINT_MODEL };

/* Every epoll registration points at one of these, so an event says what it is for. */
struct endpoint {
	enum endpoint_kind kind;
	int fd;
};

struct listener {
	struct endpoint src;
	uint16_t port; /* the model's port, inside the sandbox */
};

/* One direction of a connection: bytes read from src wait in the pipe until dst takes them. */
struct relay {
	int pipe[2];   /* held only while bytes are in flight, else -EBADF */
	size_t queued; /* bytes in the pipe */
	bool eof;      /* the source sent FIN */
	bool shut;     /* FIN passed on: shutdown(dst, SHUT_WR) */
};

struct conn {
	struct endpoint client, model;
	struct relay up;   /* client -> model */
	struct relay down; /* model -> client */
	bool connecting;   /* nonblocking connect toward the model not finished */
	bool dead;	   /* closed; freed at the end of the dispatch */
	uint32_t client_idx;
	struct conn *prev, *next;
};

struct client_key {
	sa_family_t family;
	uint8_t addr[16];
};

struct client_stats {
	struct client_key key;
	uint32_t next; /* hash chain, NO_CLIENT ends it */
	uint32_t live; /* open connections: never evicted while > 0 */
	uint64_t connections, bytes_in, bytes_out;
};

struct moat_publisher {
	int epfd;
	int host_netns;	 /* where the supervisor lives; -EBADF until started */
	int model_netns; /* the sandbox's; -EBADF until started */
	int stuck_errno; /* could not return to host_netns: the process must stop */
	int spare_fd;	 /* given up to refuse a client when fds run out */
	struct listener *listeners;
	size_t n_listeners;
	struct conn *conns; /* open connections */
	size_t n_conns;
	struct conn *graveyard; /* closed during this dispatch: later events may still name them */
	int pool[PIPE_POOL_MAX][2];
	size_t n_pool;
	struct client_stats *clients;
	uint32_t n_clients, cap_clients;
	uint32_t buckets[CLIENT_BUCKETS];
};

/* ---- small socket helpers ------------------------------------------------------------------- */

/* Closes with a reset (SO_LINGER 0) so the peer sees an error, not an orderly end. Should
 * setsockopt fail, the close still happens, as a FIN: nothing better is left to do. */
static void close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Bytes are passed on as they come; Nagle here would only delay what the model already sent
 * (a streamed token, say). A failure costs latency, not correctness: ignored. */
static void set_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int listen_on(const struct moat_publish *p, struct moat_error *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->host_port)};
	_cleanup_close_ int fd = -EBADF;
	int one = 1;

	if (inet_pton(AF_INET, p->host_ip, &sa.sin_addr) != 1)
		return moat_error_set(err, EINVAL, "publish %s:%u: bad host address", p->host_ip,
				      p->host_port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return moat_error_errno(err, "publish %s:%u: socket", p->host_ip, p->host_port);
	/* A restarted sandbox must get its port back while old connections sit in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0)
		return moat_error_errno(err, "publish %s:%u", p->host_ip, p->host_port);
	return TAKE_FD(fd);
}

/*
 * A socket belongs to the network namespace it was created in, whoever uses
 * it later: enter the sandbox's, create, come back. Returns the fd, or -1 with
 * errno; pub->stuck_errno is set when the way back failed.
 */
static int model_socket(struct moat_publisher *pub)
{
	int fd, saved;

	if (setns(pub->model_netns, CLONE_NEWNET) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	saved = errno;
	if (setns(pub->host_netns, CLONE_NEWNET) < 0) {
		pub->stuck_errno = errno;
		if (fd >= 0)
			close(fd);
		errno = pub->stuck_errno;
		return -1;
	}
	errno = saved;
	return fd;
}

/*
 * ---- pipes: a pool, so idle connections hold no pipe ------------------------------------
 *
 * Default 64 KiB pipes: 256 KiB ones moved bulk data ~10% faster, but a stalled
 * connection pins up to a full pipe per direction outside its sockets' buffer
 * limits, so at the connection cap that is 128 MiB instead of 512 MiB.
 */

static int pipe_get(struct moat_publisher *pub, int p[2])
{
	if (pub->n_pool > 0) {
		pub->n_pool--;
		p[0] = pub->pool[pub->n_pool][0];
		p[1] = pub->pool[pub->n_pool][1];
		return 0;
	}
	return pipe2(p, O_CLOEXEC | O_NONBLOCK);
}

/* Takes back an empty pipe; a pipe that still holds bytes must be closed instead. */
static void pipe_put(struct moat_publisher *pub, int p[2])
{
	if (p[0] < 0)
		return;
	if (pub->n_pool < PIPE_POOL_MAX) {
		pub->pool[pub->n_pool][0] = p[0];
		pub->pool[pub->n_pool][1] = p[1];
		pub->n_pool++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -EBADF;
}

static void relay_drop(struct moat_publisher *pub, struct relay *r)
{
	if (r->pipe[0] >= 0 && r->queued > 0) {
		close(r->pipe[0]);
		close(r->pipe[1]);
		r->pipe[0] = r->pipe[1] = -EBADF;
	}
	pipe_put(pub, r->pipe);
}

/* ---- per-client counters -------------------------------------------------------------------- */

static void client_key_from(const struct sockaddr_storage *sa, struct client_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = sa->ss_family;
	if (sa->ss_family == AF_INET)
		memcpy(k->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->ss_family == AF_INET6)
		memcpy(k->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

/* FNV-1a, unseeded: a crafted set of addresses can at worst chain up the
 * MOAT_PUBLISH_MAX_CLIENTS entries the table holds, one scan per new connection. */
static uint32_t client_hash(const struct client_key *k)
{
	uint32_t h = 2166136261u ^ k->family;

	for (size_t i = 0; i < sizeof(k->addr); i++)
		h = (h ^ k->addr[i]) * 16777619u;
	return h % CLIENT_BUCKETS;
}

static void client_unlink(struct moat_publisher *pub, uint32_t idx)
{
	uint32_t *link = &pub->buckets[client_hash(&pub->clients[idx].key)];

	while (*link != idx)
		link = &pub->clients[*link].next;
	*link = pub->clients[idx].next;
}

/* The idle entry with the fewest connections. The table is full, so one is idle. */
static uint32_t client_evict(struct moat_publisher *pub)
{
	uint32_t victim = NO_CLIENT;

	for (uint32_t i = 0; i < pub->n_clients; i++) {
		const struct client_stats *c = &pub->clients[i];

		if (c->live == 0 &&
		    (victim == NO_CLIENT || c->connections < pub->clients[victim].connections))
			victim = i;
	}
	client_unlink(pub, victim);
	return victim;
}

static uint32_t client_slot(struct moat_publisher *pub)
{
	struct client_stats *grown;
	uint32_t cap;

	if (pub->n_clients == MOAT_PUBLISH_MAX_CLIENTS)
		return client_evict(pub);
	if (pub->n_clients == pub->cap_clients) {
		cap = pub->cap_clients ? pub->cap_clients * 2 : 64;
		if (cap > MOAT_PUBLISH_MAX_CLIENTS)
			cap = MOAT_PUBLISH_MAX_CLIENTS;
		grown = reallocarray(pub->clients, cap, sizeof(*grown));
		if (!grown)
			return NO_CLIENT;
		pub->clients = grown;
		pub->cap_clients = cap;
	}
	return pub->n_clients++;
}

/* Finds or adds the entry for sa and counts one connection. NO_CLIENT when out of memory:
 * the connection is served uncounted. */
static uint32_t client_count(struct moat_publisher *pub, const struct sockaddr_storage *sa)
{
	struct client_key key;
	uint32_t h, idx;

	client_key_from(sa, &key);
	h = client_hash(&key);
	for (idx = pub->buckets[h]; idx != NO_CLIENT; idx = pub->clients[idx].next)
		if (memcmp(&pub->clients[idx].key, &key, sizeof(key)) == 0)
			break;
	if (idx == NO_CLIENT) {
		idx = client_slot(pub);
		if (idx == NO_CLIENT)
			return NO_CLIENT;
		pub->clients[idx] = (struct client_stats){.key = key, .next = pub->buckets[h]};
		pub->buckets[h] = idx;
	}
	pub->clients[idx].connections++;
	return idx;
}

/* ---- connections ---------------------------------------------------------------------------- */

static void endpoint_close(struct moat_publisher *pub, struct endpoint *s, bool reset)
{
	if (s->fd < 0)
		return;
	/* Deregister explicitly: if a forked child still holds the socket until its exec,
	 * close() alone would leave epoll reporting it with a pointer to a freed conn. */
	epoll_ctl(pub->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (reset)
		close_reset(s->fd);
	else
		close(s->fd);
	s->fd = -EBADF;
}

/*
 * Closes both sockets; reset on an error, so a reply cut short (a body that ends
 * at close, say) never looks complete to the client. The conn itself is freed at
 * the end of the dispatch: events later in the same batch may still point at it.
 */
static void conn_close(struct moat_publisher *pub, struct conn *c, bool reset)
{
	if (c->dead)
		return;
	endpoint_close(pub, &c->client, reset);
	endpoint_close(pub, &c->model, reset);
	relay_drop(pub, &c->up);
	relay_drop(pub, &c->down);
	if (c->client_idx != NO_CLIENT)
		pub->clients[c->client_idx].live--;
	if (c->prev)
		c->prev->next = c->next;
	else
		pub->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pub->n_conns--;
	c->dead = true;
	c->prev = NULL;
	c->next = pub->graveyard;
	pub->graveyard = c;
}

static void bury_dead(struct moat_publisher *pub)
{
	while (pub->graveyard) {
		struct conn *c = pub->graveyard;

		pub->graveyard = c->next;
		free(c);
	}
}

static int conn_register(struct moat_publisher *pub, struct endpoint *s)
{
	struct epoll_event ev = {.events = CONN_EPOLL_EVENTS, .data.ptr = s};

	return epoll_ctl(pub->epfd, EPOLL_CTL_ADD, s->fd, &ev);
}

/* Queues the socket again if it is still ready: the source of a relay stopped by its budget,
 * not by EAGAIN, gets no new edge. */
static int conn_rearm(struct moat_publisher *pub, struct endpoint *s)
{
	struct epoll_event ev = {.events = CONN_EPOLL_EVENTS, .data.ptr = s};

	return epoll_ctl(pub->epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

static void relay_init(struct relay *r)
{
	*r = (struct relay){.pipe = {-EBADF, -EBADF}};
}

/* Counts c as open, from now on conn_close() undoes everything. */
static void conn_link(struct moat_publisher *pub, struct conn *c)
{
	if (c->client_idx != NO_CLIENT)
		pub->clients[c->client_idx].live++;
	c->next = pub->conns;
	if (pub->conns)
		pub->conns->prev = c;
	pub->conns = c;
	pub->n_conns++;
}

/* Takes client_fd in every case. Connects toward 127.0.0.1:port in the sandbox. */
static void conn_open(struct moat_publisher *pub, uint16_t port, int client_fd, uint32_t client_idx)
{
	struct sockaddr_in model = {.sin_family = AF_INET,
				    .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		close_reset(client_fd);
		return;
	}
	c->client = (struct endpoint){.kind = ENDPOINT_CLIENT, .fd = client_fd};
	c->model = (struct endpoint){.kind = ENDPOINT_MODEL, .fd = -EBADF};
	relay_init(&c->up);
	relay_init(&c->down);
	c->client_idx = client_idx;
	conn_link(pub, c);
	c->model.fd = model_socket(pub);
	if (c->model.fd < 0)
		goto fail;
	set_nodelay(c->client.fd);
	set_nodelay(c->model.fd);
	r = connect(c->model.fd, (struct sockaddr *)&model, sizeof(model));
	/* A nonblocking connect goes on in the background even when a signal cut it short. */
	if (r < 0 && errno != EINPROGRESS && errno != EINTR)
		goto fail;
	c->connecting = r < 0;
	/* Adding a socket that is already ready queues an event, so nothing is missed
	 * between accept and here. */
	if (conn_register(pub, &c->client) < 0 || conn_register(pub, &c->model) < 0)
		goto fail;
	return;
fail:
	conn_close(pub, c, true);
}

/* Moves the pipe's bytes to dst. 0 when the pipe is empty or dst is full, -1 on error. */
static int relay_flush(struct relay *r, int dst, uint64_t *delivered)
{
	while (r->queued > 0) {
		ssize_t n = splice(r->pipe[0], NULL, dst, NULL, r->queued,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (n == 0) { /* cannot happen while the pipe holds bytes: never spin on it */
			errno = EIO;
			return -1;
		}
		r->queued -= (size_t)n;
		*delivered += (uint64_t)n;
	}
	return 0;
}

/* Reads from src into the (empty) pipe. Returns bytes read, 0 on EAGAIN or EOF (r->eof
 * then), -1 on error. With an empty pipe, EAGAIN can only mean src has nothing. */
static ssize_t relay_fill(struct moat_publisher *pub, struct relay *r, int src)
{
	ssize_t n;

	if (r->pipe[0] < 0 && pipe_get(pub, r->pipe) < 0)
		return -1;
	do
		n = splice(src, NULL, r->pipe[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		r->eof = true;
	r->queued += (size_t)n;
	return n;
}

enum relay_state {
	RELAY_WAIT, /* waits for an event: src drained, dst full, or done */
	RELAY_MORE, /* budget spent with bytes still coming: re-arm */
};

/* Returns a relay_state, or -1 when the connection must be reset. */
static int relay_pump(struct moat_publisher *pub, struct relay *r, int src, int dst,
		      uint64_t *delivered)
{
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		ssize_t n;

		if (r->queued > 0) {
			if (relay_flush(r, dst, delivered) < 0)
				return -1;
			if (r->queued > 0)
				return RELAY_WAIT; /* dst's EPOLLOUT resumes */
		}
		if (r->eof) {
			/* Pass the half-close on only after every byte before it. */
			if (!r->shut && shutdown(dst, SHUT_WR) < 0)
				return -1;
			r->shut = true;
			return RELAY_WAIT;
		}
		n = relay_fill(pub, r, src);
		if (n < 0)
			return -1;
		if (n == 0 && !r->eof)
			return RELAY_WAIT; /* src's EPOLLIN resumes */
	}
	return RELAY_MORE;
}

static void conn_pump(struct moat_publisher *pub, struct conn *c)
{
	struct client_stats *cs = c->client_idx != NO_CLIENT ? &pub->clients[c->client_idx] : NULL;
	uint64_t in = 0, out = 0;
	int up, down;

	up = relay_pump(pub, &c->up, c->client.fd, c->model.fd, &in);
	down = up < 0 ? -1 : relay_pump(pub, &c->down, c->model.fd, c->client.fd, &out);
	if (cs) {
		cs->bytes_in += in;
		cs->bytes_out += out;
	}
	if (c->up.queued == 0)
		pipe_put(pub, c->up.pipe);
	if (c->down.queued == 0)
		pipe_put(pub, c->down.pipe);
	if (up < 0 || down < 0)
		conn_close(pub, c, true);
	else if (c->up.shut && c->down.shut)
		conn_close(pub, c, false);
	else if ((up == RELAY_MORE && conn_rearm(pub, &c->client) < 0) ||
		 (down == RELAY_MORE && conn_rearm(pub, &c->model) < 0))
		conn_close(pub, c, true);
}

/* 1 when the nonblocking connect finished, 0 while it goes on, -1 when it failed
 * (ECONNREFUSED: nothing listens in the sandbox yet). */
static int conn_connected(struct conn *c, uint32_t events)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (!(events & EPOLLOUT))
		return 0;
	if (getsockopt(c->model.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e != 0)
		return -1;
	c->connecting = false;
	return 1;
}

static void conn_event(struct moat_publisher *pub, struct conn *c, struct endpoint *s,
		       uint32_t events)
{
	/* The relay that writes to s: a hang-up on s is fatal while it still has to. */
	const struct relay *toward = s == &c->client ? &c->down : &c->up;
	int r;

	if (c->dead)
		return;
	/* EPOLLERR: a reset or a refused connect. EPOLLHUP without it: the socket is closed
	 * both ways, so a relay still writing to it can never finish. */
	if ((events & EPOLLERR) || ((events & EPOLLHUP) && !toward->shut)) {
		conn_close(pub, c, true);
		return;
	}
	if (c->connecting) {
		/* Client bytes wait in its socket until the model side is up. */
		if (s != &c->model)
			return;
		r = conn_connected(c, events);
		if (r < 0)
			conn_close(pub, c, true);
		if (r <= 0)
			return;
	}
	conn_pump(pub, c);
}

/* ---- accepting ------------------------------------------------------------------------------ */

static void client_accepted(struct moat_publisher *pub, const struct listener *l, int fd,
			    const struct sockaddr_storage *sa)
{
	uint32_t idx = client_count(pub, sa);

	if (pub->n_conns >= MOAT_PUBLISH_MAX_CONNS) {
		close_reset(fd);
		return;
	}
	conn_open(pub, l->port, fd, idx);
}

/*
 * Out of fds: the waiting client would keep the level-triggered listener readable
 * forever. Give up the spare fd to accept it, reset it, take the spare back.
 */
static void refuse_without_fds(struct moat_publisher *pub, const struct listener *l)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int fd;

	if (pub->spare_fd < 0)
		return;
	close(pub->spare_fd);
	fd = accept4(l->src.fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		client_count(pub, &sa);
		close_reset(fd);
	}
	pub->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_clients(struct moat_publisher *pub, const struct listener *l)
{
	for (int i = 0; i < ACCEPT_BATCH && !pub->stuck_errno; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd =
		    accept4(l->src.fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			client_accepted(pub, l, fd, &sa);
		} else if (errno == EAGAIN) {
			return;
		} else if (errno == EMFILE || errno == ENFILE) {
			refuse_without_fds(pub, l);
		} else if (errno == ENOBUFS || errno == ENOMEM) {
			return; /* the backlog keeps the listener readable: next dispatch */
		}
		/* Else EINTR, or a client that failed while queued (ECONNABORTED, and the
		 * network errors accept(2) passes on): try the next one. */
	}
}

/* ---- API ------------------------------------------------------------------------------------ */

static struct moat_publisher *publisher_alloc(size_t n)
{
	struct moat_publisher *pub = calloc(1, sizeof(*pub));

	if (!pub)
		return NULL;
	pub->epfd = pub->host_netns = pub->model_netns = pub->spare_fd = -EBADF;
	memset(pub->buckets, 0xff, sizeof(pub->buckets)); /* NO_CLIENT */
	pub->listeners = calloc(n, sizeof(*pub->listeners));
	if (!pub->listeners) {
		free(pub);
		return NULL;
	}
	return pub;
}

int moat_publish_open(const struct moat_publish *pubs, size_t n, struct moat_publisher **ret,
		      struct moat_error *err)
{
	struct moat_publisher *pub;

	*ret = NULL;
	if (n == 0)
		return 0;
	pub = publisher_alloc(n);
	if (!pub)
		return moat_error_set(err, ENOMEM, "publish");
	pub->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (pub->epfd < 0) {
		moat_error_errno(err, "publish: epoll_create1");
		goto fail;
	}
	pub->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (pub->spare_fd < 0) {
		moat_error_errno(err, "publish: open /dev/null");
		goto fail;
	}
	for (; pub->n_listeners < n; pub->n_listeners++) {
		struct listener *l = &pub->listeners[pub->n_listeners];
		int fd = listen_on(&pubs[pub->n_listeners], err);

		if (fd < 0)
			goto fail;
		*l = (struct listener){.src = {.kind = ENDPOINT_LISTENER, .fd = fd},
				       .port = pubs[pub->n_listeners].port};
	}
	*ret = pub;
	return 0;
fail:
	moat_publish_free(pub);
	return -1;
}

int moat_publish_start(struct moat_publisher *pub, int netns_fd, struct moat_error *err)
{
	int fd;

	if (!pub)
		return 0;
	if (pub->model_netns >= 0)
		return moat_error_set(err, EALREADY, "publish: already started");
	/* thread-self: setns() changes the calling thread's namespace, and this is where it
	 * must come back to. */
	pub->host_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (pub->host_netns < 0)
		return moat_error_errno(err, "open /proc/thread-self/ns/net");
	pub->model_netns = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
	if (pub->model_netns < 0)
		return moat_error_errno(err, "publish: dup the sandbox's netns fd");
	/* One trip there and back now: a fd that is no netns, or a missing CAP_SYS_ADMIN,
	 * fails the launch instead of every client. */
	fd = model_socket(pub);
	if (fd < 0 && pub->stuck_errno)
		return moat_error_errno(err, "publish: return to the host network namespace");
	if (fd < 0)
		return moat_error_errno(err, "publish: socket in the sandbox's network namespace");
	close(fd);
	for (size_t i = 0; i < pub->n_listeners; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &pub->listeners[i].src};

		if (epoll_ctl(pub->epfd, EPOLL_CTL_ADD, pub->listeners[i].src.fd, &ev) < 0)
			return moat_error_errno(err, "publish: epoll_ctl");
	}
	return 0;
}

int moat_publish_fd(const struct moat_publisher *pub)
{
	return pub ? pub->epfd : -1;
}

static void handle_event(struct moat_publisher *pub, struct endpoint *s, uint32_t events)
{
	switch (s->kind) {
	case ENDPOINT_LISTENER:
		accept_clients(pub, container_of(s, struct listener, src));
		break;
	case ENDPOINT_CLIENT:
		conn_event(pub, container_of(s, struct conn, client), s, events);
		break;
	case ENDPOINT_MODEL:
		conn_event(pub, container_of(s, struct conn, model), s, events);
		break;
	}
}

int moat_publish_dispatch(struct moat_publisher *pub, struct moat_error *err)
{
	struct epoll_event ev[MAX_EVENTS];
	int n;

	if (!pub)
		return 0;
	if (!pub->stuck_errno) {
		do
			n = epoll_wait(pub->epfd, ev, MAX_EVENTS, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return moat_error_errno(err, "publish: epoll_wait");
		for (int i = 0; i < n && !pub->stuck_errno; i++)
			handle_event(pub, ev[i].data.ptr, ev[i].events);
		bury_dead(pub);
	}
	if (pub->stuck_errno)
		return moat_error_set(err, pub->stuck_errno,
				      "publish: return to the host network namespace");
	return 0;
}

size_t moat_publish_active(const struct moat_publisher *pub)
{
	return pub ? pub->n_conns : 0;
}

void moat_publish_for_each_client(const struct moat_publisher *pub, moat_publish_client_fn fn,
				  void *data)
{
	if (!pub)
		return;
	for (uint32_t i = 0; i < pub->n_clients; i++) {
		const struct client_stats *c = &pub->clients[i];
		struct sockaddr_storage sa = {.ss_family = c->key.family};

		if (c->key.family == AF_INET)
			memcpy(&((struct sockaddr_in *)&sa)->sin_addr, c->key.addr, 4);
		else if (c->key.family == AF_INET6)
			memcpy(&((struct sockaddr_in6 *)&sa)->sin6_addr, c->key.addr, 16);
		fn(&sa, c->connections, c->bytes_in, c->bytes_out, data);
	}
}

void moat_publish_free(struct moat_publisher *pub)
{
	if (!pub)
		return;
	while (pub->conns)
		conn_close(pub, pub->conns, true);
	bury_dead(pub);
	for (size_t i = 0; i < pub->n_listeners; i++)
		close(pub->listeners[i].src.fd);
	for (size_t i = 0; i < pub->n_pool; i++) {
		close(pub->pool[i][0]);
		close(pub->pool[i][1]);
	}
	moat_closep(&pub->epfd);
	moat_closep(&pub->host_netns);
	moat_closep(&pub->model_netns);
	moat_closep(&pub->spare_fd);
	free(pub->listeners);
	free(pub->clients);
	free(pub);
}
