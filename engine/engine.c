/*
 * engine: the process (contract in include/engine.h).
 *
 * The engine owns what the workers share and hands each worker only its narrow part (struct
 * worker_env): its message source, its dimension-set slot, the stop and flush flags, and the
 * sink its sealed offsets go to. Metrics get a view of the same parts (struct metrics_view).
 *
 * Threads: the control thread (the caller of engine_run) runs the control loop: Kafka
 * rebalances and commit results (inside kafka_consumer_poll), signals, status lines, readiness;
 * the loader thread loads the dimensions, at start and on every reload; the workers run the
 * event path. The control thread and the loader write the shared state below through atomics;
 * workers never wait for either.
 *
 * Stopping is bounded. Nothing the control thread does waits for a dimension source: it reads
 * the signals while the first load runs, a stop cancels any load (dim_spec.cancel), and the
 * control thread waits for the loader at most ENGINE_LOADER_STOP_MS after that; a loader still
 * running then (a source that does not answer) is left behind with what it reads, and the
 * process exits without it.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <numa.h>

#include "dimpub.h"
#include "dimset.h"
#include "epoch.h"
#include "kafka.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "now.h"
#include "numa_place.h"
#include "registry.h"
#include "schema.h"
#include "seg.h"
#include "source_file.h"
#include "updater.h"
#include "worker.h"

#define ENGINE_WORKERS_MAX 256
#define ENGINE_TICK_MS 100
#define ENGINE_STATUS_INTERVAL_MS 10000
/* Longest a revocation waits for the workers to seal what they read. */
#define ENGINE_FLUSH_WAIT_MS 60000
/* Longest the control thread waits, once stopping, for a dimension load to give up. */
#define ENGINE_LOADER_STOP_MS 2000
/* How often the control thread looks at the first load (and the signals) while it runs. */
#define ENGINE_LOAD_TICK_MS 10

struct engine {
	struct config cfg;
	const char *input_path;      /* --input, or NULL: Kafka */
	const char *input_name;      /* the _topic of its rows: the file's name, or "stdin" */
	int input_fd;                /* -1: none */
	struct place_plan plan;
	uint32_t worker_count;
	struct worker *workers;
	struct kafka_consumer *consumer; /* NULL when reading --input */
	/* format = avro-confluent: the declared fields as the Avro reader, and the registry client
	 * (the workers' writer schemas); NULL otherwise. */
	struct av_reader *avro_reader;
	struct registry *registry;

	/* What the workers share, each through its worker_env. */
	struct dimpub dims;          /* one slot per replica */
	uint32_t replica_count;      /* 1, or (numa = replicate) one per node with workers */
	int replica_node[PLACE_NODES_MAX]; /* NUMA node a replica's memory is bound to (-1: none) */
	_Atomic bool stop;           /* stop fetching, close the last epoch, exit */
	_Atomic uint64_t flush_req;  /* workers close an epoch when this moves past their ack */
	/* Next offset per partition the workers have sealed since start (-1: none). */
	_Atomic int64_t sealed_next[EPOCH_PARTITIONS_MAX];
	/* Next offset per partition of the topic as the manifests gave it at start (-1: none). */
	int64_t manifest_next[EPOCH_PARTITIONS_MAX];

	/* Writers of dims: the loader and the updater, one at a time (updater.h). */
	pthread_mutex_t publish_lock;
	struct updater *updater;     /* NULL: no live dimension */
	struct updater_dim_stats live_stats[CONFIG_DIMS_MAX];

	/* What metrics reads. */
	struct metrics_gauges gauges;
	const struct worker_stats *worker_stats[ENGINE_WORKERS_MAX];
	int64_t started_ms;
	struct metrics *metrics;

	/* The loader thread: the first load, then each reload. */
	pthread_t loader;
	bool loader_started;             /* created and not joined */
	_Atomic bool loader_running;     /* created and not finished */
	_Atomic bool load_cancel;        /* a stop: the load under way gives up */
	bool loader_abandoned;           /* still running ENGINE_LOADER_STOP_MS after a stop */
	struct dimset *first_sets[PLACE_NODES_MAX]; /* the first load's sets ... */
	int first_rc;                    /* ... and its result */

	/* The control thread's own. */
	int sigfd;
	int64_t next_reload_ms;
	int64_t next_status_ms;
	uint64_t status_events;
	int64_t status_ms;
	double workers_started_cpu_s; /* process CPU time (user + system) when workers started */
};

static void engine_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Makes every worker's poll return now (to see the stop flag or a flush request). */
static void engine_wake_workers(struct engine *e)
{
	for (uint32_t k = 0; k < e->worker_count; k++)
		if (e->workers[k].env.source)
			source_wake(e->workers[k].env.source);
}

/* ---- offsets ---- */

/* The next offset this process has sealed for partition (-1: none). */
static int64_t engine_sealed_next(struct engine *e, int32_t p)
{
	return atomic_load_explicit(&e->sealed_next[p], memory_order_acquire);
}

/*
 * A worker published an epoch (on its thread): its offsets are sealed here, so a partition that
 * moves starts after them, and they are committed to the group (asynchronously: the manifest
 * already holds the truth).
 */
static void engine_on_sealed(void *ctx, const struct manifest_range *ranges, uint32_t count)
{
	struct engine *e = ctx;
	struct kafka_offset commit[256];
	size_t n = 0;
	for (uint32_t i = 0; i < count; i++) {
		int32_t p = ranges[i].partition;
		int64_t cur = atomic_load_explicit(&e->sealed_next[p], memory_order_relaxed);
		while (ranges[i].next > cur &&
		       !atomic_compare_exchange_weak_explicit(&e->sealed_next[p], &cur, ranges[i].next,
							      memory_order_release,
							      memory_order_relaxed))
			;
		if (!e->consumer)
			continue;
		commit[n++] = (struct kafka_offset){p, ranges[i].next};
		if (n == sizeof(commit) / sizeof(commit[0]) || i + 1 == count) {
			kafka_commit(e->consumer, commit, n);
			n = 0;
		}
	}
}

/*
 * Commits, and waits for, the sealed offsets of partitions[0..count): on revocation, so the next
 * owner starts exactly after what this process sealed.
 */
