/*
 * uuidtext: a UUID's text, 8-4-4-4-12 hex digits (RFC 9562), read into its 16 bytes.
 *
 * For the event decoders' hot paths (JSON strings and Avro's uuid logical type): no allocation,
 * no branches per digit. With SSSE3 the 32 digits are gathered into two vectors, checked and
 * converted 16 at a time; otherwise a digit at a time, the result the same.
 */
#ifndef ENRICHD_UUIDTEXT_H
#define ENRICHD_UUIDTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SSSE3__)
#include <tmmintrin.h>
#endif

/* Length of a UUID's text. */
#define UUIDTEXT_LEN 36

#if defined(__SSSE3__)
/* 16 hex digit characters into their values, 0..15 each; *ok cleared when one is not a digit. */
static inline __m128i uuidtext_nibbles_(__m128i c, int *ok)
{
	__m128i l = _mm_or_si128(c, _mm_set1_epi8(0x20)); /* 'A'..'F' as 'a'..'f' */
	/* Signed compares: bytes from 0x80 are negative and fail both ranges. The digit range is
	 * tested on c itself: 0x10..0x19 | 0x20 would pass as '0'..'9'. */
	__m128i dig = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
				    _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
	__m128i let = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)),
				    _mm_cmplt_epi8(l, _mm_set1_epi8('f' + 1)));
	*ok &= _mm_movemask_epi8(_mm_or_si128(dig, let)) == 0xFFFF;
	return _mm_or_si128(_mm_and_si128(dig, _mm_sub_epi8(c, _mm_set1_epi8('0'))),
			    _mm_and_si128(let, _mm_sub_epi8(l, _mm_set1_epi8('a' - 10))));
}
#else
/* A hex digit's value, or 16 when c is not one. */
static inline unsigned uuidtext_hex_(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10u : 16u;
}
#endif

/* Reads s[0..n): true and the 16 bytes in out, in the order of the digits, when s is a UUID's
 * text (n = 36, dashes after the 8th, 12th, 16th and 20th digit, digits in either case); else
 * false and out unspecified. Reads only s[0..n). */
static inline bool uuidtext_parse(const uint8_t *s, size_t n, uint8_t out[16])
{
	if (n != UUIDTEXT_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return false;
#if defined(__SSSE3__)
	__m128i a = _mm_loadu_si128((const void *)s);
	__m128i b = _mm_loadu_si128((const void *)(s + 16));
	__m128i c = _mm_loadu_si128((const void *)(s + 20));
	/* digits 0..15: text 0-7, 9-12, 14-17; digits 16..31: text 19-22, 24-35 (-1: a zero) */
	__m128i h0 = _mm_or_si128(
		_mm_shuffle_epi8(a, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, -1, -1)),
		_mm_shuffle_epi8(b, _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
						  -1, 0, 1)));
	__m128i h1 = _mm_or_si128(
		_mm_shuffle_epi8(b, _mm_setr_epi8(3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, -1, -1, -1,
						  -1)),
		_mm_shuffle_epi8(c, _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 12,
						  13, 14, 15)));
	int ok = 1;
	__m128i n0 = uuidtext_nibbles_(h0, &ok), n1 = uuidtext_nibbles_(h1, &ok);
	/* each pair of nibbles (high first) into one 16-bit lane, hi * 16 + lo, then to bytes */
	__m128i w = _mm_set1_epi16(0x0110);
	_mm_storeu_si128((void *)out,
			 _mm_packus_epi16(_mm_maddubs_epi16(n0, w), _mm_maddubs_epi16(n1, w)));
	return ok;
#else
	static const uint8_t at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
	unsigned bad = 0;
	for (int i = 0; i < 16; i++) {
		unsigned hi = uuidtext_hex_(s[at[i]]), lo = uuidtext_hex_(s[at[i] + 1]);
		bad |= (hi | lo) & 16;
		out[i] = (uint8_t)(hi << 4 | (lo & 0xF));
	}
	return bad == 0;
#endif
}

#endif
