/*
 * dim_live: upserts and deletes on a loaded table while readers probe it (contract in
 * include/dim_live.h; the layout of live slots in include/dim_table.h).
 *
 * The design in one paragraph. A row version is an immutable record in the table's arena,
 * written completely before anything points at it. A slot holds a key and the reference of its
 * current record; a change writes a new record and then replaces the reference with one release
 * store, so a reader that loads the reference (acquire) sees the whole record, and every
 * attribute it reads from it belongs to that version. The replaced record is retired: it stays
 * readable until every reader that could have loaded the old reference has passed a quiescent
 * state (a grace period, dimpub.h), then its bytes are reused. A deleted key keeps its slot as a
 * tombstone, so linear probing never sees a hole; a tombstone is given to another key only once
 * the grace period of its delete has passed (for UInt64 keys, whose slot is two words, that and
 * the reader's reload of the key after the reference make a reused slot safe; a String key's
 * slot is one word). LowCardinality dictionaries grow in place. The file is in four parts: the
 * arena's allocator and the retirement of versions; the readers' probes; the writer's changes;
 * the counters.
 */
#include "dim_live.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dim_part.h"
#include "dim_table.h"
#include "dimpub.h"
#include "url_norm.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/*
 * AddressSanitizer cannot see the arena's own allocator: a reclaimed block is poisoned until it
 * is handed out again, so a reader that still read a version after its grace period (a bug in
 * the retirement) is reported.
 */
#if defined(__SANITIZE_ADDRESS__)
#define DIM_LIVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DIM_LIVE_ASAN 1
#endif
#endif
#ifdef DIM_LIVE_ASAN
#include <sanitizer/asan_interface.h>
#define DIM_LIVE_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define DIM_LIVE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define DIM_LIVE_POISON(p, n) ((void)(p), (void)(n))
#define DIM_LIVE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Free blocks up to this size are kept by exact size (in DIM_LIVE_ALIGN steps); larger ones in
 * one list taken first-fit. */
#define DIM_LIVE_SMALL_MAX 4096u
#define DIM_LIVE_CLASSES (DIM_LIVE_SMALL_MAX / DIM_LIVE_ALIGN + 1)
/* The arena of a live table has at least this much room past its records. */
#define DIM_LIVE_SPARE_MIN ((uint64_t)1 << 20)

/* Offsets of free blocks of one size. */
struct dim_live_offs {
	uint32_t *v;
	size_t n, cap;
};

struct dim_live_span {
	uint32_t off, bytes;
};

struct dim_live_spans {
	struct dim_live_span *v;
	size_t n, cap;
};

/* The versions one batch of changes retired, and the grace period they wait for. */
struct dim_live_batch {
	uint64_t ticket;
	uint32_t gen;
	struct dim_live_spans spans;
};

struct dim_live_dict {
	struct dim_lc_map map;    /* value -> code over the dictionary's entries */
	struct dim_scratch bytes; /* the values appended since the load */
};

struct dim_live {
	struct dim_layout_spec ls; /* the conversion of values (names point into the table) */

	/* Slots: per shard, those holding a key or a tombstone; the most before new keys fail. */
	uint64_t shard_used[DIM_SHARDS_MAX];
	uint64_t shard_limit;
	uint32_t zero_ref; /* UInt64 key 0's record (0: none); atomic */

	/* The arena past the build's records: [bump, end) never used; free blocks by size. */
	uint64_t bump, end;
	struct dim_live_offs small[DIM_LIVE_CLASSES];
	struct dim_live_spans large;

	/* Retirement: this batch's versions (batch number gen); batches waiting for their grace
	 * period, oldest at pending[first]; every batch up to gen_done has been reclaimed. */
	struct dim_live_spans retired;
	struct dim_live_batch *pending;
	size_t first, pending_n, pending_cap;
	uint32_t gen, gen_done;

	struct dim_live_dict dict[DIM_ATTR_MAX];
	char *norm; /* a String key normalised (strip-query) */
	size_t norm_cap;

	/* Counters: the writer's, read by dim_live_stats from any thread. */
	_Atomic uint64_t rows, changes, inserts, updates, deletes, delete_misses, rejected;
	_Atomic uint64_t publishes, bytes_retired, bytes_reclaimed, slots_used, tombstones;
	_Atomic uint64_t arena_used, arena_peak, never_used;
};

/* Only the writer changes a counter: a load and a store, not a locked add. */
static inline void dim_live_add(_Atomic uint64_t *c, int64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)n,
			      memory_order_relaxed);
}

static inline uint64_t dim_live_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline uint32_t dim_live_round(uint64_t bytes)
{
	return (uint32_t)((bytes + DIM_LIVE_ALIGN - 1) & ~(uint64_t)(DIM_LIVE_ALIGN - 1));
}

/* ---- room ---- */

unsigned dim_live_headroom_pct(const struct dim_spec *spec)
{
	return spec->live_headroom_pct ? spec->live_headroom_pct : DIM_LIVE_HEADROOM_PCT_DEFAULT;
}

uint32_t dim_live_dict_cap(const struct dim_spec *spec, uint32_t count)
{
	uint64_t pct = spec->live_dict_room_pct ? spec->live_dict_room_pct
						: DIM_LIVE_DICT_ROOM_PCT_DEFAULT;
	uint64_t room = (uint64_t)count * pct / 100;
	if (room < DIM_LIVE_DICT_ROOM_MIN)
		room = DIM_LIVE_DICT_ROOM_MIN;
	uint64_t cap = count + room;
	/* Codes of one byte cost nothing more up to 256 entries (dim.c: the width follows cap). */
	if (cap <= 256)
		cap = 256;
	return cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

uint64_t dim_live_arena_spare(const struct dim_spec *spec, uint64_t bytes)
{
	uint64_t spare = bytes / 100 * dim_live_headroom_pct(spec);
	return spare < DIM_LIVE_SPARE_MIN ? DIM_LIVE_SPARE_MIN : spare;
}

/* ---- the arena: free blocks, allocation, retirement ---- */

static int dim_live_offs_push(struct dim_live_offs *o, uint32_t off)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		uint32_t *v = realloc(o->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = off;
	return 0;
}

static int dim_live_spans_push(struct dim_live_spans *s, uint32_t off, uint32_t bytes)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct dim_live_span *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct dim_live_span){off, bytes};
	return 0;
}

