/*
 * avro_decode: the hot path (contract in include/avro.h): one Confluent frame header, then one
 * datum decoded by running its plan's program (engine/avro_impl.h).
 *
 * The decoder keeps one cursor into the message and checks every read against the end before
 * it moves: a varint is read up to its type's length, a length is compared with the bytes left
 * before anything is taken, and an array or map block's item count with the bytes left whenever
 * its items take at least one byte each (the item types of zero bytes, null and records of
 * nulls, are skipped without a loop). Skipped values recurse over the writer schema with a depth
 * bound; the program itself is flat and never recurses.
 *
 * The program runs in two ways. run() takes the common instructions itself, its cursor in a
 * register and its varints read a word at a time; any other instruction, and any value it
 * refuses, goes to step(), which reads it again from the instruction's start byte by byte and
 * records the field and the error of a value that does not decode. run() never accepts what
 * step() would refuse, so a message decodes, or fails, the same either way.
 */
#include <errno.h>
#include <string.h>

#include "avro_impl.h"
#include "timetext.h"
#include "uuidtext.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Avro's float and double are little-endian, read here with memcpy: a little-endian host"
#endif

struct dec {
	const uint8_t *p, *start, *end;
	char *scratch;
	size_t cap, used;
	int field;
	struct av_error *err;
};

/* Records the error at the cursor (or at `at`) and returns code. */
static int fail_at(struct dec *d, int code, const char *reason, const uint8_t *at)
{
	if (d->err != NULL)
		*d->err = (struct av_error){reason, (size_t)(at - d->start), d->field};
	return code;
}

static inline int fail(struct dec *d, int code, const char *reason)
{
	return fail_at(d, code, reason, d->p);
}

/* A zigzag varint of at most max_bytes (5 for int, 10 for long). */
static inline int rd_varint(struct dec *d, unsigned max_bytes, int64_t *out)
{
	const uint8_t *p = d->p;
	if (p < d->end && *p < 0x80) { /* one byte: most small numbers and lengths */
		d->p = p + 1;
		*out = (int64_t)(*p >> 1) ^ -(int64_t)(*p & 1);
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0, shift = 0; i < max_bytes; i++, shift += 7) {
		if (p + i >= d->end)
			return fail(d, AV_ERR_TRUNCATED, "varint past the end");
		uint8_t b = p[i];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (b < 0x80) {
			/* the last byte may only carry the bits the type has left */
			if (i + 1 == max_bytes && (b >> (max_bytes == 5 ? 4 : 1)) != 0)
				break;
			d->p = p + i + 1;
			*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
			return 0;
		}
	}
	return fail(d, AV_ERR_VARINT, max_bytes == 5 ? "int varint too long" : "long varint too long");
}

static inline int rd_long(struct dec *d, int64_t *out)
{
	return rd_varint(d, 10, out);
}

static inline int rd_int(struct dec *d, int64_t *out)
{
	return rd_varint(d, 5, out);
}

/* A length (string, bytes) that must fit in what is left of the message. */
static inline int rd_bytes(struct dec *d, const uint8_t **ptr, size_t *n)
{
	const uint8_t *at = d->p;
	int64_t len;
	int rc = rd_long(d, &len);
	if (rc != 0)
		return rc;
	if (len < 0)
		return fail_at(d, AV_ERR_LENGTH, "negative length", at);
	if ((uint64_t)len > (uint64_t)(d->end - d->p))
		return fail_at(d, AV_ERR_TRUNCATED, "length past the end", at);
	*ptr = d->p;
	*n = (size_t)len;
	d->p += len;
	return 0;
}

static inline int rd_fixed(struct dec *d, size_t n, const uint8_t **ptr)
{
	if (n > (size_t)(d->end - d->p))
		return fail(d, AV_ERR_TRUNCATED, "fixed-size value past the end");
	*ptr = d->p;
	d->p += n;
	return 0;
}

static inline int rd_bool(struct dec *d, int64_t *out)
{
	if (d->p >= d->end)
		return fail(d, AV_ERR_TRUNCATED, "boolean past the end");
	if (*d->p > 1)
		return fail(d, AV_ERR_BOOLEAN, "boolean byte not 0 or 1");
	*out = *d->p++;
	return 0;
}

/* The item count of the next array or map block (0: the end). A negative count is followed by
 * the block's size in bytes, returned in *bytes (else -1). */
