#include "dimset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

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

static int dimset_table_load(const struct config_dim *cd, unsigned threads, int numa_node,
			     const _Atomic bool *cancel, struct dimset_table **out)
{
	struct dim_attr_spec attrs[CONFIG_ATTRS_MAX];
	for (size_t i = 0; i < cd->attr_count; i++) {
		attrs[i].column = cd->attrs[i].name;
		if (dimset_attr_type(&cd->attrs[i], &attrs[i].type, &attrs[i].nullable) < 0) {
			log_error("dimset", "[dimension %s]: attr.%s: unsupported type '%s'", cd->name,
				  cd->attrs[i].name, cd->attrs[i].type);
			return -EINVAL;
		}
	}
	struct dim_spec spec = {
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
		.cancel = cancel,
	};
	int rc = dim_format_parse(cd->format, &spec.format);
	if (rc < 0)
		return rc;
	struct dimset_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = dim_load(&spec, &t->dim, &t->stats);
	if (rc < 0)
		goto out_free_table; /* dim_load logged file, line and reason */
	if (t->stats.source_rows == 0 && cd->allow_empty == CONFIG_EMPTY_REFUSED) {
		log_error("dimset", "[dimension %s]: %s holds no row, and allow_empty = false: "
			  "refused", cd->name, cd->source);
		dim_free(t->dim);
		rc = -ENODATA;
		goto out_free_table;
	}
	/* The identity of the file that was read (not of a stat before it, which a rename in
	 * between would make another file's): the next reload compares it with the path's. */
	t->dev = (dev_t)t->stats.source_dev;
	t->ino = (ino_t)t->stats.source_ino;
	t->size = (off_t)t->stats.source_bytes;
	t->mtime_ns = t->stats.source_mtime_ns;
	t->refs = 1;
	log_info("dimset", "[dimension %s]: %zu rows (%llu duplicates) from %s in %.2f s "
		 "(%.2fM rows/s), %.1f B/row, %s pages",
		 cd->name, dim_rows(t->dim), (unsigned long long)t->stats.duplicates, cd->source,
		 t->stats.seconds, t->stats.rows_per_s / 1e6,
		 dim_rows(t->dim) ? (double)dim_bytes(t->dim) / (double)dim_rows(t->dim) : 0.0,
		 huge_mode_name(dim_huge_mode(t->dim)));
	*out = t;
	return 0;

out_free_table:
	free(t);
	return rc;
}

static void dimset_table_put(struct dimset_table *t)
{
	if (!t || --t->refs > 0)
		return;
	dim_free(t->dim);
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
		if (prev && dimset_stat(cd->source, &st) == 0 &&
		    dimset_table_same(prev->dims[i].table, &st)) {
			d->table = prev->dims[i].table;
			d->table->refs++;
		} else {
			rc = dimset_table_load(cd, threads, numa_node, cancel, &d->table);
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
