/* sessions.c: signed-in sessions, found by the hash of their cookie. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int store_session_insert(struct db_conn *c, const struct store_session *ss, const char *token_hash)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO sessions(id, token_hash, user_id, csrf, created_at, last_seen, "
			    "expires_at, browser, os, network) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, ss->id);
	db_bind_text(s, 2, token_hash);
	db_bind_text(s, 3, ss->user_id);
	db_bind_text(s, 4, ss->csrf);
	db_bind_int(s, 5, ss->created_at);
	db_bind_int(s, 6, ss->last_seen);
	db_bind_int(s, 7, ss->expires_at);
	db_bind_text(s, 8, ss->browser);
	db_bind_text(s, 9, ss->os);
	db_bind_text(s, 10, ss->network);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

static void read_session(struct db_stmt *s, struct store_session *o)
{
	memset(o, 0, sizeof *o);
	copy(o->id, sizeof o->id, db_col_text(s, 0));
	copy(o->user_id, sizeof o->user_id, db_col_text(s, 1));
	copy(o->csrf, sizeof o->csrf, db_col_text(s, 2));
	o->created_at = db_col_int(s, 3);
	o->last_seen = db_col_int(s, 4);
	o->expires_at = db_col_int(s, 5);
	copy(o->browser, sizeof o->browser, db_col_text(s, 6));
	copy(o->os, sizeof o->os, db_col_text(s, 7));
	copy(o->network, sizeof o->network, db_col_text(s, 8));
}

int store_session_by_hash(struct db_conn *c, const char *token_hash, struct store_session *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT s.id, s.user_id, s.csrf, s.created_at, s.last_seen, s.expires_at, "
			    "s.browser, s.os, s.network, u.role FROM sessions s "
			    "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, token_hash);
	rc = db_step(s);
	if (rc == 1) {
		read_session(s, out);
		copy(out->role, sizeof out->role, db_col_text(s, 9));
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_session_touch(struct db_conn *c, const char *id, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE sessions SET last_seen = ? WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	db_bind_text(s, 2, id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_session_delete(struct db_conn *c, const char *id, const char *user_id, int64_t *deleted)
{
	struct db_stmt *s;
	int rc = user_id ? db_prepare(c, "DELETE FROM sessions WHERE id = ? AND user_id = ?", &s)
			 : db_prepare(c, "DELETE FROM sessions WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	if (user_id)
		db_bind_text(s, 2, user_id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	if (deleted)
		*deleted = db_changes(c);
	return ERR_OK;
}

int store_session_delete_user(struct db_conn *c, const char *user_id, const char *except_id)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM sessions WHERE user_id = ? AND id <> ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, except_id ? except_id : "");
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_session_list(struct db_conn *c, const char *user_id,
		       void (*fn)(const struct store_session *s, void *arg), void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT id, user_id, csrf, created_at, last_seen, expires_at, browser, os, "
			    "network FROM sessions WHERE user_id = ? ORDER BY last_seen DESC, id",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	struct store_session ss;
	while ((rc = db_step(s)) == 1) {
		read_session(s, &ss);
		fn(&ss, arg);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
