/*
 * oidc.c: /api/auth/oidc/google/...: single sign-on with Google (ACC-6),
 * and /api/auth/methods, which tells the studio whether to show the button.
 * The flow's rules are in service/oidc.c; here query strings become calls
 * and outcomes become redirects.
 *
 * The callback answers a browser: success is a redirect into the studio
 * ("/", or its two-factor or sign-up page with the challenge or token in
 * the URL fragment, which browsers never send to a server, so it stays out
 * of every access log); a refusal is a 4xx in the usual error shape.
 * With [oidc] client_id empty, the SSO routes answer 404.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "service/oidc.h"

static void no_store(struct http_response *res)
{
	http_set_header(res, "Cache-Control", "no-store");
	http_set_header(res, "Referrer-Policy", "no-referrer");
}

static void redirect(struct http_response *res, const char *location)
{
	no_store(res);
	http_set_header(res, "Location", location);
	http_text(res, 302, "text/plain; charset=utf-8", "", 0);
}

static void methods(struct http_request *req, struct http_response *res, void *ctx)
{
	bool g = oidc_enabled(ctx);
	http_json(res, 200, json_pack("{s:b, s:b, s:s?}", "password", 1, "google", g, "google_start",
				      g ? "/api/auth/oidc/google/start" : NULL));
}

static void start(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	char url[OIDC_URL_MAX];
	int rc = oidc_start(ctx, url, sizeof url, &e);
	if (rc)
		return api_error(res, rc, &e);
	redirect(res, url);
	crypto_wipe(url, sizeof url);
}

static void callback(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	struct oidc_result out;
	char loc[160];
	const char *old = req->who.via == AUTH_SESSION ? req->who.session_id : NULL;
	const char *ua = http_header_get(req, "User-Agent");
	int rc = oidc_callback(app, http_query(req, "code"), http_query(req, "state"),
			       http_query(req, "error"), ua ? ua : "", req->client_ip, old, &out, &e);
	if (rc) {
		no_store(res);
		return api_error(res, rc, &e);
	}
	switch (out.outcome) {
	case OIDC_SIGNED_IN:
		api_session_cookie(req, res, app, out.login.cookie, out.login.max_age);
		redirect(res, "/");
		break;
	case OIDC_TWO_FACTOR:
		snprintf(loc, sizeof loc, "/#/2fa?challenge=%s", out.login.challenge);
		redirect(res, loc);
		break;
	default:
		snprintf(loc, sizeof loc, "/#/signup?sso_token=%s", out.signup_token);
		redirect(res, loc);
		break;
	}
	crypto_wipe(&out, sizeof out);
	crypto_wipe(loc, sizeof loc);
}

static void pending(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"sso_token", NULL};
	struct errinfo e = {0};
	const char *token;
	char email[256];
	int rc;
	if (!oidc_enabled(ctx))
		return api_error(res, ERR_NOTFOUND, NULL);
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "sso_token", true, &token, &e)) ||
	    (rc = oidc_signup_email(ctx, token, email, sizeof email, &e)))
		return api_error(res, rc, &e);
	no_store(res);
	http_json(res, 200, json_pack("{s:s, s:b}", "email", email, "email_verified", 1));
	crypto_wipe(email, sizeof email);
}

const struct route api_oidc_routes[] = {
	{"GET", "/api/auth/methods", methods, GUARD_PUBLIC, 0, RL_READ, 0, "the sign-in methods this server offers"},
	{"GET", "/api/auth/oidc/google/start", start, GUARD_PUBLIC, 0, RL_AUTH, 0, "begin sign-in with Google: redirects to the provider"},
	{"GET", "/api/auth/oidc/google/callback", callback, GUARD_PUBLIC, 0, RL_AUTH, 0, "the provider's redirect back: signs in, or redirects to sign-up"},
	{"POST", "/api/auth/oidc/google/pending", pending, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON, "the verified email a sign-up token stands for (pre-fills sign-up)"},
	{0},
};
