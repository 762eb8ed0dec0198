/*
 * api.c: the table of tables, error mapping, and authentication.
 *
 * api_status_for() is the only function in the project that maps enum err to
 * an HTTP status (STYLE "Errors").
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/accounts.h"
#include "service/privacy.h"

int api_status_for(int code)
{
	switch (code) {
	case ERR_OK: return 200;
	case ERR_INVALID: return 400;
	case ERR_AUTH: return 401;
	case ERR_PAYMENT: return 402;
	case ERR_FORBIDDEN: return 403;
	case ERR_NOTFOUND: return 404;
	case ERR_EXISTS: return 409;
	case ERR_TOOBIG: return 413;
	case ERR_UNSUPPORTED: return 422;
	case ERR_LIMIT: return 429;
	case ERR_BUSY: return 503;
	case ERR_TIMEOUT: return 504;
	default: return 500;
	}
}

static const char *type_for(int status)
{
	if (status == 401)
		return "authentication_error";
	if (status == 403)
		return "permission_error";
	if (status == 429)
		return "rate_limit_error";
	if (status == 402)
		return "insufficient_quota";
	if (status >= 500)
		return "server_error";
	return "invalid_request_error";
}

void api_error(struct http_response *res, int code, const struct errinfo *e)
{
	int status = api_status_for(code);
	const char *msg = e && e->msg[0] ? e->msg : NULL;
	/* internal failures never leak their details to the caller */
	if (status >= 500 && status != 503)
		msg = "internal error; the request ID identifies it in the server log";
	http_error(res, status, type_for(status), code == ERR_PAYMENT ? "insufficient_quota" : err_str(code),
		   e && e->field[0] ? e->field : NULL, "%s", msg ? msg : err_str(code));
}

size_t api_tables(const struct route **out, size_t max, int with_debug)
{
	const struct route *all[] = {
		api_system_routes, api_auth_routes,  api_twofa_routes,   api_oidc_routes,
		api_account_routes, api_keys_routes, api_admin_routes,   api_billing_routes,
		api_legal_routes,   api_chat_routes, api_chats_routes,  api_images_routes,
		api_privacy_routes,
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof all / sizeof all[0] && n < max; i++)
		out[n++] = all[i];
	if (with_debug && n < max)
		out[n++] = api_debug_routes;
	if (with_debug && n < max)
		out[n++] = api_privacy_debug_routes;
	return n;
}

int api_query_limit(struct http_request *req, int dflt, int max, int *out, struct errinfo *e)
{
	const char *s = http_query(req, "limit");
	*out = dflt;
	if (!s)
		return ERR_OK;
	char *end;
	long l = strtol(s, &end, 10);
	if (end == s || *end || l < 1 || l > max)
		return err_set(e, ERR_INVALID, "limit", "limit must be 1 to %d", max);
	*out = (int)l;
	return ERR_OK;
}

int api_authenticate(struct http_request *req, struct identity *who, void *ctx)
{
	/* the session cookie or `Authorization: Bearer sk-…` (which wins);
	 * a credential that is presented and not valid is refused, never
	 * taken for anonymous (the router makes it anonymous on public routes) */
	struct app *app = ctx;
	memset(who, 0, sizeof *who);
	const char *authz = http_header_get(req, "Authorization");
	const char *cookie = http_cookie(req, acct_cookie_name(app, req->tls));
	if (!authz && !cookie)
		return ERR_OK;
	struct acct_principal p;
	int rc = acct_authenticate(app, cookie, authz, &p);
	if (rc)
		return rc;
	static const enum role roles[ACCT_ROLE__MAX] = {
		[ACCT_ROLE_NONE] = ROLE_NONE, [ACCT_ROLE_USER] = ROLE_USER,
		[ACCT_ROLE_SUPPORT] = ROLE_SUPPORT, [ACCT_ROLE_ADMIN] = ROLE_ADMIN,
	};
	who->via = p.via == 1 ? AUTH_SESSION : p.via == 2 ? AUTH_KEY : AUTH_NONE;
	who->role = p.role < ACCT_ROLE__MAX ? roles[p.role] : ROLE_NONE;
	who->scopes = p.scopes;
	snprintf(who->user_id, sizeof who->user_id, "%s", p.user_id);
	snprintf(who->session_id, sizeof who->session_id, "%s", p.session_id);
	snprintf(who->key_id, sizeof who->key_id, "%s", p.key_id);
	snprintf(who->csrf, sizeof who->csrf, "%s", p.csrf);
	/* PRIV-6: the router refuses generation for a restricted account */
	who->restricted = p.restricted >= 0 ? p.restricted : privacy_restricted(app, who->user_id);
	return ERR_OK;
}
