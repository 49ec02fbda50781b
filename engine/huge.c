#include "huge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

/* Regions at least this large are logged at info level, smaller ones at debug. */
#define HUGE_LOG_INFO_BYTES ((size_t)16 << 20)

static _Atomic int huge_mode_default = HUGE_MODE_AUTO;

void huge_mode_default_set(enum huge_mode mode)
{
	atomic_store(&huge_mode_default, (int)mode);
}

enum huge_mode huge_mode_default_get(void)
{
	return (enum huge_mode)atomic_load(&huge_mode_default);
}

const char *huge_mode_name(enum huge_mode mode)
{
	switch (mode) {
	case HUGE_MODE_AUTO:
		return "auto";
	case HUGE_MODE_HUGETLB:
		return "hugetlb";
	case HUGE_MODE_THP:
		return "thp";
	case HUGE_MODE_4K:
		return "4k";
	}
	return "?";
}

int huge_mode_parse(const char *name, enum huge_mode *out)
{
	static const enum huge_mode modes[] = {HUGE_MODE_AUTO, HUGE_MODE_HUGETLB, HUGE_MODE_THP,
					       HUGE_MODE_4K};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(name, huge_mode_name(modes[i])) == 0) {
			*out = modes[i];
			return 0;
		}
	}
	return -EINVAL;
}

size_t huge_size(size_t bytes)
{
	if (bytes > SIZE_MAX - HUGE_PAGE_BYTES)
		return 0;
	return (bytes + HUGE_PAGE_BYTES - 1) & ~(HUGE_PAGE_BYTES - 1);
}

/* Reads a small sysfs/procfs file into buf (NUL-terminated). Returns bytes read or -1. */
static ssize_t huge_read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* True unless transparent huge pages are switched off ("[never]") or absent. */
static bool huge_thp_available(void)
{
	char buf[128];
	if (huge_read_small_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) <=
	    0)
		return false;
	return strstr(buf, "[never]") == NULL;
}

/* True if the hugetlb pool has any pages at all (mmap checks whether enough are free). */
static bool huge_pool_configured(void)
{
	char buf[64];
	if (huge_read_small_file("/proc/sys/vm/nr_hugepages", buf, sizeof(buf)) <= 0)
		return false;
	return buf[0] != '0' || buf[1] != '\n';
}

static void *huge_map_hugetlb(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Anonymous mapping of size bytes aligned to 2 MiB (so THP can back all of it). */
static void *huge_map_aligned(size_t size)
{
	size_t span = size + HUGE_PAGE_BYTES;
	uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uintptr_t start = ((uintptr_t)raw + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
	size_t head = start - (uintptr_t)raw;
	size_t tail = span - head - size;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap((uint8_t *)start + size, tail);
	return (void *)start;
}

static void *huge_map_thp(size_t size)
{
	if (!huge_thp_available())
		return NULL;
	void *p = huge_map_aligned(size);
	if (!p)
		return NULL;
	if (madvise(p, size, MADV_HUGEPAGE) != 0) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

static void *huge_map_4k(size_t size)
{
	void *p = huge_map_aligned(size);
	if (p)
		madvise(p, size, MADV_NOHUGEPAGE); /* forced 4 KiB even when THP is "always" */
	return p;
}

void *huge_alloc(size_t bytes, enum huge_mode *mode)
{
	size_t size = huge_size(bytes);
	if (bytes == 0 || size == 0) {
		errno = bytes == 0 ? EINVAL : ENOMEM;
		return NULL;
	}
	enum huge_mode want = *mode;
	if (want == HUGE_MODE_AUTO)
		want = huge_mode_default_get();
	void *p = NULL;
	enum huge_mode got = want;
	switch (want) {
	case HUGE_MODE_AUTO:
		got = HUGE_MODE_HUGETLB;
		p = huge_pool_configured() ? huge_map_hugetlb(size) : NULL;
		if (!p) {
			got = HUGE_MODE_THP;
			p = huge_map_thp(size);
		}
		if (!p) {
			got = HUGE_MODE_4K;
			p = huge_map_4k(size);
		}
		break;
	case HUGE_MODE_HUGETLB:
		p = huge_map_hugetlb(size);
		break;
	case HUGE_MODE_THP:
		p = huge_map_thp(size);
		break;
	case HUGE_MODE_4K:
		p = huge_map_4k(size);
		break;
	default:
		errno = EINVAL;
		return NULL;
	}
	if (!p) {
		log_warn("huge", "cannot map %zu MiB with %s", size >> 20, huge_mode_name(want));
		errno = ENOMEM;
		return NULL;
	}
	log_msg(size >= HUGE_LOG_INFO_BYTES ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, "huge",
		"mapped %zu MiB with %s pages", size >> 20, huge_mode_name(got));
	*mode = got;
	return p;
}

void huge_free(void *p, size_t bytes)
{
	if (!p)
		return;
	munmap(p, huge_size(bytes));
}
