/*
 * Differential fuzz target for the Avro decoder (av_schema_parse, av_resolve, av_decode), with
 * libavro-c as the oracle.
 *
 * The input drives a generator: a random writer schema (a record of primitives, enums, fixed,
 * arrays, maps, unions with null, a three-branch union, nested records, and the logical types
 * date, timestamp-millis/-micros, decimal and uuid) and a random datum of it, built and encoded
 * with libavro. Every leaf field the declaration can name gets a declared field with a target
 * kind picked by the input among those its type allows (some are left out, so their values are
 * skipped). The message is decoded by enrichd and read back by libavro, and every declared field
 * is compared with the value libavro read, converted independently here (range checks, time
 * scaling, decimal text through __int128, UUID text); a value that must fail (out of range,
 * null into a non-Nullable field, a union branch the field cannot take, a string longer than a
 * FixedString) must make the decode fail with that error on that field, the first in writer
 * order.
 *
 * Then schema evolution: a reader schema derived from the writer (top-level fields dropped,
 * reordered, promoted int -> long/double, long -> double, float -> double) is resolved by
 * libavro's resolved writer (avro_resolved_writer_new) and by av_resolve against declared
 * fields made from it, plus fields the writer lacks with declared defaults. libavro-c implements
 * no reader defaults (a reader field missing from the writer fails its resolution), so those
 * fields are checked against their declared default instead.
 *
 * Finally the raw input is decoded as a message body with the same plan: any result is fine, a
 * read outside the message or a crash is not.
 */
/* libavro's headers one by one: <avro.h> would be this module's include/avro.h */
#include <avro/errors.h>
#include <avro/generic.h>
#include <avro/io.h>
#include <avro/resolver.h>
#include <avro/schema.h>
#include <avro/value.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro.h"

/* A mismatch shows the generated writer schema (g_json, below) too. */
#define ORACLE_CHECK_CONTEXT() fprintf(stderr, "  schema: %s\n", g_json)
#include "oracle_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODES_MAX 96
#define FIELDS_MAX 6
#define JSON_MAX 16384
#define MSG_MAX 65536
#define DECLS_MAX 64

/* DateTime64 and Date32 as enrichd bounds them: 1900-01-01 .. 2299-12-31 */
#define SEC_MIN INT64_C(-2208988800)
#define SEC_MAX INT64_C(10413791999)

struct rng {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct rng *r, unsigned n) /* 0..n-1 */
{
	unsigned v = 0;
	if (r->n > 0) {
		v = *r->p++;
		r->n--;
	}
	return n ? v % n : 0;
}

static int64_t take_i64(struct rng *r)
{
	switch (take(r, 4)) {
	case 0: return (int64_t)take(r, 256) - 128;
	case 1: return (int64_t)((uint64_t)take(r, 256) << 24 | take(r, 256) << 8) - (1 << 30);
	default: {
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v = v << 8 | take(r, 256);
		return (int64_t)v;
	}
	}
}

enum gkind {
	G_NULL, G_BOOL, G_INT, G_LONG, G_FLOAT, G_DOUBLE, G_BYTES, G_STRING, G_ENUM, G_FIXED,
	G_DATE, G_TS_MS, G_TS_US, G_DECIMAL, G_UUID, /* leaves */
	G_ARRAY, G_MAP, G_OPT, G_UNION3, G_RECORD,
};

struct gnode {
	enum gkind k;
	int n;           /* ENUM symbols, FIXED size, RECORD fields, DECIMAL scale */
	bool null_first; /* OPT */
	struct gnode *child;
	struct gnode *fields[FIELDS_MAX];
	char name[16];   /* named types; record fields: the field name in fname */
	char fname[FIELDS_MAX][8];
};

static struct gnode pool[NODES_MAX];
static int n_pool, n_names;
static char g_json[JSON_MAX];

static struct gnode *gen(struct rng *r, int depth);

static struct gnode *node_new(enum gkind k)
{
	if (n_pool == NODES_MAX)
		return NULL;
	struct gnode *g = &pool[n_pool++];
	memset(g, 0, sizeof(*g));
	g->k = k;
	if (k == G_ENUM || k == G_FIXED || k == G_RECORD)
		snprintf(g->name, sizeof(g->name), "T%d", n_names++);
	return g;
}

static struct gnode *gen_record(struct rng *r, int depth, int max_fields)
{
	struct gnode *g = node_new(G_RECORD);
	if (g == NULL)
		return NULL;
	g->n = 1 + (int)take(r, (unsigned)max_fields);
	for (int i = 0; i < g->n; i++) {
		snprintf(g->fname[i], sizeof(g->fname[i]), "f%d", i);
		if ((g->fields[i] = gen(r, depth + 1)) == NULL)
			return NULL;
	}
	return g;
}

