/*
 * Unit tests of dimension loading: ClickHouse TSVWithNames escapes, CSVWithNames quoting,
 * Native files, NULLs and defaults, bad rows, duplicate keys, missing files and columns, and
 * the same data giving the same table in every format and with any thread count.
 *
 * tests/fixtures/dim_users.{tsv,csv,native} were written by ClickHouse from
 * tests/fixtures/dim_users.sql (see tests/fixtures/README.md); expect_user() below computes
 * the same rows independently.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dim.h"
#include "helpers.h"
#include "log.h"

static void quiet(void)
{
	log_level_set(LOG_LEVEL_ERROR + (getenv("DIM_TEST_LOG") ? 3 : 0));
}

TestSuite(dim_load, .init = quiet);

/* ---- helpers ---- */

static const char *fixture(const char *name)
{
	static char path[PATH_MAX];
	const char *src = getenv("ENRICHD_SOURCE_DIR");
	if (src) {
		snprintf(path, sizeof(path), "%s/tests/fixtures/%s", src, name);
	} else {
		char here[PATH_MAX];
		snprintf(here, sizeof(here), "%s", __FILE__);
		snprintf(path, sizeof(path), "%s/../fixtures/%s", dirname(here), name);
	}
	cr_assert_eq(access(path, R_OK), 0, "fixture %s", path);
	return path;
}

static bool str_is(const char *p, size_t len, const char *want, size_t want_len)
{
	return p && len == want_len && memcmp(p, want, len) == 0;
}

static struct dim *load_mem(const char *text, enum dim_format format, const char *key,
			    enum dim_type key_type, const struct dim_attr_spec *attrs,
			    unsigned attr_count, unsigned threads, struct dim_load_stats *st)
{
	struct dim_spec spec = {.name = "t", .path = format == DIM_FORMAT_CSV ? "mem.csv" : "mem.tsv",
		.data = text, .data_len = strlen(text), .format = format, .key_column = key,
		.key_type = key_type, .attrs = attrs, .attr_count = attr_count, .threads = threads};
	struct dim *d = NULL;
	int rc = dim_load(&spec, &d, st);
	cr_assert_eq(rc, 0, "load: %d %s", rc, st->error);
	return d;
}

/* Expects a load to fail with rc, leaving *out untouched; returns the stats. */
static void load_fails(const struct dim_spec *spec, int want_rc, struct dim_load_stats *st)
{
	struct dim *sentinel = (struct dim *)(uintptr_t)0x1234;
	struct dim *d = sentinel;
	int rc = dim_load(spec, &d, st);
	cr_assert_eq(rc, want_rc, "rc %d (want %d): %s", rc, want_rc, st->error);
	cr_assert_eq(d, sentinel, "a failed load publishes nothing");
	cr_assert_neq(st->error[0], '\0');
}

/* ---- the fixture: 300 users as ClickHouse wrote them ---- */

struct user {
	uint64_t id;
	char name[64];
	size_t name_len;
	const char *country;
	const char *plan; /* NULL = NULL */
	char note[64];
	bool note_null;
	uint8_t u8;
	int16_t i16;
	uint32_t u32;
	int64_t i64;
	double score;
	bool score_null;
	uint16_t signup;
	uint32_t seen;
	int32_t n32;
	bool n32_null;
};

/* The row number n of tests/fixtures/dim_users.sql. */
static void expect_user(uint64_t n, struct user *u)
{
	static const char *const suffix[] = {"", "\t<tab>", "\n<nl>", "\"q\",c", "\\bs", "\r\ncrlf",
					     "\xc3\xbc\xe2\x82\xac"};
	static const char *const countries[] = {"US", "DE", "FR", "JP", "BR", ""};
	static const char *const plans[] = {"free", "pro", "team"};
	memset(u, 0, sizeof(*u));
	u->id = n == 0 ? 0 : n == 1 ? UINT64_MAX : n * 1000003;
	if (n)
		snprintf(u->name, sizeof(u->name), "user-%" PRIu64 "%s", n, suffix[n % 7]);
	u->name_len = strlen(u->name);
	u->country = countries[n % 6];
	u->plan = n % 5 == 0 ? NULL : plans[n % 3];
	u->note_null = n % 4 == 0;
	snprintf(u->note, sizeof(u->note), "n%" PRIu64 "%s", n, n % 3 == 0 ? ",x\"y\tz\\w" : "");
	u->u8 = (uint8_t)(n * 7 % 256);
	u->i16 = (int16_t)((int32_t)(n * 131 % 65536) - 32768);
	u->u32 = (uint32_t)(n * 2654435761ULL % 4294967296ULL);
	u->i64 = n == 299 ? INT64_MIN : (int64_t)(n * 1000003) * (n % 2 == 0 ? -1 : 1);
	u->score_null = n % 6 == 0;
	u->score = (double)n / 7;
	u->signup = (uint16_t)(n * 97);
	u->seen = (uint32_t)(n * 9876543);
	u->n32_null = n % 3 == 0;
	u->n32 = (int32_t)n - 150;
}

