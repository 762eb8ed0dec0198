/* server_test.c: the server over real sockets: ROUTE_SLOW handlers run off
 * the connection thread, deferred answers (completed from another thread,
 * after the client left, twice), and shutdown with work queued, running and
 * deferred. Run under ASan too (make BUILD=build-asan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

static sem_t gate;          /* the slow handler waits on it */
static sem_t entered;       /* posted when a slow handler starts */
static int slow_runs;
static struct http_deferred *pending[8];
static int npending;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void fast(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:s}", "route", "fast"));
}

static void slow(struct http_request *req, struct http_response *res, void *ctx)
{
	__atomic_add_fetch(&slow_runs, 1, __ATOMIC_SEQ_CST);
	sem_post(&entered);
	sem_wait(&gate);
	http_set_header(res, "X-Slow", "1");
	http_json(res, 201, json_pack("{s:s}", "route", "slow"));
}

static void later(struct http_request *req, struct http_response *res, void *ctx)
{
	http_set_header(res, "X-Set-Before", "yes");
	struct http_deferred *d = http_defer(req, res);
	pthread_mutex_lock(&mu);
	pending[npending++] = d;
	pthread_mutex_unlock(&mu);
}

/* a slow handler that defers */
static void slow_later(struct http_request *req, struct http_response *res, void *ctx)
{
	later(req, res, ctx);
}

/* a slow handler that returns at once: its worker wakes the connection
 * while the connection thread may still be suspending it */
static void quick(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:s}", "route", "quick"));
}

/* defers and completes before returning */
static void now(struct http_request *req, struct http_response *res, void *ctx)
{
	http_deferred_json(http_defer(req, res), 202, json_pack("{s:s}", "route", "now"));
}

static const struct route table[] = {
	{"POST", "/quick", quick, GUARD_PUBLIC, 0, RL_NONE, ROUTE_SLOW, "quick"},
	{"GET", "/now", now, GUARD_PUBLIC, 0, RL_NONE, 0, "deferred, answered at once"},
	{"POST", "/quick-now", now, GUARD_PUBLIC, 0, RL_NONE, ROUTE_SLOW, "slow, answered at once"},
	{"GET", "/fast", fast, GUARD_PUBLIC, 0, RL_NONE, 0, "fast"},
	{"POST", "/slow", slow, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_SLOW, "slow"},
	{"GET", "/later", later, GUARD_PUBLIC, 0, RL_NONE, 0, "deferred"},
	{"POST", "/slow-later", slow_later, GUARD_PUBLIC, 0, RL_NONE, ROUTE_SLOW, "slow, deferred"},
	{0},
};

static struct router *router;

static struct http_server *start(int workers)
{
	const struct route *t[] = {table};
	struct errinfo e = {0};
	if (!router)
		assert_int_equal(router_new(&router, t, 1, &e), ERR_OK);
	struct http_server_options o = {
		.listen = "127.0.0.1:0", .threads = 1, .body_limit = 1 << 20, .upload_limit = 1 << 20,
		.header_limit = 16384, .request_timeout_s = 30, .idle_timeout_s = 30,
		.max_connections = 64, .workers = workers,
	};
	struct http_server *s;
	assert_int_equal(http_server_start(&s, &o, router, NULL, &e), ERR_OK);
	npending = 0;
	slow_runs = 0;
	return s;
}

/* --- a blocking client, one request per connection ----------------------- */

struct call {
	int port;
	const char *method, *path;
	bool hang_up;       /* close right after sending */
	int status;         /* 0: no answer */
	char resp[2048];
	pthread_t th;
};

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void *call_run(void *arg)
{
	struct call *c = arg;
	int fd = dial(c->port);
	char req[256];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			 c->method, c->path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	if (c->hang_up) {
		close(fd);
		return NULL;
	}
	size_t got = 0;
	ssize_t k;
	while (got < sizeof c->resp - 1 && (k = read(fd, c->resp + got, sizeof c->resp - 1 - got)) > 0)
		got += (size_t)k;
	c->resp[got] = '\0';
	close(fd);
	if (!strncmp(c->resp, "HTTP/1.1 ", 9))
		c->status = (int)strtol(c->resp + 9, NULL, 10);
	return NULL;
}

