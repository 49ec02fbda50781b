/*
 * Differential fuzz target for event_decode, with cJSON as the reference JSON parser.
 *
 * For every input the decoder's result is compared with a reference decode of the same schema
 * built from cJSON's tree: same accept/reject decision, same error code, same field values.
 *
 * cJSON 1.7 is not a strict RFC 8259 parser, and where it differs from the event contract the
 * oracle says so explicitly instead of loosening the comparison:
 *  - cJSON is more lenient: it takes every byte <= 0x20 as whitespace, copies control characters
 *    and invalid UTF-8 into strings, reads a \u escape with bad hex digits as U+0000, parses
 *    numbers with strtod (01, 1., -01, 1.e5 pass) and skips a leading byte order mark. A small
 *    independent lexer finds these in the input; an input that has one is not JSON, so the
 *    decoder must reject it with a JSON-level error (empty, syntax, escape, utf8, depth), whatever
 *    cJSON says.
 *  - cJSON is stricter on numbers longer than 63 bytes (it copies them into a 64-byte buffer and
 *    fails): when it rejects an input holding such a number its verdict is not used.
 *  - cJSON strings are NUL-terminated, so a \u0000 escape truncates keys and values: inputs with
 *    one are left to the unit tests.
 *  - cJSON keeps numbers as doubles, so user_id, device_id and epoch-ms numbers are checked
 *    against their raw text: the oracle locates each top-level member's value in the input
 *    (cJSON keeps members in document order) and reads the token itself.
 *  - cJSON allows 1000 levels of nesting, the decoder EVENT_DEPTH_MAX: the oracle measures the
 *    tree and expects EVENT_ERR_DEPTH beyond the bound.
 * Timestamps are checked against a reference RFC 3339 parser written differently (timegm and a
 * gmtime_r round trip for the calendar).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                          \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "oracle mismatch at %s:%d: %s\n  ", __FILE__, __LINE__,   \
				#cond);                                                           \
			fprintf(stderr, __VA_ARGS__);                                             \
			fprintf(stderr, "\n");                                                    \
			abort();                                                                  \
		}                                                                                 \
	} while (0)

/* cJSON copies at most 63 bytes of a number before strtod. */
#define CJSON_NUMBER_MAX 63

static bool json_level(int rc)
{
	return rc == EVENT_ERR_EMPTY || rc == EVENT_ERR_SYNTAX || rc == EVENT_ERR_ESCAPE ||
	       rc == EVENT_ERR_UTF8 || rc == EVENT_ERR_DEPTH;
}

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
static bool utf8_valid(const uint8_t *s, size_t n)
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

static bool is_hex(uint8_t c)
{
	return strchr("0123456789abcdefABCDEF", c) != NULL && c != 0;
}

static bool in_number_set(uint8_t c)
{
	return c != 0 && strchr("0123456789+-.eE", c) != NULL;
}

/* JSON number grammar, written as a regular-expression walk. */
static bool number_ok(const uint8_t *s, size_t n)
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

static void lex_scan(const uint8_t *s, size_t n, struct lex *lx)
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

