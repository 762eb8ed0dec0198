/*
 * oidc.c: single sign-on through OpenID Connect (ACC-6). See oidc.h.
 *
 * The provider is found by discovery ({issuer}/.well-known/openid-configuration),
 * whose "issuer" must equal the configured one (OIDC Discovery 4.3), so a
 * document served from elsewhere cannot redirect us to another token
 * endpoint. The document and the JWKS are kept OIDC_CACHE_TTL seconds in
 * memory (a cache only: every node can refetch them); an ID token signed
 * with a key we do not know makes us refetch the JWKS once, which is how
 * a provider's key rotation reaches us.
 *
 * Endpoints must be https; plain http is accepted only on the loopback
 * address, for a provider run beside us in development and tests. We never
 * follow redirects and cap every answer at 1 MiB.
 *
 * The state, nonce and PKCE verifier are 256-bit random tokens. The state
 * is kept only as its SHA-256 (it travels in URLs); the flow row is taken
 * (read and deleted) in a transaction of its own before the provider is
 * called, so a state works once whatever happens next, and no transaction
 * is held open across the network. The ID token comes straight from the
 * token endpoint over TLS, and we still verify its signature and claims
 * (rejected alternative: trusting it because of the channel, which would
 * make a mistaken token endpoint or a proxy a silent sign-in).
 *
 * The pending sign-up keeps the verified email sealed under a vault key of
 * its own ("sso:<token hash>") that is destroyed with the row, so an
 * expired or used token leaves nothing readable.
 */
#include "service/oidc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "crypto/jwt.h"
#include "service/accounts_int.h"
#include "service/vault.h"
#include "store/store.h"

#define FETCH_MAX (1 << 20) /* bytes of any answer from the provider */
#define FETCH_TIMEOUT 10    /* seconds */
#define LEEWAY 60           /* seconds of clock skew allowed on ID tokens */
#define ENDPOINT 1024

/* --- the provider's documents, cached ------------------------------------ */

struct disco {
	char issuer[CONFIG_STR];
	char authorization_endpoint[ENDPOINT];
	char token_endpoint[ENDPOINT];
	char jwks_uri[ENDPOINT];
	bool basic; /* client_secret_basic, else client_secret_post */
};

static struct {
	pthread_mutex_t mu;
	struct disco d;
	int64_t d_at; /* 0: none */
	json_t *jwks; /* owned; handed out as deep copies */
	char jwks_uri[ENDPOINT];
	int64_t jwks_at;
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* https anywhere; http only to the loopback address. */
static bool url_allowed(const char *u)
{
	if (!strncmp(u, "https://", 8))
		return u[8] != '\0';
	static const char *const loop[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
	for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++) {
		size_t l = strlen(loop[i]);
		if (!strncmp(u, loop[i], l) && (u[l] == ':' || u[l] == '/' || u[l] == '\0'))
			return true;
	}
	return false;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) ? 0 : size * n;
}

/* GET url (form == NULL) or POST the urlencoded form, with HTTP Basic
 * credentials when user is not NULL. The body goes to out (capped),
 * the status to *status. ERR_BUSY when the provider cannot be reached. */
static int fetch(const char *url, const char *form, const char *user, const char *pass,
		 struct buf *out, long *status, struct errinfo *e)
{
	*status = 0;
	if (!url_allowed(url))
		return err_set(e, ERR_UNSUPPORTED, NULL,
			       "the sign-in provider's endpoints must use https");
	CURL *h = curl_easy_init();
	if (!h)
		return ERR_NOMEM;
	struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)FETCH_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "atelier");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	if (form) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	}
	if (user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
	}
	CURLcode cc = hdr ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		/* curl's constant name only: never the URL, which may carry secrets */
		log_warn("oidc.fetch", "\"curl\":%d,\"what\":\"%s\"", (int)cc, form ? "token" : "get");
		if (cc == CURLE_WRITE_ERROR)
			return err_set(e, ERR_UNSUPPORTED, NULL, "the sign-in provider sent an answer over 1 MiB");
		return err_set(e, ERR_BUSY, NULL, "the sign-in provider cannot be reached; try again in a moment");
	}
	return ERR_OK;
}

