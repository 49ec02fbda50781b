/*
 * seg: the segment writer. Appends already-encoded ClickHouse Native blocks (opaque bytes here) to
 * segment files with io_uring, keeps one open segment per event hour, rolls segments by size and
 * age, and seals them durably.
 *
 * Files: <dir>/dt=YYYY-MM-DD/hour=HH/<instance>-w<worker>-<seq>.native.tmp while open, renamed to
 * <...>.native when sealed. A file is the concatenation of the blocks appended to it, in append
 * order. Sealed files are never written, renamed or removed again (the rename uses
 * RENAME_NOREPLACE, so not even a name clash can overwrite one).
 *
 * Sequence numbers: <seq> is 16 decimal digits. A writer starts at its start time in microseconds
 * since the epoch (CLOCK_REALTIME at seg_writer_init) and adds one per segment, so a later run of
 * the same instance and worker starts above every seq an earlier run used (an earlier run would
 * have had to open more than one segment per microsecond to catch up). As a backstop against a
 * clock stepped backwards, a seq whose .native or .native.tmp already exists in the hour directory
 * is skipped (the .tmp is created with O_EXCL). The seq is also the segment id returned to callers.
 *
 * Threading: a writer belongs to one thread (a worker); every function on it must be called from
 * that thread. Call seg_writer_init on that thread too: the buffer pool is faulted in there and so
 * lands on its NUMA node. Writers of different threads share nothing.
 *
 * Memory: everything (buffer pool, requests, segment slots, checksum states) is allocated by
 * seg_writer_init. seg_buf_get, seg_append and seg_tick never allocate. seg_append makes no system
 * call on its fast path: writes are queued as io_uring submissions and handed to the kernel in a
 * batch by seg_tick (or when the submission queue is full, or when the writer has to wait).
 *
 * Durability: sealing a segment waits until every byte appended to it has been written, then
 * fdatasync()s the file, closes it, renames .native.tmp to .native and fsync()s the directory
 * (all as io_uring operations, so sealing does not block the worker). Only then is the seal
 * callback called with err == 0. With cfg.direct_io the writes bypass the page cache (O_DIRECT,
 * aligned: see engine/seg.c); the bytes past a segment's last 4 KiB boundary wait in the segment
 * and are written through the page cache when it is sealed.
 *
 * Disk errors: a write that fails with ENOSPC, EDQUOT, EIO or ENOMEM (or makes no progress) is
 * retried after a backoff that doubles from 1 ms up to cfg.retry_backoff_ms_max, until it
 * succeeds; the first failure of an episode is logged with the path and errno, every failure is
 * counted in seg_stats. Creating a segment's directory or file is retried the same way. A segment
 * with a failed write is never sealed before the write has succeeded. While the disk stays full the
 * writer's bounds fill up and seg_buf_get / seg_append / seg_seal_all block (sleeping between
 * attempts): that is the back-pressure on the worker. Errors that retrying cannot fix (fdatasync
 * failing - after a failed fdatasync the kernel may have dropped the dirty pages, so the data can
 * no longer be trusted - or a write failing with another errno, or the rename failing) discard the
 * segment instead: its .tmp is removed and the seal callback gets err < 0. The rows of a discarded
 * segment are not on disk; the caller must consume them again (rewind to the segment's first
 * offset, or restart: .tmp segments are discarded at start anyway). With cfg.stop set, the
 * waiting calls give up with -ECANCELED once a stop is requested while the disk is failing.
 */
#ifndef ENRICHD_SEG_H
#define ENRICHD_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest instance id (bytes, without the NUL). Allowed characters: [A-Za-z0-9_.-], not first '.'. */
#define SEG_INSTANCE_LEN_MAX 64
/* Hour keys are hours since 1970-01-01T00 UTC, in [0, SEG_HOUR_KEY_END): up to year 9999. */
#define SEG_HOUR_KEY_END INT64_C(70389528)
/* Upper bounds accepted for the configuration. */
#define SEG_QUEUE_DEPTH_MAX 4096u
#define SEG_INFLIGHT_WRITES_MAX 65536u
#define SEG_OPEN_SEGMENTS_MAX 1024u
#define SEG_POOL_BYTES_MAX (UINT64_C(16) << 30)

struct seg_writer;

