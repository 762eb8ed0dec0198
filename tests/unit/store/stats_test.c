/* stats_test.c: store_counts_get, the figures of the console's metrics
 * card: each count moves with its own table and nothing else, expired or
 * idle sessions and finished jobs and answered requests are not counted. */
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
#include "store/store.h"

#include "tempdb.h"

static int setup(void **st)
{
	tempdb_open();
	return 0;
}

static int teardown(void **st)
{
	return tempdb_close();
}

static void exec(struct db_conn *c, const char *fmt, const char *a, int64_t x, int64_t y)
{
	char sql[512];
	snprintf(sql, sizeof sql, fmt, a, a, (long long)x, (long long)y);
	assert_int_equal(db_exec(c, sql), ERR_OK);
}

static void user(struct db_conn *c, const char *id)
{
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT INTO users(id, username, email_bidx, email_sealed, password_hash, role, age_group, created_at,"
		 " password_changed_at) VALUES ('%s', '%s', 'bidx-%s', x'00', 'h', 'user', 'adult', 1, 1)",
		 id, id, id);
	assert_int_equal(db_exec(c, sql), ERR_OK);
}

/* a session last used at seen, expiring at exp */
static void session(struct db_conn *c, const char *id, int64_t seen, int64_t exp)
{
	exec(c, "INSERT INTO sessions(id, token_hash, user_id, csrf, created_at, last_seen, expires_at, browser, os, network)"
		" VALUES ('%s', 'h-%s', 'u_1', 'x', 1, %lld, %lld, 'b', 'o', 'n')",
	     id, seen, exp);
}

static void job(struct db_conn *c, const char *state)
{
	static int n;
	char id[16];
	snprintf(id, sizeof id, "j%d", ++n);
	char sql[256];
	snprintf(sql, sizeof sql, "INSERT INTO image_jobs(id, owner, model, state, params, endpoint, created_at)"
		 " VALUES ('%s', 'u_1', 'm', '%s', '{}', '/v1/images/generations', 1)", id, state);
	assert_int_equal(db_exec(c, sql), ERR_OK);
}

static void request(struct db_conn *c, const char *status, int64_t due)
{
	static int n;
	char sql[256];
	snprintf(sql, sizeof sql, "INSERT INTO privacy_requests(id, kind, channel, status, received_at, due_at)"
		 " VALUES ('pr_%d', 'access', 'mail', '%s', 1, %lld)", ++n, status, (long long)due);
	assert_int_equal(db_exec(c, sql), ERR_OK);
}

static void empty_is_zero(void **st)
{
	struct db_conn *c = db_get(db);
	struct store_counts n;
	memset(&n, 0xff, sizeof n);
	assert_int_equal(store_counts_get(c, 1000, 900, &n), ERR_OK);
	assert_int_equal(n.users + n.sessions + n.jobs_queued + n.jobs_running + n.requests_open + n.requests_overdue, 0);
	db_put(c);
}

static void each_count_its_own(void **st)
{
	struct db_conn *c = db_get(db);
	user(c, "u_1");
	user(c, "u_2");
	session(c, "s_live", 950, 2000);
	session(c, "s_idle", 800, 2000);    /* unused since before seen_after */
	session(c, "s_expired", 990, 1000); /* expires at now: gone */
	job(c, "queued");
	job(c, "queued");
	job(c, "running");
	job(c, "done");
	job(c, "failed");
	request(c, "open", 2000);
	request(c, "unverified", 2000);
	request(c, "open", 500); /* past its deadline */
	request(c, "done", 500);
	request(c, "refused", 2000);
	struct store_counts n;
	assert_int_equal(store_counts_get(c, 1000, 900, &n), ERR_OK);
	assert_int_equal(n.users, 2);
	assert_int_equal(n.sessions, 1);
	assert_int_equal(n.jobs_queued, 2);
	assert_int_equal(n.jobs_running, 1);
	assert_int_equal(n.requests_open, 3);
	assert_int_equal(n.requests_overdue, 1);
	db_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_is_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(each_count_its_own, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
