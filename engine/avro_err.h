/*
 * avro_err: the avro module's build errors, "<where>: <why>", into the caller's buffer (the
 * reader, the resolver and the schema parser each record their first error this way). Not for
 * other modules.
 */
#ifndef ENRICHD_AVRO_ERR_H
#define ENRICHD_AVRO_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes "<where>: " and the message of fmt and ap into err (cap bytes, truncated, always
 * NUL-terminated when cap > 0); nothing when cap is 0. */
__attribute__((format(printf, 4, 0))) static inline void av_err_vset(char *err, size_t cap,
								     const char *where,
								     const char *fmt, va_list ap)
{
	if (cap == 0)
		return;
	int n = snprintf(err, cap, "%s: ", where);
	if (n >= 0 && (size_t)n < cap)
		vsnprintf(err + n, cap - (size_t)n, fmt, ap);
}

#endif
