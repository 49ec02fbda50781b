/*
 * event: decodes one event, a JSON object per Kafka message, into the declared fields' value
 * slots (event_value.h), following a plan compiled once from the configured schema (schema.h).
 *
 * This is the worker's hot path: no allocation, no locks, no locale-dependent or slow libc calls
 * (a Float field's number with more than 19 significant digits or an exponent beyond 10^+-22 goes
 * through strtod_l in the C locale). The general decoder is a single forward pass over the
 * bytes; it validates the whole message as strict JSON (RFC 8259) while it fills the declared
 * fields. A compact message (no whitespace, no escapes, no member the plan does not declare, no
 * null parent, arrays only of plain strings or integers) takes a faster pass that expects each
 * object's members in the order the last such message had them (at first the declaration
 * order), comparing the bytes `"key":` of the member it expects next directly (any other
 * declared key is looked up); when that pass meets anything else, or any error, it gives up and
 * the general pass reads the message from its start, so every message gets the same result
 * either way, in at most two passes.
 *
 * The plan: the declared fields' paths form a trie of objects; each object's keys are found by a
 * perfect hash (one compare per lookup). Keys are compared after unescaping, case sensitively.
 *
 * Values, by the field's type (schema.h; "text" means a JSON string, unescaped):
 *   String, LowCardinality(String)  a string (any valid string, empty included); with
 *       integers=text also a non-negative JSON integer, taken as its decimal text (JSON
 *       integers have no leading zeros or '+', so the text is canonical)
 *   FixedString(N)  as String, at most N bytes (longer: range)
 *   UInt8..UInt64, Int8..Int64  a JSON integer, or a string of ASCII digits (leading zeros
 *       allowed; '-' first for Int); a fraction or exponent (1.0, 1e3) is a type error, a value
 *       outside the type a range error (a minus sign, even -0, for UInt: "negative")
 *   Float32, Float64  a JSON number, correctly rounded; beyond the type's largest: range
 *   Bool  true or false
 *   Date, Date32  text YYYY-MM-DD; DateTime text RFC 3339 (whole seconds kept); DateTime64(P)
 *       text RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)" ('t' and 'z' in lower case
 *       too; the fraction has 1 or more digits, the first P kept and the rest truncated; -00:00
 *       means UTC; strict: no space separator, no leap second (:60), no hour 24, day checked
 *       against the month and leap year, offset at most 23:59). With unit= also a JSON integer
 *       in that unit (floored to the type's). Ranges: Date 1970-01-01..2149-06-06, Date32
 *       1900-01-01..2299-12-31, DateTime 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z, DateTime64
 *       1900-01-01..2299-12-31T23:59:59.9..Z (EVENT_TIME_MS_MAX for P = 3; P = 9 ends in 2262);
 *       the time field (time_field) starts at 1970-01-01T00:00:00Z: ClickHouse's DateTime64
 *       covers 1900-2299, its functions read a later instant wrongly, and segments are
 *       partitioned by the instant
 *   UUID  text of 36 characters 8-4-4-4-12 hex digits (either case)
 *   IPv4  text a.b.c.d (each 0..255, no leading zero); IPv6 text as RFC 4291 writes it ("::"
 *       once, an IPv4 tail allowed)
 *   Array(String)  an array of strings; Array(Int8..Int64) an array of JSON integers in range
 *   Nullable(T)  also null, or absent: NULL. Absent with default=: the default. Any other null
 *       is a type error; any other absent field a missing one.
 * Members no field declares are skipped, but validated like the rest (any JSON value, nested up
 * to EVENT_DEPTH_MAX); with a catch-all column they are kept verbatim: the text `{"k":v,...}`
 * of the undeclared top-level members as they came (key and value bytes as written, whitespace
 * around the colon dropped), in a String slot after the fields' (an object member that is a
 * declared path's parent is not kept there). A declared key present twice in one object (or a
 * field given by its path and an alias) is an error (EVENT_ERR_DUPLICATE): a message that says
 * two things is not guessed at. A declared path whose parent member is null leaves the fields
 * below absent; one whose parent is not an object is a type error naming the parent.
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
 * otherwise MISSING, naming the first absent required field in declaration order. A field's
 * reason starts with its path: "user_id: out of range", "page.referrer: not a string".
 */
#ifndef ENRICHD_EVENT_H
#define ENRICHD_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "event_value.h"
#include "schema.h"

/* Latest accepted instant: 2299-12-31T23:59:59.999Z in epoch milliseconds, DateTime64's last. */
#define EVENT_TIME_MS_MAX INT64_C(10413791999999)
/* The accepted span of the default schema's time, for the reason of a timestamp out of it. */
#define EVENT_TIME_RANGE_TEXT "1970-01-01T00:00:00.000Z..2299-12-31T23:59:59.999Z"
/* Deepest nesting of arrays and objects, the event object counting as 1. */
#define EVENT_DEPTH_MAX 64
/* Longest message accepted, in bytes (string lengths are stored in 32 bits). */
#define EVENT_LEN_MAX ((size_t)UINT32_MAX)
/* Objects in a plan's trie (the event object and every parent of a declared path). */
#define EVENT_PLAN_NODES_MAX 64

