/*
 * native_read: the decoder of ClickHouse Native blocks (revision 0, as native.h describes them)
 * for the whole project -- the dimension loader, tools and tests -- and ClickHouse TabSeparated
 * text of their values. Never on the event path.
 *
 * A file is a sequence of blocks. native_reader_next decodes one block from a caller's buffer
 * (typically the mmap of a whole file) without copying values: names, fixed-width data, strings,
 * null maps, array offsets and LowCardinality indexes point into that buffer, which must outlive
 * the block. Everything read from the input is bounds-checked: a truncated or corrupt input
 * yields -EBADMSG and a message with the byte offset of the problem, never a read outside the
 * buffer; a block that decodes is whole (every string length, array offset and LowCardinality
 * index checked), so its values can be walked without further checks. Memory the reader
 * allocates (per-column string tables) is O(input size) and reused across blocks.
 *
 * Types decoded: every type chtype.h parses, Arrays and LowCardinality inside them included.
 * Typed access and text are for the Native value types (native_type_parse), not inside an Array;
 * other columns are decoded so that a reader can walk over them.
 */
#ifndef ENRICHD_NATIVE_READ_H
#define ENRICHD_NATIVE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chtype.h"
#include "native.h"

/* Most columns per block the reader accepts. */
#define NATIVE_RD_COLUMNS_MAX 65536

struct native_rd_str {
	const uint8_t *ptr;
	size_t len;
};

/* count values of the plain type T (LowCardinality: the dictionary's keys, as T). */
struct native_rd_values {
	const uint8_t *data;        /* fixed-width: count * width little-endian bytes; String: the
				     * count serialized values (VarUInt length, bytes), bytes long */
	size_t bytes;
	struct native_rd_str *strs; /* String: count strings (owned by the reader); NULL for the
				     * values of a sequential reader (native_rd_str_next) */
	uint64_t count;
};

/*
 * A decoded column. Its values are those of the innermost level: rows of them, or for an Array
 * the elements of the last level (offsets[arrays - 1]'s last entry of them).
 */
struct native_rd_col {
	const char *name; /* not NUL-terminated */
	size_t name_len;
	const char *type_name; /* as written in the file, not NUL-terminated */
	size_t type_name_len;
	struct chtype type;
	uint32_t width;        /* chtype_width(&type) */
	/* Array level k (outermost 0): one UInt64 end offset per element of level k - 1 (per row
	 * for level 0), non-decreasing; NULL past type.arrays. */
	const uint8_t *offsets[CHTYPE_ARRAYS_MAX];
	uint64_t count;        /* values: rows, or the last level's elements */
	const uint8_t *nulls;  /* Nullable, not LowCardinality: count bytes, 1 = NULL; else NULL */
	struct native_rd_values values; /* count values; for LowCardinality the dictionary keys */
	const uint8_t *index;  /* LowCardinality: count key numbers (< values.count) of index_width
				  bytes; for LowCardinality(Nullable(T)) key 0 is NULL */
	uint32_t index_width;
};

struct native_rd_block {
	uint64_t rows;
	uint32_t ncols;
	struct native_rd_col *cols; /* owned by the reader; valid until the next call */
	size_t offset;              /* where the block starts in the buffer */
	size_t size;                /* its encoded bytes */
};

struct native_reader;

/* Returns 0 and *out, or -ENOMEM. */
int native_reader_init(struct native_reader **out);
/*
 * A reader for one pass over each block's values in order: the values of String columns are
 * checked but not indexed (values.strs is NULL; walk values.data with native_rd_str_next), which
 * saves writing a table entry per value. LowCardinality keys are indexed all the same. The
 * per-row String access (native_rd_str, native_rd_format_text) refuses such columns (-EINVAL).
 */
int native_reader_init_sequential(struct native_reader **out);
/* r may be NULL. */
void native_reader_destroy(struct native_reader *r);

/*
 * Decodes the block at buf[*off] (buf holds len bytes) into *blk and advances *off past it.
 * Returns 1 for a block, 0 when *off == len (end of input), -EBADMSG for a truncated or corrupt
 * block or an unsupported type (see native_reader_error), -ENOMEM. The block's pointers stay
 * valid until the next call on r and while buf is unchanged.
 */
int native_reader_next(struct native_reader *r, const uint8_t *buf, size_t len, size_t *off,
		       struct native_rd_block *blk);

/* The message of the last error and the byte offset it refers to. */
const char *native_reader_error(const struct native_reader *r, size_t *offset);

/* True when the value at row (of a column that is not an Array) is NULL. */
bool native_rd_is_null(const struct native_rd_col *c, uint64_t row);

/*
 * Walks the String values of a column of a sequential reader: *cursor starts at values.data;
 * each call returns the next value (pointing into the input) and moves *cursor past it. Call it
 * at most values.count times: the reader checked every length, so nothing is checked here.
 */
static inline void native_rd_str_next(const uint8_t **cursor, const uint8_t **ptr, size_t *len)
{
	const uint8_t *p = *cursor;
	size_t n = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = *p++;
		n |= (size_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	*ptr = p;
	*len = n;
	*cursor = p + n;
}

/*
 * Typed access to the value at row of a column that is not an Array (NULL rows read as the
 * stored default). Each returns 0, or -EINVAL when the column's kind does not match:
 *   native_rd_u64: unsigned kinds, Bool, Date, DateTime, IPv4;
 *   native_rd_i64: signed kinds, Date32, DateTime64; native_rd_f64: Float32, Float64;
 *   native_rd_str: String, FixedString (all N bytes), LowCardinality of those.
 * The string points into the input buffer.
 */
int native_rd_u64(const struct native_rd_col *c, uint64_t row, uint64_t *v);
int native_rd_i64(const struct native_rd_col *c, uint64_t row, int64_t *v);
int native_rd_f64(const struct native_rd_col *c, uint64_t row, double *v);
int native_rd_str(const struct native_rd_col *c, uint64_t row, const uint8_t **ptr, size_t *len);

/*
 * Writes the value at row as ClickHouse's TabSeparated output prints it (\N for NULL; strings
 * escaped by tsv_escape with \'; floats in shortest round-trip form; dates and times in UTC)
 * into buf and NUL-terminates it if it fits. Returns the text's length (a value >= cap means it
 * did not fit: retry with a larger buffer), -ENOTSUP for a DateTime time zone other than UTC or
 * a column of another type than the Native value types (an Array, Decimal, ...), -EINVAL for a
 * String column of a sequential reader.
 */
ssize_t native_rd_format_text(const struct native_rd_col *c, uint64_t row, char *buf,
			      size_t cap);

#endif
