/*
 * bench-dim-bench: checks the dimension table's targets with generated data.
 *
 *   bench-dim-bench [--rows N] [--lookups N] [--format tsv|csv|native]
 *                   [--huge auto|hugetlb|thp|4k]
 *                   [--threads N] [--dir DIR] [--repeat N] [--verbose]
 *
 * Writes a users file (UInt64 key, country and plan LowCardinality(String), signup_date Date)
 * and a devices file (21-byte String key, device_type, os, browser LowCardinality(String)) of
 * N rows each (default 10M) into DIR (default: a new temporary directory, removed at the end;
 * files already in DIR under the expected name are reused). Native files are not generated:
 * convert the TSV ones with ClickHouse into users-N.native and devices-N.native. Loads each
 * table and reports rows/s and bytes/row, then measures batched lookups (hash, prefetch,
 * probe, read one attribute) of random present keys, and the machine's random cache-line load
 * rate over a table-sized buffer for comparison. --repeat loads each table N times (later
 * loads reuse memory the process has already faulted in, which on a VM is much cheaper than
 * first-touch memory).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "dim.h"
#include "huge.h"
#include "log.h"

#define BATCH 32

static const char *const countries[] = {
	"US", "DE", "FR", "JP", "BR", "IN", "CN", "GB", "IT", "ES", "CA", "AU", "MX", "KR", "RU",
	"NL", "SE", "PL", "TR", "AR", "ZA", "NG", "EG", "ID", "TH", "VN", "PH", "MY", "SG", "NZ"};
static const char *const plans[] = {"free", "basic", "pro", "team", "enterprise"};
static const char *const types[] = {"mobile", "desktop", "tablet", "tv", "console"};
static const char *const oses[] = {"android", "ios", "windows", "macos", "linux", "chromeos"};
static const char *const browsers[] = {"chrome", "safari", "firefox", "edge", "opera", "app",
				       "samsung"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return x;
}

static size_t device_key(uint64_t i, char *out)
{
	return (size_t)snprintf(out, 32, "d%020" PRIu64, mix(i ^ 0x5555));
}

static void days_to_date(unsigned days, char *out)
{
	/* civil_from_days for 1970..2149 */
	int64_t z = (int64_t)days + 719468;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	snprintf(out, 48, "%04d-%02u-%02u", (int)(y + (m <= 2)), m, d);
}

/* Creates the file at path with the header line of a key and three attributes; NULL (errno set)
 * if it cannot. */
static FILE *open_table(const char *path, bool csv, const char *key, const char *a, const char *b,
			const char *c)
{
	FILE *f = fopen(path, "w");
	if (f) {
		const char *sep = csv ? "," : "\t";
		fprintf(f, "%s%s%s%s%s%s%s\n", key, sep, a, sep, b, sep, c);
	}
	return f;
}

/* Ends a row after its key: the three attributes, quoted in CSV. */
static void put_attrs(FILE *f, bool csv, const char *a, const char *b, const char *c)
{
	if (csv)
		fprintf(f, ",\"%s\",\"%s\",\"%s\"\n", a, b, c);
	else
		fprintf(f, "\t%s\t%s\t%s\n", a, b, c);
}

