/*
 * privacy.h: the privacy center's queries (store/privacy.c), and the one
 * list of owner-scoped tables that export and erasure walk (PRIV-1, PRIV-4).
 *
 * A table that holds anything about a person is one row of that list: how
 * to export its rows (a JSON object per row, plus sealed columns the service
 * opens), how to count them, and how erasure treats them (delete, replace
 * the owner by a pseudonym, or detach). store_privacy_unregistered() walks
 * the live schema for owner-like columns, so a new table that is not in the
 * list fails its unit test instead of being silently left behind.
 */
#ifndef ATELIER_STORE_PRIVACY_H
#define ATELIER_STORE_PRIVACY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/db.h"

enum store_erase {
	ERASE_DELETE,       /* the rows go */
	ERASE_PSEUDONYMIZE, /* billing records kept for [retention] billing, owner → pseudonym (PAY-4) */
	ERASE_DETACH,       /* the row stays as evidence, pointing to nobody */
	ERASE__MAX
};

#define STORE_PRIVACY_SEALED 7

struct store_privacy_table {
	const char *table;      /* name in the schema */
	const char *owner_cols; /* its owner-like columns, comma-separated (for the schema walk) */
	const char *category;   /* export file data/<category>.json and receipt key */
	/* ?1 = owner. Column 0: one JSON object per row; columns 1..: sealed
	 * blobs whose purposes are sealed[] (NULL-ended). NULL: not exported
	 * (note says why). */
	const char *export_sql;
	const char *sealed[STORE_PRIVACY_SEALED];
	const char *count_sql;  /* ?1 = owner */
	const char *erase_sql;  /* ?1 = owner, ?2 = pseudonym, ?3 = now */
	enum store_erase how;
	const char *note;       /* one line for the export's README */
};

/* The list, in erasure order (children before parents; keys last). */
const struct store_privacy_table *store_privacy_tables(size_t *n);

/* Call fn for each row of t owned by owner: json is the row as a JSON
 * object, sealed[i]/len[i] the sealed columns (NULL when the column is
 * NULL). A non-zero return from fn stops and is returned. */
int store_privacy_rows(struct db_conn *c, const struct store_privacy_table *t, const char *owner,
		       int (*fn)(void *arg, const char *json, const void *const *sealed,
				 const size_t *len, int nsealed),
		       void *arg);

int store_privacy_count(struct db_conn *c, const struct store_privacy_table *t, const char *owner,
			int64_t *n);

/* Apply t's erasure to owner; *changed: rows changed. */
int store_privacy_erase(struct db_conn *c, const struct store_privacy_table *t, const char *owner,
			const char *pseudonym, int64_t now, int64_t *changed);

/* Tables of the live schema with an owner-like column (owner, user_id,
 * subject, actor, customer, end_user) that the list does not name: fn is
 * called for each (table, column). *n counts them. */
int store_privacy_unregistered(struct db_conn *c, void (*fn)(void *arg, const char *table,
							      const char *column),
			       void *arg, int *n);

/* --- API customers' end users (PRIV-10) ------------------------------------ */

struct store_eu_table {
	const char *table, *category;
	const char *export_sql; /* ?1 = customer, ?2 = end-user hash; column 0 JSON */
	const char *count_sql;
	const char *erase_sql;
};

const struct store_eu_table *store_eu_tables(size_t *n);
int store_eu_rows(struct db_conn *c, const struct store_eu_table *t, const char *customer,
		  const char *eu, int (*fn)(void *arg, const char *json), void *arg);
int store_eu_count(struct db_conn *c, const struct store_eu_table *t, const char *customer,
		   const char *eu, int64_t *n);
int store_eu_erase(struct db_conn *c, const struct store_eu_table *t, const char *customer,
		   const char *eu, int64_t *changed);

/* --- exports (the job queue) ------------------------------------------------ */

struct store_export {
	char id[40], user_id[40], state[12], sha256[72];
	int64_t created_at, ready_at, expires_at, size;
};

int store_export_insert(struct db_conn *c, const char *id, const char *user_id, int64_t now);
/* The oldest queued job, moved to 'running'; ERR_NOTFOUND when none. */
int store_export_claim(struct db_conn *c, struct store_export *out);
/* Put jobs left 'running' by a crash back in the queue. */
int store_export_requeue(struct db_conn *c);
int store_export_finish(struct db_conn *c, const char *id, const char *state, int64_t now,
			int64_t expires_at, int64_t size, const char *sha256);
int store_export_get(struct db_conn *c, const char *id, struct store_export *out);
int store_export_list(struct db_conn *c, const char *user_id,
		      void (*fn)(void *arg, const struct store_export *x), void *arg);