static struct gnode *gen(struct rng *r, int depth)
{
	unsigned k = take(r, depth >= 2 ? G_ARRAY : G_RECORD + 1);
	if (k == G_NULL && take(r, 2)) /* fewer bare nulls */
		k = G_LONG;
	if (k == G_RECORD)
		return gen_record(r, depth, 3);
	struct gnode *g = node_new((enum gkind)k);
	if (g == NULL)
		return NULL;
	switch (g->k) {
	case G_ENUM: g->n = 1 + (int)take(r, 4); break;
	case G_FIXED: g->n = 1 + (int)take(r, 20); break; /* libavro cannot read fixed(0) */
	case G_DECIMAL: g->n = (int)take(r, 5); break;
	case G_ARRAY: {
		static const enum gkind items[] = {G_STRING, G_BYTES, G_INT, G_LONG, G_ENUM, G_BOOL};
		g->child = node_new(items[take(r, 6)]);
		if (g->child && g->child->k == G_ENUM)
			g->child->n = 1 + (int)take(r, 4);
		return g->child ? g : NULL;
	}
	case G_MAP:
		g->child = node_new(take(r, 2) ? G_LONG : G_STRING);
		return g->child ? g : NULL;
	case G_OPT:
		g->null_first = take(r, 2);
		g->child = take(r, 4) == 0 && depth < 2 ? gen_record(r, depth + 1, 2) : gen(r, 3);
		if (g->child && (g->child->k == G_NULL || g->child->k == G_OPT ||
				 g->child->k == G_UNION3))
			g->child->k = G_STRING;
		return g->child ? g : NULL;
	default: break;
	}
	return g;
}

/* ---- the schema as JSON ---- */

struct out {
	char *b;
	size_t n, cap;
	bool over;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= o->cap - o->n)
		o->over = true;
	else
		o->n += (size_t)k;
}

/* promote: a reader's type for this writer type (only for primitives), or -1 */
static void json_of(struct out *o, const struct gnode *g, int promote)
{
	static const char *const prim[] = {
		[G_NULL] = "null", [G_BOOL] = "boolean", [G_INT] = "int", [G_LONG] = "long",
		[G_FLOAT] = "float", [G_DOUBLE] = "double", [G_BYTES] = "bytes", [G_STRING] = "string"};
	enum gkind k = promote >= 0 ? (enum gkind)promote : g->k;
	switch (k) {
	case G_NULL: case G_BOOL: case G_INT: case G_LONG: case G_FLOAT: case G_DOUBLE:
	case G_BYTES: case G_STRING:
		put(o, "\"%s\"", prim[k]);
		break;
	case G_ENUM:
		put(o, "{\"type\":\"enum\",\"name\":\"%s\",\"symbols\":[", g->name);
		for (int i = 0; i < g->n; i++)
			put(o, "%s\"S%d\"", i ? "," : "", i);
		put(o, "]}");
		break;
	case G_FIXED: put(o, "{\"type\":\"fixed\",\"name\":\"%s\",\"size\":%d}", g->name, g->n); break;
	case G_DATE: put(o, "{\"type\":\"int\",\"logicalType\":\"date\"}"); break;
	case G_TS_MS: put(o, "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}"); break;
	case G_TS_US: put(o, "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}"); break;
	case G_DECIMAL:
		put(o, "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":38,\"scale\":%d}",
		    g->n);
		break;
	case G_UUID: put(o, "{\"type\":\"string\",\"logicalType\":\"uuid\"}"); break;
	case G_ARRAY: put(o, "{\"type\":\"array\",\"items\":"); json_of(o, g->child, -1); put(o, "}"); break;
	case G_MAP: put(o, "{\"type\":\"map\",\"values\":"); json_of(o, g->child, -1); put(o, "}"); break;
	case G_OPT:
		put(o, "[");
		if (g->null_first)
			put(o, "\"null\",");
		json_of(o, g->child, -1);
		put(o, g->null_first ? "]" : ",\"null\"]");
		break;
	case G_UNION3: put(o, "[\"null\",\"long\",\"string\"]"); break;
	case G_RECORD:
		put(o, "{\"type\":\"record\",\"name\":\"%s\",\"fields\":[", g->name);
		for (int i = 0; i < g->n; i++) {
			put(o, "%s{\"name\":\"%s\",\"type\":", i ? "," : "", g->fname[i]);
			json_of(o, g->fields[i], -1);
			put(o, "}");
		}
		put(o, "]}");
		break;
	}
}

/* ---- the datum, built with libavro ---- */

static void take_bytes(struct rng *r, char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)take(r, 256);
}

static bool fill(avro_value_t *v, const struct gnode *g, struct rng *r);