static void call_start_opt(struct call *c, struct http_server *s, const char *method, const char *path,
			   bool hang_up)
{
	memset(c, 0, sizeof *c);
	c->port = http_server_port(s);
	c->method = method;
	c->path = path;
	c->hang_up = hang_up;
	assert_int_equal(pthread_create(&c->th, NULL, call_run, c), 0);
}

static void call_start(struct call *c, struct http_server *s, const char *method, const char *path)
{
	call_start_opt(c, s, method, path, false);
}

static void call_wait(struct call *c)
{
	pthread_join(c->th, NULL);
}

static int get(struct http_server *s, const char *method, const char *path, struct call *c)
{
	call_start(c, s, method, path);
	call_wait(c);
	return c->status;
}

static void nap(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

static int npending_now(void)
{
	pthread_mutex_lock(&mu);
	int n = npending;
	pthread_mutex_unlock(&mu);
	return n;
}

static void wait_pending(int n)
{
	for (int i = 0; i < 500 && npending_now() < n; i++)
		nap(10);
	assert_int_equal(npending_now(), n);
}

/* --- tests ----------------------------------------------------------------- */

/* With one connection thread, a slow handler that blocks does not keep it
 * from answering others, and its own answer arrives with its status and
 * headers once it returns. */
static void slow_runs_beside(void **st)
{
	struct http_server *s = start(2);
	struct call sl, f;
	call_start(&sl, s, "POST", "/slow");
	sem_wait(&entered);
	assert_int_equal(get(s, "GET", "/fast", &f), 200);
	assert_non_null(strstr(f.resp, "\"fast\""));
	sem_post(&gate);
	call_wait(&sl);
	assert_int_equal(sl.status, 201);
	assert_non_null(strstr(sl.resp, "X-Slow: 1"));
	assert_non_null(strstr(sl.resp, "X-Request-Id: "));
	assert_non_null(strstr(sl.resp, "X-Frame-Options: DENY"));
	assert_non_null(strstr(sl.resp, "\"slow\""));
	http_server_stop(s, 1);
}

/* A deferred answer completed from another thread carries its status, the
 * headers set before and after deferring, and the security headers. */
static void deferred_status(void **st)
{
	struct http_server *s = start(1);
	struct call c;
	call_start(&c, s, "GET", "/later");
	wait_pending(1);
	struct call f;
	assert_int_equal(get(s, "GET", "/fast", &f), 200); /* the thread is free meanwhile */
	http_deferred_header(pending[0], "Retry-After", "7");
	http_deferred_error(pending[0], 502, "server_error", "engine_error", NULL, "it broke (%d)", 42);
	call_wait(&c);
	assert_int_equal(c.status, 502);
	assert_non_null(strstr(c.resp, "Retry-After: 7"));
	assert_non_null(strstr(c.resp, "X-Set-Before: yes"));
	assert_non_null(strstr(c.resp, "Content-Type: application/json"));
	assert_non_null(strstr(c.resp, "X-Content-Type-Options: nosniff"));
	assert_non_null(strstr(c.resp, "{\"error\":{\"message\":\"it broke (42)\""));
	assert_non_null(strstr(c.resp, "\"code\":\"engine_error\""));
	http_server_stop(s, 1);
}

/* A slow handler may defer too; an answer completed before the handler's
 * worker looks is sent at once. */
static void slow_then_deferred(void **st)
{
	struct http_server *s = start(1);
	struct call c;
	call_start(&c, s, "POST", "/slow-later");
	wait_pending(1);
	http_deferred_json(pending[0], 200, json_pack("{s:i}", "n", 1));
	call_wait(&c);
	assert_int_equal(c.status, 200);
	assert_non_null(strstr(c.resp, "{\"n\":1}"));
	http_server_stop(s, 1);
}

/* The client hangs up while its answer is deferred: completing later is
 * safe (nothing is sent; no leak, no use after free under ASan). */
static void deferred_client_gone(void **st)
{
	struct http_server *s = start(1);
	struct call c;
	call_start_opt(&c, s, "GET", "/later", true);
	wait_pending(1);
	call_wait(&c);
	nap(50);
	http_deferred_json(pending[0], 200, json_pack("{s:b}", "late", 1));
	struct call f;
	assert_int_equal(get(s, "GET", "/fast", &f), 200);
	http_server_stop(s, 1);
}

/* Shutdown with one slow handler running, two queued behind it (one
 * worker) and one deferred answer pending: the queued ones and the
 * deferred one get 503 server_stopping without running, the running one
 * finishes with its own answer, and the producer's late completion after
 * the server is gone is a no-op. */
struct stopper {
	struct http_server *s;
	pthread_t th;
};

static void *stop_run(void *arg)
{
	struct stopper *x = arg;
	http_server_stop(x->s, 0);
	return NULL;
}

static void shutdown_with_work(void **st)
{
	struct http_server *s = start(1);
	struct call run, q1, q2, d;
	call_start(&run, s, "POST", "/slow");
	sem_wait(&entered);
	call_start(&q1, s, "POST", "/slow");
	call_start(&q2, s, "POST", "/slow");
	call_start(&d, s, "GET", "/later");
	wait_pending(1);
	nap(100); /* q1 and q2 reach the queue */
	struct stopper x = {.s = s};
	assert_int_equal(pthread_create(&x.th, NULL, stop_run, &x), 0);
	call_wait(&q1);
	call_wait(&q2);
	call_wait(&d);
	assert_int_equal(q1.status, 503);
	assert_int_equal(q2.status, 503);
	assert_non_null(strstr(q1.resp, "server_stopping"));
	assert_non_null(strstr(q1.resp, "Retry-After: "));
	assert_int_equal(d.status, 503);
	assert_non_null(strstr(d.resp, "server_stopping"));
	assert_int_equal(__atomic_load_n(&slow_runs, __ATOMIC_SEQ_CST), 1);
	sem_post(&gate); /* the running handler ends; the stop waits for it */
	call_wait(&run);
	assert_int_equal(run.status, 201);
	pthread_join(x.th, NULL);
	/* the producer finishes after the server is gone */
	http_deferred_error(pending[0], 500, "server_error", NULL, NULL, "too late");
}

/* Many callers at once on every path where the wake-up can race the
 * suspension: each gets its answer. */
struct hammer {
	struct http_server *s;
	int ok;
	pthread_t th;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	static const char *const m[] = {"POST", "GET", "POST"}, *const p[] = {"/quick", "/now", "/quick-now"};
	static const int want[] = {200, 202, 202};
	for (int i = 0; i < 60; i++) {
		struct call c;
		if (get(h->s, m[i % 3], p[i % 3], &c) == want[i % 3])
			h->ok++;
	}
	return NULL;
}

static void races(void **st)
{
	struct http_server *s = start(2);
	struct hammer h[6];
	for (int i = 0; i < 6; i++) {
		h[i] = (struct hammer){.s = s};
		assert_int_equal(pthread_create(&h[i].th, NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(h[i].th, NULL);
		assert_int_equal(h[i].ok, 60);
	}
	http_server_stop(s, 1);
}

static int teardown_all(void **st)
{
	router_free(router);
	router = NULL;
	return 0;
}

int main(void)
{
	sem_init(&gate, 0, 0);
	sem_init(&entered, 0, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slow_runs_beside),
		cmocka_unit_test(deferred_status),
		cmocka_unit_test(slow_then_deferred),
		cmocka_unit_test(deferred_client_gone),
		cmocka_unit_test(races),
		cmocka_unit_test(shutdown_with_work),
	};
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
