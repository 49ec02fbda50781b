/*
 * dim_native: the Native source of the dimension loaders (contract in include/dim_native.h).
 * Blocks are decoded by native_read; each loaded column's values are walked in place and handed
 * to the staging layer as cells -- an unsigned or signed integer, a float, a string, days,
 * seconds or NULL -- which it converts to the configured type.
 */
#include "dim_native.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native_read.h"

enum dim_cell_kind { CELL_NULL, CELL_U, CELL_I, CELL_F, CELL_STR, CELL_DAYS, CELL_SECS };

struct dim_cell {
	enum dim_cell_kind kind;
	uint64_t u;
	int64_t i;
	double f;
	const char *s;
	size_t len;
};

struct dim_nat_ctx {
	const struct dim_layout_spec *ls;
	struct dim_part *part;
	char *err;
	size_t err_len;
};

/* ---- cells into the part ---- */

static int dim_nat_put_key(struct dim_nat_ctx *c, size_t row, const struct dim_cell *v)
{
	struct dim_part *p = c->part;
	switch (v->kind) {
	case CELL_U:
		return dim_put_key_u64(p, c->ls, row, v->u, c->err, c->err_len);
	case CELL_I:
		if (v->i >= 0)
			return dim_put_key_u64(p, c->ls, row, (uint64_t)v->i, c->err, c->err_len);
		break;
	case CELL_STR:
	case CELL_NULL:
		return dim_put_key_text(p, c->ls, row, v->s, v->len, v->kind == CELL_NULL, c->err,
					c->err_len);
	default:
		break;
	}
	snprintf(c->err, c->err_len, "key column '%s' holds a value that is not a key",
		 c->ls->key_name);
	return -EINVAL;
}

/* Stores cell v as column tg (0: the key, 1 + a: attribute a) of row row. */
static int dim_nat_put(struct dim_nat_ctx *c, int tg, size_t row, const struct dim_cell *v)
{
	if (tg == 0)
		return dim_nat_put_key(c, row, v);
	struct dim_part *p = c->part;
	const struct dim_layout_spec *ls = c->ls;
	unsigned a = (unsigned)tg - 1;
	enum dim_type t = ls->type[a];
	switch (v->kind) {
	case CELL_NULL:
		return dim_put_null(p, ls, a, row, c->err, c->err_len);
	case CELL_U:
		return dim_put_u64(p, ls, a, row, v->u, c->err, c->err_len);
	case CELL_I:
		return dim_put_i64(p, ls, a, row, v->i, c->err, c->err_len);
	case CELL_F:
		return dim_put_f64(p, ls, a, row, v->f, c->err, c->err_len);
	case CELL_STR:
		return dim_put_text(p, ls, a, row, v->s, v->len, false, c->err, c->err_len);
	case CELL_DAYS:
		if (t == DIM_TYPE_DATETIME)
			return dim_put_i64(p, ls, a, row, v->i * 86400, c->err, c->err_len);
		return dim_put_i64(p, ls, a, row, v->i, c->err, c->err_len);
	case CELL_SECS:
		if (t == DIM_TYPE_DATE)
			return dim_put_u64(p, ls, a, row, v->u / 86400, c->err, c->err_len);
		return dim_put_u64(p, ls, a, row, v->u, c->err, c->err_len);
	}
	return -EINVAL;
}

/* dim_nat_put for row k of the block, naming the row in an error. */
static int dim_nat_put_row(struct dim_nat_ctx *c, int tg, size_t base, uint64_t k,
			   const struct dim_cell *v)
{
	int rc = dim_nat_put(c, tg, base + k, v);
	if (rc == -EINVAL) {
		char reason[DIM_ERR_MAX];
		snprintf(reason, sizeof(reason), "%s", c->err);
		snprintf(c->err, c->err_len, "row %" PRIu64 ": %s", k + 1, reason);
	}
	return rc;
}

/* ---- columns ---- */

/* A type whose values can be loaded (those of dim_nat_fixed, and strings). */
static bool dim_nat_loadable(const struct chtype *t)
{
	if (t->arrays)
		return false;
	switch (t->kind) {
	case CHTYPE_STRING:
	case CHTYPE_FIXED_STRING:
		return true;
	case CHTYPE_UINT8:
	case CHTYPE_UINT16:
	case CHTYPE_UINT32:
	case CHTYPE_UINT64:
	case CHTYPE_INT8:
	case CHTYPE_INT16:
	case CHTYPE_INT32:
	case CHTYPE_INT64:
	case CHTYPE_BOOL:
	case CHTYPE_FLOAT32:
	case CHTYPE_FLOAT64:
	case CHTYPE_DATE:
	case CHTYPE_DATE32:
	case CHTYPE_DATETIME:
		return !t->low_cardinality;
	default:
		return false;
	}
}

