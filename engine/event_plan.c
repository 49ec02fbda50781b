/*
 * event_plan: compiles a schema into the JSON decoder's plan (contract in include/event.h, layout
 * in event_impl.h). Off the hot path: once per worker at start, and once when the configuration
 * is checked.
 *
 * The declared paths (and aliases) make a trie of objects; each object's members are contiguous,
 * the declared ones first in declaration order (the order the fast path expects them in), then
 * the aliases. Each object gets a table of its keys under a hash whose seed is searched until no
 * two keys share a slot, so a lookup is one compare; linear probing stays as the fallback.
 * Reasons are written once per field, "<path>: <why>", so a dead letter names the field.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "event_impl.h"

#define SEED_TRIES 4096

struct build {
	struct event_plan *p;
	char *err;
	size_t err_cap;
	int *field;
	/* members as created, each with its node, before they are grouped by node */
	struct ev_member *made;
	uint32_t *made_node;
	uint32_t made_count, made_cap;
	char node_path[EVENT_PLAN_NODES_MAX][SCHEMA_PATH_MAX];
};

__attribute__((format(printf, 3, 4))) static int plan_fail(struct build *b, int field,
							   const char *fmt, ...)
{
	if (b->err && b->err_cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->err, b->err_cap, fmt, ap);
		va_end(ap);
	}
	*b->field = field;
	return -EINVAL;
}

/* size bytes of the arena, aligned to 8; NULL when the estimate was short (a bug). */
static void *arena_take(struct event_plan *p, size_t size)
{
	size_t at = (p->arena_len + 7) & ~(size_t)7;
	if (at > p->arena_cap || p->arena_cap - at < size)
		return NULL;
	p->arena_len = at + size;
	return p->arena + at;
}

