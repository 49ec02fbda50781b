/*
 * enrichd-seg-sample: writes hand-encoded ClickHouse Native blocks through the segment writer, for
 * end-to-end checks of the output files (integration tests read them back with ClickHouse).
 *
 * Each block has two columns, n UInt64 and s String; row i (counting over all blocks) holds
 * n = i * 1000003 (+ 2^63 when i % 7 == 3) and s = "row-<i>" followed by pad 'x' bytes, with every
 * 5th string 200 bytes longer (a two-byte length) and every 11th empty. Block b goes to hour key
 * base + b % hours. With --expect, the rows are written to a file as "n<TAB>s<TAB>dt=.../hour=..",
 * sorted by n. After closing the writer, every sealed file is read back and its size and XXH3-64 are
 * compared with the seal record (--verify).
 *
 * The output is one line of counters; the exit status is 0 only if everything was written, sealed
 * and (with --verify) verified.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"
#include "native_format.h"
#include "seg.h"

#define SAMPLE_SEALED_MAX 4096
#define SAMPLE_LONG_PAD 200
/* 2024-03-05T07:00Z */
#define SAMPLE_HOUR_BASE INT64_C(474895)

struct sample_sealed {
	int64_t id;
	uint64_t bytes;
	uint64_t checksum;
	int err;
	char path[PATH_MAX];
};

struct sample {
	struct sample_sealed sealed[SAMPLE_SEALED_MAX];
	unsigned sealed_n;
	unsigned overflow;
	uint64_t rows_sealed;
};

static void sample_on_sealed(void *arg, const struct seg_sealed *s)
{
	struct sample *st = arg;
	if (st->sealed_n == SAMPLE_SEALED_MAX) {
		st->overflow++;
		return;
	}
	struct sample_sealed *r = &st->sealed[st->sealed_n++];
	r->id = s->id;
	r->bytes = s->bytes;
	r->checksum = s->checksum;
	r->err = s->err;
	snprintf(r->path, sizeof(r->path), "%s", s->path);
	if (s->err == 0)
		st->rows_sealed += s->rows;
}

static size_t string_put(uint8_t *p, const void *s, size_t len)
{
	size_t n = native_varuint_write(p, len);
	memcpy(p + n, s, len);
	return n + len;
}

static uint64_t row_n(uint64_t i)
{
	return i * 1000003u + (i % 7 == 3 ? UINT64_C(1) << 63 : 0);
}

/* Writes row i's string into out (cap bytes); returns its length. */
static size_t row_s(uint64_t i, unsigned pad, char *out, size_t cap)
{
	if (i % 11 == 0)
		return 0;
	int n = snprintf(out, cap, "row-%" PRIu64 "-\xc3\xbc", i);
	size_t len = n > 0 ? (size_t)n : 0;
	size_t extra = pad + (i % 5 == 0 ? SAMPLE_LONG_PAD : 0);
	if (len + extra > cap)
		extra = cap - len;
	memset(out + len, 'x', extra);
	return len + extra;
}

static size_t block_size(uint64_t first, unsigned rows, unsigned pad, char *tmp, size_t cap)
{
	size_t n = native_varuint_size(2) + native_varuint_size(rows);
	n += 1 + 1 + 1 + 6 + (size_t)rows * 8;
	n += 1 + 1 + 1 + 6;
	for (unsigned r = 0; r < rows; r++) {
		size_t l = row_s(first + r, pad, tmp, cap);
		n += native_varuint_size(l) + l;
	}
	return n;
}

static size_t block_encode(uint8_t *p, uint64_t first, unsigned rows, unsigned pad, char *tmp, size_t cap)
{
	size_t n = native_varuint_write(p, 2);
	n += native_varuint_write(p + n, rows);
	n += string_put(p + n, "n", 1);
	n += string_put(p + n, "UInt64", 6);
	for (unsigned r = 0; r < rows; r++) {
		uint64_t v = row_n(first + r);
		for (int b = 0; b < 8; b++)
			p[n++] = (uint8_t)(v >> (8 * b));
	}
	n += string_put(p + n, "s", 1);
	n += string_put(p + n, "String", 6);
	for (unsigned r = 0; r < rows; r++) {
		size_t l = row_s(first + r, pad, tmp, cap);
		n += string_put(p + n, tmp, l);
	}
	return n;
}

