/*
 * dim: the dimension hash table. Layout, parallel build from parsed parts, batch lookups and
 * the table's accessors. The layout is described in include/dim.h.
 */
#include "dim.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <numa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "dim_build.h"
#include "dim_table.h"
#include "log.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Rows a build thread keeps in flight between prefetching a slot and inserting into it. */
#define DIM_BUILD_AHEAD 16

/* ---- hashing and slot addressing ---- */

uint64_t dim_hash_key_str(const void *p, size_t len)
{
	return XXH3_64bits(p, len);
}

uint64_t dim_hash_key_u64(uint64_t key)
{
	uint64_t le = htole64(key);
	return XXH3_64bits(&le, sizeof(le));
}

/* ---- lookups ---- */

void dim_hash_u64(const struct dim *d, const uint64_t *keys, size_t n, uint64_t *hashes)
{
	(void)d;
	for (size_t i = 0; i < n; i++)
		hashes[i] = dim_hash_key_u64(keys[i]);
}

void dim_hash_str(const struct dim *d, const struct dim_str *keys, size_t n, uint64_t *hashes)
{
	(void)d;
	for (size_t i = 0; i < n; i++)
		hashes[i] = XXH3_64bits(keys[i].ptr, keys[i].len);
}

/* always_inline: GCC takes a function whose only statement is a prefetch for one without side
 * effects and deletes its calls (seen with gcc 12 -O2: dim_prefetch compiled to a bare ret). */
static inline __attribute__((always_inline)) void dim_slot_prefetch(const struct dim *d,
								    uint64_t h)
{
	__builtin_prefetch(dim_slot_at(d, dim_home(d, h)));
}

void dim_prefetch(const struct dim *d, const uint64_t *hashes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dim_slot_prefetch(d, hashes[i]);
}

static inline const struct dim_row *dim_probe_u64(const struct dim *d, uint64_t key, uint64_t h)
{
	if (__builtin_expect(key == 0, 0))
		return d->has_zero ? (const struct dim_row *)d->zero_row : NULL;
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	/* The table is never full, so an empty slot ends every probe; the bound is a guard. */
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		const uint8_t *s = dim_slot_at(d, base | pos);
		uint64_t k = dim_load_u64(s);
		if (k == key)
			return (const struct dim_row *)s;
		if (k == 0)
			return NULL;
		pos = (pos + 1) & d->cap_mask;
	}
	return NULL;
}

/* Full probe for a String key from its home slot. */
static const struct dim_row *dim_probe_str(const struct dim *d, const char *key, size_t len,
					   uint64_t h)
{
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint64_t v = dim_load_u64(dim_slot_at(d, base | pos));
		if (v == 0)
			return NULL;
		if ((uint32_t)(v >> 32) == tag) {
			const uint8_t *rec = d->arena + (uint32_t)v;
			if (dim_rec_key_eq(d, rec, key, len))
				return (const struct dim_row *)rec;
		}
		pos = (pos + 1) & d->cap_mask;
	}
	return NULL;
}

/* Walks a String key's slots to its first tag match and prefetches that record; returns the
 * record's arena offset, or UINT64_MAX when no slot matches (a miss). */
static inline uint64_t dim_str_candidate(const struct dim *d, const struct dim_str *key, uint64_t h)
{
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint64_t v = dim_load_u64(dim_slot_at(d, base | pos));
		if (v == 0)
			return UINT64_MAX;
		if ((uint32_t)(v >> 32) == tag) {
			const uint8_t *rec = d->arena + (uint32_t)v;
			__builtin_prefetch(rec);
			__builtin_prefetch(rec + d->row_fixed + key->len);
			return (uint32_t)v;
		}
		pos = (pos + 1) & d->cap_mask;
	}
	return UINT64_MAX;
}

/*
 * The eight 8-byte words of a cache line compared at once: bit i of the result is set when word
 * i, shifted right by SHR bits, equals want; bit i of *zero when word i is 0. One compare each
 * with AVX-512, else eight.
 */
static inline __attribute__((always_inline)) unsigned
dim_line_words(const uint8_t *line, uint64_t want, const unsigned shr, unsigned *zero)
{
#ifdef __AVX512F__
	__m512i v = _mm512_loadu_si512(line);
	*zero = _mm512_testn_epi64_mask(v, v);
	return _mm512_cmpeq_epi64_mask(shr ? _mm512_srli_epi64(v, shr) : v,
				       _mm512_set1_epi64((long long)want));
#else
	unsigned eq = 0, z = 0;
	for (unsigned i = 0; i < DIM_LINE_BYTES / 8; i++) {
		uint64_t w = dim_load_u64(line + 8 * i);
		eq |= (unsigned)((w >> shr) == want) << i;
		z |= (unsigned)(w == 0) << i;
	}
	*zero = z;
	return eq;
#endif
}

/*
 * The probe of a key's home line, without a branch on the slots (a branch on a slot still on its
 * way from memory stalls the pipeline each time it is mispredicted): every slot of the line is
 * compared. Sets *row to the key's slot, or NULL, and returns true when the line cannot decide
 * (every slot holds another key, so the key may lie beyond; or key 0, which has its own slot):
 * dim_probe_u64 must walk on. SHIFT is the slot size's log2, a constant for slots of 8, 16 and 32
 * bytes; a slot of a line or more has its key in the line's first word.
 */
static inline __attribute__((always_inline)) bool
dim_line_u64(const uint8_t *line, uint64_t key, const unsigned shift, const struct dim_row **row)
{
	/* The words that are slots' keys: every one, every other, every fourth, the first. */
	const unsigned keys = shift == 3 ? 0xff : shift == 4 ? 0x55 : shift == 5 ? 0x11 : 0x01;
	unsigned empty;
	unsigned hit = dim_line_words(line, key, 0, &empty) & keys;
	empty &= keys;
	/* A key is stored once, so a hit is the key's slot (key 0 matches the empty slots). */
	uintptr_t at = (uintptr_t)(line + 8 * __builtin_ctz(hit | 0x100));
	*row = (const struct dim_row *)(at & -(uintptr_t)(hit != 0 && key != 0));
	return (hit | empty) == 0 || key == 0;
}

/* The table's geometry in locals: stores through the callers' arrays could alias the struct's
 * fields, which would otherwise be reloaded for every key. */
struct dim_geo {
	const uint8_t *slots;
	const uint8_t *arena;
	uint64_t home_mask;
	unsigned cap_bits, shards;
	uint32_t row_fixed;
};

