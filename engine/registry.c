/*
 * registry: the Confluent Schema Registry client (contract in include/registry.h).
 *
 * The table. slots[] has a power-of-two capacity of at least 2 x ids_max, so linear probing
 * always finds an empty slot. A slot's key (id + 1; 0 = empty) is written once, by the
 * compare-and-swap that claims it, and its answer once, by the fetch thread's release store; a
 * slot is never emptied. So a reader that saw a key may read the answer at any later time, and an
 * answer, once seen, never changes.
 *
 * The fetch thread sleeps in poll(2) on the eventfd the workers write when they claim a slot. A
 * round scans the table for slots without an answer and fetches them one by one with one libcurl
 * easy handle (its connections stay open between requests). A request that finds the registry
 * unavailable on every URL ends the round; the next starts after the backoff, or at once when a
 * round succeeds.
 */
#include "registry.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* What one request learned. */
enum outcome {
	OUT_ANSWER,      /* a final answer for the id */
	OUT_UNAVAILABLE, /* this URL could not answer */
};

struct slot {
	_Atomic uint64_t key;                        /* id + 1, 0 = empty */
	struct registry_schema *_Atomic answer;      /* NULL while pending */
	_Atomic uint64_t dead_letters;
	_Atomic uint64_t messages;
};

struct registry {
	struct slot *slots;
	uint32_t mask;
	uint32_t ids_max;
	_Atomic uint32_t ids;
	const struct av_reader *reader;
	struct registry_config cfg;
	char urls[REGISTRY_URLS_MAX][REGISTRY_URL_MAX];
	char shown[REGISTRY_URLS_MAX][REGISTRY_URL_MAX]; /* the URLs without user info, for logs */
	uint32_t n_urls;
	uint32_t url_next; /* the URL that answered last: tried first */
	CURL *curl;
	char *body;        /* the response being received */
	size_t body_len;
	bool body_over;
	int efd;
	pthread_t thread;
	atomic_bool stop;
	_Atomic uint64_t requests, request_errors, full, dead_letters;
	_Atomic uint32_t unavailable, backoff_ms;
	char error[REGISTRY_REASON_MAX]; /* the last failure of the current outage, fetch thread */
};

static const char *const state_names[] = {"pending", "ready", "unknown",
					  "invalid", "unresolvable", "full"};

const char *registry_state_name(enum registry_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint32_t slot_of(const struct registry *r, uint32_t id)
{
	return (uint32_t)(((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15)) >> 40) & r->mask;
}

/* ---- the worker side ---- */

/* The slot of id, claimed for it when absent and claim is true; NULL when absent (or full). */
static struct slot *slot_find(struct registry *r, uint32_t id, bool claim, bool *claimed)
{
	uint64_t key = (uint64_t)id + 1;
	for (uint32_t i = slot_of(r, id);; i = (i + 1) & r->mask) {
		struct slot *s = &r->slots[i];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == key)
			return s;
		if (k != 0)
			continue;
		if (!claim)
			return NULL;
		/* count first, so that at most ids_max slots are ever claimed */
		if (atomic_fetch_add_explicit(&r->ids, 1, memory_order_relaxed) >= r->ids_max) {
			atomic_fetch_sub_explicit(&r->ids, 1, memory_order_relaxed);
			return NULL;
		}
		uint64_t expected = 0;
		if (atomic_compare_exchange_strong_explicit(&s->key, &expected, key,
							    memory_order_acq_rel,
							    memory_order_acquire)) {
			*claimed = true;
			return s;
		}
		atomic_fetch_sub_explicit(&r->ids, 1, memory_order_relaxed);
		if (expected == key) /* another worker claimed it for the same id */
			return s;
	}
}

enum registry_state registry_get(struct registry *r, uint32_t id,
				 const struct registry_schema **out)
{
	bool claimed = false;
	struct slot *s = slot_find(r, id, true, &claimed);
	if (s == NULL) {
		atomic_fetch_add_explicit(&r->full, 1, memory_order_relaxed);
		return REGISTRY_FULL;
	}
	if (claimed) {
		uint64_t one = 1;
		/* the eventfd's counter cannot overflow here: the thread reads it every round */
		if (write(r->efd, &one, sizeof(one)) < 0)
			log_warn("registry", "waking the fetch thread failed: %s", strerror(errno));
		return REGISTRY_PENDING;
	}
	const struct registry_schema *a = atomic_load_explicit(&s->answer, memory_order_acquire);
	if (a == NULL)
		return REGISTRY_PENDING;
	*out = a;
	return a->state;
}