static int rd_block(struct dec *d, int64_t *count, int64_t *bytes)
{
	const uint8_t *at = d->p;
	int rc = rd_long(d, count);
	*bytes = -1;
	if (rc != 0 || *count >= 0)
		return rc;
	if (*count == INT64_MIN)
		return fail_at(d, AV_ERR_LENGTH, "block count out of range", at);
	*count = -*count;
	if ((rc = rd_long(d, bytes)) != 0)
		return rc;
	if (*bytes < 0)
		return fail_at(d, AV_ERR_LENGTH, "negative block size", at);
	if ((uint64_t)*bytes > (uint64_t)(d->end - d->p))
		return fail_at(d, AV_ERR_TRUNCATED, "block size past the end", at);
	return 0;
}

/* Items of at least one byte each cannot outnumber the bytes left. */
static inline int count_check(struct dec *d, int64_t count, const uint8_t *at)
{
	if ((uint64_t)count > (uint64_t)(d->end - d->p))
		return fail_at(d, AV_ERR_TRUNCATED, "more items than bytes left", at);
	return 0;
}

static int skip(struct dec *d, const struct av_schema *w, uint32_t node, unsigned depth);

/* An array's or map's blocks; a map's items are a string key and a value. */
static int skip_blocks(struct dec *d, const struct av_schema *w, const struct av_node *nd,
		       unsigned depth)
{
	bool map = nd->type == AV_T_MAP;
	bool zero = !map && w->nodes[nd->first].zero_size;
	for (;;) {
		const uint8_t *at = d->p;
		int64_t count, bytes;
		int rc = rd_block(d, &count, &bytes);
		if (rc != 0)
			return rc;
		if (count == 0)
			return 0;
		if (bytes >= 0) { /* the writer gave the block's size: jump over it */
			d->p += bytes;
			continue;
		}
		if (zero)
			continue;
		if ((rc = count_check(d, count, at)) != 0)
			return rc;
		for (int64_t i = 0; i < count; i++) {
			const uint8_t *key;
			size_t n;
			if ((map && (rc = rd_bytes(d, &key, &n)) != 0) ||
			    (rc = skip(d, w, nd->first, depth + 1)) != 0)
				return rc;
		}
	}
}

static int skip(struct dec *d, const struct av_schema *w, uint32_t node, unsigned depth)
{
	const struct av_node *nd = &w->nodes[node];
	int64_t v;
	const uint8_t *ptr;
	size_t n;
	int rc;
	if (depth >= AV_DEPTH_MAX)
		return fail(d, AV_ERR_DEPTH, "values nested too deep");
	switch ((enum av_type)nd->type) {
	case AV_T_NULL:
		return 0;
	case AV_T_BOOLEAN:
		return rd_bool(d, &v);
	case AV_T_INT:
		return rd_int(d, &v);
	case AV_T_LONG:
		return rd_long(d, &v);
	case AV_T_FLOAT:
		return rd_fixed(d, 4, &ptr);
	case AV_T_DOUBLE:
		return rd_fixed(d, 8, &ptr);
	case AV_T_BYTES:
	case AV_T_STRING:
		return rd_bytes(d, &ptr, &n);
	case AV_T_FIXED:
		return rd_fixed(d, nd->n, &ptr);
	case AV_T_ENUM:
		if ((rc = rd_int(d, &v)) != 0)
			return rc;
		return v >= 0 && v < nd->n ? 0 : fail(d, AV_ERR_ENUM, "enum index out of range");
	case AV_T_RECORD:
		for (uint32_t i = 0; i < nd->n; i++)
			if ((rc = skip(d, w, w->fields[nd->first + i].type, depth + 1)) != 0)
				return rc;
		return 0;
	case AV_T_UNION: {
		const uint8_t *at = d->p;
		if ((rc = rd_long(d, &v)) != 0)
			return rc;
		if (v < 0 || v >= nd->n)
			return fail_at(d, AV_ERR_UNION, "union index out of range", at);
		return skip(d, w, w->links[nd->first + (uint32_t)v], depth + 1);
	}
	case AV_T_ARRAY:
	case AV_T_MAP:
		return skip_blocks(d, w, nd, depth);
	}
	return fail(d, AV_ERR_VALUE, "unknown type");
}

/* n bytes of scratch aligned to 8; NULL (error recorded) when it is full. */
/* n bytes of d's scratch aligned to 8 after *used, which moves past them; NULL when it is full
 * (nothing recorded). */
