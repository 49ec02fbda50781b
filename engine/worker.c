/*
 * worker: the event loop of one worker (contract in include/worker.h).
 *
 * One iteration (worker_loop): take a batch from the source and, before anything reads a
 * dimension set, move to a newly published one (worker_batch); decode, join and append the
 * batch chunk by chunk (worker_process: the only part that runs per message); tick the segment
 * writer; pause or resume the source for backpressure; let the epoch cut, close or finish
 * (worker_epoch_step); announce a quiescent state (dimpub.h).
 *
 * Rows collect in one Native block per event hour (worker_hour); a full block, or every block
 * at an epoch cut or a dimension switch, is encoded into a buffer of the segment writer and
 * appended to its hour's segment (worker_block_write).
 */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dim.h"
#include "dim_live.h"
#include "dimpub.h"
#include "dimset.h"
#include "epoch.h"
#include "event.h"
#include "log.h"
#include "native.h"
#include "now.h"
#include "seg.h"
#include "source.h"
#include "url_norm.h"

/* Partitions of one worker held at a message whose schema id is pending (one per partition). */
#define WORKER_HOLDS_MAX EPOCH_PARTITIONS_MAX

/* worker_decode_avro's outcome for a message whose writer schema is not known yet. */
#define WORKER_HOLD 1

/* The Native block collecting the rows of one event hour. */
struct worker_hour {
	int64_t hour_key;          /* -1: free */
	struct native_block *block;
	uint64_t last_used;        /* batch counter, to evict the least recently used */
};

struct worker_state {
	struct worker *w;
	const struct worker_env *env;
	const struct config *cfg;

	/* The dimension set the blocks' dictionaries come from. */
	const struct dimset *set;
	uint64_t generation;
	/* The LowCardinality attributes of its live tables, whose dictionaries grow while the
	 * blocks borrow them, and the count the blocks were last given (worker_dicts_grow). */
	uint32_t live_dict_count;
	struct worker_live_dict {
		uint32_t column;
		const struct dim_col *col;
		uint32_t installed;
	} live_dicts[CONFIG_DIMS_MAX * CONFIG_ATTRS_MAX];

	/* Decoding: the declared fields' plan and where each event's slots start. */
	const struct schema *schema;
	struct event_plan *plan;
	uint32_t slots;            /* per event: the fields, then the catch-all */
	struct event_value *vals;  /* WORKER_CHUNK_EVENTS x slots */

	/*
	 * Avro (registry set): the last schema id's answer when READY (a run of one id costs no
	 * registry lookup), and the partitions held at a message whose id is pending: holds are
	 * what the worker resumes once the registry answers; held_now marks the partitions held
	 * during the batch being processed, whose later messages it leaves unconsumed.
	 */
	struct registry *registry;
	uint32_t run_id;           /* the id of the run of messages being counted ... */
	uint64_t run_count;        /* ... and its messages so far (registry_count) */
	uint32_t last_id;
	const struct registry_schema *last_schema; /* NULL: none yet */
	int hold_error;            /* a hold the source refused: the worker stops (-errno) */
	uint32_t hold_count;
	struct worker_hold {
		int32_t partition;
		uint32_t id;
	} holds[WORKER_HOLDS_MAX];
	uint32_t held_now_count;
	int32_t held_now_list[WORKER_HOLDS_MAX];
	bool held_now[EPOCH_PARTITIONS_MAX];

	/* Output. */
	uint32_t columns;
	uint32_t meta_first;       /* the first metadata column */
	int32_t topic_column;      /* _topic's; -1: not in the output */
	struct native_column_spec specs[DIMSET_COLUMNS_MAX];
	char names[DIMSET_COLUMNS_MAX][NATIVE_NAME_MAX];
	char types[DIMSET_COLUMNS_MAX][NATIVE_TYPE_NAME_MAX];
	uint32_t hour_count;
	struct worker_hour *hours;
	struct seg_writer *seg;
	struct native_str topic_dict[2];
	const char *topic;
	uint64_t batch_seq;

	/* What it took since the last seal, and the seal of the epoch before. */
	struct epoch epoch;
	bool epoch_ready;

	/* Batch. */
	uint32_t batch_max;
	struct source_msg *msgs;

	struct worker_stage_clock clock;

	/* Chunk: decoded events and their lookups. */
	char *scratch;
	size_t scratch_cap;
	int64_t time_ms[WORKER_CHUNK_EVENTS];    /* each event's time: its hour */
	uint32_t event_msg[WORKER_CHUNK_EVENTS];
	uint64_t keys_u64[WORKER_CHUNK_EVENTS];
	struct dim_str keys_str[CONFIG_DIMS_MAX][WORKER_CHUNK_EVENTS]; /* String tables' keys */
	uint64_t hashes[CONFIG_DIMS_MAX][WORKER_CHUNK_EVENTS];
	const struct dim_row *rows[CONFIG_DIMS_MAX][WORKER_CHUNK_EVENTS];
	uint64_t cand[CONFIG_DIMS_MAX][WORKER_CHUNK_EVENTS]; /* dim_probe_start_str's records */
	/* One output column of a run of rows (worker_append_rows). */
	uint32_t run[WORKER_CHUNK_EVENTS]; /* the chunk's events to append, grouped by hour */
	union {
		uint64_t u64[WORKER_CHUNK_EVENTS];
		int64_t i64[WORKER_CHUNK_EVENTS];
		double f64[WORKER_CHUNK_EVENTS];
		uint32_t code[WORKER_CHUNK_EVENTS];
		struct native_str str[WORKER_CHUNK_EVENTS];
		struct native_array arr[WORKER_CHUNK_EVENTS];
	} col;
	uint8_t col_null[WORKER_CHUNK_EVENTS];
	/* _headers.name and _headers.value of a run (worker_rows_headers); NULL: not output. */
	struct native_str *hdr_names, *hdr_values;
	struct native_array hdr_name_rows[WORKER_CHUNK_EVENTS], hdr_value_rows[WORKER_CHUNK_EVENTS];

	/* The chunk's events by hour (worker_emit). */
	int64_t group_hour[WORKER_CHUNK_EVENTS]; /* the chunk's hours, in order of first event */
	uint32_t group_end[WORKER_CHUNK_EVENTS]; /* each hour's events: counts, then ends in run */
	uint16_t event_group[WORKER_CHUNK_EVENTS]; /* each event's hour; UINT16_MAX: not appended */
};

/* ---- blocks and segments ---- */

static int worker_block_write(struct worker_state *s, struct worker_hour *h)
{
	struct worker *w = s->w;
	uint32_t rows = native_block_rows(h->block);
	if (rows == 0)
		return 0;
	uint64_t t0 = now_mono_ns();
	size_t need = native_block_encoded_size(h->block);
	struct seg_buf *buf;
	int rc = seg_buf_get(s->seg, h->hour_key, need, &buf);
	if (rc < 0) {
		log_error("worker", "w%u: no write buffer for a %zu-byte block: %s", w->env.index, need,
			  strerror(-rc));
		return rc;
	}
	size_t len;
	rc = native_block_encode(h->block, buf->data, buf->cap, &len);
	if (rc < 0) {
		seg_buf_put(s->seg, buf);
		log_error("worker", "w%u: encoding a block failed: %s", w->env.index, strerror(-rc));
		return rc;
	}
	uint64_t t1 = worker_stage_inner(&s->clock, WORKER_STAGE_ENCODE, t0);
	int64_t id = seg_append(s->seg, h->hour_key, buf, len, rows);
	worker_stage_inner(&s->clock, WORKER_STAGE_WRITE, t1);
	if (id < 0) {
		seg_buf_put(s->seg, buf);
		log_error("worker", "w%u: appending a block to hour %" PRId64 " failed: %s",
			  w->env.index, h->hour_key, strerror((int)-id));
		return (int)id;
	}
	native_block_reset(h->block);
	worker_stats_add(&w->stats.blocks, 1);
	return 0;
}

