/*
 * dim_native: reads dimension rows from ClickHouse Native files, as `SELECT ... FORMAT Native`
 * writes them (no block-info header): blocks of VarUInt columns, VarUInt rows, then per column
 * String name, String type and the column's data.
 *
 * Loadable column types: UInt8..64, Int8..64, Bool, Float32/64, Date, Date32, DateTime[(tz)],
 * String, FixedString(N), LowCardinality(String) and LowCardinality(Nullable(String)), each
 * optionally Nullable. Ignored columns may also be wide integers, Decimal, DateTime64, UUID,
 * IPv4/6, Enum8/16 or Arrays of these; any other type is an error naming the column.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dim_native.h"
#include "native_format.h"

/* Nesting of Nullable / LowCardinality / Array around a column's value type. */
#define DIM_NT_DEPTH_MAX 8
#define DIM_NT_ERR_MAX 200

enum dim_nt_kind {
	NT_UINT,
	NT_INT,
	NT_FLOAT,
	NT_DATE,     /* UInt16 days */
	NT_DATE32,   /* Int32 days */
	NT_DATETIME, /* UInt32 seconds */
	NT_OPAQUE,   /* fixed width, skipped only */
	NT_STRING,
	NT_FIXEDSTRING,
	NT_NULLABLE,
	NT_LC,
	NT_ARRAY,
};

struct dim_nt_node {
	uint8_t kind;
	uint32_t width; /* fixed-width kinds and FixedString(N) */
};

struct dim_native_type {
	struct dim_nt_node node[DIM_NT_DEPTH_MAX]; /* node[0] outermost; node[i+1] inside node[i] */
	unsigned count;
};

/* ---- bounded reader ---- */

struct dim_rd {
	const uint8_t *p, *end;
};

static bool dim_rd_varuint(struct dim_rd *r, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (r->p == r->end)
			return false;
		uint8_t b = *r->p++;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static bool dim_rd_bytes(struct dim_rd *r, uint64_t n, const uint8_t **out)
{
	if (n > (uint64_t)(r->end - r->p))
		return false;
	*out = r->p;
	r->p += n;
	return true;
}

static bool dim_rd_u64(struct dim_rd *r, uint64_t *v)
{
	const uint8_t *b;
	if (!dim_rd_bytes(r, 8, &b))
		return false;
	uint64_t x = 0;
	for (int i = 7; i >= 0; i--)
		x = x << 8 | b[i];
	*v = x;
	return true;
}

static bool dim_rd_string(struct dim_rd *r, const uint8_t **s, size_t *len)
{
	uint64_t n;
	if (!dim_rd_varuint(r, &n) || !dim_rd_bytes(r, n, s))
		return false;
	*len = (size_t)n;
	return true;
}

/* n elements of n_bytes each, guarding the product. */
static bool dim_rd_array(struct dim_rd *r, uint64_t n, uint64_t width, const uint8_t **out)
{
	if (width && n > UINT64_MAX / width)
		return false;
	return dim_rd_bytes(r, n * width, out);
}

static uint64_t dim_le(const uint8_t *p, unsigned width)
{
	uint64_t x = 0;
	for (unsigned i = width; i-- > 0;)
		x = x << 8 | p[i];
	return x;
}

/* ---- types ---- */

static bool dim_nt_unwrap(const char *s, size_t len, const char *prefix, const char **inner,
			  size_t *inner_len)
{
	size_t n = strlen(prefix);
	if (len < n + 2 || memcmp(s, prefix, n) != 0 || s[n] != '(' || s[len - 1] != ')')
		return false;
	*inner = s + n + 1;
	*inner_len = len - n - 2;
	return true;
}

static bool dim_nt_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(s, name, len) == 0;
}

static bool dim_nt_starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len > n && memcmp(s, prefix, n) == 0 && s[len - 1] == ')';
}

