/*
 * enrichd-avro-cat: decodes Confluent-framed Avro messages with enrichd's own registry client
 * and Avro decoder, and prints the declared fields as ClickHouse prints them in TSV.
 *
 *   enrichd-avro-cat --registry URLS [--user U --password P] [--wait-ms N]
 *                    --field 'PATH TYPE[=DEFAULT]' ... < messages
 *
 * Input: one message per line, in hex. TYPE is a ClickHouse type name: String,
 * LowCardinality(String), FixedString(N), UInt8..UInt64, Int8..Int64, Float32, Float64, Bool,
 * Date, Date32, DateTime, DateTime64(P), UUID, Array(String), Array(Int8..Int64),
 * any of them in Nullable(...). Output, one line per message: the fields tab-separated (NULL as
 * \N, strings escaped, dates and times in UTC as ClickHouse writes them), or
 * "error<TAB>NAME<TAB>REASON" for a message the decoder refused, or "schema<TAB>STATE<TAB>REASON"
 * for a schema id the registry could not give (unknown, invalid, unresolvable). A schema id still
 * pending after --wait-ms (default 10000) ms ends the program with status 2 (the registry is
 * unavailable); every id is asked for before the first wait, so an outage shows in one place.
 * For the tests of the registry client and of the decoder against ClickHouse's AvroConfluent.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro.h"
#include "log.h"
#include "registry.h"

#define CAT_LINE_MAX ((size_t)1 << 22)

struct cat_field {
	char path[256];
	char type[64]; /* the ClickHouse type, Nullable(...) removed */
};

static struct cat_field fields[AV_FIELDS_MAX];
static struct av_field_decl decls[AV_FIELDS_MAX];
static size_t n_fields;

/* The target of a ClickHouse type name (Nullable(...) already removed), or 0. */
static enum av_target target_of(const char *t, uint32_t *size)
{
	static const struct {
		const char *name;
		enum av_target target;
		uint32_t size;
	} names[] = {
		{"String", AV_TO_STRING, 0},	   {"LowCardinality(String)", AV_TO_STRING, 0},
		{"UInt8", AV_TO_U64, 1},	   {"UInt16", AV_TO_U64, 2},
		{"UInt32", AV_TO_U64, 4},	   {"UInt64", AV_TO_U64, 8},
		{"Int8", AV_TO_I64, 1},		   {"Int16", AV_TO_I64, 2},
		{"Int32", AV_TO_I64, 4},	   {"Int64", AV_TO_I64, 8},
		{"Float32", AV_TO_F64, 4},	   {"Float64", AV_TO_F64, 8},
		{"Bool", AV_TO_BOOL, 0},	   {"Date", AV_TO_DATE, 0},
		{"Date32", AV_TO_DATE32, 0},	   {"DateTime", AV_TO_DATETIME, 0},
		{"UUID", AV_TO_UUID, 0},	   {"Array(String)", AV_TO_ARRAY_STRING, 0},
		{"Array(Int8)", AV_TO_ARRAY_I64, 1}, {"Array(Int16)", AV_TO_ARRAY_I64, 2},
		{"Array(Int32)", AV_TO_ARRAY_I64, 4}, {"Array(Int64)", AV_TO_ARRAY_I64, 8},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(t, names[i].name) == 0) {
			*size = names[i].size;
			return names[i].target;
		}
	unsigned n;
	char close;
	if (sscanf(t, "DateTime64(%u%c", &n, &close) == 2 && close == ')' && n <= 9) {
		*size = n;
		return AV_TO_DATETIME64;
	}
	if (sscanf(t, "FixedString(%u%c", &n, &close) == 2 && close == ')') {
		*size = n;
		return AV_TO_FIXED_STRING;
	}
	return 0;
}

/* "PATH TYPE[=DEFAULT]" into fields[n_fields] and decls[n_fields]. */
static int field_add(char *spec)
{
	if (n_fields == AV_FIELDS_MAX)
		return -1;
	struct cat_field *f = &fields[n_fields];
	struct av_field_decl *d = &decls[n_fields];
	char *sp = strchr(spec, ' ');
	if (sp == NULL)
		return -1;
	*sp = '\0';
	char *type = sp + 1, *eq = strchr(type, '=');
	if (eq != NULL) {
		*eq = '\0';
		d->default_text = eq + 1;
	}
	snprintf(f->path, sizeof(f->path), "%s", spec);
	if (strncmp(type, "Nullable(", 9) == 0 && type[strlen(type) - 1] == ')') {
		d->nullable = 1;
		snprintf(f->type, sizeof(f->type), "%.*s", (int)(strlen(type) - 10), type + 9);
	} else {
		snprintf(f->type, sizeof(f->type), "%s", type);
	}
	d->path = f->path;
	d->target = target_of(f->type, &d->size);
	if (d->target == 0)
		return -1;
	n_fields++;
	return 0;
}

