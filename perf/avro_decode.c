/*
 * bench-avro-decode: decode speed of av_decode on one core.
 *
 *   bench-avro-decode [MESSAGES [PASSES]]   (default 1000000 messages, at most 4M, 5 passes)
 *
 * Encodes MESSAGES Avro bodies (the Confluent header is read with av_frame too) of a 16-field
 * clickstream writer schema: longs (a timestamp-millis, a user id), strings (URL, device, session,
 * IP, user agent), a union with null, a nested record, an enum, an array of strings, a double,
 * an int, a boolean, and a map no field reads (skipped). 15 declared fields read them, one of them
 * a path into the nested record. Decodes all of them PASSES times on the calling thread, checks
 * every result, and prints the best pass in messages/s, MB/s and ns/message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro.h"
#include "gen.h"

#define MESSAGES_MAX 100000000ULL
#define PASSES_MAX 100
#define MESSAGE_MAX 1024

static const char schema_json[] =
	"{\"type\":\"record\",\"name\":\"Click\",\"namespace\":\"bench\",\"fields\":["
	"{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
	"{\"name\":\"user_id\",\"type\":\"long\"},"
	"{\"name\":\"url\",\"type\":\"string\"},"
	"{\"name\":\"device_id\",\"type\":\"string\"},"
	"{\"name\":\"session\",\"type\":\"string\"},"
	"{\"name\":\"referrer\",\"type\":[\"null\",\"string\"],\"default\":null},"
	"{\"name\":\"page\",\"type\":{\"type\":\"record\",\"name\":\"Page\",\"fields\":["
	"{\"name\":\"path\",\"type\":\"string\"},{\"name\":\"depth\",\"type\":\"int\"}]}},"
	"{\"name\":\"country\",\"type\":{\"type\":\"enum\",\"name\":\"Country\",\"symbols\":"
	"[\"US\",\"DE\",\"FR\",\"JP\",\"BR\",\"IN\",\"GB\",\"CA\"]}},"
	"{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
	"{\"name\":\"price\",\"type\":\"double\"},"
	"{\"name\":\"quantity\",\"type\":\"int\"},"
	"{\"name\":\"is_new\",\"type\":\"boolean\"},"
	"{\"name\":\"props\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
	"{\"name\":\"ip\",\"type\":\"string\"},"
	"{\"name\":\"user_agent\",\"type\":\"string\"}]}";

static const struct av_field_decl decls[] = {
	{.path = "ts", .target = AV_TO_DATETIME64, .size = 3},
	{.path = "user_id", .target = AV_TO_U64, .size = 8},
	{.path = "url", .target = AV_TO_STRING},
	{.path = "device_id", .target = AV_TO_STRING},
	{.path = "session", .target = AV_TO_STRING},
	{.path = "referrer", .target = AV_TO_STRING, .nullable = 1},
	{.path = "page.path", .target = AV_TO_STRING},
	{.path = "page.depth", .target = AV_TO_U64, .size = 2},
	{.path = "country", .target = AV_TO_STRING},
	{.path = "tags", .target = AV_TO_ARRAY_STRING},
	{.path = "price", .target = AV_TO_F64, .size = 8},
	{.path = "quantity", .target = AV_TO_I64, .size = 4},
	{.path = "is_new", .target = AV_TO_BOOL},
	{.path = "ip", .target = AV_TO_STRING},
	{.path = "user_agent", .target = AV_TO_STRING},
};
#define N_FIELDS (sizeof(decls) / sizeof(decls[0]))

/* The project's splitmix64 stream from a fixed seed: every run decodes the same messages. */
static struct gen_rng rng_state = {GEN_MIX_GOLDEN};

static uint64_t rng(void)
{
	return gen_next(&rng_state);
}

