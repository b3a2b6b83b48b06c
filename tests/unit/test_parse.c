// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for sandbox/parse.c: every parser, good and bad values, edges. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "parse.h"

/* A parser failure must come with a message; a success must leave none to print. */
#define assert_fails(call, msg)                                                                    \
	do {                                                                                       \
		msg = NULL;                                                                        \
		assert_int_equal((call), -1);                                                      \
		assert_non_null(msg);                                                              \
		assert_true(strlen(msg) > 0);                                                      \
	} while (0)

static uint64_t size_of(const char *s)
{
	const char *msg = NULL;
	uint64_t v = 0;

	if (moat_parse_size(s, &v, &msg) < 0)
		fail_msg("size \"%s\": %s", s, msg);
	return v;
}

static void test_size_good(void **state)
{
	(void)state;
	assert_int_equal(size_of("0"), 0);
	assert_int_equal(size_of("4096"), 4096);
	assert_int_equal(size_of("4096B"), 4096);
	assert_int_equal(size_of("512K"), 512 * 1024);
	assert_int_equal(size_of("512k"), 512 * 1024);
	assert_int_equal(size_of("512KB"), 512 * 1024);
	assert_int_equal(size_of("512KiB"), 512 * 1024);
	assert_int_equal(size_of("512kib"), 512 * 1024);
	assert_int_equal(size_of("256M"), 256ull << 20);
	assert_int_equal(size_of("1G"), 1ull << 30);
	assert_int_equal(size_of("1.5G"), 1610612736ull);
	assert_int_equal(size_of("0.5K"), 512);
	assert_int_equal(size_of("2T"), 2ull << 40);
	assert_int_equal(size_of("1P"), 1ull << 50);
	assert_int_equal(size_of("15E"), 15ull << 60);
	assert_int_equal(size_of("18446744073709551615"), UINT64_MAX);
	/* 0.1K is 102.4 bytes: rounded down, never up past what was asked. */
	assert_int_equal(size_of("0.1K"), 102);
	assert_int_equal(size_of("1.0"), 1);
}

static void test_size_bad(void **state)
{
	static const char *const bad[] = {
		"", "12Q", "-1", "-1G", "G", ".5G", "1.", "1.G", "1..5G", "1.5", "1.5B", "+1",
		" 1", "1 ", "1 G", "1Gi", "1iB", "1GBB", "1KiBx", "0x10", "1e3",
		"1.1234567891G", /* ten decimals */
	};
	const char *msg;
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = NULL;
		if (moat_parse_size(bad[i], &v, &msg) == 0)
			fail_msg("size \"%s\" accepted as %llu", bad[i], (unsigned long long)v);
		assert_non_null(msg);
	}
}

static void test_size_overflow(void **state)
{
	const char *msg;
	uint64_t v = 42;

	(void)state;
	assert_fails(moat_parse_size("18446744073709551616", &v, &msg), msg);
	assert_string_equal(msg, "size too large");
	assert_fails(moat_parse_size("16E", &v, &msg), msg);
	assert_string_equal(msg, "size too large");
	assert_fails(moat_parse_size("16777216T", &v, &msg), msg);
	/* The largest fraction of the largest unit still fits: floor keeps it below 2^64. */
	assert_int_equal(moat_parse_size("15.999999999E", &v, &msg), 0);
	assert_true(v > (15ull << 60) && v < UINT64_MAX);
	v = 42;
	assert_fails(moat_parse_size("15.9999999999E", &v, &msg), msg);
	assert_string_equal(msg, "too many decimals in size");
	assert_fails(moat_parse_size("99999999999999999999999999K", &v, &msg), msg);
	assert_string_equal(msg, "size too large");
	assert_fails(moat_parse_size("-5", &v, &msg), msg);
	assert_string_equal(msg, "negative size");
	/* A failure leaves the output alone. */
	assert_int_equal(v, 42);
}

static uint32_t cpus_of(const char *s)
{
	const char *msg = NULL;
	uint32_t v = 0;

	if (moat_parse_cpus(s, &v, &msg) < 0)
		fail_msg("cpus \"%s\": %s", s, msg);
	return v;
}