static inline char *s_take(const struct dec *d, size_t *used, size_t n)
{
	size_t at = (*used + 7) & ~(size_t)7;
	if (at > d->cap || n > d->cap - at)
		return NULL;
	*used = at + n;
	return d->scratch + at;
}

static void *s_alloc(struct dec *d, size_t n)
{
	char *p = s_take(d, &d->used, n);
	if (p == NULL)
		fail(d, AV_ERR_TOO_LONG, "scratch too small");
	return p;
}

/* A decimal's unscaled big-endian two's complement b[0..n) as text with `scale` decimals. */
static int decimal_text(struct dec *d, const uint8_t *b, size_t n, unsigned scale,
			struct event_value *v)
{
	if (n == 0)
		return fail(d, AV_ERR_VALUE, "decimal of no bytes");
	if (n > AV_DECIMAL_BYTES_MAX)
		return fail(d, AV_ERR_RANGE, "decimal wider than 256 bits");
	uint8_t mag[AV_DECIMAL_BYTES_MAX];
	bool neg = b[0] & 0x80;
	unsigned carry = 1;
	for (size_t i = n; i-- > 0;) { /* the magnitude: negate a negative value */
		unsigned x = neg ? (uint8_t)~b[i] + carry : b[i];
		mag[i] = (uint8_t)x;
		carry = neg ? x >> 8 : 0;
	}
	/* base 10^9 parts, least significant first, by repeated division */
	uint32_t parts[AV_DECIMAL_BYTES_MAX / 3];
	size_t np = 0, start = 0;
	while (start < n && mag[start] == 0)
		start++;
	while (start < n) {
		uint64_t rem = 0;
		for (size_t i = start; i < n; i++) {
			uint64_t cur = rem << 8 | mag[i];
			mag[i] = (uint8_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		parts[np++] = (uint32_t)rem;
		while (start < n && mag[start] == 0)
			start++;
	}
	char digits[AV_DECIMAL_TEXT_MAX];
	size_t nd = 0;
	for (size_t i = np; i-- > 0;)
		for (int k = 8; k >= 0; k--) {
			char c = (char)('0' + (parts[i] / (uint32_t)av_pow10((unsigned)k)) % 10);
			if (nd > 0 || c != '0')
				digits[nd++] = c;
		}
	size_t whole = nd > scale ? nd - scale : 0; /* digits before the point */
	char *out = s_alloc(d, 3 + (whole ? whole : 1) + scale);
	if (out == NULL)
		return AV_ERR_TOO_LONG;
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (whole == 0)
		out[o++] = '0';
	memcpy(out + o, digits, whole);
	o += whole;
	if (scale > 0) {
		out[o++] = '.';
		for (size_t k = nd - whole; k < scale; k++)
			out[o++] = '0';
		memcpy(out + o, digits + whole, nd - whole);
		o += nd - whole;
	}
	*v = (struct event_value){.ptr = out, .len = (uint32_t)o};
	return 0;
}

/* An integer converted by scale s into *out: v * mul / div, floored; false when the product
 * overflows or the result is outside lo..hi. */
static inline __attribute__((always_inline)) bool scale_value(const struct av_scale *s, int64_t x,
							       int64_t *out)
{
	if (s->mul != 1 && __builtin_mul_overflow(x, s->mul, &x))
		return false;
	if (s->div != 1) {
		int64_t q = x / s->div;
		x = q - (x % s->div < 0);
	}
	if (x < s->lo || x > s->hi)
		return false;
	*out = x;
	return true;
}

static inline int scaled(struct dec *d, const struct av_scale *s, int64_t x, const uint8_t *at,
			 int64_t *out)
{
	if (!scale_value(s, x, out))
		return fail_at(d, AV_ERR_RANGE, "number out of the field's range", at);
	return 0;
}

/* A text date or date-time read by scale s into ticks or days. */
static int text_time(struct dec *d, const struct av_scale *s, struct event_value *v)
{
	const uint8_t *at = d->p, *ptr;
	size_t n;
	int64_t x;
	int rc = rd_bytes(d, &ptr, &n);
	if (rc != 0)
		return rc;
	rc = s->text == AV_TEXT_DATE ? timetext_date((const char *)ptr, n, &x)
				     : timetext_rfc3339((const char *)ptr, n, s->precision, &x);
	if (rc == -ERANGE || (rc == 0 && (x < s->lo || x > s->hi)))
		return fail_at(d, AV_ERR_RANGE, "date or time out of the field's range", at);
	if (rc != 0)
		return fail_at(d, AV_ERR_VALUE,
			       s->text == AV_TEXT_DATE ? "not a date YYYY-MM-DD"
						       : "not an RFC 3339 date-time",
			       at);
	*v = (struct event_value){.i64 = x};
	return 0;
}

/* An enum index into its text (texts + first, n symbols). */
static int rd_enum(struct dec *d, const struct event_str *texts, uint32_t n, struct event_str *out)
{
	const uint8_t *at = d->p;
	int64_t i;
	int rc = rd_int(d, &i);
	if (rc != 0)
		return rc;
	if (i < 0 || i >= n)
		return fail_at(d, AV_ERR_ENUM, "enum index out of range", at);
	if (texts[i].ptr == NULL)
		return fail_at(d, AV_ERR_SYMBOL, "enum symbol unknown to the reader", at);
	*out = texts[i];
	return 0;
}

/* One element of an Array(String): a string, bytes, fixed or enum of writer node item. */
static inline int array_str_item(struct dec *d, const struct av_plan *pl, const struct av_op *op,
				 const struct av_node *item, struct event_str *e)
{
	const uint8_t *ptr;
	size_t n = item->n;
	int rc;
	if (item->type == AV_T_ENUM)
		return rd_enum(d, pl->texts + op->arg, item->n, e);
	rc = item->type == AV_T_FIXED ? rd_fixed(d, n, &ptr) : rd_bytes(d, &ptr, &n);
	if (rc == 0)
		*e = (struct event_str){(const char *)ptr, (uint32_t)n};
	return rc;
}

static inline int array_int_item(struct dec *d, const struct av_plan *pl, const struct av_op *op,
				 const struct av_node *item, int64_t *e)
{
	const uint8_t *at = d->p;
	int64_t x;
	int rc = item->type == AV_T_BOOLEAN ? rd_bool(d, &x)
		 : item->type == AV_T_INT   ? rd_int(d, &x)
					    : rd_long(d, &x);
	return rc != 0 ? rc : scaled(d, &pl->scales[op->arg], x, at, e);
}

/* An array into Array(String) or Array(Int): its elements, block after block, contiguous in
 * scratch (nothing else takes scratch meanwhile). */
static int rd_array(struct dec *d, const struct av_plan *pl, const struct av_op *op,
		    struct event_value *v)
{
	const struct av_node *item = &pl->writer->nodes[op->aux];
	bool strings = op->conv == AV_CV_ARRAY_STR;
	size_t elem = strings ? sizeof(struct event_str) : sizeof(int64_t);
	char *base = NULL;
	uint64_t total = 0;
	for (;;) {
		const uint8_t *at = d->p;
		int64_t count, bytes;
		int rc = rd_block(d, &count, &bytes);
		if (rc != 0)
			return rc;
		if (count == 0)
			break;
		if ((!item->zero_size && (rc = count_check(d, count, at)) != 0))
			return rc;
		if ((uint64_t)count > d->cap / elem || total + (uint64_t)count > UINT32_MAX)
			return fail_at(d, AV_ERR_TOO_LONG, "array too long for scratch", at);
		char *p = s_alloc(d, (size_t)count * elem);
		if (p == NULL)
			return AV_ERR_TOO_LONG;
		base = base ? base : p;
		for (int64_t i = 0; i < count; i++) {
			rc = strings ? array_str_item(d, pl, op, item, (struct event_str *)(void *)p + i)
				     : array_int_item(d, pl, op, item, (int64_t *)(void *)p + i);
			if (rc != 0)
				return rc;
		}
		total += (uint64_t)count;
	}
	*v = (struct event_value){.ptr = base ? base : "", .len = (uint32_t)total};
	return 0;
}

/* A UUID from its 36-character text (string or bytes) or from a fixed(16), into scratch. */
static int read_uuid(struct dec *d, bool fixed, struct event_value *v)
{
	const uint8_t *at = d->p, *ptr;
	size_t n = 16;
	int rc = fixed ? rd_fixed(d, n, &ptr) : rd_bytes(d, &ptr, &n);
	if (rc != 0)
		return rc;
	uint8_t *u = s_alloc(d, 16);
	if (u == NULL)
		return AV_ERR_TOO_LONG;
	if (fixed)
		memcpy(u, ptr, 16);
	else if (!uuidtext_parse(ptr, n, u))
		return fail_at(d, AV_ERR_VALUE, "not a UUID", at);
	*v = (struct event_value){.ptr = (const char *)u, .len = 16};
	return 0;
}

/* One READ: the writer value at the cursor, converted into slot v. */
static int read_value(struct dec *d, const struct av_plan *pl, const struct av_op *op,
		      struct event_value *v)
{
	const uint8_t *at = d->p, *ptr;
	size_t n;
	int64_t x;
	int rc;
	switch ((enum av_conv)op->conv) {
	case AV_CV_INT:
	case AV_CV_LONG:
	case AV_CV_BOOL:
		rc = op->conv == AV_CV_LONG  ? rd_long(d, &x)
		     : op->conv == AV_CV_INT ? rd_int(d, &x)
					     : rd_bool(d, &x);
		if (rc == 0 && (rc = scaled(d, &pl->scales[op->arg], x, at, &x)) == 0)
			*v = (struct event_value){.i64 = x};
		return rc;
	case AV_CV_INT_F64:
		if ((rc = op->aux ? rd_long(d, &x) : rd_int(d, &x)) == 0)
			*v = (struct event_value){.f64 = (double)x};
		return rc;
	case AV_CV_FLOAT_F64:
	case AV_CV_DOUBLE_F64: {
		bool dbl = op->conv == AV_CV_DOUBLE_F64;
		if ((rc = rd_fixed(d, dbl ? 8 : 4, &ptr)) != 0)
			return rc;
		float f;
		double g;
		if (dbl)
			memcpy(&g, ptr, 8);
		else
			memcpy(&f, ptr, 4), g = f;
		*v = (struct event_value){.f64 = g};
		return 0;
	}
	case AV_CV_BOOL_BOOL:
		if ((rc = rd_bool(d, &x)) == 0)
			*v = (struct event_value){.u64 = (uint64_t)x};
		return rc;
	case AV_CV_STR:
	case AV_CV_FIXED:
		n = op->aux;
		if ((rc = op->conv == AV_CV_STR ? rd_bytes(d, &ptr, &n) : rd_fixed(d, n, &ptr)) != 0)
			return rc;
		if (op->conv == AV_CV_STR && op->aux != 0 && n > op->aux)
			return fail_at(d, AV_ERR_TOO_LONG, "longer than the FixedString", at);
		*v = (struct event_value){.ptr = (const char *)ptr, .len = (uint32_t)n};
		return 0;
	case AV_CV_ENUM: {
		struct event_str t;
		if ((rc = rd_enum(d, pl->texts + op->arg, op->aux, &t)) == 0)
			*v = (struct event_value){.ptr = t.ptr, .len = t.len};
		return rc;
	}
	case AV_CV_DECIMAL:
		n = op->aux;
		if ((rc = op->aux == 0 ? rd_bytes(d, &ptr, &n) : rd_fixed(d, n, &ptr)) != 0)
			return rc;
		return decimal_text(d, ptr, n, op->scale, v);
	case AV_CV_STR_UUID:
	case AV_CV_FIXED_UUID:
		return read_uuid(d, op->conv == AV_CV_FIXED_UUID, v);
	case AV_CV_STR_TIME:
		return text_time(d, &pl->scales[op->arg], v);
	case AV_CV_ARRAY_STR:
	case AV_CV_ARRAY_INT:
		return rd_array(d, pl, op, v);
	}
	return fail(d, AV_ERR_VALUE, "unknown conversion");
}

static const char *const op_fail_reason[AV_ERR_COUNT] = {
	[-AV_ERR_NULL] = "null for a field that is not Nullable",
	[-AV_ERR_BRANCH] = "union branch the field cannot take",
};

/*
 * Runs the instruction at *pc (never AV_OP_END) and moves *pc on; the way every instruction can
 * take, recording the field and the error of a value that does not decode.
 */
static __attribute__((noinline)) int step(struct dec *d, const struct av_plan *pl, uint32_t *pc,
					  struct event_value *vals)
{
	const struct av_op *op = &pl->ops[*pc];
	const uint8_t *at = d->p;
	int64_t idx;
	int rc;
	switch ((enum av_opcode)op->code) {
	case AV_OP_READ:
		d->field = op->slot;
		if ((rc = read_value(d, pl, op, &vals[op->slot])) != 0)
			return rc;
		++*pc;
		return 0;
	case AV_OP_SKIP:
		d->field = -1;
		if ((rc = skip(d, pl->writer, op->arg, 1)) != 0)
			return rc;
		++*pc;
		return 0;
	case AV_OP_OPTIONAL:
		d->field = op->slot;
		if ((rc = rd_long(d, &idx)) != 0)
			return rc;
		if (idx == op->aux) {
			vals[op->slot].null = 1;
			*pc += 2;
		} else if (idx == 1 - (int64_t)op->aux) {
			++*pc;
		} else {
			return fail_at(d, AV_ERR_UNION, "union index out of range", at);
		}
		return 0;
	case AV_OP_UNION:
		if ((rc = rd_long(d, &idx)) != 0)
			return rc;
		if (idx < 0 || idx >= op->aux)
			return fail_at(d, AV_ERR_UNION, "union index out of range", at);
		*pc = pl->jumps[op->arg + (uint32_t)idx];
		return 0;
	case AV_OP_JUMP:
		*pc = op->arg;
		return 0;
	case AV_OP_NULL:
		vals[op->slot].null = 1;
		++*pc;
		return 0;
	case AV_OP_FAIL:
		d->field = op->slot;
		return fail(d, -(int)op->aux, op_fail_reason[op->aux]);
	case AV_OP_END:
		break;
	}
	return fail(d, AV_ERR_VALUE, "unknown instruction");
}

/* The 7-bit groups of the little-endian bytes of w (continuation bits cleared) as one number. */
static inline uint64_t varint_bits(uint64_t w)
{
	w = ((w & 0x7f007f007f007f00ull) >> 1) | (w & 0x007f007f007f007full);
	w = ((w & 0x3fff00003fff0000ull) >> 2) | (w & 0x00003fff00003fffull);
	return ((w & 0x0fffffff00000000ull) >> 4) | (w & 0x000000000fffffffull);
}

/*
 * A varint of at most max_bytes into *out, the cursor *pp moved past it; false where rd_varint
 * fails (nothing moved). The fast loop's reader: it records nothing. With ten bytes left it
 * reads the value's bytes as one word and finds the last one by its clear top bit.
 */
static inline __attribute__((always_inline)) bool quick_varint(const uint8_t **pp,
								const uint8_t *end,
								unsigned max_bytes, int64_t *out)
{
	const uint8_t *p = *pp;
	if (__builtin_expect(p < end && *p < 0x80, 1)) {
		*pp = p + 1;
		*out = (int64_t)(*p >> 1) ^ -(int64_t)(*p & 1);
		return true;
	}
	if (end - p < 10) {
		struct dec q = {.p = p, .start = p, .end = end};
		if (rd_varint(&q, max_bytes, out) != 0)
			return false;
		*pp = q.p;
		return true;
	}
	uint64_t w, v;
	memcpy(&w, p, 8);
	uint64_t stop = ~w & 0x8080808080808080ull;
	unsigned len;
	if (stop != 0) {
		uint64_t last = stop & -stop;     /* the top bit of the last byte */
		w &= (last << 1) - 1;             /* the bytes up to it (all eight: 0 - 1) */
		len = (unsigned)__builtin_ctzll(last) / 8 + 1;
		v = varint_bits(w & 0x7f7f7f7f7f7f7f7full);
	} else {
		v = varint_bits(w & 0x7f7f7f7f7f7f7f7full) | (uint64_t)(p[8] & 0x7f) << 56;
		len = 9;
		if (p[8] >= 0x80) {
			if (p[9] >= 0x80)
				return false;
			v |= (uint64_t)p[9] << 63;
			len = 10;
		}
	}
	/* as rd_varint: no longer than the type's bytes, and the last carries only what is left */
	if (len > max_bytes || (len == max_bytes && (p[len - 1] >> (max_bytes == 5 ? 4 : 1)) != 0))
		return false;
	*pp = p + len;
	*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	return true;
}

/* A string's or bytes' length and bytes, as rd_bytes takes them; false where it fails. */
static inline __attribute__((always_inline)) bool quick_bytes(const uint8_t **pp,
							       const uint8_t *end,
							       const uint8_t **ptr, size_t *n)
{
	const uint8_t *p = *pp;
	int64_t len;
	if (!quick_varint(&p, end, 10, &len) || len < 0 || (uint64_t)len > (uint64_t)(end - p))
		return false;
	*ptr = p;
	*n = (size_t)len;
	*pp = p + len;
	return true;
}

/*
 * An array of longs or ints into Array(Int), or of strings or bytes into Array(String), as
 * rd_array reads it when every block gives its count (not its size): false where rd_array would
 * fail or the items are of another type; scratch is taken only when it succeeds.
 */
static inline __attribute__((always_inline)) bool quick_array(const uint8_t **pp,
							       const uint8_t *end, struct dec *d,
							       const struct av_plan *pl,
							       const struct av_op *op,
							       struct event_value *v)
{
	const struct av_node *item = &pl->writer->nodes[op->aux];
	bool strings = op->conv == AV_CV_ARRAY_STR;
	if (strings ? item->type != AV_T_STRING && item->type != AV_T_BYTES
		    : item->type != AV_T_LONG && item->type != AV_T_INT)
		return false;
	unsigned max_bytes = item->type == AV_T_INT ? 5 : 10;
	const struct av_scale *sc = strings ? NULL : &pl->scales[op->arg]; /* strings: none */
	size_t elem = strings ? sizeof(struct event_str) : sizeof(int64_t);
	const uint8_t *p = *pp;
	size_t used = d->used;
	char *base = NULL;
	uint64_t total = 0;
	for (;;) {
		int64_t count;
		if (!quick_varint(&p, end, 10, &count) || count < 0)
			return false;
		if (count == 0)
			break;
		if ((uint64_t)count > (uint64_t)(end - p) || (uint64_t)count > d->cap / elem ||
		    total + (uint64_t)count > UINT32_MAX)
			return false;
		char *at = s_take(d, &used, (size_t)count * elem);
		if (at == NULL)
			return false;
		base = base ? base : at;
		for (int64_t i = 0; i < count; i++) {
			if (strings) {
				const uint8_t *ptr;
				size_t n;
				if (!quick_bytes(&p, end, &ptr, &n))
					return false;
				((struct event_str *)(void *)at)[i] =
					(struct event_str){(const char *)ptr, (uint32_t)n};
			} else {
				int64_t x;
				if (!quick_varint(&p, end, max_bytes, &x) || !scale_value(sc, x, &x))
					return false;
				((int64_t *)(void *)at)[i] = x;
			}
		}
		total += (uint64_t)count;
	}
	d->used = used;
	*pp = p;
	*v = (struct event_value){.ptr = base ? base : "", .len = (uint32_t)total};
	return true;
}

/* The fast loop's cases: an instruction, or a READ by its conversion. */
#define K_READ 8u
_Static_assert(AV_OP_OPTIONAL < K_READ, "the instruction codes come before the READ cases");

/*
 * Runs the program from op 0 to AV_OP_END. The common instructions and conversions run here on
 * a cursor kept in a register; the rest, and any value these lines refuse, run through step()
 * from the instruction's start, which decodes it again and records the error where there is
 * one: the fast cases only ever decide what step() would.
 */
static int run(struct dec *d, const struct av_plan *pl, struct event_value *vals)
{
	const struct av_op *const ops = pl->ops;
	const uint8_t *p = d->p, *const end = d->end;
	int field = d->field;
	uint32_t pc = 0;
	for (;;) {
		const struct av_op *op = &ops[pc];
		const uint8_t *at = p, *ptr;
		struct event_value *v = &vals[op->slot];
		size_t n;
		int64_t x;
		unsigned kind = op->code == AV_OP_READ ? K_READ + op->conv : op->code;
		switch (kind) {
		case AV_OP_END:
			d->p = p;
			d->field = field;
			return 0;
		case AV_OP_JUMP:
			pc = op->arg;
			continue;
		case AV_OP_NULL:
			v->null = 1;
			pc++;
			continue;
		case AV_OP_OPTIONAL:
			field = op->slot;
			if (!quick_varint(&p, end, 10, &x))
				break;
			if (x == op->aux) {
				v->null = 1;
				pc += 2;
				continue;
			}
			if (x != 1 - (int64_t)op->aux)
				break;
			pc++;
			continue;
		case AV_OP_UNION:
			if (!quick_varint(&p, end, 10, &x) || x < 0 || x >= op->aux)
				break;
			pc = pl->jumps[op->arg + (uint32_t)x];
			continue;
		case K_READ + AV_CV_INT:
		case K_READ + AV_CV_LONG:
			field = op->slot;
			if (!quick_varint(&p, end, op->conv == AV_CV_INT ? 5 : 10, &x) ||
			    !scale_value(&pl->scales[op->arg], x, &x))
				break;
			*v = (struct event_value){.i64 = x};
			pc++;
			continue;
		case K_READ + AV_CV_DOUBLE_F64:
			field = op->slot;
			if (end - p < 8)
				break;
			double g;
			memcpy(&g, p, 8);
			p += 8;
			*v = (struct event_value){.f64 = g};
			pc++;
			continue;
		case K_READ + AV_CV_BOOL_BOOL:
			field = op->slot;
			if (p >= end || *p > 1)
				break;
			*v = (struct event_value){.u64 = *p++};
			pc++;
			continue;
		case K_READ + AV_CV_STR:
			field = op->slot;
			if (!quick_bytes(&p, end, &ptr, &n) || (op->aux != 0 && n > op->aux))
				break;
			*v = (struct event_value){.ptr = (const char *)ptr, .len = (uint32_t)n};
			pc++;
			continue;
		case K_READ + AV_CV_ENUM:
			field = op->slot;
			if (!quick_varint(&p, end, 5, &x) || x < 0 || x >= op->aux ||
			    pl->texts[op->arg + x].ptr == NULL)
				break;
			*v = (struct event_value){.ptr = pl->texts[op->arg + x].ptr,
						  .len = pl->texts[op->arg + x].len};
			pc++;
			continue;
		case K_READ + AV_CV_STR_UUID: {
			field = op->slot;
			size_t used = d->used;
			char *u = s_take(d, &used, 16);
			if (u == NULL || !quick_bytes(&p, end, &ptr, &n) ||
			    !uuidtext_parse(ptr, n, (uint8_t *)u))
				break;
			d->used = used;
			*v = (struct event_value){.ptr = u, .len = 16};
			pc++;
			continue;
		}
		case K_READ + AV_CV_ARRAY_INT:
		case K_READ + AV_CV_ARRAY_STR:
			field = op->slot;
			if (!quick_array(&p, end, d, pl, op, v))
				break;
			pc++;
			continue;
		default:
			break;
		}
		d->p = at;
		d->field = field;
		int rc = step(d, pl, &pc, vals);
		if (rc != 0)
			return rc;
		p = d->p;
		field = d->field;
	}
}

int av_decode(const struct av_plan *plan, const char *buf, size_t len, struct event_value *vals,
	      char *scratch, size_t scratch_cap, uint32_t *scratch_used, struct av_error *err)
{
	const uint8_t *p = (const uint8_t *)buf;
	struct dec d = {.p = p, .start = p, .end = p + len, .scratch = scratch,
			.cap = scratch_cap, .field = -1, .err = err};
	memcpy(vals, plan->init, plan->n_fields * sizeof(*vals));
	int rc = run(&d, plan, vals);
	if (rc == 0 && d.p != d.end) {
		d.field = -1;
		rc = fail(&d, AV_ERR_TRAILING, "bytes after the record");
	}
	if (scratch_used != NULL)
		*scratch_used = (uint32_t)d.used;
	return rc;
}

int av_frame(const char *buf, size_t len, uint32_t *schema_id, size_t *body_off,
	     struct av_error *err)
{
	const uint8_t *p = (const uint8_t *)buf;
	int rc = 0;
	const char *reason = NULL;
	if (len == 0)
		rc = AV_ERR_EMPTY, reason = "empty message";
	else if (p[0] != 0)
		rc = AV_ERR_MAGIC, reason = "magic byte is not 0";
	else if (len < AV_FRAME_HEADER)
		rc = AV_ERR_FRAME, reason = "shorter than the 5-byte header";
	if (rc != 0) {
		if (err != NULL)
			*err = (struct av_error){reason, rc == AV_ERR_FRAME ? len : 0, -1};
		return rc;
	}
	*schema_id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	*body_off = AV_FRAME_HEADER;
	return 0;
}

const char *av_err_name(int err)
{
	static const char *const names[AV_ERR_COUNT] = {
		"ok",	  "empty",    "frame",	  "magic", "truncated", "varint",
		"length", "union",    "enum",	  "boolean", "depth",	"trailing",
		"null",	  "branch",   "symbol",	  "range", "value",	"too_long",
	};
	return err <= 0 && err > -AV_ERR_COUNT ? names[-err] : "unknown";
}
