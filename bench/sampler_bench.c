/*
 * sampler_bench.c: microseconds per sampler_sample() draw, this tree's sampler
 * against an older one (bench/sampler.sh compiles the base revision's
 * sampler.c a second time with its symbols prefixed old_), in the same run.
 *
 * Logits come from the model given (the tiny model by default): a prompt, then
 * STEPS tokens generated at temperature 1, each step's logits kept. A second
 * set is synthetic: Gaussian logits (sd 2.5, a few tokens lifted) for a peaked
 * softmax. Each case replays the logits through both samplers with the same
 * seed, ROUNDS rounds (rotating which goes first); it prints the best and
 * median round per draw, and how many draws differ. Some may where 36b1ffd
 * is the base: it weighs tokens by libm's expf, this tree by exp1
 * (avx2_math.h), an ulp or so apart, which moves a draw where u sum falls
 * that close to a token's boundary. The new sampler's history is the old
 * one's draws, so one differing draw does not change the penalties of the
 * next. A third column is this tree's sampler on its general road
 * (ATELIER_SAMPLER_SORTED=1), whose draws must be the fast road's exactly:
 * the top-p rows time the fast road against the road they took before it
 * had one, in the same binary.
 *
 * usage: sampler_bench [MODEL.gguf [STEPS [ROUNDS [CASE]]]], CASE a part of
 * the case names to run (all by default)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/llm/model.h"
#include "engine/llm/sampler.h"
#include "engine/llm/tokenizer.h"
#include "engine/llm/vocab.h"

/* The base revision's sampler, renamed by the build. */
int old_sampler_new(struct sampler **out, const struct sampler_params *p, uint32_t n_vocab, struct errinfo *e);
void old_sampler_free(struct sampler *s);
void old_sampler_accept(struct sampler *s, int32_t tok);
int32_t old_sampler_sample(struct sampler *s, const float *logits, float *logprob);

struct impl {
	const char *name;
	int (*new)(struct sampler **, const struct sampler_params *, uint32_t, struct errinfo *);
	void (*free)(struct sampler *);
	void (*accept)(struct sampler *, int32_t);
	int32_t (*sample)(struct sampler *, const float *, float *);
};

/* This tree's sampler with its fast road off (ATELIER_SAMPLER_SORTED=1):
 * the general road, in the same binary. */
static int sorted_new(struct sampler **out, const struct sampler_params *p, uint32_t n_vocab, struct errinfo *e)
{
	setenv("ATELIER_SAMPLER_SORTED", "1", 1);
	int rc = sampler_new(out, p, n_vocab, e);
	unsetenv("ATELIER_SAMPLER_SORTED");
	return rc;
}

enum { NIMPL = 3 };
static const struct impl impls[NIMPL] = {
	{"old", old_sampler_new, old_sampler_free, old_sampler_accept, old_sampler_sample},
	{"new", sampler_new, sampler_free, sampler_accept, sampler_sample},
	{"general", sorted_new, sampler_free, sampler_accept, sampler_sample},
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One pass over the logits: draws into toks, returns seconds. Each draw, or
 * feed's where given, is accepted into the history, as generation does. */
static double pass(const struct impl *im, const struct sampler_params *p, const float *l, size_t steps,
		   uint32_t nv, int32_t *toks, const int32_t *feed)
{
	struct sampler *s;
	if (im->new(&s, p, nv, NULL)) {
		fprintf(stderr, "sampler_new failed\n");
		exit(1);
	}
	double t0 = now();
	for (size_t i = 0; i < steps; i++) {
		toks[i] = im->sample(s, l + i * nv, NULL);
		im->accept(s, feed ? feed[i] : toks[i]);
	}
	double t = now() - t0;
	im->free(s);
	return t;
}

static const char *only; /* run the cases whose name holds this */

static int run_case(const char *name, const struct sampler_params *p, const float *l, size_t steps, uint32_t nv,
		    int rounds)
{
	if (only && !strstr(name, only))
		return 0;
	double *t[NIMPL];
	int32_t *toks[NIMPL];
	for (int k = 0; k < NIMPL; k++) {
		t[k] = calloc(rounds, sizeof(double));
		toks[k] = calloc(steps, sizeof(int32_t));
	}
	int differ = 0, differ_general = 0;
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < NIMPL; k++) {
			int w = (k + r) % NIMPL; /* rotated: none always goes first (round 0: old) */
			t[w][r] = pass(&impls[w], p, l, steps, nv, toks[w], w ? toks[0] : NULL) / steps * 1e6;
		}
	for (size_t i = 0; i < steps; i++) {
		differ += toks[0][i] != toks[1][i];
		differ_general += toks[1][i] != toks[2][i];
	}
	for (int k = 0; k < NIMPL; k++)
		qsort(t[k], rounds, sizeof(double), cmp_dbl);
	printf("%-34s old %7.2f us (median %7.2f)  new %7.2f us (median %7.2f)  x%.2f  %d/%zu draws differ;"
	       "  general road %7.2f us (median %7.2f)  x%.2f  %d differ\n",
	       name, t[0][0], t[0][rounds / 2], t[1][0], t[1][rounds / 2], t[0][rounds / 2] / t[1][rounds / 2], differ,
	       steps, t[2][0], t[2][rounds / 2], t[2][rounds / 2] / t[1][rounds / 2], differ_general);
	for (int k = 0; k < NIMPL; k++) {
		free(t[k]);
		free(toks[k]);
	}
	return differ + differ_general;
}

