/*
 * Unit tests of the Native encoder (native.h) and decoder (native_read.h).
 *
 * The expected bytes of the encoding tests are ClickHouse 26.7's own FORMAT Native output for the
 * same values (SELECT ... FROM values(...) INTO OUTFILE ... FORMAT Native), so each test proves
 * byte equality with ClickHouse for its types, not agreement with a hand-written reading of the
 * format.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "helpers.h"
#include "native.h"
#include "native_format.h"
#include "native_read.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	size_t n = got_len < want_len ? got_len : want_len;
	size_t i = 0;
	while (i < n && got[i] == want[i])
		i++;
	cr_assert(i == n && got_len == want_len,
		  "encoding differs from ClickHouse's: %zu vs %zu bytes, first difference at byte "
		  "%zu (got 0x%02x, want 0x%02x)",
		  got_len, want_len, i, i < got_len ? got[i] : 0, i < want_len ? want[i] : 0);
}

static void expect_hex(const uint8_t *got, size_t got_len, const char *hex)
{
	size_t want_len;
	uint8_t *want = t_hex_decode(hex, &want_len);
	expect_bytes(got, got_len, want, want_len);
	free(want);
}

static struct native_block *mk(const struct native_column_spec *specs, uint32_t ncols,
			       uint32_t rows_max, size_t bytes_max)
{
	struct native_block *b = NULL;
	int rc = native_block_init(&b, specs, ncols, rows_max, bytes_max);
	cr_assert_eq(rc, 0, "native_block_init: %d", rc);
	return b;
}

/* Encodes b into a fresh buffer of encoded_max bytes, checking the size functions on the way. */
static uint8_t *enc(const struct native_block *b, size_t *len)
{
	size_t max = native_block_encoded_max(b);
	size_t exact = native_block_encoded_size(b);
	cr_assert_leq(exact, max);
	uint8_t *out = malloc(max);
	cr_assert_not_null(out);
	int rc = native_block_encode(b, out, max, len);
	cr_assert_eq(rc, 0, "encode: %d", rc);
	cr_assert_eq(*len, exact, "encoded %zu bytes, encoded_size said %zu", *len, exact);
	return out;
}

/* b encodes to exactly the bytes of hex (ClickHouse's). */
static void expect_enc(const struct native_block *b, const char *hex)
{
	size_t len;
	uint8_t *out = enc(b, &len);
	expect_hex(out, len, hex);
	free(out);
}

static void ok(int rc)
{
	cr_assert_eq(rc, 0, "call failed: %d", rc);
}

static void commit(struct native_block *b)
{
	ok(native_block_commit_row(b));
}

/* ---- fixed-width types --------------------------------------------------------------------- */

Test(native, integers_min_max)
{
	const struct native_column_spec s[] = {
		{.name = "u8", .type = "UInt8"},   {.name = "u16", .type = "UInt16"},
		{.name = "u32", .type = "UInt32"}, {.name = "u64", .type = "UInt64"},
		{.name = "i8", .type = "Int8"},    {.name = "i16", .type = "Int16"},
		{.name = "i32", .type = "Int32"},  {.name = "i64", .type = "Int64"},
	};
	struct native_block *b = mk(s, 8, 4, 1024);
	ok(native_append_u64(b, 0, 0));
	ok(native_append_u64(b, 1, 0));
	ok(native_append_u64(b, 2, 0));
	ok(native_append_u64(b, 3, 0));
	ok(native_append_i64(b, 4, INT8_MIN));
	ok(native_append_i64(b, 5, INT16_MIN));
	ok(native_append_i64(b, 6, INT32_MIN));
	ok(native_append_i64(b, 7, INT64_MIN));
	commit(b);
	ok(native_append_u64(b, 0, UINT8_MAX));
	ok(native_append_u64(b, 1, UINT16_MAX));
	ok(native_append_u64(b, 2, UINT32_MAX));
	ok(native_append_u64(b, 3, UINT64_MAX));
	ok(native_append_i64(b, 4, INT8_MAX));
	ok(native_append_i64(b, 5, INT16_MAX));
	ok(native_append_i64(b, 6, INT32_MAX));
	ok(native_append_u64(b, 7, INT64_MAX));
	commit(b);
	expect_enc(b,
		   "08020275380555496e743800ff037531360655496e7431360000ffff037533320655496e74333200"
		   "000000ffffffff037536340655496e7436340000000000000000ffffffffffffffff02693804496e"
		   "7438807f0369313605496e7431360080ff7f0369333205496e74333200000080ffffff7f03693634"
		   "05496e7436340000000000000080ffffffffffffff7f");
	native_block_destroy(b);
}

Test(native, integer_range_checks)
{
	const struct native_column_spec s[] = {
		{.name = "u8", .type = "UInt8"},
		{.name = "i16", .type = "Int16"},
		{.name = "u32", .type = "UInt32"},
		{.name = "i64", .type = "Int64"},
		{.name = "b", .type = "Bool"},
	};
	struct native_block *b = mk(s, 5, 4, 1024);
	cr_assert_eq(native_append_u64(b, 0, 256), -ERANGE);
	cr_assert_eq(native_append_i64(b, 0, -1), -ERANGE);
	cr_assert_eq(native_append_i64(b, 1, INT16_MIN - 1), -ERANGE);
	cr_assert_eq(native_append_i64(b, 1, INT16_MAX + 1), -ERANGE);
	cr_assert_eq(native_append_u64(b, 1, 32768), -ERANGE);
	cr_assert_eq(native_append_u64(b, 2, UINT32_MAX + 1ull), -ERANGE);
	cr_assert_eq(native_append_u64(b, 3, (uint64_t)INT64_MAX + 1), -ERANGE);
	cr_assert_eq(native_append_u64(b, 4, 2), -ERANGE);
	cr_assert_eq(native_append_f64(b, 0, 1.0), -EINVAL);
	cr_assert_eq(native_append_str(b, 0, "1", 1), -EINVAL);
	cr_assert_eq(native_append_null(b, 0), -EINVAL);
	cr_assert_eq(native_append_code(b, 0, 0), -EINVAL);
	cr_assert_eq(native_append_u64(b, 5, 0), -EINVAL, "column out of range");
	/* Nothing was appended: the row cannot be committed. */
	cr_assert_eq(native_block_commit_row(b), -EINVAL);
	cr_assert_eq(native_block_rows(b), 0);
	native_block_destroy(b);
}

Test(native, floats)
{
	const struct native_column_spec s[] = {
		{.name = "f32", .type = "Float32"},
		{.name = "f64", .type = "Float64"},
	};
	const double v32[] = {0, -0.0, 1.5, NAN, INFINITY, -INFINITY, 1e-45};
	const double v64[] = {0, -0.0, 1.5, NAN, INFINITY, -INFINITY, 5e-324};
	struct native_block *b = mk(s, 2, 16, 1024);
	for (int i = 0; i < 7; i++) {
		ok(native_append_f64(b, 0, v32[i]));
		ok(native_append_f64(b, 1, v64[i]));
		commit(b);
	}
	cr_assert_eq(native_append_u64(b, 0, 1), -EINVAL);
	expect_enc(b,
		   "02070366333207466c6f6174333200000000000000800000c03f0000c07f0000807f000080ff0100"
		   "00000366363407466c6f6174363400000000000000000000000000000080000000000000f83f0000"
		   "00000000f87f000000000000f07f000000000000f0ff0100000000000000");
	native_block_destroy(b);
}

Test(native, dates_and_times)
{
	const struct native_column_spec s[] = {
		{.name = "d", .type = "Date"},
		{.name = "dt", .type = "DateTime"},
		{.name = "t64", .type = "DateTime64(3,'UTC')"},
	};
	struct native_block *b = mk(s, 3, 4, 1024);
	ok(native_append_u64(b, 0, 0));
	ok(native_append_u64(b, 1, 0));
	ok(native_append_i64(b, 2, -1));
	commit(b);
	ok(native_append_u64(b, 0, 65535));
	ok(native_append_u64(b, 1, UINT32_MAX));
	ok(native_append_i64(b, 2, 1704067200123));
	commit(b);
	cr_assert_eq(native_append_u64(b, 0, 65536), -ERANGE);
	size_t len;
	uint8_t *out = enc(b, &len);
	/* The type is written as ClickHouse names it: "DateTime64(3, 'UTC')". */
	expect_hex(out, len,
		   "0302016404446174650000ffff026474084461746554696d6500000000ffffffff037436341444"
		   "61746554696d65363428332c20275554432729ffffffffffffffff7bf451c28c010000");
	free(out);
	native_block_destroy(b);
}

Test(native, bool_date32_ipv4)
{
	const struct native_column_spec s[] = {
		{.name = "b", .type = "Bool"},
		{.name = "d32", .type = "Date32"},
		{.name = "ip", .type = "IPv4"},
		{.name = "nd", .type = "Nullable(Date)"},
	};
	struct native_block *b = mk(s, 4, 4, 1024);
	ok(native_append_u64(b, 0, 0));
	ok(native_append_i64(b, 1, -25567)); /* 1900-01-01 */
	ok(native_append_u64(b, 2, 0));
	ok(native_append_null(b, 3));
	commit(b);
	ok(native_append_u64(b, 0, 1));
	ok(native_append_i64(b, 1, 120529)); /* 2299-12-31 */
	ok(native_append_u64(b, 2, UINT32_MAX));
	ok(native_append_u64(b, 3, 19000));
	commit(b);
	size_t len;
	uint8_t *out = enc(b, &len);
	expect_hex(out, len,
		   "0402016204426f6f6c00010364333206446174653332219cffffd1d60100026970044950763400"
		   "000000ffffffff026e640e4e756c6c61626c6528446174652901000000384a");
	struct decoded_text {
		const char *v[4];
	} want[2] = {{{"false", "1900-01-01", "0.0.0.0", "\\N"}},
		     {{"true", "2299-12-31", "255.255.255.255", "2022-01-08"}}};
	struct native_reader *r;
	ok(native_reader_init(&r));
	size_t off = 0;
	struct native_rd_block blk;
	cr_assert_eq(native_reader_next(r, out, len, &off, &blk), 1);
	for (uint64_t row = 0; row < 2; row++) {
		for (uint32_t c = 0; c < 4; c++) {
			char t[64];
			native_rd_format_text(&blk.cols[c], row, t, sizeof(t));
			cr_assert_str_eq(t, want[row].v[c]);
		}
	}
	native_reader_destroy(r);
	free(out);
	native_block_destroy(b);
}

