#include "dimpub.h"

#include <urcu/urcu-qsbr.h>

void dimpub_init(struct dimpub *p, struct dimset *const *sets, uint32_t count)
{
	p->slot_count = count;
	for (uint32_t s = 0; s < count; s++)
		rcu_assign_pointer(p->slots[s], sets[s]);
}

void dimpub_reader_register(void)
{
	urcu_qsbr_register_thread();
}

void dimpub_reader_unregister(void)
{
	urcu_qsbr_unregister_thread();
}

void dimpub_quiescent(void)
{
	urcu_qsbr_quiescent_state();
}

const struct dimset *dimpub_get(const struct dimpub *p, uint32_t slot)
{
	return rcu_dereference(p->slots[slot]);
}

void dimpub_publish(struct dimpub *p, struct dimset *const *next, struct dimset **old)
{
	for (uint32_t s = 0; s < p->slot_count; s++) {
		old[s] = p->slots[s]; /* only the writer changes a slot */
		rcu_assign_pointer(p->slots[s], next[s]);
	}
}

void dimpub_retire(struct dimset *const *old, uint32_t count)
{
	/* After the first, every reader has switched; after the second, none holds old (dimpub.h). */
	urcu_qsbr_synchronize_rcu();
	urcu_qsbr_synchronize_rcu();
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
