#include "dimpub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <urcu/urcu-qsbr.h>

#include "log.h"

/*
 * ThreadSanitizer does not see liburcu's barriers (the library is not instrumented), so on its
 * own it would take a writer's reuse of memory after a grace period for a race with the
 * readers' earlier loads. In a ThreadSanitizer build a quiescent state releases and the end of
 * a grace period acquires one sync object: what a reader did before its quiescent state then
 * happens before what the writer does after the grace period, which is what QSBR guarantees.
 * Loads a reader makes after its quiescent state stay unordered, so a real use after reuse is
 * still reported.
 */
#if defined(__SANITIZE_THREAD__)
#define DIMPUB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DIMPUB_TSAN 1
#endif
#endif

#ifdef DIMPUB_TSAN
#include <sanitizer/tsan_interface.h>
static char dimpub_tsan_gp;
static inline void dimpub_tsan_release(void)
{
	__tsan_release(&dimpub_tsan_gp);
}
static inline void dimpub_tsan_acquire(void)
{
	__tsan_acquire(&dimpub_tsan_gp);
}
/* The slots too: liburcu's publication is volatile accesses and fences, which TSan does not
 * follow; atomics it does. */
#define DIMPUB_PUBLISH(slot, v) __atomic_store_n(&(slot), (v), __ATOMIC_RELEASE)
#define DIMPUB_READ(slot) __atomic_load_n(&(slot), __ATOMIC_ACQUIRE)
#else
static inline void dimpub_tsan_release(void)
{
}
static inline void dimpub_tsan_acquire(void)
{
}
#define DIMPUB_PUBLISH(slot, v) rcu_assign_pointer((slot), (v))
#define DIMPUB_READ(slot) rcu_dereference(slot)
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
	dimpub_tsan_release();
	urcu_qsbr_unregister_thread();
}

void dimpub_quiescent(void)
{
	dimpub_tsan_release();
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
	dimpub_tsan_acquire();
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

/* ---- grace periods without waiting ---- */

/*
 * The grace-period thread's state. Tickets are numbered under mu; completed only grows, and a
 * ticket is done once completed reaches it: the thread takes the latest ticket, runs one grace
 * period (which began after every ticket up to it was taken) and completes them all.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a ticket was taken */
	pthread_cond_t done; /* completed grew */
	uint64_t requested;  /* the latest ticket */
	_Atomic uint64_t completed;
	bool started, failed;
} dimpub_gp = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

/* Marks every ticket up to ticket done (never moving back). Called with mu held. */
static void dimpub_gp_complete(uint64_t ticket)
{
	if (atomic_load_explicit(&dimpub_gp.completed, memory_order_relaxed) < ticket)
		atomic_store_explicit(&dimpub_gp.completed, ticket, memory_order_release);
	pthread_cond_broadcast(&dimpub_gp.done);
}

static void *dimpub_gp_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "enrichd-gp");
	pthread_mutex_lock(&dimpub_gp.mu);
	for (;;) {
		while (dimpub_gp.requested ==
		       atomic_load_explicit(&dimpub_gp.completed, memory_order_relaxed))
			pthread_cond_wait(&dimpub_gp.work, &dimpub_gp.mu);
		uint64_t ticket = dimpub_gp.requested;
		pthread_mutex_unlock(&dimpub_gp.mu);
		urcu_qsbr_synchronize_rcu();
		dimpub_tsan_acquire();
		pthread_mutex_lock(&dimpub_gp.mu);
		dimpub_gp_complete(ticket);
	}
	return NULL;
}

/* Starts the thread once (mu held); false if it cannot run. */
static bool dimpub_gp_thread_start(void)
{
	if (dimpub_gp.started || dimpub_gp.failed)
		return dimpub_gp.started;
	pthread_attr_t attr;
	pthread_t thread;
	int rc = pthread_attr_init(&attr);
	if (rc == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&thread, &attr, dimpub_gp_thread, NULL);
		pthread_attr_destroy(&attr);
	}
	dimpub_gp.started = rc == 0;
	dimpub_gp.failed = rc != 0;
	if (rc != 0)
		log_warn("dimpub", "cannot start the grace-period thread (%s): writers wait for "
			 "their grace periods themselves", strerror(rc));
	return dimpub_gp.started;
}

uint64_t dimpub_gp_start(void)
{
	pthread_mutex_lock(&dimpub_gp.mu);
	bool threaded = dimpub_gp_thread_start();
	uint64_t ticket = ++dimpub_gp.requested;
	if (threaded)
		pthread_cond_signal(&dimpub_gp.work);
	pthread_mutex_unlock(&dimpub_gp.mu);
	if (!threaded) {
		urcu_qsbr_synchronize_rcu();
		dimpub_tsan_acquire();
		pthread_mutex_lock(&dimpub_gp.mu);
		dimpub_gp_complete(ticket);
		pthread_mutex_unlock(&dimpub_gp.mu);
	}
	return ticket;
}

bool dimpub_gp_done(uint64_t ticket)
{
	return atomic_load_explicit(&dimpub_gp.completed, memory_order_acquire) >= ticket;
}

void dimpub_gp_wait(uint64_t ticket)
{
	pthread_mutex_lock(&dimpub_gp.mu);
	while (atomic_load_explicit(&dimpub_gp.completed, memory_order_relaxed) < ticket)
		pthread_cond_wait(&dimpub_gp.done, &dimpub_gp.mu);
	pthread_mutex_unlock(&dimpub_gp.mu);
}
