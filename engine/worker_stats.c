#include "worker_stats.h"

const uint32_t worker_latency_bounds_ms[WORKER_LATENCY_BUCKETS - 1] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};

uint32_t worker_stats_latency_bucket(uint64_t ms)
{
	uint32_t b = 0;
	while (b < WORKER_LATENCY_BUCKETS - 1 && ms > worker_latency_bounds_ms[b])
		b++;
	return b;
}
