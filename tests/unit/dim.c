/*
 * Unit tests of the dimension hash table: UInt64 and String keys, batch lookups, every
 * attribute type, dictionaries, and huge-page memory. Tables are loaded from TSV built in
 * memory (the loaders have their own suite).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dim.h"
#include "gen.h"
#include "helpers.h"
#include "huge.h"

static struct dim *load_tsv_lf(const char *name, const struct t_buf *b, const char *key,
			       enum dim_type key_type, const struct dim_attr_spec *attrs,
			       unsigned attr_count, unsigned threads, unsigned load_factor_pct)
{
	struct dim_spec spec = {
		.load_factor_pct = load_factor_pct,
		.name = name,
		.data = b->p,
		.data_len = b->len,
		.format = DIM_FORMAT_TSV,
		.key_column = key,
		.key_type = key_type,
		.attrs = attrs,
		.attr_count = attr_count,
		.threads = threads,
	};
	struct dim *d = NULL;
	struct dim_load_stats st;
	int rc = dim_load(&spec, &d, &st);
	cr_assert_eq(rc, 0, "load %s: %d %s", name, rc, st.error);
	cr_assert_not_null(d);
	return d;
}

static struct dim *load_tsv(const char *name, const struct t_buf *b, const char *key,
			    enum dim_type key_type, const struct dim_attr_spec *attrs,
			    unsigned attr_count, unsigned threads)
{
	return load_tsv_lf(name, b, key, key_type, attrs, attr_count, threads, 0);
}


static const char *const countries[] = {"US", "DE", "FR", "JP", "BR", "IN", "CN", "GB"};
static const char *const plans[] = {"free", "pro", "team"};

TestSuite(dim, .init = t_quiet);

Test(dim, u64_small_table)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "user_id\tcountry\tplan\tsignup_date\n");
	t_buf_printf(&b, "1\tUS\tfree\t2020-01-01\n");
	t_buf_printf(&b, "0\tDE\tpro\t1970-01-02\n");
	t_buf_printf(&b, "18446744073709551615\tFR\t\\N\t2149-06-06\n");
	t_buf_printf(&b, "42\tUS\tteam\t2000-02-29\n");
	static const struct dim_attr_spec attrs[] = {
		{"country", DIM_TYPE_LC_STRING, false},
		{"plan", DIM_TYPE_LC_STRING, true},
		{"signup_date", DIM_TYPE_DATE, false},
	};
	struct dim *d = load_tsv("users", &b, "user_id", DIM_TYPE_UINT64, attrs, 3, 1);
	cr_assert_eq(dim_rows(d), 4);
	cr_assert_eq(dim_key_type(d), DIM_TYPE_UINT64);
	cr_assert_eq(dim_attr_count(d), 3);
	cr_assert_str_eq(dim_attr_name(d, 1), "plan");
	cr_assert_eq(dim_attr_type(d, 2), DIM_TYPE_DATE);
	cr_assert(dim_attr_nullable(d, 1));
	cr_assert_eq(dim_attr_index(d, "signup_date"), 2);
	cr_assert_eq(dim_attr_index(d, "nope"), -ENOENT);
	cr_assert_eq(dim_slot_bytes(d), 16, "8-byte key + 1 + 1 + 2 bytes fit 16");

	const struct dim_col *country = dim_col(d, 0), *plan = dim_col(d, 1), *date = dim_col(d, 2);
	size_t n;
	const struct dim_str *dict = dim_lc_dict(d, 0, &n);
	cr_assert_eq(n, 4, "NULL + US, DE, FR");
	cr_assert_eq(dict[0].len, 0);
	cr_assert(dict[1].len == 2 && memcmp(dict[1].ptr, "US", 2) == 0);
	cr_assert(dict[2].len == 2 && memcmp(dict[2].ptr, "DE", 2) == 0);
	cr_assert(dict[3].len == 2 && memcmp(dict[3].ptr, "FR", 2) == 0);
	cr_assert_null(dim_lc_dict(d, 2, &n));
	cr_assert_eq(n, 0);

	const struct dim_row *r = dim_find_u64(d, 0);
	cr_assert_not_null(r, "key 0 (the empty-slot marker) is stored aside");
	cr_assert_eq(dim_row_key_u64(d, r), 0);
	cr_assert_eq(dim_row_lc(country, r), 2);
	cr_assert_eq(dim_row_u64(date, r), 1);
	r = dim_find_u64(d, UINT64_MAX);
	cr_assert_not_null(r);
	cr_assert(dim_row_is_null(plan, r));
	cr_assert_eq(dim_row_lc(plan, r), 0);
	cr_assert_eq(dim_row_u64(date, r), 65535);
	r = dim_find_u64(d, 42);
	size_t len;
	const char *s = dim_row_str(plan, r, &len);
	cr_assert(len == 4 && memcmp(s, "team", 4) == 0);
	cr_assert_eq(dim_row_u64(date, r), 11016);
	cr_assert_null(dim_find_u64(d, 2));
	cr_assert_null(dim_find_u64(d, 43));
	cr_assert_null(dim_find_str(d, "42", 2), "wrong key type misses");
	{
		struct dim_str sk = {"42", 2};
		uint64_t h, cand;
		const struct dim_row *sr = r;
		dim_probe_start_str(d, &sk, 1, &h, &cand);
		dim_probe_finish_str(d, &sk, &h, &cand, 1, &sr);
		cr_assert_null(sr, "wrong key type misses in the probe pipeline too");
	}

	/* A miss reads as NULL everywhere. */
	cr_assert(dim_row_is_null(country, NULL));
	cr_assert_eq(dim_row_lc(country, NULL), 0);
	cr_assert_eq(dim_row_u64(date, NULL), 0);
	cr_assert_null(dim_row_str(country, NULL, &len));
	cr_assert_eq(len, 0);
	dim_free(d);
	free(b.p);
}

