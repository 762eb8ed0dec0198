/*
 * multipart.c: multipart/form-data over a body held in memory (multipart.h).
 *
 * The body is received whole (under the server's body limit) before it is
 * parsed, so a single pass with memmem finds each delimiter; no streaming
 * state machine is needed. Lines must end in CRLF as RFC 2046 says: a
 * lenient parser that also took bare LF could split a body differently from
 * the client that built it. A delimiter is "CRLF--boundary" followed by
 * optional blanks and CRLF, or by "--" for the last one; anything else that
 * merely contains the boundary string is data.
 */
#include "http/multipart.h"

#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70 /* RFC 2046 */

/* Characters of a token (RFC 9110): visible ASCII except separators. */
static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* bchars of RFC 2046: digits, letters, '()+_,-./:=? and space (not last). */
static int is_bchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("'()+_,-./:=? ", c) != NULL);
}

static const char *skip_ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Case-insensitive: does [p, end) equal word? */
static int range_is(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - p) == n && strncasecmp(p, word, n) == 0;
}

/* Parse "; name=value" at *pp (value a token or a quoted-string with
 * backslash escapes). The name and value are copied, NUL-terminated, into
 * name/val; *vtrunc is set when the value did not fit. Returns 1 for a
 * parameter, 0 at the end of the range, -1 on a syntax error. */
static int next_param(const char **pp, const char *end, char *name, size_t nsz, char *val, size_t vsz, int *vtrunc)
{
	const char *p = skip_ows(*pp, end);
	*vtrunc = 0;
	if (p == end)
		return 0;
	if (*p != ';')
		return -1;
	p = skip_ows(p + 1, end);
	if (p == end) { /* a trailing ";", which some clients send */
		*pp = p;
		return 0;
	}
	const char *n0 = p;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	if (p == n0 || p == end || *p != '=')
		return -1;
	size_t nl = (size_t)(p - n0);
	if (nl >= nsz)
		nl = nsz - 1; /* a long name matches no parameter we know */
	memcpy(name, n0, nl);
	name[nl] = '\0';
	p++;
	size_t vl = 0;
	if (p < end && *p == '"') {
		p++;
		for (;;) {
			if (p == end)
				return -1; /* unterminated quoted string */
			char c = *p++;
			if (c == '"')
				break;
			if (c == '\\') {
				if (p == end)
					return -1;
				c = *p++;
			}
			if ((unsigned char)c < 0x20 && c != '\t')
				return -1;
			if (vl + 1 < vsz)
				val[vl++] = c;
			else
				*vtrunc = 1;
		}
	} else {
		const char *v0 = p;
		while (p < end && is_tchar((unsigned char)*p)) {
			if (vl + 1 < vsz)
				val[vl++] = *p;
			else
				*vtrunc = 1;
			p++;
		}
		if (p == v0)
			return -1;
	}
	val[vl] = '\0';
	*pp = p;
	return 1;
}

/* The boundary of a "multipart/form-data; boundary=..." header into b. */
static int parse_content_type(const char *ct, char *b, size_t bsz, struct errinfo *e)
{
	if (!ct)
		return err_set(e, ERR_INVALID, "content-type", "Content-Type must be multipart/form-data");
	const char *end = ct + strlen(ct);
	const char *p = skip_ows(ct, end), *t0 = p;
	while (p < end && *p != ';' && *p != ' ' && *p != '\t')
		p++;
	if (!range_is(t0, p, "multipart/form-data"))
		return err_set(e, ERR_INVALID, "content-type", "Content-Type must be multipart/form-data");
	char name[32], val[BOUNDARY_MAX + 2];
	int found = 0, trunc, r;
	while ((r = next_param(&p, end, name, sizeof name, val, sizeof val, &trunc)) == 1) {
		if (strcasecmp(name, "boundary") != 0)
			continue;
		if (found)
			return err_set(e, ERR_INVALID, "content-type", "Content-Type has two boundary parameters");
		size_t n = strlen(val);
		if (trunc || n == 0 || n > BOUNDARY_MAX)
			return err_set(e, ERR_INVALID, "content-type", "the multipart boundary must be 1 to %d characters",
				       BOUNDARY_MAX);
		for (size_t i = 0; i < n; i++)
			if (!is_bchar((unsigned char)val[i]) || (i == n - 1 && val[i] == ' '))
				return err_set(e, ERR_INVALID, "content-type",
					       "the multipart boundary has a character RFC 2046 does not allow");
		if (n >= bsz)
			return err_set(e, ERR_INVALID, "content-type", "the multipart boundary is too long");
		memcpy(b, val, n + 1);
		found = 1;
	}
	if (r < 0)
		return err_set(e, ERR_INVALID, "content-type", "malformed Content-Type parameters");
	if (!found)
		return err_set(e, ERR_INVALID, "content-type", "Content-Type has no boundary parameter");
	return ERR_OK;
}

