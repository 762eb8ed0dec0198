/*
 * sessions.c: sign-in, the brute-force throttle, sessions, and resolving a
 * request's credentials (ACC-4, ACC-10, ACC-9's new-device alert).
 *
 * Sign-in answers the same, in the same time, whether or not the account
 * exists: an unknown login is checked against a dummy Argon2id hash with
 * the current parameters, and failures are counted under a key that exists
 * either way ("u:<id>" for an account, "l:<keyed hash of the login>" for
 * none), so even the lock-out says nothing about existence.
 *
 * Failures slow down per account and per client address: after [auth]
 * login_free_failures (per account) or ip_free_failures (per address)
 * failures inside failure_window, each further failure locks the key for
 * lockout_base, doubling up to lockout_max. A locked key is refused with
 * 429 and Retry-After before any hash is computed, so a locked flood costs
 * the server one indexed read per request. We delay rather than lock for
 * good, so an attacker cannot shut a user out for long.
 *
 * Session cookies are 256 random bits, kept only as SHA-256; each session
 * has its own CSRF token, which the router compares for every state change
 * made with the cookie. Sessions end after [auth] session_idle without a
 * request or session_absolute after sign-in, whichever comes first.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "service/accounts.h"
#include "service/accounts_int.h"
#include "service/device.h"
#include "service/mail.h"
#include "store/privacy.h"
#include "service/password.h"

#define CHALLENGE_TTL 300 /* seconds to finish a two-factor sign-in */
#define TOUCH_EVERY 60    /* seconds between writes of last_seen / last_used */

/* --- throttle ------------------------------------------------------------------ */

static void throttle_key(char *out, size_t n, const char *kind, const char *value)
{
	snprintf(out, n, "%s:%s", kind, value ? value : "");
}

bool acct_throttle_locked(struct app *app, struct db_conn *c, const char *kind, const char *value,
			  int64_t *retry_after)
{
	char key[160];
	throttle_key(key, sizeof key, kind, value);
	struct db_conn *own = c ? NULL : db_get(app->db);
	struct store_throttle t;
	int rc = store_throttle_get(c ? c : own, key, &t);
	db_put(own);
	int64_t now = time_now_ms();
	if (rc || t.locked_until <= now)
		return false;
	*retry_after = (t.locked_until - now + 999) / 1000;
	return true;
}

int acct_throttle_fail(struct app *app, struct db_conn *c, const char *kind, const char *value)
{
	const struct config *cfg = app->cfg;
	char key[160];
	throttle_key(key, sizeof key, kind, value);
	struct db_conn *own = c ? NULL : db_get(app->db);
	struct db_conn *cc = c ? c : own;
	struct store_throttle t;
	int64_t now = time_now_ms();
	int rc = store_throttle_get(cc, key, &t);
	if (rc == ERR_NOTFOUND || now - t.window_start > cfg->auth.failure_window * 1000) {
		t.failures = 0;
		t.window_start = now;
		t.locked_until = 0;
		rc = ERR_OK;
	}
	if (rc == ERR_OK) {
		int64_t free_n = !strcmp(kind, "ip") ? cfg->auth.ip_free_failures
						     : cfg->auth.login_free_failures;
		t.failures++;
		if (t.failures >= free_n) {
			int64_t shift = t.failures - free_n;
			int64_t delay = cfg->auth.lockout_base;
			while (shift-- > 0 && delay < cfg->auth.lockout_max)
				delay *= 2;
			if (delay > cfg->auth.lockout_max)
				delay = cfg->auth.lockout_max;
			t.locked_until = now + delay * 1000;
		}
		rc = store_throttle_put(cc, key, &t);
		/* now and then, forget what has aged out */
		if (rc == ERR_OK && (t.failures == 1))
			store_throttle_purge(cc, now - cfg->auth.failure_window * 1000, now);
	}
	db_put(own);
	return rc;
}

/* --- devices ---------------------------------------------------------------------- */

