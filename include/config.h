/*
 * config: enrichd's configuration, one INI file.
 *
 * Every key is described once in a declarative table (section, key, type, default, help) that
 * drives parsing, validation, defaults and the generated reference (docs/CONFIGURATION.md, from
 * `enrichd --config-reference`). Sections:
 *
 *   [kafka]              brokers, topic, group_id, property.<librdkafka key> = value ...
 *   [event]              format, time_field, catch_all, metadata,
 *                        field.<column> = <ClickHouse type> [from <path>] [options] ... (one per
 *                        declared field, in output order: schema.h; none: the default schema)
 *   [workers]            cpus, numa, numa_topology, batch_events, poll_timeout_ms, memory_limit
 *   [dimension <name>]   source (a file) or postgresql (a connection string) with table or
 *                        query, format, key, key_type, join_field, join, key_normalize,
 *                        attr.<column> = <ClickHouse type> ... (one per attribute, in order),
 *                        password_file, connect_timeout, statement_timeout, update_field,
 *                        update_interval, update_overlap, delete_field, changelog_topic,
 *                        changelog_brokers
 *   [output]             dir, instance, segment_bytes, segment_age_ms, segment_idle_ms, ...
 *   [dead_letter]        dir
 *   [metrics]            listen
 *   [log]                level
 *
 * A struct config is plain data: fixed-size arrays, no heap, copyable. Bounds are the *_MAX
 * constants below; exceeding one is a configuration error that names the key.
 *
 * The file: at most CONFIG_FILE_MAX bytes, lines of at most CONFIG_LINE_MAX bytes (a longer line
 * is an error that says so), `;` or `#` starts a comment line, `key = value` lines, no
 * continuation lines (a line that starts with white space stands on its own). A section or a key
 * given twice is an error naming both lines, and so is an empty or unusable path. The memory the
 * settings may take (config_memory_plan) is checked against [workers] memory_limit.
 */
#ifndef ENRICHD_CONFIG_H
#define ENRICHD_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "schema.h"

#define CONFIG_DIMS_MAX 8
#define CONFIG_ATTRS_MAX 16
#define CONFIG_KAFKA_PROPS_MAX 64
#define CONFIG_CPUS_MAX 256
#define CONFIG_NAME_MAX 64
#define CONFIG_TYPE_MAX 64
#define CONFIG_VALUE_MAX 512
#define CONFIG_BROKERS_MAX 4096 /* [kafka] brokers: dozens of fully qualified host:port */
#define CONFIG_ERR_MAX 1024
#define CONFIG_REGISTRY_URLS_MAX 8192 /* [registry] urls: up to 8 base URLs */
/* Longest line of the file, newline excluded: a PATH_MAX path with its key fits. */
#define CONFIG_LINE_MAX 16384
#define CONFIG_FILE_MAX (1u << 20)
/* Longest [dimension] query (SQL text). */
#define CONFIG_QUERY_MAX 4096
/* Shortest [dimensions] reload_interval other than 0: each timed reload logs a line. */
#define CONFIG_RELOAD_INTERVAL_MS_MIN 10000

enum config_join {
	CONFIG_JOIN_LEFT = 0, /* miss: NULL attributes, counted */
	CONFIG_JOIN_INNER,    /* miss: the event goes to the dead-letter file */
	CONFIG_JOIN_DEFAULT,  /* miss: the attribute types' default values, counted */
};

enum config_key_normalize {
	CONFIG_KEY_EXACT = 0,       /* the key as the event carries it */
	CONFIG_KEY_STRIP_QUERY,     /* URL: drop ?query and #fragment, lowercase scheme and host */
};

/* [dimension] allow_empty: whether a source that holds no row may be loaded. */
enum config_allow_empty {
	CONFIG_EMPTY_REFUSED = 0, /* false: the load fails (a reload keeps the set in use) */
	CONFIG_EMPTY_ALLOWED,     /* true: an empty table, every lookup a miss (logged) */
};

