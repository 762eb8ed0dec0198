/*
 * image.c: model loading (safetensors + metadata) and the sampling loop
 * (image.h). Weights stay in the read-only mapping when they are aligned F32;
 * F16/BF16 (or unaligned) tensors are converted once at open into buffers
 * the model owns. Everything a generation needs is allocated at open.
 */
#include "engine/image/image.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image/kernels.h"
#include "engine/image/scheduler.h"
#include "engine/image/textenc.h"
#include "engine/image/unet.h"
#include "engine/safetensors.h"
#include "engine/threads.h"

struct file_src {
	struct unet_wsrc base;
	struct safetensors *st;
	float **owned; /* converted copies */
	size_t nowned, cap;
};

struct image_model {
	struct safetensors *st;
	struct file_src src;
	struct threadpool *pool;
	struct imgk *k;
	struct textenc *te;
	struct unet *u;
	int size, T, ctx_dim, ctx_len;
	int t_max_default;
	float *ac;         /* [T] alphas_cumprod */
	float *ctx_c, *ctx_u; /* [ctx_dim, ctx_len] */
	float *x, *eps, *eps_u, *noise; /* [3, S, S] each */
	float *noise0;                  /* [3, S, S] the first draw, kept for masked image to image */
	int *ids;          /* [ctx_len] */
	int *ts;           /* [IMAGE_MAX_STEPS] */
};

static int file_get(struct unet_wsrc *base, const char *name, int ndim, const int *shape, const float **out,
		    struct errinfo *e)
{
	struct file_src *s = (struct file_src *)base;
	const struct safetensors_tensor *t = safetensors_find(s->st, name);
	if (!t)
		return err_set(e, ERR_CORRUPT, "weights", "tensor '%.100s' missing from the weights file", name);
	int ok = t->ndim == ndim;
	for (int i = 0; ok && i < ndim; i++)
		ok = t->shape[i] == shape[i];
	if (!ok) {
		char got[96] = "", want[96] = "";
		for (int i = 0; i < t->ndim && i < 8; i++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
		for (int i = 0; i < ndim; i++)
			snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? "," : "", shape[i]);
		return err_set(e, ERR_CORRUPT, "weights", "tensor '%.100s' has shape [%s], the architecture needs [%s]", name,
			       got, want);
	}
	if (t->dtype == SAFETENSORS_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
		*out = t->data;
		return ERR_OK;
	}
	if (s->nowned == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 64;
		float **no = realloc(s->owned, nc * sizeof *no);
		if (!no)
			return err_set(e, ERR_NOMEM, NULL, "out of memory");
		s->owned = no;
		s->cap = nc;
	}
	float *buf = malloc(sizeof(float) * (t->nelem ? t->nelem : 1));
	if (!buf)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	safetensors_to_f32(t, buf);
	s->owned[s->nowned++] = buf;
	*out = buf;
	return ERR_OK;
}

static int jint(json_t *o, const char *k, int *out, struct errinfo *e)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
		return err_set(e, ERR_CORRUPT, "arch", "metadata atelier.arch: '%s' missing or not a small integer", k);
	*out = (int)json_integer_value(v);
	return ERR_OK;
}

static int jnum(json_t *o, const char *k, float *out, struct errinfo *e)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		return err_set(e, ERR_CORRUPT, "arch", "metadata atelier.arch: '%s' missing or not a number", k);
	*out = (float)json_number_value(v);
	return ERR_OK;
}

static int jstr_is(json_t *o, const char *k, const char *want, struct errinfo *e)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		return err_set(e, ERR_UNSUPPORTED, "arch", "metadata atelier.arch: '%s' must be \"%s\"", k, want);
	return ERR_OK;
}

static int jlist(json_t *o, const char *k, int *out, int *n, struct errinfo *e)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > UNET_MAX_LEVELS)
		return err_set(e, ERR_CORRUPT, "arch", "metadata atelier.arch: '%s' must list 1..%d levels", k,
			       UNET_MAX_LEVELS);
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *x = json_array_get(v, i);
		if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 64)
			return err_set(e, ERR_CORRUPT, "arch", "metadata atelier.arch: '%s'[%zu] bad", k, i);
		out[i] = (int)json_integer_value(x);
	}
	*n = (int)json_array_size(v);
	return ERR_OK;
}

