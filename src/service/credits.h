/*
 * credits.h: the credit ledger (PAY-1, PAY-5): nothing lost, nothing spent
 * twice.
 *
 * Amounts are integer micro-credits (1 credit = 1,000,000), so prices per
 * token are exact. Every movement is one transaction that appends ledger
 * entries; the balance is derived from them by the database, which refuses an
 * overdraft. A generation reserves its worst-case cost first (a hold), then
 * settles the true cost when it ends or releases the hold on failure,
 * cancellation or crash (credits_recover at start-up).
 *
 * Holds, settlements and releases commit lazily (db_begin_lazy): visible at
 * once, durable within DB_LAZY_SYNC_MS, so no disk flush sits on a request's
 * path. A power cut inside that window can only leave a hold open (released
 * at start-up) or forget a spend: never an overdraft, never a half entry.
 * Purchases and grants commit durably before they are acknowledged.
 */
#ifndef ATELIER_SERVICE_CREDITS_H
#define ATELIER_SERVICE_CREDITS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "store/db.h"

#define CREDITS_UNIT 1000000LL                 /* micro-credits per credit */
#define CREDITS_MAX (1000000000LL * CREDITS_UNIT) /* largest single movement */

/* Add amount (> 0) to owner's balance. kind: "purchase", "grant" or
 * "refund". idem makes it happen once: a repeat returns ERR_OK with
 * *applied = false and changes nothing. */
int credits_add(struct db *db, const char *owner, const char *kind, int64_t amount,
		const char *idem, const char *note, bool *applied);

/* An admin's manual grant to an existing user, with an audit entry naming
 * the actor and the reason, in one transaction. ERR_NOTFOUND if no such
 * user. */
int credits_grant_audited(struct db *db, const char *actor, const char *user_id, int64_t amount,
			  const char *idem, const char *reason);

/* Reserve amount (> 0). ERR_PAYMENT when the balance cannot cover it (and
 * nothing changes). On success *hold identifies the reservation. A repeat of
 * idem returns the same hold. */
int credits_reserve(struct db *db, const char *owner, int64_t amount, const char *idem,
		    int64_t *hold);

/* Settle a hold: spend `actual` (0..held amount; more is clamped to the
 * hold) and return the rest. ERR_NOTFOUND if the hold is not open. */
int credits_settle(struct db *db, int64_t hold, int64_t actual, const char *model);

/* Give a hold back whole. ERR_NOTFOUND if the hold is not open. */
int credits_release(struct db *db, int64_t hold);

/* Release every hold older than max_age_s seconds (0: all open holds):
 * run at start-up so a crash mid-generation loses no credit. *n counts them. */
int credits_recover(struct db *db, int64_t max_age_s, size_t *n);

/* The owner's balance in micro-credits. */
int credits_balance(struct db *db, const char *owner, int64_t *balance);

/* ERR_OK if the derived balance equals the sum of the ledger, ERR_CORRUPT
 * otherwise (used by tests and `atelier admin check`). */
int credits_check(struct db *db, const char *owner);

#endif
