/*
 * openapi.c: /openapi.json, generated from the route tables so it cannot
 * drift from what the server does. Each operation names its guard and scope
 * as security requirements and its rate-limit class as an extension.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const rl_names[RL__MAX] = {"none", "read", "write", "auth", "generate"};

static json_t *params_of(const char *path)
{
	json_t *a = json_array();
	for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
		json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:{s:s}}", "name", name, "in", "path",
						   "required", 1, "schema", "type", "string"));
	}
	return a;
}

json_t *api_openapi(const struct router *r)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < router_count(r); i++) {
		const struct route *rt = router_at(r, i);
		if (rt->flags & ROUTE_HIDDEN)
			continue;
		json_t *item = json_object_get(paths, rt->path);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, rt->path, item);
		}
		char method[16];
		size_t l = strlen(rt->method);
		for (size_t k = 0; k < l && k < sizeof method - 1; k++)
			method[k] = (char)(rt->method[k] | 0x20);
		method[l < sizeof method - 1 ? l : sizeof method - 1] = '\0';
		json_t *sec = json_array();
		char scopes[64];
		switch (rt->guard) {
		case GUARD_PUBLIC:
			break;
		case GUARD_KEY:
			json_array_append_new(sec, json_pack("{s:[s]}", "apiKey", scope_names(rt->scope, scopes, sizeof scopes)));
			break;
		case GUARD_USER:
			json_array_append_new(sec, json_pack("{s:[s]}", "apiKey", scope_names(rt->scope, scopes, sizeof scopes)));
			json_array_append_new(sec, json_pack("{s:[]}", "session"));
			break;
		default:
			json_array_append_new(sec, json_pack("{s:[]}", "session"));
		}
		json_t *op = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:{s:{s:s}}}", "summary",
				       rt->summary ? rt->summary : "", "operationId", rt->path, "parameters",
				       params_of(rt->path), "security", sec, "x-guard", guard_name(rt->guard),
				       "x-rate-limit", rl_names[rt->rate < RL__MAX ? rt->rate : 0],
				       "responses", "default", "description", "see the error shape in components");
		char opid[200];
		snprintf(opid, sizeof opid, "%s %s", rt->method, rt->path);
		json_object_set_new(op, "operationId", json_string(opid));
		if (rt->flags & (ROUTE_JSON | ROUTE_UPLOAD))
			json_object_set_new(op, "requestBody",
					    json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1, "content",
						      rt->flags & ROUTE_UPLOAD ? "multipart/form-data" : "application/json",
						      "schema", "type", "object"));
		json_object_set_new(item, method, op);
	}
	return json_pack(
		"{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:{s:s, s:s}, s:{s:s, s:s, s:s}}, s:{s:{s:s, s:{s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:[s,s]}, s:{s:[s,s]}}}}}}}}",
		"openapi", "3.1.0", "info", "title", "Atelier", "version", "0.1.0", "description",
		"Private AI generation: OpenAI-compatible under /v1, the product under /api.", "paths", paths,
		"components", "securitySchemes", "apiKey", "type", "http", "scheme", "bearer", "session",
		"type", "apiKey", "in", "cookie", "name", "atelier_session", "schemas", "Error", "type",
		"object", "properties", "error", "type", "object", "properties", "message", "type",
		"string", "type", "type", "string", "code", "type", "string", "null", "param", "type",
		"string", "null");
}
