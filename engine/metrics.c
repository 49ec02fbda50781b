#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "event.h"
#include "huge.h"
#include "kafka.h"
#include "log.h"
#include "registry.h"

/* First size of the /metrics buffer; it grows (rarely) to what a scrape needs. */
#define METRICS_BODY_INITIAL_BYTES ((size_t)256 << 10)
/* Longest /healthz or /readyz answer. */
#define METRICS_REASON_MAX 256
/* Longest escaped label value: every byte of a configured name escaped, plus the NUL. */
#define METRICS_LABEL_MAX (2 * CONFIG_NAME_MAX + 1)

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct MHD_Daemon *daemon;
	struct metrics_view view;
	uint16_t port;
	/* The /metrics body; only the server's one thread uses it. */
	char *buf;
	size_t cap;
	bool overflow_logged;
};

/* ---- rendering ---- */

/* An snprintf-like writer: counts every byte, stores what fits. */
struct metrics_out {
	char *buf;
	size_t cap;
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static void out_printf(struct metrics_out *o, const char *fmt, ...)
{
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void out_family(struct metrics_out *o, const char *name, const char *type,
		       const char *help)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value escaped as the text format wants: backslash, double quote, newline. */
static const char *label_escape(char dst[METRICS_LABEL_MAX], const char *src)
{
	size_t n = 0;
	for (size_t i = 0; src[i] && i < CONFIG_NAME_MAX; i++) {
		char c = src[i];
		if (c == '\\' || c == '"' || c == '\n') {
			dst[n++] = '\\';
			c = c == '\n' ? 'n' : c;
		}
		dst[n++] = c;
	}
	dst[n] = '\0';
	return dst;
}

static uint64_t load_u64(const _Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* A worker_stats field by its offset (every field below is an _Atomic uint64_t). */
static uint64_t stat_at(const struct worker_stats *s, size_t offset)
{
	return load_u64((const _Atomic uint64_t *)(const void *)((const char *)s + offset));
}

/* Nanoseconds as seconds, exactly (so counters stay monotonic whatever their size). */
static void out_ns_as_s(struct metrics_out *o, uint64_t ns)
{
	out_printf(o, "%" PRIu64 ".%09" PRIu64 "\n", ns / 1000000000u, ns % 1000000000u);
}

static void out_ms_as_s(struct metrics_out *o, int64_t ms)
{
	if (ms < 0) {
		out_printf(o, "0\n");
		return;
	}
	out_printf(o, "%" PRId64 ".%03" PRId64 "\n", ms / 1000, ms % 1000);
}

/* Per-worker metrics with the worker label only. */
struct metrics_worker_family {
	const char *name;
	const char *type;
	const char *help;
	size_t offset; /* in struct worker_stats */
};

#define WF(name, type, field, help) {name, type, help, offsetof(struct worker_stats, field)}

static const struct metrics_worker_family metrics_worker_families[] = {
	WF("enrichd_worker_events_total", "counter", events_in,
	   "Messages taken from Kafka (or lines from --input)."),
	WF("enrichd_worker_rows_appended_total", "counter", rows_out,
	   "Enriched rows appended to Native blocks."),
	WF("enrichd_worker_rows_sealed_total", "counter", rows_sealed,
	   "Rows in sealed segments, visible to ClickHouse."),
	WF("enrichd_worker_dead_letters_total", "counter", dead_letters,
	   "Messages written to the dead-letter file (malformed, or an inner-join miss)."),
	WF("enrichd_worker_blocks_total", "counter", blocks,
	   "Native blocks encoded and handed to the segment writer."),
	WF("enrichd_worker_segments_sealed_total", "counter", segments_sealed,
	   "Segments sealed (fsynced and renamed to .native)."),
	WF("enrichd_worker_written_bytes_total", "counter", bytes_written,
	   "Bytes written to segment files."),
	WF("enrichd_worker_epochs_total", "counter", epochs,
	   "Epochs closed (every block encoded, every open segment sealed, offsets published)."),
	WF("enrichd_worker_inflight_writes", "gauge", inflight_writes,
	   "Blocks handed to the disk and not yet written."),
	WF("enrichd_worker_inflight_bytes", "gauge", inflight_bytes,
	   "Bytes handed to the disk and not yet written."),
	WF("enrichd_worker_write_errors_total", "counter", write_errors,
	   "Failed writes of segments, dead letters and the manifest (ENOSPC, EIO, ...); each is "
	   "retried."),
	WF("enrichd_worker_paused", "gauge", paused,
	   "1 while the worker takes no message: its partitions paused for backpressure, or its "
	   "writes failing."),
	WF("enrichd_worker_pauses_total", "counter", pauses,
	   "Times the worker paused its partitions for backpressure."),
	WF("enrichd_worker_partitions_waiting", "gauge", partitions_waiting,
	   "Avro input: partitions held at a message whose schema id the registry has not "
	   "answered yet (the worker goes on with its other partitions)."),
	WF("enrichd_worker_schema_waits_total", "counter", schema_waits,
	   "Avro input: times a partition started waiting for a schema id."),
};

static const char *const metrics_stage_names[WORKER_STAGE_COUNT] = {
	[WORKER_STAGE_POLL] = "poll",	  [WORKER_STAGE_DECODE] = "decode",
	[WORKER_STAGE_PROBE] = "probe",	  [WORKER_STAGE_APPEND] = "append",
	[WORKER_STAGE_ENCODE] = "encode", [WORKER_STAGE_WRITE] = "write",
	[WORKER_STAGE_SEAL] = "seal",
};

/* The per-worker counters and gauges of metrics_worker_families. */
static void render_worker_families(struct metrics_out *o, const struct metrics_view *v)
{
	size_t nf = sizeof(metrics_worker_families) / sizeof(metrics_worker_families[0]);
	for (size_t f = 0; f < nf; f++) {
		const struct metrics_worker_family *fam = &metrics_worker_families[f];
		out_family(o, fam->name, fam->type, fam->help);
		for (uint32_t k = 0; k < v->worker_count; k++)
			out_printf(o, "%s{worker=\"%" PRIu32 "\"} %" PRIu64 "\n", fam->name, k,
				   stat_at(v->worker_stats[k], fam->offset));
	}
}

/* Decode errors by reason, and join lookups and misses by dimension. */
static void render_worker_reasons(struct metrics_out *o, const struct metrics_view *v)
{
	out_family(o, "enrichd_worker_decode_errors_total", "counter",
		   "Messages the JSON decoder rejected (each also dead-lettered), by reason.");
	for (uint32_t k = 0; k < v->worker_count; k++)
		for (int r = 1; r < EVENT_ERR_COUNT; r++)
			out_printf(o, "enrichd_worker_decode_errors_total{worker=\"%" PRIu32
				   "\",reason=\"%s\"} %" PRIu64 "\n", k, event_err_name(-r),
				   load_u64(&v->worker_stats[k]->decode_errors[r]));

	static const char *const join_names[2] = {"enrichd_worker_join_lookups_total",
						  "enrichd_worker_join_misses_total"};
	static const char *const join_help[2] = {
		"Keys looked up in a dimension.",
		"Keys not found in a dimension (NULL or default attributes, or a dead letter).",
	};
	char label[METRICS_LABEL_MAX];
	for (int j = 0; j < 2; j++) {
		out_family(o, join_names[j], "counter", join_help[j]);
		for (uint32_t k = 0; k < v->worker_count; k++) {
			const struct worker_stats *s = v->worker_stats[k];
			for (size_t d = 0; d < v->cfg->dim_count && d < CONFIG_DIMS_MAX; d++)
				out_printf(o, "%s{worker=\"%" PRIu32 "\",dimension=\"%s\"} %" PRIu64
					   "\n", join_names[j], k,
					   label_escape(label, v->cfg->dims[d].name),
					   load_u64(j == 0 ? &s->lookups[d] : &s->misses[d]));
		}
	}
}

/* Time per stage, and the longest stalls. */
static void render_worker_times(struct metrics_out *o, const struct metrics_view *v)
{
	out_family(o, "enrichd_worker_stage_seconds_total", "counter",
		   "Time spent in each stage of the event path.");
	for (uint32_t k = 0; k < v->worker_count; k++)
		for (int st = 0; st < WORKER_STAGE_COUNT; st++) {
			out_printf(o, "enrichd_worker_stage_seconds_total{worker=\"%" PRIu32
				   "\",stage=\"%s\"} ", k, metrics_stage_names[st]);
			out_ns_as_s(o, load_u64(&v->worker_stats[k]->stage_ns[st]));
		}

	out_family(o, "enrichd_worker_stall_max_seconds", "gauge",
		   "Longest single epoch close (encode, seal, sync) since start.");
	for (uint32_t k = 0; k < v->worker_count; k++) {
		out_printf(o, "enrichd_worker_stall_max_seconds{worker=\"%" PRIu32 "\"} ", k);
		out_ns_as_s(o, load_u64(&v->worker_stats[k]->stall_ns_max));
	}

	out_family(o, "enrichd_worker_reload_stall_max_seconds", "gauge",
		   "Longest pause of the event path to move to a reloaded dimension set (writing the "
		   "blocks that borrow the old dictionaries), since start.");
	for (uint32_t k = 0; k < v->worker_count; k++) {
		out_printf(o, "enrichd_worker_reload_stall_max_seconds{worker=\"%" PRIu32 "\"} ", k);
		out_ns_as_s(o, load_u64(&v->worker_stats[k]->reload_stall_ns_max));
	}
}

static void render_workers(struct metrics_out *o, const struct metrics_view *v)
{
	render_worker_families(o, v);
	render_worker_reasons(o, v);
	render_worker_times(o, v);
	if (!v->consumer)
		return;
	out_family(o, "enrichd_kafka_errors_total", "counter",
		   "Errors librdkafka reported (each logged): on the worker's queue, or, without "
		   "a worker label, of the consumer itself (brokers or coordinator unreachable, "
		   "failed commits, ...).");
	for (uint32_t k = 0; k < v->worker_count; k++) {
		struct kafka_worker_stats ks;
		kafka_worker_stats(v->consumer, k, &ks);
		out_printf(o, "enrichd_kafka_errors_total{worker=\"%" PRIu32 "\"} %" PRIu64 "\n", k,
			   ks.errors_total);
	}
	out_printf(o, "enrichd_kafka_errors_total %" PRIu64 "\n", kafka_client_errors(v->consumer));
}

/*
 * One histogram summed over the workers. Buckets are read one by one while workers add to
 * them, so the count is taken as the sum of the buckets read: +Inf always equals _count.
 */
static void render_latency(struct metrics_out *o, const struct metrics_view *v)
{
	uint64_t buckets[WORKER_LATENCY_BUCKETS] = {0};
	uint64_t sum_ms = 0;
	for (uint32_t k = 0; k < v->worker_count; k++) {
		const struct worker_stats *s = v->worker_stats[k];
		for (int b = 0; b < WORKER_LATENCY_BUCKETS; b++)
			buckets[b] += load_u64(&s->latency_bucket[b]);
		sum_ms += load_u64(&s->latency_ms_sum);
	}
	const char *name = "enrichd_event_seal_latency_seconds";
	out_family(o, name, "histogram",
		   "Time from an event's Kafka timestamp to the seal of the segment holding its "
		   "row, summed over the workers.");
	uint64_t cumulative = 0;
	for (int b = 0; b < WORKER_LATENCY_BUCKETS; b++) {
		cumulative += buckets[b];
		if (b < WORKER_LATENCY_BUCKETS - 1)
			out_printf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
				   (double)worker_latency_bounds_ms[b] / 1000.0, cumulative);
		else
			out_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
	}
	out_printf(o, "%s_sum ", name);
	out_ms_as_s(o, (int64_t)(sum_ms > INT64_MAX ? INT64_MAX : sum_ms));
	out_printf(o, "%s_count %" PRIu64 "\n", name, cumulative);
}

static void render_dimensions(struct metrics_out *o, const struct metrics_view *v)
{
	out_family(o, "enrichd_dimension_reloads_total", "counter",
		   "Reloads that published a new dimension set.");
	out_printf(o, "enrichd_dimension_reloads_total %" PRIu64 "\n", load_u64(&v->gauges->reloads));
	out_family(o, "enrichd_dimension_reload_failures_total", "counter",
		   "Reloads that failed; the previous set stays in use.");
	out_printf(o, "enrichd_dimension_reload_failures_total %" PRIu64 "\n",
		   load_u64(&v->gauges->reload_failures));
	out_family(o, "enrichd_dimension_reload_last_success_timestamp_seconds", "gauge",
		   "Unix time of the last successful load or reload (the initial load counts).");
	out_printf(o, "enrichd_dimension_reload_last_success_timestamp_seconds ");
	out_ms_as_s(o, atomic_load_explicit(&v->gauges->reload_last_success_ms, memory_order_relaxed));
	out_family(o, "enrichd_dimension_reload_last_duration_seconds", "gauge",
		   "Duration of the last successful reload.");
	out_printf(o, "enrichd_dimension_reload_last_duration_seconds ");
	uint64_t dur = load_u64(&v->gauges->reload_last_duration_ms);
	out_ms_as_s(o, (int64_t)(dur > INT64_MAX ? INT64_MAX : dur));

	size_t count = v->cfg->dim_count < CONFIG_DIMS_MAX ? v->cfg->dim_count : CONFIG_DIMS_MAX;
	char label[METRICS_LABEL_MAX];
	out_family(o, "enrichd_dimension_rows", "gauge", "Rows of the dimension table in use.");
	for (size_t d = 0; d < count; d++)
		out_printf(o, "enrichd_dimension_rows{dimension=\"%s\"} %" PRIu64 "\n",
			   label_escape(label, v->cfg->dims[d].name), load_u64(&v->gauges->dim_rows[d]));
	out_family(o, "enrichd_dimension_memory_bytes", "gauge",
		   "Memory of the dimension table in use (hash table and string arena).");
	for (size_t d = 0; d < count; d++)
		out_printf(o, "enrichd_dimension_memory_bytes{dimension=\"%s\"} %" PRIu64 "\n",
			   label_escape(label, v->cfg->dims[d].name), load_u64(&v->gauges->dim_bytes[d]));
	static const enum huge_mode modes[] = {HUGE_MODE_HUGETLB, HUGE_MODE_THP, HUGE_MODE_4K};
	out_family(o, "enrichd_dimension_huge_pages", "gauge",
		   "Page backing of the dimension table in use: 1 for its mode (hugetlb: reserved "
		   "2 MiB pages, thp: transparent huge pages, 4k: none), 0 for the others.");
	for (size_t d = 0; d < count; d++) {
		int mode = atomic_load_explicit(&v->gauges->dim_huge_mode[d], memory_order_relaxed);
		label_escape(label, v->cfg->dims[d].name);
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			out_printf(o, "enrichd_dimension_huge_pages{dimension=\"%s\",mode=\"%s\"} "
				   "%d\n", label, huge_mode_name(modes[i]), mode == (int)modes[i]);
	}
}

/* A live dimension's counter or gauge, one line per live dimension. */
static void render_live_family(struct metrics_out *o, const struct metrics_view *v,
			       const char *name, const char *type, const char *help,
			       size_t offset)
{
	char label[METRICS_LABEL_MAX];
	out_family(o, name, type, help);
	for (size_t d = 0; d < v->cfg->dim_count && d < CONFIG_DIMS_MAX; d++) {
		const struct updater_dim_stats *st = &v->live[d];
		if (!atomic_load_explicit(&st->live, memory_order_relaxed))
			continue;
		out_printf(o, "%s{dimension=\"%s\"} %" PRIu64 "\n", name,
			   label_escape(label, v->cfg->dims[d].name),
			   load_u64((const _Atomic uint64_t *)(const void *)((const char *)st +
									   offset)));
	}
}

/* The read-to-visible histogram of a live dimension's changes. */
static void render_live_visible(struct metrics_out *o, const struct metrics_view *v)
{
	const char *name = "enrichd_dimension_change_visible_seconds";
	out_family(o, name, "histogram",
		   "Time from the start of the read that found a change to its publication to the "
		   "workers (their next lookup sees it).");
	char label[METRICS_LABEL_MAX];
	for (size_t d = 0; d < v->cfg->dim_count && d < CONFIG_DIMS_MAX; d++) {
		const struct updater_dim_stats *st = &v->live[d];
		if (!atomic_load_explicit(&st->live, memory_order_relaxed))
			continue;
		label_escape(label, v->cfg->dims[d].name);
		uint64_t cumulative = 0;
		for (int b = 0; b < UPDATER_VISIBLE_BUCKETS; b++) {
			cumulative += load_u64(&st->visible[b]);
			if (b < UPDATER_VISIBLE_BUCKETS - 1)
				out_printf(o, "%s_bucket{dimension=\"%s\",le=\"%g\"} %" PRIu64 "\n",
					   name, label, (double)updater_visible_bounds_ms[b] / 1000.0,
					   cumulative);
			else
				out_printf(o, "%s_bucket{dimension=\"%s\",le=\"+Inf\"} %" PRIu64
					   "\n", name, label, cumulative);
		}
		out_printf(o, "%s_sum{dimension=\"%s\"} ", name, label);
		out_ms_as_s(o, (int64_t)load_u64(&st->visible_ms_sum));
		out_printf(o, "%s_count{dimension=\"%s\"} %" PRIu64 "\n", name, label, cumulative);
	}
}

#define LIVE(field) offsetof(struct updater_dim_stats, field)

/* Changelogs: lag in messages and seconds, caught up or not. */
static void render_live_changelog(struct metrics_out *o, const struct metrics_view *v)
{
	static const char *const names[3] = {"enrichd_dimension_changelog_lag_messages",
					     "enrichd_dimension_changelog_lag_seconds",
					     "enrichd_dimension_changelog_caught_up"};
	static const char *const help[3] = {
		"Messages of the changelog not read yet: high watermarks less the next offsets.",
		"While messages are left: now less the timestamp of the newest message read.",
		"1 once the changelog was read up to the watermarks it had at start."};
	char label[METRICS_LABEL_MAX];
	for (int f = 0; f < 3; f++) {
		out_family(o, names[f], "gauge", help[f]);
		for (size_t d = 0; d < v->cfg->dim_count && d < CONFIG_DIMS_MAX; d++) {
			const struct updater_dim_stats *st = &v->live[d];
			if (!atomic_load_explicit(&st->changelog, memory_order_relaxed))
				continue;
			out_printf(o, "%s{dimension=\"%s\"} ", names[f],
				   label_escape(label, v->cfg->dims[d].name));
			if (f == 0)
				out_printf(o, "%" PRIu64 "\n", load_u64(&st->lag_messages));
			else if (f == 1)
				out_ms_as_s(o, (int64_t)load_u64(&st->lag_ms));
			else
				out_printf(o, "%d\n", atomic_load(&st->caught_up) ? 1 : 0);
		}
	}
}

/* Live dimensions: changes applied, left out, reads, rebuilds, ages and full loads. */
static void render_live(struct metrics_out *o, const struct metrics_view *v)
{
	size_t count = v->cfg->dim_count < CONFIG_DIMS_MAX ? v->cfg->dim_count : CONFIG_DIMS_MAX;
	char label[METRICS_LABEL_MAX];
	out_family(o, "enrichd_dimension_loaded_timestamp_seconds", "gauge",
		   "Unix time of the last full load of the dimension's table in use.");
	for (size_t d = 0; d < count; d++) {
		out_printf(o, "enrichd_dimension_loaded_timestamp_seconds{dimension=\"%s\"} ",
			   label_escape(label, v->cfg->dims[d].name));
		out_ms_as_s(o, atomic_load_explicit(&v->gauges->dim_loaded_ms[d],
						    memory_order_relaxed));
	}
	if (!v->live)
		return;
	render_live_family(o, v, "enrichd_dimension_upserts_total", "counter",
			   "Changes applied that added or replaced a row.", LIVE(upserts));
	render_live_family(o, v, "enrichd_dimension_deletes_total", "counter",
			   "Changes applied that removed a key.", LIVE(deletes));
	render_live_family(o, v, "enrichd_dimension_changes_bad_total", "counter",
			   "Changes left out: a key or a value that does not convert (logged).",
			   LIVE(bad));
	render_live_family(o, v, "enrichd_dimension_rebuilds_total", "counter",
			   "Batches of changes applied by rebuilding the table and swapping it.",
			   LIVE(rebuilds));
	render_live_family(o, v, "enrichd_dimension_change_reads_total", "counter",
			   "Reads of the source's changes.", LIVE(reads));
	render_live_family(o, v, "enrichd_dimension_change_read_failures_total", "counter",
			   "Reads of the source's changes that failed (retried; the table stays).",
			   LIVE(read_failures));
	out_family(o, "enrichd_dimension_last_change_timestamp_seconds", "gauge",
		   "Unix time the newest applied change became visible (0: none yet); its age is "
		   "time() minus this.");
	for (size_t d = 0; d < count; d++) {
		if (!atomic_load_explicit(&v->live[d].live, memory_order_relaxed))
			continue;
		out_printf(o, "enrichd_dimension_last_change_timestamp_seconds{dimension=\"%s\"} ",
			   label_escape(label, v->cfg->dims[d].name));
		out_ms_as_s(o, atomic_load_explicit(&v->live[d].last_change_ms,
						    memory_order_relaxed));
	}
	render_live_visible(o, v);
	render_live_changelog(o, v);
}

/*
 * Lag of one partition: its high watermark minus the offset committed (what is sealed). With no
 * committed offset (a group that never committed the partition), the lag is known only when the
 * partition holds no message (low == high); otherwise there is no sample.
 */
static bool metrics_lag(int64_t low, int64_t high, int64_t committed, int64_t *lag)
{
	if (high < 0)
		return false;
	if (committed < 0) {
		if (low < 0 || low != high)
			return false;
		*lag = 0;
		return true;
	}
	*lag = high > committed ? high - committed : 0;
	return true;
}

static void render_kafka(struct metrics_out *o, const struct metrics_view *v)
{
	struct kafka_consumer *c = v->consumer;
	uint32_t assigned = c ? kafka_assigned_count(c) : 0;
	out_family(o, "enrichd_kafka_assigned_partitions", "gauge",
		   "Partitions assigned to this instance.");
	out_printf(o, "enrichd_kafka_assigned_partitions %" PRIu32 "\n", assigned);
	if (!c)
		return;

	/* The assigned partitions, found in id order; stops after the last one. */
	int32_t ids[KAFKA_PARTITIONS_MAX];
	uint32_t n = 0;
	for (int32_t p = 0; p < KAFKA_PARTITIONS_MAX && n < assigned; p++)
		if (kafka_partition_worker(c, p) >= 0)
			ids[n++] = p;

	static const char *const names[3] = {
		"enrichd_kafka_high_watermark_offset",
		"enrichd_kafka_committed_offset",
		"enrichd_kafka_consumer_lag_messages",
	};
	static const char *const help[3] = {
		"Offset after the last message of the partition (librdkafka's cached value).",
		("The group's committed offset, the next to read: read at assignment (brought up to "
		 "what this instance sealed), then this process's commits after sealing."),
		"Messages of the partition not yet sealed: high watermark minus committed offset.",
	};
	for (int f = 0; f < 3; f++) {
		out_family(o, names[f], "gauge", help[f]);
		for (uint32_t i = 0; i < n; i++) {
			struct kafka_partition_state ps;
			int64_t val;
			if (kafka_partition_state(c, ids[i], &ps) < 0)
				continue;
			if (f == 1)
				val = ps.committed;
			else if (f == 0)
				val = ps.high;
			else if (!metrics_lag(ps.low, ps.high, ps.committed, &val))
				continue;
			if (val < 0)
				continue;
			out_printf(o, "%s{partition=\"%" PRId32 "\"} %" PRId64 "\n", names[f],
				   ids[i], val);
		}
	}
}

static void render_engine(struct metrics_out *o, const struct metrics_view *v)
{
	out_family(o, "enrichd_engine_ready", "gauge",
		   "1 while the dimensions are loaded, the workers run and partitions are "
		   "assigned.");
	out_printf(o, "enrichd_engine_ready %d\n", atomic_load(&v->gauges->ready) ? 1 : 0);
	out_family(o, "enrichd_engine_failed", "gauge", "1 once a worker stopped on an error.");
	out_printf(o, "enrichd_engine_failed %d\n", atomic_load(&v->gauges->failed) ? 1 : 0);
	out_family(o, "enrichd_engine_workers", "gauge", "Worker threads.");
	out_printf(o, "enrichd_engine_workers %" PRIu32 "\n", v->worker_count);
	out_family(o, "enrichd_process_start_time_seconds", "gauge",
		   "Unix time the process started.");
	out_printf(o, "enrichd_process_start_time_seconds ");
	out_ms_as_s(o, v->started_ms);
	out_family(o, "enrichd_build_info", "gauge",
		   "Versions of enrichd and its libraries; always 1.");
	out_printf(o, "enrichd_build_info{version=\"%s\",rdkafka=\"%s\",microhttpd=\"%s\"} 1\n",
		   ENRICHD_VERSION, kafka_version_str(), MHD_get_version());
}

/* One per-id series of the registry (registry_each): messages, or dead letters. */
struct metrics_id_ctx {
	struct metrics_out *o;
	const char *name;
	bool dead;
};

static void render_registry_id(void *ctx, uint32_t id, enum registry_state state,
			       uint64_t messages, uint64_t dead_letters)
{
	const struct metrics_id_ctx *c = ctx;
	out_printf(c->o, "%s{schema_id=\"%" PRIu32 "\",state=\"%s\"} %" PRIu64 "\n", c->name, id,
		   registry_state_name(state), c->dead ? dead_letters : messages);
}

/* Avro input: the registry client's state, each schema id's messages and dead letters, and
 * the workers' Avro decode errors by reason. */
static void render_registry(struct metrics_out *o, const struct metrics_view *v)
{
	if (!v->registry)
		return;
	struct registry_stats st;
	registry_stats(v->registry, &st);
	out_family(o, "enrichd_registry_requests_total", "counter",
		   "HTTP requests made to the schema registry.");
	out_printf(o, "enrichd_registry_requests_total %" PRIu64 "\n", st.requests);
	out_family(o, "enrichd_registry_request_errors_total", "counter",
		   "Requests to the schema registry that failed (transport, timeout, 5xx, an "
		   "unexpected answer).");
	out_printf(o, "enrichd_registry_request_errors_total %" PRIu64 "\n", st.request_errors);
	out_family(o, "enrichd_registry_unavailable", "gauge",
		   "1 while every registry URL failed its last request (an outage): the partitions "
		   "needing a new schema id wait.");
	out_printf(o, "enrichd_registry_unavailable %" PRIu32 "\n", st.unavailable);
	out_family(o, "enrichd_registry_backoff_seconds", "gauge",
		   "Wait before the next round of requests while the registry is unavailable.");
	out_printf(o, "enrichd_registry_backoff_seconds ");
	out_ms_as_s(o, st.backoff_ms);
	out_family(o, "enrichd_registry_schema_ids", "gauge",
		   "Schema ids in the client's cache, by state (pending: asked, not yet answered).");
	static const enum registry_state states[] = {REGISTRY_PENDING, REGISTRY_READY,
						     REGISTRY_UNKNOWN, REGISTRY_INVALID,
						     REGISTRY_UNRESOLVABLE};
	const uint64_t counts[] = {st.ids_pending, st.ids_ready, st.ids_unknown, st.ids_invalid,
				   st.ids_unresolvable};
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		out_printf(o, "enrichd_registry_schema_ids{state=\"%s\"} %" PRIu64 "\n",
			   registry_state_name(states[i]), counts[i]);
	out_family(o, "enrichd_registry_ids_full_total", "counter",
		   "Messages of a schema id past [registry] ids_max (dead letters).");
	out_printf(o, "enrichd_registry_ids_full_total %" PRIu64 "\n", st.full);
	struct metrics_id_ctx c = {o, "enrichd_registry_schema_messages_total", false};
	out_family(o, c.name, "counter", "Messages taken, by writer schema id.");
	registry_each(v->registry, render_registry_id, &c);
	c = (struct metrics_id_ctx){o, "enrichd_registry_schema_dead_letters_total", true};
	out_family(o, c.name, "counter",
		   "Messages dead-lettered because of their schema id (unknown, invalid, "
		   "unresolvable) or a body their writer schema does not decode, by schema id.");
	registry_each(v->registry, render_registry_id, &c);
	out_family(o, "enrichd_worker_avro_errors_total", "counter",
		   "Avro messages that did not frame or decode (each also dead-lettered), by reason.");
	for (uint32_t k = 0; k < v->worker_count; k++)
		for (int r = 1; r < AV_ERR_COUNT; r++)
			out_printf(o, "enrichd_worker_avro_errors_total{worker=\"%" PRIu32
				   "\",reason=\"%s\"} %" PRIu64 "\n", k, av_err_name(-r),
				   load_u64(&v->worker_stats[k]->avro_errors[r]));
}

size_t metrics_render(const struct metrics_view *v, char *buf, size_t cap)
{
	struct metrics_out o = {buf, cap, 0};
	if (cap)
		buf[0] = '\0';
	render_engine(&o, v);
	render_workers(&o, v);
	render_latency(&o, v);
	render_dimensions(&o, v);
	render_live(&o, v);
	render_kafka(&o, v);
	render_registry(&o, v);
	return o.len;
}

int metrics_health(const struct metrics_view *v, char *reason, size_t cap)
{
	const struct metrics_gauges *g = v->gauges;
	if (!atomic_load(&g->failed)) {
		snprintf(reason, cap, "ok\n");
		return 200;
	}
	int err = atomic_load(&g->failed_errno);
	if (err > 0)
		snprintf(reason, cap, "worker %" PRIu32 " failed: %s\n", atomic_load(&g->failed_worker),
			 strerror(err));
	else
		snprintf(reason, cap, "a worker failed\n");
	return 503;
}

static int metrics_ready(const struct metrics_view *v, char *reason, size_t cap)
{
	if (atomic_load(&v->gauges->ready)) {
		snprintf(reason, cap, "ready\n");
		return 200;
	}
	if (atomic_load(v->stopping))
		snprintf(reason, cap, "not ready: stopping\n");
	else if (atomic_load(&v->gauges->catching_up))
		snprintf(reason, cap, "not ready: catching up the dimension changelogs\n");
	else if (v->consumer && kafka_assigned_count(v->consumer) == 0)
		snprintf(reason, cap, "not ready: no partition assigned\n");
	else
		snprintf(reason, cap, "not ready: starting\n");
	return 503;
}

/* ---- HTTP ---- */

static enum MHD_Result metrics_reply(struct MHD_Connection *conn, unsigned status,
				     const char *type, const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
								 MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	enum MHD_Result rc = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (rc == MHD_YES && status == MHD_HTTP_METHOD_NOT_ALLOWED)
		rc = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (rc == MHD_YES)
		rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result metrics_scrape(struct metrics *m, struct MHD_Connection *conn)
{
	size_t len = metrics_render(&m->view, m->buf, m->cap);
	if (len >= m->cap && len < METRICS_BODY_MAX_BYTES) {
		size_t cap = len + len / 4 + 4096;
		cap = cap > METRICS_BODY_MAX_BYTES ? METRICS_BODY_MAX_BYTES : cap;
		char *buf = realloc(m->buf, cap);
		if (buf) {
			m->buf = buf;
			m->cap = cap;
			len = metrics_render(&m->view, m->buf, m->cap);
		}
	}
	if (len >= m->cap) {
		if (!m->overflow_logged)
			log_error("metrics", "/metrics needs %zu bytes, more than the %zu "
				  "available", len + 1, m->cap);
		m->overflow_logged = true;
		static const char msg[] = "metrics too large\n";
		return metrics_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", msg,
				     sizeof(msg) - 1);
	}
	return metrics_reply(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, m->buf, len);
}

static enum MHD_Result metrics_answer(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **req_cls)
{
	struct metrics *m = cls;
	char text[METRICS_REASON_MAX];
	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		static const char msg[] = "method not allowed\n";
		*upload_data_size = 0;
		return metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg,
				     sizeof(msg) - 1);
	}
	*upload_data_size = 0;
	if (strcmp(url, "/metrics") == 0)
		return metrics_scrape(m, conn);
	if (strcmp(url, "/healthz") == 0) {
		int status = metrics_health(&m->view, text, sizeof(text));
		return metrics_reply(conn, (unsigned)status, "text/plain", text, strlen(text));
	}
	if (strcmp(url, "/readyz") == 0) {
		int status = metrics_ready(&m->view, text, sizeof(text));
		return metrics_reply(conn, (unsigned)status, "text/plain", text, strlen(text));
	}
	static const char msg[] = "not found: try /metrics, /healthz or /readyz\n";
	return metrics_reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", msg, sizeof(msg) - 1);
}

