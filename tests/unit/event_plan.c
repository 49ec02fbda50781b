/*
 * Unit tests of the JSON decoder on declared schemas: every type's values and refusals (code and
 * reason), nested paths, arrays, NULLs, defaults, aliases, the catch-all, the plan's own errors,
 * and the fast pass giving what the general pass gives. Messages are decoded from heap copies of
 * exactly their length, so the sanitizer build catches a read past the end.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "schema.h"

#define SCRATCH_CAP 8192

static struct schema s;
static struct event_plan *plan;
static char err[256];
static struct event_value v[SCHEMA_FIELDS_MAX + 1];
static char scratch[SCRATCH_CAP];
static uint32_t used;
static struct event_error derr;
static char *copy;

static void cleanup(void)
{
	event_plan_free(plan);
	plan = NULL;
	free(copy);
	copy = NULL;
}

TestSuite(event_plan, .fini = cleanup);

/* A plan of decls[0..n) ({column, declaration}), time field the first, catch-all optional. */
static void make(const char *const (*decls)[2], size_t n, const char *catch_all)
{
	event_plan_free(plan);
	plan = NULL;
	memset(&s, 0, sizeof(s));
	snprintf(s.metadata, sizeof(s.metadata), "%s", SCHEMA_META_DEFAULT);
	snprintf(s.catch_all, sizeof(s.catch_all), "%s", catch_all ? catch_all : "");
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(schema_field_parse(decls[i][0], decls[i][1], &s.fields[s.field_count++],
						err, sizeof(err)),
			     0, "%s: %s", decls[i][0], err);
	snprintf(s.time_field, sizeof(s.time_field), "%s", decls[0][0]);
	unsigned line;
	cr_assert_eq(schema_finish(&s, err, sizeof(err), &line), 0, "%s", err);
	cr_assert_eq(event_plan_create(&s, &plan, err, sizeof(err), NULL), 0, "%s", err);
}

/* One field t (DateTime) and field x declared as `decl`: the usual shape of a type test. */
static void make_x(const char *decl)
{
	const char *const d[][2] = {{"t", "DateTime"}, {"x", decl}};
	make(d, 2, NULL);
}

static int decode_n(const char *json, size_t len)
{
	free(copy);
	copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, json, len);
	memset(v, 0xAB, sizeof(v));
	derr.reason = NULL;
	int rc = event_decode(plan, copy, len, v, scratch, sizeof(scratch), &used, &derr);
	if (rc != 0)
		cr_expect(derr.reason != NULL && derr.offset <= len, "no reason or a bad offset");
	return rc;
}

static int decode(const char *json)
{
	return decode_n(json, strlen(json));
}

/* Decodes {"t":"2024-01-01T00:00:00Z","x":<value>}. */
static int decode_x(const char *value)
{
	char json[1024];
	snprintf(json, sizeof(json), "{\"t\":\"2024-01-01T00:00:00Z\",\"x\":%s}", value);
	return decode(json);
}

struct xcase {
	const char *value;
	int code;
	const char *reason; /* for a refusal; NULL: not checked */
};

static void expect_x(const char *decl, const struct xcase *cases, size_t n)
{
	make_x(decl);
	for (size_t i = 0; i < n; i++) {
		int rc = decode_x(cases[i].value);
		cr_expect_eq(rc, cases[i].code, "%s: %s: got %s (%s), want %s", decl, cases[i].value,
			     event_err_name(rc), rc ? derr.reason : "", event_err_name(cases[i].code));
		if (rc != 0 && rc == cases[i].code && cases[i].reason)
			cr_expect_str_eq(derr.reason, cases[i].reason, "%s: %s", decl, cases[i].value);
	}
}

static void expect_str(const struct event_value *x, const char *want, size_t want_len)
{
	cr_expect_eq(x->null, 0);
	cr_expect_eq(x->len, want_len, "length %u, want %zu", x->len, want_len);
	if (x->len == want_len)
		cr_expect(memcmp(x->ptr, want, want_len) == 0, "'%.*s', want '%.*s'", (int)x->len,
			  x->ptr, (int)want_len, want);
}

/* ---- every type ---- */