void registry_dead_letter(struct registry *r, uint32_t id)
{
	bool claimed = false;
	struct slot *s = slot_find(r, id, false, &claimed);
	if (s != NULL)
		atomic_fetch_add_explicit(&s->dead_letters, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->dead_letters, 1, memory_order_relaxed);
}

void registry_count(struct registry *r, uint32_t id, uint64_t n)
{
	bool claimed = false;
	struct slot *s = slot_find(r, id, false, &claimed);
	if (s != NULL)
		atomic_fetch_add_explicit(&s->messages, n, memory_order_relaxed);
}

enum registry_state registry_wait(struct registry *r, uint32_t id, uint32_t timeout_ms,
				  const struct registry_schema **out)
{
	uint64_t end = now_ms() + timeout_ms;
	for (;;) {
		enum registry_state st = registry_get(r, id, out);
		if (st != REGISTRY_PENDING || now_ms() >= end)
			return st;
		nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
	}
}

void registry_stats(const struct registry *r, struct registry_stats *st)
{
	*st = (struct registry_stats){
		.requests = atomic_load_explicit(&r->requests, memory_order_relaxed),
		.request_errors = atomic_load_explicit(&r->request_errors, memory_order_relaxed),
		.full = atomic_load_explicit(&r->full, memory_order_relaxed),
		.dead_letters = atomic_load_explicit(&r->dead_letters, memory_order_relaxed),
		.unavailable = atomic_load_explicit(&r->unavailable, memory_order_relaxed),
		.backoff_ms = atomic_load_explicit(&r->backoff_ms, memory_order_relaxed),
	};
	for (uint32_t i = 0; i <= r->mask; i++) {
		struct slot *s = &r->slots[i];
		if (atomic_load_explicit(&s->key, memory_order_acquire) == 0)
			continue;
		const struct registry_schema *a =
			atomic_load_explicit(&s->answer, memory_order_acquire);
		st->ids++;
		switch (a == NULL ? REGISTRY_PENDING : a->state) {
		case REGISTRY_PENDING: st->ids_pending++; break;
		case REGISTRY_READY: st->ids_ready++; break;
		case REGISTRY_UNKNOWN: st->ids_unknown++; break;
		case REGISTRY_INVALID: st->ids_invalid++; break;
		case REGISTRY_UNRESOLVABLE: st->ids_unresolvable++; break;
		case REGISTRY_FULL: break;
		}
	}
}

void registry_each(const struct registry *r,
		   void (*fn)(void *ctx, uint32_t id, enum registry_state state, uint64_t messages,
			      uint64_t dead_letters),
		   void *ctx)
{
	for (uint32_t i = 0; i <= r->mask; i++) {
		struct slot *s = &r->slots[i];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == 0)
			continue;
		const struct registry_schema *a =
			atomic_load_explicit(&s->answer, memory_order_acquire);
		fn(ctx, (uint32_t)(k - 1), a == NULL ? REGISTRY_PENDING : a->state,
		   atomic_load_explicit(&s->messages, memory_order_relaxed),
		   atomic_load_explicit(&s->dead_letters, memory_order_relaxed));
	}
}

/* ---- the fetch thread ---- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct registry *r = ctx;
	size_t len = size * n;
	if (r->body_len + len > REGISTRY_RESPONSE_BYTES_MAX) {
		r->body_over = true;
		return 0; /* libcurl stops the transfer */
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	return len;
}

/* An answer for id with a reason (copied), or NULL when out of memory. */
static struct registry_schema *answer_new(uint32_t id, enum registry_state st, const char *reason)
{
	size_t n = reason ? strlen(reason) + 1 : 0;
	struct registry_schema *a = calloc(1, sizeof(*a) + n);
	if (a == NULL)
		return NULL;
	a->id = id;
	a->state = st;
	if (reason != NULL)
		a->reason = memcpy((char *)(a + 1), reason, n);
	return a;
}

/* The answer of a 200's body: {"schema": "<json>", "schemaType": "AVRO"?, ...}. NULL with *why
 * set when the body is not the registry's JSON. */
