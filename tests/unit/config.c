#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"

static const char *const base_dims =
	"[dimension users]\n"
	"source = users.tsv\n"
	"key = user_id\n"
	"attr.country = LowCardinality(String)\n"
	"attr.signup_date = Date\n"
	"[dimension urls]\n"
	"source = urls.csv\n"
	"key = url\n"
	"key_type = String\n"
	"key_normalize = strip-query\n"
	"attr.domain = String\n";

static struct config cfg;
static char err[CONFIG_ERR_MAX];

static int parse_with(const char *extra)
{
	char text[4096];
	snprintf(text, sizeof(text), "%s%s", base_dims, extra);
	err[0] = '\0';
	return config_parse_string(text, &cfg, err, sizeof(err));
}

Test(config, defaults_and_dimensions)
{
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n"), 0, "%s", err);
	cr_expect_str_eq(cfg.topic, "clickstream");
	cr_expect_eq(cfg.segment_bytes, 256ull << 20);
	cr_expect_eq(cfg.segment_age_ms, 1000);
	cr_expect_eq(cfg.dim_count, 2);
	cr_expect_str_eq(cfg.dims[0].name, "users");
	cr_expect_str_eq(cfg.dims[0].join_field, "user_id");
	cr_expect_eq(cfg.dims[0].join, CONFIG_JOIN_LEFT);
	cr_expect_eq(cfg.dims[0].attr_count, 2);
	cr_expect_str_eq(cfg.dims[0].attrs[1].name, "signup_date");
	cr_expect_str_eq(cfg.dims[0].attrs[1].type, "Date");
	cr_expect_str_eq(cfg.dims[1].join_field, "url");
	cr_expect_eq(cfg.dims[1].key_normalize, CONFIG_KEY_STRIP_QUERY);
	cr_expect_eq(cfg.cpu_count, 1);
}

Test(config, units_and_properties)
{
	cr_assert_eq(parse_with("[output]\nsegment_bytes = 2GiB\nsegment_age_ms = 3s\n"
				"[kafka]\nproperty.fetch.max.bytes = 1048576\n"
				"[workers]\ncpus = 0\n"),
		     0, "%s", err);
	cr_expect_eq(cfg.segment_bytes, 2ull << 30);
	cr_expect_eq(cfg.segment_age_ms, 3000);
	cr_assert_eq(cfg.kafka_prop_count, 1);
	cr_expect_str_eq(cfg.kafka_props[0].key, "fetch.max.bytes");
	cr_expect_str_eq(cfg.kafka_props[0].value, "1048576");
}

Test(config, errors_name_the_key_and_reason)
{
	cr_expect_eq(parse_with("[output]\nsegment_bytes = lots\n"), -EINVAL);
	cr_expect(strstr(err, "segment_bytes") && strstr(err, "lots"), "%s", err);
	cr_expect(strstr(err, ":13:"), "line number missing: %s", err);

	cr_expect_eq(parse_with("[output]\nsegment_age_ms = 1ms\n"), -EINVAL);
	cr_expect(strstr(err, "segment_age_ms") && strstr(err, "outside"), "%s", err);

	cr_expect_eq(parse_with("[dimension devices]\nkey = device_id\nkey_type = String\n"
				"attr.os = String\n"),
		     -EINVAL);
	cr_expect(strstr(err, "devices") && strstr(err, "source: required"), "%s", err);

	cr_expect_eq(parse_with("[dimension dev]\nsource = x\nkey = device_id\nkey_type = String\n"
				"attr.os = String\njoin = outer\n"),
		     -EINVAL);
	cr_expect(strstr(err, "join") && strstr(err, "left|inner|default"), "%s", err);

	cr_expect_eq(parse_with("[workers]\ncpus = 0-\n"), -EINVAL);
	cr_expect(strstr(err, "cpus"), "%s", err);

	cr_expect_eq(parse_with("[output]\nbogus = 1\n"), -EINVAL);
	cr_expect(strstr(err, "unknown key 'bogus'"), "%s", err);

	cr_expect_eq(parse_with("[nonsense]\nx = 1\n"), -EINVAL);
	cr_expect(strstr(err, "unknown section"), "%s", err);

	cr_expect_eq(parse_with("[dimension more]\nsource = x\nkey = user_id\nattr.a = String\n"),
		     -EINVAL);
	cr_expect(strstr(err, "joined by [dimension users]"), "%s", err);

	cr_expect_eq(parse_with("[dimension dev]\nsource = x\nkey = device_id\nkey_type = String\n"
				"attr.country = String\n"),
		     -EINVAL);
	cr_expect(strstr(err, "attr.country") && strstr(err, "[dimension users]"), "%s", err);

	cr_expect_eq(parse_with("[dimension dev]\nsource = x\nkey = device_id\nkey_type = String\n"
				"attr._offset = UInt64\n"),
		     -EINVAL);
	cr_expect(strstr(err, "attr._offset"), "%s", err);

	cr_expect_eq(parse_with("[dimension d]\nsource = x\nkey = device_id\nattr.a = String\n"),
		     -EINVAL);
	cr_expect(strstr(err, "String key"), "%s", err);
}