/* A buffer from the writer's pool: data has cap writable bytes, aligned to 64 bytes. */
struct seg_buf {
	uint8_t *data;
	size_t cap;
};

/* What the seal callback gets for each finished segment. */
struct seg_sealed {
	int64_t id;              /* the segment id seg_append returned for its blocks (= seq) */
	int64_t hour_key;        /* hours since the epoch */
	const char *path;        /* the .native path (a discarded segment: its removed .tmp path);
				    valid during the callback only */
	uint64_t rows;           /* sum of the rows passed to seg_append */
	uint64_t bytes;          /* file size */
	uint64_t blocks;         /* number of seg_append calls */
	int64_t first_append_ms; /* wall clock (ms since the epoch) of the first append */
	int64_t sealed_ms;       /* wall clock when the directory fsync completed */
	uint64_t checksum;       /* XXH3-64 (seed 0) of the file's bytes */
	int err;                 /* 0: sealed at path; -errno: discarded, no file is left */
};

/*
 * Called once per segment, after it is sealed or discarded. Runs on the writer's thread from inside
 * seg_buf_get, seg_append, seg_tick, seg_seal_all or seg_writer_close, always after the completion
 * queue has been drained (never in the middle of it), and never before every seg_append that
 * returned this segment's id has returned. It must not call any seg_ function on this writer except
 * seg_stats (those calls fail with -EDEADLK).
 */
typedef void (*seg_sealed_fn)(void *arg, const struct seg_sealed *sealed);

struct seg_writer_cfg {
	const char *dir;               /* output directory, created (mkdir -p) if missing */
	const char *instance;          /* instance id, see SEG_INSTANCE_LEN_MAX */
	uint32_t worker;               /* worker index, the w<N> of file names */
	uint64_t segment_bytes_max;    /* segment size bound (default 256 MiB); only a single block
				          larger than it makes a larger segment */
	uint64_t segment_age_ms_max;   /* roll this long after a segment's first append (1000) */
	uint32_t open_segments_max;    /* open segments (hour keys with data) at once (8); when one
				          more is needed, the oldest is sealed */
	uint32_t queue_depth;          /* io_uring submission queue entries (128) */
	uint64_t pool_bytes;           /* write buffer pool (64 MiB, rounded up to pages); bounds a
				          block's size. Registered with io_uring when <= 1 GiB */
	uint64_t inflight_bytes_max;   /* appended bytes not yet written (default: pool_bytes) */
	uint32_t inflight_writes_max;  /* pool buffers handed out and not yet written (1024) */
	uint32_t retry_backoff_ms_max; /* longest sleep between retries of a failed write (1000,
				          at most 60000) */
	const int *io_cpus;            /* CPUs of the ring's io-wq threads (io_cpu_count of them);
					  writes then always go to those threads, so the copy into
					  the page cache leaves the writer's CPU. NULL: the kernel's
					  choice, writes tried inline first */
	size_t io_cpu_count;
	bool direct_io;                /* write with O_DIRECT (true): no copy into the page cache;
					  a filesystem without it gets page-cache writes */
	bool publish_hold;             /* sealing stops after the fdatasync: the segment stays
					  .native.tmp until seg_publish_all renames it (see there) */
	const _Atomic bool *stop;      /* the owner's stop request, or NULL. Once it reads true
					  while a write or create is failing (disk_failing), a call
					  that would wait for the disk returns -ECANCELED instead,
					  at the latest one retry backoff after the request: a full
					  disk cannot hold a stopping owner. What was not synced
					  then is not sealed (consume it again) */
	seg_sealed_fn on_sealed;       /* may be NULL */
	void *on_sealed_arg;
	/*
	 * May be NULL. Called when writes or creates failed and are retried (errors: how many
	 * since the last call), where seal callbacks are (after the completion queue is drained,
	 * under the same restrictions), so also from inside a call that waits for the disk: an
	 * owner held there learns of the failures at once.
	 */
	void (*on_disk_error)(void *arg, uint64_t errors);
	void *on_disk_error_arg;
};