static const struct dim_attr_spec user_attrs[] = {
	{"country", DIM_TYPE_LC_STRING, false}, {"plan", DIM_TYPE_LC_STRING, true},
	{"note", DIM_TYPE_STRING, true},        {"u8", DIM_TYPE_UINT8, false},
	{"i16", DIM_TYPE_INT16, false},         {"u32", DIM_TYPE_UINT32, false},
	{"i64", DIM_TYPE_INT64, false},         {"score", DIM_TYPE_FLOAT64, true},
	{"signup", DIM_TYPE_DATE, false},       {"seen", DIM_TYPE_DATETIME, false},
	{"n32", DIM_TYPE_INT32, true},          {"name", DIM_TYPE_STRING, false},
	{"id", DIM_TYPE_UINT64, false},
};
enum { COUNTRY, PLAN, NOTE, U8, I16, U32, I64, SCORE, SIGNUP, SEEN, N32, NAME, ID, USER_ATTRS };

/* Loads the fixture keyed by id (UInt64; the id attribute left out) or by name (String). */
static struct dim *load_users(const char *file, bool by_name, unsigned threads)
{
	struct dim_attr_spec attrs[USER_ATTRS];
	unsigned n = 0;
	for (unsigned a = 0; a < USER_ATTRS; a++) {
		if ((by_name && a == NAME) || (!by_name && a == ID))
			continue;
		attrs[n++] = user_attrs[a];
	}
	struct dim_spec spec = {.name = "users", .path = fixture(file),
		.key_column = by_name ? "name" : "id",
		.key_type = by_name ? DIM_TYPE_STRING : DIM_TYPE_UINT64, .attrs = attrs,
		.attr_count = n, .threads = threads};
	struct dim *d = NULL;
	struct dim_load_stats st;
	int rc = dim_load(&spec, &d, &st);
	cr_assert_eq(rc, 0, "%s: %s", file, st.error);
	cr_assert_eq(st.source_rows, 300);
	cr_assert_eq(st.rows, 300);
	cr_assert_eq(st.duplicates, 0);
	return d;
}

static const struct dim_col *col(const struct dim *d, const char *name)
{
	int i = dim_attr_index(d, name);
	cr_assert_geq(i, 0, "%s", name);
	return dim_col(d, (unsigned)i);
}

/* Checks every row of a users table against expect_user(). */
static void check_users(const struct dim *d, bool by_name, const char *what)
{
	for (uint64_t n = 0; n < 300; n++) {
		struct user u;
		expect_user(n, &u);
		const struct dim_row *r = by_name ? dim_find_str(d, u.name, u.name_len)
						  : dim_find_u64(d, u.id);
		cr_assert_not_null(r, "%s: row %" PRIu64 " missing", what, n);
		size_t len;
		const char *s;
		if (by_name) {
			cr_assert_eq(dim_row_u64(col(d, "id"), r), u.id);
		} else {
			s = dim_row_str(col(d, "name"), r, &len);
			cr_assert(str_is(s, len, u.name, u.name_len), "%s: name of row %" PRIu64, what,
				  n);
		}
		s = dim_row_str(col(d, "country"), r, &len);
		cr_assert(str_is(s, len, u.country, strlen(u.country)), "%s: country %" PRIu64,
			  what, n);
		cr_assert_neq(dim_row_lc(col(d, "country"), r), 0);
		s = dim_row_str(col(d, "plan"), r, &len);
		if (u.plan)
			cr_assert(str_is(s, len, u.plan, strlen(u.plan)), "%s: plan %" PRIu64, what, n);
		else
			cr_assert(dim_row_is_null(col(d, "plan"), r), "%s: plan %" PRIu64, what, n);
		s = dim_row_str(col(d, "note"), r, &len);
		if (u.note_null)
			cr_assert_null(s, "%s: note %" PRIu64, what, n);
		else
			cr_assert(str_is(s, len, u.note, strlen(u.note)), "%s: note %" PRIu64, what, n);
		cr_assert_eq(dim_row_u64(col(d, "u8"), r), u.u8);
		cr_assert_eq(dim_row_i64(col(d, "i16"), r), u.i16);
		cr_assert_eq(dim_row_u64(col(d, "u32"), r), u.u32);
		cr_assert_eq(dim_row_i64(col(d, "i64"), r), u.i64, "%s: i64 %" PRIu64, what, n);
		cr_assert_eq(dim_row_is_null(col(d, "score"), r), u.score_null);
		if (!u.score_null)
			cr_assert_eq(dim_row_f64(col(d, "score"), r), u.score, "%s: score %" PRIu64,
				     what, n);
		cr_assert_eq(dim_row_u64(col(d, "signup"), r), u.signup);
		cr_assert_eq(dim_row_u64(col(d, "seen"), r), u.seen);
		cr_assert_eq(dim_row_is_null(col(d, "n32"), r), u.n32_null);
		cr_assert_eq(dim_row_i64(col(d, "n32"), r), u.n32_null ? 0 : u.n32);
	}
}

