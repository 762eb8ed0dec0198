/* tcache_test.c: every job runs once; idle threads are reused, then exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/tcache.h"

static atomic_int ran;

static void job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
}

static void slow(void *arg)
{
	usleep(20000);
	job(arg);
}

static void wait_ran(int n)
{
	for (int i = 0; i < 500 && atomic_load(&ran) < n; i++)
		usleep(2000);
	assert_int_equal(atomic_load(&ran), n);
}

/* One job at a time: one thread does them all. */
static void test_reuse(void **state)
{
	static struct tcache c = TCACHE_INIT(2000);
	atomic_store(&ran, 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(tcache_run(&c, job, NULL), 0);
		wait_ran(i + 1);
		usleep(500); /* let the thread go back to idle */
	}
	int alive;
	unsigned long started;
	tcache_stats(&c, &alive, &started);
	assert_true(started <= 2); /* a wake-up can race the next job once */
	assert_true(alive >= 1);
}

/* Jobs that block at once each get a thread; idle threads exit after idle_ms. */
static void test_parallel_then_exit(void **state)
{
	static struct tcache c = TCACHE_INIT(100);
	atomic_store(&ran, 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(tcache_run(&c, slow, NULL), 0);
	int alive;
	unsigned long started;
	tcache_stats(&c, &alive, &started);
	assert_int_equal(started, 8); /* none idle: a thread each, so none waits */
	wait_ran(8);
	for (int i = 0; i < 100 && alive; i++) {
		usleep(10000);
		tcache_stats(&c, &alive, &started);
	}
	assert_int_equal(alive, 0);
	assert_int_equal(tcache_run(&c, job, NULL), 0); /* and it starts again */
	wait_ran(9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_reuse), cmocka_unit_test(test_parallel_then_exit)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