Test(event_plan, integers)
{
	static const struct xcase u8[] = {
		{"0", 0, NULL},	    {"255", 0, NULL},	 {"\"255\"", 0, NULL},
		{"256", EVENT_ERR_RANGE, "x: out of range"}, {"-1", EVENT_ERR_RANGE, "x: negative"},
		{"1.5", EVENT_ERR_TYPE, "x: not an integer"},
		{"\"-1\"", EVENT_ERR_TYPE, "x: not a decimal string"},
		{"true", EVENT_ERR_TYPE, "x: not an integer or decimal string"},
		{"null", EVENT_ERR_TYPE, NULL},
	};
	expect_x("UInt8", u8, sizeof(u8) / sizeof(u8[0]));
	make_x("UInt8");
	cr_assert_eq(decode_x("255"), 0);
	cr_expect_eq(v[1].u64, 255);
	static const struct xcase i16[] = {
		{"-32768", 0, NULL},	{"32767", 0, NULL}, {"\"-32768\"", 0, NULL}, {"-0", 0, NULL},
		{"-32769", EVENT_ERR_RANGE, "x: out of range"},
		{"32768", EVENT_ERR_RANGE, NULL},
		{"\"--1\"", EVENT_ERR_TYPE, "x: not a decimal string"},
		{"1e2", EVENT_ERR_TYPE, "x: not an integer"},
	};
	expect_x("Int16", i16, sizeof(i16) / sizeof(i16[0]));
	make_x("Int64");
	cr_assert_eq(decode_x("-9223372036854775808"), 0);
	cr_expect_eq(v[1].i64, INT64_MIN);
	cr_expect_eq(decode_x("9223372036854775808"), EVENT_ERR_RANGE);
	make_x("UInt32");
	cr_assert_eq(decode_x("\"004294967295\""), 0);
	cr_expect_eq(v[1].u64, 4294967295u);
}

Test(event_plan, floats)
{
	make_x("Float64");
	static const struct {
		const char *text;
		double want;
	} ok[] = {
		{"0", 0.0},
		{"-0.0", -0.0},
		{"1.5", 1.5},
		{"-2.25e2", -225.0},
		{"0.1", 0.1},
		{"123456789012345678901234567890", 1.2345678901234568e29},
		{"1e-310", 1e-310},
		{"4.9406564584124654e-324", 4.9406564584124654e-324},
		{"1.7976931348623157e308", 1.7976931348623157e308},
		{"0.000000000000000000000000000001", 1e-30},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(decode_x(ok[i].text), 0, "%s: %s", ok[i].text, derr.reason);
		cr_expect(v[1].f64 == ok[i].want && signbit(v[1].f64) == signbit(ok[i].want),
			  "%s: %.17g", ok[i].text, v[1].f64);
	}
	cr_expect_eq(decode_x("1e309"), EVENT_ERR_RANGE);
	cr_expect_str_eq(derr.reason, "x: out of range");
	cr_expect_eq(decode_x("\"1.5\""), EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "x: not a number");
	make_x("Float32");
	cr_assert_eq(decode_x("0.1"), 0);
	cr_expect((float)v[1].f64 == 0.1f && v[1].f64 == (double)0.1f);
	cr_assert_eq(decode_x("16777217"), 0);
	cr_expect(v[1].f64 == 16777216.0, "%.17g", v[1].f64);
	cr_expect_eq(decode_x("1e39"), EVENT_ERR_RANGE);
}

Test(event_plan, bools)
{
	static const struct xcase b[] = {
		{"true", 0, NULL},
		{"false", 0, NULL},
		{"1", EVENT_ERR_TYPE, "x: not a boolean"},
		{"\"true\"", EVENT_ERR_TYPE, "x: not a boolean"},
	};
	expect_x("Bool", b, sizeof(b) / sizeof(b[0]));
	cr_assert_eq(decode_x("true"), 0);
	cr_expect_eq(v[1].u64, 1);
}

Test(event_plan, strings)
{
	make_x("String");
	cr_assert_eq(decode_x("\"a\\u00e9b\""), 0);
	expect_str(&v[1], "a\xc3\xa9" "b", 4);
	cr_expect_eq(used, 4, "a kept unescaped string counts");
	cr_expect_eq(decode_x("7"), EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "x: not a string");
	static const struct xcase ints[] = {
		{"7", 0, NULL},
		{"-7", EVENT_ERR_RANGE, "x: negative"},
		{"7.5", EVENT_ERR_TYPE, "x: not an integer"},
		{"true", EVENT_ERR_TYPE, "x: not a string or integer"},
	};
	expect_x("String integers=text", ints, sizeof(ints) / sizeof(ints[0]));
	cr_assert_eq(decode_x("123456789012345678901234567890"), 0);
	expect_str(&v[1], "123456789012345678901234567890", 30);
	static const struct xcase fixed[] = {
		{"\"abc\"", 0, NULL},
		{"\"abcd\"", EVENT_ERR_RANGE, "x: longer than FixedString(3)"},
		{"123", 0, NULL},
		{"1234", EVENT_ERR_RANGE, NULL},
	};
	expect_x("FixedString(3) integers=text", fixed, sizeof(fixed) / sizeof(fixed[0]));
	make_x("LowCardinality(Nullable(String))");
	cr_assert_eq(decode_x("null"), 0);
	cr_expect_eq(v[1].null, 1);
	cr_assert_eq(decode_x("\"\""), 0);
	expect_str(&v[1], "", 0);
}