static bool fill_leaf(avro_value_t *v, const struct gnode *g, struct rng *r)
{
	char buf[40];
	size_t n;
	switch (g->k) {
	case G_NULL: return avro_value_set_null(v) == 0;
	case G_BOOL: return avro_value_set_boolean(v, (int)take(r, 2)) == 0;
	case G_INT: return avro_value_set_int(v, (int32_t)take_i64(r)) == 0;
	case G_DATE: return avro_value_set_int(v, (int32_t)(take_i64(r) % 200000)) == 0;
	case G_LONG: case G_TS_MS: case G_TS_US: return avro_value_set_long(v, take_i64(r)) == 0;
	case G_FLOAT: return avro_value_set_float(v, (float)take_i64(r) / 8) == 0;
	case G_DOUBLE: return avro_value_set_double(v, (double)take_i64(r) / 1024) == 0;
	case G_BYTES: case G_STRING:
		n = take(r, 9);
		take_bytes(r, buf, n);
		buf[n] = '\0';
		return g->k == G_BYTES ? avro_value_set_bytes(v, buf, n) == 0
				       : avro_value_set_string_len(v, buf, n + 1) == 0;
	case G_ENUM: return avro_value_set_enum(v, (int)take(r, (unsigned)g->n)) == 0;
	case G_FIXED:
		take_bytes(r, buf, (size_t)g->n);
		return avro_value_set_fixed(v, buf, (size_t)g->n) == 0;
	case G_DECIMAL:
		n = 1 + take(r, 16);
		take_bytes(r, buf, n);
		return avro_value_set_bytes(v, buf, n) == 0;
	case G_UUID: {
		uint8_t u[16];
		take_bytes(r, (char *)u, 16);
		const char *hexd = take(r, 2) ? "0123456789abcdef" : "0123456789ABCDEF";
		char *p = buf;
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				*p++ = '-';
			*p++ = hexd[u[i] >> 4];
			*p++ = hexd[u[i] & 15];
		}
		*p = '\0';
		return avro_value_set_string_len(v, buf, 37) == 0;
	}
	default: return false;
	}
}

static bool fill(avro_value_t *v, const struct gnode *g, struct rng *r)
{
	avro_value_t child, branch;
	switch (g->k) {
	case G_ARRAY: {
		unsigned n = take(r, 5);
		for (unsigned i = 0; i < n; i++)
			if (avro_value_append(v, &child, NULL) != 0 || !fill(&child, g->child, r))
				return false;
		return true;
	}
	case G_MAP: {
		unsigned n = take(r, 4);
		for (unsigned i = 0; i < n; i++) {
			char key[8];
			snprintf(key, sizeof(key), "k%u", take(r, 8));
			if (avro_value_add(v, key, &child, NULL, NULL) != 0 || !fill(&child, g->child, r))
				return false;
		}
		return true;
	}
	case G_OPT: {
		bool null = take(r, 3) == 0;
		int branch_index = null == g->null_first ? 0 : 1;
		if (avro_value_set_branch(v, branch_index, &branch) != 0)
			return false;
		return null ? avro_value_set_null(&branch) == 0 : fill(&branch, g->child, r);
	}
	case G_UNION3: {
		int b = (int)take(r, 3);
		static const struct gnode branches[] = {{.k = G_NULL}, {.k = G_LONG}, {.k = G_STRING}};
		return avro_value_set_branch(v, b, &branch) == 0 && fill(&branch, &branches[b], r);
	}
	case G_RECORD:
		for (int i = 0; i < g->n; i++)
			if (avro_value_get_by_index(v, (size_t)i, &child, NULL) != 0 ||
			    !fill(&child, g->fields[i], r))
				return false;
		return true;
	default:
		return fill_leaf(v, g, r);
	}
}

/* ---- declared fields and what they must read ---- */

struct leaf {
	char path[64];
	const struct gnode *g; /* the leaf's type (an OPT's child; UNION3 and NULL as they are) */
	bool opt;              /* the leaf sits in an OPT itself */
};

static struct leaf leaves[DECLS_MAX];
static struct av_field_decl decls[DECLS_MAX];
static const char *defaults_expected[DECLS_MAX]; /* added fields: the default's text */
static int n_decls;