/* GET a JSON object. */
static int fetch_json(const char *url, json_t **out, struct errinfo *e)
{
	struct buf b;
	buf_init(&b, FETCH_MAX);
	long status;
	*out = NULL;
	int rc = fetch(url, NULL, NULL, NULL, &b, &status, e);
	if (rc == ERR_OK && status != 200) {
		log_warn("oidc.fetch", "\"status\":%ld,\"what\":\"get\"", status);
		rc = err_set(e, ERR_BUSY, NULL, "the sign-in provider answered %ld; try again later", status);
	}
	if (rc == ERR_OK) {
		*out = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
			rc = err_set(e, ERR_UNSUPPORTED, NULL, "the sign-in provider sent a document that is not JSON");
		}
	}
	buf_free(&b);
	return rc;
}

static bool has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s))
		return true;
	return false;
}

static int copy_endpoint(const json_t *doc, const char *name, char *out, struct errinfo *e)
{
	const char *v = json_string_value(json_object_get(doc, name));
	if (!v || strlen(v) >= ENDPOINT || !url_allowed(v))
		return err_set(e, ERR_UNSUPPORTED, NULL,
			       "the sign-in provider's discovery document has no usable %s", name);
	snprintf(out, ENDPOINT, "%s", v);
	return ERR_OK;
}

/* The discovery document of the configured issuer, from the cache or
 * fetched. */
static int discover(struct app *app, struct disco *d, struct errinfo *e)
{
	const char *issuer = app->cfg->oidc.issuer;
	int64_t now = time_now();
	pthread_mutex_lock(&cache.mu);
	bool hit = cache.d_at && now - cache.d_at < OIDC_CACHE_TTL && !strcmp(cache.d.issuer, issuer);
	if (hit)
		*d = cache.d;
	pthread_mutex_unlock(&cache.mu);
	if (hit)
		return ERR_OK;

	if (!url_allowed(issuer))
		return err_set(e, ERR_UNSUPPORTED, NULL, "[oidc] issuer must be an https URL");
	char url[ENDPOINT];
	size_t il = strlen(issuer);
	snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration",
		 (int)(il && issuer[il - 1] == '/' ? il - 1 : il), issuer);
	json_t *doc;
	int rc = fetch_json(url, &doc, e);
	if (rc)
		return rc;
	memset(d, 0, sizeof *d);
	const char *iss = json_string_value(json_object_get(doc, "issuer"));
	const json_t *pkce = json_object_get(doc, "code_challenge_methods_supported");
	const json_t *auth = json_object_get(doc, "token_endpoint_auth_methods_supported");
	if (!iss || strcmp(iss, issuer)) {
		rc = err_set(e, ERR_UNSUPPORTED, NULL,
			     "the sign-in provider's discovery document names another issuer");
		goto out;
	}
	snprintf(d->issuer, sizeof d->issuer, "%s", issuer);
	if ((rc = copy_endpoint(doc, "authorization_endpoint", d->authorization_endpoint, e)) ||
	    (rc = copy_endpoint(doc, "token_endpoint", d->token_endpoint, e)) ||
	    (rc = copy_endpoint(doc, "jwks_uri", d->jwks_uri, e)))
		goto out;
	if (json_is_array(pkce) && !has_string(pkce, "S256")) {
		rc = err_set(e, ERR_UNSUPPORTED, NULL, "the sign-in provider does not support PKCE with S256");
		goto out;
	}
	/* RFC 8414 / OIDC Discovery: absent means client_secret_basic */
	if (!json_is_array(auth) || has_string(auth, "client_secret_basic")) {
		d->basic = true;
	} else if (has_string(auth, "client_secret_post")) {
		d->basic = false;
	} else {
		rc = err_set(e, ERR_UNSUPPORTED, NULL,
			     "the sign-in provider accepts neither client_secret_basic nor client_secret_post");
		goto out;
	}
	pthread_mutex_lock(&cache.mu);
	cache.d = *d;
	cache.d_at = now;
	pthread_mutex_unlock(&cache.mu);
