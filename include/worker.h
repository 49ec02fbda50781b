/*
 * worker: one pinned thread of the event path.
 *
 * Per batch: take messages (its Kafka queue, or its share of a JSON-lines input), decode them,
 * hash the join keys, prefetch, probe every dimension, append the rows to the Native block of the
 * event's (date, hour), and hand full blocks to the segment writer. Every segment_age_ms (and on
 * stop, revocation or request) the worker closes an epoch: it encodes every block, seals every
 * open segment, syncs its dead-letter file and only then publishes, per partition, the next offset
 * whose message is not yet sealed: what the control thread commits.
 *
 * All memory is allocated in worker_start's thread before the first message (so it lands on the
 * worker's NUMA node); the batch path allocates nothing, takes no lock and makes no system call
 * besides the Kafka poll and io_uring submission.
 */
#ifndef ENRICHD_WORKER_H
#define ENRICHD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

struct engine;

/* Partitions tracked per worker (offset progress); ids at or above it are dead-lettered. */
#define WORKER_PARTITIONS_MAX 4096
/* Segments one epoch may seal (a bound on a manifest record). */
#define WORKER_EPOCH_SEGMENTS_MAX 1024
/* Events decoded, probed and appended together (the batch is cut into chunks of this size). */
#define WORKER_CHUNK_EVENTS 256
/* Least bytes of a block's String column: the longest value a row may carry (8 MiB). */
#define WORKER_BLOCK_VAR_BYTES_MIN ((size_t)8 << 20)
/* Bounds of the JSON-lines input reader: one read buffer, longest line it keeps whole. */
#define WORKER_INPUT_BUF_BYTES (16u << 20)

/* Event-to-seal latency histogram: upper bounds (ms) of the buckets; a last bucket is +Inf. */
#define WORKER_LATENCY_BUCKETS 12
extern const uint32_t worker_latency_bounds_ms[WORKER_LATENCY_BUCKETS - 1];

/* Time spent per stage, nanoseconds, since start. */
enum worker_stage {
	WORKER_STAGE_POLL = 0,
	WORKER_STAGE_DECODE,
	WORKER_STAGE_PROBE,
	WORKER_STAGE_APPEND,
	WORKER_STAGE_ENCODE,
	WORKER_STAGE_WRITE,
	WORKER_STAGE_SEAL,
	WORKER_STAGE_COUNT,
};

/* Counters a worker updates and any thread may read (relaxed atomics). */
struct worker_stats {
	_Atomic uint64_t events_in;      /* messages taken */
	_Atomic uint64_t rows_out;       /* rows appended to blocks */
	_Atomic uint64_t rows_sealed;    /* rows in sealed segments */
	_Atomic uint64_t dead_letters;   /* messages sent to the dead-letter file */
	_Atomic uint64_t decode_errors[EVENT_ERR_COUNT];
	_Atomic uint64_t lookups[CONFIG_DIMS_MAX];
	_Atomic uint64_t misses[CONFIG_DIMS_MAX];
	_Atomic uint64_t blocks;         /* Native blocks written */
	_Atomic uint64_t segments_sealed;
	_Atomic uint64_t bytes_written;
	_Atomic uint64_t epochs;
	_Atomic uint64_t stall_ns_max;   /* longest single epoch close (seal + sync) */
	_Atomic uint64_t reload_stall_ns_max; /* longest switch to a reloaded dimension set */
	_Atomic uint64_t stage_ns[WORKER_STAGE_COUNT];
	_Atomic uint64_t loop_ns;        /* wall time of the event loop (setup, teardown excluded) */
	/*
	 * Event-to-seal latency per row: from the Kafka message timestamp (or, without one, the
	 * time the worker took the message) to the seal of its segment. Buckets are not cumulative.
	 */
	_Atomic uint64_t latency_bucket[WORKER_LATENCY_BUCKETS];
	_Atomic uint64_t latency_count;
	_Atomic uint64_t latency_ms_sum;
	_Atomic uint64_t paused;          /* 1 while its partitions are paused (backpressure) */
	_Atomic uint64_t pauses;          /* times it paused */
	_Atomic uint64_t inflight_writes; /* gauge: blocks handed to the disk, not yet written */
	_Atomic uint64_t inflight_bytes;  /* gauge */
	_Atomic uint64_t write_errors;    /* failed writes (ENOSPC, EIO, ...), each retried */
};

/* Where a worker reads from when there is no Kafka (--input). */
struct worker_input {
	int fd;              /* -1: Kafka */
	const char *name;    /* the _topic of its rows */
	int64_t begin, end;  /* byte range of the file to read (end < 0: to EOF, stdin) */
	int64_t first_line;  /* line index of the first line at begin (the _offset of its row) */
};

struct worker {
	unsigned index;
	int cpu;
	int node;
	unsigned replica;            /* its dimension replica (engine.dimsets index) */
	struct engine *engine;
	struct worker_input input;
	pthread_t thread;
	bool started;
	int exit_code;               /* 0, or -errno of the failure that stopped it */
	_Atomic bool done;           /* the thread finished its last epoch */
	_Atomic uint64_t flush_ack;  /* last engine flush request it completed */
	_Atomic int64_t sealed_next[WORKER_PARTITIONS_MAX]; /* -1: nothing sealed yet */
	_Atomic int32_t partition_hi;                        /* highest partition seen + 1 */
	struct worker_stats stats;
	struct worker_state *state;  /* private to the thread */
};

/* Starts the worker's thread (pinned to w->cpu); fields above index..input must be set. */
int worker_start(struct worker *w);

/* Waits for the thread to end. Returns its exit code. */
int worker_join(struct worker *w);

#endif
