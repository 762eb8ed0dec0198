/* multipart_test.c: multipart/form-data parsing (RFC 7578) of bodies built
 * in the test: boundaries quoted or not, CRLF rules, binary data with CR and
 * LF inside, preamble and epilogue, and each malformed body refused with
 * ERR_INVALID and its own message. REQ: GEN-3 (uploads reach the image API
 * as multipart forms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "http/multipart.h"

#define CT "multipart/form-data; boundary=XyZ"

static struct multipart_part parts[8];
static size_t n;

static int parse(const char *ct, const void *body, size_t len, size_t max, struct errinfo *e)
{
	err_clear(e);
	return multipart_parse(ct, body, len, parts, max, &n, e);
}

static void ok(const char *ct, const char *body)
{
	struct errinfo e;
	int rc = parse(ct, body, strlen(body), 8, &e);
	if (rc)
		fail_msg("body %s: %s %s", body, err_str(rc), e.msg);
}

static void bad(const char *ct, const void *body, size_t len, size_t max, const char *part)
{
	struct errinfo e;
	int rc = parse(ct, body, len, max, &e);
	if (rc != ERR_INVALID || !strstr(e.msg, part))
		fail_msg("got %s '%s', want invalid containing '%s'", err_str(rc), e.msg, part);
	assert_int_equal(n, 0);
}

static void bads(const char *ct, const char *body, const char *part)
{
	bad(ct, body, strlen(body), 8, part);
}

static void expect_part(const char *name, const char *filename, const char *ctype, const void *data, size_t len)
{
	const struct multipart_part *p = multipart_get(parts, n, name);
	if (!p)
		fail_msg("no part %s", name);
	assert_string_equal(p->filename, filename);
	assert_string_equal(p->content_type, ctype);
	assert_int_equal(p->len, len);
	assert_non_null(p->data);
	assert_memory_equal(p->data, data, len);
}

static void two_fields_unquoted_boundary(void **st)
{
	(void)st;
	ok(CT, "--XyZ\r\n"
	       "Content-Disposition: form-data; name=\"prompt\"\r\n"
	       "\r\n"
	       "a red fox\r\n"
	       "--XyZ\r\n"
	       "Content-Disposition: form-data; name=\"image\"; filename=\"fox.png\"\r\n"
	       "Content-Type: image/png\r\n"
	       "\r\n"
	       "PNGDATA\r\n"
	       "--XyZ--\r\n");
	assert_int_equal(n, 2);
	expect_part("prompt", "", "", "a red fox", 9);
	expect_part("image", "fox.png", "image/png", "PNGDATA", 7);
	assert_ptr_equal(multipart_get(parts, n, "prompt"), &parts[0]);
	assert_null(multipart_get(parts, n, "missing"));
	assert_null(multipart_get(parts, n, "Prompt")); /* names are case-sensitive */
	assert_null(multipart_get(NULL, 0, "prompt"));
}

static void quoted_boundary_and_case(void **st)
{
	(void)st;
	/* quoted, with characters a token may not hold; header and parameter names in any case */
	ok("Multipart/Form-Data ; charset=utf-8; BOUNDARY=\"a'()+_,-./:=? b\"",
	   "--a'()+_,-./:=? b\r\n"
	   "content-disposition: form-data; NAME=n; filename=\"we\\\"ird \\\\ name.jpg\"\r\n"
	   "CONTENT-TYPE:image/jpeg  \r\n"
	   "\r\n"
	   "x\r\n"
	   "--a'()+_,-./:=? b--");
	assert_int_equal(n, 1);
	expect_part("n", "we\"ird \\ name.jpg", "image/jpeg", "x", 1);
	/* a trailing ";" after the parameters is tolerated */
	ok("multipart/form-data; boundary=XyZ;", "--XyZ\r\nContent-Disposition: form-data; name=\"a\";\r\n\r\nA\r\n--XyZ--");
	expect_part("a", "", "", "A", 1);
}

static void binary_data_with_crlf_kept(void **st)
{
	(void)st;
	/* CR, LF, CRLF, a boundary-like line that is not one, NUL bytes */
	static const uint8_t data[] = "\r\n\r\n--XyZa\r\n--XyZ-x\n--XyZ\r\rX\x00\xff\r\n-";
	size_t dlen = sizeof data - 1;
	uint8_t body[256];
	size_t len = 0;
	const char *h = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"b.bin\"\r\n\r\n";
	memcpy(body, h, strlen(h));
	len += strlen(h);
	memcpy(body + len, data, dlen);
	len += dlen;
	memcpy(body + len, "\r\n--XyZ--", 9);
	len += 9;
	struct errinfo e;
	assert_int_equal(parse(CT, body, len, 8, &e), ERR_OK);
	assert_int_equal(n, 1);
	expect_part("f", "b.bin", "", data, dlen);
}

static void preamble_epilogue_padding_empty(void **st)
{
	(void)st;
	ok(CT, "This is the preamble.\r\n--XyZ not a delimiter\r\n"
	       "--XyZ \t\r\n"
	       "Content-Disposition: form-data; name=empty\r\n"
	       "\r\n"
	       "\r\n"
	       "--XyZ\r\n"
	       "Content-Disposition: form-data; name=\"b\"\r\n"
	       "X-Other: ignored\r\n"
	       "\r\n"
	       "B\r\n"
	       "--XyZ--  and an epilogue\r\n--XyZ\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\nC\r\n");
	assert_int_equal(n, 2);
	expect_part("empty", "", "", "", 0);
	expect_part("b", "", "", "B", 1);
	assert_null(multipart_get(parts, n, "c"));
}

