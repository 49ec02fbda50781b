#include "dimset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dim_pg.h"
#include "dim_rows.h"
#include "log.h"
#include "now.h"

int dimset_attr_type(const struct config_attr *attr, enum dim_type *type, bool *nullable)
{
	return dim_type_parse(attr->type, type, nullable);
}

static bool dimset_out_nullable(const struct config_dim *d, bool source_nullable)
{
	return d->join == CONFIG_JOIN_LEFT || source_nullable;
}

static int dimset_stat(const char *path, struct stat *st)
{
	if (stat(path, st) != 0)
		return -errno;
	return 0;
}

static bool dimset_table_same(const struct dimset_table *t, const struct stat *st)
{
	return t->dev == st->st_dev && t->ino == st->st_ino && t->size == st->st_size &&
	       t->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Loads the table of a PostgreSQL source (always: a database gives no cheap change stamp). */
static int dimset_table_load_pg(const struct config_dim *cd, const struct dim_spec *spec,
				const _Atomic bool *stop, struct dimset_table *t, char *name,
				size_t cap)
{
	struct dim_pg_source src = {
		.conninfo = cd->postgresql,
		.password_file = cd->password_file,
		.table = cd->table,
		.query = cd->query,
		.connect_timeout_ms = cd->connect_timeout_ms,
		.statement_timeout_ms = cd->statement_timeout_ms,
		.stop = stop,
		.update_field = cd->update_field,
		.delete_field = cd->delete_field,
		.mark = &t->mark,
	};
	dim_pg_source_name(&src, name, cap);
	return dim_pg_load(spec, &src, &t->dim, &t->stats);
}

int dimset_dim_spec(const struct config_dim *cd, unsigned threads, int numa_node,
		    struct dim_attr_spec *attrs, struct dim_spec *out)
{
	for (size_t i = 0; i < cd->attr_count; i++) {
		attrs[i].column = cd->attrs[i].name;
		if (dimset_attr_type(&cd->attrs[i], &attrs[i].type, &attrs[i].nullable) < 0) {
			log_error("dimset", "[dimension %s]: attr.%s: unsupported type '%s'", cd->name,
				  cd->attrs[i].name, cd->attrs[i].type);
			return -EINVAL;
		}
	}
	*out = (struct dim_spec){
		.name = cd->name,
		.path = cd->source,
		.key_column = cd->key,
		.key_type = strcmp(cd->key_type, "UInt64") == 0 ? DIM_TYPE_UINT64 : DIM_TYPE_STRING,
		.attrs = attrs,
		.attr_count = (unsigned)cd->attr_count,
		.threads = threads,
		.key_strip_query = cd->key_normalize == CONFIG_KEY_STRIP_QUERY,
		.numa_bind = numa_node >= 0,
		.numa_node = numa_node >= 0 ? (unsigned)numa_node : 0,
		/* A dimension that follows changes takes them in place (dim_live.h). */
		.live = cd->update_field[0] != '\0' || cd->changelog_topic[0] != '\0',
	};
	return dim_format_parse(cd->format, &out->format);
}

static int dimset_no_rows(void *ctx, unsigned chunk, const struct dim_layout_spec *ls,
			  struct dim_part *part, const struct dim_parse_ctl *ctl, char *err,
			  size_t err_len)
{
	(void)ctx, (void)chunk, (void)ls, (void)part, (void)ctl, (void)err, (void)err_len;
	return 0;
}

/* The table of a dimension whose only source is its changelog: empty until it is read. */
static int dimset_table_empty(const struct config_dim *cd, const struct dim_spec *spec,
			      struct dimset_table *t, char *name, size_t cap)
{
	snprintf(name, cap, "changelog %s", cd->changelog_topic);
	struct dim_row_source src = {.name = name, .chunks = 1, .parse = dimset_no_rows};
	return dim_load_rows(spec, &src, &t->dim, &t->stats);
}

/* True when snapshot m was made on the base cd has now (so it may stand for base + changes). */
static bool dimset_snapshot_fits(const struct config_dim *cd, const struct dim_snapshot_meta *m,
				 struct dimset_table *t)
{
	if (strcmp(m->topic, cd->changelog_topic) != 0 || strcmp(m->dimension, cd->name) != 0)
		return false;
	if (cd->postgresql[0]) /* the update_field mark resumes the database's changes */
		return cd->update_field[0] && m->base == DIM_SNAPSHOT_BASE_POSTGRESQL;
	if (!cd->source[0])
		return m->base == DIM_SNAPSHOT_BASE_NONE;
	struct stat st;
	if (m->base != DIM_SNAPSHOT_BASE_FILE || dimset_stat(cd->source, &st) != 0)
		return false;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->size = st.st_size;
	t->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return (uint64_t)t->dev == m->dev && (uint64_t)t->ino == m->ino && t->size == m->size &&
	       t->mtime_ns == m->mtime_ns;
}

/*
 * A changelog dimension's table from its snapshot, when there is one of the current base.
 * Returns 0 (t filled), or -ENOENT when the base and the changelog must be read instead.
 */
static int dimset_table_snapshot(const struct config *cfg, const struct config_dim *cd,
				 const struct dim_spec *spec, struct dimset_table *t, char *name,
				 size_t cap)
{
	if (!cd->changelog_topic[0] || !cfg->snapshot_interval_ms || !cfg->snapshot_dir[0])
		return -ENOENT;
	struct dim_snapshot_meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(name, cap, "snapshot %.400s/%.60s.snapshot", cfg->snapshot_dir, cd->name);
	int rc = dim_snapshot_load(cfg->snapshot_dir, cd->name, spec, m, &t->dim, &t->stats);
	if (rc == -ENODATA) /* a snapshot of an empty table */
		rc = dimset_table_empty(cd, spec, t, name, cap);
	if (rc == 0 && !dimset_snapshot_fits(cd, m, t)) {
		log_info("dimset", "[dimension %s]: the %s was made on another base: ignored; the "
			 "base is loaded and the changelog read from its beginning", cd->name, name);
		dim_free(t->dim);
		t->dim = NULL;
		rc = -ENOENT;
	}
	if (rc) {
		free(m);
		return -ENOENT; /* none, or unreadable (logged): the sources are read */
	}
	t->mark = m->mark;
	t->snapshot = m;
	return 0;
}

/* The summary of a table that was not parsed from its source (a snapshot, or empty until its
 * changelog is read); the loaders log their own. */
static void dimset_log_restored(const struct config_dim *cd, const struct dimset_table *t,
				const char *name)
{
	size_t rows = dim_rows(t->dim);
	log_info("dimset", "[dimension %s]: %zu rows from %s, %.1f B/row, %s pages", cd->name,
		 rows, name, rows ? (double)dim_bytes(t->dim) / (double)rows : 0.0,
		 huge_mode_name(dim_huge_mode(t->dim)));
}

static int dimset_table_load(const struct config *cfg, const struct config_dim *cd,
			     unsigned threads, int numa_node, const _Atomic bool *cancel,
			     bool first, struct dimset_table **out)
{
	struct dim_attr_spec attrs[CONFIG_ATTRS_MAX];
	struct dim_spec spec;
	int rc = dimset_dim_spec(cd, threads, numa_node, attrs, &spec);
	if (rc < 0)
		return rc;
	spec.cancel = cancel;
	struct dimset_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	char name[PATH_MAX + DIM_PG_NAME_MAX]; /* a file's path, or a database's name */
	snprintf(name, sizeof(name), "%s", cd->source);
	if (first && dimset_table_snapshot(cfg, cd, &spec, t, name, sizeof(name)) == 0) {
		dimset_log_restored(cd, t, name);
		goto out_loaded;
	}
	if (!cd->postgresql[0] && !cd->source[0]) {
		rc = dimset_table_empty(cd, &spec, t, name, sizeof(name));
		if (rc < 0)
			goto out_free_table; /* the loader logged the reason */
		dimset_log_restored(cd, t, name);
		goto out_loaded;
	}
	rc = cd->postgresql[0] ? dimset_table_load_pg(cd, &spec, cancel, t, name, sizeof(name))
			       : dim_load(&spec, &t->dim, &t->stats);
	if (rc < 0)
		goto out_free_table; /* the loader logged the source, line or row, and reason */
	if (t->stats.source_rows == 0 && cd->allow_empty == CONFIG_EMPTY_REFUSED) {
		log_error("dimset", "[dimension %s]: %s holds no row, and allow_empty = false: "
			  "refused", cd->name, name);
		dim_free(t->dim);
		rc = -ENODATA;
		goto out_free_table;
	}
	/* The identity of the file that was read (not of a stat before it, which a rename in
	 * between would make another file's): the next reload compares it with the path's. */
	t->dev = (dev_t)t->stats.source_dev;
	t->ino = (ino_t)t->stats.source_ino;
	t->size = cd->postgresql[0] ? 0 : (off_t)t->stats.source_bytes;
	t->mtime_ns = t->stats.source_mtime_ns;
out_loaded:
	t->refs = 1;
	t->loaded_ms = now_wall_ms();
	*out = t;
	return 0;

out_free_table:
	free(t);
	return rc;
}

void dimset_table_put(struct dimset_table *t)
{
	if (!t || --t->refs > 0)
		return;
	dim_free(t->dim);
	free(t->snapshot);
	free(t);
}

void dimset_free(struct dimset *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->count; i++)
		dimset_table_put(set->dims[i].table);
	free(set);
}

