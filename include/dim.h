/*
 * dim: an immutable in-memory dimension table (users, devices, urls), loaded once from a
 * ClickHouse TSVWithNames / CSVWithNames / Native file and then probed by every worker.
 *
 * Layout. A custom open-addressing hash table (linear probing) hashed with XXH3_64bits, in
 * memory from huge_alloc (huge.h). It is split into up to 64 shards by the top bits of the
 * hash, so each load thread builds its own shards without atomics; a probe never leaves its
 * shard. Each shard has a power-of-two number of slots; the shard count (any number, not only a
 * power of two) is chosen so the table is filled close to spec.load_factor_pct whatever the row
 * count. Slots are 8, 16, 32 or 64 bytes (a power of two, so a slot never straddles a cache
 * line; rows wider than 56 bytes of attributes take 128 or more). A key's home is the first slot
 * of the line its hash picks, so a probe compares a whole line at once and goes on to the next
 * line only when its own is full of other keys:
 *
 *   UInt64 key: slot = key (8 bytes) + attribute values packed. A hit touches one cache line.
 *               Key 0 marks an empty slot, so the row with key 0 lives in one extra slot.
 *   String key: slot = 32-bit hash tag + 32-bit reference to a record in the string arena;
 *               record = attribute values packed + varint key length + key bytes. A hit touches
 *               the slot's line and the record; other keys are skipped by the tag; the full key
 *               is always compared. A record of up to 64 bytes is placed so that it does not
 *               straddle two cache lines (padding from a per-shard budget: ~6 bytes per row for
 *               26-byte records), so such a hit is two lines, not three.
 *
 * Attribute values are stored at their width: LowCardinality(String) as a dictionary code in
 * 1, 2 or 4 bytes (the narrowest the dictionary allows after load), numbers at their width,
 * Date as UInt16 days since 1970-01-01, DateTime as UInt32 seconds since the epoch (UTC),
 * String as a 32-bit arena reference (0 = NULL). Nullable numbers have one null bit each.
 * The string arena of one dimension is at most 4 GiB (DIM_ARENA_BYTES_MAX).
 *
 * LowCardinality dictionaries: code 0 is reserved for NULL (a NULL in a Nullable column, or a
 * missed lookup); codes 1..count-1 are the distinct values in order of first appearance in the
 * source, so the same data gives the same codes in every format and with any thread count. A
 * non-Nullable column reads NULL (\N) as its default '' which gets a code of its own. The codes
 * can be written straight out as LowCardinality(String) or LowCardinality(Nullable(String))
 * indexes with dim_lc_dict() as the keys (entry 0 is the NULL placeholder, an empty string).
 *
 * Threads. dim_load() builds a table with up to spec.threads threads. A loaded table is
 * immutable: every function below taking a const struct dim is safe from any number of threads
 * without locks. Lookups, hashing, prefetching and the row accessors never allocate, never
 * block and never log.
 *
 * Live tables. A table loaded with spec.live takes changes while it is probed (dim_live.h):
 * one writer upserts and deletes rows, any number of readers go on with the functions below,
 * which stay lock-free and wait-free. Its layout differs where changes need it: every row is an
 * immutable record in the arena (a UInt64-keyed slot is 16 bytes, the key and a 32-bit record
 * reference; a String-keyed slot as above), a row handle points at the record, and the table
 * is planned with spare room (spec.live_headroom_pct). Row handles from a lookup stay valid
 * until the reader's next quiescent state (dimpub.h), not for the table's lifetime, and the
 * LowCardinality dictionaries grow (dim_col.dict_count). Tables loaded whole keep the layout
 * above and its probes: a lookup pays one branch per call, not per key, for the choice.
 */
#ifndef ENRICHD_DIM_H
#define ENRICHD_DIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chtype.h"
#include "huge.h"