static inline struct dim_geo dim_geo_of(const struct dim *d)
{
	return (struct dim_geo){d->slots, d->arena, d->home_mask, d->cap_bits, d->shards,
				d->row_fixed};
}

static inline const uint8_t *dim_geo_line(struct dim_geo g, uint64_t h, const unsigned shift)
{
	uint64_t shard = dim_shard_among(g.shards, h);
	return g.slots + (((shard << g.cap_bits) | (h & g.home_mask)) << shift);
}

/*
 * The String probe's first look at a key's home line, without a branch on the slots: every
 * slot's tag is compared, and the first match before the first empty slot is the candidate
 * (*cand its record's arena offset, prefetched; UINT64_MAX when no slot matches). Returns true
 * when the line cannot decide (every slot holds another tag): dim_str_candidate walks on.
 */
static inline __attribute__((always_inline)) bool
dim_line_str(struct dim_geo g, const uint8_t *line, uint32_t tag, size_t len, uint64_t *cand)
{
	unsigned empty;
	unsigned hit = dim_line_words(line, tag, 32, &empty);
	hit &= (empty & -empty) - 1; /* no key of this line lies past an empty slot */
	uint64_t off = (uint32_t)dim_load_u64(line + 8 * (__builtin_ctz(hit | 0x100) & 7)) &
		       -(uint64_t)(hit != 0);
	const uint8_t *rec = g.arena + off;
	__builtin_prefetch(rec);
	__builtin_prefetch(rec + g.row_fixed + len);
	*cand = hit ? off : UINT64_MAX;
	return (hit | empty) == 0;
}

/*
 * The probe pipeline, by groups of DIM_PROBE_AHEAD keys, for UInt64 keys (keys_u64; rows[i] is
 * the key's row or NULL) or, with STR, String keys (keys_str; cand[i] is the first tag match's
 * record, prefetched, or UINT64_MAX); STR is a constant where this is inlined. The home lines of
 * group k + 1 are found (with hash_out, a constant NULL or hashes itself, their keys are hashed
 * into it first and the lines prefetched; without, hashes[] is given and the caller has
 * prefetched), then group k, whose lines have had that time to arrive, is probed line by line.
 * Keys a line cannot decide are walked when DIM_LOOKUP_BATCH - DIM_PROBE_AHEAD of them are
 * waiting and at the end, after their next lines are prefetched together, so those loads overlap
 * too.
 */
static inline __attribute__((always_inline)) void
dim_probe_lines(const struct dim *d, const uint64_t *keys_u64, const struct dim_str *keys_str,
		const bool str, size_t n, const uint64_t *hashes, uint64_t *hash_out,
		const struct dim_row **rows, uint64_t *cand, const unsigned shift)
{
	struct dim_geo g = dim_geo_of(d);
	/* From a home line to the next slot that is not in it. */
	const size_t next = (size_t)1 << shift > DIM_LINE_BYTES ? (size_t)1 << shift : DIM_LINE_BYTES;
	const uint8_t *lines[2 * DIM_PROBE_AHEAD]; /* the home lines of groups k and k + 1 */
	uint32_t walks[DIM_LOOKUP_BATCH];
	size_t nwalk = 0;
	for (size_t first = 0; first < n + DIM_PROBE_AHEAD; first += DIM_PROBE_AHEAD) {
		size_t end = first + DIM_PROBE_AHEAD < n ? first + DIM_PROBE_AHEAD : n;
		for (size_t i = first; i < end; i++) {
			uint64_t h;
			if (hash_out) {
				h = str ? XXH3_64bits(keys_str[i].ptr, keys_str[i].len)
					: dim_hash_key_u64(keys_u64[i]);
				hash_out[i] = h;
			} else {
				h = hashes[i];
			}
			const uint8_t *line = dim_geo_line(g, h, shift);
			lines[i % (2 * DIM_PROBE_AHEAD)] = line;
			if (hash_out)
				__builtin_prefetch(line);
		}
		if (first == 0)
			continue;
		size_t from = first - DIM_PROBE_AHEAD, to = from + DIM_PROBE_AHEAD < n
								 ? from + DIM_PROBE_AHEAD
								 : n;
		for (size_t j = from; j < to; j++) {
			const uint8_t *line = lines[j % (2 * DIM_PROBE_AHEAD)];
			walks[nwalk] = (uint32_t)j;
			nwalk += str ? dim_line_str(g, line, (uint32_t)(hashes[j] >> 32),
						    keys_str[j].len, &cand[j])
				     : dim_line_u64(line, keys_u64[j], shift, &rows[j]);
		}
		if (nwalk > DIM_LOOKUP_BATCH - DIM_PROBE_AHEAD || (to == n && nwalk > 0)) {
			for (size_t w = 0; w < nwalk; w++)
				__builtin_prefetch(dim_geo_line(g, hashes[walks[w]], shift) + next);
			for (size_t w = 0; w < nwalk; w++) {
				uint32_t k = walks[w];
				if (str)
					cand[k] = dim_str_candidate(d, &keys_str[k], hashes[k]);
				else
					rows[k] = dim_probe_u64(d, keys_u64[k], hashes[k]);
			}
			nwalk = 0;
		}
	}
}

/* Probes n UInt64 keys into rows (hashing them first into hash_out, as dim_probe_lines);
 * a table of the other key type gives all NULL. */
static inline __attribute__((always_inline)) void
dim_probe_keys_u64(const struct dim *d, const uint64_t *keys, size_t n, const uint64_t *hashes,
		   uint64_t *hash_out, const struct dim_row **rows)
{
	if (d->key_type != DIM_TYPE_UINT64) {
		if (hash_out)
			dim_hash_u64(d, keys, n, hash_out);
		for (size_t i = 0; i < n; i++)
			rows[i] = NULL;
		return;
	}
	if (d->live) {
		dim_live_probe_u64(d, keys, n, hashes, hash_out, rows);
		return;
	}
	/* The common slot sizes as constants, so their lines' compares unroll. */
	switch (d->slot_shift) {
	case 3: dim_probe_lines(d, keys, NULL, false, n, hashes, hash_out, rows, NULL, 3); return;
	case 4: dim_probe_lines(d, keys, NULL, false, n, hashes, hash_out, rows, NULL, 4); return;
	case 5: dim_probe_lines(d, keys, NULL, false, n, hashes, hash_out, rows, NULL, 5); return;
	default: dim_probe_lines(d, keys, NULL, false, n, hashes, hash_out, rows, NULL, d->slot_shift);
	}
}

