/*
 * Unit tests of the Avro module: schema parsing, declared fields, resolution and the decoder.
 * Messages are built with a small encoder here and decoded from an exact-size heap copy, so the
 * sanitizer build catches any read past the end.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro.h"

/* ---- a small Avro encoder ---- */

struct enc {
	uint8_t b[4096];
	size_t n;
};

static void put_byte(struct enc *e, uint8_t c)
{
	cr_assert_lt(e->n, sizeof(e->b));
	e->b[e->n++] = c;
}

static void put_long(struct enc *e, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	while (z >= 0x80) {
		put_byte(e, (uint8_t)(z | 0x80));
		z >>= 7;
	}
	put_byte(e, (uint8_t)z);
}

static void put_raw(struct enc *e, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_byte(e, ((const uint8_t *)p)[i]);
}

static void put_str(struct enc *e, const char *s)
{
	put_long(e, (int64_t)strlen(s));
	put_raw(e, s, strlen(s));
}

static void put_double(struct enc *e, double d)
{
	put_raw(e, &d, 8);
}

static void put_float(struct enc *e, float f)
{
	put_raw(e, &f, 4);
}

/* ---- fixtures ---- */

static struct av_schema *schema;
static struct av_reader *reader;
static struct av_plan *plan;
static char errbuf[512];
static char *copy;
static struct event_value vals[32];
static char scratch[4096];
static struct av_error derr;

static void cleanup(void)
{
	av_plan_free(plan);
	av_reader_free(reader);
	av_schema_free(schema);
	free(copy);
	plan = NULL;
	reader = NULL;
	schema = NULL;
	copy = NULL;
}

TestSuite(avro, .fini = cleanup);

static int parse(const char *json)
{
	av_schema_free(schema);
	schema = NULL;
	return av_schema_parse(json, strlen(json), &schema, errbuf, sizeof(errbuf));
}

/* Parses the writer, makes the reader and resolves: the resolution's result. */
static int setup(const char *json, const struct av_field_decl *decls, size_t n)
{
	cr_assert_eq(parse(json), 0, "schema: %s", errbuf);
	cr_assert_eq(av_reader_create(decls, n, &reader, errbuf, sizeof(errbuf)), 0, "reader: %s",
		     errbuf);
	return av_resolve(schema, reader, &plan, errbuf, sizeof(errbuf));
}

static int decode_cap(const struct enc *e, size_t cap)
{
	free(copy);
	copy = malloc(e->n ? e->n : 1);
	memcpy(copy, e->b, e->n);
	memset(vals, 0xAB, sizeof(vals));
	memset(&derr, 0, sizeof(derr));
	uint32_t used = 0;
	int rc = av_decode(plan, copy, e->n, vals, scratch, cap, &used, &derr);
	if (rc != 0)
		cr_assert_not_null(derr.reason);
	else
		cr_assert_leq(used, cap);
	return rc;
}

static int decode(const struct enc *e)
{
	return decode_cap(e, sizeof(scratch));
}

static void expect_str(int i, const char *want)
{
	cr_expect_eq(vals[i].null, 0, "field %d is NULL", i);
	cr_expect_eq(vals[i].len, strlen(want), "field %d: length %u, want \"%s\"", i, vals[i].len,
		     want);
	if (vals[i].len == strlen(want))
		cr_expect_eq(memcmp(vals[i].ptr, want, vals[i].len), 0, "field %d: \"%.*s\" != \"%s\"",
			     i, (int)vals[i].len, vals[i].ptr, want);
}

#define F(p, t, ...) {.path = (p), .target = (t), __VA_ARGS__}

/* ---- schemas ---- */

Test(avro, schema_parses_every_type)
{
	cr_assert_eq(parse("{\"type\":\"record\",\"name\":\"E\",\"namespace\":\"ns\",\"fields\":["
			   "{\"name\":\"a\",\"type\":\"null\"},"
			   "{\"name\":\"b\",\"type\":\"boolean\"},"
			   "{\"name\":\"c\",\"type\":[\"null\",\"int\",\"long\"]},"
			   "{\"name\":\"d\",\"type\":{\"type\":\"enum\",\"name\":\"Col\",\"symbols\":[\"R\",\"G\"]}},"
			   "{\"name\":\"e\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\",\"size\":4}},"
			   "{\"name\":\"f\",\"type\":{\"type\":\"array\",\"items\":\"ns.Col\"}},"
			   "{\"name\":\"g\",\"type\":{\"type\":\"map\",\"values\":\"F4\"}},"
			   "{\"name\":\"h\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":9,\"scale\":2}},"
			   "{\"name\":\"i\",\"type\":[\"null\",\"E\"]}]}"),
		     0, "%s", errbuf);
	cr_assert_eq(parse("\"string\""), 0);
	cr_assert_eq(parse("[\"null\",\"string\"]"), 0);
}

