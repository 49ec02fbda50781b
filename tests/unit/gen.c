/*
 * Tests of the gen module and its programs: keys are deterministic, unique and split into
 * disjoint present/missing families; rows have the documented shapes; every well-formed event
 * decodes (with a strict RFC 8259 checker and an independent RFC 3339 parser) to the values it
 * claims, and every malformed one is rejected; the writer escapes per ClickHouse TSV and CSV;
 * enrichd-gen-events delivers to a (mock) Kafka cluster exactly what its manifest says.
 */
#include "gen.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

extern char **environ;

/* ---- helpers: uniqueness -------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_dev(const void *a, const void *b)
{
	return strcmp(a, b);
}

static size_t count_duplicates_sorted(const char *items, size_t n, size_t width)
{
	size_t dups = 0;
	for (size_t k = 1; k < n; k++)
		dups += strcmp(items + (k - 1) * width, items + k * width) == 0;
	return dups;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t k = 0; k < n;) {
		unsigned char c = s[k];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		if (len == 0 || k + len > n)
			return false;
		for (size_t j = 1; j < len; j++)
			if ((s[k + j] & 0xc0) != 0x80)
				return false;
		k += len;
	}
	return true;
}

/* ---- keys ----------------------------------------------------------------------------------- */

Test(keys, user_ids_deterministic_unique_and_disjoint)
{
	enum { N = 200000 };
	uint64_t *ids = malloc(2 * N * sizeof(uint64_t));
	cr_assert_not_null(ids);
	for (uint64_t i = 0; i < N; i++) {
		ids[i] = gen_user_id(42, i);
		ids[N + i] = gen_user_id_missing(42, i);
		cr_assert_eq(ids[i], gen_user_id(42, i));
		cr_assert_eq(ids[N + i], gen_user_id_missing(42, i));
		cr_assert(ids[i] >> 62 == 1, "present id %llu outside [2^62, 2^63)",
			  (unsigned long long)ids[i]);
		cr_assert(ids[N + i] >> 62 == 2, "missing id %llu outside [2^63, 2^63 + 2^62)",
			  (unsigned long long)ids[N + i]);
	}
	qsort(ids, 2 * N, sizeof(uint64_t), cmp_u64);
	for (size_t k = 1; k < 2 * N; k++)
		cr_assert_neq(ids[k - 1], ids[k], "duplicate user id %llu", (unsigned long long)ids[k]);
	free(ids);

	size_t same = 0;
	for (uint64_t i = 0; i < 1000; i++)
		same += gen_user_id(1, i) == gen_user_id(2, i);
	cr_assert_eq(same, 0, "different seeds should give different ids");
	/* Indexes beyond the documented range wrap, they never crash or collide by accident. */
	cr_assert_eq(gen_user_id(3, GEN_INDEX_MAX + 1), gen_user_id(3, 0));
}

Test(keys, device_ids_shape_unique_and_disjoint)
{
	enum { N = 100000 };
	char (*ids)[GEN_DEVICE_ID_MAX] = calloc(2 * N, GEN_DEVICE_ID_MAX);
	cr_assert_not_null(ids);
	size_t numeric = 0;
	for (uint64_t i = 0; i < 2 * N; i++) {
		bool missing = i >= N;
		uint64_t idx = missing ? i - N : i;
		size_t len = missing ? gen_device_id_missing(7, idx, ids[i]) : gen_device_id(7, idx, ids[i]);
		cr_assert_eq(strlen(ids[i]), len);
		char again[GEN_DEVICE_ID_MAX];
		size_t len2 = missing ? gen_device_id_missing(7, idx, again) : gen_device_id(7, idx, again);
		cr_assert_eq(len2, len);
		cr_assert_str_eq(again, ids[i]);
		if (ids[i][0] == 'd') {
			cr_assert_eq(len, 21, "'%s' should have 21 bytes", ids[i]);
			cr_assert(strncmp(ids[i], "dev-", 4) == 0);
			const char *cls = missing ? "ghjkmnpqrstvwxyz" : "0123456789abcdef";
			cr_assert_not_null(strchr(cls, ids[i][4]), "'%s': wrong class character", ids[i]);
			for (size_t k = 5; k < len; k++)
				cr_assert_not_null(strchr("0123456789abcdefghjkmnpqrstvwxyz", ids[i][k]));
		} else {
			numeric++;
			cr_assert_eq(len, missing ? 19u : 20u, "'%s' has %zu digits", ids[i], len);
			for (size_t k = 0; k < len; k++)
				cr_assert(ids[i][k] >= '0' && ids[i][k] <= '9');
			errno = 0;
			(void)strtoull(ids[i], NULL, 10);
			cr_assert_eq(errno, 0, "'%s' does not fit a UInt64", ids[i]);
		}
	}
	/* One in 8 is numeric: 25000 expected, 5 standard deviations of slack. */
	cr_assert(numeric > 25000 - 800 && numeric < 25000 + 800, "numeric ids: %zu", numeric);
	qsort(ids, 2 * N, GEN_DEVICE_ID_MAX, cmp_dev);
	cr_assert_eq(count_duplicates_sorted((char *)ids, 2 * N, GEN_DEVICE_ID_MAX), 0);
	free(ids);
}

