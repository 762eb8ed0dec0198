/*
 * keys.c: /api/keys: API keys (ACC-7). Managed from the studio only (a key
 * cannot mint or revoke keys); the secret is in the creation answer and
 * nowhere else.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "service/accounts.h"

static const struct {
	const char *name;
	unsigned bit;
} scope_table[] = {
	{"generate", SCOPE_GENERATE},
	{"read", SCOPE_READ},
	{"privacy", SCOPE_PRIVACY},
};

_Static_assert((int)SCOPE_GENERATE == (int)ACCT_SCOPE_GENERATE && (int)SCOPE_READ == (int)ACCT_SCOPE_READ &&
		       (int)SCOPE_PRIVACY == (int)ACCT_SCOPE_PRIVACY,
	       "http and accounts scopes must agree");

static json_t *scopes_json(unsigned s)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof scope_table / sizeof scope_table[0]; i++)
		if (s & scope_table[i].bit)
			json_array_append_new(a, json_string(scope_table[i].name));
	return a;
}

static int parse_scopes(json_t *v, unsigned *out, struct errinfo *e)
{
	*out = 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return err_set(e, ERR_INVALID, "scopes", "scopes must be a non-empty list of generate, read, privacy");
	size_t i;
	json_t *s;
	json_array_foreach(v, i, s) {
		bool found = false;
		for (size_t k = 0; json_is_string(s) && k < sizeof scope_table / sizeof scope_table[0]; k++)
			if (!strcmp(json_string_value(s), scope_table[k].name)) {
				*out |= scope_table[k].bit;
				found = true;
			}
		if (!found)
			return err_set(e, ERR_INVALID, "scopes", "unknown scope; use generate, read or privacy");
	}
	return ERR_OK;
}

/* expires_at: Unix seconds, "YYYY-MM-DD" (midnight UTC) or
 * "YYYY-MM-DDTHH:MM:SSZ". */
static int parse_time(json_t *v, int64_t *out, struct errinfo *e)
{
	*out = 0;
	if (!v || json_is_null(v))
		return ERR_OK;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return *out > 0 ? ERR_OK : err_set(e, ERR_INVALID, "expires_at", "expires_at must be positive");
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		struct tm tm = {0};
		const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (!end || *end) {
			memset(&tm, 0, sizeof tm);
			end = strptime(s, "%Y-%m-%d", &tm);
		}
		if (end && !*end) {
			*out = (int64_t)timegm(&tm);
			return ERR_OK;
		}
	}
	return err_set(e, ERR_INVALID, "expires_at",
		       "expires_at must be a date (YYYY-MM-DD), a UTC time (YYYY-MM-DDTHH:MM:SSZ) or Unix seconds");
}

static json_t *key_json(const struct store_key *k)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", k->id, "name", k->name, "prefix",
			 k->prefix, "scopes", scopes_json(k->scopes), "created_at", api_time(k->created_at),
			 "last_used", api_time(k->last_used), "expires_at", api_time(k->expires_at));
}

static void create(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"name", "scopes", "expires_at", NULL};
	struct errinfo e = {0};
	const char *name;
	unsigned scopes;
	int64_t exp;
	int rc;
	if ((rc = api_only_fields(req->json, allowed, &e)) ||
	    (rc = api_str(req->json, "name", true, &name, &e)) ||
	    (rc = parse_scopes(json_object_get(req->json, "scopes"), &scopes, &e)) ||
	    (rc = parse_time(json_object_get(req->json, "expires_at"), &exp, &e)))
		return api_error(res, rc, &e);
	char secret[ACCT_KEY_SECRET];
	struct store_key k;
	if ((rc = acct_key_create(ctx, req->who.user_id, name, scopes, exp, req->client_ip, secret, &k, &e)))
		return api_error(res, rc, &e);
	json_t *o = key_json(&k);
	json_object_set_new(o, "key", json_string(secret));
	json_object_set_new(o, "note", json_string("the key is shown only now; store it safely"));
	crypto_wipe(secret, sizeof secret);
	http_json(res, 201, o);
}

static void key_row(const struct store_key *k, void *arg)
{
	json_array_append_new(arg, key_json(k));
}

static void list(struct http_request *req, struct http_response *res, void *ctx)
{
	json_t *a = json_array();
	int rc = acct_key_list(ctx, req->who.user_id, key_row, a);
	if (rc) {
		json_decref(a);
		return api_error(res, rc, NULL);
	}
	http_json(res, 200, json_pack("{s:o}", "keys", a));
}

static void revoke(struct http_request *req, struct http_response *res, void *ctx)
{
	struct errinfo e = {0};
	int rc = acct_key_revoke(ctx, req->who.user_id, http_param(req, "id"), req->client_ip, &e);
	if (rc)
		return api_error(res, rc, &e);
	http_text(res, 204, NULL, "", 0);
}

const struct route api_keys_routes[] = {
	{"GET", "/api/keys", list, GUARD_SESSION, 0, RL_READ, 0, "your API keys (never their secrets)"},
	{"POST", "/api/keys", create, GUARD_SESSION, 0, RL_WRITE, ROUTE_JSON, "create an API key; the secret is shown once"},
	{"DELETE", "/api/keys/{id}", revoke, GUARD_SESSION, 0, RL_WRITE, 0, "revoke an API key at once"},
	{0},
};