Test(avro, schema_errors_say_where)
{
	cr_assert_eq(parse("{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"a\",\"type\":\"Nope\"}]}"),
		     -EINVAL);
	cr_expect_str_eq(errbuf, "fields[0].type: unknown type name \"Nope\"");
	cr_assert_eq(parse("{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
			   "{\"name\":\"a\",\"type\":\"int\"}]}"),
		     -EINVAL);
	cr_expect(strstr(errbuf, "twice") != NULL, "%s", errbuf);
	cr_expect_eq(parse("[\"int\",[\"null\"]]"), -EINVAL);
	cr_expect_eq(parse("[\"int\",\"int\"]"), -EINVAL);
	cr_expect_eq(parse("{\"type\":\"record\",\"name\":\"1E\",\"fields\":[]}"), -EINVAL);
	cr_expect_eq(parse("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}"), -EINVAL);
	cr_expect_eq(parse("{\"type\":\"enum\",\"name\":\"N\",\"symbols\":[\"A\",\"A\"]}"), -EINVAL);
	cr_expect_eq(parse("{\"type\":\"record\",\"name\":\"E\"}"), -EINVAL);
	cr_expect_eq(parse("not json"), -EINVAL);
	cr_expect_eq(parse("{\"type\":\"record\",\"name\":\"E\",\"fields\":[],\"x\":1} trailing"),
		     -EINVAL);
	char deep[4096] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "{\"type\":\"array\",\"items\":");
	strcat(deep, "\"int\"");
	for (int i = 0; i < 40; i++)
		strcat(deep, "}");
	cr_expect_eq(parse(deep), -E2BIG, "%s", errbuf);
}

Test(avro, schema_recursive_type_is_skipped)
{
	struct av_field_decl d[] = {F("tail", AV_TO_I64, .size = 8)};
	cr_assert_eq(setup("{\"type\":\"record\",\"name\":\"L\",\"fields\":["
			   "{\"name\":\"next\",\"type\":[\"null\",\"L\"]},"
			   "{\"name\":\"tail\",\"type\":\"long\"}]}",
			   d, 1),
		     0, "%s", errbuf);
	struct enc e = {0};
	put_long(&e, 1); /* next: L { next: L { next: null, tail 5 }, tail 6 } */
	put_long(&e, 1);
	put_long(&e, 0);
	put_long(&e, 5);
	put_long(&e, 6);
	put_long(&e, 7);
	cr_assert_eq(decode(&e), 0, "%s", derr.reason);
	cr_expect_eq(vals[0].i64, 7);
	/* a list deeper than the bound is refused, not followed down the stack */
	struct enc deep = {0};
	for (int i = 0; i < 100; i++)
		put_long(&deep, 1);
	put_long(&deep, 0);
	for (int i = 0; i < 101; i++)
		put_long(&deep, 1);
	cr_expect_eq(decode(&deep), AV_ERR_DEPTH);
}

/* ---- framing ---- */

Test(avro, frame_header)
{
	uint32_t id = 0;
	size_t off = 0;
	struct av_error err;
	cr_expect_eq(av_frame("", 0, &id, &off, &err), AV_ERR_EMPTY);
	cr_expect_eq(av_frame("\x01\0\0\0\x01", 5, &id, &off, &err), AV_ERR_MAGIC);
	cr_expect_str_eq(err.reason, "magic byte is not 0");
	cr_expect_eq(av_frame("\0\0\0", 3, &id, &off, &err), AV_ERR_FRAME);
	cr_assert_eq(av_frame("\0\x01\x02\x03\x04rest", 9, &id, &off, &err), 0);
	cr_expect_eq(id, 0x01020304u);
	cr_expect_eq(off, 5);
	cr_expect_str_eq(av_err_name(AV_ERR_MAGIC), "magic");
	cr_expect_str_eq(av_err_name(AV_ERR_TOO_LONG), "too_long");
	cr_expect_str_eq(av_err_name(5), "unknown");
}