/* A target for kind k, picked by the input; 0 when the kind is never declared. */
static enum av_target target_for(enum gkind k, const struct gnode *g, struct rng *r,
				 uint32_t *size)
{
	static const uint32_t int_sizes[] = {1, 2, 4, 8};
	*size = 0;
	switch (k) {
	case G_BOOL: return take(r, 2) ? AV_TO_BOOL : (*size = 1, AV_TO_U64);
	case G_INT:
	case G_LONG:
		switch (take(r, 4)) {
		case 0: *size = int_sizes[take(r, 4)]; return AV_TO_U64;
		case 1: *size = 8; return AV_TO_F64;
		case 2: if (k == G_LONG) { *size = 3; return AV_TO_DATETIME64; } /* fall through */
		default: *size = int_sizes[take(r, 4)]; return AV_TO_I64;
		}
	case G_FLOAT: *size = take(r, 2) ? 4 : 8; return AV_TO_F64;
	case G_DOUBLE: *size = 8; return AV_TO_F64;
	case G_BYTES: case G_STRING: case G_FIXED:
		if (take(r, 3) == 0) { /* a fixed wider than the FixedString is unresolvable */
			*size = (k == G_FIXED ? (uint32_t)g->n : 1) + take(r, 10);
			return AV_TO_FIXED_STRING;
		}
		return AV_TO_STRING;
	case G_ENUM: case G_DECIMAL: case G_NULL: case G_UNION3: return AV_TO_STRING;
	case G_DATE: return take(r, 2) ? AV_TO_DATE : AV_TO_DATE32;
	case G_TS_MS: case G_TS_US:
		if (take(r, 3) == 0)
			return AV_TO_DATETIME;
		*size = take(r, 2) ? 3 : 6;
		return AV_TO_DATETIME64;
	case G_UUID: return AV_TO_UUID;
	case G_ARRAY:
		if (g->child->k == G_INT || g->child->k == G_LONG || g->child->k == G_BOOL) {
			*size = 8;
			return AV_TO_ARRAY_I64;
		}
		return AV_TO_ARRAY_STRING;
	default: return 0;
	}
}

static void declare(const char *path, const struct gnode *g, bool opt, bool nullable,
		    struct rng *r)
{
	if (n_decls == DECLS_MAX || g->k == G_MAP || take(r, 6) == 0)
		return;
	struct leaf *l = &leaves[n_decls];
	struct av_field_decl *d = &decls[n_decls];
	memset(d, 0, sizeof(*d));
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->g = g;
	l->opt = opt;
	d->path = l->path;
	d->target = target_for(g->k, g, r, &d->size);
	/* a null can only be read into a Nullable field: mostly declare them so */
	d->nullable = g->k == G_NULL || g->k == G_UNION3 || ((opt || nullable) && take(r, 4) != 0);
	defaults_expected[n_decls] = NULL;
	if (d->target != 0)
		n_decls++;
}

/* Declares the leaves of record g (paths under prefix); nullable: a record above may be null. */
static void collect(const struct gnode *g, const char *prefix, bool nullable, struct rng *r)
{
	for (int i = 0; i < g->n; i++) {
		const struct gnode *f = g->fields[i];
		char path[64];
		snprintf(path, sizeof(path), "%s%s", prefix, g->fname[i]);
		if (f->k == G_RECORD || (f->k == G_OPT && f->child->k == G_RECORD)) {
			char sub[64];
			snprintf(sub, sizeof(sub), "%s.", path);
			collect(f->k == G_RECORD ? f : f->child, sub, nullable || f->k == G_OPT, r);
		} else if (f->k == G_OPT) {
			declare(path, f->child, true, nullable, r);
		} else {
			declare(path, f, false, nullable, r);
		}
	}
}

struct expect {
	int err;
	struct event_value v;
	char text[192];
	struct event_str strs[8];
	int64_t ints[8];
};

static void range(struct expect *e, int64_t x, int64_t lo, int64_t hi)
{
	if (x < lo || x > hi)
		e->err = AV_ERR_RANGE;
	e->v.i64 = x;
}

static int64_t floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* An integer read into target d (the number of its kind). */
static void expect_int(struct expect *e, const struct av_field_decl *d, enum gkind k, int64_t x)
{
	int64_t t;
	switch (d->target) {
	case AV_TO_BOOL: e->v.u64 = (uint64_t)x; break;
	case AV_TO_U64:
		range(e, x, 0, d->size == 8 ? INT64_MAX : (INT64_C(1) << (8 * d->size)) - 1);
		break;
	case AV_TO_I64:
	case AV_TO_ARRAY_I64:
		if (d->size == 8)
			e->v.i64 = x;
		else
			range(e, x, -(INT64_C(1) << (8 * d->size - 1)),
			      (INT64_C(1) << (8 * d->size - 1)) - 1);
		break;
	case AV_TO_F64: e->v.f64 = (double)x; break;
	case AV_TO_DATE: range(e, x, 0, 65535); break;
	case AV_TO_DATE32: range(e, x, -25567, 120529); break;
	case AV_TO_DATETIME:
		range(e, k == G_TS_MS ? floordiv(x, 1000) : k == G_TS_US ? floordiv(x, 1000000) : x, 0,
		      UINT32_MAX);
		break;
	case AV_TO_DATETIME64: {
		int64_t p = d->size == 3 ? 1000 : 1000000;
		if (k == G_TS_US && d->size == 3)
			t = floordiv(x, 1000);
		else if (k == G_TS_MS && d->size == 6 && __builtin_mul_overflow(x, 1000, &t))
			t = INT64_MAX; /* out of range either way */
		else if (k == G_TS_MS && d->size == 6)
			(void)0;
		else
			t = x;
		range(e, t, SEC_MIN * p, SEC_MAX * p + p - 1);
		break;
	}
	default: e->err = 99; break;
	}
}

