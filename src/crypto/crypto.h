/*
 * crypto.h: random tokens, hashes, keyed hashes, and envelope encryption.
 *
 * Built on libsodium. The master key is 32 random bytes in a file outside the
 * database (mode 0600); every other key is derived from it or wrapped by it:
 *
 *   master ──kdf("blindidx")──▶ blind-index key: keyed BLAKE2b of emails and
 *          │                     end-user IDs, so they can be looked up without
 *          │                     being stored readable
 *          ├─kdf("wrapkey ")──▶ key-encryption key: wraps each owner's data key
 *          └─kdf("signseed")──▶ Ed25519 seed: signs deletion receipts
 *
 * Each owner (a user, or an API customer's end user) has a random 256-bit data
 * key. Content is sealed under it with XChaCha20-Poly1305; the owner's ID is
 * the associated data, so a ciphertext moved to another owner fails to open.
 * Destroying the wrapped data key makes every copy of that owner's content,
 * in backups and replicas too, unreadable (crypto-erasure).
 */
#ifndef ATELIER_CRYPTO_CRYPTO_H
#define ATELIER_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CRYPTO_KEY_BYTES 32
#define CRYPTO_HASH_HEX 65          /* 64 hex digits and a NUL */
#define CRYPTO_TOKEN_CHARS 44       /* 32 bytes in base64url without padding, and a NUL */
#define CRYPTO_WRAPPED_BYTES (24 + 32 + 16) /* nonce, key, tag */
#define CRYPTO_SEAL_OVERHEAD (1 + 24 + 16)  /* version byte, nonce, tag */

struct crypto_keys {
	unsigned char master[CRYPTO_KEY_BYTES];
	unsigned char blind[CRYPTO_KEY_BYTES];
	unsigned char wrap[CRYPTO_KEY_BYTES];
	unsigned char sign_pk[32];
	unsigned char sign_sk[64];
};

/* Initialise libsodium. Call once at start. */
int crypto_init(void);

/* Read the master key file, or create it (0600, 32 random bytes) when absent;
 * then derive the other keys. Refuses a file readable by group or others.
 * Keys live in locked memory. Free with crypto_keys_free. */
int crypto_keys_load(struct crypto_keys **out, const char *path, struct errinfo *e);

/* Wipe and free. Accepts NULL. */
void crypto_keys_free(struct crypto_keys *k);

/* n random bytes. */
void crypto_random(void *p, size_t n);

/* A new random 256-bit token as base64url text, with an optional prefix
 * ("sk-"). out must hold strlen(prefix) + CRYPTO_TOKEN_CHARS bytes. */
void crypto_token(char *out, size_t n, const char *prefix);

/* Hex SHA-256 of data: how tokens are stored (a 256-bit random token needs
 * no salt or slow hash). out holds CRYPTO_HASH_HEX bytes. */
void crypto_sha256_hex(char out[CRYPTO_HASH_HEX], const void *data, size_t n);

/* Keyed hash (blind index) of data under the blind-index key, as hex.
 * Same input, same output; without the master key, no way back. */
void crypto_blind_index(const struct crypto_keys *k, char out[CRYPTO_HASH_HEX], const void *data,
			size_t n);

/* Constant-time comparison of two equal-length buffers: 1 if equal. */
int crypto_equal(const void *a, const void *b, size_t n);

/* A new random data key for owner, and its wrapped form for storage. The
 * owner ID is bound into the wrapping, so a wrapped key only opens for it. */
int crypto_owner_key_new(const struct crypto_keys *k, const char *owner,
			 unsigned char key[CRYPTO_KEY_BYTES],
			 unsigned char wrapped[CRYPTO_WRAPPED_BYTES]);

/* Unwrap a stored owner key. ERR_CRYPTO if it was tampered with or belongs
 * to another owner. */
int crypto_owner_key_unwrap(const struct crypto_keys *k, const char *owner,
			    const unsigned char *wrapped, size_t wlen,
			    unsigned char key[CRYPTO_KEY_BYTES]);

/* Seal plaintext under key with aad; out must hold n + CRYPTO_SEAL_OVERHEAD
 * bytes. Returns the sealed length through outlen. */
int crypto_seal(const unsigned char key[CRYPTO_KEY_BYTES], const char *aad, const void *pt,
		size_t n, unsigned char *out, size_t *outlen);

/* Open what crypto_seal made; out must hold n - CRYPTO_SEAL_OVERHEAD bytes.
 * ERR_CRYPTO when the tag fails (tampered, wrong key, wrong aad). */
int crypto_open(const unsigned char key[CRYPTO_KEY_BYTES], const char *aad,
		const unsigned char *ct, size_t n, unsigned char *out, size_t *outlen);

/* Ed25519 detached signature of msg with the server's signing key (64 bytes). */
void crypto_sign_msg(const struct crypto_keys *k, unsigned char sig[64], const void *msg, size_t n);

/* 1 if sig is valid for msg under public key pk. */
int crypto_verify_msg(const unsigned char pk[32], const unsigned char sig[64], const void *msg,
		  size_t n);

/* Overwrite n bytes with zeros in a way the compiler keeps. */
void crypto_wipe(void *p, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void crypto_hex(char *out, const void *p, size_t n);

#endif
