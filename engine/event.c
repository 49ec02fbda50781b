/*
 * event: the JSON event decoder, driven by a plan (contract in include/event.h; the plan's layout
 * in event_impl.h, its compiler in event_plan.c).
 *
 * One forward pass with a cursor. Strings are scanned 16 bytes at a time for the bytes that end
 * the fast path (quote, backslash, control, non-ASCII); a string without escapes is returned as a
 * slice of the message. Members no field declares are skipped by an iterative validator whose
 * open containers are one bit each in a 64-bit word, so nesting costs no stack and has a hard
 * bound. A declared member's value is read by the same conversions in both passes (conv_*),
 * whatever scanned it. A field error is remembered and parsing goes on, so that a later
 * JSON-level error still wins (see "Error precedence" in the header).
 *
 * Scratch, from its start: unescaped strings kept in slots, UUID and IPv6 bytes and finished
 * arrays grow upward from `used`; an array's elements collect downward from `limit` while it is
 * read; with a catch-all the top len bytes [limit, cap) collect its text, which moves down to
 * `used` at the end.
 */
#include "event.h"

#include <endian.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "event_impl.h"
#include "timetext.h"
#include "uuidtext.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if EVENT_DEPTH_MAX > 64
#error "skip_value keeps one bit per open container in a uint64_t"
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Longest key the general pass unescapes for a lookup (schema paths are shorter). */
#define KEY_MAX SCHEMA_PATH_MAX


struct dec {
	const uint8_t *p;   /* cursor */
	const uint8_t *end; /* one past the last byte of the message */
	const uint8_t *buf;
	const struct event_plan *plan;
	struct event_value *vals;
	uint8_t *scratch;
	size_t scratch_used; /* bytes kept from the scratch's start */
	size_t limit;        /* where the array elements' and the catch-all's areas start */
	size_t top;          /* the array being read: its elements lie in [top, limit) */
	size_t catch_len;    /* the catch-all text's bytes so far, from limit */
	size_t catch_cap;
	uint64_t seen;       /* fields given */
	uint64_t objects;    /* objects (trie nodes) given */
	const struct ev_scan_vec *sv; /* the scans' vectors, the plan's */
	/* The error being returned: a JSON-level one at once, a field one at the end. */
	const char *reason;
	const uint8_t *at;
	/* First field error in document order. */
	int field_err;
	const char *field_reason;
	const uint8_t *field_at;
};

/* A string as parsed: a slice of the message, or unescaped into dst (copied). len is the decoded
 * length, which exceeds the destination's capacity when it did not fit. */
struct str {
	const uint8_t *ptr;
	size_t len;
	bool copied;
};

/* A number token as parsed, already checked against the JSON grammar. */
struct num {
	const uint8_t *lo;     /* the message's first byte (parse_u64 may read from it) */
	const uint8_t *start;  /* first byte ('-' or digit) */
	const uint8_t *digits; /* first digit of the integer part */
	const uint8_t *end;    /* one past the last byte */
	bool negative;
	bool integer; /* no fraction, no exponent */
};

static int skip_value(struct dec *d, int depth);

__attribute__((cold, noinline)) static int dec_fail(struct dec *d, int code, const char *reason,
						    const uint8_t *at)
{
	d->reason = reason;
	d->at = at;
	return code;
}

/* Records a field error if it is the first; parsing continues. */
__attribute__((cold, noinline)) static void dec_field_fail(struct dec *d, int code,
							  const char *reason, const uint8_t *at)
{
	if (d->field_err != 0)
		return;
	d->field_err = code;
	d->field_reason = reason;
	d->field_at = at;
}

static inline int fail_end(struct dec *d)
{
	return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: unexpected end of message", d->end);
}

static inline bool is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

static inline bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline void skip_ws(struct dec *d)
{
	const uint8_t *p = d->p, *end = d->end;
	/* Compact JSON has no whitespace: one compare decides most calls. */
	while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	d->p = p;
}

/* The scans' vectors where no plan is at hand (rare paths: the compiler builds them there). */
#define SPLAT8(c) (0x0101010101010101LL * (c))
static const struct ev_scan_vec scan_const = {
#if defined(__SSE2__)
	.quote = {SPLAT8('"'), SPLAT8('"')},
	.backslash = {SPLAT8('\\'), SPLAT8('\\')},
	.space = {SPLAT8(0x20), SPLAT8(0x20)},
	.zero = {SPLAT8('0'), SPLAT8('0')},
	.nine = {SPLAT8(9), SPLAT8(9)},
#endif
#if defined(__AVX2__)
	.quote32 = {SPLAT8('"'), SPLAT8('"'), SPLAT8('"'), SPLAT8('"')},
	.backslash32 = {SPLAT8('\\'), SPLAT8('\\'), SPLAT8('\\'), SPLAT8('\\')},
	.space32 = {SPLAT8(0x20), SPLAT8(0x20), SPLAT8(0x20), SPLAT8(0x20)},
#endif
};

#if defined(__SSE2__)
/* Bit i set for byte i of the 16 at p that is '"', '\\', a byte < 0x20 or a byte >= 0x80. */
static inline unsigned plain_stops(const uint8_t *p, const struct ev_scan_vec *sv)
{
	__m128i v = _mm_loadu_si128((const void *)p);
	/* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too. */
	__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sv->quote),
						_mm_cmpeq_epi8(v, sv->backslash)),
				   _mm_cmplt_epi8(v, sv->space));
	return (unsigned)_mm_movemask_epi8(hit);
}
#endif

#if defined(__AVX2__)
/* plain_stops for the 32 bytes at p. */
static inline unsigned plain_stops32(const uint8_t *p, const struct ev_scan_vec *sv)
{
	__m256i v = _mm256_loadu_si256((const void *)p);
	__m256i hit = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, sv->quote32),
						      _mm256_cmpeq_epi8(v, sv->backslash32)),
				      _mm256_cmpgt_epi8(sv->space32, v));
	return (unsigned)_mm256_movemask_epi8(hit);
}
#endif

/* The first position in [p, end) that is not an ASCII digit; end if there is none. */
static inline const uint8_t *digits_end_v(const uint8_t *p, const uint8_t *end,
					  const struct ev_scan_vec *sv)
{
#if defined(__SSE2__)
	while (end - p >= 16) {
		__m128i value = _mm_sub_epi8(_mm_loadu_si128((const void *)p), sv->zero);
		__m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(value, sv->nine), value);
		unsigned other = ~(unsigned)_mm_movemask_epi8(digit) & 0xFFFF;
		if (other != 0)
			return p + __builtin_ctz(other);
		p += 16;
	}
#else
	(void)sv;
#endif
	while (p < end && is_digit(*p))
		p++;
	return p;
}

static inline const uint8_t *digits_end(const uint8_t *p, const uint8_t *end)
{
	return digits_end_v(p, end, &scan_const);
}

/* Returns the first position in [p, end) holding '"', '\\', a byte < 0x20 or a byte >= 0x80;
 * end if there is none. lo is the message's first byte: the last bytes, fewer than a vector, are
 * scanned with one load of the message's last vector when it has that many. 32 bytes a step
 * where the build has AVX2 and the message that many, else 16. */