/* A decimal's bytes (at most 16) as text with scale decimals, through __int128. */
static void expect_decimal(struct expect *e, const uint8_t *b, size_t n, int scale)
{
	__int128 v = (b[0] & 0x80) ? -1 : 0;
	for (size_t i = 0; i < n; i++)
		v = (__int128)((unsigned __int128)v << 8) | b[i];
	bool neg = v < 0;
	unsigned __int128 m = neg ? -(unsigned __int128)v : (unsigned __int128)v;
	char digits[64];
	int nd = 0;
	do {
		digits[nd++] = (char)('0' + (int)(m % 10));
		m /= 10;
	} while (m > 0);
	while (nd <= scale)
		digits[nd++] = '0';
	char *p = e->text;
	if (neg)
		*p++ = '-';
	for (int i = nd - 1; i >= 0; i--) {
		*p++ = digits[i];
		if (i == scale && scale > 0)
			*p++ = '.';
	}
	e->v.ptr = e->text;
	e->v.len = (uint32_t)(p - e->text);
}

static void expect_uuid(struct expect *e, const char *s)
{
	uint8_t *u = (uint8_t *)e->text;
	for (int i = 0, k = 0; i < 16; i++, k += 2) {
		if (k == 8 || k == 13 || k == 18 || k == 23)
			k++;
		unsigned x;
		sscanf(s + k, "%2x", &x);
		u[i] = (uint8_t)x;
	}
	e->v.ptr = e->text;
	e->v.len = 16;
}

static void expect_bytes(struct expect *e, const struct av_field_decl *d, const void *p, size_t n)
{
	if (d->target == AV_TO_FIXED_STRING && n > d->size)
		e->err = AV_ERR_TOO_LONG;
	e->v.ptr = p;
	e->v.len = (uint32_t)n;
}

static void expect_array(struct expect *e, const struct av_field_decl *d, avro_value_t *v,
			 const struct gnode *item)
{
	size_t n = 0;
	avro_value_get_size(v, &n);
	for (size_t i = 0; i < n; i++) {
		avro_value_t c;
		avro_value_get_by_index(v, i, &c, NULL);
		const char *s = "";
		const void *b = NULL;
		size_t len = 1;
		int x32 = 0, en = 0;
		int64_t x64 = 0;
		switch (item->k) {
		case G_STRING: avro_value_get_string(&c, &s, &len); e->strs[i] = (struct event_str){s, (uint32_t)len - 1}; break;
		case G_BYTES: avro_value_get_bytes(&c, &b, &len); e->strs[i] = (struct event_str){b, (uint32_t)len}; break;
		case G_ENUM:
			avro_value_get_enum(&c, &en);
			e->strs[i].ptr = e->text + 4 * i;
			e->strs[i].len = (uint32_t)snprintf(e->text + 4 * i, 4, "S%d", en);
			break;
		case G_INT: avro_value_get_int(&c, &x32); e->ints[i] = x32; break;
		case G_LONG: avro_value_get_long(&c, &x64); e->ints[i] = x64; break;
		case G_BOOL: avro_value_get_boolean(&c, &x32); e->ints[i] = x32; break;
		default: e->err = 99; break;
		}
	}
	e->v.ptr = d->target == AV_TO_ARRAY_I64 ? (const char *)e->ints : (const char *)e->strs;
	e->v.len = (uint32_t)n;
}

