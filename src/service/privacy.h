/*
 * privacy.h: the privacy center: every data-protection right, working by
 * itself, at once, and leaving evidence (PRIV-1..12, AGE-3, OPS-6, COOK-2).
 *
 *   access / portability   privacy_export_*: a ZIP of every personal datum,
 *                          built by a worker thread, sealed at rest
 *   rectification          privacy_email_change_* (profile: acct_update)
 *   erasure                privacy_erase: one transaction, crypto-erasure,
 *                          billing pseudonymized, a signed receipt
 *   restriction, objection privacy_restrict, privacy_object
 *   consent                privacy_consent_*: an append-only ledger
 *   requests               privacy_request_*: tracked, 30-day deadline
 *   API end users          privacy_subject_*: by the customer's user ID
 *
 * Every write that must be whole is one transaction; nothing here logs an
 * email, a name or content.
 */
#ifndef ATELIER_SERVICE_PRIVACY_H
#define ATELIER_SERVICE_PRIVACY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "service/app.h"
#include "store/privacy.h"

#define PRIVACY_REQUEST_DAYS 30 /* PRIV-11: answered within 30 days */
#define PRIVACY_REAUTH_S 300    /* a sign-in this recent counts as re-authentication */
#define PRIVACY_REASON_MAX 500  /* characters in a reason staff give */

/* --- the export worker ---------------------------------------------------- */

struct privacy_worker;

/* Start the thread that builds queued exports and removes expired ones. */
int privacy_start(struct privacy_worker **out, struct app *app);
/* Wake it (after a job is queued). Accepts NULL. */
void privacy_kick(struct privacy_worker *w);
/* Stop it after the job in hand. Accepts NULL. */
void privacy_stop(struct privacy_worker *w);

/* --- access and portability (PRIV-1, PRIV-2) ------------------------------- */

/* Queue an export of user_id's data; id gets the job's ID. ERR_LIMIT when
 * one is already queued or running. */
int privacy_export_request(struct app *app, const char *user_id, char id[40], struct errinfo *e);

/* Build the ZIP of everything held about user_id into zip (caller's buffer).
 * manifest (may be NULL) gets a reference to the manifest. */
int privacy_export_build(struct app *app, const char *user_id, struct buf *zip, json_t **manifest);

/* Build and store queued job id now (the worker's step; also for tests). */
int privacy_export_run(struct app *app, const char *id);

/* The ZIP of export id, opened, if user_id owns it and it has not expired:
 * ERR_NOTFOUND otherwise (another account's export looks like none),
 * ERR_BUSY while it is being built. */
int privacy_export_fetch(struct app *app, const char *user_id, const char *id, struct buf *zip,
			 struct errinfo *e);

/* Test harness: make export id expire now. */
int privacy_export_expire_now(struct app *app, const char *id);

/* The user's exports as a JSON array (caller decrefs). */
int privacy_export_list(struct app *app, const char *user_id, json_t **out);

/* Remove expired exports (rows and files) and files without a row. */
int privacy_export_sweep(struct app *app, int64_t *removed);

/* --- erasure (PRIV-4, PRIV-5, PAY-4, AGE-3) --------------------------------- */

struct privacy_erase_opts {
	const char *actor;        /* who erased: the user themself, or staff (NULL: system) */
	const char *channel;      /* "studio", "staff", "parent", "api" */
	const char *request_id;   /* the privacy request this answers, or NULL */
	const char *mail_to;      /* also mail the receipt here (NULL: the account's own
				   * address when mail_receipt, else nobody) */
	bool mail_receipt;
	const char *ip;
};

/* Erase user_id in one transaction: every owner-scoped table of the list,
 * queued mail to them, exports; billing records pseudonymized; the owner's
 * key destroyed; the erasure journaled. Then scrub the WAL, unlink export
 * files and rewrite the backup escrow. receipt gets the signed receipt
 * (caller decrefs). ERR_NOTFOUND when there is no such account. */
int privacy_erase(struct app *app, const char *user_id, const struct privacy_erase_opts *o,
		  json_t **receipt, struct errinfo *e);

/* DELETE /api/me: the user proves it is them (password, or a sign-in in the
 * last PRIVACY_REAUTH_S seconds), then privacy_erase. ERR_FORBIDDEN for a
 * wrong or missing password. */
int privacy_delete_account(struct app *app, const char *user_id, const char *session_id,
			   const char *password, bool mail_receipt, const char *ip, json_t **receipt,
			   struct errinfo *e);

/* Staff erase an account (AGE-3): a minor's with any staff role, anyone's
 * only when any_account (admins). ERR_FORBIDDEN otherwise, ERR_NOTFOUND
 * when there is no such account. */
int privacy_staff_erase(struct app *app, const char *user_id, bool any_account,
			const struct privacy_erase_opts *o, json_t **receipt, struct errinfo *e);

/* --- rectification (PRIV-3) -------------------------------------------------- */

