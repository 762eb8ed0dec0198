/*
 * stats.c: counts across tables for the staff console's metrics card. One
 * statement of scalar subqueries, so the figures come from one snapshot;
 * each is served by an index or a small table, never by reading content.
 * Nothing here names a person.
 */
#include "store/store.h"

#include <string.h>

int store_counts_get(struct db_conn *c, int64_t now, int64_t seen_after, struct store_counts *out)
{
	struct db_stmt *s;
	memset(out, 0, sizeof *out);
	int rc = db_prepare(c,
			    "SELECT (SELECT COUNT(*) FROM users),"
			    " (SELECT COUNT(*) FROM sessions WHERE expires_at > ?1 AND last_seen > ?2),"
			    " (SELECT COUNT(*) FROM image_jobs WHERE state = 'queued'),"
			    " (SELECT COUNT(*) FROM image_jobs WHERE state = 'running'),"
			    " (SELECT COUNT(*) FROM privacy_requests WHERE status IN ('unverified', 'open')),"
			    " (SELECT COUNT(*) FROM privacy_requests WHERE status IN ('unverified', 'open') AND due_at < ?1)",
			    &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, now);
	db_bind_int(s, 2, seen_after);
	rc = db_step(s);
	if (rc == 1) {
		out->users = db_col_int(s, 0);
		out->sessions = db_col_int(s, 1);
		out->jobs_queued = db_col_int(s, 2);
		out->jobs_running = db_col_int(s, 3);
		out->requests_open = db_col_int(s, 4);
		out->requests_overdue = db_col_int(s, 5);
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_CORRUPT; /* an aggregate always answers one row */
	}
	db_done(s);
	return rc;
}
