/*
 * threads.h: a pool of persistent worker threads running one parallel job at
 * a time (a parallel-for: every thread gets its index and the count and picks
 * its share of rows).
 *
 * Workers are created once; threads_run() allocates nothing. Shares are
 * claimed by whichever thread is free (the caller included), so a worker that
 * sleeps or is preempted does not hold a job up. Between jobs a
 * worker spins briefly (generation dispatches a few hundred small jobs per
 * token, and a sleep/wake per job would cost more than the job) and then
 * sleeps on a condition variable so an idle pool uses no CPU.
 */
#ifndef ATELIER_ENGINE_THREADS_H
#define ATELIER_ENGINE_THREADS_H

#include "base/err.h"

#define THREADS_MAX 256

struct threadpool;

/* fn(ctx, ith, nth) runs once for each ith in 0..nth-1, each call on one
 * thread (so per-ith scratch is private to the call), not necessarily on nth
 * different threads: a call must not wait for another call of the same job. */
typedef void (*threads_fn)(void *ctx, int ith, int nth);

/* A pool of n threads in all (the caller of threads_run counts as one, so
 * n-1 workers are started). n in 1..THREADS_MAX. */
int threads_new(struct threadpool **out, int n, struct errinfo *e);

/* Stop and join the workers. Accepts NULL. */
void threads_free(struct threadpool *p);

/* Number of threads (including the caller). */
int threads_count(const struct threadpool *p);

/* Run fn on every thread and return when all have finished. One job at a
 * time: callers serialise (the engine runs one forward pass at a time). */
void threads_run(struct threadpool *p, threads_fn fn, void *ctx);

/* Number of CPUs available to this process (at least 1). */
int threads_cpu_count(void);

#endif
