/*
 * native_read: bounds-checked decoder of Native blocks and TabSeparated text of their values.
 * See include/native_read.h for the contract and include/native.h for the format.
 */
#include "native_read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "civil.h"
#include "native_format.h"
#include "tsv.h"

#define NATIVE_RD_TYPE_NAME_MAX 1024
#define NATIVE_RD_ERR_MAX 256

struct rd_col_buf {
	struct native_rd_str *strs;
	uint64_t cap;
};

struct native_reader {
	struct native_rd_col *cols;
	struct rd_col_buf *bufs;
	uint32_t cols_cap;
	bool sequential; /* String values are not indexed */
	char err[NATIVE_RD_ERR_MAX];
	size_t err_off;
};

struct rd_cursor {
	struct native_reader *r;
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

int native_reader_init(struct native_reader **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

int native_reader_init_sequential(struct native_reader **out)
{
	int rc = native_reader_init(out);
	if (rc == 0)
		(*out)->sequential = true;
	return rc;
}

void native_reader_destroy(struct native_reader *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->cols_cap; i++)
		free(r->bufs[i].strs);
	free(r->bufs);
	free(r->cols);
	free(r);
}

const char *native_reader_error(const struct native_reader *r, size_t *offset)
{
	if (offset)
		*offset = r->err_off;
	return r->err;
}

__attribute__((format(printf, 3, 4))) static int rd_fail(struct rd_cursor *c, size_t at,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->r->err, sizeof(c->r->err), fmt, ap);
	va_end(ap);
	c->r->err_off = at;
	return -EBADMSG;
}

static size_t rd_left(const struct rd_cursor *c)
{
	return c->len - c->pos;
}

static int rd_varuint_fail(struct rd_cursor *c, size_t at, const char *problem,
			   const char *what, const char *col)
{
	if (col)
		return rd_fail(c, at, "%s: column '%s': %s", problem, col, what);
	return rd_fail(c, at, "%s: %s", problem, what);
}