out:
	json_decref(doc);
	return rc;
}

/* The provider's JWKS (a copy the caller decrefs), refetched when force is
 * set, when the cache is older than OIDC_CACHE_TTL or for another URI. */
static int jwks_get(const struct disco *d, bool force, json_t **out, struct errinfo *e)
{
	int64_t now = time_now();
	*out = NULL;
	pthread_mutex_lock(&cache.mu);
	if (!force && cache.jwks && now - cache.jwks_at < OIDC_CACHE_TTL &&
	    !strcmp(cache.jwks_uri, d->jwks_uri))
		*out = json_deep_copy(cache.jwks);
	pthread_mutex_unlock(&cache.mu);
	if (*out)
		return ERR_OK;
	json_t *doc;
	int rc = fetch_json(d->jwks_uri, &doc, e);
	if (rc)
		return rc;
	if (!json_is_array(json_object_get(doc, "keys"))) {
		json_decref(doc);
		return err_set(e, ERR_UNSUPPORTED, NULL, "the sign-in provider's key set has no keys");
	}
	pthread_mutex_lock(&cache.mu);
	json_decref(cache.jwks);
	cache.jwks = json_deep_copy(doc);
	cache.jwks_at = now;
	snprintf(cache.jwks_uri, sizeof cache.jwks_uri, "%s", d->jwks_uri);
	pthread_mutex_unlock(&cache.mu);
	*out = doc;
	return ERR_OK;
}

/* --- helpers --------------------------------------------------------------- */

bool oidc_enabled(const struct app *app)
{
	return app->cfg->oidc.client_id[0] != '\0';
}

static void redirect_uri(const struct app *app, char *out, size_t n)
{
	if (app->cfg->oidc.redirect_url[0]) {
		snprintf(out, n, "%s", app->cfg->oidc.redirect_url);
		return;
	}
	char base[CONFIG_STR];
	acct_base_url(app, base, sizeof base);
	snprintf(out, n, "%s/api/auth/oidc/google/callback", base);
}

