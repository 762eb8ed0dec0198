/*
 * api.c: the table of tables, error mapping, and authentication.
 *
 * api_status_for() is the only function in the project that maps enum err to
 * an HTTP status (STYLE "Errors").
 */
#include "api/api.h"

#include <string.h>

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
		api_system_routes,
		api_billing_routes,
		api_legal_routes,
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof all / sizeof all[0] && n < max; i++)
		out[n++] = all[i];
	if (with_debug && n < max)
		out[n++] = api_debug_routes;
	return n;
}

int api_authenticate(struct http_request *req, struct identity *who, void *ctx)
{
	/* No accounts yet: every caller is anonymous. A credential that is
	 * presented cannot be valid, so it is refused rather than ignored. */
	memset(who, 0, sizeof *who);
	const char *authz = http_header_get(req, "Authorization");
	if (authz)
		return ERR_AUTH;
	return ERR_OK;
}