void dim_lookup_u64(const struct dim *d, const uint64_t *keys, const uint64_t *hashes, size_t n,
		    const struct dim_row **rows)
{
	dim_probe_keys_u64(d, keys, n, hashes, NULL, rows);
}

void dim_probe_start_u64(const struct dim *d, const uint64_t *keys, size_t n, uint64_t *hashes,
			 const struct dim_row **rows)
{
	dim_probe_keys_u64(d, keys, n, hashes, hashes, rows);
}

void dim_probe_start_str(const struct dim *d, const struct dim_str *keys, size_t n,
			 uint64_t *hashes, uint64_t *cand)
{
	if (d->key_type != DIM_TYPE_STRING) {
		dim_hash_str(d, keys, n, hashes);
		for (size_t i = 0; i < n; i++)
			cand[i] = UINT64_MAX;
		return;
	}
	if (d->live) {
		dim_live_probe_start_str(d, keys, n, hashes, hashes, cand);
		return;
	}
	dim_probe_lines(d, NULL, keys, true, n, hashes, hashes, NULL, cand, 3);
}

void dim_probe_finish_str(const struct dim *d, const struct dim_str *keys, const uint64_t *hashes,
			  const uint64_t *cand, size_t n, const struct dim_row **rows)
{
	if (d->live) {
		dim_live_probe_finish_str(d, keys, hashes, cand, n, rows);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		if (cand[j] == UINT64_MAX) {
			rows[j] = NULL;
			continue;
		}
		/* The candidate record is compared without the slot; a tag shared with another key
		 * (about one probe in 2^32) walks the slots again from the key's home. */
		const uint8_t *rec = d->arena + cand[j];
		rows[j] = dim_rec_key_eq(d, rec, keys[j].ptr, keys[j].len)
			? (const struct dim_row *)rec
			: dim_probe_str(d, keys[j].ptr, keys[j].len, hashes[j]);
	}
}

/* Both passes per group of keys, so the record loads of a group overlap. */
void dim_lookup_str(const struct dim *d, const struct dim_str *keys, const uint64_t *hashes,
		    size_t n, const struct dim_row **rows)
{
	if (d->key_type != DIM_TYPE_STRING) {
		for (size_t i = 0; i < n; i++)
			rows[i] = NULL;
		return;
	}
	uint64_t cand[DIM_LOOKUP_BATCH]; /* record of the first tag match, or UINT64_MAX */
	for (size_t first = 0; first < n; first += DIM_LOOKUP_BATCH) {
		size_t m = n - first < DIM_LOOKUP_BATCH ? n - first : DIM_LOOKUP_BATCH;
		if (d->live)
			dim_live_probe_start_str(d, keys + first, m, hashes + first, NULL, cand);
		else
			dim_probe_lines(d, NULL, keys + first, true, m, hashes + first, NULL, NULL,
					cand, 3);
		dim_probe_finish_str(d, keys + first, hashes + first, cand, m, rows + first);
	}
}

const struct dim_row *dim_find_u64(const struct dim *d, uint64_t key)
{
	if (d->key_type != DIM_TYPE_UINT64)
		return NULL;
	if (d->live)
		return dim_live_find_u64(d, key, dim_hash_key_u64(key));
	return dim_probe_u64(d, key, dim_hash_key_u64(key));
}

const struct dim_row *dim_find_str(const struct dim *d, const char *key, size_t len)
{
	if (d->key_type != DIM_TYPE_STRING)
		return NULL;
	uint64_t h = XXH3_64bits(key, len);
	if (d->live)
		return dim_live_find_str(d, key, len, h);
	return dim_probe_str(d, key, len, h);
}

uint64_t dim_row_key_u64(const struct dim *d, const struct dim_row *row)
{
	(void)d;
	return dim_load_u64((const uint8_t *)row);
}

struct dim_str dim_row_key_str(const struct dim *d, const struct dim_row *row)
{
	size_t len;
	const uint8_t *k = dim_rec_key(d, (const uint8_t *)row, &len);
	return (struct dim_str){(const char *)k, len};
}

const struct dim_row *dim_row_at(const struct dim *d, size_t i)
{
	if (d->live)
		return dim_live_row_at(d, i);
	size_t cap = (size_t)d->shards << d->cap_bits;
	if (i >= cap)
		return i == cap && d->has_zero ? (const struct dim_row *)d->zero_row : NULL;
	const uint8_t *s = dim_slot_at(d, i);
	uint64_t v = dim_load_u64(s);
	if (v == 0)
		return NULL;
	return d->key_type == DIM_TYPE_UINT64 ? (const struct dim_row *)s
					       : (const struct dim_row *)(d->arena + (uint32_t)v);
}

/* ---- accessors ---- */

const char *dim_name(const struct dim *d)
{
	return d->name;
}

enum dim_type dim_key_type(const struct dim *d)
{
	return d->key_type;
}

size_t dim_rows(const struct dim *d)
{
	return d->live ? dim_live_rows(d) : d->rows;
}

size_t dim_bytes(const struct dim *d)
{
	return d->bytes;
}

size_t dim_capacity(const struct dim *d)
{
	return (size_t)d->shards << d->cap_bits;
}

size_t dim_slot_bytes(const struct dim *d)
{
	return (size_t)1 << d->slot_shift;
}

enum huge_mode dim_huge_mode(const struct dim *d)
{
	return d->slots_mode;
}

unsigned dim_attr_count(const struct dim *d)
{
	return d->attr_count;
}

const char *dim_attr_name(const struct dim *d, unsigned i)
{
	return i < d->attr_count ? d->attr[i].name : NULL;
}

enum dim_type dim_attr_type(const struct dim *d, unsigned i)
{
	return i < d->attr_count ? d->attr[i].col.type : DIM_TYPE_NONE;
}

bool dim_attr_nullable(const struct dim *d, unsigned i)
{
	return i < d->attr_count && d->attr[i].col.nullable;
}

int dim_attr_index(const struct dim *d, const char *name)
{
	for (unsigned i = 0; i < d->attr_count; i++) {
		if (strcmp(d->attr[i].name, name) == 0)
			return (int)i;
	}
	return -ENOENT;
}

const struct dim_str *dim_lc_dict(const struct dim *d, unsigned i, size_t *count)
{
	if (i >= d->attr_count || d->attr[i].col.type != DIM_TYPE_LC_STRING) {
		*count = 0;
		return NULL;
	}
	*count = atomic_load_explicit(&d->attr[i].col.dict_count, memory_order_acquire);
	return d->attr[i].dict;
}