static void engine_commit_sync(struct engine *e, const int32_t *partitions, size_t count)
{
	struct kafka_offset offsets[256];
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		int32_t p = partitions[i];
		if (p < 0 || p >= EPOCH_PARTITIONS_MAX)
			continue;
		int64_t next = engine_sealed_next(e, p);
		if (next < 0)
			continue;
		offsets[n++] = (struct kafka_offset){p, next};
		if (n == sizeof(offsets) / sizeof(offsets[0]) || i + 1 == count) {
			kafka_commit_sync(e->consumer, offsets, n);
			n = 0;
		}
	}
	if (n)
		kafka_commit_sync(e->consumer, offsets, n);
}

static void engine_signal_read(struct engine *e);

/*
 * Asks every worker to close its epoch and waits (bounded) until all did. Signals are read
 * meanwhile: a SIGTERM makes a worker stuck on a full disk give up, so the wait ends.
 */
static int engine_flush_workers(struct engine *e)
{
	uint64_t req = atomic_fetch_add(&e->flush_req, 1) + 1;
	engine_wake_workers(e);
	int64_t deadline = now_wall_ms() + ENGINE_FLUSH_WAIT_MS;
	for (;;) {
		bool all = true;
		for (uint32_t k = 0; k < e->worker_count; k++) {
			struct worker *w = &e->workers[k];
			if (!atomic_load(&w->done) && atomic_load(&w->flush_ack) < req)
				all = false;
		}
		if (all)
			return 0;
		if (now_wall_ms() > deadline) {
			log_error("engine", "workers did not seal within %d ms", ENGINE_FLUSH_WAIT_MS);
			return -ETIMEDOUT;
		}
		engine_sleep_ms(1);
		engine_signal_read(e);
	}
}

/* ---- the consumer's hooks (control thread) ---- */

static void engine_on_revoke(void *ctx, const int32_t *partitions, size_t count,
			     enum kafka_revoke_reason reason)
{
	struct engine *e = ctx;
	log_info("engine", "%zu partitions revoked (%s): sealing their rows first", count,
		 reason == KAFKA_REVOKE_LOST ? "lost" : reason == KAFKA_REVOKE_CLOSE ? "close"
										 : "rebalance");
	if (reason == KAFKA_REVOKE_REBALANCE && engine_flush_workers(e) == 0)
		engine_commit_sync(e, partitions, count);
	else if (reason == KAFKA_REVOKE_CLOSE)
		engine_commit_sync(e, partitions, count);
}

/* The next offset this instance has sealed for partition: its manifest's or its workers'. */
static int64_t engine_mine_next(struct engine *e, int32_t partition)
{
	int64_t mine = e->manifest_next[partition];
	int64_t sealed = engine_sealed_next(e, partition);
	return sealed > mine ? sealed : mine;
}

/*
 * The group's committed offsets brought up to what this instance has sealed (the manifest may be
 * ahead: a crash after a seal and before its commit, or a new group): so lag is right from the
 * start, and a partition that moves to another instance starts after what was sealed here, not
 * from a stale commit. Asynchronous, like every commit after a seal.
 */
static void engine_commit_recovered(struct engine *e, const int32_t *partitions, size_t count)
{
	struct kafka_offset ahead[256];
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		int32_t p = partitions[i];
		struct kafka_partition_state ps;
		if (p < 0 || p >= EPOCH_PARTITIONS_MAX ||
		    kafka_partition_state(e->consumer, p, &ps) < 0)
			continue;
		int64_t mine = engine_mine_next(e, p);
		if (mine <= ps.committed)
			continue;
		ahead[n++] = (struct kafka_offset){p, mine};
		if (n == sizeof(ahead) / sizeof(ahead[0])) {
			kafka_commit(e->consumer, ahead, n);
			n = 0;
		}
	}
	if (n)
		kafka_commit(e->consumer, ahead, n);
}

static void engine_on_assigned(void *ctx, const int32_t *partitions, size_t count)
{
	struct engine *e = ctx;
	char list[512];
	size_t off = 0;
	for (size_t i = 0; i < count && off + 32 < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%" PRId32 "->w%d",
					i ? " " : "", partitions[i],
					kafka_partition_worker(e->consumer, partitions[i]));
	log_info("engine", "%zu partitions assigned: %s", count, list);
	engine_commit_recovered(e, partitions, count);
}

static void engine_on_commit(void *ctx, int32_t partition, int64_t offset, int err)
{
	(void)ctx;
	if (err)
		log_warn("engine", "commit of partition %" PRId32 " offset %" PRId64 " failed: %s "
			 "(the manifest holds it; the next commit covers it)",
			 partition, offset, kafka_err_str(err));
}

/*
 * Where an assigned partition starts: after the last offset this instance sealed (its manifest,
 * or its workers since start), unless the group committed further (another member sealed more
 * since); with neither, the committed offset, then auto.offset.reset.
 */
static int64_t engine_start_offset(void *ctx, int32_t partition, int64_t committed)
{
	struct engine *e = ctx;
	if (partition < 0 || partition >= EPOCH_PARTITIONS_MAX)
		return KAFKA_OFFSET_INVALID;
	int64_t mine = engine_mine_next(e, partition);
	if (mine < 0)
		return KAFKA_OFFSET_INVALID;
	int64_t start = committed > mine ? committed : mine;
	log_info("engine", "partition %" PRId32 ": starting at offset %" PRId64 " (sealed here: %"
		 PRId64 ", committed: %" PRId64 ")", partition, start, mine, committed);
	return start;
}

static int engine_consumer(struct engine *e)
{
	struct kafka_property props[CONFIG_KAFKA_PROPS_MAX];
	struct kafka_config kcfg;
	kafka_config_from(&e->cfg, props, &kcfg);
	kcfg.worker_count = e->worker_count;
	kcfg.placement = &e->plan;
	kcfg.hooks = (struct kafka_hooks){
		.ctx = e,
		.start_offset = engine_start_offset,
		.assigned = engine_on_assigned,
		.revoke = engine_on_revoke,
		.commit_done = engine_on_commit,
	};
	return kafka_consumer_new(&kcfg, &e->consumer);
}

/* ---- dimensions and their reload ---- */

