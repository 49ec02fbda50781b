/*
 * map_guard: SIGBUS on guarded file mappings becomes zero pages and a flag (contract in
 * include/map_guard.h).
 *
 * Why not a sigsetjmp guard around the parse: the bytes of a dimension source are read by the
 * loader's parse threads and again by the table build's threads (keys and dictionary values are
 * copied from the source into the arena), so every reader would need a jump target of its own;
 * a range that answers a fault with zeros needs none, and the readers need no change. Why not
 * reading the file into memory: that copy measured 27 ms against 7 ms for mapping and touching a
 * 78 MB source (CPU time, best of 15), about 4% of a 2M-row load, which is a target.
 *
 * The handler calls only mmap (a system call; glibc's wrapper keeps no state) and atomic loads
 * and stores, and keeps errno as it found it.
 */
#include "map_guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct map_guard_slot {
	_Atomic bool used;        /* claimed by an owner */
	_Atomic uintptr_t begin;  /* 0 while the slot guards nothing */
	_Atomic uintptr_t end;
	_Atomic bool faulted;
};

static struct map_guard_slot map_guard_slots[MAP_GUARD_SLOTS];
static struct sigaction map_guard_prev;
static pthread_once_t map_guard_once = PTHREAD_ONCE_INIT;
static int map_guard_install_rc;
static uintptr_t map_guard_page;

/* A SIGBUS outside every guarded range: what was there before the first guard. */
static void map_guard_pass_on(int sig, siginfo_t *si, void *uc)
{
	if (map_guard_prev.sa_flags & SA_SIGINFO) {
		if (map_guard_prev.sa_sigaction) {
			map_guard_prev.sa_sigaction(sig, si, uc);
			return;
		}
	} else if (map_guard_prev.sa_handler != SIG_DFL && map_guard_prev.sa_handler != SIG_IGN) {
		map_guard_prev.sa_handler(sig);
		return;
	}
	/* The default: returning re-runs the faulting read, which now ends the process. */
	signal(SIGBUS, SIG_DFL);
}

static void map_guard_on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t a = (uintptr_t)si->si_addr;
	for (size_t i = 0; i < MAP_GUARD_SLOTS; i++) {
		struct map_guard_slot *s = &map_guard_slots[i];
		uintptr_t begin = atomic_load_explicit(&s->begin, memory_order_acquire);
		uintptr_t end = atomic_load_explicit(&s->end, memory_order_relaxed);
		if (begin == 0 || a < begin || a >= end)
			continue;
		uintptr_t page = a & ~(map_guard_page - 1);
		void *m = mmap((void *)page, end - page, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (m == MAP_FAILED)
			break; /* cannot stand in for the file: as if unguarded */
		atomic_store_explicit(&s->faulted, true, memory_order_release);
		errno = saved;
		return;
	}
	map_guard_pass_on(sig, si, uc);
	errno = saved;
}

static void map_guard_install(void)
{
	map_guard_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = map_guard_on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &map_guard_prev) != 0)
		map_guard_install_rc = -errno;
}

int map_guard_add(struct map_guard *g, const void *addr, size_t len)
{
	g->slot = -1;
	pthread_once(&map_guard_once, map_guard_install);
	if (map_guard_install_rc < 0)
		return map_guard_install_rc;
	for (int i = 0; i < MAP_GUARD_SLOTS; i++) {
		struct map_guard_slot *s = &map_guard_slots[i];
		bool expected = false;
		if (!atomic_compare_exchange_strong(&s->used, &expected, true))
			continue;
		atomic_store_explicit(&s->faulted, false, memory_order_relaxed);
		atomic_store_explicit(&s->end, (uintptr_t)addr + len, memory_order_relaxed);
		atomic_store_explicit(&s->begin, (uintptr_t)addr, memory_order_release);
		g->slot = i;
		return 0;
	}
	return -EBUSY;
}

bool map_guard_faulted(const struct map_guard *g)
{
	return g->slot >= 0 &&
	       atomic_load_explicit(&map_guard_slots[g->slot].faulted, memory_order_acquire);
}

void map_guard_remove(struct map_guard *g)
{
	if (g->slot < 0)
		return;
	struct map_guard_slot *s = &map_guard_slots[g->slot];
	atomic_store_explicit(&s->begin, 0, memory_order_release);
	atomic_store_explicit(&s->used, false, memory_order_release);
	g->slot = -1;
}