Test(keys, urls_shape_unique_and_disjoint)
{
	enum { N = 40000 };
	char (*urls)[GEN_URL_MAX] = calloc(2 * N, GEN_URL_MAX);
	cr_assert_not_null(urls);
	size_t non_ascii = 0, specials = 0, longest = 0;
	for (uint64_t i = 0; i < 2 * N; i++) {
		bool missing = i >= N;
		uint64_t idx = missing ? i - N : i;
		size_t len = missing ? gen_url_missing(9, idx, urls[i]) : gen_url(9, idx, urls[i]);
		cr_assert_eq(strlen(urls[i]), len);
		cr_assert(len < GEN_URL_MAX);
		longest = len > longest ? len : longest;
		cr_assert(strncmp(urls[i], "https://", 8) == 0, "'%s'", urls[i]);
		cr_assert(utf8_valid((const unsigned char *)urls[i], len), "invalid UTF-8: %s", urls[i]);
		bool high = false;
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)urls[i][k];
			cr_assert(c >= 0x20 && c != 0x7f, "control byte in '%s'", urls[i]);
			high |= c >= 0x80;
		}
		non_ascii += high;
		specials += strpbrk(urls[i], "\"\\,'") != NULL;
	}
	cr_assert(non_ascii > N / 40, "urls with non-ASCII characters: %zu", non_ascii);
	cr_assert(specials > N / 200, "urls with characters to escape: %zu", specials);
	cr_assert(longest < 200, "longest url %zu", longest);
	qsort(urls, 2 * N, GEN_URL_MAX, cmp_dev);
	cr_assert_eq(count_duplicates_sorted((char *)urls, 2 * N, GEN_URL_MAX), 0);
	free(urls);
}

/* ---- rows ----------------------------------------------------------------------------------- */

Test(rows, users)
{
	enum { N = 100000 };
	size_t free_plan = 0, us = 0;
	char date[GEN_DATE_MAX];
	for (uint64_t i = 0; i < N; i++) {
		struct gen_user_row r, r2;
		gen_user_row_fill(5, i, &r);
		gen_user_row_fill(5, i, &r2);
		cr_assert_eq(r.user_id, gen_user_id(5, i));
		cr_assert_eq(r.country, r2.country);
		cr_assert_eq(r.signup_days, r2.signup_days);
		cr_assert(strlen(r.country) == 2 && r.country[0] >= 'A' && r.country[0] <= 'Z' &&
			  r.country[1] >= 'A' && r.country[1] <= 'Z', "country '%s'", r.country);
		cr_assert(strcmp(r.plan, "free") == 0 || strcmp(r.plan, "basic") == 0 ||
			  strcmp(r.plan, "pro") == 0 || strcmp(r.plan, "enterprise") == 0);
		gen_date_format(r.signup_days, date);
		cr_assert(strcmp(date, "2012-01-01") >= 0 && strcmp(date, "2025-12-31") <= 0, "%s",
			  date);
		free_plan += strcmp(r.plan, "free") == 0;
		us += strcmp(r.country, "US") == 0;
	}
	cr_assert(free_plan > N * 68 / 100 && free_plan < N * 72 / 100, "free: %zu", free_plan);
	/* Skewed: the first country takes (1/215)^(1/3) = 16.7% of the users. */
	cr_assert(us > N * 15 / 100 && us < N * 19 / 100, "US: %zu", us);
}

Test(rows, devices)
{
	enum { N = 50000 };
	size_t mobile = 0;
	for (uint64_t i = 0; i < N; i++) {
		struct gen_device_row r;
		char id[GEN_DEVICE_ID_MAX];
		gen_device_row_fill(5, i, &r);
		size_t len = gen_device_id(5, i, id);
		cr_assert_eq(r.device_id_len, len);
		cr_assert_str_eq(r.device_id, id);
		mobile += strcmp(r.device_type, "mobile") == 0;
		if (strcmp(r.os, "iOS") == 0 || strcmp(r.os, "iPadOS") == 0)
			cr_assert(strcmp(r.browser, "Samsung Internet") != 0);
		if (strcmp(r.device_type, "desktop") == 0)
			cr_assert(strcmp(r.os, "Android") != 0 && strcmp(r.os, "iOS") != 0);
		cr_assert(r.browser[0] != '\0' && r.os[0] != '\0');
	}
	cr_assert(mobile > N * 53 / 100 && mobile < N * 57 / 100, "mobile: %zu", mobile);
}

