/* jwt_test.c: RS256 ID-token verification against keys and tokens made by
 * Node's crypto (jwt_fixtures.h, from gen_jwt_fixtures.mjs), and the
 * OpenID Connect claim checks. REQ: ACC-6 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/jwt.h"
#include "unit/crypto/jwt_fixtures.h"

static json_t *jwks;

static int setup(void **state)
{
	jwks = json_loads(FIX_JWKS, 0, NULL);
	return jwks ? 0 : -1;
}

static int teardown(void **state)
{
	json_decref(jwks);
	return 0;
}

static int verify(const char *tok, json_t **claims)
{
	struct errinfo e = {0};
	return jwt_verify_rs256(tok, jwks, claims, &e);
}

static void good_token_verifies(void **state)
{
	json_t *c = NULL;
	assert_int_equal(verify(FIX_GOOD, &c), ERR_OK);
	assert_string_equal(json_string_value(json_object_get(c, "email")), "alice@example.org");
	struct errinfo e = {0};
	assert_int_equal(jwt_check_id_claims(c, "https://issuer.test", "client-1", "n-0S6_WzA2Mj", FIX_NOW, 60, &e),
			 ERR_OK);
	json_decref(c);
	/* no kid in the header: the key that verifies is found */
	assert_int_equal(verify(FIX_NO_KID, &c), ERR_OK);
	json_decref(c);
}

static void tampered_tokens_fail(void **state)
{
	json_t *c = NULL;
	assert_int_equal(verify(FIX_TAMPERED_CLAIMS, &c), ERR_CRYPTO);
	assert_null(c);
	assert_int_equal(verify(FIX_TAMPERED_SIG, &c), ERR_CRYPTO);
	assert_int_equal(verify(FIX_OTHER_KEY, &c), ERR_CRYPTO); /* signed by k2's key, claims kid k1 */
	assert_int_equal(verify(FIX_UNKNOWN_KID, &c), ERR_NOTFOUND);
	assert_null(c);
}

static void other_algorithms_are_refused(void **state)
{
	json_t *c = NULL;
	assert_int_equal(verify(FIX_ALG_NONE, &c), ERR_UNSUPPORTED);
	assert_int_equal(verify(FIX_ALG_HS256, &c), ERR_UNSUPPORTED);
	/* a 1024-bit key is never used */
	assert_int_equal(verify(FIX_SMALL_KEY, &c), ERR_NOTFOUND);
	assert_null(c);
}

static void malformed_tokens_are_invalid(void **state)
{
	json_t *c = NULL;
	const char *bad[] = {"", "abc", "a.b", "a.b.c.d", "!!!.e30.e30", "e30.e30.e30", NULL};
	for (int i = 0; bad[i]; i++) {
		int rc = verify(bad[i], &c);
		assert_true(rc == ERR_INVALID || rc == ERR_UNSUPPORTED);
		assert_null(c);
	}
}

static void claims_are_checked(void **state)
{
	json_t *c = NULL;
	assert_int_equal(verify(FIX_GOOD, &c), ERR_OK);
	struct errinfo e = {0};
	const char *iss = "https://issuer.test", *aud = "client-1", *nonce = "n-0S6_WzA2Mj";
	assert_int_equal(jwt_check_id_claims(c, "https://evil.test", aud, nonce, FIX_NOW, 60, &e), ERR_AUTH);
	assert_non_null(strstr(e.msg, "issuer"));
	assert_int_equal(jwt_check_id_claims(c, iss, "client-2", nonce, FIX_NOW, 60, &e), ERR_AUTH);
	assert_non_null(strstr(e.msg, "audience"));
	assert_int_equal(jwt_check_id_claims(c, iss, aud, "other-nonce", FIX_NOW, 60, &e), ERR_AUTH);
	assert_non_null(strstr(e.msg, "nonce"));
	assert_int_equal(jwt_check_id_claims(c, iss, aud, NULL, FIX_NOW, 60, &e), ERR_AUTH);
	/* expired: exp = NOW + 3600; past it by more than the leeway */
	assert_int_equal(jwt_check_id_claims(c, iss, aud, nonce, FIX_NOW + 3600 + 61, 60, &e), ERR_AUTH);
	assert_non_null(strstr(e.msg, "expired"));
	assert_int_equal(jwt_check_id_claims(c, iss, aud, nonce, FIX_NOW + 3600 + 59, 60, &e), ERR_OK);
	/* issued in the future */
	assert_int_equal(jwt_check_id_claims(c, iss, aud, nonce, FIX_NOW - 1000, 60, &e), ERR_AUTH);
	json_decref(c);

	/* several audiences: azp must be ours */
	json_t *m = json_pack("{s:s, s:[s,s], s:I, s:s}", "iss", iss, "aud", "other", aud, "exp",
			      (json_int_t)FIX_NOW + 10, "nonce", nonce);
	assert_int_equal(jwt_check_id_claims(m, iss, aud, nonce, FIX_NOW, 60, &e), ERR_AUTH);
	json_object_set_new(m, "azp", json_string(aud));
	assert_int_equal(jwt_check_id_claims(m, iss, aud, nonce, FIX_NOW, 60, &e), ERR_OK);
	json_object_del(m, "exp");
	assert_int_equal(jwt_check_id_claims(m, iss, aud, nonce, FIX_NOW, 60, &e), ERR_AUTH);
	json_decref(m);
}

/* REQ: ACC-6. RFC 7636 Appendix B: the S256 challenge of its verifier. */
static void pkce_s256_matches_rfc7636(void **state)
{
	(void)state;
	char ch[JWT_PKCE_CHALLENGE];
	jwt_pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch);
	assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_token_verifies),
		cmocka_unit_test(tampered_tokens_fail),
		cmocka_unit_test(other_algorithms_are_refused),
		cmocka_unit_test(malformed_tokens_are_invalid),
		cmocka_unit_test(claims_are_checked),
		cmocka_unit_test(pkce_s256_matches_rfc7636),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