static bool str_is(const char *p, size_t len, const char *want)
{
	return p && len == strlen(want) && memcmp(p, want, len) == 0;
}

/* Loads the count rows of b (3 attributes, 2 threads; b is freed) and checks the table's rows,
 * its slot size and its memory per row against the bound the design sets. */
static struct dim *load_large(const char *name, struct t_buf *b, const char *key,
			      enum dim_type key_type, const struct dim_attr_spec *attrs,
			      size_t count, size_t slot_bytes, double bytes_per_row_max)
{
	struct dim *d = load_tsv(name, b, key, key_type, attrs, 3, 2);
	free(b->p);
	cr_assert_eq(dim_rows(d), count);
	cr_assert_eq(dim_slot_bytes(d), slot_bytes);
	double per_row = (double)dim_bytes(d) / (double)count;
	cr_assert(per_row <= bytes_per_row_max, "%.1f B/row", per_row);
	return d;
}

/* What the large tests count over all their batches: each must end at 0. */
struct large_tally {
	size_t bad, missing, found_absent, differ;
};

/*
 * Tallies one batch of n lookups of the keys numbered base.. (present below count): the
 * worker's pipeline (its first m rows and hashes) against the batch lookup, absent keys found,
 * present keys missing. Puts the indexes j of the present keys' rows, to check, in found[];
 * returns how many.
 */
static size_t tally_batch(struct large_tally *t, size_t base, size_t n, size_t m, size_t count,
			  const struct dim_row *const *rows, const struct dim_row *const *rows2,
			  const uint64_t *hashes, const uint64_t *hashes2, size_t *found)
{
	for (size_t j = 0; j < m; j++)
		t->differ += rows2[j] != rows[j] || hashes2[j] != hashes[j];
	size_t k = 0;
	for (size_t j = 0; j < n; j++) {
		if (base + j >= count)
			t->found_absent += rows[j] != NULL;
		else if (!rows[j])
			t->missing++;
		else
			found[k++] = j;
	}
	return k;
}

static void tally_expect_none(const struct large_tally *t)
{
	cr_assert_eq(t->missing, 0);
	cr_assert_eq(t->bad, 0);
	cr_assert_eq(t->found_absent, 0);
	cr_assert_eq(t->differ, 0, "the probe pipeline differs from the batch lookup %zu times",
		     t->differ);
}

Test(dim, u64_three_million_keys, .timeout = 120)
{
	const size_t count = 3000000;
	struct t_buf b = {0};
	t_buf_printf(&b, "user_id\tcountry\tplan\tsignup_days\n");
	for (size_t i = 0; i < count; i++)
		t_buf_printf(&b, "%" PRIu64 "\t%s\t%s\t%zu\n", gen_mix64(i), countries[i % 8],
			     plans[i % 3], i % 20000);
	static const struct dim_attr_spec attrs[] = {
		{"country", DIM_TYPE_LC_STRING, false},
		{"plan", DIM_TYPE_LC_STRING, false},
		{"signup_days", DIM_TYPE_UINT16, false},
	};
	struct dim *d = load_large("users", &b, "user_id", DIM_TYPE_UINT64, attrs, count, 16, 40.0);

	const struct dim_col *country = dim_col(d, 0), *plan = dim_col(d, 1), *days = dim_col(d, 2);
	enum { BATCH = 256 };
	uint64_t keys[BATCH], hashes[BATCH], hashes2[BATCH];
	const struct dim_row *rows[BATCH], *rows2[BATCH];
	size_t found[BATCH];
	struct large_tally tally = {0};
	/* Keys gen_mix64(0..count) are present, gen_mix64(count..2 count) absent. */
	for (size_t base = 0; base < 2 * count; base += BATCH) {
		size_t n = 2 * count - base < BATCH ? 2 * count - base : BATCH;
		for (size_t j = 0; j < n; j++)
			keys[j] = gen_mix64(base + j);
		dim_hash_u64(d, keys, n, hashes);
		dim_prefetch(d, hashes, n);
		dim_lookup_u64(d, keys, hashes, n, rows);
		/* The worker's pipeline finds the same rows, for batches shorter than its distance
		 * too. */
		size_t m = 1 + (base / BATCH) % n;
		dim_probe_start_u64(d, keys, m, hashes2, rows2);
		size_t nf = tally_batch(&tally, base, n, m, count, rows, rows2, hashes, hashes2,
					found);
		for (size_t f = 0; f < nf; f++) {
			size_t j = found[f], i = base + j;
			size_t clen, plen;
			const char *c = dim_row_str(country, rows[j], &clen);
			const char *p = dim_row_str(plan, rows[j], &plen);
			tally.bad += dim_row_key_u64(d, rows[j]) != keys[j] ||
				     !str_is(c, clen, countries[i % 8]) ||
				     !str_is(p, plen, plans[i % 3]) ||
				     dim_row_u64(days, rows[j]) != i % 20000;
		}
	}
	tally_expect_none(&tally);
	dim_free(d);
}

/*
 * A probe decides most keys from their home line alone and walks on for the rest (a line full
 * of other keys). In full tables (90%), where many lines are full and walks cross shard ends,
 * at every slot size and in tables of one line per shard, the worker's pipeline and the batch
 * lookup find exactly what the plain walk (dim_find_*) and the source say.
 */
