/*
 * generate.h: the generation loop of one sequence: prefill the prompt in
 * batches, then sample token after token, streaming text through a callback,
 * until an end-of-sequence token, a stop string, max_tokens, or the end of
 * the context.
 *
 * The loop knows nothing of tokenizers: the caller passes a function that
 * appends a token's text (tokenizer.h's streaming decode fits it). Stop strings
 * are matched on that text; text that could still become a stop string is
 * held back until it cannot, so a stop string never reaches the client.
 */
#ifndef ATELIER_ENGINE_LLM_GENERATE_H
#define ATELIER_ENGINE_LLM_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "engine/llm/model.h"
#include "engine/llm/sampler.h"

#define LLM_MAX_STOP 8
#define LLM_MAX_STOP_LEN 256

enum llm_finish { LLM_FINISH_STOP, LLM_FINISH_LENGTH, LLM_FINISH_CANCEL };

struct llm_gen_params {
	uint32_t max_tokens;     /* 0: until the context is full */
	const char *const *stop; /* n_stop strings, each 1..LLM_MAX_STOP_LEN bytes */
	size_t n_stop;
	const int32_t *eos;      /* tokens that end the sequence (n_eos of them) */
	size_t n_eos;
};

/* Append the text of token tok to out; nonzero (an enum err) to abort. */
typedef int (*llm_piece_fn)(void *ud, int32_t tok, struct buf *out);
/* Text ready for the client (may be empty), with the token that completed it
 * and its log-probability; return nonzero to cancel. */
typedef int (*llm_emit_fn)(void *ud, const char *text, size_t len, int32_t tok, float logprob);

struct llm_gen_result {
	uint32_t n_prompt, n_gen;
	enum llm_finish finish;
	double prompt_ms, gen_ms;
};

/* Generate in slot (which is reset first) of c. ERR_TOOBIG when the prompt
 * leaves no room in the context; ERR_INVALID for bad stop strings. */
int llm_generate(struct llm_ctx *c, int32_t slot, const int32_t *prompt, size_t n_prompt, struct sampler *s,
		 const struct llm_gen_params *gp, llm_piece_fn piece, llm_emit_fn emit, void *ud,
		 struct llm_gen_result *res, struct errinfo *e);

/* How many bytes at the end of text[0..len) could begin one of the stop
 * strings (the part to hold back). Exposed for tests. */
size_t llm_stop_holdback(const char *text, size_t len, const char *const *stop, size_t n_stop);

#endif
