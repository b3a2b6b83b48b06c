/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The two waiting loops of a sandbox and the messages between them:
 * the supervisor (outside, the `moat run` process) and the sandbox's
 * init (PID 1 inside) talk over a SOCK_SEQPACKET pair, one message per
 * datagram, so a message is never split or merged.
 */
#ifndef MOAT_SUPERVISE_H
#define MOAT_SUPERVISE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum moat_sync_type {
	MOAT_SYNC_GO = 1,	/* supervisor -> init: build the sandbox's root */
	MOAT_SYNC_JOINED,	/* supervisor -> init: in every cgroup now, start the command */
	MOAT_SYNC_EXEC,		/* supervisor -> the command, on init's socket: exec now */
	MOAT_SYNC_ERROR,	/* init -> supervisor: setup failed (errnum, msg) */
	MOAT_SYNC_EXEC_OK,	/* init -> supervisor: the command was exec'd */
	MOAT_SYNC_EXEC_FAILED,	/* init -> supervisor: execve failed (errnum, msg) */
	MOAT_SYNC_EXIT,		/* init -> supervisor: the command's wait status */
};

struct moat_sync_msg {
	uint32_t type;
	int32_t status; /* MOAT_SYNC_EXIT: raw wait status */
	struct moat_error err;
};

int moat_sync_send(int fd, enum moat_sync_type type, int status, const struct moat_error *err);
/* Returns 1 with a message, 0 on EOF (the peer is gone), -1 on error. */
int moat_sync_recv(int fd, struct moat_sync_msg *msg);

/* Signals moat forwards to the command (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1/2, SIGWINCH). */
void moat_forwarded_signals(sigset_t *set);

/* Exit status for a raw wait status: the code, or 128+N for signal N. */
int moat_exit_code(int wait_status);

/* Another fd the supervisor serves while the sandbox runs (published ports,
 * the denial ring buffer, a detached sandbox's output): ready(data) is
 * called when fd is readable, and returns false when fd is done (at its
 * end: polling it would only say so again). wanted, when set, is asked
 * before each poll whether to wait on fd now: a watch that says no is left
 * out until it says yes (an output relay whose byte budget is spent leaves
 * its pipe unread until its timer, another watch, refills the budget). */
struct moat_watch {
	int fd;
	bool (*ready)(void *data);
	void *data;
	bool (*wanted)(void *data);
};

/*
 * Supervisor: forwards signals arriving on sigfd to init_pid, serves the
 * watches, collects the command's status from sync_fd and returns once init
 * has been reaped: the command's exit status, or 128+N when init itself was
 * killed.
 */
int moat_supervise(pid_t init_pid, int sigfd, int sync_fd, const struct moat_watch *watches,
		   size_t n_watches);

/*
 * Init: forwards signals to the command, reaps every process that gets
 * reparented to it, and when the command ends reports its wait status on
 * sync_fd and returns (init then exits, and the kernel kills whatever else
 * is left in the PID namespace). The first time it has waited idle_ms for a
 * signal it calls on_idle (when not NULL), once.
 */
void moat_init_reap(pid_t command, int sigfd, int sync_fd, int idle_ms, void (*on_idle)(void));

#endif