enum config_direct_io {
	CONFIG_DIRECT_IO_AUTO = 0, /* O_DIRECT where the filesystem takes it */
	CONFIG_DIRECT_IO_OFF,      /* through the page cache */
};

enum config_numa {
	CONFIG_NUMA_AUTO = 0, /* node-local worker memory when the machine has several nodes */
	CONFIG_NUMA_OFF,      /* ignore the topology */
	CONFIG_NUMA_LOCAL,    /* worker buffers on the worker's node; one dimension set, interleaved */
	CONFIG_NUMA_REPLICATE,/* as local, plus one dimension replica per node */
};

struct config_attr {
	char name[CONFIG_NAME_MAX];
	char type[CONFIG_TYPE_MAX]; /* ClickHouse type of the source column, e.g. "LowCardinality(String)" */
};

struct config_dim {
	char name[CONFIG_NAME_MAX];
	char source[PATH_MAX];           /* a file; "" when the rows come from PostgreSQL */
	/* PostgreSQL: the connection string (libpq keywords or URI; never logged as it is: it may
	 * hold a password) and a table or a query; "" when the rows come from a file. */
	char postgresql[CONFIG_VALUE_MAX];
	char table[CONFIG_NAME_MAX * 4];
	char query[CONFIG_QUERY_MAX];
	char password_file[PATH_MAX];
	uint32_t connect_timeout_ms;
	uint32_t statement_timeout_ms;
	/* Live changes from PostgreSQL: rows whose update_field moved, every update_interval. */
	char update_field[CONFIG_NAME_MAX]; /* "": none */
	uint32_t update_interval_ms;
	uint32_t update_overlap_ms;
	char delete_field[CONFIG_NAME_MAX]; /* "": none */
	/* Live changes from a compacted Kafka topic (key = the key, value = JSON attributes). */
	char changelog_topic[CONFIG_NAME_MAX * 4]; /* "": none */
	char changelog_brokers[CONFIG_BROKERS_MAX]; /* "": [kafka] brokers */
	char format[16];                 /* auto | tsv | csv | native */
	char key[CONFIG_NAME_MAX];       /* key column in the source */
	char key_type[16];               /* UInt64 | String */
	char join_field[CONFIG_NAME_MAX]; /* the declared event field joined with the key */
	uint32_t join_index;             /* resolved: its index in [event]'s fields */
	enum config_join join;
	enum config_key_normalize key_normalize;
	enum config_allow_empty allow_empty;
	size_t attr_count;
	struct config_attr attrs[CONFIG_ATTRS_MAX];
};

struct config_kv {
	char key[CONFIG_NAME_MAX * 2];
	char value[CONFIG_VALUE_MAX];
};

struct config {
	char path[PATH_MAX];

	/* [kafka] */
	char brokers[CONFIG_BROKERS_MAX];
	char topic[CONFIG_NAME_MAX * 4];
	char group_id[CONFIG_NAME_MAX * 4];
	size_t kafka_prop_count;
	struct config_kv kafka_props[CONFIG_KAFKA_PROPS_MAX];

	/* [event]: the declared fields (or the default schema), format, metadata columns */
	struct schema event;

	/* [workers] */
	char cpus_spec[CONFIG_VALUE_MAX];
	size_t cpu_count;           /* resolved: "auto" is every CPU this process may run on */
	int cpus[CONFIG_CPUS_MAX];
	enum config_numa numa;
	char numa_topology[PATH_MAX];
	uint32_t batch_events;      /* events taken from Kafka per worker batch */
	uint32_t poll_timeout_ms;
	uint64_t memory_limit;      /* resolved: [workers] memory_limit, `auto` worked out */
	uint64_t memory_limit_dims; /* auto: what was set aside for the dimensions (else 0) */
	uint64_t memory_total;      /* auto: the machine's (or cgroup's) memory (else 0) */

