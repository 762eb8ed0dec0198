/*
 * unet.c: the denoising UNet's forward pass (layout in unet.h).
 *
 * Every block keeps its weights as pointers owned by the weight source and
 * its shapes in comments. Feature maps are channel-major [C, H*W]; a skip
 * connection is a copy into its own buffer, and concatenation along channels
 * is two memcpys because channels are rows. unet_new() walks the same
 * structure the forward pass does to size the buffers, so the forward pass
 * never allocates.
 */
#include "engine/image/unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/image/kernels.h"

struct resblock {
	int cin, cout;
	const float *n1_g, *n1_b; /* [cin] */
	const float *c1_w;        /* [cout, cin, 3, 3] */
	const float *c1_b;        /* [cout] */
	const float *t_w;         /* [cout, time_dim] */
	const float *t_b;         /* [cout] */
	const float *n2_g, *n2_b; /* [cout] */
	const float *c2_w;        /* [cout, cout, 3, 3] */
	const float *c2_b;        /* [cout] */
	const float *sk_w;        /* [cout, cin, 1, 1] or NULL when cin == cout */
	const float *sk_b;        /* [cout] or NULL */
};

struct attnw {
	const float *q, *k, *v; /* [c, c], [c, cctx], [c, cctx] (no bias) */
	const float *o, *ob;    /* [c, c], [c] */
};

struct xformer {
	int c;
	const float *gn_g, *gn_b;      /* [c] */
	const float *pin_w, *pin_b;    /* [c, c], [c] */
	const float *ln1_g, *ln1_b;    /* [c] */
	struct attnw a1;               /* self-attention, cctx = c */
	const float *ln2_g, *ln2_b;    /* [c] */
	struct attnw a2;               /* cross-attention, cctx = ctx_dim */
	const float *ln3_g, *ln3_b;    /* [c] */
	const float *ff1_w, *ff1_b;    /* [8c, c], [8c]: GEGLU value rows 0..4c-1, gate rows 4c..8c-1 */
	const float *ff2_w, *ff2_b;    /* [c, 4c], [c] */
	const float *pout_w, *pout_b;  /* [c, c], [c] */
};

struct level {
	int ch, side;                 /* output channels, feature map side */
	struct resblock *res;         /* [nres] */
	struct xformer *attn;         /* [nres] or NULL */
	int nres;
	const float *sample_w, *sample_b; /* down: [ch, ch, 3, 3] stride 2; up: [ch, ch, 3, 3] after 2x nearest; or NULL */
};

struct unet {
	struct unet_config cfg;
	struct imgk *k;
	const float *t1_w, *t1_b; /* [time_dim, time_sin_dim], [time_dim] */
	const float *t2_w, *t2_b; /* [time_dim, time_dim], [time_dim] */
	const float *pool_w, *pool_b; /* [time_dim, ctx_dim], [time_dim], or NULL */
	const float *cin_w, *cin_b; /* [ch0, in_channels, 3, 3], [ch0] */
	struct level down[UNET_MAX_LEVELS], up[UNET_MAX_LEVELS]; /* up[0] is the deepest */
	struct resblock mid1, mid2;
	struct xformer midx;
	const float *on_g, *on_b;   /* [ch0] */
	const float *cout_w, *cout_b; /* [out_channels, ch0, 3, 3], [out_channels] */

	/* activations, allocated once */
	int nskip;
	float *skip[4 * UNET_MAX_LEVELS * 4]; /* [nskip], each [c, hw] */
	size_t skip_len[4 * UNET_MAX_LEVELS * 4];
	float *h, *h2, *t1, *t2;            /* [act_max] x4 */
	float *xa, *xb, *xq, *xk, *xv, *xo; /* transformer [c*n] buffers; xk/xv hold max(n, ctx_len) columns */
	float *ff;                          /* [8c*n] */
	float *scores;                      /* [n*max(n, ctx_len)] */
	float *lnscr;                       /* [2n] */
	float *temb, *temb_act, *tproj, *tsin; /* [time_dim] x2, [max ch], [time_sin_dim] */
	float *pooled, *pproj;                 /* [ctx_dim], [time_dim] */
	float *xin;                            /* [in_channels + 2, S*S] with coord_channels */
	size_t act_max, tok_max, ff_max, sc_max, bytes;
	/* timing */
	struct unet_times times;
	struct unet_flops flops;
};

/* ------------------------------------------------------------------ building */

