/* credits_test.c: the ledger: idempotency, holds, overdraft refused by the
 * database, concurrency, crash recovery (PAY-1, PAY-5). */
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

#include "service/credits.h"
#include "store/db.h"

static struct db *db;
static char dir[64];
#define C CREDITS_UNIT

static int setup(void **st)
{
	snprintf(dir, sizeof dir, "/tmp/atelier-credits-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char p[128];
	snprintf(p, sizeof p, "%s/c.db", dir);
	struct errinfo e;
	struct db_options o = {.backend = "sqlite", .path = p, .pool = 8, .busy_timeout_ms = 10000};
	assert_int_equal(db_open(&db, &o, &e), ERR_OK);
	return 0;
}

static int teardown(void **st)
{
	db_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static int64_t bal(const char *owner)
{
	int64_t b = -1;
	assert_int_equal(credits_balance(db, owner, &b), ERR_OK);
	assert_int_equal(credits_check(db, owner), ERR_OK);
	return b;
}

/* REQ: PAY-5 — a retried purchase or grant is applied once. */
static void add_is_idempotent(void **st)
{
	bool applied;
	assert_int_equal(credits_add(db, "u1", "purchase", 5 * C, "charge:abc", NULL, &applied), ERR_OK);
	assert_true(applied);
	assert_int_equal(credits_add(db, "u1", "purchase", 5 * C, "charge:abc", NULL, &applied), ERR_OK);
	assert_false(applied);
	assert_int_equal(bal("u1"), 5 * C);
}

static void bad_amounts_refused(void **st)
{
	assert_int_equal(credits_add(db, "u2", "grant", 0, "g0", NULL, NULL), ERR_INVALID);
	assert_int_equal(credits_add(db, "u2", "grant", -5, "g1", NULL, NULL), ERR_INVALID);
	assert_int_equal(credits_add(db, "u2", "grant", CREDITS_MAX + 1, "g2", NULL, NULL), ERR_INVALID);
	assert_int_equal(credits_add(db, "u2", "spend", 5, "g3", NULL, NULL), ERR_INVALID);
	int64_t h;
	assert_int_equal(credits_reserve(db, "u2", -1, "r", &h), ERR_INVALID);
	assert_int_equal(bal("u2"), 0);
}

/* REQ: PAY-1 — a generation reserves its cost, then spends what it used. */
static void reserve_settle_release(void **st)
{
	assert_int_equal(credits_add(db, "u3", "grant", 10 * C, "g:u3", NULL, NULL), ERR_OK);
	int64_t h;
	assert_int_equal(credits_reserve(db, "u3", 4 * C, "req:1", &h), ERR_OK);
	assert_int_equal(bal("u3"), 6 * C);
	/* the same request retried gets the same hold, not a second one */
	int64_t h2;
	assert_int_equal(credits_reserve(db, "u3", 4 * C, "req:1", &h2), ERR_OK);
	assert_int_equal(h2, h);
	assert_int_equal(bal("u3"), 6 * C);
	assert_int_equal(credits_settle(db, h, C, "m"), ERR_OK);
	assert_int_equal(bal("u3"), 9 * C);
	/* a settled hold cannot be settled or released again */
	assert_int_equal(credits_settle(db, h, C, "m"), ERR_NOTFOUND);
	assert_int_equal(credits_release(db, h), ERR_NOTFOUND);
	assert_int_equal(bal("u3"), 9 * C);
	assert_int_equal(credits_reserve(db, "u3", 2 * C, "req:2", &h), ERR_OK);
	assert_int_equal(credits_release(db, h), ERR_OK);
	assert_int_equal(bal("u3"), 9 * C);
	/* spending more than held is clamped to the hold */
	assert_int_equal(credits_reserve(db, "u3", 1 * C, "req:3", &h), ERR_OK);
	assert_int_equal(credits_settle(db, h, 5 * C, "m"), ERR_OK);
	assert_int_equal(bal("u3"), 8 * C);
}

/* REQ: PAY-5 — the database refuses an overdraft, whatever the code does. */
static void overdraft_refused(void **st)
{
	assert_int_equal(credits_add(db, "u4", "grant", 3, "g:u4", NULL, NULL), ERR_OK);
	int64_t h;
	assert_int_equal(credits_reserve(db, "u4", 4, "r:u4", &h), ERR_PAYMENT);
	assert_int_equal(bal("u4"), 3);
	struct db_conn *c = db_get(db);
	assert_int_not_equal(db_exec(c, "INSERT INTO ledger(owner, at, kind, amount, idem) VALUES ('u4', 0, 'spend', -4, 'raw')"), ERR_OK);
	assert_int_not_equal(db_exec(c, "UPDATE ledger SET amount = 1000 WHERE owner = 'u4'"), ERR_OK);
	db_put(c);
	assert_int_equal(bal("u4"), 3);
}

struct race {
	int ok, refused;
	pthread_mutex_t mu;
};
static struct race race = {0, 0, PTHREAD_MUTEX_INITIALIZER};
static int race_seq;

static void *racer(void *arg)
{
	char idem[32];
	snprintf(idem, sizeof idem, "race:%d", __atomic_fetch_add(&race_seq, 1, __ATOMIC_SEQ_CST));
	int64_t h;
	int rc = credits_reserve(db, "u5", C, idem, &h);
	if (rc == ERR_OK)
		rc = credits_settle(db, h, C, "m");
	pthread_mutex_lock(&race.mu);
	if (rc == ERR_OK)
		race.ok++;
	else if (rc == ERR_PAYMENT)
		race.refused++;
	pthread_mutex_unlock(&race.mu);
	return NULL;
}

/* REQ: PAY-5 — 50 parallel generations against a balance for 10. */
static void fifty_against_ten(void **st)
{
	assert_int_equal(credits_add(db, "u5", "grant", 10 * C, "g:u5", NULL, NULL), ERR_OK);
	pthread_t t[50];
	for (int i = 0; i < 50; i++)
		pthread_create(&t[i], NULL, racer, NULL);
	for (int i = 0; i < 50; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(race.ok, 10);
	assert_int_equal(race.refused, 40);
	assert_int_equal(bal("u5"), 0);
}

/* REQ: PAY-5 — a crash between reserve and settle loses nothing. */
static void recover_releases_open_holds(void **st)
{
	assert_int_equal(credits_add(db, "u6", "grant", 5 * C, "g:u6", NULL, NULL), ERR_OK);
	int64_t h1, h2;
	assert_int_equal(credits_reserve(db, "u6", 2 * C, "crash:1", &h1), ERR_OK);
	assert_int_equal(credits_reserve(db, "u6", 1 * C, "crash:2", &h2), ERR_OK);
	assert_int_equal(bal("u6"), 2 * C);
	/* "restart": reopen the database and recover */
	char p[128];
	snprintf(p, sizeof p, "%s/c.db", dir);
	db_close(db);
	struct errinfo e;
	struct db_options o = {.backend = "sqlite", .path = p, .pool = 8, .busy_timeout_ms = 10000};
	assert_int_equal(db_open(&db, &o, &e), ERR_OK);
	size_t n;
	assert_int_equal(credits_recover(db, 0, &n), ERR_OK);
	assert_true(n >= 2);
	assert_int_equal(bal("u6"), 5 * C);
	assert_int_equal(credits_settle(db, h1, C, "m"), ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_is_idempotent),
		cmocka_unit_test(bad_amounts_refused),
		cmocka_unit_test(reserve_settle_release),
		cmocka_unit_test(overdraft_refused),
		cmocka_unit_test(fifty_against_ten),
		cmocka_unit_test(recover_releases_open_holds),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
