/*
 * epoch: the epoch protocol of one worker (contract in include/epoch.h).
 *
 * An epoch is open while the worker fills it; epoch_cut moves what it covers (its offset ranges,
 * the dead-letter size, its rows' source times) into pend and starts the sealing of its
 * segments; epoch_finish takes the steps that follow once they are synced. So the struct holds
 * at most two epochs: the open one and the cut one.
 */
#include "epoch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "now.h"

/* Longest sleep between two attempts of a failing dead-letter or manifest write. */
#define EPOCH_RETRY_BACKOFF_MS_MAX 1000

/* ---- the files, and their disk errors ---- */

static bool epoch_disk_retryable(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -EIO || rc == -ENOMEM || rc == -EAGAIN;
}

/*
 * Retries op while it fails with a disk error (ENOSPC, EIO, ...), with a backoff doubling from
 * 1 ms to EPOCH_RETRY_BACKOFF_MS_MAX as the segment writer does, until it succeeds, fails with an
 * error retrying cannot fix, or a stop is requested (-ECANCELED: a full disk must not hold a
 * stopping worker). Each failure goes to cfg.on_disk_error at once (else it is counted in
 * write_errors); logged by op.
 */
static int epoch_disk_retry(struct epoch *ep, int (*op)(struct epoch *))
{
	uint32_t backoff_ms = 1;
	for (;;) {
		int rc = op(ep);
		if (rc == 0 || !epoch_disk_retryable(rc))
			return rc;
		if (atomic_load_explicit(ep->cfg.stop, memory_order_acquire))
			return -ECANCELED;
		if (ep->cfg.on_disk_error)
			ep->cfg.on_disk_error(ep->cfg.on_disk_error_arg, 1);
		else
			worker_stats_add(&ep->cfg.stats->write_errors, 1);
		struct timespec ts = {backoff_ms / 1000, (long)(backoff_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
		if (backoff_ms < EPOCH_RETRY_BACKOFF_MS_MAX)
			backoff_ms *= 2;
	}
}

static int epoch_dl_append_op(struct epoch *ep)
{
	const struct source_msg *m = ep->appending.m;
	return deadletter_append(&ep->dl, ep->cfg.topic, m->partition, m->offset, ep->appending.error,
				 ep->appending.reason, m->data, m->len);
}

static int epoch_dl_sync_op(struct epoch *ep)
{
	return deadletter_sync(&ep->dl);
}

static int epoch_manifest_op(struct epoch *ep)
{
	return manifest_append(&ep->manifest, (struct manifest_record *)ep->record);
}

void epoch_dead_letter(struct epoch *ep, const struct source_msg *m, const char *error,
		       const char *reason)
{
	ep->appending.m = m;
	ep->appending.error = error;
	ep->appending.reason = reason;
	int rc = epoch_disk_retry(ep, epoch_dl_append_op);
	if (rc < 0) {
		/* The message is neither a row nor a dead letter: this epoch must never be sealed
		 * (a later sync could otherwise succeed without it), and the worker stops, as on a
		 * discarded segment; a restart consumes the message again. A stop on a full disk
		 * (-ECANCELED) is said by the worker. */
		if (rc != -ECANCELED)
			log_error("worker", "w%u: partition %" PRId32 " offset %" PRId64
				  ": dead letter not written: %s: stopping without sealing",
				  ep->cfg.worker, m->partition, m->offset, strerror(-rc));
		ep->err = rc;
		return;
	}
	worker_stats_add(&ep->cfg.stats->dead_letters, 1);
	ep->dead++;
}

int epoch_init(struct epoch *ep, const struct epoch_cfg *cfg)
{
	ep->cfg = *cfg;
	ep->dl.fd = -1;
	ep->manifest.fd = ep->manifest.dir_fd = -1;
	for (int32_t p = 0; p < EPOCH_PARTITIONS_MAX; p++)
		ep->consumed_next[p] = -1;
	ep->synced = calloc(EPOCH_SEGMENTS_MAX, sizeof(*ep->synced));
	ep->rec_segs = calloc(EPOCH_SEGMENTS_MAX, sizeof(*ep->rec_segs));
	ep->ranges = calloc(EPOCH_PARTITIONS_MAX, sizeof(*ep->ranges));
	int rc = -ENOMEM;
	if (!ep->synced || !ep->rec_segs || !ep->ranges)
		goto out_destroy;
	rc = deadletter_open(&ep->dl, cfg->dead_letter_dir, cfg->instance, cfg->worker);
	if (rc < 0)
		goto out_destroy;
	rc = manifest_open(&ep->manifest, cfg->output_dir, cfg->instance, cfg->worker,
			   EPOCH_SEGMENTS_MAX, EPOCH_PARTITIONS_MAX);
	if (rc < 0)
		goto out_destroy;
	return 0;

out_destroy:
	epoch_destroy(ep);
	return rc;
}

void epoch_destroy(struct epoch *ep)
{
	deadletter_close(&ep->dl);
	manifest_close(&ep->manifest);
	free(ep->synced);
	free(ep->rec_segs);
	free(ep->ranges);
	ep->synced = NULL;
	ep->rec_segs = NULL;
	ep->ranges = NULL;
}

/* ---- when to close ---- */

void epoch_polled(struct epoch *ep, uint32_t count)
{
	if (count > 0)
		ep->last_msg_ms = seg_clock_ms();
}

enum epoch_action epoch_next(const struct epoch *ep, uint32_t count)
{
	if (count == 0 && (ep->dead > 0 || (ep->rows == 0 && ep->dirty_count)))
		return EPOCH_CLOSE;
	if (ep->rows == 0)
		return EPOCH_KEEP;
	uint64_t now = seg_clock_ms();
	if (now - ep->first_ms >= ep->cfg.segment_age_ms)
		return EPOCH_CUT;
	if (count == 0 && ep->cfg.segment_idle_ms > 0 &&
	    now - ep->last_msg_ms >= ep->cfg.segment_idle_ms)
		return EPOCH_CUT;
	return EPOCH_KEEP;
}

uint32_t epoch_poll_wait_ms(const struct epoch *ep, uint32_t wait_ms)
{
	uint32_t wait = wait_ms;
	/* A cut epoch is finished as soon as its segments are synced: look again soon. */
	if (ep->pend.active && wait > 1)
		wait = 1;
	if (ep->rows == 0)
		return wait;
	uint64_t due = ep->first_ms + ep->cfg.segment_age_ms;
	if (ep->cfg.segment_idle_ms > 0 && ep->last_msg_ms + ep->cfg.segment_idle_ms < due)
		due = ep->last_msg_ms + ep->cfg.segment_idle_ms;
	uint64_t now = seg_clock_ms();
	if (due <= now)
		return 0;
	return due - now < wait ? (uint32_t)(due - now) : wait;
}

/* ---- the steps ---- */

static void epoch_stall(struct epoch *ep, uint64_t since_ns)
{
	uint64_t stall = now_mono_ns() - since_ns;
	worker_stats_add(&ep->cfg.stats->stage_ns[WORKER_STAGE_SEAL], stall);
	worker_stats_max(&ep->cfg.stats->stall_ns_max, stall);
}

/* Adds the cut epoch's rows (binned from its base) to the latency histogram, sealed at now_ms. */
static void epoch_latency_record(struct epoch *ep, int64_t now_ms)
{
	struct epoch_pending *pd = &ep->pend;
	struct worker_stats *st = ep->cfg.stats;
	if (pd->rows == 0)
		return;
	uint64_t sum = 0;
	for (uint32_t i = 0; i < EPOCH_LAT_BINS; i++) {
		uint32_t n = pd->lat_bins[i];
		if (!n)
			continue;
		pd->lat_bins[i] = 0;
		int64_t lat = now_ms - (pd->lat_base_ms + (int64_t)i * EPOCH_LAT_BIN_MS +
					EPOCH_LAT_BIN_MS / 2);
		if (lat < 0)
			lat = 0;
		worker_stats_add(&st->latency_bucket[worker_stats_latency_bucket((uint64_t)lat)], n);
		sum += (uint64_t)lat * n;
	}
	worker_stats_add(&st->latency_count, pd->rows);
	worker_stats_add(&st->latency_ms_sum, sum);
}

int epoch_cut(struct epoch *ep)
{
	struct epoch_pending *pd = &ep->pend;
	if (ep->rows == 0 && ep->dead == 0 && ep->dirty_count == 0 &&
	    seg_synced_count(ep->cfg.seg) == 0)
		return 0;
	uint64_t t0 = now_mono_ns();
	int rc = ep->cfg.flush(ep->cfg.flush_arg);
	if (rc < 0)
		return rc;
	pd->cut = seg_cut(ep->cfg.seg);
	pd->rows = ep->rows;
	/* The file's size once the epoch's dead letters are out: flushed bytes plus the buffer. */
	pd->dl_bytes = ep->dl.bytes + ep->dl.len;
	pd->lat_base_ms = ep->lat_base_ms;
	memcpy(pd->lat_bins, ep->lat_bins, sizeof(pd->lat_bins));
	memset(ep->lat_bins, 0, sizeof(ep->lat_bins));
	for (uint32_t i = 0; i < ep->dirty_count; i++) {
		int32_t p = ep->dirty[i];
		ep->ranges[i] = (struct manifest_range){p, ep->first[p], ep->consumed_next[p]};
		ep->is_dirty[p] = false;
	}
	pd->range_count = ep->dirty_count;
	ep->dirty_count = 0;
	ep->rows = 0;
	ep->dead = 0;
	pd->active = true;
	epoch_stall(ep, t0);
	return 0;
}

/* Step 3: the record of the cut epoch, appended to the manifest and synced. */
static int epoch_record(struct epoch *ep)
{
	struct epoch_pending *pd = &ep->pend;
	size_t total;
	size_t nseg = seg_cut_segments(ep->cfg.seg, pd->cut, ep->synced, EPOCH_SEGMENTS_MAX,
				       &total);
	if (nseg < total) {
		log_error("worker", "w%u: more than %u segments in one epoch", ep->cfg.worker,
			  EPOCH_SEGMENTS_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < nseg; i++) {
		struct manifest_segment *ms = &ep->rec_segs[i];
		snprintf(ms->rel_path, sizeof(ms->rel_path), "%s", ep->synced[i].rel_path);
		ms->rows = ep->synced[i].rows;
		ms->bytes = ep->synced[i].bytes;
		ms->checksum = ep->synced[i].checksum;
	}
	struct manifest_record rec = {
		.sealed_ms = now_wall_ms(),
		.deadletter_bytes = pd->dl_bytes,
		.topic = ep->cfg.topic,
		.segment_count = nseg,
		.segments = ep->rec_segs,
		.range_count = pd->range_count,
		.ranges = ep->ranges,
	};
	ep->record = &rec;
	int rc = epoch_disk_retry(ep, epoch_manifest_op);
	ep->record = NULL;
	return rc;
}

int epoch_finish(struct epoch *ep, bool wait)
{
	struct epoch_pending *pd = &ep->pend;
	if (!pd->active)
		return 0;
	uint64_t t0 = now_mono_ns();
	int rc = wait ? seg_cut_wait(ep->cfg.seg, pd->cut) : seg_cut_synced(ep->cfg.seg, pd->cut);
	if (rc == 0 && !wait)
		return 0; /* still syncing */
	if (rc > 0)
		rc = 0;
	if (rc == 0)
		rc = ep->err;
	if (rc == 0) /* every dead letter of the epoch on disk */
		rc = epoch_disk_retry(ep, epoch_dl_sync_op);
	if (rc == 0) /* what is sealed and which offsets it covers */
		rc = epoch_record(ep);
	if (rc == 0) /* visible: renamed to .native */
		rc = seg_cut_publish(ep->cfg.seg, pd->cut);
	if (rc == 0)
		rc = ep->err;
	if (rc < 0)
		return rc;
	epoch_latency_record(ep, now_wall_ms());
	if (pd->range_count && ep->cfg.sink.sealed)
		ep->cfg.sink.sealed(ep->cfg.sink.ctx, ep->ranges, pd->range_count);
	pd->active = false;
	epoch_stall(ep, t0);
	worker_stats_add(&ep->cfg.stats->epochs, 1);
	return 0;
}

int epoch_close(struct epoch *ep)
{
	int rc = epoch_finish(ep, true);
	if (rc == 0)
		rc = epoch_cut(ep);
	if (rc == 0)
		rc = epoch_finish(ep, true);
	return rc;
}

void epoch_on_sealed(void *arg, const struct seg_sealed *sealed)
{
	struct epoch *ep = arg;
	struct worker_stats *st = ep->cfg.stats;
	if (sealed->err < 0) {
		/* The rows of a discarded segment are not on disk: nothing of this epoch may be
		 * committed. The worker stops; a restart consumes them again. */
		log_error("worker", "w%u: segment %" PRId64 " of hour %" PRId64
			  " discarded (%s): stopping without committing its rows",
			  ep->cfg.worker, sealed->id, sealed->hour_key, strerror(-sealed->err));
		ep->err = sealed->err;
		return;
	}
	worker_stats_add(&st->segments_sealed, 1);
	worker_stats_add(&st->rows_sealed, sealed->rows);
	worker_stats_add(&st->bytes_written, sealed->bytes);
	log_debug("worker", "w%u: sealed %s: %" PRIu64 " rows, %" PRIu64 " bytes", ep->cfg.worker,
		  sealed->path, sealed->rows, sealed->bytes);
}
