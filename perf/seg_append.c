/*
 * bench-seg-append: throughput and per-call cost of the segment writer, next to plain pwrite(2).
 *
 *   bench-seg-append [DIR] [BLOCK_BYTES] [TOTAL_MIB]
 *
 * Writes TOTAL_MIB (default 512) in blocks of BLOCK_BYTES (default 256 KiB) into DIR (default a
 * new directory under $TMPDIR or /tmp, removed afterwards), alternating two hour keys, with a
 * seg_tick every 16 appends, and seals everything: once with O_DIRECT writes (the default), once
 * through the page cache. The buffer contents are whatever the pool holds: encoding is not
 * measured. Then the same bytes go through a pwrite(2) loop into one file,
 * followed by one fdatasync, as the peer.
 *
 * Reported: wall time and GB/s for each, and the mean CPU-side cost of seg_buf_get + seg_append
 * (including any waiting for the in-flight bounds) and of seg_tick.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "seg.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned sealed;

static void on_sealed(void *arg, const struct seg_sealed *s)
{
	(void)arg;
	if (s->err == 0)
		sealed++;
}

/* Appends blocks of block bytes through a seg writer into dir (removed afterwards). */
static int writer_run(const char *dir, size_t block, uint64_t blocks, bool direct)
{
	struct seg_writer_cfg cfg;
	seg_writer_cfg_default(&cfg);
	cfg.dir = dir;
	cfg.instance = "bench";
	cfg.pool_bytes = 64u << 20;
	cfg.inflight_bytes_max = cfg.pool_bytes;
	cfg.direct_io = direct;
	cfg.on_sealed = on_sealed;
	sealed = 0;
	struct seg_writer *w;
	int rc = seg_writer_init(&w, &cfg);
	if (rc < 0) {
		fprintf(stderr, "seg_writer_init: %s\n", strerror(-rc));
		return rc;
	}
	const int64_t hour = 474895;
	uint64_t append_ns = 0, tick_ns = 0, ticks = 0;
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < blocks; i++) {
		uint64_t a = now_ns();
		struct seg_buf *b;
		rc = seg_buf_get(w, hour + (int64_t)(i & 1), block, &b);
		if (rc < 0) {
			fprintf(stderr, "seg_buf_get: %s\n", strerror(-rc));
			return rc;
		}
		int64_t id = seg_append(w, hour + (int64_t)(i & 1), b, block, 1000);
		if (id < 0) {
			fprintf(stderr, "seg_append: %s\n", strerror((int)-id));
			return (int)id;
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
	printf("seg writer (%s): %" PRIu64 " blocks of %zu B, %" PRIu64 " MiB: %.3f s (%.2f GB/s) "
	       "incl. seal (appends done after %.3f s); %u segments sealed, %" PRIu64 " submits, %"
	       PRIu64 " waits, fixed buffers %s\n",
	       st->direct_io ? "O_DIRECT" : "page cache", blocks, block, (blocks * block) >> 20,
	       (double)(t1 - t0) / 1e9, (double)(blocks * block) / (double)(t1 - t0),
	       (double)(t_appended - t0) / 1e9, sealed, st->submits, st->waits,
	       st->fixed_buffers ? "yes" : "no");
	printf("  seg_buf_get + seg_append: %.0f ns per block (incl. waits); seg_tick: %.0f ns per call\n",
	       (double)append_ns / (double)blocks, ticks ? (double)tick_ns / (double)ticks : 0.0);
	seg_writer_close(w);
	bench_rm_tree(dir);
	return rc;
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

	char out[PATH_MAX + 8];
	snprintf(out, sizeof(out), "%s/seg", dir);
	if (writer_run(out, block, blocks, true) < 0 || writer_run(out, block, blocks, false) < 0)
		return 1;

	char peer[PATH_MAX + 16];
	snprintf(peer, sizeof(peer), "%s/pwrite.bin", dir);
	int fd = open(peer, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = calloc(1, block);
	if (fd < 0 || !buf) {
		perror(peer);
		return 1;
	}
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < blocks; i++) {
		if (pwrite(fd, buf, block, (off_t)(i * block)) != (ssize_t)block) {
			perror("pwrite");
			return 1;
		}
	}
	uint64_t t_written = now_ns();
	fdatasync(fd);
	uint64_t t1 = now_ns();
	close(fd);
	free(buf);
	printf("pwrite peer: %.3f s (%.2f GB/s) incl. one fdatasync; pwrite %.0f ns per block\n",
	       (double)(t1 - t0) / 1e9, (double)(blocks * block) / (double)(t1 - t0),
	       (double)(t_written - t0) / (double)blocks);
	if (own_dir)
		bench_rm_tree(dir);
	else
		remove(peer);
	return 0;
}
