/*
 * enrichd-broker: an embedded Kafka broker for the demo and the tests.
 *
 * Wraps librdkafka's mock cluster, which speaks the Kafka protocol over TCP on the loopback
 * interface: producers, consumers, consumer groups (join/sync/heartbeat/leave) and offset
 * commits work from any real client (kcat, librdkafka, ...). It is not a durable broker: data
 * lives in memory, and each partition keeps only about 5 MB (older message sets are dropped
 * first, like retention).
 *
 * Prints the bootstrap list ("127.0.0.1:PORT,...") on stdout as its first line once the topics
 * exist, writes it to --port-file too (atomically, through a rename), then runs until SIGTERM or
 * SIGINT, destroys the cluster, removes the port file and exits 0. SIGUSR1 takes every broker
 * down (connections refused, data kept) and SIGUSR2 brings them back: outages for tests.
 *
 * Limits of the mock group coordinator (librdkafka 2.0.2), which tests must design around:
 *   - The first member of an empty group is answered after 3 s. Any later join or leave makes
 *     the coordinator wait session.timeout.ms - 1 s (44 s with the default 45 s) before the
 *     next election, also for a consumer joining a group whose last member just left; a
 *     cooperative rebalance that moves partitions takes two such rounds. Tests set
 *     session.timeout.ms to a few seconds on every member.
 *   - OffsetCommit is refused with REBALANCE_IN_PROGRESS while the group is joining or
 *     syncing, so an eager (range, roundrobin) member cannot commit from its revoke callback,
 *     which a real broker accepts. Cooperative revocations happen once the group is up again,
 *     and their commits succeed.
 *   - When the leader's SyncGroup arrives before a follower's, the follower gets
 *     INVALID_REQUEST and rejoins: it is served one round (session.timeout.ms - 1 s) later.
 *   - The group uses the leader's first partition.assignment.strategy; a member whose first
 *     strategy differs aborts this process (an assertion in the mock). Give every member the
 *     same strategy.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "log.h"

#define BROKER_TOPICS_MAX 64
#define BROKER_TOPIC_NAME_MAX 249 /* Kafka's own limit */
#define BROKER_BROKERS_MAX 16
#define BROKER_PARTITIONS_MAX 1024
#define BROKER_REPLICATION_MAX 3
#define BROKER_PATH_MAX 4096

struct broker_options {
	char topics[BROKER_TOPICS_MAX][BROKER_TOPIC_NAME_MAX + 1];
	size_t topic_count;
	int partitions;
	int brokers;
	const char *port_file;
	const char *debug;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: enrichd-broker --topic NAME[,NAME...] [--topic NAME ...] [--partitions N]\n"
		"                      [--brokers N] [--port-file FILE] [--debug CONTEXTS]\n"
		"\n"
		"Runs an in-memory Kafka cluster (librdkafka mock) on 127.0.0.1 until SIGTERM/SIGINT.\n"
		"SIGUSR1 takes every broker down (data kept), SIGUSR2 brings them back up.\n"
		"The first line on stdout is the bootstrap list, e.g. 127.0.0.1:40123,127.0.0.1:40125\n"
		"\n"
		"  -t, --topic NAME      topic to create (repeatable, or a comma list; at most %d)\n"
		"  -p, --partitions N    partitions per topic (1..%d, default 12)\n"
		"  -b, --brokers N       mock brokers (1..%d, default 3)\n"
		"  -f, --port-file FILE  also write the bootstrap list to FILE when ready\n"
		"  -d, --debug CONTEXTS  librdkafka debug contexts for the cluster (e.g. mock,cgrp)\n"
		"  -h, --help            this text\n"
		"\n"
		"Each partition keeps about 5 MB; older messages are dropped first. Consumer groups\n"
		"work with limits (see the top of tools/broker.c): give every member the same\n"
		"partition.assignment.strategy and a short session.timeout.ms.\n",
		BROKER_TOPICS_MAX, BROKER_PARTITIONS_MAX, BROKER_BROKERS_MAX);
}

