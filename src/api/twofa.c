/*
 * twofa.c: /api/auth/2fa/...: enrolment, confirmation and removal of
 * two-factor authentication, and the second step of a sign-in (ACC-5).
 * The rules are in service/twofa.c; here JSON becomes calls and back.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/totp.h"
#include "service/twofa.h"

static void fail(struct http_response *res, int rc, struct errinfo *e)
{
	if (rc == ERR_LIMIT) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", TWOFA_WINDOW_S);
		http_set_header(res, "Retry-After", ra);
	}
	api_error(res, rc, e);
}

/* A typed code without the spaces apps show between groups, into out. */
static int code_of(const json_t *j, const char *name, bool required, char out[16],
		   struct errinfo *e)
{
	const char *v;
	int rc = api_str(j, name, required, &v, e);
	out[0] = '\0';
	if (rc || !v)
		return rc;
	size_t n = 0;
	for (; *v; v++) {
		if (*v == ' ')
			continue;
		if (n + 1 >= 16)
			return err_set(e, ERR_INVALID, name, "%s is too long", name);
		out[n++] = *v;
	}
	out[n] = '\0';
	return ERR_OK;
}

static void enroll(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	char uri[512];
	char *svg = NULL;
	int rc = twofa_enroll(ctx, req->who.user_id, uri, &svg, &e);
	if (rc)
		return fail(res, rc, &e);
	/* the secret for typing by hand is the URI's secret= parameter */
	char secret[TOTP_B32_CHARS] = "";
	const char *s = strstr(uri, "secret=");
	if (s)
		snprintf(secret, sizeof secret, "%.*s", (int)strcspn(s + 7, "&"), s + 7);
	http_set_header(res, "Cache-Control", "no-store");
	http_json(res, 200, json_pack("{s:s, s:s, s:s, s:i}", "otpauth_uri", uri, "secret", secret,
				      "qr_svg", svg, "expires_in", TWOFA_PENDING_TTL_S));
	crypto_wipe(uri, sizeof uri);
	crypto_wipe(secret, sizeof secret);
	free(svg);
}

static void confirm(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"code", NULL};
	struct errinfo e = {0};
	char code[16];
	char codes[TWOFA_RECOVERY_CODES][TWOFA_RECOVERY_CHARS];
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = code_of(req->json, "code", true, code, &e)) ||
	    (rc = twofa_confirm(ctx, req->who.user_id, req->who.session_id, code, req->client_ip, codes, &e)))
		return fail(res, rc, &e);
	json_t *list = json_array();
	for (int i = 0; i < TWOFA_RECOVERY_CODES; i++)
		json_array_append_new(list, json_string(codes[i]));
	crypto_wipe(codes, sizeof codes);
	http_set_header(res, "Cache-Control", "no-store");
	http_json(res, 200, json_pack("{s:b, s:o, s:s}", "enabled", 1, "recovery_codes", list, "next",
				      "keep the recovery codes somewhere safe: each works once, and they are not shown again"));
}

static void disable(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"password", "code", "recovery_code", NULL};
	struct errinfo e = {0};
	const char *pw, *rec;
	char code[16];
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "password", true, &pw, &e)) ||
	    (rc = code_of(req->json, "code", false, code, &e)) ||
	    (rc = api_str(req->json, "recovery_code", false, &rec, &e)) ||
	    (rc = twofa_disable(ctx, req->who.user_id, pw, json_string_length(json_object_get(req->json, "password")),
				code, rec, req->client_ip, &e)))
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:b}", "enabled", 0));
}

static void verify(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"challenge", "code", "recovery_code", NULL};
	struct app *app = ctx;
	struct errinfo e = {0};
	const char *challenge, *rec;
	char code[16];
	struct acct_login out;
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "challenge", true, &challenge, &e)) ||
	    (rc = code_of(req->json, "code", false, code, &e)) ||
	    (rc = api_str(req->json, "recovery_code", false, &rec, &e)))
		return fail(res, rc, &e);
	const char *ua = http_header_get(req, "User-Agent");
	rc = twofa_login(app, challenge, code, rec, ua ? ua : "", req->client_ip, &out, &e);
	if (rc)
		return fail(res, rc, &e);
	api_session_cookie(req, res, app, out.cookie, out.max_age);
	http_json(res, 200, json_pack("{s:b, s:s, s:s, s:s}", "two_factor_required", 0, "user_id",
				      out.user_id, "session_id", out.session_id, "csrf", out.csrf));
	crypto_wipe(&out, sizeof out);
}

const struct route api_twofa_routes[] = {
	{"POST", "/api/auth/2fa/enroll", enroll, GUARD_SESSION, 0, RL_AUTH, 0, "start two-factor enrolment: otpauth URI and QR code"},
	{"POST", "/api/auth/2fa/confirm", confirm, GUARD_SESSION, 0, RL_AUTH, ROUTE_JSON, "confirm with a first code; returns recovery codes"},
	{"POST", "/api/auth/2fa/disable", disable, GUARD_SESSION, 0, RL_AUTH, ROUTE_JSON | ROUTE_SLOW, "turn two-factor off (password and code)"},
	{"POST", "/api/auth/2fa/verify", verify, GUARD_PUBLIC, 0, RL_AUTH, ROUTE_JSON, "second step of a sign-in: challenge and code"},
	{0},
};