static struct registry_schema *answer_of_schema(struct registry *r, uint32_t id, const char **why)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(j, "schema");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "schemaType");
	struct registry_schema *a = NULL;
	char reason[REGISTRY_REASON_MAX];
	if (!cJSON_IsString(schema)) {
		*why = "a 200 answer without a \"schema\" string";
		goto out_delete;
	}
	if (type != NULL && !(cJSON_IsString(type) && strcmp(type->valuestring, "AVRO") == 0)) {
		snprintf(reason, sizeof(reason), "schema type %s, not AVRO",
			 cJSON_IsString(type) ? type->valuestring : "(not a string)");
		a = answer_new(id, REGISTRY_INVALID, reason);
		goto out_delete;
	}
	struct av_schema *s = NULL;
	struct av_plan *p = NULL;
	int rc = av_schema_parse(schema->valuestring, strlen(schema->valuestring), &s, reason,
				 sizeof(reason));
	if (rc < 0) {
		a = answer_new(id, REGISTRY_INVALID, reason);
		goto out_delete;
	}
	if (r->reader != NULL && (rc = av_resolve(s, r->reader, &p, reason, sizeof(reason))) < 0) {
		a = answer_new(id, REGISTRY_UNRESOLVABLE, reason);
	} else {
		a = answer_new(id, REGISTRY_READY, NULL);
	}
	if (a == NULL) {
		av_plan_free(p);
		av_schema_free(s);
	} else {
		a->schema = s;
		a->plan = p;
	}
out_delete:
	cJSON_Delete(j);
	return a;
}

/* Whether a 404's body is Confluent's "Schema not found" (error_code 40403). */
static bool body_not_found(const struct registry *r)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "error_code");
	bool yes = cJSON_IsNumber(code) && code->valuedouble == 40403;
	cJSON_Delete(j);
	return yes;
}

/* One GET of id from URL u: an answer in *out (NULL only when out of memory), or
 * OUT_UNAVAILABLE with the reason in r->error. */
static enum outcome request(struct registry *r, uint32_t u, uint32_t id,
			    struct registry_schema **out)
{
	char url[REGISTRY_URL_MAX + 32];
	snprintf(url, sizeof(url), "%s/schemas/ids/%" PRIu32, r->urls[u], id);
	r->body_len = 0;
	r->body_over = false;
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
	CURLcode cc = curl_easy_perform(r->curl);
	long status = 0;
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	const char *why = NULL;
	if (cc != CURLE_OK) {
		why = r->body_over ? "answer longer than the bound" : curl_easy_strerror(cc);
	} else if (status == 200) {
		*out = answer_of_schema(r, id, &why);
		if (why == NULL)
			return OUT_ANSWER;
	} else if (status == 404 && body_not_found(r)) {
		*out = answer_new(id, REGISTRY_UNKNOWN, "schema id not found in the registry");
		return OUT_ANSWER;
	}
	atomic_fetch_add_explicit(&r->request_errors, 1, memory_order_relaxed);
	if (why != NULL)
		snprintf(r->error, sizeof(r->error), "%.256s: %.200s", r->shown[u], why);
	else
		snprintf(r->error, sizeof(r->error), "%.256s: HTTP status %ld", r->shown[u], status);
	return OUT_UNAVAILABLE;
}

/* Fetches id from the URLs, starting with the last that answered. */
static enum outcome fetch(struct registry *r, uint32_t id, struct registry_schema **out)
{
	for (uint32_t k = 0; k < r->n_urls; k++) {
		uint32_t u = (r->url_next + k) % r->n_urls;
		if (request(r, u, id, out) == OUT_ANSWER) {
			r->url_next = u;
			return OUT_ANSWER;
		}
	}
	return OUT_UNAVAILABLE;
}

static void publish(struct registry *r, struct slot *s, struct registry_schema *a)
{
	if (a->state != REGISTRY_READY)
		log_warn("registry", "schema id %" PRIu32 ": %s: %s", a->id,
			 registry_state_name(a->state), a->reason);
	else
		log_info("registry", "schema id %" PRIu32 " ready", a->id);
	atomic_store_explicit(&s->answer, a, memory_order_release);
}

