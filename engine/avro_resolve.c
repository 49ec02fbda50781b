/*
 * avro_resolve: a writer schema resolved against the declared fields into a decoding program
 * (contract in include/avro.h, program in engine/avro_impl.h). Off the hot path, once per schema.
 *
 * First each declared field picks the first of its path and aliases present in the writer (a
 * path through a union is present when any record branch has it); a field with none takes its
 * default, or NULL, or makes the schema unresolvable. Then the writer's top record is walked
 * once in writer order: a field no declared path goes through is skipped, a field a path ends
 * at is read (emit_value), a field a path goes through is descended into (emit_nested), with
 * the set of declared fields below it. A union on the way gets a branch program per branch.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_err.h"
#include "avro_impl.h"

#define NONE UINT32_MAX

struct pbuild {
	const struct av_schema *w;
	const struct av_reader *r;
	struct av_op *ops;
	uint32_t *jumps;
	struct av_scale *scales;
	struct event_str *texts;
	uint32_t n_ops, n_jumps, n_scales, n_texts;
	uint32_t cap_ops, cap_jumps, cap_scales, cap_texts;
	const struct av_path **chosen; /* per field: its path in the writer, NULL when absent */
	int rc;
	char *err;
	size_t errcap;
};

__attribute__((format(printf, 4, 5))) static int pfail(struct pbuild *b, int rc, uint32_t field,
						       const char *fmt, ...)
{
	if (b->rc != 0)
		return b->rc;
	b->rc = rc;
	va_list ap;
	va_start(ap, fmt);
	av_err_vset(b->err, b->errcap, field == NONE ? "schema" : b->r->fields[field].path, fmt, ap);
	va_end(ap);
	return rc;
}

/* Room for n more elements of size sz in *arr; returns the index of the first or NONE. */
static uint32_t grow(struct pbuild *b, void **arr, uint32_t *used, uint32_t *cap, uint32_t n,
		     size_t sz)
{
	if (b->rc != 0)
		return NONE;
	if ((uint64_t)*used + n > AV_PROGRAM_OPS_MAX) {
		pfail(b, -E2BIG, NONE, "decoding program longer than %u", AV_PROGRAM_OPS_MAX);
		return NONE;
	}
	if (*used + n > *cap) {
		uint32_t c = *cap ? *cap : 32;
		while (c < *used + n)
			c *= 2;
		void *p = realloc(*arr, (size_t)c * sz);
		if (p == NULL) {
			pfail(b, -ENOMEM, NONE, "out of memory");
			return NONE;
		}
		*arr = p;
		*cap = c;
	}
	uint32_t at = *used;
	*used += n;
	return at;
}

static uint32_t op_add(struct pbuild *b, struct av_op op)
{
	uint32_t at = grow(b, (void **)&b->ops, &b->n_ops, &b->cap_ops, 1, sizeof(op));
	if (at != NONE)
		b->ops[at] = op;
	return at;
}

static uint32_t scale_add(struct pbuild *b, struct av_scale s)
{
	uint32_t at = grow(b, (void **)&b->scales, &b->n_scales, &b->cap_scales, 1, sizeof(s));
	if (at != NONE)
		b->scales[at] = s;
	return at;
}

static const struct av_field *field_find(const struct av_schema *w, const struct av_node *rec,
					 const char *name, uint32_t len)
{
	for (uint32_t i = 0; i < rec->n; i++) {
		const struct av_field *f = &w->fields[rec->first + i];
		const char *fn = w->text + f->name;
		if (strncmp(fn, name, len) == 0 && fn[len] == '\0')
			return f;
	}
	return NULL;
}

