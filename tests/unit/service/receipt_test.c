/* receipt_test.c: signed receipts (PRIV-5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "service/receipt.h"

static struct crypto_keys *k1, *k2;

static int setup(void **st)
{
	assert_int_equal(crypto_init(), 0);
	char p[64];
	struct errinfo e;
	snprintf(p, sizeof p, "/tmp/atelier-rk1-%d", (int)getpid());
	unlink(p);
	assert_int_equal(crypto_keys_load(&k1, p, &e), 0);
	unlink(p);
	snprintf(p, sizeof p, "/tmp/atelier-rk2-%d", (int)getpid());
	unlink(p);
	assert_int_equal(crypto_keys_load(&k2, p, &e), 0);
	unlink(p);
	return 0;
}

static int teardown(void **st)
{
	crypto_keys_free(k1);
	crypto_keys_free(k2);
	return 0;
}

/* REQ: PRIV-5 — a deletion receipt is signed and any change breaks it. */
static void sign_and_verify(void **st)
{
	json_t *doc = json_pack("{s:s, s:s, s:{s:i, s:i}}", "type", "account_erasure", "receipt_id", "r1",
				"removed", "images", 3, "usage_rows", 10);
	assert_int_equal(receipt_sign(k1, doc), 0);
	assert_int_equal(receipt_verify(doc, NULL), 0);
	assert_int_equal(receipt_verify(doc, k1->sign_pk), 0);
	/* another server's key is refused when the server's key is given */
	assert_int_equal(receipt_verify(doc, k2->sign_pk), ERR_CRYPTO);
	/* key order does not matter: re-serialised in another order still verifies */
	char *s = json_dumps(doc, JSON_COMPACT);
	json_error_t je;
	json_t *again = json_loads(s, 0, &je);
	free(s);
	assert_int_equal(receipt_verify(again, k1->sign_pk), 0);
	/* a changed count is detected */
	json_object_set_new(json_object_get(again, "removed"), "images", json_integer(0));
	assert_int_equal(receipt_verify(again, k1->sign_pk), ERR_CRYPTO);
	json_decref(again);
	/* signing twice is refused; unsigned documents are not receipts */
	assert_int_equal(receipt_sign(k1, doc), ERR_INVALID);
	json_t *plain = json_pack("{s:s}", "a", "b");
	assert_int_equal(receipt_verify(plain, NULL), ERR_INVALID);
	json_decref(plain);
	json_decref(doc);
}

/* A receipt re-signed by someone else with their own key fails against ours. */
static void forged_with_other_key(void **st)
{
	json_t *doc = json_pack("{s:s}", "type", "account_erasure");
	assert_int_equal(receipt_sign(k2, doc), 0);
	assert_int_equal(receipt_verify(doc, NULL), 0);
	assert_int_equal(receipt_verify(doc, k1->sign_pk), ERR_CRYPTO);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign_and_verify),
		cmocka_unit_test(forged_with_other_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
