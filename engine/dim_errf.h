/*
 * dim_errf: the dimension loaders' error message (dim_load.c for files, dim_pg.c for
 * PostgreSQL) formatted into the load's error buffer, cut to fit. The message names the source
 * first, so a cut one still says where; a plain snprintf at each call would be refused by the
 * truncation warning for doing just that. Not for other modules.
 */
#ifndef ENRICHD_DIM_ERRF_H
#define ENRICHD_DIM_ERRF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats fmt into buf (cap bytes, cut, NUL-terminated when cap > 0). */
__attribute__((format(printf, 3, 4))) static inline void dim_errf(char *buf, size_t cap,
								  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

#endif
