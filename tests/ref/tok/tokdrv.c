/*
 * tokdrv.c: command-line driver of the C tokenizer for tests/ref/tokenizer.sh.
 *
 * Reads the tokenizer of a GGUF file the way the engine does (tokenizer.ggml.*
 * metadata through engine/gguf.h) and runs one of:
 *   tokdrv FILE.gguf encode [bos] [special]  stdin: one hex-encoded text per line;
 *                                            stdout: ids separated by spaces, or "ERR code"
 *   tokdrv FILE.gguf decode                  stdin: ids per line; stdout: hex of the text,
 *                                            decoded piece by piece through one tok_stream,
 *                                            or "BADUTF8" if any prefix was not valid UTF-8
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/llm/tokenizer.h"

static int vocab(const struct gguf *g, struct tok_vocab *v, struct errinfo *e)
{
	const void *d;
	size_t n;
	uint32_t u;
	bool b;
	memset(v, 0, sizeof *v);
	if (gguf_get_str(g, "tokenizer.ggml.model", &v->model, e))
		return -1;
	if (gguf_get_str(g, "tokenizer.ggml.pre", &v->pre, NULL))
		v->pre = NULL;
	if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &d, &n, e))
		return -1;
	v->tokens = d;
	v->n_tokens = n;
	if (!gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_F32, &d, &n, NULL))
		v->scores = d;
	if (!gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_I32, &d, &n, NULL))
		v->types = d;
	if (!gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, &d, &n, NULL)) {
		v->merges = d;
		v->n_merges = n;
	}
	v->bos = !gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u, NULL) ? (int32_t)u : -1;
	v->eos = !gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u, NULL) ? (int32_t)u : -1;
	v->unk = !gguf_get_u32(g, "tokenizer.ggml.unknown_token_id", &u, NULL) ? (int32_t)u : -1;
	v->pad = !gguf_get_u32(g, "tokenizer.ggml.padding_token_id", &u, NULL) ? (int32_t)u : -1;
	v->add_bos = !gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, NULL) ? b : !strcmp(v->model, "llama");
	return 0;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
	/* independent of the tokenizer's own check: decode and range-test */
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i], need, cp, min;
		if (c < 0x80) { i++; continue; }
		else if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; min = 0x80; }
		else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; min = 0x800; }
		else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; min = 0x10000; }
		else return false;
		if (i + need >= n) return false;
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xC0) != 0x80) return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
		i += need + 1;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct errinfo e = {0};
	struct gguf *g = NULL;
	struct tokenizer *t = NULL;
	struct tok_vocab v;
	if (argc < 3) {
		fprintf(stderr, "usage: tokdrv FILE.gguf encode [bos] [special] | decode\n");
		return 2;
	}
	if (gguf_open(&g, argv[1], &e) || vocab(g, &v, &e) || tok_new(&t, &v, &e)) {
		fprintf(stderr, "tokdrv: %s: %s\n", argv[1], e.msg);
		return 1;
	}
	bool enc = !strcmp(argv[2], "encode"), bos = false, special = false;
	for (int i = 3; i < argc; i++) {
		bos |= !strcmp(argv[i], "bos");
		special |= !strcmp(argv[i], "special");
	}
	size_t cap = 1 << 20;
	char *line = NULL, *text = malloc(cap);
	int32_t *ids = malloc(cap * sizeof *ids);
	size_t lcap = 0;
	ssize_t ll;
	while ((ll = getline(&line, &lcap, stdin)) >= 0) {
		if (ll && line[ll - 1] == '\n')
			line[--ll] = 0;
		if (enc) {
			size_t n = 0, m = (size_t)ll / 2;
			for (size_t i = 0; i < m && i < cap; i++)
				text[i] = (char)(hexval(line[2 * i]) << 4 | hexval(line[2 * i + 1]));
			int rc = tok_encode(t, text, m, bos, special, ids, cap, &n);
			if (rc) {
				printf("ERR %s\n", err_str(rc));
				continue;
			}
			for (size_t i = 0; i < n; i++)
				printf(i ? " %d" : "%d", ids[i]);
			printf("\n");
		} else {
			struct tok_stream st = {0};
			struct buf out;
			bool ok = true;
			buf_init(&out, 0);
			for (char *p = line, *end; *p; p = end) {
				long id = strtol(p, &end, 10);
				if (end == p)
					break;
				if (tok_decode_piece(t, &st, (int32_t)id, &out)) {
					ok = false;
					break;
				}
				ok = ok && valid_utf8((const unsigned char *)out.data, out.len);
			}
			if (!ok)
				printf("BADUTF8");
			else
				for (size_t i = 0; i < out.len; i++)
					printf("%02x", (unsigned char)out.data[i]);
			printf("\n");
			buf_free(&out);
		}
	}
	free(line);
	free(text);
	free(ids);
	tok_free(t);
	gguf_free(g);
	return 0;
}
