/* router_test.c: matching, params, 404/405, and the guard table (ACC-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static int called;
static void h(struct http_request *req, struct http_response *res, void *ctx)
{
	called++;
	http_json(res, 200, json_pack("{s:b}", "ok", 1));
}

static const struct route table[] = {
	{"GET", "/api/keys", h, GUARD_USER, SCOPE_READ, RL_READ, 0, "list"},
	{"POST", "/api/keys", h, GUARD_SESSION, 0, RL_WRITE, ROUTE_JSON, "create"},
	{"DELETE", "/api/keys/{id}", h, GUARD_SESSION, 0, RL_WRITE, 0, "revoke"},
	{"GET", "/api/images/{id}/file", h, GUARD_USER, SCOPE_READ, RL_READ, 0, "file"},
	{"GET", "/api/admin/users", h, GUARD_ADMIN, 0, RL_READ, 0, "users"},
	{"GET", "/api/support/x", h, GUARD_SUPPORT, 0, RL_READ, 0, "x"},
	{"POST", "/v1/chat/completions", h, GUARD_KEY, SCOPE_GENERATE, RL_GENERATE, 0, "chat"},
	{"GET", "/healthz", h, GUARD_PUBLIC, 0, RL_NONE, 0, "health"},
	{0},
};

static struct router *make(void)
{
	const struct route *t[] = {table};
	struct router *r;
	struct errinfo e;
	assert_int_equal(router_new(&r, t, 1, &e), ERR_OK);
	return r;
}

static struct http_request *req_new(const char *method)
{
	struct http_request *q = calloc(1, sizeof *q);
	q->arena = arena_new(0);
	q->method = method;
	buf_init(&q->body, 0);
	return q;
}

static void req_free(struct http_request *q)
{
	if (q->json)
		json_decref(q->json);
	buf_free(&q->body);
	arena_free(q->arena);
	free(q);
}

static void match_params(void **st)
{
	struct router *r = make();
	struct http_request *q = req_new("GET");
	char allow[64];
	int i = router_match(r, "GET", "/api/images/abc123/file", q, allow, sizeof allow);
	assert_true(i >= 0);
	assert_string_equal(http_param(q, "id"), "abc123");
	assert_null(http_param(q, "nope"));
	assert_int_equal(router_match(r, "GET", "/api/images//file", q, allow, sizeof allow), -404);
	assert_int_equal(router_match(r, "GET", "/api/images/a/b/file", q, allow, sizeof allow), -404);
	assert_int_equal(router_match(r, "GET", "/api/keysx", q, allow, sizeof allow), -404);
	assert_int_equal(router_match(r, "GET", "/api/keys/", q, allow, sizeof allow), -404);
	assert_true(router_match(r, "HEAD", "/healthz", q, allow, sizeof allow) >= 0);
	req_free(q);
	router_free(r);
}

static void method_not_allowed_lists_allow(void **st)
{
	struct router *r = make();
	struct http_request *q = req_new("PUT");
	char allow[64];
	assert_int_equal(router_match(r, "PUT", "/api/keys", q, allow, sizeof allow), -405);
	assert_string_equal(allow, "GET, POST");
	req_free(q);
	router_free(r);
}

static void duplicate_and_bad_rows_refused(void **st)
{
	static const struct route dup[] = {
		{"GET", "/a", h, GUARD_PUBLIC, 0, 0, 0, ""}, {"GET", "/a", h, GUARD_PUBLIC, 0, 0, 0, ""}, {0}};
	static const struct route bad[] = {{"GET", "a/{", h, GUARD_PUBLIC, 0, 0, 0, ""}, {0}};
	const struct route *t1[] = {dup}, *t2[] = {bad};
	struct router *r;
	struct errinfo e;
	assert_int_equal(router_new(&r, t1, 1, &e), ERR_INTERNAL);
	assert_int_equal(router_new(&r, t2, 1, &e), ERR_INTERNAL);
}

static struct identity next_who;
static int fake_auth(struct http_request *req, struct identity *who, void *ctx)
{
	*who = next_who;
	return ERR_OK;
}

static int run(struct router *r, const char *method, const char *path, struct identity who)
{
	struct http_request *q = req_new(method);
	struct http_response res = {0};
	res.arena = q->arena;
	buf_init(&res.body, 0);
	char allow[64];
	assert_true(router_match(r, method, path, q, allow, sizeof allow) >= 0);
	next_who = who;
	if (!strcmp(method, "POST")) {
		buf_puts(&q->body, "{}");
	}
	router_dispatch(r, q, &res, NULL);
	int status = res.status;
	buf_free(&res.body);
	req_free(q);
	return status;
}

/* REQ: ACC-8 — least privilege on every guard class. REQ: ACC-4 — CSRF. */
static void guards(void **st)
{
	struct router *r = make();
	router_set_auth(r, fake_auth);
	struct identity anon = {0};
	struct identity user = {.via = AUTH_SESSION, .role = ROLE_USER, .user_id = "u1", .csrf = "tok"};
	struct identity admin = user;
	admin.role = ROLE_ADMIN;
	struct identity support = user;
	support.role = ROLE_SUPPORT;
	struct identity key_read = {.via = AUTH_KEY, .role = ROLE_USER, .user_id = "u1", .scopes = SCOPE_READ};
	struct identity key_gen = key_read;
	key_gen.scopes = SCOPE_GENERATE;

	assert_int_equal(run(r, "GET", "/healthz", anon), 200);
	assert_int_equal(run(r, "GET", "/api/keys", anon), 401);
	assert_int_equal(run(r, "GET", "/api/keys", user), 200);
	assert_int_equal(run(r, "GET", "/api/keys", key_read), 200);
	assert_int_equal(run(r, "GET", "/api/keys", key_gen), 403); /* lacks read scope */
	assert_int_equal(run(r, "POST", "/api/keys", key_read), 403); /* session only */
	assert_int_equal(run(r, "GET", "/api/admin/users", user), 403);
	assert_int_equal(run(r, "GET", "/api/admin/users", support), 403);
	assert_int_equal(run(r, "GET", "/api/admin/users", admin), 200);
	assert_int_equal(run(r, "GET", "/api/support/x", support), 200);
	assert_int_equal(run(r, "GET", "/api/support/x", user), 403);
	assert_int_equal(run(r, "POST", "/v1/chat/completions", user), 403); /* key only */
	assert_int_equal(run(r, "POST", "/v1/chat/completions", key_read), 403);
	assert_int_equal(run(r, "POST", "/v1/chat/completions", key_gen), 200);
	/* a cookie-authenticated state change without the CSRF header is refused */
	called = 0;
	assert_int_equal(run(r, "DELETE", "/api/keys/k1", user), 403);
	assert_int_equal(called, 0);
	router_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(match_params),
		cmocka_unit_test(method_not_allowed_lists_allow),
		cmocka_unit_test(duplicate_and_bad_rows_refused),
		cmocka_unit_test(guards),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
