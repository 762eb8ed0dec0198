/*
 * sampler.c: penalties, temperature, top-k / top-p / min-p, and the draw.
 *
 * All scratch (candidate list, history ring, counts) is allocated in
 * sampler_new; sampling allocates nothing. Top-k selection sorts only what
 * it needs: a partial selection by quickselect when k is small, a full sort
 * of the survivors otherwise (vocabularies are 32k-150k entries).
 *
 * A token's probability, unnormalised, is exp1((logit - max) / temperature):
 * the engine's own e^x (avx2_math.h, relative error about 1.2e-7), whose
 * scalar, AVX2 (exp8) and AVX-512 (exp16) forms give the same bits, so every
 * path draws the same tokens. Not libm's expf: its bits are libm's to
 * choose, and a vector copy of one libm's algorithm would be that project's
 * code, not ours. exp1 stops at e^-87, not 0, so a masked (-inf) token
 * weighs 2^-125.5 beside the best token's 1: too little to move a running
 * sum that is at least 1, so it is never drawn while any logit is finite.
 *
 * The API's usual requests (top-k and min-p off, top-p 1 or below) take a
 * shorter road, sample_fast, that must draw exactly what the general one
 * (sample_sorted) draws for the same seed and logits: the same probabilities
 * bit for bit, the same walk in the same order with the same running sum, so
 * only the total of all tokens (which scales the uniform draw, or with top-p
 * sets the cut) is added in another order. It is sure of its answer only
 * when no rounding of that total could move the draw or the cut across a
 * token's boundary, and otherwise hands the draw to sample_sorted. Where
 * sample_sorted sorts a head of 64 and, for a walk past it, the whole rest,
 * sample_fast sorts only the few tokens around where its walks stop.
 * ATELIER_SAMPLER_SORTED=1 turns it off, for tests and benches.
 */
#include "engine/llm/sampler.h"

#include "engine/avx2_math.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SAMPLER_X86 1
#endif

struct cand {
	float logit; /* after penalties; the sort key */
	float prob;  /* exp1((logit - max) / temperature), unnormalised */
	int32_t id;
};

/* sample_fast's vector paths, chosen in sampler_new (see choose_isa) */
enum isa { ISA_SCALAR, ISA_AVX2, ISA_AVX512 };
static enum isa choose_isa(void);

