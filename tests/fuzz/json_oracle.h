/*
 * json_oracle: what the JSON event decoder's differential fuzz targets (event_decode.c,
 * event_plan.c) share: the lexical checks cJSON does not make and the verdict they lead to
 * before cJSON's tree is compared, the raw text of members, the depth of a cJSON tree, and an
 * RFC 3339 reader written differently from the decoder's (shape by position, the calendar by
 * timegm and a gmtime_r round trip). See event_decode.c for why each is needed. Header-only, for
 * the fuzz programs.
 */
#ifndef ENRICHD_FUZZ_JSON_ORACLE_H
#define ENRICHD_FUZZ_JSON_ORACLE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "oracle_check.h"

/* cJSON copies at most 63 bytes of a number before strtod. */
#define CJSON_NUMBER_MAX 63

/* ---- lexical checks the reference parser does not make ---- */

struct lex {
	bool bad_utf8;    /* the input is not UTF-8 */
	bool bad_control; /* a control byte outside JSON whitespace, or any inside a string */
	bool bad_hex;     /* a \u escape without 4 hex digits */
	bool bad_number;  /* a number token outside the JSON grammar */
	bool bom;         /* starts with a UTF-8 byte order mark */
	bool nul_escape;  /* a \u0000 escape */
	bool long_number; /* a number token longer than cJSON reads */
};

/* UTF-8 check by decoding each code point and testing its range (the decoder uses byte tables). */
__attribute__((unused)) static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t c = s[i];
		size_t len;
		uint32_t min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			len = 2, min = 0x80, c &= 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3, min = 0x800, c &= 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4, min = 0x10000, c &= 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			c = c << 6 | (s[i + k] & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

__attribute__((unused)) static bool is_hex(uint8_t c)
{
	return strchr("0123456789abcdefABCDEF", c) != NULL && c != 0;
}

__attribute__((unused)) static bool in_number_set(uint8_t c)
{
	return c != 0 && strchr("0123456789+-.eE", c) != NULL;
}

/* JSON number grammar, written as a regular-expression walk. */
__attribute__((unused)) static bool number_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else {
		size_t start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || s[start] == '0')
			return false;
	}
	if (i < n && s[i] == '.') {
		size_t start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	return i == n;
}

__attribute__((unused)) static void lex_scan(const uint8_t *s, size_t n, struct lex *lx)
{
	memset(lx, 0, sizeof(*lx));
	lx->bad_utf8 = !utf8_valid(s, n);
	lx->bom = n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF;
	bool in_string = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			lx->bad_control = true;
		if (in_string) {
			if (c < 0x20) {
				lx->bad_control = true;
			} else if (c == '"') {
				in_string = false;
			} else if (c == '\\' && i + 1 < n) {
				if (s[i + 1] == 'u') {
					bool hex = i + 5 < n;
					for (size_t k = 2; hex && k < 6; k++)
						hex = is_hex(s[i + k]);
					if (!hex)
						lx->bad_hex = true;
					else if (memcmp(s + i + 2, "0000", 4) == 0)
						lx->nul_escape = true;
				}
				i++; /* the escaped byte cannot end the string */
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i;
			while (j < n && in_number_set(s[j]))
				j++;
			if (j - i > CJSON_NUMBER_MAX)
				lx->long_number = true;
			if (!number_ok(s + i, j - i))
				lx->bad_number = true;
			i = j - 1;
		}
	}
}

/* ---- raw text of the top-level members of a valid JSON object ---- */

struct span {
	size_t start, end;
};

__attribute__((unused)) static size_t skip_ws(const uint8_t *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* i at an opening quote; returns the index after the closing one. */
__attribute__((unused)) static size_t skip_string(const uint8_t *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	CHECK(i < n, "unterminated string in input cJSON accepted");
	return i + 1;
}

__attribute__((unused)) static size_t skip_any(const uint8_t *s, size_t n, size_t i)
{
	if (s[i] == '"')
		return skip_string(s, n, i);
	if (s[i] == '{' || s[i] == '[') {
		size_t depth = 0;
		while (i < n) {
			if (s[i] == '"') {
				i = skip_string(s, n, i);
				continue;
			}
			if (s[i] == '{' || s[i] == '[')
				depth++;
			else if (s[i] == '}' || s[i] == ']')
				depth--;
			i++;
			if (depth == 0)
				return i;
		}
		CHECK(0, "unbalanced container in input cJSON accepted");
	}
	while (i < n && !strchr(",}] \t\n\r", s[i]))
		i++;
	return i;
}

/* Fills spans[0..count) with the value text of each member of the top-level object. */
__attribute__((unused)) static void member_spans(const uint8_t *s, size_t n, struct span *spans, size_t count)
{
	size_t i = skip_ws(s, n, 0), k = 0;
	CHECK(i < n && s[i] == '{', "object expected");
	i = skip_ws(s, n, i + 1);
	while (i < n && s[i] != '}') {
		i = skip_ws(s, n, skip_string(s, n, i));
		CHECK(i < n && s[i] == ':', "':' expected at %zu", i);
		i = skip_ws(s, n, i + 1);
		CHECK(k < count, "more members than cJSON children");
		spans[k].start = i;
		i = skip_any(s, n, i);
		spans[k].end = i;
		k++;
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ',')
			i = skip_ws(s, n, i + 1);
	}
	CHECK(k == count, "%zu members, %zu cJSON children", k, count);
}