/* ---- decoding, field kinds ---- */

#define EVENT_SCHEMA                                                                              \
	"{\"type\":\"record\",\"name\":\"Event\",\"fields\":["                                    \
	"{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"     \
	"{\"name\":\"user_id\",\"type\":\"long\"},"                                               \
	"{\"name\":\"url\",\"type\":\"string\"},"                                                 \
	"{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"                  \
	"{\"name\":\"page\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Page\",\"fields\":[" \
	"{\"name\":\"referrer\",\"type\":[\"null\",\"string\"]},"                                 \
	"{\"name\":\"depth\",\"type\":\"int\"}]}]},"                                              \
	"{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"VIEW\",\"CLICK\",\"BUY\"]}}," \
	"{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"                   \
	"{\"name\":\"labels\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"                \
	"{\"name\":\"score\",\"type\":\"float\"},"                                                \
	"{\"name\":\"price\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,\"scale\":2}}," \
	"{\"name\":\"id\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}},"               \
	"{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"                  \
	"{\"name\":\"ok\",\"type\":\"boolean\"}]}"

static const struct av_field_decl event_decls[] = {
	F("ts", AV_TO_DATETIME64, .size = 3),
	F("user_id", AV_TO_U64, .size = 8),
	F("url", AV_TO_STRING, .size = 0),
	F("page.referrer", AV_TO_STRING, .nullable = 1),
	F("page.depth", AV_TO_U64, .size = 1, .nullable = 1),
	F("kind", AV_TO_STRING, .size = 0),
	F("items", AV_TO_ARRAY_I64, .size = 8),
	F("labels", AV_TO_ARRAY_STRING, .size = 0),
	F("score", AV_TO_F64, .size = 4),
	F("price", AV_TO_STRING, .size = 0),
	F("id", AV_TO_UUID, .size = 0),
	F("day", AV_TO_DATE, .size = 0),
	F("ok", AV_TO_BOOL, .size = 0),
};
#define N_EVENT (sizeof(event_decls) / sizeof(event_decls[0]))

/* One event; page null when referrer is NULL. */
static void put_event(struct enc *e, int64_t user_id, const char *referrer, int64_t price_cents)
{
	put_long(e, 1714557600123); /* 2024-05-01T10:00:00.123Z */
	put_long(e, user_id);
	put_str(e, "https://x.test/a");
	put_long(e, 2); /* map: 2 entries, skipped */
	put_str(e, "k1");
	put_str(e, "v1");
	put_str(e, "k2");
	put_str(e, "v2");
	put_long(e, 0);
	if (referrer == NULL) {
		put_long(e, 0);
	} else {
		put_long(e, 1);
		put_long(e, 1);
		put_str(e, referrer);
		put_long(e, 3);
	}
	put_long(e, 1); /* CLICK */
	put_long(e, -2); /* items: a block of 2 with its size, then one of 1 */
	put_long(e, 2);
	put_long(e, 10);
	put_long(e, -20);
	put_long(e, 1);
	put_long(e, 30);
	put_long(e, 0);
	put_long(e, 2); /* labels */
	put_str(e, "a");
	put_str(e, "");
	put_long(e, 0);
	put_float(e, 1.5f);
	/* price: the shortest two's complement of price_cents */
	uint8_t be[8];
	int n = 8;
	for (int i = 7; i >= 0; i--, price_cents >>= 8)
		be[i] = (uint8_t)price_cents;
	while (n > 1 && ((be[8 - n] == 0 && !(be[9 - n] & 0x80)) ||
			 (be[8 - n] == 0xff && (be[9 - n] & 0x80))))
		n--;
	put_long(e, n);
	put_raw(e, be + 8 - n, (size_t)n);
	put_str(e, "0123ABcd-4567-89ab-cdef-0123456789AB");
	put_long(e, 19844); /* 2024-05-01 */
	put_byte(e, 1);
}

