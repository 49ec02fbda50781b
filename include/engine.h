/*
 * engine: the process. Loads the dimensions, starts one pinned worker per configured CPU, owns
 * the Kafka consumer (rebalances, offset commits), the signals (TERM/INT: drain and exit, HUP:
 * reload the dimensions) and the reload thread.
 *
 * Threads: the control thread (the caller of engine_run), the workers, and a loader thread
 * while a reload runs. The shared state below is written by the control thread or the loader
 * and read by the workers through atomics; workers never wait for either.
 */
#ifndef ENRICHD_ENGINE_H
#define ENRICHD_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dimpub.h"
#include "numa_place.h"
#include "worker.h"

struct kafka_consumer;

struct engine {
	struct config cfg;
	struct place_plan plan;
	struct kafka_consumer *consumer; /* NULL when reading --input */
	const char *input_path;          /* --input, or NULL */
	uint32_t worker_count;
	struct worker *workers;

	/* The dimension set in use, per replica (worker k reads slot workers[k].replica). */
	struct dimpub dims;
	uint32_t replica_count;     /* 1, or (numa = replicate) one per node with workers */
	int replica_node[PLACE_NODES_MAX]; /* NUMA node a replica's memory is bound to (-1: none) */

	_Atomic bool stop;          /* stop fetching, close the last epoch, exit */
	_Atomic uint64_t flush_req; /* workers close an epoch when this moves past their ack */
	_Atomic uint64_t reloads;
	_Atomic uint64_t reload_failures;
	_Atomic int64_t reload_last_success_ms;  /* wall clock; 0: never */
	_Atomic uint64_t reload_last_duration_ms;
	int64_t started_ms;

	/* Gauges of the dimension set in use, per configured dimension (set by the loader). */
	_Atomic uint64_t dim_rows[CONFIG_DIMS_MAX];
	_Atomic uint64_t dim_bytes[CONFIG_DIMS_MAX];
	_Atomic int dim_huge_mode[CONFIG_DIMS_MAX];   /* enum huge_mode */

	/* Next offset per partition of the topic as the manifests gave it at start (-1: none). */
	int64_t manifest_next[EPOCH_PARTITIONS_MAX];
	/* Next offset per partition the workers have sealed since start (-1: none). */
	_Atomic int64_t sealed_next[EPOCH_PARTITIONS_MAX];

	_Atomic bool ready;   /* dimensions loaded, workers running (and partitions assigned) */
	_Atomic bool failed;  /* a worker stopped on an error */
};

/* Runs until TERM/INT (or, with input_path, until the input is consumed). Returns 0 or -errno. */
int engine_run(const struct config *cfg, const char *input_path);

/*
 * Validates what the configuration alone can tell (topology, placement, attribute types) and
 * prints the plan `enrichd --check` shows. Returns 0 or -errno (the reason on stderr).
 */
int engine_check(const struct config *cfg, FILE *out);

#endif
