/*
 * avro: Avro binary events in the Confluent wire format, read into declared fields.
 *
 * Names carry the prefix av_ (AV_), not avro_: libavro, the differential fuzz target's oracle,
 * owns avro_ and is linked beside this module there.
 *
 * Four steps, each in its own file, with data flowing down:
 *
 *   av_schema_parse   engine/avro_schema.c    writer schema JSON -> struct av_schema, an
 *                                             immutable flat array of nodes (off the hot path)
 *   av_reader_create  engine/avro_reader.c    the declared fields: the READER side (a path, a
 *                                             target kind, nullability, a default)
 *   av_resolve        engine/avro_resolve.c   a writer schema resolved against a reader into
 *                                             struct av_plan, a flat decoding program
 *   av_decode         engine/avro_decode.c    the hot path: runs a plan over one message body,
 *   av_frame                                  writing one struct event_value per declared field
 *
 * Wire format (Confluent): byte 0 is the magic 0, bytes 1..4 the writer schema's registry id
 * (big-endian), then the Avro binary encoding of one datum of that schema (no container file, no
 * sync markers). The writer schema comes from the registry (registry.h).
 *
 * Resolution (Avro 1.11 specification, "Schema Resolution"), the declared fields being the reader:
 *  - The writer's top level must be a record. A declared path "page.referrer" names field
 *    referrer of the record in field page; a record on the way may sit in a union with null
 *    (["null", {"type": "record", ...}]): when the writer sends null there, every field below is
 *    null. Fields match by name, case-sensitively; a declared field's aliases are other paths
 *    tried in order when its path is not in the writer. Writer fields no declared field reads are
 *    skipped. Named types (record, enum, fixed) are not compared by name: the declaration has no
 *    Avro names.
 *  - A declared field missing from the writer takes its declared default; without one, NULL when
 *    it is Nullable; else the schema is unresolvable.
 *  - Promotions: int -> long -> float -> double, string <-> bytes. Below, "int" also covers long
 *    where the value fits.
 *  - Unions: a writer union is resolved branch by branch; the branch sent picks the branch's
 *    program at read time. A null branch reads as NULL into a Nullable field; into any other
 *    field it is an error of that message (AV_ERR_NULL), as is a branch whose type the field
 *    cannot take (AV_ERR_BRANCH). A union none of whose branches (besides null) the field can
 *    take is unresolvable. A union of one branch is that branch.
 *  - Enums: a String field takes the symbol's text. When the field declares symbols, a writer
 *    symbol among them reads as itself; one not among them reads as the declared enum default,
 *    or without one is an error of that message (AV_ERR_SYMBOL); the schema still resolves.
 *    Such a field needs a writer enum (or a union of one with null).
 *  - Anything else that does not match (a record or map where a value is declared, a string for
 *    a number, ...) makes the schema unresolvable; av_resolve says which field and why.
 *
 * Target kinds and the writer types each accepts (an X in the logical column: that logical
 * type; the logical types are date, time-millis, time-micros, timestamp-millis,
 * timestamp-micros, local-timestamp-millis, local-timestamp-micros, uuid, decimal; others are
 * ignored and their underlying type read, as the specification says):
 *
 *   target          ClickHouse type(s)                writer types
 *   STRING          String, LowCardinality(String)    string, bytes (as is); enum (symbol);
 *                                                     fixed (its bytes); decimal on bytes or
 *                                                     fixed (text, exactly `scale` decimals)
 *   FIXED_STRING    FixedString(size)                 string, bytes, fixed of at most size bytes
 *   U64             UInt8/16/32/64 (size = 1,2,4,8)   boolean, int, long; out of range: RANGE
 *   I64             Int8/16/32/64 (size = 1,2,4,8)    boolean, int, long; out of range: RANGE
 *   F64             Float32 (size 4), Float64 (8)     int, long, float, double (double only into
 *                                                     Float64)
 *   BOOL            Bool                              boolean
 *   DATE            Date                              int, long: days; date; timestamp-*:
 *                                                     floored to days; string "YYYY-MM-DD";
 *                                                     outside 0..65535 days: RANGE
 *   DATE32          Date32                            as DATE, i64 days, 1900-01-01..2299-12-31
 *   DATETIME        DateTime                          int, long: seconds; date (x86400);
 *                                                     timestamp-*: floored to seconds; string
 *                                                     RFC 3339; outside 0..2^32-1 s: RANGE
 *   DATETIME64      DateTime64(size = precision 0..9) long, int: ticks as is (as ClickHouse);
 *                                                     timestamp-millis/-micros: scaled to the
 *                                                     precision (floored when coarser); date;
 *                                                     string RFC 3339 (fraction truncated)
 *   UUID            UUID                              string or bytes of the 36-character text
 *                                                     (either case), fixed(16) as the 16 bytes
 *   ARRAY_STRING    Array(String)                     array of string, bytes, enum, fixed
 *   ARRAY_I64       Array(Int8..Int64) (size 1..8)    array of int, long, boolean (range checked
 *                                                     against size like I64)
 *
 * Strings are not checked for valid UTF-8: their bytes are taken as they are, as ClickHouse
 * (whose String holds any bytes) and libavro do; an Avro string and bytes are read alike.
 *
 * Threads and cost. A schema, a reader and a plan are immutable once made and shared by any
 * number of threads. av_decode is the hot path: no allocation, no locks, no system calls; it
 * is linear in the message length (a plan reads each byte at most once; skipped nested values
 * cost one pass) and writes only its outputs and scratch.
 */
