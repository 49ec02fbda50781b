/*
 * Fuzz target: native_reader_next and native_rd_format_text on arbitrary bytes. The decoder
 * must reject any truncated or corrupt input without reading outside it, and every value of a
 * block it accepts must be printable (or refused) and, read sequentially, walkable: a block that
 * decodes is whole.
 */
#include <stddef.h>
#include <stdint.h>

#include "native_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink; /* keeps the walk's reads */

/* Walks every String value of a sequential reader's column, touching each byte. */
static void walk_strings(const struct native_rd_col *c)
{
	if (c->type.kind != CHTYPE_STRING || c->values.strs || c->values.count == 0)
		return; /* an empty block's column has no data at all */
	const uint8_t *cursor = c->values.data, *p;
	size_t len;
	for (uint64_t i = 0; i < c->values.count; i++) {
		native_rd_str_next(&cursor, &p, &len);
		for (size_t k = 0; k < len; k++)
			sink ^= p[k];
	}
	if (cursor != c->values.data + c->values.bytes)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct native_reader *r, *seq;
	if (native_reader_init(&r) < 0)
		return 0;
	if (native_reader_init_sequential(&seq) < 0) {
		native_reader_destroy(r);
		return 0;
	}
	static char text[1 << 16];
	size_t off = 0;
	struct native_rd_block blk;
	while (native_reader_next(r, data, size, &off, &blk) == 1) {
		/* rows * columns <= size: every value takes at least one byte. */
		for (uint64_t row = 0; row < blk.rows; row++)
			for (uint32_t c = 0; c < blk.ncols; c++)
				(void)native_rd_format_text(&blk.cols[c], row, text, sizeof(text));
	}
	off = 0;
	while (native_reader_next(seq, data, size, &off, &blk) == 1)
		for (uint32_t c = 0; c < blk.ncols; c++)
			walk_strings(&blk.cols[c]);
	native_reader_destroy(seq);
	native_reader_destroy(r);
	return 0;
}