Test(event_plan, times)
{
	static const struct xcase dt64[] = {
		{"\"2024-05-01T10:00:00.1234567+02:00\"", 0, NULL},
		{"1714557600123456", 0, NULL},
		{"1.5", EVENT_ERR_TIMESTAMP, "x: epoch us not an integer"},
		{"-1", 0, NULL},
		{"\"1899-12-31T23:59:59Z\"", EVENT_ERR_TIMESTAMP,
		 "x: outside 1900-01-01T00:00:00.000000Z..2299-12-31T23:59:59.999999Z"},
		{"\"2024-05-01 10:00:00Z\"", EVENT_ERR_TIMESTAMP, "x: bad format"},
		{"\"2024-05-01T10:00:00+25:00\"", EVENT_ERR_TIMESTAMP, "x: bad offset"},
		{"\"2024-02-30T10:00:00Z\"", EVENT_ERR_TIMESTAMP, "x: invalid date"},
		{"\"2024-05-01T24:00:00Z\"", EVENT_ERR_TIMESTAMP, "x: invalid time"},
		{"true", EVENT_ERR_TYPE, "x: not a string or integer"},
	};
	expect_x("DateTime64(6, 'UTC') unit=us", dt64, sizeof(dt64) / sizeof(dt64[0]));
	cr_assert_eq(decode_x("\"2024-05-01T10:00:00.1234567+02:00\""), 0);
	cr_expect_eq(v[1].i64, INT64_C(1714550400123456));
	cr_assert_eq(decode_x("-1"), 0);
	cr_expect_eq(v[1].i64, -1);
	make_x("DateTime64(3)");
	cr_expect_eq(decode_x("1714557600123"), EVENT_ERR_TYPE, "a number needs a unit");
	cr_expect_str_eq(derr.reason, "x: not a string");
	make_x("DateTime64(3) unit=us");
	cr_assert_eq(decode_x("1714557600123999"), 0);
	cr_expect_eq(v[1].i64, INT64_C(1714557600123), "microseconds floored to milliseconds");
	make_x("DateTime unit=ms");
	cr_assert_eq(decode_x("1714557600999"), 0);
	cr_expect_eq(v[1].u64, 1714557600);
	cr_expect_eq(decode_x("\"2106-02-07T06:28:16Z\""), EVENT_ERR_TIMESTAMP);
	cr_expect_str_eq(derr.reason, "x: outside 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z");
	make_x("Date unit=s");
	cr_assert_eq(decode_x("\"2024-05-01\""), 0);
	cr_expect_eq(v[1].u64, 19844);
	cr_assert_eq(decode_x("1714557600"), 0);
	cr_expect_eq(v[1].u64, 19844);
	cr_expect_eq(decode_x("\"2024-05-01T00:00:00Z\""), EVENT_ERR_TIMESTAMP);
	cr_expect_str_eq(derr.reason, "x: bad format");
	cr_expect_eq(decode_x("\"2149-06-07\""), EVENT_ERR_TIMESTAMP);
	cr_expect_str_eq(derr.reason, "x: outside 1970-01-01..2149-06-06");
	make_x("Date32 unit=days");
	cr_assert_eq(decode_x("-25567"), 0);
	cr_expect_eq(v[1].i64, -25567);
	cr_expect_eq(decode_x("\"1899-12-31\""), EVENT_ERR_TIMESTAMP);
}

/* The time field's own range starts at the epoch: segments are partitioned by it. */
Test(event_plan, time_field_range)
{
	const char *const d[][2] = {{"t", "DateTime64(3, 'UTC') unit=ms"}};
	make(d, 1, NULL);
	cr_expect_eq(decode("{\"t\":-1}"), EVENT_ERR_TIMESTAMP);
	cr_expect_str_eq(derr.reason, "t: outside " EVENT_TIME_RANGE_TEXT);
	cr_expect_eq(decode("{\"t\":\"1969-12-31T23:59:59.999Z\"}"), EVENT_ERR_TIMESTAMP);
	cr_assert_eq(decode("{\"t\":\"1970-01-01T00:00:00Z\"}"), 0);
	cr_expect_eq(v[0].i64, 0);
}

