#include "kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "log.h"

#define KAFKA_ERRSTR_MAX 512

_Static_assert(KAFKA_OFFSET_BEGINNING == RD_KAFKA_OFFSET_BEGINNING, "kafka.h offsets");
_Static_assert(KAFKA_OFFSET_END == RD_KAFKA_OFFSET_END, "kafka.h offsets");
_Static_assert(KAFKA_OFFSET_STORED == RD_KAFKA_OFFSET_STORED, "kafka.h offsets");
_Static_assert(KAFKA_OFFSET_INVALID == RD_KAFKA_OFFSET_INVALID, "kafka.h offsets");

/*
 * Per-partition state. queue is non-NULL exactly while the partition is assigned here; it is
 * then forwarded to workers[worker].queue. Written by the control thread under c->lock.
 */
struct kafka_slot {
	rd_kafka_queue_t *queue;
	uint32_t worker;
	/* Paused at an offset by its worker (kafka_partition_pause) until kafka_partition_resume or
	 * its revocation. Written under c->lock; the worker's poll reads it without the lock. */
	_Atomic bool held;
};

struct kafka_worker {
	rd_kafka_queue_t *queue;
	bool paused; /* under c->lock */
	_Atomic uint32_t held; /* its partitions held (slots[].held), under c->lock */
	_Atomic uint64_t messages_total;
	_Atomic uint64_t eof_total;
	_Atomic uint64_t errors_total;
};

struct kafka_consumer {
	rd_kafka_t *rk;
	char *topic;
	struct kafka_hooks hooks;
	struct place_plan plan;
	uint32_t worker_count;
	struct kafka_worker *workers;
	bool closing;                /* control thread only */
	pthread_mutex_t lock;        /* slots[], assigned_count, workers[].paused, pause_scratch */
	uint32_t assigned_count;
	struct kafka_slot slots[KAFKA_PARTITIONS_MAX];
	int32_t scratch[KAFKA_PARTITIONS_MAX]; /* partition ids handed to hooks (control thread) */
	int32_t pause_scratch[KAFKA_PARTITIONS_MAX]; /* partitions to pause/resume, under lock */
	int64_t assign_committed[KAFKA_PARTITIONS_MAX]; /* the group's, during an assignment */
	/* The group's committed offset per partition as last known (-1: none): read at assignment,
	 * then this consumer's commits. For lag. */
	_Atomic int64_t committed[KAFKA_PARTITIONS_MAX];
	/* Errors of the consumer itself (brokers, coordinator), not of a worker's queue. */
	_Atomic uint64_t client_errors;
};

/* A worker's queue as its message source; msgs holds the batch handed out last. */
struct kafka_source {
	struct source base;
	struct kafka_consumer *c;
	uint32_t worker;
	uint32_t cap;
	uint32_t held;
	rd_kafka_message_t *msgs[];
};

static void kafka_messages_destroy(rd_kafka_message_t **msgs, size_t count);

/* Counts an error of the consumer itself (kafka_client_errors); the caller logs it. */
static void client_error(struct kafka_consumer *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->client_errors, 1, memory_order_relaxed);
}

/* Properties enrichd sets itself: a caller value would break the offset contract. */
static const char *const kafka_managed_keys[] = {
	"bootstrap.servers", "metadata.broker.list", "group.id", "enable.auto.commit",
	"enable.auto.offset.store",
};

static bool is_cooperative(rd_kafka_t *rk)
{
	return strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
}

static bool offset_is_valid_start(int64_t offset)
{
	return offset >= 0 || offset == RD_KAFKA_OFFSET_BEGINNING ||
	       offset == RD_KAFKA_OFFSET_END || offset == RD_KAFKA_OFFSET_INVALID ||
	       offset == RD_KAFKA_OFFSET_STORED;
}

/*
 * Pauses or resumes partitions[0..count). Called with c->lock held, so the pause state of every
 * assigned partition always matches its worker's flag: a rebalance cannot slip in between
 * reading the flag and acting on it. rd_kafka_pause_partitions() waits for librdkafka's own
 * threads only, never for the control thread, so holding the lock cannot deadlock.
 * Returns 0 or -EIO (logged).
 */
static int pause_partitions_locked(struct kafka_consumer *c, const int32_t *partitions,
				   size_t count, bool pause, const char *who)
{
	if (count == 0)
		return 0;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)count);
	for (size_t i = 0; i < count; i++)
		rd_kafka_topic_partition_list_add(list, c->topic, partitions[i]);
	rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(c->rk, list)
					: rd_kafka_resume_partitions(c->rk, list);
	int rc = 0;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_error(c);
		log_error("kafka", "%s: %s %d partition(s): %s", who, pause ? "pause" : "resume",
			  list->cnt, rd_kafka_err2str(err));
		rc = -EIO;
	}
	for (int i = 0; i < list->cnt; i++) {
		if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			client_error(c);
			log_error("kafka", "%s: %s %s [%" PRId32 "]: %s", who,
				  pause ? "pause" : "resume", c->topic, list->elems[i].partition,
				  rd_kafka_err2str(list->elems[i].err));
			rc = -EIO;
		}
	}
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

/*
 * Forgets partition p's hold (kafka_partition_pause) and lifts its application pause, which
 * librdkafka keeps across an unassign, unless its worker is paused as a whole (its own pause
 * then stands). Called with c->lock held.
 */
static void slot_unhold_locked(struct kafka_consumer *c, int32_t p)
{
	struct kafka_slot *slot = &c->slots[p];
	if (!atomic_load_explicit(&slot->held, memory_order_relaxed))
		return;
	atomic_store_explicit(&slot->held, false, memory_order_relaxed);
	atomic_fetch_sub_explicit(&c->workers[slot->worker].held, 1, memory_order_relaxed);
	if (!c->workers[slot->worker].paused)
		pause_partitions_locked(c, &p, 1, false, "release a held partition");
}

