/*
 * bench-dim-live: a live dimension table under a storm of changes.
 *
 *   bench-dim-live [--dim users|devices] [--rows N] [--changes N] [--batch N] [--rate N]
 *                  [--insert-pct P] [--delete-pct P] [--seconds S] [--threads N]
 *                  [--huge auto|hugetlb|thp|4k] [--seed S]
 *   bench-dim-live --probe-only static|live [--dim ...] [--rows N] [--lookups N]
 *
 * Generates the users (UInt64 key; country, plan LowCardinality(String), signup_date Date) or
 * devices (String key; device_type, os, browser LowCardinality(String)) dimension of N rows
 * (default 10M) with the generator library, and loads it twice: as a table loaded whole and as
 * a live one. Then:
 *   1. the probe rate of each, on one thread, in worker-sized chunks (hash, prefetch, probe, read
 *      every attribute), for S seconds (default 3);
 *   2. for 0, 1 and 2 reader threads probing the live table (registered QSBR readers with a
 *      quiescent state per chunk, as workers): the readers' rate alone for S seconds, then the
 *      storm -- --changes changes (default 1M: updates of random rows with values of random
 *      rows, --insert-pct new keys, --delete-pct deletes of random rows; a publish every --batch,
 *      default 1000; at most --rate changes per second, default 0: as fast as it goes) -- its
 *      changes per second and the readers' rate meanwhile;
 *   3. memory: the table's bytes (dim_bytes, as planned with its spare room), its arena in use
 *      at load, at its peak and after the storms, and the process's resident memory for the
 *      table at load and after the storms (their ratio is the memory the changes cost).
 * --probe-only loads one table and only probes it --lookups times (default 10M), in
 * bench_probe_chunks, for instruction counts under callgrind:
 *   valgrind --tool=callgrind --toggle-collect=bench_probe_chunks bench-dim-live --probe-only live
 * Human-readable lines, and tab-separated key=value lines starting with "probe", "storm" and
 * "memory".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "dim.h"
#include "dim_live.h"
#include "dimpub.h"
#include "gen.h"
#include "log.h"
#include "memplan.h"

#define CHUNK 256             /* keys per probe, as a worker's chunk */
#define POOL_KEYS (1u << 20)  /* present keys the probes cycle through */
#define READERS_MAX 2
#define KEY_MAX GEN_DEVICE_ID_MAX

struct options {
	bool devices;
	uint64_t rows, changes, batch, lookups, seed, rate;
	unsigned insert_pct, delete_pct, threads;
	double seconds;
	enum huge_mode huge;
	const char *probe_only; /* NULL, "static" or "live" */
};

/* Present keys to probe: UInt64 or String (ptr into bytes). */
struct pool {
	uint64_t u64[POOL_KEYS];
	struct dim_str str[POOL_KEYS];
	char bytes[(size_t)POOL_KEYS * KEY_MAX];
};

/* Resident bytes: RSS and hugetlb pages (not in RSS). */
static uint64_t resident_bytes(void)
{
	return (memplan_proc_kb("/proc/self/status", "VmRSS") +
		memplan_proc_kb("/proc/self/status", "HugetlbPages")) * 1024;
}

/* ---- data ---- */

/* Row i's key and attribute values as text (date into date_buf). */
static void row_text(const struct options *o, uint64_t seed, uint64_t i, char *key, size_t *key_len,
		     struct dim_str *vals, char *date_buf)
{
	if (o->devices) {
		struct gen_device_row r;
		gen_device_row_fill(seed, i, &r);
		memcpy(key, r.device_id, r.device_id_len + 1);
		*key_len = r.device_id_len;
		vals[0] = (struct dim_str){r.device_type, strlen(r.device_type)};
		vals[1] = (struct dim_str){r.os, strlen(r.os)};
		vals[2] = (struct dim_str){r.browser, strlen(r.browser)};
		return;
	}
	struct gen_user_row r;
	gen_user_row_fill(seed, i, &r);
	*key_len = (size_t)snprintf(key, KEY_MAX, "%" PRIu64, r.user_id);
	vals[0] = (struct dim_str){r.country, strlen(r.country)};
	vals[1] = (struct dim_str){r.plan, strlen(r.plan)};
	vals[2] = (struct dim_str){date_buf, gen_date_format(r.signup_days, date_buf)};
}

