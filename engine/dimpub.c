#include "dimpub.h"

#include <urcu/urcu-qsbr.h>

/*
 * ThreadSanitizer does not model liburcu: its publication (volatile accesses and fences) and its
 * grace periods. In a TSan build (ENRICHD_TSAN) the slots are read and written with atomics,
 * which TSan follows, and a reader's quiescent state releases what it did to the writer that
 * waits for a grace period, as the grace period guarantees.
 */
#if defined(__SANITIZE_THREAD__)
#define DIMPUB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DIMPUB_TSAN 1
#endif
#endif
#ifdef DIMPUB_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char dimpub_tsan_grace;
#define DIMPUB_PUBLISH(slot, v) __atomic_store_n(&(slot), (v), __ATOMIC_RELEASE)
#define DIMPUB_READ(slot) __atomic_load_n(&(slot), __ATOMIC_ACQUIRE)
#define DIMPUB_QUIESCENT() __tsan_release(&dimpub_tsan_grace)
#define DIMPUB_GRACE_DONE() __tsan_acquire(&dimpub_tsan_grace)
#else
#define DIMPUB_PUBLISH(slot, v) rcu_assign_pointer((slot), (v))
#define DIMPUB_READ(slot) rcu_dereference(slot)
#define DIMPUB_QUIESCENT() ((void)0)
#define DIMPUB_GRACE_DONE() ((void)0)
#endif

void dimpub_init(struct dimpub *p, struct dimset *const *sets, uint32_t count)
{
	p->slot_count = count;
	for (uint32_t s = 0; s < count; s++)
		DIMPUB_PUBLISH(p->slots[s], sets[s]);
}

void dimpub_reader_register(void)
{
	urcu_qsbr_register_thread();
}

void dimpub_reader_unregister(void)
{
	DIMPUB_QUIESCENT();
	urcu_qsbr_unregister_thread();
}

void dimpub_quiescent(void)
{
	DIMPUB_QUIESCENT();
	urcu_qsbr_quiescent_state();
}

const struct dimset *dimpub_get(const struct dimpub *p, uint32_t slot)
{
	return DIMPUB_READ(p->slots[slot]);
}

void dimpub_publish(struct dimpub *p, struct dimset *const *next, struct dimset **old)
{
	for (uint32_t s = 0; s < p->slot_count; s++) {
		old[s] = p->slots[s]; /* only the writer changes a slot */
		DIMPUB_PUBLISH(p->slots[s], next[s]);
	}
}

void dimpub_retire(struct dimset *const *old, uint32_t count)
{
	/* After the first, every reader has switched; after the second, none holds old (dimpub.h). */
	urcu_qsbr_synchronize_rcu();
	urcu_qsbr_synchronize_rcu();
	DIMPUB_GRACE_DONE();
	for (uint32_t s = 0; s < count; s++)
		dimset_free(old[s]);
}

void dimpub_destroy(struct dimpub *p)
{
	for (uint32_t s = 0; s < p->slot_count; s++) {
		dimset_free(p->slots[s]);
		p->slots[s] = NULL;
	}
	p->slot_count = 0;
}
