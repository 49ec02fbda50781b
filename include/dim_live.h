/*
 * dim_live: changes to a loaded dimension table while the workers probe it -- upserts and
 * deletes of single rows, with no rebuild and no pause of the probes.
 *
 * Which tables. One loaded with spec.live (dim.h: dim_load, or dim_build from staged parts).
 * Its rows are immutable versioned records in the table's arena, each reached through one
 * reference in its slot that a change replaces with a single atomic store; the replaced record
 * is retired and its memory reused after a grace period (dimpub.h), when no reader can hold
 * it. The functions below return -EPERM on a table that was not loaded live.
 *
 * Threads. One writer per table at a time (the caller serialises its changes: one updater
 * thread per table, say). The writer is not a registered reader (dimpub.h): it may wait for a
 * grace period (see dim_changes_publish). Any number of readers probe the table meanwhile with
 * dim.h's lookups: no lock, no retry loop, no write to shared memory; a reader never waits for
 * the writer. dim_live_stats may be called from any thread.
 *
 * What a reader sees. A change is visible to every lookup that starts after the call that made
 * it returned (there is no separate publication step: the record's reference is stored with
 * release order, read with acquire order). A lookup that overlaps a change finds the row
 * before or after it. A row handle is a record that never changes while a reader can reach
 * it: a reader may keep the handles of a lookup until its next quiescent state
 * (dimpub_quiescent) and read their attributes in any order -- a worker reads a chunk's
 * attributes column by column -- and every attribute of a row comes from the same version.
 *
 * LowCardinality attributes. A value not in the dictionary is appended to it (the dictionary
 * was allocated at load with room for dim_spec.live_dict_room_pct more values, and the codes
 * are as wide as that room needs); entries never change once published and the array never
 * moves, so Native blocks that borrow it stay valid. A reader that finds a row with a new code
 * must reload dim_col.dict_count after the lookup (dim.h). With no room left the change fails
 * with -ENOSPC: the table needs a rebuild (a full load).
 *
 * Room. A live table is planned with live_headroom_pct (default 25%) more slots than its rows
 * at its load factor, and as much more arena than its records. New keys are taken until a shard
 * holds rows * (100 + headroom)% (at least) at the load factor -- deleted keys keep their slot
 * as a tombstone until a new key takes it -- and new versions while the arena has room: freed
 * versions are reused by size (8-byte granularity, split when no block of the size is free).
 * When either is exhausted the change fails with -ENOSPC and the table needs a rebuild.
 *
 * NUMA replicas (numa = replicate): each node has its own table; apply every change to each of
 * them (the caller loops over the replicas). A replica's dictionary codes may differ from
 * another's; each is consistent with its own rows.
 *
 * Values. values[i] is attribute i in spec order, as text (ptr NULL: NULL), converted exactly
 * as the TSV/CSV loaders convert a field (dim_part.h: dim_value_text; an empty number is its
 * default, NULL becomes the default of a column that is not Nullable). err (cap bytes, may be
 * NULL if cap is 0) gets a one-line reason on failure, naming the attribute.
 */
#ifndef ENRICHD_DIM_LIVE_H
#define ENRICHD_DIM_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dim.h"

/* True if d was loaded with spec.live. */
bool dim_is_live(const struct dim *d);

/*
 * Inserts or replaces the row of key (a UInt64-keyed table) / key[0..len) (a String-keyed
 * table; stored as url_norm_strip_query gives it when the spec asked for that). Returns 0, or
 * -EINVAL (a value that does not convert, a key too long, the other key type), -ENOSPC (no slot
 * for a new key, no dictionary room for a new value, or no arena room for the version),
 * -ENOMEM, -EPERM (not a live table); on failure the table is unchanged, except that values
 * appended to a dictionary stay there. May wait for a grace period when the arena's only room
 * is in versions retired but not yet reclaimed. O(attributes + value bytes), plus the probe.
 */
int dim_upsert_u64(struct dim *d, uint64_t key, const struct dim_str *values, char *err,
		   size_t cap);
int dim_upsert_str(struct dim *d, const char *key, size_t len, const struct dim_str *values,
		   char *err, size_t cap);

/*
 * Deletes the row of key: later lookups miss it; an upsert inserts it again. Returns 0, -ENOENT
 * (no such row), -EINVAL (the other key type), -ENOMEM, -EPERM (not a live table).
 */
int dim_delete_u64(struct dim *d, uint64_t key);
int dim_delete_str(struct dim *d, const char *key, size_t len);

/*
 * Ends a batch of changes: the versions they replaced or deleted (already invisible to new
 * lookups) start their grace period, and those of earlier batches whose grace period has
 * passed are reclaimed for new versions. Never waits. Call it after every batch (a deleted
 * key's slot can take another key only after the grace period of the batch that deleted it).
 * Returns 0, -ENOMEM, -EPERM.
 */
int dim_changes_publish(struct dim *d);

/*
 * dim_changes_publish, then waits until every version retired so far is reclaimed (up to a
 * grace period, dimpub.h). For tests, benchmarks and a writer that stops. Returns as publish.
 */
int dim_changes_drain(struct dim *d);

struct dim_live_stats {
	uint64_t changes;          /* upserts and deletes applied */
	uint64_t inserts;          /* upserts of a key with no row (new, or deleted before) */
	uint64_t updates;          /* upserts that replaced a row */
	uint64_t deletes;          /* deletes of a row */
	uint64_t delete_misses;    /* deletes of a key with no row (-ENOENT) */
	uint64_t rejected;         /* changes that failed (-EINVAL, -ENOSPC, -ENOMEM) */
	uint64_t publishes;        /* dim_changes_publish calls */
	uint64_t bytes_retired;    /* arena bytes of replaced and deleted versions */
	uint64_t bytes_reclaimed;  /* of those, reclaimed after their grace period */
	uint64_t rows;             /* rows now (dim_rows) */
	uint64_t slots_used;       /* slots holding a key or a tombstone */
	uint64_t slots_limit;      /* most slots_used before new keys fail, all shards */
	uint64_t tombstones;       /* slots of deleted keys not taken again yet */
	uint64_t arena_bytes;      /* the arena's size */
	uint64_t arena_used;       /* bytes in records, current or waiting for reclamation */
	uint64_t arena_peak;       /* most arena_used since the load */
	uint64_t arena_never_used; /* bytes at the arena's end no record used yet */
	unsigned attr_count;
	/* LowCardinality attributes: dictionary entries left (dict_cap - dict_count); 0 for other
	 * types. */
	uint32_t dict_room[DIM_ATTR_MAX];
};

/* A snapshot of d's counters (each read atomically; not all at one instant). A table that is
 * not live gives its rows, attr_count and zeros. */
void dim_live_stats(const struct dim *d, struct dim_live_stats *out);

#endif
