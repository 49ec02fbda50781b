/*
 * dim_build: a dimension table laid out and filled from the staged parts of a load
 * (dim_part.h). Implemented with the table itself, in dim.c; internal to the dimension loaders.
 */
#ifndef ENRICHD_DIM_BUILD_H
#define ENRICHD_DIM_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "dim.h"
#include "dim_part.h"

/* Build input: parts in source order, with merged dictionaries and remaps. */
struct dim_build_input {
	const struct dim_spec *spec;
	const struct dim_layout_spec *ls;
	struct dim_part *parts;
	unsigned part_count;
	const struct dim_lc_map *dicts; /* global dictionaries per attribute (LC only) */
	unsigned threads;
};

struct dim_build_stats {
	uint64_t duplicates;     /* rows that replaced an earlier row with the same key */
	unsigned first_dup_part; /* the first of them in source order: part (UINT_MAX if none) */
	size_t first_dup_row;    /* and row in that part */
};

/*
 * Lays out and fills a new table from the parts with up to in->threads threads. Returns 0 and
 * *out, *bs, or -errno with the reason in err (-E2BIG: arena over DIM_ARENA_BYTES_MAX,
 * -ENOMEM). The parts are only read.
 */
int dim_build(const struct dim_build_input *in, struct dim **out, struct dim_build_stats *bs,
	      char *err, size_t err_len);

#endif