void acct_device_key(struct app *app, const char *ua, const char *ip, char dev[CRYPTO_HASH_HEX],
		     char *detail, size_t dn)
{
	char browser[32], os[32], net[64], joined[160];
	device_parse_ua(ua, browser, sizeof browser, os, sizeof os);
	device_network(ip, net, sizeof net);
	snprintf(joined, sizeof joined, "%s\x1f%s\x1f%s", browser, os, net);
	crypto_blind_index(app->keys, dev, joined, strlen(joined));
	if (detail)
		snprintf(detail, dn, "%s on %s, from network %s (approximate place)", browser, os, net);
}

/* --- sessions ---------------------------------------------------------------------- */

int acct_session_create(struct app *app, struct db_conn *c, const char *user_id,
			const char *user_agent, const char *ip, char *cookie_out, size_t cn,
			char *csrf_out, size_t tn, char *sid_out, size_t sn)
{
	if (cn < CRYPTO_TOKEN_CHARS || tn < CRYPTO_TOKEN_CHARS)
		return ERR_INTERNAL;
	struct store_session s = {0};
	char th[CRYPTO_HASH_HEX];
	int64_t now = time_now();
	acct_new_id(s.id, sizeof s.id, "s_");
	snprintf(s.user_id, sizeof s.user_id, "%s", user_id);
	crypto_token(s.csrf, sizeof s.csrf, NULL);
	crypto_token(cookie_out, cn, NULL);
	acct_token_hash(cookie_out, th);
	s.created_at = s.last_seen = now;
	s.expires_at = now + app->cfg->auth.session_absolute;
	device_parse_ua(user_agent, s.browser, sizeof s.browser, s.os, sizeof s.os);
	device_network(ip, s.network, sizeof s.network);
	int rc = store_session_insert(c, &s, th);
	if (rc)
		return rc;
	snprintf(csrf_out, tn, "%s", s.csrf);
	if (sid_out)
		snprintf(sid_out, sn, "%s", s.id);
	return ERR_OK;
}

int acct_sessions_end_all(struct db_conn *c, const char *user_id, const char *except_id)
{
	return store_session_delete_user(c, user_id, except_id);
}

/* Everything a successful sign-in does, on c inside the caller's
 * transaction: new session, device check and alert, forget failures,
 * end the session the browser came with, audit. */
static int login_finish(struct app *app, struct db_conn *c, const char *uid, const char *ua,
			const char *ip, const char *old_sid, struct acct_login *out, const char *how)
{
	char dev[CRYPTO_HASH_HEX], detail[200], key[STORE_ID + 4], audit[64];
	int is_new = 0, rc;
	if ((rc = acct_session_create(app, c, uid, ua, ip, out->cookie, sizeof out->cookie, out->csrf,
				      sizeof out->csrf, out->session_id, sizeof out->session_id)))
		return rc;
	acct_device_key(app, ua, ip, dev, detail, sizeof detail);
	if ((rc = store_device_add(c, uid, dev, time_now(), &is_new)))
		return rc;
	if (is_new && (rc = acct_alert(app, c, uid, ACCT_ALERT_NEW_DEVICE, detail)))
		return rc;
	snprintf(key, sizeof key, "u:%s", uid);
	if ((rc = store_throttle_delete(c, key)))
		return rc;
	if (old_sid && *old_sid && (rc = store_session_delete(c, old_sid, uid, NULL)))
		return rc;
	snprintf(audit, sizeof audit, "{\"via\":\"%s\",\"new_device\":%s}", how, is_new ? "true" : "false");
	if ((rc = acct_audit(c, uid, uid, "auth.login", audit, ip)))
		return rc;
	snprintf(out->user_id, sizeof out->user_id, "%s", uid);
	out->max_age = app->cfg->auth.session_absolute;
	return ERR_OK;
}

/* Find the account a login names: an email (has '@') or a username. On
 * no match, *tkey gets the throttle key of the login itself. */
