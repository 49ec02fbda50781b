/*
 * native_format: the constants and primitives of ClickHouse's Native format that its encoder
 * (native.c) and decoder (native_read.c) share, stated once. The format itself is described in
 * native.h.
 *
 * LowCardinality(T) in a block: a prefix UInt64 key version (NATIVE_LC_KEY_VERSION), written
 * where the column's serialization starts (so inside Array(...) before the array offsets), then
 * per block of rows a UInt64 index type, UInt64 key count, the keys as T's non-Nullable type,
 * UInt64 row count and the indexes. The index type is a width code (0..3: UInt8, UInt16,
 * UInt32, UInt64) with flags; the only form a Native file holds has HasAdditionalKeys set and
 * NeedGlobalDictionary clear.
 */
#ifndef ENRICHD_NATIVE_FORMAT_H
#define ENRICHD_NATIVE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define NATIVE_LC_KEY_VERSION 1u                  /* SharedDictionariesWithAdditionalKeys */
#define NATIVE_LC_NEED_GLOBAL_DICTIONARY (1u << 8) /* keys in a global dictionary: not Native */
#define NATIVE_LC_HAS_ADDITIONAL_KEYS (1u << 9)    /* the block carries its keys */
#define NATIVE_LC_NEED_UPDATE_DICTIONARY (1u << 10)
#define NATIVE_LC_INDEX_CODE_MASK 0xffu           /* the width code's byte (other bits: flags) */
#define NATIVE_LC_INDEX_CODE_MAX 3u               /* UInt64 indexes */

/* ClickHouse's rule: the narrowest index type whose maximum is at least the key count. */
static inline uint32_t native_lc_index_code(uint64_t nkeys)
{
	if (nkeys <= UINT8_MAX)
		return 0;
	if (nkeys <= UINT16_MAX)
		return 1;
	if (nkeys <= UINT32_MAX)
		return 2;
	return 3;
}

/* Bytes of an index of type code (0..NATIVE_LC_INDEX_CODE_MAX). */
static inline uint32_t native_lc_index_width(uint32_t code)
{
	return 1u << code;
}

/* A VarUInt (unsigned LEB128) takes 1..NATIVE_VARUINT_BYTES_MAX bytes. */
#define NATIVE_VARUINT_BYTES_MAX 10

/* Bytes of x as a VarUInt. */
static inline size_t native_varuint_size(uint64_t x)
{
	size_t n = 1;
	while (x >= 0x80) {
		x >>= 7;
		n++;
	}
	return n;
}

/* Writes x as a VarUInt at p (room for native_varuint_size(x) bytes); returns the bytes written. */
static inline size_t native_varuint_write(uint8_t *p, uint64_t x)
{
	size_t n = 0;
	while (x >= 0x80) {
		p[n++] = (uint8_t)(x | 0x80);
		x >>= 7;
	}
	p[n++] = (uint8_t)x;
	return n;
}

#endif