Test(event_plan, uuid_and_ips)
{
	static const struct xcase uuid[] = {
		{"\"01234567-89ab-CDEF-0123-456789abcdef\"", 0, NULL},
		{"\"0123456789abcdef0123456789abcdef\"", EVENT_ERR_TYPE, "x: not a UUID"},
		{"\"01234567-89ab-cdef-0123-456789abcdeg\"", EVENT_ERR_TYPE, "x: not a UUID"},
		{"7", EVENT_ERR_TYPE, "x: not a string"},
	};
	expect_x("UUID", uuid, sizeof(uuid) / sizeof(uuid[0]));
	cr_assert_eq(decode_x("\"01234567-89ab-CDEF-0123-456789abcdef\""), 0);
	static const uint8_t want_uuid[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					      0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	cr_expect_eq(v[1].len, 16);
	cr_expect(memcmp(v[1].ptr, want_uuid, 16) == 0);
	cr_expect(v[1].ptr >= scratch && v[1].ptr + 16 <= scratch + used);
	static const struct xcase v4[] = {
		{"\"10.0.255.1\"", 0, NULL},
		{"\"10.0.256.1\"", EVENT_ERR_TYPE, "x: not an IPv4 address"},
		{"\"10.0.01.1\"", EVENT_ERR_TYPE, NULL},
		{"\"10.0.1\"", EVENT_ERR_TYPE, NULL},
		{"\"10.0.1.1.\"", EVENT_ERR_TYPE, NULL},
	};
	expect_x("IPv4", v4, sizeof(v4) / sizeof(v4[0]));
	cr_assert_eq(decode_x("\"10.0.255.1\""), 0);
	cr_expect_eq(v[1].u64, 0x0A00FF01u);
	make_x("Nullable(IPv6)");
	static const struct {
		const char *text;
		uint8_t want[16];
	} ok[] = {
		{"\"::\"", {0}},
		{"\"::1\"", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"\"2001:db8::8:800:200c:417a\"",
		 {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a}},
		{"\"fe80::\"", {0xfe, 0x80}},
		{"\"::ffff:192.0.2.1\"", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}},
		{"\"1:2:3:4:5:6:7:8\"", {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(decode_x(ok[i].text), 0, "%s: %s", ok[i].text, derr.reason);
		cr_expect(v[1].len == 16 && memcmp(v[1].ptr, ok[i].want, 16) == 0, "%s", ok[i].text);
	}
	static const char *const bad[] = {"\":\"", "\"1::2::3\"", "\"1:2:3:4:5:6:7:8:9\"",
					  "\"1:2:3:4:5:6:7\"", "\"12345::\"", "\"1:\"",
					  "\"::1.2.3\"", "\"g::\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(decode_x(bad[i]), EVENT_ERR_TYPE, "%s accepted", bad[i]);
		cr_expect_str_eq(derr.reason, "x: not an IPv6 address");
	}
	cr_assert_eq(decode_x("null"), 0);
	cr_expect_eq(v[1].null, 1);
}

Test(event_plan, arrays)
{
	make_x("Array(String)");
	cr_assert_eq(decode_x("[\"a\",\"b\\u00e9\",\"\"]"), 0, "%s", derr.reason);
	cr_assert_eq(v[1].len, 3);
	const struct event_str *e = (const struct event_str *)(const void *)v[1].ptr;
	cr_expect(e[0].len == 1 && memcmp(e[0].ptr, "a", 1) == 0);
	cr_expect(e[1].len == 3 && memcmp(e[1].ptr, "b\xc3\xa9", 3) == 0);
	cr_expect_eq(e[2].len, 0);
	cr_expect_eq((uintptr_t)e % 8, 0, "elements aligned");
	cr_assert_eq(decode_x("[ ]"), 0);
	cr_expect_eq(v[1].len, 0);
	cr_expect_eq(decode_x("[\"a\",1]"), EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "x: an element is not a string");
	cr_expect_eq(decode_x("\"a\""), EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "x: not an array");
	cr_expect_eq(decode_x("[\"a\",[]"), EVENT_ERR_SYNTAX);
	make_x("Array(Int8)");
	cr_assert_eq(decode_x("[1,-128, 127]"), 0);
	cr_assert_eq(v[1].len, 3);
	const int64_t *n = (const int64_t *)(const void *)v[1].ptr;
	cr_expect(n[0] == 1 && n[1] == -128 && n[2] == 127);
	cr_expect_eq(decode_x("[128]"), EVENT_ERR_RANGE);
	cr_expect_str_eq(derr.reason, "x: an element is out of range");
	cr_expect_eq(decode_x("[1.5]"), EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "x: an element is not an integer");
	cr_expect_eq(decode_x("null"), EVENT_ERR_TYPE);
	make_x("Array(Int64) default=[]");
	cr_assert_eq(decode("{\"t\":\"2024-01-01T00:00:00Z\"}"), 0);
	cr_expect_eq(v[1].len, 0);
	make_x("Array(Int64) default=[1,2]");
	cr_assert_eq(decode("{\"t\":\"2024-01-01T00:00:00Z\"}"), 0);
	cr_assert_eq(v[1].len, 2);
	n = (const int64_t *)(const void *)v[1].ptr;
	cr_expect(n[0] == 1 && n[1] == 2);
}

/* ---- objects ---- */

Test(event_plan, nested_paths)
{
	const char *const d[][2] = {
		{"t", "DateTime from ts"},
		{"uid", "UInt64 from user.id"},
		{"country", "Nullable(String) from user.geo.country"},
		{"url", "String from page.url"},
		{"title", "String from page.title default=untitled"},
	};
	make(d, 5, NULL);
	cr_assert_eq(decode("{\"page\":{\"url\":\"u\",\"x\":[1,{\"y\":2}]},\"ts\":\"2024-01-01T00:00:00Z\","
			    "\"user\":{\"geo\":{\"country\":\"FR\"},\"id\":7}}"),
		     0, "%s", derr.reason);
	cr_expect_eq(v[1].u64, 7);
	expect_str(&v[2], "FR", 2);
	expect_str(&v[3], "u", 1);
	expect_str(&v[4], "untitled", 8);
	/* A null parent: the fields below are absent (NULL, default or missing). */
	cr_assert_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"user\":{\"id\":7,\"geo\":null},"
			    "\"page\":{\"url\":\"u\"}}"),
		     0, "%s", derr.reason);
	cr_expect_eq(v[2].null, 1);
	cr_expect_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"user\":null,\"page\":{\"url\":\"u\"}}"),
		     EVENT_ERR_MISSING);
	cr_expect_str_eq(derr.reason, "user.id: missing");
	/* A parent that is no object. */
	cr_expect_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"user\":{\"id\":7,\"geo\":\"FR\"},"
			    "\"page\":{\"url\":\"u\"}}"),
		     EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "user.geo: not an object");
	cr_expect_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"user\":[7],\"page\":{\"url\":\"u\"}}"),
		     EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "user: not an object");
	/* Twice: a field in its object, an object in its parent. */
	cr_expect_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"user\":{\"id\":7,\"id\":8},"
			    "\"page\":{\"url\":\"u\"}}"),
		     EVENT_ERR_DUPLICATE);
	cr_expect_str_eq(derr.reason, "user.id: duplicate field");
	cr_expect_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"user\":{\"id\":7},\"user\":{},"
			    "\"page\":{\"url\":\"u\"}}"),
		     EVENT_ERR_DUPLICATE);
	cr_expect_str_eq(derr.reason, "user: duplicate field");
	/* The same key at another level is another member. */
	cr_assert_eq(decode("{\"id\":1,\"ts\":\"2024-01-01T00:00:00Z\",\"user\":{\"id\":7,\"url\":2},"
			    "\"page\":{\"url\":\"u\",\"id\":3}}"),
		     0, "%s", derr.reason);
	cr_expect_eq(v[1].u64, 7);
	/* Missing names the first absent required field in declaration order. */
	cr_expect_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\"}"), EVENT_ERR_MISSING);
	cr_expect_str_eq(derr.reason, "user.id: missing");
	cr_expect_eq(derr.offset, strlen("{\"ts\":\"2024-01-01T00:00:00Z\"}"));
}