struct builder {
	struct unet_wsrc *src;
	struct errinfo *e;
	char name[256];
};

static int W(struct builder *b, const float **out, const char *fmt_prefix, const char *leaf, int ndim, int d0,
	     int d1, int d2, int d3)
{
	int shape[4] = {d0, d1, d2, d3};
	char nm[300];
	snprintf(nm, sizeof nm, "%s.%s", fmt_prefix, leaf);
	return b->src->get(b->src, nm, ndim, shape, out, b->e);
}

#define TRY(x)                                                                                                 \
	do {                                                                                                   \
		int rc_ = (x);                                                                                 \
		if (rc_)                                                                                       \
			return rc_;                                                                            \
	} while (0)

static int build_res(struct builder *b, struct resblock *r, const char *p, int cin, int cout, int tdim)
{
	r->cin = cin;
	r->cout = cout;
	TRY(W(b, &r->n1_g, p, "norm1.weight", 1, cin, 0, 0, 0));
	TRY(W(b, &r->n1_b, p, "norm1.bias", 1, cin, 0, 0, 0));
	TRY(W(b, &r->c1_w, p, "conv1.weight", 4, cout, cin, 3, 3));
	TRY(W(b, &r->c1_b, p, "conv1.bias", 1, cout, 0, 0, 0));
	TRY(W(b, &r->t_w, p, "temb.weight", 2, cout, tdim, 0, 0));
	TRY(W(b, &r->t_b, p, "temb.bias", 1, cout, 0, 0, 0));
	TRY(W(b, &r->n2_g, p, "norm2.weight", 1, cout, 0, 0, 0));
	TRY(W(b, &r->n2_b, p, "norm2.bias", 1, cout, 0, 0, 0));
	TRY(W(b, &r->c2_w, p, "conv2.weight", 4, cout, cout, 3, 3));
	TRY(W(b, &r->c2_b, p, "conv2.bias", 1, cout, 0, 0, 0));
	if (cin != cout) {
		TRY(W(b, &r->sk_w, p, "skip.weight", 4, cout, cin, 1, 1));
		TRY(W(b, &r->sk_b, p, "skip.bias", 1, cout, 0, 0, 0));
	}
	return ERR_OK;
}

static int build_attnw(struct builder *b, struct attnw *a, const char *p, int c, int cctx)
{
	char q[300];
	snprintf(q, sizeof q, "%s", p);
	TRY(W(b, &a->q, q, "q.weight", 2, c, c, 0, 0));
	TRY(W(b, &a->k, q, "k.weight", 2, c, cctx, 0, 0));
	TRY(W(b, &a->v, q, "v.weight", 2, c, cctx, 0, 0));
	TRY(W(b, &a->o, q, "out.weight", 2, c, c, 0, 0));
	TRY(W(b, &a->ob, q, "out.bias", 1, c, 0, 0, 0));
	return ERR_OK;
}

static int build_xf(struct builder *b, struct xformer *x, const char *p, int c, int cctx)
{
	char q[300];
	x->c = c;
	TRY(W(b, &x->gn_g, p, "norm.weight", 1, c, 0, 0, 0));
	TRY(W(b, &x->gn_b, p, "norm.bias", 1, c, 0, 0, 0));
	TRY(W(b, &x->pin_w, p, "proj_in.weight", 2, c, c, 0, 0));
	TRY(W(b, &x->pin_b, p, "proj_in.bias", 1, c, 0, 0, 0));
	TRY(W(b, &x->ln1_g, p, "ln1.weight", 1, c, 0, 0, 0));
	TRY(W(b, &x->ln1_b, p, "ln1.bias", 1, c, 0, 0, 0));
	snprintf(q, sizeof q, "%s.attn1", p);
	TRY(build_attnw(b, &x->a1, q, c, c));
	TRY(W(b, &x->ln2_g, p, "ln2.weight", 1, c, 0, 0, 0));
	TRY(W(b, &x->ln2_b, p, "ln2.bias", 1, c, 0, 0, 0));
	snprintf(q, sizeof q, "%s.attn2", p);
	TRY(build_attnw(b, &x->a2, q, c, cctx));
	TRY(W(b, &x->ln3_g, p, "ln3.weight", 1, c, 0, 0, 0));
	TRY(W(b, &x->ln3_b, p, "ln3.bias", 1, c, 0, 0, 0));
	TRY(W(b, &x->ff1_w, p, "ff1.weight", 2, 8 * c, c, 0, 0));
	TRY(W(b, &x->ff1_b, p, "ff1.bias", 1, 8 * c, 0, 0, 0));
	TRY(W(b, &x->ff2_w, p, "ff2.weight", 2, c, 4 * c, 0, 0));
	TRY(W(b, &x->ff2_b, p, "ff2.bias", 1, c, 0, 0, 0));
	TRY(W(b, &x->pout_w, p, "proj_out.weight", 2, c, c, 0, 0));
	TRY(W(b, &x->pout_b, p, "proj_out.bias", 1, c, 0, 0, 0));
	return ERR_OK;
}