Test(config, missing_file_names_the_path)
{
	cr_expect_lt(config_load("/nonexistent/enrichd.ini", &cfg, err, sizeof(err)), 0);
	cr_expect(strstr(err, "/nonexistent/enrichd.ini"), "%s", err);
}

Test(config, cpu_lists)
{
	int cpus[8];
	cr_expect_eq(config_cpu_list_parse("0-2,5", cpus, 8), 4);
	cr_expect_eq(cpus[3], 5);
	cr_expect_eq(config_cpu_list_parse("1,1", cpus, 8), -EINVAL);
	cr_expect_eq(config_cpu_list_parse("0-9", cpus, 8), -E2BIG);
	cr_expect_eq(config_cpu_list_parse("", cpus, 8), -EINVAL);
	cr_expect_eq(config_cpu_list_parse("3-1", cpus, 8), -EINVAL);
}

/* io_cpus: `auto` is the allowed CPUs without the workers', `any` none, a list as given. */
Test(config, io_cpus_keep_the_copy_off_the_workers)
{
	cpu_set_t allowed;
	cr_assert_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n"), 0, "%s", err);
	cr_expect_eq(cfg.io_cpu_count, (size_t)CPU_COUNT(&allowed) - CPU_ISSET(0, &allowed));
	for (size_t i = 0; i < cfg.io_cpu_count; i++) {
		cr_expect_neq(cfg.io_cpus[i], 0, "a worker's CPU");
		cr_expect(CPU_ISSET(cfg.io_cpus[i], &allowed));
	}
	cr_assert_eq(parse_with("[workers]\ncpus = auto\n"), 0, "%s", err);
	cr_expect_eq(cfg.io_cpu_count, 0, "every allowed CPU runs a worker: any CPU");
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n[output]\nio_cpus = any\n"), 0, "%s", err);
	cr_expect_eq(cfg.io_cpu_count, 0);
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n[output]\nio_cpus = 0\n"), 0, "%s", err);
	cr_expect(cfg.io_cpu_count == 1 && cfg.io_cpus[0] == 0, "a list is taken as given");
	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[output]\nio_cpus = some\n"), -EINVAL);
	cr_expect(strstr(err, "io_cpus") && strstr(err, "'some'"), "%s", err);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[output]\nio_cpus = 1000\n"), -EINVAL);
	cr_expect(strstr(err, "io_cpus: CPU 1000 does not exist"), "%s", err);
}

Test(config, direct_io_is_on_unless_turned_off)
{
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n"), 0, "%s", err);
	cr_expect_eq(cfg.direct_io, CONFIG_DIRECT_IO_AUTO);
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n[output]\ndirect_io = off\n"), 0, "%s", err);
	cr_expect_eq(cfg.direct_io, CONFIG_DIRECT_IO_OFF);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[output]\ndirect_io = yes\n"), -EINVAL);
	cr_expect(strstr(err, "direct_io") && strstr(err, "'yes'") && strstr(err, "auto|off"), "%s",
		  err);
}

