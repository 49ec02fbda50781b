/*
 * event: decodes one clickstream event, a JSON object per Kafka message, into a struct event.
 *
 * This is the worker's hot path: no allocation, no locks, no locale-dependent or slow libc calls.
 * The general decoder is a single forward pass over the bytes; it validates the whole message as
 * strict JSON (RFC 8259) while it extracts the four known fields. A compact message of just the
 * four fields with plain values (no whitespace, no escapes) takes a faster pass with fixed key
 * compares; when that pass meets anything else it gives up and the general pass reads the message
 * from its start, so every message gets the same result either way, in at most two passes.
 *
 * Schema
 *   timestamp  RFC 3339 date-time string "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)"
 *              ('t' and 'z' are accepted in lower case; the fraction has 1 or more digits, the
 *              milliseconds are kept and the rest truncated; -00:00 means UTC), or a JSON integer
 *              of epoch milliseconds. Strict: no space separator, no leap second (:60), no hour
 *              24, day checked against the month and leap year, offset at most 23:59. The
 *              instant, in UTC, must lie in [1970-01-01T00:00:00.000Z, 2299-12-31T23:59:59.999Z]
 *              (0 .. EVENT_TIME_MS_MAX): ClickHouse's DateTime64 covers 1900-2299, and its
 *              functions read a later instant wrongly (toDate of 9999-12-31 gives 2105-01-05).
 *   user_id    unsigned 64-bit integer: a JSON integer, or a string of ASCII digits (leading
 *              zeros allowed, nothing else: no sign, space, fraction or exponent). A JSON number
 *              with a fraction or exponent (1.0, 1e3) is a type error, a minus sign (even -0) or
 *              a value above 18446744073709551615 a range error.
 *   url        string (any valid string, the empty string included).
 *   device_id  string, or a non-negative JSON integer of any length, taken as its decimal text
 *              (JSON integers have no leading zeros or '+', so the text is canonical).
 *   Other members are skipped, but validated like the rest (any JSON value, nested up to
 *   EVENT_DEPTH_MAX). Members may come in any order. Keys are compared after unescaping, case
 *   sensitively. A known key present twice is an error (EVENT_ERR_DUPLICATE): a message that
 *   says two things is not guessed at.
 *
 * JSON rules enforced: whitespace is only space, tab, LF, CR; no byte order mark; strings are
 * valid UTF-8 (RFC 3629: no overlong forms, no encoded surrogates, nothing above U+10FFFF) with no
 * raw control character (< 0x20); escapes are exactly \" \\ \/ \b \f \n \r \t \uXXXX, a \u
 * surrogate must be a high one followed by a low one (decoded to one 4-byte UTF-8 character);
 * \u0000 is valid and decodes to a NUL byte inside the value; numbers follow the JSON grammar
 * (no leading zeros, '+', bare '.', NaN or Infinity); nothing but whitespace after the object.
 *
 * Error precedence, so that one message always gets the same reason: a JSON-level error
 * (EMPTY, SYNTAX, ESCAPE, UTF8, DEPTH, TOO_LONG for the whole message) is reported as soon as it is
 * met; otherwise a well-formed message that is not an object gets NOT_OBJECT; otherwise the
 * first field error in document order (DUPLICATE, TYPE, RANGE, TIMESTAMP, TOO_LONG for scratch);
 * otherwise MISSING, naming the first absent field in the order timestamp, user_id, url,
 * device_id.
 */
#ifndef ENRICHD_EVENT_H
#define ENRICHD_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Latest accepted instant: 2299-12-31T23:59:59.999Z in epoch milliseconds, DateTime64's last. */
#define EVENT_TIME_MS_MAX INT64_C(10413791999999)
/* The accepted span, for the reason of a timestamp out of it. */
#define EVENT_TIME_RANGE_TEXT "1970-01-01T00:00:00.000Z..2299-12-31T23:59:59.999Z"
/* Deepest nesting of arrays and objects, the event object counting as 1. */
#define EVENT_DEPTH_MAX 64
/* Longest message accepted, in bytes (string lengths are stored in 32 bits). */
#define EVENT_LEN_MAX ((size_t)UINT32_MAX)

