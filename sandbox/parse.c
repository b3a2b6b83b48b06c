// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Parsers for policy values (parse.h). A policy is a security boundary, so
 * every parser is strict: a value that could be read two ways ("1.5" bytes,
 * "10.0.0.1/8", "8100-8000") is rejected rather than guessed at. Messages are
 * static strings; the caller names the key and quotes the value.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "parse.h"

#define HOSTNAME_MAX 253 /* RFC 1035 2.3.4, without a trailing dot */
#define LABEL_MAX    63
#define FRACTION_MAX 9	 /* decimals a size may carry; keeps the arithmetic in 64 bits */

static int fail(const char **ret_msg, const char *msg)
{
	*ret_msg = msg;
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Reads the decimal digits at p into *ret and returns the first non-digit.
 * Returns p itself when there is no digit; *ret_overflow is set (and *ret
 * meaningless) when the number does not fit in 64 bits.
 */
static const char *scan_decimal(const char *p, uint64_t *ret, bool *ret_overflow)
{
	uint64_t v = 0;

	*ret_overflow = false;
	for (; is_digit(*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - digit) / 10)
			*ret_overflow = true;
		v = v * 10 + digit;
	}
	*ret = v;
	return p;
}

int moat_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret,
		    const char **ret_msg)
{
	const char *end;
	bool overflow;
	uint64_t v;

	end = scan_decimal(s, &v, &overflow);
	if (end == s || *end != '\0')
		return fail(ret_msg, "not a number");
	if (overflow || v < min || v > max)
		return fail(ret_msg, "number out of range");
	*ret = v;
	return 0;
}

/* log2 of the unit that suffix names: "", "B", "K", "KB", "KiB", ... "E".
 * Returns -1 for anything else. */
static int size_shift(const char *u)
{
	static const char units[] = "KMGTPE";
	const char *unit;
	int shift = 0;

	if (*u != '\0' && *u != 'b' && *u != 'B') {
		char c = *u >= 'a' && *u <= 'z' ? (char)(*u - 'a' + 'A') : *u;

		unit = strchr(units, c);
		if (!unit)
			return -1;
		shift = 10 * (int)(unit - units + 1);
		u++;
		if (*u == 'i' || *u == 'I') {
			u++;
			if (*u != 'b' && *u != 'B')
				return -1;
		}
	}
	if (*u == 'b' || *u == 'B')
		u++;
	return *u == '\0' ? shift : -1;
}

/*
 * floor(frac / scale * 2^shift) without leaving 64 bits: long division of
 * frac * 2^shift by scale, one bit at a time. frac < scale <= 10^9, so the
 * remainder doubled always fits.
 */
static uint64_t scale_fraction(uint64_t frac, uint64_t scale, int shift)
{
	uint64_t q = 0, r = frac;

	for (int i = 0; i < shift; i++) {
		r *= 2;
		q = q * 2 + r / scale;
		r %= scale;
	}
	return q;
}

