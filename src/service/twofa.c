/*
 * twofa.c: two-factor authentication (see twofa.h).
 *
 * A wrong code must be counted even though the request fails, so each check
 * runs in a transaction that is rolled back on failure, and the failure is
 * then recorded in a transaction of its own. The step a code matched is
 * stored with a compare-and-set (store_totp_use_step), so two requests that
 * race with the same code cannot both pass.
 */
#include "service/twofa.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "crypto/totp.h"
#include "service/mail.h"
#include "service/password.h"
#include "service/vault.h"
#include "store/store.h"

#define ISSUER "Atelier"

static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";

int twofa_recovery_normalize(const char *in, char out[TWOFA_RECOVERY_CHARS])
{
	char raw[11];
	size_t n = 0;
	for (const char *p = in ? in : ""; *p; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		char ch = (char)tolower((unsigned char)*p);
		if (!strchr(B32, ch) || n >= 10)
			return ERR_INVALID;
		raw[n++] = ch;
	}
	if (n != 10)
		return ERR_INVALID;
	snprintf(out, TWOFA_RECOVERY_CHARS, "%.5s-%.5s", raw, raw + 5);
	return ERR_OK;
}

static void recovery_hash(const struct app *app, const char *user_id, const char *code,
			  char out[CRYPTO_HASH_HEX])
{
	char in[STORE_ID + TWOFA_RECOVERY_CHARS + 16];
	int n = snprintf(in, sizeof in, "recovery\x1f%s\x1f%s", user_id, code);
	crypto_blind_index(app->keys, out, in, (size_t)n);
	crypto_wipe(in, sizeof in);
}

static void new_recovery_code(char out[TWOFA_RECOVERY_CHARS])
{
	unsigned char r[10];
	crypto_random(r, sizeof r);
	char raw[10];
	for (int i = 0; i < 10; i++)
		raw[i] = B32[r[i] & 31];
	snprintf(out, TWOFA_RECOVERY_CHARS, "%.5s-%.5s", raw, raw + 5);
	crypto_wipe(r, sizeof r);
	crypto_wipe(raw, sizeof raw);
}

static int throttled(struct db_conn *c, const char *user_id, struct errinfo *e)
{
	int64_t n = 0;
	int rc = store_totp_failures(c, user_id, time_now() - TWOFA_WINDOW_S, &n);
	if (rc)
		return rc;
	if (n >= TWOFA_MAX_FAILURES)
		return err_set(e, ERR_LIMIT, "code",
			       "too many wrong codes; wait a few minutes before trying again");
	return ERR_OK;
}

/* Count a wrong second factor, in its own transaction. */
static void record_failure(struct app *app, const char *user_id, const char *ip)
{
	struct db_conn *c = db_get(app->db);
	int64_t now = time_now();
	if (db_begin(c) == ERR_OK) {
		if (store_totp_fail(c, user_id, now - TWOFA_WINDOW_S, now) ||
		    store_audit_add(c, user_id, user_id, "auth.2fa_failed", NULL, ip) || db_commit(c))
			db_rollback(c);
	}
	db_put(c);
	log_warn("auth.2fa_failed", NULL);
}

/* Check a TOTP code against a sealed secret; on success *step_out. */
static int check_code(struct app *app, struct db_conn *c, const char *user_id, const char *purpose,
		      const struct buf *sealed, const char *code, uint64_t *step_out)
{
	struct buf key;
	buf_init(&key, 0);
	int rc = vault_open(c, app->keys, user_id, purpose, sealed->data, sealed->len, &key);
	if (rc == ERR_OK) {
		uint64_t step = key.len == TOTP_SECRET_BYTES
					? totp_verify((const unsigned char *)key.data, key.len, code, time_now(), 1)
					: 0;
		*step_out = step;
		rc = step ? ERR_OK : ERR_AUTH;
	}
	if (key.data)
		crypto_wipe(key.data, key.len);
	buf_free(&key);
	return rc;
}

/* The second factor of a user with two-factor on, in c's transaction:
 * a code (its step must be newer than the last used) or a recovery code
 * (deleted when used). ERR_AUTH when wrong. */
