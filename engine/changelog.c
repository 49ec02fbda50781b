/*
 * changelog: a changelog message as a change (contract in include/changelog.h). The JSON
 * reader takes one flat object; it is not the event decoder's hot path.
 */
#include "changelog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dim_part.h"
#include "url_norm.h"

struct json {
	const char *p, *end, *start;
	struct changelog_arena *arena;
	char *reason;
	size_t cap;
};

static void json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int json_fail(struct json *j, const char *what)
{
	snprintf(j->reason, j->cap, "%s at byte %zu", what, (size_t)(j->p - j->start));
	return -EINVAL;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;
		if (d > 15)
			return -1;
		v = v * 16 + d;
	}
	*out = v;
	return 0;
}

static size_t utf8_put(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape at p (after the backslash and u); a surrogate pair takes the next one too. */
static int json_unicode(struct json *j, const char **pp, unsigned *cp)
{
	const char *p = *pp;
	if (j->end - p < 4 || hex4(p, cp) < 0)
		return -1;
	p += 4;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return -1;
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		unsigned lo;
		if (j->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return -1;
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	*pp = p;
	return 0;
}

/* A string at j->p (its opening quote) unescaped into out[0..cap). Sets *len. */
static int json_string(struct json *j, char *out, size_t cap, size_t *len)
{
	const char *p = j->p + 1;
	size_t n = 0;
	while (p < j->end && *p != '"') {
		if (n + 4 > cap)
			return -ENOSPC;
		unsigned char c = (unsigned char)*p++;
		if (c < 0x20)
			return json_fail(j, "a control character in a string");
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		if (p == j->end)
			break;
		char e = *p++;
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *at = e ? strchr(from, e) : NULL;
		if (at) {
			out[n++] = to[at - from];
			continue;
		}
		unsigned cp;
		if (e != 'u' || json_unicode(j, &p, &cp) < 0)
			return json_fail(j, "a bad escape in a string");
		n += utf8_put(cp, out + n);
	}
	if (p == j->end)
		return json_fail(j, "an unterminated string");
	j->p = p + 1;
	*len = n;
	return 0;
}

/* A string value into the arena. */
static int json_string_value(struct json *j, struct dim_str *v)
{
	struct changelog_arena *a = j->arena;
	size_t room = a->cap - *a->used, len;
	int rc = json_string(j, a->buf + *a->used, room, &len);
	if (rc)
		return rc;
	*v = (struct dim_str){a->buf + *a->used, len};
	*a->used += len;
	return 0;
}

/* A number, true, false or null: its text as the loaders take it. */
static int json_scalar(struct json *j, struct dim_str *v)
{
	static const struct { const char *word, *text; } words[] = {
		{"true", "1"}, {"false", "0"}, {"null", NULL}};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);
		if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i].word, n) == 0) {
			j->p += n;
			*v = (struct dim_str){words[i].text, words[i].text ? 1 : 0};
			return 0;
		}
	}
	const char *s = j->p;
	while (j->p < j->end && strchr("+-0123456789.eE", *j->p) && *j->p)
		j->p++;
	if (j->p == s || (*s != '-' && (*s < '0' || *s > '9')))
		return json_fail(j, "not a JSON value");
	*v = (struct dim_str){s, (size_t)(j->p - s)};
	return 0;
}

#define JSON_DEPTH_MAX 32

/* Skips any value at j->p (an ignored member's), nested up to JSON_DEPTH_MAX. */
static int json_skip(struct json *j, int depth)
{
	if (j->p == j->end)
		return json_fail(j, "a missing value");
	if (*j->p == '"') {
		char buf[256];
		size_t len;
		const char *start = j->p;
		int rc = json_string(j, buf, sizeof(buf), &len);
		while (rc == -ENOSPC) { /* a long string: skip it in pieces */
			j->p = start + 1;
			while (j->p < j->end && *j->p != '"')
				j->p += *j->p == '\\' && j->p + 1 < j->end ? 2 : 1;
			if (j->p == j->end)
				return json_fail(j, "an unterminated string");
			j->p++;
			rc = 0;
		}
		return rc;
	}
	if (*j->p != '{' && *j->p != '[') {
		struct dim_str v;
		return json_scalar(j, &v);
	}
	if (depth == JSON_DEPTH_MAX)
		return json_fail(j, "nested too deep");
	char close = *j->p == '{' ? '}' : ']';
	bool object = close == '}';
	j->p++;
	json_ws(j);
	for (bool first = true; j->p < j->end && *j->p != close; first = false) {
		if (!first) {
			if (*j->p != ',')
				return json_fail(j, "',' expected");
			j->p++;
			json_ws(j);
		}
		if (object) {
			int rc = j->p < j->end && *j->p == '"' ? json_skip(j, depth + 1)
							       : json_fail(j, "a member name expected");
			if (rc)
				return rc;
			json_ws(j);
			if (j->p == j->end || *j->p != ':')
				return json_fail(j, "':' expected");
			j->p++;
			json_ws(j);
		}
		int rc = json_skip(j, depth + 1);
		if (rc)
			return rc;
		json_ws(j);
	}
	if (j->p == j->end)
		return json_fail(j, "an unterminated object or array");
	j->p++;
	return 0;
}