static size_t skip_ws(const uint8_t *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* i at an opening quote; returns the index after the closing one. */
static size_t skip_string(const uint8_t *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	CHECK(i < n, "unterminated string in input cJSON accepted");
	return i + 1;
}

static size_t skip_any(const uint8_t *s, size_t n, size_t i)
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
static void member_spans(const uint8_t *s, size_t n, struct span *spans, size_t count)
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

static int tree_depth(const cJSON *item)
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

static bool digits_at(const char *s, size_t i, size_t k)
{
	for (size_t j = i; j < i + k; j++)
		if (s[j] < '0' || s[j] > '9')
			return false;
	return true;
}

static int num_at(const char *s, size_t i, size_t k)
{
	int v = 0;
	for (size_t j = i; j < i + k; j++)
		v = v * 10 + (s[j] - '0');
	return v;
}

/* RFC 3339 by a second method: shape by position, calendar by timegm and gmtime_r. */
static int ref_timestamp_string(const char *s, int64_t *out)
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

struct ref {
	int64_t time_ms;
	uint64_t user_id;
	const char *url;
	size_t url_len;
	const char *device_id;
	size_t device_id_len;
};

/* Classifies a number token: 0 integer, 1 fraction or exponent, 2 negative integer. */
static int token_kind(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			return 1;
	return s[0] == '-' ? 2 : 0;
}

/* strtoull on a NUL-terminated copy; false when out of range. */
static bool ref_u64(const char *text, size_t n, uint64_t *out)
{
	char tmp[512];
	if (n >= sizeof(tmp)) {
		size_t z = 0;
		while (z < n && text[z] == '0')
			z++;
		if (n - z > 20)
			return false;
		text += z;
		n -= z;
	}
	memcpy(tmp, text, n);
	tmp[n] = '\0';
	errno = 0;
	unsigned long long v = strtoull(tmp, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

static int ref_field(int f, const cJSON *item, const uint8_t *raw, size_t raw_len, struct ref *r)
{
	int kind;
	switch (f) {
	case 0: /* timestamp */
		if (cJSON_IsString(item))
			return ref_timestamp_string(item->valuestring, &r->time_ms);
		if (!cJSON_IsNumber(item))
			return EVENT_ERR_TYPE;
		kind = token_kind(raw, raw_len);
		if (kind != 0)
			return EVENT_ERR_TIMESTAMP;
		uint64_t ms;
		if (!ref_u64((const char *)raw, raw_len, &ms) || ms > (uint64_t)EVENT_TIME_MS_MAX)
			return EVENT_ERR_TIMESTAMP;
		CHECK((double)ms == item->valuedouble, "epoch ms %llu vs cJSON %.17g",
		      (unsigned long long)ms, item->valuedouble);
		r->time_ms = (int64_t)ms;
		return 0;
	case 1: /* user_id */
		if (cJSON_IsString(item)) {
			const char *s = item->valuestring;
			size_t n = strlen(s);
			if (n == 0 || !digits_at(s, 0, n))
				return EVENT_ERR_TYPE;
			return ref_u64(s, n, &r->user_id) ? 0 : EVENT_ERR_RANGE;
		}
		if (!cJSON_IsNumber(item))
			return EVENT_ERR_TYPE;
		kind = token_kind(raw, raw_len);
		if (kind == 1)
			return EVENT_ERR_TYPE;
		if (kind == 2)
			return EVENT_ERR_RANGE;
		if (!ref_u64((const char *)raw, raw_len, &r->user_id))
			return EVENT_ERR_RANGE;
		/* the double is the nearest one to the integer */
		CHECK((double)r->user_id == item->valuedouble, "user_id %llu vs cJSON %.17g",
		      (unsigned long long)r->user_id, item->valuedouble);
		return 0;
	case 2: /* url */
		if (!cJSON_IsString(item))
			return EVENT_ERR_TYPE;
		r->url = item->valuestring;
		r->url_len = strlen(item->valuestring);
		return 0;
	default: /* device_id */
		if (cJSON_IsString(item)) {
			r->device_id = item->valuestring;
			r->device_id_len = strlen(item->valuestring);
			return 0;
		}
		if (!cJSON_IsNumber(item))
			return EVENT_ERR_TYPE;
		kind = token_kind(raw, raw_len);
		if (kind == 1)
			return EVENT_ERR_TYPE;
		if (kind == 2)
			return EVENT_ERR_RANGE;
		r->device_id = (const char *)raw;
		r->device_id_len = raw_len;
		return 0;
	}
}

static const char *const field_names[4] = {"timestamp", "user_id", "url", "device_id"};

/* The expected result for an input that is strict JSON (cJSON accepted it, no lexical flag). */
static int ref_decode(const uint8_t *data, size_t size, const cJSON *root, struct ref *r,
		      const char **missing)
{
	if (tree_depth(root) > EVENT_DEPTH_MAX)
		return EVENT_ERR_DEPTH;
	if (!cJSON_IsObject(root))
		return EVENT_ERR_NOT_OBJECT;
	size_t count = 0;
	for (const cJSON *c = root->child; c != NULL; c = c->next)
		count++;
	struct span *spans = calloc(count ? count : 1, sizeof(*spans));
	CHECK(spans != NULL, "calloc");
	member_spans(data, size, spans, count);
	unsigned seen = 0;
	int rc = 0;
	size_t k = 0;
	for (const cJSON *c = root->child; c != NULL && rc == 0; c = c->next, k++) {
		int f = -1;
		for (int j = 0; j < 4; j++)
			if (strcmp(c->string, field_names[j]) == 0)
				f = j;
		if (f < 0)
			continue;
		if (seen & (1u << f)) {
			rc = EVENT_ERR_DUPLICATE;
			break;
		}
		seen |= 1u << f;
		rc = ref_field(f, c, data + spans[k].start, spans[k].end - spans[k].start, r);
	}
	free(spans);
	if (rc == 0 && seen != 0xF) {
		for (int j = 0; j < 4; j++) {
			if (!(seen & (1u << j))) {
				*missing = field_names[j];
				break;
			}
		}
		rc = EVENT_ERR_MISSING;
	}
	return rc;
}

/* ---- properties of the decoder alone ---- */

static bool within(const char *p, size_t len, const void *base, size_t cap)
{
	const char *b = base;
	return p >= b && len <= cap && p <= b + (cap - len);
}

static void check_contract(const uint8_t *data, size_t size, int rc, const struct event *ev,
			   const struct event_error *err, const char *scratch)
{
	CHECK(rc <= 0 && rc > -EVENT_ERR_COUNT, "rc %d", rc);
	CHECK(rc != EVENT_ERR_TOO_LONG, "scratch of the message size overflowed");
	if (rc != 0) {
		CHECK(err->reason != NULL && err->reason[0] != '\0', "no reason for %d", rc);
		CHECK(err->offset <= size, "offset %zu > %zu", err->offset, size);
		return;
	}
	CHECK(ev->time_ms >= 0 && ev->time_ms <= EVENT_TIME_MS_MAX, "time %lld",
	      (long long)ev->time_ms);
	CHECK(ev->scratch_used <= size, "scratch_used %u", ev->scratch_used);
	CHECK(within(ev->url, ev->url_len, data, size) ||
		      within(ev->url, ev->url_len, scratch, ev->scratch_used),
	      "url outside message and used scratch");
	CHECK(within(ev->device_id, ev->device_id_len, data, size) ||
		      within(ev->device_id, ev->device_id_len, scratch, ev->scratch_used),
	      "device_id outside message and used scratch");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *scratch = malloc(size ? size : 1);
	char *text = malloc(size + 1);
	if (scratch == NULL || text == NULL)
		abort();
	struct event ev, ev0;
	struct event_error err = {0}, err0 = {0};
	int rc = event_decode((const char *)data, size, &ev, scratch, size, &err);
	check_contract(data, size, rc, &ev, &err, scratch);

	/* Without scratch: the same answer, unless a string needed unescaping. */
	int rc0 = event_decode((const char *)data, size, &ev0, NULL, 0, &err0);
	if (json_level(rc) || rc == EVENT_ERR_NOT_OBJECT)
		CHECK(rc0 == rc, "no scratch: %d, with scratch: %d", rc0, rc);
	else
		CHECK(rc0 == rc || rc0 == EVENT_ERR_TOO_LONG, "no scratch: %d, with: %d", rc0, rc);
	if (rc0 == 0)
		CHECK(ev0.url == ev.url && ev0.device_id == ev.device_id &&
			      ev0.time_ms == ev.time_ms && ev0.user_id == ev.user_id,
		      "no-scratch decode differs");

	/* Empty means exactly: nothing but JSON whitespace. */
	bool blank = true;
	for (size_t i = 0; i < size; i++)
		blank &= data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r';
	CHECK((rc == EVENT_ERR_EMPTY) == blank, "blank %d but %s", blank, event_err_name(rc));

	struct lex lx;
	lex_scan(data, size, &lx);
	if (lx.bad_utf8 || lx.bad_control || lx.bad_hex || lx.bad_number || lx.bom) {
		CHECK(json_level(rc), "not strict JSON (utf8 %d control %d hex %d number %d bom %d) "
				      "but decoded to %s",
		      lx.bad_utf8, lx.bad_control, lx.bad_hex, lx.bad_number, lx.bom,
		      event_err_name(rc));
		goto out;
	}
	if (lx.nul_escape)
		goto out;

	memcpy(text, data, size);
	text[size] = '\0';
	cJSON *root = cJSON_ParseWithLengthOpts(text, size + 1, NULL, 1);
	if (root == NULL) {
		if (lx.long_number)
			goto out;
		CHECK(json_level(rc), "cJSON rejects, decoder says %s", event_err_name(rc));
		goto out;
	}

	struct ref r = {0};
	const char *missing = NULL;
	int want = ref_decode(data, size, root, &r, &missing);
	CHECK(rc == want, "decoder %s (%s), reference %s", event_err_name(rc),
	      rc ? err.reason : "-", event_err_name(want));
	if (rc == EVENT_ERR_MISSING) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%s: missing", missing);
		CHECK(strcmp(err.reason, reason) == 0, "reason '%s', want '%s'", err.reason, reason);
	}
	if (rc == 0) {
		CHECK(ev.time_ms == r.time_ms, "time %lld, want %lld", (long long)ev.time_ms,
		      (long long)r.time_ms);
		CHECK(ev.user_id == r.user_id, "user_id %llu, want %llu",
		      (unsigned long long)ev.user_id, (unsigned long long)r.user_id);
		CHECK(ev.url_len == r.url_len && memcmp(ev.url, r.url, r.url_len) == 0,
		      "url '%.*s', want '%s'", (int)ev.url_len, ev.url, r.url);
		CHECK(ev.device_id_len == r.device_id_len &&
			      memcmp(ev.device_id, r.device_id, r.device_id_len) == 0,
		      "device_id '%.*s', want '%.*s'", (int)ev.device_id_len, ev.device_id,
		      (int)r.device_id_len, r.device_id);
	}
	cJSON_Delete(root);
out:
	free(text);
	free(scratch);
	return 0;
}