/* Counters of one writer, read by its owner thread. All counts are since seg_writer_init. */
struct seg_stats {
	uint64_t blocks_appended;
	uint64_t bytes_appended;
	uint64_t bytes_written;     /* bytes the kernel reported written */
	uint64_t segments_opened;
	uint64_t segments_sealed;
	uint64_t segments_failed;   /* discarded (see the seal callback's err) */
	uint64_t write_errors;      /* failed writes/creates that are retried (ENOSPC, EIO, ...) */
	uint64_t write_retries;     /* resubmissions: after an error, -EAGAIN/-EINTR or a short write */
	uint64_t short_writes;
	uint64_t waits;             /* times a call waited for completions (a bound was reached) */
	uint64_t submits;           /* io_uring_submit calls that handed submissions to the kernel */
	uint64_t inflight_writes;   /* appended blocks not yet completely written (now) */
	uint64_t inflight_bytes;    /* their bytes (now) */
	uint32_t open_segments;     /* now */
	uint32_t sealing_segments;  /* rolled, not yet sealed (now) */
	bool fixed_buffers;         /* the pool is registered with io_uring (write_fixed is used) */
	bool io_cpus_set;           /* the io-wq threads are bound to cfg.io_cpus */
	bool direct_io;             /* new segments are written with O_DIRECT */
	bool disk_failing;          /* a write or create is failing and being retried (now) */
};

/* Fills cfg with the defaults above; dir and instance are NULL, worker 0, no callback. */
void seg_writer_cfg_default(struct seg_writer_cfg *cfg);

/*
 * Creates a writer: validates cfg (all bounds non-zero and within the limits above, dir and
 * instance set), creates cfg->dir, sets up the io_uring and allocates and faults in every buffer.
 * cfg is copied; cfg->dir and cfg->instance are copied too. Returns 0 and *out, or -errno
 * (-EINVAL for a bad configuration, logged with the field).
 */
int seg_writer_init(struct seg_writer **out, const struct seg_writer_cfg *cfg);

/*
 * Seals every open segment (seg_seal_all), then frees the writer. Buffers still held by the caller
 * become invalid. Returns seg_seal_all's result; w is freed either way (except when called from the
 * seal callback, which is refused with -EDEADLK). NULL is a no-op.
 */
int seg_writer_close(struct seg_writer *w);

/*
 * Hands out a pool buffer of at least bytes_needed bytes (the encoder writes a block into it) for
 * a block of hour_key: with direct writes the buffer is placed so that the block needs no move
 * when it is appended to that hour's open segment (any other segment costs one memmove). The
 * buffer is the caller's until it is given to seg_append or seg_buf_put. When the pool or the
 * in-flight write count is exhausted, waits for pending writes to complete (and may run seal
 * callbacks). Returns 0 and *out, -EMSGSIZE if bytes_needed is 0 or (with its direct-write
 * alignment) above cfg.pool_bytes, or -ENOBUFS if the space is taken by buffers the caller holds
 * (so waiting cannot free it).
 */
int seg_buf_get(struct seg_writer *w, int64_t hour_key, size_t bytes_needed,
		struct seg_buf **out);

/* Gives back a buffer from seg_buf_get without writing it. */
void seg_buf_put(struct seg_writer *w, struct seg_buf *buf);

/*
 * Appends the first len bytes of buf (one or more whole Native blocks holding rows rows) to the open
 * segment of hour_key, opening one if needed (and sealing the oldest open segment if
 * cfg.open_segments_max are open). The segment is rolled first if the block would take it past
 * cfg.segment_bytes_max, and after the block if it reached that size. The write is queued as an
 * io_uring submission at the segment's current end; the buffer is the writer's from now on and
 * returns to the pool when the write completes. May wait (see seg_buf_get) when
 * cfg.inflight_bytes_max is reached.
 * Returns the segment id (>= 0) the block went to, or -errno: -EINVAL (buf not held, len 0 or
 * above buf->cap), -ERANGE (hour_key outside [0, SEG_HOUR_KEY_END)), or an error creating the
 * segment file (the buffer is then still the caller's).
 */
int64_t seg_append(struct seg_writer *w, int64_t hour_key, struct seg_buf *buf, size_t len,
		   uint64_t rows);

/*
 * The writer's periodic work; call it once per worker loop iteration (at least every few ms):
 * rolls segments whose first append is cfg.segment_age_ms_max or more before now_ms (a
 * seg_clock_ms() value), submits queued writes in one batch, reaps completions without waiting,
 * re-submits writes whose backoff has passed, and runs seal callbacks. Returns 0 or -errno from
 * io_uring.
 */
int seg_tick(struct seg_writer *w, uint64_t now_ms);

