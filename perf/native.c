/*
 * bench-native: rows per second through the Native block builder with enrichd's default output
 * schema (event columns, six dictionary-encoded dimension attributes, Kafka metadata), split into
 * the append phase and the encode phase.
 *
 *   bench-native [ROWS] [ROWS_PER_BLOCK]      defaults: 5000000 65536
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gen.h"
#include "native.h"

enum {
	C_EVENT_TIME,
	C_USER_ID,
	C_DEVICE_ID,
	C_URL,
	C_COUNTRY,
	C_PLAN,
	C_SIGNUP_DATE,
	C_DEVICE_TYPE,
	C_OS,
	C_BROWSER,
	C_DOMAIN,
	C_CATEGORY,
	C_TOPIC,
	C_PARTITION,
	C_OFFSET,
	C_KAFKA_TIME,
	C_INGEST_TIME,
	C_COUNT,
};

#define LCN "LowCardinality(Nullable(String))"
#define EXT(n) .dict_mode = NATIVE_DICT_EXTERNAL, .dict_keys_max = (n)

static const struct native_column_spec schema[C_COUNT] = {
	{.name = "event_time", .type = "DateTime64(3, 'UTC')"},
	{.name = "user_id", .type = "UInt64"},
	{.name = "device_id", .type = "String"},
	{.name = "url", .type = "String"},
	{.name = "country", .type = LCN, EXT(256)},
	{.name = "plan", .type = LCN, EXT(8)},
	{.name = "signup_date", .type = "Nullable(Date)"},
	{.name = "device_type", .type = LCN, EXT(8)},
	{.name = "os", .type = LCN, EXT(32)},
	{.name = "browser", .type = LCN, EXT(64)},
	{.name = "domain", .type = LCN, EXT(100000)},
	{.name = "category", .type = LCN, EXT(64)},
	{.name = "_topic", .type = "LowCardinality(String)", .dict_keys_max = 16},
	{.name = "_partition", .type = "UInt64"},
	{.name = "_offset", .type = "UInt64"},
	{.name = "_kafka_time", .type = "DateTime64(3, 'UTC')"},
	{.name = "_ingest_time", .type = "DateTime64(3, 'UTC')"},
};

#define INPUTS 4096 /* distinct input rows, cycled */

struct input {
	int64_t ts;
	uint64_t user;
	char device[24];
	uint32_t device_len;
	char url[96];
	uint32_t url_len;
	uint32_t codes[C_COUNT];
	uint32_t signup;
};

/* The inputs' random draws: the same every run. */
static struct gen_rng rng_state = {1};

static uint64_t rng(void)
{
	return gen_next(&rng_state);
}

static struct native_str *make_dict(uint32_t n, const char *prefix)
{
	struct native_str *d = calloc(n, sizeof(*d));
	char *bytes = malloc((size_t)n * 24);
	if (!d || !bytes)
		exit(1);
	for (uint32_t i = 0; i < n; i++) {
		int len = snprintf(bytes + (size_t)i * 24, 24, "%s-%u", prefix, i);
		d[i] = (struct native_str){bytes + (size_t)i * 24, (uint32_t)len};
	}
	return d;
}

static int append_row(struct native_block *b, const struct input *in, uint64_t offset)
{
	int rc = 0;
	rc |= native_append_i64(b, C_EVENT_TIME, in->ts);
	rc |= native_append_u64(b, C_USER_ID, in->user);
	rc |= native_append_str(b, C_DEVICE_ID, in->device, in->device_len);
	rc |= native_append_str(b, C_URL, in->url, in->url_len);
	for (uint32_t c = C_COUNTRY; c <= C_CATEGORY; c++)
		if (c != C_SIGNUP_DATE)
			rc |= native_append_code(b, c, in->codes[c]);
	rc |= in->signup ? native_append_u64(b, C_SIGNUP_DATE, in->signup)
			 : native_append_null(b, C_SIGNUP_DATE);
	rc |= native_append_str(b, C_TOPIC, "clickstream", 11);
	rc |= native_append_u64(b, C_PARTITION, offset % 24);
	rc |= native_append_u64(b, C_OFFSET, offset);
	rc |= native_append_i64(b, C_KAFKA_TIME, in->ts + 5);
	rc |= native_append_i64(b, C_INGEST_TIME, in->ts + 9);
	if (rc)
		return -ENOSPC;
	return native_block_commit_row(b);
}