Test(native, datetime_time_zone_in_header)
{
	/* At revision 0 ClickHouse drops the time zone of a top-level DateTime only. */
	const struct native_column_spec s[] = {
		{.name = "t", .type = "Nullable(DateTime64(3, 'UTC'))"},
		{.name = "u", .type = "Nullable(DateTime('UTC'))"},
		{.name = "v", .type = "DateTime('UTC')"},
	};
	struct native_block *b = mk(s, 3, 4, 1024);
	ok(native_append_null(b, 0));
	ok(native_append_null(b, 1));
	ok(native_append_u64(b, 2, 1));
	commit(b);
	expect_enc(b,
		   "030101741e4e756c6c61626c65284461746554696d65363428332c20275554432729290100000000"
		   "000000000175194e756c6c61626c65284461746554696d652827555443272929010000000001760844"
		   "61746554696d6501000000");
	native_block_destroy(b);
}

/* ---- strings ------------------------------------------------------------------------------- */

Test(native, strings)
{
	const struct native_column_spec s[] = {{.name = "s", .type = "String"}};
	struct native_block *b = mk(s, 1, 8, 4096);
	static const char utf8[] = "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x8e\x89";
	char x200[200];
	memset(x200, 'x', sizeof(x200));
	ok(native_append_str(b, 0, NULL, 0));
	commit(b);
	ok(native_append_str(b, 0, "a", 1));
	commit(b);
	ok(native_append_str(b, 0, utf8, sizeof(utf8) - 1));
	commit(b);
	ok(native_append_str(b, 0, "t\0\t\n", 4));
	commit(b);
	ok(native_append_str(b, 0, x200, sizeof(x200)));
	commit(b);
	size_t len;
	uint8_t *out = enc(b, &len);
	char want[1024];
	int n = snprintf(want, sizeof(want),
			 "0105017306537472696e670001610f68c3a96c6c6f20e2988320f09f8e89047400090ac801");
	for (int i = 0; i < 200; i++)
		n += snprintf(want + n, sizeof(want) - (size_t)n, "78");
	expect_hex(out, len, want);
	free(out);
	native_block_destroy(b);
}

Test(native, string_64k)
{
	const size_t big = 65536;
	const struct native_column_spec s[] = {{.name = "s", .type = "String"}};
	struct native_block *b = mk(s, 1, 4, big + 16);
	char *x = malloc(big);
	cr_assert_not_null(x);
	for (size_t i = 0; i < big; i++)
		x[i] = (char)('a' + i % 26);
	ok(native_append_str(b, 0, x, big));
	commit(b);
	size_t len;
	uint8_t *out = enc(b, &len);
	/* 01 01 "s" "String", then VarUInt 65536 = 80 80 04 and the bytes. */
	static const uint8_t head[] = {0x01, 0x01, 0x01, 's',  0x06, 'S',  't',
				       'r',  'i',  'n',  'g', 0x80, 0x80, 0x04};
	cr_assert_eq(len, sizeof(head) + big);
	cr_assert_eq(memcmp(out, head, sizeof(head)), 0);
	cr_assert_eq(memcmp(out + sizeof(head), x, big), 0);
	/* A second one does not fit in the column's bytes_max: -ENOSPC, nothing changes. */
	cr_assert_eq(native_append_str(b, 0, x, big), -ENOSPC);
	cr_assert_eq(native_block_encoded_size(b), len);
	free(out);
	free(x);
	native_block_destroy(b);
}

Test(native, fixed_string)
{
	const struct native_column_spec s[] = {{.name = "fs", .type = "FixedString(4)"}};
	struct native_block *b = mk(s, 1, 4, 64);
	ok(native_append_str(b, 0, "", 0));
	commit(b);
	/* Padding must be zeros even where an earlier value of the same row was longer. */
	ok(native_append_str(b, 0, "zzzz", 4));
	ok(native_append_str(b, 0, "ab", 2));
	commit(b);
	ok(native_append_str(b, 0, "abcd", 4));
	commit(b);
	cr_assert_eq(native_append_str(b, 0, "abcde", 5), -ERANGE);
	expect_enc(b, "01030266730e4669786564537472696e67283429000000006162000061626364");
	native_block_destroy(b);
}

Test(native, nullable)
{
	const struct native_column_spec s[] = {
		{.name = "n", .type = "Nullable(UInt64)"},
		{.name = "s", .type = "Nullable(String)"},
		{.name = "fs", .type = "Nullable(FixedString(2))"},
		{.name = "f", .type = "Nullable(Float64)"},
	};
	struct native_block *b = mk(s, 4, 4, 64);
	for (uint32_t c = 0; c < 4; c++)
		ok(native_append_null(b, c));
	commit(b);
	ok(native_append_u64(b, 0, 7));
	ok(native_append_str(b, 1, "ab", 2));
	ok(native_append_str(b, 2, "xy", 2));
	ok(native_append_f64(b, 3, 2.5));
	commit(b);
	ok(native_append_u64(b, 0, 0));
	ok(native_append_str(b, 1, "", 0));
	ok(native_append_str(b, 2, "", 0));
	ok(native_append_f64(b, 3, 0));
	commit(b);
	expect_enc(b,
		   "0403016e104e756c6c61626c652855496e74363429010000000000000000000007000000000000"
		   "0000000000000000000173104e756c6c61626c6528537472696e67290100000002616200026673"
		   "184e756c6c61626c65284669786564537472696e67283229290100000000787900000166114e75"
		   "6c6c61626c6528466c6f6174363429010000000000000000000000000000000004400000000000"
		   "000000");
	native_block_destroy(b);
}

/* ---- LowCardinality ------------------------------------------------------------------------ */

/* ClickHouse: CAST(s AS LowCardinality(String)) over 'z', 'x', 'z', '', ''. */
static const char lc_zxz[] = "01050163164c6f7743617264696e616c69747928537472696e67290100000000000000"
			     "0006000000000000030000000000000000017a0178050000000000000001020100"
			     "00";
/* ClickHouse: CAST(s AS LowCardinality(Nullable(String))) over 'p', NULL, '', 'q', 'p'. */
static const char lcn_pnqp[] = "01050163204c6f7743617264696e616c697479284e756c6c61626c652853747269"
			       "6e67292901000000000000000006000000000000040000000000000000000170"
			       "017105000000000000000200010302";

Test(native, low_cardinality_local)
{
	const struct native_column_spec s[] = {{.name = "c", .type = "LowCardinality(String)"}};
	struct native_block *b = mk(s, 1, 8, 256);
	const char *v[] = {"z", "x", "z", "", ""};
	for (int i = 0; i < 5; i++) {
		ok(native_append_str(b, 0, v[i], strlen(v[i])));
		commit(b);
	}
	expect_enc(b, lc_zxz);
	/* After a reset the block encodes the same rows to the same bytes. */
	native_block_reset(b);
	for (int i = 0; i < 5; i++) {
		ok(native_append_str(b, 0, v[i], strlen(v[i])));
		commit(b);
	}
	expect_enc(b, lc_zxz);
	native_block_destroy(b);
}

Test(native, low_cardinality_external)
{
	const struct native_column_spec s[] = {{.name = "c",
						.type = "LowCardinality(String)",
						.dict_mode = NATIVE_DICT_EXTERNAL,
						.dict_keys_max = 8}};
	const struct native_str dict[] = {{"", 0}, {"x", 1}, {"y", 1}, {"z", 1}, {"", 0}};
	struct native_block *b = mk(s, 1, 8, 0);
	cr_assert_eq(native_append_code(b, 0, 0), -ERANGE, "no dictionary yet");
	ok(native_block_set_dict(b, 0, dict, 5));
	const uint32_t codes[] = {3, 1, 3, 0, 4};
	for (int i = 0; i < 5; i++) {
		ok(native_append_code(b, 0, codes[i]));
		commit(b);
	}
	cr_assert_eq(native_append_code(b, 0, 5), -ERANGE);
	cr_assert_eq(native_append_str(b, 0, "x", 1), -EINVAL);
	cr_assert_eq(native_append_null(b, 0), -EINVAL);
	cr_assert_eq(native_block_set_dict(b, 0, dict, 5), -EBUSY);
	size_t len;
	uint8_t *out = enc(b, &len);
	/* Only the used keys, in order of first appearance: the same bytes as ClickHouse. */
	expect_hex(out, len, lc_zxz);
	free(out);
	native_block_reset(b);
	cr_assert_eq(native_block_set_dict(b, 0, dict, 9), -ERANGE);
	native_block_destroy(b);
}

/* A dictionary that grows in place (a live dimension's) lends its new entries to a block that
 * already holds rows; the rows before keep their keys. */
