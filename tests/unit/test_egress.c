// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the egress rule compiler (sandbox/egress.c): networks in,
 * LPM entries out, with the union semantics documented at struct
 * moat_rule_key. The kernel's longest-prefix lookup is modelled here by
 * a plain scan for the longest entry containing an address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "egress.h"
#include "policy.h"

static struct moat_egress_net v4net(const char *addr, unsigned prefix, uint8_t proto, uint16_t lo,
				    uint16_t hi)
{
	struct moat_egress_net n = {.prefix = (uint8_t)(96 + prefix),
				    .port = {.proto = proto, .lo = lo, .hi = hi}};

	n.addr[2] = htonl(0xffff);
	assert_int_equal(inet_pton(AF_INET, addr, &n.addr[3]), 1);
	return n;
}

static struct moat_egress_net v6net(const char *addr, unsigned prefix, uint8_t proto, uint16_t lo,
				    uint16_t hi)
{
	struct moat_egress_net n = {.prefix = (uint8_t)prefix,
				    .port = {.proto = proto, .lo = lo, .hi = hi}};

	assert_int_equal(inet_pton(AF_INET6, addr, n.addr), 1);
	return n;
}

struct compiled {
	struct moat_rule_key *keys;
	struct moat_rule_value *values;
	size_t n;
};

static void compile_ok(const struct moat_egress_net *nets, size_t n, struct compiled *c)
{
	struct moat_error err = {0};

	assert_int_equal(moat_egress_compile(nets, n, &c->keys, &c->values, &c->n, &err), 0);
}

static void compiled_free(struct compiled *c)
{
	free(c->keys);
	free(c->values);
}

static bool contains(const struct moat_rule_key *k, const uint32_t addr[4])
{
	unsigned prefix = k->prefixlen - MOAT_RULE_PREFIX_BASE;

	for (unsigned i = 0; i < 4; i++) {
		unsigned bits = prefix > 32 * i ? prefix - 32 * i : 0;
		uint32_t mask = bits >= 32 ? ~0U : bits ? htonl(~0U << (32 - bits)) : 0;

		if ((addr[i] & mask) != (k->addr[i] & mask))
			return false;
	}
	return true;
}

/* The kernel's side: longest entry containing addr, then its port rules. */
static bool allowed(const struct compiled *c, const char *addr, uint8_t proto, uint16_t port)
{
	uint32_t a[4] = {0};
	const struct moat_rule_value *best = NULL;
	uint32_t best_len = 0;

	if (inet_pton(AF_INET, addr, &a[3]) == 1)
		a[2] = htonl(0xffff);
	else
		assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	for (size_t i = 0; i < c->n; i++)
		if (contains(&c->keys[i], a) && (!best || c->keys[i].prefixlen > best_len)) {
			best = &c->values[i];
			best_len = c->keys[i].prefixlen;
		}
	if (!best)
		return false;
	for (uint32_t i = 0; i < best->n; i++) {
		const struct moat_port_rule *r = &best->r[i];

		if ((r->proto == MOAT_MATCH_ANY || r->proto == proto) && port >= r->lo && port <= r->hi)
			return true;
	}
	return false;
}

static void test_nothing_compiles_to_nothing(void **state)
{
	struct compiled c;

	(void)state;
	compile_ok(NULL, 0, &c);
	assert_int_equal(c.n, 0);
	assert_false(allowed(&c, "10.0.0.1", MOAT_MATCH_TCP, 80));
	compiled_free(&c);
}

static void test_single_rule(void **state)
{
	struct moat_egress_net n[] = {v4net("10.208.0.0", 16, MOAT_MATCH_TCP, 8080, 8080)};
	struct compiled c;

	(void)state;
	compile_ok(n, 1, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.keys[0].prefixlen, MOAT_RULE_PREFIX_BASE + 96 + 16);
	assert_true(allowed(&c, "10.208.3.4", MOAT_MATCH_TCP, 8080));
	assert_false(allowed(&c, "10.208.3.4", MOAT_MATCH_TCP, 8081));
	assert_false(allowed(&c, "10.208.3.4", MOAT_MATCH_UDP, 8080));
	assert_false(allowed(&c, "10.209.0.1", MOAT_MATCH_TCP, 8080));
	compiled_free(&c);
}

/* The example of moat_bpf.h: a longer match keeps the shorter one's rules. */
static void test_nested_networks_union(void **state)
{
	struct moat_egress_net n[] = {
		v4net("10.1.0.0", 16, MOAT_MATCH_UDP, 53, 53),
		v4net("10.0.0.0", 8, MOAT_MATCH_TCP, 443, 443),
	};
	struct compiled c;

	(void)state;
	compile_ok(n, 2, &c);
	assert_int_equal(c.n, 2);
	assert_true(allowed(&c, "10.1.2.3", MOAT_MATCH_TCP, 443));
	assert_true(allowed(&c, "10.1.2.3", MOAT_MATCH_UDP, 53));
	assert_true(allowed(&c, "10.2.0.1", MOAT_MATCH_TCP, 443));
	assert_false(allowed(&c, "10.2.0.1", MOAT_MATCH_UDP, 53));
	compiled_free(&c);
}