/* The little-endian value of width bytes (1, 2, 4 or 8) at b. */
static inline uint64_t dim_nat_le(const uint8_t *b, uint32_t width)
{
	switch (width) {
	case 1:
		return b[0];
	case 2: {
		uint16_t x;
		memcpy(&x, b, 2);
		return le16toh(x);
	}
	case 4: {
		uint32_t x;
		memcpy(&x, b, 4);
		return le32toh(x);
	}
	default: {
		uint64_t x;
		memcpy(&x, b, 8);
		return le64toh(x);
	}
	}
}

/* The number or date of type t at b (a loadable fixed-width type) as a cell. */
static void dim_nat_fixed(const struct chtype *t, uint32_t width, const uint8_t *b,
			  struct dim_cell *v)
{
	uint64_t x = dim_nat_le(b, width);
	unsigned shift = 64 - 8 * width;
	switch (t->kind) {
	case CHTYPE_INT8:
	case CHTYPE_INT16:
	case CHTYPE_INT32:
	case CHTYPE_INT64:
		v->kind = CELL_I;
		v->i = (int64_t)(x << shift) >> shift;
		break;
	case CHTYPE_FLOAT32: {
		float f;
		uint32_t x32 = (uint32_t)x;
		memcpy(&f, &x32, 4);
		v->kind = CELL_F;
		v->f = f;
		break;
	}
	case CHTYPE_FLOAT64:
		v->kind = CELL_F;
		memcpy(&v->f, &x, 8);
		break;
	case CHTYPE_DATE:
		v->kind = CELL_DAYS;
		v->i = (int64_t)x;
		break;
	case CHTYPE_DATE32:
		v->kind = CELL_DAYS;
		v->i = (int64_t)(x << shift) >> shift;
		break;
	case CHTYPE_DATETIME:
		v->kind = CELL_SECS;
		v->u = x;
		break;
	default: /* UInt*, Bool */
		v->kind = CELL_U;
		v->u = x;
		break;
	}
}

/* A LowCardinality column: each row's key, NULL for key 0 of LowCardinality(Nullable(T)). */
static int dim_nat_lc(struct dim_nat_ctx *c, const struct native_rd_col *col, int tg,
		      size_t base, uint64_t n)
{
	const struct native_rd_str *strs = col->values.strs;
	const char *fixed = col->type.kind == CHTYPE_FIXED_STRING ? (const char *)col->values.data
								   : NULL;
	const uint8_t *index = col->index;
	uint32_t iw = col->index_width, width = col->width;
	bool nullable = col->type.nullable;
	struct dim_cell v = {0};
	for (uint64_t k = 0; k < n; k++) {
		uint64_t key = dim_nat_le(index + k * iw, iw);
		v.kind = nullable && key == 0 ? CELL_NULL : CELL_STR;
		v.s = fixed ? fixed + key * width : (const char *)strs[key].ptr;
		v.len = fixed ? width : strs[key].len;
		int rc = dim_nat_put_row(c, tg, base, k, &v);
		if (rc)
			return rc;
	}
	return 0;
}

/* A String column, walked in order. */
static int dim_nat_strings(struct dim_nat_ctx *c, const struct native_rd_col *col, int tg,
			   size_t base, uint64_t n)
{
	const uint8_t *cursor = col->values.data, *s;
	struct dim_cell v = {0};
	for (uint64_t k = 0; k < n; k++) {
		native_rd_str_next(&cursor, &s, &v.len);
		v.s = (const char *)s;
		v.kind = col->nulls && col->nulls[k] ? CELL_NULL : CELL_STR;
		int rc = dim_nat_put_row(c, tg, base, k, &v);
		if (rc)
			return rc;
	}
	return 0;
}

