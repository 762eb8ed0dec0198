/*
 * multipart.h: an in-memory multipart/form-data parser (RFC 7578, RFC 2046
 * section 5.1) over a fully received request body. Nothing is copied or
 * allocated: parts point into the body, and only the short header values are
 * copied into fixed fields.
 */
#ifndef ATELIER_HTTP_MULTIPART_H
#define ATELIER_HTTP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Limits on one part's header block. */
#define MULTIPART_MAX_HEADER_LINE 1024
#define MULTIPART_MAX_HEADERS 16

/* One form field. name, filename and content_type are NUL-terminated (""
 * when absent); data points into the body given to multipart_parse (never
 * NULL after a successful parse, even when len is 0) and lives as long as it. */
struct multipart_part {
	char name[64];
	char filename[256];
	char content_type[128];
	const uint8_t *data;
	size_t len;
};

/* Parse body (len bytes) whose request Content-Type header is content_type:
 * "multipart/form-data; boundary=..." (boundary quoted or not). Fills up to
 * max_parts parts and sets *nparts. Lines end in CRLF; part data is taken
 * byte for byte (CR and LF inside are kept). A preamble before the first
 * boundary and an epilogue after the closing one are ignored. ERR_INVALID
 * with a clear message (field "body", or "content-type") for: a content type
 * that is not multipart/form-data, a missing or bad boundary, a malformed
 * part, no closing boundary, more than max_parts parts, a duplicate field
 * name, a part without a form-data Content-Disposition and name, or a header
 * over the limits above (or a value too long for its field). */
int multipart_parse(const char *content_type, const uint8_t *body, size_t len, struct multipart_part *parts,
		    size_t max_parts, size_t *nparts, struct errinfo *e);

/* The part named name (exact, case-sensitive match), or NULL. */
const struct multipart_part *multipart_get(const struct multipart_part *parts, size_t n, const char *name);

#endif