static size_t zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* Record the buffer needs of a ResBlock at hw pixels. */
static void need_res(struct unet *u, int cin, int cout, size_t hw)
{
	u->act_max = zmax(u->act_max, zmax((size_t)cin, (size_t)cout) * hw);
	u->flops.conv += 2.0 * hw * 9 * ((double)cin * cout + (double)cout * cout) + (cin != cout ? 2.0 * hw * cin * cout : 0);
}

static void need_xf(struct unet *u, int c, size_t n)
{
	size_t L = (size_t)u->cfg.ctx_len;
	u->tok_max = zmax(u->tok_max, (size_t)c * zmax(n, L));
	u->ff_max = zmax(u->ff_max, 8 * (size_t)c * n);
	u->sc_max = zmax(u->sc_max, n * zmax(n, L) + n * (size_t)(c / u->cfg.heads));
	u->act_max = zmax(u->act_max, (size_t)c * n);
	double cd = c, cc = u->cfg.ctx_dim;
	u->flops.linear += 2.0 * n * (cd * cd * 2 /* proj in/out */ + 4 * cd * cd /* self qkvo */ +
				      2 * cd * cd /* cross q,o */ + 8 * cd * cd + 4 * cd * cd /* GEGLU ff */) +
			   2.0 * L * 2 * cd * cc /* cross k,v */;
	u->flops.attn += 2.0 * 2 * n * n * cd + 2.0 * 2 * n * L * cd;
}

int unet_config_check(const struct unet_config *c, struct errinfo *e)
{
	if (c->levels < 1 || c->levels > UNET_MAX_LEVELS)
		return err_set(e, ERR_CORRUPT, "arch", "levels %d not in 1..%d", c->levels, UNET_MAX_LEVELS);
	if (c->image_size < 1 || c->image_size > 4096 || c->image_size % (1 << (c->levels - 1)))
		return err_set(e, ERR_CORRUPT, "arch", "image_size %d must be 1..4096 and divisible by %d", c->image_size,
			       1 << (c->levels - 1));
	if (c->in_channels < 1 || c->in_channels > 64 || c->out_channels < 1 || c->out_channels > 64)
		return err_set(e, ERR_CORRUPT, "arch", "in/out channels out of range");
	if (c->channels < 1 || c->channels > 4096 || c->groups < 1 || c->heads < 1)
		return err_set(e, ERR_CORRUPT, "arch", "channels/groups/heads out of range");
	if (c->num_res_blocks < 1 || c->num_res_blocks > 4)
		return err_set(e, ERR_CORRUPT, "arch", "num_res_blocks %d not in 1..4", c->num_res_blocks);
	if (c->time_sin_dim < 2 || c->time_sin_dim % 2 || c->time_sin_dim > 8192 || c->time_dim < 1 || c->time_dim > 8192)
		return err_set(e, ERR_CORRUPT, "arch", "time dims out of range");
	if (c->ctx_dim < 1 || c->ctx_dim > 8192 || c->ctx_len < 1 || c->ctx_len > 1024)
		return err_set(e, ERR_CORRUPT, "arch", "context dims out of range");
	for (int i = 0; i < c->levels; i++) {
		int ch = c->channels * c->channel_mult[i];
		if (c->channel_mult[i] < 1 || c->channel_mult[i] > 16 || ch % c->groups || ch % c->heads)
			return err_set(e, ERR_CORRUPT, "arch", "level %d: %d channels not divisible by groups %d and heads %d", i,
				       ch, c->groups, c->heads);
	}
	if (c->channels % c->groups)
		return err_set(e, ERR_CORRUPT, "arch", "channels not divisible by groups");
	if (!(c->gn_eps > 0) || !(c->ln_eps > 0))
		return err_set(e, ERR_CORRUPT, "arch", "eps must be positive");
	return ERR_OK;
}