/* Bounds. */
#define DIM_ATTR_MAX 32                      /* attributes per dimension */
#define DIM_THREADS_MAX 64                   /* load threads */
#define DIM_SOURCE_COLUMNS_MAX 1024          /* columns in a source file */
#define DIM_NAME_MAX 128                     /* bytes in a column or dimension name */
#define DIM_STR_LEN_MAX ((size_t)1 << 20)    /* bytes in one key or String value */
#define DIM_ARENA_BYTES_MAX ((size_t)UINT32_MAX) /* string arena of one dimension */
#define DIM_LOAD_FACTOR_PCT_DEFAULT 60
#define DIM_CANCEL_CHECK_MS 50               /* dim_spec.cancel stops a parse this soon */
#define DIM_LOOKUP_BATCH 64                  /* lookups resolve in groups of this many */
#define DIM_PROBE_AHEAD 32                   /* dim_probe_start_*: keys from a slot's
						prefetch to its probe */
#define DIM_LIVE_HEADROOM_PCT_DEFAULT 25     /* live tables: spare room, % of the load */
#define DIM_LIVE_HEADROOM_PCT_MAX 400
#define DIM_LIVE_DICT_ROOM_PCT_DEFAULT 100   /* live: new LC values, % of the load's */
#define DIM_LIVE_DICT_ROOM_PCT_MAX 10000
#define DIM_LIVE_DICT_ROOM_MIN 64            /* live: new LC values at least */

/* Column types of keys and attributes. Zero is no type, so a zeroed spec is rejected. */
enum dim_type {
	DIM_TYPE_NONE = 0,
	DIM_TYPE_STRING,
	DIM_TYPE_LC_STRING, /* LowCardinality(String): dictionary-encoded */
	DIM_TYPE_UINT8,
	DIM_TYPE_UINT16,
	DIM_TYPE_UINT32,
	DIM_TYPE_UINT64,
	DIM_TYPE_INT8,
	DIM_TYPE_INT16,
	DIM_TYPE_INT32,
	DIM_TYPE_INT64,
	DIM_TYPE_FLOAT64,
	DIM_TYPE_DATE,     /* days since 1970-01-01 (ClickHouse Date, UInt16) */
	DIM_TYPE_DATETIME, /* seconds since 1970-01-01 00:00:00 UTC (ClickHouse DateTime, UInt32) */
};

enum dim_format {
	DIM_FORMAT_AUTO = 0, /* by the path's extension: .tsv, .csv, .native */
	DIM_FORMAT_TSV,      /* TSVWithNames */
	DIM_FORMAT_CSV,      /* CSVWithNames */
	DIM_FORMAT_NATIVE,   /* Native (blocks as SELECT ... FORMAT Native writes them) */
};

/* A byte string that is not NUL-terminated. */
struct dim_str {
	const char *ptr;
	size_t len;
};

/* One configured attribute: the source column of that name, converted to type. */
struct dim_attr_spec {
	const char *column; /* name in the source header; also the attribute's name */
	enum dim_type type;
	bool nullable; /* \N (TSV/CSV) or a Native NULL is kept as NULL, else becomes the default */
};

/*
 * What to load. Only read during dim_load(); the caller keeps ownership of every pointer.
 * Columns are matched by name; extra source columns are ignored.
 */
