/*
 * enrichd-kafka-probe: drives the kafka module (engine/kafka.c) end to end against a broker and
 * checks what the workers receive.
 *
 * It joins a consumer group with N worker threads (not pinned), consumes until every expected
 * message has arrived (or, with --until-eof, until every assigned partition is at its end), then
 * optionally commits and closes. It checks that every message arrives exactly once, with no
 * gap, at the worker the placement plan names for its partition, starting at the expected
 * offset. Prints one line per partition on stdout:
 *
 *   partition P worker W first F last L count C
 *
 * then "total N". Problems are printed on stderr as "FAIL: ..." and make the exit status 1;
 * usage errors exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"
#include "numa_place.h"

#define PROBE_PARTITIONS_MAX 256
#define PROBE_OFFSETS_MAX (1 << 20) /* offsets tracked per partition */
#define PROBE_BATCH_MAX 64
#define PROBE_PAUSE_BATCH 8
#define PROBE_PAUSE_MS 400
#define PROBE_LINE_MAX 256

enum probe_commit { PROBE_COMMIT_NONE, PROBE_COMMIT_HALF, PROBE_COMMIT_END };

struct probe_partition {
	uint8_t *seen;       /* per offset: times received */
	int64_t expect_first; /* -1: no expectation */
	int64_t expect_end;   /* -1: not expected */
	int64_t start;        /* from --start, else KAFKA_OFFSET_INVALID */
	int64_t first;        /* -1: nothing received */
	int64_t last;
	uint64_t count;
	int64_t eof_offset;   /* last EOF reported, -1 none */
	int worker;           /* worker that received it, -1 none */
	uint64_t duplicates;
	uint64_t wrong_worker;
	uint64_t out_of_order;
	uint64_t while_paused;
	bool assigned;
	bool committed;
	int commit_err;
	int64_t commit_offset;
};

struct probe {
	const char *brokers, *topic, *group;
	uint32_t workers;
	const char *topology;
	const char *cpus;
	const char *expect_end_file;
	const char *expect_first_file;
	const char *commit_file;
	const char *status_file;
	const char *stop_file;
	enum probe_commit commit;
	bool commit_on_revoke;
	bool until_eof;
	int pause_worker; /* -1: none */
	int pause_until_assigned; /* -1: none */
	int timeout_ms;
	int quiet_ms;
	struct kafka_property props[KAFKA_PROPERTIES_MAX];
	size_t prop_count;

	struct place_plan plan;
	struct kafka_consumer *consumer;
	pthread_mutex_t lock;
	struct probe_partition parts[PROBE_PARTITIONS_MAX];
	uint64_t total;
	_Atomic uint64_t failures;
	_Atomic bool stop;
	_Atomic int paused_worker; /* worker paused now, -1: none */
	uint32_t commits_pending;
	uint64_t revokes;
};

struct worker_arg {
	struct probe *probe;
	uint32_t index;
	struct source *src; /* its queue */
};