struct sampler {
	struct sampler_params p;
	enum isa isa;
	bool sorted_only; /* ATELIER_SAMPLER_SORTED=1: never sample_fast (for tests and benches) */
	uint32_t n_vocab;
	struct cand *c;   /* [n_vocab] */
	struct cand *tmp; /* [n_vocab] radix sort scratch */
	uint64_t *kx;     /* [2][n_vocab] radix sort keys (key << 32 | index); sample_fast's too */
	uint32_t *count;  /* [n_vocab] occurrences in the history window */
	float *pl;        /* [n_vocab] logits after penalties, when any apply */
	float *pr;        /* [n_vocab] probabilities, unnormalised (see probs) */
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
	s->isa = choose_isa();
	const char *so = getenv("ATELIER_SAMPLER_SORTED");
	s->sorted_only = so && so[0] == '1';
	s->n_vocab = n_vocab;
	s->c = malloc(n_vocab * sizeof *s->c);
	s->tmp = malloc(n_vocab * sizeof *s->tmp);
	s->kx = malloc(2 * (size_t)n_vocab * sizeof *s->kx);
	s->count = calloc(n_vocab, sizeof *s->count);
	s->pl = malloc(n_vocab * sizeof *s->pl);
	s->pr = malloc(n_vocab * sizeof *s->pr);
	s->hist = malloc((p->repeat_last_n ? p->repeat_last_n : 1) * sizeof *s->hist);
	if (!s->c || !s->tmp || !s->kx || !s->count || !s->pl || !s->pr || !s->hist) {
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
	free(s->pl);
	free(s->pr);
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

/* The logits the draw sees: logits itself when no penalty applies, else a
 * copy in s->pl with each token of the history window penalised (computed
 * from logits[t], so a token seen twice is penalised once). Only the window's
 * tokens are visited, not the vocabulary. Penalties all off (or -0) would
 * subtract a zero, turning at most a -0 into +0, and the two compare, sort
 * and exponentiate alike: no copy then. */
static const float *penalised(struct sampler *s, const float *logits)
{
	const struct sampler_params *p = &s->p;
	if (s->nhist == 0 || (p->repeat_penalty == 1.0f && p->frequency_penalty == 0 && p->presence_penalty == 0))
		return logits;
	memcpy(s->pl, logits, s->n_vocab * sizeof *logits);
	for (uint32_t k = 0; k < s->nhist; k++) {
		int32_t t = s->hist[k];
		float l = logits[t];
		uint32_t cnt = s->count[t]; /* >= 1: t is in the window */
		if (p->repeat_penalty != 1.0f)
			l = l > 0 ? l / p->repeat_penalty : l * p->repeat_penalty;
		l -= (float)cnt * p->frequency_penalty + p->presence_penalty;
		s->pl[t] = l;
	}
	return s->pl;
}

#ifdef SAMPLER_X86
#define AVX2 AVX2_MATH
#define AVX512 AVX512_MATH
#endif

/* probs on each path: exp1, exp8 or exp16 on every argument. */
static double exp_scalar(float *pr, const float *l, size_t n, float mx, float t)
{
	for (size_t i = 0; i < n; i++)
		pr[i] = exp1((l[i] - mx) / t);
	double s0 = 0, s1 = 0; /* after the calls: around them the sums would sit in memory */
	size_t i = 0;
	for (; i + 2 <= n; i += 2) {
		s0 += pr[i];
		s1 += pr[i + 1];
	}
	return (i < n ? s0 + pr[i] : s0) + s1;
}

#ifdef SAMPLER_X86
AVX2 static inline __m256d sum_halves8(__m256d s, __m256 p)
{
	s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
	return _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
}

AVX2 static double exp_avx2(float *pr, const float *l, size_t n, float mx, float t)
{
	__m256 vm = _mm256_set1_ps(mx), vt = _mm256_set1_ps(t);
	__m256d s0 = _mm256_setzero_pd(), s1 = s0;
	size_t i = 0;
	for (; i + 16 <= n; i += 16) { /* two chains of exp8 */
		__m256 x0 = _mm256_sub_ps(_mm256_loadu_ps(l + i), vm), x1 = _mm256_sub_ps(_mm256_loadu_ps(l + i + 8), vm);
		if (t != 1.0f) { /* x / 1 is x */
			x0 = _mm256_div_ps(x0, vt);
			x1 = _mm256_div_ps(x1, vt);
		}
		__m256 p0 = exp8(x0), p1 = exp8(x1);
		_mm256_storeu_ps(pr + i, p0);
		_mm256_storeu_ps(pr + i + 8, p1);
		s0 = sum_halves8(s0, p0);
		s1 = sum_halves8(s1, p1);
	}
	for (; i < n; i += 8) { /* the last 1..15, eight lanes at a time through a mask */
		__m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i < 8 ? n - i : 8)),
					       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
		__m256 x = _mm256_sub_ps(_mm256_maskload_ps(l + i, k), vm);
		if (t != 1.0f)
			x = _mm256_div_ps(x, vt);
		__m256 p = _mm256_and_ps(exp8(x), _mm256_castsi256_ps(k));
		_mm256_maskstore_ps(pr + i, k, p);
		s0 = sum_halves8(s0, p);
	}
	double b[4];
	_mm256_storeu_pd(b, _mm256_add_pd(s0, s1));
	return (b[0] + b[1]) + (b[2] + b[3]);
}

AVX512 static inline __m512d sum_halves16(__m512d s, __m512 p)
{
	s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
	return _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1))));
}