static int worker_blocks_write(struct worker_state *s)
{
	for (uint32_t i = 0; i < s->hour_count; i++) {
		int rc = worker_block_write(s, &s->hours[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The epoch's flush: every row held in a block goes to its segment. */
static int worker_flush(void *arg)
{
	return worker_blocks_write(arg);
}

/* The block of hour_key: an open one, a free one, or the least recently used one, emptied. */
static struct worker_hour *worker_hour_get(struct worker_state *s, int64_t hour_key, int *err)
{
	struct worker_hour *victim = NULL;
	for (uint32_t i = 0; i < s->hour_count; i++) {
		struct worker_hour *h = &s->hours[i];
		if (h->hour_key == hour_key) {
			h->last_used = s->batch_seq;
			return h;
		}
		if (!victim || h->hour_key < 0 ||
		    (victim->hour_key >= 0 && h->last_used < victim->last_used))
			victim = h;
	}
	if (victim->hour_key >= 0) {
		*err = worker_block_write(s, victim);
		if (*err < 0)
			return NULL;
	}
	victim->hour_key = hour_key;
	victim->last_used = s->batch_seq;
	return victim;
}

/* ---- dimension set ---- */

/* The live tables' LowCardinality attributes of the set, for worker_dicts_grow (the first
 * chunk gives the blocks their current count). */
static void worker_live_dicts_find(struct worker_state *s)
{
	s->live_dict_count = 0;
	for (size_t d = 0; d < s->set->count; d++) {
		const struct dimset_dim *dd = &s->set->dims[d];
		if (!dim_is_live(dd->table->dim))
			continue;
		for (size_t a = 0; a < dd->cfg->attr_count; a++) {
			if (dd->cols[a]->type == DIM_TYPE_LC_STRING)
				s->live_dicts[s->live_dict_count++] = (struct worker_live_dict){
					dd->first_column + (uint32_t)a, dd->cols[a], 0};
		}
	}
}

static int worker_dicts_set(struct worker_state *s)
{
	const struct dimset *set = s->set;
	for (uint32_t i = 0; i < s->hour_count; i++) {
		struct native_block *b = s->hours[i].block;
		for (size_t d = 0; d < set->count; d++) {
			const struct dimset_dim *dd = &set->dims[d];
			for (size_t a = 0; a < dd->cfg->attr_count; a++) {
				const struct dim_col *c = dd->cols[a];
				if (c->type != DIM_TYPE_LC_STRING)
					continue;
				int rc = native_block_set_dict(b, dd->first_column + (uint32_t)a,
							       (const struct native_str *)c->dict,
							       c->dict_count);
				if (rc < 0) {
					log_error("worker", "w%u: attribute %s: dictionary of %u keys "
						  "not accepted: %s", s->env->index, c->name,
						  c->dict_count, strerror(-rc));
					return rc;
				}
			}
		}
		if (s->topic_column < 0)
			continue;
		int rc = native_block_set_dict(b, (uint32_t)s->topic_column, s->topic_dict, 2);
		if (rc < 0)
			return rc;
	}
	worker_live_dicts_find(s);
	return 0;
}

/*
 * Gives the blocks the entries appended to live tables' dictionaries since they were last
 * given the count. Called after the chunk's probe: a row a lookup found was published after
 * the dictionary entries its codes name, so the count loaded after it covers them (dim.h).
 */
static int worker_dicts_grow(struct worker_state *s)
{
	for (uint32_t k = 0; k < s->live_dict_count; k++) {
		struct worker_live_dict *ld = &s->live_dicts[k];
		uint32_t now = atomic_load_explicit(&ld->col->dict_count, memory_order_acquire);
		if (now == ld->installed)
			continue;
		for (uint32_t i = 0; i < s->hour_count; i++) {
			int rc = native_block_grow_dict(s->hours[i].block, ld->column,
							(const struct native_str *)ld->col->dict, now);
			if (rc < 0) {
				log_error("worker", "w%u: attribute %s: dictionary of %u keys not "
					  "accepted: %s", s->env->index, ld->col->name, now,
					  strerror(-rc));
				return rc;
			}
		}
		ld->installed = now;
	}
	return 0;
}

/*
 * Moves to the published dimension set if it changed: the blocks borrowing the old set's
 * dictionaries are written first. Called in every loop iteration right after the poll, before
 * anything reads a set: that is what lets the loader free the old set two grace periods after it
 * published the new one (dimpub.h).
 */
static int worker_dimset_refresh(struct worker_state *s)
{
	const struct dimset *cur = dimpub_get(s->env->dims, s->env->dims_slot);
	if (cur == s->set)
		return 0;
	uint64_t t0 = now_mono_ns();
	int rc = worker_blocks_write(s);
	if (rc < 0)
		return rc;
	s->set = cur;
	s->generation = cur->generation;
	rc = worker_dicts_set(s);
	if (rc < 0)
		return rc;
	uint64_t stall = now_mono_ns() - t0;
	worker_stats_max(&s->w->stats.reload_stall_ns_max, stall);
	log_info("worker", "w%u: now joining with dimension set %" PRIu64 " (switch took %.3f ms)",
		 s->env->index, cur->generation, (double)stall / 1e6);
	return 0;
}

/* ---- the chunk: decode, probe, append ---- */

/* The String keys of the chunk's n events for table dd, from its join field's slots (a url
 * table's normalised keys into norm; the raw value when it is full). */
static void worker_keys_str(const struct worker_state *s, const struct dimset_dim *dd, uint32_t n,
			    struct dim_str *keys, char *norm, size_t norm_cap)
{
	const struct event_value *v = s->vals + dd->cfg->join_index;
	uint32_t slots = s->slots;
	if (dd->cfg->key_normalize != CONFIG_KEY_STRIP_QUERY) {
		for (uint32_t i = 0; i < n; i++, v += slots)
			keys[i] = (struct dim_str){v->ptr, v->len};
		return;
	}
	size_t norm_used = 0;
	for (uint32_t i = 0; i < n; i++, v += slots) {
		if (!v->null && norm_used + v->len <= norm_cap) {
			size_t len = url_norm_strip_query(v->ptr, v->len, norm + norm_used, v->len);
			keys[i] = (struct dim_str){norm + norm_used, len};
			norm_used += len;
		} else {
			keys[i] = (struct dim_str){v->ptr, v->len};
		}
	}
}

/* The UInt64 keys of the chunk's n events for table dd, from its join field's slots. */
static void worker_keys_u64(struct worker_state *s, const struct dimset_dim *dd, uint32_t n)
{
	const struct event_value *v = s->vals + dd->cfg->join_index;
	for (uint32_t i = 0; i < n; i++, v += s->slots)
		s->keys_u64[i] = v->u64; /* an Int field's value: the same bits */
}

/* A NULL key, or a negative one for a UInt64 table, finds nothing: a miss. */
static void worker_keys_misses(struct worker_state *s, const struct dimset_dim *dd, size_t d,
			       uint32_t n)
{
	const struct schema_field *f = &s->schema->fields[dd->cfg->join_index];
	bool is_signed = f->kind == SCHEMA_I64;
	if (!f->nullable && !is_signed)
		return;
	const struct event_value *v = s->vals + dd->cfg->join_index;
	for (uint32_t i = 0; i < n; i++, v += s->slots)
		if (v->null || (is_signed && v->i64 < 0))
			s->rows[d][i] = NULL;
}

/* Joins the chunk's n events with every table: every table's slots, then every String table's
 * records, so their loads overlap. A table joins on a field no other table joins on (config),
 * so a url table has norm to itself. */
static void worker_probe(struct worker_state *s, uint32_t n, char *norm, size_t norm_cap)
{
	const struct dimset *set = s->set;
	for (size_t d = 0; d < set->count; d++) {
		const struct dimset_dim *dd = &set->dims[d];
		if (dim_key_type(dd->table->dim) == DIM_TYPE_UINT64) {
			worker_keys_u64(s, dd, n);
			dim_probe_start_u64(dd->table->dim, s->keys_u64, n, s->hashes[d], s->rows[d]);
		} else {
			worker_keys_str(s, dd, n, s->keys_str[d], norm, norm_cap);
			dim_probe_start_str(dd->table->dim, s->keys_str[d], n, s->hashes[d],
					    s->cand[d]);
		}
	}
	for (size_t d = 0; d < set->count; d++) {
		const struct dimset_dim *dd = &set->dims[d];
		if (dim_key_type(dd->table->dim) != DIM_TYPE_UINT64)
			dim_probe_finish_str(dd->table->dim, s->keys_str[d], s->hashes[d], s->cand[d],
					     n, s->rows[d]);
		worker_keys_misses(s, dd, d, n);
	}
}

/* Column col of the run's rows: attribute c of dimension rows drows (NULL: a miss). */
static int worker_rows_attr(struct worker_state *s, struct native_block *b, uint32_t col,
			    const struct dim_col *c, bool out_nullable,
			    const struct dim_row *const *drows, const uint32_t *run, uint32_t n)
{
	if (c->type == DIM_TYPE_LC_STRING) {
		for (uint32_t j = 0; j < n; j++)
			s->col.code[j] = dim_row_lc(c, drows[run[j]]);
		return native_rows_code(b, col, s->col.code);
	}
	const uint8_t *nulls = NULL;
	if (out_nullable) {
		for (uint32_t j = 0; j < n; j++)
			s->col_null[j] = dim_row_is_null(c, drows[run[j]]);
		nulls = s->col_null;
	}
	switch (c->type) {
	case DIM_TYPE_STRING:
		for (uint32_t j = 0; j < n; j++) {
			size_t len;
			const char *p = dim_row_str(c, drows[run[j]], &len);
			s->col.str[j] = (struct native_str){p, (uint32_t)len};
		}
		return native_rows_str(b, col, s->col.str, nulls);
	case DIM_TYPE_INT8:
	case DIM_TYPE_INT16:
	case DIM_TYPE_INT32:
	case DIM_TYPE_INT64:
		for (uint32_t j = 0; j < n; j++)
			s->col.i64[j] = dim_row_i64(c, drows[run[j]]);
		return native_rows_i64(b, col, s->col.i64, nulls);
	case DIM_TYPE_FLOAT64:
		for (uint32_t j = 0; j < n; j++)
			s->col.f64[j] = dim_row_f64(c, drows[run[j]]);
		return native_rows_f64(b, col, s->col.f64, nulls);
	default:
		for (uint32_t j = 0; j < n; j++)
			s->col.u64[j] = dim_row_u64(c, drows[run[j]]);
		return native_rows_u64(b, col, s->col.u64, nulls);
	}
}

/* The nulls of slot `slot` of the run's events into col_null; NULL when the field is not
 * Nullable. */
static const uint8_t *worker_rows_nulls(struct worker_state *s, uint32_t slot, bool nullable,
					const uint32_t *run, uint32_t n)
{
	if (!nullable)
		return NULL;
	for (uint32_t j = 0; j < n; j++)
		s->col_null[j] = s->vals[(size_t)run[j] * s->slots + slot].null;
	return s->col_null;
}

/*
 * Column col of the run's rows: slot `slot` of each event, kind the field's. One switch per
 * column, then a gather and one native_rows_* call: the per-value cost is a load and a store.
 * A NULL row's value is 0, as ClickHouse writes it.
 */
static int worker_rows_field(struct worker_state *s, struct native_block *b, uint32_t col,
			     uint32_t slot, enum schema_kind kind, bool nullable, const uint32_t *run,
			     uint32_t n)
{
	const uint8_t *nulls = worker_rows_nulls(s, slot, nullable, run, n);
	const struct event_value *v = s->vals + slot;
	size_t stride = s->slots;
	switch (kind) {
	case SCHEMA_U64:
	case SCHEMA_BOOL:
	case SCHEMA_DATE:
	case SCHEMA_DATETIME:
	case SCHEMA_IPV4:
		for (uint32_t j = 0; j < n; j++) {
			const struct event_value *x = &v[run[j] * stride];
			s->col.u64[j] = nullable && x->null ? 0 : x->u64;
		}
		return native_rows_u64(b, col, s->col.u64, nulls);
	case SCHEMA_I64:
	case SCHEMA_DATE32:
	case SCHEMA_DATETIME64:
		for (uint32_t j = 0; j < n; j++) {
			const struct event_value *x = &v[run[j] * stride];
			s->col.i64[j] = nullable && x->null ? 0 : x->i64;
		}
		return native_rows_i64(b, col, s->col.i64, nulls);
	case SCHEMA_F64:
		for (uint32_t j = 0; j < n; j++) {
			const struct event_value *x = &v[run[j] * stride];
			s->col.f64[j] = nullable && x->null ? 0 : x->f64;
		}
		return native_rows_f64(b, col, s->col.f64, nulls);
	case SCHEMA_ARRAY_STRING:
	case SCHEMA_ARRAY_I64:
		for (uint32_t j = 0; j < n; j++) {
			const struct event_value *x = &v[run[j] * stride];
			s->col.arr[j] = (struct native_array){x->ptr, x->len};
		}
		return native_rows_array(b, col, s->col.arr);
	default: /* String, LowCardinality(String), FixedString, UUID, IPv6 */
		for (uint32_t j = 0; j < n; j++) {
			const struct event_value *x = &v[run[j] * stride];
			s->col.str[j] = (struct native_str){x->ptr, x->len};
		}
		return native_rows_str(b, col, s->col.str, nulls);
	}
}

_Static_assert(sizeof(struct event_str) == sizeof(struct native_str) &&
		       __builtin_offsetof(struct event_str, len) ==
			       __builtin_offsetof(struct native_str, len),
	       "an Array(String) slot's elements are handed to the encoder as they are");

/*
 * The run's message headers, read through the source (only when the _headers columns are
 * output): names and values of row j at hdr_*_rows[j]. -ENOSPC when the run holds more than
 * WORKER_HEADERS_MAX headers (the caller halves the run).
 */
static int worker_rows_headers(struct worker_state *s, const uint32_t *run, uint32_t n,
			       const struct source_msg *msgs)
{
	const struct source *src = s->env->source;
	uint32_t at = 0;
	for (uint32_t j = 0; j < n; j++) {
		const struct source_msg *m = &msgs[s->event_msg[run[j]]];
		uint32_t first = at;
		struct source_header h;
		for (size_t k = 0; source_header(src, m, k, &h) == 0; k++) {
			if (at == WORKER_HEADERS_MAX || h.len > UINT32_MAX)
				return -ENOSPC;
			s->hdr_names[at] = (struct native_str){h.name, (uint32_t)strlen(h.name)};
			s->hdr_values[at++] = (struct native_str){h.value ? h.value : "",
								  h.value ? (uint32_t)h.len : 0};
		}
		s->hdr_name_rows[j] = (struct native_array){s->hdr_names + first, at - first};
		s->hdr_value_rows[j] = (struct native_array){s->hdr_values + first, at - first};
	}
	return 0;
}

/* Metadata column col (kind m) of the run's rows. */
static int worker_rows_meta(struct worker_state *s, struct native_block *b, uint32_t col,
			    enum schema_meta m, const uint32_t *run, uint32_t n,
			    const struct source_msg *msgs, int64_t ingest_ms)
{
	switch (m) {
	case SCHEMA_META_TOPIC:
		for (uint32_t j = 0; j < n; j++)
			s->col.code[j] = 1;
		return native_rows_code(b, col, s->col.code);
	case SCHEMA_META_PARTITION:
		for (uint32_t j = 0; j < n; j++) {
			int32_t p = msgs[s->event_msg[run[j]]].partition;
			s->col.u64[j] = (uint64_t)(p < 0 ? 0 : p);
		}
		return native_rows_u64(b, col, s->col.u64, NULL);
	case SCHEMA_META_OFFSET:
		for (uint32_t j = 0; j < n; j++)
			s->col.u64[j] = (uint64_t)msgs[s->event_msg[run[j]]].offset;
		return native_rows_u64(b, col, s->col.u64, NULL);
	case SCHEMA_META_KAFKA_TIME:
		for (uint32_t j = 0; j < n; j++)
			s->col.i64[j] = msgs[s->event_msg[run[j]]].kafka_ms;
		return native_rows_i64(b, col, s->col.i64, NULL);
	case SCHEMA_META_INGEST_TIME:
		for (uint32_t j = 0; j < n; j++)
			s->col.i64[j] = ingest_ms;
		return native_rows_i64(b, col, s->col.i64, NULL);
	case SCHEMA_META_KEY:
		for (uint32_t j = 0; j < n; j++) {
			const struct source_msg *msg = &msgs[s->event_msg[run[j]]];
			s->col.str[j] = (struct native_str){msg->key ? msg->key : "",
							    msg->key ? msg->key_len : 0};
		}
		return native_rows_str(b, col, s->col.str, NULL);
	case SCHEMA_META_HEADERS_NAME: {
		int rc = worker_rows_headers(s, run, n, msgs);
		return rc < 0 ? rc : native_rows_array(b, col, s->hdr_name_rows);
	}
	case SCHEMA_META_HEADERS_VALUE:
		/* After _headers.name (schema_finish lists them together, in this order). */
		return native_rows_array(b, col, s->hdr_value_rows);
	default:
		return -EINVAL;
	}
}

/*
 * Appends the events run[0..n) as n rows of b, column by column: the declared fields (and the
 * catch-all), the attributes, the metadata. Returns 0, or -ENOSPC with b unchanged (the rows do
 * not fit, or a value is outside its column's range).
 */
static int worker_append_rows(struct worker_state *s, struct native_block *b, const uint32_t *run,
			      uint32_t n, const struct source_msg *msgs, int64_t ingest_ms)
{
	const struct dimset *set = s->set;
	const struct schema *ev = s->schema;
	if (native_rows_begin(b, n) != 0)
		return -ENOSPC;
	int rc = 0;
	for (uint32_t f = 0; f < ev->field_count && rc == 0; f++)
		rc = worker_rows_field(s, b, f, f, ev->fields[f].kind, ev->fields[f].nullable, run,
				       n);
	if (rc == 0 && ev->catch_all[0])
		rc = worker_rows_field(s, b, ev->field_count, ev->field_count, SCHEMA_STRING, false,
				       run, n);
	for (size_t d = 0; d < set->count && rc == 0; d++) {
		const struct dimset_dim *dd = &set->dims[d];
		for (size_t a = 0; a < dd->cfg->attr_count; a++)
			rc |= worker_rows_attr(s, b, dd->first_column + (uint32_t)a, dd->cols[a],
					       dd->out_nullable[a], s->rows[d], run, n);
	}
	for (uint32_t m = 0; m < ev->meta_count && rc == 0; m++)
		rc = worker_rows_meta(s, b, s->meta_first + m, ev->meta[m], run, n, msgs, ingest_ms);
	if (rc != 0) {
		native_block_rollback_row(b);
		return -ENOSPC;
	}
	return native_rows_commit(b);
}

/*
 * Appends one event as a row of h's block: into a fresh block if it does not fit, dead-lettered
 * if it does not fit an empty one either; writes the block when full.
 */
static int worker_emit_one(struct worker_state *s, struct worker_hour *h, uint32_t i,
			   const struct source_msg *msgs, int64_t ingest_ms)
{
	const struct source_msg *m = &msgs[s->event_msg[i]];
	int rc = worker_append_rows(s, h->block, &i, 1, msgs, ingest_ms);
	if (rc == -ENOSPC) {
		rc = worker_block_write(s, h);
		if (rc < 0)
			return rc;
		rc = worker_append_rows(s, h->block, &i, 1, msgs, ingest_ms);
		if (rc == -ENOSPC) {
			epoch_dead_letter(&s->epoch, m, "too_large", "the row does not fit in an empty block");
			return 0;
		}
	}
	if (rc < 0)
		return rc;
	if (native_block_full(h->block)) {
		rc = worker_block_write(s, h);
		if (rc < 0)
			return rc;
	}
	epoch_row(&s->epoch, m->kafka_ms, ingest_ms);
	return 0;
}

/*
 * Appends the chunk's events events[0..n), all of h's hour, as many at a time as the block has
 * rows for. When their bytes do not fit, halves until they do; a single row goes through
 * worker_emit_one (which writes the block and dead-letters a row too large for an empty one).
 */
static int worker_emit_run(struct worker_state *s, struct worker_hour *h, const uint32_t *events,
			   uint32_t n, const struct source_msg *msgs, int64_t ingest_ms)
{
	uint32_t done = 0, limit = n;
	while (done < n) {
		uint32_t room = native_block_free_rows(h->block);
		uint32_t take = n - done < room ? n - done : room;
		take = take < limit ? take : limit;
		const uint32_t *run = events + done;
		int rc;
		if (take > 1) {
			rc = worker_append_rows(s, h->block, run, take, msgs, ingest_ms);
			if (rc == 0) {
				for (uint32_t j = 0; j < take; j++)
					epoch_row(&s->epoch, msgs[s->event_msg[run[j]]].kafka_ms,
						  ingest_ms);
				done += take;
				if (native_block_full(h->block)) {
					rc = worker_block_write(s, h);
					if (rc < 0)
						return rc;
				}
				continue;
			}
			limit = take / 2;
			continue;
		}
		rc = worker_emit_one(s, h, run[0], msgs, ingest_ms);
		if (rc < 0)
			return rc;
		done++;
		limit = n;
	}
	return 0;
}

/*
 * Dead-letters the chunk's events that miss an inner-joined dimension and groups the others by
 * hour into s->run, each hour's in the chunk's order (hour g: s->group_hour[g], its events end
 * at s->group_end[g]); returns the number of hours. Around an hour's end, and wherever late
 * events arrive, two hours' events interleave; appended as they came, such a stretch made runs
 * of a few events, each paying for every column.
 */
static uint32_t worker_group_hours(struct worker_state *s, uint32_t n,
				   const struct source_msg *msgs, bool any_inner)
{
	const struct dimset *set = s->set;
	uint32_t groups = 0, last = 0, kept = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct source_msg *m = &msgs[s->event_msg[i]];
		bool dead = false;
		for (size_t d = 0; any_inner && d < set->count && !dead; d++) {
			if (s->rows[d][i] || set->dims[d].cfg->join != CONFIG_JOIN_INNER)
				continue;
			char reason[2 * CONFIG_NAME_MAX + 64];
			snprintf(reason, sizeof(reason), "inner join: no %s key in dimension %s",
				 set->dims[d].cfg->join_field, set->dims[d].cfg->name);
			epoch_dead_letter(&s->epoch, m, "inner_join_miss", reason);
			dead = true;
		}
		if (dead) {
			s->event_group[i] = UINT16_MAX;
			continue;
		}
		int64_t hour = seg_hour_key(s->time_ms[i]);
		uint32_t g = last;
		if (groups == 0 || s->group_hour[g] != hour) {
			for (g = 0; g < groups && s->group_hour[g] != hour; g++)
				;
			if (g == groups) {
				s->group_hour[groups] = hour;
				s->group_end[groups++] = 0;
			}
		}
		last = g;
		s->event_group[i] = (uint16_t)g;
		s->group_end[g]++;
		s->run[kept++] = i;
	}
	if (groups <= 1)
		return groups; /* one hour: run holds its events already */
	/* A stable counting sort: each hour's start in run, then its end once its events are in. */
	for (uint32_t g = 0, at = 0; g < groups; g++) {
		uint32_t count = s->group_end[g];
		s->group_end[g] = at;
		at += count;
	}
	for (uint32_t i = 0; i < n; i++)
		if (s->event_group[i] != UINT16_MAX)
			s->run[s->group_end[s->event_group[i]]++] = i;
	return groups;
}

/* Out of line: inlined into worker_process, a change here moved that function's decode loop,
 * which then measured 5% slower over the same events without a change of its own. */
static __attribute__((noinline)) int worker_emit(struct worker_state *s, uint32_t n,
						 const struct source_msg *msgs, int64_t ingest_ms)
{
	struct worker *w = s->w;
	const struct dimset *set = s->set;
	bool any_inner = false;
	/* Counted once per chunk: an atomic add per event and dimension costs more than its probe. */
	for (size_t d = 0; d < set->count; d++) {
		uint64_t misses = 0;
		for (uint32_t i = 0; i < n; i++)
			misses += s->rows[d][i] == NULL;
		worker_stats_add(&w->stats.lookups[d], n);
		if (misses)
			worker_stats_add(&w->stats.misses[d], misses);
		any_inner |= set->dims[d].cfg->join == CONFIG_JOIN_INNER;
	}
	uint32_t groups = worker_group_hours(s, n, msgs, any_inner);
	for (uint32_t g = 0, start = 0; g < groups; start = s->group_end[g++]) {
		int rc;
		struct worker_hour *h = worker_hour_get(s, s->group_hour[g], &rc);
		if (!h)
			return rc;
		rc = worker_emit_run(s, h, s->run + start, s->group_end[g] - start, msgs, ingest_ms);
		if (rc < 0)
			return rc;
	}
	worker_stats_add(&w->stats.rows_out, n);
	return 0;
}

/*
 * Decodes message m into the slots of the chunk's event n, and its time; a message that does not
 * decode is a dead letter (-1). The one step that knows the input format.
 */
static inline int worker_decode(struct worker_state *s, const struct source_msg *m, uint32_t n,
				char *scratch, size_t cap, uint32_t *used)
{
	struct event_value *vals = s->vals + (size_t)n * s->slots;
	struct event_error err;
	int rc = event_decode(s->plan, m->data, m->len, vals, scratch, cap, used, &err);
	if (__builtin_expect(rc < 0, 0)) {
		worker_stats_add(&s->w->stats.decode_errors[-rc], 1);
		char reason[512];
		snprintf(reason, sizeof(reason), "%s (byte %zu)", err.reason, err.offset);
		epoch_dead_letter(&s->epoch, m, event_err_name(rc), reason);
		return -1;
	}
	const struct schema_field *tf = &s->schema->fields[s->schema->time_index];
	s->time_ms[n] = schema_time_ms(tf, vals[s->schema->time_index].i64);
	return 0;
}

/* Joins and appends the chunk's n decoded events. */
static int worker_chunk(struct worker_state *s, uint32_t n, const struct source_msg *msgs,
			int64_t ingest_ms)
{
	size_t half = s->scratch_cap / 2;
	worker_probe(s, n, s->scratch + half, half);
	int rc = worker_dicts_grow(s);
	worker_stage_lap(&s->clock, WORKER_STAGE_PROBE);
	if (rc == 0)
		rc = worker_emit(s, n, msgs, ingest_ms);
	/* Without the block writes inside it: they are encode and write time. */
	worker_stage_lap(&s->clock, WORKER_STAGE_APPEND);
	return rc;
}

/* Decodes, joins and appends msgs[0..count). */
static int worker_process(struct worker_state *s, const struct source_msg *msgs, uint32_t count)
{
	struct worker *w = s->w;
	int64_t ingest_ms = now_wall_ms();
	uint32_t next = 0;
	worker_stage_start(&s->clock);
	while (next < count) {
		uint32_t n = 0;
		size_t used = 0;
		/* Half the scratch holds unescaped strings, the other half normalised keys. */
		size_t half = s->scratch_cap / 2;
		while (next < count && n < WORKER_CHUNK_EVENTS) {
			const struct source_msg *m = &msgs[next];
			if (n > 0 && used + event_plan_scratch_bound(s->plan, m->len) > half)
				break; /* the chunk's values fill the scratch: probe first */
			epoch_consumed(&s->epoch, m->partition, m->offset);
			next++;
			uint32_t scratch_used;
			if (worker_decode(s, m, n, s->scratch + used, half - used, &scratch_used) < 0)
				continue;
			used += scratch_used;
			s->event_msg[n++] = next - 1;
		}
		worker_stage_lap(&s->clock, WORKER_STAGE_DECODE);
		if (n == 0)
			continue;
		int rc = worker_chunk(s, n, msgs, ingest_ms);
		if (rc < 0)
			return rc;
	}
	worker_stats_add(&w->stats.events_in, count);
	return 0;
}

/* ---- Avro ---- */

/* A dead letter of an Avro message, counted by its av_err code. */
static void worker_avro_dead_letter(struct worker_state *s, const struct source_msg *m, int code,
				    const char *error, const char *reason)
{
	if (code < 0 && code > -AV_ERR_COUNT)
		worker_stats_add(&s->w->stats.avro_errors[-code], 1);
	epoch_dead_letter(&s->epoch, m, error, reason);
}

/*
 * Holds m's partition at m (source_pause_partition): m and the partition's later messages are
 * not consumed; the source gives them again once worker_holds_check resumes the partition.
 * A partition the source no longer has (revoked meanwhile) is only skipped for this batch: its
 * next owner starts after what was sealed.
 */
static void worker_hold(struct worker_state *s, const struct source_msg *m, uint32_t id)
{
	int32_t p = m->partition;
	if (p < 0 || p >= EPOCH_PARTITIONS_MAX)
		p = 0; /* a source's partitions are in range (source.h); kept in bounds anyway */
	if (!s->held_now[p])
		s->held_now_list[s->held_now_count++] = p;
	s->held_now[p] = true;
	int rc = source_pause_partition(s->env->source, m);
	if (rc < 0) {
		/* Going on would skip the message: stop, and take it again at the next start. */
		if (rc != -ENOENT && s->hold_error == 0) {
			log_error("worker", "w%u: cannot hold partition %" PRId32 " at offset %" PRId64
				  ": %s", s->env->index, p, m->offset, strerror(-rc));
			s->hold_error = rc;
		}
		return;
	}
	uint32_t k = 0;
	while (k < s->hold_count && s->holds[k].partition != p)
		k++;
	if (k == s->hold_count) {
		s->hold_count++;
		worker_stats_add(&s->w->stats.schema_waits, 1);
		log_info("worker", "w%u: partition %" PRId32 " waits at offset %" PRId64
			 " for schema id %" PRIu32 " from the registry", s->env->index, p, m->offset,
			 id);
	}
	s->holds[k] = (struct worker_hold){p, id};
	atomic_store_explicit(&s->w->stats.partitions_waiting, s->hold_count,
			      memory_order_relaxed);
}

/* Before a poll: resumes every held partition whose schema id the registry has answered. */
static void worker_holds_check(struct worker_state *s)
{
	for (uint32_t k = 0; k < s->hold_count;) {
		const struct registry_schema *rs;
		if (registry_get(s->registry, s->holds[k].id, &rs) == REGISTRY_PENDING) {
			k++;
			continue;
		}
		int32_t p = s->holds[k].partition;
		int rc = source_resume_partition(s->env->source, p);
		if (rc < 0)
			log_warn("worker", "w%u: cannot resume partition %" PRId32 ": %s",
				 s->env->index, p, strerror(-rc));
		log_info("worker", "w%u: schema id %" PRIu32 " answered: partition %" PRId32
			 " goes on", s->env->index, s->holds[k].id, p);
		s->holds[k] = s->holds[--s->hold_count];
	}
	atomic_store_explicit(&s->w->stats.partitions_waiting, s->hold_count,
			      memory_order_relaxed);
}

/*
 * The registry's state of id, with its answer in *out; READY comes from the last id's answer
 * when id is the last one's (a run of one id asks the registry once).
 */
static inline enum registry_state worker_avro_schema(struct worker_state *s, uint32_t id,
						     const struct registry_schema **out)
{
	if (__builtin_expect(id == s->last_id && s->last_schema != NULL, 1)) {
		*out = s->last_schema;
		return REGISTRY_READY;
	}
	enum registry_state st = registry_get(s->registry, id, out);
	if (st == REGISTRY_READY) {
		s->last_id = id;
		s->last_schema = *out;
	}
	return st;
}

/* Dead-letters m, of schema id in state st (not READY, not PENDING): no schema reads it. */
static void worker_avro_no_schema(struct worker_state *s, const struct source_msg *m, uint32_t id,
				  enum registry_state st, const struct registry_schema *rs)
{
	char error[32], reason[REGISTRY_REASON_MAX + 64];
	snprintf(error, sizeof(error), "schema_%s",
		 st == REGISTRY_FULL ? "ids_full" : registry_state_name(st));
	snprintf(reason, sizeof(reason), "schema id %" PRIu32 ": %s", id,
		 st == REGISTRY_FULL ? "more distinct schema ids than [registry] ids_max"
				     : rs->reason);
	if (st != REGISTRY_FULL)
		registry_dead_letter(s->registry, id);
	epoch_dead_letter(&s->epoch, m, error, reason);
}

/*
 * Decodes Confluent-framed Avro message m into the slots of the chunk's event n, and its time.
 * Returns 0, -1 for a dead letter, or WORKER_HOLD when its partition now waits for its schema
 * (m is then not consumed).
 */
static int worker_decode_avro(struct worker_state *s, const struct source_msg *m, uint32_t n,
			      char *scratch, size_t cap, uint32_t *used)
{
	uint32_t id = 0;
	size_t body = 0;
	struct av_error err;
	const struct registry_schema *rs = NULL;
	int rc = av_frame(m->data, m->len, &id, &body, &err);
	enum registry_state st = rc < 0 ? REGISTRY_READY : worker_avro_schema(s, id, &rs);
	if (__builtin_expect(st == REGISTRY_PENDING, 0)) {
		worker_hold(s, m, id);
		return WORKER_HOLD;
	}
	epoch_consumed(&s->epoch, m->partition, m->offset);
	if (__builtin_expect(rc < 0, 0)) {
		worker_avro_dead_letter(s, m, rc, av_err_name(rc), err.reason);
		return -1;
	}
	if (__builtin_expect(id != s->run_id, 0)) {
		if (s->run_count)
			registry_count(s->registry, s->run_id, s->run_count);
		s->run_id = id;
		s->run_count = 0;
	}
	s->run_count++;
	if (__builtin_expect(st != REGISTRY_READY, 0)) {
		worker_avro_no_schema(s, m, id, st, rs);
		return -1;
	}
	struct event_value *vals = s->vals + (size_t)n * s->slots;
	rc = av_decode(rs->plan, m->data + body, m->len - body, vals, scratch, cap, used, &err);
	if (__builtin_expect(rc < 0, 0)) {
		char reason[512];
		const char *field = err.field >= 0 && (uint32_t)err.field < s->schema->field_count
					    ? s->schema->fields[err.field].name : "";
		snprintf(reason, sizeof(reason), "schema id %" PRIu32 ": %s%s%s (byte %zu)", id,
			 field, *field ? ": " : "", err.reason, err.offset + body);
		registry_dead_letter(s->registry, id);
		worker_avro_dead_letter(s, m, rc, av_err_name(rc), reason);
		return -1;
	}
	const struct schema_field *tf = &s->schema->fields[s->schema->time_index];
	s->time_ms[n] = schema_time_ms(tf, vals[s->schema->time_index].i64);
	return 0;
}

/*
 * As worker_process for Avro messages. A message whose schema id is pending holds its
 * partition: it and the partition's later messages of the batch are left unconsumed (the epoch
 * does not record them), and the source gives them again once the partition is resumed.
 */
static int worker_process_avro(struct worker_state *s, const struct source_msg *msgs,
			       uint32_t count)
{
	int64_t ingest_ms = now_wall_ms();
	uint32_t next = 0, held = 0;
	size_t half = s->scratch_cap / 2;
	worker_stage_start(&s->clock);
	while (next < count) {
		uint32_t n = 0;
		size_t used = 0;
		while (next < count && n < WORKER_CHUNK_EVENTS) {
			const struct source_msg *m = &msgs[next];
			if (n > 0 && used + AV_SCRATCH_BOUND(m->len, s->slots) > half)
				break; /* the chunk's values may fill the scratch: probe first */
			next++;
			uint32_t p = (uint32_t)m->partition;
			if (s->held_now_count > 0 && p < EPOCH_PARTITIONS_MAX && s->held_now[p]) {
				held++;
				continue; /* after the message its partition waits at */
			}
			uint32_t scratch_used = 0;
			int rc = worker_decode_avro(s, m, n, s->scratch + used, half - used,
						    &scratch_used);
			if (rc == WORKER_HOLD)
				held++;
			if (rc != 0)
				continue;
			used += scratch_used;
			s->event_msg[n++] = next - 1;
		}
		worker_stage_lap(&s->clock, WORKER_STAGE_DECODE);
		if (n == 0)
			continue;
		int rc = worker_chunk(s, n, msgs, ingest_ms);
		if (rc < 0)
			return rc;
	}
	if (s->run_count) {
		registry_count(s->registry, s->run_id, s->run_count);
		s->run_count = 0;
	}
	for (uint32_t k = 0; k < s->held_now_count; k++)
		s->held_now[s->held_now_list[k]] = false;
	s->held_now_count = 0;
	worker_stats_add(&s->w->stats.events_in, count - held);
	return s->hold_error;
}

/* ---- sources ---- */

/*
 * Takes a batch from the source into s->msgs; dead-letters what the source rejected first (as
 * the file reader always did: before the batch it came with is processed).
 */
static int worker_poll(struct worker_state *s, uint32_t *count)
{
	struct source *src = s->env->source;
	int n = source_poll(src, s->msgs, s->batch_max,
			    epoch_poll_wait_ms(&s->epoch, s->cfg->poll_timeout_ms));
	if (n < 0)
		return n;
	for (uint32_t i = 0; i < src->reject_count; i++) {
		const struct source_reject *r = &src->rejects[i];
		epoch_consumed(&s->epoch, r->msg.partition, r->msg.offset);
		epoch_dead_letter(&s->epoch, &r->msg, r->error, r->reason);
	}
	*count = (uint32_t)n;
	return 0;
}

/* ---- setup ---- */

static void worker_disk_error(void *arg, uint64_t errors);

static void worker_state_free(struct worker_state *s)
{
	if (s->seg)
		seg_writer_close(s->seg); /* before the epoch: its seal callback counts there */
	if (s->epoch_ready)
		epoch_destroy(&s->epoch);
	for (uint32_t i = 0; s->hours && i < s->hour_count; i++)
		native_block_destroy(s->hours[i].block);
	free(s->hours);
	free(s->msgs);
	free(s->scratch);
	free(s->vals);
	free(s->hdr_names);
	free(s->hdr_values);
	event_plan_free(s->plan);
	free(s);
}

/*
 * Bytes of each String column of a block: 128 per row, but never less than
 * WORKER_BLOCK_VAR_BYTES_MIN, so the longest key or value a row may carry does not shrink with
 * block_rows (only the used part of the buffer is ever touched after setup).
 */
static size_t worker_block_var_bytes(uint32_t block_rows)
{
	size_t bytes = (size_t)block_rows * 128;
	return bytes < WORKER_BLOCK_VAR_BYTES_MIN ? WORKER_BLOCK_VAR_BYTES_MIN : bytes;
}

/* The decoding plan of the declared fields, their slots, and the headers' room if output. */
static int worker_decode_init(struct worker_state *s)
{
	s->schema = &s->cfg->event;
	if (s->schema->format == SCHEMA_FORMAT_AVRO_CONFLUENT) {
		/* The plans are the registry's, one per writer schema; a slot per declared field. */
		s->registry = s->env->registry;
		if (!s->registry) {
			log_error("worker", "w%u: [event] format avro-confluent without a registry",
				  s->env->index);
			return -EINVAL;
		}
		s->slots = s->schema->field_count;
	} else {
		char err[256];
		int rc = event_plan_create(s->schema, &s->plan, err, sizeof(err), NULL);
		if (rc < 0) {
			log_error("worker", "w%u: [event]: %s", s->env->index, err);
			return rc;
		}
		s->slots = event_plan_slots(s->plan);
	}
	s->vals = calloc((size_t)WORKER_CHUNK_EVENTS * s->slots, sizeof(*s->vals));
	if (!s->vals)
		return -ENOMEM;
	for (uint32_t m = 0; m < s->schema->meta_count; m++) {
		if (s->schema->meta[m] != SCHEMA_META_HEADERS_NAME)
			continue;
		s->hdr_names = calloc(WORKER_HEADERS_MAX, sizeof(*s->hdr_names));
		s->hdr_values = calloc(WORKER_HEADERS_MAX, sizeof(*s->hdr_values));
		if (!s->hdr_names || !s->hdr_values)
			return -ENOMEM;
	}
	return 0;
}

static int worker_state_alloc(struct worker *w, struct worker_state **out)
{
	const struct config *cfg = w->env.cfg;
	struct worker_state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->w = w;
	s->env = &w->env;
	s->cfg = cfg;
	s->topic = w->env.source->topic;
	s->topic_dict[0] = (struct native_str){"", 0};
	s->topic_dict[1] = (struct native_str){s->topic, (uint32_t)strlen(s->topic)};
	s->batch_max = cfg->batch_events;
	s->clock.stage_ns = w->stats.stage_ns;
	s->scratch_cap = 2 * SOURCE_MSG_BYTES_MAX;
	s->scratch = malloc(s->scratch_cap);
	s->msgs = calloc(s->batch_max, sizeof(*s->msgs));
	s->hour_count = cfg->open_segments;
	s->hours = calloc(s->hour_count, sizeof(*s->hours));
	*out = s;
	if (!s->scratch || !s->msgs || !s->hours)
		return -ENOMEM;
	return worker_decode_init(s);
}

/* The output schema, one empty block per open hour, the set's dictionaries in them. */
static int worker_blocks_init(struct worker_state *s)
{
	const struct config *cfg = s->cfg;
	s->columns = dimset_schema(cfg, s->specs, s->names, s->types);
	s->meta_first = s->columns - s->schema->meta_count;
	s->topic_column = -1; /* its dictionary is this worker's one topic */
	for (uint32_t m = 0; m < s->schema->meta_count; m++)
		if (s->schema->meta[m] == SCHEMA_META_TOPIC)
			s->topic_column = (int32_t)(s->meta_first + m);
	for (size_t d = 0; d < s->set->count; d++) {
		const struct dimset_dim *dd = &s->set->dims[d];
		for (size_t a = 0; a < dd->cfg->attr_count; a++) {
			/* Room for the dictionary to grow fourfold across reloads (a live
			 * table's room included). */
			uint32_t keys = dd->cols[a]->dict_cap;
			s->specs[dd->first_column + a].dict_keys_max =
				keys > (UINT32_MAX - 4096) / 4 ? UINT32_MAX : keys * 4 + 4096;
		}
	}
	for (uint32_t i = 0; i < s->hour_count; i++) {
		s->hours[i].hour_key = -1;
		int rc = native_block_init(&s->hours[i].block, s->specs, s->columns,
					   cfg->block_rows, worker_block_var_bytes(cfg->block_rows));
		if (rc < 0)
			return rc;
	}
	return worker_dicts_set(s);
}

/* The segment writer: two-phase sealing for the epoch, stop-aware waits. */
static int worker_seg_init(struct worker_state *s)
{
	const struct config *cfg = s->cfg;
	struct seg_writer_cfg scfg;
	seg_writer_cfg_default(&scfg);
	scfg.dir = cfg->output_dir;
	scfg.instance = cfg->instance;
	scfg.worker = s->env->index;
	scfg.segment_bytes_max = cfg->segment_bytes;
	/* Epochs seal by age; the writer's own age roll is only a backstop. */
	scfg.segment_age_ms_max = (uint64_t)cfg->segment_age_ms * 4;
	scfg.open_segments_max = cfg->open_segments;
	scfg.inflight_bytes_max = cfg->inflight_bytes;
	scfg.pool_bytes = cfg->inflight_bytes;
	/* The pool must hold the largest block there can be, twice. */
	size_t block_max = native_block_encoded_max(s->hours[0].block);
	if (scfg.pool_bytes < 2 * block_max)
		scfg.pool_bytes = scfg.inflight_bytes_max = 2 * block_max;
	scfg.io_cpus = cfg->io_cpus;
	scfg.io_cpu_count = cfg->io_cpu_count;
	scfg.direct_io = cfg->direct_io != CONFIG_DIRECT_IO_OFF;
	scfg.publish_hold = true; /* renamed only after the epoch is in the manifest */
	scfg.stop = s->env->stop;
	scfg.on_sealed = epoch_on_sealed;
	scfg.on_sealed_arg = &s->epoch;
	scfg.on_disk_error = worker_disk_error;
	scfg.on_disk_error_arg = s;
	return seg_writer_init(&s->seg, &scfg);
}

static int worker_epoch_init(struct worker_state *s)
{
	const struct config *cfg = s->cfg;
	struct epoch_cfg ecfg = {
		.worker = s->env->index,
		.output_dir = cfg->output_dir,
		.instance = cfg->instance,
		.dead_letter_dir = cfg->dead_letter_dir,
		.topic = s->topic,
		.segment_age_ms = cfg->segment_age_ms,
		.segment_idle_ms = cfg->segment_idle_ms,
		.seg = s->seg,
		.stats = &s->w->stats,
		.stop = s->env->stop,
		.flush = worker_flush,
		.flush_arg = s,
		.sink = s->env->sealed,
		.on_disk_error = worker_disk_error,
		.on_disk_error_arg = s,
	};
	int rc = epoch_init(&s->epoch, &ecfg);
	s->epoch_ready = rc == 0;
	return rc;
}

/* Everything the loop needs, allocated on the worker's thread (its NUMA node). */
static int worker_state_init(struct worker *w, struct worker_state **out)
{
	struct worker_state *s = NULL;
	int rc = worker_state_alloc(w, &s);
	if (rc == 0) {
		s->set = dimpub_get(w->env.dims, w->env.dims_slot); /* kept until it switches */
		s->generation = s->set->generation;
		rc = worker_blocks_init(s);
	}
	if (rc == 0)
		rc = worker_seg_init(s);
	if (rc == 0)
		rc = worker_epoch_init(s);
	if (rc < 0) {
		log_error("worker", "w%u: setup failed: %s", w->env.index, strerror(-rc));
		if (s)
			worker_state_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void worker_pin(struct worker *w)
{
	char name[16];
	if (w->env.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->env.cpu, &set);
		int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (rc != 0)
			log_warn("worker", "w%u: cannot pin to CPU %d: %s", w->env.index, w->env.cpu,
				 strerror(rc));
	}
	snprintf(name, sizeof(name), "enrichd-w%u", w->env.index);
	pthread_setname_np(pthread_self(), name);
}

/* ---- the loop ---- */

/*
 * Stops taking messages from the source (its partitions are paused: the backlog stays in Kafka)
 * and says so in the paused gauge. A source that holds nothing ahead of the worker (a file) is
 * not paused, but a worker held by the disk still shows in the gauge.
 */
static void worker_pause(struct worker_state *s, const char *why)
{
	struct worker *w = s->w;
	if (atomic_load_explicit(&w->stats.paused, memory_order_relaxed))
		return;
	if (w->env.source->fetches_ahead && source_pause(w->env.source) != 0)
		return;
	atomic_store_explicit(&w->stats.paused, 1, memory_order_relaxed);
	worker_stats_add(&w->stats.pauses, 1);
	log_info("worker", "w%u: %s: partitions paused", w->env.index, why);
}

static void worker_resume(struct worker_state *s)
{
	struct worker *w = s->w;
	if (w->env.source->fetches_ahead && source_resume(w->env.source) != 0)
		return;
	atomic_store_explicit(&w->stats.paused, 0, memory_order_relaxed);
	log_info("worker", "w%u: the disk caught up: partitions resumed", w->env.index);
}

/*
 * Writes failed and are retried (the segment writer's seg_writer_cfg.on_disk_error, the epoch's
 * dead-letter and manifest writes): counted as they happen, and the worker pauses at once, from
 * inside the wait that holds it, so neither the counter nor the gauge waits for the loop.
 */
static void worker_disk_error(void *arg, uint64_t errors)
{
	struct worker_state *s = arg;
	worker_stats_add(&s->w->stats.write_errors, errors);
	worker_pause(s, "writes are failing");
}

/*
 * Backpressure: when the bytes handed to the disk and not yet written pass 3/4 of the bound, or
 * writes fail, stop fetching this worker's partitions; resume below 1/4 once writes succeed.
 * Memory stays bounded by the bound plus what librdkafka had already fetched.
 */
static void worker_backpressure(struct worker_state *s)
{
	const struct seg_stats *ss = seg_stats(s->seg);
	uint64_t inflight = ss->inflight_bytes;
	uint64_t bound = s->cfg->inflight_bytes;
	/* Failing writes (disk full) will hold the worker in its next seal: pause before. */
	bool failing = ss->disk_failing;
	bool paused = atomic_load_explicit(&s->w->stats.paused, memory_order_relaxed) != 0;
	if (!paused && (inflight >= bound / 4 * 3 || failing))
		worker_pause(s, failing ? "writes are failing"
					: "too many bytes wait for the disk");
	else if (paused && inflight <= bound / 4 && !failing)
		worker_resume(s);
}

/* The segment writer's gauges; its write errors are counted as they happen (worker_disk_error). */
static void worker_seg_gauges(struct worker_state *s)
{
	const struct seg_stats *ss = seg_stats(s->seg);
	struct worker_stats *st = &s->w->stats;
	atomic_store_explicit(&st->inflight_writes, ss->inflight_writes, memory_order_relaxed);
	atomic_store_explicit(&st->inflight_bytes, ss->inflight_bytes, memory_order_relaxed);
}

/*
 * One batch: poll the source, move to the published dimension set if it changed (before
 * anything reads a set in this iteration), decode, join and append, release the batch.
 */
static int worker_batch(struct worker_state *s, uint32_t *count)
{
	worker_stage_start(&s->clock);
	if (s->hold_count > 0)
		worker_holds_check(s);
	int rc = worker_poll(s, count);
	worker_stage_lap(&s->clock, WORKER_STAGE_POLL);
	if (rc < 0)
		return rc;
	epoch_polled(&s->epoch, *count);
	rc = worker_dimset_refresh(s);
	if (rc < 0)
		return rc;
	s->batch_seq++;
	rc = s->registry ? worker_process_avro(s, s->msgs, *count)
			 : worker_process(s, s->msgs, *count);
	source_release(s->env->source);
	return rc;
}

/*
 * After a batch: closes the epoch and waits for it when the worker stops, its source is
 * finished, a flush is asked for or the epoch says so; cuts it (sealing in the background) when
 * it is due; finishes the cut epoch once its segments are synced.
 */
static int worker_epoch_step(struct worker_state *s, bool closing, uint64_t flush_req,
			     uint32_t count)
{
	struct worker *w = s->w;
	uint64_t acked = atomic_load_explicit(&w->flush_ack, memory_order_relaxed);
	enum epoch_action next = epoch_next(&s->epoch, count);
	int rc;
	if (closing || flush_req != acked || next == EPOCH_CLOSE) {
		/* Everything taken so far sealed and published before going on. */
		rc = epoch_close(&s->epoch);
		if (rc < 0)
			return rc;
		atomic_store_explicit(&w->flush_ack, flush_req, memory_order_release);
	} else if (next == EPOCH_CUT) {
		/* The epoch seals in the background while the next one fills. */
		rc = epoch_finish(&s->epoch, true);
		if (rc == 0)
			rc = epoch_cut(&s->epoch);
		if (rc < 0)
			return rc;
	}
	return epoch_finish(&s->epoch, false);
}

static int worker_loop(struct worker_state *s)
{
	const struct worker_env *env = s->env;
	for (;;) {
		bool stopping = atomic_load_explicit(env->stop, memory_order_acquire);
		uint64_t flush_req = atomic_load_explicit(env->flush_req, memory_order_acquire);
		bool finished = false;
		uint32_t count = 0;
		int rc;
		if (!stopping) {
			rc = worker_batch(s, &count);
			if (rc < 0)
				return rc;
			finished = env->source->finished;
		}
		rc = seg_tick(s->seg, seg_clock_ms());
		if (rc < 0)
			return rc;
		worker_seg_gauges(s);
		worker_backpressure(s);
		rc = epoch_failed(&s->epoch);
		if (rc < 0)
			return rc;
		rc = worker_epoch_step(s, stopping || finished, flush_req, count);
		if (rc < 0)
			return rc;
		if (stopping || finished)
			return 0;
		dimpub_quiescent(); /* the iteration is over: no set is read until the next refresh */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	worker_pin(w);
	/* Before the first read of a set; and it never goes offline while it holds one. */
	dimpub_reader_register();
	struct worker_state *s;
	int rc = worker_state_init(w, &s);
	if (rc == 0) {
		w->state = s;
		atomic_store_explicit(&w->stats.loop_cpu_start_ns, now_process_cpu_ns(),
				      memory_order_relaxed);
		uint64_t t0 = now_mono_ns();
		rc = worker_loop(s);
		atomic_store_explicit(&w->stats.loop_ns, now_mono_ns() - t0, memory_order_relaxed);
		atomic_store_explicit(&w->stats.loop_cpu_end_ns, now_process_cpu_ns(),
				      memory_order_relaxed);
		if (rc == -ECANCELED) {
			log_warn("worker", "w%u: stopped while the disk was failing: its last epoch is "
				 "not sealed; its messages are consumed again at the next start",
				 w->env.index);
		} else if (rc < 0) {
			log_error("worker", "w%u: stopped by an error: %s", w->env.index, strerror(-rc));
		} else {
			log_info("worker", "w%u: done: %" PRIu64 " events, %" PRIu64 " rows sealed, %"
				 PRIu64 " dead letters", w->env.index,
				 atomic_load(&w->stats.events_in), atomic_load(&w->stats.rows_sealed),
				 atomic_load(&w->stats.dead_letters));
		}
		worker_state_free(s);
		w->state = NULL;
	}
	dimpub_reader_unregister(); /* holds no set any more: grace periods stop waiting for it */
	w->exit_code = rc;
	atomic_store_explicit(&w->done, true, memory_order_release);
	return NULL;
}

int worker_start(struct worker *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		log_error("worker", "w%u: cannot start its thread: %s", w->env.index, strerror(rc));
		return -rc;
	}
	w->started = true;
	return 0;
}

int worker_join(struct worker *w)
{
	if (w->started) {
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	return w->exit_code;
}