/* Append value percent-encoded (RFC 3986: unreserved characters kept). */
static int pct_encode(struct buf *b, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = ERR_OK;
	for (const unsigned char *p = (const unsigned char *)value; !rc && *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			rc = buf_append(b, p, 1);
		else
			rc = buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
	return rc;
}

/* Append "&name=value" (no "&" first), value percent-encoded. */
static int add_param(struct buf *b, const char *name, const char *value)
{
	int rc = buf_printf(b, "%s%s=", b->len ? "&" : "", name);
	return rc ? rc : pct_encode(b, value);
}

/* Record a refusal: reason is a short constant, never personal data. */
static void audit_refusal(struct app *app, const char *reason, const char *ip)
{
	char detail[96];
	snprintf(detail, sizeof detail, "{\"provider\":\"google\",\"reason\":\"%s\"}", reason);
	struct db_conn *c = db_get(app->db);
	store_audit_add(c, NULL, NULL, "auth.sso_refused", detail, ip);
	db_put(c);
	log_info("oidc.refused", "\"reason\":\"%s\"", reason);
}

/* Destroy pending sign-ups past their time, with their keys. */
static int purge_signups(struct app *app, struct db_conn *c, int64_t now)
{
	char hashes[32][65], owner[80];
	int n = 0, destroyed;
	int rc = store_oidc_signup_expired(c, now, hashes, 32, &n);
	for (int i = 0; rc == ERR_OK && i < n; i++) {
		snprintf(owner, sizeof owner, "sso:%s", hashes[i]);
		if (!(rc = vault_destroy(c, owner, &destroyed)))
			rc = store_oidc_signup_delete(c, hashes[i], NULL);
	}
	return rc;
}

/* --- start ------------------------------------------------------------------ */

int oidc_start(struct app *app, char *url, size_t n, struct errinfo *e)
{
	if (!oidc_enabled(app))
		return err_set(e, ERR_NOTFOUND, NULL, "single sign-on is not enabled on this server");
	struct disco d;
	int rc = discover(app, &d, e);
	if (rc)
		return rc;
	char state[CRYPTO_TOKEN_CHARS], nonce[CRYPTO_TOKEN_CHARS], verifier[CRYPTO_TOKEN_CHARS];
	char sh[CRYPTO_HASH_HEX], challenge[JWT_PKCE_CHALLENGE], ru[OIDC_URL_MAX];
	crypto_token(state, sizeof state, NULL);
	crypto_token(nonce, sizeof nonce, NULL);
	crypto_token(verifier, sizeof verifier, NULL);
	crypto_sha256_hex(sh, state, strlen(state));
	jwt_pkce_s256(verifier, challenge);
	redirect_uri(app, ru, sizeof ru);

	int64_t now = time_now();
	struct db_conn *c = db_get(app->db);
	if (!(rc = db_begin(c)) &&
	    !(rc = store_oidc_flow_put(c, sh, nonce, verifier, now, now + OIDC_FLOW_TTL)))
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);

	struct buf q;
	buf_init(&q, OIDC_URL_MAX);
	if (rc == ERR_OK &&
	    ((rc = add_param(&q, "response_type", "code")) || (rc = add_param(&q, "scope", "openid email")) ||
	     (rc = add_param(&q, "client_id", app->cfg->oidc.client_id)) ||
	     (rc = add_param(&q, "redirect_uri", ru)) || (rc = add_param(&q, "state", state)) ||
	     (rc = add_param(&q, "nonce", nonce)) || (rc = add_param(&q, "code_challenge", challenge)) ||
	     (rc = add_param(&q, "code_challenge_method", "S256"))))
		err_set(e, rc, NULL, "the sign-in URL is too long");
	if (rc == ERR_OK) {
		const char *ep = d.authorization_endpoint;
		if ((size_t)snprintf(url, n, "%s%c%s", ep, strchr(ep, '?') ? '&' : '?', q.data) >= n)
			rc = err_set(e, ERR_TOOBIG, NULL, "the sign-in URL is too long");
	}
	buf_free(&q);
	crypto_wipe(state, sizeof state);
	crypto_wipe(nonce, sizeof nonce);
	crypto_wipe(verifier, sizeof verifier);
	return rc;
}

/* --- callback --------------------------------------------------------------- */

/* Exchange code for tokens at the token endpoint; *id_token (caller frees)
 * gets the ID token. */
