/*
 * textenc.c: tokenizer and transformer of the caption encoder (textenc.h).
 * Layout and names follow TextEncoder in tools/train_diffusion.py.
 */
#include "engine/image/textenc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image/kernels.h"

#define TEXTENC_MAX_WORD 32

struct tlayer {
	const float *ln1_g, *ln1_b; /* [dim] */
	const float *qkv_w, *qkv_b; /* [3 dim, dim], [3 dim]: q rows, then k, then v */
	const float *out_w, *out_b; /* [dim, dim], [dim] */
	const float *ln2_g, *ln2_b; /* [dim] */
	const float *fc1_w, *fc1_b; /* [ff, dim], [ff] */
	const float *fc2_w, *fc2_b; /* [dim, ff], [dim] */
};

struct textenc {
	struct textenc_config cfg;
	struct imgk *k;
	char **vocab;             /* [vocab_size] */
	const float *tok_emb;     /* [vocab_size, dim] */
	const float *pos_emb;     /* [max_tokens, dim] */
	struct tlayer *layers;    /* [layers] */
	const float *lnf_g, *lnf_b; /* [dim] */
	float *x, *h, *qkv, *a, *ff, *scores, *lnscr; /* [dim L] [dim L] [3 dim L] [dim L] [ff L] [L L + L dim] [2L] */
};

static int get(struct unet_wsrc *src, const float **out, const char *name, int ndim, int d0, int d1,
	       struct errinfo *e)
{
	int shape[2] = {d0, d1};
	return src->get(src, name, ndim, shape, out, e);
}

int textenc_new(struct textenc **out, const struct textenc_config *cfg, const char *const *vocab,
		struct unet_wsrc *src, struct imgk *k, struct errinfo *e)
{
	*out = NULL;
	const struct textenc_config *c = cfg;
	if (c->vocab_size < 2 || c->vocab_size > 1000000 || c->dim < 1 || c->dim > 8192 || c->layers < 0 ||
	    c->layers > 64 || c->heads < 1 || c->dim % c->heads || c->ff < 1 || c->ff > 65536 || c->max_tokens < 1 ||
	    c->max_tokens > 1024 || !(c->ln_eps > 0))
		return err_set(e, ERR_CORRUPT, "arch", "text encoder hyperparameters out of range");
	int rc = ERR_OK;
	struct textenc *t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	t->cfg = *cfg;
	t->k = k;
	int D = c->dim, L = c->max_tokens;
	char nm[128];
	t->vocab = calloc((size_t)c->vocab_size, sizeof *t->vocab);
	t->layers = calloc((size_t)(c->layers ? c->layers : 1), sizeof *t->layers);
	if (!t->vocab || !t->layers) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	for (int i = 0; i < c->vocab_size; i++)
		if (!(t->vocab[i] = strdup(vocab[i]))) {
			rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
			goto out;
		}
	if ((rc = get(src, &t->tok_emb, "text.tok_emb", 2, c->vocab_size, D, e)) ||
	    (rc = get(src, &t->pos_emb, "text.pos_emb", 2, L, D, e)) ||
	    (rc = get(src, &t->lnf_g, "text.ln_f.weight", 1, D, 0, e)) ||
	    (rc = get(src, &t->lnf_b, "text.ln_f.bias", 1, D, 0, e)))
		goto out;
	for (int i = 0; i < c->layers; i++) {
		struct tlayer *l = &t->layers[i];
		struct {
			const float **p;
			const char *leaf;
			int ndim, d0, d1;
		} w[] = {
			{&l->ln1_g, "ln1.weight", 1, D, 0},    {&l->ln1_b, "ln1.bias", 1, D, 0},
			{&l->qkv_w, "qkv.weight", 2, 3 * D, D}, {&l->qkv_b, "qkv.bias", 1, 3 * D, 0},
			{&l->out_w, "out.weight", 2, D, D},    {&l->out_b, "out.bias", 1, D, 0},
			{&l->ln2_g, "ln2.weight", 1, D, 0},    {&l->ln2_b, "ln2.bias", 1, D, 0},
			{&l->fc1_w, "fc1.weight", 2, c->ff, D}, {&l->fc1_b, "fc1.bias", 1, c->ff, 0},
			{&l->fc2_w, "fc2.weight", 2, D, c->ff}, {&l->fc2_b, "fc2.bias", 1, D, 0},
		};
		for (size_t j = 0; j < sizeof w / sizeof *w; j++) {
			snprintf(nm, sizeof nm, "text.layers.%d.%s", i, w[j].leaf);
			if ((rc = get(src, w[j].p, nm, w[j].ndim, w[j].d0, w[j].d1, e)))
				goto out;
		}
	}
	t->x = malloc(sizeof(float) * (size_t)D * L);
	t->h = malloc(sizeof(float) * (size_t)D * L);
	t->qkv = malloc(sizeof(float) * 3 * (size_t)D * L);
	t->a = malloc(sizeof(float) * (size_t)D * L);
	t->ff = malloc(sizeof(float) * (size_t)c->ff * L);
	t->scores = malloc(sizeof(float) * ((size_t)L * L + (size_t)L * D));
	t->lnscr = malloc(sizeof(float) * 2 * (size_t)L);
	if (!t->x || !t->h || !t->qkv || !t->a || !t->ff || !t->scores || !t->lnscr) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	*out = t;
	return ERR_OK;
out:
	textenc_free(t);
	return rc;
}

