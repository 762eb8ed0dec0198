/* password_test.c: the password policy and Argon2id hashing of
 * service/password.c. REQ: ACC-2 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "service/password.h"

/* Small Argon2id limits so the suite runs fast; the production defaults
 * are checked separately (defaults_are_owasp). */
static int setup(void **state)
{
	assert_int_equal(crypto_init(), ERR_OK);
	struct config cfg;
	config_defaults(&cfg);
	cfg.auth.argon2_memlimit = 64 * 1024;
	cfg.auth.argon2_opslimit = 1;
	struct errinfo e = {0};
	assert_int_equal(password_init(&cfg, &e), ERR_OK);
	return 0;
}

static void defaults_are_owasp(void **state)
{
	struct config cfg;
	config_defaults(&cfg);
	/* OWASP Argon2id minimum: m = 19 MiB, t = 2, p = 1 */
	assert_int_equal(cfg.auth.argon2_memlimit, 19 * 1024 * 1024);
	assert_int_equal(cfg.auth.argon2_opslimit, 2);
	assert_true(cfg.auth.hash_concurrency >= 1);
}

static void blocklist_is_the_real_list(void **state)
{
	/* cracklib-small has some 54k entries; the fallback has a few dozen */
	assert_true(password_blocklist_size() > 50000);
	assert_true(password_is_common("password", 8));
	assert_true(password_is_common("PaSsWoRd", 8));
	assert_true(password_is_common("sunshine", 8));
	assert_false(password_is_common("violet-kettle-staircase", 23));
	/* an embedded NUL never matches a list entry */
	assert_false(password_is_common("pass\0word", 9));
}

static void policy(void **state)
{
	struct errinfo e = {0};
	assert_int_equal(password_check("short7!", 7, NULL, NULL, &e), ERR_UNSUPPORTED);
	assert_string_equal(e.field, "password");
	assert_non_null(strstr(e.msg, "at least 8"));
	/* characters, not bytes: 8 two-byte characters pass, 7 do not */
	assert_int_equal(password_check("ééééééé", strlen("ééééééé"), NULL, NULL, &e), ERR_UNSUPPORTED);
	assert_int_equal(password_check("éééééééé", strlen("éééééééé"), NULL, NULL, &e), ERR_OK);
	assert_int_equal(password_check("password", 8, NULL, NULL, &e), ERR_UNSUPPORTED);
	assert_non_null(strstr(e.msg, "common"));
	assert_int_equal(password_check("Alice_1990", 10, "alice_1990", NULL, &e), ERR_UNSUPPORTED);
	assert_int_equal(password_check("ME@EXAMPLE.ORG", 14, NULL, "me@example.org", &e), ERR_UNSUPPORTED);
	char big[PASSWORD_MAX_BYTES + 2];
	memset(big, 'k', sizeof big);
	assert_int_equal(password_check(big, PASSWORD_MAX_BYTES, NULL, NULL, &e), ERR_OK);
	assert_int_equal(password_check(big, PASSWORD_MAX_BYTES + 1, NULL, NULL, &e), ERR_UNSUPPORTED);
	assert_int_equal(password_check("violet-kettle", 13, "alice", "a@b.org", &e), ERR_OK);
}

static void hash_and_verify_exact_bytes(void **state)
{
	char h[PASSWORD_HASH_MAX];
	char pw[200];
	memset(pw, 'a', sizeof pw);
	assert_int_equal(password_hash(pw, sizeof pw, h, NULL), ERR_OK);
	assert_memory_equal(h, "$argon2id$", 10);
	int rehash = 9;
	assert_int_equal(password_verify(h, pw, sizeof pw, &rehash), ERR_OK);
	assert_int_equal(rehash, 0);
	/* no truncation: the 200th byte counts, and so does a missing one */
	pw[199] = 'b';
	assert_int_equal(password_verify(h, pw, sizeof pw, &rehash), ERR_AUTH);
	pw[199] = 'a';
	assert_int_equal(password_verify(h, pw, sizeof pw - 1, &rehash), ERR_AUTH);
	/* embedded NUL bytes are part of the password */
	char z[] = "abc\0defgh";
	assert_int_equal(password_hash(z, 9, h, NULL), ERR_OK);
	assert_int_equal(password_verify(h, z, 9, &rehash), ERR_OK);
	assert_int_equal(password_verify(h, z, 3, &rehash), ERR_AUTH);
	/* two hashes of one password differ (random salt) */
	char h2[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash(z, 9, h2, NULL), ERR_OK);
	assert_string_not_equal(h, h2);
}

static void dummy_hash_always_fails(void **state)
{
	int rehash;
	assert_int_equal(password_verify(NULL, "anything-at-all", 15, &rehash), ERR_AUTH);
}

static void rehash_when_parameters_change(void **state)
{
	char h[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash("violet-kettle", 13, h, NULL), ERR_OK);
	struct config cfg;
	config_defaults(&cfg);
	cfg.auth.argon2_memlimit = 128 * 1024;
	cfg.auth.argon2_opslimit = 2;
	assert_int_equal(password_init(&cfg, NULL), ERR_OK);
	int rehash = 0;
	assert_int_equal(password_verify(h, "violet-kettle", 13, &rehash), ERR_OK);
	assert_int_equal(rehash, 1);
	assert_int_equal(password_hash("violet-kettle", 13, h, NULL), ERR_OK);
	assert_int_equal(password_verify(h, "violet-kettle", 13, &rehash), ERR_OK);
	assert_int_equal(rehash, 0);
	setup(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_owasp),
		cmocka_unit_test(blocklist_is_the_real_list),
		cmocka_unit_test(policy),
		cmocka_unit_test(hash_and_verify_exact_bytes),
		cmocka_unit_test(dummy_hash_always_fails),
		cmocka_unit_test(rehash_when_parameters_change),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