static int redeem(struct app *app, const struct disco *d, const char *code, const char *verifier,
		  char **id_token, struct errinfo *e)
{
	const struct config *cfg = app->cfg;
	char ru[OIDC_URL_MAX];
	redirect_uri(app, ru, sizeof ru);
	struct buf form, body, user, pass;
	buf_init(&form, 16384);
	buf_init(&body, FETCH_MAX);
	buf_init(&user, 1024);
	buf_init(&pass, 1024);
	long status = 0;
	json_t *j = NULL;
	*id_token = NULL;
	int rc;
	if ((rc = add_param(&form, "grant_type", "authorization_code")) ||
	    (rc = add_param(&form, "code", code)) || (rc = add_param(&form, "redirect_uri", ru)) ||
	    (rc = add_param(&form, "code_verifier", verifier))) {
		rc = err_set(e, ERR_INVALID, "code", "the authorization code is too long");
		goto out;
	}
	if (d->basic) {
		/* RFC 6749 2.3.1: both are form-urlencoded before Basic encoding */
		if ((rc = pct_encode(&user, cfg->oidc.client_id)) ||
		    (rc = pct_encode(&pass, cfg->oidc.client_secret)))
			goto out;
	} else if ((rc = add_param(&form, "client_id", cfg->oidc.client_id)) ||
		   (rc = add_param(&form, "client_secret", cfg->oidc.client_secret))) {
		goto out;
	}
	if ((rc = fetch(d->token_endpoint, form.data, d->basic ? (user.data ? user.data : "") : NULL,
			d->basic ? (pass.data ? pass.data : "") : NULL, &body, &status, e)))
		goto out;
	j = json_loadb(body.data ? body.data : "", body.len, JSON_REJECT_DUPLICATES, NULL);
	if (status != 200) {
		/* the provider's error code is a short ASCII constant; keep it
		 * only if it looks like one */
		const char *err = json_string_value(json_object_get(j, "error"));
		char code_s[48] = "unknown";
		if (err && strlen(err) < sizeof code_s && strspn(err, "abcdefghijklmnopqrstuvwxyz_") == strlen(err))
			snprintf(code_s, sizeof code_s, "%s", err);
		log_warn("oidc.token", "\"status\":%ld,\"error\":\"%s\"", status, code_s);
		rc = status >= 500 ? err_set(e, ERR_BUSY, NULL, "the sign-in provider failed (%ld); try again", status)
				   : err_set(e, ERR_INVALID, "code",
					     "the sign-in provider refused the authorization code (%s); start again",
					     code_s);
		goto out;
	}
	const char *tok = json_string_value(json_object_get(j, "id_token"));
	if (!tok) {
		rc = err_set(e, ERR_AUTH, "id_token", "the sign-in provider sent no ID token");
		goto out;
	}
	if (!(*id_token = strdup(tok)))
		rc = ERR_NOMEM;
out:
	json_decref(j);
	crypto_wipe(form.data ? form.data : (char *)"", form.len);
	crypto_wipe(pass.data ? pass.data : (char *)"", pass.len);
	crypto_wipe(body.data ? body.data : (char *)"", body.len);
	buf_free(&form);
	buf_free(&body);
	buf_free(&user);
	buf_free(&pass);
	return rc;
}

/* Verify the ID token and take its verified email into email (n bytes). */
static int verified_email(const struct disco *d, const struct config *cfg, const char *id_token,
			  const char *nonce, char *email, size_t n, const char **reason,
			  struct errinfo *e)
{
	json_t *jwks = NULL, *claims = NULL;
	*reason = "provider";
	int rc = jwks_get(d, false, &jwks, e);
	if (rc)
		goto out;
	*reason = "id_token";
	rc = jwt_verify_rs256(id_token, jwks, &claims, e);
	if (rc == ERR_NOTFOUND) { /* a key we do not know yet: rotated */
		json_decref(jwks);
		jwks = NULL;
		err_clear(e);
		*reason = "provider";
		if ((rc = jwks_get(d, true, &jwks, e)))
			goto out;
		*reason = "id_token";
		rc = jwt_verify_rs256(id_token, jwks, &claims, e);
	}
	/* a token that does not verify is a 401, whatever the cause */
	if (rc && rc != ERR_NOMEM)
		rc = ERR_AUTH;
	if (rc == ERR_OK)
		rc = jwt_check_id_claims(claims, d->issuer, cfg->oidc.client_id, nonce, time_now(), LEEWAY, e);
	if (rc)
		goto out;
	const char *em = json_string_value(json_object_get(claims, "email"));
	const json_t *ev = json_object_get(claims, "email_verified");
	/* Google sends a boolean; some providers the string "true" */
	bool verified = json_is_true(ev) || (json_is_string(ev) && !strcmp(json_string_value(ev), "true"));
	if (!em) {
		*reason = "no_email";
		rc = err_set(e, ERR_FORBIDDEN, NULL, "the sign-in provider did not share an email address");
	} else if (!verified) {
		*reason = "email_unverified";
		rc = err_set(e, ERR_FORBIDDEN, NULL, "the sign-in provider has not verified this email address");
	} else if ((rc = acct_email_normalize(em, email, n, e))) {
		*reason = "email_invalid";
	}
out:
	json_decref(jwks);
	json_decref(claims);
	return rc;
}

