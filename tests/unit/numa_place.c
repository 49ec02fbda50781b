/*
 * numa_place: topologies from sysfs-style directories and override strings, and the partition
 * placement's evenness, determinism and node correctness.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numa_place.h"

#define TEST_PATH_MAX 512
#define TEST_FILES_MAX 16

static char tmp_root[TEST_PATH_MAX / 2];
static char created[TEST_FILES_MAX * 2][TEST_PATH_MAX]; /* removed in reverse order */
static int created_count;

static void remember(const char *path)
{
	cr_assert_lt(created_count, TEST_FILES_MAX * 2);
	snprintf(created[created_count++], TEST_PATH_MAX, "%s", path);
}

static void setup(void)
{
	const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	snprintf(tmp_root, sizeof(tmp_root), "%s/numa_place.XXXXXX", base);
	cr_assert_not_null(mkdtemp(tmp_root));
	created_count = 0;
}

static void teardown(void)
{
	for (int i = created_count - 1; i >= 0; i--)
		remove(created[i]);
	rmdir(tmp_root);
}

/* Makes <root>/<sub>/ with <root>/<sub>/<name> holding text (name NULL: directory only). */
static void make_entry(const char *root, const char *sub, const char *name, const char *text)
{
	char path[TEST_PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, sub);
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
	remember(path);
	if (name == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "fopen %s", path);
	fputs(text, f);
	fclose(f);
	remember(path);
}

/* A sysfs-style directory: one node<i> per cpulist (NULL entries skipped). */
static void make_sysfs(const char *const *cpulists, int nodes)
{
	for (int n = 0; n < nodes; n++) {
		if (cpulists[n] == NULL)
			continue;
		char sub[32];
		snprintf(sub, sizeof(sub), "node%d", n);
		make_entry(tmp_root, sub, "cpulist", cpulists[n]);
	}
}

/*
 * Checks a plan for partition_count partitions: each partition -> exactly one valid worker,
 * node counts differ by <= 1, worker counts within a node differ by <= 1, worker nodes match
 * the topology, and the mapping is the documented formula.
 */
static void check_plan(const struct place_plan *plan, const struct place_topology *topo,
		       const int32_t *cpus, uint32_t workers, int32_t partition_count)
{
	uint32_t per_worker[PLACE_WORKERS_MAX] = {0};
	uint32_t per_node[PLACE_NODES_MAX] = {0};
	for (int32_t p = 0; p < partition_count; p++) {
		uint32_t w = place_partition_worker(plan, p);
		cr_assert_lt(w, workers, "partition %d -> worker %u", p, w);
		cr_assert_eq(place_partition_worker(plan, p), w, "not deterministic");
		per_worker[w]++;
		per_node[place_worker_node(plan, w)]++;

		uint32_t i = (uint32_t)p % plan->node_count;
		uint32_t k = ((uint32_t)p / plan->node_count) % plan->node_worker_count[i];
		cr_assert_eq(place_worker_node(plan, w), plan->node_id[i],
			     "partition %d: node index %u", p, i);
		cr_assert_eq(w, plan->node_workers[plan->node_worker_first[i] + k],
			     "partition %d does not follow the documented scheme", p);
	}
	uint32_t total = 0;
	for (uint32_t w = 0; w < workers; w++) {
		total += per_worker[w];
		cr_assert_eq(place_worker_node(plan, w), place_cpu_node(topo, cpus[w]),
			     "worker %u on CPU %d: wrong node", w, cpus[w]);
	}
	cr_assert_eq(total, (uint32_t)partition_count, "each partition exactly once");

	uint32_t node_min = UINT32_MAX, node_max = 0;
	for (uint32_t i = 0; i < plan->node_count; i++) {
		uint32_t n = per_node[plan->node_id[i]];
		node_min = n < node_min ? n : node_min;
		node_max = n > node_max ? n : node_max;

		uint32_t wmin = UINT32_MAX, wmax = 0;
		for (uint32_t j = 0; j < plan->node_worker_count[i]; j++) {
			uint32_t w = plan->node_workers[plan->node_worker_first[i] + j];
			cr_assert_eq(place_worker_node(plan, w), plan->node_id[i]);
			wmin = per_worker[w] < wmin ? per_worker[w] : wmin;
			wmax = per_worker[w] > wmax ? per_worker[w] : wmax;
		}
		cr_assert_leq(wmax - wmin, 1, "node %d: workers get %u..%u partitions",
			      plan->node_id[i], wmin, wmax);
	}
	cr_assert_leq(node_max - node_min, 1, "nodes get %u..%u partitions", node_min, node_max);
}