static bool dim_nt_leaf(const char *s, size_t len, struct dim_nt_node *node)
{
	static const struct {
		const char *name;
		uint8_t kind;
		uint8_t width;
	} leaves[] = {
		{"UInt8", NT_UINT, 1},      {"UInt16", NT_UINT, 2},     {"UInt32", NT_UINT, 4},
		{"UInt64", NT_UINT, 8},     {"Int8", NT_INT, 1},        {"Int16", NT_INT, 2},
		{"Int32", NT_INT, 4},       {"Int64", NT_INT, 8},       {"Bool", NT_UINT, 1},
		{"Float32", NT_FLOAT, 4},   {"Float64", NT_FLOAT, 8},   {"Date", NT_DATE, 2},
		{"Date32", NT_DATE32, 4},   {"DateTime", NT_DATETIME, 4}, {"String", NT_STRING, 0},
		{"UInt128", NT_OPAQUE, 16}, {"Int128", NT_OPAQUE, 16},  {"UInt256", NT_OPAQUE, 32},
		{"Int256", NT_OPAQUE, 32},  {"UUID", NT_OPAQUE, 16},    {"IPv4", NT_OPAQUE, 4},
		{"IPv6", NT_OPAQUE, 16},
	};
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		if (dim_nt_is(s, len, leaves[i].name)) {
			node->kind = leaves[i].kind;
			node->width = leaves[i].width;
			return true;
		}
	}
	static const struct {
		const char *prefix;
		uint8_t kind;
		uint8_t width;
	} params[] = {
		{"DateTime(", NT_DATETIME, 4}, {"DateTime64(", NT_OPAQUE, 8}, {"Enum8(", NT_OPAQUE, 1},
		{"Enum16(", NT_OPAQUE, 2},     {"Decimal32(", NT_OPAQUE, 4},  {"Decimal64(", NT_OPAQUE, 8},
		{"Decimal128(", NT_OPAQUE, 16}, {"Decimal256(", NT_OPAQUE, 32},
	};
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (dim_nt_starts(s, len, params[i].prefix)) {
			node->kind = params[i].kind;
			node->width = params[i].width;
			return true;
		}
	}
	unsigned long v = 0;
	if (dim_nt_starts(s, len, "FixedString(") || dim_nt_starts(s, len, "Decimal(")) {
		bool fixed = s[0] == 'F';
		const char *d = (const char *)memchr(s, '(', len) + 1;
		while (d < s + len && *d >= '0' && *d <= '9' && v < (1ul << 20))
			v = v * 10 + (unsigned long)(*d++ - '0');
		if (v == 0 || (fixed && *d != ')'))
			return false;
		node->kind = fixed ? NT_FIXEDSTRING : NT_OPAQUE;
		node->width = fixed ? (uint32_t)v : v <= 9 ? 4 : v <= 18 ? 8 : v <= 38 ? 16 : 32;
		return true;
	}
	return false;
}

static bool dim_nt_parse(const char *s, size_t len, struct dim_native_type *t)
{
	t->count = 0;
	while (t->count < DIM_NT_DEPTH_MAX) {
		struct dim_nt_node *node = &t->node[t->count++];
		const char *in;
		size_t in_len;
		if (dim_nt_unwrap(s, len, "Nullable", &in, &in_len))
			node->kind = NT_NULLABLE;
		else if (dim_nt_unwrap(s, len, "LowCardinality", &in, &in_len))
			node->kind = NT_LC;
		else if (dim_nt_unwrap(s, len, "Array", &in, &in_len))
			node->kind = NT_ARRAY;
		else
			return dim_nt_leaf(s, len, node);
		s = in;
		len = in_len;
	}
	return false;
}

/* ---- skipping a column's data ---- */

static bool dim_nt_skip(const struct dim_native_type *t, unsigned i, uint64_t n, struct dim_rd *r)
{
	const struct dim_nt_node *node = &t->node[i];
	const uint8_t *b;
	switch (node->kind) {
	case NT_STRING:
		for (uint64_t k = 0; k < n; k++) {
			size_t len;
			if (!dim_rd_string(r, &b, &len))
				return false;
		}
		return true;
	case NT_NULLABLE:
		return dim_rd_bytes(r, n, &b) && dim_nt_skip(t, i + 1, n, r);
	case NT_ARRAY: {
		uint64_t last = 0;
		if (!dim_rd_array(r, n, 8, &b))
			return false;
		if (n)
			last = dim_le(b + (n - 1) * 8, 8);
		return dim_nt_skip(t, i + 1, last, r);
	}
	case NT_LC: {
		if (n == 0)
			return true;
		uint64_t version, flags, keys, rows;
		if (!dim_rd_u64(r, &version) || !dim_rd_u64(r, &flags) || !dim_rd_u64(r, &keys))
			return false;
		unsigned in = i + 1;
		if (in < t->count && t->node[in].kind == NT_NULLABLE)
			in++; /* the keys of LowCardinality(Nullable(T)) are plain T */
		unsigned idx = flags & 0xffu;
		if (version != NATIVE_LC_KEY_VERSION || idx > NATIVE_LC_INDEX_CODE_MAX ||
		    in >= t->count || !dim_nt_skip(t, in, keys, r) || !dim_rd_u64(r, &rows) ||
		    rows != n)
			return false;
		return dim_rd_array(r, n, 1u << idx, &b);
	}
	default: /* fixed width */
		return dim_rd_array(r, n, node->width, &b);
	}
}