Test(avro, decode_every_kind)
{
	cr_assert_eq(setup(EVENT_SCHEMA, event_decls, N_EVENT), 0, "%s", errbuf);
	cr_assert_eq(av_plan_fields(plan), N_EVENT);
	struct enc e = {0};
	put_event(&e, 42, "https://ref.test/", 1234);
	cr_assert_eq(decode(&e), 0, "%s at %zu", derr.reason, derr.offset);
	cr_expect_eq(vals[0].i64, 1714557600123);
	cr_expect_eq(vals[1].u64, 42);
	expect_str(2, "https://x.test/a");
	expect_str(3, "https://ref.test/");
	cr_expect_eq(vals[4].u64, 3);
	expect_str(5, "CLICK");
	cr_assert_eq(vals[6].len, 3);
	const int64_t *items = (const int64_t *)(const void *)vals[6].ptr;
	cr_expect(items[0] == 10 && items[1] == -20 && items[2] == 30);
	cr_assert_eq(vals[7].len, 2);
	const struct event_str *labels = (const struct event_str *)(const void *)vals[7].ptr;
	cr_expect(labels[0].len == 1 && labels[0].ptr[0] == 'a' && labels[1].len == 0);
	cr_expect_eq(vals[8].f64, 1.5);
	expect_str(9, "12.34");
	static const uint8_t uuid[16] = {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xab,
					 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
	cr_assert_eq(vals[10].len, 16);
	cr_expect_eq(memcmp(vals[10].ptr, uuid, 16), 0);
	cr_expect_eq(vals[11].u64, 19844);
	cr_expect_eq(vals[12].u64, 1);
	for (size_t i = 0; i < N_EVENT; i++)
		cr_expect_eq(vals[i].null, 0, "field %zu", i);
}

Test(avro, decode_null_record_nulls_its_fields)
{
	cr_assert_eq(setup(EVENT_SCHEMA, event_decls, N_EVENT), 0, "%s", errbuf);
	struct enc e = {0};
	put_event(&e, 42, NULL, -5);
	cr_assert_eq(decode(&e), 0, "%s", derr.reason);
	cr_expect_eq(vals[3].null, 1);
	cr_expect_eq(vals[4].null, 1);
	expect_str(9, "-0.05");
}

Test(avro, decimal_text)
{
	static const struct {
		int64_t cents;
		const char *text;
	} cases[] = {{0, "0.00"}, {1, "0.01"}, {-1, "-0.01"}, {100, "1.00"}, {-12345, "-123.45"},
		     {INT64_MAX, "92233720368547758.07"}, {INT64_MIN, "-92233720368547758.08"}};
	cr_assert_eq(setup(EVENT_SCHEMA, event_decls, N_EVENT), 0, "%s", errbuf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct enc e = {0};
		put_event(&e, 1, NULL, cases[i].cents);
		cr_assert_eq(decode(&e), 0, "%s", derr.reason);
		expect_str(9, cases[i].text);
	}
}

Test(avro, decimal_wide_fixed)
{
	struct av_field_decl d[] = {F("v", AV_TO_STRING, .size = 0)};
	cr_assert_eq(setup("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"v\",\"type\":"
			   "{\"type\":\"fixed\",\"name\":\"D\",\"size\":32,\"logicalType\":\"decimal\","
			   "\"precision\":76,\"scale\":3}}]}",
			   d, 1),
		     0, "%s", errbuf);
	struct enc e = {0};
	put_byte(&e, 0x80); /* -2^255 */
	for (int i = 1; i < 32; i++)
		put_byte(&e, 0);
	cr_assert_eq(decode(&e), 0, "%s", derr.reason);
	expect_str(0, "-57896044618658097711785492504343953926634992332820282019728792003956564819."
		      "968");
}

Test(avro, range_checks)
{
	cr_assert_eq(setup(EVENT_SCHEMA, event_decls, N_EVENT), 0, "%s", errbuf);
	struct enc e = {0};
	put_event(&e, -1, NULL, 0);
	cr_assert_eq(decode(&e), AV_ERR_RANGE);
	cr_expect_eq(derr.field, 1);
	cr_expect_eq(derr.offset, 6); /* after the 6-byte timestamp */
}

/* ---- resolution ---- */

#define R1(fields) "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" fields "]}"

Test(avro, missing_fields_take_default_or_null)
{
	static const char *const aliases[] = {"old_name"};
	struct av_field_decl d[] = {
		F("a", AV_TO_I64, .size = 4, .default_text = "-7"),
		F("b", AV_TO_STRING, .nullable = 1),
		F("c", AV_TO_STRING, .default_text = "none"),
		F("new_name", AV_TO_F64, .size = 8, .aliases = aliases, .n_aliases = 1),
		F("t", AV_TO_DATETIME64, .size = 3, .default_text = "2024-05-01T10:00:00.5+02:00"),
		F("arr", AV_TO_ARRAY_STRING, .default_text = "[\"x\",\"yz\"]"),
	};
	cr_assert_eq(setup(R1("{\"name\":\"old_name\",\"type\":\"double\"}"), d, 6), 0, "%s", errbuf);
	struct enc e = {0};
	put_double(&e, -2.25);
	cr_assert_eq(decode(&e), 0, "%s", derr.reason);
	cr_expect_eq(vals[0].i64, -7);
	cr_expect_eq(vals[1].null, 1);
	expect_str(2, "none");
	cr_expect_eq(vals[3].f64, -2.25);
	cr_expect_eq(vals[4].i64, 1714550400500);
	cr_assert_eq(vals[5].len, 2);
	cr_expect_eq(((const struct event_str *)(const void *)vals[5].ptr)[1].len, 2);
}

Test(avro, unresolvable_says_which_field_and_why)
{
	struct av_field_decl d[] = {F("a", AV_TO_STRING, .size = 0), F("b", AV_TO_U64, .size = 8)};
	cr_assert_eq(setup(R1("{\"name\":\"a\",\"type\":\"string\"}"), d, 2), -EINVAL);
	cr_expect_str_eq(errbuf, "b: not in the writer schema, no default, not Nullable");
	av_plan_free(plan);
	plan = NULL;
	av_reader_free(reader);
	reader = NULL;
	cr_assert_eq(setup(R1("{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"long\"}"),
			   d, 2),
		     -EINVAL);
	cr_expect_str_eq(errbuf, "a: writer type long cannot be read as String");
}

static int resolve_one(const char *type, struct av_field_decl d)
{
	char json[512];
	snprintf(json, sizeof(json), R1("{\"name\":\"v\",\"type\":%s}"), type);
	av_plan_free(plan);
	av_reader_free(reader);
	plan = NULL;
	reader = NULL;
	d.path = "v";
	return setup(json, &d, 1);
}

Test(avro, promotions_and_refusals)
{
	struct {
		const char *type;
		enum av_target target;
		uint32_t size;
		int rc;
	} cases[] = {
		{"\"int\"", AV_TO_I64, 8, 0},		{"\"int\"", AV_TO_F64, 4, 0},
		{"\"long\"", AV_TO_F64, 8, 0},		{"\"float\"", AV_TO_F64, 8, 0},
		{"\"double\"", AV_TO_F64, 4, -EINVAL},	{"\"double\"", AV_TO_I64, 8, -EINVAL},
		{"\"bytes\"", AV_TO_STRING, 0, 0},	{"\"string\"", AV_TO_U64, 8, -EINVAL},
		{"\"long\"", AV_TO_STRING, 0, -EINVAL}, {"\"boolean\"", AV_TO_U64, 1, 0},
		{"\"int\"", AV_TO_BOOL, 0, -EINVAL},	{"{\"type\":\"map\",\"values\":\"int\"}", AV_TO_STRING, 0, -EINVAL},
		{"{\"type\":\"int\",\"logicalType\":\"time-millis\"}", AV_TO_DATETIME64, 3, -EINVAL},
		{"{\"type\":\"fixed\",\"name\":\"U\",\"size\":16}", AV_TO_UUID, 0, 0},
		{"{\"type\":\"fixed\",\"name\":\"U\",\"size\":8}", AV_TO_UUID, 0, -EINVAL},
		{"{\"type\":\"fixed\",\"name\":\"U\",\"size\":8}", AV_TO_FIXED_STRING, 4, -EINVAL},
		{"[\"null\",\"string\",\"long\"]", AV_TO_STRING, 0, 0},
		{"[\"null\",\"double\"]", AV_TO_I64, 8, -EINVAL},
		{"{\"type\":\"array\",\"items\":\"double\"}", AV_TO_ARRAY_I64, 8, -EINVAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct av_field_decl d = {.target = cases[i].target, .size = cases[i].size};
		cr_expect_eq(resolve_one(cases[i].type, d), cases[i].rc, "case %zu (%s): %s", i,
			     cases[i].type, errbuf);
	}
}

Test(avro, union_branches_at_read_time)
{
	struct av_field_decl d = {.target = AV_TO_I64, .size = 8};
	cr_assert_eq(resolve_one("[\"null\",\"long\",\"string\"]", d), 0, "%s", errbuf);
	struct enc e = {0};
	put_long(&e, 1);
	put_long(&e, -9);
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].i64, -9);
	e.n = 0;
	put_long(&e, 0);
	cr_expect_eq(decode(&e), AV_ERR_NULL);
	cr_expect_eq(derr.field, 0);
	e.n = 0;
	put_long(&e, 2);
	put_str(&e, "x");
	cr_expect_eq(decode(&e), AV_ERR_BRANCH);
	e.n = 0;
	put_long(&e, 3);
	cr_expect_eq(decode(&e), AV_ERR_UNION);
	/* a writer union into a Nullable field; the writer's null may come second */
	d.nullable = 1;
	cr_assert_eq(resolve_one("[\"long\",\"null\"]", d), 0, "%s", errbuf);
	e.n = 0;
	put_long(&e, 1);
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].null, 1);
	e.n = 0;
	put_long(&e, 0);
	put_long(&e, 5);
	cr_assert_eq(decode(&e), 0);
	cr_expect(vals[0].null == 0 && vals[0].i64 == 5);
}

