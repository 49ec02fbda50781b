/*
 * Unit tests of the Schema Registry client against the real test registry (tests/registry),
 * which each test starts on a free port and stops. Skipped where node is not installed.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "registry.h"

extern char **environ;

static pid_t reg_pid;
static char dir[64];
static char url[128];
static struct av_reader *reader;
static struct registry *reg;

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* Whether file contains text, within timeout_ms. */
static bool wait_text(const char *file, const char *text, long timeout_ms)
{
	for (long t = 0; t < timeout_ms; t += 20) {
		FILE *f = fopen(file, "r");
		char buf[4096] = "";
		if (f != NULL) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
			if (strstr(buf, text) != NULL)
				return true;
		}
		sleep_ms(20);
	}
	return false;
}

static void start(void)
{
	char script[4096];
	snprintf(script, sizeof(script), "%s", __FILE__);
	char *slash = strrchr(script, '/');
	cr_assert_not_null(slash);
	strcpy(slash, "/../registry/registry.js");
	if (access(script, R_OK) != 0 || system("node --version >/dev/null 2>&1") != 0)
		cr_skip_test("node or tests/registry/registry.js missing");
	snprintf(dir, sizeof(dir), "/tmp/enrichd-registry-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char port_file[128], log_file[128];
	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	snprintf(log_file, sizeof(log_file), "%s/log", dir);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *argv[] = {"node", script, "--port-file", port_file, NULL};
	cr_assert_eq(posix_spawnp(&reg_pid, "node", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert(wait_text(port_file, "http://", 10000), "the registry did not start");
	FILE *f = fopen(port_file, "r");
	cr_assert(fgets(url, sizeof(url), f) != NULL);
	fclose(f);
	url[strcspn(url, "\n")] = '\0';
	static const struct av_field_decl decls[] = {{.path = "user_id", .target = AV_TO_U64, .size = 8}};
	char err[256];
	cr_assert_eq(av_reader_create(decls, 1, &reader, err, sizeof(err)), 0);
}

static void stop(void)
{
	registry_destroy(reg);
	reg = NULL;
	av_reader_free(reader);
	reader = NULL;
	if (reg_pid > 0) {
		kill(reg_pid, SIGTERM);
		waitpid(reg_pid, NULL, 0);
		reg_pid = 0;
	}
	if (dir[0] != '\0') {
		t_rm_tree(dir);
		dir[0] = '\0';
	}
}

TestSuite(registry, .init = start, .fini = stop);

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
	strncat(ctx, p, size * n < 200 ? size * n : 200);
	return size * n;
}

/* Registers an Avro (or other type) schema under subject; returns its id. */
static uint32_t register_schema(const char *subject, const char *type, const char *schema)
{
	char target[256], body[4096], answer[512] = "";
	snprintf(target, sizeof(target), "%s/subjects/%s/versions", url, subject);
	char *esc = malloc(strlen(schema) * 2 + 1), *o = esc;
	for (const char *s = schema; *s; s++) {
		if (*s == '"' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	snprintf(body, sizeof(body), "{\"schema\":\"%s\",\"schemaType\":\"%s\"}", esc, type);
	free(esc);
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, target);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	unsigned id = 0;
	cr_assert_eq(sscanf(answer, "{\"id\":%u}", &id), 1, "answer: %s", answer);
	return id;
}

static void create(uint32_t ids_max)
{
	struct registry_config cfg = {.urls = url, .ids_max = ids_max, .backoff_min_ms = 20,
				      .backoff_max_ms = 200, .timeout_ms = 2000};
	cr_assert_eq(registry_create(&reg, &cfg, reader), 0);
}

#define GOOD "{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"user_id\",\"type\":\"long\"}]}"
#define BAD "{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"user_id\",\"type\":\"string\"}]}"

Test(registry, answers_and_counters)
{
	uint32_t good = register_schema("a-value", "AVRO", GOOD);
	uint32_t bad = register_schema("b-value", "AVRO", BAD);
	uint32_t proto = register_schema("c-value", "PROTOBUF", "syntax = \"proto3\"; message M {}");
	create(0);
	const struct registry_schema *s = NULL;
	cr_expect_eq(registry_get(reg, good, &s), REGISTRY_PENDING);
	cr_assert_eq(registry_wait(reg, good, 5000, &s), REGISTRY_READY);
	cr_expect_not_null(s->plan);
	cr_expect_eq(s->id, good);
	cr_expect_eq(registry_get(reg, good, &s), REGISTRY_READY);
	cr_assert_eq(registry_wait(reg, bad, 5000, &s), REGISTRY_UNRESOLVABLE);
	cr_expect_str_eq(s->reason, "user_id: writer type string cannot be read as UInt64");
	cr_assert_eq(registry_wait(reg, proto, 5000, &s), REGISTRY_INVALID);
	cr_expect_str_eq(s->reason, "schema type PROTOBUF, not AVRO");
	cr_assert_eq(registry_wait(reg, 999, 5000, &s), REGISTRY_UNKNOWN);
	registry_dead_letter(reg, bad);
	registry_dead_letter(reg, bad);
	struct registry_stats st;
	registry_stats(reg, &st);
	cr_expect_eq(st.ids, 4);
	cr_expect_eq(st.ids_ready, 1);
	cr_expect_eq(st.ids_unresolvable, 1);
	cr_expect_eq(st.ids_invalid, 1);
	cr_expect_eq(st.ids_unknown, 1);
	cr_expect_eq(st.requests, 4);
	cr_expect_eq(st.request_errors, 0);
	cr_expect_eq(st.dead_letters, 2);
	cr_expect_eq(st.unavailable, 0);
}

static uint64_t dead_of_bad;
static uint32_t bad_id;

static void each(void *ctx, uint32_t id, enum registry_state state, uint64_t messages,
		 uint64_t dead)
{
	(void)ctx;
	(void)messages;
	if (id == bad_id && state == REGISTRY_UNRESOLVABLE)
		dead_of_bad = dead;
}

Test(registry, per_id_dead_letters_and_full)
{
	bad_id = register_schema("b-value", "AVRO", BAD);
	create(1);
	const struct registry_schema *s = NULL;
	cr_assert_eq(registry_wait(reg, bad_id, 5000, &s), REGISTRY_UNRESOLVABLE);
	cr_expect_eq(registry_get(reg, bad_id + 1, &s), REGISTRY_FULL);
	registry_dead_letter(reg, bad_id);
	registry_each(reg, each, NULL);
	cr_expect_eq(dead_of_bad, 1);
	struct registry_stats st;
	registry_stats(reg, &st);
	cr_expect_eq(st.full, 1);
	cr_expect_eq(st.ids, 1);
}

Test(registry, outage_waits_and_resumes)
{
	uint32_t good = register_schema("a-value", "AVRO", GOOD);
	char log_file[128];
	snprintf(log_file, sizeof(log_file), "%s/log", dir);
	kill(reg_pid, SIGUSR1);
	cr_assert(wait_text(log_file, "outage on", 5000));
	create(0);
	const struct registry_schema *s = NULL;
	cr_expect_eq(registry_wait(reg, good, 300, &s), REGISTRY_PENDING);
	struct registry_stats st;
	registry_stats(reg, &st);
	cr_expect_eq(st.unavailable, 1);
	cr_expect_gt(st.backoff_ms, 0);
	cr_expect_gt(st.request_errors, 0);
	cr_expect_eq(st.ids_pending, 1);
	kill(reg_pid, SIGUSR1);
	cr_assert(wait_text(log_file, "outage off", 5000));
	cr_expect_eq(registry_wait(reg, good, 5000, &s), REGISTRY_READY);
	registry_stats(reg, &st);
	cr_expect_eq(st.unavailable, 0);
	cr_expect_eq(st.backoff_ms, 0);
}

Test(registry, next_url_when_one_fails)
{
	uint32_t good = register_schema("a-value", "AVRO", GOOD);
	char urls[300];
	snprintf(urls, sizeof(urls), "http://127.0.0.1:1/, %s", url);
	struct registry_config cfg = {.urls = urls, .connect_timeout_ms = 500};
	cr_assert_eq(registry_create(&reg, &cfg, reader), 0);
	const struct registry_schema *s = NULL;
	cr_expect_eq(registry_wait(reg, good, 5000, &s), REGISTRY_READY);
	struct registry_stats st;
	registry_stats(reg, &st);
	cr_expect_eq(st.request_errors, 1);
}

Test(registry, bad_configurations)
{
	struct registry *r = NULL;
	cr_expect_eq(registry_create(&r, &(struct registry_config){.urls = ""}, NULL), -EINVAL);
	cr_expect_eq(registry_create(&r, &(struct registry_config){.urls = "ftp://x"}, NULL), -EINVAL);
	cr_expect_eq(registry_create(&r, &(struct registry_config){.urls = "http://a", .ids_max = 2000000},
				     NULL),
		     -EINVAL);
	cr_expect_null(r);
}
