/*
 * native: ClickHouse Native block encoder. The format and its invariants are documented in
 * include/native.h; this file keeps every column in the shape it is written in, so encoding is a
 * memcpy per fixed-width column, per String column and per local dictionary.
 */
#include "native.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "native_format.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "native: the encoder stores values in host order, which must be little-endian"
#endif

/* Upper bound of a column's dict_keys_max, keeping key counts and table sizes in 32 bits. */
#define NATIVE_DICT_KEYS_MAX (1u << 30)
#define NATIVE_ALIGN 64

static inline uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
	return p + sizeof(v);
}

/* ---- types ------------------------------------------------------------------------------- */

/* The Native value types (native.h). */
static bool native_type_supported(const struct chtype *t)
{
	if (t->arrays)
		return false;
	switch (t->kind) {
	case CHTYPE_UUID:
	case CHTYPE_BOOL:
		return !t->low_cardinality;
	case CHTYPE_UINT8:
	case CHTYPE_UINT16:
	case CHTYPE_UINT32:
	case CHTYPE_UINT64:
	case CHTYPE_INT8:
	case CHTYPE_INT16:
	case CHTYPE_INT32:
	case CHTYPE_INT64:
	case CHTYPE_FLOAT32:
	case CHTYPE_FLOAT64:
	case CHTYPE_STRING:
	case CHTYPE_FIXED_STRING:
	case CHTYPE_DATE:
	case CHTYPE_DATE32:
	case CHTYPE_DATETIME:
	case CHTYPE_DATETIME64:
	case CHTYPE_IPV4:
		return true;
	default:
		return false;
	}
}

/* The types native_block_init takes besides the value types: UUID and IPv6 (16 bytes each), and
 * one level of Array of String or Int8..Int64. */
static bool native_encoder_extra(const struct chtype *t)
{
	if (t->arrays == 1)
		return !t->nullable && !t->low_cardinality &&
		       (t->kind == CHTYPE_STRING || t->kind == CHTYPE_INT8 || t->kind == CHTYPE_INT16 ||
			t->kind == CHTYPE_INT32 || t->kind == CHTYPE_INT64);
	return !t->arrays && !t->low_cardinality && (t->kind == CHTYPE_UUID || t->kind == CHTYPE_IPV6);
}

int native_encoder_type_parse(const char *name, size_t len, struct chtype *out, char *err,
			      size_t err_cap)
{
	struct chtype t;
	int rc = chtype_parse(name, len, &t, err, err_cap);
	if (rc < 0)
		return rc;
	if (!native_type_supported(&t) && !native_encoder_extra(&t)) {
		if (err && err_cap > 0)
			snprintf(err, err_cap, "not a type the Native encoder writes (not wide "
				 "integers, Decimal, Enum, nested Arrays, Arrays of other than String "
				 "and Int8..Int64, LowCardinality of other than String)");
		return -EINVAL;
	}
	if (t.low_cardinality && t.kind != CHTYPE_STRING) {
		if (err && err_cap > 0)
			snprintf(err, err_cap, "the encoder writes LowCardinality only of String or "
				 "Nullable(String)");
		return -EINVAL;
	}
	*out = t;
	return 0;
}

int native_type_parse(const char *name, size_t len, struct chtype *out, char *err,
		      size_t err_cap)
{
	struct chtype t;
	int rc = chtype_parse(name, len, &t, err, err_cap);
	if (rc < 0)
		return rc;
	if (!native_type_supported(&t)) {
		if (err && err_cap > 0)
			snprintf(err, err_cap, "not a type the Native encoder and reader handle (not "
				 "Arrays, wide integers, Decimal, Enum, IPv6, LowCardinality of UUID or "
				 "Bool)");
		return -EINVAL;
	}
	*out = t;
	return 0;
}

/* ---- block --------------------------------------------------------------------------------- */

enum col_store {
	ST_FIXED,        /* numbers and dates: rows_max values of width bytes */
	ST_FIXED_STRING, /* rows_max values of width bytes: FixedString(N), UUID, IPv6 */
	ST_STRING,       /* serialized String data (VarUInt length, bytes), bytes_max bytes */
	ST_LC_LOCAL,     /* uint32 indexes + deduplicating dictionary */
	ST_LC_EXTERNAL,  /* uint32 indexes + used codes of a caller's dictionary */
	ST_ARRAY,        /* rows_max UInt64 cumulative element counts + the elements' data: Strings
			    serialized, or integers of width bytes; bytes_max bytes */
};

struct ext_slot {
	uint32_t gen;
	uint32_t key;
};

enum col_class {
	CLS_UNSIGNED,
	CLS_SIGNED,
	CLS_FLOAT,
	CLS_BYTES,
};

struct native_col {
	struct chtype type;
	enum col_store store;
	enum col_class cls;
	uint32_t width;  /* bytes per value of ST_FIXED / ST_FIXED_STRING, per element of an
			    Array of integers (0: of String) */
	bool exact;      /* ST_FIXED_STRING of UUID or IPv6: a value is exactly width bytes */
	bool uuid;       /* UUID: its two 8-byte halves are stored byte-reversed */
	uint64_t *offsets; /* ST_ARRAY: rows_max cumulative element counts */
	uint64_t umax;   /* CLS_UNSIGNED range */
	int64_t smin;    /* CLS_SIGNED range */
	int64_t smax;
	uint64_t stamp;  /* block row_seq of the last append: the value belongs to the pending row */
	uint8_t *nulls;  /* Nullable (not LowCardinality): rows_max bytes, else NULL */
	uint8_t *data;   /* ST_FIXED, ST_FIXED_STRING, ST_STRING */
	uint32_t *idx;   /* LowCardinality: rows_max key numbers */
	size_t used;     /* ST_STRING, ST_ARRAY: data bytes; ST_LC_LOCAL: arena bytes */
	size_t row_start; /* ST_STRING, ST_ARRAY: data bytes before the pending rows' values */
	size_t bytes_max; /* ST_STRING, ST_ARRAY data / ST_LC_LOCAL arena capacity */

	/* LowCardinality (both modes) */
	uint32_t nkeys;    /* keys of the block, default keys included */
	uint32_t ndefault; /* 1, or 2 for Nullable: key 0 = NULL, key 1 = "" */
	uint32_t keys_cap; /* most keys, default keys included */
	uint32_t dict_keys_max;

	/* ST_LC_LOCAL: keys serialized back to back in data ("arena"); hash table of key numbers */
	uint32_t *key_off; /* offset of key k's bytes in the arena */
	uint32_t *key_len;
	uint32_t *key_pos; /* table slot of key k, to clear the table in O(keys) */
	uint64_t *table;   /* (hash >> 32) << 32 | key number; 0 = empty */
	uint32_t table_mask;
	uint32_t last_key; /* key number of the previous append (0: none), a cheap repeat check */