AVX512 static double exp_avx512(float *pr, const float *l, size_t n, float mx, float t)
{
	__m512 vm = _mm512_set1_ps(mx), vt = _mm512_set1_ps(t);
	__m512d s0 = _mm512_setzero_pd(), s1 = s0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) { /* two chains of exp16 */
		__m512 x0 = _mm512_sub_ps(_mm512_loadu_ps(l + i), vm), x1 = _mm512_sub_ps(_mm512_loadu_ps(l + i + 16), vm);
		if (t != 1.0f) {
			x0 = _mm512_div_ps(x0, vt);
			x1 = _mm512_div_ps(x1, vt);
		}
		__m512 p0 = exp16(x0), p1 = exp16(x1);
		_mm512_storeu_ps(pr + i, p0);
		_mm512_storeu_ps(pr + i + 16, p1);
		s0 = sum_halves16(s0, p0);
		s1 = sum_halves16(s1, p1);
	}
	for (; i < n; i += 16) { /* the last 1..31, sixteen lanes at a time through a mask */
		__mmask16 k = n - i < 16 ? (__mmask16)((1u << (n - i)) - 1) : 0xffff;
		__m512 x = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, l + i), vm);
		if (t != 1.0f)
			x = _mm512_div_ps(x, vt);
		__m512 p = _mm512_maskz_mov_ps(k, exp16(x));
		_mm512_mask_storeu_ps(pr + i, k, p);
		s0 = sum_halves16(s0, p);
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}
#endif

/* The probabilities: pr[i] = exp1((l[i] - mx) / t) for i in [0, n), on s's
 * path (the same bits on each); returns their sum, added in no set order.
 * pr may be l. */
static double probs(const struct sampler *s, float *pr, const float *l, size_t n, float mx, float t)
{
#ifdef SAMPLER_X86
	if (s->isa == ISA_AVX512)
		return exp_avx512(pr, l, n, mx, t);
	if (s->isa == ISA_AVX2)
		return exp_avx2(pr, l, n, mx, t);
#endif
	return exp_scalar(pr, l, n, mx, t);
}

/* The general draw (temperature > 0) from the penalised logits l, with u the
 * uniform draw in [0, 1): candidates sorted as far as a walk needs, then
 * min-p, top-p and the inverse-CDF walk. */
