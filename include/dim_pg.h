/*
 * dim_pg: dimension rows from PostgreSQL, through libpq (no libpq type appears here).
 *
 * A full load streams `COPY (SELECT <key>, <attributes> FROM <table or (query)> AS q) TO STDOUT`
 * in PostgreSQL's text format -- TabSeparated with a subset of ClickHouse's escapes, \N for
 * NULL -- straight into the loader's staging layer (dim_rows.h) through the TSV tokenizer
 * (dim_text.h), so every value is converted by the file loaders' rules. Columns are matched by
 * name; where PostgreSQL's text of a type is not what the file formats hold, the SELECT
 * converts it: a boolean into a number column gives 0/1, a timestamp into a Date its date and
 * into a DateTime or number column its Unix seconds (the session's time zone is UTC).
 *
 * A plain table (or materialised view) is read in ranges of its pages (ctid), one connection
 * and one thread per range, up to the load's threads; every connection reads in one snapshot,
 * exported by a first connection that holds it until the load ends, so the ranges add up to
 * one consistent table even while it changes. A view, a partitioned table or a query is read
 * through one connection. Text rather than binary COPY: see docs/PERFORMANCE.md.
 *
 * Failures: a connection that fails or is lost, a statement error or timeout, or a bad value
 * fails the load (err and the log name the source, and the row and column of a bad value); the
 * caller keeps its old table. Bounds: connect_timeout per connection attempt, statement_timeout
 * per statement (set in the session) and as the longest wait for the next row; keepalives find
 * a peer that vanished. A stop request (*stop) is seen every 100 ms: the statements in flight
 * are cancelled and the load returns -ECANCELED.
 *
 * Credentials: the connection string may hold a password; it is never logged or put in an
 * error: messages name the source by dim_pg_conninfo_redact().
 */
#ifndef ENRICHD_DIM_PG_H
#define ENRICHD_DIM_PG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dim.h"

#define DIM_PG_NAME_MAX 512 /* bytes of a source's printable name */
#define DIM_PG_MARK_MAX 64  /* bytes of an update_field value as text */

/*
 * How far the changes of a table have been read: the largest update_field value seen, as
 * PostgreSQL prints it (a timestamp or an integer) and as a number (microseconds since the
 * epoch, or the integer), for comparisons here.
 */
struct dim_pg_mark {
	bool set;                     /* false: nothing seen (an empty table): read every row */
	char text[DIM_PG_MARK_MAX];
	int64_t num;
};

struct dim_pg_source {
	const char *conninfo;      /* libpq keywords or URI */
	const char *password_file; /* NULL or "": none (libpq's PGPASSWORD, PGPASSFILE) */
	const char *table;         /* one of table and query */
	const char *query;
	uint32_t connect_timeout_ms;
	uint32_t statement_timeout_ms;
	const _Atomic bool *stop;  /* may be NULL */
	const char *update_field;  /* NULL or "": none; else a timestamp or integer column */
	const char *delete_field;  /* NULL or "": none; else a boolean: true = the row is gone */
	struct dim_pg_mark *mark;  /* if not NULL, a full load sets it: update_field's largest
				    * value in the load's snapshot */
};

/*
 * Loads src's rows into a new table for spec (spec's path, data and format are not used).
 * Returns 0 and *out, or -errno with the reason in stats->error (logged): -EINVAL (a missing
 * column, a bad value, a bad spec), -ECONNREFUSED / -EIO (connection, statement or stream
 * failure), -ETIMEDOUT, -ECANCELED (*stop), -ENOMEM. stats may be NULL; stats->source_bytes
 * is the COPY text read.
 */
int dim_pg_load(const struct dim_spec *spec, const struct dim_pg_source *src, struct dim **out,
		struct dim_load_stats *stats);

/*
 * Incremental reads: the rows whose update_field is at or after a mark less an overlap (a row
 * written by a transaction that committed up to `overlap` after its update_field value was
 * taken is still seen; a row seen twice is the caller's to skip), on a connection kept from
 * read to read and made again after a failure. Rows with delete_field true are deletions.
 */
struct dim_pg_changes;

/* One changed row: its key and attribute values as text (ptr NULL: NULL), in spec order. */
typedef int (*dim_pg_change_fn)(void *ctx, struct dim_str key, const struct dim_str *values,
				bool deleted, int64_t update_num);

/* Prepares incremental reads of src (update_field set) for spec. Connects at the first read. */
int dim_pg_changes_new(const struct dim_spec *spec, const struct dim_pg_source *src,
		       struct dim_pg_changes **out);

/*
 * Reads the rows changed since mark - overlap_ms (every row when !mark->set), calling fn for
 * each (a non-zero return stops the read and is returned), and advances mark to the largest
 * value read. The strings are valid during the call only. Returns the rows read, or -errno
 * with the reason in err (the connection is closed and made again by the next read).
 */
long dim_pg_changes_read(struct dim_pg_changes *c, struct dim_pg_mark *mark, uint32_t overlap_ms,
			 dim_pg_change_fn fn, void *ctx, char *err, size_t err_len);

void dim_pg_changes_free(struct dim_pg_changes *c);

/*
 * A printable form of conninfo without any password: "host=db port=5432 dbname=app user=u"
 * (the keywords it sets, password left out), or "(unparsable connection string)".
 */
void dim_pg_conninfo_redact(const char *conninfo, char *out, size_t cap);

/* "postgresql table <t> (<redacted conninfo>)" or "postgresql query (<...>)". */
void dim_pg_source_name(const struct dim_pg_source *src, char *out, size_t cap);

#endif