struct dim_spec {
	const char *name;         /* dimension name for logs and errors, e.g. "users" */
	const char *path;         /* source file (also names the source in errors when data is set) */
	const void *data;         /* if not NULL: load from these bytes instead of reading path */
	size_t data_len;
	enum dim_format format;   /* AUTO needs a path with a known extension */
	const char *key_column;   /* name of the key column */
	enum dim_type key_type;   /* DIM_TYPE_UINT64 or DIM_TYPE_STRING */
	bool key_strip_query;     /* String keys: stored as url_norm_strip_query() gives them */
	const struct dim_attr_spec *attrs;
	unsigned attr_count;      /* <= DIM_ATTR_MAX */
	unsigned threads;         /* load threads; 0 = all online CPUs; capped at DIM_THREADS_MAX */
	unsigned load_factor_pct; /* max fill of the table, 50..90; 0 = DIM_LOAD_FACTOR_PCT_DEFAULT
				   * (60: about 27 B/row for users, 45 for devices; 93% of the keys
				   * lie in their home line with 16-byte slots, 98% with 8) */
	enum huge_mode huge_mode; /* AUTO = best available (huge.h); else forced */
	bool numa_bind;           /* place the table's memory on numa_node (a worker's replica) */
	unsigned numa_node;
	/* If not NULL: once it reads true the load gives up (-ECANCELED) at its next look, between
	 * its steps and every DIM_CANCEL_CHECK_MS of the parse (the parse threads stop at their
	 * next row); a table build under way is finished first. For a process that is stopping. */
	const _Atomic bool *cancel;
	/* Live tables (dim_live.h): the table takes upserts and deletes while it is probed. */
	bool live;
	/* Spare room for new keys and row versions, % of the load's rows and record bytes
	 * (0..DIM_LIVE_HEADROOM_PCT_MAX; 0 = DIM_LIVE_HEADROOM_PCT_DEFAULT): the slots are
	 * planned for rows * (100 + pct)% at load_factor_pct, the arena gets pct% more bytes. */
	unsigned live_headroom_pct;
	/* New values each LowCardinality dictionary can take, % of the values loaded, at least
	 * DIM_LIVE_DICT_ROOM_MIN (0..DIM_LIVE_DICT_ROOM_PCT_MAX; 0 = the default). The code width
	 * is chosen for the room (a 1-byte width is filled to its 255 values). */
	unsigned live_dict_room_pct;
};

/* Filled by dim_load(), on success and on failure. */
struct dim_load_stats {
	uint64_t source_rows;   /* data rows read from the source */
	uint64_t rows;          /* distinct keys in the table */
	uint64_t duplicates;    /* rows whose key appeared earlier in the source (the later wins) */
	uint64_t source_bytes;  /* size of the source */
	uint64_t source_dev;    /* the source file's identity when it was opened (0: data in */
	uint64_t source_ino;    /* memory, or not opened), so a caller can tell a later change */
	int64_t source_mtime_ns;
	uint64_t bytes;         /* dim_bytes() of the result */
	double seconds;         /* wall time of the load */
	double rows_per_s;      /* source_rows / seconds */
	unsigned threads;       /* threads used */
	enum huge_mode huge_mode; /* mode of the table's memory */
	uint64_t error_line;    /* failure: 1-based line (TSV/CSV) or block (Native); 0 if none */
	char error[256];        /* failure: "path:line: reason"; empty on success */
};

struct dim;     /* a loaded table; opaque */
/* A row handle from a lookup; opaque, valid for the table's lifetime (a live table's: until the
 * reader's next quiescent state, dim_live.h). */
struct dim_row;

/*
 * Sources. TSVWithNames: ClickHouse escapes (\t \n \\ \0 \b \f \r \a \v \e \' \" \xHH,
 * a backslash before a raw newline; an unknown escape such as \% keeps its backslash), \N as a
 * whole field is NULL. CSVWithNames: RFC 4180 quoting ("" inside quotes; quoted fields may hold
 * commas and newlines), unquoted values trimmed of spaces and tabs, unquoted \N is NULL. Both:
 * CR LF line ends, a UTF-8 byte order mark and trailing blank lines are accepted; an empty
 * number, Date or DateTime is its default (NULL when Nullable); integers must fit their type
 * (no wrapping); Date is YYYY-MM-DD (1970-01-01..2149-06-06), DateTime is "YYYY-MM-DD hh:mm:ss"
 * (UTC), YYYY-MM-DD or Unix seconds. Native: blocks as ClickHouse writes them, with String,
 * FixedString, LowCardinality of those (also of Nullable), Nullable, integers, Bool, Float32/64,
 * Date, Date32 and DateTime columns converted to the configured types (range-checked); columns
 * that are not loaded may be of any type the Native reader decodes (chtype.h: Arrays, Decimal,
 * Enum, UUID, IPv4/6, wide integers, ...). Files: dim_load.c orchestrates, dim_text.c and
 * dim_native.c read the formats, dim_part.c converts and stages the values, dim.c builds.
 *
 * Loads spec's source into a new table. Uses up to spec->threads threads (mmap, split at row
 * boundaries, parse in parallel, merge dictionaries, build shards in parallel), logging
 * progress on large sources. A key seen again replaces the earlier row (last one in file order
 * wins) and is counted in stats->duplicates and logged.
 * Returns 0 and sets *out (release with dim_free), or -errno with *out untouched and nothing
 * left allocated: -EINVAL for a bad spec, a missing column, a row with the wrong number of
 * columns or a value that does not parse (stats->error and the log name file, line and reason),
 * -ENOENT etc. when the source cannot be opened, -E2BIG when the string arena would exceed
 * DIM_ARENA_BYTES_MAX, -ENOMEM. stats may be NULL.
 * Source files: only a regular file is read (a FIFO, device or directory is -EINVAL at once,
 * never a blocked open or read); it is mapped under a guard (map_guard.h), and a file that
 * shrinks, or whose size or modification time moves, while it is loaded fails the load
 * with -ESTALE, whatever was read of it. A load cancelled through spec->cancel returns
 * -ECANCELED.
 */
