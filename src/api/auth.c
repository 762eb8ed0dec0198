/*
 * auth.c: /api/auth/...: sign-up, email verification, sign-in and out,
 * password reset and change, and the CSRF token. Handlers turn JSON into
 * service/accounts.h calls and back; the rules are there, not here.
 *
 * Every body is checked against the list of fields the endpoint takes, so
 * a sign-up cannot carry "role": "admin" (mass assignment).
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "service/accounts.h"
#include "service/oidc.h"

/* --- helpers (api.h) --------------------------------------------------------- */

int api_only_fields(const json_t *obj, const char *const *allowed, struct errinfo *e)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, k);
		if (!ok)
			return err_set(e, ERR_INVALID, k, "field '%.60s' is not accepted here", k);
	}
	return ERR_OK;
}

int api_str(const json_t *obj, const char *name, bool required, const char **out,
	    struct errinfo *e)
{
	json_t *v = json_object_get(obj, name);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return err_set(e, ERR_INVALID, name, "%s is required", name);
		return ERR_OK;
	}
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, name, "%s must be a string", name);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err_set(e, ERR_INVALID, name, "%s must not contain NUL characters", name);
	*out = json_string_value(v);
	return ERR_OK;
}

void api_session_cookie(struct http_request *req, struct http_response *res, struct app *app,
			const char *value, int64_t max_age)
{
	const char *name = acct_cookie_name(app, req->tls);
	bool secure = !strncmp(name, "__Host-", 7);
	char c[256];
	snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s", name, value,
		 (long long)max_age, secure ? "; Secure" : "");
	http_set_header(res, "Set-Cookie", c);
}

json_t *api_time(int64_t t)
{
	if (!t)
		return json_null();
	char s[32];
	time_iso8601(s, sizeof s, t);
	return json_string(s);
}

/* A password member: bytes as sent (jansson keeps embedded NULs counted). */
static int password_of(const json_t *obj, const char *name, const char **pw, size_t *n,
		       struct errinfo *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || !json_is_string(v))
		return err_set(e, ERR_INVALID, name, "%s is required, as a string", name);
	*pw = json_string_value(v);
	*n = json_string_length(v);
	return ERR_OK;
}

static void fail(struct http_response *res, int rc, struct errinfo *e)
{
	if (rc == ERR_BUSY)
		http_set_header(res, "Retry-After", "1");
	api_error(res, rc, e);
}

static const char *ua_of(struct http_request *req)
{
	return http_header_get(req, "User-Agent");
}

/* --- handlers ------------------------------------------------------------------ */

static void signup(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"email", "username", "password", "birth_date",
					      "parent_email", "parent_consent", "name", "phone",
					      "company", "billing_address", "sso_token", NULL};
	struct app *app = ctx;
	struct errinfo e = {0};
	struct acct_signup s = {.user_agent = ua_of(req), .ip = req->client_ip};
	json_t *j = req->json, *consent = json_object_get(j, "parent_consent");
	const char *sso = NULL;
	char sso_email[256] = "";
	int rc;
	/* with a token from a Google sign-in (ACC-6) the email is the one the
	 * provider verified, and may be left out */
	if ((rc = api_only_fields(j, allowed, &e)) || (rc = api_str(j, "sso_token", false, &sso, &e)))
		return fail(res, rc, &e);
	if (sso) {
		if ((rc = oidc_signup_email(app, sso, sso_email, sizeof sso_email, &e)))
			return fail(res, rc, &e);
		s.vouch = oidc_signup_vouch;
		s.vouch_arg = (void *)sso;
	}
	if ((rc = api_str(j, "email", !sso, &s.email, &e)) ||
	    (rc = api_str(j, "username", true, &s.username, &e)) ||
	    (rc = password_of(j, "password", &s.password, &s.password_len, &e)) ||
	    (rc = api_str(j, "birth_date", true, &s.birth_date, &e)) ||
	    (rc = api_str(j, "parent_email", false, &s.parent_email, &e)) ||
	    (rc = api_str(j, "name", false, &s.name, &e)) || (rc = api_str(j, "phone", false, &s.phone, &e)) ||
	    (rc = api_str(j, "company", false, &s.company, &e)) ||
	    (rc = api_str(j, "billing_address", false, &s.billing_address, &e)))
		return fail(res, rc, &e);
	if (consent && !json_is_boolean(consent) && !json_is_null(consent)) {
		err_set(&e, ERR_INVALID, "parent_consent", "parent_consent must be true or false");
		return fail(res, ERR_INVALID, &e);
	}
	s.parent_consent = json_is_true(consent);
	if (sso && !s.email)
		s.email = sso_email;
	char id[STORE_ID];
	rc = acct_signup(app, &s, id, &e);
	crypto_wipe(sso_email, sizeof sso_email);
	if (rc) {
		/* under 13 nothing about the person is kept (AGE-1): nor the
		 * email the provider gave */
		if (sso && rc == ERR_UNSUPPORTED && !strcmp(e.field, "birth_date"))
			oidc_signup_discard(app, sso);
		return fail(res, rc, &e);
	}
	if (sso) {
		http_json(res, 201, json_pack("{s:s, s:s, s:s}", "id", id, "email_verification", "not_needed",
					      "next", "sign in with Google, or with your username and password"));
		return;
	}
	http_json(res, 201, json_pack("{s:s, s:s, s:s}", "id", id, "email_verification", "sent",
				      "next", "confirm your email with the link we sent, then sign in"));
}