static inline const uint8_t *scan_plain_v(const uint8_t *p, const uint8_t *end, const uint8_t *lo,
					  const struct ev_scan_vec *sv)
{
#if defined(__AVX2__)
	if (likely(end - lo >= 32)) {
		const uint8_t *last = end - 32;
		for (; p <= last; p += 32) {
			unsigned mask = plain_stops32(p, sv);
			if (mask != 0)
				return p + __builtin_ctz(mask);
		}
		if (p == end)
			return p;
		unsigned mask = plain_stops32(last, sv) >> (32 - (end - p));
		return p + (mask != 0 ? __builtin_ctz(mask) : end - p);
	}
#endif
#if defined(__SSE2__)
	if (likely(end - lo >= 16)) {
		const uint8_t *last = end - 16;
		for (; p <= last; p += 16) {
			unsigned mask = plain_stops(p, sv);
			if (mask != 0)
				return p + __builtin_ctz(mask);
		}
		if (p == end)
			return p;
		unsigned mask = plain_stops(last, sv) >> (16 - (end - p));
		return p + (mask != 0 ? __builtin_ctz(mask) : end - p);
	}
#else
	(void)lo;
	(void)sv;
#endif
	while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
		p++;
	return p;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629, table 3-7 of Unicode) starting at the
 * non-ASCII byte *p, or 0 if it is not one. */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
	size_t avail = (size_t)(end - p);
	uint8_t c = p[0];
	uint8_t lo = 0x80, hi = 0xBF;
	if (c < 0xC2)
		return 0; /* continuation byte, or C0/C1 (overlong) */
	if (c < 0xE0)
		return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
		return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c < 0xF5) {
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
		return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
				       (p[3] & 0xC0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

/* 0x10 | the value of hex digit c; 0 for any other byte. */
static const uint8_t hex_digit[256] = {
	['0'] = 0x10, ['1'] = 0x11, ['2'] = 0x12, ['3'] = 0x13, ['4'] = 0x14, ['5'] = 0x15,
	['6'] = 0x16, ['7'] = 0x17, ['8'] = 0x18, ['9'] = 0x19, ['a'] = 0x1a, ['b'] = 0x1b,
	['c'] = 0x1c, ['d'] = 0x1d, ['e'] = 0x1e, ['f'] = 0x1f, ['A'] = 0x1a, ['B'] = 0x1b,
	['C'] = 0x1c, ['D'] = 0x1d, ['E'] = 0x1e, ['F'] = 0x1f,
};

static inline int hex_value(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* hex4 digit by digit, for the position of what is wrong. */
static __attribute__((noinline)) int hex4_slow(struct dec *d, const uint8_t *p, unsigned *cp)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		if (p + i >= d->end)
			return fail_end(d);
		int h = hex_value(p[i]);
		if (h < 0)
			return dec_fail(d, EVENT_ERR_ESCAPE, "invalid \\u escape: not 4 hex digits",
					p + i);
		v = v << 4 | (unsigned)h;
	}
	*cp = v;
	return 0;
}

/* Reads the 4 hex digits of a \u escape starting at p into *cp: a table lookup per digit, their
 * validity gathered in one bit and tested once. */
static inline int hex4(struct dec *d, const uint8_t *p, unsigned *cp)
{
	if (likely(d->end - p >= 4)) {
		unsigned a = hex_digit[p[0]], b = hex_digit[p[1]], c = hex_digit[p[2]],
			 e = hex_digit[p[3]];
		if (likely(a & b & c & e & 0x10)) {
			*cp = (a & 0xF) << 12 | (b & 0xF) << 8 | (c & 0xF) << 4 | (e & 0xF);
			return 0;
		}
	}
	return hex4_slow(d, p, cp);
}

/* Appends k bytes to dst[0..cap) at *n when they fit; *n counts them either way, so that once
 * *n > cap nothing more is written. dst NULL: validate only. */
static inline void out_put(uint8_t *dst, size_t cap, size_t *n, const uint8_t *src, size_t k)
{
	if (dst != NULL && k <= cap && *n <= cap - k)
		memcpy(dst + *n, src, k);
	*n += k;
}

/* Writes code point cp (< 0x110000) as UTF-8 at out; returns its bytes (1..4). */
static inline size_t utf8_put(unsigned cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes the \uXXXX escape at p (and the low half of a surrogate pair after it) into *cp;
 * returns the bytes consumed (6 or 12), or a negative code. */
static int decode_unicode_escape(struct dec *d, const uint8_t *p, unsigned *cp)
{
	int rc = hex4(d, p + 2, cp);
	if (rc != 0)
		return rc;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return dec_fail(d, EVENT_ERR_ESCAPE,
				"invalid \\u escape: low surrogate without a high one", p);
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return 6;
	unsigned lo;
	/* A message cut inside the pair is an unexpected end, not a bad escape. */
	if (d->end - p == 6 || (d->end - p == 7 && p[6] == '\\'))
		return fail_end(d);
	if (p[6] != '\\' || p[7] != 'u')
		return dec_fail(d, EVENT_ERR_ESCAPE,
				"invalid \\u escape: high surrogate without a low one", p);
	rc = hex4(d, p + 8, &lo);
	if (rc != 0)
		return rc;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return dec_fail(d, EVENT_ERR_ESCAPE,
				"invalid \\u escape: high surrogate without a low one", p);
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	return 12;
}

/* Decodes the escape at p (p[0] == '\\'); appends its UTF-8 to dst; returns the bytes consumed
 * (2, 6 or 12), or a negative code. */
static int decode_escape(struct dec *d, const uint8_t *p, uint8_t *dst, size_t cap, size_t *n)
{
	uint8_t out[4];
	size_t k = 1;
	int used = 2;
	unsigned cp;
	if (d->end - p < 2)
		return fail_end(d);
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
		out[0] = p[1];
		break;
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		used = decode_unicode_escape(d, p, &cp);
		if (used < 0)
			return used;
		k = utf8_put(cp, out);
		break;
	default:
		return dec_fail(d, EVENT_ERR_ESCAPE, "invalid escape: unknown letter after '\\'", p);
	}
	out_put(dst, cap, n, out, k);
	return used;
}

/* Appends the plain bytes run[0..k) of the message to dst as out_put does: a short run with one
 * 16-byte copy where both sides have the room. */
static inline void out_run(const struct dec *d, uint8_t *dst, size_t cap, size_t *n,
			   const uint8_t *run, size_t k)
{
#if defined(__SSE2__)
	if (k <= 16 && dst != NULL && cap >= 16 && *n <= cap - 16 && d->end - run >= 16) {
		_mm_storeu_si128((void *)(dst + *n), _mm_loadu_si128((const void *)run));
		*n += k;
		return;
	}
#endif
	if (k != 0)
		out_put(dst, cap, n, run, k);
}

/* The rest of a string from its first backslash at d->p; start is just after the opening quote. */
static int parse_string_escaped(struct dec *d, struct str *s, const uint8_t *start, uint8_t *dst,
				size_t cap)
{
	const uint8_t *p = d->p, *end = d->end;
	size_t n = 0;
	out_run(d, dst, cap, &n, start, (size_t)(p - start));
	for (;;) {
		int used = decode_escape(d, p, dst, cap, &n); /* at a backslash */
		if (used < 0)
			return used;
		p += used;
		if (p < end && *p == '\\')
			continue; /* escapes in a row: no plain run between them */
		const uint8_t *run = p; /* plain bytes not yet appended */
		for (;;) {
			p = scan_plain_v(p, end, d->buf, d->sv);
			if (p >= end)
				return fail_end(d);
			if (*p < 0x80)
				break;
			size_t k = utf8_seq(p, end);
			if (k == 0)
				return dec_fail(d, EVENT_ERR_UTF8, "invalid UTF-8 in a string", p);
			p += k;
		}
		out_run(d, dst, cap, &n, run, (size_t)(p - run));
		if (*p == '"')
			break;
		if (*p != '\\')
			return dec_fail(d, EVENT_ERR_SYNTAX,
					"syntax error: control character in a string", p);
	}
	d->p = p + 1;
	s->ptr = dst;
	s->len = n;
	s->copied = true;
	return 0;
}

/*
 * Parses a string whose opening quote is just before d->p and leaves d->p after the closing
 * quote. Without escapes the value is a slice of the message; with escapes it is unescaped into
 * dst[0..cap) (dst NULL: only validated). Returns 0 or a negative code.
 */
static inline int parse_string(struct dec *d, struct str *s, uint8_t *dst, size_t cap)
{
	const uint8_t *start = d->p, *p = start, *end = d->end;
	for (;;) {
		p = scan_plain_v(p, end, d->buf, d->sv);
		if (unlikely(p >= end))
			return fail_end(d);
		uint8_t c = *p;
		if (likely(c == '"'))
			break;
		if (c >= 0x80) {
			size_t k = utf8_seq(p, end);
			if (k == 0)
				return dec_fail(d, EVENT_ERR_UTF8, "invalid UTF-8 in a string", p);
			p += k;
			continue;
		}
		if (c == '\\') {
			d->p = p;
			return parse_string_escaped(d, s, start, dst, cap);
		}
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: control character in a string", p);
	}
	d->p = p + 1;
	s->ptr = start;
	s->len = (size_t)(p - start);
	s->copied = false;
	return 0;
}

/* Parses a number at d->p by the JSON grammar:  -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
__attribute__((always_inline)) static inline int parse_number(struct dec *d, struct num *n)
{
	const uint8_t *p = d->p, *end = d->end;
	n->lo = d->buf;
	n->start = p;
	n->negative = false;
	n->integer = true;
	if (*p == '-') {
		n->negative = true;
		p++;
	}
	n->digits = p;
	if (p < end && *p == '0') {
		p++;
	} else if (p < end && is_digit(*p)) {
		p = digits_end_v(p, end, d->sv);
	} else {
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: invalid number", p);
	}
	if (p < end && *p == '.') {
		p++;
		n->integer = false;
		if (p >= end || !is_digit(*p))
			return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: invalid number", p);
		p = digits_end_v(p, end, d->sv);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		n->integer = false;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: invalid number", p);
		p = digits_end_v(p, end, d->sv);
	}
	n->end = p;
	d->p = p;
	return 0;
}

static int parse_literal(struct dec *d)
{
	const uint8_t *p = d->p;
	size_t avail = (size_t)(d->end - p);
	if (*p == 't' && avail >= 4 && memcmp(p, "true", 4) == 0) {
		d->p += 4;
		return 0;
	}
	if (*p == 'f' && avail >= 5 && memcmp(p, "false", 5) == 0) {
		d->p += 5;
		return 0;
	}
	if (*p == 'n' && avail >= 4 && memcmp(p, "null", 4) == 0) {
		d->p += 4;
		return 0;
	}
	return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: invalid literal", p);
}

/* Where skip_value is in the value it skips. */
enum skip_at {
	SKIP_VALUE, /* at a value */
	SKIP_CLOSE, /* after a value: a ',' or the end of its container, or done at level 0 */
	SKIP_KEY,   /* at an object's key */
};

/* Opens the container at d->p ('{' or '['): level `level` of objects' bits. */
static inline int skip_open(struct dec *d, int depth, int *level, uint64_t *objects,
			    enum skip_at *next)
{
	bool object = *d->p == '{';
	if (depth + *level + 1 > EVENT_DEPTH_MAX)
		return dec_fail(d, EVENT_ERR_DEPTH, "nesting deeper than EVENT_DEPTH_MAX", d->p);
	if (object)
		*objects |= UINT64_C(1) << *level;
	else
		*objects &= ~(UINT64_C(1) << *level);
	++*level;
	d->p++;
	skip_ws(d);
	if (d->p < d->end && *d->p == (object ? '}' : ']')) {
		d->p++;
		--*level;
		*next = SKIP_CLOSE;
	} else {
		*next = object ? SKIP_KEY : SKIP_VALUE;
	}
	return 0;
}

/* The value at d->p: a container is opened, a scalar skipped whole. */
static inline int skip_at_value(struct dec *d, int depth, int *level, uint64_t *objects,
				enum skip_at *next)
{
	struct str s;
	struct num n;
	if (d->p >= d->end)
		return fail_end(d);
	*next = SKIP_CLOSE;
	switch (*d->p) {
	case '{':
	case '[':
		return skip_open(d, depth, level, objects, next);
	case '"':
		d->p++;
		return parse_string(d, &s, NULL, 0);
	case 't':
	case 'f':
	case 'n':
		return parse_literal(d);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return parse_number(d, &n);
	default:
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected a value", d->p);
	}
}

/* After a value inside a container (level > 0): a ',' and the next one, or the closing. */
static inline int skip_after_value(struct dec *d, int *level, uint64_t objects,
				   enum skip_at *next)
{
	skip_ws(d);
	if (d->p >= d->end)
		return fail_end(d);
	bool in_object = (objects >> (*level - 1)) & 1;
	if (*d->p == ',') {
		d->p++;
		skip_ws(d);
		*next = in_object ? SKIP_KEY : SKIP_VALUE;
		return 0;
	}
	if (*d->p == (in_object ? '}' : ']')) {
		d->p++;
		--*level;
		*next = SKIP_CLOSE;
		return 0;
	}
	return dec_fail(d, EVENT_ERR_SYNTAX,
			in_object ? "syntax error: expected ',' or '}'" : "syntax error: expected ',' or ']'",
			d->p);
}

/* An object's key and its ':'. */
static inline int skip_key(struct dec *d, enum skip_at *next)
{
	struct str s;
	if (d->p >= d->end)
		return fail_end(d);
	if (*d->p != '"')
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected a string key", d->p);
	d->p++;
	int rc = parse_string(d, &s, NULL, 0);
	if (rc != 0)
		return rc;
	skip_ws(d);
	if (d->p >= d->end)
		return fail_end(d);
	if (*d->p != ':')
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected ':'", d->p);
	d->p++;
	skip_ws(d);
	*next = SKIP_VALUE;
	return 0;
}

/*
 * Skips one JSON value at d->p (not whitespace), validating all of it. depth is the nesting of
 * the container that holds the value (0 for the top level). Iterative: bit i of `objects` tells
 * whether the container opened at level i is an object (1) or an array (0).
 */
static int skip_value(struct dec *d, int depth)
{
	uint64_t objects = 0;
	int level = 0;
	enum skip_at at = SKIP_VALUE;
	for (;;) {
		int rc;
		if (at == SKIP_VALUE)
			rc = skip_at_value(d, depth, &level, &objects, &at);
		else if (at == SKIP_KEY)
			rc = skip_key(d, &at);
		else if (level == 0)
			return 0;
		else
			rc = skip_after_value(d, &level, objects, &at);
		if (rc != 0)
			return rc;
	}
}

/*
 * The value of the 8 ASCII digits at p, all at once: pairs, then quads, then the whole in three
 * multiplications instead of a chain of eight multiply-adds.
 */
static inline uint64_t eight_digits_word(uint64_t v)
{
	v -= 0x3030303030303030ull;
	v = v * 10 + (v >> 8); /* byte 2k: the pair of digits 2k, 2k + 1 */
	return (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
		(((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
}

static inline uint64_t eight_digits(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return eight_digits_word(le64toh(v));
}


/* ---- conversions: a token to a field's value ---- */

/*
 * Accumulates the decimal digits p[0..end) into *out; false on overflow of 64 bits. lo is the
 * lowest address that may be read: where p - lo >= 8, the leading n % 8 digits are read as the
 * last bytes of the word before p, the bytes ahead of them taken as '0'.
 */
static inline bool parse_u64(const uint8_t *p, const uint8_t *end, const uint8_t *lo,
			     uint64_t *out)
{
	uint64_t v = 0;
	size_t n = (size_t)(end - p);
	if (n <= 19) {
		/* 19 digits never overflow: the leading n % 8, then 8 at a time. */
		size_t r = n % 8;
		if (r >= 2 && p - lo >= 8) {
			uint64_t w, ahead = (UINT64_C(1) << (8 * (8 - r))) - 1;
			memcpy(&w, p + r - 8, sizeof(w));
			w = le64toh(w);
			v = eight_digits_word((w & ~ahead) | (0x3030303030303030ull & ahead));
			p += r;
			n -= r;
		}
		for (; n % 8; n--)
			v = v * 10 + (uint64_t)(*p++ - '0');
		for (; n; n -= 8, p += 8)
			v = v * 100000000 + eight_digits(p);
		*out = v;
		return true;
	}
	for (; p < end; p++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return false;
	}
	*out = v;
	return true;
}

/* An integer magnitude m with its sign into field f's range: its slot, or a reason. */
static inline int conv_integer(const struct ev_field *f, uint64_t m, bool negative,
			       struct event_value *v)
{
	if (f->op == OP_U64) {
		if (negative)
			return R_NEGATIVE;
		if (m > f->umax)
			return R_RANGE;
		v->u64 = m;
	} else {
		if (negative ? m > (uint64_t)-(f->lo + 1) + 1 : m > (uint64_t)f->hi)
			return R_RANGE;
		v->i64 = negative ? (int64_t)(0 - m) : (int64_t)m;
	}
	v->null = 0;
	return 0;
}

/* Decimal text of an integer field: digits, a '-' first for Int. */
static int conv_decimal_text(const struct ev_field *f, const uint8_t *s, size_t n,
			     struct event_value *v)
{
	bool negative = f->op == OP_I64 && n > 1 && s[0] == '-';
	const uint8_t *p = s + negative, *end = s + n;
	if (p == end || digits_end(p, end) != end)
		return R_NOT_DEC;
	uint64_t m;
	if (!parse_u64(p, end, s, &m))
		return R_RANGE;
	return conv_integer(f, m, negative, v);
}

/* A number in the field's unit to its value: times mul, or floor-divided by div. */
static int conv_time_number(const struct ev_field *f, const struct num *n, struct event_value *v)
{
	if (!f->has_unit)
		return R_TYPE;
	if (!n->integer)
		return R_EPOCH;
	uint64_t m;
	if ((n->negative && f->lo >= 0) || !parse_u64(n->digits, n->end, n->lo, &m) || m > INT64_MAX)
		return R_OUTSIDE;
	int64_t x = n->negative ? -(int64_t)m : (int64_t)m, t;
	if (f->div > 1)
		t = x >= 0 ? x / f->div : -((-x + f->div - 1) / f->div);
	else if (__builtin_mul_overflow(x, f->mul, &t))
		return R_OUTSIDE;
	if (t < f->lo || t > f->hi)
		return R_OUTSIDE;
	v->i64 = t;
	v->null = 0;
	return 0;
}

/*
 * A JSON number token as a double (float for Float32), correctly rounded: exactly, when the
 * significant digits and the power of ten are both exact in the type (Clinger's fast path: every
 * value producers write); else by strtod_l in the C locale on a copy of the token.
 */
static bool parse_float(const struct event_plan *pl, const struct num *n, bool f32, double *out)
{
	uint64_t m = 0;
	int sig = 0, exp10 = 0;
	bool dropped = false; /* a non-zero digit past the 19 kept */
	const uint8_t *p = n->digits;
	for (; p < n->end && is_digit(*p); p++) {
		unsigned dgt = (unsigned)(*p - '0');
		if (sig < 19 && (m != 0 || dgt != 0))
			m = m * 10 + dgt, sig++;
		else if (sig >= 19)
			exp10++, dropped |= dgt != 0;
	}
	if (p < n->end && *p == '.') {
		for (p++; p < n->end && is_digit(*p); p++) {
			unsigned dgt = (unsigned)(*p - '0');
			if (sig < 19 && (m != 0 || dgt != 0))
				m = m * 10 + dgt, sig++, exp10--;
			else if (sig < 19)
				exp10--; /* a leading zero of the fraction */
			else
				dropped |= dgt != 0;
		}
	}
	if (p < n->end) { /* the exponent: e or E, a sign, digits */
		bool eneg = false;
		int e = 0;
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		for (; p < n->end; p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		exp10 += eneg ? -e : e;
	}
	static const double p10[23] = {1e0,  1e1,  1e2,	 1e3,  1e4,  1e5,  1e6,	 1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	if (!dropped && f32 && m <= (1u << 24) && exp10 >= -10 && exp10 <= 10) {
		float x = (float)m;
		x = exp10 < 0 ? x / (float)p10[-exp10] : x * (float)p10[exp10];
		*out = n->negative ? -(double)x : (double)x;
		return true;
	}
	if (!dropped && !f32 && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
		double x = (double)m;
		x = exp10 < 0 ? x / p10[-exp10] : x * p10[exp10];
		*out = n->negative ? -x : x;
		return true;
	}
	char tmp[128];
	size_t len = (size_t)(n->end - n->start);
	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, n->start, len);
	tmp[len] = '\0';
	*out = f32 ? (double)strtof_l(tmp, NULL, pl->c_locale) : strtod_l(tmp, NULL, pl->c_locale);
	return true;
}

/* "a.b.c.d", each part 0..255 without a leading zero: one to three digits a part, unrolled. */
static bool parse_ipv4(const uint8_t *s, size_t n, uint64_t *out)
{
	const uint8_t *p = s, *end = s + n;
	uint32_t addr = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0 && (p >= end || *p++ != '.'))
			return false;
		if (p >= end || !is_digit(*p))
			return false;
		unsigned x = (unsigned)(*p++ - '0');
		if (p < end && is_digit(*p)) {
			if (x == 0)
				return false; /* a leading zero */
			x = x * 10 + (unsigned)(*p++ - '0');
			if (p < end && is_digit(*p)) {
				x = x * 10 + (unsigned)(*p++ - '0');
				if (x > 255)
					return false;
			}
		}
		addr = addr << 8 | x;
	}
	*out = addr;
	return p == end;
}

static inline int hex_value(uint8_t c);

/* IPv6 text (RFC 4291 2.2): eight groups of 1..4 hex digits, "::" once for zero groups, the last
 * two groups also as an IPv4 address. */
static bool parse_ipv6(const uint8_t *s, size_t n, uint8_t out[16])
{
	uint16_t g[8];
	int count = 0, gap = -1;
	size_t i = 0;
	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
	} else if (n > 0 && s[0] == ':') {
		return false;
	}
	while (i < n) {
		size_t first = i;
		unsigned x = 0;
		while (i < n && i - first < 4 && hex_value(s[i]) >= 0)
			x = x << 4 | (unsigned)hex_value(s[i++]);
		if (i < n && s[i] == '.' && count <= 6) { /* an IPv4 tail */
			uint64_t v4;
			if (!parse_ipv4(s + first, n - first, &v4))
				return false;
			g[count++] = (uint16_t)(v4 >> 16);
			g[count++] = (uint16_t)v4;
			i = n;
			break;
		}
		if (i == first || count == 8)
			return false;
		g[count++] = (uint16_t)x;
		if (i == n)
			break;
		if (s[i++] != ':')
			return false;
		if (i < n && s[i] == ':') {
			if (gap >= 0)
				return false;
			gap = count;
			i++;
		} else if (i == n) {
			return false; /* a trailing single ':' */
		}
	}
	if (gap < 0 ? count != 8 : count > 7)
		return false;
	memset(out, 0, 16);
	int tail = gap < 0 ? 0 : count - gap;
	for (int k = 0; k < count; k++) {
		int at = gap >= 0 && k >= gap ? 8 - tail + (k - gap) : k;
		out[2 * at] = (uint8_t)(g[k] >> 8);
		out[2 * at + 1] = (uint8_t)g[k];
	}
	return true;
}


static inline int time_reason(int timetext_err)
{
	switch (timetext_err) {
	case TIMETEXT_ERR_OFFSET:
		return R_OFFSET;
	case TIMETEXT_ERR_DATE:
		return R_DATE;
	case TIMETEXT_ERR_TIME:
		return R_TIME;
	case TIMETEXT_ERR_RANGE:
		return R_OUTSIDE;
	default:
		return R_FORMAT;
	}
}

/* Date and date-time text. */
__attribute__((always_inline)) static inline int conv_time_text(const struct ev_field *f, const uint8_t *s, size_t n,
			  struct event_value *v)
{
	int64_t t;
	int rc = f->op == OP_DATE ? timetext_date_parse((const char *)s, n, &t)
				  : timetext_rfc3339_parse((const char *)s, n, f->precision, &t);
	if (unlikely(rc != 0))
		return time_reason(rc);
	if (unlikely(t < f->lo || t > f->hi))
		return R_OUTSIDE;
	v->i64 = t;
	v->null = 0;
	return 0;
}

/*
 * A string value s[0..n) as field f's: 0, a reason, or R_PLACE for UUID and IPv6 bytes read into
 * b16 (the caller places them in scratch).
 */
__attribute__((always_inline)) static inline int conv_str(const struct ev_field *f, const uint8_t *s, size_t n,
			   struct event_value *v, uint8_t *b16)
{
	switch (f->op) {
	case OP_FIXED:
		if (n > f->fixed_len)
			return R_LONG_FIXED;
		/* fall through */
	case OP_STRING:
		v->ptr = (const char *)s;
		v->len = (uint32_t)n;
		v->null = 0;
		return 0;
	case OP_DT64:
	case OP_DATETIME:
	case OP_DATE:
		return conv_time_text(f, s, n, v);
	case OP_U64:
	case OP_I64:
		return conv_decimal_text(f, s, n, v);
	case OP_UUID:
	case OP_IPV6:
		if (!(f->op == OP_UUID ? uuidtext_parse(s, n, b16) : parse_ipv6(s, n, b16)))
			return f->op == OP_UUID ? R_NOT_UUID : R_NOT_IPV6;
		v->len = 16;
		v->null = 0;
		return R_PLACE;
	case OP_IPV4:
		if (!parse_ipv4(s, n, &v->u64))
			return R_NOT_IPV4;
		v->null = 0;
		return 0;
	default:
		return R_TYPE;
	}
}

/* A number token as field f's. */
__attribute__((always_inline)) static inline int conv_num(const struct event_plan *pl, const struct ev_field *f,
			   const struct num *n, struct event_value *v)
{
	uint64_t m;
	switch (f->op) {
	case OP_U64:
	case OP_I64:
		if (!n->integer)
			return R_NOT_INT;
		if (f->op == OP_U64 && n->negative)
			return R_NEGATIVE;
		if (!parse_u64(n->digits, n->end, n->lo, &m))
			return R_RANGE;
		return conv_integer(f, m, n->negative, v);
	case OP_DT64:
	case OP_DATETIME:
	case OP_DATE:
		return conv_time_number(f, n, v);
	case OP_STRING:
	case OP_FIXED:
		if (!f->integers_text)
			return R_TYPE;
		if (!n->integer)
			return R_NOT_INT;
		if (n->negative)
			return R_NEGATIVE;
		/* The token is already canonical decimal text: point at it. */
		return conv_str(f, n->start, (size_t)(n->end - n->start), v, NULL);
	case OP_F64:
	case OP_F32:
		if (!parse_float(pl, n, f->op == OP_F32, &v->f64))
			return R_RANGE;
		if (v->f64 - v->f64 != 0)
			return R_RANGE; /* beyond the type's largest: infinity */
		v->null = 0;
		return 0;
	default:
		return R_TYPE;
	}
}

/* true, false or null (literal 't', 'f' or 'n') as field f's. */
static inline int conv_literal(const struct ev_field *f, uint8_t literal, struct event_value *v)
{
	if (literal == 'n') {
		if (!f->nullable)
			return R_TYPE;
		v->null = 1;
		return 0;
	}
	if (f->op != OP_BOOL)
		return R_TYPE;
	v->u64 = literal == 't';
	v->null = 0;
	return 0;
}

/* UUID and IPv6 bytes b16 into the kept scratch. */
static inline int place16(uint8_t *scratch, size_t limit, size_t *used, struct event_value *v,
			  const uint8_t *b16)
{
	if (scratch == NULL || limit - *used < 16)
		return R_SCRATCH;
	memcpy(scratch + *used, b16, 16);
	v->ptr = (const char *)scratch + *used;
	*used += 16;
	return 0;
}

/* The member of node n whose key is k[0..len) (unescaped), or NULL. */
static __attribute__((noinline)) const struct ev_member *
lookup(const struct event_plan *pl, const struct ev_node *n, const uint8_t *k, size_t len)
{
	if (len > n->key_max)
		return NULL;
	for (uint32_t h = ev_key_hash(n, k, len);; h = (h + 1) & n->table_mask) {
		uint32_t i = n->table[h];
		if (i == 0)
			return NULL;
		const struct ev_member *m = &pl->members[i - 1];
		if (m->key_len == len && memcmp(pl->arena + m->key_off, k, len) == 0)
			return m;
		if (n->perfect)
			return NULL;
	}
}

/* The two words that keep the first k bytes of a 16-byte block, k = 0..16. */
/* (k & 7: the shift of the branch not taken stays in range, which clang checks too) */
#define KEEP_WORD(k) ((k) >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * ((k) & 7))) - 1)
#define KEEP(k) {KEEP_WORD(k), KEEP_WORD((k) <= 8 ? 0 : (k) - 8)}
static const uint64_t block_keep[17][2] = {
	KEEP(0),  KEEP(1),  KEEP(2),  KEEP(3),	KEEP(4),  KEEP(5),  KEEP(6),  KEEP(7), KEEP(8),
	KEEP(9),  KEEP(10), KEEP(11), KEEP(12), KEEP(13), KEEP(14), KEEP(15), KEEP(16),
};

/*
 * The member of node n whose key is the plain (unescaped) key at kq, its opening quote, of len
 * bytes: a short key is read as one 16-byte block `"key"` and compared with the candidates' lit
 * (where the message has 16 bytes there); else as lookup does. A perfect table has one candidate.
 */
static inline const struct ev_member *lookup_quoted(const struct event_plan *pl,
						    const struct ev_node *n, const uint8_t *kq,
						    size_t len, const uint8_t *end)
{
	if (unlikely(len > EV_KEY_SHORT || end - kq < 16))
		return lookup(pl, n, kq + 1, len);
	/* Keep `"key"`: len + 2 bytes, 2..15 of them (a member's lit has ':' after them). */
	const uint64_t *keep = block_keep[len + 2];
	uint64_t w0, w1;
	memcpy(&w0, kq, 8);
	memcpy(&w1, kq + 8, 8);
	w0 &= keep[0];
	w1 &= keep[1];
	for (uint32_t h = ev_block_hash(n, w0, w1);; h = (h + 1) & n->table_mask) {
		uint32_t i = n->table[h];
		if (i == 0)
			return NULL;
		const struct ev_member *m = &pl->members[i - 1];
		uint64_t m0, m1;
		memcpy(&m0, m->lit, 8);
		memcpy(&m1, m->lit + 8, 8);
		if (m->key_len == len && (m0 & keep[0]) == w0 && (m1 & keep[1]) == w1)
			return m;
		if (n->perfect)
			return NULL;
	}
}


/* ---- the general pass ---- */

/*
 * Whether the message has member m's `"key":` at p: one 16-byte compare when the message has 16
 * bytes there. A member whose key is too long for lit, and the end of the guessed order, have a
 * lit that matches nothing (a NUL where the quote is).
 */
static inline bool fast_lit(const uint8_t *p, const uint8_t *end, const struct ev_member *m)
{
#if defined(__SSE2__)
	if (likely(end - p > 16)) { /* then a value byte follows a matched key */
		__m128i v = _mm_loadu_si128((const void *)p);
		__m128i want = _mm_load_si128((const void *)m->lit);
		unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, want));
		return (eq & m->lit_mask) == m->lit_mask;
	}
#endif
	return (size_t)(end - p) > m->lit_len && memcmp(p, m->lit, m->lit_len) == 0;
}

/* fast_lit where the message has 17 bytes at p (the 16 compared, and a value byte after a key
 * that matches). */
static inline bool lit_at(const uint8_t *p, const struct ev_member *m)
{
#if defined(__SSE2__)
	__m128i v = _mm_loadu_si128((const void *)p);
	__m128i want = _mm_load_si128((const void *)m->lit);
	unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, want));
	return (eq & m->lit_mask) == m->lit_mask;