int dimset_load(const struct config *cfg, const struct dimset *prev, unsigned threads,
		int numa_node, const _Atomic bool *cancel, struct dimset **out, unsigned *reloaded)
{
	struct dimset *set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->generation = prev ? prev->generation + 1 : 1;
	unsigned loaded = 0;
	uint32_t column = dimset_event_columns(cfg);
	int rc = 0;
	for (size_t i = 0; i < cfg->dim_count; i++) {
		const struct config_dim *cd = &cfg->dims[i];
		struct dimset_dim *d = &set->dims[i];
		d->cfg = cd;
		d->first_column = column;
		column += (uint32_t)cd->attr_count;
		struct stat st;
		/* A changelog's table holds what no reload of its base has: it stays. */
		bool keep = prev && cd->changelog_topic[0];
		if (keep || (prev && !cd->postgresql[0] && dimset_stat(cd->source, &st) == 0 &&
			     dimset_table_same(prev->dims[i].table, &st))) {
			d->table = prev->dims[i].table;
			d->table->refs++;
		} else {
			rc = dimset_table_load(cfg, cd, threads, numa_node, cancel, !prev, &d->table);
			if (rc < 0)
				goto out_free_set;
			loaded++;
		}
		set->count = i + 1;
		for (size_t a = 0; a < cd->attr_count; a++) {
			d->cols[a] = dim_col(d->table->dim, (unsigned)a);
			d->out_nullable[a] = dimset_out_nullable(cd, d->cols[a]->nullable);
		}
	}
	if (reloaded)
		*reloaded = loaded;
	*out = set;
	return 0;

out_free_set:
	dimset_free(set);
	return rc;
}