__attribute__((format(printf, 2, 3))) static const char *arena_printf(struct event_plan *p,
								       const char *fmt, ...)
{
	char tmp[SCHEMA_PATH_MAX + 192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return "?";
	char *s = arena_take(p, (size_t)n + 1);
	if (!s)
		return "?";
	memcpy(s, tmp, (size_t)n + 1);
	return s;
}

/* An upper bound of the arena's bytes for schema s. */
static size_t arena_bound(const struct schema *s)
{
	size_t n = 4096 + (size_t)EVENT_PLAN_NODES_MAX * 2 * (SCHEMA_PATH_MAX + 64);
	for (uint32_t i = 0; i < s->field_count; i++) {
		const struct schema_field *f = &s->fields[i];
		n += (size_t)R_COUNT * (SCHEMA_PATH_MAX + 160);
		n += (size_t)(1 + f->alias_count) * SCHEMA_PATH_MAX * 2;
		size_t d = strlen(f->default_text);
		n += 6 * d + 16 + 16 * d + 128;
	}
	return n;
}

/* ---- the fields ---- */

/* "YYYY-MM-DDTHH:MM:SS[.f...]Z" of ticks of 10^-precision s (or "YYYY-MM-DD" of days). */
static void time_text(int64_t t, unsigned precision, bool date, char *out, size_t cap)
{
	int64_t per_s = 1;
	for (unsigned i = 0; i < precision; i++)
		per_s *= 10;
	int64_t secs = t >= 0 ? t / per_s : -((-t + per_s - 1) / per_s);
	int64_t frac = t - secs * per_s;
	int64_t days = date ? t : (secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400));
	int64_t sod = date ? 0 : secs - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_date_from_days(days, &y, &m, &d);
	if (date) {
		snprintf(out, cap, "%04" PRId64 "-%02u-%02u", y, m, d);
		return;
	}
	int n = snprintf(out, cap, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d", y, m, d,
			 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	if (precision > 0 && n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ".%0*" PRId64, (int)precision, frac);
	if (n > 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, "Z");
}

/* ClickHouse's Date32 and DateTime64 span: 1900-01-01 .. 2299-12-31, in days. */
#define DAYS_MIN INT64_C(-25567)
#define DAYS_MAX INT64_C(120529)

static int64_t mul_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

/* A time field's accepted values, and how a number in its unit becomes one. */
static void field_time(struct ev_field *e, const struct schema_field *f, bool is_time_field)
{
	static const int64_t p10[10] = {1,	 10,	  100,	    1000,      10000,
					100000, 1000000, 10000000, 100000000, 1000000000};
	int64_t lo_days = f->kind == SCHEMA_DATE32 || f->kind == SCHEMA_DATETIME64 ? DAYS_MIN : 0;
	if (is_time_field)
		lo_days = 0;
	int64_t per_s = p10[e->precision];
	switch (f->kind) {
	case SCHEMA_DATE:
		e->lo = 0;
		e->hi = 65535;
		break;
	case SCHEMA_DATE32:
		e->lo = lo_days;
		e->hi = DAYS_MAX;
		break;
	case SCHEMA_DATETIME:
		e->lo = 0;
		e->hi = UINT32_MAX;
		break;
	default: {
		e->lo = mul_sat(lo_days * 86400, per_s);
		int64_t hi = mul_sat(DAYS_MAX * 86400 + 86399, per_s);
		e->hi = hi == INT64_MAX ? INT64_MAX : hi + per_s - 1;
		break;
	}
	}
	e->mul = 1;
	e->div = 1;
	if (f->unit == SCHEMA_UNIT_NONE)
		return;
	e->has_unit = 1;
	bool days = f->kind == SCHEMA_DATE || f->kind == SCHEMA_DATE32;
	if (f->unit == SCHEMA_UNIT_DAYS)
		return; /* days into days */
	unsigned k = f->unit == SCHEMA_UNIT_S ? 0 : f->unit == SCHEMA_UNIT_MS ? 3
						 : f->unit == SCHEMA_UNIT_US ? 6 : 9;
	if (days)
		e->div = 86400 * p10[k];
	else if (e->precision >= k)
		e->mul = p10[e->precision - k];
	else
		e->div = p10[k - e->precision];
}

static enum ev_op field_op(const struct schema_field *f)
{
	switch (f->kind) {
	case SCHEMA_FIXED_STRING: return OP_FIXED;
	case SCHEMA_U64: return OP_U64;
	case SCHEMA_I64: return OP_I64;
	case SCHEMA_F64: return f->size == 4 ? OP_F32 : OP_F64;
	case SCHEMA_BOOL: return OP_BOOL;
	case SCHEMA_DATE: case SCHEMA_DATE32: return OP_DATE;
	case SCHEMA_DATETIME: return OP_DATETIME;
	case SCHEMA_DATETIME64: return OP_DT64;
	case SCHEMA_UUID: return OP_UUID;
	case SCHEMA_IPV4: return OP_IPV4;
	case SCHEMA_IPV6: return OP_IPV6;
	case SCHEMA_ARRAY_STRING: return OP_ARR_STR;
	case SCHEMA_ARRAY_I64: return OP_ARR_I64;
	default: return OP_STRING;
	}
}

/* The text of a wrong JSON type for the field's op. */
static const char *type_text(const struct ev_field *e)
{
	switch (e->op) {
	case OP_STRING:
	case OP_FIXED:
		return e->integers_text ? "not a string or integer" : "not a string";
	case OP_U64:
	case OP_I64:
		return "not an integer or decimal string";
	case OP_F64:
	case OP_F32:
		return "not a number";
	case OP_BOOL:
		return "not a boolean";
	case OP_DATE:
	case OP_DATETIME:
	case OP_DT64:
		return e->has_unit ? "not a string or integer" : "not a string";
	case OP_ARR_STR:
	case OP_ARR_I64:
		return "not an array";
	default:
		return "not a string";
	}
}

/* "<path>: <why>" for every reason of field e. */
static int field_reasons(struct event_plan *p, struct ev_field *e, const struct schema_field *f)
{
	char range[160] = "";
	if (e->op == OP_DATE || e->op == OP_DATETIME || e->op == OP_DT64) {
		char lo[64], hi[64];
		time_text(e->lo, e->precision, e->op == OP_DATE, lo, sizeof(lo));
		time_text(e->hi, e->precision, e->op == OP_DATE, hi, sizeof(hi));
		snprintf(range, sizeof(range), "%s..%s", lo, hi);
	}
	const char *path = f->path;
	const char **why = arena_take(p, R_COUNT * sizeof(*why));
	if (!why)
		return -ENOMEM;
	e->why = why;
	why[R_NONE] = "";
	why[R_TYPE] = arena_printf(p, "%s: %s", path, type_text(e));
	why[R_NOT_INT] = arena_printf(p, "%s: not an integer", path);
	why[R_NEGATIVE] = arena_printf(p, "%s: negative", path);
	why[R_RANGE] = arena_printf(p, "%s: out of range", path);
	why[R_NOT_DEC] = arena_printf(p, "%s: not a decimal string", path);
	why[R_LONG_FIXED] = arena_printf(p, "%s: longer than %s", path, f->type);
	why[R_FORMAT] = arena_printf(p, "%s: bad format", path);
	why[R_OFFSET] = arena_printf(p, "%s: bad offset", path);
	why[R_DATE] = arena_printf(p, "%s: invalid date", path);
	why[R_TIME] = arena_printf(p, "%s: invalid time", path);
	why[R_OUTSIDE] = arena_printf(p, "%s: outside %s", path, range);
	why[R_EPOCH] = arena_printf(p, "%s: epoch %s not an integer", path,
				       schema_unit_name(f->unit));
	why[R_NOT_UUID] = arena_printf(p, "%s: not a UUID", path);
	why[R_NOT_IPV4] = arena_printf(p, "%s: not an IPv4 address", path);
	why[R_NOT_IPV6] = arena_printf(p, "%s: not an IPv6 address", path);
	why[R_ELEM_TYPE] = arena_printf(p, "%s: an element is not %s", path,
					   e->op == OP_ARR_STR ? "a string" : "an integer");
	why[R_ELEM_RANGE] = arena_printf(p, "%s: an element is out of range", path);
	why[R_SCRATCH] = arena_printf(p, "%s: longer than the scratch buffer", path);
	why[R_DUPLICATE] = arena_printf(p, "%s: duplicate field", path);
	why[R_MISSING] = arena_printf(p, "%s: missing", path);
	return 0;
}

static int field_compile(struct event_plan *p, uint32_t i, const struct schema *s)
{
	const struct schema_field *f = &s->fields[i];
	struct ev_field *e = &p->fields[i];
	e->op = (uint8_t)field_op(f);
	e->nullable = f->nullable;
	e->integers_text = f->integers_text;
	e->kept = e->op == OP_STRING || e->op == OP_FIXED;
	e->fixed_len = f->kind == SCHEMA_FIXED_STRING ? f->size : 0;
	e->precision = f->kind == SCHEMA_DATETIME64 ? f->size : 0;
	if (f->kind == SCHEMA_U64) {
		e->umax = f->size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * f->size)) - 1;
	} else if (f->kind == SCHEMA_I64 || f->kind == SCHEMA_ARRAY_I64) {
		e->lo = f->size == 8 ? INT64_MIN : -(INT64_C(1) << (8 * f->size - 1));
		e->hi = f->size == 8 ? INT64_MAX : (INT64_C(1) << (8 * f->size - 1)) - 1;
	} else if (f->kind == SCHEMA_DATE || f->kind == SCHEMA_DATE32 ||
		   f->kind == SCHEMA_DATETIME || f->kind == SCHEMA_DATETIME64) {
		field_time(e, f, i == s->time_index);
	}
	if (e->op == OP_UUID || e->op == OP_IPV6)
		p->bytes16++;
	if (e->op == OP_ARR_STR || e->op == OP_ARR_I64)
		p->has_arrays = true;
	p->dflt[i].null = 1;
	p->all |= UINT64_C(1) << i;
	if (!f->nullable && !f->has_default)
		p->required |= UINT64_C(1) << i;
	return field_reasons(p, e, f);
}

