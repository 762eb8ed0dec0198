/*
 * accounts.h: accounts, sign-in, sessions, API keys, roles and security
 * alerts (ACC-1..4, ACC-7..10, AGE-1, AGE-2).
 *
 * The rules live here; api/ only turns JSON into these calls and their
 * results back into JSON, and store/ only runs the SQL. Every write that
 * must be whole runs in one transaction on one connection; mail is queued
 * in the same transaction (mail_enqueue), so what rolls back sends nothing.
 *
 * Nothing here logs or audits an email, a password, a token or a key.
 */
#ifndef ATELIER_SERVICE_ACCOUNTS_H
#define ATELIER_SERVICE_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "service/app.h"
#include "store/store.h"

#define ACCT_TOKEN 64 /* room for a 43-character token and its prefix */

/* Roles, least to most privileged. */
enum acct_role { ACCT_ROLE_NONE, ACCT_ROLE_USER, ACCT_ROLE_SUPPORT, ACCT_ROLE_ADMIN, ACCT_ROLE__MAX };

/* API key scopes (bits); the same values as http.h's enum scope. */
enum acct_scope { ACCT_SCOPE_GENERATE = 1, ACCT_SCOPE_READ = 2, ACCT_SCOPE_PRIVACY = 4 };

/* "user" → ACCT_ROLE_USER …; ACCT_ROLE_NONE for anything else. */
enum acct_role acct_role_parse(const char *s);
const char *acct_role_name(enum acct_role r);

/* Load the password block list and limits. Call once before serving. */
int acct_init(struct app *app, struct errinfo *e);

/* --- validation (pure, unit-tested) ------------------------------------- */

/* Trim and lower-case an email into out and check its form. */
int acct_email_normalize(const char *in, char *out, size_t n, struct errinfo *e);

/* Lower-case a username into out and check it: 3..32 of [a-z0-9_.-]. */
int acct_username_normalize(const char *in, char *out, size_t n, struct errinfo *e);

/* Age in whole years on (y, m, d) of someone born on birth ("YYYY-MM-DD").
 * ERR_INVALID when birth is not a real date, or is in the future. */
int acct_age(const char *birth, int y, int m, int d, int *age, struct errinfo *e);

/* --- sign-up, verification, passwords ------------------------------------ */

struct acct_signup {
	const char *email, *username, *birth_date;
	const char *password;
	size_t password_len;
	const char *parent_email; /* 13 to 17 only */
	bool parent_consent;
	const char *name, *phone, *company, *billing_address; /* optional */
	const char *user_agent, *ip;
	/* for `atelier admin create-user`: a staff account, email taken as
	 * verified and no birth date asked (the operator vouches for an adult) */
	const char *role;
	bool staff;
	/* single sign-on (service/oidc.c): when set, called inside the
	 * sign-up's transaction with the normalized email, before the account
	 * is written. ERR_OK vouches that the email is the caller's and
	 * verified: the account is created verified, with no verification
	 * mail. Any other code aborts the sign-up with it. */
	int (*vouch)(struct app *app, struct db_conn *c, const char *email, void *arg,
		     struct errinfo *e);
	void *vouch_arg;
};

/* Create an account and mail a verification link. Under 13: ERR_UNSUPPORTED
 * and nothing stored or logged (AGE-1). ERR_EXISTS for a taken email or
 * username, ERR_INVALID / ERR_UNSUPPORTED (422) for bad or refused input. */
int acct_signup(struct app *app, const struct acct_signup *s, char user_id[STORE_ID],
		struct errinfo *e);

/* Use an email-verification token. ERR_INVALID when unknown, used or expired. */
int acct_verify_email(struct app *app, const char *token, struct errinfo *e);

/* Mail a reset link if the email has an account; always ERR_OK otherwise,
 * and takes at least the same time either way. */
int acct_password_forgot(struct app *app, const char *email, const char *ip);

/* Set a new password with a reset token; ends every session of the user. */
int acct_password_reset(struct app *app, const char *token, const char *pw, size_t n,
			const char *ip, struct errinfo *e);

/* Change the password of a signed-in user who knows the current one; ends
 * the user's other sessions. */
int acct_password_change(struct app *app, const char *user_id, const char *session_id,
			 const char *cur, size_t curn, const char *pw, size_t n, const char *ip,
			 struct errinfo *e);

