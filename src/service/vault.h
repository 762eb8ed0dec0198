/*
 * vault.h: content sealed at rest under a key per owner (SEC-3), and
 * crypto-erasure of an owner (PRIV-4).
 *
 * An owner is any string ID whose data must be erasable as one: a user ID, or
 * "eu:<customer>:<hash>" for an API customer's end user. The data key is
 * created on first seal and stored wrapped by the master key; erasing the
 * owner deletes it, after which nothing sealed for that owner, in any copy,
 * can be opened.
 */
#ifndef ATELIER_SERVICE_VAULT_H
#define ATELIER_SERVICE_VAULT_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "store/db.h"

/* Seal n bytes of plaintext for owner, appending the sealed form to out.
 * purpose is bound as associated data ("image", "prompt", "profile.name"),
 * so a sealed field cannot be swapped for another. Creates the owner's key
 * if needed, on connection c (inside the caller's transaction, if any). */
int vault_seal(struct db_conn *c, const struct crypto_keys *k, const char *owner,
	       const char *purpose, const void *pt, size_t n, struct buf *out);

/* Open what vault_seal made. ERR_NOTFOUND when the owner's key is gone
 * (erased), ERR_CRYPTO when the data was tampered with. */
int vault_open(struct db_conn *c, const struct crypto_keys *k, const char *owner,
	       const char *purpose, const void *ct, size_t n, struct buf *out);

/* Destroy owner's key. Sets *destroyed to 1 if a key existed. */
int vault_destroy(struct db_conn *c, const char *owner, int *destroyed);

#endif