Test(dim, line_probes_agree_with_the_walk, .timeout = 120)
{
	static const struct dim_attr_spec attrs[] = {
		{"a", DIM_TYPE_UINT64, false}, {"b", DIM_TYPE_UINT64, false},
		{"c", DIM_TYPE_UINT64, false}, {"d", DIM_TYPE_UINT64, false},
		{"e", DIM_TYPE_UINT64, false}, {"f", DIM_TYPE_UINT64, false},
		{"g", DIM_TYPE_UINT64, false},
	};
	static const unsigned attr_counts[] = {0, 1, 3, 7}; /* slots of 8, 16, 32, 64 bytes */
	static const size_t row_counts[] = {5, 60000};
	static const unsigned load_factors[] = {90, 50};
	enum { BATCH = 256 };
	struct t_buf b = {0};
	uint64_t keys[BATCH], hashes[BATCH], hashes2[BATCH];
	const struct dim_row *rows[BATCH], *rows2[BATCH];
	for (unsigned ac = 0; ac < 4; ac++)
	for (unsigned rc = 0; rc < 2; rc++)
	for (unsigned lf = 0; lf < 2; lf++) {
		unsigned na = attr_counts[ac];
		size_t count = row_counts[rc];
		bool zero = (ac + rc + lf) % 2 == 0; /* key 0 (its own slot) present or not */
		b.len = 0;
		t_buf_printf(&b, "id");
		for (unsigned a = 0; a < na; a++)
			t_buf_printf(&b, "\t%s", attrs[a].column);
		t_buf_printf(&b, "\n");
		for (size_t i = 0; i < count; i++) {
			uint64_t key = zero && i == 0 ? 0 : gen_mix64(i + 1);
			t_buf_printf(&b, "%" PRIu64, key);
			for (unsigned a = 0; a < na; a++)
				t_buf_printf(&b, "\t%zu", i + a);
			t_buf_printf(&b, "\n");
		}
		struct dim *d = load_tsv_lf("lines", &b, "id", DIM_TYPE_UINT64, attrs, na, 2,
					    load_factors[lf]);
		cr_assert_eq(dim_slot_bytes(d), na == 7 ? 64 : 8u << ac);
		size_t wrong = 0;
		/* Present keys (i < count), absent ones, and key 0 once per batch. */
		for (size_t base = 0; base < 2 * count; base += BATCH - 1) {
			size_t n = 2 * count - base < BATCH - 1 ? 2 * count - base : BATCH - 1;
			for (size_t j = 0; j < n; j++)
				/* row base + j's key, or absent */
				keys[j] = gen_mix64(base + j + 1);
			keys[n] = 0;
			size_t m = n + 1;
			dim_probe_start_u64(d, keys, m, hashes2, rows2);
			dim_hash_u64(d, keys, m, hashes);
			dim_prefetch(d, hashes, m);
			dim_lookup_u64(d, keys, hashes, m, rows);
			for (size_t j = 0; j < m; j++) {
				const struct dim_row *want = dim_find_u64(d, keys[j]);
				size_t i = keys[j] == 0 ? 0 : base + j;
				bool present = keys[j] == 0 ? zero : i < count && !(zero && i == 0);
				wrong += rows[j] != want || rows2[j] != want ||
					 hashes2[j] != hashes[j] || (want != NULL) != present;
				for (unsigned a = 0; want && a < na; a++)
					wrong += dim_row_u64(dim_col(d, a), want) != i + a;
			}
		}
		cr_assert_eq(wrong, 0, "%u attributes, %zu rows at %u%%: %zu wrong", na, count,
			     load_factors[lf], wrong);
		dim_free(d);
	}

	/* String keys of 1 to 45 bytes (the row number, then 0..39 dots), at 90%; absent keys
	 * end in '!'. */
	const size_t count = 60000;
	b.len = 0;
	t_buf_printf(&b, "k\ta\n");
	static const char dots[] = "........................................";
	for (size_t i = 0; i < count; i++)
		t_buf_printf(&b, "%zu%.*s\t%zu\n", i, (int)(i % 40), dots, i);
	struct dim *d = load_tsv_lf("lines", &b, "k", DIM_TYPE_STRING, attrs, 1, 2, 90);
	cr_assert_eq(dim_rows(d), count);
	char keybuf[BATCH][64];
	struct dim_str skeys[BATCH];
	uint64_t cand[BATCH];
	size_t wrong = 0;
	for (size_t base = 0; base < 2 * count; base += BATCH) {
		size_t n = 2 * count - base < BATCH ? 2 * count - base : BATCH;
		for (size_t j = 0; j < n; j++) {
			size_t i = (base + j) % count;
			int len = snprintf(keybuf[j], sizeof(keybuf[j]), "%zu%.*s%s", i, (int)(i % 40),
					   dots, base + j >= count ? "!" : "");
			skeys[j] = (struct dim_str){keybuf[j], (size_t)len};
		}
		dim_probe_start_str(d, skeys, n, hashes2, cand);
		dim_probe_finish_str(d, skeys, hashes2, cand, n, rows2);
		dim_hash_str(d, skeys, n, hashes);
		dim_prefetch(d, hashes, n);
		dim_lookup_str(d, skeys, hashes, n, rows);
		for (size_t j = 0; j < n; j++) {
			const struct dim_row *want = dim_find_str(d, skeys[j].ptr, skeys[j].len);
			bool present = base + j < count;
			wrong += rows[j] != want || rows2[j] != want || hashes2[j] != hashes[j] ||
				 (want != NULL) != present ||
				 (want && dim_row_u64(dim_col(d, 0), want) != base + j);
		}
	}
	cr_assert_eq(wrong, 0, "String keys: %zu wrong", wrong);
	dim_free(d);
	free(b.p);
}

/* A 21-byte device id, distinct for distinct i. */
static size_t device_key(size_t i, char *out)
{
	return (size_t)snprintf(out, 32, "d%020" PRIu64, gen_mix64(i));
}

