/*
 * dim_part: the staging layer of a dimension load, shared by every source format. Internal to
 * the dimension loaders (include/dim.h is the table's public contract).
 *
 * A load parses its source into parts (one per load thread, in source order), each a set of
 * column arrays of the configured key and attributes. A tokenizer -- TSV/CSV (dim_text.h),
 * Native (dim_native.h), or any other source of rows -- hands every value of a row to the
 * dim_put_* functions as text, an integer, a float or NULL, with the column's target from
 * dim_match_columns; they convert it to the configured type by one set of rules (integer ranges
 * without wrapping, the empty number as default, dates, numbers as text in String columns) and
 * store it; dim_part_commit then adds the rows. LowCardinality values are interned in a per-part
 * dictionary with local codes; after the parse the loader merges the parts' dictionaries in part
 * order (so codes follow first appearance in the source) and dim_build (dim_build.h) lays out
 * and fills the table from the parts.
 *
 * A part belongs to one thread; nothing here locks. Parts grow as rows arrive (anonymous
 * mappings grown with mremap, so growing never copies), on the loader's threads only.
 */
#ifndef ENRICHD_DIM_PART_H
#define ENRICHD_DIM_PART_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dim.h"
#include "native_format.h"

/* Bytes of a parse error message (the reason; the loader adds file and line). */
#define DIM_ERR_MAX 200

/*
 * Rows are counted at parse time in 4096 buckets by the top 12 bits of their hash. A table has
 * 1..DIM_SHARDS_MAX shards (any count, not only powers of two: with power-of-two slots per
 * shard the total capacity then follows the row count closely); bucket b belongs to shard
 * (b * shards) >> 12, so the shards' sizes are known exactly before the build.
 */
#define DIM_BUCKET_BITS 12
#define DIM_BUCKETS (1u << DIM_BUCKET_BITS)
#define DIM_SHARDS_MAX 64

static inline unsigned dim_bucket_of(uint64_t h)
{
	return (unsigned)(h >> (64 - DIM_BUCKET_BITS));
}

/* Bytes a varint of v takes (the arena's lengths: Native's VarUInt, LEB128). */
static inline size_t dim_varint_len(uint64_t v)
{
	return native_varuint_size(v);
}

/* Stable-pointer byte storage: a list of blocks, never moved. */
struct dim_scratch_block;
struct dim_scratch {
	struct dim_scratch_block *head;
	size_t bytes; /* total allocated */
};

/* Returns len writable bytes, valid until the part is freed, or NULL (out of memory). */
char *dim_scratch_alloc(struct dim_scratch *s, size_t len);
/* Gives back the last n bytes of the latest dim_scratch_alloc. */
void dim_scratch_unuse(struct dim_scratch *s, size_t n);
/* Frees every block (the storage may be used again, empty). */
void dim_scratch_free(struct dim_scratch *s);

/*
 * String -> code dictionary (open addressing). Code 0 is NULL and never stored; values keep
 * pointing at the caller's bytes, which must outlive the map.
 */
struct dim_lc_entry {
	uint64_t hash;
	uint64_t w0, w1; /* the value's bytes for values up to 16 bytes (see dim_lc_words) */
};

struct dim_lc_map {
	uint32_t *slots;              /* code or 0 (empty) */
	uint32_t mask;                /* capacity - 1 */
	struct dim_str *vals;         /* vals[code]; vals[0] = {"", 0} */
	struct dim_lc_entry *entries; /* entries[code] */
	uint32_t count;               /* codes in use including 0 */
	uint32_t cap;                 /* entries allocated in vals/entries */
};

int dim_lc_map_init(struct dim_lc_map *m);
/* Sets *code to the code of the bytes (adding them if new). Returns 0 or -ENOMEM / -E2BIG. */
int dim_lc_map_intern(struct dim_lc_map *m, const char *p, size_t len, uint32_t *code);
/* Sets *code to the code of the bytes if the map has them. Returns 0 or -ENOENT. */
int dim_lc_map_find(const struct dim_lc_map *m, const char *p, size_t len, uint32_t *code);
void dim_lc_map_free(struct dim_lc_map *m);

/* What the staging layer and dim_build need to know about the configured columns. */
struct dim_layout_spec {
	const char *key_name;
	const char *name[DIM_ATTR_MAX];
	enum dim_type key_type;
	bool key_strip_query;
	unsigned attr_count;
	enum dim_type type[DIM_ATTR_MAX];
	bool nullable[DIM_ATTR_MAX];
};

/*
 * Checks spec (names, types, bounds, a source) and derives its layout spec. Returns 0, or
 * -EINVAL with the reason in err.
 */
int dim_layout_spec_init(struct dim_layout_spec *ls, const struct dim_spec *spec, char *err,
			 size_t err_len);

/*
 * The parsed rows of one part of the source. Arrays have cap entries, rows of them used; they
 * are anonymous mappings (grown with mremap, so growing never copies), *_bytes their sizes.
 */
