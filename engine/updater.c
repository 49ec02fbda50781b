/*
 * updater: the writer of live dimension tables (contract in include/updater.h). Each live
 * dimension has its source's reader and how far it has read; a batch of changes is applied to
 * every replica's table in place, or by a rebuild and a swap when a table has no room.
 */
#include "updater.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changelog.h"
#include "deadletter.h"
#include "dim_live.h"
#include "dim_part.h"
#include "dim_pg.h"
#include "dim_rebuild.h"
#include "dim_snapshot.h"
#include "dimset.h"
#include "kafka.h"
#include "log.h"
#include "now.h"
#include "url_norm.h"

#define UPDATER_TICK_MS 100           /* longest sleep: how soon a stop is seen */
#define UPDATER_SEEN_MAX ((size_t)1 << 22) /* changes remembered to skip a second reading */
#define UPDATER_POLL_MS 20            /* a changelog poll's wait when nothing is there */
#define UPDATER_GATHER_MS 100         /* behind the topic: longest a batch gathers messages */
#define UPDATER_KAFKA_WAIT_MS 10000   /* metadata and watermark queries */

const uint32_t updater_visible_bounds_ms[UPDATER_VISIBLE_BUCKETS - 1] = {
	10, 50, 100, 250, 500, 1000, 2000, 5000};

/* Where a change came from, to dead-letter it when its value does not convert. */
struct change_meta {
	int32_t partition; /* -1: not a changelog message */
	int64_t offset;
	struct dim_str raw; /* the message's value */
};

/* A batch of changes; keys and values point into arena. */
struct batch {
	size_t n;
	struct dim_change ch[UPDATER_BATCH_MAX];
	struct change_meta meta[UPDATER_BATCH_MAX];
	struct dim_str vals[UPDATER_BATCH_MAX][CONFIG_ATTRS_MAX];
	char *arena;
	size_t used;
	int64_t read_ms; /* monotonic: when the read that found the first change started */
	uint64_t deletes;
};

uint64_t updater_memory_bytes(void)
{
	return sizeof(struct batch) + UPDATER_BATCH_BYTES;
}

/* Changes seen within the overlap: (hash of key and version, version); open addressing. */
struct seen {
	uint64_t *h;
	int64_t *num;
	size_t cap, count;
};

struct live_dim {
	size_t index;
	const struct config_dim *cd;
	struct dim_attr_spec attrs[CONFIG_ATTRS_MAX];
	struct dim_spec spec;
	struct dim_pg_source src;
	struct dim_pg_changes *pg;
	struct dim_pg_mark mark;
	const struct dimset_table *table_seen; /* replica 0's table when the mark was taken */
	struct seen seen;
	int64_t next_ms;
	/* A changelog: its consumer, the next offset and the catch-up target per partition. */
	struct kafka_changelog *cl;
	int32_t partitions;  /* 0: not assigned yet */
	int64_t *next_off;
	int64_t *target;
	int64_t newest_ts_ms; /* timestamp of the newest message read */
	int64_t retry_ms;     /* monotonic: when to ask for the partitions again */
	int64_t snapshot_ms;  /* monotonic: when the next snapshot is due */
	char cluster[128];    /* the changelog's Kafka cluster id ("" unknown), for snapshots */
	struct deadletter dl;
	bool dl_open;
	bool dl_dirty;
	bool failing;
	bool bad_logged;
	uint64_t log_changes, log_deletes;
	int64_t log_ms;
	struct updater_dim_stats *stats;
};

