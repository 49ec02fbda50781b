#include "numa_place.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define PLACE_CPULIST_FILE_MAX 4096 /* bytes read from one cpulist file */
#define PLACE_PATH_MAX 4096

static void set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (err == NULL || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Parses decimal digits in [p, end) up to limit (exclusive). Returns the new p, or NULL. */
static const char *parse_uint(const char *p, const char *end, long limit, long *out)
{
	long value = 0;
	const char *start = p;
	while (p < end && isdigit((unsigned char)*p)) {
		value = value * 10 + (*p - '0');
		if (value >= limit)
			return NULL;
		p++;
	}
	if (p == start)
		return NULL;
	*out = value;
	return p;
}

/*
 * The cpulist grammar on [text, end): items separated by ',', each "A" or "A-B" with A <= B.
 * Calls emit(ctx, cpu) for each CPU in order; a non-zero return stops with that code.
 */
static int cpulist_walk(const char *text, const char *end, int (*emit)(void *ctx, int32_t cpu),
			void *ctx, char *err, size_t err_len)
{
	const char *p = skip_blanks(text, end);
	if (p == end)
		return 0;
	/* Each pass consumes one item and its separator, so the loop ends within strlen passes. */
	for (;;) {
		const char *item = p;
		long lo = 0, hi = 0;
		p = parse_uint(p, end, PLACE_CPUS_MAX, &lo);
		hi = lo;
		if (p != NULL && p < end && *p == '-') {
			p = parse_uint(p + 1, end, PLACE_CPUS_MAX, &hi);
			if (p != NULL && hi < lo)
				p = NULL;
		}
		if (p != NULL) {
			p = skip_blanks(p, end);
			if (p < end && *p != ',')
				p = NULL;
		}
		if (p == NULL) {
			set_err(err, err_len,
				"cpulist '%.*s': bad item at '%.*s' (expected CPU or CPU-CPU, "
				"CPU < %d)",
				(int)(end - text), text, (int)(end - item), item, PLACE_CPUS_MAX);
			return -EINVAL;
		}
		for (long cpu = lo; cpu <= hi; cpu++) {
			int rc = emit(ctx, (int32_t)cpu);
			if (rc != 0)
				return rc;
		}
		if (p == end)
			return 0;
		p = skip_blanks(p + 1, end);
	}
}

struct cpu_array {
	int32_t *cpus;
	size_t max;
	size_t count;
};

static int cpu_array_emit(void *ctx, int32_t cpu)
{
	struct cpu_array *a = ctx;
	if (a->count == a->max)
		return -E2BIG;
	a->cpus[a->count++] = cpu;
	return 0;
}

int place_cpulist_parse(const char *text, int32_t *cpus, size_t cpus_max, size_t *count,
			char *err, size_t err_len)
{
	struct cpu_array a = {.cpus = cpus, .max = cpus_max, .count = 0};
	int rc = cpulist_walk(text, text + strlen(text), cpu_array_emit, &a, err, err_len);
	if (rc == -E2BIG)
		set_err(err, err_len, "cpulist '%s': more than %zu CPUs", text, cpus_max);
	if (rc != 0)
		return rc;
	*count = a.count;
	return 0;
}

static void topology_reset(struct place_topology *topo)
{
	for (size_t i = 0; i < PLACE_CPUS_MAX; i++)
		topo->cpu_node[i] = -1;
	topo->cpu_count = 0;
	topo->node_count = 0;
}

struct node_fill {
	struct place_topology *topo;
	int16_t node;
	uint32_t cpus;
	int32_t clash_cpu;
	int16_t clash_node;
};

static int node_fill_emit(void *ctx, int32_t cpu)
{
	struct node_fill *f = ctx;
	int16_t *slot = &f->topo->cpu_node[cpu];
	if (*slot == f->node)
		return 0; /* listed twice in the same node: harmless */
	if (*slot != -1) {
		f->clash_cpu = cpu;
		f->clash_node = *slot;
		return -EEXIST;
	}
	*slot = f->node;
	f->topo->cpu_count++;
	f->cpus++;
	return 0;
}

/*
 * Gives the CPUs of [list, end) to node. Returns 0 or -EINVAL with err naming what (the source
 * of the list: a file path or the override item).
 */
static int topology_add_node(struct place_topology *topo, int16_t node, const char *list,
			     const char *end, const char *what, char *err, size_t err_len)
{
	struct node_fill f = {.topo = topo, .node = node};
	char inner[PLACE_ERR_MAX];
	inner[0] = '\0';
	int rc = cpulist_walk(list, end, node_fill_emit, &f, inner, sizeof(inner));
	if (rc == -EEXIST) {
		set_err(err, err_len, "%s: CPU %d is in node %d and node %d", what,
			(int)f.clash_cpu, (int)f.clash_node, (int)node);
		return -EINVAL;
	}
	if (rc != 0) {
		set_err(err, err_len, "%s: %s", what, inner);
		return -EINVAL;
	}
	if (f.cpus > 0)
		topo->node_count++;
	return 0;
}

/* Reads up to buf_len - 1 bytes of path. Returns the length or -errno. */
static ssize_t read_small_file(const char *path, char *buf, size_t buf_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len < buf_len - 1) {
		ssize_t n = read(fd, buf + len, buf_len - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int rc = -errno;
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Returns the node id of a "node<N>" entry name, or -1 for any other name. */
static long node_entry_id(const char *name)
{
	if (strncmp(name, "node", 4) != 0 || name[4] == '\0')
		return -1;
	long id = 0;
	for (const char *p = name + 4; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		if (id > PLACE_NODES_MAX * 10L)
			return PLACE_NODES_MAX * 10L; /* too large either way; stop growing */
		id = id * 10 + (*p - '0');
	}
	return id;
}

int place_topology_from_dir(struct place_topology *topo, const char *dir, char *err,
			    size_t err_len)
{
	topology_reset(topo);
	DIR *d = opendir(dir);
	if (d == NULL) {
		int rc = -errno;
		set_err(err, err_len, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	int rc = 0;
	uint32_t nodes_seen = 0;
	struct dirent *de;
	/* A directory listing is bounded by the directory itself; each entry costs O(1) reads. */
	while ((de = readdir(d)) != NULL) {
		long id = node_entry_id(de->d_name);
		if (id < 0)
			continue;
		char path[PLACE_PATH_MAX];
		int n = snprintf(path, sizeof(path), "%s/%s/cpulist", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			set_err(err, err_len, "%s/%s: path too long", dir, de->d_name);
			rc = -ENAMETOOLONG;
			break;
		}
		if (id >= PLACE_NODES_MAX) {
			set_err(err, err_len, "%s: node id %ld exceeds %d", path, id,
				PLACE_NODES_MAX - 1);
			rc = -EINVAL;
			break;
		}
		char buf[PLACE_CPULIST_FILE_MAX];
		ssize_t len = read_small_file(path, buf, sizeof(buf));
		if (len < 0) {
			set_err(err, err_len, "%s: %s", path, strerror((int)-len));
			rc = (int)len;
			break;
		}
		rc = topology_add_node(topo, (int16_t)id, buf, buf + len, path, err, err_len);
		if (rc != 0)
			break;
		nodes_seen++;
	}
	closedir(d);
	if (rc == 0 && nodes_seen == 0) {
		set_err(err, err_len, "%s: no node<N> entries", dir);
		rc = -ENOENT;
	}
	return rc;
}

int place_topology_parse(struct place_topology *topo, const char *spec, char *err,
			 size_t err_len)
{
	topology_reset(topo);
	bool given[PLACE_NODES_MAX] = {false};
	const char *p = spec;
	const char *spec_end = spec + strlen(spec);
	uint32_t items = 0;
	while (p < spec_end) {
		const char *item_end = memchr(p, ';', (size_t)(spec_end - p));
		if (item_end == NULL)
			item_end = spec_end;
		const char *item = skip_blanks(p, item_end);
		int item_len = (int)(item_end - item);
		p = item_end < spec_end ? item_end + 1 : spec_end;
		if (item == item_end)
			continue; /* empty item, e.g. after a trailing ';' */

		const char *colon = memchr(item, ':', (size_t)(item_end - item));
		if (colon == NULL) {
			set_err(err, err_len, "topology item '%.*s': expected NODE:CPULIST", item_len,
				item);
			return -EINVAL;
		}
		long node;
		const char *after = parse_uint(item, colon, PLACE_NODES_MAX, &node);
		if (after == NULL || skip_blanks(after, colon) != colon) {
			set_err(err, err_len, "topology item '%.*s': node '%.*s' is not a number "
				"below %d", item_len, item, (int)(colon - item), item,
				PLACE_NODES_MAX);
			return -EINVAL;
		}
		if (given[node]) {
			set_err(err, err_len, "topology item '%.*s': node %ld given twice", item_len,
				item, node);
			return -EINVAL;
		}
		given[node] = true;
		if (skip_blanks(colon + 1, item_end) == item_end) {
			set_err(err, err_len, "topology item '%.*s': empty cpulist for node %ld",
				item_len, item, node);
			return -EINVAL;
		}
		char what[PLACE_ERR_MAX / 2];
		snprintf(what, sizeof(what), "topology item '%.*s'", item_len, item);
		int rc = topology_add_node(topo, (int16_t)node, colon + 1, item_end, what, err,
					   err_len);
		if (rc != 0)
			return rc;
		items++;
	}
	if (items == 0) {
		set_err(err, err_len, "topology '%s': no NODE:CPULIST items", spec);
		return -EINVAL;
	}
	return 0;
}

int place_topology_detect(struct place_topology *topo, char *err, size_t err_len)
{
	if (numa_available() < 0) {
		topology_reset(topo);
		long cpus = sysconf(_SC_NPROCESSORS_CONF);
		if (cpus < 1)
			cpus = 1;
		if (cpus > PLACE_CPUS_MAX)
			cpus = PLACE_CPUS_MAX;
		for (long cpu = 0; cpu < cpus; cpu++)
			topo->cpu_node[cpu] = 0;
		topo->cpu_count = (uint32_t)cpus;
		topo->node_count = 1;
		log_info("place", "no NUMA support: %ld CPUs on one node", cpus);
		return 0;
	}
	int rc = place_topology_from_dir(topo, PLACE_SYSFS_NODE_DIR, err, err_len);
	if (rc == 0)
		log_info("place", "%s: %u node(s) with CPUs, %u CPUs", PLACE_SYSFS_NODE_DIR,
			 topo->node_count, topo->cpu_count);
	else
		log_error("place", "%s", err != NULL ? err : PLACE_SYSFS_NODE_DIR);
	return rc;
}

int place_cpu_node(const struct place_topology *topo, int32_t cpu)
{
	if (cpu < 0 || cpu >= PLACE_CPUS_MAX || topo->cpu_node[cpu] < 0)
		return -ENOENT;
	return topo->cpu_node[cpu];
}

/* Fills the per-node tables from plan->worker_node[] (already set for every worker). */
static void plan_index_nodes(struct place_plan *plan)
{
	uint16_t per_node[PLACE_NODES_MAX] = {0};
	for (uint32_t w = 0; w < plan->worker_count; w++)
		per_node[plan->worker_node[w]]++;
	plan->node_count = 0;
	uint16_t first = 0;
	for (int node = 0; node < PLACE_NODES_MAX; node++) {
		if (per_node[node] == 0)
			continue;
		uint32_t i = plan->node_count++;
		plan->node_id[i] = (int16_t)node;
		plan->node_worker_count[i] = per_node[node];
		plan->node_worker_first[i] = first;
		uint16_t k = first;
		for (uint32_t w = 0; w < plan->worker_count; w++) {
			if (plan->worker_node[w] == node)
				plan->node_workers[k++] = (uint16_t)w;
		}
		first = k;
	}
}

int place_plan_build(struct place_plan *plan, const struct place_topology *topo,
		     const int32_t *worker_cpus, uint32_t worker_count, char *err, size_t err_len)
{
	if (worker_count == 0 || worker_count > PLACE_WORKERS_MAX) {
		set_err(err, err_len, "worker count %u: expected 1..%d", worker_count,
			PLACE_WORKERS_MAX);
		return -EINVAL;
	}
	memset(plan, 0, sizeof(*plan));
	plan->worker_count = worker_count;
	for (uint32_t w = 0; w < worker_count; w++) {
		int node = place_cpu_node(topo, worker_cpus[w]);
		if (node < 0) {
			set_err(err, err_len, "worker %u: CPU %d is in no NUMA node of the topology",
				w, (int)worker_cpus[w]);
			return -ENOENT;
		}
		plan->worker_node[w] = (int16_t)node;
	}
	plan_index_nodes(plan);
	return 0;
}

int place_plan_single_node(struct place_plan *plan, uint32_t worker_count)
{
	if (worker_count == 0 || worker_count > PLACE_WORKERS_MAX)
		return -EINVAL;
	memset(plan, 0, sizeof(*plan));
	plan->worker_count = worker_count;
	plan_index_nodes(plan);
	return 0;
}

uint32_t place_partition_worker(const struct place_plan *plan, int32_t partition)
{
	assert(partition >= 0 && plan->node_count > 0);
	uint32_t p = (uint32_t)partition;
	uint32_t i = p % plan->node_count;
	uint32_t k = (p / plan->node_count) % plan->node_worker_count[i];
	return plan->node_workers[plan->node_worker_first[i] + k];
}

int place_worker_node(const struct place_plan *plan, uint32_t worker)
{
	assert(worker < plan->worker_count);
	return plan->worker_node[worker];
}