/* Whether path parts k.. name a field below node (through records and unions of them). */
static bool path_exists(const struct av_schema *w, uint32_t node, const struct av_path *p,
			uint32_t k, unsigned depth)
{
	const struct av_node *nd = &w->nodes[node];
	if (depth > 2 * AV_PATH_DEPTH_MAX)
		return false;
	if (nd->type == AV_T_UNION) {
		for (uint32_t i = 0; i < nd->n; i++)
			if (path_exists(w, w->links[nd->first + i], p, k, depth + 1))
				return true;
		return false;
	}
	if (nd->type != AV_T_RECORD)
		return false;
	const struct av_field *f = field_find(w, nd, p->part[k], p->len[k]);
	if (f == NULL)
		return false;
	return k + 1 == p->n || path_exists(w, f->type, p, k + 1, depth + 1);
}

static bool path_equal(const struct av_path *a, const struct av_path *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] || memcmp(a->part[i], b->part[i], a->len[i]) != 0)
			return false;
	return true;
}

/* Picks each field's path in the writer; fails for an absent field that has no value. */
static int choose_paths(struct pbuild *b)
{
	for (uint32_t i = 0; i < b->r->n; i++) {
		const struct av_rfield *f = &b->r->fields[i];
		b->chosen[i] = NULL;
		for (uint32_t k = 0; k < f->n_paths && b->chosen[i] == NULL; k++)
			if (path_exists(b->w, b->w->root, &f->paths[k], 0, 0))
				b->chosen[i] = &f->paths[k];
		if (b->chosen[i] == NULL && !f->has_default && !f->nullable)
			return pfail(b, -EINVAL, i,
				     "not in the writer schema, no default, not Nullable");
		for (uint32_t k = 0; k < i && b->chosen[i] != NULL; k++)
			if (b->chosen[k] != NULL && path_equal(b->chosen[k], b->chosen[i]))
				return pfail(b, -EINVAL, i, "reads the same writer field as %s",
					     b->r->fields[k].path);
	}
	return 0;
}

/* The texts a writer enum's symbols read as into field fi; sets *first. */
static int enum_texts(struct pbuild *b, const struct av_node *en, uint32_t fi, uint32_t *first)
{
	const struct av_rfield *f = &b->r->fields[fi];
	uint32_t at = grow(b, (void **)&b->texts, &b->n_texts, &b->cap_texts, en->n,
			   sizeof(*b->texts));
	if (at == NONE)
		return b->rc;
	for (uint32_t j = 0; j < en->n; j++) {
		const struct av_sym *s = &b->w->syms[en->first + j];
		struct event_str t = {b->w->text + s->off, s->len};
		if (f->symbols != NULL) {
			uint32_t k = 0;
			while (k < f->n_symbols &&
			       (f->symbols[k].len != s->len ||
				memcmp(f->symbols[k].ptr, t.ptr, s->len) != 0))
				k++;
			if (k < f->n_symbols)
				t = f->symbols[k];
			else if (f->enum_default >= 0)
				t = f->symbols[f->enum_default];
			else
				t = (struct event_str){NULL, 0}; /* AV_ERR_SYMBOL when sent */
		}
		b->texts[at + j] = t;
	}
	*first = at;
	return 0;
}

/* Integer conversion v * mul / div into the target's range. */
static int int_conv(struct pbuild *b, struct av_op *op, enum av_conv conv, int64_t mul,
		    int64_t div, const struct av_rfield *f)
{
	struct av_scale s = {.mul = mul, .div = div};
	av_target_range(f->target, f->size, &s.lo, &s.hi);
	op->conv = (uint8_t)conv;
	op->arg = scale_add(b, s);
	return op->arg == NONE ? b->rc : 0;
}

