/*
 * registry: the Confluent Schema Registry client. Writer schemas are fetched by id
 * (GET <url>/schemas/ids/<id>) on the registry's own thread, parsed and resolved against the
 * declared fields (avro.h) there, and kept for the life of the process.
 *
 * Handoff. A worker asks with registry_get(): the id's slot in an open-addressing table of fixed
 * capacity is found with one load of its key, and its answer with one more (an acquire load of
 * a pointer to an immutable struct registry_schema, NULL while the id is pending). The first ask
 * of an id claims a slot with one compare-and-swap and wakes the fetch thread with one write to
 * an eventfd; nothing else on a worker's path takes a lock or makes a system call, and a pending
 * id never holds up another id's events. The fetch thread fetches every pending id, publishes
 * its answer with a release store, and never removes or changes it again: an answer stays valid
 * until registry_destroy().
 *
 * Answers. 200 with an Avro schema: parsed and resolved, READY (a plan) or, as dead letters for
 * its messages, INVALID (not Avro: "schemaType" other than AVRO, or not a valid schema) or
 * UNRESOLVABLE (the reason names the declared field and why). 404 whose body has Confluent's
 * error_code 40403 ("Schema not found"): UNKNOWN, a dead letter. Everything else (no
 * connection, a timeout, 5xx, 401/403, a 404 or 200 that is not the registry's JSON) means the
 * registry is unavailable: the id stays PENDING, the next URL of the list is tried, and when
 * every URL failed the whole registry backs off (backoff_min_ms doubling up to backoff_max_ms)
 * before it tries the pending ids again. An outage never turns into a dead letter: the worker
 * pauses what waits on a PENDING id and finds the answer once the registry is back. Every answer
 * but PENDING is final for the process (a schema id, once registered, never changes).
 *
 * Bounds: at most ids_max distinct ids (the next ones get REGISTRY_FULL), REGISTRY_URLS_MAX
 * URLs, a response of at most REGISTRY_RESPONSE_BYTES_MAX bytes (longer: unavailable, logged).
 * Logs: the start and end of each outage once, and each id that is not READY once.
 */
#ifndef ENRICHD_REGISTRY_H
#define ENRICHD_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "avro.h"

#define REGISTRY_URLS_MAX 8
#define REGISTRY_URL_MAX 1024                          /* bytes of one base URL */
#define REGISTRY_RESPONSE_BYTES_MAX ((size_t)4 << 20)  /* a schema's JSON, escaped, and more */
#define REGISTRY_REASON_MAX 512                        /* bytes of a stored reason */
#define REGISTRY_IDS_MAX 1000000u                      /* largest ids_max */

/* Defaults of the zero fields of struct registry_config. */
#define REGISTRY_CONNECT_TIMEOUT_MS_DEFAULT 2000u
#define REGISTRY_TIMEOUT_MS_DEFAULT 10000u
#define REGISTRY_BACKOFF_MIN_MS_DEFAULT 100u
#define REGISTRY_BACKOFF_MAX_MS_DEFAULT 10000u
#define REGISTRY_IDS_MAX_DEFAULT 4096u

struct registry_config {
	const char *urls;         /* "http://h1:8081,https://h2:8081": tried in order, the last
				     that answered first; user info in a URL is used */
	const char *username;     /* basic auth, with password (NULL: none) */
	const char *password;
	const char *ca_file;      /* TLS: CA bundle to verify the server (NULL: the system's) */
	const char *cert_file;    /* TLS client certificate and key (PEM; NULL: none) */
	const char *key_file;
	const char *key_password;
	uint32_t connect_timeout_ms;
	uint32_t timeout_ms;      /* a whole request */
	uint32_t backoff_min_ms;  /* first wait after the registry failed, doubled up to max */
	uint32_t backoff_max_ms;
	uint32_t ids_max;         /* distinct schema ids kept */
};

