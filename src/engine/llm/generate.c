/*
 * generate.c: prefill + sampling loop with stop strings and streaming.
 *
 * Prefill sends the prompt in chunks of the context's batch size with logits
 * for the last token only; decoding sends one token per forward. (Several
 * sequences sharing a forward is the scheduler's job; this loop is the
 * single-sequence path the CLI and tests use.)
 */
#include "engine/llm/generate.h"

#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

size_t llm_stop_holdback(const char *text, size_t len, const char *const *stop, size_t n_stop)
{
	size_t hold = 0;
	for (size_t i = 0; i < n_stop; i++) {
		size_t sl = strlen(stop[i]);
		for (size_t k = sl - 1 < len ? sl - 1 : len; k > hold; k--)
			if (!memcmp(text + len - k, stop[i], k)) {
				hold = k;
				break;
			}
	}
	return hold;
}

static const char *find_stop(const char *text, size_t len, const char *const *stop, size_t n_stop)
{
	const char *best = NULL;
	for (size_t i = 0; i < n_stop; i++) {
		const char *p = memmem(text, len, stop[i], strlen(stop[i]));
		if (p && (!best || p < best))
			best = p;
	}
	return best;
}

int llm_generate(struct llm_ctx *c, int32_t slot, const int32_t *prompt, size_t n_prompt, struct sampler *s,
		 const struct llm_gen_params *gp, llm_piece_fn piece, llm_emit_fn emit, void *ud,
		 struct llm_gen_result *res, struct errinfo *e)
{
	const struct llm_ctx_params *cp = llm_ctx_params(c);
	struct llm_tok batch[64];
	struct buf text;
	int rc = 0;
	buf_init(&text, 1 << 16);
	memset(res, 0, sizeof *res);
	if (n_prompt == 0)
		return err_set(e, ERR_INVALID, "prompt", "the prompt is empty");
	if (n_prompt >= cp->n_ctx)
		return err_set(e, ERR_TOOBIG, "prompt", "prompt of %zu tokens does not fit the context of %u tokens",
			       n_prompt, cp->n_ctx);
	if (gp->n_stop > LLM_MAX_STOP)
		return err_set(e, ERR_INVALID, "stop", "at most %d stop strings", LLM_MAX_STOP);
	for (size_t i = 0; i < gp->n_stop; i++) {
		size_t sl = strlen(gp->stop[i]);
		if (sl == 0 || sl > LLM_MAX_STOP_LEN)
			return err_set(e, ERR_INVALID, "stop", "stop strings must be 1..%d bytes", LLM_MAX_STOP_LEN);
	}
	llm_slot_reset(c, slot);
	size_t chunk = cp->n_batch < 64 ? cp->n_batch : 64;
	double t0 = now_ms();
	for (size_t i = 0; i < n_prompt; i += chunk) {
		size_t n = n_prompt - i < chunk ? n_prompt - i : chunk;
		for (size_t j = 0; j < n; j++) {
			batch[j] = (struct llm_tok){prompt[i + j], (int32_t)(i + j), slot, i + j == n_prompt - 1};
			sampler_accept(s, prompt[i + j]);
		}
		if ((rc = llm_forward(c, batch, n, e)))
			goto out;
	}
	double t1 = now_ms();
	res->n_prompt = (uint32_t)n_prompt;
	res->prompt_ms = t1 - t0;
	const float *logits = llm_logits(c, (n_prompt - 1) % chunk);
	int32_t pos = (int32_t)n_prompt;
	res->finish = LLM_FINISH_LENGTH;
	for (;;) {
		if (gp->max_tokens && res->n_gen >= gp->max_tokens)
			break;
		float lp;
		int32_t tok = sampler_sample(s, logits, &lp);
		sampler_accept(s, tok);
		res->n_gen++;
		bool is_eos = false;
		for (size_t i = 0; i < gp->n_eos; i++)
			is_eos |= gp->eos[i] == tok;
		if (is_eos) {
			res->finish = LLM_FINISH_STOP;
			break;
		}
		if ((rc = piece(ud, tok, &text)))
			goto out;
		const char *hit = find_stop(text.data ? text.data : "", text.len, gp->stop, gp->n_stop);
		if (hit) {
			if (emit(ud, text.data, (size_t)(hit - text.data), tok, lp))
				res->finish = LLM_FINISH_CANCEL;
			else
				res->finish = LLM_FINISH_STOP;
			text.len = 0;
			break;
		}
		size_t hold = llm_stop_holdback(text.data ? text.data : "", text.len, gp->stop, gp->n_stop);
		size_t ready = text.len - hold;
		if (emit(ud, text.data ? text.data : "", ready, tok, lp)) {
			res->finish = LLM_FINISH_CANCEL;
			break;
		}
		memmove(text.data, text.data + ready, hold);
		text.len = hold;
		if (text.data)
			text.data[hold] = 0;
		if ((uint32_t)pos >= cp->n_ctx)
			break;
		batch[0] = (struct llm_tok){tok, pos, slot, true};
		if ((rc = llm_forward(c, batch, 1, e)))
			goto out;
		logits = llm_logits(c, 0);
		pos++;
	}
	/* Held-back text that never became a stop string belongs to the output. */
	if (res->finish != LLM_FINISH_CANCEL && text.len)
		emit(ud, text.data, text.len, -1, 0);
	res->gen_ms = now_ms() - t1;
out:
	buf_free(&text);
	return rc;
}
