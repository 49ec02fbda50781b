/*
 * now: the two clocks the event path reads, in the units it keeps.
 *
 * now_wall_ms is CLOCK_REALTIME (what rows and manifest records carry: _ingest_time, sealed_ms),
 * now_mono_ns is CLOCK_MONOTONIC (durations: stage times, stalls). Each is one vDSO call, no
 * system call, thread-safe. now_process_cpu_ns (CLOCK_PROCESS_CPUTIME_ID, a system call) is read
 * only where the event loop starts and ends.
 */
#ifndef ENRICHD_NOW_H
#define ENRICHD_NOW_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
static inline int64_t now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nanoseconds of CLOCK_MONOTONIC. */
static inline uint64_t now_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds of CPU time of the whole process (every thread, the kernel's io_uring workers
 * included): user and system. */
static inline uint64_t now_process_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
