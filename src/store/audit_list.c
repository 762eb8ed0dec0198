/* audit_list.c: reading the audit table, for staff (SEC-4, SEC-5), and the
 * rows about a user made by staff, for that user (SEC-5). */
#include "store/store.h"

int store_audit_list(struct db_conn *c, const char *subject, const char *event, int limit,
		     void (*fn)(const struct store_audit_row *r, void *arg), void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT id, at, actor, subject, event, detail, ip FROM audit "
			    "WHERE (? IS NULL OR subject = ?) AND (? IS NULL OR event = ?) "
			    "ORDER BY id DESC LIMIT ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, subject);
	db_bind_text(s, 2, subject);
	db_bind_text(s, 3, event);
	db_bind_text(s, 4, event);
	db_bind_int(s, 5, limit);
	while ((rc = db_step(s)) == 1) {
		struct store_audit_row r = {
			.id = db_col_int(s, 0), .at = db_col_int(s, 1), .actor = db_col_text(s, 2),
			.subject = db_col_text(s, 3), .event = db_col_text(s, 4),
			.detail = db_col_text(s, 5), .ip = db_col_text(s, 6),
		};
		fn(&r, arg);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_audit_about(struct db_conn *c, const char *subject, int limit,
		      void (*fn)(const struct store_audit_row *r, const char *role, void *arg), void *arg)
{
	struct db_stmt *s;
	/* audit_subject(subject, at) serves the WHERE and the ORDER BY; a NULL
	 * actor is the system (retention, a parent's mailed link), not staff */
	int rc = db_prepare(c,
			    "SELECT a.id, a.at, a.event, a.detail, u.role FROM audit a "
			    "LEFT JOIN users u ON u.id = a.actor "
			    "WHERE a.subject = ? AND a.actor IS NOT NULL AND a.actor <> a.subject "
			    "ORDER BY a.at DESC, a.id DESC LIMIT ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, subject);
	db_bind_int(s, 2, limit);
	while ((rc = db_step(s)) == 1) {
		struct store_audit_row r = {
			.id = db_col_int(s, 0), .at = db_col_int(s, 1), .subject = subject,
			.event = db_col_text(s, 2), .detail = db_col_text(s, 3),
		};
		fn(&r, db_col_text(s, 4), arg);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