static int verify_file(const struct sample_sealed *r)
{
	FILE *f = fopen(r->path, "rb");
	if (!f) {
		fprintf(stderr, "seg-sample: %s: %s\n", r->path, strerror(errno));
		return -1;
	}
	XXH3_state_t *x = XXH3_createState();
	XXH3_64bits_reset(x);
	static uint8_t buf[1 << 16];
	uint64_t total = 0;
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		XXH3_64bits_update(x, buf, n);
		total += n;
	}
	fclose(f);
	uint64_t h = XXH3_64bits_digest(x);
	XXH3_freeState(x);
	if (total != r->bytes || h != r->checksum) {
		fprintf(stderr, "seg-sample: %s: %" PRIu64 " bytes, xxh3 %016" PRIx64
			"; the seal record says %" PRIu64 " bytes, %016" PRIx64 "\n",
			r->path, total, h, r->bytes, r->checksum);
		return -1;
	}
	return 0;
}

struct expect_row {
	uint64_t n;
	uint64_t i;
	int64_t hour;
};

static int expect_cmp(const void *a, const void *b)
{
	const struct expect_row *x = a, *y = b;
	return x->n < y->n ? -1 : x->n > y->n;
}

static int write_expect(const char *path, uint64_t rows_total, unsigned rows, unsigned hours, unsigned pad)
{
	struct expect_row *e = calloc(rows_total ? rows_total : 1, sizeof(*e));
	if (!e)
		return -1;
	for (uint64_t i = 0; i < rows_total; i++) {
		e[i].n = row_n(i);
		e[i].i = i;
		e[i].hour = SAMPLE_HOUR_BASE + (int64_t)((i / rows) % hours);
	}
	qsort(e, rows_total, sizeof(*e), expect_cmp);
	FILE *f = fopen(path, "w");
	if (!f) {
		free(e);
		return -1;
	}
	char s[4096];
	for (uint64_t k = 0; k < rows_total; k++) {
		size_t l = row_s(e[k].i, pad, s, sizeof(s));
		char dir[64];
		seg_hour_path(e[k].hour, dir, sizeof(dir));
		fprintf(f, "%" PRIu64 "\t%.*s\t%s\n", e[k].n, (int)l, s, dir);
	}
	free(e);
	return fclose(f) == 0 ? 0 : -1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: enrichd-seg-sample --dir DIR [options]\n"
		"  --instance NAME        instance id (sample)\n"
		"  --worker N             worker index (0)\n"
		"  --blocks N             blocks to write (20)\n"
		"  --rows N               rows per block (100)\n"
		"  --hours N              hour keys, block b goes to base + b %% N (2)\n"
		"  --pad N                extra bytes per string (0)\n"
		"  --segment-bytes N      segment size bound (256 MiB)\n"
		"  --age-ms N             segment age bound (1000)\n"
		"  --pause-ms N           sleep after each block (0)\n"
		"  --pool-bytes N         buffer pool (4 MiB)\n"
		"  --inflight-writes N    in-flight write bound (64)\n"
		"  --retry-backoff-ms N   longest backoff between retries (1000)\n"
		"  --expect FILE          write the expected rows (TSV, sorted by n)\n"
		"  --verify               read back every sealed file and check size and XXH3\n");
}

