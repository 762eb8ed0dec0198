/*
 * textgen.c: the scheduler of one builtin text model (continuous batching).
 *
 * One thread owns the engine context. Each step: admit waiting sequences
 * into free KV slots (FIFO), drop those whose caller left, build one batch
 * (decode tokens first, so a long prompt never starves the others of their
 * next token; then prompt chunks up to prefill_chunk tokens), run one
 * llm_forward, then sample for every entry that asked for logits. The
 * rejected alternative, one llm_generate per request on a thread each,
 * reads the weights once per request per token; batching reads them once
 * per step for everyone, which is what makes 16 clients cheaper than 16x one.
 *
 * Stop strings are matched on decoded text, and text that could still
 * become a stop string is held back (llm_stop_holdback), as generate.c does
 * for the single-sequence path.
 *
 * Prompt caching: a slot remembers the tokens its keys and values were
 * computed from. When a sequence ends, its slot keeps them for
 * prefix_cache_s, marked with the request's cache_key; a later request with
 * the same key takes the free slot sharing the longest prefix with its prompt
 * and computes only the rest (at least the last token, for its logits). A
 * chat resends its whole history each turn, so a turn costs its new tokens.
 * The result is the same bits as without the cache: every operation is per
 * token, batch-invariant. Only the same key reuses a slot, so no one can time
 * another person's prompt; a slot that is not kept, or whose time is up, is
 * zeroed (llm_slot_clear), and a new owner's slot is zeroed before use.
 */
#include "service/textgen.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "engine/gguf.h"
#include "engine/llm/model.h"
#include "engine/threads.h"
#include "engine/llm/tokenizer.h"
#include "engine/llm/vocab.h"

struct seq {
	struct seq *next;       /* queue link */
	int index;              /* choice */
	int32_t *prompt;        /* n_prompt, owned */
	uint32_t n_prompt, pos, n_gen;
	int32_t last;           /* token to feed next (decode) */
	int32_t slot;           /* -1 while waiting */
	uint32_t n_cached;      /* prompt tokens found in the slot's cache */
	int bidx;               /* batch entry with our logits this step, or -1 */
	int32_t tok;            /* sampled from this step's logits */
	float lp;               /* its log-probability, when asked for */
	struct sampler *smp;
	struct tok_stream st;
	struct buf text;        /* decoded, not yet emitted (stop holdback) */
	struct textgen_params p;
	char stopbuf[TEXTGEN_MAX_STOP][LLM_MAX_STOP_LEN + 1];
	const struct textgen_cb *cb;
	void *ud;
};

struct textgen {
	struct llm_model *model;
	struct llm_ctx *ctx;
	struct tokenizer *tok;
	enum tmpl_family tmpl;
	int32_t eos[2];
	size_t n_eos;
	bool add_bos;
	uint32_t n_ctx, n_vocab, n_slots, max_queue, chunk, n_batch;
	uint64_t keep_ns;          /* prompt cache lifetime; 0 = off */

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct seq *qhead, *qtail; /* waiting, FIFO */
	uint32_t nqueued;
	struct seq **active;       /* n_slots; NULL = free slot */
	uint32_t nactive;
	struct llm_tok *batch;     /* n_batch */
	/* per slot: the tokens at positions 0..clen of its keys and values,
	 * whose they are, and (free slots) when they are to be forgotten */
	int32_t *ctoks;            /* n_slots x n_ctx */
	uint32_t *clen;
	char (*ckey)[TEXTGEN_CACHE_KEY];
	uint64_t *cexpire;
	struct textgen_stats stats;
};

/* --- loading -------------------------------------------------------------- */

static void *run(void *arg);
static void slot_forget(struct textgen *g, uint32_t i);

