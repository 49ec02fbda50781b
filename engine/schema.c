/*
 * schema: the event as configured (contract and syntax in include/schema.h). Off the hot path:
 * parsed and checked once at start.
 */
#include "schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int schema_fail(char *err, size_t cap,
							     const char *fmt, ...)
{
	if (err && cap > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= SCHEMA_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* A path: parts of printable ASCII other than . , " \ = and space, joined by dots. */
static int path_check(const char *path, char *err, size_t cap)
{
	size_t n = strlen(path), parts = 1, part_len = 0;
	if (n == 0 || n >= SCHEMA_PATH_MAX)
		return schema_fail(err, cap, "path '%s': must be 1 to %d bytes", path,
				   SCHEMA_PATH_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c == '.') {
			if (part_len == 0)
				break;
			parts++;
			part_len = 0;
			continue;
		}
		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '"' || c == '\\' || c == '=')
			return schema_fail(err, cap, "path '%s': byte %zu ('%c') may not be in a "
					   "path", path, i, c > 0x20 && c < 0x7f ? c : '?');
		part_len++;
	}
	if (part_len == 0)
		return schema_fail(err, cap, "path '%s': an empty part", path);
	if (parts > SCHEMA_PATH_DEPTH_MAX)
		return schema_fail(err, cap, "path '%s': more than %d parts", path,
				   SCHEMA_PATH_DEPTH_MAX);
	return 0;
}

/* The kind and size of a parsed ClickHouse type, or a reason it cannot be a field's. */
static int field_kind(struct schema_field *f, char *err, size_t cap)
{
	const struct chtype *t = &f->ch;
	f->size = (uint32_t)chtype_width(t);
	f->nullable = t->nullable;
	f->low_cardinality = t->low_cardinality;
	if (t->arrays > 1 || (t->arrays && t->kind != CHTYPE_STRING &&
			      (t->kind < CHTYPE_INT8 || t->kind > CHTYPE_INT64)))
		return schema_fail(err, cap, "type '%s': Arrays are Array(String) or "
				   "Array(Int8..Int64)", f->type);
	if (t->low_cardinality && t->kind != CHTYPE_STRING)
		return schema_fail(err, cap, "type '%s': LowCardinality only of String", f->type);
	if (t->arrays) {
		f->kind = t->kind == CHTYPE_STRING ? SCHEMA_ARRAY_STRING : SCHEMA_ARRAY_I64;
		return 0;
	}
	switch (t->kind) {
	case CHTYPE_STRING: f->kind = SCHEMA_STRING; return 0;
	case CHTYPE_FIXED_STRING: f->kind = SCHEMA_FIXED_STRING; return 0;
	case CHTYPE_UINT8: case CHTYPE_UINT16: case CHTYPE_UINT32: case CHTYPE_UINT64:
		f->kind = SCHEMA_U64; return 0;
	case CHTYPE_INT8: case CHTYPE_INT16: case CHTYPE_INT32: case CHTYPE_INT64:
		f->kind = SCHEMA_I64; return 0;
	case CHTYPE_FLOAT32: case CHTYPE_FLOAT64: f->kind = SCHEMA_F64; return 0;
	case CHTYPE_BOOL: f->kind = SCHEMA_BOOL; return 0;
	case CHTYPE_DATE: f->kind = SCHEMA_DATE; return 0;
	case CHTYPE_DATE32: f->kind = SCHEMA_DATE32; return 0;
	case CHTYPE_DATETIME: f->kind = SCHEMA_DATETIME; return 0;
	case CHTYPE_DATETIME64: f->kind = SCHEMA_DATETIME64; f->size = t->precision; return 0;
	case CHTYPE_UUID: f->kind = SCHEMA_UUID; return 0;
	case CHTYPE_IPV4: f->kind = SCHEMA_IPV4; return 0;
	case CHTYPE_IPV6: f->kind = SCHEMA_IPV6; return 0;
	default:
		return schema_fail(err, cap, "type '%s': not a type of a declared field (String, "
				   "LowCardinality(String), FixedString, [U]Int8..64, Float32/64, Bool, "
				   "Date, Date32, DateTime, DateTime64, UUID, IPv4, IPv6, Array(String), "
				   "Array(Int*), Nullable of those)", f->type);
	}
}