/* Gives a block no reader can reach back to the free lists (lost if they cannot grow). */
static void dim_live_free_block(struct dim *d, uint32_t off, uint32_t bytes)
{
	struct dim_live *l = d->live;
	DIM_LIVE_POISON(d->arena + off, bytes);
	if (bytes <= DIM_LIVE_SMALL_MAX)
		(void)dim_live_offs_push(&l->small[bytes / DIM_LIVE_ALIGN], off);
	else
		(void)dim_live_spans_push(&l->large, off, bytes);
}

/* Takes bytes from a free block of more bytes, the rest going back to the lists. */
static bool dim_live_split(struct dim *d, uint32_t bytes, uint32_t *off)
{
	struct dim_live *l = d->live;
	for (uint32_t c = bytes / DIM_LIVE_ALIGN + 1; c < DIM_LIVE_CLASSES; c++) {
		struct dim_live_offs *o = &l->small[c];
		if (o->n) {
			*off = o->v[--o->n];
			dim_live_free_block(d, *off + bytes, c * DIM_LIVE_ALIGN - bytes);
			return true;
		}
	}
	for (size_t i = 0; i < l->large.n; i++) {
		struct dim_live_span sp = l->large.v[i];
		if (sp.bytes >= bytes) {
			l->large.v[i] = l->large.v[--l->large.n];
			*off = sp.off;
			if (sp.bytes > bytes)
				dim_live_free_block(d, sp.off + bytes, sp.bytes - bytes);
			return true;
		}
	}
	return false;
}

/*
 * A block of bytes (a multiple of DIM_LIVE_ALIGN) for a new version: a free block of that size,
 * else the never-used end, else a larger free block split. Returns 0 or -ENOSPC.
 */
static int dim_live_alloc(struct dim *d, uint32_t bytes, uint32_t *off)
{
	struct dim_live *l = d->live;
	bool found = false;
	if (bytes <= DIM_LIVE_SMALL_MAX && l->small[bytes / DIM_LIVE_ALIGN].n) {
		struct dim_live_offs *o = &l->small[bytes / DIM_LIVE_ALIGN];
		*off = o->v[--o->n];
		found = true;
	} else if (l->end - l->bump >= bytes) {
		*off = (uint32_t)l->bump;
		l->bump += bytes;
		atomic_store_explicit(&l->never_used, l->end - l->bump, memory_order_relaxed);
		found = true;
	} else {
		found = dim_live_split(d, bytes, off);
	}
	if (!found)
		return -ENOSPC;
	DIM_LIVE_UNPOISON(d->arena + *off, bytes);
	dim_live_add(&l->arena_used, bytes);
	if (dim_live_get(&l->arena_used) > dim_live_get(&l->arena_peak))
		atomic_store_explicit(&l->arena_peak, dim_live_get(&l->arena_used),
				      memory_order_relaxed);
	return 0;
}

/* The block a record takes: its fixed part and key, then its String values; rounded up. */
static uint32_t dim_live_rec_bytes(const struct dim *d, const uint8_t *rec)
{
	size_t end;
	if (d->key_type == DIM_TYPE_UINT64) {
		end = 8 + d->row_fixed;
	} else {
		size_t len;
		const uint8_t *k = dim_rec_key(d, rec, &len);
		end = (size_t)(k - rec) + len;
	}
	for (unsigned a = 0; a < d->attr_count; a++) {
		const struct dim_col *c = &d->attr[a].col;
		uint32_t ref;
		if (c->type != DIM_TYPE_STRING)
			continue;
		memcpy(&ref, rec + c->offset, sizeof(ref));
		if (ref == 0)
			continue;
		size_t len;
		const uint8_t *p = dim_varint_get(d->arena + ref, &len);
		size_t at = (size_t)(p - rec) + len;
		end = at > end ? at : end;
	}
	return dim_live_round(end);
}

/* Room for one more retired version, taken before a change so that retiring cannot fail once
 * the change is visible. */