static int check_factor(struct app *app, struct db_conn *c, const char *user_id, const char *code,
			const char *recovery, struct errinfo *e)
{
	int rc = throttled(c, user_id, e);
	if (rc)
		return rc;
	if (code && *code) {
		struct buf sealed;
		buf_init(&sealed, 0);
		int64_t last = 0;
		uint64_t step = 0;
		rc = store_totp_get(c, user_id, &sealed, &last);
		if (rc == ERR_OK)
			rc = check_code(app, c, user_id, "totp_secret", &sealed, code, &step);
		buf_free(&sealed);
		if (rc == ERR_OK && (int64_t)step <= last)
			rc = ERR_AUTH; /* that step was used already: a replay */
		if (rc == ERR_OK && (rc = store_totp_use_step(c, user_id, (int64_t)step)) == ERR_EXISTS)
			rc = ERR_AUTH;
		if (rc == ERR_AUTH || rc == ERR_NOTFOUND)
			return err_set(e, ERR_AUTH, "code", "the code is wrong or was already used");
	} else if (recovery && *recovery) {
		char norm[TWOFA_RECOVERY_CHARS], h[CRYPTO_HASH_HEX];
		if (twofa_recovery_normalize(recovery, norm))
			return err_set(e, ERR_AUTH, "recovery_code", "the recovery code is wrong or was already used");
		recovery_hash(app, user_id, norm, h);
		crypto_wipe(norm, sizeof norm);
		rc = store_recovery_use(c, user_id, h);
		if (rc == ERR_NOTFOUND)
			return err_set(e, ERR_AUTH, "recovery_code", "the recovery code is wrong or was already used");
	} else {
		return err_set(e, ERR_INVALID, "code", "code or recovery_code is required");
	}
	if (rc == ERR_OK)
		rc = store_totp_fail_clear(c, user_id);
	return rc;
}

int twofa_enroll(struct app *app, const char *user_id, char uri[512], char **svg,
		 struct errinfo *e)
{
	*svg = NULL;
	unsigned char secret[TOTP_SECRET_BYTES];
	char b32[TOTP_B32_CHARS];
	struct store_user u;
	struct buf sealed;
	buf_init(&sealed, 0);
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = store_user_by_id(c, user_id, &u)))
		goto out;
	if (u.totp_enabled) {
		rc = err_set(e, ERR_EXISTS, NULL, "two-factor authentication is already on; disable it first");
		goto out;
	}
	crypto_random(secret, sizeof secret);
	if ((rc = vault_seal(c, app->keys, user_id, "totp_pending", secret, sizeof secret, &sealed)) ||
	    (rc = store_totp_pending_put(c, user_id, sealed.data, sealed.len, time_now())) ||
	    (rc = db_commit(c)))
		goto out;
	totp_base32(b32, sizeof b32, secret, sizeof secret);
	if ((rc = totp_uri(uri, 512, ISSUER, u.username, b32)))
		goto out;
	*svg = totp_qr_svg(uri);
	if (!*svg)
		rc = ERR_NOMEM;
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&sealed);
	crypto_wipe(secret, sizeof secret);
	crypto_wipe(b32, sizeof b32);
	return rc;
}

