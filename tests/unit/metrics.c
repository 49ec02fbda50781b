#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config.h"
#include "huge.h"
#include "metrics.h"
#include "worker_stats.h"

#define BODY_CAP (1 << 20)
/* A dimension name with every character the text format escapes in a label value. */
#define ODD_NAME "de\"v\\ice\ns"
#define ODD_LABEL "de\\\"v\\\\ice\\ns"

#define WORKERS_MAX 200

/* What an engine shows the endpoint: its configuration, workers' counters, gauges, stop flag. */
static struct config *cfg;
static struct worker_stats *stats;
static const struct worker_stats *stats_of[WORKERS_MAX];
static struct metrics_gauges *gauges;
static _Atomic bool stopping;
static struct metrics_view view;
static char *body;

/* n workers' counters, all zero, in the view. */
static void workers_set(uint32_t n)
{
	free(stats);
	stats = calloc(n, sizeof(*stats));
	cr_assert_not_null(stats);
	for (uint32_t k = 0; k < n; k++)
		stats_of[k] = &stats[k];
	view.worker_count = n;
}

/*
 * Two workers with known counters, two dimensions (the second with an odd name), no consumer.
 */
static void setup(void)
{
	cfg = calloc(1, sizeof(*cfg));
	gauges = calloc(1, sizeof(*gauges));
	body = malloc(BODY_CAP);
	cr_assert(cfg && gauges && body);
	cfg->dim_count = 2;
	strcpy(cfg->dims[0].name, "users");
	strcpy(cfg->dims[1].name, ODD_NAME);
	atomic_store(&stopping, false);
	view = (struct metrics_view){
		.cfg = cfg,
		.started_ms = 1700000000123,
		.worker_stats = stats_of,
		.gauges = gauges,
		.stopping = &stopping,
	};
	workers_set(2);

	struct worker_stats *s0 = &stats[0], *s1 = &stats[1];
	atomic_store(&s0->events_in, 1000);
	atomic_store(&s1->events_in, 234);
	atomic_store(&s0->rows_out, 990);
	atomic_store(&s0->rows_sealed, 900);
	atomic_store(&s1->dead_letters, 7);
	atomic_store(&s1->decode_errors[-EVENT_ERR_SYNTAX], 5);
	atomic_store(&s1->decode_errors[-EVENT_ERR_TOO_LONG], 2);
	atomic_store(&s0->lookups[0], 990);
	atomic_store(&s0->misses[0], 12);
	atomic_store(&s1->lookups[1], 230);
	atomic_store(&s1->misses[1], 3);
	atomic_store(&s0->blocks, 4);
	atomic_store(&s0->segments_sealed, 2);
	atomic_store(&s0->bytes_written, 123456789);
	atomic_store(&s1->epochs, 17);
	atomic_store(&s1->inflight_writes, 3);
	atomic_store(&s1->inflight_bytes, 65536);
	atomic_store(&s0->write_errors, 1);
	atomic_store(&s1->paused, 1);
	atomic_store(&s1->pauses, 6);
	atomic_store(&s0->stage_ns[WORKER_STAGE_PROBE], 1500000000);
	atomic_store(&s1->stage_ns[WORKER_STAGE_SEAL], 42);
	atomic_store(&s0->stall_ns_max, 250000000);
	/* Latency buckets (not cumulative): w0 has 1 at <= 5 ms, 2 at <= 10 ms, 3 above 10 s. */
	atomic_store(&s0->latency_bucket[0], 1);
	atomic_store(&s0->latency_bucket[1], 2);
	atomic_store(&s0->latency_bucket[WORKER_LATENCY_BUCKETS - 1], 3);
	atomic_store(&s0->latency_ms_sum, 40020);
	atomic_store(&s1->latency_bucket[1], 4);
	atomic_store(&s1->latency_bucket[7], 10); /* <= 1000 ms */
	atomic_store(&s1->latency_ms_sum, 5040);

	atomic_store(&gauges->reloads, 3);
	atomic_store(&gauges->reload_failures, 1);
	atomic_store(&gauges->reload_last_success_ms, 1700000100500);
	atomic_store(&gauges->reload_last_duration_ms, 2750);
	atomic_store(&gauges->dim_rows[0], 1000000);
	atomic_store(&gauges->dim_bytes[0], 27262976);
	atomic_store(&gauges->dim_huge_mode[0], HUGE_MODE_HUGETLB);
	atomic_store(&gauges->dim_rows[1], 5);
	atomic_store(&gauges->dim_bytes[1], 2097152);
	atomic_store(&gauges->dim_huge_mode[1], HUGE_MODE_THP);
	atomic_store(&gauges->ready, true);
}