/* Forwards partition p's queue to its worker and records it. Returns 0 or -ENOENT (logged). */
static int slot_attach(struct kafka_consumer *c, int32_t p)
{
	rd_kafka_queue_t *q = rd_kafka_queue_get_partition(c->rk, c->topic, p);
	if (q == NULL) {
		log_error("kafka", "%s [%" PRId32 "]: no partition queue; not assigned", c->topic, p);
		return -ENOENT;
	}
	uint32_t worker = place_partition_worker(&c->plan, p);
	/* Forward before assigning, so no message can reach the consumer queue. */
	rd_kafka_queue_forward(q, c->workers[worker].queue);
	pthread_mutex_lock(&c->lock);
	if (c->slots[p].queue != NULL) {
		/* Assigned twice without a revoke in between: keep one reference. */
		rd_kafka_queue_destroy(c->slots[p].queue);
		c->assigned_count--;
		slot_unhold_locked(c, p);
	}
	c->slots[p].queue = q;
	c->slots[p].worker = worker;
	c->assigned_count++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Raises the committed offset known for partition p to offset (a successful commit). */
static void committed_raise(struct kafka_consumer *c, int32_t p, int64_t offset)
{
	if (p < 0 || p >= KAFKA_PARTITIONS_MAX)
		return;
	int64_t cur = atomic_load(&c->committed[p]);
	while (offset > cur && !atomic_compare_exchange_weak(&c->committed[p], &cur, offset))
		;
}

/*
 * The group's committed offsets of the partitions of parts, in one query (at most
 * KAFKA_COMMITTED_TIMEOUT_MS, on the control thread, which reads no signal meanwhile), into
 * assign_committed (KAFKA_OFFSET_INVALID: none, or the query failed, logged) and what is known
 * for lag.
 */
static void assign_committed_read(struct kafka_consumer *c,
				   const rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts->cnt);
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;
		if (p >= 0 && p < KAFKA_PARTITIONS_MAX) {
			c->assign_committed[p] = RD_KAFKA_OFFSET_INVALID;
			rd_kafka_topic_partition_list_add(list, c->topic, p);
		}
	}
	rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, list, KAFKA_COMMITTED_TIMEOUT_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_error(c);
		log_warn("kafka", "committed offsets of %d partition(s) of %s: %s", list->cnt,
			 c->topic, rd_kafka_err2str(err));
	}
	for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &list->elems[i];
		if (tp->err) {
			client_error(c);
			log_warn("kafka", "committed offset of %s [%" PRId32 "]: %s", c->topic,
				 tp->partition, rd_kafka_err2str(tp->err));
		} else if (tp->offset >= 0) {
			c->assign_committed[tp->partition] = tp->offset;
			committed_raise(c, tp->partition, tp->offset);
		}
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/*
 * Assignment: read the group's committed offsets, pick start offsets, forward each partition's
 * queue to its worker, pause the partitions of paused workers, assign.
 */
static void rebalance_assign(struct kafka_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
	bool cooperative = is_cooperative(c->rk);
	rd_kafka_topic_partition_list_t *accepted = rd_kafka_topic_partition_list_new(parts->cnt);
	size_t count = 0;
	assign_committed_read(c, parts);

	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		int32_t p = tp->partition;
		if (strcmp(tp->topic, c->topic) != 0 || p < 0 || p >= KAFKA_PARTITIONS_MAX) {
			log_error("kafka", "assignment of %s [%" PRId32 "] ignored: only topic %s, "
				  "partitions below %d are handled", tp->topic, p, c->topic,
				  KAFKA_PARTITIONS_MAX);
			continue;
		}
		int64_t offset = RD_KAFKA_OFFSET_INVALID;
		if (c->hooks.start_offset != NULL)
			offset = c->hooks.start_offset(c->hooks.ctx, p, c->assign_committed[p]);
		if (!offset_is_valid_start(offset)) {
			log_error("kafka", "%s [%" PRId32 "]: start offset %" PRId64 " is invalid; "
				  "using the committed offset", c->topic, p, offset);
			offset = RD_KAFKA_OFFSET_INVALID;
		}
		if (slot_attach(c, p) != 0)
			continue;
		rd_kafka_topic_partition_list_add(accepted, c->topic, p)->offset = offset;
		c->scratch[count++] = p;
		log_debug("kafka", "%s [%" PRId32 "] -> worker %u, start offset %" PRId64, c->topic,
			  p, place_partition_worker(&c->plan, p), offset);
	}

	/* Pause before assigning, so nothing is fetched for a worker that takes nothing. */
	pthread_mutex_lock(&c->lock);
	size_t to_pause = 0;
	for (size_t i = 0; i < count; i++) {
		const struct kafka_slot *slot = &c->slots[c->scratch[i]];
		if (slot->queue != NULL && c->workers[slot->worker].paused)
			c->pause_scratch[to_pause++] = c->scratch[i];
	}
	pause_partitions_locked(c, c->pause_scratch, to_pause, true, "assign to a paused worker");
	uint32_t total = c->assigned_count;
	pthread_mutex_unlock(&c->lock);

	if (cooperative) {
		rd_kafka_error_t *error = rd_kafka_incremental_assign(c->rk, accepted);
		if (error != NULL) {
			client_error(c);
			log_error("kafka", "incremental assign of %d partition(s): %s", accepted->cnt,
				  rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
		}
	} else {
		rd_kafka_resp_err_t err = rd_kafka_assign(c->rk, accepted);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			client_error(c);
			log_error("kafka", "assign of %d partition(s): %s", accepted->cnt,
				  rd_kafka_err2str(err));
		}
	}
	rd_kafka_topic_partition_list_destroy(accepted);

	log_info("kafka", "%s: %zu partition(s) assigned (%s), %u in total", c->topic, count,
		 cooperative ? "cooperative" : "eager", total);
	if (c->hooks.assigned != NULL && count > 0)
		c->hooks.assigned(c->hooks.ctx, c->scratch, count);
}

/*
 * Revocation: the hook first (partitions still assigned), then un-forward and drop each
 * partition's queue, clear pauses and holds (librdkafka keeps an application pause across
 * unassign), and unassign.
 */
static void rebalance_revoke(struct kafka_consumer *c, rd_kafka_topic_partition_list_t *parts,
			     bool all)
{
	bool cooperative = is_cooperative(c->rk);
	all = all || !cooperative; /* eager: the whole assignment goes */
	enum kafka_revoke_reason reason = c->closing		     ? KAFKA_REVOKE_CLOSE
					  : rd_kafka_assignment_lost(c->rk) ? KAFKA_REVOKE_LOST
									    : KAFKA_REVOKE_REBALANCE;
	size_t count = 0;
	pthread_mutex_lock(&c->lock);
	for (int32_t p = 0; p < KAFKA_PARTITIONS_MAX; p++) {
		if (c->slots[p].queue == NULL)
			continue;
		if (all || rd_kafka_topic_partition_list_find(parts, c->topic, p) != NULL)
			c->scratch[count++] = p;
	}
	pthread_mutex_unlock(&c->lock);

	if (c->hooks.revoke != NULL && count > 0)
		c->hooks.revoke(c->hooks.ctx, c->scratch, count, reason);

	pthread_mutex_lock(&c->lock);
	size_t to_resume = 0;
	for (size_t i = 0; i < count; i++) {
		struct kafka_slot *slot = &c->slots[c->scratch[i]];
		if (slot->queue == NULL)
			continue;
		bool held = atomic_load_explicit(&slot->held, memory_order_relaxed);
		if (held) {
			atomic_store_explicit(&slot->held, false, memory_order_relaxed);
			atomic_fetch_sub_explicit(&c->workers[slot->worker].held, 1,
						  memory_order_relaxed);
		}
		if (c->workers[slot->worker].paused || held)
			c->pause_scratch[to_resume++] = c->scratch[i];
		rd_kafka_queue_forward(slot->queue, NULL);
		rd_kafka_queue_destroy(slot->queue);
		slot->queue = NULL;
		c->assigned_count--;
	}
	pause_partitions_locked(c, c->pause_scratch, to_resume, false,
				"revoke from a paused worker or a held partition");
	uint32_t left = c->assigned_count;
	pthread_mutex_unlock(&c->lock);

	if (!all) {
		rd_kafka_error_t *error = rd_kafka_incremental_unassign(c->rk, parts);
		if (error != NULL) {
			client_error(c);
			log_error("kafka", "incremental unassign of %d partition(s): %s", parts->cnt,
				  rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
		}
	} else {
		rd_kafka_resp_err_t err = rd_kafka_assign(c->rk, NULL);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			client_error(c);
			log_error("kafka", "unassign: %s", rd_kafka_err2str(err));
		}
	}
	log_info("kafka", "%s: %zu partition(s) revoked (%s), %u left", c->topic, count,
		 reason == KAFKA_REVOKE_CLOSE ? "close"
		 : reason == KAFKA_REVOKE_LOST ? "lost"
					       : "rebalance",
		 left);
}