int moat_parse_size(const char *s, uint64_t *ret, const char **ret_msg)
{
	uint64_t whole, frac = 0, scale = 1;
	const char *p;
	bool overflow;
	int shift;

	if (*s == '-')
		return fail(ret_msg, "negative size");
	p = scan_decimal(s, &whole, &overflow);
	if (p == s)
		return fail(ret_msg, "bad size");
	if (*p == '.') {
		const char *digits = ++p;

		for (; is_digit(*p); p++) {
			if (p - digits >= FRACTION_MAX)
				return fail(ret_msg, "too many decimals in size");
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
		if (p == digits)
			return fail(ret_msg, "bad size");
	}
	shift = size_shift(p);
	if (shift < 0)
		return fail(ret_msg, "bad size");
	if (frac && shift == 0)
		return fail(ret_msg, "fraction of a byte in size");
	if (overflow || (shift && whole > (UINT64_MAX >> shift)))
		return fail(ret_msg, "size too large");
	/* whole << shift <= 2^64 - 2^shift and the fraction is below 2^shift: the sum fits. */
	*ret = (whole << shift) + scale_fraction(frac, scale, shift);
	return 0;
}

int moat_parse_cpus(const char *s, uint32_t *ret_milli, const char **ret_msg)
{
	uint64_t whole, milli = 0;
	const char *p;
	bool overflow;

	p = scan_decimal(s, &whole, &overflow);
	if (p == s)
		return fail(ret_msg, "bad cpu count");
	if (*p == '.') {
		const char *digits = ++p;

		for (; is_digit(*p); p++) {
			if (p - digits < 3)
				milli = milli * 10 + (uint64_t)(*p - '0');
			else if (*p != '0')
				return fail(ret_msg, "cpu count finer than 0.001");
		}
		if (p == digits)
			return fail(ret_msg, "bad cpu count");
		for (long n = p - digits; n < 3; n++)
			milli *= 10;
	}
	if (*p != '\0')
		return fail(ret_msg, "bad cpu count");
	if (overflow || whole > 4096)
		return fail(ret_msg, "cpu count out of range (0.001 to 4096)");
	milli += whole * 1000;
	if (milli == 0 || milli > 4096000)
		return fail(ret_msg, "cpu count out of range (0.001 to 4096)");
	*ret_milli = (uint32_t)milli;
	return 0;
}

int moat_parse_bool(const char *s, bool *ret, const char **ret_msg)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return fail(ret_msg, "not a boolean (yes/no, true/false, on/off, 1/0)");
}

/* (uid_t)-1 means "unchanged" to setresuid() and chown(): never a real id. */
#define ID_MAX 4294967294ull

int moat_parse_user(const char *s, uid_t *ret_uid, gid_t *ret_gid, const char **ret_msg)
{
	const char *colon = strchr(s, ':');
	uint64_t uid, gid;
	bool overflow;
	const char *end;

	if (!colon)
		return fail(ret_msg, "bad user (expected numeric UID:GID)");
	end = scan_decimal(s, &uid, &overflow);
	if (end == s || end != colon)
		return fail(ret_msg, "bad user (expected numeric UID:GID)");
	if (overflow || uid > ID_MAX)
		return fail(ret_msg, "uid out of range");
	end = scan_decimal(colon + 1, &gid, &overflow);
	if (end == colon + 1 || *end != '\0')
		return fail(ret_msg, "bad user (expected numeric UID:GID)");
	if (overflow || gid > ID_MAX)
		return fail(ret_msg, "gid out of range");
	*ret_uid = (uid_t)uid;
	*ret_gid = (gid_t)gid;
	return 0;
}

static bool host_bits_zero(const struct moat_cidr *c)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned first = i * 8; /* the prefix bit this byte starts at */
		uint8_t mask;

		if (c->prefix >= first + 8)
			continue;
		mask = c->prefix <= first ? 0xff : (uint8_t)(0xff >> (c->prefix - first));
		if (c->addr[i] & mask)
			return false;
	}
	return true;
}

int moat_parse_cidr(const char *s, struct moat_cidr *ret, const char **ret_msg)
{
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	char addr[INET6_ADDRSTRLEN];
	struct moat_cidr c = { 0 };
	const char *msg;
	uint64_t prefix;
	unsigned max;

	if (len == 0 || len >= sizeof(addr))
		return fail(ret_msg, "bad address");
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1) {
		c.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
		c.family = AF_INET6;
		max = 128;
	} else {
		return fail(ret_msg, "bad address");
	}
	prefix = max;
	if (slash && moat_parse_uint(slash + 1, 0, max, &prefix, &msg) < 0)
		return fail(ret_msg, "bad prefix length");
	c.prefix = (uint8_t)prefix;
	if (!host_bits_zero(&c))
		return fail(ret_msg, "address has host bits set beyond the prefix");
	*ret = c;
	return 0;
}

