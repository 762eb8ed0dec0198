/* audit_list.c: reading the audit table, for staff (SEC-4, SEC-5). */
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