static int parse_arch(const char *js, struct unet_config *uc, struct textenc_config *tc, int *T, struct errinfo *e)
{
	json_error_t jerr;
	json_t *o = js ? json_loads(js, 0, &jerr) : NULL;
	int rc = ERR_OK, n1 = 0, n2 = 0;
	if (!o || !json_is_object(o)) {
		rc = err_set(e, ERR_CORRUPT, "arch", "weights file has no valid 'atelier.arch' metadata");
		goto out;
	}
	memset(uc, 0, sizeof *uc);
	memset(tc, 0, sizeof *tc);
	if ((rc = jstr_is(o, "kind", "atelier-unet-v1", e)) || (rc = jstr_is(o, "prediction", "epsilon", e)) ||
	    (rc = jint(o, "image_size", &uc->image_size, e)) || (rc = jint(o, "in_channels", &uc->in_channels, e)) ||
	    (rc = jint(o, "out_channels", &uc->out_channels, e)) || (rc = jint(o, "channels", &uc->channels, e)) ||
	    (rc = jlist(o, "channel_mult", uc->channel_mult, &n1, e)) || (rc = jlist(o, "attention", uc->attention, &n2, e)) ||
	    (rc = jint(o, "num_res_blocks", &uc->num_res_blocks, e)) || (rc = jint(o, "groups", &uc->groups, e)) ||
	    (rc = jint(o, "heads", &uc->heads, e)) || (rc = jint(o, "time_sin_dim", &uc->time_sin_dim, e)) ||
	    (rc = jint(o, "time_dim", &uc->time_dim, e)) || (rc = jnum(o, "gn_eps", &uc->gn_eps, e)) ||
	    (rc = jnum(o, "ln_eps", &uc->ln_eps, e)) || (rc = jint(o, "text_dim", &tc->dim, e)) ||
	    (rc = jint(o, "text_layers", &tc->layers, e)) || (rc = jint(o, "text_heads", &tc->heads, e)) ||
	    (rc = jint(o, "text_ff", &tc->ff, e)) || (rc = jint(o, "max_tokens", &tc->max_tokens, e)) ||
	    (rc = jint(o, "vocab_size", &tc->vocab_size, e)) || (rc = jint(o, "timesteps", T, e)))
		goto out;
	if (n1 != n2) {
		rc = err_set(e, ERR_CORRUPT, "arch", "channel_mult and attention list different numbers of levels");
		goto out;
	}
	if (uc->in_channels != 3 || uc->out_channels != 3) {
		rc = err_set(e, ERR_UNSUPPORTED, "arch", "only pixel-space RGB models (3 channels in and out) are supported");
		goto out;
	}
	if (*T < 2 || *T > 100000) {
		rc = err_set(e, ERR_CORRUPT, "arch", "timesteps %d out of range", *T);
		goto out;
	}
	json_t *pooled = json_object_get(o, "pooled_text");
	if (pooled && !json_is_boolean(pooled)) {
		rc = err_set(e, ERR_CORRUPT, "arch", "metadata atelier.arch: 'pooled_text' must be true or false");
		goto out;
	}
	uc->pooled_text = json_is_true(pooled);
	json_t *coord = json_object_get(o, "coord_channels");
	if (coord && !json_is_boolean(coord)) {
		rc = err_set(e, ERR_CORRUPT, "arch", "metadata atelier.arch: 'coord_channels' must be true or false");
		goto out;
	}
	uc->coord_channels = json_is_true(coord);
	uc->levels = n1;
	uc->ctx_dim = tc->dim;
	uc->ctx_len = tc->max_tokens;
	tc->ln_eps = uc->ln_eps;
out:
	json_decref(o);
	return rc;
}

