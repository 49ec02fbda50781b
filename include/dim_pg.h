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

struct dim_pg_source {
	const char *conninfo;      /* libpq keywords or URI */
	const char *password_file; /* NULL or "": none (libpq's PGPASSWORD, PGPASSFILE) */
	const char *table;         /* one of table and query */
	const char *query;
	uint32_t connect_timeout_ms;
	uint32_t statement_timeout_ms;
	const _Atomic bool *stop;  /* may be NULL */
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
 * A printable form of conninfo without any password: "host=db port=5432 dbname=app user=u"
 * (the keywords it sets, password left out), or "(unparsable connection string)".
 */
void dim_pg_conninfo_redact(const char *conninfo, char *out, size_t cap);

/* "postgresql table <t> (<redacted conninfo>)" or "postgresql query (<...>)". */
void dim_pg_source_name(const struct dim_pg_source *src, char *out, size_t cap);

#endif