/* Two tables hold the same dictionaries (same codes) and the same codes per row. */
static void check_same_dicts(const struct dim *a, const struct dim *b)
{
	for (unsigned i = 0; i < dim_attr_count(a); i++) {
		size_t na, nb;
		const struct dim_str *da = dim_lc_dict(a, i, &na), *db = dim_lc_dict(b, i, &nb);
		cr_assert_eq(na, nb, "attribute %s", dim_attr_name(a, i));
		for (size_t c = 0; c < na; c++)
			cr_assert(str_is(da[c].ptr, da[c].len, db[c].ptr, db[c].len));
	}
}

Test(dim_load, fixture_formats_give_identical_tables)
{
	static const char *const files[] = {"dim_users.tsv", "dim_users.csv", "dim_users.native"};
	for (int by_name = 0; by_name <= 1; by_name++) {
		struct dim *first = NULL;
		for (size_t f = 0; f < 3; f++) {
			for (unsigned threads = 1; threads <= 3; threads += 2) {
				struct dim *d = load_users(files[f], by_name, threads);
				char what[64];
				snprintf(what, sizeof(what), "%s by %s, %u threads", files[f],
					 by_name ? "name" : "id", threads);
				check_users(d, by_name, what);
				if (!first) {
					first = d;
					continue;
				}
				check_same_dicts(first, d);
				cr_assert_eq(dim_bytes(first), dim_bytes(d), "%s", what);
				dim_free(d);
			}
		}
		/* Codes follow first appearance: US DE FR JP BR '' and pro team free. */
		size_t n;
		const struct dim_str *dict = dim_lc_dict(first, 0, &n);
		cr_assert_eq(n, 7);
		cr_assert(str_is(dict[1].ptr, dict[1].len, "US", 2));
		cr_assert(str_is(dict[6].ptr, dict[6].len, "", 0));
		dict = dim_lc_dict(first, 1, &n);
		cr_assert_eq(n, 4);
		cr_assert(str_is(dict[1].ptr, dict[1].len, "pro", 3));
		cr_assert(str_is(dict[3].ptr, dict[3].len, "free", 4));
		dim_free(first);
	}
}

/* ---- TSV ---- */

Test(dim_load, tsv_escapes)
{
	const char *text =
		"k\tv\\tw\n"                                  /* an escaped header name */
		"tab\ta\\tb\n"
		"nl\ta\\nb\n"
		"bs\ta\\\\b\n"
		"nul\ta\\0b\n"
		"ctl\t\\b\\f\\r\\a\\v\\e\n"
		"quotes\t\\'\\\"\\`\\/\n"
		"hex\t\\x41\\x7a\n"
		"unknown\t100\\%\n"
		"nullmid\ta\\Nb\n"
		"null\t\\N\n"
		"rawnl\ta\\\nb\n"                              /* backslash + a raw newline */
		"crlf\tx\r\n"
		"a\\tkey\tescaped key\n"
		"last\tno newline";
	static const struct dim_attr_spec attrs[] = {{"v\tw", DIM_TYPE_STRING, true}};
	struct dim_load_stats st;
	struct dim *d = load_mem(text, DIM_FORMAT_TSV, "k", DIM_TYPE_STRING, attrs, 1, 1, &st);
	cr_assert_eq(st.rows, 14);
	static const struct {
		const char *key;
		const char *val;
		size_t len;
	} want[] = {
		{"tab", "a\tb", 3},        {"nl", "a\nb", 3},
		{"bs", "a\\b", 3},         {"nul", "a\0b", 3},
		{"ctl", "\b\f\r\a\v\x1b", 6}, {"quotes", "'\"`/", 4},
		{"hex", "Az", 2},          {"unknown", "100\\%", 5},
		{"nullmid", "ab", 2},      {"rawnl", "a\nb", 3},
		{"crlf", "x", 1},          {"a\tkey", "escaped key", 11},
		{"last", "no newline", 10},
	};
	const struct dim_col *v = dim_col(d, 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct dim_row *r = dim_find_str(d, want[i].key, strlen(want[i].key));
		cr_assert_not_null(r, "%s", want[i].key);
		size_t len;
		const char *s = dim_row_str(v, r, &len);
		cr_assert(str_is(s, len, want[i].val, want[i].len), "%s: got %zu bytes", want[i].key,
			  len);
	}
	cr_assert(dim_row_is_null(v, dim_find_str(d, "null", 4)));
	dim_free(d);
}

/* ---- CSV ---- */

