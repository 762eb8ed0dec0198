/*
 * receipt.h: signed receipts (PRIV-5): a JSON document the server signs with
 * its Ed25519 key so its holder can prove what was done and when — for
 * example, that an account was erased, with the categories and counts.
 *
 * The signature covers the canonical form of the document without its
 * "signature" member: compact JSON with keys sorted, UTF-8. The signature
 * member is {"alg":"Ed25519","key":base64(public key),"value":base64(sig)}.
 */
#ifndef ATELIER_SERVICE_RECEIPT_H
#define ATELIER_SERVICE_RECEIPT_H

#include <jansson.h>

#include "base/err.h"
#include "crypto/crypto.h"

/* Add a "signature" member to doc (an object without one). */
int receipt_sign(const struct crypto_keys *k, json_t *doc);

/* Check doc's signature. If server_pk is not NULL the signing key must be
 * it. ERR_CRYPTO for a bad or foreign signature, ERR_INVALID for a document
 * that is not a signed receipt. */
int receipt_verify(const json_t *doc, const unsigned char *server_pk);

/* The server's public key as base64 (for /.well-known and the CLI). */
void receipt_public_key(const struct crypto_keys *k, char *out, size_t n);

#endif
