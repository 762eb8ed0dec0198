/*
 * sampler.c: penalties, temperature, top-k / top-p / min-p, and the draw.
 *
 * All scratch (candidate list, history ring, counts) is allocated in
 * sampler_new; sampling allocates nothing. Top-k selection sorts only what
 * it needs: a partial selection by quickselect when k is small, a full sort
 * of the survivors otherwise (vocabularies are 32k-150k entries).
 */
#include "engine/llm/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cand {
	float logit; /* after penalties; the sort key */
	float prob;  /* exp((logit - max) / temperature), unnormalised */
	int32_t id;
};

struct sampler {
	struct sampler_params p;
	uint32_t n_vocab;
	struct cand *c;   /* [n_vocab] */
	struct cand *tmp; /* [n_vocab] radix sort scratch */
	uint64_t *kx;     /* [2][n_vocab] radix sort keys (key << 32 | index) */
	uint32_t *count;  /* [n_vocab] occurrences in the history window */
	int32_t *hist;    /* ring of repeat_last_n */
	uint32_t nhist, hpos;
	uint64_t st[4];
};

void sampler_params_default(struct sampler_params *p)
{
	*p = (struct sampler_params){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
				     .repeat_penalty = 1.0f, .repeat_last_n = 64};
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next(struct sampler *s)
{
	uint64_t *st = s->st, r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
	st[2] ^= st[0];
	st[3] ^= st[1];
	st[1] ^= st[2];
	st[0] ^= st[3];
	st[2] ^= t;
	st[3] = rotl(st[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double uniform(struct sampler *s) { return (double)(next(s) >> 11) * 0x1.0p-53; }

void sampler_reset(struct sampler *s, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		s->st[i] = splitmix(&x);
	memset(s->count, 0, s->n_vocab * sizeof *s->count);
	s->nhist = s->hpos = 0;
}

int sampler_new(struct sampler **out, const struct sampler_params *p, uint32_t n_vocab, struct errinfo *e)
{
	*out = NULL;
	if (!(p->temperature >= 0) || p->temperature > 100)
		return err_set(e, ERR_INVALID, "temperature", "temperature must be 0..100");
	if (p->top_k < 0)
		return err_set(e, ERR_INVALID, "top_k", "top_k must be >= 0");
	if (!(p->top_p > 0 && p->top_p <= 1))
		return err_set(e, ERR_INVALID, "top_p", "top_p must be in (0, 1]");
	if (!(p->min_p >= 0 && p->min_p <= 1))
		return err_set(e, ERR_INVALID, "min_p", "min_p must be in [0, 1]");
	if (!(p->repeat_penalty > 0 && p->repeat_penalty <= 10))
		return err_set(e, ERR_INVALID, "repeat_penalty", "repeat_penalty must be in (0, 10]");
	if (!(fabsf(p->frequency_penalty) <= 2) || !(fabsf(p->presence_penalty) <= 2))
		return err_set(e, ERR_INVALID, "frequency_penalty", "penalties must be in [-2, 2]");
	if (n_vocab == 0 || p->repeat_last_n > 1u << 20)
		return err_set(e, ERR_INVALID, NULL, "bad vocabulary size or history length");
	struct sampler *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	s->p = *p;
	s->n_vocab = n_vocab;
	s->c = malloc(n_vocab * sizeof *s->c);
	s->tmp = malloc(n_vocab * sizeof *s->tmp);
	s->kx = malloc(2 * (size_t)n_vocab * sizeof *s->kx);
	s->count = calloc(n_vocab, sizeof *s->count);
	s->hist = malloc((p->repeat_last_n ? p->repeat_last_n : 1) * sizeof *s->hist);
	if (!s->c || !s->tmp || !s->kx || !s->count || !s->hist) {
		sampler_free(s);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	sampler_reset(s, p->seed);
	*out = s;
	return 0;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s->tmp);
	free(s->kx);
	free(s->count);
	free(s->hist);
	free(s);
}

void sampler_accept(struct sampler *s, int32_t tok)
{
	if (tok < 0 || (uint32_t)tok >= s->n_vocab || s->p.repeat_last_n == 0)
		return;
	if (s->nhist == s->p.repeat_last_n) { /* window full: drop the oldest */
		int32_t old = s->hist[s->hpos];
		s->count[old]--;
	} else {
		s->nhist++;
	}
	s->hist[s->hpos] = tok;
	s->count[tok]++;
	s->hpos = (s->hpos + 1) % s->p.repeat_last_n;
}

static int cmp_desc(const void *a, const void *b)
{
	float x = ((const struct cand *)a)->logit, y = ((const struct cand *)b)->logit;
	if (x != y)
		return x < y ? 1 : -1;
	return ((const struct cand *)a)->id - ((const struct cand *)b)->id;
}

/* Move the k largest to the front (unordered), the others behind them: a
 * min-heap of the best k seen so far, O(n log k). A permutation of c. */
static void heap_down(struct cand *h, size_t k, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < k && cmp_desc(&h[l], &h[m]) > 0)
			m = l;
		if (r < k && cmp_desc(&h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		struct cand t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void select_top(struct cand *c, size_t n, size_t k)
{
	/* The heap's root is its worst member (cmp_desc > 0 means "worse"). */
	for (size_t i = k / 2; i-- > 0;)
		heap_down(c, k, i);
	for (size_t i = k; i < n; i++)
		if (cmp_desc(&c[i], &c[0]) < 0) {
			struct cand t = c[0];
			c[0] = c[i];
			c[i] = t;
			heap_down(c, k, 0);
		}
}

/* A key whose ascending unsigned order is cmp_desc's order of logits
 * (largest first); -0 and +0 get one key, as they compare equal. */
static uint32_t desc_key(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if (u == 0x80000000u)
		u = 0;
	u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
	return ~u;
}

/* Sort c[0..n) by cmp_desc: a stable LSD radix sort of (logit key, index)
 * pairs (four passes of 8 bits, kx holding 2n pairs), the candidates gathered
 * through tmp, then runs of equal logits put in id order. The doubling
 * partial sorts (heap selection plus qsort) this replaces cost up to 0.5 ms
 * per token on a flat distribution over a 4k vocabulary. */
static void sort_desc(struct cand *c, struct cand *tmp, uint64_t *kx, size_t n)
{
	uint64_t *src = kx, *dst = kx + n;
	for (size_t i = 0; i < n; i++)
		src[i] = (uint64_t)desc_key(c[i].logit) << 32 | i;
	for (int shift = 32; shift < 64; shift += 8) {
		size_t cnt[257] = {0};
		for (size_t i = 0; i < n; i++)
			cnt[((src[i] >> shift) & 0xff) + 1]++;
		for (int b = 0; b < 256; b++)
			cnt[b + 1] += cnt[b];
		for (size_t i = 0; i < n; i++)
			dst[cnt[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	for (size_t i = 0; i < n; i++)
		tmp[i] = c[(uint32_t)src[i]];
	memcpy(c, tmp, n * sizeof *c);
	for (size_t i = 1; i < n; i++) {
		struct cand x = c[i];
		size_t j = i;
		while (j > 0 && c[j - 1].logit == x.logit && c[j - 1].id > x.id) {
			c[j] = c[j - 1];
			j--;
		}
		c[j] = x;
	}
}

/* Candidates c[0..*sorted) are the best, in order; make c[0..i] so: the
 * first time a walk passes the sorted head, the rest is sorted whole (every
 * tail member ranks below the head, so the order is cmp_desc's). Returns 1,
 * for use in conditions. */
static int ensure_sorted(struct sampler *s, size_t m, size_t *sorted, size_t i)
{
	if (i >= *sorted && *sorted < m) {
		sort_desc(s->c + *sorted, s->tmp, s->kx, m - *sorted);
		*sorted = m;
	}
	return 1;
}

#define SORT_HEAD 64

int32_t sampler_sample(struct sampler *s, const float *logits, float *logprob)
{
	const struct sampler_params *p = &s->p;
	size_t n = s->n_vocab;
	for (size_t i = 0; i < n; i++) {
		float l = logits[i];
		uint32_t cnt = s->count[i];
		if (cnt) {
			if (p->repeat_penalty != 1.0f)
				l = l > 0 ? l / p->repeat_penalty : l * p->repeat_penalty;
			l -= (float)cnt * p->frequency_penalty + p->presence_penalty;
		}
		s->c[i].logit = l;
		s->c[i].id = (int32_t)i;
	}
	int32_t chosen;
	if (p->temperature == 0) {
		size_t best = 0;
		for (size_t i = 1; i < n; i++)
			if (s->c[i].logit > s->c[best].logit)
				best = i;
		chosen = s->c[best].id;
	} else {
		size_t m = n;
		if (p->top_k > 0 && (size_t)p->top_k < n) {
			select_top(s->c, n, (size_t)p->top_k);
			m = (size_t)p->top_k;
		}
		/* Only the head of the descending order is ever walked: sort the
		 * SORT_HEAD best, and more only when a walk runs past them. The
		 * order (logit, then id) is total, so the walk meets the tokens in the
		 * same order as after a full sort. */
		size_t sorted = m < SORT_HEAD ? m : SORT_HEAD;
		if (sorted < m)
			select_top(s->c, m, sorted);
		qsort(s->c, sorted, sizeof *s->c, cmp_desc);
		float mx = s->c[0].logit;
		for (size_t i = 0; i < m; i++)
			s->c[i].prob = expf((s->c[i].logit - mx) / p->temperature);
		/* min-p: keep tokens at least min_p times as likely as the best. */
		size_t keep = m;
		if (p->min_p > 0) {
			float thr = s->c[0].prob * p->min_p;
			for (keep = 1; keep < m && ensure_sorted(s, m, &sorted, keep) && s->c[keep].prob >= thr;
			     keep++)
				;
		}
		/* top-p: smallest prefix whose mass reaches top_p. */
		if (p->top_p < 1) {
			double acc = 0, tot = 0;
			for (size_t i = 0; i < keep; i++)
				tot += s->c[i].prob;
			size_t i = 0;
			for (; i < keep; i++) {
				ensure_sorted(s, m, &sorted, i);
				acc += s->c[i].prob;
				if (acc >= p->top_p * tot) {
					i++;
					break;
				}
			}
			keep = i < 1 ? 1 : i;
		}
		double sum = 0;
		for (size_t i = 0; i < keep; i++)
			sum += s->c[i].prob;
		double r = uniform(s) * sum, acc = 0;
		chosen = -1;
		for (size_t i = 0; i < keep; i++) {
			ensure_sorted(s, m, &sorted, i);
			acc += s->c[i].prob;
			if (r < acc) {
				chosen = s->c[i].id;
				break;
			}
		}
		if (chosen < 0) /* r rounded past the last sum */
			chosen = s->c[keep - 1].id;
	}
	if (logprob) {
		float mx = logits[0];
		for (size_t i = 1; i < n; i++)
			if (logits[i] > mx)
				mx = logits[i];
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += exp((double)(logits[i] - mx));
		*logprob = (float)((double)(logits[chosen] - mx) - log(sum));
	}
	return chosen;
}
