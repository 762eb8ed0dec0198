/* payments_test.c: Coinbase Commerce checkout against a local HTTP server
 * that checks exactly what the real API would receive, and webhooks signed
 * with a test secret (PAY-2, PAY-3, PAY-5). The provider itself cannot be
 * reached from here; this server stands in for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "crypto/crypto.h"
#include "service/app.h"
#include "service/credits.h"
#include "service/payments.h"
#include "store/db.h"

static struct config cfg;
static struct app app;
static char dir[64];
static struct MHD_Daemon *provider;
static int provider_port;
static char seen_body[4096];
static char seen_key[128], seen_version[64], seen_ctype[64], seen_path[64], seen_method[16];
static int provider_status = 201;

struct upload { char buf[4096]; size_t n; };

static enum MHD_Result on_provider(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *data,
				   size_t *size, void **ctx)
{
	struct upload *u = *ctx;
	if (!u) {
		*ctx = calloc(1, sizeof *u);
		return MHD_YES;
	}
	if (*size) {
		size_t n = *size < sizeof u->buf - u->n - 1 ? *size : sizeof u->buf - u->n - 1;
		memcpy(u->buf + u->n, data, n);
		u->n += n;
		*size = 0;
		return MHD_YES;
	}
	snprintf(seen_body, sizeof seen_body, "%s", u->buf);
	snprintf(seen_path, sizeof seen_path, "%s", url);
	snprintf(seen_method, sizeof seen_method, "%s", method);
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CC-Api-Key");
	snprintf(seen_key, sizeof seen_key, "%s", v ? v : "");
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CC-Version");
	snprintf(seen_version, sizeof seen_version, "%s", v ? v : "");
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	snprintf(seen_ctype, sizeof seen_ctype, "%s", v ? v : "");
	static const char answer[] =
		"{\"data\":{\"id\":\"4f1e1c1e-0000-4000-8000-000000000001\",\"code\":\"TESTCODE1\","
		"\"hosted_url\":\"https://commerce.coinbase.com/charges/TESTCODE1\","
		"\"pricing\":{\"local\":{\"amount\":\"10.00\",\"currency\":\"USD\"}}}}";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof answer - 1, (void *)answer,
								 MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)provider_status, r);
	MHD_destroy_response(r);
	free(u);
	*ctx = NULL;
	return ok;
}

static int setup(void **st)
{
	assert_true(sodium_init() >= 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	provider = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_provider, NULL,
				    MHD_OPTION_END);
	assert_non_null(provider);
	provider_port = MHD_get_daemon_info(provider, MHD_DAEMON_INFO_BIND_PORT)->port;
	snprintf(dir, sizeof dir, "/tmp/atelier-pay-XXXXXX");
	assert_non_null(mkdtemp(dir));
	config_defaults(&cfg);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", provider_port);
	struct errinfo e;
	assert_int_equal(config_set(&cfg, "coinbase", "api_url", url, &e), 0);
	assert_int_equal(config_set(&cfg, "coinbase", "api_key", "test-api-key", &e), 0);
	assert_int_equal(config_set(&cfg, "coinbase", "webhook_secret", "whsec-test", &e), 0);
	char p[128];
	snprintf(p, sizeof p, "%s/p.db", dir);
	struct db_options o = {.backend = "sqlite", .path = p, .pool = 8, .busy_timeout_ms = 10000};
	assert_int_equal(db_open(&app.db, &o, &e), ERR_OK);
	app.cfg = &cfg;
	return 0;
}

static int teardown(void **st)
{
	MHD_stop_daemon(provider);
	db_close(app.db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* REQ: PAY-2, PAY-3 — the charge carries only the amount, the email and our reference. */