struct updater {
	struct updater_env env;
	pthread_t thread;
	_Atomic bool quit;
	size_t live_count;
	struct live_dim live[CONFIG_DIMS_MAX];
	struct batch *batch;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool updater_stopping(const struct updater *u)
{
	return atomic_load(&u->quit) || (u->env.stop && atomic_load(u->env.stop));
}

/* ---- changes seen ---- */

static uint64_t seen_hash(struct dim_str key, int64_t num)
{
	return dim_hash_key_str(key.ptr, key.len) ^ ((uint64_t)num * 0x9e3779b97f4a7c15ULL);
}

/* Finds (h, num); inserts it unless found. Returns true when it was there. */
static bool seen_test_set(struct seen *s, uint64_t h, int64_t num)
{
	if (s->count * 2 >= s->cap) {
		if (s->cap >= UPDATER_SEEN_MAX) {
			memset(s->h, 0, s->cap * sizeof(*s->h)); /* forget: a repeat is harmless */
			s->count = 0;
		} else {
			size_t cap = s->cap ? s->cap * 2 : 4096;
			uint64_t *nh = calloc(cap, sizeof(*nh));
			int64_t *nn = calloc(cap, sizeof(*nn));
			if (!nh || !nn) {
				free(nh);
				free(nn);
				return false;
			}
			for (size_t i = 0; i < s->cap; i++) {
				if (!s->h[i])
					continue;
				size_t j = s->h[i] & (cap - 1);
				while (nh[j])
					j = (j + 1) & (cap - 1);
				nh[j] = s->h[i];
				nn[j] = s->num[i];
			}
			free(s->h);
			free(s->num);
			s->h = nh;
			s->num = nn;
			s->cap = cap;
		}
	}
	h |= 1; /* 0 marks an empty slot */
	size_t i = h & (s->cap - 1);
	for (; s->h[i]; i = (i + 1) & (s->cap - 1))
		if (s->h[i] == h && s->num[i] == num)
			return true;
	s->h[i] = h;
	s->num[i] = num;
	s->count++;
	return false;
}

/* Forgets the changes older than bound: no read goes back that far any more. */
static void seen_prune(struct seen *s, int64_t bound)
{
	size_t kept = 0;
	for (size_t i = 0; i < s->cap; i++)
		kept += s->h[i] && s->num[i] >= bound;
	if (kept == s->count)
		return;
	struct seen old = *s;
	s->h = calloc(old.cap, sizeof(*s->h));
	s->num = calloc(old.cap, sizeof(*s->num));
	s->count = 0;
	if (!s->h || !s->num) {
		free(s->h);
		free(s->num);
		*s = (struct seen){0};
	}
	for (size_t i = 0; s->cap && i < old.cap; i++)
		if (old.h[i] && old.num[i] >= bound)
			seen_test_set(s, old.h[i], old.num[i]);
	free(old.h);
	free(old.num);
}

/* ---- applying a batch ---- */

/* One change in place. */
static int apply_one(struct dim *d, const struct dim_change *c, char *err, size_t cap)
{
	if (dim_key_type(d) == DIM_TYPE_UINT64)
		return c->deleted ? dim_delete_u64(d, c->key_u64)
				  : dim_upsert_u64(d, c->key_u64, c->values, err, cap);
	return c->deleted ? dim_delete_str(d, c->key.ptr, c->key.len)
			  : dim_upsert_str(d, c->key.ptr, c->key.len, c->values, err, cap);
}

/* A change left out: counted, the first of an episode logged, a changelog's dead-lettered. */
static void live_bad_change(struct live_dim *ld, const struct change_meta *m, const char *error,
			    const char *why)
{
	if (m && m->partition >= 0) {
		deadletter_append(&ld->dl, ld->cd->changelog_topic, m->partition, m->offset, error,
				  why, m->raw.ptr, m->raw.len);
		ld->dl_dirty = true;
	}
	atomic_fetch_add(&ld->stats->bad, 1);
	if (!ld->bad_logged)
		log_warn("updater", "[dimension %s]: a change left out: %s (further ones are only "
			 "counted until a batch applies cleanly)", ld->cd->name, why);
	ld->bad_logged = true;
}

static void live_bad(struct live_dim *ld, const char *why)
{
	live_bad_change(ld, NULL, NULL, why);
}

/* Leaves out the changes from..n that would fail a rebuild, keeping the others in order. */
static size_t batch_check(struct live_dim *ld, struct batch *b, size_t from)
{
	size_t kept = from;
	for (size_t i = from; i < b->n; i++) {
		char err[DIM_ERR_MAX];
		if (dim_change_check(&ld->spec, &b->ch[i], err, sizeof(err)) != 0) {
			live_bad_change(ld, &b->meta[i], "changelog_value", err);
			continue;
		}
		b->meta[kept] = b->meta[i];
		b->ch[kept++] = b->ch[i];
	}
	return kept;
}

/* The table of changes from..n built anew from replica r's table t. Returns 0 and *out. */
static int live_rebuild(struct updater *u, struct live_dim *ld, uint32_t r,
			const struct dimset_table *t, const struct dim_change *changes, size_t n,
			struct dimset_table **out)
{
	struct dimset_table *nt = calloc(1, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	struct dim_spec spec = ld->spec;
	spec.numa_bind = u->env.replica_node[r] >= 0;
	spec.numa_node = spec.numa_bind ? (unsigned)u->env.replica_node[r] : 0;
	int rc = dim_rebuild(&spec, t->dim, changes, n, &nt->dim, &nt->stats);
	if (rc) {
		free(nt);
		return rc;
	}
	nt->mark = ld->mark;
	nt->loaded_ms = t->loaded_ms;
	nt->dev = t->dev; /* the base it was built on, for snapshots */
	nt->ino = t->ino;
	nt->size = t->size;
	nt->mtime_ns = t->mtime_ns;
	atomic_init(&nt->refs, 1);
	atomic_fetch_add(&ld->stats->rebuilds, 1);
	*out = nt;
	return 0;
}

/*
 * Applies the batch to replica r's table in place; from the first change it has no room for,
 * by a rebuild (*rebuilt then holds the new table). Returns 0 or -errno (the batch is lost:
 * logged by the caller).
 */
static int live_apply_replica(struct updater *u, struct live_dim *ld, struct batch *b,
			      uint32_t r, const struct dimset_table *t,
			      struct dimset_table **rebuilt)
{
	*rebuilt = NULL;
	size_t i = 0;
	for (; i < b->n; i++) {
		char err[DIM_ERR_MAX];
		int rc = apply_one(t->dim, &b->ch[i], err, sizeof(err));
		if (rc == -ENOENT && b->ch[i].deleted)
			continue; /* the key was not there: deleted already */
		if (rc == -ENOSPC || rc == -EPERM) /* no room, or a table that takes no change */
			break;
		if (rc == -EINVAL && r == 0) /* once, not once per replica */
			live_bad_change(ld, &b->meta[i], "changelog_value", err);
		else if (rc)
			return rc;
	}
	if (i == b->n)
		return dim_changes_publish(t->dim);
	/* The first replica leaves out what no rebuild takes; the others then find none. */
	b->n = batch_check(ld, b, i);
	return live_rebuild(u, ld, r, t, &b->ch[i], b->n - i, rebuilt);
}

/* Publishes sets with the rebuilt tables (the others shared) and retires the old ones. */
static int live_swap(struct updater *u, struct live_dim *ld, struct dimset_table **rebuilt)
{
	struct dimset *next[DIMPUB_SLOTS_MAX], *old[DIMPUB_SLOTS_MAX];
	uint32_t n = u->env.replica_count;
	for (uint32_t r = 0; r < n; r++) {
		const struct dimset *cur = dimpub_get(u->env.dims, r);
		struct dimset_table *t = rebuilt[r] ? rebuilt[r] : cur->dims[ld->index].table;
		if (!rebuilt[r])
			atomic_fetch_add(&t->refs, 1);
		int rc = dimset_replace(cur, ld->index, t, &next[r]);
		if (rc) {
			dimset_table_put(t);
			for (uint32_t i = 0; i < r; i++)
				dimset_free(next[i]);
			for (uint32_t i = r + 1; i < n; i++)
				dimset_table_put(rebuilt[i]);
			return rc;
		}
	}
	dimpub_publish(u->env.dims, next, old);
	ld->table_seen = next[0]->dims[ld->index].table;
	pthread_mutex_unlock(u->env.publish_lock);
	dimpub_retire(old, n); /* outside the lock: it waits for the workers */
	pthread_mutex_lock(u->env.publish_lock);
	return 0;
}

/* Counts and logs (at most every UPDATER_LOG_INTERVAL_MS) what a batch changed. */
static void live_applied(struct live_dim *ld, const struct batch *b)
{
	int64_t now = now_wall_ms(), visible = mono_ms() - b->read_ms;
	atomic_fetch_add(&ld->stats->upserts, b->n - b->deletes);
	atomic_fetch_add(&ld->stats->deletes, b->deletes);
	atomic_store(&ld->stats->last_change_ms, now);
	unsigned k = 0;
	while (k < UPDATER_VISIBLE_BUCKETS - 1 && visible > updater_visible_bounds_ms[k])
		k++;
	atomic_fetch_add(&ld->stats->visible[k], b->n);
	atomic_fetch_add(&ld->stats->visible_ms_sum, (uint64_t)(visible < 0 ? 0 : visible) * b->n);
	ld->log_changes += b->n;
	ld->log_deletes += b->deletes;
	if (now - ld->log_ms >= UPDATER_LOG_INTERVAL_MS) {
		log_info("updater", "[dimension %s]: %" PRIu64 " changes applied (%" PRIu64
			 " deletes) since the last line; visible %" PRId64 " ms after they were read",
			 ld->cd->name, ld->log_changes, ld->log_deletes, visible);
		ld->log_changes = ld->log_deletes = 0;
		ld->log_ms = now;
	}
}

/* Applies the batch to every replica, then empties it. */
static void live_apply(struct updater *u, struct live_dim *ld, struct batch *b)
{
	if (b->n == 0)
		return;
	struct dimset_table *rebuilt[DIMPUB_SLOTS_MAX] = {0};
	uint64_t bad_before = atomic_load(&ld->stats->bad);
	bool swap = false;
	int rc = 0;
	pthread_mutex_lock(u->env.publish_lock);
	for (uint32_t r = 0; r < u->env.replica_count && !rc; r++) {
		const struct dimset_table *t = dimpub_get(u->env.dims, r)->dims[ld->index].table;
		rc = live_apply_replica(u, ld, b, r, t, &rebuilt[r]);
		swap |= rebuilt[r] != NULL;
	}
	if (!rc && swap)
		rc = live_swap(u, ld, rebuilt);
	else if (rc)
		for (uint32_t r = 0; r < u->env.replica_count; r++)
			dimset_table_put(rebuilt[r]);
	pthread_mutex_unlock(u->env.publish_lock);
	if (rc)
		log_error("updater", "[dimension %s]: %zu changes not applied: %s", ld->cd->name, b->n,
			  strerror(-rc));
	else
		live_applied(ld, b);
	if (!rc && atomic_load(&ld->stats->bad) == bad_before)
		ld->bad_logged = false; /* a clean batch ends the episode */
	if (ld->dl_dirty && deadletter_sync(&ld->dl) == 0)
		ld->dl_dirty = false;
	b->n = 0;
	b->used = 0;
	b->deletes = 0;
}

/* ---- reading PostgreSQL's changes ---- */

struct pg_read {
	struct updater *u;
	struct live_dim *ld;
	struct batch *b;
	int64_t started_ms;
	uint64_t skipped;
};

/* Bytes of s into the batch's arena; NULL when it is full. */
static const char *batch_copy(struct batch *b, const char *s, size_t len)
{
	if (b->used + len > UPDATER_BATCH_BYTES)
		return NULL;
	char *p = b->arena + b->used;
	memcpy(p, s, len);
	b->used += len;
	return p;
}

/* The change's key as the table keys it: a UInt64, or the String (URL-normalised). */
static int batch_key(const struct live_dim *ld, struct batch *b, struct dim_change *c,
		     struct dim_str key)
{
	if (ld->spec.key_type == DIM_TYPE_UINT64) {
		uint64_t v = 0;
		if (key.len == 0 || key.len > 20)
			return -EINVAL;
		for (size_t i = 0; i < key.len; i++) {
			unsigned d = (unsigned)(unsigned char)key.ptr[i] - '0';
			if (d > 9 || v > (UINT64_MAX - d) / 10)
				return -EINVAL;
			v = v * 10 + d;
		}
		c->key_u64 = v;
		return 0;
	}
	char *p = (char *)batch_copy(b, key.ptr, key.len);
	if (!p)
		return -ENOSPC;
	c->key = (struct dim_str){p, key.len};
	if (ld->spec.key_strip_query)
		c->key.len = url_norm_strip_query(p, key.len, p, key.len);
	return 0;
}

/* Adds a change to the batch (applying the batch first when it is full). */
static int batch_add(struct updater *u, struct live_dim *ld, struct batch *b, struct dim_str key,
		     const struct dim_str *values, bool deleted, int64_t read_ms)
{
	size_t bytes = key.len;
	for (unsigned a = 0; a < ld->spec.attr_count; a++)
		bytes += values[a].len;
	if (b->n == UPDATER_BATCH_MAX || b->used + bytes > UPDATER_BATCH_BYTES)
		live_apply(u, ld, b);
	if (b->n == 0)
		b->read_ms = read_ms;
	struct dim_change *c = &b->ch[b->n];
	*c = (struct dim_change){.deleted = deleted, .values = b->vals[b->n]};
	int rc = batch_key(ld, b, c, key);
	if (rc == -EINVAL) {
		char q[64], why[128];
		dim_quote(q, sizeof(q), key.ptr, key.len);
		snprintf(why, sizeof(why), "key '%s' is not a UInt64", q);
		live_bad(ld, why);
		return 0;
	}
	for (unsigned a = 0; a < ld->spec.attr_count && !rc && !deleted; a++) {
		const char *p = values[a].ptr ? batch_copy(b, values[a].ptr, values[a].len) : NULL;
		b->vals[b->n][a] = (struct dim_str){p, values[a].len};
		rc = values[a].ptr && !p ? -ENOSPC : 0;
	}
	if (rc)
		return rc;
	b->meta[b->n] = (struct change_meta){.partition = -1};
	b->deletes += deleted;
	b->n++;
	return 0;
}

static int pg_on_change(void *ctx, struct dim_str key, const struct dim_str *values,
			bool deleted, int64_t num)
{
	struct pg_read *rd = ctx;
	if (seen_test_set(&rd->ld->seen, seen_hash(key, num), num)) {
		rd->skipped++;
		return 0;
	}
	return batch_add(rd->u, rd->ld, rd->b, key, values, deleted, rd->started_ms);
}

/* Replica 0's table of the dimension (the writer's view). */
static const struct dimset_table *live_table(struct updater *u, const struct live_dim *ld)
{
	return dimpub_get(u->env.dims, 0)->dims[ld->index].table;
}

/* Takes the mark of a table the loader (re)loaded since the last read. Under publish_lock. */
static void live_adopt(struct updater *u, struct live_dim *ld)
{
	const struct dimset_table *t = dimpub_get(u->env.dims, 0)->dims[ld->index].table;
	if (t == ld->table_seen)
		return;
	ld->table_seen = t;
	ld->mark = t->mark;
	free(ld->seen.h);
	free(ld->seen.num);
	ld->seen = (struct seen){0};
}

/* One read of a PostgreSQL dimension's changes, applied. */
static void live_read_pg(struct updater *u, struct live_dim *ld)
{
	pthread_mutex_lock(u->env.publish_lock);
	live_adopt(u, ld);
	pthread_mutex_unlock(u->env.publish_lock);
	int64_t overlap_num = (int64_t)ld->cd->update_overlap_ms * 1000;
	seen_prune(&ld->seen, ld->mark.num - overlap_num);
	struct pg_read rd = {.u = u, .ld = ld, .b = u->batch, .started_ms = mono_ms()};
	char err[DIM_ERR_MAX];
	long rows = dim_pg_changes_read(ld->pg, &ld->mark, ld->cd->update_overlap_ms, pg_on_change,
					&rd, err, sizeof(err));
	if (rows < 0) {
		u->batch->n = u->batch->used = u->batch->deletes = 0;
		atomic_fetch_add(&ld->stats->read_failures, 1);
		if (!ld->failing && rows != -ECANCELED)
			log_error("updater", "[dimension %s]: reading changes failed: %s (retried every "
				  "%u ms; the table in use stays)", ld->cd->name, err,
				  ld->cd->update_interval_ms);
		ld->failing = rows != -ECANCELED;
		return;
	}
	live_apply(u, ld, u->batch);
	if (ld->failing)
		log_info("updater", "[dimension %s]: reading changes again", ld->cd->name);
	ld->failing = false;
	atomic_fetch_add(&ld->stats->reads, 1);
	atomic_store(&ld->stats->last_read_ms, now_wall_ms());
	log_debug("updater", "[dimension %s]: %ld rows read, %" PRIu64 " seen before; mark %s",
		  ld->cd->name, rows, rd.skipped, ld->mark.set ? ld->mark.text : "(none)");
}

/* ---- following a changelog ---- */

/*
 * True when the snapshot the table was loaded from belongs to this topic: the same cluster
 * (when both ids are known), the same partition count, and no offset past a partition's end
 * (a topic deleted and made again starts its offsets anew).
 */
static bool live_snapshot_usable(struct live_dim *ld, const struct dim_snapshot_meta *snap,
				 int32_t n)
{
	char cluster[128];
	kafka_changelog_cluster_id(ld->cl, cluster, sizeof(cluster), UPDATER_KAFKA_WAIT_MS);
	const char *why = NULL;
	if (snap->partitions != (uint32_t)n)
		why = "it has another partition count";
	else if (cluster[0] && snap->cluster[0] && strcmp(cluster, snap->cluster) != 0)
		why = "it was made on another Kafka cluster";
	for (int32_t p = 0; !why && p < n; p++)
		if (snap->offsets[p] > ld->target[p])
			why = "its offsets are past the topic's end (the topic was made again?)";
	if (why)
		log_warn("updater", "[dimension %s]: the snapshot does not fit changelog %s: %s; the "
			 "base is loaded again and the changelog read from its beginning",
			 ld->cd->name, ld->cd->changelog_topic, why);
	snprintf(ld->cluster, sizeof(ld->cluster), "%s", cluster);
	return why == NULL;
}

/* Replaces every replica's table (loaded from an unusable snapshot) with its base's. */
static int live_reset_base(struct updater *u, struct live_dim *ld)
{
	struct dimset_table *fresh[DIMPUB_SLOTS_MAX] = {0};
	int rc = 0;
	for (uint32_t r = 0; r < u->env.replica_count && !rc; r++)
		rc = dimset_table_base(u->env.cfg, ld->index, u->env.replica_node[r], &u->quit,
				       &fresh[r]);
	pthread_mutex_lock(u->env.publish_lock);
	if (!rc)
		rc = live_swap(u, ld, fresh);
	else
		for (uint32_t r = 0; r < u->env.replica_count; r++)
			dimset_table_put(fresh[r]);
	if (!rc) {
		ld->mark = fresh[0]->mark;
		ld->table_seen = fresh[0];
	}
	pthread_mutex_unlock(u->env.publish_lock);
	return rc;
}

/* The topic's partitions, read from the beginning; the catch-up's targets. Retried until then. */
static int live_changelog_assign(struct updater *u, struct live_dim *ld)
{
	int n = kafka_changelog_partitions(ld->cl, UPDATER_KAFKA_WAIT_MS);
	if (n <= 0 || n > KAFKA_PARTITIONS_MAX) {
		if (!ld->failing)
			log_error("updater", "[dimension %s]: changelog %s: no partitions (%s); "
				  "retrying", ld->cd->name, ld->cd->changelog_topic,
				  n < 0 ? strerror(-n) : "too many");
		ld->failing = true;
		return -EIO;
	}
	free(ld->next_off);
	free(ld->target);
	ld->next_off = calloc((size_t)n, sizeof(*ld->next_off));
	ld->target = calloc((size_t)n, sizeof(*ld->target));
	if (!ld->next_off || !ld->target)
		return -ENOMEM;
	for (int32_t p = 0; p < n; p++) {
		int64_t low;
		ld->next_off[p] = KAFKA_OFFSET_BEGINNING;
		if (kafka_changelog_watermarks(ld->cl, p, &low, &ld->target[p],
					       UPDATER_KAFKA_WAIT_MS) < 0)
			return -EIO;
		if (low >= ld->target[p])
			ld->target[p] = 0; /* nothing to read there */
		log_debug("updater", "[dimension %s]: changelog partition %d: offsets %" PRId64
			  "..%" PRId64, ld->cd->name, p, low, ld->target[p]);
	}
	const struct dim_snapshot_meta *snap = live_table(u, ld)->snapshot;
	bool resume = snap && live_snapshot_usable(ld, snap, n);
	if (snap && !resume && live_reset_base(u, ld) < 0)
		return -EIO;
	for (int32_t p = 0; p < n && resume; p++)
		ld->next_off[p] = snap->offsets[p];
	int rc = kafka_changelog_assign(ld->cl, ld->next_off, (uint32_t)n);
	if (rc)
		return rc;
	ld->partitions = n;
	ld->failing = false;
	if (resume)
		log_info("updater", "[dimension %s]: reading changelog %s (%d partitions) from the "
			 "offsets of the snapshot written %" PRId64 " s ago", ld->cd->name,
			 ld->cd->changelog_topic, n, (now_wall_ms() - snap->created_ms) / 1000);
	else
		log_info("updater", "[dimension %s]: reading changelog %s (%d partitions) from the "
			 "beginning%s", ld->cd->name, ld->cd->changelog_topic, n,
			 snap ? " (the snapshot had another partition count)" : "");
	return 0;
}

/*
 * Writes the dimension's snapshot: replica 0's table with the changelog's next offsets and the
 * base it stands on, between two batches (this thread is the table's one writer).
 */
static void live_snapshot(struct updater *u, struct live_dim *ld)
{
	const struct config *cfg = u->env.cfg;
	if (!cfg->snapshot_interval_ms || !ld->partitions || !atomic_load(&ld->stats->caught_up))
		return;
	struct dim_snapshot_meta *m = calloc(1, sizeof(*m));
	if (!m)
		return;
	pthread_mutex_lock(u->env.publish_lock);
	const struct dimset_table *t = live_table(u, ld);
	snprintf(m->dimension, sizeof(m->dimension), "%s", ld->cd->name);
	snprintf(m->topic, sizeof(m->topic), "%s", ld->cd->changelog_topic);
	m->created_ms = now_wall_ms();
	m->base = ld->cd->postgresql[0] ? DIM_SNAPSHOT_BASE_POSTGRESQL
		  : ld->cd->source[0]   ? DIM_SNAPSHOT_BASE_FILE
					: DIM_SNAPSHOT_BASE_NONE;
	m->dev = (uint64_t)t->dev;
	m->ino = (uint64_t)t->ino;
	m->size = t->size;
	m->mtime_ns = t->mtime_ns;
	m->mark = ld->pg ? ld->mark : t->mark;
	m->partitions = (uint32_t)ld->partitions;
	snprintf(m->cluster, sizeof(m->cluster), "%s", ld->cluster);
	for (int32_t p = 0; p < ld->partitions; p++)
		m->offsets[p] = ld->next_off[p] < 0 ? 0 : ld->next_off[p];
	int64_t t0 = mono_ms();
	int rc = dim_snapshot_write(cfg->snapshot_dir, &ld->spec, t->dim, m);
	pthread_mutex_unlock(u->env.publish_lock);
	if (!rc)
		log_debug("updater", "[dimension %s]: snapshot of %zu rows written in %" PRId64 " ms",
			  ld->cd->name, dim_rows(t->dim), mono_ms() - t0);
	free(m);
	ld->snapshot_ms = mono_ms() + cfg->snapshot_interval_ms;
}

/* Adds one changelog message to the batch, or dead-letters it. */
static void live_changelog_msg(struct updater *u, struct live_dim *ld, struct batch *b,
			       const struct kafka_changelog_msg *m, int64_t read_ms)
{
	size_t room = (m->key_len + m->value_len) * 2 + 64;
	if (b->n == UPDATER_BATCH_MAX || b->used + room > UPDATER_BATCH_BYTES)
		live_apply(u, ld, b);
	if (b->n == 0)
		b->read_ms = read_ms;
	struct changelog_arena arena = {b->arena, UPDATER_BATCH_BYTES, &b->used};
	const char *error;
	char reason[CHANGELOG_REASON_MAX];
	struct change_meta meta = {m->partition, m->offset, {m->value, m->value_len}};
	int rc = changelog_decode(&ld->spec, m->key, m->key_len, m->value, m->value_len, &arena,
				  &b->ch[b->n], b->vals[b->n], &error, reason, sizeof(reason));
	if (rc) {
		if (!m->value)
			meta.raw = (struct dim_str){m->key, m->key_len};
		live_bad_change(ld, &meta, error, reason);
		return;
	}
	/* The raw value is kept for a dead letter of a value that does not convert. */
	if (m->value && b->used + m->value_len <= UPDATER_BATCH_BYTES) {
		memcpy(b->arena + b->used, m->value, m->value_len);
		meta.raw.ptr = b->arena + b->used;
		b->used += m->value_len;
	}
	b->meta[b->n] = meta;
	b->deletes += b->ch[b->n].deleted;
	b->n++;
}

/*
 * Lag: messages left to the high watermarks, and how old the newest one read is. Returns true
 * when every partition was read up to its catch-up target; with `applied` (every change read
 * is applied) that makes the dimension caught up.
 */
static bool live_changelog_lag(struct live_dim *ld, bool applied)
{
	uint64_t lag = 0;
	bool caught_up = true;
	for (int32_t p = 0; p < ld->partitions; p++) {
		int64_t low, high, next = ld->next_off[p] < 0 ? 0 : ld->next_off[p];
		if (kafka_changelog_watermarks(ld->cl, p, &low, &high, 0) == 0 && high > next)
			lag += (uint64_t)(high - next);
		/* The target, not the cached low watermark: that one may run ahead of what was
		 * read. A read that starts past the target (the log was trimmed) reaches it too. */
		caught_up &= next >= ld->target[p];
	}
	atomic_store(&ld->stats->lag_messages, lag);
	int64_t age = ld->newest_ts_ms > 0 ? now_wall_ms() - ld->newest_ts_ms : 0;
	atomic_store(&ld->stats->lag_ms, lag && age > 0 ? (uint64_t)age : 0);
	if (caught_up && applied && !atomic_load(&ld->stats->caught_up)) {
		atomic_store(&ld->stats->caught_up, true);
		log_info("updater", "[dimension %s]: changelog %s caught up (%" PRIu64 " changes, %"
			 PRIu64 " left out)", ld->cd->name, ld->cd->changelog_topic,
			 atomic_load(&ld->stats->upserts) + atomic_load(&ld->stats->deletes),
			 atomic_load(&ld->stats->bad));
	}
	return caught_up;
}

/* True when the topic holds messages not read yet (librdkafka's cached high watermarks). */
static bool live_changelog_behind(const struct live_dim *ld)
{
	for (int32_t p = 0; p < ld->partitions; p++) {
		int64_t low, high, next = ld->next_off[p] < 0 ? 0 : ld->next_off[p];
		if (kafka_changelog_watermarks(ld->cl, p, &low, &high, 0) == 0 && high > next)
			return true;
	}
	return false;
}

/*
 * Polls the changelog and applies what it read. What is there already joins the batch; behind
 * the topic, the batch also waits (up to UPDATER_GATHER_MS) for the fetches on their way, so a
 * backlog is applied in few large batches; caught up, a change is applied as soon as it is read.
 */
static void live_poll_changelog(struct updater *u, struct live_dim *ld, int timeout_ms)
{
	if (!ld->partitions) {
		if (mono_ms() < ld->retry_ms)
			return;
		if (live_changelog_assign(u, ld) < 0) {
			ld->retry_ms = mono_ms() + 1000; /* retried each second */
			return;
		}
	}
	struct batch *b = u->batch;
	struct kafka_changelog_msg msgs[256];
	int64_t gather_until = mono_ms() + UPDATER_GATHER_MS;
	for (;;) {
		int n = kafka_changelog_poll(ld->cl, msgs, 256, timeout_ms);
		if (n == 0 && b->n && mono_ms() < gather_until && live_changelog_behind(ld))
			n = kafka_changelog_poll(ld->cl, msgs, 256, 10);
		int64_t read_ms = mono_ms();
		for (int i = 0; i < n; i++) {
			live_changelog_msg(u, ld, b, &msgs[i], read_ms);
			ld->next_off[msgs[i].partition] = msgs[i].offset + 1;
			if (msgs[i].timestamp_ms > ld->newest_ts_ms)
				ld->newest_ts_ms = msgs[i].timestamp_ms;
		}
		if (n <= 0 || updater_stopping(u))
			break;
		if (!atomic_load(&ld->stats->caught_up) && live_changelog_lag(ld, false))
			break; /* the targets are read: apply, then it is caught up */
		timeout_ms = 0;
	}
	live_apply(u, ld, b);
	if (ld->dl_dirty && deadletter_sync(&ld->dl) == 0)
		ld->dl_dirty = false;
	live_changelog_lag(ld, true);
	if (mono_ms() >= ld->snapshot_ms)
		live_snapshot(u, ld);
}

bool updater_caught_up(const struct updater *u)
{
	for (size_t i = 0; u && i < u->live_count; i++)
		if (u->live[i].cl && !atomic_load(&u->live[i].stats->caught_up))
			return false;
	return true;
}

/* ---- the thread ---- */

static void *updater_main(void *arg)
{
	struct updater *u = arg;
	while (!updater_stopping(u)) {
		int64_t now = mono_ms(), wake = now + UPDATER_TICK_MS;
		bool polled = false;
		for (size_t i = 0; i < u->live_count && !updater_stopping(u); i++) {
			struct live_dim *ld = &u->live[i];
			if (ld->cl) {
				live_poll_changelog(u, ld, UPDATER_POLL_MS);
				polled = ld->partitions > 0;
			}
			if (!ld->pg)
				continue;
			if (now >= ld->next_ms) {
				live_read_pg(u, ld);
				ld->next_ms = now + ld->cd->update_interval_ms;
			}
			wake = ld->next_ms < wake ? ld->next_ms : wake;
		}
		if (polled)
			continue; /* the polls waited */
		int64_t left = wake - mono_ms();
		if (left > 0) {
			struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* A changelog's consumer and dead-letter file; it is read from the thread. */
static int live_changelog_init(struct updater *u, struct live_dim *ld)
{
	const struct config *cfg = u->env.cfg;
	struct kafka_changelog_config kc = {
		.brokers = ld->cd->changelog_brokers[0] ? ld->cd->changelog_brokers : cfg->brokers,
		.topic = ld->cd->changelog_topic,
	};
	int rc = kafka_changelog_new(&kc, &ld->cl);
	if (rc)
		return rc;
	char name[CONFIG_NAME_MAX * 3];
	snprintf(name, sizeof(name), "%s-%s.changelog-deadletter.tsv", cfg->instance, ld->cd->name);
	rc = deadletter_open_file(&ld->dl, cfg->dead_letter_dir, name);
	if (rc)
		return rc;
	ld->dl_open = true;
	atomic_store(&ld->stats->changelog, true);
	return 0;
}

/* A live dimension's state: its spec, its source's reader. */
static int live_init(struct updater *u, struct live_dim *ld, size_t index)
{
	const struct config_dim *cd = &u->env.cfg->dims[index];
	ld->index = index;
	ld->cd = cd;
	ld->stats = &u->env.stats[index];
	int rc = dimset_dim_spec(cd, 0, -1, ld->attrs, &ld->spec);
	if (rc)
		return rc;
	ld->spec.path = cd->name; /* the rebuild's messages name the dimension */
	ld->src = (struct dim_pg_source){
		.conninfo = cd->postgresql, .password_file = cd->password_file,
		.table = cd->table, .query = cd->query,
		.connect_timeout_ms = cd->connect_timeout_ms,
		.statement_timeout_ms = cd->statement_timeout_ms, .stop = &u->quit,
		.update_field = cd->update_field, .delete_field = cd->delete_field,
	};
	if (cd->update_field[0]) {
		rc = dim_pg_changes_new(&ld->spec, &ld->src, &ld->pg);
		if (rc)
			return rc;
	}
	ld->next_ms = mono_ms() + cd->update_interval_ms;
	atomic_store(&ld->stats->live, true);
	return cd->changelog_topic[0] ? live_changelog_init(u, ld) : 0;
}

static void updater_free(struct updater *u)
{
	for (size_t i = 0; i < u->live_count; i++) {
		dim_pg_changes_free(u->live[i].pg);
		kafka_changelog_free(u->live[i].cl);
		if (u->live[i].dl_open)
			deadletter_close(&u->live[i].dl);
		free(u->live[i].next_off);
		free(u->live[i].target);
		free(u->live[i].seen.h);
		free(u->live[i].seen.num);
	}
	if (u->batch)
		free(u->batch->arena);
	free(u->batch);
	free(u);
}

int updater_start(const struct updater_env *env, struct updater **out)
{
	*out = NULL;
	size_t live = 0;
	for (size_t i = 0; i < env->cfg->dim_count; i++)
		live += env->cfg->dims[i].update_field[0] || env->cfg->dims[i].changelog_topic[0];
	if (live == 0)
		return 0;
	struct updater *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->env = *env;
	int rc = -ENOMEM;
	u->batch = calloc(1, sizeof(*u->batch));
	if (!u->batch || !(u->batch->arena = malloc(UPDATER_BATCH_BYTES)))
		goto out_free;
	for (size_t i = 0; i < env->cfg->dim_count; i++) {
		if (!env->cfg->dims[i].update_field[0] && !env->cfg->dims[i].changelog_topic[0])
			continue;
		rc = live_init(u, &u->live[u->live_count++], i);
		if (rc)
			goto out_free;
	}
	rc = -pthread_create(&u->thread, NULL, updater_main, u);
	if (rc)
		goto out_free;
	log_info("updater", "following the changes of %zu live dimension(s)", u->live_count);
	*out = u;
	return 0;

out_free:
	updater_free(u);
	return rc;
}

void updater_stop(struct updater *u)
{
	if (!u)
		return;
	atomic_store(&u->quit, true);
	pthread_join(u->thread, NULL);
	for (size_t i = 0; i < u->live_count; i++) {
		struct live_dim *ld = &u->live[i];
		if (ld->cl)
			live_snapshot(u, ld); /* a restart reads only what comes after */
		log_info("updater", "[dimension %s]: done: %" PRIu64 " upserts, %" PRIu64 " deletes, %"
			 PRIu64 " changes left out, %" PRIu64 " rebuilds", ld->cd->name,
			 atomic_load(&ld->stats->upserts), atomic_load(&ld->stats->deletes),
			 atomic_load(&ld->stats->bad), atomic_load(&ld->stats->rebuilds));
	}
	updater_free(u);
}