static void fail(struct probe *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct probe *pr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	pr->failures++;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records one message (called by worker threads). */
static void record(struct probe *pr, uint32_t worker, int32_t partition, int64_t offset)
{
	pthread_mutex_lock(&pr->lock);
	if (partition < 0 || partition >= PROBE_PARTITIONS_MAX || offset < 0 ||
	    offset >= PROBE_OFFSETS_MAX) {
		fail(pr, "partition %d offset %" PRId64 " outside what the probe tracks",
		     (int)partition, offset);
		goto out_unlock;
	}
	struct probe_partition *pp = &pr->parts[partition];
	if (pp->seen == NULL) {
		pp->seen = calloc(PROBE_OFFSETS_MAX, 1);
		if (pp->seen == NULL) {
			fail(pr, "out of memory");
			goto out_unlock;
		}
	}
	if (pp->seen[offset] != 0)
		pp->duplicates++;
	if (pp->seen[offset] < 255)
		pp->seen[offset]++;
	uint32_t planned = place_partition_worker(&pr->plan, partition);
	if (worker != planned)
		pp->wrong_worker++;
	if (pp->worker < 0)
		pp->worker = (int)worker;
	if (pp->first < 0)
		pp->first = offset;
	else if (offset != pp->last + 1)
		pp->out_of_order++;
	pp->last = offset;
	pp->count++;
	pr->total++;
	if ((int)worker == atomic_load(&pr->paused_worker))
		pp->while_paused++;
out_unlock:
	pthread_mutex_unlock(&pr->lock);
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct probe *pr = wa->probe;
	struct source_msg msgs[PROBE_BATCH_MAX];
	bool pause_done = false;
	/* Bounded by the stop flag, which the control thread sets by its deadline. */
	while (!atomic_load(&pr->stop)) {
		bool pausing = !pause_done && (int)wa->index == pr->pause_worker;
		uint32_t max = pausing ? PROBE_PAUSE_BATCH : PROBE_BATCH_MAX;
		int n = source_poll(wa->src, msgs, max, 100);
		if (n < 0) {
			pthread_mutex_lock(&pr->lock);
			fail(pr, "worker %u: source_poll: %s", wa->index, strerror(-n));
			pthread_mutex_unlock(&pr->lock);
			break;
		}
		for (int i = 0; i < n; i++)
			record(pr, wa->index, msgs[i].partition, msgs[i].offset);
		source_release(wa->src);
		if (pausing && n > 0) {
			/* Whatever is still queued is dropped now and fetched again on resume. */
			if (kafka_worker_pause(pr->consumer, wa->index) != 0)
				fail(pr, "worker %u: pause failed", wa->index);
			atomic_store(&pr->paused_worker, (int)wa->index);
			int64_t until = now_ms() + PROBE_PAUSE_MS;
			while (now_ms() < until) {
				n = source_poll(wa->src, msgs, PROBE_BATCH_MAX, 50);
				for (int i = 0; i < n; i++)
					record(pr, wa->index, msgs[i].partition, msgs[i].offset);
				source_release(wa->src);
			}
			atomic_store(&pr->paused_worker, -1);
			if (kafka_worker_resume(pr->consumer, wa->index) != 0)
				fail(pr, "worker %u: resume failed", wa->index);
			pause_done = true;
		}
	}
	return NULL;
}

static int64_t hook_start_offset(void *ctx, int32_t partition, int64_t committed)
{
	struct probe *pr = ctx;
	(void)committed;
	if (partition < 0 || partition >= PROBE_PARTITIONS_MAX)
		return KAFKA_OFFSET_INVALID;
	return pr->parts[partition].start;
}

static void hook_assigned(void *ctx, const int32_t *partitions, size_t count)
{
	struct probe *pr = ctx;
	pthread_mutex_lock(&pr->lock);
	for (size_t i = 0; i < count; i++) {
		int32_t p = partitions[i];
		if (p < 0 || p >= PROBE_PARTITIONS_MAX)
			continue;
		pr->parts[p].assigned = true;
		int w = kafka_partition_worker(pr->consumer, p);
		if (w != (int)place_partition_worker(&pr->plan, p))
			fail(pr, "partition %d forwarded to worker %d, plan says %u", (int)p, w,
			     place_partition_worker(&pr->plan, p));
	}
	pthread_mutex_unlock(&pr->lock);
	fprintf(stderr, "probe: %zu partition(s) assigned\n", count);
}

static void hook_revoke(void *ctx, const int32_t *partitions, size_t count,
			enum kafka_revoke_reason reason)
{
	struct probe *pr = ctx;
	struct kafka_offset offsets[PROBE_PARTITIONS_MAX];
	size_t n = 0;
	pthread_mutex_lock(&pr->lock);
	pr->revokes++;
	for (size_t i = 0; i < count; i++) {
		int32_t p = partitions[i];
		if (p < 0 || p >= PROBE_PARTITIONS_MAX)
			continue;
		pr->parts[p].assigned = false;
		if (pr->parts[p].first >= 0 && n < PROBE_PARTITIONS_MAX)
			offsets[n++] = (struct kafka_offset){p, pr->parts[p].last + 1};
	}
	if (pr->commit_on_revoke && reason == KAFKA_REVOKE_REBALANCE)
		pr->commits_pending += (uint32_t)n;
	pthread_mutex_unlock(&pr->lock);
	fprintf(stderr, "probe: %zu partition(s) revoked (reason %d)\n", count, (int)reason);
	if (pr->commit_on_revoke && reason == KAFKA_REVOKE_REBALANCE && n > 0 &&
	    kafka_commit(pr->consumer, offsets, n) != 0)
		fail(pr, "commit on revoke refused");
}

static void hook_commit_done(void *ctx, int32_t partition, int64_t offset, int err)
{
	struct probe *pr = ctx;
	pthread_mutex_lock(&pr->lock);
	if (pr->commits_pending > 0)
		pr->commits_pending--;
	if (partition >= 0 && partition < PROBE_PARTITIONS_MAX) {
		struct probe_partition *pp = &pr->parts[partition];
		pp->committed = err == 0;
		pp->commit_err = err;
		pp->commit_offset = offset;
	}
	pthread_mutex_unlock(&pr->lock);
	fprintf(stderr, "probe: commit partition %d offset %" PRId64 ": %s\n", (int)partition,
		offset, kafka_err_str(err));
}

static void hook_partition_eof(void *ctx, uint32_t worker, int32_t partition, int64_t offset)
{
	struct probe *pr = ctx;
	if (partition < 0 || partition >= PROBE_PARTITIONS_MAX)
		return;
	pthread_mutex_lock(&pr->lock);
	pr->parts[partition].eof_offset = offset;
	pthread_mutex_unlock(&pr->lock);
}

/* Reads "PARTITION OFFSET" lines into the chosen field. Returns 0 or -1 (reported). */
static int read_offsets_file(struct probe *pr, const char *path, bool end)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[PROBE_LINE_MAX];
	int rc = 0;
	for (int lineno = 1; fgets(line, sizeof(line), f) != NULL; lineno++) {
		int partition;
		int64_t offset;
		if (sscanf(line, "%d %" SCNd64, &partition, &offset) != 2 || partition < 0 ||
		    partition >= PROBE_PARTITIONS_MAX || offset < 0) {
			fprintf(stderr, "%s:%d: expected 'PARTITION OFFSET'\n", path, lineno);
			rc = -1;
			break;
		}
		if (end)
			pr->parts[partition].expect_end = offset;
		else
			pr->parts[partition].expect_first = offset;
	}
	fclose(f);
	return rc;
}