/* What field d must read from leaf value v of type g. */
static void expect_leaf(struct expect *e, const struct av_field_decl *d, avro_value_t *v,
			const struct gnode *g)
{
	const char *s = "";
	const void *b = NULL;
	size_t n = 1;
	int x32 = 0;
	int64_t x64 = 0;
	float f = 0;
	double dbl = 0;
	switch (g->k) {
	case G_NULL: e->v.null = 1; break;
	case G_BOOL: avro_value_get_boolean(v, &x32); expect_int(e, d, g->k, x32); break;
	case G_INT: case G_DATE: avro_value_get_int(v, &x32); expect_int(e, d, g->k, x32); break;
	case G_LONG: case G_TS_MS: case G_TS_US:
		avro_value_get_long(v, &x64);
		expect_int(e, d, g->k, x64);
		break;
	case G_FLOAT: avro_value_get_float(v, &f); e->v.f64 = f; break;
	case G_DOUBLE: avro_value_get_double(v, &dbl); e->v.f64 = dbl; break;
	case G_STRING: avro_value_get_string(v, &s, &n); expect_bytes(e, d, s, n - 1); break;
	case G_BYTES: avro_value_get_bytes(v, &b, &n); expect_bytes(e, d, b, n); break;
	case G_FIXED: avro_value_get_fixed(v, &b, &n); expect_bytes(e, d, b, n); break;
	case G_ENUM:
		avro_value_get_enum(v, &x32);
		e->v.ptr = e->text;
		e->v.len = (uint32_t)snprintf(e->text, sizeof(e->text), "S%d", x32);
		break;
	case G_DECIMAL: avro_value_get_bytes(v, &b, &n); expect_decimal(e, b, n, g->n); break;
	case G_UUID: avro_value_get_string(v, &s, &n); expect_uuid(e, s); break;
	case G_ARRAY: expect_array(e, d, v, g->child); break;
	case G_UNION3: {
		avro_value_t br;
		avro_value_get_discriminant(v, &x32);
		avro_value_get_current_branch(v, &br);
		if (x32 == 0)
			e->v.null = 1;
		else if (x32 == 1)
			e->err = AV_ERR_BRANCH;
		else
			avro_value_get_string(&br, &s, &n), expect_bytes(e, d, s, n - 1);
		break;
	}
	default: e->err = 99; break;
	}
}

/* Walks libavro's value of record top (type g) along l's path to its leaf. */
static void expect_of(const struct leaf *l, const struct av_field_decl *d, avro_value_t *top,
		      const struct gnode *g, struct expect *e)
{
	memset(e, 0, sizeof(*e));
	char path[64];
	snprintf(path, sizeof(path), "%s", l->path);
	avro_value_t cur = *top, child;
	for (char *part = strtok(path, "."); part != NULL; part = strtok(NULL, ".")) {
		int i = 0;
		while (i < g->n && strcmp(g->fname[i], part) != 0)
			i++;
		const struct gnode *f = g->fields[i];
		avro_value_get_by_name(&cur, part, &child, NULL);
		if (f->k == G_OPT) {
			int disc = 0;
			avro_value_get_discriminant(&child, &disc);
			if (disc == (f->null_first ? 0 : 1)) {
				if (d->nullable)
					e->v.null = 1;
				else
					e->err = AV_ERR_NULL;
				return;
			}
			avro_value_get_current_branch(&child, &cur);
			f = f->child;
		} else {
			cur = child;
		}
		g = f;
	}
	expect_leaf(e, d, &cur, g);
}

static void compare(int i, const struct expect *e, const struct event_value *v)
{
	const struct av_field_decl *d = &decls[i];
	CHECK(e->v.null == v->null, "%s: null %d, want %d", d->path, v->null, e->v.null);
	if (v->null)
		return;
	switch (d->target) {
	case AV_TO_F64:
		CHECK(v->f64 == e->v.f64 || (d->size == 4 && (float)v->f64 == (float)e->v.f64),
		      "%s: %.17g, want %.17g", d->path, v->f64, e->v.f64);
		break;
	case AV_TO_STRING: case AV_TO_FIXED_STRING: case AV_TO_UUID:
		CHECK(v->len == e->v.len && memcmp(v->ptr, e->v.ptr, v->len) == 0,
		      "%s: '%.*s' (%u), want '%.*s' (%u)", d->path, (int)v->len, v->ptr, v->len,
		      (int)e->v.len, e->v.ptr, e->v.len);
		break;
	case AV_TO_ARRAY_STRING:
		CHECK(v->len == e->v.len, "%s: %u elements, want %u", d->path, v->len, e->v.len);
		for (uint32_t k = 0; k < v->len; k++) {
			const struct event_str *a = (const struct event_str *)(const void *)v->ptr + k;
			const struct event_str *b = (const struct event_str *)(const void *)e->v.ptr + k;
			CHECK(a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0, "%s[%u]",
			      d->path, k);
		}
		break;
	case AV_TO_ARRAY_I64:
		CHECK(v->len == e->v.len, "%s: %u elements, want %u", d->path, v->len, e->v.len);
		for (uint32_t k = 0; k < v->len; k++)
			CHECK(((const int64_t *)(const void *)v->ptr)[k] == e->ints[k], "%s[%u]",
			      d->path, k);
		break;
	default:
		CHECK(v->i64 == e->v.i64, "%s: %" PRId64 ", want %" PRId64, d->path, v->i64,
		      e->v.i64);
		break;
	}
}

/* ---- one round: declared fields resolved and decoded, compared with libavro's value ---- */

static char g_msg[MSG_MAX];
static char g_scratch[1 << 16];
static struct event_value g_vals[DECLS_MAX];

