/*
 * avro_reader: the declared fields, checked and copied, with their defaults read once into
 * slot values (contract in include/avro.h). Off the hot path.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_err.h"
#include "avro_impl.h"
#include "timetext.h"
#include "uuidtext.h"

/* ClickHouse's Date32 and DateTime64 span, 1900-01-01 .. 2299-12-31, in days and seconds. */
#define DAYS_MIN INT64_C(-25567)
#define DAYS_MAX INT64_C(120529)
#define SECONDS_MIN (DAYS_MIN * 86400)
#define SECONDS_MAX (DAYS_MAX * 86400 + 86399)

int64_t av_pow10(unsigned p)
{
	int64_t v = 1;
	while (p-- > 0)
		v *= 10;
	return v;
}

static int64_t mul_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

void av_target_range(enum av_target t, uint32_t size, int64_t *lo, int64_t *hi)
{
	*lo = INT64_MIN;
	*hi = INT64_MAX;
	switch (t) {
	case AV_TO_U64:
	case AV_TO_ARRAY_I64:
		if (t == AV_TO_U64 || size < 8) {
			*lo = t == AV_TO_U64 ? 0 : -(INT64_C(1) << (8 * size - 1));
			if (size < 8)
				*hi = t == AV_TO_U64 ? (INT64_C(1) << (8 * size)) - 1
						     : (INT64_C(1) << (8 * size - 1)) - 1;
		}
		break;
	case AV_TO_I64:
		if (size < 8) {
			*lo = -(INT64_C(1) << (8 * size - 1));
			*hi = (INT64_C(1) << (8 * size - 1)) - 1;
		}
		break;
	case AV_TO_BOOL:
		*lo = 0;
		*hi = 1;
		break;
	case AV_TO_DATE:
		*lo = 0;
		*hi = 65535;
		break;
	case AV_TO_DATE32:
		*lo = DAYS_MIN;
		*hi = DAYS_MAX;
		break;
	case AV_TO_DATETIME:
		*lo = 0;
		*hi = UINT32_MAX;
		break;
	case AV_TO_DATETIME64: {
		int64_t p = av_pow10(size);
		*lo = mul_sat(SECONDS_MIN, p);
		*hi = mul_sat(SECONDS_MAX, p);
		if (*hi != INT64_MAX)
			*hi += p - 1;
		break;
	}
	default:
		break;
	}
}

const char *av_target_name(enum av_target t, uint32_t size, char *buf, size_t cap)
{
	switch (t) {
	case AV_TO_STRING: snprintf(buf, cap, "String"); break;
	case AV_TO_FIXED_STRING: snprintf(buf, cap, "FixedString(%" PRIu32 ")", size); break;
	case AV_TO_U64: snprintf(buf, cap, "UInt%" PRIu32, size * 8); break;
	case AV_TO_I64: snprintf(buf, cap, "Int%" PRIu32, size * 8); break;
	case AV_TO_F64: snprintf(buf, cap, "Float%" PRIu32, size * 8); break;
	case AV_TO_BOOL: snprintf(buf, cap, "Bool"); break;
	case AV_TO_DATE: snprintf(buf, cap, "Date"); break;
	case AV_TO_DATE32: snprintf(buf, cap, "Date32"); break;
	case AV_TO_DATETIME: snprintf(buf, cap, "DateTime"); break;
	case AV_TO_DATETIME64: snprintf(buf, cap, "DateTime64(%" PRIu32 ")", size); break;
	case AV_TO_UUID: snprintf(buf, cap, "UUID"); break;
	case AV_TO_ARRAY_STRING: snprintf(buf, cap, "Array(String)"); break;
	case AV_TO_ARRAY_I64: snprintf(buf, cap, "Array(Int%" PRIu32 ")", size * 8); break;
	default: snprintf(buf, cap, "?"); break;
	}
	return buf;
}

struct rbuild {
	struct av_reader *r;
	char *err;
	size_t errcap;
	const char *field; /* path of the field being checked, for messages */
};

__attribute__((format(printf, 3, 4))) static int rfail(struct rbuild *b, int rc, const char *fmt,
							...)
{
	va_list ap;
	va_start(ap, fmt);
	av_err_vset(b->err, b->errcap, b->field ? b->field : "fields", fmt, ap);
	va_end(ap);
	return rc;
}

