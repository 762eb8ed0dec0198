/*
 * threads.c: the persistent worker pool behind the engine's parallel-for.
 *
 * A job has nth shares (fn(ctx, ith, nth) for ith < nth). Shares are
 * claimed, not assigned: the caller and every worker that sees the job take
 * the next unclaimed share with a compare-and-swap on one word holding the
 * job's generation and the next share, and run it; the caller then waits for
 * the count of finished shares. So a worker that is asleep, or that the
 * kernel has preempted for another process (this machine runs the HTTP
 * threads and other programs beside the engine), delays nothing: whoever is
 * running does its share. A share stays one call on one thread, so per-share
 * scratch (indexed by ith) is never shared.
 *
 * A job is published by storing the new claim word and broadcasting;
 * workers that were spinning see it at once, sleeping ones are woken. We
 * rejected a barrier per job (pthread_barrier): it always sleeps, and at a
 * few hundred jobs per generated token the wake-up latency would dominate;
 * and fixed shares per thread: one preempted worker stalled every job for a
 * scheduler time slice.
 */
#include "engine/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Spins before a worker sleeps (a pause is 10-140 ns depending on the CPU):
 * long enough to catch the next job of a forward pass, short enough that an
 * idle pool gives the cores back at once. */
#define SPIN_ITERS 4000
/* Spins before the caller, waiting for shares still running, yields its core
 * (to the thread running them, when they share one). */
#define WAIT_SPINS 256

struct worker {
	struct threadpool *pool;
	pthread_t tid;
};

struct threadpool {
	int n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic uint64_t claim; /* generation << 32 | next unclaimed share */
	atomic_int done;        /* shares of the current job finished */
	atomic_bool stop;
	threads_fn fn;
	void *ctx;
	struct worker *w;
	int started;
};

/* Claim and run shares of job gen until none is left; false once the job is
 * not gen any more (or has no share left). fn and ctx are read only after a
 * claim succeeds: a claimed share keeps the job from completing, so the
 * caller cannot have moved on to the next job. */
static void run_shares(struct threadpool *p, uint32_t gen)
{
	uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
	for (;;) {
		uint32_t next = (uint32_t)c;
		if ((uint32_t)(c >> 32) != gen || next >= (uint32_t)p->n)
			return;
		if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		p->fn(p->ctx, (int)next, p->n);
		atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
		c = atomic_load_explicit(&p->claim, memory_order_acquire);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct threadpool *p = w->pool;
	uint32_t seen = 0;
	for (;;) {
		uint32_t g;
		int spins = 0;
		while ((g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32)) == seen &&
		       !atomic_load(&p->stop) && spins < SPIN_ITERS) {
			cpu_relax();
			spins++;
		}
		if (g == seen && !atomic_load(&p->stop)) {
			pthread_mutex_lock(&p->mu);
			while ((g = (uint32_t)(atomic_load(&p->claim) >> 32)) == seen && !atomic_load(&p->stop))
				pthread_cond_wait(&p->cv, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			return NULL;
		seen = g;
		run_shares(p, g);
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
	atomic_init(&p->claim, 0);
	atomic_init(&p->done, 0);
	atomic_init(&p->stop, false);
	if (n > 1 && !(p->w = calloc((size_t)n, sizeof *p->w))) {
		threads_free(p);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	for (int i = 1; i < n; i++) {
		p->w[i].pool = p;
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
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	uint32_t gen = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_relaxed) >> 32) + 1;
	pthread_mutex_lock(&p->mu);
	/* release: fn, ctx and done are set before anyone can claim a share */
	atomic_store_explicit(&p->claim, (uint64_t)gen << 32, memory_order_release);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	run_shares(p, gen);
	int spins = 0;
	while (atomic_load_explicit(&p->done, memory_order_acquire) < p->n) {
		if (++spins < WAIT_SPINS)
			cpu_relax();
		else
			sched_yield();
	}
}
