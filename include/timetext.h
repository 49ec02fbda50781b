/*
 * timetext: instants and dates written as text (RFC 3339, ISO 8601 dates), read into numbers.
 *
 * For decoders off and on the hot path (the JSON event decoder reads every event's time here):
 * no allocation, no locale, no libc time functions (timegm and friends take locks and consult the
 * environment). The calendar is the proleptic Gregorian one, years 0000..9999.
 */
#ifndef ENRICHD_TIMETEXT_H
#define ENRICHD_TIMETEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "civil.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Why a text is not a date-time or a date (timetext_rfc3339_parse, timetext_date_parse). */
enum timetext_err {
	TIMETEXT_OK = 0,
	TIMETEXT_ERR_FORMAT = -1, /* not the shape of one ("bad format") */
	TIMETEXT_ERR_OFFSET = -2, /* the offset is not Z or +hh:mm/-hh:mm within 23:59 */
	TIMETEXT_ERR_DATE = -3,   /* no such day: month 13, February 30 */
	TIMETEXT_ERR_TIME = -4,   /* hour 24, minute or second 60 */
	TIMETEXT_ERR_RANGE = -5,  /* the ticks do not fit in 64 bits */
};

/*
 * Reads an RFC 3339 date-time s[0..n): "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)" ('t' and
 * 'z' also in lower case; the fraction has 1 or more digits). Strict: no leap second, no hour 24,
 * the day checked against the month. *ticks receives the instant in units of 10^-precision s
 * since the epoch (UTC), precision 0..9, with the fraction's extra digits truncated (floored).
 * Returns 0, or the first of these that applies: TIMETEXT_ERR_FORMAT (also for precision > 9),
 * TIMETEXT_ERR_OFFSET, TIMETEXT_ERR_FORMAT (text after the offset), TIMETEXT_ERR_DATE,
 * TIMETEXT_ERR_TIME, TIMETEXT_ERR_RANGE. Reads only s[0..n).
 *
 * Inline, below: the JSON event decoder reads every event's time with it. The fixed part
 * "YYYY-MM-DDTHH:MM:SS" is checked with one 16-byte compare where the build has SSE2.
 */
__attribute__((always_inline)) static inline int timetext_rfc3339_parse(const char *s, size_t n,
								       unsigned precision,
					 int64_t *ticks);

/* As timetext_rfc3339_parse, returning 0, -EINVAL (not such a date-time, or precision > 9) or
 * -ERANGE (the ticks do not fit in 64 bits). */
int timetext_rfc3339(const char *s, size_t n, unsigned precision, int64_t *ticks);

/* Reads a date "YYYY-MM-DD" s[0..n) into *days since 1970-01-01. Returns 0,
 * TIMETEXT_ERR_FORMAT or TIMETEXT_ERR_DATE. */
int timetext_date_parse(const char *s, size_t n, int64_t *days);

/* As timetext_date_parse, returning 0 or -EINVAL. */
int timetext_date(const char *s, size_t n, int64_t *days);

/* "bad format", "bad offset", "invalid date", "invalid time", "out of range"; "" for 0. */
const char *timetext_err_text(int err);

/* ---- inline: the date-time reader ---- */

static inline bool timetext_is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

static inline unsigned timetext_two_digits(const char *s)
{
	return (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
}

/* Whether s[0..19) has the shape "dddd-dd-ddTdd:dd:dd" (either case of T); s has >= 20 bytes. */
static inline bool timetext_rfc3339_shape(const char *s)
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
	return _mm_movemask_epi8(ok) == 0xFFFF && s[16] == ':' && timetext_is_digit(s[17]) &&
	       timetext_is_digit(s[18]);
#else
	/* 'd' a digit, 'T' either case of T, anything else itself. */
	static const char shape[19] = {'d', 'd', 'd', 'd', '-', 'd', 'd', '-', 'd', 'd',
				       'T', 'd', 'd', ':', 'd', 'd', ':', 'd', 'd'};
	bool ok = true;
	for (size_t i = 0; i < sizeof(shape); i++) {
		if (shape[i] == 'd')
			ok &= timetext_is_digit(s[i]);
		else if (shape[i] == 'T')
			ok &= (s[i] | 0x20) == 't';
		else
			ok &= s[i] == shape[i];
	}
	return ok;
#endif
}