/* Keep a pending sign-up for email; its token into token. */
static int signup_offer(struct app *app, const char *email, char token[ACCT_TOKEN])
{
	char th[CRYPTO_HASH_HEX], owner[80];
	int64_t now = time_now();
	crypto_token(token, ACCT_TOKEN, NULL);
	acct_token_hash(token, th);
	snprintf(owner, sizeof owner, "sso:%s", th);
	struct buf sealed;
	buf_init(&sealed, 0);
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (!rc && !(rc = purge_signups(app, c, now)) &&
	    !(rc = vault_seal(c, app->keys, owner, "email", email, strlen(email), &sealed)) &&
	    !(rc = store_oidc_signup_put(c, th, sealed.data, sealed.len, now, now + OIDC_SIGNUP_TTL)) &&
	    !(rc = store_audit_add(c, NULL, NULL, "auth.sso_signup_offered", "{\"provider\":\"google\"}", NULL)))
		rc = db_commit(c);
	if (rc) {
		db_rollback(c);
		crypto_wipe(token, ACCT_TOKEN);
	}
	db_put(c);
	buf_free(&sealed);
	return rc;
}

int oidc_callback(struct app *app, const char *code, const char *state, const char *error,
		  const char *user_agent, const char *ip, const char *old_session_id,
		  struct oidc_result *out, struct errinfo *e)
{
	memset(out, 0, sizeof *out);
	if (!oidc_enabled(app))
		return err_set(e, ERR_NOTFOUND, NULL, "single sign-on is not enabled on this server");
	char nonce[128] = "", verifier[128] = "", sh[CRYPTO_HASH_HEX], email[256] = "";
	char *id_token = NULL;
	const char *reason = "state";
	int rc;

	/* the flow first, used up whatever comes next (even an error from the
	 * provider ends it) */
	if (!state || !*state || strlen(state) > 256) {
		rc = err_set(e, ERR_INVALID, "state", "the sign-in has no state; start again");
		goto out;
	}
	crypto_sha256_hex(sh, state, strlen(state));
	struct db_conn *c = db_get(app->db);
	if (!(rc = db_begin(c)) && !(rc = store_oidc_flow_take(c, sh, time_now(), nonce, verifier)))
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	if (rc == ERR_NOTFOUND) {
		rc = err_set(e, ERR_INVALID, "state",
			     "this sign-in is unknown, was already used or has expired; start again");
		goto out;
	}
	if (rc)
		goto out;
	if (error) {
		reason = "provider_error";
		char code_s[48] = "unknown";
		if (strlen(error) < sizeof code_s && strspn(error, "abcdefghijklmnopqrstuvwxyz_") == strlen(error))
			snprintf(code_s, sizeof code_s, "%s", error);
		rc = err_set(e, ERR_INVALID, "error", "sign-in with the provider was not completed (%s)", code_s);
		goto out;
	}
	if (!code || !*code) {
		reason = "no_code";
		rc = err_set(e, ERR_INVALID, "code", "the sign-in has no authorization code; start again");
		goto out;
	}
	struct disco d;
	reason = "provider";
	if ((rc = discover(app, &d, e)))
		goto out;
	reason = "token";
	if ((rc = redeem(app, &d, code, verifier, &id_token, e)))
		goto out;
	if ((rc = verified_email(&d, app->cfg, id_token, nonce, email, sizeof email, &reason, e)))
		goto out;

