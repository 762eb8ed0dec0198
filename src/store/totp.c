/*
 * totp.c: the tables of two-factor authentication and of Google sign-in in
 * progress (0003), and the users.totp_* columns (0002). Secrets arrive
 * sealed; codes arrive as keyed hashes.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static int exec1(struct db_conn *c, struct db_stmt *s)
{
	int rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_totp_pending_put(struct db_conn *c, const char *user_id, const void *sealed, size_t n,
			   int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO totp_pending(user_id, secret_sealed, created_at) VALUES (?, ?, ?)"
			    " ON CONFLICT(user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed,"
			    " created_at = excluded.created_at",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_blob(s, 2, sealed, n);
	db_bind_int(s, 3, now);
	return exec1(c, s);
}

int store_totp_pending_get(struct db_conn *c, const char *user_id, struct buf *out,
			   int64_t *created_at)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT secret_sealed, created_at FROM totp_pending WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	rc = db_step(s);
	if (rc == 1) {
		size_t n;
		const void *p = db_col_blob(s, 0, &n);
		*created_at = db_col_int(s, 1);
		rc = buf_append(out, p, n);
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_totp_pending_delete(struct db_conn *c, const char *user_id)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM totp_pending WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	return exec1(c, s);
}

int store_totp_set(struct db_conn *c, const char *user_id, const void *sealed, size_t n,
		   int64_t last_step)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "UPDATE users SET totp_enabled = ?, totp_secret_sealed = ?, totp_last_step = ?"
			    " WHERE id = ?",
			    &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, sealed ? 1 : 0);
	if (sealed) {
		db_bind_blob(s, 2, sealed, n);
		db_bind_int(s, 3, last_step);
	} else {
		db_bind_null(s, 2);
		db_bind_null(s, 3);
	}
	db_bind_text(s, 4, user_id);
	rc = exec1(c, s);
	if (!rc && db_changes(c) != 1)
		rc = ERR_NOTFOUND;
	return rc;
}

int store_totp_get(struct db_conn *c, const char *user_id, struct buf *sealed, int64_t *last_step)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT totp_secret_sealed, COALESCE(totp_last_step, 0) FROM users"
			    " WHERE id = ? AND totp_enabled = 1 AND totp_secret_sealed IS NOT NULL",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	rc = db_step(s);
	if (rc == 1) {
		size_t n;
		const void *p = db_col_blob(s, 0, &n);
		*last_step = db_col_int(s, 1);
		rc = buf_append(sealed, p, n);
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_totp_use_step(struct db_conn *c, const char *user_id, int64_t step)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_enabled = 1"
			    " AND COALESCE(totp_last_step, 0) < ?",
			    &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, step);
	db_bind_text(s, 2, user_id);
	db_bind_int(s, 3, step);
	rc = exec1(c, s);
	if (!rc && db_changes(c) != 1)
		rc = ERR_EXISTS;
	return rc;
}

int store_recovery_replace(struct db_conn *c, const char *user_id, const char *const *hashes,
			   int n, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM recovery_codes WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	if ((rc = exec1(c, s)))
		return rc;
	for (int i = 0; i < n && !rc; i++) {
		if ((rc = db_prepare(c, "INSERT INTO recovery_codes(user_id, code_hash, created_at) VALUES (?, ?, ?)",
				     &s)))
			break;
		db_bind_text(s, 1, user_id);
		db_bind_text(s, 2, hashes[i]);
		db_bind_int(s, 3, now);
		rc = exec1(c, s);
	}
	return rc;
}

int store_recovery_use(struct db_conn *c, const char *user_id, const char *hash)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, hash);
	rc = exec1(c, s);
	if (!rc && db_changes(c) != 1)
		rc = ERR_NOTFOUND;
	return rc;
}

int store_recovery_count(struct db_conn *c, const char *user_id, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	rc = db_step(s);
	*n = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_totp_failures(struct db_conn *c, const char *user_id, int64_t since, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT failures FROM totp_throttle WHERE user_id = ? AND window_start > ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_int(s, 2, since);
	rc = db_step(s);
	*n = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_totp_fail(struct db_conn *c, const char *user_id, int64_t since, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO totp_throttle(user_id, failures, window_start) VALUES (?, 1, ?)"
			    " ON CONFLICT(user_id) DO UPDATE SET"
			    " failures = CASE WHEN totp_throttle.window_start > ? THEN totp_throttle.failures + 1 ELSE 1 END,"
			    " window_start = CASE WHEN totp_throttle.window_start > ? THEN totp_throttle.window_start ELSE ? END",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_int(s, 2, now);
	db_bind_int(s, 3, since);
	db_bind_int(s, 4, since);
	db_bind_int(s, 5, now);
	return exec1(c, s);
}

int store_totp_fail_clear(struct db_conn *c, const char *user_id)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM totp_throttle WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	return exec1(c, s);
}

int store_oidc_flow_put(struct db_conn *c, const char *state_hash, const char *nonce,
			const char *verifier, int64_t now, int64_t expires_at)
{
	struct db_stmt *s;
	/* expired flows go with each new one, so the table stays small */
	int rc = db_prepare(c, "DELETE FROM oidc_flows WHERE expires_at <= ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	if ((rc = exec1(c, s)))
		return rc;
	if ((rc = db_prepare(c,
			     "INSERT INTO oidc_flows(state_hash, nonce, verifier, created_at, expires_at)"
			     " VALUES (?, ?, ?, ?, ?)",
			     &s)))
		return rc;
	db_bind_text(s, 1, state_hash);
	db_bind_text(s, 2, nonce);
	db_bind_text(s, 3, verifier);
	db_bind_int(s, 4, now);
	db_bind_int(s, 5, expires_at);
	return exec1(c, s);
}

int store_oidc_flow_take(struct db_conn *c, const char *state_hash, int64_t now, char *nonce,
			 char *verifier)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT nonce, verifier, expires_at FROM oidc_flows WHERE state_hash = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, state_hash);
	rc = db_step(s);
	int64_t exp = 0;
	if (rc == 1) {
		snprintf(nonce, 128, "%s", db_col_text(s, 0));
		snprintf(verifier, 128, "%s", db_col_text(s, 1));
		exp = db_col_int(s, 2);
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	if (rc)
		return rc;
	if ((rc = db_prepare(c, "DELETE FROM oidc_flows WHERE state_hash = ?", &s)))
		return rc;
	db_bind_text(s, 1, state_hash);
	if ((rc = exec1(c, s)))
		return rc;
	if (db_changes(c) != 1 || exp <= now)
		return ERR_NOTFOUND;
	return ERR_OK;
}