static int build(struct unet *u, struct builder *b)
{
	const struct unet_config *c = &u->cfg;
	int T = c->time_dim, S = c->image_size, nl = c->levels;
	char p[200];
	TRY(W(b, &u->t1_w, "unet.time_lin1", "weight", 2, T, c->time_sin_dim, 0, 0));
	TRY(W(b, &u->t1_b, "unet.time_lin1", "bias", 1, T, 0, 0, 0));
	TRY(W(b, &u->t2_w, "unet.time_lin2", "weight", 2, T, T, 0, 0));
	TRY(W(b, &u->t2_b, "unet.time_lin2", "bias", 1, T, 0, 0, 0));
	if (c->pooled_text) {
		TRY(W(b, &u->pool_w, "unet.pool_proj", "weight", 2, T, c->ctx_dim, 0, 0));
		TRY(W(b, &u->pool_b, "unet.pool_proj", "bias", 1, T, 0, 0, 0));
	}
	int cin = c->in_channels + (c->coord_channels ? 2 : 0);
	TRY(W(b, &u->cin_w, "unet.conv_in", "weight", 4, c->channels, cin, 3, 3));
	TRY(W(b, &u->cin_b, "unet.conv_in", "bias", 1, c->channels, 0, 0, 0));
	u->flops.conv += 2.0 * S * S * 9 * cin * c->channels;
	int skip_ch[4 * UNET_MAX_LEVELS * 4], skip_side[4 * UNET_MAX_LEVELS * 4], ns = 0;
	int cur = c->channels;
	skip_ch[ns] = cur;
	skip_side[ns++] = S;
	u->act_max = (size_t)zmax((size_t)cin, (size_t)cur) * S * S;
	for (int i = 0; i < nl; i++) {
		struct level *lv = &u->down[i];
		int ch = c->channels * c->channel_mult[i], side = S >> i;
		size_t hw = (size_t)side * side;
		lv->ch = ch;
		lv->side = side;
		lv->nres = c->num_res_blocks;
		lv->res = calloc((size_t)lv->nres, sizeof *lv->res);
		lv->attn = c->attention[i] ? calloc((size_t)lv->nres, sizeof *lv->attn) : NULL;
		if (!lv->res || (c->attention[i] && !lv->attn))
			return err_set(b->e, ERR_NOMEM, NULL, "out of memory");
		for (int j = 0; j < lv->nres; j++) {
			snprintf(p, sizeof p, "unet.down.%d.res.%d", i, j);
			TRY(build_res(b, &lv->res[j], p, cur, ch, T));
			need_res(u, cur, ch, hw);
			cur = ch;
			if (lv->attn) {
				snprintf(p, sizeof p, "unet.down.%d.attn.%d", i, j);
				TRY(build_xf(b, &lv->attn[j], p, ch, c->ctx_dim));
				need_xf(u, ch, hw);
			}
			skip_ch[ns] = cur;
			skip_side[ns++] = side;
		}
		if (i != nl - 1) {
			snprintf(p, sizeof p, "unet.down.%d.downsample", i);
			TRY(W(b, &lv->sample_w, p, "weight", 4, cur, cur, 3, 3));
			TRY(W(b, &lv->sample_b, p, "bias", 1, cur, 0, 0, 0));
			u->flops.conv += 2.0 * (hw / 4) * 9 * cur * cur;
			skip_ch[ns] = cur;
			skip_side[ns++] = side / 2;
		}
	}
	size_t hwm = (size_t)(S >> (nl - 1)) * (S >> (nl - 1));
	TRY(build_res(b, &u->mid1, "unet.mid_res1", cur, cur, T));
	TRY(build_xf(b, &u->midx, "unet.mid_attn", cur, c->ctx_dim));
	TRY(build_res(b, &u->mid2, "unet.mid_res2", cur, cur, T));
	need_res(u, cur, cur, hwm);
	need_res(u, cur, cur, hwm);
	need_xf(u, cur, hwm);
	u->nskip = ns;
	for (int s = 0; s < ns; s++) {
		u->skip_len[s] = (size_t)skip_ch[s] * skip_side[s] * skip_side[s];
		u->skip[s] = malloc(sizeof(float) * u->skip_len[s]);
		if (!u->skip[s])
			return err_set(b->e, ERR_NOMEM, NULL, "out of memory");
		u->bytes += sizeof(float) * u->skip_len[s];
	}
	for (int ui = 0; ui < nl; ui++) {
		int i = nl - 1 - ui;
		struct level *lv = &u->up[ui];
		int ch = c->channels * c->channel_mult[i], side = S >> i;
		size_t hw = (size_t)side * side;
		lv->ch = ch;
		lv->side = side;
		lv->nres = c->num_res_blocks + 1;
		lv->res = calloc((size_t)lv->nres, sizeof *lv->res);
		lv->attn = c->attention[i] ? calloc((size_t)lv->nres, sizeof *lv->attn) : NULL;
		if (!lv->res || (c->attention[i] && !lv->attn))
			return err_set(b->e, ERR_NOMEM, NULL, "out of memory");
		for (int j = 0; j < lv->nres; j++) {
			int sc = skip_ch[--ns];
			snprintf(p, sizeof p, "unet.up.%d.res.%d", ui, j);
			TRY(build_res(b, &lv->res[j], p, cur + sc, ch, T));
			need_res(u, cur + sc, ch, hw);
			cur = ch;
			if (lv->attn) {
				snprintf(p, sizeof p, "unet.up.%d.attn.%d", ui, j);
				TRY(build_xf(b, &lv->attn[j], p, ch, c->ctx_dim));
				need_xf(u, ch, hw);
			}
		}
		if (i != 0) {
			snprintf(p, sizeof p, "unet.up.%d.upsample", ui);
			TRY(W(b, &lv->sample_w, p, "weight", 4, cur, cur, 3, 3));
			TRY(W(b, &lv->sample_b, p, "bias", 1, cur, 0, 0, 0));
			size_t hw2 = hw * 4;
			u->act_max = zmax(u->act_max, (size_t)cur * hw2);
			u->flops.conv += 2.0 * hw2 * 9 * cur * cur;
		}
	}
	TRY(W(b, &u->on_g, "unet.out_norm", "weight", 1, cur, 0, 0, 0));
	TRY(W(b, &u->on_b, "unet.out_norm", "bias", 1, cur, 0, 0, 0));
	TRY(W(b, &u->cout_w, "unet.conv_out", "weight", 4, c->out_channels, cur, 3, 3));
	TRY(W(b, &u->cout_b, "unet.conv_out", "bias", 1, c->out_channels, 0, 0, 0));
	u->flops.conv += 2.0 * S * S * 9 * cur * c->out_channels;
	return ERR_OK;
}

