/*
 * gen: deterministic test data for enrichd — dimension keys and rows, and clickstream events.
 *
 * A library of its own (enrichd_gen) for the generator programs, benchmarks and tests; the
 * engine does not link it.
 *
 * Every value here is a pure function of (seed, index): row i of a dimension or event number seq
 * can be recomputed anywhere (the generator programs, tests, benchmarks) with no shared state, no
 * allocation and no locks (a table of domain names is built once, on first use, under
 * pthread_once); all functions are thread-safe and write only to what the caller passes.
 *
 * Keys come in two disjoint families for each dimension:
 *   present  gen_user_id(seed, i), gen_device_id(seed, i, ...), gen_url(seed, i, ...): row i of a
 *            dimension of N rows (i < N) has key(i); distinct i give distinct keys.
 *   missing  gen_*_missing(seed, j): distinct j give distinct keys, and no missing key equals any
 *            present key for any i, j (whatever N is), so an event carrying one never joins.
 * Indexes are taken modulo 2^62 (GEN_INDEX_MAX + 1).
 *
 * Key shapes (all ASCII except some urls):
 *   user_id    UInt64 in [2^62, 2^63) when present, in [2^63, 2^63 + 2^62) when missing: every id
 *              is above 2^53, so a decoder that goes through a double loses it.
 *   device_id  mostly "dev-" + 17 base32 characters (21 bytes; the 5th byte is in [0-9a-f] when
 *              present, in [g-z] when missing); one row in 8 has a numeric id instead, the decimal
 *              digits of a UInt64: 20 digits when present, 19 when missing (events may carry
 *              those as JSON integers).
 *   url        "https://" domain path, at most GEN_URL_MAX - 1 bytes, unique through a 14-character
 *              token in the path (its first character tells present from missing like device
 *              ids). Some urls hold non-ASCII UTF-8 (2-, 3- and 4-byte sequences) and a few hold
 *              '"', '\\', ',' or '\'' so writers and readers must escape them.
 */
#ifndef ENRICHD_GEN_H
#define ENRICHD_GEN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define GEN_INDEX_MAX ((UINT64_C(1) << 62) - 1)
/* Buffer sizes including the terminating NUL. */
#define GEN_DEVICE_ID_MAX 32
#define GEN_URL_MAX 256
#define GEN_DOMAIN_MAX 64
#define GEN_DATE_MAX 11 /* "YYYY-MM-DD" */
/* Upper bound of an event payload (well-formed or not), in bytes. */
#define GEN_EVENT_PAYLOAD_MAX 4096

/* ---- mixing and random streams -------------------------------------------------------------- */

/* The splitmix64 stream below, and every key and row above, derive from these. Also for the
 * benchmarks and tests that want random draws of their own: one generator for the project. */
#define GEN_MIX_GOLDEN UINT64_C(0x9e3779b97f4a7c15)

/* splitmix64's finalizer: a bijection of 64-bit values (distinct inputs, distinct outputs). */
static inline uint64_t gen_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* A splitmix64 stream: s is its state (any value seeds it); one per thread. */
struct gen_rng {
	uint64_t s;
};

static inline uint64_t gen_next(struct gen_rng *r)
{
	r->s += GEN_MIX_GOLDEN;
	return gen_mix64(r->s);
}

/* Uniform in [0, n) for n >= 1 (multiply-shift, no division; the bias is below 2^-32 for n below
 * 2^32). */
static inline uint64_t gen_below(struct gen_rng *r, uint64_t n)
{
	__extension__ typedef unsigned __int128 gen_u128;
	return (uint64_t)(((gen_u128)gen_next(r) * n) >> 64);
}

/* ---- keys ---------------------------------------------------------------------------------- */

/* Key of users row i / a user id that no users row has. */
uint64_t gen_user_id(uint64_t seed, uint64_t i);
uint64_t gen_user_id_missing(uint64_t seed, uint64_t j);

/* Writes the device id of devices row i (or a missing one) NUL-terminated into buf and returns
 * its length (19 to 21). */
size_t gen_device_id(uint64_t seed, uint64_t i, char buf[GEN_DEVICE_ID_MAX]);
size_t gen_device_id_missing(uint64_t seed, uint64_t j, char buf[GEN_DEVICE_ID_MAX]);

/* Writes the url of urls row i (or a missing one) NUL-terminated into buf; returns its length
 * (< GEN_URL_MAX). */
size_t gen_url(uint64_t seed, uint64_t i, char buf[GEN_URL_MAX]);
size_t gen_url_missing(uint64_t seed, uint64_t j, char buf[GEN_URL_MAX]);

/* ---- dimension rows ------------------------------------------------------------------------- */

