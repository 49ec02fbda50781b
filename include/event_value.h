/*
 * event_value: one declared event field's decoded value, the slot every event decoder (Avro,
 * JSON) fills and the worker appends to the field's Native column.
 *
 * Which member of the union holds the value follows from the field's declared ClickHouse type;
 * the slot itself carries no type. A decoder writes every slot of the declared fields for each
 * event it accepts: null = 1 for a NULL (the field absent from the message or null in a Nullable
 * field), else the member below and, for bytes and arrays, len.
 *
 *   member  ClickHouse types
 *   u64     UInt8..UInt64, Bool (0 or 1), Date (days since 1970-01-01), DateTime (seconds since
 *           the epoch, UTC), IPv4 (the address as a number)
 *   i64     Int8..Int64, DateTime64(P) (ticks of 10^-P s since the epoch, UTC), Date32 (days
 *           since 1970-01-01, negative before)
 *   f64     Float32, Float64
 *   ptr     String and FixedString: len bytes (not NUL-terminated, may contain NUL bytes);
 *           a decimal rendered as text ("-12.34"); UUID: 16 bytes in RFC 4122 order (the order of
 *           the hex digits in its text; the Native writer reorders them for ClickHouse's two
 *           little-endian halves); IPv6: 16 bytes in network order;
 *           Array(String): len elements of struct event_str; Array(Int*): len int64_t
 *
 * Lifetime: ptr points into the message being decoded, into the decoder's caller-provided
 * scratch area, or into constant memory of the decoding plan (declared defaults); it stays valid
 * while all three are left unchanged. Array element storage is aligned for its element type.
 */
#ifndef ENRICHD_EVENT_VALUE_H
#define ENRICHD_EVENT_VALUE_H

#include <stdint.h>

/* One declared field's decoded value. */
struct event_value {
	union {
		uint64_t u64;    /* UInt8..64, Bool (0/1), Date (days), DateTime (s), IPv4 */
		int64_t i64;     /* Int8..64, DateTime64 ticks (10^-P s), Date32 days */
		double f64;      /* Float32/64 */
		const char *ptr; /* String/FixedString/decimal text bytes; UUID/IPv6 16 bytes;
				    arrays: the elements (struct event_str[] or int64_t[]) */
	};
	uint32_t len; /* bytes of ptr, or the element count of an array */
	uint8_t null; /* 1: NULL (absent or null in a Nullable field) */
};

/* One element of an Array(String) value. */
struct event_str {
	const char *ptr;
	uint32_t len;
};

#endif
