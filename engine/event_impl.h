/*
 * event_impl: the JSON decoding plan's layout, shared by its compiler (event_plan.c) and the
 * decoder (event.c). Not a public contract: include/event.h is.
 */
#ifndef ENRICHD_EVENT_IMPL_H
#define ENRICHD_EVENT_IMPL_H

#include <locale.h>
#include <stdbool.h>
#include <stdint.h>

#include "event.h"

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

/* How a field's value is read (one per schema kind; Float32 apart for its rounding). */
enum ev_op {
	OP_STRING = 0,
	OP_FIXED,
	OP_U64,
	OP_I64,
	OP_F64,
	OP_F32,
	OP_BOOL,
	OP_DATE,     /* Date and Date32: days */
	OP_DATETIME, /* seconds */
	OP_DT64,     /* ticks */
	OP_UUID,
	OP_IPV4,
	OP_IPV6,
	OP_ARR_STR,
	OP_ARR_I64,
	OP_OBJECT,   /* not a field's: a trie member that is an object (ev_member.op) */
};

/* Why a field's value is refused; each has its error code (ev_reason_code) and a text. */
enum ev_reason {
	R_PLACE = -1, /* not a refusal: UUID or IPv6 bytes read, to be placed in scratch */
	R_NONE = 0,
	R_TYPE,       /* the wrong JSON type: "not a string", "not an integer or decimal string" */
	R_NOT_INT,    /* "not an integer" */
	R_NEGATIVE,   /* "negative" */
	R_RANGE,      /* "out of range" */
	R_NOT_DEC,    /* "not a decimal string" */
	R_LONG_FIXED, /* "longer than FixedString(N)" */
	R_FORMAT,     /* "bad format" (dates and date-times) */
	R_OFFSET,     /* "bad offset" */
	R_DATE,       /* "invalid date" */
	R_TIME,       /* "invalid time" */
	R_OUTSIDE,    /* "outside <range>" */
	R_EPOCH,      /* "epoch <unit> not an integer" */
	R_NOT_UUID,
	R_NOT_IPV4,
	R_NOT_IPV6,
	R_ELEM_TYPE,  /* "an element is not a string" / "... not an integer" */
	R_ELEM_RANGE, /* "an element is out of range" */
	R_SCRATCH,    /* "longer than the scratch buffer" */
	R_DUPLICATE,  /* "duplicate field" */
	R_MISSING,    /* "missing" */
	R_COUNT,
};

/* A field as the decoder reads it: 64 bytes, what one value needs (reasons apart). */
struct ev_field {
	uint8_t op;            /* enum ev_op */
	uint8_t nullable;
	uint8_t integers_text;
	uint8_t has_unit;      /* numbers are taken (time fields) */
	uint8_t kept;          /* a string value stays in the slot (copied ones count as used) */
	uint8_t has_default;
	uint32_t fixed_len;    /* FixedString(N) */
	uint32_t precision;    /* DateTime64(P); DateTime 0 */
	int64_t lo, hi;        /* integers, days, seconds and ticks: the accepted values */
	uint64_t umax;         /* UInt: the largest value */
	/* A number in the declared unit to the value: times mul, or floor-divided by div. */
	int64_t mul, div;
	const char *const *why; /* R_COUNT reasons, "<path>: <why>" */
};

/* A key of an object of the trie: 64 bytes, what the fast pass needs first at its start. */
struct ev_member {
	uint8_t lit[16];       /* `"key":`, zero-padded (a NUL when it is longer than 16) */
	uint16_t lit_mask;     /* (1 << lit_len) - 1: the bytes of lit to compare */
	uint8_t lit_len;       /* bytes of `"key":` (1 when it is longer than 16) */
	uint8_t op;            /* f->op; OP_OBJECT for an object */
	uint32_t key_off;      /* the unescaped key, at the plan's arena + key_off */
	struct ev_member *next; /* the member expected after this one (at first the declaration
				   order); the plan's member that matches nothing after the last */
	uint64_t bit;          /* 1 << field; 0 for an object */
	const struct ev_field *f; /* field's (NULL for an object) */
	int32_t field;         /* >= 0: this field's value; -1: an object, node child */
	uint32_t child;
	uint32_t key_len;
	uint32_t slot_off;     /* field * sizeof(struct event_value) */
};

struct ev_node {
	uint32_t first, count;  /* members[first..first + count) */
	uint32_t start;         /* a member that matches nothing, whose next is the member
				  expected first (at first the declaration order) */
	uint32_t key_max;       /* longest key: a longer one is not declared here */
	uint32_t table_mask;    /* table of table_mask + 1 slots */
	bool perfect;           /* every key in its home slot: a lookup compares one member */
	uint64_t seed;          /* of the hash, chosen so that the keys do not collide */
	uint32_t *table;        /* member index + 1; 0: empty */
	const char *dup_why;    /* the object given twice: "<path>: duplicate field" */
	const char *obj_why;    /* given as something else: "<path>: not an object" */
};

