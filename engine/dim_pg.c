/*
 * dim_pg: dimension rows from PostgreSQL (contract in include/dim_pg.h). A plan (one
 * connection: the snapshot, the columns, the table's pages), then one COPY per range of pages,
 * each on its own load thread (dim_rows.h), parsed by the TSV tokenizer as it arrives.
 */
#include "dim_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "dim_errf.h"
#include "dim_part.h"
#include "dim_rows.h"
#include "dim_text.h"
#include "log.h"

#define PG_WAIT_MS 100                       /* how often a wait looks at the stop flag */
#define PG_BUF_BYTES ((size_t)4 << 20)       /* COPY text parsed per buffer */
#define PG_PAGES_PER_RANGE_MIN 64            /* smaller tables are read in one range */
#define PG_QUERY_MAX 8192                    /* bytes of a configured query */
#define PG_SQL_MAX (PG_QUERY_MAX + 4096)
#define PG_SNAPSHOT_MAX 64
#define PG_KEEPALIVE_IDLE_S "10"
#define PG_TCP_USER_TIMEOUT_MS "30000"

/* PostgreSQL type oids the SELECT converts (pg_type.dat). */
#define PG_OID_BOOL 16
#define PG_OID_INT8 20
#define PG_OID_INT2 21
#define PG_OID_INT4 23
#define PG_OID_NUMERIC 1700
#define PG_OID_TIMESTAMP 1114
#define PG_OID_TIMESTAMPTZ 1184

/* One buffer of COPY text; the rows parsed from it point into it until the load ends. */
struct pg_buf {
	struct pg_buf *next;
	size_t len, cap;
	char data[];
};

struct pg_load {
	const struct dim_pg_source *src;
	const struct dim_spec *spec;
	char name[DIM_PG_NAME_MAX];
	char snapshot[PG_SNAPSHOT_MAX];
	char *select;               /* "SELECT <exprs> FROM <source> AS q" */
	char where[DIM_NAME_MAX * 3]; /* "" or the condition that leaves deleted rows out */
	unsigned ranges;            /* 1: no ctid condition */
	int64_t pages;              /* of the table when ranges > 1 */
	struct pg_buf *bufs[DIM_THREADS_MAX]; /* per chunk, newest first */
	_Atomic uint64_t bytes;
};

static bool pg_stopping(const struct dim_pg_source *src)
{
	return src->stop && atomic_load_explicit(src->stop, memory_order_relaxed);
}

static int64_t pg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message without its trailing newline. */
static const char *pg_error(const PGconn *conn, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", conn ? PQerrorMessage(conn) : "out of memory");
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

void dim_pg_conninfo_redact(const char *conninfo, char *out, size_t cap)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &err);
	if (!opts) {
		PQfreemem(err);
		snprintf(out, cap, "(unparsable connection string)");
		return;
	}
	size_t at = 0;
	out[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword && at < cap; o++) {
		if (!o->val || !o->val[0] || strcmp(o->keyword, "password") == 0)
			continue;
		int n = snprintf(out + at, cap - at, "%s%s=%s", at ? " " : "", o->keyword, o->val);
		at += n > 0 ? (size_t)n : 0;
	}
	if (at == 0)
		snprintf(out, cap, "(libpq defaults)");
	PQconninfoFree(opts);
}

void dim_pg_source_name(const struct dim_pg_source *src, char *out, size_t cap)
{
	char conn[DIM_PG_NAME_MAX];
	dim_pg_conninfo_redact(src->conninfo, conn, sizeof(conn));
	if (src->table && src->table[0])
		snprintf(out, cap, "postgresql table %s (%s)", src->table, conn);
	else
		snprintf(out, cap, "postgresql query (%s)", conn);
}

/* ---- connections ---- */

/* The first line of path, without its line end, into pw. Returns 0 or -errno. */
static int pg_read_password(const char *path, char *pw, size_t cap, char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		snprintf(err, err_len, "password_file %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		log_warn("dim", "password_file %s is readable by others than its owner", path);
	if (!fgets(pw, (int)cap, f))
		pw[0] = '\0';
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	return 0;
}

/*
 * Runs sql (no result rows expected) and checks it. Returns 0 or -EIO with the reason in err.
 */
static int pg_exec(PGconn *conn, const char *sql, char *err, size_t err_len)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(conn, msg, sizeof(msg)));
		rc = -EIO;
	}
	PQclear(r);
	return rc;
}

/*
 * A connection to src with enrichd's defaults under the caller's settings (keepalives to see a
 * vanished peer, the timeouts), the session set for the loaders' text rules. Returns 0 and
 * *out, or -errno with the reason in err.
 */
