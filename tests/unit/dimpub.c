/*
 * Unit tests of dimpub's grace periods without waiting: a ticket stays pending while a
 * registered reader has not passed a quiescent state since it was taken, and is done once every
 * reader has; tickets end in order; an offline reader is not waited for.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "dimpub.h"

/* A registered reader that passes a quiescent state whenever step grows, until stop. */
struct reader {
	pthread_t thread;
	_Atomic unsigned step, seen;
	_Atomic bool stop;
};

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	dimpub_reader_register();
	atomic_store(&r->seen, 1);
	while (!atomic_load(&r->stop)) {
		unsigned want = atomic_load(&r->step);
		if (atomic_load(&r->seen) != want) {
			dimpub_quiescent();
			atomic_store(&r->seen, want);
		}
		nap_ms(1);
	}
	dimpub_reader_unregister();
	return NULL;
}

Test(dimpub, ticket_waits_for_every_reader)
{
	struct reader r = {.step = 1};
	cr_assert_eq(pthread_create(&r.thread, NULL, reader_main, &r), 0);
	while (atomic_load(&r.seen) == 0)
		nap_ms(1);
	uint64_t t1 = dimpub_gp_start();
	uint64_t t2 = dimpub_gp_start();
	cr_assert_gt(t1, 0);
	cr_assert_gt(t2, t1, "later tickets are larger");
	nap_ms(50);
	cr_assert_not(dimpub_gp_done(t1), "the reader has not passed a quiescent state");
	atomic_store(&r.step, 2);
	dimpub_gp_wait(t2);
	cr_assert(dimpub_gp_done(t1), "tickets end in order");
	cr_assert(dimpub_gp_done(t2));
	atomic_store(&r.stop, true);
	pthread_join(r.thread, NULL);
	/* No reader: a grace period ends at once. */
	uint64_t t3 = dimpub_gp_start();
	dimpub_gp_wait(t3);
	cr_assert(dimpub_gp_done(t3));
}