static void test_cpus(void **state)
{
	static const char *const bad[] = { "0",	  "0.0",  "0.0001", "4096.001", "4097", "-1",
					   "1.",  ".5",	  "1,5",    "one",	"",	"1 ",
					   "1e3", "0.0005", "99999999999999999999" };
	const char *msg;
	uint32_t v;

	(void)state;
	assert_int_equal(cpus_of("1"), 1000);
	assert_int_equal(cpus_of("0.5"), 500);
	assert_int_equal(cpus_of("1.25"), 1250);
	assert_int_equal(cpus_of("1.5"), 1500);
	assert_int_equal(cpus_of("0.001"), 1);
	assert_int_equal(cpus_of("4096"), 4096000);
	assert_int_equal(cpus_of("4096.000"), 4096000);
	assert_int_equal(cpus_of("2.2500"), 2250);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = NULL;
		if (moat_parse_cpus(bad[i], &v, &msg) == 0)
			fail_msg("cpus \"%s\" accepted as %u", bad[i], v);
		assert_non_null(msg);
	}
}

static void test_uint(void **state)
{
	const char *msg;
	uint64_t v;

	(void)state;
	assert_int_equal(moat_parse_uint("0", 0, 10, &v, &msg), 0);
	assert_int_equal(v, 0);
	assert_int_equal(moat_parse_uint("10", 0, 10, &v, &msg), 0);
	assert_int_equal(v, 10);
	assert_int_equal(moat_parse_uint("18446744073709551615", 0, UINT64_MAX, &v, &msg), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_fails(moat_parse_uint("11", 0, 10, &v, &msg), msg);
	assert_string_equal(msg, "number out of range");
	assert_fails(moat_parse_uint("4", 5, 10, &v, &msg), msg);
	assert_fails(moat_parse_uint("18446744073709551616", 0, UINT64_MAX, &v, &msg), msg);
	assert_string_equal(msg, "number out of range");
	assert_fails(moat_parse_uint("", 0, 10, &v, &msg), msg);
	assert_string_equal(msg, "not a number");
	assert_fails(moat_parse_uint("-1", 0, 10, &v, &msg), msg);
	assert_fails(moat_parse_uint("+1", 0, 10, &v, &msg), msg);
	assert_fails(moat_parse_uint("1x", 0, 10, &v, &msg), msg);
	assert_fails(moat_parse_uint(" 1", 0, 10, &v, &msg), msg);
}

static void test_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "off", "0", "NO", "Off" };
	const char *msg;
	bool b;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(moat_parse_bool(yes[i], &b, &msg), 0);
		assert_true(b);
		b = true;
		assert_int_equal(moat_parse_bool(no[i], &b, &msg), 0);
		assert_false(b);
	}
	assert_fails(moat_parse_bool("y", &b, &msg), msg);
	assert_fails(moat_parse_bool("", &b, &msg), msg);
	assert_fails(moat_parse_bool("2", &b, &msg), msg);
	assert_fails(moat_parse_bool("yes ", &b, &msg), msg);
}