static int pg_connect(const struct dim_pg_source *src, PGconn **out, char *err, size_t err_len)
{
	char timeout_s[16], password[1024] = "";
	snprintf(timeout_s, sizeof(timeout_s), "%u", (src->connect_timeout_ms + 999) / 1000);
	if (src->password_file && src->password_file[0]) {
		int rc = pg_read_password(src->password_file, password, sizeof(password), err,
					  err_len);
		if (rc)
			return rc;
	}
	/* Later entries win: enrichd's defaults, then the operator's string, then the file. */
	const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
			      "tcp_user_timeout", "application_name", "dbname", "password", NULL};
	const char *vals[] = {timeout_s, "1", PG_KEEPALIVE_IDLE_S, PG_TCP_USER_TIMEOUT_MS,
			      "enrichd", src->conninfo, password[0] ? password : NULL, NULL};
	if (!password[0])
		keys[6] = NULL;
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	explicit_bzero(password, sizeof(password));
	char msg[DIM_ERR_MAX];
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, err_len, "cannot connect: %s", pg_error(conn, msg, sizeof(msg)));
		PQfinish(conn);
		return -ECONNREFUSED;
	}
	char setup[256];
	snprintf(setup, sizeof(setup), "SET statement_timeout = %u; SET DateStyle = 'ISO, YMD'; "
		 "SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET client_encoding = 'UTF8'",
		 src->statement_timeout_ms);
	int rc = pg_exec(conn, setup, err, err_len);
	if (rc) {
		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return 0;
}

/* Asks the server to cancel the statement in flight (best effort), then closes. */
static void pg_cancel_finish(PGconn *conn)
{
	PGcancel *c = PQgetCancel(conn);
	if (c) {
		char buf[256];
		PQcancel(c, buf, sizeof(buf));
		PQfreeCancel(c);
	}
	PQfinish(conn);
}

/*
 * Waits until conn's socket has input, up to the statement timeout, looking at the stop flag
 * every PG_WAIT_MS. Returns 0, -ECANCELED, -ETIMEDOUT or -EIO (reason in err).
 */
static int pg_wait_input(PGconn *conn, const struct dim_pg_source *src, int64_t deadline_ms,
			 char *err, size_t err_len)
{
	for (;;) {
		if (pg_stopping(src)) {
			snprintf(err, err_len, "stopped");
			return -ECANCELED;
		}
		int64_t left = deadline_ms - pg_now_ms();
		if (left <= 0) {
			snprintf(err, err_len, "no answer within statement_timeout (%u ms)",
				 src->statement_timeout_ms);
			return -ETIMEDOUT;
		}
		struct pollfd pfd = {PQsocket(conn), POLLIN, 0};
		int n = poll(&pfd, 1, left < PG_WAIT_MS ? (int)left : PG_WAIT_MS);
		if (n < 0 && errno != EINTR) {
			snprintf(err, err_len, "poll: %s", strerror(errno));
			return -EIO;
		}
		if (n > 0) {
			if (!PQconsumeInput(conn)) {
				char msg[DIM_ERR_MAX];
				snprintf(err, err_len, "connection lost: %s",
					 pg_error(conn, msg, sizeof(msg)));
				return -EIO;
			}
			return 0;
		}
	}
}

/* ---- the plan ---- */

/* The SQL text of the source: the table's name as given, or the query in parentheses. */
static int pg_from(const struct dim_pg_source *src, char *out, size_t cap)
{
	int n = src->table && src->table[0] ? snprintf(out, cap, "%s", src->table)
					    : snprintf(out, cap, "(%s)", src->query);
	return n > 0 && (size_t)n < cap ? 0 : -E2BIG;
}

/* The SELECT expression of a configured column (quoted: q."name") of PostgreSQL type oid. */
static void pg_column_expr(const char *quoted, unsigned oid, enum dim_type type, char *out,
			   size_t cap)
{
	bool text = type == DIM_TYPE_STRING || type == DIM_TYPE_LC_STRING;
	if (oid == PG_OID_BOOL && !text)
		snprintf(out, cap, "(%s)::int", quoted);
	else if ((oid == PG_OID_TIMESTAMP || oid == PG_OID_TIMESTAMPTZ) && type == DIM_TYPE_DATE)
		snprintf(out, cap, "(%s)::date", quoted);
	else if ((oid == PG_OID_TIMESTAMP || oid == PG_OID_TIMESTAMPTZ) && !text)
		snprintf(out, cap, "floor(extract(epoch from %s))::bigint", quoted);
	else
		snprintf(out, cap, "%s", quoted);
}

