/*
 * kafka: the consumer side of enrichd — one high-level (consumer group) consumer per process,
 * whose partitions are spread over the workers.
 *
 * Threads and queues:
 *   - The control thread owns the consumer: it creates it, calls kafka_consumer_poll() often
 *     (every <= 100 ms is a good pace; at least every max.poll.interval.ms), commits with
 *     kafka_commit() and closes it. Rebalances and commit results run as hooks inside
 *     kafka_consumer_poll() and kafka_consumer_close(), on the control thread.
 *   - Worker k reads only its own queue, through its message source (kafka_source_new,
 *     source.h). On each assignment, every partition's queue is forwarded to exactly one
 *     worker's queue, the one the placement plan names (numa_place.h), so a partition's
 *     messages reach one worker, in offset order.
 *   - kafka_worker_pause()/kafka_worker_resume() may be called from any thread (one caller per
 *     worker at a time); they stop and restart fetching for all of that worker's partitions,
 *     including partitions assigned to it while it is paused. kafka_partition_pause() and
 *     kafka_partition_resume() hold one partition of a worker at an offset, from the worker's
 *     own thread, while its other partitions go on.
 *
 * Offsets: enable.auto.commit and enable.auto.offset.store are forced off. The engine commits
 * what it has sealed with kafka_commit() (asynchronous). On assignment the group's committed
 * offsets of the new partitions are read in one query and given to the start_offset hook, which
 * picks each partition's start (the manifest's next offset) or defers to the committed offset /
 * auto.offset.reset. On revocation the revoke hook runs first, while the partitions are still
 * assigned and their messages already delivered remain valid, so the engine can seal and
 * commit them; then the queues are un-forwarded and the partitions unassigned. Both rebalance
 * protocols are handled (EAGER: everything is revoked then reassigned; COOPERATIVE: only the
 * partitions that move).
 *
 * Defaults (the caller's properties override them): partition.assignment.strategy =
 * cooperative-sticky, auto.offset.reset = earliest. Managed (a caller value is an error):
 * bootstrap.servers, group.id, enable.auto.commit, enable.auto.offset.store.
 *
 * Bounds: KAFKA_WORKERS_MAX workers, KAFKA_PROPERTIES_MAX properties, partition ids below
 * KAFKA_PARTITIONS_MAX (a partition at or above it is logged as an error and left unassigned),
 * one topic.
 *
 * librdkafka stays inside engine/kafka.c: no type or header of it appears here, so the rest of
 * the engine depends on this contract only.
 */
#ifndef ENRICHD_KAFKA_H
#define ENRICHD_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "numa_place.h"
#include "source.h"

#define KAFKA_WORKERS_MAX PLACE_WORKERS_MAX
#define KAFKA_PROPERTIES_MAX 64
#define KAFKA_PARTITIONS_MAX 4096
/* Longest an assignment waits for the group's committed offsets of its partitions. */
#define KAFKA_COMMITTED_TIMEOUT_MS 10000
/* Longest kafka_commit_sync() waits for the group's answer. */
#define KAFKA_COMMIT_SYNC_TIMEOUT_MS 5000
/* Longest kafka_consumer_close() waits to leave the group (a callback under way may add one
 * KAFKA_COMMIT_SYNC_TIMEOUT_MS). */
#define KAFKA_CLOSE_TIMEOUT_MS 10000

/* Logical offsets (librdkafka's values). */
#define KAFKA_OFFSET_BEGINNING (-2)  /* the partition's first message */
#define KAFKA_OFFSET_END (-1)        /* after its last message */
#define KAFKA_OFFSET_STORED (-1000)  /* the group's committed offset */
#define KAFKA_OFFSET_INVALID (-1001) /* none */

struct config;
struct kafka_consumer;

/* A librdkafka configuration property, passed through as is. */
struct kafka_property {
	const char *key;
	const char *value;
};

/* Why partitions are being taken away (given to the revoke hook). */
enum kafka_revoke_reason {
	KAFKA_REVOKE_REBALANCE = 0, /* the group moves them: seal and commit what was read */
	KAFKA_REVOKE_LOST = 1,      /* the group already gave them away: commits will fail */
	KAFKA_REVOKE_CLOSE = 2,     /* kafka_consumer_close(): the workers have stopped */
};

/* A partition's next offset to read (the last sealed offset + 1), as committed to the group. */
struct kafka_offset {
	int32_t partition;
	int64_t offset;
};

/*
 * Hooks; any may be NULL. All but partition_eof run on the control thread, inside
 * kafka_consumer_poll() or kafka_consumer_close(); they may call kafka_commit() and the
 * worker functions, but not kafka_consumer_poll() or kafka_consumer_close(). Partition arrays
 * are valid only during the call.
 */
