/*
 * model.c: loading llama/qwen2 GGUF models and the batched forward pass.
 *
 * The forward pass works on a batch of B entries at once. Every weight matrix
 * is applied to all B rows in one parallel job (rows of the weight split among
 * threads; each weight row is read once per batch and dotted with all B
 * activation rows while it is in cache), so prompt processing is
 * matrix-matrix and compute-bound, and generation (B = number of active
 * sequences) reads each weight once per step. Attention runs per (entry,
 * KV head) against that entry's slot of the KV cache (attn.c), covering the
 * query heads that share the KV head in one pass.
 *
 * Layout conventions (llama2.c's habit: shapes in comments, rows first):
 *   x      [B][n_embd]        residual stream
 *   xb     [B][n_embd]        normalised input of a sub-layer
 *   q      [B][n_head*hd]     queries;  k, v [B][n_kv*hd]
 *   att    [B][n_head*hd]     attention output
 *   hb,hb2 [B][n_ff]          SwiGLU gate and up
 *   kcache [layer][slot][n_kv][n_ctx][hd], vcache likewise (float32): a KV
 *          head's positions are contiguous, so attention streams them
 */
#include "engine/llm/model.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attn.h"
#include "engine/quant.h"
#include "engine/tensor.h"
#include "engine/threads.h"
#include "engine/vec.h"

#define CTX_DEFAULT_CAP 4096

struct mat {
	const struct tensor *t;
	const struct quant_kernel *k;
	size_t row_bytes;
	uint32_t n_in, n_out;
};

struct layer {
	float *attn_norm;  /* [n_embd] */
	struct mat wq, wk, wv, wo;
	float *bq, *bk, *bv; /* [n_head*hd], [n_kv*hd] or NULL (qwen2 only) */
	float *ffn_norm;   /* [n_embd] */
	struct mat w_gate, w_up, w_down;
};

struct llm_model {
	struct gguf *g;
	struct llm_hparams hp;
	const struct tensor *tok_embd; /* [n_vocab][n_embd] */
	float *out_norm;               /* [n_embd] */
	struct mat output;             /* [n_vocab][n_embd] */
	struct layer *layers;
	float *inv_freq;               /* [n_rot/2] rotary frequencies, scaling applied */
	size_t weight_bytes;
};

/* Largest table of rotary angles a context keeps (bytes). */
#define ROPE_TABLE_MAX ((size_t)8 << 20)

struct llm_ctx {
	const struct llm_model *m;
	struct llm_ctx_params p;
	struct threadpool *pool;
	float *x, *xb, *q, *k, *v, *att, *hb, *hb2; /* see the file comment */
	float *rope;          /* [B][n_rot/2][2] cos, sin */
	float *rope_tab;      /* [n_ctx][n_rot/2][2] the same for every position, or NULL (too large) */
	void *act;            /* [B] quantized activation rows */
	size_t act_stride;
	float *scores;        /* [n_threads][n_head / n_head_kv][n_ctx] */
	attn_fn attn;
	float *kcache, *vcache;
	uint32_t *slot_len;   /* [n_slots] */
	uint32_t *slot_hw;    /* [n_slots] positions ever written since the last clear */
	float *logits;        /* [n_logits][n_vocab] */
	int32_t *logit_row;   /* [n_batch]: row in logits, or -1 */
	const struct llm_tok *batch;
	size_t nb;
};

/* ---- loading ---- */

static int get_u32(const struct gguf *g, const char *arch, const char *suffix, uint32_t *out, bool required,
		   struct errinfo *e)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	struct errinfo tmp;
	int rc = gguf_get_u32(g, key, out, &tmp);
	if (rc == ERR_NOTFOUND && !required)
		return 0;
	if (rc) {
		if (e)
			*e = tmp;
		return rc;
	}
	return 0;
}

static int get_f32(const struct gguf *g, const char *arch, const char *suffix, float *out, struct errinfo *e)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	struct errinfo tmp;
	int rc = gguf_get_f32(g, key, out, &tmp);
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc && e)
		*e = tmp;
	return rc;
}

static int find(const struct llm_model *m, const char *name, const struct tensor **out, uint64_t ne0, uint64_t ne1,
		bool required, struct errinfo *e)
{
	const struct tensor *t = gguf_find_tensor(m->g, name);
	*out = t;
	if (!t)
		return required ? err_set(e, ERR_CORRUPT, NULL, "model has no tensor '%s'", name) : 0;
	if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
		return err_set(e, ERR_CORRUPT, NULL, "tensor '%s' has shape [%llu,%llu], expected [%llu,%llu]", name,
			       (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)ne0,
			       (unsigned long long)ne1);
	if (!tensor_type_computable(t->type))
		return err_set(e, ERR_UNSUPPORTED, NULL, "tensor '%s' has type %s, which the engine does not support",
			       name, tensor_type_name(t->type));
	return 0;
}

/* A vector (norm weight, bias) as owned floats, whatever its stored type. */
static int load_vec(struct llm_model *m, const char *name, uint32_t n, bool required, float **out,
		    struct errinfo *e)
{
	const struct tensor *t;
	*out = NULL;
	int rc = find(m, name, &t, n, 1, required, e);
	if (rc || !t)
		return rc;
	if (!(*out = malloc(n * sizeof(float))))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	tensor_dequant_row(t->type, t->data, *out, n);
	return 0;
}

