/* sampler_test.c: greedy, seeds, truncation and penalties; the exponential
 * that defines a probability, the same bits on every path; and draw for draw
 * the same tokens as the plain algorithm the fast path replaced. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/avx2_math.h"
#include "engine/llm/sampler.h"

#define V 100
static float logits[V];

static void setup_logits(void)
{
	for (int i = 0; i < V; i++)
		logits[i] = (float)((i * 37) % V) / 10.0f; /* max at i where i*37%100 == 99: i = 27 */
}

static void test_greedy_and_logprob(void **state)
{
	setup_logits();
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 0;
	struct sampler *s;
	assert_int_equal(sampler_new(&s, &p, V, NULL), 0);
	float lp;
	assert_int_equal(sampler_sample(s, logits, &lp), 27);
	double sum = 0;
	for (int i = 0; i < V; i++)
		sum += exp(logits[i] - 9.9);
	assert_true(fabs(lp - (float)(-log(sum))) < 1e-4);
	sampler_free(s);
}

static void test_seed_reproducible(void **state)
{
	setup_logits();
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 2.0f;
	p.top_k = 0;
	p.top_p = 1;
	p.min_p = 0;
	p.seed = 42;
	struct sampler *a, *b, *c;
	assert_int_equal(sampler_new(&a, &p, V, NULL), 0);
	assert_int_equal(sampler_new(&b, &p, V, NULL), 0);
	p.seed = 43;
	assert_int_equal(sampler_new(&c, &p, V, NULL), 0);
	int differ = 0, distinct[V] = {0}, nd = 0;
	for (int i = 0; i < 200; i++) {
		int32_t x = sampler_sample(a, logits, NULL), y = sampler_sample(b, logits, NULL);
		assert_int_equal(x, y);
		differ += x != sampler_sample(c, logits, NULL);
		if (!distinct[x]++)
			nd++;
	}
	assert_true(differ > 10); /* another seed gives other tokens */
	assert_true(nd > 5);      /* and sampling does sample */
	sampler_free(a);
	sampler_free(b);
	sampler_free(c);
}

static void test_top_k_and_min_p_truncate(void **state)
{
	setup_logits();
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 5.0f; /* nearly flat: truncation decides */
	p.top_k = 3;
	p.top_p = 1;
	p.min_p = 0;
	struct sampler *s;
	assert_int_equal(sampler_new(&s, &p, V, NULL), 0);
	for (int i = 0; i < 300; i++) {
		int32_t t = sampler_sample(s, logits, NULL);
		assert_true(logits[t] >= 9.7f - 1e-6f); /* the top 3 are 9.9, 9.8, 9.7 */
	}
	sampler_free(s);
	p.top_k = 0;
	p.temperature = 1.0f;
	p.min_p = 0.5f; /* keeps logits within ln 2 of the best */
	assert_int_equal(sampler_new(&s, &p, V, NULL), 0);
	for (int i = 0; i < 300; i++)
		assert_true(logits[sampler_sample(s, logits, NULL)] >= 9.9f - 0.6931f);
	sampler_free(s);
}

/* The reference: xoshiro256** seeded by splitmix64 (the published
 * generators), a full sort by (logit desc, id), then min-p, top-p and the
 * inverse-CDF draw, written plainly in double. A probability is
 * exp1((logit - max) / temperature), exp1 from avx2_math.h: that is the
 * sampler's definition of one, whichever path computes it. */
struct ref_rng {
	uint64_t st[4];
};

static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void ref_seed(struct ref_rng *g, uint64_t x)
{
	for (int i = 0; i < 4; i++) {
		uint64_t z = (x += 0x9E3779B97F4A7C15ull);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		g->st[i] = z ^ (z >> 31);
	}
}

static double ref_uniform(struct ref_rng *g)
{
	uint64_t *s = g->st, r = ref_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = ref_rotl(s[3], 45);
	return (double)(r >> 11) * 0x1.0p-53;
}

#define BIGV 4096
static const float *ref_l;

static int ref_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	if (ref_l[x] != ref_l[y])
		return ref_l[x] < ref_l[y] ? 1 : -1;
	return x - y;
}

static int ref_sample(struct ref_rng *g, const float *l, int n, const struct sampler_params *p)
{
	static int ord[BIGV];
	static float pr[BIGV];
	for (int i = 0; i < n; i++)
		ord[i] = i;
	ref_l = l;
	qsort(ord, (size_t)n, sizeof *ord, ref_cmp);
	int m = p->top_k > 0 && p->top_k < n ? p->top_k : n;
	for (int i = 0; i < m; i++)
		pr[i] = exp1((l[ord[i]] - l[ord[0]]) / p->temperature);
	int keep = m;
	if (p->min_p > 0)
		for (keep = 1; keep < m && pr[keep] >= pr[0] * p->min_p; keep++)
			;
	if (p->top_p < 1) {
		double tot = 0, acc = 0;
		for (int i = 0; i < keep; i++)
			tot += pr[i];
		int i = 0;
		while (i < keep && (acc += pr[i++]) < p->top_p * tot)
			;
		keep = i;
	}
	double sum = 0, acc = 0;
	for (int i = 0; i < keep; i++)
		sum += pr[i];
	double r = ref_uniform(g) * sum;
	for (int i = 0; i < keep; i++)
		if (r < (acc += pr[i]))
			return ord[i];
	return ord[keep - 1];
}

/* Only the best 64 candidates are sorted up front; draws that walk past them
 * (flat distributions, top-p near 1, min-p near 0) must still match a full
 * sort, draw for draw. Ties in the logits check the id tie-break. */