/* The dimension as TSVWithNames in memory. */
static char *make_tsv(const struct options *o, size_t *len)
{
	size_t cap = (size_t)o->rows * 64 + 128, n = 0;
	char *t = malloc(cap);
	if (!t)
		return NULL;
	n += (size_t)snprintf(t, cap, o->devices ? "device_id\tdevice_type\tos\tbrowser\n"
						 : "user_id\tcountry\tplan\tsignup_date\n");
	char key[KEY_MAX], date[GEN_DATE_MAX];
	struct dim_str v[3];
	for (uint64_t i = 0; i < o->rows; i++) {
		size_t kl;
		row_text(o, o->seed, i, key, &kl, v, date);
		n += (size_t)snprintf(t + n, cap - n, "%s\t%.*s\t%.*s\t%.*s\n", key, (int)v[0].len,
				      v[0].ptr, (int)v[1].len, v[1].ptr, (int)v[2].len, v[2].ptr);
	}
	*len = n;
	return t;
}

static struct dim *load(const struct options *o, const char *tsv, size_t len, bool live)
{
	struct dim_spec spec = {
		.name = o->devices ? "devices" : "users", .path = "generated", .data = tsv,
		.data_len = len, .format = DIM_FORMAT_TSV,
		.key_column = o->devices ? "device_id" : "user_id",
		.key_type = o->devices ? DIM_TYPE_STRING : DIM_TYPE_UINT64,
		.attrs = o->devices ? bench_devices_attrs : bench_users_attrs, .attr_count = 3,
		.threads = o->threads, .huge_mode = o->huge, .live = live,
	};
	struct dim *d;
	struct dim_load_stats st;
	double t0 = bench_now_s();
	if (dim_load(&spec, &d, &st) != 0) {
		fprintf(stderr, "bench-dim-live: load: %s\n", st.error);
		exit(1);
	}
	printf("%s table: %zu rows loaded in %.2f s, %zu bytes (%.1f B/row), %zu-byte slots, "
	       "%s pages\n", live ? "live" : "whole", dim_rows(d), bench_now_s() - t0, dim_bytes(d),
	       (double)dim_bytes(d) / (double)dim_rows(d), dim_slot_bytes(d),
	       huge_mode_name(dim_huge_mode(d)));
	return d;
}

static void pool_fill(const struct options *o, struct pool *p)
{
	struct gen_rng rng = {o->seed ^ 0x5eed};
	char date[GEN_DATE_MAX];
	struct dim_str v[3];
	for (uint32_t i = 0; i < POOL_KEYS; i++) {
		uint64_t row = gen_next(&rng) % o->rows;
		char *k = p->bytes + (size_t)i * KEY_MAX;
		size_t kl;
		row_text(o, o->seed, row, k, &kl, v, date);
		p->str[i] = (struct dim_str){k, kl};
		p->u64[i] = o->devices ? 0 : strtoull(k, NULL, 10);
	}
}

/* ---- probes ---- */

/* n chunks of CHUNK keys from the pool, from *at on, as the worker probes and reads them;
 * returns a sum of the attributes read (so nothing is optimised away). */
__attribute__((noinline)) uint64_t bench_probe_chunks(const struct dim *d, const struct pool *p,
						      uint64_t n, uint32_t *at);
