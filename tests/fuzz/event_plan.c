/*
 * Differential fuzz target for event_decode on a declared schema of 17 fields (nested objects,
 * arrays, Nullable, UUID, IPv4, IPv6, FixedString, Bool, Float64, Date, LowCardinality, a string
 * field taking integers, a catch-all), with cJSON as the reference JSON parser, as event_decode.c
 * does for the default schema (its notes on cJSON's leniencies hold here too: json_oracle.h).
 *
 * For every input:
 *  - the decoder and an independent reference decode of the schema agree: the code, the reason's
 *    field on a refusal, every slot's value and the catch-all text on success. The reference
 *    walks cJSON's tree by the declared paths and reads each value with other means than the
 *    decoder's: strtoull and strtod on the raw token, inet_pton for addresses, timegm for dates,
 *    a hand check of the UUID text;
 *  - the input after a space decodes exactly as the input itself: a compact input takes the fast
 *    pass, the spaced one the general pass, so the two passes are compared on every input.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json_oracle.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	F_TS, F_TYPE, F_USER_ID, F_LOGGED_IN, F_SESSION, F_DEVICE_ID, F_OS, F_URL, F_REFERRER,
	F_COUNTRY, F_IP, F_IP6, F_PRICE, F_ITEMS, F_TAGS, F_DURATION, F_DAY, F_COUNT
};

static const char *const decls[F_COUNT][3] = {
	/* column, declaration, path */
	{"event_time", "DateTime64(3, 'UTC') from ts unit=ms", "ts"},
	{"event_type", "LowCardinality(String) from type", "type"},
	{"user_id", "UInt64 from user.id", "user.id"},
	{"logged_in", "Bool from user.logged_in", "user.logged_in"},
	{"session_id", "UUID from session", "session"},
	{"device_id", "String from device.id integers=text", "device.id"},
	{"os", "LowCardinality(String) from device.os", "device.os"},
	{"url", "String from page.url", "page.url"},
	{"referrer", "Nullable(String) from page.referrer", "page.referrer"},
	{"country", "FixedString(2) from geo.country", "geo.country"},
	{"ip", "IPv4 from geo.ip", "geo.ip"},
	{"ip6", "Nullable(IPv6) from geo.ip6", "geo.ip6"},
	{"price", "Nullable(Float64) from cart.price", "cart.price"},
	{"items", "Array(Int64) from cart.items", "cart.items"},
	{"tags", "Array(String) from tags", "tags"},
	{"duration_ms", "Nullable(UInt32) from duration_ms", "duration_ms"},
	{"day", "Date from day", "day"},
};
static const char *const parents[] = {"user", "device", "page", "geo", "cart"};
#define PARENTS (sizeof(parents) / sizeof(parents[0]))

static struct event_plan *plan_get(void)
{
	static struct event_plan *plan;
	if (plan != NULL)
		return plan;
	static struct schema s;
	char why[256];
	unsigned line;
	snprintf(s.metadata, sizeof(s.metadata), "%s", SCHEMA_META_DEFAULT);
	snprintf(s.time_field, sizeof(s.time_field), "event_time");
	snprintf(s.catch_all, sizeof(s.catch_all), "rest");
	for (int f = 0; f < F_COUNT; f++)
		CHECK(schema_field_parse(decls[f][0], decls[f][1], &s.fields[s.field_count++], why,
					 sizeof(why)) == 0,
		      "field.%s: %s", decls[f][0], why);
	CHECK(schema_finish(&s, why, sizeof(why), &line) == 0 &&
		      event_plan_create(&s, &plan, why, sizeof(why), NULL) == 0,
	      "plan: %s", why);
	return plan;
}

/* ---- raw spans of the values of a valid input, found alongside cJSON's tree ---- */

#define RAW_MAX 4096

struct raw {
	const cJSON *item;
	size_t key_start, key_end; /* an object member's key, quotes included */
	size_t start, end;         /* its value */
};

struct raws {
	struct raw r[RAW_MAX];
	size_t n;
	bool full;
};

