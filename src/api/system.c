/*
 * system.c: the endpoints orchestrators and operators use: /healthz (the
 * process answers), /readyz (and its database does), /metrics (Prometheus
 * text) and /openapi.json (generated from the route tables).
 */
#include "api/api.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "service/receipt.h"
#include "service/textmodels.h"

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

/* The schedulers of the builtin text models: how full their batches run (the
 * entries of a step over its steps), how much of the prompts the cache
 * saved, and what is running and waiting now. Labelled by model name, which
 * the configuration restricts to letters, digits and - _ . : (nothing to
 * escape). */
static void textgen_metrics(struct app *app, struct buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"atelier_textgen_steps_total", "counter", "Forward passes run."},
		{"atelier_textgen_entries_total", "counter", "Tokens computed, summed over the forward passes."},
		{"atelier_textgen_cached_tokens_total", "counter", "Prompt tokens taken from the prompt cache."},
		{"atelier_textgen_max_batch", "gauge", "Most tokens in one forward pass so far."},
		{"atelier_textgen_active", "gauge", "Sequences holding a slot."},
		{"atelier_textgen_queued", "gauge", "Sequences waiting for a slot."},
	};
	struct textmodels *t = app->text;
	for (size_t f = 0; t && f < sizeof fam / sizeof fam[0]; f++) {
		bool head = false;
		for (int i = 0; i < t->n; i++) {
			if (!t->m[i].gen)
				continue;
			struct textgen_stats st;
			textgen_stats(t->m[i].gen, &st);
			uint64_t v[] = {st.steps, st.tokens, st.cached_tokens, st.max_batch, st.active, st.queued};
			if (!head)
				buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name,
					   fam[f].type);
			head = true;
			buf_printf(b, "%s{model=\"%s\"} %" PRIu64 "\n", fam[f].name, t->m[i].cfg.name, v[f]);
		}
	}
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
	textgen_metrics(app, &res->body);
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