Test(dim_load, csv_quoting_crlf_and_nulls)
{
	const char *text =
		"\"id\",name,\"n\",\"d\"\r\n"
		"1,\"a,b\",5,\"2020-01-02\"\r\n"
		"2,\"say \"\"hi\"\"\",,\r\n"                  /* "" escapes; empty -> defaults */
		"3,\"two\nlines\",\"7\",2021-12-31\r\n"       /* newline inside quotes; quoted number */
		"4,\"crlf\r\ninside\",\\N,\\N\r\n"
		"5,  spaced out  ,  8 , 1999-09-09\r\n"       /* unquoted values are trimmed */
		"6,\"\",9,2000-01-01\r\n"
		"7,\\N,10,2000-01-02\r\n"
		"8,\"\\N\",11,2000-01-03\r\n"                  /* quoted \N is the text */
		"9,\"x\"  ,12,2000-01-04";                     /* spaces after a quote, no newline */
	static const struct dim_attr_spec attrs[] = {
		{"name", DIM_TYPE_STRING, true},
		{"n", DIM_TYPE_UINT32, true},
		{"d", DIM_TYPE_DATE, false},
	};
	struct dim_load_stats st;
	struct dim *d = load_mem(text, DIM_FORMAT_CSV, "id", DIM_TYPE_UINT64, attrs, 3, 1, &st);
	cr_assert_eq(st.rows, 9);
	const struct dim_col *name = dim_col(d, 0), *n = dim_col(d, 1), *date = dim_col(d, 2);
	static const struct {
		const char *name;
		size_t len;
		int64_t n; /* -1 = NULL */
		uint64_t days;
	} want[] = {
		{"a,b", 3, 5, 18263},         {"say \"hi\"", 8, -1, 0},
		{"two\nlines", 9, 7, 18992},  {"crlf\r\ninside", 12, -1, 0},
		{"spaced out", 10, 8, 10843}, {"", 0, 9, 10957},
		{NULL, 0, 10, 10958},         {"\\N", 2, 11, 10959},
		{"x", 1, 12, 10960},
	};
	for (uint64_t id = 1; id <= 9; id++) {
		const struct dim_row *r = dim_find_u64(d, id);
		cr_assert_not_null(r);
		size_t len;
		const char *s = dim_row_str(name, r, &len);
		if (want[id - 1].name)
			cr_assert(str_is(s, len, want[id - 1].name, want[id - 1].len), "id %" PRIu64,
				  id);
		else
			cr_assert(dim_row_is_null(name, r));
		if (want[id - 1].n < 0)
			cr_assert(dim_row_is_null(n, r), "id %" PRIu64, id);
		else
			cr_assert_eq(dim_row_u64(n, r), (uint64_t)want[id - 1].n, "id %" PRIu64, id);
		cr_assert_eq(dim_row_u64(date, r), want[id - 1].days, "id %" PRIu64, id);
	}
	dim_free(d);
}

/* Many rows with quoted newlines and commas: any split must land between rows. */
static char *csv_with_newlines(size_t rows, bool stray_quotes)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "id,text,n\n");
	for (size_t i = 0; i < rows; i++) {
		if (stray_quotes && i % 10 == 3)
			t_buf_printf(&b, "%zu,ab\"c%zu,%zu\n", i, i, i % 7);
		else
			t_buf_printf(&b, "%zu,\"line\n%zu, \"\"q\"\"\n\",%zu\n", i, i, i % 7);
	}
	return b.p;
}

static void check_csv_rows(const struct dim *d, size_t rows, bool stray_quotes)
{
	cr_assert_eq(dim_rows(d), rows);
	for (size_t i = 0; i < rows; i++) {
		const struct dim_row *r = dim_find_u64(d, i);
		cr_assert_not_null(r);
		char want[64];
		if (stray_quotes && i % 10 == 3)
			snprintf(want, sizeof(want), "ab\"c%zu", i);
		else
			snprintf(want, sizeof(want), "line\n%zu, \"q\"\n", i);
		size_t len;
		const char *s = dim_row_str(dim_col(d, 0), r, &len);
		cr_assert(str_is(s, len, want, strlen(want)), "row %zu", i);
		cr_assert_eq(dim_row_u64(dim_col(d, 1), r), i % 7);
	}
}

Test(dim_load, csv_parallel_split_respects_quotes)
{
	static const struct dim_attr_spec attrs[] = {
		{"text", DIM_TYPE_STRING, false},
		{"n", DIM_TYPE_UINT8, false},
	};
	for (int stray = 0; stray <= 1; stray++) {
		char *text = csv_with_newlines(20000, stray);
		for (unsigned threads = 1; threads <= 7; threads += 3) {
			struct dim_load_stats st;
			struct dim *d = load_mem(text, DIM_FORMAT_CSV, "id", DIM_TYPE_UINT64, attrs, 2,
						 threads, &st);
			if (!stray) /* stray quotes may send it back to one piece */
				cr_assert_eq(st.threads, threads, "the split kept every chunk");
			check_csv_rows(d, 20000, stray);
			dim_free(d);
		}
		free(text);
	}
}

Test(dim_load, tsv_parallel_split_respects_escaped_newlines)
{
	size_t rows = 20000;
	struct t_buf text = {0};
	t_buf_printf(&text, "id\ttext\n");
	for (size_t i = 0; i < rows; i++)
		t_buf_printf(&text, "%zu\ta\\\n%zu\\\\\n", i, i);
	static const struct dim_attr_spec attrs[] = {{"text", DIM_TYPE_STRING, false}};
	struct dim_load_stats st;
	struct dim *d = load_mem(text.p, DIM_FORMAT_TSV, "id", DIM_TYPE_UINT64, attrs, 1, 6, &st);
	cr_assert_eq(st.threads, 6);
	cr_assert_eq(dim_rows(d), rows);
	for (size_t i = 0; i < rows; i += 7) {
		char want[32];
		snprintf(want, sizeof(want), "a\n%zu\\", i);
		size_t n;
		const char *s = dim_row_str(dim_col(d, 0), dim_find_u64(d, i), &n);
		cr_assert(str_is(s, n, want, strlen(want)), "row %zu", i);
	}
	dim_free(d);
	free(text.p);
}