Test(event_plan, aliases_and_defaults)
{
	const char *const d[][2] = {
		{"t", "DateTime from ts aliases=time,meta.time"},
		{"plan", "LowCardinality(String) default=\"free plan\" aliases=tier"},
		{"n", "Nullable(Int32) default=-5"},
		{"u", "Nullable(UUID) default=null"},
		{"when", "DateTime64(3) default=2024-05-01T10:00:00Z"},
	};
	make(d, 5, NULL);
	cr_assert_eq(decode("{\"time\":\"2024-01-01T00:00:00Z\"}"), 0, "%s", derr.reason);
	cr_expect_eq(v[0].u64, 1704067200);
	expect_str(&v[1], "free plan", 9);
	cr_expect(v[2].null == 0 && v[2].i64 == -5);
	cr_expect_eq(v[3].null, 1);
	cr_expect(v[4].null == 0 && v[4].i64 == INT64_C(1714557600000));
	cr_assert_eq(decode("{\"meta\":{\"time\":0},\"tier\":\"pro\",\"n\":null}"), EVENT_ERR_TYPE,
		     "a DateTime without unit takes no number");
	cr_assert_eq(decode("{\"meta\":{\"time\":\"2024-01-01T00:00:00Z\"},\"tier\":\"pro\",\"n\":null}"),
		     0, "%s", derr.reason);
	expect_str(&v[1], "pro", 3);
	cr_expect_eq(v[2].null, 1, "null beats the default");
	cr_expect_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"time\":\"2024-01-01T00:00:00Z\"}"),
		     EVENT_ERR_DUPLICATE);
	cr_expect_str_eq(derr.reason, "ts: duplicate field");
}