static const char *const types[] = {"mobile", "desktop", "tablet", "tv"};
static const char *const oses[] = {"android", "ios", "windows", "macos", "linux"};
static const char *const browsers[] = {"chrome", "safari", "firefox", "edge", "opera", "app"};

Test(dim, string_three_million_keys, .timeout = 120)
{
	const size_t count = 3000000;
	struct t_buf b = {0};
	t_buf_printf(&b, "device_id\tdevice_type\tos\tbrowser\n");
	char key[32];
	for (size_t i = 0; i < count; i++) {
		device_key(i, key);
		t_buf_printf(&b, "%s\t%s\t%s\t%s\n", key, types[i % 4], oses[i % 5],
			     browsers[i % 6]);
	}
	static const struct dim_attr_spec attrs[] = {
		{"device_type", DIM_TYPE_LC_STRING, false},
		{"os", DIM_TYPE_LC_STRING, false},
		{"browser", DIM_TYPE_LC_STRING, false},
	};
	struct dim *d = load_large("devices", &b, "device_id", DIM_TYPE_STRING, attrs, count, 8,
				   64.0);

	const struct dim_col *type = dim_col(d, 0), *os = dim_col(d, 1), *browser = dim_col(d, 2);
	enum { BATCH = 100 };
	char keybuf[BATCH][32];
	struct dim_str keys[BATCH];
	uint64_t hashes[BATCH], hashes2[BATCH], cand[BATCH];
	const struct dim_row *rows[BATCH], *rows2[BATCH];
	size_t found[BATCH], straddle = 0;
	struct large_tally tally = {0};
	for (size_t base = 0; base < 2 * count; base += BATCH) {
		size_t n = 2 * count - base < BATCH ? 2 * count - base : BATCH;
		for (size_t j = 0; j < n; j++)
			keys[j] = (struct dim_str){keybuf[j], device_key(base + j, keybuf[j])};
		dim_hash_str(d, keys, n, hashes);
		dim_prefetch(d, hashes, n);
		dim_lookup_str(d, keys, hashes, n, rows);
		size_t m = 1 + (base / BATCH) % n;
		dim_probe_start_str(d, keys, m, hashes2, cand);
		dim_probe_finish_str(d, keys, hashes2, cand, m, rows2);
		size_t nf = tally_batch(&tally, base, n, m, count, rows, rows2, hashes, hashes2,
					found);
		for (size_t f = 0; f < nf; f++) {
			size_t j = found[f], i = base + j;
			size_t l1, l2, l3;
			const char *t = dim_row_str(type, rows[j], &l1);
			const char *o = dim_row_str(os, rows[j], &l2);
			const char *br = dim_row_str(browser, rows[j], &l3);
			struct dim_str k = dim_row_key_str(d, rows[j]);
			/* A record (attributes, key) of under a cache line sits within one. */
			uintptr_t rec = (uintptr_t)rows[j];
			straddle += (rec & 63) + ((uintptr_t)k.ptr + k.len - rec) > 64;
			tally.bad += k.len != keys[j].len ||
				     memcmp(k.ptr, keys[j].ptr, k.len) != 0 ||
				     !str_is(t, l1, types[i % 4]) || !str_is(o, l2, oses[i % 5]) ||
				     !str_is(br, l3, browsers[i % 6]);
		}
	}
	tally_expect_none(&tally);
	/* The padding budget is an estimate: a shard may run out near its end. */
	cr_assert_leq(straddle, count / 1000, "%zu of %zu records straddle two cache lines", straddle,
		      count);
	dim_free(d);
}

/* A candidate is the record of the key's first tag match; when that record holds another key
 * (a tag two keys share), the finish walks the key's slots again and still finds its row. */
Test(dim, string_candidate_of_another_key_walks_again)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "k\tv\n");
	char key[32];
	for (size_t i = 0; i < 1000; i++) {
		device_key(i, key);
		t_buf_printf(&b, "%s\t%zu\n", key, i % 7);
	}
	static const struct dim_attr_spec attrs[] = {{"v", DIM_TYPE_LC_STRING, false}};
	struct dim *d = load_tsv("keys", &b, "k", DIM_TYPE_STRING, attrs, 1, 1);
	free(b.p);
	char kb[3][32];
	struct dim_str keys[3] = {
		{kb[0], device_key(3, kb[0])},
		{kb[1], device_key(500, kb[1])},
		{kb[2], device_key(5000, kb[2])}, /* absent */
	};
	uint64_t hashes[3], cand[3];
	const struct dim_row *rows[3];
	dim_probe_start_str(d, keys, 3, hashes, cand);
	cr_assert_neq(cand[0], UINT64_MAX);
	cr_assert_neq(cand[1], UINT64_MAX);
	uint64_t swapped[3] = {cand[1], cand[0], cand[0]};
	dim_probe_finish_str(d, keys, hashes, swapped, 3, rows);
	for (size_t j = 0; j < 2; j++) {
		cr_assert_not_null(rows[j]);
		struct dim_str k = dim_row_key_str(d, rows[j]);
		cr_assert(k.len == keys[j].len && memcmp(k.ptr, keys[j].ptr, k.len) == 0,
			  "key %zu found another key's row", j);
		cr_assert_eq(rows[j], dim_find_str(d, keys[j].ptr, keys[j].len));
	}
	cr_assert_null(rows[2], "an absent key matched a present key's record");
	dim_free(d);
}

