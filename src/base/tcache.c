/* tcache.c: threads on demand, kept a while when idle (see tcache.h). */
#include "base/tcache.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct tcache_job {
	void (*fn)(void *);
	void *arg;
	struct tcache_job *next;
};

static void *loop(void *arg)
{
	struct tcache *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (c->head) {
			struct tcache_job *j = c->head;
			c->head = j->next;
			if (!c->head)
				c->tail = NULL;
			c->queued--;
			pthread_mutex_unlock(&c->mu);
			j->fn(j->arg);
			free(j);
			pthread_mutex_lock(&c->mu);
			continue;
		}
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += c->idle_ms / 1000;
		t.tv_nsec += (long)(c->idle_ms % 1000) * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		c->idle++;
		int rc = 0;
		while (!c->head && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&c->cv, &c->mu, &t);
		c->idle--;
		if (!c->head)
			break; /* idle for idle_ms: give the thread back */
	}
	c->threads--;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int tcache_run(struct tcache *c, void (*fn)(void *), void *arg)
{
	struct tcache_job *j = malloc(sizeof *j);
	if (!j)
		return ENOMEM;
	*j = (struct tcache_job){fn, arg, NULL};
	pthread_mutex_lock(&c->mu);
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	c->queued++;
	int rc = 0;
	if (c->idle >= c->queued) {
		/* an idle thread for every waiting job: wake one */
		pthread_cond_signal(&c->cv);
	} else {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &a, loop, c);
		pthread_attr_destroy(&a);
		if (rc == 0) {
			c->threads++;
			c->started++;
		} else if (c->threads == 0) {
			/* no thread will ever take it: take it back (it is the last) */
			struct tcache_job *prev = NULL;
			for (struct tcache_job *q = c->head; q != j; q = q->next)
				prev = q;
			if (prev)
				prev->next = NULL;
			else
				c->head = NULL;
			c->tail = prev;
			c->queued--;
			free(j);
		} else {
			rc = 0; /* a running thread takes it when its job ends */
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void tcache_stats(struct tcache *c, int *alive, unsigned long *started)
{
	pthread_mutex_lock(&c->mu);
	*alive = c->threads;
	*started = c->started;
	pthread_mutex_unlock(&c->mu);
}
