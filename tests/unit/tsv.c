/*
 * tsv: TabSeparated escaping, as the dead-letter file (no quote escape) and the Native reader's
 * text (ClickHouse's output, with \') use it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tsv.h"

Test(tsv, escapes_every_tsv_special_byte)
{
	const char raw[] = {'a', '\t', 'b', '\n', '\\', '\0', '\r', '\b', '\f', (char)0xff};
	char out[2 * sizeof(raw)];
	size_t n = tsv_escape(out, sizeof(out), raw, sizeof(raw), 0);
	const char want[] = "a\\tb\\n\\\\\\0\\r\\b\\f\xff";
	cr_assert_eq(n, sizeof(want) - 1);
	cr_expect_eq(memcmp(out, want, n), 0);
}

Test(tsv, escape_text_with_quotes)
{
	static const uint8_t in[] = "a'b\\c\td\ne\rf\0g\bh\fi\x07\x7f\"";
	char out[64];
	size_t n = tsv_escape(out, sizeof(out), in, sizeof(in) - 1, TSV_ESCAPE_QUOTE);
	cr_assert_str_eq(out, "a\\'b\\\\c\\td\\ne\\rf\\0g\\bh\\fi\x07\x7f\"");
	cr_assert_eq(n, strlen(out));
	/* A short buffer: the length is still reported, nothing written past cap. */
	char small[4] = {'#', '#', '#', '#'};
	cr_assert_eq(tsv_escape(small, 3, in, sizeof(in) - 1, TSV_ESCAPE_QUOTE), n);
	cr_assert_eq(small[3], '#');
}
