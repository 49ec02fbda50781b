/*
 * timetext: instants and dates written as text (RFC 3339, ISO 8601 dates), read into numbers.
 *
 * For decoders off and on the hot path (the JSON event decoder reads every event's time here):
 * no allocation, no locale, no libc time functions (timegm and friends take locks and consult the
 * environment). The calendar is the proleptic Gregorian one, years 0000..9999.
 */
#ifndef ENRICHD_TIMETEXT_H
#define ENRICHD_TIMETEXT_H

#include <stddef.h>
#include <stdint.h>

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
 * TIMETEXT_ERR_TIME, TIMETEXT_ERR_RANGE. Reads only s[0..n); about 40 instructions for
 * "2024-05-01T10:00:00.123Z".
 */
int timetext_rfc3339_parse(const char *s, size_t n, unsigned precision, int64_t *ticks);

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

#endif
