/*
 * avro_schema: a writer schema's JSON text parsed into the flat representation of avro_impl.h
 * (contract in include/avro.h). Runs off the hot path, once per schema; cJSON reads the text.
 *
 * The parse is one recursive walk of cJSON's tree with the enclosing namespace passed down.
 * Records, unions and enums reserve their run of fields, links or symbols before their children
 * are parsed, so the children's own runs land after it and every run stays contiguous. A named
 * type is registered under its full name before its fields are parsed, which is what lets a record
 * refer to itself. Errors say where in the schema ("fields[2].type.items") and why.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_err.h"
#include "avro_impl.h"

#define NONE UINT32_MAX
/* Largest decimal precision honoured: a 256-bit unscaled value has at most 77 digits. */
#define DECIMAL_PRECISION_MAX 77
#define LOC_MAX 512

struct named {
	uint32_t name; /* text offset of the full name */
	uint32_t node;
};

struct build {
	struct av_node *nodes;
	struct av_field *fields;
	uint32_t *links;
	struct av_sym *syms;
	char *text;
	struct named *named;
	uint32_t n_nodes, n_fields, n_links, n_syms, n_named;
	uint32_t cap_nodes, cap_fields, cap_links, cap_syms, cap_named;
	uint32_t text_len, text_cap;
	uint32_t prim[AV_T_STRING + 1]; /* the shared node of each primitive without attributes */
	int rc;
	char *err;
	size_t errcap;
	char loc[LOC_MAX];
	size_t loc_len;
};

static const char *const type_names[] = {
	[AV_T_NULL] = "null",     [AV_T_BOOLEAN] = "boolean", [AV_T_INT] = "int",
	[AV_T_LONG] = "long",     [AV_T_FLOAT] = "float",     [AV_T_DOUBLE] = "double",
	[AV_T_BYTES] = "bytes",   [AV_T_STRING] = "string",   [AV_T_RECORD] = "record",
	[AV_T_ENUM] = "enum",     [AV_T_ARRAY] = "array",     [AV_T_MAP] = "map",
	[AV_T_UNION] = "union",   [AV_T_FIXED] = "fixed",
};

const char *av_type_name(enum av_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

/* Records the first error: err gets "<location>: <why>". Returns NONE for the caller to pass up. */
__attribute__((format(printf, 3, 4))) static uint32_t fail(struct build *b, int rc,
							    const char *fmt, ...)
{
	if (b->rc != 0)
		return NONE;
	b->rc = rc;
	va_list ap;
	va_start(ap, fmt);
	av_err_vset(b->err, b->errcap, b->loc_len ? b->loc : "schema", fmt, ap);
	va_end(ap);
	return NONE;
}

/* Appends ".what" or "[i]" to the location; loc_pop puts back the length it returns. */
static size_t loc_push(struct build *b, const char *what, int index)
{
	size_t old = b->loc_len;
	int n = index >= 0 ? snprintf(b->loc + old, LOC_MAX - old, "[%d]", index)
			   : snprintf(b->loc + old, LOC_MAX - old, "%s%s", old ? "." : "", what);
	if (n > 0)
		b->loc_len = old + (size_t)n < LOC_MAX ? old + (size_t)n : LOC_MAX - 1;
	return old;
}

static void loc_pop(struct build *b, size_t old)
{
	b->loc_len = old;
	b->loc[old] = '\0';
}

/* Grows *arr (elements of size sz) to hold n more; checks the schema's overall bound. */
static int reserve(struct build *b, void **arr, uint32_t *cap, uint32_t used, uint32_t n, size_t sz)
{
	uint64_t total = (uint64_t)b->n_nodes + b->n_fields + b->n_links + b->n_syms + n;
	if (total > AV_SCHEMA_NODES_MAX) {
		fail(b, -E2BIG, "more than %u types, fields and symbols", AV_SCHEMA_NODES_MAX);
		return -1;
	}
	if (used + n <= *cap)
		return 0;
	uint32_t c = *cap ? *cap : 16;
	while (c < used + n)
		c *= 2;
	void *p = realloc(*arr, (size_t)c * sz);
	if (p == NULL) {
		fail(b, -ENOMEM, "out of memory");
		return -1;
	}
	*arr = p;
	*cap = c;
	return 0;
}

/* Copies s[0..n) NUL-terminated into the text pool; returns its offset or NONE. */
static uint32_t text_add(struct build *b, const char *s, size_t n)
{
	if (b->text_len + n + 1 > b->text_cap) {
		size_t c = b->text_cap ? b->text_cap : 256;
		while (c < b->text_len + n + 1)
			c *= 2;
		if (c > UINT32_MAX)
			return fail(b, -E2BIG, "names too long");
		char *p = realloc(b->text, c);
		if (p == NULL)
			return fail(b, -ENOMEM, "out of memory");
		b->text = p;
		b->text_cap = (uint32_t)c;
	}
	uint32_t off = b->text_len;
	memcpy(b->text + off, s, n);
	b->text[off + n] = '\0';
	b->text_len += (uint32_t)n + 1;
	return off;
}

static uint32_t node_new(struct build *b, enum av_type t)
{
	if (reserve(b, (void **)&b->nodes, &b->cap_nodes, b->n_nodes, 1, sizeof(*b->nodes)) < 0)
		return NONE;
	b->nodes[b->n_nodes] = (struct av_node){.type = (uint8_t)t, .zero_size = t == AV_T_NULL};
	return b->n_nodes++;
}

static bool name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* Whether s[0..n) is a name ([A-Za-z_][A-Za-z0-9_]*), or with dotted a full name of such. */
static bool valid_name(const char *s, size_t n, bool dotted)
{
	if (n == 0 || n > AV_NAME_MAX)
		return false;
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (dotted && s[i] == '.' && !first && i + 1 < n) {
			first = true;
			continue;
		}
		if (!name_char(s[i], first))
			return false;
		first = false;
	}
	return true;
}