int dim_load(const struct dim_spec *spec, struct dim **out, struct dim_load_stats *stats);

/* Frees a table and everything it owns. d may be NULL. No lookup may be running on it. */
void dim_free(struct dim *d);

const char *dim_name(const struct dim *d);      /* valid for d's lifetime */
enum dim_type dim_key_type(const struct dim *d); /* DIM_TYPE_UINT64 or DIM_TYPE_STRING */
size_t dim_rows(const struct dim *d);           /* distinct keys */
size_t dim_bytes(const struct dim *d);          /* all memory: table, arena, dictionaries */
size_t dim_capacity(const struct dim *d);       /* slots in all shards */
size_t dim_slot_bytes(const struct dim *d);     /* 8, 16, 32, 64 (or more for wide rows) */
enum huge_mode dim_huge_mode(const struct dim *d); /* mode of the slot table's memory */

unsigned dim_attr_count(const struct dim *d);
/* Attribute i (< dim_attr_count) in spec order: name, type, nullability. */
const char *dim_attr_name(const struct dim *d, unsigned i);
enum dim_type dim_attr_type(const struct dim *d, unsigned i);
bool dim_attr_nullable(const struct dim *d, unsigned i);
/* Index of the attribute named name, or -ENOENT. */
int dim_attr_index(const struct dim *d, const char *name);

/*
 * LowCardinality dictionary of attribute i: *count entries (>= 1); entry 0 is the NULL
 * placeholder (ptr "" and len 0), entry c the value of code c. Returns NULL with *count = 0 if
 * attribute i is not DIM_TYPE_LC_STRING. Valid for d's lifetime. A live table's dictionary grows
 * in place: *count is the entries published when called (later ones are appended after them;
 * the array and the entries below *count never change).
 */
const struct dim_str *dim_lc_dict(const struct dim *d, unsigned i, size_t *count);

/* ---- batch lookup: hash N keys, prefetch their slots, then probe ---- */

/*
 * hashes[i] = XXH3_64bits of keys[i] (for UInt64 keys, of its 8 little-endian bytes). The hash
 * is unseeded, so it does not depend on d (which may be NULL): one hash serves every replica.
 */
void dim_hash_u64(const struct dim *d, const uint64_t *keys, size_t n, uint64_t *hashes);
void dim_hash_str(const struct dim *d, const struct dim_str *keys, size_t n, uint64_t *hashes);

/* The hash of one key, as dim_hash_u64 / dim_hash_str compute it (for loaders and tests). */
uint64_t dim_hash_key_u64(uint64_t key);
uint64_t dim_hash_key_str(const void *p, size_t len);

/* Prefetches the home slot of each hash, so the probe that follows finds it in cache. */
void dim_prefetch(const struct dim *d, const uint64_t *hashes, size_t n);

/*
 * rows[i] = the row of keys[i], or NULL if the table has no such key; hashes[i] must come from
 * dim_hash_u64/dim_hash_str for keys[i]. Any n; the table must have the matching key type
 * (a mismatch gives all NULL). Strings are compared in full.
 */