int image_model_open(struct image_model **out, const char *path, int threads, struct errinfo *e)
{
	*out = NULL;
	int rc;
	struct image_model *m = calloc(1, sizeof *m);
	json_t *vocab_json = NULL;
	char **vocab = NULL;
	if (!m)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	if ((rc = safetensors_open(&m->st, path, e)))
		goto out;
	struct unet_config uc;
	struct textenc_config tc;
	if ((rc = parse_arch(safetensors_meta(m->st, "atelier.arch"), &uc, &tc, &m->T, e)))
		goto out;
	json_error_t jerr;
	const char *vs = safetensors_meta(m->st, "atelier.vocab");
	vocab_json = vs ? json_loads(vs, 0, &jerr) : NULL;
	if (!vocab_json || !json_is_array(vocab_json) || json_array_size(vocab_json) != (size_t)tc.vocab_size) {
		rc = err_set(e, ERR_CORRUPT, "vocab", "weights file has no 'atelier.vocab' list of %d words", tc.vocab_size);
		goto out;
	}
	vocab = calloc((size_t)tc.vocab_size, sizeof *vocab);
	if (!vocab) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	for (int i = 0; i < tc.vocab_size; i++) {
		json_t *w = json_array_get(vocab_json, (size_t)i);
		if (!json_is_string(w)) {
			rc = err_set(e, ERR_CORRUPT, "vocab", "vocabulary entry %d is not a string", i);
			goto out;
		}
		vocab[i] = (char *)json_string_value(w);
	}
	const struct safetensors_tensor *act = safetensors_find(m->st, "schedule.alphas_cumprod");
	if (!act || act->ndim != 1 || act->shape[0] != m->T) {
		rc = err_set(e, ERR_CORRUPT, "weights", "tensor 'schedule.alphas_cumprod' [%d] missing or misshapen", m->T);
		goto out;
	}
	m->t_max_default = m->T - 1;
	const char *tm = safetensors_meta(m->st, "atelier.sample_t_max");
	if (tm) {
		char *end;
		long v = strtol(tm, &end, 10);
		if (*end || v < 1 || v > m->T - 1) {
			rc = err_set(e, ERR_CORRUPT, "arch", "metadata atelier.sample_t_max must be 1..%d", m->T - 1);
			goto out;
		}
		m->t_max_default = (int)v;
	}
	m->size = uc.image_size;
	m->ctx_dim = uc.ctx_dim;
	m->ctx_len = uc.ctx_len;
	size_t px = 3 * (size_t)m->size * m->size;
	m->ac = malloc(sizeof(float) * (size_t)m->T);
	m->ctx_c = malloc(sizeof(float) * (size_t)m->ctx_dim * m->ctx_len);
	m->ctx_u = malloc(sizeof(float) * (size_t)m->ctx_dim * m->ctx_len);
	m->x = malloc(sizeof(float) * px);
	m->eps = malloc(sizeof(float) * px);
	m->eps_u = malloc(sizeof(float) * px);
	m->noise = malloc(sizeof(float) * px);
	m->noise0 = malloc(sizeof(float) * px);
	m->ids = malloc(sizeof(int) * (size_t)m->ctx_len);
	m->ts = malloc(sizeof(int) * IMAGE_MAX_STEPS);
	if (!m->ac || !m->ctx_c || !m->ctx_u || !m->x || !m->eps || !m->eps_u || !m->noise || !m->noise0 || !m->ids || !m->ts) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	safetensors_to_f32(act, m->ac);
	for (int i = 0; i < m->T; i++)
		if (!(m->ac[i] > 0.0f && m->ac[i] <= 1.0f) || (i && m->ac[i] > m->ac[i - 1])) {
			rc = err_set(e, ERR_CORRUPT, "weights", "schedule.alphas_cumprod must decrease within (0, 1]");
			goto out;
		}
	if (threads <= 0)
		threads = threads_cpu_count();
	if (threads > THREADS_MAX)
		threads = THREADS_MAX;
	if ((rc = threads_new(&m->pool, threads, e)) || (rc = imgk_new(&m->k, m->pool, e)))
		goto out;
	m->src.base.get = file_get;
	m->src.st = m->st;
	if ((rc = textenc_new(&m->te, &tc, (const char *const *)vocab, &m->src.base, m->k, e)) ||
	    (rc = unet_new(&m->u, &uc, &m->src.base, m->k, e)))
		goto out;
	*out = m;
	rc = ERR_OK;
	m = NULL;
out:
	free(vocab);
	json_decref(vocab_json);
	image_model_free(m);
	return rc;
}