static uint8_t *put_long(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	while (z >= 0x80) {
		*p++ = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	*p++ = (uint8_t)z;
	return p;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
	p = put_long(p, (int64_t)n);
	memcpy(p, s, n);
	return p + n;
}

static uint8_t *put_text(uint8_t *p, const char *s)
{
	return put_str(p, s, strlen(s));
}

/* One framed message into out; returns its length. */
static size_t make_message(uint8_t *out, uint64_t i)
{
	static const char *const sections[] = {"products", "search", "cart", "blog", "deals"};
	char buf[160];
	uint8_t *p = out;
	memcpy(p, "\0\0\0\0\x07", 5);
	p += 5;
	p = put_long(p, INT64_C(1767225600000) + (int64_t)(rng() % INT64_C(31536000000)));
	p = put_long(p, (int64_t)(rng() % 50000000));
	snprintf(buf, sizeof(buf), "https://shop.example.com/%s/item-%" PRIu64 "?ref=%" PRIu64,
		 sections[rng() % 5], rng() % 1000000, rng() % 100);
	p = put_text(p, buf);
	snprintf(buf, sizeof(buf), "%016" PRIx64, rng());
	p = put_text(p, buf);
	snprintf(buf, sizeof(buf), "s-%" PRIu64 "-%" PRIu64, i, rng() % 100000);
	p = put_text(p, buf);
	if (rng() % 3 == 0) {
		p = put_long(p, 0);
	} else {
		p = put_long(p, 1);
		p = put_text(p, "https://www.search.example/q?x=1");
	}
	snprintf(buf, sizeof(buf), "/%s/%" PRIu64, sections[rng() % 5], rng() % 1000);
	p = put_text(p, buf);
	p = put_long(p, (int64_t)(rng() % 12));
	p = put_long(p, (int64_t)(rng() % 8));
	uint64_t tags = rng() % 4;
	if (tags > 0) {
		p = put_long(p, (int64_t)tags);
		for (uint64_t k = 0; k < tags; k++)
			p = put_text(p, k % 2 ? "promo" : "mobile");
	}
	p = put_long(p, 0);
	double price = (double)(rng() % 100000) / 100;
	memcpy(p, &price, 8);
	p += 8;
	p = put_long(p, (int64_t)(rng() % 10) + 1);
	*p++ = (uint8_t)(rng() & 1);
	p = put_long(p, 2);
	p = put_text(p, "utm_source");
	p = put_text(p, "newsletter");
	p = put_text(p, "utm_medium");
	p = put_text(p, "email");
	p = put_long(p, 0);
	snprintf(buf, sizeof(buf), "10.%u.%u.%u", (unsigned)(rng() % 256), (unsigned)(rng() % 256),
		 (unsigned)(rng() % 256));
	p = put_text(p, buf);
	p = put_text(p, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36");
	return (size_t)(p - out);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Decodes every message once; returns the seconds taken, or -1 when one failed. */
static double pass(const struct av_plan *plan, const uint8_t *arena, const uint32_t *offs,
		   uint64_t n, char *scratch, size_t scratch_cap, uint64_t *checksum)
{
	struct event_value vals[N_FIELDS];
	struct av_error err;
	double t0 = now_s();
	for (uint64_t i = 0; i < n; i++) {
		const char *m = (const char *)arena + offs[i];
		size_t len = offs[i + 1] - offs[i], off;
		uint32_t id, used;
		if (av_frame(m, len, &id, &off, &err) != 0 ||
		    av_decode(plan, m + off, len - off, vals, scratch, scratch_cap, &used, &err) != 0) {
			fprintf(stderr, "message %" PRIu64 ": %s at %zu\n", i, err.reason, err.offset);
			return -1;
		}
		*checksum += vals[1].u64 + vals[2].len + vals[9].len;
	}
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	int passes = argc > 2 ? atoi(argv[2]) : 5;
	if (n == 0 || n > MESSAGES_MAX || n * MESSAGE_MAX > UINT32_MAX || passes < 1 ||
	    passes > PASSES_MAX) {
		fprintf(stderr, "usage: bench-avro-decode [MESSAGES [PASSES]]\n");
		return 64;
	}
	char err[512];
	struct av_schema *schema = NULL;
	struct av_reader *reader = NULL;
	struct av_plan *plan = NULL;
	if (av_schema_parse(schema_json, strlen(schema_json), &schema, err, sizeof(err)) != 0 ||
	    av_reader_create(decls, N_FIELDS, &reader, err, sizeof(err)) != 0 ||
	    av_resolve(schema, reader, &plan, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench-avro-decode: %s\n", err);
		return 1;
	}
	uint8_t *arena = malloc(n * MESSAGE_MAX);
	uint32_t *offs = malloc((n + 1) * sizeof(*offs));
	size_t scratch_cap = AV_SCRATCH_BOUND(MESSAGE_MAX, N_FIELDS);
	char *scratch = malloc(scratch_cap);
	if (arena == NULL || offs == NULL || scratch == NULL) {
		fprintf(stderr, "bench-avro-decode: too many messages for memory\n");
		return 1;
	}
	uint64_t bytes = 0;
	for (uint64_t i = 0; i < n; i++) {
		offs[i] = (uint32_t)bytes;
		bytes += make_message(arena + bytes, i);
	}
	offs[n] = (uint32_t)bytes;
	double best = 0;
	uint64_t checksum = 0;
	for (int p = 0; p < passes; p++) {
		double t = pass(plan, arena, offs, n, scratch, scratch_cap, &checksum);
		if (t < 0)
			return 1;
		if (p == 0 || t < best)
			best = t;
	}
	printf("avro decode: %" PRIu64 " messages of %.0f bytes, 15 fields, best of %d passes: "
	       "%.0f messages/s, %.0f MB/s, %.1f ns/message (checksum %" PRIu64 ")\n",
	       n, (double)bytes / (double)n, passes, (double)n / best, (double)bytes / best / 1e6,
	       best * 1e9 / (double)n, checksum % 1000);
	free(scratch);
	free(offs);
	free(arena);
	av_plan_free(plan);
	av_reader_free(reader);
	av_schema_free(schema);
	return 0;
}
