/*
 * chtype: type names accepted and printed as ClickHouse 26 prints them
 * (SELECT toTypeName(CAST(defaultValueOfTypeName(t), t)) with allow_suspicious_low_cardinality_types
 * for the LowCardinality of numbers), and the names ClickHouse refuses, each with a reason and
 * where in the name.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "chtype.h"

static void parses_as(const char *in, const char *canonical)
{
	struct chtype t;
	char err[400], name[400];
	int rc = chtype_parse(in, strlen(in), &t, err, sizeof(err));
	cr_assert_eq(rc, 0, "'%s': %s", in, err);
	cr_assert_gt(chtype_name(&t, name, sizeof(name)), 0, "'%s'", in);
	cr_assert_str_eq(name, canonical, "'%s'", in);
}

Test(chtype, clickhouse_names)
{
	static const char *const cases[][2] = {
		{"UInt8", "UInt8"},
		{"Int256", "Int256"},
		{"UInt128", "UInt128"},
		{"Float32", "Float32"},
		{"Bool", "Bool"},
		{" Nullable ( Int32 ) ", "Nullable(Int32)"},
		{"DateTime64(3,'UTC')", "DateTime64(3, 'UTC')"},
		{"DateTime64(6)", "DateTime64(6)"},
		{"DateTime64", "DateTime64(3)"},
		{"DateTime", "DateTime"},
		{"DateTime( 'UTC' )", "DateTime('UTC')"},
		{"DateTime('')", "DateTime"},
		{"FixedString(16)", "FixedString(16)"},
		{"Decimal32(2)", "Decimal(9, 2)"},
		{"Decimal128(3)", "Decimal(38, 3)"},
		{"Decimal(76,76)", "Decimal(76, 76)"},
		{"Decimal(9)", "Decimal(9, 0)"},
		{"Decimal", "Decimal(10, 0)"},
		{"UUID", "UUID"},
		{"IPv4", "IPv4"},
		{"Nullable( IPv6 )", "Nullable(IPv6)"},
		{"LowCardinality(String)", "LowCardinality(String)"},
		{"LowCardinality(Nullable(String))", "LowCardinality(Nullable(String))"},
		{"LowCardinality(UUID)", "LowCardinality(UUID)"},
		{"LowCardinality(Float32)", "LowCardinality(Float32)"},
		{"LowCardinality(Nullable(Bool))", "LowCardinality(Nullable(Bool))"},
		{"LowCardinality(DateTime('UTC'))", "LowCardinality(DateTime('UTC'))"},
		{"Array(Nullable(UInt8))", "Array(Nullable(UInt8))"},
		{"Array(LowCardinality(Nullable(String)))", "Array(LowCardinality(Nullable(String)))"},
		{"Array(Array(Array(UInt8)))", "Array(Array(Array(UInt8)))"},
		{"Array(Decimal128(3))", "Array(Decimal(38, 3))"},
		{"Nullable(Enum8('x' = 1))", "Nullable(Enum8('x' = 1))"},
		{"Enum16('a\\'b' = -5)", "Enum16('a\\'b' = -5)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parses_as(cases[i][0], cases[i][1]);
}

Test(chtype, shape_and_width)
{
	struct chtype t;
	const char *n = "Array(Array(LowCardinality(Nullable(FixedString(3)))))";
	cr_assert_eq(chtype_parse(n, strlen(n), &t, NULL, 0), 0);
	cr_assert_eq(t.kind, CHTYPE_FIXED_STRING);
	cr_assert_eq(t.arrays, 2);
	cr_assert(t.low_cardinality && t.nullable);
	cr_assert_eq(chtype_width(&t), 3);
	n = "Decimal(20, 2)";
	cr_assert_eq(chtype_parse(n, strlen(n), &t, NULL, 0), 0);
	cr_assert(t.kind == CHTYPE_DECIMAL && t.precision == 20 && t.scale == 2);
	cr_assert_eq(chtype_width(&t), 16);
	n = "String";
	cr_assert_eq(chtype_parse(n, strlen(n), &t, NULL, 0), 0);
	cr_assert_eq(chtype_width(&t), 0);
	char small[8];
	n = "LowCardinality(String)";
	cr_assert_eq(chtype_parse(n, strlen(n), &t, NULL, 0), 0);
	cr_assert_eq(chtype_name(&t, small, sizeof(small)), -ENOSPC);
	memset(&t, 0, sizeof(t));
	cr_assert_eq(chtype_name(&t, small, sizeof(small)), -EINVAL);
}

Test(chtype, refused_with_what_and_where)
{
	static const char *const cases[][2] = {
		{"", "expected a type name (at offset 0)"},
		{"string", "unsupported type 'string' (at offset 0)"},
		{"Map(String, UInt8)", "unsupported type 'Map' (at offset 0)"},
		{"Nullable(Nullable(UInt8))", "Nullable cannot be inside Nullable (at offset 9)"},
		{"Nullable(LowCardinality(String))",
		 "LowCardinality cannot be inside Nullable (at offset 9)"},
		{"Nullable(Array(UInt8))", "Array cannot be inside Nullable (at offset 9)"},
		{"LowCardinality(Array(String))",
		 "Array cannot be inside LowCardinality (at offset 15)"},
		{"LowCardinality(LowCardinality(String))",
		 "LowCardinality cannot be inside LowCardinality (at offset 15)"},
		{"LowCardinality(DateTime64(3))",
		 "LowCardinality of DateTime64 is not a ClickHouse type (at offset 15)"},
		{"LowCardinality(Decimal(9,2))", "LowCardinality of Decimal is not"},
		{"FixedString(0)", "FixedString needs a length 1..16777215"},
		{"FixedString(16777216)", "FixedString needs a length"},
		{"FixedString", "FixedString needs a length"},
		{"DateTime64(10)", "DateTime64 needs a precision 0..9 (at offset 11)"},
		{"DateTime64(3, UTC)", "expected a quoted time zone (at offset 14)"},
		{"DateTime('UTC'", "expected ')' after the DateTime time zone"},
		{"Decimal(77,2)", "Decimal needs a precision 1..76"},
		{"Decimal(10,11)", "Decimal needs a scale 0..10 (at offset 11)"},
		{"Decimal32", "Decimal32 needs a scale"},
		{"Enum8('a' = 128)", "expected an Enum value -128..127"},
		{"Enum8('a", "unterminated Enum element name (at offset 6)"},
		{"String)", "unexpected ')' after the type (at offset 6)"},
		{"Nullable(String", "expected ')' closing Nullable (at offset 15)"},
		{"Nullable String", "expected '(' after Nullable"},
		{"Array(Array(Array(Array(Array(Array(Array(Array(Array(UInt8)))))))))",
		 "more than 8 levels of Array"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chtype t;
		char err[400];
		const char *in = cases[i][0];
		cr_assert_eq(chtype_parse(in, strlen(in), &t, err, sizeof(err)), -EINVAL,
			     "'%s' accepted", in);
		cr_assert(strstr(err, cases[i][1]) != NULL, "'%s': %s", in, err);
	}
	/* A long name is bounded by the caller's buffer. */
	struct chtype t;
	char err[16];
	cr_assert_eq(chtype_parse("Map(String)", 11, &t, err, sizeof(err)), -EINVAL);
	cr_assert_eq(strlen(err), sizeof(err) - 1);
}