/* Walks the value of item at s[i..] (no whitespace first); returns the index after it. */
static size_t walk(const uint8_t *s, size_t n, size_t i, const cJSON *item, size_t key_start,
		   size_t key_end, struct raws *rw)
{
	size_t at = rw->n;
	if (rw->n < RAW_MAX)
		rw->r[rw->n++] = (struct raw){item, key_start, key_end, i, 0};
	else
		rw->full = true;
	if (s[i] == '{' || s[i] == '[') {
		bool object = s[i] == '{';
		i = skip_ws(s, n, i + 1);
		for (const cJSON *c = item->child; c != NULL; c = c->next) {
			size_t ks = 0, ke = 0;
			if (object) {
				ks = i;
				ke = skip_string(s, n, i);
				i = skip_ws(s, n, ke);
				CHECK(s[i] == ':', "':' expected at %zu", i);
				i = skip_ws(s, n, i + 1);
			}
			i = skip_ws(s, n, walk(s, n, i, c, ks, ke, rw));
			if (s[i] == ',')
				i = skip_ws(s, n, i + 1);
		}
		CHECK(s[i] == (object ? '}' : ']'), "closing expected at %zu", i);
		i++;
	} else {
		i = skip_any(s, n, i);
	}
	if (at < RAW_MAX)
		rw->r[at].end = i;
	return i;
}

static const struct raw *raw_of(const struct raws *rw, const cJSON *item)
{
	for (size_t k = 0; k < rw->n; k++)
		if (rw->r[k].item == item)
			return &rw->r[k];
	CHECK(0, "no raw span for an item");
	return NULL;
}

/* ---- the reference decode ---- */

#define REF_ITEMS_MAX 8192

struct ref {
	struct event_value v[F_COUNT]; /* strings point into cJSON's tree */
	char text[F_COUNT][64];      /* device_id's integer text, UUID and IPv6 bytes */
	int64_t ints[REF_ITEMS_MAX]; /* items */
	struct event_str tags[REF_ITEMS_MAX];
	bool items_overflow;
	char rest[8192];             /* the expected catch-all */
	size_t rest_len;
	bool rest_overflow;
	uint32_t seen;
	uint32_t parents_seen;
	int err;
	int err_field;               /* the field (or -1 - parent) of the first error */
};

/* strtoull/strtoll on a copy; false when out of 64 bits (or too long to care). */
static bool ref_int(const uint8_t *text, size_t n, bool is_signed, int64_t *out_s, uint64_t *out_u)
{
	char tmp[64];
	size_t z = text[0] == '-';
	while (z + 1 < n && text[z] == '0')
		z++; /* leading zeros of a decimal string */
	if (n - z > 25)
		return false;
	snprintf(tmp, sizeof(tmp), "%s%.*s", text[0] == '-' ? "-" : "", (int)(n - z), text + z);
	errno = 0;
	if (is_signed)
		*out_s = strtoll(tmp, NULL, 10);
	else
		*out_u = strtoull(tmp, NULL, 10);
	return errno != ERANGE;
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int ref_uint(const cJSON *c, const struct raw *r, const uint8_t *in, uint64_t max,
		    uint64_t *out)
{
	if (cJSON_IsString(c)) {
		if (!all_digits(c->valuestring))
			return EVENT_ERR_TYPE;
		int64_t unused;
		bool ok = ref_int((const uint8_t *)c->valuestring, strlen(c->valuestring), false,
				  &unused, out);
		return ok && *out <= max ? 0 : EVENT_ERR_RANGE;
	}
	if (!cJSON_IsNumber(c))
		return EVENT_ERR_TYPE;
	int kind = token_kind(in + r->start, r->end - r->start);
	if (kind == 1)
		return EVENT_ERR_TYPE;
	if (kind == 2)
		return EVENT_ERR_RANGE;
	int64_t unused;
	bool ok = ref_int(in + r->start, r->end - r->start, false, &unused, out);
	return ok && *out <= max ? 0 : EVENT_ERR_RANGE;
}

static bool ref_uuid(const char *s, uint8_t out[16])
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0, o = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
			return false;
		char h[3] = {s[i], s[i + 1], 0};
		out[o++] = (uint8_t)strtoul(h, NULL, 16);
		i++;
	}
	return true;
}