/* Mail a confirmation link to new_email; the change waits until it is used. */
int privacy_email_change_request(struct app *app, const char *user_id, const char *new_email,
				 const char *ip, struct errinfo *e);
int privacy_email_change_confirm(struct app *app, const char *token, const char *ip,
				 struct errinfo *e);

/* --- restriction and objection (PRIV-6) ---------------------------------------- */

/* True when processing is restricted for user_id (cheap: one indexed lookup). */
bool privacy_restricted(struct app *app, const char *user_id);
int privacy_restrict(struct app *app, const char *user_id, bool on, const char *ip,
		     struct errinfo *e);
/* Staff apply (on) or lift a restriction for user_id because the person
 * asked by letter or through support: the same effect as privacy_restrict,
 * audited with actor and reason (1 to PRIVACY_REASON_MAX characters, not
 * blank), which the user reads in their access log (SEC-5). ERR_INVALID
 * naming "reason", ERR_NOTFOUND when there is no such account. *changed is
 * false when it already was so (then nothing is written). */
int privacy_staff_restrict(struct app *app, const char *actor, const char *user_id, bool on,
			   const char *reason, const char *ip, bool *changed, struct errinfo *e);
/* Record an objection; purpose: marketing | analytics | model_improvement |
 * profiling | other. note (may be NULL) is sealed. Objecting to marketing or
 * model_improvement withdraws that consent in the same transaction. */
int privacy_object(struct app *app, const char *user_id, const char *purpose, const char *note,
		   const char *ip, struct errinfo *e);

/* --- consent (PRIV-7, PRIV-8, PRIV-12, COOK-2) ------------------------------------ */

/* The ledger and current state as JSON (caller decrefs). */
int privacy_consents_get(struct app *app, const char *user_id, json_t **out);

/* Apply changes (kinds marketing, data_sharing, privacy_notice, terms;
 * values true/false). privacy_signal (DNT or GPC on the request) refuses any
 * change that turns optional processing on, with ERR_FORBIDDEN. One
 * transaction. */
int privacy_consents_put(struct app *app, const char *user_id, const json_t *changes,
			 bool privacy_signal, const char *source, struct errinfo *e);

/* PRIV-8: the one question any use of content beyond the service must ask.
 * Nothing in Atelier uses prompts or outputs for training; a future export
 * for model improvement must call this and skip everyone it is false for:
 * data_sharing consent on, not restricted, no objection. */
bool privacy_may_use_for_training(struct app *app, const char *user_id);

/* Record a material policy change and mail every user who is not
 * restricted; *mailed counts them. */
int privacy_publish(struct app *app, const char *version, const char *effective, int64_t *mailed,
		    struct errinfo *e);

/* --- requests (PRIV-11, AGE-3, OPS-6) ------------------------------------------------ */

/* A request logged by staff (from mail), or made in the studio. */
int privacy_request_log(struct app *app, const char *kind, const char *channel, const char *user_id,
			const char *customer, const char *contact_email, const char *actor,
			char id[40], struct errinfo *e);

/* A parent or guardian asks for a child's account to be deleted: a link is
 * mailed to parent_email. The answer is the same whether or not the child
 * exists. */
int privacy_parent_request(struct app *app, const char *child, const char *parent_email,
			   const char *ip, struct errinfo *e);

/* The parent used the link. When the address is the one the child gave at
 * sign-up, the account is erased at once and the receipt mailed to the
 * parent; otherwise the request stays open for staff. *erased says which. */
int privacy_request_verify(struct app *app, const char *token, bool *erased, struct errinfo *e);

/* Every request for staff, with deadlines (JSON array; caller decrefs). The
 * access is audited. */
int privacy_requests_list(struct app *app, const char *actor, int limit, json_t **out);
/* The caller's own privacy requests, with their 30-day deadlines (PRIV-11). */
int privacy_my_requests(struct app *app, const char *user_id, json_t **out);
/* When staff acted on or looked at user_id's data (SEC-5): a JSON array,
 * newest first, of {at, actor_role, event, reason}; the staff member's
 * identity and address are not in it. Caller decrefs. */
int privacy_access_log(struct app *app, const char *user_id, int limit, json_t **out);

int privacy_request_close(struct app *app, const char *actor, const char *id, const char *status,
			  const char *outcome, struct errinfo *e);

/* --- API customers' end users (PRIV-10) ------------------------------------------------ */

/* The keyed hash usage rows carry for a customer's `user` field:
 * blind_index(customer "\x1f" user). The text API computes the same. */
void privacy_end_user_hash(const struct crypto_keys *k, const char *customer, const char *user,
			   char out[CRYPTO_HASH_HEX]);

int privacy_subject_export(struct app *app, const char *customer, const char *user, json_t **out,
			   struct errinfo *e);
/* ERR_NOTFOUND when nothing is held about that end user. */
int privacy_subject_erase(struct app *app, const char *customer, const char *user, json_t **receipt,
			  struct errinfo *e);

#endif