/* True when every expected message arrived (expect-end mode) or all assigned partitions
 * are at their end (until-eof mode). */
static bool probe_complete(struct probe *pr)
{
	bool complete = true;
	bool any = false;
	pthread_mutex_lock(&pr->lock);
	for (int p = 0; p < PROBE_PARTITIONS_MAX && complete; p++) {
		struct probe_partition *pp = &pr->parts[p];
		if (pr->until_eof) {
			if (!pp->assigned)
				continue;
			any = true;
			int64_t next = pp->first >= 0 ? pp->last + 1 : -1;
			if (pp->eof_offset < 0 || (next >= 0 && pp->eof_offset < next))
				complete = false;
		} else if (pp->expect_end >= 0) {
			any = true;
			int64_t from = pp->expect_first >= 0 ? pp->expect_first
				       : pp->start >= 0       ? pp->start
							      : 0;
			if (pp->expect_end > from && (pp->first < 0 || pp->last + 1 < pp->expect_end))
				complete = false;
		}
	}
	pthread_mutex_unlock(&pr->lock);
	return complete && any;
}

/*
 * Writes "complete|incomplete P P ..." (the partitions assigned now) to --status-file through a
 * rename, when it changed since the last write.
 */
static void write_status(struct probe *pr, bool complete)
{
	static char last[PROBE_PARTITIONS_MAX * 5 + 16];
	char text[sizeof(last)];
	if (pr->status_file == NULL)
		return;
	size_t len = (size_t)snprintf(text, sizeof(text), "%s", complete ? "complete" : "incomplete");
	pthread_mutex_lock(&pr->lock);
	for (int p = 0; p < PROBE_PARTITIONS_MAX && len < sizeof(text) - 6; p++) {
		if (pr->parts[p].assigned)
			len += (size_t)snprintf(text + len, sizeof(text) - len, " %d", p);
	}
	pthread_mutex_unlock(&pr->lock);
	if (strcmp(text, last) == 0)
		return;
	char tmp[PROBE_LINE_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", pr->status_file);
	FILE *f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0 ||
	    rename(tmp, pr->status_file) != 0) {
		fail(pr, "%s: %s", pr->status_file, strerror(errno));
		return;
	}
	memcpy(last, text, sizeof(last));
}