	/* ST_LC_EXTERNAL */
	const struct native_str *dict;
	uint32_t dict_n;
	size_t dict_bytes;     /* serialized size of the whole dictionary */
	size_t ext_key_bytes;  /* serialized size of the block's keys */
	uint32_t gen;          /* block generation: slots[code].gen == gen: code has a key */
	struct ext_slot *slots; /* per code; one load finds both fields */
	uint32_t *used_codes;  /* key number - ndefault -> code, in order of first appearance */

	uint8_t *header; /* String name, String type */
	uint32_t header_len;
	char name[NATIVE_NAME_MAX];
};

struct native_block {
	uint32_t ncols;
	uint32_t rows;
	uint32_t rows_max;
	uint32_t row_filled; /* columns appended in the pending row (or rows) */
	uint32_t pending;    /* rows opened by native_rows_begin, 0 for one row at a time */
	uint64_t row_seq;    /* identifies the pending row; bumped by commit, rollback and reset */
	struct native_col *cols;
	uint8_t *region;     /* every per-column buffer */
	size_t region_size;
};

/* Hands out 64-byte aligned pieces of one region; with base == NULL it only measures. */
struct carver {
	uint8_t *base;
	size_t off;
};

static void *carve(struct carver *cv, size_t size)
{
	size_t at = (cv->off + NATIVE_ALIGN - 1) & ~(size_t)(NATIVE_ALIGN - 1);
	cv->off = at + size;
	return cv->base ? cv->base + at : NULL;
}

static uint32_t pow2_at_least(uint64_t x)
{
	uint64_t n = 16;
	while (n < x)
		n <<= 1;
	return (uint32_t)n;
}

static void block_layout(struct native_block *b, struct carver *cv)
{
	size_t rows_max = b->rows_max;
	for (uint32_t i = 0; i < b->ncols; i++) {
		struct native_col *c = &b->cols[i];
		c->header = carve(cv, c->header_len);
		if (c->type.nullable && !c->type.low_cardinality)
			c->nulls = carve(cv, rows_max);
		switch (c->store) {
		case ST_FIXED:
		case ST_FIXED_STRING:
			c->data = carve(cv, rows_max * c->width);
			break;
		case ST_STRING:
			c->data = carve(cv, c->bytes_max);
			break;
		case ST_ARRAY:
			c->offsets = carve(cv, rows_max * sizeof(uint64_t));
			c->data = carve(cv, c->bytes_max);
			break;
		case ST_LC_LOCAL:
			c->idx = carve(cv, rows_max * sizeof(uint32_t));
			c->data = carve(cv, c->bytes_max);
			c->key_off = carve(cv, (size_t)c->keys_cap * sizeof(uint32_t));
			c->key_len = carve(cv, (size_t)c->keys_cap * sizeof(uint32_t));
			c->key_pos = carve(cv, (size_t)c->keys_cap * sizeof(uint32_t));
			c->table = carve(cv, ((size_t)c->table_mask + 1) * sizeof(uint64_t));
			break;
		case ST_LC_EXTERNAL:
			c->idx = carve(cv, rows_max * sizeof(uint32_t));
			c->slots = carve(cv, (size_t)c->dict_keys_max * sizeof(struct ext_slot));
			c->used_codes = carve(cv, (size_t)c->dict_keys_max * sizeof(uint32_t));
			break;
		}
	}
}

/* Type name as ClickHouse's NativeWriter writes it at revision 0: a top-level DateTime('tz')
 * loses its time zone (older readers did not know the parameter). */
static int header_type_name(const struct chtype *t, char *buf, size_t cap)
{
	if (t->kind == CHTYPE_DATETIME && !t->nullable && !t->low_cardinality) {
		struct chtype plain = *t;
		plain.tz[0] = '\0';
		return chtype_name(&plain, buf, cap);
	}
	return chtype_name(t, buf, cap);
}

static void col_set_range(struct native_col *c)
{
	switch (c->type.kind) {
	case CHTYPE_UINT8:
		c->umax = UINT8_MAX;
		break;
	case CHTYPE_BOOL:
		c->umax = 1;
		break;
	case CHTYPE_UINT16:
	case CHTYPE_DATE:
		c->umax = UINT16_MAX;
		break;
	case CHTYPE_UINT32:
	case CHTYPE_DATETIME:
	case CHTYPE_IPV4:
		c->umax = UINT32_MAX;
		break;
	case CHTYPE_UINT64:
		c->umax = UINT64_MAX;
		break;
	case CHTYPE_INT8:
		c->cls = CLS_SIGNED;
		c->smin = INT8_MIN;
		c->smax = INT8_MAX;
		break;
	case CHTYPE_INT16:
		c->cls = CLS_SIGNED;
		c->smin = INT16_MIN;
		c->smax = INT16_MAX;
		break;
	case CHTYPE_INT32:
	case CHTYPE_DATE32:
		c->cls = CLS_SIGNED;
		c->smin = INT32_MIN;
		c->smax = INT32_MAX;
		break;
	case CHTYPE_INT64:
	case CHTYPE_DATETIME64:
		c->cls = CLS_SIGNED;
		c->smin = INT64_MIN;
		c->smax = INT64_MAX;
		break;
	case CHTYPE_FLOAT32:
	case CHTYPE_FLOAT64:
		c->cls = CLS_FLOAT;
		break;
	default:
		c->cls = CLS_BYTES;
		break;
	}
}

/* The column's name and type, and that the encoder writes that type. */
static int col_init_type(struct native_col *c, const struct native_column_spec *s, uint32_t i)
{
	char err[256];
	if (!s->name || !s->type) {
		log_error("native", "column %u: name and type are required", i);
		return -EINVAL;
	}
	size_t name_len = strlen(s->name);
	if (name_len == 0 || name_len >= NATIVE_NAME_MAX) {
		log_error("native", "column %u: name must be 1..%d bytes", i, NATIVE_NAME_MAX - 1);
		return -EINVAL;
	}
	memcpy(c->name, s->name, name_len + 1);
	if (native_encoder_type_parse(s->type, strlen(s->type), &c->type, err, sizeof(err)) < 0) {
		log_error("native", "column '%s': type '%s': %s", c->name, s->type, err);
		return -EINVAL;
	}
	return 0;
}

