/*
 * dim_text: the TSVWithNames / CSVWithNames tokenizer of the dimension loaders (contract in
 * include/dim_text.h). The row scanners take the field handler as a constant, so each scanner
 * is compiled once per handler with the handler inlined.
 */
#include "dim_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field flags from the scanners. */
#define DIM_FIELD_NULL 1u   /* the raw field is \N */
#define DIM_FIELD_ESC 2u    /* TSV: holds backslash escapes */
#define DIM_FIELD_DQUOTE 4u /* CSV: a quoted field holding "" */

/* Occurrences of byte c in p[0..n), eight bytes at a time. */
static uint64_t dim_count_byte(const char *p, size_t n, unsigned char c)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL, pat = 0x0101010101010101ULL * c;
	uint64_t count = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		uint64_t x = w ^ pat;
		uint64_t t = ((x & low7) + low7) | x; /* high bit clear only in bytes equal to c */
		count += (uint64_t)__builtin_popcountll(~t & ~low7);
	}
	for (; i < n; i++)
		count += (unsigned char)p[i] == c;
	return count;
}

/* True if the byte at s[i] is escaped: preceded by an odd run of backslashes within s. */
static bool dim_tsv_escaped(const char *s, size_t i)
{
	size_t run = 0;
	while (run < i && s[i - run - 1] == '\\')
		run++;
	return run % 2 == 1;
}

/* ClickHouse TSV unescaping (readEscapedString) of s into out; returns the length written. */
static size_t dim_tsv_unescape(const char *s, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c != '\\' || i + 1 == len) {
			out[o++] = c;
			continue;
		}
		c = s[++i];
		if (c == 'N') /* \N inside a value reads as nothing */
			continue;
		if (c == 'x' && i + 2 < len) {
			static const char hex[] = "0123456789abcdef0123456789ABCDEF";
			const char *h1 = memchr(hex, s[i + 1], 32), *h2 = memchr(hex, s[i + 2], 32);
			if (h1 && h2 && s[i + 1] && s[i + 2]) {
				out[o++] = (char)(((h1 - hex) % 16) * 16 + (h2 - hex) % 16);
				i += 2;
				continue;
			}
		}
		char dec;
		switch (c) {
		case 'a': dec = '\a'; break;
		case 'b': dec = '\b'; break;
		case 'e': dec = '\x1b'; break;
		case 'f': dec = '\f'; break;
		case 'n': dec = '\n'; break;
		case 'r': dec = '\r'; break;
		case 't': dec = '\t'; break;
		case 'v': dec = '\v'; break;
		case '0': dec = '\0'; break;
		default: dec = c; break;
		}
		/* As ClickHouse: an unknown escape such as \% keeps its backslash. */
		if (dec != '\\' && dec != '\'' && dec != '"' && dec != '`' && dec != '/' &&
		    (unsigned char)dec > 31)
			out[o++] = '\\';
		out[o++] = dec;
	}
	return o;
}

/* Copies a quoted CSV value, collapsing "" into ". Returns the length written. */
static size_t dim_csv_unquote(const char *s, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		out[o++] = s[i];
		if (s[i] == '"' && i + 1 < len && s[i + 1] == '"')
			i++;
	}
	return o;
}

typedef int (*dim_field_fn)(void *ctx, unsigned field, const char *s, size_t len, unsigned flags,
			    char *err);

/* One field as a scanner found it: its raw bytes and DIM_FIELD_* flags. */
struct dim_field {
	const char *s;
	size_t len;
	unsigned flags;
};

/* Whether a raw field is \N, ClickHouse's NULL in TSV and in unquoted CSV. */
static inline bool dim_field_is_null(const char *s, size_t len)
{
	return len == 2 && s[0] == '\\' && s[1] == 'N';
}

