/*
 * oidc.h: single sign-on with Google through OpenID Connect (ACC-6): the
 * authorization-code flow with PKCE (S256), as a confidential client, for
 * any OpenID provider named by [oidc] issuer (Google by default).
 *
 * Only the email is taken from the provider, and only when it says the
 * email is verified. An account with that (confirmed) email is signed in
 * as a password sign-in would be (two-factor still asked if it is on); with
 * no account, none is made: sign-up needs a birth date for the age rules
 * (AGE-1, AGE-2), which the provider does not give, so the browser goes to
 * the studio's sign-up with a short-lived, single-use token that proves
 * the email and lets POST /api/auth/signup skip the verification mail.
 *
 * Nothing here logs or audits a code, token, state, nonce, secret or email.
 */
#ifndef ATELIER_SERVICE_OIDC_H
#define ATELIER_SERVICE_OIDC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "service/accounts.h"
#include "service/app.h"
#include "store/db.h"

#define OIDC_FLOW_TTL 600    /* seconds from start to callback */
#define OIDC_SIGNUP_TTL 900  /* seconds a sign-up token works */
#define OIDC_CACHE_TTL 3600  /* seconds the discovery document and JWKS are kept */
#define OIDC_URL_MAX 2048

/* Whether single sign-on is configured ([oidc] client_id set). */
bool oidc_enabled(const struct app *app);

/* Begin a sign-in: a fresh state, nonce and PKCE verifier kept server-side
 * (oidc_flows, OIDC_FLOW_TTL, single use), and into url (n bytes) the
 * provider's authorization URL to send the browser to. ERR_NOTFOUND when
 * SSO is off; ERR_BUSY when the provider cannot be reached;
 * ERR_UNSUPPORTED when its discovery document does not fit. */
int oidc_start(struct app *app, char *url, size_t n, struct errinfo *e);

enum oidc_outcome {
	OIDC_SIGNED_IN,  /* login has the session */
	OIDC_TWO_FACTOR, /* login has the challenge for POST /api/auth/2fa/verify */
	OIDC_SIGN_UP,    /* signup_token is for POST /api/auth/signup */
	OIDC_OUTCOME__MAX
};

struct oidc_result {
	enum oidc_outcome outcome;
	struct acct_login login;
	char signup_token[ACCT_TOKEN];
};

/* Finish a sign-in at the callback with the query's code, state and error
 * (each may be NULL). The flow is taken (used up) first, whatever follows.
 * ERR_INVALID: missing, unknown, expired or used state, an error from the
 * provider, or a code it refuses; ERR_AUTH: an ID token that does not
 * verify (signature, issuer, audience, expiry, nonce); ERR_FORBIDDEN: no
 * verified email, or an account with it that was never confirmed;
 * ERR_BUSY: the provider cannot be reached. Every refusal is audited
 * (auth.sso_refused, with a reason and no personal data). */
int oidc_callback(struct app *app, const char *code, const char *state, const char *error,
		  const char *user_agent, const char *ip, const char *old_session_id,
		  struct oidc_result *out, struct errinfo *e);

/* The email a sign-up token stands for, into email (n bytes), to pre-fill
 * the form; the token stays usable. ERR_INVALID when unknown, used or
 * expired. */
int oidc_signup_email(struct app *app, const char *token, char *email, size_t n,
		      struct errinfo *e);

/* acct_signup's vouch hook (struct acct_signup); arg is the token. Takes
 * the token (single use) on c and checks email is the one it stands for:
 * ERR_INVALID otherwise. */
int oidc_signup_vouch(struct app *app, struct db_conn *c, const char *email, void *arg,
		      struct errinfo *e);

/* Forget a pending sign-up and its sealed email at once (after a sign-up
 * refused for age, so nothing about the person stays: AGE-1). */
int oidc_signup_discard(struct app *app, const char *token);

#endif