int textgen_open(struct textgen **out, const struct textgen_options *o, struct errinfo *e)
{
	*out = NULL;
	struct textgen *g = calloc(1, sizeof *g);
	if (!g)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc;
	if ((rc = llm_model_load(&g->model, o->path, e)))
		goto fail;
	struct tok_vocab v;
	const struct gguf *gf = llm_model_gguf(g->model);
	if ((rc = llm_vocab_from_gguf(gf, &v, e)) || (rc = tok_new(&g->tok, &v, e)))
		goto fail;
	g->add_bos = v.add_bos;
	const char *tmpl = NULL;
	gguf_get_str(gf, "tokenizer.chat_template", &tmpl, NULL);
	g->tmpl = tmpl_detect(tmpl);
	if (v.eos >= 0)
		g->eos[g->n_eos++] = v.eos;
	int32_t eot = tok_lookup(g->tok, "<|eot_id|>");
	if (eot < 0)
		eot = tok_lookup(g->tok, "<|im_end|>");
	if (eot >= 0 && eot != v.eos)
		g->eos[g->n_eos++] = eot;

	g->n_slots = o->n_slots ? o->n_slots : 16;
	if (g->n_slots > TEXTGEN_MAX_SLOTS) {
		rc = err_set(e, ERR_INVALID, "slots", "at most %d sequences at once", TEXTGEN_MAX_SLOTS);
		goto fail;
	}
	g->max_queue = o->max_queue ? o->max_queue : 64;
	g->chunk = o->prefill_chunk ? o->prefill_chunk : 128;
	g->n_batch = g->chunk + g->n_slots;
	struct llm_ctx_params cp = {
		.n_ctx = o->n_ctx,
		.n_slots = g->n_slots,
		.n_batch = g->n_batch,
		.n_logits = g->n_slots,
		.n_threads = o->threads,
	};
	if ((rc = llm_ctx_new(&g->ctx, g->model, &cp, e)))
		goto fail;
	g->n_ctx = llm_ctx_params(g->ctx)->n_ctx;
	g->n_vocab = llm_model_hparams(g->model)->n_vocab;
	g->keep_ns = (uint64_t)o->prefix_cache_s * 1000000000u;
	g->active = calloc(g->n_slots, sizeof *g->active);
	g->batch = calloc(g->n_batch, sizeof *g->batch);
	g->ctoks = calloc((size_t)g->n_slots * g->n_ctx, sizeof *g->ctoks);
	g->clen = calloc(g->n_slots, sizeof *g->clen);
	g->ckey = calloc(g->n_slots, sizeof *g->ckey);
	g->cexpire = calloc(g->n_slots, sizeof *g->cexpire);
	if (!g->active || !g->batch || !g->ctoks || !g->clen || !g->ckey || !g->cexpire) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	if (pthread_create(&g->thread, NULL, run, g)) {
		rc = err_set(e, ERR_NOMEM, NULL, "cannot start the scheduler thread");
		goto fail;
	}
	g->started = true;
	*out = g;
	return ERR_OK;
fail:
	textgen_close(g);
	return rc;
}

uint32_t textgen_n_ctx(const struct textgen *g) { return g->n_ctx; }
uint32_t textgen_n_vocab(const struct textgen *g) { return g->n_vocab; }
uint32_t textgen_n_slots(const struct textgen *g) { return g->n_slots; }

/* --- prompts -------------------------------------------------------------- */

struct enc {
	const struct textgen *g;
	int32_t *ids;
	size_t n, cap;
	int rc;
};

static int enc_part(void *ud, const char *text, size_t len, bool is_content)
{
	struct enc *x = ud;
	for (;;) {
		size_t got = 0;
		int rc = tok_encode(x->g->tok, text, len, x->n == 0 && x->g->add_bos, !is_content, x->ids + x->n,
				    x->cap - x->n, &got);
		if (rc == ERR_TOOBIG && x->cap - x->n <= got && x->cap < ((size_t)1 << 22)) {
			int32_t *p = realloc(x->ids, x->cap * 2 * sizeof *p);
			if (!p)
				return x->rc = ERR_NOMEM;
			x->ids = p;
			x->cap *= 2;
			continue;
		}
		if (rc)
			return x->rc = rc;
		x->n += got;
		return 0;
	}
}

