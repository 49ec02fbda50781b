#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "dim_pg.h"
#include "memplan.h"

enum config_kind {
	KIND_STRING,   /* char[] of size `size` */
	KIND_U32,      /* uint32_t, plain number */
	KIND_BYTES,    /* uint64_t, with optional KiB/MiB/GiB suffix */
	KIND_MS,       /* uint32_t milliseconds, with optional ms/s/m suffix */
	KIND_ENUM,     /* int-sized enum, value from `choices` ("a|b|c" -> 0, 1, 2) */
	KIND_LOGLEVEL, /* enum log_level */
};

struct config_key {
	const char *section; /* "dimension" for every [dimension <name>] */
	const char *name;
	enum config_kind kind;
	size_t offset;       /* into struct config, or struct config_dim for "dimension" */
	size_t size;         /* KIND_STRING capacity */
	const char *value;   /* default, as text; NULL: required */
	uint64_t min, max;   /* numeric bounds, inclusive */
	const char *choices; /* KIND_ENUM */
	const char *help;
	unsigned flags;      /* CFG_F_* */
};

enum {
	CFG_F_NONEMPTY = 1u << 0, /* KIND_STRING: an empty value is an error */
	CFG_F_DIR = 1u << 1,      /* KIND_STRING: a directory enrichd creates and writes into */
	CFG_F_FILE = 1u << 2,     /* KIND_STRING: a file enrichd reads */
	CFG_F_ZERO_OFF = 1u << 3, /* numeric: 0 (off) is allowed below min */
	CFG_F_AUTO = 1u << 4,     /* KIND_BYTES: `auto` is stored as 0 */
};

#define CFG_STR_F(sec, key, field, def, flags, help) \
	{sec, key, KIND_STRING, offsetof(struct config, field), \
	 sizeof(((struct config *)0)->field), def, 0, 0, NULL, help, flags}
#define CFG_STR(sec, key, field, def, help) CFG_STR_F(sec, key, field, def, 0, help)
#define CFG_NUM_F(sec, key, kind, field, def, lo, hi, flags, help) \
	{sec, key, kind, offsetof(struct config, field), 0, def, lo, hi, NULL, help, flags}
#define CFG_NUM(sec, key, kind, field, def, lo, hi, help) \
	CFG_NUM_F(sec, key, kind, field, def, lo, hi, 0, help)
#define CFG_ENUM(sec, key, field, def, choices, help) \
	{sec, key, KIND_ENUM, offsetof(struct config, field), 0, def, 0, 0, choices, help, 0}
#define DIM_STR_F(key, field, def, flags, help) \
	{"dimension", key, KIND_STRING, offsetof(struct config_dim, field), \
	 sizeof(((struct config_dim *)0)->field), def, 0, 0, NULL, help, flags}
#define DIM_STR(key, field, def, help) DIM_STR_F(key, field, def, 0, help)
#define DIM_NUM(key, kind, field, def, lo, hi, help) \
	{"dimension", key, kind, offsetof(struct config_dim, field), 0, def, lo, hi, NULL, help, 0}
#define DIM_ENUM(key, field, def, choices, help) \
	{"dimension", key, KIND_ENUM, offsetof(struct config_dim, field), 0, def, 0, 0, choices, \
	 help, 0}

