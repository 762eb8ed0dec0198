/*
 * payments.c: Coinbase Commerce charges and webhooks.
 *
 * The provider's API: POST {api_url}/charges with headers X-CC-Api-Key and
 * X-CC-Version, body {name, description, pricing_type: "fixed_price",
 * local_price: {amount, currency}, metadata: {...}}; the answer's data.code
 * and data.hosted_url identify the charge. Webhooks carry
 * {"event": {"id", "type", "data": {"code", "metadata": {...}}}} and the
 * header X-CC-Webhook-Signature: hex HMAC-SHA256 of the raw body.
 */
#include "service/payments.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define API_VERSION "2018-03-22"

int payments_parse_amount(const char *s, int64_t *cents)
{
	int64_t whole = 0;
	int digits = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++, digits++) {
		if (digits >= 9)
			return ERR_INVALID;
		whole = whole * 10 + (*p - '0');
	}
	int64_t frac = 0;
	int fd = 0;
	if (*p == '.') {
		p++;
		for (; isdigit((unsigned char)*p); p++, fd++) {
			if (fd == 2)
				return ERR_INVALID;
			frac = frac * 10 + (*p - '0');
		}
		if (!fd)
			return ERR_INVALID;
	}
	if (*p || !digits)
		return ERR_INVALID;
	if (fd == 1)
		frac *= 10;
	*cents = whole * 100 + frac;
	return *cents > 0 ? ERR_OK : ERR_INVALID;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	return buf_append(b, p, size * n) == ERR_OK ? size * n : 0;
}

/* POST json to url; the answer (at most 1 MiB) into out. Returns the HTTP
 * status, or a negative error when the provider cannot be reached. */
static int post_json(const char *url, const char *api_key, const char *json, struct buf *out)
{
	CURL *h = curl_easy_init();
	if (!h)
		return ERR_NOMEM;
	struct curl_slist *hdr = NULL;
	char key_header[CONFIG_STR + 32];
	snprintf(key_header, sizeof key_header, "X-CC-Api-Key: %s", api_key);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Accept: application/json");
	hdr = curl_slist_append(hdr, "X-CC-Version: " API_VERSION);
	hdr = curl_slist_append(hdr, key_header);
	sodium_memzero(key_header, sizeof key_header);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "atelier");
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		log_warn("payments.unreachable", "\"error\":\"%s\"", log_str(curl_easy_strerror(cc)));
		return ERR_BUSY;
	}
	return (int)status;
}

int payments_checkout(struct app *app, const char *owner, const char *email, const char *amount,
		      const char *currency, struct checkout *out, struct errinfo *e)
{
	const struct config *cfg = app->cfg;
	memset(out, 0, sizeof *out);
	if (!cfg->coinbase.api_key[0])
		return err_set(e, ERR_UNSUPPORTED, NULL, "payments are not configured on this server");
	int64_t cents;
	if (!amount || payments_parse_amount(amount, &cents))
		return err_set(e, ERR_INVALID, "amount",
			       "amount must be a positive number with at most 2 decimals, like \"10.00\"");
	if (!currency || strcmp(currency, cfg->billing.currency))
		return err_set(e, ERR_INVALID, "currency", "currency must be %s", cfg->billing.currency);
	if (cents < cfg->billing.min_purchase * 100 || cents > cfg->billing.max_purchase * 100)
		return err_set(e, ERR_INVALID, "amount", "amount must be between %lld and %lld %s",
			       (long long)cfg->billing.min_purchase, (long long)cfg->billing.max_purchase,
			       cfg->billing.currency);
	/* micro-credits = cents * credits_per_unit / 100 * 1e6 */
	int64_t credits = cents * cfg->billing.credits_per_unit * 10000;

	struct store_charge ch = {0};
	unsigned char r[12];
	crypto_random(r, sizeof r);
	char hex[25];
	crypto_hex(hex, r, sizeof r);
	snprintf(ch.ref, sizeof ch.ref, "ch_%s", hex);
	snprintf(ch.owner, sizeof ch.owner, "%s", owner);
	snprintf(ch.currency, sizeof ch.currency, "%s", currency);
	ch.credits = credits;
	ch.amount_cents = cents;

	char price[32], desc[96];
	snprintf(price, sizeof price, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
	snprintf(desc, sizeof desc, "%lld Atelier credits", (long long)(credits / 1000000));
	/* PAY-3: the amount, the email and our reference; nothing else */
	json_t *req = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "name", "Atelier credits",
				"description", desc, "pricing_type", "fixed_price", "local_price", "amount",
				price, "currency", currency, "metadata", "ref", ch.ref, "customer_email",
				email ? email : "");
	char *json = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!json)
		return ERR_NOMEM;
	char url[CONFIG_STR + 16];
	snprintf(url, sizeof url, "%s/charges", cfg->coinbase.api_url);
	struct buf ans;
	buf_init(&ans, 1 << 20);
	int status = post_json(url, cfg->coinbase.api_key, json, &ans);
	free(json);
	int rc = ERR_OK;
	if (status < 0) {
		rc = err_set(e, ERR_BUSY, NULL, "the payment provider cannot be reached; try again shortly");
		goto out;
	}
	if (status < 200 || status > 299) {
		log_warn("payments.charge_refused", "\"status\":%d", status);
		rc = err_set(e, ERR_BUSY, NULL, "the payment provider refused the charge (HTTP %d)", status);
		goto out;
	}
	json_error_t je;
	json_t *doc = json_loadb(ans.data ? ans.data : "", ans.len, 0, &je);
	const char *code = NULL, *hosted = NULL;
	json_unpack(doc, "{s:{s:s, s:s}}", "data", "code", &code, "hosted_url", &hosted);
	if (!code || !hosted || strlen(code) >= sizeof ch.code || strlen(hosted) >= sizeof out->hosted_url ||
	    strncmp(hosted, "https://", 8) != 0) {
		json_decref(doc);
		rc = err_set(e, ERR_BUSY, NULL, "the payment provider's answer was not understood");
		goto out;
	}
	snprintf(ch.code, sizeof ch.code, "%s", code);
	snprintf(out->code, sizeof out->code, "%s", code);
	snprintf(out->hosted_url, sizeof out->hosted_url, "%s", hosted);
	json_decref(doc);
	out->credits = credits;
	out->amount_cents = cents;
	snprintf(out->currency, sizeof out->currency, "%s", currency);

	struct db_conn *c = db_get(app->db);
	rc = store_charge_add(c, &ch, out->hosted_url);
	if (rc == ERR_OK)
		store_audit_add(c, owner, owner, "billing.checkout", NULL, NULL);
	db_put(c);
	if (rc)
		err_set(e, rc, NULL, "cannot record the charge");