__attribute__((format(printf, 2, 0)))
static void metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_warn("metrics", "%s", line);
	(void)cls;
}

/* ---- setup ---- */

/*
 * Parses listen into an address. Returns 0, or -EINVAL with the reason in why.
 */
static int metrics_addr_parse(const char *listen, struct sockaddr_storage *ss, const char **why)
{
	char host[CONFIG_NAME_MAX + 1] = "127.0.0.1";
	const char *port_text;
	bool bracketed = false;
	size_t len = strlen(listen);
	if (len == 0 || len >= sizeof(host)) {
		*why = len ? "too long" : "empty";
		return -EINVAL;
	}
	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || end[1] != ':') {
			*why = "expected [ipv6-address]:port";
			return -EINVAL;
		}
		memcpy(host, listen + 1, (size_t)(end - listen - 1));
		host[end - listen - 1] = '\0';
		port_text = end + 2;
		bracketed = true;
	} else {
		const char *colon = strrchr(listen, ':');
		if (colon && strchr(listen, ':') != colon) {
			*why = "an IPv6 address must be written [address]:port";
			return -EINVAL;
		}
		if (colon && colon != listen) {
			memcpy(host, listen, (size_t)(colon - listen));
			host[colon - listen] = '\0';
		}
		port_text = colon ? colon + 1 : listen;
	}
	char *end;
	errno = 0;
	unsigned long port = strtoul(port_text, &end, 10);
	if (!*port_text || *end || errno || port > 65535 || port_text[0] == '-' ||
	    port_text[0] == '+' || port_text[0] == ' ') {
		*why = "the port must be a number from 0 to 65535";
		return -EINVAL;
	}
	/* Only a name is looked up (an IPv4 address has no letter; IPv6 ones are bracketed). */
	bool name = false;
	for (const char *c = host; *c && !bracketed; c++)
		name |= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z');
	struct addrinfo hints = {
		.ai_family = bracketed ? AF_INET6 : AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = name ? 0 : AI_NUMERICHOST,
	};
	struct addrinfo *res = NULL;
	int grc = getaddrinfo(host, NULL, &hints, &res);
	if (grc != 0 || !res) {
		*why = grc ? gai_strerror(grc) : "no address";
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
	else {
		*why = "not an IP address";
		return -EINVAL;
	}
	return 0;
}