/* YYYY-MM-DD into days, by timegm and a round trip; 1970-01-01..2149-06-06. */
static int ref_date(const char *s, uint64_t *days)
{
	if (strlen(s) != 10 || !digits_at(s, 0, 4) || s[4] != '-' || !digits_at(s, 5, 2) ||
	    s[7] != '-' || !digits_at(s, 8, 2))
		return EVENT_ERR_TIMESTAMP;
	int y = num_at(s, 0, 4), m = num_at(s, 5, 2), d = num_at(s, 8, 2);
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return EVENT_ERR_TIMESTAMP;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
	time_t t = timegm(&tm);
	struct tm back;
	CHECK(gmtime_r(&t, &back) != NULL, "gmtime_r");
	if (back.tm_mday != d || back.tm_mon != m - 1)
		return EVENT_ERR_TIMESTAMP;
	if (t < 0 || t / 86400 > 65535)
		return EVENT_ERR_TIMESTAMP;
	*days = (uint64_t)(t / 86400);
	return 0;
}

static int ref_ts(const cJSON *c, const struct raw *r, const uint8_t *in, int64_t *out)
{
	if (cJSON_IsString(c))
		return ref_timestamp_string(c->valuestring, out);
	if (!cJSON_IsNumber(c))
		return EVENT_ERR_TYPE;
	int kind = token_kind(in + r->start, r->end - r->start);
	if (kind != 0)
		return EVENT_ERR_TIMESTAMP;
	uint64_t ms;
	int64_t unused;
	if (!ref_int(in + r->start, r->end - r->start, false, &unused, &ms) ||
	    ms > (uint64_t)EVENT_TIME_MS_MAX)
		return EVENT_ERR_TIMESTAMP;
	*out = (int64_t)ms;
	return 0;
}

static int ref_string(const cJSON *c, struct ref *rf, int f, size_t max)
{
	if (!cJSON_IsString(c))
		return EVENT_ERR_TYPE;
	size_t n = strlen(c->valuestring);
	if (n > max)
		return EVENT_ERR_RANGE;
	rf->v[f] = (struct event_value){.ptr = c->valuestring, .len = (uint32_t)n};
	return 0;
}

static int ref_items(const cJSON *c, const struct raws *rw, const uint8_t *in, struct ref *rf)
{
	if (!cJSON_IsArray(c))
		return EVENT_ERR_TYPE;
	size_t k = 0;
	for (const cJSON *e = c->child; e != NULL; e = e->next, k++) {
		if (!cJSON_IsNumber(e))
			return EVENT_ERR_TYPE;
		const struct raw *r = raw_of(rw, e);
		if (token_kind(in + r->start, r->end - r->start) == 1)
			return EVENT_ERR_TYPE;
		uint64_t unused;
		int64_t x;
		if (!ref_int(in + r->start, r->end - r->start, true, &x, &unused))
			return EVENT_ERR_RANGE;
		if (k < REF_ITEMS_MAX)
			rf->ints[k] = x;
	}
	rf->v[F_ITEMS] = (struct event_value){.ptr = (const char *)rf->ints, .len = (uint32_t)k};
	rf->items_overflow |= k > REF_ITEMS_MAX;
	return 0;
}

static int ref_tags(const cJSON *c, struct ref *rf)
{
	if (!cJSON_IsArray(c))
		return EVENT_ERR_TYPE;
	size_t k = 0;
	for (const cJSON *e = c->child; e != NULL; e = e->next, k++) {
		if (!cJSON_IsString(e))
			return EVENT_ERR_TYPE;
		if (k < REF_ITEMS_MAX)
			rf->tags[k] = (struct event_str){e->valuestring, (uint32_t)strlen(e->valuestring)};
	}
	rf->v[F_TAGS] = (struct event_value){.ptr = (const char *)rf->tags, .len = (uint32_t)k};
	rf->items_overflow |= k > REF_ITEMS_MAX;
	return 0;
}

