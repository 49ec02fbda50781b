/*
 * timetext: instants and dates written as text (RFC 3339, ISO 8601 dates), read into numbers.
 *
 * For decoders off and on the hot path: no allocation, no locale, no libc time functions
 * (timegm and friends take locks and consult the environment). The calendar is the proleptic
 * Gregorian one, years 0000..9999.
 */
#ifndef ENRICHD_TIMETEXT_H
#define ENRICHD_TIMETEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads an RFC 3339 date-time s[0..n): "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)" ('t' and
 * 'z' also in lower case; the fraction has 1 or more digits). Strict: no leap second, no hour 24,
 * the day checked against the month. *ticks receives the instant in units of 10^-precision s
 * since the epoch (UTC), precision 0..9, with the fraction's extra digits truncated (floored).
 * Returns 0, -EINVAL for text that is not such a date-time (or precision > 9), -ERANGE when the
 * ticks do not fit in 64 bits.
 */
int timetext_rfc3339(const char *s, size_t n, unsigned precision, int64_t *ticks);

/* Reads a date "YYYY-MM-DD" s[0..n) into *days since 1970-01-01. Returns 0 or -EINVAL. */
int timetext_date(const char *s, size_t n, int64_t *days);

#endif