/* Jobs of the user whose files exist (to unlink after erasure). */
int store_export_ids(struct db_conn *c, const char *user_id, void (*fn)(void *arg, const char *id),
		     void *arg);
/* Delete rows that expired before now; fn gets each id first. */
int store_export_expire(struct db_conn *c, int64_t now, void (*fn)(void *arg, const char *id),
			void *arg, int64_t *n);
/* Set an export's expiry (tests). */
int store_export_set_expiry(struct db_conn *c, const char *id, int64_t at);
/* 1 if a row with this id exists (for the orphan-file sweep). */
int store_export_exists(struct db_conn *c, const char *id, int *exists);

/* --- consents, restriction, objections -------------------------------------- */

int store_consent_add(struct db_conn *c, const char *user_id, const char *kind, int granted,
		      const char *policy_version, int64_t at, const char *source);
/* Every row of the user, oldest first. */
int store_consent_list(struct db_conn *c, const char *user_id,
		       void (*fn)(void *arg, int64_t id, const char *kind, int granted,
				  const char *version, int64_t at, const char *source),
		       void *arg);
/* The newest row of kind: *granted -1 when there is none. */
int store_consent_current(struct db_conn *c, const char *user_id, const char *kind, int *granted,
			  char *version, size_t vn);

int store_restriction_set(struct db_conn *c, const char *user_id, int64_t now, int *created);
int store_restriction_clear(struct db_conn *c, const char *user_id, int64_t *deleted);
/* *since 0 when the user is not restricted. */
int store_restriction_get(struct db_conn *c, const char *user_id, int64_t *since);

int store_objection_add(struct db_conn *c, const char *user_id, const char *purpose,
			const void *note, size_t n, int64_t now);
int store_objection_has(struct db_conn *c, const char *user_id, const char *purpose, int *has);

/* --- requests (PRIV-11) ---------------------------------------------------- */

struct store_request {
	const char *id, *kind, *channel, *user_id, *customer, *status, *outcome; /* may be NULL */
	int64_t received_at, due_at, closed_at;
};

int store_request_insert(struct db_conn *c, const struct store_request *r, const void *contact,
			 size_t contact_len, const char *verify_hash);
int store_request_close(struct db_conn *c, const char *id, const char *status, const char *outcome,
			int64_t now);
/* By verification hash: id, user_id (may be ""), status. */
int store_request_by_verify(struct db_conn *c, const char *hash, char id[40], char user_id[40],
			    char status[16]);
/* Append the request's sealed contact to out (nothing when NULL). */
int store_request_contact(struct db_conn *c, const char *id, struct buf *out);
int store_request_verified(struct db_conn *c, const char *id);
/* Requests, open ones first by deadline, then the rest newest first. */
/* Requests, open ones first by deadline; only user_id's when it is not NULL. */
int store_request_list(struct db_conn *c, const char *user_id, int limit,
		       void (*fn)(void *arg, const struct store_request *r), void *arg);

/* --- policy versions, email change, erasure journal, users ------------------- */

int store_policy_add(struct db_conn *c, const char *version, const char *effective, int64_t now);
/* The newest published version; ERR_NOTFOUND when none. */
int store_policy_latest(struct db_conn *c, char *version, size_t vn, char *effective, size_t en);

int store_email_change_add(struct db_conn *c, const char *hash, const char *user_id,
			   const char *bidx, const void *sealed, size_t n, int64_t now,
			   int64_t expires_at);
/* Take (and delete) a pending change; ERR_NOTFOUND when unknown or expired. */
int store_email_change_take(struct db_conn *c, const char *hash, int64_t now, char user_id[40],
			    char bidx[72], struct buf *sealed);
/* Replace a user's email (verified now): ERR_EXISTS when taken. */
int store_user_set_email(struct db_conn *c, const char *user_id, const char *bidx,
			 const void *sealed, size_t n, int64_t now);

int store_erasure_add(struct db_conn *c, const char *owner, int64_t at, const char *receipt_id);
int store_erasure_each(struct db_conn *c, void (*fn)(void *arg, const char *owner), void *arg);

/* Every user ID, for announcements. */
int store_user_ids(struct db_conn *c, void (*fn)(void *arg, const char *id), void *arg);

/* Every queued mail ID (the outbox has no owner column: erasure and export
 * open each recipient to find the user's). */
int store_mail_ids(struct db_conn *c, void (*fn)(void *arg, const char *id), void *arg);

/* Every owner key row, and replacing one (backup escrow). */
int store_owner_keys_each(struct db_conn *c,
			  int (*fn)(void *arg, const char *owner, const void *wrapped, size_t n),
			  void *arg);
int store_owner_key_replace(struct db_conn *c, const char *owner, const void *wrapped, size_t n);

#endif
