/*
 * router.c: route tables, matching with {params}, and the guard.
 *
 * Matching walks the table in order, segment by segment: the tables are a
 * few dozen rows, and a linear walk over them costs less than the request
 * parse. The guard runs here and only here, from the row, so a handler cannot
 * forget it (STYLE "Routes").
 */
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"

struct router {
	const struct route **routes;
	size_t n;
	http_auth_fn auth;
};

static const char *const guard_names[GUARD__MAX] = {
	[GUARD_PUBLIC] = "public",   [GUARD_USER] = "user",       [GUARD_SESSION] = "session",
	[GUARD_KEY] = "key",         [GUARD_SUPPORT] = "support", [GUARD_ADMIN] = "admin",
};

const char *guard_name(enum guard g)
{
	return g < GUARD__MAX ? guard_names[g] : "?";
}

const char *scope_names(unsigned scopes, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s%s", scopes & SCOPE_GENERATE ? "generate," : "",
		 scopes & SCOPE_READ ? "read," : "", scopes & SCOPE_PRIVACY ? "privacy," : "",
		 scopes ? "" : "-");
	size_t l = strlen(out);
	if (l > 1 && out[l - 1] == ',')
		out[l - 1] = '\0';
	return out;
}

static int check_pattern(const char *p)
{
	if (p[0] != '/')
		return -1;
	int params = 0;
	for (const char *c = p; *c; c++)
		if (*c == '{') {
			const char *end = strchr(c, '}');
			if (!end || end == c + 1 || (end[1] && end[1] != '/') || c[-1] != '/')
				return -1;
			params++;
		}
	return params <= HTTP_MAX_PARAMS ? 0 : -1;
}

int router_new(struct router **out, const struct route *const *tables, size_t ntables,
	       struct errinfo *e)
{
	size_t n = 0;
	for (size_t t = 0; t < ntables; t++)
		for (const struct route *r = tables[t]; r->method; r++)
			n++;
	struct router *rt = calloc(1, sizeof *rt);
	if (!rt || !(rt->routes = calloc(n ? n : 1, sizeof *rt->routes))) {
		free(rt);
		return ERR_NOMEM;
	}
	for (size_t t = 0; t < ntables; t++)
		for (const struct route *r = tables[t]; r->method; r++) {
			if (check_pattern(r->path) || !r->fn || r->guard >= GUARD__MAX) {
				router_free(rt);
				return err_set(e, ERR_INTERNAL, NULL, "router: bad route %s %s", r->method,
					       r->path);
			}
			for (size_t i = 0; i < rt->n; i++)
				if (!strcmp(rt->routes[i]->method, r->method) &&
				    !strcmp(rt->routes[i]->path, r->path)) {
					router_free(rt);
					return err_set(e, ERR_INTERNAL, NULL, "router: %s %s declared twice",
						       r->method, r->path);
				}
			rt->routes[rt->n++] = r;
		}
	*out = rt;
	return ERR_OK;
}

void router_free(struct router *r)
{
	if (!r)
		return;
	free(r->routes);
	free(r);
}

void router_set_auth(struct router *r, http_auth_fn fn)
{
	r->auth = fn;
}

size_t router_count(const struct router *r)
{
	return r->n;
}

const struct route *router_at(const struct router *r, size_t i)
{
	return i < r->n ? r->routes[i] : NULL;
}

/* Match pattern against path; fill params into req (values arena-copied). */
static bool match(const char *pat, const char *path, struct http_request *req)
{
	int np = 0;
	const char *names[HTTP_MAX_PARAMS], *vals[HTTP_MAX_PARAMS];
	size_t vlens[HTTP_MAX_PARAMS], nlens[HTTP_MAX_PARAMS];
	while (*pat && *path) {
		if (*pat == '{') {
			const char *pe = strchr(pat, '}');
			const char *se = strchr(path, '/');
			if (!se)
				se = path + strlen(path);
			if (se == path)
				return false; /* empty segment */
			names[np] = pat + 1;
			nlens[np] = (size_t)(pe - pat - 1);
			vals[np] = path;
			vlens[np] = (size_t)(se - path);
			np++;
			pat = pe + 1;
			path = se;
			continue;
		}
		if (*pat != *path)
			return false;
		pat++;
		path++;
	}
	if (*pat || *path)
		return false;
	if (req) {
		for (int i = 0; i < np; i++) {
			req->param_names[i] = arena_strndup(req->arena, names[i], nlens[i]);
			req->param_values[i] = arena_strndup(req->arena, vals[i], vlens[i]);
		}
		req->nparams = np;
	}
	return true;
}

