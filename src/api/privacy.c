/*
 * privacy.c: the privacy center's routes (PRIV-1..12, AGE-3, OPS-6, COOK-2).
 * Handlers only turn JSON into service/privacy.h calls and back; the guard
 * of each route is in the table at the end.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "service/privacy.h"
#include "service/usage.h"

static void fail(struct http_response *res, int rc, struct errinfo *e)
{
	api_error(res, rc, e);
}

static int only(struct http_request *req, struct http_response *res, const char *const *allowed)
{
	struct errinfo e = {0};
	if (req->json && api_only_fields(req->json, allowed, &e)) {
		fail(res, ERR_INVALID, &e);
		return -1;
	}
	return 0;
}

/* DNT: 1 or Sec-GPC: 1 (COOK-2). */
static bool privacy_signal(struct http_request *req)
{
	const char *dnt = http_header_get(req, "DNT"), *gpc = http_header_get(req, "Sec-GPC");
	return (dnt && !strcmp(dnt, "1")) || (gpc && !strcmp(gpc, "1"));
}

/* --- access and portability ----------------------------------------------------- */

static void export_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	char id[40];
	int rc = privacy_export_request(app, req->who.user_id, id, &e);
	if (rc)
		return fail(res, rc, &e);
	privacy_kick(app->privacy);
	char loc[96];
	snprintf(loc, sizeof loc, "/api/privacy/exports/%s", id);
	http_set_header(res, "Location", loc);
	http_json(res, 202, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "status", "queued", "download", loc, "note",
				      "you will get an email when it is ready"));
}

static void exports_list(struct http_request *req, struct http_response *res, void *ctx)
{
	json_t *arr;
	int rc = privacy_export_list(ctx, req->who.user_id, &arr);
	if (rc)
		return fail(res, rc, NULL);
	http_json(res, 200, json_pack("{s:o}", "exports", arr));
}

static void export_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	struct buf zip;
	buf_init(&zip, 0);
	const char *id = http_param(req, "id");
	int rc = privacy_export_fetch(ctx, req->who.user_id, id, &zip, &e);
	if (rc) {
		buf_free(&zip);
		return fail(res, rc, &e);
	}
	char cd[128];
	snprintf(cd, sizeof cd, "attachment; filename=\"atelier-export-%.40s.zip\"", id);
	http_set_header(res, "Content-Disposition", cd);
	http_set_header(res, "Cache-Control", "no-store");
	http_text(res, 200, "application/zip", zip.data ? zip.data : "", zip.len);
	crypto_wipe(zip.data ? zip.data : (char *)"", zip.len);
	buf_free(&zip);
}

/* --- erasure -------------------------------------------------------------------------- */

static void me_delete(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"password", "mail_receipt", NULL};
	struct errinfo e = {0};
	const char *pw = NULL;
	bool mail = false;
	if (req->body.len) {
		json_error_t je;
		req->json = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(req->json))
			return http_error(res, 400, "invalid_request_error", "invalid_json", NULL,
					  "the body must be a JSON object: {\"password\": …, \"mail_receipt\": true}");
		if (only(req, res, allowed) || api_str(req->json, "password", false, &pw, &e))
			return e.code ? fail(res, ERR_INVALID, &e) : (void)0;
		json_t *m = json_object_get(req->json, "mail_receipt");
		if (m && !json_is_boolean(m))
			return http_error(res, 400, "invalid_request_error", "invalid_value", "mail_receipt",
					  "mail_receipt must be true or false");
		mail = json_is_true(m);
	}
	json_t *receipt = NULL;
	int rc = privacy_delete_account(ctx, req->who.user_id, req->who.session_id, pw, mail, req->client_ip,
					&receipt, &e);
	if (rc)
		return fail(res, rc, &e);
	api_session_cookie(req, res, ctx, "", 0);
	http_json(res, 200, receipt);
}

static void staff_erase(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	const char *uid = http_param(req, "id");
	if (!strcmp(uid, req->who.user_id))
		return http_error(res, 403, "permission_error", "forbidden", NULL,
				  "delete your own account from your privacy center (DELETE /api/me)");
	struct privacy_erase_opts o = {.actor = req->who.user_id, .channel = "staff",
				       .request_id = http_query(req, "request_id"), .ip = req->client_ip};
	json_t *receipt = NULL;
	/* AGE-3: support staff delete a child's account at once; other
	 * accounts are erased by an admin, answering a verified request */
	int rc = privacy_staff_erase(ctx, uid, req->who.role >= ROLE_ADMIN, &o, &receipt, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, receipt);
}

