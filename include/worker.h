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
#include "epoch.h"
#include "source.h"
#include "worker_stats.h"

struct engine;

/* Events decoded, probed and appended together (the batch is cut into chunks of this size). */
#define WORKER_CHUNK_EVENTS 256
/* Least bytes of a block's String column: the longest value a row may carry (8 MiB). */
#define WORKER_BLOCK_VAR_BYTES_MIN ((size_t)8 << 20)

struct worker {
	unsigned index;
	int cpu;
	int node;
	unsigned replica;            /* its dimension replica (engine.dimsets index) */
	struct engine *engine;
	struct source *source;       /* its messages */
	struct epoch_sink sealed;    /* where the offsets of its published epochs go */
	pthread_t thread;
	bool started;
	int exit_code;               /* 0, or -errno of the failure that stopped it */
	_Atomic bool done;           /* the thread finished its last epoch */
	_Atomic uint64_t flush_ack;  /* last engine flush request it completed */
	struct worker_stats stats;
	struct worker_state *state;  /* private to the thread */
};

/* Starts the worker's thread (pinned to w->cpu); fields above index..input must be set. */
int worker_start(struct worker *w);

/* Waits for the thread to end. Returns its exit code. */
int worker_join(struct worker *w);

#endif
