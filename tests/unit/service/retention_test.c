/* retention_test.c: periods from configuration, enforced (RET-1, RET-2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/timeutil.h"
#include "service/app.h"
#include "service/retention.h"
#include "store/db.h"

static struct config cfg;
static struct app app;
static char dir[64];

static int setup(void **st)
{
	snprintf(dir, sizeof dir, "/tmp/atelier-ret-XXXXXX");
	assert_non_null(mkdtemp(dir));
	config_defaults(&cfg);
	char p[128];
	snprintf(p, sizeof p, "%s/r.db", dir);
	struct errinfo e;
	struct db_options o = {.backend = "sqlite", .path = p, .pool = 2, .busy_timeout_ms = 5000};
	assert_int_equal(db_open(&app.db, &o, &e), ERR_OK);
	app.cfg = &cfg;
	return 0;
}

static int teardown(void **st)
{
	db_close(app.db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void usage_at(int64_t at)
{
	struct db_conn *c = db_get(app.db);
	char sql[256];
	snprintf(sql, sizeof sql,
		 "INSERT INTO usage(owner, at, endpoint, status, latency_ms) VALUES ('u', %lld, '/v1/x', 200, 1)",
		 (long long)at);
	assert_int_equal(db_exec(c, sql), ERR_OK);
	db_put(c);
}

static int64_t rows_of(struct retention_item *items, size_t n, const char *cat)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(items[i].category, cat))
			return items[i].rows;
	fail_msg("no category %s", cat);
	return -1;
}

/* REQ: RET-1, RET-2 — usage logs go after the configured 90 days, not before. */
static void usage_logs_expire_after_their_period(void **st)
{
	int64_t now = time_now();
	usage_at(now - 91 * 86400);
	usage_at(now - 100 * 86400);
	usage_at(now - 89 * 86400);
	usage_at(now);
	struct retention_item items[16];
	size_t n;
	assert_int_equal(retention_run(&app, true, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "usage_logs"), 2);
	/* dry run changed nothing */
	assert_int_equal(retention_run(&app, true, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "usage_logs"), 2);
	assert_int_equal(retention_run(&app, false, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "usage_logs"), 2);
	assert_int_equal(retention_run(&app, true, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "usage_logs"), 0);
	struct db_conn *c = db_get(app.db);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT COUNT(*) FROM usage", &s), 0);
	assert_int_equal(db_step(s), 1);
	assert_int_equal(db_col_int(s, 0), 2);
	db_done(s);
	db_put(c);
}

/* RET-1: the period is configuration, not code. */
static void a_shorter_period_removes_more(void **st)
{
	struct errinfo e;
	assert_int_equal(config_set(&cfg, "retention", "usage_logs", "1d", &e), 0);
	usage_at(time_now() - 2 * 86400);
	struct retention_item items[16];
	size_t n;
	assert_int_equal(retention_run(&app, false, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "usage_logs"), 2); /* the 89-day row and the 2-day row */
	assert_int_equal(config_set(&cfg, "retention", "usage_logs", "90d", &e), 0);
}

/* Mail kept past its period goes with the key that sealed it. */
static void old_mail_and_its_key_go(void **st)
{
	struct db_conn *c = db_get(app.db);
	char sql[512];
	int64_t old = time_now() - 30 * 86400;
	snprintf(sql, sizeof sql,
		 "INSERT INTO mail_outbox(id, kind, rcpt, subject, body, created_at, next_attempt) "
		 "VALUES ('m1', 'verify', x'00', x'00', x'00', %lld, 0);"
		 "INSERT INTO owner_keys(owner, wrapped, created_at) VALUES ('mail:m1', x'00', 0);"
		 "INSERT INTO owner_keys(owner, wrapped, created_at) VALUES ('mail:m2', x'00', 0);",
		 (long long)old);
	assert_int_equal(db_exec(c, sql), ERR_OK);
	db_put(c);
	struct retention_item items[16];
	size_t n;
	assert_int_equal(retention_run(&app, false, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "mail_outbox"), 1);
	c = db_get(app.db);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT group_concat(owner) FROM owner_keys WHERE owner LIKE 'mail:%'", &s), 0);
	assert_int_equal(db_step(s), 1);
	assert_string_equal(db_col_text(s, 0), "mail:m2");
	db_done(s);
	db_put(c);
}

/* REQ: PAY-4 — billing records are kept for the configured period, then go. */
static void billing_records_kept_for_their_period(void **st)
{
	struct db_conn *c = db_get(app.db);
	char sql[512];
	int64_t now = time_now();
	snprintf(sql, sizeof sql,
		 "INSERT INTO receipts(id, owner, charge_code, credits, amount_cents, currency, issued_at) VALUES "
		 "('r-old', 'u', 'C-old', 1, 1, 'USD', %lld), ('r-new', 'u', 'C-new', 1, 1, 'USD', %lld)",
		 (long long)(now - 8LL * 365 * 86400), (long long)(now - 6LL * 365 * 86400));
	assert_int_equal(db_exec(c, sql), ERR_OK);
	db_put(c);
	struct retention_item items[16];
	size_t n;
	assert_int_equal(retention_run(&app, false, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "billing"), 1);
	c = db_get(app.db);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT group_concat(id) FROM receipts", &s), 0);
	assert_int_equal(db_step(s), 1);
	assert_string_equal(db_col_text(s, 0), "r-new");
	db_done(s);
	db_put(c);
}

/* RET-1: sign-in sessions and expired mailed links go after [retention] sessions. */
static void old_sessions_go(void **st)
{
	struct db_conn *c = db_get(app.db);
	char sql[1024];
	int64_t now = time_now(), old = now - 40 * 86400;
	snprintf(sql, sizeof sql,
		 "INSERT INTO users(id, username, email_bidx, email_sealed, password_hash, role, age_group, created_at, password_changed_at) "
		 "VALUES ('u-ret', 'ret', 'b', x'00', 'h', 'user', 'adult', 0, 0);"
		 "INSERT INTO sessions(id, token_hash, user_id, csrf, created_at, last_seen, expires_at, browser, os, network) VALUES "
		 "('s-old', 't1', 'u-ret', 'c', %lld, %lld, %lld, 'b', 'o', 'n'), ('s-new', 't2', 'u-ret', 'c', %lld, %lld, %lld, 'b', 'o', 'n');"
		 "INSERT INTO auth_tokens(hash, kind, user_id, created_at, expires_at) VALUES ('h-old', 'verify', 'u-ret', %lld, %lld);",
		 (long long)old, (long long)old, (long long)old, (long long)now, (long long)now, (long long)(now + 86400),
		 (long long)old, (long long)(old + 3600));
	int rc = db_exec(c, sql);
	db_put(c);
	assert_int_equal(rc, ERR_OK); /* if the users table changes shape, follow it here */
	struct retention_item items[16];
	size_t n;
	assert_int_equal(retention_run(&app, false, items, 16, &n), ERR_OK);
	assert_int_equal(rows_of(items, n, "sessions"), 1);
	c = db_get(app.db);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT (SELECT group_concat(id) FROM sessions), (SELECT COUNT(*) FROM auth_tokens)", &s), 0);
	assert_int_equal(db_step(s), 1);
	assert_string_equal(db_col_text(s, 0), "s-new");
	assert_int_equal(db_col_int(s, 1), 0);
	db_done(s);
	db_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(usage_logs_expire_after_their_period),
		cmocka_unit_test(a_shorter_period_removes_more),
		cmocka_unit_test(old_mail_and_its_key_go),
		cmocka_unit_test(billing_records_kept_for_their_period),
		cmocka_unit_test(old_sessions_go),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