/* Scans the TSV field at *pp up to its delimiter (a tab, a newline or end), where *pp is left. */
static inline void dim_tsv_field(const char **pp, const char *end, struct dim_field *fld)
{
	const char *p = *pp, *s = p;
	unsigned flags = 0;
	while (p < end) {
		char c = *p;
		if (c == '\t' || c == '\n')
			break;
		if (c == '\\') {
			flags |= DIM_FIELD_ESC;
			if (++p == end)
				break;
		}
		p++;
	}
	size_t len = (size_t)(p - s);
	if (len && s[len - 1] == '\r' && (p == end || *p == '\n') && !dim_tsv_escaped(s, len - 1))
		len--; /* CRLF line end */
	if (dim_field_is_null(s, len))
		flags = DIM_FIELD_NULL;
	*fld = (struct dim_field){s, len, flags};
	*pp = p;
}

/* Scans CSV field f (0-based) at *pp up to its delimiter (a comma, a newline or end), where *pp
 * is left: RFC 4180 with ClickHouse's trimming of unquoted values. 0, or -EINVAL with err set. */
static inline int dim_csv_field(const char **pp, const char *end, unsigned f,
				struct dim_field *fld, char *err)
{
	const char *p = *pp;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const char *s;
	size_t len;
	unsigned flags = 0;
	if (p < end && *p == '"') {
		s = ++p;
		for (;;) {
			const char *q = memchr(p, '"', (size_t)(end - p));
			if (!q) {
				snprintf(err, DIM_ERR_MAX, "unterminated quoted field %u", f + 1);
				return -EINVAL;
			}
			if (q + 1 < end && q[1] == '"') {
				flags |= DIM_FIELD_DQUOTE;
				p = q + 2;
				continue;
			}
			len = (size_t)(q - s);
			p = q + 1;
			break;
		}
		while (p < end &&
		       (*p == ' ' || *p == '\t' || (*p == '\r' && (p + 1 == end || p[1] == '\n'))))
			p++;
		if (p < end && *p != ',' && *p != '\n') {
			snprintf(err, DIM_ERR_MAX, "unexpected character after quoted field %u",
				 f + 1);
			return -EINVAL;
		}
	} else {
		s = p;
		while (p < end && *p != ',' && *p != '\n')
			p++;
		len = (size_t)(p - s);
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
			len--;
		if (dim_field_is_null(s, len))
			flags = DIM_FIELD_NULL;
	}
	*fld = (struct dim_field){s, len, flags};
	*pp = p;
	return 0;
}

/*
 * Scans one row at *pp (< end), CSV or TSV, calling fn for each field; *pp ends after the row's
 * newline (or at end). Returns the number of fields, or a negative errno from the CSV scanner or
 * fn. Always inlined with csv a constant, so that each format's loop has its scanner and the
 * handler inlined and no test of the format per field.
 */
static inline __attribute__((always_inline)) long
dim_row_scan(const char **pp, const char *end, bool csv, dim_field_fn fn, void *ctx, char *err)
{
	const char *p = *pp;
	unsigned f = 0;
	for (;;) {
		struct dim_field fld;
		int rc = 0;
		if (csv)
			rc = dim_csv_field(&p, end, f, &fld, err);
		else
			dim_tsv_field(&p, end, &fld);
		if (rc == 0)
			rc = fn(ctx, f, fld.s, fld.len, fld.flags, err);
		if (rc)
			return rc;
		f++;
		if (p == end || *p++ == '\n')
			break;
	}
	*pp = p;
	return f;
}

static inline long dim_text_row(const struct dim_text *t, const char **pp, dim_field_fn fn,
				void *ctx, char *err)
{
	const char *end = t->data + t->len;
	return t->csv ? dim_row_scan(pp, end, true, fn, ctx, err)
		      : dim_row_scan(pp, end, false, fn, ctx, err);
}

/* Header: the column names, unescaped into buf (each at most 4 * DIM_NAME_MAX bytes raw). */
#define DIM_HEADER_BYTES_MAX ((size_t)DIM_SOURCE_COLUMNS_MAX * DIM_NAME_MAX * 4)
struct dim_header_ctx {
	struct dim_str names[DIM_SOURCE_COLUMNS_MAX];
	char *buf;
	size_t used;
};