static const struct config_key config_keys[] = {
	CFG_STR_F("kafka", "brokers", brokers, "127.0.0.1:9092", CFG_F_NONEMPTY,
		  "Bootstrap brokers, comma-separated host:port."),
	CFG_STR_F("kafka", "topic", topic, "clickstream", CFG_F_NONEMPTY, "Topic to consume."),
	CFG_STR_F("kafka", "group_id", group_id, "enrichd", CFG_F_NONEMPTY, "Consumer group id."),
	CFG_ENUM("event", "format", event.format, "json", "json|avro-confluent",
		 "The messages' format: `json`, one JSON object per message, or `avro-confluent`, "
		 "Avro in the Confluent wire format with writer schemas from a Schema Registry."),
	CFG_STR("event", "time_field", event.time_field, "",
		"The declared field whose time partitions the segments (a Date, DateTime or "
		"DateTime64 field, not Nullable). Required with `field.*` lines; without them the "
		"default schema's `event_time`."),
	CFG_STR("event", "catch_all", event.catch_all, "",
		"Also keep the event's members no field declares, verbatim, as one JSON object in a "
		"String column of this name (after the declared fields): `{\"k\":v,...}` in the "
		"order they came, for JSONExtract. Empty: off. JSON only."),
	CFG_STR("event", "metadata", event.metadata, SCHEMA_META_DEFAULT,
		"Kafka metadata columns at the end of each row, in this order, named as "
		"ClickHouse's Kafka engine names them: `_topic`, `_partition`, `_offset`, "
		"`_kafka_time`, `_ingest_time`, `_key` (String) and `_headers` (the two columns "
		"`_headers.name` and `_headers.value`, Array(String)). With `--input` `_key` is "
		"empty and the headers are empty arrays."),
	{"event", "field.<column>", KIND_STRING, 0, 0, "", 0, 0, NULL,
	 "One per declared field, in output order: `field.<column> = <type> [from <path>] "
	 "[unit=<unit>] [integers=text] [default=<text>] [aliases=<path>,...]`. "
	 "Types: String, LowCardinality(String), FixedString(N), UInt8-64, Int8-64, Float32/64, "
	 "Bool, Date, Date32, DateTime, DateTime64(P, 'UTC'), UUID, IPv4, IPv6, Array(String), "
	 "Array(Int8-64), and Nullable(T) of the scalar ones for an optional field (absent or "
	 "null: NULL); any other absent field is a `missing` dead letter unless it has a default. "
	 "`from` names the member, or a path into nested objects (`page.referrer`); default: the "
	 "column's name. `unit` (s, ms, us, ns; days for Date) lets a time field take a number "
	 "in that unit (else only RFC 3339 or YYYY-MM-DD text); `integers=text` lets a String "
	 "field take a non-negative integer as "
	 "its text; `default` is the value of an absent field (quoted when it holds spaces; "
	 "`null` for Nullable); `aliases` are other paths of the field. Without any `field.*` "
	 "line: the default schema (event_time DateTime64(3, 'UTC') from timestamp unit=ms, "
	 "user_id UInt64, device_id String integers=text, url String).", 0},
	CFG_STR("workers", "cpus", cpus_spec, "auto",
		"CPUs to pin one worker each to: a list such as `0-3,6`, or `auto` for every CPU "
		"this process may run on."),
	CFG_ENUM("workers", "numa", numa, "auto", "auto|off|local|replicate",
		 "NUMA mode: `local` keeps each worker's buffers on its node, `replicate` also "
		 "gives each node its own dimension replica, `auto` is `local` on multi-node "
		 "machines, `off` ignores the topology."),
	CFG_STR("workers", "numa_topology", numa_topology, "",
		"Topology override: a sysfs-style directory (`<dir>/node<N>/cpulist`) or a list "
		"`0:0-3;1:4-7`. Empty: the machine's own."),
	CFG_NUM("workers", "batch_events", KIND_U32, batch_events, "4096", 1, 1u << 20,
		"Events a worker takes from its queue per batch."),
	CFG_NUM("workers", "poll_timeout_ms", KIND_MS, poll_timeout_ms, "50ms", 1, 10000,
		"Longest a worker waits for events before checking segment ages and stop requests."),
	CFG_NUM_F("workers", "memory_limit", KIND_BYTES, memory_limit, "auto", 1u << 20,
		  1ull << 50, CFG_F_AUTO,
		  "Most memory the settings may make enrichd take besides the dimension tables: "
		  "blocks (`block_rows` x `open_segments`), buffer pools (`inflight_bytes`), decode "
		  "buffers, per worker, and the Kafka queues; worked out at start (and shown by "
		  "`--check`), a configuration above it does not start. `auto`: 3/4 of the "
		  "machine's memory (or the cgroup's limit), less the size of the dimension source "
		  "files (once per NUMA replica)."),
	CFG_NUM_F("dimensions", "reload_interval", KIND_MS, reload_interval_ms, "0",
		  CONFIG_RELOAD_INTERVAL_MS_MIN,
		  1u << 31, CFG_F_ZERO_OFF,
		  "Also reload changed dimension sources on this interval (0: only on SIGHUP). At "
		  "least 10s: each timed reload logs a line."),
	CFG_STR_F("dimensions", "snapshot_dir", snapshot_dir, "./snapshots", CFG_F_DIR,
		  "Directory of the snapshots of dimensions that follow a changelog: "
		  "`<dimension>.snapshot`, the table's rows (Native) with the changelog's next "
		  "offset per partition and the base it was built on, written atomically. At start "
		  "a snapshot of the same base (an unchanged file, the same PostgreSQL table with "
		  "`update_field`, or none) is loaded instead of the base and the changelog is read "
		  "from its offsets; a missing one, or one older than the base, means a full load "
		  "and the changelog from its beginning."),
	CFG_NUM_F("dimensions", "snapshot_interval", KIND_MS, snapshot_interval_ms, "60s", 1000,
		  1u << 31, CFG_F_ZERO_OFF,
		  "How often a changelog dimension's snapshot is written (and once at a clean stop); "
		  "0: never, a restart reads the whole changelog."),
	CFG_STR_F("output", "dir", output_dir, "./out", CFG_F_NONEMPTY | CFG_F_DIR,
		  "Directory that receives the segments."),
	CFG_STR("output", "instance", instance, "",
		"Instance id in segment names (empty: the host name). Unique per output directory."),
	CFG_NUM("output", "segment_bytes", KIND_BYTES, segment_bytes, "256MiB", 4096,
		1ull << 40, "A segment is sealed when it reaches this size."),
	CFG_NUM("output", "segment_age_ms", KIND_MS, segment_age_ms, "1s", 10, 3600000,
		"A segment is sealed at this age (time since its first row)."),
	CFG_NUM("output", "segment_idle_ms", KIND_MS, segment_idle_ms, "0", 0, 3600000,
		"A worker also seals its segments once it has taken no event for this long, so "
		"the end of a burst is sealed without waiting for `segment_age_ms` (0: off). "
		"Below the gap between a slow stream's events it seals about once per event."),
	CFG_NUM("output", "block_rows", KIND_U32, block_rows, "8192", 1, 1u << 22,
		"Rows per Native block. A worker's open blocks should stay in its core's L2 "
		"cache: 8192 rows of the default schema are about 1.2 MB."),
	CFG_NUM("output", "inflight_bytes", KIND_BYTES, inflight_bytes, "64MiB", 65536,
		1ull << 36, "Bound per worker on bytes handed to the disk and not yet written; "
		"past it the worker pauses its partitions."),
	CFG_NUM("output", "open_segments", KIND_U32, open_segments, "8", 1, 1024,
		"Bound per worker on segments open at once (one per event date and hour)."),
	CFG_ENUM("output", "direct_io", direct_io, "auto", "auto|off",
		 "`auto` writes segments with O_DIRECT, from the worker's buffers to the disk "
		 "without a copy into the page cache (the bytes after a segment's last 4 KiB "
		 "boundary go through the page cache when it is sealed); a filesystem that refuses "
		 "O_DIRECT gets page-cache writes, logged once. `off` always writes through the "
		 "page cache."),
	CFG_STR("output", "io_cpus", io_cpus_spec, "auto",
		"CPUs of the kernel threads that carry out the segments' writes (io_uring "
		"workers; with page-cache writes they also copy every byte): a list such as "
		"`4-5`, `auto` for the CPUs this process may run on that run no worker (any CPU "
		"when every one runs a worker), or `any` for the kernel's choice. Keeps that work "
		"off the workers' cores."),
	CFG_STR_F("dead_letter", "dir", dead_letter_dir, "./dead-letter",
		  CFG_F_NONEMPTY | CFG_F_DIR,
		  "Directory of the dead-letter files (malformed events, inner-join misses)."),
	CFG_STR("metrics", "listen", metrics_listen, "127.0.0.1:9464",
		"Address of the Prometheus `/metrics`, `/healthz` and `/readyz` endpoint "
		"(empty: off)."),
	CFG_STR("registry", "urls", registry_urls, "",
		"Base URLs of the Confluent Schema Registry, comma-separated "
		"(`http://sr1:8081,https://sr2:8081`), for `[event] format = avro-confluent` "
		"(required there, refused otherwise): the writer schema of each id is fetched once "
		"(`GET /schemas/ids/<id>`) and kept for the process; a URL that fails moves to the "
		"next. User info in a URL (`https://user:pass@host`) is used and never shown."),
	CFG_STR("registry", "username", registry_username, "",
		"Basic-auth user (empty: none, unless a URL holds one)."),
	CFG_STR_F("registry", "password_file", registry_password_file, "", CFG_F_FILE,
		  "File whose first line is the basic-auth password (never logged or shown)."),
	CFG_STR("registry", "password_env", registry_password_env, "",
		"Environment variable holding the basic-auth password, instead of `password_file`."),
	CFG_STR_F("registry", "ca_file", registry_ca_file, "", CFG_F_FILE,
		  "PEM bundle of the CAs that verify an https registry (empty: the system's)."),
	CFG_STR_F("registry", "cert_file", registry_cert_file, "", CFG_F_FILE,
		  "PEM client certificate for mutual TLS (with `key_file`)."),
	CFG_STR_F("registry", "key_file", registry_key_file, "", CFG_F_FILE,
		  "PEM private key of `cert_file` (unencrypted)."),
	CFG_NUM("registry", "connect_timeout", KIND_MS, registry_connect_timeout_ms, "2s", 1,
		600000, "Longest wait for a connection to the registry."),
	CFG_NUM("registry", "timeout", KIND_MS, registry_timeout_ms, "10s", 1, 600000,
		"Longest a whole request to the registry may take."),
	CFG_NUM("registry", "backoff_min", KIND_MS, registry_backoff_min_ms, "100ms", 1, 600000,
		"Wait after every URL failed (the registry unavailable), doubled per failed round "
		"up to `backoff_max`. Meanwhile only the partitions whose next message needs a "
		"schema id not yet known wait; nothing is dead-lettered for an outage."),
	CFG_NUM("registry", "backoff_max", KIND_MS, registry_backoff_max_ms, "10s", 1, 3600000,
		"Longest wait between rounds while the registry is unavailable."),
	CFG_NUM("registry", "ids_max", KIND_U32, registry_ids_max, "4096", 1, 1000000,
		"Distinct schema ids kept; a message of an id past it is a dead letter "
		"(`schema_ids_full`)."),
	{"log", "level", KIND_LOGLEVEL, offsetof(struct config, log_level), 0, "info", 0, 0,
	 "error|warn|info|debug", "Most verbose level logged.", 0},

	DIM_STR_F("source", source, NULL, CFG_F_NONEMPTY | CFG_F_FILE,
		  "Path of the source file; not given when the rows come from `postgresql`, or "
		  "from `changelog_topic` alone."),
	DIM_STR("postgresql", postgresql, "",
		"PostgreSQL connection string instead of a file: libpq keywords "
		"(`host=db port=5432 dbname=app user=enrichd`) or a URI "
		"(`postgresql://enrichd@db/app`), with `table` or `query`. The password comes from "
		"`password_file`, PGPASSWORD or PGPASSFILE (~/.pgpass); one written here is never "
		"logged or shown."),
	DIM_STR("table", table, "",
		"PostgreSQL table (or view) holding the key and attribute columns, as SQL names it "
		"(`public.users`). A plain table is read in ranges of its pages, one connection per "
		"load thread, all in one snapshot."),
	DIM_STR("query", query, "",
		"PostgreSQL query returning the key and attribute columns by name, instead of "
		"`table`; read through one connection."),
	DIM_STR_F("password_file", password_file, "", CFG_F_FILE,
		  "File whose first line is the PostgreSQL password (empty: libpq's own, PGPASSWORD "
		  "or PGPASSFILE)."),
	DIM_NUM("connect_timeout", KIND_MS, connect_timeout_ms, "10s", 1000, 600000,
		"Longest wait for a PostgreSQL connection (whole seconds; libpq's "
		"connect_timeout)."),
	DIM_NUM("statement_timeout", KIND_MS, statement_timeout_ms, "10m", 1000, 86400000,
		"Longest a PostgreSQL statement may run (the full load's COPY included), and longest "
		"enrichd waits for a row of it, so a database that stops answering fails the load "
		"instead of holding it."),
	DIM_STR("update_field", update_field, "",
		"PostgreSQL: a timestamp or integer column that every change of a row moves "
		"forward (`updated_at`, set by the application or a trigger). Set, the dimension "
		"is live: every `update_interval` the rows at or after the largest value seen, less "
		"`update_overlap`, are read and applied to the table in use (rows seen before are "
		"skipped), without a reload."),
	DIM_NUM("update_interval", KIND_MS, update_interval_ms, "1s", 100, 3600000,
		"How often the changes of `update_field` are read. An empty read logs nothing at "
		"`info`."),
	DIM_NUM("update_overlap", KIND_MS, update_overlap_ms, "10s", 0, 3600000,
		"A timestamp `update_field`: each read goes back this far before the largest value "
		"seen, so a row whose transaction committed up to this long after it took its "
		"timestamp (now() is the transaction's start) is still read. Longer transactions "
		"are picked up by the next full reload."),
	DIM_STR("delete_field", delete_field, "",
		"PostgreSQL: a boolean column; a row with it true is left out of a load and, read "
		"as a change, deletes its key. Rows deleted outright (DELETE) leave the table at "
		"the next full reload (SIGHUP or `reload_interval`)."),
	DIM_STR("changelog_topic", changelog_topic, "",
		"A compacted Kafka topic of the dimension's changes, on top of `source` or "
		"`postgresql` or as its only source: message key = the key (a UInt64 as decimal "
		"text), value = a JSON object of the attributes by name (an absent one is NULL), a "
		"null value deletes the key. Read from the beginning (or a snapshot's offsets) "
		"before the workers start, then followed; every instance reads all of it (no "
		"consumer group). A malformed change goes to the dead-letter directory's "
		"`<instance>-<dimension>.changelog-deadletter.tsv`. Such a dimension is not "
		"reloaded by SIGHUP or `reload_interval`."),
	DIM_STR("changelog_brokers", changelog_brokers, "",
		"Bootstrap brokers of `changelog_topic` (empty: `[kafka] brokers`)."),
	DIM_STR("format", format, "auto",
		"`tsv` (TSVWithNames), `csv` (CSVWithNames), `native`, or `auto` by extension."),
	DIM_STR_F("key", key, NULL, CFG_F_NONEMPTY, "Key column in the source."),
	DIM_STR("key_type", key_type, "UInt64", "`UInt64` or `String`."),
	DIM_STR("join_field", join_field, NULL,
		"The declared event field joined with the key: an integer field for a UInt64 key, "
		"a String, LowCardinality(String) or FixedString field for a String key (a NULL is "
		"a miss). Default: the field named as the key column."),
	DIM_ENUM("join", join, "left", "left|inner|default",
		 "On a miss: `left` NULL attributes, `inner` the event goes to the dead-letter "
		 "file, `default` the types' default values."),
	DIM_ENUM("key_normalize", key_normalize, "exact", "exact|strip-query",
		 "`strip-query` drops `?query` and `#fragment` and lowercases scheme and host "
		 "before the lookup (URL keys)."),
	DIM_ENUM("allow_empty", allow_empty, "true", "false|true",
		 "Whether a source with a header but no row may be loaded (every lookup then "
		 "misses; a warning is logged either way). `false` refuses it: enrichd does not "
		 "start, and a reload keeps the table in use (a truncated export, say)."),
	{"dimension", "attr.<column>", KIND_STRING, 0, 0, "", 0, 0, NULL,
	 "One per joined attribute, in output order: the source column and its ClickHouse "
	 "type (String, LowCardinality(String), UInt8-64, Int8-64, Float64, Date, DateTime; "
	 "Nullable(T) where the source holds NULLs).", 0},
	{"kafka", "property.<name>", KIND_STRING, 0, 0, "", 0, 0, NULL,
	 "Any librdkafka consumer property, passed through (e.g. `property.fetch.max.bytes`). "
	 "enrichd's defaults, which a property overrides: partition.assignment.strategy "
	 "cooperative-sticky, auto.offset.reset earliest, queued.min.messages 10000000 (librdkafka "
	 "counts it on the worker's queue, which all the worker's partitions feed). "
	 "bootstrap.servers, group.id, enable.auto.commit and enable.auto.offset.store are "
	 "enrichd's own and refused; `enrichd --check` has librdkafka check the others.", 0},
};

