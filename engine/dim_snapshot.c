/*
 * dim_snapshot: a live table and its sources' positions in one file (contract in
 * include/dim_snapshot.h): a text header, then Native blocks from the block encoder.
 */
#include "dim_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chtype.h"
#include "fs.h"
#include "log.h"
#include "native.h"

#define SNAP_MAGIC "enrichd-dimension-snapshot 1\n"
#define SNAP_BLOCK_ROWS 65536
#define SNAP_BLOCK_BYTES ((size_t)64 << 20)

/* ---- writing ---- */

/* The snapshot's column types: the key's, then each attribute's (LowCardinality as String). */
static void snap_types(const struct dim_spec *spec, char (*types)[NATIVE_TYPE_NAME_MAX])
{
	snprintf(types[0], NATIVE_TYPE_NAME_MAX, "%s",
		 spec->key_type == DIM_TYPE_UINT64 ? "UInt64" : "String");
	for (unsigned a = 0; a < spec->attr_count; a++) {
		enum dim_type t = spec->attrs[a].type == DIM_TYPE_LC_STRING ? DIM_TYPE_STRING
									    : spec->attrs[a].type;
		struct chtype ct;
		dim_type_chtype(t, spec->attrs[a].nullable, &ct);
		if (chtype_name(&ct, types[a + 1], NATIVE_TYPE_NAME_MAX) < 0)
			snprintf(types[a + 1], NATIVE_TYPE_NAME_MAX, "String");
	}
}

/* Attribute a of row into column a + 1 of the block. */
static int snap_append_attr(struct native_block *b, const struct dim_col *c, unsigned a,
			    const struct dim_row *row)
{
	uint32_t col = a + 1;
	bool null = dim_row_is_null(c, row);
	if (null && c->nullable)
		return native_append_null(b, col);
	switch (c->type) {
	case DIM_TYPE_STRING:
	case DIM_TYPE_LC_STRING: {
		size_t len;
		const char *s = dim_row_str(c, row, &len);
		return native_append_str(b, col, s, s ? len : 0);
	}
	case DIM_TYPE_FLOAT64:
		return native_append_f64(b, col, dim_row_f64(c, row));
	case DIM_TYPE_INT8:
	case DIM_TYPE_INT16:
	case DIM_TYPE_INT32:
	case DIM_TYPE_INT64:
		return native_append_i64(b, col, dim_row_i64(c, row));
	default:
		return native_append_u64(b, col, dim_row_u64(c, row));
	}
}

static int snap_append_row(struct native_block *b, const struct dim *d, const struct dim_row *row)
{
	int rc;
	if (dim_key_type(d) == DIM_TYPE_UINT64) {
		rc = native_append_u64(b, 0, dim_row_key_u64(d, row));
	} else {
		struct dim_str k = dim_row_key_str(d, row);
		rc = native_append_str(b, 0, k.ptr, k.len);
	}
	for (unsigned a = 0; a < dim_attr_count(d) && !rc; a++)
		rc = snap_append_attr(b, dim_col(d, a), a, row);
	if (!rc)
		rc = native_block_commit_row(b);
	if (rc)
		native_block_rollback_row(b);
	return rc;
}