static int32_t sample_sorted(struct sampler *s, const float *l, double u)
{
	const struct sampler_params *p = &s->p;
	size_t n = s->n_vocab;
	for (size_t i = 0; i < n; i++) {
		s->c[i].logit = l[i];
		s->c[i].id = (int32_t)i;
	}
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
	/* the probabilities as sample_fast has them: through pr, on the vector path */
	float mx = s->c[0].logit;
	for (size_t i = 0; i < m; i++)
		s->pr[i] = s->c[i].logit;
	probs(s, s->pr, s->pr, m, mx, p->temperature);
	for (size_t i = 0; i < m; i++)
		s->c[i].prob = s->pr[i];
	/* min-p: keep tokens at least min_p times as likely as the best. */
	size_t keep = m;
	if (p->min_p > 0) {
		float thr = s->c[0].prob * p->min_p;
		for (keep = 1; keep < m && ensure_sorted(s, m, &sorted, keep) && s->c[keep].prob >= thr; keep++)
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
	double r = u * sum, acc = 0;
	for (size_t i = 0; i < keep; i++) {
		ensure_sorted(s, m, &sorted, i);
		acc += s->c[i].prob;
		if (r < acc)
			return s->c[i].id;
	}
	return s->c[keep - 1].id; /* r rounded past the last sum */
}

/*
 * sample_fast: the draw with top-k and min-p off, every token a candidate
 * (up to top-p's cut) and the walk over them in cmp_desc's order.
 *
 * The probabilities are probs', on the path sampler_new chose:
 * ATELIER_ENGINE_SCALAR=1 takes exp1, ATELIER_ENGINE_NO_AVX512=1 stops at
 * AVX2 (exp8), else AVX-512 (exp16) where the CPU has it; all the same bits.
 *
 * The walk works in NBAND bands of probability relative to the best token's
 * 1 (see band_lo in sample_fast), and a last band below them; a band it
 * stops in is narrowed to NBUCKET slices at a time, to NARROW tokens.
 */
#define NBAND 5
#define NARROW 32 /* narrow a band while more tokens than this are in it */
#define NBUCKET 32

/* p when c, else 0, without a branch (c is a coin toss here). */
static inline double p_if(double p, bool c)
{
	uint64_t u;
	memcpy(&u, &p, sizeof u);
	u &= -(uint64_t)c;
	memcpy(&p, &u, sizeof p);
	return p;
}

/* cum[j] = the mass of the tokens with pr >= lo[j], for the NMASS
 * thresholds below the first band's, added in no set order (exact where
 * sample_fast uses it). */
#define NMASS (NBAND - 1)
static void masses_scalar(const float *pr, size_t n, const float *lo, double *cum)
{
	_Static_assert(NMASS == 4, "masses_scalar adds up four");
	double c0 = 0, c1 = 0, c2 = 0, c3 = 0; /* named, to live in registers */
	for (size_t i = 0; i < n; i++) {
		double p = pr[i];
		c0 += p_if(p, pr[i] >= lo[0]);
		c1 += p_if(p, pr[i] >= lo[1]);
		c2 += p_if(p, pr[i] >= lo[2]);
		c3 += p_if(p, pr[i] >= lo[3]);
	}
	cum[0] = c0, cum[1] = c1, cum[2] = c2, cum[3] = c3;
}

#ifdef SAMPLER_X86
/* The vector masses_*: four accumulators by name, as the loop over them
 * would not be unrolled and they would sit in memory. */
#define MASS4(add)                                                                                                     \
	do {                                                                                                           \
		c0 = add(c0, p, l0);                                                                                   \
		c1 = add(c1, p, l1);                                                                                   \
		c2 = add(c2, p, l2);                                                                                   \
		c3 = add(c3, p, l3);                                                                                   \
	} while (0)

AVX2 static inline __m256d add_ge4(__m256d c, __m256d p, __m256d lo)
{
	return _mm256_add_pd(c, _mm256_and_pd(_mm256_cmp_pd(p, lo, _CMP_GE_OQ), p));
}

AVX2 static void masses_avx2(const float *pr, size_t n, const float *lo, double *cum)
{
	__m256d c0 = _mm256_setzero_pd(), c1 = c0, c2 = c0, c3 = c0;
	__m256d l0 = _mm256_set1_pd(lo[0]), l1 = _mm256_set1_pd(lo[1]), l2 = _mm256_set1_pd(lo[2]),
		l3 = _mm256_set1_pd(lo[3]);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m256d p = _mm256_cvtps_pd(_mm_loadu_ps(pr + i));
		MASS4(add_ge4);
	}
	masses_scalar(pr + i, n - i, lo, cum);
	__m256d c[NMASS] = {c0, c1, c2, c3};
	for (int j = 0; j < NMASS; j++) {
		double b[4];
		_mm256_storeu_pd(b, c[j]);
		cum[j] += (b[0] + b[1]) + (b[2] + b[3]);
	}
}

AVX512 static inline __m512d add_ge8(__m512d c, __m512d p, __m512d lo)
{
	return _mm512_mask_add_pd(c, _mm512_cmp_pd_mask(p, lo, _CMP_GE_OQ), c, p);
}

AVX512 static void masses_avx512(const float *pr, size_t n, const float *lo, double *cum)
{
	__m512d c0 = _mm512_setzero_pd(), c1 = c0, c2 = c0, c3 = c0;
	__m512d l0 = _mm512_set1_pd(lo[0]), l1 = _mm512_set1_pd(lo[1]), l2 = _mm512_set1_pd(lo[2]),
		l3 = _mm512_set1_pd(lo[3]);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m512d p = _mm512_cvtps_pd(_mm256_loadu_ps(pr + i));
		MASS4(add_ge8);
	}
	masses_scalar(pr + i, n - i, lo, cum);
	cum[0] += _mm512_reduce_add_pd(c0);
	cum[1] += _mm512_reduce_add_pd(c1);
	cum[2] += _mm512_reduce_add_pd(c2);
	cum[3] += _mm512_reduce_add_pd(c3);
}

