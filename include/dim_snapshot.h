/*
 * dim_snapshot: a live dimension's table written out with how far its sources had been read,
 * so a restart loads it and reads only what came after, instead of the whole changelog.
 *
 * File: <dir>/<dimension>.snapshot, written as <name>.tmp, fsynced, renamed into place and its
 * directory fsynced, so a crash leaves the old snapshot or the new one, whole. It holds a text
 * header, then the rows as Native blocks (the key, then the attributes: LowCardinality as
 * String, each type Nullable where the attribute is), which the dimension loader reads as it
 * reads any Native source:
 *
 *   enrichd-dimension-snapshot 1
 *   dimension <name>
 *   created_ms <wall clock>
 *   base none | file <dev> <ino> <size> <mtime_ns> | postgresql <set> <num> <mark text>
 *   changelog <topic> <partitions> <next offset of partition 0> <of 1> ...
 *   cluster <the Kafka cluster's id, or ->
 *   end
 *
 * The header says what the rows reflect: the base as it was loaded (a file's identity, or the
 * PostgreSQL update_field mark) and the changelog's next offset per partition, all taken
 * between two batches by the one writer of the table.
 */
#ifndef ENRICHD_DIM_SNAPSHOT_H
#define ENRICHD_DIM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dim.h"
#include "dim_pg.h"

#define DIM_SNAPSHOT_PARTITIONS_MAX 4096
#define DIM_SNAPSHOT_HEADER_MAX ((size_t)1 << 20)

enum dim_snapshot_base {
	DIM_SNAPSHOT_BASE_NONE = 0,
	DIM_SNAPSHOT_BASE_FILE,
	DIM_SNAPSHOT_BASE_POSTGRESQL,
};

struct dim_snapshot_meta {
	char dimension[DIM_NAME_MAX];
	int64_t created_ms;
	enum dim_snapshot_base base;
	uint64_t dev, ino;          /* a file */
	int64_t size, mtime_ns;
	struct dim_pg_mark mark;    /* PostgreSQL */
	char topic[256];
	char cluster[128];          /* "" when unknown */
	uint32_t partitions;
	int64_t offsets[DIM_SNAPSHOT_PARTITIONS_MAX]; /* next offset to read, per partition */
};

/*
 * Writes d's rows (spec: the table's configured columns) and meta to <dir>/<meta->dimension>
 * .snapshot. Returns 0 or -errno (logged with the path); the old snapshot stays on failure.
 * Reads d only: call it on the table's one writer, between batches.
 */
int dim_snapshot_write(const char *dir, const struct dim_spec *spec, const struct dim *d,
		       const struct dim_snapshot_meta *meta);

/*
 * Loads <dir>/<dimension>.snapshot: its header into *meta and its rows into a new table for
 * spec (dim_load's rules; spec's path and data are not used). Returns 0, -ENOENT when there
 * is none, or -EINVAL / -errno for one that cannot be read (logged).
 */
int dim_snapshot_load(const char *dir, const char *dimension, const struct dim_spec *spec,
		      struct dim_snapshot_meta *meta, struct dim **out,
		      struct dim_load_stats *stats);

#endif
