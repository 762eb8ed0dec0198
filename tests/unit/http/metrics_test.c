/* metrics_test.c: metrics_summary adds up what metrics_observe counted, by
 * status class, unmatched requests included, and reports those in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/http.h"

static void classes_add_up(void **st)
{
	struct metrics_summary a, b;
	metrics_summary(&a);
	metrics_observe(0, 200, 1000);
	metrics_observe(1, 201, 1000);
	metrics_observe(-1, 404, 1000);   /* unmatched */
	metrics_observe(100000, 429, 1000); /* out of range: unmatched */
	metrics_observe(2, 503, 1000);
	metrics_observe(2, 42, 1000);     /* nonsense status: counted as 500 */
	metrics_observe(0, 304, 1000);
	metrics_inflight(1);
	metrics_summary(&b);
	assert_int_equal(b.by_class[2] - a.by_class[2], 2);
	assert_int_equal(b.by_class[3] - a.by_class[3], 1);
	assert_int_equal(b.by_class[4] - a.by_class[4], 2);
	assert_int_equal(b.by_class[5] - a.by_class[5], 2);
	assert_int_equal(b.by_class[1] - a.by_class[1], 0);
	assert_int_equal(b.in_flight - a.in_flight, 1);
	metrics_inflight(-1);
	metrics_summary(&b);
	assert_int_equal(b.in_flight, a.in_flight);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classes_add_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