struct kafka_hooks {
	void *ctx;
	/*
	 * Before a newly assigned partition starts, with the group's committed offset of it
	 * (KAFKA_OFFSET_INVALID: none; read once for the whole assignment, waiting at most
	 * KAFKA_COMMITTED_TIMEOUT_MS): the offset to start at (>= 0), a logical offset
	 * (KAFKA_OFFSET_BEGINNING / _END), or KAFKA_OFFSET_INVALID to use the group's committed
	 * offset, else auto.offset.reset. Other values are logged and treated as
	 * KAFKA_OFFSET_INVALID.
	 */
	int64_t (*start_offset)(void *ctx, int32_t partition, int64_t committed);
	/* After partitions were assigned and forwarded (each to place_partition_worker()). */
	void (*assigned)(void *ctx, const int32_t *partitions, size_t count);
	/*
	 * Before partitions are un-forwarded and unassigned. When it returns, messages of these
	 * partitions that a worker has not yet taken are dropped (they are read again by the
	 * next owner); messages already taken stay valid until destroyed.
	 */
	void (*revoke)(void *ctx, const int32_t *partitions, size_t count,
		       enum kafka_revoke_reason reason);
	/* Result of a kafka_commit(), once per partition; err is 0 or an error code that
	 * kafka_err_str() names. */
	void (*commit_done)(void *ctx, int32_t partition, int64_t offset, int err);
	/*
	 * On worker `worker`'s thread, inside its source's poll: the worker has read everything
	 * in partition up to offset (only when enable.partition.eof=true).
	 */
	void (*partition_eof)(void *ctx, uint32_t worker, int32_t partition, int64_t offset);
};

struct kafka_config {
	const char *brokers;  /* bootstrap.servers, "host:port,..." */
	const char *topic;    /* the one topic subscribed to */
	const char *group_id; /* consumer group */
	const struct kafka_property *properties; /* applied after the defaults, in order */
	size_t property_count;
	uint32_t worker_count; /* 1..KAFKA_WORKERS_MAX */
	/* Partition -> worker; copied. NULL: a one-node plan (partition mod worker_count). */
	const struct place_plan *placement;
	struct kafka_hooks hooks;
};

/* Counters of one worker's queue; eventually consistent when read from another thread. */
struct kafka_worker_stats {
	uint64_t messages_total; /* data messages its source's polls returned */
	uint64_t eof_total;      /* partition EOF events */
	uint64_t errors_total;   /* error events (each logged) */
};

/*
 * Creates the consumer and subscribes it to cfg->topic; nothing is assigned until
 * kafka_consumer_poll() serves the first rebalance. cfg and the strings it points to are only
 * read during the call. Returns 0 with *out set, -EINVAL for a bad config (logged, naming the
 * field or the property key librdkafka rejected), -ENOMEM, or -EIO when librdkafka fails
 * (logged).
 */
int kafka_consumer_new(const struct kafka_config *cfg, struct kafka_consumer **out);

/*
 * What kafka_consumer_new would refuse in cfg's [kafka] section, without joining the group:
 * the same checks (brokers, topic and group id not empty, no property enrichd manages, the
 * worker count), every property set as the consumer sets it (librdkafka refuses an unknown key
 * or a bad value), and librdkafka's check of the whole configuration when a handle is made (no
 * broker is waited for). Returns 0, or -EINVAL after logging the first refusal with
 * librdkafka's message.
 */
int kafka_config_check(const struct config *cfg);

/*
 * The consumer's settings from the configuration's [kafka] section: brokers, topic, group id,
 * the property.* keys (through props, which must outlive *out; CONFIG_KAFKA_PROPS_MAX entries)
 * and cfg->cpu_count workers. No placement and no hooks: the caller adds them.
 */
void kafka_config_from(const struct config *cfg, struct kafka_property *props,
		       struct kafka_config *out);

/*
 * Control thread: serves rebalances, commit results, errors and librdkafka events for up to
 * timeout_ms (0: no wait). Returns 0, or -EIO once librdkafka has raised a fatal error
 * (logged; the consumer must be closed).
 */
int kafka_consumer_poll(struct kafka_consumer *c, int timeout_ms);

/*
 * Any thread: commits offsets[0..count) (next offsets to read) to the group,
 * asynchronously; the results arrive through hooks.commit_done during kafka_consumer_poll()
 * or kafka_consumer_close(). Returns 0, -EINVAL (a negative offset or partition; nothing sent),
 * or -EIO (librdkafka refused the request; logged). Allocates one partition list per call.
 */
int kafka_commit(struct kafka_consumer *c, const struct kafka_offset *offsets, size_t count);

