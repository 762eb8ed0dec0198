/*
 * password.h: the password policy and Argon2id hashing (ACC-2).
 *
 * Hashes are libsodium's crypto_pwhash_str strings: Argon2id v1.3 with the
 * salt and the parameters inside, so a later change of parameters is seen
 * per hash (password_verify reports when one should be rehashed). Defaults
 * are OWASP's Argon2id minimum: m = 19 MiB, t = 2, p = 1 ([auth]
 * argon2_memlimit, argon2_opslimit; libsodium always uses p = 1).
 *
 * Each hash takes [auth] argon2_memlimit of memory, so at most [auth]
 * hash_concurrency run at once (a semaphore): a flood of sign-ins waits a
 * moment, then gets ERR_BUSY, and cannot exhaust the machine's memory.
 *
 * Passwords are bytes: exactly what the user typed, never truncated,
 * never logged, wiped by the caller after use.
 */
#ifndef ATELIER_SERVICE_PASSWORD_H
#define ATELIER_SERVICE_PASSWORD_H

#include <stddef.h>

#include "base/config.h"
#include "base/err.h"

#define PASSWORD_MIN_CHARS 8    /* characters (UTF-8 code points) */
#define PASSWORD_MAX_BYTES 1024 /* far above the 64 characters NIST asks to allow */
#define PASSWORD_HASH_MAX 128   /* crypto_pwhash_STRBYTES */

/* Load the block list and set the parameters and the concurrency cap from
 * cfg. Safe to call again (tests); the block list is loaded once. */
int password_init(const struct config *cfg, struct errinfo *e);

/* ERR_OK if pw (n bytes) may be used by this user, else ERR_UNSUPPORTED
 * (a policy refusal, 422) with a message saying why: too short, too long,
 * a common password, or the username or email itself. username and email
 * may be NULL. */
int password_check(const char *pw, size_t n, const char *username, const char *email,
		   struct errinfo *e);

/* 1 if pw (case-insensitively) is on the common-password list. */
int password_is_common(const char *pw, size_t n);

/* Number of entries in the loaded block list. */
size_t password_blocklist_size(void);

/* Hash pw into out (PASSWORD_HASH_MAX bytes). ERR_BUSY when the hashing
 * slots stayed full for the wait. */
int password_hash(const char *pw, size_t n, char out[PASSWORD_HASH_MAX], struct errinfo *e);

/* Check pw against a stored hash: ERR_OK when it matches, ERR_AUTH when it
 * does not, ERR_BUSY when no slot was free. *rehash is set to 1 when the hash
 * was made with other parameters than the current ones. A NULL hash checks
 * against a dummy hash with the current parameters, so that a sign-in for an
 * unknown account costs the same time (and always fails). */
int password_verify(const char *hash, const char *pw, size_t n, int *rehash);

#endif
