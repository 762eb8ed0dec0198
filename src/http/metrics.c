/*
 * metrics.c: request counters and latency histograms, in Prometheus text.
 *
 * Counters are plain arrays indexed by route and status class, bumped with
 * relaxed atomics: no lock on the request path. Unmatched requests (404s of
 * unknown paths) count under the route label "unmatched" so a scanner cannot
 * grow the label set. metrics_summary() adds the same counters up by status
 * class for the staff console, which reads numbers, not this text.
 */
#include "http/http.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_ROUTES 512
#define NSTATUS 600

static const double bucket_s[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				  0.25,  0.5,    1,     2.5,  5,     10,   30};
#define NBUCKETS (sizeof bucket_s / sizeof bucket_s[0])

struct route_stats {
	uint64_t status[NSTATUS];
	uint64_t bucket[NBUCKETS + 1]; /* last: +Inf */
	uint64_t sum_ns;
	uint64_t count;
};

static struct route_stats stats[MAX_ROUTES + 1]; /* last: unmatched */

static const double fine_s[] = {0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.0025, 0.005, 0.01, 0.025, 0.1};
#define NFINE (sizeof fine_s / sizeof fine_s[0])
static struct {
	uint64_t bucket[NFINE + 1];
	uint64_t sum_ns, count;
} upstream_own;
static int64_t inflight;

void metrics_inflight(int delta)
{
	__atomic_add_fetch(&inflight, delta, __ATOMIC_RELAXED);
}

void metrics_observe(int route, int status, uint64_t ns)
{
	struct route_stats *s = &stats[route >= 0 && route < MAX_ROUTES ? route : MAX_ROUTES];
	if (status < 100 || status >= NSTATUS)
		status = 500;
	__atomic_add_fetch(&s->status[status], 1, __ATOMIC_RELAXED);
	double secs = (double)ns / 1e9;
	size_t b = 0;
	while (b < NBUCKETS && secs > bucket_s[b])
		b++;
	__atomic_add_fetch(&s->bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->sum_ns, ns, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
}

void metrics_upstream_overhead(uint64_t ns)
{
	double secs = (double)ns / 1e9;
	size_t b = 0;
	while (b < NFINE && secs > fine_s[b])
		b++;
	__atomic_add_fetch(&upstream_own.bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&upstream_own.sum_ns, ns, __ATOMIC_RELAXED);
	__atomic_add_fetch(&upstream_own.count, 1, __ATOMIC_RELAXED);
}

static void route_label(const struct router *r, size_t i, char *out, size_t n)
{
	if (i == MAX_ROUTES) {
		snprintf(out, n, "route=\"unmatched\"");
		return;
	}
	const struct route *rt = router_at(r, i);
	snprintf(out, n, "method=\"%s\",route=\"%s\"", rt->method, rt->path);
}

void metrics_render(const struct router *r, struct buf *out)
{
	size_t nr = r ? router_count(r) : 0; /* NULL: no routes (unmatched only) */
	if (nr > MAX_ROUTES)
		nr = MAX_ROUTES;
	buf_puts(out, "# HELP atelier_http_requests_total HTTP requests by route and status.\n"
		      "# TYPE atelier_http_requests_total counter\n");
	char label[300];
	for (size_t i = 0; i <= MAX_ROUTES; i++) {
		if (i == nr)
			i = MAX_ROUTES;
		struct route_stats *s = &stats[i];
		if (!__atomic_load_n(&s->count, __ATOMIC_RELAXED))
			continue;
		route_label(r, i, label, sizeof label);
		for (int st = 100; st < NSTATUS; st++) {
			uint64_t v = __atomic_load_n(&s->status[st], __ATOMIC_RELAXED);
			if (v)
				buf_printf(out, "atelier_http_requests_total{%s,status=\"%d\"} %" PRIu64 "\n",
					   label, st, v);
		}
	}
	buf_puts(out, "# HELP atelier_http_request_duration_seconds Time from first byte to response queued.\n"
		      "# TYPE atelier_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= MAX_ROUTES; i++) {
		if (i == nr)
			i = MAX_ROUTES;
		struct route_stats *s = &stats[i];
		uint64_t count = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
		if (!count)
			continue;
		route_label(r, i, label, sizeof label);
		uint64_t cum = 0;
		for (size_t b = 0; b <= NBUCKETS; b++) {
			cum += __atomic_load_n(&s->bucket[b], __ATOMIC_RELAXED);
			if (b < NBUCKETS)
				buf_printf(out, "atelier_http_request_duration_seconds_bucket{%s,le=\"%g\"} %" PRIu64 "\n",
					   label, bucket_s[b], cum);
			else
				buf_printf(out, "atelier_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n",
					   label, cum);
		}
		buf_printf(out, "atelier_http_request_duration_seconds_sum{%s} %.6f\n", label,
			   (double)__atomic_load_n(&s->sum_ns, __ATOMIC_RELAXED) / 1e9);
		buf_printf(out, "atelier_http_request_duration_seconds_count{%s} %" PRIu64 "\n", label, count);
	}
	uint64_t oc = __atomic_load_n(&upstream_own.count, __ATOMIC_RELAXED);
	if (oc) {
		buf_puts(out, "# HELP atelier_upstream_overhead_seconds A gateway's own time per upstream call, "
			      "before it starts and after the upstream's answer ends.\n"
			      "# TYPE atelier_upstream_overhead_seconds histogram\n");
		uint64_t cum = 0;
		for (size_t b = 0; b < NFINE; b++) {
			cum += __atomic_load_n(&upstream_own.bucket[b], __ATOMIC_RELAXED);
			buf_printf(out, "atelier_upstream_overhead_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", fine_s[b], cum);
		}
		cum += __atomic_load_n(&upstream_own.bucket[NFINE], __ATOMIC_RELAXED);
		buf_printf(out, "atelier_upstream_overhead_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
		buf_printf(out, "atelier_upstream_overhead_seconds_sum %.6f\n",
			   (double)__atomic_load_n(&upstream_own.sum_ns, __ATOMIC_RELAXED) / 1e9);
		buf_printf(out, "atelier_upstream_overhead_seconds_count %" PRIu64 "\n", oc);
	}
	buf_printf(out, "# HELP atelier_http_requests_in_flight Requests being served now.\n"
			"# TYPE atelier_http_requests_in_flight gauge\n"
			"atelier_http_requests_in_flight %" PRId64 "\n",
		   __atomic_load_n(&inflight, __ATOMIC_RELAXED));
}

void metrics_summary(struct metrics_summary *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i <= MAX_ROUTES; i++) {
		struct route_stats *s = &stats[i];
		if (!__atomic_load_n(&s->count, __ATOMIC_RELAXED))
			continue;
		for (int st = 100; st < NSTATUS; st++)
			out->by_class[st / 100] += __atomic_load_n(&s->status[st], __ATOMIC_RELAXED);
	}
	out->in_flight = __atomic_load_n(&inflight, __ATOMIC_RELAXED);
}
