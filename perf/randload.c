/*
 * bench-randload: the machine's limit for the probe stage: independent random cache-line loads
 * per second on one core, over a region as large as the dimension tables.
 *
 *   bench-randload [--bytes N] [--seconds S] [--batch B[,B...]] [--huge auto|hugetlb|thp|4k]
 *
 * Maps N bytes (default 1 GiB; K/M/G suffixes) with huge_alloc in the requested mode (auto:
 * hugetlb if reserved, else THP), touches every page, then for about S seconds per batch size
 * (default 2) repeats: draw B random line addresses (splitmix64, as cheap as a hash), prefetch
 * all of them, then read one 8-byte word of each, as the batched probe does. Every load is
 * independent, so up to B misses are in flight. Prints one line per batch size (default
 * 16,32,64) and a last `best:` line with the highest rate, all as `key=value` pairs:
 *
 *   randload: mode=thp bytes=1073741824 huge_bytes=1071644672 batch=32 loads=... loads_per_s=...
 *
 * huge_bytes is the part of the process's anonymous memory the kernel backs with huge pages
 * (AnonHugePages of /proc/self/smaps_rollup; 0 when unknown): THP is a request, not a promise.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gen.h"
#include "huge.h"
#include "memplan.h"

#define BATCH_MAX 256
#define BATCHES_MAX 8
#define LINE_BYTES 64

static int parse_bytes(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	else if (*end != '\0')
		return -EINVAL;
	if (shift && (end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0))
		return -EINVAL;
	if (v == 0 || v > (1ULL << 40) >> shift)
		return -ERANGE;
	*out = (size_t)(v << shift);
	return 0;
}

/*
 * Random line loads for about seconds; returns loads per second. *sink keeps the loads
 * observable so the compiler cannot drop them.
 */
static double run(const uint8_t *region, size_t lines, unsigned batch, double seconds,
		  uint64_t *loads_out, uint64_t *sink)
{
	struct gen_rng rng = {0x2545F4914F6CDD1DULL ^ batch};
	const uint8_t *addr[BATCH_MAX];
	uint64_t sum = 0, loads = 0;
	double t0 = bench_now_s(), t1 = t0;
	/* Check the clock every 64K loads: far cheaper than the loads themselves. */
	const uint64_t rounds_per_check = (65536 + batch - 1) / batch;
	while (t1 - t0 < seconds) {
		for (uint64_t r = 0; r < rounds_per_check; r++) {
			for (unsigned i = 0; i < batch; i++) {
				/* Multiply-shift: onto [0, lines) without a division. */
				addr[i] = region + gen_below(&rng, lines) * LINE_BYTES;
				__builtin_prefetch(addr[i], 0, 3);
			}
			for (unsigned i = 0; i < batch; i++) {
				uint64_t v;
				memcpy(&v, addr[i], sizeof(v));
				sum += v;
			}
		}
		loads += rounds_per_check * batch;
		t1 = bench_now_s();
	}
	*sink += sum;
	*loads_out = loads;
	return (double)loads / (t1 - t0);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: bench-randload [--bytes N[K|M|G]] [--seconds S] [--batch B[,B...]] "
		     "[--huge auto|hugetlb|thp|4k]\n");
}

int main(int argc, char **argv)
{
	size_t bytes = (size_t)1 << 30;
	double seconds = 2.0;
	unsigned batches[BATCHES_MAX] = {16, 32, 64};
	unsigned batch_count = 3;
	enum huge_mode mode = HUGE_MODE_AUTO;
	static const struct option opts[] = {
		{"bytes", required_argument, NULL, 'b'}, {"seconds", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'n'}, {"huge", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_bytes(optarg, &bytes) < 0) {
				fprintf(stderr, "bench-randload: bad --bytes %s\n", optarg);
				return 2;
			}
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			if (!(seconds > 0 && seconds <= 600)) {
				fprintf(stderr, "bench-randload: --seconds must be in (0, 600]\n");
				return 2;
			}
			break;
		case 'n': {
			batch_count = 0;
			char *p = optarg;
			while (*p && batch_count < BATCHES_MAX) {
				char *end;
				unsigned long b = strtoul(p, &end, 10);
				if (end == p || b == 0 || b > BATCH_MAX) {
					fprintf(stderr, "bench-randload: batch sizes are 1..%d\n",
						BATCH_MAX);
					return 2;
				}
				batches[batch_count++] = (unsigned)b;
				p = *end == ',' ? end + 1 : end;
				if (*end != ',' && *end != '\0') {
					usage(stderr);
					return 2;
				}
			}
			break;
		}
		case 'm':
			if (huge_mode_parse(optarg, &mode) < 0) {
				fprintf(stderr, "bench-randload: bad --huge %s\n", optarg);
				return 2;
			}
			break;
		default: /* 'h' too */
			return gen_usage_end(usage, c);
		}
	}
	if (optind != argc || batch_count == 0) {
		usage(stderr);
		return 2;
	}

	enum huge_mode used = mode;
	uint8_t *region = huge_alloc(bytes, &used);
	if (!region) {
		fprintf(stderr, "bench-randload: cannot map %zu bytes (%s pages): %s\n", bytes,
			huge_mode_name(mode), strerror(errno));
		return 1;
	}
	/* Touch every page with distinct data, so no load hits a shared zero page. */
	size_t mapped = huge_size(bytes);
	for (size_t off = 0; off < mapped; off += LINE_BYTES)
		memcpy(region + off, &off, sizeof(off));
	size_t lines = mapped / LINE_BYTES;
	/* THP is a request, not a promise: the kernel says how much it backs with huge pages. */
	uint64_t huge_bytes = memplan_proc_kb("/proc/self/smaps_rollup", "AnonHugePages") * 1024;

	uint64_t sink = 0;
	double best = 0;
	unsigned best_batch = 0;
	for (unsigned i = 0; i < batch_count; i++) {
		uint64_t loads;
		double rate = run(region, lines, batches[i], seconds, &loads, &sink);
		printf("randload: mode=%s bytes=%zu huge_bytes=%" PRIu64 " batch=%u loads=%" PRIu64
		       " loads_per_s=%.0f\n", huge_mode_name(used), mapped, huge_bytes, batches[i],
		       loads, rate);
		if (rate > best) {
			best = rate;
			best_batch = batches[i];
		}
	}
	printf("best: mode=%s bytes=%zu huge_bytes=%" PRIu64 " batch=%u loads_per_s=%.0f sink=%"
	       PRIu64 "\n", huge_mode_name(used), mapped, huge_bytes, best_batch, best,
	       sink & 1);
	huge_free(region, bytes);
	return 0;
}