static int find_login(struct app *app, struct db_conn *c, const char *login, struct store_user *u,
		      char *tkind, char *tval, size_t tn)
{
	char norm[256], bidx[CRYPTO_HASH_HEX];
	int rc = ERR_NOTFOUND;
	if (login && strchr(login, '@')) {
		if (acct_email_normalize(login, norm, sizeof norm, NULL) == ERR_OK) {
			crypto_blind_index(app->keys, bidx, norm, strlen(norm));
			rc = store_user_by_email(c, bidx, u);
		} else {
			snprintf(norm, sizeof norm, "%s", login);
		}
	} else if (login && acct_username_normalize(login, norm, sizeof norm, NULL) == ERR_OK) {
		rc = store_user_by_username(c, norm, u);
	} else {
		snprintf(norm, sizeof norm, "%.*s", 200, login ? login : "");
	}
	if (rc == ERR_OK) {
		tkind[0] = 'u';
		snprintf(tval, tn, "%s", u->id);
	} else {
		tkind[0] = 'l';
		crypto_blind_index(app->keys, bidx, norm, strlen(norm));
		snprintf(tval, tn, "%s", bidx);
	}
	tkind[1] = '\0';
	crypto_wipe(norm, sizeof norm);
	return rc == ERR_NOTFOUND ? ERR_OK : rc;
}

int acct_login(struct app *app, const char *login, const char *pw, size_t n,
	       const char *user_agent, const char *ip, const char *old_session_id,
	       struct acct_login *out, struct errinfo *e)
{
	memset(out, 0, sizeof *out);
	int64_t retry = 0;
	static const char locked_msg[] = "too many failed sign-ins; try again in %lld seconds";
	if (acct_throttle_locked(app, NULL, "ip", ip, &retry)) {
		out->retry_after = retry;
		return err_set(e, ERR_LIMIT, NULL, locked_msg, (long long)retry);
	}
	struct store_user u = {0};
	char tkind[2], tval[CRYPTO_HASH_HEX];
	struct db_conn *c = db_get(app->db);
	int rc = find_login(app, c, login, &u, tkind, tval, sizeof tval);
	db_put(c);
	if (rc)
		return rc;
	bool exists = tkind[0] == 'u';
	if (acct_throttle_locked(app, NULL, tkind, tval, &retry)) {
		out->retry_after = retry;
		return err_set(e, ERR_LIMIT, NULL, locked_msg, (long long)retry);
	}
	int rehash = 0;
	rc = password_verify(exists ? u.password_hash : NULL, pw, n, &rehash);
	if (rc == ERR_BUSY)
		return err_set(e, ERR_BUSY, NULL, "the server is busy; retry in a moment");
	if (rc == ERR_AUTH) {
		c = db_get(app->db);
		if (db_begin(c) == ERR_OK) {
			if (acct_throttle_fail(app, c, tkind, tval) || acct_throttle_fail(app, c, "ip", ip) ||
			    acct_audit(c, NULL, exists ? u.id : NULL, "auth.login_failed", NULL, ip) ||
			    db_commit(c))
				db_rollback(c);
		}
		db_put(c);
		return err_set(e, ERR_AUTH, NULL, "wrong login or password");
	}
	if (rc)
		return rc;

	/* a hash made with older parameters is remade while we hold the password */
	char newhash[PASSWORD_HASH_MAX] = "";
	if (rehash && password_hash(pw, n, newhash, NULL) != ERR_OK)
		newhash[0] = '\0';

	c = db_get(app->db);
	if ((rc = db_begin(c)))
		goto out;
	if (newhash[0] && (rc = store_user_set_password(c, u.id, newhash, time_now())))
		goto out;
	if (u.totp_enabled) {
		/* second step: the mail2fa branch's POST /api/auth/2fa/verify
		 * checks the code, then calls acct_login_complete */
		char th[CRYPTO_HASH_HEX];
		int64_t now = time_now();
		crypto_token(out->challenge, sizeof out->challenge, NULL);
		acct_token_hash(out->challenge, th);
		if ((rc = store_token_insert(c, th, "2fa", u.id, now, now + CHALLENGE_TTL)) ||
		    (rc = acct_audit(c, u.id, u.id, "auth.login_password_ok", "{\"next\":\"2fa\"}", ip)))
			goto out;
		out->two_factor_required = 1;
		snprintf(out->user_id, sizeof out->user_id, "%s", u.id);
	} else if ((rc = login_finish(app, c, u.id, user_agent, ip, old_session_id, out, "password"))) {
		goto out;
	}
	rc = db_commit(c);
	if (rc == ERR_OK)
		mail_kick(app->mail);
out:
	if (rc) {
		db_rollback(c);
		memset(out, 0, sizeof *out);
	}
	db_put(c);
	crypto_wipe(newhash, sizeof newhash);
	return rc;
}