/* The members no field declares, verbatim, as one JSON object. */
Test(event_plan, catch_all)
{
	const char *const d[][2] = {{"t", "DateTime from ts"}, {"url", "String from page.url"}};
	make(d, 2, "rest");
	cr_assert_eq(event_plan_slots(plan), 3);
	cr_assert_eq(decode("{\"ts\":\"2024-01-01T00:00:00Z\",\"page\":{\"url\":\"u\",\"q\":1}}"), 0);
	expect_str(&v[2], "{}", 2);
	const char *json = "{\"a\" : [1, {\"b\":\"c\"}],\"ts\":\"2024-01-01T00:00:00Z\",\"page\":"
			   "{\"url\":\"u\"},\"k\\u0065y\":\"v\\n\" ,\"n\":null}";
	cr_assert_eq(decode(json), 0, "%s", derr.reason);
	static const char want[] = "{\"a\":[1, {\"b\":\"c\"}],\"k\\u0065y\":\"v\\n\",\"n\":null}";
	expect_str(&v[2], want, sizeof(want) - 1);
	cr_expect(v[2].ptr >= scratch && v[2].ptr + v[2].len <= scratch + used);
	/* Escaped strings kept in slots and the catch-all share the scratch. */
	cr_assert_eq(decode("{\"x\":1,\"ts\":\"2024-01-01T00:00:00Z\",\"page\":{\"url\":\"\\u0041\"},"
			    "\"y\":2}"),
		     0);
	expect_str(&v[1], "A", 1);
	expect_str(&v[2], "{\"x\":1,\"y\":2}", 13);
	cr_expect_eq(used, 1 + 13);
	/* Without room for it: too long, naming the column. */
	free(copy);
	const char *m = "{\"x\":1,\"ts\":\"2024-01-01T00:00:00Z\",\"page\":{\"url\":\"u\"}}";
	cr_expect_eq(event_decode(plan, m, strlen(m), v, scratch, 10, &used, &derr),
		     EVENT_ERR_TOO_LONG);
	cr_expect_str_eq(derr.reason, "rest: longer than the scratch buffer");
	copy = NULL;
}

/* Errors keep their precedence: JSON first, then the first field error, then missing. */
Test(event_plan, precedence)
{
	const char *const d[][2] = {{"t", "DateTime from ts"}, {"a", "UInt8 from o.a"},
				    {"b", "String from o.b"}};
	make(d, 3, NULL);
	cr_expect_eq(decode("{\"o\":{\"b\":1,\"a\":300},\"ts\":\"2024-01-01T00:00:00Z\"}"),
		     EVENT_ERR_TYPE);
	cr_expect_str_eq(derr.reason, "o.b: not a string");
	cr_expect_eq(decode("{\"o\":{\"b\":1,\"a\":300},\"ts\":\"2024-01-01T00:00:00Z\",\"x\":[}"),
		     EVENT_ERR_SYNTAX);
	cr_expect_eq(decode("{\"o\":{\"a\":300}}"), EVENT_ERR_RANGE);
	cr_expect_eq(decode("{\"o\":{\"a\":3}}"), EVENT_ERR_MISSING);
	cr_expect_str_eq(derr.reason, "ts: missing");
}

/* ---- the plan ---- */

Test(event_plan, plan_errors)
{
	const char *const bad_default[][2] = {{"t", "DateTime"}, {"x", "UInt8 default=256"}};
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < 2; i++)
		cr_assert_eq(schema_field_parse(bad_default[i][0], bad_default[i][1],
						&s.fields[s.field_count++], err, sizeof(err)),
			     0);
	snprintf(s.time_field, sizeof(s.time_field), "t");
	unsigned line;
	cr_assert_eq(schema_finish(&s, err, sizeof(err), &line), 0, "%s", err);
	int field = -2;
	cr_expect_eq(event_plan_create(&s, &plan, err, sizeof(err), &field), -EINVAL);
	cr_expect_eq(field, 1);
	cr_expect(strstr(err, "field.x: default=256: x: out of range") != NULL, "%s", err);
	/* More objects along the paths than a plan holds. */
	memset(&s, 0, sizeof(s));
	cr_assert_eq(schema_field_parse("t", "DateTime", &s.fields[s.field_count++], err,
					sizeof(err)),
		     0);
	for (int i = 0; i < 40; i++) {
		char name[16], decl[64];
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(decl, sizeof(decl), "String from o%d.y.x", i);
		cr_assert_eq(schema_field_parse(name, decl, &s.fields[s.field_count++], err,
						sizeof(err)),
			     0);
	}
	snprintf(s.time_field, sizeof(s.time_field), "t");
	cr_assert_eq(schema_finish(&s, err, sizeof(err), &line), 0, "%s", err);
	cr_expect_eq(event_plan_create(&s, &plan, err, sizeof(err), &field), -EINVAL);
	cr_expect(strstr(err, "objects along the declared paths") != NULL, "%s", err);
}

/* ---- the fast pass against the general one ---- */