/* Fetches every pending id. Returns false when the registry was unavailable. */
static bool round_run(struct registry *r)
{
	for (uint32_t i = 0; i <= r->mask && !atomic_load(&r->stop); i++) {
		struct slot *s = &r->slots[i];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == 0 || atomic_load_explicit(&s->answer, memory_order_relaxed) != NULL)
			continue;
		struct registry_schema *a = NULL;
		if (fetch(r, (uint32_t)(k - 1), &a) == OUT_UNAVAILABLE)
			return false;
		if (a == NULL) { /* out of memory: try again in the next round */
			snprintf(r->error, sizeof(r->error), "out of memory");
			return false;
		}
		publish(r, s, a);
	}
	return true;
}

static void *fetch_main(void *arg)
{
	struct registry *r = arg;
	uint32_t backoff = 0; /* 0: the registry answered last time */
	uint64_t next_ms = 0; /* while unavailable: when the next round may start */
	while (!atomic_load(&r->stop)) {
		/* while unavailable, a round after each backoff; else when a worker asks */
		uint64_t now = now_ms();
		int timeout = backoff == 0 ? -1 : next_ms > now ? (int)(next_ms - now) : 0;
		struct pollfd pfd = {.fd = r->efd, .events = POLLIN};
		uint64_t n;
		if (poll(&pfd, 1, timeout) > 0 && read(r->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			log_warn("registry", "eventfd: %s", strerror(errno));
		if (atomic_load(&r->stop))
			break;
		if (backoff != 0 && now_ms() < next_ms)
			continue; /* a new id waits for the backoff like the others */
		if (round_run(r)) {
			if (backoff != 0)
				log_info("registry", "registry available again");
			backoff = 0;
		} else {
			if (backoff == 0)
				log_warn("registry",
					 "registry unavailable (%s); retrying with a backoff up to %" PRIu32
					 " ms, events of pending schema ids wait",
					 r->error, r->cfg.backoff_max_ms);
			backoff = backoff == 0 ? r->cfg.backoff_min_ms
				  : backoff > r->cfg.backoff_max_ms / 2 ? r->cfg.backoff_max_ms
									  : backoff * 2;
			next_ms = now_ms() + backoff;
		}
		atomic_store_explicit(&r->unavailable, backoff != 0, memory_order_relaxed);
		atomic_store_explicit(&r->backoff_ms, backoff, memory_order_relaxed);
	}
	return NULL;
}

/* ---- setup ---- */

/* url without the user info ("user:password@") of its authority, into out (REGISTRY_URL_MAX;
 * url is shorter). */
static void url_redact(const char *restrict url, char *restrict out)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	const char *end = host + strcspn(host, "/");
	const char *at = NULL;
	for (const char *q = host; q < end; q++)
		if (*q == '@')
			at = q;
	size_t head = at ? (size_t)(host - url) : 0;
	const char *rest = at ? at + 1 : url;
	memcpy(out, url, head);
	memcpy(out + head, rest, strlen(rest) + 1);
}

/* Splits cfg->urls at commas into r->urls, each trimmed and without a trailing '/'; r->shown
 * has them without their user info. */
static int urls_parse(struct registry *r, const char *urls)
{
	const char *p = urls;
	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n > 0 && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '/'))
			n--;
		if (n > 0) {
			if (r->n_urls == REGISTRY_URLS_MAX || n >= REGISTRY_URL_MAX) {
				log_error("registry", "more than %d URLs, or one of %d bytes or more",
					  REGISTRY_URLS_MAX, REGISTRY_URL_MAX);
				return -EINVAL;
			}
			memcpy(r->urls[r->n_urls], p, n);
			r->urls[r->n_urls][n] = '\0';
			url_redact(r->urls[r->n_urls], r->shown[r->n_urls]);
			if (strncmp(r->urls[r->n_urls], "http://", 7) != 0 &&
			    strncmp(r->urls[r->n_urls], "https://", 8) != 0) {
				log_error("registry", "URL %s is not http:// or https://",
					  r->shown[r->n_urls]);
				return -EINVAL;
			}
			r->n_urls++;
		}
		p = comma ? comma + 1 : NULL;
	}
	if (r->n_urls == 0) {
		log_error("registry", "no registry URL");
		return -EINVAL;
	}
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global_rc;

