/*
 * admin.c: /api/admin/users: staff find users (support and admin) and
 * change roles (admin only) (ACC-8). Every access is audited by the
 * service (SEC-5). The list shows no email: staff find a user by exact
 * email (?email=) when they have it, and see only what the row needs.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "service/accounts.h"

static void user_row(const struct store_user *u, void *arg)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "id", u->id,
					     "username", u->username, "role", u->role, "age_group",
					     u->age_group, "email_verified", u->email_verified_at != 0,
					     "two_factor_enabled", u->totp_enabled != 0, "created_at",
					     api_time(u->created_at)));
}

static void search(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	const char *limit_s = http_query(req, "limit");
	int limit = 50;
	if (limit_s) {
		char *end;
		long l = strtol(limit_s, &end, 10);
		if (*end || l < 1 || l > 500) {
			err_set(&e, ERR_INVALID, "limit", "limit must be 1 to 500");
			return api_error(res, ERR_INVALID, &e);
		}
		limit = (int)l;
	}
	json_t *a = json_array();
	int rc = acct_admin_search(ctx, req->who.user_id, http_query(req, "q"), http_query(req, "email"),
				   limit, user_row, a, req->client_ip, &e);
	if (rc) {
		json_decref(a);
		return api_error(res, rc, &e);
	}
	http_json(res, 200, json_pack("{s:o}", "users", a));
}

static void set_role(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"role", NULL};
	struct errinfo e = {0};
	const char *role, *id = http_param(req, "id");
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "role", true, &role, &e)) ||
	    (rc = acct_admin_set_role(ctx, req->who.user_id, id, role, req->client_ip, &e)))
		return api_error(res, rc, &e);
	http_json(res, 200, json_pack("{s:s, s:s, s:s}", "id", id, "role", role, "note",
				      "the user's sessions were ended; they sign in again with the new role"));
}

static void audit_row(const struct store_audit_row *r, void *arg)
{
	json_t *o = json_pack("{s:I, s:o, s:s}", "id", (json_int_t)r->id, "at", api_time(r->at), "event",
			      r->event);
	json_object_set_new(o, "actor", r->actor ? json_string(r->actor) : json_null());
	json_object_set_new(o, "subject", r->subject ? json_string(r->subject) : json_null());
	json_t *d = r->detail ? json_loads(r->detail, 0, NULL) : NULL;
	json_object_set_new(o, "detail", d ? d : json_null());
	json_object_set_new(o, "ip", r->ip ? json_string(r->ip) : json_null());
	json_array_append_new(arg, o);
}

static void audit(struct http_request *req, struct http_response *res, void *ctx)
{
	const char *limit_s = http_query(req, "limit");
	long limit = 100;
	if (limit_s) {
		char *end;
		limit = strtol(limit_s, &end, 10);
		if (*end || limit < 1 || limit > 1000) {
			struct errinfo e = {0};
			err_set(&e, ERR_INVALID, "limit", "limit must be 1 to 1000");
			return api_error(res, ERR_INVALID, &e);
		}
	}
	json_t *a = json_array();
	int rc = acct_admin_audit(ctx, req->who.user_id, http_query(req, "subject"),
				  http_query(req, "event"), (int)limit, audit_row, a, req->client_ip);
	if (rc) {
		json_decref(a);
		return api_error(res, rc, NULL);
	}
	http_json(res, 200, json_pack("{s:o}", "events", a));
}

const struct route api_admin_routes[] = {
	{"GET", "/api/admin/audit", audit, GUARD_ADMIN, 0, RL_READ, 0, "security events (?subject= ?event= ?limit=)"},
	{"GET", "/api/admin/users", search, GUARD_SUPPORT, 0, RL_READ, 0, "find users (?q= username part, ?email= exact)"},
	{"PATCH", "/api/admin/users/{id}", set_role, GUARD_ADMIN, 0, RL_WRITE, ROUTE_JSON, "change a user's role"},
	{0},
};
