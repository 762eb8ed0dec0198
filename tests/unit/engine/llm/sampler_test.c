/* sampler_test.c: greedy, seeds, truncation and penalties. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

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
 * inverse-CDF draw, written plainly in double. */
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
		pr[i] = expf((l[ord[i]] - l[ord[0]]) / p->temperature);
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
		     {2.0f, 0.95f, 0.0f, 200}, {1.0f, 1.0f, 0.0f, 40}};
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
		cmocka_unit_test(test_matches_full_sort),
		cmocka_unit_test(test_penalties),
		cmocka_unit_test(test_bad_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