#define CONFIG_KEY_COUNT (sizeof(config_keys) / sizeof(config_keys[0]))

/* Sections a file may hold: the known ones and the dimensions, with room for mistakes. */
#define CONFIG_SECTIONS_MAX (CONFIG_DIMS_MAX + 16)

struct config_section {
	char name[CONFIG_NAME_MAX * 2];
	unsigned line;
};

struct config_parse {
	struct config *cfg;
	char *err;
	size_t err_cap;
	bool failed;
	/* The text inih reads through config_reader, and where it is. */
	const char *text;
	size_t len, pos;
	unsigned line;      /* of the line being parsed (0 once the text is read) */
	bool at_line_start; /* the next read starts a line */
	size_t section_count;
	struct config_section sections[CONFIG_SECTIONS_MAX];
	/* Line that set each key (0: not set), to name both lines of a key given twice. */
	unsigned key_line[CONFIG_KEY_COUNT];
	unsigned dim_line[CONFIG_DIMS_MAX][CONFIG_KEY_COUNT];
	unsigned attr_line[CONFIG_DIMS_MAX][CONFIG_ATTRS_MAX];
	unsigned field_line[SCHEMA_FIELDS_MAX];
	unsigned prop_line[CONFIG_KAFKA_PROPS_MAX];
};

static void config_fail(struct config_parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records the first error as "<file>:<line>: <message>" (no line once the text is read). */
static void config_fail(struct config_parse *p, const char *fmt, ...)
{
	if (p->failed)
		return; /* keep the first error: later ones often follow from it */
	p->failed = true;
	int at = p->line ? snprintf(p->err, p->err_cap, "%s:%u: ", p->cfg->path, p->line)
			 : snprintf(p->err, p->err_cap, "%s: ", p->cfg->path);
	if (at < 0 || (size_t)at >= p->err_cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + at, p->err_cap - (size_t)at, fmt, ap);
	va_end(ap);
}

/* A unit a number may carry, and what it multiplies the number by. */
struct config_unit {
	const char *suffix;
	uint64_t scale;
};

/* text: decimal digits, optional spaces, then one of units' suffixes; *out = the number times the
 * unit's scale. Returns 0, -EINVAL or -ERANGE. */
static int config_scaled_parse(const char *text, const struct config_unit *units, size_t count,
			       uint64_t *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno)
		return -ERANGE;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].scale)
			return -ERANGE;
		*out = (uint64_t)v * units[i].scale;
		return 0;
	}
	return -EINVAL;
}

int config_bytes_parse(const char *text, uint64_t *out)
{
	static const struct config_unit units[] = {
		{"", 1}, {"B", 1}, {"K", 1ull << 10}, {"KiB", 1ull << 10}, {"KB", 1ull << 10},
		{"M", 1ull << 20}, {"MiB", 1ull << 20}, {"MB", 1ull << 20}, {"G", 1ull << 30},
		{"GiB", 1ull << 30}, {"GB", 1ull << 30}, {"T", 1ull << 40}, {"TiB", 1ull << 40},
		{"TB", 1ull << 40},
	};
	return config_scaled_parse(text, units, sizeof(units) / sizeof(units[0]), out);
}

int config_duration_ms_parse(const char *text, uint64_t *out)
{
	static const struct config_unit units[] = {
		{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000},
	};
	return config_scaled_parse(text, units, sizeof(units) / sizeof(units[0]), out);
}

int config_cpu_list_parse(const char *spec, int *cpus, size_t cap)
{
	size_t n = 0;
	const char *s = spec;
	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		long lo = strtol(s, &end, 10), hi = lo;
		s = end;
		if (*s == '-') {
			s++;
			if (!isdigit((unsigned char)*s))
				return -EINVAL;
			hi = strtol(s, &end, 10);
			s = end;
		}
		if (lo < 0 || hi < lo || hi >= CPU_SETSIZE)
			return -EINVAL;
		for (long c = lo; c <= hi; c++) {
			if (n == cap)
				return -E2BIG;
			for (size_t i = 0; i < n; i++)
				if (cpus[i] == c)
					return -EINVAL; /* a CPU listed twice */
			cpus[n++] = (int)c;
		}
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
	}
	return n ? (int)n : -EINVAL;
}

static int config_choice(const char *choices, const char *value)
{
	size_t len = strlen(value);
	int index = 0;
	for (const char *c = choices; *c; index++) {
		const char *bar = strchr(c, '|');
		size_t clen = bar ? (size_t)(bar - c) : strlen(c);
		if (clen == len && strncmp(c, value, len) == 0)
			return index;
		if (!bar)
			break;
		c = bar + 1;
	}
	return -1;
}

/*
 * A string value: it fits, is not empty where the key needs a value, and a path holds no control
 * character (a path that is empty or cut by one would put files where nobody looks for them).
 */