static void engine_dim_gauges(struct engine *e, const struct dimset *set)
{
	for (size_t d = 0; d < set->count; d++) {
		const struct dim *dim = set->dims[d].table->dim;
		atomic_store(&e->gauges.dim_rows[d], dim_rows(dim));
		atomic_store(&e->gauges.dim_bytes[d], dim_bytes(dim));
		atomic_store(&e->gauges.dim_huge_mode[d], (int)dim_huge_mode(dim));
		atomic_store(&e->gauges.dim_loaded_ms[d], set->dims[d].table->loaded_ms);
	}
}

/* A reload loaded nothing new (or failed): next[0..count) are released, the old set stays. */
static void engine_reload_keep(struct engine *e, struct dimset **next, uint32_t count, int rc,
			       int64_t t0)
{
	for (uint32_t r = 0; r < count; r++)
		dimset_free(next[r]);
	if (rc == -ECANCELED) {
		log_info("engine", "reload cancelled: stopping");
		return;
	}
	if (rc < 0) {
		atomic_fetch_add(&e->gauges.reload_failures, 1);
		log_error("engine", "reload failed (%s): still serving dimension set %" PRIu64,
			  strerror(-rc), dimpub_get(&e->dims, 0)->generation);
		return;
	}
	log_info("engine", "reload: no dimension source changed");
	atomic_store(&e->gauges.reload_last_success_ms, now_wall_ms());
	atomic_store(&e->gauges.reload_last_duration_ms, (uint64_t)(now_wall_ms() - t0));
}

/*
 * The sets in use, each held by a copy (the updater may retire a set while a reload reads it;
 * the loader is no RCU reader). Returns 0 or -ENOMEM (nothing held).
 */
static int engine_sets_hold(struct engine *e, struct dimset **held)
{
	int rc = 0;
	pthread_mutex_lock(&e->publish_lock);
	uint32_t r = 0;
	for (; r < e->replica_count && rc == 0; r++)
		rc = dimset_clone(dimpub_get(&e->dims, r), &held[r]);
	pthread_mutex_unlock(&e->publish_lock);
	for (uint32_t i = 0; rc < 0 && i + 1 < r; i++)
		dimset_free(held[i]);
	return rc;
}

static void engine_sets_release(struct engine *e, struct dimset **held)
{
	for (uint32_t r = 0; r < e->replica_count; r++)
		dimset_free(held[r]);
}

/*
 * Under publish_lock, before a reload publishes: a changelog dimension's table is never
 * reloaded, and the updater may have swapped it since the reload began; the new sets take the
 * one in use.
 */
static void engine_keep_live_tables(struct engine *e, struct dimset **next)
{
	for (uint32_t r = 0; r < e->replica_count; r++) {
		const struct dimset *cur = dimpub_get(&e->dims, r);
		for (size_t d = 0; d < e->cfg.dim_count; d++)
			if (e->cfg.dims[d].changelog_topic[0])
				dimset_share_table(next[r], d, cur->dims[d].table);
	}
}

static void *engine_loader_main(void *arg)
{
	struct engine *e = arg;
	struct dimset *old[PLACE_NODES_MAX], *next[PLACE_NODES_MAX];
	unsigned loaded = 0;
	int64_t t0 = now_wall_ms();
	struct dimset *prev[PLACE_NODES_MAX];
	int rc = engine_sets_hold(e, prev);
	if (rc < 0) {
		engine_reload_keep(e, next, 0, rc, t0);
		goto out;
	}
	uint32_t r = 0;
	for (; r < e->replica_count && rc == 0; r++) {
		unsigned n = 0;
		rc = dimset_load(&e->cfg, prev[r], 0, e->replica_node[r], &e->load_cancel,
				 &next[r], &n);
		loaded += n;
	}
	if (rc < 0 || loaded == 0) {
		engine_reload_keep(e, next, rc < 0 ? r - 1 : r, rc, t0);
		engine_sets_release(e, prev);
		goto out;
	}
	/* From the sets in use to the publish, under the writers' lock (updater.h). */
	pthread_mutex_lock(&e->publish_lock);
	engine_keep_live_tables(e, next);
	dimpub_publish(&e->dims, next, old);
	pthread_mutex_unlock(&e->publish_lock);
	engine_sets_release(e, prev);
	/* The old sets are freed once no worker can hold them (dimpub.h). */
	dimpub_retire(old, e->replica_count);
	engine_dim_gauges(e, next[0]);
	atomic_store(&e->gauges.reload_last_success_ms, now_wall_ms());
	atomic_store(&e->gauges.reload_last_duration_ms, (uint64_t)(now_wall_ms() - t0));
	atomic_fetch_add(&e->gauges.reloads, 1);
	log_info("engine", "reload: dimension set %" PRIu64 " in use (%u tables loaded over %u "
		 "replica(s)) after %" PRId64 " ms", next[0]->generation, loaded, e->replica_count,
		 now_wall_ms() - t0);
out:
	atomic_store_explicit(&e->loader_running, false, memory_order_release);
	return NULL;
}

/* Starts fn on the loader thread, after joining the last one (finished). Returns 0 or -errno. */
static int engine_loader_start(struct engine *e, void *(*fn)(void *))
{
	if (e->loader_started)
		pthread_join(e->loader, NULL);
	e->loader_started = false;
	atomic_store(&e->loader_running, true);
	int rc = pthread_create(&e->loader, NULL, fn, e);
	if (rc != 0) {
		atomic_store(&e->loader_running, false);
		log_error("engine", "cannot start the loader thread: %s", strerror(rc));
		return -rc;
	}
	e->loader_started = true;
	return 0;
}

/*
 * Stopping: cancels the load under way and waits for the loader at most ENGINE_LOADER_STOP_MS.
 * A loader still running then (blocked in a source that does not answer) is left behind, and
 * with it the engine's memory it reads (engine_free keeps it). Returns 0, or -ETIMEDOUT then.
 */