int acct_login_external(struct app *app, const char *email, const char *how,
			const char *user_agent, const char *ip, const char *old_session_id,
			struct acct_login *out, struct errinfo *e)
{
	memset(out, 0, sizeof *out);
	char norm[256], bidx[CRYPTO_HASH_HEX];
	struct store_user u;
	int rc = acct_email_normalize(email, norm, sizeof norm, e);
	if (rc)
		return rc;
	crypto_blind_index(app->keys, bidx, norm, strlen(norm));
	crypto_wipe(norm, sizeof norm);
	struct db_conn *c = db_get(app->db);
	if ((rc = db_begin(c)))
		goto out;
	if ((rc = store_user_by_email(c, bidx, &u)))
		goto out;
	if (!u.email_verified_at) {
		rc = err_set(e, ERR_FORBIDDEN, NULL,
			     "an account with this email exists but its email was never confirmed; "
			     "confirm it from the mail we sent, or reset its password");
		goto out;
	}
	if (u.totp_enabled) {
		/* the provider stands for the password, never for the second factor */
		char th[CRYPTO_HASH_HEX], detail[64];
		int64_t now = time_now();
		crypto_token(out->challenge, sizeof out->challenge, NULL);
		acct_token_hash(out->challenge, th);
		snprintf(detail, sizeof detail, "{\"via\":\"%s\",\"next\":\"2fa\"}", how);
		if ((rc = store_token_insert(c, th, "2fa", u.id, now, now + CHALLENGE_TTL)) ||
		    (rc = acct_audit(c, u.id, u.id, "auth.login_external_ok", detail, ip)))
			goto out;
		out->two_factor_required = 1;
		snprintf(out->user_id, sizeof out->user_id, "%s", u.id);
	} else if ((rc = login_finish(app, c, u.id, user_agent, ip, old_session_id, out, how))) {
		goto out;
	}
	if ((rc = db_commit(c)) == ERR_OK)
		mail_kick(app->mail);
out:
	if (rc) {
		db_rollback(c);
		memset(out, 0, sizeof *out);
	}
	db_put(c);
	return rc;
}

int acct_challenge_peek(struct app *app, struct db_conn *c, const char *challenge,
			char user_id[STORE_ID])
{
	if (!acct_token_wellformed(challenge, NULL))
		return ERR_AUTH;
	char th[CRYPTO_HASH_HEX];
	int64_t exp, used;
	acct_token_hash(challenge, th);
	int rc = store_token_get(c, th, "2fa", user_id, STORE_ID, &exp, &used);
	if (rc == ERR_NOTFOUND || (rc == ERR_OK && (used || exp <= time_now())))
		return ERR_AUTH;
	return rc;
}