/* The byte vectors of the scans (event.c), made once with the plan: the scans compare with them
 * in memory, so that no call builds them or keeps them in registers. */
struct ev_scan_vec {
#if defined(__SSE2__)
	__m128i quote, backslash, space, zero, nine;
#else
	int unused;
#endif
#if defined(__AVX2__)
	__m256i quote32, backslash32, space32;
#endif
};

static inline void ev_scan_vec_init(struct ev_scan_vec *sv)
{
#if defined(__SSE2__)
	*sv = (struct ev_scan_vec){
		.quote = _mm_set1_epi8('"'),
		.backslash = _mm_set1_epi8('\\'),
		.space = _mm_set1_epi8(0x20),
		.zero = _mm_set1_epi8('0'),
		.nine = _mm_set1_epi8(9),
#if defined(__AVX2__)
		.quote32 = _mm256_set1_epi8('"'),
		.backslash32 = _mm256_set1_epi8('\\'),
		.space32 = _mm256_set1_epi8(0x20),
#endif
	};
#else
	*sv = (struct ev_scan_vec){0};
#endif
}

/* The fast pass's state (event.c), kept in the plan: a plan is one thread's. */
struct fast {
	struct ev_scan_vec sv;
	const uint8_t *end;
	const uint8_t *lit_end; /* a member's key is compared as 16 bytes before it */
	const uint8_t *lo;  /* the message's first byte */
	struct event_plan *plan; /* its guess of the members' order is updated */
	struct event_value *vals;
	uint8_t *scratch;   /* UUID and IPv6 bytes and arrays only */
	size_t limit;
	size_t used;
	uint64_t seen;
	uint64_t objects;
	/* Where the general pass takes over when this one gives up after a member of the event
	 * object: the byte after that member's value (NULL: from the message's start), the fields
	 * given up to there (objects and used are then as they were there) and the member. */
	const uint8_t *resume;
	uint64_t resume_seen;
	const struct ev_member *resume_last;
	/* event_decode's other arguments, for the general pass when the fast one gives up */
	size_t len;
	uint32_t *scratch_used;
	struct event_error *err;
};

struct event_plan {
	uint32_t field_count;
	uint32_t slots;         /* field_count, + 1 with the catch-all */
	bool catch_all;
	bool has_arrays;
	uint32_t bytes16;       /* UUID and IPv6 fields: 16 scratch bytes each */
	uint64_t all;           /* bit per field */
	uint64_t required;      /* fields neither Nullable nor with a default */
	uint32_t node_count;
	struct ev_node nodes[EVENT_PLAN_NODES_MAX];
	uint32_t member_count;
	struct ev_member *members; /* member_count, one that matches nothing, each node's start */
	struct ev_field *fields;
	struct event_value *dflt; /* per field: its default, or NULL */
	const char *catch_why;  /* "<catch_all>: longer than the scratch buffer" */
	char *arena;            /* keys, reasons, default texts and values */
	size_t arena_len, arena_cap;
	locale_t c_locale;      /* strtod_l's */
	struct fast fast;
};

/* The code of a reason. */
int ev_reason_code(enum ev_reason r);

/* Keys of at most this many bytes are hashed and compared as the 16-byte block `"key"`
 * (zero-padded): in the message they are one load, in a member its lit. */
#define EV_KEY_SHORT 13

/* The hash of a short key's block (w0, w1: its two little-endian words) into a node's table. */
static inline uint32_t ev_block_hash(const struct ev_node *n, uint64_t w0, uint64_t w1)
{
	uint64_t w = w0 * 0x9E3779B97F4A7C15ull ^ w1 * 0xC2B2AE3D27D4EB4Full;
	return (uint32_t)(((w ^ (w >> 29)) * n->seed) >> 40) & n->table_mask;
}

/* The hash of any key k[0..len) into a node's table. */
static inline uint32_t ev_key_hash(const struct ev_node *n, const uint8_t *k, size_t len)
{
	if (len <= EV_KEY_SHORT) {
		uint8_t b[16] = {'"'};
		__builtin_memcpy(b + 1, k, len);
		b[len + 1] = '"';
		uint64_t w0, w1;
		__builtin_memcpy(&w0, b, 8);
		__builtin_memcpy(&w1, b + 8, 8);
		return ev_block_hash(n, w0, w1);
	}
	uint64_t a, b;
	__builtin_memcpy(&a, k, 8);
	__builtin_memcpy(&b, k + len - 8, 8);
	uint64_t w = len ^ a * 0x9E3779B97F4A7C15ull ^ b;
	return (uint32_t)(((w ^ (w >> 29)) * n->seed) >> 40) & n->table_mask;
}

/*
 * Decodes one JSON value text[0..len) (whitespace around allowed) as field f's into *v, with
 * scratch[0..cap) for what it needs: the plan compiler's reading of a declared default. Returns
 * 0, or an event_err code with *why the reason.
 */
int ev_decode_value(const struct event_plan *p, uint32_t f, const char *text, size_t len,
		    struct event_value *v, char *scratch, size_t cap, size_t *used,
		    const char **why);

#endif
