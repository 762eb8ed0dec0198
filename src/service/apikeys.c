/*
 * apikeys.c: API keys (ACC-7). The secret is "sk-" and 43 base64url
 * characters (256 random bits), shown once; only its SHA-256 is stored, so
 * checking a key is one indexed lookup (no slow hash is needed for a
 * 256-bit random secret). Revocation deletes the row: the next request with
 * the key is refused.
 */
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "service/accounts.h"
#include "service/accounts_int.h"
#include "service/mail.h"

int acct_key_create(struct app *app, const char *user_id, const char *name, unsigned scopes,
		    int64_t expires_at, const char *ip, char secret[ACCT_KEY_SECRET],
		    struct store_key *out, struct errinfo *e)
{
	size_t nl = name ? strlen(name) : 0;
	if (nl < 1 || nl > 64)
		return err_set(e, ERR_INVALID, "name", "name must have 1 to 64 characters");
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return err_set(e, ERR_INVALID, "name", "name has a control character");
	unsigned all = ACCT_SCOPE_GENERATE | ACCT_SCOPE_READ | ACCT_SCOPE_PRIVACY;
	if (!scopes || (scopes & ~all))
		return err_set(e, ERR_INVALID, "scopes", "scopes must be a non-empty list of generate, read, privacy");
	int64_t now = time_now();
	if (expires_at && expires_at <= now)
		return err_set(e, ERR_INVALID, "expires_at", "expires_at must be in the future");

	struct store_key k = {0};
	char th[CRYPTO_HASH_HEX], detail[96];
	acct_new_id(k.id, sizeof k.id, "k_");
	snprintf(k.user_id, sizeof k.user_id, "%s", user_id);
	snprintf(k.name, sizeof k.name, "%s", name);
	k.scopes = scopes;
	k.created_at = now;
	k.expires_at = expires_at;
	crypto_token(secret, ACCT_KEY_SECRET, "sk-");
	snprintf(k.prefix, sizeof k.prefix, "%.8s", secret);
	acct_token_hash(secret, th);
	snprintf(detail, sizeof detail, "{\"key\":\"%s\",\"scopes\":%u}", k.id, scopes);

	struct db_conn *c = db_get(app->db);
	int64_t count = 0;
	int rc = db_begin(c);
	if (rc || (rc = store_key_count(c, user_id, &count)))
		goto out;
	if (count >= ACCT_KEYS_MAX) {
		rc = err_set(e, ERR_LIMIT, NULL, "you have %d API keys, the most allowed; revoke one first",
			     ACCT_KEYS_MAX);
		goto out;
	}
	char alert[128];
	snprintf(alert, sizeof alert, "key \"%s\" (%s…)", k.name, k.prefix);
	if ((rc = store_key_insert(c, &k, th)) ||
	    (rc = acct_alert(app, c, user_id, ACCT_ALERT_KEY_CREATED, alert)) ||
	    (rc = acct_audit(c, user_id, user_id, "key.created", detail, ip)) || (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
	*out = k;
out:
	if (rc) {
		db_rollback(c);
		crypto_wipe(secret, ACCT_KEY_SECRET);
		secret[0] = '\0';
	}
	db_put(c);
	return rc;
}

int acct_key_list(struct app *app, const char *user_id,
		  void (*fn)(const struct store_key *k, void *arg), void *arg)
{
	struct db_conn *c = db_get(app->db);
	int rc = store_key_list(c, user_id, fn, arg);
	db_put(c);
	return rc;
}

int acct_key_revoke(struct app *app, const char *user_id, const char *key_id, const char *ip,
		    struct errinfo *e)
{
	char detail[96];
	snprintf(detail, sizeof detail, "{\"key\":\"%.40s\"}", key_id);
	for (const char *p = key_id; *p; p++) /* IDs are ours: k_ and hex */
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == 'k' || *p == '_'))
			return err_set(e, ERR_NOTFOUND, NULL, "no such API key");
	struct db_conn *c = db_get(app->db);
	int64_t n = 0;
	int rc = db_begin(c);
	if (rc || (rc = store_key_delete(c, key_id, user_id, &n)))
		goto out;
	if (!n) {
		rc = err_set(e, ERR_NOTFOUND, NULL, "no such API key");
		goto out;
	}
	if ((rc = acct_audit(c, user_id, user_id, "key.revoked", detail, ip)) || (rc = db_commit(c)))
		goto out;
	acct_key_cache_flush(); /* revoked at once, cache or not */
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}