/* Index of the result column named name, or -1. */
static int pg_field(const PGresult *r, const char *name)
{
	for (int i = 0; i < PQnfields(r); i++)
		if (strcmp(PQfname(r, i), name) == 0)
			return i;
	return -1;
}

/* "q.<quoted name>" of a column, into out. Returns 0 or -ENOMEM. */
static int pg_quote(PGconn *conn, const char *name, char *out, size_t cap)
{
	char *quoted = PQescapeIdentifier(conn, name, strlen(name));
	if (!quoted)
		return -ENOMEM;
	int n = snprintf(out, cap, "q.%s", quoted);
	PQfreemem(quoted);
	return n > 0 && (size_t)n < cap ? 0 : -E2BIG;
}

/* The source's columns (LIMIT 0), for their names and types. */
static PGresult *pg_describe(PGconn *conn, const char *from, char *err, size_t err_len)
{
	char sql[PG_SQL_MAX];
	snprintf(sql, sizeof(sql), "SELECT * FROM %s AS q LIMIT 0", from);
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(conn, msg, sizeof(msg)));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* The type oid of column name in the description, or 0 with err naming it. */
static unsigned pg_column_oid(const PGresult *desc, const char *name, char *err, size_t err_len)
{
	int f = pg_field(desc, name);
	if (f < 0) {
		snprintf(err, err_len, "column '%s' is not in the source", name);
		return 0;
	}
	return PQftype(desc, f);
}

/*
 * The SELECT list of the configured columns into out (at most cap bytes): the key, then the
 * attributes in spec order, each converted for its configured type. Returns the bytes
 * written, or -errno with err naming a column the source lacks.
 */
static long pg_select_list(PGconn *conn, const PGresult *desc, const struct dim_spec *spec,
			   char *out, size_t cap, char *err, size_t err_len)
{
	size_t at = 0;
	for (unsigned c = 0; c <= spec->attr_count; c++) {
		const char *name = c == 0 ? spec->key_column : spec->attrs[c - 1].column;
		enum dim_type type = c == 0 ? spec->key_type : spec->attrs[c - 1].type;
		unsigned oid = pg_column_oid(desc, name, err, err_len);
		if (!oid)
			return -EINVAL;
		char quoted[2 * DIM_NAME_MAX + 8], expr[3 * DIM_NAME_MAX + 64];
		if (pg_quote(conn, name, quoted, sizeof(quoted)) < 0)
			return -ENOMEM;
		pg_column_expr(quoted, oid, type, expr, sizeof(expr));
		int n = snprintf(out + at, cap - at, "%s%s", c ? ", " : "", expr);
		at += n > 0 ? (size_t)n : 0;
		if (at >= cap)
			return -E2BIG;
	}
	return (long)at;
}

/* The condition on delete_field that keeps a row ("": none), from its quoted name. */
static void pg_live_condition(const char *quoted_delete, char *out, size_t cap)
{
	if (quoted_delete[0])
		snprintf(out, cap, "NOT coalesce((%s)::bool, false)", quoted_delete);
	else
		out[0] = '\0';
}

/*
 * L->select from the source's description: SELECT <list> FROM <source> AS q, and L->where,
 * which leaves deleted rows out when delete_field is set.
 */
static int pg_plan_select(struct pg_load *L, PGconn *conn, const PGresult *desc,
			  const char *from, char *err, size_t err_len)
{
	char sql[PG_SQL_MAX];
	size_t at = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	long n = pg_select_list(conn, desc, L->spec, sql + at, sizeof(sql) - at, err, err_len);
	if (n < 0)
		return (int)n;
	at += (size_t)n;
	int m = snprintf(sql + at, sizeof(sql) - at, " FROM %s AS q", from);
	if (m < 0 || at + (size_t)m >= sizeof(sql))
		return -E2BIG;
	const char *del = L->src->delete_field;
	char quoted[2 * DIM_NAME_MAX + 8] = "";
	if (del && del[0]) {
		if (!pg_column_oid(desc, del, err, err_len))
			return -EINVAL;
		if (pg_quote(conn, del, quoted, sizeof(quoted)) < 0)
			return -ENOMEM;
	}
	pg_live_condition(quoted, L->where, sizeof(L->where));
	L->select = strdup(sql);
	return L->select ? 0 : -ENOMEM;
}

