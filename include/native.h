/*
 * native: ClickHouse Native block encoder (column-block builder).
 *
 * A struct native_block holds one block of rows column by column. It is built once from a schema
 * (column names and ClickHouse type names), a row capacity and byte bounds; every byte it will
 * ever use is allocated by native_block_init. Appending, committing, encoding and resetting never
 * allocate, lock or log, so a worker can use its blocks on the hot path.
 *
 * Output format: exactly what ClickHouse writes to (and reads from) plain files with
 * FORMAT Native, protocol revision 0, verified byte for byte against ClickHouse 26.x:
 *
 *   block  := VarUInt columns, VarUInt rows, column * columns        (no block-info header)
 *   column := String name, String type, data      (no custom-serialization byte; data is absent
 *                                                  when rows == 0, as ClickHouse writes it)
 *   String := VarUInt length, bytes               VarUInt is unsigned LEB128
 *   fixed-width types: rows little-endian values (Date UInt16 days, Date32 Int32 days,
 *     DateTime UInt32 seconds, DateTime64(P) Int64 ticks of 10^-P s, Bool UInt8 0/1,
 *     IPv4 UInt32, FixedString(N) N bytes zero-padded, IPv6 16 bytes in network order, UUID
 *     two little-endian UInt64: bytes 7..0 then 15..8 of the RFC 4122 byte order)
 *   Array(T): rows UInt64 cumulative element counts (the end of each row's elements), then the
 *     elements of every row as one column of T (Strings serialized, integers little-endian)
 *   Nullable(T): rows bytes of null map (1 = NULL), then the T data for every row (default value
 *     in NULL rows)
 *   LowCardinality(T): UInt64 1 (key version), UInt64 index type (width code 0..3 for
 *     UInt8/16/32/64 | 0x200 HasAdditionalKeys | 0x400 NeedUpdateDictionary), UInt64 key
 *     count, keys serialized as T's nested non-Nullable type, UInt64 rows, rows indexes.
 *
 * LowCardinality keys are written as ClickHouse writes them, so the bytes equal ClickHouse's own
 * output for the same values: key 0 is the default ("") -- for LowCardinality(Nullable(String))
 * key 0 stands for NULL and key 1 is the default -- followed by the distinct other keys used by
 * the block's rows, in order of first appearance. Only used keys are written (a dictionary of a
 * million URLs costs nothing in a block that uses ten of them). The index width is the narrowest
 * of UInt8/16/32/64 whose maximum is at least the key count (255 keys -> UInt8, 256 -> UInt16),
 * which is ClickHouse's rule.
 *
 * Two ways to fill a LowCardinality(String) / LowCardinality(Nullable(String)) column:
 *  - NATIVE_DICT_LOCAL: the caller appends strings (native_append_str); the block deduplicates
 *    them in a hash table bounded by the column's dict_keys_max (used for _topic and the like);
 *  - NATIVE_DICT_EXTERNAL: the caller installs a fixed dictionary (native_block_set_dict) and
 *    appends codes (native_append_code), e.g. dimension attributes dictionary-encoded at load.
 *    For the Nullable variant code 0 means NULL (the key stored at code 0 is never read).
 *
 * Row protocol: every column of a row is appended (once each; appending a column again within
 * the same row replaces its value), then native_block_commit_row. An append that does not fit
 * returns -ENOSPC and changes nothing: the caller rolls the row back, encodes and resets the
 * block, and appends the row again. An uncommitted row is never encoded.
 *
 * Thread safety: a block is owned by one thread. Call native_block_init from the thread that
 * will use the block, so first-touch places its memory on that thread's NUMA node.
 */
#ifndef ENRICHD_NATIVE_H
#define ENRICHD_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chtype.h"

/* ---- types ------------------------------------------------------------------------------- */

/* Room for the name of any type native_type_parse accepts, including the NUL. */
#define NATIVE_TYPE_NAME_MAX 160

/*
 * Parses a ClickHouse type name (chtype.h) and accepts it if it is a Native value type, one whose
 * values the encoder and the reader's typed access handle: [U]Int8..64, Float32/64, Bool,
 * String, FixedString(N), Date, Date32, DateTime[('tz')], DateTime64(P[, 'tz']), UUID (read only)
 * and IPv4, each plain or Nullable, and LowCardinality of those besides UUID and Bool (also of
 * Nullable). Not Arrays, wide integers, Decimal, Enum or IPv6 (the reader walks over such
 * columns; see native_read.h). Returns 0 and fills *out, or -EINVAL with a one-line reason in err
 * (always NUL-terminated when err_cap > 0; err may be NULL): chtype's for a name that is no
 * type, else one saying the type is not a Native value type.
 */
int native_type_parse(const char *name, size_t len, struct chtype *out, char *err,
		      size_t err_cap);

