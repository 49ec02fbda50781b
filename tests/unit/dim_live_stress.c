/*
 * Concurrency of a live table: reader threads, registered QSBR readers as the workers are, probe
 * chunks of keys and read their attributes column by column as the worker appends them, while
 * one writer applies random upserts and deletes. Every version of a row carries its version
 * number in every attribute (each type its own way), so a row read half from one version and
 * half from another, a version read after its memory was reused, or a row older than one the
 * same reader saw before, is detected. Run it under AddressSanitizer (reclaimed versions are
 * poisoned) and ThreadSanitizer too.
 *
 * Bounds: ENRICHD_STRESS_CHANGES changes per table (default 1000000 UInt64-keyed, a third of
 * that String-keyed), stopped early after ENRICHD_STRESS_SECONDS seconds per table (default 10;
 * sanitizer builds are slower), with ENRICHD_STRESS_READERS readers (default 2). At least
 * 100000 changes (or all asked for) must be applied in that time.
 *
 * The same file builds the Criterion suite and, with DIM_LIVE_STRESS_MAIN defined, a plain
 * program (stress-dim-live, CMakeLists.txt) for ThreadSanitizer, under which Criterion's
 * sandbox cannot start: the checks below fail through stress_fail, not Criterion's asserts.
 */
#ifndef DIM_LIVE_STRESS_MAIN
#include <criterion/criterion.h>
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "civil.h"
#include "dim.h"
#include "dim_live.h"
#include "dimpub.h"
#include "log.h"

/* A failed check: the message, and the test fails (the program exits 1). */
#ifdef DIM_LIVE_STRESS_MAIN
#define stress_fail(...)                                                                   \
	do {                                                                                \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                        \
		fprintf(stderr, __VA_ARGS__);                                               \
		fputc('\n', stderr);                                                        \
		exit(1);                                                                    \
	} while (0)
#define stress_log(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#else
#define stress_fail(...) cr_assert_fail(__VA_ARGS__)
#define stress_log(...) cr_log_info(__VA_ARGS__)
#endif
#define check(cond, ...)                                                                   \
	do {                                                                                \
		if (!(cond))                                                                \
			stress_fail(__VA_ARGS__);                                            \
	} while (0)

#define KEYS 50000         /* keys changed; readers also probe absent ones */
#define CHUNK 256          /* keys a reader probes at once, as a worker's chunk */
#define PUBLISH_EVERY 1000 /* changes per batch */
#define LC_VALUES 97       /* distinct LowCardinality values: most appended while readers run */
#define READERS_MAX 8

/* The attributes: each carries the version v. */
static const struct dim_attr_spec attrs[] = {
	{"v_u64", DIM_TYPE_UINT64, false},  /* v */
	{"v_i32", DIM_TYPE_INT32, false},   /* -v */
	{"v_str", DIM_TYPE_STRING, false},  /* "v<v>" and v % 7 'x's: sizes vary */
	{"v_lc", DIM_TYPE_LC_STRING, true}, /* "c<v % LC_VALUES>" */
	{"v_date", DIM_TYPE_DATE, false},   /* v % 65536 days */
	{"v_ts", DIM_TYPE_DATETIME, false}, /* v seconds */
	{"v_f64", DIM_TYPE_FLOAT64, false}, /* v / 4 */
	{"v_n", DIM_TYPE_UINT16, true},     /* NULL when v % 11 == 0, else v % 65536 */
	{"v_u8", DIM_TYPE_UINT8, false},    /* v % 256 */
};
#define ATTRS (sizeof(attrs) / sizeof(attrs[0]))

struct stress {
	struct dim *d;
	bool str_keys;
	_Atomic bool done;
	_Atomic uint64_t published; /* the writer's last published version */
};

struct reader {
	struct stress *st;
	pthread_t thread;
	uint64_t seed;
	uint64_t chunks, hits, mixed, older, bad_code, bad_key;
	uint32_t *seen; /* per key: the newest version read */
	char first_error[256];
};

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t key_text(uint64_t k, char *buf)
{
	return (size_t)snprintf(buf, 24, "key-%" PRIu64, k);
}