/* The expression of update_field (quoted) as a number: microseconds, or the integer. */
static int pg_update_num_expr(unsigned oid, const char *quoted, char *out, size_t cap)
{
	if (oid == PG_OID_TIMESTAMP || oid == PG_OID_TIMESTAMPTZ)
		snprintf(out, cap, "(extract(epoch from %s) * 1000000)::bigint", quoted);
	else if (oid == PG_OID_INT2 || oid == PG_OID_INT4 || oid == PG_OID_INT8 ||
		 oid == PG_OID_NUMERIC)
		snprintf(out, cap, "(%s)::bigint", quoted);
	else
		return -EINVAL;
	return 0;
}

/* mark = update_field's largest value in the plan's snapshot. */
static int pg_plan_mark(struct pg_load *L, PGconn *conn, const PGresult *desc,
			const char *from, char *err, size_t err_len)
{
	const char *upd = L->src->update_field;
	struct dim_pg_mark *mark = L->src->mark;
	if (!upd || !upd[0] || !mark)
		return 0;
	unsigned oid = pg_column_oid(desc, upd, err, err_len);
	char quoted[2 * DIM_NAME_MAX + 8], num[4 * DIM_NAME_MAX];
	if (!oid || pg_quote(conn, upd, quoted, sizeof(quoted)) < 0)
		return -EINVAL;
	if (pg_update_num_expr(oid, quoted, num, sizeof(num)) < 0) {
		snprintf(err, err_len, "update_field '%s' is neither a timestamp nor an integer", upd);
		return -EINVAL;
	}
	char sql[PG_SQL_MAX];
	snprintf(sql, sizeof(sql), "SELECT max(%s)::text, max(%s) FROM %s AS q", quoted, num, from);
	PGresult *r = PQexec(conn, sql);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(conn, msg, sizeof(msg)));
		rc = -EIO;
	} else {
		*mark = (struct dim_pg_mark){.set = !PQgetisnull(r, 0, 0)};
		snprintf(mark->text, sizeof(mark->text), "%s", PQgetvalue(r, 0, 0));
		mark->num = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return rc;
}

/*
 * For a table: its kind, pages and estimated rows, and so the ranges it is read in (a plain
 * table or materialised view large enough: one per load thread).
 */
static int pg_plan_ranges(struct pg_load *L, PGconn *conn, unsigned threads, size_t *rows_hint,
			  char *err, size_t err_len)
{
	L->ranges = 1;
	*rows_hint = 0;
	if (!L->src->table || !L->src->table[0])
		return 0;
	const char *params[1] = {L->src->table};
	PGresult *r = PQexecParams(conn, "SELECT c.relkind, pg_relation_size(c.oid) / "
				   "current_setting('block_size')::bigint, greatest(c.reltuples, 0)"
				   "::bigint FROM pg_class c WHERE c.oid = $1::regclass",
				   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(conn, msg, sizeof(msg)));
		PQclear(r);
		return -EIO;
	}
	char kind = PQgetvalue(r, 0, 0)[0];
	L->pages = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	*rows_hint = (size_t)strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	if (kind == 'r' || kind == 'm') {
		int64_t n = L->pages / PG_PAGES_PER_RANGE_MIN;
		L->ranges = n < 1 ? 1 : n < (int64_t)threads ? (unsigned)n : threads;
	}
	return 0;
}

/* The load's threads, as dim_load counts them. */
static unsigned pg_threads(const struct dim_spec *spec)
{
	long n = spec->threads ? (long)spec->threads : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > DIM_THREADS_MAX ? DIM_THREADS_MAX : (unsigned)n;
}

/* The planning connection: the snapshot every range reads in, the SELECT, the ranges. */
static int pg_plan(struct pg_load *L, PGconn *conn, size_t *rows_hint, char *err,
		   size_t err_len)
{
	char from[PG_QUERY_MAX + 2];
	if (pg_from(L->src, from, sizeof(from)) < 0) {
		snprintf(err, err_len, "the query is too long");
		return -E2BIG;
	}
	int rc = pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, err_len);
	if (rc)
		return rc;
	PGresult *r = PQexec(conn, "SELECT pg_export_snapshot()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(conn, msg, sizeof(msg)));
		PQclear(r);
		return -EIO;
	}
	snprintf(L->snapshot, sizeof(L->snapshot), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PGresult *desc = pg_describe(conn, from, err, err_len);
	if (!desc)
		return -EIO;
	rc = pg_plan_select(L, conn, desc, from, err, err_len);
	if (!rc)
		rc = pg_plan_mark(L, conn, desc, from, err, err_len);
	PQclear(desc);
	if (!rc)
		rc = pg_plan_ranges(L, conn, pg_threads(L->spec), rows_hint, err, err_len);
	return rc;
}

/* ---- one range: COPY, parsed buffer by buffer ---- */