/* A LowCardinality column: its dictionary mode and bounds. */
static int col_init_lc(struct native_col *c, const struct native_column_spec *s,
		       uint32_t rows_max)
{
	c->ndefault = c->type.nullable ? 2 : 1;
	c->nkeys = c->ndefault;
	if (s->dict_mode == NATIVE_DICT_EXTERNAL) {
		c->store = ST_LC_EXTERNAL;
		if (s->dict_keys_max == 0 || s->dict_keys_max > NATIVE_DICT_KEYS_MAX) {
			log_error("native", "column '%s': an external dictionary needs "
					    "dict_keys_max 1..%u", c->name, NATIVE_DICT_KEYS_MAX);
			return -EINVAL;
		}
		c->dict_keys_max = s->dict_keys_max;
		c->keys_cap = c->dict_keys_max + c->ndefault;
		c->bytes_max = 0;
		return 0;
	}
	if (s->dict_mode != NATIVE_DICT_LOCAL) {
		log_error("native", "column '%s': unknown dictionary mode %d", c->name,
			  (int)s->dict_mode);
		return -EINVAL;
	}
	c->store = ST_LC_LOCAL;
	uint32_t k = s->dict_keys_max ? s->dict_keys_max : rows_max;
	if (k > NATIVE_DICT_KEYS_MAX) {
		log_error("native", "column '%s': dict_keys_max above %u", c->name,
			  NATIVE_DICT_KEYS_MAX);
		return -EINVAL;
	}
	c->dict_keys_max = k;
	c->keys_cap = k + c->ndefault;
	c->table_mask = pow2_at_least(2 * (uint64_t)c->keys_cap) - 1;
	return 0;
}

/* How the column is stored, and its byte bound where it needs one. */
static int col_init_store(struct native_col *c, const struct native_column_spec *s,
			  uint32_t rows_max, size_t var_bytes_max)
{
	const struct chtype *t = &c->type;
	c->bytes_max = s->bytes_max ? s->bytes_max : var_bytes_max;
	if (t->low_cardinality) {
		int rc = col_init_lc(c, s, rows_max);
		if (rc)
			return rc;
	} else if (t->arrays) {
		c->store = ST_ARRAY;
		c->width = (uint32_t)chtype_width(t); /* 0: Array(String) */
	} else if (t->kind == CHTYPE_STRING) {
		c->store = ST_STRING;
	} else if (t->kind == CHTYPE_FIXED_STRING || t->kind == CHTYPE_UUID ||
		   t->kind == CHTYPE_IPV6) {
		c->store = ST_FIXED_STRING;
		c->width = (uint32_t)chtype_width(t);
		c->exact = t->kind != CHTYPE_FIXED_STRING;
		c->uuid = t->kind == CHTYPE_UUID;
	} else {
		c->store = ST_FIXED;
		c->width = (uint32_t)chtype_width(t);
	}
	if (c->store == ST_STRING || c->store == ST_LC_LOCAL || c->store == ST_ARRAY) {
		/* Room for at least the default keys; offsets are kept in 32 bits. */
		if (c->bytes_max < 2 || c->bytes_max > NATIVE_COLUMN_BYTES_MAX) {
			log_error("native", "column '%s': bytes_max must be 2..%zu", c->name,
				  NATIVE_COLUMN_BYTES_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

static int col_init(struct native_col *c, const struct native_column_spec *s, uint32_t i,
		    uint32_t rows_max, size_t var_bytes_max)
{
	int rc = col_init_type(c, s, i);
	if (rc)
		return rc;
	col_set_range(c);
	rc = col_init_store(c, s, rows_max, var_bytes_max);
	if (rc)
		return rc;
	char tname[NATIVE_TYPE_NAME_MAX];
	int tlen = header_type_name(&c->type, tname, sizeof(tname));
	if (tlen < 0) {
		log_error("native", "column '%s': type name too long", c->name);
		return -EINVAL;
	}
	size_t name_len = strlen(c->name);
	c->header_len = (uint32_t)(native_varuint_size(name_len) + name_len +
				   native_varuint_size((uint64_t)tlen) + (size_t)tlen);
	return 0;
}

static void col_write_header(struct native_col *c)
{
	char tname[NATIVE_TYPE_NAME_MAX];
	int tlen = header_type_name(&c->type, tname, sizeof(tname));
	size_t name_len = strlen(c->name);
	uint8_t *p = c->header;
	p += native_varuint_write(p, name_len);
	memcpy(p, c->name, name_len);
	p += name_len;
	p += native_varuint_write(p, (uint64_t)tlen);
	memcpy(p, tname, (size_t)tlen);
}

/* Resets a local dictionary to its default keys ("" , or NULL and ""). */
static void lc_local_clear(struct native_col *c)
{
	for (uint32_t k = c->ndefault; k < c->nkeys; k++)
		c->table[c->key_pos[k]] = 0;
	c->nkeys = c->ndefault;
	/* The default keys are empty strings: one zero length byte each. */
	memset(c->data, 0, c->ndefault);
	c->used = c->ndefault;
	c->last_key = 0;
}

static void lc_external_clear(struct native_col *c)
{
	c->nkeys = c->ndefault;
	c->ext_key_bytes = c->ndefault;
	if (++c->gen == 0) {
		memset(c->slots, 0, (size_t)c->dict_keys_max * sizeof(struct ext_slot));
		c->gen = 1;
	}
}

int native_block_init(struct native_block **out, const struct native_column_spec *cols,
		      uint32_t ncols, uint32_t rows_max, size_t var_bytes_max)
{
	int rc = -EINVAL;
	*out = NULL;
	if (ncols == 0 || ncols > NATIVE_COLUMNS_MAX || rows_max == 0 ||
	    rows_max > NATIVE_ROWS_MAX) {
		log_error("native", "block needs 1..%d columns and 1..%u rows (got %u, %u)",
			  NATIVE_COLUMNS_MAX, NATIVE_ROWS_MAX, ncols, rows_max);
		return -EINVAL;
	}
	struct native_block *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cols = calloc(ncols, sizeof(*b->cols));
	if (!b->cols) {
		rc = -ENOMEM;
		goto out_free_block;
	}
	b->ncols = ncols;
	b->rows_max = rows_max;
	b->row_seq = 1;
	for (uint32_t i = 0; i < ncols; i++) {
		rc = col_init(&b->cols[i], &cols[i], i, rows_max, var_bytes_max);
		if (rc < 0)
			goto out_free_cols;
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(b->cols[j].name, b->cols[i].name) == 0) {
				log_error("native", "column '%s' appears twice", b->cols[i].name);
				rc = -EINVAL;
				goto out_free_cols;
			}
		}
	}
	struct carver cv = {.base = NULL, .off = 0};
	block_layout(b, &cv);
	b->region_size = (cv.off + NATIVE_ALIGN - 1) & ~(size_t)(NATIVE_ALIGN - 1);
	b->region = aligned_alloc(NATIVE_ALIGN, b->region_size);
	if (!b->region) {
		log_error("native", "cannot allocate %zu bytes for a block of %u rows",
			  b->region_size, rows_max);
		rc = -ENOMEM;
		goto out_free_cols;
	}
	/* Touch every page now: no page faults on the hot path, memory on this thread's node. */
	memset(b->region, 0, b->region_size);
	cv = (struct carver){.base = b->region, .off = 0};
	block_layout(b, &cv);
	for (uint32_t i = 0; i < ncols; i++) {
		struct native_col *c = &b->cols[i];
		col_write_header(c);
		if (c->store == ST_LC_LOCAL)
			lc_local_clear(c);
		else if (c->store == ST_LC_EXTERNAL)
			lc_external_clear(c);
	}
	*out = b;
	return 0;

out_free_cols:
	free(b->cols);
out_free_block:
	free(b);
	return rc;
}

void native_block_destroy(struct native_block *b)
{
	if (!b)
		return;
	free(b->region);
	free(b->cols);
	free(b);
}

int native_block_set_dict(struct native_block *b, uint32_t col, const struct native_str *keys,
			  uint32_t nkeys)
{
	if (col >= b->ncols || b->cols[col].store != ST_LC_EXTERNAL)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	if (b->rows > 0 || b->row_filled > 0)
		return -EBUSY;
	if (nkeys > c->dict_keys_max)
		return -ERANGE;
	size_t bytes = 0;
	for (uint32_t i = 0; i < nkeys; i++) {
		if (keys[i].len > NATIVE_COLUMN_BYTES_MAX || (keys[i].len > 0 && !keys[i].ptr))
			return -EINVAL;
		bytes += native_varuint_size(keys[i].len) + keys[i].len;
	}
	c->dict = keys;
	c->dict_n = nkeys;
	c->dict_bytes = bytes;
	lc_external_clear(c);
	return 0;
}

int native_block_grow_dict(struct native_block *b, uint32_t col, const struct native_str *keys,
			   uint32_t nkeys)
{
	if (col >= b->ncols || b->cols[col].store != ST_LC_EXTERNAL)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	if (keys != c->dict || nkeys < c->dict_n)
		return -EINVAL;
	if (nkeys > c->dict_keys_max)
		return -ERANGE;
	size_t bytes = 0;
	for (uint32_t i = c->dict_n; i < nkeys; i++) {
		if (keys[i].len > NATIVE_COLUMN_BYTES_MAX || (keys[i].len > 0 && !keys[i].ptr))
			return -EINVAL;
		bytes += native_varuint_size(keys[i].len) + keys[i].len;
	}
	/* The slots of the new codes are unused: they were never below dict_n in this generation. */
	c->dict_n = nkeys;
	c->dict_bytes += bytes;
	return 0;
}

/* ---- appends ------------------------------------------------------------------------------- */

/* Records that column c holds a value for the pending row. */
static inline void row_mark(struct native_block *b, struct native_col *c)
{
	if (c->stamp != b->row_seq) {
		c->stamp = b->row_seq;
		b->row_filled++;
	}
}

static inline void put_fixed(struct native_col *c, uint32_t row, uint64_t v)
{
	uint8_t *p = c->data + (size_t)row * c->width;
	switch (c->width) {
	case 1:
		*p = (uint8_t)v;
		break;
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, 4);
		break;
	}
	default:
		memcpy(p, &v, 8);
		break;
	}
}