#else
	return memcmp(p, m->lit, m->lit_len) == 0;
#endif
}


/* Parses a string value at d->p (on its opening quote) into the free part of scratch. */
static inline int parse_string_value(struct dec *d, struct str *s)
{
	uint8_t *dst = d->scratch != NULL ? d->scratch + d->scratch_used : NULL;
	d->p++;
	return parse_string(d, s, dst, d->top - d->scratch_used);
}

static inline bool fits_scratch(const struct dec *d, const struct str *s)
{
	return !s->copied || s->len <= d->top - d->scratch_used;
}

static void field_fail(struct dec *d, const struct ev_field *f, int reason, const uint8_t *at)
{
	dec_field_fail(d, ev_reason_code(reason), f->why[reason], at);
}

/* A string value of field f (kept strings stay in scratch when they were unescaped). */
static int decode_string(struct dec *d, const struct ev_field *f, struct event_value *v)
{
	const uint8_t *at = d->p;
	struct str s;
	int rc = parse_string_value(d, &s);
	if (rc != 0)
		return rc;
	if (!fits_scratch(d, &s)) {
		field_fail(d, f, R_SCRATCH, at);
		return 0;
	}
	uint8_t b16[16];
	int r = conv_str(f, s.ptr, s.len, v, b16);
	if (r == R_PLACE)
		r = place16(d->scratch, d->top, &d->scratch_used, v, b16);
	else if (r == 0 && s.copied && f->kept)
		d->scratch_used += s.len; /* an unescaped copy that is not kept is scratch only */
	if (r != 0)
		field_fail(d, f, r, at);
	return 0;
}