static void kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_consumer *c = opaque;
	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		rebalance_assign(c, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		rebalance_revoke(c, parts, false);
		break;
	default:
		client_error(c);
		log_error("kafka", "rebalance failed: %s; dropping the whole assignment",
			  rd_kafka_err2str(err));
		rebalance_revoke(c, parts, true);
		break;
	}
}

static void kafka_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			    rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct kafka_consumer *c = opaque;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
		client_error(c);
		log_warn("kafka", "commit of %d partition(s): %s", offsets != NULL ? offsets->cnt : 0,
			 rd_kafka_err2str(err));
	}
	if (offsets == NULL)
		return;
	for (int i = 0; i < offsets->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
		int perr = tp->err != RD_KAFKA_RESP_ERR_NO_ERROR ? tp->err : err;
		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR && err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			client_error(c);
			log_warn("kafka", "commit %s [%" PRId32 "] offset %" PRId64 ": %s",
				 tp->topic, tp->partition, tp->offset, rd_kafka_err2str(tp->err));
		}
		if (perr == 0)
			committed_raise(c, tp->partition, tp->offset);
		if (c->hooks.commit_done != NULL)
			c->hooks.commit_done(c->hooks.ctx, tp->partition, tp->offset, perr);
	}
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	client_error(opaque);
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char errstr[KAFKA_ERRSTR_MAX];
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
		log_error("kafka", "fatal: %s: %s", rd_kafka_err2name(orig), errstr);
		return;
	}
	/* Transient (broker down, all brokers down, ...): librdkafka retries by itself. */
	log_warn("kafka", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	log_msg(log_level_of_syslog(level), "kafka", "rdkafka %s: %s", fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char errstr[KAFKA_ERRSTR_MAX];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		log_error("kafka", "property '%s': %s", key, errstr);
		return -EINVAL;
	}
	return 0;
}

