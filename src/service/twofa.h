/*
 * twofa.h: optional two-factor authentication with TOTP and recovery codes
 * (ACC-5).
 *
 * Enrolment is two steps: enroll makes a secret, kept pending (sealed under
 * the user's key) and shown once as an otpauth:// URI and its QR code;
 * confirm checks a first code from the app, turns two-factor on and returns
 * ten single-use recovery codes, kept only as keyed hashes. A sign-in with
 * two-factor on is finished by twofa_login with the challenge that
 * acct_login returned and a code or a recovery code.
 *
 * Codes: ±1 step of 30 s; a step once used is refused (no replay); a wrong
 * code is ERR_AUTH; after TWOFA_MAX_FAILURES wrong codes in
 * TWOFA_WINDOW_S the user's second factor is ERR_LIMIT until the window
 * ends, whatever the code. Nothing here logs a code or a secret.
 */
#ifndef ATELIER_SERVICE_TWOFA_H
#define ATELIER_SERVICE_TWOFA_H

#include "base/err.h"
#include "service/accounts.h"
#include "service/app.h"

#define TWOFA_RECOVERY_CODES 10
#define TWOFA_RECOVERY_CHARS 12 /* "xxxxx-xxxxx" and a NUL */
#define TWOFA_MAX_FAILURES 5
#define TWOFA_WINDOW_S 300
#define TWOFA_PENDING_TTL_S 900 /* a pending enrolment must be confirmed within this */

/* Start (or restart) enrolment: uri gets the otpauth:// URI (512 bytes),
 * *svg its QR code (caller frees). ERR_EXISTS when two-factor is already on. */
int twofa_enroll(struct app *app, const char *user_id, char uri[512], char **svg,
		 struct errinfo *e);

/* Confirm enrolment with a first code; on success two-factor is on, the
 * user's other sessions are ended, an alert is mailed, and codes gets the
 * recovery codes (shown once). ERR_NOTFOUND with no enrolment pending,
 * ERR_AUTH for a wrong code, ERR_LIMIT when throttled. */
int twofa_confirm(struct app *app, const char *user_id, const char *session_id, const char *code,
		  const char *ip, char codes[TWOFA_RECOVERY_CODES][TWOFA_RECOVERY_CHARS],
		  struct errinfo *e);

/* Turn two-factor off: needs the password and a current code (or a
 * recovery code). ERR_AUTH when either is wrong; ERR_NOTFOUND when it is
 * not on. */
int twofa_disable(struct app *app, const char *user_id, const char *password, size_t pwlen,
		  const char *code, const char *recovery_code, const char *ip, struct errinfo *e);

/* Finish a sign-in: check the code (or recovery code) of the challenge's
 * user, then acct_login_complete. ERR_AUTH for an unknown challenge or a
 * wrong or replayed code; ERR_LIMIT when throttled. */
int twofa_login(struct app *app, const char *challenge, const char *code,
		const char *recovery_code, const char *user_agent, const char *ip,
		struct acct_login *out, struct errinfo *e);

/* Normalise a typed recovery code ("ABCDE FGHIJ", "abcde-fghij") into out
 * (TWOFA_RECOVERY_CHARS): ERR_INVALID when it cannot be one. */
int twofa_recovery_normalize(const char *in, char out[TWOFA_RECOVERY_CHARS]);

#endif
