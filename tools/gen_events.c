/*
 * enrichd-gen-events: produces default-schema JSON events, deterministic for a seed (event seq is
 * gen_event_make(config, seq)), to a JSON-lines file and/or a Kafka topic, optionally paced to a
 * rate, and writes a manifest of what was produced for tests to compute expectations from.
 *
 * Manifest: ClickHouse TSVWithNamesAndTypes, one row per message:
 *   seq UInt64, partition Int32, offset Int64, malformed UInt8, kind String,
 *   event_time_ms Int64, user_id UInt64, device_id String, url String,
 *   user_present UInt8, device_present UInt8, url_present UInt8, payload String
 * partition and offset come from Kafka delivery reports (rows then follow delivery order, not seq
 * order; a failed delivery has offset -1); for file output partition is 0 and offset the 0-based
 * line number. The expected columns hold what a correct decoder reads from the payload.
 */
#include "gen.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EV_BUF_BYTES (4u << 20)
#define EV_CONF_MAX 32             /* -X properties */
#define EV_POLL_EVERY 1024         /* produce calls between two non-blocking polls */
#define EV_RATE_MAX_LAG_NS 100000000 /* behind schedule by more: forget the debt (no burst) */
#define EV_RATE_MIN_SLEEP_NS 200000  /* ahead of schedule by less: keep going */
#define EV_FLUSH_SLICE_MS 500
#define EV_DR_ERRORS_LOGGED 10

struct ev_options {
	struct gen_event_config cfg;
	double rate; /* events/s, 0 = as fast as possible */
	const char *out_path;
	const char *manifest_path;
	const char *brokers;
	const char *topic;
	int32_t partitions; /* > 0: explicit round-robin partitions; 0: keyed */
	const char *conf_kv[EV_CONF_MAX];
	int conf_count;
	int flush_timeout_s;
};

struct ev_run {
	const struct ev_options *o;
	struct gen_event ev; /* scratch for the producing loop */
	struct gen_event dr_ev; /* scratch for delivery reports */
	struct gen_writer out;
	bool out_open;
	struct gen_writer manifest;
	bool manifest_open;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	uint64_t produced;
	uint64_t malformed;
	uint64_t delivered;
	uint64_t failed;
	bool fatal;
};

static volatile sig_atomic_t ev_stop;

static void ev_on_signal(int sig)
{
	(void)sig;
	ev_stop = 1;
}

static void ev_usage(FILE *f)
{
	fprintf(f,
		"usage: enrichd-gen-events [options] (--out FILE | --brokers HOST:PORT --topic T)\n"
		"  --count N             events to produce (default 1000; 0 = until SIGINT/SIGTERM)\n"
		"  --rate R              events per second (default 0 = as fast as possible)\n"
		"  --seed S              seed (default 1), the same as enrichd-gen-dims'\n"
		"  --users N --devices N --urls N   dimension sizes keys are drawn from\n"
		"                        (defaults 1000000, 1000000, 100000)\n"
		"  --miss-users F --miss-devices F --miss-urls F\n"
		"                        share of events whose key is absent from that dimension\n"
		"  --malformed F         share of deliberately malformed messages\n"
		"  --variety             mix every accepted encoding (order, types, escapes, extras)\n"
		"  --skew S              0 = uniform keys (default); S > 0 favours low rows\n"
		"  --start-ms MS         event time of the first event (default 1735689600000)\n"
		"  --spread-ms MS        event time span of the run (default 3600000; per million\n"
		"                        events with --count 0)\n"
		"  --jitter-ms MS        events are up to MS earlier than their slot (default 2000)\n"
		"  --out FILE            JSON lines ('-' = standard output)\n"
		"  --brokers B --topic T produce to Kafka\n"
		"  --partitions P        explicit partitions seq %% P (default: keyed by user id)\n"
		"  -X key=value          librdkafka producer property (repeatable)\n"
		"  --flush-timeout S     seconds to wait for outstanding deliveries (default 60)\n"
		"  --manifest FILE       TSVWithNamesAndTypes of every message (see source header)\n");
}