static inline struct native_col *col_fixed(struct native_block *b, uint32_t col)
{
	if (col >= b->ncols || b->cols[col].store != ST_FIXED)
		return NULL;
	return &b->cols[col];
}

int native_append_u64(struct native_block *b, uint32_t col, uint64_t v)
{
	struct native_col *c = col_fixed(b, col);
	if (!c || c->cls == CLS_FLOAT)
		return -EINVAL;
	if (b->rows >= b->rows_max)
		return -ENOSPC;
	if (c->cls == CLS_SIGNED ? v > (uint64_t)c->smax : v > c->umax)
		return -ERANGE;
	put_fixed(c, b->rows, v);
	if (c->nulls)
		c->nulls[b->rows] = 0;
	row_mark(b, c);
	return 0;
}

int native_append_i64(struct native_block *b, uint32_t col, int64_t v)
{
	struct native_col *c = col_fixed(b, col);
	if (!c || c->cls == CLS_FLOAT)
		return -EINVAL;
	if (b->rows >= b->rows_max)
		return -ENOSPC;
	if (c->cls == CLS_SIGNED ? (v < c->smin || v > c->smax) : (v < 0 || (uint64_t)v > c->umax))
		return -ERANGE;
	put_fixed(c, b->rows, (uint64_t)v);
	if (c->nulls)
		c->nulls[b->rows] = 0;
	row_mark(b, c);
	return 0;
}

int native_append_f64(struct native_block *b, uint32_t col, double v)
{
	struct native_col *c = col_fixed(b, col);
	if (!c || c->cls != CLS_FLOAT)
		return -EINVAL;
	if (b->rows >= b->rows_max)
		return -ENOSPC;
	uint8_t *p = c->data + (size_t)b->rows * c->width;
	if (c->width == 4) {
		float f = (float)v;
		memcpy(p, &f, 4);
	} else {
		memcpy(p, &v, 8);
	}
	if (c->nulls)
		c->nulls[b->rows] = 0;
	row_mark(b, c);
	return 0;
}

/* The first and the last w bytes of p[0..len) (w <= len, a constant where this is inlined) into
 * *a and *b, which hold nothing else; with the w bytes of each, they hold every byte of p when
 * len <= 2 * w. */
static inline __attribute__((always_inline)) void load_ends(const uint8_t *p, size_t len,
							    size_t w, uint64_t *a, uint64_t *b)
{
	*a = 0;
	*b = 0;
	memcpy(a, p, w);
	memcpy(b, p + len - w, w);
}

/* Copies len bytes (w <= len <= 2 * w) with two overlapping moves of w bytes. */
static inline __attribute__((always_inline)) void copy_ends(uint8_t *dst, const uint8_t *src,
							    size_t len, size_t w)
{
	uint64_t x, y;
	load_ends(src, len, w, &x, &y);
	memcpy(dst, &x, w);
	memcpy(dst + len - w, &y, w);
}

/* Copies 1..16 bytes with two overlapping moves of the largest size that fits. */
static inline void copy_short(uint8_t *dst, const uint8_t *src, size_t len)
{
	if (len >= 8)
		copy_ends(dst, src, len, 8);
	else if (len >= 4)
		copy_ends(dst, src, len, 4);
	else if (len >= 2)
		copy_ends(dst, src, len, 2);
	else
		dst[0] = src[0];
}

