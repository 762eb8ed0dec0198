/*
 * sampler.h: choosing the next token from logits.
 *
 * Order of operations (llama.cpp's habit, so users' settings mean the same
 * here): repetition / frequency / presence penalties on the recent history,
 * then temperature; temperature 0 is greedy. Then top-k, top-p, min-p
 * truncation and a draw from our own PRNG (xoshiro256**, seeded with splitmix64),
 * so the same seed gives the same tokens on every machine.
 */
#ifndef ATELIER_ENGINE_LLM_SAMPLER_H
#define ATELIER_ENGINE_LLM_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct sampler_params {
	float temperature;       /* 0: greedy */
	int32_t top_k;           /* 0: off */
	float top_p;             /* 1: off */
	float min_p;             /* 0: off */
	float repeat_penalty;    /* 1: off; divides positive logits, multiplies negative */
	float frequency_penalty; /* 0: off; minus count * this */
	float presence_penalty;  /* 0: off; minus this once a token appeared */
	uint32_t repeat_last_n;  /* history length the penalties look at */
	uint64_t seed;
};

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no penalties, last 64, seed 0. */
void sampler_params_default(struct sampler_params *p);

struct sampler;

/* ERR_INVALID names the parameter out of range. The draw's vector path is
 * chosen here, from the CPU and ATELIER_ENGINE_SCALAR=1 or
 * ATELIER_ENGINE_NO_AVX512=1; every path draws the same tokens. So does the
 * general road, which ATELIER_SAMPLER_SORTED=1 makes every draw take (for
 * tests and benchmarks: the fast road is checked against it). */
int sampler_new(struct sampler **out, const struct sampler_params *p, uint32_t n_vocab, struct errinfo *e);
void sampler_free(struct sampler *s); /* accepts NULL */

/* Record a token of the sequence (prompt or generated) for the penalties. */
void sampler_accept(struct sampler *s, int32_t tok);

/* Forget the history and reseed. */
void sampler_reset(struct sampler *s, uint64_t seed);

/* Pick a token. logits (n_vocab) are not modified. *logprob (may be NULL)
 * receives the natural log of the chosen token's probability under the
 * model's unmodified distribution (softmax of the raw logits). */
int32_t sampler_sample(struct sampler *s, const float *logits, float *logprob);

#endif