	reason = "account";
	rc = acct_login_external(app, email, "oidc", user_agent, ip, old_session_id, &out->login, e);
	if (rc == ERR_OK) {
		out->outcome = out->login.two_factor_required ? OIDC_TWO_FACTOR : OIDC_SIGNED_IN;
	} else if (rc == ERR_NOTFOUND) {
		err_clear(e);
		reason = "signup";
		if ((rc = signup_offer(app, email, out->signup_token)) == ERR_OK)
			out->outcome = OIDC_SIGN_UP;
	} else if (rc == ERR_FORBIDDEN) {
		reason = "unconfirmed_account";
	}
out:
	if (rc)
		audit_refusal(app, reason, ip);
	crypto_wipe(nonce, sizeof nonce);
	crypto_wipe(verifier, sizeof verifier);
	crypto_wipe(email, sizeof email);
	if (id_token) {
		crypto_wipe(id_token, strlen(id_token));
		free(id_token);
	}
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}

/* --- sign-up with a token --------------------------------------------------- */

/* Open the email of a pending sign-up on c. */
static int signup_open(struct app *app, struct db_conn *c, const char *token,
		       char th[CRYPTO_HASH_HEX], char *email, size_t n, struct errinfo *e)
{
	if (!acct_token_wellformed(token, NULL))
		return err_set(e, ERR_INVALID, "sso_token", "this sign-up link is not valid; sign in with Google again");
	acct_token_hash(token, th);
	char owner[80];
	snprintf(owner, sizeof owner, "sso:%s", th);
	struct buf sealed, plain;
	buf_init(&sealed, 4096);
	buf_init(&plain, 512);
	int rc = store_oidc_signup_get(c, th, time_now(), &sealed);
	if (rc == ERR_NOTFOUND)
		rc = err_set(e, ERR_INVALID, "sso_token",
			     "this sign-up link is not valid, was already used or has expired; sign in with Google again");
	else if (rc == ERR_OK &&
		 !(rc = vault_open(c, app->keys, owner, "email", sealed.data, sealed.len, &plain)))
		if ((size_t)snprintf(email, n, "%s", plain.data ? plain.data : "") >= n)
			rc = ERR_TOOBIG;
	crypto_wipe(plain.data ? plain.data : (char *)"", plain.len);
	buf_free(&sealed);
	buf_free(&plain);
	return rc;
}

int oidc_signup_email(struct app *app, const char *token, char *email, size_t n, struct errinfo *e)
{
	char th[CRYPTO_HASH_HEX];
	struct db_conn *c = db_get(app->db);
	int rc = signup_open(app, c, token, th, email, n, e);
	db_put(c);
	return rc;
}

int oidc_signup_vouch(struct app *app, struct db_conn *c, const char *email, void *arg,
		      struct errinfo *e)
{
	char th[CRYPTO_HASH_HEX], mine[256], owner[80];
	int64_t deleted = 0;
	int destroyed;
	int rc = signup_open(app, c, arg, th, mine, sizeof mine, e);
	if (rc)
		return rc;
	bool same = strlen(mine) == strlen(email) && crypto_equal(mine, email, strlen(email));
	crypto_wipe(mine, sizeof mine);
	if (!same)
		return err_set(e, ERR_INVALID, "email", "email must be the one the sign-in provider verified");
	snprintf(owner, sizeof owner, "sso:%s", th);
	if ((rc = store_oidc_signup_delete(c, th, &deleted)) || (rc = vault_destroy(c, owner, &destroyed)))
		return rc;
	if (deleted != 1) /* another sign-up used it meanwhile */
		return err_set(e, ERR_INVALID, "sso_token", "this sign-up link was already used");
	return ERR_OK;
}

int oidc_signup_discard(struct app *app, const char *token)
{
	if (!acct_token_wellformed(token, NULL))
		return ERR_OK;
	char th[CRYPTO_HASH_HEX], owner[80];
	int destroyed;
	acct_token_hash(token, th);
	snprintf(owner, sizeof owner, "sso:%s", th);
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (!rc && !(rc = store_oidc_signup_delete(c, th, NULL)) && !(rc = vault_destroy(c, owner, &destroyed)))
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}
