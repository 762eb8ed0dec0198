/* auth_tokens.c: single-use expiring tokens (verify, reset, 2fa), the
 * sign-in throttle, and known devices: the small tables sign-in needs. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

int store_token_insert(struct db_conn *c, const char *hash, const char *kind, const char *user_id,
		       int64_t now, int64_t expires_at)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO auth_tokens(hash, kind, user_id, created_at, expires_at) "
			    "VALUES (?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, hash);
	db_bind_text(s, 2, kind);
	db_bind_text(s, 3, user_id);
	db_bind_int(s, 4, now);
	db_bind_int(s, 5, expires_at);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_token_get(struct db_conn *c, const char *hash, const char *kind, char *user_id,
		    size_t n, int64_t *expires_at, int64_t *used_at)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT user_id, expires_at, COALESCE(used_at, 0) FROM auth_tokens "
			    "WHERE hash = ? AND kind = ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, hash);
	db_bind_text(s, 2, kind);
	rc = db_step(s);
	if (rc == 1) {
		snprintf(user_id, n, "%s", db_col_text(s, 0));
		*expires_at = db_col_int(s, 1);
		*used_at = db_col_int(s, 2);
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_token_use(struct db_conn *c, const char *hash, int64_t now, int64_t *changed)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE auth_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	db_bind_text(s, 2, hash);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*changed = db_changes(c);
	return ERR_OK;
}

int store_token_delete_user(struct db_conn *c, const char *user_id, const char *kind)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM auth_tokens WHERE user_id = ? AND kind = ? AND used_at IS NULL", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, kind);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_token_newest(struct db_conn *c, const char *user_id, const char *kind, int64_t *at)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT COALESCE(MAX(created_at), 0) FROM auth_tokens WHERE user_id = ? AND kind = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, kind);
	rc = db_step(s);
	*at = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

/* auth_throttle ------------------------------------------------------------ */

int store_throttle_get(struct db_conn *c, const char *key, struct store_throttle *t)
{
	memset(t, 0, sizeof *t);
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT failures, window_start, locked_until FROM auth_throttle WHERE key = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, key);
	rc = db_step(s);
	if (rc == 1) {
		t->failures = db_col_int(s, 0);
		t->window_start = db_col_int(s, 1);
		t->locked_until = db_col_int(s, 2);
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_throttle_put(struct db_conn *c, const char *key, const struct store_throttle *t)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO auth_throttle(key, failures, window_start, locked_until) "
			    "VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
			    "failures = excluded.failures, window_start = excluded.window_start, "
			    "locked_until = excluded.locked_until",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, key);
	db_bind_int(s, 2, t->failures);
	db_bind_int(s, 3, t->window_start);
	db_bind_int(s, 4, t->locked_until);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_throttle_delete(struct db_conn *c, const char *key)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM auth_throttle WHERE key = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, key);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_throttle_purge(struct db_conn *c, int64_t before, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM auth_throttle WHERE window_start < ? AND locked_until < ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, before);
	db_bind_int(s, 2, now);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

/* known_devices ----------------------------------------------------------- */

int store_device_add(struct db_conn *c, const char *user_id, const char *device, int64_t now,
		     int *is_new)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO known_devices(user_id, device, first_seen) VALUES (?, ?, ?) "
			    "ON CONFLICT(user_id, device) DO NOTHING",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, device);
	db_bind_int(s, 3, now);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*is_new = db_changes(c) > 0;
	return ERR_OK;
}
