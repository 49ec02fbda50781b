/*
 * C11 threads on pthreads, for ThreadSanitizer builds only (ENRICHD_TSAN): librdkafka creates
 * its threads and locks its mutexes through glibc's C11 thrd_* / mtx_* / cnd_*, which gcc 12's
 * and clang 14's TSan do not intercept, so it would see neither librdkafka's threads start nor
 * its locks and report races that are none. Linked into each program, these definitions take
 * the place of glibc's for librdkafka too (a program's symbols come first), and route every call
 * to the pthread functions TSan does intercept. glibc's thrd_t, mtx_t and cnd_t are pthread_t,
 * pthread_mutex_t and pthread_cond_t underneath, so the casts below hold.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <time.h>

_Static_assert(sizeof(mtx_t) >= sizeof(pthread_mutex_t), "mtx_t holds a pthread mutex");
_Static_assert(sizeof(cnd_t) >= sizeof(pthread_cond_t), "cnd_t holds a pthread condition");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is a pthread_t");

struct tsan_thrd_start {
	thrd_start_t func;
	void *arg;
};

static void *tsan_thrd_main(void *p)
{
	struct tsan_thrd_start s = *(struct tsan_thrd_start *)p;
	free(p);
	return (void *)(intptr_t)s.func(s.arg);
}

static int tsan_rc(int rc)
{
	return rc == 0 ? thrd_success : rc == ENOMEM ? thrd_nomem : rc == ETIMEDOUT ? thrd_timedout
					 : rc == EBUSY ? thrd_busy : thrd_error;
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
	struct tsan_thrd_start *s = malloc(sizeof(*s));
	if (!s)
		return thrd_nomem;
	*s = (struct tsan_thrd_start){func, arg};
	int rc = pthread_create((pthread_t *)thr, NULL, tsan_thrd_main, s);
	if (rc)
		free(s);
	return tsan_rc(rc);
}

int thrd_join(thrd_t thr, int *res)
{
	void *rv;
	int rc = pthread_join((pthread_t)thr, &rv);
	if (rc == 0 && res)
		*res = (int)(intptr_t)rv;
	return tsan_rc(rc);
}

int thrd_detach(thrd_t thr) { return tsan_rc(pthread_detach((pthread_t)thr)); }
thrd_t thrd_current(void) { return (thrd_t)pthread_self(); }
int thrd_equal(thrd_t a, thrd_t b) { return pthread_equal((pthread_t)a, (pthread_t)b); }
void thrd_yield(void) { sched_yield(); }

_Noreturn void thrd_exit(int res)
{
	pthread_exit((void *)(intptr_t)res);
}

int thrd_sleep(const struct timespec *duration, struct timespec *remaining)
{
	if (nanosleep(duration, remaining) == 0)
		return 0;
	return errno == EINTR ? -1 : -2;
}

int mtx_init(mtx_t *m, int type)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	if (type & mtx_recursive)
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	int rc = pthread_mutex_init((pthread_mutex_t *)m, &a);
	pthread_mutexattr_destroy(&a);
	return tsan_rc(rc);
}

int mtx_lock(mtx_t *m) { return tsan_rc(pthread_mutex_lock((pthread_mutex_t *)m)); }
int mtx_trylock(mtx_t *m) { return tsan_rc(pthread_mutex_trylock((pthread_mutex_t *)m)); }
int mtx_unlock(mtx_t *m) { return tsan_rc(pthread_mutex_unlock((pthread_mutex_t *)m)); }
void mtx_destroy(mtx_t *m) { pthread_mutex_destroy((pthread_mutex_t *)m); }

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict until)
{
	return tsan_rc(pthread_mutex_timedlock((pthread_mutex_t *)m, until));
}

int cnd_init(cnd_t *c) { return tsan_rc(pthread_cond_init((pthread_cond_t *)c, NULL)); }
int cnd_signal(cnd_t *c) { return tsan_rc(pthread_cond_signal((pthread_cond_t *)c)); }
int cnd_broadcast(cnd_t *c) { return tsan_rc(pthread_cond_broadcast((pthread_cond_t *)c)); }
void cnd_destroy(cnd_t *c) { pthread_cond_destroy((pthread_cond_t *)c); }

int cnd_wait(cnd_t *c, mtx_t *m)
{
	return tsan_rc(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict until)
{
	return tsan_rc(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, until));
}

int tss_create(tss_t *key, tss_dtor_t dtor)
{
	return tsan_rc(pthread_key_create((pthread_key_t *)key, dtor));
}

void *tss_get(tss_t key) { return pthread_getspecific((pthread_key_t)key); }
int tss_set(tss_t key, void *v) { return tsan_rc(pthread_setspecific((pthread_key_t)key, v)); }
void tss_delete(tss_t key) { pthread_key_delete((pthread_key_t)key); }

void call_once(once_flag *flag, void (*func)(void))
{
	pthread_once((pthread_once_t *)flag, func);
}