const struct dim_col *dim_col(const struct dim *d, unsigned i)
{
	return i < d->attr_count ? &d->attr[i].col : NULL;
}

void dim_free(struct dim *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->attr_count; i++) {
		free(d->attr[i].dict);
		free(d->attr[i].dict_bytes);
	}
	dim_live_free(d); /* first: it hands the arena back in the state it was mapped */
	huge_free(d->slots, d->slots_bytes);
	huge_free(d->arena, d->arena_bytes);
	free(d->zero_row);
	free(d);
}

/* ---- build ---- */

static unsigned dim_type_width(enum dim_type t)
{
	switch (t) {
	case DIM_TYPE_UINT8:
	case DIM_TYPE_INT8:
		return 1;
	case DIM_TYPE_UINT16:
	case DIM_TYPE_INT16:
	case DIM_TYPE_DATE:
		return 2;
	case DIM_TYPE_UINT32:
	case DIM_TYPE_INT32:
	case DIM_TYPE_DATETIME:
	case DIM_TYPE_STRING:
		return 4;
	default:
		return 8;
	}
}

static unsigned dim_log2_ceil(uint64_t v)
{
	unsigned b = 0;
	while (b < 63 && ((uint64_t)1 << b) < v)
		b++;
	return b;
}

/* Copies the merged dictionary of attribute a into memory the table owns, with room for cap
 * entries in all (a live table's grows in place). */
static int dim_dict_copy(struct dim_attr_info *ai, const struct dim_lc_map *m, uint32_t cap)
{
	size_t total = 0;
	for (uint32_t c = 1; c < m->count; c++)
		total += m->vals[c].len;
	ai->dict = calloc(cap, sizeof(*ai->dict));
	ai->dict_bytes = malloc(total ? total : 1);
	if (!ai->dict || !ai->dict_bytes)
		return -ENOMEM;
	ai->dict[0] = (struct dim_str){"", 0};
	size_t off = 0;
	for (uint32_t c = 1; c < m->count; c++) {
		if (m->vals[c].len)
			memcpy(ai->dict_bytes + off, m->vals[c].ptr, m->vals[c].len);
		ai->dict[c] = (struct dim_str){ai->dict_bytes + off, m->vals[c].len};
		off += m->vals[c].len;
	}
	ai->dict_alloc = cap * sizeof(*ai->dict) + (total ? total : 1);
	ai->col.dict = ai->dict;
	ai->col.dict_count = m->count;
	ai->col.dict_cap = cap;
	return 0;
}

/*
 * Decides widths and offsets: attributes by decreasing width (so most sit aligned), then the
 * null bits; the slot size for UInt64 keys.
 */
static void dim_layout(struct dim *d, const struct dim_build_input *in)
{
	const struct dim_layout_spec *ls = in->ls;
	unsigned width[DIM_ATTR_MAX];
	unsigned nullbits = 0;
	for (unsigned a = 0; a < ls->attr_count; a++) {
		if (ls->type[a] == DIM_TYPE_LC_STRING) {
			uint32_t count = d->attr[a].col.dict_cap; /* a live table's room included */
			width[a] = count <= 256 ? 1 : count <= 65536 ? 2 : 4;
		} else {
			width[a] = dim_type_width(ls->type[a]);
		}
		d->attr[a].col.width = (uint8_t)width[a];
	}
	unsigned key_bytes = d->key_type == DIM_TYPE_UINT64 ? 8 : 0;
	unsigned off = key_bytes;
	for (unsigned w = 8; w >= 1; w /= 2) {
		for (unsigned a = 0; a < ls->attr_count; a++) {
			if (width[a] != w)
				continue;
			d->attr[a].col.offset = (uint16_t)off;
			off += w;
		}
	}
	unsigned null_base = off;
	for (unsigned a = 0; a < ls->attr_count; a++) {
		enum dim_type t = ls->type[a];
		if (!ls->nullable[a] || t == DIM_TYPE_STRING || t == DIM_TYPE_LC_STRING)
			continue;
		d->attr[a].col.null_offset = (uint16_t)(null_base + nullbits / 8);
		d->attr[a].col.null_mask = (uint8_t)(1u << (nullbits % 8));
		nullbits++;
	}
	d->null_off = (uint16_t)null_base;
	d->null_len = (uint16_t)((nullbits + 7) / 8);
	off = null_base + d->null_len;
	d->row_fixed = off - key_bytes;
	d->slot_shift = d->key_type == DIM_TYPE_UINT64 ? dim_log2_ceil(off) : 3;
	if (d->slot_shift < 3)
		d->slot_shift = 3;
	/* A live UInt64 slot holds the key and its record's reference; the record is laid out as
	 * the slot of a table loaded whole (the key, then the attributes at the same offsets). */
	if (d->live && d->key_type == DIM_TYPE_UINT64)
		d->slot_shift = DIM_LIVE_SLOT_SHIFT;
}

struct dim_build_task {
	const struct dim_build_input *in;
	struct dim *d;
	uint64_t *cursor; /* per shard: next free arena offset (only the owner touches it) */
	uint64_t *pad_left; /* per shard: arena bytes left for keeping records within a line */
	uint64_t *shard_keys; /* per shard: slots taken (a live table's writer counts on) */
	uint64_t owned; /* bit s: this thread builds shard s (s % threads == its index) */
	uint64_t rows, duplicates;
	unsigned first_dup_part; /* this thread's first duplicate in file order, if any */
	size_t first_dup_row;
	bool has_zero;
	pthread_t thread;
};

static void dim_note_dup(struct dim_build_task *t, const struct dim_part *p, size_t r)
{
	if (t->duplicates++ == 0) {
		t->first_dup_part = (unsigned)(p - t->in->parts);
		t->first_dup_row = r;
	}
}

/* Stores row r's String value v in the shard's arena, returning its reference (0 = NULL). */
static uint32_t dim_arena_put(struct dim_build_task *t, uint64_t shard, struct dim_str v)
{
	if (!v.ptr)
		return 0;
	uint64_t at = t->cursor[shard];
	uint8_t *p = dim_varint_put(t->d->arena + at, v.len);
	if (v.len)
		memcpy(p, v.ptr, v.len);
	t->cursor[shard] = (uint64_t)(p - t->d->arena) + v.len;
	return (uint32_t)at;
}