/* The COPY statement of range i: the SELECT, its page range and the deleted rows left out. */
static int pg_copy_sql(const struct pg_load *L, unsigned i, char *out, size_t cap)
{
	char cond[256] = "";
	if (L->ranges > 1) {
		int64_t lo = L->pages * i / L->ranges, hi = L->pages * (i + 1) / L->ranges;
		/* The last range is open: pages added since the plan hold nothing the snapshot
		 * sees, but the bound costs nothing. */
		if (i + 1 < L->ranges)
			snprintf(cond, sizeof(cond), "q.ctid >= '(%" PRId64 ",0)'::tid AND q.ctid < "
				 "'(%" PRId64 ",0)'::tid", lo, hi);
		else
			snprintf(cond, sizeof(cond), "q.ctid >= '(%" PRId64 ",0)'::tid", lo);
	}
	bool both = cond[0] && L->where[0];
	int n = snprintf(out, cap, "COPY (%s%s%s%s%s) TO STDOUT", L->select,
			 cond[0] || L->where[0] ? " WHERE " : "", cond, both ? " AND " : "",
			 L->where);
	return n > 0 && (size_t)n < cap ? 0 : -E2BIG;
}

static struct pg_buf *pg_buf_new(size_t cap)
{
	struct pg_buf *b = malloc(sizeof(*b) + cap);
	if (b)
		*b = (struct pg_buf){.cap = cap};
	return b;
}

/* The range's parse: rows so far (for messages) and the tokenizer over its buffers. */
struct pg_range {
	struct pg_load *L;
	unsigned index;
	const struct dim_layout_spec *ls;
	struct dim_part *part;
	const struct dim_parse_ctl *ctl;
	struct dim_text text;
};

/* Parses the rows of buffer b into the part. Errors name the row (in the range) and its key. */
static int pg_parse_buf(struct pg_range *g, struct pg_buf *b, char *err, size_t err_len)
{
	g->text.data = b->data;
	g->text.len = b->len;
	size_t stop = 0, err_pos = 0;
	char reason[DIM_ERR_MAX];
	int rc = dim_text_parse(&g->text, g->ls, 0, b->len, g->part, g->ctl, &stop, &err_pos,
				reason);
	if (rc) {
		const char *row = b->data + err_pos;
		char key[64];
		dim_quote(key, sizeof(key), row, strcspn(row, "\t\n"));
		snprintf(err, err_len, "row %zu of range %u/%u (key '%s'): %s", g->part->rows + 1,
			 g->index + 1, g->L->ranges, key, reason);
	}
	return rc;
}

/* Appends one COPY row to the range's current buffer, parsing the buffer first when full. */
static int pg_take_row(struct pg_range *g, const char *row, int len, char *err, size_t err_len)
{
	struct pg_buf *b = g->L->bufs[g->index];
	if (!b || b->len + (size_t)len > b->cap) {
		if (b && b->len) {
			int rc = pg_parse_buf(g, b, err, err_len);
			if (rc)
				return rc;
		}
		size_t cap = (size_t)len > PG_BUF_BYTES ? (size_t)len : PG_BUF_BYTES;
		struct pg_buf *nb = pg_buf_new(cap);
		if (!nb) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		nb->next = b;
		g->L->bufs[g->index] = b = nb;
	}
	memcpy(b->data + b->len, row, (size_t)len);
	b->len += (size_t)len;
	atomic_fetch_add_explicit(&g->L->bytes, (uint64_t)len, memory_order_relaxed);
	return 0;
}

/* The end of the COPY: its result says whether every row came. */
static int pg_copy_end(PGconn *conn, char *err, size_t err_len)
{
	int rc = 0;
	PGresult *r;
	while ((r = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && !rc) {
			char msg[DIM_ERR_MAX];
			snprintf(err, err_len, "COPY failed: %s", pg_error(conn, msg, sizeof(msg)));
			rc = -EIO;
		}
		PQclear(r);
	}
	return rc;
}

/* Streams the range's COPY into its buffers, parsing each one as it fills. */
static int pg_stream(struct pg_range *g, PGconn *conn, char *err, size_t err_len)
{
	const struct dim_pg_source *src = g->L->src;
	int64_t deadline = pg_now_ms() + src->statement_timeout_ms;
	for (;;) {
		char *row = NULL;
		int n = PQgetCopyData(conn, &row, 1);
		if (n > 0) {
			int rc = pg_take_row(g, row, n, err, err_len);
			PQfreemem(row);
			if (rc)
				return rc;
			deadline = pg_now_ms() + src->statement_timeout_ms;
			continue;
		}
		if (n == -1)
			break;
		if (n == -2) {
			char msg[DIM_ERR_MAX];
			snprintf(err, err_len, "connection lost: %s", pg_error(conn, msg, sizeof(msg)));
			return -EIO;
		}
		if (dim_parse_ctl_stop(g->ctl))
			return 0; /* an earlier range failed: its error is the one reported */
		int rc = pg_wait_input(conn, src, deadline, err, err_len);
		if (rc)
			return rc;
	}
	int rc = pg_copy_end(conn, err, err_len);
	struct pg_buf *b = g->L->bufs[g->index];
	if (!rc && b && b->len)
		rc = pg_parse_buf(g, b, err, err_len);
	return rc;
}

