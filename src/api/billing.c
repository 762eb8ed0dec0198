/*
 * billing.c: prices, balance, receipts, usage, and the payment provider's
 * webhook (PAY-1, PAY-2, PAY-4, USE-2).
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/timeutil.h"
#include "service/accounts.h"
#include "service/credits.h"
#include "service/payments.h"
#include "service/usage.h"
#include "store/store.h"

static json_t *credits_json(int64_t micro)
{
	char s[40];
	snprintf(s, sizeof s, "%lld.%06lld", (long long)(micro / CREDITS_UNIT),
		 (long long)(micro % CREDITS_UNIT));
	return json_string(s);
}

/* GET /api/prices: every model's published price (PAY-1). Amounts are
 * credits as decimal strings, so no float rounding reaches a client. */
static void prices(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const struct config *cfg = app->cfg;
	json_t *models = json_array();
	for (int i = 0; i < cfg->nmodels; i++) {
		const struct config_model *m = &cfg->models[i];
		json_t *p = json_object();
		if (!strcmp(m->kind, "text")) {
			json_object_set_new(p, "prompt_per_1k_tokens", credits_json(m->price_prompt));
			json_object_set_new(p, "completion_per_1k_tokens", credits_json(m->price_completion));
		} else if (!strcmp(m->kind, "image")) {
			json_object_set_new(p, "per_image", credits_json(m->price_image));
			json_object_set_new(p, "per_extra_step", credits_json(m->price_step));
		} else {
			json_object_set_new(p, "per_second", credits_json(m->price_audio_second));
		}
		json_array_append_new(models, json_pack("{s:s, s:s, s:o}", "model", m->name, "kind", m->kind,
							"price", p));
	}
	http_json(res, 200,
		  json_pack("{s:s, s:o, s:{s:s, s:I, s:I, s:I}}", "unit", "credit", "models", models,
			    "purchase", "currency", cfg->billing.currency, "credits_per_unit",
			    (json_int_t)cfg->billing.credits_per_unit, "min", (json_int_t)cfg->billing.min_purchase,
			    "max", (json_int_t)cfg->billing.max_purchase));
}

static void balance(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	int64_t b;
	int rc = credits_balance(app->db, req->who.user_id, &b);
	if (rc) {
		api_error(res, rc, NULL);
		return;
	}
	http_json(res, 200, json_pack("{s:o, s:I}", "credits", credits_json(b), "micro_credits", (json_int_t)b));
}

static int add_receipt(void *arg, const char *id, const char *code, int64_t credits, int64_t cents,
		       const char *currency, int64_t issued_at)
{
	char amount[32], at[24];
	snprintf(amount, sizeof amount, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
	time_iso8601(at, sizeof at, issued_at);
	json_array_append_new(arg, json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "id", id, "charge", code,
					     "credits", credits_json(credits), "amount", amount, "currency",
					     currency, "issued_at", at));
	return 0;
}

static void receipts(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	json_t *list = json_array();
	struct db_conn *c = db_get(app->db);
	int rc = store_receipts_each(c, req->who.user_id, add_receipt, list);
	db_put(c);
	if (rc) {
		json_decref(list);
		api_error(res, rc, NULL);
		return;
	}
	http_json(res, 200, json_pack("{s:o}", "receipts", list));
}

/* "2026-11-23" or Unix seconds. */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%d", &tm);
	if (end && !*end) {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	char *e;
	long long v = strtoll(s, &e, 10);
	if (e == s || *e || v < 0 || v > 253402300799LL)
		return -1;
	*out = v;
	return 0;
}

static void usage(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	int64_t now = time_now();
	int64_t to = now + 1, from = now - 30 * 86400;
	const char *f = http_query(req, "from"), *t = http_query(req, "to"), *fmt = http_query(req, "format");
	if (f && parse_time(f, &from)) {
		http_error(res, 400, "invalid_request_error", "invalid_value", "from",
			   "from must be a date (YYYY-MM-DD) or Unix seconds");
		return;
	}
	if (t && parse_time(t, &to)) {
		http_error(res, 400, "invalid_request_error", "invalid_value", "to",
			   "to must be a date (YYYY-MM-DD) or Unix seconds");
		return;
	}
	if (t && strchr(t, '-'))
		to += 86400; /* a date means the whole day */
	if (to <= from || to - from > 400LL * 86400) {
		http_error(res, 400, "invalid_request_error", "invalid_value", "to",
			   "the period must be positive and at most 400 days");
		return;
	}
	if (fmt && strcmp(fmt, "json") && strcmp(fmt, "csv")) {
		http_error(res, 400, "invalid_request_error", "invalid_value", "format", "format must be json or csv");
		return;
	}
	int rc;
	if (fmt && !strcmp(fmt, "csv")) {
		buf_init(&res->body, 64 << 20);
		rc = usage_csv(app->db, req->who.user_id, from, to, &res->body);
		if (rc) {
			api_error(res, rc, NULL);
			return;
		}
		res->status = 200;
		res->content_type = "text/csv; charset=utf-8";
		http_set_header(res, "Content-Disposition", "attachment; filename=\"atelier-usage.csv\"");
		return;
	}
	json_t *out;
	rc = usage_summary(app->db, req->who.user_id, from, to, &out);
	if (rc) {
		api_error(res, rc, NULL);
		return;
	}
	http_json(res, 200, out);
}