/* The next token of *s: up to white space, or a double-quoted text (for default=). */
static int next_token(const char **s, char *out, size_t cap, char *err, size_t err_cap)
{
	const char *p = *s;
	size_t n = 0;
	bool quoted = false;
	while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
		char c = *p++;
		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && c == '\\' && (*p == '"' || *p == '\\'))
			c = *p++;
		if (n + 1 >= cap)
			return schema_fail(err, err_cap, "'%.40s...': longer than %zu bytes", *s,
					   cap - 1);
		out[n++] = c;
	}
	if (quoted)
		return schema_fail(err, err_cap, "'%s': a quote is not closed", *s);
	out[n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	*s = p;
	return 0;
}

/* The type token: up to white space outside parentheses and quotes. */
static int type_token(const char **s, char *out, size_t cap, char *err, size_t err_cap)
{
	const char *p = *s;
	int depth = 0;
	bool quoted = false;
	size_t n = 0;
	while (*p && (quoted || depth > 0 || (*p != ' ' && *p != '\t'))) {
		if (*p == '\'')
			quoted = !quoted;
		else if (!quoted && *p == '(')
			depth++;
		else if (!quoted && *p == ')')
			depth--;
		if (n + 1 >= cap)
			return schema_fail(err, err_cap, "type longer than %zu bytes", cap - 1);
		out[n++] = *p++;
	}
	out[n] = '\0';
	if (n == 0)
		return schema_fail(err, err_cap, "no type (field.<column> = <type> [from <path>])");
	while (*p == ' ' || *p == '\t')
		p++;
	*s = p;
	return 0;
}

static bool is_time(enum schema_kind k)
{
	return k == SCHEMA_DATE || k == SCHEMA_DATE32 || k == SCHEMA_DATETIME ||
	       k == SCHEMA_DATETIME64;
}

static bool is_string(enum schema_kind k)
{
	return k == SCHEMA_STRING || k == SCHEMA_FIXED_STRING;
}

static int option_unit(struct schema_field *f, const char *v, char *err, size_t cap)
{
	static const char *const names[] = {"", "days", "s", "ms", "us", "ns"};
	if (!is_time(f->kind))
		return schema_fail(err, cap, "unit= applies to Date, Date32, DateTime and "
				   "DateTime64 fields");
	for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v, names[i]) != 0)
			continue;
		if (i == SCHEMA_UNIT_DAYS && f->kind != SCHEMA_DATE && f->kind != SCHEMA_DATE32)
			return schema_fail(err, cap, "unit=days applies to Date and Date32 fields");
		f->unit = (enum schema_unit)i;
		return 0;
	}
	return schema_fail(err, cap, "unit=%s: not s, ms, us, ns or days", v);
}

static int option_aliases(struct schema_field *f, const char *v, char *err, size_t cap)
{
	const char *p = v;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (f->alias_count == SCHEMA_ALIASES_MAX)
			return schema_fail(err, cap, "more than %d aliases", SCHEMA_ALIASES_MAX);
		if (n >= SCHEMA_PATH_MAX)
			return schema_fail(err, cap, "alias longer than %d bytes", SCHEMA_PATH_MAX - 1);
		char *a = f->aliases[f->alias_count++];
		memcpy(a, p, n);
		a[n] = '\0';
		int rc = path_check(a, err, cap);
		if (rc < 0)
			return rc;
		p += n + (comma != NULL);
		if (comma && !*p)
			return schema_fail(err, cap, "aliases=%s: an empty alias", v);
	}
	if (f->alias_count == 0)
		return schema_fail(err, cap, "aliases= needs one or more paths");
	return 0;
}

