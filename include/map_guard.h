/*
 * map_guard: reading a file mapping that may shrink under the reader, without SIGBUS ending the
 * process.
 *
 * A read of a mapped page past the end of a file that was truncated after it was mapped raises
 * SIGBUS, on whichever thread reads it. The dimension loader (its parse threads and the table
 * build that copies from the source) and the --input reader read mappings of files an operator
 * may rewrite in place. Once a range is guarded, a SIGBUS inside it is caught: the handler maps
 * zero pages (anonymous, read-only, MAP_FIXED) over the range from the faulting page to its end,
 * marks the guard faulted and returns, so the read that faulted goes on and reads zeros. The
 * owner asks map_guard_faulted() once it is done with the bytes, and throws away what it made of
 * them: the file changed under it. (A rewrite in place that does not shrink the file raises no
 * SIGBUS; the owner sees it by comparing the file's size and times before and after.)
 *
 * A SIGBUS outside every guarded range keeps the disposition it had before the first guard (the
 * handler then installed, else the default: the process ends with a core, as without guards).
 *
 * Cost: nothing per read; map_guard_add installs the handler once (sigaction) and, like
 * map_guard_remove, is a few atomic operations. The handler runs only on a fault.
 *
 * Bounds: MAP_GUARD_SLOTS ranges guarded at once in the process (the loader's source and one
 * --input range per worker); map_guard_add past that returns -EBUSY.
 *
 * Threading: any thread may add, ask and remove its own guard; the handler may run on any thread.
 * A guard must be removed before its range is unmapped.
 */
#ifndef ENRICHD_MAP_GUARD_H
#define ENRICHD_MAP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#define MAP_GUARD_SLOTS 1024

struct map_guard {
	int slot; /* -1: not guarding */
};

/*
 * Guards [addr, addr + len), a mapping of a file (addr page-aligned, len > 0). Returns 0, -EBUSY
 * when MAP_GUARD_SLOTS ranges are guarded already, or -errno when the handler cannot be installed.
 * On failure g guards nothing (map_guard_remove and map_guard_faulted still work on it).
 */
int map_guard_add(struct map_guard *g, const void *addr, size_t len);

/* Whether a read of the range faulted since map_guard_add (its bytes from there on are zeros). */
bool map_guard_faulted(const struct map_guard *g);

/* Stops guarding (before the range is unmapped). A guard that guards nothing is left alone. */
void map_guard_remove(struct map_guard *g);

#endif