static void test_user(void **state)
{
	const char *msg;
	uid_t uid;
	gid_t gid;

	(void)state;
	assert_int_equal(moat_parse_user("1000:1001", &uid, &gid, &msg), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 1001);
	assert_int_equal(moat_parse_user("0:0", &uid, &gid, &msg), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(moat_parse_user("4294967294:4294967294", &uid, &gid, &msg), 0);
	assert_int_equal(uid, 4294967294u);
	/* (uid_t)-1 means "no change" to setresuid(): never a real id. */
	assert_fails(moat_parse_user("4294967295:0", &uid, &gid, &msg), msg);
	assert_string_equal(msg, "uid out of range");
	assert_fails(moat_parse_user("0:4294967295", &uid, &gid, &msg), msg);
	assert_string_equal(msg, "gid out of range");
	assert_fails(moat_parse_user("1000", &uid, &gid, &msg), msg);
	assert_fails(moat_parse_user("root:root", &uid, &gid, &msg), msg);
	assert_fails(moat_parse_user(":1000", &uid, &gid, &msg), msg);
	assert_fails(moat_parse_user("1000:", &uid, &gid, &msg), msg);
	assert_fails(moat_parse_user("1000:1000:1000", &uid, &gid, &msg), msg);
	assert_fails(moat_parse_user("-1:0", &uid, &gid, &msg), msg);
	assert_fails(moat_parse_user("99999999999999999999:0", &uid, &gid, &msg), msg);
}

static void test_cidr_v4(void **state)
{
	static const uint8_t ten[4] = { 10, 0, 0, 0 };
	static const uint8_t host[4] = { 192, 0, 2, 7 };
	struct moat_cidr c;
	const char *msg;

	(void)state;
	assert_int_equal(moat_parse_cidr("10.0.0.0/8", &c, &msg), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_memory_equal(c.addr, ten, 4);
	assert_int_equal(moat_parse_cidr("192.0.2.7", &c, &msg), 0);
	assert_int_equal(c.prefix, 32);
	assert_memory_equal(c.addr, host, 4);
	assert_int_equal(moat_parse_cidr("192.0.2.7/32", &c, &msg), 0);
	assert_int_equal(moat_parse_cidr("0.0.0.0/0", &c, &msg), 0);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(moat_parse_cidr("10.1.128.0/17", &c, &msg), 0);
	/* Host bits: a typo for a host, not a network. */
	assert_fails(moat_parse_cidr("10.0.0.1/8", &c, &msg), msg);
	assert_string_equal(msg, "address has host bits set beyond the prefix");
	assert_fails(moat_parse_cidr("10.1.192.0/17", &c, &msg), msg);
	assert_fails(moat_parse_cidr("1.0.0.0/0", &c, &msg), msg);
	assert_fails(moat_parse_cidr("10.0.0.0/33", &c, &msg), msg);
	assert_string_equal(msg, "bad prefix length");
	assert_fails(moat_parse_cidr("10.0.0.0/", &c, &msg), msg);
	assert_fails(moat_parse_cidr("10.0.0.0/-1", &c, &msg), msg);
	assert_fails(moat_parse_cidr("10.0.0.0/8/8", &c, &msg), msg);
	assert_fails(moat_parse_cidr("10.0.0/8", &c, &msg), msg);
	assert_fails(moat_parse_cidr("10.0.0.256", &c, &msg), msg);
	assert_string_equal(msg, "bad address");
	assert_fails(moat_parse_cidr("", &c, &msg), msg);
	assert_fails(moat_parse_cidr("/8", &c, &msg), msg);
	assert_fails(moat_parse_cidr("example.com", &c, &msg), msg);
}

static void test_cidr_v6(void **state)
{
	struct moat_cidr c;
	const char *msg;
	uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	assert_int_equal(moat_parse_cidr("2001:db8::/32", &c, &msg), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 32);
	assert_memory_equal(c.addr, want, 16);
	assert_int_equal(moat_parse_cidr("::1", &c, &msg), 0);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(c.addr[15], 1);
	assert_int_equal(moat_parse_cidr("::/0", &c, &msg), 0);
	assert_int_equal(moat_parse_cidr("fd00::/8", &c, &msg), 0);
	assert_int_equal(moat_parse_cidr("2001:db8:0:0:8000::/65", &c, &msg), 0);
	assert_int_equal(moat_parse_cidr("::ffff:10.0.0.0/104", &c, &msg), 0);
	assert_fails(moat_parse_cidr("2001:db8::1/32", &c, &msg), msg);
	assert_string_equal(msg, "address has host bits set beyond the prefix");
	assert_fails(moat_parse_cidr("2001:db8:0:0:8000::/64", &c, &msg), msg);
	assert_fails(moat_parse_cidr("::1/129", &c, &msg), msg);
	assert_fails(moat_parse_cidr("2001:db8:::/32", &c, &msg), msg);
	assert_fails(moat_parse_cidr("fe80::1%eth0", &c, &msg), msg);
	assert_fails(moat_parse_cidr("1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17/8", &c, &msg), msg);
}

static void test_port_range(void **state)
{
	uint16_t lo = 0, hi = 0;
	const char *msg;

	(void)state;
	assert_int_equal(moat_parse_port_range("443", &lo, &hi, &msg), 0);
	assert_int_equal(lo, 443);
	assert_int_equal(hi, 443);
	assert_int_equal(moat_parse_port_range("8000-8100", &lo, &hi, &msg), 0);
	assert_int_equal(lo, 8000);
	assert_int_equal(hi, 8100);
	assert_int_equal(moat_parse_port_range("1-65535", &lo, &hi, &msg), 0);
	assert_int_equal(moat_parse_port_range("7-7", &lo, &hi, &msg), 0);
	assert_fails(moat_parse_port_range("0", &lo, &hi, &msg), msg);
	assert_string_equal(msg, "port out of range (1-65535)");
	assert_fails(moat_parse_port_range("65536", &lo, &hi, &msg), msg);
	assert_string_equal(msg, "port out of range (1-65535)");
	assert_fails(moat_parse_port_range("99999999999999999999999", &lo, &hi, &msg), msg);
	assert_string_equal(msg, "port out of range (1-65535)");
	assert_fails(moat_parse_port_range("8100-8000", &lo, &hi, &msg), msg);
	assert_string_equal(msg, "reversed port range");
	assert_fails(moat_parse_port_range("0-10", &lo, &hi, &msg), msg);
	assert_fails(moat_parse_port_range("10-65536", &lo, &hi, &msg), msg);
	assert_fails(moat_parse_port_range("", &lo, &hi, &msg), msg);
	assert_string_equal(msg, "bad port");
	assert_fails(moat_parse_port_range("-10", &lo, &hi, &msg), msg);
	assert_fails(moat_parse_port_range("10-", &lo, &hi, &msg), msg);
	assert_fails(moat_parse_port_range("1-2-3", &lo, &hi, &msg), msg);
	assert_fails(moat_parse_port_range("http", &lo, &hi, &msg), msg);
	assert_fails(moat_parse_port_range("+80", &lo, &hi, &msg), msg);
}

static struct moat_egress_rule rule_of(const char *s)
{
	struct moat_egress_rule r;
	const char *msg = NULL;

	memset(&r, 0xaa, sizeof(r));
	if (moat_parse_egress_rule(s, &r, &msg) < 0)
		fail_msg("rule \"%s\": %s", s, msg);
	return r;
}

static void test_rule_kinds(void **state)
{
	struct moat_egress_rule r;

	(void)state;
	r = rule_of("10.208.0.0/16 tcp/8080");
	assert_int_equal(r.kind, MOAT_RULE_CIDR);
	assert_int_equal(r.cidr.family, AF_INET);
	assert_int_equal(r.cidr.prefix, 16);
	assert_int_equal(r.proto, MOAT_PROTO_TCP);
	assert_int_equal(r.port_lo, 8080);
	assert_int_equal(r.port_hi, 8080);

	r = rule_of("2001:db8::/32 udp/5000-5100");
	assert_int_equal(r.kind, MOAT_RULE_CIDR);
	assert_int_equal(r.cidr.family, AF_INET6);
	assert_int_equal(r.proto, MOAT_PROTO_UDP);
	assert_int_equal(r.port_lo, 5000);
	assert_int_equal(r.port_hi, 5100);

	r = rule_of("192.0.2.7");
	assert_int_equal(r.kind, MOAT_RULE_CIDR);
	assert_int_equal(r.cidr.prefix, 32);
	assert_int_equal(r.proto, MOAT_PROTO_ANY);
	assert_int_equal(r.port_lo, 0);
	assert_int_equal(r.port_hi, 0);

	r = rule_of("api.example.com tcp/443");
	assert_int_equal(r.kind, MOAT_RULE_HOST);
	assert_string_equal(r.target, "api.example.com");
	assert_int_equal(r.proto, MOAT_PROTO_TCP);
	assert_int_equal(r.port_lo, 443);

	r = rule_of("redis tcp");
	assert_int_equal(r.kind, MOAT_RULE_HOST);
	assert_string_equal(r.target, "redis");
	assert_int_equal(r.port_lo, 0);

	r = rule_of("model:embedder tcp/9000");
	assert_int_equal(r.kind, MOAT_RULE_MODEL);
	assert_string_equal(r.target, "embedder");
	assert_int_equal(r.port_lo, 9000);

	r = rule_of("dns");
	assert_int_equal(r.kind, MOAT_RULE_DNS);
	assert_int_equal(r.port_lo, 53);
	assert_int_equal(r.port_hi, 53);

	r = rule_of("10.0.0.0/8 icmp");
	assert_int_equal(r.proto, MOAT_PROTO_ICMP);
	assert_int_equal(r.port_lo, 0);

	r = rule_of("10.0.0.0/8 any/80-81");
	assert_int_equal(r.proto, MOAT_PROTO_ANY);
	assert_int_equal(r.port_lo, 80);
	assert_int_equal(r.port_hi, 81);

	r = rule_of("10.0.0.0/8\t TCP/22");
	assert_int_equal(r.proto, MOAT_PROTO_TCP);
	assert_int_equal(r.port_lo, 22);
}

static void test_rule_bad(void **state)
{
	static const struct {
		const char *rule;
		const char *msg;
	} bad[] = {
		{ "", "empty rule" },
		{ "   ", "empty rule" },
		{ "dns udp/53", "dns takes no protocol" },
		{ "10.0.0.0/8 icmp/8", "icmp takes no ports" },
		{ "10.0.0.0/8 sctp", "unknown protocol (tcp, udp, icmp or any)" },
		{ "10.0.0.0/8 tcp/0", "port out of range (1-65535)" },
		{ "10.0.0.0/8 tcp/65536", "port out of range (1-65535)" },
		{ "10.0.0.0/8 tcp/90-80", "reversed port range" },
		{ "10.0.0.0/8 tcp/", "bad port" },
		{ "10.0.0.1/8 tcp/80", "address has host bits set beyond the prefix" },
		{ "10.0.0.300", "bad address" },
		{ "10.0.0.0/8 tcp/80 udp/53",
		  "text after the rule (expected DEST [PROTO[/PORTS]])" },
		{ "model:", "bad model name" },
		{ "model:-x", "bad model name" },
		{ "model:a/b", "bad model name" },
		{ "-bad.example.com", "bad hostname" },
		{ "bad-.example.com", "bad hostname" },
		{ "a..b", "bad hostname" },
		{ "under_score.example.com", "bad hostname" },
		{ "example.com.", "bad hostname" },
		{ "foo.123", "bad hostname" },
	};
	struct moat_egress_rule r;
	const char *msg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = NULL;
		if (moat_parse_egress_rule(bad[i].rule, &r, &msg) == 0)
			fail_msg("rule \"%s\" accepted", bad[i].rule);
		assert_non_null(msg);
		if (strcmp(msg, bad[i].msg) != 0)
			fail_msg("rule \"%s\": got \"%s\", want \"%s\"", bad[i].rule, msg,
				 bad[i].msg);
	}
}

static void test_rule_format_roundtrip(void **state)
{
	static const char *const canonical[] = {
		"dns",
		"10.208.0.0/16 tcp/8080",
		"2001:db8::/32 udp/5000-5100",
		"192.0.2.7/32",
		"10.0.0.0/8 icmp",
		"10.0.0.0/8 any/443",
		"10.0.0.0/8 tcp",
		"api.example.com tcp/443",
		"model:embedder tcp/9000",
		"::1/128 udp",
	};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		struct moat_egress_rule r = rule_of(canonical[i]);

		moat_format_egress_rule(&r, buf, sizeof(buf));
		assert_string_equal(buf, canonical[i]);
	}
	/* Non-canonical spellings print canonically. */
	{
		struct moat_egress_rule r = rule_of("192.0.2.7 ANY");

		moat_format_egress_rule(&r, buf, sizeof(buf));
		assert_string_equal(buf, "192.0.2.7/32");
		r = rule_of("2001:0db8:0000::/32 TCP/80-80");
		moat_format_egress_rule(&r, buf, sizeof(buf));
		assert_string_equal(buf, "2001:db8::/32 tcp/80");
	}
	/* A short buffer truncates, never overflows. */
	{
		struct moat_egress_rule r = rule_of("api.example.com tcp/443");
		char small[8];

		memset(small, 'x', sizeof(small));
		moat_format_egress_rule(&r, small, 4);
		assert_string_equal(small, "api");
		assert_int_equal(small[4], 'x');
	}
}