int main(int argc, char **argv)
{
	uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
	uint32_t block_rows = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 65536;
	struct native_block *b;
	if (native_block_init(&b, schema, C_COUNT, block_rows, (size_t)block_rows * 128) < 0)
		return 1;
	static const uint32_t dict_sizes[C_COUNT] = {
		[C_COUNTRY] = 256, [C_PLAN] = 8,     [C_DEVICE_TYPE] = 8, [C_OS] = 32,
		[C_BROWSER] = 64,  [C_DOMAIN] = 100000, [C_CATEGORY] = 64,
	};
	for (uint32_t c = 0; c < C_COUNT; c++)
		if (dict_sizes[c] && native_block_set_dict(b, c, make_dict(dict_sizes[c], "v"),
							   dict_sizes[c]) < 0)
			return 1;
	struct input *in = calloc(INPUTS, sizeof(*in));
	if (!in)
		return 1;
	for (uint32_t i = 0; i < INPUTS; i++) {
		in[i].ts = 1700000000000 + (int64_t)i * 7;
		in[i].user = rng() % 10000000;
		in[i].device_len = (uint32_t)snprintf(in[i].device, sizeof(in[i].device), "dev-%016llx",
						      (unsigned long long)(rng() % 10000000));
		in[i].url_len = (uint32_t)snprintf(in[i].url, sizeof(in[i].url),
						   "https://example-%u.com/path/%llu/item?id=%llu",
						   (unsigned)(rng() % 100000),
						   (unsigned long long)(rng() % 1000),
						   (unsigned long long)rng() % 1000000);
		for (uint32_t c = 0; c < C_COUNT; c++)
			if (dict_sizes[c])
				in[i].codes[c] = (uint32_t)(rng() % dict_sizes[c]);
		in[i].signup = rng() % 10 ? 19000 + (uint32_t)(rng() % 1000) : 0;
	}
	size_t cap = native_block_encoded_max(b);
	uint8_t *out = malloc(cap);
	if (!out)
		return 1;
	double t_append = 0, t_encode = 0;
	uint64_t bytes = 0, blocks = 0, done = 0;
	while (done < rows) {
		double t0 = bench_now_s();
		uint32_t n = 0;
		while (n < block_rows && done < rows) {
			if (append_row(b, &in[done % INPUTS], done) < 0) {
				fprintf(stderr, "bench-native: append failed at row %llu\n",
					(unsigned long long)done);
				return 1;
			}
			n++;
			done++;
		}
		double t1 = bench_now_s();
		size_t len;
		if (native_block_encode(b, out, cap, &len) < 0)
			return 1;
		native_block_reset(b);
		double t2 = bench_now_s();
		t_append += t1 - t0;
		t_encode += t2 - t1;
		bytes += len;
		blocks++;
	}
	printf("bench-native: %llu rows, %u columns, %llu blocks of %u rows, %.1f MB encoded "
	       "(%.1f B/row)\n",
	       (unsigned long long)rows, (unsigned)C_COUNT, (unsigned long long)blocks, block_rows,
	       (double)bytes / 1e6, (double)bytes / (double)rows);
	printf("  append: %.2f M rows/s (%.1f ns/row)\n", (double)rows / t_append / 1e6,
	       t_append * 1e9 / (double)rows);
	printf("  encode: %.2f M rows/s (%.1f ns/row, %.2f GB/s)\n", (double)rows / t_encode / 1e6,
	       t_encode * 1e9 / (double)rows, (double)bytes / t_encode / 1e9);
	printf("  total:  %.2f M rows/s per core\n", (double)rows / (t_append + t_encode) / 1e6);
	free(out);
	free(in);
	native_block_destroy(b);
	return 0;
}