/* ---- bad input ---- */

static struct dim_spec mem_spec(const char *text, enum dim_format format,
				const struct dim_attr_spec *attrs, unsigned n, unsigned threads)
{
	return (struct dim_spec){.name = "bad",
		.path = format == DIM_FORMAT_CSV ? "bad.csv" : "bad.tsv", .data = text,
		.data_len = strlen(text), .format = format, .key_column = "id",
		.key_type = DIM_TYPE_UINT64, .attrs = attrs, .attr_count = n, .threads = threads};
}

Test(dim_load, bad_rows_name_file_line_and_reason)
{
	static const struct dim_attr_spec attrs[] = {
		{"n", DIM_TYPE_UINT8, false},
		{"d", DIM_TYPE_DATE, true},
	};
	static const struct {
		const char *text;
		uint64_t line;
		const char *reason;
	} cases[] = {
		{"id\tn\td\n1\t2\t2020-01-01\n2\t3\n", 3, "expected 3 columns, found 2"},
		{"id\tn\td\n1\t2\t2020-01-01\t4\n", 2, "more than the header's 3 columns"},
		{"id\tn\td\nabc\t2\t2020-01-01\n", 2, "cannot parse 'abc' as UInt64"},
		{"id\tn\td\n1\tabc\t2020-01-01\n", 2, "column 'n': cannot parse 'abc' as UInt8"},
		{"id\tn\td\n1\t256\t2020-01-01\n", 2, "'256' is out of range for UInt8"},
		{"id\tn\td\n1\t-1\t2020-01-01\n", 2, "'-1' is out of range for UInt8"},
		{"id\tn\td\n1\t1\t2020-02-30\n", 2, "cannot parse '2020-02-30' as Date"},
		{"id\tn\td\n1\t1\t1969-12-31\n", 2, "'1969-12-31' is out of range for Date"},
		{"id\tn\td\n\\N\t1\t2020-01-01\n", 2, "key column 'id' is NULL"},
		{"id\tn\td\n18446744073709551616\t1\t\\N\n", 2, "cannot parse"},
		{"id,n,d\n1,2,\"2020-01-01\"x\n", 2, "unexpected character after quoted field 3"},
		{"id,n,d\n1,2,\"2020-01-01\n", 2, "unterminated quoted field 3"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool csv = strchr(cases[i].text, ',') != NULL;
		struct dim_spec spec =
			mem_spec(cases[i].text, csv ? DIM_FORMAT_CSV : DIM_FORMAT_TSV, attrs, 2, 1);
		struct dim_load_stats st;
		load_fails(&spec, -EINVAL, &st);
		char where[32];
		snprintf(where, sizeof(where), "bad.%s:%" PRIu64 ": ", csv ? "csv" : "tsv",
			 cases[i].line);
		cr_assert(strncmp(st.error, where, strlen(where)) == 0, "case %zu: %s", i, st.error);
		cr_assert(strstr(st.error, cases[i].reason), "case %zu: %s", i, st.error);
		cr_assert_eq(st.error_line, cases[i].line, "case %zu", i);
	}
}

Test(dim_load, first_bad_row_in_file_order_with_threads)
{
	struct t_buf text = {0};
	t_buf_printf(&text, "id\tn\n");
	for (size_t i = 0; i < 30000; i++) {
		/* Two bad rows in different chunks: line 20002 must be the one reported. */
		const char *v = i == 20000 ? "x1" : i == 25000 ? "x2" : "7";
		t_buf_printf(&text, "%zu\t%s\n", i, v);
	}
	static const struct dim_attr_spec attrs[] = {{"n", DIM_TYPE_UINT16, false}};
	for (unsigned threads = 1; threads <= 8; threads *= 2) {
		struct dim_spec spec = mem_spec(text.p, DIM_FORMAT_TSV, attrs, 1, threads);
		struct dim_load_stats st;
		load_fails(&spec, -EINVAL, &st);
		cr_assert_eq(st.error_line, 20002, "%u threads: %s", threads, st.error);
		cr_assert(strstr(st.error, "'x1'"), "%s", st.error);
	}
	free(text.p);
}

Test(dim_load, duplicate_keys_counted_last_wins)
{
	struct t_buf text = {0};
	t_buf_printf(&text, "id\tv\n");
	/* Keys 0..9999 five times each; v is the row number. */
	for (size_t i = 0; i < 50000; i++)
		t_buf_printf(&text, "k%zu\t%zu\n", i % 10000, i);
	static const struct dim_attr_spec attrs[] = {{"v", DIM_TYPE_UINT32, false}};
	for (unsigned threads = 1; threads <= 4; threads += 3) {
		struct dim_spec spec = mem_spec(text.p, DIM_FORMAT_TSV, attrs, 1, threads);
		spec.key_type = DIM_TYPE_STRING;
		struct dim *d = NULL;
		struct dim_load_stats st;
		cr_assert_eq(dim_load(&spec, &d, &st), 0, "%s", st.error);
		cr_assert_eq(st.source_rows, 50000);
		cr_assert_eq(st.rows, 10000);
		cr_assert_eq(st.duplicates, 40000);
		for (size_t k = 0; k < 10000; k++) {
			char key[16];
			int n = snprintf(key, sizeof(key), "k%zu", k);
			const struct dim_row *r = dim_find_str(d, key, (size_t)n);
			cr_assert_eq(dim_row_u64(dim_col(d, 0), r), 40000 + k, "the last row wins");
		}
		dim_free(d);
	}
	free(text.p);
	/* UInt64 keys, key 0 included. */
	const char *small = "id\tv\n0\t1\n5\t2\n0\t3\n5\t4\n6\t5\n";
	struct dim_load_stats st;
	struct dim *d = load_mem(small, DIM_FORMAT_TSV, "id", DIM_TYPE_UINT64, attrs, 1, 1, &st);
	cr_assert_eq(st.duplicates, 2);
	cr_assert_eq(dim_rows(d), 3);
	cr_assert_eq(dim_row_u64(dim_col(d, 0), dim_find_u64(d, 0)), 3);
	cr_assert_eq(dim_row_u64(dim_col(d, 0), dim_find_u64(d, 5)), 4);
	dim_free(d);
}

Test(dim_load, missing_file_column_and_bad_spec)
{
	static const struct dim_attr_spec attrs[] = {{"n", DIM_TYPE_UINT8, false}};
	struct dim_spec spec = {.name = "x", .path = "/nonexistent/dir/users.tsv",
		.key_column = "id", .key_type = DIM_TYPE_UINT64, .attrs = attrs, .attr_count = 1};
	struct dim_load_stats st;
	load_fails(&spec, -ENOENT, &st);
	cr_assert(strstr(st.error, "/nonexistent/dir/users.tsv"), "%s", st.error);
	cr_assert(strstr(st.error, "No such file"), "%s", st.error);

	spec = mem_spec("id\tm\n1\t2\n", DIM_FORMAT_TSV, attrs, 1, 1);
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "column 'n' is not in the source"), "%s", st.error);
	spec = mem_spec("key\tn\n1\t2\n", DIM_FORMAT_TSV, attrs, 1, 1);
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "key column 'id' is not in the source"), "%s", st.error);
	spec.path = fixture("dim_users.native");
	spec.data = NULL;
	spec.format = DIM_FORMAT_AUTO;
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "column 'n' is not in the source"), "%s", st.error);

	static const struct dim_attr_spec twice[] = {{"n", DIM_TYPE_UINT8, false},
						     {"n", DIM_TYPE_UINT16, false}};
	spec = mem_spec("id\tn\n1\t2\n", DIM_FORMAT_TSV, twice, 2, 1);
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "configured twice"), "%s", st.error);
	static const struct dim_attr_spec untyped[] = {{"n", DIM_TYPE_NONE, false}};
	spec = mem_spec("id\tn\n1\t2\n", DIM_FORMAT_TSV, untyped, 1, 1);
	load_fails(&spec, -EINVAL, &st);
	spec = mem_spec("id\tn\n1\t2\n", DIM_FORMAT_TSV, attrs, 1, 1);
	spec.key_type = DIM_TYPE_UINT32;
	load_fails(&spec, -EINVAL, &st);
	spec.key_type = DIM_TYPE_UINT64;
	spec.load_factor_pct = 99;
	load_fails(&spec, -EINVAL, &st);
	spec.load_factor_pct = 0;
	spec.format = DIM_FORMAT_AUTO;
	spec.path = "users.parquet";
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "extension"), "%s", st.error);
	spec = mem_spec("", DIM_FORMAT_TSV, attrs, 1, 1);
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "empty"), "%s", st.error);
}

