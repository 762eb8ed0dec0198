/* mail_test.c: message formatting and address checks of service/mail.c.
 * REQ: ACC-9 (mail delivery: well-formed messages), REQ: ACC-3 (mail part) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "service/mail.h"

/* 2026-11-23T10:54:24Z, a Monday */
#define T0 1795431264

static char *fmt(const char *from, const char *to, const char *subject, const char *body, int *rc)
{
	static struct buf b;
	buf_free(&b);
	buf_init(&b, 0);
	*rc = mail_format(&b, from, to, subject, body, T0, "abc123@atelier.test");
	return b.data ? b.data : "";
}

static void headers_are_rfc5322(void **state)
{
	int rc;
	const char *m = fmt("Atelier <no-reply@atelier.test>", "alice@example.org", "Welcome", "Hi.\n", &rc);
	assert_int_equal(rc, ERR_OK);
	const char *want =
		"From: Atelier <no-reply@atelier.test>\r\n"
		"To: alice@example.org\r\n"
		"Subject: Welcome\r\n"
		"Date: Mon, 23 Nov 2026 10:54:24 +0000\r\n"
		"Message-ID: <abc123@atelier.test>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"\r\n"
		"Hi.\r\n";
	assert_string_equal(m, want);
}

static void every_line_ends_in_crlf(void **state)
{
	int rc;
	const char *m = fmt("a@b.test", "c@d.test", "s", "one\ntwo\r\nthree\n\nfive", &rc);
	assert_int_equal(rc, ERR_OK);
	for (const char *p = m; *p; p++)
		if (*p == '\n')
			assert_true(p > m && p[-1] == '\r');
	assert_non_null(strstr(m, "\r\n\r\none\r\ntwo\r\nthree\r\n\r\nfive\r\n"));
}

/* The body after the blank line. */
static const char *body_of(const char *m)
{
	const char *p = strstr(m, "\r\n\r\n");
	return p ? p + 4 : "";
}

static void body_is_quoted_printable(void **state)
{
	int rc;
	char body[400];
	memset(body, 'x', 200);
	snprintf(body + 200, sizeof body - 200, "=\n.dot\né 漢\ntrailing \n");
	const char *m = fmt("a@b.test", "c@d.test", "s", body, &rc);
	assert_int_equal(rc, ERR_OK);
	const char *b = body_of(m);
	/* every line at most 76 characters, soft breaks end in '=' */
	for (const char *line = b; *line;) {
		const char *end = strstr(line, "\r\n");
		assert_non_null(end);
		assert_true(end - line <= 76);
		assert_true(line[0] != '.'); /* a leading dot is always encoded */
		line = end + 2;
	}
	assert_non_null(strstr(b, "=3D\r\n=2Edot\r\n=C3=A9 =E6=BC=A2\r\ntrailing=20\r\n"));
	/* only printable ASCII in the encoded body */
	for (const unsigned char *p = (const unsigned char *)b; *p; p++)
		assert_true(*p == '\r' || *p == '\n' || (*p >= 0x20 && *p < 0x7f));
}

static void a_soft_break_never_leaves_a_leading_dot(void **state)
{
	int rc;
	char body[200];
	memset(body, 'y', sizeof body);
	for (int i = 70; i < 80; i++)
		body[i] = '.';
	body[sizeof body - 1] = '\0';
	const char *b = body_of(fmt("a@b.test", "c@d.test", "s", body, &rc));
	assert_int_equal(rc, ERR_OK);
	for (const char *line = b; *line;) {
		assert_true(line[0] != '.');
		const char *end = strstr(line, "\r\n");
		assert_non_null(end);
		line = end + 2;
	}
}

static void non_ascii_subject_is_rfc2047(void **state)
{
	int rc;
	/* 40 two-byte characters: one sequence must straddle the 45-byte chunk */
	char subject[128];
	for (int i = 0; i < 40; i++)
		memcpy(subject + 2 * i, "\xc3\xa9", 2); /* é */
	subject[80] = '\0';
	const char *m = fmt("a@b.test", "c@d.test", subject, "b", &rc);
	assert_int_equal(rc, ERR_OK);
	const char *s = strstr(m, "Subject: ");
	const char *end = strstr(s, "\r\nDate:");
	assert_non_null(end);
	/* decode every encoded word and check the chunks are whole UTF-8 */
	char decoded[256] = "";
	size_t dn = 0;
	for (const char *w = strstr(s, "=?UTF-8?B?"); w && w < end; w = strstr(w + 1, "=?UTF-8?B?")) {
		const char *q = strstr(w + 10, "?=");
		assert_non_null(q);
		assert_true(q + 2 - w <= 75);
		unsigned char bin[64];
		size_t bl;
		assert_int_equal(sodium_base642bin(bin, sizeof bin, w + 10, (size_t)(q - w - 10), NULL, &bl,
						   NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		assert_true((bin[0] & 0xC0) != 0x80); /* never starts inside a sequence */
		memcpy(decoded + dn, bin, bl);
		dn += bl;
	}
	decoded[dn] = '\0';
	assert_string_equal(decoded, subject);
	/* folded lines start with a space */
	for (const char *p = s; p < end; p++)
		if (p[0] == '\r')
			assert_int_equal(p[2], ' ');
}

static void header_injection_is_refused(void **state)
{
	int rc;
	fmt("a@b.test", "c@d.test\r\nBcc: e@f.test", "s", "b", &rc);
	assert_int_equal(rc, ERR_INVALID);
	fmt("a@b.test", "c@d.test", "s\r\nBcc: e@f.test", "b", &rc);
	assert_int_equal(rc, ERR_INVALID);
	fmt("a@b.test", "c@d.test", "s\nX: y", "b", &rc);
	assert_int_equal(rc, ERR_INVALID);
}

static void addresses(void **state)
{
	const char *good[] = {"a@b.c", "alice.smith+tag@example.org", "x_y-z@sub.example.co.uk"};
	const char *bad[] = {"",	    "a",		"@b.c",		"a@",	      "a@b@c",
			     "a b@c.d", "a@c.d\r\n",	"<a@c.d>",	"a@c.d, e@f.g", "a@.c",
			     "a@c.",    "é@c.d",		"a\"b@c.d",	"a;b@c.d"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		assert_int_equal(mail_check_address(good[i]), ERR_OK);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (mail_check_address(bad[i]) != ERR_INVALID)
			fail_msg("accepted bad address #%zu", i);
	char long_addr[300];
	memset(long_addr, 'a', sizeof long_addr);
	memcpy(long_addr + 250, "@b.cd", 6);
	assert_int_equal(mail_check_address(long_addr), ERR_INVALID);

	char out[256];
	assert_int_equal(mail_addr_spec(out, sizeof out, "Atelier <no-reply@atelier.test>"), ERR_OK);
	assert_string_equal(out, "no-reply@atelier.test");
	assert_int_equal(mail_addr_spec(out, sizeof out, "plain@atelier.test"), ERR_OK);
	assert_string_equal(out, "plain@atelier.test");
	assert_int_equal(mail_addr_spec(out, sizeof out, "Broken <x@y.z"), ERR_INVALID);
	assert_int_equal(mail_addr_spec(out, sizeof out, "no address here"), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(headers_are_rfc5322),
		cmocka_unit_test(every_line_ends_in_crlf),
		cmocka_unit_test(body_is_quoted_printable),
		cmocka_unit_test(a_soft_break_never_leaves_a_leading_dot),
		cmocka_unit_test(non_ascii_subject_is_rfc2047),
		cmocka_unit_test(header_injection_is_refused),
		cmocka_unit_test(addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
