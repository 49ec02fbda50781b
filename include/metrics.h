/*
 * metrics: the HTTP endpoint operators and Prometheus scrape ([metrics] listen).
 *
 *   GET /metrics   Prometheus text exposition format 0.0.4 (metrics_render below)
 *   GET /healthz   200 "ok" while no worker has failed, else 503 with the reason
 *   GET /readyz    200 "ready" while the engine is ready (gauges.ready), else 503
 *   anything else  404; a method other than GET or HEAD: 405
 *
 * Served by libmicrohttpd from one internal polling thread (epoll) bound to the configured
 * address only. Requests are handled one at a time on that thread, so scrapes never run
 * concurrently with each other; they run concurrently with the engine and read only what its
 * view (struct metrics_view) points to, with relaxed atomic loads: the workers' counters, the
 * engine's gauges and stop flag, and through kafka.h the consumer's assignment, committed
 * offsets and cached high watermarks. A scrape takes no engine lock, never touches the
 * dimension set and cannot slow a worker down (beyond the consumer's assignment mutex, held for
 * a few nanoseconds per assigned partition).
 *
 * Names follow the Prometheus conventions: enrichd_<subsystem>_<name>, base units (seconds,
 * bytes), `_total` on counters. Every series a worker has (per reason, dimension, stage) is
 * present from the first scrape, zero until it moves. The event-to-seal latency histogram is
 * summed over the workers (one histogram per instance). docs/OPERATIONS.md lists every metric.
 */
#ifndef ENRICHD_METRICS_H
#define ENRICHD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "updater.h"
#include "worker_stats.h"

struct kafka_consumer;
struct metrics;
struct registry;

/* The process's own gauges: written by the engine (control thread, loader), read here. */
struct metrics_gauges {
	_Atomic bool ready;          /* dimensions loaded, workers running (and partitions assigned) */
	_Atomic bool catching_up;    /* the workers wait for the changelogs to be read to their ends */
	_Atomic bool failed;         /* a worker stopped on an error; set after the two below */
	_Atomic uint32_t failed_worker;
	_Atomic int failed_errno;
	_Atomic uint64_t reloads;
	_Atomic uint64_t reload_failures;
	_Atomic int64_t reload_last_success_ms;  /* wall clock; 0: never */
	_Atomic uint64_t reload_last_duration_ms;
	/* Of the dimension set in use, per configured dimension (set by the loader). */
	_Atomic uint64_t dim_rows[CONFIG_DIMS_MAX];
	_Atomic uint64_t dim_bytes[CONFIG_DIMS_MAX];
	_Atomic int dim_huge_mode[CONFIG_DIMS_MAX];   /* enum huge_mode */
	_Atomic int64_t dim_loaded_ms[CONFIG_DIMS_MAX]; /* wall clock of its last full load */
};

/*
 * What the endpoint reads, and all it reads. Copied by metrics_start; everything it points to
 * must stay valid until metrics_stop().
 */
struct metrics_view {
	const struct config *cfg;                       /* the dimensions' names */
	int64_t started_ms;                             /* wall clock of the process start */
	uint32_t worker_count;
	const struct worker_stats *const *worker_stats; /* [worker_count] */
	const struct metrics_gauges *gauges;
	const _Atomic bool *stopping;                   /* the engine's stop flag */
	struct kafka_consumer *consumer;                /* NULL: no Kafka (--input) */
	const struct updater_dim_stats *live;           /* [CONFIG_DIMS_MAX] or NULL */
	const struct registry *registry;                /* NULL: not Avro input */
};

/* Bound of the /metrics body; a larger rendering is cut and answered with 500 (logged once). */
#define METRICS_BODY_MAX_BYTES ((size_t)64 << 20)
/*
 * Connections served at once, at once from one address, and how long one stays open without a
 * byte. Slow clients that trickle a request's bytes each hold a connection for as long as they
 * keep sending: the limits leave room for liveness probes while hundreds of them do, and those
 * from one address take at most half of it.
 */
#define METRICS_CONNECTIONS_MAX 256
#define METRICS_CONNECTIONS_PER_IP_MAX 128
#define METRICS_CONNECTION_TIMEOUT_S 5

/*
 * Starts the server on listen: "host:port", "[ipv6]:port", ":port" or "port" (host defaults to
 * 127.0.0.1; port 0 picks a free port, logged). host is an IP address or a name resolved once,
 * here (the first address is used). view is copied; what it points to is only read. Logs the
 * address served. Returns 0 with *out set, -EINVAL for a malformed listen string (logged,
 * naming it), -ENOMEM, or -errno / -EIO when the socket cannot be bound (logged).
 */
int metrics_start(struct metrics **out, const char *listen, const struct metrics_view *view);

/* The TCP port served (useful with port 0). */
uint16_t metrics_port(const struct metrics *m);

/* Stops the server, waits for its thread (a scrape in progress finishes) and frees m. NULL ok. */
void metrics_stop(struct metrics *m);

/*
 * Writes the /metrics text of the view into buf (at most cap bytes, NUL-terminated when cap > 0)
 * and returns its full length without the NUL, as snprintf does: a return >= cap means the text
 * was cut and a buffer of return + 1 bytes holds it. No allocation.
 */
size_t metrics_render(const struct metrics_view *v, char *buf, size_t cap);

/*
 * The /healthz answer: 200 with "ok\n", or 503 with the reason ("worker 1 failed: ...").
 * Writes at most cap bytes into reason (NUL-terminated). Returns the HTTP status.
 */
int metrics_health(const struct metrics_view *v, char *reason, size_t cap);

#endif