static int load_mat(struct llm_model *m, const char *name, uint32_t n_in, uint32_t n_out, struct mat *w,
		    struct errinfo *e)
{
	int rc = find(m, name, &w->t, n_in, n_out, true, e);
	if (rc)
		return rc;
	w->k = quant_kernel(w->t->type);
	if (!w->k || n_in % quant_act_block(w->k->act))
		return err_set(e, ERR_UNSUPPORTED, NULL, "tensor '%s': no kernel for %s with rows of %u", name,
			       tensor_type_name(w->t->type), n_in);
	tensor_row_bytes(w->t->type, n_in, &w->row_bytes);
	w->n_in = n_in;
	w->n_out = n_out;
	m->weight_bytes += w->t->nbytes;
	return 0;
}

static int lname(char *buf, size_t cap, uint32_t il, const char *what)
{
	snprintf(buf, cap, "blk.%u.%s", il, what);
	return 0;
}

/* Rotary frequencies: base^(-2i/n_rot), then Llama 3 style scaling when the
 * metadata (or a rope_freqs tensor) asks for it. */
static int rope_setup(struct llm_model *m, struct errinfo *e)
{
	const struct llm_hparams *hp = &m->hp;
	uint32_t half = hp->n_rot / 2;
	if (!(m->inv_freq = malloc(half * sizeof(float))))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	for (uint32_t i = 0; i < half; i++)
		m->inv_freq[i] = powf(hp->rope_base, -2.0f * (float)i / (float)hp->n_rot);

	const struct tensor *rf = gguf_find_tensor(m->g, "rope_freqs.weight");
	if (rf) { /* factors the frequencies are divided by (llama.cpp's convert for Llama 3.1) */
		if (rf->ne[0] != half || rf->n_dims != 1 || !tensor_type_computable(rf->type))
			return err_set(e, ERR_CORRUPT, NULL, "tensor 'rope_freqs.weight' has a bad shape or type");
		float f[1024];
		if (half > 1024)
			return err_set(e, ERR_UNSUPPORTED, NULL, "rotary dimension %u too large", hp->n_rot);
		tensor_dequant_row(rf->type, rf->data, f, half);
		for (uint32_t i = 0; i < half; i++)
			if (f[i] > 0)
				m->inv_freq[i] /= f[i];
		return 0;
	}
	char key[128];
	const char *type = NULL;
	snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch_name);
	if (gguf_get_str(m->g, key, &type, NULL) != 0 || !type || !strcmp(type, "none"))
		return 0;
	float factor = 1;
	get_f32(m->g, hp->arch_name, "rope.scaling.factor", &factor, NULL);
	if (!(factor > 0))
		return err_set(e, ERR_CORRUPT, NULL, "rope.scaling.factor must be positive");
	if (!strcmp(type, "linear")) {
		for (uint32_t i = 0; i < half; i++)
			m->inv_freq[i] /= factor;
	} else if (!strcmp(type, "llama3")) {
		float lo = 1, hi = 4;
		uint32_t orig = 8192;
		get_f32(m->g, hp->arch_name, "rope.scaling.low_freq_factor", &lo, NULL);
		get_f32(m->g, hp->arch_name, "rope.scaling.high_freq_factor", &hi, NULL);
		get_u32(m->g, hp->arch_name, "rope.scaling.original_context_length", &orig, false, NULL);
		float lo_wl = (float)orig / lo, hi_wl = (float)orig / hi;
		for (uint32_t i = 0; i < half; i++) {
			float f = m->inv_freq[i], wl = 2.0f * (float)M_PI / f;
			if (wl < hi_wl)
				continue;
			if (wl > lo_wl || hi == lo) {
				m->inv_freq[i] = f / factor;
			} else {
				float s = ((float)orig / wl - lo) / (hi - lo);
				m->inv_freq[i] = (1 - s) * f / factor + s * f;
			}
		}
	} else {
		return err_set(e, ERR_UNSUPPORTED, NULL, "rope scaling '%s' is not supported", type);
	}
	return 0;
}