Test(dim, string_similar_empty_and_long_keys, .timeout = 60)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "k\tv\n");
	size_t n = 0;
	/* The empty key, then prefixes of one another: "a", "aa", ... */
	t_buf_printf(&b, "\t%zu\n", n++);
	char a[256];
	for (size_t len = 1; len <= 200; len++) {
		memset(a, 'a', len);
		a[len] = '\0';
		t_buf_printf(&b, "%s\t%zu\n", a, n++);
	}
	/* Keys that differ in their last byte only. */
	for (unsigned i = 0; i < 1000; i++)
		t_buf_printf(&b, "k%03u\t%zu\n", i, n++);
	/* Keys with a NUL byte (TSV escape \0), and a key that is their prefix. */
	t_buf_printf(&b, "x\t%zu\nx\\0\t%zu\nx\\0y\t%zu\n", n, n + 1, n + 2);
	n += 3;
	/* Long keys: 100000 bytes differing in the last one, and one of the maximum length. */
	char *big = malloc(DIM_STR_LEN_MAX + 1);
	cr_assert_not_null(big);
	memset(big, 'z', DIM_STR_LEN_MAX);
	for (char last = '1'; last <= '2'; last++) {
		big[99999] = last;
		t_buf_put(&b, big, 100000);
		t_buf_printf(&b, "\t%zu\n", n++);
	}
	big[99999] = 'z';
	t_buf_put(&b, big, DIM_STR_LEN_MAX);
	t_buf_printf(&b, "\t%zu\n", n++);
	static const struct dim_attr_spec attrs[] = {{"v", DIM_TYPE_UINT32, false}};
	struct dim_spec spec = {.name = "keys", .data = b.p, .data_len = b.len,
		.format = DIM_FORMAT_TSV, .key_column = "k", .key_type = DIM_TYPE_STRING,
		.attrs = attrs, .attr_count = 1, .threads = 2, .load_factor_pct = 90};
	struct dim *d = NULL;
	struct dim_load_stats st;
	cr_assert_eq(dim_load(&spec, &d, &st), 0, "%s", st.error);
	cr_assert_eq(dim_rows(d), n);
	cr_assert_eq(st.duplicates, 0);
	const struct dim_col *v = dim_col(d, 0);

	size_t i = 0;
	cr_assert_eq(dim_row_u64(v, dim_find_str(d, "", 0)), i++);
	for (size_t len = 1; len <= 200; len++) {
		memset(a, 'a', len);
		cr_assert_eq(dim_row_u64(v, dim_find_str(d, a, len)), i++, "a x %zu", len);
	}
	memset(a, 'a', 201);
	cr_assert_null(dim_find_str(d, a, 201));
	for (unsigned k = 0; k < 1000; k++) {
		char key[8];
		snprintf(key, sizeof(key), "k%03u", k);
		cr_assert_eq(dim_row_u64(v, dim_find_str(d, key, 4)), i++, "%s", key);
	}
	cr_assert_null(dim_find_str(d, "k1000", 5));
	cr_assert_null(dim_find_str(d, "k", 1));
	cr_assert_eq(dim_row_u64(v, dim_find_str(d, "x", 1)), i++);
	cr_assert_eq(dim_row_u64(v, dim_find_str(d, "x\0", 2)), i++);
	cr_assert_eq(dim_row_u64(v, dim_find_str(d, "x\0y", 3)), i++);
	cr_assert_null(dim_find_str(d, "x\0y\0", 4));
	for (char last = '1'; last <= '2'; last++) {
		big[99999] = last;
		const struct dim_row *r = dim_find_str(d, big, 100000);
		cr_assert_eq(dim_row_u64(v, r), i++);
		struct dim_str k = dim_row_key_str(d, r);
		cr_assert(k.len == 100000 && memcmp(k.ptr, big, k.len) == 0);
	}
	big[99999] = '3';
	cr_assert_null(dim_find_str(d, big, 100000));
	big[99999] = 'z';
	cr_assert_eq(dim_row_u64(v, dim_find_str(d, big, DIM_STR_LEN_MAX)), i++);
	cr_assert_null(dim_find_str(d, big, DIM_STR_LEN_MAX - 1));
	dim_free(d);

	/* One byte over the bound is a load error. */
	t_buf_put(&b, big, DIM_STR_LEN_MAX + 1);
	t_buf_printf(&b, "\t1\n");
	spec.data = b.p;
	spec.data_len = b.len;
	d = NULL;
	cr_assert_eq(dim_load(&spec, &d, &st), -EINVAL);
	cr_assert_null(d);
	cr_assert(strstr(st.error, "exceeds"), "%s", st.error);
	free(big);
	free(b.p);
}