static int engine_loader_stop(struct engine *e)
{
	atomic_store(&e->load_cancel, true);
	int64_t deadline = now_wall_ms() + ENGINE_LOADER_STOP_MS;
	while (atomic_load_explicit(&e->loader_running, memory_order_acquire) &&
	       now_wall_ms() < deadline)
		engine_sleep_ms(5);
	if (atomic_load_explicit(&e->loader_running, memory_order_acquire)) {
		log_error("engine", "the dimension loader did not stop within %d ms (a source that "
			  "does not answer?): exiting without it", ENGINE_LOADER_STOP_MS);
		e->loader_abandoned = true;
		return -ETIMEDOUT;
	}
	if (e->loader_started)
		pthread_join(e->loader, NULL);
	e->loader_started = false;
	return 0;
}

static void engine_reload_start(struct engine *e)
{
	if (atomic_load(&e->stop)) {
		log_info("engine", "stopping: no reload");
		return;
	}
	if (e->dims.slot_count == 0) {
		log_info("engine", "the first dimension load is running: no reload");
		return;
	}
	if (atomic_load(&e->loader_running)) {
		log_info("engine", "reload already running");
		return;
	}
	engine_loader_start(e, engine_loader_main);
}

/*
 * The dimension replicas: one per node with workers when numa = replicate and the plan spans
 * several nodes, bound to their node where the machine has it; else one set. Sets each worker's
 * slot.
 */
static void engine_replicas(struct engine *e)
{
	e->replica_count = 1;
	e->replica_node[0] = -1;
	for (uint32_t k = 0; k < e->worker_count; k++)
		e->workers[k].env.dims_slot = 0;
	if (e->cfg.numa != CONFIG_NUMA_REPLICATE || e->plan.node_count < 2)
		return;
	bool bindable = numa_available() >= 0;
	e->replica_count = e->plan.node_count;
	for (uint32_t i = 0; i < e->plan.node_count; i++) {
		int node = e->plan.node_id[i];
		e->replica_node[i] = bindable && node <= numa_max_node() ? node : -1;
		if (e->replica_node[i] < 0)
			log_warn("engine", "replica for node %d: the machine has no such node; its "
				 "memory is not bound", node);
	}
	for (uint32_t k = 0; k < e->worker_count; k++) {
		int node = place_worker_node(&e->plan, k);
		for (uint32_t i = 0; i < e->plan.node_count; i++)
			if (e->plan.node_id[i] == node)
				e->workers[k].env.dims_slot = i;
	}
}

/* The loader's first load: the first set of every replica, into first_sets and first_rc. */
static void *engine_first_load_main(void *arg)
{
	struct engine *e = arg;
	int rc = 0;
	uint32_t r;
	for (r = 0; r < e->replica_count && rc == 0; r++)
		rc = dimset_load(&e->cfg, NULL, 0, e->replica_node[r], &e->load_cancel,
				 &e->first_sets[r], NULL);
	for (uint32_t i = 0; rc < 0 && i + 1 < r; i++)
		dimset_free(e->first_sets[i]);
	e->first_rc = rc;
	atomic_store_explicit(&e->loader_running, false, memory_order_release);
	return NULL;
}

/*
 * The first set of every replica, loaded on the loader thread while this thread reads the
 * signals (a source may take long or not answer: a stop must still end the process), then
 * published. Returns 0, -ECANCELED when a stop came first (-ETIMEDOUT: the loader did not give
 * up in time and was left behind), or the load's error.
 */
static int engine_dims_load(struct engine *e)
{
	int rc = engine_loader_start(e, engine_first_load_main);
	if (rc < 0)
		return rc;
	while (atomic_load_explicit(&e->loader_running, memory_order_acquire) &&
	       !atomic_load(&e->stop)) {
		struct pollfd pfd = {e->sigfd, POLLIN, 0};
		poll(&pfd, 1, ENGINE_LOAD_TICK_MS);
		engine_signal_read(e);
	}
	if (atomic_load(&e->stop)) {
		rc = engine_loader_stop(e);
		if (rc == 0 && e->first_rc == 0)
			for (uint32_t r = 0; r < e->replica_count; r++)
				dimset_free(e->first_sets[r]);
		log_info("engine", "stopped during the first dimension load: nothing was consumed");
		return rc < 0 ? rc : -ECANCELED;
	}
	pthread_join(e->loader, NULL);
	e->loader_started = false;
	if (e->first_rc < 0) {
		log_error("engine", "loading the dimensions failed: not starting");
		return e->first_rc;
	}
	dimpub_init(&e->dims, e->first_sets, e->replica_count);
	engine_dim_gauges(e, dimpub_get(&e->dims, 0));
	atomic_store(&e->gauges.reload_last_success_ms, now_wall_ms());
	return 0;
}

/* ---- setup ---- */

static int engine_plan(struct engine *e)
{
	const struct config *cfg = &e->cfg;
	struct place_topology *topo = calloc(1, sizeof(*topo));
	if (!topo)
		return -ENOMEM;
	char err[PLACE_ERR_MAX];
	int rc;
	struct stat st;
	if (cfg->numa == CONFIG_NUMA_OFF)
		rc = place_topology_parse(topo, "0:0-1023", err, sizeof(err));
	else if (cfg->numa_topology[0] && stat(cfg->numa_topology, &st) == 0 && S_ISDIR(st.st_mode))
		rc = place_topology_from_dir(topo, cfg->numa_topology, err, sizeof(err));
	else if (cfg->numa_topology[0])
		rc = place_topology_parse(topo, cfg->numa_topology, err, sizeof(err));
	else
		rc = place_topology_detect(topo, err, sizeof(err));
	if (rc == 0) {
		int32_t cpus[CONFIG_CPUS_MAX];
		for (uint32_t i = 0; i < e->worker_count; i++)
			cpus[i] = cfg->cpus[i];
		rc = place_plan_build(&e->plan, topo, cpus, e->worker_count, err, sizeof(err));
	}
	if (rc < 0)
		log_error("engine", "[workers] numa_topology: %s", err);
	free(topo);
	return rc;
}

/*
 * Opens --input. Before the signals are masked: the open of a FIFO waits for its writer, and a
 * SIGTERM meanwhile must end the process as it would any program.
 */