static void curl_init_once(void)
{
	curl_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The easy handle every request of the fetch thread uses. */
static int curl_setup(struct registry *r)
{
	const struct registry_config *c = &r->cfg;
	pthread_once(&curl_once, curl_init_once);
	if (curl_global_rc != CURLE_OK || (r->curl = curl_easy_init()) == NULL)
		return -ENOMEM;
	CURL *h = r->curl;
	int bad = 0;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, r) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "enrichd/" ENRICHD_VERSION) != CURLE_OK;
	if (c->username != NULL) {
		bad |= curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_USERNAME, c->username) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "") !=
		       CURLE_OK;
	}
	if (c->ca_file != NULL)
		bad |= curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) != CURLE_OK;
	if (c->cert_file != NULL)
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file) != CURLE_OK;
	if (c->key_file != NULL)
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file) != CURLE_OK;
	if (c->key_password != NULL)
		bad |= curl_easy_setopt(h, CURLOPT_KEYPASSWD, c->key_password) != CURLE_OK;
	if (bad) {
		log_error("registry", "libcurl refused an option");
		return -EINVAL;
	}
	return 0;
}

static int config_take(struct registry *r, const struct registry_config *cfg)
{
	r->cfg = *cfg;
	struct registry_config *c = &r->cfg;
	c->connect_timeout_ms = c->connect_timeout_ms ? c->connect_timeout_ms
						      : REGISTRY_CONNECT_TIMEOUT_MS_DEFAULT;
	c->timeout_ms = c->timeout_ms ? c->timeout_ms : REGISTRY_TIMEOUT_MS_DEFAULT;
	c->backoff_min_ms = c->backoff_min_ms ? c->backoff_min_ms : REGISTRY_BACKOFF_MIN_MS_DEFAULT;
	c->backoff_max_ms = c->backoff_max_ms ? c->backoff_max_ms : REGISTRY_BACKOFF_MAX_MS_DEFAULT;
	if (c->backoff_max_ms < c->backoff_min_ms)
		c->backoff_max_ms = c->backoff_min_ms;
	c->ids_max = c->ids_max ? c->ids_max : REGISTRY_IDS_MAX_DEFAULT;
	if (c->ids_max > REGISTRY_IDS_MAX) {
		log_error("registry", "ids_max %" PRIu32 " above %u", c->ids_max, REGISTRY_IDS_MAX);
		return -EINVAL;
	}
	/* the strings are the caller's: only the URLs are copied, libcurl copies the others */
	return urls_parse(r, cfg->urls);
}

int registry_create(struct registry **out, const struct registry_config *cfg,
		    const struct av_reader *reader)
{
	struct registry *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->efd = -1;
	r->reader = reader;
	int rc = config_take(r, cfg);
	if (rc < 0)
		goto out_free;
	r->ids_max = r->cfg.ids_max;
	uint32_t cap = 16;
	while (cap < 2 * r->ids_max)
		cap *= 2;
	r->mask = cap - 1;
	rc = -ENOMEM;
	if ((r->slots = calloc(cap, sizeof(*r->slots))) == NULL ||
	    (r->body = malloc(REGISTRY_RESPONSE_BYTES_MAX)) == NULL)
		goto out_free;
	if ((rc = curl_setup(r)) < 0)
		goto out_free;
	if ((r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = -errno;
		goto out_free;
	}
	if ((rc = -pthread_create(&r->thread, NULL, fetch_main, r)) < 0)
		goto out_free;
	log_info("registry", "schema registry %s%s, up to %" PRIu32 " schema ids", r->shown[0],
		 r->n_urls > 1 ? " and more" : "", r->ids_max);
	*out = r;
	return 0;
out_free:
	if (r->efd >= 0)
		close(r->efd);
	curl_easy_cleanup(r->curl);
	free(r->body);
	free(r->slots);
	free(r);
	return rc;
}

void registry_destroy(struct registry *r)
{
	if (r == NULL)
		return;
	atomic_store(&r->stop, true);
	uint64_t one = 1;
	if (write(r->efd, &one, sizeof(one)) < 0)
		log_warn("registry", "waking the fetch thread failed: %s", strerror(errno));
	pthread_join(r->thread, NULL);
	for (uint32_t i = 0; i <= r->mask; i++) {
		struct registry_schema *a = atomic_load(&r->slots[i].answer);
		if (a == NULL)
			continue;
		av_plan_free((struct av_plan *)a->plan);
		av_schema_free((struct av_schema *)a->schema);
		free(a);
	}
	close(r->efd);
	curl_easy_cleanup(r->curl);
	free(r->body);
	free(r->slots);
	free(r);
}
