/*
 * bench-event-bench: decode speed of event_decode on one core, on the default schema's plan or
 * on a declared 16-field schema's.
 *
 *   bench-event-bench [--schema15] [--file PATH] [EVENTS [PASSES]]  (default 1000000 events, 5
 *                                                                     passes)
 *   bench-event-bench --schema15 --emit EVENTS                        (the events as JSON lines)
 *
 * Default schema: generates EVENTS typical clickstream messages (about 150 bytes each: RFC 3339
 * timestamps with milliseconds, mostly Z and some with an offset, some epoch-ms integers;
 * numeric and string user ids; URLs with a path and query, a few with escapes; hex or integer
 * device ids; some messages carry an extra member).
 *
 * --schema15: the plan of SCHEMA15 below (16 fields: nested objects, arrays, Nullable, UUID,
 * IPv4, FixedString, Bool, Float64, Date, LowCardinality) over messages of about 420 bytes as a
 * producer of that schema writes them (members in declaration order; a referrer, a price or a
 * duration null or absent now and then; every 50th message with an escape).
 *
 * --file takes the first EVENTS lines of the JSON-lines file PATH instead (lines longer than
 * MESSAGE_MAX bytes are skipped). All events are decoded PASSES times on the calling thread; the
 * best pass is printed in events/s, MB/s and ns/event. Instruction counts of the decode alone:
 *   valgrind --tool=callgrind --toggle-collect=event_decode bench-event-bench 200000 1
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "gen.h"
#include "schema.h"

#define MESSAGE_MAX 1024
#define EVENTS_MAX 100000000ULL
#define PASSES_MAX 100
#define SLOTS_MAX (SCHEMA_FIELDS_MAX + 1)

/* The declared schema of --schema15 (the integration test and perf/run.sh's schema15 part
 * declare the same fields). */
static const char *const schema15[][2] = {
	{"event_time", "DateTime64(3, 'UTC') from ts unit=ms"},
	{"event_type", "LowCardinality(String) from type"},
	{"user_id", "UInt64 from user.id"},
	{"logged_in", "Bool from user.logged_in"},
	{"session_id", "UUID from session"},
	{"device_id", "String from device.id integers=text"},
	{"client_os", "LowCardinality(String) from device.os"},
	{"url", "String from page.url"},
	{"referrer", "Nullable(String) from page.referrer"},
	{"geo_country", "FixedString(2) from geo.country"},
	{"ip", "IPv4 from geo.ip"},
	{"price", "Nullable(Float64) from cart.price"},
	{"items", "Array(Int64) from cart.items"},
	{"tags", "Array(String) from tags"},
	{"duration_ms", "Nullable(UInt32) from duration_ms"},
	{"day", "Date from day"},
};

/* The project's splitmix64 stream from a fixed seed: every run decodes the same messages. */
static struct gen_rng rng_state = {GEN_MIX_GOLDEN};

static uint64_t rng(void)
{
	return gen_next(&rng_state);
}

static const char *const sections[] = {"products", "category", "search", "cart", "blog",
				       "account",  "help",     "deals"};
static const char *const offsets[] = {"+02:00", "-08:00", "+05:30", "+00:00", "-03:00"};