static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
	/* H. Hinnant's civil_from_days */
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void put_date(int64_t days)
{
	int y;
	unsigned m, d;
	civil(days, &y, &m, &d);
	printf("%04d-%02u-%02u", y, m, d);
}

/* A time of ticks of 10^-p s since the epoch. */
static void put_time(int64_t ticks, unsigned p)
{
	int64_t unit = 1;
	for (unsigned i = 0; i < p; i++)
		unit *= 10;
	int64_t secs = ticks / unit, frac = ticks % unit;
	if (frac < 0)
		secs--, frac += unit;
	int64_t days = secs / 86400, rest = secs % 86400;
	if (rest < 0)
		days--, rest += 86400;
	put_date(days);
	printf(" %02d:%02d:%02d", (int)(rest / 3600), (int)(rest / 60 % 60), (int)(rest % 60));
	if (p > 0)
		printf(".%0*" PRId64, (int)p, frac);
}

static void put_escaped(const char *s, uint32_t n, bool quoted)
{
	for (uint32_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' || (quoted && c == '\''))
			printf("\\%c", c);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\0')
			fputs("\\0", stdout);
		else
			putchar(c);
	}
}

/* The shortest text that reads back as the same value, as ClickHouse prints floats. */
static void put_float(double v, bool single)
{
	char buf[64];
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, v);
		double back = strtod(buf, NULL);
		if (single ? (float)back == (float)v : back == v)
			break;
	}
	fputs(isnan(v) ? "nan" : buf, stdout);
}

static void put_value(const struct av_field_decl *d, const struct event_value *v)
{
	if (v->null) {
		fputs("\\N", stdout);
		return;
	}
	switch (d->target) {
	case AV_TO_STRING:
	case AV_TO_FIXED_STRING:
		put_escaped(v->ptr, v->len, false);
		break;
	case AV_TO_U64: printf("%" PRIu64, v->u64); break;
	case AV_TO_I64: printf("%" PRId64, v->i64); break;
	case AV_TO_F64: put_float(v->f64, d->size == 4); break;
	case AV_TO_BOOL: fputs(v->u64 ? "true" : "false", stdout); break;
	case AV_TO_DATE: put_date((int64_t)v->u64); break;
	case AV_TO_DATE32: put_date(v->i64); break;
	case AV_TO_DATETIME: put_time((int64_t)v->u64, 0); break;
	case AV_TO_DATETIME64: put_time(v->i64, d->size); break;
	case AV_TO_UUID: {
		const uint8_t *u = (const uint8_t *)v->ptr;
		for (int i = 0; i < 16; i++)
			printf("%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", u[i]);
		break;
	}
	case AV_TO_ARRAY_STRING:
	case AV_TO_ARRAY_I64:
		putchar('[');
		for (uint32_t i = 0; i < v->len; i++) {
			if (i > 0)
				putchar(',');
			if (d->target == AV_TO_ARRAY_I64) {
				printf("%" PRId64, ((const int64_t *)(const void *)v->ptr)[i]);
				continue;
			}
			const struct event_str *e = (const struct event_str *)(const void *)v->ptr + i;
			putchar('\'');
			put_escaped(e->ptr, e->len, true);
			putchar('\'');
		}
		putchar(']');
		break;
	}
}

/* Hex text into bytes; returns the byte count or -1. */
static long unhex(const char *s, size_t n, char *out)
{
	if (n % 2 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		unsigned b;
		if (sscanf(s + i, "%2x", &b) != 1)
			return -1;
		out[i / 2] = (char)b;
	}
	return (long)(n / 2);
}

struct msg {
	char *buf;
	size_t len;
};

/* Every line of stdin as a message. */
static int read_messages(struct msg **out, size_t *n)
{
	char *line = NULL;
	size_t cap = 0, count = 0, alloc = 0;
	ssize_t len;
	struct msg *m = NULL;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if ((size_t)len > CAT_LINE_MAX)
			return -1;
		if (count == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			m = realloc(m, alloc * sizeof(*m));
			if (m == NULL)
				return -1;
		}
		char *buf = malloc((size_t)len / 2 + 1);
		long n_bytes = buf ? unhex(line, (size_t)len, buf) : -1;
		if (n_bytes < 0)
			return -1;
		m[count++] = (struct msg){buf, (size_t)n_bytes};
	}
	free(line);
	*out = m;
	*n = count;
	return 0;
}

