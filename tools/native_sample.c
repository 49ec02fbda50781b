/*
 * enrichd-native-sample: writes a Native file of many blocks covering every type the encoder
 * supports with edge values (min/max of every integer, empty strings, NULLs, non-ASCII and
 * invalid UTF-8, 64 KiB strings, NaN/inf, LowCardinality in both dictionary modes with UInt8,
 * UInt16 and UInt32 indexes), plus the same values in a form ClickHouse ingests independently,
 * so a test can have ClickHouse rebuild every block and compare bytes and values.
 *
 * Output directory:
 *   sample.native       the blocks, written by the encoder
 *   empty.native        a block of 0 rows followed by block 0
 *   block-NNNN.tsv      the raw values of block NNNN (floats as bit patterns, dates as numbers)
 *   structure.txt       the raw columns: file('block-NNNN.tsv', 'TSV', '<structure>')
 *   select.txt          SELECT list turning the raw columns into the typed ones
 *   blocks.txt          the number of blocks
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "native.h"

enum gen {
	G_UINT,     /* unsigned integer of the column's width */
	G_INT,      /* signed integer */
	G_F32,
	G_F64,
	G_BOOL,
	G_STRING,
	G_FIXED,    /* FixedString: up to width bytes */
	G_DATE,
	G_DATE32,
	G_DATETIME,
	G_DT64,
	G_IPV4,
	G_LC,       /* local dictionary */
	G_LC_EXT,   /* external dictionary */
};

struct sample_col {
	const char *name;
	const char *type;
	const char *raw_type; /* column type in the TSV */
	const char *expr;     /* SELECT expression giving the typed column (NULL: the raw column) */
	enum gen gen;
	unsigned bits;        /* G_UINT / G_INT width, G_FIXED length */
	bool nullable;
};

