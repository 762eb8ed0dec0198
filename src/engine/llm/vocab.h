/* vocab.h: a tokenizer vocabulary from a GGUF file's tokenizer.* keys. */
#ifndef ATELIER_ENGINE_LLM_VOCAB_H
#define ATELIER_ENGINE_LLM_VOCAB_H

#include "base/err.h"
#include "engine/gguf.h"
#include "engine/llm/tokenizer.h"

/* Fill v from g's metadata (tokenizer.ggml.model, tokens, scores, types,
 * merges, special token ids, add_bos_token). Pointers borrow g's storage.
 * ERR_NOTFOUND/ERR_CORRUPT with a message when the required keys are
 * missing or malformed. */
int llm_vocab_from_gguf(const struct gguf *g, struct tok_vocab *v, struct errinfo *e);

#endif