static float *alloc_f(struct unet *u, size_t n)
{
	u->bytes += n * sizeof(float);
	return malloc(sizeof(float) * (n ? n : 1));
}

int unet_new(struct unet **out, const struct unet_config *cfg, struct unet_wsrc *src, struct imgk *k,
	     struct errinfo *e)
{
	*out = NULL;
	int rc = unet_config_check(cfg, e);
	if (rc)
		return rc;
	struct unet *u = calloc(1, sizeof *u);
	if (!u)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	u->cfg = *cfg;
	u->k = k;
	struct builder b = {.src = src, .e = e};
	rc = build(u, &b);
	if (rc)
		goto out;
	int maxch = 0;
	for (int i = 0; i < cfg->levels; i++)
		maxch = cfg->channels * cfg->channel_mult[i] > maxch ? cfg->channels * cfg->channel_mult[i] : maxch;
	u->h = alloc_f(u, u->act_max);
	u->h2 = alloc_f(u, u->act_max);
	u->t1 = alloc_f(u, u->act_max);
	u->t2 = alloc_f(u, u->act_max);
	u->xa = alloc_f(u, u->tok_max);
	u->xb = alloc_f(u, u->tok_max);
	u->xq = alloc_f(u, u->tok_max);
	u->xk = alloc_f(u, u->tok_max);
	u->xv = alloc_f(u, u->tok_max);
	u->xo = alloc_f(u, u->tok_max);
	u->ff = alloc_f(u, u->ff_max);
	u->scores = alloc_f(u, u->sc_max);
	u->lnscr = alloc_f(u, 2 * (size_t)cfg->image_size * cfg->image_size + 2 * (size_t)cfg->ctx_len);
	u->temb = alloc_f(u, (size_t)cfg->time_dim);
	u->temb_act = alloc_f(u, (size_t)cfg->time_dim);
	u->tproj = alloc_f(u, (size_t)maxch);
	u->tsin = alloc_f(u, (size_t)cfg->time_sin_dim);
	u->pooled = alloc_f(u, (size_t)cfg->ctx_dim);
	u->pproj = alloc_f(u, (size_t)cfg->time_dim);
	u->xin = alloc_f(u, (size_t)(cfg->in_channels + 2) * cfg->image_size * cfg->image_size);
	if (!u->h || !u->h2 || !u->t1 || !u->t2 || !u->xa || !u->xb || !u->xq || !u->xk || !u->xv ||
	    !u->xo || !u->ff || !u->scores || !u->lnscr || !u->temb || !u->temb_act || !u->tproj || !u->tsin ||
	    !u->pooled || !u->pproj || !u->xin) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory for %zu MB of activations", u->bytes >> 20);
		goto out;
	}
	*out = u;
	return ERR_OK;