Test(avro, enum_symbols_of_the_reader)
{
	static const char *const syms[] = {"VIEW", "CLICK", "OTHER"};
	struct av_field_decl d = {.target = AV_TO_STRING, .symbols = syms, .n_symbols = 2};
	const char *type = "{\"type\":\"enum\",\"name\":\"K\",\"symbols\":[\"VIEW\",\"BUY\",\"CLICK\"]}";
	cr_assert_eq(resolve_one(type, d), 0, "%s", errbuf);
	struct enc e = {0};
	put_long(&e, 2);
	cr_assert_eq(decode(&e), 0);
	expect_str(0, "CLICK");
	e.n = 0;
	put_long(&e, 1);
	cr_expect_eq(decode(&e), AV_ERR_SYMBOL);
	e.n = 0;
	put_long(&e, 3);
	cr_expect_eq(decode(&e), AV_ERR_ENUM);
	d.n_symbols = 3;
	d.enum_default = "OTHER";
	cr_assert_eq(resolve_one(type, d), 0, "%s", errbuf);
	e.n = 0;
	put_long(&e, 1);
	cr_assert_eq(decode(&e), 0);
	expect_str(0, "OTHER");
	cr_expect_eq(resolve_one("\"string\"", d), -EINVAL);
}

Test(avro, times_and_dates)
{
	struct enc e = {0};
	struct av_field_decl d = {.target = AV_TO_DATETIME64, .size = 3};
	cr_assert_eq(resolve_one("{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", d), 0);
	put_long(&e, -1); /* 1 us before the epoch: floored to -1 ms */
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].i64, -1);
	d.size = 6;
	cr_assert_eq(resolve_one("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", d), 0);
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].i64, -1000);
	d.size = 3;
	cr_assert_eq(resolve_one("\"string\"", d), 0);
	e.n = 0;
	put_str(&e, "2024-05-01T10:00:00.123456Z");
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].i64, 1714557600123);
	e.n = 0;
	put_str(&e, "2024-05-01 10:00:00Z");
	cr_expect_eq(decode(&e), AV_ERR_VALUE);
	e.n = 0;
	put_str(&e, "2400-01-01T00:00:00Z");
	cr_expect_eq(decode(&e), AV_ERR_RANGE);
	d.target = AV_TO_DATETIME;
	cr_assert_eq(resolve_one("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", d), 0);
	e.n = 0;
	put_long(&e, 1999);
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].u64, 1);
	e.n = 0;
	put_long(&e, -1);
	cr_expect_eq(decode(&e), AV_ERR_RANGE);
	d.target = AV_TO_DATE;
	cr_assert_eq(resolve_one("\"string\"", d), 0);
	e.n = 0;
	put_str(&e, "1970-01-02");
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].u64, 1);
	d.target = AV_TO_DATE32;
	cr_assert_eq(resolve_one("{\"type\":\"int\",\"logicalType\":\"date\"}", d), 0);
	e.n = 0;
	put_long(&e, -25567);
	cr_assert_eq(decode(&e), 0);
	cr_expect_eq(vals[0].i64, -25567);
	e.n = 0;
	put_long(&e, -25568);
	cr_expect_eq(decode(&e), AV_ERR_RANGE);
}