enum registry_state {
	REGISTRY_PENDING = 0,     /* asked: being fetched, or waiting for the registry to return */
	REGISTRY_READY,           /* schema and plan are there */
	REGISTRY_UNKNOWN,         /* the registry has no schema of this id */
	REGISTRY_INVALID,         /* not an Avro schema, or not a valid one */
	REGISTRY_UNRESOLVABLE,    /* a valid schema the declared fields cannot read */
	REGISTRY_FULL,            /* ids_max ids are kept already */
};

/* An id's answer; immutable once published, valid until registry_destroy(). */
struct registry_schema {
	uint32_t id;
	enum registry_state state;      /* never PENDING */
	const struct av_schema *schema; /* READY, UNRESOLVABLE */
	const struct av_plan *plan;     /* READY (NULL when the registry has no reader) */
	const char *reason;             /* not READY: why, e.g. "user_id: writer type string
					   cannot be read as UInt64" */
};

/* The client's counters, read with atomic loads (any thread). */
struct registry_stats {
	uint64_t requests;        /* HTTP requests made */
	uint64_t request_errors;  /* requests that failed: transport, timeout, 5xx, unexpected */
	uint64_t ids;             /* ids in the cache, any state but FULL */
	uint64_t ids_pending, ids_ready, ids_unknown, ids_invalid, ids_unresolvable;
	uint64_t full;            /* asks refused with REGISTRY_FULL */
	uint64_t dead_letters;    /* registry_dead_letter() calls, all ids */
	uint32_t unavailable;     /* 1 while the registry is down (the last round failed) */
	uint32_t backoff_ms;      /* the wait before the next round while unavailable */
};

struct registry;

/*
 * Starts the client and its fetch thread. reader (may be NULL: schemas are then parsed but not
 * resolved) must outlive the registry. Returns 0 with *out set; -EINVAL for a bad
 * configuration (no URL, a URL not http:// or https://, more than REGISTRY_URLS_MAX, ids_max
 * above REGISTRY_IDS_MAX; logged); -ENOMEM; -errno when the thread or eventfd cannot be made.
 */
int registry_create(struct registry **out, const struct registry_config *cfg,
		    const struct av_reader *reader);

/* Stops the fetch thread (a request in flight finishes or times out) and frees everything,
 * every answer and plan included. NULL ok. */
void registry_destroy(struct registry *r);

/*
 * The state of schema id, for the worker's hot path: two loads when the id is known. On a state
 * other than PENDING and FULL, *out is the answer. The first ask of an id queues it for the fetch
 * thread. Thread-safe, lock-free; never blocks, never allocates.
 */
enum registry_state registry_get(struct registry *r, uint32_t id,
				 const struct registry_schema **out);

/* Counts a message of id dead-lettered because of its schema (per id, for the metrics). */
void registry_dead_letter(struct registry *r, uint32_t id);

/* Counts n messages of id taken (per id, for the metrics): one atomic add, so a worker calls it
 * once per run of one id, not per message. An id not in the cache is not counted. */
void registry_count(struct registry *r, uint32_t id, uint64_t n);

/* Waits up to timeout_ms for id to leave PENDING (polling; for tools and tests, not workers).
 * Returns the state, PENDING on timeout. */
enum registry_state registry_wait(struct registry *r, uint32_t id, uint32_t timeout_ms,
				  const struct registry_schema **out);

/* Fills *st. Reads atomics only; cost linear in the table's capacity (2 x ids_max). */
void registry_stats(const struct registry *r, struct registry_stats *st);

/* Calls fn for each id in the cache with its state, its messages (registry_count) and its
 * dead-letter count, for per-id metrics. Reads atomics only; fn must not call back into the
 * registry's write side. */
void registry_each(const struct registry *r,
		   void (*fn)(void *ctx, uint32_t id, enum registry_state state, uint64_t messages,
			      uint64_t dead_letters),
		   void *ctx);

/* Short stable name of a state: "pending", "ready", "unknown", "invalid", "unresolvable",
 * "full". */
const char *registry_state_name(enum registry_state s);

#endif