static int snap_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	while (len) {
		ssize_t n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Encodes the block's rows to fd and empties it. */
static int snap_flush(int fd, struct native_block *b, uint8_t *buf, size_t cap)
{
	if (native_block_rows(b) == 0)
		return 0;
	size_t len;
	int rc = native_block_encode(b, buf, cap, &len);
	if (!rc)
		rc = snap_write_all(fd, buf, len);
	native_block_reset(b);
	return rc;
}

/* Every row of d as Native blocks to fd. */
static int snap_write_rows(int fd, const struct dim_spec *spec, const struct dim *d)
{
	static char types[DIM_ATTR_MAX + 1][NATIVE_TYPE_NAME_MAX];
	struct native_column_spec cols[DIM_ATTR_MAX + 1];
	snap_types(spec, types);
	for (unsigned c = 0; c <= spec->attr_count; c++)
		cols[c] = (struct native_column_spec){
			.name = c ? spec->attrs[c - 1].column : spec->key_column, .type = types[c]};
	struct native_block *b;
	int rc = native_block_init(&b, cols, spec->attr_count + 1, SNAP_BLOCK_ROWS,
				   SNAP_BLOCK_BYTES);
	if (rc)
		return rc;
	size_t cap = native_block_encoded_max(b);
	uint8_t *buf = malloc(cap);
	if (!buf) {
		native_block_destroy(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i <= dim_capacity(d) && !rc; i++) {
		const struct dim_row *row = dim_row_at(d, i);
		if (!row)
			continue;
		rc = snap_append_row(b, d, row);
		if (rc == -ENOSPC) {
			rc = snap_flush(fd, b, buf, cap);
			if (!rc)
				rc = snap_append_row(b, d, row);
		}
	}
	if (!rc)
		rc = snap_flush(fd, b, buf, cap);
	free(buf);
	native_block_destroy(b);
	return rc;
}

/* The header, as text. Returns its length, or -E2BIG. */
static long snap_header(const struct dim_snapshot_meta *m, char *out, size_t cap)
{
	size_t at = 0;
	int n = snprintf(out, cap, SNAP_MAGIC "dimension %s\ncreated_ms %" PRId64 "\nbase ",
			 m->dimension, m->created_ms);
	at += n > 0 ? (size_t)n : 0;
	if (m->base == DIM_SNAPSHOT_BASE_FILE)
		n = snprintf(out + at, cap - at, "file %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64
			     "\n", m->dev, m->ino, m->size, m->mtime_ns);
	else if (m->base == DIM_SNAPSHOT_BASE_POSTGRESQL)
		n = snprintf(out + at, cap - at, "postgresql %d %" PRId64 " %s\n", m->mark.set,
			     m->mark.num, m->mark.set ? m->mark.text : "-");
	else
		n = snprintf(out + at, cap - at, "none\n");
	at += n > 0 ? (size_t)n : 0;
	n = snprintf(out + at, cap > at ? cap - at : 0, "changelog %s %u", m->topic[0] ? m->topic : "-",
		     m->partitions);
	at += n > 0 ? (size_t)n : 0;
	for (uint32_t p = 0; p < m->partitions && at < cap; p++) {
		n = snprintf(out + at, cap - at, " %" PRId64, m->offsets[p]);
		at += n > 0 ? (size_t)n : 0;
	}
	n = snprintf(out + at, cap > at ? cap - at : 0, "\ncluster %s\nend\n",
		     m->cluster[0] ? m->cluster : "-");
	at += n > 0 ? (size_t)n : 0;
	return at < cap ? (long)at : -E2BIG;
}

int dim_snapshot_write(const char *dir, const struct dim_spec *spec, const struct dim *d,
		       const struct dim_snapshot_meta *meta)
{
	char path[4096], tmp[4100];
	snprintf(path, sizeof(path), "%s/%s.snapshot", dir, meta->dimension);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int rc = fs_mkdirs(dir);
	char *header = malloc(DIM_SNAPSHOT_HEADER_MAX);
	long hlen = header ? snap_header(meta, header, DIM_SNAPSHOT_HEADER_MAX) : -ENOMEM;
	int fd = rc || hlen < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (rc || hlen < 0 || fd < 0) {
		rc = rc ? rc : hlen < 0 ? (int)hlen : -errno;
		goto out;
	}
	rc = snap_write_all(fd, header, (size_t)hlen);
	if (!rc)
		rc = snap_write_rows(fd, spec, d);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (!rc) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	} else {
		unlink(tmp);
	}
out:
	free(header);
	if (rc)
		log_error("dim", "%s: snapshot not written: %s", path, strerror(-rc));
	return rc;
}

/* ---- reading ---- */

/* The header at data[0..len) into *m; *body = where the rows start. */
static int snap_parse_header(const char *data, size_t len, struct dim_snapshot_meta *m,
			     size_t *body)
{
	const char *end = memmem(data, len < DIM_SNAPSHOT_HEADER_MAX ? len : DIM_SNAPSHOT_HEADER_MAX,
				 "\nend\n", 5);
	if (len < sizeof(SNAP_MAGIC) - 1 || memcmp(data, SNAP_MAGIC, sizeof(SNAP_MAGIC) - 1) != 0 ||
	    !end)
		return -EINVAL;
	size_t hlen = (size_t)(end - data) + 5;
	char *h = strndup(data, hlen);
	if (!h)
		return -ENOMEM;
	int rc = -EINVAL;
	char kind[16] = "";
	const char *line = strstr(h, "\nbase ");
	if (sscanf(h, SNAP_MAGIC "dimension %127s\ncreated_ms %" SCNd64, m->dimension,
		   &m->created_ms) != 2 || !line || sscanf(line, "\nbase %15s", kind) != 1)
		goto out;
	int set = 0;
	if (strcmp(kind, "file") == 0 &&
	    sscanf(line, "\nbase file %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64, &m->dev,
		   &m->ino, &m->size, &m->mtime_ns) == 4)
		m->base = DIM_SNAPSHOT_BASE_FILE;
	else if (strcmp(kind, "postgresql") == 0 &&
		 sscanf(line, "\nbase postgresql %d %" SCNd64 " %63[^\n]", &set, &m->mark.num,
			m->mark.text) == 3)
		m->base = DIM_SNAPSHOT_BASE_POSTGRESQL, m->mark.set = set;
	else if (strcmp(kind, "none") == 0)
		m->base = DIM_SNAPSHOT_BASE_NONE;
	else
		goto out;
	const char *cl = strstr(h, "\nchangelog ");
	int used = 0;
	if (!cl || sscanf(cl, "\nchangelog %255s %u%n", m->topic, &m->partitions, &used) != 2 ||
	    m->partitions > DIM_SNAPSHOT_PARTITIONS_MAX)
		goto out;
	const char *p = cl + used;
	for (uint32_t i = 0; i < m->partitions; i++) {
		char *next;
		m->offsets[i] = strtoll(p, &next, 10);
		if (next == p)
			goto out;
		p = next;
	}
	const char *cluster = strstr(h, "\ncluster ");
	if (!cluster || sscanf(cluster, "\ncluster %127s", m->cluster) != 1)
		goto out;
	if (strcmp(m->cluster, "-") == 0)
		m->cluster[0] = '\0';
	*body = hlen;
	rc = 0;
out:
	free(h);
	return rc;
}

int dim_snapshot_load(const char *dir, const char *dimension, const struct dim_spec *spec,
		      struct dim_snapshot_meta *meta, struct dim **out,
		      struct dim_load_stats *stats)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.snapshot", dir, dimension);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? 0 : -errno;
	void *map = rc || st.st_size == 0 ? MAP_FAILED
					  : mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		rc = rc ? rc : -EINVAL;
		log_warn("dim", "%s: cannot read the snapshot: %s", path, strerror(-rc));
		return rc;
	}
	size_t body = 0;
	rc = snap_parse_header(map, (size_t)st.st_size, meta, &body);
	if (rc) {
		log_warn("dim", "%s: not a snapshot of this version: ignored", path);
	} else {
		struct dim_spec s = *spec;
		s.path = path;
		s.data = (const char *)map + body;
		s.data_len = (size_t)st.st_size - body;
		s.format = DIM_FORMAT_NATIVE;
		rc = s.data_len ? dim_load(&s, out, stats) : -ENODATA;
	}
	munmap(map, (size_t)st.st_size);
	return rc;
}