static int config_check(const struct kafka_config *cfg)
{
	if (cfg->brokers == NULL || cfg->brokers[0] == '\0') {
		log_error("kafka", "config: brokers is empty");
		return -EINVAL;
	}
	if (cfg->topic == NULL || cfg->topic[0] == '\0') {
		log_error("kafka", "config: topic is empty");
		return -EINVAL;
	}
	if (cfg->group_id == NULL || cfg->group_id[0] == '\0') {
		log_error("kafka", "config: group id is empty");
		return -EINVAL;
	}
	if (cfg->worker_count == 0 || cfg->worker_count > KAFKA_WORKERS_MAX) {
		log_error("kafka", "config: worker count %u, expected 1..%d", cfg->worker_count,
			  KAFKA_WORKERS_MAX);
		return -EINVAL;
	}
	if (cfg->placement != NULL && cfg->placement->worker_count != cfg->worker_count) {
		log_error("kafka", "config: placement plan has %u workers, config has %u",
			  cfg->placement->worker_count, cfg->worker_count);
		return -EINVAL;
	}
	if (cfg->property_count > KAFKA_PROPERTIES_MAX ||
	    (cfg->property_count > 0 && cfg->properties == NULL)) {
		log_error("kafka", "config: %zu properties, at most %d", cfg->property_count,
			  KAFKA_PROPERTIES_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->property_count; i++) {
		const struct kafka_property *prop = &cfg->properties[i];
		if (prop->key == NULL || prop->value == NULL) {
			log_error("kafka", "config: property %zu has no key or value", i);
			return -EINVAL;
		}
		for (size_t k = 0; k < sizeof(kafka_managed_keys) / sizeof(kafka_managed_keys[0]);
		     k++) {
			if (strcmp(prop->key, kafka_managed_keys[k]) == 0) {
				log_error("kafka", "property '%s': set by enrichd, not configurable",
					  prop->key);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Builds the librdkafka configuration: defaults, the caller's properties, managed keys. */
static rd_kafka_conf_t *conf_build(struct kafka_consumer *c, const struct kafka_config *cfg)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/*
	 * librdkafka stops fetching a partition while its queue holds queued.min.messages
	 * (default 100000) and looks again only after a while. Every partition's queue is
	 * forwarded to its worker's queue, which is what that check counts, so with the default a
	 * worker that falls behind the fetcher stalls all its partitions at 100000 messages in
	 * total: one worker on 48 partitions took 200K messages/s where it enriches 1.4M/s. The
	 * memory bound, queued.max.messages.kbytes, likewise counts the worker's whole queue.
	 */
	if (conf_set(conf, "partition.assignment.strategy", "cooperative-sticky") != 0 ||
	    conf_set(conf, "auto.offset.reset", "earliest") != 0 ||
	    conf_set(conf, "queued.min.messages", "10000000") != 0)
		goto out_destroy_conf;
	for (size_t i = 0; i < cfg->property_count; i++) {
		if (conf_set(conf, cfg->properties[i].key, cfg->properties[i].value) != 0)
			goto out_destroy_conf;
	}
	if (conf_set(conf, "bootstrap.servers", cfg->brokers) != 0 ||
	    conf_set(conf, "group.id", cfg->group_id) != 0 ||
	    conf_set(conf, "enable.auto.commit", "false") != 0 ||
	    conf_set(conf, "enable.auto.offset.store", "false") != 0)
		goto out_destroy_conf;
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance_cb);
	rd_kafka_conf_set_offset_commit_cb(conf, kafka_commit_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	return conf;

out_destroy_conf:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Takes and destroys whatever is left in q. Bounded by the queue's length at the call. */
static void queue_drain(rd_kafka_queue_t *q)
{
	rd_kafka_message_t *msgs[64];
	size_t rounds = rd_kafka_queue_length(q) / 64 + 1;
	for (size_t r = 0; r < rounds; r++) {
		ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs, 64);
		if (n <= 0)
			return;
		kafka_messages_destroy(msgs, (size_t)n);
	}
}

/* The consumer's own part: hooks, plan, topic, worker slots, lock. Returns 0 or -errno. */
static int consumer_alloc(const struct kafka_config *cfg, struct kafka_consumer **out)
{
	struct kafka_consumer *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->hooks = cfg->hooks;
	c->worker_count = cfg->worker_count;
	if (cfg->placement != NULL)
		c->plan = *cfg->placement;
	else
		place_plan_single_node(&c->plan, cfg->worker_count);
	for (int32_t p = 0; p < KAFKA_PARTITIONS_MAX; p++)
		atomic_init(&c->committed[p], -1);
	int rc = pthread_mutex_init(&c->lock, NULL);
	if (rc != 0) {
		free(c);
		return -rc;
	}
	rc = -ENOMEM;
	c->topic = strdup(cfg->topic);
	if (c->topic == NULL)
		goto out_free_consumer;
	c->workers = calloc(cfg->worker_count, sizeof(*c->workers));
	if (c->workers == NULL)
		goto out_free_topic;
	*out = c;
	return 0;

out_free_topic:
	free(c->topic);
out_free_consumer:
	pthread_mutex_destroy(&c->lock);
	free(c);
	return rc;
}

static void consumer_free(struct kafka_consumer *c)
{
	free(c->workers);
	free(c->topic);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* librdkafka's part: the handle, one queue per worker, the subscription. Returns 0 or -errno. */
static int consumer_start(struct kafka_consumer *c, const struct kafka_config *cfg)
{
	rd_kafka_conf_t *conf = conf_build(c, cfg);
	if (conf == NULL)
		return -EINVAL;
	char errstr[KAFKA_ERRSTR_MAX];
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (c->rk == NULL) {
		log_error("kafka", "creating the consumer: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	/* Serve librdkafka's main queue (logs, errors, commit results) in consumer_poll. */
	rd_kafka_poll_set_consumer(c->rk);

	uint32_t queues = 0;
	for (; queues < c->worker_count; queues++) {
		c->workers[queues].queue = rd_kafka_queue_new(c->rk);
		if (c->workers[queues].queue == NULL) {
			log_error("kafka", "creating the queue of worker %u failed", queues);
			goto out_destroy_queues;
		}
	}
	rd_kafka_topic_partition_list_t *subscription = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subscription, c->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, subscription);
	rd_kafka_topic_partition_list_destroy(subscription);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("kafka", "subscribe to %s: %s", c->topic, rd_kafka_err2str(err));
		goto out_destroy_queues;
	}
	return 0;

out_destroy_queues:
	for (uint32_t w = 0; w < queues; w++)
		rd_kafka_queue_destroy(c->workers[w].queue);
	rd_kafka_destroy(c->rk);
	return -EIO;
}

int kafka_consumer_new(const struct kafka_config *cfg, struct kafka_consumer **out)
{
	int rc = config_check(cfg);
	if (rc != 0)
		return rc;
	struct kafka_consumer *c;
	rc = consumer_alloc(cfg, &c);
	if (rc != 0)
		return rc;
	rc = consumer_start(c, cfg);
	if (rc != 0) {
		consumer_free(c);
		return rc;
	}
	log_info("kafka", "consumer for %s in group %s on %s: %u worker(s), %u node(s)", c->topic,
		 cfg->group_id, cfg->brokers, c->worker_count, c->plan.node_count);
	*out = c;
	return 0;
}

/* kafka_config_check's handle only reports on its configuration, not on its first connects. */
static void kafka_check_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (strcmp(fac, "CONFWARN") == 0)
		kafka_log_cb(rk, level, fac, buf);
}

void kafka_config_from(const struct config *cfg, struct kafka_property *props,
		       struct kafka_config *out)
{
	size_t n = cfg->kafka_prop_count < CONFIG_KAFKA_PROPS_MAX ? cfg->kafka_prop_count
								  : CONFIG_KAFKA_PROPS_MAX;
	for (size_t i = 0; i < n; i++)
		props[i] = (struct kafka_property){cfg->kafka_props[i].key, cfg->kafka_props[i].value};
	*out = (struct kafka_config){
		.brokers = cfg->brokers,
		.topic = cfg->topic,
		.group_id = cfg->group_id,
		.properties = props,
		.property_count = n,
		.worker_count = (uint32_t)cfg->cpu_count,
	};
}

int kafka_config_check(const struct config *cfg)
{
	struct kafka_property props[CONFIG_KAFKA_PROPS_MAX];
	struct kafka_config kcfg;
	kafka_config_from(cfg, props, &kcfg);
	int rc = config_check(&kcfg);
	if (rc != 0)
		return rc;
	rd_kafka_conf_t *conf = conf_build(NULL, &kcfg);
	if (conf == NULL)
		return -EINVAL;
	rd_kafka_conf_set_log_cb(conf, kafka_check_log_cb);
	/* rd_kafka_new checks what no single property shows (combinations, files it loads). The
	 * handle is never polled, so no callback runs; it is destroyed before it has joined. */
	char errstr[KAFKA_ERRSTR_MAX];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		log_error("kafka", "creating the consumer: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	return 0;
}

int kafka_consumer_poll(struct kafka_consumer *c, int timeout_ms)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
	if (m != NULL) {
		client_error(c); /* an error event, or a message no worker could take */
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warn("kafka", "consumer: %s%s%s [%" PRId32 "]: %s",
				 rd_kafka_err2name(m->err), m->rkt != NULL ? " " : "",
				 m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : "", m->partition,
				 rd_kafka_message_errstr(m));
		else
			/* Only a partition without a worker queue can deliver here. */
			log_error("kafka", "%s [%" PRId32 "] offset %" PRId64 " reached the control "
				  "thread, not a worker: dropped", rd_kafka_topic_name(m->rkt),
				  m->partition, m->offset);
		rd_kafka_message_destroy(m);
	}
	char errstr[KAFKA_ERRSTR_MAX];
	if (rd_kafka_fatal_error(c->rk, errstr, sizeof(errstr)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -EIO;
	return 0;
}

int kafka_commit(struct kafka_consumer *c, const struct kafka_offset *offsets, size_t count)
{
	if (count == 0)
		return 0;
	if (count > KAFKA_PARTITIONS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		if (offsets[i].partition < 0 || offsets[i].offset < 0) {
			log_error("kafka", "commit %s [%" PRId32 "] offset %" PRId64 ": invalid",
				  c->topic, offsets[i].partition, offsets[i].offset);
			return -EINVAL;
		}
	}
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)count);
	for (size_t i = 0; i < count; i++)
		rd_kafka_topic_partition_list_add(list, c->topic, offsets[i].partition)->offset =
			offsets[i].offset;
	rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, list, 1 /* async */);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_error(c);
		log_error("kafka", "commit of %zu partition(s): %s", count, rd_kafka_err2str(err));
		return -EIO;
	}
	return 0;
}

static int64_t kafka_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The commit result on q, waiting until deadline_ms (kafka_now_ms). NULL: none came. */
static rd_kafka_event_t *commit_result_wait(rd_kafka_queue_t *q, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - kafka_now_ms();
		if (left <= 0)
			return NULL;
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)left);
		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT)
			return ev;
		if (ev)
			rd_kafka_event_destroy(ev);
	}
}

