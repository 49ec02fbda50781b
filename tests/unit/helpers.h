/*
 * helpers: what the Criterion suites under tests/unit/ share -- quiet logging, a growing text
 * buffer, hex and TSV-escaped text decoded, whole files read and written, a scratch directory
 * removed -- so that each suite holds only what it tests. Header only: every C file under
 * tests/unit/ is a suite of its own. A helper fails the calling test (cr_assert) when what it
 * does fails, so callers need not check.
 */
#ifndef ENRICHD_TESTS_HELPERS_H
#define ENRICHD_TESTS_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A suite's .init: warnings and errors only, so a test's output shows what matters. */
static inline void t_quiet(void)
{
	log_level_set(LOG_LEVEL_WARN);
}

/* A growing text buffer, NUL-terminated once anything is in it; {0} is empty. Free p. */
struct t_buf {
	char *p;
	size_t len, cap;
};

/* Appends len bytes of s. */
static inline void t_buf_put(struct t_buf *b, const char *s, size_t len)
{
	if (b->cap - b->len <= len) {
		b->cap = (b->len + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* Appends the printf-formatted text. */
__attribute__((format(printf, 2, 3))) static inline void t_buf_printf(struct t_buf *b,
								       const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		cr_assert(n >= 0);
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap ? b->cap * 2 : 4096;
		while (b->cap - b->len <= (size_t)n)
			b->cap *= 2;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
}

/* The bytes the hex digits stand for (pairs of digits), malloc'd; *len is their count. */
static inline uint8_t *t_hex_decode(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	uint8_t *out = malloc(n / 2 + 1);
	cr_assert_not_null(out);
	size_t o = 0;
	for (size_t i = 0; i + 1 < n; i += 2) {
		unsigned v;
		cr_assert_eq(sscanf(hex + i, "%2x", &v), 1, "bad hex in the test at %zu", i);
		out[o++] = (uint8_t)v;
	}
	*len = o;
	return out;
}

/* Reverses TabSeparated escaping (tsv.h) of s[0..len) into out, which may be s itself; an unknown
 * escape gives its letter. Returns the length written. */
static inline size_t t_tsv_unescape(const char *s, size_t len, char *out)
{
	static const char from[] = "\\tnr0bf", to[] = "\\\t\n\r\0\b\f";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			const char *p = memchr(from, s[++i], sizeof(from) - 1);
			out[o++] = p ? to[p - from] : s[i];
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

/* The bytes of the file at path, malloc'd with a NUL after them; *len is their count. */
static inline char *t_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	cr_assert_geq(n, 0);
	rewind(f);
	char *p = malloc((size_t)n + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n, "read %s", path);
	fclose(f);
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

/* Writes len bytes of data as the file at path (created or truncated). */
static inline void t_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "create %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len, "write %s", path);
	cr_assert_eq(fclose(f), 0, "close %s", path);
}

static inline int t_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Removes path and everything below it, as far as it can (a test's scratch directory). */
static inline void t_rm_tree(const char *path)
{
	nftw(path, t_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