static int primitive_of(const char *s)
{
	for (int t = AV_T_NULL; t <= AV_T_STRING; t++)
		if (strcmp(s, type_names[t]) == 0)
			return t;
	return -1;
}

static uint32_t named_find(const struct build *b, const char *full)
{
	for (uint32_t i = 0; i < b->n_named; i++)
		if (strcmp(b->text + b->named[i].name, full) == 0)
			return b->named[i].node;
	return NONE;
}

/* The full name of a reference or definition `name` inside namespace ns, into out. */
static int full_name(const char *name, const char *ns, char *out, size_t cap)
{
	int n = strchr(name, '.') != NULL || ns == NULL || ns[0] == '\0'
			? snprintf(out, cap, "%s", name)
			: snprintf(out, cap, "%s.%s", ns, name);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* A type given by name: a primitive, or a named type defined earlier (ns.name, then name). */
static uint32_t parse_reference(struct build *b, const char *name, const char *ns)
{
	int t = primitive_of(name);
	if (t >= 0) {
		if (b->prim[t] == NONE)
			b->prim[t] = node_new(b, (enum av_type)t);
		return b->prim[t];
	}
	char full[2 * AV_NAME_MAX + 2];
	if (full_name(name, ns, full, sizeof(full)) < 0)
		return fail(b, -EINVAL, "name too long");
	uint32_t node = named_find(b, full);
	if (node == NONE && strchr(name, '.') == NULL)
		node = named_find(b, name);
	if (node == NONE)
		return fail(b, -EINVAL, "unknown type name \"%s\"", name);
	return node;
}

static uint32_t parse_type(struct build *b, const cJSON *j, const char *ns, unsigned depth);

/* Registers a named type's full name (given its "name" and "namespace" members and the
 * enclosing namespace) for node; writes the full name into full and the new namespace into
 * *ns_out (pointing into full). */
static int define_name(struct build *b, const cJSON *j, const char *ns, uint32_t node,
		       char *full, size_t cap, const char **ns_out)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
	const cJSON *space = cJSON_GetObjectItemCaseSensitive(j, "namespace");
	if (!cJSON_IsString(name) || !valid_name(name->valuestring, strlen(name->valuestring), true))
		return fail(b, -EINVAL, "missing or invalid \"name\""), -1;
	if (space != NULL && !cJSON_IsNull(space)) {
		if (!cJSON_IsString(space) ||
		    (space->valuestring[0] != '\0' &&
		     !valid_name(space->valuestring, strlen(space->valuestring), true)))
			return fail(b, -EINVAL, "invalid \"namespace\""), -1;
		ns = space->valuestring;
	}
	if (full_name(name->valuestring, ns, full, cap) < 0)
		return fail(b, -EINVAL, "name too long"), -1;
	if (primitive_of(full) >= 0 || named_find(b, full) != NONE)
		return fail(b, -EINVAL, "type \"%s\" defined twice", full), -1;
	char *dot = strrchr(full, '.');
	*ns_out = "";
	uint32_t off = text_add(b, full, strlen(full));
	if (off == NONE)
		return -1;
	if (b->n_named == b->cap_named) {
		/* at most one entry per node: bounded with them */
		uint32_t c = b->cap_named ? b->cap_named * 2 : 16;
		struct named *p = realloc(b->named, c * sizeof(*p));
		if (p == NULL)
			return fail(b, -ENOMEM, "out of memory"), -1;
		b->named = p;
		b->cap_named = c;
	}
	b->named[b->n_named++] = (struct named){.name = off, .node = node};
	b->nodes[node].name = off;
	if (dot != NULL) {
		*dot = '\0'; /* full now holds the namespace the children inherit */
		*ns_out = full;
	}
	return 0;
}