/* Checks a sync commit's answer partition by partition; records what was committed. */
static int commit_result_check(struct kafka_consumer *c, rd_kafka_event_t *ev, size_t count)
{
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_error(c);
		log_warn("kafka", "commit of %zu partition(s): %s", count, rd_kafka_err2str(err));
		return -EIO;
	}
	const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
	int rc = 0;
	for (int i = 0; res && i < res->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &res->elems[i];
		if (tp->err) {
			client_error(c);
			log_warn("kafka", "commit %s [%" PRId32 "] offset %" PRId64 ": %s",
				 c->topic, tp->partition, tp->offset, rd_kafka_err2str(tp->err));
			rc = -EIO;
		} else {
			committed_raise(c, tp->partition, tp->offset);
		}
	}
	return rc;
}

int kafka_commit_sync(struct kafka_consumer *c, const struct kafka_offset *offsets, size_t count)
{
	if (count == 0)
		return 0;
	if (count > KAFKA_PARTITIONS_MAX)
		return -EINVAL;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)count);
	for (size_t i = 0; i < count; i++)
		rd_kafka_topic_partition_list_add(list, c->topic, offsets[i].partition)->offset =
			offsets[i].offset;
	/* On a queue of its own rather than rd_kafka_commit(..., 0), which waits as long as the
	 * coordinator stays away (session.timeout.ms and more during a broker outage), and holds
	 * the stop that called it that long. */
	rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
	int64_t deadline = kafka_now_ms() + KAFKA_COMMIT_SYNC_TIMEOUT_MS;
	rd_kafka_resp_err_t err = rd_kafka_commit_queue(c->rk, list, q, NULL, NULL);
	rd_kafka_topic_partition_list_destroy(list);
	int rc = 0;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_error(c);
		log_warn("kafka", "commit of %zu partition(s): %s", count, rd_kafka_err2str(err));
		rc = -EIO;
		goto out_destroy_queue;
	}
	rd_kafka_event_t *ev = commit_result_wait(q, deadline);
	if (!ev) {
		client_error(c);
		log_warn("kafka", "commit of %zu partition(s): no answer within %d ms; the "
			 "manifest holds the offsets", count, KAFKA_COMMIT_SYNC_TIMEOUT_MS);
		rc = -ETIMEDOUT;
		goto out_destroy_queue;
	}
	rc = commit_result_check(c, ev, count);
	rd_kafka_event_destroy(ev);
out_destroy_queue:
	rd_kafka_queue_destroy(q);
	return rc;
}

int64_t kafka_committed(struct kafka_consumer *c, int32_t partition, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, c->topic, partition);
	rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, list, timeout_ms);
	int64_t offset = RD_KAFKA_OFFSET_INVALID;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
		offset = list->elems[0].offset;
	else
		log_warn("kafka", "committed offset of %s [%" PRId32 "]: %s", c->topic, partition,
			 rd_kafka_err2str(err ? err : list->elems[0].err));
	rd_kafka_topic_partition_list_destroy(list);
	return offset;
}

/*
 * Whether m is of a partition held at an offset. The pause and seek of the hold already make
 * librdkafka drop what it fetched before (a version barrier); this keeps a message fetched
 * before the hold from ever reaching the worker, whatever the timing of the two.
 */
static bool message_held(const struct kafka_consumer *c, const rd_kafka_message_t *m)
{
	return m->partition >= 0 && m->partition < KAFKA_PARTITIONS_MAX &&
	       atomic_load_explicit(&c->slots[m->partition].held, memory_order_relaxed);
}

/*
 * Removes error and EOF events, and messages of held partitions, from msgs[0..n), keeping data
 * messages in order.
 */
static size_t worker_filter(struct kafka_consumer *c, uint32_t worker, rd_kafka_message_t **msgs,
			    size_t n)
{
	struct kafka_worker *w = &c->workers[worker];
	bool holding = atomic_load_explicit(&w->held, memory_order_relaxed) != 0;
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		rd_kafka_message_t *m = msgs[i];
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && holding && message_held(c, m)) {
			rd_kafka_message_destroy(m); /* fetched again from the hold's offset */
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			msgs[kept++] = m;
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			atomic_fetch_add_explicit(&w->eof_total, 1, memory_order_relaxed);
			if (c->hooks.partition_eof != NULL)
				c->hooks.partition_eof(c->hooks.ctx, worker, m->partition, m->offset);
		} else {
			atomic_fetch_add_explicit(&w->errors_total, 1, memory_order_relaxed);
			log_error("kafka", "worker %u: %s [%" PRId32 "] offset %" PRId64 ": %s",
				  worker, m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : c->topic,
				  m->partition, m->offset, rd_kafka_message_errstr(m));
		}
		rd_kafka_message_destroy(m);
	}
	atomic_fetch_add_explicit(&w->messages_total, kept, memory_order_relaxed);
	return kept;
}

/*
 * Moves up to max messages of worker's queue into msgs: waits up to timeout_ms for the first
 * message (0: no wait), then takes what else is already there without waiting. Returns the
 * number of data messages (0 on timeout), or -EIO if librdkafka failed (logged).
 */
static int kafka_worker_poll(struct kafka_consumer *c, uint32_t worker, rd_kafka_message_t **msgs,
			     size_t max, int timeout_ms)
{
	if (worker >= c->worker_count || max == 0)
		return -EINVAL;
	rd_kafka_queue_t *q = c->workers[worker].queue;
	/*
	 * rd_kafka_consume_batch_queue() waits until the batch is full or the timeout passes;
	 * to return as soon as anything is there, wait for one message, then take the rest.
	 */
	ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs, max);
	if (n == 0 && timeout_ms != 0) {
		n = rd_kafka_consume_batch_queue(q, timeout_ms, msgs, 1);
		if (n == 1 && max > 1) {
			ssize_t more = rd_kafka_consume_batch_queue(q, 0, msgs + 1, max - 1);
			n = more < 0 ? n : n + more;
		}
	}
	if (n < 0) {
		log_error("kafka", "worker %u: consume: %s", worker,
			  rd_kafka_err2str(rd_kafka_last_error()));
		return -EIO;
	}
	return (int)worker_filter(c, worker, msgs, (size_t)n);
}

static void kafka_messages_destroy(rd_kafka_message_t **msgs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		rd_kafka_message_destroy(msgs[i]);
}

void kafka_worker_wake(struct kafka_consumer *c, uint32_t worker)
{
	if (worker < c->worker_count)
		rd_kafka_queue_yield(c->workers[worker].queue);
}

