/* api_keys.c: API keys, found by the SHA-256 of their secret. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int store_key_insert(struct db_conn *c, const struct store_key *k, const char *hash)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO api_keys(id, user_id, name, prefix, hash, scopes, created_at, "
			    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, k->id);
	db_bind_text(s, 2, k->user_id);
	db_bind_text(s, 3, k->name);
	db_bind_text(s, 4, k->prefix);
	db_bind_text(s, 5, hash);
	db_bind_int(s, 6, k->scopes);
	db_bind_int(s, 7, k->created_at);
	if (k->expires_at)
		db_bind_int(s, 8, k->expires_at);
	else
		db_bind_null(s, 8);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

static void read_key(struct db_stmt *s, struct store_key *k)
{
	memset(k, 0, sizeof *k);
	copy(k->id, sizeof k->id, db_col_text(s, 0));
	copy(k->user_id, sizeof k->user_id, db_col_text(s, 1));
	copy(k->name, sizeof k->name, db_col_text(s, 2));
	copy(k->prefix, sizeof k->prefix, db_col_text(s, 3));
	k->scopes = (unsigned)db_col_int(s, 4);
	k->created_at = db_col_int(s, 5);
	k->last_used = db_col_int(s, 6);
	k->expires_at = db_col_int(s, 7);
}

int store_key_by_hash(struct db_conn *c, const char *hash, struct store_key *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT k.id, k.user_id, k.name, k.prefix, k.scopes, k.created_at, "
			    "COALESCE(k.last_used, 0), COALESCE(k.expires_at, 0), u.role "
			    "FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, hash);
	rc = db_step(s);
	if (rc == 1) {
		read_key(s, out);
		copy(out->role, sizeof out->role, db_col_text(s, 8));
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_key_touch(struct db_conn *c, const char *id, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE api_keys SET last_used = ? WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	db_bind_text(s, 2, id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_key_list(struct db_conn *c, const char *user_id,
		   void (*fn)(const struct store_key *k, void *arg), void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT id, user_id, name, prefix, scopes, created_at, COALESCE(last_used, 0), "
			    "COALESCE(expires_at, 0) FROM api_keys WHERE user_id = ? "
			    "ORDER BY created_at DESC, id",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	struct store_key k;
	while ((rc = db_step(s)) == 1) {
		read_key(s, &k);
		fn(&k, arg);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_key_count(struct db_conn *c, const char *user_id, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT COUNT(*) FROM api_keys WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	rc = db_step(s);
	*n = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_key_delete(struct db_conn *c, const char *id, const char *user_id, int64_t *deleted)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM api_keys WHERE id = ? AND user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, user_id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*deleted = db_changes(c);
	return ERR_OK;
}
