/*
 * event_default: the JSON event decoder run with the default schema's plan (event_time, user_id,
 * device_id, url), its slots seen as one struct, for the decoder's unit tests
 * (tests/unit/event.c) and its differential fuzz target (tests/fuzz/event_decode.c), which must
 * decode exactly alike. Header only.
 */
#ifndef ENRICHD_TESTS_EVENT_DEFAULT_H
#define ENRICHD_TESTS_EVENT_DEFAULT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "event.h"
#include "schema.h"

/* The default schema's four fields, read from the slots the decoder fills. */
struct event {
	int64_t time_ms;
	uint64_t user_id;
	const char *url;
	const char *device_id;
	uint32_t url_len;
	uint32_t device_id_len;
	uint32_t scratch_used;
};

/* The default schema's plan, made at the first call and kept for the process. A plan that
 * cannot be made is a broken build, not a finding: says why and aborts. */
static inline struct event_plan *event_default_plan(void)
{
	static struct event_plan *plan;
	if (plan == NULL) {
		static struct schema s;
		char why[256];
		unsigned line;
		snprintf(s.metadata, sizeof(s.metadata), "%s", SCHEMA_META_DEFAULT);
		schema_default_fields(&s);
		if (schema_finish(&s, why, sizeof(why), &line) != 0 ||
		    event_plan_create(&s, &plan, why, sizeof(why), NULL) != 0) {
			fprintf(stderr, "default plan: %s\n", why);
			abort();
		}
	}
	return plan;
}

/* event_decode with the default schema's plan; *ev is set only when it returns 0. */
static inline int decode_default(const char *buf, size_t len, struct event *ev, char *scratch,
				 size_t scratch_cap, struct event_error *err)
{
	struct event_value v[4];
	uint32_t used = 0;
	int rc = event_decode(event_default_plan(), buf, len, v, scratch, scratch_cap, &used, err);
	if (rc == 0)
		*ev = (struct event){.time_ms = v[0].i64,
				     .user_id = v[1].u64,
				     .device_id = v[2].ptr,
				     .device_id_len = v[2].len,
				     .url = v[3].ptr,
				     .url_len = v[3].len,
				     .scratch_used = used};
	return rc;
}

#endif