/* Prints one message's line; returns 2 when its schema id is still pending. */
static int cat_one(struct registry *reg, const struct msg *m, uint32_t wait_ms, char *scratch,
		   size_t scratch_cap)
{
	static struct event_value vals[AV_FIELDS_MAX];
	struct av_error err;
	uint32_t id;
	size_t off;
	int rc = av_frame(m->buf, m->len, &id, &off, &err);
	if (rc != 0) {
		printf("error\t%s\t%s\n", av_err_name(rc), err.reason);
		return 0;
	}
	const struct registry_schema *s = NULL;
	enum registry_state st = registry_wait(reg, id, wait_ms, &s);
	if (st == REGISTRY_PENDING) {
		fprintf(stderr, "avro-cat: schema id %" PRIu32 " still pending after %" PRIu32 " ms\n",
			id, wait_ms);
		return 2;
	}
	if (st != REGISTRY_READY) {
		printf("schema\t%s\t%s\n", registry_state_name(st), s ? s->reason : "");
		return 0;
	}
	rc = av_decode(s->plan, m->buf + off, m->len - off, vals, scratch, scratch_cap, NULL, &err);
	if (rc != 0) {
		printf("error\t%s\t%s%s%s at %zu\n", av_err_name(rc),
		       err.field >= 0 ? decls[err.field].path : "", err.field >= 0 ? ": " : "",
		       err.reason, err.offset);
		return 0;
	}
	for (size_t i = 0; i < n_fields; i++) {
		if (i > 0)
			putchar('\t');
		put_value(&decls[i], &vals[i]);
	}
	putchar('\n');
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: enrichd-avro-cat --registry URLS [--user U --password P] "
			"[--wait-ms N] --field 'PATH TYPE[=DEFAULT]' ... < hex-lines\n");
	return 64;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"registry", required_argument, NULL, 'r'}, {"user", required_argument, NULL, 'u'},
		{"password", required_argument, NULL, 'p'}, {"wait-ms", required_argument, NULL, 'w'},
		{"field", required_argument, NULL, 'f'},    {NULL, 0, NULL, 0},
	};
	struct registry_config cfg = {0};
	uint32_t wait_ms = 10000;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': cfg.urls = optarg; break;
		case 'u': cfg.username = optarg; break;
		case 'p': cfg.password = optarg; break;
		case 'w': wait_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'f':
			if (field_add(optarg) < 0) {
				fprintf(stderr, "avro-cat: bad --field %s\n", optarg);
				return 64;
			}
			break;
		default: return usage();
		}
	}
	if (cfg.urls == NULL || n_fields == 0)
		return usage();
	log_level_set(LOG_LEVEL_INFO);
	char err[512];
	struct av_reader *reader = NULL;
	struct registry *reg = NULL;
	if (av_reader_create(decls, n_fields, &reader, err, sizeof(err)) < 0) {
		fprintf(stderr, "avro-cat: %s\n", err);
		return 64;
	}
	struct msg *msgs = NULL;
	size_t n = 0;
	int rc = 1;
	if (read_messages(&msgs, &n) < 0) {
		fprintf(stderr, "avro-cat: input is not hex lines\n");
		goto out_reader;
	}
	if (registry_create(&reg, &cfg, reader) < 0)
		goto out_msgs;
	size_t scratch_cap = AV_SCRATCH_BOUND(CAT_LINE_MAX / 2, n_fields);
	char *scratch = malloc(scratch_cap);
	const struct registry_schema *s;
	for (size_t i = 0; i < n; i++) { /* ask for every id at once */
		uint32_t id;
		size_t off;
		if (av_frame(msgs[i].buf, msgs[i].len, &id, &off, NULL) == 0)
			registry_get(reg, id, &s);
	}
	rc = scratch ? 0 : 1;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cat_one(reg, &msgs[i], wait_ms, scratch, scratch_cap);
	free(scratch);
	registry_destroy(reg);
out_msgs:
	for (size_t i = 0; i < n; i++)
		free(msgs[i].buf);
	free(msgs);
out_reader:
	av_reader_free(reader);
	return rc;
}
