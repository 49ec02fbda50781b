/*
 * Unit tests of the date and date-time text readers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "timetext.h"

static int rfc(const char *s, unsigned p, int64_t *t)
{
	return timetext_rfc3339(s, strlen(s), p, t);
}

Test(timetext, rfc3339_precisions)
{
	int64_t t;
	cr_assert_eq(rfc("2024-05-01T10:00:00.123456789Z", 0, &t), 0);
	cr_expect_eq(t, 1714557600);
	cr_assert_eq(rfc("2024-05-01T10:00:00.123456789Z", 3, &t), 0);
	cr_expect_eq(t, 1714557600123);
	cr_assert_eq(rfc("2024-05-01T10:00:00.1z", 6, &t), 0);
	cr_expect_eq(t, 1714557600100000);
	cr_assert_eq(rfc("2024-05-01t12:30:00+02:30", 9, &t), 0);
	cr_expect_eq(t, INT64_C(1714557600000000000));
	cr_assert_eq(rfc("1969-12-31T23:59:59.5-00:00", 3, &t), 0);
	cr_expect_eq(t, -500);
	cr_assert_eq(rfc("2024-02-29T00:00:00Z", 0, &t), 0);
}

Test(timetext, rfc3339_refusals)
{
	int64_t t;
	const char *bad[] = {"2024-05-01 10:00:00Z", "2024-05-01T10:00:00", "2023-02-29T00:00:00Z",
			     "2024-05-01T24:00:00Z", "2024-05-01T10:00:60Z", "2024-05-01T10:00:00.Z",
			     "2024-05-01T10:00:00+24:00", "2024-13-01T10:00:00Z", "2024-05-01T10:00:00Zx",
			     "", "2024-05-01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rfc(bad[i], 3, &t), -EINVAL, "%s", bad[i]);
	cr_expect_eq(rfc("2024-05-01T10:00:00Z", 10, &t), -EINVAL);
	cr_expect_eq(rfc("9999-12-31T23:59:59Z", 9, &t), -ERANGE);
}

Test(timetext, dates)
{
	int64_t d;
	cr_assert_eq(timetext_date("2024-05-01", 10, &d), 0);
	cr_expect_eq(d, 19844);
	cr_expect_eq(timetext_date("2024-5-01", 9, &d), -EINVAL);
	cr_expect_eq(timetext_date("2024-04-31", 10, &d), -EINVAL);
	cr_expect_eq(timetext_date("2024-05-01T", 11, &d), -EINVAL);
}
