/*
 * threads.c: the persistent worker pool behind the engine's parallel-for.
 *
 * A job is published by bumping a generation counter under the mutex and
 * broadcasting; workers that were spinning see the counter change at once,
 * sleeping ones are woken. Completion is an atomic countdown the caller spins
 * on (it has just done its own share, so the wait is short). We rejected a
 * barrier per job (pthread_barrier): it always sleeps, and at a few hundred
 * jobs per generated token the wake-up latency would dominate.
 */
#include "engine/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERS 20000 /* about 50-100 us of pause before sleeping */

struct worker {
	struct threadpool *pool;
	int ith;
	pthread_t tid;
};

struct threadpool {
	int n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint gen;
	atomic_int pending;
	atomic_bool stop;
	threads_fn fn;
	void *ctx;
	struct worker *w;
	int started;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct threadpool *p = w->pool;
	unsigned seen = 0;
	for (;;) {
		unsigned g;
		int spins = 0;
		while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
		       !atomic_load(&p->stop) && spins < SPIN_ITERS) {
			cpu_relax();
			spins++;
		}
		if (g == seen && !atomic_load(&p->stop)) {
			pthread_mutex_lock(&p->mu);
			while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
				pthread_cond_wait(&p->cv, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			return NULL;
		seen = g;
		p->fn(p->ctx, w->ith, p->n);
		atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
	}
}

int threads_cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int c = CPU_COUNT(&set);
		if (c > 0)
			return c;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

int threads_new(struct threadpool **out, int n, struct errinfo *e)
{
	*out = NULL;
	if (n < 1 || n > THREADS_MAX)
		return err_set(e, ERR_INVALID, "threads", "thread count must be 1..%d", THREADS_MAX);
	struct threadpool *p = calloc(1, sizeof *p);
	if (!p)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	p->n = n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	atomic_init(&p->gen, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->stop, false);
	if (n > 1 && !(p->w = calloc((size_t)n, sizeof *p->w))) {
		threads_free(p);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	for (int i = 1; i < n; i++) {
		p->w[i].pool = p;
		p->w[i].ith = i;
		if (pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i])) {
			threads_free(p);
			return err_set(e, ERR_INTERNAL, NULL, "cannot start worker thread");
		}
		p->started = i;
	}
	*out = p;
	return 0;
}

void threads_free(struct threadpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i <= p->started; i++)
		pthread_join(p->w[i].tid, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->w);
	free(p);
}

int threads_count(const struct threadpool *p)
{
	return p->n;
}

void threads_run(struct threadpool *p, threads_fn fn, void *ctx)
{
	if (p->n == 1) {
		fn(ctx, 0, 1);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	atomic_store(&p->pending, p->n - 1);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	fn(ctx, 0, p->n);
	int spins = 0;
	while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
		if (++spins < SPIN_ITERS)
			cpu_relax();
		else
			sched_yield();
	}
}
