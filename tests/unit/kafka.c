/*
 * kafka: the consumer against an in-process mock cluster (librdkafka's, on 127.0.0.1), with
 * both rebalance protocols: placement of every message, the start-offset hook, commits, the
 * revoke hook on close, each message's key and headers through the worker sources; and
 * configuration errors that name the offending key.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka.h"
#include "numa_place.h"

#define TEST_TOPIC "events"
#define TEST_PARTITIONS 6
#define TEST_PER_PARTITION 10
#define TEST_WORKERS 3
#define TEST_DEADLINE_MS 20000

struct cluster {
	rd_kafka_t *producer;
	rd_kafka_mock_cluster_t *mock;
	const char *bootstraps;
};

struct observed {
	struct kafka_consumer *consumer;
	struct source *sources[TEST_WORKERS];
	const struct place_plan *plan;
	int64_t next[TEST_PARTITIONS];  /* next offset expected per partition */
	int64_t first[TEST_PARTITIONS]; /* first offset received, -1 none */
	int received;
	int misplaced;
	int out_of_order;
	int bad_keys, bad_headers;
	size_t assigned_calls, assigned_partitions;
	size_t revoked_partitions;
	enum kafka_revoke_reason revoke_reason;
	int commits_ok, commits_failed;
	int64_t start_p2; /* start offset the hook gives partition 2 */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A one-broker mock cluster with TEST_TOPIC holding TEST_PER_PARTITION messages per partition. */
