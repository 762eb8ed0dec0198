/*
 * upstream.h: models served by another OpenAI-compatible server
 * (backend = openai): the request is forwarded with libcurl from a worker
 * thread, and the answer (SSE chunk by chunk, or whole) is written back
 * through an http_stream as it arrives.
 */
#ifndef ATELIER_API_UPSTREAM_H
#define ATELIER_API_UPSTREAM_H

#include <stdbool.h>

#include "api/textreq.h"
#include "base/config.h"
#include "http/http.h"
#include "service/app.h"

/* Forward req (already checked into r) to m's upstream. Meters the call
 * and charges the caller like a builtin model. end_user: the keyed hash. */
void upstream_forward(struct http_request *req, struct http_response *res, struct app *app,
		      const struct config_model *m, const struct textreq *r, const char *endpoint,
		      const char *end_user);

/* true when the upstream answers GET {base_url}/models within a second. */
bool upstream_alive(const struct config_model *m);

#endif