/* Writes row r's attribute values (dictionary codes remapped) and null bits at dst. */
static void dim_pack_row(struct dim_build_task *t, const struct dim_part *p, size_t r,
			 uint64_t shard, uint8_t *dst, unsigned base)
{
	const struct dim *d = t->d;
	const struct dim_layout_spec *ls = t->in->ls;
	uint8_t nulls[DIM_ATTR_MAX / 8] = {0};
	for (unsigned a = 0; a < ls->attr_count; a++) {
		const struct dim_col *c = &d->attr[a].col;
		uint64_t v;
		switch (ls->type[a]) {
		case DIM_TYPE_LC_STRING:
			v = p->remap[a][p->val[a].code[r]];
			break;
		case DIM_TYPE_STRING:
			v = dim_arena_put(t, shard, p->val[a].str[r]);
			break;
		default:
			v = p->val[a].num[r];
			if (c->null_mask && p->null[a][r])
				nulls[c->null_offset - d->null_off] |= c->null_mask;
			break;
		}
		dim_put_width(dst + c->offset - base, c->width, v);
	}
	for (unsigned k = 0; k < d->null_len; k++)
		dst[d->null_off - base + k] = nulls[k];
}

/*
 * Bytes to skip at arena offset at so that a record of len bytes, if it fits in one cache line,
 * does not straddle two: a lookup then loads one record line instead of two. Taken from the
 * shard's padding budget; 0 when the record already fits, is longer than a line, or the budget
 * is spent (the record is then placed unaligned, which is only slower).
 */
static uint64_t dim_line_pad(const struct dim *d, uint64_t at, size_t len, uint64_t *budget)
{
	uint64_t in_line = (uint64_t)(uintptr_t)(d->arena + at) & (DIM_LINE_BYTES - 1);
	if (len > DIM_LINE_BYTES || in_line + len <= DIM_LINE_BYTES)
		return 0;
	uint64_t pad = DIM_LINE_BYTES - in_line;
	if (pad > *budget)
		return 0;
	*budget -= pad;
	return pad;
}

static void dim_insert_u64(struct dim_build_task *t, const struct dim_part *p, size_t r)
{
	struct dim *d = t->d;
	uint64_t h = p->hash[r];
	uint64_t key = p->key_u64[r];
	uint64_t shard = dim_shard_of(d, h);
	if (key == 0) {
		if (t->has_zero)
			dim_note_dup(t, p, r);
		else
			t->rows++;
		t->has_zero = true;
		dim_pack_row(t, p, r, shard, d->zero_row + 8, 8);
		return;
	}
	uint64_t base = shard << d->cap_bits;
	uint64_t pos = h & d->home_mask;
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint8_t *s = dim_slot_at(d, base | pos);
		uint64_t k = dim_load_u64(s);
		if (k == 0) {
			memcpy(s, &key, 8);
			dim_pack_row(t, p, r, shard, s + 8, 8);
			t->rows++;
			return;
		}
		if (k == key) {
			dim_pack_row(t, p, r, shard, s + 8, 8);
			dim_note_dup(t, p, r);
			return;
		}
		pos = (pos + 1) & d->cap_mask;
	}
	/* Unreachable: capacity exceeds the shard's rows. */
	abort();
}

/*
 * A live table's record of UInt64-keyed row r at its shard's cursor: the key, then the
 * attributes as a slot of a table loaded whole holds them, then its String values. Returns its
 * offset.
 */
static uint32_t dim_place_u64_record(struct dim_build_task *t, const struct dim_part *p,
				     size_t r, uint64_t shard)
{
	struct dim *d = t->d;
	uint64_t rec = t->cursor[shard];
	uint64_t key = p->key_u64[r];
	memcpy(d->arena + rec, &key, 8);
	t->cursor[shard] = rec + 8 + d->row_fixed;
	dim_pack_row(t, p, r, shard, d->arena + rec + 8, 8);
	return (uint32_t)rec;
}

/* A live table's records start and end at multiples of DIM_LIVE_ALIGN, as dim_live.c's
 * allocator hands them out, so a record's bytes give its block's. */
static void dim_live_align_cursor(struct dim_build_task *t, uint64_t shard)
{
	t->cursor[shard] = (t->cursor[shard] + DIM_LIVE_ALIGN - 1) & ~(uint64_t)(DIM_LIVE_ALIGN - 1);
}

/*
 * A live table's UInt64-keyed row: its record, and the slot of its key pointing at it. A key
 * seen again gets a record of its own (readers only ever see whole records); the first one's
 * bytes stay unused until a rebuild.
 */
static void dim_insert_u64_live(struct dim_build_task *t, const struct dim_part *p, size_t r)
{
	struct dim *d = t->d;
	uint64_t h = p->hash[r];
	uint64_t key = p->key_u64[r];
	uint64_t shard = dim_shard_of(d, h);
	uint32_t rec = dim_place_u64_record(t, p, r, shard);
	dim_live_align_cursor(t, shard);
	if (key == 0) {
		if (t->has_zero)
			dim_note_dup(t, p, r);
		else
			t->rows++;
		t->has_zero = true;
		dim_live_set_zero(d, rec);
		return;
	}
	uint64_t base = shard << d->cap_bits;
	uint64_t pos = h & d->home_mask;
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint8_t *s = dim_slot_at(d, base | pos);
		uint64_t k = dim_load_u64(s);
		if (k == 0 || k == key) {
			memcpy(s, &key, 8);
			memcpy(s + DIM_LIVE_REF_OFF, &rec, 4);
			if (k == 0) {
				t->rows++;
				t->shard_keys[shard]++;
			} else {
				dim_note_dup(t, p, r);
			}
			return;
		}
		pos = (pos + 1) & d->cap_mask;
	}
	abort();
}

/* The record of String-keyed row r at its shard's cursor (after padding it into one line when
 * the budget allows): attributes, key length and bytes, String values. Returns its offset. */
static uint32_t dim_place_str_record(struct dim_build_task *t, const struct dim_part *p,
				     size_t r, uint64_t shard)
{
	struct dim *d = t->d;
	struct dim_str key = p->key_str[r];
	uint64_t rec = t->cursor[shard];
	rec += dim_line_pad(d, rec, d->row_fixed + dim_varint_len(key.len) + key.len,
			    &t->pad_left[shard]);
	uint8_t *kp = dim_varint_put(d->arena + rec + d->row_fixed, key.len);
	if (key.len)
		memcpy(kp, key.ptr, key.len);
	t->cursor[shard] = (uint64_t)(kp - d->arena) + key.len;
	dim_pack_row(t, p, r, shard, d->arena + rec, 0);
	return (uint32_t)rec;
}

