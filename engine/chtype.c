/*
 * chtype: ClickHouse type names (contract and grammar in include/chtype.h). A recursive-descent
 * parser over the name, bounded by CHTYPE_ARRAYS_MAX levels of nesting; the wrappers check
 * ClickHouse's nesting rules on the type they wrap.
 */
#include "chtype.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct ch_parser {
	const char *s;
	size_t len;
	size_t pos;
	char *err;
	size_t err_cap;
};

/* Records "<reason> (at offset <at>)" and returns -EINVAL. */
__attribute__((format(printf, 3, 4))) static int ch_fail(struct ch_parser *p, size_t at,
							 const char *fmt, ...)
{
	if (p->err && p->err_cap > 0) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(p->err, p->err_cap, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < p->err_cap)
			snprintf(p->err + n, p->err_cap - (size_t)n, " (at offset %zu)", at);
	}
	return -EINVAL;
}

static void ch_ws(struct ch_parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

/* Skips spaces, then takes c if it is next. */
static bool ch_eat(struct ch_parser *p, char c)
{
	ch_ws(p);
	if (p->pos < p->len && p->s[p->pos] == c) {
		p->pos++;
		return true;
	}
	return false;
}

static bool ch_is_ident(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Reads an identifier [A-Za-z0-9_]+ into (*id, *n); false (nothing read) if there is none. */
static bool ch_ident(struct ch_parser *p, const char **id, size_t *n)
{
	ch_ws(p);
	size_t b = p->pos;
	while (p->pos < p->len && ch_is_ident(p->s[p->pos]))
		p->pos++;
	*id = p->s + b;
	*n = p->pos - b;
	return *n > 0;
}

static bool ch_is(const char *id, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(id, word, n) == 0;
}

/* Reads a decimal number up to max into *out; false, at its start, if there is none or it is
 * larger. */
static bool ch_uint(struct ch_parser *p, uint32_t max, uint32_t *out)
{
	ch_ws(p);
	uint64_t v = 0;
	size_t b = p->pos;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		v = v * 10 + (uint64_t)(p->s[p->pos] - '0');
		if (v > max) {
			p->pos = b;
			return false;
		}
		p->pos++;
	}
	*out = (uint32_t)v;
	return p->pos > b;
}

/* Takes c or fails with "expected 'c' <what>". */
static int ch_expect(struct ch_parser *p, char c, const char *what)
{
	if (ch_eat(p, c))
		return 0;
	return ch_fail(p, p->pos, "expected '%c' %s", c, what);
}

/* A single-quoted time zone name without escapes; '' names none. */
static int ch_tz(struct ch_parser *p, char *tz)
{
	if (!ch_eat(p, '\''))
		return ch_fail(p, p->pos, "expected a quoted time zone");
	size_t b = p->pos;
	while (p->pos < p->len && p->s[p->pos] != '\'') {
		if (p->s[p->pos] == '\\')
			return ch_fail(p, p->pos, "escapes in a time zone name are not supported");
		p->pos++;
	}
	if (p->pos >= p->len)
		return ch_fail(p, b - 1, "unterminated time zone name");
	size_t n = p->pos - b;
	p->pos++;
	if (n >= CHTYPE_TZ_MAX)
		return ch_fail(p, b, "time zone name longer than %d bytes", CHTYPE_TZ_MAX - 1);
	memcpy(tz, p->s + b, n);
	tz[n] = '\0';
	return 0;
}

static const struct {
	const char *name;
	enum chtype_kind kind;
	uint8_t width;
} ch_kinds[] = {
	{"UInt8", CHTYPE_UINT8, 1},       {"UInt16", CHTYPE_UINT16, 2},
	{"UInt32", CHTYPE_UINT32, 4},     {"UInt64", CHTYPE_UINT64, 8},
	{"UInt128", CHTYPE_UINT128, 16},  {"UInt256", CHTYPE_UINT256, 32},
	{"Int8", CHTYPE_INT8, 1},         {"Int16", CHTYPE_INT16, 2},
	{"Int32", CHTYPE_INT32, 4},       {"Int64", CHTYPE_INT64, 8},
	{"Int128", CHTYPE_INT128, 16},    {"Int256", CHTYPE_INT256, 32},
	{"Float32", CHTYPE_FLOAT32, 4},   {"Float64", CHTYPE_FLOAT64, 8},
	{"Bool", CHTYPE_BOOL, 1},         {"Decimal", CHTYPE_DECIMAL, 0},
	{"String", CHTYPE_STRING, 0},     {"FixedString", CHTYPE_FIXED_STRING, 0},
	{"Date", CHTYPE_DATE, 2},         {"Date32", CHTYPE_DATE32, 4},
	{"DateTime", CHTYPE_DATETIME, 4}, {"DateTime64", CHTYPE_DATETIME64, 8},
	{"UUID", CHTYPE_UUID, 16},        {"IPv4", CHTYPE_IPV4, 4},
	{"IPv6", CHTYPE_IPV6, 16},        {"Enum8", CHTYPE_ENUM8, 1},
	{"Enum16", CHTYPE_ENUM16, 2},
};

#define CH_KINDS (sizeof(ch_kinds) / sizeof(ch_kinds[0]))

const char *chtype_kind_name(enum chtype_kind kind)
{
	for (size_t i = 0; i < CH_KINDS; i++)
		if (ch_kinds[i].kind == kind)
			return ch_kinds[i].name;
	return "?";
}

size_t chtype_width(const struct chtype *t)
{
	if (t->kind == CHTYPE_FIXED_STRING)
		return t->fixed_len;
	if (t->kind == CHTYPE_DECIMAL)
		return t->precision <= 9 ? 4 : t->precision <= 18 ? 8 : t->precision <= 38 ? 16 : 32;
	for (size_t i = 0; i < CH_KINDS; i++)
		if (ch_kinds[i].kind == t->kind)
			return ch_kinds[i].width;
	return 0;
}

/* FixedString(N) */
static int ch_fixed_string(struct ch_parser *p, struct chtype *t)
{
	if (!ch_eat(p, '(') || !ch_uint(p, CHTYPE_FIXED_STRING_MAX, &t->fixed_len) ||
	    t->fixed_len == 0)
		return ch_fail(p, p->pos, "FixedString needs a length 1..%u",
			       CHTYPE_FIXED_STRING_MAX);
	return ch_expect(p, ')', "closing FixedString");
}

/* DateTime, DateTime('tz') */
static int ch_datetime(struct ch_parser *p, struct chtype *t)
{
	if (!ch_eat(p, '('))
		return 0;
	int rc = ch_tz(p, t->tz);
	return rc ? rc : ch_expect(p, ')', "after the DateTime time zone");
}

/* DateTime64, DateTime64(P), DateTime64(P, 'tz') */
static int ch_datetime64(struct ch_parser *p, struct chtype *t)
{
	t->precision = 3;
	if (!ch_eat(p, '('))
		return 0;
	if (!ch_uint(p, CHTYPE_DATETIME64_PRECISION_MAX, &t->precision))
		return ch_fail(p, p->pos, "DateTime64 needs a precision 0..%d",
			       CHTYPE_DATETIME64_PRECISION_MAX);
	if (ch_eat(p, ',')) {
		int rc = ch_tz(p, t->tz);
		if (rc)
			return rc;
	}
	return ch_expect(p, ')', "closing DateTime64");
}

/* Decimal[(P[, S])], or (with fixed_precision) Decimal32/64/128/256(S) named name. */
static int ch_decimal(struct ch_parser *p, struct chtype *t, const char *name,
		      uint32_t fixed_precision)
{
	size_t at = p->pos;
	t->precision = fixed_precision ? fixed_precision : 10;
	t->scale = 0;
	if (!ch_eat(p, '('))
		return fixed_precision ? ch_fail(p, at, "%s needs a scale", name) : 0;
	if (!fixed_precision) {
		if (!ch_uint(p, CHTYPE_DECIMAL_PRECISION_MAX, &t->precision) || t->precision == 0)
			return ch_fail(p, p->pos, "Decimal needs a precision 1..%d",
				       CHTYPE_DECIMAL_PRECISION_MAX);
		if (!ch_eat(p, ','))
			return ch_expect(p, ')', "closing Decimal");
	}
	at = p->pos;
	if (!ch_uint(p, CHTYPE_DECIMAL_PRECISION_MAX, &t->scale) || t->scale > t->precision)
		return ch_fail(p, at, "%s needs a scale 0..%u", name, t->precision);
	return ch_expect(p, ')', "closing Decimal");
}

/* One 'name' [= value] of an Enum: a quoted name with \ escapes, an optional value in range. */
static int ch_enum_element(struct ch_parser *p, bool wide)
{
	if (!ch_eat(p, '\''))
		return ch_fail(p, p->pos, "expected a quoted Enum element name");
	size_t at = p->pos - 1;
	while (p->pos < p->len && p->s[p->pos] != '\'')
		p->pos += p->s[p->pos] == '\\' ? 2 : 1;
	if (p->pos >= p->len)
		return ch_fail(p, at, "unterminated Enum element name");
	p->pos++;
	if (!ch_eat(p, '='))
		return 0;
	bool neg = ch_eat(p, '-');
	uint32_t v, max = (wide ? 32767u : 127u) + neg;
	at = p->pos;
	if (!ch_uint(p, max, &v))
		return ch_fail(p, at, "expected an Enum value %d..%d", wide ? -32768 : -128,
			       wide ? 32767 : 127);
	return 0;
}

/* Enum8(...), Enum16(...): the list is checked and kept as written. */
static int ch_enum(struct ch_parser *p, struct chtype *t)
{
	if (!ch_eat(p, '('))
		return ch_fail(p, p->pos, "expected '(' after %s", chtype_kind_name(t->kind));
	ch_ws(p);
	size_t b = p->pos;
	do {
		int rc = ch_enum_element(p, t->kind == CHTYPE_ENUM16);
		if (rc)
			return rc;
	} while (ch_eat(p, ','));
	ch_ws(p);
	t->enum_list = p->s + b;
	t->enum_list_len = (uint32_t)(p->pos - b);
	return ch_expect(p, ')', "closing the Enum");
}

/* The parameters of a plain type whose name was just read, if it takes any. */
static int ch_plain_params(struct ch_parser *p, struct chtype *t)
{
	switch (t->kind) {
	case CHTYPE_FIXED_STRING:
		return ch_fixed_string(p, t);
	case CHTYPE_DATETIME:
		return ch_datetime(p, t);
	case CHTYPE_DATETIME64:
		return ch_datetime64(p, t);
	case CHTYPE_DECIMAL:
		return ch_decimal(p, t, "Decimal", 0);
	case CHTYPE_ENUM8:
	case CHTYPE_ENUM16:
		return ch_enum(p, t);
	default:
		return 0;
	}
}

/* Decimal of a fixed width: the name sets the precision. */
static const struct {
	const char *name;
	uint32_t precision;
} ch_decimals[] = {{"Decimal32", 9}, {"Decimal64", 18}, {"Decimal128", 38}, {"Decimal256", 76}};

/* A plain type (no wrapper) named (id, n) at offset at. */
static int ch_plain(struct ch_parser *p, struct chtype *t, const char *id, size_t n, size_t at)
{
	for (size_t i = 0; i < CH_KINDS; i++) {
		if (ch_is(id, n, ch_kinds[i].name)) {
			t->kind = ch_kinds[i].kind;
			return ch_plain_params(p, t);
		}
	}
	for (size_t i = 0; i < sizeof(ch_decimals) / sizeof(ch_decimals[0]); i++) {
		if (ch_is(id, n, ch_decimals[i].name)) {
			t->kind = CHTYPE_DECIMAL;
			return ch_decimal(p, t, ch_decimals[i].name, ch_decimals[i].precision);
		}
	}
	return ch_fail(p, at, "unsupported type '%.*s'", (int)(n < 64 ? n : 64), id);
}

/* The wrappers: each checks the type T it wraps (in *t, parsed from at) and marks *t wrapped. */

/* Nullable(T): T is plain. */
static int ch_nullable(struct ch_parser *p, struct chtype *t, size_t at)
{
	const char *inner = t->arrays ? "Array" : t->low_cardinality ? "LowCardinality"
						: t->nullable ? "Nullable" : NULL;
	if (inner)
		return ch_fail(p, at, "%s cannot be inside Nullable", inner);
	t->nullable = true;
	return 0;
}

/* LowCardinality(T) or LowCardinality(Nullable(T)), T not Decimal, DateTime64 or Enum. */
static int ch_low_cardinality(struct ch_parser *p, struct chtype *t, size_t at)
{
	if (t->arrays || t->low_cardinality)
		return ch_fail(p, at, "%s cannot be inside LowCardinality",
			       t->arrays ? "Array" : "LowCardinality");
	switch (t->kind) {
	case CHTYPE_DECIMAL:
	case CHTYPE_DATETIME64:
	case CHTYPE_ENUM8:
	case CHTYPE_ENUM16:
		return ch_fail(p, at, "LowCardinality of %s is not a ClickHouse type",
			       chtype_kind_name(t->kind));
	default:
		t->low_cardinality = true;
		return 0;
	}
}

/* Array(T): any T. */
static int ch_array(struct ch_parser *p, struct chtype *t, size_t at)
{
	if (t->arrays >= CHTYPE_ARRAYS_MAX)
		return ch_fail(p, at, "more than %d levels of Array", CHTYPE_ARRAYS_MAX);
	t->arrays++;
	return 0;
}

static const struct {
	const char *name;
	int (*wrap)(struct ch_parser *p, struct chtype *t, size_t at);
} ch_wrappers[] = {
	{"Nullable", ch_nullable},
	{"LowCardinality", ch_low_cardinality},
	{"Array", ch_array},
};

/* A type at p->pos: a wrapper around a type, or a plain type. depth counts the wrappers. */
static int ch_type(struct ch_parser *p, struct chtype *t, unsigned depth)
{
	const char *id;
	size_t n;
	ch_ws(p);
	size_t at = p->pos;
	if (depth > CHTYPE_ARRAYS_MAX + 2)
		return ch_fail(p, at, "types nested more than %d deep", CHTYPE_ARRAYS_MAX + 2);
	if (!ch_ident(p, &id, &n))
		return ch_fail(p, at, "expected a type name");
	for (size_t i = 0; i < sizeof(ch_wrappers) / sizeof(ch_wrappers[0]); i++) {
		if (!ch_is(id, n, ch_wrappers[i].name))
			continue;
		if (!ch_eat(p, '('))
			return ch_fail(p, p->pos, "expected '(' after %s", ch_wrappers[i].name);
		size_t inner = p->pos;
		int rc = ch_type(p, t, depth + 1);
		if (rc == 0)
			rc = ch_wrappers[i].wrap(p, t, inner);
		if (rc)
			return rc;
		if (!ch_eat(p, ')'))
			return ch_fail(p, p->pos, "expected ')' closing %s", ch_wrappers[i].name);
		return 0;
	}
	return ch_plain(p, t, id, n, at);
}

int chtype_parse(const char *name, size_t len, struct chtype *out, char *err, size_t err_cap)
{
	struct ch_parser p = {.s = name, .len = len, .err = err, .err_cap = err_cap};
	struct chtype t;
	memset(&t, 0, sizeof(t));
	if (err && err_cap > 0)
		err[0] = '\0';
	int rc = ch_type(&p, &t, 0);
	if (rc)
		return rc;
	ch_ws(&p);
	if (p.pos != p.len)
		return ch_fail(&p, p.pos, "unexpected '%c' after the type", p.s[p.pos]);
	*out = t;
	return 0;
}

/* A bounded writer: text is written while it fits; len counts it all. */
struct ch_out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void ch_putf(struct ch_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL,
			  o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	o->len += n > 0 ? (size_t)n : 0;
}

/* The plain type's name with its parameters. */
static void ch_plain_name(const struct chtype *t, struct ch_out *o)
{
	switch (t->kind) {
	case CHTYPE_FIXED_STRING:
		ch_putf(o, "FixedString(%u)", t->fixed_len);
		break;
	case CHTYPE_DATETIME:
		if (t->tz[0])
			ch_putf(o, "DateTime('%s')", t->tz);
		else
			ch_putf(o, "DateTime");
		break;
	case CHTYPE_DATETIME64:
		if (t->tz[0])
			ch_putf(o, "DateTime64(%u, '%s')", t->precision, t->tz);
		else
			ch_putf(o, "DateTime64(%u)", t->precision);
		break;
	case CHTYPE_DECIMAL:
		ch_putf(o, "Decimal(%u, %u)", t->precision, t->scale);
		break;
	case CHTYPE_ENUM8:
	case CHTYPE_ENUM16:
		ch_putf(o, "%s(%.*s)", chtype_kind_name(t->kind), (int)t->enum_list_len,
			t->enum_list ? t->enum_list : "");
		break;
	default:
		ch_putf(o, "%s", chtype_kind_name(t->kind));
		break;
	}
}

int chtype_name(const struct chtype *t, char *buf, size_t cap)
{
	if (t->kind == CHTYPE_NONE || t->arrays > CHTYPE_ARRAYS_MAX)
		return -EINVAL;
	struct ch_out o = {buf, cap, 0};
	for (unsigned k = 0; k < t->arrays; k++)
		ch_putf(&o, "Array(");
	if (t->low_cardinality)
		ch_putf(&o, "LowCardinality(");
	if (t->nullable)
		ch_putf(&o, "Nullable(");
	ch_plain_name(t, &o);
	unsigned closing = t->arrays + t->low_cardinality + t->nullable;
	for (unsigned k = 0; k < closing; k++)
		ch_putf(&o, ")");
	return o.len < cap ? (int)o.len : -ENOSPC;
}