/* After a delimiter ending at q: blanks then CRLF (a part follows: 1, *next
 * set past the CRLF), "--" (the close delimiter: 2), or neither (0). */
static int delim_kind(const uint8_t *body, size_t len, size_t q, size_t *next)
{
	if (len - q >= 2 && body[q] == '-' && body[q + 1] == '-')
		return 2;
	while (q < len && (body[q] == ' ' || body[q] == '\t'))
		q++;
	if (len - q >= 2 && body[q] == '\r' && body[q + 1] == '\n') {
		*next = q + 2;
		return 1;
	}
	return 0;
}

/* Find the next "CRLF--boundary" delimiter at or after from. *at is where
 * its CRLF starts; returns its kind (1 or 2) or 0 when there is none. */
static int find_delim(const uint8_t *body, size_t len, size_t from, const char *dl, size_t dlen, size_t *at,
		      size_t *next)
{
	while (from < len) {
		const uint8_t *m = memmem(body + from, len - from, dl, dlen);
		if (!m)
			return 0;
		size_t i = (size_t)(m - body);
		int k = delim_kind(body, len, i + dlen, next);
		if (k) {
			*at = i;
			return k;
		}
		from = i + 1;
	}
	return 0;
}

/* Copy a header value into dst (size dsz) or fail naming what. */
static int copy_value(char *dst, size_t dsz, const char *v, size_t n, const char *what, struct errinfo *e)
{
	if (n >= dsz)
		return err_set(e, ERR_INVALID, "body", "%s is longer than %zu bytes", what, dsz - 1);
	memcpy(dst, v, n);
	dst[n] = '\0';
	return ERR_OK;
}

/* Content-Disposition: form-data; name="..."; filename="..." */
static int parse_disposition(const char *v, const char *end, struct multipart_part *pt, struct errinfo *e)
{
	const char *p = v;
	while (p < end && *p != ';' && *p != ' ' && *p != '\t')
		p++;
	if (!range_is(v, p, "form-data"))
		return err_set(e, ERR_INVALID, "body", "a part's Content-Disposition is not form-data");
	char pname[16], val[512];
	int have_name = 0, have_file = 0, trunc, r;
	while ((r = next_param(&p, end, pname, sizeof pname, val, sizeof val, &trunc)) == 1) {
		int rc;
		if (strcasecmp(pname, "name") == 0) {
			if (have_name++)
				return err_set(e, ERR_INVALID, "body", "a part's Content-Disposition has two names");
			if (trunc || (rc = copy_value(pt->name, sizeof pt->name, val, strlen(val), "a field name", e)))
				return trunc ? err_set(e, ERR_INVALID, "body", "a field name is longer than %zu bytes",
						       sizeof pt->name - 1)
					     : rc;
		} else if (strcasecmp(pname, "filename") == 0) {
			if (have_file++)
				return err_set(e, ERR_INVALID, "body", "a part's Content-Disposition has two file names");
			if (trunc || (rc = copy_value(pt->filename, sizeof pt->filename, val, strlen(val), "a file name",
						      e)))
				return trunc ? err_set(e, ERR_INVALID, "body", "a file name is longer than %zu bytes",
						       sizeof pt->filename - 1)
					     : rc;
		}
	}
	if (r < 0)
		return err_set(e, ERR_INVALID, "body", "malformed Content-Disposition in a part");
	if (!have_name || !pt->name[0])
		return err_set(e, ERR_INVALID, "body", "a part has no field name");
	return ERR_OK;
}