/* One option key=value of a declaration. */
static int field_option(struct schema_field *f, const char *tok, char *err, size_t cap)
{
	const char *eq = strchr(tok, '=');
	if (!eq)
		return schema_fail(err, cap, "'%s': expected from <path> or an option key=value "
				   "(unit, integers, default, aliases)", tok);
	size_t kn = (size_t)(eq - tok);
	const char *v = eq + 1;
	if (kn == 4 && memcmp(tok, "unit", 4) == 0)
		return option_unit(f, v, err, cap);
	if (kn == 8 && memcmp(tok, "integers", 8) == 0) {
		if (strcmp(v, "text") != 0 || !is_string(f->kind))
			return schema_fail(err, cap, "integers=text is the one form, for String, "
					   "LowCardinality(String) and FixedString fields");
		f->integers_text = true;
		return 0;
	}
	if (kn == 7 && memcmp(tok, "default", 7) == 0) {
		if (f->has_default)
			return schema_fail(err, cap, "default= given twice");
		if (strlen(v) >= SCHEMA_DEFAULT_MAX)
			return schema_fail(err, cap, "default longer than %d bytes",
					   SCHEMA_DEFAULT_MAX - 1);
		if (strcmp(v, "null") == 0 && !f->nullable)
			return schema_fail(err, cap, "default=null needs a Nullable type");
		strcpy(f->default_text, v);
		f->has_default = true;
		return 0;
	}
	if (kn == 7 && memcmp(tok, "aliases", 7) == 0) {
		if (f->alias_count)
			return schema_fail(err, cap, "aliases= given twice");
		return option_aliases(f, v, err, cap);
	}
	return schema_fail(err, cap, "unknown option '%.*s' (unit, integers, default, aliases)",
			   (int)kn, tok);
}

int schema_field_parse(const char *name, const char *text, struct schema_field *out, char *err,
		       size_t err_cap)
{
	struct schema_field f;
	memset(&f, 0, sizeof(f));
	if (!name_ok(name))
		return schema_fail(err, err_cap, "column '%s': 1 to %d letters, digits or '_'", name,
				   SCHEMA_NAME_MAX - 1);
	strcpy(f.name, name);
	const char *p = text;
	while (*p == ' ' || *p == '\t')
		p++;
	char tok[SCHEMA_DEFAULT_MAX + 16];
	int rc = type_token(&p, tok, sizeof(tok), err, err_cap);
	if (rc < 0)
		return rc;
	char why[SCHEMA_ERR_MAX];
	if (chtype_parse(tok, strlen(tok), &f.ch, why, sizeof(why)) < 0)
		return schema_fail(err, err_cap, "type '%s': %s", tok, why);
	if (chtype_name(&f.ch, f.type, sizeof(f.type)) < 0)
		return schema_fail(err, err_cap, "type '%s': name too long", tok);
	rc = field_kind(&f, err, err_cap);
	if (rc < 0)
		return rc;
	snprintf(f.path, sizeof(f.path), "%s", name);
	bool from = false;
	while (*p) {
		rc = next_token(&p, tok, sizeof(tok), err, err_cap);
		if (rc < 0)
			return rc;
		if (strcmp(tok, "from") == 0) {
			if (from)
				return schema_fail(err, err_cap, "from given twice");
			from = true;
			rc = next_token(&p, tok, sizeof(tok), err, err_cap);
			if (rc == 0 && (tok[0] == '\0' || strlen(tok) >= SCHEMA_PATH_MAX))
				rc = schema_fail(err, err_cap, "from needs a path of 1 to %d bytes",
						 SCHEMA_PATH_MAX - 1);
			if (rc == 0)
				rc = path_check(tok, err, err_cap);
			if (rc < 0)
				return rc;
			strcpy(f.path, tok);
			continue;
		}
		rc = field_option(&f, tok, err, err_cap);
		if (rc < 0)
			return rc;
	}
	*out = f;
	return 0;
}

void schema_default_fields(struct schema *s)
{
	static const struct {
		const char *name, *text;
	} defaults[] = {
		{"event_time", "DateTime64(3, 'UTC') from timestamp unit=ms"},
		{"user_id", "UInt64"},
		{"device_id", "String integers=text"},
		{"url", "String"},
	};
	s->field_count = 0;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		int rc = schema_field_parse(defaults[i].name, defaults[i].text,
					    &s->fields[s->field_count++], NULL, 0);
		(void)rc; /* the built-in declarations parse */
	}
	if (s->time_field[0] == '\0')
		strcpy(s->time_field, "event_time");
}

