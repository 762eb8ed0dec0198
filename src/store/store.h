/*
 * store.h: the typed queries service/ calls. All SQL lives behind these
 * (kcgi/sqlbox's habit): one function per question the product asks.
 * Each takes a connection so the caller decides the transaction.
 * Files: store/<table>.c; later issues add their own.
 */
#ifndef ATELIER_STORE_STORE_H
#define ATELIER_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

/* owner_keys ------------------------------------------------------------ */

/* The wrapped key of owner into out (cap bytes): ERR_NOTFOUND if none. */
int store_owner_key_get(struct db_conn *c, const char *owner, unsigned char *out, size_t cap,
			size_t *len);

/* Insert a wrapped key: ERR_EXISTS if the owner already has one. */
int store_owner_key_put(struct db_conn *c, const char *owner, const unsigned char *wrapped,
			size_t len);

/* Delete owner's key (crypto-erasure). Sets *deleted to the rows removed. */
int store_owner_key_delete(struct db_conn *c, const char *owner, int64_t *deleted);

/* audit ------------------------------------------------------------------ */

/* Append a security event. actor and subject are user IDs (or NULL), event
 * a short constant ("auth.login"), detail a JSON object or NULL; never
 * content or secrets. ip only for security events that need it. */
int store_audit_add(struct db_conn *c, const char *actor, const char *subject, const char *event,
		    const char *detail, const char *ip);

#endif