/* Opens the range's connection in the plan's snapshot and starts its COPY. */
static int pg_range_start(struct pg_load *L, unsigned i, PGconn **out, char *err, size_t err_len)
{
	PGconn *conn;
	int rc = pg_connect(L->src, &conn, err, err_len);
	if (rc)
		return rc;
	char sql[PG_SQL_MAX + 128];
	snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
		 "SET TRANSACTION SNAPSHOT '%s'", L->snapshot);
	rc = pg_exec(conn, sql, err, err_len);
	if (!rc)
		rc = pg_copy_sql(L, i, sql, sizeof(sql));
	if (!rc && PQsendQuery(conn, sql) != 1) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(conn, msg, sizeof(msg)));
		rc = -EIO;
	}
	if (rc) {
		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return 0;
}

/* Waits for the COPY to start (its first result). */
static int pg_copy_begin(PGconn *conn, const struct dim_pg_source *src, char *err,
			 size_t err_len)
{
	int64_t deadline = pg_now_ms() + src->statement_timeout_ms;
	while (PQisBusy(conn)) {
		int rc = pg_wait_input(conn, src, deadline, err, err_len);
		if (rc)
			return rc;
	}
	PGresult *r = PQgetResult(conn);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(conn, msg, sizeof(msg)));
		rc = -EIO;
	}
	PQclear(r);
	return rc;
}

/* dim_row_source.parse: range `chunk` of the table (or the whole source). */
static int pg_parse_range(void *ctx, unsigned chunk, const struct dim_layout_spec *ls,
			  struct dim_part *part, const struct dim_parse_ctl *ctl, char *err,
			  size_t err_len)
{
	struct pg_load *L = ctx;
	struct pg_range g = {.L = L, .index = chunk, .ls = ls, .part = part, .ctl = ctl,
			     .text = {.csv = false, .col_count = 1 + ls->attr_count}};
	for (unsigned c = 0; c < g.text.col_count; c++)
		g.text.target[c] = (int16_t)c;
	PGconn *conn = NULL;
	int rc = pg_range_start(L, chunk, &conn, err, err_len);
	if (!rc)
		rc = pg_copy_begin(conn, L->src, err, err_len);
	if (!rc)
		rc = pg_stream(&g, conn, err, err_len);
	if (conn && rc)
		pg_cancel_finish(conn);
	else if (conn)
		PQfinish(conn);
	if (rc)
		dim_parse_ctl_fail(ctl);
	return rc;
}

/* ---- the load ---- */

static void pg_load_free(struct pg_load *L)
{
	for (unsigned i = 0; i < DIM_THREADS_MAX; i++) {
		for (struct pg_buf *b = L->bufs[i], *next; b; b = next) {
			next = b->next;
			free(b);
		}
	}
	free(L->select);
	free(L);
}

/* Plans on a first connection, then loads every range; the plan's snapshot is held meanwhile. */
static int pg_load_run(struct pg_load *L, struct dim **out, struct dim_load_stats *stats)
{
	PGconn *plan_conn = NULL;
	size_t rows_hint = 0;
	int rc = pg_connect(L->src, &plan_conn, stats->error, sizeof(stats->error));
	if (!rc)
		rc = pg_plan(L, plan_conn, &rows_hint, stats->error, sizeof(stats->error));
	if (rc) {
		char reason[sizeof(stats->error)];
		snprintf(reason, sizeof(reason), "%s", stats->error);
		dim_errf(stats->error, sizeof(stats->error), "%s: %s", L->name, reason);
		log_error("dim", "%s: load failed: %s", L->spec->name, stats->error);
		PQfinish(plan_conn);
		return rc;
	}
	struct dim_row_source rs = {.name = L->name, .chunks = L->ranges, .rows_hint = rows_hint,
				    .parse = pg_parse_range, .ctx = L};
	log_info("dim", "%s: loading from %s in %u range(s)", L->spec->name, L->name, L->ranges);
	rc = dim_load_rows(L->spec, &rs, out, stats);
	PQfinish(plan_conn); /* ends the snapshot's transaction */
	stats->source_bytes = atomic_load(&L->bytes);
	return rc;
}