static int build(struct llm_model *m, struct errinfo *e)
{
	struct llm_hparams *hp = &m->hp;
	const char *arch;
	int rc = gguf_get_str(m->g, "general.architecture", &arch, e);
	if (rc)
		return rc;
	if (!strcmp(arch, "llama")) {
		hp->arch = LLM_ARCH_LLAMA;
		hp->rope_neox = false;
		hp->rms_eps = 1e-5f;
	} else if (!strcmp(arch, "qwen2")) {
		hp->arch = LLM_ARCH_QWEN2;
		hp->rope_neox = true;
		hp->rms_eps = 1e-6f;
	} else {
		char safe[64];
		size_t i = 0;
		for (; arch[i] && i < sizeof safe - 1; i++)
			safe[i] = (arch[i] >= 32 && arch[i] < 127) ? arch[i] : '?';
		safe[i] = 0;
		return err_set(e, ERR_UNSUPPORTED, NULL, "model architecture '%s' is not supported (llama, qwen2)", safe);
	}
	hp->arch_name = arch;
	hp->rope_base = 10000.0f;
	if ((rc = get_u32(m->g, arch, "embedding_length", &hp->n_embd, true, e)) ||
	    (rc = get_u32(m->g, arch, "block_count", &hp->n_layer, true, e)) ||
	    (rc = get_u32(m->g, arch, "feed_forward_length", &hp->n_ff, true, e)) ||
	    (rc = get_u32(m->g, arch, "attention.head_count", &hp->n_head, true, e)))
		return rc;
	hp->n_head_kv = hp->n_head;
	hp->n_ctx_train = 2048;
	if ((rc = get_u32(m->g, arch, "attention.head_count_kv", &hp->n_head_kv, false, e)) ||
	    (rc = get_u32(m->g, arch, "context_length", &hp->n_ctx_train, false, e)) ||
	    (rc = get_f32(m->g, arch, "attention.layer_norm_rms_epsilon", &hp->rms_eps, e)) ||
	    (rc = get_f32(m->g, arch, "rope.freq_base", &hp->rope_base, e)))
		return rc;
	if (hp->n_embd == 0 || hp->n_embd > 65536 || hp->n_layer == 0 || hp->n_layer > 1024 || hp->n_head == 0 ||
	    hp->n_head > 1024 || hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv || hp->n_ff == 0 ||
	    hp->n_ff > (1u << 20) || hp->n_ctx_train == 0)
		return err_set(e, ERR_CORRUPT, NULL, "model hyperparameters are inconsistent");
	hp->head_dim = hp->n_embd / hp->n_head;
	if ((rc = get_u32(m->g, arch, "attention.key_length", &hp->head_dim, false, e)))
		return rc;
	hp->n_rot = hp->head_dim;
	if ((rc = get_u32(m->g, arch, "rope.dimension_count", &hp->n_rot, false, e)))
		return rc;
	if (hp->head_dim == 0 || hp->head_dim > 1024 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
		return err_set(e, ERR_CORRUPT, NULL, "model head dimension %u / rotary %u are inconsistent",
			       hp->head_dim, hp->n_rot);
	if (!(hp->rope_base > 0) || !(hp->rms_eps >= 0))
		return err_set(e, ERR_CORRUPT, NULL, "model rope base or norm epsilon is invalid");

	m->tok_embd = gguf_find_tensor(m->g, "token_embd.weight");
	if (!m->tok_embd)
		return err_set(e, ERR_CORRUPT, NULL, "model has no tensor 'token_embd.weight'");
	if (m->tok_embd->ne[1] > INT32_MAX)
		return err_set(e, ERR_CORRUPT, NULL, "vocabulary too large");
	hp->n_vocab = (uint32_t)m->tok_embd->ne[1];
	const struct tensor *tmp;
	if ((rc = find(m, "token_embd.weight", &tmp, hp->n_embd, hp->n_vocab, true, e)))
		return rc;
	if ((rc = load_vec(m, "output_norm.weight", hp->n_embd, true, &m->out_norm, e)))
		return rc;
	if (gguf_find_tensor(m->g, "output.weight")) {
		rc = load_mat(m, "output.weight", hp->n_embd, hp->n_vocab, &m->output, e);
	} else {
		hp->tied_output = true;
		rc = load_mat(m, "token_embd.weight", hp->n_embd, hp->n_vocab, &m->output, e);
	}
	if (rc)
		return rc;

	uint32_t qd = hp->n_head * hp->head_dim, kvd = hp->n_head_kv * hp->head_dim;
	if (!(m->layers = calloc(hp->n_layer, sizeof *m->layers)))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	char n[96];
	for (uint32_t il = 0; il < hp->n_layer; il++) {
		struct layer *L = &m->layers[il];
		lname(n, sizeof n, il, "attn_norm.weight");
		if ((rc = load_vec(m, n, hp->n_embd, true, &L->attn_norm, e)))
			return rc;
		lname(n, sizeof n, il, "ffn_norm.weight");
		if ((rc = load_vec(m, n, hp->n_embd, true, &L->ffn_norm, e)))
			return rc;
		static const struct {
			const char *name;
			size_t off;
			int in, out; /* 0 embd, 1 q dim, 2 kv dim, 3 ff */
		} mats[] = {
			{"attn_q.weight", offsetof(struct layer, wq), 0, 1},
			{"attn_k.weight", offsetof(struct layer, wk), 0, 2},
			{"attn_v.weight", offsetof(struct layer, wv), 0, 2},
			{"attn_output.weight", offsetof(struct layer, wo), 1, 0},
			{"ffn_gate.weight", offsetof(struct layer, w_gate), 0, 3},
			{"ffn_up.weight", offsetof(struct layer, w_up), 0, 3},
			{"ffn_down.weight", offsetof(struct layer, w_down), 3, 0},
		};
		uint32_t dims[4] = {hp->n_embd, qd, kvd, hp->n_ff};
		for (size_t j = 0; j < sizeof mats / sizeof mats[0]; j++) {
			lname(n, sizeof n, il, mats[j].name);
			struct mat *w = (struct mat *)((char *)L + mats[j].off);
			if ((rc = load_mat(m, n, dims[mats[j].in], dims[mats[j].out], w, e)))
				return rc;
		}
		bool bias_required = hp->arch == LLM_ARCH_QWEN2;
		lname(n, sizeof n, il, "attn_q.bias");
		if ((rc = load_vec(m, n, qd, bias_required, &L->bq, e)))
			return rc;
		lname(n, sizeof n, il, "attn_k.bias");
		if ((rc = load_vec(m, n, kvd, bias_required, &L->bk, e)))
			return rc;
		lname(n, sizeof n, il, "attn_v.bias");
		if ((rc = load_vec(m, n, kvd, bias_required, &L->bv, e)))
			return rc;
	}
	hp->wtype = m->layers[0].wq.t->type;
	/* The embedding row read per token is not part of the matrices above. */
	return rope_setup(m, e);
}

int llm_model_load(struct llm_model **out, const char *path, struct errinfo *e)
{
	*out = NULL;
	struct llm_model *m = calloc(1, sizeof *m);
	if (!m)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	int rc = gguf_open(&m->g, path, e);
	if (!rc)
		rc = build(m, e);
	if (rc) {
		llm_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void llm_model_free(struct llm_model *m)
{
	if (!m)
		return;
	if (m->layers)
		for (uint32_t i = 0; i < m->hp.n_layer; i++) {
			struct layer *L = &m->layers[i];
			free(L->attn_norm);
			free(L->ffn_norm);
			free(L->bq);
			free(L->bk);
			free(L->bv);
		}
	free(m->layers);
	free(m->out_norm);
	free(m->inv_freq);
	gguf_free(m->g);
	free(m);
}

const struct llm_hparams *llm_model_hparams(const struct llm_model *m) { return &m->hp; }
const struct gguf *llm_model_gguf(const struct llm_model *m) { return m->g; }
size_t llm_model_weight_bytes(const struct llm_model *m) { return m->weight_bytes; }

/* ---- contexts ---- */

static void *zalloc(size_t n, size_t size, bool *fail)
{
	if (*fail)
		return NULL;
	void *p = NULL;
	if (n && size && n <= SIZE_MAX / size)
		p = aligned_alloc(64, (n * size + 63) / 64 * 64);
	if (!p) {
		*fail = true;
		return NULL;
	}
	memset(p, 0, (n * size + 63) / 64 * 64);
	return p;
}

int llm_ctx_new(struct llm_ctx **out, const struct llm_model *m, const struct llm_ctx_params *p, struct errinfo *e)
{
	*out = NULL;
	const struct llm_hparams *hp = &m->hp;
	struct llm_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	c->m = m;
	c->p = *p;
	if (!c->p.n_ctx)
		c->p.n_ctx = hp->n_ctx_train < CTX_DEFAULT_CAP ? hp->n_ctx_train : CTX_DEFAULT_CAP;
	if (c->p.n_ctx > hp->n_ctx_train)
		c->p.n_ctx = hp->n_ctx_train;
	if (!c->p.n_slots)
		c->p.n_slots = 1;
	if (!c->p.n_batch)
		c->p.n_batch = 256;
	if (!c->p.n_logits)
		c->p.n_logits = c->p.n_slots;
	if (c->p.n_logits > c->p.n_batch)
		c->p.n_logits = c->p.n_batch;
	if (c->p.n_threads <= 0)
		c->p.n_threads = threads_cpu_count();
	if (c->p.n_threads > THREADS_MAX)
		c->p.n_threads = THREADS_MAX;
	int rc = 0;
	if (c->p.n_slots > 1024 || c->p.n_batch > 65536) {
		rc = err_set(e, ERR_INVALID, NULL, "too many slots or batch entries");
		goto out;
	}
	if ((rc = threads_new(&c->pool, c->p.n_threads, e)))
		goto out;
	size_t B = c->p.n_batch, qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
	size_t maxk = hp->n_embd;
	if (qd > maxk)
		maxk = qd;
	if (hp->n_ff > maxk)
		maxk = hp->n_ff;
	bool fail = false;
	c->x = zalloc(B * hp->n_embd, sizeof(float), &fail);
	c->xb = zalloc(B * hp->n_embd, sizeof(float), &fail);
	c->q = zalloc(B * qd, sizeof(float), &fail);
	c->k = zalloc(B * kvd, sizeof(float), &fail);
	c->v = zalloc(B * kvd, sizeof(float), &fail);
	c->att = zalloc(B * qd, sizeof(float), &fail);
	c->hb = zalloc(B * hp->n_ff, sizeof(float), &fail);
	c->hb2 = zalloc(B * hp->n_ff, sizeof(float), &fail);
	c->rope = zalloc(B * (hp->n_rot / 2 + 1) * 2, sizeof(float), &fail);
	/* every position's angles once, when that stays small: a batch of
	 * tokens otherwise spends more on cosf and sinf than on a layer's norms */
	size_t half = hp->n_rot / 2;
	const char *nt = getenv("ATELIER_ENGINE_NO_ROPE_TABLE"); /* for comparisons */
	if ((size_t)c->p.n_ctx * half * 2 * sizeof(float) <= ROPE_TABLE_MAX && !(nt && nt[0] == '1')) {
		c->rope_tab = zalloc((size_t)c->p.n_ctx * half * 2, sizeof(float), &fail);
		for (size_t pos = 0; c->rope_tab && pos < c->p.n_ctx; pos++)
			for (size_t r = 0; r < half; r++) {
				float ang = (float)pos * m->inv_freq[r];
				c->rope_tab[(pos * half + r) * 2] = cosf(ang);
				c->rope_tab[(pos * half + r) * 2 + 1] = sinf(ang);
			}
	}
	c->act_stride = (maxk * sizeof(float) + 63) / 64 * 64; /* the largest form is float */
	c->act = zalloc(B, c->act_stride, &fail);
	c->scores = zalloc((size_t)c->p.n_threads * (hp->n_head / hp->n_head_kv) * c->p.n_ctx, sizeof(float), &fail);
	c->attn = attn_kernel();
	size_t kvn = (size_t)hp->n_layer * c->p.n_slots * c->p.n_ctx;
	c->kcache = zalloc(kvn, kvd * sizeof(float), &fail);
	c->vcache = zalloc(kvn, kvd * sizeof(float), &fail);
	c->slot_len = zalloc(c->p.n_slots, sizeof(uint32_t), &fail);
	c->slot_hw = zalloc(c->p.n_slots, sizeof(uint32_t), &fail);
	c->logits = zalloc((size_t)c->p.n_logits * hp->n_vocab, sizeof(float), &fail);
	c->logit_row = zalloc(B, sizeof(int32_t), &fail);
	if (fail) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a context of %u positions x %u slots",
			     c->p.n_ctx, c->p.n_slots);
		goto out;
	}
	*out = c;
	c = NULL;
out:
	llm_ctx_free(c);
	return rc;
}

void llm_ctx_free(struct llm_ctx *c)
{
	if (!c)
		return;
	threads_free(c->pool);
	free(c->x);
	free(c->xb);
	free(c->q);
	free(c->k);
	free(c->v);
	free(c->att);
	free(c->hb);
	free(c->hb2);
	free(c->rope);
	free(c->rope_tab);
	free(c->act);
	free(c->scores);
	free(c->kcache);
	free(c->vcache);
	free(c->slot_len);
	free(c->slot_hw);
	free(c->logits);
	free(c->logit_row);
	free(c);
}

const struct llm_ctx_params *llm_ctx_params(const struct llm_ctx *c) { return &c->p; }
const struct llm_model *llm_ctx_model(const struct llm_ctx *c) { return c->m; }

uint32_t llm_slot_len(const struct llm_ctx *c, int32_t slot)
{
	return slot >= 0 && (uint32_t)slot < c->p.n_slots ? c->slot_len[slot] : 0;
}

void llm_slot_reset(struct llm_ctx *c, int32_t slot)
{
	if (slot >= 0 && (uint32_t)slot < c->p.n_slots)
		c->slot_len[slot] = 0;
}

void llm_slot_clear(struct llm_ctx *c, int32_t slot)
{
	if (slot < 0 || (uint32_t)slot >= c->p.n_slots)
		return;
	const struct llm_hparams *hp = &c->m->hp;
	size_t hd = hp->head_dim, len = c->slot_hw[slot];
	for (size_t il = 0; len && il < hp->n_layer; il++)
		for (size_t h = 0; h < hp->n_head_kv; h++) {
			size_t at = (((il * c->p.n_slots + (size_t)slot) * hp->n_head_kv + h) * c->p.n_ctx) * hd;
			memset(c->kcache + at, 0, len * hd * sizeof(float));
			memset(c->vcache + at, 0, len * hd * sizeof(float));
		}
	c->slot_len[slot] = c->slot_hw[slot] = 0;
}

struct threadpool *llm_ctx_pool(struct llm_ctx *c)
{
	return c->pool;
}

const float *llm_logits(const struct llm_ctx *c, size_t i)
{
	if (i >= c->nb || c->logit_row[i] < 0)
		return NULL;
	return c->logits + (size_t)c->logit_row[i] * c->m->hp.n_vocab;
}

/* ---- parallel jobs ---- */

struct act_job {
	const struct quant_kernel *k;
	const float *in;
	size_t n, K, in_stride;
	char *out;
	size_t out_stride;
};

static void act_worker(void *ctx, int ith, int nth)
{
	struct act_job *j = ctx;
	for (size_t t = (size_t)ith; t < j->n; t += (size_t)nth)
		j->k->to_act(j->in + t * j->in_stride, j->out + t * j->out_stride, j->K);
}

/* One weight matrix of a fused job and where its outputs go. */
struct mm_part {
	const struct mat *w;
	float *out;
	size_t out_stride;
	const float *bias;
	bool add;      /* out += W·in (the residual stream) rather than out = */
	size_t chunk0; /* index of the part's first chunk in the job */
};

#define MM_PARTS_MAX 3

/* Several matrices applied to the same activations in one parallel job (Q, K
 * and V; gate and up), so the threads meet once instead of once per matrix:
 * for the small models a step's matmuls are a few MFLOP each and the meeting
 * is a noticeable part of each. Threads claim chunks of rows; a chunk never
 * straddles two parts. */
struct mm_job {
	struct mm_part part[MM_PARTS_MAX];
	int n_parts;
	bool glu; /* part 0 gate, part 1 up: each chunk does both, then out0 = silu(gate) * up */
	const char *act;
	size_t act_stride;
	size_t n;
	size_t chunk, n_chunks;
	/* the claim counter on a line of its own: every claim writes it, and
	 * the fields above are read all through a chunk */
	_Alignas(64) atomic_size_t next;
	char pad_[64 - sizeof(atomic_size_t)];
};

#define MM_TOKEN_BLOCK 8

/* mm_rows with a four-row kernel: every row in groups of four (the last
 * group repeating its last row), every token in groups of up to four. */
static void mm_rows4(const struct mm_job *j, const struct mm_part *pt, size_t r0, size_t r1)
{
	const struct mat *w = pt->w;
	const char *base = w->t->data;
	const struct quant_kernel *k = w->k;
	float *out = pt->out;
	size_t os = pt->out_stride;
	for (size_t t0 = 0; t0 < j->n; t0 += MM_TOKEN_BLOCK) {
		size_t t1 = t0 + MM_TOKEN_BLOCK < j->n ? t0 + MM_TOKEN_BLOCK : j->n;
		for (size_t r = r0; r < r1; r += 4) {
			size_t nr = r1 - r < 4 ? r1 - r : 4;
			const void *rows[4];
			float b[4];
			for (size_t i = 0; i < 4; i++) {
				size_t ri = r + (i < nr ? i : nr - 1);
				rows[i] = base + ri * w->row_bytes;
				b[i] = pt->bias ? pt->bias[ri] : 0.0f;
			}
			for (size_t t = t0; t < t1; t += 4) {
				size_t m = t1 - t < 4 ? t1 - t : 4;
				const void *a[4];
				float o[16];
				for (size_t q = 0; q < m; q++)
					a[q] = j->act + (t + q) * j->act_stride;
				k->dot4xn(w->n_in, rows, a, m, o);
				for (size_t q = 0; q < m; q++) {
					float *dst = out + (t + q) * os + r;
					const float *src = o + q * 4;
					if (nr == 4 && pt->add)
						for (size_t i = 0; i < 4; i++)
							dst[i] += src[i] + b[i];
					else if (nr == 4)
						for (size_t i = 0; i < 4; i++)
							dst[i] = src[i] + b[i];
					else
						for (size_t i = 0; i < nr; i++)
							dst[i] = (pt->add ? dst[i] : 0.0f) + src[i] + b[i];
				}
			}
		}
	}
}

/* Rows r0..r1 of one part for every token. */
static void mm_rows(const struct mm_job *j, const struct mm_part *pt, size_t r0, size_t r1)
{
	const struct mat *w = pt->w;
	const char *base = w->t->data;
	const struct quant_kernel *k = w->k;
	float *out = pt->out;
	size_t os = pt->out_stride;
	if (k->dot4xn) {
		mm_rows4(j, pt, r0, r1);
		return;
	}
	for (size_t t0 = 0; t0 < j->n; t0 += MM_TOKEN_BLOCK) {
		size_t t1 = t0 + MM_TOKEN_BLOCK < j->n ? t0 + MM_TOKEN_BLOCK : j->n;
		size_t r = r0;
		if (k->dot2x4 && (t1 - t0 >= 4 || k->dot2xn)) {
			/* two rows by four tokens per pass; the last 1..3 tokens
			 * by two rows too when the kernel can (a lone dot costs
			 * several times more per token) */
			for (; r + 2 <= r1; r += 2) {
				const void *rows[2] = {base + r * w->row_bytes, base + (r + 1) * w->row_bytes};
				float b0 = pt->bias ? pt->bias[r] : 0.0f, b1 = pt->bias ? pt->bias[r + 1] : 0.0f;
				size_t t = t0;
				for (; t < t1; t += 4) {
					size_t m = t1 - t < 4 ? t1 - t : 4;
					const void *a[4];
					float o[8];
					for (size_t q = 0; q < m; q++)
						a[q] = j->act + (t + q) * j->act_stride;
					if (m == 4)
						k->dot2x4(w->n_in, rows, a, o);
					else if (k->dot2xn)
						k->dot2xn(w->n_in, rows, a, m, o);
					else {
						for (size_t q = 0; q < m; q++) {
							o[q] = k->dot(w->n_in, rows[0], a[q]);
							o[4 + q] = k->dot(w->n_in, rows[1], a[q]);
						}
					}
					if (pt->add)
						for (size_t q = 0; q < m; q++) {
							out[(t + q) * os + r] += o[q] + b0;
							out[(t + q) * os + r + 1] += o[4 + q] + b1;
						}
					else
						for (size_t q = 0; q < m; q++) {
							out[(t + q) * os + r] = o[q] + b0;
							out[(t + q) * os + r + 1] = o[4 + q] + b1;
						}
				}
			}
		}
		for (; r < r1; r++) {
			const void *row = base + r * w->row_bytes;
			float b = pt->bias ? pt->bias[r] : 0.0f;
			size_t t = t0;
			if (k->dot4) {
				/* four tokens per pass over the row's blocks */
				for (; t + 4 <= t1; t += 4) {
					const void *a[4];
					float o[4];
					for (int q = 0; q < 4; q++)
						a[q] = j->act + (t + q) * j->act_stride;
					k->dot4(w->n_in, row, a, o);
					for (int q = 0; q < 4; q++)
						out[(t + q) * os + r] = (pt->add ? out[(t + q) * os + r] : 0.0f) + o[q] + b;
				}
			}
			for (; t < t1; t++)
				out[t * os + r] = (pt->add ? out[t * os + r] : 0.0f) +
						  k->dot(w->n_in, row, j->act + t * j->act_stride) + b;
		}
	}
}

static void mm_worker(void *ctx, int ith, int nth)
{
	struct mm_job *j = ctx;
	for (;;) {
		size_t ci = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		if (ci >= j->n_chunks)
			break;
		int p = 0;
		while (p + 1 < j->n_parts && ci >= j->part[p + 1].chunk0)
			p++;
		const struct mm_part *pt = &j->part[p];
		size_t r0 = (ci - pt->chunk0) * j->chunk;
		size_t r1 = r0 + j->chunk < pt->w->n_out ? r0 + j->chunk : pt->w->n_out;
		mm_rows(j, pt, r0, r1);
		if (j->glu) {
			/* SwiGLU on the columns just computed, while they are in cache */
			const struct mm_part *up = &j->part[1];
			mm_rows(j, up, r0, r1);
			for (size_t t = 0; t < j->n; t++)
				vec_swiglu(pt->out + t * pt->out_stride + r0, up->out + t * up->out_stride + r0, r1 - r0);
		}
	}
}

/* part[i].out[t][0..n_out) = W_i · in[t] (+ bias_i) for t < n, all parts in
 * one parallel job. in rows have stride in_stride floats. Float weights read
 * the float rows in place; other types quantize them once for all parts
 * (every part's weights must have the same activation form). */
static void matmul_parts(struct llm_ctx *c, const float *in, size_t in_stride, size_t n, struct mm_part *part,
			 int n_parts, bool glu)
{
	const struct quant_kernel *k = part[0].w->k;
	struct mm_job j = {.n_parts = n_parts, .n = n, .glu = glu};
	if (k->act == QUANT_ACT_F32) {
		j.act = (const char *)in;
		j.act_stride = in_stride * sizeof(float);
	} else {
		struct act_job aj = {k, in, n, part[0].w->n_in, in_stride, c->act, c->act_stride};
		if (n > 1)
			threads_run(c->pool, act_worker, &aj);
		else
			act_worker(&aj, 0, 1);
		j.act = c->act;
		j.act_stride = c->act_stride;
	}
	size_t nth = (size_t)threads_count(c->pool), rows = 0;
	for (int i = 0; i < (glu ? 1 : n_parts); i++)
		rows += part[i].w->n_out;
	size_t chunk = rows / (nth * 16);
	if (chunk < 16)
		chunk = 16;
	if (chunk > 64)
		chunk = 64;
	/* whole cache lines of every output row (16 floats; rows start on
	 * lines when their length is a multiple of 16, as in the usual
	 * models): with 8-row chunks two threads wrote halves of the same
	 * lines, and one token's decode step ran 6% slower. Also whole pairs
	 * for dot2x4 and whole vectors for vec_swiglu. */
	chunk &= ~(size_t)15;
	j.chunk = chunk;
	for (int i = 0; i < n_parts; i++) {
		j.part[i] = part[i];
		j.part[i].chunk0 = j.n_chunks;
		if (!glu || i == 0) /* a GLU job's chunks are the gate's; each does the up rows too */
			j.n_chunks += (part[i].w->n_out + chunk - 1) / chunk;
	}
	atomic_init(&j.next, 0);
	threads_run(c->pool, mm_worker, &j);
}

/* out[t][0..n_out) = W · in[t] (+ bias) for t < n; with add, out[t] += W · in[t]. */
static void matmul(struct llm_ctx *c, const struct mat *w, const float *in, size_t in_stride, size_t n, float *out,
		   size_t out_stride, const float *bias, bool add)
{
	struct mm_part p = {w, out, out_stride, bias, add, 0};
	matmul_parts(c, in, in_stride, n, &p, 1, false);
}

/* Two or three matrices on the same input: one job when their activation
 * forms agree, else one each. */
static void matmul_fused(struct llm_ctx *c, const float *in, size_t in_stride, size_t n, struct mm_part *part,
			 int n_parts)
{
	for (int i = 1; i < n_parts; i++)
		if (part[i].w->k->act != part[0].w->k->act || part[i].w->n_in != part[0].w->n_in) {
			for (int q = 0; q < n_parts; q++)
				matmul_parts(c, in, in_stride, n, &part[q], 1, false);
			return;
		}
	matmul_parts(c, in, in_stride, n, part, n_parts, false);
}

/* SwiGLU's input half: gate[t] = silu(W_gate · in[t]) * (W_up · in[t]), up is
 * scratch. One job; each chunk of rows applies the gate to its own columns. */
static void matmul_glu(struct llm_ctx *c, const float *in, size_t in_stride, size_t n, const struct mat *w_gate,
		       float *gate, const struct mat *w_up, float *up, size_t out_stride)
{
	struct mm_part p[2] = {{w_gate, gate, out_stride, NULL, false, 0}, {w_up, up, out_stride, NULL, false, 0}};
	if (w_gate->k->act != w_up->k->act || w_gate->n_out != w_up->n_out) {
		matmul_parts(c, in, in_stride, n, &p[0], 1, false);
		matmul_parts(c, in, in_stride, n, &p[1], 1, false);
		for (size_t t = 0; t < n; t++)
			vec_swiglu(gate + t * out_stride, up + t * out_stride, w_gate->n_out);
		return;
	}
	matmul_parts(c, in, in_stride, n, p, 2, true);
}

static void rope_apply(const struct llm_hparams *hp, float *vec, uint32_t n_heads, const float *cs)
{
	uint32_t half = hp->n_rot / 2;
	for (uint32_t h = 0; h < n_heads; h++) {
		float *v = vec + (size_t)h * hp->head_dim;
		if (hp->rope_neox)
			for (uint32_t i = 0; i < half; i++) {
				float co = cs[2 * i], si = cs[2 * i + 1], x0 = v[i], x1 = v[i + half];
				v[i] = x0 * co - x1 * si;
				v[i + half] = x0 * si + x1 * co;
			}
		else
			for (uint32_t i = 0; i < half; i++) {
				float co = cs[2 * i], si = cs[2 * i + 1], x0 = v[2 * i], x1 = v[2 * i + 1];
				v[2 * i] = x0 * co - x1 * si;
				v[2 * i + 1] = x0 * si + x1 * co;
			}
	}
}

struct att_job {
	struct llm_ctx *c;
	uint32_t layer;
	_Alignas(64) atomic_size_t next; /* on a line of its own, as in mm_job */
	char pad_[64 - sizeof(atomic_size_t)];
};

/* One unit of work is a batch entry's KV head: the query heads that share it
 * (grouped-query attention) read its keys and values in one kernel call. */
static void att_worker(void *ctx, int ith, int nth)
{
	struct att_job *j = ctx;
	struct llm_ctx *c = j->c;
	const struct llm_hparams *hp = &c->m->hp;
	size_t hd = hp->head_dim, qd = (size_t)hp->n_head * hd;
	size_t group = hp->n_head / hp->n_head_kv;
	float *sc = c->scores + (size_t)ith * group * c->p.n_ctx;
	float scale = 1.0f / sqrtf((float)hd);
	size_t total = c->nb * hp->n_head_kv;
	for (;;) {
		size_t w = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		if (w >= total)
			break;
		size_t t = w / hp->n_head_kv, kvh = w % hp->n_head_kv;
		const struct llm_tok *b = &c->batch[t];
		size_t base = ((((size_t)j->layer * c->p.n_slots + (size_t)b->slot) * hp->n_head_kv + kvh) * c->p.n_ctx) * hd;
		size_t h0 = kvh * group;
		c->attn(hd, group, (size_t)b->pos + 1, c->q + t * qd + h0 * hd, c->kcache + base, c->vcache + base, hd,
			scale, sc, c->att + t * qd + h0 * hd);
	}
}

int llm_forward(struct llm_ctx *c, const struct llm_tok *batch, size_t n, struct errinfo *e)
{
	const struct llm_model *m = c->m;
	const struct llm_hparams *hp = &m->hp;
	if (n == 0 || n > c->p.n_batch)
		return err_set(e, ERR_INVALID, NULL, "batch of %zu entries (1..%u allowed)", n, c->p.n_batch);
	/* Validate everything before touching the cache. */
	uint32_t nlog = 0;
	for (size_t i = 0; i < n; i++) {
		const struct llm_tok *b = &batch[i];
		if (b->token < 0 || (uint32_t)b->token >= hp->n_vocab)
			return err_set(e, ERR_INVALID, "token", "token id %d is outside the vocabulary of %u", b->token,
				       hp->n_vocab);
		if (b->slot < 0 || (uint32_t)b->slot >= c->p.n_slots)
			return err_set(e, ERR_INVALID, "slot", "slot %d does not exist", b->slot);
		if (b->pos < 0 || (uint32_t)b->pos >= c->p.n_ctx)
			return err_set(e, ERR_TOOBIG, "pos", "position %d is past the context of %u tokens", b->pos,
				       c->p.n_ctx);
		/* Positions may only extend the sequence: gaps would read stale cache. */
		uint32_t len = c->slot_len[b->slot];
		for (size_t j = 0; j < i; j++)
			if (batch[j].slot == b->slot && (uint32_t)batch[j].pos + 1 > len && (uint32_t)batch[j].pos <= len)
				len = (uint32_t)batch[j].pos + 1;
		if ((uint32_t)b->pos > len)
			return err_set(e, ERR_INVALID, "pos", "position %d skips ahead of slot %d (length %u)", b->pos,
				       b->slot, c->slot_len[b->slot]);
		if (b->logits)
			nlog++;
	}
	if (nlog > c->p.n_logits)
		return err_set(e, ERR_TOOBIG, NULL, "%u entries ask for logits; the context allows %u", nlog,
			       c->p.n_logits);
	c->batch = batch;
	c->nb = n;

	size_t D = hp->n_embd, hd = hp->head_dim, qd = (size_t)hp->n_head * hd, kvd = (size_t)hp->n_head_kv * hd;
	size_t F = hp->n_ff, half = hp->n_rot / 2;
	for (size_t i = 0; i < n; i++) {
		size_t rb;
		tensor_row_bytes(m->tok_embd->type, D, &rb);
		const char *row = (const char *)m->tok_embd->data + (size_t)batch[i].token * rb;
		if (m->tok_embd->type == TENSOR_F16)
			vec_f16_to_f32(c->x + i * D, (const uint16_t *)row, D);
		else
			tensor_dequant_row(m->tok_embd->type, row, c->x + i * D, D);
		if (c->rope_tab)
			continue;
		float *cs = c->rope + i * (half + 1) * 2;
		for (size_t r = 0; r < half; r++) {
			float ang = (float)batch[i].pos * m->inv_freq[r];
			cs[2 * r] = cosf(ang);
			cs[2 * r + 1] = sinf(ang);
		}
	}

	for (uint32_t il = 0; il < hp->n_layer; il++) {
		const struct layer *L = &m->layers[il];
		for (size_t i = 0; i < n; i++)
			vec_rmsnorm(c->xb + i * D, c->x + i * D, L->attn_norm, D, hp->rms_eps);
		struct mm_part qkv[3] = {{&L->wq, c->q, qd, L->bq, false, 0}, {&L->wk, c->k, kvd, L->bk, false, 0},
					 {&L->wv, c->v, kvd, L->bv, false, 0}};
		matmul_fused(c, c->xb, D, n, qkv, 3);
		for (size_t i = 0; i < n; i++) {
			const float *cs = c->rope_tab ? c->rope_tab + (size_t)batch[i].pos * half * 2
						      : c->rope + i * (half + 1) * 2;
			rope_apply(hp, c->q + i * qd, hp->n_head, cs);
			rope_apply(hp, c->k + i * kvd, hp->n_head_kv, cs);
			for (size_t h = 0; h < hp->n_head_kv; h++) {
				size_t at = ((((size_t)il * c->p.n_slots + (size_t)batch[i].slot) * hp->n_head_kv + h) *
						     c->p.n_ctx + (size_t)batch[i].pos) * hd;
				memcpy(c->kcache + at, c->k + i * kvd + h * hd, hd * sizeof(float));
				memcpy(c->vcache + at, c->v + i * kvd + h * hd, hd * sizeof(float));
			}
		}
		struct att_job aj = {.c = c, .layer = il};
		atomic_init(&aj.next, 0);
		threads_run(c->pool, att_worker, &aj);
		matmul(c, &L->wo, c->att, qd, n, c->x, D, NULL, true);

		for (size_t i = 0; i < n; i++)
			vec_rmsnorm(c->xb + i * D, c->x + i * D, L->ffn_norm, D, hp->rms_eps);
		matmul_glu(c, c->xb, D, n, &L->w_gate, c->hb, &L->w_up, c->hb2, F);
		matmul(c, &L->w_down, c->hb, F, n, c->x, D, NULL, true);
	}

	/* A slot's length becomes its last position in this batch plus one: a
	 * batch that rewrites earlier positions truncates the sequence there. */
	for (size_t i = 0; i < n; i++)
		c->slot_len[batch[i].slot] = 0;
	for (size_t i = 0; i < n; i++)
		if ((uint32_t)batch[i].pos + 1 > c->slot_len[batch[i].slot])
			c->slot_len[batch[i].slot] = (uint32_t)batch[i].pos + 1;
	for (size_t i = 0; i < n; i++)
		if (c->slot_len[batch[i].slot] > c->slot_hw[batch[i].slot])
			c->slot_hw[batch[i].slot] = c->slot_len[batch[i].slot];

	/* Logits only for the entries that asked: gather their rows. */
	int32_t r = 0;
	for (size_t i = 0; i < n; i++) {
		c->logit_row[i] = batch[i].logits ? r : -1;
		if (batch[i].logits) {
			vec_rmsnorm(c->xb + (size_t)r * D, c->x + i * D, m->out_norm, D, hp->rms_eps);
			r++;
		}
	}
	if (r > 0) {
		matmul(c, &m->output, c->xb, D, (size_t)r, c->logits, hp->n_vocab, NULL, false);
	}
	return 0;
}