/* Writes v in decimal at p; returns the bytes written (snprintf would dominate the writer). */
static size_t put_dec(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* The text values of version v, into bufs (ATTRS buffers of 64 bytes). */
static void values_of(uint64_t v, char (*bufs)[64], struct dim_str *out)
{
	int64_t y;
	unsigned m, dd;
	civil_date_from_days((int64_t)(v % 65536), &y, &m, &dd);
	size_t n[ATTRS];
	n[0] = put_dec(bufs[0], v);
	bufs[1][0] = '-';
	n[1] = 1 + put_dec(bufs[1] + 1, v);
	bufs[2][0] = 'v';
	n[2] = 1 + put_dec(bufs[2] + 1, v);
	memcpy(bufs[2] + n[2], "xxxxxxx", v % 7);
	n[2] += v % 7;
	bufs[3][0] = 'c';
	n[3] = 1 + put_dec(bufs[3] + 1, v % LC_VALUES);
	n[4] = (size_t)snprintf(bufs[4], 64, "%04" PRId64 "-%02u-%02u", y, m, dd);
	n[5] = put_dec(bufs[5], v);
	n[6] = put_dec(bufs[6], v / 4);
	memcpy(bufs[6] + n[6], v % 4 == 0 ? ".00" : v % 4 == 1 ? ".25" : v % 4 == 2 ? ".50" : ".75",
	       3);
	n[6] += 3;
	n[7] = put_dec(bufs[7], v % 65536);
	n[8] = put_dec(bufs[8], v % 256);
	for (size_t a = 0; a < ATTRS; a++)
		out[a] = (struct dim_str){bufs[a], n[a]};
	if (v % 11 == 0)
		out[7] = (struct dim_str){NULL, 0};
}

/* The table: KEYS rows of version 0. */
static struct dim *load_table(bool str_keys)
{
	size_t cap = (size_t)KEYS * 128, len = 0;
	char *tsv = malloc(cap);
	check(tsv, "out of memory");
	len += (size_t)snprintf(tsv, cap, "k");
	for (size_t a = 0; a < ATTRS; a++)
		len += (size_t)snprintf(tsv + len, cap - len, "\t%s", attrs[a].column);
	tsv[len++] = '\n';
	char bufs[ATTRS][64], kb[24];
	struct dim_str v[ATTRS];
	values_of(0, bufs, v);
	for (uint64_t k = 1; k <= KEYS; k++) {
		if (str_keys) {
			key_text(k, kb);
			len += (size_t)snprintf(tsv + len, cap - len, "%s", kb);
		} else {
			len += (size_t)snprintf(tsv + len, cap - len, "%" PRIu64, k);
		}
		for (size_t a = 0; a < ATTRS; a++)
			len += (size_t)snprintf(tsv + len, cap - len, "\t%.*s", (int)v[a].len,
						v[a].ptr ? v[a].ptr : "\\N");
		tsv[len++] = '\n';
	}
	struct dim_spec spec = {
		.name = "stress", .path = "stress.tsv", .data = tsv, .data_len = len,
		.format = DIM_FORMAT_TSV, .key_column = "k",
		.key_type = str_keys ? DIM_TYPE_STRING : DIM_TYPE_UINT64, .attrs = attrs,
		.attr_count = ATTRS, .threads = 2, .live = true,
	};
	struct dim *d = NULL;
	struct dim_load_stats ls;
	check(dim_load(&spec, &d, &ls) == 0, "load: %s", ls.error);
	free(tsv);
	return d;
}

/* ---- readers ---- */

/* The version a row's attribute a says, or UINT64_MAX when it cannot say one. */
struct columns {
	uint64_t u64[CHUNK], date[CHUNK], ts[CHUNK], n[CHUNK], u8[CHUNK];
	int64_t i32[CHUNK];
	double f64[CHUNK];
	uint32_t lc[CHUNK];
	const char *s[CHUNK];
	size_t slen[CHUNK];
	bool n_null[CHUNK];
};

/* Reads the chunk's rows column by column, as the worker's append does. */
static void read_columns(const struct dim *d, const struct dim_row *const *rows, size_t n,
			 struct columns *c)
{
	for (size_t j = 0; j < n; j++)
		c->u64[j] = dim_row_u64(dim_col(d, 0), rows[j]);
	for (size_t j = 0; j < n; j++)
		c->i32[j] = dim_row_i64(dim_col(d, 1), rows[j]);
	for (size_t j = 0; j < n; j++)
		c->s[j] = dim_row_str(dim_col(d, 2), rows[j], &c->slen[j]);
	for (size_t j = 0; j < n; j++)
		c->lc[j] = dim_row_lc(dim_col(d, 3), rows[j]);
	for (size_t j = 0; j < n; j++)
		c->date[j] = dim_row_u64(dim_col(d, 4), rows[j]);
	for (size_t j = 0; j < n; j++)
		c->ts[j] = dim_row_u64(dim_col(d, 5), rows[j]);
	for (size_t j = 0; j < n; j++)
		c->f64[j] = dim_row_f64(dim_col(d, 6), rows[j]);
	for (size_t j = 0; j < n; j++) {
		c->n_null[j] = dim_row_is_null(dim_col(d, 7), rows[j]);
		c->n[j] = dim_row_u64(dim_col(d, 7), rows[j]);
	}
	for (size_t j = 0; j < n; j++)
		c->u8[j] = dim_row_u64(dim_col(d, 8), rows[j]);
}

/* True if every attribute of row j says version v. */
static bool row_is_version(const struct dim *d, const struct columns *c, size_t j, uint64_t v,
			   uint32_t dict_count)
{
	char want[64];
	int n = snprintf(want, sizeof(want), "v%" PRIu64 "%.*s", v, (int)(v % 7), "xxxxxxx");
	bool ok = c->i32[j] == -(int64_t)v && c->slen[j] == (size_t)n &&
		  memcmp(c->s[j], want, (size_t)n) == 0 && c->date[j] == v % 65536 &&
		  c->ts[j] == v && c->f64[j] == (double)v / 4 && c->u8[j] == v % 256 &&
		  c->n_null[j] == (v % 11 == 0) && (c->n_null[j] || c->n[j] == v % 65536);
	/* The LowCardinality code is in the dictionary as loaded after the probe. */
	if (!ok || c->lc[j] >= dict_count)
		return false;
	size_t len;
	const struct dim_str *dict = dim_lc_dict(d, 3, &len);
	n = snprintf(want, sizeof(want), "c%" PRIu64, v % LC_VALUES);
	return dict[c->lc[j]].len == (size_t)n && memcmp(dict[c->lc[j]].ptr, want, (size_t)n) == 0;
}

static void reader_check(struct reader *r, const uint64_t *keys, const struct dim_row *const *rows,
			 size_t n, const struct columns *c, uint32_t dict_count)
{
	const struct dim *d = r->st->d;
	for (size_t j = 0; j < n; j++) {
		if (!rows[j])
			continue;
		r->hits++;
		uint64_t v = c->u64[j];
		bool key_ok = r->st->str_keys || dim_row_key_u64(d, rows[j]) == keys[j];
		bool whole = row_is_version(d, c, j, v, dict_count);
		bool order = v >= r->seen[keys[j]];
		r->bad_key += !key_ok;
		r->mixed += !whole;
		r->older += !order;
		if ((!key_ok || !whole || !order) && !r->first_error[0])
			snprintf(r->first_error, sizeof(r->first_error),
				 "key %" PRIu64 ": version %" PRIu64 " (seen %u): i32 %" PRId64
				 " date %" PRIu64 " ts %" PRIu64 " u8 %" PRIu64 " lc %u/%u",
				 keys[j], v, r->seen[keys[j]], c->i32[j], c->date[j], c->ts[j],
				 c->u8[j], c->lc[j], dict_count);
		if (order)
			r->seen[keys[j]] = (uint32_t)v;
	}
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct stress *st = r->st;
	const struct dim *d = st->d;
	static __thread struct columns c;
	uint64_t keys[CHUNK], hashes[CHUNK], cand[CHUNK];
	struct dim_str skeys[CHUNK];
	char kb[CHUNK][24];
	const struct dim_row *rows[CHUNK];
	dimpub_reader_register();
	while (!atomic_load_explicit(&st->done, memory_order_acquire)) {
		for (size_t j = 0; j < CHUNK; j++) {
			keys[j] = 1 + rnd(&r->seed) % (KEYS + KEYS / 10);
			if (st->str_keys)
				skeys[j] = (struct dim_str){kb[j], key_text(keys[j], kb[j])};
		}
		if (st->str_keys) {
			dim_probe_start_str(d, skeys, CHUNK, hashes, cand);
			dim_probe_finish_str(d, skeys, hashes, cand, CHUNK, rows);
		} else {
			dim_probe_start_u64(d, keys, CHUNK, hashes, rows);
		}
		/* After the probe, as the worker (dim.h: dim_col.dict_count). */
		uint32_t dict_count =
			atomic_load_explicit(&dim_col(d, 3)->dict_count, memory_order_acquire);
		read_columns(d, rows, CHUNK, &c);
		reader_check(r, keys, rows, CHUNK, &c, dict_count);
		r->chunks++;
		dimpub_quiescent(); /* the chunk's row handles are not used past this */
	}
	dimpub_reader_unregister();
	return NULL;
}

/* ---- the writer ---- */

struct writer_result {
	uint64_t changes, upserts, deletes;
	double seconds;
};

static struct writer_result write_changes(struct stress *st, uint64_t changes, double seconds)
{
	struct dim *d = st->d;
	uint64_t seed = 42;
	char bufs[ATTRS][64], kb[24], err[256];
	struct dim_str v[ATTRS];
	struct writer_result res = {0};
	double t0 = now_s();
	for (uint64_t i = 1; i <= changes; i++) {
		uint64_t k = 1 + rnd(&seed) % KEYS;
		size_t kl = key_text(k, kb);
		if (rnd(&seed) % 10 == 0) {
			int rc = st->str_keys ? dim_delete_str(d, kb, kl) : dim_delete_u64(d, k);
			check(rc == 0 || rc == -ENOENT, "delete: %d", rc);
			res.deletes++;
		} else {
			values_of(i, bufs, v);
			int rc = st->str_keys ? dim_upsert_str(d, kb, kl, v, err, sizeof(err))
					      : dim_upsert_u64(d, k, v, err, sizeof(err));
			check(rc == 0, "upsert %" PRIu64 ": %s", i, err);
			res.upserts++;
		}
		res.changes = i;
		if (i % PUBLISH_EVERY == 0) {
			check(dim_changes_publish(d) == 0, "publish");
			atomic_store_explicit(&st->published, i, memory_order_relaxed);
			if (now_s() - t0 > seconds)
				break;
		}
	}
	check(dim_changes_publish(d) == 0, "publish");
	res.seconds = now_s() - t0;
	return res;
}

static void run(bool str_keys, uint64_t changes)
{
	log_level_set(LOG_LEVEL_WARN);
	double seconds = (double)env_u64("ENRICHD_STRESS_SECONDS", 10);
	unsigned nreaders = (unsigned)env_u64("ENRICHD_STRESS_READERS", 2);
	nreaders = nreaders > READERS_MAX ? READERS_MAX : nreaders;
	struct stress st = {.d = load_table(str_keys), .str_keys = str_keys};
	struct dim_live_stats s0, s1;
	dim_live_stats(st.d, &s0);
	struct reader readers[READERS_MAX];
	for (unsigned i = 0; i < nreaders; i++) {
		readers[i] = (struct reader){.st = &st, .seed = 1000 + i};
		readers[i].seen = calloc(KEYS + KEYS / 10 + 1, sizeof(uint32_t));
		check(readers[i].seen, "out of memory");
		check(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]) == 0,
		      "cannot start a reader");
	}
	struct writer_result w = write_changes(&st, changes, seconds);
	atomic_store_explicit(&st.done, true, memory_order_release);
	uint64_t chunks = 0, hits = 0;
	for (unsigned i = 0; i < nreaders; i++) {
		struct reader *r = &readers[i];
		pthread_join(r->thread, NULL);
		check(r->mixed == 0, "reader %u: %" PRIu64 " rows mixed versions; first: %s", i,
		      r->mixed, r->first_error);
		check(r->older == 0, "reader %u: %" PRIu64 " rows older than seen; first: %s", i,
		      r->older, r->first_error);
		check(r->bad_key == 0, "reader %u: %" PRIu64 " rows of another key", i, r->bad_key);
		chunks += r->chunks;
		hits += r->hits;
		free(r->seen);
	}
	check(dim_changes_drain(st.d) == 0, "drain");
	dim_live_stats(st.d, &s1);
	stress_log("%s keys: %" PRIu64 " changes (%" PRIu64 " upserts, %" PRIu64 " deletes) in "
		    "%.2f s with %u readers: %" PRIu64 " chunks, %" PRIu64 " rows checked; arena "
		    "%" PRIu64 " bytes in use at load, %" PRIu64 " after, peak %" PRIu64 "; dictionary "
		    "room left %u", str_keys ? "String" : "UInt64", w.changes, w.upserts, w.deletes,
		    w.seconds, nreaders, chunks, hits, s0.arena_used, s1.arena_used, s1.arena_peak,
		    s1.dict_room[3]);
	check(w.changes >= (changes < 100000 ? changes : 100000), "too few changes applied");
	check(nreaders == 0 || hits > 0, "the readers checked no row");
	check(s1.bytes_reclaimed == s1.bytes_retired, "a replaced version was not reclaimed");
	/* Rows never outgrow their keys: in use at most the load's plus the slack of sizes. */
	check(s1.arena_used <= s0.arena_used + (uint64_t)KEYS * 16, "%" PRIu64 " bytes in use",
	      s1.arena_used);
	dim_free(st.d);
}

