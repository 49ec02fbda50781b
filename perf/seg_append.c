/*
 * bench-seg-append: throughput and per-call cost of the segment writer, next to plain pwrite(2).
 *
 *   bench-seg-append [DIR] [BLOCK_BYTES] [TOTAL_MIB]
 *
 * Writes TOTAL_MIB (default 512) in blocks of BLOCK_BYTES (default 256 KiB) into DIR (default a
 * new directory under $TMPDIR or /tmp, removed afterwards), alternating two hour keys, with a
 * seg_tick every 16 appends, and seals everything. The buffer contents are whatever the pool
 * holds: encoding is not measured. Then the same bytes go through a pwrite(2) loop into one file,
 * followed by one fdatasync, as the peer.
 *
 * Reported: wall time and GB/s for each, and the mean CPU-side cost of seg_buf_get + seg_append
 * (including any waiting for the in-flight bounds) and of seg_tick.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seg.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static unsigned sealed;

static void on_sealed(void *arg, const struct seg_sealed *s)
{
	(void)arg;
	if (s->err == 0)
		sealed++;
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX];
	bool own_dir = argc < 2 || argv[1][0] == '\0';
	if (own_dir) {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/bench-seg-XXXXXX", t ? t : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	} else {
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	}
	size_t block = argc > 2 ? strtoull(argv[2], NULL, 10) : 256u << 10;
	uint64_t total = (argc > 3 ? strtoull(argv[3], NULL, 10) : 512u) << 20;
	if (block == 0 || block > (64u << 20)) {
		fprintf(stderr, "block size out of range\n");
		return 2;
	}
	uint64_t blocks = total / block;

	struct seg_writer_cfg cfg;
	seg_writer_cfg_default(&cfg);
	char out[PATH_MAX + 8];
	snprintf(out, sizeof(out), "%s/seg", dir);
	cfg.dir = out;
	cfg.instance = "bench";
	cfg.pool_bytes = 64u << 20;
	cfg.inflight_bytes_max = cfg.pool_bytes;
	cfg.on_sealed = on_sealed;
	struct seg_writer *w;
	int rc = seg_writer_init(&w, &cfg);
	if (rc < 0) {
		fprintf(stderr, "seg_writer_init: %s\n", strerror(-rc));
		return 1;
	}
	const int64_t hour = 474895;
	uint64_t append_ns = 0, tick_ns = 0, ticks = 0;
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < blocks; i++) {
		uint64_t a = now_ns();
		struct seg_buf *b;
		rc = seg_buf_get(w, block, &b);
		if (rc < 0) {
			fprintf(stderr, "seg_buf_get: %s\n", strerror(-rc));
			return 1;
		}
		int64_t id = seg_append(w, hour + (int64_t)(i & 1), b, block, 1000);
		if (id < 0) {
			fprintf(stderr, "seg_append: %s\n", strerror((int)-id));
			return 1;
		}
		uint64_t c = now_ns();
		append_ns += c - a;
		if (i % 16 == 15) {
			seg_tick(w, seg_clock_ms());
			tick_ns += now_ns() - c;
			ticks++;
		}
	}
	uint64_t t_appended = now_ns();
	rc = seg_seal_all(w);
	uint64_t t1 = now_ns();
	const struct seg_stats *st = seg_stats(w);
	printf("seg writer: %" PRIu64 " blocks of %zu B, %" PRIu64 " MiB: %.3f s (%.2f GB/s) incl. seal "
	       "(appends done after %.3f s); %u segments sealed, %" PRIu64 " submits, %" PRIu64
	       " waits, fixed buffers %s\n",
	       blocks, block, total >> 20, (double)(t1 - t0) / 1e9,
	       (double)(blocks * block) / (double)(t1 - t0), (double)(t_appended - t0) / 1e9, sealed,
	       st->submits, st->waits, st->fixed_buffers ? "yes" : "no");
	printf("  seg_buf_get + seg_append: %.0f ns per block (incl. waits); seg_tick: %.0f ns per call\n",
	       (double)append_ns / (double)blocks, ticks ? (double)tick_ns / (double)ticks : 0.0);
	seg_writer_close(w);
	if (rc < 0)
		return 1;

	char peer[PATH_MAX + 16];
	snprintf(peer, sizeof(peer), "%s/pwrite.bin", dir);
	int fd = open(peer, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = calloc(1, block);
	if (fd < 0 || !buf) {
		perror(peer);
		return 1;
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < blocks; i++) {
		if (pwrite(fd, buf, block, (off_t)(i * block)) != (ssize_t)block) {
			perror("pwrite");
			return 1;
		}
	}
	uint64_t t_written = now_ns();
	fdatasync(fd);
	t1 = now_ns();
	close(fd);
	free(buf);
	printf("pwrite peer: %.3f s (%.2f GB/s) incl. one fdatasync; pwrite %.0f ns per block\n",
	       (double)(t1 - t0) / 1e9, (double)(blocks * block) / (double)(t1 - t0),
	       (double)(t_written - t0) / (double)blocks);
	if (own_dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		nftw(out, rm_entry, 16, FTW_DEPTH | FTW_PHYS), remove(peer);
	return 0;
}