/* Writes one default-schema message into out (at least MESSAGE_MAX bytes); returns its length. */
static size_t make_event(char *out)
{
	char ts[48], user[32], url[160], dev[48], extra[48] = "";
	uint64_t r = rng();
	int64_t t = INT64_C(1767225600000) + (int64_t)(rng() % (INT64_C(86400000) * 365));
	time_t secs = (time_t)(t / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	if (r % 10 < 7)
		snprintf(ts, sizeof(ts), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(t % 1000));
	else if (r % 10 < 9)
		snprintf(ts, sizeof(ts), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03d%s\"",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(t % 1000), offsets[rng() % 5]);
	else
		snprintf(ts, sizeof(ts), "%" PRId64, t);
	uint64_t uid = rng() % 50000000;
	if ((r >> 8) % 10 == 0)
		snprintf(user, sizeof(user), "\"%" PRIu64 "\"", uid);
	else
		snprintf(user, sizeof(user), "%" PRIu64, uid);
	const char *slash = (r >> 16) % 50 == 0 ? "\\/" : "/";
	snprintf(url, sizeof(url), "https:%s%sshop.example.com/%s/item-%" PRIu64 "?ref=%" PRIu64,
		 slash, slash, sections[rng() % 8], rng() % 1000000, rng() % 1000);
	if ((r >> 24) % 10 == 0)
		snprintf(dev, sizeof(dev), "%" PRIu64, rng() % UINT64_C(100000000000));
	else
		snprintf(dev, sizeof(dev), "\"d-%016" PRIx64 "\"", rng());
	if ((r >> 32) % 5 == 0)
		snprintf(extra, sizeof(extra), ",\"session\":{\"id\":%" PRIu64 ",\"new\":true}",
			 rng() % 100000);
	int n = snprintf(out, MESSAGE_MAX,
			 "{\"timestamp\":%s,\"user_id\":%s,\"url\":\"%s\",\"device_id\":%s%s}", ts,
			 user, url, dev, extra);
	return (size_t)n;
}

/* Writes one SCHEMA15 message into out (at least MESSAGE_MAX bytes); returns its length. */
static size_t make_event15(char *out)
{
	static const char *const types[] = {"view", "click", "add_to_cart", "purchase"};
	static const char *const os[] = {"ios", "android", "windows", "macos", "linux"};
	static const char *const countries[] = {"FR", "DE", "US", "JP", "BR", "IN"};
	static const char *const tags[] = {"new", "sale", "promo", "featured", "gift"};
	uint64_t r = rng();
	int64_t t = INT64_C(1767225600000) + (int64_t)(rng() % (INT64_C(86400000) * 365));
	time_t secs = (time_t)(t / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char referrer[96], price[32], items[96], tagv[96], duration[32];
	if (r % 7 == 0)
		snprintf(referrer, sizeof(referrer), "null");
	else
		snprintf(referrer, sizeof(referrer), "\"https://search.example.org/q?s=%" PRIu64 "%s\"",
			 rng() % 100000, r % 50 == 1 ? "\\u00e9" : "");
	if ((r >> 8) % 5 == 0)
		snprintf(price, sizeof(price), "null");
	else
		snprintf(price, sizeof(price), "%" PRIu64 ".%02" PRIu64, rng() % 1000, rng() % 100);
	int ni = (int)((r >> 16) % 4), nt = (int)((r >> 20) % 3), at = 0;
	at += snprintf(items + at, sizeof(items) - (size_t)at, "[");
	for (int i = 0; i < ni; i++)
		at += snprintf(items + at, sizeof(items) - (size_t)at, "%s%" PRIu64, i ? "," : "",
			       rng() % 100000000);
	snprintf(items + at, sizeof(items) - (size_t)at, "]");
	at = snprintf(tagv, sizeof(tagv), "[");
	for (int i = 0; i < nt; i++)
		at += snprintf(tagv + at, sizeof(tagv) - (size_t)at, "%s\"%s\"", i ? "," : "",
			       tags[rng() % 5]);
	snprintf(tagv + at, sizeof(tagv) - (size_t)at, "]");
	if ((r >> 24) % 6 == 0)
		duration[0] = '\0'; /* absent */
	else
		snprintf(duration, sizeof(duration), ",\"duration_ms\":%" PRIu64, rng() % 600000);
	uint64_t u1 = rng(), u2 = rng();
	int n = snprintf(
		out, MESSAGE_MAX,
		"{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"type\":\"%s\",\"user\":{\"id\":%" PRIu64
		",\"logged_in\":%s},\"session\":\"%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64
		"-%012" PRIx64 "\",\"device\":{\"id\":\"d-%016" PRIx64 "\",\"os\":\"%s\"},\"page\":{"
		"\"url\":\"https://shop.example.com/%s/item-%" PRIu64 "?ref=%" PRIu64 "\","
		"\"referrer\":%s},\"geo\":{\"country\":\"%s\",\"ip\":\"10.%u.%u.%u\"},\"cart\":{"
		"\"price\":%s,\"items\":%s},\"tags\":%s%s,\"day\":\"%04d-%02d-%02d\"}",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		(int)(t % 1000), types[r % 4], rng() % 50000000, (r >> 40) % 2 ? "true" : "false",
		u1 >> 32, (u1 >> 16) & 0xffff, u1 & 0xffff, u2 >> 48, u2 & UINT64_C(0xffffffffffff), rng(),
		os[rng() % 5], sections[rng() % 8], rng() % 1000000, rng() % 1000, referrer,
		countries[rng() % 6], (unsigned)(rng() % 256), (unsigned)(rng() % 256),
		(unsigned)(rng() % 256), price, items, tagv, duration, tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday);
	return (size_t)n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads up to events lines of f into arena (MESSAGE_MAX bytes per event) without their
 * newlines, their offsets into start; returns how many it read. */
static unsigned long long read_events(FILE *f, unsigned long long events, char *arena,
				      size_t *start)
{
	char line[MESSAGE_MAX + 2];
	unsigned long long n = 0;
	size_t off = 0;
	while (n < events && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			len--;
		} else if (!feof(f)) {
			int c; /* longer than MESSAGE_MAX: skip the rest of it */
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (len == 0 || len > MESSAGE_MAX)
			continue;
		start[n++] = off;
		memcpy(arena + off, line, len);
		off += len;
	}
	start[n] = off;
	return n;
}

/* The plan: the default schema, or SCHEMA15's fields. */
static struct event_plan *plan_make(bool s15)
{
	static struct schema s;
	memset(&s, 0, sizeof(s));
	snprintf(s.metadata, sizeof(s.metadata), "%s", SCHEMA_META_DEFAULT);
	char err[256];
	if (s15) {
		for (size_t i = 0; i < sizeof(schema15) / sizeof(schema15[0]); i++)
			if (schema_field_parse(schema15[i][0], schema15[i][1],
					       &s.fields[s.field_count++], err, sizeof(err)) < 0) {
				fprintf(stderr, "bench-event-bench: field.%s: %s\n", schema15[i][0], err);
				return NULL;
			}
		snprintf(s.time_field, sizeof(s.time_field), "event_time");
	} else {
		schema_default_fields(&s);
	}
	unsigned line;
	struct event_plan *p = NULL;
	if (schema_finish(&s, err, sizeof(err), &line) < 0 ||
	    event_plan_create(&s, &p, err, sizeof(err), NULL) < 0) {
		fprintf(stderr, "bench-event-bench: %s\n", err);
		return NULL;
	}
	return p;
}

/* Folds a decoded event into a check value, so no decode is optimised away. */
static uint64_t fold(const struct event_value *v, uint32_t slots)
{
	uint64_t c = 0;
	for (uint32_t i = 0; i < slots; i++)
		c = c * 31 + (v[i].null ? 7 : v[i].u64 ^ v[i].len);
	return c;
}

struct options {
	const char *path;
	bool s15;
	bool emit;
	unsigned long long events;
	unsigned long passes;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	*o = (struct options){.events = 1000000, .passes = 5};
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--schema15") == 0)
			o->s15 = true;
		else if (strcmp(argv[i], "--emit") == 0)
			o->emit = true;
		else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
			o->path = argv[++i];
		else
			return -1;
	}
	if (i < argc)
		o->events = strtoull(argv[i++], NULL, 10);
	if (i < argc)
		o->passes = strtoul(argv[i++], NULL, 10);
	if (i < argc || o->events == 0 || o->events > EVENTS_MAX || o->passes == 0 ||
	    o->passes > PASSES_MAX || (o->emit && o->path))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr,
			"usage: bench-event-bench [--schema15] [--file PATH] [EVENTS (1..%llu) "
			"[PASSES (1..%d)]]\n       bench-event-bench --schema15 --emit EVENTS\n",
			EVENTS_MAX, PASSES_MAX);
		return 2;
	}
	unsigned long long events = o.events;
	char *arena = malloc((size_t)events * MESSAGE_MAX);
	size_t *start = malloc((size_t)(events + 1) * sizeof(*start));
	char *scratch = malloc(16 * MESSAGE_MAX + 4096);
	struct event_plan *plan = plan_make(o.s15);
	if (arena == NULL || start == NULL || scratch == NULL || plan == NULL) {
		fprintf(stderr, "bench-event-bench: out of memory, or no plan\n");
		return 1;
	}
	size_t off = 0;
	if (o.path != NULL) {
		FILE *f = fopen(o.path, "r");
		if (f == NULL) {
			fprintf(stderr, "bench-event-bench: %s: %s\n", o.path, strerror(errno));
			return 1;
		}
		events = read_events(f, events, arena, start);
		fclose(f);
		if (events == 0) {
			fprintf(stderr, "bench-event-bench: %s: no events\n", o.path);
			return 1;
		}
		off = start[events];
	} else {
		for (unsigned long long i = 0; i < events; i++) {
			start[i] = off;
			off += o.s15 ? make_event15(arena + off) : make_event(arena + off);
			if (o.emit)
				printf("%.*s\n", (int)(off - start[i]), arena + start[i]);
		}
		start[events] = off;
		if (o.emit)
			return fflush(stdout) == 0 ? 0 : 1;
	}

	struct event_value vals[SLOTS_MAX];
	uint32_t slots = event_plan_slots(plan);
	double best = 1e30;
	uint64_t check = 0;
	for (unsigned long p = 0; p < o.passes; p++) {
		double t0 = now_s();
		for (unsigned long long i = 0; i < events; i++) {
			struct event_error err;
			uint32_t used;
			int rc = event_decode(plan, arena + start[i], start[i + 1] - start[i], vals,
					      scratch, 16 * MESSAGE_MAX + 4096, &used, &err);
			if (rc != 0) {
				fprintf(stderr, "event %llu: %s at byte %zu: %.*s\n", i, err.reason,
					err.offset, (int)(start[i + 1] - start[i]), arena + start[i]);
				return 1;
			}
			check += fold(vals, slots);
		}
		double dt = now_s() - t0;
		if (dt < best)
			best = dt;
	}
	printf("event_decode (%s plan): %llu events, %.1f bytes/event, best of %lu passes: %.0f "
	       "events/s, %.0f MB/s, %.1f ns/event (check %016" PRIx64 ")\n",
	       o.s15 ? "16-field" : "default", events, (double)off / (double)events, o.passes,
	       (double)events / best, (double)off / best / 1e6, best * 1e9 / (double)events, check);
	event_plan_free(plan);
	free(scratch);
	free(start);
	free(arena);
	return 0;
}
