/*
 * memplan: the most memory a configuration's settings can make enrichd take, worked out before
 * anything is allocated, so that `block_rows`, `open_segments`, `inflight_bytes`, `cpus` and the
 * Kafka queue properties cannot together ask for more than the machine has.
 *
 * The figure follows the code that allocates, term by term (each is the resident worst case: the
 * blocks and the segment writer's pool are touched in full at start):
 *   per worker  blocks       open_segments Native blocks of block_rows rows of the output schema
 *                            (native_block_init: fixed-width columns, String columns of
 *                            max(128 x block_rows, WORKER_BLOCK_VAR_BYTES_MIN) bytes each,
 *                            LowCardinality indexes and the external dictionary's slots)
 *               pool         the segment writer's buffer pool: inflight_bytes, at least two
 *                            encoded blocks (worker_state_init)
 *               decode       the decode scratch (2 x WORKER_INPUT_BUF_BYTES) and the batch arrays
 *               bookkeeping  dead-letter and manifest buffers, epoch, partition and segment state
 *   process     source       the larger of Kafka (queued.max.messages.kbytes per worker queue,
 *                            one fetch.max.bytes response per listed broker) and --input (a read
 *                            buffer, or a mapped window of the file, per worker)
 *               base         code, libraries, thread stacks, the control thread and metrics
 *               updater      the batch of the thread that applies changes to live dimensions
 *                            (updater_memory_bytes), when a dimension follows changes
 * Dimension tables are not in it: their size follows the data.
 *
 * Bound: a LowCardinality attribute's dictionary is counted at MEMPLAN_LC_VALUES distinct values
 * (the worker keeps room for four times the loaded dictionary); each value more costs
 * 4 x 12 bytes per open block.
 */
#ifndef ENRICHD_MEMPLAN_H
#define ENRICHD_MEMPLAN_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define MEMPLAN_LC_VALUES 65536u
/* Code, libraries, stacks and the control side of an idle enrichd, measured with room to spare. */
#define MEMPLAN_BASE_BYTES (UINT64_C(64) << 20)
/* Part of the machine's memory `[workers] memory_limit = auto` allows, in quarters. */
#define MEMPLAN_AUTO_QUARTERS 3u

struct memplan {
	uint32_t workers;
	uint64_t block;       /* one block */
	uint64_t blocks;      /* per worker */
	uint64_t pool;        /* per worker */
	uint64_t decode;      /* per worker */
	uint64_t bookkeeping; /* per worker */
	uint64_t kafka;       /* process, when reading Kafka */
	uint64_t input;       /* process, when reading --input */
	uint64_t base;        /* process */
	uint64_t updater;     /* process, with a live dimension */
	uint64_t total;       /* workers x (blocks + pool + decode + bookkeeping) + max(kafka, input)
			       * + base + updater */
};

/*
 * Works out cfg's figure (cfg resolved: cpu_count set). Returns 0, or -EINVAL when a column type
 * of the output schema does not parse (the schema check reports it). No allocation but a
 * temporary schema.
 */
int memplan_compute(const struct config *cfg, struct memplan *out);

/*
 * The number of the first line "<name>: <number> kB" of a /proc file (/proc/meminfo,
 * /proc/self/status, /proc/self/smaps_rollup), in kB; 0 when the file or the line is absent.
 * Reads the file once, through a 256-byte line buffer.
 */
uint64_t memplan_proc_kb(const char *file, const char *name);

/*
 * The memory enrichd may count on: the smaller of /proc/meminfo's MemTotal and the cgroup's
 * memory.max; 0 when neither can be read.
 */
uint64_t memplan_memory_total(void);

/*
 * What the dimensions are expected to take, for `memory_limit = auto`: the size of each source
 * file (a missing one counts 0: loading reports it), once per NUMA replica.
 */
uint64_t memplan_dims_expected(const struct config *cfg);

/* Prints the figure and its parts, one line each, for `enrichd --check`. */
void memplan_print(const struct memplan *m, const struct config *cfg, FILE *out);

#endif
