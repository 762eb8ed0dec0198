/*
 * tokenizer.h: text <-> token ids for the llama family of GGUF models.
 *
 * Two schemes, chosen by tokenizer.ggml.model:
 *   "llama"  SentencePiece-style BPE (Llama 2, TinyLlama): pieces merged by
 *            score, "▁" (U+2581) for spaces with one "▁" prefixed to the text and
 *            after each special token, byte-fallback pieces <0xNN>.
 *   "gpt2"   byte-level BPE (Llama 3, Qwen2, SmolLM, GPT-2, our atelier-tiny):
 *            the GPT-2 byte-to-unicode mapping, merges ranked by their order,
 *            and the pre-tokenizer regex of the family named by
 *            tokenizer.ggml.pre (PCRE2 in UTF and UCP mode): "llama-bpe"
 *            (Llama 3; also "llama3", "llama-v3", "smaug-bpe", "dbrx"), "qwen2"
 *            (also "stablelm2", "deepseek-r1-qwen"), "smollm" (also
 *            "starcoder", "refact"), and GPT-2's for "gpt-2", "default", NULL
 *            and any name not listed (llama.cpp's fallback too).
 * Special tokens (control, unknown and user-defined types) are recognised in
 * the text as whole tokens; control and unknown ones only when the caller asks.
 *
 * A tokenizer is immutable after tok_new, so threads may share one.
 */
#ifndef ATELIER_ENGINE_LLM_TOKENIZER_H
#define ATELIER_ENGINE_LLM_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Longest text tok_encode accepts, in bytes (ERR_TOOBIG past it): 1 MiB,
 * more than the context of the models we run holds. Encoding is O(n log n) in
 * the text and takes about 100 bytes of scratch per input byte (freed before
 * it returns), so the cap bounds both time (about a second per MiB on one
 * core) and memory (about 100 MiB). */
#define TOK_MAX_TEXT ((size_t)1 << 20)

/* Most tokens a vocabulary may have, and the longest token string. */
#define TOK_MAX_VOCAB ((size_t)1 << 21)
#define TOK_MAX_PIECE 4096

/* Token types as GGUF stores them in tokenizer.ggml.token_type. */
enum tok_type {
	TOK_TYPE_NORMAL = 1,
	TOK_TYPE_UNKNOWN = 2,
	TOK_TYPE_CONTROL = 3,
	TOK_TYPE_USER = 4,
	TOK_TYPE_UNUSED = 5,
	TOK_TYPE_BYTE = 6
};

/* What a GGUF file says about its tokenizer. All pointers are borrowed (for
 * instance from the GGUF mmap) and need only live through tok_new. */
struct tok_vocab {
	const char *model;         /* tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE) */
	const char *pre;           /* tokenizer.ggml.pre: "llama-bpe", "qwen2", "default", "smollm", "gpt-2" … or NULL */
	size_t n_tokens;
	const char *const *tokens; /* n_tokens NUL-terminated strings */
	const float *scores;       /* n_tokens or NULL */
	const int32_t *types;      /* n_tokens token types (enum tok_type) or NULL: all normal,
	                            * except "<0xNN>" pieces of a "llama" vocabulary, taken as bytes */
	size_t n_merges;
	const char *const *merges; /* "a b" strings, or NULL */
	int32_t bos, eos, unk, pad; /* -1 if absent */
	bool add_bos;              /* tokenizer.ggml.add_bos_token (llama.cpp's default when the key is
	                            * absent: true for "llama", false for "gpt2") */
};

struct tokenizer;

/* Build a tokenizer from v, copying everything it keeps. ERR_UNSUPPORTED for
 * another model kind, ERR_CORRUPT for an inconsistent vocabulary (a missing
 * token string, a merge that is not "a b", a bos/eos/unk/pad id out of range,
 * a "gpt2" vocabulary without merges), ERR_TOOBIG past TOK_MAX_VOCAB tokens or
 * a token longer than TOK_MAX_PIECE. Merges naming unknown tokens are skipped,
 * as llama.cpp does; bytes with no token of their own encode as unk (or are
 * dropped when there is none). */
int tok_new(struct tokenizer **out, const struct tok_vocab *v, struct errinfo *e);

/* Accepts NULL. */
void tok_free(struct tokenizer *t);

/* Encode len bytes of text into ids[0..*n). A BOS token is put first when
 * add_bos is true AND the vocabulary's add_bos is true AND it has a bos, so a
 * caller may always pass true at the start of a prompt. With parse_special,
 * control and unknown tokens written in the text ("<|im_start|>") become those
 * tokens; user-defined tokens always do, as in llama.cpp. ERR_INVALID on
 * invalid UTF-8, ERR_TOOBIG if len > TOK_MAX_TEXT or more than cap ids would
 * be needed (ids then holds the first cap). */
int tok_encode(const struct tokenizer *t, const char *text, size_t len, bool add_bos,
	bool parse_special, int32_t *ids, size_t cap, size_t *n);

/* Streaming decode state; zero it (= {0}) before the first piece. */
struct tok_stream {
	unsigned char pending[8];
	size_t npending;
};

/* Append the text of token id to out. Bytes of an incomplete UTF-8 sequence
 * are held in st until the rest arrives, and bytes that cannot become valid
 * UTF-8 come out as U+FFFD, so the concatenated output is always valid UTF-8
 * (an incomplete sequence left at the end of a stream is dropped). Control
 * and unknown tokens add nothing; SentencePiece "▁" becomes a space (the
 * leading space of a prompt's first word is kept: generated text continues
 * the prompt). ERR_INVALID for an id out of range; buf errors pass through. */
int tok_decode_piece(const struct tokenizer *t, struct tok_stream *st, int32_t id, struct buf *out);

/* Id of the token whose vocabulary string is piece (as stored: "▁the",
 * "Ġthe", "<|im_end|>"), or -1. */
int32_t tok_lookup(const struct tokenizer *t, const char *piece);

/* Number of tokens in the vocabulary. */
size_t tok_count(const struct tokenizer *t);

#endif
