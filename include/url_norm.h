/*
 * url_norm: the `strip-query` key normalisation of URL joins.
 *
 * Drops the query (`?...`) and fragment (`#...`), lowercases the scheme and the host (the part
 * between "://" and the next '/', '?', '#' or the end; userinfo and port included). Everything
 * else, the path included, is kept byte for byte. Used on dimension keys at load and on event
 * keys before the lookup, so both sides agree.
 */
#ifndef ENRICHD_URL_NORM_H
#define ENRICHD_URL_NORM_H

#include <stddef.h>

/*
 * Writes the normalised form of url[0..len) to out (capacity out_cap; the result is never longer
 * than len). Returns the normalised length. out may equal url (in place).
 */
size_t url_norm_strip_query(const char *url, size_t len, char *out, size_t out_cap);

#endif