/*
 * A source replaced by something that is not a regular file is refused at once: a FIFO without
 * a writer would block the open (and a reader of it forever), a directory or a device never
 * gives a dimension. The alarm turns a blocking open into a test failure instead of a hang.
 */
Test(dim_load, source_that_is_not_a_regular_file_is_refused, .timeout = 10)
{
	char dir[] = "/tmp/dim-load-fifo-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char fifo[PATH_MAX];
	snprintf(fifo, sizeof(fifo), "%s/users.tsv", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	static const struct dim_attr_spec attrs[] = {{"n", DIM_TYPE_UINT8, false}};
	struct dim_spec spec = {.name = "x", .path = fifo, .key_column = "id",
		.key_type = DIM_TYPE_UINT64, .attrs = attrs, .attr_count = 1};
	struct dim_load_stats st;
	alarm(5);
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "not a regular file (a FIFO)"), "%s", st.error);
	spec.path = dir;
	spec.format = DIM_FORMAT_TSV;
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "(a directory)"), "%s", st.error);
	spec.path = "/dev/zero";
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "(a device)"), "%s", st.error);
	alarm(0);
	unlink(fifo);
	rmdir(dir);
}

struct cancel_after {
	_Atomic bool flag;
	unsigned ms;
};

static void *cancel_after_thread(void *arg)
{
	struct cancel_after *c = arg;
	usleep(c->ms * 1000);
	atomic_store(&c->flag, true);
	return NULL;
}