/* An allocation freed with the reader; NULL when out of memory. */
static void *ralloc(struct av_reader *r, size_t n)
{
	if (r->n_blocks == r->cap_blocks) {
		uint32_t c = r->cap_blocks ? r->cap_blocks * 2 : 16;
		void **p = realloc(r->blocks, c * sizeof(*p));
		if (p == NULL)
			return NULL;
		r->blocks = p;
		r->cap_blocks = c;
	}
	void *m = calloc(1, n ? n : 1);
	if (m != NULL)
		r->blocks[r->n_blocks++] = m;
	return m;
}

static char *rstrdup(struct av_reader *r, const char *s, size_t n)
{
	char *p = ralloc(r, n + 1);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static bool part_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* Splits a path "a.b.c" (copied into the reader) into *p. */
static int path_parse(struct rbuild *b, const char *text, struct av_path *p)
{
	size_t n = strlen(text);
	char *s = rstrdup(b->r, text, n);
	if (s == NULL)
		return rfail(b, -ENOMEM, "out of memory");
	p->n = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!part_char(s[i], i == start) || i - start >= AV_NAME_MAX)
				return rfail(b, -EINVAL, "path \"%s\" is not name[.name...]", text);
			continue;
		}
		if (i == start)
			return rfail(b, -EINVAL, "path \"%s\" has an empty part", text);
		if (p->n == AV_PATH_DEPTH_MAX)
			return rfail(b, -E2BIG, "path \"%s\" deeper than %u", text,
				     AV_PATH_DEPTH_MAX);
		p->part[p->n] = s + start;
		p->len[p->n++] = (uint32_t)(i - start);
		start = i + 1;
	}
	return 0;
}

static int size_check(struct rbuild *b, enum av_target t, uint32_t size)
{
	switch (t) {
	case AV_TO_U64:
	case AV_TO_I64:
	case AV_TO_ARRAY_I64:
		if (size != 1 && size != 2 && size != 4 && size != 8)
			return rfail(b, -EINVAL, "integer size %" PRIu32 " is not 1, 2, 4 or 8", size);
		return 0;
	case AV_TO_F64:
		if (size != 4 && size != 8)
			return rfail(b, -EINVAL, "float size %" PRIu32 " is not 4 or 8", size);
		return 0;
	case AV_TO_FIXED_STRING:
		if (size < 1 || size > (1u << 20))
			return rfail(b, -EINVAL, "FixedString size %" PRIu32 " not in 1..2^20", size);
		return 0;
	case AV_TO_DATETIME64:
		if (size > 9)
			return rfail(b, -EINVAL, "DateTime64 precision %" PRIu32 " above 9", size);
		return 0;
	case AV_TO_STRING:
	case AV_TO_BOOL:
	case AV_TO_DATE:
	case AV_TO_DATE32:
	case AV_TO_DATETIME:
	case AV_TO_UUID:
	case AV_TO_ARRAY_STRING:
		return 0;
	}
	return rfail(b, -EINVAL, "unknown target kind %d", (int)t);
}

/* A whole decimal integer in s (optional '-'), into *v. */
static bool text_i64(const char *s, int64_t *v)
{
	if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
		return false;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*v = x;
	return true;
}

/* The default of an integer-valued target: an integer in its unit, or a date or date-time. */
static int default_int(struct rbuild *b, const struct av_field_decl *d, struct event_value *v)
{
	const char *s = d->default_text;
	size_t n = strlen(s);
	int64_t x;
	if (d->target == AV_TO_U64 && d->size == 8 && s[0] != '-') {
		char *end;
		errno = 0;
		unsigned long long u = strtoull(s, &end, 10);
		if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0')
			return rfail(b, -EINVAL, "default \"%s\" is not a UInt64", s);
		v->u64 = u;
		return 0;
	}
	if (d->target == AV_TO_BOOL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
		x = s[0] == 't';
	} else if (text_i64(s, &x)) {
		/* the number itself */
	} else if ((d->target == AV_TO_DATE || d->target == AV_TO_DATE32) &&
		   timetext_date(s, n, &x) == 0) {
		/* days */
	} else if ((d->target == AV_TO_DATETIME || d->target == AV_TO_DATETIME64) &&
		   timetext_rfc3339(s, n, d->target == AV_TO_DATETIME ? 0 : d->size, &x) == 0) {
		/* seconds or ticks */
	} else {
		return rfail(b, -EINVAL, "default \"%s\" is not a value of this type", s);
	}
	int64_t lo, hi;
	av_target_range(d->target, d->size, &lo, &hi);
	if (x < lo || x > hi)
		return rfail(b, -EINVAL, "default \"%s\" out of range", s);
	v->i64 = x;
	return 0;
}