/* Whether an array of count elements of size bytes still fits above used once kept more bytes
 * are kept: the finished array must not reach the elements collected below top. */
static inline bool array_room(const struct dec *d, size_t kept, size_t count, size_t size)
{
	size_t at = (d->scratch_used + kept + 7) & ~(size_t)7;
	return at <= d->top && d->top - at >= (count + 2) * size;
}

/* One element of an array field at d->p, collected below d->top; *bad the first element error. */
static int decode_element(struct dec *d, const struct ev_field *f, int depth, int *bad)
{
	size_t size = f->op == OP_ARR_STR ? sizeof(struct event_str) : sizeof(int64_t);
	size_t count = (d->limit - d->top) / size;
	const uint8_t *at = d->p;
	int r = 0;
	if (f->op == OP_ARR_STR && *d->p == '"') {
		struct str s;
		int rc = parse_string_value(d, &s);
		if (rc != 0)
			return rc;
		size_t kept = s.copied ? s.len : 0;
		if (!fits_scratch(d, &s) || !array_room(d, kept, count, size)) {
			r = R_SCRATCH;
		} else {
			d->scratch_used += kept;
			d->top -= size;
			struct event_str e = {(const char *)s.ptr, (uint32_t)s.len};
			memcpy(d->scratch + d->top, &e, size);
		}
	} else if (f->op == OP_ARR_I64 && (*d->p == '-' || is_digit(*d->p))) {
		struct num n = {0};
		int rc = parse_number(d, &n);
		if (rc != 0)
			return rc;
		struct event_value x;
		uint64_t m;
		if (!n.integer) {
			r = R_ELEM_TYPE;
		} else if (!parse_u64(n.digits, n.end, n.lo, &m) ||
			   conv_integer(f, m, n.negative, &x) != 0) {
			r = R_ELEM_RANGE;
		} else if (!array_room(d, 0, count, size)) {
			r = R_SCRATCH;
		} else {
			d->top -= size;
			memcpy(d->scratch + d->top, &x.i64, size);
		}
	} else {
		int rc = skip_value(d, depth + 1);
		if (rc != 0)
			return rc;
		r = R_ELEM_TYPE;
	}
	if (r != 0 && *bad == 0) {
		*bad = r;
		field_fail(d, f, r, at);
	}
	return 0;
}