Test(rows, urls_domain_and_category)
{
	enum { N = 30000 };
	/* Category is a function of the domain: remember the first one seen per domain string. */
	static char seen_domain[GEN_DOMAIN_COUNT][GEN_DOMAIN_MAX];
	static const char *seen_category[GEN_DOMAIN_COUNT];
	size_t domains = 0;
	for (uint64_t i = 0; i < N; i++) {
		struct gen_url_row r;
		char url[GEN_URL_MAX];
		gen_url_row_fill(11, i, &r);
		gen_url(11, i, url);
		cr_assert_str_eq(r.url, url);
		cr_assert_eq(r.url_len, strlen(url));
		cr_assert_eq(r.domain_len, strlen(r.domain));
		/* The domain is the host part of the url. */
		cr_assert(strncmp(url + 8, r.domain, r.domain_len) == 0 &&
			  (url[8 + r.domain_len] == '/'), "%s vs %s", url, r.domain);
		size_t k = 0;
		while (k < domains && strcmp(seen_domain[k], r.domain) != 0)
			k++;
		if (k == domains) {
			cr_assert(domains < GEN_DOMAIN_COUNT);
			memcpy(seen_domain[domains], r.domain, r.domain_len + 1);
			seen_category[domains++] = r.category;
		}
		cr_assert_str_eq(seen_category[k], r.category, "domain %s", r.domain);
	}
	cr_assert(domains > 1000, "only %zu domains", domains);
}

Test(rows, date_format)
{
	char d[GEN_DATE_MAX];
	cr_assert_eq(gen_date_format(0, d), 10);
	cr_assert_str_eq(d, "1970-01-01");
	gen_date_format(11016, d);
	cr_assert_str_eq(d, "2000-02-29");
	gen_date_format(19723, d);
	cr_assert_str_eq(d, "2024-01-01");
	gen_date_format(20453, d);
	cr_assert_str_eq(d, "2025-12-31");
	gen_date_format(-1, d);
	cr_assert_str_eq(d, "1969-12-31");
}

/* ---- a strict JSON checker and an RFC 3339 parser, independent of the generator ------------ */

struct jv {
	const char *p;
	const char *end;
	int depth;
};

static bool jv_value(struct jv *v);

static void jv_ws(struct jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static bool jv_eat(struct jv *v, char c)
{
	if (v->p < v->end && *v->p == c) {
		v->p++;
		return true;
	}
	return false;
}

static bool jv_digits(struct jv *v)
{
	const char *s = v->p;
	while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
		v->p++;
	return v->p > s;
}

static bool jv_string(struct jv *v)
{
	if (!jv_eat(v, '"'))
		return false;
	while (v->p < v->end) {
		unsigned char c = (unsigned char)*v->p++;
		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (v->p >= v->end)
			return false;
		char e = *v->p++;
		if (strchr("\"\\/bfnrt", e) && e != '\0')
			continue;
		if (e != 'u' || v->end - v->p < 4)
			return false;
		for (int k = 0; k < 4; k++, v->p++)
			if (!strchr("0123456789abcdefABCDEF", *v->p) || *v->p == '\0')
				return false;
	}
	return false;
}

static bool jv_number(struct jv *v)
{
	jv_eat(v, '-');
	if (jv_eat(v, '0')) {
		/* no leading zeros */
	} else if (v->p < v->end && *v->p >= '1' && *v->p <= '9') {
		jv_digits(v);
	} else {
		return false;
	}
	if (jv_eat(v, '.') && !jv_digits(v))
		return false;
	if (jv_eat(v, 'e') || jv_eat(v, 'E')) {
		if (!jv_eat(v, '+'))
			jv_eat(v, '-');
		if (!jv_digits(v))
			return false;
	}
	return true;
}

static bool jv_literal(struct jv *v, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(v->end - v->p) < n || memcmp(v->p, word, n) != 0)
		return false;
	v->p += n;
	return true;
}

static bool jv_container(struct jv *v, char open, char close, bool object)
{
	if (!jv_eat(v, open) || ++v->depth > 64)
		return false;
	jv_ws(v);
	if (jv_eat(v, close)) {
		v->depth--;
		return true;
	}
	for (;;) {
		jv_ws(v);
		if (object) {
			if (!jv_string(v))
				return false;
			jv_ws(v);
			if (!jv_eat(v, ':'))
				return false;
			jv_ws(v);
		}
		if (!jv_value(v))
			return false;
		jv_ws(v);
		if (jv_eat(v, close)) {
			v->depth--;
			return true;
		}
		if (!jv_eat(v, ','))
			return false;
	}
}

static bool jv_value(struct jv *v)
{
	if (v->p >= v->end)
		return false;
	switch (*v->p) {
	case '{': return jv_container(v, '{', '}', true);
	case '[': return jv_container(v, '[', ']', false);
	case '"': return jv_string(v);
	case 't': return jv_literal(v, "true");
	case 'f': return jv_literal(v, "false");
	case 'n': return jv_literal(v, "null");
	default: return jv_number(v);
	}
}

