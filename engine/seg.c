/*
 * seg: the segment writer (contract in include/seg.h).
 *
 * Memory. The buffer pool is one arena used as a ring: seg_buf_get reserves bytes at the head,
 * writes complete in any order, and the tail advances over the oldest reservations once they are
 * finished. Each reservation has a request (struct seg_req) in a ring of the same order, so the
 * arena tail is simply the offset of the oldest live request. seg_append shrinks the newest
 * reservation to the bytes actually used, so variable-sized blocks pack tightly.
 *
 * Requests. Every io_uring submission carries its own request in user_data: write requests live in
 * the request ring, and each segment embeds one control request for its sealing steps (fdatasync,
 * rename, directory fsync), which run one after the other. A request that cannot get a submission
 * entry goes to the backlog; one that failed with a disk error goes to the retry list, which is
 * resubmitted as a whole when the backoff has passed.
 *
 * Completions are drained into the state machine first; finished segments are queued on the done
 * list, and seal callbacks run only after the drain (seg_deliver).
 *
 * Direct writes (cfg.direct_io). A segment's file is opened with O_DIRECT, so its bytes go from
 * the pool to the disk without being copied into the page cache; every write then starts at a
 * SEG_DIO_ALIGN file offset, from a SEG_DIO_ALIGN address, and is a multiple of it long. Blocks
 * end anywhere, so each segment carries a tail: the bytes past its last aligned offset, kept in
 * the segment's own page. seg_buf_get places the caller's buffer tail_len bytes past an aligned
 * reservation start; seg_append copies the tail in front of the block, writes everything up to
 * the last aligned offset and keeps the rest as the new tail. Sealing writes the last tail through
 * the page cache (O_DIRECT cleared) before the fdatasync. A filesystem that refuses O_DIRECT gets
 * page-cache writes (logged once).
 */
#include "seg.h"
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <liburing.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
/* In line, so the segment checksum is built for this machine's vectors (AVX2 with
 * -march=native) rather than the shared library's baseline. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "log.h"

#define SEG_ALIGN 64u
/* File offset, memory address and length unit of direct writes: covers 512- and 4096-byte
 * logical blocks. */
#define SEG_DIO_ALIGN 4096u
#define SEG_RETRY_BACKOFF_MS_MIN 1u
/* Names tried when a seq is already taken in the hour directory. */
#define SEG_SEQ_PROBES_MAX 64
#define SEG_REAP_BATCH 64u
/* The kernel's limit on one registered buffer. */
#define SEG_FIXED_BYTES_MAX (UINT64_C(1) << 30)
/* One write submission covers at most this many bytes; the rest follows as a short write. */
#define SEG_WRITE_BYTES_MAX (UINT32_C(1) << 30)
#define SEG_CQ_ENTRIES_MAX 65536u
/* A disk-error episode starting sooner than this after the last logged one is only counted. */
#define SEG_ERROR_LOG_INTERVAL_MS 10000u
#define SEG_CLEAN_DEPTH_MAX 8u
#define SEG_NAME_MAX 128u
/* "dt=YYYY-MM-DD/hour=HH" */
#define SEG_REL_MAX 32u
/* Bytes of a path the writer adds below cfg.dir, with room to spare. */
#define SEG_PATH_SUFFIX_MAX 192u

enum seg_op { SEG_OP_WRITE, SEG_OP_TAIL, SEG_OP_FSYNC, SEG_OP_RENAME, SEG_OP_DIRSYNC };

enum seg_req_state { SEG_REQ_FREE, SEG_REQ_HELD, SEG_REQ_WRITING };

enum segment_state { SEGMENT_FREE, SEGMENT_OPEN, SEGMENT_SEALING, SEGMENT_SYNCED, SEGMENT_DONE };

struct segment;

struct seg_req {
	struct seg_buf buf; /* first: a struct seg_buf * handed out is a struct seg_req * */
	struct segment *seg;
	struct seg_req *next; /* backlog or retry list */
	uint64_t arena_off;
	uint32_t lead;     /* buf.data - (arena + arena_off): room for a direct segment's tail */
	uint64_t file_off; /* where buf.data[0] goes */
	size_t len;        /* bytes to write */
	size_t done;       /* bytes written so far */
	uint8_t op;
	uint8_t state;
	bool failed; /* the last attempt failed with a disk error */
};

struct segment {
	struct seg_req ctl; /* the sealing step in progress */
	XXH3_state_t *xxh;
	struct segment *next; /* free list or done list */
	int64_t id;
	int64_t hour_key;
	int fd;
	int dir_fd;
	int err;
	uint8_t state;
	bool direct;    /* aligned writes and a carried tail (the file was opened for O_DIRECT) */
	bool fd_direct; /* O_DIRECT is set on fd now */
	uint8_t *tail;  /* SEG_DIO_ALIGN bytes: the appended bytes past the last aligned offset */
	uint32_t tail_len;
	uint32_t writes_pending;
	uint64_t bytes;
	uint64_t rows;
	uint64_t blocks;
	uint64_t first_mono_ms;
	int64_t first_wall_ms;
	int64_t sealed_wall_ms;
	uint64_t cut;            /* the writer's cut generation when the segment was opened */
	char rel[SEG_REL_MAX];   /* hour directory below cfg.dir */
	char name[SEG_NAME_MAX];     /* final file name */
	char name_tmp[SEG_NAME_MAX + 8]; /* name + ".tmp", the name while open */
};

struct seg_writer {
	struct seg_writer_cfg cfg;
	char *dir;
	char instance[SEG_INSTANCE_LEN_MAX + 1];
	int root_fd;
	struct io_uring ring;
	bool ring_ready;
	bool fixed;
	bool async_writes; /* IOSQE_ASYNC: writes go to the io-wq threads (bound to cfg.io_cpus) */
	bool direct;       /* new segments are opened for O_DIRECT */
	bool in_callback;
	uint32_t align;    /* of arena reservations: SEG_DIO_ALIGN when direct, else SEG_ALIGN */
	uint8_t *tails;    /* seg_cap tail pages of direct segments */

	uint8_t *arena;
	uint64_t arena_bytes;
	uint64_t arena_head;

	struct seg_req *reqs;
	uint32_t req_cap;
	uint32_t req_head; /* next to hand out */
	uint32_t req_tail; /* oldest live */
	uint32_t req_live; /* entries from tail to head */
	uint32_t held;     /* buffers the caller holds */

	struct segment *segs;
	uint32_t seg_cap;
	struct segment *free_segs;
	struct segment **open; /* oldest first */
	uint32_t open_count;
	struct segment *last; /* open segment of the previous append */
	struct segment *done_head;
	struct segment *done_tail;
	struct segment *synced_head; /* publish_hold: synced, waiting for seg_publish_all */
	struct segment *synced_tail;
	uint32_t synced_count;

	struct seg_req *backlog_head;
	struct seg_req *backlog_tail;
	struct seg_req *retry_head;
	struct seg_req *retry_tail;
	uint64_t retry_at_ms;
	uint32_t backoff_ms;
	uint32_t kernel_ops; /* submission entries prepared and not yet completed */
	uint32_t reap_rounds_max;

	uint32_t retrying; /* requests (and segment creations) whose last attempt failed */
	bool create_failed;
	bool episode;
	bool episode_logged;
	uint64_t episode_errors;
	uint64_t episode_start_ms;
	uint64_t episode_logged_ms;
	uint64_t errors_told;  /* stats.write_errors given to cfg.on_disk_error so far */