void dim_lookup_u64(const struct dim *d, const uint64_t *keys, const uint64_t *hashes, size_t n,
		    const struct dim_row **rows);
void dim_lookup_str(const struct dim *d, const struct dim_str *keys, const uint64_t *hashes,
		    size_t n, const struct dim_row **rows);

/*
 * The worker's probe: hash, prefetch and probe in one pass, by groups of DIM_PROBE_AHEAD keys,
 * each group's lines probed after the next group's loads were started (hashes[i] as dim_hash_*
 * sets them).
 * dim_probe_start_u64 sets rows[i] as dim_lookup_u64 does. For String keys, _start walks each
 * key's slots to its first tag match and prefetches that record (cand[i] = its arena offset,
 * UINT64_MAX: a miss), and _finish, called after the other tables' _start so the record loads of
 * every table overlap, compares the full keys and sets rows[i] as dim_lookup_str does. A table
 * of the other key type gives all NULL.
 */
void dim_probe_start_u64(const struct dim *d, const uint64_t *keys, size_t n, uint64_t *hashes,
			 const struct dim_row **rows);
void dim_probe_start_str(const struct dim *d, const struct dim_str *keys, size_t n,
			 uint64_t *hashes, uint64_t *cand);
void dim_probe_finish_str(const struct dim *d, const struct dim_str *keys, const uint64_t *hashes,
			  const uint64_t *cand, size_t n, const struct dim_row **rows);

/* One-key conveniences (hash + probe), for control paths and tests. */
const struct dim_row *dim_find_u64(const struct dim *d, uint64_t key);
const struct dim_row *dim_find_str(const struct dim *d, const char *key, size_t len);

/*
 * The row in slot i of d, or NULL when the slot is empty; i runs to dim_capacity(d) included
 * (that last one holds the row of UInt64 key 0). A walk over every row, in no particular
 * order, for copying a table (a rebuild, a snapshot), not for lookups.
 */
const struct dim_row *dim_row_at(const struct dim *d, size_t i);

/* The key of a row (row from a lookup on d, not NULL). */
uint64_t dim_row_key_u64(const struct dim *d, const struct dim_row *row);
struct dim_str dim_row_key_str(const struct dim *d, const struct dim_row *row);

/* ---- attribute access ----
 *
 * dim_col(d, i) describes where attribute i sits in a row; the inline readers below take it
 * and a row handle, which may be NULL (a miss): a NULL row reads as NULL, code 0, zero, and an
 * empty string with ptr NULL. Fetch the descriptors once, outside the per-event loop.
 */
struct dim_col {
	const char *name;
	enum dim_type type;
	bool nullable;
	uint8_t width;         /* bytes of the stored value: 1, 2, 4 or 8 */
	uint16_t offset;       /* of the value, from the row handle */
	uint16_t null_offset;  /* nullable numbers: byte holding the null bit, from the row handle */
	uint8_t null_mask;     /* that bit (set = NULL); 0 if the value has no null bit */
	const uint8_t *arena;  /* String: base of the arena references */
	const struct dim_str *dict; /* LowCardinality: the dictionary (see dim_lc_dict) */
	/* LowCardinality: entries published. A live table appends entries and then raises the
	 * count (a release store); a load of it (acquire: any plain read of the field is at least
	 * that) makes entries below it readable. A code read from a row found after the load may
	 * be above it: read the count after the probe. */
	_Atomic uint32_t dict_count;
	uint32_t dict_cap;     /* LowCardinality: most entries it will hold (dict_count if not live) */
};

/* Descriptor of attribute i (< dim_attr_count), valid for d's lifetime. */
const struct dim_col *dim_col(const struct dim *d, unsigned i);