static void checkout_sends_only_what_is_needed(void **st)
{
	struct checkout co;
	struct errinfo e = {0};
	assert_int_equal(payments_checkout(&app, "user-1", "buyer@example.com", "10.00", "USD", &co, &e), ERR_OK);
	assert_string_equal(co.code, "TESTCODE1");
	assert_string_equal(co.hosted_url, "https://commerce.coinbase.com/charges/TESTCODE1");
	assert_int_equal(co.credits, 1000 * CREDITS_UNIT); /* 10 USD at 100 credits per USD */
	assert_string_equal(seen_method, "POST");
	assert_string_equal(seen_path, "/charges");
	assert_string_equal(seen_key, "test-api-key");
	assert_string_equal(seen_version, "2018-03-22");
	assert_string_equal(seen_ctype, "application/json");
	json_error_t je;
	json_t *b = json_loads(seen_body, 0, &je);
	assert_non_null(b);
	assert_int_equal(json_object_size(b), 5);
	assert_string_equal(json_string_value(json_object_get(b, "pricing_type")), "fixed_price");
	json_t *lp = json_object_get(b, "local_price");
	assert_string_equal(json_string_value(json_object_get(lp, "amount")), "10.00");
	assert_string_equal(json_string_value(json_object_get(lp, "currency")), "USD");
	json_t *md = json_object_get(b, "metadata");
	assert_int_equal(json_object_size(md), 2);
	assert_string_equal(json_string_value(json_object_get(md, "customer_email")), "buyer@example.com");
	assert_non_null(strstr(json_string_value(json_object_get(md, "ref")), "ch_"));
	assert_null(strstr(seen_body, "user-1")); /* no internal identifier leaves */
	assert_non_null(json_object_get(b, "name"));
	assert_non_null(json_object_get(b, "description"));
	json_decref(b);
}

static void checkout_bad_input(void **st)
{
	struct checkout co;
	struct errinfo e = {0};
	static const char *const bad[] = {"-5", "0", "0.00", "abc", "1.234", "1e3", "", "99999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(payments_checkout(&app, "u", "a@b.c", bad[i], "USD", &co, &e), ERR_INVALID);
		assert_string_equal(e.field, "amount");
	}
	assert_int_equal(payments_checkout(&app, "u", "a@b.c", "10", "XYZ", &co, &e), ERR_INVALID);
	assert_string_equal(e.field, "currency");
	assert_int_equal(payments_checkout(&app, "u", "a@b.c", "20000", "USD", &co, &e), ERR_INVALID);
	/* a provider that refuses gives a clear error and records nothing */
	provider_status = 401;
	assert_int_equal(payments_checkout(&app, "u", "a@b.c", "10", "USD", &co, &e), ERR_BUSY);
	provider_status = 201;
}

static void sign(const char *body, char hex[65])
{
	unsigned char mac[32];
	crypto_auth_hmacsha256_state s;
	crypto_auth_hmacsha256_init(&s, (const unsigned char *)"whsec-test", 10);
	crypto_auth_hmacsha256_update(&s, (const unsigned char *)body, strlen(body));
	crypto_auth_hmacsha256_final(&s, mac);
	sodium_bin2hex(hex, 65, mac, 32);
}

static char *event(const char *id, const char *type, const char *code)
{
	static char b[512];
	snprintf(b, sizeof b,
		 "{\"id\":1,\"scheduled_for\":\"2026-11-23T10:00:00Z\",\"event\":{\"id\":\"%s\",\"type\":\"%s\","
		 "\"api_version\":\"2018-03-22\",\"data\":{\"code\":\"%s\",\"metadata\":{}}}}",
		 id, type, code);
	return b;
}

static int64_t balance(const char *owner)
{
	int64_t b;
	assert_int_equal(credits_balance(app.db, owner, &b), ERR_OK);
	assert_int_equal(credits_check(app.db, owner), ERR_OK);
	return b;
}

