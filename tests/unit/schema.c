/*
 * Unit tests of the declared event schema: one declaration's syntax, a schema's checks, the
 * default schema, and the Avro reader description built from the declared fields.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "avro.h"
#include "schema.h"

static struct schema s;
static char err[SCHEMA_ERR_MAX];

static void reset(void)
{
	memset(&s, 0, sizeof(s));
	snprintf(s.metadata, sizeof(s.metadata), "%s", SCHEMA_META_DEFAULT);
	err[0] = '\0';
}

TestSuite(schema, .init = reset);

/* Adds field.name = text, asserting it parses. */
static struct schema_field *add(const char *name, const char *text)
{
	cr_assert_lt(s.field_count, SCHEMA_FIELDS_MAX);
	struct schema_field *f = &s.fields[s.field_count];
	cr_assert_eq(schema_field_parse(name, text, f, err, sizeof(err)), 0, "%s = %s: %s", name,
		     text, err);
	f->line = 10 + s.field_count++;
	return f;
}

/* Whether field.name = text is refused with a reason holding `want`. */
static void refused(const char *name, const char *text, const char *want)
{
	struct schema_field f;
	err[0] = '\0';
	cr_expect_eq(schema_field_parse(name, text, &f, err, sizeof(err)), -EINVAL, "%s = %s accepted",
		     name, text);
	cr_expect(strstr(err, want) != NULL, "%s = %s: reason '%s' lacks '%s'", name, text, err,
		  want);
}

static int finish(unsigned *line)
{
	return schema_finish(&s, err, sizeof(err), line);
}

Test(schema, declarations)
{
	struct schema_field *f = add("event_time", "DateTime64(3,'UTC') from ts unit=ms");
	cr_expect_str_eq(f->type, "DateTime64(3, 'UTC')");
	cr_expect_eq(f->kind, SCHEMA_DATETIME64);
	cr_expect_eq(f->size, 3);
	cr_expect_str_eq(f->path, "ts");
	cr_expect_eq(f->unit, SCHEMA_UNIT_MS);
	f = add("referrer", "Nullable(String) from page.referrer");
	cr_expect(f->nullable);
	cr_expect_eq(f->kind, SCHEMA_STRING);
	cr_expect_str_eq(f->path, "page.referrer");
	f = add("plan", "LowCardinality(String) default=free aliases=tier,account.tier");
	cr_expect(f->low_cardinality && f->has_default);
	cr_expect_str_eq(f->path, "plan");
	cr_expect_str_eq(f->default_text, "free");
	cr_expect_eq(f->alias_count, 2);
	cr_expect_str_eq(f->aliases[1], "account.tier");
	f = add("note", "String default=\"two words \\\"quoted\\\"\"");
	cr_expect_str_eq(f->default_text, "two words \"quoted\"");
	f = add("device_id", "FixedString(16) integers=text");
	cr_expect_eq(f->kind, SCHEMA_FIXED_STRING);
	cr_expect_eq(f->size, 16);
	cr_expect(f->integers_text);
	f = add("items", "Array(Int32) from cart.items default=[]");
	cr_expect_eq(f->kind, SCHEMA_ARRAY_I64);
	cr_expect_eq(f->size, 4);
	f = add("day", "Date32 unit=days");
	cr_expect_eq(f->unit, SCHEMA_UNIT_DAYS);
	f = add("price", "Nullable(Float32) default=null");
	cr_expect_eq(f->kind, SCHEMA_F64);
	cr_expect_eq(f->size, 4);
	f = add("ip", "IPv6");
	cr_expect_eq(f->kind, SCHEMA_IPV6);
}

Test(schema, declaration_errors)
{
	refused("x", "Strng", "Strng");
	refused("x", "", "no type");
	refused("x", "Decimal(9, 2)", "not a type of a declared field");
	refused("x", "Array(Array(String))", "Array(String) or Array(Int8..Int64)");
	refused("x", "Array(UInt8)", "Array(String) or Array(Int8..Int64)");
	refused("x", "LowCardinality(UInt64)", "LowCardinality only of String");
	refused("x", "String from", "from needs a path");
	refused("x", "String from a..b", "an empty part");
	refused("x", "String from a.b.", "an empty part");
	refused("x", "String from a.b.c.d.e.f.g.h.i", "more than 8 parts");
	refused("x", "String from a\\b", "may not be in a path");
	refused("x", "String from a=b", "may not be in a path");
	refused("x", "String from a from b", "from given twice");
	refused("x", "String unit=ms", "unit= applies to");
	refused("x", "DateTime unit=days", "unit=days applies to Date");
	refused("x", "DateTime64(3) unit=hours", "not s, ms, us, ns or days");
	refused("x", "UInt64 integers=text", "integers=text");
	refused("x", "String default=null", "default=null needs a Nullable type");
	refused("x", "String default=a default=b", "default= given twice");
	refused("x", "String aliases=a,,b", "must be 1 to");
	refused("x", "String aliases=a,b,c,d,e", "more than 4 aliases");
	refused("x", "String colour=red", "unknown option 'colour'");
	refused("x", "String red", "expected from <path> or an option");
	refused("x", "String default=\"open", "not closed");
	refused("bad-name", "String", "letters, digits or '_'");
}

