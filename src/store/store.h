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

/* two-factor (service/twofa.c; users.totp_* columns are 0002's) ---------- */

/* Set (sealed != NULL) or clear the pending secret of user_id. */
int store_totp_pending_put(struct db_conn *c, const char *user_id, const void *sealed, size_t n,
			   int64_t now);
int store_totp_pending_get(struct db_conn *c, const char *user_id, struct buf *out,
			   int64_t *created_at);
int store_totp_pending_delete(struct db_conn *c, const char *user_id);

/* Turn two-factor on with a sealed secret and its first used step, or off
 * (sealed NULL): clears the secret and the step. */
int store_totp_set(struct db_conn *c, const char *user_id, const void *sealed, size_t n,
		   int64_t last_step);

/* The sealed secret and last used step; ERR_NOTFOUND when two-factor is off. */
int store_totp_get(struct db_conn *c, const char *user_id, struct buf *sealed, int64_t *last_step);

/* Record step as used if it is newer than the last one: ERR_EXISTS when it
 * is not (a replay), in one compare-and-set. */
int store_totp_use_step(struct db_conn *c, const char *user_id, int64_t step);

/* Replace the user's recovery codes with these hashes (n of them). */
int store_recovery_replace(struct db_conn *c, const char *user_id, const char *const *hashes,
			   int n, int64_t now);

/* Use a recovery code: ERR_NOTFOUND when the user has no such code. */
int store_recovery_use(struct db_conn *c, const char *user_id, const char *hash);

/* Recovery codes left. */
int store_recovery_count(struct db_conn *c, const char *user_id, int64_t *n);

/* Failures in the current window (window_start after since), 0 if none. */
int store_totp_failures(struct db_conn *c, const char *user_id, int64_t since, int64_t *n);

/* Count one failure: a new window from now when the last began before since. */
int store_totp_fail(struct db_conn *c, const char *user_id, int64_t since, int64_t now);

/* Forget the failures (after a success). */
int store_totp_fail_clear(struct db_conn *c, const char *user_id);

/* oidc_flows (service/oidc.c) --------------------------------------------- */

int store_oidc_flow_put(struct db_conn *c, const char *state_hash, const char *nonce,
			const char *verifier, int64_t now, int64_t expires_at);

/* Take (read and delete) a flow that has not expired: ERR_NOTFOUND if
 * unknown, used or expired. nonce and verifier: 128 bytes each. */
int store_oidc_flow_take(struct db_conn *c, const char *state_hash, int64_t now, char *nonce,
			 char *verifier);

/* oidc_signups (0006; service/oidc.c) ------------------------------------ */

/* Keep a verified email (sealed, vault owner "sso:<token_hash>") for a
 * sign-up, found by the SHA-256 of its token. */
int store_oidc_signup_put(struct db_conn *c, const char *token_hash, const void *sealed, size_t n,
			  int64_t now, int64_t expires_at);

/* Append the sealed email of a pending sign-up that has not expired to
 * sealed: ERR_NOTFOUND if unknown, used or expired. */
int store_oidc_signup_get(struct db_conn *c, const char *token_hash, int64_t now, struct buf *sealed);

/* Delete one; *deleted (may be NULL): rows removed, 0 when another request
 * used it first. */
int store_oidc_signup_delete(struct db_conn *c, const char *token_hash, int64_t *deleted);

/* Up to max token hashes of expired pending sign-ups into hashes, *n of them. */
int store_oidc_signup_expired(struct db_conn *c, int64_t now, char hashes[][65], int max, int *n);

/* owner_keys ------------------------------------------------------------ */

/* The wrapped key of owner into out (cap bytes): ERR_NOTFOUND if none. */
int store_owner_key_get(struct db_conn *c, const char *owner, unsigned char *out, size_t cap,
			size_t *len);

/* Insert a wrapped key: ERR_EXISTS if the owner already has one. */
int store_owner_key_put(struct db_conn *c, const char *owner, const unsigned char *wrapped,
			size_t len);

/* Delete owner's key (crypto-erasure). Sets *deleted to the rows removed. */
int store_owner_key_delete(struct db_conn *c, const char *owner, int64_t *deleted);

/* users (0002_accounts) -------------------------------------------------- */

#define STORE_ID 40