/* Logits of STEPS generated tokens (temperature 1, seed 1) after a prompt. */
static float *model_logits(const char *path, size_t steps, uint32_t *nv)
{
	struct errinfo e = {0};
	struct llm_model *m = NULL;
	struct llm_ctx *c = NULL;
	struct tokenizer *tk = NULL;
	struct sampler *s = NULL;
	float *out = NULL;
	if (llm_model_load(&m, path, &e))
		goto fail;
	struct tok_vocab v;
	if (llm_vocab_from_gguf(llm_model_gguf(m), &v, &e) || tok_new(&tk, &v, &e))
		goto fail;
	*nv = llm_model_hparams(m)->n_vocab;
	struct llm_ctx_params cp = {.n_ctx = (uint32_t)steps + 64, .n_threads = 1};
	if (llm_ctx_new(&c, m, &cp, &e))
		goto fail;
	static const char prompt[] = "Once upon a time, in a small town by the sea, there lived";
	int32_t ids[64];
	size_t n;
	if (tok_encode(tk, prompt, strlen(prompt), v.add_bos, false, ids, 64, &n))
		goto fail;
	struct sampler_params sp;
	sampler_params_default(&sp);
	sp.temperature = 1;
	sp.top_k = 0;
	sp.top_p = 1;
	sp.min_p = 0;
	sp.seed = 1;
	if (sampler_new(&s, &sp, *nv, &e) || !(out = malloc(steps * *nv * sizeof *out)))
		goto fail;
	struct llm_tok b[64];
	for (size_t i = 0; i < n; i++)
		b[i] = (struct llm_tok){.token = ids[i], .pos = (int32_t)i, .logits = i + 1 == n};
	if (llm_forward(c, b, n, &e))
		goto fail;
	for (size_t i = 0; i < steps; i++) {
		const float *l = llm_logits(c, i ? 0 : n - 1);
		memcpy(out + i * *nv, l, *nv * sizeof *l);
		b[0] = (struct llm_tok){.token = sampler_sample(s, l, NULL), .pos = (int32_t)(n + i), .logits = true};
		if (llm_forward(c, b, 1, &e))
			goto fail;
	}
	goto out;
fail:
	fprintf(stderr, "%s: %s\n", path, e.msg);
	free(out);
	out = NULL;
out:
	sampler_free(s);
	llm_ctx_free(c);
	tok_free(tk);
	llm_model_free(m);
	return out;
}

/* Gaussian logits (sd 2.5), a few lifted by 6..12 as a model's favourites. */
static float *synth_logits(size_t steps, uint32_t nv)
{
	float *l = malloc(steps * nv * sizeof *l);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < steps * nv; i++) {
		double u[2];
		for (int k = 0; k < 2; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			u[k] = ((x >> 11) + 0.5) * 0x1.0p-53;
		}
		l[i] = (float)(2.5 * sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
	}
	for (size_t i = 0; i < steps; i++)
		for (int k = 0; k < 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			l[i * nv + x % nv] += 6.0f + (float)k * 2;
		}
	return l;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "models/atelier-tiny.gguf";
	size_t steps = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
	int rounds = argc > 3 ? atoi(argv[3]) : 21;
	only = argc > 4 ? argv[4] : NULL;
	if (steps == 0 || rounds <= 0)
		return 2;
	uint32_t nv = 0;
	float *ml = model_logits(path, steps, &nv);
	if (!ml)
		return 1;
	float *sl = synth_logits(steps, nv);
	struct sampler_params api; /* what the API sends by default */
	sampler_params_default(&api);
	api.temperature = 1;
	api.top_k = 0;
	api.top_p = 1;
	api.min_p = 0;
	api.seed = 7;
	struct sampler_params cooler = api, pen = api, def, p90 = api, p95 = api;
	cooler.temperature = 0.7f;
	cooler.top_p = 0.9f;
	p90.top_p = 0.9f;  /* what OpenAI clients often send */
	p95.top_p = 0.95f;
	pen.presence_penalty = 0.5f;
	pen.frequency_penalty = 0.2f;
	sampler_params_default(&def);
	def.seed = 7;
	printf("vocabulary %u, %zu steps, %d rounds; per draw, best round (median)\n", nv, steps, rounds);
	int differ = 0;
	differ += run_case("model, T 1 top_p 1 (API default)", &api, ml, steps, nv, rounds);
	differ += run_case("model, T 1 top_p 0.9", &p90, ml, steps, nv, rounds);
	differ += run_case("model, T 1 top_p 0.95", &p95, ml, steps, nv, rounds);
	differ += run_case("model, T 0.7 top_p 0.9", &cooler, ml, steps, nv, rounds);
	differ += run_case("model, T 1, penalties", &pen, ml, steps, nv, rounds);
	differ += run_case("model, sampler_params_default", &def, ml, steps, nv, rounds);
	differ += run_case("gaussian, T 1 top_p 1", &api, sl, steps, nv, rounds);
	differ += run_case("gaussian, T 1 top_p 0.9", &p90, sl, steps, nv, rounds);
	differ += run_case("gaussian, T 1 top_p 0.95", &p95, sl, steps, nv, rounds);
	differ += run_case("gaussian, T 1, penalties", &pen, sl, steps, nv, rounds);
	printf("%d draws differ in all\n", differ);
	free(ml);
	free(sl);
	return 0;
}