out:
	unet_free(u);
	return rc;
}

void unet_free(struct unet *u)
{
	if (!u)
		return;
	for (int i = 0; i < UNET_MAX_LEVELS; i++) {
		free(u->down[i].res);
		free(u->down[i].attn);
		free(u->up[i].res);
		free(u->up[i].attn);
	}
	for (int s = 0; s < u->nskip; s++)
		free(u->skip[s]);
	float *bufs[] = {u->h, u->h2, u->t1, u->t2, u->xa, u->xb, u->xq, u->xk, u->xv, u->xo, u->ff,
			 u->scores, u->lnscr, u->temb, u->temb_act, u->tproj, u->tsin, u->pooled, u->pproj, u->xin};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		free(bufs[i]);
	free(u);
}

/* ------------------------------------------------------------------ forward */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void conv(struct unet *u, const float *in, int cin, int side, const float *w, const float *b, int cout,
		 int stride, float *out)
{
	double t0 = now();
	imgk_conv2d(u->k, in, cin, side, side, w, b, cout, 3, stride, 1, out);
	u->times.conv += now() - t0;
}

static void linear(struct unet *u, const float *x, int cin, int n, const float *w, const float *b, int cout, float *y,
		   int acc)
{
	double t0 = now();
	imgk_gemm(u->k, cout, n, cin, w, cin, 1, x, n, 1, y, n, acc);
	if (b)
		for (int c = 0; c < cout; c++)
			for (int j = 0; j < n; j++)
				y[(size_t)c * n + j] += b[c];
	u->times.linear += now() - t0;
}

/* out [cout, hw] = ResBlock(x [cin, hw]); uses t1, t2, tproj. */
static void res_fwd(struct unet *u, const struct resblock *r, const float *x, int side, float *out)
{
	const struct unet_config *c = &u->cfg;
	int hw = side * side;
	double t0 = now();
	imgk_groupnorm(x, r->cin, hw, c->groups, r->n1_g, r->n1_b, c->gn_eps, 1, u->t1);
	u->times.other += now() - t0;
	conv(u, u->t1, r->cin, side, r->c1_w, r->c1_b, r->cout, 1, u->t2);
	t0 = now();
	imgk_gemm(u->k, r->cout, 1, c->time_dim, r->t_w, c->time_dim, 1, u->temb_act, 1, 1, u->tproj, 1, 0);
	for (int ch = 0; ch < r->cout; ch++) {
		float a = u->tproj[ch] + r->t_b[ch];
		float *p = u->t2 + (size_t)ch * hw;
		for (int j = 0; j < hw; j++)
			p[j] += a;
	}
	imgk_groupnorm(u->t2, r->cout, hw, c->groups, r->n2_g, r->n2_b, c->gn_eps, 1, u->t1);
	u->times.other += now() - t0;
	conv(u, u->t1, r->cout, side, r->c2_w, r->c2_b, r->cout, 1, out);
	t0 = now();
	if (r->sk_w) {
		imgk_gemm(u->k, r->cout, hw, r->cin, r->sk_w, r->cin, 1, x, hw, 1, out, hw, 1);
		for (int ch = 0; ch < r->cout; ch++)
			for (int j = 0; j < hw; j++)
				out[(size_t)ch * hw + j] += r->sk_b[ch];
		u->times.conv += now() - t0;
	} else {
		size_t n = (size_t)r->cout * hw;
		for (size_t i = 0; i < n; i++)
			out[i] += x[i];
		u->times.other += now() - t0;
	}
}