/* POST /api/billing/checkout {amount: "10.00", currency: "USD"}: a charge
 * with the payment provider; the answer's hosted_url is where to pay. */
static void checkout(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	static const char *const allowed[] = {"amount", "currency", NULL};
	const char *amount = NULL, *currency = NULL;
	int rc = api_only_fields(req->json, allowed, &e);
	if (!rc) {
		json_t *a = json_object_get(req->json, "amount");
		if (json_is_string(a))
			amount = json_string_value(a);
		else if (json_is_integer(a))
			amount = arena_printf(req->arena, "%lld", (long long)json_integer_value(a));
		else
			rc = err_set(&e, ERR_INVALID, "amount", "amount must be a string like \"10.00\"");
	}
	if (!rc)
		rc = api_str(req->json, "currency", false, &currency, &e);
	struct acct_me me;
	if (!rc)
		rc = acct_me(app, req->who.user_id, req->arena, &me, &e);
	struct checkout co;
	if (!rc)
		rc = payments_checkout(app, req->who.user_id, me.email, amount,
				       currency ? currency : app->cfg->billing.currency, &co, &e);
	if (rc) {
		api_error(res, rc, &e);
		return;
	}
	char price[32];
	snprintf(price, sizeof price, "%lld.%02lld", (long long)(co.amount_cents / 100), (long long)(co.amount_cents % 100));
	http_json(res, 201, json_pack("{s:s, s:s, s:o, s:s, s:s}", "charge", co.code, "hosted_url", co.hosted_url,
				      "credits", credits_json(co.credits), "amount", price, "currency", co.currency));
}

/* POST /api/admin/users/{id}/credits {credits: "10", reason}: a manual
 * grant, audited with the admin's ID and the reason. */
static void admin_grant(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	static const char *const allowed[] = {"credits", "reason", NULL};
	const char *amount = NULL, *reason = NULL;
	int64_t micro = 0;
	int rc = api_only_fields(req->json, allowed, &e);
	if (!rc)
		rc = api_str(req->json, "credits", true, &amount, &e);
	if (!rc)
		rc = api_str(req->json, "reason", true, &reason, &e);
	if (!rc && (config_parse_credits(amount, &micro) || micro <= 0 || micro > CREDITS_MAX))
		rc = err_set(&e, ERR_INVALID, "credits", "credits must be a positive amount like \"10\" or \"2.5\"");
	if (!rc && (!*reason || strlen(reason) > 200))
		rc = err_set(&e, ERR_INVALID, "reason", "reason is 1 to 200 characters");
	if (!rc) {
		char idem[64];
		snprintf(idem, sizeof idem, "grant:admin:%s", req->id);
		rc = credits_grant_audited(app->db, req->who.user_id, http_param(req, "id"), micro, idem, reason);
		if (rc == ERR_NOTFOUND)
			err_set(&e, rc, NULL, "no such user");
	}
	if (rc) {
		api_error(res, rc, &e);
		return;
	}
	int64_t b = 0;
	credits_balance(app->db, http_param(req, "id"), &b);
	http_json(res, 200, json_pack("{s:o, s:o}", "granted", credits_json(micro), "balance", credits_json(b)));
}

/* POST /webhooks/coinbase: the provider's call. The raw body is what the
 * signature covers, so the route keeps it unparsed (ROUTE_RAW). */
static void coinbase_webhook(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	enum webhook_outcome out;
	int rc = payments_webhook(app, req->body.data ? req->body.data : "", req->body.len,
				  http_header_get(req, "X-CC-Webhook-Signature"), &out, &e);
	if (rc == ERR_CRYPTO || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
		http_error(res, 400, "invalid_request_error", rc == ERR_CRYPTO ? "bad_signature" : err_str(rc),
			   NULL, "%s", e.msg);
		return;
	}
	if (rc) {
		api_error(res, rc, &e); /* 5xx: the provider retries */
		return;
	}
	http_json(res, 200, json_pack("{s:s}", "result",
				      out == WEBHOOK_CREDITED ? "credited" : out == WEBHOOK_REPEAT ? "repeat" : "noted"));
}

const struct route api_billing_routes[] = {
	{"GET", "/api/prices", prices, GUARD_PUBLIC, 0, RL_READ, 0, "published price of every model"},
	{"GET", "/api/billing/balance", balance, GUARD_USER, SCOPE_READ, RL_READ, 0, "the caller's credit balance"},
	{"GET", "/api/billing/receipts", receipts, GUARD_USER, SCOPE_READ, RL_READ, 0, "receipts of purchases"},
	{"GET", "/api/usage", usage, GUARD_USER, SCOPE_READ, RL_READ, 0, "usage by day, model and key (?format=csv)"},
	{"POST", "/api/billing/checkout", checkout, GUARD_SESSION, 0, RL_WRITE, ROUTE_JSON, "buy credits: a charge with the payment provider"},
	{"POST", "/api/admin/users/{id}/credits", admin_grant, GUARD_ADMIN, 0, RL_WRITE, ROUTE_JSON, "grant credits by hand (audited)"},
	{"POST", "/webhooks/coinbase", coinbase_webhook, GUARD_PUBLIC, 0, RL_WRITE, ROUTE_RAW, "Coinbase Commerce events"},
	{0},
};