/* The default's text as the JSON value the field's type reads. */
static char *default_json(struct event_plan *p, const struct ev_field *e, const char *text)
{
	size_t n = strlen(text);
	bool number = text[0] != '\0' && strspn(text + (text[0] == '-'), "0123456789") ==
						    n - (text[0] == '-');
	bool literal = e->op == OP_U64 || e->op == OP_I64 || e->op == OP_F64 || e->op == OP_F32 ||
		       e->op == OP_BOOL || e->op == OP_ARR_STR || e->op == OP_ARR_I64 ||
		       ((e->op == OP_DATE || e->op == OP_DATETIME || e->op == OP_DT64) && number &&
			e->has_unit);
	char *j = arena_take(p, 6 * n + 3);
	if (!j)
		return NULL;
	if (literal) {
		memcpy(j, text, n + 1);
		return j;
	}
	size_t o = 0;
	j[o++] = '"';
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c == '"' || *c == '\\') {
			j[o++] = '\\';
			j[o++] = (char)*c;
		} else if (*c < 0x20) {
			o += (size_t)sprintf(j + o, "\\u%04x", *c);
		} else {
			j[o++] = (char)*c;
		}
	}
	j[o++] = '"';
	j[o] = '\0';
	return j;
}

/* A declared default, decoded once into the field's default slot. */
static int field_default(struct build *b, uint32_t i, const struct schema_field *f)
{
	struct event_plan *p = b->p;
	struct ev_field *e = &p->fields[i];
	if (!f->has_default)
		return 0;
	e->has_default = 1;
	if (strcmp(f->default_text, "null") == 0)
		return 0; /* dflt is NULL already */
	char *json = default_json(p, e, f->default_text);
	size_t cap = 16 * strlen(f->default_text) + 64;
	char *scratch = arena_take(p, cap);
	if (!json || !scratch)
		return plan_fail(b, (int)i, "field.%s: default too long", f->name);
	size_t used;
	const char *why = NULL;
	if (ev_decode_value(p, i, json, strlen(json), &p->dflt[i], scratch, cap, &used, &why) != 0)
		return plan_fail(b, (int)i, "field.%s: default=%s: %s", f->name, f->default_text,
				 why ? why : "not a value of the type");
	return 0;
}

