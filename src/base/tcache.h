/*
 * tcache.h: threads on demand, kept a while when idle.
 *
 * For work that blocks for its whole length (an upstream HTTP call waits on
 * the network): each job gets a thread of its own, as with pthread_create,
 * but a thread that finishes waits for the next job for up to idle_ms before
 * it exits, so a steady stream of jobs reuses threads instead of paying a
 * thread start (about 0.15 ms on this kind of machine) on every request.
 */
#ifndef ATELIER_BASE_TCACHE_H
#define ATELIER_BASE_TCACHE_H

#include <pthread.h>
#include <stdbool.h>

struct tcache_job;

struct tcache {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tcache_job *head, *tail;
	int queued;  /* jobs no thread has taken yet */
	int idle;    /* threads waiting for a job */
	int threads; /* threads alive */
	int idle_ms;
	unsigned long started; /* threads started so far (tests) */
};

#define TCACHE_INIT(ms) {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, (ms), 0}

/* Run fn(arg) on an idle thread, or on a new one when none is idle.
 * Returns 0, or an errno value (nothing runs then). */
int tcache_run(struct tcache *c, void (*fn)(void *), void *arg);

/* Threads alive, and threads started so far. */
void tcache_stats(struct tcache *c, int *alive, unsigned long *started);

#endif