/* The largest of l[0..n); false when one is NaN. */
AVX2 static bool max_avx2(const float *l, size_t n, float *out)
{
	__m256 m = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(l + i);
		m = _mm256_max_ps(m, v);
		nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
	}
	float b[8];
	_mm256_storeu_ps(b, m);
	float mx = b[0];
	for (int k = 1; k < 8; k++)
		mx = b[k] > mx ? b[k] : mx;
	bool ok = _mm256_movemask_ps(nan) == 0;
	for (; i < n; i++) {
		ok &= l[i] == l[i];
		mx = l[i] > mx ? l[i] : mx;
	}
	*out = mx;
	return ok;
}

/* For each of the 256 masks of eight lanes, the lanes set, in order, as
 * bytes: collect_avx2's compaction permute. Filled by detect(). */
static uint64_t lane_lut[256];

/* The tokens with lo <= pr < hi, in id order: one band of the descending
 * order (see sample_fast on pr and the logit). ids holds n: the whole
 * vectors stored end by n, as no more were kept (m) than were looked at (i). */
AVX2 static size_t collect_avx2(uint32_t *ids, const float *pr, size_t n, float lo, float hi)
{
	__m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
	__m256i id = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), eight = _mm256_set1_epi32(8);
	size_t m = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(pr + i);
		unsigned bits = (unsigned)_mm256_movemask_ps(
			_mm256_and_ps(_mm256_cmp_ps(v, vlo, _CMP_GE_OQ), _mm256_cmp_ps(v, vhi, _CMP_LT_OQ)));
		__m256i perm = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&lane_lut[bits]));
		_mm256_storeu_si256((__m256i *)(ids + m), _mm256_permutevar8x32_epi32(id, perm));
		m += (size_t)__builtin_popcount(bits);
		id = _mm256_add_epi32(id, eight);
	}
	for (; i < n; i++) {
		ids[m] = (uint32_t)i;
		m += pr[i] >= lo && pr[i] < hi;
	}
	return m;
}

AVX512 static size_t collect_avx512(uint32_t *ids, const float *pr, size_t n, float lo, float hi)
{
	__m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
	__m512i id = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	size_t m = 0, i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 v = _mm512_loadu_ps(pr + i);
		__mmask16 k = _mm512_cmp_ps_mask(v, vlo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(v, vhi, _CMP_LT_OQ);
		/* compress to a register, then store: the memory form is slow on Zen 4 */
		_mm512_storeu_si512(ids + m, _mm512_maskz_compress_epi32(k, id));
		m += (size_t)__builtin_popcount(k);
		id = _mm512_add_epi32(id, _mm512_set1_epi32(16));
	}
	for (; i < n; i++) {
		ids[m] = (uint32_t)i;
		m += pr[i] >= lo && pr[i] < hi;
	}
	return m;
}

#endif

static enum isa hw_isa; /* the best path this CPU allows */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#ifdef SAMPLER_X86
	for (unsigned b = 0; b < 256; b++)
		for (unsigned k = 0, j = 0; k < 8; k++)
			if (b >> k & 1)
				lane_lut[b] |= (uint64_t)k << (8 * j++);
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		hw_isa = ISA_AVX2;
	if (hw_isa == ISA_AVX2 && __builtin_cpu_supports("avx512f"))
		hw_isa = ISA_AVX512;
#endif
}

/* The path a new sampler takes: the environment is read here, not once, so
 * a test can try each. */
static enum isa choose_isa(void)
{
	pthread_once(&once, detect);
	const char *s = getenv("ATELIER_ENGINE_SCALAR");
	if (s && s[0] == '1')
		return ISA_SCALAR;
	s = getenv("ATELIER_ENGINE_NO_AVX512");
	if (hw_isa == ISA_AVX512 && s && s[0] == '1')
		return ISA_AVX2;
	return hw_isa;
}