Test(schema, default_schema)
{
	schema_default_fields(&s);
	unsigned line;
	cr_assert_eq(finish(&line), 0, "%s", err);
	cr_assert_eq(s.field_count, 4);
	static const char *const want[4][3] = {
		{"event_time", "DateTime64(3, 'UTC')", "timestamp"},
		{"user_id", "UInt64", "user_id"},
		{"device_id", "String", "device_id"},
		{"url", "String", "url"},
	};
	for (int i = 0; i < 4; i++) {
		cr_expect_str_eq(s.fields[i].name, want[i][0]);
		cr_expect_str_eq(s.fields[i].type, want[i][1]);
		cr_expect_str_eq(s.fields[i].path, want[i][2]);
	}
	cr_expect(s.fields[2].integers_text && !s.fields[3].integers_text);
	cr_expect_eq(s.fields[0].unit, SCHEMA_UNIT_MS);
	cr_expect_eq(s.time_index, 0);
	cr_assert_eq(s.meta_count, 5);
	cr_expect_eq(s.meta[0], SCHEMA_META_TOPIC);
	cr_expect_eq(s.meta[4], SCHEMA_META_INGEST_TIME);
}

Test(schema, metadata_list)
{
	schema_default_fields(&s);
	snprintf(s.metadata, sizeof(s.metadata), "_offset,_key  _headers, _topic");
	unsigned line;
	cr_assert_eq(finish(&line), 0, "%s", err);
	cr_assert_eq(s.meta_count, 5);
	cr_expect_eq(s.meta[0], SCHEMA_META_OFFSET);
	cr_expect_eq(s.meta[1], SCHEMA_META_KEY);
	cr_expect_eq(s.meta[2], SCHEMA_META_HEADERS_NAME);
	cr_expect_eq(s.meta[3], SCHEMA_META_HEADERS_VALUE);
	cr_expect_eq(s.meta[4], SCHEMA_META_TOPIC);
	cr_expect_str_eq(schema_meta_name(SCHEMA_META_HEADERS_VALUE), "_headers.value");
	cr_expect_str_eq(schema_meta_type(SCHEMA_META_HEADERS_NAME), "Array(String)");
	s.metadata[0] = '\0';
	cr_assert_eq(finish(&line), 0, "%s", err);
	cr_expect_eq(s.meta_count, 0);
}