/*
 * Copies len bytes: up to 32 in line with two overlapping loads and stores, more by memcpy. The
 * values appended are most often that short (event types, ids, tags), where a call costs more
 * than the copy. Reads and writes nothing outside src[0..len) and dst[0..len).
 */
static inline void copy_bytes(uint8_t *dst, const uint8_t *src, size_t len)
{
	if (len - 1 < 16) {
		copy_short(dst, src, len);
	} else if (len <= 32) {
		uint64_t x[2], y[2];
		memcpy(x, src, 16);
		memcpy(y, src + len - 16, 16);
		memcpy(dst, x, 16);
		memcpy(dst + len - 16, y, 16);
	} else {
		memcpy(dst, src, len);
	}
}

/* A FixedString value zero-padded, an IPv6 address as it is, a UUID as ClickHouse keeps it: two
 * little-endian UInt64, the first 8 bytes of the RFC 4122 order first. */
static inline void put_fixed_string(struct native_col *c, uint32_t row, const void *ptr,
				    size_t len)
{
	uint8_t *p = c->data + (size_t)row * c->width;
	if (c->uuid) {
		/* ClickHouse's two little-endian halves: each 8 bytes reversed. */
		uint64_t hi, lo;
		memcpy(&hi, ptr, 8);
		memcpy(&lo, (const uint8_t *)ptr + 8, 8);
		hi = __builtin_bswap64(hi);
		lo = __builtin_bswap64(lo);
		memcpy(p, &hi, 8);
		memcpy(p + 8, &lo, 8);
		return;
	}
	if (len == c->width && len - 1 < 16) {
		copy_short(p, ptr, len);
		return;
	}
	if (len)
		memcpy(p, ptr, len);
	memset(p + len, 0, c->width - len);
}

/* Data bytes of a String column before the pending row's value (replaced if appended again). */
static inline size_t string_base(const struct native_block *b, const struct native_col *c)
{
	return c->stamp == b->row_seq ? c->row_start : c->used;
}

static int append_string(struct native_block *b, struct native_col *c, const void *ptr,
			 size_t len, bool null)
{
	size_t base = string_base(b, c);
	size_t vlen = len < 0x80 ? 1 : native_varuint_size(len);
	if (len > c->bytes_max || vlen + len > c->bytes_max - base)
		return -ENOSPC;
	uint8_t *p = c->data + base;
	p += native_varuint_write(p, len);
	if (len)
		memcpy(p, ptr, len);
	c->row_start = base;
	c->used = base + vlen + len;
	if (c->nulls)
		c->nulls[b->rows] = null;
	row_mark(b, c);
	return 0;
}

/*
 * A local dictionary key of 1..16 bytes as two words that hold every one of its bytes (two
 * overlapping loads, or three bytes): two keys of the same length are equal exactly when their
 * words are. Reads nothing outside p[0..len).
 */
static inline void lc_short_words(const uint8_t *p, size_t len, uint64_t *a, uint64_t *b)
{
	if (len >= 8) {
		load_ends(p, len, 8, a, b);
	} else if (len >= 4) {
		load_ends(p, len, 4, a, b);
	} else {
		*a = (uint64_t)p[0] | (uint64_t)p[len / 2] << 8 | (uint64_t)p[len - 1] << 16;
		*b = 0;
	}
}

/* Whether key k of c is (ptr, len), with (a, b) the words of a short key (lc_short_words). */
static inline bool lc_key_eq(const struct native_col *c, uint32_t k, const uint8_t *ptr,
			     size_t len, uint64_t a, uint64_t b)
{
	if (c->key_len[k] != len)
		return false;
	const uint8_t *kp = c->data + c->key_off[k];
	if (len > 16)
		return memcmp(kp, ptr, len) == 0;
	uint64_t ka, kb;
	lc_short_words(kp, len, &ka, &kb);
	return ka == a && kb == b;
}

/* Finds or adds the key (ptr, len) of a local dictionary; *key is its key number. Keys of at
 * most 16 bytes (event types, operating systems, country codes) are hashed and compared in
 * line; the table's positions are not part of the output. */
static int lc_local_key(struct native_col *c, const uint8_t *ptr, size_t len, uint32_t *key)
{
	if (len == 0) {
		*key = c->ndefault - 1;
		return 0;
	}
	uint64_t a = 0, b = 0, h;
	if (len <= 16)
		lc_short_words(ptr, len, &a, &b);
	uint32_t last = c->last_key;
	if (last && lc_key_eq(c, last, ptr, len, a, b)) {
		*key = last;
		return 0;
	}
	if (len <= 16) {
		h = (a ^ (b << 29 | b >> 35) ^ (uint64_t)len << 59) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 31;
		h *= 0xBF58476D1CE4E5B9ull;
		h ^= h >> 29;
	} else {
		h = XXH3_64bits(ptr, len);
	}
	uint64_t tag = h & 0xFFFFFFFF00000000ull;
	uint32_t pos = (uint32_t)h & c->table_mask;
	/* The table is at most half full, so an empty slot ends every probe. */
	for (;;) {
		uint64_t e = c->table[pos];
		if (e == 0)
			break;
		uint32_t k = (uint32_t)e;
		if ((e & 0xFFFFFFFF00000000ull) == tag && lc_key_eq(c, k, ptr, len, a, b)) {
			*key = k;
			c->last_key = k;
			return 0;
		}
		pos = (pos + 1) & c->table_mask;
	}
	if (c->nkeys >= c->keys_cap)
		return -ENOSPC;
	size_t vlen = native_varuint_size(len);
	if (len > c->bytes_max || vlen + len > c->bytes_max - c->used)
		return -ENOSPC;
	uint32_t k = c->nkeys++;
	uint8_t *p = c->data + c->used;
	p += native_varuint_write(p, len);
	memcpy(p, ptr, len);
	c->key_off[k] = (uint32_t)(c->used + vlen);
	c->key_len[k] = (uint32_t)len;
	c->key_pos[k] = pos;
	c->table[pos] = tag | k;
	c->used += vlen + len;
	c->last_key = k;
	*key = k;
	return 0;
}