static int ev_parse_double(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) {
		log_error("gen-events", "%s: invalid value '%s' (a number in [%g, %g])", opt, s, min,
			  max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

enum ev_opt {
	EV_OPT_COUNT = 256, EV_OPT_RATE, EV_OPT_SEED, EV_OPT_USERS, EV_OPT_DEVICES, EV_OPT_URLS,
	EV_OPT_MISS_USERS, EV_OPT_MISS_DEVICES, EV_OPT_MISS_URLS, EV_OPT_MALFORMED, EV_OPT_VARIETY,
	EV_OPT_SKEW, EV_OPT_START, EV_OPT_SPREAD, EV_OPT_JITTER, EV_OPT_OUT, EV_OPT_BROKERS,
	EV_OPT_TOPIC, EV_OPT_PARTITIONS, EV_OPT_MANIFEST, EV_OPT_FLUSH_TIMEOUT,
};

static int ev_parse_one(struct ev_options *o, int c, const char *arg)
{
	struct gen_event_config *g = &o->cfg;
	const uint64_t time_max = INT64_C(253402300799999);
	uint64_t v;
	int rc;
	switch (c) {
	case EV_OPT_COUNT:
		return gen_arg_u64("gen-events", "--count", arg, GEN_INDEX_MAX, &g->count);
	case EV_OPT_RATE: return ev_parse_double("--rate", arg, 0, 1e9, &o->rate);
	case EV_OPT_SEED: return gen_arg_u64("gen-events", "--seed", arg, UINT64_MAX, &g->seed);
	case EV_OPT_USERS:
		return gen_arg_u64("gen-events", "--users", arg, GEN_INDEX_MAX, &g->users);
	case EV_OPT_DEVICES:
		return gen_arg_u64("gen-events", "--devices", arg, GEN_INDEX_MAX, &g->devices);
	case EV_OPT_URLS: return gen_arg_u64("gen-events", "--urls", arg, GEN_INDEX_MAX, &g->urls);
	case EV_OPT_MISS_USERS: return ev_parse_double("--miss-users", arg, 0, 1, &g->miss_users);
	case EV_OPT_MISS_DEVICES:
		return ev_parse_double("--miss-devices", arg, 0, 1, &g->miss_devices);
	case EV_OPT_MISS_URLS: return ev_parse_double("--miss-urls", arg, 0, 1, &g->miss_urls);
	case EV_OPT_MALFORMED: return ev_parse_double("--malformed", arg, 0, 1, &g->malformed);
	case EV_OPT_VARIETY: g->variety = true; return 0;
	case EV_OPT_SKEW: return ev_parse_double("--skew", arg, 0, 100, &g->skew);
	case EV_OPT_START:
		rc = gen_arg_u64("gen-events", "--start-ms", arg, time_max, &v);
		g->start_ms = (int64_t)v;
		return rc;
	case EV_OPT_SPREAD:
		rc = gen_arg_u64("gen-events", "--spread-ms", arg, time_max, &v);
		g->spread_ms = (int64_t)v;
		return rc;
	case EV_OPT_JITTER:
		rc = gen_arg_u64("gen-events", "--jitter-ms", arg, time_max, &v);
		g->jitter_ms = (int64_t)v;
		return rc;
	case EV_OPT_OUT: o->out_path = arg; return 0;
	case EV_OPT_BROKERS: o->brokers = arg; return 0;
	case EV_OPT_TOPIC: o->topic = arg; return 0;
	case EV_OPT_PARTITIONS:
		rc = gen_arg_u64("gen-events", "--partitions", arg, INT32_MAX, &v);
		o->partitions = (int32_t)v;
		return rc;
	case EV_OPT_MANIFEST: o->manifest_path = arg; return 0;
	case EV_OPT_FLUSH_TIMEOUT:
		rc = gen_arg_u64("gen-events", "--flush-timeout", arg, 86400, &v);
		o->flush_timeout_s = (int)v;
		return rc;
	case 'X':
		if (o->conf_count >= EV_CONF_MAX || !strchr(arg, '=')) {
			log_error("gen-events", "-X '%s': expected key=value (at most %d)", arg,
				  EV_CONF_MAX);
			return -EINVAL;
		}
		o->conf_kv[o->conf_count++] = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

static int ev_parse(int argc, char **argv, struct ev_options *o)
{
	static const struct option longs[] = {
		{"count", required_argument, NULL, EV_OPT_COUNT},
		{"rate", required_argument, NULL, EV_OPT_RATE},
		{"seed", required_argument, NULL, EV_OPT_SEED},
		{"users", required_argument, NULL, EV_OPT_USERS},
		{"devices", required_argument, NULL, EV_OPT_DEVICES},
		{"urls", required_argument, NULL, EV_OPT_URLS},
		{"miss-users", required_argument, NULL, EV_OPT_MISS_USERS},
		{"miss-devices", required_argument, NULL, EV_OPT_MISS_DEVICES},
		{"miss-urls", required_argument, NULL, EV_OPT_MISS_URLS},
		{"malformed", required_argument, NULL, EV_OPT_MALFORMED},
		{"variety", no_argument, NULL, EV_OPT_VARIETY},
		{"skew", required_argument, NULL, EV_OPT_SKEW},
		{"start-ms", required_argument, NULL, EV_OPT_START},
		{"spread-ms", required_argument, NULL, EV_OPT_SPREAD},
		{"jitter-ms", required_argument, NULL, EV_OPT_JITTER},
		{"out", required_argument, NULL, EV_OPT_OUT},
		{"brokers", required_argument, NULL, EV_OPT_BROKERS},
		{"topic", required_argument, NULL, EV_OPT_TOPIC},
		{"partitions", required_argument, NULL, EV_OPT_PARTITIONS},
		{"manifest", required_argument, NULL, EV_OPT_MANIFEST},
		{"flush-timeout", required_argument, NULL, EV_OPT_FLUSH_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct ev_options){.flush_timeout_s = 60};
	gen_event_config_default(&o->cfg);
	o->cfg.count = 1000;
	int c;
	while ((c = getopt_long(argc, argv, "hX:", longs, NULL)) != -1) {
		if (c == 'h') {
			ev_usage(stdout);
			exit(0);
		}
		if (c == '?' || ev_parse_one(o, c, optarg) != 0) {
			if (c == '?')
				ev_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		log_error("gen-events", "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!o->out_path && !o->brokers) {
		log_error("gen-events", "nothing to do: give --out FILE and/or --brokers/--topic");
		return -EINVAL;
	}
	if (!o->brokers != !o->topic) {
		log_error("gen-events", "--brokers and --topic go together");
		return -EINVAL;
	}
	if (gen_event_config_check(&o->cfg) != 0) {
		log_error("gen-events", "invalid event configuration");
		return -EINVAL;
	}
	return 0;
}

/* ---- manifest ------------------------------------------------------------------------------- */

static void ev_manifest_header(struct gen_writer *w)
{
	static const char names[] =
		"seq\tpartition\toffset\tmalformed\tkind\tevent_time_ms\tuser_id\tdevice_id\turl\t"
		"user_present\tdevice_present\turl_present\tpayload\n";
	static const char types[] = "UInt64\tInt32\tInt64\tUInt8\tString\tInt64\tUInt64\tString\t"
				    "String\tUInt8\tUInt8\tUInt8\tString\n";
	gen_writer_put(w, names, sizeof(names) - 1);
	gen_writer_put(w, types, sizeof(types) - 1);
}

static void ev_manifest_row(struct gen_writer *w, const struct gen_event *ev, int32_t partition,
			    int64_t offset)
{
	gen_writer_put_u64(w, ev->seq);
	gen_writer_putc(w, '\t');
	gen_writer_put_i64(w, partition);
	gen_writer_putc(w, '\t');
	gen_writer_put_i64(w, offset);
	gen_writer_putc(w, '\t');
	gen_writer_putc(w, ev->malformed ? '1' : '0');
	gen_writer_putc(w, '\t');
	const char *kind = gen_malformed_name(ev->malformed);
	gen_writer_put(w, kind, strlen(kind));
	gen_writer_putc(w, '\t');
	gen_writer_put_i64(w, ev->event_time_ms);
	gen_writer_putc(w, '\t');
	gen_writer_put_u64(w, ev->user_id);
	gen_writer_putc(w, '\t');
	gen_writer_put_tsv(w, ev->device_id, ev->device_id_len);
	gen_writer_putc(w, '\t');
	gen_writer_put_tsv(w, ev->url, ev->url_len);
	gen_writer_putc(w, '\t');
	gen_writer_putc(w, ev->user_present ? '1' : '0');
	gen_writer_putc(w, '\t');
	gen_writer_putc(w, ev->device_present ? '1' : '0');
	gen_writer_putc(w, '\t');
	gen_writer_putc(w, ev->url_present ? '1' : '0');
	gen_writer_putc(w, '\t');
	gen_writer_put_tsv(w, ev->payload, ev->payload_len);
	gen_writer_putc(w, '\n');
}

/* ---- Kafka ---------------------------------------------------------------------------------- */

static void ev_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct ev_run *run = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)m->_private;
	int64_t offset = m->offset;
	if (m->err) {
		if (run->failed < EV_DR_ERRORS_LOGGED)
			log_error("gen-events", "delivery of seq %" PRIu64 " to %s [%" PRId32
				  "] failed: %s", seq, run->o->topic, m->partition,
				  rd_kafka_err2str(m->err));
		run->failed++;
		offset = -1;
	} else {
		run->delivered++;
	}
	if (run->manifest_open) {
		/* Events are pure functions of seq: rebuild instead of keeping each one alive. */
		gen_event_make(&run->o->cfg, seq, &run->dr_ev);
		ev_manifest_row(&run->manifest, &run->dr_ev, m->partition, offset);
	}
}

static void ev_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ev_run *run = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		log_error("gen-events", "kafka fatal error: %s", buf);
		run->fatal = true;
		ev_stop = 1;
		return;
	}
	log_warn("gen-events", "kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int ev_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char err[512];
	if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		log_error("gen-events", "kafka property %s=%s: %s", key, value, err);
		return -EINVAL;
	}
	return 0;
}

static int ev_kafka_open(struct ev_run *run)
{
	const struct ev_options *o = run->o;
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* Throughput defaults; -X overrides any of them. */
	static const char *const defaults[][2] = {
		{"linger.ms", "10"},
		{"batch.num.messages", "10000"},
		{"batch.size", "1000000"},
		{"queue.buffering.max.messages", "500000"},
		{"queue.buffering.max.kbytes", "1048576"},
		{"message.timeout.ms", "30000"},
	};
	if (ev_conf_set(conf, "bootstrap.servers", o->brokers) != 0)
		goto out_conf;
	for (size_t k = 0; k < sizeof(defaults) / sizeof(defaults[0]); k++)
		if (ev_conf_set(conf, defaults[k][0], defaults[k][1]) != 0)
			goto out_conf;
	for (int k = 0; k < o->conf_count; k++) {
		char key[256];
		const char *eq = strchr(o->conf_kv[k], '=');
		size_t n = (size_t)(eq - o->conf_kv[k]);
		if (n == 0 || n >= sizeof(key)) {
			log_error("gen-events", "-X '%s': bad key", o->conf_kv[k]);
			goto out_conf;
		}
		memcpy(key, o->conf_kv[k], n);
		key[n] = '\0';
		if (ev_conf_set(conf, key, eq + 1) != 0)
			goto out_conf;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, ev_dr_cb);
	rd_kafka_conf_set_error_cb(conf, ev_error_cb);
	rd_kafka_conf_set_opaque(conf, run);
	run->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!run->rk) {
		log_error("gen-events", "cannot create kafka producer: %s", err);
		goto out_conf;
	}
	/* rd_kafka_new owns conf from here. */
	run->rkt = rd_kafka_topic_new(run->rk, o->topic, NULL);
	if (!run->rkt) {
		log_error("gen-events", "topic %s: %s", o->topic,
			  rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(run->rk);
		run->rk = NULL;
		return -EINVAL;
	}
	return 0;

out_conf:
	rd_kafka_conf_destroy(conf);
	return -EINVAL;
}

/* Produces one event, waiting while the local queue is full. Returns 0 or -EIO. */
static int ev_kafka_produce(struct ev_run *run, const struct gen_event *ev)
{
	const struct ev_options *o = run->o;
	int32_t partition = RD_KAFKA_PARTITION_UA;
	char key[24];
	size_t key_len = 0;
	if (o->partitions > 0) {
		partition = (int32_t)(ev->seq % (uint64_t)o->partitions);
	} else {
		/* Keyed by user so a user's events stay in order on one partition. */
		uint64_t v = ev->user_id;
		char tmp[20];
		size_t n = 0;
		do {
			tmp[n++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		for (size_t k = 0; k < n; k++)
			key[k] = tmp[n - 1 - k];
		key_len = n;
	}
	for (;;) {
		/* rd_kafka_produceva: producev's macros are GNU statement expressions. */
		rd_kafka_vu_t vus[] = {
			{.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = run->rkt},
			{.vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = partition},
			{.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
			{.vtype = RD_KAFKA_VTYPE_VALUE,
			 .u.mem = {(void *)ev->payload, ev->payload_len}},
			{.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {key_len ? key : NULL, key_len}},
			{.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = (void *)(uintptr_t)ev->seq},
		};
		rd_kafka_error_t *error =
			rd_kafka_produceva(run->rk, vus, sizeof(vus) / sizeof(vus[0]));
		rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error)
						: RD_KAFKA_RESP_ERR_NO_ERROR;
		if (error)
			rd_kafka_error_destroy(error);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return 0;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || run->fatal) {
			log_error("gen-events", "produce seq %" PRIu64 " to %s: %s", ev->seq, o->topic,
				  rd_kafka_err2str(err));
			return -EIO;
		}
		/* Queue full: serve delivery reports until there is room (messages time out after
		 * message.timeout.ms at worst, so this ends). */
		rd_kafka_poll(run->rk, 50);
	}
}

/* Waits for outstanding deliveries. Returns 0, or -ETIMEDOUT with messages still queued. */
static int ev_kafka_flush(struct ev_run *run)
{
	int waited_ms = 0;
	while (rd_kafka_outq_len(run->rk) > 0 && waited_ms < run->o->flush_timeout_s * 1000) {
		rd_kafka_flush(run->rk, EV_FLUSH_SLICE_MS);
		waited_ms += EV_FLUSH_SLICE_MS;
	}
	int left = rd_kafka_outq_len(run->rk);
	if (left > 0) {
		log_error("gen-events", "%d messages still undelivered after %d s", left,
			  run->o->flush_timeout_s);
		return -ETIMEDOUT;
	}
	return 0;
}

/* ---- pacing --------------------------------------------------------------------------------- */

static uint64_t ev_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Schedule: event k (counted from base_seq) is due at base_ns + k / rate. Ahead of it by more
 * than EV_RATE_MIN_SLEEP_NS: sleep (serving Kafka meanwhile). Behind it by more than
 * EV_RATE_MAX_LAG_NS: restart the schedule from now, so a stall never turns into a burst. */
struct ev_pacer {
	double rate;
	uint64_t base_ns;
	uint64_t base_seq;
};

static void ev_pace(struct ev_pacer *p, struct ev_run *run, uint64_t seq)
{
	if (p->rate <= 0)
		return;
	uint64_t due = p->base_ns + (uint64_t)((double)(seq - p->base_seq) * 1e9 / p->rate);
	uint64_t now = ev_now_ns();
	if (now > due + EV_RATE_MAX_LAG_NS) {
		p->base_ns = now;
		p->base_seq = seq;
		return;
	}
	while (now + EV_RATE_MIN_SLEEP_NS < due && !ev_stop) {
		uint64_t wait = due - now;
		if (run->rk && wait > 2000000) {
			rd_kafka_poll(run->rk, (int)((wait - 1000000) / 1000000));
		} else {
			struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
			nanosleep(&ts, NULL);
		}
		now = ev_now_ns();
	}
}

/* ---- main ----------------------------------------------------------------------------------- */

static int ev_open_outputs(struct ev_run *run)
{
	const struct ev_options *o = run->o;
	int rc;
	if (o->out_path) {
		rc = gen_writer_open(&run->out, o->out_path, EV_BUF_BYTES);
		if (rc != 0) {
			log_error("gen-events", "%s: cannot create: %s", o->out_path, strerror(-rc));
			return rc;
		}
		run->out_open = true;
	}
	if (o->manifest_path) {
		rc = gen_writer_open(&run->manifest, o->manifest_path, EV_BUF_BYTES);
		if (rc != 0) {
			log_error("gen-events", "%s: cannot create: %s", o->manifest_path,
				  strerror(-rc));
			return rc;
		}
		run->manifest_open = true;
		ev_manifest_header(&run->manifest);
	}
	if (o->brokers)
		return ev_kafka_open(run);
	return 0;
}

static int ev_close_outputs(struct ev_run *run)
{
	int rc = 0;
	if (run->rk) {
		if (ev_kafka_flush(run) != 0)
			rc = -EIO;
		rd_kafka_topic_destroy(run->rkt);
		rd_kafka_destroy(run->rk);
		run->rk = NULL;
	}
	if (run->out_open) {
		int err = gen_writer_close(&run->out, false);
		if (err != 0) {
			log_error("gen-events", "%s: write failed: %s", run->o->out_path, strerror(-err));
			rc = err;
		}
	}
	if (run->manifest_open) {
		int err = gen_writer_close(&run->manifest, false);
		if (err != 0) {
			log_error("gen-events", "%s: write failed: %s", run->o->manifest_path,
				  strerror(-err));
			rc = err;
		}
	}
	return rc;
}

static int ev_produce_all(struct ev_run *run)
{
	const struct ev_options *o = run->o;
	struct ev_pacer pacer = {o->rate, ev_now_ns(), 0};
	uint64_t count = o->cfg.count;
	for (uint64_t seq = 0; (count == 0 || seq < count) && !ev_stop; seq++) {
		ev_pace(&pacer, run, seq);
		struct gen_event *ev = &run->ev;
		gen_event_make(&o->cfg, seq, ev);
		if (run->out_open) {
			gen_writer_put(&run->out, ev->payload, ev->payload_len);
			gen_writer_putc(&run->out, '\n');
			if (run->out.err != 0)
				return run->out.err;
		}
		if (run->rk) {
			if (ev_kafka_produce(run, ev) != 0)
				return -EIO;
			if (seq % EV_POLL_EVERY == 0)
				rd_kafka_poll(run->rk, 0);
		} else if (run->manifest_open) {
			ev_manifest_row(&run->manifest, ev, 0, (int64_t)seq);
		}
		run->produced++;
		run->malformed += ev->malformed != GEN_MALFORMED_NONE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct ev_options o; /* static: large, and alive for the delivery callbacks */
	static struct ev_run run;
	if (ev_parse(argc, argv, &o) != 0)
		return 2;
	run.o = &o;
	struct sigaction sa = {.sa_handler = ev_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	uint64_t t0 = ev_now_ns();
	int rc = ev_open_outputs(&run);
	if (rc == 0)
		rc = ev_produce_all(&run);
	int rc_close = ev_close_outputs(&run);
	if (rc == 0)
		rc = rc_close;
	double dt = (double)(ev_now_ns() - t0) * 1e-9;
	log_info("gen-events",
		 "%" PRIu64 " events (%" PRIu64 " malformed) in %.3f s (%.0f events/s)%s", run.produced,
		 run.malformed, dt, dt > 0 ? (double)run.produced / dt : 0.0,
		 ev_stop ? ", stopped by signal" : "");
	if (o.brokers)
		log_info("gen-events", "kafka: %" PRIu64 " delivered, %" PRIu64 " failed",
			 run.delivered, run.failed);
	if (rc != 0 || run.failed > 0 || run.fatal)
		return 1;
	if (o.brokers && run.delivered != run.produced)
		return 1;
	return 0;
}