static void cluster_start(struct cluster *cl)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	cr_assert_eq(rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)),
		     RD_KAFKA_CONF_OK);
	/* The producer is also the mock's host handle; point it at the mock once it exists. */
	cl->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	cr_assert_not_null(cl->producer, "%s", errstr);
	cl->mock = rd_kafka_mock_cluster_new(cl->producer, 1);
	cr_assert_not_null(cl->mock);
	cl->bootstraps = rd_kafka_mock_cluster_bootstraps(cl->mock);
	cr_assert_eq(strncmp(cl->bootstraps, "127.0.0.1:", 10), 0, "%s", cl->bootstraps);
	cr_assert_eq(rd_kafka_mock_topic_create(cl->mock, TEST_TOPIC, TEST_PARTITIONS, 1), 0);
	cr_assert_eq(rd_kafka_brokers_add(cl->producer, cl->bootstraps), 1);
	for (int i = 0; i < TEST_PARTITIONS * TEST_PER_PARTITION; i++) {
		char value[32], key[32], hdr[32];
		int len = snprintf(value, sizeof(value), "m%d", i);
		int key_len = snprintf(key, sizeof(key), "k%d", i);
		int hdr_len = snprintf(hdr, sizeof(hdr), "v%d", i);
		rd_kafka_resp_err_t err = rd_kafka_producev(
			cl->producer, RD_KAFKA_V_TOPIC(TEST_TOPIC),
			RD_KAFKA_V_PARTITION(i % TEST_PARTITIONS),
			RD_KAFKA_V_VALUE(value, (size_t)len), RD_KAFKA_V_KEY(key, (size_t)key_len),
			RD_KAFKA_V_HEADER("h", hdr, (ssize_t)hdr_len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		cr_assert_eq(err, 0, "produce: %s", rd_kafka_err2str(err));
	}
	cr_assert_eq(rd_kafka_flush(cl->producer, 10000), 0, "flush");
}

static void cluster_stop(struct cluster *cl)
{
	rd_kafka_mock_cluster_destroy(cl->mock);
	rd_kafka_destroy(cl->producer);
}

static int64_t hook_start_offset(void *ctx, int32_t partition, int64_t committed)
{
	struct observed *ob = ctx;
	(void)committed;
	return partition == 2 ? ob->start_p2 : KAFKA_OFFSET_INVALID;
}

static void hook_assigned(void *ctx, const int32_t *partitions, size_t count)
{
	struct observed *ob = ctx;
	ob->assigned_calls++;
	ob->assigned_partitions += count;
	for (size_t i = 0; i < count; i++)
		cr_assert_eq(kafka_partition_worker(ob->consumer, partitions[i]),
			     (int)place_partition_worker(ob->plan, partitions[i]));
}

static void hook_revoke(void *ctx, const int32_t *partitions, size_t count,
			enum kafka_revoke_reason reason)
{
	struct observed *ob = ctx;
	ob->revoked_partitions += count;
	ob->revoke_reason = reason;
	/* Still assigned while the hook runs. */
	for (size_t i = 0; i < count; i++)
		cr_assert_geq(kafka_partition_worker(ob->consumer, partitions[i]), 0);
}

static void hook_commit_done(void *ctx, int32_t partition, int64_t offset, int err)
{
	struct observed *ob = ctx;
	if (err == 0 && offset == TEST_PER_PARTITION)
		ob->commits_ok++;
	else
		ob->commits_failed++;
}

/* Counts a message whose key or header does not carry the number of its value "m<i>". */
static void check_key_and_headers(struct observed *ob, const struct source *src,
				  const struct source_msg *m)
{
	char want[32];
	int i = atoi(m->data + 1);
	int len = snprintf(want, sizeof(want), "k%d", i);
	if (!m->key || m->key_len != (uint32_t)len || memcmp(m->key, want, (size_t)len) != 0)
		ob->bad_keys++;
	struct source_header h;
	len = snprintf(want, sizeof(want), "v%d", i);
	if (source_header(src, m, 0, &h) != 0 || strcmp(h.name, "h") != 0 ||
	    h.len != (size_t)len || memcmp(h.value, want, (size_t)len) != 0 ||
	    source_header(src, m, 1, &h) != -ENOENT)
		ob->bad_headers++;
}

/* Reads every worker queue once (from this thread) and checks each message. */
static void drain_workers(struct observed *ob)
{
	struct source_msg msgs[32];
	for (uint32_t w = 0; w < TEST_WORKERS; w++) {
		int n = source_poll(ob->sources[w], msgs, 32, 0);
		cr_assert_geq(n, 0);
		for (int i = 0; i < n; i++) {
			int32_t p = msgs[i].partition;
			cr_assert(p >= 0 && p < TEST_PARTITIONS);
			if (place_partition_worker(ob->plan, p) != w)
				ob->misplaced++;
			if (ob->first[p] < 0)
				ob->first[p] = msgs[i].offset;
			else if (msgs[i].offset != ob->next[p])
				ob->out_of_order++;
			ob->next[p] = msgs[i].offset + 1;
			ob->received++;
			check_key_and_headers(ob, ob->sources[w], &msgs[i]);
		}
		source_release(ob->sources[w]);
	}
}

/*
 * Consumes everything with the given extra properties, checks placement, order and the start
 * hook, commits the end offsets and closes.
 */
static void consume_all(const struct kafka_property *props, size_t prop_count,
			const char *protocol)
{
	struct cluster cl;
	cluster_start(&cl);

	struct place_topology topo;
	struct place_plan plan;
	char err[PLACE_ERR_MAX];
	cr_assert_eq(place_topology_parse(&topo, "0:0-1;1:2-3", err, sizeof(err)), 0, "%s", err);
	const int32_t cpus[TEST_WORKERS] = {0, 1, 2};
	cr_assert_eq(place_plan_build(&plan, &topo, cpus, TEST_WORKERS, err, sizeof(err)), 0);

	struct observed ob = {.plan = &plan, .start_p2 = 4, .revoke_reason = -1};
	for (int p = 0; p < TEST_PARTITIONS; p++)
		ob.first[p] = -1;
	struct kafka_config cfg = {
		.brokers = cl.bootstraps,
		.topic = TEST_TOPIC,
		.group_id = "unit",
		.properties = props,
		.property_count = prop_count,
		.worker_count = TEST_WORKERS,
		.placement = &plan,
		.hooks = {.ctx = &ob,
			  .start_offset = hook_start_offset,
			  .assigned = hook_assigned,
			  .revoke = hook_revoke,
			  .commit_done = hook_commit_done},
	};
	cr_assert_eq(kafka_consumer_new(&cfg, &ob.consumer), 0);
	for (uint32_t w = 0; w < TEST_WORKERS; w++)
		cr_assert_eq(kafka_source_new(ob.consumer, w, 32, &ob.sources[w]), 0);

	const int want = TEST_PARTITIONS * TEST_PER_PARTITION - (int)ob.start_p2;
	int64_t deadline = now_ms() + TEST_DEADLINE_MS;
	while (ob.received < want && now_ms() < deadline) {
		cr_assert_eq(kafka_consumer_poll(ob.consumer, 20), 0);
		drain_workers(&ob);
	}
	cr_assert_eq(ob.received, want, "received %d of %d", ob.received, want);
	cr_assert_str_eq(kafka_rebalance_protocol(ob.consumer), protocol);
	cr_assert_eq(ob.misplaced, 0);
	cr_assert_eq(ob.out_of_order, 0);
	cr_assert_eq(ob.bad_keys, 0);
	cr_assert_eq(ob.bad_headers, 0);
	cr_assert_eq(ob.assigned_partitions, TEST_PARTITIONS);
	cr_assert_eq(kafka_assigned_count(ob.consumer), TEST_PARTITIONS);
	for (int p = 0; p < TEST_PARTITIONS; p++) {
		cr_assert_eq(ob.first[p], p == 2 ? ob.start_p2 : 0, "partition %d first", p);
		cr_assert_eq(ob.next[p], TEST_PER_PARTITION, "partition %d end", p);
	}

	struct kafka_offset offsets[TEST_PARTITIONS];
	for (int p = 0; p < TEST_PARTITIONS; p++)
		offsets[p] = (struct kafka_offset){p, ob.next[p]};
	cr_assert_eq(kafka_commit(ob.consumer, offsets, TEST_PARTITIONS), 0);
	while (ob.commits_ok + ob.commits_failed < TEST_PARTITIONS && now_ms() < deadline)
		kafka_consumer_poll(ob.consumer, 20);
	cr_assert_eq(ob.commits_ok, TEST_PARTITIONS, "%d commits failed", ob.commits_failed);

	struct kafka_offset bad = {0, -5};
	cr_assert_eq(kafka_commit(ob.consumer, &bad, 1), -EINVAL);

	/* What the engine reports of a partition: its worker, the commit, the watermarks. */
	struct kafka_partition_state ps;
	cr_assert_eq(kafka_partition_state(ob.consumer, 1, &ps), 0);
	cr_expect_eq(ps.worker, place_partition_worker(&plan, 1));
	cr_expect_eq(ps.committed, TEST_PER_PARTITION);
	cr_expect_eq(kafka_partition_state(ob.consumer, TEST_PARTITIONS, &ps), -ENOENT);

	for (uint32_t w = 0; w < TEST_WORKERS; w++)
		source_destroy(ob.sources[w]);
	cr_assert_eq(kafka_consumer_close(ob.consumer), 0);
	cr_assert_eq(ob.revoked_partitions, TEST_PARTITIONS);
	cr_assert_eq(ob.revoke_reason, KAFKA_REVOKE_CLOSE);
	cluster_stop(&cl);
}

Test(kafka, cooperative_sticky, .timeout = 60)
{
	consume_all(NULL, 0, "COOPERATIVE");
}

Test(kafka, eager_range, .timeout = 60)
{
	const struct kafka_property props[] = {{"partition.assignment.strategy", "range"}};
	consume_all(props, 1, "EAGER");
}

Test(kafka, eager_roundrobin, .timeout = 60)
{
	const struct kafka_property props[] = {{"partition.assignment.strategy", "roundrobin"}};
	consume_all(props, 1, "EAGER");
}

/* kafka_consumer_new must fail with -EINVAL and log a line naming `needle`. */
static void expect_config_error(const struct kafka_config *cfg, const char *needle)
{
	struct kafka_consumer *c = NULL;
	cr_assert_eq(kafka_consumer_new(cfg, &c), -EINVAL);
	cr_assert_null(c);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, needle), "stderr '%s' does not name '%s'", buf, needle);
}