/* Field f's value c as the schema reads it. */
static int ref_value(int f, const cJSON *c, const struct raws *rw, const uint8_t *in,
		     struct ref *rf)
{
	const struct raw *r = raw_of(rw, c);
	struct event_value *v = &rf->v[f];
	uint8_t b16[16];
	bool nullable = f == F_REFERRER || f == F_IP6 || f == F_PRICE || f == F_DURATION;
	if (cJSON_IsNull(c) && nullable) {
		v->null = 1;
		return 0;
	}
	switch (f) {
	case F_TS:
		return ref_ts(c, r, in, &v->i64);
	case F_TYPE:
	case F_OS:
	case F_URL:
	case F_REFERRER:
		return ref_string(c, rf, f, SIZE_MAX);
	case F_COUNTRY:
		return ref_string(c, rf, f, 2);
	case F_DEVICE_ID:
		if (cJSON_IsNumber(c)) {
			int kind = token_kind(in + r->start, r->end - r->start);
			if (kind != 0)
				return kind == 1 ? EVENT_ERR_TYPE : EVENT_ERR_RANGE;
			snprintf(rf->text[f], sizeof(rf->text[f]), "%.*s", (int)(r->end - r->start),
				 in + r->start);
			*v = (struct event_value){.ptr = rf->text[f], .len = (uint32_t)(r->end - r->start)};
			return 0;
		}
		return ref_string(c, rf, f, SIZE_MAX);
	case F_USER_ID:
		return ref_uint(c, r, in, UINT64_MAX, &v->u64);
	case F_DURATION:
		return ref_uint(c, r, in, UINT32_MAX, &v->u64);
	case F_LOGGED_IN:
		if (!cJSON_IsBool(c))
			return EVENT_ERR_TYPE;
		v->u64 = cJSON_IsTrue(c);
		return 0;
	case F_SESSION:
		if (!cJSON_IsString(c))
			return EVENT_ERR_TYPE;
		if (!ref_uuid(c->valuestring, b16))
			return EVENT_ERR_TYPE;
		memcpy(rf->text[f], b16, 16);
		*v = (struct event_value){.ptr = rf->text[f], .len = 16};
		return 0;
	case F_IP:
		if (!cJSON_IsString(c))
			return EVENT_ERR_TYPE;
		if (inet_pton(AF_INET, c->valuestring, b16) != 1)
			return EVENT_ERR_TYPE;
		v->u64 = (uint64_t)b16[0] << 24 | (uint64_t)b16[1] << 16 | (uint64_t)b16[2] << 8 |
			 b16[3];
		return 0;
	case F_IP6:
		if (!cJSON_IsString(c))
			return EVENT_ERR_TYPE;
		if (inet_pton(AF_INET6, c->valuestring, b16) != 1)
			return EVENT_ERR_TYPE;
		memcpy(rf->text[f], b16, 16);
		*v = (struct event_value){.ptr = rf->text[f], .len = 16};
		return 0;
	case F_PRICE: {
		if (!cJSON_IsNumber(c))
			return EVENT_ERR_TYPE;
		size_t len = r->end - r->start;
		if (len >= 128)
			return EVENT_ERR_RANGE;
		char tmp[128];
		memcpy(tmp, in + r->start, len);
		tmp[len] = '\0';
		v->f64 = strtod(tmp, NULL);
		return isinf(v->f64) ? EVENT_ERR_RANGE : 0;
	}
	case F_ITEMS:
		return ref_items(c, rw, in, rf);
	case F_TAGS:
		return ref_tags(c, rf);
	default: /* F_DAY */
		if (!cJSON_IsString(c))
			return EVENT_ERR_TYPE;
		return ref_date(c->valuestring, &v->u64);
	}
}

/* The declared field whose path is prefix.key (prefix NULL: the event), or -1. A key that holds
 * a dot is no declared path's member: "geo.ip" in the event is a member of that name, not geo's
 * ip. */
static int field_of(const char *prefix, const char *key)
{
	if (strchr(key, '.') != NULL)
		return -1;
	char path[256];
	snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
	for (int f = 0; f < F_COUNT; f++)
		if (strcmp(decls[f][2], path) == 0)
			return f;
	return -1;
}