static int dim_header_field(void *arg, unsigned field, const char *s, size_t len, unsigned flags,
			    char *err)
{
	struct dim_header_ctx *h = arg;
	if (field >= DIM_SOURCE_COLUMNS_MAX) {
		snprintf(err, DIM_ERR_MAX, "more than %d columns", DIM_SOURCE_COLUMNS_MAX);
		return -EINVAL;
	}
	if (len >= DIM_NAME_MAX * 4) { /* longer than any name can be: matches nothing */
		h->names[field] = (struct dim_str){"", 0};
		return 0;
	}
	char *out = h->buf + h->used;
	if (flags & DIM_FIELD_ESC)
		len = dim_tsv_unescape(s, len, out);
	else if (flags & DIM_FIELD_DQUOTE)
		len = dim_csv_unquote(s, len, out);
	else
		memcpy(out, s, len);
	h->names[field] = (struct dim_str){out, len};
	h->used += len;
	return 0;
}

/* Row fields: converted into the part at row `row`. */
struct dim_row_ctx {
	const struct dim_text *t;
	const struct dim_layout_spec *ls;
	struct dim_part *part;
	size_t row;
};

static int dim_row_field(void *arg, unsigned field, const char *s, size_t len, unsigned flags,
			 char *err)
{
	struct dim_row_ctx *c = arg;
	const struct dim_text *t = c->t;
	if (field >= t->col_count) {
		snprintf(err, DIM_ERR_MAX, "more than the header's %u columns", t->col_count);
		return -EINVAL;
	}
	int tg = t->target[field];
	if (tg < 0)
		return 0;
	if (flags & (DIM_FIELD_ESC | DIM_FIELD_DQUOTE)) {
		char *buf = dim_scratch_alloc(&c->part->scratch, len);
		if (!buf)
			return -ENOMEM;
		size_t n = flags & DIM_FIELD_ESC ? dim_tsv_unescape(s, len, buf)
						 : dim_csv_unquote(s, len, buf);
		dim_scratch_unuse(&c->part->scratch, len - n);
		s = buf;
		len = n;
	}
	bool is_null = flags & DIM_FIELD_NULL;
	if (tg == 0)
		return dim_put_key_text(c->part, c->ls, c->row, s, len, is_null, err, DIM_ERR_MAX);
	return dim_put_text(c->part, c->ls, (unsigned)tg - 1, c->row, s, len, is_null, err,
			    DIM_ERR_MAX);
}

/* True if only line ends remain from p: trailing blank lines end the data. */
static bool dim_blank_tail(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p != '\n' && *p != '\r')
			return false;
	}
	return true;
}

