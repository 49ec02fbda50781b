/*
 * timetext: instants and dates written as text (contract in include/timetext.h).
 *
 * The date-time reader is on the JSON decoder's hot path: the fixed part "YYYY-MM-DDTHH:MM:SS"
 * is checked with one 16-byte compare where the build has SSE2, the digits read in pairs.
 */
#include "timetext.h"

#include <errno.h>
#include <stdbool.h>

#include "civil.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline bool is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static inline unsigned two_digits(const char *s)
{
	return (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
}

/* Whether s[0..19) has the shape "dddd-dd-ddTdd:dd:dd" (either case of T); s has >= 20 bytes. */
static inline bool rfc3339_shape(const char *s)
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
			ok &= s[i] == shape[i];
	}
	return ok;
#endif
}

int timetext_date_parse(const char *s, size_t n, int64_t *days)
{
	if (n != 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2))
		return TIMETEXT_ERR_FORMAT;
	unsigned y = two_digits(s) * 100 + two_digits(s + 2), m = two_digits(s + 5),
		 d = two_digits(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > civil_days_in_month(y, m))
		return TIMETEXT_ERR_DATE;
	*days = civil_days_from_date(y, m, d);
	return 0;
}

int timetext_date(const char *s, size_t n, int64_t *days)
{
	return timetext_date_parse(s, n, days) == 0 ? 0 : -EINVAL;
}

/* The offset at s[0..n) ("Z" or "+hh:mm" / "-hh:mm"), in seconds; *used its bytes. */
static inline int parse_offset(const char *s, size_t n, int64_t *offset_s, size_t *used)
{
	if (n >= 1 && (s[0] | 0x20) == 'z') {
		*offset_s = 0;
		*used = 1;
		return 0;
	}
	if (n < 6 || (s[0] != '+' && s[0] != '-') || !is_digit(s[1]) || !is_digit(s[2]) ||
	    s[3] != ':' || !is_digit(s[4]) || !is_digit(s[5]))
		return TIMETEXT_ERR_OFFSET;
	unsigned oh = two_digits(s + 1), om = two_digits(s + 4);
	if (oh > 23 || om > 59)
		return TIMETEXT_ERR_OFFSET;
	*offset_s = (int64_t)(oh * 60 + om) * 60 * (s[0] == '-' ? -1 : 1);
	*used = 6;
	return 0;
}

int timetext_rfc3339_parse(const char *s, size_t n, unsigned precision, int64_t *ticks)
{
	static const int64_t pow10[10] = {1,	  10,	  100,	   1000,     10000,
					  100000, 1000000, 10000000, 100000000, 1000000000};
	if (precision > 9 || n < 20 || !rfc3339_shape(s))
		return TIMETEXT_ERR_FORMAT;
	size_t i = 19;
	int64_t frac = 0; /* the fraction's first `precision` digits */
	if (s[i] == '.') {
		size_t first = ++i;
		while (i < n && is_digit(s[i])) {
			if (i - first < precision)
				frac = frac * 10 + (s[i] - '0');
			i++;
		}
		if (i == first)
			return TIMETEXT_ERR_FORMAT;
		if (i - first < precision)
			frac *= pow10[precision - (i - first)];
	}
	int64_t offset_s;
	size_t used;
	if (parse_offset(s + i, n - i, &offset_s, &used) < 0)
		return TIMETEXT_ERR_OFFSET;
	if (i + used != n)
		return TIMETEXT_ERR_FORMAT;
	unsigned year = two_digits(s) * 100 + two_digits(s + 2);
	unsigned month = two_digits(s + 5), day = two_digits(s + 8);
	unsigned hour = two_digits(s + 11), minute = two_digits(s + 14), second = two_digits(s + 17);
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

int timetext_rfc3339(const char *s, size_t n, unsigned precision, int64_t *ticks)
{
	int rc = timetext_rfc3339_parse(s, n, precision, ticks);
	return rc == 0 ? 0 : rc == TIMETEXT_ERR_RANGE ? -ERANGE : -EINVAL;
}

const char *timetext_err_text(int err)
{
	switch (err) {
	case 0:
		return "";
	case TIMETEXT_ERR_OFFSET:
		return "bad offset";
	case TIMETEXT_ERR_DATE:
		return "invalid date";
	case TIMETEXT_ERR_TIME:
		return "invalid time";
	case TIMETEXT_ERR_RANGE:
		return "out of range";
	default:
		return "bad format";
	}
}