static int enc_result(struct enc *x, int rc, int32_t **ids, size_t *n, struct errinfo *e, const char *field)
{
	if (rc || x->rc) {
		free(x->ids);
		rc = x->rc ? x->rc : rc;
		if (rc == ERR_INVALID)
			return err_set(e, rc, field, "%s is not valid UTF-8 text", field);
		if (rc == ERR_TOOBIG)
			return err_set(e, rc, field, "%s is too long", field);
		return err_set(e, rc, field, "cannot tokenize %s", field);
	}
	*ids = x->ids;
	*n = x->n;
	return ERR_OK;
}

int textgen_encode_chat(const struct textgen *g, const struct tmpl_msg *msgs, size_t n, int32_t **ids,
			size_t *n_ids, struct errinfo *e)
{
	struct enc x = {g, malloc(1024 * sizeof(int32_t)), 0, 1024, 0};
	if (!x.ids)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	int rc = tmpl_format_parts(g->tmpl, msgs, n, true, enc_part, &x, e);
	return enc_result(&x, rc, ids, n_ids, e, "messages");
}

int textgen_encode_text(const struct textgen *g, const char *text, size_t len, int32_t **ids, size_t *n_ids,
			struct errinfo *e)
{
	struct enc x = {g, malloc(1024 * sizeof(int32_t)), 0, 1024, 0};
	if (!x.ids)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	int rc = enc_part(&x, text, len, true);
	return enc_result(&x, rc, ids, n_ids, e, "prompt");
}

int textgen_token_text(const struct textgen *g, int32_t tok, struct buf *out)
{
	struct tok_stream st = {0};
	return tok_decode_piece(g->tok, &st, tok, out);
}

/* --- queue ---------------------------------------------------------------- */

static void seq_free(struct seq *s)
{
	if (!s)
		return;
	free(s->prompt);
	sampler_free(s->smp);
	buf_free(&s->text);
	free(s);
}

int textgen_submit(struct textgen *g, const int32_t *prompt, size_t n_prompt, int n,
		   const struct textgen_params *p, const struct textgen_cb *cb, void *ud, struct errinfo *e)
{
	if (n < 1 || n > TEXTGEN_MAX_N)
		return err_set(e, ERR_INVALID, "n", "n must be from 1 to %d", TEXTGEN_MAX_N);
	if (n_prompt == 0)
		return err_set(e, ERR_INVALID, "messages", "the prompt is empty");
	if (n_prompt >= g->n_ctx)
		return err_set(e, ERR_TOOBIG, "messages",
			       "the prompt has %zu tokens; this model's context is %u tokens", n_prompt, g->n_ctx);
	if (p->n_stop > TEXTGEN_MAX_STOP)
		return err_set(e, ERR_INVALID, "stop", "at most %d stop sequences", TEXTGEN_MAX_STOP);
	struct seq *made[TEXTGEN_MAX_N] = {0};
	int rc = ERR_OK;
	for (int i = 0; i < n; i++) {
		struct seq *s = made[i] = calloc(1, sizeof *s);
		if (!s || !(s->prompt = malloc(n_prompt * sizeof *prompt))) {
			rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
			goto fail;
		}
		memcpy(s->prompt, prompt, n_prompt * sizeof *prompt);
		s->n_prompt = (uint32_t)n_prompt;
		s->index = i;
		s->slot = -1;
		s->bidx = -1;
		s->p = *p;
		s->p.cache_key[sizeof s->p.cache_key - 1] = '\0';
		s->p.sp.seed = p->sp.seed + (uint64_t)i;
		for (size_t k = 0; k < p->n_stop; k++) {
			size_t l = strlen(p->stop[k]);
			if (l == 0 || l > LLM_MAX_STOP_LEN) {
				rc = err_set(e, ERR_INVALID, "stop", "stop sequences must be 1 to %d bytes",
					     LLM_MAX_STOP_LEN);
				goto fail;
			}
			memcpy(s->stopbuf[k], p->stop[k], l + 1);
			s->p.stop[k] = s->stopbuf[k];
		}
		buf_init(&s->text, 1 << 16);
		s->cb = cb;
		s->ud = ud;
		if ((rc = sampler_new(&s->smp, &s->p.sp, g->n_vocab, e)))
			goto fail;
		for (size_t k = 0; k < n_prompt; k++)
			sampler_accept(s->smp, prompt[k]);
	}
	pthread_mutex_lock(&g->mu);
	if (g->stop || g->nqueued + (uint32_t)n > g->max_queue) {
		pthread_mutex_unlock(&g->mu);
		rc = err_set(e, ERR_BUSY, NULL, "the model is busy: %u requests are waiting; retry shortly",
			     g->nqueued);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		if (g->qtail)
			g->qtail->next = made[i];
		else
			g->qhead = made[i];
		g->qtail = made[i];
	}
	g->nqueued += (uint32_t)n;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return ERR_OK;
fail:
	for (int i = 0; i < n; i++)
		seq_free(made[i]);
	return rc;
}

