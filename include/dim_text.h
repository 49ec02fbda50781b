/*
 * dim_text: the tokenizer of ClickHouse TSVWithNames and CSVWithNames dimension sources.
 * Internal to the dimension loaders: it reads rows of fields from the source bytes, unescapes
 * them and hands each field to the staging layer (dim_part.h), which converts and stores it.
 *
 * The formats' grammar (escapes, quoting, NULL, line ends) is stated on dim_load in dim.h.
 *
 * A source is split at row boundaries into chunks that threads parse at once, each into its
 * own part; the functions below only read the source and the struct dim_text.
 */
#ifndef ENRICHD_DIM_TEXT_H
#define ENRICHD_DIM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dim.h"
#include "dim_part.h"

struct dim_text {
	const char *data; /* the whole source, len bytes */
	size_t len;
	bool csv;         /* CSVWithNames, else TSVWithNames */
	/* Set by dim_text_header: */
	size_t body;      /* offset of the first data row */
	unsigned col_count;
	int16_t target[DIM_SOURCE_COLUMNS_MAX]; /* per column of the header, as dim_match_columns */
};

/*
 * Reads the header row of t->data (t->data, len and csv set) and matches spec's columns to it.
 * Returns 0, or -EINVAL with the reason in err and *err_line = 1 when the header row is bad
 * ("header: ..."), 0 when a configured column is missing; -ENOMEM.
 */
int dim_text_header(struct dim_text *t, const struct dim_spec *spec, char *err, size_t err_len,
		    uint64_t *err_line);

/*
 * Splits the data rows into n chunks (n <= DIM_THREADS_MAX): bounds[0..n] with bounds[0] =
 * t->body, bounds[n] = t->len, each bound the start of a row. TSV rows end at an unescaped
 * newline; CSV rows at a newline outside quotes, found from the parity of the quotes before it
 * (a "" escape counts twice). A stray quote in an unquoted CSV value misleads the parity; the
 * parse then disagrees with the split (a chunk's stop is not the next one's begin) and the
 * caller parses again in one piece.
 */
void dim_text_split(const struct dim_text *t, unsigned n, size_t *bounds);

/* Rows per byte of the data, from its first MiB: to size a chunk's part once. */
double dim_text_rows_per_byte(const struct dim_text *t);

/*
 * Parses the rows that start in [begin, end) (from dim_text_split) into part, reporting
 * progress and stopping early through ctl. Returns 0 with *stop the offset after the last row
 * parsed, or -EINVAL / -ENOMEM with the reason in err (DIM_ERR_MAX bytes: a bad field or a row
 * with the wrong number of columns) and *err_pos the offset of the row (ctl told of the failure).
 */
int dim_text_parse(const struct dim_text *t, const struct dim_layout_spec *ls, size_t begin,
		   size_t end, struct dim_part *part, const struct dim_parse_ctl *ctl,
		   size_t *stop, size_t *err_pos, char *err);

/* The 1-based line of the source at byte offset pos. */
uint64_t dim_text_line(const struct dim_text *t, size_t pos);

#endif
