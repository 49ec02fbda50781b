/*
 * dimset: the set of dimension tables the workers join with, one per [dimension] section, and
 * the output schema that follows from it.
 *
 * A set is immutable once loaded. The engine publishes the current set through one pointer
 * (RCU, QSBR flavour): workers read it inside their batch without locks and report a quiescent
 * state between batches; a reload builds a new set off the hot path, swaps the pointer and frees
 * the old set after every worker has passed a quiescent point. Tables whose source did not change
 * are shared between the old and the new set (reference-counted).
 */
#ifndef ENRICHD_DIMSET_H
#define ENRICHD_DIMSET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "dim.h"
#include "dim_pg.h"
#include "dim_snapshot.h"
#include "native.h"

/* Most output columns: the declared fields and the catch-all, the attributes, the metadata. */
#define DIMSET_COLUMNS_MAX (SCHEMA_FIELDS_MAX + 1 + CONFIG_DIMS_MAX * CONFIG_ATTRS_MAX + \
			    SCHEMA_META_MAX)

/* A loaded table, shared by every set that holds it. */
struct dimset_table {
	struct dim *dim;
	_Atomic unsigned refs; /* sets holding it: the writers (loader, updater) add, retiring
				* drops */
	dev_t dev;           /* identity of the source when loaded, to see a change */
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	struct dim_load_stats stats;
	struct dim_pg_mark mark; /* PostgreSQL with update_field: how far its changes are in */
	int64_t loaded_ms;       /* wall clock of its full load (a rebuild keeps it) */
	struct dim_snapshot_meta *snapshot; /* loaded from a snapshot: where its changelog
					     * resumes (else NULL) */
};

struct dimset_dim {
	const struct config_dim *cfg; /* the engine's configuration; outlives every set */
	struct dimset_table *table;
	const struct dim_col *cols[CONFIG_ATTRS_MAX];
	bool out_nullable[CONFIG_ATTRS_MAX];  /* the output column is Nullable */
	uint32_t first_column;                /* index of its first attribute in the output */
};

struct dimset {
	uint64_t generation; /* 1 for the first set, +1 per successful reload */
	size_t count;
	struct dimset_dim dims[CONFIG_DIMS_MAX];
};

/*
 * Loads every dimension of cfg. Tables of prev (may be NULL) whose source file is unchanged
 * (device, inode, size, mtime) are shared instead of loaded again; a PostgreSQL source is
 * always loaded again (dim_pg.h). Returns 0 and *out, or the first load error (logged with the
 * source, line or row, and reason); on error nothing new is kept and prev is untouched.
 * *reloaded counts the tables actually loaded (may be NULL). numa_node >= 0 binds the tables'
 * memory to that node (a replica); -1 leaves placement to the kernel. cancel (may be NULL),
 * once true, ends the load with -ECANCELED (dim_spec.cancel; a database load also cancels its
 * statements in flight).
 */
int dimset_load(const struct config *cfg, const struct dimset *prev, unsigned threads,
		int numa_node, const _Atomic bool *cancel, struct dimset **out, unsigned *reloaded);

/*
 * The spec of cd's table (attrs: CONFIG_ATTRS_MAX entries the spec points to). Returns 0, or
 * -EINVAL for an attribute type that is not a dimension type (logged).
 */
int dimset_dim_spec(const struct config_dim *cd, unsigned threads, int numa_node,
		    struct dim_attr_spec *attrs, struct dim_spec *out);

/* A copy of set holding the same tables (a reference each). Returns 0 and *out, or -ENOMEM. */
int dimset_clone(const struct dimset *set, struct dimset **out);

/* Makes set (not published yet) hold table for dimension index, dropping the one it held. */
void dimset_share_table(struct dimset *set, size_t index, struct dimset_table *table);

/*
 * A copy of set with dimension index's table replaced by table (whose reference the new set
 * takes); the other tables are shared. For a writer (the loader, the updater) before it
 * publishes. Returns 0 and *out, or -ENOMEM.
 */
int dimset_replace(const struct dimset *set, size_t index, struct dimset_table *table,
		   struct dimset **out);

/*
 * Loads dimension index's table from its base (file, PostgreSQL, or empty for a changelog-only
 * one), never from a snapshot: for a writer whose snapshot proved unusable. Returns 0 and *out
 * (one reference), or the load's error (logged).
 */
int dimset_table_base(const struct config *cfg, size_t index, int numa_node,
		      const _Atomic bool *stop, struct dimset_table **out);

/* Drops a reference to t; the last one frees it. NULL is a no-op. */
void dimset_table_put(struct dimset_table *t);

/* Releases the set; tables no other set holds are freed. NULL is a no-op. */
void dimset_free(struct dimset *set);

/* Total bytes of the set's tables. */
uint64_t dimset_bytes(const struct dimset *set);

/*
 * The output schema: names and ClickHouse types of every output column, in order: the declared
 * event fields ([event]), the catch-all column if any, each dimension's attributes, the metadata
 * columns. Strings are written into names/types (arrays of DIMSET_COLUMNS_MAX entries of
 * NATIVE_TYPE_NAME_MAX bytes, caller-owned); specs[i] point into them. Attribute columns of
 * LowCardinality and _topic get external dictionaries (_topic's holds the worker's one topic);
 * declared LowCardinality fields fill the block's own. Returns the column count. Depends only on
 * cfg, so a reload never changes it.
 */
uint32_t dimset_schema(const struct config *cfg, struct native_column_spec *specs,
		       char (*names)[NATIVE_NAME_MAX], char (*types)[NATIVE_TYPE_NAME_MAX]);

/* Output columns before the first attribute: the declared fields and the catch-all. */
uint32_t dimset_event_columns(const struct config *cfg);

/* Parses an attribute's configured type. Returns 0 or -EINVAL. */
int dimset_attr_type(const struct config_attr *attr, enum dim_type *type, bool *nullable);

#endif
