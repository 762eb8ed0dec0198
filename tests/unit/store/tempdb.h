/* tempdb.h: the store tests' fixture: a fresh SQLite database (migrated by
 * db_open) in its own temporary directory, removed afterwards. Include after
 * cmocka.h, stdio.h, stdlib.h and store/db.h. */
#ifndef ATELIER_TESTS_UNIT_STORE_TEMPDB_H
#define ATELIER_TESTS_UNIT_STORE_TEMPDB_H

static struct db *db;
static char tempdb_dir[64];

static void tempdb_open(void)
{
	snprintf(tempdb_dir, sizeof tempdb_dir, "/tmp/atelier-store-XXXXXX");
	assert_non_null(mkdtemp(tempdb_dir));
	char p[128];
	snprintf(p, sizeof p, "%s/t.db", tempdb_dir);
	struct errinfo e;
	struct db_options o = {.backend = "sqlite", .path = p, .pool = 1, .busy_timeout_ms = 5000};
	assert_int_equal(db_open(&db, &o, &e), ERR_OK);
}

static int tempdb_close(void)
{
	db_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tempdb_dir);
	return system(cmd) ? -1 : 0;
}

#endif