static void test_hostname(void **state)
{
	char long_label[80], long_name[300];

	(void)state;
	assert_true(moat_hostname_valid("localhost"));
	assert_true(moat_hostname_valid("api.example.com"));
	assert_true(moat_hostname_valid("3com.com"));
	assert_true(moat_hostname_valid("a-b.c-d"));
	assert_true(moat_hostname_valid("A.EXAMPLE"));
	assert_false(moat_hostname_valid(""));
	assert_false(moat_hostname_valid("."));
	assert_false(moat_hostname_valid("-a"));
	assert_false(moat_hostname_valid("a-"));
	assert_false(moat_hostname_valid("a..b"));
	assert_false(moat_hostname_valid(".a"));
	assert_false(moat_hostname_valid("a b"));
	assert_false(moat_hostname_valid("a_b"));
	assert_false(moat_hostname_valid("123"));
	assert_false(moat_hostname_valid("10.0.0.1"));
	memset(long_label, 'a', 63);
	long_label[63] = '\0';
	assert_true(moat_hostname_valid(long_label));
	long_label[63] = 'a';
	long_label[64] = '\0';
	assert_false(moat_hostname_valid(long_label));
	/* 4 labels of 63 plus 3 dots is 255: over the 253 limit. */
	memset(long_name, 'a', sizeof(long_name));
	for (int i = 63; i < 255; i += 64)
		long_name[i] = '.';
	long_name[255] = '\0';
	assert_false(moat_hostname_valid(long_name));
	long_name[253] = '\0'; /* the last label now has 61 characters */
	assert_true(moat_hostname_valid(long_name));
}