/* A user's row, without the sealed fields (see store_user_sealed). */
struct store_user {
	char id[STORE_ID];
	char username[40];
	char role[12];          /* user | support | admin */
	char age_group[8];      /* adult | minor */
	char adult_from[8];     /* "YYYY-MM" for minors, else "" */
	char password_hash[192];/* libsodium crypto_pwhash_str form */
	int64_t email_verified_at; /* 0: not verified */
	int64_t created_at;
	int totp_enabled;
};

/* The sealed columns of users; the service seals and opens them. */
enum store_user_field {
	USER_EMAIL,
	USER_PARENT_EMAIL,
	USER_NAME,
	USER_PHONE,
	USER_COMPANY,
	USER_BILLING_ADDRESS,
	USER_TOTP_SECRET,
	USER_FIELD__MAX
};

/* What a new user row holds; sealed blobs are owned by the caller. */
struct store_user_new {
	const char *id, *username, *email_bidx, *password_hash, *role, *age_group;
	const char *adult_from;          /* NULL for adults */
	const void *email_sealed;
	size_t email_sealed_len;
	const void *parent_email_sealed; /* NULL for adults */
	size_t parent_email_sealed_len;
	int64_t parent_consent_at;       /* 0 for adults */
	int64_t email_verified_at;       /* 0: not yet */
	int64_t now;
};

/* Insert a user: ERR_EXISTS when the username or email is taken. */
int store_user_insert(struct db_conn *c, const struct store_user_new *u);

/* Find a user: ERR_NOTFOUND if none. */
int store_user_by_id(struct db_conn *c, const char *id, struct store_user *out);
int store_user_by_email(struct db_conn *c, const char *email_bidx, struct store_user *out);
int store_user_by_username(struct db_conn *c, const char *username, struct store_user *out);

/* Append a sealed field to out; *present is 0 (and nothing appended) when
 * the column is NULL. ERR_NOTFOUND if there is no such user. */
int store_user_sealed(struct db_conn *c, const char *id, enum store_user_field f, struct buf *out,
		      int *present);

/* Set a sealed field (p NULL: clear it). */
int store_user_set_sealed(struct db_conn *c, const char *id, enum store_user_field f,
			  const void *p, size_t n);

/* Updates of one column each; ERR_NOTFOUND if there is no such user,
 * ERR_EXISTS for a username taken by someone else. */
int store_user_set_username(struct db_conn *c, const char *id, const char *username);
int store_user_set_password(struct db_conn *c, const char *id, const char *hash, int64_t now);
int store_user_set_role(struct db_conn *c, const char *id, const char *role);
int store_user_set_verified(struct db_conn *c, const char *id, int64_t now);

/* Users whose username contains q (all when q is ""), by username, at most
 * limit; fn is called once per row. */
int store_user_search(struct db_conn *c, const char *q, int limit,
		      void (*fn)(const struct store_user *u, void *arg), void *arg);

/* sessions -------------------------------------------------------------- */

struct store_session {
	char id[STORE_ID];
	char user_id[STORE_ID];
	char csrf[64];
	char browser[32];
	char os[32];
	char network[64];
	int64_t created_at, last_seen, expires_at;
	char role[12];          /* the user's role, filled by store_session_by_hash */
};

/* Insert s, found later by token_hash (hex SHA-256 of the cookie). */
int store_session_insert(struct db_conn *c, const struct store_session *s, const char *token_hash);

/* The session whose cookie hashes to token_hash, with its user's role. */
int store_session_by_hash(struct db_conn *c, const char *token_hash, struct store_session *out);

/* Record activity. */
int store_session_touch(struct db_conn *c, const char *id, int64_t now);

/* Delete one session (of user_id, if not NULL); *deleted: rows removed. */
int store_session_delete(struct db_conn *c, const char *id, const char *user_id, int64_t *deleted);

/* Delete every session of user_id except except_id (may be NULL). */
int store_session_delete_user(struct db_conn *c, const char *user_id, const char *except_id);

/* The user's sessions, most recently seen first. */
int store_session_list(struct db_conn *c, const char *user_id,
		       void (*fn)(const struct store_session *s, void *arg), void *arg);

/* api_keys -------------------------------------------------------------- */

