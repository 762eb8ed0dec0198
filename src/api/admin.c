/*
 * admin.c: /api/admin/users: staff find users (support and admin) and
 * change roles (admin only) (ACC-8). Every access is audited by the
 * service (SEC-5). The list shows no email: staff find a user by exact
 * email (?email=) when they have it, and see only what the row needs.
 * Admins also apply or lift a restriction of processing for a person who
 * asked by letter or through support (PRIV-6), and staff read a metrics
 * summary: figures only, no person in it.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "service/accounts.h"
#include "service/privacy.h"

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
	int limit;
	if (api_query_limit(req, 50, 500, &limit, &e))
		return api_error(res, ERR_INVALID, &e);
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
	struct errinfo e = {0};
	int limit;
	if (api_query_limit(req, 100, 1000, &limit, &e))
		return api_error(res, ERR_INVALID, &e);
	json_t *a = json_array();
	int rc = acct_admin_audit(ctx, req->who.user_id, http_query(req, "subject"),
				  http_query(req, "event"), limit, audit_row, a, req->client_ip);
	if (rc) {
		json_decref(a);
		return api_error(res, rc, NULL);
	}
	http_json(res, 200, json_pack("{s:o}", "events", a));
}

/* PRIV-6 on the person's behalf: the same effect as their own
 * POST/DELETE /api/privacy/restriction, with a reason they will read in
 * their access log (SEC-5). */
static void restriction(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"reason", NULL};
	struct errinfo e = {0};
	const char *reason, *id = http_param(req, "id");
	bool on = !strcmp(req->method, "POST"), changed = false;
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "reason", true, &reason, &e)) ||
	    (rc = privacy_staff_restrict(ctx, req->who.user_id, id, on, reason, req->client_ip, &changed, &e)))
		return api_error(res, rc, &e);
	http_json(res, 200, json_pack("{s:s, s:b, s:b}", "id", id, "restricted", on, "changed", changed));
}

/* The console's metrics card: what /metrics counts, added up, and counts
 * from the database. Figures only, so reading it is not audited. */
static void metrics(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct store_counts n;
	struct metrics_summary m;
	int rc = acct_admin_counts(app, &n);
	if (rc)
		return api_error(res, rc, NULL);
	metrics_summary(&m);
	json_int_t total = 0;
	for (int i = 1; i < 6; i++)
		total += (json_int_t)m.by_class[i];
	http_json(res, 200,
		  json_pack("{s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I}}",
			    "started_at", api_time(app->started_at), "uptime_seconds",
			    (json_int_t)(time_now() - app->started_at), "requests", "total", total, "2xx",
			    (json_int_t)m.by_class[2], "3xx", (json_int_t)m.by_class[3], "4xx",
			    (json_int_t)m.by_class[4], "5xx", (json_int_t)m.by_class[5], "in_flight",
			    (json_int_t)m.in_flight, "users", (json_int_t)n.users, "active_sessions",
			    (json_int_t)n.sessions, "image_jobs", "queued", (json_int_t)n.jobs_queued, "running",
			    (json_int_t)n.jobs_running, "privacy_requests", "open", (json_int_t)n.requests_open,
			    "overdue", (json_int_t)n.requests_overdue));
}

const struct route api_admin_routes[] = {
	{"GET", "/api/admin/audit", audit, GUARD_ADMIN, 0, RL_READ, 0, "security events (?subject= ?event= ?limit=)"},
	{"GET", "/api/admin/users", search, GUARD_SUPPORT, 0, RL_READ, 0, "find users (?q= username part, ?email= exact)"},
	{"PATCH", "/api/admin/users/{id}", set_role, GUARD_ADMIN, 0, RL_WRITE, ROUTE_JSON, "change a user's role"},
	{"POST", "/api/admin/users/{id}/restriction", restriction, GUARD_ADMIN, 0, RL_WRITE, ROUTE_JSON,
	 "restrict processing for a user who asked by letter or support ({\"reason\"}; audited, the user sees it)"},
	{"DELETE", "/api/admin/users/{id}/restriction", restriction, GUARD_ADMIN, 0, RL_WRITE, ROUTE_JSON,
	 "lift that restriction ({\"reason\"}; audited, the user sees it)"},
	{"GET", "/api/admin/metrics", metrics, GUARD_SUPPORT, 0, RL_READ, 0,
	 "figures for the console: requests by status class, users, sessions, jobs, open requests, uptime"},
	{0},
};
