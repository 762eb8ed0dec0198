/* response.c: building responses in the request's arena. */
#include "http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void http_set_header(struct http_response *res, const char *name, const char *value)
{
	struct http_header *h = arena_alloc(res->arena, sizeof *h);
	if (!h)
		return;
	h->name = arena_strdup(res->arena, name);
	h->value = arena_strdup(res->arena, value);
	if (!h->name || !h->value)
		return;
	h->next = res->headers;
	res->headers = h;
}

void http_json(struct http_response *res, int status, json_t *v)
{
	res->status = status;
	res->content_type = "application/json";
	buf_reset(&res->body);
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(v);
	if (!s) {
		res->status = 500;
		buf_puts(&res->body, "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
				     "\"code\":null,\"param\":null}}");
		return;
	}
	buf_puts(&res->body, s);
	free(s);
}

void http_text(struct http_response *res, int status, const char *content_type, const char *text,
	       size_t n)
{
	res->status = status;
	res->content_type = content_type;
	buf_reset(&res->body);
	buf_append(&res->body, text, n);
}

json_t *http_error_value(const char *type, const char *code, const char *param, const char *msg)
{
	json_t *err = json_pack("{s:s, s:s, s:o, s:o}", "message", msg, "type", type, "code",
				code ? json_string(code) : json_null(), "param",
				param ? json_string(param) : json_null());
	return json_pack("{s:o}", "error", err);
}

void http_error(struct http_response *res, int status, const char *type, const char *code,
		const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	http_json(res, status, http_error_value(type, code, param, msg));
}
