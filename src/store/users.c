/* users.c: the users table (0002_accounts). Sealed columns are opaque blobs
 * here: the service seals and opens them (vault.h). */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#define USER_COLS                                                                          \
	"id, username, role, age_group, COALESCE(adult_from, ''), password_hash, "         \
	"COALESCE(email_verified_at, 0), created_at, totp_enabled"

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static void read_user(struct db_stmt *s, struct store_user *u)
{
	memset(u, 0, sizeof *u);
	copy(u->id, sizeof u->id, db_col_text(s, 0));
	copy(u->username, sizeof u->username, db_col_text(s, 1));
	copy(u->role, sizeof u->role, db_col_text(s, 2));
	copy(u->age_group, sizeof u->age_group, db_col_text(s, 3));
	copy(u->adult_from, sizeof u->adult_from, db_col_text(s, 4));
	copy(u->password_hash, sizeof u->password_hash, db_col_text(s, 5));
	u->email_verified_at = db_col_int(s, 6);
	u->created_at = db_col_int(s, 7);
	u->totp_enabled = (int)db_col_int(s, 8);
}

int store_user_insert(struct db_conn *c, const struct store_user_new *u)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO users(id, username, email_bidx, email_sealed, email_verified_at, "
			    "password_hash, role, age_group, adult_from, parent_email_sealed, "
			    "parent_consent_at, created_at, password_changed_at) "
			    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, u->id);
	db_bind_text(s, 2, u->username);
	db_bind_text(s, 3, u->email_bidx);
	db_bind_blob(s, 4, u->email_sealed, u->email_sealed_len);
	if (u->email_verified_at)
		db_bind_int(s, 5, u->email_verified_at);
	else
		db_bind_null(s, 5);
	db_bind_text(s, 6, u->password_hash);
	db_bind_text(s, 7, u->role);
	db_bind_text(s, 8, u->age_group);
	db_bind_text(s, 9, u->adult_from);
	if (u->parent_email_sealed)
		db_bind_blob(s, 10, u->parent_email_sealed, u->parent_email_sealed_len);
	else
		db_bind_null(s, 10);
	if (u->parent_consent_at)
		db_bind_int(s, 11, u->parent_consent_at);
	else
		db_bind_null(s, 11);
	db_bind_int(s, 12, u->now);
	db_bind_int(s, 13, u->now);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

static int by(struct db_conn *c, const char *sql, const char *v, struct store_user *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c, sql, &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, v);
	rc = db_step(s);
	if (rc == 1) {
		read_user(s, out);
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_user_by_id(struct db_conn *c, const char *id, struct store_user *out)
{
	return by(c, "SELECT " USER_COLS " FROM users WHERE id = ?", id, out);
}

int store_user_by_email(struct db_conn *c, const char *email_bidx, struct store_user *out)
{
	return by(c, "SELECT " USER_COLS " FROM users WHERE email_bidx = ?", email_bidx, out);
}

int store_user_by_username(struct db_conn *c, const char *username, struct store_user *out)
{
	return by(c, "SELECT " USER_COLS " FROM users WHERE username = ?", username, out);
}

/* One statement per sealed column: column names are never built from input. */
static const char *const get_sql[USER_FIELD__MAX] = {
	[USER_EMAIL] = "SELECT email_sealed FROM users WHERE id = ?",
	[USER_PARENT_EMAIL] = "SELECT parent_email_sealed FROM users WHERE id = ?",
	[USER_NAME] = "SELECT name_sealed FROM users WHERE id = ?",
	[USER_PHONE] = "SELECT phone_sealed FROM users WHERE id = ?",
	[USER_COMPANY] = "SELECT company_sealed FROM users WHERE id = ?",
	[USER_BILLING_ADDRESS] = "SELECT billing_address_sealed FROM users WHERE id = ?",
	[USER_TOTP_SECRET] = "SELECT totp_secret_sealed FROM users WHERE id = ?",
};

static const char *const set_sql[USER_FIELD__MAX] = {
	[USER_EMAIL] = "UPDATE users SET email_sealed = ? WHERE id = ?",
	[USER_PARENT_EMAIL] = "UPDATE users SET parent_email_sealed = ? WHERE id = ?",
	[USER_NAME] = "UPDATE users SET name_sealed = ? WHERE id = ?",
	[USER_PHONE] = "UPDATE users SET phone_sealed = ? WHERE id = ?",
	[USER_COMPANY] = "UPDATE users SET company_sealed = ? WHERE id = ?",
	[USER_BILLING_ADDRESS] = "UPDATE users SET billing_address_sealed = ? WHERE id = ?",
	[USER_TOTP_SECRET] = "UPDATE users SET totp_secret_sealed = ? WHERE id = ?",
};

int store_user_sealed(struct db_conn *c, const char *id, enum store_user_field f, struct buf *out,
		      int *present)
{
	if (f >= USER_FIELD__MAX)
		return ERR_INTERNAL;
	*present = 0;
	struct db_stmt *s;
	int rc = db_prepare(c, get_sql[f], &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	rc = db_step(s);
	if (rc == 1) {
		rc = ERR_OK;
		if (!db_col_null(s, 0)) {
			size_t n;
			const void *p = db_col_blob(s, 0, &n);
			rc = buf_append(out, p, n);
			*present = rc == ERR_OK;
		}
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

static int update(struct db_conn *c, struct db_stmt *s)
{
	int rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	return db_changes(c) ? ERR_OK : ERR_NOTFOUND;
}

int store_user_set_sealed(struct db_conn *c, const char *id, enum store_user_field f,
			  const void *p, size_t n)
{
	if (f >= USER_FIELD__MAX)
		return ERR_INTERNAL;
	struct db_stmt *s;
	int rc = db_prepare(c, set_sql[f], &s);
	if (rc)
		return rc;
	if (p)
		db_bind_blob(s, 1, p, n);
	else
		db_bind_null(s, 1);
	db_bind_text(s, 2, id);
	return update(c, s);
}

int store_user_set_username(struct db_conn *c, const char *id, const char *username)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE users SET username = ? WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, username);
	db_bind_text(s, 2, id);
	return update(c, s);
}

int store_user_set_password(struct db_conn *c, const char *id, const char *hash, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, hash);
	db_bind_int(s, 2, now);
	db_bind_text(s, 3, id);
	return update(c, s);
}

int store_user_set_role(struct db_conn *c, const char *id, const char *role)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE users SET role = ? WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, role);
	db_bind_text(s, 2, id);
	return update(c, s);
}

int store_user_set_verified(struct db_conn *c, const char *id, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	db_bind_text(s, 2, id);
	return update(c, s);
}

int store_user_search(struct db_conn *c, const char *q, int limit,
		      void (*fn)(const struct store_user *u, void *arg), void *arg)
{
	/* LIKE with the query's own wildcards escaped: a portable "contains" */
	char pat[2 * 64 + 3];
	size_t o = 0;
	pat[o++] = '%';
	for (const char *p = q; *p && o < sizeof pat - 3; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			pat[o++] = '\\';
		pat[o++] = *p;
	}
	pat[o++] = '%';
	pat[o] = '\0';
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT " USER_COLS " FROM users WHERE username LIKE ? ESCAPE '\\' "
			    "ORDER BY username LIMIT ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, pat);
	db_bind_int(s, 2, limit);
	struct store_user u;
	while ((rc = db_step(s)) == 1) {
		read_user(s, &u);
		fn(&u, arg);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
