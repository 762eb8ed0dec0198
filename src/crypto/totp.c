/*
 * totp.c: RFC 6238 TOTP over RFC 4226 HOTP with HMAC-SHA1 (what
 * authenticator apps implement), the otpauth:// URI, and its QR code as SVG.
 *
 * HMAC-SHA1 comes from GnuTLS (gnutls_hmac_fast) rather than a hand-written
 * SHA-1: libsodium has no SHA-1, and GnuTLS is already a dependency for RSA
 * signatures (jwt.c). SHA-1's collision weakness does not touch HMAC.
 */
#include "crypto/totp.h"

#include <gnutls/crypto.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

uint32_t totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits)
{
	unsigned char msg[8], mac[20];
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA1, key, keylen, msg, sizeof msg, mac) < 0)
		return UINT32_MAX; /* never a valid code: it has more than 8 digits */
	int off = mac[19] & 0x0f;
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		       ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	uint32_t mod = 1;
	for (int i = 0; i < digits; i++)
		mod *= 10;
	return bin % mod;
}

uint64_t totp_step(int64_t unix_time)
{
	return unix_time < 0 ? 0 : (uint64_t)unix_time / 30;
}

uint64_t totp_verify(const unsigned char *key, size_t keylen, const char *code, int64_t unix_time,
		     int window)
{
	/* exactly six digits; spaces a user may type between groups are not
	 * accepted here: api/ strips them */
	if (!code || strlen(code) != 6)
		return 0;
	uint32_t want = 0;
	for (int i = 0; i < 6; i++) {
		if (code[i] < '0' || code[i] > '9')
			return 0;
		want = want * 10 + (uint32_t)(code[i] - '0');
	}
	uint64_t now = totp_step(unix_time), found = 0;
	/* every step in the window is computed, so timing does not tell which matched */
	for (int d = -window; d <= window; d++) {
		if (d < 0 && now < (uint64_t)-d)
			continue;
		uint64_t step = now + (uint64_t)(int64_t)d;
		uint32_t got = totp_hotp(key, keylen, step, 6);
		if (got == want && !found && step > 0)
			found = step;
	}
	return found;
}

void totp_base32(char *out, size_t n, const unsigned char *key, size_t keylen)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < keylen; i++) {
		acc = (acc << 8) | key[i];
		bits += 8;
		while (bits >= 5 && o + 1 < n) {
			out[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && o + 1 < n)
		out[o++] = alpha[(acc << (5 - bits)) & 31];
	if (n)
		out[o < n ? o : n - 1] = '\0';
}

/* Percent-encode s for a URI path segment or query value. */
static int put_pct(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = ERR_OK;
	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			rc = buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

int totp_uri(char *out, size_t n, const char *issuer, const char *account, const char *b32)
{
	struct buf b;
	buf_init(&b, n ? n - 1 : 0);
	int rc = buf_puts(&b, "otpauth://totp/");
	if (!rc)
		rc = put_pct(&b, issuer);
	if (!rc)
		rc = buf_puts(&b, ":");
	if (!rc)
		rc = put_pct(&b, account);
	if (!rc)
		rc = buf_printf(&b, "?secret=%s&issuer=", b32);
	if (!rc)
		rc = put_pct(&b, issuer);
	if (!rc)
		rc = buf_puts(&b, "&algorithm=SHA1&digits=6&period=30");
	if (!rc && b.len < n)
		memcpy(out, b.data, b.len + 1);
	buf_free(&b);
	return rc ? rc : n ? ERR_OK : ERR_TOOBIG;
}

char *totp_qr_svg(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr)
		return NULL;
	const int quiet = 4, size = qr->width + 2 * quiet;
	struct buf b;
	buf_init(&b, 1 << 20);
	int rc = buf_printf(&b,
			    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
			    "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
			    "<path fill=\"#000\" d=\"",
			    size, size, size, size);
	for (int y = 0; y < qr->width && !rc; y++)
		for (int x = 0; x < qr->width && !rc; x++)
			if (qr->data[y * qr->width + x] & 1)
				rc = buf_printf(&b, "M%d %dh1v1h-1z", x + quiet, y + quiet);
	if (!rc)
		rc = buf_puts(&b, "\"/></svg>");
	QRcode_free(qr);
	if (rc) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}
