/*
 * event: the hand-written JSON event decoder (contract in include/event.h).
 *
 * One forward pass with a cursor. Strings are scanned 16 bytes at a time for the bytes that end
 * the fast path (quote, backslash, control, non-ASCII); a string without escapes is returned as a
 * slice of the message. Unknown members are skipped by an iterative validator whose open
 * containers are one bit each in a 64-bit word, so nesting costs no stack and has a hard bound.
 * A field error is remembered and parsing goes on, so that a later JSON-level error still wins
 * (see "Error precedence" in the header).
 */
#include "event.h"

#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include "civil.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if EVENT_DEPTH_MAX > 64
#error "skip_value keeps one bit per open container in a uint64_t"
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

enum field {
	FIELD_TIMESTAMP = 0,
	FIELD_USER_ID = 1,
	FIELD_URL = 2,
	FIELD_DEVICE_ID = 3,
	FIELD_COUNT = 4,
	FIELD_UNKNOWN = -1,
};

#define FIELDS_ALL ((1u << FIELD_COUNT) - 1)

/* Longest known key; a key that decodes to more bytes is unknown. */
#define KEY_MAX 16

struct dec {
	const uint8_t *p;   /* cursor */
	const uint8_t *end; /* one past the last byte of the message */
	const uint8_t *buf;
	uint8_t *scratch;
	size_t scratch_cap;
	size_t scratch_used;
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
	const uint8_t *start;  /* first byte ('-' or digit) */
	const uint8_t *digits; /* first digit of the integer part */
	const uint8_t *end;    /* one past the last byte */
	bool negative;
	bool integer; /* no fraction, no exponent */
};

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

static inline void skip_ws(struct dec *d)
{
	const uint8_t *p = d->p, *end = d->end;
	/* Compact JSON has no whitespace: one compare decides most calls. */
	while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	d->p = p;
}

#if defined(__SSE2__)
/* Bit i set for byte i of the 16 at p that is '"', '\\', a byte < 0x20 or a byte >= 0x80. */
static inline unsigned plain_stops(const uint8_t *p)
{
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i backslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);
	__m128i v = _mm_loadu_si128((const void *)p);
	/* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too. */
	__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
				   _mm_cmplt_epi8(v, space));
	return (unsigned)_mm_movemask_epi8(hit);
}
#endif

/* The first position in [p, end) that is not an ASCII digit; end if there is none. */
static inline const uint8_t *digits_end(const uint8_t *p, const uint8_t *end)
{
#if defined(__SSE2__)
	while (end - p >= 16) {
		__m128i value = _mm_sub_epi8(_mm_loadu_si128((const void *)p), _mm_set1_epi8('0'));
		__m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(value, _mm_set1_epi8(9)), value);
		unsigned other = ~(unsigned)_mm_movemask_epi8(digit) & 0xFFFF;
		if (other != 0)
			return p + __builtin_ctz(other);
		p += 16;
	}
#endif
	while (p < end && is_digit(*p))
		p++;
	return p;
}

/* Returns the first position in [p, end) holding '"', '\\', a byte < 0x20 or a byte >= 0x80;
 * end if there is none. lo is the message's first byte: the last fewer than 16 bytes are
 * scanned with one load of the message's last 16 when it has that many. */