/* One port out of the len bytes at s. */
static int parse_port(const char *s, size_t len, uint16_t *ret, const char **ret_msg)
{
	uint64_t v = 0;

	if (len == 0)
		return fail(ret_msg, "bad port");
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return fail(ret_msg, "bad port");
		if (v <= 65535) /* past that it only has to stay out of range */
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return fail(ret_msg, "port out of range (1-65535)");
	*ret = (uint16_t)v;
	return 0;
}

int moat_parse_port_range(const char *s, uint16_t *ret_lo, uint16_t *ret_hi, const char **ret_msg)
{
	const char *dash = strchr(s, '-');
	uint16_t lo, hi;

	if (parse_port(s, dash ? (size_t)(dash - s) : strlen(s), &lo, ret_msg) < 0)
		return -1;
	hi = lo;
	if (dash && parse_port(dash + 1, strlen(dash + 1), &hi, ret_msg) < 0)
		return -1;
	if (lo > hi)
		return fail(ret_msg, "reversed port range");
	*ret_lo = lo;
	*ret_hi = hi;
	return 0;
}

bool moat_hostname_valid(const char *name)
{
	size_t len = strlen(name), label = 0;
	bool all_digits = true;

	if (len == 0 || len > HOSTNAME_MAX)
		return false;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || p[-1] == '-')
				return false;
			if (*p == '\0')
				break;
			label = 0;
			all_digits = true;
			continue;
		}
		if (!is_alnum(*p) && (*p != '-' || label == 0))
			return false;
		if (!is_digit(*p))
			all_digits = false;
		if (++label > LABEL_MAX)
			return false;
	}
	/* "10.0.0.300" is a mistyped address, not a host (RFC 3696 2: no all-numeric TLD). */
	return !all_digits;
}

static const char *const proto_names[] = {
	[MOAT_PROTO_ANY] = "any",
	[MOAT_PROTO_TCP] = "tcp",
	[MOAT_PROTO_UDP] = "udp",
	[MOAT_PROTO_ICMP] = "icmp",
};

/* "tcp", "udp/53", "any/8000-8100": the part after DEST. */
static int parse_proto_ports(const char *s, struct moat_egress_rule *r, const char **ret_msg)
{
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	size_t i;

	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (strlen(proto_names[i]) == len && strncasecmp(s, proto_names[i], len) == 0)
			break;
	if (i == sizeof(proto_names) / sizeof(proto_names[0]))
		return fail(ret_msg, "unknown protocol (tcp, udp, icmp or any)");
	r->proto = (enum moat_proto)i;
	if (!slash)
		return 0;
	if (r->proto == MOAT_PROTO_ICMP)
		return fail(ret_msg, "icmp takes no ports");
	return moat_parse_port_range(slash + 1, &r->port_lo, &r->port_hi, ret_msg);
}

/* Digits and dots only ("10.0.0.300"), or a ':' or '/': meant as an address. */
static bool looks_like_address(const char *s)
{
	if (strchr(s, ':') || strchr(s, '/'))
		return true;
	return strspn(s, "0123456789.") == strlen(s);
}

static int parse_dest(const char *dest, struct moat_egress_rule *r, const char **ret_msg)
{
	if (strcmp(dest, "dns") == 0) {
		/* What the network layer matches: udp and tcp port 53 to the resolvers. */
		r->kind = MOAT_RULE_DNS;
		r->port_lo = r->port_hi = 53;
		return 0;
	}
	if (strncmp(dest, "model:", 6) == 0) {
		if (!moat_name_valid(dest + 6))
			return fail(ret_msg, "bad model name");
		r->kind = MOAT_RULE_MODEL;
		snprintf(r->target, sizeof(r->target), "%s", dest + 6);
		return 0;
	}
	if (looks_like_address(dest)) {
		r->kind = MOAT_RULE_CIDR;
		return moat_parse_cidr(dest, &r->cidr, ret_msg);
	}
	if (!moat_hostname_valid(dest))
		return fail(ret_msg, "bad hostname");
	r->kind = MOAT_RULE_HOST;
	snprintf(r->target, sizeof(r->target), "%s", dest);
	return 0;
}

