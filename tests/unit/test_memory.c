// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for sandbox/memory.c: what it drops is no longer mapped, what
 * the process reads is unchanged, and nothing writable loses its contents.
 * "Mapped" is the present bit of /proc/self/pagemap, which any process may
 * read for itself (only the frame numbers need privilege). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"

#define PAGES 16
#define PAGE_MAX 65536 /* alignment that suits every page size */

/* In the bss: zero-initialised, so past the file's contents. */
static unsigned char bss_area[PAGES * PAGE_MAX] __attribute__((aligned(PAGE_MAX)));

/* Written once at start-up: a private copy of a file page, in a writable segment. */
static int data_value = 42;

/* In a read-only segment, away from the code that runs meanwhile. */
static const unsigned char rodata_area[PAGES * PAGE_MAX] __attribute__((aligned(PAGE_MAX))) = {
	[0] = 1, [PAGE_MAX] = 2, [PAGES * PAGE_MAX - 1] = 3,
};

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Whether the page holding addr is mapped in this process (pagemap bit 63). */
static bool mapped(const volatile void *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)addr / page() * sizeof(entry));

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &entry, sizeof(entry), off), sizeof(entry));
	close(fd);
	return entry >> 63;
}

static void test_zero_bss_dropped(void **state)
{
	volatile unsigned char *a = bss_area;
	size_t pg = page(), dropped;

	(void)state;
	/* As cgroup_init() does to its table: written, all of it with zeros,
	 * then a few bytes of it with data. */
	memset(bss_area, 0, sizeof(bss_area));
	a[3 * pg + 10] = 7;
	for (size_t i = 0; i < PAGES; i++)
		assert_true(mapped(a + i * pg));

	dropped = moat_memory_drop_zero_bss();
	assert_true(dropped >= (PAGES - 1) * pg);
	for (size_t i = 0; i < PAGES; i++)
		assert_int_equal(mapped(a + i * pg), i == 3);
	/* Read back: the same bytes. */
	assert_int_equal(a[3 * pg + 10], 7);
	for (size_t i = 0; i < sizeof(bss_area); i++)
		if (i != 3 * pg + 10)
			assert_int_equal(a[i], 0);
}

static void test_file_pages_dropped(void **state)
{
	const volatile unsigned char *r = rodata_area;
	volatile int *d = &data_value;
	size_t pg = page();

	(void)state;
	*d = 43;
	assert_int_equal(r[0] + r[PAGE_MAX] + r[sizeof(rodata_area) - 1], 6);
	assert_true(mapped(r));
	assert_true(mapped(r + sizeof(rodata_area) - 1));

	moat_memory_drop_file_pages();
	/* Pages in the middle: fault-around on a neighbour cannot have mapped
	 * them back before we look. */
	assert_false(mapped(r + PAGE_MAX));
	assert_false(mapped(r + 2 * PAGE_MAX + pg));
	/* Read back from the file; the writable copy kept its change. */
	assert_int_equal(r[0], 1);
	assert_int_equal(r[PAGE_MAX], 2);
	assert_int_equal(r[sizeof(rodata_area) - 1], 3);
	assert_int_equal(*d, 43);
}

/* The whole release: the process goes on running and calling libc. */
static void test_release_keeps_running(void **state)
{
	char buf[64];

	(void)state;
	data_value = 44;
	moat_memory_release();
	snprintf(buf, sizeof(buf), "%d-%s", 12, "ok");
	assert_string_equal(buf, "12-ok");
	assert_int_equal(data_value, 44);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_bss_dropped),
		cmocka_unit_test(test_file_pages_dropped),
		cmocka_unit_test(test_release_keeps_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