int twofa_confirm(struct app *app, const char *user_id, const char *session_id, const char *code,
		  const char *ip, char codes[TWOFA_RECOVERY_CODES][TWOFA_RECOVERY_CHARS],
		  struct errinfo *e)
{
	struct buf pending, key, sealed;
	buf_init(&pending, 0);
	buf_init(&key, 0);
	buf_init(&sealed, 0);
	char hashes[TWOFA_RECOVERY_CODES][CRYPTO_HASH_HEX];
	const char *hp[TWOFA_RECOVERY_CODES];
	int64_t created = 0, now = time_now();
	uint64_t step = 0;
	bool wrong = false;
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc || (rc = throttled(c, user_id, e)))
		goto out;
	rc = store_totp_pending_get(c, user_id, &pending, &created);
	if (rc == ERR_NOTFOUND || (rc == ERR_OK && created + TWOFA_PENDING_TTL_S < now)) {
		rc = err_set(e, ERR_NOTFOUND, NULL, "no two-factor enrolment is pending; enroll first");
		goto out;
	}
	if (rc)
		goto out;
	if ((rc = check_code(app, c, user_id, "totp_pending", &pending, code, &step))) {
		if (rc == ERR_AUTH) {
			wrong = true;
			err_set(e, ERR_AUTH, "code", "the code is wrong; check the time on the device");
		}
		goto out;
	}
	if ((rc = vault_open(c, app->keys, user_id, "totp_pending", pending.data, pending.len, &key)) ||
	    (rc = vault_seal(c, app->keys, user_id, "totp_secret", key.data, key.len, &sealed)) ||
	    (rc = store_totp_set(c, user_id, sealed.data, sealed.len, (int64_t)step)) ||
	    (rc = store_totp_pending_delete(c, user_id)))
		goto out;
	for (int i = 0; i < TWOFA_RECOVERY_CODES; i++) {
		new_recovery_code(codes[i]);
		recovery_hash(app, user_id, codes[i], hashes[i]);
		hp[i] = hashes[i];
	}
	if ((rc = store_recovery_replace(c, user_id, hp, TWOFA_RECOVERY_CODES, now)) ||
	    (rc = store_totp_fail_clear(c, user_id)) ||
	    (rc = acct_sessions_end_all(c, user_id, session_id)) ||
	    (rc = acct_alert(app, c, user_id, ACCT_ALERT_2FA_CHANGED, "Two-factor authentication was turned on.")) ||
	    (rc = store_audit_add(c, user_id, user_id, "auth.2fa_enabled", NULL, ip)) || (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
out:
	if (rc) {
		db_rollback(c);
		memset(codes, 0, sizeof(char[TWOFA_RECOVERY_CODES][TWOFA_RECOVERY_CHARS]));
	}
	db_put(c);
	if (wrong)
		record_failure(app, user_id, ip);
	if (key.data)
		crypto_wipe(key.data, key.len);
	buf_free(&pending);
	buf_free(&key);
	buf_free(&sealed);
	return rc;
}

int twofa_disable(struct app *app, const char *user_id, const char *password, size_t pwlen,
		  const char *code, const char *recovery_code, const char *ip, struct errinfo *e)
{
	struct store_user u;
	struct db_conn *c = db_get(app->db);
	int rc = store_user_by_id(c, user_id, &u);
	if (rc == ERR_OK && !u.totp_enabled)
		rc = err_set(e, ERR_NOTFOUND, NULL, "two-factor authentication is not on");
	if (rc == ERR_OK)
		rc = throttled(c, user_id, e);
	db_put(c);
	if (rc)
		return rc;
	if ((!code || !*code) && (!recovery_code || !*recovery_code))
		return err_set(e, ERR_INVALID, "code", "code (or recovery_code) is required");
	int rehash = 0;
	/* the Argon2id check runs without holding a connection */
	rc = password_verify(u.password_hash, password ? password : "", password ? pwlen : 0, &rehash);
	crypto_wipe(u.password_hash, sizeof u.password_hash);
	if (rc == ERR_AUTH) {
		record_failure(app, user_id, ip);
		return err_set(e, ERR_AUTH, "password", "the password is wrong");
	}
	if (rc)
		return rc;
	c = db_get(app->db);
	if ((rc = db_begin(c)))
		goto out;
	if ((rc = check_factor(app, c, user_id, code, recovery_code, e)))
		goto out;
	if ((rc = store_totp_set(c, user_id, NULL, 0, 0)) ||
	    (rc = store_recovery_replace(c, user_id, NULL, 0, 0)) ||
	    (rc = store_totp_pending_delete(c, user_id)) ||
	    (rc = acct_alert(app, c, user_id, ACCT_ALERT_2FA_CHANGED, "Two-factor authentication was turned off.")) ||
	    (rc = store_audit_add(c, user_id, user_id, "auth.2fa_disabled", NULL, ip)) || (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	if (rc == ERR_AUTH)
		record_failure(app, user_id, ip);
	return rc;
}

int twofa_login(struct app *app, const char *challenge, const char *code,
		const char *recovery_code, const char *user_agent, const char *ip,
		struct acct_login *out, struct errinfo *e)
{
	memset(out, 0, sizeof *out);
	char uid[STORE_ID] = "";
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = acct_challenge_peek(app, c, challenge ? challenge : "", uid))) {
		uid[0] = '\0';
		if (rc == ERR_AUTH)
			err_set(e, ERR_AUTH, "challenge", "the sign-in challenge is not valid or has expired; sign in again");
		goto out;
	}
	if ((rc = check_factor(app, c, uid, code, recovery_code, e)) || (rc = db_commit(c)))
		goto out;
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	if (rc == ERR_AUTH && uid[0])
		record_failure(app, uid, ip);
	if (rc)
		return rc;
	/* the factor was right: the challenge becomes a session (its own
	 * transaction; a challenge used meanwhile is ERR_AUTH there) */
	return acct_login_complete(app, challenge, user_agent, ip, out, e);
}