/* Checks the exactly-once, ordering, placement and start-offset properties. */
static void probe_verify(struct probe *pr)
{
	for (int p = 0; p < PROBE_PARTITIONS_MAX; p++) {
		struct probe_partition *pp = &pr->parts[p];
		if (pp->duplicates > 0)
			fail(pr, "partition %d: %" PRIu64 " duplicate message(s)", p, pp->duplicates);
		if (pp->wrong_worker > 0)
			fail(pr, "partition %d: %" PRIu64 " message(s) at a worker other than %u", p,
			     pp->wrong_worker, place_partition_worker(&pr->plan, p));
		if (pp->out_of_order > 0)
			fail(pr, "partition %d: %" PRIu64 " message(s) out of offset order", p,
			     pp->out_of_order);
		if (pp->while_paused > 0)
			fail(pr, "partition %d: %" PRIu64 " message(s) while its worker was paused",
			     p, pp->while_paused);
		int64_t want_first = pp->expect_first >= 0 ? pp->expect_first : pp->start;
		if (pp->first >= 0 && want_first >= 0 && pp->first != want_first)
			fail(pr, "partition %d: first offset %" PRId64 ", expected %" PRId64, p,
			     pp->first, want_first);
		if (pp->first >= 0 && pp->count != (uint64_t)(pp->last - pp->first + 1))
			fail(pr, "partition %d: %" PRIu64 " messages for offsets %" PRId64
			     "..%" PRId64, p, pp->count, pp->first, pp->last);
		if (!pr->until_eof && pp->expect_end >= 0) {
			int64_t from = want_first >= 0 ? want_first : 0;
			int64_t want = pp->expect_end - from;
			if (want < 0)
				want = 0;
			if (pp->count != (uint64_t)want)
				fail(pr, "partition %d: %" PRIu64 " messages, expected %" PRId64
				     " (offsets %" PRId64 "..%" PRId64 ")", p, pp->count, want, from,
				     pp->expect_end - 1);
		} else if (!pr->until_eof && pp->count > 0) {
			fail(pr, "partition %d: %" PRIu64 " unexpected message(s)", p, pp->count);
		}
	}
}

static void probe_print(struct probe *pr)
{
	for (int p = 0; p < PROBE_PARTITIONS_MAX; p++) {
		struct probe_partition *pp = &pr->parts[p];
		if (pp->count == 0)
			continue;
		printf("partition %d worker %d first %" PRId64 " last %" PRId64 " count %" PRIu64
		       "\n", p, pp->worker, pp->first, pp->last, pp->count);
	}
	printf("total %" PRIu64 "\n", pr->total);
	fflush(stdout);
}

/* Commits per --commit, waits for every result (bounded by deadline), writes --commit-file. */
static void probe_commit(struct probe *pr, int64_t deadline)
{
	struct kafka_offset offsets[PROBE_PARTITIONS_MAX];
	size_t n = 0;
	for (int p = 0; p < PROBE_PARTITIONS_MAX; p++) {
		struct probe_partition *pp = &pr->parts[p];
		if (pp->count == 0)
			continue;
		int64_t next = pr->commit == PROBE_COMMIT_END
				       ? pp->last + 1
				       : pp->first + (int64_t)(pp->count / 2);
		offsets[n++] = (struct kafka_offset){p, next};
	}
	if (n == 0)
		return;
	pthread_mutex_lock(&pr->lock);
	pr->commits_pending += (uint32_t)n;
	pthread_mutex_unlock(&pr->lock);
	if (kafka_commit(pr->consumer, offsets, n) != 0) {
		fail(pr, "kafka_commit refused");
		return;
	}
	for (;;) {
		pthread_mutex_lock(&pr->lock);
		uint32_t pending = pr->commits_pending;
		pthread_mutex_unlock(&pr->lock);
		if (pending == 0 || now_ms() > deadline)
			break;
		kafka_consumer_poll(pr->consumer, 50);
	}
	FILE *f = pr->commit_file != NULL ? fopen(pr->commit_file, "w") : NULL;
	if (pr->commit_file != NULL && f == NULL)
		fail(pr, "%s: %s", pr->commit_file, strerror(errno));
	for (size_t i = 0; i < n; i++) {
		struct probe_partition *pp = &pr->parts[offsets[i].partition];
		if (!pp->committed || pp->commit_offset != offsets[i].offset)
			fail(pr, "partition %d: commit of offset %" PRId64 " not confirmed (%s)",
			     (int)offsets[i].partition, offsets[i].offset,
			     kafka_err_str(pp->commit_err));
		else if (f != NULL)
			fprintf(f, "%d %" PRId64 "\n", (int)offsets[i].partition, offsets[i].offset);
	}
	if (f != NULL)
		fclose(f);
}

