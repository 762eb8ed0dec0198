/*
 * crypto.c: libsodium behind the interface of crypto.h. No key, token or
 * plaintext is ever logged from here.
 */
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEAL_VERSION 1

int crypto_init(void)
{
	return sodium_init() < 0 ? ERR_CRYPTO : ERR_OK;
}

void crypto_random(void *p, size_t n)
{
	randombytes_buf(p, n);
}

void crypto_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

void crypto_hex(char *out, const void *p, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

static int read_full(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	unsigned char extra;
	return read(fd, &extra, 1) == 0 ? 0 : -1;
}

static int create_master(const char *path, unsigned char *key, struct errinfo *e)
{
	crypto_random(key, CRYPTO_KEY_BYTES);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, ERR_IO, "crypto.master_key_file", "crypto: cannot create %s: %s", path,
			       strerror(errno));
	ssize_t w = write(fd, key, CRYPTO_KEY_BYTES);
	int ok = w == CRYPTO_KEY_BYTES && fsync(fd) == 0;
	close(fd);
	if (!ok)
		return err_set(e, ERR_IO, "crypto.master_key_file", "crypto: cannot write %s", path);
	return ERR_OK;
}

int crypto_keys_load(struct crypto_keys **out, const char *path, struct errinfo *e)
{
	*out = NULL;
	struct crypto_keys *k = sodium_malloc(sizeof *k);
	if (!k)
		return ERR_NOMEM;
	int rc = ERR_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		rc = create_master(path, k->master, e);
	} else if (fd < 0) {
		rc = err_set(e, ERR_IO, "crypto.master_key_file", "crypto: cannot open %s: %s", path,
			     strerror(errno));
	} else {
		struct stat st;
		if (fstat(fd, &st) != 0 || (st.st_mode & 077))
			rc = err_set(e, ERR_FORBIDDEN, "crypto.master_key_file",
				     "crypto: %s must not be readable by group or others (chmod 600)", path);
		else if (read_full(fd, k->master, CRYPTO_KEY_BYTES))
			rc = err_set(e, ERR_CORRUPT, "crypto.master_key_file",
				     "crypto: %s must hold exactly 32 bytes", path);
		close(fd);
	}
	if (rc) {
		sodium_free(k);
		return rc;
	}
	crypto_kdf_derive_from_key(k->blind, sizeof k->blind, 1, "blindidx", k->master);
	crypto_kdf_derive_from_key(k->wrap, sizeof k->wrap, 2, "wrapkey_", k->master);
	unsigned char seed[crypto_sign_SEEDBYTES];
	crypto_kdf_derive_from_key(seed, sizeof seed, 3, "signseed", k->master);
	crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed);
	sodium_memzero(seed, sizeof seed);
	sodium_mprotect_readonly(k);
	*out = k;
	return ERR_OK;
}

void crypto_keys_free(struct crypto_keys *k)
{
	if (k)
		sodium_free(k); /* sodium_free wipes before freeing */
}

void crypto_token(char *out, size_t n, const char *prefix)
{
	unsigned char raw[32];
	crypto_random(raw, sizeof raw);
	size_t pl = prefix ? strlen(prefix) : 0;
	if (n < pl + CRYPTO_TOKEN_CHARS) {
		if (n)
			out[0] = '\0';
		return;
	}
	if (pl)
		memcpy(out, prefix, pl);
	sodium_bin2base64(out + pl, n - pl, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

void crypto_sha256_hex(char out[CRYPTO_HASH_HEX], const void *data, size_t n)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, n);
	crypto_hex(out, h, sizeof h);
}

void crypto_blind_index(const struct crypto_keys *k, char out[CRYPTO_HASH_HEX], const void *data,
			size_t n)
{
	unsigned char h[32];
	crypto_generichash(h, sizeof h, data, n, k->blind, sizeof k->blind);
	crypto_hex(out, h, sizeof h);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

int crypto_owner_key_new(const struct crypto_keys *k, const char *owner,
			 unsigned char key[CRYPTO_KEY_BYTES],
			 unsigned char wrapped[CRYPTO_WRAPPED_BYTES])
{
	crypto_random(key, CRYPTO_KEY_BYTES);
	unsigned char *nonce = wrapped;
	crypto_random(nonce, 24);
	unsigned long long clen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + 24, &clen, key, CRYPTO_KEY_BYTES,
						   (const unsigned char *)owner, strlen(owner), NULL,
						   nonce, k->wrap);
	return clen == CRYPTO_KEY_BYTES + 16 ? ERR_OK : ERR_CRYPTO;
}

int crypto_owner_key_unwrap(const struct crypto_keys *k, const char *owner,
			    const unsigned char *wrapped, size_t wlen,
			    unsigned char key[CRYPTO_KEY_BYTES])
{
	if (wlen != CRYPTO_WRAPPED_BYTES)
		return ERR_CRYPTO;
	unsigned long long plen;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, &plen, NULL, wrapped + 24, wlen - 24,
						       (const unsigned char *)owner, strlen(owner),
						       wrapped, k->wrap) != 0 ||
	    plen != CRYPTO_KEY_BYTES)
		return ERR_CRYPTO;
	return ERR_OK;
}

int crypto_seal(const unsigned char key[CRYPTO_KEY_BYTES], const char *aad, const void *pt,
		size_t n, unsigned char *out, size_t *outlen)
{
	out[0] = SEAL_VERSION;
	unsigned char *nonce = out + 1;
	crypto_random(nonce, 24);
	unsigned long long clen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 25, &clen, pt, n, (const unsigned char *)aad,
						   aad ? strlen(aad) : 0, NULL, nonce, key);
	*outlen = (size_t)clen + 25;
	return ERR_OK;
}

int crypto_open(const unsigned char key[CRYPTO_KEY_BYTES], const char *aad,
		const unsigned char *ct, size_t n, unsigned char *out, size_t *outlen)
{
	if (n < CRYPTO_SEAL_OVERHEAD || ct[0] != SEAL_VERSION)
		return ERR_CRYPTO;
	unsigned long long plen;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL, ct + 25, n - 25,
						       (const unsigned char *)aad, aad ? strlen(aad) : 0,
						       ct + 1, key) != 0)
		return ERR_CRYPTO;
	*outlen = (size_t)plen;
	return ERR_OK;
}

void crypto_sign_msg(const struct crypto_keys *k, unsigned char sig[64], const void *msg, size_t n)
{
	crypto_sign_detached(sig, NULL, msg, n, k->sign_sk);
}

int crypto_verify_msg(const unsigned char pk[32], const unsigned char sig[64], const void *msg, size_t n)
{
	return crypto_sign_verify_detached(sig, msg, n, pk) == 0;
}