static void test_publish(void **state)
{
	struct moat_publish p;
	const char *msg;

	(void)state;
	assert_int_equal(moat_parse_publish("8080:80", &p, &msg), 0);
	assert_string_equal(p.host_ip, "127.0.0.1");
	assert_int_equal(p.host_port, 8080);
	assert_int_equal(p.port, 80);
	assert_int_equal(moat_parse_publish("0.0.0.0:443:8443", &p, &msg), 0);
	assert_string_equal(p.host_ip, "0.0.0.0");
	assert_int_equal(p.host_port, 443);
	assert_int_equal(p.port, 8443);
	assert_int_equal(moat_parse_publish("192.0.2.1:1:65535", &p, &msg), 0);
	assert_fails(moat_parse_publish("8080", &p, &msg), msg);
	assert_fails(moat_parse_publish("0:80", &p, &msg), msg);
	assert_fails(moat_parse_publish("8080:65536", &p, &msg), msg);
	assert_fails(moat_parse_publish(":80", &p, &msg), msg);
	assert_fails(moat_parse_publish("8080:", &p, &msg), msg);
	assert_fails(moat_parse_publish("::1:8080:80", &p, &msg), msg);
	assert_fails(moat_parse_publish("localhost:8080:80", &p, &msg), msg);
	assert_string_equal(msg, "bad host address (expected IPv4)");
	assert_fails(moat_parse_publish("1.2.3.4:8080:80:1", &p, &msg), msg);
	assert_fails(moat_parse_publish("", &p, &msg), msg);
}