/* ---- the trie ---- */

/* The member of node with key k (field: -1 for an object), created when absent. */
static int member_get(struct build *b, uint32_t node, const char *k, size_t len, int32_t field,
		      const char *path, size_t path_len, uint32_t *out)
{
	struct event_plan *p = b->p;
	for (uint32_t i = 0; i < b->made_count; i++) {
		struct ev_member *m = &b->made[i];
		if (b->made_node[i] == node && m->key_len == len &&
		    memcmp(p->arena + m->key_off, k, len) == 0) {
			if (m->field != field) /* schema_finish keeps paths apart: never */
				return plan_fail(b, field, "path %.*s: both a value and an object",
						 (int)path_len, path);
			*out = i;
			return 0;
		}
	}
	if (b->made_count == b->made_cap)
		return plan_fail(b, field, "more members than the plan holds");
	if (field < 0 && p->node_count == EVENT_PLAN_NODES_MAX)
		return plan_fail(b, -1, "more than %d objects along the declared paths",
				 EVENT_PLAN_NODES_MAX - 1);
	char *key = arena_take(p, len + 1);
	if (!key)
		return plan_fail(b, field, "arena too small");
	memcpy(key, k, len);
	key[len] = '\0';
	uint32_t i = b->made_count++;
	struct ev_member *m = &b->made[i];
	*m = (struct ev_member){.key_off = (uint32_t)(key - p->arena), .key_len = (uint32_t)len,
				.field = field,
				.lit_len = 1, .lit_mask = 1}; /* lit "\0": never matched */
	b->made_node[i] = node;
	if (len + 3 <= sizeof(m->lit)) {
		m->lit[0] = '"';
		memcpy(m->lit + 1, k, len);
		m->lit[len + 1] = '"';
		m->lit[len + 2] = ':';
		m->lit_len = (uint8_t)(len + 3);
		m->lit_mask = (uint16_t)((1u << m->lit_len) - 1);
	}
	if (field < 0) {
		m->child = p->node_count++;
		snprintf(b->node_path[m->child], SCHEMA_PATH_MAX, "%.*s", (int)path_len, path);
		struct ev_node *child = &p->nodes[m->child];
		child->dup_why = arena_printf(p, "%.*s: duplicate field", (int)path_len, path);
		child->obj_why = arena_printf(p, "%.*s: not an object", (int)path_len, path);
	}
	*out = i;
	return 0;
}