static bool json_strict_valid(const char *s, size_t n)
{
	struct jv v = {s, s + n, 0};
	jv_ws(&v);
	if (!jv_value(&v))
		return false;
	jv_ws(&v);
	return v.p == v.end;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool num_at(const char *s, int width, int *out)
{
	int v = 0;
	for (int k = 0; k < width; k++) {
		if (s[k] < '0' || s[k] > '9')
			return false;
		v = v * 10 + (s[k] - '0');
	}
	*out = v;
	return true;
}

/* Strict RFC 3339 date-time (upper-case T and Z, seconds 0-59) to Unix ms, sub-ms truncated. */
static bool rfc3339_ms(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se;
	if (strlen(s) < 20 || !num_at(s, 4, &y) || s[4] != '-' || !num_at(s + 5, 2, &mo) ||
	    s[7] != '-' || !num_at(s + 8, 2, &d) || s[10] != 'T' || !num_at(s + 11, 2, &h) ||
	    s[13] != ':' || !num_at(s + 14, 2, &mi) || s[16] != ':' || !num_at(s + 17, 2, &se))
		return false;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || se > 59)
		return false;
	const char *p = s + 19;
	int ms = 0, digits = 0;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0)
			return false;
		for (int k = digits; k < 3; k++)
			ms *= 10;
	}
	int off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!num_at(p + 1, 2, &oh) || p[3] != ':' || !num_at(p + 4, 2, &om) || oh > 23 ||
		    om > 59)
			return false;
		off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return false;
	}
	if (*p != '\0')
		return false;
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
		       se - off * 60;
	*out = secs * 1000 + ms;
	return true;
}

/* What a strict decoder of the default schema reads from a payload. */
struct decoded {
	int64_t time_ms;
	bool user_is_number;
	double user_number;
	uint64_t user_id;
	bool device_is_number;
	double device_number;
	char device_id[64];
	char url[GEN_URL_MAX];
};

static bool is_uint_double(double v)
{
	return v >= 0 && v < 18446744073709551616.0 && floor(v) == v;
}

/* Returns true when the payload is a valid event; fills *d. */
static bool decode_event(const char *payload, size_t len, struct decoded *d)
{
	memset(d, 0, sizeof(*d));
	if (len == 0 || !json_strict_valid(payload, len))
		return false;
	cJSON *root = cJSON_ParseWithLength(payload, len);
	cr_assert_not_null(root, "strictly valid JSON that cJSON rejects: %.*s", (int)len, payload);
	bool ok = false;
	if (!cJSON_IsObject(root))
		goto out;
	cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
	cJSON *user = cJSON_GetObjectItemCaseSensitive(root, "user_id");
	cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "url");
	cJSON *dev = cJSON_GetObjectItemCaseSensitive(root, "device_id");
	if (!ts || !user || !url || !dev)
		goto out;
	if (cJSON_IsNumber(ts)) {
		if (!(floor(ts->valuedouble) == ts->valuedouble && fabs(ts->valuedouble) < 9.2e18))
			goto out;
		d->time_ms = (int64_t)ts->valuedouble;
	} else if (!cJSON_IsString(ts) || !rfc3339_ms(ts->valuestring, &d->time_ms)) {
		goto out;
	}
	if (cJSON_IsNumber(user)) {
		if (!is_uint_double(user->valuedouble))
			goto out;
		d->user_is_number = true;
		d->user_number = user->valuedouble;
	} else if (cJSON_IsString(user)) {
		const char *s = user->valuestring;
		size_t n = strlen(s);
		if (n == 0 || n > 20 || strspn(s, "0123456789") != n)
			goto out;
		errno = 0;
		d->user_id = strtoull(s, NULL, 10);
		if (errno != 0)
			goto out;
	} else {
		goto out;
	}
	if (!cJSON_IsString(url) || strlen(url->valuestring) >= sizeof(d->url))
		goto out;
	strcpy(d->url, url->valuestring);
	if (cJSON_IsNumber(dev)) {
		if (!is_uint_double(dev->valuedouble))
			goto out;
		d->device_is_number = true;
		d->device_number = dev->valuedouble;
	} else if (cJSON_IsString(dev) && strlen(dev->valuestring) < sizeof(d->device_id)) {
		strcpy(d->device_id, dev->valuestring);
	} else {
		goto out;
	}
	ok = true;
out:
	cJSON_Delete(root);
	return ok;
}

static void check_decodes_to_expected(const struct gen_event *ev, const struct decoded *d)
{
	const char *p = ev->payload;
	int n = (int)ev->payload_len;
	cr_assert_eq(d->time_ms, ev->event_time_ms, "time of %.*s", n, p);
	if (d->user_is_number)
		cr_assert_eq(d->user_number, (double)ev->user_id, "user_id of %.*s", n, p);
	else
		cr_assert_eq(d->user_id, ev->user_id, "user_id of %.*s", n, p);
	cr_assert_str_eq(d->url, ev->url, "url of %.*s", n, p);
	cr_assert_eq(strlen(ev->url), ev->url_len);
	if (d->device_is_number)
		cr_assert_eq(d->device_number, strtod(ev->device_id, NULL), "device of %.*s", n, p);
	else
		cr_assert_str_eq(d->device_id, ev->device_id, "device of %.*s", n, p);
}

/* ---- events --------------------------------------------------------------------------------- */

static struct gen_event_config small_config(bool variety)
{
	struct gen_event_config c;
	gen_event_config_default(&c);
	c.seed = 99;
	c.count = 20000;
	c.users = 50;
	c.devices = 50;
	c.urls = 50;
	c.miss_users = 0.1;
	c.miss_devices = 0.2;
	c.miss_urls = 0.3;
	c.malformed = 0.25;
	c.variety = variety;
	return c;
}