/* Moves the array's elements, read below limit in reverse, to their slot above used. */
static void array_finish(struct dec *d, const struct ev_field *f, struct event_value *v)
{
	size_t size = f->op == OP_ARR_STR ? sizeof(struct event_str) : sizeof(int64_t);
	size_t count = (d->limit - d->top) / size;
	size_t at = (d->scratch_used + 7) & ~(size_t)7;
	for (size_t i = 0; i < count; i++)
		memcpy(d->scratch + at + i * size, d->scratch + d->limit - (i + 1) * size, size);
	v->ptr = count ? (const char *)d->scratch + at : "";
	v->len = (uint32_t)count;
	v->null = 0;
	if (count)
		d->scratch_used = at + count * size;
	d->top = d->limit;
}

/* An array field's value at d->p ('['); the container holding it is at depth. */
static int decode_array(struct dec *d, const struct ev_field *f, struct event_value *v, int depth)
{
	if (depth + 1 > EVENT_DEPTH_MAX)
		return dec_fail(d, EVENT_ERR_DEPTH, "nesting deeper than EVENT_DEPTH_MAX", d->p);
	int bad = 0;
	d->p++;
	skip_ws(d);
	if (d->p < d->end && *d->p == ']') {
		d->p++;
		array_finish(d, f, v);
		return 0;
	}
	for (;;) {
		if (d->p >= d->end)
			return fail_end(d);
		int rc = decode_element(d, f, depth, &bad);
		if (rc != 0)
			return rc;
		skip_ws(d);
		if (d->p >= d->end)
			return fail_end(d);
		if (*d->p == ']')
			break;
		if (*d->p != ',')
			return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected ',' or ']'", d->p);
		d->p++;
		skip_ws(d);
	}
	d->p++;
	if (bad == 0)
		array_finish(d, f, v);
	d->top = d->limit;
	return 0;
}

/* The value at d->p (not whitespace, not the end) of field fi, in an object at depth. */
static int decode_field(struct dec *d, uint32_t fi, int depth)
{
	const struct ev_field *f = &d->plan->fields[fi];
	struct event_value *v = &d->vals[fi];
	const uint8_t *at = d->p;
	int r, rc;
	struct num n;
	switch (*d->p) {
	case '"':
		return decode_string(d, f, v);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		rc = parse_number(d, &n);
		if (rc != 0)
			return rc;
		r = conv_num(d->plan, f, &n, v);
		break;
	case 't':
	case 'f':
	case 'n':
		rc = parse_literal(d);
		if (rc != 0)
			return rc;
		r = conv_literal(f, *at, v);
		break;
	case '[':
		if (f->op == OP_ARR_STR || f->op == OP_ARR_I64)
			return decode_array(d, f, v, depth);
		/* fall through */
	default:
		rc = skip_value(d, depth);
		if (rc != 0)
			return rc;
		r = R_TYPE;
		break;
	}
	if (r != 0)
		field_fail(d, f, r, at);
	return 0;
}

/* Appends an undeclared top-level member, `"key":value` as it came, to the catch-all text. */
static void catch_append(struct dec *d, const uint8_t *key, const uint8_t *key_end,
			 const uint8_t *value, const uint8_t *value_end)
{
	size_t k = (size_t)(key_end - key), n = (size_t)(value_end - value);
	size_t need = 1 + k + 1 + n;
	if (d->catch_len + need + 1 > d->catch_cap) {
		dec_field_fail(d, EVENT_ERR_TOO_LONG, d->plan->catch_why, key);
		return;
	}
	uint8_t *o = d->scratch + d->limit + d->catch_len;
	*o++ = d->catch_len == 0 ? '{' : ',';
	memcpy(o, key, k);
	o[k] = ':';
	memcpy(o + k + 1, value, n);
	d->catch_len += need;
}

static int decode_object(struct dec *d, uint32_t node, int depth);

/* A member that is an object of the trie (a declared path's parent). */
static int decode_parent(struct dec *d, const struct ev_member *m, int depth)
{
	const uint8_t *at = d->p;
	uint64_t bit = UINT64_C(1) << m->child;
	if (d->objects & bit) {
		dec_field_fail(d, EVENT_ERR_DUPLICATE, d->plan->nodes[m->child].dup_why, at);
		return skip_value(d, depth);
	}
	d->objects |= bit;
	if (*d->p == '{') {
		d->p++;
		return decode_object(d, m->child, depth + 1);
	}
	int rc = skip_value(d, depth);
	if (rc == 0 && *at != 'n') /* null: the fields below are absent */
		dec_field_fail(d, EVENT_ERR_TYPE, d->plan->nodes[m->child].obj_why, at);
	return rc;
}