static int config_set_string(struct config_parse *p, const struct config_key *key, char *field,
			     const char *where, const char *value)
{
	if (strlen(value) >= key->size) {
		config_fail(p, "%s: %s: value longer than %zu bytes", where, key->name,
			    key->size - 1);
		return -EINVAL;
	}
	if ((key->flags & CFG_F_NONEMPTY) && value[0] == '\0') {
		config_fail(p, "%s: %s: empty; it needs a %s", where, key->name,
			    key->flags & CFG_F_DIR ? "directory" : key->flags & CFG_F_FILE ? "file"
											 : "value");
		return -EINVAL;
	}
	for (const char *c = value; (key->flags & (CFG_F_DIR | CFG_F_FILE)) && *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			config_fail(p, "%s: %s: the path holds a control character (byte %zu)", where,
				    key->name, (size_t)(c - value));
			return -EINVAL;
		}
	}
	strcpy(field, value);
	return 0;
}

/* Stores value into the field described by key at base. Returns 0 or fails the parse. */
static int config_set(struct config_parse *p, const struct config_key *key, void *base,
		      const char *where, const char *value)
{
	char *field = (char *)base + key->offset;
	uint64_t v = 0;
	int rc = 0;
	switch (key->kind) {
	case KIND_STRING:
		return config_set_string(p, key, field, where, value);
	case KIND_ENUM:
	case KIND_LOGLEVEL: {
		int choice = config_choice(key->choices, value);
		if (choice < 0) {
			config_fail(p, "%s: %s: '%s' is not one of %s", where, key->name, value,
				    key->choices);
			return -EINVAL;
		}
		memcpy(field, &choice, sizeof(int));
		return 0;
	}
	case KIND_U32: {
		char *end;
		errno = 0;
		v = strtoull(value, &end, 10);
		if (!isdigit((unsigned char)value[0]) || *end || errno)
			rc = -EINVAL;
		break;
	}
	case KIND_BYTES:
		if ((key->flags & CFG_F_AUTO) && strcmp(value, "auto") == 0) {
			memset(field, 0, sizeof(uint64_t));
			return 0;
		}
		rc = config_bytes_parse(value, &v);
		break;
	case KIND_MS:
		rc = config_duration_ms_parse(value, &v);
		break;
	}
	if (rc < 0) {
		config_fail(p, "%s: %s: '%s' is not a valid %s", where, key->name, value,
			    key->kind == KIND_BYTES ? "size (e.g. 256MiB)"
			    : key->kind == KIND_MS  ? "duration (e.g. 500ms, 2s)"
						    : "number");
		return -EINVAL;
	}
	if ((v < key->min && !(v == 0 && (key->flags & CFG_F_ZERO_OFF))) || v > key->max) {
		config_fail(p, "%s: %s: %s is outside [%llu, %llu]%s", where, key->name, value,
			    (unsigned long long)key->min, (unsigned long long)key->max,
			    key->flags & CFG_F_ZERO_OFF ? " (or 0: off)" : "");
		return -ERANGE;
	}
	if (key->kind == KIND_BYTES)
		memcpy(field, &v, sizeof(uint64_t));
	else {
		uint32_t v32 = (uint32_t)v;
		memcpy(field, &v32, sizeof(uint32_t));
	}
	return 0;
}

static const struct config_key *config_key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

static struct config_dim *config_dim_get(struct config_parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	for (size_t i = 0; i < cfg->dim_count; i++)
		if (strcmp(cfg->dims[i].name, name) == 0)
			return &cfg->dims[i];
	if (cfg->dim_count == CONFIG_DIMS_MAX) {
		config_fail(p, "[dimension %s]: more than %d dimensions", name, CONFIG_DIMS_MAX);
		return NULL;
	}
	if (name[0] == '\0' || strlen(name) >= CONFIG_NAME_MAX) {
		config_fail(p, "[dimension %s]: the name must be 1 to %d bytes", name,
			    CONFIG_NAME_MAX - 1);
		return NULL;
	}
	for (const char *c = name; *c; c++) {
		if (!isalnum((unsigned char)*c) && *c != '_') {
			config_fail(p, "[dimension %s]: the name may hold letters, digits, '_'",
				    name);
			return NULL;
		}
	}
	struct config_dim *dim = &cfg->dims[cfg->dim_count++];
	memset(dim, 0, sizeof(*dim));
	strcpy(dim->name, name);
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *key = &config_keys[i];
		if (strcmp(key->section, "dimension") == 0 && key->value &&
		    !strchr(key->name, '<'))
			config_set(p, key, dim, "default", key->value);
	}
	return dim;
}

static int config_dim_entry(struct config_parse *p, const char *dim_name, const char *name,
			    const char *value, const char *where)
{
	struct config_dim *dim = config_dim_get(p, dim_name);
	if (!dim)
		return -EINVAL;
	if (strncmp(name, "attr.", 5) == 0) {
		const char *column = name + 5;
		if (dim->attr_count == CONFIG_ATTRS_MAX) {
			config_fail(p, "%s: %s: more than %d attributes", where, name,
				    CONFIG_ATTRS_MAX);
			return -EINVAL;
		}
		if (!*column || strlen(column) >= CONFIG_NAME_MAX || !*value ||
		    strlen(value) >= CONFIG_TYPE_MAX) {
			config_fail(p, "%s: %s: needs a column name and a type", where, name);
			return -EINVAL;
		}
		size_t d = (size_t)(dim - p->cfg->dims);
		for (size_t i = 0; i < dim->attr_count; i++) {
			if (strcmp(dim->attrs[i].name, column) == 0) {
				config_fail(p, "%s: %s: attribute listed twice, at lines %u and %u",
					    where, name, p->attr_line[d][i], p->line);
				return -EINVAL;
			}
		}
		p->attr_line[d][dim->attr_count] = p->line;
		struct config_attr *attr = &dim->attrs[dim->attr_count++];
		strcpy(attr->name, column);
		strcpy(attr->type, value);
		return 0;
	}
	const struct config_key *key = config_key_find("dimension", name);
	if (!key) {
		config_fail(p, "%s: unknown key '%s'", where, name);
		return -EINVAL;
	}
	unsigned *seen = &p->dim_line[dim - p->cfg->dims][key - config_keys];
	if (*seen) {
		config_fail(p, "%s: %s: set twice, at lines %u and %u", where, name, *seen, p->line);
		return -EINVAL;
	}
	*seen = p->line;
	return config_set(p, key, dim, where, value);
}

/* A field.<column> line of [event]: parsed at once, in file order (the output order). */
static int config_event_field(struct config_parse *p, const char *column, const char *value)
{
	struct schema *ev = &p->cfg->event;
	for (uint32_t i = 0; i < ev->field_count; i++) {
		if (strcmp(ev->fields[i].name, column) == 0) {
			config_fail(p, "[event]: field.%s: set twice, at lines %u and %u", column,
				    ev->fields[i].line, p->line);
			return -EINVAL;
		}
	}
	if (ev->field_count == SCHEMA_FIELDS_MAX) {
		config_fail(p, "[event]: field.%s: more than %d fields", column, SCHEMA_FIELDS_MAX);
		return -EINVAL;
	}
	char why[SCHEMA_ERR_MAX];
	struct schema_field *f = &ev->fields[ev->field_count];
	if (schema_field_parse(column, value, f, why, sizeof(why)) < 0) {
		config_fail(p, "[event]: field.%s: %s", column, why);
		return -EINVAL;
	}
	f->line = p->line;
	ev->field_count++;
	return 0;
}

