/*
 * system.c: the endpoints orchestrators and operators use: /healthz (the
 * process answers), /readyz (and its database does), /metrics (Prometheus
 * text) and /openapi.json (generated from the route tables).
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "service/receipt.h"

static void healthz(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

static void readyz(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	int rc = db_ping(app->db);
	if (rc) {
		http_json(res, 503, json_pack("{s:s, s:s}", "status", "unavailable", "database", err_str(rc)));
		return;
	}
	http_json(res, 200, json_pack("{s:s, s:s, s:i}", "status", "ready", "database", "ok",
				      "schema_version", db_schema_version(app->db)));
}

static void metrics(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	res->status = 200;
	res->content_type = "text/plain; version=0.0.4; charset=utf-8";
	metrics_render(app->router, &res->body);
	buf_printf(&res->body,
		   "# HELP atelier_uptime_seconds Seconds since the server started.\n"
		   "# TYPE atelier_uptime_seconds gauge\natelier_uptime_seconds %lld\n",
		   (long long)(time_now() - app->started_at));
}

static void openapi(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	http_json(res, 200, api_openapi(app->router));
}

/* The public key that signs receipts (deletion receipts and others), so a
 * customer can check one without trusting the server that shows it. */
static void receipt_key(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	char pk[64];
	receipt_public_key(app->keys, pk, sizeof pk);
	http_json(res, 200, json_pack("{s:s, s:s}", "alg", "Ed25519", "key", pk));
}

const struct route api_system_routes[] = {
	{"GET", "/healthz", healthz, GUARD_PUBLIC, 0, RL_NONE, 0, "liveness: the process answers"},
	{"GET", "/readyz", readyz, GUARD_PUBLIC, 0, RL_NONE, 0, "readiness: the database answers"},
	{"GET", "/metrics", metrics, GUARD_PUBLIC, 0, RL_READ, 0, "Prometheus metrics"},
	{"GET", "/.well-known/atelier-receipt-key", receipt_key, GUARD_PUBLIC, 0, RL_READ, 0, "the key that signs receipts"},
	{"GET", "/openapi.json", openapi, GUARD_PUBLIC, 0, RL_READ, 0, "this API, as OpenAPI 3.1"},
	{0},
};