/* The value of member m (NULL: undeclared) at d->p, in an object at depth. */
static inline int decode_member(struct dec *d, const struct ev_member *m, int depth)
{
	if (m == NULL)
		return skip_value(d, depth);
	if (m->field < 0)
		return decode_parent(d, m, depth);
	uint64_t bit = UINT64_C(1) << m->field;
	if (d->seen & bit) {
		const struct ev_field *f = &d->plan->fields[m->field];
		dec_field_fail(d, EVENT_ERR_DUPLICATE, f->why[R_DUPLICATE], d->p);
		return skip_value(d, depth);
	}
	d->seen |= bit;
	return decode_field(d, (uint32_t)m->field, depth);
}

/* A key and its ':' at d->p: the member of node it names (NULL: undeclared). */
static inline int decode_key(struct dec *d, const struct ev_node *n, const struct ev_member **out)
{
	struct str key;
	uint8_t key_buf[KEY_MAX];
	if (d->p >= d->end)
		return fail_end(d);
	if (*d->p != '"')
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected a string key", d->p);
	d->p++;
	const uint8_t *kq = d->p - 1;
	int rc = parse_string(d, &key, key_buf, sizeof(key_buf));
	if (rc != 0)
		return rc;
	if (!key.copied)
		*out = lookup_quoted(d->plan, n, kq, key.len, d->end);
	else
		*out = key.len <= sizeof(key_buf) ? lookup(d->plan, n, key.ptr, key.len) : NULL;
	skip_ws(d);
	if (d->p >= d->end)
		return fail_end(d);
	if (*d->p != ':')
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected ':'", d->p);
	d->p++;
	skip_ws(d);
	if (d->p >= d->end)
		return fail_end(d);
	return 0;
}

/* After an object's member: its ',' and the whitespace after it (1), or its '}' (0). */
static inline int object_next(struct dec *d)
{
	skip_ws(d);
	if (d->p >= d->end)
		return fail_end(d);
	if (*d->p == ',') {
		d->p++;
		skip_ws(d);
		return 1;
	}
	if (*d->p == '}') {
		d->p++;
		return 0;
	}
	return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected ',' or '}'", d->p);
}

/*
 * The members of an object of the trie from the one at d->p (its key, whitespace skipped) to the
 * '}' after them; last is the member before (its next is the member expected), depth counts the
 * event as 1.
 */
static int decode_members(struct dec *d, uint32_t node, int depth, const struct ev_member *last)
{
	const struct ev_node *n = &d->plan->nodes[node];
	bool catching = node == 0 && d->plan->catch_all;
	for (;;) {
		const uint8_t *key = d->p;
		const struct ev_member *m = last->next;
		int rc = 0;
		if (fast_lit(d->p, d->end, m)) { /* the expected key, plain and with ':' after it */
			d->p += m->lit_len;
			skip_ws(d);
			if (d->p >= d->end)
				return fail_end(d);
		} else {
			rc = decode_key(d, n, &m);
			if (rc != 0)
				return rc;
		}
		last = m != NULL ? m : last;
		const uint8_t *value = d->p;
		rc = decode_member(d, m, depth);
		if (rc != 0)
			return rc;
		if (m == NULL && catching) {
			const uint8_t *key_end = key + 1;
			while (*key_end != '"')
				key_end += *key_end == '\\' ? 2 : 1;
			catch_append(d, key, key_end + 1, value, d->p);
		}
		rc = object_next(d);
		if (rc <= 0)
			return rc;
	}
}

/* The members of an object of the trie, d->p just after its '{'; depth counts the event as 1. */
static int decode_object(struct dec *d, uint32_t node, int depth)
{
	skip_ws(d);
	if (d->p < d->end && *d->p == '}') {
		d->p++;
		return 0;
	}
	return decode_members(d, node, depth, &d->plan->members[d->plan->nodes[node].start]);
}

/* The top level once it is known not to be an object: valid JSON gives NOT_OBJECT. */
static int decode_not_object(struct dec *d)
{
	const uint8_t *at = d->p;
	if (d->p == d->buf && d->end - d->p >= 3 && d->p[0] == 0xEF && d->p[1] == 0xBB &&
	    d->p[2] == 0xBF)
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: byte order mark", d->p);
	int rc = skip_value(d, 0);
	if (rc != 0)
		return rc;
	skip_ws(d);
	if (d->p != d->end)
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: data after the value", d->p);
	return dec_fail(d, EVENT_ERR_NOT_OBJECT, "event: not a JSON object", at);
}

/* The fields the message did not give: defaults, NULLs, or the first missing one. */
static int fill_absent(const struct event_plan *pl, uint64_t seen, struct event_value *vals,
		       const char **why)
{
	uint64_t absent = pl->all & ~seen;
	if (unlikely(absent & pl->required)) {
		*why = pl->fields[__builtin_ctzll(absent & pl->required)].why[R_MISSING];
		return EVENT_ERR_MISSING;
	}
	for (; absent; absent &= absent - 1) {
		uint32_t f = (uint32_t)__builtin_ctzll(absent);
		vals[f] = pl->dflt[f]; /* a default, or NULL */
	}
	return 0;
}

/* The catch-all slot: "{}" without undeclared members, else its text moved down to used. */
static void catch_finish(struct dec *d)
{
	struct event_value *v = &d->vals[d->plan->field_count];
	v->null = 0;
	if (d->catch_len == 0) {
		v->ptr = "{}";
		v->len = 2;
		return;
	}
	d->scratch[d->limit + d->catch_len] = '}';
	size_t n = d->catch_len + 1;
	memmove(d->scratch + d->scratch_used, d->scratch + d->limit, n);
	v->ptr = (const char *)d->scratch + d->scratch_used;
	v->len = (uint32_t)n;
	d->scratch_used += n;
}

/* The message after the event object's '}' at d->p: nothing but whitespace; then the first
 * field error, the absent fields and the catch-all. */
static int decode_end(struct dec *d)
{
	skip_ws(d);
	if (d->p != d->end)
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: data after the object", d->p);
	if (d->field_err != 0)
		return dec_fail(d, d->field_err, d->field_reason, d->field_at);
	const char *why;
	int rc = fill_absent(d->plan, d->seen, d->vals, &why);
	if (rc != 0)
		return dec_fail(d, rc, why, d->end);
	if (d->plan->catch_all)
		catch_finish(d);
	return 0;
}

static int decode(struct dec *d)
{
	skip_ws(d);
	if (d->p == d->end)
		return dec_fail(d, EVENT_ERR_EMPTY, "event: empty message", d->p);
	if (*d->p != '{')
		return decode_not_object(d);
	d->p++;
	int rc = decode_object(d, 0, 1);
	if (rc != 0)
		return rc;
	return decode_end(d);
}

/*
 * The message from d->p, just after a member of the event object that the fast pass read (d's
 * fields, objects and scratch are as it left them): what follows is read as decode reads it
 * there, so the result is the one decode gives from the start.
 */
static int decode_resumed(struct dec *d, const struct ev_member *last)
{
	int rc = object_next(d);
	if (rc > 0)
		rc = decode_members(d, 0, 1, last);
	if (rc != 0)
		return rc;
	return decode_end(d);
}


/* ---- the fast path ---- */

/*
 * What producers send: a compact object of declared members with plain values, most often in
 * the same order message after message. fast_object takes exactly such messages, all of whose
 * values are valid: it compares the `"key":` bytes of the member it expects next (the one that
 * came after the last member in the last such message), looks any other key up, and reads values
 * without whitespace or escape handling. It answers NULL for anything else (whitespace, escapes,
 * an undeclared member, null for a parent, any value the general pass would reject): event_decode
 * then decodes the message from its start with the general pass, so a message's result never
 * depends on which path took it. The cursor and the fields seen live in locals (registers); the
 * rest of the state is in struct fast.
 */

/* A key other than the expected one at *p (on its quote): its member, *p past its ':'. */
static const struct ev_member *fast_key(const struct fast *fs, const struct ev_node *n,
					const uint8_t **p)
{
	if (fs->end - *p < 2 || **p != '"')
		return NULL;
	const uint8_t *k = *p + 1;
	const uint8_t *q = scan_plain_v(k, fs->end, fs->lo, &fs->sv);
	if (q >= fs->end || *q != '"' || fs->end - q < 2 || q[1] != ':')
		return NULL;
	const uint8_t *kq = *p;
	*p = q + 2;
	return lookup_quoted(fs->plan, n, kq, (size_t)(q - k), fs->end);
}

/* A string value without escapes or control bytes (valid UTF-8) at *p (on its opening quote);
 * lo is the message's first byte. */
static inline bool fast_string(const uint8_t **p, const uint8_t *end, const uint8_t *lo,
			       const struct ev_scan_vec *sv, const uint8_t **s, size_t *n)
{
	const uint8_t *q = *p;
	const uint8_t *close = q + 1;
	for (;;) {
		close = scan_plain_v(close, end, lo, sv);
		if (close >= end)
			return false;
		if (*close == '"')
			break;
		size_t k = *close >= 0x80 ? utf8_seq(close, end) : 0;
		if (k == 0)
			return false;
		close += k;
	}
	*s = q + 1;
	*n = (size_t)(close - (q + 1));
	*p = close + 1;
	return true;
}

/* The first '"' of at[0..16) (16 bytes there), or NULL: one compare with SSE2. */
static inline const uint8_t *quote_in16(const uint8_t *at, const struct ev_scan_vec *sv)
{
#if defined(__SSE2__)
	__m128i v = _mm_loadu_si128((const void *)at);
	unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sv->quote));
	return q != 0 ? at + __builtin_ctz(q) : NULL;