static uint32_t parse_record(struct build *b, const cJSON *j, const char *ns, unsigned depth)
{
	uint32_t node = node_new(b, AV_T_RECORD);
	char full[2 * AV_NAME_MAX + 2];
	if (node == NONE || define_name(b, j, ns, node, full, sizeof(full), &ns) < 0)
		return NONE;
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
	if (!cJSON_IsArray(fields))
		return fail(b, -EINVAL, "record without a \"fields\" array");
	uint32_t n = (uint32_t)cJSON_GetArraySize(fields);
	if (reserve(b, (void **)&b->fields, &b->cap_fields, b->n_fields, n, sizeof(*b->fields)) < 0)
		return NONE;
	uint32_t first = b->n_fields;
	b->n_fields += n;
	b->nodes[node].first = first;
	b->nodes[node].n = n;
	bool zero = true;
	uint32_t i = 0;
	const cJSON *f;
	cJSON_ArrayForEach(f, fields) {
		size_t at = loc_push(b, "fields", -1);
		loc_push(b, NULL, (int)i);
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
		if (!cJSON_IsString(name) ||
		    !valid_name(name->valuestring, strlen(name->valuestring), false))
			return fail(b, -EINVAL, "missing or invalid field \"name\"");
		for (uint32_t k = first; k < first + i; k++)
			if (strcmp(b->text + b->fields[k].name, name->valuestring) == 0)
				return fail(b, -EINVAL, "field \"%s\" twice", name->valuestring);
		uint32_t off = text_add(b, name->valuestring, strlen(name->valuestring));
		loc_push(b, "type", -1);
		uint32_t t = parse_type(b, cJSON_GetObjectItemCaseSensitive(f, "type"), ns, depth + 1);
		if (off == NONE || t == NONE)
			return NONE;
		b->fields[first + i] = (struct av_field){.name = off, .type = t};
		zero = zero && b->nodes[t].zero_size;
		loc_pop(b, at);
		i++;
	}
	b->nodes[node].zero_size = zero;
	return node;
}

