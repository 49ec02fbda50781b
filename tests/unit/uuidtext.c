/*
 * Unit tests of the UUID text reader: every byte value at every position of the text, against a
 * digit-at-a-time reading written here from RFC 9562's grammar.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "uuidtext.h"

/* The grammar, one character at a time: the reference reading. */
static bool reference(const uint8_t *s, size_t n, uint8_t out[16])
{
	if (n != 36)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		const char *digits = "0123456789abcdef", *up = "0123456789ABCDEF";
		const char *at = s[i] != 0 ? strchr(digits, s[i]) : NULL;
		const char *atu = s[i] != 0 ? strchr(up, s[i]) : NULL;
		if (at == NULL && atu == NULL)
			return false;
		unsigned v = (unsigned)(at != NULL ? at - digits : atu - up);
		if (k % 2 == 0)
			out[k / 2] = (uint8_t)(v << 4);
		else
			out[k / 2] |= (uint8_t)v;
		k++;
	}
	return true;
}

static void check(const uint8_t *s, size_t n)
{
	uint8_t got[16], want[16];
	bool ok = uuidtext_parse(s, n, got);
	cr_assert_eq(ok, reference(s, n, want), "%.*s", (int)n, (const char *)s);
	if (ok)
		cr_assert_eq(memcmp(got, want, 16), 0, "%.*s", (int)n, (const char *)s);
}

Test(uuidtext, reads_the_bytes_in_the_order_of_the_digits)
{
	const char *s = "0123abcd-4567-89AB-cDeF-0123456789ab";
	static const uint8_t want[16] = {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xab,
					 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
	uint8_t got[16];
	cr_assert(uuidtext_parse((const uint8_t *)s, 36, got));
	cr_expect_eq(memcmp(got, want, 16), 0);
}

Test(uuidtext, every_byte_at_every_position)
{
	uint8_t s[36];
	memcpy(s, "e220a839-7b1d-cdaf-3a34-ce6380fc0bc5", 36);
	for (size_t i = 0; i < 36; i++) {
		uint8_t keep = s[i];
		for (unsigned c = 0; c < 256; c++) {
			s[i] = (uint8_t)c;
			check(s, 36);
		}
		s[i] = keep;
	}
}

Test(uuidtext, wrong_lengths_and_random_texts)
{
	uint8_t buf[40];
	memcpy(buf, "e220a839-7b1d-cdaf-3a34-ce6380fc0bc5ab", 38);
	for (size_t n = 0; n <= 38; n++)
		check(buf, n);
	srand(7);
	for (int t = 0; t < 200000; t++) {
		static const char pick[] = "0123456789abcdefABCDEF-g/:@`G\x10\x19\x80\xff";
		for (size_t i = 0; i < 36; i++)
			buf[i] = (uint8_t)pick[rand() % (t % 4 == 0 ? (int)sizeof pick - 1 : 22)];
		buf[8] = buf[13] = buf[18] = buf[23] = t % 7 == 0 ? 'x' : '-';
		check(buf, 36);
	}
}
