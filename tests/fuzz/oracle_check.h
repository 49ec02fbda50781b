/*
 * oracle_check: the assertion of the differential fuzz targets. CHECK(cond, fmt, ...) prints
 * "oracle mismatch at FILE:LINE: cond", the message, and what ORACLE_CHECK_CONTEXT() adds (a
 * target defines it, e.g. to print the generated schema, before its first CHECK runs), then
 * aborts so that the fuzzer keeps the input. Header-only, for the fuzz programs.
 */
#ifndef ENRICHD_FUZZ_ORACLE_CHECK_H
#define ENRICHD_FUZZ_ORACLE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                                          \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "oracle mismatch at %s:%d: %s\n  ", __FILE__, __LINE__,   \
				#cond);                                                           \
			fprintf(stderr, __VA_ARGS__);                                             \
			fprintf(stderr, "\n");                                                    \
			ORACLE_CHECK_CONTEXT();                                                   \
			abort();                                                                  \
		}                                                                                 \
	} while (0)

#ifndef ORACLE_CHECK_CONTEXT
#define ORACLE_CHECK_CONTEXT() ((void)0)
#endif

#endif