/* ---- visibility ---- */

#define VIS_CHANGES 1000
#define VIS_KEY 77

struct vis {
	struct dim *d;
	_Atomic bool done;
	_Atomic uint64_t seen_ns[VIS_CHANGES + 1]; /* when the reader first read version v */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Probes one key in chunks, as a worker, noting when each version first shows. */
static void *vis_reader(void *arg)
{
	struct vis *v = arg;
	uint64_t keys[CHUNK], hashes[CHUNK], last = 0;
	const struct dim_row *rows[CHUNK];
	for (size_t j = 0; j < CHUNK; j++)
		keys[j] = VIS_KEY;
	dimpub_reader_register();
	while (!atomic_load_explicit(&v->done, memory_order_acquire)) {
		dim_probe_start_u64(v->d, keys, CHUNK, hashes, rows);
		uint64_t ver = dim_row_u64(dim_col(v->d, 0), rows[CHUNK - 1]);
		if (ver != last && ver <= VIS_CHANGES) {
			atomic_store_explicit(&v->seen_ns[ver], mono_ns(), memory_order_release);
			last = ver;
		}
		dimpub_quiescent();
	}
	dimpub_reader_unregister();
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * How long after an upsert starts a reader probing in chunks sees it: the change is visible at
 * the reader's next probe (there is nothing to refresh), far within the 1 s bound.
 */
static void visibility(void)
{
	log_level_set(LOG_LEVEL_WARN);
	static struct vis v;
	v.d = load_table(false);
	pthread_t t;
	check(pthread_create(&t, NULL, vis_reader, &v) == 0, "cannot start the reader");
	char bufs[ATTRS][64], err[256];
	struct dim_str vals[ATTRS];
	static uint64_t lat[VIS_CHANGES];
	for (uint64_t ver = 1; ver <= VIS_CHANGES; ver++) {
		values_of(ver, bufs, vals);
		uint64_t t0 = mono_ns();
		check(dim_upsert_u64(v.d, VIS_KEY, vals, err, sizeof(err)) == 0, "%s", err);
		check(dim_changes_publish(v.d) == 0, "publish");
		uint64_t seen;
		while ((seen = atomic_load_explicit(&v.seen_ns[ver], memory_order_acquire)) == 0) {
			check(mono_ns() - t0 < 10000000000u, "version %" PRIu64 " not seen in 10 s",
			      ver);
			sched_yield();
		}
		lat[ver - 1] = seen > t0 ? seen - t0 : 0;
	}
	atomic_store_explicit(&v.done, true, memory_order_release);
	pthread_join(t, NULL);
	qsort(lat, VIS_CHANGES, sizeof(lat[0]), cmp_u64);
	uint64_t p50 = lat[VIS_CHANGES / 2], p99 = lat[VIS_CHANGES * 99 / 100];
	stress_log("visibility of %d changes to a reader probing in chunks: p50 %.1f us, p99 %.1f "
		   "us, max %.1f us", VIS_CHANGES, (double)p50 / 1e3, (double)p99 / 1e3,
		   (double)lat[VIS_CHANGES - 1] / 1e3);
	check(p99 < 1000000000u, "p99 %" PRIu64 " ns is over 1 s", p99);
	dim_free(v.d);
}

#ifdef DIM_LIVE_STRESS_MAIN
int main(void)
{
	run(false, env_u64("ENRICHD_STRESS_CHANGES", 1000000));
	run(true, env_u64("ENRICHD_STRESS_CHANGES", 1000000) / 3);
	visibility();
	return 0;
}
#else
Test(dim_live_stress, u64_keys_readers_never_see_a_mix, .timeout = 600)
{
	run(false, env_u64("ENRICHD_STRESS_CHANGES", 1000000));
}

Test(dim_live_stress, string_keys_readers_never_see_a_mix, .timeout = 600)
{
	run(true, env_u64("ENRICHD_STRESS_CHANGES", 1000000) / 3);
}

Test(dim_live_stress, a_change_is_visible_at_the_next_probe, .timeout = 600)
{
	visibility();
}
#endif