/*
 * Parses a type name and accepts it if native_block_init writes it: the value types above
 * (LowCardinality only of String and Nullable(String)), plus UUID, IPv6 (each plain or Nullable)
 * and Array(String), Array(Int8..Int64). Returns 0 and fills *out, or -EINVAL with a one-line
 * reason in err, as native_type_parse.
 */
int native_encoder_type_parse(const char *name, size_t len, struct chtype *out, char *err,
			      size_t err_cap);

/* ---- block builder ------------------------------------------------------------------------ */

struct native_block;

enum native_dict_mode {
	NATIVE_DICT_LOCAL = 0,    /* strings appended, deduplicated per block */
	NATIVE_DICT_EXTERNAL = 1, /* codes appended into a caller-owned fixed dictionary */
};

/* Limits of native_block_init. */
#define NATIVE_COLUMNS_MAX 1024
#define NATIVE_ROWS_MAX (1u << 24)
#define NATIVE_NAME_MAX 256
/* Serialized bytes of one String column (or LowCardinality local dictionary) per block. */
#define NATIVE_COLUMN_BYTES_MAX ((size_t)1 << 31)

struct native_column_spec {
	const char *name; /* column name, 1..NATIVE_NAME_MAX-1 bytes; copied at init */
	const char *type; /* ClickHouse type name, parsed with native_encoder_type_parse */
	/* LowCardinality columns only (ignored otherwise): */
	enum native_dict_mode dict_mode;
	/* Local: most distinct keys per block besides the default ones (0: rows_max).
	 * External: largest dictionary native_block_set_dict accepts (must be > 0). */
	uint32_t dict_keys_max;
	/* String, Nullable(String), Array and local-dictionary LowCardinality columns: bound on
	 * the column's serialized bytes per block (VarUInt lengths included; an Array's element
	 * data, not its offsets); 0: the block default. */
	size_t bytes_max;
};

/* A string of an external dictionary. */
struct native_str {
	const char *ptr;
	uint32_t len;
};

/*
 * Builds a block for ncols columns (1..NATIVE_COLUMNS_MAX) of the given specs holding up to
 * rows_max rows (1..NATIVE_ROWS_MAX). var_bytes_max is the default bytes_max of the columns
 * that need one (each such column gets its own buffer of that size). Column names are copied;
 * the spec array may be freed after the call. Supported encoder types: those of
 * native_encoder_type_parse. Array columns are filled column-wise only (native_rows_array). Types are
 * written under their canonical ClickHouse names, as FORMAT Native writes them at revision 0
 * (so a top-level DateTime('tz') is written as "DateTime"). All memory is allocated and touched
 * here: about rows_max * (sum of value widths, + 1 per Nullable, 4 per LowCardinality) plus
 * the byte bounds, plus 12 bytes per external dictionary key and 28..44 per local one.
 * Returns 0 and *out, -EINVAL for a bad schema (logged once, with the column and reason),
 * or -ENOMEM.
 */
int native_block_init(struct native_block **out, const struct native_column_spec *cols,
		      uint32_t ncols, uint32_t rows_max, size_t var_bytes_max);

/* Frees everything native_block_init allocated. b may be NULL. */
void native_block_destroy(struct native_block *b);

/*
 * Installs the dictionary of an external-dictionary LowCardinality column. keys[0..nkeys) are
 * borrowed, not copied: the array and the bytes it points to must stay valid and unchanged until
 * the next native_block_set_dict on this column or native_block_destroy. Allowed only while the
 * block is empty (no committed or pending row): -EBUSY otherwise. Returns 0, -EINVAL (not such a
 * column, or a key longer than NATIVE_COLUMN_BYTES_MAX), or -ERANGE if nkeys exceeds the
 * column's dict_keys_max. An empty key maps to the default key, as in ClickHouse.
 */
int native_block_set_dict(struct native_block *b, uint32_t col, const struct native_str *keys,
			  uint32_t nkeys);

/*
 * Lets the column use more entries of the dictionary installed with native_block_set_dict, which
 * has grown in place since (a live dimension appends values): keys must be the array installed,
 * its first entries unchanged, nkeys at least the count installed. Allowed while the block holds
 * rows (the rows keep their keys). Returns 0, -EINVAL (not such a column, another array, fewer
 * keys, or a key longer than NATIVE_COLUMN_BYTES_MAX), or -ERANGE if nkeys exceeds the column's
 * dict_keys_max. O(new keys).
 */
int native_block_grow_dict(struct native_block *b, uint32_t col, const struct native_str *keys,
			   uint32_t nkeys);