static const char *const wide[][2] = {
	{"event_time", "DateTime64(3, 'UTC') from ts unit=ms"},
	{"event_type", "LowCardinality(String) from type"},
	{"user_id", "UInt64 from user.id"},
	{"logged_in", "Bool from user.logged_in"},
	{"session_id", "UUID from session"},
	{"device_id", "String from device.id integers=text"},
	{"os", "LowCardinality(String) from device.os"},
	{"url", "String from page.url"},
	{"referrer", "Nullable(String) from page.referrer"},
	{"country", "FixedString(2) from geo.country"},
	{"ip", "IPv4 from geo.ip"},
	{"price", "Nullable(Float64) from cart.price"},
	{"items", "Array(Int64) from cart.items"},
	{"tags", "Array(String) from tags"},
	{"duration_ms", "Nullable(UInt32) from duration_ms"},
	{"day", "Date from day"},
};
#define WIDE (sizeof(wide) / sizeof(wide[0]))

/* Whether two decodes gave the same result: the code, and every slot's value when 0. */
static bool same(int rc_a, const struct event_value *a, int rc_b, const struct event_value *b)
{
	if (rc_a != rc_b)
		return false;
	for (size_t f = 0; rc_a == 0 && f < WIDE; f++) {
		if (a[f].null != b[f].null)
			return false;
		if (a[f].null)
			continue;
		switch (s.fields[f].kind) {
		case SCHEMA_STRING:
		case SCHEMA_FIXED_STRING:
		case SCHEMA_UUID:
			if (a[f].len != b[f].len || memcmp(a[f].ptr, b[f].ptr, a[f].len) != 0)
				return false;
			break;
		case SCHEMA_ARRAY_I64:
			if (a[f].len != b[f].len || memcmp(a[f].ptr, b[f].ptr, 8 * (size_t)a[f].len))
				return false;
			break;
		case SCHEMA_ARRAY_STRING: {
			const struct event_str *x = (const void *)a[f].ptr, *y = (const void *)b[f].ptr;
			if (a[f].len != b[f].len)
				return false;
			for (uint32_t k = 0; k < a[f].len; k++)
				if (x[k].len != y[k].len || memcmp(x[k].ptr, y[k].ptr, x[k].len) != 0)
					return false;
			break;
		}
		default:
			if (a[f].u64 != b[f].u64)
				return false;
		}
	}
	return true;
}

/*
 * A compact message takes the fast pass; the same message after a space does not. Both must give
 * the same result, for the 16-field message in several member orders, and for every message one
 * edit away from them (each byte deleted, doubled or replaced by a byte that matters to JSON),
 * and every prefix: so the fast pass never accepts what the general pass refuses, nor reads a
 * value otherwise.
 */
