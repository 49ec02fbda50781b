/*
 * huge: large zeroed memory regions backed by huge pages when the machine has them.
 *
 * Dimension tables are probed at random; with 4 KiB pages nearly every probe also misses the
 * TLB, so their memory comes from here. Three ways to back a region, best first:
 *
 *   hugetlb  mmap(MAP_HUGETLB | MAP_HUGE_2MB) from the reserved pool (/proc/sys/vm/nr_hugepages);
 *            only when the pool has enough free 2 MiB pages, which mmap checks (it reserves them).
 *   thp      anonymous mmap aligned to 2 MiB plus madvise(MADV_HUGEPAGE): transparent huge pages,
 *            when /sys/kernel/mm/transparent_hugepage/enabled is not "never".
 *   4k       plain anonymous mmap.
 *
 * Every region is a whole number of 2 MiB units (the size is rounded up), so only large
 * regions belong here. Thread-safe; never called on the hot path.
 */
#ifndef ENRICHD_HUGE_H
#define ENRICHD_HUGE_H

#include <stddef.h>

enum huge_mode {
	HUGE_MODE_AUTO = 0, /* request only: the best mode available */
	HUGE_MODE_HUGETLB,
	HUGE_MODE_THP,
	HUGE_MODE_4K,
};

/* Granularity of every region: 2 MiB. */
#define HUGE_PAGE_BYTES ((size_t)2 << 20)

/*
 * Maps a zeroed region of at least bytes (rounded up to HUGE_PAGE_BYTES), aligned to 2 MiB.
 * *mode is the request on input: HUGE_MODE_AUTO tries hugetlb, then thp, then 4k; any other
 * mode forces exactly that one (for benchmarks comparing page sizes) and fails if it is not
 * available. On success *mode is set to the mode used and the mapping is logged with its size.
 * Returns NULL with errno set (ENOMEM, EINVAL for bytes == 0) on failure, *mode untouched.
 * Release with huge_free(p, bytes) with the same bytes.
 */
void *huge_alloc(size_t bytes, enum huge_mode *mode);

/* Unmaps a region from huge_alloc; bytes is the size passed to huge_alloc. p may be NULL. */
void huge_free(void *p, size_t bytes);

/* Bytes a region of the given request really occupies (bytes rounded up to 2 MiB). */
size_t huge_size(size_t bytes);

/* "hugetlb", "thp", "4k" or "auto". Never NULL: an unknown value gives "?". */
const char *huge_mode_name(enum huge_mode mode);

/* Parses "auto", "hugetlb", "thp" or "4k". Returns 0, or -EINVAL for another name. */
int huge_mode_parse(const char *name, enum huge_mode *out);

/*
 * Process-wide default used when a request says HUGE_MODE_AUTO (initially HUGE_MODE_AUTO:
 * best available). Benchmarks set HUGE_MODE_4K here to measure without huge pages.
 */
void huge_mode_default_set(enum huge_mode mode);
enum huge_mode huge_mode_default_get(void);

#endif
