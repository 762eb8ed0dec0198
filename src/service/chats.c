/*
 * chats.c: the studio's opt-in chat history (issue #5): the switch, and
 * conversations sealed under the owner's key (SEC-3).
 *
 * The studio sends the whole conversation after each finished exchange and
 * the server replaces the stored messages with it. Storing the exchange in
 * the text API itself (finish_call() in api/chat.c) was rejected: the API
 * serves customers whose prompts must never be kept, and a client-driven
 * save keeps the history switch entirely out of the generation path.
 */
#include "service/chats.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "service/vault.h"
#include "store/chats.h"

static const char *const roles[] = {"user", "assistant", "system", NULL};

static json_t *iso(int64_t t)
{
	char s[32];
	time_iso8601(s, sizeof s, t);
	return json_string(s);
}

/* Characters (UTF-8 code points) of s; jansson has checked the encoding. */
static size_t chars(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

static void wipe(struct buf *b)
{
	if (b->data)
		crypto_wipe(b->data, b->len);
	buf_free(b);
}

static int history_off(struct errinfo *e)
{
	return err_set(e, ERR_EXISTS, "history",
		       "chat history is off: nothing is stored until you switch it on "
		       "(PUT /api/chat/settings {\"history\": true})");
}

/* Check title and messages of a body; *title: the title, or NULL. */
static int validate(const json_t *body, bool need_messages, const char **title, bool *has_title,
		    struct errinfo *e)
{
	const json_t *t = json_object_get(body, "title");
	*has_title = t != NULL;
	*title = NULL;
	if (t && !json_is_null(t)) {
		if (!json_is_string(t))
			return err_set(e, ERR_INVALID, "title", "title must be a string or null");
		if (chars(json_string_value(t), json_string_length(t)) > CHATS_MAX_TITLE)
			return err_set(e, ERR_INVALID, "title", "title must be at most %d characters", CHATS_MAX_TITLE);
		*title = json_string_length(t) ? json_string_value(t) : NULL;
	}
	const json_t *m = json_object_get(body, "messages");
	if (!m) {
		if (need_messages)
			return err_set(e, ERR_INVALID, "messages", "messages is required: [{\"role\": …, \"content\": …}]");
		return ERR_OK;
	}
	if (!json_is_array(m))
		return err_set(e, ERR_INVALID, "messages", "messages must be an array of {role, content}");
	if (json_array_size(m) > CHATS_MAX_MESSAGES)
		return err_set(e, ERR_INVALID, "messages", "at most %d messages per conversation", CHATS_MAX_MESSAGES);
	size_t i;
	const json_t *v;
	json_array_foreach(m, i, v)
	{
		char f[64];
		if (!json_is_object(v))
			return err_set(e, ERR_INVALID, "messages", "messages[%zu] must be an object {role, content}", i);
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			if (strcmp(k, "role") && strcmp(k, "content")) {
				snprintf(f, sizeof f, "messages[%zu].%.32s", i, k);
				return err_set(e, ERR_INVALID, f, "unknown field '%.32s' in messages[%zu]", k, i);
			}
		}
		const json_t *r = json_object_get(v, "role"), *c = json_object_get(v, "content");
		bool ok = false;
		for (int j = 0; json_is_string(r) && roles[j]; j++)
			ok |= !strcmp(json_string_value(r), roles[j]);
		if (!ok) {
			snprintf(f, sizeof f, "messages[%zu].role", i);
			return err_set(e, ERR_INVALID, f, "role must be user, assistant or system");
		}
		snprintf(f, sizeof f, "messages[%zu].content", i);
		if (!json_is_string(c))
			return err_set(e, ERR_INVALID, f, "content must be a string");
		if (chars(json_string_value(c), json_string_length(c)) > CHATS_MAX_CONTENT)
			return err_set(e, ERR_INVALID, f, "content must be at most %d characters", CHATS_MAX_CONTENT);
	}
	return ERR_OK;
}

/* Seal and insert the messages of body as conversation id (inside the
 * caller's transaction). */
