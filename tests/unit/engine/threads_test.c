/* threads_test.c: every thread runs each job exactly once, over many jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_jobs)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