/* The scale of a writer int/long with logical type lt into a date or time target: *mul, *div. */
static bool time_scale(const struct av_rfield *f, enum av_logical lt, int64_t *mul, int64_t *div)
{
	/* the writer's unit, in 10^-6 s (seconds for plain numbers: see below) */
	int64_t unit_us;
	switch (lt) {
	case AV_L_DATE: unit_us = INT64_C(86400000000); break;
	case AV_L_TS_MILLIS: unit_us = 1000; break;
	case AV_L_TS_MICROS: unit_us = 1; break;
	case AV_L_NONE: *mul = *div = 1; return true; /* a plain number is in the target's unit */
	default: return false;                         /* a time of day is no instant */
	}
	/* the target's unit in 10^-6 s, as a ratio target_num / target_den */
	int64_t tnum = 1, tden = 1;
	switch (f->target) {
	case AV_TO_DATE:
	case AV_TO_DATE32: tnum = INT64_C(86400000000); break;
	case AV_TO_DATETIME: tnum = 1000000; break;
	case AV_TO_DATETIME64:
		if (f->size <= 6)
			tnum = av_pow10(6 - f->size);
		else
			tden = av_pow10(f->size - 6);
		break;
	default: return false;
	}
	/* value_target = value * unit_us / (tnum / tden) = value * unit_us * tden / tnum */
	int64_t num = unit_us * tden, den = tnum;
	if (num >= den) {
		*mul = num / den;
		*div = 1;
	} else {
		*mul = 1;
		*div = den / num;
	}
	return true;
}

static int conv_time(struct pbuild *b, const struct av_node *nd, struct av_op *op,
		     const struct av_rfield *f)
{
	if (nd->type == AV_T_STRING || nd->type == AV_T_BYTES) {
		bool date = f->target == AV_TO_DATE || f->target == AV_TO_DATE32;
		struct av_scale s = {.text = date ? AV_TEXT_DATE : AV_TEXT_RFC3339,
				     .precision = (uint8_t)(f->target == AV_TO_DATETIME64 ? f->size : 0)};
		av_target_range(f->target, f->size, &s.lo, &s.hi);
		op->conv = AV_CV_STR_TIME;
		op->arg = scale_add(b, s);
		return op->arg == NONE ? b->rc : 0;
	}
	int64_t mul, div;
	if ((nd->type != AV_T_INT && nd->type != AV_T_LONG) ||
	    !time_scale(f, (enum av_logical)nd->logical, &mul, &div))
		return -EINVAL;
	return int_conv(b, op, nd->type == AV_T_INT ? AV_CV_INT : AV_CV_LONG, mul, div, f);
}

static int conv_string(struct pbuild *b, const struct av_node *nd, uint32_t fi, struct av_op *op)
{
	const struct av_rfield *f = &b->r->fields[fi];
	bool fixed_string = f->target == AV_TO_FIXED_STRING;
	if (nd->type == AV_T_ENUM && !fixed_string) {
		op->conv = AV_CV_ENUM;
		op->aux = nd->n;
		return enum_texts(b, nd, fi, &op->arg);
	}
	if (f->symbols != NULL)
		return -EINVAL; /* declared symbols want a writer enum */
	if (nd->logical == AV_L_DECIMAL && !fixed_string) {
		op->conv = AV_CV_DECIMAL;
		op->aux = nd->type == AV_T_FIXED ? nd->n : 0;
		op->scale = nd->scale;
		return 0;
	}
	if (nd->type == AV_T_STRING || nd->type == AV_T_BYTES) {
		op->conv = AV_CV_STR;
		op->aux = fixed_string ? f->size : 0;
		return 0;
	}
	if (nd->type == AV_T_FIXED && (!fixed_string || nd->n <= f->size)) {
		op->conv = AV_CV_FIXED;
		op->aux = nd->n;
		return 0;
	}
	return -EINVAL;
}

static int conv_array(struct pbuild *b, const struct av_node *nd, uint32_t fi, struct av_op *op)
{
	const struct av_rfield *f = &b->r->fields[fi];
	if (nd->type != AV_T_ARRAY)
		return -EINVAL;
	const struct av_node *item = &b->w->nodes[nd->first];
	op->aux = nd->first;
	if (f->target == AV_TO_ARRAY_STRING) {
		op->conv = AV_CV_ARRAY_STR;
		op->arg = NONE;
		if (item->type == AV_T_ENUM)
			return enum_texts(b, item, fi, &op->arg);
		return item->type == AV_T_STRING || item->type == AV_T_BYTES ||
				       item->type == AV_T_FIXED
			       ? 0
			       : -EINVAL;
	}
	if (item->type != AV_T_INT && item->type != AV_T_LONG && item->type != AV_T_BOOLEAN)
		return -EINVAL;
	int rc = int_conv(b, op, AV_CV_ARRAY_INT, 1, 1, f);
	op->conv = AV_CV_ARRAY_INT;
	return rc;
}