int dim_pg_load(const struct dim_spec *spec, const struct dim_pg_source *src, struct dim **out,
		struct dim_load_stats *stats)
{
	struct dim_load_stats local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	bool table = src && src->table && src->table[0], query = src && src->query && src->query[0];
	if (!spec || !src || !out || !src->conninfo || table == query)
		return -EINVAL;
	struct pg_load *L = calloc(1, sizeof(*L));
	if (!L)
		return -ENOMEM;
	L->src = src;
	L->spec = spec;
	dim_pg_source_name(src, L->name, sizeof(L->name));
	int rc = pg_load_run(L, out, stats);
	pg_load_free(L);
	return rc;
}

/* ---- incremental reads ---- */

struct dim_pg_changes {
	const struct dim_spec *spec;
	struct dim_pg_source src;
	char name[DIM_PG_NAME_MAX];
	PGconn *conn;
	char *sql;          /* SELECT <list>, <deleted>, <upd>::text, <upd num> FROM ... WHERE */
	bool timestamp;     /* update_field is a timestamp: the overlap applies */
	char upd_quoted[2 * DIM_NAME_MAX + 8];
	char upd_type[64];  /* its type's name, for the mark's cast */
};

int dim_pg_changes_new(const struct dim_spec *spec, const struct dim_pg_source *src,
		       struct dim_pg_changes **out)
{
	if (!src->update_field || !src->update_field[0])
		return -EINVAL;
	struct dim_pg_changes *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->spec = spec;
	c->src = *src;
	c->src.mark = NULL;
	dim_pg_source_name(src, c->name, sizeof(c->name));
	*out = c;
	return 0;
}

void dim_pg_changes_free(struct dim_pg_changes *c)
{
	if (!c)
		return;
	PQfinish(c->conn);
	free(c->sql);
	free(c);
}

/* The deleted flag's expression: delete_field as 0/1, or 0. */
static int pg_deleted_expr(PGconn *conn, const PGresult *desc, const char *del, char *out,
			   size_t cap, char *err, size_t err_len)
{
	if (!del || !del[0]) {
		snprintf(out, cap, "0");
		return 0;
	}
	char quoted[2 * DIM_NAME_MAX + 8];
	if (!pg_column_oid(desc, del, err, err_len) || pg_quote(conn, del, quoted, sizeof(quoted)))
		return -EINVAL;
	snprintf(out, cap, "coalesce((%s)::bool, false)::int", quoted);
	return 0;
}

/* The read's statement, from the source's description: made once per connection. */
static int pg_changes_plan(struct dim_pg_changes *c, char *err, size_t err_len)
{
	char from[PG_QUERY_MAX + 2], sql[PG_SQL_MAX], num[4 * DIM_NAME_MAX], del[4 * DIM_NAME_MAX];
	if (pg_from(&c->src, from, sizeof(from)) < 0)
		return -E2BIG;
	PGresult *desc = pg_describe(c->conn, from, err, err_len);
	if (!desc)
		return -EIO;
	int rc = -EINVAL;
	size_t at = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	long n = pg_select_list(c->conn, desc, c->spec, sql + at, sizeof(sql) - at, err, err_len);
	unsigned oid = pg_column_oid(desc, c->src.update_field, err, err_len);
	if (n < 0 || !oid || pg_quote(c->conn, c->src.update_field, c->upd_quoted,
				      sizeof(c->upd_quoted)) < 0)
		goto out_clear;
	if (pg_update_num_expr(oid, c->upd_quoted, num, sizeof(num)) < 0) {
		snprintf(err, err_len, "update_field '%s' is neither a timestamp nor an integer",
			 c->src.update_field);
		goto out_clear;
	}
	if (pg_deleted_expr(c->conn, desc, c->src.delete_field, del, sizeof(del), err, err_len))
		goto out_clear;
	c->timestamp = oid == PG_OID_TIMESTAMP || oid == PG_OID_TIMESTAMPTZ;
	snprintf(c->upd_type, sizeof(c->upd_type), "%s",
		 oid == PG_OID_TIMESTAMP ? "timestamp" : oid == PG_OID_TIMESTAMPTZ ? "timestamptz"
										   : "numeric");
	at += (size_t)n;
	int m = snprintf(sql + at, sizeof(sql) - at, ", %s, (%s)::text, %s FROM %s AS q", del,
			 c->upd_quoted, num, from);
	rc = m > 0 && at + (size_t)m < sizeof(sql) ? 0 : -E2BIG;
	free(c->sql);
	c->sql = rc ? NULL : strdup(sql);
	if (!rc && !c->sql)
		rc = -ENOMEM;
out_clear:
	PQclear(desc);
	return rc;
}