struct store_key {
	char id[STORE_ID];
	char user_id[STORE_ID];
	char name[72];
	char prefix[12];
	unsigned scopes;
	int64_t created_at, last_used, expires_at; /* 0: never / none */
	char role[12];          /* the owner's role, filled by store_key_by_hash */
};

int store_key_insert(struct db_conn *c, const struct store_key *k, const char *hash);

/* The key whose secret hashes to hash, with its owner's role: one indexed
 * lookup, the whole cost of an API-key request. */
int store_key_by_hash(struct db_conn *c, const char *hash, struct store_key *out);

int store_key_touch(struct db_conn *c, const char *id, int64_t now);

/* The user's keys, newest first. */
int store_key_list(struct db_conn *c, const char *user_id,
		   void (*fn)(const struct store_key *k, void *arg), void *arg);

/* Number of keys the user has. */
int store_key_count(struct db_conn *c, const char *user_id, int64_t *n);

/* Delete key id of user_id; *deleted: rows removed (0: not theirs or gone). */
int store_key_delete(struct db_conn *c, const char *id, const char *user_id, int64_t *deleted);

/* auth_tokens ----------------------------------------------------------- */

int store_token_insert(struct db_conn *c, const char *hash, const char *kind, const char *user_id,
		       int64_t now, int64_t expires_at);

/* Look a token up by hash and kind: ERR_NOTFOUND if none. used_at is 0
 * while unused. */
int store_token_get(struct db_conn *c, const char *hash, const char *kind, char *user_id,
		    size_t n, int64_t *expires_at, int64_t *used_at);

/* Mark used; *changed is 0 when it already was (lost a race). */
int store_token_use(struct db_conn *c, const char *hash, int64_t now, int64_t *changed);

/* Delete the user's unused tokens of kind (others are left as used). */
int store_token_delete_user(struct db_conn *c, const char *user_id, const char *kind);

/* Creation time of the user's newest token of kind, 0 if none. */
int store_token_newest(struct db_conn *c, const char *user_id, const char *kind, int64_t *at);

/* auth_throttle --------------------------------------------------------- */

struct store_throttle {
	int64_t failures, window_start, locked_until;
};

/* ERR_NOTFOUND (and *t zeroed) when the key has no row. */
int store_throttle_get(struct db_conn *c, const char *key, struct store_throttle *t);
int store_throttle_put(struct db_conn *c, const char *key, const struct store_throttle *t);
int store_throttle_delete(struct db_conn *c, const char *key);

/* Forget rows whose window started before `before` and that are not locked. */
int store_throttle_purge(struct db_conn *c, int64_t before, int64_t now);

/* known_devices ----------------------------------------------------------- */

/* Remember device for user; *is_new is 1 when it was not known. */
int store_device_add(struct db_conn *c, const char *user_id, const char *device, int64_t now,
		     int *is_new);

/* audit, read by staff (store/audit_list.c) ------------------------------ */

struct store_audit_row {
	int64_t id, at;
	const char *actor, *subject, *event, *detail, *ip; /* valid during the callback; may be NULL */
};

/* Audit rows, newest first, filtered by subject and event when not NULL. */
int store_audit_list(struct db_conn *c, const char *subject, const char *event, int limit,
		     void (*fn)(const struct store_audit_row *r, void *arg), void *arg);

/* Audit rows about subject made by someone else (staff), newest first, for
 * the subject's own privacy center (SEC-5). role is the actor's current role
 * ("user", "support", "admin"), NULL when that account is gone; the row's
 * actor and ip are left NULL: the subject sees the role, never who it was. */
int store_audit_about(struct db_conn *c, const char *subject, int limit,
		      void (*fn)(const struct store_audit_row *r, const char *role, void *arg), void *arg);

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

/* counts for the staff console (store/stats.c) ------------------------------ */

/* How many of each, right now; never who. */
struct store_counts {
	int64_t users;
	int64_t sessions;                /* not expired, used since seen_after */
	int64_t jobs_queued, jobs_running; /* image jobs */
	int64_t requests_open;           /* privacy requests not yet answered */
	int64_t requests_overdue;        /* of those, past their deadline */
};

/* Fill out with one read (a consistent snapshot). now and seen_after are
 * Unix seconds: a session counts when it expires after now and was last
 * used after seen_after (the idle limit). */
int store_counts_get(struct db_conn *c, int64_t now, int64_t seen_after, struct store_counts *out);

#endif