static void attn_fwd(struct unet *u, const struct attnw *a, const float *x, const float *ctx, int c, int cctx,
		     int n, int m, float *h)
{
	/* h [c, n] += Wo · attention(Wq x, Wk ctx, Wv ctx) + bo */
	linear(u, x, c, n, a->q, NULL, c, u->xq, 0);
	linear(u, ctx, cctx, m, a->k, NULL, c, u->xk, 0);
	linear(u, ctx, cctx, m, a->v, NULL, c, u->xv, 0);
	double t0 = now();
	imgk_attention(u->k, u->xq, u->xk, u->xv, c, n, m, u->cfg.heads, u->xo, u->scores);
	u->times.attn += now() - t0;
	linear(u, u->xo, c, n, a->o, a->ob, c, h, 1);
}

/* x [c, side*side] += SpatialTransformer(x, ctx), in place. */
static void xf_fwd(struct unet *u, const struct xformer *t, float *x, int side, const float *ctx)
{
	const struct unet_config *cf = &u->cfg;
	int c = t->c, n = side * side, L = cf->ctx_len;
	double t0 = now();
	imgk_groupnorm(x, c, n, cf->groups, t->gn_g, t->gn_b, cf->gn_eps, 0, u->xa);
	u->times.other += now() - t0;
	float *h = u->xb;
	linear(u, u->xa, c, n, t->pin_w, t->pin_b, c, h, 0);
	t0 = now();
	imgk_layernorm(h, c, n, t->ln1_g, t->ln1_b, cf->ln_eps, u->xa, u->lnscr);
	u->times.other += now() - t0;
	attn_fwd(u, &t->a1, u->xa, u->xa, c, c, n, n, h);
	t0 = now();
	imgk_layernorm(h, c, n, t->ln2_g, t->ln2_b, cf->ln_eps, u->xa, u->lnscr);
	u->times.other += now() - t0;
	attn_fwd(u, &t->a2, u->xa, ctx, c, cf->ctx_dim, n, L, h);
	t0 = now();
	imgk_layernorm(h, c, n, t->ln3_g, t->ln3_b, cf->ln_eps, u->xa, u->lnscr);
	u->times.other += now() - t0;
	linear(u, u->xa, c, n, t->ff1_w, t->ff1_b, 8 * c, u->ff, 0);
	t0 = now();
	size_t half = (size_t)4 * c * n;
	imgk_geglu(u->k, u->ff, u->ff + half, half);
	u->times.other += now() - t0;
	linear(u, u->ff, 4 * c, n, t->ff2_w, t->ff2_b, c, h, 1);
	/* x += proj_out(h) */
	linear(u, h, c, n, t->pout_w, t->pout_b, c, x, 1);
}