#else
	(void)sv;
	for (int i = 0; i < 16; i++)
		if (at[i] == '"')
			return at + i;
	return NULL;
#endif
}

/*
 * The closing quote of the date-time text that starts at s (after its opening quote): the first
 * '"' of s[20..36), in one compare where the message has those bytes; else NULL (the string is
 * scanned). A date-time text has 20 to 35 bytes, and its reader checks every byte before the
 * quote: a text it accepts is a plain string, as a scan would have found it.
 */
static inline const uint8_t *time_close(const uint8_t *s, const uint8_t *end,
					const struct ev_scan_vec *sv)
{
	return likely(end - s >= 36) ? quote_in16(s + 20, sv) : NULL;
}

/* A number at *pp by the JSON grammar. */
static inline bool fast_number(const uint8_t **pp, const struct fast *fs, struct num *n)
{
	const uint8_t *p = *pp, *end = fs->end;
	const struct ev_scan_vec *sv = &fs->sv;
	n->lo = fs->lo;
	n->start = p;
	n->negative = *p == '-';
	p += n->negative;
	n->digits = p;
	n->integer = true;
	if (p >= end || !is_digit(*p))
		return false;
	p = *p == '0' ? p + 1 : digits_end_v(p, end, sv);
	if (p < end && *p == '.') {
		n->integer = false;
		const uint8_t *q = digits_end_v(++p, end, sv);
		if (q == p)
			return false;
		p = q;
	}
	if (p < end && (*p | 0x20) == 'e') {
		n->integer = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		const uint8_t *q = digits_end_v(p, end, sv);
		if (q == p)
			return false;
		p = q;
	}
	n->end = p;
	*pp = p;
	return true;
}

/* An array of plain strings or integers at p ('['): its elements go straight above used.
 * Returns the position after it, or NULL. */
static const uint8_t *fast_array(struct fast *fs, const struct ev_field *f, struct event_value *v,
				 const uint8_t *p)
{
	bool strings = f->op == OP_ARR_STR;
	size_t size = strings ? sizeof(struct event_str) : sizeof(int64_t);
	const struct ev_scan_vec *sv = &fs->sv;
	size_t at = (fs->used + 7) & ~(size_t)7, count = 0;
	const uint8_t *end = fs->end;
	p++;
	if (p < end && *p == ']') {
		v->ptr = "";
		v->len = 0;
		v->null = 0;
		return p + 1;
	}
	for (;;) {
		if (p >= end || at > fs->limit || (fs->limit - at) / size <= count)
			return NULL;
		uint8_t *slot = fs->scratch + at + count * size;
		if (strings) {
			const uint8_t *str;
			size_t n;
			if (*p != '"' || !fast_string(&p, end, fs->lo, sv, &str, &n))
				return NULL;
			struct event_str e = {(const char *)str, (uint32_t)n};
			memcpy(slot, &e, size);
		} else {
			struct num n;
			struct event_value x;
			uint64_t m;
			if (!fast_number(&p, fs, &n) || !n.integer || !parse_u64(n.digits, n.end, n.lo, &m) ||
			    conv_integer(f, m, n.negative, &x) != 0)
				return NULL;
			memcpy(slot, &x.i64, size);
		}
		count++;
		if (p >= end)
			return NULL;
		if (*p == ']')
			break;
		if (*p++ != ',')
			return NULL;
	}
	v->ptr = (const char *)fs->scratch + at;
	v->len = (uint32_t)count;
	v->null = 0;
	fs->used = at + count * size;
	return p + 1;
}

static const uint8_t *fast_object(struct fast *fs, uint32_t node, const uint8_t *p);

/* Any value of member mb at p (p < end): the position after it, or NULL. */
static __attribute__((noinline)) const uint8_t *
fast_value_any(struct fast *fs, const struct ev_member *mb, const uint8_t *p)
{
	if (mb->op == OP_OBJECT) {
		uint64_t bit = UINT64_C(1) << mb->child;
		if ((fs->objects & bit) || *p != '{')
			return NULL;
		fs->objects |= bit;
		return fast_object(fs, mb->child, p + 1);
	}
	const struct ev_field *f = mb->f;
	struct event_value *v = &fs->vals[mb->field];
	const uint8_t *end = fs->end;
	uint8_t c = *p;
	if (c == '"') {
		const uint8_t *s;
		size_t n;
		uint8_t b16[16];
		if (!fast_string(&p, end, fs->lo, &fs->sv, &s, &n))
			return NULL;
		int r = conv_str(f, s, n, v, b16);
		if (r == 0)
			return p;
		return r == R_PLACE && place16(fs->scratch, fs->limit, &fs->used, v, b16) == 0 ? p
											       : NULL;
	}
	if (c == '-' || is_digit(c)) {
		struct num n;
		if (!fast_number(&p, fs, &n) || conv_num(fs->plan, f, &n, v) != 0)
			return NULL;
		return p;
	}
	if (c == '[')
		return f->op == OP_ARR_STR || f->op == OP_ARR_I64 ? fast_array(fs, f, v, p) : NULL;
	/* true, false, null: their first four bytes as one word, and false's 'e' */
	uint32_t word;
	size_t len = c == 'f' ? 5 : 4;
	if (c != 't' && c != 'f' && c != 'n')
		return NULL; /* an object: the general pass */
	if ((size_t)(end - p) < len)
		return NULL;
	memcpy(&word, p, 4);
	if (memcmp(&word, c == 't' ? "true" : c == 'f' ? "fals" : "null", 4) != 0 ||
	    (len == 5 && p[4] != 'e') || conv_literal(f, c, v) != 0)
		return NULL;
	return p + len;
}

/*
 * The value of member mb at p (p < end): the position after it, or NULL. What producers send
 * most, a string into a String field, an unsigned integer into an integer field and a date-time
 * text into a time field, is read here in line (as the conversions would read it); anything else,
 * nested objects included, by fast_value_any (*seen goes through fs there).
 */
static __attribute__((always_inline)) inline const uint8_t *
fast_value(struct fast *fs, const struct ev_member *mb, const uint8_t *p,
	   const struct ev_scan_vec *sv, uint64_t *seen, bool top)
{
	const struct ev_field *f = mb->f;
	struct event_value *v = (struct event_value *)(void *)((char *)fs->vals + mb->slot_off);
	const uint8_t *s, *q;
	size_t n;
	uint64_t m;
	uint8_t op = mb->op;
	if (op == OP_STRING && likely(*p == '"')) {
		if (!fast_string(&p, fs->end, fs->lo, sv, &s, &n))
			return NULL;
		v->ptr = (const char *)s;
		v->len = (uint32_t)n;
		v->null = 0;
		return p;
	}
	if ((op == OP_U64 || op == OP_I64) && likely(is_digit(*p))) {
		/* 1..19 digits, no leading zero: never out of 64 bits */
		q = digits_end_v(p, fs->end, sv);
		n = (size_t)(q - p);
		if (n > 19 || (n > 1 && *p == '0'))
			return NULL;
		parse_u64(p, q, fs->lo, &m);
		if (conv_integer(f, m, false, v) != 0)
			return NULL;
		return q;
	}
	if ((op == OP_DT64 || op == OP_DATETIME) && likely(*p == '"')) {
		q = time_close(p + 1, fs->end, sv);
		if (q != NULL) {
			if (conv_time_text(f, p + 1, (size_t)(q - (p + 1)), v) != 0)
				return NULL;
			return q + 1;
		}
		if (!fast_string(&p, fs->end, fs->lo, sv, &s, &n) || conv_time_text(f, s, n, v))
			return NULL;
		return p;
	}
	if (op == OP_UUID && likely(*p == '"') && likely(fs->end - p >= 38) && p[37] == '"') {
		/* 36 characters checked one by one (hex digits and dashes): a plain string */
		uint8_t b16[16];
		if (!uuidtext_parse(p + 1, 36, b16) ||
		    place16(fs->scratch, fs->limit, &fs->used, v, b16) != 0)
			return NULL;
		v->len = 16;
		v->null = 0;
		return p + 38;
	}
	if (op == OP_IPV4 && likely(*p == '"') && likely(fs->end - p >= 17)) {
		/* "a.b.c.d" is at most 15 characters, each checked to be a digit or a dot */
		q = quote_in16(p + 1, sv);
		if (q != NULL) {
			if (!parse_ipv4(p + 1, (size_t)(q - (p + 1)), &v->u64))
				return NULL;
			v->null = 0;
			return q + 1;
		}
	}
	if (op == OP_DATE && likely(*p == '"') && likely(fs->end - p >= 12) && p[11] == '"') {
		/* YYYY-MM-DD, each character checked */
		if (conv_time_text(f, p + 1, 10, v) != 0)
			return NULL;
		return p + 12;
	}
	if (op == OP_FIXED && likely(*p == '"') && f->fixed_len <= 16 &&
	    likely((size_t)(fs->end - p) > (size_t)f->fixed_len + 1)) {
		/* A short ASCII value: its characters checked up to the closing quote */
		s = p + 1;
		n = 0;
		while (n <= f->fixed_len && s[n] != '"' && s[n] >= 0x20 && s[n] < 0x80 && s[n] != '\\')
			n++;
		if (n <= f->fixed_len && s[n] == '"') {
			v->ptr = (const char *)s;
			v->len = (uint32_t)n;
			v->null = 0;
			return s + n + 1;
		}
	}
	/* A member of the event object that fails here leaves objects and used as they were before
	 * it, for the general pass to go on from there. */
	uint64_t objects = fs->objects;
	size_t used = fs->used;
	fs->seen = *seen;
	p = fast_value_any(fs, mb, p);
	*seen = fs->seen;
	if (top && p == NULL) {
		fs->objects = objects;
		fs->used = used;
	}
	return p;
}

