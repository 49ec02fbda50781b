/*
 * chtype: ClickHouse data type names, parsed and printed in one place for the whole project
 * (the Native encoder and reader, the dimension loaders, the output schema).
 *
 * Grammar (names are case-sensitive, as ClickHouse's are; spaces are allowed around '(' ',' ')'):
 *   String, FixedString(N) (N 1..CHTYPE_FIXED_STRING_MAX), UInt8/16/32/64/128/256,
 *   Int8/16/32/64/128/256, Float32, Float64, Bool, Decimal(P[, S]) and Decimal32/64/128/256(S)
 *   (P 1..76, S 0..P; a bare Decimal is Decimal(10, 0)), Date, Date32, DateTime, DateTime('tz'),
 *   DateTime64[(P[, 'tz'])] (P 0..9; bare: 3), UUID, IPv4, IPv6, Enum8/Enum16('name' [= v], ...),
 *   and the wrappers Nullable(T), LowCardinality(T) and Array(T).
 *
 * Nesting follows ClickHouse's rules, so every valid type has the shape
 *   Array(...Array( [LowCardinality(] [Nullable(] T [)] [)] )...)
 * with T one of the plain types above: Nullable holds no Nullable, LowCardinality or Array;
 * LowCardinality holds a plain or Nullable T other than Decimal, DateTime64 and Enum (numbers of
 * every width, Bool, Date*, IPv4/6 are what ClickHouse calls "suspicious" but reads and writes);
 * Array holds anything. A parsed type is that shape, flat: no allocation, copied by value.
 *
 * Consumers support subsets (the Native encoder writes no Array yet, a dimension attribute is
 * one of dim_type): they parse here and reject the rest with a message naming the type.
 */
#ifndef ENRICHD_CHTYPE_H
#define ENRICHD_CHTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chtype_kind {
	CHTYPE_NONE = 0, /* a zeroed struct chtype is no type */
	CHTYPE_UINT8,
	CHTYPE_UINT16,
	CHTYPE_UINT32,
	CHTYPE_UINT64,
	CHTYPE_UINT128,
	CHTYPE_UINT256,
	CHTYPE_INT8,
	CHTYPE_INT16,
	CHTYPE_INT32,
	CHTYPE_INT64,
	CHTYPE_INT128,
	CHTYPE_INT256,
	CHTYPE_FLOAT32,
	CHTYPE_FLOAT64,
	CHTYPE_BOOL,       /* UInt8 0 or 1 */
	CHTYPE_DECIMAL,    /* precision digits, scale after the point: Int32/64/128/256 by precision */
	CHTYPE_STRING,
	CHTYPE_FIXED_STRING,
	CHTYPE_DATE,       /* UInt16 days since 1970-01-01 */
	CHTYPE_DATE32,     /* Int32 days since 1970-01-01 */
	CHTYPE_DATETIME,   /* UInt32 seconds since the epoch */
	CHTYPE_DATETIME64, /* Int64 ticks of 10^-precision seconds since the epoch */
	CHTYPE_UUID,       /* two little-endian UInt64, high half first */
	CHTYPE_IPV4,       /* UInt32 */
	CHTYPE_IPV6,       /* 16 bytes, network order */
	CHTYPE_ENUM8,      /* Int8 values */
	CHTYPE_ENUM16,     /* Int16 values */
};

/* Bounds. */
#define CHTYPE_TZ_MAX 64                  /* time zone name bytes, including the NUL */
#define CHTYPE_ARRAYS_MAX 8               /* Array( levels */
#define CHTYPE_FIXED_STRING_MAX 0xFFFFFFu /* ClickHouse's own limit on N */
#define CHTYPE_DECIMAL_PRECISION_MAX 76
#define CHTYPE_DATETIME64_PRECISION_MAX 9

struct chtype {
	enum chtype_kind kind; /* the plain type T */
	uint8_t arrays;        /* Array( levels around the rest: Array(Array(T)) has 2 */
	bool low_cardinality;  /* LowCardinality(T) or LowCardinality(Nullable(T)) */
	bool nullable;         /* Nullable(T), inside LowCardinality when both are set */
	uint32_t fixed_len;    /* FixedString(N): N */
	uint32_t precision;    /* DateTime64(P): P; Decimal(P, S): P */
	uint32_t scale;        /* Decimal(P, S): S */
	char tz[CHTYPE_TZ_MAX]; /* DateTime('tz'), DateTime64(P, 'tz'): tz; "" when none is named */
	/* Enum8/16: the element list between the parentheses, as written in the parsed name
	 * (borrowed: valid as long as that name is; the values are not kept). */
	const char *enum_list;
	uint32_t enum_list_len;
};

/*
 * Parses the len bytes at name. Returns 0 and fills *out, or -EINVAL with a one-line reason
 * naming what is wrong and its offset in the name, e.g. "Array cannot be inside Nullable (at
 * offset 9)", in err (always NUL-terminated when err_cap > 0; err may be NULL).
 */
int chtype_parse(const char *name, size_t len, struct chtype *out, char *err, size_t err_cap);

/*
 * Writes the canonical name of t, as ClickHouse prints it ("DateTime64(3, 'UTC')",
 * "Decimal(9, 2)", "Array(LowCardinality(Nullable(String)))"; an Enum's list as it was written),
 * into buf. Returns its length, or -ENOSPC if it does not fit in cap bytes with the NUL, -EINVAL
 * for a struct that is no type.
 */
int chtype_name(const struct chtype *t, char *buf, size_t cap);

/* The name of a plain kind without parameters ("FixedString", "DateTime64"); "?" for none. */
const char *chtype_kind_name(enum chtype_kind kind);

/*
 * Bytes of one value of the plain type T in a column (FixedString: N; Decimal: 4, 8, 16 or 32
 * by precision); 0 for String and for no type. Wrappers do not change it.
 */
size_t chtype_width(const struct chtype *t);

#endif