static int build_plan(struct probe *pr)
{
	struct place_topology topo;
	char err[PLACE_ERR_MAX];
	int rc = pr->topology != NULL ? place_topology_parse(&topo, pr->topology, err, sizeof(err))
				      : place_topology_detect(&topo, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "topology: %s\n", err);
		return rc;
	}
	int32_t cpus[PLACE_WORKERS_MAX];
	size_t count = 0;
	if (pr->cpus != NULL) {
		rc = place_cpulist_parse(pr->cpus, cpus, PLACE_WORKERS_MAX, &count, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "--cpus: %s\n", err);
			return rc;
		}
		if (count != pr->workers) {
			fprintf(stderr, "--cpus lists %zu CPUs for %u workers\n", count, pr->workers);
			return -EINVAL;
		}
	} else {
		for (uint32_t w = 0; w < pr->workers; w++)
			cpus[w] = (int32_t)w;
	}
	rc = place_plan_build(&pr->plan, &topo, cpus, pr->workers, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "placement: %s\n", err);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: enrichd-kafka-probe --brokers LIST --topic T --group G [options]\n"
		"  --workers N            worker threads (default 2)\n"
		"  --topology SPEC        NUMA override, e.g. '0:0;1:1' (default: this machine)\n"
		"  --cpus LIST            worker CPUs for the placement (default 0..N-1)\n"
		"  --start P:OFFSET       start partition P at OFFSET (repeatable)\n"
		"  --expect-end FILE      'P END' lines: consume each P up to END-1, nothing else\n"
		"  --expect-first FILE    'P OFFSET' lines: the first offset each P must start at\n"
		"  --until-eof            instead: stop when every assigned partition is at its end\n"
		"  --commit none|half|end commit after consuming (half: first + count/2)\n"
		"  --commit-file FILE     write the confirmed commits as 'P OFFSET' lines\n"
		"  --commit-on-revoke     commit revoked partitions from the revoke hook\n"
		"  --pause-worker W       worker W pauses after its first batch, then resumes\n"
		"  --pause-until-assigned W  worker W is paused before joining, resumed 0.5 s after\n"
		"                         the first assignment\n"
		"  --timeout-ms MS        give up after MS (default 30000)\n"
		"  --quiet-ms MS          after completing, keep reading MS for extras (default 500)\n"
		"  --status-file FILE     keep 'complete|incomplete P P ...' (assigned now) in FILE\n"
		"  --stop-file FILE       once complete, stay in the group until FILE exists\n"
		"  -X KEY=VALUE           librdkafka property (repeatable)\n"
		"  -v, --verbose          debug logging (with -X debug=cgrp, ... for librdkafka)\n");
}