static int put_messages(struct app *app, struct db_conn *c, const char *owner, const char *id, const json_t *msgs,
			int64_t now)
{
	size_t i;
	const json_t *v;
	int rc = ERR_OK;
	json_array_foreach(msgs, i, v)
	{
		const json_t *ct = json_object_get(v, "content");
		struct buf sealed;
		buf_init(&sealed, 0);
		rc = vault_seal(c, app->keys, owner, "chat.content", json_string_value(ct), json_string_length(ct),
				&sealed);
		if (!rc)
			rc = store_chat_message_insert(c, id, owner, (int64_t)i,
						       json_string_value(json_object_get(v, "role")), sealed.data,
						       sealed.len, now);
		buf_free(&sealed);
		if (rc)
			break;
	}
	return rc;
}

static json_t *opened(struct app *app, struct db_conn *c, const char *owner, const char *purpose, const void *p,
		      size_t n)
{
	if (!p || !n)
		return json_null();
	struct buf pt;
	buf_init(&pt, 0);
	json_t *v = vault_open(c, app->keys, owner, purpose, p, n, &pt) == ERR_OK
			    ? json_stringn(pt.data ? pt.data : "", pt.len)
			    : json_string("(unreadable)");
	wipe(&pt);
	return v;
}

static json_t *conv_json(struct app *app, struct db_conn *c, const struct store_chat *ch, const void *title,
			 size_t nt)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:I}", "id", ch->id, "object", "chat.conversation", "title",
			 opened(app, c, ch->owner, "chat.title", title, nt), "created_at", iso(ch->created_at),
			 "updated_at", iso(ch->updated_at), "message_count", (json_int_t)ch->messages);
}

struct mctx {
	struct app *app;
	struct db_conn *c;
	const char *owner;
	json_t *arr;
};

static int message_row(void *arg, int64_t seq, const char *role, const void *content, size_t n, int64_t created_at)
{
	struct mctx *x = arg;
	(void)seq;
	(void)created_at;
	json_t *ct = n ? opened(x->app, x->c, x->owner, "chat.content", content, n) : json_string("");
	json_array_append_new(x->arr, json_pack("{s:s, s:o}", "role", role ? role : "user", "content", ct));
	return ERR_OK;
}

/* Conversation id with its messages into *out, on c. */
static int fetch(struct app *app, struct db_conn *c, const char *owner, const char *id, json_t **out)
{
	struct store_chat ch;
	struct buf title;
	buf_init(&title, 0);
	int rc = store_chat_get(c, id, owner, &ch, &title);
	struct mctx x = {app, c, owner, json_array()};
	if (!rc)
		rc = store_chat_messages(c, id, owner, message_row, &x);
	if (!rc) {
		*out = conv_json(app, c, &ch, title.data, title.len);
		json_object_set_new(*out, "messages", x.arr);
	} else {
		json_decref(x.arr);
	}
	buf_free(&title);
	return rc;
}

static int not_found(struct errinfo *e)
{
	return err_set(e, ERR_NOTFOUND, NULL, "no such conversation in your history");
}

int chats_history_get(struct app *app, const char *owner, bool *on)
{
	struct db_conn *c = db_get(app->db);
	int rc = store_chat_history_get(c, owner, on);
	db_put(c);
	return rc;
}

int chats_history_set(struct app *app, const char *owner, bool on, int64_t *deleted)
{
	struct db_conn *c = db_get(app->db);
	int64_t n = 0;
	int rc = db_begin(c);
	if (!rc && !on)
		rc = store_chat_delete_all(c, owner, &n);
	if (!rc)
		rc = store_chat_history_set(c, owner, on, time_now());
	if (!rc)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	if (!rc && deleted)
		*deleted = n;
	if (!rc && n)
		db_scrub(app->db); /* the deleted plaintext was sealed; leave no page of it either */
	return rc;
}

/* ERR_OK when owner's history is on (history_off's error otherwise). */
static int require_on(struct db_conn *c, const char *owner, struct errinfo *e)
{
	bool on = false;
	int rc = store_chat_history_get(c, owner, &on);
	if (rc)
		return rc;
	return on ? ERR_OK : history_off(e);
}

struct lctx {
	struct app *app;
	struct db_conn *c;
	json_t *data;
	char last[40];
};

