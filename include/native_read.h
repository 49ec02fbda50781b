/*
 * native_read: decoder of ClickHouse Native files (revision 0, as native.h describes them) and
 * ClickHouse TabSeparated text of their values. Used by tools and tests, never on the hot path.
 *
 * A file is a sequence of blocks. native_reader_next decodes one block from a caller's buffer
 * (typically the mmap of a whole file) without copying values: names, fixed-width data, strings,
 * null maps and LowCardinality indexes point into that buffer, which must outlive the block.
 * Everything read from the input is bounds-checked: a truncated or corrupt input yields -EBADMSG
 * and a message with the byte offset of the problem, never a read outside the buffer. Memory
 * the reader allocates (per-column string tables) is O(input size) and reused across blocks.
 *
 * Types read: everything native_type_parse accepts, i.e. the encoder's types plus UUID.
 */
#ifndef ENRICHD_NATIVE_READ_H
#define ENRICHD_NATIVE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "native.h"

/* Most columns per block the reader accepts. */
#define NATIVE_RD_COLUMNS_MAX 65536

struct native_rd_str {
	const uint8_t *ptr;
	size_t len;
};

/* count values of one non-Nullable type. */
struct native_rd_values {
	const uint8_t *data;        /* fixed-width kinds: count * width little-endian bytes */
	struct native_rd_str *strs; /* String: count strings (owned by the reader) */
	uint64_t count;
};

struct native_rd_col {
	const char *name; /* not NUL-terminated */
	size_t name_len;
	const char *type_name; /* as written in the file, not NUL-terminated */
	size_t type_name_len;
	struct native_type type;
	uint32_t width;        /* native_type_width(&type) */
	const uint8_t *nulls;  /* Nullable, not LowCardinality: rows bytes, 1 = NULL; else NULL */
	struct native_rd_values values; /* rows values; for LowCardinality the dictionary keys */
	const uint8_t *index;  /* LowCardinality: rows key numbers of index_width bytes */
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

/* True when the value at row is NULL. */
bool native_rd_is_null(const struct native_rd_col *c, uint64_t row);

/*
 * Typed access to the value at row (NULL rows read as the stored default). Each returns 0, or
 * -EINVAL when the column's kind does not match:
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
 * did not fit: retry with a larger buffer), or -ENOTSUP for a DateTime time zone other than UTC.
 */
ssize_t native_rd_format_text(const struct native_rd_col *c, uint64_t row, char *buf,
			      size_t cap);

#endif