int dimset_table_base(const struct config *cfg, size_t index, int numa_node,
		      const _Atomic bool *stop, struct dimset_table **out)
{
	return dimset_table_load(cfg, &cfg->dims[index], 0, numa_node, stop, false, out);
}

int dimset_clone(const struct dimset *set, struct dimset **out)
{
	struct dimset *copy = malloc(sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	*copy = *set;
	for (size_t i = 0; i < copy->count; i++)
		copy->dims[i].table->refs++;
	*out = copy;
	return 0;
}

void dimset_share_table(struct dimset *set, size_t index, struct dimset_table *table)
{
	struct dimset_dim *d = &set->dims[index];
	if (d->table == table)
		return;
	table->refs++;
	dimset_table_put(d->table);
	d->table = table;
	for (size_t a = 0; a < d->cfg->attr_count; a++)
		d->cols[a] = dim_col(table->dim, (unsigned)a);
}

int dimset_replace(const struct dimset *set, size_t index, struct dimset_table *table,
		   struct dimset **out)
{
	struct dimset *next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *set;
	next->generation = set->generation + 1;
	for (size_t i = 0; i < next->count; i++)
		if (i != index)
			next->dims[i].table->refs++;
	struct dimset_dim *d = &next->dims[index];
	d->table = table;
	for (size_t a = 0; a < d->cfg->attr_count; a++)
		d->cols[a] = dim_col(table->dim, (unsigned)a);
	*out = next;
	return 0;
}

uint64_t dimset_bytes(const struct dimset *set)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < set->count; i++)
		bytes += dim_bytes(set->dims[i].table->dim);
	return bytes;
}

