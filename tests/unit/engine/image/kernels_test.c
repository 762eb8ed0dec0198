/* kernels_test.c: every fast image kernel against its scalar reference on
 * random data, for every instruction set this CPU has, with one and two
 * threads, on sizes that are not multiples of the register tiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "engine/image/kernels.h"
#include "engine/image/scheduler.h"
#include "engine/threads.h"

static struct sched_rng rng;

static float *randv(size_t n)
{
	float *p = malloc(sizeof(float) * (n ? n : 1));
	assert_non_null(p);
	sched_rng_normal(&rng, p, (int)n);
	return p;
}

/* max |a-b| / max(|b|, 1) */
static double maxrel(const float *a, const float *b, size_t n)
{
	double m = 0, s = 1;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		m = d > m ? d : m;
		s = fabs(b[i]) > s ? fabs(b[i]) : s;
	}
	return m / s;
}

struct fix {
	struct threadpool *pool;
	struct imgk *k1, *k2; /* one thread, two threads */
};

static int setup(void **st)
{
	static struct fix f;
	struct errinfo e;
	sched_rng_seed(&rng, 123);
	if (threads_new(&f.pool, 2, &e) || imgk_new(&f.k1, NULL, &e) || imgk_new(&f.k2, f.pool, &e))
		return -1;
	*st = &f;
	return 0;
}

static int teardown(void **st)
{
	struct fix *f = *st;
	imgk_free(f->k1);
	imgk_free(f->k2);
	threads_free(f->pool);
	return 0;
}

static void gemm_all_isas_match_reference(void **st)
{
	struct fix *f = *st;
	static const int sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {13, 33, 17}, {64, 64, 64}, {37, 300, 259},
				       {130, 70, 520}, {3, 1024, 27}, {320, 64, 9}};
	for (int isa = 0; isa < IMGK__MAX; isa++) {
		for (int kk = 0; kk < 2; kk++) {
			struct imgk *k = kk ? f->k2 : f->k1;
			if ((int)imgk_set_isa(k, (enum imgk_isa)isa) != isa)
				continue;
			for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
				int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
				float *A = randv((size_t)M * K), *B = randv((size_t)K * N);
				float *C = randv((size_t)M * N), *R = malloc(sizeof(float) * (size_t)M * N);
				memcpy(R, C, sizeof(float) * (size_t)M * N);
				for (int variant = 0; variant < 4; variant++) {
					int acc = variant & 1, ta = variant >> 1;
					/* ta: A stored transposed (K x M), as attention's q^T */
					ptrdiff_t rsa = ta ? 1 : K, csa = ta ? M : 1;
					imgk_gemm_ref(M, N, K, A, rsa, csa, B, N, 1, R, N, acc);
					imgk_gemm(k, M, N, K, A, rsa, csa, B, N, 1, C, N, acc);
					double r = maxrel(C, R, (size_t)M * N);
					if (r > 1e-5)
						fail_msg("gemm %s threads=%d M=%d N=%d K=%d acc=%d ta=%d: rel err %g",
							 imgk_isa_name((enum imgk_isa)isa), kk + 1, M, N, K, acc, ta, r);
				}
				/* B transposed (N x K), as attention's S^T */
				imgk_gemm_ref(M, N, K, A, K, 1, B, 1, K, R, N, 0);
				imgk_gemm(k, M, N, K, A, K, 1, B, 1, K, C, N, 0);
				assert_true(maxrel(C, R, (size_t)M * N) < 1e-5);
				free(A);
				free(B);
				free(C);
				free(R);
			}
		}
		imgk_set_isa(f->k1, IMGK__MAX);
		imgk_set_isa(f->k2, IMGK__MAX);
	}
}