void image_model_free(struct image_model *m)
{
	if (!m)
		return;
	unet_free(m->u);
	textenc_free(m->te);
	imgk_free(m->k);
	threads_free(m->pool);
	for (size_t i = 0; i < m->src.nowned; i++)
		free(m->src.owned[i]);
	free(m->src.owned);
	safetensors_close(m->st);
	free(m->ac);
	free(m->ctx_c);
	free(m->ctx_u);
	free(m->x);
	free(m->eps);
	free(m->eps_u);
	free(m->noise);
	free(m->noise0);
	free(m->ids);
	free(m->ts);
	free(m);
}

int image_model_size(const struct image_model *m)
{
	return m->size;
}

struct unet *image_model_unet(struct image_model *m)
{
	return m->u;
}

struct textenc *image_model_textenc(struct image_model *m)
{
	return m->te;
}

struct imgk *image_model_kernels(struct image_model *m)
{
	return m->k;
}

int image_model_ctx_dims(const struct image_model *m, int *dim, int *len)
{
	*dim = m->ctx_dim;
	*len = m->ctx_len;
	return ERR_OK;
}

int image_sampler_parse(const char *s, enum image_sampler *out)
{
	if (strcmp(s, "ddim") == 0)
		*out = IMAGE_DDIM;
	else if (strcmp(s, "euler") == 0 || strcmp(s, "euler_a") == 0)
		*out = IMAGE_EULER;
	else
		return ERR_INVALID;
	return ERR_OK;
}