int native_append_str(struct native_block *b, uint32_t col, const void *ptr, size_t len)
{
	if (col >= b->ncols)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	if (b->rows >= b->rows_max)
		return -ENOSPC;
	switch (c->store) {
	case ST_STRING:
		return append_string(b, c, ptr, len, false);
	case ST_FIXED_STRING:
		if (len > c->width || (c->exact && len != c->width))
			return -ERANGE;
		put_fixed_string(c, b->rows, ptr, len);
		if (c->nulls)
			c->nulls[b->rows] = 0;
		row_mark(b, c);
		return 0;
	case ST_LC_LOCAL: {
		uint32_t k;
		int rc = lc_local_key(c, ptr, len, &k);
		if (rc < 0)
			return rc;
		c->idx[b->rows] = k;
		row_mark(b, c);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* The block's key number of external-dictionary code (< dict_n), adding the key on first use. */
static inline uint32_t ext_key(struct native_col *c, uint32_t code)
{
	if (c->ndefault == 2 && code == 0)
		return 0;
	struct ext_slot *slot = &c->slots[code];
	if (slot->gen == c->gen)
		return slot->key;
	uint32_t len = c->dict[code].len, k;
	if (len == 0) {
		k = c->ndefault - 1;
	} else {
		k = c->nkeys++;
		c->used_codes[k - c->ndefault] = code;
		c->ext_key_bytes += native_varuint_size(len) + len;
	}
	slot->gen = c->gen;
	slot->key = k;
	return k;
}

int native_append_code(struct native_block *b, uint32_t col, uint32_t code)
{
	if (col >= b->ncols || b->cols[col].store != ST_LC_EXTERNAL)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	if (b->rows >= b->rows_max)
		return -ENOSPC;
	if (code >= c->dict_n)
		return -ERANGE;
	c->idx[b->rows] = ext_key(c, code);
	row_mark(b, c);
	return 0;
}

int native_append_null(struct native_block *b, uint32_t col)
{
	if (col >= b->ncols || !b->cols[col].type.nullable)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	if (b->rows >= b->rows_max)
		return -ENOSPC;
	switch (c->store) {
	case ST_FIXED:
		put_fixed(c, b->rows, 0);
		break;
	case ST_FIXED_STRING:
		memset(c->data + (size_t)b->rows * c->width, 0, c->width);
		break;
	case ST_STRING:
		return append_string(b, c, NULL, 0, true);
	case ST_LC_LOCAL:
	case ST_LC_EXTERNAL:
		c->idx[b->rows] = 0;
		row_mark(b, c);
		return 0;
	case ST_ARRAY:
		return -EINVAL; /* never Nullable */
	}
	c->nulls[b->rows] = 1;
	row_mark(b, c);
	return 0;
}

int native_block_commit_row(struct native_block *b)
{
	if (b->row_filled != b->ncols || b->pending)
		return -EINVAL;
	b->rows++;
	b->row_seq++;
	b->row_filled = 0;
	return 0;
}

void native_block_rollback_row(struct native_block *b)
{
	for (uint32_t i = 0; i < b->ncols; i++) {
		struct native_col *c = &b->cols[i];
		if ((c->store == ST_STRING || c->store == ST_ARRAY) && c->stamp == b->row_seq)
			c->used = c->row_start;
	}
	b->row_seq++;
	b->row_filled = 0;
	b->pending = 0;
}

/* ---- column-wise appends ---- */

int native_rows_begin(struct native_block *b, uint32_t n)
{
	if (b->row_filled || b->pending || n == 0)
		return -EINVAL;
	if (n > b->rows_max - b->rows)
		return -ENOSPC;
	b->pending = n;
	return 0;
}

/* Sets the pending rows' null flags of a Nullable column (none NULL if nulls is NULL), marks c. */
static void rows_done(struct native_block *b, struct native_col *c, const uint8_t *nulls)
{
	if (c->nulls) {
		if (nulls)
			memcpy(c->nulls + b->rows, nulls, b->pending);
		else
			memset(c->nulls + b->rows, 0, b->pending);
	}
	row_mark(b, c);
}

/* The pending rows' column col if it stores fixed-width numbers; NULL otherwise. */
static struct native_col *rows_fixed(struct native_block *b, uint32_t col)
{
	if (!b->pending || col >= b->ncols || b->cols[col].store != ST_FIXED)
		return NULL;
	return &b->cols[col];
}

static void rows_put_fixed(struct native_block *b, struct native_col *c, const uint64_t *v,
			   const uint8_t *nulls)
{
	uint32_t n = b->pending, at = b->rows;
	switch (c->width) {
	case 1:
		for (uint32_t i = 0; i < n; i++)
			c->data[at + i] = (uint8_t)v[i];
		break;
	case 2:
		for (uint32_t i = 0; i < n; i++) {
			uint16_t x = (uint16_t)v[i];
			memcpy(c->data + (size_t)(at + i) * 2, &x, 2);
		}
		break;
	case 4:
		for (uint32_t i = 0; i < n; i++) {
			uint32_t x = (uint32_t)v[i];
			memcpy(c->data + (size_t)(at + i) * 4, &x, 4);
		}
		break;
	default:
		memcpy(c->data + (size_t)at * 8, v, (size_t)n * 8);
		break;
	}
	rows_done(b, c, nulls);
}

/* A NULL row stores 0, as native_append_null does. */
static bool rows_null(const uint8_t *nulls, uint32_t i)
{
	return nulls && nulls[i];
}

int native_rows_u64(struct native_block *b, uint32_t col, const uint64_t *v, const uint8_t *nulls)
{
	struct native_col *c = rows_fixed(b, col);
	if (!c || c->cls == CLS_FLOAT || (nulls && !c->nulls))
		return -EINVAL;
	uint64_t max = c->cls == CLS_SIGNED ? (uint64_t)c->smax : c->umax, over = 0;
	for (uint32_t i = 0; i < b->pending; i++)
		over |= (uint64_t)(v[i] > max && !rows_null(nulls, i));
	if (over)
		return -ERANGE;
	rows_put_fixed(b, c, v, nulls);
	return 0;
}

int native_rows_i64(struct native_block *b, uint32_t col, const int64_t *v, const uint8_t *nulls)
{
	struct native_col *c = rows_fixed(b, col);
	if (!c || c->cls == CLS_FLOAT || (nulls && !c->nulls))
		return -EINVAL;
	int64_t lo = c->cls == CLS_SIGNED ? c->smin : 0;
	uint64_t over = 0;
	for (uint32_t i = 0; i < b->pending; i++) {
		bool out = c->cls == CLS_SIGNED ? v[i] > c->smax : (uint64_t)v[i] > c->umax;
		over |= (uint64_t)((v[i] < lo || out) && !rows_null(nulls, i));
	}
	if (over)
		return -ERANGE;
	rows_put_fixed(b, c, (const uint64_t *)(const void *)v, nulls);
	return 0;
}

int native_rows_f64(struct native_block *b, uint32_t col, const double *v, const uint8_t *nulls)
{
	struct native_col *c = rows_fixed(b, col);
	if (!c || c->cls != CLS_FLOAT || (nulls && !c->nulls))
		return -EINVAL;
	uint32_t n = b->pending, at = b->rows;
	for (uint32_t i = 0; i < n; i++) {
		if (c->width == 4) {
			float f = (float)v[i];
			memcpy(c->data + (size_t)(at + i) * 4, &f, 4);
		} else {
			memcpy(c->data + (size_t)(at + i) * 8, &v[i], 8);
		}
	}
	rows_done(b, c, nulls);
	return 0;
}

/* FixedString, UUID, IPv6: every value checked against the width, then stored. */
static int rows_fixed_string(struct native_block *b, struct native_col *c,
			     const struct native_str *v, const uint8_t *nulls)
{
	uint32_t n = b->pending, over = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = rows_null(nulls, i) ? 0 : v[i].len;
		over |= (uint32_t)(len > c->width || (c->exact && !rows_null(nulls, i) &&
						      len != c->width));
	}
	if (over)
		return -ERANGE;
	for (uint32_t i = 0; i < n; i++) {
		if (rows_null(nulls, i))
			memset(c->data + (size_t)(b->rows + i) * c->width, 0, c->width);
		else
			put_fixed_string(c, b->rows + i, v[i].ptr, v[i].len);
	}
	rows_done(b, c, nulls);
	return 0;
}

/*
 * A local-dictionary LowCardinality column: each value's key, found or added. Keys added for
 * earlier rows stay in the dictionary when a later one does not fit (-ENOSPC), as after a
 * rollback.
 */
static int rows_lc_local(struct native_block *b, struct native_col *c, const struct native_str *v,
			 const uint8_t *nulls)
{
	uint32_t n = b->pending;
	uint32_t *idx = c->idx + b->rows;
	for (uint32_t i = 0; i < n; i++) {
		if (rows_null(nulls, i)) {
			idx[i] = 0;
			continue;
		}
		int rc = lc_local_key(c, (const uint8_t *)v[i].ptr, v[i].len, &idx[i]);
		if (rc < 0)
			return rc;
	}
	row_mark(b, c);
	return 0;
}

int native_rows_str(struct native_block *b, uint32_t col, const struct native_str *v,
		    const uint8_t *nulls)
{
	if (!b->pending || col >= b->ncols)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	if (nulls && !c->type.nullable)
		return -EINVAL;
	if (c->store == ST_FIXED_STRING)
		return rows_fixed_string(b, c, v, nulls);
	if (c->store == ST_LC_LOCAL)
		return rows_lc_local(b, c, v, nulls);
	if (c->store != ST_STRING)
		return -EINVAL;
	uint32_t n = b->pending;
	size_t base = string_base(b, c), need = 0;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = rows_null(nulls, i) ? 0 : v[i].len;
		need += (len < 0x80 ? 1 : native_varuint_size(len)) + len;
	}
	if (need > c->bytes_max - base)
		return -ENOSPC;
	uint8_t *p = c->data + base;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = rows_null(nulls, i) ? 0 : v[i].len;
		if (len < 0x80)
			*p++ = (uint8_t)len;
		else
			p += native_varuint_write(p, len);
		if (len)
			copy_bytes(p, (const uint8_t *)v[i].ptr, len);
		p += len;
	}
	c->row_start = base;
	c->used = base + need;
	rows_done(b, c, nulls);
	return 0;
}