static void test_device(void **state)
{
	struct moat_device d;
	const char *msg;

	(void)state;
	assert_int_equal(moat_parse_device("/dev/nvidia0", &d, &msg), 0);
	assert_string_equal(d.path, "/dev/nvidia0");
	assert_string_equal(d.access, "rw");
	assert_int_equal(moat_parse_device("/dev/nvidia* rwm", &d, &msg), 0);
	assert_string_equal(d.path, "/dev/nvidia*");
	assert_string_equal(d.access, "rwm");
	assert_int_equal(moat_parse_device("/dev/dri/renderD128 mwr", &d, &msg), 0);
	assert_string_equal(d.access, "rwm");
	assert_int_equal(moat_parse_device("/dev/null r", &d, &msg), 0);
	assert_string_equal(d.access, "r");
	assert_fails(moat_parse_device("/dev/null x", &d, &msg), msg);
	assert_fails(moat_parse_device("/dev/null rwx", &d, &msg), msg);
	assert_fails(moat_parse_device("/dev/null rw m", &d, &msg), msg);
	assert_fails(moat_parse_device("/etc/passwd", &d, &msg), msg);
	assert_fails(moat_parse_device("/dev/", &d, &msg), msg);
	assert_fails(moat_parse_device("/dev", &d, &msg), msg);
	assert_fails(moat_parse_device("dev/null", &d, &msg), msg);
	assert_fails(moat_parse_device("/dev/../etc/shadow", &d, &msg), msg);
	assert_fails(moat_parse_device("/dev//null", &d, &msg), msg);
	assert_fails(moat_parse_device("", &d, &msg), msg);
}