/* Each check of a whole schema, with the line of the declaration or key at fault. */
Test(schema, schema_errors)
{
	static const struct {
		const char *fields[3][2];
		const char *time_field, *catch_all, *metadata;
		int avro;
		const char *want;
		unsigned line;
	} cases[] = {
		{{{"t", "DateTime"}, {"t", "String"}}, "t", "", NULL, 0, "declared twice", 11},
		{{{"t", "DateTime"}, {"_key", "String"}}, "t", "", "_key", 0, "metadata column", 11},
		{{{"t", "DateTime"}, {"x", "String"}}, "t", "x", NULL, 0, "catch_all column", 11},
		{{{"t", "DateTime"}}, "t", "_topic", NULL, 0, "is a metadata column", 5},
		{{{"t", "DateTime"}}, "t", "bad name", NULL, 0, "letters, digits", 5},
		{{{"t", "DateTime"}, {"a", "String from x"}, {"b", "String from x"}}, "t", "", NULL, 0,
		 "is also the path 'x' of field.a", 12},
		{{{"t", "DateTime"}, {"a", "String from p"}, {"b", "String from p.q"}}, "t", "", NULL,
		 0, "overlaps the path 'p' of field.a", 12},
		{{{"t", "DateTime"}, {"a", "String aliases=t"}}, "t", "", NULL, 0, "of field.t", 11},
		{{{"t", "DateTime"}}, "", "", NULL, 0, "time_field: required", 3},
		{{{"t", "DateTime"}}, "u", "", NULL, 0, "'u' is not a declared field", 3},
		{{{"t", "String"}}, "t", "", NULL, 0, "not a Date, DateTime or DateTime64", 3},
		{{{"t", "Date32"}}, "t", "", NULL, 0, "not a Date, DateTime or DateTime64", 3},
		{{{"t", "Nullable(DateTime)"}}, "t", "", NULL, 0, "is Nullable", 3},
		{{{"t", "DateTime"}}, "t", "", "_topic, _nope", 0, "unknown column '_nope'", 4},
		{{{"t", "DateTime"}}, "t", "", "_key,_key", 0, "_key listed twice", 4},
		{{{"t", "DateTime"}}, "t", "rest", NULL, 1, "JSON only", 5},
		{{{"t", "DateTime"}, {"ip", "IPv4"}}, "t", "", NULL, 1, "has no Avro reading", 11},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset();
		for (size_t k = 0; k < 3 && cases[i].fields[k][0]; k++)
			add(cases[i].fields[k][0], cases[i].fields[k][1]);
		snprintf(s.time_field, sizeof(s.time_field), "%s", cases[i].time_field);
		snprintf(s.catch_all, sizeof(s.catch_all), "%s", cases[i].catch_all);
		if (cases[i].metadata)
			snprintf(s.metadata, sizeof(s.metadata), "%s", cases[i].metadata);
		s.format = cases[i].avro ? SCHEMA_FORMAT_AVRO_CONFLUENT : SCHEMA_FORMAT_JSON;
		s.time_field_line = 3;
		s.metadata_line = 4;
		s.catch_all_line = 5;
		unsigned line = 0;
		cr_expect_eq(finish(&line), -EINVAL, "case %zu accepted", i);
		cr_expect(strstr(err, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err,
			  cases[i].want);
		cr_expect_eq(line, cases[i].line, "case %zu: line %u, want %u (%s)", i, line,
			     cases[i].line, err);
	}
}

Test(schema, time_ms)
{
	struct schema_field f;
	cr_assert_eq(schema_field_parse("t", "DateTime64(6)", &f, err, sizeof(err)), 0);
	cr_expect_eq(schema_time_ms(&f, 1700000000123456), 1700000000123);
	cr_expect_eq(schema_time_ms(&f, -1), -1);
	cr_assert_eq(schema_field_parse("t", "DateTime64(0)", &f, err, sizeof(err)), 0);
	cr_expect_eq(schema_time_ms(&f, 17), 17000);
	cr_assert_eq(schema_field_parse("t", "DateTime", &f, err, sizeof(err)), 0);
	cr_expect_eq(schema_time_ms(&f, 86400), 86400000);
	cr_assert_eq(schema_field_parse("t", "Date", &f, err, sizeof(err)), 0);
	cr_expect_eq(schema_time_ms(&f, 2), 172800000);
}

/*
 * The declared fields as the Avro reader: its paths, kinds, nullability, defaults and aliases,
 * accepted by av_reader_create and resolved against a writer schema that nests a record, renames
 * a field (an alias) and lacks one (its default).
 */
Test(schema, avro_reader_from_declarations)
{
	add("event_time", "DateTime64(3, 'UTC') from ts");
	add("user_id", "UInt64 from user.id");
	add("plan", "LowCardinality(String) from user.plan default=free");
	add("referrer", "Nullable(String) from page.referrer aliases=page.ref");
	add("tags", "Array(String)");
	add("flag", "Nullable(Bool)");
	add("score", "Float32 default=1.5");
	snprintf(s.time_field, sizeof(s.time_field), "event_time");
	s.format = SCHEMA_FORMAT_AVRO_CONFLUENT;
	unsigned line;
	cr_assert_eq(finish(&line), 0, "%s", err);
	struct schema_avro av;
	cr_assert_eq(schema_avro_decls(&s, &av, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(av.count, 7);
	cr_expect_eq(av.decls[0].target, AV_TO_DATETIME64);
	cr_expect_eq(av.decls[0].size, 3);
	cr_expect_str_eq(av.decls[1].path, "user.id");
	cr_expect_eq(av.decls[1].target, AV_TO_U64);
	cr_expect_eq(av.decls[1].size, 8);
	cr_expect_str_eq(av.decls[2].default_text, "free");
	cr_expect_eq(av.decls[3].nullable, 1);
	cr_expect_eq(av.decls[3].n_aliases, 1);
	cr_expect_str_eq(av.decls[3].aliases[0], "page.ref");
	cr_expect_eq(av.decls[4].target, AV_TO_ARRAY_STRING);
	cr_expect_eq(av.decls[5].target, AV_TO_BOOL);
	cr_expect_eq(av.decls[6].target, AV_TO_F64);
	cr_expect_eq(av.decls[6].size, 4);

	struct av_reader *reader = NULL;
	char why[512];
	cr_assert_eq(av_reader_create(av.decls, av.count, &reader, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(av_reader_fields(reader), 7);
	static const char writer_json[] =
		"{\"type\":\"record\",\"name\":\"E\",\"fields\":["
		"{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
		"{\"name\":\"user\",\"type\":{\"type\":\"record\",\"name\":\"U\",\"fields\":["
		"{\"name\":\"id\",\"type\":\"long\"}]}},"
		"{\"name\":\"page\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"P\",\"fields\":["
		"{\"name\":\"ref\",\"type\":\"string\"}]}]},"
		"{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
		"{\"name\":\"flag\",\"type\":[\"null\",\"boolean\"]},"
		"{\"name\":\"score\",\"type\":\"float\"}]}";
	struct av_schema *writer = NULL;
	cr_assert_eq(av_schema_parse(writer_json, strlen(writer_json), &writer, why, sizeof(why)), 0,
		     "%s", why);
	struct av_plan *plan = NULL;
	cr_expect_eq(av_resolve(writer, reader, &plan, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(av_plan_fields(plan), 7);
	av_plan_free(plan);
	av_schema_free(writer);
	av_reader_free(reader);
}
