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

#endif