/*
 * Rolls every open segment and waits until all of them are sealed or discarded (and their
 * callbacks ran). For shutdown and partition revocation. Returns 0, or the err of the first
 * segment discarded during the call, or -errno from io_uring. Blocks while the disk is full.
 */
int seg_seal_all(struct seg_writer *w);

/*
 * Two-phase sealing (cfg.publish_hold). Sealing then ends once a segment's bytes are written and
 * fdatasync'd: the segment is "synced", still named .native.tmp, and no seal callback runs yet.
 * The caller records the synced segments durably (seg_synced gives their final paths, sizes and
 * checksums; the engine writes them to its manifest), then seg_publish_all renames each to .native,
 * fsyncs its directory and runs the seal callbacks. A crash between the two leaves synced .tmp
 * files whose content is complete: whoever recorded them may rename them at the next start.
 * seg_writer_close does not publish: synced segments stay .tmp.
 */
struct seg_synced_info {
	int64_t id;
	int64_t hour_key;
	uint64_t rows;
	uint64_t bytes;
	uint64_t checksum; /* XXH3-64 of the file */
	char rel_path[192]; /* "dt=YYYY-MM-DD/hour=HH/<name>.native", below cfg.dir */
};

/* Copies up to max synced segments, oldest first, into out. Returns how many. */
size_t seg_synced(struct seg_writer *w, struct seg_synced_info *out, size_t max);
uint32_t seg_synced_count(const struct seg_writer *w);

/*
 * Renames every synced segment to .native and fsyncs its directory (waiting), then runs their
 * seal callbacks. Returns 0, the err of the first segment discarded, or -errno from io_uring.
 */
int seg_publish_all(struct seg_writer *w);

/*
 * Overlapped sealing with publish_hold: a caller that goes on appending while the segments of
 * its previous epoch are written and fdatasync'd. Every segment belongs to the cut generation
 * current when it was opened.
 *
 * seg_cut rolls every open segment (they seal in the background, driven by seg_tick) and returns
 * their generation; segments opened from now on belong to the next one.
 */
uint64_t seg_cut(struct seg_writer *w);

/* 1 when every segment of generation cut or older is synced, 0 while some still seal, or the
 * err of a segment of such a generation that was discarded (its rows are not on disk). */
int seg_cut_synced(struct seg_writer *w, uint64_t cut);

/* Waits until seg_cut_synced(w, cut) is not 0. Returns 0 or its error. */
int seg_cut_wait(struct seg_writer *w, uint64_t cut);

/* Copies up to max of the synced segments of generation cut or older, oldest first, into out;
 * sets *total to how many there are. Returns how many were copied. */
size_t seg_cut_segments(struct seg_writer *w, uint64_t cut, struct seg_synced_info *out,
			size_t max, size_t *total);

/* Renames the synced segments of generation cut or older to .native and fsyncs their
 * directories (waiting), then runs their seal callbacks. Segments of later generations stay
 * synced. Returns 0, or -errno from io_uring, or the err of a discarded segment of such a
 * generation: then nothing is renamed (the rows of the cut are not all on disk). */
int seg_cut_publish(struct seg_writer *w, uint64_t cut);

/* The writer's counters, updated in place; valid until seg_writer_close. */
const struct seg_stats *seg_stats(const struct seg_writer *w);

/* CLOCK_MONOTONIC in milliseconds: the clock of seg_tick's now_ms. */
uint64_t seg_clock_ms(void);

/* The hour key of a wall-clock time in milliseconds since the epoch (floor division). */
int64_t seg_hour_key(int64_t epoch_ms);

/*
 * Writes "dt=YYYY-MM-DD/hour=HH" of hour_key into out (cap bytes, NUL-terminated). Returns the
 * length, -ERANGE for a key outside [0, SEG_HOUR_KEY_END), -ENOSPC if cap is too small.
 */
int seg_hour_path(int64_t hour_key, char *out, size_t cap);

/*
 * For start-up: removes every "<instance>-w<digits>-<digits>.native.tmp" regular file under dir,
 * recursively (at most 8 levels, symlinks not followed), and sets *removed to how many were
 * removed. Files of other instances and sealed files are left alone. A missing dir is not an
 * error. Returns 0 or -errno of the first failure (logged with the path).
 */
int seg_dir_clean_tmp(const char *dir, const char *instance, unsigned *removed);

#endif
