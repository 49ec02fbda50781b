/*
 * bench-dim-load: loads dimension files with dim_load() and reports, per dimension, the memory
 * of the table (dim_bytes, bytes per row), the load time and rate (median of --repeat loads),
 * the huge-page mode and load threads, then random-lookup rates on one thread: "batch", groups of
 * DIM_LOOKUP_BATCH present keys hashed, prefetched and probed (dim_lookup_*); "worker", chunks
 * of WORKER_CHUNK_EVENTS keys through the worker's pipelined probe (dim_probe_start_*, then
 * dim_probe_finish_str); "single", one key at a time (dim_find_*). Finally the total
 * bytes of all tables, held at once, and the process's peak memory.
 *
 *   bench-dim-load [options] [NAME=PATH ...]
 *
 * NAME is users, devices or urls (the default schema below); --dir DIR loads those of
 * DIR/users.tsv, DIR/devices.tsv and DIR/urls.tsv that exist. Output: human-readable lines, and
 * one machine-readable line per dimension and one for the total, tab-separated key=value fields
 * after a first field "dim" or "total".
 *
 * Lookup keys are sampled from the source (random byte offsets, the key of the next row), so
 * they are present keys in random order; the sample (--pool keys) is cycled until --lookups
 * lookups are done. Sampling reads TSVWithNames and CSVWithNames sources; a Native source is
 * loaded but not probed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "dim.h"
#include "gen.h"
#include "log.h"
#include "memplan.h"
#include "worker.h"

#define BENCH_DIMS_MAX 8
#define BENCH_REPEAT_MAX BENCH_MEDIAN_MAX
#define BENCH_PATH_MAX 4096
#define BENCH_KEY_MAX 4096 /* longest sampled key, bytes; longer rows are skipped */
#define BENCH_POOL_DEFAULT ((size_t)4 << 20)
#define BENCH_LOOKUPS_DEFAULT ((uint64_t)20000000)

/* ---- the default schema ---- */

struct bench_schema {
	const char *name;
	const char *key_column;
	enum dim_type key_type;
	const struct dim_attr_spec *attrs;
	unsigned attr_count;
};

static const struct dim_attr_spec users_attrs[] = {
	{.column = "country", .type = DIM_TYPE_LC_STRING},
	{.column = "plan", .type = DIM_TYPE_LC_STRING},
	{.column = "signup_date", .type = DIM_TYPE_DATE},
};
static const struct dim_attr_spec devices_attrs[] = {
	{.column = "device_type", .type = DIM_TYPE_LC_STRING},
	{.column = "os", .type = DIM_TYPE_LC_STRING},
	{.column = "browser", .type = DIM_TYPE_LC_STRING},
};
static const struct dim_attr_spec urls_attrs[] = {
	{.column = "domain", .type = DIM_TYPE_LC_STRING},
	{.column = "category", .type = DIM_TYPE_LC_STRING},
};

static const struct bench_schema schemas[] = {
	{"users", "user_id", DIM_TYPE_UINT64, users_attrs, 3},
	{"devices", "device_id", DIM_TYPE_STRING, devices_attrs, 3},
	{"urls", "url", DIM_TYPE_STRING, urls_attrs, 2},
};
#define SCHEMA_COUNT (sizeof(schemas) / sizeof(schemas[0]))

/* ---- options ---- */

struct bench_input {
	const struct bench_schema *schema;
	char path[BENCH_PATH_MAX];
};

struct bench_options {
	struct bench_input inputs[BENCH_DIMS_MAX];
	unsigned input_count;
	unsigned threads;
	unsigned repeat;
	uint64_t lookups;
	size_t pool;
	uint64_t seed;
	enum huge_mode huge_mode;
};

/* One dimension's results. */
struct bench_result {
	struct dim *d;
	struct dim_load_stats stats; /* of the last load */
	double seconds[BENCH_REPEAT_MAX];
	double cpu_seconds[BENCH_REPEAT_MAX]; /* user + system time of the process */
	double seconds_median;
	double cpu_seconds_median;
	uint64_t lookups;
	uint64_t hits;
	double batch_per_s;
	double worker_per_s;
	double single_per_s;
};

