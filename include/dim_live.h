/*
 * dim_live: changes applied to a loaded table while workers probe it -- the contract enrichd's
 * live sources (the updater) write against. The table side implements it; until it does,
 * engine/dim_live_fallback.c stands in with weak definitions that take no change in place
 * (-ENOSPC), so every change goes through a rebuild (dim_rebuild.h) and a swap.
 *
 * values[i] is attribute i in spec order as text, converted exactly as the file loaders
 * convert (ptr NULL: NULL). One writer per table. Returns 0; -EINVAL for a value that does not
 * convert (err names the attribute and the reason); -ENOSPC when the table or a dictionary has
 * no room (rebuild and swap, then go on); -ENOENT for a delete of a key that is not there;
 * -EPERM for a table not loaded to take changes (rebuilt too); -ENOMEM. dim_changes_publish
 * makes the changes since
 * the last call visible to every worker and retires the versions they replaced. With numa =
 * replicate there is one table per replica: apply to each.
 */
#ifndef ENRICHD_DIM_LIVE_H
#define ENRICHD_DIM_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "dim.h"

struct dim_live_stats {
	uint64_t upserts;
	uint64_t deletes;
};

int dim_upsert_u64(struct dim *d, uint64_t key, const struct dim_str *values, char *err,
		   size_t cap);
int dim_upsert_str(struct dim *d, const char *key, size_t len, const struct dim_str *values,
		   char *err, size_t cap);
int dim_delete_u64(struct dim *d, uint64_t key);
int dim_delete_str(struct dim *d, const char *key, size_t len);
int dim_changes_publish(struct dim *d);
void dim_live_stats(const struct dim *d, struct dim_live_stats *out);

#endif