/* Results of event_decode: 0, or one of these negative codes (not errno values). */
enum event_err {
	EVENT_OK = 0,
	EVENT_ERR_EMPTY = -1,      /* empty or whitespace-only message */
	EVENT_ERR_SYNTAX = -2,     /* not JSON: grammar, control character, trailing data, BOM */
	EVENT_ERR_ESCAPE = -3,     /* bad escape: unknown letter, bad \u hex, lone surrogate */
	EVENT_ERR_UTF8 = -4,       /* invalid UTF-8 inside a string */
	EVENT_ERR_DEPTH = -5,      /* nesting deeper than EVENT_DEPTH_MAX */
	EVENT_ERR_NOT_OBJECT = -6, /* valid JSON whose top level is not an object (null, [..], 1) */
	EVENT_ERR_DUPLICATE = -7,  /* a known field given twice */
	EVENT_ERR_MISSING = -8,    /* a known field absent */
	EVENT_ERR_TYPE = -9,       /* a known field of the wrong JSON type or form (user_id 1.5) */
	EVENT_ERR_RANGE = -10,     /* a number out of range (user_id negative or > 2^64-1) */
	EVENT_ERR_TIMESTAMP = -11, /* timestamp malformed, impossible date/time, or out of range */
	EVENT_ERR_TOO_LONG = -12,  /* message > EVENT_LEN_MAX, or a decoded string > scratch */
};

/* Number of codes, for arrays indexed by -code (0 is EVENT_OK). */
#define EVENT_ERR_COUNT 13

/*
 * A decoded event. url and device_id point either into the message (a string without escapes,
 * or device_id given as an integer: zero copy) or into the caller's scratch buffer (a string with
 * escapes, unescaped there); they are not NUL-terminated and may contain NUL bytes (from \u0000).
 * They stay valid as long as both the message buffer and the scratch buffer are left unchanged.
 */
struct event {
	int64_t time_ms;           /* epoch milliseconds, UTC, 0 .. EVENT_TIME_MS_MAX */
	uint64_t user_id;
	const char *url;
	const char *device_id;
	uint32_t url_len;
	uint32_t device_id_len;
	uint32_t scratch_used;     /* bytes of scratch[0..] the strings above occupy */
};

/* Where and why decoding failed. reason is a static string such as "user_id: out of range" or
 * "syntax error: expected ',' or '}'"; offset is the byte in the message where the problem was
 * found (the message length when the problem is the absence of something). */
struct event_error {
	const char *reason;
	size_t offset;
};

/*
 * Decodes buf[0..len) into *ev.
 *
 * scratch[0..scratch_cap) receives unescaped strings; it is only written when a string value has
 * escapes. Since unescaping never lengthens a string, scratch_cap >= len guarantees that
 * EVENT_ERR_TOO_LONG never comes from scratch. To decode a batch into one scratch area, pass
 * scratch + used and advance by ev->scratch_used after each event. buf and scratch must not
 * overlap. buf may be NULL when len is 0; scratch may be NULL when scratch_cap is 0.
 *
 * Returns 0 and fills *ev, or a negative enum event_err code, fills *err when err is not NULL, and
 * leaves *ev unspecified. Never reads outside buf[0..len), never writes outside
 * scratch[0..scratch_cap) and *ev. Cost is linear in len; no allocation, no locks, thread-safe.
 */
int event_decode(const char *buf, size_t len, struct event *ev, char *scratch, size_t scratch_cap,
		 struct event_error *err);

/* Short stable name of a code for metric labels and dead-letter records: "ok", "empty",
 * "syntax", "escape", "utf8", "depth", "not_object", "duplicate", "missing", "type", "range",
 * "timestamp", "too_long"; "unknown" for anything else. */
const char *event_err_name(int err);

#endif
