/*
 * Unit tests of changelog messages read as changes: keys of both types, values taken as the
 * file loaders take text, tombstones, JSON escapes, and every refusal with its code.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "changelog.h"

static const struct dim_attr_spec attrs[] = {
	{"country", DIM_TYPE_LC_STRING, true},
	{"age", DIM_TYPE_UINT8, true},
	{"since", DIM_TYPE_DATE, false},
};

static struct dim_spec spec_of(enum dim_type key_type)
{
	return (struct dim_spec){.name = "t", .key_column = "id", .key_type = key_type,
				 .attrs = attrs, .attr_count = 3};
}

static char arena_buf[4096];
static size_t arena_used;
static struct dim_change ch;
static struct dim_str vals[3];
static const char *error;
static char reason[CHANGELOG_REASON_MAX];

static int decode(enum dim_type key_type, const char *key, const char *value)
{
	struct dim_spec spec = spec_of(key_type);
	struct changelog_arena arena = {arena_buf, sizeof(arena_buf), &arena_used};
	arena_used = 0;
	return changelog_decode(&spec, key, key ? strlen(key) : 0, value,
				value ? strlen(value) : 0, &arena, &ch, vals, &error, reason,
				sizeof(reason));
}

static bool val_is(unsigned a, const char *want)
{
	if (!want)
		return vals[a].ptr == NULL;
	return vals[a].ptr && vals[a].len == strlen(want) && memcmp(vals[a].ptr, want, vals[a].len) == 0;
}

Test(changelog, values_as_text)
{
	cr_assert_eq(decode(DIM_TYPE_UINT64, "18446744073709551615",
			    "{\"age\": 42, \"country\":\"PL\", \"extra\":{\"x\":[1,2]}, \"since\":\"2020-01-02\"}"), 0,
		     "%s", reason);
	cr_expect_eq(ch.key_u64, UINT64_MAX);
	cr_expect(!ch.deleted);
	cr_expect(val_is(0, "PL"));
	cr_expect(val_is(1, "42"));
	cr_expect(val_is(2, "2020-01-02"));
}

Test(changelog, absent_null_and_booleans)
{
	cr_assert_eq(decode(DIM_TYPE_UINT64, "7", "{\"age\":true,\"country\":null}"), 0, "%s", reason);
	cr_expect(val_is(0, NULL));
	cr_expect(val_is(1, "1"));
	cr_expect(val_is(2, NULL), "an absent attribute is NULL");
}

Test(changelog, escapes_and_surrogates)
{
	cr_assert_eq(decode(DIM_TYPE_STRING, "dev-1", "{\"country\":\"a\\tb\\\"\\u00e9\\ud83d\\ude00\"}"), 0,
		     "%s", reason);
	cr_expect(ch.key.len == 5 && memcmp(ch.key.ptr, "dev-1", 5) == 0);
	cr_expect(val_is(0, "a\tb\"\xc3\xa9\xf0\x9f\x98\x80"));
}

Test(changelog, tombstone_deletes)
{
	cr_assert_eq(decode(DIM_TYPE_UINT64, "12", NULL), 0);
	cr_expect(ch.deleted);
	cr_expect_eq(ch.key_u64, 12);
}

Test(changelog, refusals)
{
	static const struct {
		enum dim_type key_type;
		const char *key, *value, *error, *reason;
	} cases[] = {
		{DIM_TYPE_UINT64, "abc", "{}", "changelog_key", "not a UInt64"},
		{DIM_TYPE_UINT64, "18446744073709551616", "{}", "changelog_key", "not a UInt64"},
		{DIM_TYPE_UINT64, "-1", "{}", "changelog_key", "not a UInt64"},
		{DIM_TYPE_UINT64, NULL, "{}", "changelog_key", "no key"},
		{DIM_TYPE_UINT64, "1", "not json", "changelog_json", "not a JSON object"},
		{DIM_TYPE_UINT64, "1", "[1]", "changelog_json", "not a JSON object"},
		{DIM_TYPE_UINT64, "1", "{\"age\":1} x", "changelog_json", "after the object"},
		{DIM_TYPE_UINT64, "1", "{\"age\":1", "changelog_json", "unterminated"},
		{DIM_TYPE_UINT64, "1", "{\"age\":1,\"age\":2}", "changelog_json", "given twice"},
		{DIM_TYPE_UINT64, "1", "{\"country\":{\"a\":1}}", "changelog_json", "object or an array"},
		{DIM_TYPE_UINT64, "1", "{\"country\":\"\\x\"}", "changelog_json", "bad escape"},
		{DIM_TYPE_UINT64, "1", "{\"country\":\"\\ud800\"}", "changelog_json", "bad escape"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(decode(cases[i].key_type, cases[i].key, cases[i].value), -EINVAL,
			     "case %zu", i);
		cr_expect_str_eq(error, cases[i].error, "case %zu", i);
		cr_expect(strstr(reason, cases[i].reason), "case %zu: %s", i, reason);
		cr_expect_eq(arena_used, 0, "case %zu: nothing kept", i);
	}
}
