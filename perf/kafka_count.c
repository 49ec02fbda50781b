/*
 * bench-kafka-count: the Kafka path's limit: a plain librdkafka consumer that only counts.
 *
 *   bench-kafka-count --brokers B --topic T --group G --count N [--timeout S] [-X key=value]...
 *
 * Joins group G with the settings enrichd's consumer uses (cooperative-sticky assignment,
 * auto.offset.reset=earliest, no auto commit, plus the -X properties, e.g. the session timeout
 * the embedded broker needs), takes every partition it is assigned, and consumes batches from
 * the consumer queue on one thread until N messages arrived (or S seconds passed, default 120).
 * Messages are destroyed unread. Prints, as `key=value` pairs:
 *
 *   kafka_count: messages=N assigned_ms=<epoch ms> last_ms=<epoch ms> seconds=... msgs_per_s=...
 *                cpu_s=...
 *
 * where seconds runs from the assignment (the rebalance callback) to the N-th message and cpu_s
 * is the CPU time the process (librdkafka's threads included) took meanwhile. Exits 1
 * if fewer than N messages arrived in time, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "gen.h"

#define PROPS_MAX 32
#define BATCH_MAX 4096
#define POLL_MS 50

struct count_state {
	int64_t assigned_ms; /* 0: not assigned yet */
	double assigned_cpu_s; /* process CPU time at assignment */
	int assigned_partitions;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double clock_s(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static void count_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct count_state *st = opaque;
	rd_kafka_error_t *error = NULL;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		error = rd_kafka_incremental_assign(rk, parts);
		if (st->assigned_ms == 0 && parts->cnt > 0) {
			st->assigned_ms = wall_ms();
			st->assigned_cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		}
		st->assigned_partitions += parts->cnt;
	} else {
		error = rd_kafka_incremental_unassign(rk, parts);
		st->assigned_partitions -= parts->cnt;
	}
	if (error) {
		fprintf(stderr, "bench-kafka-count: rebalance: %s\n", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "bench-kafka-count: %s=%s: %s\n", key, value, errstr);
		return -EINVAL;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: bench-kafka-count --brokers B --topic T --group G --count N "
		     "[--timeout S] [-X key=value]...\n");
}

int main(int argc, char **argv)
{
	const char *brokers = NULL, *topic = NULL, *group = NULL;
	const char *props[PROPS_MAX];
	size_t prop_count = 0;
	uint64_t want = 0;
	double timeout_s = 120;
	static const struct option opts[] = {
		{"brokers", required_argument, NULL, 'b'}, {"topic", required_argument, NULL, 't'},
		{"group", required_argument, NULL, 'g'},   {"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "X:", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			brokers = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'n':
			want = strtoull(optarg, NULL, 10);
			break;
		case 'T':
			timeout_s = strtod(optarg, NULL);
			break;
		case 'X':
			if (prop_count == PROPS_MAX || !strchr(optarg, '=')) {
				fprintf(stderr, "bench-kafka-count: -X key=value (at most %d)\n",
					PROPS_MAX);
				return 2;
			}
			props[prop_count++] = optarg;
			break;
		default: /* 'h' too */
			return gen_usage_end(usage, c);
		}
	}
	if (!brokers || !topic || !group || want == 0 || !(timeout_s > 0) || optind != argc) {
		usage(stderr);
		return 2;
	}

	struct count_state st = {0};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf_set(conf, "partition.assignment.strategy", "cooperative-sticky") ||
	    conf_set(conf, "auto.offset.reset", "earliest"))
		goto out_conf;
	for (size_t i = 0; i < prop_count; i++) {
		char kv[512];
		snprintf(kv, sizeof(kv), "%s", props[i]);
		char *eq = strchr(kv, '=');
		*eq = '\0';
		if (conf_set(conf, kv, eq + 1))
			goto out_conf;
	}
	if (conf_set(conf, "bootstrap.servers", brokers) || conf_set(conf, "group.id", group) ||
	    conf_set(conf, "enable.auto.commit", "false") ||
	    conf_set(conf, "enable.auto.offset.store", "false"))
		goto out_conf;
	rd_kafka_conf_set_opaque(conf, &st);
	rd_kafka_conf_set_rebalance_cb(conf, count_rebalance);

	char errstr[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "bench-kafka-count: %s\n", errstr);
		goto out_conf;
	}
	/* From here rk owns conf. */
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	int rc = 1;
	if (err) {
		fprintf(stderr, "bench-kafka-count: subscribe %s: %s\n", topic, rd_kafka_err2str(err));
		goto out_destroy;
	}

	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
	static rd_kafka_message_t *msgs[BATCH_MAX];
	uint64_t got = 0, errors = 0;
	int64_t last_ms = 0;
	double cpu_s = 0;
	double deadline = mono_s() + timeout_s;
	while (got < want && mono_s() < deadline) {
		ssize_t n = rd_kafka_consume_batch_queue(q, POLL_MS, msgs, BATCH_MAX);
		for (ssize_t i = 0; i < n; i++) {
			if (msgs[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR)
				got++;
			else if (msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				errors++;
			rd_kafka_message_destroy(msgs[i]);
		}
		if (n > 0 && got >= want) {
			last_ms = wall_ms();
			cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		}
	}
	rd_kafka_queue_destroy(q);
	if (got < want) {
		fprintf(stderr, "bench-kafka-count: %" PRIu64 " of %" PRIu64 " messages in %.0f s "
			"(%" PRIu64 " errors)\n", got, want, timeout_s, errors);
	} else {
		double secs = (double)(last_ms - st.assigned_ms) / 1000.0;
		printf("kafka_count: messages=%" PRIu64 " assigned_ms=%" PRId64 " last_ms=%" PRId64
		       " seconds=%.3f msgs_per_s=%.0f cpu_s=%.3f partitions=%d errors=%" PRIu64 "\n",
		       got, st.assigned_ms, last_ms, secs, secs > 0 ? (double)got / secs : 0,
		       cpu_s - st.assigned_cpu_s, st.assigned_partitions, errors);
		rc = 0;
	}
	rd_kafka_consumer_close(rk);

out_destroy:
	rd_kafka_destroy(rk);
	return rc;

out_conf:
	rd_kafka_conf_destroy(conf);
	return 2;
}