/* --- rectification -------------------------------------------------------------------- */

static void email_change(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"email", NULL};
	struct errinfo e = {0};
	const char *email;
	if (only(req, res, allowed))
		return;
	int rc = api_str(req->json, "email", true, &email, &e);
	if (rc == ERR_OK)
		rc = privacy_email_change_request(ctx, req->who.user_id, email, req->client_ip, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 202, json_pack("{s:s}", "status", "a confirmation link was mailed to the new address; "
							  "the change takes effect when it is used"));
}

static void email_confirm(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"token", NULL};
	struct errinfo e = {0};
	const char *token;
	if (only(req, res, allowed))
		return;
	int rc = api_str(req->json, "token", true, &token, &e);
	if (rc == ERR_OK)
		rc = privacy_email_change_confirm(ctx, token, req->client_ip, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:s}", "status", "email changed"));
}

/* --- consent, restriction, objection ------------------------------------------------------ */

static void consents_get(struct http_request *req, struct http_response *res, void *ctx)
{
	json_t *out;
	int rc = privacy_consents_get(ctx, req->who.user_id, &out);
	if (rc)
		return fail(res, rc, NULL);
	if (privacy_signal(req))
		json_object_set_new(out, "privacy_signal", json_string("DNT or GPC received: optional processing is off for this request"));
	http_json(res, 200, out);
}

static void consents_put(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	int rc = privacy_consents_put(ctx, req->who.user_id, req->json, privacy_signal(req),
				      req->who.via == AUTH_KEY ? "api" : "studio", &e);
	if (rc)
		return fail(res, rc, &e);
	consents_get(req, res, ctx);
}

static void restriction(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	bool on = !strcmp(req->method, "POST");
	int rc = privacy_restrict(ctx, req->who.user_id, on, req->client_ip, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:b}", "restricted", on));
}

static void objection(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"purpose", "note", NULL};
	struct errinfo e = {0};
	const char *purpose, *note;
	if (only(req, res, allowed))
		return;
	int rc = api_str(req->json, "purpose", true, &purpose, &e);
	if (rc == ERR_OK)
		rc = api_str(req->json, "note", false, &note, &e);
	if (rc == ERR_OK)
		rc = privacy_object(ctx, req->who.user_id, purpose, note, req->client_ip, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 201, json_pack("{s:s, s:s}", "purpose", purpose, "status", "recorded and honoured"));
}

/* --- requests ----------------------------------------------------------------------------- */

static void request_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	const char *kind = NULL, *child = NULL, *parent = NULL;
	int rc;
	if (req->who.via != AUTH_NONE) {
		static const char *const allowed[] = {"kind", NULL};
		if (only(req, res, allowed))
			return;
		char id[40];
		if ((rc = api_str(req->json, "kind", true, &kind, &e)) ||
		    (rc = privacy_request_log(ctx, kind, "studio", req->who.user_id, NULL, NULL, req->who.user_id, id, &e)))
			return fail(res, rc, &e);
		return http_json(res, 201, json_pack("{s:s, s:s}", "id", id, "status", "open"));
	}
	/* a parent or guardian, not signed in (AGE-3) */
	static const char *const allowed[] = {"child", "parent_email", "kind", NULL};
	if (only(req, res, allowed))
		return;
	if ((rc = api_str(req->json, "child", true, &child, &e)) ||
	    (rc = api_str(req->json, "parent_email", true, &parent, &e)) ||
	    (rc = api_str(req->json, "kind", false, &kind, &e)))
		return fail(res, rc, &e);
	if (kind && strcmp(kind, "erasure"))
		return http_error(res, 400, "invalid_request_error", "invalid_value", "kind",
				  "a parent or guardian's request is for erasure; sign in for other requests");
	if ((rc = privacy_parent_request(ctx, child, parent, req->client_ip, &e)))
		return fail(res, rc, &e);
	http_json(res, 202, json_pack("{s:s}", "status", "if the details match an account, a confirmation link was "
							  "mailed to the parent or guardian address"));
}

static void request_verify(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"token", NULL};
	struct errinfo e = {0};
	const char *token;
	bool erased;
	if (only(req, res, allowed))
		return;
	int rc = api_str(req->json, "token", true, &token, &e);
	if (rc == ERR_OK)
		rc = privacy_request_verify(ctx, token, &erased, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:s}", "status", erased ? "the account was deleted; the receipt was mailed to you"
								: "confirmed; our staff will answer within 30 days"));
}

