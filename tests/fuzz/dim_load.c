/*
 * Fuzz target: a dimension source of any bytes, read as TSV, CSV or Native with a spec that
 * takes every attribute type. A load either fails cleanly or gives a table that can be probed
 * and whose dictionaries keep entry 0 for NULL. The first input byte picks the format, key
 * type, attribute count and threads.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dim.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct dim_attr_spec attrs[] = {
	{"s", DIM_TYPE_STRING, true},     {"c", DIM_TYPE_LC_STRING, false},
	{"n", DIM_TYPE_UINT32, true},     {"i", DIM_TYPE_INT16, false},
	{"f", DIM_TYPE_FLOAT64, true},    {"d", DIM_TYPE_DATE, false},
	{"t", DIM_TYPE_DATETIME, true},
};

static void check(const struct dim *d)
{
	unsigned count = dim_attr_count(d);
	for (unsigned a = 0; a < count; a++) {
		size_t n;
		const struct dim_str *dict = dim_lc_dict(d, a, &n);
		if (dict && (n == 0 || dict[0].len != 0))
			__builtin_trap();
	}
	/* Probing with the fuzz data's own bytes must be safe whatever they are. */
	if (dim_key_type(d) == DIM_TYPE_STRING)
		(void)dim_find_str(d, dim_name(d), strlen(dim_name(d)));
	else
		(void)dim_find_u64(d, dim_rows(d));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_level_set(LOG_LEVEL_ERROR);
	static const enum dim_format formats[] = {DIM_FORMAT_TSV, DIM_FORMAT_CSV, DIM_FORMAT_NATIVE};
	static const enum dim_type keys[] = {DIM_TYPE_UINT64, DIM_TYPE_STRING};
	if (size == 0)
		return 0;
	uint8_t pick = data[0];
	struct dim_spec spec = {
		.name = "fuzz",
		.path = "fuzz",
		.data = data + 1,
		.data_len = size - 1,
		.format = formats[pick % 3],
		.key_column = "k",
		.key_type = keys[(pick >> 2) & 1],
		.attrs = attrs,
		.attr_count = (pick >> 3) % 8,
		.threads = 1 + ((pick >> 6) & 1),
	};
	struct dim *d = NULL;
	if (dim_load(&spec, &d, NULL) == 0) {
		check(d);
		dim_free(d);
	}
	return 0;
}