/* Adds path (a field's path or alias) leading to field f. */
static int path_add(struct build *b, const char *path, int32_t f)
{
	uint32_t node = 0, m = 0;
	const char *part = path;
	for (;;) {
		const char *dot = strchr(part, '.');
		size_t len = dot ? (size_t)(dot - part) : strlen(part);
		size_t upto = (size_t)(part - path) + len;
		int rc = member_get(b, node, part, len, dot ? -1 : f, path, upto, &m);
		if (rc < 0)
			return rc;
		if (!dot)
			return 0;
		node = b->made[m].child;
		part = dot + 1;
	}
}

/* Groups the members by node (creation order kept), links each declared one (made before
 * `primaries`, the aliases after) to the next one of its node. */
static int members_place(struct build *b, uint32_t primaries)
{
	struct event_plan *p = b->p;
	/* The members, then the one that matches nothing, then each node's start. */
	size_t total = (size_t)b->made_count + 1 + p->node_count;
	p->members = aligned_alloc(64, total * sizeof(*p->members));
	if (!p->members)
		return -ENOMEM;
	memset(p->members, 0, total * sizeof(*p->members));
	uint32_t none = b->made_count;
	for (uint32_t i = none; i < total; i++)
		p->members[i] = (struct ev_member){.field = -1, .next = &p->members[none],
						   .lit_len = 1, .lit_mask = 1};
	uint32_t at = 0;
	for (uint32_t n = 0; n < p->node_count; n++) {
		struct ev_node *node = &p->nodes[n];
		node->first = at;
		node->start = none + 1 + n;
		uint32_t prev = node->start;
		for (uint32_t i = 0; i < b->made_count; i++) {
			if (b->made_node[i] != n)
				continue;
			struct ev_member *m = &p->members[at];
			*m = b->made[i];
			m->next = &p->members[none];
			m->op = OP_OBJECT;
			if (m->field >= 0) {
				m->f = &p->fields[m->field];
				m->op = m->f->op;
				m->bit = UINT64_C(1) << m->field;
				m->slot_off = (uint32_t)m->field * sizeof(struct event_value);
			}
			if (m->key_len > node->key_max)
				node->key_max = m->key_len;
			if (i < primaries) { /* declared, not an alias: expected in order */
				p->members[prev].next = m;
				prev = at;
			}
			at++;
		}
		node->count = at - node->first;
	}
	p->member_count = at;
	return 0;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A node's key table: a seed under which no two keys collide, if one is found. */
static int node_table(struct event_plan *p, struct ev_node *n)
{
	uint32_t size = 4;
	while (size < 2 * n->count)
		size <<= 1;
	n->table_mask = size - 1;
	n->table = calloc(size, sizeof(*n->table));
	if (!n->table)
		return -ENOMEM;
	uint64_t state = 0x5EED;
	for (int t = 0; t < SEED_TRIES; t++) {
		n->seed = splitmix(&state) | 1;
		memset(n->table, 0, size * sizeof(*n->table));
		bool clash = false;
		for (uint32_t i = 0; i < n->count && !clash; i++) {
			const struct ev_member *m = &p->members[n->first + i];
			uint32_t h = ev_key_hash(n, (const uint8_t *)p->arena + m->key_off,
						 m->key_len);
			clash = n->table[h] != 0;
			n->table[h] = n->first + i + 1;
		}
		if (!clash) {
			n->perfect = true;
			return 0;
		}
	}
	memset(n->table, 0, size * sizeof(*n->table)); /* none perfect: probe linearly */
	for (uint32_t i = 0; i < n->count; i++) {
		const struct ev_member *m = &p->members[n->first + i];
		uint32_t h = ev_key_hash(n, (const uint8_t *)p->arena + m->key_off, m->key_len);
		while (n->table[h] != 0)
			h = (h + 1) & n->table_mask;
		n->table[h] = n->first + i + 1;
	}
	return 0;
}

/* The trie of s's paths: every field's path, then (so the fast path expects declared keys) the
 * aliases. */
static int trie_build(struct build *b, const struct schema *s)
{
	struct event_plan *p = b->p;
	b->made_cap = s->field_count * (1 + SCHEMA_ALIASES_MAX) * SCHEMA_PATH_DEPTH_MAX + 1;
	b->made = calloc(b->made_cap, sizeof(*b->made));
	b->made_node = calloc(b->made_cap, sizeof(*b->made_node));
	if (!b->made || !b->made_node)
		return -ENOMEM;
	p->node_count = 1; /* the event object */
	snprintf(b->node_path[0], SCHEMA_PATH_MAX, "event");
	for (uint32_t i = 0; i < s->field_count; i++) {
		int rc = path_add(b, s->fields[i].path, (int32_t)i);
		if (rc < 0)
			return rc;
	}
	uint32_t primaries = b->made_count; /* the members made so far are the declared ones */
	for (uint32_t i = 0; i < s->field_count; i++) {
		for (uint32_t a = 0; a < s->fields[i].alias_count; a++) {
			int rc = path_add(b, s->fields[i].aliases[a], (int32_t)i);
			if (rc < 0)
				return rc;
		}
	}
	int rc = members_place(b, primaries);
	for (uint32_t n = 0; rc == 0 && n < p->node_count; n++)
		rc = node_table(p, &p->nodes[n]);
	return rc;
}

int event_plan_create(const struct schema *s, struct event_plan **out, char *err,
		      size_t err_cap, int *field)
{
	int unused_field;
	struct build b = {.err = err, .err_cap = err_cap, .field = field ? field : &unused_field};
	*b.field = -1;
	if (s->field_count == 0 || s->field_count > SCHEMA_FIELDS_MAX)
		return plan_fail(&b, -1, "1 to %d fields", SCHEMA_FIELDS_MAX);
	/* Aligned for the scans' vectors in its fast-pass state. */
	size_t size = (sizeof(struct event_plan) + 63) & ~(size_t)63;
	struct event_plan *p = aligned_alloc(64, size);
	if (!p)
		return -ENOMEM;
	memset(p, 0, size);
	b.p = p;
	int rc = -ENOMEM;
	p->fast.plan = p;
	ev_scan_vec_init(&p->fast.sv);
	p->field_count = s->field_count;
	p->catch_all = s->catch_all[0] != '\0';
	p->slots = s->field_count + p->catch_all;
	p->fields = calloc(s->field_count, sizeof(*p->fields));
	p->dflt = calloc(s->field_count, sizeof(*p->dflt));
	p->arena_cap = arena_bound(s);
	p->arena = malloc(p->arena_cap);
	p->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!p->fields || !p->dflt || !p->arena || p->c_locale == (locale_t)0)
		goto out_free;
	p->catch_why = arena_printf(p, "%s: longer than the scratch buffer", s->catch_all);
	rc = 0;
	for (uint32_t i = 0; rc == 0 && i < s->field_count; i++)
		rc = field_compile(p, i, s);
	if (rc == 0)
		rc = trie_build(&b, s);
	for (uint32_t i = 0; rc == 0 && i < s->field_count; i++)
		rc = field_default(&b, i, &s->fields[i]);
	if (rc < 0)
		goto out_free;
	free(b.made);
	free(b.made_node);
	*out = p;
	return 0;

out_free:
	if (rc == -ENOMEM)
		plan_fail(&b, -1, "out of memory");
	free(b.made);
	free(b.made_node);
	event_plan_free(p);
	return rc;
}

void event_plan_free(struct event_plan *p)
{
	if (!p)
		return;
	for (uint32_t n = 0; n < p->node_count; n++)
		free(p->nodes[n].table);
	if (p->c_locale != (locale_t)0)
		freelocale(p->c_locale);
	free(p->members);
	free(p->fields);
	free(p->dflt);
	free(p->arena);
	free(p);
}

uint32_t event_plan_slots(const struct event_plan *p)
{
	return p->slots;
}

size_t event_plan_scratch_bound(const struct event_plan *p, size_t len)
{
	size_t n = len + 16 * (size_t)p->bytes16;
	if (p->has_arrays)
		n += 16 * len + 64;
	if (p->catch_all)
		n += len + 2;
	return n;
}