#ifndef ENRICHD_AVRO_H
#define ENRICHD_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "event_value.h"

/* Bounds. */
#define AV_SCHEMA_JSON_MAX ((size_t)1 << 20) /* bytes of one schema's JSON text */
#define AV_SCHEMA_NODES_MAX 65536u           /* types, fields and symbols of one schema */
#define AV_DEPTH_MAX 32u          /* nesting of types in a schema, and of values in a datum */
#define AV_NAME_MAX 255u          /* bytes of a name, a namespace or a symbol */
#define AV_FIELDS_MAX 1024u       /* declared fields of a reader */
#define AV_PATH_DEPTH_MAX 8u      /* records along one declared path, the field included */
#define AV_ALIASES_MAX 8u         /* aliases of one declared field */
#define AV_SYMBOLS_MAX 4096u      /* declared enum symbols of one field */
#define AV_PROGRAM_OPS_MAX 65536u /* instructions of one plan */
#define AV_DECIMAL_BYTES_MAX 32u  /* bytes of a decimal's unscaled value (256 bits) */
#define AV_DECIMAL_TEXT_MAX 80u   /* bytes of a decimal's text: 78 digits, sign and point */
#define AV_FRAME_HEADER 5u        /* magic byte and schema id */

/*
 * Scratch bytes that guarantee av_decode never fails with AV_ERR_TOO_LONG for a body of
 * body_len bytes read by a plan of n_fields fields: every array element takes at least one
 * byte of the body and at most 16 of scratch; a decimal's text or a UUID at most
 * AV_DECIMAL_TEXT_MAX, plus alignment.
 */
#define AV_SCRATCH_BOUND(body_len, n_fields)                                                    \
	((size_t)(body_len) * 16u + (size_t)(n_fields) * (AV_DECIMAL_TEXT_MAX + 16u))

/* The reader side's target kinds (see the table above). */
enum av_target {
	AV_TO_STRING = 1,
	AV_TO_FIXED_STRING,
	AV_TO_U64,
	AV_TO_I64,
	AV_TO_F64,
	AV_TO_BOOL,
	AV_TO_DATE,
	AV_TO_DATE32,
	AV_TO_DATETIME,
	AV_TO_DATETIME64,
	AV_TO_UUID,
	AV_TO_ARRAY_STRING,
	AV_TO_ARRAY_I64,
};

