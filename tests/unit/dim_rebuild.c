/*
 * Unit tests of a table rebuilt with a batch of changes (upserts, deletes, a key changed twice,
 * key 0) and of a snapshot's round trip (rows, offsets, base).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dim_rebuild.h"
#include "dim_snapshot.h"
#include "log.h"

static void quiet(void)
{
	log_level_set(LOG_LEVEL_ERROR);
}

TestSuite(dim_rebuild, .init = quiet);

static const struct dim_attr_spec attrs[] = {
	{"plan", DIM_TYPE_LC_STRING, true},
	{"n", DIM_TYPE_INT32, true},
	{"since", DIM_TYPE_DATE, false},
	{"note", DIM_TYPE_STRING, true},
};

static struct dim_spec spec_of(const char *text)
{
	return (struct dim_spec){.name = "t", .path = "mem.tsv", .data = text,
				 .data_len = strlen(text), .format = DIM_FORMAT_TSV,
				 .key_column = "id", .key_type = DIM_TYPE_UINT64, .attrs = attrs,
				 .attr_count = 4, .threads = 2};
}

static const char base[] = "id\tplan\tn\tsince\tnote\n"
			   "0\tfree\t-5\t2020-01-01\tzero\n"
			   "1\tfree\t1\t2020-01-02\t\\N\n"
			   "2\tpro\t\\N\t2020-01-03\ttwo\n"
			   "3\tpro\t3\t2020-01-04\tthree\n";

/* Attribute a of key k as text ("NULL" for NULL, "-" for a missing row). */
static const char *cell(const struct dim *d, uint64_t k, unsigned a)
{
	static char buf[64];
	const struct dim_row *row = dim_find_u64(d, k);
	if (!row)
		return "-";
	const struct dim_col *c = dim_col(d, a);
	if (dim_row_is_null(c, row))
		return "NULL";
	size_t len;
	const char *s;
	switch (c->type) {
	case DIM_TYPE_LC_STRING:
	case DIM_TYPE_STRING:
		s = dim_row_str(c, row, &len);
		snprintf(buf, sizeof(buf), "%.*s", (int)len, s);
		break;
	case DIM_TYPE_INT32:
		snprintf(buf, sizeof(buf), "%lld", (long long)dim_row_i64(c, row));
		break;
	default:
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)dim_row_u64(c, row));
		break;
	}
	return buf;
}

static const struct dim_str v_new[] = {{"team", 4}, {"42", 2}, {"2021-01-01", 10}, {NULL, 0}};
static const struct dim_str v_second[] = {{"pro", 3}, {NULL, 0}, {"", 0}, {"again", 5}};

Test(dim_rebuild, changes_replace_add_and_remove_rows)
{
	struct dim_spec spec = spec_of(base);
	struct dim *old, *d;
	cr_assert_eq(dim_load(&spec, &old, NULL), 0);
	struct dim_change changes[] = {
		{.key_u64 = 1, .values = v_new},          /* replaced */
		{.key_u64 = 2, .deleted = true},          /* removed */
		{.key_u64 = 9, .values = v_new},          /* added */
		{.key_u64 = 3, .deleted = true},          /* removed, then added again */
		{.key_u64 = 3, .values = v_second},
		{.key_u64 = 0, .values = v_second},       /* the key 0 row */
	};
	struct dim_load_stats st;
	cr_assert_eq(dim_rebuild(&spec, old, changes, 6, &d, &st), 0, "%s", st.error);
	cr_expect_eq(dim_rows(d), 4);
	cr_expect_str_eq(cell(d, 1, 0), "team");
	cr_expect_str_eq(cell(d, 1, 1), "42");
	cr_expect_str_eq(cell(d, 1, 3), "NULL");
	cr_expect_str_eq(cell(d, 2, 0), "-");
	cr_expect_str_eq(cell(d, 9, 2), "18628"); /* 2021-01-01 in days */
	cr_expect_str_eq(cell(d, 3, 1), "NULL");
	cr_expect_str_eq(cell(d, 3, 2), "0");     /* empty Date: its default */
	cr_expect_str_eq(cell(d, 3, 3), "again");
	cr_expect_str_eq(cell(d, 0, 3), "again");
	cr_expect_str_eq(cell(old, 2, 3), "two", "the old table is only read");
	dim_free(d);
	dim_free(old);
}

Test(dim_rebuild, a_value_that_does_not_convert)
{
	struct dim_spec spec = spec_of(base);
	static const struct dim_str bad[] = {{"x", 1}, {"many", 4}, {"2020-01-01", 10}, {NULL, 0}};
	struct dim_change c = {.key_u64 = 5, .values = bad};
	char err[256];
	cr_expect_eq(dim_change_check(&spec, &c, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "column 'n'"), "%s", err);
}

Test(dim_rebuild, snapshot_round_trip)
{
	struct dim_spec spec = spec_of(base);
	struct dim *d, *back;
	cr_assert_eq(dim_load(&spec, &d, NULL), 0);
	char dir[] = "/tmp/enrichd-unit-snapshot.XXXXXX";
	cr_assert(mkdtemp(dir));
	struct dim_snapshot_meta *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	snprintf(m->dimension, sizeof(m->dimension), "t");
	snprintf(m->topic, sizeof(m->topic), "t-changes");
	snprintf(m->cluster, sizeof(m->cluster), "c1");
	m->base = DIM_SNAPSHOT_BASE_POSTGRESQL;
	m->mark = (struct dim_pg_mark){.set = true, .text = "2026-01-01 00:00:00+00", .num = 7};
	m->partitions = 3;
	m->offsets[0] = 10, m->offsets[1] = 0, m->offsets[2] = 12345678901;
	cr_assert_eq(dim_snapshot_write(dir, &spec, d, m), 0);
	cr_assert_eq(dim_snapshot_load(dir, "t", &spec, r, &back, NULL), 0);
	cr_expect_str_eq(r->topic, "t-changes");
	cr_expect_str_eq(r->cluster, "c1");
	cr_expect_eq(r->base, DIM_SNAPSHOT_BASE_POSTGRESQL);
	cr_expect_str_eq(r->mark.text, "2026-01-01 00:00:00+00");
	cr_expect_eq(r->mark.num, 7);
	cr_expect_eq(r->partitions, 3);
	cr_expect_eq(r->offsets[2], 12345678901);
	cr_expect_eq(dim_rows(back), 4);
	for (uint64_t k = 0; k < 4; k++)
		for (unsigned a = 0; a < 4; a++) {
			char want[64];
			snprintf(want, sizeof(want), "%s", cell(d, k, a));
			cr_expect_str_eq(cell(back, k, a), want, "key %llu attr %u",
					 (unsigned long long)k, a);
		}
	cr_expect_eq(dim_snapshot_load(dir, "none", &spec, r, &back, NULL), -ENOENT);
	char path[512];
	snprintf(path, sizeof(path), "%s/t.snapshot", dir);
	unlink(path);
	rmdir(dir);
	free(m);
	free(r);
	dim_free(back);
	dim_free(d);
}