int image_generate(struct image_model *m, const struct image_params *p, uint8_t *rgb, float *x_out,
		   struct errinfo *e)
{
	if (!p->prompt || strlen(p->prompt) > IMAGE_MAX_PROMPT)
		return err_set(e, ERR_INVALID, "prompt", "prompt missing or over %d bytes", IMAGE_MAX_PROMPT);
	if (p->negative && strlen(p->negative) > IMAGE_MAX_PROMPT)
		return err_set(e, ERR_INVALID, "negative_prompt", "negative_prompt over %d bytes", IMAGE_MAX_PROMPT);
	if (p->steps < 1 || p->steps > IMAGE_MAX_STEPS || p->steps > m->T)
		return err_set(e, ERR_INVALID, "steps", "steps must be 1..%d", IMAGE_MAX_STEPS < m->T ? IMAGE_MAX_STEPS : m->T);
	if (!(p->guidance >= 0.0f && p->guidance <= 30.0f))
		return err_set(e, ERR_INVALID, "guidance", "guidance must be 0..30");
	if ((unsigned)p->sampler >= IMAGE_SAMPLER__MAX)
		return err_set(e, ERR_INVALID, "sampler", "unknown sampler");
	if (p->init_rgb && !(p->strength > 0.0f && p->strength <= 1.0f))
		return err_set(e, ERR_INVALID, "strength", "strength must be in (0, 1]");
	if (p->mask && !p->init_rgb)
		return err_set(e, ERR_INVALID, "mask", "a mask needs an init image");
	int S = m->size, L = m->ctx_len;
	int n = 3 * S * S, steps = p->steps;
	struct sched_rng rng;
	sched_rng_seed(&rng, p->seed);
	textenc_tokenize(m->te, p->prompt, m->ids);
	textenc_forward(m->te, m->ids, m->ctx_c);
	/* the unconditional input: the negative prompt, else the empty caption
	 * (all padding: what the tokenizer makes of "" too, but spelled out so
	 * that the bytes without a negative prompt never depend on it) */
	if (p->negative && p->negative[0]) {
		textenc_tokenize(m->te, p->negative, m->ids);
	} else {
		for (int i = 0; i < L; i++)
			m->ids[i] = 0;
	}
	textenc_forward(m->te, m->ids, m->ctx_u);
	int t_max = p->t_max ? p->t_max : m->t_max_default;
	if (t_max < 1 || t_max > m->T - 1 || steps > t_max + 1)
		return err_set(e, ERR_INVALID, "t_max", "first timestep must be 1..%d and at least steps-1", m->T - 1);
	sched_timesteps(t_max, steps, m->ts);
	if (p->init_noise)
		memcpy(m->noise, p->init_noise, sizeof(float) * (size_t)n);
	else
		sched_rng_normal(&rng, m->noise, n);
	if (p->mask)
		memcpy(m->noise0, m->noise, sizeof(float) * (size_t)n);
	int start = 0;
	if (p->init_rgb) {
		start = steps - (int)lroundf(p->strength * (float)steps);
		if (start < 0)
			start = 0;
		if (start > steps - 1)
			start = steps - 1;
		float a = m->ac[m->ts[start]], sa = sqrtf(a), sb = sqrtf(1.0f - a);
		for (int c = 0; c < 3; c++)
			for (int i = 0; i < S * S; i++)
				m->x[c * S * S + i] = sa * ((float)p->init_rgb[i * 3 + c] / 127.5f - 1.0f) + sb * m->noise[c * S * S + i];
	} else {
		memcpy(m->x, m->noise, sizeof(float) * (size_t)n);
	}
	for (int i = start; i < steps; i++) {
		int t = m->ts[i];
		float a = m->ac[t], an = i + 1 < steps ? m->ac[m->ts[i + 1]] : 1.0f;
		unet_forward(m->u, m->x, (float)t, m->ctx_c, m->eps);
		if (p->guidance != 1.0f) {
			unet_forward(m->u, m->x, (float)t, m->ctx_u, m->eps_u);
			for (int j = 0; j < n; j++)
				m->eps[j] = m->eps_u[j] + p->guidance * (m->eps[j] - m->eps_u[j]);
		}
		float sa = sqrtf(a), sb = sqrtf(1.0f - a);
		for (int j = 0; j < n; j++) {
			float x0 = (m->x[j] - sb * m->eps[j]) / sa;
			x0 = x0 < -1.0f ? -1.0f : x0 > 1.0f ? 1.0f : x0;
			m->eps[j] = (m->x[j] - sa * x0) / sb;
			m->eps_u[j] = x0; /* reuse as x0 storage */
		}
		if (p->sampler == IMAGE_DDIM || i + 1 == steps) {
			float pa = sqrtf(an), pb = sqrtf(1.0f - an);
			for (int j = 0; j < n; j++)
				m->x[j] = pa * m->eps_u[j] + pb * m->eps[j];
		} else {
			/* Euler ancestral in sigma space (x_sigma = x / sqrt(abar)). */
			double sg = sqrt((1.0 - a) / a), sn = sqrt((1.0 - an) / an);
			double up = sqrt(sn * sn * (sg * sg - sn * sn) / (sg * sg));
			if (up > sn)
				up = sn;
			double down = sqrt(sn * sn - up * up);
			float fa = (float)down, fu = (float)up, scale = sqrtf(an);
			sched_rng_normal(&rng, m->noise, n);
			for (int j = 0; j < n; j++)
				m->x[j] = scale * (m->eps_u[j] + fa * m->eps[j] + fu * m->noise[j]);
		}
		if (p->mask) {
			/* outside the mask the sample is the init picture noised to the
			 * next timestep (exactly the picture after the last step) */
			float pa = sqrtf(an), pb = sqrtf(1.0f - an);
			for (int c = 0; c < 3; c++)
				for (int q = 0; q < S * S; q++) {
					int j = c * S * S + q;
					float w = (float)p->mask[q] / 255.0f;
					float keep = pa * ((float)p->init_rgb[q * 3 + c] / 127.5f - 1.0f) + pb * m->noise0[j];
					m->x[j] = w * m->x[j] + (1.0f - w) * keep;
				}
		}
		if (p->on_step && p->on_step(p->step_arg, i - start + 1, steps - start))
			return err_set(e, ERR_BUSY, NULL, "cancelled");
	}
	if (x_out)
		memcpy(x_out, m->x, sizeof(float) * (size_t)n);
	for (int c = 0; c < 3; c++)
		for (int i = 0; i < S * S; i++) {
			float v = (m->x[c * S * S + i] + 1.0f) * 127.5f;
			v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
			rgb[i * 3 + c] = (uint8_t)lrintf(v);
		}
	return ERR_OK;
}
