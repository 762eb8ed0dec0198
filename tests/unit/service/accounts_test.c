/* accounts_test.c: the pure validation of service/accounts.c: emails,
 * usernames and ages. REQ: ACC-1, REQ: AGE-1, REQ: AGE-2 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "service/accounts.h"

static void emails(void **state)
{
	char out[256];
	struct errinfo e = {0};
	assert_int_equal(acct_email_normalize("  Alice.B+tag@Example.ORG \t", out, sizeof out, &e), ERR_OK);
	assert_string_equal(out, "alice.b+tag@example.org");
	const char *bad[] = {NULL, "", "a@b", "alice", "alice@", "@example.org", "a@@example.org",
			     "a@b@example.org", "al ice@example.org", "alice@example..org",
			     "alice@.example.org", "alice@example.org.", "alice@localhost",
			     "a\r\nBcc: x@y.org@example.org", "ä@example.org", "<a@example.org>",
			     "a,b@example.org"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&e);
		assert_int_equal(acct_email_normalize(bad[i], out, sizeof out, &e), ERR_INVALID);
		assert_string_equal(e.field, "email");
	}
	char local[80];
	memset(local, 'a', 65);
	strcpy(local + 65, "@example.org");
	assert_int_equal(acct_email_normalize(local, out, sizeof out, &e), ERR_INVALID);
}

static void usernames(void **state)
{
	char out[40];
	struct errinfo e = {0};
	assert_int_equal(acct_username_normalize("Ada_Lovelace-1.0", out, sizeof out, &e), ERR_OK);
	assert_string_equal(out, "ada_lovelace-1.0");
	assert_int_equal(acct_username_normalize("abc", out, sizeof out, &e), ERR_OK);
	assert_int_equal(acct_username_normalize("ab", out, sizeof out, &e), ERR_INVALID);
	char l[40];
	memset(l, 'x', 33);
	l[33] = 0;
	assert_int_equal(acct_username_normalize(l, out, sizeof out, &e), ERR_INVALID);
	l[32] = 0;
	assert_int_equal(acct_username_normalize(l, out, sizeof out, &e), ERR_OK);
	const char *bad[] = {"has space", "émile", "a/b", "a@b", "semi;colon", "tab\there", NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(acct_username_normalize(bad[i], out, sizeof out, &e), ERR_INVALID);
}

static void ages(void **state)
{
	int age;
	struct errinfo e = {0};
	/* on 2026-11-23 */
	assert_int_equal(acct_age("2013-11-23", 2026, 11, 23, &age, &e), ERR_OK);
	assert_int_equal(age, 13); /* the 13th birthday itself */
	assert_int_equal(acct_age("2013-11-24", 2026, 11, 23, &age, &e), ERR_OK);
	assert_int_equal(age, 12); /* one day short */
	assert_int_equal(acct_age("2008-11-23", 2026, 11, 23, &age, &e), ERR_OK);
	assert_int_equal(age, 18);
	assert_int_equal(acct_age("2008-12-01", 2026, 11, 23, &age, &e), ERR_OK);
	assert_int_equal(age, 17);
	/* born on 29 February: 13 on 1 March of a common year */
	assert_int_equal(acct_age("2012-02-29", 2025, 2, 28, &age, &e), ERR_OK);
	assert_int_equal(age, 12);
	assert_int_equal(acct_age("2012-02-29", 2025, 3, 1, &age, &e), ERR_OK);
	assert_int_equal(age, 13);
	const char *bad[] = {"2013-02-29", "2013-13-01", "2013-00-10", "2013-01-32", "1899-12-31",
			     "13-01-2013", "2013/01/01", "2013-1-1", "20130101", "", NULL, "2013-01-0a"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(acct_age(bad[i], 2026, 11, 23, &age, &e), ERR_INVALID);
		assert_string_equal(e.field, "birth_date");
	}
	assert_int_equal(acct_age("2026-11-24", 2026, 11, 23, &age, &e), ERR_INVALID); /* future */
}

static void roles_and_fields(void **state)
{
	assert_int_equal(acct_role_parse("admin"), ACCT_ROLE_ADMIN);
	assert_int_equal(acct_role_parse("support"), ACCT_ROLE_SUPPORT);
	assert_int_equal(acct_role_parse("user"), ACCT_ROLE_USER);
	assert_int_equal(acct_role_parse("Admin"), ACCT_ROLE_NONE);
	assert_int_equal(acct_role_parse("none"), ACCT_ROLE_NONE);
	assert_int_equal(acct_role_parse(NULL), ACCT_ROLE_NONE);
	for (int r = ACCT_ROLE_USER; r < ACCT_ROLE__MAX; r++)
		assert_int_equal(acct_role_parse(acct_role_name((enum acct_role)r)), r);
	/* PATCH /api/me takes exactly these */
	assert_int_equal(acct_field_parse("billing_address"), ACCT_F_BILLING_ADDRESS);
	assert_int_equal(acct_field_parse("role"), ACCT_F__MAX);
	assert_int_equal(acct_field_parse("email"), ACCT_F__MAX);
	for (int f = 0; f < ACCT_F__MAX; f++)
		assert_int_equal(acct_field_parse(acct_field_name((enum acct_field)f)), f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emails),
		cmocka_unit_test(usernames),
		cmocka_unit_test(ages),
		cmocka_unit_test(roles_and_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
