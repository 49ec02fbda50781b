/*
 * dim_rebuild: a table rebuilt from its rows and a batch of changes (contract in
 * include/dim_rebuild.h), through the loader's orchestration (dim_rows.h).
 */
#include "dim_rebuild.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dim_part.h"
#include "dim_rows.h"

/* The batch's keys: key -> its last change, open addressing over change indexes. */
struct rebuild_keys {
	uint32_t *slots; /* change index + 1, 0: empty */
	size_t mask;
};

struct rebuild {
	const struct dim *old;
	const struct dim_change *changes;
	size_t n;
	struct rebuild_keys keys;
	unsigned old_chunks; /* chunks over the old table's slots; the last chunk is the batch */
};

static uint64_t rebuild_hash(const struct dim *old, const struct dim_change *c)
{
	return dim_key_type(old) == DIM_TYPE_UINT64 ? dim_hash_key_u64(c->key_u64)
						    : dim_hash_key_str(c->key.ptr, c->key.len);
}

static bool rebuild_same_key(const struct dim *old, const struct dim_change *a,
			     const struct dim_change *b)
{
	if (dim_key_type(old) == DIM_TYPE_UINT64)
		return a->key_u64 == b->key_u64;
	return a->key.len == b->key.len && memcmp(a->key.ptr, b->key.ptr, a->key.len) == 0;
}

/* The slot of change c's key: where it is, or the empty slot where it goes. */
static size_t rebuild_find(const struct rebuild *R, const struct dim_change *c)
{
	size_t i = rebuild_hash(R->old, c) & R->keys.mask;
	while (R->keys.slots[i] && !rebuild_same_key(R->old, &R->changes[R->keys.slots[i] - 1], c))
		i = (i + 1) & R->keys.mask;
	return i;
}

/* Every change's key, each pointing at its last change. */
static int rebuild_keys_init(struct rebuild *R)
{
	size_t cap = 16;
	while (cap < R->n * 2)
		cap <<= 1;
	R->keys.slots = calloc(cap, sizeof(*R->keys.slots));
	if (!R->keys.slots)
		return -ENOMEM;
	R->keys.mask = cap - 1;
	for (size_t i = 0; i < R->n; i++)
		R->keys.slots[rebuild_find(R, &R->changes[i])] = (uint32_t)i + 1;
	return 0;
}

/* True when the batch changes row's key (the old row is then left out). */
static bool rebuild_changed(const struct rebuild *R, const struct dim_row *row)
{
	struct dim_change probe = {0};
	if (dim_key_type(R->old) == DIM_TYPE_UINT64)
		probe.key_u64 = dim_row_key_u64(R->old, row);
	else
		probe.key = dim_row_key_str(R->old, row);
	return R->keys.slots[rebuild_find(R, &probe)] != 0;
}

/* Attribute a of an old row into the part, converted back as a load would stage it. */
static int rebuild_put_attr(const struct dim_layout_spec *ls, struct dim_part *p, size_t r,
			    const struct dim_col *col, unsigned a, const struct dim_row *row,
			    char *err, size_t err_len)
{
	if (dim_row_is_null(col, row) && (col->nullable || col->type != DIM_TYPE_LC_STRING))
		return dim_put_null(p, ls, a, r, err, err_len);
	switch (col->type) {
	case DIM_TYPE_STRING:
	case DIM_TYPE_LC_STRING: {
		size_t len;
		const char *s = dim_row_str(col, row, &len);
		return dim_put_text(p, ls, a, r, s ? s : "", len, false, err, err_len);
	}
	case DIM_TYPE_FLOAT64:
		return dim_put_f64(p, ls, a, r, dim_row_f64(col, row), err, err_len);
	case DIM_TYPE_INT8:
	case DIM_TYPE_INT16:
	case DIM_TYPE_INT32:
	case DIM_TYPE_INT64:
		return dim_put_i64(p, ls, a, r, dim_row_i64(col, row), err, err_len);
	default: /* unsigned integers, Date (days), DateTime (seconds) */
		return dim_put_u64(p, ls, a, r, dim_row_u64(col, row), err, err_len);
	}
}

/* One old row into the part's next row. */
static int rebuild_put_row(const struct rebuild *R, const struct dim_layout_spec *ls,
			   struct dim_part *p, const struct dim_row *row, char *err,
			   size_t err_len)
{
	size_t r = p->rows;
	int rc;
	if (ls->key_type == DIM_TYPE_UINT64) {
		rc = dim_put_key_u64(p, ls, r, dim_row_key_u64(R->old, row), err, err_len);
	} else {
		struct dim_str k = dim_row_key_str(R->old, row);
		rc = dim_put_key_text(p, ls, r, k.ptr, k.len, false, err, err_len);
	}
	for (unsigned a = 0; a < ls->attr_count && !rc; a++)
		rc = rebuild_put_attr(ls, p, r, dim_col(R->old, a), a, row, err, err_len);
	return rc;
}