/*
 * One declared field. All pointers are only read during av_reader_create (it copies them).
 *   path          "name" or "record.field..." (at most AV_PATH_DEPTH_MAX parts)
 *   aliases       other paths, tried in order when path is not in the writer (may be NULL)
 *   size          U64/I64: width in bytes (1, 2, 4, 8); F64: 4 or 8; FIXED_STRING: N (1..2^20);
 *                 DATETIME64: precision 0..9; ignored otherwise
 *   nullable      1: a Nullable(...) column
 *   default_text  the value when the writer lacks the field (NULL: none), as ClickHouse writes
 *                 it in text: 42, -1.5, true, abc (the text itself, no quotes), 2024-05-01,
 *                 2024-05-01T10:00:00Z (or an integer of the field's unit), a UUID's 36
 *                 characters, arrays as JSON (["a","b"], [1,2]); "null" (Nullable fields only)
 *   symbols       STRING only, may be NULL: the enum symbols the reader knows
 *   enum_default  with symbols: what a writer symbol not among them reads as (NULL: none)
 */
struct av_field_decl {
	const char *path;
	const char *const *aliases;
	uint32_t n_aliases;
	enum av_target target;
	uint32_t size;
	uint8_t nullable;
	const char *default_text;
	const char *const *symbols;
	uint32_t n_symbols;
	const char *enum_default;
};

struct av_schema;
struct av_reader;
struct av_plan;

/* Results of av_decode and av_frame: 0, or one of these negative codes (not errno). */
enum av_err {
	AV_OK = 0,
	AV_ERR_EMPTY = -1,     /* empty message */
	AV_ERR_FRAME = -2,     /* shorter than the 5-byte Confluent header */
	AV_ERR_MAGIC = -3,     /* first byte not 0 */
	AV_ERR_TRUNCATED = -4, /* a value runs past the end of the message */
	AV_ERR_VARINT = -5,    /* a varint longer than its type allows */
	AV_ERR_LENGTH = -6,    /* a negative string, bytes or block length */
	AV_ERR_UNION = -7,     /* a union branch index out of range */
	AV_ERR_ENUM = -8,      /* an enum symbol index out of range */
	AV_ERR_BOOLEAN = -9,   /* a boolean byte other than 0 or 1 */
	AV_ERR_DEPTH = -10,    /* values nested deeper than AV_DEPTH_MAX */
	AV_ERR_TRAILING = -11, /* bytes left after the record */
	AV_ERR_NULL = -12,     /* null for a field that is not Nullable */
	AV_ERR_BRANCH = -13,   /* a union branch the field cannot take */
	AV_ERR_SYMBOL = -14,   /* an enum symbol the reader does not know, no enum default */
	AV_ERR_RANGE = -15,    /* a number out of the field's range */
	AV_ERR_VALUE = -16,    /* a text that is not the field's kind (timestamp, UUID, date) */
	AV_ERR_TOO_LONG = -17, /* scratch too small, or a value longer than the field allows */
};

/* Number of codes, for arrays indexed by -code (0 is AV_OK). */
#define AV_ERR_COUNT 18

/* Where and why decoding failed. reason is a static string ("string length past the end");
 * offset is the byte of the message (counting from the body's first byte for av_decode, from
 * the frame's for av_frame) where the problem was found; field is the index of the declared
 * field being read, or -1 when the problem is in a value no field reads. */
struct av_error {
	const char *reason;
	size_t offset;
	int field;
};

/* ---- writer schemas (engine/avro_schema.c) ---- */

/*
 * Parses a writer schema's JSON text json[0..len) (a full Avro schema: a primitive name, an
 * object or a union array; named types may refer to earlier ones, recursively too).
 * Returns 0 with *out set, -EINVAL when the text is not a valid schema (err receives why and
 * where, e.g. "fields[2].type: unknown type name \"Foo\""), -E2BIG when a bound above is passed
 * (err says which), -ENOMEM. err (errcap bytes, NUL-terminated) may be NULL when errcap is 0.
 */