/* The offset at s[0..n) ("Z" or "+hh:mm" / "-hh:mm"), in seconds; *used its bytes. */
static inline int timetext_offset(const char *s, size_t n, int64_t *offset_s, size_t *used)
{
	if (n >= 1 && (s[0] | 0x20) == 'z') {
		*offset_s = 0;
		*used = 1;
		return 0;
	}
	if (n < 6 || (s[0] != '+' && s[0] != '-') || !timetext_is_digit(s[1]) || !timetext_is_digit(s[2]) ||
	    s[3] != ':' || !timetext_is_digit(s[4]) || !timetext_is_digit(s[5]))
		return TIMETEXT_ERR_OFFSET;
	unsigned oh = timetext_two_digits(s + 1), om = timetext_two_digits(s + 4);
	if (oh > 23 || om > 59)
		return TIMETEXT_ERR_OFFSET;
	*offset_s = (int64_t)(oh * 60 + om) * 60 * (s[0] == '-' ? -1 : 1);
	*used = 6;
	return 0;
}

__attribute__((always_inline)) static inline int timetext_rfc3339_parse(const char *s, size_t n,
								       unsigned precision,
					 int64_t *ticks)
{
	static const int64_t pow10[10] = {1,	  10,	  100,	   1000,     10000,
					  100000, 1000000, 10000000, 100000000, 1000000000};
	if (precision > 9 || n < 20 || !timetext_rfc3339_shape(s))
		return TIMETEXT_ERR_FORMAT;
	size_t i = 19;
	int64_t frac = 0; /* the fraction's first `precision` digits */
	if (s[i] == '.' && precision == 3 && n - i > 4 && timetext_is_digit(s[i + 1]) &&
	    timetext_is_digit(s[i + 2]) && timetext_is_digit(s[i + 3]) &&
	    !timetext_is_digit(s[i + 4])) {
		/* Milliseconds, the usual fraction. */
		frac = (int64_t)(timetext_two_digits(s + i + 1) * 10 + (unsigned)(s[i + 3] - '0'));
		i += 4;
	} else if (s[i] == '.') {
		size_t first = ++i, kept = 0;
		for (; kept < precision && i < n && timetext_is_digit(s[i]); i++, kept++)
			frac = frac * 10 + (s[i] - '0');
		while (i < n && timetext_is_digit(s[i]))
			i++; /* truncated */
		if (i == first)
			return TIMETEXT_ERR_FORMAT;
		frac *= pow10[precision - kept];
	}
	int64_t offset_s;
	size_t used;
	if (timetext_offset(s + i, n - i, &offset_s, &used) < 0)
		return TIMETEXT_ERR_OFFSET;
	if (i + used != n)
		return TIMETEXT_ERR_FORMAT;
	unsigned year = timetext_two_digits(s) * 100 + timetext_two_digits(s + 2);
	unsigned month = timetext_two_digits(s + 5), day = timetext_two_digits(s + 8);
	unsigned hour = timetext_two_digits(s + 11), minute = timetext_two_digits(s + 14), second = timetext_two_digits(s + 17);
	if (month < 1 || month > 12 || day < 1 || day > civil_days_in_month(year, month))
		return TIMETEXT_ERR_DATE;
	if (hour > 23 || minute > 59 || second > 59)
		return TIMETEXT_ERR_TIME;
	int64_t secs = civil_days_from_date(year, month, day) * 86400 + hour * 3600 + minute * 60 +
		       second - offset_s;
	int64_t t;
	if (__builtin_mul_overflow(secs, pow10[precision], &t) ||
	    __builtin_add_overflow(t, frac, &t))
		return TIMETEXT_ERR_RANGE;
	*ticks = t;
	return 0;
}

#endif
