/*
 * dim_table: the layout of a dimension table, shared by the files that implement it: dim.c (the
 * build and the probes of tables loaded whole) and dim_live.c (the changes of live tables and
 * their probes). Internal to the dimension module; include/dim.h is the public contract.
 */
#ifndef ENRICHD_DIM_TABLE_H
#define ENRICHD_DIM_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dim.h"
#include "dim_part.h"
#include "huge.h"

/* Cache line: String-key records of up to this many bytes are kept within one. */
#define DIM_LINE_BYTES 64u

struct dim_attr_info {
	struct dim_col col; /* col.name points at name */
	char name[DIM_NAME_MAX];
	struct dim_str *dict; /* LC: dict_count entries */
	char *dict_bytes;     /* LC: the values' bytes */
	size_t dict_alloc;    /* bytes of dict + dict_bytes */
};

struct dim {
	char name[DIM_NAME_MAX];
	enum dim_type key_type;
	unsigned attr_count;
	struct dim_attr_info attr[DIM_ATTR_MAX];

	uint8_t *slots; /* shards * capacity slots */
	size_t slots_bytes;
	enum huge_mode slots_mode;
	uint8_t *arena; /* String records and values; offset 0 is never used */
	size_t arena_bytes;
	enum huge_mode arena_mode;

	unsigned slot_shift;  /* log2 of the slot size */
	unsigned shards;      /* 1..DIM_SHARDS_MAX */
	unsigned cap_bits;    /* slots per shard = 1 << cap_bits */
	uint64_t cap_mask;
	uint64_t home_mask;   /* cap_mask without the bits of a slot within its cache line */
	uint32_t row_fixed;   /* attribute values + null bits of one row */
	uint16_t null_off;    /* null bits: offset from the row handle, bytes */
	uint16_t null_len;

	size_t rows;
	bool has_zero;        /* UInt64 key 0 is present, in zero_row */
	uint8_t *zero_row;    /* one slot for key 0 (the empty-slot marker) */
	size_t bytes;         /* dim_bytes */
};

/* The shard of hash h among shards: its bucket scaled onto them. */
static inline uint64_t dim_shard_among(unsigned shards, uint64_t h)
{
	return ((uint64_t)dim_bucket_of(h) * shards) >> DIM_BUCKET_BITS;
}

static inline uint64_t dim_shard_of(const struct dim *d, uint64_t h)
{
	return dim_shard_among(d->shards, h);
}

/* Index of the first slot of h's shard. */
static inline uint64_t dim_shard_base(const struct dim *d, uint64_t h)
{
	return dim_shard_of(d, h) << d->cap_bits;
}

static inline uint8_t *dim_slot_at(const struct dim *d, uint64_t idx)
{
	return d->slots + (idx << d->slot_shift);
}

/* A key's home: the first slot of the cache line its hash picks in its shard. Keys are placed
 * from there on (linear probing), so a probe compares a whole line at once and walks on to the
 * next line only when that one is full of other keys. */
static inline uint64_t dim_home(const struct dim *d, uint64_t h)
{
	return dim_shard_base(d, h) | (h & d->home_mask);
}

static inline uint64_t dim_load_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Decodes the varint at p (at most 5 bytes: values are < 2^35) into *v; returns the bytes after. */
static inline const uint8_t *dim_varint_get(const uint8_t *p, size_t *v)
{
	size_t n = 0;
	for (unsigned shift = 0; shift < 35; shift += 7) {
		uint8_t b = *p++;
		n |= (size_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	*v = n;
	return p;
}

static inline uint8_t *dim_varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* The key bytes of a String-key record. */
static inline const uint8_t *dim_rec_key(const struct dim *d, const uint8_t *rec, size_t *len)
{
	return dim_varint_get(rec + d->row_fixed, len);
}

static inline bool dim_rec_key_eq(const struct dim *d, const uint8_t *rec, const char *key,
				  size_t len)
{
	size_t n;
	const uint8_t *k = dim_rec_key(d, rec, &n);
	return n == len && memcmp(k, key, len) == 0;
}

#endif