static int write_users(const char *path, size_t rows, bool csv)
{
	FILE *f = open_table(path, csv, "user_id", "country", "plan", "signup_date");
	if (!f)
		return -errno;
	char date[48];
	for (size_t i = 0; i < rows; i++) {
		uint64_t k = mix(i);
		days_to_date((unsigned)(14000 + k % 6000), date);
		fprintf(f, "%" PRIu64, k);
		put_attrs(f, csv, countries[(k >> 8) % 30], plans[(k >> 16) % 5], date);
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static int write_devices(const char *path, size_t rows, bool csv)
{
	FILE *f = open_table(path, csv, "device_id", "device_type", "os", "browser");
	if (!f)
		return -errno;
	char key[32];
	for (size_t i = 0; i < rows; i++) {
		device_key(i, key);
		uint64_t h = mix(i + 77);
		fprintf(f, csv ? "\"%s\"" : "%s", key);
		put_attrs(f, csv, types[h % 5], oses[(h >> 8) % 6], browsers[(h >> 16) % 7]);
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static struct dim *load(const char *name, const char *path, const char *key, enum dim_type kt,
			const struct dim_attr_spec *attrs, unsigned n, unsigned threads,
			enum huge_mode mode)
{
	struct dim_spec spec = {.name = name, .path = path, .key_column = key, .key_type = kt,
		.attrs = attrs, .attr_count = n, .threads = threads, .huge_mode = mode};
	struct dim *d = NULL;
	struct dim_load_stats st;
	double cpu0 = bench_cpu_s();
	int rc = dim_load(&spec, &d, &st);
	double cpu = bench_cpu_s() - cpu0;
	if (rc) {
		fprintf(stderr, "load %s: %s\n", name, st.error);
		exit(1);
	}
	printf("%-8s load: %zu rows in %.3f s = %.2fM rows/s (%u threads, %.0f MB source); "
	       "%.2f CPU s = %.2fM rows per CPU second\n", name, dim_rows(d), st.seconds,
	       st.rows_per_s / 1e6, st.threads, (double)st.source_bytes / 1e6, cpu,
	       (double)st.source_rows / cpu / 1e6);
	printf("%-8s memory: %.1f MiB = %.1f B/row (capacity %zu slots x %zu B, load %.2f, %s)\n",
	       name, (double)dim_bytes(d) / 1048576.0, (double)dim_bytes(d) / (double)dim_rows(d),
	       dim_capacity(d), dim_slot_bytes(d), (double)dim_rows(d) / (double)dim_capacity(d),
	       huge_mode_name(dim_huge_mode(d)));
	return d;
}

/* Hashes and prefetches keys [at, at + n) of u64 (UInt64 keys), else of str. */
static void hash_prefetch(const struct dim *d, const uint64_t *u64, const struct dim_str *str,
			  size_t at, size_t n, uint64_t *hashes)
{
	if (u64)
		dim_hash_u64(d, u64 + at, n, hashes);
	else
		dim_hash_str(d, str + at, n, hashes);
	dim_prefetch(d, hashes, n);
}

/* Looks the keys up (u64's, else str's), reading attribute col of each row, and prints the
 * rate. Pipelined as a worker would: batch b+1 is hashed and prefetched before b is probed. */
static void bench_lookups(const char *name, const struct dim *d, const uint64_t *u64,
			  const struct dim_str *str, size_t lookups, const struct dim_col *col)
{
	uint64_t hashes[2][BATCH], sum = 0;
	const struct dim_row *out[BATCH];
	size_t hits = 0;
	double t0 = bench_now_s();
	size_t n = lookups < BATCH ? lookups : BATCH;
	hash_prefetch(d, u64, str, 0, n, hashes[0]);
	for (size_t b = 0, k = 0; b < lookups; b += BATCH, k ^= 1) {
		n = lookups - b < BATCH ? lookups - b : BATCH;
		size_t next = b + BATCH < lookups ? lookups - b - BATCH : 0;
		next = next < BATCH ? next : BATCH;
		if (next)
			hash_prefetch(d, u64, str, b + BATCH, next, hashes[k ^ 1]);
		if (u64)
			dim_lookup_u64(d, u64 + b, hashes[k], n, out);
		else
			dim_lookup_str(d, str + b, hashes[k], n, out);
		for (size_t j = 0; j < n; j++) {
			hits += out[j] != NULL;
			sum += dim_row_lc(col, out[j]);
		}
	}
	double t = bench_now_s() - t0;
	printf("%-8s lookup: %.1fM lookups/s (hash + prefetch + probe + read, batch %d, "
	       "%zu/%zu hits, sum %" PRIu64 ")\n", name, (double)lookups / t / 1e6, BATCH, hits,
	       lookups, sum);
}

static void bench_users(const struct dim *d, size_t rows, size_t lookups)
{
	uint64_t *keys = malloc(lookups * sizeof(*keys));
	if (!keys)
		exit(1);
	for (size_t i = 0; i < lookups; i++)
		keys[i] = mix(mix(i + 12345) % rows);
	bench_lookups("users", d, keys, NULL, lookups, dim_col(d, 0));
	free(keys);
}

static void bench_devices(const struct dim *d, size_t rows, size_t lookups)
{
	char *bytes = malloc(lookups * 24);
	struct dim_str *keys = malloc(lookups * sizeof(*keys));
	if (!bytes || !keys)
		exit(1);
	for (size_t i = 0; i < lookups; i++) {
		char tmp[32];
		size_t len = device_key(mix(i + 999) % rows, tmp);
		memcpy(bytes + i * 24, tmp, len);
		keys[i] = (struct dim_str){bytes + i * 24, len};
	}
	bench_lookups("devices", d, NULL, keys, lookups, dim_col(d, 1));
	free(keys);
	free(bytes);
}

/* Independent random 64-byte loads from a region of the given size, batched like lookups. */
static void bench_random_lines(size_t bytes, size_t loads, enum huge_mode mode)
{
	enum huge_mode got = mode;
	uint8_t *p = huge_alloc(bytes, &got);
	if (!p)
		return;
	memset(p, 1, bytes);
	size_t lines = bytes / 64;
	uint64_t sum = 0, idx[BATCH];
	double t0 = bench_now_s();
	for (size_t b = 0; b < loads; b += BATCH) {
		for (size_t j = 0; j < BATCH; j++)
			idx[j] = mix(b + j) % lines;
		for (size_t j = 0; j < BATCH; j++)
			__builtin_prefetch(p + idx[j] * 64);
		for (size_t j = 0; j < BATCH; j++)
			sum += p[idx[j] * 64];
	}
	double t = bench_now_s() - t0;
	printf("random 64-byte loads over %zu MiB (%s): %.1fM/s (sum %" PRIu64 ")\n", bytes >> 20,
	       huge_mode_name(got), (double)loads / t / 1e6, sum);
	huge_free(p, bytes);
}

int main(int argc, char **argv)
{
	size_t rows = 10000000, lookups = 20000000;
	unsigned threads = 0, repeat = 1;
	bool csv = false, native = false, verbose = false;
	enum huge_mode mode = HUGE_MODE_AUTO;
	const char *dir = NULL;
	static const struct option options[] = {
		{"rows", required_argument, NULL, 'r'},  {"lookups", required_argument, NULL, 'l'},
		{"format", required_argument, NULL, 'f'}, {"huge", required_argument, NULL, 'h'},
		{"threads", required_argument, NULL, 't'}, {"dir", required_argument, NULL, 'd'},
		{"repeat", required_argument, NULL, 'n'}, {"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "r:l:f:h:t:d:n:v", options, NULL)) != -1) {
		switch (c) {
		case 'r':
			rows = strtoull(optarg, NULL, 10);
			break;
		case 'l':
			lookups = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			csv = strcmp(optarg, "csv") == 0;
			native = strcmp(optarg, "native") == 0;
			break;
		case 'h':
			if (huge_mode_parse(optarg, &mode) != 0) {
				fprintf(stderr, "unknown page mode %s\n", optarg);
				return 2;
			}
			break;
		case 't':
			threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'n':
			repeat = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: bench-dim-bench [--rows N] [--lookups N] "
					"[--format tsv|csv|native] [--huge MODE] [--threads N] [--dir DIR] "
					"[--repeat N] [--verbose]\n");
			return 2;
		}
	}
	if (rows == 0 || repeat == 0)
		return 2;
	log_level_set(verbose ? LOG_LEVEL_INFO : LOG_LEVEL_WARN);
	char tmp[] = "/tmp/dim-bench-XXXXXX";
	bool own_dir = !dir;
	if (own_dir && !(dir = mkdtemp(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	char users[512], devices[512];
	const char *ext = native ? "native" : csv ? "csv" : "tsv";
	snprintf(users, sizeof(users), "%s/users-%zu.%s", dir, rows, ext);
	snprintf(devices, sizeof(devices), "%s/devices-%zu.%s", dir, rows, ext);
	struct stat st;
	double t0 = bench_now_s();
	if (native && (stat(users, &st) != 0 || stat(devices, &st) != 0)) {
		fprintf(stderr, "--format native loads existing %s and %s (convert the TSV files "
				"with ClickHouse)\n", users, devices);
		return 1;
	}
	if (stat(users, &st) != 0 && write_users(users, rows, csv) != 0)
		return 1;
	if (stat(devices, &st) != 0 && write_devices(devices, rows, csv) != 0)
		return 1;
	printf("data: %zu rows per table in %s (%.1f s to write)\n", rows, dir, bench_now_s() - t0);

	struct dim *u = NULL, *d = NULL;
	for (unsigned i = 0; i < repeat; i++) {
		dim_free(u);
		dim_free(d);
		u = load("users", users, "user_id", DIM_TYPE_UINT64, bench_users_attrs, 3, threads,
			 mode);
		d = load("devices", devices, "device_id", DIM_TYPE_STRING, bench_devices_attrs, 3,
			 threads, mode);
	}
	FILE *smaps = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	while (smaps && fgets(line, sizeof(line), smaps)) {
		if (strncmp(line, "AnonHugePages:", 14) == 0 || strncmp(line, "Rss:", 4) == 0)
			printf("process %s", line);
	}
	if (smaps)
		fclose(smaps);
	bench_users(u, rows, lookups);
	bench_devices(d, rows, lookups / 2);
	bench_random_lines(huge_size(dim_bytes(u)), lookups, mode);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS: %.0f MiB (tables now %.0f MiB)\n", (double)ru.ru_maxrss / 1024.0,
	       (double)(dim_bytes(u) + dim_bytes(d)) / 1048576.0);
	dim_free(u);
	dim_free(d);
	if (own_dir) {
		unlink(users);
		unlink(devices);
		rmdir(dir);
	}
	return 0;
}