void textenc_free(struct textenc *t)
{
	if (!t)
		return;
	if (t->vocab)
		for (int i = 0; i < t->cfg.vocab_size; i++)
			free(t->vocab[i]);
	free(t->vocab);
	free(t->layers);
	free(t->x);
	free(t->h);
	free(t->qkv);
	free(t->a);
	free(t->ff);
	free(t->scores);
	free(t->lnscr);
	free(t);
}

static int lookup(const struct textenc *t, const char *w)
{
	for (int i = 2; i < t->cfg.vocab_size; i++)
		if (strcmp(t->vocab[i], w) == 0)
			return i;
	return 1;
}

int textenc_tokenize(const struct textenc *t, const char *prompt, int *ids)
{
	int n = 0, unknown = 0, L = t->cfg.max_tokens;
	char w[TEXTENC_MAX_WORD + 1];
	size_t wl = 0;
	int overlong = 0;
	for (const char *p = prompt;; p++) {
		char ch = *p;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch >= 'a' && ch <= 'z') {
			if (wl < TEXTENC_MAX_WORD)
				w[wl++] = ch;
			else
				overlong = 1;
			continue;
		}
		if (wl > 0) {
			w[wl] = '\0';
			int id = overlong ? 1 : lookup(t, w);
			unknown += id == 1;
			if (n < L)
				ids[n++] = id;
			wl = 0;
			overlong = 0;
		}
		if (!*p)
			break;
	}
	for (int i = n; i < L; i++)
		ids[i] = 0;
	return unknown;
}

void textenc_forward(struct textenc *t, const int *ids, float *out)
{
	const struct textenc_config *c = &t->cfg;
	int D = c->dim, L = c->max_tokens;
	for (int l = 0; l < L; l++)
		for (int d = 0; d < D; d++)
			t->x[(size_t)d * L + l] = t->tok_emb[(size_t)ids[l] * D + d] + t->pos_emb[(size_t)l * D + d];
	for (int i = 0; i < c->layers; i++) {
		const struct tlayer *ly = &t->layers[i];
		imgk_layernorm(t->x, D, L, ly->ln1_g, ly->ln1_b, c->ln_eps, t->h, t->lnscr);
		imgk_linear(t->k, t->h, D, L, ly->qkv_w, ly->qkv_b, 3 * D, t->qkv);
		imgk_attention(t->k, t->qkv, t->qkv + (size_t)D * L, t->qkv + 2 * (size_t)D * L, D, L, L, c->heads, t->a,
			       t->scores);
		imgk_linear(t->k, t->a, D, L, ly->out_w, ly->out_b, D, t->h);
		for (size_t j = 0; j < (size_t)D * L; j++)
			t->x[j] += t->h[j];
		imgk_layernorm(t->x, D, L, ly->ln2_g, ly->ln2_b, c->ln_eps, t->h, t->lnscr);
		imgk_linear(t->k, t->h, D, L, ly->fc1_w, ly->fc1_b, c->ff, t->ff);
		for (size_t j = 0; j < (size_t)c->ff * L; j++)
			t->ff[j] = imgk_gelu(t->ff[j]);
		imgk_linear(t->k, t->ff, c->ff, L, ly->fc2_w, ly->fc2_b, D, t->h);
		for (size_t j = 0; j < (size_t)D * L; j++)
			t->x[j] += t->h[j];
	}
	imgk_layernorm(t->x, D, L, t->lnf_g, t->lnf_b, c->ln_eps, out, t->lnscr);
}