struct dim_part {
	size_t rows, cap;
	uint64_t *hash;
	uint64_t *key_u64;         /* UInt64 keys */
	struct dim_str *key_str;   /* String keys (point into the source or scratch) */
	size_t hash_bytes, key_bytes, val_bytes[DIM_ATTR_MAX], null_bytes[DIM_ATTR_MAX];
	union {
		uint64_t *num;       /* integers, Date, DateTime, Float64 bits */
		uint32_t *code;      /* LC: local code in lc[a] */
		struct dim_str *str; /* String: ptr NULL = NULL */
	} val[DIM_ATTR_MAX];
	uint8_t *null[DIM_ATTR_MAX]; /* nullable numbers: 1 = NULL */
	struct dim_lc_map lc[DIM_ATTR_MAX];
	uint32_t *remap[DIM_ATTR_MAX]; /* LC: local code -> global code, after the merge */
	struct dim_scratch scratch;
	uint64_t *bucket_rows;  /* DIM_BUCKETS counters */
	uint64_t *bucket_bytes; /* arena bytes besides the fixed record part, per bucket */
};

int dim_part_init(struct dim_part *p, const struct dim_layout_spec *ls);
/* Makes room for n more rows (rows..rows+n-1). Returns 0 or -ENOMEM. */
int dim_part_reserve(struct dim_part *p, const struct dim_layout_spec *ls, size_t n);
/* Adds rows rows..rows+n-1 (every column set) to the part and counts them in their shards. */
void dim_part_commit(struct dim_part *p, const struct dim_layout_spec *ls, size_t n);
void dim_part_free(struct dim_part *p, const struct dim_layout_spec *ls);

/*
 * Source columns -> configured columns by name: target[i] = -1 (ignored), 0 (the key) or 1 + a
 * (attribute a) for each of the n source names. A configured column missing from names is an
 * error naming it (written to err, -EINVAL).
 */
int dim_match_columns(const struct dim_spec *spec, const struct dim_str *names, size_t n,
		      int16_t *target, char *err, size_t err_len);

/*
 * Store one value of attribute a (or the key) at row `row` of the part, converted to the
 * configured type. Strings must stay valid until the load ends (the source or the part's
 * scratch). On a value that does not fit they write the reason (no file or line) to err and
 * return -EINVAL; -ENOMEM on allocation failure.
 */
int dim_put_text(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		 const char *s, size_t len, bool is_null, char *err, size_t err_len);
int dim_put_u64(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		uint64_t v, char *err, size_t err_len);
int dim_put_i64(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		int64_t v, char *err, size_t err_len);
int dim_put_f64(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		double v, char *err, size_t err_len);
/*
 * A value of attribute a converted as dim_put_text converts it, but not stored (live changes
 * take their values this way): for numbers the bits a part stores (integers as two's
 * complement, Date days, DateTime seconds, Float64 bits), for String and LowCardinality(String)
 * the bytes, pointing into s. NULL (is_null, or an empty number) is NULL when the column is
 * Nullable, else the type's default. Returns 0, or -EINVAL with the reason in err.
 */
struct dim_value {
	uint64_t num;       /* numbers */
	struct dim_str str; /* String, LowCardinality(String); ptr NULL: NULL */
	bool null;          /* NULL (numbers; for strings also str.ptr == NULL) */
};
int dim_value_text(const struct dim_layout_spec *ls, unsigned a, const char *s, size_t len,
		   bool is_null, struct dim_value *out, char *err, size_t err_len);
/* NULL: NULL (nullable) or the type's default. */
int dim_put_null(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		 char *err, size_t err_len);
/* Keys; they also set the row's hash. A NULL key is an error. */
int dim_put_key_text(struct dim_part *p, const struct dim_layout_spec *ls, size_t row,
		     const char *s, size_t len, bool is_null, char *err, size_t err_len);
int dim_put_key_u64(struct dim_part *p, const struct dim_layout_spec *ls, size_t row, uint64_t v,
		    char *err, size_t err_len);

/* Writes a printable copy of a value (at most 40 bytes of it) into out, for messages. */
void dim_quote(char *out, size_t cap, const char *s, size_t len);

/*
 * How the parse of one part reports progress and learns that it may stop, shared with the
 * other parts' threads: rows (if not NULL) grows by the rows parsed, every DIM_PROGRESS_ROWS_STEP
 * of them and at the end; a part stops early when first_failed (if not NULL) drops below its
 * index, since an earlier part's error is the one reported. A part that fails lowers
 * first_failed to its index (dim_parse_ctl_fail).
 */
#define DIM_PROGRESS_ROWS_STEP 65536
struct dim_parse_ctl {
	_Atomic uint64_t *rows;
	_Atomic unsigned *first_failed;
	unsigned index;
};

/* True when an earlier part failed. */
static inline bool dim_parse_ctl_stop(const struct dim_parse_ctl *ctl)
{
	return ctl->first_failed &&
	       atomic_load_explicit(ctl->first_failed, memory_order_relaxed) < ctl->index;
}

static inline void dim_parse_ctl_rows(const struct dim_parse_ctl *ctl, uint64_t n)
{
	if (ctl->rows && n)
		atomic_fetch_add_explicit(ctl->rows, n, memory_order_relaxed);
}

static inline void dim_parse_ctl_fail(const struct dim_parse_ctl *ctl)
{
	if (!ctl->first_failed)
		return;
	unsigned cur = atomic_load(ctl->first_failed);
	while (ctl->index < cur && !atomic_compare_exchange_weak(ctl->first_failed, &cur, ctl->index))
		;
}

#endif