/* Parses a decimal int in [min, max]. Returns 0 or -EINVAL. */
static int parse_int(const char *text, int min, int max, int *out)
{
	char *end = NULL;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
		return -EINVAL;
	*out = (int)value;
	return 0;
}

/* Adds each name of a comma list. Returns 0 or -EINVAL (logged). */
static int add_topics(struct broker_options *opts, const char *list)
{
	const char *p = list;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len > BROKER_TOPIC_NAME_MAX) {
			log_error("broker", "--topic '%s': empty or longer than %d bytes", list,
				  BROKER_TOPIC_NAME_MAX);
			return -EINVAL;
		}
		if (opts->topic_count == BROKER_TOPICS_MAX) {
			log_error("broker", "--topic: more than %d topics", BROKER_TOPICS_MAX);
			return -EINVAL;
		}
		memcpy(opts->topics[opts->topic_count], p, len);
		opts->topics[opts->topic_count][len] = '\0';
		opts->topic_count++;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* Returns 0, 1 when the program should exit 0 (help), or -EINVAL (usage error, reported). */
static int parse_args(int argc, char **argv, struct broker_options *opts)
{
	static const struct option options[] = {
		{"topic", required_argument, NULL, 't'},
		{"partitions", required_argument, NULL, 'p'},
		{"brokers", required_argument, NULL, 'b'},
		{"port-file", required_argument, NULL, 'f'},
		{"debug", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "t:p:b:f:d:h", options, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (add_topics(opts, optarg) != 0)
				return -EINVAL;
			break;
		case 'p':
			if (parse_int(optarg, 1, BROKER_PARTITIONS_MAX, &opts->partitions) != 0) {
				log_error("broker", "--partitions '%s': expected 1..%d", optarg,
					  BROKER_PARTITIONS_MAX);
				return -EINVAL;
			}
			break;
		case 'b':
			if (parse_int(optarg, 1, BROKER_BROKERS_MAX, &opts->brokers) != 0) {
				log_error("broker", "--brokers '%s': expected 1..%d", optarg,
					  BROKER_BROKERS_MAX);
				return -EINVAL;
			}
			break;
		case 'f':
			opts->port_file = optarg;
			break;
		case 'd':
			opts->debug = optarg;
			log_level_set(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		log_error("broker", "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (opts->topic_count == 0) {
		log_error("broker", "at least one --topic is required");
		return -EINVAL;
	}
	return 0;
}

/* librdkafka log lines (the cluster's own client and the mock brokers) go through log.h. */
static void broker_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	log_msg(log_level_of_syslog(level), "broker", "rdkafka %s: %s", fac, buf);
}

/*
 * The mock brokers bind to loopback addresses; refuse to run if any listener is elsewhere, so
 * a test can never expose the cluster by accident.
 */
static int check_loopback(const char *bootstraps)
{
	const char *p = bootstraps;
	for (;;) {
		if (strncmp(p, "127.0.0.1:", 10) != 0) {
			log_error("broker", "mock listener '%s' is not on 127.0.0.1", bootstraps);
			return -EADDRNOTAVAIL;
		}
		const char *comma = strchr(p, ',');
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* Writes text + newline to path through a temporary file and a rename. Returns 0 or -errno. */
static int write_port_file(const char *path, const char *text)
{
	char tmp[BROKER_PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	int rc = 0;
	if (fprintf(f, "%s\n", text) < 0)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* The handle the cluster lives in: a producer that never produces. */
static rd_kafka_t *cluster_handle_new(const char *debug)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, broker_log_cb);
	/* Warnings and worse only, unless debugging: the handle itself never connects. */
	if (debug == NULL &&
	    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		log_error("broker", "log_level: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (debug != NULL &&
	    rd_kafka_conf_set(conf, "debug", debug, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		log_error("broker", "--debug '%s': %s", debug, errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		log_error("broker", "rd_kafka_new: %s", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Takes every mock broker down (up = false) or back up: clients see connections refused. */
static void brokers_set(rd_kafka_mock_cluster_t *mcluster, int brokers, bool up)
{
	for (int id = 1; id <= brokers; id++) {
		rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mcluster, id)
					     : rd_kafka_mock_broker_set_down(mcluster, id);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_error("broker", "broker %d %s: %s", id, up ? "up" : "down",
				  rd_kafka_err2str(err));
	}
	log_info("broker", "%s: %d broker(s) %s", up ? "SIGUSR2" : "SIGUSR1", brokers,
		 up ? "up again" : "down (data kept)");
}

/*
 * Blocks until SIGTERM or SIGINT (blocked in every thread, taken here), serving SIGUSR1 (every
 * broker down) and SIGUSR2 (back up) meanwhile. Returns the stop signal.
 */
static int wait_for_stop(const sigset_t *stop, rd_kafka_mock_cluster_t *mcluster, int brokers)
{
	for (;;) {
		int sig = 0;
		int rc = sigwait(stop, &sig);
		if (rc == 0 && (sig == SIGUSR1 || sig == SIGUSR2)) {
			brokers_set(mcluster, brokers, sig == SIGUSR2);
			continue;
		}
		if (rc == 0)
			return sig;
		if (rc != EINTR) {
			log_error("broker", "sigwait: %s", strerror(rc));
			return -rc;
		}
	}
}

int main(int argc, char **argv)
{
	static struct broker_options opts = {.partitions = 12, .brokers = 3};
	int rc = parse_args(argc, argv, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : 2;

	/*
	 * Block the stop signals before librdkafka starts its threads: they inherit the mask, so
	 * the signals are only ever taken by sigwait() below.
	 */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGUSR1);
	sigaddset(&stop, SIGUSR2);
	rc = pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (rc != 0) {
		log_error("broker", "pthread_sigmask: %s", strerror(rc));
		return 1;
	}

	/* A client that goes away mid-write must not kill the broker. */
	signal(SIGPIPE, SIG_IGN);

	int status = 1;
	rd_kafka_t *rk = cluster_handle_new(opts.debug);
	if (rk == NULL)
		return 1;
	rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, opts.brokers);
	if (mcluster == NULL) {
		log_error("broker", "rd_kafka_mock_cluster_new(%d brokers) failed", opts.brokers);
		goto out_destroy_handle;
	}
	const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
	if (check_loopback(bootstraps) != 0)
		goto out_destroy_cluster;

	int replication = opts.brokers < BROKER_REPLICATION_MAX ? opts.brokers
								 : BROKER_REPLICATION_MAX;
	for (size_t i = 0; i < opts.topic_count; i++) {
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, opts.topics[i],
								     opts.partitions, replication);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			log_error("broker", "topic '%s' (%d partitions): %s", opts.topics[i],
				  opts.partitions, rd_kafka_err2str(err));
			goto out_destroy_cluster;
		}
	}

	if (opts.port_file != NULL) {
		rc = write_port_file(opts.port_file, bootstraps);
		if (rc != 0) {
			log_error("broker", "--port-file '%s': %s", opts.port_file, strerror(-rc));
			goto out_destroy_cluster;
		}
	}
	if (printf("%s\n", bootstraps) < 0 || fflush(stdout) != 0) {
		log_error("broker", "writing the bootstrap list to stdout: %s", strerror(errno));
		goto out_remove_port_file;
	}
	log_info("broker", "%d broker(s) on %s, %zu topic(s) of %d partition(s)", opts.brokers,
		 bootstraps, opts.topic_count, opts.partitions);

	int sig = wait_for_stop(&stop, mcluster, opts.brokers);
	if (sig > 0) {
		log_info("broker", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		status = 0;
	}

out_remove_port_file:
	if (opts.port_file != NULL)
		unlink(opts.port_file);
out_destroy_cluster:
	rd_kafka_mock_cluster_destroy(mcluster);
out_destroy_handle:
	rd_kafka_destroy(rk);
	return status;
}
