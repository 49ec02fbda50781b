/*
 * engine: the process. Loads the dimensions, starts one pinned worker per configured CPU, owns
 * the Kafka consumer (rebalances, offset commits), the signals (TERM/INT: drain and exit, HUP:
 * reload the dimensions), the reload thread and the metrics endpoint.
 *
 * Each worker gets only its narrow environment (worker.h); the metrics endpoint a view
 * (metrics.h). What they share lives in the engine, which nobody else sees.
 */
#ifndef ENRICHD_ENGINE_H
#define ENRICHD_ENGINE_H

#include <stdio.h>

#include "config.h"

/*
 * Runs until TERM/INT (or, with input_path, until the input is consumed: a JSON-lines file, or
 * "-" for stdin, instead of Kafka). Returns 0 after a clean drain (or a stop during the first
 * dimension load: nothing was consumed), or -errno: setup failed, or a worker stopped on an error
 * (a stop while the disk is full included: its last epoch was not sealed). A stop ends it within
 * a bound whatever a dimension source does (a load is cancelled, and one that does not give up
 * within 2 s is left behind) and whatever the brokers do (kafka.h: the close is bounded).
 */
int engine_run(const struct config *cfg, const char *input_path);

/*
 * Validates what the configuration alone can tell (topology, placement, attribute types) and
 * prints the plan `enrichd --check` shows. Returns 0 or -errno (the reason on stderr).
 */
int engine_check(const struct config *cfg, FILE *out);

#endif