static void test_matches_full_sort(void **state)
{
	static float l[BIGV];
	struct {
		float temperature, top_p, min_p;
		int top_k;
	} cases[] = {{1.0f, 1.0f, 0.0f, 0}, {3.0f, 0.99f, 0.0f, 0}, {0.7f, 0.9f, 0.05f, 0}, {8.0f, 1.0f, 0.001f, 0},
		     {2.0f, 0.95f, 0.0f, 100}, {1.0f, 1.0f, 0.0f, 40}};
	uint64_t lcg = 12345;
	int past_head = 0;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct sampler_params p;
		sampler_params_default(&p);
		p.temperature = cases[c].temperature;
		p.top_p = cases[c].top_p;
		p.min_p = cases[c].min_p;
		p.top_k = cases[c].top_k;
		p.seed = 1000 + c;
		struct sampler *s;
		assert_int_equal(sampler_new(&s, &p, BIGV, NULL), 0);
		struct ref_rng g;
		ref_seed(&g, p.seed);
		for (int draw = 0; draw < 200; draw++) {
			for (int i = 0; i < BIGV; i++) {
				lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
				/* a coarse grid makes ties; draw % 3 flattens the distribution;
				 * odd draws span zero (negative logits, and -0 tied with +0) */
				l[i] = (float)((lcg >> 40) % 64) / (draw % 3 ? 8.0f : 32.0f);
				if (draw % 2) {
					l[i] -= 32.0f / (draw % 3 ? 8.0f : 32.0f);
					if (l[i] == 0.0f && (lcg >> 20) & 1)
						l[i] = -0.0f;
				}
			}
			int want = ref_sample(&g, l, BIGV, &p);
			int got = sampler_sample(s, l, NULL);
			assert_int_equal(got, want);
			int rank = 0;
			for (int i = 0; i < BIGV; i++)
				rank += l[i] > l[got] || (l[i] == l[got] && i < got);
			past_head += rank >= 64;
		}
		sampler_free(s);
	}
	assert_true(past_head > 50); /* the lazy tail sort ran, many times */
}

/* The sampler as it was before its fast path (36b1ffd, src/engine/llm/sampler.c):
 * a heap selection of the best 64, the rest radix-sorted when a walk passes
 * them, a probability for every candidate, the walk token by token. Copied
 * verbatim but for the names, the allocation checks, the parameter checks
 * and the exponential: exp1, today's definition of a probability, where it
 * called libm's expf. Today's sampler, with its bands, narrowing, penalties
 * on the window only and hand-off on a close call, must draw what this
 * plain algorithm draws, bit for bit. */
struct cand {
	float logit; /* after penalties; the sort key */
	float prob;  /* exp((logit - max) / temperature), unnormalised */
	int32_t id;
};

