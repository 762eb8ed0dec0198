/* threads_test.c: every share of every job runs exactly once, over many jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/threads.h"

struct ctx {
	atomic_int hits[8];
	atomic_long sum;
};

static void job(void *p, int ith, int nth)
{
	struct ctx *c = p;
	atomic_fetch_add(&c->hits[ith], 1);
	long s = 0;
	for (int i = ith; i < 1000; i += nth) /* a parallel-for over 1000 rows */
		s += i;
	atomic_fetch_add(&c->sum, s);
}

static void test_jobs(void **state)
{
	for (int n = 1; n <= 4; n++) {
		struct threadpool *p;
		assert_int_equal(threads_new(&p, n, NULL), 0);
		assert_int_equal(threads_count(p), n);
		struct ctx c = {0};
		for (int j = 0; j < 2000; j++)
			threads_run(p, job, &c);
		for (int i = 0; i < n; i++)
			assert_int_equal(atomic_load(&c.hits[i]), 2000);
		assert_int_equal(atomic_load(&c.sum), 2000L * 499500);
		threads_free(p);
	}
	threads_free(NULL);
	struct threadpool *p;
	assert_int_equal(threads_new(&p, 0, NULL), ERR_INVALID);
}

struct owner_ctx {
	atomic_int busy[8]; /* a share being run */
	atomic_int overlap, runs;
	int scratch[8][16];
};

/* Per-share scratch (indexed by ith) must never be in use twice at once:
 * shares are claimed by whichever thread is free, but each once per job. */
static void owned(void *p, int ith, int nth)
{
	struct owner_ctx *c = p;
	(void)nth;
	if (atomic_exchange(&c->busy[ith], 1))
		atomic_fetch_add(&c->overlap, 1);
	for (int i = 0; i < 16; i++)
		c->scratch[ith][i] = ith * 16 + i;
	for (int i = 0; i < 16; i++)
		if (c->scratch[ith][i] != ith * 16 + i)
			atomic_fetch_add(&c->overlap, 1);
	atomic_fetch_add(&c->runs, 1);
	atomic_store(&c->busy[ith], 0);
}

/* More threads than this machine has cores, many short jobs, pauses that let
 * the workers fall asleep: every share runs exactly once, never twice at once. */
static void test_oversubscribed(void **state)
{
	struct threadpool *p;
	assert_int_equal(threads_new(&p, 8, NULL), 0);
	struct owner_ctx c = {0};
	for (int j = 0; j < 20000; j++) {
		threads_run(p, owned, &c);
		if (j % 5000 == 0)
			usleep(2000); /* past the spin: the next job wakes sleepers */
	}
	assert_int_equal(atomic_load(&c.runs), 20000 * 8);
	assert_int_equal(atomic_load(&c.overlap), 0);
	threads_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_jobs), cmocka_unit_test(test_oversubscribed)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