/* One row at *pp into the part's next row; the number of fields must be the header's. */
static inline int dim_text_one_row(const struct dim_text *t, const struct dim_layout_spec *ls,
				   struct dim_part *part, const char **pp, char *err)
{
	if (dim_part_reserve(part, ls, 1) != 0) {
		snprintf(err, DIM_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	struct dim_row_ctx ctx = {t, ls, part, part->rows};
	long n = dim_text_row(t, pp, dim_row_field, &ctx, err);
	if (n >= 0 && (unsigned long)n != t->col_count) {
		snprintf(err, DIM_ERR_MAX, "expected %u columns, found %ld", t->col_count, n);
		return -EINVAL;
	}
	return n < 0 ? (int)n : 0;
}

int dim_text_parse(const struct dim_text *t, const struct dim_layout_spec *ls, size_t begin,
		   size_t end, struct dim_part *part, const struct dim_parse_ctl *ctl,
		   size_t *stop, size_t *err_pos, char *err)
{
	const char *p = t->data + begin, *last = t->data + end, *tail = t->data + t->len;
	uint64_t since = 0;
	int rc = 0;
	while (p < last) {
		/* Trailing blank lines end the data (with one column they are empty keys). */
		if ((*p == '\n' || *p == '\r') && t->col_count > 1 && dim_blank_tail(p, tail)) {
			p = last;
			break;
		}
		if (dim_parse_ctl_stop(ctl))
			break; /* an earlier chunk failed: that error is the one reported */
		const char *row = p;
		rc = dim_text_one_row(t, ls, part, &p, err);
		if (rc) {
			*err_pos = (size_t)(row - t->data);
			dim_parse_ctl_fail(ctl);
			break;
		}
		dim_part_commit(part, ls, 1);
		if (++since == DIM_PROGRESS_ROWS_STEP) {
			dim_parse_ctl_rows(ctl, since);
			since = 0;
		}
	}
	dim_parse_ctl_rows(ctl, since);
	*stop = (size_t)(p - t->data);
	return rc;
}

/* The start of the first CSV row at or after at, counting quotes from pos (even parity there). */
static size_t dim_csv_row_start(const struct dim_text *t, size_t pos, size_t at)
{
	const char *d = t->data;
	unsigned par = (unsigned)(dim_count_byte(d + pos, at - pos, '"') & 1);
	for (size_t i = at; i < t->len; i++) {
		if (d[i] == '"')
			par ^= 1;
		else if (d[i] == '\n' && !par)
			return i + 1;
	}
	return t->len;
}

/* The start of the first TSV row at or after at: after a newline no backslash escapes. */
static size_t dim_tsv_row_start(const struct dim_text *t, size_t at)
{
	const char *d = t->data;
	for (size_t i = at; i < t->len; i++) {
		const char *q = memchr(d + i, '\n', t->len - i);
		if (!q)
			break;
		i = (size_t)(q - d);
		if (!dim_tsv_escaped(d + t->body, i - t->body))
			return i + 1;
	}
	return t->len;
}

void dim_text_split(const struct dim_text *t, unsigned n, size_t *bounds)
{
	size_t span = t->len - t->body;
	size_t pos = t->body; /* CSV: quotes counted up to here, with even parity */
	bounds[0] = t->body;
	for (unsigned k = 1; k < n; k++) {
		size_t at = t->body + span / n * k + span % n * k / n;
		if (at < bounds[k - 1])
			at = bounds[k - 1];
		if (t->csv) {
			bounds[k] = dim_csv_row_start(t, pos, at < pos ? pos : at);
			pos = bounds[k];
		} else {
			bounds[k] = dim_tsv_row_start(t, at);
		}
	}
	bounds[n] = t->len;
}

double dim_text_rows_per_byte(const struct dim_text *t)
{
	if (t->len <= t->body)
		return 0;
	size_t sample = t->len - t->body < ((size_t)1 << 20) ? t->len - t->body : (size_t)1 << 20;
	uint64_t lines = dim_count_byte(t->data + t->body, sample, '\n');
	return (double)(lines + 1) / (double)sample;
}

uint64_t dim_text_line(const struct dim_text *t, size_t pos)
{
	return 1 + dim_count_byte(t->data, pos, '\n');
}

int dim_text_header(struct dim_text *t, const struct dim_spec *spec, char *err, size_t err_len,
		    uint64_t *err_line)
{
	const char *p = t->data;
	if (t->len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* UTF-8 byte order mark */
	struct dim_header_ctx *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->buf = malloc(DIM_HEADER_BYTES_MAX);
	if (!h->buf) {
		free(h);
		return -ENOMEM;
	}
	char ferr[DIM_ERR_MAX] = "";
	long n = dim_text_row(t, &p, dim_header_field, h, ferr);
	int rc = 0;
	*err_line = 1;
	if (n < 0) {
		snprintf(err, err_len, "header: %s", ferr);
		rc = (int)n;
	} else {
		t->col_count = (unsigned)n;
		t->body = (size_t)(p - t->data);
		rc = dim_match_columns(spec, h->names, (size_t)n, t->target, err, err_len);
		if (!rc)
			*err_line = 0;
	}
	free(h->buf);
	free(h);
	return rc;
}
