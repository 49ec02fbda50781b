/*
 * Fuzz target: native_reader_next and native_rd_format_text on arbitrary bytes. The decoder
 * must reject any truncated or corrupt input without reading outside it, and every value of a
 * block it accepts must be printable.
 */
#include <stddef.h>
#include <stdint.h>

#include "native_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct native_reader *r;
	if (native_reader_init(&r) < 0)
		return 0;
	static char text[1 << 16];
	size_t off = 0;
	struct native_rd_block blk;
	while (native_reader_next(r, data, size, &off, &blk) == 1) {
		/* rows * columns <= size: every value takes at least one byte. */
		for (uint64_t row = 0; row < blk.rows; row++)
			for (uint32_t c = 0; c < blk.ncols; c++)
				(void)native_rd_format_text(&blk.cols[c], row, text, sizeof(text));
	}
	native_reader_destroy(r);
	return 0;
}