__attribute__((noinline)) uint64_t bench_probe_chunks(const struct dim *d, const struct pool *p,
						      uint64_t n, uint32_t *at)
{
	uint64_t hashes[CHUNK], cand[CHUNK], sum = 0;
	const struct dim_row *rows[CHUNK];
	const struct dim_col *c[3] = {dim_col(d, 0), dim_col(d, 1), dim_col(d, 2)};
	for (uint64_t k = 0; k < n; k++) {
		uint32_t i = *at;
		*at = (i + CHUNK) % (POOL_KEYS - CHUNK);
		if (dim_key_type(d) == DIM_TYPE_UINT64) {
			dim_probe_start_u64(d, p->u64 + i, CHUNK, hashes, rows);
		} else {
			dim_probe_start_str(d, p->str + i, CHUNK, hashes, cand);
			dim_probe_finish_str(d, p->str + i, hashes, cand, CHUNK, rows);
		}
		for (unsigned a = 0; a < 3; a++)
			for (unsigned j = 0; j < CHUNK; j++)
				sum += dim_row_lc(c[a], rows[j]);
	}
	return sum;
}

/* Where the probes' results go, so that the compiler keeps them. */
static volatile uint64_t probe_sink;

/* Lookups per second of one thread on d for about seconds. */
static double probe_rate(const struct dim *d, const struct pool *p, double seconds)
{
	uint32_t at = 0;
	uint64_t chunks = 0;
	double t0 = bench_now_s(), t;
	do {
		probe_sink += bench_probe_chunks(d, p, 64, &at);
		chunks += 64;
	} while ((t = bench_now_s() - t0) < seconds);
	return (double)chunks * CHUNK / t;
}

struct reader {
	const struct dim *d;
	const struct pool *pool;
	pthread_t thread;
	_Atomic bool stop;
	_Atomic uint64_t lookups;
	uint32_t at;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	dimpub_reader_register();
	uint64_t sum = 0;
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		sum += bench_probe_chunks(r->d, r->pool, 1, &r->at);
		atomic_fetch_add_explicit(&r->lookups, CHUNK, memory_order_relaxed);
		dimpub_quiescent(); /* as a worker between iterations */
	}
	dimpub_reader_unregister();
	return (void *)(uintptr_t)(sum & 1);
}

static uint64_t readers_lookups(struct reader *r, unsigned n)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++)
		sum += atomic_load_explicit(&r[i].lookups, memory_order_relaxed);
	return sum;
}

/* ---- the storm ---- */

/* Applies o->changes changes to d; returns the seconds taken. *inserted counts new keys. */
static double storm(const struct options *o, struct dim *d, uint64_t *inserted, uint64_t round)
{
	struct gen_rng rng = {o->seed ^ (0x51 + round)};
	char key[KEY_MAX], other[KEY_MAX], date[GEN_DATE_MAX], err[256] = "";
	struct dim_str v[3], unused[3];
	double t0 = bench_now_s();
	for (uint64_t i = 1; i <= o->changes; i++) {
		uint64_t pick = gen_next(&rng) % 100;
		uint64_t row = pick < o->insert_pct ? o->rows + (*inserted)++
						    : gen_next(&rng) % o->rows;
		size_t kl;
		row_text(o, o->seed, row, key, &kl, unused, date);
		int rc;
		if (pick >= 100 - o->delete_pct) {
			rc = o->devices ? dim_delete_str(d, key, kl)
					: dim_delete_u64(d, strtoull(key, NULL, 10));
			rc = rc == -ENOENT ? 0 : rc;
		} else {
			/* The values of another random row: an update changes the row. */
			size_t ol;
			row_text(o, o->seed ^ 1, gen_next(&rng) % o->rows, other, &ol, v, date);
			if (o->devices)
				rc = dim_upsert_str(d, key, kl, v, err, sizeof(err));
			else
				rc = dim_upsert_u64(d, strtoull(key, NULL, 10), v, err, sizeof(err));
		}
		if (rc == 0 && i % o->batch == 0) {
			rc = dim_changes_publish(d);
			double ahead =
				o->rate ? (double)i / (double)o->rate - (bench_now_s() - t0) : 0;
			if (ahead > 0)
				usleep((useconds_t)(ahead * 1e6));
		}
		if (rc != 0) {
			fprintf(stderr, "bench-dim-live: change %" PRIu64 ": %s (%s)\n", i,
				strerror(-rc), err);
			exit(1);
		}
	}
	dim_changes_publish(d);
	return bench_now_s() - t0;
}

