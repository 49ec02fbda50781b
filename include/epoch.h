/*
 * epoch: what one worker has taken since its last seal, and the protocol that makes it durable,
 * visible and committed.
 *
 * The worker counts every message it takes (epoch_consumed), every row it appends
 * (epoch_row) and every dead letter (epoch_dead_letter: the epoch owns the worker's dead-letter
 * file). Every segment_age_ms (and on stop, revocation, request, or segment_idle_ms of quiet)
 * the worker closes the epoch in five steps:
 *
 *   1. cut (epoch_cut): the worker's pending rows are handed to their segments (cfg.flush) and
 *      every open segment is cut: written and fdatasync'd in the background, still .native.tmp
 *      (the segment writer's publish_hold). The worker goes on filling the next epoch;
 *   2. once the cut's segments are synced (epoch_finish), the dead-letter file is synced;
 *   3. one manifest record is appended and synced: the segments (path, rows, bytes, checksum),
 *      the dead-letter file's size, and per partition the offsets [first, next) consumed;
 *   4. the segments are renamed to .native (visible);
 *   5. the offsets go to cfg.sink (the engine commits them) and the rows' event-to-seal latency
 *      to the histogram.
 *
 * At most one cut is outstanding: the next cut first finishes it. Nothing is published when a
 * step fails; and once a row or a dead letter of the open epoch is lost (a discarded segment, a
 * dead letter abandoned on a stop with the disk full) epoch_failed() is set and no epoch is
 * sealed again: the worker must stop, and a restart consumes the messages again.
 *
 * Disk errors (ENOSPC, EDQUOT, EIO) of the dead-letter file and the manifest are retried with a
 * backoff doubling up to 1 s, as the segment writer does, until they succeed or cfg.stop is set
 * (-ECANCELED); each failure is told to cfg.on_disk_error as it happens.
 *
 * Threading: an epoch belongs to its worker's thread. epoch_init allocates everything (on that
 * thread, so on its NUMA node); the other calls allocate nothing. epoch_consumed and epoch_row
 * are the per-message and per-row calls: inline, a few stores, no call.
 */
#ifndef ENRICHD_EPOCH_H
#define ENRICHD_EPOCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "deadletter.h"
#include "manifest.h"
#include "seg.h"
#include "source.h"
#include "worker_stats.h"

/* Partitions tracked per worker (offset progress); messages of higher ids are not tracked. */
#define EPOCH_PARTITIONS_MAX 4096
/* Segments one epoch may seal (a bound on a manifest record). */
#define EPOCH_SEGMENTS_MAX 1024
/* The rows' source times are kept in bins of this many ms, EPOCH_LAT_BINS of them around the
 * epoch's first row, so the seal can put every row in the histogram without per-row times. */
#define EPOCH_LAT_BIN_MS 4
#define EPOCH_LAT_BINS 2048

/*
 * Where a published epoch's offsets go: called on the worker's thread after the epoch's
 * segments are visible, with the ranges [first, next) per partition it covers (valid during the
 * call only). The next offsets are what may be committed.
 */
struct epoch_sink {
	void (*sealed)(void *ctx, const struct manifest_range *ranges, uint32_t count);
	void *ctx;
};

struct epoch_cfg {
	uint32_t worker;              /* the w<k> of file names */
	const char *output_dir;       /* segments and _manifest/ */
	const char *instance;
	const char *dead_letter_dir;
	const char *topic;            /* of the manifest records and dead letters */
	uint32_t segment_age_ms;      /* an epoch with rows closes this long after its first row */
	uint32_t segment_idle_ms;     /* ... or after this long without a message (0: never) */
	struct seg_writer *seg;       /* the worker's writer, publish_hold set */
	struct worker_stats *stats;   /* the worker's counters */
	const _Atomic bool *stop;     /* disk retries give up once it is set */
	/* Hands every row the worker holds to the segment writer; 0 or -errno. */
	int (*flush)(void *arg);
	void *flush_arg;
	struct epoch_sink sink;
	/* May be NULL: a dead-letter or manifest write failed and is retried (errors of them), from
	 * inside the retry that holds the worker; NULL counts them in stats->write_errors. */
	void (*on_disk_error)(void *arg, uint64_t errors);
	void *on_disk_error_arg;
};

/* What epoch_next() says the open epoch needs. */
enum epoch_action {
	EPOCH_KEEP = 0, /* keep filling it */
	EPOCH_CUT,      /* due (age, quiet): cut it and seal it in the background */
	EPOCH_CLOSE,    /* it holds only dead letters or offsets and nothing came: close it now */
};

/* The cut epoch while its segments sync (step 1 done, steps 2-5 to go). */
struct epoch_pending {
	bool active;
	uint64_t cut;          /* the segment writer's generation of the epoch's segments */
	uint64_t rows;
	uint64_t dl_bytes;     /* dead-letter file size at the cut */
	uint32_t range_count;  /* its ranges are in epoch.ranges */
	int64_t lat_base_ms;
	uint32_t lat_bins[EPOCH_LAT_BINS];
};

struct epoch {
	struct epoch_cfg cfg;