static uint32_t parse_enum(struct build *b, const cJSON *j, const char *ns)
{
	uint32_t node = node_new(b, AV_T_ENUM);
	char full[2 * AV_NAME_MAX + 2];
	if (node == NONE || define_name(b, j, ns, node, full, sizeof(full), &ns) < 0)
		return NONE;
	const cJSON *symbols = cJSON_GetObjectItemCaseSensitive(j, "symbols");
	if (!cJSON_IsArray(symbols) || cJSON_GetArraySize(symbols) == 0)
		return fail(b, -EINVAL, "enum without a non-empty \"symbols\" array");
	uint32_t n = (uint32_t)cJSON_GetArraySize(symbols);
	if (reserve(b, (void **)&b->syms, &b->cap_syms, b->n_syms, n, sizeof(*b->syms)) < 0)
		return NONE;
	uint32_t first = b->n_syms;
	b->n_syms += n;
	b->nodes[node].first = first;
	b->nodes[node].n = n;
	uint32_t i = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, symbols) {
		if (!cJSON_IsString(s) || !valid_name(s->valuestring, strlen(s->valuestring), false))
			return fail(b, -EINVAL, "symbols[%u]: not a valid symbol", i);
		for (uint32_t k = first; k < first + i; k++)
			if (strcmp(b->text + b->syms[k].off, s->valuestring) == 0)
				return fail(b, -EINVAL, "symbol \"%s\" twice", s->valuestring);
		size_t len = strlen(s->valuestring);
		uint32_t off = text_add(b, s->valuestring, len);
		if (off == NONE)
			return NONE;
		b->syms[first + i++] = (struct av_sym){.off = off, .len = (uint32_t)len};
	}
	return node;
}

static uint32_t parse_fixed(struct build *b, const cJSON *j, const char *ns)
{
	uint32_t node = node_new(b, AV_T_FIXED);
	char full[2 * AV_NAME_MAX + 2];
	if (node == NONE || define_name(b, j, ns, node, full, sizeof(full), &ns) < 0)
		return NONE;
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
	if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > INT32_MAX ||
	    size->valuedouble != (double)(int64_t)size->valuedouble)
		return fail(b, -EINVAL, "fixed without a valid \"size\"");
	b->nodes[node].n = (uint32_t)size->valuedouble;
	b->nodes[node].zero_size = b->nodes[node].n == 0;
	return node;
}

/* A union: an array of types, none of them a union, no two unnamed of the same type. */
static uint32_t parse_union(struct build *b, const cJSON *j, const char *ns, unsigned depth)
{
	uint32_t node = node_new(b, AV_T_UNION);
	uint32_t n = (uint32_t)cJSON_GetArraySize(j);
	if (node == NONE ||
	    reserve(b, (void **)&b->links, &b->cap_links, b->n_links, n, sizeof(*b->links)) < 0)
		return NONE;
	uint32_t first = b->n_links;
	b->n_links += n;
	b->nodes[node].first = first;
	b->nodes[node].n = n;
	if (n == 0)
		return fail(b, -EINVAL, "empty union");
	uint32_t i = 0;
	const cJSON *branch;
	cJSON_ArrayForEach(branch, j) {
		size_t at = loc_push(b, NULL, (int)i);
		uint32_t t = parse_type(b, branch, ns, depth + 1);
		if (t == NONE)
			return NONE;
		const struct av_node *bt = &b->nodes[t];
		if (bt->type == AV_T_UNION)
			return fail(b, -EINVAL, "a union directly inside a union");
		for (uint32_t k = first; k < first + i; k++) {
			const struct av_node *o = &b->nodes[b->links[k]];
			bool named = bt->type == AV_T_RECORD || bt->type == AV_T_ENUM ||
				     bt->type == AV_T_FIXED;
			if (named ? o->name == bt->name && o->type == bt->type : o->type == bt->type)
				return fail(b, -EINVAL, "%s twice in a union", av_type_name(bt->type));
		}
		b->links[first + i++] = t;
		loc_pop(b, at);
	}
	return node;
}

static bool json_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *out)
{
	if (!cJSON_IsNumber(j) || j->valuedouble < (double)lo || j->valuedouble > (double)hi ||
	    j->valuedouble != (double)(int64_t)j->valuedouble)
		return false;
	*out = (int64_t)j->valuedouble;
	return true;
}