Test(events, config_check)
{
	struct gen_event_config c;
	gen_event_config_default(&c);
	cr_assert_eq(gen_event_config_check(&c), 0);
	c.miss_users = 1.5;
	cr_assert_eq(gen_event_config_check(&c), -EINVAL);
	c.miss_users = NAN;
	cr_assert_eq(gen_event_config_check(&c), -EINVAL);
	gen_event_config_default(&c);
	c.malformed = -0.1;
	cr_assert_eq(gen_event_config_check(&c), -EINVAL);
	gen_event_config_default(&c);
	c.start_ms = -1;
	cr_assert_eq(gen_event_config_check(&c), -EINVAL);
	gen_event_config_default(&c);
	c.skew = -1;
	cr_assert_eq(gen_event_config_check(&c), -EINVAL);
}

Test(events, deterministic_per_seq_and_seed)
{
	struct gen_event_config c = small_config(true);
	static struct gen_event a, b;
	size_t differ = 0;
	for (uint64_t seq = 0; seq < 2000; seq++) {
		gen_event_make(&c, seq, &a);
		gen_event_make(&c, seq, &b);
		cr_assert_eq(a.payload_len, b.payload_len);
		cr_assert(memcmp(a.payload, b.payload, a.payload_len) == 0);
		cr_assert_eq(a.event_time_ms, b.event_time_ms);
		c.seed = 100;
		gen_event_make(&c, seq, &b);
		c.seed = 99;
		differ += a.payload_len != b.payload_len ||
			  memcmp(a.payload, b.payload, a.payload_len) != 0;
	}
	cr_assert(differ > 1900, "only %zu of 2000 events differ between seeds", differ);
}

/* Every well-formed event decodes to its expected values, every malformed one is rejected, the
 * shares match the configuration and present flags match dimension membership. */
static void check_event_stream(bool variety)
{
	struct gen_event_config c = small_config(variety);
	uint64_t users[50];
	char devices[50][GEN_DEVICE_ID_MAX], urls[50][GEN_URL_MAX];
	for (uint64_t i = 0; i < 50; i++) {
		users[i] = gen_user_id(c.seed, i);
		gen_device_id(c.seed, i, devices[i]);
		gen_url(c.seed, i, urls[i]);
	}
	static struct gen_event ev;
	struct decoded d;
	size_t kinds[GEN_MALFORMED_COUNT] = {0};
	size_t miss_user = 0, miss_device = 0, miss_url = 0, good = 0, numeric_device = 0;
	size_t surrogates = 0, epoch = 0, offsets = 0, string_user = 0;
	int64_t prev_max = 0;
	for (uint64_t seq = 0; seq < c.count; seq++) {
		gen_event_make(&c, seq, &ev);
		cr_assert_eq(ev.seq, seq);
		cr_assert(ev.payload_len <= GEN_EVENT_PAYLOAD_MAX);
		cr_assert_null(memchr(ev.payload, '\n', ev.payload_len), "newline in payload");
		kinds[ev.malformed]++;
		bool valid = decode_event(ev.payload, ev.payload_len, &d);
		if (ev.malformed != GEN_MALFORMED_NONE) {
			cr_assert(!valid, "%s event accepted: %.*s", gen_malformed_name(ev.malformed),
				  (int)ev.payload_len, ev.payload);
			continue;
		}
		cr_assert(valid, "well-formed event rejected: %.*s", (int)ev.payload_len, ev.payload);
		check_decodes_to_expected(&ev, &d);
		good++;
		bool in = false;
		for (int i = 0; i < 50; i++)
			in |= users[i] == ev.user_id;
		cr_assert_eq(in, ev.user_present);
		in = false;
		for (int i = 0; i < 50; i++)
			in |= strcmp(devices[i], ev.device_id) == 0;
		cr_assert_eq(in, ev.device_present);
		in = false;
		for (int i = 0; i < 50; i++)
			in |= strcmp(urls[i], ev.url) == 0;
		cr_assert_eq(in, ev.url_present);
		miss_user += !ev.user_present;
		miss_device += !ev.device_present;
		miss_url += !ev.url_present;
		numeric_device += d.device_is_number;
		string_user += !d.user_is_number;
		surrogates += memmem(ev.payload, ev.payload_len, "\\ud8", 4) != NULL ||
			      memmem(ev.payload, ev.payload_len, "\\uD8", 4) != NULL;
		epoch += memmem(ev.payload, ev.payload_len, "\"timestamp\":17", 14) != NULL;
		offsets += memmem(ev.payload, ev.payload_len, "+05:30\"", 7) != NULL;
		/* Time: within [start - jitter, start + spread] and roughly increasing. */
		cr_assert(ev.event_time_ms >= c.start_ms - c.jitter_ms &&
			  ev.event_time_ms <= c.start_ms + c.spread_ms);
		cr_assert(ev.event_time_ms + c.jitter_ms + 1000 >= prev_max);
		prev_max = ev.event_time_ms > prev_max ? ev.event_time_ms : prev_max;
	}
	/* Shares, with 5 standard deviations of slack. */
	double n = (double)c.count;
	cr_assert(fabs((double)(c.count - kinds[0]) / n - 0.25) < 5 * sqrt(0.25 * 0.75 / n));
	for (int k = 1; k < GEN_MALFORMED_COUNT; k++)
		cr_assert(kinds[k] > c.count / 40, "only %zu %s events", kinds[k],
			  gen_malformed_name((enum gen_malformed)k));
	double g = (double)good;
	cr_assert(fabs((double)miss_user / g - 0.1) < 5 * sqrt(0.1 * 0.9 / g), "%zu", miss_user);
	cr_assert(fabs((double)miss_device / g - 0.2) < 5 * sqrt(0.2 * 0.8 / g));
	cr_assert(fabs((double)miss_url / g - 0.3) < 5 * sqrt(0.3 * 0.7 / g));
	if (variety) {
		cr_assert(numeric_device > 0 && string_user > good / 5 && surrogates > 0 &&
			  epoch > 0 && offsets > 0,
			  "variety missing: %zu numeric devices, %zu string users, %zu surrogates, "
			  "%zu epoch, %zu offsets", numeric_device, string_user, surrogates, epoch,
			  offsets);
	} else {
		cr_assert_eq(numeric_device, 0);
		cr_assert_eq(string_user, 0);
	}
}