/* Reads a VarUInt; col names the column in messages (NULL: block header). */
static int rd_varuint(struct rd_cursor *c, uint64_t *v, const char *what, const char *col)
{
	size_t at = c->pos;
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (c->pos >= c->len)
			return rd_varuint_fail(c, at, "truncated (end of input)", what, col);
		uint8_t byte = c->buf[c->pos++];
		if (shift == 63 && byte > 1)
			return rd_varuint_fail(c, at, "corrupt VarUInt (over 64 bits)", what, col);
		x |= (uint64_t)(byte & 0x7F) << shift;
		if (!(byte & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return rd_varuint_fail(c, at, "corrupt VarUInt (over 10 bytes)", what, col);
}

static int rd_bytes(struct rd_cursor *c, uint64_t n, const uint8_t **p, const char *what,
		    const char *col)
{
	if (n > rd_left(c))
		return rd_fail(c, c->pos, "truncated: column '%s': %s needs %llu bytes, %zu left",
			       col, what, (unsigned long long)n, rd_left(c));
	*p = c->buf + c->pos;
	c->pos += n;
	return 0;
}

static int rd_u64(struct rd_cursor *c, uint64_t *v, const char *what, const char *col)
{
	const uint8_t *p = NULL;
	int rc = rd_bytes(c, sizeof(*v), &p, what, col);
	if (rc == 0)
		memcpy(v, p, sizeof(*v));
	return rc;
}

static int rd_grow_strs(struct native_reader *r, uint32_t i, uint64_t count)
{
	struct rd_col_buf *b = &r->bufs[i];
	if (count <= b->cap)
		return 0;
	uint64_t cap = b->cap ? b->cap : 64;
	while (cap < count)
		cap *= 2;
	struct native_rd_str *s = realloc(b->strs, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	b->strs = s;
	b->cap = cap;
	return 0;
}

/* The slow path of rd_strings: one String at the cursor, every read checked and named. */
static int rd_string(struct rd_cursor *c, const uint8_t **p, uint64_t *n, const char *col)
{
	int rc = rd_varuint(c, n, "string length", col);
	return rc < 0 ? rc : rd_bytes(c, *n, p, "a string", col);
}

/*
 * Checks count serialized Strings at the cursor and moves past them; with strs, records each
 * (strs has room for count). A length of one byte whose string lies inside the input -- nearly
 * every string -- takes the fast path.
 */
static int rd_strings(struct rd_cursor *c, uint64_t count, struct native_rd_str *strs,
		      const char *col)
{
	const uint8_t *q = c->buf + c->pos, *end = c->buf + c->len;
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *p = NULL;
		uint64_t n;
		if (q < end && *q < 0x80 && *q < (size_t)(end - q)) {
			n = *q;
			p = q + 1;
		} else {
			c->pos = (size_t)(q - c->buf);
			int rc = rd_string(c, &p, &n, col);
			if (rc < 0)
				return rc;
		}
		q = p + n;
		if (strs)
			strs[i] = (struct native_rd_str){p, n};
	}
	c->pos = (size_t)(q - c->buf);
	return 0;
}

/* Decodes count values of the plain type of t; String values are indexed if index is set. */
static int rd_values(struct rd_cursor *c, uint32_t ci, const struct chtype *t, uint64_t count,
		     bool index, struct native_rd_values *out, const char *col)
{
	*out = (struct native_rd_values){.data = c->buf + c->pos, .count = count};
	if (t->kind != CHTYPE_STRING) {
		size_t w = chtype_width(t);
		if (count > rd_left(c) / w)
			return rd_fail(c, c->pos,
				       "truncated: column '%s': %llu values of %zu bytes, %zu left",
				       col, (unsigned long long)count, w, rd_left(c));
		out->bytes = count * w;
		c->pos += out->bytes;
		return 0;
	}
	/* Every string takes at least its length byte. */
	if (count > rd_left(c))
		return rd_fail(c, c->pos, "truncated: column '%s': %llu strings, %zu bytes left", col,
			       (unsigned long long)count, rd_left(c));
	if (index) {
		int rc = rd_grow_strs(c->r, ci, count);
		if (rc < 0)
			return rc;
		out->strs = c->r->bufs[ci].strs;
	}
	size_t start = c->pos;
	int rc = rd_strings(c, count, out->strs, col);
	out->bytes = c->pos - start;
	return rc;
}

/* The prefix of a LowCardinality column, before its (array offsets and) data: the key version. */
static int rd_lc_prefix(struct rd_cursor *c, const char *name)
{
	uint64_t version = 0;
	size_t at = c->pos;
	int rc = rd_u64(c, &version, "the LowCardinality key version", name);
	if (rc < 0)
		return rc;
	if (version != NATIVE_LC_KEY_VERSION)
		return rd_fail(c, at, "corrupt: column '%s': LowCardinality key version %llu, not 1",
			       name, (unsigned long long)version);
	return 0;
}

/* Reads the index type of a LowCardinality part and sets col->index_width from it. */
static int rd_lc_index_type(struct rd_cursor *c, struct native_rd_col *col, const char *name)
{
	uint64_t type = 0;
	size_t at = c->pos;
	int rc = rd_u64(c, &type, "the LowCardinality index type", name);
	if (rc < 0)
		return rc;
	uint64_t code = type & NATIVE_LC_INDEX_CODE_MASK; /* ClickHouse ignores unknown flags */
	if (code > NATIVE_LC_INDEX_CODE_MAX)
		return rd_fail(c, at, "corrupt: column '%s': LowCardinality index type 0x%llx", name,
			       (unsigned long long)type);
	if (type & NATIVE_LC_NEED_GLOBAL_DICTIONARY)
		return rd_fail(c, at, "corrupt: column '%s': a global LowCardinality dictionary is "
				      "not allowed in Native", name);
	if (!(type & NATIVE_LC_HAS_ADDITIONAL_KEYS))
		return rd_fail(c, at, "corrupt: column '%s': LowCardinality block without keys",
			       name);
	col->index_width = native_lc_index_width((uint32_t)code);
	return 0;
}

/*
 * rd_max_u16/u32/u64: the largest of n little-endian values of the type at p. One function per
 * width, its accumulator of that type, so that each loop vectorizes at the width's own lanes.
 */
#define RD_MAX_FN(name, type)                                                                     \
	static type name(const uint8_t *p, uint64_t n)                                            \
	{                                                                                         \
		type m = 0;                                                                       \
		for (uint64_t i = 0; i < n; i++) {                                                \
			type k;                                                                   \
			memcpy(&k, p + sizeof(type) * i, sizeof(type));                           \
			m = k > m ? k : m;                                                        \
		}                                                                                 \
		return m;                                                                         \
	}
RD_MAX_FN(rd_max_u16, uint16_t)
RD_MAX_FN(rd_max_u32, uint32_t)
RD_MAX_FN(rd_max_u64, uint64_t)
#undef RD_MAX_FN

/* The largest of n indexes of width w at p: one loop per width, so that it vectorizes. */
static uint64_t rd_index_max(const uint8_t *p, uint64_t n, uint32_t w)
{
	switch (w) {
	case 1: {
		uint8_t m = 0;
		uint64_t i = 0;
#if defined(__SSE2__)
		__m128i vm = _mm_setzero_si128();
		for (; i + 16 <= n; i += 16)
			vm = _mm_max_epu8(vm, _mm_loadu_si128((const void *)(p + i)));
		uint8_t lanes[16];
		_mm_storeu_si128((void *)lanes, vm);
		for (unsigned k = 0; k < 16; k++)
			m = lanes[k] > m ? lanes[k] : m;
#endif
		for (; i < n; i++)
			m = p[i] > m ? p[i] : m;
		return m;
	}
	case 2:
		return rd_max_u16(p, n);
	case 4:
		return rd_max_u32(p, n);
	default:
		return rd_max_u64(p, n);
	}
}

/* Checks that the n indexes at col->index refer to keys (< nkeys) and names the first that does
 * not. */
static int rd_lc_check_index(struct rd_cursor *c, const struct native_rd_col *col, uint64_t n,
			     uint64_t nkeys, const char *name)
{
	uint32_t w = col->index_width;
	if (rd_index_max(col->index, n, w) < nkeys)
		return 0;
	for (uint64_t i = 0;; i++) {
		uint64_t k = 0;
		memcpy(&k, col->index + i * w, w);
		if (k >= nkeys)
			return rd_fail(c, c->pos + i * w,
				       "corrupt: column '%s': row %llu refers to key %llu of %llu", name,
				       (unsigned long long)i, (unsigned long long)k,
				       (unsigned long long)nkeys);
	}
}

/* The keys and indexes of a LowCardinality column of n values (its prefix was read). */
static int rd_low_cardinality(struct rd_cursor *c, uint32_t ci, struct native_rd_col *col,
			      uint64_t n, const char *name)
{
	col->index_width = 1;
	if (n == 0)
		return 0; /* inside an Array: no part at all */
	int rc = rd_lc_index_type(c, col, name);
	if (rc < 0)
		return rc;
	uint64_t nkeys = 0, nrows = 0;
	size_t at = c->pos;
	rc = rd_u64(c, &nkeys, "the LowCardinality key count", name);
	if (rc < 0)
		return rc;
	if (nkeys == 0)
		return rd_fail(c, at, "corrupt: column '%s': LowCardinality block without keys", name);
	if (nkeys > rd_left(c))
		return rd_fail(c, at, "truncated: column '%s': %llu LowCardinality keys with %zu "
				      "bytes left", name, (unsigned long long)nkeys, rd_left(c));
	rc = rd_values(c, ci, &col->type, nkeys, true, &col->values, name);
	if (rc < 0)
		return rc;
	at = c->pos;
	rc = rd_u64(c, &nrows, "the LowCardinality row count", name);
	if (rc < 0)
		return rc;
	if (nrows != n)
		return rd_fail(c, at, "unsupported: column '%s': LowCardinality part of %llu rows in a "
				      "block of %llu", name, (unsigned long long)nrows,
			       (unsigned long long)n);
	if (n > rd_left(c) / col->index_width)
		return rd_fail(c, c->pos, "truncated: column '%s': %llu indexes of %u bytes, %zu left",
			       name, (unsigned long long)n, col->index_width, rd_left(c));
	col->index = c->buf + c->pos;
	rc = rd_lc_check_index(c, col, n, nkeys, name);
	c->pos += n * col->index_width;
	return rc;
}

/* Array level k's offsets: *n (the previous level's count) of them; *n becomes this level's. */
static int rd_array_offsets(struct rd_cursor *c, struct native_rd_col *col, unsigned k,
			    uint64_t *n, const char *name)
{
	if (*n > rd_left(c) / 8)
		return rd_fail(c, c->pos, "truncated: column '%s': %llu array offsets, %zu bytes left",
			       name, (unsigned long long)*n, rd_left(c));
	const uint8_t *p = c->buf + c->pos;
	uint64_t last = 0;
	for (uint64_t i = 0; i < *n; i++) {
		uint64_t v;
		memcpy(&v, p + 8 * i, 8);
		if (v < last)
			return rd_fail(c, c->pos + 8 * i, "corrupt: column '%s': array offset %llu "
					      "below the one before it", name, (unsigned long long)v);
		last = v;
	}
	col->offsets[k] = p;
	c->pos += *n * 8;
	/* Every element takes at least one byte. */
	if (last > rd_left(c))
		return rd_fail(c, c->pos, "truncated: column '%s': %llu array elements, %zu bytes "
				      "left", name, (unsigned long long)last, rd_left(c));
	*n = last;
	return 0;
}

/* The column's name and type; *name is a printable copy of the name for messages. */
static int rd_column_head(struct rd_cursor *c, struct native_rd_col *col, char *name,
			  size_t name_cap)
{
	uint64_t n = 0;
	const uint8_t *p = NULL;
	int rc = rd_varuint(c, &n, "column name length", NULL);
	if (rc == 0)
		rc = rd_bytes(c, n, &p, "the column name", "?");
	if (rc < 0)
		return rc;
	col->name = (const char *)p;
	col->name_len = n;
	snprintf(name, name_cap, "%.*s", (int)(n < 80 ? n : 80), col->name);
	size_t at = c->pos;
	rc = rd_varuint(c, &n, "type name length", name);
	if (rc < 0)
		return rc;
	if (n > NATIVE_RD_TYPE_NAME_MAX)
		return rd_fail(c, at, "corrupt: column '%s': type name of %llu bytes", name,
			       (unsigned long long)n);
	at = c->pos;
	rc = rd_bytes(c, n, &p, "the type name", name);
	if (rc < 0)
		return rc;
	col->type_name = (const char *)p;
	col->type_name_len = n;
	char err[200];
	if (chtype_parse(col->type_name, n, &col->type, err, sizeof(err)) < 0)
		return rd_fail(c, at, "column '%s': type '%.*s': %s", name,
			       (int)(n < 96 ? n : 96), col->type_name, err);
	col->width = (uint32_t)chtype_width(&col->type);
	return 0;
}

/*
 * One column of a block of rows rows. Serialization order: the LowCardinality prefix, the offsets
 * of each Array level, then the values (null map and values, or LowCardinality keys and indexes).
 */
static int rd_column(struct rd_cursor *c, uint32_t ci, uint64_t rows, struct native_rd_col *col)
{
	char name[96];
	memset(col, 0, sizeof(*col));
	int rc = rd_column_head(c, col, name, sizeof(name));
	if (rc < 0 || rows == 0)
		return rc; /* an empty block carries no data */
	const struct chtype *t = &col->type;
	if (t->low_cardinality && (rc = rd_lc_prefix(c, name)) < 0)
		return rc;
	uint64_t n = rows;
	for (unsigned k = 0; k < t->arrays; k++) {
		rc = rd_array_offsets(c, col, k, &n, name);
		if (rc < 0)
			return rc;
	}
	col->count = n;
	if (t->low_cardinality)
		return rd_low_cardinality(c, ci, col, n, name);
	if (t->nullable) {
		rc = rd_bytes(c, n, &col->nulls, "the null map", name);
		if (rc < 0)
			return rc;
	}
	return rd_values(c, ci, t, n, !c->r->sequential, &col->values, name);
}

static int rd_grow_cols(struct native_reader *r, uint64_t ncols)
{
	if (ncols <= r->cols_cap)
		return 0;
	struct native_rd_col *cols = realloc(r->cols, ncols * sizeof(*cols));
	if (!cols)
		return -ENOMEM;
	r->cols = cols;
	struct rd_col_buf *bufs = realloc(r->bufs, ncols * sizeof(*bufs));
	if (!bufs)
		return -ENOMEM;
	memset(bufs + r->cols_cap, 0, (ncols - r->cols_cap) * sizeof(*bufs));
	r->bufs = bufs;
	r->cols_cap = (uint32_t)ncols;
	return 0;
}

int native_reader_next(struct native_reader *r, const uint8_t *buf, size_t len, size_t *off,
		       struct native_rd_block *blk)
{
	struct rd_cursor c = {.r = r, .buf = buf, .len = len, .pos = *off};
	r->err[0] = '\0';
	r->err_off = *off;
	if (c.pos >= len)
		return 0;
	uint64_t ncols = 0, rows = 0;
	int rc = rd_varuint(&c, &ncols, "column count", NULL);
	if (rc < 0)
		return rc;
	if (ncols > NATIVE_RD_COLUMNS_MAX)
		return rd_fail(&c, *off, "corrupt: block of %llu columns (at most %d)",
			       (unsigned long long)ncols, NATIVE_RD_COLUMNS_MAX);
	size_t at = c.pos;
	rc = rd_varuint(&c, &rows, "row count", NULL);
	if (rc < 0)
		return rc;
	if (ncols == 0 && rows > 0)
		return rd_fail(&c, at, "corrupt: block of %llu rows without columns",
			       (unsigned long long)rows);
	/* Every value of every type takes at least one byte. */
	if (rows > rd_left(&c))
		return rd_fail(&c, at, "truncated: block of %llu rows with %zu bytes left",
			       (unsigned long long)rows, rd_left(&c));
	rc = rd_grow_cols(r, ncols);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < ncols; i++) {
		rc = rd_column(&c, i, rows, &r->cols[i]);
		if (rc < 0)
			return rc;
	}
	blk->rows = rows;
	blk->ncols = (uint32_t)ncols;
	blk->cols = r->cols;
	blk->offset = *off;
	blk->size = c.pos - *off;
	*off = c.pos;
	return 1;
}

/* ---- values -------------------------------------------------------------------------------- */

/* Position of row's value in c->values (the key number for LowCardinality). */
static uint64_t rd_pos(const struct native_rd_col *c, uint64_t row)
{
	if (!c->type.low_cardinality)
		return row;
	uint64_t k = 0;
	memcpy(&k, c->index + row * c->index_width, c->index_width);
	return k;
}

bool native_rd_is_null(const struct native_rd_col *c, uint64_t row)
{
	if (c->type.arrays)
		return false;
	if (c->type.low_cardinality)
		return c->type.nullable && rd_pos(c, row) == 0;
	return c->nulls && c->nulls[row];
}

static uint64_t rd_fixed(const struct native_rd_col *c, uint64_t pos)
{
	uint64_t v = 0;
	memcpy(&v, c->values.data + pos * c->width, c->width);
	return v;
}

int native_rd_u64(const struct native_rd_col *c, uint64_t row, uint64_t *v)
{
	if (c->type.arrays)
		return -EINVAL;
	switch (c->type.kind) {
	case CHTYPE_UINT8:
	case CHTYPE_UINT16:
	case CHTYPE_UINT32:
	case CHTYPE_UINT64:
	case CHTYPE_BOOL:
	case CHTYPE_DATE:
	case CHTYPE_DATETIME:
	case CHTYPE_IPV4:
		*v = rd_fixed(c, rd_pos(c, row));
		return 0;
	default:
		return -EINVAL;
	}
}

int native_rd_i64(const struct native_rd_col *c, uint64_t row, int64_t *v)
{
	if (c->type.arrays)
		return -EINVAL;
	switch (c->type.kind) {
	case CHTYPE_INT8:
	case CHTYPE_INT16:
	case CHTYPE_INT32:
	case CHTYPE_INT64:
	case CHTYPE_DATE32:
	case CHTYPE_DATETIME64:
		break;
	default:
		return -EINVAL;
	}
	uint64_t x = rd_fixed(c, rd_pos(c, row));
	unsigned bits = 8 * c->width;
	if (bits < 64 && (x >> (bits - 1)) & 1)
		x |= ~0ull << bits; /* sign-extend */
	*v = (int64_t)x;
	return 0;
}

int native_rd_f64(const struct native_rd_col *c, uint64_t row, double *v)
{
	if (c->type.arrays)
		return -EINVAL;
	uint64_t pos = rd_pos(c, row);
	if (c->type.kind == CHTYPE_FLOAT32) {
		float f;
		memcpy(&f, c->values.data + pos * 4, 4);
		*v = f;
		return 0;
	}
	if (c->type.kind == CHTYPE_FLOAT64) {
		memcpy(v, c->values.data + pos * 8, 8);
		return 0;
	}
	return -EINVAL;
}

int native_rd_str(const struct native_rd_col *c, uint64_t row, const uint8_t **ptr, size_t *len)
{
	if (c->type.arrays)
		return -EINVAL;
	uint64_t pos = rd_pos(c, row);
	if (c->type.kind == CHTYPE_STRING && c->values.strs) {
		*ptr = c->values.strs[pos].ptr;
		*len = c->values.strs[pos].len;
		return 0;
	}
	if (c->type.kind == CHTYPE_FIXED_STRING) {
		*ptr = c->values.data + pos * c->width;
		*len = c->width;
		return 0;
	}
	return -EINVAL;
}

/* ---- text ---------------------------------------------------------------------------------- */

static ssize_t rd_emit(const char *s, size_t n, char *buf, size_t cap)
{
	if (n < cap) {
		memcpy(buf, s, n);
		buf[n] = '\0';
	}
	return (ssize_t)n;
}

/*
 * Shortest decimal that reads back as the same value, laid out as ClickHouse prints floats:
 * positional when 1e-6 <= |v| < 1e21, else d[.ddd]e[-]X ("1e-7", "1.5e300", "1e21").
 */
static size_t format_float(char *out, double v, bool single)
{
	if (isnan(v))
		return (size_t)sprintf(out, "nan");
	if (isinf(v))
		return (size_t)sprintf(out, v < 0 ? "-inf" : "inf");
	if (v == 0)
		return (size_t)sprintf(out, signbit(v) ? "-0" : "0");
	char tmp[48];
	int max_digits = single ? 9 : 17;
	for (int d = 1; d <= max_digits; d++) {
		snprintf(tmp, sizeof(tmp), "%.*e", d - 1, v);
		if (single ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
			break;
	}
	char digits[24];
	int nd = 0;
	const char *s = tmp;
	bool neg = *s == '-';
	if (neg)
		s++;
	for (; *s && *s != 'e'; s++)
		if (*s != '.' && nd < (int)sizeof(digits))
			digits[nd++] = *s;
	int e = *s == 'e' ? atoi(s + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	char *o = out;
	if (neg)
		*o++ = '-';
	if (e >= -6 && e < 21) {
		if (e < 0) {
			*o++ = '0';
			*o++ = '.';
			for (int i = 0; i < -e - 1; i++)
				*o++ = '0';
			memcpy(o, digits, (size_t)nd);
			o += nd;
		} else if (e >= nd - 1) {
			memcpy(o, digits, (size_t)nd);
			o += nd;
			for (int i = 0; i < e - (nd - 1); i++)
				*o++ = '0';
		} else {
			memcpy(o, digits, (size_t)e + 1);
			o += e + 1;
			*o++ = '.';
			memcpy(o, digits + e + 1, (size_t)(nd - e - 1));
			o += nd - e - 1;
		}
	} else {
		*o++ = digits[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)nd - 1);
			o += nd - 1;
		}
		o += sprintf(o, "e%d", e);
	}
	*o = '\0';
	return (size_t)(o - out);
}

static int format_date(char *out, int64_t days)
{
	int64_t y;
	unsigned m, d;
	civil_date_from_days(days, &y, &m, &d);
	return sprintf(out, "%04lld-%02u-%02u", (long long)y, m, d);
}

static int format_datetime(char *out, int64_t secs)
{
	int64_t days = secs / 86400;
	int64_t rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int n = format_date(out, days);
	return n + sprintf(out + n, " %02d:%02d:%02d", (int)(rem / 3600), (int)(rem / 60 % 60),
			   (int)(rem % 60));
}

static bool tz_is_utc(const char *tz)
{
	static const char *const utc[] = {"",	    "UTC",	   "Etc/UTC", "GMT",
					  "Etc/GMT", "UCT",	   "Etc/UCT", "Universal",
					  "Zulu",    "Etc/Universal", "Etc/Zulu"};
	for (size_t i = 0; i < sizeof(utc) / sizeof(utc[0]); i++)
		if (strcmp(tz, utc[i]) == 0)
			return true;
	return false;
}

/* Integers, Bool and floats as text into tmp: its length, or -ENOTSUP for another kind. */
static int rd_text_number(const struct native_rd_col *c, uint64_t row, char *tmp)
{
	uint64_t u;
	int64_t i;
	double f;
	switch (c->type.kind) {
	case CHTYPE_UINT8:
	case CHTYPE_UINT16:
	case CHTYPE_UINT32:
	case CHTYPE_UINT64:
		native_rd_u64(c, row, &u);
		return sprintf(tmp, "%llu", (unsigned long long)u);
	case CHTYPE_BOOL:
		native_rd_u64(c, row, &u);
		return sprintf(tmp, "%s", u ? "true" : "false");
	case CHTYPE_INT8:
	case CHTYPE_INT16:
	case CHTYPE_INT32:
	case CHTYPE_INT64:
		native_rd_i64(c, row, &i);
		return sprintf(tmp, "%lld", (long long)i);
	case CHTYPE_FLOAT32:
	case CHTYPE_FLOAT64:
		native_rd_f64(c, row, &f);
		return (int)format_float(tmp, f, c->type.kind == CHTYPE_FLOAT32);
	default:
		return -ENOTSUP;
	}
}

/* DateTime64(P): the seconds, then P digits of the fraction. */
static int rd_text_datetime64(const struct native_rd_col *c, uint64_t row, char *tmp)
{
	int64_t i;
	native_rd_i64(c, row, &i);
	int64_t scale = 1;
	for (uint32_t k = 0; k < c->type.precision; k++)
		scale *= 10;
	int64_t secs = i / scale, frac = i % scale;
	if (frac < 0) {
		frac += scale;
		secs--;
	}
	int n = format_datetime(tmp, secs);
	if (c->type.precision > 0)
		n += sprintf(tmp + n, ".%0*lld", (int)c->type.precision, (long long)frac);
	return n;
}

/* Dates and times (UTC only) as text into tmp: its length, or -ENOTSUP. */
static int rd_text_time(const struct native_rd_col *c, uint64_t row, char *tmp)
{
	uint64_t u;
	int64_t i;
	switch (c->type.kind) {
	case CHTYPE_DATE:
		native_rd_u64(c, row, &u);
		return format_date(tmp, (int64_t)u);
	case CHTYPE_DATE32:
		native_rd_i64(c, row, &i);
		return format_date(tmp, i);
	case CHTYPE_DATETIME:
		if (!tz_is_utc(c->type.tz))
			return -ENOTSUP;
		native_rd_u64(c, row, &u);
		return format_datetime(tmp, (int64_t)u);
	case CHTYPE_DATETIME64:
		return tz_is_utc(c->type.tz) ? rd_text_datetime64(c, row, tmp) : -ENOTSUP;
	default:
		return -ENOTSUP;
	}
}

/* UUID and IPv4 as text into tmp: its length, or -ENOTSUP for another kind. */
static int rd_text_address(const struct native_rd_col *c, uint64_t row, char *tmp)
{
	if (c->type.kind == CHTYPE_UUID) {
		uint64_t hi, lo;
		const uint8_t *p = c->values.data + rd_pos(c, row) * 16;
		memcpy(&hi, p, 8);
		memcpy(&lo, p + 8, 8);
		return sprintf(tmp, "%08llx-%04llx-%04llx-%04llx-%012llx",
			       (unsigned long long)(hi >> 32), (unsigned long long)(hi >> 16 & 0xFFFF),
			       (unsigned long long)(hi & 0xFFFF), (unsigned long long)(lo >> 48),
			       (unsigned long long)(lo & 0xFFFFFFFFFFFFull));
	}
	if (c->type.kind == CHTYPE_IPV4) {
		uint64_t u;
		native_rd_u64(c, row, &u);
		return sprintf(tmp, "%u.%u.%u.%u", (unsigned)(u >> 24), (unsigned)(u >> 16 & 0xFF),
			       (unsigned)(u >> 8 & 0xFF), (unsigned)(u & 0xFF));
	}
	return -ENOTSUP;
}

ssize_t native_rd_format_text(const struct native_rd_col *c, uint64_t row, char *buf, size_t cap)
{
	if (c->type.arrays)
		return -ENOTSUP;
	if (native_rd_is_null(c, row))
		return rd_emit("\\N", 2, buf, cap);
	if (c->type.kind == CHTYPE_STRING || c->type.kind == CHTYPE_FIXED_STRING) {
		const uint8_t *p;
		size_t len;
		if (native_rd_str(c, row, &p, &len) < 0)
			return -EINVAL;
		return (ssize_t)tsv_escape(buf, cap, p, len, TSV_ESCAPE_QUOTE);
	}
	char tmp[80];
	int n = rd_text_number(c, row, tmp);
	if (n == -ENOTSUP)
		n = rd_text_time(c, row, tmp);
	if (n == -ENOTSUP)
		n = rd_text_address(c, row, tmp);
	return n < 0 ? n : rd_emit(tmp, (size_t)n, buf, cap);
}