/* --- sign-in and sessions ------------------------------------------------- */

struct acct_login {
	int two_factor_required;     /* then only challenge is set */
	char challenge[ACCT_TOKEN];  /* for POST /api/auth/2fa/verify */
	char cookie[ACCT_TOKEN];     /* the session cookie's value */
	char csrf[ACCT_TOKEN];
	char session_id[STORE_ID];
	char user_id[STORE_ID];
	int64_t max_age;             /* seconds, for the cookie */
	int64_t retry_after;         /* seconds, with ERR_LIMIT */
};

/* Sign in by email or username. ERR_AUTH for a wrong login or password (the
 * same answer, in the same time, whether or not the account exists),
 * ERR_LIMIT with retry_after while failures delay the account or address,
 * ERR_BUSY when the hashing slots are full. With two-factor on, sets
 * two_factor_required and a challenge instead of a session. old_session_id
 * (may be NULL) is ended: a sign-in always gets a new session ID. */
int acct_login(struct app *app, const char *login, const char *pw, size_t n,
	       const char *user_agent, const char *ip, const char *old_session_id,
	       struct acct_login *out, struct errinfo *e);

/* Sign in the account whose email is email, vouched for as verified by a
 * single sign-on provider (service/oidc.c): what acct_login does once the
 * password is right (a two-factor challenge if the user has it on), with
 * via = how in the audit. ERR_NOTFOUND when no account has the email;
 * ERR_FORBIDDEN when one has it but never confirmed it (it may have been
 * made by someone else, so it is not handed to the provider's user). */
int acct_login_external(struct app *app, const char *email, const char *how,
			const char *user_agent, const char *ip, const char *old_session_id,
			struct acct_login *out, struct errinfo *e);

/* The user of a pending two-factor challenge, without using it:
 * ERR_AUTH when unknown, used or expired. */
int acct_challenge_peek(struct app *app, struct db_conn *c, const char *challenge,
			char user_id[STORE_ID]);

/* Finish a sign-in whose second factor the caller has checked: use the
 * challenge, create the session (acct_session_create), remember the device
 * and mail an alert if it is new, clear the failure counter, audit.
 * One transaction. ERR_AUTH if the challenge was used meanwhile. */
int acct_login_complete(struct app *app, const char *challenge, const char *user_agent,
			const char *ip, struct acct_login *out, struct errinfo *e);

/* Create a session for user_id on connection c (in the caller's
 * transaction): cookie_out gets the cookie value, csrf_out its CSRF token,
 * sid_out (may be NULL) its public ID. */
int acct_session_create(struct app *app, struct db_conn *c, const char *user_id,
			const char *user_agent, const char *ip, char *cookie_out, size_t cn,
			char *csrf_out, size_t tn, char *sid_out, size_t sn);

/* End every session of user_id but except_id (may be NULL), on c: after a
 * password change, a role change, or enabling two-factor. */
int acct_sessions_end_all(struct db_conn *c, const char *user_id, const char *except_id);

/* Sign out: end the session. */
int acct_logout(struct app *app, const char *user_id, const char *session_id, const char *ip);

/* The user's sessions. */
int acct_sessions_list(struct app *app, const char *user_id,
		       void (*fn)(const struct store_session *s, void *arg), void *arg);

/* End one of the user's sessions: ERR_NOTFOUND if it is not theirs. */
int acct_session_end(struct app *app, const char *user_id, const char *session_id,
		     const char *ip, struct errinfo *e);

/* --- who is calling ------------------------------------------------------- */

struct acct_principal {
	int via;                /* 0 none, 1 session, 2 API key */
	enum acct_role role;
	char user_id[STORE_ID];
	char session_id[STORE_ID];
	char key_id[STORE_ID];
	unsigned scopes;
	char csrf[ACCT_TOKEN];
	int restricted;         /* -1 unknown, else whether processing is restricted (PRIV-6) */
};

/* The session cookie's name: "__Host-atelier_session" under TLS (or with
 * [auth] cookie_secure), else "atelier_session". */
const char *acct_cookie_name(const struct app *app, bool tls);

/* Resolve a request's credentials: cookie (the session cookie's value, or
 * NULL) and authorization (the Authorization header, or NULL; it wins when
 * both are present). ERR_OK with via 0 when neither is presented; ERR_AUTH
 * when one is presented and is malformed, unknown, expired or revoked. One
 * indexed lookup; activity is written at most once a minute. */