/* ---- decoding loaded columns ---- */

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

static int dim_nat_put(struct dim_nat_ctx *c, int tg, size_t row, const struct dim_cell *v)
{
	struct dim_part *p = c->part;
	const struct dim_layout_spec *ls = c->ls;
	if (tg == 0) {
		switch (v->kind) {
		case CELL_U:
			return dim_put_key_u64(p, ls, row, v->u, c->err, c->err_len);
		case CELL_I:
			if (v->i >= 0)
				return dim_put_key_u64(p, ls, row, (uint64_t)v->i, c->err, c->err_len);
			break;
		case CELL_STR:
		case CELL_NULL:
			return dim_put_key_text(p, ls, row, v->s, v->len, v->kind == CELL_NULL,
						c->err, c->err_len);
		default:
			break;
		}
		snprintf(c->err, c->err_len, "key column '%s' holds a value that is not a key",
			 ls->key_name);
		return -EINVAL;
	}
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
		char reason[DIM_NT_ERR_MAX];
		snprintf(reason, sizeof(reason), "%s", c->err);
		snprintf(c->err, c->err_len, "row %" PRIu64 ": %s", k + 1, reason);
	}
	return rc;
}

/* Reads fixed-width value k of node (a loadable leaf) from b into a cell. */
static void dim_nat_fixed(const struct dim_nt_node *node, const uint8_t *b, struct dim_cell *v)
{
	uint64_t x = dim_le(b, node->width);
	switch (node->kind) {
	case NT_UINT:
		v->kind = CELL_U;
		v->u = x;
		break;
	case NT_INT: {
		unsigned shift = 64 - 8 * node->width;
		v->kind = CELL_I;
		v->i = (int64_t)(x << shift) >> shift;
		break;
	}
	case NT_FLOAT:
		v->kind = CELL_F;
		if (node->width == 4) {
			float f;
			uint32_t x32 = (uint32_t)x;
			memcpy(&f, &x32, 4);
			v->f = f;
		} else {
			memcpy(&v->f, &x, 8);
		}
		break;
	case NT_DATE:
		v->kind = CELL_DAYS;
		v->i = (int64_t)x;
		break;
	case NT_DATE32:
		v->kind = CELL_DAYS;
		v->i = (int32_t)(uint32_t)x;
		break;
	default: /* NT_DATETIME */
		v->kind = CELL_SECS;
		v->u = x;
		break;
	}
}

static bool dim_nat_loadable_leaf(uint8_t kind)
{
	return kind <= NT_DATETIME || kind == NT_STRING || kind == NT_FIXEDSTRING;
}

/*
 * Decodes n values of a loaded column into rows base..base+n-1 of the part. Returns 0,
 * -EINVAL with the reason in c->err (row numbers relative to the block), or -ENOMEM.
 */
