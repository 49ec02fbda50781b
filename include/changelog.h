/*
 * changelog: a dimension's changelog message read as a change (dim_rebuild.h's struct
 * dim_change). The message key is the dimension key: a UInt64 as decimal ASCII digits (at most
 * 20, no sign or space), or the String key's bytes (URL-normalised when the dimension joins
 * with strip-query). The value is a JSON object (RFC 8259: strings with every escape, \uXXXX
 * surrogate pairs included) whose members named after the attributes give their values as the
 * file loaders take them: a string as its text, a number as its text, true and false as 1 and
 * 0, null as NULL; an attribute the object lacks is NULL, other members are ignored. A null
 * value (a tombstone) deletes the key.
 *
 * Refused, with an error code for the dead-letter file and a reason: "changelog_key" (no key,
 * or not a UInt64 where the key is one), "changelog_json" (not a JSON object, a member given
 * twice, an attribute that is an object or an array). A value that does not convert to its
 * attribute's type is found where the change is applied (dim_live.h, dim_rebuild.h).
 */
#ifndef ENRICHD_CHANGELOG_H
#define ENRICHD_CHANGELOG_H

#include <stddef.h>

#include "dim.h"
#include "dim_rebuild.h"

/* Bytes of a reason. */
#define CHANGELOG_REASON_MAX 200

/* Where decoded strings go: arena[*used..cap). */
struct changelog_arena {
	char *buf;
	size_t cap;
	size_t *used;
};

/*
 * Decodes one message into *out (values: spec->attr_count entries, pointing into the arena or
 * the message). Returns 0; -EINVAL with *error and reason set; -ENOSPC when the arena is full
 * (nothing kept).
 */
int changelog_decode(const struct dim_spec *spec, const void *key, size_t key_len,
		     const void *value, size_t value_len, struct changelog_arena *arena,
		     struct dim_change *out, struct dim_str *values, const char **error,
		     char *reason, size_t cap);

#endif