/* Most decimal digits a two's complement value of n bytes always holds. */
static int64_t fixed_precision_max(uint32_t n)
{
	if (n == 0)
		return 0;
	if (n > AV_DECIMAL_BYTES_MAX)
		return DECIMAL_PRECISION_MAX;
	/* floor(log10(2^(8n-1) - 1)) = floor((8n-1) * log10(2)), exact enough for n <= 32 */
	return (int64_t)((8.0 * n - 1) * 0.30102999566398120);
}

/* The logical type of node (its "logicalType" member in j), when valid; an invalid one is
 * ignored, as the specification says, and the underlying type is read. */
static void parse_logical(struct build *b, const cJSON *j, uint32_t node)
{
	const cJSON *lt = cJSON_GetObjectItemCaseSensitive(j, "logicalType");
	if (!cJSON_IsString(lt))
		return;
	struct av_node *nd = &b->nodes[node];
	const char *s = lt->valuestring;
	enum av_type t = (enum av_type)nd->type;
	if (strcmp(s, "date") == 0 && t == AV_T_INT)
		nd->logical = AV_L_DATE;
	else if (strcmp(s, "time-millis") == 0 && t == AV_T_INT)
		nd->logical = AV_L_TIME_MILLIS;
	else if (strcmp(s, "time-micros") == 0 && t == AV_T_LONG)
		nd->logical = AV_L_TIME_MICROS;
	else if ((strcmp(s, "timestamp-millis") == 0 || strcmp(s, "local-timestamp-millis") == 0) &&
		 t == AV_T_LONG)
		nd->logical = AV_L_TS_MILLIS;
	else if ((strcmp(s, "timestamp-micros") == 0 || strcmp(s, "local-timestamp-micros") == 0) &&
		 t == AV_T_LONG)
		nd->logical = AV_L_TS_MICROS;
	else if (strcmp(s, "uuid") == 0 && (t == AV_T_STRING || (t == AV_T_FIXED && nd->n == 16)))
		nd->logical = AV_L_UUID;
	else if (strcmp(s, "decimal") == 0 && (t == AV_T_BYTES || t == AV_T_FIXED)) {
		int64_t precision, scale = 0;
		int64_t pmax = t == AV_T_FIXED ? fixed_precision_max(nd->n) : DECIMAL_PRECISION_MAX;
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scale");
		if (!json_int(cJSON_GetObjectItemCaseSensitive(j, "precision"), 1, pmax, &precision) ||
		    (sc != NULL && !json_int(sc, 0, precision, &scale)))
			return;
		nd->logical = AV_L_DECIMAL;
		nd->scale = (uint8_t)scale;
	}
}

/* An object: {"type": ...} with the members of its kind. */
static uint32_t parse_object(struct build *b, const cJSON *j, const char *ns, unsigned depth)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (cJSON_IsObject(type) || cJSON_IsArray(type))
		return parse_type(b, type, ns, depth + 1);
	if (!cJSON_IsString(type))
		return fail(b, -EINVAL, "missing \"type\"");
	const char *s = type->valuestring;
	uint32_t node;
	int prim = primitive_of(s);
	if (prim >= 0) {
		node = node_new(b, (enum av_type)prim);
	} else if (strcmp(s, "record") == 0 || strcmp(s, "error") == 0) {
		return parse_record(b, j, ns, depth);
	} else if (strcmp(s, "enum") == 0) {
		return parse_enum(b, j, ns);
	} else if (strcmp(s, "fixed") == 0) {
		node = parse_fixed(b, j, ns);
	} else if (strcmp(s, "array") == 0 || strcmp(s, "map") == 0) {
		bool array = s[0] == 'a';
		node = node_new(b, array ? AV_T_ARRAY : AV_T_MAP);
		if (node == NONE)
			return NONE;
		size_t at = loc_push(b, array ? "items" : "values", -1);
		uint32_t item = parse_type(
			b, cJSON_GetObjectItemCaseSensitive(j, array ? "items" : "values"), ns,
			depth + 1);
		loc_pop(b, at);
		if (item == NONE)
			return NONE;
		b->nodes[node].first = item;
		return node;
	} else {
		return parse_reference(b, s, ns);
	}
	if (node != NONE)
		parse_logical(b, j, node);
	return node;
}