/* The default of an Array(...) target: a JSON array of strings or integers. */
static int default_array(struct rbuild *b, const struct av_field_decl *d, struct event_value *v)
{
	cJSON *j = cJSON_Parse(d->default_text);
	int rc = 0;
	if (!cJSON_IsArray(j)) {
		rc = rfail(b, -EINVAL, "default \"%s\" is not a JSON array", d->default_text);
		goto out_delete;
	}
	uint32_t n = (uint32_t)cJSON_GetArraySize(j), i = 0;
	bool strings = d->target == AV_TO_ARRAY_STRING;
	void *elems = ralloc(b->r, (size_t)n * (strings ? sizeof(struct event_str) : 8));
	if (elems == NULL) {
		rc = rfail(b, -ENOMEM, "out of memory");
		goto out_delete;
	}
	int64_t lo, hi;
	av_target_range(d->target, d->size, &lo, &hi);
	const cJSON *e;
	cJSON_ArrayForEach(e, j) {
		if (strings && cJSON_IsString(e)) {
			size_t len = strlen(e->valuestring);
			char *p = rstrdup(b->r, e->valuestring, len);
			if (p == NULL) {
				rc = rfail(b, -ENOMEM, "out of memory");
				goto out_delete;
			}
			((struct event_str *)elems)[i++] = (struct event_str){p, (uint32_t)len};
		} else if (!strings && cJSON_IsNumber(e) && e->valuedouble >= (double)lo &&
			   e->valuedouble <= (double)hi && e->valuedouble == floor(e->valuedouble)) {
			((int64_t *)elems)[i++] = (int64_t)e->valuedouble;
		} else {
			rc = rfail(b, -EINVAL, "default element %" PRIu32 " is not of the type", i);
			goto out_delete;
		}
	}
	v->ptr = elems;
	v->len = n;
out_delete:
	cJSON_Delete(j);
	return rc;
}

static int default_parse(struct rbuild *b, const struct av_field_decl *d, struct event_value *v)
{
	const char *s = d->default_text;
	size_t n = strlen(s);
	*v = (struct event_value){0};
	if (d->nullable && strcmp(s, "null") == 0) {
		v->null = 1;
		return 0;
	}
	switch (d->target) {
	case AV_TO_STRING:
	case AV_TO_FIXED_STRING:
		if (d->target == AV_TO_FIXED_STRING && n > d->size)
			return rfail(b, -EINVAL, "default longer than %" PRIu32 " bytes", d->size);
		if (n > UINT32_MAX || (v->ptr = rstrdup(b->r, s, n)) == NULL)
			return rfail(b, -ENOMEM, "out of memory");
		v->len = (uint32_t)n;
		return 0;
	case AV_TO_F64: {
		char *end;
		v->f64 = strtod(s, &end);
		if (n == 0 || *end != '\0' || s[0] == ' ')
			return rfail(b, -EINVAL, "default \"%s\" is not a number", s);
		return 0;
	}
	case AV_TO_UUID: {
		uint8_t *u = ralloc(b->r, 16);
		if (u == NULL)
			return rfail(b, -ENOMEM, "out of memory");
		if (!uuidtext_parse((const uint8_t *)s, n, u))
			return rfail(b, -EINVAL, "default \"%s\" is not a UUID", s);
		v->ptr = (const char *)u;
		v->len = 16;
		return 0;
	}
	case AV_TO_ARRAY_STRING:
	case AV_TO_ARRAY_I64:
		return default_array(b, d, v);
	default:
		return default_int(b, d, v);
	}
}