static bool max_scalar(const float *l, size_t n, float *out)
{
	float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}; /* four chains, not one */
	bool ok = true;
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++) {
			ok &= l[i + k] == l[i + k];
			m[k] = l[i + k] > m[k] ? l[i + k] : m[k];
		}
	for (; i < n; i++) {
		ok &= l[i] == l[i];
		m[0] = l[i] > m[0] ? l[i] : m[0];
	}
	float mx = m[0];
	for (int k = 1; k < 4; k++)
		mx = m[k] > mx ? m[k] : mx;
	*out = mx;
	return ok;
}

static size_t collect_scalar(uint32_t *ids, const float *pr, size_t n, float lo, float hi)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		ids[m] = (uint32_t)i;
		m += pr[i] >= lo && pr[i] < hi;
	}
	return m;
}

static uint32_t float_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* ids[0..m): the tokens of a band [lo, hi) of exact masses (see sample_fast)
 * in which the walk from *acc passes r_hi. While more than NARROW are left,
 * split the band into up to NBUCKET slices of pr's bits (which rise with pr,
 * all being positive), add the mass of the slices above the one the walk
 * passes r_hi in to *acc, and keep only that slice's tokens, in id order.
 * Returns how many are left. */
static size_t narrow(const float *pr, uint32_t *ids, size_t m, float lo, float hi, double *acc, double r_hi)
{
	uint32_t blo = float_bits(lo), bhi = float_bits(hi < 1.0f ? hi : 0x1.000002p0f); /* pr <= 1 */
	while (m > NARROW && bhi - blo > 1) {
		int shift = 0;
		while ((bhi - blo - 1) >> shift >= NBUCKET)
			shift++;
		double mass[NBUCKET] = {0};
		for (size_t i = 0; i < m; i++) {
			float p = pr[ids[i]];
			mass[(float_bits(p) - blo) >> shift] += p;
		}
		uint32_t k = (bhi - blo - 1) >> shift;
		for (; k > 0 && !(r_hi < *acc + mass[k]); k--)
			*acc += mass[k];
		size_t j = 0;
		for (size_t i = 0; i < m; i++) {
			ids[j] = ids[i];
			j += (float_bits(pr[ids[i]]) - blo) >> shift == k;
		}
		m = j;
		blo += k << shift;
		if (bhi - blo > 1u << shift)
			bhi = blo + (1u << shift);
	}
	return m;
}

/* Sort m keys ascending (cmp_desc's order of their tokens); tmp holds m.
 * Short runs by insertion; longer ones by a stable LSD radix sort of the
 * logit key alone, skipping the bytes all keys share, which keeps the ids
 * of equal logits in the ascending order they were collected in. */