/* Sends the read of the rows at or after mark less the overlap, one row per result. */
static int pg_changes_send(struct dim_pg_changes *c, const struct dim_pg_mark *mark,
			   uint32_t overlap_ms, char *err, size_t err_len)
{
	char sql[PG_SQL_MAX + 256];
	if (!mark->set)
		snprintf(sql, sizeof(sql), "%s", c->sql);
	else if (c->timestamp)
		snprintf(sql, sizeof(sql), "%s WHERE %s >= $1::%s - make_interval(secs => %u.%03u)",
			 c->sql, c->upd_quoted, c->upd_type, overlap_ms / 1000, overlap_ms % 1000);
	else
		snprintf(sql, sizeof(sql), "%s WHERE %s >= $1::%s", c->sql, c->upd_quoted,
			 c->upd_type);
	const char *params[1] = {mark->text};
	if (PQsendQueryParams(c->conn, sql, mark->set ? 1 : 0, NULL, params, NULL, NULL, 0) != 1 ||
	    PQsetSingleRowMode(c->conn) != 1) {
		char msg[DIM_ERR_MAX];
		snprintf(err, err_len, "%s", pg_error(c->conn, msg, sizeof(msg)));
		return -EIO;
	}
	return 0;
}

/* One result row: the callback, and the mark moved past it. */
static int pg_changes_row(struct dim_pg_changes *c, const PGresult *r, struct dim_pg_mark *next,
			  dim_pg_change_fn fn, void *ctx)
{
	unsigned attrs = c->spec->attr_count;
	struct dim_str values[DIM_ATTR_MAX];
	for (unsigned a = 0; a < attrs; a++)
		values[a] = PQgetisnull(r, 0, (int)a + 1)
				    ? (struct dim_str){NULL, 0}
				    : (struct dim_str){PQgetvalue(r, 0, (int)a + 1),
						       (size_t)PQgetlength(r, 0, (int)a + 1)};
	struct dim_str key = {PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)};
	bool deleted = PQgetvalue(r, 0, (int)attrs + 1)[0] == '1';
	int64_t num = strtoll(PQgetvalue(r, 0, (int)attrs + 3), NULL, 10);
	if (!next->set || num > next->num) {
		next->set = true;
		next->num = num;
		snprintf(next->text, sizeof(next->text), "%s", PQgetvalue(r, 0, (int)attrs + 2));
	}
	return fn(ctx, key, values, deleted, num);
}

/* Takes the read's rows as they come, waiting with the stop flag and the timeout. */
static long pg_changes_take(struct dim_pg_changes *c, struct dim_pg_mark *next,
			    dim_pg_change_fn fn, void *ctx, char *err, size_t err_len)
{
	int64_t deadline = pg_now_ms() + c->src.statement_timeout_ms;
	long rows = 0;
	int rc = 0;
	for (;;) {
		while (PQisBusy(c->conn)) {
			rc = pg_wait_input(c->conn, &c->src, deadline, err, err_len);
			if (rc)
				return rc;
		}
		PGresult *r = PQgetResult(c->conn);
		if (!r)
			break;
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_SINGLE_TUPLE && !rc) {
			rc = pg_changes_row(c, r, next, fn, ctx);
			rows++;
		} else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE && !rc) {
			char msg[DIM_ERR_MAX];
			snprintf(err, err_len, "%s", pg_error(c->conn, msg, sizeof(msg)));
			rc = -EIO;
		}
		PQclear(r);
	}
	return rc ? rc : rows;
}

long dim_pg_changes_read(struct dim_pg_changes *c, struct dim_pg_mark *mark, uint32_t overlap_ms,
			 dim_pg_change_fn fn, void *ctx, char *err, size_t err_len)
{
	int rc = 0;
	if (!c->conn) {
		rc = pg_connect(&c->src, &c->conn, err, err_len);
		if (!rc)
			rc = pg_changes_plan(c, err, err_len);
	}
	if (!rc)
		rc = pg_changes_send(c, mark, overlap_ms, err, err_len);
	struct dim_pg_mark next = *mark;
	long rows = rc ? rc : pg_changes_take(c, &next, fn, ctx, err, err_len);
	if (rows >= 0) {
		*mark = next;
		return rows;
	}
	if (c->conn)
		pg_cancel_finish(c->conn);
	c->conn = NULL;
	return rows;
}