/* The const char * attributes below point to static storage (valid for the whole program). */
struct gen_user_row {
	uint64_t user_id;
	const char *country; /* ISO 3166-1 alpha-2, one of about 200, skewed (a few are common) */
	const char *plan;    /* free, basic, pro, enterprise (most are free) */
	int32_t signup_days; /* Date: days since 1970-01-01, 2012-01-01 to 2025-12-31 */
};

struct gen_device_row {
	char device_id[GEN_DEVICE_ID_MAX];
	size_t device_id_len;
	const char *device_type; /* mobile, desktop, tablet, tv, console, wearable, ... */
	const char *os;          /* consistent with device_type */
	const char *browser;
};

struct gen_url_row {
	char url[GEN_URL_MAX];
	size_t url_len;
	char domain[GEN_DOMAIN_MAX]; /* host part of url, one of GEN_DOMAIN_COUNT, skewed */
	size_t domain_len;
	const char *category; /* one of 30, a function of the domain */
};

#define GEN_DOMAIN_COUNT 3072

/* Fill *out with row i of the users / devices / urls dimension for seed. */
void gen_user_row_fill(uint64_t seed, uint64_t i, struct gen_user_row *out);
void gen_device_row_fill(uint64_t seed, uint64_t i, struct gen_device_row *out);
void gen_url_row_fill(uint64_t seed, uint64_t i, struct gen_url_row *out);

/* Writes days since 1970-01-01 (years 0000-9999) as "YYYY-MM-DD" plus NUL; returns 10. */
size_t gen_date_format(int32_t days, char buf[GEN_DATE_MAX]);

/* ---- events --------------------------------------------------------------------------------- */

/* Kinds of deliberately malformed events; every one must be rejected by a decoder of the default
 * schema (RFC 8259 JSON, an object with timestamp, user_id, url and device_id of the accepted
 * types and ranges). */
enum gen_malformed {
	GEN_MALFORMED_NONE = 0,
	GEN_MALFORMED_EMPTY,         /* zero-length payload */
	GEN_MALFORMED_SYNTAX,        /* not JSON: truncated, bad token or escape, trailing bytes, ... */
	GEN_MALFORMED_NOT_OBJECT,    /* valid JSON that is not an object */
	GEN_MALFORMED_MISSING_FIELD, /* one of the four fields absent */
	GEN_MALFORMED_WRONG_TYPE,    /* a field of a type the schema does not accept */
	GEN_MALFORMED_OUT_OF_RANGE,  /* a number or date outside its type's range */
	GEN_MALFORMED_COUNT,
};

/* "ok", "empty", "syntax", "not_object", "missing_field", "wrong_type", "out_of_range". */
const char *gen_malformed_name(enum gen_malformed kind);

struct gen_event_config {
	uint64_t seed;
	uint64_t count;   /* events in the run, spreads event time; 0 = unbounded */
	uint64_t users;   /* dimension sizes present keys are drawn from (index < size); */
	uint64_t devices; /* a size of 0 makes every key of that dimension missing */
	uint64_t urls;
	double miss_users; /* share of well-formed events whose key is missing, in [0, 1] */
	double miss_devices;
	double miss_urls;
	double malformed; /* share of malformed events, in [0, 1] */
	double skew;      /* 0: keys drawn uniformly; s > 0: index = N * u^(1+s), low rows hot */
	bool variety;     /* mix every accepted encoding (see gen_event_make) */
	int64_t start_ms; /* event time of seq 0, Unix ms, >= 0 */
	int64_t spread_ms; /* base time grows linearly to start_ms + spread_ms at seq = count
			      (with count 0: per million events) */
	int64_t jitter_ms; /* each event is up to this much earlier than its base time */
};

/* Defaults: seed 1, count 0, 1M users and devices, 100K urls, no misses, no malformed events,
 * uniform keys, no variety, start 2025-01-01T00:00:00Z, spread one hour, jitter 2 s. */
void gen_event_config_default(struct gen_event_config *cfg);
/* Returns 0, or -EINVAL when a share is outside [0, 1], skew < 0 or a time is negative. */
int gen_event_config_check(const struct gen_event_config *cfg);

/* One event and what a correct decoder must get from it. */
struct gen_event {
	uint64_t seq;
	enum gen_malformed malformed;
	/* Expected values, meaningful when malformed == GEN_MALFORMED_NONE. */
	int64_t event_time_ms; /* as the payload states it, sub-millisecond digits truncated */
	uint64_t user_id;
	char device_id[GEN_DEVICE_ID_MAX]; /* as a string, also when the payload has an integer */
	size_t device_id_len;
	char url[GEN_URL_MAX]; /* decoded (UTF-8), whatever escapes the payload uses */
	size_t url_len;
	bool user_present; /* key drawn from the present family with index < dimension size */
	bool device_present;
	bool url_present;
	char payload[GEN_EVENT_PAYLOAD_MAX]; /* the message bytes, not NUL-terminated; never holds
						a newline */
	size_t payload_len;
};