	int seal_err;
	uint64_t cut;          /* generation of segments opened from now on (seg_cut) */
	uint64_t failed_cut;   /* lowest generation with a discarded segment; UINT64_MAX: none */
	int failed_err;
	int64_t next_seq;
	char path_buf[PATH_MAX];
	struct seg_stats stats;
};

/* ---- clocks, paths, errors ------------------------------------------------------ */

static uint64_t seg_align(const struct seg_writer *w, uint64_t n)
{
	return (n + w->align - 1) & ~(uint64_t)(w->align - 1);
}

uint64_t seg_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t seg_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t seg_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void seg_sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int64_t seg_hour_key(int64_t epoch_ms)
{
	int64_t q = epoch_ms / 3600000;
	if (epoch_ms % 3600000 < 0)
		q--;
	return q;
}

int seg_hour_path(int64_t hour_key, char *out, size_t cap)
{
	if (hour_key < 0 || hour_key >= SEG_HOUR_KEY_END)
		return -ERANGE;
	time_t t = (time_t)(hour_key * 3600);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -ERANGE;
	int n = snprintf(out, cap, "dt=%04d-%02d-%02d/hour=%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

/* The path of segment s with suffix ("" or ".tmp"), in w->path_buf: valid until the next call. */
static const char *seg_path(struct seg_writer *w, const struct segment *s, const char *suffix)
{
	snprintf(w->path_buf, sizeof(w->path_buf), "%s/%s/%s%s", w->dir, s->rel, s->name, suffix);
	return w->path_buf;
}

static bool seg_errno_retryable(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EIO || err == ENOMEM;
}

/* ---- disk-error episodes ------------------------------------------------------------------ */

/* Counts a retryable failure; logs the first one of an episode (rate-limited across episodes). */
static void seg_disk_error(struct seg_writer *w, bool *failed, const char *path, const char *what,
			   int err)
{
	w->stats.write_errors++;
	if (!*failed) {
		*failed = true;
		w->retrying++;
	}
	w->episode_errors++;
	if (w->episode)
		return;
	uint64_t now = seg_clock_ms();
	w->episode = true;
	w->stats.disk_failing = true;
	w->episode_errors = 1;
	w->episode_start_ms = now;
	w->episode_logged = w->episode_logged_ms == 0 ||
			    now - w->episode_logged_ms >= SEG_ERROR_LOG_INTERVAL_MS;
	if (w->episode_logged) {
		w->episode_logged_ms = now;
		log_error("seg", "%s: %s failed: %s; retrying (backoff up to %" PRIu32
			  " ms) until it succeeds",
			  path, what, strerror(err), w->cfg.retry_backoff_ms_max);
	}
}

/* A request (or segment creation) whose earlier attempt failed has now succeeded. */
static void seg_disk_ok(struct seg_writer *w, bool *failed)
{
	if (!*failed)
		return;
	*failed = false;
	w->retrying--;
	if (w->retrying > 0 || !w->episode)
		return;
	if (w->episode_logged)
		log_info("seg", "disk writes resumed after %" PRIu64 " failed attempts in %" PRIu64 " ms",
			 w->episode_errors, seg_clock_ms() - w->episode_start_ms);
	w->episode = false;
	w->stats.disk_failing = false;
	w->backoff_ms = SEG_RETRY_BACKOFF_MS_MIN;
}

/* ---- buffer pool ---------------------------------------------------------------------------- */

/* Reserves need (aligned) bytes of the arena; returns the offset or -1 when there is no room. */
static int64_t seg_arena_alloc(struct seg_writer *w, uint64_t need)
{
	uint64_t off;
	if (w->req_live == 0) {
		if (need > w->arena_bytes)
			return -1;
		off = 0;
	} else {
		uint64_t head = w->arena_head;
		uint64_t tail = w->reqs[w->req_tail].arena_off;
		if (head > tail) {
			if (w->arena_bytes - head >= need)
				off = head;
			else if (tail >= need)
				off = 0;
			else
				return -1;
		} else {
			if (tail - head < need)
				return -1;
			off = head;
		}
	}
	w->arena_head = off + need;
	return (int64_t)off;
}

static void seg_req_free(struct seg_writer *w, struct seg_req *req)
{
	req->state = SEG_REQ_FREE;
	req->seg = NULL;
	while (w->req_live > 0 && w->reqs[w->req_tail].state == SEG_REQ_FREE) {
		w->req_tail = (w->req_tail + 1) % w->req_cap;
		w->req_live--;
	}
	/* A buffer given back unused at the head is handed out again at once. */
	while (w->req_live > 0) {
		uint32_t newest = (w->req_head + w->req_cap - 1) % w->req_cap;
		if (w->reqs[newest].state != SEG_REQ_FREE)
			break;
		w->req_head = newest;
		w->req_live--;
		w->arena_head = w->reqs[newest].arena_off;
	}
}

static struct seg_req *seg_req_of(const struct seg_writer *w, const struct seg_buf *buf)
{
	uintptr_t p = (uintptr_t)buf;
	uintptr_t base = (uintptr_t)w->reqs;
	if (p < base || p >= base + (uintptr_t)w->req_cap * sizeof(struct seg_req))
		return NULL;
	if ((p - base) % sizeof(struct seg_req) != 0)
		return NULL;
	return (struct seg_req *)(void *)buf;
}

/* ---- submission ------------------------------------------------------------------------------ */

static int seg_submit(struct seg_writer *w)
{
	if (io_uring_sq_ready(&w->ring) == 0)
		return 0;
	int rc = io_uring_submit(&w->ring);
	if (rc >= 0) {
		w->stats.submits++;
		return 0;
	}
	/* Transient: the entries stay queued and go with the next submit. */
	if (rc == -EAGAIN || rc == -EBUSY || rc == -EINTR)
		return 0;
	log_error("seg", "io_uring_submit failed: %s", strerror(-rc));
	return rc;
}

static void seg_req_prep(struct seg_writer *w, struct seg_req *req, struct io_uring_sqe *sqe)
{
	struct segment *s = req->seg;
	switch (req->op) {
	case SEG_OP_WRITE:
	case SEG_OP_TAIL: {
		size_t left = req->len - req->done;
		unsigned n = left > SEG_WRITE_BYTES_MAX ? SEG_WRITE_BYTES_MAX : (unsigned)left;
		const uint8_t *p = req->buf.data + req->done;
		uint64_t off = req->file_off + req->done;
		/* A tail is in its segment's page, not in the registered pool. */
		if (w->fixed && req->op == SEG_OP_WRITE)
			io_uring_prep_write_fixed(sqe, s->fd, p, n, off, 0);
		else
			io_uring_prep_write(sqe, s->fd, p, n, off);
		if (w->async_writes)
			io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		break;
	}
	case SEG_OP_FSYNC:
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
		break;
	case SEG_OP_RENAME:
		/* Never replaces a file: a sealed segment is never touched again. */
		io_uring_prep_renameat(sqe, s->dir_fd, s->name_tmp, s->dir_fd, s->name,
				       RENAME_NOREPLACE);
		break;
	case SEG_OP_DIRSYNC:
		io_uring_prep_fsync(sqe, s->dir_fd, 0);
		break;
	default:
		abort();
	}
	io_uring_sqe_set_data(sqe, req);
	w->kernel_ops++;
}

static struct io_uring_sqe *seg_sqe_get(struct seg_writer *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	if (sqe)
		return sqe;
	(void)seg_submit(w);
	return io_uring_get_sqe(&w->ring);
}

/* Queues req's next operation; without a free submission entry it waits in the backlog. */
static void seg_req_queue(struct seg_writer *w, struct seg_req *req)
{
	struct io_uring_sqe *sqe = w->backlog_head ? NULL : seg_sqe_get(w);
	if (!sqe) {
		req->next = NULL;
		if (w->backlog_tail)
			w->backlog_tail->next = req;
		else
			w->backlog_head = req;
		w->backlog_tail = req;
		return;
	}
	seg_req_prep(w, req, sqe);
}

static void seg_backlog_flush(struct seg_writer *w)
{
	while (w->backlog_head) {
		struct io_uring_sqe *sqe = seg_sqe_get(w);
		if (!sqe)
			return;
		struct seg_req *req = w->backlog_head;
		w->backlog_head = req->next;
		if (!w->backlog_head)
			w->backlog_tail = NULL;
		seg_req_prep(w, req, sqe);
	}
}

static void seg_retry_add(struct seg_writer *w, struct seg_req *req)
{
	req->next = NULL;
	if (!w->retry_head) {
		w->retry_at_ms = seg_clock_ms() + w->backoff_ms;
		w->backoff_ms = w->backoff_ms * 2 > w->cfg.retry_backoff_ms_max
					? w->cfg.retry_backoff_ms_max
					: w->backoff_ms * 2;
		w->retry_head = req;
	} else {
		w->retry_tail->next = req;
	}
	w->retry_tail = req;
}

static void seg_retry_flush(struct seg_writer *w)
{
	struct seg_req *req = w->retry_head;
	w->retry_head = NULL;
	w->retry_tail = NULL;
	while (req) {
		struct seg_req *next = req->next;
		w->stats.write_retries++;
		seg_req_queue(w, req);
		req = next;
	}
}

/* ---- segment state machine ------------------------------------------------------------------ */

static void seg_finish(struct seg_writer *w, struct segment *s)
{
	s->state = SEGMENT_DONE;
	w->stats.sealing_segments--;
	s->next = NULL;
	if (w->done_tail)
		w->done_tail->next = s;
	else
		w->done_head = s;
	w->done_tail = s;
}

/* Discards a segment whose data cannot be trusted or completed: its .tmp is removed. */
static void seg_discard(struct seg_writer *w, struct segment *s)
{
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (unlinkat(s->dir_fd, s->name_tmp, 0) < 0 && errno != ENOENT)
		log_warn("seg", "%s: cannot remove discarded segment: %s", seg_path(w, s, ".tmp"),
			 strerror(errno));
	close(s->dir_fd);
	s->dir_fd = -1;
	w->stats.segments_failed++;
	seg_finish(w, s);
}

/* Writes on s's fd go through the page cache from now on. */
static void seg_direct_off(struct seg_writer *w, struct segment *s)
{
	if (!s->fd_direct)
		return;
	int flags = fcntl(s->fd, F_GETFL);
	if (flags < 0 || fcntl(s->fd, F_SETFL, flags & ~O_DIRECT) < 0)
		log_warn("seg", "%s: clearing O_DIRECT: %s", seg_path(w, s, ".tmp"), strerror(errno));
	s->fd_direct = false;
}

/* Called once a rolled segment has no write left: starts the sealing steps. */
static void seg_seal_start(struct seg_writer *w, struct segment *s)
{
	if (s->err < 0) {
		seg_discard(w, s);
		return;
	}
	if (s->tail_len > 0) {
		/* The last bytes end unaligned: they go through the page cache. */
		seg_direct_off(w, s);
		s->ctl.op = SEG_OP_TAIL;
		s->ctl.buf.data = s->tail;
		s->ctl.len = s->tail_len;
		s->ctl.done = 0;
		s->ctl.file_off = s->bytes - s->tail_len;
	} else {
		s->ctl.op = SEG_OP_FSYNC;
	}
	seg_req_queue(w, &s->ctl);
}

/* Stops appends to s; it is sealed (or discarded) once its writes are done. */
static void seg_roll(struct seg_writer *w, struct segment *s)
{
	uint32_t i = 0;
	while (i < w->open_count && w->open[i] != s)
		i++;
	if (i == w->open_count)
		return;
	memmove(&w->open[i], &w->open[i + 1], (w->open_count - i - 1) * sizeof(w->open[0]));
	w->open_count--;
	w->stats.open_segments--;
	if (w->last == s)
		w->last = NULL;
	s->state = SEGMENT_SEALING;
	w->stats.sealing_segments++;
	if (s->writes_pending == 0)
		seg_seal_start(w, s);
}

/*
 * Counts the progress of a completed write (a block's or a segment's last bytes). Returns 1 when
 * all of it is written, 0 when its next attempt is queued (a short write, or a disk error worth
 * retrying after the backoff), or -errno when it failed for good (logged: the segment is lost).
 */
static int seg_write_progress(struct seg_writer *w, struct seg_req *req, int res)
{
	struct segment *s = req->seg;
	if (res > 0) {
		req->done += (size_t)res;
		w->stats.bytes_written += (uint64_t)res;
		if (req->done < req->len) {
			/* Short write: the rest goes at once; the episode ends when it is all on disk. */
			w->stats.short_writes++;
			w->stats.write_retries++;
			seg_req_queue(w, req);
			return 0;
		}
		seg_disk_ok(w, &req->failed);
		return 1;
	}
	/* res == 0 means no progress: treat it as a disk error, not as a loop. */
	int err = res < 0 ? -res : EIO;
	char what[96];
	snprintf(what, sizeof(what), "write of %zu bytes at offset %" PRIu64, req->len - req->done,
		 req->file_off + req->done);
	if (seg_errno_retryable(err)) {
		seg_disk_error(w, &req->failed, seg_path(w, s, ".tmp"), what, err);
		seg_retry_add(w, req);
		return 0;
	}
	log_error("seg", "%s: %s failed: %s; discarding the segment", seg_path(w, s, ".tmp"), what,
		  strerror(err));
	seg_disk_ok(w, &req->failed);
	return -err;
}

static void seg_write_done(struct seg_writer *w, struct seg_req *req, int res)
{
	struct segment *s = req->seg;
	if (res == -EAGAIN || res == -EINTR) {
		w->stats.write_retries++;
		seg_req_queue(w, req);
		return;
	}
	if (res == -EINVAL && s->fd_direct) {
		/* The device wants a larger alignment than SEG_DIO_ALIGN, or a short write left the
		 * rest unaligned: the same bytes go through the page cache. */
		log_warn("seg", "%s: direct write of %zu bytes at offset %" PRIu64 " refused (%s); "
			 "writing through the page cache from now on", seg_path(w, s, ".tmp"),
			 req->len - req->done, req->file_off + req->done, strerror(EINVAL));
		w->direct = false;
		w->stats.direct_io = false;
		seg_direct_off(w, s);
		w->stats.write_retries++;
		seg_req_queue(w, req);
		return;
	}
	int rc = seg_write_progress(w, req, res);
	if (rc == 0)
		return;
	if (rc < 0 && s->err == 0)
		s->err = rc;
	w->stats.inflight_writes--;
	w->stats.inflight_bytes -= req->len;
	s->writes_pending--;
	seg_req_free(w, req);
	if (s->err < 0 && s->state == SEGMENT_OPEN)
		seg_roll(w, s);
	else if (s->state == SEGMENT_SEALING && s->writes_pending == 0)
		seg_seal_start(w, s);
}

/* The segment's last bytes are written (or part of them): fsync once all are. */
static void seg_tail_done(struct seg_writer *w, struct seg_req *req, int res)
{
	struct segment *s = req->seg;
	int rc = seg_write_progress(w, req, res);
	if (rc == 0)
		return;
	if (rc < 0) {
		s->err = rc;
		seg_discard(w, s);
		return;
	}
	req->op = SEG_OP_FSYNC;
	seg_req_queue(w, req);
}

/* The segment is on disk: rename it, or with publish_hold keep it synced for seg_publish_all. */
static void seg_fsync_done(struct seg_writer *w, struct seg_req *req, int res)
{
	struct segment *s = req->seg;
	if (res < 0) {
		/* After a failed fdatasync the dirty pages may be gone: never retry it. */
		log_error("seg", "%s: fdatasync failed: %s; discarding the segment",
			  seg_path(w, s, ".tmp"), strerror(-res));
		s->err = res;
		seg_discard(w, s);
		return;
	}
	if (close(s->fd) < 0)
		log_warn("seg", "%s: close: %s", seg_path(w, s, ".tmp"), strerror(errno));
	s->fd = -1;
	if (w->cfg.publish_hold) {
		/* On disk; the rename waits for seg_publish_all. */
		s->state = SEGMENT_SYNCED;
		w->stats.sealing_segments--;
		s->next = NULL;
		if (w->synced_tail)
			w->synced_tail->next = s;
		else
			w->synced_head = s;
		w->synced_tail = s;
		w->synced_count++;
		return;
	}
	req->op = SEG_OP_RENAME;
	seg_req_queue(w, req);
}

/* Renamed to .native: sync the directory entry; once that is durable the segment is sealed. */
static void seg_dirsync_done(struct seg_writer *w, struct seg_req *req, int res)
{
	struct segment *s = req->seg;
	if (res < 0) {
		/* The data is synced and renamed; only the directory entry is not durable yet.
		 * Retried like a failed write. */
		seg_disk_error(w, &req->failed, seg_path(w, s, ""), "directory fsync after rename",
			       -res);
		seg_retry_add(w, req);
		return;
	}
	seg_disk_ok(w, &req->failed);
	close(s->dir_fd);
	s->dir_fd = -1;
	s->sealed_wall_ms = seg_wall_ms();
	w->stats.segments_sealed++;
	seg_finish(w, s);
}

static void seg_ctl_done(struct seg_writer *w, struct seg_req *req, int res)
{
	struct segment *s = req->seg;
	if (res == -EAGAIN || res == -EINTR) {
		w->stats.write_retries++;
		seg_req_queue(w, req);
		return;
	}
	switch (req->op) {
	case SEG_OP_TAIL:
		seg_tail_done(w, req, res);
		return;
	case SEG_OP_FSYNC:
		seg_fsync_done(w, req, res);
		return;
	case SEG_OP_RENAME:
		if (res < 0) {
			log_error("seg", "%s: rename to .native failed: %s; discarding the segment",
				  seg_path(w, s, ".tmp"), strerror(-res));
			s->err = res;
			seg_discard(w, s);
			return;
		}
		req->op = SEG_OP_DIRSYNC;
		seg_req_queue(w, req);
		return;
	case SEG_OP_DIRSYNC:
		seg_dirsync_done(w, req, res);
		return;
	default:
		abort();
	}
}

static void seg_complete(struct seg_writer *w, struct seg_req *req, int res)
{
	w->kernel_ops--;
	if (req->op == SEG_OP_WRITE)
		seg_write_done(w, req, res);
	else
		seg_ctl_done(w, req, res);
}

/* Tells the owner of write errors counted since the last time (cfg.on_disk_error). */
static void seg_tell_errors(struct seg_writer *w)
{
	if (!w->cfg.on_disk_error || w->stats.write_errors == w->errors_told)
		return;
	uint64_t n = w->stats.write_errors - w->errors_told;
	w->errors_told = w->stats.write_errors;
	w->in_callback = true;
	w->cfg.on_disk_error(w->cfg.on_disk_error_arg, n);
	w->in_callback = false;
}

/* Runs the disk-error and seal callbacks of what completed and frees finished segments' slots. */
static void seg_deliver(struct seg_writer *w)
{
	seg_tell_errors(w);
	while (w->done_head) {
		struct segment *s = w->done_head;
		w->done_head = s->next;
		if (!w->done_head)
			w->done_tail = NULL;
		struct seg_sealed rec = {
			.id = s->id,
			.hour_key = s->hour_key,
			.path = seg_path(w, s, s->err < 0 ? ".tmp" : ""),
			.rows = s->rows,
			.bytes = s->bytes,
			.blocks = s->blocks,
			.first_append_ms = s->first_wall_ms,
			.sealed_ms = s->err < 0 ? 0 : s->sealed_wall_ms,
			.checksum = XXH3_64bits_digest(s->xxh),
			.err = s->err,
		};
		if (rec.err < 0 && w->seal_err == 0)
			w->seal_err = rec.err;
		if (rec.err < 0 && s->cut < w->failed_cut) {
			w->failed_cut = s->cut;
			w->failed_err = rec.err;
		}
		if (w->cfg.on_sealed) {
			w->in_callback = true;
			w->cfg.on_sealed(w->cfg.on_sealed_arg, &rec);
			w->in_callback = false;
		}
		s->state = SEGMENT_FREE;
		s->next = w->free_segs;
		w->free_segs = s;
	}
}

/* Drains the completion queue (bounded), then resubmits what is due and runs callbacks. */
static int seg_reap(struct seg_writer *w)
{
	struct io_uring_cqe *cqes[SEG_REAP_BATCH];
	struct seg_req *reqs[SEG_REAP_BATCH];
	int res[SEG_REAP_BATCH];
	for (uint32_t round = 0; round < w->reap_rounds_max; round++) {
		unsigned n = io_uring_peek_batch_cqe(&w->ring, cqes, SEG_REAP_BATCH);
		if (n == 0 && (IO_URING_READ_ONCE(*w->ring.sq.kflags) &
			       (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))) {
			(void)io_uring_get_events(&w->ring);
			n = io_uring_peek_batch_cqe(&w->ring, cqes, SEG_REAP_BATCH);
		}
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			reqs[i] = io_uring_cqe_get_data(cqes[i]);
			res[i] = cqes[i]->res;
		}
		io_uring_cq_advance(&w->ring, n);
		for (unsigned i = 0; i < n; i++)
			seg_complete(w, reqs[i], res[i]);
	}
	seg_backlog_flush(w);
	if (w->retry_head && seg_clock_ms() >= w->retry_at_ms)
		seg_retry_flush(w);
	seg_deliver(w);
	return 0;
}

/*
 * Waits until a completion arrives or deadline_ms (seg_clock_ms; UINT64_MAX: none) or the retry
 * backoff has passed, then reaps. The caller only waits while something is outstanding.
 */
static int seg_wait_until(struct seg_writer *w, uint64_t deadline_ms)
{
	/* Every wait for the disk comes through here: a stop request while the disk is failing
	 * ends it, at the latest one backoff after the request (the longest single wait). */
	if (w->cfg.stop && w->stats.disk_failing &&
	    atomic_load_explicit(w->cfg.stop, memory_order_acquire))
		return -ECANCELED;
	w->stats.waits++;
	int rc = seg_submit(w);
	if (rc < 0)
		return rc;
	if (w->retry_head && w->retry_at_ms < deadline_ms)
		deadline_ms = w->retry_at_ms;
	bool stuck = io_uring_sq_ready(&w->ring) > 0 || w->backlog_head;
	if (w->kernel_ops > io_uring_sq_ready(&w->ring)) {
		struct io_uring_cqe *cqe;
		if (deadline_ms == UINT64_MAX && !stuck) {
			rc = io_uring_wait_cqe(&w->ring, &cqe);
		} else {
			uint64_t now = seg_clock_ms();
			uint64_t ms = deadline_ms > now ? deadline_ms - now : 0;
			if (stuck && ms > 1)
				ms = 1;
			struct __kernel_timespec ts = {.tv_sec = (long long)(ms / 1000u),
						       .tv_nsec = (long long)(ms % 1000u) * 1000000};
			rc = io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
			if (rc == -ETIME)
				rc = 0;
		}
		if (rc == -EINTR)
			rc = 0;
		if (rc < 0) {
			log_error("seg", "waiting for io_uring completions failed: %s", strerror(-rc));
			return rc;
		}
	} else if (deadline_ms != UINT64_MAX) {
		uint64_t now = seg_clock_ms();
		seg_sleep_ms(deadline_ms > now ? deadline_ms - now : 0);
	} else if (stuck) {
		seg_sleep_ms(1);
	}
	return seg_reap(w);
}

static int seg_wait(struct seg_writer *w)
{
	return seg_wait_until(w, UINT64_MAX);
}

/* ---- opening segments ------------------------------------------------------------------------ */

/* Opens (creating as needed, mkdir -p) the hour directory rel below the output directory. */
static int seg_hour_dir_open(struct seg_writer *w, const char *rel)
{
	int fd = openat(w->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return -errno;
	char dt[SEG_REL_MAX];
	snprintf(dt, sizeof(dt), "%s", rel);
	char *slash = strchr(dt, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	const char *hour = slash + 1;
	/* A new directory entry is made durable in its parent right away: segments sealed into
	 * it later only fsync their own directory. */
	if (mkdirat(w->root_fd, dt, 0755) == 0) {
		if (fsync(w->root_fd) < 0)
			return -errno;
	} else if (errno != EEXIST) {
		return -errno;
	}
	int dt_fd = openat(w->root_fd, dt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dt_fd < 0)
		return -errno;
	int rc = 0;
	if (mkdirat(dt_fd, hour, 0755) == 0) {
		if (fsync(dt_fd) < 0)
			rc = -errno;
	} else if (errno != EEXIST) {
		rc = -errno;
	}
	if (rc == 0) {
		fd = openat(dt_fd, hour, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			rc = -errno;
	}
	close(dt_fd);
	return rc < 0 ? rc : fd;
}

/* Creates the .tmp file of a new segment for hour_key: sets s->rel, name, fd, dir_fd, id. */
static int seg_files_create(struct seg_writer *w, struct segment *s, int64_t hour_key)
{
	int rc = seg_hour_path(hour_key, s->rel, sizeof(s->rel));
	if (rc < 0)
		return rc;
	int dir_fd = seg_hour_dir_open(w, s->rel);
	if (dir_fd < 0)
		return dir_fd;
	rc = -EEXIST;
	for (int probe = 0; probe < SEG_SEQ_PROBES_MAX; probe++) {
		int64_t seq = w->next_seq++;
		snprintf(s->name, sizeof(s->name), "%s-w%" PRIu32 "-%016" PRId64 ".native", w->instance,
			 w->cfg.worker, seq);
		snprintf(s->name_tmp, sizeof(s->name_tmp), "%s.tmp", s->name);
		if (faccessat(dir_fd, s->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (errno != ENOENT) {
			rc = -errno;
			break;
		}
		int fd = openat(dir_fd, s->name_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			rc = -errno;
			break;
		}
		s->fd = fd;
		s->dir_fd = dir_fd;
		s->id = seq;
		s->fd_direct = false;
		if (w->direct) {
			/* Set after the open: a filesystem without direct I/O refuses it here and
			 * leaves a usable descriptor. */
			int flags = fcntl(fd, F_GETFL);
			if (flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0) {
				s->fd_direct = true;
			} else {
				log_warn("seg", "%s: the filesystem takes no O_DIRECT writes (%s); writing "
					 "through the page cache", w->dir, strerror(errno));
				w->direct = false;
				w->stats.direct_io = false;
			}
		}
		s->direct = s->fd_direct;
		return 0;
	}
	close(dir_fd);
	return rc;
}

/* Opens a new segment for hour_key; retries disk errors with backoff like writes. */
static int seg_open(struct seg_writer *w, int64_t hour_key, struct segment **out)
{
	if (w->open_count == w->cfg.open_segments_max)
		seg_roll(w, w->open[0]);
	while (!w->free_segs) {
		/* Every slot not free is open, sealing (work outstanding) or synced and waiting for
		 * its publication; waiting ends only if some are sealing. */
		if (w->stats.sealing_segments == 0) {
			log_error("seg", "%s: all %u segment slots are open or wait to be published",
				  w->dir, w->seg_cap);
			return -ENOBUFS;
		}
		int rc = seg_wait(w);
		if (rc < 0)
			return rc;
	}
	/* Taken off the free list now: waits below may run callbacks that free other slots. */
	struct segment *s = w->free_segs;
	w->free_segs = s->next;
	for (;;) {
		int rc = seg_files_create(w, s, hour_key);
		if (rc == 0)
			break;
		if (!seg_errno_retryable(-rc)) {
			char rel[SEG_REL_MAX];
			(void)seg_hour_path(hour_key, rel, sizeof(rel));
			log_error("seg", "%s/%s: cannot create a segment: %s", w->dir, rel,
				  strerror(-rc));
			s->next = w->free_segs;
			w->free_segs = s;
			return rc;
		}
		char where[PATH_MAX];
		snprintf(where, sizeof(where), "%s/%s", w->dir, s->rel);
		seg_disk_error(w, &w->create_failed, where, "creating a segment", -rc);
		uint64_t deadline = seg_clock_ms() + w->backoff_ms;
		w->backoff_ms = w->backoff_ms * 2 > w->cfg.retry_backoff_ms_max
					? w->cfg.retry_backoff_ms_max
					: w->backoff_ms * 2;
		w->stats.write_retries++;
		do {
			rc = seg_wait_until(w, deadline);
			if (rc < 0) {
				s->next = w->free_segs;
				w->free_segs = s;
				return rc;
			}
		} while (seg_clock_ms() < deadline);
	}
	seg_disk_ok(w, &w->create_failed);
	s->next = NULL;
	s->hour_key = hour_key;
	s->err = 0;
	s->tail_len = 0;
	s->writes_pending = 0;
	s->bytes = 0;
	s->rows = 0;
	s->blocks = 0;
	s->first_mono_ms = seg_clock_ms();
	s->cut = w->cut;
	s->first_wall_ms = seg_wall_ms();
	s->sealed_wall_ms = 0;
	s->ctl.seg = s;
	s->ctl.failed = false;
	XXH3_64bits_reset(s->xxh);
	s->state = SEGMENT_OPEN;
	w->open[w->open_count++] = s;
	w->stats.open_segments++;
	w->stats.segments_opened++;
	*out = s;
	return 0;
}

static struct segment *seg_find(struct seg_writer *w, int64_t hour_key)
{
	if (w->last && w->last->hour_key == hour_key)
		return w->last;
	for (uint32_t i = 0; i < w->open_count; i++) {
		if (w->open[i]->hour_key == hour_key)
			return w->open[i];
	}
	return NULL;
}

/* ---- public API ------------------------------------------------------------------------------ */

int seg_buf_get(struct seg_writer *w, int64_t hour_key, size_t bytes_needed,
		struct seg_buf **out)
{
	if (w->in_callback)
		return -EDEADLK;
	if (bytes_needed == 0 || bytes_needed > w->arena_bytes)
		return -EMSGSIZE;
	/* Direct: room for any tail in front, so the block fits whichever segment it lands in. */
	uint32_t slack = w->direct ? SEG_DIO_ALIGN - 1 : 0;
	uint64_t need = seg_align(w, bytes_needed + slack);
	if (need > w->arena_bytes)
		return -EMSGSIZE;
	for (;;) {
		if (w->req_live < w->req_cap) {
			int64_t off = seg_arena_alloc(w, need);
			if (off >= 0) {
				struct seg_req *req = &w->reqs[w->req_head];
				w->req_head = (w->req_head + 1) % w->req_cap;
				w->req_live++;
				w->held++;
				struct segment *s = slack ? seg_find(w, hour_key) : NULL;
				req->state = SEG_REQ_HELD;
				req->arena_off = (uint64_t)off;
				req->lead = s && s->direct ? s->tail_len : 0;
				req->buf.data = w->arena + off + req->lead;
				req->buf.cap = (size_t)(need - slack);
				req->seg = NULL;
				req->failed = false;
				*out = &req->buf;
				return 0;
			}
		}
		/* Only completing writes free space; buffers the caller holds do not. */
		if (w->stats.inflight_writes == 0)
			return -ENOBUFS;
		int rc = seg_wait(w);
		if (rc < 0)
			return rc;
	}
}

void seg_buf_put(struct seg_writer *w, struct seg_buf *buf)
{
	struct seg_req *req = seg_req_of(w, buf);
	if (!req || req->state != SEG_REQ_HELD) {
		log_error("seg", "seg_buf_put: not a buffer held from this writer");
		return;
	}
	w->held--;
	seg_req_free(w, req);
}

/*
 * Frames a block of len bytes for the direct segment s: moves it to just past s's tail (when the
 * buffer was placed for another tail), puts the tail in front, keeps the bytes past the last
 * aligned offset as the new tail. Sets req's buffer, lead and file offset to the aligned write;
 * returns its length (0: the block only grew the tail).
 */
static size_t seg_direct_frame(struct segment *s, struct seg_req *req, size_t len)
{
	uint8_t *start = req->buf.data - req->lead;
	uint32_t k = s->tail_len;
	if (k != req->lead)
		memmove(start + k, req->buf.data, len);
	memcpy(start, s->tail, k);
	size_t total = k + len;
	size_t write_len = total & ~(size_t)(SEG_DIO_ALIGN - 1);
	s->tail_len = (uint32_t)(total - write_len);
	memcpy(s->tail, start + write_len, s->tail_len);
	req->buf.data = start;
	req->lead = 0;
	req->file_off = s->bytes - k;
	return write_len;
}

int64_t seg_append(struct seg_writer *w, int64_t hour_key, struct seg_buf *buf, size_t len,
		   uint64_t rows)
{
	if (w->in_callback)
		return -EDEADLK;
	struct seg_req *req = seg_req_of(w, buf);
	if (!req || req->state != SEG_REQ_HELD || len == 0 || len > buf->cap)
		return -EINVAL;
	if (hour_key < 0 || hour_key >= SEG_HOUR_KEY_END)
		return -ERANGE;
	while (w->stats.inflight_bytes > 0 && w->stats.inflight_bytes + len > w->cfg.inflight_bytes_max) {
		int rc = seg_wait(w);
		if (rc < 0)
			return rc;
	}
	struct segment *s = seg_find(w, hour_key);
	if (s && s->bytes + len > w->cfg.segment_bytes_max) {
		seg_roll(w, s);
		s = NULL;
	}
	if (!s) {
		int rc = seg_open(w, hour_key, &s);
		if (rc < 0)
			return rc;
	}
	w->last = s;

	XXH3_64bits_update(s->xxh, buf->data, len);
	size_t write_len = len;
	req->file_off = s->bytes;
	if (s->direct)
		write_len = seg_direct_frame(s, req, len);
	s->bytes += len;
	s->rows += rows;
	s->blocks++;
	w->stats.blocks_appended++;
	w->stats.bytes_appended += len;

	/* Give the unused tail of the newest reservation back to the pool. */
	if ((req - w->reqs + 1) % w->req_cap == w->req_head)
		w->arena_head = req->arena_off + seg_align(w, req->lead + write_len);
	w->held--;
	if (write_len == 0) {
		/* All of it is in the segment's tail now. */
		seg_req_free(w, req);
	} else {
		req->state = SEG_REQ_WRITING;
		req->op = SEG_OP_WRITE;
		req->seg = s;
		req->len = write_len;
		req->done = 0;
		s->writes_pending++;
		w->stats.inflight_writes++;
		w->stats.inflight_bytes += write_len;
		seg_req_queue(w, req);
	}

	int64_t id = s->id;
	if (s->bytes >= w->cfg.segment_bytes_max)
		seg_roll(w, s);
	return id;
}

int seg_tick(struct seg_writer *w, uint64_t now_ms)
{
	if (w->in_callback)
		return -EDEADLK;
	/* Open segments are in creation order, so their first appends are too. */
	while (w->open_count > 0 && now_ms >= w->open[0]->first_mono_ms &&
	       now_ms - w->open[0]->first_mono_ms >= w->cfg.segment_age_ms_max)
		seg_roll(w, w->open[0]);
	int rc = seg_submit(w);
	if (rc == 0)
		rc = seg_reap(w);
	/* What the completions started (retries, next sealing steps) goes out now too. */
	if (rc == 0)
		rc = seg_submit(w);
	return rc;
}

int seg_seal_all(struct seg_writer *w)
{
	if (w->in_callback)
		return -EDEADLK;
	w->seal_err = 0;
	while (w->open_count > 0)
		seg_roll(w, w->open[0]);
	while (w->stats.sealing_segments > 0) {
		int rc = seg_wait(w);
		if (rc < 0)
			return rc;
	}
	seg_deliver(w);
	return w->seal_err;
}

static void seg_synced_info_of(const struct segment *s, struct seg_synced_info *out)
{
	*out = (struct seg_synced_info){
		.id = s->id,
		.hour_key = s->hour_key,
		.rows = s->rows,
		.bytes = s->bytes,
		.checksum = XXH3_64bits_digest(s->xxh),
	};
	snprintf(out->rel_path, sizeof(out->rel_path), "%s/%s", s->rel, s->name);
}

uint32_t seg_synced_count(const struct seg_writer *w)
{
	return w->synced_count;
}

/* ---- overlapped sealing (cuts) ------------------------------------------------------------- */

uint64_t seg_cut(struct seg_writer *w)
{
	while (w->open_count > 0)
		seg_roll(w, w->open[0]);
	return w->cut++;
}

/* Segments of generation cut or older still being written, fdatasync'd or renamed, or finished
 * and not yet delivered (a discarded one must reach failed_cut before the cut counts as synced). */
static uint32_t seg_cut_sealing(const struct seg_writer *w, uint64_t cut)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < w->seg_cap; i++)
		n += (w->segs[i].state == SEGMENT_SEALING || w->segs[i].state == SEGMENT_DONE) &&
		     w->segs[i].cut <= cut;
	return n;
}

int seg_cut_synced(struct seg_writer *w, uint64_t cut)
{
	if (w->failed_cut <= cut)
		return w->failed_err;
	return seg_cut_sealing(w, cut) == 0;
}

int seg_cut_wait(struct seg_writer *w, uint64_t cut)
{
	if (w->in_callback)
		return -EDEADLK;
	int rc;
	while ((rc = seg_cut_synced(w, cut)) == 0) {
		rc = seg_wait(w);
		if (rc < 0)
			return rc;
	}
	return rc < 0 ? rc : 0;
}

size_t seg_cut_segments(struct seg_writer *w, uint64_t cut, struct seg_synced_info *out,
			size_t max, size_t *total)
{
	size_t n = 0, all = 0;
	for (struct segment *s = w->synced_head; s; s = s->next) {
		if (s->cut > cut)
			continue;
		all++;
		if (n < max)
			seg_synced_info_of(s, &out[n++]);
	}
	*total = all;
	return n;
}

/* Renames the synced segments of generation cut or older and waits until they are published. */
static int seg_publish_upto(struct seg_writer *w, uint64_t cut)
{
	struct segment **link = &w->synced_head;
	w->synced_tail = NULL;
	while (*link) {
		struct segment *s = *link;
		if (s->cut > cut) {
			w->synced_tail = s;
			link = &s->next;
			continue;
		}
		*link = s->next;
		s->next = NULL;
		w->synced_count--;
		s->state = SEGMENT_SEALING;
		w->stats.sealing_segments++;
		s->ctl.op = SEG_OP_RENAME;
		seg_req_queue(w, &s->ctl);
	}
	while (seg_cut_sealing(w, cut) > 0) {
		int rc = seg_wait(w);
		if (rc < 0)
			return rc;
	}
	seg_deliver(w);
	return 0;
}

int seg_cut_publish(struct seg_writer *w, uint64_t cut)
{
	if (w->in_callback)
		return -EDEADLK;
	if (w->failed_cut <= cut)
		return w->failed_err;
	int rc = seg_publish_upto(w, cut);
	if (rc < 0)
		return rc;
	return w->failed_cut <= cut ? w->failed_err : 0;
}

/* The synchronous two-phase API: every generation at once. */

size_t seg_synced(struct seg_writer *w, struct seg_synced_info *out, size_t max)
{
	size_t total;
	return seg_cut_segments(w, UINT64_MAX, out, max, &total);
}

int seg_publish_all(struct seg_writer *w)
{
	if (w->in_callback)
		return -EDEADLK;
	w->seal_err = 0;
	int rc = seg_publish_upto(w, UINT64_MAX);
	return rc < 0 ? rc : w->seal_err;
}

const struct seg_stats *seg_stats(const struct seg_writer *w)
{
	return &w->stats;
}

/* ---- setup ------------------------------------------------------------------------------------ */

void seg_writer_cfg_default(struct seg_writer_cfg *cfg)
{
	*cfg = (struct seg_writer_cfg){
		.segment_bytes_max = UINT64_C(256) << 20,
		.segment_age_ms_max = 1000,
		.open_segments_max = 8,
		.queue_depth = 128,
		.pool_bytes = UINT64_C(64) << 20,
		.inflight_bytes_max = UINT64_C(64) << 20,
		.inflight_writes_max = 1024,
		.retry_backoff_ms_max = 1000,
		.direct_io = true,
	};
}

static bool seg_instance_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SEG_INSTANCE_LEN_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '.' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

static int seg_cfg_check(const struct seg_writer_cfg *c)
{
	const char *bad = NULL;
	if (!c->dir || c->dir[0] == '\0' || strlen(c->dir) > PATH_MAX - SEG_PATH_SUFFIX_MAX)
		bad = "dir";
	else if (!c->instance || !seg_instance_valid(c->instance))
		bad = "instance";
	else if (c->segment_bytes_max == 0)
		bad = "segment_bytes_max";
	else if (c->segment_age_ms_max == 0)
		bad = "segment_age_ms_max";
	else if (c->open_segments_max == 0 || c->open_segments_max > SEG_OPEN_SEGMENTS_MAX)
		bad = "open_segments_max";
	else if (c->queue_depth == 0 || c->queue_depth > SEG_QUEUE_DEPTH_MAX)
		bad = "queue_depth";
	else if (c->pool_bytes < SEG_ALIGN || c->pool_bytes > SEG_POOL_BYTES_MAX)
		bad = "pool_bytes";
	else if (c->inflight_bytes_max == 0)
		bad = "inflight_bytes_max";
	else if (c->inflight_writes_max == 0 || c->inflight_writes_max > SEG_INFLIGHT_WRITES_MAX)
		bad = "inflight_writes_max";
	else if (c->retry_backoff_ms_max == 0 || c->retry_backoff_ms_max > 60000)
		bad = "retry_backoff_ms_max";
	if (bad) {
		log_error("seg", "invalid configuration: %s", bad);
		return -EINVAL;
	}
	return 0;
}

/* mkdir -p */
static uint32_t seg_pow2(uint32_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static int seg_ring_init(struct seg_writer *w)
{
	uint32_t cq = w->cfg.inflight_writes_max + w->seg_cap + 1;
	if (cq < 2 * w->cfg.queue_depth)
		cq = 2 * w->cfg.queue_depth;
	cq = seg_pow2(cq);
	if (cq > SEG_CQ_ENTRIES_MAX)
		cq = SEG_CQ_ENTRIES_MAX;
	struct io_uring_params p = {0};
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
		  IORING_SETUP_TASKRUN_FLAG;
	p.cq_entries = cq;
	int rc = io_uring_queue_init_params(w->cfg.queue_depth, &w->ring, &p);
	if (rc == -EINVAL) {
		/* Kernels before 5.18/5.19 lack SUBMIT_ALL and cooperative task running. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		rc = io_uring_queue_init_params(w->cfg.queue_depth, &w->ring, &p);
	}
	if (rc < 0) {
		log_error("seg", "io_uring setup (%" PRIu32 " entries) failed: %s", w->cfg.queue_depth,
			  strerror(-rc));
		return rc;
	}
	w->ring_ready = true;
	w->reap_rounds_max = p.cq_entries / SEG_REAP_BATCH + 1;
	if (w->arena_bytes <= SEG_FIXED_BYTES_MAX) {
		struct iovec iov = {.iov_base = w->arena, .iov_len = w->arena_bytes};
		rc = io_uring_register_buffers(&w->ring, &iov, 1);
		if (rc == 0)
			w->fixed = true;
		else
			log_info("seg", "buffer pool not registered with io_uring (%s); using plain writes",
				 strerror(-rc));
	}
	w->stats.fixed_buffers = w->fixed;
	if (w->cfg.io_cpus && w->cfg.io_cpu_count > 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		for (size_t i = 0; i < w->cfg.io_cpu_count; i++)
			CPU_SET(w->cfg.io_cpus[i], &set);
		rc = io_uring_register_iowq_aff(&w->ring, sizeof(set), &set);
		if (rc == 0)
			w->async_writes = true;
		else
			log_warn("seg", "io_uring workers not bound to the configured CPUs (%s); "
				 "writes are copied where the kernel runs them", strerror(-rc));
	}
	w->stats.io_cpus_set = w->async_writes;
	return 0;
}

static int seg_arena_init(struct seg_writer *w)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t pg = page > 0 ? (uint64_t)page : 4096u;
	w->arena_bytes = (w->cfg.pool_bytes + pg - 1) / pg * pg;
	void *p = mmap(NULL, w->arena_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		int err = errno;
		log_error("seg", "cannot map a %" PRIu64 "-byte buffer pool: %s", w->arena_bytes,
			  strerror(err));
		return -err;
	}
	(void)madvise(p, w->arena_bytes, MADV_HUGEPAGE);
	/* Fault the pool in now, on this thread's node, rather than on the first appends. */
	memset(p, 0, w->arena_bytes);
	w->arena = p;
	return 0;
}

static void seg_writer_free(struct seg_writer *w)
{
	if (w->ring_ready)
		io_uring_queue_exit(&w->ring);
	for (uint32_t i = 0; w->segs && i < w->seg_cap; i++) {
		struct segment *s = &w->segs[i];
		if (s->fd >= 0)
			close(s->fd);
		if (s->dir_fd >= 0)
			close(s->dir_fd);
		XXH3_freeState(s->xxh);
	}
	if (w->arena)
		munmap(w->arena, w->arena_bytes);
	if (w->tails)
		munmap(w->tails, (size_t)w->seg_cap * SEG_DIO_ALIGN);
	if (w->root_fd >= 0)
		close(w->root_fd);
	free(w->segs);
	free(w->open);
	free(w->reqs);
	free(w->dir);
	free(w);
}

/* The output directory: its name without trailing slashes, created, and opened. */
static int seg_writer_dir(struct seg_writer *w, const struct seg_writer_cfg *cfg)
{
	w->dir = strdup(cfg->dir);
	if (!w->dir)
		return -ENOMEM;
	/* Trailing slashes would only double up in paths. */
	for (size_t n = strlen(w->dir); n > 1 && w->dir[n - 1] == '/'; n--)
		w->dir[n - 1] = '\0';
	snprintf(w->instance, sizeof(w->instance), "%s", cfg->instance);
	w->cfg.dir = w->dir;
	w->cfg.instance = w->instance;
	int rc = fs_mkdirs(w->dir);
	if (rc == 0) {
		w->root_fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (w->root_fd < 0)
			rc = -errno;
	}
	if (rc < 0)
		log_error("seg", "%s: cannot create the output directory: %s", w->dir, strerror(-rc));
	return rc;
}

/* The request and segment pools, every segment on the free list with its own hash state. */
static int seg_writer_pools(struct seg_writer *w, const struct seg_writer_cfg *cfg)
{
	w->req_cap = cfg->inflight_writes_max;
	/* Open ones, those sealing or synced from the epoch before, and the previous cut's. */
	w->seg_cap = 3 * cfg->open_segments_max;
	w->reqs = calloc(w->req_cap, sizeof(*w->reqs));
	w->segs = calloc(w->seg_cap, sizeof(*w->segs));
	w->open = calloc(cfg->open_segments_max, sizeof(*w->open));
	/* No descriptor yet: seg_writer_free closes only those >= 0, whatever fails below. */
	for (uint32_t i = 0; w->segs && i < w->seg_cap; i++) {
		w->segs[i].fd = -1;
		w->segs[i].dir_fd = -1;
	}
	if (!w->reqs || !w->segs || !w->open)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->seg_cap; i++) {
		struct segment *s = &w->segs[i];
		s->ctl.seg = s;
		s->xxh = XXH3_createState();
		if (!s->xxh)
			return -ENOMEM;
		s->next = w->free_segs;
		w->free_segs = s;
	}
	return 0;
}

/* With direct I/O, one aligned tail page per segment for its last, partial page. */
static int seg_writer_tails(struct seg_writer *w)
{
	w->align = w->direct ? SEG_DIO_ALIGN : SEG_ALIGN;
	w->stats.direct_io = w->direct;
	if (!w->direct)
		return 0;
	void *p = mmap(NULL, (size_t)w->seg_cap * SEG_DIO_ALIGN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	w->tails = p;
	for (uint32_t i = 0; i < w->seg_cap; i++)
		w->segs[i].tail = w->tails + (size_t)i * SEG_DIO_ALIGN;
	return 0;
}

int seg_writer_init(struct seg_writer **out, const struct seg_writer_cfg *cfg)
{
	int rc = seg_cfg_check(cfg);
	if (rc < 0)
		return rc;
	struct seg_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->root_fd = -1;
	w->backoff_ms = SEG_RETRY_BACKOFF_MS_MIN;
	w->direct = cfg->direct_io;
	rc = seg_writer_dir(w, cfg);
	if (rc == 0)
		rc = seg_writer_pools(w, cfg);
	if (rc == 0)
		rc = seg_writer_tails(w);
	if (rc == 0)
		rc = seg_arena_init(w);
	if (rc == 0)
		rc = seg_ring_init(w);
	if (rc < 0) {
		seg_writer_free(w);
		return rc;
	}
	w->next_seq = seg_wall_us();
	w->failed_cut = UINT64_MAX;
	*out = w;
	return 0;
}

int seg_writer_close(struct seg_writer *w)
{
	if (!w)
		return 0;
	if (w->in_callback)
		return -EDEADLK;
	int rc = seg_seal_all(w);
	seg_writer_free(w);
	return rc;
}

/* ---- startup cleanup ------------------------------------------------------------------------- */

static bool seg_digits(const char **p)
{
	const char *s = *p;
	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > s;
}

/* Whether name is "<instance>-w<digits>-<digits>.native.tmp". */
static bool seg_tmp_name_match(const char *name, const char *instance, size_t ilen)
{
	if (strncmp(name, instance, ilen) != 0)
		return false;
	const char *p = name + ilen;
	if (p[0] != '-' || p[1] != 'w')
		return false;
	p += 2;
	if (!seg_digits(&p) || *p != '-')
		return false;
	p++;
	if (!seg_digits(&p))
		return false;
	return strcmp(p, ".native.tmp") == 0;
}

struct seg_clean {
	const char *instance;
	size_t ilen;
	unsigned removed;
	int err;
	char path[PATH_MAX];
};

/* Walks the directory dfd (owned; closed here) whose path is c->path[0..plen). */
static void seg_clean_dir(struct seg_clean *c, int dfd, size_t plen, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		if (c->err == 0)
			c->err = -errno;
		log_error("seg", "%s: %s", c->path, strerror(errno));
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		int n = snprintf(c->path + plen, sizeof(c->path) - plen, "/%s", name);
		if (n < 0 || (size_t)n >= sizeof(c->path) - plen)
			continue;
		unsigned char type = de->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (type == DT_DIR && depth < SEG_CLEAN_DEPTH_MAX) {
			int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				seg_clean_dir(c, sub, plen + (size_t)n, depth + 1);
		} else if (type == DT_REG && seg_tmp_name_match(name, c->instance, c->ilen)) {
			if (unlinkat(dirfd(d), name, 0) == 0) {
				c->removed++;
			} else if (errno != ENOENT) {
				if (c->err == 0)
					c->err = -errno;
				log_error("seg", "%s: cannot remove: %s", c->path, strerror(errno));
			}
		}
		c->path[plen] = '\0';
	}
	closedir(d);
}

int seg_dir_clean_tmp(const char *dir, const char *instance, unsigned *removed)
{
	*removed = 0;
	if (!instance || !seg_instance_valid(instance) || !dir || strlen(dir) >= PATH_MAX)
		return -EINVAL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct seg_clean *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->instance = instance;
	c->ilen = strlen(instance);
	size_t plen = strlen(dir);
	memcpy(c->path, dir, plen + 1);
	seg_clean_dir(c, fd, plen, 0);
	*removed = c->removed;
	int rc = c->err;
	free(c);
	if (*removed > 0)
		log_info("seg", "%s: removed %u unsealed segments of instance %s", dir, *removed,
			 instance);
	return rc;
}
