/*
 * dim_part: the staging layer of a dimension load -- parts, their dictionaries and the
 * conversion of every value to its configured type (contract in include/dim_part.h).
 */
#include "dim_part.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "chtype.h"
#include "civil.h"
#include "url_norm.h"

#define DIM_SCRATCH_BLOCK_BYTES ((size_t)1 << 20)
#define DIM_PART_ROWS_MIN 1024

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
		return dim_hash_key_str(p, len);
	uint64_t h = (w0 ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
	h ^= (w1 + len) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ULL;
	return h ^ (h >> 32);
}

/* The slot of the bytes (whose words and hash are given): their code's, or the empty slot
 * where they would go (*code 0). */
static inline uint32_t dim_lc_map_slot(const struct dim_lc_map *m, const char *p, size_t len,
				       uint64_t w0, uint64_t w1, uint64_t h, uint32_t *code)
{
	uint32_t i = (uint32_t)h & m->mask;
	for (;;) {
		uint32_t c = m->slots[i];
		if (c == 0)
			break;
		const struct dim_lc_entry *e = &m->entries[c];
		if (e->hash == h && e->w0 == w0 && e->w1 == w1 && m->vals[c].len == len &&
		    (len <= 16 || memcmp(m->vals[c].ptr, p, len) == 0))
			break;
		i = (i + 1) & m->mask;
	}
	*code = m->slots[i];
	return i;
}

int dim_lc_map_find(const struct dim_lc_map *m, const char *p, size_t len, uint32_t *code)
{
	uint64_t w0, w1;
	dim_lc_words(p, len, &w0, &w1);
	dim_lc_map_slot(m, p, len, w0, w1, dim_lc_hash(p, len, w0, w1), code);
	return *code ? 0 : -ENOENT;
}

