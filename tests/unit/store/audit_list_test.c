/* audit_list_test.c: store_audit_about, the audit rows a user reads about
 * themselves (SEC-5): only rows about them made by someone else, newest
 * first, with that someone's role and nothing that names them. */
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

struct seen {
	int n;
	char event[8][48], role[8][16];
	int64_t at[8];
	int leaked; /* an actor or address handed to the caller */
};

static void row(const struct store_audit_row *r, const char *role, void *arg)
{
	struct seen *s = arg;
	assert_true(s->n < 8);
	snprintf(s->event[s->n], sizeof s->event[0], "%s", r->event);
	snprintf(s->role[s->n], sizeof s->role[0], "%s", role ? role : "(none)");
	s->at[s->n] = r->at;
	s->leaked += r->actor != NULL || r->ip != NULL;
	s->n++;
}

static void user(struct db_conn *c, const char *id, const char *role)
{
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT INTO users(id, username, email_bidx, email_sealed, password_hash, role, age_group, created_at, password_changed_at)"
		 " VALUES ('%s', '%s', 'bidx-%s', x'00', 'h', '%s', 'adult', 1, 1)",
		 id, id, id, role);
	assert_int_equal(db_exec(c, sql), ERR_OK);
}

/* REQ: SEC-5 */
static void only_others_actions_about_me(void **st)
{
	struct db_conn *c = db_get(db);
	user(c, "u_me", "user");
	user(c, "u_other", "user");
	user(c, "u_sup", "support");
	user(c, "u_adm", "admin");
	/* mine, by me: not staff access */
	assert_int_equal(store_audit_add(c, "u_me", "u_me", "auth.login", NULL, "10.0.0.1"), ERR_OK);
	/* by staff, about me */
	assert_int_equal(store_audit_add(c, "u_sup", "u_me", "privacy.request_logged", NULL, NULL), ERR_OK);
	assert_int_equal(store_audit_add(c, "u_adm", "u_me", "credits.granted", "{\"reason\":\"goodwill\"}", "10.0.0.9"), ERR_OK);
	/* by staff, about someone else; by nobody (the system), about me */
	assert_int_equal(store_audit_add(c, "u_adm", "u_other", "admin.role_changed", NULL, NULL), ERR_OK);
	assert_int_equal(store_audit_add(c, NULL, "u_me", "retention.swept", NULL, NULL), ERR_OK);
	/* by a staff member whose account is gone since */
	assert_int_equal(store_audit_add(c, "u_gone", "u_me", "admin.audit_viewed", NULL, NULL), ERR_OK);

	struct seen s = {0};
	assert_int_equal(store_audit_about(c, "u_me", 10, row, &s), ERR_OK);
	assert_int_equal(s.n, 3);
	/* newest first: same second, so by insertion order */
	assert_string_equal(s.event[0], "admin.audit_viewed");
	assert_string_equal(s.role[0], "(none)");
	assert_string_equal(s.event[1], "credits.granted");
	assert_string_equal(s.role[1], "admin");
	assert_string_equal(s.event[2], "privacy.request_logged");
	assert_string_equal(s.role[2], "support");
	assert_int_equal(s.leaked, 0);

	/* the limit holds; a user with no staff access gets nothing */
	memset(&s, 0, sizeof s);
	assert_int_equal(store_audit_about(c, "u_me", 1, row, &s), ERR_OK);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_audit_about(c, "u_sup", 10, row, &s), ERR_OK);
	assert_int_equal(s.n, 0);
	db_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_others_actions_about_me),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
