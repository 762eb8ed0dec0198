/*
 * retention.c: counting and deleting what has outlived its retention
 * period, one category at a time (RET-1). Each category is a row: the
 * statement that counts and the statements that delete, all keyed by one
 * cut-off time. Categories whose content is sealed under a key of its own
 * (mail) destroy that key in the same transaction.
 */
#include "store/store.h"

#include <string.h>

struct category {
	const char *name;
	const char *count_sql;
	const char *delete_sql[2]; /* run in order; NULL ends */
};

static const struct category categories[] = {
	{"usage_logs", "SELECT COUNT(*) FROM usage WHERE at < ?", {"DELETE FROM usage WHERE at < ?", NULL}},
	{"mail_outbox", "SELECT COUNT(*) FROM mail_outbox WHERE created_at < ?",
	 {"DELETE FROM owner_keys WHERE owner IN (SELECT 'mail:' || id FROM mail_outbox WHERE created_at < ?)",
	  "DELETE FROM mail_outbox WHERE created_at < ?"}},
	{"webhook_events", "SELECT COUNT(*) FROM webhook_events WHERE received_at < ?",
	 {"DELETE FROM webhook_events WHERE received_at < ?", NULL}},
	{"audit", "SELECT COUNT(*) FROM audit WHERE at < ?", {"DELETE FROM audit WHERE at < ?", NULL}},
	/* sign-in sessions and mailed links, by last use: a session is dead
	 * long before (idle and absolute timeouts); the rows go after the period */
	{"sessions", "SELECT COUNT(*) FROM sessions WHERE last_seen < ?",
	 {"DELETE FROM auth_tokens WHERE expires_at < ?", "DELETE FROM sessions WHERE last_seen < ?"}},
	/* images made in ephemeral mode ([retention] images) go when their
	 * link expires, unless the owner kept them (GEN-4); cut-off is now */
	{"images_expired", "SELECT COUNT(*) FROM images WHERE expires_at IS NOT NULL AND expires_at < ?",
	 {"DELETE FROM images WHERE expires_at IS NOT NULL AND expires_at < ?", NULL}},
	/* ended generation jobs: no content (cleared when they end), kept a day
	 * so the studio can still read how they went */
	{"image_jobs", "SELECT COUNT(*) FROM image_jobs WHERE state IN ('done', 'failed') AND finished_at < ?",
	 {"DELETE FROM image_jobs WHERE state IN ('done', 'failed') AND finished_at < ?", NULL}},
	/* billing records: kept for [retention] billing (tax law), then gone */
	{"billing", "SELECT COUNT(*) FROM receipts WHERE issued_at < ?",
	 {"DELETE FROM charges WHERE created_at < ?", "DELETE FROM receipts WHERE issued_at < ?"}},
};

static const struct category *find(const char *name)
{
	for (size_t i = 0; i < sizeof categories / sizeof categories[0]; i++)
		if (!strcmp(categories[i].name, name))
			return &categories[i];
	return NULL;
}

int store_retention_count(struct db_conn *c, const char *category, int64_t before, int64_t *n)
{
	const struct category *cat = find(category);
	if (!cat)
		return ERR_NOTFOUND;
	struct db_stmt *s;
	int rc = db_prepare(c, cat->count_sql, &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, before);
	rc = db_step(s);
	*n = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_retention_delete(struct db_conn *c, const char *category, int64_t before, int64_t *n)
{
	const struct category *cat = find(category);
	if (!cat)
		return ERR_NOTFOUND;
	*n = 0;
	for (int i = 0; i < 2 && cat->delete_sql[i]; i++) {
		struct db_stmt *s;
		int rc = db_prepare(c, cat->delete_sql[i], &s);
		if (rc)
			return rc;
		db_bind_int(s, 1, before);
		rc = db_step(s);
		db_done(s);
		if (rc < 0)
			return rc;
		*n = db_changes(c); /* the last statement deletes the category's rows */
	}
	return ERR_OK;
}