static void test_host_bits_are_masked_and_duplicates_merge(void **state)
{
	struct moat_egress_net n[] = {
		v4net("192.0.2.77", 24, MOAT_MATCH_TCP, 80, 80),
		v4net("192.0.2.0", 24, MOAT_MATCH_TCP, 80, 80),
		v4net("192.0.2.0", 24, MOAT_MATCH_TCP, 1, 1000),
	};
	struct compiled c;

	(void)state;
	compile_ok(n, 3, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.keys[0].addr[3], htonl(0xc0000200));
	/* tcp/1-1000 covers tcp/80: one rule is enough, whatever the order. */
	assert_int_equal(c.values[0].n, 1);
	assert_true(allowed(&c, "192.0.2.1", MOAT_MATCH_TCP, 999));
	compiled_free(&c);
}

/* 0.0.0.0/0 is ::ffff:0:0/96: IPv4 only, never an IPv6 destination. */
static void test_v4_default_route_is_v4_only(void **state)
{
	struct moat_egress_net n[] = {v4net("0.0.0.0", 0, MOAT_MATCH_ANY, 0, 65535)};
	struct compiled c;

	(void)state;
	compile_ok(n, 1, &c);
	assert_true(allowed(&c, "203.0.113.9", MOAT_MATCH_UDP, 5));
	assert_true(allowed(&c, "::ffff:203.0.113.9", MOAT_MATCH_UDP, 5));
	assert_false(allowed(&c, "2001:db8::1", MOAT_MATCH_UDP, 5));
	compiled_free(&c);
}

static void test_v6_rules(void **state)
{
	struct moat_egress_net n[] = {
		v6net("2001:db8::", 32, MOAT_MATCH_UDP, 5000, 5100),
		v6net("2001:db8:1::", 48, MOAT_MATCH_ICMP, 0, 65535),
	};
	struct compiled c;

	(void)state;
	compile_ok(n, 2, &c);
	assert_true(allowed(&c, "2001:db8:1::5", MOAT_MATCH_UDP, 5050));
	assert_true(allowed(&c, "2001:db8:1::5", MOAT_MATCH_ICMP, 0));
	assert_false(allowed(&c, "2001:db8:2::5", MOAT_MATCH_ICMP, 0));
	assert_false(allowed(&c, "2001:db9::1", MOAT_MATCH_UDP, 5050));
	compiled_free(&c);
}

static void test_too_many_port_rules(void **state)
{
	struct moat_egress_net n[MOAT_RULE_PORTS_MAX + 1];
	struct moat_rule_key *keys = NULL;
	struct moat_rule_value *values = NULL;
	struct moat_error err = {0};
	size_t count;

	(void)state;
	for (unsigned i = 0; i < MOAT_RULE_PORTS_MAX + 1; i++)
		n[i] = v4net("10.0.0.0", 8, MOAT_MATCH_TCP, (uint16_t)(100 + 2 * i),
			     (uint16_t)(100 + 2 * i));
	assert_int_equal(moat_egress_compile(n, MOAT_RULE_PORTS_MAX + 1, &keys, &values, &count,
					     &err), -1);
	assert_non_null(strstr(err.msg, "10.0.0.0/8"));
	assert_null(keys);
}

/* 100000 host rules, as in the benchmark: distinct entries, no quadratic work. */
static void test_many_rules(void **state)
{
	const size_t n = 100000;
	struct moat_egress_net *nets = calloc(n, sizeof(*nets));
	struct compiled c;

	(void)state;
	assert_non_null(nets);
	for (size_t i = 0; i < n; i++) {
		nets[i] = v4net("10.0.0.0", 32, MOAT_MATCH_TCP, 80, 80);
		nets[i].addr[3] = htonl(0x0a000000 | (uint32_t)i);
	}
	compile_ok(nets, n, &c);
	assert_int_equal(c.n, n);
	assert_true(allowed(&c, "10.1.134.159", MOAT_MATCH_TCP, 80)); /* 99999 */
	assert_false(allowed(&c, "10.1.134.160", MOAT_MATCH_TCP, 80));
	compiled_free(&c);
	free(nets);
}

/* "egress = dns" reads the nameservers of a resolv.conf: a scope is cut off,
 * and a token longer than any address (once a stack overflow) is skipped. */
static void test_dns_from_resolv_conf(void **state)
{
	char path[] = "/tmp/moat-test-resolv.XXXXXX";
	char line[128];
	struct moat_policy *p = moat_policy_new();
	struct moat_egress *eg = NULL;
	struct moat_error err = {0};
	char *msg = NULL;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(p);
	assert_int_equal(moat_policy_set(p, "network", "egress", "dns", &msg), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	fprintf(f, "# a comment\nnameserver %s\nnameserver fe80::1%%eth0\n"
		   "options ndots:2\nnameserver 10.0.0.53\n", line);
	fclose(f);
	assert_int_equal(moat_egress_prepare(p, path, &eg, &err), 0);
	/* udp/53 and tcp/53 to each of fe80::1 and 10.0.0.53 */
	assert_int_equal(moat_egress_n_rules(eg), 4);
	moat_egress_free(eg);
	unlink(path);
	moat_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_compiles_to_nothing),
		cmocka_unit_test(test_single_rule),
		cmocka_unit_test(test_nested_networks_union),
		cmocka_unit_test(test_host_bits_are_masked_and_duplicates_merge),
		cmocka_unit_test(test_v4_default_route_is_v4_only),
		cmocka_unit_test(test_v6_rules),
		cmocka_unit_test(test_too_many_port_rules),
		cmocka_unit_test(test_many_rules),
		cmocka_unit_test(test_dns_from_resolv_conf),
	};

	return cmocka_run_group_tests_name("egress", tests, NULL, NULL);
}