Test(dim, attribute_types_and_nulls)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "k\ts\tsn\tlc\tlcn\tu8\ti8\tu16\ti16\tu32\ti32\tu64\ti64\tf\tfn\td"
			 "\tdt\tin\n");
	t_buf_printf(&b, "min\t\t\t\t\t0\t-128\t0\t-32768\t0\t-2147483648\t0\t-9223372036854775808"
			 "\t-0\t-1.5e-300\t1970-01-01\t1970-01-01 00:00:00\t-1\n");
	t_buf_printf(&b, "max\tx\\ty\tz\tUS\tpro\t255\t127\t65535\t32767\t4294967295\t2147483647"
			 "\t18446744073709551615\t9223372036854775807\t1e300\tinf\t2149-06-06"
			 "\t2106-02-07 06:28:15\t2147483647\n");
	t_buf_printf(&b, "null\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N"
			 "\t\\N\t\\N\t\\N\t\\N\n");
	static const struct dim_attr_spec attrs[] = {
		{"s", DIM_TYPE_STRING, false},      {"sn", DIM_TYPE_STRING, true},
		{"lc", DIM_TYPE_LC_STRING, false},  {"lcn", DIM_TYPE_LC_STRING, true},
		{"u8", DIM_TYPE_UINT8, false},      {"i8", DIM_TYPE_INT8, false},
		{"u16", DIM_TYPE_UINT16, false},    {"i16", DIM_TYPE_INT16, false},
		{"u32", DIM_TYPE_UINT32, false},    {"i32", DIM_TYPE_INT32, false},
		{"u64", DIM_TYPE_UINT64, false},    {"i64", DIM_TYPE_INT64, false},
		{"f", DIM_TYPE_FLOAT64, false},     {"fn", DIM_TYPE_FLOAT64, true},
		{"d", DIM_TYPE_DATE, false},        {"dt", DIM_TYPE_DATETIME, false},
		{"in", DIM_TYPE_INT32, true},
	};
	enum { S, SN, LC, LCN, U8, I8, U16, I16, U32, I32, U64, I64, F, FN, D, DT, IN, NATTR };
	struct dim *d = load_tsv("types", &b, "k", DIM_TYPE_STRING, attrs, NATTR, 1);
	const struct dim_col *c[NATTR];
	for (unsigned a = 0; a < NATTR; a++)
		c[a] = dim_col(d, a);
	cr_assert_eq(c[LC]->width, 1);
	cr_assert_eq(c[I64]->width, 8);
	cr_assert_eq(c[D]->width, 2);

	const struct dim_row *r = dim_find_str(d, "min", 3);
	cr_assert_not_null(r);
	size_t len;
	const char *s = dim_row_str(c[S], r, &len);
	cr_assert(s && len == 0, "an empty String is not NULL");
	cr_assert_not(dim_row_is_null(c[S], r));
	cr_assert_not(dim_row_is_null(c[SN], r));
	cr_assert_neq(dim_row_lc(c[LC], r), 0, "'' has a code of its own");
	cr_assert_neq(dim_row_lc(c[LCN], r), 0);
	cr_assert_eq(dim_row_i64(c[I8], r), -128);
	cr_assert_eq(dim_row_i64(c[I16], r), -32768);
	cr_assert_eq(dim_row_i64(c[I32], r), INT32_MIN);
	cr_assert_eq(dim_row_i64(c[I64], r), INT64_MIN);
	cr_assert_eq(dim_row_u64(c[U64], r), 0);
	double f = dim_row_f64(c[F], r);
	cr_assert(f == 0.0 && signbit(f), "-0 keeps its sign");
	cr_assert_eq(dim_row_f64(c[FN], r), -1.5e-300);
	cr_assert_eq(dim_row_u64(c[D], r), 0);
	cr_assert_eq(dim_row_u64(c[DT], r), 0);
	cr_assert_eq(dim_row_i64(c[IN], r), -1);
	cr_assert_not(dim_row_is_null(c[IN], r));

	r = dim_find_str(d, "max", 3);
	s = dim_row_str(c[S], r, &len);
	cr_assert(len == 3 && memcmp(s, "x\ty", 3) == 0);
	s = dim_row_str(c[LC], r, &len);
	cr_assert(len == 2 && memcmp(s, "US", 2) == 0);
	cr_assert_eq(dim_row_u64(c[U8], r), 255);
	cr_assert_eq(dim_row_i64(c[I8], r), 127);
	cr_assert_eq(dim_row_u64(c[U16], r), 65535);
	cr_assert_eq(dim_row_i64(c[I16], r), 32767);
	cr_assert_eq(dim_row_u64(c[U32], r), UINT32_MAX);
	cr_assert_eq(dim_row_i64(c[I32], r), INT32_MAX);
	cr_assert_eq(dim_row_u64(c[U64], r), UINT64_MAX);
	cr_assert_eq(dim_row_i64(c[I64], r), INT64_MAX);
	cr_assert_eq(dim_row_f64(c[F], r), 1e300);
	cr_assert(isinf(dim_row_f64(c[FN], r)));
	cr_assert_eq(dim_row_u64(c[D], r), 65535);
	cr_assert_eq(dim_row_u64(c[DT], r), UINT32_MAX);
	cr_assert_eq(dim_row_i64(c[IN], r), INT32_MAX);

	/* \N: NULL in Nullable columns, the default in the others. */
	r = dim_find_str(d, "null", 4);
	s = dim_row_str(c[S], r, &len);
	cr_assert(s && len == 0);
	cr_assert_not(dim_row_is_null(c[S], r));
	cr_assert_null(dim_row_str(c[SN], r, &len));
	cr_assert(dim_row_is_null(c[SN], r));
	cr_assert_eq(dim_row_lc(c[LC], r), dim_row_lc(c[LC], dim_find_str(d, "min", 3)),
		     "non-Nullable LC: \\N is ''");
	cr_assert_eq(dim_row_lc(c[LCN], r), 0);
	cr_assert(dim_row_is_null(c[LCN], r));
	cr_assert_eq(dim_row_u64(c[U8], r), 0);
	cr_assert_not(dim_row_is_null(c[U8], r));
	cr_assert(dim_row_is_null(c[FN], r));
	cr_assert(dim_row_is_null(c[IN], r));
	cr_assert_eq(dim_row_i64(c[IN], r), 0);
	cr_assert_not(dim_row_is_null(c[IN], dim_find_str(d, "max", 3)));
	cr_assert_eq(dim_row_u64(c[D], r), 0);
	dim_free(d);
	free(b.p);
}

