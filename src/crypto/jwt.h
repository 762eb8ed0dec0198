/*
 * jwt.h: verification of OpenID Connect ID tokens: JWS compact form signed
 * with RS256, checked against the provider's JWKS, then the claims an OIDC
 * relying party must check (issuer, audience, expiry, nonce).
 *
 * Only RS256 is accepted (what Google signs with): a token whose header
 * names another algorithm, "none" or an HMAC, is refused before any key is
 * looked at, so a public key can never be used as an HMAC secret. RSA keys
 * under 2048 bits are refused. The RSA check itself is GnuTLS's.
 */
#ifndef ATELIER_CRYPTO_JWT_H
#define ATELIER_CRYPTO_JWT_H

#include <jansson.h>
#include <stdint.h>

#include "base/err.h"

/* Verify token's RS256 signature with the key of jwks ({"keys":[…]}) whose
 * kid matches the header's (or, with no kid, any RSA key that verifies).
 * On success *claims gets the decoded payload (caller decrefs).
 * ERR_INVALID: not a well-formed JWS; ERR_UNSUPPORTED: another alg;
 * ERR_NOTFOUND: no key with that kid; ERR_CRYPTO: the signature is wrong. */
int jwt_verify_rs256(const char *token, const json_t *jwks, json_t **claims, struct errinfo *e);

/* Check ID-token claims at time now (Unix seconds) with leeway seconds of
 * clock skew: iss == issuer, aud is or contains client_id (and azp ==
 * client_id when aud has several), exp > now - leeway, iat <= now + leeway,
 * nonce == nonce. ERR_AUTH with a message naming the claim that failed. */
int jwt_check_id_claims(const json_t *claims, const char *issuer, const char *client_id,
			const char *nonce, int64_t now, int leeway, struct errinfo *e);

/* base64url (no padding) decode of n characters into out (cap bytes).
 * Returns the length, or -1. */
long jwt_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* The PKCE S256 code challenge of verifier (RFC 7636 4.2):
 * BASE64URL(SHA-256(verifier)), 43 characters and a NUL into out. */
#define JWT_PKCE_CHALLENGE 44
void jwt_pkce_s256(const char *verifier, char out[JWT_PKCE_CHALLENGE]);

#endif
