/*
 * debug.c: routes that exist for the test suite only, mounted when
 * [server] debug_routes = true (never by default). They exercise what the
 * product routes will rely on (JSON bodies, upload limits, slow handlers for
 * graceful shutdown) before those routes exist, and stay afterwards as a
 * harness. Hidden from /openapi.json.
 */
#include "api/api.h"

#include <errno.h>
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
	{"GET", "/api/debug/whoami", whoami, GUARD_USER, 0, RL_READ, ROUTE_HIDDEN, "the caller's identity"},
	{0},
};
