// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervise.h"
#include "util.h"

int moat_sync_send(int fd, enum moat_sync_type type, int status, const struct moat_error *err)
{
	struct moat_sync_msg msg = {.type = type, .status = status};

	if (err)
		msg.err = *err;
	while (send(fd, &msg, sizeof(msg), MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int moat_sync_recv(int fd, struct moat_sync_msg *msg)
{
	ssize_t n;

	/* A peer that closed with our last message unread leaves ECONNRESET,
	 * reported once (sock_error clears it) and before what the peer sent
	 * first, such as init's ERROR: read on, to that and then EOF. */
	do
		n = recv(fd, msg, sizeof(*msg), 0);
	while (n < 0 && (errno == EINTR || errno == ECONNRESET));
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof(*msg)) {
		errno = EPROTO;
		return -1;
	}
	msg->err.msg[sizeof(msg->err.msg) - 1] = '\0';
	return 1;
}

void moat_forwarded_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGWINCH);
}

int moat_exit_code(int wait_status)
{
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return WEXITSTATUS(wait_status);
}

static int read_signal(int sigfd)
{
	struct signalfd_siginfo si;
	ssize_t n;

	do
		n = read(sigfd, &si, sizeof(si));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(si) ? (int)si.ssi_signo : -1;
}

#define WATCHES_MAX 8

int moat_supervise(pid_t init_pid, int sigfd, int sync_fd, const struct moat_watch *watches,
		   size_t n_watches)
{
	struct pollfd fds[2 + WATCHES_MAX] = {{.fd = sigfd, .events = POLLIN},
					      {.fd = sync_fd, .events = POLLIN}};
	bool have_status = false, done[WATCHES_MAX] = {false};
	int command_status = 0, init_status = 0;

	if (n_watches > WATCHES_MAX)
		n_watches = WATCHES_MAX;
	for (;;) {
		for (size_t i = 0; i < n_watches; i++) {
			const struct moat_watch *w = &watches[i];
			bool wanted = !done[i] && (!w->wanted || w->wanted(w->data));

			/* poll skips a negative fd */
			fds[2 + i] = (struct pollfd){.fd = wanted ? w->fd : -1, .events = POLLIN};
		}
		if (poll(fds, 2 + n_watches, -1) < 0) {
			if (errno == EINTR)
				continue;
			/* Without poll nothing forwards signals or sees the
			 * end: end the sandbox now, reporting how init ended. */
			kill(init_pid, SIGKILL);
			while (waitpid(init_pid, &init_status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		for (size_t i = 0; i < n_watches; i++)
			if (fds[2 + i].revents && !watches[i].ready(watches[i].data))
				done[i] = true;
		if (fds[1].fd >= 0 && fds[1].revents) {
			struct moat_sync_msg msg;
			int r = moat_sync_recv(sync_fd, &msg);

			if (r > 0 && msg.type == MOAT_SYNC_EXIT) {
				command_status = msg.status;
				have_status = true;
			} else if (r <= 0) {
				fds[1].fd = -1; /* init is exiting; its SIGCHLD follows; poll skips it */
			}
		}
		if (fds[0].revents) {
			int sig = read_signal(sigfd);

			if (sig == SIGCHLD) {
				pid_t p = waitpid(init_pid, &init_status, WNOHANG);

				if (p == init_pid)
					break;
			} else if (sig > 0) {
				kill(init_pid, sig);
			}
		}
	}
	/* The status message was queued before init exited: drain it. */
	if (!have_status && fds[1].fd >= 0) {
		struct moat_sync_msg msg;

		while (recv(sync_fd, &msg, sizeof(msg), MSG_DONTWAIT) == (ssize_t)sizeof(msg))
			if (msg.type == MOAT_SYNC_EXIT) {
				command_status = msg.status;
				have_status = true;
			}
	}
	return moat_exit_code(have_status ? command_status : init_status);
}

void moat_init_reap(pid_t command, int sigfd, int sync_fd, int idle_ms, void (*on_idle)(void))
{
	for (;;) {
		int sig;

		if (on_idle) {
			struct pollfd p = {.fd = sigfd, .events = POLLIN};
			int r = poll(&p, 1, idle_ms);

			if (r == 0)
				on_idle();
			if (r == 0 || (r < 0 && errno != EINTR))
				on_idle = NULL; /* once; and not in a loop of failing polls */
			if (r <= 0)
				continue;
		}
		sig = read_signal(sigfd);

		if (sig < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;
		}
		if (sig != SIGCHLD) {
			kill(command, sig);
			continue;
		}
		/* One SIGCHLD may stand for many exits: reap until none is left. */
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);

			if (p <= 0)
				break;
			if (p == command) {
				moat_sync_send(sync_fd, MOAT_SYNC_EXIT, status, NULL);
				return;
			}
		}
	}
}
