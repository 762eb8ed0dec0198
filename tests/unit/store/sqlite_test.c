/* sqlite_test.c: the SQLite backend: migrations, pool, transactions, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/store.h"

static char dir[64], path[128];

static struct db *open_db(int pool)
{
	struct db *db;
	struct errinfo e = {0};
	struct db_options o = {.backend = "sqlite", .path = path, .pool = pool, .busy_timeout_ms = 5000};
	assert_int_equal(db_open(&db, &o, &e), ERR_OK);
	return db;
}

static int setup(void **st)
{
	snprintf(dir, sizeof dir, "/tmp/atelier-db-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.db", dir);
	return 0;
}

static int teardown(void **st)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void migrations_apply_once(void **st)
{
	struct db *db = open_db(1);
	int v = db_schema_version(db);
	assert_true(v >= 1);
	assert_int_equal(db_ping(db), ERR_OK);
	db_close(db);
	db = open_db(2); /* reopening applies nothing new */
	assert_int_equal(db_schema_version(db), v);
	struct db_conn *c = db_get(db);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT COUNT(*), MAX(version) FROM schema_migrations", &s), ERR_OK);
	assert_int_equal(db_step(s), 1);
	assert_true(db_col_int(s, 0) >= 1);
	assert_int_equal(db_col_int(s, 1), v);
	db_done(s);
	/* pragmas that erasure and integrity rely on */
	assert_int_equal(db_prepare(c, "PRAGMA secure_delete", &s), ERR_OK);
	assert_int_equal(db_step(s), 1);
	assert_int_equal(db_col_int(s, 0), 1);
	db_done(s);
	assert_int_equal(db_prepare(c, "PRAGMA foreign_keys", &s), ERR_OK);
	assert_int_equal(db_step(s), 1);
	assert_int_equal(db_col_int(s, 0), 1);
	db_done(s);
	assert_int_equal(db_prepare(c, "PRAGMA journal_mode", &s), ERR_OK);
	assert_int_equal(db_step(s), 1);
	assert_string_equal(db_col_text(s, 0), "wal");
	db_done(s);
	db_put(c);
	db_close(db);
}

static int64_t int_query(struct db_conn *c, const char *sql)
{
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, sql, &s), ERR_OK);
	assert_int_equal(db_step(s), 1);
	int64_t v = db_col_int(s, 0);
	db_done(s);
	return v;
}

/* A lazy commit is visible to other connections at once, the connection goes
 * back to synced commits, and the barrier thread makes it durable within a
 * few DB_LAZY_SYNC_MS (one barrier for a burst of commits). */
static void lazy_commit_then_barrier(void **st)
{
	struct db *db = open_db(2);
	struct db_conn *a = db_get(db), *b = db_get(db);
	uint64_t before = db_sync_count(db);
	int64_t n0 = int_query(b, "SELECT n FROM sync_barrier");
	for (int i = 0; i < 5; i++) {
		assert_int_equal(db_begin_lazy(a), ERR_OK);
		assert_int_equal(int_query(a, "PRAGMA synchronous"), 1); /* NORMAL */
		assert_int_equal(store_audit_add(a, "a", "b", "test.lazy", NULL, NULL), ERR_OK);
		assert_int_equal(db_commit(a), ERR_OK);
		assert_int_equal(int_query(a, "PRAGMA synchronous"), 2); /* FULL again */
	}
	assert_int_equal(int_query(b, "SELECT COUNT(*) FROM audit WHERE event = 'test.lazy'"), 5);
	/* a rolled-back lazy transaction leaves nothing and restores FULL too */
	assert_int_equal(db_begin_lazy(a), ERR_OK);
	assert_int_equal(store_audit_add(a, "a", "b", "test.lazy", NULL, NULL), ERR_OK);
	db_rollback(a);
	assert_int_equal(int_query(a, "PRAGMA synchronous"), 2);
	assert_int_equal(int_query(b, "SELECT COUNT(*) FROM audit WHERE event = 'test.lazy'"), 5);
	/* the barrier comes within a few windows, and one covers the burst */
	for (int i = 0; i < 200 && db_sync_count(db) == before; i++)
		usleep(10 * 1000);
	usleep(3 * DB_LAZY_SYNC_MS * 1000);
	uint64_t after = db_sync_count(db);
	assert_true(after >= before + 1);
	assert_true(after <= before + 2);
	/* a file database's barrier flushes the log itself: no commit of its
	 * own, so it never holds the write lock while the disk works */
	assert_int_equal(int_query(b, "SELECT n FROM sync_barrier"), n0);
	/* nothing lazy since: no more barriers */
	usleep(3 * DB_LAZY_SYNC_MS * 1000);
	assert_int_equal(db_sync_count(db), after);
	assert_int_equal(db_sync(db), ERR_OK);
	assert_int_equal(db_sync_count(db), after + 1);
	db_put(a);
	db_put(b);
	db_close(db);
}