static int parse_args(int argc, char **argv, struct probe *pr)
{
	static const struct option options[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"group", required_argument, NULL, 'g'},
		{"workers", required_argument, NULL, 'w'},
		{"topology", required_argument, NULL, 'T'},
		{"cpus", required_argument, NULL, 'C'},
		{"start", required_argument, NULL, 's'},
		{"expect-end", required_argument, NULL, 'e'},
		{"expect-first", required_argument, NULL, 'f'},
		{"until-eof", no_argument, NULL, 'E'},
		{"commit", required_argument, NULL, 'c'},
		{"commit-file", required_argument, NULL, 'F'},
		{"commit-on-revoke", no_argument, NULL, 'R'},
		{"pause-worker", required_argument, NULL, 'P'},
		{"pause-until-assigned", required_argument, NULL, 'U'},
		{"timeout-ms", required_argument, NULL, 'o'},
		{"quiet-ms", required_argument, NULL, 'q'},
		{"status-file", required_argument, NULL, 'S'},
		{"stop-file", required_argument, NULL, 'Z'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "b:t:g:X:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'v': log_level_set(LOG_LEVEL_DEBUG); break;
		case 'S': pr->status_file = optarg; break;
		case 'Z': pr->stop_file = optarg; break;
		case 'b': pr->brokers = optarg; break;
		case 't': pr->topic = optarg; break;
		case 'g': pr->group = optarg; break;
		case 'w': pr->workers = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'T': pr->topology = optarg; break;
		case 'C': pr->cpus = optarg; break;
		case 'e': pr->expect_end_file = optarg; break;
		case 'f': pr->expect_first_file = optarg; break;
		case 'E': pr->until_eof = true; break;
		case 'F': pr->commit_file = optarg; break;
		case 'R': pr->commit_on_revoke = true; break;
		case 'P': pr->pause_worker = atoi(optarg); break;
		case 'U': pr->pause_until_assigned = atoi(optarg); break;
		case 'o': pr->timeout_ms = atoi(optarg); break;
		case 'q': pr->quiet_ms = atoi(optarg); break;
		case 's': {
			int p;
			int64_t off;
			if (sscanf(optarg, "%d:%" SCNd64, &p, &off) != 2 || p < 0 ||
			    p >= PROBE_PARTITIONS_MAX) {
				fprintf(stderr, "--start '%s': expected P:OFFSET\n", optarg);
				return -1;
			}
			pr->parts[p].start = off;
			break;
		}
		case 'c':
			if (strcmp(optarg, "none") == 0)
				pr->commit = PROBE_COMMIT_NONE;
			else if (strcmp(optarg, "half") == 0)
				pr->commit = PROBE_COMMIT_HALF;
			else if (strcmp(optarg, "end") == 0)
				pr->commit = PROBE_COMMIT_END;
			else {
				fprintf(stderr, "--commit '%s': none, half or end\n", optarg);
				return -1;
			}
			break;
		case 'X': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg || pr->prop_count == KAFKA_PROPERTIES_MAX) {
				fprintf(stderr, "-X '%s': expected KEY=VALUE\n", optarg);
				return -1;
			}
			*eq = '\0';
			pr->props[pr->prop_count++] = (struct kafka_property){optarg, eq + 1};
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (pr->brokers == NULL || pr->topic == NULL || pr->group == NULL || pr->workers == 0 ||
	    pr->workers > PLACE_WORKERS_MAX || (!pr->until_eof && pr->expect_end_file == NULL)) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct probe pr = {.workers = 2, .timeout_ms = 30000, .quiet_ms = 500,
				  .pause_worker = -1, .pause_until_assigned = -1, .paused_worker = -1};
	for (int p = 0; p < PROBE_PARTITIONS_MAX; p++)
		pr.parts[p] = (struct probe_partition){.expect_first = -1, .expect_end = -1,
						       .start = KAFKA_OFFSET_INVALID,
						       .first = -1, .last = -1, .eof_offset = -1,
						       .worker = -1};
	if (parse_args(argc, argv, &pr) != 0)
		return 2;
	if ((pr.expect_end_file != NULL && read_offsets_file(&pr, pr.expect_end_file, true) != 0) ||
	    (pr.expect_first_file != NULL &&
	     read_offsets_file(&pr, pr.expect_first_file, false) != 0))
		return 2;
	if (build_plan(&pr) != 0)
		return 2;
	pthread_mutex_init(&pr.lock, NULL);

	struct kafka_config cfg = {
		.brokers = pr.brokers,
		.topic = pr.topic,
		.group_id = pr.group,
		.properties = pr.props,
		.property_count = pr.prop_count,
		.worker_count = pr.workers,
		.placement = &pr.plan,
		.hooks = {.ctx = &pr,
			  .start_offset = hook_start_offset,
			  .assigned = hook_assigned,
			  .revoke = hook_revoke,
			  .commit_done = hook_commit_done,
			  .partition_eof = hook_partition_eof},
	};
	if (kafka_consumer_new(&cfg, &pr.consumer) != 0)
		return 2;

	pthread_t threads[PLACE_WORKERS_MAX];
	struct worker_arg args[PLACE_WORKERS_MAX];
	uint32_t started = 0;
	for (; started < pr.workers; started++) {
		args[started] = (struct worker_arg){&pr, started, NULL};
		if (kafka_source_new(pr.consumer, started, PROBE_BATCH_MAX, &args[started].src) != 0) {
			fail(&pr, "kafka_source_new failed");
			break;
		}
		if (pthread_create(&threads[started], NULL, worker_main, &args[started]) != 0) {
			source_destroy(args[started].src);
			fail(&pr, "pthread_create failed");
			break;
		}
	}

	if (pr.pause_until_assigned >= 0) {
		if (kafka_worker_pause(pr.consumer, (uint32_t)pr.pause_until_assigned) != 0)
			fail(&pr, "pause before joining failed");
		atomic_store(&pr.paused_worker, pr.pause_until_assigned);
	}
	int64_t start = now_ms();
	int64_t deadline = start + pr.timeout_ms;
	int64_t assigned_at = -1;
	int64_t complete_at = -1;
	/* Bounded by the deadline. */
	while (now_ms() < deadline) {
		if (kafka_consumer_poll(pr.consumer, 50) != 0) {
			fail(&pr, "fatal consumer error");
			break;
		}
		if (assigned_at < 0 && kafka_assigned_count(pr.consumer) > 0)
			assigned_at = now_ms();
		if (pr.pause_until_assigned >= 0 && assigned_at >= 0 &&
		    atomic_load(&pr.paused_worker) == pr.pause_until_assigned &&
		    now_ms() - assigned_at >= 500) {
			atomic_store(&pr.paused_worker, -1);
			if (kafka_worker_resume(pr.consumer, (uint32_t)pr.pause_until_assigned) != 0)
				fail(&pr, "resume after assignment failed");
			fprintf(stderr, "probe: worker %d resumed\n", pr.pause_until_assigned);
		}
		/* In --until-eof mode a rebalance can make a complete probe incomplete again. */
		bool complete = probe_complete(&pr);
		if (!complete)
			complete_at = -1;
		else if (complete_at < 0)
			complete_at = now_ms();
		write_status(&pr, complete);
		if (complete && now_ms() - complete_at >= pr.quiet_ms &&
		    (pr.stop_file == NULL || access(pr.stop_file, F_OK) == 0))
			break;
	}
	if (complete_at < 0)
		fail(&pr, "incomplete after %d ms", pr.timeout_ms);
	else
		fprintf(stderr, "probe: complete after %" PRId64 " ms\n", complete_at - start);
	atomic_store(&pr.stop, true);
	for (uint32_t w = 0; w < started; w++) {
		kafka_worker_wake(pr.consumer, w);
		pthread_join(threads[w], NULL);
		source_destroy(args[w].src);
	}
	if (pr.commit != PROBE_COMMIT_NONE && complete_at >= 0)
		probe_commit(&pr, now_ms() + 10000);
	for (uint32_t w = 0; w < pr.workers; w++) {
		struct kafka_worker_stats st;
		kafka_worker_stats(pr.consumer, w, &st);
		fprintf(stderr, "probe: worker %u: %" PRIu64 " messages, %" PRIu64 " EOF, %" PRIu64
			" errors\n", w, st.messages_total, st.eof_total, st.errors_total);
	}
	int64_t close_start = now_ms();
	if (kafka_consumer_close(pr.consumer) != 0)
		fail(&pr, "close failed");
	fprintf(stderr, "probe: closed in %" PRId64 " ms\n", now_ms() - close_start);

	probe_verify(&pr);
	probe_print(&pr);
	for (int p = 0; p < PROBE_PARTITIONS_MAX; p++)
		free(pr.parts[p].seen);
	pthread_mutex_destroy(&pr.lock);
	return pr.failures == 0 ? 0 : 1;
}