/*
 * The members of an object of the trie, p just after its '{': the position after its '}', or
 * NULL. In the event object (top), the pass keeps in fs where the general one would go on if it
 * gave up: after the last member read whole (fs->resume, NULL before the first), with the fields
 * given up to there.
 */
static __attribute__((always_inline)) inline const uint8_t *
fast_members(struct fast *fs, uint32_t node, const uint8_t *p, bool top)
{
	struct event_plan *pl = fs->plan;
	struct ev_node *n = &pl->nodes[node];
	const uint8_t *end = fs->end;
	struct ev_member *m = &pl->members[n->start]; /* the member before: its next is expected */
	uint64_t seen = fs->seen;
	if (p < end && *p == '}')
		return p + 1;
	for (;;) {
		struct ev_member *want = m->next;
		if (likely(p < fs->lit_end) && likely(lit_at(p, want))) {
			p += want->lit_len; /* p < end */
		} else {
			want = (struct ev_member *)fast_key(fs, n, &p);
			if (want == NULL || p >= end)
				goto give_up; /* undeclared, or not plain */
			/* It came where another was expected: expect it there next time. */
			m->next = want;
		}
		m = want;
		if (seen & m->bit) /* an object's bit is 0: fast_value_any checks it */
			goto give_up;
		seen |= m->bit;
		p = fast_value(fs, m, p, &fs->sv, &seen, top);
		if (p == NULL)
			goto give_up;
		if (unlikely(p >= end))
			break;
		if (*p == ',') {
			if (top) {
				fs->resume = p;
				fs->resume_seen = seen;
				fs->resume_last = m;
			}
			p++;
			continue;
		}
		if (*p == '}') {
			fs->seen = seen;
			return p + 1;
		}
		/* Whitespace: the general pass goes on from here. Else an error, or a number whose
		 * in-line read stopped at its fraction or exponent: the general pass from the start. */
		if (!top || !is_ws(*p))
			break;
		fs->resume = p;
		fs->resume_seen = seen;
		fs->resume_last = m;
		return NULL;
	}
	if (top)
		fs->resume = NULL;
give_up:
	return NULL;
}

/* A nested object of the trie (fast_members). */
static __attribute__((noinline)) const uint8_t *fast_object(struct fast *fs, uint32_t node,
							    const uint8_t *p)
{
	return fast_members(fs, node, p, false);
}

/* The event object (fast_members). */
static __attribute__((noinline)) const uint8_t *fast_top(struct fast *fs, const uint8_t *p)
{
	return fast_members(fs, 0, p, true);
}

/* The fast pass over fs's message (fs->lo, fs->len): true when it took it. */
static inline bool decode_fast(struct fast *fs)
{
	const uint8_t *p = fs->lo, *end = p + fs->len;
	fs->end = end;
	fs->lit_end = end - p > 16 ? end - 16 : p;
	fs->used = 0;
	fs->seen = 0;
	fs->objects = 0;
	fs->resume = NULL;
	if (unlikely(p < end && *p != '{')) {
		while (p < end && is_ws(*p))
			p++;
	}
	if (p >= end || *p != '{')
		return false;
	p = fast_top(fs, p + 1);
	if (p == NULL)
		return false;
	while (p < end && is_ws(*p))
		p++;
	const struct event_plan *pl = fs->plan;
	const char *why;
	if (p != end || ((pl->all & ~fs->seen) && fill_absent(pl, fs->seen, fs->vals, &why) != 0)) {
		/* The object was read whole: its objects after fs->resume are taken, so the general
		 * pass decides from the start */
		fs->resume = NULL;
		return false;
	}
	if (pl->catch_all) {
		struct event_value *v = &fs->vals[pl->field_count];
		v->ptr = "{}";
		v->len = 2;
		v->null = 0;
	}
	*fs->scratch_used = (uint32_t)fs->used;
	return true;
}

/* ---- the interface ---- */

/* The general pass over fs's message, which the fast one did not take (out of line, with its
 * arguments in fs: the fast pass's caller saves nothing across it). */
static __attribute__((noinline)) int decode_general(const struct fast *fs)
{
	const struct event_plan *plan = fs->plan;
	const char *buf = (const char *)fs->lo;
	size_t len = fs->len, scratch_cap = fs->limit;
	size_t reserve = plan->catch_all && len <= scratch_cap ? len : 0;
	struct dec d = {
		.buf = (const uint8_t *)buf,
		.plan = plan,
		.vals = fs->vals,
		.scratch = fs->scratch,
		.limit = scratch_cap - reserve,
		.top = scratch_cap - reserve,
		.catch_cap = reserve,
		.sv = &fs->sv,
	};
	int rc;
	if (buf == NULL) {
		rc = dec_fail(&d, EVENT_ERR_EMPTY, "event: empty message", NULL);
	} else if (len > EVENT_LEN_MAX) {
		rc = dec_fail(&d, EVENT_ERR_TOO_LONG, "event: longer than EVENT_LEN_MAX", d.buf);
	} else if (fs->resume != NULL && fs->used <= d.limit) {
		/* Go on after the members the fast pass read: they were valid, and the same bytes
		 * from the start would give the same slots, fields and scratch. */
		d.p = fs->resume;
		d.end = d.buf + len;
		d.seen = fs->resume_seen;
		d.objects = fs->objects;
		d.scratch_used = fs->used;
		rc = decode_resumed(&d, fs->resume_last);
	} else {
		d.p = d.buf;
		d.end = d.buf + len;
		rc = decode(&d);
	}
	if (rc == 0) {
		*fs->scratch_used = (uint32_t)d.scratch_used;
		return 0;
	}
	if (fs->err != NULL) {
		fs->err->reason = d.reason;
		fs->err->offset = d.at != NULL && d.buf != NULL ? (size_t)(d.at - d.buf) : 0;
	}
	return rc;
}

int event_decode(struct event_plan *plan, const char *buf, size_t len,
		 struct event_value *vals, char *scratch, size_t scratch_cap, uint32_t *scratch_used,
		 struct event_error *err)
{
	struct fast *fs = &plan->fast; /* the plan's thread's: nothing to build on the stack */
	fs->lo = (const uint8_t *)buf;
	fs->len = len;
	fs->vals = vals;
	fs->scratch = (uint8_t *)scratch;
	fs->limit = scratch != NULL ? scratch_cap : 0;
	fs->scratch_used = scratch_used;
	fs->err = err;
	if (likely(buf != NULL && len <= EVENT_LEN_MAX) && likely(decode_fast(fs)))
		return 0;
	return decode_general(fs);
}

int ev_decode_value(const struct event_plan *p, uint32_t f, const char *text, size_t len,
		    struct event_value *v, char *scratch, size_t cap, size_t *used,
		    const char **why)
{
	struct dec d = {
		.sv = &p->fast.sv,
		.buf = (const uint8_t *)text,
		.p = (const uint8_t *)text,
		.end = (const uint8_t *)text + len,
		.plan = p,
		.vals = v - f, /* decode_field writes vals[f] */
		.scratch = (uint8_t *)scratch,
		.limit = cap,
		.top = cap,
	};
	skip_ws(&d);
	int rc = d.p < d.end ? decode_field(&d, f, 1) : fail_end(&d);
	if (rc == 0) {
		skip_ws(&d);
		if (d.p != d.end)
			rc = dec_fail(&d, EVENT_ERR_SYNTAX, "syntax error: data after the value", d.p);
		else if (d.field_err != 0)
			rc = dec_fail(&d, d.field_err, d.field_reason, d.field_at);
	}
	*why = d.reason;
	*used = d.scratch_used;
	return rc;
}

const char *event_err_name(int err)
{
	static const char *const names[EVENT_ERR_COUNT] = {
		"ok",	     "empty",	   "syntax", "escape",	  "utf8",  "depth",    "not_object",
		"duplicate", "missing", "type",   "range", "timestamp", "too_long",
	};
	if (err > 0 || err <= -EVENT_ERR_COUNT)
		return "unknown";
	return names[-err];
}

int ev_reason_code(enum ev_reason r)
{
	static const int8_t codes[R_COUNT] = {
		[R_TYPE] = EVENT_ERR_TYPE,	 [R_NOT_INT] = EVENT_ERR_TYPE,
		[R_NEGATIVE] = EVENT_ERR_RANGE,	 [R_RANGE] = EVENT_ERR_RANGE,
		[R_NOT_DEC] = EVENT_ERR_TYPE,	 [R_LONG_FIXED] = EVENT_ERR_RANGE,
		[R_FORMAT] = EVENT_ERR_TIMESTAMP, [R_OFFSET] = EVENT_ERR_TIMESTAMP,
		[R_DATE] = EVENT_ERR_TIMESTAMP,	 [R_TIME] = EVENT_ERR_TIMESTAMP,
		[R_OUTSIDE] = EVENT_ERR_TIMESTAMP, [R_EPOCH] = EVENT_ERR_TIMESTAMP,
		[R_NOT_UUID] = EVENT_ERR_TYPE,	 [R_NOT_IPV4] = EVENT_ERR_TYPE,
		[R_NOT_IPV6] = EVENT_ERR_TYPE,	 [R_ELEM_TYPE] = EVENT_ERR_TYPE,
		[R_ELEM_RANGE] = EVENT_ERR_RANGE, [R_SCRATCH] = EVENT_ERR_TOO_LONG,
		[R_DUPLICATE] = EVENT_ERR_DUPLICATE, [R_MISSING] = EVENT_ERR_MISSING,
	};
	return (unsigned)r < R_COUNT ? codes[r] : EVENT_ERR_TYPE;
}
