/*
 * vault.c: per-owner envelope encryption on top of crypto.h and the
 * owner_keys table. The associated data is "owner\x1fpurpose" so a
 * ciphertext only opens for the owner and field it was sealed for.
 */
#include "service/vault.h"

#include <stdio.h>
#include <string.h>

#include "store/store.h"

static int owner_key(struct db_conn *c, const struct crypto_keys *k, const char *owner, int create,
		     unsigned char key[CRYPTO_KEY_BYTES])
{
	unsigned char wrapped[CRYPTO_WRAPPED_BYTES];
	size_t wlen;
	int rc = store_owner_key_get(c, owner, wrapped, sizeof wrapped, &wlen);
	if (rc == ERR_OK)
		return crypto_owner_key_unwrap(k, owner, wrapped, wlen, key);
	if (rc != ERR_NOTFOUND || !create)
		return rc;
	if ((rc = crypto_owner_key_new(k, owner, key, wrapped)))
		return rc;
	rc = store_owner_key_put(c, owner, wrapped, sizeof wrapped);
	if (rc == ERR_EXISTS) /* another thread made it first: use theirs */
		return owner_key(c, k, owner, 0, key);
	return rc;
}

static int make_aad(char *aad, size_t n, const char *owner, const char *purpose)
{
	int w = snprintf(aad, n, "%s\x1f%s", owner, purpose);
	return w < 0 || (size_t)w >= n ? ERR_INVALID : ERR_OK;
}

int vault_seal(struct db_conn *c, const struct crypto_keys *k, const char *owner,
	       const char *purpose, const void *pt, size_t n, struct buf *out)
{
	char aad[256];
	unsigned char key[CRYPTO_KEY_BYTES];
	int rc = make_aad(aad, sizeof aad, owner, purpose);
	if (rc || (rc = owner_key(c, k, owner, 1, key)))
		return rc;
	char *dst;
	size_t start = out->len;
	if ((rc = buf_extend(out, n + CRYPTO_SEAL_OVERHEAD, &dst)) == ERR_OK) {
		size_t got;
		crypto_seal(key, aad, pt, n, (unsigned char *)dst, &got);
		out->len = start + got;
	}
	crypto_wipe(key, sizeof key);
	return rc;
}

int vault_open(struct db_conn *c, const struct crypto_keys *k, const char *owner,
	       const char *purpose, const void *ct, size_t n, struct buf *out)
{
	char aad[256];
	unsigned char key[CRYPTO_KEY_BYTES];
	if (n < CRYPTO_SEAL_OVERHEAD)
		return ERR_CRYPTO;
	int rc = make_aad(aad, sizeof aad, owner, purpose);
	if (rc || (rc = owner_key(c, k, owner, 0, key)))
		return rc;
	char *dst;
	size_t start = out->len, need = n - CRYPTO_SEAL_OVERHEAD;
	if ((rc = buf_extend(out, need, &dst)) == ERR_OK) {
		size_t got;
		rc = crypto_open(key, aad, ct, n, (unsigned char *)dst, &got);
		if (rc) {
			crypto_wipe(dst, need);
			got = 0;
		}
		out->len = start + got;
		out->data[out->len] = '\0';
	}
	crypto_wipe(key, sizeof key);
	return rc;
}

int vault_destroy(struct db_conn *c, const char *owner, int *destroyed)
{
	int64_t n = 0;
	int rc = store_owner_key_delete(c, owner, &n);
	if (destroyed)
		*destroyed = n > 0;
	return rc;
}
