/*
 * mail.c: the mail_outbox table (see service/mail.h). Rows hold only sealed
 * blobs and constants; the claim is a compare-and-set on next_attempt so it
 * works the same on SQLite and PostgreSQL without row locks.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

int store_mail_insert(struct db_conn *c, const struct store_mail *m, int64_t next_attempt)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO mail_outbox(id, kind, rcpt, subject, body, created_at, attempts, next_attempt)"
			    " VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, m->id);
	db_bind_text(s, 2, m->kind);
	db_bind_blob(s, 3, m->rcpt.data, m->rcpt.len);
	db_bind_blob(s, 4, m->subject.data, m->subject.len);
	db_bind_blob(s, 5, m->body.data, m->body.len);
	db_bind_int(s, 6, m->created_at);
	db_bind_int(s, 7, next_attempt);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_mail_due(struct db_conn *c, int64_t now, char id[40])
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT id FROM mail_outbox WHERE next_attempt <= ? ORDER BY next_attempt, created_at LIMIT 1",
			    &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	rc = db_step(s);
	if (rc == 1) {
		snprintf(id, 40, "%s", db_col_text(s, 0));
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_mail_claim(struct db_conn *c, const char *id, int64_t now, int64_t lease_until)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "UPDATE mail_outbox SET next_attempt = ?, attempts = attempts + 1"
			    " WHERE id = ? AND next_attempt <= ?",
			    &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, lease_until);
	db_bind_text(s, 2, id);
	db_bind_int(s, 3, now);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	return db_changes(c) == 1 ? ERR_OK : ERR_NOTFOUND;
}

int store_mail_get(struct db_conn *c, const char *id, struct store_mail *m)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT kind, created_at, attempts, rcpt, subject, body FROM mail_outbox WHERE id = ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	rc = db_step(s);
	if (rc == 1) {
		snprintf(m->id, sizeof m->id, "%s", id);
		snprintf(m->kind, sizeof m->kind, "%s", db_col_text(s, 0));
		m->created_at = db_col_int(s, 1);
		m->attempts = db_col_int(s, 2);
		size_t n;
		const void *p;
		rc = ERR_OK;
		p = db_col_blob(s, 3, &n);
		if (!rc)
			rc = buf_append(&m->rcpt, p, n);
		p = db_col_blob(s, 4, &n);
		if (!rc)
			rc = buf_append(&m->subject, p, n);
		p = db_col_blob(s, 5, &n);
		if (!rc)
			rc = buf_append(&m->body, p, n);
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_mail_retry(struct db_conn *c, const char *id, int64_t next_attempt, const char *err)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE mail_outbox SET next_attempt = ?, last_error = ? WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, next_attempt);
	db_bind_text(s, 2, err);
	db_bind_text(s, 3, id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_mail_delete(struct db_conn *c, const char *id)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM mail_outbox WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_mail_next_time(struct db_conn *c, int64_t *t)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT MIN(next_attempt) FROM mail_outbox", &s);
	if (rc)
		return rc;
	rc = db_step(s);
	if (rc == 1 && !db_col_null(s, 0)) {
		*t = db_col_int(s, 0);
		rc = ERR_OK;
	} else if (rc >= 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_mail_count(struct db_conn *c, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT COUNT(*) FROM mail_outbox", &s);
	if (rc)
		return rc;
	rc = db_step(s);
	*n = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