int metrics_start(struct metrics **out, const char *listen, const struct metrics_view *view)
{
	struct sockaddr_storage ss;
	const char *why = NULL;
	int rc = metrics_addr_parse(listen, &ss, &why);
	if (rc < 0) {
		log_error("metrics", "[metrics] listen = '%s': %s", listen, why);
		return rc;
	}
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->view = *view;
	m->cap = METRICS_BODY_INITIAL_BYTES;
	m->buf = malloc(m->cap);
	if (!m->buf) {
		rc = -ENOMEM;
		goto out_free;
	}
	/* epoll: select() would cap the descriptors (FD_SETSIZE), so the connection limit. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	uint16_t port = ntohs(ss.ss_family == AF_INET6
				      ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
				      : ((struct sockaddr_in *)(void *)&ss)->sin_port);
	errno = 0;
	m->daemon = MHD_start_daemon(
		flags, port, NULL, NULL, metrics_answer, m,
		MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log, NULL, /* first, to see every message */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)(void *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS_MAX,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS_PER_IP_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONNECTION_TIMEOUT_S,
		MHD_OPTION_END);
	if (!m->daemon) {
		rc = errno ? -errno : -EIO;
		log_error("metrics", "[metrics] listen = '%s': cannot serve: %s", listen,
			  strerror(-rc));
		goto out_free_buf;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon,
							       MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : 0;
	char addr[INET6_ADDRSTRLEN] = "?";
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&ss)->sin_addr, addr,
			  sizeof(addr));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, addr,
			  sizeof(addr));
	log_info("metrics", "serving /metrics, /healthz and /readyz on http://%s%s%s:%u",
		 ss.ss_family == AF_INET6 ? "[" : "", addr, ss.ss_family == AF_INET6 ? "]" : "",
		 (unsigned)m->port);
	*out = m;
	return 0;

out_free_buf:
	free(m->buf);
out_free:
	free(m);
	return rc;
}

uint16_t metrics_port(const struct metrics *m)
{
	return m->port;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->daemon);
	free(m->buf);
	free(m);
}