static void bind_ok(const char *spec, const char *want_src, const char *want_dst)
{
	char *src = NULL, *dst = NULL;
	const char *msg = NULL;

	if (moat_parse_bind(spec, &src, &dst, &msg) < 0)
		fail_msg("bind \"%s\": %s", spec, msg);
	assert_string_equal(src, want_src);
	assert_string_equal(dst, want_dst);
	free(src);
	free(dst);
}

static void test_bind(void **state)
{
	static const char *const bad[] = {
		"",	     "relative", "/a:relative", "/a:/",	      "/a:/proc",   "/a:/proc/sys",
		"/a:/dev",   "/a:/dev/shm", "/a/../b",	"/a:/b/..",   "/a//b",	    "/a//b/",
		"/a:/b:/c",  "/a:/b:ro", "/a:",	"/./a",	      ":/a",	    "/a:/proc/",
		"/a:/dev//", "/a://",    "/a/../",
	};
	char *src = NULL, *dst = NULL;
	const char *msg;

	(void)state;
	bind_ok("/models", "/models", "/models");
	bind_ok("/srv/models/llama:/models", "/srv/models/llama", "/models");
	bind_ok("/:/host", "/", "/host");
	bind_ok("/a:/procfs", "/a", "/procfs");
	bind_ok("/a:/devices/x", "/a", "/devices/x");
	bind_ok("/a..b:/c.d", "/a..b", "/c.d");
	/* A trailing slash (a shell's completion of a directory) is dropped. */
	bind_ok("/srv/x/:/opt/x", "/srv/x", "/opt/x");
	bind_ok("/srv/x//:/opt/x/", "/srv/x", "/opt/x");
	bind_ok("/models/", "/models", "/models");
	bind_ok("//:/host", "/", "/host");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = NULL;
		if (moat_parse_bind(bad[i], &src, &dst, &msg) == 0)
			fail_msg("bind \"%s\" accepted as %s -> %s", bad[i], src, dst);
		assert_non_null(msg);
	}
}

static void test_names(void **state)
{
	char name[300];

	(void)state;
	assert_true(moat_env_name_valid("PATH"));
	assert_true(moat_env_name_valid("_x1"));
	assert_true(moat_env_name_valid("hf_home"));
	assert_false(moat_env_name_valid(""));
	assert_false(moat_env_name_valid("1X"));
	assert_false(moat_env_name_valid("A-B"));
	assert_false(moat_env_name_valid("A=B"));
	assert_false(moat_env_name_valid("A B"));
	memset(name, 'A', 255);
	name[255] = '\0';
	assert_true(moat_env_name_valid(name));
	name[255] = 'A';
	name[256] = '\0';
	assert_false(moat_env_name_valid(name));

	assert_true(moat_name_valid("llama-3.1_8b"));
	assert_true(moat_name_valid("A"));
	assert_true(moat_name_valid("0"));
	assert_false(moat_name_valid(""));
	assert_false(moat_name_valid("."));
	assert_false(moat_name_valid(".."));
	assert_false(moat_name_valid(".hidden"));
	assert_false(moat_name_valid("-x"));
	assert_false(moat_name_valid("a/b"));
	assert_false(moat_name_valid("a b"));
	memset(name, 'a', MOAT_NAME_MAX);
	name[MOAT_NAME_MAX] = '\0';
	assert_true(moat_name_valid(name));
	name[MOAT_NAME_MAX] = 'a';
	name[MOAT_NAME_MAX + 1] = '\0';
	assert_false(moat_name_valid(name));

	assert_true(moat_syscall_name_valid("read"));
	assert_true(moat_syscall_name_valid("io_uring_setup"));
	assert_true(moat_syscall_name_valid("pread64"));
	assert_false(moat_syscall_name_valid(""));
	assert_false(moat_syscall_name_valid("Read"));
	assert_false(moat_syscall_name_valid("read write"));
	assert_false(moat_syscall_name_valid("sys-read"));
	memset(name, 'a', 64);
	name[64] = '\0';
	assert_true(moat_syscall_name_valid(name));
	name[64] = 'a';
	name[65] = '\0';
	assert_false(moat_syscall_name_valid(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_cidr_v4),
		cmocka_unit_test(test_cidr_v6),
		cmocka_unit_test(test_port_range),
		cmocka_unit_test(test_rule_kinds),
		cmocka_unit_test(test_rule_bad),
		cmocka_unit_test(test_rule_format_roundtrip),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_device),
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