static void teardown(void)
{
	free(stats);
	stats = NULL;
	free(gauges);
	free(cfg);
	free(body);
}

static void render(void)
{
	size_t n = metrics_render(&view, body, BODY_CAP);
	cr_assert_lt(n, BODY_CAP);
	cr_assert_eq(strlen(body), n);
}

/* The body holds exactly this line (a whole line, not a prefix or suffix of one). */
static bool has_line(const char *line)
{
	size_t len = strlen(line);
	for (const char *p = body; (p = strstr(p, line)); p++)
		if ((p == body || p[-1] == '\n') && p[len] == '\n')
			return true;
	return false;
}

#define expect_line(line) cr_expect(has_line(line), "missing line: %s", line)

TestSuite(metrics, .init = setup, .fini = teardown);

Test(metrics, worker_counters_and_gauges)
{
	render();
	expect_line("enrichd_worker_events_total{worker=\"0\"} 1000");
	expect_line("enrichd_worker_events_total{worker=\"1\"} 234");
	expect_line("enrichd_worker_rows_appended_total{worker=\"0\"} 990");
	expect_line("enrichd_worker_rows_sealed_total{worker=\"0\"} 900");
	expect_line("enrichd_worker_rows_sealed_total{worker=\"1\"} 0");
	expect_line("enrichd_worker_dead_letters_total{worker=\"1\"} 7");
	expect_line("enrichd_worker_blocks_total{worker=\"0\"} 4");
	expect_line("enrichd_worker_segments_sealed_total{worker=\"0\"} 2");
	expect_line("enrichd_worker_written_bytes_total{worker=\"0\"} 123456789");
	expect_line("enrichd_worker_epochs_total{worker=\"1\"} 17");
	expect_line("enrichd_worker_inflight_writes{worker=\"1\"} 3");
	expect_line("enrichd_worker_inflight_bytes{worker=\"1\"} 65536");
	expect_line("enrichd_worker_write_errors_total{worker=\"0\"} 1");
	expect_line("enrichd_worker_paused{worker=\"1\"} 1");
	expect_line("enrichd_worker_paused{worker=\"0\"} 0");
	expect_line("enrichd_worker_pauses_total{worker=\"1\"} 6");
	expect_line("enrichd_worker_stall_max_seconds{worker=\"0\"} 0.250000000");
	expect_line("enrichd_engine_workers 2");
}

Test(metrics, decode_errors_by_reason_every_reason_present)
{
	render();
	expect_line("enrichd_worker_decode_errors_total{worker=\"1\",reason=\"syntax\"} 5");
	expect_line("enrichd_worker_decode_errors_total{worker=\"1\",reason=\"too_long\"} 2");
	expect_line("enrichd_worker_decode_errors_total{worker=\"0\",reason=\"empty\"} 0");
	cr_expect_null(strstr(body, "reason=\"ok\""), "success is not a decode error");
	size_t count = 0;
	for (const char *p = body; (p = strstr(p, "\nenrichd_worker_decode_errors_total{")); p++)
		count++;
	cr_expect_eq(count, 2u * (EVENT_ERR_COUNT - 1));
}

Test(metrics, join_counters_per_dimension_with_escaped_labels)
{
	render();
	expect_line("enrichd_worker_join_lookups_total{worker=\"0\",dimension=\"users\"} 990");
	expect_line("enrichd_worker_join_misses_total{worker=\"0\",dimension=\"users\"} 12");
	expect_line("enrichd_worker_join_lookups_total{worker=\"1\",dimension=\"" ODD_LABEL
		    "\"} 230");
	expect_line("enrichd_worker_join_misses_total{worker=\"1\",dimension=\"" ODD_LABEL "\"} 3");
	expect_line("enrichd_dimension_rows{dimension=\"" ODD_LABEL "\"} 5");
	cr_expect_null(strstr(body, ODD_NAME), "a raw newline or quote leaked into the output");
}

