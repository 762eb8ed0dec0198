/*
 * account.c: /api/me: the user's own account, profile (ACC-1, PRIV-3) and
 * sessions (ACC-10).
 *
 * PATCH /api/me takes only the fields of the profile table below; anything
 * else (role, email, credits, id, email_verified …) is refused with 400
 * naming the field, never silently ignored (mass assignment).
 */
#include "api/api.h"

#include <string.h>

#include "service/accounts.h"

static void fail(struct http_response *res, int rc, struct errinfo *e)
{
	api_error(res, rc, e);
}

static json_t *me_json(struct http_request *req, const struct acct_me *m)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:s, s:s, s:o, s:b}", "id", m->user.id,
			      "username", m->user.username, "email", m->email ? m->email : "",
			      "email_verified", m->user.email_verified_at != 0, "email_verified_at",
			      api_time(m->user.email_verified_at), "role", m->user.role, "age_group",
			      m->user.age_group, "created_at", api_time(m->user.created_at),
			      "two_factor_enabled", m->user.totp_enabled != 0);
	for (int f = ACCT_F_NAME; f < ACCT_F__MAX; f++)
		json_object_set_new(o, acct_field_name((enum acct_field)f),
				    m->field[f] ? json_string(m->field[f]) : json_null());
	if (req->who.via == AUTH_SESSION)
		json_object_set_new(o, "csrf", json_string(req->who.csrf));
	return o;
}

static void me_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	struct acct_me m;
	int rc = acct_me(ctx, req->who.user_id, req->arena, &m, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, me_json(req, &m));
}

static void me_patch(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	struct acct_patch p = {0};
	const char *k;
	json_t *v;
	json_object_foreach(req->json, k, v) {
		enum acct_field f = acct_field_parse(k);
		if (f == ACCT_F__MAX) {
			err_set(&e, ERR_INVALID, k, "field '%.60s' cannot be changed here; PATCH /api/me "
				"takes name, phone, company, billing_address and username", k);
			return fail(res, ERR_INVALID, &e);
		}
		if (!json_is_string(v) && !(json_is_null(v) && f != ACCT_F_USERNAME)) {
			err_set(&e, ERR_INVALID, k, "%s must be a string%s", k,
				f == ACCT_F_USERNAME ? "" : " or null");
			return fail(res, ERR_INVALID, &e);
		}
		if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v)) {
			err_set(&e, ERR_INVALID, k, "%s must not contain NUL characters", k);
			return fail(res, ERR_INVALID, &e);
		}
		p.set[f] = true;
		p.val[f] = json_is_string(v) ? json_string_value(v) : NULL;
	}
	int rc = acct_update(ctx, req->who.user_id, &p, req->client_ip, &e);
	if (rc)
		return fail(res, rc, &e);
	me_get(req, res, ctx);
}

struct list_ctx {
	json_t *arr;
	const char *current;
};

static void session_row(const struct store_session *s, void *arg)
{
	struct list_ctx *x = arg;
	json_array_append_new(
		x->arr,
		json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:o, s:b}", "id", s->id, "browser",
			  s->browser, "os", s->os, "place", "network", s->network, "note",
			  "approximate: the network the address belongs to (no GeoIP database)",
			  "created_at", api_time(s->created_at), "last_seen", api_time(s->last_seen),
			  "expires_at", api_time(s->expires_at), "current",
			  !strcmp(s->id, x->current)));
}

static void sessions_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct list_ctx x = {json_array(), req->who.session_id};
	int rc = acct_sessions_list(ctx, req->who.user_id, session_row, &x);
	if (rc) {
		json_decref(x.arr);
		return fail(res, rc, NULL);
	}
	http_json(res, 200, json_pack("{s:o}", "sessions", x.arr));
}

static void sessions_delete(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	const char *id = http_param(req, "id");
	int rc = acct_session_end(ctx, req->who.user_id, id, req->client_ip, &e);
	if (rc)
		return fail(res, rc, &e);
	if (!strcmp(id, req->who.session_id))
		api_session_cookie(req, res, ctx, "", 0);
	http_text(res, 204, NULL, "", 0);
}

const struct route api_account_routes[] = {
	{"GET", "/api/me", me_get, GUARD_USER, SCOPE_READ, RL_READ, 0, "your account and profile"},
	{"PATCH", "/api/me", me_patch, GUARD_SESSION, 0, RL_WRITE, ROUTE_JSON, "change profile fields"},
	{"GET", "/api/me/sessions", sessions_get, GUARD_SESSION, 0, RL_READ, 0, "your active sessions"},
	{"DELETE", "/api/me/sessions/{id}", sessions_delete, GUARD_SESSION, 0, RL_WRITE, 0, "end a session"},
	{0},
};
