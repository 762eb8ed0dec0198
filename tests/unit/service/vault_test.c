/* vault_test.c: per-owner sealing and crypto-erasure (SEC-3, PRIV-4). */
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
#include "service/vault.h"
#include "store/db.h"

static struct crypto_keys *keys;
static struct db *db;
static char dir[64];

static int setup(void **st)
{
	assert_int_equal(crypto_init(), 0);
	snprintf(dir, sizeof dir, "/tmp/atelier-vault-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char p[128];
	struct errinfo e;
	snprintf(p, sizeof p, "%s/master.key", dir);
	assert_int_equal(crypto_keys_load(&keys, p, &e), ERR_OK);
	snprintf(p, sizeof p, "%s/a.db", dir);
	struct db_options o = {.backend = "sqlite", .path = p, .pool = 2, .busy_timeout_ms = 1000};
	assert_int_equal(db_open(&db, &o, &e), ERR_OK);
	return 0;
}

static int teardown(void **st)
{
	db_close(db);
	crypto_keys_free(keys);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* REQ: SEC-3 — content is sealed per owner and only opens for that owner. */
static void seal_and_open_per_owner(void **st)
{
	struct db_conn *c = db_get(db);
	struct buf ct, pt;
	buf_init(&ct, 0);
	buf_init(&pt, 0);
	const char *secret = "MARKER-prompt-text";
	assert_int_equal(vault_seal(c, keys, "alice", "prompt", secret, strlen(secret), &ct), ERR_OK);
	assert_null(memmem(ct.data, ct.len, "MARKER", 6));
	assert_int_equal(vault_open(c, keys, "alice", "prompt", ct.data, ct.len, &pt), ERR_OK);
	assert_string_equal(pt.data, secret);
	buf_reset(&pt);
	/* another field or owner cannot open it */
	assert_int_equal(vault_open(c, keys, "alice", "name", ct.data, ct.len, &pt), ERR_CRYPTO);
	assert_int_equal(vault_open(c, keys, "bob", "prompt", ct.data, ct.len, &pt), ERR_NOTFOUND);
	struct buf bob;
	buf_init(&bob, 0);
	assert_int_equal(vault_seal(c, keys, "bob", "x", "y", 1, &bob), ERR_OK);
	assert_int_equal(vault_open(c, keys, "bob", "prompt", ct.data, ct.len, &pt), ERR_CRYPTO);
	buf_free(&bob);
	buf_free(&ct);
	buf_free(&pt);
	db_put(c);
}

/* REQ: PRIV-4 — destroying the owner's key makes every earlier copy unreadable. */
static void destroy_makes_copies_unreadable(void **st)
{
	struct db_conn *c = db_get(db);
	struct buf ct, pt;
	buf_init(&ct, 0);
	buf_init(&pt, 0);
	assert_int_equal(vault_seal(c, keys, "carol", "image", "pixels", 6, &ct), ERR_OK);
	char *copy = malloc(ct.len); /* a "backup" taken before erasure */
	memcpy(copy, ct.data, ct.len);
	int destroyed = 0;
	assert_int_equal(vault_destroy(c, "carol", &destroyed), ERR_OK);
	assert_int_equal(destroyed, 1);
	assert_int_equal(vault_open(c, keys, "carol", "image", copy, ct.len, &pt), ERR_NOTFOUND);
	assert_int_equal(vault_destroy(c, "carol", &destroyed), ERR_OK);
	assert_int_equal(destroyed, 0);
	/* a new key for the same ID cannot open the old copy either */
	struct buf again;
	buf_init(&again, 0);
	assert_int_equal(vault_seal(c, keys, "carol", "image", "new", 3, &again), ERR_OK);
	assert_int_equal(vault_open(c, keys, "carol", "image", copy, ct.len, &pt), ERR_CRYPTO);
	free(copy);
	buf_free(&again);
	buf_free(&ct);
	buf_free(&pt);
	db_put(c);
}

/* A seal inside a rolled-back transaction leaves no key behind. */
static void seal_rolls_back(void **st)
{
	struct db_conn *c = db_get(db);
	struct buf ct;
	buf_init(&ct, 0);
	assert_int_equal(db_begin(c), ERR_OK);
	assert_int_equal(vault_seal(c, keys, "dave", "x", "y", 1, &ct), ERR_OK);
	db_rollback(c);
	int destroyed = 1;
	assert_int_equal(vault_destroy(c, "dave", &destroyed), ERR_OK);
	assert_int_equal(destroyed, 0);
	buf_free(&ct);
	db_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_and_open_per_owner),
		cmocka_unit_test(destroy_makes_copies_unreadable),
		cmocka_unit_test(seal_rolls_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