/* How field fi reads a value of writer node: fills op's conversion. -EINVAL: it cannot
 * (nothing recorded); another negative code: failed (recorded). */
static int conv_of(struct pbuild *b, uint32_t node, uint32_t fi, struct av_op *op)
{
	const struct av_node *nd = &b->w->nodes[node];
	const struct av_rfield *f = &b->r->fields[fi];
	enum av_type t = (enum av_type)nd->type;
	*op = (struct av_op){.code = AV_OP_READ, .slot = (uint16_t)fi};
	switch (f->target) {
	case AV_TO_STRING:
	case AV_TO_FIXED_STRING:
		return conv_string(b, nd, fi, op);
	case AV_TO_U64:
	case AV_TO_I64:
		if (t != AV_T_BOOLEAN && t != AV_T_INT && t != AV_T_LONG)
			return -EINVAL;
		return int_conv(b, op,
				t == AV_T_BOOLEAN ? AV_CV_BOOL : t == AV_T_INT ? AV_CV_INT : AV_CV_LONG,
				1, 1, f);
	case AV_TO_F64:
		op->conv = t == AV_T_INT || t == AV_T_LONG ? AV_CV_INT_F64
			   : t == AV_T_FLOAT		   ? AV_CV_FLOAT_F64
							   : AV_CV_DOUBLE_F64;
		op->aux = t == AV_T_LONG;
		return t == AV_T_INT || t == AV_T_LONG || t == AV_T_FLOAT ||
				       (t == AV_T_DOUBLE && f->size == 8)
			       ? 0
			       : -EINVAL;
	case AV_TO_BOOL:
		op->conv = AV_CV_BOOL_BOOL;
		return t == AV_T_BOOLEAN ? 0 : -EINVAL;
	case AV_TO_DATE:
	case AV_TO_DATE32:
	case AV_TO_DATETIME:
	case AV_TO_DATETIME64:
		return conv_time(b, nd, op, f);
	case AV_TO_UUID:
		op->conv = t == AV_T_FIXED ? AV_CV_FIXED_UUID : AV_CV_STR_UUID;
		return t == AV_T_STRING || t == AV_T_BYTES || (t == AV_T_FIXED && nd->n == 16)
			       ? 0
			       : -EINVAL;
	case AV_TO_ARRAY_STRING:
	case AV_TO_ARRAY_I64:
		return conv_array(b, nd, fi, op);
	}
	return -EINVAL;
}

static const char *logical_name(enum av_logical l)
{
	static const char *const names[] = {
		[AV_L_NONE] = "",
		[AV_L_DATE] = " (date)",
		[AV_L_TIME_MILLIS] = " (time-millis)",
		[AV_L_TIME_MICROS] = " (time-micros)",
		[AV_L_TS_MILLIS] = " (timestamp-millis)",
		[AV_L_TS_MICROS] = " (timestamp-micros)",
		[AV_L_UUID] = " (uuid)",
		[AV_L_DECIMAL] = " (decimal)",
	};
	return names[l];
}

static int cannot_read(struct pbuild *b, uint32_t node, uint32_t fi)
{
	const struct av_node *nd = &b->w->nodes[node];
	const struct av_rfield *f = &b->r->fields[fi];
	char target[32];
	av_target_name(f->target, f->size, target, sizeof(target));
	if (f->symbols != NULL && nd->type != AV_T_ENUM)
		return pfail(b, -EINVAL, fi, "writer type %s cannot be read as an enum",
			     av_type_name((enum av_type)nd->type));
	return pfail(b, -EINVAL, fi, "writer type %s%s cannot be read as %s%s",
		     av_type_name((enum av_type)nd->type),
		     logical_name((enum av_logical)nd->logical), f->nullable ? "Nullable " : "",
		     target);
}