/* Declared fields the writer lacks, with defaults: libavro has no reader defaults, so the
 * expected value is the default itself. */
static void declare_added(struct rng *r)
{
	static const struct {
		const char *path, *text;
		enum av_target target;
		uint32_t size;
	} added[] = {{"added_long", "-5", AV_TO_I64, 8}, {"added_str", "dflt", AV_TO_STRING, 0},
		     {"added_null", NULL, AV_TO_STRING, 0}};
	for (size_t i = 0; i < 3 && n_decls < DECLS_MAX; i++) {
		if (take(r, 2) == 0 && n_decls > 0)
			continue;
		memset(&decls[n_decls], 0, sizeof(decls[n_decls]));
		decls[n_decls] = (struct av_field_decl){.path = added[i].path,
							.target = added[i].target,
							.size = added[i].size,
							.default_text = added[i].text,
							.nullable = added[i].text == NULL};
		defaults_expected[n_decls] = added[i].text ? added[i].text : "";
		leaves[n_decls].g = NULL;
		n_decls++;
	}
}

static void expect_added(int i, struct expect *e)
{
	memset(e, 0, sizeof(*e));
	const struct av_field_decl *d = &decls[i];
	if (d->default_text == NULL)
		e->v.null = 1;
	else if (d->target == AV_TO_I64)
		e->v.i64 = strtoll(d->default_text, NULL, 10);
	else
		e->v = (struct event_value){.ptr = d->default_text, .len = (uint32_t)strlen(d->default_text)};
}

/* Resolves ws (our parse of the writer) against decls and decodes body; compares every field
 * with ref, libavro's value of record type g. strict: the error must be the first expected one
 * in declaration order (declaration follows writer order). */
static void round_check(const struct av_schema *ws, const char *body, size_t len, avro_value_t *ref,
			const struct gnode *g, bool strict)
{
	char err[512];
	struct av_reader *rd = NULL;
	struct av_plan *plan = NULL;
	CHECK(av_reader_create(decls, (size_t)n_decls, &rd, err, sizeof(err)) == 0, "reader: %s", err);
	CHECK(av_resolve(ws, rd, &plan, err, sizeof(err)) == 0, "resolve: %s", err);
	struct av_error derr = {0};
	uint32_t used;
	int rc = av_decode(plan, body, len, g_vals, g_scratch, sizeof(g_scratch), &used, &derr);
	static struct expect e[DECLS_MAX];
	int first = -1;
	for (int i = 0; i < n_decls; i++) {
		if (leaves[i].g == NULL)
			expect_added(i, &e[i]);
		else
			expect_of(&leaves[i], &decls[i], ref, g, &e[i]);
		CHECK(e[i].err != 99, "%s: no expectation", decls[i].path);
		if (first < 0 && e[i].err != 0)
			first = i;
	}
	if (first >= 0) {
		CHECK(rc != 0, "decoded although %s must fail with %s", decls[first].path,
		      av_err_name(e[first].err));
		CHECK(derr.field >= 0 && e[derr.field].err == rc && (!strict || derr.field == first),
		      "failed with %s on field %d (%s), want %s on %s", av_err_name(rc), derr.field,
		      derr.reason, av_err_name(e[first].err), decls[first].path);
	} else {
		CHECK(rc == 0, "decode failed: %s (%s) at %zu, field %d", av_err_name(rc), derr.reason,
		      derr.offset, derr.field);
		for (int i = 0; i < n_decls; i++)
			compare(i, &e[i], &g_vals[i]);
	}
	av_plan_free(plan);
	av_reader_free(rd);
}

