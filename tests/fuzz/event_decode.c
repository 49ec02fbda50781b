/*
 * Differential fuzz target for event_decode on the default schema's plan, with cJSON as the
 * reference JSON parser (event_plan.c does the same for a declared 16-field schema).
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

#include "../event_default.h"
#include "event.h"
#include "json_oracle.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ref {
	int64_t time_ms;
	uint64_t user_id;
	const char *url;
	size_t url_len;
	const char *device_id;
	size_t device_id_len;
};

/* What the decoder says of a number token where an unsigned integer is wanted: EVENT_ERR_TYPE
 * for a fraction or exponent, EVENT_ERR_RANGE for a negative integer, else 0. */
static int ref_uint_token(const uint8_t *raw, size_t raw_len)
{
	switch (token_kind(raw, raw_len)) {
	case 1:
		return EVENT_ERR_TYPE;
	case 2:
		return EVENT_ERR_RANGE;
	default:
		return 0;
	}
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
	int rc;
	switch (f) {
	case 0: /* timestamp */
		if (cJSON_IsString(item))
			return ref_timestamp_string(item->valuestring, &r->time_ms);
		if (!cJSON_IsNumber(item))
			return EVENT_ERR_TYPE;
		if (token_kind(raw, raw_len) != 0)
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
		rc = ref_uint_token(raw, raw_len);
		if (rc)
			return rc;
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
		rc = ref_uint_token(raw, raw_len);
		if (rc)
			return rc;
		r->device_id = (const char *)raw;
		r->device_id_len = raw_len;
		return 0;
	}
}

static const char *const field_names[4] = {"timestamp", "user_id", "url", "device_id"};
/* The order a missing field is named in: the declaration order of the default schema. */
static const int missing_order[4] = {0, 1, 3, 2};

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
		for (int m = 0; m < 4; m++) {
			int j = missing_order[m];
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
	int rc = decode_default((const char *)data, size, &ev, scratch, size, &err);
	check_contract(data, size, rc, &ev, &err, scratch);

	/* Without scratch: the same answer, unless a string needed unescaping. */
	int rc0 = decode_default((const char *)data, size, &ev0, NULL, 0, &err0);
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

	cJSON *root = oracle_parse(data, size, text, rc);
	if (root == NULL)
		goto out;

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
