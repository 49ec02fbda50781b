/*
 * avro_impl: the representations shared by the avro module's files (contract in include/avro.h).
 * Not for other modules.
 *
 * A schema is three flat arrays and a text pool. Every type is a node; a record's fields, a
 * union's branches and an enum's symbols are contiguous runs of the fields, links and symbols
 * arrays, so a node names its children by (first, n). A named type referred to again is the same
 * node (recursive types are node cycles). Names and symbols are NUL-terminated in the text pool.
 *
 * A plan is a program of struct av_op, run from op 0 to AV_OP_END. Records cost no instruction:
 * their fields' instructions follow each other in writer order. A writer union is an AV_OP_UNION
 * whose jump table sends each branch to its own instructions, each ending with an AV_OP_JUMP to
 * the instruction after the union; AV_OP_OPTIONAL is the common [null, T] case in one
 * instruction plus the read of T.
 */
#ifndef ENRICHD_AVRO_IMPL_H
#define ENRICHD_AVRO_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avro.h"

enum av_type {
	AV_T_NULL,
	AV_T_BOOLEAN,
	AV_T_INT,
	AV_T_LONG,
	AV_T_FLOAT,
	AV_T_DOUBLE,
	AV_T_BYTES,
	AV_T_STRING,
	AV_T_RECORD,
	AV_T_ENUM,
	AV_T_ARRAY,
	AV_T_MAP,
	AV_T_UNION,
	AV_T_FIXED,
};

enum av_logical {
	AV_L_NONE,
	AV_L_DATE,          /* int: days since 1970-01-01 */
	AV_L_TIME_MILLIS,   /* int */
	AV_L_TIME_MICROS,   /* long */
	AV_L_TS_MILLIS,     /* long: ms since the epoch, UTC (local-timestamp-millis too) */
	AV_L_TS_MICROS,     /* long: us since the epoch, UTC (local-timestamp-micros too) */
	AV_L_UUID,          /* string (or fixed 16) */
	AV_L_DECIMAL,       /* bytes or fixed: big-endian two's complement, scaled */
};

struct av_node {
	uint8_t type;      /* enum av_type */
	uint8_t logical;   /* enum av_logical */
	uint8_t zero_size; /* 1: every value of this type is encoded in 0 bytes */
	uint8_t scale;     /* decimal */
	uint32_t n;        /* RECORD: fields; UNION: branches; ENUM: symbols; FIXED: size */
	uint32_t first;    /* RECORD: first field; UNION: first link; ENUM: first symbol;
			      ARRAY, MAP: the item (value) node */
	uint32_t name;     /* named types: text offset of the full name; else 0 ("") */
};

struct av_field {
	uint32_t name; /* text offset */
	uint32_t type; /* node */
};

struct av_sym {
	uint32_t off; /* text offset */
	uint32_t len;
};

struct av_schema {
	const struct av_node *nodes;
	const struct av_field *fields;
	const uint32_t *links;
	const struct av_sym *syms;
	const char *text;
	uint32_t n_nodes, n_fields, n_links, n_syms;
	uint32_t text_len;
	uint32_t root;
	void *mem; /* the one allocation holding everything above */
};

/* A declared path: its parts, pointing into the reader's copy of the text. */
struct av_path {
	uint32_t n;
	const char *part[AV_PATH_DEPTH_MAX];
	uint32_t len[AV_PATH_DEPTH_MAX];
};

struct av_rfield {
	const char *path;       /* NUL-terminated */
	struct av_path paths[1 + AV_ALIASES_MAX]; /* the path, then the aliases */
	uint32_t n_paths;
	enum av_target target;
	uint32_t size;
	bool nullable;
	bool has_default;       /* def holds the declared default */
	struct event_value def;
	const struct event_str *symbols; /* NULL: none declared */
	uint32_t n_symbols;
	int32_t enum_default;   /* index into symbols, or -1 */
};

struct av_reader {
	struct av_rfield *fields;
	uint32_t n;
	void **blocks; /* every allocation, freed with the reader */
	uint32_t n_blocks, cap_blocks;
};