/* After the branch programs of a union starting at op `from`: every branch's closing jump,
 * still unset, goes to the next instruction. */
static void jumps_close(struct pbuild *b, uint32_t from)
{
	for (uint32_t i = from; i < b->n_ops; i++)
		if (b->ops[i].code == AV_OP_JUMP && b->ops[i].arg == NONE)
			b->ops[i].arg = b->n_ops;
}

/* Reads a writer union into field fi, branch by branch. */
static int emit_union_value(struct pbuild *b, const struct av_node *un, uint32_t fi)
{
	const struct av_rfield *f = &b->r->fields[fi];
	struct av_op ops[2];
	uint32_t readable = 0;
	for (uint32_t i = 0; i < un->n; i++) {
		uint32_t br = b->w->links[un->first + i];
		int rc = b->w->nodes[br].type == AV_T_NULL ? -EINVAL : conv_of(b, br, fi, &ops[0]);
		if (rc == 0)
			readable++;
		else if (rc != -EINVAL)
			return rc;
	}
	if (readable == 0) {
		for (uint32_t i = 0; i < un->n; i++)
			if (b->w->nodes[b->w->links[un->first + i]].type != AV_T_NULL)
				return cannot_read(b, b->w->links[un->first + i], fi);
		return pfail(b, -EINVAL, fi, "writer union of null only");
	}
	uint32_t null_at = b->w->nodes[b->w->links[un->first]].type == AV_T_NULL ? 0 : 1;
	uint32_t other = b->w->links[un->first + (1 - null_at)];
	if (un->n == 2 && f->nullable && b->w->nodes[b->w->links[un->first + null_at]].type ==
						 AV_T_NULL) {
		/* [null, T] into a Nullable field: the common case, one test */
		if (conv_of(b, other, fi, &ops[1]) < 0)
			return b->rc;
		op_add(b, (struct av_op){.code = AV_OP_OPTIONAL, .slot = (uint16_t)fi, .aux = null_at});
		op_add(b, ops[1]);
		return b->rc;
	}
	uint32_t table = grow(b, (void **)&b->jumps, &b->n_jumps, &b->cap_jumps, un->n,
			      sizeof(*b->jumps));
	uint32_t start = op_add(b, (struct av_op){.code = AV_OP_UNION, .arg = table, .aux = un->n});
	for (uint32_t i = 0; i < un->n && b->rc == 0; i++) {
		uint32_t br = b->w->links[un->first + i];
		b->jumps[table + i] = b->n_ops;
		if (b->w->nodes[br].type == AV_T_NULL)
			ops[0] = f->nullable ? (struct av_op){.code = AV_OP_NULL, .slot = (uint16_t)fi}
					     : (struct av_op){.code = AV_OP_FAIL, .slot = (uint16_t)fi,
							      .aux = (uint32_t)-AV_ERR_NULL};
		else if (conv_of(b, br, fi, &ops[0]) == -EINVAL)
			ops[0] = (struct av_op){.code = AV_OP_FAIL, .slot = (uint16_t)fi,
						.aux = (uint32_t)-AV_ERR_BRANCH};
		op_add(b, ops[0]);
		op_add(b, (struct av_op){.code = AV_OP_JUMP, .arg = NONE});
	}
	if (b->rc == 0)
		jumps_close(b, start);
	return b->rc;
}

