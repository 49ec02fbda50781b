/*
 * bench-touch: how fast the machine hands a process fresh memory, the floor under a first
 * dimension load (which writes every byte of its tables and parse buffers into new pages).
 *
 *   bench-touch [--bytes N] [--idle S] [--huge auto|hugetlb|thp|4k]
 *
 * Maps N bytes (default 1 GiB; a size as the configuration writes it: 4096, 256MiB, 1G) with
 * huge_alloc, writes one byte per 4 KiB page (every page faults and is zeroed by the kernel),
 * unmaps it, and does that again: three times at once, then after S seconds idle (default 5),
 * then once more at once. A virtual machine whose host takes back the memory its guest frees
 * (virtio free page reporting) makes a touch of memory freed seconds ago, or never touched, cost
 * a fault on the host too; memory freed a moment ago and handed out again does not. One line per
 * pass, as `key=value` pairs:
 *
 *   touch: pass=1 when=first mode=thp bytes=1073741824 seconds=2.951 gb_per_s=0.36
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"
#include "config.h"
#include "gen.h"
#include "huge.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: bench-touch [--bytes N[K|M|G]] [--idle S] "
		     "[--huge auto|hugetlb|thp|4k]\n");
}

/* Maps, touches and unmaps bytes; prints the pass. Returns 0 or -ENOMEM. */
static int touch_pass(unsigned pass, const char *when, size_t bytes, enum huge_mode want)
{
	enum huge_mode mode = want;
	volatile char *p = huge_alloc(bytes, &mode);
	if (!p) {
		fprintf(stderr, "bench-touch: cannot map %zu bytes with %s pages\n", bytes,
			huge_mode_name(want));
		return -ENOMEM;
	}
	double t0 = bench_now_s();
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
	double secs = bench_now_s() - t0;
	huge_free((void *)p, bytes);
	printf("touch: pass=%u when=%s mode=%s bytes=%zu seconds=%.3f gb_per_s=%.2f\n", pass, when,
	       huge_mode_name(mode), bytes, secs, (double)bytes / secs / 1e9);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	size_t bytes = (size_t)1 << 30;
	unsigned idle = 5;
	enum huge_mode want = HUGE_MODE_AUTO;
	static const struct option opts[] = {
		{"bytes", required_argument, NULL, 'b'},
		{"idle", required_argument, NULL, 'i'},
		{"huge", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': {
			uint64_t v;
			if (config_bytes_parse(optarg, &v) != 0 || v == 0 || v > SIZE_MAX) {
				fprintf(stderr, "bench-touch: --bytes: not a size: %s\n", optarg);
				return 2;
			}
			bytes = (size_t)v;
			break;
		}
		case 'i': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v > 3600) {
				fprintf(stderr, "bench-touch: --idle: 0..3600 seconds, not %s\n",
					optarg);
				return 2;
			}
			idle = (unsigned)v;
			break;
		}
		case 'm':
			if (huge_mode_parse(optarg, &want) != 0) {
				fprintf(stderr, "bench-touch: --huge: auto, hugetlb, thp or 4k, not %s\n",
					optarg);
				return 2;
			}
			break;
		default: /* 'h' too */
			return gen_usage_end(usage, c);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	static const char *const when[] = {"first", "at_once", "at_once"};
	unsigned pass = 1;
	for (unsigned i = 0; i < 3; i++)
		if (touch_pass(pass++, when[i], bytes, want) != 0)
			return 1;
	sleep(idle);
	char after[32];
	snprintf(after, sizeof(after), "after_%us_idle", idle);
	if (touch_pass(pass++, after, bytes, want) != 0 ||
	    touch_pass(pass++, "at_once", bytes, want) != 0)
		return 1;
	return 0;
}