static void admin_requests(struct http_request *req, struct http_response *res, void *ctx)
{
	json_t *arr;
	int rc = privacy_requests_list(ctx, req->who.user_id, 500, &arr);
	if (rc)
		return fail(res, rc, NULL);
	http_json(res, 200, json_pack("{s:o, s:i}", "requests", arr, "deadline_days", PRIVACY_REQUEST_DAYS));
}

static void admin_request_log(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"kind", "user_id", "customer", "contact_email", "channel", NULL};
	struct errinfo e = {0};
	const char *kind, *uid, *cust, *contact, *channel;
	char id[40];
	if (only(req, res, allowed))
		return;
	int rc;
	if ((rc = api_str(req->json, "kind", true, &kind, &e)) || (rc = api_str(req->json, "user_id", false, &uid, &e)) ||
	    (rc = api_str(req->json, "customer", false, &cust, &e)) ||
	    (rc = api_str(req->json, "contact_email", false, &contact, &e)) ||
	    (rc = api_str(req->json, "channel", false, &channel, &e)))
		return fail(res, rc, &e);
	if (channel && strcmp(channel, "mail") && strcmp(channel, "staff"))
		return http_error(res, 400, "invalid_request_error", "invalid_value", "channel", "channel must be mail or staff");
	if ((rc = privacy_request_log(ctx, kind, channel ? channel : "mail", uid, cust, contact, req->who.user_id, id, &e)))
		return fail(res, rc, &e);
	http_json(res, 201, json_pack("{s:s, s:s}", "id", id, "status", "open"));
}

static void admin_request_close(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"status", "outcome", NULL};
	struct errinfo e = {0};
	const char *status, *outcome;
	if (only(req, res, allowed))
		return;
	int rc;
	if ((rc = api_str(req->json, "status", true, &status, &e)) || (rc = api_str(req->json, "outcome", false, &outcome, &e)) ||
	    (rc = privacy_request_close(ctx, req->who.user_id, http_param(req, "id"), status, outcome, &e)))
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:s}", "status", status));
}

/* --- API customers' end users ----------------------------------------------------------------- */

static void subject_export(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	json_t *out;
	int rc = privacy_subject_export(ctx, req->who.user_id, http_param(req, "user"), &out, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, out);
}

static void subject_erase(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	json_t *receipt = NULL;
	int rc = privacy_subject_erase(ctx, req->who.user_id, http_param(req, "user"), &receipt, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, receipt);
}

/* --- test harness ------------------------------------------------------------------------------ */

static void debug_expire(struct http_request *req, struct http_response *res, void *ctx)
{
	int rc = privacy_export_expire_now(ctx, http_param(req, "id"));
	if (rc)
		return fail(res, rc, NULL);
	http_json(res, 200, json_pack("{s:b}", "expired", 1));
}

/* A generation-class route that does nothing, so the restriction check of
 * the router can be tested before the generation routes land. */
static void debug_generate(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:s}", "generated", "nothing"));
}

/* Record a usage row tagged with the caller's end user, as the text API does. */
static void debug_usage(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *user = NULL;
	struct errinfo e = {0};
	if (api_str(req->json, "user", true, &user, &e))
		return fail(res, ERR_INVALID, &e);
	char eu[CRYPTO_HASH_HEX];
	privacy_end_user_hash(app->keys, req->who.user_id, user, eu);
	struct store_usage u = {.owner = req->who.user_id, .endpoint = "/v1/chat/completions", .model = "debug",
				.key_id = req->who.key_id, .end_user = eu, .prompt_tokens = 3, .status = 200};
	int rc = usage_record(app->db, &u);
	if (rc)
		return fail(res, rc, NULL);
	http_json(res, 201, json_pack("{s:s}", "end_user_hash", eu));
}

static void my_requests(struct http_request *req, struct http_response *res, void *ctx)
{
	json_t *out;
	int rc = privacy_my_requests(ctx, req->who.user_id, &out);
	if (rc) {
		api_error(res, rc, NULL);
		return;
	}
	http_json(res, 200, json_pack("{s:o}", "requests", out));
}

/* SEC-5: staff access to my data, as the audit recorded it (role, not name). */
static void access_log(struct http_request *req, struct http_response *res, void *ctx)
{
	json_t *out;
	int rc = privacy_access_log(ctx, req->who.user_id, 200, &out);
	if (rc)
		return fail(res, rc, NULL);
	http_json(res, 200, json_pack("{s:o}", "events", out));
}