static int config_on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *p = user;
	struct config *cfg = p->cfg;
	char where[CONFIG_NAME_MAX * 3];
	snprintf(where, sizeof(where), "[%s]", section);
	if (p->failed)
		return 1;
	if (strcmp(section, "dimension") == 0) {
		config_fail(p, "[dimension]: needs a name, as in [dimension users]");
		return 0;
	}
	if (strncmp(section, "dimension ", 10) == 0) {
		const char *dim_name = section + 10;
		while (*dim_name == ' ')
			dim_name++;
		return config_dim_entry(p, dim_name, name, value, where) == 0;
	}
	if (strcmp(section, "event") == 0 && strncmp(name, "field.", 6) == 0)
		return config_event_field(p, name + 6, value) == 0;
	if (strcmp(section, "kafka") == 0 && strncmp(name, "property.", 9) == 0) {
		if (cfg->kafka_prop_count == CONFIG_KAFKA_PROPS_MAX) {
			config_fail(p, "%s: %s: more than %d properties", where, name,
				    CONFIG_KAFKA_PROPS_MAX);
			return 0;
		}
		for (size_t i = 0; i < cfg->kafka_prop_count; i++) {
			if (strcmp(cfg->kafka_props[i].key, name + 9) == 0) {
				config_fail(p, "%s: %s: set twice, at lines %u and %u", where, name,
					    p->prop_line[i], p->line);
				return 0;
			}
		}
		p->prop_line[cfg->kafka_prop_count] = p->line;
		struct config_kv *kv = &cfg->kafka_props[cfg->kafka_prop_count++];
		if (!name[9] || strlen(name + 9) >= sizeof(kv->key) ||
		    strlen(value) >= sizeof(kv->value)) {
			config_fail(p, "%s: %s: the name must be 1 to %zu bytes, the value at most %zu",
				    where, name, sizeof(kv->key) - 1, sizeof(kv->value) - 1);
			return 0;
		}
		strcpy(kv->key, name + 9);
		strcpy(kv->value, value);
		return 1;
	}
	const struct config_key *key = config_key_find(section, name);
	if (!key) {
		bool known_section = false;
		for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
			known_section |= strcmp(config_keys[i].section, section) == 0;
		if (known_section && strcmp(section, "dimension") != 0)
			config_fail(p, "%s: unknown key '%s'", where, name);
		else
			config_fail(p, "[%s]: unknown section (key '%s')", section, name);
		return 0;
	}
	unsigned *seen = &p->key_line[key - config_keys];
	if (*seen) {
		config_fail(p, "%s: %s: set twice, at lines %u and %u", where, name, *seen, p->line);
		return 0;
	}
	*seen = p->line;
	return config_set(p, key, cfg, where, value) == 0;
}

static int config_defaults(struct config_parse *p)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *key = &config_keys[i];
		if (strcmp(key->section, "dimension") == 0 || !key->value ||
		    strchr(key->name, '<'))
			continue;
		if (config_set(p, key, p->cfg, "default", key->value) < 0)
			return -EINVAL;
	}
	return 0;
}

/* Fails naming key if a listed CPU is beyond the machine's. */
static int config_cpus_exist(struct config_parse *p, const char *key, const int *cpus, size_t n)
{
	long online = sysconf(_SC_NPROCESSORS_CONF);
	for (size_t i = 0; i < n; i++) {
		if (online > 0 && cpus[i] >= online) {
			config_fail(p, "%s: CPU %d does not exist (this machine has %ld)", key, cpus[i],
				    online);
			return -EINVAL;
		}
	}
	return 0;
}

static int config_resolve_cpus(struct config_parse *p)
{
	struct config *cfg = p->cfg;
	if (strcmp(cfg->cpus_spec, "auto") == 0) {
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof(set), &set) != 0) {
			config_fail(p, "[workers]: cpus: auto: sched_getaffinity: %s",
				    strerror(errno));
			return -errno;
		}
		cfg->cpu_count = 0;
		for (int c = 0; c < CPU_SETSIZE && cfg->cpu_count < CONFIG_CPUS_MAX; c++)
			if (CPU_ISSET(c, &set))
				cfg->cpus[cfg->cpu_count++] = c;
		return 0;
	}
	int n = config_cpu_list_parse(cfg->cpus_spec, cfg->cpus, CONFIG_CPUS_MAX);
	if (n < 0) {
		config_fail(p, "[workers]: cpus: '%s' is not a CPU list such as 0-3,6%s",
			    cfg->cpus_spec, n == -E2BIG ? " (too many CPUs)" : "");
		return n;
	}
	cfg->cpu_count = (size_t)n;
	return config_cpus_exist(p, "[workers]: cpus", cfg->cpus, cfg->cpu_count);
}

/* [output] io_cpus, after the workers' CPUs are known. */
static int config_resolve_io_cpus(struct config_parse *p)
{
	struct config *cfg = p->cfg;
	cfg->io_cpu_count = 0;
	if (strcmp(cfg->io_cpus_spec, "any") == 0)
		return 0;
	if (strcmp(cfg->io_cpus_spec, "auto") == 0) {
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			return 0; /* the kernel's choice, as with `any` */
		for (size_t i = 0; i < cfg->cpu_count; i++)
			CPU_CLR(cfg->cpus[i], &set);
		for (int c = 0; c < CPU_SETSIZE && cfg->io_cpu_count < CONFIG_CPUS_MAX; c++)
			if (CPU_ISSET(c, &set))
				cfg->io_cpus[cfg->io_cpu_count++] = c;
		return 0;
	}
	int n = config_cpu_list_parse(cfg->io_cpus_spec, cfg->io_cpus, CONFIG_CPUS_MAX);
	if (n <= 0) {
		config_fail(p, "[output]: io_cpus: '%s' is not `auto`, `any` or a CPU list such as "
			    "4-5%s", cfg->io_cpus_spec, n == -E2BIG ? " (too many CPUs)" : "");
		return -EINVAL;
	}
	cfg->io_cpu_count = (size_t)n;
	return config_cpus_exist(p, "[output]: io_cpus", cfg->io_cpus, cfg->io_cpu_count);
}

/*
 * The dimension's join field: a declared field (by default the one named as the key column)
 * whose type fits the key: an integer field for UInt64 keys, a String-like one for String keys;
 * strip-query needs a String field.
 */
static int config_validate_join(struct config_parse *p, size_t index, const char *where)
{
	struct config_dim *dim = &p->cfg->dims[index];
	const struct schema *ev = &p->cfg->event;
	unsigned line = p->dim_line[index][config_key_find("dimension", "join_field") - config_keys];
	p->line = line;
	if (!line && schema_field_index(ev, dim->key) < 0) {
		config_fail(p, "%s: join_field: required (key '%s' is not an event field)", where,
			    dim->key);
		return -EINVAL;
	}
	if (!line)
		strcpy(dim->join_field, dim->key); /* both CONFIG_NAME_MAX */
	int f = schema_field_index(ev, dim->join_field);
	if (f < 0) {
		config_fail(p, "%s: join_field: '%s' is not a declared event field", where,
			    dim->join_field);
		return -EINVAL;
	}
	dim->join_index = (uint32_t)f;
	const struct schema_field *sf = &ev->fields[f];
	bool u64_key = strcmp(dim->key_type, "UInt64") == 0;
	bool integer = sf->kind == SCHEMA_U64 || sf->kind == SCHEMA_I64;
	bool text = sf->kind == SCHEMA_STRING || sf->kind == SCHEMA_FIXED_STRING;
	if (!integer && !text) {
		config_fail(p, "%s: join_field: %s is %s: a join takes an integer field (UInt64 key) "
			    "or a String, LowCardinality(String) or FixedString field (String key)",
			    where, sf->name, sf->type);
		return -EINVAL;
	}
	if (u64_key != integer) {
		p->line = p->dim_line[index][config_key_find("dimension", "key_type") - config_keys];
		config_fail(p, "%s: key_type: %s (%s) joins need a %s key", where, sf->name, sf->type,
			    integer ? "UInt64" : "String");
		return -EINVAL;
	}
	if (dim->key_normalize == CONFIG_KEY_STRIP_QUERY && sf->kind != SCHEMA_STRING) {
		config_fail(p, "%s: key_normalize: strip-query applies to String fields (%s is %s)",
			    where, sf->name, sf->type);
		return -EINVAL;
	}
	p->line = 0;
	return 0;
}

/*
 * Where a dimension's rows come from: a file (source) or PostgreSQL (postgresql with table or
 * query), one of them; the PostgreSQL keys only with postgresql.
 */
