/*
 * oidc.c: the pending sign-ups of single sign-on (0006_oidc). The flows
 * themselves (oidc_flows, 0003) are in totp.c. Emails arrive sealed.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static int exec1(struct db_stmt *s)
{
	int rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_oidc_signup_put(struct db_conn *c, const char *token_hash, const void *sealed, size_t n,
			  int64_t now, int64_t expires_at)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO oidc_signups(token_hash, email_sealed, created_at, expires_at)"
			    " VALUES (?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, token_hash);
	db_bind_blob(s, 2, sealed, n);
	db_bind_int(s, 3, now);
	db_bind_int(s, 4, expires_at);
	return exec1(s);
}

int store_oidc_signup_get(struct db_conn *c, const char *token_hash, int64_t now, struct buf *sealed)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT email_sealed FROM oidc_signups WHERE token_hash = ? AND expires_at > ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, token_hash);
	db_bind_int(s, 2, now);
	rc = db_step(s);
	if (rc == 1) {
		size_t n;
		const void *p = db_col_blob(s, 0, &n);
		rc = buf_append(sealed, p, n);
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_oidc_signup_delete(struct db_conn *c, const char *token_hash, int64_t *deleted)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM oidc_signups WHERE token_hash = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, token_hash);
	if ((rc = exec1(s)))
		return rc;
	if (deleted)
		*deleted = db_changes(c);
	return ERR_OK;
}

int store_oidc_signup_expired(struct db_conn *c, int64_t now, char hashes[][65], int max, int *n)
{
	struct db_stmt *s;
	*n = 0;
	int rc = db_prepare(c, "SELECT token_hash FROM oidc_signups WHERE expires_at <= ? LIMIT ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	db_bind_int(s, 2, max);
	while ((rc = db_step(s)) == 1 && *n < max)
		snprintf(hashes[(*n)++], 65, "%s", db_col_text(s, 0));
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