static void dim_insert_str(struct dim_build_task *t, const struct dim_part *p, size_t r)
{
	struct dim *d = t->d;
	uint64_t h = p->hash[r];
	struct dim_str key = p->key_str[r];
	uint64_t shard = dim_shard_of(d, h);
	uint64_t base = shard << d->cap_bits;
	uint64_t pos = h & d->home_mask;
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint8_t *s = dim_slot_at(d, base | pos);
		uint64_t v = dim_load_u64(s);
		bool dup = v != 0 && (uint32_t)(v >> 32) == tag &&
			   dim_rec_key_eq(d, d->arena + (uint32_t)v, key.ptr, key.len);
		if (dup && !d->live) {
			dim_pack_row(t, p, r, shard, d->arena + (uint32_t)v, 0);
			dim_note_dup(t, p, r);
			return;
		}
		if (v == 0 || dup) {
			/* A live table's key seen again gets a record of its own, as in
			 * dim_insert_u64_live. */
			uint32_t rec = dim_place_str_record(t, p, r, shard);
			if (d->live)
				dim_live_align_cursor(t, shard);
			v = (uint64_t)tag << 32 | rec;
			memcpy(s, &v, 8);
			if (dup) {
				dim_note_dup(t, p, r);
			} else {
				t->rows++;
				t->shard_keys[shard]++;
			}
			return;
		}
		pos = (pos + 1) & d->cap_mask;
	}
	abort();
}

static void dim_insert(struct dim_build_task *t, const struct dim_part *p, size_t r)
{
	if (t->d->key_type == DIM_TYPE_STRING)
		dim_insert_str(t, p, r);
	else if (t->d->live)
		dim_insert_u64_live(t, p, r);
	else
		dim_insert_u64(t, p, r);
}

/*
 * One build thread: inserts, in file order, the rows of the shards it owns, keeping DIM_BUILD_AHEAD rows in a FIFO while their slots are being prefetched.
 */
static void *dim_build_thread(void *arg)
{
	struct dim_build_task *t = arg;
	const struct dim_build_input *in = t->in;
	struct dim *d = t->d;
	struct {
		const struct dim_part *p;
		size_t r;
	} ring[DIM_BUILD_AHEAD];
	unsigned head = 0, used = 0; /* ring[head] is the oldest */
	for (unsigned pi = 0; pi < in->part_count; pi++) {
		const struct dim_part *p = &in->parts[pi];
		for (size_t r = 0; r < p->rows; r++) {
			uint64_t h = p->hash[r];
			uint64_t shard = dim_shard_of(d, h);
			if (!((t->owned >> shard) & 1))
				continue;
			__builtin_prefetch(dim_slot_at(d, dim_home(d, h)), 1);
			if (used == DIM_BUILD_AHEAD) {
				dim_insert(t, ring[head].p, ring[head].r);
				head = (head + 1) % DIM_BUILD_AHEAD;
				used--;
			}
			unsigned at = (head + used) % DIM_BUILD_AHEAD;
			ring[at].p = p;
			ring[at].r = r;
			used++;
		}
	}
	for (; used > 0; used--) {
		dim_insert(t, ring[head].p, ring[head].r);
		head = (head + 1) % DIM_BUILD_AHEAD;
	}
	return NULL;
}

/* Places the table's pages (not touched yet) on a NUMA node. */
static int dim_bind_node(struct dim *d, unsigned node, char *err, size_t err_len)
{
	if (numa_available() < 0 || (int)node > numa_max_node()) {
		snprintf(err, err_len, "NUMA node %u is not available", node);
		return -EINVAL;
	}
	numa_tonode_memory(d->slots, huge_size(d->slots_bytes), (int)node);
	if (d->arena)
		numa_tonode_memory(d->arena, huge_size(d->arena_bytes), (int)node);
	return 0;
}

/*
 * The padding budget of a shard of String keys whose records (fixed part, key and String
 * attributes) average avg bytes: a record of L <= 64 bytes at a random offset straddles two
 * lines with probability (L - 1) / 64 and then needs about (L - 1) / 2 bytes to start on the next
 * line, (L - 1)^2 / 128 on average. Records that follow a padded one start at a line, so the
 * real need is higher (26-byte records: 12 bytes per two, 6 per record against 4.9); budgeted at
 * 1.5 times the estimate, which left 20 of 3M such records straddling in the unit test.
 */
static uint64_t dim_pad_budget(uint64_t rows, uint64_t avg)
{
	if (avg == 0 || avg > DIM_LINE_BYTES)
		return 0;
	return rows * ((avg - 1) * (avg - 1) * 3 / 256 + 1);
}

/* The parts' rows and arena bytes per bucket, summed; returns the rows. */
static uint64_t dim_plan_buckets(const struct dim_build_input *in, uint64_t *rows,
				 uint64_t *bytes)
{
	uint64_t total = 0;
	for (unsigned pi = 0; pi < in->part_count; pi++) {
		const struct dim_part *p = &in->parts[pi];
		for (unsigned b = 0; b < DIM_BUCKETS; b++) {
			rows[b] += p->bucket_rows[b];
			bytes[b] += p->bucket_bytes[b];
		}
		total += p->rows;
	}
	return total;
}

/*
 * Shards and capacity: of the shard counts 1..DIM_SHARDS_MAX, the one needing the fewest slots
 * (each shard a power of two of at least its rows, plus headroom_pct% for a live table, / load
 * factor); on a tie the most shards, to build with more threads.
 */
static void dim_plan_shards(struct dim *d, const uint64_t *rows, unsigned load_factor_pct,
			    unsigned headroom_pct)
{
	uint64_t best_slots = UINT64_MAX;
	for (unsigned n = 1; n <= DIM_SHARDS_MAX; n++) {
		uint64_t shard_rows[DIM_SHARDS_MAX] = {0}, max_rows = 0;
		for (unsigned b = 0; b < DIM_BUCKETS; b++)
			shard_rows[((uint64_t)b * n) >> DIM_BUCKET_BITS] += rows[b];
		for (unsigned s = 0; s < n; s++)
			max_rows = shard_rows[s] > max_rows ? shard_rows[s] : max_rows;
		uint64_t want = max_rows * (100 + headroom_pct) / load_factor_pct + 1;
		unsigned cap_bits = dim_log2_ceil(want < 8 ? 8 : want);
		uint64_t slots = (uint64_t)n << cap_bits;
		if (slots <= best_slots) {
			best_slots = slots;
			d->shards = n;
			d->cap_bits = cap_bits;
		}
	}
	d->cap_mask = ((uint64_t)1 << d->cap_bits) - 1;
	/* A shard is at least 8 slots of at least 8 bytes: whole lines. */
	uint64_t per_line = d->slot_shift < 6 ? DIM_LINE_BYTES >> d->slot_shift : 1;
	d->home_mask = d->cap_mask & ~(per_line - 1);
}