/* A member's value: into *v when it is an attribute's (name), else skipped (v NULL). */
static int json_member_value(struct json *j, struct dim_str *v, const char *name)
{
	if (j->p == j->end)
		return json_fail(j, "a missing value");
	if (!v)
		return json_skip(j, 1);
	if (*j->p == '{' || *j->p == '[') {
		snprintf(j->reason, j->cap, "attribute '%s' is an object or an array", name);
		return -EINVAL;
	}
	return *j->p == '"' ? json_string_value(j, v) : json_scalar(j, v);
}

/* The attribute of a member name, or -1. */
static int json_attr(const struct dim_spec *spec, const char *name, size_t len)
{
	for (unsigned a = 0; a < spec->attr_count; a++)
		if (strlen(spec->attrs[a].column) == len && memcmp(spec->attrs[a].column, name, len) == 0)
			return (int)a;
	return -1;
}

/* One "name": value member. */
static int json_member(struct json *j, const struct dim_spec *spec, struct dim_str *values,
		       bool *set)
{
	char name[DIM_NAME_MAX * 2];
	size_t len;
	if (j->p == j->end || *j->p != '"')
		return json_fail(j, "a member name expected");
	int rc = json_string(j, name, sizeof(name), &len);
	if (rc)
		return rc == -ENOSPC ? json_fail(j, "a member name too long") : rc;
	json_ws(j);
	if (j->p == j->end || *j->p != ':')
		return json_fail(j, "':' expected");
	j->p++;
	json_ws(j);
	int a = json_attr(spec, name, len);
	name[len < sizeof(name) ? len : sizeof(name) - 1] = '\0';
	if (a >= 0 && set[a]) {
		snprintf(j->reason, j->cap, "attribute '%s' given twice", name);
		return -EINVAL;
	}
	rc = json_member_value(j, a >= 0 ? &values[a] : NULL, name);
	if (!rc && a >= 0)
		set[a] = true;
	return rc;
}

/* The value: one JSON object, nothing after it but white space. */
static int json_object(struct json *j, const struct dim_spec *spec, struct dim_str *values)
{
	bool set[DIM_ATTR_MAX] = {false};
	json_ws(j);
	if (j->p == j->end || *j->p != '{')
		return json_fail(j, "not a JSON object");
	j->p++;
	json_ws(j);
	bool first = true;
	while (j->p < j->end && *j->p != '}') {
		if (!first) {
			if (*j->p != ',')
				return json_fail(j, "',' or '}' expected");
			j->p++;
			json_ws(j);
		}
		int rc = json_member(j, spec, values, set);
		if (rc)
			return rc;
		json_ws(j);
		first = false;
	}
	if (j->p == j->end)
		return json_fail(j, "an unterminated object");
	j->p++;
	json_ws(j);
	if (j->p != j->end)
		return json_fail(j, "bytes after the object");
	for (unsigned a = 0; a < spec->attr_count; a++)
		if (!set[a])
			values[a] = (struct dim_str){NULL, 0};
	return 0;
}

/* The message key as the table keys it. */
static int changelog_key(const struct dim_spec *spec, const char *key, size_t len,
			 struct changelog_arena *arena, struct dim_change *out, char *reason,
			 size_t cap)
{
	char q[64];
	if (!key) {
		snprintf(reason, cap, "the message has no key");
		return -EINVAL;
	}
	if (spec->key_type == DIM_TYPE_UINT64) {
		uint64_t v = 0;
		bool ok = len > 0 && len <= 20;
		for (size_t i = 0; ok && i < len; i++) {
			unsigned d = (unsigned)(unsigned char)key[i] - '0';
			ok = d <= 9 && v <= (UINT64_MAX - d) / 10;
			v = v * 10 + d;
		}
		if (!ok) {
			dim_quote(q, sizeof(q), key, len);
			snprintf(reason, cap, "key '%s' is not a UInt64", q);
			return -EINVAL;
		}
		out->key_u64 = v;
		return 0;
	}
	if (*arena->used + len > arena->cap)
		return -ENOSPC;
	char *p = arena->buf + *arena->used;
	memcpy(p, key, len);
	if (spec->key_strip_query)
		len = url_norm_strip_query(p, len, p, len);
	*arena->used += len;
	out->key = (struct dim_str){p, len};
	return 0;
}

int changelog_decode(const struct dim_spec *spec, const void *key, size_t key_len,
		     const void *value, size_t value_len, struct changelog_arena *arena,
		     struct dim_change *out, struct dim_str *values, const char **error,
		     char *reason, size_t cap)
{
	size_t mark = *arena->used;
	*out = (struct dim_change){.deleted = value == NULL, .values = values};
	*error = "changelog_key";
	int rc = changelog_key(spec, key, key_len, arena, out, reason, cap);
	if (!rc && value) {
		*error = "changelog_json";
		struct json j = {value, (const char *)value + value_len, value, arena, reason, cap};
		rc = json_object(&j, spec, values);
	}
	if (rc)
		*arena->used = mark;
	return rc;
}