/* Reads writer node into field fi. */
static int emit_value(struct pbuild *b, uint32_t node, uint32_t fi)
{
	const struct av_node *nd = &b->w->nodes[node];
	if (nd->type == AV_T_UNION && nd->n == 1)
		return emit_value(b, b->w->links[nd->first], fi);
	if (nd->type == AV_T_UNION)
		return emit_union_value(b, nd, fi);
	if (nd->type == AV_T_NULL && b->r->fields[fi].nullable) {
		op_add(b, (struct av_op){.code = AV_OP_NULL, .slot = (uint16_t)fi});
		return b->rc;
	}
	struct av_op op;
	int rc = nd->type == AV_T_NULL ? -EINVAL : conv_of(b, node, fi, &op);
	if (rc == -EINVAL)
		return cannot_read(b, node, fi);
	if (rc == 0)
		op_add(b, op);
	return b->rc;
}

static int emit_record(struct pbuild *b, uint32_t node, uint32_t k, const uint16_t *set,
		       uint32_t n);

/* Descends into writer node, which declared fields set[0..n) go through at path part k. */
static int emit_nested(struct pbuild *b, uint32_t node, uint32_t k, const uint16_t *set,
		       uint32_t n)
{
	const struct av_node *nd = &b->w->nodes[node];
	if (nd->type == AV_T_RECORD)
		return emit_record(b, node, k, set, n);
	if (nd->type != AV_T_UNION)
		return pfail(b, -EINVAL, set[0], "part %u is a %s, not a record", k,
			     av_type_name((enum av_type)nd->type));
	uint32_t table = grow(b, (void **)&b->jumps, &b->n_jumps, &b->cap_jumps, nd->n,
			      sizeof(*b->jumps));
	uint32_t start = op_add(b, (struct av_op){.code = AV_OP_UNION, .arg = table, .aux = nd->n});
	for (uint32_t i = 0; i < nd->n && b->rc == 0; i++) {
		uint32_t br = b->w->links[nd->first + i];
		enum av_type t = (enum av_type)b->w->nodes[br].type;
		b->jumps[table + i] = b->n_ops;
		if (t == AV_T_RECORD) {
			emit_record(b, br, k, set, n);
		} else if (t == AV_T_NULL) {
			/* everything below a null is null */
			for (uint32_t j = 0; j < n; j++) {
				bool ok = b->r->fields[set[j]].nullable;
				op_add(b, (struct av_op){.code = ok ? AV_OP_NULL : AV_OP_FAIL,
							 .slot = set[j],
							 .aux = ok ? 0 : (uint32_t)-AV_ERR_NULL});
				if (!ok)
					break;
			}
		} else {
			op_add(b, (struct av_op){.code = AV_OP_FAIL, .slot = set[0],
						 .aux = (uint32_t)-AV_ERR_BRANCH});
		}
		op_add(b, (struct av_op){.code = AV_OP_JUMP, .arg = NONE});
	}
	if (b->rc == 0)
		jumps_close(b, start);
	return b->rc;
}

static bool part_is(const struct av_path *p, uint32_t k, const char *name)
{
	return p->n > k && strncmp(p->part[k], name, p->len[k]) == 0 && name[p->len[k]] == '\0';
}

/* The writer record at node, in writer order: which declared fields set[0..n) read each field
 * (their path part k names it); the others are skipped. */
