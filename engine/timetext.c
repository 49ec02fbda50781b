/*
 * timetext: instants and dates written as text (contract in include/timetext.h; the date-time
 * reader is there, inline, for the JSON decoder's hot path).
 */
#include "timetext.h"

#include <errno.h>
#include <stdbool.h>

#include "civil.h"

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!timetext_is_digit(s[i]))
			return false;
	return true;
}

int timetext_date_parse(const char *s, size_t n, int64_t *days)
{
	if (n != 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2))
		return TIMETEXT_ERR_FORMAT;
	unsigned y = timetext_two_digits(s) * 100 + timetext_two_digits(s + 2),
		 m = timetext_two_digits(s + 5), d = timetext_two_digits(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > civil_days_in_month(y, m))
		return TIMETEXT_ERR_DATE;
	*days = civil_days_from_date(y, m, d);
	return 0;
}

int timetext_date(const char *s, size_t n, int64_t *days)
{
	return timetext_date_parse(s, n, days) == 0 ? 0 : -EINVAL;
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
