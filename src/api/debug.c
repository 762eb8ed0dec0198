/*
 * debug.c: routes that exist for the test suite only, mounted when
 * [server] debug_routes = true (never by default). They exercise what the
 * product routes will rely on (JSON bodies, upload limits, slow handlers for
 * graceful shutdown) before those routes exist, and stay afterwards as a
 * harness. Hidden from /openapi.json.
 */
#include "api/api.h"
#include "service/receipt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/mail.h"

static void echo(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:O, s:s, s:s}", "echo", req->json, "request_id", req->id,
				      "client_ip", req->client_ip));
}

static void upload(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:I}", "bytes", (json_int_t)req->body.len));
}

static void slow(struct http_request *req, struct http_response *res, void *ctx)
{
	const char *ms = http_query(req, "ms");
	char *end = NULL;
	errno = 0;
	long v = ms ? strtol(ms, &end, 10) : 0;
	if (!ms || errno || *end || v < 0 || v > 10000) {
		http_error(res, 400, "invalid_request_error", "invalid_value", "ms",
			   "ms must be an integer from 0 to 10000");
		return;
	}
	struct timespec ts = {v / 1000, (v % 1000) * 1000000};
	nanosleep(&ts, NULL);
	http_json(res, 200, json_pack("{s:i}", "slept_ms", (int)v));
}

/* Streams n events ms apart from a thread of its own, as a generation
 * would, and records how the last run ended, for the disconnect test. */
struct ticker {
	struct http_stream *s;
	long n, ms;
};

static long last_sent = -1;
static int last_stopped_early;

static void *tick(void *arg)
{
	struct ticker *t = arg;
	long i = 0;
	int early = 0;
	for (; i < t->n; i++) {
		char data[64];
		snprintf(data, sizeof data, "{\"i\":%ld}", i);
		if (http_stream_event(t->s, NULL, data)) {
			early = 1;
			break;
		}
		struct timespec ts = {t->ms / 1000, (t->ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	if (!early)
		http_stream_event(t->s, NULL, "[DONE]");
	__atomic_store_n(&last_sent, i, __ATOMIC_SEQ_CST);
	__atomic_store_n(&last_stopped_early, early, __ATOMIC_SEQ_CST);
	http_stream_close(t->s);
	free(t);
	return NULL;
}

static long query_long(struct http_request *req, const char *name, long def, long max)
{
	const char *v = http_query(req, name);
	if (!v)
		return def;
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	return errno || *end || x < 0 || x > max ? -1 : x;
}

static void stream(struct http_request *req, struct http_response *res, void *ctx)
{
	long n = query_long(req, "n", 5, 100000), ms = query_long(req, "ms", 10, 5000);
	if (n < 0 || ms < 0) {
		http_error(res, 400, "invalid_request_error", "invalid_value", NULL, "n and ms must be small integers");
		return;
	}
	struct ticker *t = calloc(1, sizeof *t);
	if (!t) {
		http_error(res, 500, "server_error", NULL, NULL, "out of memory");
		return;
	}
	t->n = n;
	t->ms = ms;
	t->s = http_stream_open(req, res, 200, "text/event-stream");
	pthread_t th;
	if (!t->s || pthread_create(&th, NULL, tick, t)) {
		http_stream_close(t->s);
		free(t);
		return;
	}
	pthread_detach(th);
}

static void stream_stats(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:I, s:b}", "last_sent", (json_int_t)__atomic_load_n(&last_sent, __ATOMIC_SEQ_CST),
				      "stopped_early", __atomic_load_n(&last_stopped_early, __ATOMIC_SEQ_CST)));
}

/* Sign the posted object as a receipt, for the CLI verification test. */
static void sign_receipt(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	json_t *doc = json_deep_copy(req->json);
	if (receipt_sign(app->keys, doc)) {
		json_decref(doc);
		http_error(res, 400, "invalid_request_error", "invalid_value", NULL, "cannot sign this object");
		return;
	}
	http_json(res, 200, doc);
}

static void whoami(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:s, s:s}", "user", req->who.user_id, "request_id", req->id));
}

/* Queue a message as a service would ({to, subject, body}), so the outbox and
 * the sender can be tested before the routes that send mail exist. */
static void mail(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *to = json_string_value(json_object_get(req->json, "to"));
	const char *subject = json_string_value(json_object_get(req->json, "subject"));
	const char *body = json_string_value(json_object_get(req->json, "body"));
	if (!to || !subject || !body) {
		http_error(res, 400, "invalid_request_error", "invalid_value", !to ? "to" : !subject ? "subject" : "body",
			   "to, subject and body are required strings");
		return;
	}
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (!rc && (rc = mail_enqueue(app, c, to, subject, body, "debug")) == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	if (rc) {
		struct errinfo e = {0};
		err_set(&e, rc, rc == ERR_INVALID ? "to" : NULL, "%s",
			rc == ERR_INVALID ? "to must be one address and subject one line"
			: rc == ERR_TOOBIG ? "subject or body too long" : err_str(rc));
		api_error(res, rc, &e);
		return;
	}
	mail_kick(app->mail);
	http_json(res, 202, json_pack("{s:b}", "queued", 1));
}

const struct route api_debug_routes[] = {
	{"POST", "/api/debug/echo", echo, GUARD_PUBLIC, 0, RL_NONE, ROUTE_JSON | ROUTE_HIDDEN, "echo a JSON body"},
	{"POST", "/api/debug/upload", upload, GUARD_PUBLIC, 0, RL_NONE, ROUTE_UPLOAD | ROUTE_HIDDEN, "count an upload"},
	{"GET", "/api/debug/slow", slow, GUARD_PUBLIC, 0, RL_NONE, ROUTE_HIDDEN, "answer after ?ms="},
	{"POST", "/api/debug/mail", mail, GUARD_PUBLIC, 0, RL_NONE, ROUTE_JSON | ROUTE_HIDDEN, "queue a mail"},
	{"GET", "/api/debug/stream", stream, GUARD_PUBLIC, 0, RL_NONE, ROUTE_HIDDEN, "server-sent events from a thread"},
	{"GET", "/api/debug/stream/stats", stream_stats, GUARD_PUBLIC, 0, RL_NONE, ROUTE_HIDDEN, "how the last stream ended"},
	{"POST", "/api/debug/receipt", sign_receipt, GUARD_PUBLIC, 0, RL_NONE, ROUTE_JSON | ROUTE_HIDDEN, "sign a receipt"},
	{"GET", "/api/debug/whoami", whoami, GUARD_USER, 0, RL_READ, ROUTE_HIDDEN, "the caller's identity"},
	{0},
};
