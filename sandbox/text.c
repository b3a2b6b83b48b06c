// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>
#include <string.h>

#include "text.h"

/* The bytes escaped by name as in C, and their names. */
#define C_NAMED "\n\r\t\\"
#define C_NAMES "nrt\\"

size_t moat_utf8_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * The escaped form of the character at s (n bytes left) into out (at least
 * MOAT_ESCAPE_MAX_PER_BYTE bytes): returns how many bytes of s it stands for
 * and sets *ret_out to its length. A character kept as it is is not copied:
 * *ret_out is 0 and the caller copies the returned number of bytes of s.
 */
static size_t escape_one(const char *s, size_t n, enum moat_escape mode, char *out, size_t *ret_out)
{
	static const char hex[] = "0123456789abcdef";
	size_t l = moat_utf8_len(s, n);
	unsigned char c = (unsigned char)s[0];
	const char *named;

	*ret_out = 0;
	if (l > 0 && mode == MOAT_ESCAPE_UTF8)
		return l;
	if (l > 1 && !(c == 0xc2 && (unsigned char)s[1] < 0xa0)) /* not a C1 control */
		return l;
	if (l == 1 && c >= 0x20 && c != 0x7f && c != '\\')
		return 1;
	named = c ? strchr(C_NAMED, c) : NULL;
	out[0] = '\\';
	if (named) {
		out[1] = C_NAMES[named - C_NAMED];
		*ret_out = 2;
	} else {
		out[1] = 'x';
		out[2] = hex[c >> 4];
		out[3] = hex[c & 0xf];
		*ret_out = 4;
	}
	return 1;
}

size_t moat_escape(const char *s, size_t n, enum moat_escape mode, char *buf, size_t len,
		   size_t *ret_len)
{
	size_t i = 0, out = 0;

	if (len == 0) {
		if (ret_len)
			*ret_len = 0;
		return 0;
	}
	while (i < n) {
		char esc[MOAT_ESCAPE_MAX_PER_BYTE];
		size_t esc_len, used = escape_one(s + i, n - i, mode, esc, &esc_len);
		size_t need = esc_len ? esc_len : used;

		if (out + need >= len)
			break;
		memcpy(buf + out, esc_len ? esc : s + i, need);
		out += need;
		i += used;
	}
	buf[out] = '\0';
	if (ret_len)
		*ret_len = out;
	return i;
}

void moat_escape_str(const char *s, char *buf, size_t len)
{
	moat_escape(s, strlen(s), MOAT_ESCAPE_TERMINAL, buf, len, NULL);
}

void moat_escape_write(FILE *f, const char *s, size_t n)
{
	char buf[1024];
	size_t len;

	/* A chunk holds at least one character (at most 4 bytes, escaped 4). */
	while (n > 0) {
		size_t used = moat_escape(s, n, MOAT_ESCAPE_TERMINAL, buf, sizeof(buf), &len);

		fwrite(buf, 1, len, f);
		s += used;
		n -= used;
	}
}
