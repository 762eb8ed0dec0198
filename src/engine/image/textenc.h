/*
 * textenc.h: the word-level caption encoder of the default image model.
 *
 * Tokenizer: lower-case the prompt, split on every character that is not a
 * letter a-z, map each word through the vocabulary stored in the weights
 * (id 0 is padding, 1 is unknown), keep the first max_tokens words and pad
 * with 0. The empty prompt (all padding), or the negative prompt when one is
 * given, is the unconditional input of classifier-free guidance. Encoder:
 * token + position embeddings, pre-norm transformer layers (multi-head
 * self-attention without mask, GELU MLP), final LayerNorm; output
 * channel-major [dim, max_tokens].
 */
#ifndef ATELIER_ENGINE_IMAGE_TEXTENC_H
#define ATELIER_ENGINE_IMAGE_TEXTENC_H

#include "base/err.h"
#include "engine/image/unet.h"

struct imgk;
struct textenc;

struct textenc_config {
	int vocab_size, dim, layers, heads, ff, max_tokens;
	float ln_eps;
};

/* vocab: vocab_size words (copied). Weights from src under "text.". */
int textenc_new(struct textenc **out, const struct textenc_config *cfg, const char *const *vocab,
		struct unet_wsrc *src, struct imgk *k, struct errinfo *e);
void textenc_free(struct textenc *t);

/* Fill ids [max_tokens] from prompt; returns the number of words that were
 * not in the vocabulary (they map to id 1). */
int textenc_tokenize(const struct textenc *t, const char *prompt, int *ids);

/* out [dim, max_tokens] = encoder(ids [max_tokens]); ids must be < vocab_size. */
void textenc_forward(struct textenc *t, const int *ids, float *out);

#endif