enum av_opcode {
	AV_OP_END,
	AV_OP_SKIP,     /* arg: writer node whose value is skipped */
	AV_OP_READ,     /* conv: enum av_conv; slot; arg, aux: see av_conv */
	AV_OP_NULL,     /* slot := NULL */
	AV_OP_FAIL,     /* aux: enum av_err; slot: the field */
	AV_OP_UNION,    /* aux: branches; arg: first jump table entry */
	AV_OP_JUMP,     /* arg: next instruction */
	AV_OP_OPTIONAL, /* aux: the null branch (0 or 1) of a 2-branch union; slot := NULL for
			   it (pc += 2), else the next instruction reads the other branch */
};

/* How a READ converts one writer value (reading it) into its slot. */
enum av_conv {
	AV_CV_INT,        /* int varint, scaled by scales[arg] into i64/u64 */
	AV_CV_LONG,       /* long varint, likewise */
	AV_CV_BOOL,       /* boolean byte, likewise */
	AV_CV_INT_F64,    /* int or long varint as a double (aux: 1 long) */
	AV_CV_FLOAT_F64,
	AV_CV_DOUBLE_F64,
	AV_CV_BOOL_BOOL,  /* boolean into Bool */
	AV_CV_STR,        /* string or bytes: ptr, len (aux: most bytes, 0 no limit) */
	AV_CV_FIXED,      /* fixed of aux bytes: ptr, len */
	AV_CV_ENUM,       /* enum: texts[arg + index], aux symbols; NULL ptr: AV_ERR_SYMBOL */
	AV_CV_DECIMAL,    /* bytes (aux 0) or fixed of aux bytes, scale in the op's scale */
	AV_CV_STR_UUID,   /* string or bytes of the UUID's text */
	AV_CV_FIXED_UUID, /* fixed(16) */
	AV_CV_STR_TIME,   /* string as scales[arg].text: RFC 3339 or date */
	AV_CV_ARRAY_STR,  /* array of aux (item node): string, bytes, fixed or enum (texts[arg]) */
	AV_CV_ARRAY_INT,  /* array of aux (item node): int, long or boolean, scales[arg] */
};

/* An integer's conversion: v * mul / div (floored), then lo <= v <= hi, else AV_ERR_RANGE. */
enum av_text { AV_TEXT_RFC3339, AV_TEXT_DATE };
struct av_scale {
	int64_t mul, div, lo, hi;
	uint8_t text;      /* AV_CV_STR_TIME: enum av_text */
	uint8_t precision; /* AV_CV_STR_TIME with RFC 3339: digits of the fraction kept */
};

struct av_op {
	uint8_t code;  /* enum av_opcode */
	uint8_t conv;  /* enum av_conv */
	uint8_t scale; /* AV_CV_DECIMAL */
	uint8_t pad;
	uint16_t slot; /* the declared field */
	uint16_t pad2;
	uint32_t arg;
	uint32_t aux;
};

struct av_plan {
	const struct av_schema *writer;
	const struct av_reader *reader;
	const struct av_op *ops;
	const uint32_t *jumps;
	const struct av_scale *scales;
	const struct event_str *texts;      /* enum symbol texts; NULL ptr: not known */
	const struct event_value *init;     /* every slot before the program runs */
	uint32_t n_fields, n_ops;
	void *mem[5];
};

/* The type's name, for messages ("long", "record", ...). */
const char *av_type_name(enum av_type t);

/* The ClickHouse name of a target ("UInt32", "DateTime64(3)", ...) into buf; returns buf. */
const char *av_target_name(enum av_target t, uint32_t size, char *buf, size_t cap);

/* The values an integer-valued target holds (in its slot's units), as int64: U64 of size 8 up to
 * INT64_MAX (an Avro long goes no further); Date32 and DateTime64 over ClickHouse's
 * 1900-01-01 .. 2299-12-31. */
void av_target_range(enum av_target t, uint32_t size, int64_t *lo, int64_t *hi);

/* 10^p for p 0..18. */
int64_t av_pow10(unsigned p);

#endif