/*
 * Bytes a live table's record takes in the arena besides what a table loaded whole plans for
 * it (a String key's fixed part, key and values; a UInt64 key's String values): a UInt64 key's
 * record itself, and the rounding up to DIM_LIVE_ALIGN -- exact when every record has the same
 * size (a UInt64 key without String attributes), else the most the rounding can add.
 */
static uint64_t dim_live_rec_plan(const struct dim *d)
{
	bool varies = d->key_type == DIM_TYPE_STRING;
	for (unsigned a = 0; a < d->attr_count; a++)
		varies |= d->attr[a].col.type == DIM_TYPE_STRING;
	if (varies)
		return (d->key_type == DIM_TYPE_UINT64 ? 8 + d->row_fixed : 0) + DIM_LIVE_ALIGN - 1;
	return (8 + d->row_fixed + DIM_LIVE_ALIGN - 1) & ~(uint64_t)(DIM_LIVE_ALIGN - 1);
}

/*
 * Arena offsets: shard s owns [shard_off[s], shard_off[s + 1]); offset 0 stays NULL. A
 * String-key shard also holds its padding budget shard_pad[s] (dim_line_pad), unless that would
 * pass the arena's bound. A live table's shards hold every row's record (a UInt64 key's too),
 * each rounded up to DIM_LIVE_ALIGN. Returns the arena's end.
 */
static uint64_t dim_plan_arena(const struct dim *d, const uint64_t *rows, const uint64_t *bytes,
			       uint64_t *shard_off, uint64_t *shard_pad)
{
	uint64_t srows[DIM_SHARDS_MAX] = {0};
	for (unsigned s = 0; s <= d->shards; s++)
		shard_off[s] = 0;
	for (unsigned b = 0; b < DIM_BUCKETS; b++) {
		unsigned s = (unsigned)(((uint64_t)b * d->shards) >> DIM_BUCKET_BITS);
		shard_off[s + 1] += bytes[b];
		srows[s] += rows[b];
		if (d->key_type == DIM_TYPE_STRING)
			shard_off[s + 1] += rows[b] * d->row_fixed;
		if (d->live)
			shard_off[s + 1] += rows[b] * dim_live_rec_plan(d);
	}
	uint64_t exact = 8, pad_total = 0;
	for (unsigned s = 0; s < d->shards; s++) {
		/* Not for a live table: its records stay back to back, so free ones can be
		 * joined (dim_live.c), and its new versions are not placed by line either. */
		shard_pad[s] = d->key_type == DIM_TYPE_STRING && srows[s] && !d->live
			? dim_pad_budget(srows[s], shard_off[s + 1] / srows[s]) : 0;
		pad_total += shard_pad[s];
		exact += shard_off[s + 1];
	}
	if (exact + pad_total > DIM_ARENA_BYTES_MAX)
		for (unsigned s = 0; s < d->shards; s++)
			shard_pad[s] = 0;
	uint64_t off = 8;
	for (unsigned s = 0; s < d->shards; s++) {
		uint64_t size = shard_off[s + 1] + shard_pad[s];
		if (d->live)
			size = (size + DIM_LIVE_ALIGN - 1) & ~(uint64_t)(DIM_LIVE_ALIGN - 1);
		shard_off[s] = off;
		off += size;
	}
	shard_off[d->shards] = off;
	return off;
}

static unsigned dim_load_factor(const struct dim_spec *spec)
{
	return spec->load_factor_pct ? spec->load_factor_pct : DIM_LOAD_FACTOR_PCT_DEFAULT;
}

/* Shards, capacity and arena offsets from the parts' bucket counts; the table's sizes. */
static int dim_plan(struct dim *d, const struct dim_build_input *in, uint64_t *shard_off,
		    uint64_t *shard_pad, char *err, size_t err_len)
{
	uint64_t *rows = calloc(DIM_BUCKETS, sizeof(*rows));
	uint64_t *bytes = calloc(DIM_BUCKETS, sizeof(*bytes));
	if (!rows || !bytes) {
		free(rows);
		free(bytes);
		return -ENOMEM;
	}
	uint64_t total = dim_plan_buckets(in, rows, bytes);
	unsigned lf = dim_load_factor(in->spec);
	dim_plan_shards(d, rows, lf, d->live ? dim_live_headroom_pct(in->spec) : 0);
	uint64_t off = dim_plan_arena(d, rows, bytes, shard_off, shard_pad);
	free(rows);
	free(bytes);
	/* A live table's new versions go after the last shard's records, within the bound. */
	if (d->live) {
		uint64_t spare = dim_live_arena_spare(in->spec, off - 8);
		if (off < DIM_ARENA_BYTES_MAX)
			off += spare < DIM_ARENA_BYTES_MAX - off ? spare : DIM_ARENA_BYTES_MAX - off;
	}
	if (d->cap_bits + d->slot_shift > 34) {
		snprintf(err, err_len, "table of %llu rows is too large", (unsigned long long)total);
		return -E2BIG;
	}
	d->slots_bytes = ((size_t)d->shards << d->cap_bits) << d->slot_shift;
	if (off > 8 && off > DIM_ARENA_BYTES_MAX) {
		snprintf(err, err_len, "string arena of %llu bytes exceeds the %zu-byte bound",
			 (unsigned long long)off, DIM_ARENA_BYTES_MAX);
		return -E2BIG;
	}
	d->arena_bytes = off > 8 ? off : 0;
	return 0;
}

