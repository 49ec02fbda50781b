/*
 * dim_rows: a dimension load from a source the loader does not open itself -- a database's
 * result stream, a table being rebuilt -- through the same orchestration as a file load
 * (dim_load.c: parse on every thread, merge the LowCardinality dictionaries in source order,
 * build, the same progress and summary lines, the same failure rules). Internal to the
 * dimension loaders.
 *
 * The source comes in `chunks` parts, in source order; chunk i is parsed by parse() on a thread
 * of its own into its own part (dim_part.h), handing every value to the staging layer, which
 * converts it as the file loaders do. A key seen in a later chunk (or later in one) replaces the
 * earlier row, as in a file.
 */
#ifndef ENRICHD_DIM_ROWS_H
#define ENRICHD_DIM_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "dim.h"
#include "dim_part.h"

struct dim_row_source {
	const char *name;  /* names the source in messages (never a secret), e.g. "postgresql
			    * table public.users" */
	unsigned chunks;   /* 1..DIM_THREADS_MAX */
	size_t rows_hint;  /* rows expected in all (0: unknown), to size the parts once */
	/*
	 * Parses chunk into part; reports progress and learns that an earlier chunk failed
	 * through ctl (dim_part.h: it returns early then, with 0). Returns 0, or -errno with the
	 * reason in err (err_len bytes) -- naming the row and column of a bad value -- after
	 * dim_parse_ctl_fail(ctl). Strings stored in the part must stay valid until
	 * dim_load_rows returns.
	 */
	int (*parse)(void *ctx, unsigned chunk, const struct dim_layout_spec *ls,
		     struct dim_part *part, const struct dim_parse_ctl *ctl, char *err,
		     size_t err_len);
	void *ctx;
};

/*
 * Loads the rows of src into a new table as dim_load does (spec's path and data are not used;
 * its other fields are). Returns 0 and *out, or -errno with *out untouched and stats->error
 * "name: reason" (the first failed chunk's, in source order), logged; stats may be NULL.
 * stats->source_bytes is left 0 (the caller knows the bytes it read).
 */
int dim_load_rows(const struct dim_spec *spec, const struct dim_row_source *src,
		  struct dim **out, struct dim_load_stats *stats);

#endif