static void conv_matches_direct_convolution(void **st)
{
	struct fix *f = *st;
	static const int cases[][6] = {
		/* cin, h, w, cout, ks, stride */
		{3, 32, 32, 16, 3, 1}, {5, 9, 7, 6, 3, 1}, {8, 16, 16, 8, 3, 2}, {7, 9, 9, 5, 3, 2}, {12, 6, 5, 10, 1, 1},
		{40, 20, 20, 30, 3, 1}, /* K = 360 spans two k-blocks, output rows cut across panels */
		{2, 70, 70, 3, 3, 1},   /* rows longer than a panel, runs that start mid-row */
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		int cin = cases[c][0], h = cases[c][1], w = cases[c][2], cout = cases[c][3], ks = cases[c][4],
		    stride = cases[c][5], pad = ks / 2;
		int ho = (h + 2 * pad - ks) / stride + 1, wo = (w + 2 * pad - ks) / stride + 1;
		float *in = randv((size_t)cin * h * w), *wt = randv((size_t)cout * cin * ks * ks), *b = randv((size_t)cout);
		float *out = malloc(sizeof(float) * (size_t)cout * ho * wo), *ref = malloc(sizeof(float) * (size_t)cout * ho * wo);
		imgk_conv2d_ref(in, cin, h, w, wt, b, cout, ks, stride, pad, ref);
		for (int isa = 0; isa < IMGK__MAX; isa++)
			for (int kk = 0; kk < 2; kk++) {
				struct imgk *kc = kk ? f->k2 : f->k1;
				if ((int)imgk_set_isa(kc, (enum imgk_isa)isa) != isa)
					continue;
				imgk_conv2d(kc, in, cin, h, w, wt, b, cout, ks, stride, pad, out);
				double r = maxrel(out, ref, (size_t)cout * ho * wo);
				if (r > 1e-5)
					fail_msg("conv case %zu isa %s threads %d: rel err %g", c,
						 imgk_isa_name((enum imgk_isa)isa), kk + 1, r);
			}
		imgk_set_isa(f->k1, IMGK__MAX);
		imgk_set_isa(f->k2, IMGK__MAX);
		free(in);
		free(wt);
		free(b);
		free(out);
		free(ref);
	}
}

static void groupnorm_matches_reference(void **st)
{
	(void)st;
	int c = 24, hw = 77, groups = 6;
	float *x = randv((size_t)c * hw), *g = randv((size_t)c), *b = randv((size_t)c);
	for (size_t i = 0; i < (size_t)c * hw; i++)
		x[i] = x[i] * 3.0f + 10.0f; /* a large mean: the two-pass variance must not cancel */
	float *y = malloc(sizeof(float) * (size_t)c * hw), *r = malloc(sizeof(float) * (size_t)c * hw);
	for (int silu = 0; silu < 2; silu++) {
		imgk_groupnorm(x, c, hw, groups, g, b, 1e-5f, silu, y);
		imgk_groupnorm_ref(x, c, hw, groups, g, b, 1e-5f, silu, r);
		assert_true(maxrel(y, r, (size_t)c * hw) < 1e-5);
	}
	free(x);
	free(g);
	free(b);
	free(y);
	free(r);
}

static void layernorm_normalises_each_token(void **st)
{
	(void)st;
	int c = 20, n = 9;
	float *x = randv((size_t)c * n), *y = malloc(sizeof(float) * (size_t)c * n), scr[18];
	float g[20], b[20];
	for (int i = 0; i < c; i++)
		g[i] = 1.0f, b[i] = 0.0f;
	imgk_layernorm(x, c, n, g, b, 1e-5f, y, scr);
	for (int j = 0; j < n; j++) {
		double m = 0, v = 0;
		for (int i = 0; i < c; i++)
			m += y[i * n + j];
		m /= c;
		for (int i = 0; i < c; i++)
			v += (y[i * n + j] - m) * (y[i * n + j] - m);
		assert_true(fabs(m) < 1e-5);
		assert_true(fabs(v / c - 1.0) < 1e-3);
	}
	free(x);
	free(y);
}

static void attention_matches_reference(void **st)
{
	struct fix *f = *st;
	/* c, n, m, heads: odd sizes, head dim 40 over several key chunks of the AVX-512 path, one
	 * case whose buffers do not fit the pack buffer (they go in the scores scratch), a head dim
	 * that is not a multiple of 8, a single key */
	static const int cases[][4] = {{64, 256, 256, 4}, {32, 37, 16, 4},  {24, 16, 16, 3},   {320, 100, 77, 8},
				       {80, 70, 300, 2},  {640, 800, 210, 1}, {30, 45, 130, 3}, {8, 5, 1, 1}};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		int ch = cases[c][0], n = cases[c][1], m = cases[c][2], heads = cases[c][3];
		float *q = randv((size_t)ch * n), *k = randv((size_t)ch * m), *v = randv((size_t)ch * m);
		for (size_t i = 0; i < (size_t)ch * n; i++)
			q[i] *= 2.0f; /* peaked softmax */
		float *o = malloc(sizeof(float) * (size_t)ch * n), *r = malloc(sizeof(float) * (size_t)ch * n);
		float *s = malloc(sizeof(float) * ((size_t)n * m + (size_t)n * ch / heads));
		imgk_attention_ref(q, k, v, ch, n, m, heads, r);
		for (int isa = 0; isa < IMGK__MAX; isa++)
			for (int kk = 0; kk < 2; kk++) {
				struct imgk *kc = kk ? f->k2 : f->k1;
				if ((int)imgk_set_isa(kc, (enum imgk_isa)isa) != isa)
					continue;
				imgk_attention(kc, q, k, v, ch, n, m, heads, o, s);
				double e = maxrel(o, r, (size_t)ch * n);
				if (e > 1e-5)
					fail_msg("attention case %zu isa %s threads %d: rel err %g", c,
						 imgk_isa_name((enum imgk_isa)isa), kk + 1, e);
			}
		imgk_set_isa(f->k1, IMGK__MAX);
		imgk_set_isa(f->k2, IMGK__MAX);
		free(q);
		free(k);
		free(v);
		free(o);
		free(r);
		free(s);
	}
}