/* A log past 1000 pages is checkpointed by the sync thread. */
static void checkpoints_in_background(void **st)
{
	struct db *db = open_db(1);
	struct db_conn *c = db_get(db);
	uint64_t before = db_checkpoint_count(db);
	assert_int_equal(db_exec(c, "CREATE TABLE big (b BLOB)"), ERR_OK);
	struct db_stmt *s;
	for (int i = 0; i < 300; i++) { /* 300 commits of 16 KiB: over 1000 pages */
		assert_int_equal(db_begin_lazy(c), ERR_OK);
		assert_int_equal(db_prepare(c, "INSERT INTO big VALUES (zeroblob(16384))", &s), ERR_OK);
		assert_int_equal(db_step(s), 0);
		db_done(s);
		assert_int_equal(db_commit(c), ERR_OK);
	}
	for (int i = 0; i < 300 && db_checkpoint_count(db) == before; i++)
		usleep(10 * 1000);
	assert_true(db_checkpoint_count(db) > before);
	assert_int_equal(int_query(c, "SELECT COUNT(*) FROM big"), 300);
	db_put(c);
	db_close(db);
}

static void transaction_all_or_nothing(void **st)
{
	struct db *db = open_db(1);
	struct db_conn *c = db_get(db);
	assert_int_equal(db_begin(c), ERR_OK);
	assert_int_equal(store_audit_add(c, "a", "b", "test.event", NULL, NULL), ERR_OK);
	db_rollback(c);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT COUNT(*) FROM audit WHERE event = 'test.event'", &s), ERR_OK);
	assert_int_equal(db_step(s), 1);
	assert_int_equal(db_col_int(s, 0), 0);
	db_done(s);
	assert_int_equal(db_begin(c), ERR_OK);
	assert_int_equal(store_audit_add(c, "a", "b", "test.event", "{\"k\":1}", NULL), ERR_OK);
	assert_int_equal(db_commit(c), ERR_OK);
	assert_int_equal(db_step(s), 1);
	assert_int_equal(db_col_int(s, 0), 1);
	db_done(s);
	db_put(c);
	db_close(db);
}

static void audit_is_append_only(void **st)
{
	struct db *db = open_db(1);
	struct db_conn *c = db_get(db);
	assert_int_equal(store_audit_add(c, "a", "b", "x", NULL, NULL), ERR_OK);
	int rc = db_exec(c, "UPDATE audit SET event = 'forged'");
	assert_int_not_equal(rc, ERR_OK);
	db_put(c);
	db_close(db);
}

static void unique_violation_is_exists(void **st)
{
	struct db *db = open_db(1);
	struct db_conn *c = db_get(db);
	unsigned char w[72] = {1};
	assert_int_equal(store_owner_key_put(c, "o1", w, sizeof w), ERR_OK);
	assert_int_equal(store_owner_key_put(c, "o1", w, sizeof w), ERR_EXISTS);
	unsigned char out[72];
	size_t n;
	assert_int_equal(store_owner_key_get(c, "o1", out, sizeof out, &n), ERR_OK);
	assert_int_equal(n, 72);
	assert_int_equal(store_owner_key_get(c, "o1", out, 10, &n), ERR_CORRUPT);
	assert_int_equal(store_owner_key_get(c, "nobody", out, sizeof out, &n), ERR_NOTFOUND);
	db_put(c);
	db_close(db);
}

static struct db *shared;
static void *writer(void *arg)
{
	for (int i = 0; i < 50; i++) {
		struct db_conn *c = db_get(shared);
		int rc = db_begin(c);
		if (rc == ERR_OK)
			rc = store_audit_add(c, "t", NULL, "concurrent", NULL, NULL);
		if (rc == ERR_OK)
			rc = db_commit(c);
		else
			db_rollback(c);
		db_put(c);
		if (rc)
			return (void *)1;
	}
	return NULL;
}

static void pool_serialises_writers(void **st)
{
	shared = open_db(3);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, writer, NULL);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
	struct db_conn *c = db_get(shared);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT COUNT(*) FROM audit WHERE event = 'concurrent'", &s), ERR_OK);
	assert_int_equal(db_step(s), 1);
	assert_int_equal(db_col_int(s, 0), 200);
	db_done(s);
	db_put(c);
	db_close(shared);
}

static void bad_backend_and_path(void **st)
{
	struct db *db;
	struct errinfo e = {0};
	struct db_options o = {.backend = "oracle", .path = path, .pool = 1};
	assert_int_equal(db_open(&db, &o, &e), ERR_UNSUPPORTED);
	struct db_options o2 = {.backend = "sqlite", .path = "/nonexistent/dir/x.db", .pool = 1};
	assert_int_not_equal(db_open(&db, &o2, &e), ERR_OK);
	assert_non_null(strstr(e.msg, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrations_apply_once),
		cmocka_unit_test(transaction_all_or_nothing),
		cmocka_unit_test(lazy_commit_then_barrier),
		cmocka_unit_test(checkpoints_in_background),
		cmocka_unit_test(audit_is_append_only),
		cmocka_unit_test(unique_violation_is_exists),
		cmocka_unit_test(pool_serialises_writers),
		cmocka_unit_test(bad_backend_and_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