int moat_parse_egress_rule(const char *s, struct moat_egress_rule *ret, const char **ret_msg)
{
	struct moat_egress_rule r = { 0 };
	const char *dest, *proto, *extra;
	char buf[512], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return fail(ret_msg, "rule too long");
	snprintf(buf, sizeof(buf), "%s", s);
	dest = strtok_r(buf, " \t", &save);
	proto = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!dest)
		return fail(ret_msg, "empty rule");
	if (extra)
		return fail(ret_msg, "text after the rule (expected DEST [PROTO[/PORTS]])");
	if (parse_dest(dest, &r, ret_msg) < 0)
		return -1;
	if (proto && r.kind == MOAT_RULE_DNS)
		return fail(ret_msg, "dns takes no protocol");
	if (proto && parse_proto_ports(proto, &r, ret_msg) < 0)
		return -1;
	*ret = r;
	return 0;
}

void moat_format_egress_rule(const struct moat_egress_rule *r, char *buf, size_t len)
{
	char dest[300], addr[INET6_ADDRSTRLEN];
	const char *proto = proto_names[r->proto];

	switch (r->kind) {
	case MOAT_RULE_CIDR:
		if (!inet_ntop(r->cidr.family, r->cidr.addr, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
		snprintf(dest, sizeof(dest), "%s/%u", addr, r->cidr.prefix);
		break;
	case MOAT_RULE_HOST:
		snprintf(dest, sizeof(dest), "%s", r->target);
		break;
	case MOAT_RULE_MODEL:
		snprintf(dest, sizeof(dest), "model:%s", r->target);
		break;
	case MOAT_RULE_DNS:
		snprintf(buf, len, "dns");
		return;
	}
	if (r->port_lo == 0 && r->proto == MOAT_PROTO_ANY)
		snprintf(buf, len, "%s", dest);
	else if (r->port_lo == 0)
		snprintf(buf, len, "%s %s", dest, proto);
	else if (r->port_lo == r->port_hi)
		snprintf(buf, len, "%s %s/%u", dest, proto, r->port_lo);
	else
		snprintf(buf, len, "%s %s/%u-%u", dest, proto, r->port_lo, r->port_hi);
}

int moat_parse_publish(const char *s, struct moat_publish *ret, const char **ret_msg)
{
	const char *first = strchr(s, ':'), *second, *host_port = s;
	struct moat_publish pub = { .host_ip = "127.0.0.1" };
	struct in_addr ip;
	char buf[INET_ADDRSTRLEN];

	if (!first)
		return fail(ret_msg, "bad publish (expected [HOSTIP:]HOSTPORT:PORT)");
	second = strchr(first + 1, ':');
	if (second) {
		size_t len = (size_t)(first - s);

		if (strchr(second + 1, ':'))
			return fail(ret_msg, "bad publish (expected [HOSTIP:]HOSTPORT:PORT)");
		if (len == 0 || len >= sizeof(buf))
			return fail(ret_msg, "bad host address (expected IPv4)");
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET, buf, &ip) != 1)
			return fail(ret_msg, "bad host address (expected IPv4)");
		inet_ntop(AF_INET, &ip, pub.host_ip, sizeof(pub.host_ip));
		host_port = first + 1;
		first = second;
	}
	if (parse_port(host_port, (size_t)(first - host_port), &pub.host_port, ret_msg) < 0)
		return -1;
	if (parse_port(first + 1, strlen(first + 1), &pub.port, ret_msg) < 0)
		return -1;
	*ret = pub;
	return 0;
}