/* The reader's enum symbols of a String field, and its enum default's index among them. */
static int symbols_copy(struct rbuild *b, const struct av_field_decl *d, struct av_rfield *f)
{
	f->enum_default = -1;
	if (d->symbols == NULL) {
		if (d->enum_default != NULL)
			return rfail(b, -EINVAL, "an enum default without symbols");
		return 0;
	}
	if (d->target != AV_TO_STRING)
		return rfail(b, -EINVAL, "enum symbols on a field that is not a String");
	if (d->n_symbols == 0 || d->n_symbols > AV_SYMBOLS_MAX)
		return rfail(b, -E2BIG, "symbols not in 1..%u", AV_SYMBOLS_MAX);
	struct event_str *syms = ralloc(b->r, d->n_symbols * sizeof(*syms));
	if (syms == NULL)
		return rfail(b, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < d->n_symbols; i++) {
		size_t n = strlen(d->symbols[i]);
		if (n == 0 || n > AV_NAME_MAX)
			return rfail(b, -EINVAL, "symbol %" PRIu32 " empty or too long", i);
		for (uint32_t k = 0; k < i; k++)
			if (strcmp(d->symbols[k], d->symbols[i]) == 0)
				return rfail(b, -EINVAL, "symbol \"%s\" twice", d->symbols[i]);
		if ((syms[i].ptr = rstrdup(b->r, d->symbols[i], n)) == NULL)
			return rfail(b, -ENOMEM, "out of memory");
		syms[i].len = (uint32_t)n;
		if (d->enum_default != NULL && strcmp(d->enum_default, d->symbols[i]) == 0)
			f->enum_default = (int32_t)i;
	}
	if (d->enum_default != NULL && f->enum_default < 0)
		return rfail(b, -EINVAL, "enum default \"%s\" is not a symbol", d->enum_default);
	f->symbols = syms;
	f->n_symbols = d->n_symbols;
	return 0;
}

static int field_copy(struct rbuild *b, const struct av_field_decl *d, struct av_rfield *f)
{
	int rc;
	if (d->path == NULL)
		return rfail(b, -EINVAL, "no path");
	if ((rc = path_parse(b, d->path, &f->paths[0])) < 0)
		return rc;
	f->path = f->paths[0].part[0]; /* the copy starts with the first part */
	if (d->n_aliases > AV_ALIASES_MAX)
		return rfail(b, -E2BIG, "more than %u aliases", AV_ALIASES_MAX);
	for (uint32_t i = 0; i < d->n_aliases; i++)
		if ((rc = path_parse(b, d->aliases[i], &f->paths[1 + i])) < 0)
			return rc;
	f->n_paths = 1 + d->n_aliases;
	f->target = d->target;
	f->size = d->size;
	f->nullable = d->nullable != 0;
	if ((rc = size_check(b, d->target, d->size)) < 0 || (rc = symbols_copy(b, d, f)) < 0)
		return rc;
	if (d->default_text != NULL) {
		if ((rc = default_parse(b, d, &f->def)) < 0)
			return rc;
		f->has_default = true;
	}
	return 0;
}

int av_reader_create(const struct av_field_decl *decls, size_t n, struct av_reader **out,
		     char *err, size_t errcap)
{
	struct rbuild b = {.err = err, .errcap = errcap};
	if (errcap > 0)
		err[0] = '\0';
	if (n == 0 || n > AV_FIELDS_MAX)
		return rfail(&b, -E2BIG, "not 1..%u fields", AV_FIELDS_MAX);
	b.r = calloc(1, sizeof(*b.r));
	if (b.r == NULL)
		return -ENOMEM;
	int rc = -ENOMEM;
	b.r->fields = ralloc(b.r, n * sizeof(*b.r->fields));
	if (b.r->fields == NULL)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		b.field = decls[i].path;
		if ((rc = field_copy(&b, &decls[i], &b.r->fields[i])) < 0)
			goto out_free;
		for (size_t k = 0; k < i; k++)
			if (strcmp(decls[k].path, decls[i].path) == 0) {
				rc = rfail(&b, -EINVAL, "declared twice");
				goto out_free;
			}
	}
	b.r->n = (uint32_t)n;
	*out = b.r;
	return 0;
out_free:
	av_reader_free(b.r);
	return rc;
}

void av_reader_free(struct av_reader *r)
{
	if (r == NULL)
		return;
	for (uint32_t i = 0; i < r->n_blocks; i++)
		free(r->blocks[i]);
	free(r->blocks);
	free(r);
}

size_t av_reader_fields(const struct av_reader *r)
{
	return r->n;
}

const char *av_reader_path(const struct av_reader *r, size_t i)
{
	return r->fields[i].path;
}