Test(native, low_cardinality_external_grows)
{
	const struct native_column_spec s[] = {{.name = "c",
						.type = "LowCardinality(String)",
						.dict_mode = NATIVE_DICT_EXTERNAL,
						.dict_keys_max = 8}};
	struct native_str dict[8] = {{"", 0}, {"x", 1}, {"", 0}};
	struct native_block *b = mk(s, 1, 8, 0);
	ok(native_block_set_dict(b, 0, dict, 3));
	size_t max_before = native_block_encoded_max(b);
	ok(native_append_code(b, 0, 0)); /* the default key */
	commit(b);
	cr_assert_eq(native_append_code(b, 0, 3), -ERANGE, "not in the dictionary yet");
	dict[3] = (struct native_str){"z", 1};
	ok(native_block_grow_dict(b, 0, dict, 4));
	cr_assert_gt(native_block_encoded_max(b), max_before, "the bound counts the new key");
	ok(native_append_code(b, 0, 3));
	commit(b);
	ok(native_append_code(b, 0, 1));
	commit(b);
	ok(native_append_code(b, 0, 2));
	commit(b);
	ok(native_append_code(b, 0, 3));
	commit(b);
	/* As low_cardinality_external's z, x, z, '', '' but in another order: keys "", z, x. */
	size_t len;
	uint8_t *out = enc(b, &len);
	const uint8_t idx[] = {0, 1, 2, 0, 1};
	cr_assert_eq(memcmp(out + len - 5, idx, 5), 0, "indexes into '', z, x");
	free(out);
	cr_assert_eq(native_block_grow_dict(b, 0, dict, 3), -EINVAL, "fewer keys");
	cr_assert_eq(native_block_grow_dict(b, 0, dict + 1, 4), -EINVAL, "another array");
	cr_assert_eq(native_block_grow_dict(b, 0, dict, 9), -ERANGE);
	ok(native_block_grow_dict(b, 0, dict, 4));
	native_block_destroy(b);
}

Test(native, low_cardinality_nullable_both_modes)
{
	const struct native_column_spec s[] = {
		{.name = "c", .type = "LowCardinality(Nullable(String))"},
	};
	const struct native_column_spec e[] = {{.name = "c",
						.type = "LowCardinality(Nullable(String))",
						.dict_mode = NATIVE_DICT_EXTERNAL,
						.dict_keys_max = 4}};
	struct native_block *b = mk(s, 1, 8, 256);
	ok(native_append_str(b, 0, "p", 1));
	commit(b);
	ok(native_append_null(b, 0));
	commit(b);
	ok(native_append_str(b, 0, "", 0));
	commit(b);
	ok(native_append_str(b, 0, "q", 1));
	commit(b);
	ok(native_append_str(b, 0, "p", 1));
	commit(b);
	expect_enc(b, lcn_pnqp);
	native_block_destroy(b);

	/* Code 0 is NULL whatever the dictionary holds there. */
	const struct native_str dict[] = {{"ignored", 7}, {"", 0}, {"p", 1}, {"q", 1}};
	b = mk(e, 1, 8, 0);
	ok(native_block_set_dict(b, 0, dict, 4));
	const uint32_t codes[] = {2, 0, 1, 3, 2};
	for (int i = 0; i < 5; i++) {
		ok(native_append_code(b, 0, codes[i]));
		commit(b);
	}
	expect_enc(b, lcn_pnqp);
	native_block_destroy(b);
}

/* Encodes n rows of distinct non-empty keys in the given mode; returns the index type. */
static uint64_t lc_index_type(uint32_t n, bool external)
{
	struct native_column_spec s = {.name = "c", .type = "LowCardinality(String)"};
	if (external) {
		s.dict_mode = NATIVE_DICT_EXTERNAL;
		s.dict_keys_max = n;
	}
	struct native_block *b = mk(&s, 1, n, (size_t)n * 8 + 16);
	char (*keys)[8] = malloc((size_t)n * sizeof(*keys));
	struct native_str *dict = malloc((size_t)n * sizeof(*dict));
	cr_assert(keys && dict);
	for (uint32_t i = 0; i < n; i++) {
		int kl = snprintf(keys[i], sizeof(keys[i]), "%u", i + 1);
		dict[i] = (struct native_str){keys[i], (uint32_t)kl};
	}
	if (external)
		ok(native_block_set_dict(b, 0, dict, n));
	for (uint32_t i = 0; i < n; i++) {
		ok(external ? native_append_code(b, 0, i)
			    : native_append_str(b, 0, dict[i].ptr, dict[i].len));
		commit(b);
	}
	size_t len;
	uint8_t *out = enc(b, &len);
	/* header: 01, VarUInt rows, 01 'c', 16 "LowCardinality(String)", version */
	size_t at = 1 + native_varuint_size(n) + 2 + 1 + 22 + 8;
	uint64_t type, nkeys;
	memcpy(&type, out + at, 8);
	memcpy(&nkeys, out + at + 8, 8);
	cr_assert_eq(nkeys, (uint64_t)n + 1, "keys: the default and the n distinct ones");
	/* Keys follow in order of first appearance: "", "1", "2", ... */
	cr_assert_eq(out[at + 16], 0);
	cr_assert_eq(out[at + 17], 1);
	cr_assert_eq(out[at + 18], '1');
	free(out);
	free(dict);
	free(keys);
	native_block_destroy(b);
	return type;
}

Test(native, low_cardinality_index_width)
{
	/* ClickHouse: 255 keys -> UInt8, 256 -> UInt16, 65535 -> UInt16, 65536 -> UInt32. */
	for (int external = 0; external < 2; external++) {
		cr_assert_eq(lc_index_type(254, external), 0x600);
		cr_assert_eq(lc_index_type(255, external), 0x601);
		cr_assert_eq(lc_index_type(65534, external), 0x601);
		cr_assert_eq(lc_index_type(65535, external), 0x602);
	}
}

Test(native, low_cardinality_local_limits)
{
	const struct native_column_spec s[] = {
		{.name = "c", .type = "LowCardinality(String)", .dict_keys_max = 2, .bytes_max = 16},
	};
	struct native_block *b = mk(s, 1, 16, 0);
	ok(native_append_str(b, 0, "a", 1));
	commit(b);
	ok(native_append_str(b, 0, "b", 1));
	commit(b);
	ok(native_append_str(b, 0, "a", 1));
	commit(b);
	ok(native_append_str(b, 0, "", 0)); /* the default key is always there */
	commit(b);
	cr_assert_eq(native_append_str(b, 0, "c", 1), -ENOSPC, "dict_keys_max reached");
	native_block_reset(b);
	/* 1 default byte + (1 + 14) bytes = 16: fits; then nothing more does. */
	ok(native_append_str(b, 0, "abcdefghijklmn", 14));
	commit(b);
	native_block_reset(b);
	ok(native_append_str(b, 0, "a", 1));
	cr_assert_eq(native_append_str(b, 0, "abcdefghijklmn", 14), -ENOSPC, "bytes_max reached");
	native_block_destroy(b);
}

/* ---- row protocol, capacity ---------------------------------------------------------------- */

Test(native, capacity_full)
{
	const struct native_column_spec s[] = {
		{.name = "n", .type = "UInt32"},
		{.name = "s", .type = "String"},
	};
	struct native_block *b = mk(s, 2, 2, 64);
	for (uint32_t i = 0; i < 2; i++) {
		cr_assert(!native_block_full(b));
		ok(native_append_u64(b, 0, i));
		ok(native_append_str(b, 1, "v", 1));
		commit(b);
	}
	cr_assert(native_block_full(b));
	cr_assert_eq(native_append_u64(b, 0, 9), -ENOSPC);
	cr_assert_eq(native_append_str(b, 1, "v", 1), -ENOSPC);
	cr_assert_eq(native_block_rows(b), 2);
	size_t len;
	uint8_t *full = enc(b, &len);
	cr_assert_eq(native_block_encode(b, full, len - 1, &len), -ENOBUFS);
	free(full);
	native_block_reset(b);
	cr_assert(!native_block_full(b));
	cr_assert_eq(native_block_rows(b), 0);
	ok(native_append_u64(b, 0, 1));
	native_block_destroy(b);
}

Test(native, row_protocol)
{
	const struct native_column_spec s[] = {
		{.name = "n", .type = "UInt8"},
		{.name = "s", .type = "String"},
	};
	struct native_block *b = mk(s, 2, 8, 64);
	/* A missing column keeps the row pending. */
	ok(native_append_u64(b, 0, 1));
	cr_assert_eq(native_block_commit_row(b), -EINVAL);
	/* Appending a column again replaces its value. */
	ok(native_append_str(b, 1, "first", 5));
	ok(native_append_str(b, 1, "ab", 2));
	ok(native_append_u64(b, 0, 2));
	commit(b);
	/* A rolled-back row leaves nothing behind. */
	ok(native_append_u64(b, 0, 3));
	ok(native_append_str(b, 1, "dropped", 7));
	native_block_rollback_row(b);
	cr_assert_eq(native_block_commit_row(b), -EINVAL, "nothing pending after a rollback");
	/* A pending row is not encoded. */
	ok(native_append_u64(b, 0, 4));
	ok(native_append_str(b, 1, "pending", 7));
	expect_enc(b, "0201016e0555496e743802"
			     "017306537472696e67026162");
	native_block_destroy(b);
}

/*
 * Column-wise appends give the same bytes as appending the same rows one at a time: every
 * column kind the worker writes (integers, floats, strings, Nullable ones, external-dictionary
 * LowCardinality with NULL), in several calls so rows follow committed ones.
 */