	/* [dimension <name>] */
	size_t dim_count;
	struct config_dim dims[CONFIG_DIMS_MAX];
	uint32_t reload_interval_ms; /* [dimensions] reload_interval; 0: only on SIGHUP */
	char snapshot_dir[PATH_MAX];   /* [dimensions] snapshot_dir: changelog dimensions' snapshots */
	uint32_t snapshot_interval_ms; /* 0: no snapshots */

	/* [output] */
	char output_dir[PATH_MAX];
	char instance[CONFIG_NAME_MAX];
	uint64_t segment_bytes;
	uint32_t segment_age_ms;
	uint32_t segment_idle_ms;
	uint32_t block_rows;        /* rows per Native block */
	uint64_t inflight_bytes;    /* bound on bytes written but not yet on disk, per worker */
	uint32_t open_segments;     /* bound on open (dt, hour) segments per worker */
	enum config_direct_io direct_io;
	char io_cpus_spec[CONFIG_VALUE_MAX];
	size_t io_cpu_count;        /* resolved: CPUs of the kernel's write threads; 0: any */
	int io_cpus[CONFIG_CPUS_MAX];

	/* [dead_letter] */
	char dead_letter_dir[PATH_MAX];

	/* [metrics] */
	char metrics_listen[CONFIG_NAME_MAX];

	/* [registry]: the Schema Registry of format = avro-confluent (registry.h) */
	char registry_urls[CONFIG_REGISTRY_URLS_MAX];
	char registry_username[CONFIG_NAME_MAX * 4];
	char registry_password_file[PATH_MAX]; /* its first line is the password */
	char registry_password_env[CONFIG_NAME_MAX]; /* or this environment variable's value */
	char registry_ca_file[PATH_MAX];
	char registry_cert_file[PATH_MAX];
	char registry_key_file[PATH_MAX];
	uint32_t registry_connect_timeout_ms;
	uint32_t registry_timeout_ms;
	uint32_t registry_backoff_min_ms;
	uint32_t registry_backoff_max_ms;
	uint32_t registry_ids_max;

	/* [log] */
	enum log_level log_level;
};

/*
 * Reads and validates the file at path into *cfg (defaults first, then the file). Returns 0, or
 * -EINVAL / -errno with a message in err (at most err_cap bytes) that names the file, line, key and
 * reason. *cfg is fully written either way; on error its contents are unspecified. Looks at the
 * file system: directories usable, dimension sources readable files. One call at a time: it sets
 * libinih's process-wide options (line buffer, continuation lines).
 */
int config_load(const char *path, struct config *cfg, char *err, size_t err_cap);

/* As config_load, from a NUL-terminated string (tests, embedded defaults), without looking at the
 * paths on the file system: they name files of wherever the text is used. */
int config_parse_string(const char *text, struct config *cfg, char *err, size_t err_cap);

/* Prints the plan `enrichd --check` shows: workers and CPUs, dimensions, output schema. */
void config_print(const struct config *cfg, FILE *out);
/* Where the segment writes are copied, for people: "CPUs 2,3" or "any CPU". */
const char *config_io_cpus_text(const struct config *cfg, char *buf, size_t cap);

/* urls (comma-separated) into out without any URL's user info ("user:pass@"), for logs and
 * --check. Truncated to cap. */
void config_urls_redact(const char *urls, char *out, size_t cap);

/* Prints the reference of every key (markdown), generated from the key table. */
void config_reference(FILE *out);

/* Parses a CPU list "0-3,6,8-9" into cpus (at most cap). Returns the count or -EINVAL/-E2BIG. */
int config_cpu_list_parse(const char *spec, int *cpus, size_t cap);

/* Parses "256MiB", "1G", "4096" into bytes. Returns 0 or -EINVAL / -ERANGE. */
int config_bytes_parse(const char *text, uint64_t *out);

/* Parses "1s", "250ms", "2m", "1000" (ms) into milliseconds. Returns 0 or -EINVAL / -ERANGE. */
int config_duration_ms_parse(const char *text, uint64_t *out);

const char *config_join_name(enum config_join join);

#endif