/* An empty path or required value is an error naming the line and the key, never "/" or "". */
Test(config, empty_values_and_paths_are_errors)
{
	static const struct {
		const char *text, *key;
	} cases[] = {
		{"[dead_letter]\ndir =\n", "[dead_letter]: dir: empty"},
		{"[output]\ndir =\n", "[output]: dir: empty"},
		{"[kafka]\nbrokers =\n", "[kafka]: brokers: empty"},
		{"[kafka]\ntopic =\n", "[kafka]: topic: empty"},
		{"[kafka]\ngroup_id =\n", "[kafka]: group_id: empty"},
		{"[dimension d]\nsource =\nkey = device_id\nkey_type = String\nattr.os = String\n",
		 "[dimension d]: source: empty"},
		{"[output]\ndir = out\tput\n", "[output]: dir: the path holds a control character"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(parse_with(cases[i].text), -EINVAL, "%s", cases[i].text);
		cr_expect(strstr(err, cases[i].key) && strstr(err, "<string>:13:"), "%s", err);
	}
}

/* Writes text to a file under dir; returns its path (static buffer). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	t_write_file(path, text, strlen(text));
	return path;
}

/* config_load looks at the paths: directories usable, sources readable files. */
Test(config, paths_are_checked_on_the_file_system)
{
	char dir[] = "/tmp/enrichd-config-XXXXXX";
	cr_assert(mkdtemp(dir));
	char text[4096];
	write_file(dir, "users.tsv", "user_id\tcountry\n1\tDE\n");
	write_file(dir, "plain", "x");
#define PATHS_INI                                                                         \
	"[workers]\ncpus = 0\n[dimension users]\nsource = %s/%s\nkey = user_id\n"              \
	"attr.country = String\n[output]\ndir = %s/%s\n[dead_letter]\ndir = %s/%s\n"
	const struct {
		const char *source, *out, *dl, *want;
	} cases[] = {
		{"users.tsv", "out", "dl", NULL},
		{"users.tsv", "out/a/b", "dl", NULL},
		{"none.tsv", "out", "dl", ":4: [dimension users]: source: "},
		{".", "out", "dl", ":4: [dimension users]: source: "},
		{"users.tsv", "plain", "dl", ":8: [output]: dir: "},
		{"users.tsv", "out", "plain/x", ":10: [dead_letter]: dir: "},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), PATHS_INI, dir, cases[i].source, dir, cases[i].out, dir,
			 cases[i].dl);
		const char *path = write_file(dir, "enrichd.ini", text);
		int rc = config_load(path, &cfg, err, sizeof(err));
		if (!cases[i].want) {
			cr_expect_eq(rc, 0, "%s", err);
			continue;
		}
		cr_expect_eq(rc, -EINVAL, "case %zu", i);
		cr_expect(strstr(err, cases[i].want) && strstr(err, "enrichd.ini"), "%s", err);
	}
	t_rm_tree(dir);
}