static int parent_of(const char *key)
{
	for (size_t p = 0; p < PARENTS; p++)
		if (strcmp(parents[p], key) == 0)
			return (int)p;
	return -1;
}

static void ref_fail(struct ref *rf, int code, int field)
{
	if (rf->err == 0) {
		rf->err = code;
		rf->err_field = field;
	}
}

static void rest_add(struct ref *rf, const uint8_t *in, const struct raw *r)
{
	size_t k = r->key_end - r->key_start, v = r->end - r->start;
	if (rf->rest_len + k + v + 3 >= sizeof(rf->rest)) {
		rf->rest_overflow = true;
		return;
	}
	rf->rest[rf->rest_len++] = rf->rest_len == 0 ? '{' : ',';
	memcpy(rf->rest + rf->rest_len, in + r->key_start, k);
	rf->rest_len += k;
	rf->rest[rf->rest_len++] = ':';
	memcpy(rf->rest + rf->rest_len, in + r->start, v);
	rf->rest_len += v;
}

/* The members of an object at prefix (NULL: the event), in document order. */
static void ref_object(const cJSON *obj, const char *prefix, const struct raws *rw,
		       const uint8_t *in, struct ref *rf)
{
	for (const cJSON *c = obj->child; c != NULL; c = c->next) {
		int f = field_of(prefix, c->string);
		int p = prefix == NULL ? parent_of(c->string) : -1;
		if (f >= 0) {
			if (rf->seen & (1u << f)) {
				ref_fail(rf, EVENT_ERR_DUPLICATE, f);
				continue;
			}
			rf->seen |= 1u << f;
			int rc = ref_value(f, c, rw, in, rf);
			if (rc != 0)
				ref_fail(rf, rc, f);
		} else if (p >= 0) {
			if (rf->parents_seen & (1u << p)) {
				ref_fail(rf, EVENT_ERR_DUPLICATE, -1 - p);
				continue;
			}
			rf->parents_seen |= 1u << p;
			if (cJSON_IsObject(c))
				ref_object(c, parents[p], rw, in, rf);
			else if (!cJSON_IsNull(c))
				ref_fail(rf, EVENT_ERR_TYPE, -1 - p);
		} else if (prefix == NULL) {
			rest_add(rf, in, raw_of(rw, c));
		}
	}
}

/* The expected result of a strict JSON input cJSON parsed into root. */
static void ref_decode(const uint8_t *in, size_t n, const cJSON *root, struct raws *rw,
		       struct ref *rf)
{
	rf->err_field = -100;
	if (tree_depth(root) > EVENT_DEPTH_MAX) {
		rf->err = EVENT_ERR_DEPTH;
		return;
	}
	if (!cJSON_IsObject(root)) {
		rf->err = EVENT_ERR_NOT_OBJECT;
		return;
	}
	walk(in, n, skip_ws(in, n, 0), root, 0, 0, rw);
	ref_object(root, NULL, rw, in, rf);
	if (rf->err != 0)
		return;
	for (int f = 0; f < F_COUNT; f++) {
		if (rf->seen & (1u << f))
			continue;
		bool nullable = f == F_REFERRER || f == F_IP6 || f == F_PRICE || f == F_DURATION;
		if (!nullable) {
			rf->err = EVENT_ERR_MISSING;
			rf->err_field = f;
			return;
		}
		rf->v[f].null = 1;
	}
}

/* ---- comparisons ---- */

static bool same_value(int f, const struct event_value *a, const struct event_value *b)
{
	if (a->null != b->null)
		return false;
	if (a->null)
		return true;
	switch (f) {
	case F_TS:
		return a->i64 == b->i64;
	case F_PRICE:
		return memcmp(&a->f64, &b->f64, 8) == 0;
	case F_ITEMS:
		return a->len == b->len && memcmp(a->ptr, b->ptr, 8 * (size_t)a->len) == 0;
	case F_TAGS: {
		if (a->len != b->len)
			return false;
		const struct event_str *x = (const void *)a->ptr, *y = (const void *)b->ptr;
		for (uint32_t k = 0; k < a->len; k++)
			if (x[k].len != y[k].len || memcmp(x[k].ptr, y[k].ptr, x[k].len) != 0)
				return false;
		return true;
	}
	case F_USER_ID:
	case F_LOGGED_IN:
	case F_IP:
	case F_DURATION:
	case F_DAY:
		return a->u64 == b->u64;
	default:
		return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
	}
}

