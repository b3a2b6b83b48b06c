/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * [network] publish: the supervisor (host network namespace, single-threaded,
 * outside the sandbox) forwards TCP connections accepted on HOSTIP:HOSTPORT to
 * 127.0.0.1:PORT inside the sandbox's own network namespace, where the model
 * server listens. The sandbox needs no link but its loopback.
 *
 * Data moves with splice() through a pipe per direction, so bytes never cross
 * into user space; a half-close on one side (FIN) is passed on with
 * shutdown(SHUT_WR) once everything before it was delivered, and an error on
 * either side resets both, so a cut-short reply never looks complete.
 *
 * The caller must ignore SIGPIPE (launch.c does): splice() to a socket whose
 * peer has gone raises it, and splice has no MSG_NOSIGNAL.
 *
 * File descriptors: 2 per connection, plus 2 per direction that has bytes in
 * flight (pipes come from a small pool only while they hold data), plus the
 * listeners, the epoll fd, two netns fds and one spare. At the connection cap
 * that can exceed the default RLIMIT_NOFILE soft limit of 1024: the caller
 * should raise it. Running out is not fatal: the connection that needed the fd
 * is reset and the others go on.
 */
#ifndef MOAT_PUBLISH_H
#define MOAT_PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"
#include "parse.h"

/* Open connections beyond this are accepted and reset at once (counted for their client). */
#define MOAT_PUBLISH_MAX_CONNS 1024

/* Client addresses the counters keep; see moat_publish_for_each_client(). */
#define MOAT_PUBLISH_MAX_CLIENTS 4096

struct moat_publisher; /* opaque; owns its listeners, connections, pipes and fds */

/*
 * Binds and listens on every pubs[i].host_ip:host_port in the caller's network
 * namespace now (SO_REUSEADDR, nonblocking, close-on-exec), so a port that is
 * taken fails the launch before the sandbox exists, with err reading e.g.
 * "publish 127.0.0.1:8080" and errno EADDRINUSE. Nothing is accepted before
 * moat_publish_start(): clients wait in the listen backlog.
 *
 * Returns 0 and a new publisher in *ret, owned by the caller (free it with
 * moat_publish_free()), or -1 with err filled and nothing left open. With
 * n == 0, *ret is NULL: every function below accepts a NULL publisher and does
 * nothing, so the caller needs no special case.
 */
int moat_publish_open(const struct moat_publish *pubs, size_t n, struct moat_publisher **ret,
		      struct moat_error *err);

/*
 * Starts forwarding into the network namespace netns_fd (an fd of
 * /proc/PID/ns/net; the publisher keeps its own duplicate, the caller still owns
 * netns_fd). Enters that namespace once and comes back, so a bad fd or missing
 * privilege fails here and not at the first client. Call once, single-threaded.
 * Returns 0, or -1 with err filled (the publisher can then only be freed).
 */
int moat_publish_start(struct moat_publisher *pub, int netns_fd, struct moat_error *err);

/*
 * An epoll fd for the caller's poll() set (POLLIN), borrowed: valid until
 * moat_publish_free(). -1 for a NULL publisher, which poll() skips.
 */
int moat_publish_fd(const struct moat_publisher *pub);

/*
 * Call when moat_publish_fd() is readable: handles the events ready now (at
 * most one batch; if more wait, the fd stays readable) without blocking.
 * A failing connection is closed and never reported. Returns 0, or -1 with err
 * filled when the publisher itself broke: the process could not return to its
 * own network namespace after creating a socket in the sandbox's, so it must
 * stop the sandbox and exit instead of going on inside the wrong namespace.
 */
int moat_publish_dispatch(struct moat_publisher *pub, struct moat_error *err);

/* Connections open now (0 for NULL). */
size_t moat_publish_active(const struct moat_publisher *pub);

/*
 * Counters per client address (the port is 0 in *client): connections is
 * every connection accepted from it, including those reset at the connection
 * cap or because nothing listened in the sandbox; bytes_in went from the
 * client to the model, bytes_out from the model to the client (counted when
 * delivered). The table keeps MOAT_PUBLISH_MAX_CLIENTS addresses; when it is
 * full, a new address takes the place of the idle address with the fewest
 * connections, so the heavy clients the accounting looks for are kept.
 * client is only valid during the call; fn must not call back into pub.
 */
typedef void (*moat_publish_client_fn)(const struct sockaddr_storage *client, uint64_t connections,
				       uint64_t bytes_in, uint64_t bytes_out, void *data);
void moat_publish_for_each_client(const struct moat_publisher *pub, moat_publish_client_fn fn,
				  void *data);

/* Resets open connections, closes every fd and frees pub. NULL is fine. */
void moat_publish_free(struct moat_publisher *pub);

#endif
