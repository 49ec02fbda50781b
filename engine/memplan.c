#include "memplan.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deadletter.h"
#include "dimset.h"
#include "epoch.h"
#include "event_value.h"
#include "manifest.h"
#include "native.h"
#include "source.h"
#include "updater.h"
#include "worker.h"

/* native.c carves each array of a block at this alignment. */
#define MEMPLAN_ALIGN 64u
/* A column's header (name and type strings) and the alignment of its few arrays. */
#define MEMPLAN_COLUMN_FIXED (1024u + 8 * MEMPLAN_ALIGN)
/* An external dictionary's slot (generation, key) and used-code entry, per key. */
#define MEMPLAN_DICT_KEY_BYTES 12u
/* A local dictionary's key: offset, length, table position and two hash table slots. */
#define MEMPLAN_LOCAL_KEY_BYTES 28u
/* Mapped --input: what a worker has taken but not yet given back (64 MiB at a time), twice. */
#define MEMPLAN_INPUT_WINDOW_BYTES (UINT64_C(128) << 20)
/* Per open segment: the writer's O_DIRECT tail page, its state and XXH3 state, three times
 * (open, sealing, the cut before). */
#define MEMPLAN_SEGMENT_BYTES (3 * (UINT64_C(4096) + 1024))
/* The worker's own state (chunk arrays, per-partition offsets), its io_uring rings and requests. */
#define MEMPLAN_WORKER_STATE_BYTES (UINT64_C(2) << 20)
/* librdkafka's defaults for the two properties that bound its buffers. */
#define MEMPLAN_KAFKA_QUEUED_KBYTES 65536u
#define MEMPLAN_KAFKA_FETCH_BYTES 52428800u

/* Bytes of one column of a block of `rows` rows (native.c block_layout, col_init). */
static uint64_t memplan_column(const struct chtype *t, uint64_t rows, uint64_t var_bytes,
			       uint64_t dict_keys)
{
	uint64_t n = MEMPLAN_COLUMN_FIXED;
	if (t->nullable && !t->low_cardinality)
		n += rows; /* null map */
	if (t->low_cardinality)
		n += rows * sizeof(uint32_t) + dict_keys * MEMPLAN_DICT_KEY_BYTES;
	else if (t->arrays)
		n += rows * sizeof(uint64_t) + var_bytes; /* offsets, then the elements' bytes */
	else if (t->kind == CHTYPE_STRING)
		n += var_bytes;
	else
		n += rows * chtype_width(t);
	return n;
}

/* One block of the output schema, as the worker sets it up (worker_state_init). */
static int memplan_block(const struct config *cfg, uint64_t *out)
{
	struct schema {
		struct native_column_spec specs[DIMSET_COLUMNS_MAX];
		char names[DIMSET_COLUMNS_MAX][NATIVE_NAME_MAX];
		char types[DIMSET_COLUMNS_MAX][NATIVE_TYPE_NAME_MAX];
	} *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	uint32_t n = dimset_schema(cfg, s->specs, s->names, s->types);
	uint64_t rows = cfg->block_rows;
	uint64_t var = rows * 128 < WORKER_BLOCK_VAR_BYTES_MIN ? WORKER_BLOCK_VAR_BYTES_MIN
							       : rows * 128;
	uint64_t bytes = 4096; /* the block and its column descriptors */
	int rc = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct chtype t;
		if (native_encoder_type_parse(s->types[i], strlen(s->types[i]), &t, NULL, 0) < 0) {
			rc = -EINVAL;
			break;
		}
		/* Attributes keep room for four times the dictionary; _topic holds one topic; a
		 * declared LowCardinality field's own dictionary may hold a key per row. */
		uint64_t keys = s->specs[i].dict_mode == NATIVE_DICT_EXTERNAL
					? (s->specs[i].dict_keys_max == 2
						   ? 4
						   : 4 * (uint64_t)MEMPLAN_LC_VALUES + 4096 + 2)
					: 4;
		bytes += memplan_column(&t, rows, var, keys);
		if (t.low_cardinality && s->specs[i].dict_mode == NATIVE_DICT_LOCAL)
			bytes += var + rows * MEMPLAN_LOCAL_KEY_BYTES;
	}
	free(s);
	*out = bytes;
	return rc;
}

/* A librdkafka property's number as the configuration sets it, else def. */
static uint64_t memplan_kafka_prop(const struct config *cfg, const char *key, uint64_t def)
{
	uint64_t v = def;
	for (size_t i = 0; i < cfg->kafka_prop_count; i++) {
		if (strcmp(cfg->kafka_props[i].key, key) != 0)
			continue;
		char *end;
		unsigned long long x = strtoull(cfg->kafka_props[i].value, &end, 10);
		if (end != cfg->kafka_props[i].value && *end == '\0')
			v = x; /* the last one set wins, as in librdkafka */
	}
	return v;
}

/* The brokers listed in [kafka] brokers: each may hold one fetch response in flight. */
static uint64_t memplan_brokers(const struct config *cfg)
{
	uint64_t n = 1;
	for (const char *c = cfg->brokers; *c; c++)
		n += *c == ',';
	return n;
}