/*
 * Any thread: kafka_commit() that waits for the group's answer (and so for every commit sent
 * before it), at most KAFKA_COMMIT_SYNC_TIMEOUT_MS. Used on revocation, before the partitions go
 * to another member, and on close. Returns 0, -EIO (logged) if the commit or any partition of it
 * failed, or -ETIMEDOUT (logged) when no answer came in time (a broker outage): a stop waits no
 * longer than that for the group.
 */
int kafka_commit_sync(struct kafka_consumer *c, const struct kafka_offset *offsets, size_t count);

/*
 * Any thread: the group's committed offset of partition (asks the coordinator, waiting up to
 * timeout_ms), or KAFKA_OFFSET_INVALID when there is none or the query failed (logged).
 */
int64_t kafka_committed(struct kafka_consumer *c, int32_t partition, int timeout_ms);

/*
 * Worker `worker`'s queue as its message source (source.h), taking up to batch_max messages
 * per poll (allocated here: one pointer per message). A poll waits up to its timeout for the
 * first message, then takes what else is already there without waiting; error and
 * partition-EOF events are taken out (logged and counted, EOF given to hooks.partition_eof).
 * Messages carry payload, partition, offset, timestamp and key; source_header() reads their
 * headers. Pause and resume are kafka_worker_pause/resume, a partition's
 * kafka_partition_pause/resume; wake is kafka_worker_wake. Its
 * fetches_ahead is set: librdkafka fetches ahead. One source per worker; destroy it (which
 * releases its last batch) before kafka_consumer_close(). Returns 0 and *out, -EINVAL for a
 * worker out of range or a zero batch_max, or -ENOMEM.
 */
int kafka_source_new(struct kafka_consumer *c, uint32_t worker, uint32_t batch_max,
		     struct source **out);

/* Any thread: makes a poll of worker's source blocked on its queue return now. */
void kafka_worker_wake(struct kafka_consumer *c, uint32_t worker);

/*
 * Any thread (one caller per worker at a time): stops fetching for every partition of worker,
 * now and for partitions assigned to it later, until kafka_worker_resume(). Messages already
 * in the worker's queue but not yet taken are dropped and fetched again on resume, from the
 * offset after the last message taken (or the partition's start offset when none was taken),
 * so nothing is lost or repeated. Idempotent. Returns 0, or -EIO (logged).
 * Allocates one partition list per call (a backpressure event, not a per-message path).
 */
int kafka_worker_pause(struct kafka_consumer *c, uint32_t worker);
int kafka_worker_resume(struct kafka_consumer *c, uint32_t worker);

/*
 * Worker `worker`'s thread, between its polls: holds one of its partitions at offset (a message
 * of its last batch): pauses it (rd_kafka_pause_partitions) and seeks it to offset, without
 * waiting for librdkafka's threads. Nothing of the partition reaches the worker's polls after
 * this call (what was fetched before is dropped), and after kafka_partition_resume() it is
 * fetched again from offset, so the worker's offset bookkeeping stays exact: the message at
 * offset and every later one are consumed after the resume, once. The worker's other partitions
 * go on. A held partition stays paused through kafka_worker_pause/resume; a revocation forgets
 * the hold (the next owner starts after what was sealed). Holding a held partition seeks it
 * again. Returns 0, -ENOENT when the partition is not assigned to this worker (revoked
 * meanwhile), -EINVAL, or -EIO (logged). Allocates a partition list or two per call.
 */
int kafka_partition_pause(struct kafka_consumer *c, uint32_t worker, int32_t partition,
			  int64_t offset);

/* The hold's end: the partition is fetched again from its hold's offset (unless the worker is
 * paused: then from kafka_worker_resume). 0 also for a partition not held or not this worker's
 * any more; -EINVAL. */
int kafka_partition_resume(struct kafka_consumer *c, uint32_t worker, int32_t partition);

/* Any thread: worker's counters. */
void kafka_worker_stats(const struct kafka_consumer *c, uint32_t worker,
			struct kafka_worker_stats *out);

/*
 * Any thread: errors of the consumer itself since it was made, each logged: librdkafka's error
 * events (a broker or the coordinator unreachable, a failed receive, ...), what arrives on the
 * consumer's own queue, and failed commits, committed-offset queries, assignments, pauses and
 * closes; errors on a worker's queue are in kafka_worker_stats instead.
 */
uint64_t kafka_client_errors(const struct kafka_consumer *c);

/* Any thread: the worker partition is forwarded to, or -ENOENT when it is not assigned here. */
int kafka_partition_worker(struct kafka_consumer *c, int32_t partition);

/* Any thread: how many partitions are assigned to this consumer now. */
uint32_t kafka_assigned_count(struct kafka_consumer *c);