static uint32_t parse_type(struct build *b, const cJSON *j, const char *ns, unsigned depth)
{
	if (b->rc != 0)
		return NONE;
	if (depth > AV_DEPTH_MAX)
		return fail(b, -E2BIG, "types nested deeper than %u", AV_DEPTH_MAX);
	if (cJSON_IsString(j))
		return parse_reference(b, j->valuestring, ns);
	if (cJSON_IsArray(j))
		return parse_union(b, j, ns, depth);
	if (cJSON_IsObject(j))
		return parse_object(b, j, ns, depth);
	return fail(b, -EINVAL, "not a type (a name, an object or a union array)");
}

/* memcpy of n bytes (src may be NULL when n is 0); returns dst + n. */
static char *mempcpy_n(char *dst, const void *src, size_t n)
{
	if (n > 0)
		memcpy(dst, src, n);
	return dst + n;
}

/* Moves the builder's arrays into one allocation owned by the schema. */
static int freeze(struct build *b, uint32_t root, struct av_schema **out)
{
	size_t sz_nodes = (size_t)b->n_nodes * sizeof(struct av_node);
	size_t sz_fields = (size_t)b->n_fields * sizeof(struct av_field);
	size_t sz_links = (size_t)b->n_links * sizeof(uint32_t);
	size_t sz_syms = (size_t)b->n_syms * sizeof(struct av_sym);
	size_t total = sizeof(struct av_schema) + sz_nodes + sz_fields + sz_links + sz_syms +
		       b->text_len + 1;
	char *mem = malloc(total);
	if (mem == NULL)
		return -ENOMEM;
	struct av_schema *s = (struct av_schema *)(void *)mem;
	char *p = mem + sizeof(*s);
	/* every element type is 4-byte aligned, and each array's size a multiple of 4 */
	s->nodes = (const struct av_node *)(void *)p;
	p = mempcpy_n(p, b->nodes, sz_nodes);
	s->fields = (const struct av_field *)(void *)p;
	p = mempcpy_n(p, b->fields, sz_fields);
	s->links = (const uint32_t *)(void *)p;
	p = mempcpy_n(p, b->links, sz_links);
	s->syms = (const struct av_sym *)(void *)p;
	p = mempcpy_n(p, b->syms, sz_syms);
	s->text = p;
	*mempcpy_n(p, b->text, b->text_len) = '\0';
	s->n_nodes = b->n_nodes;
	s->n_fields = b->n_fields;
	s->n_links = b->n_links;
	s->n_syms = b->n_syms;
	s->text_len = b->text_len;
	s->root = root;
	s->mem = mem;
	*out = s;
	return 0;
}

int av_schema_parse(const char *json, size_t len, struct av_schema **out, char *err,
		    size_t errcap)
{
	struct build b = {.err = err, .errcap = errcap};
	if (errcap > 0)
		err[0] = '\0';
	for (size_t i = 0; i <= AV_T_STRING; i++)
		b.prim[i] = NONE;
	if (len > AV_SCHEMA_JSON_MAX) {
		fail(&b, -E2BIG, "longer than %zu bytes", AV_SCHEMA_JSON_MAX);
		return b.rc;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	while (root != NULL && end < json + len && (*end == ' ' || *end == '\t' || *end == '\n' ||
						    *end == '\r'))
		end++;
	if (root == NULL || end != json + len) {
		cJSON_Delete(root);
		fail(&b, -EINVAL, "not JSON");
		return b.rc;
	}
	/* offset 0 of the text pool is the empty name of unnamed nodes */
	uint32_t node = text_add(&b, "", 0) == NONE ? NONE : parse_type(&b, root, "", 0);
	cJSON_Delete(root);
	int rc = b.rc;
	if (rc == 0 && node != NONE)
		rc = freeze(&b, node, out);
	free(b.nodes);
	free(b.fields);
	free(b.links);
	free(b.syms);
	free(b.text);
	free(b.named);
	return rc;
}

void av_schema_free(struct av_schema *s)
{
	if (s != NULL)
		free(s->mem);
}