/*
 * Appends a value to column col of the pending row. All return 0, or:
 *   -ENOSPC  the block is full (native_block_full) or the value's bytes do not fit;
 *   -EINVAL  col out of range, or the function does not fit the column's type;
 *   -ERANGE  the value is outside the type's range (or code outside the dictionary).
 * On error nothing changes. O(1); string appends copy len bytes; no allocation.
 *
 * native_append_u64 / native_append_i64: integer kinds, Bool (0 or 1), Date and Date32 (days),
 *   DateTime (seconds), DateTime64 (ticks), IPv4; range-checked against the type.
 * native_append_f64: Float32 (rounded to float) and Float64.
 * native_append_str: String, FixedString(N) (len <= N, zero-padded), UUID (16 bytes in RFC 4122
 *   order, as its text's hex digits read), IPv6 (16 bytes, network order), local-dictionary
 *   LowCardinality. ptr may be NULL when len is 0.
 * native_append_code: external-dictionary LowCardinality; code < the dictionary's size
 *   (for the Nullable variant code 0 is NULL).
 * native_append_null: Nullable(T) and LowCardinality(Nullable(String)) columns.
 */
int native_append_u64(struct native_block *b, uint32_t col, uint64_t v);
int native_append_i64(struct native_block *b, uint32_t col, int64_t v);
int native_append_f64(struct native_block *b, uint32_t col, double v);
int native_append_str(struct native_block *b, uint32_t col, const void *ptr, size_t len);
int native_append_code(struct native_block *b, uint32_t col, uint32_t code);
int native_append_null(struct native_block *b, uint32_t col);

/*
 * Commits the pending row. Returns 0, or -EINVAL (row left pending) if some column of the row was
 * not appended. O(1).
 */
int native_block_commit_row(struct native_block *b);

/*
 * Drops the pending row's values. A LowCardinality key first seen in the dropped row may stay
 * in the block's dictionary (ClickHouse ignores unused keys). O(columns).
 */
void native_block_rollback_row(struct native_block *b);

/*
 * Column-wise appends, for many rows at once. native_rows_begin opens n pending rows after the
 * committed ones (-ENOSPC if fewer than n rows are free, -EINVAL if a row is pending); each
 * column then gets all n values from one native_rows_* call (values[i] is row i's), and
 * native_rows_commit adds the rows (-EINVAL, rows left pending, if some column was not given).
 * native_block_rollback_row drops pending rows. Errors and types as the per-row appends above,
 * checked for every value before anything is written; nulls (NULL: none is NULL) marks NULL
 * rows of Nullable columns (their values are ignored); for external-dictionary LowCardinality
 * code 0 is NULL as in native_append_code. The per-row appends must not be used while rows are
 * pending. O(n) per column, no allocation.
 */
int native_rows_begin(struct native_block *b, uint32_t n);
int native_rows_u64(struct native_block *b, uint32_t col, const uint64_t *values,
		    const uint8_t *nulls);
int native_rows_i64(struct native_block *b, uint32_t col, const int64_t *values,
		    const uint8_t *nulls);
int native_rows_f64(struct native_block *b, uint32_t col, const double *values,
		    const uint8_t *nulls);
/* String, FixedString, UUID, IPv6 and local-dictionary LowCardinality columns, the values as
 * native_append_str takes them (nulls: Nullable(T) and LowCardinality(Nullable(String))). For a
 * local dictionary, keys added for the first values stay in it when a later one fails. */
int native_rows_str(struct native_block *b, uint32_t col, const struct native_str *values,
		    const uint8_t *nulls);

/* One row's value of an Array column: count elements, struct native_str for Array(String),
 * int64_t for Array(Int8..Int64) (range-checked against the element type). */
struct native_array {
	const void *elems;
	uint32_t count;
};

/* Array columns: values[i] is row i's array. -ENOSPC when the elements do not fit the column's
 * bytes_max. */
int native_rows_array(struct native_block *b, uint32_t col, const struct native_array *values);
int native_rows_code(struct native_block *b, uint32_t col, const uint32_t *codes);
int native_rows_commit(struct native_block *b);

/* Committed rows. */
uint32_t native_block_rows(const struct native_block *b);
/* True when rows == rows_max: the next append returns -ENOSPC. */
bool native_block_full(const struct native_block *b);
/* Rows that can still be appended: rows_max - rows. */
uint32_t native_block_free_rows(const struct native_block *b);

/* Exact size in bytes of native_block_encode's output for the committed rows. O(columns). */
size_t native_block_encoded_size(const struct native_block *b);

/*
 * Upper bound of native_block_encoded_size over any content the block can hold with its current
 * external dictionaries (changes only with native_block_set_dict). O(columns).
 */
size_t native_block_encoded_max(const struct native_block *b);

/*
 * Writes the committed rows as one Native block into out[0..cap) and sets *out_len. Returns 0,
 * or -ENOBUFS (nothing written) if cap < native_block_encoded_size. The block is unchanged;
 * a pending row is ignored. Fixed-width columns are one memcpy each.
 */
int native_block_encode(const struct native_block *b, uint8_t *out, size_t cap,
			size_t *out_len);

/* Empties the block (committed and pending rows, local dictionaries). O(columns + keys). */
void native_block_reset(struct native_block *b);

#endif