/* The header block of one part, from *pos up to and past its empty line. */
static int parse_headers(const uint8_t *body, size_t len, size_t *pos, struct multipart_part *pt, struct errinfo *e)
{
	size_t p = *pos;
	int nlines = 0, have_disp = 0, have_ct = 0;
	for (;;) {
		size_t avail = len - p, lim = avail < MULTIPART_MAX_HEADER_LINE + 2 ? avail : MULTIPART_MAX_HEADER_LINE + 2;
		const uint8_t *cr = memmem(body + p, lim, "\r\n", 2);
		if (!cr) {
			if (lim == avail)
				return err_set(e, ERR_INVALID, "body", "the body ends inside a part's headers");
			return err_set(e, ERR_INVALID, "body", "a part header line is longer than %d bytes",
				       MULTIPART_MAX_HEADER_LINE);
		}
		const char *l = (const char *)body + p, *le = (const char *)cr;
		p = (size_t)(cr - body) + 2;
		if (l == le)
			break; /* the empty line: data follows */
		if (++nlines > MULTIPART_MAX_HEADERS)
			return err_set(e, ERR_INVALID, "body", "a part has more than %d header lines",
				       MULTIPART_MAX_HEADERS);
		for (const char *c = l; c < le; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t')
				return err_set(e, ERR_INVALID, "body", "a part header has a control character");
		if (*l == ' ' || *l == '\t')
			return err_set(e, ERR_INVALID, "body", "folded part headers are not allowed");
		const char *colon = l;
		while (colon < le && is_tchar((unsigned char)*colon))
			colon++;
		if (colon == l || colon == le || *colon != ':')
			return err_set(e, ERR_INVALID, "body", "malformed part header line");
		const char *v = skip_ows(colon + 1, le), *ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		int rc;
		if (range_is(l, colon, "Content-Disposition")) {
			if (have_disp++)
				return err_set(e, ERR_INVALID, "body", "a part has two Content-Disposition headers");
			if ((rc = parse_disposition(v, ve, pt, e)))
				return rc;
		} else if (range_is(l, colon, "Content-Type")) {
			if (have_ct++)
				return err_set(e, ERR_INVALID, "body", "a part has two Content-Type headers");
			if ((rc = copy_value(pt->content_type, sizeof pt->content_type, v, (size_t)(ve - v),
					     "a part's Content-Type", e)))
				return rc;
		}
		/* other headers (Content-Transfer-Encoding…) are ignored, as RFC 7578 4.7 allows */
	}
	if (!have_disp)
		return err_set(e, ERR_INVALID, "body", "a part has no Content-Disposition header");
	*pos = p;
	return ERR_OK;
}

int multipart_parse(const char *content_type, const uint8_t *body, size_t len, struct multipart_part *parts,
		    size_t max_parts, size_t *nparts, struct errinfo *e)
{
	if (nparts)
		*nparts = 0;
	if (!nparts || (!parts && max_parts) || (!body && len))
		return err_set(e, ERR_INVALID, "body", "bad arguments");
	char dl[2 + BOUNDARY_MAX + 3] = "\r\n--"; /* CRLF "--" boundary */
	int rc = parse_content_type(content_type, dl + 4, sizeof dl - 4, e);
	if (rc)
		return rc;
	size_t dlen = strlen(dl), pos = 0, at = 0;
	int kind;
	/* the first delimiter may open the body, without the CRLF before it */
	if (len >= dlen - 2 && memcmp(body, dl + 2, dlen - 2) == 0 && (kind = delim_kind(body, len, dlen - 2, &pos)))
		;
	else if (!(kind = find_delim(body, len, 0, dl, dlen, &at, &pos)))
		return err_set(e, ERR_INVALID, "body", "the body has no multipart boundary");
	if (kind == 2)
		return err_set(e, ERR_INVALID, "body", "the multipart body has no parts");
	size_t n = 0;
	while (kind == 1) {
		if (n == max_parts)
			return err_set(e, ERR_INVALID, "body", "more than %zu parts in the form", max_parts);
		struct multipart_part *pt = &parts[n];
		memset(pt, 0, sizeof *pt);
		if ((rc = parse_headers(body, len, &pos, pt, e)))
			return rc;
		size_t next = 0;
		kind = find_delim(body, len, pos, dl, dlen, &at, &next);
		if (!kind)
			return err_set(e, ERR_INVALID, "body", "the body ends before the closing multipart boundary");
		pt->data = body + pos;
		pt->len = at - pos;
		if (multipart_get(parts, n, pt->name))
			return err_set(e, ERR_INVALID, "body", "the field \"%s\" appears twice", pt->name);
		n++;
		pos = next;
	}
	/* kind == 2: what follows the close delimiter is the epilogue, ignored */
	*nparts = n;
	return ERR_OK;
}

const struct multipart_part *multipart_get(const struct multipart_part *parts, size_t n, const char *name)
{
	if (!parts || !name)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(parts[i].name, name) == 0)
			return &parts[i];
	return NULL;
}
