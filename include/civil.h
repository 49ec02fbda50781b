/*
 * civil: day numbers (days since 1970-01-01) to and from dates of the proleptic Gregorian
 * calendar, as ClickHouse's Date, Date32 and DateTime count them (H. Hinnant's days_from_civil
 * and civil_from_days). The one place the project converts dates: the event decoder, the
 * dimension loaders, the Native reader's text and the test-data generator.
 *
 * Header-only and branch-light: the event decoder calls civil_days_from_date on its hot path.
 * Nothing here checks its input; callers validate fields first (civil_days_in_month).
 */
#ifndef ENRICHD_CIVIL_H
#define ENRICHD_CIVIL_H

#include <stdint.h>

/*
 * Days from 1970-01-01 to y-m-d (y 0..UINT32_MAX - 400, m 1..12, d 1..31; negative before 1970).
 * The year is shifted by one 400-year era so that every quantity is unsigned and the divisions
 * by constants are plain multiplications.
 */
static inline int64_t civil_days_from_date(unsigned y, unsigned m, unsigned d)
{
	y = y + 400 - (m <= 2); /* years since March 1 of year -400 */
	unsigned era = y / 400;
	unsigned yoe = y - era * 400;
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468 - 146097;
}

/* Days in month m (1..12) of year y. */
static inline unsigned civil_days_in_month(unsigned y, unsigned m)
{
	static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* The date of day number days (|days| < 2^62): *y (negative before year 0), *m 1..12, *d 1..31. */
static inline void civil_date_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

#endif
