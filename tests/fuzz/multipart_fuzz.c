/*
 * multipart_fuzz.c: libFuzzer target for the multipart/form-data parser.
 *
 * scripts/fuzz.sh builds it with what the next line names:
 * fuzz-link: src/http/multipart.c src/base/err.c
 *
 * An input is a Content-Type header, a newline, then the body (seeds in
 * tests/fuzz/corpus/multipart, made by tools/make_upload_corpus.py). Checked:
 * every part lies inside the body and after the one before, has a non-empty
 * unique name, NUL-terminated fields, and multipart_get finds it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

#define MAXP 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ctlen = nl ? (size_t)(nl - data) : size;
	char *ct = malloc(ctlen + 1);
	size_t blen = nl ? size - ctlen - 1 : 0;
	uint8_t *body = malloc(blen ? blen : 1); /* exact copy: overruns are caught */
	if (!ct || !body)
		abort();
	memcpy(ct, data, ctlen);
	ct[ctlen] = '\0';
	if (blen)
		memcpy(body, nl + 1, blen);
	struct multipart_part parts[MAXP];
	size_t n = 99;
	struct errinfo e;
	int rc = multipart_parse(ct, body, blen, parts, MAXP, &n, &e);
	if (rc == ERR_OK) {
		if (n < 1 || n > MAXP)
			abort();
		const uint8_t *prev = body;
		for (size_t i = 0; i < n; i++) {
			const struct multipart_part *p = &parts[i];
			if (!p->data || p->data < prev || p->data + p->len > body + blen)
				abort();
			prev = p->data + p->len;
			if (!memchr(p->name, '\0', sizeof p->name) || !memchr(p->filename, '\0', sizeof p->filename) ||
			    !memchr(p->content_type, '\0', sizeof p->content_type))
				abort();
			if (!p->name[0] || multipart_get(parts, n, p->name) != p)
				abort();
			volatile uint8_t sum = 0;
			for (size_t k = 0; k < p->len; k++)
				sum += p->data[k];
		}
	} else {
		if (rc != ERR_INVALID || n != 0 || !memchr(e.msg, '\0', sizeof e.msg))
			abort();
	}
	free(ct);
	free(body);
	return 0;
}
