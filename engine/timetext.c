/*
 * timetext: instants and dates written as text (contract in include/timetext.h).
 */
#include "timetext.h"

#include <errno.h>
#include <stdbool.h>

#include "civil.h"

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static unsigned num(const char *s, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

int timetext_date(const char *s, size_t n, int64_t *days)
{
	if (n != 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2))
		return -EINVAL;
	unsigned y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
	if (m < 1 || m > 12 || d < 1 || d > civil_days_in_month(y, m))
		return -EINVAL;
	*days = civil_days_from_date(y, m, d);
	return 0;
}

/* The offset "Z" or "+hh:mm" / "-hh:mm" that must make up all of s[0..n), in seconds. */
static int parse_offset(const char *s, size_t n, int64_t *offset_s)
{
	if (n == 1 && (s[0] | 0x20) == 'z') {
		*offset_s = 0;
		return 0;
	}
	if (n != 6 || (s[0] != '+' && s[0] != '-') || !digits(s + 1, 2) || s[3] != ':' ||
	    !digits(s + 4, 2))
		return -EINVAL;
	unsigned oh = num(s + 1, 2), om = num(s + 4, 2);
	if (oh > 23 || om > 59)
		return -EINVAL;
	*offset_s = (int64_t)(oh * 60 + om) * 60 * (s[0] == '-' ? -1 : 1);
	return 0;
}

int timetext_rfc3339(const char *s, size_t n, unsigned precision, int64_t *ticks)
{
	static const int64_t pow10[10] = {1,	  10,	  100,	   1000,     10000,
					  100000, 1000000, 10000000, 100000000, 1000000000};
	if (precision > 9 || n < 20 || timetext_date(s, 10, &(int64_t){0}) < 0 ||
	    (s[10] | 0x20) != 't' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return -EINVAL;
	int64_t days;
	timetext_date(s, 10, &days);
	unsigned hour = num(s + 11, 2), minute = num(s + 14, 2), second = num(s + 17, 2);
	if (hour > 23 || minute > 59 || second > 59)
		return -EINVAL;
	size_t i = 19;
	int64_t frac = 0; /* the fraction's first `precision` digits */
	if (s[i] == '.') {
		size_t first = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (i - first < precision)
				frac = frac * 10 + (s[i] - '0');
			i++;
		}
		if (i == first)
			return -EINVAL;
		for (size_t k = i - first; k < precision; k++)
			frac *= 10;
	}
	int64_t offset_s;
	if (parse_offset(s + i, n - i, &offset_s) < 0)
		return -EINVAL;
	int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
	int64_t t;
	if (__builtin_mul_overflow(secs, pow10[precision], &t) ||
	    __builtin_add_overflow(t, frac, &t))
		return -ERANGE;
	*ticks = t;
	return 0;
}