static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: bench-dim-load [options] [NAME=PATH ...]   NAME: users, devices, urls\n"
		"  --dir DIR            load DIR/users.tsv, DIR/devices.tsv, DIR/urls.tsv (those present)\n"
		"  --threads N          load threads (default 0: all online CPUs)\n"
		"  --huge-mode MODE     auto|hugetlb|thp|4k: force the tables' page size (default auto)\n"
		"  --repeat N           loads per dimension, median reported (default 1, max %d)\n"
		"  --lookups N          random lookups per dimension (default %" PRIu64 ", 0: none)\n"
		"  --pool N             distinct samples of present keys (default %zu)\n"
		"  --seed S             seed of the key sample (default 1)\n"
		"  --verbose            log at info level (default: warnings)\n",
		BENCH_REPEAT_MAX, BENCH_LOOKUPS_DEFAULT, BENCH_POOL_DEFAULT);
}

static int bench_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
			   uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		log_error("bench", "%s: invalid value '%s' (an integer in %" PRIu64 "..%" PRIu64 ")",
			  opt, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int bench_add_input(struct bench_options *o, const char *name, size_t name_len,
			   const char *path)
{
	if (o->input_count == BENCH_DIMS_MAX) {
		log_error("bench", "more than %d dimensions", BENCH_DIMS_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < SCHEMA_COUNT; i++) {
		if (strlen(schemas[i].name) != name_len || memcmp(schemas[i].name, name, name_len))
			continue;
		struct bench_input *in = &o->inputs[o->input_count];
		int n = snprintf(in->path, sizeof(in->path), "%s", path);
		if (n < 0 || (size_t)n >= sizeof(in->path)) {
			log_error("bench", "path too long: %s", path);
			return -ENAMETOOLONG;
		}
		in->schema = &schemas[i];
		o->input_count++;
		return 0;
	}
	log_error("bench", "unknown dimension '%.*s' (users, devices or urls)", (int)name_len,
		  name);
	return -EINVAL;
}

static int bench_add_dir(struct bench_options *o, const char *dir)
{
	for (size_t i = 0; i < SCHEMA_COUNT; i++) {
		char path[BENCH_PATH_MAX];
		int n = snprintf(path, sizeof(path), "%s/%s.tsv", dir, schemas[i].name);
		if (n < 0 || (size_t)n >= sizeof(path))
			return -ENAMETOOLONG;
		if (access(path, R_OK) != 0)
			continue;
		int rc = bench_add_input(o, schemas[i].name, strlen(schemas[i].name), path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int bench_parse(int argc, char **argv, struct bench_options *o)
{
	static const struct option longs[] = {
		{"dir", required_argument, NULL, 'D'},     {"threads", required_argument, NULL, 't'},
		{"huge-mode", required_argument, NULL, 'm'}, {"repeat", required_argument, NULL, 'r'},
		{"lookups", required_argument, NULL, 'l'}, {"pool", required_argument, NULL, 'p'},
		{"seed", required_argument, NULL, 's'},    {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	*o = (struct bench_options){.repeat = 1, .lookups = BENCH_LOOKUPS_DEFAULT,
				    .pool = BENCH_POOL_DEFAULT, .seed = 1};
	log_level_set(LOG_LEVEL_WARN);
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case 'D': rc = bench_add_dir(o, optarg); break;
		case 't':
			rc = bench_parse_u64("--threads", optarg, 0, DIM_THREADS_MAX, &v);
			o->threads = (unsigned)v;
			break;
		case 'm':
			rc = huge_mode_parse(optarg, &o->huge_mode);
			if (rc < 0)
				log_error("bench", "--huge-mode: '%s' is not auto, hugetlb, thp or 4k",
					  optarg);
			break;
		case 'r':
			rc = bench_parse_u64("--repeat", optarg, 1, BENCH_REPEAT_MAX, &v);
			o->repeat = (unsigned)v;
			break;
		case 'l': rc = bench_parse_u64("--lookups", optarg, 0, UINT64_MAX, &o->lookups); break;
		case 'p':
			rc = bench_parse_u64("--pool", optarg, 1, (uint64_t)1 << 32, &v);
			o->pool = (size_t)v;
			break;
		case 's': rc = bench_parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed); break;
		case 'v': log_level_set(LOG_LEVEL_INFO); break;
		case 'h': bench_usage(stdout); exit(0);
		default: bench_usage(stderr); return -EINVAL;
		}
		if (rc != 0)
			return rc;
	}
	for (int i = optind; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq) {
			log_error("bench", "'%s' is not NAME=PATH", argv[i]);
			return -EINVAL;
		}
		int rc = bench_add_input(o, argv[i], (size_t)(eq - argv[i]), eq + 1);
		if (rc < 0)
			return rc;
	}
	if (o->input_count == 0) {
		bench_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* ---- the key sample ---- */

/* Keys sampled from a source: u64 keys, or strings whose bytes live in one buffer. */
struct bench_pool {
	size_t count;
	uint64_t *u64;
	struct dim_str *str;
	char *bytes;
	size_t bytes_used, bytes_cap;
};

static void bench_pool_free(struct bench_pool *p)
{
	free(p->u64);
	free(p->str);
	free(p->bytes);
	*p = (struct bench_pool){0};
}

/* Decodes the first field of the TSV row at p (TSV escapes) into out; returns its length, or
 * -1 for \N, an over-long field or a row that ends at end without a newline. */
static long bench_tsv_key(const char *p, const char *end, char *out)
{
	size_t n = 0;
	if (end - p >= 2 && p[0] == '\\' && p[1] == 'N')
		return -1;
	while (p < end && *p != '\t' && *p != '\n') {
		char ch = *p++;
		if (ch == '\\' && p < end) {
			char e = *p++;
			switch (e) {
			case 't': ch = '\t'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'a': ch = '\a'; break;
			case 'v': ch = '\v'; break;
			case '0': ch = '\0'; break;
			default: ch = e; break;
			}
		}
		if (n == BENCH_KEY_MAX)
			return -1;
		out[n++] = ch;
	}
	return p < end ? (long)n : -1;
}

/* Decodes the first field of the CSV row at p (RFC 4180 quoting) into out; as above. */
static long bench_csv_key(const char *p, const char *end, char *out)
{
	size_t n = 0;
	if (p < end && *p == '"') {
		for (p++; p < end; p++) {
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"') {
					p++;
				} else {
					return (long)n;
				}
			}
			if (n == BENCH_KEY_MAX)
				return -1;
			out[n++] = *p;
		}
		return -1;
	}
	while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
		if (n == BENCH_KEY_MAX)
			return -1;
		out[n++] = *p++;
	}
	return p < end ? (long)n : -1;
}

static int bench_pool_add(struct bench_pool *p, enum dim_type key_type, const char *key,
			  size_t len)
{
	if (key_type == DIM_TYPE_UINT64) {
		char buf[32];
		if (len == 0 || len >= sizeof(buf))
			return 0;
		memcpy(buf, key, len);
		buf[len] = '\0';
		char *e;
		errno = 0;
		unsigned long long v = strtoull(buf, &e, 10);
		if (errno || *e)
			return 0;
		p->u64[p->count++] = v;
		return 0;
	}
	if (p->bytes_cap - p->bytes_used < len) {
		size_t cap = p->bytes_cap * 2 + len;
		char *nb = realloc(p->bytes, cap);
		if (!nb)
			return -ENOMEM;
		p->bytes = nb;
		p->bytes_cap = cap;
	}
	memcpy(p->bytes + p->bytes_used, key, len);
	/* Offsets for now; turned into pointers once the buffer stops moving. */
	p->str[p->count++] = (struct dim_str){(const char *)(uintptr_t)p->bytes_used, len};
	p->bytes_used += len;
	return 0;
}

/*
 * Samples up to want keys of the source at path (TSV or CSV by extension) in random order: a
 * random byte offset, then the key of the row after the next newline. Returns 0 (p->count may
 * be below want if rows were skipped), -ENOTSUP for another format, or -errno.
 */
static int bench_pool_sample(const char *path, enum dim_type key_type, size_t want,
			     uint64_t seed, struct bench_pool *p)
{
	size_t plen = strlen(path);
	bool csv = plen >= 4 && strcmp(path + plen - 4, ".csv") == 0;
	if (!csv && !(plen >= 4 && strcmp(path + plen - 4, ".tsv") == 0))
		return -ENOTSUP;
	int rc = 0;
	*p = (struct bench_pool){0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (st.st_size <= 0) {
		rc = -EINVAL;
		goto out_close;
	}
	size_t size = (size_t)st.st_size;
	const char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto out_close;
	}
	const char *end = map + size;
	const char *first = memchr(map, '\n', size); /* end of the header */
	if (!first || first + 1 >= end) {
		rc = -EINVAL;
		goto out_unmap;
	}
	first++;
	if (key_type == DIM_TYPE_UINT64)
		p->u64 = malloc(want * sizeof(*p->u64));
	else
		p->str = malloc(want * sizeof(*p->str));
	if (!p->u64 && !p->str) {
		rc = -ENOMEM;
		goto out_unmap;
	}
	char key[BENCH_KEY_MAX];
	struct gen_rng rng = {seed};
	for (size_t tries = 0; p->count < want && tries < want * 2; tries++) {
		size_t off = (size_t)(gen_next(&rng) % size);
		const char *nl = memchr(map + off, '\n', size - off);
		const char *row = nl && nl + 1 < end ? nl + 1 : first;
		if (row < first)
			row = first;
		long len = csv ? bench_csv_key(row, end, key) : bench_tsv_key(row, end, key);
		if (len < 0)
			continue;
		rc = bench_pool_add(p, key_type, key, (size_t)len);
		if (rc < 0)
			goto out_pool;
	}
	if (p->str)
		for (size_t i = 0; i < p->count; i++)
			p->str[i].ptr = p->bytes + (uintptr_t)p->str[i].ptr;
	goto out_unmap;
out_pool:
	bench_pool_free(p);
out_unmap:
	munmap((void *)map, size);
out_close:
	close(fd);
	return rc;
}

/* ---- lookups ---- */

/* Sums every attribute of the rows, so the probes' results are used as a worker uses them. */
static uint64_t bench_use_rows(const struct dim *d, const struct dim_row *const *rows, size_t n,
			       uint64_t *hits)
{
	uint64_t sum = 0;
	unsigned attrs = dim_attr_count(d);
	for (size_t i = 0; i < n; i++) {
		if (!rows[i])
			continue;
		(*hits)++;
		for (unsigned a = 0; a < attrs; a++)
			sum += dim_row_u64(dim_col(d, a), rows[i]);
	}
	return sum;
}

/*
 * Random lookups of the pool's keys, cycled, in groups the way a caller makes them: with worker
 * false, groups of DIM_LOOKUP_BATCH hashed, prefetched and probed by dim_lookup_*; with worker
 * true, chunks of WORKER_CHUNK_EVENTS through dim_probe_start_* (then, for String keys,
 * dim_probe_finish_str). Either way the attributes of the rows found are read.
 */
static uint64_t bench_lookup_groups(const struct dim *d, const struct bench_pool *p,
				    uint64_t lookups, bool worker, uint64_t *hits)
{
	uint64_t hashes[WORKER_CHUNK_EVENTS];
	uint64_t cand[WORKER_CHUNK_EVENTS];
	const struct dim_row *rows[WORKER_CHUNK_EVENTS];
	const size_t group = worker ? WORKER_CHUNK_EVENTS : DIM_LOOKUP_BATCH;
	uint64_t sum = 0;
	size_t at = 0;
	for (uint64_t done = 0; done < lookups;) {
		size_t n = group;
		if (n > p->count - at)
			n = p->count - at;
		if (n > lookups - done)
			n = (size_t)(lookups - done);
		if (worker && p->u64) {
			dim_probe_start_u64(d, p->u64 + at, n, hashes, rows);
		} else if (worker) {
			dim_probe_start_str(d, p->str + at, n, hashes, cand);
			dim_probe_finish_str(d, p->str + at, hashes, cand, n, rows);
		} else if (p->u64) {
			dim_hash_u64(d, p->u64 + at, n, hashes);
			dim_prefetch(d, hashes, n);
			dim_lookup_u64(d, p->u64 + at, hashes, n, rows);
		} else {
			dim_hash_str(d, p->str + at, n, hashes);
			dim_prefetch(d, hashes, n);
			dim_lookup_str(d, p->str + at, hashes, n, rows);
		}
		sum += bench_use_rows(d, rows, n, hits);
		done += n;
		at += n;
		if (at == p->count)
			at = 0;
	}
	return sum;
}

/* One key at a time with dim_find_*: the same work without batching or prefetching. */
static uint64_t bench_lookup_single(const struct dim *d, const struct bench_pool *p,
				    uint64_t lookups, uint64_t *hits)
{
	uint64_t sum = 0;
	size_t at = 0;
	for (uint64_t done = 0; done < lookups; done++) {
		const struct dim_row *row =
			p->u64 ? dim_find_u64(d, p->u64[at])
			       : dim_find_str(d, p->str[at].ptr, p->str[at].len);
		sum += bench_use_rows(d, &row, 1, hits);
		if (++at == p->count)
			at = 0;
	}
	return sum;
}

static int bench_lookups(const struct bench_options *o, const struct bench_input *in,
			 struct bench_result *r)
{
	size_t want = o->pool < dim_rows(r->d) ? o->pool : dim_rows(r->d);
	struct bench_pool pool = {0};
	int rc = bench_pool_sample(in->path, in->schema->key_type, want, o->seed, &pool);
	if (rc == -ENOTSUP) {
		printf("%s: lookups skipped (keys are sampled from TSV or CSV sources only)\n",
		       in->schema->name);
		return 0;
	}
	if (rc < 0 || pool.count == 0) {
		log_error("bench", "%s: cannot sample keys: %s", in->path,
			  rc < 0 ? strerror(-rc) : "no rows");
		return rc < 0 ? rc : -EINVAL;
	}
	uint64_t hits = 0, sink = 0;
	double t0 = bench_now_s();
	sink += bench_lookup_groups(r->d, &pool, o->lookups, false, &hits);
	double t1 = bench_now_s();
	uint64_t worker_hits = 0;
	sink += bench_lookup_groups(r->d, &pool, o->lookups, true, &worker_hits);
	double t2 = bench_now_s();
	uint64_t single_hits = 0;
	sink += bench_lookup_single(r->d, &pool, o->lookups, &single_hits);
	double t3 = bench_now_s();
	r->lookups = o->lookups;
	r->hits = hits;
	r->batch_per_s = (double)o->lookups / (t1 - t0);
	r->worker_per_s = (double)o->lookups / (t2 - t1);
	r->single_per_s = (double)o->lookups / (t3 - t2);
	if (hits != single_hits || hits != worker_hits || hits != o->lookups)
		log_warn("bench", "%s: %" PRIu64 " of %" PRIu64 " batch lookups, %" PRIu64
				  " worker lookups and %" PRIu64 " single lookups hit",
			 in->schema->name, hits, o->lookups, worker_hits, single_hits);
	printf("%s: %" PRIu64 " random lookups of %zu sampled keys: batch %.2fM/s, worker "
	       "%.2fM/s, single %.2fM/s, hits %.4f (checksum %" PRIu64 ")\n",
	       in->schema->name, o->lookups, pool.count, r->batch_per_s / 1e6,
	       r->worker_per_s / 1e6, r->single_per_s / 1e6, (double)hits / (double)o->lookups,
	       sink);
	bench_pool_free(&pool);
	return 0;
}

/* ---- loads ---- */

static int bench_load(const struct bench_options *o, const struct bench_input *in,
		      struct bench_result *r)
{
	const struct bench_schema *s = in->schema;
	struct dim_spec spec = {
		.name = s->name,
		.path = in->path,
		.key_column = s->key_column,
		.key_type = s->key_type,
		.attrs = s->attrs,
		.attr_count = s->attr_count,
		.threads = o->threads,
		.huge_mode = o->huge_mode,
	};
	for (unsigned i = 0; i < o->repeat; i++) {
		dim_free(r->d);
		r->d = NULL;
		double c0 = bench_cpu_s(), t0 = bench_now_s();
		int rc = dim_load(&spec, &r->d, &r->stats);
		r->seconds[i] = bench_now_s() - t0;
		r->cpu_seconds[i] = bench_cpu_s() - c0;
		if (rc < 0) {
			log_error("bench", "%s: load failed: %s (%s)", in->path, strerror(-rc),
				  r->stats.error);
			return rc;
		}
		printf("%s: load %u/%u: %.3f s, %.2fM rows/s, CPU %.3f s\n", s->name, i + 1,
		       o->repeat, r->seconds[i], (double)r->stats.source_rows / r->seconds[i] / 1e6,
		       r->cpu_seconds[i]);
		fflush(stdout);
	}
	r->seconds_median = bench_median(r->seconds, o->repeat);
	r->cpu_seconds_median = bench_median(r->cpu_seconds, o->repeat);
	return 0;
}

static void bench_report(const struct bench_options *o, const struct bench_input *in,
			 const struct bench_result *r)
{
	const struct dim *d = r->d;
	const struct dim_load_stats *st = &r->stats;
	size_t rows = dim_rows(d), bytes = dim_bytes(d);
	double per_row = rows ? (double)bytes / (double)rows : 0;
	double rate = (double)st->source_rows / r->seconds_median;
	double cpu_rate = (double)st->source_rows / r->cpu_seconds_median;
	printf("%s: %zu rows (%" PRIu64 " duplicates), %zu bytes = %.1f B/row (%zu slots of %zu "
	       "B), load %.3f s median of %u = %.2fM rows/s (CPU %.3f s = %.2fM rows per "
	       "CPU-second), %u threads, %s pages, source %.1f MiB\n",
	       dim_name(d), rows, st->duplicates, bytes, per_row, dim_capacity(d),
	       dim_slot_bytes(d), r->seconds_median, o->repeat, rate / 1e6, r->cpu_seconds_median,
	       cpu_rate / 1e6, st->threads, huge_mode_name(dim_huge_mode(d)),
	       (double)st->source_bytes / 1048576.0);
	printf("dim\tname=%s\tpath=%s\trows=%zu\tbytes=%zu\tbytes_per_row=%.2f\tslot_bytes=%zu"
	       "\tcapacity=%zu\tsource_bytes=%" PRIu64 "\tload_s=%.4f\trows_per_s=%.0f\tcpu_s=%.4f"
	       "\trows_per_cpu_s=%.0f\trepeat=%u\tload_s_all=",
	       dim_name(d), in->path, rows, bytes, per_row, dim_slot_bytes(d), dim_capacity(d),
	       st->source_bytes, r->seconds_median, rate, r->cpu_seconds_median, cpu_rate,
	       o->repeat);
	for (unsigned i = 0; i < o->repeat; i++)
		printf("%s%.4f", i ? "," : "", r->seconds[i]);
	printf("\thuge_mode=%s\tthreads=%u\tlookups=%" PRIu64 "\tlookup_hits=%" PRIu64
	       "\tlookups_per_s=%.0f\tworker_lookups_per_s=%.0f\tsingle_lookups_per_s=%.0f\n",
	       huge_mode_name(dim_huge_mode(d)), st->threads, r->lookups, r->hits, r->batch_per_s,
	       r->worker_per_s, r->single_per_s);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench_options o;
	if (bench_parse(argc, argv, &o) < 0)
		return 2;
	if (o.huge_mode != HUGE_MODE_AUTO)
		huge_mode_default_set(o.huge_mode);
	static struct bench_result results[BENCH_DIMS_MAX];
	int rc = 0;
	unsigned loaded = 0;
	for (unsigned i = 0; i < o.input_count; i++) {
		rc = bench_load(&o, &o.inputs[i], &results[i]);
		if (rc < 0)
			goto out_free;
		loaded = i + 1;
		if (o.lookups > 0) {
			rc = bench_lookups(&o, &o.inputs[i], &results[i]);
			if (rc < 0)
				goto out_free;
		}
		bench_report(&o, &o.inputs[i], &results[i]);
	}
	size_t total_bytes = 0, total_rows = 0;
	for (unsigned i = 0; i < loaded; i++) {
		total_bytes += dim_bytes(results[i].d);
		total_rows += dim_rows(results[i].d);
	}
	uint64_t hwm_kb = memplan_proc_kb("/proc/self/status", "VmHWM");
	uint64_t rss_kb = memplan_proc_kb("/proc/self/status", "VmRSS");
	uint64_t hugetlb_kb = memplan_proc_kb("/proc/self/status", "HugetlbPages");
	uint64_t thp_kb = memplan_proc_kb("/proc/self/smaps_rollup", "AnonHugePages");
	printf("total: %u dimensions held at once, %zu rows, %zu bytes = %.3f GiB (%.1f B/row); "
	       "process peak RSS %.3f GiB, RSS now %.3f GiB of which THP %.3f GiB, hugetlb pages "
	       "%.3f GiB (not in RSS)\n",
	       loaded, total_rows, total_bytes, (double)total_bytes / 1073741824.0,
	       total_rows ? (double)total_bytes / (double)total_rows : 0.0,
	       (double)hwm_kb / 1048576.0, (double)rss_kb / 1048576.0, (double)thp_kb / 1048576.0,
	       (double)hugetlb_kb / 1048576.0);
	printf("total\tdims=%u\trows=%zu\tbytes=%zu\tpeak_rss_bytes=%" PRIu64 "\trss_bytes=%" PRIu64
	       "\tthp_bytes=%" PRIu64 "\thugetlb_bytes=%" PRIu64 "\n",
	       loaded, total_rows, total_bytes, hwm_kb * 1024, rss_kb * 1024, thp_kb * 1024,
	       hugetlb_kb * 1024);
out_free:
	for (unsigned i = 0; i < o.input_count; i++)
		dim_free(results[i].d);
	return rc < 0 ? 1 : 0;
}