void textgen_forget(struct textgen *g, const char *prefix)
{
	size_t n = strlen(prefix);
	pthread_mutex_lock(&g->mu);
	/* a free slot's cache is the scheduler's only under this lock
	 * (pick_slot, expire_slots, finish), and the engine never reads a slot
	 * outside the batch: it can be zeroed from here */
	for (uint32_t i = 0; i < g->n_slots; i++)
		if (!g->active[i] && g->ckey[i][0] && !strncmp(g->ckey[i], prefix, n))
			slot_forget(g, i);
	/* requests under way or waiting leave nothing behind */
	for (uint32_t i = 0; i < g->n_slots; i++)
		if (g->active[i] && !strncmp(g->active[i]->p.cache_key, prefix, n))
			g->active[i]->p.cache_key[0] = '\0';
	for (struct seq *s = g->qhead; s; s = s->next)
		if (!strncmp(s->p.cache_key, prefix, n))
			s->p.cache_key[0] = '\0';
	pthread_mutex_unlock(&g->mu);
}

void textgen_stats(struct textgen *g, struct textgen_stats *out)
{
	pthread_mutex_lock(&g->mu);
	*out = g->stats;
	out->queued = g->nqueued;
	out->active = g->nactive;
	pthread_mutex_unlock(&g->mu);
}

/* --- the scheduler -------------------------------------------------------- */

/* A slot's cache gone: keys and values zeroed, no owner. */
static void slot_forget(struct textgen *g, uint32_t i)
{
	llm_slot_clear(g->ctx, (int32_t)i);
	g->clen[i] = 0;
	g->ckey[i][0] = '\0';
	g->cexpire[i] = 0;
}

/* Forget the free slots whose time is up; the next expiry (0: none). */
static uint64_t expire_slots(struct textgen *g, uint64_t now)
{
	uint64_t next = 0;
	for (uint32_t i = 0; i < g->n_slots; i++) {
		if (g->active[i] || !g->ckey[i][0])
			continue;
		if (g->cexpire[i] <= now)
			slot_forget(g, i);
		else if (!next || g->cexpire[i] < next)
			next = g->cexpire[i];
	}
	return next;
}

/* The free slot for s: the one of s's key sharing the longest prefix with its
 * prompt; else an empty one; else the one whose cache expires first (zeroed
 * before s uses it). Sets s->pos past the shared prefix. */
static uint32_t pick_slot(struct textgen *g, struct seq *s)
{
	uint32_t best = UINT32_MAX, best_len = 0, empty = UINT32_MAX, oldest = UINT32_MAX;
	for (uint32_t i = 0; i < g->n_slots; i++) {
		if (g->active[i])
			continue;
		if (!g->ckey[i][0]) {
			if (empty == UINT32_MAX)
				empty = i;
			continue;
		}
		if (oldest == UINT32_MAX || g->cexpire[i] < g->cexpire[oldest])
			oldest = i;
		if (!s->p.cache_key[0] || strcmp(g->ckey[i], s->p.cache_key))
			continue;
		const int32_t *t = g->ctoks + (size_t)i * g->n_ctx;
		uint32_t n = g->clen[i] < s->n_prompt ? g->clen[i] : s->n_prompt, l = 0;
		while (l < n && t[l] == s->prompt[l])
			l++;
		if (l > best_len) {
			best = i;
			best_len = l;
		}
	}
	if (best != UINT32_MAX) {
		/* the last prompt token is computed again: its logits are the
		 * first draw's */
		s->pos = s->n_cached = best_len < s->n_prompt ? best_len : s->n_prompt - 1;
		g->clen[best] = s->pos;
		g->ckey[best][0] = '\0';
		return best;
	}
	uint32_t i = empty != UINT32_MAX ? empty : oldest;
	if (i != UINT32_MAX && g->ckey[i][0])
		slot_forget(g, i);
	return i;
}

