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

#include "base/buf.h"
#include "store/db.h"

/* mail_outbox (service/mail.c) ------------------------------------------ */

/* One queued message; rcpt, subject and body are sealed (vault owner
 * "mail:<id>"). Buffers are the caller's: init before, free after. */
struct store_mail {
	char id[40];
	char kind[32];
	int64_t created_at, attempts;
	struct buf rcpt, subject, body;
};

/* Insert a message due at next_attempt. */
int store_mail_insert(struct db_conn *c, const struct store_mail *m, int64_t next_attempt);

/* The ID of a message due at or before now (oldest first) into id (40
 * bytes); ERR_NOTFOUND when none is due. */
int store_mail_due(struct db_conn *c, int64_t now, char id[40]);

/* Claim message id if still due: push next_attempt to lease_until and count
 * the attempt. ERR_NOTFOUND when another sender claimed it first. */
int store_mail_claim(struct db_conn *c, const char *id, int64_t now, int64_t lease_until);

/* Read message id into m (appending to its buffers). ERR_NOTFOUND if gone. */
int store_mail_get(struct db_conn *c, const char *id, struct store_mail *m);

/* Schedule another attempt; err is a short constant, never content. */
int store_mail_retry(struct db_conn *c, const char *id, int64_t next_attempt, const char *err);

/* Delete message id (delivered or given up). */
int store_mail_delete(struct db_conn *c, const char *id);

/* The earliest next_attempt of any message, or ERR_NOTFOUND when empty. */
int store_mail_next_time(struct db_conn *c, int64_t *t);

/* Messages queued (for tests and metrics). */
int store_mail_count(struct db_conn *c, int64_t *n);

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

/* billing: charges, receipts, webhook events ---------------------------- */

struct store_charge {
	char ref[48], owner[80], code[64], currency[8], status[24];
	int64_t credits, amount_cents, created_at;
};

int store_charge_add(struct db_conn *c, const struct store_charge *ch, const char *hosted_url);
/* Look up by the provider's code: ERR_NOTFOUND if none. */
int store_charge_by_code(struct db_conn *c, const char *code, struct store_charge *out);
int store_charge_set_status(struct db_conn *c, const char *code, const char *status);

/* Record a provider event ID: ERR_EXISTS if it was seen before. */
int store_webhook_event_add(struct db_conn *c, const char *id);

int store_receipt_add(struct db_conn *c, const char *id, const char *owner, const char *charge_code,
		      int64_t credits, int64_t amount_cents, const char *currency);

/* Visit the owner's receipts, newest first. */
int store_receipts_each(struct db_conn *c, const char *owner,
			int (*fn)(void *arg, const char *id, const char *code, int64_t credits,
				  int64_t cents, const char *currency, int64_t issued_at),
			void *arg);

/* usage ------------------------------------------------------------------ */

struct store_usage {
	const char *owner, *endpoint, *model, *key_id, *end_user;
	int64_t prompt_tokens, completion_tokens, images, audio_ms, status, latency_ms, cost;
};

int store_usage_add(struct db_conn *c, const struct store_usage *u);

/* Aggregate the owner's usage in [from, to) by UTC day, model and key. */
int store_usage_daily(struct db_conn *c, const char *owner, int64_t from, int64_t to,
		      int (*fn)(void *arg, const char *day, const char *model, const char *key_id,
				int64_t calls, int64_t prompt, int64_t completion, int64_t images,
				int64_t audio_ms, int64_t cost),
		      void *arg);

/* Visit the owner's rows in [from, to), oldest first (for CSV). */
int store_usage_each(struct db_conn *c, const char *owner, int64_t from, int64_t to,
		     int (*fn)(void *arg, int64_t at, const char *endpoint, const char *model,
			       const char *key_id, int64_t prompt, int64_t completion, int64_t images,
			       int64_t audio_ms, int64_t status, int64_t latency_ms, int64_t cost),
		     void *arg);

/* Delete rows older than before; *n gets the count (retention). */
int store_usage_expire(struct db_conn *c, int64_t before, int64_t *n);

/* retention -------------------------------------------------------------- */

/* Rows of category ("usage_logs", "mail_outbox", "webhook_events", "audit")
 * older than before (Unix seconds). ERR_NOTFOUND for an unknown category. */
int store_retention_count(struct db_conn *c, const char *category, int64_t before, int64_t *n);

/* Delete them (and any key that sealed them); *n gets the rows deleted.
 * Run inside the caller's transaction. */
int store_retention_delete(struct db_conn *c, const char *category, int64_t before, int64_t *n);

#endif