int router_match(const struct router *r, const char *method, const char *path,
		 struct http_request *req, char *allow, size_t allow_len)
{
	bool path_found = false;
	if (allow_len)
		allow[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct route *rt = r->routes[i];
		bool same_method = !strcmp(rt->method, method) ||
				   (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET"));
		if (!match(rt->path, path, NULL))
			continue;
		if (same_method) {
			match(rt->path, path, req);
			req->route = rt;
			req->route_index = (int)i;
			return (int)i;
		}
		if (allow_len && !strstr(allow, rt->method)) {
			size_t l = strlen(allow);
			snprintf(allow + l, allow_len - l, "%s%s", l ? ", " : "", rt->method);
		}
		path_found = true;
	}
	return path_found ? -405 : -404;
}

static bool is_state_change(const char *m)
{
	return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

/* The guard: who may call this route, and with which credential. */
static bool guard_check(const struct route *rt, struct http_request *req,
			struct http_response *res)
{
	const struct identity *w = &req->who;
	if (rt->guard == GUARD_PUBLIC)
		return true;
	if (w->via == AUTH_NONE) {
		http_error(res, 401, "authentication_error", "unauthenticated", NULL,
			   "authentication required: sign in, or send 'Authorization: Bearer sk-…'");
		return false;
	}
	bool session_only = rt->guard == GUARD_SESSION || rt->guard == GUARD_SUPPORT ||
			    rt->guard == GUARD_ADMIN;
	if (session_only && w->via != AUTH_SESSION) {
		http_error(res, 403, "permission_error", "session_required", NULL,
			   "this endpoint is for the signed-in studio, not API keys");
		return false;
	}
	if (rt->guard == GUARD_KEY && w->via != AUTH_KEY) {
		http_error(res, 403, "permission_error", "key_required", NULL,
			   "this endpoint takes an API key");
		return false;
	}
	if ((rt->guard == GUARD_SUPPORT && w->role < ROLE_SUPPORT) ||
	    (rt->guard == GUARD_ADMIN && w->role < ROLE_ADMIN)) {
		http_error(res, 403, "permission_error", "forbidden", NULL,
			   "your role may not use this endpoint");
		return false;
	}
	if (w->via == AUTH_KEY && rt->scope && (w->scopes & rt->scope) != rt->scope) {
		char need[64];
		http_error(res, 403, "permission_error", "insufficient_scope", NULL,
			   "this API key lacks the scope this endpoint needs (%s)",
			   scope_names(rt->scope, need, sizeof need));
		return false;
	}
	/* PRIV-6: while processing is restricted, nothing is generated for
	 * the account; every generation route is of this rate class */
	if (w->restricted && rt->rate == RL_GENERATE) {
		http_error(res, 403, "permission_error", "processing_restricted", NULL,
			   "processing of this account's data is restricted; lift the restriction in the privacy center");
		return false;
	}
	/* CSRF (ACC-4): a cookie is sent by the browser on its own, so a state
	 * change made with one must prove it came from our page by echoing the
	 * session's token in a header another origin cannot set. */
	if (w->via == AUTH_SESSION && is_state_change(req->method)) {
		const char *t = http_header_get(req, "X-CSRF-Token");
		size_t n = strlen(w->csrf);
		if (!t || !n || strlen(t) != n || memcmp(t, w->csrf, n) != 0) {
			http_error(res, 403, "permission_error", "csrf_failed", NULL,
				   "missing or wrong X-CSRF-Token header");
			return false;
		}
	}
	return true;
}

static void json_body(struct http_request *req, struct http_response *res, bool *ok)
{
	*ok = false;
	const char *ct = http_header_get(req, "Content-Type");
	if (ct && strncasecmp(ct, "application/json", 16) != 0) {
		http_error(res, 415, "invalid_request_error", "unsupported_media_type", NULL,
			   "send the body as application/json");
		return;
	}
	if (req->body.len == 0) {
		http_error(res, 400, "invalid_request_error", "invalid_json", NULL,
			   "the request body is empty; a JSON object is expected");
		return;
	}
	json_error_t je;
	json_t *v = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		http_error(res, 400, "invalid_request_error", "invalid_json", NULL,
			   "malformed JSON at line %d, column %d (byte %d): %s", je.line, je.column,
			   je.position, je.text);
		return;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		http_error(res, 400, "invalid_request_error", "invalid_json", NULL,
			   "the body must be a JSON object");
		return;
	}
	req->json = v;
	*ok = true;
}

void router_dispatch(const struct router *r, struct http_request *req, struct http_response *res,
		     void *ctx)
{
	const struct route *rt = req->route;
	if (r->auth) {
		int rc = r->auth(req, &req->who, ctx);
		if (rc && rt->guard == GUARD_PUBLIC) {
			/* a public route serves anyone: a bad credential makes the
			 * caller anonymous, not refused */
			memset(&req->who, 0, sizeof req->who);
			rc = ERR_OK;
		}
		if (rc == ERR_AUTH) {
			http_error(res, 401, "authentication_error", "invalid_credentials", NULL,
				   "the session or API key is not valid (expired, revoked or malformed)");
			return;
		}
		if (rc) {
			http_error(res, 503, "server_error", "unavailable", NULL,
				   "cannot check credentials right now; retry shortly");
			return;
		}
	}
	if (!guard_check(rt, req, res))
		return;
	if (rt->flags & ROUTE_JSON) {
		bool ok;
		json_body(req, res, &ok);
		if (!ok)
			return;
	}
	rt->fn(req, res, ctx);
}

const char *http_param(struct http_request *req, const char *name)
{
	for (int i = 0; i < req->nparams; i++)
		if (!strcmp(req->param_names[i], name))
			return req->param_values[i];
	return NULL;
}