Test(dim, lc_code_width_follows_dictionary)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "id\tsmall\tmid\tbig\n");
	for (unsigned i = 1; i <= 70000; i++)
		t_buf_printf(&b, "%u\tv%u\tv%u\tv%u\n", i, i % 255, i % 300, i);
	static const struct dim_attr_spec attrs[] = {
		{"small", DIM_TYPE_LC_STRING, true},
		{"mid", DIM_TYPE_LC_STRING, true},
		{"big", DIM_TYPE_LC_STRING, true},
	};
	struct dim *d = load_tsv("lc", &b, "id", DIM_TYPE_UINT64, attrs, 3, 2);
	cr_assert_eq(dim_col(d, 0)->width, 1, "255 values + NULL fit a byte");
	cr_assert_eq(dim_col(d, 1)->width, 2);
	cr_assert_eq(dim_col(d, 2)->width, 4);
	cr_assert_eq(dim_slot_bytes(d), 16);
	size_t count;
	const struct dim_str *dict = dim_lc_dict(d, 2, &count);
	cr_assert_eq(count, 70001);
	for (unsigned i = 1; i <= 70000; i += 997) {
		const struct dim_row *r = dim_find_u64(d, i);
		char want[16];
		snprintf(want, sizeof(want), "v%u", i);
		uint32_t code = dim_row_lc(dim_col(d, 2), r);
		cr_assert_eq(code, i, "codes follow first appearance");
		cr_assert(str_is(dict[code].ptr, dict[code].len, want));
		snprintf(want, sizeof(want), "v%u", i % 300);
		size_t len;
		const char *s = dim_row_str(dim_col(d, 1), r, &len);
		cr_assert(str_is(s, len, want));
	}
	dim_free(d);
	free(b.p);
}

Test(dim, wide_rows_and_empty_table)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "id\ta\tb\tc\td\te\tf\tg\th\tx\n");
	for (unsigned i = 1; i <= 1000; i++)
		t_buf_printf(&b, "%u\t%u\t%u\t%u\t%u\t%u\t%u\t%u\t%u\tignored\n", i, i, i + 1,
			     i + 2, i + 3, i + 4, i + 5, i + 6, i + 7);
	struct dim_attr_spec attrs[8];
	static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	for (unsigned a = 0; a < 8; a++)
		attrs[a] = (struct dim_attr_spec){names[a], DIM_TYPE_UINT64, true};
	struct dim *d = load_tsv("wide", &b, "id", DIM_TYPE_UINT64, attrs, 8, 2);
	cr_assert_eq(dim_slot_bytes(d), 128, "8 + 64 + 1 null byte -> 128");
	for (unsigned i = 1; i <= 1000; i++) {
		const struct dim_row *r = dim_find_u64(d, i);
		for (unsigned a = 0; a < 8; a++)
			cr_assert_eq(dim_row_u64(dim_col(d, a), r), i + a);
	}
	dim_free(d);

	b.len = 0;
	t_buf_printf(&b, "id\ta\n");
	d = load_tsv("empty", &b, "id", DIM_TYPE_UINT64, attrs, 1, 0);
	cr_assert_eq(dim_rows(d), 0);
	cr_assert_null(dim_find_u64(d, 1));
	cr_assert_null(dim_find_u64(d, 0));
	dim_free(d);
	free(b.p);
}

Test(dim, same_table_with_any_thread_count)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "id\tcountry\n");
	for (unsigned i = 0; i < 200000; i++)
		t_buf_printf(&b, "%" PRIu64 "\tc%u\n", gen_mix64(i % 150000),
			     (unsigned)(gen_mix64(i) % 1000));
	static const struct dim_attr_spec attrs[] = {{"country", DIM_TYPE_LC_STRING, false}};
	struct dim *one = load_tsv("t1", &b, "id", DIM_TYPE_UINT64, attrs, 1, 1);
	struct dim *many = load_tsv("t5", &b, "id", DIM_TYPE_UINT64, attrs, 1, 5);
	cr_assert_eq(dim_rows(one), 150000);
	cr_assert_eq(dim_rows(many), 150000);
	size_t n1, n2;
	const struct dim_str *d1 = dim_lc_dict(one, 0, &n1), *d2 = dim_lc_dict(many, 0, &n2);
	cr_assert_eq(n1, n2);
	for (size_t c = 0; c < n1; c++)
		cr_assert(d1[c].len == d2[c].len && memcmp(d1[c].ptr, d2[c].ptr, d1[c].len) == 0);
	for (unsigned i = 0; i < 150000; i++) {
		uint64_t k = gen_mix64(i);
		uint32_t c1 = dim_row_lc(dim_col(one, 0), dim_find_u64(one, k));
		uint32_t c2 = dim_row_lc(dim_col(many, 0), dim_find_u64(many, k));
		cr_assert_eq(c1, c2);
		/* The last of the two rows with this key wins: row i + 150000 when it exists. */
		unsigned last = i + 150000 < 200000 ? i + 150000 : i;
		char want[8];
		snprintf(want, sizeof(want), "c%u", (unsigned)(gen_mix64(last) % 1000));
		cr_assert(str_is(d1[c1].ptr, d1[c1].len, want));
	}
	dim_free(one);
	dim_free(many);
	free(b.p);
}