static void bad_content_types(void **st)
{
	(void)st;
	const char *body = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n--XyZ--";
	bads("application/json", body, "multipart/form-data");
	bads("multipart/mixed; boundary=XyZ", body, "multipart/form-data");
	bads(NULL, body, "multipart/form-data");
	bads("multipart/form-data", body, "no boundary");
	bads("multipart/form-data; charset=utf-8", body, "no boundary");
	bads("multipart/form-data; boundary=", body, "malformed");
	bads("multipart/form-data; boundary=\"\"", body, "1 to 70");
	bads("multipart/form-data; boundary=\"unterminated", body, "malformed");
	bads("multipart/form-data; boundary=a; boundary=b", body, "two boundary");
	bads("multipart/form-data; boundary=\"a b \"", body, "does not allow");
	bads("multipart/form-data; boundary=\"a<b\"", body, "does not allow");
	char ct[160];
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%071d", 0);
	bads(ct, body, "1 to 70");
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%070d", 0);
	char b2[256];
	snprintf(b2, sizeof b2, "--%070d\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n--%070d--", 0, 0);
	ok(ct, b2);
	assert_int_equal(n, 1);
}

static void malformed_bodies(void **st)
{
	(void)st;
	bads(CT, "", "no multipart boundary");
	bads(CT, "no delimiter here", "no multipart boundary");
	bads(CT, "--XyZ--\r\n", "no parts");
	/* missing final boundary, or a body cut inside a part */
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n", "before the closing");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n--XyZ\r\n", "ends inside");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n", "ends inside");
	/* bare LF line ends are not CRLF */
	bads(CT, "--XyZ\nContent-Disposition: form-data; name=a\n\nA\n--XyZ--\n", "no multipart boundary");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\n\r\nA\r\n--XyZ--", "control character");
	/* duplicate names */
	bads(CT,
	     "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	     "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--XyZ--",
	     "\"a\" appears twice");
	/* headers */
	bads(CT, "--XyZ\r\nContent-Type: text/plain\r\n\r\nA\r\n--XyZ--", "no Content-Disposition");
	bads(CT, "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nA\r\n--XyZ--", "not form-data");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; filename=a.png\r\n\r\nA\r\n--XyZ--", "no field name");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nA\r\n--XyZ--", "no field name");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nA\r\n--XyZ--", "two names");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nA\r\n--XyZ--", "malformed");
	bads(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n folded\r\n\r\nA\r\n--XyZ--", "folded");
	bads(CT, "--XyZ\r\nno colon here\r\n\r\nA\r\n--XyZ--", "malformed part header");
	bads(CT,
	     "--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b\r\n\r\n"
	     "A\r\n--XyZ--",
	     "two Content-Disposition");
	/* NUL inside a header */
	static const char nul[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\nA\r\n--XyZ--";
	bad(CT, nul, sizeof nul - 1, 8, "control character");
}

static void limits(void **st)
{
	(void)st;
	const char *three = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
			    "--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
			    "--XyZ\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n--XyZ--";
	bad(CT, three, strlen(three), 2, "more than 2 parts");
	struct errinfo e;
	assert_int_equal(parse(CT, three, strlen(three), 3, &e), ERR_OK);
	assert_int_equal(n, 3);

	char body[4096];
	/* a header line over MULTIPART_MAX_HEADER_LINE */
	snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=a\r\nX-Long: %01100d\r\n\r\nA\r\n--XyZ--",
		 0);
	bads(CT, body, "longer than 1024 bytes");
	/* too many header lines */
	int k = snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n");
	for (int i = 0; i < MULTIPART_MAX_HEADERS; i++)
		k += snprintf(body + k, sizeof body - k, "X-H%d: v\r\n", i);
	snprintf(body + k, sizeof body - k, "\r\nA\r\n--XyZ--");
	bads(CT, body, "more than 16 header lines");
	/* field values too long for their fields */
	snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=%064d\r\n\r\nA\r\n--XyZ--", 0);
	bads(CT, body, "field name is longer than 63");
	snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=%063d\r\n\r\nA\r\n--XyZ--", 0);
	ok(CT, body);
	snprintf(body, sizeof body,
		 "--XyZ\r\nContent-Disposition: form-data; name=a; filename=\"%0256d\"\r\n\r\nA\r\n--XyZ--", 0);
	bads(CT, body, "file name is longer than 255");
	snprintf(body, sizeof body,
		 "--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Type: image/%0128d\r\n\r\nA\r\n--XyZ--", 0);
	bads(CT, body, "Content-Type is longer than 127");
	/* misuse */
	assert_int_equal(multipart_parse(CT, (const uint8_t *)"x", 1, parts, 8, NULL, &e), ERR_INVALID);
	assert_int_equal(multipart_parse(CT, NULL, 1, parts, 8, &n, &e), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_fields_unquoted_boundary),
		cmocka_unit_test(quoted_boundary_and_case),
		cmocka_unit_test(binary_data_with_crlf_kept),
		cmocka_unit_test(preamble_epilogue_padding_empty),
		cmocka_unit_test(bad_content_types),
		cmocka_unit_test(malformed_bodies),
		cmocka_unit_test(limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