Test(events, plain_stream_decodes_and_rejects, .timeout = 60)
{
	check_event_stream(false);
}

Test(events, variety_stream_decodes_and_rejects, .timeout = 60)
{
	check_event_stream(true);
}

Test(events, plain_payload_shape)
{
	struct gen_event_config c;
	gen_event_config_default(&c);
	c.count = 10;
	static struct gen_event ev;
	gen_event_make(&c, 0, &ev);
	cr_assert_eq(ev.malformed, GEN_MALFORMED_NONE);
	char expect[GEN_EVENT_PAYLOAD_MAX];
	int n = snprintf(expect, sizeof(expect),
			 "{\"timestamp\":\"2025-01-01T00:00:00.000Z\",\"user_id\":%llu,\"url\":\"",
			 (unsigned long long)ev.user_id);
	cr_assert(ev.event_time_ms <= c.start_ms);
	/* The first event sits at the start, minus its jitter. */
	if (ev.event_time_ms == c.start_ms)
		cr_assert(memcmp(ev.payload, expect, (size_t)n) == 0, "%.*s", (int)ev.payload_len,
			  ev.payload);
	cr_assert(memcmp(ev.payload, "{\"timestamp\":\"", 14) == 0);
	cr_assert_eq(ev.payload[ev.payload_len - 1], '}');
}

Test(events, zero_sized_dimensions_make_every_key_missing)
{
	struct gen_event_config c;
	gen_event_config_default(&c);
	c.count = 1000;
	c.users = 0;
	c.devices = 0;
	c.urls = 0;
	static struct gen_event ev;
	uint64_t ids[1000];
	for (uint64_t seq = 0; seq < c.count; seq++) {
		gen_event_make(&c, seq, &ev);
		cr_assert(!ev.user_present && !ev.device_present && !ev.url_present);
		cr_assert_eq(ev.user_id >> 62, 2);
		ids[seq] = ev.user_id;
	}
	/* Missing keys still vary. */
	qsort(ids, 1000, sizeof(uint64_t), cmp_u64);
	size_t distinct = 1;
	for (size_t k = 1; k < 1000; k++)
		distinct += ids[k] != ids[k - 1];
	cr_assert(distinct > 990, "%zu distinct missing user ids", distinct);
}

/* ---- writer --------------------------------------------------------------------------------- */

Test(writer, escapes_and_numbers)
{
	char dir[] = "/tmp/gen-test-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/out", dir);
	struct gen_writer w;
	cr_assert_eq(gen_writer_open(&w, path, 0), 0);
	static const char raw[] = "a\tb\\c\nd\re\0f\bg\fh\"i,j'k";
	gen_writer_put_tsv(&w, raw, sizeof(raw) - 1);
	gen_writer_putc(&w, '|');
	gen_writer_put_csv(&w, raw, sizeof(raw) - 1);
	gen_writer_putc(&w, '|');
	gen_writer_put_tsv(&w, "plain", 5);
	gen_writer_putc(&w, '|');
	gen_writer_put_u64(&w, 0);
	gen_writer_putc(&w, '|');
	gen_writer_put_u64(&w, UINT64_MAX);
	gen_writer_putc(&w, '|');
	gen_writer_put_i64(&w, INT64_MIN);
	gen_writer_putc(&w, '|');
	gen_writer_put_u64(&w, 1234567);
	/* Crossing the buffer size many times. */
	for (int k = 0; k < 30000; k++)
		gen_writer_put(&w, "0123456789", 10);
	cr_assert_eq(gen_writer_close(&w, true), 0);
	size_t len;
	char *got = t_read_file(path, &len);
	static const char expect[] =
		"a\\tb\\\\c\\nd\\re\\0f\\bg\\fh\"i,j'k|\"a\tb\\c\nd\re\0f\bg\fh\"\"i,j'k\"|plain|0|"
		"18446744073709551615|-9223372036854775808|1234567";
	cr_assert(len >= sizeof(expect) - 1);
	cr_assert(memcmp(got, expect, sizeof(expect) - 1) == 0, "got %.*s", (int)(sizeof(expect) - 1),
		  got);
	free(got);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((size_t)st.st_size, sizeof(expect) - 1 + 300000);
	cr_assert_eq(gen_writer_open(&w, "/nonexistent-dir/x", 0), -ENOENT);
	unlink(path);
	rmdir(dir);
}