/* A change's key and values into the part's next row. */
static int rebuild_put_change(const struct dim_layout_spec *ls, struct dim_part *p,
			      const struct dim_change *c, char *err, size_t err_len)
{
	size_t r = p->rows;
	int rc = ls->key_type == DIM_TYPE_UINT64
			 ? dim_put_key_u64(p, ls, r, c->key_u64, err, err_len)
			 : dim_put_key_text(p, ls, r, c->key.ptr, c->key.len, false, err, err_len);
	for (unsigned a = 0; a < ls->attr_count && !rc; a++)
		rc = dim_put_text(p, ls, a, r, c->values[a].ptr ? c->values[a].ptr : "",
				  c->values[a].len, !c->values[a].ptr, err, err_len);
	return rc;
}

/* The old rows of slots [first, last). */
static int rebuild_old_rows(const struct rebuild *R, size_t first, size_t last,
			    const struct dim_layout_spec *ls, struct dim_part *p,
			    const struct dim_parse_ctl *ctl, char *err, size_t err_len)
{
	size_t since = 0;
	for (size_t i = first; i < last; i++) {
		const struct dim_row *row = dim_row_at(R->old, i);
		if (!row || rebuild_changed(R, row))
			continue;
		int rc = dim_part_reserve(p, ls, 1);
		if (!rc)
			rc = rebuild_put_row(R, ls, p, row, err, err_len);
		if (rc) {
			dim_parse_ctl_fail(ctl);
			return rc;
		}
		dim_part_commit(p, ls, 1);
		if (++since == DIM_PROGRESS_ROWS_STEP) {
			dim_parse_ctl_rows(ctl, since);
			since = 0;
		}
	}
	dim_parse_ctl_rows(ctl, since);
	return 0;
}

/* The batch: the last change of each key, when it is an upsert. */
static int rebuild_batch_rows(const struct rebuild *R, const struct dim_layout_spec *ls,
			      struct dim_part *p, const struct dim_parse_ctl *ctl, char *err,
			      size_t err_len)
{
	for (size_t i = 0; i < R->n; i++) {
		const struct dim_change *c = &R->changes[i];
		if (c->deleted || R->keys.slots[rebuild_find(R, c)] != i + 1)
			continue;
		char reason[DIM_ERR_MAX];
		int rc = dim_part_reserve(p, ls, 1);
		if (!rc)
			rc = rebuild_put_change(ls, p, c, reason, sizeof(reason));
		if (rc) {
			char key[64];
			if (ls->key_type == DIM_TYPE_UINT64)
				snprintf(key, sizeof(key), "%" PRIu64, c->key_u64);
			else
				dim_quote(key, sizeof(key), c->key.ptr, c->key.len);
			snprintf(err, err_len, "change of key '%s': %s", key, reason);
			dim_parse_ctl_fail(ctl);
			return rc;
		}
		dim_part_commit(p, ls, 1);
	}
	dim_parse_ctl_rows(ctl, R->n);
	return 0;
}

static int rebuild_parse(void *ctx, unsigned chunk, const struct dim_layout_spec *ls,
			 struct dim_part *p, const struct dim_parse_ctl *ctl, char *err,
			 size_t err_len)
{
	const struct rebuild *R = ctx;
	if (chunk == R->old_chunks)
		return rebuild_batch_rows(R, ls, p, ctl, err, err_len);
	size_t slots = dim_capacity(R->old) + 1;
	size_t first = slots * chunk / R->old_chunks, last = slots * (chunk + 1) / R->old_chunks;
	return rebuild_old_rows(R, first, last, ls, p, ctl, err, err_len);
}

int dim_rebuild(const struct dim_spec *spec, const struct dim *old,
		const struct dim_change *changes, size_t n, struct dim **out,
		struct dim_load_stats *stats)
{
	if (n > UINT32_MAX - 1)
		return -E2BIG;
	struct rebuild R = {.old = old, .changes = changes, .n = n};
	int rc = rebuild_keys_init(&R);
	if (rc)
		return rc;
	unsigned threads = spec->threads ? spec->threads : 1;
	R.old_chunks = threads < DIM_THREADS_MAX ? threads : DIM_THREADS_MAX - 1;
	char name[DIM_NAME_MAX + 32];
	snprintf(name, sizeof(name), "%s (rebuilt with %zu changes)", dim_name(old), n);
	struct dim_row_source src = {.name = name, .chunks = R.old_chunks + 1,
				     .rows_hint = dim_rows(old) + n, .parse = rebuild_parse,
				     .ctx = &R};
	rc = dim_load_rows(spec, &src, out, stats);
	free(R.keys.slots);
	return rc;
}

int dim_change_check(const struct dim_spec *spec, const struct dim_change *change, char *err,
		     size_t err_len)
{
	struct dim_layout_spec ls;
	int rc = dim_layout_spec_init(&ls, spec, err, err_len);
	if (rc)
		return rc;
	struct dim_part p;
	rc = dim_part_init(&p, &ls);
	if (rc)
		return rc;
	rc = dim_part_reserve(&p, &ls, 1);
	if (!rc && !change->deleted)
		rc = rebuild_put_change(&ls, &p, change, err, err_len);
	dim_part_free(&p, &ls);
	return rc;
}
