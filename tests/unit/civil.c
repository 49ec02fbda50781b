/*
 * civil: day numbers and calendar dates, both ways: against ClickHouse's day numbers
 * (SELECT toInt64(toDate32('...')), 1900..2299) and Python's datetime.date (years 0 and 9999),
 * and a full round trip over 0000..9999.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "civil.h"

Test(civil, known_dates)
{
	static const struct {
		unsigned y, m, d;
		int64_t days;
	} cases[] = {
		{1970, 1, 1, 0},         {1969, 12, 31, -1},       {2000, 2, 29, 11016},
		{2000, 3, 1, 11017},     {1900, 1, 1, -25567},     {2149, 6, 6, 65535},
		{2299, 12, 31, 120529},  {2106, 2, 7, 49710},      {0, 1, 1, -719528},
		{9999, 12, 31, 2932896}, {2024, 1, 1, 19723},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(civil_days_from_date(cases[i].y, cases[i].m, cases[i].d), cases[i].days,
			     "%u-%u-%u", cases[i].y, cases[i].m, cases[i].d);
		int64_t y;
		unsigned m, d;
		civil_date_from_days(cases[i].days, &y, &m, &d);
		cr_assert(y == cases[i].y && m == cases[i].m && d == cases[i].d, "day %lld",
			  (long long)cases[i].days);
	}
}

Test(civil, days_in_month)
{
	cr_assert_eq(civil_days_in_month(2024, 2), 29);
	cr_assert_eq(civil_days_in_month(2023, 2), 28);
	cr_assert_eq(civil_days_in_month(1900, 2), 28);
	cr_assert_eq(civil_days_in_month(2000, 2), 29);
	cr_assert_eq(civil_days_in_month(2023, 4), 30);
	cr_assert_eq(civil_days_in_month(2023, 12), 31);
}

Test(civil, round_trip)
{
	/* Every day of years 0..9999 comes back as the next date after the one before it. */
	int64_t day = civil_days_from_date(0, 1, 1);
	for (unsigned y = 0; y <= 9999; y++) {
		for (unsigned m = 1; m <= 12; m++) {
			for (unsigned d = 1; d <= civil_days_in_month(y, m); d++, day++) {
				cr_assert_eq(civil_days_from_date(y, m, d), day);
				int64_t yy;
				unsigned mm, dd;
				civil_date_from_days(day, &yy, &mm, &dd);
				if (yy != y || mm != m || dd != d)
					cr_assert_fail("day %lld: %lld-%u-%u", (long long)day,
						       (long long)yy, mm, dd);
			}
		}
	}
	/* Before year 0 (Date32 of a corrupt file may hold any Int32). */
	int64_t y;
	unsigned m, d;
	civil_date_from_days(-719529, &y, &m, &d);
	cr_assert(y == -1 && m == 12 && d == 31);
}
