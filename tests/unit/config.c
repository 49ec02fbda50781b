#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "config.h"

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
	cr_expect_eq(cfg.dims[0].join_field, CONFIG_FIELD_USER_ID);
	cr_expect_eq(cfg.dims[0].join, CONFIG_JOIN_LEFT);
	cr_expect_eq(cfg.dims[0].attr_count, 2);
	cr_expect_str_eq(cfg.dims[0].attrs[1].name, "signup_date");
	cr_expect_str_eq(cfg.dims[0].attrs[1].type, "Date");
	cr_expect_eq(cfg.dims[1].join_field, CONFIG_FIELD_URL);
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

	cr_expect_eq(parse_with("[dimension users]\njoin = outer\n"), -EINVAL);
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