static int dim_live_retire_reserve(struct dim_live *l)
{
	if (l->retired.n < l->retired.cap)
		return 0;
	size_t cap = l->retired.cap ? l->retired.cap * 2 : 32;
	struct dim_live_span *v = realloc(l->retired.v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->retired.v = v;
	l->retired.cap = cap;
	return 0;
}

/* The record at ref is no longer reachable by new lookups: it waits for a grace period. */
static void dim_live_retire(struct dim *d, uint32_t ref)
{
	struct dim_live *l = d->live;
	uint32_t bytes = dim_live_rec_bytes(d, d->arena + ref);
	l->retired.v[l->retired.n++] = (struct dim_live_span){ref, bytes};
	dim_live_add(&l->bytes_retired, bytes);
}

/* Ends the batch: its retired versions start waiting for a grace period (never blocks). */
static int dim_live_close_batch(struct dim_live *l)
{
	if (l->retired.n == 0)
		return 0;
	if (l->first + l->pending_n == l->pending_cap) {
		if (l->first > 0) {
			memmove(l->pending, l->pending + l->first, l->pending_n * sizeof(*l->pending));
			l->first = 0;
		} else {
			size_t cap = l->pending_cap ? l->pending_cap * 2 : 16;
			struct dim_live_batch *v = realloc(l->pending, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			l->pending = v;
			l->pending_cap = cap;
		}
	}
	/* The ticket is taken after every reference to these versions was replaced. */
	l->pending[l->first + l->pending_n++] =
		(struct dim_live_batch){dimpub_gp_start(), l->gen, l->retired};
	l->retired = (struct dim_live_spans){0};
	l->gen++;
	return 0;
}

/* Reuses the versions of the batches whose grace period has passed, oldest first. */
static void dim_live_reclaim(struct dim *d)
{
	struct dim_live *l = d->live;
	while (l->pending_n && dimpub_gp_done(l->pending[l->first].ticket)) {
		struct dim_live_batch *b = &l->pending[l->first];
		for (size_t i = 0; i < b->spans.n; i++) {
			dim_live_free_block(d, b->spans.v[i].off, b->spans.v[i].bytes);
			dim_live_add(&l->bytes_reclaimed, b->spans.v[i].bytes);
			dim_live_add(&l->arena_used, -(int64_t)b->spans.v[i].bytes);
		}
		l->gen_done = b->gen;
		free(b->spans.v);
		l->first++;
		l->pending_n--;
	}
	if (l->pending_n == 0)
		l->first = 0;
}

static int dim_live_span_cmp(const void *a, const void *b)
{
	const struct dim_live_span *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Joins free blocks that touch, and gives one that ends at the never-used end back to it. The
 * free lists keep no headers in the arena, so this sorts every free block by offset: O(blocks
 * log blocks), run only when an allocation finds no room otherwise (versions that grew past
 * the sizes of the free blocks). Returns true if any block was joined.
 */
static bool dim_live_coalesce(struct dim *d)
{
	struct dim_live *l = d->live;
	struct dim_live_spans all = {0};
	for (uint32_t c = 1; c < DIM_LIVE_CLASSES; c++)
		for (size_t i = 0; i < l->small[c].n; i++)
			if (dim_live_spans_push(&all, l->small[c].v[i], c * DIM_LIVE_ALIGN) != 0)
				goto out_free;
	for (size_t i = 0; i < l->large.n; i++)
		if (dim_live_spans_push(&all, l->large.v[i].off, l->large.v[i].bytes) != 0)
			goto out_free;
	qsort(all.v, all.n, sizeof(*all.v), dim_live_span_cmp);
	size_t n = 0;
	for (size_t i = 0; i < all.n; i++) {
		if (n && all.v[n - 1].off + all.v[n - 1].bytes == all.v[i].off)
			all.v[n - 1].bytes += all.v[i].bytes;
		else
			all.v[n++] = all.v[i];
	}
	if (n && all.v[n - 1].off + all.v[n - 1].bytes == l->bump) {
		l->bump = all.v[--n].off;
		atomic_store_explicit(&l->never_used, l->end - l->bump, memory_order_relaxed);
	}
	bool joined = n < all.n;
	if (joined) {
		for (uint32_t c = 1; c < DIM_LIVE_CLASSES; c++)
			l->small[c].n = 0;
		l->large.n = 0;
		for (size_t i = 0; i < n; i++)
			dim_live_free_block(d, all.v[i].off, all.v[i].bytes);
	}
	free(all.v);
	return joined;

out_free:
	free(all.v);
	return false;
}

/*
 * dim_live_alloc, and when the arena has no room: the retired versions start their grace
 * period and the writer waits for them, oldest batch first, until a block fits or none is left
 * waiting; then touching free blocks are joined. Readers are never waited for longer than a
 * grace period each.
 */
static int dim_live_alloc_waiting(struct dim *d, uint32_t bytes, uint32_t *off)
{
	struct dim_live *l = d->live;
	int rc = dim_live_alloc(d, bytes, off);
	if (rc != -ENOSPC)
		return rc;
	rc = dim_live_close_batch(l);
	if (rc)
		return rc;
	for (;;) {
		dim_live_reclaim(d);
		rc = dim_live_alloc(d, bytes, off);
		if (rc != -ENOSPC)
			return rc;
		if (l->pending_n == 0)
			return dim_live_coalesce(d) ? dim_live_alloc(d, bytes, off) : -ENOSPC;
		dimpub_gp_wait(l->pending[l->first].ticket);
	}
}

/* ---- set-up ---- */

struct dim_live *dim_live_new(void)
{
	struct dim_live *l = calloc(1, sizeof(*l));
	if (l)
		l->gen = 1; /* 0: the build's, never a deleting batch's */
	return l;
}

void dim_live_set_zero(struct dim *d, uint32_t rec)
{
	d->live->zero_ref = rec;
}

/* The writer's count of each shard's slots in use, and the limit of new keys. */
static void dim_live_count_slots(struct dim *d, unsigned lf, const uint64_t *shard_keys)
{
	struct dim_live *l = d->live;
	uint64_t used = 0;
	for (unsigned s = 0; s < d->shards; s++) {
		l->shard_used[s] = shard_keys[s];
		used += shard_keys[s];
	}
	l->shard_limit = (d->cap_mask + 1) * lf / 100;
	atomic_store_explicit(&l->slots_used, used, memory_order_relaxed);
}

/* The free room of the arena: what the build's shards left, and the end. */
static void dim_live_arena_init(struct dim *d, const uint64_t *used_end, const uint64_t *shard_end)
{
	struct dim_live *l = d->live;
	uint64_t free_bytes = 0;
	for (unsigned s = 0; s < d->shards; s++) {
		uint64_t from = used_end[s], to = shard_end[s];
		/* Blocks of at most UINT32_MAX bytes (the arena is below 4 GiB anyway). */
		if (to > from) {
			dim_live_free_block(d, (uint32_t)from, (uint32_t)(to - from));
			free_bytes += to - from;
		}
	}
	l->bump = shard_end[d->shards - 1];
	l->end = d->arena_bytes;
	DIM_LIVE_POISON(d->arena + l->bump, l->end - l->bump);
	uint64_t used = l->bump - 8 - free_bytes;
	atomic_store_explicit(&l->arena_used, used, memory_order_relaxed);
	atomic_store_explicit(&l->arena_peak, used, memory_order_relaxed);
	atomic_store_explicit(&l->never_used, l->end - l->bump, memory_order_relaxed);
}

/* The writer's map of each LowCardinality dictionary, codes as the table's. */
static int dim_live_dicts_init(struct dim *d)
{
	struct dim_live *l = d->live;
	for (unsigned a = 0; a < d->attr_count; a++) {
		struct dim_attr_info *ai = &d->attr[a];
		if (ai->col.type != DIM_TYPE_LC_STRING)
			continue;
		int rc = dim_lc_map_init(&l->dict[a].map);
		if (rc)
			return rc;
		uint32_t count = atomic_load_explicit(&ai->col.dict_count, memory_order_relaxed);
		for (uint32_t c = 1; c < count; c++) {
			uint32_t code;
			rc = dim_lc_map_intern(&l->dict[a].map, ai->dict[c].ptr, ai->dict[c].len,
					       &code);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int dim_live_init(struct dim *d, const struct dim_spec *spec, unsigned lf,
		  const uint64_t *shard_keys, const uint64_t *used_end, const uint64_t *shard_end)
{
	struct dim_live *l = d->live;
	l->ls.key_name = spec->key_column;
	l->ls.key_type = d->key_type;
	l->ls.key_strip_query = spec->key_strip_query && d->key_type == DIM_TYPE_STRING;
	l->ls.attr_count = d->attr_count;
	for (unsigned a = 0; a < d->attr_count; a++) {
		l->ls.name[a] = d->attr[a].name;
		l->ls.type[a] = d->attr[a].col.type;
		l->ls.nullable[a] = d->attr[a].col.nullable;
	}
	atomic_store_explicit(&l->rows, d->rows, memory_order_relaxed);
	dim_live_count_slots(d, lf, shard_keys);
	dim_live_arena_init(d, used_end, shard_end);
	return dim_live_dicts_init(d);
}

void dim_live_free(struct dim *d)
{
	struct dim_live *l = d->live;
	if (!l)
		return;
	/* Unpoisoned before the arena is unmapped: the addresses may be mapped again. */
	if (d->arena)
		DIM_LIVE_UNPOISON(d->arena, d->arena_bytes);
	for (unsigned c = 0; c < DIM_LIVE_CLASSES; c++)
		free(l->small[c].v);
	free(l->large.v);
	free(l->retired.v);
	for (size_t i = 0; i < l->pending_n; i++)
		free(l->pending[l->first + i].spans.v);
	free(l->pending);
	for (unsigned a = 0; a < DIM_ATTR_MAX; a++) {
		if (l->dict[a].map.slots)
			dim_lc_map_free(&l->dict[a].map);
		dim_scratch_free(&l->dict[a].bytes);
	}
	free(l->norm);
	free(l);
	d->live = NULL;
}

size_t dim_live_rows(const struct dim *d)
{
	return (size_t)dim_live_get(&d->live->rows);
}

size_t dim_live_bytes(const struct dim *d)
{
	const struct dim_live *l = d->live;
	size_t n = sizeof(*l);
	for (unsigned a = 0; a < d->attr_count; a++) {
		const struct dim_lc_map *m = &l->dict[a].map;
		if (m->slots)
			n += ((size_t)m->mask + 1) * sizeof(*m->slots) +
			     m->cap * (sizeof(*m->vals) + sizeof(*m->entries));
	}
	return n;
}

bool dim_is_live(const struct dim *d)
{
	return d->live != NULL;
}

/* dim_hash_key_u64, inlined here (XXH3 of the key's 8 little-endian bytes). */
static inline uint64_t dim_live_hash_u64(uint64_t key)
{
	uint64_t le = htole64(key);
	return XXH3_64bits(&le, sizeof(le));
}

/* ---- readers: the probes of a live table ----
 *
 * Slot words are loaded atomically (relaxed for a key, acquire for a reference: the record it
 * names was written before the release store that published it). Nothing here writes shared
 * memory, waits or retries.
 */

static inline uint64_t dim_live_load_key(const uint8_t *slot)
{
	return __atomic_load_n((const uint64_t *)(const void *)slot, __ATOMIC_RELAXED);
}

/*
 * The row of the slot where key was seen: its record, if it has one and the slot still holds
 * key after the reference was loaded. A slot changes key only as a tombstone given to a new key
 * a grace period after the delete: a reader that saw the old key before that and loads the new
 * key's reference then sees the new key too (the acquire orders the reload after the
 * reference), so it never returns another key's row; the old key was deleted: a miss.
 */
static inline const struct dim_row *dim_live_slot_row(const struct dim *d, const uint8_t *slot,
						      uint64_t key)
{
	uint32_t ref = __atomic_load_n((const uint32_t *)(const void *)(slot + DIM_LIVE_REF_OFF),
				       __ATOMIC_ACQUIRE);
	if (ref == 0 || dim_live_load_key(slot) != key)
		return NULL;
	const uint8_t *rec = d->arena + ref;
	__builtin_prefetch(rec); /* the worker reads its attributes after every table's probe */
	return (const struct dim_row *)rec;
}

static const struct dim_row *dim_live_zero_row(const struct dim *d)
{
	uint32_t ref = __atomic_load_n(&d->live->zero_ref, __ATOMIC_ACQUIRE);
	return ref ? (const struct dim_row *)(d->arena + ref) : NULL;
}

/* Walks key's slots from its home (keys never leave a slot empty behind them: a probe ends at
 * the first empty slot). */
const struct dim_row *dim_live_find_u64(const struct dim *d, uint64_t key, uint64_t h)
{
	if (key == 0)
		return dim_live_zero_row(d);
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		const uint8_t *s = dim_slot_at(d, base | pos);
		uint64_t k = dim_live_load_key(s);
		if (k == key)
			return dim_live_slot_row(d, s, key);
		if (k == 0)
			return NULL;
		pos = (pos + 1) & d->cap_mask;
	}
	return NULL;
}

/* The home line's four slots compared without a branch on them; a line without the key is
 * looked at for an empty slot (a miss) or walked on from. */
static inline const struct dim_row *dim_live_line_u64(const struct dim *d, uint64_t key,
						      uint64_t h)
{
	if (key == 0)
		return dim_live_zero_row(d);
	const uint8_t *line = dim_slot_at(d, dim_home(d, h));
	unsigned hit = 0;
	uint64_t k[DIM_LINE_BYTES >> DIM_LIVE_SLOT_SHIFT];
#pragma GCC unroll 4
	for (unsigned i = 0; i < DIM_LINE_BYTES >> DIM_LIVE_SLOT_SHIFT; i++) {
		k[i] = dim_live_load_key(line + (i << DIM_LIVE_SLOT_SHIFT));
		hit |= (unsigned)(k[i] == key) << i;
	}
	if (hit)
		return dim_live_slot_row(d, line + ((unsigned)__builtin_ctz(hit) << DIM_LIVE_SLOT_SHIFT),
					 key);
	for (unsigned i = 0; i < DIM_LINE_BYTES >> DIM_LIVE_SLOT_SHIFT; i++)
		if (k[i] == 0)
			return NULL;
	return dim_live_find_u64(d, key, h);
}

/*
 * The probe pipeline of live tables, by groups of DIM_PROBE_AHEAD keys as dim.c's: the keys of
 * group k + 1 are hashed (when hash_out is given) and their home lines prefetched, then group k
 * is probed; a String key's first tag match is prefetched and kept in cand.
 */
void dim_live_probe_u64(const struct dim *d, const uint64_t *keys, size_t n,
			const uint64_t *hashes, uint64_t *hash_out, const struct dim_row **rows)
{
	const uint64_t *hs = hash_out ? hash_out : hashes;
	for (size_t first = 0; first < n + DIM_PROBE_AHEAD; first += DIM_PROBE_AHEAD) {
		size_t end = first + DIM_PROBE_AHEAD < n ? first + DIM_PROBE_AHEAD : n;
		for (size_t i = first; hash_out && i < end; i++) {
			hash_out[i] = dim_live_hash_u64(keys[i]);
			__builtin_prefetch(dim_slot_at(d, dim_home(d, hash_out[i])));
		}
		if (first == 0)
			continue;
		size_t to = first < n ? first : n;
		for (size_t j = first - DIM_PROBE_AHEAD; j < to; j++)
			rows[j] = dim_live_line_u64(d, keys[j], hs[j]);
	}
}

/* The record at the reference of slot word w, if it is a row of the tag's. */
static inline bool dim_live_word_is(uint64_t w, uint32_t tag)
{
	return (uint32_t)(w >> 32) == tag && (uint32_t)w >= DIM_LIVE_REF_MIN;
}

static inline uint64_t dim_live_load_word(const uint8_t *slot)
{
	return __atomic_load_n((const uint64_t *)(const void *)slot, __ATOMIC_ACQUIRE);
}

const struct dim_row *dim_live_find_str(const struct dim *d, const char *key, size_t len,
					uint64_t h)
{
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint64_t w = dim_live_load_word(dim_slot_at(d, base | pos));
		if (w == 0)
			return NULL;
		if (dim_live_word_is(w, tag) && dim_rec_key_eq(d, d->arena + (uint32_t)w, key, len))
			return (const struct dim_row *)(d->arena + (uint32_t)w);
		pos = (pos + 1) & d->cap_mask;
	}
	return NULL;
}

/* Slot i's row (i == the slot count: key 0's), as dim_row_at for a live table. */
const struct dim_row *dim_live_row_at(const struct dim *d, size_t i)
{
	size_t cap = (size_t)d->shards << d->cap_bits;
	if (i > cap)
		return NULL;
	if (i == cap)
		return d->key_type == DIM_TYPE_UINT64 ? dim_live_zero_row(d) : NULL;
	const uint8_t *s = dim_slot_at(d, i);
	if (d->key_type == DIM_TYPE_UINT64) {
		uint64_t key = dim_live_load_key(s);
		return key ? dim_live_slot_row(d, s, key) : NULL;
	}
	uint64_t w = dim_live_load_word(s);
	if ((uint32_t)w < DIM_LIVE_REF_MIN)
		return NULL; /* empty, or a tombstone */
	return (const struct dim_row *)(d->arena + (uint32_t)w);
}

/* A String key's first slot with its tag and a row, from its home; the record prefetched. */
static inline uint64_t dim_live_cand_str(const struct dim *d, size_t len, uint64_t h)
{
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint64_t w = dim_live_load_word(dim_slot_at(d, base | pos));
		if (w == 0)
			return UINT64_MAX;
		if (dim_live_word_is(w, tag)) {
			const uint8_t *rec = d->arena + (uint32_t)w;
			__builtin_prefetch(rec);
			__builtin_prefetch(rec + d->row_fixed + len);
			return (uint32_t)w;
		}
		pos = (pos + 1) & d->cap_mask;
	}
	return UINT64_MAX;
}

/*
 * The home line's eight words compared without a branch on them. The first word with the tag is
 * the candidate even past an empty slot (dim.c's dim_line_str masks those; here that would cost
 * more than the rare full walk of a candidate that is another key's); only a line without one
 * is looked at for an empty slot (a miss) or walked on from.
 */
static inline uint64_t dim_live_line_str(const struct dim *d, size_t len, uint64_t h)
{
	const uint8_t *line = dim_slot_at(d, dim_home(d, h));
	uint32_t tag = (uint32_t)(h >> 32);
	unsigned hit = 0;
	uint64_t w[DIM_LINE_BYTES / 8];
#pragma GCC unroll 8
	for (unsigned i = 0; i < DIM_LINE_BYTES / 8; i++) {
		w[i] = dim_live_load_word(line + 8 * i);
		hit |= (unsigned)((uint32_t)(w[i] >> 32) == tag) << i;
	}
	/* Only a tag of 0 (one key in 2^32) matches empty slots and tombstones. */
	if (__builtin_expect(tag == 0, 0))
		for (unsigned i = 0; i < DIM_LINE_BYTES / 8; i++)
			hit &= ~((unsigned)!dim_live_word_is(w[i], tag) << i);
	if (hit) {
		uint64_t ref = (uint32_t)w[__builtin_ctz(hit)];
		const uint8_t *rec = d->arena + ref;
		__builtin_prefetch(rec);
		__builtin_prefetch(rec + d->row_fixed + len);
		return ref;
	}
	for (unsigned i = 0; i < DIM_LINE_BYTES / 8; i++)
		if (w[i] == 0)
			return UINT64_MAX;
	return dim_live_cand_str(d, len, h);
}

void dim_live_probe_start_str(const struct dim *d, const struct dim_str *keys, size_t n,
			      const uint64_t *hashes, uint64_t *hash_out, uint64_t *cand)
{
	const uint64_t *hs = hash_out ? hash_out : hashes;
	for (size_t first = 0; first < n + DIM_PROBE_AHEAD; first += DIM_PROBE_AHEAD) {
		size_t end = first + DIM_PROBE_AHEAD < n ? first + DIM_PROBE_AHEAD : n;
		for (size_t i = first; hash_out && i < end; i++) {
			hash_out[i] = XXH3_64bits(keys[i].ptr, keys[i].len);
			__builtin_prefetch(dim_slot_at(d, dim_home(d, hash_out[i])));
		}
		if (first == 0)
			continue;
		size_t to = first < n ? first : n;
		for (size_t j = first - DIM_PROBE_AHEAD; j < to; j++)
			cand[j] = dim_live_line_str(d, keys[j].len, hs[j]);
	}
}

/* The candidate record of each key compared in full; a record of another key with the same tag
 * (about one probe in 2^32) sends the key through a full walk. The candidate, found before, is
 * still readable: a record is reused only after the reader's next quiescent state. */
void dim_live_probe_finish_str(const struct dim *d, const struct dim_str *keys,
			       const uint64_t *hashes, const uint64_t *cand, size_t n,
			       const struct dim_row **rows)
{
	for (size_t j = 0; j < n; j++) {
		if (cand[j] == UINT64_MAX) {
			rows[j] = NULL;
			continue;
		}
		const uint8_t *rec = d->arena + cand[j];
		rows[j] = dim_rec_key_eq(d, rec, keys[j].ptr, keys[j].len)
			? (const struct dim_row *)rec
			: dim_live_find_str(d, keys[j].ptr, keys[j].len, hashes[j]);
	}
}

/* ---- the writer ---- */

/* A change's key: the UInt64, or the String as stored (normalised); its hash. */
struct dim_live_key {
	uint64_t u64;
	struct dim_str str;
	uint64_t h;
};

/* Where a key is, or would go. */
struct dim_live_place {
	uint8_t *slot; /* NULL for UInt64 key 0, which has a reference of its own */
	uint32_t ref;  /* the key's record now (0: none) */
	bool found;    /* the slot holds the key: its row, or (UInt64) its tombstone */
	bool empty;    /* not found: an empty slot (one more of its shard's), not a tombstone */
	unsigned shard;
};

/* True once the grace period of the batch that deleted with this stamp has passed. */
static inline bool dim_live_stamp_done(const struct dim_live *l, uint32_t stamp)
{
	return (int32_t)(l->gen_done - stamp) >= 0;
}

/* Walks key's slots (plain loads: only this thread writes them). False: the shard has no
 * empty slot, which its limit prevents. */
static bool dim_live_place_u64(const struct dim *d, uint64_t key, uint64_t h,
			       struct dim_live_place *pl)
{
	const struct dim_live *l = d->live;
	*pl = (struct dim_live_place){.shard = (unsigned)dim_shard_of(d, h)};
	if (key == 0) {
		pl->ref = l->zero_ref;
		pl->found = pl->ref != 0;
		return true;
	}
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	uint8_t *reuse = NULL;
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint8_t *s = dim_slot_at(d, base | pos);
		uint64_t k = dim_load_u64(s);
		uint32_t ref, stamp;
		memcpy(&ref, s + DIM_LIVE_REF_OFF, sizeof(ref));
		memcpy(&stamp, s + DIM_LIVE_STAMP_OFF, sizeof(stamp));
		if (k == key || k == 0) {
			pl->found = k == key;
			pl->slot = pl->found || !reuse ? s : reuse;
			pl->ref = pl->found ? ref : 0;
			pl->empty = !pl->found && !reuse;
			return true;
		}
		/* Another key's tombstone, free to take once its delete's grace period passed. */
		if (!reuse && ref == 0 && dim_live_stamp_done(l, stamp))
			reuse = s;
		pos = (pos + 1) & d->cap_mask;
	}
	return false;
}

static bool dim_live_place_str(const struct dim *d, struct dim_str key, uint64_t h,
			       struct dim_live_place *pl)
{
	*pl = (struct dim_live_place){.shard = (unsigned)dim_shard_of(d, h)};
	uint64_t base = dim_shard_base(d, h);
	uint64_t pos = h & d->home_mask;
	uint32_t tag = (uint32_t)(h >> 32);
	uint8_t *reuse = NULL;
	for (uint64_t i = 0; i <= d->cap_mask; i++) {
		uint8_t *s = dim_slot_at(d, base | pos);
		uint64_t w = dim_load_u64(s);
		if (w == 0) {
			pl->slot = reuse ? reuse : s;
			pl->empty = !reuse;
			return true;
		}
		/* A String slot is one word: a tombstone may take another key at once. */
		if (w == DIM_LIVE_TOMB && !reuse)
			reuse = s;
		if (dim_live_word_is(w, tag) &&
		    dim_rec_key_eq(d, d->arena + (uint32_t)w, key.ptr, key.len)) {
			pl->slot = s;
			pl->ref = (uint32_t)w;
			pl->found = true;
			return true;
		}
		pos = (pos + 1) & d->cap_mask;
	}
	return false;
}

/* Where k goes; -ENOSPC when it needs a new slot and its shard is at its limit. */
static int dim_live_place(const struct dim *d, const struct dim_live_key *k,
			  struct dim_live_place *pl, char *err, size_t cap)
{
	const struct dim_live *l = d->live;
	bool ok = d->key_type == DIM_TYPE_UINT64 ? dim_live_place_u64(d, k->u64, k->h, pl)
						  : dim_live_place_str(d, k->str, k->h, pl);
	if (ok && !(pl->empty && l->shard_used[pl->shard] >= l->shard_limit))
		return 0;
	snprintf(err, cap, "dimension %s: no slot for a new key (shard %u holds %llu keys and "
		 "tombstones, its limit): the table needs a rebuild", d->name, pl->shard,
		 (unsigned long long)l->shard_used[pl->shard]);
	return -ENOSPC;
}

/*
 * Makes rec (0: none -- a delete) the row of the placed key. The record is complete; one
 * release store publishes it (a UInt64 key taking a slot is stored first, relaxed: a reader
 * checks it again after loading the reference). The record it replaces is retired.
 */
static void dim_live_link(struct dim *d, const struct dim_live_place *pl,
			  const struct dim_live_key *k, uint32_t rec)
{
	struct dim_live *l = d->live;
	if (!pl->slot) {
		__atomic_store_n(&l->zero_ref, rec, __ATOMIC_RELEASE);
	} else if (d->key_type == DIM_TYPE_UINT64) {
		if (!pl->found)
			__atomic_store_n((uint64_t *)(void *)pl->slot, k->u64, __ATOMIC_RELAXED);
		if (rec == 0) /* the deleting batch: the slot may take another key after its grace */
			memcpy(pl->slot + DIM_LIVE_STAMP_OFF, &l->gen, sizeof(l->gen));
		__atomic_store_n((uint32_t *)(void *)(pl->slot + DIM_LIVE_REF_OFF), rec,
				 __ATOMIC_RELEASE);
	} else {
		uint64_t w = rec ? (k->h >> 32) << 32 | rec : DIM_LIVE_TOMB;
		__atomic_store_n((uint64_t *)(void *)pl->slot, w, __ATOMIC_RELEASE);
	}
	if (pl->slot && !pl->found && pl->empty) {
		l->shard_used[pl->shard]++;
		dim_live_add(&l->slots_used, 1);
	}
	/* A tombstone taken (another key's, or a UInt64 key's own), or left by a delete. */
	if (pl->slot && (!pl->found ? !pl->empty : pl->ref == 0))
		dim_live_add(&l->tombstones, -1);
	if (pl->slot && rec == 0)
		dim_live_add(&l->tombstones, 1);
	if (pl->ref)
		dim_live_retire(d, pl->ref);
	dim_live_add(&l->rows, rec && !pl->ref ? 1 : !rec && pl->ref ? -1 : 0);
	dim_live_add(rec ? (pl->ref ? &l->updates : &l->inserts) : &l->deletes, 1);
	dim_live_add(&l->changes, 1);
}

/* One change's values converted, their LowCardinality codes, the bytes of their Strings. */
struct dim_live_row {
	struct dim_value v[DIM_ATTR_MAX];
	uint32_t code[DIM_ATTR_MAX];
	size_t str_bytes;
};

static int dim_live_convert(const struct dim *d, const struct dim_str *values,
			    struct dim_live_row *row, char *err, size_t cap)
{
	const struct dim_live *l = d->live;
	row->str_bytes = 0;
	for (unsigned a = 0; a < d->attr_count; a++) {
		const struct dim_str *in = &values[a];
		int rc = dim_value_text(&l->ls, a, in->ptr, in->len, in->ptr == NULL, &row->v[a], err,
					cap);
		if (rc)
			return rc;
		const struct dim_str *v = &row->v[a].str;
		if (d->attr[a].col.type == DIM_TYPE_STRING && v->ptr)
			row->str_bytes += dim_varint_len(v->len) + v->len;
	}
	return 0;
}

/*
 * The code of value v of LowCardinality attribute a (0: NULL), appending it to the dictionary
 * when new: the entry is written, then the count that makes it readable is raised with a
 * release store. Returns 0, -ENOSPC (no room left), -ENOMEM.
 */
static int dim_live_intern(struct dim *d, unsigned a, struct dim_str v, uint32_t *code, char *err,
			   size_t cap)
{
	struct dim_attr_info *ai = &d->attr[a];
	struct dim_live_dict *ld = &d->live->dict[a];
	static const char empty[1] = "";
	*code = 0;
	if (!v.ptr || dim_lc_map_find(&ld->map, v.ptr, v.len, code) == 0)
		return 0;
	uint32_t count = atomic_load_explicit(&ai->col.dict_count, memory_order_relaxed);
	if (count >= ai->col.dict_cap) {
		snprintf(err, cap, "attribute '%s': its dictionary is full (%u values): the table "
			 "needs a rebuild", ai->name, count - 1);
		return -ENOSPC;
	}
	char *p = v.len ? dim_scratch_alloc(&ld->bytes, v.len) : NULL;
	if (v.len && !p)
		return -ENOMEM;
	if (v.len)
		memcpy(p, v.ptr, v.len);
	int rc = dim_lc_map_intern(&ld->map, p ? p : empty, v.len, code);
	if (rc)
		return rc;
	ai->dict[count] = (struct dim_str){p ? p : empty, v.len};
	atomic_store_explicit(&ai->col.dict_count, count + 1, memory_order_release);
	return 0;
}

/* Writes the attributes of row into the record at off; its String values from byte at on. */
static void dim_live_pack(struct dim *d, const struct dim_live_row *row, uint32_t off, size_t at)
{
	uint8_t *rec = d->arena + off;
	uint8_t nulls[DIM_ATTR_MAX / 8] = {0};
	for (unsigned a = 0; a < d->attr_count; a++) {
		const struct dim_col *c = &d->attr[a].col;
		const struct dim_value *v = &row->v[a];
		uint64_t x;
		switch (c->type) {
		case DIM_TYPE_LC_STRING:
			x = row->code[a];
			break;
		case DIM_TYPE_STRING:
			x = 0;
			if (v->str.ptr) {
				x = off + at;
				uint8_t *p = dim_varint_put(rec + at, v->str.len);
				if (v->str.len)
					memcpy(p, v->str.ptr, v->str.len);
				at = (size_t)(p - rec) + v->str.len;
			}
			break;
		default:
			x = v->num;
			if (c->null_mask && v->null)
				nulls[c->null_offset - d->null_off] |= c->null_mask;
			break;
		}
		dim_put_width(rec + c->offset, c->width, x);
	}
	for (unsigned k = 0; k < d->null_len; k++)
		rec[d->null_off + k] = nulls[k];
}

/* A new record of the key and row; *out its offset. Returns 0, -ENOSPC, -ENOMEM. */
static int dim_live_write(struct dim *d, const struct dim_live_row *row,
			  const struct dim_live_key *k, uint32_t *out, char *err, size_t cap)
{
	size_t head = d->key_type == DIM_TYPE_UINT64
		? 8 + d->row_fixed
		: d->row_fixed + dim_varint_len(k->str.len) + k->str.len;
	uint32_t bytes = dim_live_round(head + row->str_bytes), off;
	int rc = dim_live_alloc_waiting(d, bytes, &off);
	if (rc == -ENOSPC)
		snprintf(err, cap, "dimension %s: no arena room for a %u-byte row version (%llu "
			 "bytes never used, the rest in blocks of other sizes): the table needs a "
			 "rebuild", d->name, bytes,
			 (unsigned long long)dim_live_get(&d->live->never_used));
	if (rc)
		return rc;
	uint8_t *rec = d->arena + off;
	memset(rec, 0, bytes);
	if (d->key_type == DIM_TYPE_UINT64) {
		memcpy(rec, &k->u64, 8);
	} else {
		uint8_t *kp = dim_varint_put(rec + d->row_fixed, k->str.len);
		if (k->str.len)
			memcpy(kp, k->str.ptr, k->str.len);
	}
	dim_live_pack(d, row, off, head);
	*out = off;
	return 0;
}

static int dim_live_upsert(struct dim *d, const struct dim_live_key *k,
			   const struct dim_str *values, char *err, size_t cap)
{
	struct dim_live *l = d->live;
	struct dim_live_row row;
	struct dim_live_place pl;
	uint32_t rec = 0;
	int rc = dim_live_convert(d, values, &row, err, cap);
	if (!rc)
		rc = dim_live_place(d, k, &pl, err, cap);
	for (unsigned a = 0; !rc && a < d->attr_count; a++) {
		if (d->attr[a].col.type == DIM_TYPE_LC_STRING)
			rc = dim_live_intern(d, a, row.v[a].str, &row.code[a], err, cap);
	}
	if (!rc)
		rc = dim_live_write(d, &row, k, &rec, err, cap);
	if (!rc) {
		rc = dim_live_retire_reserve(l);
		if (rc) { /* never published: back to the free lists at once */
			uint32_t bytes = dim_live_rec_bytes(d, d->arena + rec);
			dim_live_free_block(d, rec, bytes);
			dim_live_add(&l->arena_used, -(int64_t)bytes);
		}
	}
	if (rc) {
		dim_live_add(&l->rejected, 1);
		return rc;
	}
	dim_live_link(d, &pl, k, rec);
	return 0;
}

static int dim_live_delete(struct dim *d, const struct dim_live_key *k)
{
	struct dim_live *l = d->live;
	struct dim_live_place pl;
	if (dim_live_place(d, k, &pl, NULL, 0) != 0 || !pl.found || pl.ref == 0) {
		dim_live_add(&l->delete_misses, 1);
		return -ENOENT;
	}
	int rc = dim_live_retire_reserve(l);
	if (rc) {
		dim_live_add(&l->rejected, 1);
		return rc;
	}
	dim_live_link(d, &pl, k, 0);
	return 0;
}

/* -EPERM unless d is live, -EINVAL unless its keys are of key_type. */
static int dim_live_check(const struct dim *d, enum dim_type key_type, char *err, size_t cap)
{
	if (!d->live) {
		snprintf(err, cap, "dimension %s was not loaded live", d->name);
		return -EPERM;
	}
	if (d->key_type != key_type) {
		snprintf(err, cap, "dimension %s has %s keys", d->name, dim_type_name(d->key_type));
		return -EINVAL;
	}
	return 0;
}

/* The String key as the table stores it (normalised when the spec asked for that). */
static int dim_live_key_str(struct dim *d, const char *key, size_t len, struct dim_live_key *k,
			    char *err, size_t cap)
{
	struct dim_live *l = d->live;
	if (len > DIM_STR_LEN_MAX) {
		snprintf(err, cap, "key of %zu bytes exceeds %zu", len, DIM_STR_LEN_MAX);
		return -EINVAL;
	}
	if (!key)
		key = "";
	if (l->ls.key_strip_query && len > 0) {
		if (l->norm_cap < len) {
			char *p = realloc(l->norm, len);
			if (!p)
				return -ENOMEM;
			l->norm = p;
			l->norm_cap = len;
		}
		len = url_norm_strip_query(key, len, l->norm, len);
		key = l->norm;
	}
	k->str = (struct dim_str){key, len};
	k->h = XXH3_64bits(key, len);
	return 0;
}

int dim_upsert_u64(struct dim *d, uint64_t key, const struct dim_str *values, char *err,
		   size_t cap)
{
	int rc = dim_live_check(d, DIM_TYPE_UINT64, err, cap);
	if (rc)
		return rc;
	struct dim_live_key k = {.u64 = key, .h = dim_hash_key_u64(key)};
	return dim_live_upsert(d, &k, values, err, cap);
}

int dim_upsert_str(struct dim *d, const char *key, size_t len, const struct dim_str *values,
		   char *err, size_t cap)
{
	struct dim_live_key k = {0};
	int rc = dim_live_check(d, DIM_TYPE_STRING, err, cap);
	if (!rc)
		rc = dim_live_key_str(d, key, len, &k, err, cap);
	if (rc) {
		if (rc != -EPERM)
			dim_live_add(&d->live->rejected, 1);
		return rc;
	}
	return dim_live_upsert(d, &k, values, err, cap);
}

int dim_delete_u64(struct dim *d, uint64_t key)
{
	int rc = dim_live_check(d, DIM_TYPE_UINT64, NULL, 0);
	if (rc)
		return rc;
	struct dim_live_key k = {.u64 = key, .h = dim_hash_key_u64(key)};
	return dim_live_delete(d, &k);
}

int dim_delete_str(struct dim *d, const char *key, size_t len)
{
	struct dim_live_key k = {0};
	int rc = dim_live_check(d, DIM_TYPE_STRING, NULL, 0);
	if (!rc)
		rc = dim_live_key_str(d, key, len, &k, NULL, 0);
	return rc ? rc : dim_live_delete(d, &k);
}

int dim_changes_publish(struct dim *d)
{
	if (!d->live)
		return -EPERM;
	int rc = dim_live_close_batch(d->live);
	dim_live_reclaim(d);
	dim_live_add(&d->live->publishes, 1);
	return rc;
}

int dim_changes_drain(struct dim *d)
{
	int rc = dim_changes_publish(d);
	if (rc)
		return rc;
	struct dim_live *l = d->live;
	while (l->pending_n) {
		dimpub_gp_wait(l->pending[l->first + l->pending_n - 1].ticket);
		dim_live_reclaim(d);
	}
	return 0;
}

/* ---- counters ---- */

void dim_live_stats(const struct dim *d, struct dim_live_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->attr_count = d->attr_count;
	const struct dim_live *l = d->live;
	if (!l) {
		out->rows = d->rows;
		return;
	}
	out->changes = dim_live_get(&l->changes);
	out->inserts = dim_live_get(&l->inserts);
	out->updates = dim_live_get(&l->updates);
	out->deletes = dim_live_get(&l->deletes);
	out->delete_misses = dim_live_get(&l->delete_misses);
	out->rejected = dim_live_get(&l->rejected);
	out->publishes = dim_live_get(&l->publishes);
	out->bytes_retired = dim_live_get(&l->bytes_retired);
	out->bytes_reclaimed = dim_live_get(&l->bytes_reclaimed);
	out->rows = dim_live_get(&l->rows);
	out->slots_used = dim_live_get(&l->slots_used);
	out->slots_limit = l->shard_limit * d->shards;
	out->tombstones = dim_live_get(&l->tombstones);
	out->arena_bytes = d->arena_bytes;
	out->arena_used = dim_live_get(&l->arena_used);
	out->arena_peak = dim_live_get(&l->arena_peak);
	out->arena_never_used = dim_live_get(&l->never_used);
	for (unsigned a = 0; a < d->attr_count; a++) {
		const struct dim_col *c = &d->attr[a].col;
		if (c->type == DIM_TYPE_LC_STRING)
			out->dict_room[a] = c->dict_cap - atomic_load_explicit(&c->dict_count,
									       memory_order_relaxed);
	}
}