int schema_field_index(const struct schema *s, const char *name)
{
	for (uint32_t i = 0; i < s->field_count; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct {
	const char *name, *type;
} meta_columns[SCHEMA_META_COUNT] = {
	{"_topic", "LowCardinality(String)"},
	{"_partition", "UInt64"},
	{"_offset", "UInt64"},
	{"_kafka_time", "DateTime64(3, 'UTC')"},
	{"_ingest_time", "DateTime64(3, 'UTC')"},
	{"_key", "String"},
	{"_headers.name", "Array(String)"},
	{"_headers.value", "Array(String)"},
};

const char *schema_meta_name(enum schema_meta m)
{
	return (unsigned)m < SCHEMA_META_COUNT ? meta_columns[m].name : "?";
}

const char *schema_meta_type(enum schema_meta m)
{
	return (unsigned)m < SCHEMA_META_COUNT ? meta_columns[m].type : "?";
}

const char *schema_format_name(enum schema_format f)
{
	return f == SCHEMA_FORMAT_AVRO_CONFLUENT ? "avro-confluent" : "json";
}

const char *schema_unit_name(enum schema_unit u)
{
	static const char *const names[] = {"", "days", "s", "ms", "us", "ns"};
	return (unsigned)u < sizeof(names) / sizeof(names[0]) ? names[u] : "?";
}

static int meta_add(struct schema *s, enum schema_meta m, char *err, size_t cap)
{
	for (uint32_t i = 0; i < s->meta_count; i++)
		if (s->meta[i] == m)
			return schema_fail(err, cap, "metadata: %s listed twice", schema_meta_name(m));
	s->meta[s->meta_count++] = m;
	return 0;
}

/* The metadata list: names separated by commas and spaces; _headers stands for both of its. */
static int meta_parse(struct schema *s, char *err, size_t cap)
{
	s->meta_count = 0;
	const char *p = s->metadata;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			return 0;
		size_t n = strcspn(p, " \t,");
		int rc = -1;
		if (n == 8 && memcmp(p, "_headers", 8) == 0) {
			rc = meta_add(s, SCHEMA_META_HEADERS_NAME, err, cap);
			if (rc == 0)
				rc = meta_add(s, SCHEMA_META_HEADERS_VALUE, err, cap);
		} else {
			for (int m = 0; m < SCHEMA_META_COUNT; m++)
				if (m != SCHEMA_META_HEADERS_NAME && m != SCHEMA_META_HEADERS_VALUE &&
				    strlen(meta_columns[m].name) == n &&
				    memcmp(meta_columns[m].name, p, n) == 0)
					rc = meta_add(s, (enum schema_meta)m, err, cap);
			if (rc == -1)
				rc = schema_fail(err, cap, "metadata: unknown column '%.*s' (_topic, "
						 "_partition, _offset, _kafka_time, _ingest_time, "
						 "_key, _headers)", (int)n, p);
		}
		if (rc < 0)
			return rc;
		p += n;
	}
}

/* Whether path a is b or a path inside b's value ("page" and "page.referrer"). */
static bool path_overlaps(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	size_t n = na < nb ? na : nb;
	return strncmp(a, b, n) == 0 && (na == nb || (na < nb ? b[n] : a[n]) == '.');
}

/* Paths (and aliases) of two fields: none equal, none inside the other's value. */
static int paths_check(const struct schema *s, char *err, size_t cap, unsigned *line)
{
	for (uint32_t i = 0; i < s->field_count; i++) {
		const struct schema_field *f = &s->fields[i];
		for (uint32_t a = 0; a <= f->alias_count; a++) {
			const char *pa = a == 0 ? f->path : f->aliases[a - 1];
			for (uint32_t j = 0; j <= i; j++) {
				const struct schema_field *g = &s->fields[j];
				for (uint32_t b = 0; b <= g->alias_count; b++) {
					const char *pb = b == 0 ? g->path : g->aliases[b - 1];
					if ((j == i && b >= a) || !path_overlaps(pa, pb))
						continue;
					*line = f->line;
					return schema_fail(err, cap, "field.%s: path '%s' %s '%s' of "
							   "field.%s", f->name, pa,
							   strcmp(pa, pb) == 0 ? "is also the path"
									       : "overlaps the path",
							   pb, g->name);
				}
			}
		}
	}
	return 0;
}

/* Column names: distinct among the fields, the catch-all and the metadata columns. */
static int names_check(const struct schema *s, char *err, size_t cap, unsigned *line)
{
	for (uint32_t i = 0; i < s->field_count; i++) {
		const struct schema_field *f = &s->fields[i];
		*line = f->line;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(f->name, s->fields[j].name) == 0)
				return schema_fail(err, cap, "field.%s: declared twice", f->name);
		for (uint32_t m = 0; m < s->meta_count; m++)
			if (strcmp(f->name, schema_meta_name(s->meta[m])) == 0)
				return schema_fail(err, cap, "field.%s: the metadata column of that name "
						   "is in the output", f->name);
		if (strcmp(f->name, s->catch_all) == 0)
			return schema_fail(err, cap, "field.%s: the catch_all column has that name",
					   f->name);
	}
	*line = s->catch_all_line;
	if (s->catch_all[0] && !name_ok(s->catch_all))
		return schema_fail(err, cap, "catch_all: '%s' is not 1 to %d letters, digits or '_'",
				   s->catch_all, SCHEMA_NAME_MAX - 1);
	for (uint32_t m = 0; m < s->meta_count; m++)
		if (strcmp(s->catch_all, schema_meta_name(s->meta[m])) == 0)
			return schema_fail(err, cap, "catch_all: '%s' is a metadata column",
					   s->catch_all);
	*line = 0;
	return 0;
}