Test(dim, huge_memory)
{
	cr_assert_str_eq(huge_mode_name(HUGE_MODE_HUGETLB), "hugetlb");
	cr_assert_str_eq(huge_mode_name(HUGE_MODE_THP), "thp");
	cr_assert_str_eq(huge_mode_name(HUGE_MODE_4K), "4k");
	enum huge_mode m;
	cr_assert_eq(huge_mode_parse("thp", &m), 0);
	cr_assert_eq(m, HUGE_MODE_THP);
	cr_assert_eq(huge_mode_parse("2m", &m), -EINVAL);
	cr_assert_eq(huge_size(1), HUGE_PAGE_BYTES);
	cr_assert_eq(huge_size(HUGE_PAGE_BYTES + 1), 2 * HUGE_PAGE_BYTES);

	static const enum huge_mode modes[] = {HUGE_MODE_AUTO, HUGE_MODE_4K, HUGE_MODE_THP};
	for (size_t i = 0; i < 3; i++) {
		m = modes[i];
		size_t bytes = 5 * HUGE_PAGE_BYTES + 123;
		unsigned char *p = huge_alloc(bytes, &m);
		if (!p && modes[i] == HUGE_MODE_THP)
			continue; /* transparent huge pages switched off here */
		cr_assert_not_null(p, "mode %s", huge_mode_name(modes[i]));
		cr_assert_neq(m, HUGE_MODE_AUTO, "the mode used is reported");
		if (modes[i] != HUGE_MODE_AUTO)
			cr_assert_eq(m, modes[i], "a forced mode is used as is");
		cr_assert_eq((uintptr_t)p % HUGE_PAGE_BYTES, 0);
		size_t nonzero = 0;
		for (size_t k = 0; k < bytes; k += 4096)
			nonzero += p[k] != 0;
		cr_assert_eq(nonzero, 0);
		memset(p, 0xab, bytes);
		huge_free(p, bytes);
	}
	m = HUGE_MODE_AUTO;
	cr_assert_null(huge_alloc(0, &m));

	/* The process default applies to tables loaded with HUGE_MODE_AUTO. */
	huge_mode_default_set(HUGE_MODE_4K);
	struct t_buf b = {0};
	t_buf_printf(&b, "id\n1\n2\n");
	struct dim *d = load_tsv("pages", &b, "id", DIM_TYPE_UINT64, NULL, 0, 1);
	huge_mode_default_set(HUGE_MODE_AUTO);
	cr_assert_eq(dim_huge_mode(d), HUGE_MODE_4K);
	cr_assert_eq(dim_slot_bytes(d), 8, "a key-only table has 8-byte slots");
	cr_assert_not_null(dim_find_u64(d, 2));
	dim_free(d);
	free(b.p);
}

Test(dim, type_and_format_names)
{
	enum dim_type t;
	bool nullable;
	cr_assert_eq(dim_type_parse("UInt64", &t, &nullable), 0);
	cr_assert(t == DIM_TYPE_UINT64 && !nullable);
	cr_assert_eq(dim_type_parse("Nullable(Date)", &t, &nullable), 0);
	cr_assert(t == DIM_TYPE_DATE && nullable);
	cr_assert_eq(dim_type_parse("LowCardinality(String)", &t, &nullable), 0);
	cr_assert(t == DIM_TYPE_LC_STRING && !nullable);
	cr_assert_eq(dim_type_parse("LowCardinality(Nullable(String))", &t, &nullable), 0);
	cr_assert(t == DIM_TYPE_LC_STRING && nullable);
	cr_assert_eq(dim_type_parse("LowCardinality(UInt8)", &t, &nullable), -EINVAL);
	cr_assert_eq(dim_type_parse("Nullable(Nullable(String))", &t, &nullable), -EINVAL);
	cr_assert_eq(dim_type_parse("Decimal(9, 2)", &t, &nullable), -EINVAL);
	cr_assert_eq(dim_type_parse("", &t, &nullable), -EINVAL);
	cr_assert_str_eq(dim_type_name(DIM_TYPE_LC_STRING), "LowCardinality(String)");
	cr_assert_str_eq(dim_type_name(DIM_TYPE_DATETIME), "DateTime");
	enum dim_format f;
	cr_assert_eq(dim_format_parse("csv", &f), 0);
	cr_assert_eq(f, DIM_FORMAT_CSV);
	cr_assert_eq(dim_format_parse("parquet", &f), -EINVAL);
	cr_assert_str_eq(dim_format_name(DIM_FORMAT_NATIVE), "native");
}

Test(dim, capacity_follows_row_count)
{
	/* 700000 rows: a single power-of-two table at 60% would need 2^21 slots (48 B/row). */
	const size_t count = 700000;
	struct t_buf b = {0};
	t_buf_printf(&b, "id\tv\n");
	for (size_t i = 0; i < count; i++)
		t_buf_printf(&b, "%" PRIu64 "\t%zu\n", gen_mix64(i + 1), i % 200);
	static const struct dim_attr_spec attrs[] = {{"v", DIM_TYPE_UINT8, false}};
	struct dim *d = load_tsv("cap", &b, "id", DIM_TYPE_UINT64, attrs, 1, 2);
	size_t want = count * 100 / DIM_LOAD_FACTOR_PCT_DEFAULT;
	cr_assert_geq(dim_capacity(d), want);
	cr_assert_leq(dim_capacity(d), want + want / 20, "capacity %zu for %zu rows",
		      dim_capacity(d), count);
	for (size_t i = 0; i < count; i++)
		cr_assert_eq(dim_row_u64(dim_col(d, 0), dim_find_u64(d, gen_mix64(i + 1))),
			     i % 200);
	dim_free(d);
	free(b.p);
}

Test(dim, numa_placement)
{
	struct t_buf b = {0};
	t_buf_printf(&b, "id\tv\n1\tx\n2\ty\n");
	static const struct dim_attr_spec attrs[] = {{"v", DIM_TYPE_STRING, false}};
	struct dim_spec spec = {.name = "numa", .data = b.p, .data_len = b.len,
		.format = DIM_FORMAT_TSV, .key_column = "id", .key_type = DIM_TYPE_UINT64,
		.attrs = attrs, .attr_count = 1, .numa_bind = true, .numa_node = 0};
	struct dim *d = NULL;
	struct dim_load_stats st;
	cr_assert_eq(dim_load(&spec, &d, &st), 0, "%s", st.error);
	size_t len;
	const char *s = dim_row_str(dim_col(d, 0), dim_find_u64(d, 2), &len);
	cr_assert(str_is(s, len, "y"));
	dim_free(d);
	spec.numa_node = 4096;
	d = NULL;
	cr_assert_eq(dim_load(&spec, &d, &st), -EINVAL);
	cr_assert_null(d);
	cr_assert(strstr(st.error, "NUMA node 4096"), "%s", st.error);
	free(b.p);
}