/* Results of event_decode: 0, or one of these negative codes (not errno values). */
enum event_err {
	EVENT_OK = 0,
	EVENT_ERR_EMPTY = -1,      /* empty or whitespace-only message */
	EVENT_ERR_SYNTAX = -2,     /* not JSON: grammar, control character, trailing data, BOM */
	EVENT_ERR_ESCAPE = -3,     /* bad escape: unknown letter, bad \u hex, lone surrogate */
	EVENT_ERR_UTF8 = -4,       /* invalid UTF-8 inside a string */
	EVENT_ERR_DEPTH = -5,      /* nesting deeper than EVENT_DEPTH_MAX */
	EVENT_ERR_NOT_OBJECT = -6, /* valid JSON whose top level is not an object (null, [..], 1) */
	EVENT_ERR_DUPLICATE = -7,  /* a declared field given twice */
	EVENT_ERR_MISSING = -8,    /* a required field absent */
	EVENT_ERR_TYPE = -9,       /* a field of the wrong JSON type or form (user_id 1.5, a bad
				      UUID or IP address, a parent that is not an object) */
	EVENT_ERR_RANGE = -10,     /* a number out of range (user_id negative or > 2^64-1) */
	EVENT_ERR_TIMESTAMP = -11, /* a date or time malformed, impossible, or out of range */
	EVENT_ERR_TOO_LONG = -12,  /* message > EVENT_LEN_MAX, or the values need more scratch */
};

/* Number of codes, for arrays indexed by -code (0 is EVENT_OK). */
#define EVENT_ERR_COUNT 13

/* Where and why decoding failed. reason is a string such as "user_id: out of range" or "syntax
 * error: expected ',' or '}'", static or owned by the plan (valid while it is); offset is the byte
 * in the message where the problem was found (the message length when the problem is the absence
 * of something). */
struct event_error {
	const char *reason;
	size_t offset;
};

/* A compiled plan. Decoding updates its guess of the order members come in (the fast pass
 * expects each object's members in the order the last compact message had them), so a plan is
 * used by one thread at a time: each worker compiles its own. */
struct event_plan;

/*
 * Compiles the JSON decoding plan of schema s (checked by schema_finish). Declared defaults are
 * decoded here, once. Returns 0 and *out, or -EINVAL with the reason in err and *field the index
 * of the field at fault (-1: none), e.g. a default its type does not take, or past
 * EVENT_PLAN_NODES_MAX; -ENOMEM. The plan does not refer to s afterwards.
 */
int event_plan_create(const struct schema *s, struct event_plan **out, char *err,
		      size_t err_cap, int *field);

/* Frees a plan (NULL is a no-op). */
void event_plan_free(struct event_plan *p);

/* Slots event_decode fills: the declared fields, then the catch-all when there is one. */
uint32_t event_plan_slots(const struct event_plan *p);

/* Scratch bytes that make EVENT_ERR_TOO_LONG impossible for any message of len bytes: len for
 * unescaped strings, 16 per UUID or IPv6 field, 8 * len with arrays, len with a catch-all. */
size_t event_plan_scratch_bound(const struct event_plan *p, size_t len);

/*
 * Decodes buf[0..len) with plan into vals[0..event_plan_slots(plan)), each slot as
 * event_value.h says (null = 1 for a NULL); every slot is written on success.
 *
 * scratch[0..scratch_cap) receives what is not a slice of the message: unescaped strings, UUID
 * and IPv6 bytes, array elements and the catch-all text; *scratch_used the bytes used. Strings
 * point into the message, the scratch, or the plan (defaults, the empty catch-all "{}"); they are
 * not NUL-terminated and may contain NUL bytes (from \u0000). To decode a batch into one scratch
 * area, pass scratch + used and advance by *scratch_used after each event. buf and scratch must
 * not overlap. buf may be NULL when len is 0; scratch may be NULL when scratch_cap is 0.
 *
 * Returns 0, or a negative enum event_err code, fills *err when err is not NULL, and leaves vals
 * unspecified. Never reads outside buf[0..len), never writes outside scratch[0..scratch_cap),
 * vals and *scratch_used. Cost is linear in len; no allocation, no locks, thread-safe.
 */
int event_decode(struct event_plan *plan, const char *buf, size_t len,
		 struct event_value *vals, char *scratch, size_t scratch_cap, uint32_t *scratch_used,
		 struct event_error *err);

/* Short stable name of a code for metric labels and dead-letter records: "ok", "empty",
 * "syntax", "escape", "utf8", "depth", "not_object", "duplicate", "missing", "type", "range",
 * "timestamp", "too_long"; "unknown" for anything else. */
const char *event_err_name(int err);

#endif