static int time_check(struct schema *s, char *err, size_t cap, unsigned *line)
{
	*line = s->time_field_line;
	if (s->time_field[0] == '\0')
		return schema_fail(err, cap, "time_field: required with declared fields: the Date, "
				   "DateTime or DateTime64 field that partitions segments");
	int t = schema_field_index(s, s->time_field);
	if (t < 0)
		return schema_fail(err, cap, "time_field: '%s' is not a declared field",
				   s->time_field);
	const struct schema_field *f = &s->fields[t];
	if (f->kind != SCHEMA_DATE && f->kind != SCHEMA_DATETIME && f->kind != SCHEMA_DATETIME64)
		return schema_fail(err, cap, "time_field: field.%s is %s, not a Date, DateTime or "
				   "DateTime64", f->name, f->type);
	if (f->nullable || (f->has_default && strcmp(f->default_text, "null") == 0))
		return schema_fail(err, cap, "time_field: field.%s is Nullable: every event needs "
				   "its time", f->name);
	s->time_index = (uint32_t)t;
	*line = 0;
	return 0;
}

/* What the Avro decoder cannot give. */
static int avro_check(const struct schema *s, char *err, size_t cap, unsigned *line)
{
	*line = s->catch_all_line;
	if (s->catch_all[0])
		return schema_fail(err, cap, "catch_all: JSON only (format avro-confluent)");
	struct schema_avro *av = calloc(1, sizeof(*av));
	if (!av)
		return schema_fail(err, cap, "out of memory");
	int rc = schema_avro_decls(s, av, err, cap);
	for (uint32_t i = 0; rc < 0 && i < s->field_count; i++)
		if (s->fields[i].kind == SCHEMA_IPV4 || s->fields[i].kind == SCHEMA_IPV6)
			*line = s->fields[i].line;
	free(av);
	if (rc == 0)
		*line = 0;
	return rc;
}

int schema_finish(struct schema *s, char *err, size_t err_cap, unsigned *line)
{
	*line = 0;
	if (s->field_count == 0)
		return schema_fail(err, err_cap, "no fields");
	*line = s->metadata_line;
	int rc = meta_parse(s, err, err_cap);
	if (rc == 0)
		rc = names_check(s, err, err_cap, line);
	if (rc == 0)
		rc = paths_check(s, err, err_cap, line);
	if (rc == 0)
		rc = time_check(s, err, err_cap, line);
	if (rc == 0 && s->format == SCHEMA_FORMAT_AVRO_CONFLUENT)
		rc = avro_check(s, err, err_cap, line);
	if (rc == 0)
		*line = 0;
	return rc;
}