static void dimset_attr_out_type(const struct config_dim *cd, const struct config_attr *attr,
				 char *out, size_t cap)
{
	enum dim_type type;
	bool source_nullable;
	if (dimset_attr_type(attr, &type, &source_nullable) < 0) {
		snprintf(out, cap, "%s", attr->type); /* rejected at load with a clear error */
		return;
	}
	struct chtype t;
	dim_type_chtype(type, dimset_out_nullable(cd, source_nullable), &t);
	if (type == DIM_TYPE_DATETIME)
		snprintf(t.tz, sizeof(t.tz), "UTC"); /* the table keeps UTC seconds */
	if (chtype_name(&t, out, cap) < 0)
		snprintf(out, cap, "%s", attr->type);
}

uint32_t dimset_event_columns(const struct config *cfg)
{
	return cfg->event.field_count + (cfg->event.catch_all[0] != '\0');
}

uint32_t dimset_schema(const struct config *cfg, struct native_column_spec *specs,
		       char (*names)[NATIVE_NAME_MAX], char (*types)[NATIVE_TYPE_NAME_MAX])
{
	const struct schema *ev = &cfg->event;
	uint32_t n = 0;
	for (uint32_t i = 0; i < ev->field_count; i++, n++) {
		snprintf(names[n], NATIVE_NAME_MAX, "%s", ev->fields[i].name);
		snprintf(types[n], NATIVE_TYPE_NAME_MAX, "%s", ev->fields[i].type);
	}
	if (ev->catch_all[0]) {
		snprintf(names[n], NATIVE_NAME_MAX, "%s", ev->catch_all);
		snprintf(types[n++], NATIVE_TYPE_NAME_MAX, "String");
	}
	uint32_t attrs = n;
	for (size_t d = 0; d < cfg->dim_count; d++) {
		const struct config_dim *cd = &cfg->dims[d];
		for (size_t a = 0; a < cd->attr_count; a++, n++) {
			snprintf(names[n], NATIVE_NAME_MAX, "%s", cd->attrs[a].name);
			dimset_attr_out_type(cd, &cd->attrs[a], types[n], NATIVE_TYPE_NAME_MAX);
		}
	}
	uint32_t meta = n;
	for (uint32_t m = 0; m < ev->meta_count; m++, n++) {
		snprintf(names[n], NATIVE_NAME_MAX, "%s", schema_meta_name(ev->meta[m]));
		snprintf(types[n], NATIVE_TYPE_NAME_MAX, "%s", schema_meta_type(ev->meta[m]));
	}
	for (uint32_t i = 0; i < n; i++) {
		specs[i] = (struct native_column_spec){.name = names[i], .type = types[i]};
		if (strncmp(types[i], "LowCardinality", 14) == 0 && i >= attrs && i < meta)
			specs[i].dict_mode = NATIVE_DICT_EXTERNAL;
		if (i >= meta && ev->meta[i - meta] == SCHEMA_META_TOPIC) {
			specs[i].dict_mode = NATIVE_DICT_EXTERNAL;
			specs[i].dict_keys_max = 2; /* "" and the worker's topic */
		}
	}
	return n;
}