static int engine_input_open(struct engine *e)
{
	if (strcmp(e->input_path, "-") == 0)
		e->input_fd = dup(STDIN_FILENO);
	else
		e->input_fd = open(e->input_path, O_RDONLY | O_CLOEXEC);
	if (e->input_fd < 0) {
		int rc = -errno;
		log_error("engine", "--input %s: %s", e->input_path, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Gives each worker its range of --input; a pipe is read by one worker. */
static int engine_input_sources(struct engine *e)
{
	struct source_file_range ranges[ENGINE_WORKERS_MAX];
	/* Avro messages are binary: one per length prefix, as kcat -f '%R%s' writes them. */
	enum source_file_framing framing = e->cfg.event.format == SCHEMA_FORMAT_AVRO_CONFLUENT
						   ? SOURCE_FILE_LENGTH32
						   : SOURCE_FILE_LINES;
	int n = source_file_split(e->input_fd, e->worker_count, framing, ranges);
	if (n < 0)
		return n;
	e->worker_count = (uint32_t)n;
	for (uint32_t k = 0; k < e->worker_count; k++) {
		int rc = source_file_new(e->input_fd, e->input_name, &ranges[k],
					 &e->workers[k].env.source);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The consumer, and each worker's queue of it as the worker's source. */
static int engine_kafka_sources(struct engine *e)
{
	int rc = engine_consumer(e);
	for (uint32_t k = 0; k < e->worker_count && rc == 0; k++)
		rc = kafka_source_new(e->consumer, k, e->cfg.batch_events, &e->workers[k].env.source);
	return rc;
}

/* Reads the manifests (what was sealed, where each partition resumes); drops open segments. */
static int engine_recover(struct engine *e)
{
	const struct config *cfg = &e->cfg;
	struct manifest_recovery rec;
	const char *topic = e->input_path ? e->input_name : cfg->topic;
	int rc = manifest_recover(cfg->output_dir, cfg->instance, topic, cfg->dead_letter_dir,
				  e->manifest_next, EPOCH_PARTITIONS_MAX, &rec);
	if (rc < 0) {
		log_error("engine", "%s: manifest recovery failed: %s", cfg->output_dir, strerror(-rc));
		return rc;
	}
	if (rec.files)
		log_info("engine", "manifest: %u files, %" PRIu64 " sealed epochs; %u synced segments "
			 "made visible, %u missing, %u torn records cut, %" PRIu64
			 " dead-letter bytes cut", rec.files, rec.records, rec.segments_renamed,
			 rec.segments_missing, rec.torn, rec.deadletter_cut);
	unsigned removed = 0;
	rc = seg_dir_clean_tmp(cfg->output_dir, cfg->instance, &removed);
	if (rc < 0)
		return rc;
	if (removed)
		log_info("engine", "removed %u open segments (.native.tmp) of an earlier run: their "
			 "rows are consumed again", removed);
	return 0;
}

static int engine_signals(struct engine *e)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread starts, so every thread inherits the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	e->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (e->sigfd < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* A new engine for cfg: its flags and tables initialised, nothing opened yet. */
static struct engine *engine_new(const struct config *cfg, const char *input_path)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cfg = *cfg;
	e->input_path = input_path;
	const char *slash = input_path ? strrchr(input_path, '/') : NULL;
	e->input_name = !input_path ? NULL
			: strcmp(input_path, "-") == 0 ? "stdin"
			: slash ? slash + 1 : input_path;
	e->input_fd = -1;
	e->sigfd = -1;
	pthread_mutex_init(&e->publish_lock, NULL);
	e->worker_count = (uint32_t)(cfg->cpu_count > ENGINE_WORKERS_MAX ? ENGINE_WORKERS_MAX
									 : cfg->cpu_count);
	e->started_ms = now_wall_ms();
	e->status_ms = e->started_ms;
	e->next_status_ms = e->started_ms + ENGINE_STATUS_INTERVAL_MS;
	e->next_reload_ms = e->started_ms + cfg->reload_interval_ms;
	for (int32_t p = 0; p < EPOCH_PARTITIONS_MAX; p++) {
		e->manifest_next[p] = -1;
		atomic_init(&e->sealed_next[p], -1);
	}
	return e;
}

/* The password of [registry]: the first line of password_file, or password_env's value. */
static int engine_registry_password(const struct config *cfg, char *pw, size_t cap)
{
	pw[0] = '\0';
	if (cfg->registry_password_env[0]) {
		const char *v = getenv(cfg->registry_password_env);
		if (!v) {
			log_error("engine", "[registry] password_env: %s is not set",
				  cfg->registry_password_env);
			return -EINVAL;
		}
		snprintf(pw, cap, "%s", v);
		return 0;
	}
	if (!cfg->registry_password_file[0])
		return 0;
	FILE *f = fopen(cfg->registry_password_file, "re");
	if (!f) {
		int e = errno;
		log_error("engine", "[registry] password_file %s: %s", cfg->registry_password_file,
			  strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		log_warn("engine", "[registry] password_file %s is readable by others than its owner",
			 cfg->registry_password_file);
	if (!fgets(pw, (int)cap, f))
		pw[0] = '\0';
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	return 0;
}

/*
 * format = avro-confluent: the declared fields as the Avro reader and the registry client
 * resolving every writer schema against them (its fetch thread runs from here on, off every
 * worker's path). Returns 0 (also for JSON, with nothing started) or -errno (logged).
 */
static int engine_registry_start(struct engine *e)
{
	const struct config *cfg = &e->cfg;
	if (cfg->event.format != SCHEMA_FORMAT_AVRO_CONFLUENT)
		return 0;
	static struct schema_avro decls; /* large; used once, on the control thread */
	char err[512];
	int rc = schema_avro_decls(&cfg->event, &decls, err, sizeof(err));
	if (rc == 0)
		rc = av_reader_create(decls.decls, decls.count, &e->avro_reader, err, sizeof(err));
	if (rc < 0) {
		log_error("engine", "[event]: the Avro reader: %s", err);
		return rc;
	}
	char password[1024];
	rc = engine_registry_password(cfg, password, sizeof(password));
	if (rc < 0)
		return rc;
	struct registry_config rcfg = {
		.urls = cfg->registry_urls,
		.username = cfg->registry_username[0] ? cfg->registry_username : NULL,
		.password = password[0] || cfg->registry_username[0] ? password : NULL,
		.ca_file = cfg->registry_ca_file[0] ? cfg->registry_ca_file : NULL,
		.cert_file = cfg->registry_cert_file[0] ? cfg->registry_cert_file : NULL,
		.key_file = cfg->registry_key_file[0] ? cfg->registry_key_file : NULL,
		.connect_timeout_ms = cfg->registry_connect_timeout_ms,
		.timeout_ms = cfg->registry_timeout_ms,
		.backoff_min_ms = cfg->registry_backoff_min_ms,
		.backoff_max_ms = cfg->registry_backoff_max_ms,
		.ids_max = cfg->registry_ids_max,
	};
	rc = registry_create(&e->registry, &rcfg, e->avro_reader);
	explicit_bzero(password, sizeof(password));
	if (rc < 0) {
		log_error("engine", "cannot start the schema registry client: %s", strerror(-rc));
		return rc;
	}
	char urls[CONFIG_REGISTRY_URLS_MAX];
	config_urls_redact(cfg->registry_urls, urls, sizeof(urls));
	log_info("engine", "Avro input: writer schemas from the registry at %s", urls);
	return 0;
}

/*
 * Everything before the workers start: the input, signals, recovery, the input's sources, the
 * placement plan, the dimension replicas (loaded while signals are read: a stop returns
 * -ECANCELED), the consumer. Returns 0 or -errno (logged).
 */
static int engine_setup(struct engine *e)
{
	int rc = e->input_path ? engine_input_open(e) : 0;
	if (rc < 0)
		return rc;
	rc = engine_signals(e);
	if (rc < 0) {
		log_error("engine", "signal setup failed: %s", strerror(-rc));
		return rc;
	}
	rc = engine_recover(e);
	if (rc < 0)
		return rc;
	rc = engine_registry_start(e);
	if (rc < 0)
		return rc;
	e->workers = calloc(e->worker_count, sizeof(*e->workers));
	if (!e->workers)
		return -ENOMEM;
	if (e->input_path) {
		rc = engine_input_sources(e);
		if (rc < 0)
			return rc;
	}
	rc = engine_plan(e);
	if (rc < 0)
		return rc;
	engine_replicas(e);
	rc = engine_dims_load(e);
	if (rc < 0)
		return rc;
	if (!e->input_path)
		rc = engine_kafka_sources(e);
	return rc;
}

/* Destroys the sources, then leaves the group (the sources hold its messages). */
static int engine_sources_close(struct engine *e)
{
	for (uint32_t k = 0; e->workers && k < e->worker_count; k++) {
		source_destroy(e->workers[k].env.source);
		e->workers[k].env.source = NULL;
	}
	int rc = 0;
	if (e->consumer) {
		rc = kafka_consumer_close(e->consumer);
		e->consumer = NULL;
	}
	return rc;
}

/*
 * Frees what setup made. Every worker has ended. A loader left behind still reads the engine
 * (its configuration, the dimension sets, its cancel flag): those are left to the process's exit.
 */
static void engine_free(struct engine *e)
{
	engine_sources_close(e);
	if (e->input_fd >= 0)
		close(e->input_fd);
	free(e->workers);
	if (e->sigfd >= 0)
		close(e->sigfd);
	registry_destroy(e->registry); /* every worker has ended */
	e->registry = NULL;
	av_reader_free(e->avro_reader);
	e->avro_reader = NULL;
	if (e->loader_abandoned)
		return;
	dimpub_destroy(&e->dims);
	free(e);
}

/* ---- status ---- */

static void engine_signal_read(struct engine *e)
{
	struct signalfd_siginfo si;
	while (read(e->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("engine", "SIGHUP: reloading changed dimensions");
			engine_reload_start(e);
		} else if (!atomic_load(&e->stop)) {
			log_info("engine", "%s: stop fetching, seal, commit, leave the group",
				 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			atomic_store(&e->stop, true);
			atomic_store(&e->load_cancel, true); /* a load's result would not be used */
			engine_wake_workers(e);
		}
	}
}

static double engine_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * The event path's wall time (the longest worker loop: without the dimension load and the
 * workers' setup and teardown) and its CPU time (the whole process's, from the first worker
 * loop's start to the last one's end: time spent waiting for the disk is not in it), the
 * process CPU time from the workers' start to the end, and the time of every stage summed over
 * the workers (so, with several workers, core time).
 */
static void engine_status_stages(struct engine *e, double cpu_s)
{
	static const char *const names[WORKER_STAGE_COUNT] = {
		"poll", "decode", "probe", "append", "encode", "write", "seal"};
	uint64_t ns[WORKER_STAGE_COUNT] = {0}, loop_ns = 0;
	uint64_t cpu_start = UINT64_MAX, cpu_end = 0;
	for (uint32_t k = 0; k < e->worker_count; k++) {
		const struct worker_stats *ws = &e->workers[k].stats;
		for (int st = 0; st < WORKER_STAGE_COUNT; st++)
			ns[st] += atomic_load(&ws->stage_ns[st]);
		uint64_t l = atomic_load(&ws->loop_ns);
		loop_ns = l > loop_ns ? l : loop_ns;
		uint64_t c0 = atomic_load(&ws->loop_cpu_start_ns);
		uint64_t c1 = atomic_load(&ws->loop_cpu_end_ns);
		if (c1 != 0) {
			cpu_start = c0 < cpu_start ? c0 : cpu_start;
			cpu_end = c1 > cpu_end ? c1 : cpu_end;
		}
	}
	double path_cpu_s = cpu_end > cpu_start ? (double)(cpu_end - cpu_start) / 1e9 : 0;
	char buf[256];
	size_t off = 0;
	for (int st = 0; st < WORKER_STAGE_COUNT && off < sizeof(buf) - 32; st++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %s=%.1f", names[st],
					(double)ns[st] / 1e6);
	log_info("engine", "summary: event_path_s=%.3f event_path_cpu_s=%.3f workers_cpu_s=%.3f "
		 "workers=%u stage_ms (summed over workers):%s", (double)loop_ns / 1e9, path_cpu_s,
		 cpu_s, e->worker_count, buf);
}

static void engine_status(struct engine *e, bool final)
{
	uint64_t events = 0, rows = 0, dead = 0, segments = 0, bytes = 0, stall = 0;
	uint64_t lookups[CONFIG_DIMS_MAX] = {0}, misses[CONFIG_DIMS_MAX] = {0};
	for (uint32_t k = 0; k < e->worker_count; k++) {
		struct worker_stats *s = &e->workers[k].stats;
		events += atomic_load(&s->events_in);
		rows += atomic_load(&s->rows_sealed);
		dead += atomic_load(&s->dead_letters);
		segments += atomic_load(&s->segments_sealed);
		bytes += atomic_load(&s->bytes_written);
		uint64_t st = atomic_load(&s->stall_ns_max);
		stall = st > stall ? st : stall;
		for (size_t d = 0; d < e->cfg.dim_count; d++) {
			lookups[d] += atomic_load(&s->lookups[d]);
			misses[d] += atomic_load(&s->misses[d]);
		}
	}
	int64_t now = now_wall_ms();
	double secs = (double)(now - (final ? e->started_ms : e->status_ms)) / 1000.0;
	double rate = secs > 0 ? (double)(events - (final ? 0 : e->status_events)) / secs : 0;
	char hits[512];
	size_t off = 0;
	for (size_t d = 0; d < e->cfg.dim_count && off < sizeof(hits) - 64; d++)
		off += (size_t)snprintf(hits + off, sizeof(hits) - off, " %s=%.2f%%",
					e->cfg.dims[d].name,
					lookups[d] ? 100.0 * (double)(lookups[d] - misses[d]) /
							     (double)lookups[d]
						   : 0.0);
	log_info("engine", "%s: events=%" PRIu64 " rows_sealed=%" PRIu64 " dead_letters=%" PRIu64
		 " segments=%" PRIu64 " bytes=%" PRIu64 " events_per_s=%.0f stall_max_ms=%.3f hit_rate:%s",
		 final ? "summary" : "status", events, rows, dead, segments, bytes, rate,
		 (double)stall / 1e6, hits);
	if (final)
		engine_status_stages(e, engine_cpu_s() - e->workers_started_cpu_s);
	e->status_events = events;
	e->status_ms = now;
}

/*
 * Readiness, and the first worker failure: recorded for /healthz, and the others are stopped.
 * Returns whether every worker has ended; *failed whether one failed.
 */
static bool engine_workers_check(struct engine *e, bool *failed)
{
	bool all_done = true;
	*failed = false;
	for (uint32_t k = 0; k < e->worker_count; k++) {
		struct worker *w = &e->workers[k];
		if (!atomic_load(&w->done)) {
			all_done = false;
		} else if (w->exit_code < 0 && !*failed) {
			*failed = true;
			if (!atomic_load(&e->gauges.failed)) {
				atomic_store(&e->gauges.failed_worker, k);
				atomic_store(&e->gauges.failed_errno, -w->exit_code);
			}
		}
	}
	bool running = !atomic_load(&e->stop);
	atomic_store(&e->gauges.ready,
		     running && (!e->consumer || kafka_assigned_count(e->consumer) > 0));
	if (*failed)
		atomic_store(&e->gauges.failed, true);
	if (*failed && running) {
		log_error("engine", "a worker failed: stopping the others");
		atomic_store(&e->stop, true);
		engine_wake_workers(e);
	}
	return all_done;
}

static int engine_control_loop(struct engine *e)
{
	int rc = 0;
	for (;;) {
		if (e->consumer) {
			rc = kafka_consumer_poll(e->consumer, ENGINE_TICK_MS);
			if (rc < 0) {
				log_error("engine", "Kafka consumer failed: stopping");
				atomic_store(&e->stop, true);
			}
		} else {
			struct pollfd pfd = {e->sigfd, POLLIN, 0};
			poll(&pfd, 1, ENGINE_TICK_MS);
		}
		engine_signal_read(e);
		int64_t now = now_wall_ms();
		if (e->cfg.reload_interval_ms && now >= e->next_reload_ms) {
			e->next_reload_ms = now + e->cfg.reload_interval_ms;
			engine_reload_start(e);
		}
		if (now >= e->next_status_ms) {
			e->next_status_ms = now + ENGINE_STATUS_INTERVAL_MS;
			engine_status(e, false);
		}
		bool failed;
		if (engine_workers_check(e, &failed))
			return failed ? -EIO : rc;
	}
}

/* ---- running ---- */

static void engine_log_start(struct engine *e)
{
	const struct config *cfg = &e->cfg;
	const struct dimset *set = dimpub_get(&e->dims, 0);
	log_info("engine", "enrichd %s: %u workers, %zu dimensions (%.1f MiB x %u replica(s)), "
		 "output %s, %s", ENRICHD_VERSION, e->worker_count, set->count,
		 (double)dimset_bytes(set) / (1 << 20), e->replica_count, cfg->output_dir,
		 e->input_path ? "reading --input" : "consuming Kafka");
	char io_cpus[256];
	log_info("engine", "segment writes: %s, run on %s ([output] direct_io = %s, io_cpus = %s)",
		 cfg->direct_io == CONFIG_DIRECT_IO_OFF ? "through the page cache" : "O_DIRECT",
		 config_io_cpus_text(cfg, io_cpus, sizeof(io_cpus)),
		 cfg->direct_io == CONFIG_DIRECT_IO_OFF ? "off" : "auto", cfg->io_cpus_spec);
}

/* Each worker's environment (its source and slot are set already), then its thread. */
static int engine_workers_start(struct engine *e)
{
	for (uint32_t k = 0; k < e->worker_count; k++) {
		struct worker_env *env = &e->workers[k].env;
		env->index = k;
		env->cpu = e->cfg.cpus[k];
		env->cfg = &e->cfg;
		env->dims = &e->dims;
		env->stop = &e->stop;
		env->flush_req = &e->flush_req;
		env->sealed = (struct epoch_sink){engine_on_sealed, e};
		env->registry = e->registry;
		e->worker_stats[k] = &e->workers[k].stats;
	}
	e->workers_started_cpu_s = engine_cpu_s();
	for (uint32_t k = 0; k < e->worker_count; k++) {
		int rc = worker_start(&e->workers[k]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int engine_metrics_start(struct engine *e)
{
	struct metrics_view view = {
		.cfg = &e->cfg,
		.started_ms = e->started_ms,
		.worker_count = e->worker_count,
		.worker_stats = e->worker_stats,
		.gauges = &e->gauges,
		.stopping = &e->stop,
		.consumer = e->consumer,
		.live = e->live_stats,
		.registry = e->registry,
	};
	return metrics_start(&e->metrics, e->cfg.metrics_listen, &view);
}

/*
 * Starts the workers and the metrics server, runs the control loop until every worker has
 * ended, then joins them and the loader. Returns 0 or the first failure.
 */
/* The updater, when a dimension is live (updater.h). */
static int engine_updater_start(struct engine *e)
{
	struct updater_env env = {
		.cfg = &e->cfg,
		.dims = &e->dims,
		.replica_count = e->replica_count,
		.replica_node = e->replica_node,
		.publish_lock = &e->publish_lock,
		.stop = &e->stop,
		.stats = e->live_stats,
	};
	int rc = updater_start(&env, &e->updater);
	if (rc < 0)
		log_error("engine", "cannot start the updater: %s", strerror(-rc));
	return rc;
}

/*
 * Waits until the updater has read every changelog up to its watermarks at start, so no event
 * is joined with a dimension that lacks them (/readyz says "catching up" meanwhile). Signals
 * are read: a SIGTERM ends the wait.
 */
static void engine_catch_up(struct engine *e)
{
	if (updater_caught_up(e->updater))
		return;
	atomic_store(&e->gauges.catching_up, true);
	log_info("engine", "waiting for the changelogs to be read up to their ends");
	int64_t next_log = now_wall_ms() + ENGINE_STATUS_INTERVAL_MS;
	while (!updater_caught_up(e->updater) && !atomic_load(&e->stop)) {
		struct pollfd pfd = {e->sigfd, POLLIN, 0};
		poll(&pfd, 1, ENGINE_TICK_MS);
		engine_signal_read(e);
		if (now_wall_ms() >= next_log) {
			log_info("engine", "still catching up the changelogs");
			next_log = now_wall_ms() + ENGINE_STATUS_INTERVAL_MS;
		}
	}
	atomic_store(&e->gauges.catching_up, false);
}

static int engine_serve(struct engine *e)
{
	engine_log_start(e);
	for (uint32_t k = 0; k < e->worker_count; k++)
		e->worker_stats[k] = &e->workers[k].stats; /* read by metrics from its start */
	int rc = engine_updater_start(e);
	if (rc == 0 && e->cfg.metrics_listen[0])
		rc = engine_metrics_start(e);
	if (rc == 0)
		engine_catch_up(e);
	if (rc == 0)
		rc = engine_workers_start(e);
	if (rc < 0) {
		atomic_store(&e->stop, true);
		engine_wake_workers(e);
	}
	int loop_rc = rc == 0 ? engine_control_loop(e) : rc;
	for (uint32_t k = 0; k < e->worker_count; k++) {
		int wrc = worker_join(&e->workers[k]);
		if (wrc < 0 && loop_rc == 0)
			loop_rc = wrc;
	}
	/* Bounded: a reload stuck in its source must not keep the partitions from the group. */
	engine_loader_stop(e);
	updater_stop(e->updater);
	e->updater = NULL;
	metrics_stop(e->metrics); /* it reads the consumer and the workers */
	e->metrics = NULL;
	return loop_rc;
}

int engine_run(const struct config *cfg, const char *input_path)
{
	log_level_set(cfg->log_level);
	struct engine *e = engine_new(cfg, input_path);
	if (!e)
		return -ENOMEM;
	int rc = engine_setup(e);
	if (rc == 0) {
		rc = engine_serve(e);
		int crc = engine_sources_close(e);
		if (crc < 0 && rc == 0)
			rc = crc;
		engine_status(e, true);
	} else if ((rc == -ECANCELED || rc == -ETIMEDOUT) && atomic_load(&e->stop)) {
		rc = 0; /* stopped during the first load: nothing was consumed */
	}
	engine_free(e);
	return rc;
}

int engine_check(const struct config *cfg, FILE *out)
{
	struct engine *e = engine_new(cfg, NULL);
	if (!e)
		return -ENOMEM;
	e->workers = calloc(e->worker_count, sizeof(*e->workers));
	int rc = e->workers ? engine_plan(e) : -ENOMEM;
	if (rc < 0)
		goto out_free;
	config_print(cfg, out);
	fprintf(out, "placement:  %u NUMA node(s) with workers; partition p -> node index p mod %u, "
		"then round-robin over that node's workers\n", e->plan.node_count, e->plan.node_count);
	engine_replicas(e);
	for (uint32_t k = 0; k < e->worker_count; k++)
		fprintf(out, "  worker %u: CPU %d, node %d, dimension replica %u\n", k, cfg->cpus[k],
			place_worker_node(&e->plan, k), e->workers[k].env.dims_slot);
	fprintf(out, "  partitions 0-23:");
	for (int32_t p = 0; p < 24; p++)
		fprintf(out, " %d->w%u", p, place_partition_worker(&e->plan, p));
	fprintf(out, "\n");
	static struct native_column_spec specs[DIMSET_COLUMNS_MAX];
	static char names[DIMSET_COLUMNS_MAX][NATIVE_NAME_MAX];
	static char types[DIMSET_COLUMNS_MAX][NATIVE_TYPE_NAME_MAX];
	uint32_t n = dimset_schema(cfg, specs, names, types);
	fprintf(out, "output schema (%u columns):\n", n);
	for (uint32_t i = 0; i < n; i++)
		fprintf(out, "  %-16s %s\n", names[i], types[i]);
	for (size_t d = 0; d < cfg->dim_count; d++) {
		for (size_t a = 0; a < cfg->dims[d].attr_count; a++) {
			enum dim_type type;
			bool nullable;
			if (dimset_attr_type(&cfg->dims[d].attrs[a], &type, &nullable) < 0) {
				fprintf(stderr, "%s: [dimension %s]: attr.%s: unsupported type '%s'\n",
					cfg->path, cfg->dims[d].name, cfg->dims[d].attrs[a].name,
					cfg->dims[d].attrs[a].type);
				rc = -EINVAL;
			}
		}
	}
	if (kafka_config_check(cfg) < 0)
		rc = -EINVAL;
out_free:
	engine_free(e);
	return rc;
}