/* One storm with n readers probing: their rate alone, the storm, their rate during it. */
static void storm_phase(const struct options *o, struct dim *d, const struct pool *p,
			unsigned n, uint64_t *inserted)
{
	static struct reader readers[READERS_MAX];
	for (unsigned i = 0; i < n; i++) {
		readers[i] = (struct reader){.d = d, .pool = p, .at = i * 7919};
		if (pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]) != 0) {
			fprintf(stderr, "bench-dim-live: cannot start a reader\n");
			exit(1);
		}
	}
	double t0 = bench_now_s();
	uint64_t l0 = readers_lookups(readers, n);
	if (n)
		usleep((useconds_t)(o->seconds * 1e6));
	double alone = n ? (double)(readers_lookups(readers, n) - l0) / (bench_now_s() - t0) : 0;
	uint64_t l1 = readers_lookups(readers, n);
	double secs = storm(o, d, inserted, n);
	double during = n ? (double)(readers_lookups(readers, n) - l1) / secs : 0;
	for (unsigned i = 0; i < n; i++) {
		atomic_store(&readers[i].stop, true);
		pthread_join(readers[i].thread, NULL);
	}
	printf("storm with %u readers: %" PRIu64 " changes in %.2f s = %.0f changes/s; readers "
	       "probe %.2fM lookups/s alone, %.2fM during the storm (%.1f%%)\n", n, o->changes,
	       secs, (double)o->changes / secs, alone / 1e6, during / 1e6,
	       alone > 0 ? 100.0 * during / alone : 0.0);
	printf("storm\treaders=%u\tchanges=%" PRIu64 "\tseconds=%.3f\tchanges_per_s=%.0f\t"
	       "lookups_per_s_alone=%.0f\tlookups_per_s_storm=%.0f\n", n, o->changes, secs,
	       (double)o->changes / secs, alone, during);
}

/* ---- options and main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-dim-live [--dim users|devices] [--rows N] [--changes N] "
		   "[--batch N] [--rate N]\n"
		   "       [--insert-pct P] [--delete-pct P] [--seconds S] [--threads N] "
		   "[--huge MODE] [--seed S]\n"
		   "       bench-dim-live --probe-only static|live [--dim ...] [--rows N] "
		   "[--lookups N]\n");
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{"dim", required_argument, NULL, 'd'},        {"rows", required_argument, NULL, 'r'},
		{"changes", required_argument, NULL, 'c'},    {"batch", required_argument, NULL, 'b'},
		{"insert-pct", required_argument, NULL, 'i'}, {"delete-pct", required_argument, NULL, 'x'},
		{"seconds", required_argument, NULL, 's'},    {"threads", required_argument, NULL, 't'},
		{"huge", required_argument, NULL, 'h'},       {"seed", required_argument, NULL, 'S'},
		{"probe-only", required_argument, NULL, 'p'}, {"lookups", required_argument, NULL, 'l'},
		{"rate", required_argument, NULL, 'R'},       {"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct options){.rows = 10000000, .changes = 1000000, .batch = 1000, .lookups = 10000000,
			      .seed = 1, .insert_pct = 5, .delete_pct = 5, .seconds = 3};
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'd': o->devices = strcmp(optarg, "devices") == 0; break;
		case 'r': o->rows = strtoull(optarg, NULL, 10); break;
		case 'c': o->changes = strtoull(optarg, NULL, 10); break;
		case 'b': o->batch = strtoull(optarg, NULL, 10); break;
		case 'i': o->insert_pct = (unsigned)atoi(optarg); break;
		case 'x': o->delete_pct = (unsigned)atoi(optarg); break;
		case 's': o->seconds = atof(optarg); break;
		case 't': o->threads = (unsigned)atoi(optarg); break;
		case 'h': if (huge_mode_parse(optarg, &o->huge) != 0) return -1; break;
		case 'S': o->seed = strtoull(optarg, NULL, 10); break;
		case 'p': o->probe_only = optarg; break;
		case 'l': o->lookups = strtoull(optarg, NULL, 10); break;
		case 'R': o->rate = strtoull(optarg, NULL, 10); break;
		case 'H': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (o->rows == 0 || o->batch == 0 || o->insert_pct + o->delete_pct > 100)
		return -1;
	return 0;
}

/* Probes one table --lookups times, for callgrind. */
static int probe_only(const struct options *o, const char *tsv, size_t len, struct pool *p)
{
	struct dim *d = load(o, tsv, len, strcmp(o->probe_only, "live") == 0);
	uint32_t at = 0;
	double t0 = bench_now_s();
	uint64_t sum = bench_probe_chunks(d, p, o->lookups / CHUNK, &at);
	printf("probe-only %s: %" PRIu64 " lookups in %.2f s (check %" PRIu64 ")\n", o->probe_only,
	       o->lookups / CHUNK * CHUNK, bench_now_s() - t0, sum);
	dim_free(d);
	return 0;
}