/* ---- reference decode of the schema ---- */

/* Classifies a number token: 0 integer, 1 fraction or exponent, 2 negative integer. */
__attribute__((unused)) static int token_kind(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			return 1;
	return s[0] == '-' ? 2 : 0;
}

__attribute__((unused)) static int tree_depth(const cJSON *item)
{
	if (!cJSON_IsArray(item) && !cJSON_IsObject(item))
		return 0;
	int max = 0;
	for (const cJSON *c = item->child; c != NULL; c = c->next) {
		int d = tree_depth(c);
		if (d > max)
			max = d;
	}
	return max + 1;
}

__attribute__((unused)) static bool digits_at(const char *s, size_t i, size_t k)
{
	for (size_t j = i; j < i + k; j++)
		if (s[j] < '0' || s[j] > '9')
			return false;
	return true;
}

__attribute__((unused)) static int num_at(const char *s, size_t i, size_t k)
{
	int v = 0;
	for (size_t j = i; j < i + k; j++)
		v = v * 10 + (s[j] - '0');
	return v;
}

/* RFC 3339 by a second method: shape by position, calendar by timegm and gmtime_r. */
__attribute__((unused)) static int ref_timestamp_string(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	if (n < 20 || !digits_at(s, 0, 4) || s[4] != '-' || !digits_at(s, 5, 2) || s[7] != '-' ||
	    !digits_at(s, 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits_at(s, 11, 2) ||
	    s[13] != ':' || !digits_at(s, 14, 2) || s[16] != ':' || !digits_at(s, 17, 2))
		return EVENT_ERR_TIMESTAMP;
	size_t i = 19;
	int frac_ms = 0;
	if (s[i] == '.') {
		size_t k = 0;
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, k++)
			if (k < 3)
				frac_ms += (s[i] - '0') * (k == 0 ? 100 : k == 1 ? 10 : 1);
		if (k == 0)
			return EVENT_ERR_TIMESTAMP;
	}
	long offset_min = 0;
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if ((s[i] == '+' || s[i] == '-') && n - i >= 6 && digits_at(s, i + 1, 2) &&
		   s[i + 3] == ':' && digits_at(s, i + 4, 2)) {
		int oh = num_at(s, i + 1, 2), om = num_at(s, i + 4, 2);
		if (oh > 23 || om > 59)
			return EVENT_ERR_TIMESTAMP;
		offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
		i += 6;
	} else {
		return EVENT_ERR_TIMESTAMP;
	}
	if (i != n)
		return EVENT_ERR_TIMESTAMP;
	int year = num_at(s, 0, 4), month = num_at(s, 5, 2), day = num_at(s, 8, 2);
	int hour = num_at(s, 11, 2), minute = num_at(s, 14, 2), second = num_at(s, 17, 2);
	if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
	    second > 59)
		return EVENT_ERR_TIMESTAMP;
	struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
			.tm_hour = hour, .tm_min = minute, .tm_sec = second};
	time_t t = timegm(&tm);
	struct tm back;
	CHECK(gmtime_r(&t, &back) != NULL, "gmtime_r");
	if (back.tm_mday != day || back.tm_mon != month - 1)
		return EVENT_ERR_TIMESTAMP; /* normalised: no such day */
	int64_t ms = ((int64_t)t - offset_min * 60) * 1000 + frac_ms;
	if (ms < 0 || ms > EVENT_TIME_MS_MAX)
		return EVENT_ERR_TIMESTAMP;
	*out = ms;
	return 0;
}

/* ---- the verdict before the tree is compared ---- */

/* An error of the JSON layer, not of a field: what an input that is not JSON must give. */
__attribute__((unused)) static bool json_level(int rc)
{
	return rc == EVENT_ERR_EMPTY || rc == EVENT_ERR_SYNTAX || rc == EVENT_ERR_ESCAPE ||
	       rc == EVENT_ERR_UTF8 || rc == EVENT_ERR_DEPTH;
}

/*
 * cJSON's tree of the input the decoder answered rc to, or NULL where the comparison ends
 * before a tree: the input is not strict JSON (the decoder must have given a JSON-level error),
 * holds a \u0000 escape (left to the unit tests), or cJSON rejects it (the same check, unless a
 * number longer than cJSON reads is why). text has room for size + 1 bytes; the tree is the
 * caller's (cJSON_Delete).
 */
__attribute__((unused)) static cJSON *oracle_parse(const uint8_t *data, size_t size, char *text,
						   int rc)
{
	struct lex lx;
	lex_scan(data, size, &lx);
	if (lx.bad_utf8 || lx.bad_control || lx.bad_hex || lx.bad_number || lx.bom) {
		CHECK(json_level(rc),
		      "not strict JSON (utf8 %d control %d hex %d number %d bom %d) but decoded "
		      "to %s",
		      lx.bad_utf8, lx.bad_control, lx.bad_hex, lx.bad_number, lx.bom,
		      event_err_name(rc));
		return NULL;
	}
	if (lx.nul_escape)
		return NULL;
	memcpy(text, data, size);
	text[size] = '\0';
	cJSON *root = cJSON_ParseWithLengthOpts(text, size + 1, NULL, 1);
	if (root == NULL && !lx.long_number)
		CHECK(json_level(rc), "cJSON rejects, decoder says %s", event_err_name(rc));
	return root;
}

#endif