int native_rows_code(struct native_block *b, uint32_t col, const uint32_t *codes)
{
	if (!b->pending || col >= b->ncols || b->cols[col].store != ST_LC_EXTERNAL)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	uint32_t n = b->pending, over = 0;
	for (uint32_t i = 0; i < n; i++)
		over |= codes[i] >= c->dict_n;
	if (over)
		return -ERANGE;
	uint32_t *idx = c->idx + b->rows;
	for (uint32_t i = 0; i < n; i++)
		idx[i] = ext_key(c, codes[i]);
	row_mark(b, c);
	return 0;
}

/* Bytes an Array column's elements take in its data: serialized strings, or width each. */
static size_t array_bytes(const struct native_col *c, const struct native_array *a)
{
	if (c->width)
		return (size_t)a->count * c->width;
	const struct native_str *e = a->elems;
	size_t need = 0;
	for (uint32_t k = 0; k < a->count; k++)
		need += native_varuint_size(e[k].len) + e[k].len;
	return need;
}

/* Whether every integer element of a fits the column's element type. */
static bool array_in_range(const struct native_col *c, const struct native_array *a)
{
	const int64_t *e = a->elems;
	uint64_t out = 0;
	for (uint32_t k = 0; k < a->count; k++)
		out |= (uint64_t)(e[k] < c->smin || e[k] > c->smax);
	return out == 0;
}

/* Appends the elements of a at p; returns the end. */
static uint8_t *array_put(const struct native_col *c, uint8_t *p, const struct native_array *a)
{
	if (c->width == 8) {
		if (a->count) /* elems may be NULL then */
			memcpy(p, a->elems, (size_t)a->count * 8);
		return p + (size_t)a->count * 8;
	}
	if (c->width) {
		const int64_t *e = a->elems;
		for (uint32_t k = 0; k < a->count; k++, p += c->width) {
			int64_t x = e[k]; /* little-endian: the low bytes first */
			memcpy(p, &x, c->width);
		}
		return p;
	}
	const struct native_str *e = a->elems;
	for (uint32_t k = 0; k < a->count; k++) {
		p += native_varuint_write(p, e[k].len);
		if (e[k].len)
			copy_bytes(p, (const uint8_t *)e[k].ptr, e[k].len);
		p += e[k].len;
	}
	return p;
}

int native_rows_array(struct native_block *b, uint32_t col, const struct native_array *v)
{
	if (!b->pending || col >= b->ncols || b->cols[col].store != ST_ARRAY)
		return -EINVAL;
	struct native_col *c = &b->cols[col];
	uint32_t n = b->pending;
	size_t base = string_base(b, c), need = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (v[i].count > 0 && !v[i].elems)
			return -EINVAL;
		if (c->width && !array_in_range(c, &v[i]))
			return -ERANGE;
		need += array_bytes(c, &v[i]);
	}
	if (need > c->bytes_max - base)
		return -ENOSPC;
	uint64_t total = b->rows ? c->offsets[b->rows - 1] : 0;
	uint8_t *p = c->data + base;
	for (uint32_t i = 0; i < n; i++) {
		p = array_put(c, p, &v[i]);
		total += v[i].count;
		c->offsets[b->rows + i] = total;
	}
	c->row_start = base;
	c->used = base + need;
	row_mark(b, c);
	return 0;
}

