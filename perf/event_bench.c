/*
 * bench-event-bench: decode speed of event_decode on one core.
 *
 *   bench-event-bench [--file PATH] [EVENTS [PASSES]]   (default 1000000 events, 5 passes)
 *
 * Generates EVENTS typical clickstream messages (about 150 bytes each: RFC 3339 timestamps with
 * milliseconds, mostly Z and some with an offset, some epoch-ms integers; numeric and string
 * user ids; URLs with a path and query, a few with escapes; hex or integer device ids; some
 * messages carry an extra member), or with --file takes the first EVENTS lines of the JSON-lines
 * file PATH (the generator's events, say; lines longer than MESSAGE_MAX bytes are skipped), then
 * decodes all of them PASSES times on the calling thread and prints the best pass in events/s,
 * MB/s and ns/event.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"

#define MESSAGE_MAX 512
#define EVENTS_MAX 100000000ULL
#define PASSES_MAX 100

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* splitmix64: deterministic, so every run decodes the same messages. */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static const char *const sections[] = {"products", "category", "search", "cart", "blog",
				       "account",  "help",     "deals"};
static const char *const offsets[] = {"+02:00", "-08:00", "+05:30", "+00:00", "-03:00"};

/* Writes one message into out (at least MESSAGE_MAX bytes); returns its length. */
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

int main(int argc, char **argv)
{
	const char *path = NULL;
	if (argc > 2 && strcmp(argv[1], "--file") == 0) {
		path = argv[2];
		argc -= 2;
		argv += 2;
	}
	unsigned long long events = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	unsigned long passes = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
	if (events == 0 || events > EVENTS_MAX || passes == 0 || passes > PASSES_MAX) {
		fprintf(stderr,
			"usage: bench-event-bench [--file PATH] [EVENTS (1..%llu) [PASSES (1..%d)]]\n",
			EVENTS_MAX, PASSES_MAX);
		return 2;
	}
	char *arena = malloc((size_t)events * MESSAGE_MAX);
	size_t *start = malloc((size_t)(events + 1) * sizeof(*start));
	char *scratch = malloc(MESSAGE_MAX);
	if (arena == NULL || start == NULL || scratch == NULL) {
		fprintf(stderr, "bench-event-bench: out of memory\n");
		return 1;
	}
	size_t off = 0;
	if (path != NULL) {
		FILE *f = fopen(path, "r");
		if (f == NULL) {
			fprintf(stderr, "bench-event-bench: %s: %s\n", path, strerror(errno));
			return 1;
		}
		events = read_events(f, events, arena, start);
		fclose(f);
		if (events == 0) {
			fprintf(stderr, "bench-event-bench: %s: no events\n", path);
			return 1;
		}
		off = start[events];
	} else {
		for (unsigned long long i = 0; i < events; i++) {
			start[i] = off;
			off += make_event(arena + off);
		}
		start[events] = off;
	}

	double best = 1e30;
	uint64_t check = 0;
	for (unsigned long p = 0; p < passes; p++) {
		double t0 = now_s();
		for (unsigned long long i = 0; i < events; i++) {
			struct event ev;
			struct event_error err;
			int rc = event_decode(arena + start[i], start[i + 1] - start[i], &ev, scratch,
					      MESSAGE_MAX, &err);
			if (rc != 0) {
				fprintf(stderr, "event %llu: %s at byte %zu: %.*s\n", i, err.reason,
					err.offset, (int)(start[i + 1] - start[i]), arena + start[i]);
				return 1;
			}
			check += ev.user_id ^ (uint64_t)ev.time_ms ^ ev.url_len ^ ev.device_id_len;
		}
		double dt = now_s() - t0;
		if (dt < best)
			best = dt;
	}
	printf("event_decode: %llu events, %.1f bytes/event, best of %lu passes: %.0f events/s, "
	       "%.0f MB/s, %.1f ns/event (check %016" PRIx64 ")\n",
	       events, (double)off / (double)events, passes, (double)events / best,
	       (double)off / best / 1e6, best * 1e9 / (double)events, check);
	free(scratch);
	free(start);
	free(arena);
	return 0;
}
