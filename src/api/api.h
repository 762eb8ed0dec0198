/*
 * api.h: the route tables of every api/ file, and the one place where an
 * enum err becomes an HTTP status.
 */
#ifndef ATELIER_API_API_H
#define ATELIER_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "http/http.h"
#include "service/app.h"

/* Each api/ file exports one table ending with a zeroed row. */
extern const struct route api_twofa_routes[];
extern const struct route api_system_routes[];
extern const struct route api_debug_routes[];
extern const struct route api_billing_routes[];
extern const struct route api_legal_routes[];
extern const struct route api_auth_routes[];
extern const struct route api_account_routes[];
extern const struct route api_keys_routes[];
extern const struct route api_admin_routes[];
extern const struct route api_oidc_routes[];
extern const struct route api_chat_routes[];
extern const struct route api_chats_routes[];
extern const struct route api_images_routes[];
extern const struct route api_privacy_routes[];
extern const struct route api_privacy_debug_routes[];

/* --- helpers for handlers with JSON bodies (api/auth.c) ------------------ */

/* ERR_INVALID naming the first member of obj not in allowed (NULL-ended):
 * a body may set only what the endpoint names (no mass assignment). */
int api_only_fields(const json_t *obj, const char *const *allowed, struct errinfo *e);

/* *out = the string member name of obj, or NULL when absent or null.
 * ERR_INVALID when it is another type, or absent and required. */
int api_str(const json_t *obj, const char *name, bool required, const char **out,
	    struct errinfo *e);

/* Set the session cookie (value "" and max_age 0 clear it): HttpOnly,
 * SameSite=Lax, Path=/, and Secure with the __Host- name under TLS. */
void api_session_cookie(struct http_request *req, struct http_response *res, struct app *app,
			const char *value, int64_t max_age);

/* ISO 8601 UTC text of a Unix time, or JSON null for 0. */
json_t *api_time(int64_t t);

/* The tables that make up the server, in matching order. debug tables are
 * included only when [server] debug_routes is on. */
size_t api_tables(const struct route **out, size_t max, int with_debug);

/* The HTTP status for an error code (ERR_INVALID → 400 …). */
int api_status_for(int code);

/* Answer with the error in e (or code's default message), OpenAI shape. */
void api_error(struct http_response *res, int code, const struct errinfo *e);

/* The `limit` query parameter of a list: dflt when absent, else a whole
 * number 1..max; ERR_INVALID naming `limit` otherwise. */
int api_query_limit(struct http_request *req, int dflt, int max, int *out, struct errinfo *e);

/* The authenticator installed on the router (accounts issue fills it in). */
int api_authenticate(struct http_request *req, struct identity *who, void *ctx);

/* The whole OpenAPI 3.1 document for the routes of r. Caller decrefs. */
json_t *api_openapi(const struct router *r);

#endif
