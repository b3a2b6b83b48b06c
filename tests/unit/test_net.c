// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for sandbox/net.c that need no root: host interface names and
 * the /30 arithmetic of the address pool. The netlink and lease-file parts
 * run for real only as root (see the integration tests).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"
#include "parse.h"

static struct moat_cidr pool(const char *s)
{
	struct moat_cidr c;
	const char *msg = NULL;

	assert_int_equal(moat_parse_cidr(s, &c, &msg), 0);
	return c;
}

static void assert_addr(const struct in_addr *a, const char *want)
{
	char text[INET_ADDRSTRLEN];

	assert_non_null(inet_ntop(AF_INET, a, text, sizeof(text)));
	assert_string_equal(text, want);
}

/* What the kernel's dev_valid_name() accepts, restricted to what moat makes. */
static void assert_ifname_ok(const char *ifname)
{
	size_t len = strlen(ifname);

	assert_true(len > 0 && len < IFNAMSIZ);
	assert_memory_equal(ifname, MOAT_NET_IFNAME_PREFIX, 3);
	assert_int_equal(strspn(ifname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					"0123456789_.-"),
			 len);
}

static void test_ifname_short(void **state)
{
	char buf[IFNAMSIZ];

	(void)state;
	moat_net_host_ifname("web1", buf);
	assert_string_equal(buf, "mt-web1");
	moat_net_host_ifname("a", buf);
	assert_string_equal(buf, "mt-a");
	/* 11 characters: the longest name used as it is (14 in all). */
	moat_net_host_ifname("embedder.v2", buf);
	assert_string_equal(buf, "mt-embedder.v2");
	assert_ifname_ok(buf);
}

static void test_ifname_long(void **state)
{
	char buf[IFNAMSIZ], other[IFNAMSIZ];

	(void)state;
	/* 12 characters already take the hashed form: always exactly 15. */
	moat_net_host_ifname("embedder.v21", buf);
	assert_int_equal(strlen(buf), IFNAMSIZ - 1);
	assert_memory_equal(buf, "mt-emb-", 7);
	assert_int_equal(strspn(buf + 7, "0123456789abcdef"), 8);
	assert_ifname_ok(buf);

	/* Pinned: a sandbox keeps its interface name across moat versions. */
	moat_net_host_ifname("inference-server-prod", buf);
	assert_string_equal(buf, "mt-inf-d7b26346");

	/* A short name spelling a long name's result takes the hashed form
	 * itself, so it cannot collide with it. */
	moat_net_host_ifname(buf + 3, other);
	assert_int_equal(strlen(other), IFNAMSIZ - 1);
	assert_string_not_equal(other, buf);
}

static int cmp_ifname(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_ifname_distinct(void **state)
{
	enum { N = 4096 };
	char(*names)[IFNAMSIZ] = calloc(N, IFNAMSIZ);
	char name[MOAT_NAME_MAX + 1], buf[IFNAMSIZ];

	(void)state;
	assert_non_null(names);
	/* Long names differing only at the end: the prefix cannot tell them apart. */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "llm-worker-replica-%04d", i);
		moat_net_host_ifname(name, names[i]);
		assert_ifname_ok(names[i]);
	}
	qsort(names, N, IFNAMSIZ, cmp_ifname);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(names[i - 1], names[i]);
	free(names);

	/* The longest valid name. */
	memset(name, 'x', MOAT_NAME_MAX);
	name[MOAT_NAME_MAX] = '\0';
	moat_net_host_ifname(name, buf);
	assert_string_equal(buf, "mt-xxx-3511893f");
}

static void test_pool_slots(void **state)
{
	struct moat_cidr c = pool(MOAT_NET_POOL_DEFAULT);

	(void)state;
	assert_int_equal(moat_net_pool_slots(&c), 16384);
	c = pool("10.208.4.0/30");
	assert_int_equal(moat_net_pool_slots(&c), 1);
	c = pool("0.0.0.0/0");
	assert_int_equal(moat_net_pool_slots(&c), UINT32_C(1) << 30);
	/* Unusable: no room for a /30, or not IPv4. */
	c = pool("10.208.4.0/31");
	assert_int_equal(moat_net_pool_slots(&c), 0);
	c = pool("10.208.4.1");
	assert_int_equal(moat_net_pool_slots(&c), 0);
	c = pool("fd00:6d6f:6174::/64");
	assert_int_equal(moat_net_pool_slots(&c), 0);
}

static void test_pool_slot(void **state)
{
	struct moat_cidr c = pool(MOAT_NET_POOL_DEFAULT);
	struct in_addr host, sandbox;

	(void)state;
	assert_int_equal(moat_net_pool_slot(&c, 0, &host, &sandbox), 0);
	assert_addr(&host, "10.208.0.1");
	assert_addr(&sandbox, "10.208.0.2");
	assert_int_equal(moat_net_pool_slot(&c, 1, &host, &sandbox), 0);
	assert_addr(&host, "10.208.0.5");
	assert_addr(&sandbox, "10.208.0.6");
	assert_int_equal(moat_net_pool_slot(&c, 64, &host, &sandbox), 0);
	assert_addr(&host, "10.208.1.1");
	assert_addr(&sandbox, "10.208.1.2");
	assert_int_equal(moat_net_pool_slot(&c, 16383, &host, &sandbox), 0);
	assert_addr(&host, "10.208.255.253");
	assert_addr(&sandbox, "10.208.255.254");
	assert_int_equal(moat_net_pool_slot(&c, 16384, &host, &sandbox), -1);
	assert_int_equal(moat_net_pool_slot(&c, UINT32_MAX, &host, &sandbox), -1);

	c = pool("192.168.77.0/24");
	assert_int_equal(moat_net_pool_slot(&c, 3, &host, &sandbox), 0);
	assert_addr(&host, "192.168.77.13");
	assert_addr(&sandbox, "192.168.77.14");
	assert_int_equal(moat_net_pool_slot(&c, 64, &host, &sandbox), -1);

	c = pool("2001:db8::/32");
	assert_int_equal(moat_net_pool_slot(&c, 0, &host, &sandbox), -1);
}

static void test_pool_start(void **state)
{
	(void)state;
	assert_int_equal(moat_net_pool_start("web1", 0), 0);
	assert_int_equal(moat_net_pool_start("web1", 1), 0);
	assert_true(moat_net_pool_start("web1", 16384) < 16384);
	/* Stable: a relaunched sandbox probes its old address first. */
	assert_int_equal(moat_net_pool_start("web1", 16384), moat_net_pool_start("web1", 16384));
	assert_int_not_equal(moat_net_pool_start("web1", 16384),
			     moat_net_pool_start("web2", 16384));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ifname_short),    cmocka_unit_test(test_ifname_long),
	    cmocka_unit_test(test_ifname_distinct), cmocka_unit_test(test_pool_slots),
	    cmocka_unit_test(test_pool_slot),	    cmocka_unit_test(test_pool_start),
	};

	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