/* A cancelled load gives up with -ECANCELED: before it starts, and during its parse (a stopping
 * process must not wait for a large source to be read). */
Test(dim_load, cancel_ends_the_load)
{
	static const struct dim_attr_spec attrs[] = {{"n", DIM_TYPE_UINT32, false}};
	struct cancel_after c = {.flag = true, .ms = 0};
	struct dim_spec spec = mem_spec("id\tn\n1\t2\n", DIM_FORMAT_TSV, attrs, 1, 2);
	spec.cancel = &c.flag;
	struct dim_load_stats st;
	load_fails(&spec, -ECANCELED, &st);
	cr_assert(strstr(st.error, "load cancelled"), "%s", st.error);

	struct t_buf text = {0};
	t_buf_printf(&text, "id\tn\n");
	for (size_t i = 1; i <= 3000000; i++)
		t_buf_printf(&text, "%zu\t%zu\n", i * 7919, i);
	spec = mem_spec(text.p, DIM_FORMAT_TSV, attrs, 1, 2);
	/* The whole load first, for its time. */
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct dim *d = NULL;
	cr_assert_eq(dim_load(&spec, &d, &st), 0, "%s", st.error);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dim_free(d);
	double full = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Cancelled a tenth of the way in: it must end well before the whole load would. */
	atomic_store(&c.flag, false);
	c.ms = (unsigned)(full * 100.0) + 1;
	spec.cancel = &c.flag;
	pthread_t t;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(pthread_create(&t, NULL, cancel_after_thread, &c), 0);
	load_fails(&spec, -ECANCELED, &st);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	pthread_join(t, NULL);
	double s = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
	cr_expect_lt(s, full / 2 + DIM_CANCEL_CHECK_MS / 1000.0,
		     "cancelled after %.3f s; the whole load takes %.3f s", s, full);
	free(text.p);
}

Test(dim_load, header_only_is_an_empty_table)
{
	static const struct dim_attr_spec attrs[] = {{"n", DIM_TYPE_UINT8, false}};
	struct dim_load_stats st;
	struct dim *d = load_mem("id\tn\n", DIM_FORMAT_TSV, "id", DIM_TYPE_UINT64, attrs, 1, 4, &st);
	cr_assert_eq(dim_rows(d), 0);
	dim_free(d);
	d = load_mem("id,n\r\n1,2\r\n\r\n\r\n", DIM_FORMAT_CSV, "id", DIM_TYPE_UINT64, attrs, 1, 1,
		     &st);
	cr_assert_eq(dim_rows(d), 1, "trailing blank lines end the data");
	dim_free(d);
}

/* ---- Native ---- */

Test(dim_load, native_truncated_and_conversions)
{
	size_t len;
	char *data = t_read_file(fixture("dim_users.native"), &len);
	static const struct dim_attr_spec attrs[] = {{"country", DIM_TYPE_LC_STRING, false}};
	struct dim_spec spec = {.name = "n", .path = "dim_users.native", .data = data,
		.format = DIM_FORMAT_NATIVE, .key_column = "id", .key_type = DIM_TYPE_UINT64,
		.attrs = attrs, .attr_count = 1, .threads = 2};
	struct dim_load_stats st;
	size_t cuts[] = {1, 10, len / 2, len - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		spec.data_len = cuts[i];
		load_fails(&spec, -EINVAL, &st);
		cr_assert(strstr(st.error, "dim_users.native: block 1: "), "%s", st.error);
	}
	spec.data_len = len;

	/* Widening and text conversions; a value out of range names block, row and column. */
	static const struct dim_attr_spec wide[] = {
		{"i16", DIM_TYPE_INT64, false},  /* Int16 -> Int64 */
		{"u8", DIM_TYPE_FLOAT64, false}, /* UInt8 -> Float64 */
		{"signup", DIM_TYPE_DATETIME, false},
		{"seen", DIM_TYPE_DATE, false},
		{"plan", DIM_TYPE_STRING, true}, /* LowCardinality -> String */
		{"u32", DIM_TYPE_LC_STRING, false}, /* numbers as text */
	};
	spec.attrs = wide;
	spec.attr_count = 6;
	struct dim *d = NULL;
	cr_assert_eq(dim_load(&spec, &d, &st), 0, "%s", st.error);
	for (uint64_t n = 2; n < 300; n += 13) {
		struct user u;
		expect_user(n, &u);
		const struct dim_row *r = dim_find_u64(d, u.id);
		cr_assert_eq(dim_row_i64(dim_col(d, 0), r), u.i16);
		cr_assert_eq(dim_row_f64(dim_col(d, 1), r), (double)u.u8);
		cr_assert_eq(dim_row_u64(dim_col(d, 2), r), (uint64_t)u.signup * 86400);
		cr_assert_eq(dim_row_u64(dim_col(d, 3), r), u.seen / 86400);
		size_t l;
		const char *s = dim_row_str(dim_col(d, 4), r, &l);
		if (u.plan)
			cr_assert(str_is(s, l, u.plan, strlen(u.plan)));
		else
			cr_assert_null(s);
		char num[16];
		snprintf(num, sizeof(num), "%u", u.u32);
		s = dim_row_str(dim_col(d, 5), r, &l);
		cr_assert(str_is(s, l, num, strlen(num)));
	}
	dim_free(d);

	static const struct dim_attr_spec narrow[] = {{"u32", DIM_TYPE_UINT8, false}};
	spec.attrs = narrow;
	spec.attr_count = 1;
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "block 1: row 2: column 'u32'"), "%s", st.error);
	cr_assert(strstr(st.error, "out of range for UInt8"), "%s", st.error);
	free(data);
}