Test(event_plan, fast_pass_decodes_as_the_general_one)
{
	make(wide, WIDE, NULL);
	static const char *const bases[] = {
		"{\"ts\":\"2026-01-01T10:00:00.123Z\",\"type\":\"view\",\"user\":{\"id\":42,\"logged_in\":"
		"true},\"session\":\"01234567-89ab-cdef-0123-456789abcdef\",\"device\":{\"id\":\"d-1\","
		"\"os\":\"ios\"},\"page\":{\"url\":\"https://x.example/a?b=1\",\"referrer\":null},"
		"\"geo\":{\"country\":\"FR\",\"ip\":\"10.1.2.3\"},\"cart\":{\"price\":12.5,\"items\":"
		"[1,2]},\"tags\":[\"a\",\"b\"],\"duration_ms\":1234,\"day\":\"2026-01-01\"}",
		"{\"day\":\"2026-01-01\",\"tags\":[],\"cart\":{\"items\":[],\"price\":null},\"geo\":{"
		"\"ip\":\"0.0.0.0\",\"country\":\"\"},\"page\":{\"url\":\"\"},\"device\":{\"os\":\"\","
		"\"id\":7},\"session\":\"ffffffff-ffff-ffff-ffff-ffffffffffff\",\"user\":{\"logged_in\":"
		"false,\"id\":0},\"type\":\"\",\"ts\":1767261600123}",
		"{\"ts\":\"2026-01-01T10:00:00Z\",\"type\":\"click\",\"user\":{\"id\":1,\"logged_in\":"
		"false},\"session\":\"01234567-89ab-cdef-0123-456789abcdef\",\"device\":{\"id\":\"d\","
		"\"os\":\"x\"},\"page\":{\"url\":\"u\",\"referrer\":\"r\"},\"geo\":{\"country\":\"DE\","
		"\"ip\":\"1.2.3.4\"},\"cart\":{\"price\":1e3,\"items\":[-9223372036854775808]},\"tags\":"
		"[\"\xc3\xa9\"],\"day\":\"2026-12-31\"}",
	};
	static const char edits[] = {'"', '\\', ',', '}', '{', '[', ']', ':', '0', '1', '9', 'a',
				     'e', '.', '-', ' ', 'n', '\x1f', '\x80', '\xc3'};
	char msg[1024], spaced[1026];
	struct event_value a[WIDE], b[WIDE];
	static char scratch_a[SCRATCH_CAP], scratch_b[SCRATCH_CAP];
	size_t checked = 0, accepted = 0;
	for (size_t k = 0; k < sizeof(bases) / sizeof(bases[0]); k++) {
		const char *base = bases[k];
		size_t len = strlen(base), per_pos = 2 + sizeof(edits);
		cr_assert_lt(len, sizeof(msg) - 1);
		for (size_t e = 0; e <= len * per_pos + len; e++) {
			size_t n;
			if (e == 0) {
				memcpy(msg, base, n = len);
			} else if (e > len * per_pos) {
				memcpy(msg, base, n = e - len * per_pos - 1);
			} else {
				size_t pos = (e - 1) / per_pos, kind = (e - 1) % per_pos;
				memcpy(msg, base, pos);
				if (kind == 0) {
					memcpy(msg + pos, base + pos + 1, len - pos - 1);
					n = len - 1;
				} else if (kind == 1) {
					msg[pos] = base[pos];
					memcpy(msg + pos + 1, base + pos, len - pos);
					n = len + 1;
				} else {
					msg[pos] = edits[kind - 2];
					memcpy(msg + pos + 1, base + pos + 1, len - pos - 1);
					n = len;
				}
			}
			uint32_t ua, ub;
			char *exact = malloc(n ? n : 1);
			memcpy(exact, msg, n);
			int ra = event_decode(plan, exact, n, a, scratch_a, sizeof(scratch_a), &ua, NULL);
			spaced[0] = ' ';
			memcpy(spaced + 1, msg, n);
			int rb = event_decode(plan, spaced, n + 1, b, scratch_b, sizeof(scratch_b), &ub,
					      NULL);
			bool ok = same(ra, a, rb, b); /* a's strings point into exact */
			free(exact);
			if (!ok)
				cr_assert_fail("base %zu edit %zu: '%.*s': %s compact, %s with a space", k,
					       e, (int)n, msg, event_err_name(ra), event_err_name(rb));
			checked++;
			accepted += ra == 0;
		}
	}
	cr_expect_gt(accepted, 300, "only %zu of %zu accepted", accepted, checked);
	cr_expect_gt(checked - accepted, 5000, "only %zu refused", checked - accepted);
}

/* The fast pass learns the order members come in; any order decodes alike. */
Test(event_plan, member_order_is_learned)
{
	const char *const d[][2] = {{"t", "DateTime from ts"}, {"a", "UInt64"}, {"b", "String"}};
	make(d, 3, NULL);
	const char *orders[] = {
		"{\"ts\":\"2024-01-01T00:00:00Z\",\"a\":1,\"b\":\"x\"}",
		"{\"b\":\"x\",\"a\":1,\"ts\":\"2024-01-01T00:00:00Z\"}",
		"{\"a\":1,\"ts\":\"2024-01-01T00:00:00Z\",\"b\":\"x\"}",
	};
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < 3; i++) {
			cr_assert_eq(decode(orders[i]), 0, "%s", derr.reason);
			cr_expect(v[0].u64 == 1704067200 && v[1].u64 == 1);
			expect_str(&v[2], "x", 1);
		}
	}
	cr_expect_eq(decode("{\"b\":\"x\",\"a\":1,\"b\":\"y\",\"ts\":\"2024-01-01T00:00:00Z\"}"),
		     EVENT_ERR_DUPLICATE);
}

/* The scratch bound of a plan is enough for any message, arrays and catch-all included. */
Test(event_plan, scratch_bound)
{
	make(wide, WIDE, "rest");
	const char *json =
		"{\"ts\":1,\"type\":\"\\u0041\",\"user\":{\"id\":1,\"logged_in\":true},\"session\":"
		"\"01234567-89ab-cdef-0123-456789abcdef\",\"device\":{\"id\":\"\\n\",\"os\":\"\"},"
		"\"page\":{\"url\":\"\\\"\"},\"geo\":{\"country\":\"\\u00e9\",\"ip\":\"1.1.1.1\"},"
		"\"cart\":{\"items\":[1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0]},\"tags\":[\"\",\"\","
		"\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\\t\"],\"day\":\"2026-01-01\",\"z\":[[],[]]}";
	size_t n = strlen(json), bound = event_plan_scratch_bound(plan, n);
	char *small = malloc(bound);
	cr_assert_not_null(small);
	int rc = event_decode(plan, json, n, v, small, bound, &used, &derr);
	cr_expect_eq(rc, 0, "%s", rc ? derr.reason : "");
	cr_expect_leq(used, bound);
	free(small);
}
