/*
 * jwt.c: RS256 JWS verification against a JWKS, and the ID-token claim
 * checks of OpenID Connect Core 3.1.3.7. See jwt.h.
 */
#include "crypto/jwt.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN 16384

long jwt_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	size_t len;
	if (sodium_base642bin(out, cap, in, n, NULL, &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return -1;
	return (long)len;
}

void jwt_pkce_s256(const char *verifier, char out[JWT_PKCE_CHALLENGE])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)verifier, strlen(verifier));
	sodium_bin2base64(out, JWT_PKCE_CHALLENGE, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Decode a base64url JSON object part. */
static json_t *decode_json(const char *p, size_t n)
{
	unsigned char *raw = malloc(n + 1);
	if (!raw)
		return NULL;
	long len = jwt_b64url_decode(p, n, raw, n);
	json_t *j = NULL;
	if (len >= 0)
		j = json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Import one JWK as an RSA public key. */
static int import_jwk(const json_t *k, gnutls_pubkey_t *out)
{
	const char *n64 = json_string_value(json_object_get(k, "n"));
	const char *e64 = json_string_value(json_object_get(k, "e"));
	if (!n64 || !e64 || strlen(n64) > 2048 || strlen(e64) > 16)
		return ERR_INVALID;
	unsigned char n[1540], e[16];
	long nl = jwt_b64url_decode(n64, strlen(n64), n, sizeof n);
	long el = jwt_b64url_decode(e64, strlen(e64), e, sizeof e);
	if (nl <= 0 || el <= 0)
		return ERR_INVALID;
	long lead = 0;
	while (lead < nl && n[lead] == 0)
		lead++;
	if ((nl - lead) * 8 < 2048) /* RSA under 2048 bits is refused */
		return ERR_UNSUPPORTED;
	gnutls_datum_t m = {n, (unsigned)nl}, ex = {e, (unsigned)el};
	gnutls_pubkey_t pk;
	if (gnutls_pubkey_init(&pk) < 0)
		return ERR_NOMEM;
	if (gnutls_pubkey_import_rsa_raw(pk, &m, &ex) < 0) {
		gnutls_pubkey_deinit(pk);
		return ERR_INVALID;
	}
	*out = pk;
	return ERR_OK;
}

int jwt_verify_rs256(const char *token, const json_t *jwks, json_t **claims, struct errinfo *e)
{
	*claims = NULL;
	size_t tl = token ? strlen(token) : 0;
	if (tl == 0 || tl > MAX_TOKEN)
		return err_set(e, ERR_INVALID, "id_token", "ID token is empty or too long");
	const char *d1 = strchr(token, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return err_set(e, ERR_INVALID, "id_token", "ID token is not a compact JWS");
	json_t *hdr = decode_json(token, (size_t)(d1 - token));
	if (!hdr)
		return err_set(e, ERR_INVALID, "id_token", "ID token header is not base64url JSON");
	int rc = ERR_OK;
	json_t *payload = NULL;
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	if (!alg || strcmp(alg, "RS256")) {
		rc = err_set(e, ERR_UNSUPPORTED, "id_token", "ID token algorithm must be RS256");
		goto out;
	}
	if (json_object_get(hdr, "crit")) {
		rc = err_set(e, ERR_UNSUPPORTED, "id_token", "ID token has critical header extensions");
		goto out;
	}
	size_t sig64 = tl - (size_t)(d2 + 1 - token);
	unsigned char sig[1024];
	long sl = jwt_b64url_decode(d2 + 1, sig64, sig, sizeof sig);
	if (sl <= 0) {
		rc = err_set(e, ERR_INVALID, "id_token", "ID token signature is not base64url");
		goto out;
	}
	gnutls_datum_t data = {(unsigned char *)token, (unsigned)(d2 - token)};
	gnutls_datum_t sd = {sig, (unsigned)sl};
	const json_t *keys = json_object_get(jwks, "keys");
	size_t i;
	json_t *k;
	bool tried = false, ok = false;
	json_array_foreach(keys, i, k)
	{
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *kkid = json_string_value(json_object_get(k, "kid"));
		const char *use = json_string_value(json_object_get(k, "use"));
		const char *kalg = json_string_value(json_object_get(k, "alg"));
		if (!kty || strcmp(kty, "RSA") || (use && strcmp(use, "sig")) || (kalg && strcmp(kalg, "RS256")))
			continue;
		if (kid && (!kkid || strcmp(kid, kkid)))
			continue;
		gnutls_pubkey_t pk;
		if (import_jwk(k, &pk))
			continue;
		tried = true;
		ok = gnutls_pubkey_verify_data2(pk, GNUTLS_SIGN_RSA_SHA256, 0, &data, &sd) >= 0;
		gnutls_pubkey_deinit(pk);
		if (ok)
			break;
	}
	if (!tried) {
		rc = err_set(e, ERR_NOTFOUND, "id_token", "no RS256 key of the provider matches the ID token");
		goto out;
	}
	if (!ok) {
		rc = err_set(e, ERR_CRYPTO, "id_token", "ID token signature is not valid");
		goto out;
	}
	payload = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (!payload) {
		rc = err_set(e, ERR_INVALID, "id_token", "ID token payload is not base64url JSON");
		goto out;
	}
	*claims = payload;
	payload = NULL;
out:
	json_decref(hdr);
	json_decref(payload);
	return rc;
}

int jwt_check_id_claims(const json_t *claims, const char *issuer, const char *client_id,
			const char *nonce, int64_t now, int leeway, struct errinfo *e)
{
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	if (!iss || strcmp(iss, issuer))
		return err_set(e, ERR_AUTH, "id_token", "ID token issuer does not match");
	const json_t *aud = json_object_get(claims, "aud");
	bool aud_ok = false;
	if (json_is_string(aud)) {
		aud_ok = !strcmp(json_string_value(aud), client_id);
	} else if (json_is_array(aud) && json_array_size(aud) > 0) {
		size_t i;
		json_t *a;
		json_array_foreach(aud, i, a) if (json_is_string(a) && !strcmp(json_string_value(a), client_id))
			aud_ok = true;
		if (aud_ok && json_array_size(aud) > 1) {
			const char *azp = json_string_value(json_object_get(claims, "azp"));
			aud_ok = azp && !strcmp(azp, client_id);
		}
	}
	if (!aud_ok)
		return err_set(e, ERR_AUTH, "id_token", "ID token audience does not match");
	const json_t *exp = json_object_get(claims, "exp");
	if (!json_is_integer(exp) && !json_is_real(exp))
		return err_set(e, ERR_AUTH, "id_token", "ID token has no expiry");
	if ((int64_t)json_number_value(exp) <= now - leeway)
		return err_set(e, ERR_AUTH, "id_token", "ID token has expired");
	const json_t *iat = json_object_get(claims, "iat");
	if (iat && (int64_t)json_number_value(iat) > now + leeway)
		return err_set(e, ERR_AUTH, "id_token", "ID token was issued in the future");
	const char *n = json_string_value(json_object_get(claims, "nonce"));
	if (!nonce || !n || strlen(n) != strlen(nonce) || sodium_memcmp(n, nonce, strlen(nonce)))
		return err_set(e, ERR_AUTH, "id_token", "ID token nonce does not match");
	return ERR_OK;
}