/* A reader for writer record w: top-level fields dropped, reordered, promoted. */
static struct gnode *derive_reader(const struct gnode *w, struct rng *r)
{
	struct gnode *rd = node_new(G_RECORD);
	if (rd == NULL)
		return NULL;
	snprintf(rd->name, sizeof(rd->name), "%s", w->name);
	int order[FIELDS_MAX];
	for (int i = 0; i < w->n; i++)
		order[i] = i;
	for (int i = w->n - 1; i > 0; i--) {
		int j = (int)take(r, (unsigned)i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < w->n; k++) {
		int i = order[k];
		if (take(r, 4) == 0 && !(k == w->n - 1 && rd->n == 0))
			continue;
		const struct gnode *f = w->fields[i];
		enum gkind to = f->k;
		if (f->k == G_INT)
			to = take(r, 2) ? G_LONG : G_DOUBLE;
		else if (f->k == G_LONG || f->k == G_FLOAT)
			to = take(r, 2) ? G_DOUBLE : f->k;
		if (to != f->k) {
			struct gnode *p = node_new(to);
			if (p == NULL)
				return NULL;
			f = p;
		}
		snprintf(rd->fname[rd->n], sizeof(rd->fname[0]), "%s", w->fname[i]);
		rd->fields[rd->n++] = (struct gnode *)f;
	}
	return rd;
}

/* Schema evolution: libavro's resolved writer against av_resolve, on the same message. */
static void round_evolved(const struct av_schema *ws, avro_schema_t wschema, const char *body,
			  size_t len, const struct gnode *top, struct rng *r)
{
	struct gnode *rg = derive_reader(top, r);
	char json[JSON_MAX];
	struct out o = {json, 0, sizeof(json), false};
	if (rg == NULL)
		return;
	json_of(&o, rg, -1);
	avro_schema_t rschema;
	if (o.over)
		return;
	CHECK(avro_schema_from_json_length(json, o.n, &rschema) == 0, "libavro: %s: %s",
	      avro_strerror(), json);
	avro_value_iface_t *riface = avro_generic_class_from_schema(rschema);
	avro_value_iface_t *resolver = avro_resolved_writer_new(wschema, rschema);
	CHECK(resolver != NULL, "libavro cannot resolve: %s\n  reader: %s", avro_strerror(), json);
	avro_value_t dest, resolved;
	avro_generic_value_new(riface, &dest);
	avro_resolved_writer_new_value(resolver, &resolved);
	avro_resolved_writer_set_dest(&resolved, &dest);
	avro_reader_t in = avro_reader_memory(body, (int64_t)len);
	CHECK(avro_value_read(in, &resolved) == 0, "libavro read: %s", avro_strerror());
	n_decls = 0;
	collect(rg, "", false, r);
	declare_added(r);
	round_check(ws, body, len, &dest, rg, false);
	avro_reader_free(in);
	avro_value_decref(&resolved);
	avro_value_decref(&dest);
	avro_value_iface_decref(resolver);
	avro_value_iface_decref(riface);
	avro_schema_decref(rschema);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rng r = {data, size};
	n_pool = n_names = 0;
	struct gnode *top = gen_record(&r, 0, FIELDS_MAX);
	struct out o = {g_json, 0, sizeof(g_json), false};
	if (top == NULL)
		return 0;
	json_of(&o, top, -1);
	if (o.over)
		return 0;
	char err[512];
	struct av_schema *ws = NULL;
	avro_schema_t wschema;
	CHECK(av_schema_parse(g_json, o.n, &ws, err, sizeof(err)) == 0, "parse: %s", err);
	CHECK(avro_schema_from_json_length(g_json, o.n, &wschema) == 0, "libavro: %s",
	      avro_strerror());
	avro_value_iface_t *iface = avro_generic_class_from_schema(wschema);
	avro_value_t value, back;
	avro_generic_value_new(iface, &value);
	avro_generic_value_new(iface, &back);
	CHECK(fill(&value, top, &r), "fill: %s", avro_strerror());
	avro_writer_t out = avro_writer_memory(g_msg + AV_FRAME_HEADER, MSG_MAX - AV_FRAME_HEADER);
	if (avro_value_write(out, &value) == 0) {
		size_t len = (size_t)avro_writer_tell(out);
		memcpy(g_msg, "\0\0\0\0\x2a", AV_FRAME_HEADER);
		uint32_t id;
		size_t off;
		CHECK(av_frame(g_msg, len + AV_FRAME_HEADER, &id, &off, NULL) == 0 && id == 42, "frame");
		/* the body alone in an exact-size buffer: a read past it is caught */
		char *body = malloc(len ? len : 1);
		memcpy(body, g_msg + off, len);
		avro_reader_t in = avro_reader_memory(body, (int64_t)len);
		CHECK(avro_value_read(in, &back) == 0, "libavro read: %s", avro_strerror());
		avro_reader_free(in);
		n_decls = 0;
		collect(top, "", false, &r);
		declare_added(&r);
		round_check(ws, body, len, &back, top, true);
		round_evolved(ws, wschema, body, len, top, &r);
		free(body);
	}
	avro_writer_free(out);
	/* the raw input as a body, read by the last declaration: any result but a crash */
	struct av_reader *rd = NULL;
	struct av_plan *plan = NULL;
	if (av_reader_create(decls, (size_t)n_decls, &rd, err, sizeof(err)) == 0 &&
	    av_resolve(ws, rd, &plan, err, sizeof(err)) == 0) {
		uint32_t used;
		av_decode(plan, (const char *)data, size, g_vals, g_scratch, sizeof(g_scratch), &used,
			  NULL);
	}
	av_plan_free(plan);
	av_reader_free(rd);
	avro_value_decref(&back);
	avro_value_decref(&value);
	avro_value_iface_decref(iface);
	avro_schema_decref(wschema);
	av_schema_free(ws);
	return 0;
}
