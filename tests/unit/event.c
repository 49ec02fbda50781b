/*
 * Unit tests of the JSON event decoder. Every message is copied into a heap block of exactly its
 * length (no NUL after it), so that the sanitizer build catches any read past the end.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../event_default.h"
#include "event.h"
#include "schema.h"

#define SCRATCH_CAP 4096

static char scratch[SCRATCH_CAP];
static char *msg_copy; /* the exact-size copy of the last decoded message */
static size_t msg_len;
static struct event_error last_err;

static void free_copy(void)
{
	free(msg_copy);
	msg_copy = NULL;
}

TestSuite(event, .fini = free_copy);

/* Decodes the first len bytes of json from an exact-size copy with a scratch of cap bytes. */
static int decode_n_cap(const char *json, size_t len, struct event *ev, size_t cap)
{
	free_copy();
	msg_copy = malloc(len ? len : 1);
	cr_assert_not_null(msg_copy);
	memcpy(msg_copy, json, len);
	msg_len = len;
	memset(ev, 0, sizeof(*ev));
	last_err.reason = NULL;
	last_err.offset = (size_t)-1;
	int rc = decode_default(msg_copy, len, ev, scratch, cap, &last_err);
	if (rc != 0) {
		cr_expect_not_null(last_err.reason, "no reason for %s", json);
		cr_expect(last_err.offset <= len, "offset %zu beyond %zu", last_err.offset, len);
	}
	return rc;
}

static int decode_n(const char *json, size_t len, struct event *ev)
{
	return decode_n_cap(json, len, ev, SCRATCH_CAP);
}

static int decode(const char *json, struct event *ev)
{
	return decode_n(json, strlen(json), ev);
}

/* A valid event around one replaced member: "{" prefix member suffix "}". */
#define EV_TS "\"timestamp\":\"2026-11-24T10:15:30.123+02:00\""
#define EV_USER "\"user_id\":42"
#define EV_URL "\"url\":\"https://example.com/a\""
#define EV_DEV "\"device_id\":\"dev-1\""
#define EV_ALL EV_TS "," EV_USER "," EV_URL "," EV_DEV

static void expect_str(const char *got, uint32_t got_len, const char *want, size_t want_len)
{
	cr_expect_eq(got_len, want_len, "length %u, want %zu", got_len, want_len);
	if (got_len == want_len)
		cr_expect(memcmp(got, want, want_len) == 0, "got '%.*s', want '%.*s'", (int)got_len,
			  got, (int)want_len, want);
}

static bool points_into_message(const char *p, size_t len)
{
	return p >= msg_copy && p + len <= msg_copy + msg_len;
}

static bool points_into_scratch(const char *p, size_t len)
{
	return p >= scratch && p + len <= scratch + SCRATCH_CAP;
}

struct expect_code {
	const char *json;
	int code;
};

static void expect_codes(const struct expect_code *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct event ev;
		int rc = decode(cases[i].json, &ev);
		cr_expect_eq(rc, cases[i].code, "%s: got %s (%s), want %s", cases[i].json,
			     event_err_name(rc), rc ? last_err.reason : "", event_err_name(cases[i].code));
	}
}

struct expect_time {
	const char *timestamp; /* the JSON value, quotes included for strings */
	int code;
	int64_t time_ms;
};

static void expect_times(const struct expect_time *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char json[512];
		snprintf(json, sizeof(json), "{\"timestamp\":%s," EV_USER "," EV_URL "," EV_DEV "}",
			 cases[i].timestamp);
		struct event ev;
		int rc = decode(json, &ev);
		cr_expect_eq(rc, cases[i].code, "%s: got %s (%s), want %s", cases[i].timestamp,
			     event_err_name(rc), rc ? last_err.reason : "",
			     event_err_name(cases[i].code));
		if (rc == 0 && cases[i].code == 0)
			cr_expect_eq(ev.time_ms, cases[i].time_ms, "%s: %lld, want %lld",
				     cases[i].timestamp, (long long)ev.time_ms,
				     (long long)cases[i].time_ms);
	}
}

Test(event, typical_event)
{
	struct event ev;
	const char *json = "{\"timestamp\":\"2026-11-24T10:15:30.123+02:00\",\"user_id\":12345,"
			   "\"url\":\"https://shop.example.com/p/42?ref=home\",\"device_id\":\"d-9f3\"}";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	cr_expect_eq(ev.time_ms, 1795508130123);
	cr_expect_eq(ev.user_id, 12345);
	expect_str(ev.url, ev.url_len, "https://shop.example.com/p/42?ref=home", 38);
	expect_str(ev.device_id, ev.device_id_len, "d-9f3", 5);
	cr_expect(points_into_message(ev.url, ev.url_len), "url is not zero-copy");
	cr_expect(points_into_message(ev.device_id, ev.device_id_len), "device_id is not zero-copy");
	cr_expect_eq(ev.scratch_used, 0);
}

Test(event, any_order_and_whitespace)
{
	struct event ev;
	const char *json = " \t\r\n{ \"device_id\" :\t\"d\" ,\n\"url\"\r\n:\"u\" , \"user_id\" : 7 ,"
			   "\"timestamp\" : 0 } \n\t\r ";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	cr_expect_eq(ev.time_ms, 0);
	cr_expect_eq(ev.user_id, 7);
	expect_str(ev.url, ev.url_len, "u", 1);
	expect_str(ev.device_id, ev.device_id_len, "d", 1);
}

Test(event, unknown_fields_skipped)
{
	struct event ev;
	const char *json =
		"{\"a\":{\"b\":[1,-2.5e+10,0.0,1E-2,{\"c\":null},[],{}],\"d\":\"x\\\"y\\u00e9\\ud83d\\ude00\"},"
		"\"e\":true,\"f\":false,\"g\":null,\"h\":-0,\"i\":[[[[\"deep\"]]]]," EV_ALL
		",\"z\":\"\",\"\":0,\"zz\":{ \"k\" : [ true , false , null ] }}";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	cr_expect_eq(ev.user_id, 42);
	expect_str(ev.url, ev.url_len, "https://example.com/a", 21);
}

Test(event, unknown_field_named_like_known_in_nested_object)
{
	struct event ev;
	const char *json = "{\"x\":{\"url\":1,\"user_id\":\"bad\"}," EV_ALL "}";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	expect_str(ev.url, ev.url_len, "https://example.com/a", 21);
}

