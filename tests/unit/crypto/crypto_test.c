/* crypto_test.c: tokens, hashes, blind index, envelope, signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"

static struct crypto_keys *keys;
static char keyfile[64];

static int setup(void **st)
{
	assert_int_equal(crypto_init(), ERR_OK);
	snprintf(keyfile, sizeof keyfile, "/tmp/atelier-mk-%d", (int)getpid());
	unlink(keyfile);
	struct errinfo e;
	assert_int_equal(crypto_keys_load(&keys, keyfile, &e), ERR_OK);
	return 0;
}

static int teardown(void **st)
{
	crypto_keys_free(keys);
	unlink(keyfile);
	return 0;
}

static void master_key_file(void **st)
{
	struct stat s;
	assert_int_equal(stat(keyfile, &s), 0);
	assert_int_equal(s.st_mode & 0777, 0600);
	assert_int_equal(s.st_size, 32);
	/* loading again gives the same derived keys */
	struct crypto_keys *k2;
	struct errinfo e;
	assert_int_equal(crypto_keys_load(&k2, keyfile, &e), ERR_OK);
	char a[CRYPTO_HASH_HEX], b[CRYPTO_HASH_HEX];
	crypto_blind_index(keys, a, "x@example.com", 13);
	crypto_blind_index(k2, b, "x@example.com", 13);
	assert_string_equal(a, b);
	crypto_keys_free(k2);
	/* a readable key file is refused */
	chmod(keyfile, 0644);
	assert_int_equal(crypto_keys_load(&k2, keyfile, &e), ERR_FORBIDDEN);
	chmod(keyfile, 0600);
	/* a short key file is refused */
	char bad[80];
	snprintf(bad, sizeof bad, "%s-short", keyfile);
	FILE *f = fopen(bad, "w");
	fputs("short", f);
	fclose(f);
	chmod(bad, 0600);
	assert_int_equal(crypto_keys_load(&k2, bad, &e), ERR_CORRUPT);
	unlink(bad);
}

static void tokens_are_random_and_prefixed(void **st)
{
	char a[64], b[64];
	crypto_token(a, sizeof a, "sk-");
	crypto_token(b, sizeof b, "sk-");
	assert_int_equal(strncmp(a, "sk-", 3), 0);
	assert_int_equal(strlen(a), 3 + 43);
	assert_string_not_equal(a, b);
	char h[CRYPTO_HASH_HEX];
	crypto_sha256_hex(h, "abc", 3);
	/* FIPS 180-2 test vector */
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void blind_index_is_keyed(void **st)
{
	char a[CRYPTO_HASH_HEX], plain[CRYPTO_HASH_HEX];
	crypto_blind_index(keys, a, "x@example.com", 13);
	crypto_sha256_hex(plain, "x@example.com", 13);
	assert_string_not_equal(a, plain);
	assert_int_equal(strlen(a), 64);
}

static void owner_keys_wrap_and_bind(void **st)
{
	unsigned char key[32], wrapped[CRYPTO_WRAPPED_BYTES], back[32];
	assert_int_equal(crypto_owner_key_new(keys, "user-1", key, wrapped), ERR_OK);
	assert_int_equal(crypto_owner_key_unwrap(keys, "user-1", wrapped, sizeof wrapped, back), ERR_OK);
	assert_memory_equal(key, back, 32);
	/* bound to its owner */
	assert_int_equal(crypto_owner_key_unwrap(keys, "user-2", wrapped, sizeof wrapped, back), ERR_CRYPTO);
	wrapped[30] ^= 1;
	assert_int_equal(crypto_owner_key_unwrap(keys, "user-1", wrapped, sizeof wrapped, back), ERR_CRYPTO);
	assert_int_equal(crypto_owner_key_unwrap(keys, "user-1", wrapped, 10, back), ERR_CRYPTO);
}

static void seal_open(void **st)
{
	unsigned char key[32];
	crypto_random(key, sizeof key);
	const char *msg = "a secret prompt";
	unsigned char ct[128], pt[128];
	size_t cl, pl;
	assert_int_equal(crypto_seal(key, "aad", msg, strlen(msg), ct, &cl), ERR_OK);
	assert_int_equal(cl, strlen(msg) + CRYPTO_SEAL_OVERHEAD);
	assert_null(memmem(ct, cl, "secret", 6));
	assert_int_equal(crypto_open(key, "aad", ct, cl, pt, &pl), ERR_OK);
	assert_int_equal(pl, strlen(msg));
	assert_memory_equal(pt, msg, pl);
	assert_int_equal(crypto_open(key, "other", ct, cl, pt, &pl), ERR_CRYPTO);
	ct[cl - 1] ^= 0x80;
	assert_int_equal(crypto_open(key, "aad", ct, cl, pt, &pl), ERR_CRYPTO);
	assert_int_equal(crypto_open(key, "aad", ct, 5, pt, &pl), ERR_CRYPTO);
}

static void signatures(void **st)
{
	unsigned char sig[64];
	crypto_sign_msg(keys, sig, "receipt", 7);
	assert_true(crypto_verify_msg(keys->sign_pk, sig, "receipt", 7));
	assert_false(crypto_verify_msg(keys->sign_pk, sig, "receipT", 7));
	sig[0] ^= 1;
	assert_false(crypto_verify_msg(keys->sign_pk, sig, "receipt", 7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(master_key_file),
		cmocka_unit_test(tokens_are_random_and_prefixed),
		cmocka_unit_test(blind_index_is_keyed),
		cmocka_unit_test(owner_keys_wrap_and_bind),
		cmocka_unit_test(seal_open),
		cmocka_unit_test(signatures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