static inline const uint8_t *scan_plain(const uint8_t *p, const uint8_t *end, const uint8_t *lo)
{
#if defined(__SSE2__)
	while (end - p >= 16) {
		unsigned mask = plain_stops(p);
		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
	if (p < end && end - lo >= 16) {
		unsigned mask = plain_stops(end - 16) >> (16 - (end - p));
		return p + (mask != 0 ? __builtin_ctz(mask) : end - p);
	}
#else
	(void)lo;
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

static inline int hex_value(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads the 4 hex digits of a \u escape starting at p into *cp. */
static int hex4(struct dec *d, const uint8_t *p, unsigned *cp)
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

/* The rest of a string from its first backslash at d->p; start is just after the opening quote. */
static int parse_string_escaped(struct dec *d, struct str *s, const uint8_t *start, uint8_t *dst,
				size_t cap)
{
	const uint8_t *p = d->p, *end = d->end;
	const uint8_t *run = start; /* plain bytes not yet appended */
	size_t n = 0;
	for (;;) {
		p = scan_plain(p, end, d->buf);
		if (p >= end)
			return fail_end(d);
		uint8_t c = *p;
		if (c >= 0x80) {
			size_t k = utf8_seq(p, end);
			if (k == 0)
				return dec_fail(d, EVENT_ERR_UTF8, "invalid UTF-8 in a string", p);
			p += k;
			continue;
		}
		out_put(dst, cap, &n, run, (size_t)(p - run));
		if (c == '"')
			break;
		if (c != '\\')
			return dec_fail(d, EVENT_ERR_SYNTAX,
					"syntax error: control character in a string", p);
		int used = decode_escape(d, p, dst, cap, &n);
		if (used < 0)
			return used;
		p += used;
		run = p;
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
		p = scan_plain(p, end, d->buf);
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
		p = digits_end(p, end);
	} else {
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: invalid number", p);
	}
	if (p < end && *p == '.') {
		p++;
		n->integer = false;
		if (p >= end || !is_digit(*p))
			return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: invalid number", p);
		p = digits_end(p, end);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		n->integer = false;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: invalid number", p);
		p = digits_end(p, end);
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

/* Skips a known field's value of the wrong JSON type and records the type error. */
static int skip_wrong_type(struct dec *d, const char *reason)
{
	const uint8_t *at = d->p;
	int rc = skip_value(d, 1);
	if (rc != 0)
		return rc;
	dec_field_fail(d, EVENT_ERR_TYPE, reason, at);
	return 0;
}

/* Parses a string value at d->p (on its opening quote) into the free part of scratch. */
static inline int parse_string_value(struct dec *d, struct str *s)
{
	uint8_t *dst = d->scratch != NULL ? d->scratch + d->scratch_used : NULL;
	d->p++;
	return parse_string(d, s, dst, d->scratch_cap - d->scratch_used);
}

static inline bool fits_scratch(const struct dec *d, const struct str *s)
{
	return !s->copied || s->len <= d->scratch_cap - d->scratch_used;
}

static inline unsigned two_digits(const uint8_t *s)
{
	return (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
}

/* Whether s[0..19) has the shape "dddd-dd-ddTdd:dd:dd" (either case of T); s has >= 20 bytes. */
static inline bool rfc3339_shape(const uint8_t *s)
{
#if defined(__SSE2__)
	/* Bytes 0..15 in one vector: digits where expected, separators elsewhere. */
	const __m128i digit_at = _mm_setr_epi8(-1, -1, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1, 0,
					       -1, -1);
	const __m128i separators = _mm_setr_epi8(0, 0, 0, 0, '-', 0, 0, '-', 0, 0, 't', 0, 0, ':',
						 0, 0);
	const __m128i lower_t = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0);
	__m128i v = _mm_loadu_si128((const void *)s);
	__m128i value = _mm_sub_epi8(v, _mm_set1_epi8('0'));
	__m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(value, _mm_set1_epi8(9)), value);
	__m128i sep = _mm_cmpeq_epi8(_mm_or_si128(v, lower_t), separators);
	__m128i ok = _mm_or_si128(_mm_and_si128(digit, digit_at), _mm_andnot_si128(digit_at, sep));
	return _mm_movemask_epi8(ok) == 0xFFFF && s[16] == ':' && is_digit(s[17]) &&
	       is_digit(s[18]);
#else
	/* 'd' a digit, 'T' either case of T, anything else itself. */
	static const char shape[19] = {'d', 'd', 'd', 'd', '-', 'd', 'd', '-', 'd', 'd',
				       'T', 'd', 'd', ':', 'd', 'd', ':', 'd', 'd'};
	bool ok = true;
	for (size_t i = 0; i < sizeof(shape); i++) {
		if (shape[i] == 'd')
			ok &= is_digit(s[i]);
		else if (shape[i] == 'T')
			ok &= (s[i] | 0x20) == 't';
		else
			ok &= s[i] == (uint8_t)shape[i];
	}
	return ok;
#endif
}

/* Parses an RFC 3339 date-time into epoch ms; returns NULL or the reason it is not one. */
static const char *parse_rfc3339(const uint8_t *s, size_t n, int64_t *out)
{
	if (n < 20 || !rfc3339_shape(s))
		return "timestamp: bad format";
	unsigned year = two_digits(s) * 100 + two_digits(s + 2);
	unsigned month = two_digits(s + 5), day = two_digits(s + 8);
	unsigned hour = two_digits(s + 11), minute = two_digits(s + 14), second = two_digits(s + 17);
	int64_t ms = 0;
	size_t i = 19;
	if (s[i] == '.' && n - i > 4 && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
	    is_digit(s[i + 3]) && !is_digit(s[i + 4])) {
		/* Milliseconds, the usual fraction. */
		ms = (int64_t)(two_digits(s + i + 1) * 10 + (unsigned)(s[i + 3] - '0'));
		i += 4;
	} else if (s[i] == '.') {
		size_t first = ++i;
		while (i < n && is_digit(s[i])) {
			if (i - first < 3)
				ms = ms * 10 + (s[i] - '0');
			i++;
		}
		if (i == first)
			return "timestamp: bad format";
		for (size_t k = i - first; k < 3; k++)
			ms *= 10;
	}
	if (i >= n)
		return "timestamp: bad offset";
	int64_t offset_s = 0;
	if ((s[i] | 0x20) == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		if (n - i < 6 || !is_digit(s[i + 1]) || !is_digit(s[i + 2]) || s[i + 3] != ':' ||
		    !is_digit(s[i + 4]) || !is_digit(s[i + 5]))
			return "timestamp: bad offset";
		unsigned oh = two_digits(s + i + 1), om = two_digits(s + i + 4);
		if (oh > 23 || om > 59)
			return "timestamp: bad offset";
		offset_s = (int64_t)(oh * 60 + om) * 60;
		if (s[i] == '-')
			offset_s = -offset_s;
		i += 6;
	} else {
		return "timestamp: bad offset";
	}
	if (i != n)
		return "timestamp: bad format";
	if (month < 1 || month > 12 || day < 1 || day > civil_days_in_month(year, month))
		return "timestamp: invalid date";
	if (hour > 23 || minute > 59 || second > 59)
		return "timestamp: invalid time";
	/* local time = UTC + offset */
	int64_t secs = civil_days_from_date(year, month, day) * 86400 + hour * 3600 + minute * 60 +
		       second - offset_s;
	int64_t t = secs * 1000 + ms;
	if (t < 0 || t > EVENT_TIME_MS_MAX)
		return "timestamp: outside " EVENT_TIME_RANGE_TEXT;
	*out = t;
	return NULL;
}

static int field_timestamp(struct dec *d, struct event *ev)
{
	const uint8_t *at = d->p;
	if (*d->p == '"') {
		struct str s;
		int rc = parse_string_value(d, &s);
		if (rc != 0)
			return rc;
		if (!fits_scratch(d, &s)) {
			dec_field_fail(d, EVENT_ERR_TOO_LONG,
				       "timestamp: longer than the scratch buffer", at);
			return 0;
		}
		/* An unescaped copy is scratch only for now: it is not kept. */
		const char *why = parse_rfc3339(s.ptr, s.len, &ev->time_ms);
		if (why != NULL)
			dec_field_fail(d, EVENT_ERR_TIMESTAMP, why, at);
		return 0;
	}
	if (*d->p == '-' || is_digit(*d->p)) {
		struct num n;
		int rc = parse_number(d, &n);
		if (rc != 0)
			return rc;
		if (!n.integer) {
			dec_field_fail(d, EVENT_ERR_TIMESTAMP, "timestamp: epoch ms not an integer", at);
			return 0;
		}
		size_t nd = (size_t)(n.end - n.digits);
		if (n.negative || nd > 15) {
			dec_field_fail(d, EVENT_ERR_TIMESTAMP,
				       "timestamp: outside " EVENT_TIME_RANGE_TEXT, at);
			return 0;
		}
		int64_t v = 0;
		for (const uint8_t *q = n.digits; q < n.end; q++)
			v = v * 10 + (*q - '0');
		if (v > EVENT_TIME_MS_MAX) {
			dec_field_fail(d, EVENT_ERR_TIMESTAMP,
				       "timestamp: outside " EVENT_TIME_RANGE_TEXT, at);
			return 0;
		}
		ev->time_ms = v;
		return 0;
	}
	return skip_wrong_type(d, "timestamp: not a string or integer");
}

/*
 * The value of the 8 ASCII digits at p, all at once: pairs, then quads, then the whole in three
 * multiplications instead of a chain of eight multiply-adds.
 */
static inline uint64_t eight_digits(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	v = le64toh(v) - 0x3030303030303030ull;
	v = v * 10 + (v >> 8); /* byte 2k: the pair of digits 2k, 2k + 1 */
	return (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
		(((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
}

/* Accumulates decimal digits into *out; false on overflow of 64 bits. */
static inline bool parse_u64(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = (size_t)(end - p);
	if (n <= 19) {
		/* 19 digits never overflow: the leading n % 8 one by one, then 8 at a time. */
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

static int field_user_id(struct dec *d, struct event *ev)
{
	const uint8_t *at = d->p;
	if (is_digit(*d->p) || *d->p == '-') {
		struct num n;
		int rc = parse_number(d, &n);
		if (rc != 0)
			return rc;
		if (!n.integer)
			dec_field_fail(d, EVENT_ERR_TYPE, "user_id: not an integer", at);
		else if (n.negative)
			dec_field_fail(d, EVENT_ERR_RANGE, "user_id: negative", at);
		else if (!parse_u64(n.digits, n.end, &ev->user_id))
			dec_field_fail(d, EVENT_ERR_RANGE, "user_id: out of range", at);
		return 0;
	}
	if (*d->p == '"') {
		struct str s;
		int rc = parse_string_value(d, &s);
		if (rc != 0)
			return rc;
		if (!fits_scratch(d, &s)) {
			dec_field_fail(d, EVENT_ERR_TOO_LONG, "user_id: longer than the scratch buffer",
				       at);
			return 0;
		}
		if (s.len == 0 || digits_end(s.ptr, s.ptr + s.len) != s.ptr + s.len)
			dec_field_fail(d, EVENT_ERR_TYPE, "user_id: not a decimal string", at);
		else if (!parse_u64(s.ptr, s.ptr + s.len, &ev->user_id))
			dec_field_fail(d, EVENT_ERR_RANGE, "user_id: out of range", at);
		return 0;
	}
	return skip_wrong_type(d, "user_id: not an integer or decimal string");
}

static int field_url(struct dec *d, struct event *ev)
{
	const uint8_t *at = d->p;
	if (*d->p != '"')
		return skip_wrong_type(d, "url: not a string");
	struct str s;
	int rc = parse_string_value(d, &s);
	if (rc != 0)
		return rc;
	if (!fits_scratch(d, &s)) {
		dec_field_fail(d, EVENT_ERR_TOO_LONG, "url: longer than the scratch buffer", at);
		return 0;
	}
	if (s.copied)
		d->scratch_used += s.len;
	ev->url = (const char *)s.ptr;
	ev->url_len = (uint32_t)s.len;
	return 0;
}

static int field_device_id(struct dec *d, struct event *ev)
{
	const uint8_t *at = d->p;
	if (*d->p == '"') {
		struct str s;
		int rc = parse_string_value(d, &s);
		if (rc != 0)
			return rc;
		if (!fits_scratch(d, &s)) {
			dec_field_fail(d, EVENT_ERR_TOO_LONG,
				       "device_id: longer than the scratch buffer", at);
			return 0;
		}
		if (s.copied)
			d->scratch_used += s.len;
		ev->device_id = (const char *)s.ptr;
		ev->device_id_len = (uint32_t)s.len;
		return 0;
	}
	if (is_digit(*d->p) || *d->p == '-') {
		struct num n;
		int rc = parse_number(d, &n);
		if (rc != 0)
			return rc;
		if (!n.integer) {
			dec_field_fail(d, EVENT_ERR_TYPE, "device_id: not an integer", at);
		} else if (n.negative) {
			dec_field_fail(d, EVENT_ERR_RANGE, "device_id: negative", at);
		} else {
			/* The token is already canonical decimal text: point at it. */
			ev->device_id = (const char *)n.start;
			ev->device_id_len = (uint32_t)(n.end - n.start);
		}
		return 0;
	}
	return skip_wrong_type(d, "device_id: not a string or integer");
}

static inline enum field field_of(const uint8_t *k, size_t n)
{
	switch (n) {
	case 3:
		if (memcmp(k, "url", 3) == 0)
			return FIELD_URL;
		break;
	case 7:
		if (memcmp(k, "user_id", 7) == 0)
			return FIELD_USER_ID;
		break;
	case 9:
		if (memcmp(k, "timestamp", 9) == 0)
			return FIELD_TIMESTAMP;
		if (memcmp(k, "device_id", 9) == 0)
			return FIELD_DEVICE_ID;
		break;
	default:
		break;
	}
	return FIELD_UNKNOWN;
}

static const char *const field_missing[FIELD_COUNT] = {
	"timestamp: missing",
	"user_id: missing",
	"url: missing",
	"device_id: missing",
};

static const char *const field_duplicate[FIELD_COUNT] = {
	"timestamp: duplicate field",
	"user_id: duplicate field",
	"url: duplicate field",
	"device_id: duplicate field",
};

/* The value of one member of the event object, at d->p (not whitespace, not the end). */
static inline int decode_member(struct dec *d, struct event *ev, enum field f, unsigned *seen)
{
	if (f == FIELD_UNKNOWN)
		return skip_value(d, 1);
	if (*seen & (1u << f)) {
		dec_field_fail(d, EVENT_ERR_DUPLICATE, field_duplicate[f], d->p);
		return skip_value(d, 1);
	}
	*seen |= 1u << f;
	switch (f) {
	case FIELD_TIMESTAMP:
		return field_timestamp(d, ev);
	case FIELD_USER_ID:
		return field_user_id(d, ev);
	case FIELD_URL:
		return field_url(d, ev);
	default:
		return field_device_id(d, ev);
	}
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

static int decode(struct dec *d, struct event *ev)
{
	unsigned seen = 0;
	struct str key;
	uint8_t key_buf[KEY_MAX];
	int rc;

	skip_ws(d);
	if (d->p == d->end)
		return dec_fail(d, EVENT_ERR_EMPTY, "event: empty message", d->p);
	if (*d->p != '{')
		return decode_not_object(d);
	d->p++;
	skip_ws(d);
	if (d->p < d->end && *d->p == '}') {
		d->p++;
		goto object_end;
	}
	for (;;) {
		if (d->p >= d->end)
			return fail_end(d);
		if (*d->p != '"')
			return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected a string key",
					d->p);
		d->p++;
		rc = parse_string(d, &key, key_buf, sizeof(key_buf));
		if (rc != 0)
			return rc;
		enum field f = key.len <= sizeof(key_buf) ? field_of(key.ptr, key.len) : FIELD_UNKNOWN;
		skip_ws(d);
		if (d->p >= d->end)
			return fail_end(d);
		if (*d->p != ':')
			return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected ':'", d->p);
		d->p++;
		skip_ws(d);
		if (d->p >= d->end)
			return fail_end(d);
		rc = decode_member(d, ev, f, &seen);
		if (rc != 0)
			return rc;
		skip_ws(d);
		if (d->p >= d->end)
			return fail_end(d);
		if (*d->p == ',') {
			d->p++;
			skip_ws(d);
			continue;
		}
		if (*d->p == '}') {
			d->p++;
			break;
		}
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: expected ',' or '}'", d->p);
	}
object_end:
	skip_ws(d);
	if (d->p != d->end)
		return dec_fail(d, EVENT_ERR_SYNTAX, "syntax error: data after the object", d->p);
	if (d->field_err != 0)
		return dec_fail(d, d->field_err, d->field_reason, d->field_at);
	if (seen != FIELDS_ALL) {
		int f = __builtin_ctz(~seen & FIELDS_ALL);
		return dec_fail(d, EVENT_ERR_MISSING, field_missing[f], d->end);
	}
	ev->scratch_used = (uint32_t)d->scratch_used;
	return 0;
}

/* ---- the fast path ---- */

/*
 * What producers send: a compact object of the four known fields, each once, in any order, with
 * plain values. decode_fast takes exactly such messages, all of whose values are valid, and
 * decodes them with fixed key compares and no whitespace or escape handling. It answers false for
 * anything else (whitespace, escapes, another member, another value type, a value the general
 * decoder would reject): event_decode then decodes the message from its start with the general
 * decoder, so a message's result never depends on which path took it.
 */

/* Moves *p past key (its quotes and colon, n bytes) if the message has it there. */
static inline bool fast_key(const uint8_t **p, const uint8_t *end, const char *key, size_t n)
{
	if ((size_t)(end - *p) < n || memcmp(*p, key, n) != 0)
		return false;
	*p += n;
	return true;
}

/* A string value without escapes or control bytes (valid UTF-8) at *p (on its opening quote);
 * lo is the message's first byte. */
static inline bool fast_string(const uint8_t **p, const uint8_t *end, const uint8_t *lo,
			       const uint8_t **s, size_t *n)
{
	const uint8_t *q = *p;
	if (q >= end || *q != '"')
		return false;
	const uint8_t *close = q + 1;
	for (;;) {
		close = scan_plain(close, end, lo);
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

/* A JSON integer of 1 to 19 digits at *p (no sign, so never out of range). */
static inline bool fast_uint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	const uint8_t *q = digits_end(*p, end);
	size_t n = (size_t)(q - *p);
	if (n == 0 || n > 19 || (n > 1 && **p == '0'))
		return false;
	parse_u64(*p, q, out);
	*p = q;
	return true;
}

static bool decode_fast(const uint8_t *lo, const uint8_t *end, struct event *ev)
{
	const uint8_t *p = lo;
	unsigned seen = 0;
	const uint8_t *s;
	size_t n;
	if (p >= end || *p != '{')
		return false;
	p++;
	for (;;) {
		if (end - p < 2 || *p != '"')
			return false;
		enum field f;
		switch (p[1]) {
		case 't':
			f = FIELD_TIMESTAMP;
			if (!fast_key(&p, end, "\"timestamp\":", 12) || !fast_string(&p, end, lo, &s, &n) ||
			    parse_rfc3339(s, n, &ev->time_ms) != NULL)
				return false;
			break;
		case 'u':
			if (fast_key(&p, end, "\"url\":", 6)) {
				f = FIELD_URL;
				if (!fast_string(&p, end, lo, &s, &n))
					return false;
				ev->url = (const char *)s;
				ev->url_len = (uint32_t)n;
				break;
			}
			f = FIELD_USER_ID;
			if (!fast_key(&p, end, "\"user_id\":", 10) || !fast_uint(&p, end, &ev->user_id))
				return false;
			break;
		case 'd':
			f = FIELD_DEVICE_ID;
			if (!fast_key(&p, end, "\"device_id\":", 12) || !fast_string(&p, end, lo, &s, &n))
				return false;
			ev->device_id = (const char *)s;
			ev->device_id_len = (uint32_t)n;
			break;
		default:
			return false;
		}
		if (seen & (1u << f))
			return false;
		seen |= 1u << f;
		if (p >= end)
			return false;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}' && p + 1 == end)
			break;
		return false;
	}
	if (seen != FIELDS_ALL)
		return false;
	ev->scratch_used = 0;
	return true;
}

int event_decode(const char *buf, size_t len, struct event *ev, char *scratch, size_t scratch_cap,
		 struct event_error *err)
{
	if (buf != NULL && len <= EVENT_LEN_MAX &&
	    decode_fast((const uint8_t *)buf, (const uint8_t *)buf + len, ev))
		return 0;
	struct dec d = {
		.buf = (const uint8_t *)buf,
		.scratch = (uint8_t *)scratch,
		.scratch_cap = scratch != NULL ? scratch_cap : 0,
	};
	int rc;
	if (buf == NULL) {
		rc = dec_fail(&d, EVENT_ERR_EMPTY, "event: empty message", NULL);
	} else if (len > EVENT_LEN_MAX) {
		rc = dec_fail(&d, EVENT_ERR_TOO_LONG, "event: longer than EVENT_LEN_MAX", d.buf);
	} else {
		d.p = d.buf;
		d.end = d.buf + len;
		rc = decode(&d, ev);
	}
	if (rc != 0 && err != NULL) {
		err->reason = d.reason;
		err->offset = d.at != NULL && d.buf != NULL ? (size_t)(d.at - d.buf) : 0;
	}
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