static unsigned long long num_arg(const char *s, const char *name)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "seg-sample: bad %s: %s\n", name, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"instance", required_argument, NULL, 'i'},
		{"worker", required_argument, NULL, 'w'},
		{"blocks", required_argument, NULL, 'b'},
		{"rows", required_argument, NULL, 'r'},
		{"hours", required_argument, NULL, 'H'},
		{"pad", required_argument, NULL, 'p'},
		{"segment-bytes", required_argument, NULL, 's'},
		{"age-ms", required_argument, NULL, 'a'},
		{"pause-ms", required_argument, NULL, 'P'},
		{"pool-bytes", required_argument, NULL, 'B'},
		{"inflight-writes", required_argument, NULL, 'I'},
		{"retry-backoff-ms", required_argument, NULL, 'R'},
		{"expect", required_argument, NULL, 'e'},
		{"verify", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct seg_writer_cfg cfg;
	seg_writer_cfg_default(&cfg);
	cfg.instance = "sample";
	cfg.pool_bytes = 4u << 20;
	cfg.inflight_bytes_max = cfg.pool_bytes;
	cfg.inflight_writes_max = 64;
	unsigned blocks = 20, rows = 100, hours = 2, pad = 0, pause_ms = 0;
	const char *expect = NULL;
	bool verify = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': cfg.dir = optarg; break;
		case 'i': cfg.instance = optarg; break;
		case 'w': cfg.worker = (uint32_t)num_arg(optarg, "worker"); break;
		case 'b': blocks = (unsigned)num_arg(optarg, "blocks"); break;
		case 'r': rows = (unsigned)num_arg(optarg, "rows"); break;
		case 'H': hours = (unsigned)num_arg(optarg, "hours"); break;
		case 'p': pad = (unsigned)num_arg(optarg, "pad"); break;
		case 's': cfg.segment_bytes_max = num_arg(optarg, "segment-bytes"); break;
		case 'a': cfg.segment_age_ms_max = num_arg(optarg, "age-ms"); break;
		case 'P': pause_ms = (unsigned)num_arg(optarg, "pause-ms"); break;
		case 'B':
			cfg.pool_bytes = num_arg(optarg, "pool-bytes");
			cfg.inflight_bytes_max = cfg.pool_bytes;
			break;
		case 'I': cfg.inflight_writes_max = (uint32_t)num_arg(optarg, "inflight-writes"); break;
		case 'R': cfg.retry_backoff_ms_max = (uint32_t)num_arg(optarg, "retry-backoff-ms"); break;
		case 'e': expect = optarg; break;
		case 'v': verify = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfg.dir || rows == 0 || hours == 0 || pad > 2048 || rows > 1000000) {
		usage(stderr);
		return 2;
	}
	struct sample *st = calloc(1, sizeof(*st));
	if (!st)
		return 1;
	cfg.on_sealed = sample_on_sealed;
	cfg.on_sealed_arg = st;

	unsigned removed;
	if (seg_dir_clean_tmp(cfg.dir, cfg.instance, &removed) < 0)
		return 1;
	struct seg_writer *w;
	int rc = seg_writer_init(&w, &cfg);
	if (rc < 0) {
		fprintf(stderr, "seg-sample: seg_writer_init: %s\n", strerror(-rc));
		return 1;
	}
	static char tmp[4096];
	uint64_t row = 0;
	uint64_t sum_n = 0; /* wraps like ClickHouse's sum(UInt64) */
	for (unsigned b = 0; b < blocks; b++, row += rows) {
		size_t need = block_size(row, rows, pad, tmp, sizeof(tmp));
		struct seg_buf *buf;
		int64_t hour = SAMPLE_HOUR_BASE + (int64_t)(b % hours);
		rc = seg_buf_get(w, hour, need, &buf);
		if (rc < 0) {
			fprintf(stderr, "seg-sample: seg_buf_get(%zu): %s\n", need, strerror(-rc));
			break;
		}
		size_t len = block_encode(buf->data, row, rows, pad, tmp, sizeof(tmp));
		for (unsigned r = 0; r < rows; r++)
			sum_n += row_n(row + r);
		int64_t id = seg_append(w, hour, buf, len, rows);
		if (id < 0) {
			fprintf(stderr, "seg-sample: seg_append: %s\n", strerror((int)-id));
			rc = (int)id;
			break;
		}
		rc = seg_tick(w, seg_clock_ms());
		if (rc < 0)
			break;
		if (pause_ms)
			usleep(pause_ms * 1000u);
	}
	const struct seg_stats *ss = seg_stats(w);
	struct seg_stats stats;
	int close_rc = seg_seal_all(w);
	stats = *ss;
	seg_writer_close(w);

	unsigned bad = 0;
	for (unsigned i = 0; verify && i < st->sealed_n; i++) {
		if (st->sealed[i].err != 0 || verify_file(&st->sealed[i]) < 0)
			bad++;
	}
	printf("sealed=%u failed=%" PRIu64 " rows=%" PRIu64 " sum_n=%" PRIu64 " bytes=%" PRIu64
	       " write_errors=%" PRIu64
	       " retries=%" PRIu64 " waits=%" PRIu64 " submits=%" PRIu64 " verify_bad=%u\n",
	       st->sealed_n, stats.segments_failed, st->rows_sealed, sum_n, stats.bytes_written,
	       stats.write_errors, stats.write_retries, stats.waits, stats.submits, bad);
	if (expect && write_expect(expect, row, rows, hours, pad) < 0) {
		fprintf(stderr, "seg-sample: cannot write %s\n", expect);
		bad++;
	}
	bool ok = rc >= 0 && close_rc == 0 && bad == 0 && st->overflow == 0 &&
		  st->rows_sealed == (uint64_t)blocks * rows;
	free(st);
	return ok ? 0 : 1;
}