/*
 * Builds event seq of the run described by cfg (checked with gen_event_config_check) into *out.
 * Without variety a well-formed payload is
 *   {"timestamp":"YYYY-MM-DDTHH:MM:SS.mmmZ","user_id":N,"url":"...","device_id":"..."}
 * with only the escapes JSON requires. With variety: fields in any order, whitespace between
 * tokens, unknown extra fields (nested objects and arrays, a nested "user_id", big numbers,
 * escapes), timestamp as epoch-ms integer or RFC 3339 with offsets from -12:00 to +14:00 and 0 to
 * 9 fraction digits, user_id as number or decimal string, numeric device ids as integers, and
 * strings with \/ and \uXXXX escapes (upper or lower case hex, surrogate pairs for non-BMP).
 */
void gen_event_make(const struct gen_event_config *cfg, uint64_t seq, struct gen_event *out);

/* ---- buffered output ------------------------------------------------------------------------ */

/* A file written through one large buffer with write(2); errors are sticky and reported by
 * gen_writer_close. Not thread-safe: one writer per thread. */
struct gen_writer {
	int fd;
	bool owns_fd; /* false for standard output */
	char *buf;    /* owned, cap bytes */
	size_t len;
	size_t cap;
	int err; /* first error (-errno), 0 while fine */
	uint64_t bytes; /* written to the file so far */
};

/* Opens path for writing (created or truncated, mode 0644; "-" is standard output) with a
 * buffer of buf_bytes (at least 64 KiB is used). Returns 0 or -errno; on error *w needs no
 * close. */
int gen_writer_open(struct gen_writer *w, const char *path, size_t buf_bytes);
/* Writes the buffer out. Returns 0 or the sticky error. */
int gen_writer_flush(struct gen_writer *w);
/* Flushes, fsyncs a regular file when sync is true, closes and frees. Returns 0 or the first
 * error met since open. */
int gen_writer_close(struct gen_writer *w, bool sync);

static inline void gen_writer_put(struct gen_writer *w, const void *s, size_t n)
{
	if (n > w->cap - w->len) {
		if (gen_writer_flush(w) != 0)
			return;
		if (n > w->cap) { /* bigger than the whole buffer: never with the sizes used here */
			w->err = w->err ? w->err : -E2BIG;
			return;
		}
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static inline void gen_writer_putc(struct gen_writer *w, char c)
{
	if (w->len == w->cap && gen_writer_flush(w) != 0)
		return;
	w->buf[w->len++] = c;
}

/* Decimal digits of v. */
void gen_writer_put_u64(struct gen_writer *w, uint64_t v);
void gen_writer_put_i64(struct gen_writer *w, int64_t v);
/* s[0..n) as a ClickHouse TabSeparated field: \\, \t, \n, \r, \0, \b and \f escaped. */
void gen_writer_put_tsv_escaped(struct gen_writer *w, const char *s, size_t n);
static inline void gen_writer_put_tsv(struct gen_writer *w, const char *s, size_t n)
{
	/* Fast path: most values hold no byte below 0x20 and no backslash; test 8 bytes at a
	 * time (a byte below 0x20, or equal to 0x5c, sets its high bit in the result; exact for
	 * the question "is there any"). */
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
	uint64_t found = 0;
	size_t k = 0;
	for (; k + 8 <= n; k += 8) {
		uint64_t x, y;
		memcpy(&x, s + k, 8);
		y = x ^ (ones * 0x5c);
		found |= ((x - ones * 0x20) & ~x & highs) | ((y - ones) & ~y & highs);
	}
	for (; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		found |= c < 0x20 || c == 0x5c;
	}
	if (found)
		gen_writer_put_tsv_escaped(w, s, n);
	else
		gen_writer_put(w, s, n);
}
/* s[0..n) as a CSV field: always in double quotes, a '"' doubled. */
void gen_writer_put_csv(struct gen_writer *w, const char *s, size_t n);

/* ---- the generator programs' options ---- */

/* The value s of command-line option opt: an integer of 0..max (strtoull, base 0), into *out.
 * Returns 0, or -EINVAL after logging "<opt>: invalid value '<s>'" under module prog. */
int gen_arg_u64(const char *prog, const char *opt, const char *s, uint64_t max, uint64_t *out);

/* The end of a program's option switch: after --help (opt 'h') usage goes to stdout and the exit
 * status is 0; after any other option it goes to stderr and the status is 2 (a usage error). */
int gen_usage_end(void (*usage)(FILE *), int opt);

#endif
