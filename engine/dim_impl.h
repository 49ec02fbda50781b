/*
 * dim internals shared by dim.c (the table), dim_load.c (text sources, load orchestration) and
 * dim_native.c (Native sources). Not a public contract: include/dim.h is.
 *
 * A load parses its source into parts (one per load thread, in file order), each a set of
 * column arrays; LowCardinality values are interned in a per-part dictionary with local codes.
 * The parts' dictionaries are merged in part order (so codes follow first appearance in the
 * file), then dim_build() lays out and fills the table from the parts.
 */
#ifndef ENRICHD_DIM_IMPL_H
#define ENRICHD_DIM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dim.h"

/* Parse-time shard granularity: the top DIM_SHARD_BITS_MAX bits of the hash. */
#define DIM_SHARD_BITS_MAX 6
#define DIM_SHARDS_MAX (1u << DIM_SHARD_BITS_MAX)
#define DIM_SHARD_SHIFT (64 - DIM_SHARD_BITS_MAX)

/* Stable-pointer byte storage: a list of blocks, never moved. */
struct dim_scratch_block;
struct dim_scratch {
	struct dim_scratch_block *head;
	size_t bytes; /* total allocated */
};

/* Returns len writable bytes, valid until dim_scratch_free, or NULL (out of memory). */
char *dim_scratch_alloc(struct dim_scratch *s, size_t len);
/* Gives back the last n bytes of the latest dim_scratch_alloc. */
void dim_scratch_unuse(struct dim_scratch *s, size_t n);
void dim_scratch_free(struct dim_scratch *s);

/*
 * String -> code dictionary (open addressing). Code 0 is NULL and never stored; values keep
 * pointing at the caller's bytes, which must outlive the map.
 */
struct dim_lc_map {
	uint32_t *slots;       /* code or 0 (empty) */
	uint32_t mask;         /* capacity - 1 */
	struct dim_str *vals;  /* vals[code]; vals[0] = {"", 0} */
	uint64_t *hashes;      /* hashes[code] */
	uint32_t count;        /* codes in use including 0 */
	uint32_t cap;          /* entries allocated in vals/hashes */
};

int dim_lc_map_init(struct dim_lc_map *m);
/* Sets *code to the code of the bytes (adding them if new). Returns 0 or -ENOMEM / -E2BIG. */
int dim_lc_map_intern(struct dim_lc_map *m, const char *p, size_t len, uint32_t *code);
void dim_lc_map_free(struct dim_lc_map *m);

/* The parsed rows of one part of the source. Arrays have cap entries, rows of them used. */
struct dim_part {
	size_t rows, cap;
	uint64_t *hash;
	uint64_t *key_u64;         /* UInt64 keys */
	struct dim_str *key_str;   /* String keys (point into the source or scratch) */
	union {
		uint64_t *num;       /* integers, Date, DateTime, Float64 bits */
		uint32_t *code;      /* LC: local code in lc[a] */
		struct dim_str *str; /* String: ptr NULL = NULL */
	} val[DIM_ATTR_MAX];
	uint8_t *null[DIM_ATTR_MAX]; /* nullable numbers: 1 = NULL */
	struct dim_lc_map lc[DIM_ATTR_MAX];
	uint32_t *remap[DIM_ATTR_MAX]; /* LC: local code -> global code, after the merge */
	struct dim_scratch scratch;
	uint64_t shard_rows[DIM_SHARDS_MAX];
	uint64_t shard_bytes[DIM_SHARDS_MAX]; /* arena bytes besides the fixed record part */
};

/* What dim_build() and the parsers need to know about the configured columns. */
struct dim_layout_spec {
	const char *key_name;
	const char *name[DIM_ATTR_MAX];
	enum dim_type key_type;
	unsigned attr_count;
	enum dim_type type[DIM_ATTR_MAX];
	bool nullable[DIM_ATTR_MAX];
};

int dim_part_init(struct dim_part *p, const struct dim_layout_spec *ls);
/* Makes room for n more rows (rows..rows+n-1). Returns 0 or -ENOMEM. */
int dim_part_reserve(struct dim_part *p, const struct dim_layout_spec *ls, size_t n);
/* Adds rows rows..rows+n-1 (every column set) to the part and counts them in their shards. */
void dim_part_commit(struct dim_part *p, const struct dim_layout_spec *ls, size_t n);
void dim_part_free(struct dim_part *p, const struct dim_layout_spec *ls);

/* Bytes a varint of v takes. */
static inline size_t dim_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* XXH3_64bits of the bytes: the hash of String keys (dim.c). */
uint64_t dim_hash_bytes(const void *p, size_t len);
/* XXH3_64bits of the 8 little-endian bytes of a UInt64 key (dim.c). */
uint64_t dim_hash_key_u64(uint64_t key);

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
/* NULL: NULL (nullable) or the type's default. */
int dim_put_null(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		 char *err, size_t err_len);
/* Keys; they also set the row's hash. A NULL key is an error. */
int dim_put_key_text(struct dim_part *p, const struct dim_layout_spec *ls, size_t row,
		     const char *s, size_t len, bool is_null, char *err, size_t err_len);
int dim_put_key_u64(struct dim_part *p, const struct dim_layout_spec *ls, size_t row, uint64_t v,
		    char *err, size_t err_len);

/*
 * Source columns -> configured columns by name: target[i] = -1 (ignored), 0 (the key) or 1 + a
 * (attribute a) for each of the n source names. A configured column missing from names is an
 * error naming it (written to err, -EINVAL).
 */
int dim_match_columns(const struct dim_spec *spec, const struct dim_str *names, size_t n,
		      int16_t *target, char *err, size_t err_len);

/* Build input: parts in file order, with merged dictionaries and remaps. */
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
	unsigned first_dup_part; /* the first of them in file order: part (UINT_MAX if none) */
	size_t first_dup_row;    /* and row in that part */
};

/*
 * Lays out and fills a new table from the parts (dim.c). Returns 0 and *out, *bs, or -errno
 * with the reason in err (-E2BIG: arena over DIM_ARENA_BYTES_MAX, -ENOMEM).
 */
int dim_build(const struct dim_build_input *in, struct dim **out, struct dim_build_stats *bs,
	      char *err, size_t err_len);

/* ---- Native sources (dim_native.c) ---- */

struct dim_native_block {
	size_t offset; /* of the block's header in the source */
	size_t rows;
};

struct dim_native_type; /* a parsed column type (dim_native.c) */

struct dim_native_source {
	const uint8_t *data;
	size_t len;
	struct dim_native_block *blocks; /* in file order */
	size_t block_count;
	size_t rows;                     /* in all blocks */
	unsigned col_count;
	int16_t target[DIM_SOURCE_COLUMNS_MAX];
	struct dim_native_type *types;   /* col_count, from the first block */
	struct dim_str *type_names;      /* col_count, pointing into data */
};

/*
 * Walks every block of a Native source: checks its structure, records where each block starts
 * and matches the first block's columns against spec (every block must have the same columns).
 * Returns 0, or -EINVAL with the reason in err and the 1-based block in *err_block.
 */
int dim_native_scan(const struct dim_spec *spec, const struct dim_layout_spec *ls,
		    const uint8_t *data, size_t len, struct dim_native_source *src, char *err,
		    size_t err_len, uint64_t *err_block);
/* Parses blocks [first, last) into part. Errors as dim_native_scan. */
int dim_native_parse(const struct dim_native_source *src, const struct dim_layout_spec *ls,
		     size_t first, size_t last, struct dim_part *part, char *err, size_t err_len,
		     uint64_t *err_block);
void dim_native_source_free(struct dim_native_source *src);

#endif
