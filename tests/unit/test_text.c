// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for sandbox/text.c: the one escaper of untrusted text, for
 * people (error lines, status, events) and for the audit log's JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(moat_utf8_len("a", 1), 1);
	assert_int_equal(moat_utf8_len("\xc3\xa9", 2), 2);
	assert_int_equal(moat_utf8_len("\xe2\x82\xac", 3), 3);
	assert_int_equal(moat_utf8_len("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(moat_utf8_len("\xc3\xa9", 1), 0);	   /* cut short */
	assert_int_equal(moat_utf8_len("\xc0\xaf", 2), 0);	   /* overlong '/' */
	assert_int_equal(moat_utf8_len("\xe0\x80\xaf", 3), 0);	   /* overlong */
	assert_int_equal(moat_utf8_len("\xed\xa0\x80", 3), 0);	   /* surrogate */
	assert_int_equal(moat_utf8_len("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
	assert_int_equal(moat_utf8_len("\x80", 1), 0);
	assert_int_equal(moat_utf8_len("\xff", 1), 0);
	assert_int_equal(moat_utf8_len("", 0), 0);
}

/* s (n bytes) escaped for people, in a buffer large enough for anything. */
static void escapes_to(const char *s, size_t n, const char *want)
{
	char buf[256];
	size_t len = 99;

	assert_int_equal(moat_escape(s, n, MOAT_ESCAPE_TERMINAL, buf, sizeof(buf), &len), n);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
}

#define ESCAPES_TO(lit, want) escapes_to(lit, sizeof(lit) - 1, want)

static void test_terminal(void **state)
{
	(void)state;
	ESCAPES_TO("llm-1.a_b", "llm-1.a_b");
	ESCAPES_TO("", "");
	/* The two bytes that break a one-line message or drive a terminal. */
	ESCAPES_TO("a\nb", "a\\nb");
	ESCAPES_TO("\x1b[31mred", "\\x1b[31mred");
	ESCAPES_TO("\r\t", "\\r\\t");
	/* A backslash is escaped too, so the text "\x1b" cannot pass for an ESC. */
	ESCAPES_TO("\\x1b", "\\\\x1b");
	ESCAPES_TO("\x7f\x01", "\\x7f\\x01");
	ESCAPES_TO("a\0b", "a\\x00b");
	/* UTF-8 that prints is kept; C1 controls (here CSI, U+009B) are not. */
	ESCAPES_TO("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac");
	ESCAPES_TO("\xc2\x9b[31m", "\\xc2\\x9b[31m");
	ESCAPES_TO("\xc2\xa0", "\xc2\xa0");
	/* Bytes that are not UTF-8, each on its own. */
	ESCAPES_TO("\xff\xfe", "\\xff\\xfe");
	ESCAPES_TO("\xc3", "\\xc3");
	ESCAPES_TO("\xc0\xaf", "\\xc0\\xaf");
	ESCAPES_TO("\xed\xa0\x80", "\\xed\\xa0\\x80");
}

static void test_utf8_mode(void **state)
{
	char buf[64];
	size_t len;

	(void)state;
	/* For json-c: controls and backslashes pass (json-c escapes them), bytes
	 * that are not UTF-8 do not, NULs are kept (the length says where it ends). */
	assert_int_equal(
	    moat_escape("\xff\x1b\n\\\xc3\xa9\0z", 8, MOAT_ESCAPE_UTF8, buf, sizeof(buf), &len), 8);
	assert_int_equal(len, 11);
	assert_memory_equal(buf, "\\xff\x1b\n\\\xc3\xa9\0z", 12);
}

static void test_cut_short(void **state)
{
	char buf[8];
	size_t len;

	(void)state;
	/* Only whole characters, whole escapes, and always the NUL. */
	assert_int_equal(
	    moat_escape("abcdefghij", 10, MOAT_ESCAPE_TERMINAL, buf, sizeof(buf), &len), 7);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(moat_escape("abcde\n", 6, MOAT_ESCAPE_TERMINAL, buf, sizeof(buf), &len),
			 6);
	assert_string_equal(buf, "abcde\\n");
	assert_int_equal(moat_escape("abcd\x1b", 5, MOAT_ESCAPE_TERMINAL, buf, sizeof(buf), &len),
			 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(
	    moat_escape("abcde\xe2\x82\xac", 8, MOAT_ESCAPE_TERMINAL, buf, sizeof(buf), &len), 5);
	assert_string_equal(buf, "abcde");
	assert_int_equal(len, 5);
	assert_int_equal(moat_escape("abc", 3, MOAT_ESCAPE_TERMINAL, buf, 1, &len), 0);
	assert_string_equal(buf, "");
	assert_int_equal(moat_escape("abc", 3, MOAT_ESCAPE_TERMINAL, NULL, 0, &len), 0);
	assert_int_equal(len, 0);
	moat_escape_str("x\ny\x1b", buf, sizeof(buf));
	assert_string_equal(buf, "x\\ny");
}

/* The stream writer: long text goes through in chunks, nothing lost or cut. */
static void test_write(void **state)
{
	size_t n = 10000, size = 0;
	char *in = malloc(n), *out = NULL;
	FILE *f = open_memstream(&out, &size);

	(void)state;
	assert_non_null(in);
	assert_non_null(f);
	for (size_t i = 0; i < n; i += 5)
		memcpy(in + i, i % 2 ? "\xe2\x82\xac\n\x1b" : "abcde", 5);
	moat_escape_write(f, in, n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(size, n / 10 * (5 + 3 + 2 + 4));
	for (size_t i = 0, o = 0; i < n; i += 5) {
		const char *want = i % 2 ? "\xe2\x82\xac\\n\\x1b" : "abcde";

		assert_memory_equal(out + o, want, strlen(want));
		o += strlen(want);
	}
	free(in);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_len),  cmocka_unit_test(test_terminal),
	    cmocka_unit_test(test_utf8_mode), cmocka_unit_test(test_cut_short),
	    cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
