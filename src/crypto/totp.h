/*
 * totp.h: time-based one-time passwords (RFC 6238 over RFC 4226 HOTP),
 * 30-second steps, 6 digits, HMAC-SHA1 as authenticator apps expect.
 */
#ifndef ATELIER_CRYPTO_TOTP_H
#define ATELIER_CRYPTO_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define TOTP_SECRET_BYTES 20
#define TOTP_B32_CHARS 33 /* 32 base32 characters and a NUL */

/* HOTP value for counter (digits 6..8). */
uint32_t totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits);

/* The step number for a Unix time: floor(t / 30). */
uint64_t totp_step(int64_t unix_time);

/* Check a typed code at unix_time with ±window steps. Returns the matched
 * step (> 0) or 0 when no step matches; the caller stores the last step used
 * and refuses a code whose step is not newer (no replay). */
uint64_t totp_verify(const unsigned char *key, size_t keylen, const char *code, int64_t unix_time,
		     int window);

/* Base32 (RFC 4648, no padding) of a secret, for the otpauth:// URI. */
void totp_base32(char *out, size_t n, const unsigned char *key, size_t keylen);

/* otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&digits=6&period=30 */
int totp_uri(char *out, size_t n, const char *issuer, const char *account, const char *b32);

/* The QR code of text as an SVG document (libqrencode), caller frees. */
char *totp_qr_svg(const char *text);

#endif
