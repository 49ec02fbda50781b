/*
 * bench: what the benchmark programs under perf/ share -- clocks, the median of repeated runs,
 * removing a scratch directory and the default schema's dimension attributes -- so that each
 * program holds only what it measures. Header only: every C file under perf/ is a program of its
 * own. Random draws come from the generator library (gen.h: gen_next, gen_below), the process's
 * memory counters from memplan_proc_kb (memplan.h).
 */
#ifndef ENRICHD_PERF_BENCH_H
#define ENRICHD_PERF_BENCH_H

#include <assert.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "dim.h"

/* Monotonic time in seconds. */
static inline double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User plus system CPU time of the whole process (all threads), in seconds; 0 if unknown. */
static inline double bench_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#define BENCH_MEDIAN_MAX 100 /* runs bench_median takes */

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of v[0..n), 1 <= n <= BENCH_MEDIAN_MAX (v is left as it is). */
static inline double bench_median(const double *v, unsigned n)
{
	assert(n >= 1 && n <= BENCH_MEDIAN_MAX);
	double s[BENCH_MEDIAN_MAX];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static inline int bench_rm_entry(const char *path, const struct stat *st, int flag,
				 struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Removes path and everything below it, as far as it can. */
static inline void bench_rm_tree(const char *path)
{
	nftw(path, bench_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The default schema's users and devices attributes, as Nullable columns. */
static const struct dim_attr_spec bench_users_attrs[] = {
	{"country", DIM_TYPE_LC_STRING, true},
	{"plan", DIM_TYPE_LC_STRING, true},
	{"signup_date", DIM_TYPE_DATE, true},
};
static const struct dim_attr_spec bench_devices_attrs[] = {
	{"device_type", DIM_TYPE_LC_STRING, true},
	{"os", DIM_TYPE_LC_STRING, true},
	{"browser", DIM_TYPE_LC_STRING, true},
};

#endif