Test(avro, reader_checks_declarations)
{
	struct av_field_decl bad[][1] = {
		{F("a..b", AV_TO_STRING, .size = 0)},
		{F("a", AV_TO_U64, .size = 3)},
		{F("a", AV_TO_U64, .size = 1, .default_text = "256")},
		{F("a", AV_TO_UUID, .default_text = "nope")},
		{F("a", AV_TO_STRING, .default_text = "null")}, /* the text "null": fine */
		{F("a", AV_TO_DATETIME64, .size = 10)},
		{F("a", AV_TO_I64, .size = 8, .enum_default = "X")},
	};
	int want[] = {-EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, -EINVAL, -EINVAL};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct av_reader *r = NULL;
		cr_expect_eq(av_reader_create(bad[i], 1, &r, errbuf, sizeof(errbuf)), want[i],
			     "case %zu: %s", i, errbuf);
		av_reader_free(r);
	}
	struct av_field_decl twice[] = {F("a", AV_TO_STRING, .size = 0),
					F("a", AV_TO_STRING, .size = 0)};
	struct av_reader *r = NULL;
	cr_expect_eq(av_reader_create(twice, 2, &r, errbuf, sizeof(errbuf)), -EINVAL);
	cr_expect_str_eq(errbuf, "a: declared twice");
	cr_expect_eq(r, NULL);
}