int native_rows_commit(struct native_block *b)
{
	if (!b->pending || b->row_filled != b->ncols)
		return -EINVAL;
	b->rows += b->pending;
	b->pending = 0;
	b->row_seq++;
	b->row_filled = 0;
	return 0;
}

uint32_t native_block_rows(const struct native_block *b)
{
	return b->rows;
}

bool native_block_full(const struct native_block *b)
{
	return b->rows >= b->rows_max;
}

uint32_t native_block_free_rows(const struct native_block *b)
{
	return b->rows_max - b->rows;
}

void native_block_reset(struct native_block *b)
{
	for (uint32_t i = 0; i < b->ncols; i++) {
		struct native_col *c = &b->cols[i];
		switch (c->store) {
		case ST_STRING:
		case ST_ARRAY:
			c->used = 0;
			c->row_start = 0;
			break;
		case ST_LC_LOCAL:
			lc_local_clear(c);
			break;
		case ST_LC_EXTERNAL:
			lc_external_clear(c);
			break;
		default:
			break;
		}
	}
	b->rows = 0;
	b->row_seq++;
	b->row_filled = 0;
	b->pending = 0;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static size_t lc_keys_bytes(const struct native_col *c)
{
	return c->store == ST_LC_LOCAL ? c->used : c->ext_key_bytes;
}

static size_t col_data_size(const struct native_block *b, const struct native_col *c)
{
	size_t rows = b->rows;
	size_t n = c->nulls ? rows : 0;
	switch (c->store) {
	case ST_FIXED:
	case ST_FIXED_STRING:
		return n + rows * c->width;
	case ST_STRING:
		return n + string_base(b, c);
	case ST_ARRAY:
		return rows * sizeof(uint64_t) + string_base(b, c);
	case ST_LC_LOCAL:
	case ST_LC_EXTERNAL:
		return 4 * sizeof(uint64_t) + lc_keys_bytes(c) +
		       rows * ((size_t)1 << native_lc_index_code(c->nkeys));
	}
	return n;
}

size_t native_block_encoded_size(const struct native_block *b)
{
	size_t n = native_varuint_size(b->ncols) + native_varuint_size(b->rows);
	for (uint32_t i = 0; i < b->ncols; i++) {
		const struct native_col *c = &b->cols[i];
		n += c->header_len;
		if (b->rows)
			n += col_data_size(b, c);
	}
	return n;
}

size_t native_block_encoded_max(const struct native_block *b)
{
	size_t rows = b->rows_max;
	size_t n = native_varuint_size(b->ncols) + native_varuint_size(rows);
	for (uint32_t i = 0; i < b->ncols; i++) {
		const struct native_col *c = &b->cols[i];
		n += c->header_len + (c->nulls ? rows : 0);
		switch (c->store) {
		case ST_FIXED:
		case ST_FIXED_STRING:
			n += rows * c->width;
			break;
		case ST_STRING:
			n += c->bytes_max;
			break;
		case ST_ARRAY:
			n += rows * sizeof(uint64_t) + c->bytes_max;
			break;
		case ST_LC_LOCAL:
			n += 4 * sizeof(uint64_t) + c->bytes_max +
			     rows * ((size_t)1 << native_lc_index_code(c->keys_cap));
			break;
		case ST_LC_EXTERNAL:
			n += 4 * sizeof(uint64_t) + c->ndefault + c->dict_bytes +
			     rows * ((size_t)1 << native_lc_index_code((uint64_t)c->dict_n + c->ndefault));
			break;
		}
	}
	return n;
}

static uint8_t *encode_indexes(uint8_t *p, const uint32_t *idx, size_t rows, uint32_t code)
{
	switch (code) {
	case 0:
		for (size_t i = 0; i < rows; i++)
			p[i] = (uint8_t)idx[i];
		return p + rows;
	case 1:
		for (size_t i = 0; i < rows; i++) {
			uint16_t v = (uint16_t)idx[i];
			memcpy(p + 2 * i, &v, 2);
		}
		return p + 2 * rows;
	default:
		memcpy(p, idx, 4 * rows);
		return p + 4 * rows;
	}
}

static uint8_t *encode_lc(const struct native_block *b, const struct native_col *c, uint8_t *p)
{
	uint32_t code = native_lc_index_code(c->nkeys);
	p = put_u64(p, NATIVE_LC_KEY_VERSION);
	p = put_u64(p, code | NATIVE_LC_HAS_ADDITIONAL_KEYS | NATIVE_LC_NEED_UPDATE_DICTIONARY);
	p = put_u64(p, c->nkeys);
	if (c->store == ST_LC_LOCAL) {
		memcpy(p, c->data, c->used);
		p += c->used;
	} else {
		memset(p, 0, c->ndefault);
		p += c->ndefault;
		for (uint32_t k = 0; k < c->nkeys - c->ndefault; k++) {
			const struct native_str *s = &c->dict[c->used_codes[k]];
			p += native_varuint_write(p, s->len);
			memcpy(p, s->ptr, s->len);
			p += s->len;
		}
	}
	p = put_u64(p, b->rows);
	return encode_indexes(p, c->idx, b->rows, code);
}

int native_block_encode(const struct native_block *b, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t need = native_block_encoded_size(b);
	if (cap < need)
		return -ENOBUFS;
	size_t rows = b->rows;
	uint8_t *p = out;
	p += native_varuint_write(p, b->ncols);
	p += native_varuint_write(p, rows);
	for (uint32_t i = 0; i < b->ncols; i++) {
		const struct native_col *c = &b->cols[i];
		memcpy(p, c->header, c->header_len);
		p += c->header_len;
		if (rows == 0)
			continue; /* ClickHouse writes no data for an empty block */
		if (c->nulls) {
			memcpy(p, c->nulls, rows);
			p += rows;
		}
		switch (c->store) {
		case ST_FIXED:
		case ST_FIXED_STRING:
			memcpy(p, c->data, rows * c->width);
			p += rows * c->width;
			break;
		case ST_ARRAY:
		case ST_STRING: {
			if (c->store == ST_ARRAY) { /* the offsets, then the elements */
				memcpy(p, c->offsets, rows * sizeof(uint64_t));
				p += rows * sizeof(uint64_t);
			}
			size_t n = string_base(b, c);
			memcpy(p, c->data, n);
			p += n;
			break;
		}
		case ST_LC_LOCAL:
		case ST_LC_EXTERNAL:
			p = encode_lc(b, c, p);
			break;
		}
	}
	*out_len = (size_t)(p - out);
	return 0;
}
