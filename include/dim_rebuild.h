/*
 * dim_rebuild: a new table from a table's rows and a batch of changes, for a live table that
 * has no room for them (dim_live.h: -ENOSPC). The old table's rows are copied on the load
 * threads, slot range by slot range, through the loader's orchestration (dim_rows.h) with
 * their values converted back to the staging layer; a row whose key the batch changes is left
 * out, and the last change of each key is added (an upsert) or not (a delete). The new table
 * is sized for its rows as a load sizes it. The old table is only read: the caller is its one
 * writer and keeps it in use until it swaps the new one in.
 */
#ifndef ENRICHD_DIM_REBUILD_H
#define ENRICHD_DIM_REBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dim.h"

/* One change of a batch; values are the attributes as text (dim_live.h), ptr NULL: NULL. */
struct dim_change {
	uint64_t key_u64;        /* UInt64 keys */
	struct dim_str key;      /* String keys */
	bool deleted;
	const struct dim_str *values; /* attr_count of them; not read for a delete */
};

/*
 * Builds *out from old's rows and changes[0..n) (in the order they happened). spec is the
 * table's spec (its source is not read). Returns 0, or -errno with the reason in
 * stats->error (-EINVAL: a change's value that does not convert, naming its key and the
 * column; the caller should have checked them with dim_change_check); stats may be NULL.
 */
int dim_rebuild(const struct dim_spec *spec, const struct dim *old,
		const struct dim_change *changes, size_t n, struct dim **out,
		struct dim_load_stats *stats);

/*
 * Converts change's key and values as a load would, without keeping them: 0, or -EINVAL with
 * the reason (the column and the value) in err. For a change that can be neither applied nor
 * built: the updater drops it as bad. Allocates a small staging part per call.
 */
int dim_change_check(const struct dim_spec *spec, const struct dim_change *change, char *err,
		     size_t err_len);

#endif