static inline uint64_t dim_col_raw_(const struct dim_col *c, const struct dim_row *row)
{
	const unsigned char *p = (const unsigned char *)row + c->offset;
	switch (c->width) {
	case 1:
		return *p;
	case 2: {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

/* True if the value is NULL: a NULL row, a NULL in the source, or LC code 0. */
static inline bool dim_row_is_null(const struct dim_col *c, const struct dim_row *row)
{
	if (!row)
		return true;
	if (c->null_mask)
		return (((const unsigned char *)row)[c->null_offset] & c->null_mask) != 0;
	if (c->type == DIM_TYPE_LC_STRING || c->type == DIM_TYPE_STRING)
		return dim_col_raw_(c, row) == 0;
	return false;
}

/* LowCardinality code (0 = NULL); for other types the raw stored value. */
static inline uint32_t dim_row_lc(const struct dim_col *c, const struct dim_row *row)
{
	return row ? (uint32_t)dim_col_raw_(c, row) : 0;
}

/* UInt*, Date (days), DateTime (seconds); signed types as their two's complement bits. */
static inline uint64_t dim_row_u64(const struct dim_col *c, const struct dim_row *row)
{
	return row ? dim_col_raw_(c, row) : 0;
}

/* Int* sign-extended; other integer types as dim_row_u64. */
static inline int64_t dim_row_i64(const struct dim_col *c, const struct dim_row *row)
{
	if (!row)
		return 0;
	uint64_t v = dim_col_raw_(c, row);
	switch (c->type) {
	case DIM_TYPE_INT8:
		return (int8_t)(uint8_t)v;
	case DIM_TYPE_INT16:
		return (int16_t)(uint16_t)v;
	case DIM_TYPE_INT32:
		return (int32_t)(uint32_t)v;
	default:
		return (int64_t)v;
	}
}

static inline double dim_row_f64(const struct dim_col *c, const struct dim_row *row)
{
	if (!row)
		return 0.0;
	uint64_t bits = dim_col_raw_(c, row);
	double v;
	memcpy(&v, &bits, sizeof(v));
	return v;
}

/* Decodes the varint at p (at most 5 bytes: values are < 2^35) into *v; returns the bytes after.
 * The arena's String values and keys are a varint length, then the bytes. */
static inline const uint8_t *dim_varint_get(const uint8_t *p, size_t *v)
{
	size_t n = 0;
	for (unsigned shift = 0; shift < 35; shift += 7) {
		uint8_t b = *p++;
		n |= (size_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	*v = n;
	return p;
}

/*
 * String or LowCardinality(String) value: returns its bytes (not NUL-terminated) and sets *len.
 * NULL (or a NULL row) returns NULL with *len = 0; an LC NULL returns "" (entry 0) with len 0.
 * Valid for the table's lifetime (a live table's String value: as long as the row handle).
 */
static inline const char *dim_row_str(const struct dim_col *c, const struct dim_row *row,
				      size_t *len)
{
	*len = 0;
	if (!row)
		return NULL;
	uint32_t v = (uint32_t)dim_col_raw_(c, row);
	if (c->type == DIM_TYPE_LC_STRING) {
		*len = c->dict[v].len;
		return c->dict[v].ptr;
	}
	if (v == 0)
		return NULL;
	return (const char *)dim_varint_get(c->arena + v, len);
}

/* ---- names ---- */

/*
 * Parses a ClickHouse type name (chtype.h) that is a dimension type: String,
 * LowCardinality(String), UInt8..UInt64, Int8..Int64, Float64, Date, DateTime (without a time
 * zone: the table keeps UTC), each optionally inside Nullable(...) (LowCardinality(Nullable(String))
 * too). Returns 0, or -EINVAL for anything else.
 */
int dim_type_parse(const char *name, enum dim_type *type, bool *nullable);
/* The ClickHouse name of type (without Nullable), e.g. "LowCardinality(String)"; "?" if none. */
const char *dim_type_name(enum dim_type type);
/* The ClickHouse type of a dimension type, Nullable if nullable (no time zone). */
void dim_type_chtype(enum dim_type type, bool nullable, struct chtype *out);
/* Parses "auto", "tsv", "csv" or "native". Returns 0, or -EINVAL. */
int dim_format_parse(const char *name, enum dim_format *out);
const char *dim_format_name(enum dim_format format);

#endif
