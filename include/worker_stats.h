/*
 * worker_stats: the counters of one worker, and the stage clock that times its event path.
 *
 * The worker and the modules it drives (its epoch) update the counters with relaxed atomic adds
 * and stores; any thread may read them the same way (metrics, the engine's status line), so a
 * reader sees each counter eventually, not a consistent set. Nothing here allocates or locks.
 */
#ifndef ENRICHD_WORKER_STATS_H
#define ENRICHD_WORKER_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "avro.h"
#include "config.h"
#include "event.h"
#include "now.h"

/* Event-to-seal latency histogram: upper bounds (ms) of the buckets; a last bucket is +Inf. */
#define WORKER_LATENCY_BUCKETS 12
extern const uint32_t worker_latency_bounds_ms[WORKER_LATENCY_BUCKETS - 1];

/* Time spent per stage, nanoseconds, since start. */
enum worker_stage {
	WORKER_STAGE_POLL = 0,
	WORKER_STAGE_DECODE,
	WORKER_STAGE_PROBE,
	WORKER_STAGE_APPEND,
	WORKER_STAGE_ENCODE,
	WORKER_STAGE_WRITE,
	WORKER_STAGE_SEAL,
	WORKER_STAGE_COUNT,
};

/* Counters a worker updates and any thread may read (relaxed atomics). */
struct worker_stats {
	_Atomic uint64_t events_in;      /* messages taken */
	_Atomic uint64_t rows_out;       /* rows appended to blocks */
	_Atomic uint64_t rows_sealed;    /* rows in sealed segments */
	_Atomic uint64_t dead_letters;   /* messages sent to the dead-letter file */
	_Atomic uint64_t decode_errors[EVENT_ERR_COUNT];
	_Atomic uint64_t lookups[CONFIG_DIMS_MAX];
	_Atomic uint64_t misses[CONFIG_DIMS_MAX];
	_Atomic uint64_t blocks;         /* Native blocks written */
	_Atomic uint64_t segments_sealed;
	_Atomic uint64_t bytes_written;
	_Atomic uint64_t epochs;
	_Atomic uint64_t stall_ns_max;   /* longest single epoch close (seal + sync) */
	_Atomic uint64_t reload_stall_ns_max; /* longest switch to a reloaded dimension set */
	_Atomic uint64_t stage_ns[WORKER_STAGE_COUNT];
	_Atomic uint64_t loop_ns;        /* wall time of the event loop (setup, teardown excluded) */
	/* The process's CPU time (now_process_cpu_ns) when the event loop started and ended: the
	 * CPU time of the event path is the span over the workers. */
	_Atomic uint64_t loop_cpu_start_ns;
	_Atomic uint64_t loop_cpu_end_ns;
	/*
	 * Event-to-seal latency per row: from the Kafka message timestamp (or, without one, the
	 * time the worker took the message) to the seal of its segment. Buckets are not cumulative.
	 */
	_Atomic uint64_t latency_bucket[WORKER_LATENCY_BUCKETS];
	_Atomic uint64_t latency_count;
	_Atomic uint64_t latency_ms_sum;
	_Atomic uint64_t paused;          /* 1 while its partitions are paused (backpressure) */
	_Atomic uint64_t pauses;          /* times it paused */
	_Atomic uint64_t inflight_writes; /* gauge: blocks handed to the disk, not yet written */
	_Atomic uint64_t inflight_bytes;  /* gauge */
	_Atomic uint64_t write_errors;    /* failed writes (ENOSPC, EIO, ...), each retried */
	/* Avro input: messages that did not decode, by av_err code (-code), and the partitions
	 * waiting for a schema id the registry has not answered yet. */
	_Atomic uint64_t avro_errors[AV_ERR_COUNT];
	_Atomic uint64_t partitions_waiting; /* gauge */
	_Atomic uint64_t schema_waits;       /* times a partition started waiting */
};

/* Adds n to a counter. */
static inline void worker_stats_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Raises a gauge of maxima to v (one writer: the worker). */
static inline void worker_stats_max(_Atomic uint64_t *gauge, uint64_t v)
{
	if (v > atomic_load_explicit(gauge, memory_order_relaxed))
		atomic_store_explicit(gauge, v, memory_order_relaxed);
}

/* The bucket of worker_latency_bounds_ms a latency of ms falls in. */
uint32_t worker_stats_latency_bucket(uint64_t ms);

/*
 * The stage clock: the time between two laps is charged to the stage named at the second one,
 * less the time of the inner stages that ran in between (block writes inside the append stage
 * are encode and write time, not append time). One clock read and one relaxed add per lap.
 */
struct worker_stage_clock {
	_Atomic uint64_t *stage_ns; /* the worker's stats.stage_ns */
	uint64_t mark_ns;           /* now_mono_ns of the last lap */
	uint64_t inner_ns;          /* inner stages' time since then */
};

/* Starts timing (a lap that charges nothing). */
static inline void worker_stage_start(struct worker_stage_clock *c)
{
	c->mark_ns = now_mono_ns();
	c->inner_ns = 0;
}

/* Charges the time since the last lap, less inner stages, to stage. */
static inline void worker_stage_lap(struct worker_stage_clock *c, enum worker_stage stage)
{
	uint64_t now = now_mono_ns();
	atomic_fetch_add_explicit(&c->stage_ns[stage], now - c->mark_ns - c->inner_ns,
				  memory_order_relaxed);
	c->mark_ns = now;
	c->inner_ns = 0;
}

/*
 * An inner stage that started at since_ns (a now_mono_ns value) ends now: its time is charged to
 * stage and taken out of the running lap. Returns now, the start of a following inner stage.
 */
static inline uint64_t worker_stage_inner(struct worker_stage_clock *c, enum worker_stage stage,
					  uint64_t since_ns)
{
	uint64_t now = now_mono_ns();
	atomic_fetch_add_explicit(&c->stage_ns[stage], now - since_ns, memory_order_relaxed);
	c->inner_ns += now - since_ns;
	return now;
}

#endif