static const struct sample_col cols[] = {
	{"u8", "UInt8", "UInt8", NULL, G_UINT, 8, false},
	{"u16", "UInt16", "UInt16", NULL, G_UINT, 16, false},
	{"u32", "UInt32", "UInt32", NULL, G_UINT, 32, false},
	{"u64", "UInt64", "UInt64", NULL, G_UINT, 64, false},
	{"i8", "Int8", "Int8", NULL, G_INT, 8, false},
	{"i16", "Int16", "Int16", NULL, G_INT, 16, false},
	{"i32", "Int32", "Int32", NULL, G_INT, 32, false},
	{"i64", "Int64", "Int64", NULL, G_INT, 64, false},
	{"f32", "Float32", "UInt32", "reinterpretAsFloat32(f32)", G_F32, 0, false},
	{"f64", "Float64", "UInt64", "reinterpretAsFloat64(f64)", G_F64, 0, false},
	{"b", "Bool", "UInt8", "CAST(b AS Bool)", G_BOOL, 0, false},
	{"s", "String", "String", NULL, G_STRING, 0, false},
	{"fs", "FixedString(5)", "FixedString(5)", NULL, G_FIXED, 5, false},
	{"d", "Date", "UInt16", "CAST(d AS Date)", G_DATE, 0, false},
	{"d32", "Date32", "Int32", "CAST(d32 AS Date32)", G_DATE32, 0, false},
	{"dt", "DateTime", "UInt32", "CAST(dt AS DateTime)", G_DATETIME, 0, false},
	{"t64", "DateTime64(3, 'UTC')", "Int64", "fromUnixTimestamp64Milli(t64, 'UTC')", G_DT64, 0,
	 false},
	{"ip", "IPv4", "UInt32", "CAST(ip AS IPv4)", G_IPV4, 0, false},
	{"n_u8", "Nullable(UInt8)", "Nullable(UInt8)", NULL, G_UINT, 8, true},
	{"n_u64", "Nullable(UInt64)", "Nullable(UInt64)", NULL, G_UINT, 64, true},
	{"n_i32", "Nullable(Int32)", "Nullable(Int32)", NULL, G_INT, 32, true},
	{"n_i64", "Nullable(Int64)", "Nullable(Int64)", NULL, G_INT, 64, true},
	{"n_f32", "Nullable(Float32)", "Nullable(UInt32)", "reinterpretAsFloat32(n_f32)", G_F32, 0,
	 true},
	{"n_f64", "Nullable(Float64)", "Nullable(UInt64)", "reinterpretAsFloat64(n_f64)", G_F64, 0,
	 true},
	{"n_s", "Nullable(String)", "Nullable(String)", NULL, G_STRING, 0, true},
	{"n_fs", "Nullable(FixedString(3))", "Nullable(FixedString(3))", NULL, G_FIXED, 3, true},
	{"n_d", "Nullable(Date)", "Nullable(UInt16)", "CAST(n_d AS Nullable(Date))", G_DATE, 0,
	 true},
	{"n_dt", "Nullable(DateTime)", "Nullable(UInt32)", "CAST(n_dt AS Nullable(DateTime))",
	 G_DATETIME, 0, true},
	{"n_t64", "Nullable(DateTime64(3, 'UTC'))", "Nullable(Int64)",
	 "fromUnixTimestamp64Milli(n_t64, 'UTC')", G_DT64, 0, true},
	{"lc", "LowCardinality(String)", "String", "CAST(lc AS LowCardinality(String))", G_LC, 0,
	 false},
	{"lc_ext", "LowCardinality(String)", "String", "CAST(lc_ext AS LowCardinality(String))",
	 G_LC_EXT, 0, false},
	{"lcn", "LowCardinality(Nullable(String))", "Nullable(String)",
	 "CAST(lcn AS LowCardinality(Nullable(String)))", G_LC, 0, true},
	{"lcn_ext", "LowCardinality(Nullable(String))", "Nullable(String)",
	 "CAST(lcn_ext AS LowCardinality(Nullable(String)))", G_LC_EXT, 0, true},
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

#define BIG_STRING 65536
#define DICT_KEYS 70000
#define ROWS_MAX 70000
#define VAR_BYTES_MAX ((size_t)4 << 20)
#define WIDE_ROWS 254
#define BIG_ROWS_MAX 5000 /* blocks with 64 KiB strings */

/* Rows of each block. Blocks of WIDE_ROWS rows or more use one distinct LowCardinality key per
 * row: 254 rows give 255 keys (UInt8 indexes), 255 give 256 (UInt16), 66000 give UInt32. */
static const uint32_t block_rows[] = {1,  2,   3,    10,  100, 1000, 7,	 300, 64, 5,
				      33, 500, 2,    254, 256, 255,  999, 1,   11, 66000,
				      4,  40,  2000, 123, 9,   77,   600, 3,   50, 8};
#define NBLOCKS (sizeof(block_rows) / sizeof(block_rows[0]))

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static const char *const palette[] = {
	"",
	"a",
	"h\xc3\xa9llo w\xc3\xb6rld",
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",
	"emoji \xf0\x9f\x8e\x89\xf0\x9f\x9a\x80",
	"tab\tnewline\nback\\slash'quote\"cr\r",
	"\\N",
	"ctl\x01\x02\x07\x08\x0b\x0c\x1b\x7f",
	"bad utf8 \x80\xff\xfe\xc3",
	"NULL",
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

struct out {
	FILE *tsv;
	char *big;      /* BIG_STRING bytes */
	char *scratch;  /* a generated string */
	struct native_str *dict;
	char *dict_bytes;
};

/* TSV escaping for ClickHouse's TSV input. */
static void tsv_string(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\\':
			fputs("\\\\", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\0':
			fputs("\\0", f);
			break;
		default:
			fputc(c, f);
		}
	}
}

/* A string value: palette entries, random bytes, and now and then 64 KiB. */
static size_t gen_string(struct out *o, uint32_t row, uint32_t block, uint32_t kind,
			 const char **p)
{
	if (kind == 0) {
		*p = "";
		return 0;
	}
	if ((row % 97 == 5 && block_rows[block] < BIG_ROWS_MAX) || kind == 1) {
		*p = o->big;
		return BIG_STRING;
	}
	uint64_t r = rng() % 4;
	if (r < 2) {
		*p = palette[rng() % NPALETTE];
		return strlen(*p);
	}
	size_t n = rng() % 60;
	for (size_t i = 0; i < n; i++)
		o->scratch[i] = (char)(r == 2 ? 32 + rng() % 95 : rng() % 256);
	*p = o->scratch;
	return n;
}

static int fail_append(const char *col, uint32_t row, int rc)
{
	fprintf(stderr, "enrichd-native-sample: append to %s at row %u: %s\n", col, row,
		strerror(-rc));
	return rc;
}

static double gen_double(uint32_t kind)
{
	static const double edge[] = {0.0, -0.0, NAN, -NAN, INFINITY, -INFINITY, 5e-324,
				      1.7976931348623157e308, 2.2250738585072014e-308, 0.1, 1e-7,
				      1e21, 1e20, -123456.789, 1e-6};
	if (kind < 2)
		return kind == 0 ? -1.7976931348623157e308 : 1.7976931348623157e308;
	uint64_t r = rng();
	if (r % 3 == 0)
		return edge[rng() % (sizeof(edge) / sizeof(edge[0]))];
	if (r % 3 == 1) {
		uint64_t bits = rng();
		double d;
		memcpy(&d, &bits, 8);
		return d; /* any bit pattern, NaN payloads included */
	}
	return (double)(int64_t)rng() / (double)(1 + rng() % 1000000);
}

/* put_*: write the value to the TSV twin and append it to column c. */
static int put_u64(struct native_block *b, uint32_t c, FILE *f, uint64_t v)
{
	fprintf(f, "%llu", (unsigned long long)v);
	return native_append_u64(b, c, v);
}

static int put_i64(struct native_block *b, uint32_t c, FILE *f, int64_t v)
{
	fprintf(f, "%lld", (long long)v);
	return native_append_i64(b, c, v);
}

static int put_str(struct native_block *b, uint32_t c, FILE *f, const char *p, size_t n)
{
	tsv_string(f, p, n);
	return native_append_str(b, c, p, n);
}

/* A value of [min, max] for the row kind: min, max, else uniform. */
static int64_t range_i64(uint32_t kind, int64_t min, int64_t max)
{
	return kind == 0 ? min : kind == 1 ? max : min + (int64_t)(rng() % (uint64_t)(max - min + 1));
}

/* Appends one value to column c and writes its raw form to the TSV. */
static int gen_value(struct native_block *b, uint32_t c, uint32_t row, uint32_t block,
		     struct out *o)
{
	const struct sample_col *sc = &cols[c];
	FILE *f = o->tsv;
	/* Row kinds: 0 = minimum values, 1 = maximum values, 2 = all NULL, else random. */
	uint32_t kind = row < 3 && block % 2 == 0 ? row : 3;
	if (sc->nullable && (kind == 2 || (kind == 3 && rng() % 4 == 0))) {
		fputs("\\N", f);
		int rc = sc->gen == G_LC_EXT ? native_append_code(b, c, 0) : native_append_null(b, c);
		return rc < 0 ? fail_append(sc->name, row, rc) : 0;
	}
	int rc = 0;
	switch (sc->gen) {
	case G_UINT:
	case G_IPV4: {
		unsigned bits = sc->gen == G_IPV4 ? 32 : sc->bits;
		uint64_t max = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
		uint64_t v = kind == 0 ? 0 : kind == 1 ? max : rng() & max;
		rc = put_u64(b, c, f, v);
		break;
	}
	case G_INT: {
		int64_t max = sc->bits == 64 ? INT64_MAX : (int64_t)((1ull << (sc->bits - 1)) - 1);
		int64_t min = -max - 1;
		int64_t v = kind == 0 ? min : kind == 1 ? max : 0;
		if (kind >= 2) {
			uint64_t u = rng() >> (64 - sc->bits);
			v = (int64_t)(u + (uint64_t)min); /* uniform over [min, max] */
		}
		rc = put_i64(b, c, f, v);
		break;
	}
	case G_F32: {
		double d = gen_double(kind);
		if (kind >= 2 && rng() % 2) {
			uint32_t bits = (uint32_t)rng();
			float x;
			memcpy(&x, &bits, 4);
			d = x;
		}
		float fl = (float)d; /* what the encoder stores */
		uint32_t bits;
		memcpy(&bits, &fl, 4);
		fprintf(f, "%u", bits);
		rc = native_append_f64(b, c, d);
		break;
	}
	case G_F64: {
		double d = gen_double(kind);
		uint64_t bits;
		memcpy(&bits, &d, 8);
		fprintf(f, "%llu", (unsigned long long)bits);
		rc = native_append_f64(b, c, d);
		break;
	}
	case G_BOOL:
		rc = put_u64(b, c, f, kind == 0 ? 0 : kind == 1 ? 1 : rng() % 2);
		break;
	case G_STRING: {
		const char *p;
		size_t n = gen_string(o, row, block, kind, &p);
		rc = put_str(b, c, f, p, n);
		break;
	}
	case G_FIXED: {
		size_t n = kind == 0 ? 0 : kind == 1 ? sc->bits : rng() % (sc->bits + 1);
		char v[8];
		for (size_t i = 0; i < n; i++)
			v[i] = (char)(rng() % 4 == 0 ? 0 : kind == 1 ? 0xff : rng() % 256);
		rc = put_str(b, c, f, v, n);
		break;
	}
	case G_DATE:
		rc = put_u64(b, c, f, kind == 0 ? 0 : kind == 1 ? 65535 : rng() % 65536);
		break;
	case G_DATE32: /* ClickHouse's Date32 range: 1900-01-01 .. 2299-12-31 */
		rc = put_i64(b, c, f, range_i64(kind, -25567, 120529));
		break;
	case G_DATETIME:
		rc = put_u64(b, c, f, kind == 0 ? 0 : kind == 1 ? UINT32_MAX : (uint32_t)rng());
		break;
	case G_DT64: /* DateTime64's range: 1900-01-01 00:00:00.000 .. 2299-12-31 23:59:59.999 */
		rc = put_i64(b, c, f, range_i64(kind, -2208988800000, 10413791999999));
		break;
	case G_LC: {
		/* Wide blocks use one distinct key per row; others a small palette. */
		const char *p;
		size_t n;
		char key[32];
		if (block_rows[block] >= WIDE_ROWS) {
			n = (size_t)snprintf(key, sizeof(key), "key-%u", row);
			p = key;
		} else if (kind == 1 && row % 2 == 1) {
			p = o->big;
			n = BIG_STRING;
		} else {
			p = palette[kind == 0 ? 0 : rng() % NPALETTE];
			n = strlen(p);
		}
		rc = put_str(b, c, f, p, n);
		break;
	}
	case G_LC_EXT: {
		uint32_t code;
		if (block_rows[block] >= WIDE_ROWS)
			code = 1 + (row * 7919u) % (DICT_KEYS - 1);
		else
			code = kind == 0 ? 1 : (uint32_t)(1 + rng() % 40);
		const struct native_str *k = &o->dict[code];
		tsv_string(f, k->ptr, k->len);
		rc = native_append_code(b, c, code);
		break;
	}
	}
	return rc < 0 ? fail_append(sc->name, row, rc) : 0;
}

/* External dictionary: code 0 is NULL for the Nullable column ("" for the other); a few empty
 * and non-ASCII keys among "dim-N" (empty ones rare enough for UInt32 indexes in the widest
 * block). */
static int build_dict(struct out *o)
{
	o->dict = calloc(DICT_KEYS, sizeof(*o->dict));
	o->dict_bytes = malloc((size_t)DICT_KEYS * 24);
	if (!o->dict || !o->dict_bytes)
		return -ENOMEM;
	size_t used = 0;
	for (uint32_t i = 0; i < DICT_KEYS; i++) {
		char *p = o->dict_bytes + used;
		int n;
		if (i % 1000 == 0)
			n = 0;
		else if (i % 5 == 0)
			n = snprintf(p, 24, "\xc3\xa9t\xc3\xa9-%u", i);
		else
			n = snprintf(p, 24, "dim-%u", i);
		o->dict[i] = (struct native_str){p, (uint32_t)n};
		used += (size_t)n;
	}
	return 0;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "enrichd-native-sample: %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

static int write_meta(const char *dir)
{
	static char structure[8192], select[8192], count[32];
	size_t a = 0, s = 0;
	for (size_t i = 0; i < NCOLS; i++) {
		a += (size_t)snprintf(structure + a, sizeof(structure) - a, "%s%s %s", i ? ", " : "",
				      cols[i].name, cols[i].raw_type);
		if (cols[i].expr)
			s += (size_t)snprintf(select + s, sizeof(select) - s, "%s%s AS %s",
					      i ? ", " : "", cols[i].expr, cols[i].name);
		else
			s += (size_t)snprintf(select + s, sizeof(select) - s, "%s%s", i ? ", " : "",
					      cols[i].name);
	}
	snprintf(count, sizeof(count), "%zu\n", NBLOCKS);
	int rc = write_file(dir, "structure.txt", structure);
	if (rc == 0)
		rc = write_file(dir, "select.txt", select);
	if (rc == 0)
		rc = write_file(dir, "blocks.txt", count);
	return rc;
}

static int encode_to(struct native_block *b, uint8_t *buf, size_t cap, FILE *f)
{
	size_t len;
	int rc = native_block_encode(b, buf, cap, &len);
	if (rc < 0) {
		fprintf(stderr, "enrichd-native-sample: encode: %s\n", strerror(-rc));
		return rc;
	}
	if (fwrite(buf, 1, len, f) != len)
		return -EIO;
	return 0;
}

static int run(const char *dir, uint64_t seed)
{
	int rc = -ENOMEM;
	struct out o = {0};
	struct native_block *b = NULL;
	uint8_t *buf = NULL;
	FILE *native = NULL, *empty = NULL;
	rng_state = seed;

	struct native_column_spec specs[NCOLS];
	for (size_t i = 0; i < NCOLS; i++) {
		specs[i] = (struct native_column_spec){.name = cols[i].name, .type = cols[i].type};
		if (cols[i].gen == G_LC_EXT) {
			specs[i].dict_mode = NATIVE_DICT_EXTERNAL;
			specs[i].dict_keys_max = DICT_KEYS;
		}
	}
	o.big = malloc(BIG_STRING);
	o.scratch = malloc(64);
	if (!o.big || !o.scratch || build_dict(&o) < 0)
		goto out;
	for (size_t i = 0; i < BIG_STRING; i++)
		o.big[i] = (char)(i % 7 == 6 ? '\t' : 'A' + i % 26);
	rc = native_block_init(&b, specs, NCOLS, ROWS_MAX, VAR_BYTES_MAX);
	if (rc < 0)
		goto out;
	for (uint32_t c = 0; c < NCOLS; c++)
		if (cols[c].gen == G_LC_EXT && (rc = native_block_set_dict(b, c, o.dict, DICT_KEYS)))
			goto out;
	size_t cap = native_block_encoded_max(b);
	buf = malloc(cap);
	rc = -ENOMEM;
	if (!buf)
		goto out;
	rc = write_meta(dir);
	if (rc < 0)
		goto out;
	char path[4096];
	snprintf(path, sizeof(path), "%s/sample.native", dir);
	native = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/empty.native", dir);
	empty = fopen(path, "w");
	rc = -EIO;
	if (!native || !empty)
		goto out;
	/* empty.native starts with a block of 0 rows. */
	rc = encode_to(b, buf, cap, empty);
	if (rc < 0)
		goto out;
	for (uint32_t blk = 0; blk < NBLOCKS; blk++) {
		snprintf(path, sizeof(path), "%s/block-%04u.tsv", dir, blk);
		o.tsv = fopen(path, "w");
		rc = -EIO;
		if (!o.tsv)
			goto out;
		for (uint32_t row = 0; row < block_rows[blk]; row++) {
			for (uint32_t c = 0; c < NCOLS; c++) {
				if (c)
					fputc('\t', o.tsv);
				rc = gen_value(b, c, row, blk, &o);
				if (rc < 0)
					goto out_close_tsv;
			}
			fputc('\n', o.tsv);
			rc = native_block_commit_row(b);
			if (rc < 0)
				goto out_close_tsv;
		}
		rc = encode_to(b, buf, cap, native);
		if (rc == 0 && blk == 0)
			rc = encode_to(b, buf, cap, empty);
		native_block_reset(b);
out_close_tsv:
		if (fclose(o.tsv) != 0 && rc == 0)
			rc = -EIO;
		if (rc < 0)
			goto out;
	}
out:
	if (native && fclose(native) != 0 && rc == 0)
		rc = -EIO;
	if (empty && fclose(empty) != 0 && rc == 0)
		rc = -EIO;
	free(buf);
	native_block_destroy(b);
	free(o.dict);
	free(o.dict_bytes);
	free(o.scratch);
	free(o.big);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"out", required_argument, NULL, 'o'},
		{"seed", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	uint64_t seed = 42;
	int opt;
	while ((opt = getopt_long(argc, argv, "o:s:h", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			dir = optarg;
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'h':
			printf("usage: enrichd-native-sample --out DIR [--seed N]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "usage: enrichd-native-sample --out DIR [--seed N]\n");
		return 2;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "enrichd-native-sample: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int rc = run(dir, seed);
	if (rc < 0) {
		fprintf(stderr, "enrichd-native-sample: failed: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