/* Lines far longer than inih's 200-byte default: long broker lists and PATH_MAX paths. */
Test(config, long_lines_keep_their_values)
{
	static char text[3 * CONFIG_LINE_MAX];
	char brokers[1024] = "";
	for (int i = 1; i <= 6; i++)
		snprintf(brokers + strlen(brokers), sizeof(brokers) - strlen(brokers),
			 "%skafka-broker-%02d.streaming.eu-west-1.internal.example.com:9092",
			 i > 1 ? "," : "", i);
	char source[PATH_MAX];
	memset(source, 'd', sizeof(source) - 1);
	source[0] = '/';
	source[sizeof(source) - 1] = '\0';
	snprintf(text, sizeof(text), "[kafka]\nbrokers = %s\n[workers]\ncpus = 0\n"
		 "[dimension users]\nsource = %s\nkey = user_id\nattr.country = String\n",
		 brokers, source);
	cr_assert_eq(config_parse_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(cfg.brokers, brokers);
	cr_expect_str_eq(cfg.dims[0].source, source);

	/* A value that does not fit its field says so; a line past CONFIG_LINE_MAX too. */
	source[sizeof(source) - 1] = 'd';
	char *at = text + snprintf(text, sizeof(text), "[workers]\ncpus = 0\n[dimension users]\n"
				   "source = %.*s\n", (int)sizeof(source), source);
	snprintf(at, sizeof(text) - (size_t)(at - text), "key = user_id\nattr.country = String\n");
	cr_expect_eq(config_parse_string(text, &cfg, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, ":4: [dimension users]: source: value longer than"), "%s", err);
	memset(text, 'x', CONFIG_LINE_MAX + 1);
	memcpy(text, "; ", 2);
	snprintf(text + CONFIG_LINE_MAX + 1, sizeof(text) - CONFIG_LINE_MAX - 1, "\n");
	cr_expect_eq(config_parse_string(text, &cfg, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "<string>:1: line of 16385 bytes, longer than"), "%s", err);
}

/* A section or key given twice is an error naming both lines, not the last one winning. */
Test(config, duplicates_name_both_lines)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"[output]\nblock_rows = 1\nblock_rows = 2\n", ":14: [output]: block_rows: set twice, at lines 13 and 14"},
		{"[output]\nblock_rows = 1\n[kafka]\ntopic = a\n[output]\nopen_segments = 2\n",
		 ":16: [output]: section given twice, at lines 12 and 16"},
		{"[dimension users]\nkey = user_id\n", ":12: [dimension users]: section given twice, at lines 1 and 12"},
		{"[dimension  urls]\n", ":12: [dimension urls]: section given twice, at lines 6 and 12"},
		{"[dimension d]\nsource = a\nsource = b\n", ":14: [dimension d]: source: set twice, at lines 13 and 14"},
		{"[dimension d]\nsource = x\nkey = device_id\nkey_type = String\nattr.os = String\n"
		 "attr.os = String\n", ":17: [dimension d]: attr.os: attribute listed twice, at lines 16 and 17"},
		{"[kafka]\nproperty.fetch.max.bytes = 1\nproperty.fetch.max.bytes = 2\n",
		 ":14: [kafka]: property.fetch.max.bytes: set twice, at lines 13 and 14"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(parse_with(cases[i].text), -EINVAL, "%s", cases[i].text);
		cr_expect(strstr(err, cases[i].want), "%s\nwant: %s", err, cases[i].want);
	}
	/* An indented line is a line of its own, not the continuation of the value above it. */
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n[output]\nblock_rows = 16\n  open_segments = 2\n"),
		     0, "%s", err);
	cr_expect_eq(cfg.block_rows, 16);
	cr_expect_eq(cfg.open_segments, 2);
}

/* reload_interval: 0 (off) or at least CONFIG_RELOAD_INTERVAL_MS_MIN. */
Test(config, reload_interval_has_a_floor)
{
	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[dimensions]\nreload_interval = 1ms\n"), -EINVAL);
	cr_expect(strstr(err, "reload_interval: 1ms is outside [10000,") && strstr(err, "or 0"),
		  "%s", err);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[dimensions]\nreload_interval = 0\n"), 0, "%s",
		     err);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[dimensions]\nreload_interval = 10s\n"), 0,
		     "%s", err);
	cr_expect_eq(cfg.reload_interval_ms, 10000);
}

/* Settings whose blocks, pools and queues cannot fit the memory limit do not pass. */
Test(config, memory_bound_names_the_settings)
{
	cr_assert_eq(parse_with("[workers]\ncpus = 0\n"), 0, "%s", err);
	cr_expect_gt(cfg.memory_limit, 0);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[output]\nblock_rows = 4194304\n"
				"open_segments = 1024\n"),
		     -EINVAL);
	cr_expect(strstr(err, "memory_limit") && strstr(err, "block_rows") &&
		  strstr(err, "open_segments") && strstr(err, "inflight_bytes"), "%s", err);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\nmemory_limit = 64MiB\n"), -EINVAL);
	cr_expect(strstr(err, "more than [workers] memory_limit (64 MiB)"), "%s", err);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\nmemory_limit = 64TiB\n[output]\n"
				"block_rows = 4194304\nopen_segments = 1024\n"),
		     0, "%s", err);
	cr_expect_eq(parse_with("[workers]\ncpus = 0\nmemory_limit = lots\n"), -EINVAL);
}

