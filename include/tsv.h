/*
 * tsv: String values escaped as ClickHouse's TabSeparated formats write them (writeEscapedString):
 * a backslash before '\' and, as a letter, before tab (t), newline (n), carriage return (r), NUL
 * (0), backspace (b) and form feed (f); every other byte as is. With TSV_ESCAPE_QUOTE the single
 * quote is written \' too, as ClickHouse's own TSV output does; readers take both forms. The one
 * escaper of the project: the dead-letter file, the Native reader's text and the generator.
 */
#ifndef ENRICHD_TSV_H
#define ENRICHD_TSV_H

#include <stddef.h>

#define TSV_ESCAPE_QUOTE 1u /* also write ' as \' */

/* The letter written after a backslash for byte c, or 0 when c is written as is. */
static inline char tsv_escape_letter(unsigned char c, unsigned flags)
{
	switch (c) {
	case '\\': return '\\';
	case '\t': return 't';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\0': return '0';
	case '\b': return 'b';
	case '\f': return 'f';
	case '\'': return flags & TSV_ESCAPE_QUOTE ? '\'' : 0;
	default: return 0;
	}
}

/*
 * Writes the len bytes at src escaped into dst[0..cap): bytes while they fit (never half of an
 * escape), then a NUL if the whole text fit with room for it. Returns the escaped length (at
 * most 2 * len), whether or not it fit: a result >= cap means dst holds only a prefix.
 */
size_t tsv_escape(char *dst, size_t cap, const void *src, size_t len, unsigned flags);

#endif