static struct kafka_config base_config(void)
{
	return (struct kafka_config){.brokers = "127.0.0.1:9", .topic = "t", .group_id = "g",
				     .worker_count = 2};
}

/* The base configuration, with librdkafka's own log off (nothing listens on its broker). */
static struct kafka_config quiet_config(void)
{
	static const struct kafka_property quiet[] = {{"log_level", "0"}};
	struct kafka_config cfg = base_config();
	cfg.properties = quiet;
	cfg.property_count = 1;
	return cfg;
}

/* The base configuration with these properties must be refused, naming needle. */
static void expect_properties_refused(const struct kafka_property *props, size_t n,
				      const char *needle)
{
	struct kafka_config cfg = base_config();
	cfg.properties = props;
	cfg.property_count = n;
	expect_config_error(&cfg, needle);
}

Test(kafka, unknown_property_named, .init = cr_redirect_stderr)
{
	const struct kafka_property props[] = {{"fetch.wait.max.ms", "10"},
					       {"no.such.property", "1"}};
	expect_properties_refused(props, 2, "property 'no.such.property'");
}

Test(kafka, bad_value_named, .init = cr_redirect_stderr)
{
	const struct kafka_property props[] = {{"session.timeout.ms", "soon"}};
	expect_properties_refused(props, 1, "property 'session.timeout.ms'");
}

