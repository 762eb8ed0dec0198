/* receipt.c: Ed25519 signatures over canonical JSON. */
#include "service/receipt.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static char *canonical(const json_t *doc)
{
	json_t *copy = json_deep_copy(doc);
	if (!copy)
		return NULL;
	json_object_del(copy, "signature");
	char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(copy);
	return s;
}

void receipt_public_key(const struct crypto_keys *k, char *out, size_t n)
{
	sodium_bin2base64(out, n, k->sign_pk, sizeof k->sign_pk, sodium_base64_VARIANT_ORIGINAL);
}

int receipt_sign(const struct crypto_keys *k, json_t *doc)
{
	if (!json_is_object(doc) || json_object_get(doc, "signature"))
		return ERR_INVALID;
	char *msg = canonical(doc);
	if (!msg)
		return ERR_NOMEM;
	unsigned char sig[64];
	crypto_sign_msg(k, sig, msg, strlen(msg));
	free(msg);
	char sig64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
	char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	receipt_public_key(k, pk64, sizeof pk64);
	json_object_set_new(doc, "signature", json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "key", pk64, "value", sig64));
	return ERR_OK;
}

int receipt_verify(const json_t *doc, const unsigned char *server_pk)
{
	const char *alg = NULL, *key = NULL, *value = NULL;
	if (!json_is_object(doc) ||
	    json_unpack((json_t *)doc, "{s:{s:s, s:s, s:s}}", "signature", "alg", &alg, "key", &key, "value", &value) ||
	    strcmp(alg, "Ed25519"))
		return ERR_INVALID;
	unsigned char pk[32], sig[64];
	size_t pl = 0, sl = 0;
	if (sodium_base642bin(pk, sizeof pk, key, strlen(key), NULL, &pl, NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    pl != sizeof pk ||
	    sodium_base642bin(sig, sizeof sig, value, strlen(value), NULL, &sl, NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    sl != sizeof sig)
		return ERR_INVALID;
	if (server_pk && sodium_memcmp(pk, server_pk, sizeof pk) != 0)
		return ERR_CRYPTO;
	char *msg = canonical(doc);
	if (!msg)
		return ERR_NOMEM;
	int ok = crypto_verify_msg(pk, sig, msg, strlen(msg));
	free(msg);
	return ok ? ERR_OK : ERR_CRYPTO;
}