Test(native, rows_match_row_by_row)
{
	const struct native_column_spec s[] = {
		{.name = "i", .type = "Int64"},
		{.name = "u", .type = "UInt16"},
		{.name = "f", .type = "Float32"},
		{.name = "s", .type = "String"},
		{.name = "ns", .type = "Nullable(String)"},
		{.name = "nu", .type = "Nullable(UInt32)"},
		{.name = "c", .type = "LowCardinality(Nullable(String))",
		 .dict_mode = NATIVE_DICT_EXTERNAL, .dict_keys_max = 8},
		{.name = "d", .type = "Date"},
	};
	const struct native_str dict[] = {{"", 0}, {"x", 1}, {"", 0}, {"yy", 2}};
	enum { N = 300 };
	int64_t iv[N];
	uint64_t uv[N], nuv[N], dv[N];
	double fv[N];
	uint32_t cv[N];
	uint8_t nulls[N], snulls[N];
	struct native_str sv[N], nsv[N];
	char long_str[200];
	memset(long_str, 'q', sizeof(long_str));
	for (uint32_t i = 0; i < N; i++) {
		iv[i] = (int64_t)i * 1000003 - 150000000;
		uv[i] = (i * 7919u) & 0xffff;
		fv[i] = (double)i / 3.0;
		/* Lengths 0..199: VarUInt lengths of one and two bytes. */
		sv[i] = (struct native_str){long_str, i % 200};
		snulls[i] = i % 3 == 0;
		nsv[i] = (struct native_str){"abc", i % 4};
		nulls[i] = i % 5 == 0;
		nuv[i] = nulls[i] ? 0 : i * 11u;
		cv[i] = i % 4;
		dv[i] = 19000 + i;
	}
	struct native_block *one = mk(s, 8, 512, 1 << 20), *many = mk(s, 8, 512, 1 << 20);
	ok(native_block_set_dict(one, 6, dict, 4));
	ok(native_block_set_dict(many, 6, dict, 4));
	for (uint32_t i = 0; i < N; i++) {
		ok(native_append_i64(one, 0, iv[i]));
		ok(native_append_u64(one, 1, uv[i]));
		ok(native_append_f64(one, 2, fv[i]));
		ok(native_append_str(one, 3, sv[i].ptr, sv[i].len));
		ok(snulls[i] ? native_append_null(one, 4)
			     : native_append_str(one, 4, nsv[i].ptr, nsv[i].len));
		ok(nulls[i] ? native_append_null(one, 5) : native_append_u64(one, 5, nuv[i]));
		ok(native_append_code(one, 6, cv[i]));
		ok(native_append_u64(one, 7, dv[i]));
		commit(one);
	}
	const uint32_t parts[] = {1, 99, 200};
	for (uint32_t p = 0, at = 0; p < 3; at += parts[p], p++) {
		ok(native_rows_begin(many, parts[p]));
		ok(native_rows_i64(many, 0, iv + at, NULL));
		ok(native_rows_u64(many, 1, uv + at, NULL));
		ok(native_rows_f64(many, 2, fv + at, NULL));
		ok(native_rows_str(many, 3, sv + at, NULL));
		ok(native_rows_str(many, 4, nsv + at, snulls + at));
		ok(native_rows_u64(many, 5, nuv + at, nulls + at));
		ok(native_rows_code(many, 6, cv + at));
		ok(native_rows_u64(many, 7, dv + at, NULL));
		ok(native_rows_commit(many));
	}
	cr_assert_eq(native_block_rows(many), N);
	size_t len1, len2;
	uint8_t *a = enc(one, &len1), *b = enc(many, &len2);
	expect_bytes(b, len2, a, len1);
	free(a);
	free(b);
	native_block_destroy(one);
	native_block_destroy(many);
}

/* 16 bytes of a UUID in RFC 4122 order, from its 32 hex digits (dashes skipped). */
static void uuid_bytes(const char *text, uint8_t out[16])
{
	for (size_t i = 0, o = 0; text[i] && o < 16; i++) {
		if (text[i] == '-')
			continue;
		unsigned v;
		cr_assert_eq(sscanf(text + i, "%2x", &v), 1);
		out[o++] = (uint8_t)v;
		i++;
	}
}

/*
 * The column types the declared event fields added, filled column-wise, equal ClickHouse's
 * FORMAT Native of the same rows:
 *   SELECT * FROM values('u UUID, ip6 IPv6, fs FixedString(4), lc LowCardinality(String),
 *     lcn LowCardinality(Nullable(String)), nu Nullable(UUID), n6 Nullable(IPv6), a Array(String),
 *     ai Array(Int64), a8 Array(Int8), a16 Array(Int16), a32 Array(Int32)', <the rows below>)
 */
Test(native, rows_uuid_ipv6_fixed_lc_arrays)
{
	const struct native_column_spec s[] = {
		{.name = "u", .type = "UUID"},
		{.name = "ip6", .type = "IPv6"},
		{.name = "fs", .type = "FixedString(4)"},
		{.name = "lc", .type = "LowCardinality(String)"},
		{.name = "lcn", .type = "LowCardinality(Nullable(String))"},
		{.name = "nu", .type = "Nullable(UUID)"},
		{.name = "n6", .type = "Nullable(IPv6)"},
		{.name = "a", .type = "Array(String)"},
		{.name = "ai", .type = "Array(Int64)"},
		{.name = "a8", .type = "Array(Int8)"},
		{.name = "a16", .type = "Array(Int16)"},
		{.name = "a32", .type = "Array(Int32)"},
	};
	struct native_block *b = mk(s, 12, 8, 4096);
	uint8_t u[3][16], nu[3][16] = {{0}};
	uuid_bytes("01234567-89ab-cdef-0123-456789abcdef", u[0]);
	uuid_bytes("00000000-0000-0000-0000-000000000000", u[1]);
	uuid_bytes("123e4567-e89b-12d3-a456-426614174000", u[2]);
	uuid_bytes("ffffffff-ffff-ffff-ffff-fffffffffffe", nu[1]);
	uuid_bytes("123e4567-e89b-12d3-a456-426614174000", nu[2]);
	static const uint8_t ip[3][16] = {
		{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0},
		{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2},
	};
	static const uint8_t nip[3][16] = {
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4},
		{0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	};
	const struct native_str uv[3] = {{(char *)u[0], 16}, {(char *)u[1], 16}, {(char *)u[2], 16}};
	const struct native_str nuv[3] = {{NULL, 0}, {(char *)nu[1], 16}, {(char *)nu[2], 16}};
	const struct native_str ipv[3] = {{(const char *)ip[0], 16}, {(const char *)ip[1], 16},
					  {(const char *)ip[2], 16}};
	const struct native_str nipv[3] = {{(const char *)nip[0], 16}, {NULL, 0},
					   {(const char *)nip[2], 16}};
	const struct native_str fsv[3] = {{"ab", 2}, {"abcd", 4}, {"", 0}};
	const struct native_str lcv[3] = {{"x", 1}, {"", 0}, {"x", 1}};
	const struct native_str lcnv[3] = {{NULL, 0}, {"y", 1}, {"y", 1}};
	const uint8_t lcn_null[3] = {1, 0, 0}, nu_null[3] = {1, 0, 0}, n6_null[3] = {0, 1, 0};
	const struct native_str a0[2] = {{"a", 1}, {"bc", 2}}, a2[1] = {{"", 0}};
	const struct native_array av[3] = {{a0, 2}, {NULL, 0}, {a2, 1}};
	const int64_t i0[2] = {1, -2}, i2[2] = {INT64_MAX, INT64_MIN};
	const struct native_array aiv[3] = {{i0, 2}, {NULL, 0}, {i2, 2}};
	const int64_t e8a[2] = {-128, 127}, e8c[1] = {0};
	const struct native_array a8v[3] = {{e8a, 2}, {NULL, 0}, {e8c, 1}};
	const int64_t e16a[1] = {-32768}, e16c[2] = {1, 2};
	const struct native_array a16v[3] = {{e16a, 1}, {NULL, 0}, {e16c, 2}};
	const int64_t e32a[1] = {2147483647}, e32c[1] = {-1};
	const struct native_array a32v[3] = {{e32a, 1}, {NULL, 0}, {e32c, 1}};
	/* One row, then two: the offsets go on from the committed rows. */
	for (uint32_t at = 0, n = 1; at < 3; at += n, n = 2) {
		ok(native_rows_begin(b, n));
		ok(native_rows_str(b, 0, uv + at, NULL));
		ok(native_rows_str(b, 1, ipv + at, NULL));
		ok(native_rows_str(b, 2, fsv + at, NULL));
		ok(native_rows_str(b, 3, lcv + at, NULL));
		ok(native_rows_str(b, 4, lcnv + at, lcn_null + at));
		ok(native_rows_str(b, 5, nuv + at, nu_null + at));
		ok(native_rows_str(b, 6, nipv + at, n6_null + at));
		ok(native_rows_array(b, 7, av + at));
		ok(native_rows_array(b, 8, aiv + at));
		ok(native_rows_array(b, 9, a8v + at));
		ok(native_rows_array(b, 10, a16v + at));
		ok(native_rows_array(b, 11, a32v + at));
		ok(native_rows_commit(b));
	}
	expect_enc(b,
		   "0c0301750455554944efcdab8967452301efcdab896745230100000000000000000000000000000000d3"
		   "129be867453e1200401714664256a403697036044950763620010db80000000000000000000000010000"
		   "0000000000000000000000000000fe8000000000000000000000000100020266730e4669786564537472"
		   "696e67283429616200006162636400000000026c63164c6f7743617264696e616c69747928537472696e"
		   "67290100000000000000000600000000000002000000000000000001780300000000000000010001036c"
		   "636e204c6f7743617264696e616c697479284e756c6c61626c6528537472696e67292901000000000000"
		   "0000060000000000000300000000000000000001790300000000000000000202026e750e4e756c6c6162"
		   "6c6528555549442901000000000000000000000000000000000000fffffffffffffffffeffffffffffff"
		   "ffd3129be867453e1200401714664256a4026e360e4e756c6c61626c6528495076362900010000000000"
		   "000000000000ffff01020304000000000000000000000000000000000000000000000000000000000000"
		   "000101610d417272617928537472696e6729020000000000000002000000000000000300000000000000"
		   "0161026263000261690c417272617928496e743634290200000000000000020000000000000004000000"
		   "000000000100000000000000feffffffffffffffffffffffffffff7f00000000000000800261380b4172"
		   "72617928496e743829020000000000000002000000000000000300000000000000807f00036131360c41"
		   "7272617928496e7431362901000000000000000100000000000000030000000000000000800100020003"
		   "6133320c417272617928496e74333229010000000000000001000000000000000200000000000000ffff"
		   "ff7fffffffff");
	native_block_destroy(b);
}