static void softmax_handles_large_logits(void **st)
{
	struct fix *f = *st;
	float s[2 * 20];
	for (int i = 0; i < 40; i++)
		s[i] = (float)(i % 20) * 50.0f - 400.0f; /* exp would overflow without the max shift */
	imgk_softmax_rows(f->k1, s, 2, 20, 1.0f);
	for (int r = 0; r < 2; r++) {
		double sum = 0;
		for (int j = 0; j < 20; j++) {
			assert_false(isnan(s[r * 20 + j]));
			sum += s[r * 20 + j];
		}
		assert_true(fabs(sum - 1.0) < 1e-5);
		assert_true(s[r * 20 + 19] > 0.99f);
	}
}

static void geglu_matches_erf(void **st)
{
	struct fix *f = *st;
	size_t n = 1003;
	float *a = randv(n), *g = randv(n), *r = malloc(sizeof(float) * n);
	for (size_t i = 0; i < n; i++) {
		g[i] *= 4.0f;
		r[i] = a[i] * 0.5f * g[i] * (1.0f + (float)erf(g[i] / sqrt(2.0)));
	}
	imgk_geglu(f->k1, a, g, n);
	for (size_t i = 0; i < n; i++)
		if (fabsf(a[i] - r[i]) > 1e-5f * (1.0f + fabsf(r[i])))
			fail_msg("geglu %zu: %g vs %g", i, a[i], r[i]);
	free(a);
	free(g);
	free(r);
}

static void rng_is_reproducible_and_normal(void **st)
{
	(void)st;
	struct sched_rng a, b;
	float x[10000], y[10000];
	sched_rng_seed(&a, 42);
	sched_rng_seed(&b, 42);
	sched_rng_normal(&a, x, 10000);
	sched_rng_normal(&b, y, 10000);
	assert_memory_equal(x, y, sizeof x);
	double m = 0, v = 0;
	for (int i = 0; i < 10000; i++)
		m += x[i];
	m /= 10000;
	for (int i = 0; i < 10000; i++)
		v += (x[i] - m) * (x[i] - m);
	v /= 10000;
	assert_true(fabs(m) < 0.05);
	assert_true(fabs(v - 1.0) < 0.05);
	sched_rng_seed(&b, 43);
	sched_rng_normal(&b, y, 10);
	assert_true(memcmp(x, y, 10 * sizeof(float)) != 0);
}

static void timesteps_span_the_schedule(void **st)
{
	(void)st;
	int ts[1000];
	sched_timesteps(999, 25, ts);
	assert_int_equal(ts[0], 999);
	assert_int_equal(ts[24], 0);
	for (int i = 1; i < 25; i++)
		assert_true(ts[i] < ts[i - 1]);
	sched_timesteps(999, 1, ts);
	assert_int_equal(ts[0], 999);
	sched_timesteps(999, 1000, ts);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ts[i], 999 - i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gemm_all_isas_match_reference),
		cmocka_unit_test(conv_matches_direct_convolution),
		cmocka_unit_test(groupnorm_matches_reference),
		cmocka_unit_test(layernorm_normalises_each_token),
		cmocka_unit_test(attention_matches_reference),
		cmocka_unit_test(softmax_handles_large_logits),
		cmocka_unit_test(geglu_matches_erf),
		cmocka_unit_test(rng_is_reproducible_and_normal),
		cmocka_unit_test(timesteps_span_the_schedule),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
