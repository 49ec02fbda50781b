/*
 * updater: the one thread that writes to live dimension tables while workers probe them.
 *
 * A dimension is live when its rows change in its source and enrichd follows them: a
 * PostgreSQL source with update_field (read every update_interval, dim_pg.h), and a changelog
 * topic (changelog.h, kafka.h's changelog consumer): every partition read from the beginning
 * up to the high watermarks it had when first asked (the catch-up, which the engine waits for
 * before the workers start: updater_caught_up), then followed; a malformed change goes to the
 * dimension's changelog dead-letter file with its reason and its offset advances. The updater
 * reads the changes, batches them (at most UPDATER_BATCH_MAX changes or UPDATER_BATCH_BYTES of
 * their text), applies each batch to the table in use of every replica in place (dim_live.h)
 * and publishes it (dim_changes_publish): a worker's next lookup sees the new version, and a
 * row's attributes always come from one version. A change the table has no room for
 * (-ENOSPC) is applied by a rebuild of that table with the rest of the batch (dim_rebuild.h)
 * and a swap of the replica's set (dimpub.h), as a reload swaps. A change whose key or value
 * does not convert is logged (the first of an episode) and counted, and left out.
 *
 * It is one of the two writers of the published sets, with the engine's loader: both hold
 * publish_lock from reading the set in use to publishing the next one, so neither undoes the
 * other's swap; a full reload of a live table (SIGHUP, reload_interval) builds a new table from
 * the source and the updater goes on from the mark that load took. Workers never wait for it.
 *
 * Logs: one line per dimension at most every UPDATER_LOG_INTERVAL_MS while changes flow (no
 * line for an empty read at info), and one when reads start failing and when they recover.
 */
#ifndef ENRICHD_UPDATER_H
#define ENRICHD_UPDATER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dimpub.h"

/*
 * A batch: at most UPDATER_BATCH_MAX changes, their text in an arena of UPDATER_BATCH_BYTES.
 * With the value slots and the changes' records, the updater allocates updater_memory_bytes()
 * (about 86 MiB) at start when a dimension is live (memplan.h counts it).
 */
#define UPDATER_BATCH_MAX 65536
#define UPDATER_BATCH_BYTES ((size_t)64 << 20)
#define UPDATER_LOG_INTERVAL_MS 10000
/* Bounds of the read-to-visible histogram, in milliseconds (then +Inf). */
#define UPDATER_VISIBLE_BUCKETS 9
extern const uint32_t updater_visible_bounds_ms[UPDATER_VISIBLE_BUCKETS - 1];

/* What a live dimension has done; written by the updater, read by metrics (relaxed). */
struct updater_dim_stats {
	_Atomic bool live;                /* the dimension follows changes */
	_Atomic uint64_t upserts;         /* changes applied that added or replaced a row */
	_Atomic uint64_t deletes;         /* changes applied that removed a key */
	_Atomic uint64_t bad;             /* changes left out: a key or value that does not convert */
	_Atomic uint64_t rebuilds;        /* batches applied by a rebuild and swap */
	_Atomic uint64_t reads;           /* reads of the source's changes */
	_Atomic uint64_t read_failures;   /* reads that failed (each retried at the next interval) */
	_Atomic int64_t last_change_ms;   /* wall clock when the newest change became visible */
	_Atomic int64_t last_read_ms;     /* wall clock of the last successful read */
	_Atomic uint64_t visible[UPDATER_VISIBLE_BUCKETS]; /* changes by read-to-visible time */
	_Atomic uint64_t visible_ms_sum;
	/* A changelog: */
	_Atomic bool changelog;            /* the dimension follows one */
	_Atomic bool caught_up;            /* read up to the watermarks it had at start */
	_Atomic uint64_t lag_messages;     /* high watermarks less the next offsets to read */
	_Atomic uint64_t lag_ms;           /* lag_messages > 0: now less the newest read message's
					    * timestamp; else 0 */
};

/* What the updater works on; everything it points to outlives updater_stop(). */
struct updater_env {
	const struct config *cfg;
	struct dimpub *dims;             /* the published sets, one per replica */
	uint32_t replica_count;
	const int *replica_node;         /* NUMA node of each replica's memory, -1: none */
	pthread_mutex_t *publish_lock;   /* held by every writer of dims */
	const _Atomic bool *stop;        /* the engine's: reads end early once it is set */
	struct updater_dim_stats *stats; /* [CONFIG_DIMS_MAX], zeroed by the caller */
};

struct updater;

/*
 * Starts the thread when a dimension is live; *out is NULL when none is. Returns 0, or -errno
 * (-ENOMEM, or the thread's creation).
 */
int updater_start(const struct updater_env *env, struct updater **out);

/* The memory the updater allocates at start for its batch (a configuration with a live
 * dimension); the live tables' own room is part of the tables. */
uint64_t updater_memory_bytes(void);

/* True when every changelog has been read up to its watermarks at start (or there is none). */
bool updater_caught_up(const struct updater *u);

/* Ends the thread (a read in flight is cancelled) and frees u. NULL is a no-op. */
void updater_stop(struct updater *u);

#endif
