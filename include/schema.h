/*
 * schema: the event as configured. The [event] section declares the input format and the event's
 * fields, in output order, one line each:
 *
 *   field.<column> = <ClickHouse type> [from <path>] [unit=<u>] [integers=text]
 *                    [default=<text>] [aliases=<path>[,<path>...]]
 *
 *   column   the output column: letters, digits and '_', 1..SCHEMA_NAME_MAX-1 bytes
 *   type     String, LowCardinality(String), FixedString(N), UInt8..UInt64, Int8..Int64,
 *            Float32, Float64, Bool, Date, Date32, DateTime, DateTime64(P, 'UTC') (P 0..9),
 *            UUID, IPv4, IPv6, Array(String), Array(Int8..Int64); Nullable(T) of the scalar ones
 *            (and LowCardinality(Nullable(String))) for an optional field
 *   path     where the value is: a member of the event object ("referrer"), or a path through
 *            nested objects ("page.referrer"; for Avro, records). Default: the column's name.
 *            Parts are 1 or more printable ASCII bytes other than . , " \ = and space.
 *   unit     a number's unit for Date, Date32, DateTime, DateTime64: s, ms, us or ns (also days
 *            for Date and Date32); without it a time field takes only text (RFC 3339, or
 *            YYYY-MM-DD for Date and Date32)
 *   integers=text   String, LowCardinality(String), FixedString: a non-negative JSON integer is
 *            also taken, as its decimal text
 *   default  the value when the member is absent (JSON) or the writer lacks the field (Avro), as
 *            ClickHouse writes it in text (42, abc, 2024-05-01, ["a","b"]; "null" for Nullable);
 *            double quotes around it allow spaces (\" and \\ inside)
 *   aliases  other paths of the same field: JSON members under another name, Avro fields of an
 *            older writer (Avro's aliases)
 *
 * A required field (not Nullable, no default) that is absent makes the event a dead letter
 * (`missing`); an absent Nullable field is NULL. The output has the declared fields, then the
 * catch-all column if set, then each dimension's attributes, then the metadata columns.
 *
 * Without a field.* line the event has the default schema, today's four fields:
 *   field.event_time = DateTime64(3, 'UTC') from timestamp unit=ms
 *   field.user_id = UInt64
 *   field.device_id = String integers=text
 *   field.url = String
 *   time_field = event_time
 *
 * A struct schema is plain data inside struct config (fixed arrays, no heap): the bounds below are
 * configuration errors when passed. Parsing and checking happen once, at start; the decoders
 * compile a schema into their plans (event.h for JSON, avro.h through schema_avro_decls).
 */
#ifndef ENRICHD_SCHEMA_H
#define ENRICHD_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "avro.h"
#include "chtype.h"

#define SCHEMA_FIELDS_MAX 64        /* declared fields */
#define SCHEMA_NAME_MAX 64          /* bytes of a column name, with the NUL */
#define SCHEMA_TYPE_MAX 64          /* bytes of a type as written, with the NUL */
#define SCHEMA_PATH_MAX 128         /* bytes of a path, with the NUL */
#define SCHEMA_PATH_DEPTH_MAX 8     /* parts of a path (AV_PATH_DEPTH_MAX) */
#define SCHEMA_ALIASES_MAX 4        /* aliases of a field */
#define SCHEMA_DEFAULT_MAX 256      /* bytes of a default's text, with the NUL */
#define SCHEMA_META_MAX 8           /* metadata columns */
#define SCHEMA_ERR_MAX 256          /* a reason's bytes */

enum schema_format {
	SCHEMA_FORMAT_JSON = 0,       /* one JSON object per message (event.h) */
	SCHEMA_FORMAT_AVRO_CONFLUENT, /* Confluent-framed Avro (avro.h, registry.h) */
};

/* What a declared field's value is: its event_value member and its column's kind. */
enum schema_kind {
	SCHEMA_STRING = 1,   /* ptr/len: String, LowCardinality(String) */
	SCHEMA_FIXED_STRING, /* ptr/len, len <= size: FixedString(size) */
	SCHEMA_U64,          /* u64: UInt8..UInt64 (size bytes) */
	SCHEMA_I64,          /* i64: Int8..Int64 (size bytes) */
	SCHEMA_F64,          /* f64: Float32, Float64 (size bytes) */
	SCHEMA_BOOL,         /* u64 0 or 1 */
	SCHEMA_DATE,         /* u64 days since 1970-01-01, 0..65535 */
	SCHEMA_DATE32,       /* i64 days, 1900-01-01..2299-12-31 */
	SCHEMA_DATETIME,     /* u64 seconds since the epoch, 0..2^32-1 */
	SCHEMA_DATETIME64,   /* i64 ticks of 10^-size s since the epoch */
	SCHEMA_UUID,         /* ptr: 16 bytes, RFC 4122 order */
	SCHEMA_IPV4,         /* u64: the address as a number */
	SCHEMA_IPV6,         /* ptr: 16 bytes, network order */
	SCHEMA_ARRAY_STRING, /* ptr: len struct event_str */
	SCHEMA_ARRAY_I64,    /* ptr: len int64_t, each fitting Int(8*size) */
};

/* A number's unit for a time field (unit=). */
enum schema_unit {
	SCHEMA_UNIT_NONE = 0, /* only text */
	SCHEMA_UNIT_DAYS,
	SCHEMA_UNIT_S,
	SCHEMA_UNIT_MS,
	SCHEMA_UNIT_US,
	SCHEMA_UNIT_NS,
};