int av_schema_parse(const char *json, size_t len, struct av_schema **out, char *err,
		      size_t errcap);

/* Frees a schema (NULL ok). Plans resolved from it must be freed first. */
void av_schema_free(struct av_schema *s);

/* ---- the reader: declared fields (engine/avro_reader.c) ---- */

/*
 * Copies and checks n declared fields: paths well formed and distinct, sizes valid for their
 * target, defaults parsed for their target (a bad default names the field and why), symbols
 * distinct. Returns 0 with *out set, -EINVAL (err says which field and why), -E2BIG past a bound,
 * -ENOMEM.
 */
int av_reader_create(const struct av_field_decl *decls, size_t n, struct av_reader **out,
		       char *err, size_t errcap);

/* Frees a reader (NULL ok). Plans resolved against it must be freed first. */
void av_reader_free(struct av_reader *r);

/* Number of declared fields, and the path of field i (NUL-terminated, owned by the reader). */
size_t av_reader_fields(const struct av_reader *r);
const char *av_reader_path(const struct av_reader *r, size_t i);

/* ---- resolution (engine/avro_resolve.c) ---- */

/*
 * Resolves writer against reader into a decoding plan. Returns 0 with *out set; -EINVAL when the
 * writer cannot be read as the declared fields: err names the first declared field in
 * declaration order that fails, and why ("page.referrer: writer type long cannot be read as
 * String"; "user_id: not in the writer schema, no default, not Nullable"); -E2BIG when the program
 * passes AV_PROGRAM_OPS_MAX; -ENOMEM. The plan refers to both writer and reader, which must
 * outlive it.
 */
int av_resolve(const struct av_schema *writer, const struct av_reader *reader,
		 struct av_plan **out, char *err, size_t errcap);

/* Frees a plan (NULL ok). */
void av_plan_free(struct av_plan *p);

/* Number of declared fields the plan fills (the reader's). */
size_t av_plan_fields(const struct av_plan *p);

/* ---- the hot path (engine/avro_decode.c) ---- */

/*
 * Reads the Confluent header of a message buf[0..len): *schema_id and *body_off (always
 * AV_FRAME_HEADER) on success. Errors, in this order: AV_ERR_EMPTY (len 0), AV_ERR_MAGIC (buf[0]
 * is not 0; reason "magic byte is not 0"), AV_ERR_FRAME (a 0 and fewer than 4 bytes of id);
 * *err is filled when not NULL.
 */
int av_frame(const char *buf, size_t len, uint32_t *schema_id, size_t *body_off,
	       struct av_error *err);

/*
 * Decodes one datum buf[0..len) (the body after the header) with plan into vals[0..n) where n is
 * av_plan_fields(plan): every slot is written on success. scratch[0..scratch_cap) receives
 * decimal texts, UUIDs and array elements; *scratch_used the bytes used (scratch may be NULL when
 * scratch_cap is 0). Strings point into buf, scratch or the reader's defaults (event_value.h).
 *
 * Returns 0, or a negative enum av_err with *err filled when err is not NULL; vals and scratch
 * are then unspecified. The whole datum is read: bytes after it are AV_ERR_TRAILING. Never reads
 * outside buf[0..len) and never writes outside vals[0..n) and scratch[0..scratch_cap). No
 * allocation, no locks; thread-safe.
 */
int av_decode(const struct av_plan *plan, const char *buf, size_t len, struct event_value *vals,
		char *scratch, size_t scratch_cap, uint32_t *scratch_used, struct av_error *err);

/* Short stable name of a code for metric labels and dead-letter records: "ok", "empty", "frame",
 * "magic", "truncated", "varint", "length", "union", "enum", "boolean", "depth", "trailing",
 * "null", "branch", "symbol", "range", "value", "too_long"; "unknown" for anything else. */
const char *av_err_name(int err);

#endif
