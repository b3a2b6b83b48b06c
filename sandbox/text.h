/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Untrusted text on its way to a person or a log: the one escaper.
 *
 * Names, paths and policy values come from whoever runs moat; process names,
 * command lines and log strings from inside a sandbox. Printed as they are, a
 * newline splits a one-line error in two (or forges a second line) and an ESC
 * drives the reader's terminal (CVE-2003-0063 style title and answerback
 * tricks). Everything moat shows of such text goes through moat_escape():
 * error lines (error.c), `moat status`, `events`, `ls` and `top`, and the
 * audit log's JSON strings. Level 0: depends on nothing of moat's.
 */
#ifndef MOAT_TEXT_H
#define MOAT_TEXT_H

#include <stddef.h>
#include <stdio.h>

enum moat_escape {
	/*
	 * For people: \n, \r, \t and \\ as in C; every other C0 control,
	 * DEL, each byte of a C1 control (U+0080-U+009F) and every byte that
	 * is not part of valid UTF-8 as \xNN (ESC is \x1b). Valid UTF-8 that
	 * prints is kept, so names in any script read as they are.
	 */
	MOAT_ESCAPE_TERMINAL,
	/*
	 * For json-c, which escapes controls, quotes and backslashes itself
	 * but copies other bytes as they are: only bytes that are not valid
	 * UTF-8 become \xNN, so a strict reader can parse the line.
	 */
	MOAT_ESCAPE_UTF8,
};

/* Longest output of one input byte ("\xNN"): len = 4 * n + 1 always fits. */
#define MOAT_ESCAPE_MAX_PER_BYTE 4

/*
 * Length of the valid UTF-8 sequence at the start of s (n bytes), 0 when
 * there is none (a stray continuation byte, a sequence cut short, an overlong
 * form, a UTF-16 surrogate, a code point past U+10FFFF).
 */
size_t moat_utf8_len(const char *s, size_t n);

/*
 * Escapes s (n bytes, which may hold NULs) into buf (len bytes) as mode says.
 * Stops at the first character whose escaped form would not fit before the
 * terminating NUL, so that a character is never cut. buf is always
 * NUL-terminated when len > 0. Returns the number of bytes of s consumed
 * (n when everything fit); *ret_len, if not NULL, gets the length written.
 */
size_t moat_escape(const char *s, size_t n, enum moat_escape mode, char *buf, size_t len,
		   size_t *ret_len);

/* The C string s escaped for people (MOAT_ESCAPE_TERMINAL) into buf, cut short to fit. */
void moat_escape_str(const char *s, char *buf, size_t len);

/* Writes s (n bytes) to f, escaped for people (MOAT_ESCAPE_TERMINAL). */
void moat_escape_write(FILE *f, const char *s, size_t n);

#endif