/* The word-at-a-time test of gen_writer_put_tsv must find a byte to escape anywhere, and never
 * take UTF-8 or other bytes above 0x20 for one. */
Test(writer, tsv_escape_at_every_position)
{
	char dir[] = "/tmp/gen-test-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/out", dir);
	static const char specials[] = {'\\', '\t', '\n', '\r', '\0', '\b', '\f', 0x01, 0x1f};
	static const char escaped[] = {'\\', 't', 'n', 'r', '0', 'b', 'f'};
	for (size_t len = 1; len <= 40; len++) {
		for (size_t pos = 0; pos <= len; pos++) {
			for (size_t sp = 0; sp < sizeof(specials); sp++) {
				char in[40];
				for (size_t k = 0; k < len; k++) /* UTF-8 and ASCII above 0x20 */
					in[k] = k % 3 == 0 ? (char)0xc3 : k % 3 == 1 ? (char)0xa9 : ' ';
				if (pos < len)
					in[pos] = specials[sp];
				struct gen_writer w;
				cr_assert_eq(gen_writer_open(&w, path, 0), 0);
				gen_writer_put_tsv(&w, in, len);
				cr_assert_eq(gen_writer_close(&w, false), 0);
				size_t got_len;
				char *got = t_read_file(path, &got_len);
				if (pos == len) {
					cr_assert_eq(got_len, len);
					cr_assert(memcmp(got, in, len) == 0);
					free(got);
					break; /* no special: one pass is enough */
				}
				if (sp < sizeof(escaped)) {
					cr_assert_eq(got_len, len + 1, "len %zu pos %zu special %zu", len, pos, sp);
					cr_assert(memcmp(got, in, pos) == 0);
					cr_assert_eq(got[pos], '\\');
					cr_assert_eq(got[pos + 1], escaped[sp]);
					cr_assert(memcmp(got + pos + 2, in + pos + 1, len - pos - 1) == 0);
				} else { /* other control bytes are passed through as they are */
					cr_assert_eq(got_len, len);
				}
				free(got);
			}
		}
	}
	unlink(path);
	rmdir(dir);
}

/* ---- enrichd-gen-events against a mock Kafka cluster ---------------------------------------- */

/* The programs are built next to this test binary. */
static void tool_path(const char *name, char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert(n > 0);
	self[n] = '\0';
	snprintf(out, cap, "%s/%s", dirname(self), name);
	cr_assert_eq(access(out, X_OK), 0, "%s not built", out);
}