static void check_ref(const struct event_value *got, const struct event_error *err, int rc,
		      struct ref *rf)
{
	CHECK(rc == rf->err, "decoder %s (%s), reference %s", event_err_name(rc),
	      rc ? err->reason : "-", event_err_name(rf->err));
	if (rc != 0) {
		char prefix[64];
		if (rf->err_field >= 0)
			snprintf(prefix, sizeof(prefix), "%s: ", decls[rf->err_field][2]);
		else if (rf->err_field > -100)
			snprintf(prefix, sizeof(prefix), "%s: ", parents[-1 - rf->err_field]);
		else
			return;
		CHECK(strncmp(err->reason, prefix, strlen(prefix)) == 0, "reason '%s', want '%s...'",
		      err->reason, prefix);
		return;
	}
	if (rf->items_overflow)
		return;
	for (int f = 0; f < F_COUNT; f++)
		CHECK(same_value(f, &got[f], &rf->v[f]), "field %s differs from the reference",
		      decls[f][0]);
	if (rf->rest_overflow)
		return;
	if (rf->rest_len == 0)
		CHECK(got[F_COUNT].len == 2 && memcmp(got[F_COUNT].ptr, "{}", 2) == 0, "rest");
	else
		CHECK(got[F_COUNT].len == rf->rest_len + 1 &&
			      memcmp(got[F_COUNT].ptr, rf->rest, rf->rest_len) == 0 &&
			      got[F_COUNT].ptr[rf->rest_len] == '}',
		      "rest '%.*s', want '%.*s}'", (int)got[F_COUNT].len, got[F_COUNT].ptr,
		      (int)rf->rest_len, rf->rest);
}

/* The same result from two decodes (the slots' contents, not where they point). */
static void check_same(int rc_a, const struct event_value *a, int rc_b,
		       const struct event_value *b)
{
	CHECK(rc_a == rc_b, "compact %s, spaced %s", event_err_name(rc_a), event_err_name(rc_b));
	for (int f = 0; rc_a == 0 && f < F_COUNT; f++)
		CHECK(same_value(f, &a[f], &b[f]), "field %s: fast and general passes differ",
		      decls[f][0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_plan *plan = plan_get();
	size_t cap = event_plan_scratch_bound(plan, size + 1);
	char *scratch = malloc(cap), *scratch2 = malloc(cap), *spaced = malloc(size + 1);
	char *text = malloc(size + 1);
	struct ref *rf = calloc(1, sizeof(*rf));
	struct raws *rw = calloc(1, sizeof(*rw));
	if (!scratch || !scratch2 || !spaced || !text || !rf || !rw)
		abort();
	struct event_value got[F_COUNT + 1], got2[F_COUNT + 1];
	struct event_error err = {0}, err2 = {0};
	uint32_t used, used2;
	int rc = event_decode(plan, (const char *)data, size, got, scratch, cap, &used, &err);
	CHECK(rc != EVENT_ERR_TOO_LONG, "the scratch bound did not hold");
	CHECK(rc == 0 ? used <= cap : err.reason != NULL && err.offset <= size, "contract");

	spaced[0] = ' ';
	memcpy(spaced + 1, data, size);
	int rc2 = event_decode(plan, spaced, size + 1, got2, scratch2, cap, &used2, &err2);
	check_same(rc, got, rc2, got2);

	cJSON *root = oracle_parse(data, size, text, rc);
	if (root == NULL)
		goto out;
	ref_decode(data, size, root, rw, rf);
	if (!rw->full)
		check_ref(got, &err, rc, rf);
	cJSON_Delete(root);
out:
	free(rw);
	free(rf);
	free(text);
	free(spaced);
	free(scratch2);
	free(scratch);
	return 0;
}