static int worker_set_paused(struct kafka_consumer *c, uint32_t worker, bool pause)
{
	if (worker >= c->worker_count)
		return -EINVAL;
	char who[32];
	snprintf(who, sizeof(who), "worker %u", worker);
	pthread_mutex_lock(&c->lock);
	c->workers[worker].paused = pause;
	size_t count = 0;
	for (int32_t p = 0; p < KAFKA_PARTITIONS_MAX; p++) {
		/* A held partition is paused already, at its hold's offset, and stays so. */
		if (c->slots[p].queue != NULL && c->slots[p].worker == worker &&
		    !atomic_load_explicit(&c->slots[p].held, memory_order_relaxed))
			c->pause_scratch[count++] = p;
	}
	int rc = pause_partitions_locked(c, c->pause_scratch, count, pause, who);
	pthread_mutex_unlock(&c->lock);
	log_debug("kafka", "worker %u: %s %zu partition(s)", worker, pause ? "paused" : "resumed",
		  count);
	return rc;
}

int kafka_worker_pause(struct kafka_consumer *c, uint32_t worker)
{
	return worker_set_paused(c, worker, true);
}

int kafka_worker_resume(struct kafka_consumer *c, uint32_t worker)
{
	return worker_set_paused(c, worker, false);
}

/* Seeks partition p to offset, asynchronously (the worker does not wait for librdkafka's
 * threads). Called with c->lock held. Returns 0 or -EIO (logged). */
static int seek_locked(struct kafka_consumer *c, int32_t p, int64_t offset, const char *who)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, c->topic, p)->offset = offset;
	rd_kafka_error_t *error = rd_kafka_seek_partitions(c->rk, list, 0);
	/* Asynchronous (no timeout): a seek under way is what was asked for. */
	rd_kafka_resp_err_t err = list->elems[0].err;
	int rc = 0;
	if (error != NULL ||
	    (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__IN_PROGRESS)) {
		client_error(c);
		log_error("kafka", "%s: seek %s [%" PRId32 "] to offset %" PRId64 ": %s", who,
			  c->topic, p, offset,
			  error ? rd_kafka_error_string(error) : rd_kafka_err2str(list->elems[0].err));
		rc = -EIO;
	}
	if (error != NULL)
		rd_kafka_error_destroy(error);
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

int kafka_partition_pause(struct kafka_consumer *c, uint32_t worker, int32_t partition,
			  int64_t offset)
{
	if (worker >= c->worker_count || partition < 0 || partition >= KAFKA_PARTITIONS_MAX ||
	    offset < 0)
		return -EINVAL;
	char who[48];
	snprintf(who, sizeof(who), "worker %u, hold", worker);
	pthread_mutex_lock(&c->lock);
	struct kafka_slot *slot = &c->slots[partition];
	int rc = -ENOENT;
	if (slot->queue == NULL || slot->worker != worker)
		goto out_unlock;
	bool held = atomic_load_explicit(&slot->held, memory_order_relaxed);
	/* Paused first, so nothing is fetched from the old position after the seek; a partition
	 * of a paused worker, or one held already, is paused. */
	rc = 0;
	bool pausing = !held && !c->workers[worker].paused;
	if (pausing)
		rc = pause_partitions_locked(c, &partition, 1, true, who);
	if (rc == 0) {
		rc = seek_locked(c, partition, offset, who);
		if (rc < 0 && pausing) /* not held: as it was */
			pause_partitions_locked(c, &partition, 1, false, who);
	}
	if (rc == 0 && !held) {
		atomic_store_explicit(&slot->held, true, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->workers[worker].held, 1, memory_order_relaxed);
	}
out_unlock:
	pthread_mutex_unlock(&c->lock);
	if (rc == 0)
		log_debug("kafka", "worker %u: %s [%" PRId32 "] held at offset %" PRId64, worker,
			  c->topic, partition, offset);
	return rc;
}

int kafka_partition_resume(struct kafka_consumer *c, uint32_t worker, int32_t partition)
{
	if (worker >= c->worker_count || partition < 0 || partition >= KAFKA_PARTITIONS_MAX)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	struct kafka_slot *slot = &c->slots[partition];
	if (slot->queue != NULL && slot->worker == worker)
		slot_unhold_locked(c, partition);
	pthread_mutex_unlock(&c->lock);
	log_debug("kafka", "worker %u: %s [%" PRId32 "] released", worker, c->topic, partition);
	return 0;
}

void kafka_worker_stats(const struct kafka_consumer *c, uint32_t worker,
			struct kafka_worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (worker >= c->worker_count)
		return;
	struct kafka_worker *w = &c->workers[worker];
	out->messages_total = atomic_load_explicit(&w->messages_total, memory_order_relaxed);
	out->eof_total = atomic_load_explicit(&w->eof_total, memory_order_relaxed);
	out->errors_total = atomic_load_explicit(&w->errors_total, memory_order_relaxed);
}

uint64_t kafka_client_errors(const struct kafka_consumer *c)
{
	return atomic_load_explicit(&c->client_errors, memory_order_relaxed);
}

int kafka_partition_worker(struct kafka_consumer *c, int32_t partition)
{
	if (partition < 0 || partition >= KAFKA_PARTITIONS_MAX)
		return -ENOENT;
	pthread_mutex_lock(&c->lock);
	int worker = c->slots[partition].queue != NULL ? (int)c->slots[partition].worker : -ENOENT;
	pthread_mutex_unlock(&c->lock);
	return worker;
}

uint32_t kafka_assigned_count(struct kafka_consumer *c)
{
	pthread_mutex_lock(&c->lock);
	uint32_t count = c->assigned_count;
	pthread_mutex_unlock(&c->lock);
	return count;
}

int kafka_partition_state(struct kafka_consumer *c, int32_t partition,
			  struct kafka_partition_state *out)
{
	if (partition < 0 || partition >= KAFKA_PARTITIONS_MAX)
		return -ENOENT;
	pthread_mutex_lock(&c->lock);
	bool assigned = c->slots[partition].queue != NULL;
	uint32_t worker = c->slots[partition].worker;
	pthread_mutex_unlock(&c->lock);
	if (!assigned)
		return -ENOENT;
	int64_t low = -1, high = -1;
	if (rd_kafka_get_watermark_offsets(c->rk, c->topic, partition, &low, &high) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		low = high = -1;
	*out = (struct kafka_partition_state){
		.partition = partition,
		.worker = worker,
		.committed = atomic_load_explicit(&c->committed[partition], memory_order_relaxed),
		.low = low,
		.high = high,
	};
	return 0;
}

const char *kafka_err_str(int err)
{
	return rd_kafka_err2str((rd_kafka_resp_err_t)err);
}

const char *kafka_version_str(void)
{
	return rd_kafka_version_str();
}

const char *kafka_rebalance_protocol(struct kafka_consumer *c)
{
	return rd_kafka_rebalance_protocol(c->rk);
}

int kafka_property_get(struct kafka_consumer *c, const char *key, char *value, size_t cap)
{
	size_t len = cap;
	rd_kafka_conf_res_t res = rd_kafka_conf_get(rd_kafka_conf(c->rk), key, value, &len);
	if (res == RD_KAFKA_CONF_UNKNOWN)
		return -ENOENT;
	if (res != RD_KAFKA_CONF_OK || len > cap)
		return -ENOSPC;
	return 0;
}

/* ---- a worker's queue as its message source ---- */

static void kafka_source_release(struct source *src)
{
	struct kafka_source *ks = (struct kafka_source *)src;
	kafka_messages_destroy(ks->msgs, ks->held);
	ks->held = 0;
}

static int kafka_source_poll(struct source *src, struct source_msg *out, uint32_t max,
			     uint32_t timeout_ms)
{
	struct kafka_source *ks = (struct kafka_source *)src;
	kafka_source_release(src);
	int n = kafka_worker_poll(ks->c, ks->worker, ks->msgs, max < ks->cap ? max : ks->cap,
				  (int)timeout_ms);
	if (n < 0)
		return n;
	ks->held = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		const rd_kafka_message_t *km = ks->msgs[i];
		int64_t ts = rd_kafka_message_timestamp(km, NULL);
		out[i] = (struct source_msg){
			.data = km->payload ? km->payload : "",
			.len = (uint32_t)(km->len > UINT32_MAX ? UINT32_MAX : km->len),
			.partition = km->partition,
			.offset = km->offset,
			.kafka_ms = ts < 0 ? 0 : ts,
			.key = km->key,
			.key_len = (uint32_t)(km->key_len > UINT32_MAX ? UINT32_MAX : km->key_len),
			.handle = km,
		};
	}
	return n;
}

