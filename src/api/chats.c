/*
 * chats.c: the studio's opt-in chat history (issue #5): the switch and the
 * stored conversations. Handlers turn JSON into service/chats.h calls and
 * back; each route's guard is in the table at the end. The switch is
 * session-only (a person decides it in the studio); conversations take a
 * session or a key with the gallery's scopes (read to list and fetch,
 * generate to write).
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "service/chats.h"

static void fail(struct http_response *res, int rc, const struct errinfo *e)
{
	if (rc == ERR_EXISTS && e && !strcmp(e->field, "history"))
		return http_error(res, 409, "invalid_request_error", "history_off", NULL, "%s", e->msg);
	api_error(res, rc, e);
}

static int only(struct http_request *req, struct http_response *res, const char *const *allowed)
{
	struct errinfo e = {0};
	if (api_only_fields(req->json, allowed, &e)) {
		fail(res, ERR_INVALID, &e);
		return -1;
	}
	return 0;
}

static void settings_get(struct http_request *req, struct http_response *res, void *ctx)
{
	bool on = false;
	int rc = chats_history_get(ctx, req->who.user_id, &on);
	if (rc)
		return fail(res, rc, NULL);
	http_json(res, 200, json_pack("{s:b}", "history", on));
}

static void settings_put(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"history", NULL};
	if (only(req, res, allowed))
		return;
	json_t *h = json_object_get(req->json, "history");
	if (!json_is_boolean(h))
		return http_error(res, 400, "invalid_request_error", "invalid_value", "history",
				  "history must be true or false");
	int64_t deleted = 0;
	int rc = chats_history_set(ctx, req->who.user_id, json_is_true(h), &deleted);
	if (rc)
		return fail(res, rc, NULL);
	if (json_is_true(h))
		return http_json(res, 200, json_pack("{s:b}", "history", 1));
	/* off: say what went, so the studio can confirm it */
	http_json(res, 200, json_pack("{s:b, s:I}", "history", 0, "deleted", (json_int_t)deleted));
}

static void list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	const char *before = http_query(req, "before");
	int limit;
	if (api_query_limit(req, 20, 100, &limit, &e))
		return fail(res, ERR_INVALID, &e);
	json_t *v = NULL;
	int rc = chats_list(ctx, req->who.user_id, before && before[0] ? before : NULL, limit, &v, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, v);
}

static const char *const conv_fields[] = {"title", "messages", NULL};

static void create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	json_t *v = NULL;
	if (only(req, res, conv_fields))
		return;
	int rc = chats_create(ctx, req->who.user_id, req->json, &v, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 201, v);
}

static void replace(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	json_t *v = NULL;
	if (only(req, res, conv_fields))
		return;
	int rc = chats_replace(ctx, req->who.user_id, http_param(req, "id"), req->json, &v, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, v);
}

static void get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	json_t *v = NULL;
	int rc = chats_get(ctx, req->who.user_id, http_param(req, "id"), &v, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, v);
}

static void del(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	const char *id = http_param(req, "id");
	int rc = chats_delete(ctx, req->who.user_id, id, &e);
	if (rc)
		return fail(res, rc, &e);
	http_json(res, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "chat.conversation.deleted", "deleted", 1));
}

const struct route api_chats_routes[] = {
	{"GET", "/api/chat/settings", settings_get, GUARD_SESSION, 0, RL_READ, 0,
	 "whether your chat history is kept (off unless you switch it on)"},
	{"PUT", "/api/chat/settings", settings_put, GUARD_SESSION, 0, RL_WRITE, ROUTE_JSON,
	 "switch chat history on or off {history}; off deletes every stored conversation"},
	{"GET", "/api/chat/conversations", list, GUARD_USER, SCOPE_READ, RL_READ, 0,
	 "your stored conversations, most recent first (limit, before); 409 while history is off"},
	{"POST", "/api/chat/conversations", create, GUARD_USER, SCOPE_GENERATE, RL_WRITE, ROUTE_JSON,
	 "store a conversation {title?, messages:[{role, content}]}, sealed under your key"},
	{"GET", "/api/chat/conversations/{id}", get, GUARD_USER, SCOPE_READ, RL_READ, 0,
	 "a stored conversation with its messages"},
	{"PUT", "/api/chat/conversations/{id}", replace, GUARD_USER, SCOPE_GENERATE, RL_WRITE, ROUTE_JSON,
	 "replace a conversation's messages (and title) {title?, messages}"},
	{"DELETE", "/api/chat/conversations/{id}", del, GUARD_USER, SCOPE_GENERATE, RL_WRITE, 0,
	 "delete a stored conversation"},
	{0},
};