int memplan_compute(const struct config *cfg, struct memplan *out)
{
	memset(out, 0, sizeof(*out));
	out->workers = (uint32_t)cfg->cpu_count;
	int rc = memplan_block(cfg, &out->block);
	if (rc < 0)
		return rc;
	out->blocks = (uint64_t)cfg->open_segments * out->block;
	out->pool = cfg->inflight_bytes > 2 * out->block ? cfg->inflight_bytes : 2 * out->block;
	out->pool = (out->pool + 4095) / 4096 * 4096;
	out->decode = 2 * (uint64_t)SOURCE_MSG_BYTES_MAX + (uint64_t)cfg->batch_events * 128;
	/* The chunk's value slots (the declared fields and the catch-all), and with _headers the
	 * room for a run's headers (worker.c). */
	out->decode += (uint64_t)WORKER_CHUNK_EVENTS * dimset_event_columns(cfg) *
		       sizeof(struct event_value);
	for (uint32_t i = 0; i < cfg->event.meta_count; i++)
		if (cfg->event.meta[i] == SCHEMA_META_HEADERS_NAME)
			out->decode += 2 * (uint64_t)WORKER_HEADERS_MAX * sizeof(struct native_str);
	out->bookkeeping = DEADLETTER_BUF_BYTES +
			   (uint64_t)MANIFEST_LINE_MAX *
				   (EPOCH_SEGMENTS_MAX + EPOCH_PARTITIONS_MAX + 2) +
			   MANIFEST_TOPIC_MAX + (uint64_t)EPOCH_SEGMENTS_MAX * 1024 +
			   (uint64_t)EPOCH_PARTITIONS_MAX * 64 +
			   (uint64_t)cfg->open_segments * MEMPLAN_SEGMENT_BYTES +
			   MEMPLAN_WORKER_STATE_BYTES;
	out->kafka = out->workers *
			     memplan_kafka_prop(cfg, "queued.max.messages.kbytes",
						MEMPLAN_KAFKA_QUEUED_KBYTES) * 1024 +
		     memplan_brokers(cfg) *
			     memplan_kafka_prop(cfg, "fetch.max.bytes", MEMPLAN_KAFKA_FETCH_BYTES);
	out->input = out->workers * MEMPLAN_INPUT_WINDOW_BYTES;
	out->base = MEMPLAN_BASE_BYTES;
	for (size_t i = 0; i < cfg->dim_count; i++)
		if (cfg->dims[i].update_field[0] || cfg->dims[i].changelog_topic[0])
			out->updater = updater_memory_bytes();
	out->total = out->workers * (out->blocks + out->pool + out->decode + out->bookkeeping) +
		     (out->kafka > out->input ? out->kafka : out->input) + out->base + out->updater;
	return 0;
}

uint64_t memplan_proc_kb(const char *file, const char *name)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	char line[256];
	uint64_t kb = 0;
	size_t len = strlen(name);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			kb = strtoull(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

uint64_t memplan_memory_total(void)
{
	uint64_t total = memplan_proc_kb("/proc/meminfo", "MemTotal") * 1024;
	FILE *f = fopen("/sys/fs/cgroup/memory.max", "r"); /* cgroup v2; "max": no limit */
	if (f) {
		char text[64];
		if (fgets(text, sizeof(text), f) && text[0] >= '0' && text[0] <= '9') {
			uint64_t cg = strtoull(text, NULL, 10);
			if (cg > 0 && (total == 0 || cg < total))
				total = cg;
		}
		fclose(f);
	}
	return total;
}

/* NUMA nodes of the machine (node<N> directories in sysfs), at least 1. */
static uint64_t memplan_nodes(void)
{
	DIR *d = opendir("/sys/devices/system/node");
	if (!d)
		return 1;
	uint64_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, "node", 4) == 0 && e->d_name[4] >= '0' && e->d_name[4] <= '9';
	closedir(d);
	return n ? n : 1;
}

uint64_t memplan_dims_expected(const struct config *cfg)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < cfg->dim_count; i++) {
		struct stat st;
		if (stat(cfg->dims[i].source, &st) == 0 && S_ISREG(st.st_mode))
			bytes += (uint64_t)st.st_size;
	}
	if (cfg->numa == CONFIG_NUMA_REPLICATE) {
		uint64_t replicas = memplan_nodes();
		bytes *= replicas < cfg->cpu_count ? replicas : cfg->cpu_count;
	}
	return bytes;
}

/* "12.3 MiB": at most 16 bytes. */
static const char *memplan_size(uint64_t bytes, char buf[16])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	unsigned u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 16, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

void memplan_print(const struct memplan *m, const struct config *cfg, FILE *out)
{
	char a[16], b[16], c[16], d[16], e[16];
	fprintf(out, "memory:     up to %" PRIu64 " bytes (%s) with %u worker(s), [workers] "
		"memory_limit %s", m->total, memplan_size(m->total, a), m->workers,
		memplan_size(cfg->memory_limit, b));
	if (cfg->memory_total)
		fprintf(out, " (auto: %u/4 of %s, less %s for the dimension sources)",
			MEMPLAN_AUTO_QUARTERS, memplan_size(cfg->memory_total, c),
			memplan_size(cfg->memory_limit_dims, d));
	fprintf(out, "\n  per worker: blocks %u open_segments x %s (block_rows %u) = %s, pool %s "
		"(inflight_bytes), decode %s, bookkeeping %s\n", cfg->open_segments,
		memplan_size(m->block, a), cfg->block_rows, memplan_size(m->blocks, b),
		memplan_size(m->pool, c), memplan_size(m->decode, d),
		memplan_size(m->bookkeeping, e));
	fprintf(out, "  process:    Kafka queues %s or --input %s, base %s, updater %s; dimensions "
		"not counted, LowCardinality dictionaries at %u values\n", memplan_size(m->kafka, a),
		memplan_size(m->input, b), memplan_size(m->base, c), memplan_size(m->updater, d),
		MEMPLAN_LC_VALUES);
}