static int kafka_source_pause(struct source *src)
{
	struct kafka_source *ks = (struct kafka_source *)src;
	return kafka_worker_pause(ks->c, ks->worker);
}

static int kafka_source_resume(struct source *src)
{
	struct kafka_source *ks = (struct kafka_source *)src;
	return kafka_worker_resume(ks->c, ks->worker);
}

static int kafka_source_pause_partition(struct source *src, const struct source_msg *m)
{
	struct kafka_source *ks = (struct kafka_source *)src;
	return kafka_partition_pause(ks->c, ks->worker, m->partition, m->offset);
}

static int kafka_source_resume_partition(struct source *src, int32_t partition)
{
	struct kafka_source *ks = (struct kafka_source *)src;
	return kafka_partition_resume(ks->c, ks->worker, partition);
}

static void kafka_source_wake(struct source *src)
{
	struct kafka_source *ks = (struct kafka_source *)src;
	kafka_worker_wake(ks->c, ks->worker);
}

/* Headers are parsed by librdkafka on the first call for a message, not before. */
static int kafka_source_header(const struct source *src, const struct source_msg *m,
			       size_t index, struct source_header *out)
{
	(void)src;
	rd_kafka_headers_t *hdrs;
	if (!m->handle || rd_kafka_message_headers(m->handle, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -ENOENT;
	const char *name;
	const void *value;
	size_t size;
	if (rd_kafka_header_get_all(hdrs, index, &name, &value, &size) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return -ENOENT;
	*out = (struct source_header){name, value, size};
	return 0;
}

static void kafka_source_destroy(struct source *src)
{
	kafka_source_release(src);
	free(src);
}

static const struct source_ops kafka_source_ops = {
	.poll = kafka_source_poll,
	.release = kafka_source_release,
	.pause = kafka_source_pause,
	.resume = kafka_source_resume,
	.pause_partition = kafka_source_pause_partition,
	.resume_partition = kafka_source_resume_partition,
	.wake = kafka_source_wake,
	.header = kafka_source_header,
	.destroy = kafka_source_destroy,
};

int kafka_source_new(struct kafka_consumer *c, uint32_t worker, uint32_t batch_max,
		     struct source **out)
{
	if (worker >= c->worker_count || batch_max == 0)
		return -EINVAL;
	struct kafka_source *ks = calloc(1, sizeof(*ks) + batch_max * sizeof(ks->msgs[0]));
	if (!ks)
		return -ENOMEM;
	ks->base = (struct source){.ops = &kafka_source_ops, .topic = c->topic,
				   .fetches_ahead = true};
	ks->c = c;
	ks->worker = worker;
	ks->cap = batch_max;
	*out = &ks->base;
	return 0;
}

/*
 * Revokes through the rebalance hook, sends pending commits and leaves the group, serving the
 * close's callbacks on this thread, for at most KAFKA_CLOSE_TIMEOUT_MS: rd_kafka_consumer_close()
 * waits while commits sent before it are outstanding, for as long as the coordinator stays away
 * (session.timeout.ms and more in a broker outage). Sets *closed when the close completed.
 * Returns 0, or -EIO when leaving the group failed (logged); a close that timed out is logged
 * and returns 0: everything sealed is in the manifest.
 */
static int consumer_leave(struct kafka_consumer *c, bool *closed)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
	rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->rk, q);
	int rc = 0;
	if (error) {
		client_error(c);
		log_error("kafka", "leaving group: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		rc = -EIO;
		goto out_destroy_queue;
	}
	int64_t deadline = kafka_now_ms() + KAFKA_CLOSE_TIMEOUT_MS;
	while (!rd_kafka_consumer_closed(c->rk)) {
		int64_t left = deadline - kafka_now_ms();
		if (left <= 0)
			break;
		rd_kafka_queue_poll_callback(q, left < 100 ? (int)left : 100);
	}
	*closed = rd_kafka_consumer_closed(c->rk);
	if (!*closed) {
		client_error(c);
		log_warn("kafka", "leaving group: not done within %d ms (is the coordinator "
			 "reachable?): closing without it; the group gives the partitions away "
			 "after session.timeout.ms", KAFKA_CLOSE_TIMEOUT_MS);
	}
out_destroy_queue:
	rd_kafka_queue_destroy(q);
	return rc;
}

int kafka_consumer_close(struct kafka_consumer *c)
{
	if (c == NULL)
		return 0;
	c->closing = true;
	bool closed = false;
	int rc = consumer_leave(c, &closed);
	if (!closed && rc == 0) {
		/* rd_kafka_destroy() waits for the coordinator as the close did (with or without
		 * RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE): the handle, its threads and c are left to
		 * the process's exit, which is what follows a close. */
		log_warn("kafka", "consumer for %s left to the process's exit", c->topic);
		return 0;
	}
	/* A partition still here was never revoked (e.g. close failed): drop it now. */
	for (int32_t p = 0; p < KAFKA_PARTITIONS_MAX; p++) {
		if (c->slots[p].queue == NULL)
			continue;
		rd_kafka_queue_forward(c->slots[p].queue, NULL);
		rd_kafka_queue_destroy(c->slots[p].queue);
		c->slots[p].queue = NULL;
	}
	c->assigned_count = 0;
	/*
	 * Messages left in a worker queue hold references on their partitions, and a queue
	 * reference held here keeps them alive: both must go before rd_kafka_destroy().
	 */
	for (uint32_t w = 0; w < c->worker_count; w++) {
		queue_drain(c->workers[w].queue);
		rd_kafka_queue_destroy(c->workers[w].queue);
	}
	rd_kafka_destroy(c->rk);
	log_info("kafka", "consumer for %s closed", c->topic);
	consumer_free(c);
	return rc;
}

/* ---- changelog ---- */

#define KAFKA_CHANGELOG_BATCH_MAX 4096

struct kafka_changelog {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *queue;     /* every partition's messages */
	uint32_t started;            /* partitions [0, started) are being read */
	char *topic;
	uint32_t held;
	rd_kafka_message_t *msgs[KAFKA_CHANGELOG_BATCH_MAX];
};

int kafka_changelog_new(const struct kafka_changelog_config *cfg, struct kafka_changelog **out)
{
	struct kafka_changelog *c = calloc(1, sizeof(*c));
	if (!c || !(c->topic = strdup(cfg->topic))) {
		free(c);
		return -ENOMEM;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* An offset that is gone (the topic's retention took it) restarts the partition at its
	 * oldest message, never at its end: every message after it is part of the table. */
	bool ok = conf_set(conf, "bootstrap.servers", cfg->brokers) == 0 &&
		  conf_set(conf, "enable.auto.commit", "false") == 0 &&
		  conf_set(conf, "enable.auto.offset.store", "false") == 0 &&
		  conf_set(conf, "auto.offset.reset", "earliest") == 0;
	for (size_t i = 0; ok && i < cfg->property_count; i++)
		ok = conf_set(conf, cfg->properties[i].key, cfg->properties[i].value) == 0;
	char errstr[KAFKA_ERRSTR_MAX];
	if (ok) {
		rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
		rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
		c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
		if (!c->rk)
			log_error("kafka", "changelog %s: creating the consumer: %s", cfg->topic, errstr);
	}
	if (!c->rk) {
		rd_kafka_conf_destroy(conf);
		free(c->topic);
		free(c);
		return -EINVAL;
	}
	/* The partition consumer (no group, no subscription): each partition read from the
	 * offset given into one queue. */
	c->queue = rd_kafka_queue_new(c->rk);
	c->rkt = rd_kafka_topic_new(c->rk, c->topic, NULL);
	if (!c->queue || !c->rkt) {
		kafka_changelog_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

int kafka_changelog_partitions(struct kafka_changelog *c, int timeout_ms)
{
	rd_kafka_topic_t *rkt = c->rkt;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rkt ? rd_kafka_metadata(c->rk, 0, rkt, &md, timeout_ms)
				      : RD_KAFKA_RESP_ERR__FAIL;
	int n = -EIO;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err)
		n = md->topics[0].partition_cnt;
	else
		log_warn("kafka", "changelog %s: metadata: %s", c->topic,
			 rd_kafka_err2str(err ? err : md && md->topic_cnt ? md->topics[0].err
								       : RD_KAFKA_RESP_ERR__FAIL));
	if (md)
		rd_kafka_metadata_destroy(md);
	return n;
}

static void changelog_stop_all(struct kafka_changelog *c)
{
	for (uint32_t p = 0; p < c->started; p++)
		rd_kafka_consume_stop(c->rkt, (int32_t)p);
	c->started = 0;
}

int kafka_changelog_assign(struct kafka_changelog *c, const int64_t *offsets, uint32_t count)
{
	if (count > KAFKA_PARTITIONS_MAX)
		return -EINVAL;
	changelog_stop_all(c);
	for (uint32_t p = 0; p < count; p++) {
		int64_t off = offsets[p] >= 0 ? offsets[p] : RD_KAFKA_OFFSET_BEGINNING;
		if (rd_kafka_consume_start_queue(c->rkt, (int32_t)p, off, c->queue) != 0) {
			log_error("kafka", "changelog %s [%u]: start at %" PRId64 ": %s", c->topic, p,
				  off, rd_kafka_err2str(rd_kafka_last_error()));
			changelog_stop_all(c);
			return -EIO;
		}
		c->started = p + 1;
	}
	return 0;
}

int kafka_changelog_poll(struct kafka_changelog *c, struct kafka_changelog_msg *out, uint32_t max,
			 int timeout_ms)
{
	kafka_messages_destroy(c->msgs, c->held);
	c->held = 0;
	if (max > KAFKA_CHANGELOG_BATCH_MAX)
		max = KAFKA_CHANGELOG_BATCH_MAX;
	ssize_t n = rd_kafka_consume_batch_queue(c->queue, 0, c->msgs, max);
	if (n == 0 && timeout_ms > 0) {
		n = rd_kafka_consume_batch_queue(c->queue, timeout_ms, c->msgs, 1);
		if (n == 1 && max > 1) {
			ssize_t more = rd_kafka_consume_batch_queue(c->queue, 0, c->msgs + 1, max - 1);
			n = more < 0 ? n : n + more;
		}
	}
	if (n < 0) {
		log_error("kafka", "changelog %s: consume: %s", c->topic,
			  rd_kafka_err2str(rd_kafka_last_error()));
		return -EIO;
	}
	uint32_t kept = 0;
	for (ssize_t i = 0; i < n; i++) {
		rd_kafka_message_t *m = c->msgs[i];
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("kafka", "changelog %s [%" PRId32 "]: %s", c->topic,
					 m->partition, rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		c->msgs[kept] = m;
		out[kept++] = (struct kafka_changelog_msg){
			.key = m->key, .key_len = m->key_len,
			.value = m->payload, .value_len = m->payload ? m->len : 0,
			.partition = m->partition, .offset = m->offset,
			.timestamp_ms = rd_kafka_message_timestamp(m, NULL),
		};
	}
	c->held = kept;
	return (int)kept;
}

int kafka_changelog_watermarks(struct kafka_changelog *c, int32_t partition, int64_t *low,
			       int64_t *high, int timeout_ms)
{
	rd_kafka_resp_err_t err =
		timeout_ms > 0
			? rd_kafka_query_watermark_offsets(c->rk, c->topic, partition, low, high,
							   timeout_ms)
			: rd_kafka_get_watermark_offsets(c->rk, c->topic, partition, low, high);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		*low = *high = -1;
		return -EIO;
	}
	return 0;
}

void kafka_changelog_cluster_id(struct kafka_changelog *c, char *out, size_t cap, int timeout_ms)
{
	char *id = rd_kafka_clusterid(c->rk, timeout_ms);
	snprintf(out, cap, "%s", id ? id : "");
	if (id)
		rd_kafka_mem_free(c->rk, id);
}

void kafka_changelog_free(struct kafka_changelog *c)
{
	if (!c)
		return;
	kafka_messages_destroy(c->msgs, c->held);
	if (c->rkt)
		changelog_stop_all(c);
	if (c->queue) {
		queue_drain(c->queue);
		rd_kafka_queue_destroy(c->queue);
	}
	if (c->rkt)
		rd_kafka_topic_destroy(c->rkt);
	rd_kafka_destroy(c->rk);
	free(c->topic);
	free(c);
}
