/*
 * vocab.c: the tokenizer's description (struct tok_vocab) from GGUF
 * metadata, shared by the CLI and the server's text models. Pointers are
 * borrowed from the GGUF reader, which must outlive the vocabulary.
 */
#include "engine/llm/vocab.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

int llm_vocab_from_gguf(const struct gguf *g, struct tok_vocab *v, struct errinfo *e)
{
	memset(v, 0, sizeof *v);
	const void *data;
	size_t n;
	int rc;
	if ((rc = gguf_get_str(g, "tokenizer.ggml.model", &v->model, e)))
		return rc;
	if (gguf_get_str(g, "tokenizer.ggml.pre", &v->pre, NULL))
		v->pre = NULL;
	if ((rc = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &data, &n, e)))
		return rc;
	v->tokens = data;
	v->n_tokens = n;
	if (!gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_F32, &data, &n, NULL) && n == v->n_tokens)
		v->scores = data;
	if (!gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_I32, &data, &n, NULL) && n == v->n_tokens)
		v->types = data;
	if (!gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, &data, &n, NULL)) {
		v->merges = data;
		v->n_merges = n;
	}
	static const struct {
		const char *key;
		size_t off;
	} ids[] = {
		{"tokenizer.ggml.bos_token_id", offsetof(struct tok_vocab, bos)},
		{"tokenizer.ggml.eos_token_id", offsetof(struct tok_vocab, eos)},
		{"tokenizer.ggml.unknown_token_id", offsetof(struct tok_vocab, unk)},
		{"tokenizer.ggml.padding_token_id", offsetof(struct tok_vocab, pad)},
	};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		uint32_t u;
		int32_t *dst = (int32_t *)((char *)v + ids[i].off);
		*dst = (!gguf_get_u32(g, ids[i].key, &u, NULL) && u < v->n_tokens) ? (int32_t)u : -1;
	}
	bool b;
	v->add_bos = !gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, NULL) ? b : !strcmp(v->model, "llama");
	return 0;
}