static void check_all_counts(const struct place_plan *plan, const struct place_topology *topo,
			     const int32_t *cpus, uint32_t workers)
{
	check_plan(plan, topo, cpus, workers, 12);
	check_plan(plan, topo, cpus, workers, 24);
	for (int32_t partitions = 1; partitions <= 40; partitions++)
		check_plan(plan, topo, cpus, workers, partitions);
}

TestSuite(numa_place, .init = setup, .fini = teardown);

Test(numa_place, one_node_dir)
{
	const char *lists[] = {"0-3\n"};
	make_sysfs(lists, 1);
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_from_dir(&topo, tmp_root, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(topo.node_count, 1);
	cr_assert_eq(topo.cpu_count, 4);
	cr_assert_eq(place_cpu_node(&topo, 3), 0);
	cr_assert_eq(place_cpu_node(&topo, 4), -ENOENT);

	int32_t cpus[] = {0, 1, 2};
	struct place_plan plan;
	cr_assert_eq(place_plan_build(&plan, &topo, cpus, 3, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plan.node_count, 1);
	check_all_counts(&plan, &topo, cpus, 3);
	/* One node: round-robin over the workers. */
	for (int32_t p = 0; p < 24; p++)
		cr_assert_eq(place_partition_worker(&plan, p), (uint32_t)p % 3);
}

Test(numa_place, two_nodes_dir_uneven_workers)
{
	/* sysfs has other entries too; a memory-only node has an empty cpulist. */
	const char *lists[] = {"0-3,8-11\n", "4-7,12-15\n", "\n"};
	make_sysfs(lists, 3);
	make_entry(tmp_root, "power", NULL, NULL);
	make_entry(tmp_root, "nodeX", "cpulist", "99\n");
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_from_dir(&topo, tmp_root, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(topo.node_count, 2);
	cr_assert_eq(topo.cpu_count, 16);
	cr_assert_eq(place_cpu_node(&topo, 9), 0);
	cr_assert_eq(place_cpu_node(&topo, 12), 1);
	cr_assert_eq(place_cpu_node(&topo, 99), -ENOENT);

	/* Three workers on node 0, one on node 1, interleaved in worker order. */
	int32_t cpus[] = {0, 4, 8, 9};
	struct place_plan plan;
	cr_assert_eq(place_plan_build(&plan, &topo, cpus, 4, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plan.node_count, 2);
	cr_assert_eq(place_worker_node(&plan, 1), 1);
	cr_assert_eq(place_worker_node(&plan, 3), 0);
	check_all_counts(&plan, &topo, cpus, 4);
	/* Even partitions go to node 0 (workers 0, 2, 3 in turn), odd ones to worker 1. */
	const uint32_t want[12] = {0, 1, 2, 1, 3, 1, 0, 1, 2, 1, 3, 1};
	for (int32_t p = 0; p < 12; p++)
		cr_assert_eq(place_partition_worker(&plan, p), want[p], "partition %d", p);
}

Test(numa_place, four_nodes_dir)
{
	const char *lists[] = {"0-1", "2-3", "4-5", "6-7"};
	make_sysfs(lists, 4);
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_from_dir(&topo, tmp_root, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(topo.node_count, 4);

	/* 2, 1, 2, 1 workers per node; 6 workers. */
	int32_t cpus[] = {0, 1, 2, 4, 5, 6};
	struct place_plan plan;
	cr_assert_eq(place_plan_build(&plan, &topo, cpus, 6, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plan.node_count, 4);
	check_all_counts(&plan, &topo, cpus, 6);

	/* Workers on only 3 of the 4 nodes: the empty node gets no partitions. */
	int32_t cpus3[] = {0, 2, 3, 6, 7};
	cr_assert_eq(place_plan_build(&plan, &topo, cpus3, 5, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plan.node_count, 3);
	check_all_counts(&plan, &topo, cpus3, 5);
	for (int32_t p = 0; p < 24; p++)
		cr_assert_neq(place_worker_node(&plan, place_partition_worker(&plan, p)), 2);

	/* More workers than partitions on a node still maps each partition once. */
	int32_t cpus8[] = {0, 1, 2, 3, 4, 5, 6, 7};
	cr_assert_eq(place_plan_build(&plan, &topo, cpus8, 8, err, sizeof(err)), 0, "%s", err);
	check_all_counts(&plan, &topo, cpus8, 8);
}

Test(numa_place, override_matches_dir)
{
	const char *lists[] = {"0-3", "4-7"};
	make_sysfs(lists, 2);
	struct place_topology from_dir, from_spec;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_from_dir(&from_dir, tmp_root, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(place_topology_parse(&from_spec, " 0:0-3 ; 1: 4-7;", err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(memcmp(&from_dir, &from_spec, sizeof(from_dir)), 0);

	int32_t cpus[] = {4, 0, 5};
	struct place_plan a, b;
	cr_assert_eq(place_plan_build(&a, &from_dir, cpus, 3, err, sizeof(err)), 0);
	cr_assert_eq(place_plan_build(&b, &from_spec, cpus, 3, err, sizeof(err)), 0);
	for (int32_t p = 0; p < 24; p++)
		cr_assert_eq(place_partition_worker(&a, p), place_partition_worker(&b, p));
	check_all_counts(&a, &from_dir, cpus, 3);
}

static void expect_parse_error(const char *spec, const char *needle)
{
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_parse(&topo, spec, err, sizeof(err)), -EINVAL,
		     "'%s' accepted", spec);
	cr_assert_not_null(strstr(err, needle), "'%s': message '%s' lacks '%s'", spec, err, needle);
}

Test(numa_place, override_errors_named)
{
	expect_parse_error("", "no NODE:CPULIST");
	expect_parse_error(" ; ", "no NODE:CPULIST");
	expect_parse_error("0-3", "'0-3': expected NODE:CPULIST");
	expect_parse_error("x:0-3", "node 'x' is not a number");
	expect_parse_error("64:0", "node '64' is not a number below 64");
	expect_parse_error("0:0-1;0:2-3", "node 0 given twice");
	expect_parse_error("0:0-3;1:", "empty cpulist for node 1");
	expect_parse_error("0:0-3;1:3-5", "CPU 3 is in node 0 and node 1");
	expect_parse_error("0:3-1", "bad item at '3-1'");
	expect_parse_error("0:0,,1", "bad item at ',1'");
	expect_parse_error("0:0-3;1:4-x", "topology item '1:4-x'");
	expect_parse_error("0:5000", "CPU < 1024");
}

Test(numa_place, dir_errors_named)
{
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	/* No node entries at all. */
	cr_assert_eq(place_topology_from_dir(&topo, tmp_root, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "no node<N> entries"), "%s", err);

	/* A node directory without a cpulist names the file. */
	make_entry(tmp_root, "node0", NULL, NULL);
	cr_assert_eq(place_topology_from_dir(&topo, tmp_root, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "node0/cpulist"), "%s", err);

	char missing[TEST_PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/absent", tmp_root);
	cr_assert_eq(place_topology_from_dir(&topo, missing, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "absent"), "%s", err);
}

Test(numa_place, dir_bad_cpulist_named)
{
	const char *lists[] = {"0-3\n", "2-5\n"};
	make_sysfs(lists, 2);
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_from_dir(&topo, tmp_root, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "cpulist: CPU"), "%s", err);
	cr_assert_not_null(strstr(err, "is in node"), "%s", err);
}

Test(numa_place, plan_errors_named)
{
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_parse(&topo, "0:0-1;1:2-3", err, sizeof(err)), 0, "%s", err);
	int32_t cpus[] = {0, 7};
	struct place_plan plan;
	cr_assert_eq(place_plan_build(&plan, &topo, cpus, 2, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "worker 1: CPU 7"), "%s", err);
	cr_assert_eq(place_plan_build(&plan, &topo, cpus, 0, err, sizeof(err)), -EINVAL);
	cr_assert_eq(place_plan_build(&plan, &topo, cpus, PLACE_WORKERS_MAX + 1, err,
				      sizeof(err)), -EINVAL);
}

Test(numa_place, cpulist_parse)
{
	int32_t cpus[8];
	size_t n = 0;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_cpulist_parse("3, 0-1,7", cpus, 8, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 4);
	cr_assert_eq(cpus[0], 3);
	cr_assert_eq(cpus[1], 0);
	cr_assert_eq(cpus[2], 1);
	cr_assert_eq(cpus[3], 7);
	cr_assert_eq(place_cpulist_parse(" \n", cpus, 8, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(place_cpulist_parse("0-8", cpus, 8, &n, err, sizeof(err)), -E2BIG);
	cr_assert_not_null(strstr(err, "more than 8 CPUs"), "%s", err);
	cr_assert_eq(place_cpulist_parse("1,", cpus, 8, &n, err, sizeof(err)), -EINVAL);
	cr_assert_eq(place_cpulist_parse("1 2", cpus, 8, &n, err, sizeof(err)), -EINVAL);
}

Test(numa_place, single_node_plan)
{
	struct place_plan plan;
	cr_assert_eq(place_plan_single_node(&plan, 5), 0);
	for (int32_t p = 0; p < 24; p++)
		cr_assert_eq(place_partition_worker(&plan, p), (uint32_t)p % 5);
	cr_assert_eq(place_plan_single_node(&plan, 0), -EINVAL);
}

Test(numa_place, detect_machine)
{
	/* Whatever the machine is, every CPU it reports belongs to a node. */
	struct place_topology topo;
	char err[PLACE_ERR_MAX] = "";
	cr_assert_eq(place_topology_detect(&topo, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(topo.node_count, 1);
	cr_assert_geq(topo.cpu_count, 1);
}