/* What the engine reports of an assigned partition (kafka_partition_state). */
struct kafka_partition_state {
	int32_t partition;
	uint32_t worker;    /* the worker its queue is forwarded to */
	int64_t committed;  /* the group's committed offset as last known (read at assignment, then
			       this consumer's commits); -1: none */
	int64_t low, high;  /* librdkafka's cached watermarks (no broker round trip); -1: none */
};

/*
 * Any thread: the state of partition when it is assigned here. Returns 0 and *out, or -ENOENT
 * (not assigned). Takes the assignment lock for a few nanoseconds; no allocation.
 */
int kafka_partition_state(struct kafka_consumer *c, int32_t partition,
			  struct kafka_partition_state *out);

/* The name of an error code of hooks.commit_done. Static storage. */
const char *kafka_err_str(int err);

/* The version of librdkafka in use ("2.3.0"). */
const char *kafka_version_str(void);

/* Any thread: the rebalance protocol in use: "NONE" before the first join, then "EAGER" or
 * "COOPERATIVE". */
const char *kafka_rebalance_protocol(struct kafka_consumer *c);

/*
 * Any thread: the effective value of a librdkafka property of the consumer, into value (cap
 * bytes, NUL-terminated). Returns 0, -ENOENT for an unknown property, or -ENOSPC when value is
 * too small.
 */
int kafka_property_get(struct kafka_consumer *c, const char *key, char *value, size_t cap);

/* ---- changelog: a whole topic, read by one thread without a consumer group ---- */

/*
 * A changelog consumer reads every partition of one (compacted) topic from the offsets it is
 * given, with librdkafka's partition consumer into one queue: each enrichd instance reads the
 * whole changelog, so there is no group, no commit and no rebalance; the caller records how
 * far it applied the topic itself. One thread uses it.
 */
struct kafka_changelog;

struct kafka_changelog_config {
	const char *brokers;
	const char *topic;
	const struct kafka_property *properties; /* librdkafka consumer properties; may be 0 */
	size_t property_count;
};

/* One message of the changelog, valid until the next poll. value NULL: a tombstone (delete). */
struct kafka_changelog_msg {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	int32_t partition;
	int64_t offset;
	int64_t timestamp_ms; /* the message's timestamp, -1: none */
};

/* Creates the consumer (no broker is waited for). Returns 0 and *out, -EINVAL (logged), -ENOMEM. */
int kafka_changelog_new(const struct kafka_changelog_config *cfg, struct kafka_changelog **out);

/* The topic's partition count, from the brokers' metadata (waits up to timeout_ms), or -errno. */
int kafka_changelog_partitions(struct kafka_changelog *c, int timeout_ms);

/*
 * Reads partitions [0, count) from offsets[p] (>= 0, or KAFKA_OFFSET_BEGINNING). count <=
 * KAFKA_PARTITIONS_MAX. Returns 0 or -EIO (logged).
 */
int kafka_changelog_assign(struct kafka_changelog *c, const int64_t *offsets, uint32_t count);

/*
 * Up to max messages into out, waiting up to timeout_ms for the first; error events are logged
 * and skipped. Releases the previous poll's messages. Returns the count or -EIO.
 */
int kafka_changelog_poll(struct kafka_changelog *c, struct kafka_changelog_msg *out, uint32_t max,
			 int timeout_ms);

/*
 * partition's low and high watermarks: asked of the broker when timeout_ms > 0 (a catch-up's
 * target), else librdkafka's cached values (-1 when not known yet). Returns 0 or -EIO.
 */
int kafka_changelog_watermarks(struct kafka_changelog *c, int32_t partition, int64_t *low,
			       int64_t *high, int timeout_ms);

/* The cluster's id into out (cap bytes; "" when unknown within timeout_ms). */
void kafka_changelog_cluster_id(struct kafka_changelog *c, char *out, size_t cap, int timeout_ms);

/* Releases the messages of the last poll and closes the consumer. NULL is a no-op. */
void kafka_changelog_free(struct kafka_changelog *c);

/*
 * Control thread, after every worker source is destroyed: leaves the group (the revoke hook runs
 * with KAFKA_REVOKE_CLOSE; pending commits are sent and their results delivered), drops the
 * partition and worker queues, then destroys the librdkafka handle and c. Bounded: a close the
 * group does not answer within KAFKA_CLOSE_TIMEOUT_MS (a broker outage) is abandoned, logged,
 * and the handle and c are left to the process's exit, since librdkafka's destroy would wait for
 * the coordinator too; the group evicts the member after session.timeout.ms. For a process about
 * to exit. Returns 0, or -EIO when leaving the group failed (logged; c is freed anyway). c may be
 * NULL.
 */
int kafka_consumer_close(struct kafka_consumer *c);

#endif