/* End s: flush held text (unless cancelled), free its slot, tell the caller. */
static void finish(struct textgen *g, struct seq *s, enum llm_finish f, int rc)
{
	if (f != LLM_FINISH_CANCEL && !rc && s->text.len)
		s->cb->text(s->ud, s->index, s->text.data, s->text.len, -1, 0, NULL);
	if (s->slot >= 0) {
		uint32_t i = (uint32_t)s->slot;
		/* under the lock: textgen_forget may clear the key meanwhile */
		pthread_mutex_lock(&g->mu);
		if (g->keep_ns && !rc && s->p.cache_key[0]) {
			/* kept for the same key's next request */
			memcpy(g->ckey[i], s->p.cache_key, sizeof g->ckey[i]);
			g->cexpire[i] = time_mono_ns() + g->keep_ns;
		} else {
			slot_forget(g, i);
		}
		g->active[i] = NULL;
		g->nactive--;
		pthread_mutex_unlock(&g->mu);
	}
	s->cb->done(s->ud, s->index, f, s->n_gen, s->n_cached, rc);
	seq_free(s);
}

static const char *find_stop(const char *text, size_t len, const char *const *stop, size_t n)
{
	const char *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *p = memmem(text, len, stop[i], strlen(stop[i]));
		if (p && (!best || p < best))
			best = p;
	}
	return best;
}

/* Sample s's next token from logits; returns 1 when s has finished. */
static void sample(struct textgen *g, struct seq *s)
{
	s->lp = 0;
	/* the log-probability costs an exp per vocabulary entry: only on request */
	s->tok = sampler_sample(s->smp, llm_logits(g->ctx, (size_t)s->bidx),
				s->p.want_logprob || s->p.want_logits ? &s->lp : NULL);
}

struct sample_job {
	struct textgen *g;
	atomic_uint next;
};

/* Sequences sample independently (each has its own sampler): spread them
 * over the engine's threads, which would otherwise wait for the next step. */
static void sample_worker(void *ctx, int ith, int nth)
{
	(void)ith;
	(void)nth;
	struct sample_job *j = ctx;
	for (;;) {
		unsigned i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		if (i >= j->g->n_slots)
			break;
		struct seq *s = j->g->active[i];
		if (s && s->bidx >= 0)
			sample(j->g, s);
	}
}

static int advance(struct textgen *g, struct seq *s, const float *logits);

/* A step's sampled tokens to emit: the callbacks (a chunk of JSON and a wake
 * of the client's connection, some 12 us a token) run on the engine's
 * threads, which would otherwise wait for the next step, one request at a
 * time per thread. */
struct emit_job {
	struct textgen *g;
	struct seq *s[TEXTGEN_MAX_SLOTS]; /* grouped by request (ud) */
	size_t n;
	atomic_size_t next; /* next request to claim: its first index */
};

static void emit_worker(void *ctx, int ith, int nth)
{
	(void)ith;
	(void)nth;
	struct emit_job *j = ctx;
	for (;;) {
		/* claim a whole group: the index of its first sequence */
		size_t i = atomic_load_explicit(&j->next, memory_order_relaxed), end;
		do {
			if (i >= j->n)
				return;
			for (end = i + 1; end < j->n && j->s[end]->ud == j->s[i]->ud; end++)
				;
		} while (!atomic_compare_exchange_weak_explicit(&j->next, &i, end, memory_order_relaxed,
							       memory_order_relaxed));
		for (; i < end; i++)
			advance(j->g, j->s[i], llm_logits(j->g->ctx, (size_t)j->s[i]->bidx));
	}
}