/* Errors of the new column kinds leave the pending rows' values unset. */
Test(native, rows_uuid_ipv6_arrays_errors)
{
	const struct native_column_spec s[] = {
		{.name = "u", .type = "UUID"},
		{.name = "fs", .type = "FixedString(2)"},
		{.name = "a8", .type = "Array(Int8)"},
		{.name = "a", .type = "Array(String)", .bytes_max = 8},
		{.name = "n", .type = "UInt8"},
	};
	struct native_block *b = mk(s, 5, 4, 4096);
	const struct native_str short_uuid = {"0123456789", 10}, long_fs = {"abc", 3};
	const int64_t big[1] = {128};
	const struct native_array over = {big, 1};
	const struct native_str long_el[1] = {{"abcdefgh", 8}};
	const struct native_array too_long = {long_el, 1};
	cr_assert_eq(native_rows_array(b, 2, &over), -EINVAL, "no rows pending");
	ok(native_rows_begin(b, 1));
	cr_assert_eq(native_rows_str(b, 0, &short_uuid, NULL), -ERANGE);
	cr_assert_eq(native_rows_str(b, 1, &long_fs, NULL), -ERANGE);
	cr_assert_eq(native_rows_array(b, 2, &over), -ERANGE);
	cr_assert_eq(native_rows_array(b, 3, &too_long), -ENOSPC);
	cr_assert_eq(native_rows_array(b, 4, &over), -EINVAL, "not an Array column");
	cr_assert_eq(native_rows_commit(b), -EINVAL, "columns left unset");
	native_block_rollback_row(b);
	cr_assert_eq(native_block_rows(b), 0);
	cr_assert_eq(native_append_str(b, 3, "x", 1), -EINVAL, "Arrays are column-wise only");
	native_block_destroy(b);
}

/*
 * The number, date and Nullable types of declared fields, filled column-wise, equal ClickHouse's
 * FORMAT Native of the same rows (SELECT * FROM values('i8 Int8, i16 Int16, i32 Int32, u8 UInt8,
 * u16 UInt16, u32 UInt32, f32 Float32, b Bool, d Date, dt DateTime, t6 DateTime64(6, 'UTC'),
 * ni8 Nullable(Int8), nu16 Nullable(UInt16), nf32 Nullable(Float32), nb Nullable(Bool),
 * nd Nullable(Date), ndt Nullable(DateTime), nt6 Nullable(DateTime64(6, 'UTC'))', ...)).
 */
Test(native, rows_numbers_dates_nullable)
{
	const struct native_column_spec s[] = {
		{.name = "i8", .type = "Int8"},
		{.name = "i16", .type = "Int16"},
		{.name = "i32", .type = "Int32"},
		{.name = "u8", .type = "UInt8"},
		{.name = "u16", .type = "UInt16"},
		{.name = "u32", .type = "UInt32"},
		{.name = "f32", .type = "Float32"},
		{.name = "b", .type = "Bool"},
		{.name = "d", .type = "Date"},
		{.name = "dt", .type = "DateTime"},
		{.name = "t6", .type = "DateTime64(6, 'UTC')"},
		{.name = "ni8", .type = "Nullable(Int8)"},
		{.name = "nu16", .type = "Nullable(UInt16)"},
		{.name = "nf32", .type = "Nullable(Float32)"},
		{.name = "nb", .type = "Nullable(Bool)"},
		{.name = "nd", .type = "Nullable(Date)"},
		{.name = "ndt", .type = "Nullable(DateTime)"},
		{.name = "nt6", .type = "Nullable(DateTime64(6, 'UTC'))"},
	};
	struct native_block *b = mk(s, 18, 4, 4096);
	const int64_t i8[2] = {-128, 127}, i16[2] = {-32768, 32767},
		      i32[2] = {INT32_MIN, INT32_MAX}, t6[2] = {1700000000123456, 0},
		      ni8[2] = {0, -1}, nt6[2] = {5, 0};
	const uint64_t u8[2] = {255, 0}, u16[2] = {65535, 0}, u32[2] = {UINT32_MAX, 0},
		       bv[2] = {1, 0}, d[2] = {20000, 0}, dt[2] = {1700000000, 0}, nu16[2] = {7, 0},
		       nb[2] = {0, 0}, nd[2] = {1, 0}, ndt[2] = {0, UINT32_MAX};
	const double f32[2] = {1.5, -0.25}, nf32[2] = {0, 3.25};
	const uint8_t null_first[2] = {1, 0}, null_second[2] = {0, 1};
	ok(native_rows_begin(b, 2));
	ok(native_rows_i64(b, 0, i8, NULL));
	ok(native_rows_i64(b, 1, i16, NULL));
	ok(native_rows_i64(b, 2, i32, NULL));
	ok(native_rows_u64(b, 3, u8, NULL));
	ok(native_rows_u64(b, 4, u16, NULL));
	ok(native_rows_u64(b, 5, u32, NULL));
	ok(native_rows_f64(b, 6, f32, NULL));
	ok(native_rows_u64(b, 7, bv, NULL));
	ok(native_rows_u64(b, 8, d, NULL));
	ok(native_rows_u64(b, 9, dt, NULL));
	ok(native_rows_i64(b, 10, t6, NULL));
	ok(native_rows_i64(b, 11, ni8, null_first));
	ok(native_rows_u64(b, 12, nu16, null_second));
	ok(native_rows_f64(b, 13, nf32, null_first));
	ok(native_rows_u64(b, 14, nb, null_second));
	ok(native_rows_u64(b, 15, nd, null_second));
	ok(native_rows_u64(b, 16, ndt, null_first));
	ok(native_rows_i64(b, 17, nt6, null_second));
	ok(native_rows_commit(b));
	expect_enc(b,
		   "120202693804496e7438807f0369313605496e7431360080ff7f0369333205496e74333200000080ffff"
		   "ff7f0275380555496e7438ff00037531360655496e743136ffff0000037533320655496e743332ffffff"
		   "ff000000000366333207466c6f617433320000c03f000080be016204426f6f6c01000164044461746520"
		   "4e0000026474084461746554696d6500f1536500000000027436144461746554696d65363428362c2027"
		   "555443272940222018240a06000000000000000000036e69380e4e756c6c61626c6528496e7438290100"
		   "00ff046e753136104e756c6c61626c652855496e74313629000107000000046e663332114e756c6c6162"
		   "6c6528466c6f617433322901000000000000005040026e620e4e756c6c61626c6528426f6f6c29000100"
		   "00026e640e4e756c6c61626c65284461746529000101000000036e6474124e756c6c61626c6528446174"
		   "6554696d6529010000000000ffffffff036e74361e4e756c6c61626c65284461746554696d6536342836"
		   "2c2027555443272929000105000000000000000000000000000000");
	native_block_destroy(b);
}

/* Errors leave the block as it was; a failed batch rolls back like a failed row. */
Test(native, rows_protocol_and_errors)
{
	const struct native_column_spec s[] = {
		{.name = "n", .type = "UInt8"},
		{.name = "s", .type = "String"},
	};
	struct native_block *b = mk(s, 2, 8, 16);
	const uint64_t small[] = {1, 2, 3}, big[] = {1, 256, 3}, sevens[] = {7, 7, 7};
	const int64_t neg[] = {1, -1, 3};
	const double fl[] = {1, 2, 3};
	const uint32_t codes[] = {0, 0, 0};
	const struct native_str strs[] = {{"ab", 2}, {"cd", 2}, {"ef", 2}};
	const struct native_str fat[] = {{"0123456789", 10}, {"0123456789", 10}, {"x", 1}};
	cr_assert_eq(native_rows_u64(b, 0, small, NULL), -EINVAL, "no rows begun");
	cr_assert_eq(native_rows_begin(b, 0), -EINVAL);
	cr_assert_eq(native_rows_begin(b, 9), -ENOSPC);
	ok(native_rows_begin(b, 3));
	cr_assert_eq(native_rows_begin(b, 1), -EINVAL, "rows already pending");
	cr_assert_eq(native_block_commit_row(b), -EINVAL, "rows, not a row, are pending");
	cr_assert_eq(native_rows_u64(b, 0, big, NULL), -ERANGE);
	cr_assert_eq(native_rows_i64(b, 0, neg, NULL), -ERANGE);
	cr_assert_eq(native_rows_f64(b, 0, fl, NULL), -EINVAL);
	cr_assert_eq(native_rows_u64(b, 0, small, (const uint8_t *)"\0\0\0"), -EINVAL,
		     "not Nullable");
	cr_assert_eq(native_rows_code(b, 0, codes), -EINVAL);
	cr_assert_eq(native_rows_str(b, 0, strs, NULL), -EINVAL);
	cr_assert_eq(native_rows_u64(b, 2, small, NULL), -EINVAL);
	cr_assert_eq(native_rows_str(b, 1, fat, NULL), -ENOSPC, "22 bytes in a 16-byte column");
	ok(native_rows_u64(b, 0, small, NULL));
	cr_assert_eq(native_rows_commit(b), -EINVAL, "column s missing");
	ok(native_rows_str(b, 1, strs, NULL));
	native_block_rollback_row(b);
	cr_assert_eq(native_rows_commit(b), -EINVAL, "nothing pending after a rollback");
	cr_assert_eq(native_block_rows(b), 0);
	/* A value given twice replaces the first, strings included. */
	ok(native_rows_begin(b, 3));
	ok(native_rows_u64(b, 0, sevens, NULL));
	ok(native_rows_u64(b, 0, small, NULL));
	ok(native_rows_str(b, 1, strs, NULL));
	cr_assert_eq(native_rows_str(b, 1, fat, NULL), -ENOSPC, "the earlier value stays");
	ok(native_rows_str(b, 1, strs, NULL));
	ok(native_rows_commit(b));
	ok(native_append_u64(b, 0, 4));
	ok(native_append_str(b, 1, "g", 1));
	commit(b);
	cr_assert_eq(native_block_free_rows(b), 4);
	expect_enc(b, "0204016e0555496e74380102030401730653747269"
			     "6e670261620263640265660167");
	native_block_destroy(b);
}

