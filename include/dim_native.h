/*
 * dim_native: dimension rows from ClickHouse Native sources (blocks as `SELECT ... FORMAT
 * Native` writes them), decoded by the project's one Native decoder (native_read.h) and handed
 * to the staging layer (dim_part.h). Internal to the dimension loaders.
 *
 * Loadable column types: UInt8..64, Int8..64, Bool, Float32/64, Date, Date32, DateTime[('tz')]
 * (seconds since the epoch, whatever the zone), String, FixedString(N), LowCardinality(String)
 * and LowCardinality(FixedString(N)), each optionally Nullable; they are converted to the
 * configured types with the staging layer's rules (range-checked; Date <-> DateTime; numbers as
 * text in String columns). Columns that are not loaded may be of any type the decoder reads
 * (Arrays, Decimal, Enum, UUID, IPv6, ...). Every block must have the first block's columns.
 *
 * The scan walks the whole source once (one thread) to find the blocks; the parse of a range
 * of blocks (one thread per range) reads them again with a sequential reader of its own and
 * walks each loaded column's values without copying them.
 */
#ifndef ENRICHD_DIM_NATIVE_H
#define ENRICHD_DIM_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "dim.h"
#include "dim_part.h"

struct dim_native_block {
	size_t offset; /* of the block's header in the source */
	size_t rows;
};

struct dim_native_source {
	const uint8_t *data;
	size_t len;
	struct dim_native_block *blocks; /* in source order */
	size_t block_count;
	size_t rows;                     /* in all blocks */
	unsigned col_count;
	int16_t target[DIM_SOURCE_COLUMNS_MAX]; /* per column, as dim_match_columns */
};

/*
 * Walks every block of the Native source data[0..len): checks its structure, records where each
 * block starts, matches the first block's columns against spec and checks that the loaded ones
 * have loadable types. Returns 0, or -EINVAL with the reason in err and the 1-based block in
 * *err_block, -ENOMEM. On error nothing is left allocated.
 */
int dim_native_scan(const struct dim_spec *spec, const uint8_t *data, size_t len,
		    struct dim_native_source *src, char *err, size_t err_len, uint64_t *err_block);

/*
 * Parses blocks [first, last) into part, reporting progress and stopping early through ctl.
 * Returns 0, or -EINVAL / -ENOMEM with the reason in err ("row N: column 'c': ...", rows
 * counted in the block) and the 1-based block in *err_block (ctl told of the failure).
 */
int dim_native_parse(const struct dim_native_source *src, const struct dim_layout_spec *ls,
		     size_t first, size_t last, struct dim_part *part,
		     const struct dim_parse_ctl *ctl, char *err, size_t err_len,
		     uint64_t *err_block);

void dim_native_source_free(struct dim_native_source *src);

#endif