static int list_row(void *arg, const struct store_chat *ch, const void *title, size_t nt)
{
	struct lctx *x = arg;
	json_array_append_new(x->data, conv_json(x->app, x->c, ch, title, nt));
	snprintf(x->last, sizeof x->last, "%s", ch->id);
	return ERR_OK;
}

int chats_list(struct app *app, const char *owner, const char *before, int limit, json_t **out,
	       struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	struct lctx x = {app, c, json_array(), ""};
	bool more = false;
	int rc = require_on(c, owner, e);
	if (!rc && (rc = store_chat_list(c, owner, before, limit, list_row, &x, &more)) == ERR_NOTFOUND)
		rc = err_set(e, ERR_INVALID, "before", "the cursor is not one of your conversations");
	db_put(c);
	if (rc) {
		json_decref(x.data);
		return rc;
	}
	*out = json_pack("{s:s, s:o, s:o}", "object", "list", "data", x.data, "next",
			 more ? json_string(x.last) : json_null());
	return ERR_OK;
}

static int seal_title(struct app *app, struct db_conn *c, const char *owner, const char *title, struct buf *out)
{
	return title ? vault_seal(c, app->keys, owner, "chat.title", title, strlen(title), out) : ERR_OK;
}

int chats_create(struct app *app, const char *owner, const json_t *body, json_t **out, struct errinfo *e)
{
	const char *title;
	bool has_title;
	int rc = validate(body, true, &title, &has_title, e);
	if (rc)
		return rc;
	char tok[CRYPTO_TOKEN_CHARS], id[40];
	crypto_token(tok, sizeof tok, "");
	snprintf(id, sizeof id, "conv_%.24s", tok);
	for (char *q = id; *q; q++)
		if (*q == '-')
			*q = 'x';
	struct buf st;
	buf_init(&st, 0);
	int64_t now = time_now();
	struct db_conn *c = db_get(app->db);
	if ((rc = db_begin(c)))
		goto out;
	if ((rc = require_on(c, owner, e)) || (rc = seal_title(app, c, owner, title, &st)) ||
	    (rc = store_chat_insert(c, id, owner, st.data, st.len, now)) ||
	    (rc = put_messages(app, c, owner, id, json_object_get(body, "messages"), now)) ||
	    (rc = fetch(app, c, owner, id, out)))
		goto out;
	if ((rc = db_commit(c)))
		json_decref(*out);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&st);
	return rc;
}

int chats_replace(struct app *app, const char *owner, const char *id, const json_t *body, json_t **out,
		  struct errinfo *e)
{
	const char *title;
	bool has_title;
	int rc = validate(body, false, &title, &has_title, e);
	if (rc)
		return rc;
	const json_t *msgs = json_object_get(body, "messages");
	struct buf st;
	buf_init(&st, 0);
	int64_t now = time_now();
	struct db_conn *c = db_get(app->db);
	if ((rc = db_begin(c)))
		goto out;
	if ((rc = require_on(c, owner, e)) || (rc = seal_title(app, c, owner, title, &st)))
		goto out;
	if ((rc = store_chat_update(c, id, owner, has_title, st.data, st.len, now)) == ERR_NOTFOUND) {
		rc = not_found(e);
		goto out;
	}
	if (rc || (msgs && ((rc = store_chat_messages_clear(c, id, owner)) ||
			    (rc = put_messages(app, c, owner, id, msgs, now)))) ||
	    (rc = fetch(app, c, owner, id, out)))
		goto out;
	if ((rc = db_commit(c)))
		json_decref(*out);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&st);
	return rc;
}

int chats_get(struct app *app, const char *owner, const char *id, json_t **out, struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	int rc = require_on(c, owner, e);
	if (!rc && (rc = fetch(app, c, owner, id, out)) == ERR_NOTFOUND)
		rc = not_found(e);
	db_put(c);
	return rc;
}

int chats_delete(struct app *app, const char *owner, const char *id, struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	int64_t n = 0;
	int rc = require_on(c, owner, e);
	if (!rc && !(rc = store_chat_delete(c, id, owner, &n)) && n != 1)
		rc = not_found(e);
	db_put(c);
	return rc;
}
