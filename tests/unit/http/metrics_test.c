/* metrics_test.c: metrics_summary adds up what metrics_observe counted, by
 * status class, unmatched requests included, and reports those in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/buf.h"
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

/* The gateway overhead histogram: cumulative buckets, +Inf, sum, count. */
static void upstream_overhead_histogram(void **st)
{
	struct buf out;
	buf_init(&out, 1 << 20);
	metrics_render(NULL, &out);
	assert_null(strstr(out.data ? out.data : "", "atelier_upstream_overhead_seconds_count"));
	metrics_upstream_overhead(50000);    /* 0.05 ms */
	metrics_upstream_overhead(600000);   /* 0.6 ms */
	metrics_upstream_overhead(3000000);  /* 3 ms */
	metrics_upstream_overhead(500000000); /* 0.5 s: past the last bucket */
	buf_free(&out);
	buf_init(&out, 1 << 20);
	metrics_render(NULL, &out);
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_bucket{le=\"0.0001\"} 1\n"));
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_bucket{le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_bucket{le=\"0.00075\"} 2\n"));
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_bucket{le=\"0.005\"} 3\n"));
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_bucket{le=\"0.1\"} 3\n"));
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_count 4\n"));
	assert_non_null(strstr(out.data, "atelier_upstream_overhead_seconds_sum 0.503650\n"));
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classes_add_up),
		cmocka_unit_test(upstream_overhead_histogram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