int64_t schema_time_ms(const struct schema_field *f, int64_t v)
{
	switch (f->kind) {
	case SCHEMA_DATE:
	case SCHEMA_DATE32:
		return v * 86400000;
	case SCHEMA_DATETIME:
		return v * 1000;
	default: {
		if (f->size == 3)
			return v;
		if (f->size < 3) {
			static const int64_t up[3] = {1000, 100, 10};
			return v * up[f->size];
		}
		int64_t down = 1;
		for (uint32_t i = 3; i < f->size; i++)
			down *= 10;
		return v >= 0 ? v / down : -((-v + down - 1) / down);
	}
	}
}

void schema_print(const struct schema *s, FILE *out)
{
	fprintf(out, "event:      format %s, %u fields, time field %s%s%s\n",
		schema_format_name(s->format), s->field_count, s->time_field,
		s->catch_all[0] ? ", undeclared members into " : "", s->catch_all);
	for (uint32_t i = 0; i < s->field_count; i++) {
		const struct schema_field *f = &s->fields[i];
		fprintf(out, "  field %-16s %-32s from %s", f->name, f->type, f->path);
		for (uint32_t a = 0; a < f->alias_count; a++)
			fprintf(out, "%s%s", a ? "," : " (aliases ", f->aliases[a]);
		if (f->alias_count)
			fprintf(out, ")");
		if (f->unit)
			fprintf(out, ", numbers in %s", schema_unit_name(f->unit));
		if (f->integers_text)
			fprintf(out, ", integers as text");
		if (f->has_default)
			fprintf(out, ", default %s", f->default_text);
		else if (!f->nullable)
			fprintf(out, ", required");
		fprintf(out, "\n");
	}
	fprintf(out, "metadata:  ");
	for (uint32_t m = 0; m < s->meta_count; m++)
		fprintf(out, " %s", schema_meta_name(s->meta[m]));
	fprintf(out, "%s\n", s->meta_count ? "" : " none");
}

/* The Avro target of a field's kind; 0 when Avro has none. */
static enum av_target avro_target(const struct schema_field *f, uint32_t *size)
{
	*size = f->size;
	switch (f->kind) {
	case SCHEMA_STRING: return AV_TO_STRING;
	case SCHEMA_FIXED_STRING: return AV_TO_FIXED_STRING;
	case SCHEMA_U64: return AV_TO_U64;
	case SCHEMA_I64: return AV_TO_I64;
	case SCHEMA_F64: return AV_TO_F64;
	case SCHEMA_BOOL: return AV_TO_BOOL;
	case SCHEMA_DATE: return AV_TO_DATE;
	case SCHEMA_DATE32: return AV_TO_DATE32;
	case SCHEMA_DATETIME: return AV_TO_DATETIME;
	case SCHEMA_DATETIME64: return AV_TO_DATETIME64;
	case SCHEMA_UUID: return AV_TO_UUID;
	case SCHEMA_ARRAY_STRING: return AV_TO_ARRAY_STRING;
	case SCHEMA_ARRAY_I64: return AV_TO_ARRAY_I64;
	default: return 0;
	}
}

int schema_avro_decls(const struct schema *s, struct schema_avro *out, char *err,
		      size_t err_cap)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < s->field_count; i++) {
		const struct schema_field *f = &s->fields[i];
		struct av_field_decl *d = &out->decls[i];
		d->target = avro_target(f, &d->size);
		if (d->target == 0)
			return schema_fail(err, err_cap, "field.%s: %s has no Avro reading (format "
					   "avro-confluent)", f->name, f->type);
		d->path = f->path;
		d->nullable = f->nullable;
		d->default_text = f->has_default ? f->default_text : NULL;
		for (uint32_t a = 0; a < f->alias_count; a++)
			out->aliases[i][a] = f->aliases[a];
		d->aliases = f->alias_count ? out->aliases[i] : NULL;
		d->n_aliases = f->alias_count;
	}
	out->count = s->field_count;
	return 0;
}