Test(metrics, stage_seconds_exact)
{
	render();
	expect_line("enrichd_worker_stage_seconds_total{worker=\"0\",stage=\"probe\"} 1.500000000");
	expect_line("enrichd_worker_stage_seconds_total{worker=\"1\",stage=\"seal\"} 0.000000042");
	expect_line("enrichd_worker_stage_seconds_total{worker=\"1\",stage=\"poll\"} 0.000000000");
	static const char *const stages[] = {"poll", "decode", "probe", "append", "encode",
					     "write", "seal"};
	char line[256];
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		snprintf(line, sizeof(line), "enrichd_worker_stage_seconds_total{worker=\"0\","
			 "stage=\"%s\"}", stages[i]);
		cr_expect_not_null(strstr(body, line), "no stage %s", stages[i]);
	}
}

Test(metrics, latency_histogram_is_cumulative_and_summed_over_workers)
{
	render();
	const char *want[] = {
		"# TYPE enrichd_event_seal_latency_seconds histogram",
		"enrichd_event_seal_latency_seconds_bucket{le=\"0.005\"} 1",
		"enrichd_event_seal_latency_seconds_bucket{le=\"0.01\"} 7",
		"enrichd_event_seal_latency_seconds_bucket{le=\"0.025\"} 7",
		"enrichd_event_seal_latency_seconds_bucket{le=\"0.5\"} 7",
		"enrichd_event_seal_latency_seconds_bucket{le=\"1\"} 17",
		"enrichd_event_seal_latency_seconds_bucket{le=\"2.5\"} 17",
		"enrichd_event_seal_latency_seconds_bucket{le=\"10\"} 17",
		"enrichd_event_seal_latency_seconds_bucket{le=\"+Inf\"} 20",
		"enrichd_event_seal_latency_seconds_sum 45.060",
		"enrichd_event_seal_latency_seconds_count 20",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		expect_line(want[i]);
	size_t buckets = 0;
	for (const char *p = body; (p = strstr(p, "enrichd_event_seal_latency_seconds_bucket{"));
	     p++)
		buckets++;
	cr_expect_eq(buckets, (size_t)WORKER_LATENCY_BUCKETS);
}

Test(metrics, engine_dimension_and_reload_metrics)
{
	render();
	expect_line("enrichd_engine_ready 1");
	expect_line("enrichd_engine_failed 0");
	expect_line("enrichd_process_start_time_seconds 1700000000.123");
	expect_line("enrichd_dimension_reloads_total 3");
	expect_line("enrichd_dimension_reload_failures_total 1");
	expect_line("enrichd_dimension_reload_last_success_timestamp_seconds 1700000100.500");
	expect_line("enrichd_dimension_reload_last_duration_seconds 2.750");
	expect_line("enrichd_dimension_rows{dimension=\"users\"} 1000000");
	expect_line("enrichd_dimension_memory_bytes{dimension=\"users\"} 27262976");
	expect_line("enrichd_dimension_huge_pages{dimension=\"users\",mode=\"hugetlb\"} 1");
	expect_line("enrichd_dimension_huge_pages{dimension=\"users\",mode=\"thp\"} 0");
	expect_line("enrichd_dimension_huge_pages{dimension=\"users\",mode=\"4k\"} 0");
	expect_line("enrichd_dimension_huge_pages{dimension=\"" ODD_LABEL "\",mode=\"thp\"} 1");
	expect_line("enrichd_kafka_assigned_partitions 0");
	char want[128];
	snprintf(want, sizeof(want), "enrichd_build_info{version=\"%s\",", ENRICHD_VERSION);
	cr_expect_not_null(strstr(body, want));
	cr_expect_null(strstr(body, "enrichd_kafka_consumer_lag_messages{"),
		       "no lag without a consumer");
}

/* Family name of a sample line: the metric name without _bucket/_sum/_count of a histogram. */
static void sample_family(const char *line, char *name, size_t cap, const char *histogram)
{
	size_t n = strcspn(line, "{ ");
	cr_assert_lt(n, cap);
	memcpy(name, line, n);
	name[n] = '\0';
	size_t h = strlen(histogram);
	const char *suffix = name + h;
	if (h && strncmp(name, histogram, h) == 0 &&
	    (!strcmp(suffix, "_bucket") || !strcmp(suffix, "_sum") || !strcmp(suffix, "_count")))
		name[h] = '\0';
}

Test(metrics, every_family_follows_the_conventions)
{
	render();
	char family[128] = "", type[32] = "", histogram[128] = "", helped[128] = "";
	char seen[64][128];
	size_t families = 0, samples = 0;
	for (char *line = body, *next; *line; line = next) {
		next = strchr(line, '\n');
		cr_assert_not_null(next, "the body ends with a newline");
		*next++ = '\0';
		if (strncmp(line, "# HELP ", 7) == 0) {
			cr_assert_eq(sscanf(line + 7, "%127s", helped), 1);
			cr_expect_gt(strlen(line), 8 + strlen(helped), "empty help: %s", line);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			cr_assert_eq(sscanf(line + 7, "%127s %31s", family, type), 2);
			cr_expect_str_eq(family, helped, "HELP must precede TYPE of %s", family);
			cr_expect_eq(strncmp(family, "enrichd_", 8), 0, "prefix: %s", family);
			cr_expect_eq(strspn(family, "abcdefghijklmnopqrstuvwxyz0123456789_"),
				     strlen(family), "name: %s", family);
			bool total = strlen(family) > 6 &&
				     strcmp(family + strlen(family) - 6, "_total") == 0;
			if (strcmp(type, "counter") == 0)
				cr_expect(total, "counter without _total: %s", family);
			else
				cr_expect(!total, "%s %s ends in _total", type, family);
			cr_expect(!strstr(family, "_ms") && !strstr(family, "_ns") &&
					  !strstr(family, "millis"),
				  "non-base unit: %s", family);
			for (size_t i = 0; i < families; i++)
				cr_expect_str_neq(seen[i], family, "family %s twice", family);
			cr_assert_lt(families, 64u);
			strcpy(seen[families++], family);
			strcpy(histogram, strcmp(type, "histogram") == 0 ? family : "");
			continue;
		}
		cr_expect_neq(line[0], '#', "unexpected comment: %s", line);
		char name[128];
		sample_family(line, name, sizeof(name), histogram);
		cr_expect_str_eq(name, family, "sample outside its family: %s", line);
		samples++;
	}
	cr_expect_gt(families, 30u);
	cr_expect_gt(samples, 100u);
}

Test(metrics, promtool_accepts_the_text)
{
	if (access("/usr/bin/promtool", X_OK) != 0)
		cr_skip_test("promtool is not installed");
	render();
	char dir[] = "/tmp/metrics-test-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[128], out[128], cmd[512];
	snprintf(path, sizeof(path), "%s/metrics.txt", dir);
	snprintf(out, sizeof(out), "%s/promtool.txt", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(body, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics <%s >%s 2>&1", path, out);
	int rc = system(cmd);
	f = fopen(out, "r");
	cr_assert_not_null(f);
	char report[4096];
	size_t n = fread(report, 1, sizeof(report) - 1, f);
	fclose(f);
	report[n] = '\0';
	cr_expect_eq(rc, 0, "promtool failed: %s", report);
	cr_expect_eq(n, 0u, "promtool lint: %s", report);
	unlink(path);
	unlink(out);
	rmdir(dir);
}

Test(metrics, render_reports_the_full_length_when_cut)
{
	size_t full = metrics_render(&view, body, BODY_CAP);
	char *copy = strdup(body);
	cr_assert_not_null(copy);
	char small[100];
	memset(small, 'x', sizeof(small));
	cr_expect_eq(metrics_render(&view, small, sizeof(small)), full);
	cr_expect_eq(small[sizeof(small) - 1], '\0');
	cr_expect_eq(strncmp(small, copy, sizeof(small) - 1), 0);
	cr_expect_eq(metrics_render(&view, NULL, 0), full);
	free(copy);
}

Test(metrics, health_names_the_failed_worker)
{
	char reason[256];
	cr_expect_eq(metrics_health(&view, reason, sizeof(reason)), 200);
	cr_expect_str_eq(reason, "ok\n");
	atomic_store(&gauges->failed_worker, 1);
	atomic_store(&gauges->failed_errno, ENOSPC);
	atomic_store(&gauges->failed, true);
	cr_expect_eq(metrics_health(&view, reason, sizeof(reason)), 503);
	cr_expect_str_eq(reason, "worker 1 failed: No space left on device\n");
	render();
	expect_line("enrichd_engine_failed 1");
}

/* ---- over HTTP ---- */

/* One request on a fresh connection; returns the status, the whole response in resp. */
static int http(uint16_t port, const char *method, const char *path, char *resp, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	char req[256];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Connection: close\r\nContent-Length: 0\r\n\r\n", method, path);
	cr_assert_eq(write(fd, req, (size_t)n), n);
	size_t len = 0;
	for (int i = 0; i < 1000 && len + 1 < cap; i++) {
		ssize_t r = read(fd, resp + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	resp[len] = '\0';
	close(fd);
	int status = 0;
	cr_assert_eq(sscanf(resp, "HTTP/1.%*d %d", &status), 1, "response: %.200s", resp);
	return status;
}

static const char *http_body(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");
	return p ? p + 4 : "";
}

Test(metrics, serves_metrics_health_and_readiness_over_http)
{
	struct metrics *m = NULL;
	cr_assert_eq(metrics_start(&m, "127.0.0.1:0", &view), 0);
	uint16_t port = metrics_port(m);
	cr_assert_gt(port, 0);
	static char resp[BODY_CAP];

	cr_expect_eq(http(port, "GET", "/metrics", resp, sizeof(resp)), 200);
	cr_expect_not_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
	size_t full = metrics_render(&view, body, BODY_CAP);
	cr_expect_eq(strlen(http_body(resp)), full);
	cr_expect_not_null(strstr(http_body(resp),
				  "\nenrichd_worker_events_total{worker=\"1\"} 234\n"));

	cr_expect_eq(http(port, "HEAD", "/metrics", resp, sizeof(resp)), 200);
	cr_expect_str_eq(http_body(resp), "");

	cr_expect_eq(http(port, "GET", "/healthz", resp, sizeof(resp)), 200);
	cr_expect_str_eq(http_body(resp), "ok\n");
	cr_expect_eq(http(port, "GET", "/readyz", resp, sizeof(resp)), 200);
	atomic_store(&gauges->ready, false);
	atomic_store(&stopping, true);
	cr_expect_eq(http(port, "GET", "/readyz", resp, sizeof(resp)), 503);
	cr_expect_str_eq(http_body(resp), "not ready: stopping\n");

	cr_expect_eq(http(port, "GET", "/", resp, sizeof(resp)), 404);
	cr_expect_eq(http(port, "GET", "/metrics/x", resp, sizeof(resp)), 404);
	cr_expect_eq(http(port, "POST", "/metrics", resp, sizeof(resp)), 405);
	cr_expect_not_null(strstr(resp, "Allow: GET, HEAD"));
	cr_expect_eq(http(port, "DELETE", "/healthz", resp, sizeof(resp)), 405);

	atomic_store(&gauges->failed_worker, 0);
	atomic_store(&gauges->failed_errno, EIO);
	atomic_store(&gauges->failed, true);
	cr_expect_eq(http(port, "GET", "/healthz", resp, sizeof(resp)), 503);
	cr_expect_str_eq(http_body(resp), "worker 0 failed: Input/output error\n");

	/* The port is taken now: a second server on it fails. */
	char listen[32];
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)port);
	struct metrics *m2 = NULL;
	cr_expect_lt(metrics_start(&m2, listen, &view), 0);
	cr_expect_null(m2);
	metrics_stop(m);
}

Test(metrics, rejects_bad_listen_strings)
{
	static const char *const bad[] = {
		"", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:-1", "127.0.0.1:80x", "::1:80",
		"[::1]80", "[::1", "300.1.2.3:80", "127.0.0.1:+80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metrics *m = NULL;
		cr_expect_eq(metrics_start(&m, bad[i], &view), -EINVAL, "accepted '%s'", bad[i]);
		cr_expect_null(m);
	}
}

Test(metrics, host_defaults_to_loopback)
{
	struct metrics *m = NULL;
	cr_assert_eq(metrics_start(&m, ":0", &view), 0);
	static char resp[BODY_CAP];
	cr_expect_eq(http(metrics_port(m), "GET", "/healthz", resp, sizeof(resp)), 200);
	metrics_stop(m);
	metrics_stop(NULL);
}

Test(metrics, a_scrape_larger_than_the_first_buffer_is_served_whole)
{
	/* 200 workers need about 0.5 MiB of text, more than the buffer the server starts with. */
	workers_set(WORKERS_MAX);
	atomic_store(&stats[199].events_in, 199);
	size_t full = metrics_render(&view, body, BODY_CAP);
	cr_assert_gt(full, (size_t)300 << 10);
	cr_assert_lt(full, BODY_CAP);
	struct metrics *m = NULL;
	cr_assert_eq(metrics_start(&m, "127.0.0.1:0", &view), 0);
	static char resp[2 * BODY_CAP];
	for (int i = 0; i < 2; i++) {
		cr_expect_eq(http(metrics_port(m), "GET", "/metrics", resp, sizeof(resp)), 200);
		cr_expect_str_eq(http_body(resp), body);
	}
	cr_expect_not_null(strstr(body, "\nenrichd_worker_events_total{worker=\"199\"} 199\n"));
	metrics_stop(m);
}
