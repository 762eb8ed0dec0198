/*
 * chats.c: the studio's opt-in chat history in SQL (0012_chat_history).
 * Content stays sealed here; every statement matches the owner.
 */
#include "store/chats.h"

#include <stdio.h>
#include <string.h>

/* Run a statement whose parameters are already bound, with no rows. */
static int run(struct db_stmt *s)
{
	int rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_chat_history_get(struct db_conn *c, const char *owner, bool *on)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT history FROM chat_settings WHERE owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	rc = db_step(s);
	*on = rc == 1 && db_col_int(s, 0) == 1;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_chat_history_set(struct db_conn *c, const char *owner, bool on, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO chat_settings(owner, history, updated_at) VALUES (?, ?, ?)"
			    " ON CONFLICT(owner) DO UPDATE SET history = excluded.history, updated_at = excluded.updated_at",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_int(s, 2, on ? 1 : 0);
	db_bind_int(s, 3, now);
	return run(s);
}

int store_chat_delete_all(struct db_conn *c, const char *owner, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM chat_messages WHERE owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	if ((rc = run(s)) || (rc = db_prepare(c, "DELETE FROM chat_conversations WHERE owner = ?", &s)))
		return rc;
	db_bind_text(s, 1, owner);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	if (n)
		*n = db_changes(c);
	return ERR_OK;
}

static void bind_title(struct db_stmt *s, int i, const void *title, size_t nt)
{
	if (title && nt)
		db_bind_blob(s, i, title, nt);
	else
		db_bind_null(s, i);
}

int store_chat_insert(struct db_conn *c, const char *id, const char *owner, const void *title, size_t nt,
		      int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO chat_conversations(id, owner, title_sealed, created_at, updated_at)"
			    " VALUES (?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	bind_title(s, 3, title, nt);
	db_bind_int(s, 4, now);
	db_bind_int(s, 5, now);
	return run(s);
}

int store_chat_update(struct db_conn *c, const char *id, const char *owner, bool set_title, const void *title,
		      size_t nt, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    set_title ? "UPDATE chat_conversations SET updated_at = ?, title_sealed = ? WHERE id = ? AND owner = ?"
				      : "UPDATE chat_conversations SET updated_at = ? WHERE id = ? AND owner = ?",
			    &s);
	if (rc)
		return rc;
	int i = 1;
	db_bind_int(s, i++, now);
	if (set_title)
		bind_title(s, i++, title, nt);
	db_bind_text(s, i++, id);
	db_bind_text(s, i, owner);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	return db_changes(c) == 1 ? ERR_OK : ERR_NOTFOUND;
}

#define CHAT_COLS                                                                                                   \
	"id, owner, created_at, updated_at, (SELECT COUNT(*) FROM chat_messages m WHERE m.conversation = cc.id),"  \
	" title_sealed"

static void read_row(struct db_stmt *s, struct store_chat *ch)
{
	memset(ch, 0, sizeof *ch);
	snprintf(ch->id, sizeof ch->id, "%s", db_col_text(s, 0) ? db_col_text(s, 0) : "");
	snprintf(ch->owner, sizeof ch->owner, "%s", db_col_text(s, 1) ? db_col_text(s, 1) : "");
	ch->created_at = db_col_int(s, 2);
	ch->updated_at = db_col_int(s, 3);
	ch->messages = db_col_int(s, 4);
}

int store_chat_get(struct db_conn *c, const char *id, const char *owner, struct store_chat *out, struct buf *title)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT " CHAT_COLS " FROM chat_conversations cc WHERE id = ? AND owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	rc = db_step(s);
	if (rc == 1) {
		read_row(s, out);
		size_t n = 0;
		const void *p = db_col_blob(s, 5, &n);
		rc = title && p && n ? buf_append(title, p, n) : ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_chat_list(struct db_conn *c, const char *owner, const char *before, int limit,
		    int (*fn)(void *arg, const struct store_chat *ch, const void *title, size_t nt), void *arg,
		    bool *more)
{
	struct db_stmt *s;
	int64_t bu = INT64_MAX;
	const char *bid = "\x7f";
	struct store_chat cur;
	if (before) {
		int rc = store_chat_get(c, before, owner, &cur, NULL);
		if (rc)
			return rc;
		bu = cur.updated_at;
		bid = cur.id;
	}
	int rc = db_prepare(c,
			    "SELECT " CHAT_COLS " FROM chat_conversations cc WHERE owner = ?1"
			    " AND (updated_at < ?2 OR (updated_at = ?2 AND id < ?3))"
			    " ORDER BY updated_at DESC, id DESC LIMIT ?4",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_int(s, 2, bu);
	db_bind_text(s, 3, bid);
	db_bind_int(s, 4, (int64_t)limit + 1);
	int k = 0;
	*more = false;
	while ((rc = db_step(s)) == 1) {
		if (k++ == limit) {
			*more = true;
			break;
		}
		struct store_chat ch;
		read_row(s, &ch);
		size_t n = 0;
		const void *p = db_col_blob(s, 5, &n);
		if ((rc = fn(arg, &ch, p, p ? n : 0)))
			break;
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_chat_delete(struct db_conn *c, const char *id, const char *owner, int64_t *deleted)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM chat_conversations WHERE id = ? AND owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*deleted = db_changes(c);
	return ERR_OK;
}

int store_chat_messages_clear(struct db_conn *c, const char *id, const char *owner)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM chat_messages WHERE conversation = ? AND owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	return run(s);
}

int store_chat_message_insert(struct db_conn *c, const char *id, const char *owner, int64_t seq, const char *role,
			      const void *content, size_t n, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO chat_messages(conversation, owner, seq, role, content_sealed, created_at)"
			    " VALUES (?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	db_bind_int(s, 3, seq);
	db_bind_text(s, 4, role);
	db_bind_blob(s, 5, content, n);
	db_bind_int(s, 6, now);
	return run(s);
}

int store_chat_messages(struct db_conn *c, const char *id, const char *owner,
			int (*fn)(void *arg, int64_t seq, const char *role, const void *content, size_t n,
				  int64_t created_at),
			void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT seq, role, content_sealed, created_at FROM chat_messages"
			    " WHERE conversation = ? AND owner = ? ORDER BY seq",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	while ((rc = db_step(s)) == 1) {
		size_t n = 0;
		const void *p = db_col_blob(s, 2, &n);
		if ((rc = fn(arg, db_col_int(s, 0), db_col_text(s, 1), p ? p : "", p ? n : 0, db_col_int(s, 3))))
			break;
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
