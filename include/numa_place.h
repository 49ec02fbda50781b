/*
 * numa_place: NUMA topology and the placement of Kafka partitions on workers.
 *
 * A topology says which NUMA node each CPU belongs to. It comes from a sysfs-style directory
 * (<dir>/node<N>/cpulist, the shape of /sys/devices/system/node), from an override string such
 * as "0:0-3;1:4-7" (node:cpulist pairs separated by ';'), or from the machine
 * (place_topology_detect). Only detection touches libnuma; the other two are pure parsing, so
 * tests can inject any topology.
 *
 * A plan maps each worker (pinned to one CPU) to its node, and each partition to one worker:
 *
 *   Let the nodes that have at least one worker be n_0 < n_1 < ... < n_{N-1} (by node id), and
 *   the workers of node n_i, in ascending worker index, be w_{i,0} .. w_{i,W_i - 1}. Then
 *
 *       partition p  ->  node index i = p mod N,  worker w_{i, k} with k = (p div N) mod W_i
 *
 * Partitions are dealt round-robin over the nodes, and each node deals the partitions it gets
 * round-robin over its own workers. For any partition count P, node partition counts differ by
 * at most 1, and within a node the workers' counts differ by at most 1. (Workers on different
 * nodes may differ by more when the nodes have different worker counts: evenness across nodes
 * comes first, so memory traffic stays balanced between nodes.) The mapping depends only on the
 * plan and p, never on P, so it is stable when partitions are added.
 *
 * Everything here works on caller-owned structs, allocates nothing and keeps no global state;
 * all functions are thread-safe on distinct outputs. Errors are returned as -errno with a
 * message in the caller's buffer naming the offending item (err may be NULL); nothing is logged
 * except by place_topology_detect.
 */
#ifndef ENRICHD_NUMA_PLACE_H
#define ENRICHD_NUMA_PLACE_H

#include <stddef.h>
#include <stdint.h>

#define PLACE_CPUS_MAX 1024   /* CPU ids are 0..PLACE_CPUS_MAX-1 */
#define PLACE_NODES_MAX 64    /* node ids are 0..PLACE_NODES_MAX-1 */
#define PLACE_WORKERS_MAX 256 /* workers per plan */
#define PLACE_ERR_MAX 192     /* a buffer this long holds every error message in full */

/* Default sysfs directory read by place_topology_detect. */
#define PLACE_SYSFS_NODE_DIR "/sys/devices/system/node"

struct place_topology {
	int16_t cpu_node[PLACE_CPUS_MAX]; /* node id of each CPU, -1 when not described */
	uint32_t cpu_count;               /* CPUs that belong to a node */
	uint32_t node_count;              /* nodes that have at least one CPU */
};

struct place_plan {
	uint32_t worker_count;
	uint32_t node_count;                         /* N: nodes with at least one worker */
	int16_t worker_node[PLACE_WORKERS_MAX];      /* node id of each worker */
	int16_t node_id[PLACE_NODES_MAX];            /* id of node index i (ascending) */
	uint16_t node_worker_count[PLACE_NODES_MAX]; /* W_i */
	uint16_t node_worker_first[PLACE_NODES_MAX]; /* where node i's workers start in node_workers */
	uint16_t node_workers[PLACE_WORKERS_MAX];    /* worker indexes grouped by node index */
};

/*
 * Parses a Linux cpulist ("0-3,8,10-11"; spaces around items allowed) into cpus[], in the
 * order written, ranges expanded. An empty or blank list gives *count = 0.
 * Returns 0, -EINVAL (syntax, reversed range, CPU id >= PLACE_CPUS_MAX) or -E2BIG (more than
 * cpus_max CPUs); err names the offending item.
 */
int place_cpulist_parse(const char *text, int32_t *cpus, size_t cpus_max, size_t *count,
			char *err, size_t err_len);

/*
 * Reads a sysfs-style node directory: every entry named node<N> (N < PLACE_NODES_MAX) must hold
 * a cpulist file; other entries are ignored; a node with an empty cpulist (memory only) has no
 * CPUs. Returns 0, -ENOENT (no node entries, or a missing cpulist), -EINVAL (bad cpulist, CPU
 * in two nodes, node id too large), or another -errno from reading; err names the file.
 */
int place_topology_from_dir(struct place_topology *topo, const char *dir, char *err,
			    size_t err_len);

/*
 * Parses an override "NODE:CPULIST;NODE:CPULIST..." (e.g. "0:0-3;1:4-7"; a trailing ';' and
 * spaces around items are allowed). Returns 0 or -EINVAL; err names the bad item: a node id
 * that is not a number or too large, a node given twice, a missing ':', a bad or empty
 * cpulist, or a CPU given to two nodes.
 */
int place_topology_parse(struct place_topology *topo, const char *spec, char *err,
			 size_t err_len);

/*
 * Reads the machine's topology. If libnuma reports no NUMA support (numa_available() < 0),
 * every configured CPU is put on node 0; otherwise PLACE_SYSFS_NODE_DIR is read. Logs which.
 * Returns as place_topology_from_dir.
 */
int place_topology_detect(struct place_topology *topo, char *err, size_t err_len);

/* Node id of cpu, or -ENOENT when the topology does not describe it. */
int place_cpu_node(const struct place_topology *topo, int32_t cpu);

/*
 * Builds the plan for worker_count workers (1..PLACE_WORKERS_MAX), worker i pinned to
 * worker_cpus[i]. Several workers may share a CPU. Returns 0, -EINVAL (worker count out of
 * range) or -ENOENT (a CPU the topology does not describe); err names the worker and CPU.
 */
int place_plan_build(struct place_plan *plan, const struct place_topology *topo,
		     const int32_t *worker_cpus, uint32_t worker_count, char *err, size_t err_len);

/* Builds a one-node plan (node 0) for worker_count workers: partition p -> worker p mod count. */
int place_plan_single_node(struct place_plan *plan, uint32_t worker_count);

/* The worker that owns partition (>= 0), by the scheme above. Pure; O(1). */
uint32_t place_partition_worker(const struct place_plan *plan, int32_t partition);

/* Node id of worker (< plan->worker_count). */
int place_worker_node(const struct place_plan *plan, uint32_t worker);

#endif
