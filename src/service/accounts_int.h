/*
 * accounts_int.h: helpers shared by accounts.c, sessions.c and apikeys.c;
 * not part of the module's API.
 */
#ifndef ATELIER_SERVICE_ACCOUNTS_INT_H
#define ATELIER_SERVICE_ACCOUNTS_INT_H

#include <stdbool.h>

#include "service/accounts.h"

/* prefix + 24 hex digits of randomness ("u_…", "s_…", "k_…"). */
void acct_new_id(char *out, size_t n, const char *prefix);

int acct_audit(struct db_conn *c, const char *actor, const char *subject, const char *event,
	       const char *detail, const char *ip);

/* [server] public_url, or http(s)://listen, without a trailing slash. */
void acct_base_url(const struct app *app, char *out, size_t n);

/* Open a sealed column of the user into out. *present 0 when it is NULL. */
int acct_open_field(struct app *app, struct db_conn *c, const char *user_id,
		    enum store_user_field f, struct buf *out, int *present);

void acct_token_hash(const char *token, char out[CRYPTO_HASH_HEX]);
bool acct_token_wellformed(const char *t, const char *prefix);

/* The sign-in throttle. kind is "u" (an account ID), "l" (a login with no
 * account: value is its keyed hash) or "ip". c may be NULL (a connection of
 * its own is used, outside any transaction). */
bool acct_throttle_locked(struct app *app, struct db_conn *c, const char *kind, const char *value,
			  int64_t *retry_after);
int acct_throttle_fail(struct app *app, struct db_conn *c, const char *kind, const char *value);

/* The keyed hash naming a device (browser, OS, network) for known_devices;
 * detail (may be NULL) gets "Firefox on Linux, network …" for alerts. */
void acct_device_key(struct app *app, const char *ua, const char *ip, char dev[CRYPTO_HASH_HEX],
		     char *detail, size_t dn);

#endif