/*
 * An absolute path with no empty, "." or ".." component and no control
 * character: the text that reaches mount(2) names exactly one place, and two
 * spellings of a place cannot slip past the duplicate-destination check.
 * "/" alone is allowed (as a source).
 */
static bool path_clean(const char *path)
{
	const char *p = path;

	if (*p != '/' || strlen(path) >= PATH_MAX)
		return false;
	if (p[1] == '\0')
		return true;
	while (*p == '/') {
		const char *comp = ++p;
		size_t len;

		while (*p != '/' && *p != '\0') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return false;
			p++;
		}
		len = (size_t)(p - comp);
		if (len == 0 || (len == 1 && comp[0] == '.') ||
		    (len == 2 && comp[0] == '.' && comp[1] == '.'))
			return false;
	}
	return true;
}

int moat_parse_device(const char *s, struct moat_device *ret, const char **ret_msg)
{
	struct moat_device dev = { .access = "rw" };
	const char *path, *access, *extra;
	char buf[512], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return fail(ret_msg, "device path too long");
	snprintf(buf, sizeof(buf), "%s", s);
	path = strtok_r(buf, " \t", &save);
	access = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!path)
		return fail(ret_msg, "empty device");
	if (extra)
		return fail(ret_msg, "text after the device (expected PATH [rwm])");
	if (strncmp(path, "/dev/", 5) != 0 || path[5] == '\0' || !path_clean(path))
		return fail(ret_msg, "device path not a clean path under /dev/");
	if (strlen(path) >= sizeof(dev.path))
		return fail(ret_msg, "device path too long");
	snprintf(dev.path, sizeof(dev.path), "%s", path);
	if (access) {
		size_t n = 0;

		if (strspn(access, "rwm") != strlen(access))
			return fail(ret_msg, "bad device access (a subset of rwm)");
		/* Canonical order, each letter once: "wr" and "rrw" both mean "rw". */
		for (const char *c = "rwm"; *c; c++)
			if (strchr(access, *c))
				dev.access[n++] = *c;
		dev.access[n] = '\0';
	}
	*ret = dev;
	return 0;
}

static bool under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* "/srv/x/" and "/srv/x//" as "/srv/x" (a shell completes a directory with
 * its slash), "/" as it is: the one spelling the duplicate check compares. */
static void strip_trailing_slashes(char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
}

int moat_parse_bind(const char *s, char **ret_src, char **ret_dst, const char **ret_msg)
{
	const char *colon = strchr(s, ':');
	const char *msg = NULL;
	char *src, *dst;

	if (colon && strchr(colon + 1, ':'))
		return fail(ret_msg, "bad bind (expected SRC[:DST], paths without ':')");
	src = colon ? strndup(s, (size_t)(colon - s)) : strdup(s);
	dst = strdup(colon ? colon + 1 : s);
	if (src && dst && *src && *dst) {
		strip_trailing_slashes(src);
		strip_trailing_slashes(dst);
	}
	if (!src || !dst)
		msg = "out of memory";
	else if (!path_clean(src) || !path_clean(dst))
		msg = "bind path not absolute and clean (no empty, . or .. component)";
	else if (strcmp(dst, "/") == 0 || under(dst, "/proc") || under(dst, "/dev"))
		msg = "bind destination is /, or under /proc or /dev (moat builds those)";
	if (msg) {
		free(src);
		free(dst);
		return fail(ret_msg, msg);
	}
	*ret_src = src;
	*ret_dst = dst;
	return 0;
}

bool moat_env_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255 || is_digit(name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!is_alnum(*p) && *p != '_')
			return false;
	return true;
}

bool moat_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > MOAT_NAME_MAX || !is_alnum(name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!is_alnum(*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

bool moat_syscall_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

/* The largest binary unit that divides v exactly: 1610612736 is "1536M". */
void moat_format_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int unit = -1;

	while (v && (v & 1023) == 0 && unit < 5) {
		v >>= 10;
		unit++;
	}
	if (unit < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[unit]);
}