	/* The open epoch: rows and dead letters since the cut, and where they came from. */
	uint64_t rows;
	uint64_t dead;
	uint64_t first_ms;      /* seg_clock_ms of its first row */
	uint64_t last_msg_ms;   /* seg_clock_ms of the last poll that returned messages */
	int64_t lat_base_ms;
	uint32_t lat_bins[EPOCH_LAT_BINS];
	uint32_t dirty_count;
	int32_t dirty[EPOCH_PARTITIONS_MAX];         /* partitions consumed, in order of first use */
	bool is_dirty[EPOCH_PARTITIONS_MAX];
	int64_t first[EPOCH_PARTITIONS_MAX];         /* first offset consumed in the epoch */
	int64_t consumed_next[EPOCH_PARTITIONS_MAX];

	struct epoch_pending pend;
	int err;                /* < 0: a row or dead letter was lost; nothing is sealed again */

	/* The files and the scratch of a record (allocated by epoch_init). */
	struct deadletter dl;
	struct manifest manifest;
	struct seg_synced_info *synced;
	struct manifest_segment *rec_segs;
	struct manifest_range *ranges;     /* the cut epoch's ranges */
	const struct manifest_record *record; /* the record being appended */
	struct {                           /* the dead letter being appended */
		const struct source_msg *m;
		const char *error;
		const char *reason;
	} appending;
};

/*
 * Opens the worker's dead-letter file and manifest and allocates the record scratch. cfg is
 * copied; its strings, writer and stats must outlive the epoch. Call it on the worker's thread.
 * Returns 0 or -errno (logged). On error everything is released (epoch_destroy is a no-op).
 */
int epoch_init(struct epoch *ep, const struct epoch_cfg *cfg);

/* Closes the files (the dead-letter buffer is synced; nothing is published) and frees. */
void epoch_destroy(struct epoch *ep);

/* The message at offset of partition was taken (a row or a dead letter follows). */
static inline void epoch_consumed(struct epoch *ep, int32_t partition, int64_t offset)
{
	if (partition < 0 || partition >= EPOCH_PARTITIONS_MAX)
		return;
	ep->consumed_next[partition] = offset + 1;
	if (!ep->is_dirty[partition]) {
		ep->is_dirty[partition] = true;
		ep->first[partition] = offset;
		ep->dirty[ep->dirty_count++] = partition;
	}
}

/*
 * A row was appended for a message with Kafka timestamp kafka_ms (0: none, then the time the
 * worker took it, ingest_ms, is its source time).
 */
static inline void epoch_row(struct epoch *ep, int64_t kafka_ms, int64_t ingest_ms)
{
	int64_t src_ms = kafka_ms > 0 ? kafka_ms : ingest_ms;
	if (ep->rows == 0) {
		ep->first_ms = seg_clock_ms();
		/* The first row sits mid-range: others may be older or newer. */
		ep->lat_base_ms = src_ms - (int64_t)EPOCH_LAT_BINS / 2 * EPOCH_LAT_BIN_MS;
	}
	int64_t bin = (src_ms - ep->lat_base_ms) / EPOCH_LAT_BIN_MS;
	ep->lat_bins[bin < 0 ? 0 : bin >= EPOCH_LAT_BINS ? EPOCH_LAT_BINS - 1 : bin]++;
	ep->rows++;
}

/*
 * Appends m to the dead-letter file with error (a short code) and reason, and counts it. A full
 * buffer that cannot be written (disk full) is retried, never dropped; when a stop ends the
 * retry, or the write fails with an error retrying cannot fix (logged), the epoch fails
 * (epoch_failed): the message is in neither a segment nor the file, so nothing is sealed again.
 */
void epoch_dead_letter(struct epoch *ep, const struct source_msg *m, const char *error,
		       const char *reason);

/* A poll returned count messages (their time starts the quiet of segment_idle_ms). */
void epoch_polled(struct epoch *ep, uint32_t count);

/*
 * What the open epoch needs after a poll that returned count messages: EPOCH_CUT once it is
 * segment_age_ms old or, with segment_idle_ms, quiet that long; EPOCH_CLOSE when nothing came
 * and it holds dead letters, or offsets without rows; else EPOCH_KEEP.
 */
enum epoch_action epoch_next(const struct epoch *ep, uint32_t count);

/*
 * The longest a poll may wait, at most wait_ms: until the open epoch is due, and 1 ms while a
 * cut epoch's segments sync, so sealing is not late by a poll.
 */
uint32_t epoch_poll_wait_ms(const struct epoch *ep, uint32_t wait_ms);

/*
 * Step 1: cuts the open epoch (nothing to do when it is empty and no segment is synced). The
 * previous cut must be finished. Returns 0 or -errno.
 */
int epoch_cut(struct epoch *ep);

/*
 * Steps 2-5 for the cut epoch, once its segments are synced: at once when wait is set, else only
 * if they already are. Returns 0 (also when there is nothing to finish or it is not synced yet)
 * or -errno: then nothing of the epoch is published.
 */
int epoch_finish(struct epoch *ep, bool wait);

/*
 * Closes the open epoch and waits for it: finishes the outstanding cut, cuts, finishes. For
 * stop, revocation and flush requests. Returns 0 or -errno.
 */
int epoch_close(struct epoch *ep);

/* 0, or the error that keeps every epoch from now on from being sealed. */
static inline int epoch_failed(const struct epoch *ep)
{
	return ep->err;
}

/* The segment writer's seal callback (seg_writer_cfg.on_sealed, with the epoch as its arg). */
void epoch_on_sealed(void *arg, const struct seg_sealed *sealed);

#endif