out:
	buf_free(&ans);
	return rc;
}

static int check_signature(const char *secret, const char *body, size_t len, const char *sig)
{
	if (!secret[0] || !sig || strlen(sig) != 64)
		return ERR_CRYPTO;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	unsigned char given[crypto_auth_hmacsha256_BYTES];
	size_t glen = 0;
	if (sodium_hex2bin(given, sizeof given, sig, 64, NULL, &glen, NULL) != 0 || glen != sizeof given)
		return ERR_CRYPTO;
	return sodium_memcmp(mac, given, sizeof mac) == 0 ? ERR_OK : ERR_CRYPTO;
}

static void audit_refused(struct app *app, const char *why)
{
	struct db_conn *c = db_get(app->db);
	char detail[96];
	snprintf(detail, sizeof detail, "{\"reason\":\"%s\"}", why);
	store_audit_add(c, NULL, NULL, "billing.webhook_refused", detail, NULL);
	db_put(c);
	log_warn("billing.webhook_refused", "\"reason\":\"%s\"", why);
}

int payments_webhook(struct app *app, const char *body, size_t len, const char *signature,
		     enum webhook_outcome *outcome, struct errinfo *e)
{
	*outcome = WEBHOOK_NOTED;
	if (check_signature(app->cfg->coinbase.webhook_secret, body, len, signature)) {
		audit_refused(app, "bad_signature");
		return err_set(e, ERR_CRYPTO, NULL, "missing or invalid X-CC-Webhook-Signature");
	}
	json_error_t je;
	json_t *doc = json_loadb(body, len, 0, &je);
	const char *id = NULL, *type = NULL, *code = NULL;
	if (!doc || json_unpack(doc, "{s:{s:s, s:s, s:{s:s}}}", "event", "id", &id, "type", &type, "data",
				"code", &code) ||
	    strlen(id) > 100 || strlen(code) > 60) {
		json_decref(doc);
		audit_refused(app, "malformed");
		return err_set(e, ERR_INVALID, NULL, "malformed webhook event");
	}
	bool completes = !strcmp(type, "charge:confirmed") || !strcmp(type, "charge:resolved");
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	struct store_charge ch;
	rc = store_charge_by_code(c, code, &ch);
	if (rc == ERR_NOTFOUND) {
		db_rollback(c);
		db_put(c);
		json_decref(doc);
		audit_refused(app, "unknown_charge");
		return err_set(e, ERR_NOTFOUND, NULL, "no such charge");
	}
	if (rc)
		goto fail;
	rc = store_webhook_event_add(c, id);
	if (rc == ERR_EXISTS) {
		*outcome = WEBHOOK_REPEAT;
		db_rollback(c);
		rc = ERR_OK;
		goto out;
	}
	if (rc)
		goto fail;
	char status[24];
	snprintf(status, sizeof status, "%s", type + (strncmp(type, "charge:", 7) ? 0 : 7));
	if (completes) {
		char idem[96];
		snprintf(idem, sizeof idem, "charge:%s", code);
		rc = store_ledger_add(c, ch.owner, "purchase", ch.credits, idem, 0, NULL, NULL, NULL);
		if (rc == ERR_EXISTS) {
			/* confirmed, then resolved: the charge was credited already */
			*outcome = WEBHOOK_REPEAT;
			rc = ERR_OK;
		} else if (rc == ERR_OK) {
			char rid[40];
			unsigned char r[10];
			crypto_random(r, sizeof r);
			char hex[21];
			crypto_hex(hex, r, sizeof r);
			snprintf(rid, sizeof rid, "rc_%s", hex);
			rc = store_receipt_add(c, rid, ch.owner, code, ch.credits, ch.amount_cents, ch.currency);
			if (rc == ERR_OK)
				rc = store_audit_add(c, NULL, ch.owner, "billing.credited", NULL, NULL);
			*outcome = WEBHOOK_CREDITED;
		}
		if (rc)
			goto fail;
	}
	if ((rc = store_charge_set_status(c, code, status)) || (rc = db_commit(c)))
		goto fail;
	goto out;
fail:
	db_rollback(c);
	err_set(e, rc, NULL, "cannot record the payment");
out:
	db_put(c);
	json_decref(doc);
	return rc;
}
