/*
 * textgen.h: one builtin text model served to many callers at once (GEN-1):
 * the weights, the tokenizer, the chat template, one engine context whose KV
 * cache has a slot per running sequence, and a scheduler thread.
 *
 * Continuous batching: requests wait in a FIFO queue (bounded: past the
 * bound, textgen_submit says ERR_BUSY); at every step the scheduler moves
 * waiting sequences into free slots, then runs ONE forward pass over every
 * active sequence: the next token of each decoding sequence plus a chunk of
 * the prompt of those still prefilling. Finished or cancelled sequences free
 * their slot at once, so a waiting one joins at the next step.
 *
 * Results go back through callbacks, called on the scheduler thread; they
 * must be quick (queue bytes on a stream) and never block on the network.
 */
#ifndef ATELIER_SERVICE_TEXTGEN_H
#define ATELIER_SERVICE_TEXTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/llm/generate.h"
#include "engine/llm/sampler.h"
#include "engine/llm/template.h"

#define TEXTGEN_MAX_STOP 4
#define TEXTGEN_MAX_N 4          /* choices per request */
#define TEXTGEN_MAX_TOP 20       /* top_logprobs */
#define TEXTGEN_MAX_SLOTS 256    /* sequences decoded together */

struct textgen_options {
	const char *path;      /* GGUF file */
	uint32_t n_ctx;        /* context cap per sequence; 0: the model's (engine caps at 4096) */
	int threads;           /* engine threads; 0: every core */
	uint32_t n_slots;      /* sequences decoded together; 0: 16; at most TEXTGEN_MAX_SLOTS */
	uint32_t max_queue;    /* requests waiting for a slot; 0: 64 */
	uint32_t prefill_chunk;/* most prompt tokens per step; 0: 128 */
	/* Prompt caching: seconds a finished sequence's keys and values stay in
	 * its slot for a request with the same cache_key that starts with the
	 * same tokens (only the rest of its prompt is computed). 0: never; a
	 * slot is zeroed as its sequence ends. */
	uint32_t prefix_cache_s;
};

#define TEXTGEN_CACHE_KEY 128

/* What one request asks of each of its choices. */
struct textgen_params {
	struct sampler_params sp;  /* choice i is seeded with sp.seed + i */
	uint32_t max_tokens;       /* > 0 */
	const char *stop[TEXTGEN_MAX_STOP];
	size_t n_stop;
	bool want_logprob;         /* compute each token's log-probability (else 0 is passed) */
	bool want_logits;          /* pass logits to the text callback (logprobs) */
	/* Whose cache this request may reuse and leave behind: the same key
	 * for the same person only ("" = none). */
	char cache_key[TEXTGEN_CACHE_KEY];
};

/* Called on the scheduler thread. */
struct textgen_cb {
	/* text (maybe empty) for choice index, with the token that completed
	 * it and its log-probability; logits (n_vocab) when want_logits, else
	 * NULL. Nonzero cancels the whole request. */
	int (*text)(void *ud, int index, const char *text, size_t len, int32_t tok, float logprob,
		    const float *logits);
	/* Polled once a step: nonzero when the caller has gone (cancel). */
	int (*gone)(void *ud);
	/* Choice index ended (stop, length or cancel; rc != 0 when the engine
	 * failed), with n_cached of its prompt tokens taken from the cache.
	 * Called once per choice; the last one may free ud. */
	void (*done)(void *ud, int index, enum llm_finish finish, uint32_t n_gen, uint32_t n_cached, int rc);
};

struct textgen;

/* Load the model and start its scheduler. */
int textgen_open(struct textgen **out, const struct textgen_options *o, struct errinfo *e);

/* Stop the scheduler (active and waiting sequences end as cancelled, their
 * done callbacks run), then free everything. Accepts NULL. */
void textgen_close(struct textgen *g);

/* Positions per sequence (prompt + completion). */
uint32_t textgen_n_ctx(const struct textgen *g);
uint32_t textgen_n_vocab(const struct textgen *g);
uint32_t textgen_n_slots(const struct textgen *g);

/* Tokens of a chat conversation with the model's template and the
 * assistant's prefix; message content never becomes special tokens. ids is
 * malloc'ed (caller frees). ERR_INVALID for bad UTF-8 (field "messages"). */
int textgen_encode_chat(const struct textgen *g, const struct tmpl_msg *msgs, size_t n, int32_t **ids,
			size_t *n_ids, struct errinfo *e);

/* Tokens of a plain prompt (BOS first where the model wants one). */
int textgen_encode_text(const struct textgen *g, const char *text, size_t len, int32_t **ids, size_t *n_ids,
			struct errinfo *e);

/* Text of one token on its own (for top_logprobs), appended to out. */
int textgen_token_text(const struct textgen *g, int32_t tok, struct buf *out);

/* Queue n choices (1..TEXTGEN_MAX_N) of prompt (copied). ERR_BUSY when the
 * queue is full; ERR_TOOBIG when the prompt leaves no room for a token;
 * ERR_INVALID for bad sampler parameters. On success every choice will see
 * exactly one done call. */
int textgen_submit(struct textgen *g, const int32_t *prompt, size_t n_prompt, int n,
		   const struct textgen_params *p, const struct textgen_cb *cb, void *ud, struct errinfo *e);

/* Forget every prompt cache whose key starts with prefix (an erased account
 * or end user): kept slots are zeroed now, requests under way keep nothing
 * when they end. Any thread. */
void textgen_forget(struct textgen *g, const char *prefix);

struct textgen_stats {
	uint64_t steps, tokens, max_batch; /* forward passes, entries, widest */
	uint64_t cached_tokens;            /* prompt tokens taken from the cache */
	uint32_t active, queued;
};
void textgen_stats(struct textgen *g, struct textgen_stats *out);

#endif
