/* audit.c: the append-only audit table (a trigger refuses updates). */
#include "store/store.h"

#include "base/timeutil.h"

int store_audit_add(struct db_conn *c, const char *actor, const char *subject, const char *event,
		    const char *detail, const char *ip)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO audit(at, actor, subject, event, detail, ip) VALUES (?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, time_now());
	db_bind_text(s, 2, actor);
	db_bind_text(s, 3, subject);
	db_bind_text(s, 4, event);
	db_bind_text(s, 5, detail);
	db_bind_text(s, 6, ip);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