Test(event, timestamp_offsets_and_separators)
{
	static const struct expect_time cases[] = {
		{"\"2026-11-24T08:15:30Z\"", 0, 1795508130000},
		{"\"2026-11-24T08:15:30z\"", 0, 1795508130000},
		{"\"2026-11-24t08:15:30Z\"", 0, 1795508130000},
		{"\"2026-11-24t08:15:30z\"", 0, 1795508130000},
		{"\"2026-11-24T10:15:30.123+02:00\"", 0, 1795508130123},
		{"\"2026-01-01T05:30:00+05:30\"", 0, 1767225600000},
		{"\"2025-12-31T16:00:00-08:00\"", 0, 1767225600000},
		{"\"2026-01-01T00:00:00+00:00\"", 0, 1767225600000},
		{"\"2026-01-01T00:00:00-00:00\"", 0, 1767225600000},
		{"\"2026-01-01T23:59:00+23:59\"", 0, 1767225600000},
		{"\"2025-12-31T00:01:00-23:59\"", 0, 1767225600000},
		{"\"2026-01-01T00:00:00+24:00\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00+05:60\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00+0530\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00+05\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00+5:30\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00.5\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00UTC\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00Z \"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00ZZ\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00+05:30:00\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01 00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01X00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-1-01T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T0:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"26-01-01T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"+2026-01-01T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026/01/01T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00.Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00,5Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T00:00:00.5.5Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"２０２６-01-01T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
	};
	expect_times(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, timestamp_fractions)
{
	static const struct expect_time cases[] = {
		{"\"2026-01-01T00:00:00Z\"", 0, 1767225600000},
		{"\"2026-01-01T00:00:00.1Z\"", 0, 1767225600100},
		{"\"2026-01-01T00:00:00.12Z\"", 0, 1767225600120},
		{"\"2026-01-01T00:00:00.123Z\"", 0, 1767225600123},
		{"\"2026-01-01T00:00:00.1234Z\"", 0, 1767225600123},
		{"\"2026-01-01T00:00:00.12345Z\"", 0, 1767225600123},
		{"\"2026-01-01T00:00:00.123456Z\"", 0, 1767225600123},
		{"\"2026-01-01T00:00:00.1234567Z\"", 0, 1767225600123},
		{"\"2026-01-01T00:00:00.12345678Z\"", 0, 1767225600123},
		{"\"2026-01-01T00:00:00.123456789Z\"", 0, 1767225600123},
		{"\"2026-01-01T00:00:00.999999999Z\"", 0, 1767225600999},
		{"\"2026-01-01T00:00:00.000000001Z\"", 0, 1767225600000},
		{"\"2026-01-01T00:00:00.0+01:00\"", 0, 1767222000000},
		{"\"2026-01-01T00:00:00.05-01:00\"", 0, 1767229200050},
		{"\"2026-01-01T00:00:00.12345678901234567890123456789012345678901234567890Z\"", 0,
		 1767225600123},
	};
	expect_times(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, timestamp_dates_and_leap_years)
{
	static const struct expect_time cases[] = {
		{"\"2024-02-29T00:00:00Z\"", 0, 1709164800000},
		{"\"2000-02-29T12:00:00Z\"", 0, 951825600000},
		{"\"2296-02-29T00:00:00Z\"", 0, 10292659200000},
		{"\"2400-02-29T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0}, /* a leap day, past 2299 */
		{"\"1999-12-31T23:59:59Z\"", 0, 946684799000},
		{"\"2023-02-29T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2100-02-29T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2024-02-30T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-04-31T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-06-31T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-09-31T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-11-31T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-32T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-00T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-00-10T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-13-10T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-12-31T23:59:59.999Z\"", 0, 1798761599999},
		{"\"2026-01-31T00:00:00Z\"", 0, 1769817600000},
		{"\"2026-01-01T24:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T23:60:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T23:59:60Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-01-01T99:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
	};
	expect_times(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, timestamp_range)
{
	static const struct expect_time cases[] = {
		{"\"1970-01-01T00:00:00Z\"", 0, 0},
		{"\"1970-01-01T01:00:00+01:00\"", 0, 0},
		{"\"1969-12-31T23:59:59.999Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"1970-01-01T00:30:00+01:00\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"1969-12-31T23:00:00-01:00\"", 0, 0},
		{"\"0000-01-01T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2299-12-31T23:59:59.999Z\"", 0, EVENT_TIME_MS_MAX},
		{"\"2299-12-31T23:59:59.999+00:01\"", 0, EVENT_TIME_MS_MAX - 60000},
		{"\"2299-12-31T23:59:59.999-00:01\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2300-01-01T00:00:00Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2300-01-01T00:59:59.999+01:00\"", 0, EVENT_TIME_MS_MAX},
		{"\"9999-12-31T23:59:59.999Z\"", EVENT_ERR_TIMESTAMP, 0},
		{"0", 0, 0},
		{"1795508130123", 0, 1795508130123},
		{"10413791999999", 0, EVENT_TIME_MS_MAX},
		{"10413792000000", EVENT_ERR_TIMESTAMP, 0},
		{"253402300799999", EVENT_ERR_TIMESTAMP, 0},
		{"999999999999999", EVENT_ERR_TIMESTAMP, 0},
		{"1000000000000000", EVENT_ERR_TIMESTAMP, 0},
		{"99999999999999999999999999999", EVENT_ERR_TIMESTAMP, 0},
		{"-1", EVENT_ERR_TIMESTAMP, 0},
		{"-0", EVENT_ERR_TIMESTAMP, 0},
		{"1.5", EVENT_ERR_TIMESTAMP, 0},
		{"1795508130123.0", EVENT_ERR_TIMESTAMP, 0},
		{"1e3", EVENT_ERR_TIMESTAMP, 0},
		{"1e400", EVENT_ERR_TIMESTAMP, 0},
		{"\"1795508130123\"", EVENT_ERR_TIMESTAMP, 0},
		{"true", EVENT_ERR_TYPE, 0},
		{"null", EVENT_ERR_TYPE, 0},
		{"{}", EVENT_ERR_TYPE, 0},
		{"[\"2026-01-01T00:00:00Z\"]", EVENT_ERR_TYPE, 0},
	};
	expect_times(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A time ClickHouse cannot hold is a `timestamp` error whose reason states the accepted span. */
Test(event, timestamp_out_of_range_names_the_range)
{
	static const char *const times[] = {"\"9999-12-31T23:59:59.999Z\"", "\"2300-01-01T00:00:00Z\"",
					    "253402300799999", "10413792000000"};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char json[512];
		snprintf(json, sizeof(json), "{\"timestamp\":%s," EV_USER "," EV_URL "," EV_DEV "}",
			 times[i]);
		struct event ev;
		cr_expect_eq(decode(json, &ev), EVENT_ERR_TIMESTAMP, "%s", times[i]);
		cr_expect_str_eq(last_err.reason,
				 "timestamp: outside 1970-01-01T00:00:00.000Z..2299-12-31T23:59:59.999Z",
				 "%s", times[i]);
	}
}

Test(event, timestamp_with_escapes)
{
	static const struct expect_time cases[] = {
		{"\"2026-11-24T10:15:30\\u002e123+02:00\"", 0, 1795508130123},
		{"\"\\u0032026-11-24T08:15:30Z\"", 0, 1795508130000},
		{"\"2026-11-24T08:15:30\\/\"", EVENT_ERR_TIMESTAMP, 0},
		{"\"2026-11-24T08:15:30Z\\n\"", EVENT_ERR_TIMESTAMP, 0},
	};
	expect_times(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, user_id_forms_and_range)
{
	static const struct {
		const char *value;
		int code;
		uint64_t user_id;
	} cases[] = {
		{"0", 0, 0},
		{"1", 0, 1},
		{"9007199254740993", 0, 9007199254740993ULL}, /* not exact as a double */
		{"18446744073709551615", 0, UINT64_MAX},
		{"18446744073709551616", EVENT_ERR_RANGE, 0},
		{"18446744073709551620", EVENT_ERR_RANGE, 0},
		{"99999999999999999999", EVENT_ERR_RANGE, 0},
		{"100000000000000000000", EVENT_ERR_RANGE, 0},
		{"-1", EVENT_ERR_RANGE, 0},
		{"-0", EVENT_ERR_RANGE, 0},
		{"1.5", EVENT_ERR_TYPE, 0},
		{"1.0", EVENT_ERR_TYPE, 0},
		{"-1.5", EVENT_ERR_TYPE, 0},
		{"1e3", EVENT_ERR_TYPE, 0},
		{"1E+3", EVENT_ERR_TYPE, 0},
		{"true", EVENT_ERR_TYPE, 0},
		{"false", EVENT_ERR_TYPE, 0},
		{"null", EVENT_ERR_TYPE, 0},
		{"[1]", EVENT_ERR_TYPE, 0},
		{"{\"v\":1}", EVENT_ERR_TYPE, 0},
		{"\"0\"", 0, 0},
		{"\"12345\"", 0, 12345},
		{"\"00042\"", 0, 42},
		{"\"0000000000000000000000018446744073709551615\"", 0, UINT64_MAX},
		{"\"18446744073709551615\"", 0, UINT64_MAX},
		{"\"18446744073709551616\"", EVENT_ERR_RANGE, 0},
		{"\"\\u0031\\u0032\"", 0, 12},
		{"\"\"", EVENT_ERR_TYPE, 0},
		{"\"-1\"", EVENT_ERR_TYPE, 0},
		{"\"+1\"", EVENT_ERR_TYPE, 0},
		{"\" 1\"", EVENT_ERR_TYPE, 0},
		{"\"1 \"", EVENT_ERR_TYPE, 0},
		{"\"1.0\"", EVENT_ERR_TYPE, 0},
		{"\"1e3\"", EVENT_ERR_TYPE, 0},
		{"\"0x10\"", EVENT_ERR_TYPE, 0},
		{"\"12a\"", EVENT_ERR_TYPE, 0},
		{"\"١٢\"", EVENT_ERR_TYPE, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{" EV_TS ",\"user_id\":%s," EV_URL "," EV_DEV "}",
			 cases[i].value);
		struct event ev;
		int rc = decode(json, &ev);
		cr_expect_eq(rc, cases[i].code, "%s: got %s (%s)", cases[i].value, event_err_name(rc),
			     rc ? last_err.reason : "");
		if (rc == 0 && cases[i].code == 0)
			cr_expect_eq(ev.user_id, cases[i].user_id, "%s: %llu", cases[i].value,
				     (unsigned long long)ev.user_id);
	}
}

Test(event, url_string_escapes_decoded_into_scratch)
{
	struct event ev;
	const char *json = "{" EV_TS "," EV_USER "," EV_DEV
			   ",\"url\":\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\te\\u00e9E\\u20acs\\ud83d\\ude00.\"}";
	static const char want[] = "q\"b\\s/b\bf\fn\nr\rt\te\xc3\xa9"
				   "E\xe2\x82\xac"
				   "s\xf0\x9f\x98\x80.";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	expect_str(ev.url, ev.url_len, want, sizeof(want) - 1);
	cr_expect(points_into_scratch(ev.url, ev.url_len), "escaped url not in scratch");
	cr_expect_eq(ev.url, scratch);
	cr_expect_eq(ev.scratch_used, sizeof(want) - 1);
}

Test(event, escapes_upper_case_hex_and_nul)
{
	struct event ev;
	const char *json = "{" EV_TS "," EV_USER ",\"url\":\"a\\u0000b\\u00C9\\uD83D\\uDE00\"," EV_DEV "}";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	expect_str(ev.url, ev.url_len, "a\0b\xc3\x89\xf0\x9f\x98\x80", 9);
}

Test(event, raw_utf8_is_zero_copy)
{
	struct event ev;
	const char *json = "{" EV_TS "," EV_USER ",\"url\":\"/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80/"
			   "\xf4\x8f\xbf\xbf\xef\xbf\xbf\x7f\"," EV_DEV "}";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	expect_str(ev.url, ev.url_len,
		   "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80/\xf4\x8f\xbf\xbf\xef\xbf\xbf\x7f", 24);
	cr_expect(points_into_message(ev.url, ev.url_len));
}

Test(event, both_strings_escaped_share_scratch)
{
	struct event ev;
	const char *json = "{" EV_TS "," EV_USER ",\"url\":\"a\\/b\",\"device_id\":\"\\u0041\\u0042\"}";
	cr_assert_eq(decode(json, &ev), 0, "%s", last_err.reason);
	expect_str(ev.url, ev.url_len, "a/b", 3);
	expect_str(ev.device_id, ev.device_id_len, "AB", 2);
	cr_expect_eq(ev.url, scratch);
	cr_expect_eq(ev.device_id, scratch + 3);
	cr_expect_eq(ev.scratch_used, 5);
}

Test(event, url_and_device_id_types)
{
	static const struct expect_code cases[] = {
		{"{" EV_TS "," EV_USER ",\"url\":\"\"," EV_DEV "}", 0},
		{"{" EV_TS "," EV_USER ",\"url\":1," EV_DEV "}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER ",\"url\":null," EV_DEV "}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER ",\"url\":true," EV_DEV "}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER ",\"url\":[\"a\"]," EV_DEV "}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER ",\"url\":{}," EV_DEV "}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":\"\"}", 0},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":-5}", EVENT_ERR_RANGE},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":-0}", EVENT_ERR_RANGE},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":1.5}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":1e5}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":false}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":null}", EVENT_ERR_TYPE},
		{"{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":[]}", EVENT_ERR_TYPE},
	};
	expect_codes(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, device_id_integer_is_its_decimal_text)
{
	static const char *const values[] = {"0", "7", "1234567890", "18446744073709551616",
					     "123456789012345678901234567890123456789"};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{" EV_TS "," EV_USER "," EV_URL ",\"device_id\":%s}",
			 values[i]);
		struct event ev;
		cr_assert_eq(decode(json, &ev), 0, "%s: %s", values[i], last_err.reason);
		expect_str(ev.device_id, ev.device_id_len, values[i], strlen(values[i]));
		cr_expect(points_into_message(ev.device_id, ev.device_id_len));
		cr_expect_eq(ev.scratch_used, 0);
	}
}

Test(event, invalid_escapes)
{
	static const struct expect_code cases[] = {
		{"{" EV_TS "," EV_USER ",\"url\":\"\\x41\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\a\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\U0041\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\'\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\0\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\u12G4\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\u123\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\u\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\u 123\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ud83d\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ud83dx\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ud83d\\n\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ud83d\\u0041\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ud83d\\ud83d\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ud83d\\uZZZZ\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ude00\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ude00\\ud83d\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\udfff\"," EV_DEV "}", EVENT_ERR_ESCAPE},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\udbff\\udfff\"," EV_DEV "}", 0},
		{"{" EV_TS "," EV_USER ",\"url\":\"\\ud800\\udc00\"," EV_DEV "}", 0},
		/* in skipped values and keys too */
		{"{\"x\":\"\\q\"," EV_ALL "}", EVENT_ERR_ESCAPE},
		{"{\"x\":[\"\\ud800\"]," EV_ALL "}", EVENT_ERR_ESCAPE},
		{"{\"\\ude00\":1," EV_ALL "}", EVENT_ERR_ESCAPE},
		{"{\"x\":{\"\\v\":1}," EV_ALL "}", EVENT_ERR_ESCAPE},
		/* ends inside an escape: the message is cut */
		{"{\"url\":\"\\", EVENT_ERR_SYNTAX},
		{"{\"url\":\"\\u00", EVENT_ERR_SYNTAX},
	};
	expect_codes(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, invalid_utf8)
{
	static const struct expect_code cases[] = {
		{"{" EV_TS "," EV_USER ",\"url\":\"\x80\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xbf\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xc0\x80\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xc1\xbf\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xc3\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xc3\xc3\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xe0\x80\x80\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xe0\x9f\xbf\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xed\xa0\x80\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xed\xbf\xbf\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xe2\x82\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xf0\x8f\xbf\xbf\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xf4\x90\x80\x80\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xf5\x80\x80\x80\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xff\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"\xf0\x9f\x98\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{" EV_TS "," EV_USER ",\"url\":\"a\\n\x80\"," EV_DEV "}", EVENT_ERR_UTF8},
		{"{\"x\":\"\xed\xa0\x80\"," EV_ALL "}", EVENT_ERR_UTF8},
		{"{\"\xfe\":1," EV_ALL "}", EVENT_ERR_UTF8},
		/* outside a string a non-ASCII byte is simply not JSON */
		{"{" EV_ALL ",\xc3\xa9:1}", EVENT_ERR_SYNTAX},
		{"\xef\xbb\xbf{" EV_ALL "}", EVENT_ERR_SYNTAX},
	};
	expect_codes(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, control_characters_in_strings)
{
	static const struct expect_code cases[] = {
		{"{" EV_TS "," EV_USER ",\"url\":\"a\nb\"," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{" EV_TS "," EV_USER ",\"url\":\"a\tb\"," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{" EV_TS "," EV_USER ",\"url\":\"a\rb\"," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{" EV_TS "," EV_USER ",\"url\":\"\x01\"," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{" EV_TS "," EV_USER ",\"url\":\"\x1f\"," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{" EV_TS "," EV_USER ",\"url\":\"a\\tb\x1f\"," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{\"x\":\"\x02\"," EV_ALL "}", EVENT_ERR_SYNTAX},
		{"{\"\x1b\":0," EV_ALL "}", EVENT_ERR_SYNTAX},
		{"{" EV_TS "," EV_USER ",\"url\":\"\x7f\"," EV_DEV "}", 0},
	};
	expect_codes(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, nul_byte_in_message)
{
	struct event ev;
	static const char json[] = "{" EV_TS "," EV_USER ",\"url\":\"a\0b\"," EV_DEV "}";
	cr_expect_eq(decode_n(json, sizeof(json) - 1, &ev), EVENT_ERR_SYNTAX);
	static const char after[] = "{" EV_ALL "}\0";
	cr_expect_eq(decode_n(after, sizeof(after) - 1, &ev), EVENT_ERR_SYNTAX);
}

Test(event, empty_and_not_object)
{
	static const struct expect_code cases[] = {
		{"", EVENT_ERR_EMPTY},
		{" ", EVENT_ERR_EMPTY},
		{" \t\r\n ", EVENT_ERR_EMPTY},
		{"null", EVENT_ERR_NOT_OBJECT},
		{" null ", EVENT_ERR_NOT_OBJECT},
		{"true", EVENT_ERR_NOT_OBJECT},
		{"0", EVENT_ERR_NOT_OBJECT},
		{"-1.5e3", EVENT_ERR_NOT_OBJECT},
		{"\"{}\"", EVENT_ERR_NOT_OBJECT},
		{"[]", EVENT_ERR_NOT_OBJECT},
		{"[{" EV_ALL "}]", EVENT_ERR_NOT_OBJECT},
		{"[1,2", EVENT_ERR_SYNTAX},
		{"null x", EVENT_ERR_SYNTAX},
		{"nul", EVENT_ERR_SYNTAX},
		{"\f{" EV_ALL "}", EVENT_ERR_SYNTAX},
		{"\v", EVENT_ERR_SYNTAX},
		{"}", EVENT_ERR_SYNTAX},
	};
	expect_codes(cases, sizeof(cases) / sizeof(cases[0]));
	struct event ev;
	struct event_error e;
	cr_expect_eq(decode_default(NULL, 0, &ev, scratch, sizeof(scratch), &e), EVENT_ERR_EMPTY);
}

Test(event, invalid_json_anywhere)
{
	static const struct expect_code cases[] = {
		{"{" EV_ALL "}x", EVENT_ERR_SYNTAX},
		{"{" EV_ALL "} {}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL "},", EVENT_ERR_SYNTAX},
		{"{" EV_ALL "}}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",}", EVENT_ERR_SYNTAX},
		{"{," EV_ALL "}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",,\"a\":1}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL, EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\"", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\" 1}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",a:1}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",'a':1}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":'x'}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":1 2}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":01}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":-01}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":+1}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":.5}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":1.}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":1.e3}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":1e}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":1e+}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":-}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":--1}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":0x10}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":NaN}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":Infinity}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":-Infinity}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":tru}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":True}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":nulll}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":undefined}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":[1,]}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":[,1]}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":[1 2]}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":[1}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":{\"b\"}}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":{\"b\":1,}}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":{1:2}}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":{\"b\":1]}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":\"unterminated}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL " /* comment */}", EVENT_ERR_SYNTAX},
		{"{" EV_ALL ",\"a\":1\f}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":\"2026-11-24T10:15:30Z\"\"user_id\":1}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":1," EV_USER "," EV_URL ",\"device_id\":12a}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":1," EV_USER "," EV_URL ",\"device_id\":1.}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":01," EV_USER "," EV_URL "," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":1,\"user_id\":-," EV_URL "," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":1,\"user_id\":1x," EV_URL "," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":tru," EV_USER "," EV_URL "," EV_DEV "}", EVENT_ERR_SYNTAX},
		{"{\"timestamp\":}", EVENT_ERR_SYNTAX},
		{"{", EVENT_ERR_SYNTAX},
		{"{\"", EVENT_ERR_SYNTAX},
	};
	expect_codes(cases, sizeof(cases) / sizeof(cases[0]));
}

static void nest(char *out, size_t cap, int levels, const char *open, const char *inner,
		 const char *close)
{
	size_t n = 0;
	for (int i = 0; i < levels; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s", open);
	n += (size_t)snprintf(out + n, cap - n, "%s", inner);
	for (int i = 0; i < levels; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s", close);
}

Test(event, nesting_depth_bound)
{
	static char inner[4096], json[8192];
	struct event ev;
	/* The event object is level 1: 63 more levels fit, 64 do not. */
	nest(inner, sizeof(inner), EVENT_DEPTH_MAX - 1, "[", "1", "]");
	snprintf(json, sizeof(json), "{\"x\":%s," EV_ALL "}", inner);
	cr_expect_eq(decode(json, &ev), 0, "%s", last_err.reason);
	nest(inner, sizeof(inner), EVENT_DEPTH_MAX, "[", "1", "]");
	snprintf(json, sizeof(json), "{\"x\":%s," EV_ALL "}", inner);
	cr_expect_eq(decode(json, &ev), EVENT_ERR_DEPTH);
	nest(inner, sizeof(inner), EVENT_DEPTH_MAX - 1, "{\"k\":", "{}", "}");
	snprintf(json, sizeof(json), "{" EV_ALL ",\"x\":%s}", inner);
	cr_expect_eq(decode(json, &ev), EVENT_ERR_DEPTH, "%s", last_err.reason);
	nest(inner, sizeof(inner), EVENT_DEPTH_MAX - 2, "{\"k\":[", "{}", "]}");
	/* 2 * 62 levels: well over the bound, mixing objects and arrays */
	snprintf(json, sizeof(json), "{" EV_ALL ",\"x\":%s}", inner);
	cr_expect_eq(decode(json, &ev), EVENT_ERR_DEPTH);
	nest(inner, sizeof(inner), (EVENT_DEPTH_MAX - 2) / 2, "{\"k\":[", "{}", "]}");
	snprintf(json, sizeof(json), "{" EV_ALL ",\"x\":%s}", inner);
	cr_expect_eq(decode(json, &ev), 0, "%s", last_err.reason);
	/* a top level that is not an object: the bound applies, then NOT_OBJECT */
	nest(json, sizeof(json), EVENT_DEPTH_MAX, "[", "", "]");
	cr_expect_eq(decode(json, &ev), EVENT_ERR_NOT_OBJECT);
	nest(json, sizeof(json), EVENT_DEPTH_MAX + 1, "[", "", "]");
	cr_expect_eq(decode(json, &ev), EVENT_ERR_DEPTH);
	nest(json, sizeof(json), 2000, "[", "", "]");
	cr_expect_eq(decode(json, &ev), EVENT_ERR_DEPTH);
}

Test(event, duplicates_and_missing)
{
	static const struct expect_code cases[] = {
		{"{" EV_ALL "," EV_URL "}", EVENT_ERR_DUPLICATE},
		{"{" EV_ALL ",\"timestamp\":0}", EVENT_ERR_DUPLICATE},
		{"{" EV_USER "," EV_ALL "}", EVENT_ERR_DUPLICATE},
		{"{" EV_ALL "," EV_DEV "}", EVENT_ERR_DUPLICATE},
		{"{" EV_ALL ",\"u\\u0072l\":\"x\"}", EVENT_ERR_DUPLICATE},
		{"{" EV_ALL ",\"url\":1}", EVENT_ERR_DUPLICATE},
		{"{\"a\":1,\"a\":2," EV_ALL "}", 0},
		{"{}", EVENT_ERR_MISSING},
		{"{" EV_USER "," EV_URL "," EV_DEV "}", EVENT_ERR_MISSING},
		{"{" EV_TS "," EV_URL "," EV_DEV "}", EVENT_ERR_MISSING},
		{"{" EV_TS "," EV_USER "," EV_DEV "}", EVENT_ERR_MISSING},
		{"{" EV_TS "," EV_USER "," EV_URL "}", EVENT_ERR_MISSING},
		{"{" EV_TS "," EV_USER "," EV_DEV ",\"URL\":\"x\"}", EVENT_ERR_MISSING},
		{"{" EV_TS "," EV_USER "," EV_DEV ",\"url \":\"x\"}", EVENT_ERR_MISSING},
		{"{" EV_TS "," EV_USER "," EV_DEV ",\"url\\u0000\":\"x\"}", EVENT_ERR_MISSING},
		{"{" EV_TS "," EV_USER "," EV_DEV ",\"u\\u0072l\":\"x\"}", 0},
		{"{" EV_TS ",\"user\\u005fid\":1," EV_URL "," EV_DEV "}", 0},
		{"{" EV_TS ",\"\\u0075\\u0073\\u0065\\u0072\\u005f\\u0069\\u0064\":1," EV_URL "," EV_DEV
		 "}",
		 0},
		{"{" EV_ALL ",\"\\u0075\\u0073\\u0065\\u0072\\u005f\\u0069\\u0064\\u0078\\u0078\\u0078"
		 "\\u0078\\u0078\\u0078\\u0078\\u0078\\u0078\\u0078\\u0078\":1}",
		 0},
	};
	expect_codes(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(event, missing_names_the_first_absent_field)
{
	struct event ev;
	cr_expect_eq(decode("{}", &ev), EVENT_ERR_MISSING);
	cr_expect_str_eq(last_err.reason, "timestamp: missing");
	cr_expect_eq(decode("{" EV_TS "," EV_DEV "}", &ev), EVENT_ERR_MISSING);
	cr_expect_str_eq(last_err.reason, "user_id: missing");
	cr_expect_eq(decode("{" EV_TS "," EV_USER "," EV_DEV "}", &ev), EVENT_ERR_MISSING);
	cr_expect_str_eq(last_err.reason, "url: missing");
	cr_expect_eq(decode("{" EV_TS "," EV_USER "," EV_URL "}", &ev), EVENT_ERR_MISSING);
	cr_expect_str_eq(last_err.reason, "device_id: missing");
}

Test(event, error_precedence)
{
	struct event ev;
	/* a field error, then invalid JSON later: the JSON error wins */
	cr_expect_eq(decode("{\"user_id\":true," EV_TS "," EV_URL "," EV_DEV ",\"x\":[}", &ev),
		     EVENT_ERR_SYNTAX);
	cr_expect_eq(decode("{\"user_id\":true," EV_TS "," EV_URL "," EV_DEV "}x", &ev),
		     EVENT_ERR_SYNTAX);
	cr_expect_eq(decode("{\"user_id\":-1,\"x\":\"\\q\"}", &ev), EVENT_ERR_ESCAPE);
	/* two field errors: the first in document order */
	cr_expect_eq(decode("{\"user_id\":-1,\"timestamp\":\"bad\"," EV_URL "," EV_DEV "}", &ev),
		     EVENT_ERR_RANGE);
	cr_expect_str_eq(last_err.reason, "user_id: negative");
	cr_expect_eq(decode("{\"timestamp\":\"bad\",\"user_id\":-1," EV_URL "," EV_DEV "}", &ev),
		     EVENT_ERR_TIMESTAMP);
	cr_expect_eq(decode("{\"url\":1," EV_ALL "}", &ev), EVENT_ERR_TYPE);
	/* a field error beats a missing field */
	cr_expect_eq(decode("{\"url\":1}", &ev), EVENT_ERR_TYPE);
	cr_expect_str_eq(last_err.reason, "url: not a string");
}

Test(event, reasons_and_offsets)
{
	struct event ev;
	cr_expect_eq(decode("{\"timestamp\" 1}", &ev), EVENT_ERR_SYNTAX);
	cr_expect_str_eq(last_err.reason, "syntax error: expected ':'");
	cr_expect_eq(last_err.offset, 13);
	cr_expect_eq(decode("{" EV_ALL "} x", &ev), EVENT_ERR_SYNTAX);
	cr_expect_eq(last_err.offset, strlen("{" EV_ALL "} "));
	cr_expect_eq(decode("{\"user_id\":18446744073709551616}", &ev), EVENT_ERR_RANGE);
	cr_expect_str_eq(last_err.reason, "user_id: out of range");
	cr_expect_eq(last_err.offset, 11);
	cr_expect_eq(decode("{\"timestamp\":\"2026-01-01T00:00:00+24:00\"}", &ev),
		     EVENT_ERR_TIMESTAMP);
	cr_expect_str_eq(last_err.reason, "timestamp: bad offset");
	cr_expect_eq(decode("{\"timestamp\":\"2026-02-30T00:00:00Z\"}", &ev), EVENT_ERR_TIMESTAMP);
	cr_expect_str_eq(last_err.reason, "timestamp: invalid date");
	cr_expect_eq(decode("{\"x\":\"ab\x80\"}", &ev), EVENT_ERR_UTF8);
	cr_expect_eq(last_err.offset, 8);
	cr_expect_eq(decode("{\"url\":\"a", &ev), EVENT_ERR_SYNTAX);
	cr_expect_eq(last_err.offset, 9);
	cr_expect_eq(decode("{\"url\":\"\\ud83d\"}", &ev), EVENT_ERR_ESCAPE);
	cr_expect_eq(last_err.offset, 8);
}

Test(event, scratch_bounds)
{
	struct event ev;
	const char *json = "{" EV_TS "," EV_USER ",\"url\":\"a\\/b\\/c\",\"device_id\":\"\\u00e9\"}";
	/* url needs 5 bytes, device_id 2 */
	cr_expect_eq(decode_n_cap(json, strlen(json), &ev, 7), 0, "%s", last_err.reason);
	cr_expect_eq(ev.scratch_used, 7);
	cr_expect_eq(decode_n_cap(json, strlen(json), &ev, 6), EVENT_ERR_TOO_LONG);
	cr_expect_str_eq(last_err.reason, "device_id: longer than the scratch buffer");
	cr_expect_eq(decode_n_cap(json, strlen(json), &ev, 4), EVENT_ERR_TOO_LONG);
	cr_expect_str_eq(last_err.reason, "url: longer than the scratch buffer");
	cr_expect_eq(decode_n_cap(json, strlen(json), &ev, 0), EVENT_ERR_TOO_LONG);
	/* escaped timestamp and user_id use scratch only while they are parsed */
	const char *ts = "{\"timestamp\":\"2026-01-01T00:00:00\\u005a\",\"user_id\":\"\\u0034\\u0032\"," EV_URL
			 "," EV_DEV "}";
	cr_expect_eq(decode_n_cap(ts, strlen(ts), &ev, 20), 0, "%s", last_err.reason);
	cr_expect_eq(ev.time_ms, 1767225600000);
	cr_expect_eq(ev.user_id, 42);
	cr_expect_eq(ev.scratch_used, 0);
	cr_expect_eq(decode_n_cap(ts, strlen(ts), &ev, 19), EVENT_ERR_TOO_LONG);
	/* no escapes: no scratch needed at all */
	struct event_error e;
	const char *plain = "{" EV_ALL "}";
	cr_expect_eq(decode_default(plain, strlen(plain), &ev, NULL, 0, &e), 0);
	cr_expect_eq(decode_default(json, strlen(json), &ev, NULL, 100, &e), EVENT_ERR_TOO_LONG);
	/* unknown members never use scratch */
	const char *unknown = "{\"x\":\"\\u00e9\\u00e9\\u00e9\"," EV_ALL "}";
	cr_expect_eq(decode_n_cap(unknown, strlen(unknown), &ev, 0), 0);
}

Test(event, scratch_cap_of_message_length_always_suffices)
{
	struct event ev;
	const char *json = "{\"timestamp\":\"\\u0032\\u0030\\u0032\\u0036-01-01T00:00:00Z\","
			   "\"user_id\":\"\\u0031\",\"url\":\"\\ud83d\\ude00\\n\\t\",\"device_id\":\"\\\"\"}";
	cr_expect_eq(decode_n_cap(json, strlen(json), &ev, strlen(json)), 0, "%s", last_err.reason);
	cr_expect_leq(ev.scratch_used, strlen(json));
}

Test(event, batch_into_one_scratch)
{
	const char *msgs[] = {
		"{" EV_TS "," EV_USER ",\"url\":\"\\u0041\"," EV_DEV "}",
		"{" EV_TS "," EV_USER ",\"url\":\"plain\"," EV_DEV "}",
		"{" EV_TS "," EV_USER ",\"url\":\"\\u0042\\u0043\"," EV_DEV "}",
	};
	struct event ev[3];
	struct event_error e;
	size_t used = 0;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(decode_default(msgs[i], strlen(msgs[i]), &ev[i], scratch + used,
					  sizeof(scratch) - used, &e),
			     0);
		used += ev[i].scratch_used;
	}
	cr_expect_eq(used, 3);
	expect_str(ev[0].url, ev[0].url_len, "A", 1);
	expect_str(ev[1].url, ev[1].url_len, "plain", 5);
	expect_str(ev[2].url, ev[2].url_len, "BC", 2);
}

Test(event, message_longer_than_the_bound)
{
	struct event ev;
	struct event_error e;
	const char *json = "{}";
	/* Rejected before any byte is read. */
	cr_expect_eq(decode_default(json, EVENT_LEN_MAX + 1, &ev, NULL, 0, &e), EVENT_ERR_TOO_LONG);
}

Test(event, error_names)
{
	cr_expect_str_eq(event_err_name(0), "ok");
	cr_expect_str_eq(event_err_name(EVENT_ERR_EMPTY), "empty");
	cr_expect_str_eq(event_err_name(EVENT_ERR_SYNTAX), "syntax");
	cr_expect_str_eq(event_err_name(EVENT_ERR_ESCAPE), "escape");
	cr_expect_str_eq(event_err_name(EVENT_ERR_UTF8), "utf8");
	cr_expect_str_eq(event_err_name(EVENT_ERR_DEPTH), "depth");
	cr_expect_str_eq(event_err_name(EVENT_ERR_NOT_OBJECT), "not_object");
	cr_expect_str_eq(event_err_name(EVENT_ERR_DUPLICATE), "duplicate");
	cr_expect_str_eq(event_err_name(EVENT_ERR_MISSING), "missing");
	cr_expect_str_eq(event_err_name(EVENT_ERR_TYPE), "type");
	cr_expect_str_eq(event_err_name(EVENT_ERR_RANGE), "range");
	cr_expect_str_eq(event_err_name(EVENT_ERR_TIMESTAMP), "timestamp");
	cr_expect_str_eq(event_err_name(EVENT_ERR_TOO_LONG), "too_long");
	cr_expect_str_eq(event_err_name(-EVENT_ERR_COUNT), "unknown");
	cr_expect_str_eq(event_err_name(1), "unknown");
	cr_expect_str_eq(event_err_name(-1000), "unknown");
}

/* Every prefix of a valid event is rejected, and read within its bounds. */
Test(event, every_truncation_rejected)
{
	const char *json = "{\"timestamp\":\"2026-11-24T10:15:30.123+02:00\",\"user_id\":\"12\","
			   "\"x\":[1.5e3,{\"y\":null}],\"url\":\"\\u00e9\\ud83d\\ude00\",\"device_id\":7}";
	size_t len = strlen(json);
	struct event ev;
	cr_assert_eq(decode_n(json, len, &ev), 0, "%s", last_err.reason);
	for (size_t n = 0; n < len; n++) {
		int rc = decode_n(json, n, &ev);
		cr_expect(rc == EVENT_ERR_SYNTAX || (n == 0 && rc == EVENT_ERR_EMPTY),
			  "prefix of %zu bytes: %s", n, event_err_name(rc));
	}
}

/* Every calendar day from 1970-01-01 to 2299-12-31 at midnight is its day count since the epoch,
 * every later one up to 9999-12-31 is out of range, and the day after the last of each month is
 * rejected: the calendar arithmetic, exhaustively. */
Test(event, every_day_of_the_calendar)
{
	static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t day_index = 0;
	int bad = 0;
	for (int y = 1970; y <= 9999 && bad < 10; y++) {
		bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
		for (int m = 1; m <= 12; m++) {
			int last = month_days[m - 1] + (m == 2 && leap);
			for (int d = 1; d <= last + 1; d++) {
				char json[160];
				int n = snprintf(json, sizeof(json),
						 "{\"timestamp\":\"%04d-%02d-%02dT00:00:00Z\"," EV_USER
						 "," EV_URL "," EV_DEV "}",
						 y, m, d);
				struct event ev;
				struct event_error e;
				int rc = decode_default(json, (size_t)n, &ev, NULL, 0, &e);
				if (d > last || y > 2299) {
					if (rc != EVENT_ERR_TIMESTAMP) {
						cr_expect_fail("%04d-%02d-%02d accepted", y, m, d);
						bad++;
					}
					continue;
				}
				if (rc != 0 || ev.time_ms != day_index * 86400000) {
					cr_expect_fail("%04d-%02d-%02d: %s, %lld", y, m, d,
						       event_err_name(rc), (long long)ev.time_ms);
					bad++;
				}
				day_index++;
			}
		}
	}
	cr_expect_eq(bad, 0);
	cr_expect_eq(day_index, (EVENT_TIME_MS_MAX + 1) / 86400000);
}

/* user_id of every length from 1 to 20 digits, each digit in every position, as strtoull reads it. */
Test(event, user_id_every_digit_count)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int len = 1; len <= 20; len++) {
		for (int round = 0; round < 200; round++) {
			char digits[32];
			for (int i = 0; i < len; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				digits[i] = (char)('0' + (round < 10 ? round : (int)(x % 10)));
			}
			if (len > 1 && digits[0] == '0')
				digits[0] = '7'; /* JSON numbers have no leading zeros */
			if (len == 20) {
				digits[0] = '1'; /* 10xxxxxxxxxxxxxxxxxx stays under 2^64 */
				digits[1] = '0';
			}
			digits[len] = '\0';
			char json[256];
			snprintf(json, sizeof(json), "{" EV_TS ",\"user_id\":%s," EV_URL "," EV_DEV "}",
				 digits);
			const char *want = digits;
			struct event ev;
			int rc = decode(json, &ev);
			cr_assert_eq(rc, 0, "%s: %s", want, event_err_name(rc));
			cr_assert_eq(ev.user_id, strtoull(want, NULL, 10), "%s: %llu", want,
				     (unsigned long long)ev.user_id);
		}
	}
}

/* Whether two decodes of one message gave the same result: the code, and every field when 0. */
static bool same_decode(int rc_a, const struct event *a, int rc_b, const struct event *b)
{
	if (rc_a != rc_b)
		return false;
	if (rc_a != 0)
		return true;
	return a->time_ms == b->time_ms && a->user_id == b->user_id && a->url_len == b->url_len &&
	       a->device_id_len == b->device_id_len && a->scratch_used == b->scratch_used &&
	       memcmp(a->url, b->url, a->url_len) == 0 &&
	       memcmp(a->device_id, b->device_id, a->device_id_len) == 0;
}

/* Decodes buf[0..n) from an exact-size copy into *ev (its strings copied to strs, which must
 * hold n bytes). */
static int decode_copy(const char *buf, size_t n, struct event *ev, char *strs)
{
	char *copy = malloc(n ? n : 1);
	cr_assert_not_null(copy);
	memcpy(copy, buf, n);
	char scratch_copy[SCRATCH_CAP];
	memset(ev, 0, sizeof(*ev));
	int rc = decode_default(copy, n, ev, scratch_copy, sizeof(scratch_copy), NULL);
	if (rc == 0) {
		memcpy(strs, ev->url, ev->url_len);
		memcpy(strs + ev->url_len, ev->device_id, ev->device_id_len);
		ev->url = strs;
		ev->device_id = strs + ev->url_len;
	}
	free(copy);
	return rc;
}

/*
 * Compact messages of the four known fields take a shorter path through the decoder than any
 * message with whitespace. So a message and the same message with a space before or after it
 * must decode alike: compared for compact events in several member orders and shapes, for
 * messages with a member twice or missing, for every message one edit away from them (each byte
 * deleted, doubled, or replaced by one of a set of bytes that matter to JSON), and every prefix.
 */
Test(event, compact_messages_decode_as_with_whitespace)
{
	static const char *const bases[] = {
		"{\"timestamp\":\"2024-12-31T23:59:58.132Z\",\"user_id\":5829823279520967504,"
		"\"url\":\"https://delta-science.com/listen/account/5af7w6ffmvqe1j?ref=top\","
		"\"device_id\":\"dev-829ea19r4nqfdxw91\"}",
		"{\"device_id\":\"d\",\"url\":\"\",\"user_id\":0,\"timestamp\":\"2026-02-28T23:59:59Z\"}",
		"{\"user_id\":18446744073709551615,\"timestamp\":\"1970-01-01T00:00:00.5+01:00\","
		"\"device_id\":\"\",\"url\":\"https://\xc3\xa9x.example/\xe2\x82\xac/\xf0\x9f\x98\x80\"}",
		"{\"url\":\"u\",\"device_id\":\"0123456789abcdef0123456789abcdef\",\"timestamp\":"
		"\"9999-12-31T23:59:59.999z\",\"user_id\":1234567890123456789}",
		"{\"timestamp\":\"2024-02-29t12:00:00.123456-23:59\",\"user_id\":7,\"url\":\"a\","
		"\"device_id\":\"b\"}",
		"{\"timestamp\":\"2024-12-31T23:59:58Z\",\"user_id\":1,\"url\":\"a\",\"device_id\":\"b\","
		"\"url\":\"c\"}",
		"{\"timestamp\":\"2024-12-31T23:59:58Z\",\"user_id\":1,\"device_id\":\"b\"}",
	};
	static const char edits[] = {'"', '\\', ',', '}', '{', ':', '0', '1', '9', 'a', 'e', 'E', '.',
				     '-', '+', ' ', '\n', 'Z', 'T', '\0', '\x1f', '\x7f', '\x80',
				     '\xc3', '\xed', '\xff'};
	char msg[512], spaced[514], strs[3][514];
	size_t checked = 0, accepted = 0;
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		const char *base = bases[b];
		size_t len = strlen(base);
		cr_assert_lt(len, sizeof(msg) - 1);
		/* Variant v: 0 the base; then each position's deletion, doubling, replacements;
		 * then the prefixes. */
		size_t per_pos = 2 + sizeof(edits);
		for (size_t v = 0; v <= len * per_pos + len; v++) {
			size_t n;
			if (v == 0) {
				memcpy(msg, base, len);
				n = len;
			} else if (v > len * per_pos) {
				n = v - len * per_pos - 1;
				memcpy(msg, base, n);
			} else {
				size_t pos = (v - 1) / per_pos, kind = (v - 1) % per_pos;
				memcpy(msg, base, pos);
				if (kind == 0) { /* deleted */
					memcpy(msg + pos, base + pos + 1, len - pos - 1);
					n = len - 1;
				} else if (kind == 1) { /* doubled */
					msg[pos] = base[pos];
					memcpy(msg + pos + 1, base + pos, len - pos);
					n = len + 1;
				} else { /* replaced */
					msg[pos] = edits[kind - 2];
					memcpy(msg + pos + 1, base + pos + 1, len - pos - 1);
					n = len;
				}
			}
			struct event ev[3];
			int rc[3];
			rc[0] = decode_copy(msg, n, &ev[0], strs[0]);
			spaced[0] = ' ';
			memcpy(spaced + 1, msg, n);
			rc[1] = decode_copy(spaced, n + 1, &ev[1], strs[1]);
			memcpy(spaced, msg, n);
			spaced[n] = ' ';
			rc[2] = decode_copy(spaced, n + 1, &ev[2], strs[2]);
			for (int k = 1; k <= 2; k++)
				if (!same_decode(rc[0], &ev[0], rc[k], &ev[k]))
					cr_assert_fail("base %zu variant %zu: '%.*s' gives %s, with a "
						       "space %s it %s",
						       b, v, (int)n, msg, event_err_name(rc[0]),
						       k == 1 ? "before" : "after", event_err_name(rc[k]));
			checked++;
			accepted += rc[0] == 0;
		}
	}
	/* Both kinds of result must have been compared: the edits leave many messages valid. */
	cr_expect_gt(accepted, 500, "only %zu of %zu messages accepted", accepted, checked);
	cr_expect_gt(checked - accepted, 5000, "only %zu rejected", checked - accepted);
}