static int dim_nat_column(struct dim_nat_ctx *c, const struct dim_native_type *t, int tg,
			  size_t base, uint64_t n, struct dim_rd *r, const char *col)
{
	unsigned i = 0;
	const uint8_t *nulls = NULL;
	bool lc = false, lc_nullable = false;
	if (t->node[i].kind == NT_NULLABLE) {
		if (!dim_rd_bytes(r, n, &nulls))
			goto truncated;
		i++;
	} else if (t->node[i].kind == NT_LC) {
		lc = true;
		if (++i < t->count && t->node[i].kind == NT_NULLABLE) {
			lc_nullable = true;
			i++;
		}
	}
	const struct dim_nt_node *leaf = &t->node[i];
	if (i + 1 != t->count || !dim_nat_loadable_leaf(leaf->kind) ||
	    (lc && leaf->kind != NT_STRING && leaf->kind != NT_FIXEDSTRING)) {
		snprintf(c->err, c->err_len, "column '%s': this type cannot be loaded", col);
		return -EINVAL;
	}
	if (n == 0)
		return 0;
	struct dim_cell v = {0};
	if (lc) {
		uint64_t version, flags, nkeys, rows;
		if (!dim_rd_u64(r, &version) || !dim_rd_u64(r, &flags) || !dim_rd_u64(r, &nkeys))
			goto truncated;
		unsigned idx = flags & 0xffu;
		if (version != NATIVE_LC_KEY_VERSION || idx > NATIVE_LC_INDEX_CODE_MAX ||
		    !(flags & NATIVE_LC_HAS_ADDITIONAL_KEYS)) {
			snprintf(c->err, c->err_len, "column '%s': unsupported LowCardinality "
				 "serialization", col);
			return -EINVAL;
		}
		if (nkeys > (uint64_t)(r->end - r->p))
			goto truncated;
		struct dim_str *keys = malloc((nkeys ? nkeys : 1) * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		int rc = 0;
		for (uint64_t k = 0; k < nkeys && !rc; k++) {
			const uint8_t *s = NULL;
			size_t len = leaf->width;
			bool ok = leaf->kind == NT_STRING ? dim_rd_string(r, &s, &len)
							  : dim_rd_bytes(r, len, &s);
			if (!ok)
				rc = -EIO;
			keys[k] = (struct dim_str){(const char *)s, len};
		}
		const uint8_t *ix = NULL;
		unsigned w = 1u << idx;
		if (!rc && (!dim_rd_u64(r, &rows) || rows != n || !dim_rd_array(r, n, w, &ix)))
			rc = -EIO;
		for (uint64_t k = 0; k < n && !rc; k++) {
			uint64_t key = dim_le(ix + k * w, w);
			if (key >= nkeys) {
				snprintf(c->err, c->err_len, "row %" PRIu64 ": column '%s': "
					 "dictionary index out of range", k + 1, col);
				rc = -EINVAL;
				break;
			}
			v.kind = lc_nullable && key == 0 ? CELL_NULL : CELL_STR;
			v.s = keys[key].ptr;
			v.len = keys[key].len;
			rc = dim_nat_put_row(c, tg, base, k, &v);
		}
		free(keys);
		if (rc == -EIO)
			goto truncated;
		return rc;
	}
	const uint8_t *fixed = NULL;
	if (leaf->kind != NT_STRING && !dim_rd_array(r, n, leaf->width, &fixed))
		goto truncated;
	for (uint64_t k = 0; k < n; k++) {
		if (leaf->kind == NT_STRING) {
			const uint8_t *s;
			if (!dim_rd_string(r, &s, &v.len))
				goto truncated;
			v.kind = CELL_STR;
			v.s = (const char *)s;
		} else if (leaf->kind == NT_FIXEDSTRING) {
			v.kind = CELL_STR;
			v.s = (const char *)fixed + k * leaf->width;
			v.len = leaf->width;
		} else {
			dim_nat_fixed(leaf, fixed + k * leaf->width, &v);
		}
		if (nulls && nulls[k])
			v.kind = CELL_NULL;
		int rc = dim_nat_put_row(c, tg, base, k, &v);
		if (rc)
			return rc;
	}
	return 0;
truncated:
	snprintf(c->err, c->err_len, "column '%s': data ends early (truncated file?)", col);
	return -EINVAL;
}

/* ---- blocks ---- */

/* Reads a block's header (columns, rows). */
static bool dim_nat_block_head(struct dim_rd *r, uint64_t *cols, uint64_t *rows)
{
	return dim_rd_varuint(r, cols) && dim_rd_varuint(r, rows);
}

int dim_native_scan(const struct dim_spec *spec, const uint8_t *data, size_t len,
		    struct dim_native_source *src, char *err, size_t err_len, uint64_t *err_block)
{
	memset(src, 0, sizeof(*src));
	src->data = data;
	src->len = len;
	struct dim_rd r = {data, data + len};
	size_t cap = 0;
	struct dim_str *names = NULL;
	int rc = 0;
	*err_block = 0;
	for (uint64_t b = 1; r.p < r.end; b++) {
		*err_block = b;
		size_t offset = (size_t)(r.p - data);
		uint64_t cols, rows;
		if (!dim_nat_block_head(&r, &cols, &rows) || cols == 0 ||
		    cols > DIM_SOURCE_COLUMNS_MAX || rows > len) {
			snprintf(err, err_len, "bad block header (not a Native file?)");
			rc = -EINVAL;
			goto out;
		}
		if (b == 1) {
			src->col_count = (unsigned)cols;
			names = calloc(cols, sizeof(*names));
			src->type_names = calloc(cols, sizeof(*src->type_names));
			src->types = calloc(cols, sizeof(*src->types));
			if (!names || !src->type_names || !src->types) {
				rc = -ENOMEM;
				goto out;
			}
		} else if (cols != src->col_count) {
			snprintf(err, err_len, "%" PRIu64 " columns, the first block has %u", cols,
				 src->col_count);
			rc = -EINVAL;
			goto out;
		}
		for (unsigned c = 0; c < cols; c++) {
			const uint8_t *name, *type;
			size_t name_len, type_len;
			if (!dim_rd_string(&r, &name, &name_len) || !dim_rd_string(&r, &type, &type_len)) {
				snprintf(err, err_len, "column %u: truncated header", c + 1);
				rc = -EINVAL;
				goto out;
			}
			struct dim_native_type *ct = &src->types[c];
			if (b == 1) {
				names[c] = (struct dim_str){(const char *)name, name_len};
				src->type_names[c] = (struct dim_str){(const char *)type, type_len};
				if (!dim_nt_parse((const char *)type, type_len, ct)) {
					snprintf(err, err_len, "column '%.*s': unsupported type '%.*s'",
						 (int)(name_len < 64 ? name_len : 64), (const char *)name,
						 (int)(type_len < 64 ? type_len : 64), (const char *)type);
					rc = -EINVAL;
					goto out;
				}
			} else if (names[c].len != name_len ||
				   memcmp(names[c].ptr, name, name_len) != 0 ||
				   src->type_names[c].len != type_len ||
				   memcmp(src->type_names[c].ptr, type, type_len) != 0) {
				snprintf(err, err_len, "column %u differs from the first block's", c + 1);
				rc = -EINVAL;
				goto out;
			}
			if (rows && !dim_nt_skip(ct, 0, rows, &r)) {
				snprintf(err, err_len, "column '%.*s': bad or truncated data",
					 (int)(name_len < 64 ? name_len : 64), (const char *)name);
				rc = -EINVAL;
				goto out;
			}
		}
		if (b == 1) {
			rc = dim_match_columns(spec, names, cols, src->target, err, err_len);
			if (rc)
				goto out;
		}
		if (src->block_count == cap) {
			cap = cap ? cap * 2 : 64;
			struct dim_native_block *nb = realloc(src->blocks, cap * sizeof(*nb));
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			src->blocks = nb;
		}
		src->blocks[src->block_count++] = (struct dim_native_block){offset, (size_t)rows};
		src->rows += rows;
	}
	if (src->block_count == 0) {
		*err_block = 1;
		snprintf(err, err_len, "no blocks");
		rc = -EINVAL;
	}
out:
	free(names);
	if (rc)
		dim_native_source_free(src);
	else
		*err_block = 0;
	return rc;
}

/* Parses blocks [first, last) into part (dim_native_parse without the progress report). */
static int dim_nat_parse_blocks(const struct dim_native_source *src,
				const struct dim_layout_spec *ls, size_t first, size_t last,
				struct dim_part *part, char *err, size_t err_len, uint64_t *err_block)
{
	struct dim_nat_ctx c = {ls, part, err, err_len};
	for (size_t b = first; b < last; b++) {
		const struct dim_native_block *blk = &src->blocks[b];
		struct dim_rd r = {src->data + blk->offset, src->data + src->len};
		uint64_t cols, rows;
		*err_block = b + 1;
		if (!dim_nat_block_head(&r, &cols, &rows))
			return -EINVAL; /* the scan checked every header */
		int rc = dim_part_reserve(part, ls, rows);
		if (rc) {
			snprintf(err, err_len, "out of memory");
			return rc;
		}
		for (unsigned col = 0; col < cols; col++) {
			const uint8_t *name, *type;
			size_t name_len, type_len;
			if (!dim_rd_string(&r, &name, &name_len) || !dim_rd_string(&r, &type, &type_len))
				return -EINVAL;
			int tg = src->target[col];
			const struct dim_native_type *t = &src->types[col];
			if (tg < 0) {
				if (rows && !dim_nt_skip(t, 0, rows, &r))
					return -EINVAL;
				continue;
			}
			char colname[DIM_NAME_MAX];
			snprintf(colname, sizeof(colname), "%.*s", (int)name_len, (const char *)name);
			rc = dim_nat_column(&c, t, tg, part->rows, rows, &r, colname);
			if (rc)
				return rc;
		}
		dim_part_commit(part, ls, rows);
	}
	*err_block = 0;
	return 0;
}

int dim_native_parse(const struct dim_native_source *src, const struct dim_layout_spec *ls,
		     size_t first, size_t last, struct dim_part *part,
		     const struct dim_parse_ctl *ctl, char *err, size_t err_len,
		     uint64_t *err_block)
{
	size_t before = part->rows;
	int rc = dim_nat_parse_blocks(src, ls, first, last, part, err, err_len, err_block);
	if (rc)
		dim_parse_ctl_fail(ctl);
	dim_parse_ctl_rows(ctl, part->rows - before);
	return rc;
}

void dim_native_source_free(struct dim_native_source *src)
{
	free(src->blocks);
	free(src->types);
	free(src->type_names);
	src->blocks = NULL;
	src->types = NULL;
	src->type_names = NULL;
	src->block_count = 0;
}
