/*
 * worker: one pinned thread of the event path.
 *
 * Per batch: take messages from its source (source.h), decode them (JSON, or Avro whose writer
 * schema the registry gives: a message whose schema id is not known yet holds its partition at
 * that message, source_pause_partition, until the registry answers), hash the join keys,
 * prefetch, probe every dimension, append the rows to the Native block of the event's (date,
 * hour), and hand full blocks to the segment writer. Its epoch (epoch.h) decides when what it
 * took is sealed, published and handed to env.sealed for commit.
 *
 * A worker knows only its environment (struct worker_env): its configuration, its message
 * source, its dimension-set slot, the stop and flush flags, and where sealed offsets go. It
 * knows nothing of the process that runs it.
 *
 * All memory is allocated in the worker's thread before the first message (so it lands on the
 * worker's NUMA node); the batch path allocates nothing, takes no lock and makes no system call
 * besides the source's poll and io_uring submission.
 */
#ifndef ENRICHD_WORKER_H
#define ENRICHD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dimpub.h"
#include "epoch.h"
#include "registry.h"
#include "source.h"
#include "worker_stats.h"

/* Events decoded, probed and appended together (the batch is cut into chunks of this size). */
#define WORKER_CHUNK_EVENTS 256
/* Message headers one run of rows may carry into _headers.name/_headers.value (a run with more
 * is halved; a single message with more is dead-lettered, too_large). */
#define WORKER_HEADERS_MAX 65536u
/* Least bytes of a block's String column: the longest value a row may carry (8 MiB). */
#define WORKER_BLOCK_VAR_BYTES_MIN ((size_t)8 << 20)

/* What a worker is given; everything it points to outlives the worker. */
struct worker_env {
	uint32_t index;                   /* the w<k> of its files and logs */
	int cpu;                          /* pinned to it; -1: not pinned */
	const struct config *cfg;         /* [workers], [output], [dead_letter], dimensions */
	struct source *source;            /* its messages; it owns the source's thread side */
	const struct dimpub *dims;        /* the published dimension sets ... */
	uint32_t dims_slot;               /* ... and the slot (replica) it joins with */
	const _Atomic bool *stop;         /* set: stop taking messages, close the epoch, end */
	const _Atomic uint64_t *flush_req; /* moved past flush_ack: close the epoch now */
	struct epoch_sink sealed;         /* the offsets of its published epochs */
	struct registry *registry;        /* format = avro-confluent: the writer schemas; else NULL */
};

struct worker {
	struct worker_env env;       /* set before worker_start */
	pthread_t thread;
	bool started;
	int exit_code;               /* 0, or -errno of the failure that stopped it (once done) */
	_Atomic bool done;           /* the thread finished its last epoch */
	_Atomic uint64_t flush_ack;  /* the last *env.flush_req it completed */
	struct worker_stats stats;
	struct worker_state *state;  /* private to the thread */
};

/*
 * Starts the worker's thread on w->env (pinned to env.cpu). The thread registers as a reader of
 * env.dims, runs until the source is finished, *env.stop is set or an error stops it, then sets
 * exit_code and done. Returns 0 or -errno (logged).
 */
int worker_start(struct worker *w);

/* Waits for the thread to end. Returns its exit code. */
int worker_join(struct worker *w);

#endif