int dim_lc_map_intern(struct dim_lc_map *m, const char *p, size_t len, uint32_t *code)
{
	uint64_t w0, w1;
	dim_lc_words(p, len, &w0, &w1);
	uint64_t h = dim_lc_hash(p, len, w0, w1);
	uint32_t i = dim_lc_map_slot(m, p, len, w0, w1, h, code);
	if (*code)
		return 0;
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

void dim_quote(char *out, size_t cap, const char *s, size_t len)
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

/*
 * A non-empty text number of attribute a (integer, Date, DateTime or Float64 column) parsed and
 * range-checked into the bits the part stores. Returns 0, or -EINVAL with the reason in err.
 */
static int dim_text_number(const struct dim_layout_spec *ls, unsigned a, const char *s,
			   size_t len, uint64_t *bits, char *err, size_t err_len)
{
	enum dim_type t = ls->type[a];
	bool ok, neg = false;
	uint64_t mag = 0;
	int64_t v;
	switch (t) {
	case DIM_TYPE_FLOAT64: {
		double f;
		ok = dim_parse_f64(s, len, &f);
		if (ok) {
			memcpy(bits, &f, sizeof(*bits));
			return 0;
		}
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
	*bits = neg ? (uint64_t)0 - mag : mag;
	return 0;
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
	uint64_t bits;
	int rc = dim_text_number(ls, a, s, len, &bits, err, err_len);
	return rc ? rc : dim_put_num(p, ls, a, row, bits);
}

int dim_value_text(const struct dim_layout_spec *ls, unsigned a, const char *s, size_t len,
		   bool is_null, struct dim_value *out, char *err, size_t err_len)
{
	enum dim_type t = ls->type[a];
	bool str = t == DIM_TYPE_STRING || t == DIM_TYPE_LC_STRING;
	*out = (struct dim_value){0};
	if (is_null || (!str && len == 0)) {
		/* As dim_put_null: NULL when nullable, else the default ('' for strings). */
		out->null = ls->nullable[a];
		if (str && !ls->nullable[a])
			out->str = (struct dim_str){"", 0};
		return 0;
	}
	if (str) {
		if (len > DIM_STR_LEN_MAX) {
			snprintf(err, err_len, "column '%s': value of %zu bytes exceeds %zu",
				 dim_ls_name(ls, a), len, DIM_STR_LEN_MAX);
			return -EINVAL;
		}
		out->str = (struct dim_str){s ? s : "", len};
		return 0;
	}
	return dim_text_number(ls, a, s, len, &out->num, err, err_len);
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
	p->hash[row] = dim_hash_key_str(s, len);
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
	p->hash[row] = dim_hash_key_str(s, len);
	return 0;
}

/* ---- type names ---- */

/* The dimension types as ClickHouse types (LowCardinality(String) is String with the flag). */
static const struct {
	enum dim_type type;
	enum chtype_kind kind;
} dim_kinds[] = {
	{DIM_TYPE_STRING, CHTYPE_STRING},   {DIM_TYPE_LC_STRING, CHTYPE_STRING},
	{DIM_TYPE_UINT8, CHTYPE_UINT8},     {DIM_TYPE_UINT16, CHTYPE_UINT16},
	{DIM_TYPE_UINT32, CHTYPE_UINT32},   {DIM_TYPE_UINT64, CHTYPE_UINT64},
	{DIM_TYPE_INT8, CHTYPE_INT8},       {DIM_TYPE_INT16, CHTYPE_INT16},
	{DIM_TYPE_INT32, CHTYPE_INT32},     {DIM_TYPE_INT64, CHTYPE_INT64},
	{DIM_TYPE_FLOAT64, CHTYPE_FLOAT64}, {DIM_TYPE_DATE, CHTYPE_DATE},
	{DIM_TYPE_DATETIME, CHTYPE_DATETIME},
};

#define DIM_KINDS (sizeof(dim_kinds) / sizeof(dim_kinds[0]))

void dim_type_chtype(enum dim_type type, bool nullable, struct chtype *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < DIM_KINDS; i++)
		if (dim_kinds[i].type == type)
			out->kind = dim_kinds[i].kind;
	out->low_cardinality = type == DIM_TYPE_LC_STRING;
	out->nullable = nullable;
}

const char *dim_type_name(enum dim_type type)
{
	if (type == DIM_TYPE_LC_STRING)
		return "LowCardinality(String)";
	for (size_t i = 0; i < DIM_KINDS; i++)
		if (dim_kinds[i].type == type)
			return chtype_kind_name(dim_kinds[i].kind);
	return "?";
}

int dim_type_parse(const char *name, enum dim_type *type, bool *nullable)
{
	struct chtype t;
	if (chtype_parse(name, strlen(name), &t, NULL, 0) < 0 || t.arrays || t.tz[0])
		return -EINVAL;
	if (t.low_cardinality && t.kind != CHTYPE_STRING)
		return -EINVAL;
	for (size_t i = 0; i < DIM_KINDS; i++) {
		if (dim_kinds[i].kind == t.kind &&
		    (dim_kinds[i].type == DIM_TYPE_LC_STRING) == t.low_cardinality) {
			*type = dim_kinds[i].type;
			*nullable = t.nullable;
			return 0;
		}
	}
	return -EINVAL;
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

/* ---- the configured columns ---- */

static int dim_check_name(const char *what, const char *name, char *err, size_t err_len)
{
	if (!name || !name[0] || strlen(name) >= DIM_NAME_MAX) {
		snprintf(err, err_len, "%s name is missing or longer than %d bytes", what,
			 DIM_NAME_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

/* Attribute a of spec: a name, a type, not configured before (nor as the key). */
static int dim_check_attr(const struct dim_spec *spec, unsigned a, char *err, size_t err_len)
{
	const struct dim_attr_spec *as = &spec->attrs[a];
	int rc = dim_check_name("attribute", as->column, err, err_len);
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
	return 0;
}

int dim_layout_spec_init(struct dim_layout_spec *ls, const struct dim_spec *spec, char *err,
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
	if (spec->live && (spec->live_headroom_pct > DIM_LIVE_HEADROOM_PCT_MAX ||
			   spec->live_dict_room_pct > DIM_LIVE_DICT_ROOM_PCT_MAX)) {
		snprintf(err, err_len, "live headroom %u%% (at most %d) or dictionary room %u%% (at "
			 "most %d)", spec->live_headroom_pct, DIM_LIVE_HEADROOM_PCT_MAX,
			 spec->live_dict_room_pct, DIM_LIVE_DICT_ROOM_PCT_MAX);
		return -EINVAL;
	}
	memset(ls, 0, sizeof(*ls));
	ls->key_name = spec->key_column;
	ls->key_type = spec->key_type;
	ls->key_strip_query = spec->key_strip_query && spec->key_type == DIM_TYPE_STRING;
	ls->attr_count = spec->attr_count;
	for (unsigned a = 0; a < spec->attr_count; a++) {
		rc = dim_check_attr(spec, a, err, err_len);
		if (rc)
			return rc;
		ls->name[a] = spec->attrs[a].column;
		ls->type[a] = spec->attrs[a].type;
		ls->nullable[a] = spec->attrs[a].nullable;
	}
	return 0;
}
