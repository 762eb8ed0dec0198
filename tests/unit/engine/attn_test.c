/* attn_test.c: the AVX2 attention kernel against the scalar reference, and
 * the reference against attention computed in double, over head sizes, group
 * sizes and position counts that reach every tail (fewer than eight
 * positions, a head size that is not a multiple of 32 or of 8). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/attn.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 16) % 20001) / 10000.0f - 1.0f;
}

enum { HD_MAX = 128, G_MAX = 4, POS_MAX = 300, KV_STRIDE = 2 * HD_MAX + 8 };

static float q[G_MAX * HD_MAX], kc[POS_MAX * KV_STRIDE], vc[POS_MAX * KV_STRIDE];
static float sc[G_MAX * POS_MAX], ref[G_MAX * HD_MAX], got[G_MAX * HD_MAX];

static void fill(size_t hd, size_t group, size_t n_pos, float qmag)
{
	for (size_t i = 0; i < group * hd; i++)
		q[i] = qmag * frand();
	for (size_t i = 0; i < n_pos * KV_STRIDE; i++) {
		kc[i] = frand();
		vc[i] = frand();
	}
}

static const size_t hds[] = {8, 12, 32, 40, 64, 128};
static const size_t groups[] = {1, 2, 4};
static const size_t npos[] = {1, 3, 7, 8, 9, 16, 17, 33, 200, 300};

static void test_scalar_matches_double(void **state)
{
	attn_fn f = attn_kernel_scalar();
	for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
		for (size_t b = 0; b < sizeof npos / sizeof npos[0]; b++) {
			size_t hd = hds[a], n = npos[b], group = 2;
			fill(hd, group, n, 3.0f);
			float scale = 1.0f / sqrtf((float)hd);
			f(hd, group, n, q, kc, vc, KV_STRIDE, scale, sc, got);
			for (size_t g = 0; g < group; g++) {
				double s[POS_MAX], mx = -INFINITY, sum = 0;
				for (size_t p = 0; p < n; p++) {
					s[p] = 0;
					for (size_t i = 0; i < hd; i++)
						s[p] += (double)q[g * hd + i] * kc[p * KV_STRIDE + i];
					s[p] *= scale;
					mx = fmax(mx, s[p]);
				}
				for (size_t p = 0; p < n; p++)
					sum += s[p] = exp(s[p] - mx);
				for (size_t i = 0; i < hd; i++) {
					double o = 0;
					for (size_t p = 0; p < n; p++)
						o += s[p] / sum * vc[p * KV_STRIDE + i];
					if (fabs(o - got[g * hd + i]) > 1e-5)
						fail_msg("scalar hd %zu pos %zu head %zu [%zu]: %g vs %g", hd, n, g, i,
							 got[g * hd + i], o);
				}
			}
		}
}

static void test_avx2_matches_scalar(void **state)
{
	attn_fn f = attn_kernel_avx2();
	if (!f)
		skip();
	for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
		for (size_t c = 0; c < sizeof groups / sizeof groups[0]; c++)
			for (size_t b = 0; b < sizeof npos / sizeof npos[0]; b++)
				for (int sharp = 0; sharp < 2; sharp++) {
					/* sharp: large queries, so the softmax is nearly one-hot and
					 * most exponents are far below zero */
					size_t hd = hds[a], group = groups[c], n = npos[b];
					fill(hd, group, n, sharp ? 40.0f : 1.0f);
					float scale = 1.0f / sqrtf((float)hd);
					attn_kernel_scalar()(hd, group, n, q, kc, vc, KV_STRIDE, scale, sc, ref);
					memset(got, 0xff, sizeof got);
					f(hd, group, n, q, kc, vc, KV_STRIDE, scale, sc, got);
					for (size_t i = 0; i < group * hd; i++)
						if (!(fabsf(got[i] - ref[i]) <= 1e-5f))
							fail_msg("avx2 hd %zu group %zu pos %zu sharp %d [%zu]: %g vs %g", hd,
								 group, n, sharp, i, got[i], ref[i]);
					/* nothing past the group's outputs is written */
					uint32_t bits = 0xffffffffu;
					if (group * hd < G_MAX * HD_MAX) /* a full group has no "past" to read */
						memcpy(&bits, &got[group * hd], sizeof bits);
					if (bits != 0xffffffffu)
						fail_msg("avx2 hd %zu group %zu wrote past its output", hd, group);
				}
}

static void test_scalar_forced(void **state)
{
	/* the selection honours ATELIER_ENGINE_SCALAR=1 (read once, so this
	 * test only checks the variable when it is set for the whole run) */
	const char *s = getenv("ATELIER_ENGINE_SCALAR");
	if (s && s[0] == '1')
		assert_true(attn_kernel() == attn_kernel_scalar());
	else if (attn_kernel_avx2())
		assert_true(attn_kernel() == attn_kernel_avx2());
	else
		assert_true(attn_kernel() == attn_kernel_scalar());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_matches_double),
		cmocka_unit_test(test_avx2_matches_scalar),
		cmocka_unit_test(test_scalar_forced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