Test(dim_load, single_column_empty_lines_are_empty_keys)
{
	struct dim_load_stats st;
	struct dim *d = load_mem("k\na\n\nb\n", DIM_FORMAT_TSV, "k", DIM_TYPE_STRING, NULL, 0, 1, &st);
	cr_assert_eq(dim_rows(d), 3);
	cr_assert_not_null(dim_find_str(d, "", 0));
	cr_assert_not_null(dim_find_str(d, "b", 1));
	dim_free(d);
}

/* Three rows as ClickHouse wrote them, with columns of types that are not loaded in between:
 * SELECT number AS id, CAST([toString(number)], 'Array(LowCardinality(String))') AS tags,
 * CAST(if(number % 2 = 0, 'a', 'b'), 'Enum8(\'a\' = 1, \'b\' = 2)') AS e,
 * toDecimal64(number, 3) AS dec, toInt128(number) AS big, toIPv6('::1') AS ip,
 * CAST(if(number % 2 = 0, 'xy', 'zw'), 'LowCardinality(FixedString(2))') AS fs,
 * toDate32('1970-01-01') + number AS d32 FROM numbers(3) FORMAT Native */
static const char other_types_native[] =
	"08030269640655496e74363400000000000000000100000000000000020000000000000004746167731d4172"
	"726179284c6f7743617264696e616c69747928537472696e6729290100000000000000010000000000000002"
	"0000000000000003000000000000000006000000000000040000000000000000013001310132030000000000"
	"0000010203016517456e756d3828276127203d20312c20276227203d203229010201036465630e446563696d"
	"616c2831382c2033290000000000000000e803000000000000d0070000000000000362696706496e74313238"
	"0000000000000000000000000000000001000000000000000000000000000000020000000000000000000000"
	"0000000002697004495076360000000000000000000000000000000100000000000000000000000000000001"
	"000000000000000000000000000000010266731e4c6f7743617264696e616c69747928466978656453747269"
	"6e6728322929010000000000000000060000000000000300000000000000000078797a770300000000000000"
	"0102010364333206446174653332000000000100000002000000";

Test(dim_load, native_skips_columns_of_other_types)
{
	size_t len;
	uint8_t *data = t_hex_decode(other_types_native, &len);
	static const struct dim_attr_spec attrs[] = {{"fs", DIM_TYPE_LC_STRING, false},
						     {"d32", DIM_TYPE_DATE, false}};
	struct dim_spec spec = {.name = "n", .path = "other.native", .data = data, .data_len = len,
		.format = DIM_FORMAT_NATIVE, .key_column = "id", .key_type = DIM_TYPE_UINT64,
		.attrs = attrs, .attr_count = 2, .threads = 1};
	struct dim_load_stats st;
	struct dim *d = NULL;
	cr_assert_eq(dim_load(&spec, &d, &st), 0, "%s", st.error);
	cr_assert_eq(dim_rows(d), 3);
	for (uint64_t id = 0; id < 3; id++) {
		const struct dim_row *r = dim_find_u64(d, id);
		size_t l;
		const char *s = dim_row_str(dim_col(d, 0), r, &l);
		cr_assert(str_is(s, l, id % 2 ? "zw" : "xy", 2), "id %" PRIu64, id);
		cr_assert_eq(dim_row_u64(dim_col(d, 1), r), id);
	}
	dim_free(d);

	/* A column of such a type cannot be loaded: the message names it and its type. */
	static const struct dim_attr_spec tags[] = {{"tags", DIM_TYPE_STRING, false}};
	spec.attrs = tags;
	spec.attr_count = 1;
	load_fails(&spec, -EINVAL, &st);
	cr_assert(strstr(st.error, "other.native: block 1: column 'tags': type "
				   "'Array(LowCardinality(String))' cannot be loaded"),
		  "%s", st.error);
	free(data);
}