int acct_authenticate(struct app *app, const char *cookie, const char *authorization,
		      struct acct_principal *p);

/* Forget every cached API-key check at once (see sessions.c): after a key
 * is revoked, a role changes, or an account is erased. */
void acct_key_cache_flush(void);

/* --- profile ------------------------------------------------------------- */

enum acct_field {
	ACCT_F_USERNAME,
	ACCT_F_NAME,
	ACCT_F_PHONE,
	ACCT_F_COMPANY,
	ACCT_F_BILLING_ADDRESS,
	ACCT_F__MAX
};

/* The JSON name of a profile field ("billing_address"); the field a name
 * stands for, or ACCT_F__MAX. */
const char *acct_field_name(enum acct_field f);
enum acct_field acct_field_parse(const char *name);

/* A user's account as they see it. Strings are arena-owned; absent
 * optional fields are NULL. */
struct acct_me {
	struct store_user user;
	const char *email;
	const char *field[ACCT_F__MAX]; /* [ACCT_F_USERNAME] = user.username */
};

int acct_me(struct app *app, const char *user_id, struct arena *a, struct acct_me *out,
	    struct errinfo *e);

/* Change the fields whose set[] is true to val[] (NULL clears an optional
 * field). Checks every value first, then writes them in one transaction. */
struct acct_patch {
	bool set[ACCT_F__MAX];
	const char *val[ACCT_F__MAX];
};
int acct_update(struct app *app, const char *user_id, const struct acct_patch *p, const char *ip,
		struct errinfo *e);

/* --- API keys -------------------------------------------------------------- */

#define ACCT_KEY_SECRET (3 + CRYPTO_TOKEN_CHARS) /* "sk-" + 43 characters + NUL */
#define ACCT_KEYS_MAX 50                          /* per user */

/* Create a key; the secret is written to secret (shown once, never stored).
 * expires_at 0: never. Mails an alert (ACC-9). */
int acct_key_create(struct app *app, const char *user_id, const char *name, unsigned scopes,
		    int64_t expires_at, const char *ip, char secret[ACCT_KEY_SECRET],
		    struct store_key *out, struct errinfo *e);

int acct_key_list(struct app *app, const char *user_id,
		  void (*fn)(const struct store_key *k, void *arg), void *arg);

/* Revoke at once: ERR_NOTFOUND if it is not the user's. */
int acct_key_revoke(struct app *app, const char *user_id, const char *key_id, const char *ip,
		    struct errinfo *e);

/* --- staff ------------------------------------------------------------------ */

/* Users whose username contains q, or (email not NULL) the one with that
 * email. The access is audited with the actor (SEC-5). */
int acct_admin_search(struct app *app, const char *actor, const char *q, const char *email,
		      int limit, void (*fn)(const struct store_user *u, void *arg), void *arg,
		      const char *ip, struct errinfo *e);

/* Change a user's role; ends their sessions (a new session ID at a change of
 * privilege). ERR_FORBIDDEN for one's own role. Audited. */
int acct_admin_set_role(struct app *app, const char *actor, const char *user_id,
			const char *role, const char *ip, struct errinfo *e);

/* Audit rows (newest first, filtered when subject / event are not NULL);
 * the viewing is itself audited. */
int acct_admin_audit(struct app *app, const char *actor, const char *subject, const char *event,
		     int limit, void (*fn)(const struct store_audit_row *r, void *arg), void *arg,
		     const char *ip);

/* Counts for the console's metrics card (users, live sessions, image jobs,
 * open privacy requests): figures only, nobody in them, so not audited. */
int acct_admin_counts(struct app *app, struct store_counts *out);

/* --- security alerts (ACC-9) ------------------------------------------------- */

enum acct_alert {
	ACCT_ALERT_NEW_DEVICE,
	ACCT_ALERT_PASSWORD_CHANGED,
	ACCT_ALERT_2FA_CHANGED,
	ACCT_ALERT_KEY_CREATED,
	ACCT_ALERT__MAX
};

/* Queue a security alert to the user's email on c (in the caller's
 * transaction). detail is a short line for the mail body ("Firefox on Linux,
 * network 198.51.100.0/24"), never a secret; may be NULL. */
int acct_alert(struct app *app, struct db_conn *c, const char *user_id, enum acct_alert kind,
	       const char *detail);

#endif