static void sort_keys(uint64_t *a, uint64_t *tmp, size_t m)
{
	if (m <= 32) {
		for (size_t i = 1; i < m; i++) {
			uint64_t x = a[i];
			size_t j = i;
			for (; j > 0 && a[j - 1] > x; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return;
	}
	uint32_t cnt[4][256];
	memset(cnt, 0, sizeof cnt);
	for (size_t i = 0; i < m; i++)
		for (int b = 0; b < 4; b++)
			cnt[b][(a[i] >> (32 + 8 * b)) & 0xff]++;
	uint64_t *src = a, *dst = tmp;
	for (int b = 0; b < 4; b++) {
		int shift = 32 + 8 * b;
		if (cnt[b][(a[0] >> shift) & 0xff] == m)
			continue;
		uint32_t pos[256], at = 0;
		for (int d = 0; d < 256; d++) {
			pos[d] = at;
			at += cnt[b][d];
		}
		for (size_t i = 0; i < m; i++)
			dst[pos[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, m * sizeof *a);
}

/* One draw's probabilities on sample_fast's road, for the walks over them. */
struct fast {
	const float *l; /* [n_vocab] the penalised logits; s->pr their probabilities */
	float band_lo[NBAND];
	float exact;        /* 2^(E-30), 2^E >= n_vocab: see sample_fast */
	double cum[NBAND];  /* [1..NBAND): the mass of the tokens with pr >= band_lo[k] */
	bool have_cum;      /* cum is filled (by the first walk past the first band) */
	size_t (*collect)(uint32_t *, const float *, size_t, float, float);
	void (*masses)(const float *, size_t, const float *, double *);
};

/* The walk over every token in cmp_desc's order, its running sum acc_j
 * after token j being sample_sorted's bit for bit (see sample_fast): the
 * first token j with r_hi < acc_j, when acc_(j-1) <= r_lo; else -1 (a token
 * boundary in [r_lo, r_hi], or r_hi past the total). *at receives acc_j. */
static int32_t walk(struct sampler *s, struct fast *f, double r_lo, double r_hi, double *at)
{
	size_t n = s->n_vocab;
	double acc = 0;
	/* kx: the band's keys in [0, n), its ids (then the sort's scratch) after */
	uint64_t *key = s->kx;
	uint32_t *ids = (uint32_t *)(s->kx + n);
	for (size_t b = 0; b <= NBAND; b++) {
		if (b == 1) { /* past the first band: skip those the walk passes whole */
			if (!f->have_cum) {
				f->masses(s->pr, n, f->band_lo + 1, f->cum + 1);
				f->have_cum = true;
			}
			for (; b < NBAND && f->band_lo[b] >= f->exact && !(r_hi < f->cum[b]); b++)
				acc = f->cum[b];
		}
		float lo = b < NBAND ? f->band_lo[b] : 0, hi = b ? f->band_lo[b - 1] : INFINITY;
		size_t m = f->collect(ids, s->pr, n, lo, hi);
		if (b > 0 && lo >= f->exact) /* then the walk passes r_hi in this band */
			m = narrow(s->pr, ids, m, lo, hi, &acc, r_hi);
		for (size_t i = 0; i < m; i++)
			key[i] = (uint64_t)desc_key(f->l[ids[i]]) << 32 | ids[i];
		sort_keys(key, s->kx + n, m);
		for (size_t i = 0; i < m; i++) {
			uint32_t id = (uint32_t)key[i];
			double prev = acc;
			acc += s->pr[id];
			if (r_hi < acc) {
				*at = acc;
				return prev <= r_lo ? (int32_t)id : -1;
			}
		}
	}
	return -1;
}

/*
 * Returns the token, or -1 to leave the draw to sample_sorted (a NaN or
 * infinite logit, or a draw or a top-p cut the rounding could move).
 *
 * One pass computes every probability and their total. The first band is
 * sorted and walked as it is (most draws stop in it). Past it, a second pass
 * adds up cum[k], the mass of the tokens with pr >= band_lo[k]; the walk
 * skips the bands it passes whole, narrows the one it stops in to a few
 * tokens (see narrow) and sorts only those, walking on band by band should
 * it run past them. Band by band is the descending order, as pr never falls
 * as the logit rises where pr < 0.78 (exp1 dips by an ulp here and there
 * above that, all inside the first band, which is sorted by logit whole;
 * sampler_test checks every float). Skipping is exact: while every
 * probability added is at least 2^(E-30), with 2^E >= n, each is a multiple
 * of 2^(E-53) and so is every partial sum, which stays within n, so no
 * addition rounds and the running sum after a band is its mass, in whatever
 * order it was added. From there the walk adds one token at a time as
 * sample_sorted's does, so its running sum is sample_sorted's, bit for bit.
 *
 * The total is not: sample_sorted adds the sorted head, then the rest in the
 * order its heap selection left them. Both totals are sums of the same n
 * non-negative doubles, each within (n-1) 2^-53 (relative) of the exact sum,
 * so they differ by less than 2n 2^-53 of it; delta = n 2^-51 covers that
 * and the rounding of the bounds. Rounding is monotonic, so its r = u sum
 * lies in [r_lo, r_hi], and its walk stops at the first token j with
 * r < acc_j. This walk finds the first j with r_hi < acc_j and accepts it
 * only when acc_(j-1) <= r_lo: then every r in between stops at j. A token
 * boundary falls in that window with odds of about n 2^-50 sum / pr_j,
 * under 10^-8 a draw for 4096 tokens; the walk ending without r_hi < acc_j
 * (r_hi past the running total) is rarer still.
 *
 * Top-p < 1 takes two walks. sample_sorted cuts after the first token K
 * with acc_K >= T, T = top_p tot rounded, tot its total as above, so T lies
 * in [T_lo, T_hi] = top_p [sum - delta, sum + delta], rounded the same way.
 * For doubles, acc >= T is acc > T's predecessor: the first walk, with
 * r_lo and r_hi the predecessors of T_lo and T_hi, finds K for every T in
 * between, or hands over. sample_sorted's draw then scales u by the sum of
 * the tokens kept, added in the walk's order from the first: that is acc_K
 * itself, which this walk has bit for bit, so r = u acc_K is sample_sorted's
 * exactly and the second walk, from the first token, with r_lo = r_hi = r,
 * has no window to doubt. Its token is the first j with r < acc_j, j <= K
 * as r < acc_K, or K itself where u acc_K rounds up to acc_K, as
 * sample_sorted's walk then ends at its last token kept. The second walk
 * collects and sorts again what the first did up to where it stops, so the
 * two cost about twice one (bench/sampler.sh: 4.7 against 2.4 us a draw on
 * the tiny model, 46 on the general road); keeping the first walk's sorted
 * bands for the second was the alternative, and would need scratch for
 * every band it passed.
 */
static int32_t sample_fast(struct sampler *s, const float *l, double u)
{
	size_t n = s->n_vocab;
	float mx, t = s->p.temperature, exact = 0x1p-30f; /* 2^(E-30), 2^E >= n: see above */
	for (size_t e = 1; e < n; e *= 2)
		exact *= 2;
	/* the bands: pr >= 1/8, >= 1/64, >= 1/512, >= 1/8192 and >= exact
	 * (1/16384 when exact is larger; and exact, not 1/8192, when that is
	 * larger, as for 150k vocabularies, so that band stays exact) */
	struct fast f = {.l = l,
			 .band_lo = {0x1p-3f, 0x1p-6f, 0x1p-9f, exact > 0x1p-13f && exact < 0x1p-9f ? exact : 0x1p-13f,
				     exact < 0x1p-14f ? exact : 0x1p-14f},
			 .exact = exact,
			 .collect = collect_scalar,
			 .masses = masses_scalar};
#ifdef SAMPLER_X86
	if (s->isa != ISA_SCALAR) {
		if (!max_avx2(l, n, &mx) || !isfinite(mx))
			return -1;
		bool wide = s->isa == ISA_AVX512;
		f.collect = wide ? collect_avx512 : collect_avx2;
		f.masses = wide ? masses_avx512 : masses_avx2;
	} else
#endif
	{
		if (!max_scalar(l, n, &mx) || !isfinite(mx))
			return -1;
	}
	double sum = probs(s, s->pr, l, n, mx, t), d = sum * ((double)n * 0x1p-51), at;
	if (!(s->p.top_p < 1))
		return walk(s, &f, u * (sum - d), u * (sum + d), &at);
	double tp = s->p.top_p; /* sample_sorted's top_p * tot: in double */
	int32_t cut = walk(s, &f, nextafter(tp * (sum - d), 0), nextafter(tp * (sum + d), 0), &at);
	if (cut < 0)
		return -1;
	double r = u * at;
	if (!(r < at))
		return cut;
	return walk(s, &f, r, r, &at);
}

int32_t sampler_sample(struct sampler *s, const float *logits, float *logprob)
{
	const struct sampler_params *p = &s->p;
	size_t n = s->n_vocab;
	const float *l = penalised(s, logits);
	int32_t chosen;
	if (p->temperature == 0) {
		size_t best = 0;
		for (size_t i = 1; i < n; i++)
			if (l[i] > l[best])
				best = i;
		chosen = (int32_t)best;
	} else {
		double u = uniform(s);
		chosen = -1;
		if ((p->top_k == 0 || (size_t)p->top_k >= n) && !(p->min_p > 0) && !s->sorted_only)
			chosen = sample_fast(s, l, u);
		if (chosen < 0)
			chosen = sample_sorted(s, l, u);
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