/* The live table's memory: as planned, its arena at load, peak and now, resident bytes. */
static void memory_report(struct dim *d, const struct dim_live_stats *at_load, uint64_t res_load,
			  uint64_t res_base)
{
	struct dim_live_stats st;
	dim_live_stats(d, &st);
	uint64_t res_now = resident_bytes() - res_base;
	double ratio = res_load ? (double)res_now / (double)res_load : 0.0;
	printf("memory: table %zu bytes as planned; arena %" PRIu64 " bytes, in use %" PRIu64
	       " at load, %" PRIu64 " now, peak %" PRIu64 "; %" PRIu64 " versions' bytes retired, "
	       "%" PRIu64 " reclaimed; resident for the table %" PRIu64 " at load, %" PRIu64
	       " now: %.3fx\n", dim_bytes(d), st.arena_bytes, at_load->arena_used, st.arena_used,
	       st.arena_peak, st.bytes_retired, st.bytes_reclaimed, res_load, res_now, ratio);
	printf("memory\ttable_bytes=%zu\tarena_bytes=%" PRIu64 "\tarena_used_load=%" PRIu64
	       "\tarena_used=%" PRIu64 "\tarena_peak=%" PRIu64 "\tresident_load=%" PRIu64
	       "\tresident_now=%" PRIu64 "\tratio=%.4f\trows=%" PRIu64 "\n", dim_bytes(d),
	       st.arena_bytes, at_load->arena_used, st.arena_used, st.arena_peak, res_load, res_now,
	       ratio, st.rows);
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	log_level_set(LOG_LEVEL_WARN);
	struct pool *p = malloc(sizeof(*p));
	if (!p) {
		fprintf(stderr, "bench-dim-live: out of memory\n");
		return 1;
	}
	pool_fill(&o, p);
	/* What the process holds besides the tables (the source text is freed once loaded). */
	uint64_t res_base = resident_bytes();
	size_t len;
	char *tsv = make_tsv(&o, &len);
	if (!tsv) {
		fprintf(stderr, "bench-dim-live: out of memory\n");
		return 1;
	}
	if (o.probe_only)
		return probe_only(&o, tsv, len, p);
	struct dim *whole = load(&o, tsv, len, false);
	double whole_rate = probe_rate(whole, p, o.seconds);
	dim_free(whole);
	struct dim *d = load(&o, tsv, len, true);
	free(tsv);
	uint64_t res_load = resident_bytes() - res_base;
	double live_rate = probe_rate(d, p, o.seconds);
	printf("probe, one thread: %.2fM lookups/s on the table loaded whole, %.2fM on the live "
	       "one (%.1f%%)\n", whole_rate / 1e6, live_rate / 1e6, 100.0 * live_rate / whole_rate);
	printf("probe\twhole_per_s=%.0f\tlive_per_s=%.0f\n", whole_rate, live_rate);
	struct dim_live_stats at_load;
	dim_live_stats(d, &at_load);
	uint64_t inserted = 0;
	for (unsigned n = 0; n <= READERS_MAX; n++)
		storm_phase(&o, d, p, n, &inserted);
	if (dim_changes_drain(d) != 0)
		return 1;
	memory_report(d, &at_load, res_load, res_base);
	dim_free(d);
	free(p);
	return 0;
}