/* Runs argv, returns its exit status (or -1 when killed or after timeout_s seconds). */
static int run_tool(char *const argv[], int timeout_s)
{
	pid_t pid;
	cr_assert_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
	int status;
	for (int waited_ms = 0; waited_ms < timeout_s * 1000; waited_ms += 20) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		cr_assert_neq(r, -1);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

struct mock {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	char bootstraps[256];
};

static void mock_start(struct mock *m, const char *topic, int partitions)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	cr_assert_eq(rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)), RD_KAFKA_CONF_OK);
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	cr_assert_not_null(m->rk, "%s", err);
	m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
	cr_assert_not_null(m->mc);
	snprintf(m->bootstraps, sizeof(m->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
	cr_assert(strncmp(m->bootstraps, "127.0.0.1:", 10) == 0, "%s", m->bootstraps);
	cr_assert_eq(rd_kafka_mock_topic_create(m->mc, topic, partitions, 1), 0);
}

static void mock_stop(struct mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
}

struct consumed {
	char *payload[3][2000];
	size_t len[3][2000];
	size_t count;
};

static void consume_all(const char *bootstraps, const char *topic, struct consumed *c, size_t want)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)),
		     RD_KAFKA_CONF_OK);
	cr_assert_eq(rd_kafka_conf_set(conf, "group.id", "gen-test", err, sizeof(err)),
		     RD_KAFKA_CONF_OK);
	cr_assert_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)),
		     RD_KAFKA_CONF_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	cr_assert_not_null(rk, "%s", err);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(3);
	for (int p = 0; p < 3; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	cr_assert_eq(rd_kafka_assign(rk, parts), 0);
	rd_kafka_topic_partition_list_destroy(parts);
	time_t deadline = time(NULL) + 30;
	while (c->count < want && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == 0) {
			cr_assert(m->partition >= 0 && m->partition < 3 && m->offset >= 0 &&
				  m->offset < 2000);
			cr_assert_null(c->payload[m->partition][m->offset], "offset consumed twice");
			char *copy = malloc(m->len + 1);
			cr_assert_not_null(copy);
			if (m->len)
				memcpy(copy, m->payload, m->len);
			c->payload[m->partition][m->offset] = copy;
			c->len[m->partition][m->offset] = m->len;
			c->count++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

Test(kafka, produces_what_the_manifest_says, .timeout = 120)
{
	enum { COUNT = 3000 };
	struct mock m;
	mock_start(&m, "gen", 3);
	char dir[] = "/tmp/gen-kafka-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char manifest[PATH_MAX], tool[PATH_MAX];
	snprintf(manifest, sizeof(manifest), "%s/manifest.tsv", dir);
	tool_path("enrichd-gen-events", tool, sizeof(tool));
	char *argv[] = {tool, "--brokers", m.bootstraps, "--topic", "gen", "--partitions", "3",
			"--count", "3000", "--seed", "5", "--users", "1000", "--malformed", "0.2",
			"--variety", "--manifest", manifest, NULL};
	cr_assert_eq(run_tool(argv, 60), 0);

	static struct consumed c;
	consume_all(m.bootstraps, "gen", &c, COUNT);
	cr_assert_eq(c.count, COUNT, "consumed %zu of %d", c.count, COUNT);

	/* Every manifest row names a delivered message with exactly the payload gen_event_make
	 * gives for its seq under the same options. */
	struct gen_event_config cfg;
	gen_event_config_default(&cfg);
	cfg.seed = 5;
	cfg.count = COUNT;
	cfg.users = 1000;
	cfg.malformed = 0.2;
	cfg.variety = true;
	static struct gen_event ev;
	static bool seen[COUNT];
	FILE *f = fopen(manifest, "r");
	cr_assert_not_null(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	size_t rows = 0, malformed = 0;
	for (int header = 0; header < 2; header++)
		cr_assert(getline(&line, &cap, f) > 0);
	cr_assert(strncmp(line, "UInt64\tInt32\tInt64", 18) == 0);
	while ((n = getline(&line, &cap, f)) > 0) {
		unsigned long long seq;
		int part;
		long long off;
		int bad;
		cr_assert_eq(sscanf(line, "%llu\t%d\t%lld\t%d", &seq, &part, &off, &bad), 4, "%s", line);
		cr_assert(seq < COUNT && !seen[seq]);
		seen[seq] = true;
		cr_assert_eq((unsigned long long)part, seq % 3, "round-robin partitions");
		cr_assert(off >= 0 && off < 2000);
		char *payload = line;
		for (int tabs = 0; tabs < 12; tabs++) {
			payload = strchr(payload, '\t');
			cr_assert_not_null(payload);
			payload++;
		}
		size_t plen = t_tsv_unescape(payload, strlen(payload) - 1, payload);
		gen_event_make(&cfg, seq, &ev);
		cr_assert_eq(bad, ev.malformed != GEN_MALFORMED_NONE);
		cr_assert_eq(plen, ev.payload_len, "seq %llu", seq);
		cr_assert(memcmp(payload, ev.payload, plen) == 0, "seq %llu", seq);
		cr_assert_not_null(c.payload[part][off], "seq %llu not consumed", seq);
		cr_assert_eq(c.len[part][off], plen, "seq %llu", seq);
		cr_assert(memcmp(c.payload[part][off], payload, plen) == 0, "seq %llu", seq);
		rows++;
		malformed += (size_t)bad;
	}
	free(line);
	fclose(f);
	cr_assert_eq(rows, COUNT);
	cr_assert(malformed > COUNT / 10 && malformed < COUNT * 3 / 10);
	for (int p = 0; p < 3; p++)
		for (int o = 0; o < 2000; o++)
			free(c.payload[p][o]);
	unlink(manifest);
	rmdir(dir);
	mock_stop(&m);
}

Test(kafka, failed_delivery_exits_nonzero, .timeout = 120)
{
	struct mock m;
	mock_start(&m, "two", 2);
	char tool[PATH_MAX];
	tool_path("enrichd-gen-events", tool, sizeof(tool));
	/* Partition 2 of a two-partition topic does not exist: those deliveries fail. */
	char *argv[] = {tool, "--brokers", m.bootstraps, "--topic", "two", "--partitions", "3",
			"--count", "30", "-X", "message.timeout.ms=2000", "--flush-timeout", "20",
			NULL};
	cr_assert_eq(run_tool(argv, 60), 1);
	/* A bad producer property is refused up front. */
	char *bad[] = {tool, "--brokers", m.bootstraps, "--topic", "two", "--count", "1", "-X",
		       "no.such.property=1", NULL};
	cr_assert_eq(run_tool(bad, 30), 1);
	mock_stop(&m);
}

Test(events, skew_favours_low_rows)
{
	struct gen_event_config c;
	gen_event_config_default(&c);
	c.count = 20000;
	c.users = 1000;
	c.skew = 1.0; /* index = N * u^2: a quarter of the rows take half the events */
	uint64_t low[250];
	for (uint64_t i = 0; i < 250; i++)
		low[i] = gen_user_id(c.seed, i);
	qsort(low, 250, sizeof(uint64_t), cmp_u64);
	static struct gen_event ev;
	size_t hits = 0;
	for (uint64_t seq = 0; seq < c.count; seq++) {
		gen_event_make(&c, seq, &ev);
		hits += bsearch(&ev.user_id, low, 250, sizeof(uint64_t), cmp_u64) != NULL;
	}
	cr_assert(hits > 9500 && hits < 10500, "low quarter took %zu of 20000", hits);
}
