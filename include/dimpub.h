/*
 * dimpub: how the dimension sets reach the workers, and when a replaced one may be freed. One
 * slot per dimension replica (per NUMA node with workers, or one) holds the set its workers join
 * with, published under RCU (liburcu's QSBR flavour).
 *
 * Readers are the workers. Each registers (dimpub_reader_register) before it first reads a slot,
 * announces a quiescent state (dimpub_quiescent) once per loop iteration, and unregisters when it
 * ends. dimpub_get is one load: no lock, no fence, no write to shared memory.
 *
 * The writer is the loader thread, one at a time and never a registered reader: it publishes
 * new sets in every slot at once (dimpub_publish), then retires the old ones (dimpub_retire):
 * they are freed after two grace periods.
 *
 * Why two. Plain QSBR lets a reader hold what it read only until its next quiescent state. A
 * worker holds its set longer: its open blocks borrow the set's LowCardinality dictionaries
 * across batches. So the worker reloads the slot at the start of every loop iteration and, when
 * the set changed, writes its blocks out (encoding the borrowed dictionaries) and switches
 * before it touches anything else of a set; its quiescent state ends the iteration. After the
 * first grace period following a publish, every registered worker has passed a quiescent state
 * after the publish, so its next iteration switches; after the second, each has passed one after
 * that switch, so none holds the old set any more. A worker never goes offline while it holds a
 * set (an offline reader is not waited for); a worker that ends unregisters, and grace periods
 * do not wait for it either.
 *
 * Bound: a grace period lasts until every worker ends a loop iteration: a poll (at most
 * [workers] poll_timeout_ms), a batch, an epoch close. A worker waiting for a full disk holds it
 * until the disk has room or a stop ends the worker (which unregisters it), so a stop never waits
 * on a reload. A quiescent state outside a grace period is one load and one compare; during one
 * it also stores and, when the writer sleeps on it, wakes it (a futex call).
 */
#ifndef ENRICHD_DIMPUB_H
#define ENRICHD_DIMPUB_H

#include <stdbool.h>
#include <stdint.h>

#include "dimset.h"
#include "numa_place.h"

#define DIMPUB_SLOTS_MAX PLACE_NODES_MAX

struct dimpub {
	uint32_t slot_count;
	struct dimset *slots[DIMPUB_SLOTS_MAX]; /* RCU-published: read with dimpub_get */
};

/* Puts sets[0..count) (count <= DIMPUB_SLOTS_MAX) in the slots; p owns them from now on. */
void dimpub_init(struct dimpub *p, struct dimset *const *sets, uint32_t count);

/* Reader side, on a worker's thread. */
void dimpub_reader_register(void);
void dimpub_reader_unregister(void);
void dimpub_quiescent(void);

/*
 * The set in slot. A registered reader may use it until its second quiescent state after it
 * last found this set there (see above); the writer may use it until it retires it.
 */
const struct dimset *dimpub_get(const struct dimpub *p, uint32_t slot);

/*
 * Writer: puts next[s] in every slot s and returns what they held in old[s] (still owned by the
 * caller, who must dimpub_retire them).
 */
void dimpub_publish(struct dimpub *p, struct dimset *const *next, struct dimset **old);

/*
 * Writer: waits two grace periods, then frees old[0..count). Blocks (see the bound above);
 * never call it on a registered reader's thread.
 */
void dimpub_retire(struct dimset *const *old, uint32_t count);

/* Frees the sets in the slots. No reader may use them any more (every worker has ended). */
void dimpub_destroy(struct dimpub *p);

/*
 * Grace periods without waiting, for writers that change what readers read in place (live
 * dimension tables retire old row versions): a ticket names a grace period that begins after
 * the call; once it is done, every reader has passed a quiescent state since the call, so
 * nothing a reader could reach before the call is held any more. One background thread
 * (started at the first ticket, not a registered reader) runs the grace periods, one for all
 * the tickets taken while the previous one ran, so tickets cost no more than their number of
 * grace periods. Writer side only: never wait on a registered reader's thread (it would wait
 * for itself).
 *
 * dimpub_gp_start returns the ticket (> 0; later tickets are larger). dimpub_gp_done is one
 * atomic load: true once the ticket's grace period has ended (tickets end in order).
 * dimpub_gp_wait blocks until it has (the bound of a grace period above). If the thread cannot
 * be started, dimpub_gp_start runs the grace period itself before returning.
 */
uint64_t dimpub_gp_start(void);
bool dimpub_gp_done(uint64_t ticket);
void dimpub_gp_wait(uint64_t ticket);

#endif
