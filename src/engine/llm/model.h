/*
 * model.h: llama-family language models from GGUF files, and the contexts
 * (KV cache + scratch) that run them.
 *
 * A model (weights, read-only, used in place from the mapping) may be shared
 * by several contexts. A context owns a KV cache of n_slots sequences of up
 * to n_ctx positions each, a thread pool, and every buffer a forward pass
 * needs: llm_forward() allocates nothing.
 *
 * llm_forward() takes a batch of (token, position, slot) so that one pass can
 * carry the prompt of one request and the next token of others (continuous
 * batching); within a slot, positions must continue the sequence (pos <= the
 * slot's length), which the caller's scheduler guarantees and we check.
 *
 * Architectures: "llama" (Llama 2/3, TinyLlama, SmolLM; rotary pairs are
 * adjacent elements, the GGUF convention) and "qwen2" (Q/K/V biases; rotary
 * pairs are the two halves of a head, NeoX style).
 */
#ifndef ATELIER_ENGINE_LLM_MODEL_H
#define ATELIER_ENGINE_LLM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/gguf.h"

enum llm_arch { LLM_ARCH_LLAMA, LLM_ARCH_QWEN2, LLM_ARCH__MAX };

struct llm_hparams {
	enum llm_arch arch;
	const char *arch_name;
	uint32_t n_vocab;
	uint32_t n_embd;      /* model width */
	uint32_t n_layer;
	uint32_t n_head;
	uint32_t n_head_kv;   /* grouped-query attention: n_head % n_head_kv == 0 */
	uint32_t head_dim;
	uint32_t n_ff;        /* SwiGLU hidden width */
	uint32_t n_rot;       /* rotary dimensions per head (even, <= head_dim) */
	uint32_t n_ctx_train; /* context length from the metadata */
	float rms_eps;
	float rope_base;
	bool rope_neox;
	bool tied_output;     /* output.weight absent: token_embd reused */
	uint32_t wtype;       /* type of blk.0.attn_q.weight, for display */
};

struct llm_model;
struct llm_ctx;

/* Open path and build the model. ERR_UNSUPPORTED names the architecture or
 * tensor type we cannot run; ERR_CORRUPT names a missing or misshapen tensor. */
int llm_model_load(struct llm_model **out, const char *path, struct errinfo *e);

/* Free the model and its mapping. Every context using it must be freed
 * first. Accepts NULL. */
void llm_model_free(struct llm_model *m);

const struct llm_hparams *llm_model_hparams(const struct llm_model *m);
const struct gguf *llm_model_gguf(const struct llm_model *m);

/* Bytes of weights one decoding step reads (every matrix once). */
size_t llm_model_weight_bytes(const struct llm_model *m);

struct llm_ctx_params {
	uint32_t n_ctx;    /* positions per slot; 0: the model's, capped at 4096 */
	uint32_t n_slots;  /* concurrent sequences; 0 means 1 */
	uint32_t n_batch;  /* most tokens per forward; 0 means 256 */
	uint32_t n_logits; /* most batch entries asking for logits; 0 means n_slots */
	int n_threads;     /* 0: one per CPU */
};

/* A context for m. n_ctx is capped by the model's context length. */
int llm_ctx_new(struct llm_ctx **out, const struct llm_model *m, const struct llm_ctx_params *p,
		struct errinfo *e);

/* Accepts NULL. */
void llm_ctx_free(struct llm_ctx *c);

/* The effective parameters (after defaults and caps). */
const struct llm_ctx_params *llm_ctx_params(const struct llm_ctx *c);
const struct llm_model *llm_ctx_model(const struct llm_ctx *c);

/* One entry of a forward batch. */
struct llm_tok {
	int32_t token;
	int32_t pos;  /* position in its slot's sequence */
	int32_t slot; /* 0..n_slots-1 */
	bool logits;  /* compute logits for this entry */
};

/* Run the model on n entries (n <= n_batch). ERR_INVALID for a token out of
 * the vocabulary, a bad slot, or a position that skips ahead of its slot;
 * ERR_TOOBIG for a position past n_ctx or too many logits requested. */
int llm_forward(struct llm_ctx *c, const struct llm_tok *batch, size_t n, struct errinfo *e);

/* Logits (n_vocab floats) of entry i of the last forward, or NULL when that
 * entry did not ask for them. Valid until the next forward. */
const float *llm_logits(const struct llm_ctx *c, size_t i);
/* The context's thread pool, for work between forward passes (sampling). */
struct threadpool *llm_ctx_pool(struct llm_ctx *c);

/* Positions held by a slot; and forgetting them (the slot starts over). */
uint32_t llm_slot_len(const struct llm_ctx *c, int32_t slot);
void llm_slot_reset(struct llm_ctx *c, int32_t slot);
/* llm_slot_reset that also zeroes the keys and values the slot held, so
 * nothing derived from its text stays in memory. */
void llm_slot_clear(struct llm_ctx *c, int32_t slot);

#endif
