/*
 * dim_table: the layout of a dimension table, shared by the files that implement it: dim.c (the
 * build and the probes of tables loaded whole) and dim_live.c (the changes of live tables and
 * their probes). Internal to the dimension module; include/dim.h is the public contract.
 */
#ifndef ENRICHD_DIM_TABLE_H
#define ENRICHD_DIM_TABLE_H

#include <endian.h>
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

	/* A live table's state (dim_live.c); NULL for a table loaded whole. Set from the start of
	 * the build, which lays such a table out differently (dim_live.h). */
	struct dim_live *live;
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

/* Writes v as a varint at p (dim_varint_len(v) bytes); returns the bytes after. */
static inline uint8_t *dim_varint_put(uint8_t *p, uint64_t v)
{
	return p + native_varuint_write(p, v);
}

/* The key bytes of a String-key record. */
static inline const uint8_t *dim_rec_key(const struct dim *d, const uint8_t *rec, size_t *len)
{
	return dim_varint_get(rec + d->row_fixed, len);
}

/* Stores the low width bytes of v at q, little-endian (a row's attribute value). */
static inline void dim_put_width(uint8_t *q, unsigned width, uint64_t v)
{
	switch (width) {
	case 1:
		*q = (uint8_t)v;
		break;
	case 2: {
		uint16_t x = htole16((uint16_t)v);
		memcpy(q, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = htole32((uint32_t)v);
		memcpy(q, &x, 4);
		break;
	}
	default: {
		uint64_t x = htole64(v);
		memcpy(q, &x, 8);
		break;
	}
	}
}

static inline bool dim_rec_key_eq(const struct dim *d, const uint8_t *rec, const char *key,
				  size_t len)
{
	size_t n;
	const uint8_t *k = dim_rec_key(d, rec, &n);
	return n == len && memcmp(k, key, len) == 0;
}

/* ---- live tables: implemented in dim_live.c ---- */

/*
 * Live slots. UInt64 keys: 16 bytes, the key (0: empty), the reference of the row's record
 * (0: none -- with a key, a tombstone) and the batch that deleted it (the writer's alone). String
 * keys: one 8-byte word, the hash tag and the reference (0: empty; DIM_LIVE_TOMB: a tombstone).
 * References are arena offsets, at least DIM_LIVE_REF_MIN.
 */
#define DIM_LIVE_SLOT_SHIFT 4 /* UInt64 keys */
#define DIM_LIVE_REF_OFF 8    /* of the reference in a UInt64 key's slot */
#define DIM_LIVE_STAMP_OFF 12 /* of the deleting batch */
#define DIM_LIVE_TOMB 1u
#define DIM_LIVE_REF_MIN 8u
#define DIM_LIVE_ALIGN 8u /* records start and end at multiples of it */

/* Room a live spec asks for: spare rows and bytes (%), and the dictionary size for count
 * values loaded. */
unsigned dim_live_headroom_pct(const struct dim_spec *spec);
uint32_t dim_live_dict_cap(const struct dim_spec *spec, uint32_t count);
/* Spare arena bytes for a live table whose records take bytes. */
uint64_t dim_live_arena_spare(const struct dim_spec *spec, uint64_t bytes);

/* The empty state of a live table, before its build (NULL: out of memory). */
struct dim_live *dim_live_new(void);
/* The build placed key 0's record at rec. */
void dim_live_set_zero(struct dim *d, uint32_t rec);
/*
 * Completes a built live table: the writer's view of its slots, arena and dictionaries. Shard s
 * took shard_keys[s] slots and filled the arena up to used_end[s] of its range ending at shard_end[s]; the rest, and the
 * arena past the last shard, is free. lf is the load factor planned; spec's key normalisation
 * applies to the keys of changes. Returns 0 or -ENOMEM.
 */
int dim_live_init(struct dim *d, const struct dim_spec *spec, unsigned lf,
		  const uint64_t *shard_keys, const uint64_t *used_end, const uint64_t *shard_end);
void dim_live_free(struct dim *d);
/* The live rows count, for dim_rows. */
size_t dim_live_rows(const struct dim *d);
/* Bytes the live state holds besides the slots and the arena. */
size_t dim_live_bytes(const struct dim *d);

/* Lookups of live tables, as their dim.h counterparts (hash_out may be NULL: hashes given). */
void dim_live_probe_u64(const struct dim *d, const uint64_t *keys, size_t n,
			const uint64_t *hashes, uint64_t *hash_out, const struct dim_row **rows);
void dim_live_probe_start_str(const struct dim *d, const struct dim_str *keys, size_t n,
			      const uint64_t *hashes, uint64_t *hash_out, uint64_t *cand);
void dim_live_probe_finish_str(const struct dim *d, const struct dim_str *keys,
			       const uint64_t *hashes, const uint64_t *cand, size_t n,
			       const struct dim_row **rows);
const struct dim_row *dim_live_find_u64(const struct dim *d, uint64_t key, uint64_t h);
/* Slot i's row, as dim_row_at (dim.h) for a live table. */
const struct dim_row *dim_live_row_at(const struct dim *d, size_t i);
const struct dim_row *dim_live_find_str(const struct dim *d, const char *key, size_t len,
					uint64_t h);

#endif
