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

/* credits (ledger, balances, holds) ------------------------------------ */

/* Append a ledger entry; the balance follows by trigger. ERR_EXISTS if idem
 * was used before (the entry is already there), ERR_PAYMENT if the entry
 * would take the balance below zero. *id gets the new row's id (may be NULL). */
int store_ledger_add(struct db_conn *c, const char *owner, const char *kind, int64_t amount,
		     const char *idem, int64_t hold_id, const char *model, const char *note,
		     int64_t *id);

/* The ledger entry with idempotency key idem: its id, owner and amount.
 * ERR_NOTFOUND if none. */
int store_ledger_by_idem(struct db_conn *c, const char *idem, int64_t *id, char *owner,
			 size_t owner_len, int64_t *amount);

/* The derived balance (0 for an owner with no entries). */
int store_balance(struct db_conn *c, const char *owner, int64_t *balance);

/* Sum of the owner's ledger entries (to check the derived balance). */
int store_ledger_sum(struct db_conn *c, const char *owner, int64_t *sum);

/* Record an open hold for ledger entry id. */
int store_hold_open(struct db_conn *c, int64_t ledger_id, const char *owner, int64_t amount);

/* Move an open hold to state ("settled" or "released"). ERR_NOTFOUND if
 * the hold is not open (already closed, or unknown). Fills owner and amount. */
int store_hold_close(struct db_conn *c, int64_t ledger_id, const char *state, char *owner,
		     size_t owner_len, int64_t *amount);

/* Open holds created before `before` (Unix seconds), up to max ids. */
int store_holds_stale(struct db_conn *c, int64_t before, int64_t *ids, size_t max, size_t *n);

#endif