/* ---- malformed messages ---- */

Test(avro, malformed_messages)
{
	struct av_field_decl d[] = {F("s", AV_TO_STRING, .size = 0), F("n", AV_TO_I64, .size = 4)};
	cr_assert_eq(setup(R1("{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"n\",\"type\":\"int\"},"
			      "{\"name\":\"b\",\"type\":\"boolean\"},"
			      "{\"name\":\"x\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}"),
			   d, 2),
		     0, "%s", errbuf);
	struct {
		const char *bytes;
		size_t n;
		int rc;
		size_t offset;
	} cases[] = {
		{"", 0, AV_ERR_TRUNCATED, 0},
		{"\x80", 1, AV_ERR_TRUNCATED, 0},			/* varint cut */
		{"\x01", 1, AV_ERR_LENGTH, 0},				/* length -1 */
		{"\x08" "ab", 3, AV_ERR_TRUNCATED, 0},			/* length 4, 2 bytes */
		{"\x00\xff\xff\xff\xff\x7f", 6, AV_ERR_VARINT, 1},	/* int of 35 bits */
		{"\x00\x80\x80\x80\x80\x80\x01", 7, AV_ERR_VARINT, 1},	/* int of 6 bytes */
		{"\x00\x02\x02\x00", 4, AV_ERR_BOOLEAN, 2},		/* boolean 2 */
		{"\x00\x02\x01\x00\x00", 5, AV_ERR_TRAILING, 4},	/* a byte after the record */
		{"\x00\x02\x01\x01\x01", 5, AV_ERR_LENGTH, 3},	/* block of 1, size -1 */
		{"\x00\x02\x01\x01\x04", 5, AV_ERR_TRUNCATED, 3},	/* block of 1, size 2 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct enc e = {0};
		put_raw(&e, cases[i].bytes, cases[i].n);
		cr_expect_eq(decode(&e), cases[i].rc, "case %zu: %d (%s)", i, decode(&e), derr.reason);
		cr_expect_eq(derr.offset, cases[i].offset, "case %zu: offset %zu", i, derr.offset);
	}
	/* an array of 2^62 nulls takes no bytes and is skipped at once */
	struct enc e = {0};
	put_raw(&e, "\x00\x02\x01", 3);
	put_long(&e, INT64_C(1) << 62);
	put_long(&e, 0);
	cr_expect_eq(decode(&e), 0, "%s", derr.reason);
}

Test(avro, scratch_bound)
{
	cr_assert_eq(setup(EVENT_SCHEMA, event_decls, N_EVENT), 0, "%s", errbuf);
	struct enc e = {0};
	put_event(&e, 1, "r", 1);
	cr_expect_eq(decode_cap(&e, 20), AV_ERR_TOO_LONG);
	size_t bound = AV_SCRATCH_BOUND(e.n, N_EVENT);
	cr_assert_leq(bound, sizeof(scratch));
	cr_expect_eq(decode_cap(&e, bound), 0);
}

/* Every length of varint, read where ten or more bytes follow and where fewer do, and in array
 * blocks given by count or by size: the same values, and the same errors. */
Test(avro, varints_of_every_length)
{
	struct av_field_decl d[] = {F("l", AV_TO_I64, .size = 8), F("i", AV_TO_I64, .size = 4),
				    F("a", AV_TO_ARRAY_I64, .size = 8),
				    F("s", AV_TO_ARRAY_STRING, .size = 0)};
	cr_assert_eq(setup(R1("{\"name\":\"l\",\"type\":\"long\"},{\"name\":\"i\",\"type\":\"int\"},"
			      "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
			      "{\"name\":\"s\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}"),
			   d, 4),
		     0, "%s", errbuf);
	int64_t values[3 * 64 + 2];
	size_t nv = 0;
	values[nv++] = INT64_MIN;
	values[nv++] = INT64_MAX;
	for (int k = 0; k < 63; k++) {
		values[nv++] = INT64_C(1) << k;
		values[nv++] = (INT64_C(1) << k) - 1;
		values[nv++] = -(INT64_C(1) << k);
	}
	for (size_t k = 0; k < nv; k++) {
		int64_t v = values[k];
		int64_t neg = (int64_t)(0 - (uint64_t)v); /* INT64_MIN is its own negation */
		int32_t v32 = (int32_t)v;
		for (int sized = 0; sized < 2; sized++) {
			struct enc e = {0};
			put_long(&e, v);
			put_long(&e, v32);
			if (sized) { /* one block of -2 items and its size, then the end */
				struct enc items = {0};
				put_long(&items, v);
				put_long(&items, neg);
				put_long(&e, -2);
				put_long(&e, (int64_t)items.n);
				put_raw(&e, items.b, items.n);
			} else { /* two blocks of one item */
				put_long(&e, 1);
				put_long(&e, v);
				put_long(&e, 1);
				put_long(&e, neg);
			}
			put_long(&e, 0);
			put_long(&e, 1);
			put_str(&e, "x");
			put_long(&e, 0);
			cr_assert_eq(decode(&e), 0, "value %lld: %s at %zu", (long long)v, derr.reason,
				     derr.offset);
			cr_expect_eq(vals[0].i64, v);
			cr_expect_eq(vals[1].i64, v32);
			cr_assert_eq(vals[2].len, 2, "value %lld", (long long)v);
			const int64_t *a = (const int64_t *)(const void *)vals[2].ptr;
			cr_expect_eq(a[0], v, "value %lld", (long long)v);
			cr_expect_eq(a[1], neg, "value %lld", (long long)v);
			cr_expect_eq(vals[3].len, 1);
		}
	}
	/* too long, or a last byte with more bits than the type has left, before 10 bytes from
	 * the end and within them */
	struct {
		const char *bytes;
		size_t n;
		size_t offset;
	} bad[] = {
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11, 0}, /* long of 11 bytes */
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, 0},	 /* long of 65 bits */
		{"\x00\xff\xff\xff\xff\x10", 6, 1},			 /* int of 33 bits */
		{"\x00\x80\x80\x80\x80\x80\x01", 7, 1},			 /* int of 6 bytes */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (int pad = 0; pad < 2; pad++) {
			struct enc e = {0};
			put_raw(&e, bad[i].bytes, bad[i].n);
			if (pad) /* ten more bytes: the value read as one word */
				put_raw(&e, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 10);
			cr_expect_eq(decode(&e), AV_ERR_VARINT, "case %zu pad %d: %d (%s)", i, pad,
				     decode(&e), derr.reason);
			cr_expect_eq(derr.offset, bad[i].offset, "case %zu pad %d: offset %zu", i, pad,
				     derr.offset);
		}
}
