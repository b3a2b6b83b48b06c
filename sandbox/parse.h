/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsers for the values that appear in policy files and on the command
 * line. Pure functions: no I/O, no allocation unless stated; each returns
 * 0, or -1 with a short message in *ret_msg (a static string or one
 * written into the caller's buffer) that names what was wrong.
 */
#ifndef MOAT_PARSE_H
#define MOAT_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MOAT_NAME_MAX 63 /* sandbox names; also the hostname limit (64 with NUL) */

/* "0", "4096", "512K", "256M", "1.5G", "2T": binary units, case-insensitive,
 * optional trailing "B" or "iB". Overflow and negative values are errors. */
int moat_parse_size(const char *s, uint64_t *ret, const char **ret_msg);

/* The inverse of moat_parse_size: the largest binary unit that divides v
 * exactly: "1536M" for 1610612736, "4K" for 4096, "1000" for 1000. */
void moat_format_size(uint64_t v, char *buf, size_t len);

/* "1", "0.5", "1.25": CPUs in thousandths (1500 for 1.5); must be > 0 and <= 4096. */
int moat_parse_cpus(const char *s, uint32_t *ret_milli, const char **ret_msg);

/* Decimal unsigned integer within [min, max]. */
int moat_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret,
		    const char **ret_msg);

/* yes/no, true/false, on/off, 1/0. */
int moat_parse_bool(const char *s, bool *ret, const char **ret_msg);

/* "1000:1000" (numeric uid:gid, each < 2^32-1). */
int moat_parse_user(const char *s, uid_t *ret_uid, gid_t *ret_gid, const char **ret_msg);

/* A v4 or v6 network: "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32", "::1" (a /128).
 * Host bits beyond the prefix must be zero ("10.0.0.1/8" is an error: it is
 * almost always a typo for a host). */
struct moat_cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; v4 uses the first 4 bytes */
	uint8_t prefix;	  /* 0..32 or 0..128 */
};
int moat_parse_cidr(const char *s, struct moat_cidr *ret, const char **ret_msg);

/* "443" or "8000-8100": 1..65535, lo <= hi. */
int moat_parse_port_range(const char *s, uint16_t *ret_lo, uint16_t *ret_hi, const char **ret_msg);

enum moat_proto {
	MOAT_PROTO_ANY = 0,
	MOAT_PROTO_TCP,
	MOAT_PROTO_UDP,
	MOAT_PROTO_ICMP,
};

enum moat_rule_kind {
	MOAT_RULE_CIDR = 0, /* a literal network */
	MOAT_RULE_HOST,	    /* a hostname, resolved once at launch */
	MOAT_RULE_MODEL,    /* model:NAME, another sandbox's address */
	MOAT_RULE_DNS,	    /* the resolvers in the sandbox's resolv.conf, udp+tcp 53 */
};

/*
 * One egress allow rule: "DEST [PROTO[/PORTS]]".
 *   DEST  := CIDR | ADDRESS | HOSTNAME | model:NAME | dns
 *   PROTO := tcp | udp | icmp | any        (default any)
 *   PORTS := PORT | LO-HI                  (tcp, udp, any; default all ports)
 * "dns" takes no PROTO. Examples: "10.208.0.0/16 tcp/8080",
 * "2001:db8::/32 udp/5000-5100", "api.example.com tcp/443", "model:embedder tcp/9000".
 */
struct moat_egress_rule {
	enum moat_rule_kind kind;
	struct moat_cidr cidr;		 /* MOAT_RULE_CIDR */
	char target[256];		 /* MOAT_RULE_HOST hostname or MOAT_RULE_MODEL name */
	enum moat_proto proto;
	uint16_t port_lo, port_hi;	 /* 0, 0: every port */
};
int moat_parse_egress_rule(const char *s, struct moat_egress_rule *ret, const char **ret_msg);
/* Writes the canonical spelling of a rule (as accepted by the parser) into buf. */
void moat_format_egress_rule(const struct moat_egress_rule *r, char *buf, size_t len);

/* "[HOSTIP:]HOSTPORT:PORT", HOSTIP an IPv4 address (default 127.0.0.1). */
struct moat_publish {
	char host_ip[16];
	uint16_t host_port;
	uint16_t port;
};
int moat_parse_publish(const char *s, struct moat_publish *ret, const char **ret_msg);

/* Device allow entry "PATH [ACCESS]": PATH absolute under /dev/ (glob characters
 * allowed, e.g. "/dev/nvidia*"), ACCESS a non-empty subset of "rwm" (default "rw"). */
struct moat_device {
	char path[256];
	char access[4];
};
int moat_parse_device(const char *s, struct moat_device *ret, const char **ret_msg);

/* Bind spec "SRC[:DST]" (DST defaults to SRC). Both absolute, no ".." component,
 * no empty component; DST not "/" nor under /proc or /dev (moat builds those).
 * Writes malloc'd copies owned by the caller. */
int moat_parse_bind(const char *s, char **ret_src, char **ret_dst, const char **ret_msg);

/* Environment variable name: [A-Za-z_][A-Za-z0-9_]*, at most 255 chars. */
bool moat_env_name_valid(const char *name);

/* Sandbox name: [A-Za-z0-9][A-Za-z0-9_.-]*, 1..MOAT_NAME_MAX chars, not "." or "..". */
bool moat_name_valid(const char *name);

/* RFC 1123 host name: dot-separated labels of [A-Za-z0-9-], 1..63 chars each, not
 * starting or ending with '-', at most 253 chars in all, no trailing dot; the last
 * label not all digits ("10.0.0.300" is a mistyped address, not a host). */
bool moat_hostname_valid(const char *name);

/* Syscall name: [a-z0-9_]+, at most 64 chars (existence is checked by seccomp.c). */
bool moat_syscall_name_valid(const char *name);

#endif
