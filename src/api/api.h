/*
 * api.h: the route tables of every api/ file, and the one place where an
 * enum err becomes an HTTP status.
 */
#ifndef ATELIER_API_API_H
#define ATELIER_API_API_H

#include <stddef.h>

#include "base/err.h"
#include "http/http.h"
#include "service/app.h"

/* Each api/ file exports one table ending with a zeroed row. */
extern const struct route api_system_routes[];
extern const struct route api_debug_routes[];
extern const struct route api_billing_routes[];
extern const struct route api_legal_routes[];

/* The tables that make up the server, in matching order. debug tables are
 * included only when [server] debug_routes is on. */
size_t api_tables(const struct route **out, size_t max, int with_debug);

/* The HTTP status for an error code (ERR_INVALID → 400 …). */
int api_status_for(int code);

/* Answer with the error in e (or code's default message), OpenAI shape. */
void api_error(struct http_response *res, int code, const struct errinfo *e);

/* The authenticator installed on the router (accounts issue fills it in). */
int api_authenticate(struct http_request *req, struct identity *who, void *ctx);

/* The whole OpenAPI 3.1 document for the routes of r. Caller decrefs. */
json_t *api_openapi(const struct router *r);

#endif