const struct route api_privacy_routes[] = {
	{"POST", "/api/privacy/export", export_create, GUARD_USER, SCOPE_PRIVACY, RL_WRITE, 0,
	 "ask for a copy of all your data (a ZIP, built in the background; mailed when ready)"},
	{"GET", "/api/privacy/exports", exports_list, GUARD_USER, SCOPE_PRIVACY, RL_READ, 0, "your data exports"},
	{"GET", "/api/privacy/exports/{id}", export_get, GUARD_USER, SCOPE_PRIVACY, RL_READ, 0,
	 "download an export (yours, before it expires)"},
	{"DELETE", "/api/me", me_delete, GUARD_SESSION, 0, RL_AUTH, ROUTE_SLOW,
	 "erase your account and all its data; returns the signed receipt"},
	{"POST", "/api/me/email", email_change, GUARD_SESSION, 0, RL_AUTH, ROUTE_JSON,
	 "change your email (takes effect when confirmed from the new address)"},
	{"POST", "/api/auth/email/confirm", email_confirm, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON, "confirm a new email"},
	{"GET", "/api/privacy/consents", consents_get, GUARD_USER, SCOPE_PRIVACY, RL_READ, 0,
	 "your consents: ledger, current state, policy version to accept"},
	{"PUT", "/api/privacy/consents", consents_put, GUARD_USER, SCOPE_PRIVACY, RL_WRITE, ROUTE_JSON,
	 "give or withdraw consents"},
	{"POST", "/api/privacy/restriction", restriction, GUARD_SESSION, 0, RL_WRITE, 0, "restrict processing of your data"},
	{"DELETE", "/api/privacy/restriction", restriction, GUARD_SESSION, 0, RL_WRITE, 0, "lift the restriction"},
	{"POST", "/api/privacy/objections", objection, GUARD_SESSION, 0, RL_WRITE, ROUTE_JSON, "object to processing"},
	{"GET", "/api/privacy/requests", my_requests, GUARD_USER, SCOPE_PRIVACY, RL_READ, 0,
	 "your privacy requests and their deadlines"},
	{"GET", "/api/privacy/access-log", access_log, GUARD_USER, SCOPE_PRIVACY, RL_READ, 0,
	 "when staff looked at or acted on your data: time, their role, what, why"},
	{"POST", "/api/privacy/requests", request_create, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON,
	 "log a privacy request; or, not signed in, a parent's request to delete a child's account"},
	{"POST", "/api/privacy/requests/verify", request_verify, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON,
	 "confirm a request with the mailed token"},
	{"GET", "/api/privacy/subjects/{user}/export", subject_export, GUARD_KEY, SCOPE_PRIVACY, RL_READ, 0,
	 "everything held about one of your end users (the `user` you send)"},
	{"DELETE", "/api/privacy/subjects/{user}", subject_erase, GUARD_KEY, SCOPE_PRIVACY, RL_WRITE, 0,
	 "erase one of your end users' data; returns a signed receipt"},
	{"GET", "/api/admin/privacy/requests", admin_requests, GUARD_SUPPORT, 0, RL_READ, 0,
	 "privacy requests with their deadlines"},
	{"POST", "/api/admin/privacy/requests", admin_request_log, GUARD_SUPPORT, 0, RL_WRITE, ROUTE_JSON,
	 "log a request received by mail"},
	{"POST", "/api/admin/privacy/requests/{id}/close", admin_request_close, GUARD_SUPPORT, 0, RL_WRITE, ROUTE_JSON,
	 "answer a request"},
	{"DELETE", "/api/admin/users/{id}", staff_erase, GUARD_SUPPORT, 0, RL_WRITE, 0,
	 "erase an account at once (support: a child's; admin: any)"},
	{0},
};

const struct route api_privacy_debug_routes[] = {
	{"POST", "/api/debug/privacy/exports/{id}/expire", debug_expire, GUARD_PUBLIC, 0, RL_NONE, ROUTE_HIDDEN,
	 "make an export expire now"},
	{"POST", "/api/debug/privacy/generate", debug_generate, GUARD_USER, 0, RL_GENERATE, ROUTE_HIDDEN,
	 "a generation-class route that generates nothing"},
	{"POST", "/api/debug/privacy/usage", debug_usage, GUARD_USER, 0, RL_WRITE, ROUTE_JSON | ROUTE_HIDDEN,
	 "record a usage row for an end user"},
	{0},
};