/* REQ: PAY-2 — signature verified; credited once per charge. */
static void webhook_credits_once(void **st)
{
	struct errinfo e = {0};
	enum webhook_outcome out;
	char sig[65];
	const char *body = event("evt-1", "charge:confirmed", "TESTCODE1");
	/* forged: wrong signature, no signature, tampered body */
	assert_int_equal(payments_webhook(&app, body, strlen(body), "00", &out, &e), ERR_CRYPTO);
	assert_int_equal(payments_webhook(&app, body, strlen(body), NULL, &out, &e), ERR_CRYPTO);
	sign(body, sig);
	char tampered[512];
	snprintf(tampered, sizeof tampered, "%s", body);
	tampered[strlen(tampered) - 3] = ' ';
	assert_int_equal(payments_webhook(&app, tampered, strlen(tampered), sig, &out, &e), ERR_CRYPTO);
	assert_int_equal(balance("user-1"), 0);

	assert_int_equal(payments_webhook(&app, body, strlen(body), sig, &out, &e), ERR_OK);
	assert_int_equal(out, WEBHOOK_CREDITED);
	assert_int_equal(balance("user-1"), 1000 * CREDITS_UNIT);
	/* the same event again */
	assert_int_equal(payments_webhook(&app, body, strlen(body), sig, &out, &e), ERR_OK);
	assert_int_equal(out, WEBHOOK_REPEAT);
	/* resolved after confirmed: another event, same charge */
	body = event("evt-2", "charge:resolved", "TESTCODE1");
	sign(body, sig);
	assert_int_equal(payments_webhook(&app, body, strlen(body), sig, &out, &e), ERR_OK);
	assert_int_equal(out, WEBHOOK_REPEAT);
	assert_int_equal(balance("user-1"), 1000 * CREDITS_UNIT);
}

static void webhook_refuses_unknown_and_malformed(void **st)
{
	struct errinfo e = {0};
	enum webhook_outcome out;
	char sig[65];
	const char *body = event("evt-9", "charge:confirmed", "NOSUCHCODE");
	sign(body, sig);
	assert_int_equal(payments_webhook(&app, body, strlen(body), sig, &out, &e), ERR_NOTFOUND);
	const char *junk = "{\"event\":{\"id\":5}}";
	sign(junk, sig);
	assert_int_equal(payments_webhook(&app, junk, strlen(junk), sig, &out, &e), ERR_INVALID);
	/* other event types are noted, not credited */
	body = event("evt-10", "charge:pending", "TESTCODE1");
	sign(body, sig);
	assert_int_equal(payments_webhook(&app, body, strlen(body), sig, &out, &e), ERR_OK);
	assert_int_equal(out, WEBHOOK_NOTED);
	assert_int_equal(balance("user-1"), 1000 * CREDITS_UNIT);
	/* every refusal left an audit line */
	struct db_conn *c = db_get(app.db);
	struct db_stmt *s;
	assert_int_equal(db_prepare(c, "SELECT COUNT(*) FROM audit WHERE event = 'billing.webhook_refused'", &s), 0);
	assert_int_equal(db_step(s), 1);
	assert_true(db_col_int(s, 0) >= 5);
	db_done(s);
	db_put(c);
}

static int credited;
static const char *race_body;
static char race_sig[65];
static void *deliver(void *arg)
{
	struct errinfo e = {0};
	enum webhook_outcome out;
	if (payments_webhook(&app, race_body, strlen(race_body), race_sig, &out, &e) == ERR_OK &&
	    out == WEBHOOK_CREDITED)
		__atomic_add_fetch(&credited, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* REQ: PAY-5 — a webhook delivered 5 times in parallel credits once. */
static void parallel_deliveries_credit_once(void **st)
{
	struct checkout co;
	struct errinfo e = {0};
	/* a second charge: the stub answers with the same code, so make a new one by hand */
	struct db_conn *c = db_get(app.db);
	assert_int_equal(db_exec(c, "INSERT INTO charges(ref, owner, code, credits, amount_cents, currency, "
				    "status, created_at, updated_at) VALUES ('ch_x', 'user-2', 'RACE1', 5000000, 5, 'USD', 'created', 0, 0)"),
			 ERR_OK);
	db_put(c);
	(void)co;
	(void)e;
	race_body = strdup(event("evt-race", "charge:confirmed", "RACE1"));
	sign(race_body, race_sig);
	pthread_t t[5];
	for (int i = 0; i < 5; i++)
		pthread_create(&t[i], NULL, deliver, NULL);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(credited, 1);
	assert_int_equal(balance("user-2"), 5000000);
	free((void *)race_body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checkout_sends_only_what_is_needed),
		cmocka_unit_test(checkout_bad_input),
		cmocka_unit_test(webhook_credits_once),
		cmocka_unit_test(webhook_refuses_unknown_and_malformed),
		cmocka_unit_test(parallel_deliveries_credit_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