struct prev_sampler {
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

static uint64_t prev_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t prev_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t prev_next(struct prev_sampler *s)
{
	uint64_t *st = s->st, r = prev_rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
	st[2] ^= st[0];
	st[3] ^= st[1];
	st[1] ^= st[2];
	st[0] ^= st[3];
	st[2] ^= t;
	st[3] = prev_rotl(st[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double prev_uniform(struct prev_sampler *s) { return (double)(prev_next(s) >> 11) * 0x1.0p-53; }

static void prev_reset(struct prev_sampler *s, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		s->st[i] = prev_splitmix(&x);
	memset(s->count, 0, s->n_vocab * sizeof *s->count);
	s->nhist = s->hpos = 0;
}

static struct prev_sampler *prev_new(const struct sampler_params *p, uint32_t n_vocab)
{
	struct prev_sampler *s = calloc(1, sizeof *s);
	s->p = *p;
	s->n_vocab = n_vocab;
	s->c = malloc(n_vocab * sizeof *s->c);
	s->tmp = malloc(n_vocab * sizeof *s->tmp);
	s->kx = malloc(2 * (size_t)n_vocab * sizeof *s->kx);
	s->count = calloc(n_vocab, sizeof *s->count);
	s->hist = malloc((p->repeat_last_n ? p->repeat_last_n : 1) * sizeof *s->hist);
	prev_reset(s, p->seed);
	return s;
}

static void prev_free(struct prev_sampler *s)
{
	free(s->c);
	free(s->tmp);
	free(s->kx);
	free(s->count);
	free(s->hist);
	free(s);
}

static void prev_accept(struct prev_sampler *s, int32_t tok)
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

static int prev_cmp_desc(const void *a, const void *b)
{
	float x = ((const struct cand *)a)->logit, y = ((const struct cand *)b)->logit;
	if (x != y)
		return x < y ? 1 : -1;
	return ((const struct cand *)a)->id - ((const struct cand *)b)->id;
}

/* Move the k largest to the front (unordered), the others behind them: a
 * min-heap of the best k seen so far, O(n log k). A permutation of c. */
static void prev_heap_down(struct cand *h, size_t k, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < k && prev_cmp_desc(&h[l], &h[m]) > 0)
			m = l;
		if (r < k && prev_cmp_desc(&h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		struct cand t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void prev_select_top(struct cand *c, size_t n, size_t k)
{
	/* The heap's root is its worst member (prev_cmp_desc > 0 means "worse"). */
	for (size_t i = k / 2; i-- > 0;)
		prev_heap_down(c, k, i);
	for (size_t i = k; i < n; i++)
		if (prev_cmp_desc(&c[i], &c[0]) < 0) {
			struct cand t = c[0];
			c[0] = c[i];
			c[i] = t;
			prev_heap_down(c, k, 0);
		}
}

/* A key whose ascending unsigned order is prev_cmp_desc's order of logits
 * (largest first); -0 and +0 get one key, as they compare equal. */
static uint32_t prev_desc_key(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if (u == 0x80000000u)
		u = 0;
	u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
	return ~u;
}

/* Sort c[0..n) by prev_cmp_desc: a stable LSD radix sort of (logit key, index)
 * pairs (four passes of 8 bits, kx holding 2n pairs), the candidates gathered
 * through tmp, then runs of equal logits put in id order. The doubling
 * partial sorts (heap selection plus qsort) this replaces cost up to 0.5 ms
 * per token on a flat distribution over a 4k vocabulary. */
static void prev_sort_desc(struct cand *c, struct cand *tmp, uint64_t *kx, size_t n)
{
	uint64_t *src = kx, *dst = kx + n;
	for (size_t i = 0; i < n; i++)
		src[i] = (uint64_t)prev_desc_key(c[i].logit) << 32 | i;
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
 * tail member ranks below the head, so the order is prev_cmp_desc's). Returns 1,
 * for use in conditions. */
static int prev_ensure_sorted(struct prev_sampler *s, size_t m, size_t *sorted, size_t i)
{
	if (i >= *sorted && *sorted < m) {
		prev_sort_desc(s->c + *sorted, s->tmp, s->kx, m - *sorted);
		*sorted = m;
	}
	return 1;
}

#define PREV_SORT_HEAD 64

static int32_t prev_sample(struct prev_sampler *s, const float *logits, float *logprob)
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
			prev_select_top(s->c, n, (size_t)p->top_k);
			m = (size_t)p->top_k;
		}
		/* Only the head of the descending order is ever walked: sort the
		 * PREV_SORT_HEAD best, and more only when a walk runs past them. The
		 * order (logit, then id) is total, so the walk meets the tokens in the
		 * same order as after a full sort. */
		size_t sorted = m < PREV_SORT_HEAD ? m : PREV_SORT_HEAD;
		if (sorted < m)
			prev_select_top(s->c, m, sorted);
		qsort(s->c, sorted, sizeof *s->c, prev_cmp_desc);
		float mx = s->c[0].logit;
		for (size_t i = 0; i < m; i++)
			s->c[i].prob = exp1((s->c[i].logit - mx) / p->temperature);
		/* min-p: keep tokens at least min_p times as likely as the best. */
		size_t keep = m;
		if (p->min_p > 0) {
			float thr = s->c[0].prob * p->min_p;
			for (keep = 1; keep < m && prev_ensure_sorted(s, m, &sorted, keep) && s->c[keep].prob >= thr;
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
				prev_ensure_sorted(s, m, &sorted, i);
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
		double r = prev_uniform(s) * sum, acc = 0;
		chosen = -1;
		for (size_t i = 0; i < keep; i++) {
			prev_ensure_sorted(s, m, &sorted, i);
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

/* Arguments for the exponential's tests: a float's bits. */
static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* y[i] = e^x[i] for i < n, n a multiple of 16: by exp1, or by exp8 or
 * exp16 where the CPU has them (else they return false). */
static void exp1_n(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = exp1(x[i]);
}

#if defined(__x86_64__) || defined(__i386__)
AVX2_MATH static void exp8_on(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i += 8)
		_mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
}

AVX512_MATH static void exp16_on(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i += 16)
		_mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
}

static bool exp8_n(float *y, const float *x, size_t n)
{
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return false;
	exp8_on(y, x, n);
	return true;
}

static bool exp16_n(float *y, const float *x, size_t n)
{
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx512f"))
		return false;
	exp16_on(y, x, n);
	return true;
}
#else
static bool exp8_n(float *y, const float *x, size_t n) { return false; }
static bool exp16_n(float *y, const float *x, size_t n) { return false; }
#endif

#define XN 4096

/* exp1(x[i]) == exp8(x[i]) == exp16(x[i]), bit for bit, where the CPU has
 * them; n a multiple of 16. */
static void twins_agree(const float *x, size_t n)
{
	static float y1[XN], y8[XN], y16[XN];
	exp1_n(y1, x, n);
	bool has8 = exp8_n(y8, x, n), has16 = exp16_n(y16, x, n);
	for (size_t i = 0; i < n; i++) {
		if (has8 && memcmp(&y1[i], &y8[i], sizeof y1[i]))
			fail_msg("exp1(%a) = %a, exp8 %a", x[i], y1[i], y8[i]);
		if (has16 && memcmp(&y1[i], &y16[i], sizeof y1[i]))
			fail_msg("exp1(%a) = %a, exp16 %a", x[i], y1[i], y16[i]);
	}
}

/* exp1, exp8 and exp16 give the same bits, or the paths would draw
 * differently: on every 37th float from -0 to -90 (30M, every exponent and
 * low bits of all kinds) and on the edges: the -87 clamp and its
 * neighbours, far below it, -inf, NaN, zeros, subnormals. */
static void test_exp_twins(void **state)
{
	static const float edge[32] = {-0.0f, 0.0f, -0x1p-149f, -0x1p-126f, -1e-30f, -0x1p-25f, -0.34657359f,
				       -0.34657362f, -1.0397208f, -86.99999f, -87.0f, -87.00001f, -87.5f, -88.0f,
				       -88.72284f, -89.0f, -103.97208f, -104.0f, -1e30f, -0x1.fffffep127f, -INFINITY,
				       NAN, -NAN, 0x1p-30f}; /* the rest +0 */
	static float x[XN];
	uint64_t tried = 0;
	for (uint64_t u = 0x80000000u; u <= 0xC2B40000u;) { /* -0 .. -90 */
		size_t n = 0;
		for (; n < XN && u <= 0xC2B40000u; n++, u += 37)
			x[n] = from_bits((uint32_t)u);
		for (; n % 16; n++)
			x[n] = -90.0f;
		twins_agree(x, n);
		tried += n;
	}
	assert_true(tried > 30000000);
	twins_agree(edge, 32);
	float e = exp1(-INFINITY), nan = exp1(NAN), c = exp1(-87.0f);
	assert_memory_equal(&e, &c, sizeof e); /* clamped: e^-87, not 0 */
	assert_memory_equal(&nan, &c, sizeof e);
	assert_true(exp1(-0.0f) == 1.0f && exp1(0.0f) == 1.0f);
}

/* What sample_fast's walk relies on (see sampler.c): as x rises through
 * every float from -90 to -0.25, exp1 never falls (it does by an ulp here
 * and there above, where it is past 0.78, far inside the first band's 1/8);
 * above -0.25 (every 37th float) it stays in [0.75, 1], as narrow takes
 * pr <= 1. exp1 is exp8's and exp16's bits (test_exp_twins), so the widest
 * the CPU has computes it. */
static void test_exp_monotone(void **state)
{
	static float x[XN], y[XN];
	float prev = 0;
	for (uint64_t u = 0xC2B40000u; u >= 0xBE800000u;) { /* -90 up to -0.25 */
		size_t n = 0;
		for (; n < XN && u >= 0xBE800000u; n++, u--)
			x[n] = from_bits((uint32_t)u);
		for (; n % 16; n++)
			x[n] = -0.25f;
		if (!exp16_n(y, x, n) && !exp8_n(y, x, n))
			exp1_n(y, x, n);
		for (size_t i = 0; i < n; i++) {
			if (y[i] < prev)
				fail_msg("exp1(%a) = %a, below exp1 of the float under it (%a)", x[i], y[i], prev);
			prev = y[i];
		}
	}
	for (uint64_t u = 0xBE800000u; u >= 0x80000000u;) { /* -0.25 up to -0 */
		size_t n = 0;
		for (; n < XN && u >= 0x80000000u; n++, u -= 37)
			x[n] = from_bits((uint32_t)u);
		for (; n % 16; n++)
			x[n] = -0.0f;
		if (!exp16_n(y, x, n) && !exp8_n(y, x, n))
			exp1_n(y, x, n);
		for (size_t i = 0; i < n; i++)
			if (!(y[i] >= 0.75f && y[i] <= 1.0f))
				fail_msg("exp1(%a) = %a, out of [0.75, 1]", x[i], y[i]);
	}
}

/* The sampler's paths, chosen when a sampler is made from
 * ATELIER_ENGINE_NO_AVX512 and ATELIER_ENGINE_SCALAR: 0 the best the CPU
 * has, 1 AVX2, 2 scalar (the same, where the CPU lacks one). The caller's
 * variables are put back. */
static const char *const path_names[3] = {"best path", "ATELIER_ENGINE_NO_AVX512", "ATELIER_ENGINE_SCALAR"};
enum { NPATH = 3 };

static struct sampler *new_on_path(const struct sampler_params *p, uint32_t n, int v)
{
	char *saved[2] = {NULL, NULL};
	for (int k = 0; k < 2; k++) {
		if (getenv(path_names[k + 1]))
			saved[k] = strdup(getenv(path_names[k + 1]));
		unsetenv(path_names[k + 1]);
	}
	if (v > 0)
		setenv(path_names[v], "1", 1);
	struct sampler *s;
	assert_int_equal(sampler_new(&s, p, n, NULL), 0);
	for (int k = 0; k < 2; k++) {
		unsetenv(path_names[k + 1]);
		if (saved[k])
			setenv(path_names[k + 1], saved[k], 1);
		free(saved[k]);
	}
	return s;
}

/* The draw weighs tokens by exp1 on every path and road, not libm's expf:
 * two tokens, logits 0 and x, draw the first when u (1 + e^x) < 1. For each
 * draw's u (the generator's, replayed), x is a float near ln(1/u - 1) where
 * exp1 and expf fall on opposite sides, where there is one: there the token
 * says which exponential was used. The fast road (top-p 1) and the general
 * one (min-p on), each on every path. */
static void test_probability_is_exp1(void **state)
{
	int telling = 0;
	for (int road = 0; road < 2; road++)
		for (int v = 0; v < NPATH; v++) {
			struct sampler_params p;
			sampler_params_default(&p);
			p.temperature = 1.0f;
			p.top_k = 0;
			p.top_p = 1;
			p.min_p = road ? 0.01f : 0;
			p.seed = 99;
			struct sampler *s = new_on_path(&p, 2, v);
			struct ref_rng g;
			ref_seed(&g, p.seed);
			for (int d = 0; d < 200; d++) {
				double u = ref_uniform(&g);
				float l[2] = {0.0f, -1.0f};
				if (u > 0.55) {
					float x0 = logf((float)(1 / u - 1));
					for (int k = 0; k < 400; k++) {
						float x = x0 + (float)(k / 2 * (k % 2 ? 1 : -1)) * 0x1p-23f * fabsf(x0);
						if ((u * (1.0 + exp1(x)) < 1) != (u * (1.0 + expf(x)) < 1)) {
							l[1] = x;
							telling++;
							break;
						}
					}
				}
				int32_t want = u * (1.0 + exp1(l[1])) < 1 ? 0 : 1;
				int32_t got = sampler_sample(s, l, NULL);
				if (got != want)
					fail_msg("%s, %s road, draw %d: logits 0 and %a, u %a: token %d, exp1 draws %d",
						 path_names[v], road ? "general" : "fast", d, l[1], u, got, want);
			}
			sampler_free(s);
		}
	assert_true(telling >= 60); /* of about 540 draws with u > 0.55 */
}

/* Logits for the comparison with the previous sampler: what a model gives,
 * and the edges. */
enum shape {
	PEAKED, /* about normal, sd 2.5, four tokens lifted by 6..12 */
	FLAT,   /* uniform in [0, 1): walks deep into the order */
	GRID,   /* a coarse grid: ties, negatives, -0 beside +0 */
	MASKED, /* PEAKED with a third of the tokens at -inf */
	WIDE,   /* sd 40: probabilities that underflow to subnormals and 0 */
	EQUAL,  /* all the same: every token ties */
	ONEHOT, /* one token at 0, the rest -inf */
	BROKEN, /* PEAKED with a NaN or a +inf: whatever was drawn, the same */
};

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static float unit(uint64_t *x) { return (float)(xs(x) >> 40) * 0x1p-24f; }

/* About normal with sd 1: four uniforms from one draw, summed. */
static float gauss(uint64_t *x)
{
	uint64_t r = xs(x);
	float sum = (float)(r & 0xffff) + (float)(r >> 16 & 0xffff) + (float)(r >> 32 & 0xffff) + (float)(r >> 48);
	return (sum * 0x1p-16f - 2.0f) * 1.7320508f;
}

static void make_logits(float *l, int n, enum shape sh, uint64_t x)
{
	for (int i = 0; i < n; i++) {
		switch (sh) {
		case PEAKED:
		case MASKED:
		case BROKEN:
			l[i] = 2.5f * gauss(&x);
			if (sh == MASKED && i > 0 && xs(&x) % 3 == 0)
				l[i] = -INFINITY;
			break;
		case FLAT:
			l[i] = unit(&x);
			break;
		case GRID:
			l[i] = (float)(xs(&x) >> 58) / 8.0f - 4.0f;
			if (l[i] == 0.0f && xs(&x) & 1)
				l[i] = -0.0f;
			break;
		case WIDE:
			l[i] = 40.0f * gauss(&x);
			break;
		case EQUAL:
			l[i] = 1.5f;
			break;
		case ONEHOT:
			l[i] = -INFINITY;
			break;
		}
	}
	if (sh == PEAKED || sh == MASKED)
		for (int k = 0; k < 4; k++)
			l[xs(&x) % (uint64_t)n] = 6.0f + 2.0f * (float)k;
	if (sh == ONEHOT)
		l[xs(&x) % (uint64_t)n] = 0.0f;
	if (sh == BROKEN)
		l[xs(&x) % (uint64_t)n] = xs(&x) & 1 ? NAN : INFINITY;
}

#ifndef PREV_SCALE
#define PREV_SCALE 1 /* -DPREV_SCALE=50 for a long run */
#endif

/* The fast path (top-k, top-p and min-p off; penalties on or off) and the
 * general one against the previous algorithm: the same token and logprob,
 * draw for draw, with the history fed back as generation does. Each case
 * runs on every path the machine has (see new_on_path). */
static void test_matches_previous(void **state)
{
	static const struct {
		int n;
		enum shape sh;
		float temperature;
		int top_k;
		float top_p, min_p;
		bool pen;
		uint32_t last_n;
		int draws;
	} cases[] = {
		{4096, PEAKED, 1.0f, 0, 1, 0, false, 64, 1500},
		{4096, PEAKED, 0.7f, 0, 1, 0, false, 64, 750},
		{4096, PEAKED, 1.5f, 0, 1, 0, false, 64, 750},
		{4096, PEAKED, 100.0f, 0, 1, 0, false, 64, 150},
		{4096, FLAT, 1.0f, 0, 1, 0, false, 64, 300},
		{4096, GRID, 1.0f, 0, 1, 0, false, 64, 400},
		{4096, GRID, 3.0f, 0, 1, 0, false, 64, 300},
		{4096, MASKED, 1.0f, 0, 1, 0, false, 64, 500},
		{4096, WIDE, 1.0f, 0, 1, 0, false, 64, 500},
		{4096, WIDE, 0.05f, 0, 1, 0, false, 64, 250},
		{4096, EQUAL, 1.0f, 0, 1, 0, false, 64, 150},
		{4096, ONEHOT, 1.0f, 0, 1, 0, false, 64, 150},
		{4096, BROKEN, 1.0f, 0, 1, 0, false, 64, 100},
		{4096, PEAKED, 1.0f, 0, 1, 0, true, 64, 1000},
		{4096, GRID, 1.0f, 0, 1, 0, true, 3, 400},
		{4096, PEAKED, 1.0f, 4096, 1, 0, false, 64, 200},
		{4096, PEAKED, 1.0f, 5000, 1, 0, true, 64, 200},
		{1000, PEAKED, 1.0f, 0, 1, 0, false, 64, 750},
		{4097, PEAKED, 1.0f, 0, 1, 0, true, 64, 400},
		{17, PEAKED, 1.0f, 0, 1, 0, false, 64, 1000},
		{2, FLAT, 1.0f, 0, 1, 0, false, 64, 250},
		{1, PEAKED, 1.0f, 0, 1, 0, false, 64, 100},
		{150000, PEAKED, 1.0f, 0, 1, 0, false, 64, 40},
		/* the general path and greedy, now fed the penalised logits ready made */
		{4096, PEAKED, 0.7f, 40, 0.95f, 0.05f, true, 64, 200},
		{4096, PEAKED, 1.0f, 0, 0.9f, 0, true, 64, 200},
		{4096, GRID, 1.0f, 0, 1, 0.05f, false, 64, 150},
		{4096, PEAKED, 0.0f, 0, 1, 0, true, 64, 150},
	};
	float *l = malloc(150000 * sizeof *l);
	assert_non_null(l);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct sampler_params p;
		sampler_params_default(&p);
		p.temperature = cases[c].temperature;
		p.top_k = cases[c].top_k;
		p.top_p = cases[c].top_p;
		p.min_p = cases[c].min_p;
		p.repeat_last_n = cases[c].last_n;
		if (cases[c].pen) {
			p.presence_penalty = 0.5f;
			p.frequency_penalty = 0.3f;
			p.repeat_penalty = 1.3f;
		}
		p.seed = 7919 * c + 1;
		int n = cases[c].n, draws = cases[c].draws * PREV_SCALE;
		struct prev_sampler *ps = prev_new(&p, (uint32_t)n);
		struct sampler *s[NPATH];
		for (int v = 0; v < NPATH; v++)
			s[v] = new_on_path(&p, (uint32_t)n, v);
		for (int d = 0; d < draws; d++) {
			make_logits(l, n, cases[c].sh, 0x9E3779B97F4A7C15ull * (uint64_t)(c * 1000003 + d + 1));
			float want_lp, lp;
			int32_t want = prev_sample(ps, l, &want_lp);
			prev_accept(ps, want);
			for (int v = 0; v < NPATH; v++) {
				int32_t got = sampler_sample(s[v], l, &lp);
				if (got != want || memcmp(&lp, &want_lp, sizeof lp))
					fail_msg("case %zu (%s) draw %d: token %d logprob %a, previously %d %a", c,
						 path_names[v], d, got, lp, want, want_lp);
				sampler_accept(s[v], got);
			}
		}
		prev_free(ps);
		for (int v = 0; v < NPATH; v++)
			sampler_free(s[v]);
	}
	free(l);
}

/* The logits prev_sample draws from: l with prev's history penalised, as
 * its loop does, for the reference, which knows no penalties. */
static void prev_penalised(const struct prev_sampler *s, const float *l, float *out, int n)
{
	const struct sampler_params *p = &s->p;
	for (int i = 0; i < n; i++) {
		float x = l[i];
		if (s->count[i]) {
			if (p->repeat_penalty != 1.0f)
				x = x > 0 ? x / p->repeat_penalty : x * p->repeat_penalty;
			x -= (float)s->count[i] * p->frequency_penalty + p->presence_penalty;
		}
		out[i] = x;
	}
}

/* Top-p's two roads: the fast one, and the general one (sample_sorted),
 * which ATELIER_SAMPLER_SORTED=1 makes a new sampler take every draw. */
enum { ROAD_FAST, ROAD_SORTED, NROAD };
static const char *const road_names[NROAD] = {"fast", "sorted"};

/* Draws compared by the top-p tests: one draw is the fast and the general
 * road on every path, the previous sampler and (where it can) the reference. */
static long topp_draws;

/* One draw of l by every sampler in s[road][path], prev and, when vs_ref,
 * the reference (g's generator, in step with theirs, draws either way; g
 * may be NULL when the case has no reference): the same token and logprob
 * from all, or fail naming the draw. Returns the token. */
static int32_t topp_draw(struct sampler *s[NROAD][NPATH], struct prev_sampler *ps, struct ref_rng *g, bool vs_ref,
			 const float *l, int n, const char *what, int d)
{
	static float pl[BIGV];
	if (g && vs_ref)
		prev_penalised(ps, l, pl, n);
	float want_lp, lp;
	int32_t want = prev_sample(ps, l, &want_lp);
	if (g && !vs_ref)
		ref_uniform(g);
	if (g && vs_ref) {
		int32_t ref = ref_sample(g, pl, n, &ps->p);
		if (ref != want)
			fail_msg("%s, draw %d, top_p %a: previous sampler %d, reference %d", what, d, ps->p.top_p, want,
				 ref);
	}
	for (int r = 0; r < NROAD; r++)
		for (int v = 0; v < NPATH; v++) {
			/* the logprob (the same code on every road) on one, as it costs more than the draw */
			bool one = r == 0 && v == 0;
			lp = want_lp;
			int32_t got = sampler_sample(s[r][v], l, one ? &lp : NULL);
			if (got != want || memcmp(&lp, &want_lp, sizeof lp))
				fail_msg("%s, draw %d, top_p %a, %s road, %s: token %d logprob %a, previous sampler %d %a",
					 what, d, ps->p.top_p, road_names[r], path_names[v], got, lp, want, want_lp);
		}
	topp_draws++;
	return want;
}

static void topp_new(struct sampler *s[NROAD][NPATH], const struct sampler_params *p, int n)
{
	const char *was = getenv("ATELIER_SAMPLER_SORTED");
	char *saved = was ? strdup(was) : NULL;
	for (int r = 0; r < NROAD; r++) {
		setenv("ATELIER_SAMPLER_SORTED", r == ROAD_SORTED ? "1" : "0", 1);
		for (int v = 0; v < NPATH; v++)
			s[r][v] = new_on_path(p, (uint32_t)n, v);
	}
	if (saved)
		setenv("ATELIER_SAMPLER_SORTED", saved, 1);
	else
		unsetenv("ATELIER_SAMPLER_SORTED");
	free(saved);
}

static void topp_free(struct sampler *s[NROAD][NPATH])
{
	for (int r = 0; r < NROAD; r++)
		for (int v = 0; v < NPATH; v++)
			sampler_free(s[r][v]);
}

/* Top-p < 1 on the fast road draws what sample_sorted draws, the previous
 * sampler and the reference too: every top-p from 0.01 to 0.9999 on peaked,
 * flat, tied, masked, very peaked and very flat logits, penalties on and
 * off, the history fed back as generation does. */
static void test_top_p_matches_sorted(void **state)
{
	static const float tops[] = {0.01f, 0.1f, 0.25f, 0.5f, 0.75f, 0.9f, 0.95f, 0.99f, 0.999f, 0.9999f};
	static const struct {
		int n;
		enum shape sh;
		float temperature;
		bool pen;
		int draws; /* per top-p */
	} cases[] = {
		{4096, PEAKED, 1.0f, false, 60}, {4096, PEAKED, 0.7f, true, 50},   {4096, PEAKED, 1.5f, false, 40},
		{4096, FLAT, 1.0f, false, 30},   {4096, GRID, 1.0f, false, 40},    {4096, GRID, 3.0f, true, 40},
		{4096, MASKED, 1.0f, false, 30}, {4096, WIDE, 1.0f, false, 40},    {4096, WIDE, 0.05f, false, 20},
		{4096, EQUAL, 1.0f, false, 20},  {4096, ONEHOT, 1.0f, false, 20},  {4096, BROKEN, 1.0f, false, 20},
		{4096, PEAKED, 100.0f, false, 20}, {1000, PEAKED, 1.0f, true, 60}, {4097, GRID, 1.0f, true, 40},
		{100, GRID, 1.0f, false, 200},   {17, PEAKED, 1.0f, false, 200},   {2, FLAT, 1.0f, false, 150},
		{1, PEAKED, 1.0f, false, 20},    {150000, PEAKED, 1.0f, false, 2},
	};
	float *l = malloc(150000 * sizeof *l);
	assert_non_null(l);
	long before = topp_draws;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (size_t t = 0; t < sizeof tops / sizeof tops[0]; t++) {
			struct sampler_params p;
			sampler_params_default(&p);
			p.temperature = cases[c].temperature;
			p.top_k = 0;
			p.top_p = tops[t];
			p.min_p = 0;
			if (cases[c].pen) {
				p.presence_penalty = 0.5f;
				p.frequency_penalty = 0.3f;
				p.repeat_penalty = 1.3f;
			}
			p.seed = 104729 * c + 31 * t + 5;
			int n = cases[c].n;
			struct prev_sampler *ps = prev_new(&p, (uint32_t)n);
			struct sampler *s[NROAD][NPATH];
			topp_new(s, &p, n);
			struct ref_rng g;
			ref_seed(&g, p.seed);
			/* the reference sorts in BIGV; NaN and +inf have no order */
			bool ref = n <= BIGV && cases[c].sh != BROKEN;
			char what[64];
			snprintf(what, sizeof what, "case %zu", c);
			for (int d = 0; d < cases[c].draws; d++) {
				make_logits(l, n, cases[c].sh, 0x9E3779B97F4A7C15ull * (uint64_t)(c * 7919 + t * 131 + d + 1));
				/* the reference's sort is the slow part: a quarter of the large ones */
				bool vs_ref = n <= 1000 || d % 4 == 0;
				int32_t tok = topp_draw(s, ps, ref ? &g : NULL, vs_ref, l, n, what, d);
				prev_accept(ps, tok);
				for (int r = 0; r < NROAD; r++)
					for (int v = 0; v < NPATH; v++)
						sampler_accept(s[r][v], tok);
			}
			prev_free(ps);
			topp_free(s);
		}
	free(l);
	print_message("draws %ld\n", topp_draws - before);
	assert_true(topp_draws - before >= 10000);
}

/* Top-p landing on a boundary of the cumulative sum, and an ulp either side:
 * where the cut falls is where rounding decides, the fast road's doubt
 * (handing over) or its error. Equal logits (each token 1, every sum exact:
 * top_p k/n cuts after exactly k tokens); a grid (sums exact, as every
 * probability is a multiple of 2^-53 of at least 2^-18 and none rounds), top_p
 * the nearest float to acc_j / total for a random j; and peaked logits, whose
 * totals round, likewise. */
static void test_top_p_boundaries(void **state)
{
	static float l[BIGV], pr[BIGV];
	static int ord[BIGV];
	static const struct {
		int n;
		enum shape sh;
		int draws;
	} cases[] = {{4096, EQUAL, 80}, {100, EQUAL, 200}, {4096, GRID, 100}, {4096, PEAKED, 100}, {300, FLAT, 200}};
	long before = topp_draws;
	int landed = 0;
	uint64_t x = 0x2545F4914F6CDD1Dull;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (int d = 0; d < cases[c].draws; d++) {
			int n = cases[c].n;
			make_logits(l, n, cases[c].sh, 0x9E3779B97F4A7C15ull * (uint64_t)(c * 1009 + d + 1));
			/* the cumulative sums in the reference's order */
			for (int i = 0; i < n; i++)
				ord[i] = i;
			ref_l = l;
			qsort(ord, (size_t)n, sizeof *ord, ref_cmp);
			double tot = 0, acc = 0, at = 0;
			for (int i = 0; i < n; i++)
				tot += pr[i] = exp1(l[ord[i]] - l[ord[0]]);
			int j = (int)(xs(&x) % (uint64_t)n);
			for (int i = 0; i <= j; i++)
				acc += pr[i];
			at = acc;
			float top = (float)(at / tot);
			if (!(top > 0))
				top = 0x1p-149f;
			for (int k = -1; k <= 1; k++) {
				float tp = k < 0 ? nextafterf(top, 0) : k > 0 ? nextafterf(top, 2) : top;
				if (!(tp > 0 && tp < 1))
					continue;
				landed += (double)tp * tot == at;
				struct sampler_params p;
				sampler_params_default(&p);
				p.temperature = 1.0f;
				p.top_k = 0;
				p.top_p = tp;
				p.min_p = 0;
				p.seed = (uint64_t)(c * 100000 + d * 3 + (k + 1));
				struct prev_sampler *ps = prev_new(&p, (uint32_t)n);
				struct sampler *s[NROAD][NPATH];
				topp_new(s, &p, n);
				struct ref_rng g;
				ref_seed(&g, p.seed);
				char what[64];
				snprintf(what, sizeof what, "boundary case %zu, j %d", c, j);
				for (int e = 0; e < 4; e++) /* four draws: four u's against one cut */
					topp_draw(s, ps, &g, true, l, n, what, d);
				prev_free(ps);
				topp_free(s);
			}
		}
	print_message("landed %d, draws %ld\n", landed, topp_draws - before);
	assert_true(landed >= 80); /* the cut fell exactly on a sum, not only near one */
	assert_true(topp_draws - before >= 5000);
}

/* Where the total's rounding decides the cut: half the tokens weigh 1 and
 * half a tiny w (logit -x, w from about 2^-29 down to 2^-65), so a total is
 * 2048 plus as much of the tiny weights as its order of adding kept, which
 * differs between sample_sorted's order and the fast road's (and between its
 * paths), and top_p k/8 sets the cut right on a sum of the ones. The fast
 * road must see its doubt there and hand over: with no window around the
 * cut it draws otherwise. */
static void test_top_p_total_rounding(void **state)
{
	static float l[BIGV];
	long before = topp_draws;
	for (int xi = 0; xi < 100; xi++)
		for (int k = 1; k < 8; k += 2) {
			for (int i = 0; i < BIGV; i++)
				l[i] = i % 2 ? -20.0f - 0.25f * (float)xi : 0.0f;
			struct sampler_params p;
			sampler_params_default(&p);
			p.temperature = 1.0f;
			p.top_k = 0;
			p.top_p = (float)k / 8;
			p.min_p = 0;
			p.seed = (uint64_t)(xi * 8 + k);
			struct prev_sampler *ps = prev_new(&p, BIGV);
			struct sampler *s[NROAD][NPATH];
			topp_new(s, &p, BIGV);
			struct ref_rng g;
			ref_seed(&g, p.seed);
			/* not the reference: it adds its total in sorted order, and here
			 * that order decides */
			for (int e = 0; e < 3; e++)
				topp_draw(s, ps, NULL, false, l, BIGV, "total rounding", xi);
			prev_free(ps);
			topp_free(s);
		}
	assert_true(topp_draws - before >= 1200);
}

static void test_penalties(void **state)
{
	float l[4] = {1.0f, 0.9f, 0.0f, -1.0f};
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 0;
	p.presence_penalty = 0.5f;
	struct sampler *s;
	assert_int_equal(sampler_new(&s, &p, 4, NULL), 0);
	assert_int_equal(sampler_sample(s, l, NULL), 0);
	sampler_accept(s, 0);
	assert_int_equal(sampler_sample(s, l, NULL), 1); /* 1.0 - 0.5 < 0.9 */
	sampler_free(s);
	p.presence_penalty = 0;
	p.repeat_penalty = 1.2f; /* 1.0 / 1.2 < 0.9 */
	assert_int_equal(sampler_new(&s, &p, 4, NULL), 0);
	sampler_accept(s, 0);
	assert_int_equal(sampler_sample(s, l, NULL), 1);
	sampler_free(s);
}

static void test_bad_params(void **state)
{
	struct sampler_params p;
	sampler_params_default(&p);
	p.top_p = 0;
	struct sampler *s = NULL;
	struct errinfo e;
	assert_int_equal(sampler_new(&s, &p, 10, &e), ERR_INVALID);
	assert_string_equal(e.field, "top_p");
	assert_null(s);
	sampler_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy_and_logprob),
		cmocka_unit_test(test_seed_reproducible),
		cmocka_unit_test(test_top_k_and_min_p_truncate),
		cmocka_unit_test(test_exp_twins),
		cmocka_unit_test(test_exp_monotone),
		cmocka_unit_test(test_probability_is_exp1),
		cmocka_unit_test(test_matches_full_sort),
		cmocka_unit_test(test_matches_previous),
		cmocka_unit_test(test_top_p_matches_sorted),
		cmocka_unit_test(test_top_p_boundaries),
		cmocka_unit_test(test_top_p_total_rounding),
		cmocka_unit_test(test_penalties),
		cmocka_unit_test(test_bad_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