void unet_forward(struct unet *u, const float *x, float t, const float *ctx, float *eps)
{
	const struct unet_config *c = &u->cfg;
	int S = c->image_size, nl = c->levels, T = c->time_dim;
	double t0 = now();
	/* timestep embedding: [cos(t f_i), sin(t f_i)], f_i = 10000^(-i/half) */
	int half = c->time_sin_dim / 2;
	for (int i = 0; i < half; i++) {
		float f = expf(-logf(10000.0f) * (float)i / (float)half);
		float a = t * f;
		u->tsin[i] = cosf(a);
		u->tsin[half + i] = sinf(a);
	}
	imgk_gemm(u->k, T, 1, c->time_sin_dim, u->t1_w, c->time_sin_dim, 1, u->tsin, 1, 1, u->temb, 1, 0);
	for (int i = 0; i < T; i++)
		u->temb[i] = imgk_silu(u->temb[i] + u->t1_b[i]);
	imgk_gemm(u->k, T, 1, T, u->t2_w, T, 1, u->temb, 1, 1, u->temb_act, 1, 0);
	if (c->pooled_text) {
		/* + pool_proj(mean over the caption's positions of its encoding [ctx_dim, ctx_len]) */
		for (int d = 0; d < c->ctx_dim; d++) {
			float s = 0;
			for (int j = 0; j < c->ctx_len; j++)
				s += ctx[(size_t)d * c->ctx_len + j];
			u->pooled[d] = s / (float)c->ctx_len;
		}
		imgk_gemm(u->k, T, 1, c->ctx_dim, u->pool_w, c->ctx_dim, 1, u->pooled, 1, 1, u->pproj, 1, 0);
		for (int i = 0; i < T; i++)
			u->temb_act[i] += u->pproj[i] + u->pool_b[i];
	}
	for (int i = 0; i < T; i++)
		u->temb_act[i] = imgk_silu(u->temb_act[i] + u->t2_b[i]); /* every ResBlock applies SiLU first */
	u->times.other += now() - t0;

	float *h = u->h, *h2 = u->h2;
	int ns = 0;
	if (c->coord_channels) {
		size_t n = (size_t)S * S;
		memcpy(u->xin, x, sizeof(float) * c->in_channels * n);
		float *cx = u->xin + c->in_channels * n, *cy = cx + n;
		for (int i = 0; i < S; i++)
			for (int j = 0; j < S; j++) {
				cx[i * S + j] = (float)(2 * j + 1) / (float)S - 1.0f;
				cy[i * S + j] = (float)(2 * i + 1) / (float)S - 1.0f;
			}
		conv(u, u->xin, c->in_channels + 2, S, u->cin_w, u->cin_b, c->channels, 1, h);
	} else {
		conv(u, x, c->in_channels, S, u->cin_w, u->cin_b, c->channels, 1, h);
	}
	memcpy(u->skip[ns], h, sizeof(float) * u->skip_len[ns]);
	ns++;
	int cur = c->channels;
	for (int i = 0; i < nl; i++) {
		struct level *lv = &u->down[i];
		for (int j = 0; j < lv->nres; j++) {
			res_fwd(u, &lv->res[j], h, lv->side, h2);
			float *tmp = h;
			h = h2;
			h2 = tmp;
			cur = lv->ch;
			if (lv->attn)
				xf_fwd(u, &lv->attn[j], h, lv->side, ctx);
			memcpy(u->skip[ns], h, sizeof(float) * u->skip_len[ns]);
			ns++;
		}
		if (lv->sample_w) {
			conv(u, h, cur, lv->side, lv->sample_w, lv->sample_b, cur, 2, h2);
			float *tmp = h;
			h = h2;
			h2 = tmp;
			memcpy(u->skip[ns], h, sizeof(float) * u->skip_len[ns]);
			ns++;
		}
	}
	int sm = S >> (nl - 1);
	res_fwd(u, &u->mid1, h, sm, h2);
	xf_fwd(u, &u->midx, h2, sm, ctx);
	res_fwd(u, &u->mid2, h2, sm, h);
	for (int ui = 0; ui < nl; ui++) {
		struct level *lv = &u->up[ui];
		size_t hw = (size_t)lv->side * lv->side;
		for (int j = 0; j < lv->nres; j++) {
			ns--;
			/* cat([h, skip]) along channels: rows of h, then rows of the skip */
			t0 = now();
			memcpy(h2, h, sizeof(float) * (size_t)cur * hw);
			memcpy(h2 + (size_t)cur * hw, u->skip[ns], sizeof(float) * u->skip_len[ns]);
			u->times.other += now() - t0;
			res_fwd(u, &lv->res[j], h2, lv->side, h);
			cur = lv->ch;
			if (lv->attn)
				xf_fwd(u, &lv->attn[j], h, lv->side, ctx);
		}
		if (lv->sample_w) {
			/* nearest 2x into h2, then 3x3 conv back into h */
			t0 = now();
			int s = lv->side, s2 = 2 * s;
			for (int ch = 0; ch < cur; ch++)
				for (int y = 0; y < s2; y++) {
					const float *src = h + ((size_t)ch * s + y / 2) * s;
					float *dst = h2 + ((size_t)ch * s2 + y) * s2;
					for (int xx = 0; xx < s2; xx++)
						dst[xx] = src[xx / 2];
				}
			u->times.other += now() - t0;
			conv(u, h2, cur, s2, lv->sample_w, lv->sample_b, cur, 1, h);
		}
	}
	t0 = now();
	imgk_groupnorm(h, cur, S * S, c->groups, u->on_g, u->on_b, c->gn_eps, 1, h2);
	u->times.other += now() - t0;
	conv(u, h2, cur, S, u->cout_w, u->cout_b, c->out_channels, 1, eps);
}

void unet_set_kernels(struct unet *u, struct imgk *k)
{
	u->k = k;
}

void unet_count_flops(const struct unet *u, struct unet_flops *f)
{
	*f = u->flops;
}

size_t unet_activation_bytes(const struct unet *u)
{
	return u->bytes;
}

void unet_times(struct unet *u, struct unet_times *t, int reset)
{
	*t = u->times;
	if (reset)
		memset(&u->times, 0, sizeof u->times);
}
