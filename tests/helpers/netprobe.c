// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netprobe: tries one network operation from inside a sandbox and prints
 * what happened on one line: "ok" (plus the peer's reply when there is one)
 * or the errno's name ("EPERM"), or "timeout". Exit status 0 whenever the
 * attempt was made, 2 on bad usage. Links nothing but libc.
 *
 *   netprobe tcp ADDR PORT [MSG]     connect (v4 or v6 ADDR); send MSG, read a line
 *   netprobe udp-connect ADDR PORT   connect a UDP socket: decided, nothing sent
 *   netprobe sendto ADDR PORT MSG    unconnected UDP datagram
 *   netprobe tfo ADDR PORT MSG       TCP Fast Open: data in the SYN, no connect()
 *   netprobe ping ADDR               ICMP echo through a ping socket, 1 s for the reply
 *   netprobe raw-icmp ADDR           ICMP echo through a raw socket
 *   netprobe serve PORT              TCP server on every address: answers each line
 *                                    with "echo LINE"; runs until killed
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS 2000

static int report_errno(int e)
{
	const char *name = strerrorname_np(e);

	printf("%s\n", name ? name : "error");
	return 0;
}

static int parse_addr(const char *addr, const char *port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	int p = port ? atoi(port) : 0;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
		return 0;
	}
	fprintf(stderr, "netprobe: bad address %s\n", addr);
	return -1;
}

static int wait_for(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int r = poll(&pfd, 1, TIMEOUT_MS);

	return r > 0 ? 0 : (r == 0 ? -2 : -1);
}

/* Reads one reply line (without the newline) into buf. */
static int read_reply(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r;

		if (wait_for(fd, POLLIN) < 0)
			return -2;
		r = read(fd, buf + n, len - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int cmd_tcp(const char *addr, const char *port, const char *msg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char reply[256];
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	if (parse_addr(addr, port, &ss, &len) < 0)
		return 2;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report_errno(errno);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (errno != EINPROGRESS)
			return report_errno(errno);
		if (wait_for(fd, POLLOUT) == -2) {
			puts("timeout");
			return 0;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (err)
			return report_errno(err);
	}
	if (!msg) {
		puts("ok");
		return 0;
	}
	if (dprintf(fd, "%s\n", msg) < 0)
		return report_errno(errno);
	if (read_reply(fd, reply, sizeof(reply)) < 0) {
		puts("timeout");
		return 0;
	}
	printf("ok %s\n", reply);
	close(fd);
	return 0;
}

static int cmd_udp_connect(const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (parse_addr(addr, port, &ss, &len) < 0)
		return 2;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report_errno(errno);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		return report_errno(errno);
	puts("ok");
	return 0;
}

static int cmd_sendto(const char *addr, const char *port, const char *msg, int type, int flags)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (parse_addr(addr, port, &ss, &len) < 0)
		return 2;
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report_errno(errno);
	if (sendto(fd, msg, strlen(msg), flags, (struct sockaddr *)&ss, len) < 0)
		return report_errno(errno);
	puts("ok");
	return 0;
}

static int cmd_icmp(const char *addr, int type)
{
	struct icmphdr echo = {.type = ICMP_ECHO, .un.echo.id = htons(0x6d74), .un.echo.sequence = htons(1)};
	struct sockaddr_storage ss;
	socklen_t len;
	char reply[256];
	int fd;

	if (parse_addr(addr, NULL, &ss, &len) < 0 || ss.ss_family != AF_INET)
		return 2;
	fd = socket(AF_INET, type | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return report_errno(errno);
	if (sendto(fd, &echo, sizeof(echo), 0, (struct sockaddr *)&ss, len) < 0)
		return report_errno(errno);
	if (wait_for(fd, POLLIN) < 0 || recv(fd, reply, sizeof(reply), 0) <= 0) {
		puts("timeout");
		return 0;
	}
	puts("ok");
	return 0;
}

static void serve_one(int c)
{
	char line[256];
	size_t n = 0;
	ssize_t r;

	while ((r = read(c, line + n, sizeof(line) - 1 - n)) > 0) {
		char *nl;

		n += (size_t)r;
		line[n] = '\0';
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			dprintf(c, "echo %s\n", line);
			n -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, n + 1);
		}
		if (n == sizeof(line) - 1)
			n = 0;
	}
}

static int cmd_serve(const char *port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	int one = 1, zero = 0, fd;

	sa.sin6_port = htons((uint16_t)atoi(port));
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		perror("netprobe: serve");
		return 1;
	}
	printf("listening %s\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			continue;
		serve_one(c);
		close(c);
	}
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "tcp") == 0 && (argc == 4 || argc == 5))
		return cmd_tcp(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (strcmp(cmd, "udp-connect") == 0 && argc == 4)
		return cmd_udp_connect(argv[2], argv[3]);
	if (strcmp(cmd, "sendto") == 0 && argc == 5)
		return cmd_sendto(argv[2], argv[3], argv[4], SOCK_DGRAM, 0);
	if (strcmp(cmd, "tfo") == 0 && argc == 5)
		return cmd_sendto(argv[2], argv[3], argv[4], SOCK_STREAM, MSG_FASTOPEN);
	if (strcmp(cmd, "ping") == 0 && argc == 3)
		return cmd_icmp(argv[2], SOCK_DGRAM);
	if (strcmp(cmd, "raw-icmp") == 0 && argc == 3)
		return cmd_icmp(argv[2], SOCK_RAW);
	if (strcmp(cmd, "serve") == 0 && argc == 3)
		return cmd_serve(argv[2]);
	fputs("usage: netprobe tcp|udp-connect|sendto|tfo|ping|raw-icmp|serve ARGS (see netprobe.c)\n",
	      stderr);
	return 2;
}
