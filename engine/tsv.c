/*
 * tsv: TabSeparated escaping (contract in include/tsv.h).
 */
#include "tsv.h"

size_t tsv_escape(char *dst, size_t cap, const void *src, size_t len, unsigned flags)
{
	const unsigned char *s = src;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char e = tsv_escape_letter(s[i], flags);
		if (!e) {
			if (o < cap)
				dst[o] = (char)s[i];
			o++;
			continue;
		}
		if (o + 1 < cap) {
			dst[o] = '\\';
			dst[o + 1] = e;
		}
		o += 2;
	}
	if (o < cap)
		dst[o] = '\0';
	return o;
}