/* A table named and typed as the input says, its dictionaries copied and its rows laid out. */
static int dim_new(const struct dim_build_input *in, struct dim **out)
{
	const struct dim_layout_spec *ls = in->ls;
	struct dim *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	snprintf(d->name, sizeof(d->name), "%s", in->spec->name ? in->spec->name : "dim");
	d->key_type = ls->key_type;
	d->attr_count = ls->attr_count;
	if (in->spec->live && !(d->live = dim_live_new())) {
		free(d);
		return -ENOMEM;
	}
	for (unsigned a = 0; a < ls->attr_count; a++) {
		struct dim_attr_info *ai = &d->attr[a];
		snprintf(ai->name, sizeof(ai->name), "%s", in->spec->attrs[a].column);
		ai->col.name = ai->name;
		ai->col.type = ls->type[a];
		ai->col.nullable = ls->nullable[a];
		if (ls->type[a] != DIM_TYPE_LC_STRING)
			continue;
		uint32_t count = in->dicts[a].count;
		uint32_t cap = d->live ? dim_live_dict_cap(in->spec, count) : count;
		if (dim_dict_copy(ai, &in->dicts[a], cap) != 0) {
			dim_free(d);
			return -ENOMEM;
		}
	}
	dim_layout(d, in);
	*out = d;
	return 0;
}

/* The planned table's memory: slots, arena (on spec's NUMA node if asked), the key-0 row. */
static int dim_alloc_memory(struct dim *d, const struct dim_spec *spec, char *err,
			    size_t err_len)
{
	enum huge_mode mode = spec->huge_mode;
	d->slots = huge_alloc(d->slots_bytes, &mode);
	if (!d->slots) {
		snprintf(err, err_len, "cannot map %zu bytes for the table", d->slots_bytes);
		return -ENOMEM;
	}
	d->slots_mode = mode;
	if (d->arena_bytes) {
		mode = spec->huge_mode;
		d->arena = huge_alloc(d->arena_bytes, &mode);
		if (!d->arena) {
			snprintf(err, err_len, "cannot map %zu bytes for the string arena",
				 d->arena_bytes);
			return -ENOMEM;
		}
		d->arena_mode = mode;
	}
	for (unsigned a = 0; a < d->attr_count; a++)
		d->attr[a].col.arena = d->arena;
	if (spec->numa_bind) {
		int rc = dim_bind_node(d, spec->numa_node, err, err_len);
		if (rc)
			return rc;
	}
	if (d->key_type == DIM_TYPE_UINT64 && !d->live) {
		d->zero_row = calloc(1, dim_slot_bytes(d));
		if (!d->zero_row)
			return -ENOMEM;
	}
	return 0;
}

/* Adds the threads' counts to the table and bs (the first duplicate in source order). */
static void dim_build_collect(struct dim *d, const struct dim_build_task *tasks,
			      unsigned threads, struct dim_build_stats *bs)
{
	bs->duplicates = 0;
	bs->first_dup_part = UINT_MAX;
	bs->first_dup_row = 0;
	for (unsigned i = 0; i < threads; i++) {
		const struct dim_build_task *t = &tasks[i];
		d->rows += t->rows;
		d->has_zero |= t->has_zero;
		if (!t->duplicates)
			continue;
		bs->duplicates += t->duplicates;
		if (t->first_dup_part < bs->first_dup_part ||
		    (t->first_dup_part == bs->first_dup_part && t->first_dup_row < bs->first_dup_row)) {
			bs->first_dup_part = t->first_dup_part;
			bs->first_dup_row = t->first_dup_row;
		}
	}
}

/*
 * Inserts every row of the parts with up to in->threads threads, each owning every threads-th
 * shard (the calling thread builds its own shards and those of any thread that did not start).
 * cursor[s] ends as the end of shard s's records, shard_keys[s] as the slots it took.
 */
static void dim_fill(struct dim *d, const struct dim_build_input *in, const uint64_t *shard_off,
		     uint64_t *shard_pad, uint64_t *cursor, uint64_t *shard_keys,
		     struct dim_build_stats *bs)
{
	unsigned threads = in->threads ? in->threads : 1;
	if (threads > d->shards)
		threads = d->shards;
	struct dim_build_task tasks[DIM_THREADS_MAX];
	bool started[DIM_THREADS_MAX] = {false};
	memcpy(cursor, shard_off, DIM_SHARDS_MAX * sizeof(*cursor));
	memset(shard_keys, 0, DIM_SHARDS_MAX * sizeof(*shard_keys));
	for (unsigned i = 0; i < threads; i++) {
		tasks[i] = (struct dim_build_task){.in = in, .d = d, .cursor = cursor,
						   .pad_left = shard_pad, .shard_keys = shard_keys};
		for (unsigned sh = i; sh < d->shards; sh += threads)
			tasks[i].owned |= (uint64_t)1 << sh;
	}
	for (unsigned i = 1; i < threads; i++)
		started[i] = pthread_create(&tasks[i].thread, NULL, dim_build_thread, &tasks[i]) == 0;
	for (unsigned i = 0; i < threads; i++) {
		if (!started[i])
			dim_build_thread(&tasks[i]);
	}
	for (unsigned i = 1; i < threads; i++) {
		if (started[i])
			pthread_join(tasks[i].thread, NULL);
	}
	dim_build_collect(d, tasks, threads, bs);
	for (unsigned s = 0; s < d->shards; s++) {
		if (cursor[s] > shard_off[s + 1]) {
			/* A planning bug would have written past the shard: never publish that. */
			log_error("dim", "%s: shard %u arena overflow", d->name, s);
			abort();
		}
	}
}

int dim_build(const struct dim_build_input *in, struct dim **out, struct dim_build_stats *bs,
	      char *err, size_t err_len)
{
	struct dim *d;
	int rc = dim_new(in, &d);
	if (rc)
		return rc;
	uint64_t shard_off[DIM_SHARDS_MAX + 1], shard_pad[DIM_SHARDS_MAX];
	rc = dim_plan(d, in, shard_off, shard_pad, err, err_len);
	if (!rc)
		rc = dim_alloc_memory(d, in->spec, err, err_len);
	if (rc) {
		dim_free(d);
		return rc;
	}
	uint64_t cursor[DIM_SHARDS_MAX], shard_keys[DIM_SHARDS_MAX];
	dim_fill(d, in, shard_off, shard_pad, cursor, shard_keys, bs);
	if (d->live) {
		rc = dim_live_init(d, in->spec, dim_load_factor(in->spec), shard_keys, cursor,
				   shard_off + 1);
		if (rc) {
			dim_free(d);
			return rc;
		}
	}
	d->bytes = sizeof(*d) + huge_size(d->slots_bytes) +
		   (d->arena_bytes ? huge_size(d->arena_bytes) : 0) +
		   (d->zero_row ? dim_slot_bytes(d) : 0);
	for (unsigned a = 0; a < d->attr_count; a++)
		d->bytes += d->attr[a].dict_alloc;
	if (d->live)
		d->bytes += dim_live_bytes(d);
	*out = d;
	return 0;
}