Test(native, empty_block)
{
	const struct native_column_spec s[] = {
		{.name = "a", .type = "String"},
		{.name = "c", .type = "LowCardinality(String)"},
	};
	struct native_block *b = mk(s, 2, 8, 64);
	size_t len;
	uint8_t *out = enc(b, &len);
	/* No data at all for 0 rows, as ClickHouse writes (and reads) it. */
	expect_hex(out, len, "0200016106537472696e670163164c6f7743617264696e616c69747928537472696e6729");
	free(out);
	native_block_destroy(b);
}

Test(native, bad_schemas)
{
	struct native_block *b = NULL;
	const struct native_column_spec bad_type[] = {{.name = "a", .type = "Array(Array(String))"}};
	cr_assert_eq(native_block_init(&b, bad_type, 1, 8, 64), -EINVAL);
	const struct native_column_spec dup[] = {{.name = "a", .type = "UInt8"},
						 {.name = "a", .type = "UInt16"}};
	cr_assert_eq(native_block_init(&b, dup, 2, 8, 64), -EINVAL);
	const struct native_column_spec lc_u64[] = {{.name = "a", .type = "LowCardinality(UInt64)"}};
	cr_assert_eq(native_block_init(&b, lc_u64, 1, 8, 64), -EINVAL);
	const struct native_column_spec ext0[] = {{.name = "a",
						   .type = "LowCardinality(String)",
						   .dict_mode = NATIVE_DICT_EXTERNAL}};
	cr_assert_eq(native_block_init(&b, ext0, 1, 8, 64), -EINVAL);
	const struct native_column_spec str[] = {{.name = "a", .type = "String"}};
	cr_assert_eq(native_block_init(&b, str, 1, 0, 64), -EINVAL);
	cr_assert_eq(native_block_init(&b, str, 1, 8, 0), -EINVAL, "String needs bytes");
	cr_assert_null(b);
}

/* ---- type names ---------------------------------------------------------------------------- */

Test(native, type_names)
{
	static const struct {
		const char *in;
		const char *canonical;
	} ok_names[] = {
		{"UInt8", "UInt8"},
		{"Nullable(UInt64)", "Nullable(UInt64)"},
		{" Nullable ( Int32 ) ", "Nullable(Int32)"},
		{"DateTime64(3,'UTC')", "DateTime64(3, 'UTC')"},
		{"DateTime64(3, 'UTC')", "DateTime64(3, 'UTC')"},
		{"DateTime64(6)", "DateTime64(6)"},
		{"DateTime", "DateTime"},
		{"DateTime('Europe/Paris')", "DateTime('Europe/Paris')"},
		{"FixedString(16)", "FixedString(16)"},
		{"LowCardinality(String)", "LowCardinality(String)"},
		{"LowCardinality(Nullable(String))", "LowCardinality(Nullable(String))"},
		{"Nullable(FixedString(3))", "Nullable(FixedString(3))"},
		{"Bool", "Bool"},
		{"UUID", "UUID"},
	};
	for (size_t i = 0; i < sizeof(ok_names) / sizeof(ok_names[0]); i++) {
		struct chtype t;
		char err[160], name[NATIVE_TYPE_NAME_MAX];
		int rc = native_type_parse(ok_names[i].in, strlen(ok_names[i].in), &t, err,
					   sizeof(err));
		cr_assert_eq(rc, 0, "%s: %s", ok_names[i].in, err);
		cr_assert_gt(chtype_name(&t, name, sizeof(name)), 0);
		cr_assert_str_eq(name, ok_names[i].canonical);
	}
	static const char *const bad[] = {
		"",
		"UInt128",
		"Array(String)",
		"Nullable(Nullable(UInt8))",
		"Nullable(LowCardinality(String))",
		"LowCardinality(UUID)",
		"FixedString(0)",
		"FixedString",
		"DateTime64(10)",
		"DateTime64(3, UTC)",
		"String)",
		"Nullable(String",
		"string",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct chtype t;
		char err[160];
		cr_assert_eq(native_type_parse(bad[i], strlen(bad[i]), &t, err, sizeof(err)),
			     -EINVAL, "'%s' accepted", bad[i]);
		cr_assert_neq(err[0], '\0', "no reason given for '%s'", bad[i]);
	}
	struct chtype t;
	char err[160];
	native_type_parse("Map(String, UInt8)", 18, &t, err, sizeof(err));
	cr_assert(strstr(err, "unsupported type 'Map'") != NULL, "message: %s", err);
}

/* ---- reader -------------------------------------------------------------------------------- */

struct decoded {
	struct native_reader *r;
	struct native_rd_block blk;
	uint8_t *buf;
	size_t len;
};

static void decode_one(struct decoded *d, uint8_t *buf, size_t len)
{
	d->buf = buf;
	d->len = len;
	ok(native_reader_init(&d->r));
	size_t off = 0;
	int rc = native_reader_next(d->r, buf, len, &off, &d->blk);
	size_t at;
	const char *msg = native_reader_error(d->r, &at);
	cr_assert_eq(rc, 1, "decode: %d at %zu: %s", rc, at, msg);
	cr_assert_eq(off, len, "block size");
	cr_assert_eq(native_reader_next(d->r, buf, len, &off, &d->blk), 0, "end of input");
}

static const char *text(const struct native_rd_col *c, uint64_t row)
{
	static char buf[512];
	ssize_t n = native_rd_format_text(c, row, buf, sizeof(buf));
	cr_assert(n >= 0 && (size_t)n < sizeof(buf), "format: %zd", n);
	return buf;
}

Test(native, read_clickhouse_bytes)
{
	/* ClickHouse-written blocks decode to the values ClickHouse's TSV prints. */
	struct decoded d;
	size_t len;
	uint8_t *buf = t_hex_decode(
		"0403016e104e756c6c61626c652855496e74363429010000000000000000000007000000000000"
		"0000000000000000000173104e756c6c61626c6528537472696e67290100000002616200026673"
		"184e756c6c61626c65284669786564537472696e67283229290100000000787900000166114e75"
		"6c6c61626c6528466c6f6174363429010000000000000000000000000000000004400000000000"
		"000000",
		&len);
	decode_one(&d, buf, len);
	cr_assert_eq(d.blk.rows, 3);
	cr_assert_eq(d.blk.ncols, 4);
	const char *want[3][4] = {{"\\N", "\\N", "\\N", "\\N"},
				  {"7", "ab", "xy", "2.5"},
				  {"0", "", "\\0\\0", "0"}};
	for (uint64_t r = 0; r < 3; r++)
		for (uint32_t c = 0; c < 4; c++)
			cr_assert_str_eq(text(&d.blk.cols[c], r), want[r][c], "row %llu col %u",
					 (unsigned long long)r, c);
	native_reader_destroy(d.r);
	free(buf);

	buf = t_hex_decode(lcn_pnqp, &len);
	decode_one(&d, buf, len);
	const char *lc[] = {"p", "\\N", "", "q", "p"};
	for (uint64_t r = 0; r < 5; r++)
		cr_assert_str_eq(text(&d.blk.cols[0], r), lc[r]);
	native_reader_destroy(d.r);
	free(buf);

	buf = t_hex_decode("0302016404446174650000ffff026474084461746554696d6500000000ffffffff0374"
			 "3634144461746554696d65363428332c20275554432729ffffffffffffffff7bf451c2"
			 "8c010000",
			 &len);
	decode_one(&d, buf, len);
	const char *dt[2][3] = {
		{"1970-01-01", "1970-01-01 00:00:00", "1969-12-31 23:59:59.999"},
		{"2149-06-06", "2106-02-07 06:28:15", "2024-01-01 00:00:00.123"},
	};
	for (uint64_t r = 0; r < 2; r++)
		for (uint32_t c = 0; c < 3; c++)
			cr_assert_str_eq(text(&d.blk.cols[c], r), dt[r][c]);
	native_reader_destroy(d.r);
	free(buf);
}