int acct_login_complete(struct app *app, const char *challenge, const char *user_agent,
			const char *ip, struct acct_login *out, struct errinfo *e)
{
	memset(out, 0, sizeof *out);
	char uid[STORE_ID], th[CRYPTO_HASH_HEX];
	int64_t changed = 0;
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = acct_challenge_peek(app, c, challenge, uid))) {
		err_set(e, rc, "challenge", "the sign-in challenge is not valid or has expired; sign in again");
		goto out;
	}
	acct_token_hash(challenge, th);
	if ((rc = store_token_use(c, th, time_now(), &changed)))
		goto out;
	if (!changed) {
		rc = err_set(e, ERR_AUTH, "challenge", "the sign-in challenge was already used");
		goto out;
	}
	if ((rc = login_finish(app, c, uid, user_agent, ip, NULL, out, "2fa")) || (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
out:
	if (rc) {
		db_rollback(c);
		memset(out, 0, sizeof *out);
	}
	db_put(c);
	return rc;
}

int acct_logout(struct app *app, const char *user_id, const char *session_id, const char *ip)
{
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc == ERR_OK && !(rc = store_session_delete(c, session_id, user_id, NULL)) &&
	    !(rc = acct_audit(c, user_id, user_id, "auth.logout", NULL, ip)))
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

int acct_sessions_list(struct app *app, const char *user_id,
		       void (*fn)(const struct store_session *s, void *arg), void *arg)
{
	struct db_conn *c = db_get(app->db);
	int rc = store_session_list(c, user_id, fn, arg);
	db_put(c);
	return rc;
}

int acct_session_end(struct app *app, const char *user_id, const char *session_id,
		     const char *ip, struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	int64_t n = 0;
	int rc = db_begin(c);
	if (rc || (rc = store_session_delete(c, session_id, user_id, &n)))
		goto out;
	if (!n) {
		rc = err_set(e, ERR_NOTFOUND, NULL, "no such session");
		goto out;
	}
	if ((rc = acct_audit(c, user_id, user_id, "auth.session_ended", NULL, ip)) || (rc = db_commit(c)))
		goto out;
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

/* --- resolving credentials ------------------------------------------------------------ */

const char *acct_cookie_name(const struct app *app, bool tls)
{
	return tls || app->cfg->auth.cookie_secure ? "__Host-atelier_session" : "atelier_session";
}

static int by_session(struct app *app, const char *cookie, struct acct_principal *p)
{
	if (!acct_token_wellformed(cookie, NULL))
		return ERR_AUTH;
	char th[CRYPTO_HASH_HEX];
	acct_token_hash(cookie, th);
	struct store_session s;
	struct db_conn *c = db_get(app->db);
	int rc = store_session_by_hash(c, th, &s);
	int64_t now = time_now();
	if (rc == ERR_OK) {
		int64_t idle = app->cfg->auth.session_idle;
		if (now >= s.expires_at || now - s.last_seen >= idle) {
			store_session_delete(c, s.id, NULL, NULL);
			rc = ERR_AUTH;
		} else {
			int64_t every = idle / 2 < TOUCH_EVERY ? idle / 2 : TOUCH_EVERY;
			if (now - s.last_seen >= every)
				store_session_touch(c, s.id, now);
		}
	}
	db_put(c);
	if (rc == ERR_NOTFOUND)
		return ERR_AUTH;
	if (rc)
		return rc;
	p->via = 1;
	p->role = acct_role_parse(s.role);
	snprintf(p->user_id, sizeof p->user_id, "%s", s.user_id);
	snprintf(p->session_id, sizeof p->session_id, "%s", s.id);
	snprintf(p->csrf, sizeof p->csrf, "%s", s.csrf);
	p->scopes = ACCT_SCOPE_GENERATE | ACCT_SCOPE_READ | ACCT_SCOPE_PRIVACY;
	return ERR_OK;
}

/* The key cache. A key check is one SHA-256 and one indexed lookup; on this
 * machine that lookup is a fifth of what a small request costs, so a key that
 * was just checked is remembered for [auth] key_cache_ttl (default 2 s).
 * Revoking a key or changing a role on this node flushes the cache at once
 * (acct_key_cache_flush); another node sharing the database sees the change
 * within the TTL. Only valid keys are cached, so guessing costs a lookup. */
#define KC_SLOTS 4096 /* direct-mapped by hash */
#define KC_LOCKS 64

struct kc_entry {
	char hash[CRYPTO_HASH_HEX];
	char key_id[STORE_ID];
	char user_id[STORE_ID];
	enum acct_role role;
	unsigned scopes;
	int restricted; /* the owner's processing is restricted (PRIV-6) */
	int64_t expires_at, last_used, fetched_ms;
	uint64_t gen;
};

static struct kc_entry kc[KC_SLOTS];
static pthread_mutex_t kc_mu[KC_LOCKS];
static pthread_once_t kc_once = PTHREAD_ONCE_INIT;
static uint64_t kc_gen = 1; /* entries of an older generation are void */

static void kc_init(void)
{
	for (int i = 0; i < KC_LOCKS; i++)
		pthread_mutex_init(&kc_mu[i], NULL);
}

void acct_key_cache_flush(void)
{
	__atomic_add_fetch(&kc_gen, 1, __ATOMIC_SEQ_CST);
}

static size_t kc_slot(const char *hash)
{
	size_t h = 0;
	for (int i = 0; i < 8; i++)
		h = h * 16 + (size_t)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return h & (KC_SLOTS - 1);
}

/* 1 and *out filled when hash is cached and fresh. */
static int kc_get(const char *hash, int64_t ttl_ms, struct kc_entry *out)
{
	size_t i = kc_slot(hash);
	uint64_t gen = __atomic_load_n(&kc_gen, __ATOMIC_SEQ_CST);
	int hit = 0;
	pthread_mutex_lock(&kc_mu[i % KC_LOCKS]);
	if (kc[i].gen == gen && !memcmp(kc[i].hash, hash, CRYPTO_HASH_HEX - 1) &&
	    time_now_ms() - kc[i].fetched_ms < ttl_ms) {
		*out = kc[i];
		hit = 1;
	}
	pthread_mutex_unlock(&kc_mu[i % KC_LOCKS]);
	return hit;
}

static void kc_put(const struct kc_entry *e)
{
	size_t i = kc_slot(e->hash);
	pthread_mutex_lock(&kc_mu[i % KC_LOCKS]);
	kc[i] = *e;
	pthread_mutex_unlock(&kc_mu[i % KC_LOCKS]);
}

static int by_key(struct app *app, const char *authz, struct acct_principal *p)
{
	if (strncasecmp(authz, "Bearer ", 7) != 0)
		return ERR_AUTH;
	const char *secret = authz + 7;
	while (*secret == ' ')
		secret++;
	if (!acct_token_wellformed(secret, "sk-"))
		return ERR_AUTH;
	pthread_once(&kc_once, kc_init);
	struct kc_entry ce;
	acct_token_hash(secret, ce.hash);
	int64_t now = time_now(), ttl_ms = app->cfg->auth.key_cache_ttl * 1000;
	if (!kc_get(ce.hash, ttl_ms, &ce)) {
		/* the one indexed lookup */
		uint64_t gen = __atomic_load_n(&kc_gen, __ATOMIC_SEQ_CST);
		struct store_key k;
		struct db_conn *c = db_get(app->db);
		int rc = store_key_by_hash(c, ce.hash, &k);
		int64_t since = 0;
		if (rc == ERR_OK)
			rc = store_restriction_get(c, k.user_id, &since);
		db_put(c);
		ce.restricted = since != 0;
		if (rc == ERR_NOTFOUND)
			return ERR_AUTH;
		if (rc)
			return rc;
		snprintf(ce.key_id, sizeof ce.key_id, "%s", k.id);
		snprintf(ce.user_id, sizeof ce.user_id, "%s", k.user_id);
		ce.role = acct_role_parse(k.role);
		ce.scopes = k.scopes;
		ce.expires_at = k.expires_at;
		ce.last_used = k.last_used;
		ce.fetched_ms = time_now_ms();
		ce.gen = gen; /* a flush during the lookup voids this entry */
		if (ttl_ms > 0)
			kc_put(&ce);
	}
	if (ce.expires_at && now >= ce.expires_at)
		return ERR_AUTH;
	if (now - ce.last_used >= TOUCH_EVERY) {
		/* last use is written at most once a minute a key */
		struct db_conn *c = db_get(app->db);
		store_key_touch(c, ce.key_id, now);
		db_put(c);
		ce.last_used = now;
		if (ttl_ms > 0)
			kc_put(&ce);
	}
	p->via = 2;
	p->restricted = ce.restricted;
	p->role = ce.role;
	snprintf(p->user_id, sizeof p->user_id, "%s", ce.user_id);
	snprintf(p->key_id, sizeof p->key_id, "%s", ce.key_id);
	p->scopes = ce.scopes;
	return ERR_OK;
}

int acct_authenticate(struct app *app, const char *cookie, const char *authorization,
		      struct acct_principal *p)
{
	memset(p, 0, sizeof *p);
	p->restricted = -1;
	if (authorization)
		return by_key(app, authorization, p);
	if (cookie)
		return by_session(app, cookie, p);
	return ERR_OK;
}
