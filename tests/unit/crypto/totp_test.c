/* totp_test.c: HOTP and TOTP against the RFCs' own test vectors, the
 * window and replay contract, base32, the URI and the QR code.
 * REQ: ACC-5 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/totp.h"

static const unsigned char KEY[] = "12345678901234567890"; /* RFC 4226/6238 SHA-1 seed */

/* RFC 4226 Appendix D: HOTP values for counters 0..9. */
static void rfc4226_appendix_d(void **state)
{
	static const uint32_t want[10] = {755224, 287082, 359152, 969429, 338314,
					  254676, 287922, 162583, 399871, 520489};
	for (uint64_t c = 0; c < 10; c++)
		assert_int_equal(totp_hotp(KEY, 20, c, 6), want[c]);
}

/* RFC 6238 Appendix B, the SHA-1 rows (8 digits). */
static void rfc6238_appendix_b_sha1(void **state)
{
	static const struct {
		int64_t t;
		uint64_t step;
		uint32_t code;
	} rows[] = {
		{59, 0x1, 94287082},
		{1111111109, 0x23523EC, 7081804},
		{1111111111, 0x23523ED, 14050471},
		{1234567890, 0x273EF07, 89005924},
		{2000000000, 0x3F940AA, 69279037},
		{20000000000, 0x27BC86AA, 65353130},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		assert_int_equal(totp_step(rows[i].t), rows[i].step);
		assert_int_equal(totp_hotp(KEY, 20, totp_step(rows[i].t), 8), rows[i].code);
	}
}

static void code_at(char out[7], int64_t t)
{
	snprintf(out, 7, "%06u", totp_hotp(KEY, 20, totp_step(t), 6));
}

static void verify_window_is_one_step(void **state)
{
	const int64_t t = 1111111109;
	char code[7];
	code_at(code, t);
	assert_int_equal(totp_verify(KEY, 20, code, t, 1), totp_step(t));
	/* the same code 30 s later (one step) still passes and names its step */
	assert_int_equal(totp_verify(KEY, 20, code, t + 30, 1), totp_step(t));
	assert_int_equal(totp_verify(KEY, 20, code, t - 30, 1), totp_step(t));
	/* two steps away: refused */
	assert_int_equal(totp_verify(KEY, 20, code, t + 60, 1), 0);
	assert_int_equal(totp_verify(KEY, 20, code, t - 60, 1), 0);
	/* window 0: only the current step */
	assert_int_equal(totp_verify(KEY, 20, code, t + 30, 0), 0);
}

static void verify_refuses_malformed_and_wrong(void **state)
{
	const int64_t t = 1234567890;
	char code[7];
	code_at(code, t);
	char wrong[7];
	memcpy(wrong, code, 7);
	wrong[5] = (char)(wrong[5] == '9' ? '0' : wrong[5] + 1);
	assert_int_equal(totp_verify(KEY, 20, wrong, t, 1), 0);
	const char *bad[] = {"", "12345", "1234567", "12345a", " 12345", "-12345", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(totp_verify(KEY, 20, bad[i], t, 1), 0);
	assert_int_equal(totp_verify(KEY, 20, NULL, t, 1), 0);
	/* another key does not accept the code */
	assert_int_equal(totp_verify((const unsigned char *)"abcdefghijabcdefghij", 20, code, t, 1), 0);
}

/* The caller refuses a step that is not newer than the last one used; the
 * step returned is what makes that possible. */
static void replay_is_detectable(void **state)
{
	const int64_t t = 2000000000;
	char code[7];
	code_at(code, t);
	uint64_t first = totp_verify(KEY, 20, code, t, 1);
	assert_true(first > 0);
	uint64_t again = totp_verify(KEY, 20, code, t + 5, 1);
	assert_int_equal(again, first); /* same step: the caller sees it is not newer */
}

static void base32_rfc4648(void **state)
{
	char out[TOTP_B32_CHARS];
	totp_base32(out, sizeof out, KEY, 20);
	assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	totp_base32(out, sizeof out, (const unsigned char *)"foobar", 6);
	assert_string_equal(out, "MZXW6YTBOI"); /* RFC 4648 section 10, padding dropped */
	totp_base32(out, sizeof out, (const unsigned char *)"f", 1);
	assert_string_equal(out, "MY");
}

static void uri_is_escaped(void **state)
{
	char uri[512];
	assert_int_equal(totp_uri(uri, sizeof uri, "Atelier Studio", "alice@example.org", "GEZDGNBV"), 0);
	assert_string_equal(uri, "otpauth://totp/Atelier%20Studio:alice%40example.org?secret=GEZDGNBV"
				 "&issuer=Atelier%20Studio&algorithm=SHA1&digits=6&period=30");
	char small[16];
	assert_int_not_equal(totp_uri(small, sizeof small, "Atelier", "a@b.c", "GEZDGNBV"), 0);
}

static void qr_svg_is_a_document(void **state)
{
	char *svg = totp_qr_svg("otpauth://totp/Atelier:a%40b.c?secret=GEZDGNBV");
	assert_non_null(svg);
	assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
	assert_non_null(strstr(svg, "</svg>"));
	assert_non_null(strstr(svg, "h1v1h-1z")); /* has dark modules */
	assert_null(strstr(svg, "<script"));
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4226_appendix_d),
		cmocka_unit_test(rfc6238_appendix_b_sha1),
		cmocka_unit_test(verify_window_is_one_step),
		cmocka_unit_test(verify_refuses_malformed_and_wrong),
		cmocka_unit_test(replay_is_detectable),
		cmocka_unit_test(base32_rfc4648),
		cmocka_unit_test(uri_is_escaped),
		cmocka_unit_test(qr_svg_is_a_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
