/*
 * source: where a worker's messages come from, behind one small interface, so the worker loop
 * does not know whether it reads a Kafka queue (kafka.h) or a JSON-lines file (source_file.h),
 * and another source or format plugs in without touching the loop.
 *
 * A source hands out a batch per call (one indirect call per batch, none per message) into the
 * caller's array of struct source_msg. A message carries what a row or a dead letter needs: the
 * payload, partition, offset, Kafka timestamp and key; its headers are read on demand through
 * source_header(), so a message whose headers nobody asks for costs nothing for them.
 *
 * Lifetime: the messages of a poll (their payloads, keys and rejects) stay valid until the next
 * source_poll() or source_release(), whichever comes first.
 *
 * One partition can wait while the others go on (source_pause_partition): the worker holds a
 * message it cannot decode yet (an Avro schema id the registry has not answered) and hands it,
 * and every later message of that partition, back to the source, which gives them again from that
 * message on once the partition is resumed.
 *
 * Threading: a source belongs to one worker thread; only source_wake() may be called from
 * another thread. Creation and destruction happen on the thread that owns the worker (before it
 * starts, after it ended).
 */
#ifndef ENRICHD_SOURCE_H
#define ENRICHD_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest message a source hands out whole (a longer file line is rejected as too_long); a
 * worker's decode scratch is sized from it. */
#define SOURCE_MSG_BYTES_MAX ((size_t)16 << 20)
/* Rejects one poll may return (a poll that meets more ends its batch early). */
#define SOURCE_REJECTS_MAX 16

struct source_msg {
	const char *data;      /* payload, never NULL ("" when empty) */
	const char *key;       /* Kafka message key; NULL: none */
	const void *handle;    /* the source's own message, for source_header(); NULL: none */
	int64_t offset;        /* Kafka offset, or the 0-based line index of a file */
	int64_t kafka_ms;      /* Kafka timestamp, ms since the epoch; 0: none */
	uint32_t len;          /* payload bytes */
	uint32_t key_len;
	int32_t partition;     /* Kafka partition; 0 for a file */
};

/* One header of a message (source_header). name is NUL-terminated; value may be NULL. */
struct source_header {
	const char *name;
	const void *value;
	size_t len;
};

/* A message the source could not hand out whole (a line longer than SOURCE_MSG_BYTES_MAX). The
 * worker dead-letters it before it processes the batch it came with; a source hands out no
 * message before a reject in the same batch, so a partition paused at a message of the batch is
 * never paused before a reject it reported. */
struct source_reject {
	struct source_msg msg; /* its partition and offset, and the head of its bytes */
	const char *error;     /* short code for the dead letter ("too_long") */
	const char *reason;    /* a sentence */
};

struct source;

struct source_ops {
	/*
	 * Moves up to max messages into msgs, waiting up to timeout_ms for the first (a source
	 * with nothing to wait for returns at once). Sets src->rejects and src->reject_count,
	 * and src->finished once no message will ever follow. Returns the number of messages
	 * (0 on timeout) or -errno (logged). No allocation.
	 */
	int (*poll)(struct source *src, struct source_msg *msgs, uint32_t max, uint32_t timeout_ms);
	/* The last batch is processed: its messages may go. */
	void (*release)(struct source *src);
	/*
	 * Stops fetching until resume: a poll returns no message meanwhile (after waiting its
	 * timeout), and what the source holds ahead of the worker is given back and fetched again
	 * on resume, so nothing is lost or repeated. Idempotent. Returns 0 or -errno (logged).
	 */
	int (*pause)(struct source *src);
	int (*resume)(struct source *src);
	/*
	 * Stops fetching m's partition from m on, m being a message of the current batch (not a
	 * reject): m and every later message of its partition (those of the current batch too,
	 * which the caller does not process) are not handed out before resume_partition, and then
	 * again from m on, so nothing is lost or repeated. The source's other partitions go on (a
	 * file, one partition, stops as a whole). Such a partition stays stopped across pause() and
	 * resume() of the whole source. Pausing a partition paused already moves it to m. Returns
	 * 0, -ENOENT when the partition is no longer the source's (revoked meanwhile: its next owner
	 * starts after what was sealed), or -errno (logged). Not for the per-message path: it may
	 * allocate and take a lock (once per pause, for the partition's whole wait).
	 */
	int (*pause_partition)(struct source *src, const struct source_msg *m);
	/*
	 * Fetches a partition paused by pause_partition again, from the message it was paused at
	 * (unless the whole source is paused: then from its resume). Returns 0 (also when the
	 * partition is not paused, or no longer the source's), or -errno (logged).
	 */
	int (*resume_partition)(struct source *src, int32_t partition);
	/* Any thread: a poll waiting now returns at once. */
	void (*wake)(struct source *src);
	/*
	 * Header index (0-based, in message order) of m, a message of this source's current
	 * batch. Returns 0 and *out, or -ENOENT past the last header (or for a source without
	 * headers).
	 */
	int (*header)(const struct source *src, const struct source_msg *m, size_t index,
		      struct source_header *out);
	/* Releases the batch and frees the source. */
	void (*destroy)(struct source *src);
};

/* The common part of every source; a source embeds it first. */
struct source {
	const struct source_ops *ops;
	const char *topic;      /* the _topic of its rows: the Kafka topic, or the file's name */
	bool fetches_ahead;     /* holds messages in memory ahead of the worker, so backpressure
				   pauses it (a file holds nothing ahead: what is not read stays
				   in the file) */
	bool finished;          /* set by poll: no message will follow (the end of a file) */
	uint32_t reject_count;  /* set by poll: rejects[0..reject_count) */
	const struct source_reject *rejects;
};

static inline int source_poll(struct source *src, struct source_msg *msgs, uint32_t max,
			      uint32_t timeout_ms)
{
	return src->ops->poll(src, msgs, max, timeout_ms);
}

static inline void source_release(struct source *src)
{
	src->ops->release(src);
}

static inline int source_pause(struct source *src)
{
	return src->ops->pause(src);
}

static inline int source_resume(struct source *src)
{
	return src->ops->resume(src);
}

static inline int source_pause_partition(struct source *src, const struct source_msg *m)
{
	return src->ops->pause_partition(src, m);
}

static inline int source_resume_partition(struct source *src, int32_t partition)
{
	return src->ops->resume_partition(src, partition);
}

static inline void source_wake(struct source *src)
{
	src->ops->wake(src);
}

static inline int source_header(const struct source *src, const struct source_msg *m,
				size_t index, struct source_header *out)
{
	return src->ops->header(src, m, index, out);
}

/* NULL is a no-op. */
static inline void source_destroy(struct source *src)
{
	if (src)
		src->ops->destroy(src);
}

#endif