/* [event]: declared fields in file order, the time field, metadata and the catch-all; the
 * dimensions join declared fields. */
Test(config, event_section_declares_the_fields)
{
	const char *text =
		"[event]\n"
		"format = json\n"
		"time_field = at\n"
		"catch_all = rest\n"
		"metadata = _topic, _offset, _key, _headers\n"
		"field.at = DateTime64(6, 'UTC') from ts unit=us\n"
		"field.uid = UInt32 from user.id\n"
		"field.page = String from page.url\n"
		"field.referrer = Nullable(String) from page.referrer\n"
		"[dimension users]\n"
		"source = users.tsv\n"
		"key = user_id\n"
		"join_field = uid\n"
		"attr.country = LowCardinality(String)\n"
		"[dimension urls]\n"
		"source = urls.csv\n"
		"key = url\n"
		"key_type = String\n"
		"join_field = page\n"
		"key_normalize = strip-query\n"
		"attr.domain = String\n"
		"[workers]\ncpus = 0\n";
	cr_assert_eq(config_parse_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	const struct schema *ev = &cfg.event;
	cr_assert_eq(ev->field_count, 4);
	cr_expect_str_eq(ev->fields[0].name, "at");
	cr_expect_str_eq(ev->fields[3].path, "page.referrer");
	cr_expect_eq(ev->fields[1].line, 7);
	cr_expect_eq(ev->time_index, 0);
	cr_expect_str_eq(ev->catch_all, "rest");
	cr_expect_eq(ev->meta_count, 5);
	cr_expect_str_eq(cfg.dims[0].join_field, "uid");
	cr_expect_eq(cfg.dims[0].join_index, 1);
	cr_expect_eq(cfg.dims[1].join_index, 2);
}

/* Without field lines the default schema, with the section's other keys applied. */
Test(config, event_section_without_fields_keeps_the_default_schema)
{
	cr_assert_eq(parse_with("[event]\nmetadata = _offset\n[workers]\ncpus = 0\n"), 0, "%s", err);
	cr_assert_eq(cfg.event.field_count, 4);
	cr_expect_str_eq(cfg.event.fields[0].name, "event_time");
	cr_expect_eq(cfg.event.meta_count, 1);
	cr_expect_eq(parse_with("[event]\ntime_field = ts\n"), -EINVAL);
	cr_expect(strstr(err, ":13:") && strstr(err, "not a field of the default schema"), "%s", err);
}

/* A bad declaration fails at start, naming file:line and the reason. */
Test(config, event_errors_name_the_line)
{
	static const struct {
		const char *event, *dims, *want;
	} cases[] = {
		{"field.t = DateTime\nfield.x = Strin\n", "", ":3: [event]: field.x: type 'Strin'"},
		{"field.t = DateTime\nfield.x = String from a..b\n", "", ":3: [event]: field.x: path"},
		{"time_field = u\nfield.t = DateTime\n", "", ":2: [event]: time_field: 'u' is not"},
		{"field.t = DateTime\n", "", "[event]: time_field: required"},
		{"field.t = DateTime\nfield.t = String\n", "", ":3: [event]: field.t: set twice, at lines 2 and 3"},
		{"field.t = DateTime\nfield._offset = UInt64\n", "", ":3: [event]: field._offset: the metadata column"},
		{"field.t = DateTime\nfield.n = UInt8 default=300\n", "", ":3: [event]: field.n: default=300: n: out of range"},
		{"field.t = DateTime\nfield.u = UUID default=zz\n", "", ":3: [event]: field.u: default=zz: u: not a UUID"},
		{"field.t = DateTime\nfield.user_id = UInt64\n",
		 "[dimension urls]\nsource = u.csv\nkey = url\nkey_type = String\nattr.d = String\n",
		 "[dimension urls]: join_field: required (key 'url' is not an event field)"},
		{"field.t = DateTime\nfield.user_id = UInt64\n",
		 "[dimension urls]\nsource = u.csv\nkey = url\nkey_type = String\njoin_field = nope\nattr.d = String\n",
		 ":9: [dimension urls]: join_field: 'nope' is not a declared event field"},
		{"field.t = DateTime\nfield.user_id = UInt64\nfield.f = Float64\n",
		 "[dimension urls]\nsource = u.csv\nkey = url\nkey_type = String\njoin_field = f\nattr.d = String\n",
		 "join_field: f is Float64"},
		{"field.t = DateTime\nfield.user_id = UInt64\nfield.s = String\n",
		 "[dimension urls]\nsource = u.csv\nkey = url\njoin_field = s\nattr.d = String\n",
		 "key_type: s (String) joins need a String key"},
		{"field.t = DateTime\nfield.user_id = UInt64\nfield.s = FixedString(8)\n",
		 "[dimension urls]\nsource = u.csv\nkey = url\nkey_type = String\njoin_field = s\n"
		 "key_normalize = strip-query\nattr.d = String\n",
		 "key_normalize: strip-query applies to String fields"},
		{"field.t = DateTime\nfield.user_id = UInt64\nfield.d = String\n",
		 "[dimension urls]\nsource = u.csv\nkey = url\nkey_type = String\njoin_field = d\nattr.user_id = String\n",
		 "attr.user_id: the output already has a column of that name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[2048];
		snprintf(text, sizeof(text),
			 "[event]\n%stime_field = t\n%s[dimension users]\nsource = users.tsv\n"
			 "key = user_id\nattr.country = String\n[workers]\ncpus = 0\n",
			 cases[i].event, cases[i].dims);
		/* Most cases set time_field themselves; the required case must not. */
		if (strstr(cases[i].event, "time_field") ||
		    strstr(cases[i].want, "time_field: required"))
			snprintf(text, sizeof(text),
				 "[event]\n%s%s[dimension users]\nsource = users.tsv\nkey = user_id\n"
				 "attr.country = String\n[workers]\ncpus = 0\n",
				 cases[i].event, cases[i].dims);
		err[0] = '\0';
		cr_expect_eq(config_parse_string(text, &cfg, err, sizeof(err)), -EINVAL,
			     "case %zu accepted", i);
		cr_expect(strstr(err, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err,
			  cases[i].want);
	}
}

Test(config, registry_section_goes_with_avro_input)
{
	/* Avro needs the registry; JSON refuses any [registry] key; credentials never shown. */
	static const char *const avro_event =
		"[event]\nformat = avro-confluent\ntime_field = t\nfield.t = DateTime\n"
		"field.user_id = UInt64\nfield.url = String\n";
	char text[1024];
	snprintf(text, sizeof(text), "%s[workers]\ncpus = 0\n", avro_event);
	cr_expect_eq(parse_with(text), -EINVAL);
	cr_expect(strstr(err, "[registry]: urls: required"), "%s", err);

	snprintf(text, sizeof(text),
		 "%s[workers]\ncpus = 0\n[registry]\nurls = https://u:pw@sr:8081,http://sr2\n"
		 "username = u\npassword_env = SR_PASSWORD\ntimeout = 3s\n", avro_event);
	cr_assert_eq(parse_with(text), 0, "%s", err);
	cr_expect_eq(cfg.registry_timeout_ms, 3000);
	char shown[CONFIG_REGISTRY_URLS_MAX];
	config_urls_redact(cfg.registry_urls, shown, sizeof(shown));
	cr_expect_str_eq(shown, "https://sr:8081,http://sr2");

	cr_expect_eq(parse_with("[workers]\ncpus = 0\n[registry]\nusername = u\n"), -EINVAL);
	cr_expect(strstr(err, "[registry]: username: only for [event] format = avro-confluent"),
		  "%s", err);

	snprintf(text, sizeof(text),
		 "%s[workers]\ncpus = 0\n[registry]\nurls = http://sr\npassword_env = A\n"
		 "password_file = f\n", avro_event);
	cr_expect_eq(parse_with(text), -EINVAL);
	cr_expect(strstr(err, "password_file is given already"), "%s", err);
}
