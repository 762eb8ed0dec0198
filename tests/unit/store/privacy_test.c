/* privacy_test.c: the list of owner-scoped tables against the live schema
 * (PRIV-1, PRIV-4): a table with an owner-like column that the list does
 * not name fails here, so export and erasure never leave one behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/privacy.h"

static struct db *db;
static char dir[64];

static int setup(void **st)
{
	snprintf(dir, sizeof dir, "/tmp/atelier-priv-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char p[128];
	snprintf(p, sizeof p, "%s/p.db", dir);
	struct errinfo e;
	struct db_options o = {.backend = "sqlite", .path = p, .pool = 1, .busy_timeout_ms = 5000};
	assert_int_equal(db_open(&db, &o, &e), ERR_OK);
	return 0;
}

static int teardown(void **st)
{
	db_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

static void report(void *arg, const char *table, const char *column)
{
	print_error("table %s has owner-like column %s but no row in store/privacy.c's list\n", table, column);
}

/* REQ: PRIV-1 REQ: PRIV-4 */
static void every_owner_table_is_listed(void **st)
{
	struct db_conn *c = db_get(db);
	int n = -1;
	assert_int_equal(store_privacy_unregistered(c, report, NULL, &n), ERR_OK);
	assert_int_equal(n, 0);
	/* and a table added without a row is caught */
	assert_int_equal(db_exec(c, "CREATE TABLE tickets_unlisted (id TEXT, user_id TEXT)"), ERR_OK);
	assert_int_equal(store_privacy_unregistered(c, NULL, NULL, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(db_exec(c, "DROP TABLE tickets_unlisted"), ERR_OK);
	db_put(c);
}

/* Every row's SQL prepares against the schema, and erasure of an unknown
 * owner changes nothing. */
static void every_row_prepares(void **st)
{
	struct db_conn *c = db_get(db);
	size_t n;
	const struct store_privacy_table *t = store_privacy_tables(&n);
	assert_true(n > 10);
	assert_int_equal(db_begin(c), ERR_OK);
	for (size_t i = 0; i < n; i++) {
		int64_t k = -1, changed = -1;
		assert_int_equal(store_privacy_count(c, &t[i], "u_nobody", &k), ERR_OK);
		assert_int_equal(k, 0);
		assert_int_equal(store_privacy_erase(c, &t[i], "u_nobody", "pn_x", 1, &changed), ERR_OK);
		assert_int_equal(changed, 0);
		assert_true(t[i].how < ERASE__MAX);
	}
	db_rollback(c);
	/* the ledger stays append-only except for pseudonymization */
	assert_int_equal(db_exec(c, "INSERT INTO ledger(owner, at, kind, amount, idem) VALUES ('u_a', 1, 'purchase', 5, 'i1')"), ERR_OK);
	assert_int_not_equal(db_exec(c, "UPDATE ledger SET amount = 6 WHERE idem = 'i1'"), ERR_OK);
	assert_int_not_equal(db_exec(c, "UPDATE ledger SET owner = 'u_b' WHERE idem = 'i1'"), ERR_OK);
	assert_int_equal(db_exec(c, "UPDATE ledger SET owner = 'pn_123' WHERE idem = 'i1'"), ERR_OK);
	db_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_owner_table_is_listed),
		cmocka_unit_test(every_row_prepares),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