static int config_validate_dim_source(struct config_parse *p, const struct config_dim *dim,
				      const char *where)
{
	bool file = dim->source[0], pg = dim->postgresql[0], changelog = dim->changelog_topic[0];
	if (file && pg) {
		config_fail(p, "%s: source and postgresql: give one of them, not both", where);
		return -EINVAL;
	}
	if (dim->changelog_brokers[0] && !changelog) {
		config_fail(p, "%s: changelog_brokers: only with changelog_topic", where);
		return -EINVAL;
	}
	if (pg && !dim->table[0] == !dim->query[0]) {
		config_fail(p, "%s: postgresql: needs %s", where,
			    dim->table[0] ? "table or query, not both" : "a table or a query");
		return -EINVAL;
	}
	static const char *const pg_only[] = {"table", "query", "password_file", "update_field",
					      "delete_field"};
	const char *const pg_values[] = {dim->table, dim->query, dim->password_file,
					 dim->update_field, dim->delete_field};
	for (size_t i = 0; !pg && i < sizeof(pg_only) / sizeof(pg_only[0]); i++) {
		if (pg_values[i][0]) {
			config_fail(p, "%s: %s: only with postgresql", where, pg_only[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int config_validate_dim(struct config_parse *p, size_t index)
{
	struct config_dim *dim = &p->cfg->dims[index];
	char where[CONFIG_NAME_MAX + 16];
	snprintf(where, sizeof(where), "[dimension %s]", dim->name);
	/* The rows come from a file, unless from PostgreSQL or a changelog alone. */
	bool no_file = dim->postgresql[0] || dim->changelog_topic[0];
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *key = &config_keys[i];
		if (strcmp(key->section, "dimension") == 0 && !key->value &&
		    !p->dim_line[index][i] && strcmp(key->name, "join_field") != 0 &&
		    !(no_file && strcmp(key->name, "source") == 0)) {
			config_fail(p, "%s: %s: required%s", where, key->name,
				    strcmp(key->name, "source") == 0
					    ? " (a file; or postgresql, or changelog_topic)" : "");
			return -EINVAL;
		}
	}
	if (config_validate_dim_source(p, dim, where) < 0)
		return -EINVAL;
	if (strcmp(dim->key_type, "UInt64") != 0 && strcmp(dim->key_type, "String") != 0) {
		config_fail(p, "%s: key_type: '%s' is not UInt64 or String", where, dim->key_type);
		return -EINVAL;
	}
	if (config_validate_join(p, index, where) < 0)
		return -EINVAL;
	if (strcmp(dim->format, "auto") != 0 && strcmp(dim->format, "tsv") != 0 &&
	    strcmp(dim->format, "csv") != 0 && strcmp(dim->format, "native") != 0) {
		config_fail(p, "%s: format: '%s' is not auto, tsv, csv or native", where,
			    dim->format);
		return -EINVAL;
	}
	if (dim->attr_count == 0) {
		config_fail(p, "%s: no attributes (add attr.<column> = <type>)", where);
		return -EINVAL;
	}
	return 0;
}

/* Whether the output has an event, catch-all or metadata column of that name. */
static bool config_event_column(const struct schema *ev, const char *name)
{
	if (schema_field_index(ev, name) >= 0 || strcmp(ev->catch_all, name) == 0)
		return true;
	for (uint32_t m = 0; m < ev->meta_count; m++)
		if (strcmp(schema_meta_name(ev->meta[m]), name) == 0)
			return true;
	return false;
}

/* Attribute names: unique across the output, apart from the event and Kafka columns. */
static int config_check_attr_names(struct config_parse *p)
{
	const struct config *cfg = p->cfg;
	for (size_t i = 0; i < cfg->dim_count; i++) {
		const struct config_dim *d = &cfg->dims[i];
		for (size_t a = 0; a < d->attr_count; a++) {
			const char *name = d->attrs[a].name;
			if (config_event_column(&cfg->event, name)) {
				p->line = p->attr_line[i][a];
				config_fail(p, "[dimension %s]: attr.%s: the output already has a column of that name",
					    d->name, name);
				return -EINVAL;
			}
			for (size_t j = 0; j <= i; j++) {
				const struct config_dim *o = &cfg->dims[j];
				for (size_t b = 0; b < (j == i ? a : o->attr_count); b++) {
					if (strcmp(name, o->attrs[b].name) == 0) {
						config_fail(p, "[dimension %s]: attr.%s: [dimension %s] has an attribute of that name",
							    d->name, name, o->name);
						return -EINVAL;
					}
				}
			}
		}
	}
	return 0;
}

/* "<file>:<line>: " of a key, or "<file>: " and "(default)" for a key the file does not set. */
static int config_fail_at_key(struct config_parse *p, unsigned line, const char *where,
			      const char *key, const char *path, const char *why)
{
	p->line = line;
	config_fail(p, "%s: %s: '%s' %s%s", where, key, path, why, line ? "" : " (the default)");
	p->line = 0;
	return -EINVAL;
}

/*
 * A directory enrichd writes into must be one, or be creatable: the nearest part of the path
 * that exists must be a directory.
 */
static int config_check_dir(struct config_parse *p, unsigned line, const char *where,
			    const char *key, const char *path)
{
	char part[PATH_MAX];
	snprintf(part, sizeof(part), "%s", path);
	for (;;) {
		struct stat st;
		if (stat(part, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				return 0;
			return config_fail_at_key(p, line, where, key, path,
						  strcmp(part, path) == 0
							  ? "is not a directory"
							  : "cannot be created: a part of it is a file");
		}
		if (errno != ENOENT)
			return config_fail_at_key(p, line, where, key, path, strerror(errno));
		char *slash = strrchr(part, '/');
		if (!slash)
			return 0; /* relative, under the working directory */
		if (slash == part)
			return 0; /* under / */
		*slash = '\0';
	}
}

/*
 * The paths on the file system (config_load only: a configuration given as a string names
 * paths of somewhere else): directories usable, dimension sources readable files.
 */
static int config_check_paths(struct config_parse *p)
{
	const struct config *cfg = p->cfg;
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *key = &config_keys[i];
		if (!(key->flags & CFG_F_DIR) || strcmp(key->section, "dimension") == 0)
			continue;
		char where[CONFIG_NAME_MAX];
		snprintf(where, sizeof(where), "[%s]", key->section);
		if (config_check_dir(p, p->key_line[i], where, key->name,
				     (const char *)cfg + key->offset) < 0)
			return -EINVAL;
	}
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *key = &config_keys[i];
		const char *path = (const char *)cfg + key->offset;
		if (!(key->flags & CFG_F_FILE) || strcmp(key->section, "dimension") == 0 ||
		    !path[0] || access(path, R_OK) == 0)
			continue;
		char where[CONFIG_NAME_MAX];
		snprintf(where, sizeof(where), "[%s]", key->section);
		return config_fail_at_key(p, p->key_line[i], where, key->name, path,
					  strerror(errno));
	}
	const struct config_key *source = config_key_find("dimension", "source");
	for (size_t d = 0; d < cfg->dim_count; d++) {
		const char *path = cfg->dims[d].source;
		char where[CONFIG_NAME_MAX + 16];
		snprintf(where, sizeof(where), "[dimension %s]", cfg->dims[d].name);
		unsigned line = p->dim_line[d][source - config_keys];
		if (cfg->dims[d].password_file[0] &&
		    access(cfg->dims[d].password_file, R_OK) != 0) {
			const struct config_key *pw = config_key_find("dimension", "password_file");
			return config_fail_at_key(p, p->dim_line[d][pw - config_keys], where,
						  "password_file", cfg->dims[d].password_file,
						  strerror(errno));
		}
		if (!path[0])
			continue; /* PostgreSQL */
		struct stat st;
		if (stat(path, &st) != 0)
			return config_fail_at_key(p, line, where, "source", path, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return config_fail_at_key(p, line, where, "source", path, "is not a file");
		if (access(path, R_OK) != 0)
			return config_fail_at_key(p, line, where, "source", path, strerror(errno));
	}
	return 0;
}

/* The worst-case memory of the settings against [workers] memory_limit (memplan.h). */
static int config_check_memory(struct config_parse *p)
{
	struct config *cfg = p->cfg;
	struct memplan m;
	if (memplan_compute(cfg, &m) < 0)
		return 0; /* an output type that does not parse: the schema check names it */
	if (cfg->memory_limit == 0) {
		cfg->memory_total = memplan_memory_total();
		cfg->memory_limit_dims = memplan_dims_expected(cfg);
		uint64_t usable = cfg->memory_total / 4 * MEMPLAN_AUTO_QUARTERS;
		cfg->memory_limit = usable > cfg->memory_limit_dims
					    ? usable - cfg->memory_limit_dims
					    : 0;
		if (cfg->memory_total == 0)
			cfg->memory_limit = UINT64_MAX; /* the machine's memory is unknown */
	}
	if (m.total <= cfg->memory_limit)
		return 0;
	p->line = 0;
	config_fail(p, "the settings may take %llu MiB, more than [workers] memory_limit (%llu "
		    "MiB%s): %u worker(s) ([workers] cpus) x (%u [output] open_segments x %llu MiB "
		    "blocks of [output] block_rows %u + %llu MiB pool ([output] inflight_bytes) + "
		    "%llu MiB decode and bookkeeping) + %llu MiB Kafka queues "
		    "(property.queued.max.messages.kbytes, fetch.max.bytes) or input + %llu MiB "
		    "base; lower those settings or raise memory_limit",
		    (unsigned long long)(m.total >> 20), (unsigned long long)(cfg->memory_limit >> 20),
		    cfg->memory_total ? ": auto, 3/4 of the memory less the dimension sources" : "",
		    m.workers, cfg->open_segments, (unsigned long long)(m.block >> 20),
		    cfg->block_rows, (unsigned long long)(m.pool >> 20),
		    (unsigned long long)((m.decode + m.bookkeeping) >> 20),
		    (unsigned long long)((m.kafka > m.input ? m.kafka : m.input) >> 20),
		    (unsigned long long)(m.base >> 20));
	return -EINVAL;
}

/* [event]: the declared fields or the default schema, checked as a whole. */
static int config_finish_event(struct config_parse *p)
{
	struct schema *ev = &p->cfg->event;
	if (ev->field_count == 0) {
		if (ev->time_field[0] && strcmp(ev->time_field, "event_time") != 0) {
			p->line = p->key_line[config_key_find("event", "time_field") - config_keys];
			config_fail(p, "[event]: time_field: '%s' is not a field of the default schema "
				    "(declare the fields with field.<column> lines)", ev->time_field);
			return -EINVAL;
		}
		schema_default_fields(ev);
	}
	ev->time_field_line = p->key_line[config_key_find("event", "time_field") - config_keys];
	ev->catch_all_line = p->key_line[config_key_find("event", "catch_all") - config_keys];
	ev->metadata_line = p->key_line[config_key_find("event", "metadata") - config_keys];
	char why[SCHEMA_ERR_MAX];
	unsigned line;
	if (schema_finish(ev, why, sizeof(why), &line) < 0) {
		p->line = line;
		config_fail(p, "[event]: %s", why);
		return -EINVAL;
	}
	if (ev->format != SCHEMA_FORMAT_JSON)
		return 0; /* the Avro reader checked the declarations (schema_finish) */
	/* The JSON plan, as the workers will compile it: its defaults decoded once. */
	struct event_plan *plan;
	int field;
	int rc = event_plan_create(ev, &plan, why, sizeof(why), &field);
	if (rc < 0) {
		p->line = field >= 0 ? ev->fields[field].line : 0;
		config_fail(p, "[event]: %s", why);
		return rc;
	}
	event_plan_free(plan);
	return 0;
}

/* [registry]: wanted exactly when the messages are Avro; one password source. */
static int config_finish_registry(struct config_parse *p)
{
	const struct config *cfg = p->cfg;
	bool avro = cfg->event.format == SCHEMA_FORMAT_AVRO_CONFLUENT;
	p->line = p->key_line[config_key_find("registry", "urls") - config_keys];
	if (avro && !cfg->registry_urls[0]) {
		config_fail(p, "[registry]: urls: required by [event] format = avro-confluent");
		return -EINVAL;
	}
	for (size_t i = 0; !avro && i < CONFIG_KEY_COUNT; i++) {
		if (strcmp(config_keys[i].section, "registry") != 0 || p->key_line[i] == 0)
			continue;
		p->line = p->key_line[i];
		config_fail(p, "[registry]: %s: only for [event] format = avro-confluent",
			    config_keys[i].name);
		return -EINVAL;
	}
	if (cfg->registry_password_file[0] && cfg->registry_password_env[0]) {
		p->line = p->key_line[config_key_find("registry", "password_env") - config_keys];
		config_fail(p, "[registry]: password_env: password_file is given already");
		return -EINVAL;
	}
	if ((cfg->registry_cert_file[0] != 0) != (cfg->registry_key_file[0] != 0)) {
		p->line = p->key_line[config_key_find("registry", "cert_file") - config_keys];
		config_fail(p, "[registry]: cert_file and key_file go together");
		return -EINVAL;
	}
	if (cfg->registry_backoff_min_ms > cfg->registry_backoff_max_ms) {
		p->line = p->key_line[config_key_find("registry", "backoff_min") - config_keys];
		config_fail(p, "[registry]: backoff_min is above backoff_max");
		return -EINVAL;
	}
	p->line = 0;
	return 0;
}

static int config_finish(struct config_parse *p, bool check_files)
{
	struct config *cfg = p->cfg;
	if (config_resolve_cpus(p) < 0 || config_resolve_io_cpus(p) < 0)
		return -EINVAL;
	if (config_finish_event(p) < 0 || config_finish_registry(p) < 0)
		return -EINVAL;
	if (cfg->dim_count == 0) {
		config_fail(p, "no [dimension <name>] section");
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->dim_count; i++) {
		if (config_validate_dim(p, i) < 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++) {
			if (cfg->dims[j].join_index == cfg->dims[i].join_index) {
				config_fail(p, "[dimension %s]: join_field: %s is joined by [dimension %s] already",
					    cfg->dims[i].name, cfg->dims[i].join_field,
					    cfg->dims[j].name);
				return -EINVAL;
			}
		}
	}
	if (config_check_attr_names(p) < 0)
		return -EINVAL;
	if (cfg->instance[0] == '\0') {
		if (gethostname(cfg->instance, sizeof(cfg->instance) - 1) != 0)
			strcpy(cfg->instance, "enrichd");
	}
	for (const char *c = cfg->instance; *c; c++) {
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-') {
			config_fail(p, "[output]: instance: '%s' may hold only letters, digits, '_', '.', '-'",
				    cfg->instance);
			return -EINVAL;
		}
	}
	if (check_files && config_check_paths(p) < 0)
		return -EINVAL;
	return config_check_memory(p);
}

/*
 * A section header line ("[name]") starts a section, which may appear once: the second time,
 * its keys would silently replace or join the first's. Called for each line as inih reads it.
 */
static void config_section_seen(struct config_parse *p, const char *line, size_t len)
{
	size_t i = 0;
	if (p->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		i = 3; /* a UTF-8 byte order mark, which inih skips */
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] != '[')
		return;
	const char *name = line + i + 1;
	const char *close = memchr(name, ']', len - i - 1);
	if (!close)
		return; /* inih reports the syntax error */
	size_t n = (size_t)(close - name);
	struct config_section sec = {.line = p->line};
	if (n >= 10 && strncmp(name, "dimension ", 10) == 0) {
		/* As config_on_entry reads it: the spaces before the name do not count. */
		size_t skip = 10;
		while (skip < n && name[skip] == ' ')
			skip++;
		snprintf(sec.name, sizeof(sec.name), "dimension %.*s", (int)(n - skip), name + skip);
	} else {
		snprintf(sec.name, sizeof(sec.name), "%.*s", (int)n, name);
	}
	for (size_t k = 0; k < p->section_count; k++) {
		if (strcmp(p->sections[k].name, sec.name) == 0) {
			config_fail(p, "[%s]: section given twice, at lines %u and %u", sec.name,
				    p->sections[k].line, p->line);
			return;
		}
	}
	if (p->section_count == CONFIG_SECTIONS_MAX) {
		config_fail(p, "[%s]: more than %d sections", sec.name, CONFIG_SECTIONS_MAX);
		return;
	}
	p->sections[p->section_count++] = sec;
}

/*
 * inih's reader (fgets-like) over p->text. It hands out whole lines, or pieces of a line when
 * inih's buffer is shorter (it then grows the buffer and reads on), and counts the lines, so the
 * handler knows the line of the key it is given.
 */
static char *config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	if (p->pos >= p->len || num < 2)
		return NULL;
	const char *start = p->text + p->pos;
	const char *nl = memchr(start, '\n', p->len - p->pos);
	size_t line_len = nl ? (size_t)(nl - start) + 1 : p->len - p->pos;
	if (p->at_line_start) {
		p->line++;
		config_section_seen(p, start, line_len);
	}
	size_t n = line_len < (size_t)num - 1 ? line_len : (size_t)num - 1;
	memcpy(str, start, n);
	str[n] = '\0';
	p->pos += n;
	p->at_line_start = n == line_len;
	return str;
}

/* Fails naming the first line longer than CONFIG_LINE_MAX, which inih would cut in two. */
static int config_lines_check(struct config_parse *p)
{
	unsigned line = 1;
	for (size_t at = 0; at < p->len; line++) {
		const char *nl = memchr(p->text + at, '\n', p->len - at);
		size_t end = nl ? (size_t)(nl - p->text) : p->len;
		size_t n = end - at - (end > at && p->text[end - 1] == '\r');
		if (n > CONFIG_LINE_MAX) {
			p->line = line;
			config_fail(p, "line of %zu bytes, longer than the %d a line may hold", n,
				    CONFIG_LINE_MAX);
			return -EINVAL;
		}
		at = end + 1;
	}
	if (memchr(p->text, '\0', p->len)) {
		config_fail(p, "holds a NUL byte: not a text file");
		return -EINVAL;
	}
	return 0;
}

/*
 * Runs inih over p->text. Debian's libinih reads lines into a fixed buffer of 200 bytes unless
 * told otherwise (its build options are variables there): a longer line was cut and its rest read
 * as a line of its own. The heap buffer grows up to CONFIG_LINE_MAX instead. Continuation lines
 * are off: an indented `key = value` would otherwise join the value of the key above it.
 */
static int config_parse_text(struct config_parse *p)
{
	if (config_lines_check(p) < 0)
		return -EINVAL;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONFIG_LINE_MAX + 3; /* with '\r', '\n' and the NUL */
	ini_allow_multiline = false;
	p->at_line_start = true;
	int line = ini_parse_stream(config_reader, p, config_on_entry, p);
	if (line > 0 && !p->failed) {
		p->line = (unsigned)line;
		config_fail(p, "syntax error (expected [section] or key = value)");
	} else if (line < 0 && !p->failed) {
		p->line = 0;
		config_fail(p, "out of memory while parsing");
	}
	p->line = 0;
	return p->failed ? -EINVAL : 0;
}

static int config_parse_with(struct config *cfg, char *err, size_t err_cap, const char *path,
			     const char *text, size_t len)
{
	struct config_parse *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path ? path : "<string>");
	p->cfg = cfg;
	p->err = err;
	p->err_cap = err_cap;
	p->text = text;
	p->len = len;
	int rc = config_defaults(p);
	if (rc == 0)
		rc = config_parse_text(p);
	if (rc == 0)
		rc = config_finish(p, path != NULL);
	free(p);
	return rc;
}

