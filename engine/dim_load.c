/*
 * dim_load: loads a dimension table from a ClickHouse TSVWithNames, CSVWithNames or Native
 * source. The source is mapped, split at row boundaries (blocks for Native) into one chunk per
 * thread, parsed in parallel into parts (dim_impl.h), whose LowCardinality dictionaries are
 * merged in file order before dim_build() fills the table.
 */
#include "dim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "civil.h"
#include "dim_impl.h"
#include "url_norm.h"
#include "log.h"

#define DIM_SCRATCH_BLOCK_BYTES ((size_t)1 << 20)
#define DIM_PART_ROWS_MIN 1024
#define DIM_CHUNK_BYTES_MIN 4096              /* smaller chunks are not worth a thread */
#define DIM_PROGRESS_BYTES_MIN ((size_t)64 << 20) /* sources this large log their progress */
#define DIM_PROGRESS_ROWS_STEP 65536          /* rows a thread parses between progress updates */
#define DIM_ERR_MAX 200

/* Formats an error message into buf (truncating it if needed). */
__attribute__((format(printf, 3, 4))) static void dim_errf(char *buf, size_t cap, const char *fmt,
							   ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

/* ---- scratch ---- */

struct dim_scratch_block {
	struct dim_scratch_block *next;
	size_t used, cap;
	char data[];
};

char *dim_scratch_alloc(struct dim_scratch *s, size_t len)
{
	struct dim_scratch_block *b = s->head;
	if (!b || b->cap - b->used < len) {
		size_t cap = len > DIM_SCRATCH_BLOCK_BYTES ? len : DIM_SCRATCH_BLOCK_BYTES;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = s->head;
		b->used = 0;
		b->cap = cap;
		s->head = b;
		s->bytes += cap;
	}
	char *p = b->data + b->used;
	b->used += len;
	return p;
}

void dim_scratch_unuse(struct dim_scratch *s, size_t n)
{
	s->head->used -= n;
}

void dim_scratch_free(struct dim_scratch *s)
{
	struct dim_scratch_block *b = s->head;
	while (b) {
		struct dim_scratch_block *next = b->next;
		free(b);
		b = next;
	}
	s->head = NULL;
	s->bytes = 0;
}

/* ---- LowCardinality dictionaries ---- */

int dim_lc_map_init(struct dim_lc_map *m)
{
	memset(m, 0, sizeof(*m));
	m->cap = 16;
	m->slots = calloc(32, sizeof(*m->slots));
	m->vals = malloc(m->cap * sizeof(*m->vals));
	m->entries = calloc(m->cap, sizeof(*m->entries));
	if (!m->slots || !m->vals || !m->entries) {
		dim_lc_map_free(m);
		return -ENOMEM;
	}
	m->mask = 31;
	m->vals[0] = (struct dim_str){"", 0};
	m->count = 1;
	return 0;
}

void dim_lc_map_free(struct dim_lc_map *m)
{
	free(m->slots);
	free(m->vals);
	free(m->entries);
	memset(m, 0, sizeof(*m));
}

static int dim_lc_map_grow(struct dim_lc_map *m)
{
	if (m->count == m->cap) {
		if (m->cap > UINT32_MAX / 2)
			return -E2BIG;
		uint32_t cap = m->cap * 2;
		struct dim_str *vals = realloc(m->vals, cap * sizeof(*vals));
		if (!vals)
			return -ENOMEM;
		m->vals = vals;
		struct dim_lc_entry *entries = realloc(m->entries, cap * sizeof(*entries));
		if (!entries)
			return -ENOMEM;
		m->entries = entries;
		m->cap = cap;
	}
	if ((uint64_t)(m->count + 1) * 2 > (uint64_t)m->mask + 1) {
		uint64_t size = ((uint64_t)m->mask + 1) * 2;
		if (size > ((uint64_t)1 << 32))
			return -E2BIG;
		uint32_t *slots = calloc(size, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		uint32_t mask = (uint32_t)(size - 1);
		for (uint32_t c = 1; c < m->count; c++) {
			uint32_t i = (uint32_t)m->entries[c].hash & mask;
			while (slots[i])
				i = (i + 1) & mask;
			slots[i] = c;
		}
		free(m->slots);
		m->slots = slots;
		m->mask = mask;
	}
	return 0;
}

static inline uint64_t dim_load64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t dim_load32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/*
 * Two words that, with the length, identify a value of up to 16 bytes exactly (the loads
 * overlap but together cover every byte and stay inside it); for longer values a prefix and
 * suffix, which still have to be compared in full.
 */
static inline void dim_lc_words(const char *p, size_t len, uint64_t *w0, uint64_t *w1)
{
	if (len >= 8) {
		*w0 = dim_load64(p);
		*w1 = dim_load64(p + len - 8);
	} else if (len >= 4) {
		*w0 = dim_load32(p);
		*w1 = dim_load32(p + len - 4);
	} else if (len > 0) {
		*w0 = (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[len / 2] << 8 |
		      (unsigned char)p[len - 1];
		*w1 = 0;
	} else {
		*w0 = *w1 = 0;
	}
}

static inline uint64_t dim_lc_hash(const char *p, size_t len, uint64_t w0, uint64_t w1)
{
	if (len > 16)
		return dim_hash_bytes(p, len);
	uint64_t h = (w0 ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
	h ^= (w1 + len) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ULL;
	return h ^ (h >> 32);
}

int dim_lc_map_intern(struct dim_lc_map *m, const char *p, size_t len, uint32_t *code)
{
	uint64_t w0, w1;
	dim_lc_words(p, len, &w0, &w1);
	uint64_t h = dim_lc_hash(p, len, w0, w1);
	uint32_t i = (uint32_t)h & m->mask;
	for (;;) {
		uint32_t c = m->slots[i];
		if (c == 0)
			break;
		const struct dim_lc_entry *e = &m->entries[c];
		if (e->hash == h && e->w0 == w0 && e->w1 == w1 && m->vals[c].len == len &&
		    (len <= 16 || memcmp(m->vals[c].ptr, p, len) == 0)) {
			*code = c;
			return 0;
		}
		i = (i + 1) & m->mask;
	}
	if (m->count == UINT32_MAX)
		return -E2BIG;
	uint32_t old_mask = m->mask;
	int rc = dim_lc_map_grow(m);
	if (rc)
		return rc;
	if (m->mask != old_mask) {
		i = (uint32_t)h & m->mask;
		while (m->slots[i])
			i = (i + 1) & m->mask;
	}
	uint32_t c = m->count++;
	m->vals[c] = (struct dim_str){p, len};
	m->entries[c] = (struct dim_lc_entry){h, w0, w1};
	m->slots[i] = c;
	*code = c;
	return 0;
}

/* ---- parts ---- */

int dim_part_init(struct dim_part *p, const struct dim_layout_spec *ls)
{
	memset(p, 0, sizeof(*p));
	p->bucket_rows = calloc(DIM_BUCKETS, sizeof(*p->bucket_rows));
	p->bucket_bytes = calloc(DIM_BUCKETS, sizeof(*p->bucket_bytes));
	if (!p->bucket_rows || !p->bucket_bytes)
		return -ENOMEM;
	for (unsigned a = 0; a < ls->attr_count; a++) {
		if (ls->type[a] == DIM_TYPE_LC_STRING) {
			int rc = dim_lc_map_init(&p->lc[a]);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/*
 * Grows the array at *pptr (mapped with *bytes) to hold cap elements of elem bytes. The parse
 * arrays ask for transparent huge pages: a 10M-row part faults ~500 times instead of ~90,000,
 * and when the load ends it hands back whole 2 MiB pages, which the next table's build (huge
 * pages too) takes over at once.
 */
static int dim_grow(void *pptr, size_t *bytes, size_t elem, size_t cap)
{
	void **pp = pptr;
	size_t page = 4096, want = (elem * cap + page - 1) & ~(page - 1);
	if (want <= *bytes)
		return 0;
	void *q = *pp ? mremap(*pp, *bytes, want, MREMAP_MAYMOVE)
		      : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return -ENOMEM;
	(void)madvise(q, want, MADV_HUGEPAGE);
	*pp = q;
	*bytes = want;
	return 0;
}

static void dim_unmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

int dim_part_reserve(struct dim_part *p, const struct dim_layout_spec *ls, size_t n)
{
	if (p->cap - p->rows >= n)
		return 0;
	size_t cap = p->cap ? p->cap * 2 : DIM_PART_ROWS_MIN;
	if (cap < p->rows + n)
		cap = p->rows + n;
	int rc = dim_grow(&p->hash, &p->hash_bytes, sizeof(*p->hash), cap);
	if (!rc && ls->key_type == DIM_TYPE_UINT64)
		rc = dim_grow(&p->key_u64, &p->key_bytes, sizeof(*p->key_u64), cap);
	if (!rc && ls->key_type == DIM_TYPE_STRING)
		rc = dim_grow(&p->key_str, &p->key_bytes, sizeof(*p->key_str), cap);
	for (unsigned a = 0; !rc && a < ls->attr_count; a++) {
		size_t *bytes = &p->val_bytes[a];
		switch (ls->type[a]) {
		case DIM_TYPE_LC_STRING:
			rc = dim_grow(&p->val[a].code, bytes, sizeof(*p->val[a].code), cap);
			break;
		case DIM_TYPE_STRING:
			rc = dim_grow(&p->val[a].str, bytes, sizeof(*p->val[a].str), cap);
			break;
		default:
			rc = dim_grow(&p->val[a].num, bytes, sizeof(*p->val[a].num), cap);
			if (!rc && ls->nullable[a])
				rc = dim_grow(&p->null[a], &p->null_bytes[a], sizeof(*p->null[a]),
					      cap);
			break;
		}
	}
	if (rc)
		return rc;
	p->cap = cap;
	return 0;
}

void dim_part_commit(struct dim_part *p, const struct dim_layout_spec *ls, size_t n)
{
	for (size_t r = p->rows; r < p->rows + n; r++) {
		unsigned s = dim_bucket_of(p->hash[r]);
		uint64_t bytes = 0;
		if (ls->key_type == DIM_TYPE_STRING)
			bytes += dim_varint_len(p->key_str[r].len) + p->key_str[r].len;
		for (unsigned a = 0; a < ls->attr_count; a++) {
			if (ls->type[a] == DIM_TYPE_STRING && p->val[a].str[r].ptr)
				bytes += dim_varint_len(p->val[a].str[r].len) + p->val[a].str[r].len;
		}
		p->bucket_rows[s]++;
		p->bucket_bytes[s] += bytes;
	}
	p->rows += n;
}

void dim_part_free(struct dim_part *p, const struct dim_layout_spec *ls)
{
	dim_unmap(p->hash, p->hash_bytes);
	dim_unmap(p->key_u64 ? (void *)p->key_u64 : (void *)p->key_str, p->key_bytes);
	for (unsigned a = 0; a < ls->attr_count; a++) {
		switch (ls->type[a]) {
		case DIM_TYPE_LC_STRING:
			dim_unmap(p->val[a].code, p->val_bytes[a]);
			break;
		case DIM_TYPE_STRING:
			dim_unmap(p->val[a].str, p->val_bytes[a]);
			break;
		default:
			dim_unmap(p->val[a].num, p->val_bytes[a]);
			break;
		}
		dim_unmap(p->null[a], p->null_bytes[a]);
		free(p->remap[a]);
		dim_lc_map_free(&p->lc[a]);
	}
	dim_scratch_free(&p->scratch);
	free(p->bucket_rows);
	free(p->bucket_bytes);
	memset(p, 0, sizeof(*p));
}

/* ---- value parsing ---- */

/* Writes a printable, bounded copy of a value for error messages. */
static void dim_quote(char *out, size_t cap, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 40) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static bool dim_parse_uint(const char *s, size_t len, uint64_t *out)
{
	size_t i = 0;
	if (len && s[0] == '+')
		i = 1;
	if (i == len)
		return false;
	uint64_t v = 0;
	for (; i < len; i++) {
		unsigned c = (unsigned)(unsigned char)s[i] - '0';
		if (c > 9 || v > (UINT64_MAX - c) / 10)
			return false;
		v = v * 10 + c;
	}
	*out = v;
	return true;
}

/* Parses a signed decimal into *mag and *neg (magnitude up to 2^63). */
static bool dim_parse_int(const char *s, size_t len, uint64_t *mag, bool *neg)
{
	*neg = len && s[0] == '-';
	if (*neg) {
		s++;
		len--;
		if (len && s[0] == '+')
			return false;
	}
	if (!dim_parse_uint(s, len, mag))
		return false;
	return *mag <= (*neg ? (uint64_t)1 << 63 : (uint64_t)INT64_MAX);
}

static bool dim_parse_f64(const char *s, size_t len, double *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof(buf) || s[0] == ' ' || s[0] == '\t')
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	*out = strtod(buf, &end);
	return end == buf + len;
}

static bool dim_digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned)(unsigned char)s[i] - '0';
		if (c > 9)
			return false;
		v = v * 10 + c;
	}
	*out = v;
	return true;
}

/* "YYYY-MM-DD" -> days since 1970-01-01 (any valid calendar date). */
static bool dim_parse_date(const char *s, size_t len, int64_t *days)
{
	unsigned y, m, d;
	if (len != 10 || s[4] != '-' || s[7] != '-' || !dim_digits(s, 4, &y) ||
	    !dim_digits(s + 5, 2, &m) || !dim_digits(s + 8, 2, &d))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > civil_days_in_month(y, m))
		return false;
	*days = civil_days_from_date(y, m, d);
	return true;
}

/* "YYYY-MM-DD hh:mm:ss" (UTC), "YYYY-MM-DD" or decimal seconds -> seconds since the epoch. */
static bool dim_parse_datetime(const char *s, size_t len, int64_t *secs)
{
	uint64_t u;
	if (len != 10 && dim_parse_uint(s, len, &u)) {
		if (u > INT64_MAX)
			return false;
		*secs = (int64_t)u;
		return true;
	}
	int64_t days;
	if (len < 10 || !dim_parse_date(s, 10, &days))
		return false;
	if (len == 10) {
		*secs = days * 86400;
		return true;
	}
	unsigned hh, mm, ss;
	if (len != 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' ||
	    !dim_digits(s + 11, 2, &hh) || !dim_digits(s + 14, 2, &mm) ||
	    !dim_digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
		return false;
	*secs = days * 86400 + hh * 3600 + mm * 60 + ss;
	return true;
}

/* ---- storing values into a part ---- */

static const char *dim_ls_name(const struct dim_layout_spec *ls, unsigned a)
{
	return ls->name[a] ? ls->name[a] : "?";
}

static int dim_put_num(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a,
		       size_t row, uint64_t bits)
{
	p->val[a].num[row] = bits;
	if (ls->nullable[a])
		p->null[a][row] = 0;
	return 0;
}

static int dim_put_str(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a,
		       size_t row, const char *s, size_t len, char *err, size_t err_len)
{
	if (len > DIM_STR_LEN_MAX) {
		snprintf(err, err_len, "column '%s': value of %zu bytes exceeds %zu", dim_ls_name(ls, a),
			 len, DIM_STR_LEN_MAX);
		return -EINVAL;
	}
	if (ls->type[a] == DIM_TYPE_STRING) {
		p->val[a].str[row] = (struct dim_str){s, len};
		return 0;
	}
	int rc = dim_lc_map_intern(&p->lc[a], s, len, &p->val[a].code[row]);
	if (rc)
		snprintf(err, err_len, "column '%s': dictionary too large", dim_ls_name(ls, a));
	return rc;
}

/* A decimal copy of v in the part's scratch (for numbers loaded into String columns). */
static const char *dim_format_num(struct dim_part *p, bool neg, uint64_t mag, size_t *len)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%s%" PRIu64, neg ? "-" : "", mag);
	char *s = dim_scratch_alloc(&p->scratch, (size_t)n);
	if (s)
		memcpy(s, buf, (size_t)n);
	*len = (size_t)n;
	return s;
}

int dim_put_null(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		 char *err, size_t err_len)
{
	switch (ls->type[a]) {
	case DIM_TYPE_STRING:
		p->val[a].str[row] = ls->nullable[a] ? (struct dim_str){NULL, 0}
						      : (struct dim_str){"", 0};
		return 0;
	case DIM_TYPE_LC_STRING:
		if (ls->nullable[a]) {
			p->val[a].code[row] = 0;
			return 0;
		}
		return dim_put_str(p, ls, a, row, "", 0, err, err_len);
	default:
		p->val[a].num[row] = 0;
		if (ls->nullable[a])
			p->null[a][row] = 1;
		return 0;
	}
}

/* Range of integer types as [min, max] in a signed/unsigned pair. */
static bool dim_int_fits(enum dim_type t, bool neg, uint64_t mag)
{
	switch (t) {
	case DIM_TYPE_UINT8:
		return !neg && mag <= UINT8_MAX;
	case DIM_TYPE_UINT16:
		return !neg && mag <= UINT16_MAX;
	case DIM_TYPE_UINT32:
		return !neg && mag <= UINT32_MAX;
	case DIM_TYPE_UINT64:
		return !neg;
	case DIM_TYPE_INT8:
		return mag <= (neg ? 128u : 127u);
	case DIM_TYPE_INT16:
		return mag <= (neg ? 32768u : 32767u);
	case DIM_TYPE_INT32:
		return mag <= (neg ? (uint64_t)1 << 31 : (uint64_t)INT32_MAX);
	case DIM_TYPE_INT64:
		return mag <= (neg ? (uint64_t)1 << 63 : (uint64_t)INT64_MAX);
	case DIM_TYPE_DATE:
		return !neg && mag <= UINT16_MAX;
	case DIM_TYPE_DATETIME:
		return !neg && mag <= UINT32_MAX;
	default:
		return false;
	}
}

/* Stores an integer (sign and magnitude) into an integer, Date, DateTime or Float64 column. */
static int dim_put_int(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a,
		       size_t row, bool neg, uint64_t mag, char *err, size_t err_len)
{
	enum dim_type t = ls->type[a];
	if (t == DIM_TYPE_FLOAT64) {
		double v = neg ? -(double)mag : (double)mag;
		uint64_t bits;
		memcpy(&bits, &v, sizeof(bits));
		return dim_put_num(p, ls, a, row, bits);
	}
	if (t == DIM_TYPE_STRING || t == DIM_TYPE_LC_STRING) {
		size_t len;
		const char *s = dim_format_num(p, neg, mag, &len);
		return s ? dim_put_str(p, ls, a, row, s, len, err, err_len) : -ENOMEM;
	}
	if (!dim_int_fits(t, neg, mag)) {
		snprintf(err, err_len, "column '%s': %s%" PRIu64 " is out of range for %s",
			 dim_ls_name(ls, a), neg ? "-" : "", mag, dim_type_name(t));
		return -EINVAL;
	}
	return dim_put_num(p, ls, a, row, neg ? (uint64_t)0 - mag : mag);
}

int dim_put_u64(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		uint64_t v, char *err, size_t err_len)
{
	return dim_put_int(p, ls, a, row, false, v, err, err_len);
}

int dim_put_i64(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		int64_t v, char *err, size_t err_len)
{
	bool neg = v < 0;
	uint64_t mag = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	return dim_put_int(p, ls, a, row, neg, mag, err, err_len);
}

int dim_put_f64(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		double v, char *err, size_t err_len)
{
	enum dim_type t = ls->type[a];
	if (t == DIM_TYPE_FLOAT64) {
		uint64_t bits;
		memcpy(&bits, &v, sizeof(bits));
		return dim_put_num(p, ls, a, row, bits);
	}
	if (t == DIM_TYPE_STRING || t == DIM_TYPE_LC_STRING) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%.17g", v);
		char *s = dim_scratch_alloc(&p->scratch, (size_t)n);
		if (!s)
			return -ENOMEM;
		memcpy(s, buf, (size_t)n);
		return dim_put_str(p, ls, a, row, s, (size_t)n, err, err_len);
	}
	snprintf(err, err_len, "column '%s': a floating-point value cannot be stored as %s",
		 dim_ls_name(ls, a), dim_type_name(t));
	return -EINVAL;
}

int dim_put_text(struct dim_part *p, const struct dim_layout_spec *ls, unsigned a, size_t row,
		 const char *s, size_t len, bool is_null, char *err, size_t err_len)
{
	enum dim_type t = ls->type[a];
	if (is_null)
		return dim_put_null(p, ls, a, row, err, err_len);
	if (t == DIM_TYPE_STRING || t == DIM_TYPE_LC_STRING)
		return dim_put_str(p, ls, a, row, s, len, err, err_len);
	if (len == 0) /* as ClickHouse: an empty number is its default */
		return dim_put_null(p, ls, a, row, err, err_len);
	bool ok, neg = false;
	uint64_t mag = 0;
	int64_t v;
	switch (t) {
	case DIM_TYPE_FLOAT64: {
		double f;
		ok = dim_parse_f64(s, len, &f);
		if (ok)
			return dim_put_f64(p, ls, a, row, f, err, err_len);
		break;
	}
	case DIM_TYPE_DATE:
	case DIM_TYPE_DATETIME:
		ok = t == DIM_TYPE_DATE ? dim_parse_date(s, len, &v) : dim_parse_datetime(s, len, &v);
		if (ok) {
			neg = v < 0;
			mag = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		}
		break;
	case DIM_TYPE_UINT8:
	case DIM_TYPE_UINT16:
	case DIM_TYPE_UINT32:
	case DIM_TYPE_UINT64:
		ok = dim_parse_uint(s, len, &mag);
		if (!ok && len > 0 && s[0] == '-')
			ok = dim_parse_int(s, len, &mag, &neg); /* reported as out of range */
		break;
	default:
		ok = dim_parse_int(s, len, &mag, &neg);
		break;
	}
	if (!ok || !dim_int_fits(t, neg, mag)) {
		char q[64];
		dim_quote(q, sizeof(q), s, len);
		if (ok)
			snprintf(err, err_len, "column '%s': '%s' is out of range for %s",
				 dim_ls_name(ls, a), q, dim_type_name(t));
		else
			snprintf(err, err_len, "column '%s': cannot parse '%s' as %s",
				 dim_ls_name(ls, a), q, dim_type_name(t));
		return -EINVAL;
	}
	return dim_put_int(p, ls, a, row, neg, mag, err, err_len);
}

int dim_put_key_text(struct dim_part *p, const struct dim_layout_spec *ls, size_t row,
		     const char *s, size_t len, bool is_null, char *err, size_t err_len)
{
	if (is_null) {
		snprintf(err, err_len, "key column '%s' is NULL", ls->key_name);
		return -EINVAL;
	}
	if (ls->key_type == DIM_TYPE_UINT64) {
		uint64_t v;
		if (!dim_parse_uint(s, len, &v)) {
			char q[64];
			dim_quote(q, sizeof(q), s, len);
			snprintf(err, err_len, "key column '%s': cannot parse '%s' as UInt64",
				 ls->key_name, q);
			return -EINVAL;
		}
		return dim_put_key_u64(p, ls, row, v, err, err_len);
	}
	if (len > DIM_STR_LEN_MAX) {
		snprintf(err, err_len, "key column '%s': key of %zu bytes exceeds %zu", ls->key_name,
			 len, DIM_STR_LEN_MAX);
		return -EINVAL;
	}
	if (ls->key_strip_query) {
		/* URL keys are looked up normalised, so they are stored normalised. */
		char *norm = dim_scratch_alloc(&p->scratch, len ? len : 1);
		if (!norm)
			return -ENOMEM;
		size_t norm_len = url_norm_strip_query(s, len, norm, len);
		dim_scratch_unuse(&p->scratch, len - norm_len);
		s = norm;
		len = norm_len;
	}
	p->key_str[row] = (struct dim_str){s, len};
	p->hash[row] = dim_hash_bytes(s, len);
	return 0;
}

int dim_put_key_u64(struct dim_part *p, const struct dim_layout_spec *ls, size_t row, uint64_t v,
		    char *err, size_t err_len)
{
	(void)err;
	(void)err_len;
	if (ls->key_type == DIM_TYPE_UINT64) {
		p->key_u64[row] = v;
		p->hash[row] = dim_hash_key_u64(v);
		return 0;
	}
	size_t len;
	const char *s = dim_format_num(p, false, v, &len);
	if (!s)
		return -ENOMEM;
	p->key_str[row] = (struct dim_str){s, len};
	p->hash[row] = dim_hash_bytes(s, len);
	return 0;
}

/* ---- names ---- */

static const struct {
	enum dim_type type;
	const char *name;
} dim_type_names[] = {
	{DIM_TYPE_STRING, "String"},     {DIM_TYPE_LC_STRING, "LowCardinality(String)"},
	{DIM_TYPE_UINT8, "UInt8"},       {DIM_TYPE_UINT16, "UInt16"},
	{DIM_TYPE_UINT32, "UInt32"},     {DIM_TYPE_UINT64, "UInt64"},
	{DIM_TYPE_INT8, "Int8"},         {DIM_TYPE_INT16, "Int16"},
	{DIM_TYPE_INT32, "Int32"},       {DIM_TYPE_INT64, "Int64"},
	{DIM_TYPE_FLOAT64, "Float64"},   {DIM_TYPE_DATE, "Date"},
	{DIM_TYPE_DATETIME, "DateTime"},
};

const char *dim_type_name(enum dim_type type)
{
	for (size_t i = 0; i < sizeof(dim_type_names) / sizeof(dim_type_names[0]); i++) {
		if (dim_type_names[i].type == type)
			return dim_type_names[i].name;
	}
	return "?";
}

/* If s is "<prefix>(<inner>)", points *inner and *inner_len at inner. */
static bool dim_unwrap(const char *s, size_t len, const char *prefix, const char **inner,
		       size_t *inner_len)
{
	size_t n = strlen(prefix);
	if (len < n + 2 || memcmp(s, prefix, n) != 0 || s[n] != '(' || s[len - 1] != ')')
		return false;
	*inner = s + n + 1;
	*inner_len = len - n - 2;
	return true;
}

static bool dim_type_lookup(const char *s, size_t len, enum dim_type *type)
{
	for (size_t i = 0; i < sizeof(dim_type_names) / sizeof(dim_type_names[0]); i++) {
		const char *name = dim_type_names[i].name;
		if (dim_type_names[i].type != DIM_TYPE_LC_STRING && strlen(name) == len &&
		    memcmp(name, s, len) == 0) {
			*type = dim_type_names[i].type;
			return true;
		}
	}
	return false;
}

int dim_type_parse(const char *name, enum dim_type *type, bool *nullable)
{
	const char *s = name, *in;
	size_t len = strlen(name), in_len;
	bool lc = false, null = false;
	if (dim_unwrap(s, len, "LowCardinality", &in, &in_len)) {
		lc = true;
		s = in;
		len = in_len;
	}
	if (dim_unwrap(s, len, "Nullable", &in, &in_len)) {
		null = true;
		s = in;
		len = in_len;
	}
	enum dim_type t;
	if (!dim_type_lookup(s, len, &t))
		return -EINVAL;
	if (lc) {
		if (t != DIM_TYPE_STRING)
			return -EINVAL;
		t = DIM_TYPE_LC_STRING;
	}
	*type = t;
	*nullable = null;
	return 0;
}

static const char *const dim_format_names[] = {"auto", "tsv", "csv", "native"};

int dim_format_parse(const char *name, enum dim_format *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, dim_format_names[i]) == 0) {
			*out = (enum dim_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *dim_format_name(enum dim_format format)
{
	return (unsigned)format < 4 ? dim_format_names[format] : "?";
}

/* ---- columns ---- */

int dim_match_columns(const struct dim_spec *spec, const struct dim_str *names, size_t n,
		      int16_t *target, char *err, size_t err_len)
{
	for (size_t i = 0; i < n; i++)
		target[i] = -1;
	for (unsigned c = 0; c <= spec->attr_count; c++) {
		const char *want = c == 0 ? spec->key_column : spec->attrs[c - 1].column;
		size_t want_len = strlen(want);
		size_t i = 0;
		while (i < n && !(names[i].len == want_len && memcmp(names[i].ptr, want, want_len) == 0))
			i++;
		if (i == n) {
			snprintf(err, err_len, "%scolumn '%s' is not in the source", c ? "" : "key ",
				 want);
			return -EINVAL;
		}
		target[i] = (int16_t)c;
	}
	return 0;
}

/* ---- text sources: TSVWithNames, CSVWithNames ---- */

/* Field flags from the scanners. */
#define DIM_FIELD_NULL 1u   /* the raw field is \N */
#define DIM_FIELD_ESC 2u    /* TSV: holds backslash escapes */
#define DIM_FIELD_DQUOTE 4u /* CSV: a quoted field holding "" */

struct dim_chunk;

struct dim_loader {
	const struct dim_spec *spec;
	struct dim_layout_spec ls;
	const char *name; /* of the dimension, for messages */
	const char *path; /* names the source in messages */
	const char *data;
	size_t len;
	bool mapped;
	enum dim_format format;
	size_t body; /* text: offset of the first data row */
	unsigned col_count;
	int16_t target[DIM_SOURCE_COLUMNS_MAX];
	struct dim_native_source native;
	bool progress;           /* log progress while parsing */
	struct timespec started; /* of the load */
	unsigned chunk_count;
	struct dim_chunk *chunks;
	struct dim_part *parts;
	_Atomic unsigned first_failed; /* lowest failed chunk, or chunk_count */
	_Atomic uint64_t progress_rows;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned done;
};

struct dim_chunk {
	struct dim_loader *L;
	unsigned index;
	size_t begin, end; /* text: bytes whose rows start here; Native: blocks */
	size_t stop;       /* text: end of the last row parsed */
	size_t rows_hint;  /* rows expected, to size the part's arrays once */
	int rc;
	size_t err_pos;     /* text: offset of the failing row */
	uint64_t err_block; /* Native: 1-based block of the failure */
	char err[DIM_ERR_MAX];
	pthread_t thread;
};

static double dim_elapsed(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

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

/*
 * Scans one TSV row at *pp (< end), calling fn for each field; *pp ends after the row's
 * newline (or at end). Returns the number of fields, or a negative errno from fn.
 */
static inline long dim_tsv_row(const char **pp, const char *end, dim_field_fn fn, void *ctx,
			       char *err)
{
	const char *p = *pp;
	unsigned f = 0;
	for (;;) {
		const char *s = p;
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
		if (len == 2 && s[0] == '\\' && s[1] == 'N')
			flags = DIM_FIELD_NULL;
		int rc = fn(ctx, f, s, len, flags, err);
		if (rc)
			return rc;
		f++;
		if (p == end || *p++ == '\n')
			break;
	}
	*pp = p;
	return f;
}

/* Scans one CSV row (RFC 4180 with ClickHouse's trimming of unquoted values), as dim_tsv_row. */
static inline long dim_csv_row(const char **pp, const char *end, dim_field_fn fn, void *ctx,
			       char *err)
{
	const char *p = *pp;
	unsigned f = 0;
	for (;;) {
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
			while (p < end && (*p == ' ' || *p == '\t' ||
					   (*p == '\r' && (p + 1 == end || p[1] == '\n'))))
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
			if (len == 2 && s[0] == '\\' && s[1] == 'N')
				flags = DIM_FIELD_NULL;
		}
		int rc = fn(ctx, f, s, len, flags, err);
		if (rc)
			return rc;
		f++;
		if (p == end || *p++ == '\n')
			break;
	}
	*pp = p;
	return f;
}

static inline long dim_text_row(const struct dim_loader *L, const char **pp, dim_field_fn fn,
				void *ctx, char *err)
{
	const char *end = L->data + L->len;
	return L->format == DIM_FORMAT_CSV ? dim_csv_row(pp, end, fn, ctx, err)
					   : dim_tsv_row(pp, end, fn, ctx, err);
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
	const struct dim_loader *L;
	struct dim_part *part;
	size_t row;
};

static int dim_row_field(void *arg, unsigned field, const char *s, size_t len, unsigned flags,
			 char *err)
{
	struct dim_row_ctx *c = arg;
	const struct dim_loader *L = c->L;
	if (field >= L->col_count) {
		snprintf(err, DIM_ERR_MAX, "more than the header's %u columns", L->col_count);
		return -EINVAL;
	}
	int tg = L->target[field];
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
		return dim_put_key_text(c->part, &L->ls, c->row, s, len, is_null, err, DIM_ERR_MAX);
	return dim_put_text(c->part, &L->ls, (unsigned)tg - 1, c->row, s, len, is_null, err,
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

static void dim_mark_failed(struct dim_loader *L, unsigned index)
{
	unsigned cur = atomic_load(&L->first_failed);
	while (index < cur && !atomic_compare_exchange_weak(&L->first_failed, &cur, index))
		;
}

/* Parses the rows starting in [begin, end) of a text source into the chunk's part. */
static void dim_text_chunk(struct dim_chunk *c)
{
	struct dim_loader *L = c->L;
	struct dim_part *part = &L->parts[c->index];
	const char *p = L->data + c->begin, *end = L->data + c->end, *stop = L->data + L->len;
	uint64_t since = 0;
	if (c->rows_hint && dim_part_reserve(part, &L->ls, c->rows_hint) != 0)
		c->rows_hint = 0; /* grow as needed instead */
	while (p < end) {
		/* Trailing blank lines end the data (with one column they are empty keys). */
		if ((*p == '\n' || *p == '\r') && L->col_count > 1 && dim_blank_tail(p, stop)) {
			p = end;
			break;
		}
		if (atomic_load_explicit(&L->first_failed, memory_order_relaxed) < c->index)
			break; /* an earlier chunk failed: that error is the one reported */
		const char *row = p;
		c->rc = dim_part_reserve(part, &L->ls, 1);
		if (c->rc) {
			snprintf(c->err, sizeof(c->err), "out of memory");
		} else {
			struct dim_row_ctx ctx = {L, part, part->rows};
			long n = dim_text_row(L, &p, dim_row_field, &ctx, c->err);
			if (n >= 0 && (unsigned long)n != L->col_count) {
				snprintf(c->err, sizeof(c->err), "expected %u columns, found %ld",
					 L->col_count, n);
				n = -EINVAL;
			}
			c->rc = n < 0 ? (int)n : 0;
		}
		if (c->rc) {
			c->err_pos = (size_t)(row - L->data);
			dim_mark_failed(L, c->index);
			break;
		}
		dim_part_commit(part, &L->ls, 1);
		if (++since == DIM_PROGRESS_ROWS_STEP) {
			atomic_fetch_add_explicit(&L->progress_rows, since, memory_order_relaxed);
			since = 0;
		}
	}
	atomic_fetch_add_explicit(&L->progress_rows, since, memory_order_relaxed);
	c->stop = (size_t)(p - L->data);
}

/*
 * Chunk boundaries for n chunks of the data rows: each one starts a row. TSV rows end at an
 * unescaped newline; CSV rows at a newline outside quotes, found from the parity of the quotes
 * before it (a "" escape counts twice). A stray quote in an unquoted CSV value misleads the
 * parity; the parse then disagrees with the split and dim_load parses again in one piece.
 */
static void dim_text_split(const struct dim_loader *L, unsigned n, size_t *bounds)
{
	const char *d = L->data;
	size_t span = L->len - L->body;
	size_t pos = L->body; /* CSV: quotes counted up to here, with even parity */
	bounds[0] = L->body;
	for (unsigned k = 1; k < n; k++) {
		size_t t = L->body + span / n * k + span % n * k / n;
		if (t < bounds[k - 1])
			t = bounds[k - 1];
		size_t b = L->len;
		if (L->format == DIM_FORMAT_CSV) {
			if (t < pos)
				t = pos;
			unsigned par = (unsigned)(dim_count_byte(d + pos, t - pos, '"') & 1);
			for (size_t i = t; i < L->len; i++) {
				if (d[i] == '"')
					par ^= 1;
				else if (d[i] == '\n' && !par) {
					b = i + 1;
					break;
				}
			}
			pos = b;
		} else {
			for (size_t i = t; i < L->len; i++) {
				const char *q = memchr(d + i, '\n', L->len - i);
				if (!q)
					break;
				i = (size_t)(q - d);
				if (!dim_tsv_escaped(d + L->body, i - L->body)) {
					b = i + 1;
					break;
				}
			}
		}
		bounds[k] = b;
	}
	bounds[n] = L->len;
}

/* Reads the header row and matches the configured columns. */
static int dim_text_header(struct dim_loader *L, char *err, size_t err_len, uint64_t *err_line)
{
	const char *p = L->data;
	if (L->len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
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
	long n = dim_text_row(L, &p, dim_header_field, h, ferr);
	int rc = 0;
	*err_line = 1;
	if (n < 0) {
		snprintf(err, err_len, "header: %s", ferr);
		rc = (int)n;
	} else {
		L->col_count = (unsigned)n;
		L->body = (size_t)(p - L->data);
		rc = dim_match_columns(L->spec, h->names, (size_t)n, L->target, err, err_len);
		if (!rc)
			*err_line = 0;
	}
	free(h->buf);
	free(h);
	return rc;
}

/* ---- load orchestration ---- */

static void dim_native_chunk(struct dim_chunk *c)
{
	struct dim_loader *L = c->L;
	struct dim_part *part = &L->parts[c->index];
	if (c->rows_hint && dim_part_reserve(part, &L->ls, c->rows_hint) != 0)
		c->rows_hint = 0;
	c->rc = dim_native_parse(&L->native, &L->ls, c->begin, c->end, part, c->err, sizeof(c->err),
				 &c->err_block);
	if (c->rc)
		dim_mark_failed(L, c->index);
	atomic_fetch_add_explicit(&L->progress_rows, part->rows, memory_order_relaxed);
}

static void *dim_chunk_thread(void *arg)
{
	struct dim_chunk *c = arg;
	struct dim_loader *L = c->L;
	if (L->format == DIM_FORMAT_NATIVE)
		dim_native_chunk(c);
	else
		dim_text_chunk(c);
	pthread_mutex_lock(&L->mu);
	L->done++;
	pthread_cond_signal(&L->cv);
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

/* Runs every chunk on its own thread, logging progress each second on large sources. */
static void dim_run_chunks(struct dim_loader *L)
{
	bool started[DIM_THREADS_MAX] = {false};
	L->done = 0;
	atomic_store(&L->progress_rows, 0);
	atomic_store(&L->first_failed, L->chunk_count);
	unsigned running = 0;
	for (unsigned i = 0; i < L->chunk_count; i++) {
		started[i] = pthread_create(&L->chunks[i].thread, NULL, dim_chunk_thread,
					    &L->chunks[i]) == 0;
		running += started[i];
	}
	pthread_mutex_lock(&L->mu);
	while (L->done < running) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		int rc = pthread_cond_timedwait(&L->cv, &L->mu, &until);
		if (rc == ETIMEDOUT && L->progress) {
			uint64_t rows = atomic_load_explicit(&L->progress_rows, memory_order_relaxed);
			double secs = dim_elapsed(&L->started);
			log_info("dim", "%s: %" PRIu64 " rows parsed (%.2fM rows/s)", L->name,
				 rows, secs > 0 ? (double)rows / secs / 1e6 : 0.0);
		}
	}
	pthread_mutex_unlock(&L->mu);
	/* A chunk whose thread could not start is parsed here. */
	for (unsigned i = 0; i < L->chunk_count; i++) {
		if (started[i])
			pthread_join(L->chunks[i].thread, NULL);
		else
			dim_chunk_thread(&L->chunks[i]);
	}
}

static void dim_free_parts(struct dim_loader *L, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dim_part_free(&L->parts[i], &L->ls);
}

static int dim_init_parts(struct dim_loader *L, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = dim_part_init(&L->parts[i], &L->ls);
		if (rc) {
			dim_free_parts(L, i + 1);
			return rc;
		}
	}
	return 0;
}

/* Sets up n chunks over the source: byte ranges (text) or block ranges balanced by rows. */
static void dim_plan_chunks(struct dim_loader *L, unsigned n)
{
	size_t bounds[DIM_THREADS_MAX + 1];
	if (L->format == DIM_FORMAT_NATIVE) {
		const struct dim_native_source *src = &L->native;
		size_t b = 0, seen = 0;
		bounds[0] = 0;
		for (unsigned k = 1; k < n; k++) {
			size_t want = src->rows / n * k + src->rows % n * k / n;
			while (b < src->block_count && seen + src->blocks[b].rows <= want)
				seen += src->blocks[b++].rows;
			bounds[k] = b;
		}
		bounds[n] = src->block_count;
	} else {
		dim_text_split(L, n, bounds);
	}
	/* Text: rows per byte from the first MiB of rows (a generous guess costs only address
	 * space: the arrays' pages are touched as rows arrive). */
	double rows_per_byte = 0;
	if (L->format != DIM_FORMAT_NATIVE && L->len > L->body) {
		size_t sample = L->len - L->body < ((size_t)1 << 20) ? L->len - L->body
								     : (size_t)1 << 20;
		uint64_t lines = dim_count_byte(L->data + L->body, sample, '\n');
		rows_per_byte = (double)(lines + 1) / (double)sample;
	}
	L->chunk_count = n;
	for (unsigned i = 0; i < n; i++) {
		struct dim_chunk *c = &L->chunks[i];
		*c = (struct dim_chunk){.L = L, .index = i, .begin = bounds[i], .end = bounds[i + 1]};
		if (L->format == DIM_FORMAT_NATIVE) {
			for (size_t b = c->begin; b < c->end; b++)
				c->rows_hint += L->native.blocks[b].rows;
		} else {
			c->rows_hint = (size_t)((double)(c->end - c->begin) * rows_per_byte * 1.1) + 64;
		}
	}
}

/*
 * Parses the source into n parts. On failure writes "path:line: reason" to err (the first
 * failing row in file order) and sets *err_line. Returns 0 or -errno.
 */
static int dim_parse(struct dim_loader *L, unsigned n, char *err, size_t err_len,
		     uint64_t *err_line)
{
	int rc = dim_init_parts(L, n);
	if (rc)
		return rc;
	dim_plan_chunks(L, n);
	dim_run_chunks(L);
	unsigned failed = atomic_load(&L->first_failed);
	if (L->format != DIM_FORMAT_NATIVE) {
		/* Each chunk before the first failure must end where the next one starts. */
		for (unsigned i = 0; i + 1 < n && i < failed; i++) {
			if (L->chunks[i].stop == L->chunks[i + 1].begin)
				continue;
			log_warn("dim", "%s: quotes in %s do not split evenly; parsing in one piece",
				 L->name, L->path);
			dim_free_parts(L, n);
			return dim_parse(L, 1, err, err_len, err_line);
		}
	}
	if (failed == n)
		return 0;
	const struct dim_chunk *c = &L->chunks[failed];
	if (L->format == DIM_FORMAT_NATIVE) {
		*err_line = c->err_block;
		snprintf(err, err_len, "%s: block %" PRIu64 ": %s", L->path, c->err_block, c->err);
	} else {
		*err_line = 1 + dim_count_byte(L->data, c->err_pos, '\n');
		snprintf(err, err_len, "%s:%" PRIu64 ": %s", L->path, *err_line, c->err);
	}
	return c->rc;
}

/* Merges the parts' dictionaries in part order and fills their remaps. */
static int dim_merge_dicts(struct dim_loader *L, struct dim_lc_map *dicts, char *err,
			   size_t err_len)
{
	for (unsigned a = 0; a < L->ls.attr_count; a++) {
		if (L->ls.type[a] != DIM_TYPE_LC_STRING)
			continue;
		int rc = dim_lc_map_init(&dicts[a]);
		if (rc)
			return rc;
		for (unsigned i = 0; i < L->chunk_count; i++) {
			struct dim_part *p = &L->parts[i];
			const struct dim_lc_map *m = &p->lc[a];
			p->remap[a] = malloc(m->count * sizeof(*p->remap[a]));
			if (!p->remap[a])
				return -ENOMEM;
			p->remap[a][0] = 0;
			for (uint32_t c = 1; c < m->count; c++) {
				rc = dim_lc_map_intern(&dicts[a], m->vals[c].ptr, m->vals[c].len,
						       &p->remap[a][c]);
				if (rc) {
					snprintf(err, err_len, "column '%s': dictionary too large",
						 L->ls.name[a]);
					return rc;
				}
			}
		}
	}
	return 0;
}

static int dim_check_name(const char *what, const char *name, char *err, size_t err_len)
{
	if (!name || !name[0] || strlen(name) >= DIM_NAME_MAX) {
		snprintf(err, err_len, "%s name is missing or longer than %d bytes", what,
			 DIM_NAME_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static int dim_check_spec(const struct dim_spec *spec, struct dim_layout_spec *ls, char *err,
			  size_t err_len)
{
	int rc = dim_check_name("key column", spec->key_column, err, err_len);
	if (rc)
		return rc;
	if (spec->key_type != DIM_TYPE_UINT64 && spec->key_type != DIM_TYPE_STRING) {
		snprintf(err, err_len, "key type must be UInt64 or String");
		return -EINVAL;
	}
	if (spec->attr_count > DIM_ATTR_MAX || (spec->attr_count && !spec->attrs)) {
		snprintf(err, err_len, "%u attributes: at most %d", spec->attr_count, DIM_ATTR_MAX);
		return -EINVAL;
	}
	if (spec->load_factor_pct && (spec->load_factor_pct < 50 || spec->load_factor_pct > 90)) {
		snprintf(err, err_len, "load factor %u%% is outside 50..90", spec->load_factor_pct);
		return -EINVAL;
	}
	if (!spec->data && !spec->path) {
		snprintf(err, err_len, "no source: neither a path nor data");
		return -EINVAL;
	}
	if ((unsigned)spec->huge_mode > HUGE_MODE_4K || (unsigned)spec->format > DIM_FORMAT_NATIVE) {
		snprintf(err, err_len, "unknown page mode or format");
		return -EINVAL;
	}
	memset(ls, 0, sizeof(*ls));
	ls->key_name = spec->key_column;
	ls->key_type = spec->key_type;
	ls->key_strip_query = spec->key_strip_query && spec->key_type == DIM_TYPE_STRING;
	ls->attr_count = spec->attr_count;
	for (unsigned a = 0; a < spec->attr_count; a++) {
		const struct dim_attr_spec *as = &spec->attrs[a];
		rc = dim_check_name("attribute", as->column, err, err_len);
		if (rc)
			return rc;
		if (as->type <= DIM_TYPE_NONE || as->type > DIM_TYPE_DATETIME) {
			snprintf(err, err_len, "attribute '%s' has no valid type", as->column);
			return -EINVAL;
		}
		bool dup = strcmp(as->column, spec->key_column) == 0;
		for (unsigned b = 0; b < a; b++)
			dup |= strcmp(as->column, spec->attrs[b].column) == 0;
		if (dup) {
			snprintf(err, err_len, "column '%s' is configured twice", as->column);
			return -EINVAL;
		}
		ls->name[a] = as->column;
		ls->type[a] = as->type;
		ls->nullable[a] = as->nullable;
	}
	return 0;
}

static int dim_format_of(const struct dim_spec *spec, enum dim_format *out, char *err,
			 size_t err_len)
{
	if (spec->format != DIM_FORMAT_AUTO) {
		*out = spec->format;
		return 0;
	}
	const char *dot = spec->path ? strrchr(spec->path, '.') : NULL;
	static const char *const ext[] = {NULL, ".tsv", ".csv", ".native"};
	for (int f = DIM_FORMAT_TSV; dot && f <= DIM_FORMAT_NATIVE; f++) {
		if (strcasecmp(dot, ext[f]) == 0) {
			*out = (enum dim_format)f;
			return 0;
		}
	}
	snprintf(err, err_len, "%s: cannot tell the format from the extension (.tsv, .csv, .native)",
		 spec->path ? spec->path : "source");
	return -EINVAL;
}

static int dim_open_source(struct dim_loader *L, char *err, size_t err_len)
{
	const struct dim_spec *spec = L->spec;
	if (spec->data) {
		L->data = spec->data;
		L->len = spec->data_len;
	} else {
		int fd = open(spec->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			snprintf(err, err_len, "cannot open %s: %s", spec->path, strerror(e));
			return -e;
		}
		struct stat st;
		if (fstat(fd, &st) != 0) {
			int e = errno;
			close(fd);
			snprintf(err, err_len, "cannot stat %s: %s", spec->path, strerror(e));
			return -e;
		}
		L->len = (size_t)st.st_size;
		if (L->len > 0) {
			void *m = mmap(NULL, L->len, PROT_READ, MAP_PRIVATE, fd, 0);
			if (m == MAP_FAILED) {
				int e = errno;
				close(fd);
				snprintf(err, err_len, "cannot map %s: %s", spec->path, strerror(e));
				return -e;
			}
			madvise(m, L->len, MADV_WILLNEED);
			L->data = m;
			L->mapped = true;
		}
		close(fd);
	}
	if (L->len == 0) {
		snprintf(err, err_len, "%s: empty source (no header)", L->path);
		return -EINVAL;
	}
	return 0;
}

static void dim_close_source(struct dim_loader *L)
{
	if (L->mapped)
		munmap((void *)(uintptr_t)L->data, L->len);
	L->mapped = false;
}

static unsigned dim_thread_count(const struct dim_spec *spec)
{
	long n = spec->threads ? (long)spec->threads : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > DIM_THREADS_MAX)
		n = DIM_THREADS_MAX;
	return (unsigned)n;
}

/* Logs the first duplicate key (the build reports where it is). */
static void dim_log_duplicates(const struct dim_loader *L, const struct dim_build_stats *bs)
{
	if (!bs->duplicates || bs->first_dup_part >= L->chunk_count)
		return;
	uint64_t row = bs->first_dup_row + 1;
	for (unsigned i = 0; i < bs->first_dup_part; i++)
		row += L->parts[i].rows;
	const struct dim_part *p = &L->parts[bs->first_dup_part];
	char key[64];
	if (L->ls.key_type == DIM_TYPE_UINT64) {
		snprintf(key, sizeof(key), "%" PRIu64, p->key_u64[bs->first_dup_row]);
	} else {
		struct dim_str k = p->key_str[bs->first_dup_row];
		dim_quote(key, sizeof(key), k.ptr, k.len);
	}
	log_warn("dim", "%s: %" PRIu64 " duplicate keys in %s (the later row wins); the first is "
		 "key '%s' at data row %" PRIu64, L->name, bs->duplicates, L->path, key, row);
}

int dim_load(const struct dim_spec *spec, struct dim **out, struct dim_load_stats *stats)
{
	struct dim_load_stats local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!spec || !out)
		return -EINVAL;
	const char *name = spec->name ? spec->name : "dim";
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct dim_loader *L = calloc(1, sizeof(*L));
	struct dim_lc_map *dicts = calloc(DIM_ATTR_MAX, sizeof(*dicts));
	struct dim_chunk *chunks = calloc(DIM_THREADS_MAX, sizeof(*chunks));
	struct dim_part *parts = calloc(DIM_THREADS_MAX, sizeof(*parts));
	int rc = -ENOMEM;
	if (!L || !dicts || !chunks || !parts) {
		snprintf(stats->error, sizeof(stats->error), "out of memory");
		goto out_free;
	}
	L->started = t0;
	L->spec = spec;
	L->name = name;
	L->chunks = chunks;
	L->parts = parts;
	L->path = spec->path ? spec->path : "<memory>";
	pthread_mutex_init(&L->mu, NULL);
	pthread_cond_init(&L->cv, NULL);

	rc = dim_check_spec(spec, &L->ls, stats->error, sizeof(stats->error));
	if (!rc)
		rc = dim_format_of(spec, &L->format, stats->error, sizeof(stats->error));
	if (!rc)
		rc = dim_open_source(L, stats->error, sizeof(stats->error));
	if (rc)
		goto out_sync;
	stats->source_bytes = L->len;
	L->progress = L->len >= DIM_PROGRESS_BYTES_MIN;

	unsigned threads = dim_thread_count(spec), n;
	if (L->format == DIM_FORMAT_NATIVE) {
		rc = dim_native_scan(spec, &L->ls, (const uint8_t *)L->data, L->len, &L->native,
				     stats->error, sizeof(stats->error), &stats->error_line);
		if (rc) {
			char reason[sizeof(stats->error)];
			memcpy(reason, stats->error, sizeof(reason));
			dim_errf(stats->error, sizeof(stats->error), "%s: block %" PRIu64 ": %s",
				 L->path, stats->error_line, reason);
			goto out_close;
		}
		n = L->native.block_count < threads ? (unsigned)L->native.block_count : threads;
	} else {
		char reason[sizeof(stats->error)] = "";
		rc = dim_text_header(L, reason, sizeof(reason), &stats->error_line);
		if (rc) {
			dim_errf(stats->error, sizeof(stats->error), "%s:%s%s", L->path,
				 stats->error_line ? "1: " : " ", reason);
			goto out_close;
		}
		size_t per = (L->len - L->body) / DIM_CHUNK_BYTES_MIN;
		n = per < threads ? (unsigned)per : threads;
	}
	if (n == 0)
		n = 1;
	stats->threads = n;
	rc = dim_parse(L, n, stats->error, sizeof(stats->error), &stats->error_line);
	stats->threads = L->chunk_count;
	if (rc)
		goto out_parts;
	double parsed_s = dim_elapsed(&L->started);
	rc = dim_merge_dicts(L, dicts, stats->error, sizeof(stats->error));
	if (rc)
		goto out_dicts;
	for (unsigned i = 0; i < L->chunk_count; i++)
		stats->source_rows += L->parts[i].rows;

	struct dim_build_input in = {.spec = spec, .ls = &L->ls, .parts = L->parts,
		.part_count = L->chunk_count, .dicts = dicts, .threads = threads};
	struct dim_build_stats bs;
	struct dim *d = NULL;
	rc = dim_build(&in, &d, &bs, stats->error, sizeof(stats->error));
	if (rc)
		goto out_dicts;
	dim_log_duplicates(L, &bs);
	stats->rows = dim_rows(d);
	stats->duplicates = bs.duplicates;
	stats->bytes = dim_bytes(d);
	stats->huge_mode = dim_huge_mode(d);
	stats->seconds = dim_elapsed(&L->started);
	stats->rows_per_s = stats->seconds > 0 ? (double)stats->source_rows / stats->seconds : 0;
	log_info("dim", "%s: %zu rows from %s in %.2f s (parse %.2f s, build %.2f s; %.2fM rows/s, "
		 "%u threads): %zu MiB (%.1f B/row), %zu slots of %zu B (%s)", name, dim_rows(d),
		 L->path, stats->seconds, parsed_s, stats->seconds - parsed_s,
		 stats->rows_per_s / 1e6, stats->threads, dim_bytes(d) >> 20,
		 dim_rows(d) ? (double)dim_bytes(d) / (double)dim_rows(d) : 0.0, dim_capacity(d),
		 dim_slot_bytes(d), huge_mode_name(dim_huge_mode(d)));
	*out = d;
	rc = 0;

out_dicts:
	for (unsigned a = 0; a < DIM_ATTR_MAX; a++)
		dim_lc_map_free(&dicts[a]);
out_parts:
	dim_free_parts(L, L->chunk_count);
out_close:
	dim_native_source_free(&L->native);
	dim_close_source(L);
out_sync:
	pthread_cond_destroy(&L->cv);
	pthread_mutex_destroy(&L->mu);
out_free:
	if (rc) {
		stats->seconds = dim_elapsed(&t0);
		if (!stats->error[0])
			dim_errf(stats->error, sizeof(stats->error), "%s: %s",
				 spec && spec->path ? spec->path : "<memory>", strerror(-rc));
		log_error("dim", "%s: load failed: %s", name, stats->error);
	}
	free(parts);
	free(chunks);
	free(dicts);
	free(L);
	return rc;
}