/* A column of fixed-width values: numbers, dates, FixedString. */
static int dim_nat_fixed_column(struct dim_nat_ctx *c, const struct native_rd_col *col, int tg,
				size_t base, uint64_t n)
{
	struct dim_cell v = {0};
	for (uint64_t k = 0; k < n; k++) {
		const uint8_t *b = col->values.data + k * col->width;
		if (col->type.kind == CHTYPE_FIXED_STRING) {
			v.kind = CELL_STR;
			v.s = (const char *)b;
			v.len = col->width;
		} else {
			dim_nat_fixed(&col->type, col->width, b, &v);
		}
		if (col->nulls && col->nulls[k])
			v.kind = CELL_NULL;
		int rc = dim_nat_put_row(c, tg, base, k, &v);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Stores the n values of a loaded column into rows base..base+n-1 of the part. Returns 0,
 * -EINVAL with the reason in c->err (rows counted in the block), or -ENOMEM.
 */
static int dim_nat_column(struct dim_nat_ctx *c, const struct native_rd_col *col, int tg,
			  size_t base, uint64_t n)
{
	if (col->type.low_cardinality)
		return dim_nat_lc(c, col, tg, base, n);
	if (col->type.kind == CHTYPE_STRING)
		return dim_nat_strings(c, col, tg, base, n);
	return dim_nat_fixed_column(c, col, tg, base, n);
}

/* ---- scan ---- */

/* The reader's error, with the byte it refers to. */
static int dim_nat_read_error(const struct native_reader *r, int rc, char *err, size_t err_len)
{
	if (rc == -ENOMEM) {
		snprintf(err, err_len, "out of memory");
		return rc;
	}
	size_t at;
	const char *msg = native_reader_error(r, &at);
	snprintf(err, err_len, "%s (byte %zu)", msg, at);
	return -EINVAL;
}

/* The first block's columns: matched against spec; the loaded ones must be loadable. */
static int dim_nat_first_block(const struct dim_spec *spec, const struct native_rd_block *blk,
			       struct dim_native_source *src, char *err, size_t err_len)
{
	struct dim_str names[DIM_SOURCE_COLUMNS_MAX];
	src->col_count = blk->ncols;
	for (uint32_t c = 0; c < blk->ncols; c++)
		names[c] = (struct dim_str){blk->cols[c].name, blk->cols[c].name_len};
	int rc = dim_match_columns(spec, names, blk->ncols, src->target, err, err_len);
	for (uint32_t c = 0; c < blk->ncols && !rc; c++) {
		const struct native_rd_col *col = &blk->cols[c];
		if (src->target[c] < 0 || dim_nat_loadable(&col->type))
			continue;
		snprintf(err, err_len, "column '%.*s': type '%.*s' cannot be loaded (numbers, "
			 "dates, DateTime, String, FixedString, LowCardinality of the strings)",
			 (int)(col->name_len < 64 ? col->name_len : 64), col->name,
			 (int)(col->type_name_len < 64 ? col->type_name_len : 64), col->type_name);
		rc = -EINVAL;
	}
	return rc;
}

/* The first block's column names and types (pointing into the source), for the later ones. */
struct dim_nat_columns {
	uint32_t ncols;
	struct dim_str *names, *types;
};

static int dim_nat_columns_keep(struct dim_nat_columns *k, const struct native_rd_block *blk)
{
	k->names = malloc(blk->ncols * sizeof(*k->names));
	k->types = malloc(blk->ncols * sizeof(*k->types));
	if (!k->names || !k->types)
		return -ENOMEM;
	k->ncols = blk->ncols;
	for (uint32_t c = 0; c < blk->ncols; c++) {
		k->names[c] = (struct dim_str){blk->cols[c].name, blk->cols[c].name_len};
		k->types[c] = (struct dim_str){blk->cols[c].type_name, blk->cols[c].type_name_len};
	}
	return 0;
}

static bool dim_str_eq(struct dim_str a, const char *p, size_t len)
{
	return a.len == len && memcmp(a.ptr, p, len) == 0;
}

/* A later block: the same columns (names and types) as the first block. */
static int dim_nat_same_columns(const struct dim_nat_columns *k,
				const struct native_rd_block *blk, char *err, size_t err_len)
{
	if (blk->ncols != k->ncols) {
		snprintf(err, err_len, "%" PRIu32 " columns, the first block has %" PRIu32,
			 blk->ncols, k->ncols);
		return -EINVAL;
	}
	for (uint32_t c = 0; c < blk->ncols; c++) {
		const struct native_rd_col *col = &blk->cols[c];
		if (!dim_str_eq(k->names[c], col->name, col->name_len) ||
		    !dim_str_eq(k->types[c], col->type_name, col->type_name_len)) {
			snprintf(err, err_len, "column %u differs from the first block's", c + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int dim_nat_add_block(struct dim_native_source *src, size_t *cap, size_t offset,
			     uint64_t rows)
{
	if (src->block_count == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		struct dim_native_block *nb = realloc(src->blocks, n * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		src->blocks = nb;
		*cap = n;
	}
	src->blocks[src->block_count++] = (struct dim_native_block){offset, (size_t)rows};
	src->rows += rows;
	return 0;
}

/* Checks one decoded block against the first one (kept in first) and records it. */
static int dim_nat_scan_block(const struct dim_spec *spec, struct dim_native_source *src,
			      struct dim_nat_columns *first, const struct native_rd_block *blk,
			      size_t *cap, char *err, size_t err_len)
{
	if (blk->ncols == 0) {
		snprintf(err, err_len, "bad block header (not a Native file?)");
		return -EINVAL;
	}
	if (blk->ncols > DIM_SOURCE_COLUMNS_MAX) {
		snprintf(err, err_len, "%" PRIu32 " columns, more than %d", blk->ncols,
			 DIM_SOURCE_COLUMNS_MAX);
		return -EINVAL;
	}
	int rc;
	if (src->block_count == 0) {
		rc = dim_nat_columns_keep(first, blk);
		if (!rc)
			rc = dim_nat_first_block(spec, blk, src, err, err_len);
	} else {
		rc = dim_nat_same_columns(first, blk, err, err_len);
	}
	return rc ? rc : dim_nat_add_block(src, cap, blk->offset, blk->rows);
}

int dim_native_scan(const struct dim_spec *spec, const uint8_t *data, size_t len,
		    struct dim_native_source *src, char *err, size_t err_len, uint64_t *err_block)
{
	memset(src, 0, sizeof(*src));
	src->data = data;
	src->len = len;
	struct native_reader *r;
	if (native_reader_init_sequential(&r) < 0)
		return -ENOMEM;
	struct dim_nat_columns first = {0};
	struct native_rd_block blk;
	size_t off = 0, cap = 0;
	int rc = 0;
	for (uint64_t b = 1; off < len && !rc; b++) {
		*err_block = b;
		rc = native_reader_next(r, data, len, &off, &blk);
		rc = rc < 0 ? dim_nat_read_error(r, rc, err, err_len)
			    : dim_nat_scan_block(spec, src, &first, &blk, &cap, err, err_len);
	}
	if (!rc && src->block_count == 0) {
		*err_block = 1;
		snprintf(err, err_len, "no blocks");
		rc = -EINVAL;
	}
	free(first.names);
	free(first.types);
	native_reader_destroy(r);
	if (rc)
		dim_native_source_free(src);
	else
		*err_block = 0;
	return rc;
}

/* ---- parse ---- */

/* Decodes block b again and stores its loaded columns as the part's next rows. */
static int dim_nat_block(struct dim_nat_ctx *c, struct native_reader *r,
			 const struct dim_native_source *src, size_t b,
			 const struct dim_parse_ctl *ctl)
{
	size_t off = src->blocks[b].offset;
	struct native_rd_block blk;
	int rc = native_reader_next(r, src->data, src->len, &off, &blk);
	if (rc < 0)
		return dim_nat_read_error(r, rc, c->err, c->err_len);
	rc = dim_part_reserve(c->part, c->ls, blk.rows);
	if (rc) {
		snprintf(c->err, c->err_len, "out of memory");
		return rc;
	}
	for (uint32_t col = 0; col < blk.ncols; col++) {
		int tg = src->target[col];
		if (tg < 0)
			continue;
		rc = dim_nat_column(c, &blk.cols[col], tg, c->part->rows, blk.rows);
		if (rc)
			return rc;
	}
	dim_part_commit(c->part, c->ls, blk.rows);
	dim_parse_ctl_rows(ctl, blk.rows);
	return 0;
}

int dim_native_parse(const struct dim_native_source *src, const struct dim_layout_spec *ls,
		     size_t first, size_t last, struct dim_part *part,
		     const struct dim_parse_ctl *ctl, char *err, size_t err_len,
		     uint64_t *err_block)
{
	struct native_reader *r;
	if (native_reader_init_sequential(&r) < 0) {
		snprintf(err, err_len, "out of memory");
		*err_block = first + 1;
		dim_parse_ctl_fail(ctl);
		return -ENOMEM;
	}
	struct dim_nat_ctx c = {ls, part, err, err_len};
	int rc = 0;
	for (size_t b = first; b < last && !rc && !dim_parse_ctl_stop(ctl); b++) {
		*err_block = b + 1;
		rc = dim_nat_block(&c, r, src, b, ctl);
	}
	native_reader_destroy(r);
	if (rc)
		dim_parse_ctl_fail(ctl);
	else
		*err_block = 0;
	return rc;
}

void dim_native_source_free(struct dim_native_source *src)
{
	free(src->blocks);
	src->blocks = NULL;
	src->block_count = 0;
}