/* Emit s->tok: stop strings, callbacks, the end of the sequence. */
static int advance(struct textgen *g, struct seq *s, const float *logits)
{
	float lp = s->lp;
	int32_t tok = s->tok;
	sampler_accept(s->smp, tok);
	s->n_gen++;
	for (size_t i = 0; i < g->n_eos; i++)
		if (tok == g->eos[i]) {
			finish(g, s, LLM_FINISH_STOP, 0);
			return 1;
		}
	size_t from = s->text.len;
	int rc = tok_decode_piece(g->tok, &s->st, tok, &s->text);
	if (rc) {
		finish(g, s, LLM_FINISH_STOP, rc);
		return 1;
	}
	/* No NUL in generated text: a byte-level vocabulary can sample the byte
	 * 0x00, which no client wants in a reply and many cannot carry (C
	 * strings; JSON parsers that refuse \u0000, as ours does). */
	size_t w = from;
	for (size_t r = from; r < s->text.len; r++)
		if (s->text.data[r])
			s->text.data[w++] = s->text.data[r];
	s->text.len = w;
	const char *text = s->text.data ? s->text.data : "";
	const float *lg = s->p.want_logits ? logits : NULL;
	const char *hit = find_stop(text, s->text.len, s->p.stop, s->p.n_stop);
	if (hit) {
		int c = s->cb->text(s->ud, s->index, text, (size_t)(hit - text), tok, lp, lg);
		s->text.len = 0;
		finish(g, s, c ? LLM_FINISH_CANCEL : LLM_FINISH_STOP, 0);
		return 1;
	}
	size_t hold = llm_stop_holdback(text, s->text.len, s->p.stop, s->p.n_stop);
	size_t ready = s->text.len - hold;
	if (s->cb->text(s->ud, s->index, text, ready, tok, lp, lg)) {
		finish(g, s, LLM_FINISH_CANCEL, 0);
		return 1;
	}
	if (hold) /* text.data is NULL until the first piece */
		memmove(s->text.data, s->text.data + ready, hold);
	s->text.len = hold;
	if (s->n_gen >= s->p.max_tokens || s->pos >= g->n_ctx) {
		finish(g, s, LLM_FINISH_LENGTH, 0);
		return 1;
	}
	s->last = tok;
	return 0;
}

static void step(struct textgen *g)
{
	size_t n = 0;
	/* decoding sequences first: one token each */
	for (uint32_t i = 0; i < g->n_slots; i++) {
		struct seq *s = g->active[i];
		if (!s)
			continue;
		s->bidx = -1;
		if (s->pos >= s->n_prompt) {
			s->bidx = (int)n;
			g->batch[n++] = (struct llm_tok){s->last, (int32_t)s->pos, s->slot, true};
			g->ctoks[(size_t)s->slot * g->n_ctx + s->pos] = s->last;
		}
	}
	/* then prompt chunks, oldest slot holder first (slot order is close
	 * enough to arrival order, and each prompt advances every step) */
	size_t budget = g->chunk;
	for (uint32_t i = 0; i < g->n_slots && budget; i++) {
		struct seq *s = g->active[i];
		if (!s || s->pos >= s->n_prompt)
			continue;
		uint32_t k = s->n_prompt - s->pos;
		if (k > budget)
			k = (uint32_t)budget;
		for (uint32_t j = 0; j < k; j++) {
			bool last = s->pos + j + 1 == s->n_prompt;
			if (last)
				s->bidx = (int)n;
			g->batch[n++] = (struct llm_tok){s->prompt[s->pos + j], (int32_t)(s->pos + j), s->slot, last};
			g->ctoks[(size_t)s->slot * g->n_ctx + s->pos + j] = s->prompt[s->pos + j];
		}
		s->pos += k;
		budget -= k;
	}
	if (!n)
		return;
	struct errinfo e = {0};
	int rc = llm_forward(g->ctx, g->batch, n, &e);
	pthread_mutex_lock(&g->mu);
	g->stats.steps++;
	g->stats.tokens += n;
	if (n > g->stats.max_batch)
		g->stats.max_batch = n;
	pthread_mutex_unlock(&g->mu);
	if (rc)
		log_error("textgen.forward", "\"error\":\"%s\",\"batch\":%zu", err_str(rc), n);
	/* what each slot's keys and values now hold (none, if the step failed:
	 * finish forgets the slot) */
	for (uint32_t i = 0; i < g->n_slots; i++)
		if (g->active[i])
			g->clen[i] = rc ? 0 : llm_slot_len(g->ctx, (int32_t)i);
	if (!rc) {
		size_t sampled = 0;
		struct seq *only = NULL;
		for (uint32_t i = 0; i < g->n_slots; i++)
			if (g->active[i] && g->active[i]->bidx >= 0) {
				sampled++;
				only = g->active[i];
			}
		if (sampled == 1) {
			sample(g, only);
		} else if (sampled > 1) {
			struct sample_job j = {.g = g};
			atomic_init(&j.next, 0);
			threads_run(llm_ctx_pool(g->ctx), sample_worker, &j);
		}
	}
	struct emit_job j = {.g = g};
	for (uint32_t i = 0; i < g->n_slots; i++) {
		struct seq *s = g->active[i];
		if (!s || s->bidx < 0)
			continue;
		if (rc) {
			finish(g, s, LLM_FINISH_STOP, rc);
			continue;
		}
		/* a decode entry consumed position pos */
		if (s->pos >= s->n_prompt && g->batch[s->bidx].pos == (int32_t)s->pos)
			s->pos++;
		/* the choices of one request stay together, in order: its
		 * callbacks are never called from two threads at once */
		size_t at = j.n;
		for (size_t k = 0; k < j.n; k++)
			if (j.s[k]->ud == s->ud)
				at = k + 1;
		memmove(j.s + at + 1, j.s + at, (j.n - at) * sizeof *j.s);
		j.s[at] = s;
		j.n++;
	}
	atomic_init(&j.next, 0);
	if (j.n > 1)
		threads_run(llm_ctx_pool(g->ctx), emit_worker, &j);
	else
		emit_worker(&j, 0, 1);
}