static void verify(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"token", NULL};
	struct errinfo e = {0};
	const char *token;
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "token", true, &token, &e)) ||
	    (rc = acct_verify_email(ctx, token, &e)))
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:b}", "email_verified", 1));
}

static void login(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"login", "password", NULL};
	struct app *app = ctx;
	struct errinfo e = {0};
	const char *who, *pw;
	size_t n;
	int rc;
	struct acct_login out;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "login", true, &who, &e)) ||
	    (rc = password_of(req->json, "password", &pw, &n, &e)))
		return fail(res, rc, &e);
	/* the session the browser came with, if any, is ended: a sign-in
	 * always gets a fresh session ID (no session fixation) */
	const char *old = req->who.via == AUTH_SESSION ? req->who.session_id : NULL;
	rc = acct_login(app, who, pw, n, ua_of(req), req->client_ip, old, &out, &e);
	if (rc == ERR_LIMIT) {
		char ra[24];
		snprintf(ra, sizeof ra, "%lld", (long long)out.retry_after);
		http_set_header(res, "Retry-After", ra);
		http_error(res, 429, "rate_limit_error", "too_many_attempts", NULL, "%s", e.msg);
		return;
	}
	if (rc == ERR_AUTH) {
		http_error(res, 401, "authentication_error", "invalid_credentials", NULL,
			   "wrong login or password");
		return;
	}
	if (rc)
		return fail(res, rc, &e);
	if (out.two_factor_required) {
		http_json(res, 200, json_pack("{s:b, s:s}", "two_factor_required", 1, "challenge",
					      out.challenge));
		crypto_wipe(&out, sizeof out);
		return;
	}
	api_session_cookie(req, res, app, out.cookie, out.max_age);
	http_json(res, 200, json_pack("{s:b, s:s, s:s, s:s}", "two_factor_required", 0, "user_id",
				      out.user_id, "session_id", out.session_id, "csrf", out.csrf));
	crypto_wipe(&out, sizeof out);
}

static void logout(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	int rc = acct_logout(app, req->who.user_id, req->who.session_id, req->client_ip);
	if (rc)
		return fail(res, rc, NULL);
	api_session_cookie(req, res, app, "", 0);
	http_json(res, 200, json_pack("{s:b}", "signed_out", 1));
}

static void forgot(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"email", NULL};
	struct errinfo e = {0};
	const char *email;
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "email", true, &email, &e)))
		return fail(res, rc, &e);
	acct_password_forgot(ctx, email, req->client_ip);
	/* the same answer whether or not the account exists */
	http_json(res, 202, json_pack("{s:s}", "message",
				      "if an account has this email, a reset link is on its way"));
}

static void reset(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"token", "password", NULL};
	struct errinfo e = {0};
	const char *token, *pw;
	size_t n;
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "token", true, &token, &e)) ||
	    (rc = password_of(req->json, "password", &pw, &n, &e)) ||
	    (rc = acct_password_reset(ctx, token, pw, n, req->client_ip, &e)))
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:b, s:s}", "password_reset", 1, "next",
				      "sign in with the new password; other sessions were signed out"));
}

static void change(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"current_password", "new_password", NULL};
	struct errinfo e = {0};
	const char *cur, *pw;
	size_t cn, n;
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = password_of(req->json, "current_password", &cur, &cn, &e)) ||
	    (rc = password_of(req->json, "new_password", &pw, &n, &e)) ||
	    (rc = acct_password_change(ctx, req->who.user_id, req->who.session_id, cur, cn, pw, n,
				       req->client_ip, &e)))
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:b}", "password_changed", 1));
}

static void csrf(struct http_request *req, struct http_response *res, void *ctx)
{
	http_json(res, 200, json_pack("{s:s}", "csrf", req->who.csrf));
}

const struct route api_auth_routes[] = {
	{"POST", "/api/auth/signup", signup, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON | ROUTE_SLOW, "create an account"},
	{"POST", "/api/auth/verify", verify, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON, "confirm an email with the mailed token"},
	{"POST", "/api/auth/login", login, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON | ROUTE_SLOW, "sign in; sets the session cookie"},
	{"POST", "/api/auth/logout", logout, GUARD_SESSION, 0, RL_WRITE, 0, "sign out of this session"},
	{"POST", "/api/auth/password/forgot", forgot, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON | ROUTE_SLOW, "mail a password-reset link"},
	{"POST", "/api/auth/password/reset", reset, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON | ROUTE_SLOW, "set a new password with a reset token"},
	{"POST", "/api/auth/password/change", change, GUARD_SESSION, 0, RL_AUTH, ROUTE_JSON | ROUTE_SLOW, "change the password (knowing the current one)"},
	{"GET", "/api/auth/csrf", csrf, GUARD_SESSION, 0, RL_READ, 0, "the session's CSRF token"},
	{0},
};