/* Kafka metadata columns, named as ClickHouse's Kafka engine names them. */
enum schema_meta {
	SCHEMA_META_TOPIC = 0,     /* _topic LowCardinality(String) */
	SCHEMA_META_PARTITION,     /* _partition UInt64 */
	SCHEMA_META_OFFSET,        /* _offset UInt64 */
	SCHEMA_META_KAFKA_TIME,    /* _kafka_time DateTime64(3, 'UTC') */
	SCHEMA_META_INGEST_TIME,   /* _ingest_time DateTime64(3, 'UTC') */
	SCHEMA_META_KEY,           /* _key String */
	SCHEMA_META_HEADERS_NAME,  /* _headers.name Array(String) */
	SCHEMA_META_HEADERS_VALUE, /* _headers.value Array(String) */
	SCHEMA_META_COUNT,
};

/* The metadata columns without a `metadata` key: today's five. */
#define SCHEMA_META_DEFAULT "_topic, _partition, _offset, _kafka_time, _ingest_time"

struct schema_field {
	char name[SCHEMA_NAME_MAX];  /* output column */
	char type[SCHEMA_TYPE_MAX];  /* ClickHouse type, canonical */
	struct chtype ch;            /* the type, parsed */
	enum schema_kind kind;
	uint32_t size;               /* see enum schema_kind (FixedString: N) */
	bool nullable;               /* Nullable(T) or LowCardinality(Nullable(String)) */
	bool low_cardinality;
	bool integers_text;          /* integers=text */
	bool has_default;
	enum schema_unit unit;
	char path[SCHEMA_PATH_MAX];  /* "page.referrer" */
	uint32_t alias_count;
	char aliases[SCHEMA_ALIASES_MAX][SCHEMA_PATH_MAX];
	char default_text[SCHEMA_DEFAULT_MAX];
	unsigned line;               /* of its declaration, for errors found later; 0: built in */
};

struct schema {
	enum schema_format format;
	uint32_t field_count;
	struct schema_field fields[SCHEMA_FIELDS_MAX];
	char time_field[SCHEMA_NAME_MAX]; /* the field whose time partitions segments */
	uint32_t time_index;              /* resolved by schema_finish */
	char catch_all[SCHEMA_NAME_MAX];  /* "" off; else the String column of undeclared members */
	char metadata[512];               /* the metadata list as written */
	uint32_t meta_count;              /* resolved by schema_finish */
	enum schema_meta meta[SCHEMA_META_MAX];
	/* Lines of the [event] keys, for errors (0: not in the file). */
	unsigned time_field_line, catch_all_line, metadata_line;
};

/*
 * Parses the declaration of column name: text is "<type> [from <path>] [options]" (the value of
 * field.<name>). Returns 0 and fills *out (its line left 0), or -EINVAL with a one-line reason in
 * err ("unknown type 'Strng'", "unit= applies to Date, Date32, DateTime and DateTime64 fields").
 */
int schema_field_parse(const char *name, const char *text, struct schema_field *out, char *err,
		       size_t err_cap);

/* Sets s's fields to the default schema's four (the other members are left as they are). */
void schema_default_fields(struct schema *s);

/*
 * Checks a schema whose fields, time_field, catch_all and metadata are set, and resolves
 * time_index and meta[]: column names distinct (among fields, the catch-all and the metadata),
 * paths and aliases distinct and none inside another field's value, the time field declared,
 * a Date, DateTime or DateTime64 and not Nullable, the metadata names known and not repeated, and
 * what the format cannot read (Avro: no catch-all, no IPv4/IPv6). Returns 0, or -EINVAL with the
 * reason in err and *line the line of the declaration or key at fault (0: none).
 */
int schema_finish(struct schema *s, char *err, size_t err_cap, unsigned *line);

/* Index of the field named name, or -1. */
int schema_field_index(const struct schema *s, const char *name);

/* The name and ClickHouse type of metadata column m. */
const char *schema_meta_name(enum schema_meta m);
const char *schema_meta_type(enum schema_meta m);

/* "json" or "avro-confluent". */
const char *schema_format_name(enum schema_format f);

/* "s", "ms", ...; "" for none. */
const char *schema_unit_name(enum schema_unit u);

/*
 * The event time of value v of the time field f (Date, DateTime, DateTime64) in milliseconds
 * since the epoch, floored: what partitions segments.
 */
int64_t schema_time_ms(const struct schema_field *f, int64_t v);

/* Prints the format, the declared fields and where each comes from (enrichd --check). */
void schema_print(const struct schema *s, FILE *out);

/* The declared fields as the Avro reader description (av_reader_create's input). The pointers
 * point into the schema and into this struct. */
struct schema_avro {
	struct av_field_decl decls[SCHEMA_FIELDS_MAX];
	const char *aliases[SCHEMA_FIELDS_MAX][SCHEMA_ALIASES_MAX];
	size_t count;
};

/*
 * Maps every declared field to its Avro reader declaration: path, aliases, target kind and size,
 * nullability and default. Returns 0, or -EINVAL with the reason in err when a field's type has
 * no Avro target (IPv4, IPv6). The one place the declaration meets avro.h.
 */
int schema_avro_decls(const struct schema *s, struct schema_avro *out, char *err,
		      size_t err_cap);

#endif