static int emit_record(struct pbuild *b, uint32_t node, uint32_t k, const uint16_t *set,
		       uint32_t n)
{
	const struct av_node *rec = &b->w->nodes[node];
	uint16_t below[AV_FIELDS_MAX];
	bool matched[AV_FIELDS_MAX] = {false};
	for (uint32_t i = 0; i < rec->n && b->rc == 0; i++) {
		const struct av_field *wf = &b->w->fields[rec->first + i];
		const char *name = b->w->text + wf->name;
		uint32_t m = 0, leaf = NONE;
		for (uint32_t j = 0; j < n; j++) {
			if (!part_is(b->chosen[set[j]], k, name))
				continue;
			matched[j] = true;
			below[m++] = set[j];
			if (b->chosen[set[j]]->n == k + 1)
				leaf = set[j];
		}
		if (m == 0) {
			if (!b->w->nodes[wf->type].zero_size)
				op_add(b, (struct av_op){.code = AV_OP_SKIP, .arg = wf->type});
		} else if (leaf != NONE && m > 1) {
			return pfail(b, -EINVAL, below[below[0] == leaf ? 1 : 0],
				     "goes through %s, which %s reads whole", name,
				     b->r->fields[leaf].path);
		} else if (leaf != NONE) {
			emit_value(b, wf->type, leaf);
		} else {
			emit_nested(b, wf->type, k + 1, below, m);
		}
	}
	/* a field absent from this record (a branch of a union) keeps its value before the
	 * program, its default or NULL; without one the message cannot be read */
	for (uint32_t j = 0; j < n && b->rc == 0; j++) {
		const struct av_rfield *f = &b->r->fields[set[j]];
		if (!matched[j] && !f->has_default && !f->nullable) {
			op_add(b, (struct av_op){.code = AV_OP_FAIL, .slot = set[j],
						 .aux = (uint32_t)-AV_ERR_BRANCH});
			break;
		}
	}
	return b->rc;
}

/* The value of every slot before the program runs: a present field is overwritten by it. */
static struct event_value *init_values(const struct av_reader *r)
{
	struct event_value *init = calloc(r->n, sizeof(*init));
	if (init == NULL)
		return NULL;
	for (uint32_t i = 0; i < r->n; i++) {
		const struct av_rfield *f = &r->fields[i];
		if (f->has_default)
			init[i] = f->def;
		else
			init[i].null = f->nullable;
	}
	return init;
}

static void pbuild_free(struct pbuild *b)
{
	free(b->ops);
	free(b->jumps);
	free(b->scales);
	free(b->texts);
	free(b->chosen);
}

int av_resolve(const struct av_schema *writer, const struct av_reader *reader,
	       struct av_plan **out, char *err, size_t errcap)
{
	struct pbuild b = {.w = writer, .r = reader, .err = err, .errcap = errcap};
	if (errcap > 0)
		err[0] = '\0';
	const struct av_node *root = &writer->nodes[writer->root];
	if (root->type != AV_T_RECORD)
		return pfail(&b, -EINVAL, NONE, "the writer schema is a %s, not a record",
			     av_type_name((enum av_type)root->type));
	b.chosen = calloc(reader->n, sizeof(*b.chosen));
	if (b.chosen == NULL)
		return -ENOMEM;
	uint16_t set[AV_FIELDS_MAX];
	uint32_t n = 0;
	if (choose_paths(&b) == 0) {
		for (uint32_t i = 0; i < reader->n; i++)
			if (b.chosen[i] != NULL)
				set[n++] = (uint16_t)i;
		emit_record(&b, writer->root, 0, set, n);
		op_add(&b, (struct av_op){.code = AV_OP_END});
	}
	struct av_plan *p = NULL;
	struct event_value *init = NULL;
	if (b.rc == 0 && ((p = calloc(1, sizeof(*p))) == NULL || (init = init_values(reader)) == NULL))
		b.rc = -ENOMEM;
	if (b.rc != 0) {
		free(p);
		pbuild_free(&b);
		return b.rc;
	}
	*p = (struct av_plan){
		.writer = writer,
		.reader = reader,
		.ops = b.ops,
		.jumps = b.jumps,
		.scales = b.scales,
		.texts = b.texts,
		.init = init,
		.n_fields = reader->n,
		.n_ops = b.n_ops,
		.mem = {b.ops, b.jumps, b.scales, b.texts, init},
	};
	b.ops = NULL;
	b.jumps = NULL;
	b.scales = NULL;
	b.texts = NULL;
	pbuild_free(&b);
	*out = p;
	return 0;
}

void av_plan_free(struct av_plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < sizeof(p->mem) / sizeof(p->mem[0]); i++)
		free(p->mem[i]);
	free(p);
}

size_t av_plan_fields(const struct av_plan *p)
{
	return p->n_fields;
}