Test(kafka, managed_property_named, .init = cr_redirect_stderr)
{
	const struct kafka_property props[] = {{"enable.auto.commit", "true"}};
	expect_properties_refused(props, 1, "property 'enable.auto.commit'");
}

Test(kafka, bad_fields_named, .init = cr_redirect_stderr)
{
	struct kafka_config cfg = base_config();
	cfg.worker_count = 0;
	expect_config_error(&cfg, "worker count 0");

	cfg = base_config();
	cfg.topic = "";
	expect_config_error(&cfg, "topic is empty");

	struct place_plan plan;
	cr_assert_eq(place_plan_single_node(&plan, 3), 0);
	cfg = base_config();
	cfg.placement = &plan;
	expect_config_error(&cfg, "placement plan has 3 workers");
}

Test(kafka, create_and_close_without_broker, .timeout = 30)
{
	/* Nothing listens on the discard port: creation, polling and close must still work. */
	struct kafka_config cfg = quiet_config();
	struct kafka_consumer *c = NULL;
	cr_assert_eq(kafka_consumer_new(&cfg, &c), 0);
	cr_assert_eq(kafka_consumer_poll(c, 10), 0);
	struct source *src = NULL;
	struct source_msg msgs[4];
	cr_assert_eq(kafka_source_new(c, 1, 4, &src), 0);
	cr_assert_eq(source_poll(src, msgs, 4, 10), 0);
	source_destroy(src);
	cr_assert_eq(kafka_source_new(c, 2, 4, &src), -EINVAL);
	cr_assert_eq(kafka_worker_pause(c, 0), 0);
	cr_assert_eq(kafka_worker_resume(c, 0), 0);
	cr_assert_eq(kafka_partition_worker(c, 0), -ENOENT);
	cr_assert_eq(kafka_assigned_count(c), 0);
	kafka_worker_wake(c, 0);
	cr_assert_eq(kafka_consumer_close(c), 0);
}

/* Reads a librdkafka property of the consumer's effective configuration. */
static void expect_property(struct kafka_consumer *c, const char *key, const char *want)
{
	char value[64];
	cr_assert_eq(kafka_property_get(c, key, value, sizeof(value)), 0, "%s", key);
	cr_expect_str_eq(value, want, "%s", key);
}

Test(kafka, queued_min_messages_defaults_to_the_worker_queue, .timeout = 30)
{
	/* Partition queues are forwarded to one queue per worker, which librdkafka's per-partition
	 * queued.min.messages counts: enrichd's default keeps it from pausing the fetcher at
	 * 100000 messages per worker; an operator's property still wins. */
	struct kafka_config cfg = quiet_config();
	struct kafka_consumer *c = NULL;
	cr_assert_eq(kafka_consumer_new(&cfg, &c), 0);
	expect_property(c, "queued.min.messages", "10000000");
	cr_assert_eq(kafka_consumer_close(c), 0);

	const struct kafka_property own[] = {{"log_level", "0"}, {"queued.min.messages", "5000"}};
	cfg.properties = own;
	cfg.property_count = 2;
	cr_assert_eq(kafka_consumer_new(&cfg, &c), 0);
	expect_property(c, "queued.min.messages", "5000");
	cr_assert_eq(kafka_consumer_close(c), 0);
}