static void *run(void *arg)
{
	struct textgen *g = arg;
	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (!g->stop && !g->nactive && !g->qhead) {
			/* idle: wake when a kept cache is due to be forgotten */
			uint64_t next = expire_slots(g, time_mono_ns());
			if (!next) {
				pthread_cond_wait(&g->cv, &g->mu);
				continue;
			}
			/* the condition variable waits on CLOCK_MONOTONIC, as time_mono_ns reads */
			struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
			pthread_cond_timedwait(&g->cv, &g->mu, &ts);
		}
		if (g->stop)
			break;
		expire_slots(g, time_mono_ns());
		/* admit waiting sequences into free slots, in arrival order */
		while (g->qhead && g->nactive < g->n_slots) {
			struct seq *s = g->qhead;
			uint32_t i = pick_slot(g, s);
			g->qhead = s->next;
			if (!g->qhead)
				g->qtail = NULL;
			g->nqueued--;
			s->next = NULL;
			s->slot = (int32_t)i;
			g->active[i] = s;
			g->nactive++;
			g->stats.cached_tokens += s->n_cached;
		}
		pthread_mutex_unlock(&g->mu);
		/* callers that left stop here, within one step */
		for (uint32_t i = 0; i < g->n_slots; i++) {
			struct seq *s = g->active[i];
			if (s && s->cb->gone && s->cb->gone(s->ud))
				finish(g, s, LLM_FINISH_CANCEL, 0);
		}
		step(g);
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

void textgen_close(struct textgen *g)
{
	if (!g)
		return;
	if (g->started) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_cond_signal(&g->cv);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thread, NULL);
	}
	for (uint32_t i = 0; g->active && i < g->n_slots; i++)
		if (g->active[i])
			finish(g, g->active[i], LLM_FINISH_CANCEL, 0);
	while (g->qhead) {
		struct seq *s = g->qhead;
		g->qhead = s->next;
		finish(g, s, LLM_FINISH_CANCEL, 0);
	}
	for (uint32_t i = 0; g->ckey && i < g->n_slots; i++)
		if (g->ckey[i][0])
			slot_forget(g, i);
	free(g->active);
	free(g->batch);
	free(g->ctoks);
	free(g->clen);
	free(g->ckey);
	free(g->cexpire);
	llm_ctx_free(g->ctx);
	tok_free(g->tok);
	llm_model_free(g->model);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}