Test(native, float_text)
{
	/* What ClickHouse's TSV output prints for these values. */
	static const struct {
		double v;
		const char *f64;
	} cases[] = {
		{1e-7, "1e-7"},
		{1e-6, "0.000001"},
		{1.5e-6, "0.0000015"},
		{0.000123, "0.000123"},
		{1e15, "1000000000000000"},
		{1.2345e16, "12345000000000000"},
		{1e20, "100000000000000000000"},
		{1e21, "1e21"},
		{123456789012345680000.0, "123456789012345680000"},
		{-0.0, "-0"},
		{1.0 / 3, "0.3333333333333333"},
		{5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e308"},
		{NAN, "nan"},
		{-INFINITY, "-inf"},
		{123456.789, "123456.789"},
		{1.25e-100, "1.25e-100"},
	};
	const struct native_column_spec s[] = {{.name = "f", .type = "Float64"},
					       {.name = "g", .type = "Float32"}};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct native_block *b = mk(s, 2, (uint32_t)n, 64);
	for (size_t i = 0; i < n; i++) {
		ok(native_append_f64(b, 0, cases[i].v));
		ok(native_append_f64(b, 1, i == 0 ? 0.1 : i == 1 ? 3.4028235e38 : 16777217));
		commit(b);
	}
	size_t len;
	uint8_t *out = enc(b, &len);
	struct decoded d;
	decode_one(&d, out, len);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(text(&d.blk.cols[0], i), cases[i].f64, "value %zu", i);
	cr_assert_str_eq(text(&d.blk.cols[1], 0), "0.1");
	cr_assert_str_eq(text(&d.blk.cols[1], 1), "3.4028235e38");
	cr_assert_str_eq(text(&d.blk.cols[1], 2), "16777216");
	native_reader_destroy(d.r);
	free(out);
	native_block_destroy(b);
}

/* Every supported type, random values: encode, decode, compare value for value. */
#define RT_ROWS 300

static struct gen_rng rt_rng = {GEN_MIX_GOLDEN};
static uint64_t rt_next(void)
{
	return gen_next(&rt_rng);
}

Test(native, round_trip_all_types)
{
	static const struct native_column_spec s[] = {
		{.name = "u8", .type = "UInt8"},
		{.name = "u16", .type = "UInt16"},
		{.name = "u32", .type = "UInt32"},
		{.name = "u64", .type = "UInt64"},
		{.name = "i8", .type = "Int8"},
		{.name = "i16", .type = "Int16"},
		{.name = "i32", .type = "Int32"},
		{.name = "i64", .type = "Int64"},
		{.name = "f32", .type = "Float32"},
		{.name = "f64", .type = "Float64"},
		{.name = "s", .type = "String"},
		{.name = "fs", .type = "FixedString(5)"},
		{.name = "d", .type = "Date"},
		{.name = "dt", .type = "DateTime"},
		{.name = "t64", .type = "DateTime64(3, 'UTC')"},
		{.name = "n64", .type = "Nullable(UInt64)"},
		{.name = "ns", .type = "Nullable(String)"},
		{.name = "lc", .type = "LowCardinality(String)"},
		{.name = "lcn",
		 .type = "LowCardinality(Nullable(String))",
		 .dict_mode = NATIVE_DICT_EXTERNAL,
		 .dict_keys_max = 16},
	};
	enum { NC = sizeof(s) / sizeof(s[0]) };
	static const struct native_str dict[] = {{"", 0},     {"de", 2}, {"fr", 2},
						 {"", 0},     {"us", 2}, {"\xc3\xa9t\xc3\xa9", 6}};
	static uint64_t ints[RT_ROWS][NC];
	static double dbl[RT_ROWS][2];
	static char strs[RT_ROWS][3][24];
	static size_t slen[RT_ROWS][3];
	static bool null[RT_ROWS][NC];
	struct native_block *b = mk(s, NC, RT_ROWS, 1 << 16);
	ok(native_block_set_dict(b, 18, dict, 6));
	for (int r = 0; r < RT_ROWS; r++) {
		for (int c = 0; c < 8; c++) {
			uint64_t v = rt_next();
			int bits = 8 << (c % 4);
			if (bits < 64)
				v &= (1ull << bits) - 1;
			if (c >= 4 && bits < 64 && (v >> (bits - 1)))
				v |= ~0ull << bits; /* negative values of the signed columns */
			ints[r][c] = v;
			ok(c < 4 ? native_append_u64(b, (uint32_t)c, v)
				 : native_append_i64(b, (uint32_t)c, (int64_t)v));
		}
		dbl[r][0] = (double)(float)((double)(int64_t)rt_next() / 1e9);
		dbl[r][1] = (double)(int64_t)rt_next() / 1e7;
		ok(native_append_f64(b, 8, dbl[r][0]));
		ok(native_append_f64(b, 9, dbl[r][1]));
		for (int k = 0; k < 3; k++) {
			slen[r][k] = rt_next() % (k == 1 ? 6 : 20);
			for (size_t i = 0; i < slen[r][k]; i++)
				strs[r][k][i] = (char)(rt_next() % 256);
		}
		ok(native_append_str(b, 10, strs[r][0], slen[r][0]));
		ok(native_append_str(b, 11, strs[r][1], slen[r][1]));
		ints[r][12] = rt_next() % 65536;
		ints[r][13] = rt_next() % (1ull << 32);
		ints[r][14] = rt_next() % 10000000000000ull;
		ok(native_append_u64(b, 12, ints[r][12]));
		ok(native_append_u64(b, 13, ints[r][13]));
		ok(native_append_i64(b, 14, (int64_t)ints[r][14]));
		null[r][15] = rt_next() % 3 == 0;
		ints[r][15] = rt_next();
		ok(null[r][15] ? native_append_null(b, 15) : native_append_u64(b, 15, ints[r][15]));
		null[r][16] = rt_next() % 3 == 0;
		ok(null[r][16] ? native_append_null(b, 16)
			       : native_append_str(b, 16, strs[r][2], slen[r][2]));
		ints[r][17] = rt_next() % 7;
		char key[8];
		int kl = snprintf(key, sizeof(key), "k%llu", (unsigned long long)ints[r][17]);
		ok(native_append_str(b, 17, key, ints[r][17] == 0 ? 0 : (size_t)kl));
		ints[r][18] = rt_next() % 6;
		ok(native_append_code(b, 18, (uint32_t)ints[r][18]));
		commit(b);
	}
	size_t len;
	uint8_t *out = enc(b, &len);
	struct decoded d;
	decode_one(&d, out, len);
	cr_assert_eq(d.blk.rows, RT_ROWS);
	cr_assert_eq(d.blk.ncols, NC);
	for (uint32_t c = 0; c < NC; c++) {
		char name[NATIVE_TYPE_NAME_MAX];
		chtype_name(&d.blk.cols[c].type, name, sizeof(name));
		cr_assert_eq(d.blk.cols[c].name_len, strlen(s[c].name));
		cr_assert_eq(memcmp(d.blk.cols[c].name, s[c].name, d.blk.cols[c].name_len), 0);
		struct chtype want;
		ok(native_type_parse(s[c].type, strlen(s[c].type), &want, NULL, 0));
		char wname[NATIVE_TYPE_NAME_MAX];
		chtype_name(&want, wname, sizeof(wname));
		cr_assert_str_eq(name, wname);
	}
	for (int r = 0; r < RT_ROWS; r++) {
		const struct native_rd_col *col = d.blk.cols;
		uint64_t u;
		int64_t i;
		double f;
		const uint8_t *p;
		size_t n;
		for (int c = 0; c < 4; c++) {
			ok(native_rd_u64(&col[c], (uint64_t)r, &u));
			cr_assert_eq(u, ints[r][c], "row %d col %d", r, c);
		}
		for (int c = 4; c < 8; c++) {
			ok(native_rd_i64(&col[c], (uint64_t)r, &i));
			cr_assert_eq(i, (int64_t)ints[r][c], "row %d col %d", r, c);
		}
		ok(native_rd_f64(&col[8], (uint64_t)r, &f));
		cr_assert_eq(f, dbl[r][0]);
		ok(native_rd_f64(&col[9], (uint64_t)r, &f));
		cr_assert_eq(f, dbl[r][1]);
		ok(native_rd_str(&col[10], (uint64_t)r, &p, &n));
		cr_assert(n == slen[r][0] && memcmp(p, strs[r][0], n) == 0, "row %d String", r);
		ok(native_rd_str(&col[11], (uint64_t)r, &p, &n));
		cr_assert_eq(n, 5);
		cr_assert(memcmp(p, strs[r][1], slen[r][1]) == 0, "row %d FixedString", r);
		for (size_t k = slen[r][1]; k < 5; k++)
			cr_assert_eq(p[k], 0, "FixedString padding");
		ok(native_rd_u64(&col[12], (uint64_t)r, &u));
		cr_assert_eq(u, ints[r][12]);
		ok(native_rd_u64(&col[13], (uint64_t)r, &u));
		cr_assert_eq(u, ints[r][13]);
		ok(native_rd_i64(&col[14], (uint64_t)r, &i));
		cr_assert_eq(i, (int64_t)ints[r][14]);
		cr_assert_eq(native_rd_is_null(&col[15], (uint64_t)r), null[r][15]);
		ok(native_rd_u64(&col[15], (uint64_t)r, &u));
		cr_assert_eq(u, null[r][15] ? 0 : ints[r][15]);
		cr_assert_eq(native_rd_is_null(&col[16], (uint64_t)r), null[r][16]);
		ok(native_rd_str(&col[16], (uint64_t)r, &p, &n));
		if (!null[r][16])
			cr_assert(n == slen[r][2] && memcmp(p, strs[r][2], n) == 0);
		else
			cr_assert_eq(n, 0);
		ok(native_rd_str(&col[17], (uint64_t)r, &p, &n));
		char key[8];
		int kl = snprintf(key, sizeof(key), "k%llu", (unsigned long long)ints[r][17]);
		if (ints[r][17] == 0)
			cr_assert_eq(n, 0);
		else
			cr_assert(n == (size_t)kl && memcmp(p, key, n) == 0, "row %d lc", r);
		uint32_t code = (uint32_t)ints[r][18];
		cr_assert_eq(native_rd_is_null(&col[18], (uint64_t)r), code == 0);
		if (code != 0) {
			ok(native_rd_str(&col[18], (uint64_t)r, &p, &n));
			cr_assert(n == dict[code].len && memcmp(p, dict[code].ptr, n) == 0,
				  "row %d lcn", r);
		}
	}
	native_reader_destroy(d.r);

	/* Every truncation of the block is reported as such, inside the input. */
	struct native_reader *r;
	ok(native_reader_init(&r));
	for (size_t cut = 1; cut < len; cut++) {
		size_t off = 0, at;
		struct native_rd_block blk;
		cr_assert_eq(native_reader_next(r, out, cut, &off, &blk), -EBADMSG, "cut at %zu",
			     cut);
		const char *msg = native_reader_error(r, &at);
		cr_assert_leq(at, cut);
		cr_assert(strstr(msg, "truncated") != NULL, "cut %zu: %s", cut, msg);
	}
	native_reader_destroy(r);
	free(out);
	native_block_destroy(b);
}

Test(native, read_corrupt)
{
	struct native_reader *r;
	ok(native_reader_init(&r));
	size_t len, off, at;
	struct native_rd_block blk;
	uint8_t *buf = t_hex_decode(lc_zxz, &len);
	/* The last index refers to key 3 of 3. */
	buf[len - 1] = 3;
	off = 0;
	cr_assert_eq(native_reader_next(r, buf, len, &off, &blk), -EBADMSG);
	cr_assert(strstr(native_reader_error(r, &at), "refers to key 3 of 3") != NULL);
	cr_assert_eq(at, len - 1);
	free(buf);

	buf = t_hex_decode("01010161075569616e743332", &len); /* type "Uiant32" */
	off = 0;
	cr_assert_eq(native_reader_next(r, buf, len, &off, &blk), -EBADMSG);
	cr_assert(strstr(native_reader_error(r, &at), "unsupported type 'Uiant32'") != NULL,
		  "%s", native_reader_error(r, &at));
	cr_assert_eq(at, 5);
	free(buf);

	/* Rows without columns would make a reader loop over nothing. */
	buf = t_hex_decode("0005", &len);
	off = 0;
	cr_assert_eq(native_reader_next(r, buf, len, &off, &blk), -EBADMSG);
	free(buf);

	/* A huge row count is refused before anything is allocated for it. */
	buf = t_hex_decode("01ffffffffffffffff7f0161065374726967", &len);
	off = 0;
	cr_assert_eq(native_reader_next(r, buf, len, &off, &blk), -EBADMSG);
	free(buf);
	native_reader_destroy(r);
}

/* ClickHouse-written blocks of types the reader walks over: Arrays (LowCardinality inside one
 * puts its key version before the offsets), wide integers, Decimal, Enum, IPv6. */
static const char arrays_ch[] =
	"020101781d4172726179284c6f7743617264696e616c69747928537472696e672929010000000000000002"
	"000000000000000006000000000000030000000000000000016101620200000000000000010201791341"
	"727261792841727261792855496e74382929020000000000000001000000000000000300000000000000"
	"010203";
static const char arrays_empty_ch[] =
	"010201781d4172726179284c6f7743617264696e616c69747928537472696e672929010000000000000000"
	"000000000000000000000000000000";
static const char other_types_ch[] =
	"0602016906496e74313238ffffffffffffffffffffffffffffffff000000000000000000000000000000"
	"0001640d446563696d616c28392c2032290000000064000000016517456e756d3828276127203d20312c"
	"20276227203d20322901020269700449507636000000000000000000000000000000010000000000000000"
	"000000000000000102616e164172726179284e756c6c61626c652855496e743829290100000000000000"
	"020000000000000000000001017306537472696e6701300131";

static uint64_t offset_at(const struct native_rd_col *c, unsigned level, uint64_t i)
{
	uint64_t v;
	memcpy(&v, c->offsets[level] + 8 * i, 8);
	return v;
}

Test(native, read_arrays)
{
	struct decoded d;
	size_t len;
	uint8_t *buf = t_hex_decode(arrays_ch, &len);
	decode_one(&d, buf, len);
	/* ['a','b'] as Array(LowCardinality(String)), [[1],[2,3]] as Array(Array(UInt8)). */
	const struct native_rd_col *x = &d.blk.cols[0], *y = &d.blk.cols[1];
	cr_assert(x->type.arrays == 1 && x->type.low_cardinality && x->type.kind == CHTYPE_STRING);
	cr_assert_eq(offset_at(x, 0, 0), 2);
	cr_assert_eq(x->count, 2);
	cr_assert_eq(x->values.count, 3);
	cr_assert(x->index[0] == 1 && x->index[1] == 2);
	cr_assert(x->values.strs[2].len == 1 && x->values.strs[2].ptr[0] == 'b');
	cr_assert_eq(y->type.arrays, 2);
	cr_assert(offset_at(y, 0, 0) == 2 && offset_at(y, 1, 0) == 1 && offset_at(y, 1, 1) == 3);
	cr_assert_eq(y->count, 3);
	cr_assert(y->values.data[0] == 1 && y->values.data[2] == 3);
	char t[16];
	uint64_t u;
	cr_assert_eq(native_rd_format_text(y, 0, t, sizeof(t)), -ENOTSUP);
	cr_assert_eq(native_rd_u64(y, 0, &u), -EINVAL);
	cr_assert(!native_rd_is_null(x, 0));
	native_reader_destroy(d.r);
	free(buf);

	/* Two empty arrays: the LowCardinality part after the offsets is absent. */
	buf = t_hex_decode(arrays_empty_ch, &len);
	decode_one(&d, buf, len);
	cr_assert_eq(d.blk.cols[0].count, 0);
	cr_assert_eq(d.blk.cols[0].values.count, 0);
	native_reader_destroy(d.r);

	/* Offsets that decrease are corrupt: the first empty array's end becomes 1. */
	struct native_reader *r;
	ok(native_reader_init(&r));
	buf[0x2a] = 1;
	size_t off = 0, at;
	struct native_rd_block blk;
	cr_assert_eq(native_reader_next(r, buf, len, &off, &blk), -EBADMSG);
	cr_assert(strstr(native_reader_error(r, &at), "below the one before it") != NULL, "%s",
		  native_reader_error(r, &at));
	cr_assert_eq(at, 0x2a + 8);
	native_reader_destroy(r);
	free(buf);
}

Test(native, read_other_types_and_sequential)
{
	struct decoded d;
	size_t len;
	uint8_t *buf = t_hex_decode(other_types_ch, &len);
	decode_one(&d, buf, len);
	static const char *const names[] = {"Int128", "Decimal(9, 2)", "Enum8('a' = 1, 'b' = 2)",
					    "IPv6", "Array(Nullable(UInt8))", "String"};
	char name[64], t[16];
	for (uint32_t c = 0; c < 6; c++) {
		cr_assert_gt(chtype_name(&d.blk.cols[c].type, name, sizeof(name)), 0);
		cr_assert_str_eq(name, names[c]);
		if (c < 5)
			cr_assert_eq(native_rd_format_text(&d.blk.cols[c], 1, t, sizeof(t)), -ENOTSUP);
	}
	const struct native_rd_col *an = &d.blk.cols[4];
	cr_assert(an->count == 2 && an->nulls[0] == 0 && an->values.data[1] == 1);
	cr_assert_str_eq(text(&d.blk.cols[5], 1), "1");
	native_reader_destroy(d.r);

	/* A sequential reader leaves String values unindexed, to be walked in order. */
	struct native_reader *r;
	ok(native_reader_init_sequential(&r));
	size_t off = 0;
	struct native_rd_block blk;
	cr_assert_eq(native_reader_next(r, buf, len, &off, &blk), 1);
	const struct native_rd_col *s = &blk.cols[5];
	cr_assert_null(s->values.strs);
	const uint8_t *p, *cursor = s->values.data;
	size_t n;
	cr_assert_eq(native_rd_str(s, 0, &p, &n), -EINVAL);
	cr_assert_eq(native_rd_format_text(s, 0, t, sizeof(t)), -EINVAL);
	for (uint64_t i = 0; i < s->values.count; i++) {
		native_rd_str_next(&cursor, &p, &n);
		cr_assert(n == 1 && p[0] == '0' + i);
	}
	cr_assert_eq(cursor, s->values.data + s->values.bytes);

	/* Every truncation of these blocks is reported as such, inside the input. */
	const char *const blocks[] = {arrays_ch, other_types_ch};
	for (size_t k = 0; k < 2; k++) {
		size_t blen;
		uint8_t *b = t_hex_decode(blocks[k], &blen);
		for (size_t cut = 1; cut < blen; cut++) {
			size_t at;
			off = 0;
			cr_assert_eq(native_reader_next(r, b, cut, &off, &blk), -EBADMSG);
			const char *msg = native_reader_error(r, &at);
			cr_assert_leq(at, cut);
			cr_assert(strstr(msg, "truncated") != NULL, "cut %zu: %s", cut, msg);
		}
		free(b);
	}
	native_reader_destroy(r);
	free(buf);
}
