/*
 * dim_live_fallback: stands in for the in-place changes of dim_live.h until the table takes
 * them. Weak definitions: the table's own replace them at link time. None takes a change in
 * place (-ENOSPC), so the updater rebuilds the table with the changes and swaps it, which is
 * correct, only slower.
 */
#include "dim_live.h"

#include <errno.h>
#include <string.h>

__attribute__((weak)) int dim_upsert_u64(struct dim *d, uint64_t key,
					 const struct dim_str *values, char *err, size_t cap)
{
	(void)d, (void)key, (void)values, (void)err, (void)cap;
	return -ENOSPC;
}

__attribute__((weak)) int dim_upsert_str(struct dim *d, const char *key, size_t len,
					 const struct dim_str *values, char *err, size_t cap)
{
	(void)d, (void)key, (void)len, (void)values, (void)err, (void)cap;
	return -ENOSPC;
}

__attribute__((weak)) int dim_delete_u64(struct dim *d, uint64_t key)
{
	(void)d, (void)key;
	return -ENOSPC;
}

__attribute__((weak)) int dim_delete_str(struct dim *d, const char *key, size_t len)
{
	(void)d, (void)key, (void)len;
	return -ENOSPC;
}

__attribute__((weak)) int dim_changes_publish(struct dim *d)
{
	(void)d;
	return 0;
}

__attribute__((weak)) void dim_live_stats(const struct dim *d, struct dim_live_stats *out)
{
	(void)d;
	memset(out, 0, sizeof(*out));
}
