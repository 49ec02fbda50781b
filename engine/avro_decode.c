/*
 * avro_decode: the hot path (contract in include/avro.h): one Confluent frame header, then one
 * datum decoded by running its plan's program (engine/avro_impl.h).
 *
 * The decoder keeps one cursor into the message and checks every read against the end before
 * it moves: a varint is read byte by byte up to its type's length, a length is compared with
 * the bytes left before anything is taken, and an array or map block's item count with the
 * bytes left whenever its items take at least one byte each (the item types of zero bytes, null
 * and records of nulls, are skipped without a loop). Skipped values recurse over the writer
 * schema with a depth bound; the program itself is flat and never recurses.
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
static void *s_alloc(struct dec *d, size_t n)
{
	size_t at = (d->used + 7) & ~(size_t)7;
	if (at > d->cap || n > d->cap - at) {
		fail(d, AV_ERR_TOO_LONG, "scratch too small");
		return NULL;
	}
	d->used = at + n;
	return d->scratch + at;
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

/* An integer converted by scale s: v * mul / div, floored, then in lo..hi. */
static inline int scaled(struct dec *d, const struct av_scale *s, int64_t x, const uint8_t *at,
			 int64_t *out)
{
	if (s->mul != 1 && __builtin_mul_overflow(x, s->mul, &x))
		return fail_at(d, AV_ERR_RANGE, "number out of the field's range", at);
	if (s->div != 1) {
		int64_t q = x / s->div;
		x = q - (x % s->div < 0);
	}
	if (x < s->lo || x > s->hi)
		return fail_at(d, AV_ERR_RANGE, "number out of the field's range", at);
	*out = x;
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

/* Runs the program from op 0 to AV_OP_END. */
static int run(struct dec *d, const struct av_plan *pl, struct event_value *vals)
{
	const struct av_op *ops = pl->ops;
	uint32_t pc = 0;
	int64_t idx;
	int rc;
	for (;;) {
		const struct av_op *op = &ops[pc];
		const uint8_t *at = d->p;
		switch ((enum av_opcode)op->code) {
		case AV_OP_END:
			return 0;
		case AV_OP_READ:
			d->field = op->slot;
			if ((rc = read_value(d, pl, op, &vals[op->slot])) != 0)
				return rc;
			pc++;
			break;
		case AV_OP_SKIP:
			d->field = -1;
			if ((rc = skip(d, pl->writer, op->arg, 1)) != 0)
				return rc;
			pc++;
			break;
		case AV_OP_OPTIONAL:
			d->field = op->slot;
			if ((rc = rd_long(d, &idx)) != 0)
				return rc;
			if (idx == op->aux) {
				vals[op->slot].null = 1;
				pc += 2;
			} else if (idx == 1 - (int64_t)op->aux) {
				pc++;
			} else {
				return fail_at(d, AV_ERR_UNION, "union index out of range", at);
			}
			break;
		case AV_OP_UNION:
			if ((rc = rd_long(d, &idx)) != 0)
				return rc;
			if (idx < 0 || idx >= op->aux)
				return fail_at(d, AV_ERR_UNION, "union index out of range", at);
			pc = pl->jumps[op->arg + (uint32_t)idx];
			break;
		case AV_OP_JUMP:
			pc = op->arg;
			break;
		case AV_OP_NULL:
			vals[op->slot].null = 1;
			pc++;
			break;
		case AV_OP_FAIL:
			d->field = op->slot;
			return fail(d, -(int)op->aux, op_fail_reason[op->aux]);
		}
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