/* Reads the whole file (at most CONFIG_FILE_MAX bytes) into a NUL-terminated buffer. */
static int config_read_file(const char *path, char **text, size_t *len, char *err,
			    size_t err_cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, err_cap, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	int rc = 0;
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t n = 0;
	if (!buf) {
		rc = -ENOMEM;
		snprintf(err, err_cap, "%s: out of memory", path);
		goto out_close;
	}
	for (;;) {
		ssize_t got = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			snprintf(err, err_cap, "%s: cannot read: %s", path, strerror(-rc));
			goto out_free;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > CONFIG_FILE_MAX) {
			rc = -EFBIG;
			snprintf(err, err_cap, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
			goto out_free;
		}
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	close(fd);
	return 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

int config_load(const char *path, struct config *cfg, char *err, size_t err_cap)
{
	char *text = NULL;
	size_t len = 0;
	int rc = config_read_file(path, &text, &len, err, err_cap);
	if (rc < 0)
		return rc;
	rc = config_parse_with(cfg, err, err_cap, path, text, len);
	free(text);
	return rc;
}

int config_parse_string(const char *text, struct config *cfg, char *err, size_t err_cap)
{
	return config_parse_with(cfg, err, err_cap, NULL, text, strlen(text));
}

const char *config_join_name(enum config_join join)
{
	static const char *const names[] = {"left", "inner", "default"};
	return (unsigned)join < 3 ? names[join] : "?";
}

const char *config_io_cpus_text(const struct config *cfg, char *buf, size_t cap)
{
	snprintf(buf, cap, "any CPU");
	for (size_t i = 0, at = 0; i < cfg->io_cpu_count && at < cap; i++)
		at += (size_t)snprintf(buf + at, cap - at, "%s%d", i ? "," : "CPUs ", cfg->io_cpus[i]);
	return buf;
}

void config_urls_redact(const char *urls, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *c = urls; *c && o + 1 < cap;) {
		const char *scheme = strstr(c, "://");
		const char *comma = strchr(c, ',');
		const char *end = comma ? comma : c + strlen(c);
		const char *host = scheme && scheme < end ? scheme + 3 : c;
		const char *slash = host;
		while (slash < end && *slash != '/')
			slash++;
		const char *at = NULL;
		for (const char *q = host; q < slash; q++)
			if (*q == '@')
				at = q;
		const char *skip_from = at ? host : end, *skip_to = at ? at + 1 : end;
		for (const char *q = c; q < end && o + 1 < cap; q++) {
			if (q == skip_from)
				q = skip_to;
			if (q < end)
				out[o++] = *q;
		}
		if (!comma)
			break;
		if (o + 1 < cap)
			out[o++] = ',';
		c = comma + 1;
	}
	out[o] = 0;
}

void config_print(const struct config *cfg, FILE *out)
{
	static const char *const numa_names[] = {"auto", "off", "local", "replicate"};
	fprintf(out, "config:     %s\n", cfg->path);
	fprintf(out, "kafka:      brokers=%s topic=%s group=%s properties=%zu\n", cfg->brokers,
		cfg->topic, cfg->group_id, cfg->kafka_prop_count);
	fprintf(out, "workers:    %zu on CPUs", cfg->cpu_count);
	for (size_t i = 0; i < cfg->cpu_count; i++)
		fprintf(out, "%s%d", i ? "," : " ", cfg->cpus[i]);
	fprintf(out, " (numa=%s, batch=%u events)\n", numa_names[cfg->numa], cfg->batch_events);
	schema_print(&cfg->event, out);
	for (size_t i = 0; i < cfg->dim_count; i++) {
		const struct config_dim *d = &cfg->dims[i];
		fprintf(out, "dimension:  %s key=%s %s joined on event %s (%s join, %s) from ",
			d->name, d->key, d->key_type, d->join_field,
			config_join_name(d->join),
			d->key_normalize == CONFIG_KEY_EXACT ? "exact key" : "strip-query");
		if (d->postgresql[0]) {
			/* The connection string may hold a password: shown without it. */
			char conn[DIM_PG_NAME_MAX];
			dim_pg_conninfo_redact(d->postgresql, conn, sizeof(conn));
			fprintf(out, "postgresql %s %s (%s)\n", d->table[0] ? "table" : "query",
				d->table[0] ? d->table : d->query, conn);
		} else {
			fprintf(out, "%s [%s]\n", d->source, d->format);
		}
	}
	fprintf(out, "output:     %s instance=%s segment<=%llu bytes or %u ms", cfg->output_dir,
		cfg->instance, (unsigned long long)cfg->segment_bytes, cfg->segment_age_ms);
	if (cfg->segment_idle_ms > 0)
		fprintf(out, " or %u ms idle", cfg->segment_idle_ms);
	char io[256];
	fprintf(out, ", %u rows/block, %s writes run on %s\n", cfg->block_rows,
		cfg->direct_io == CONFIG_DIRECT_IO_OFF ? "page-cache" : "direct",
		config_io_cpus_text(cfg, io, sizeof(io)));
	fprintf(out, "dead letter: %s\n", cfg->dead_letter_dir);
	fprintf(out, "metrics:    %s\n", cfg->metrics_listen[0] ? cfg->metrics_listen : "off");
	if (cfg->registry_urls[0]) {
		/* User info in a URL is a credential: shown without it, as the password. */
		char urls[CONFIG_REGISTRY_URLS_MAX];
		config_urls_redact(cfg->registry_urls, urls, sizeof(urls));
		fprintf(out, "registry:   %s%s%s%s\n", urls,
			cfg->registry_username[0] || cfg->registry_password_file[0] ||
					cfg->registry_password_env[0]
				? " (basic auth)" : "",
			cfg->registry_ca_file[0] ? " (own CA)" : "",
			cfg->registry_cert_file[0] ? " (client certificate)" : "");
	}
	struct memplan m;
	if (memplan_compute(cfg, &m) == 0)
		memplan_print(&m, cfg, out);
}

void config_reference(FILE *out)
{
	const char *section = "";
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *key = &config_keys[i];
		if (strcmp(section, key->section) != 0) {
			section = key->section;
			fprintf(out, "\n### [%s%s]\n\n| key | default | meaning |\n|---|---|---|\n",
				section, strcmp(section, "dimension") == 0 ? " <name>" : "");
		}
		fprintf(out, "| `%s` | %s%s%s | %s%s%s |\n", key->name, key->value ? "`" : "",
			key->value ? (*key->value ? key->value : " ") : "required",
			key->value ? "`" : "", key->help, key->choices ? " One of: " : "",
			key->choices ? key->choices : "");
	}
}
