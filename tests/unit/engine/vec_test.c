/* vec_test.c: vec_swiglu (the AVX2 path on CPUs that have it) against the
 * scalar reference, over lengths that leave every tail and over inputs from
 * deep negative (silu underflows towards 0) to large positive (silu = x);
 * vec_rmsnorm and vec_f16_to_f32 against their scalar paths bit for bit, and
 * against values computed here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/vec.h"

static uint64_t rng = 0x853C49E6748FEA9Bull;
static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 16) % 20001) / 10000.0f - 1.0f;
}

static void test_swiglu_matches_scalar(void **state)
{
	enum { N = 203 };
	static float g[N], u[N], ref[N];
	static const float spread[] = {0.5f, 4.0f, 30.0f, 200.0f};
	for (size_t k = 0; k < sizeof spread / sizeof spread[0]; k++)
		for (size_t n = 1; n <= N; n += (n < 20 ? 1 : 37)) {
			for (size_t i = 0; i < n; i++) {
				g[i] = spread[k] * frand();
				u[i] = frand();
			}
			memcpy(ref, g, n * sizeof(float));
			vec_swiglu_scalar(ref, u, n);
			vec_swiglu(g, u, n);
			for (size_t i = 0; i < n; i++)
				if (!(fabsf(g[i] - ref[i]) <= 2e-6f * fmaxf(1.0f, fabsf(ref[i]))))
					fail_msg("n %zu spread %g [%zu]: %g vs scalar %g", n, spread[k], i, g[i], ref[i]);
		}
}

static void test_swiglu_known_values(void **state)
{
	float g[3] = {0.0f, 1.0f, -1.0f}, u[3] = {5.0f, 2.0f, 1.0f};
	vec_swiglu(g, u, 3);
	assert_true(g[0] == 0.0f);
	assert_true(fabsf(g[1] - 2.0f / (1.0f + expf(-1.0f))) < 1e-6f);
	assert_true(fabsf(g[2] + 1.0f / (1.0f + expf(1.0f))) < 1e-6f);
}

static void test_rmsnorm(void **state)
{
	enum { N = 300 };
	static float x[N], w[N], got[N], ref[N];
	static const float mag[] = {1e-3f, 1.0f, 1e4f};
	for (size_t k = 0; k < sizeof mag / sizeof mag[0]; k++)
		for (size_t n = 1; n <= N; n += (n < 24 ? 1 : 41)) {
			for (size_t i = 0; i < n; i++) {
				x[i] = mag[k] * frand();
				w[i] = 1.0f + 0.5f * frand();
			}
			vec_rmsnorm_scalar(ref, x, w, n, 1e-5f);
			vec_rmsnorm(got, x, w, n, 1e-5f);
			if (memcmp(got, ref, n * sizeof(float)))
				fail_msg("rmsnorm n %zu mag %g: the paths differ", n, mag[k]);
			/* and the norm itself, in long double here */
			long double ss = 0;
			for (size_t i = 0; i < n; i++)
				ss += (long double)x[i] * x[i];
			long double s = 1.0L / sqrtl(ss / n + 1e-5L);
			for (size_t i = 0; i < n; i++) {
				long double want = x[i] * s * w[i];
				if (fabsl(ref[i] - want) > 1e-6L * (fabsl(want) + 1e-30L) + 1e-30L)
					fail_msg("rmsnorm n %zu [%zu]: %g vs %Lg", n, i, ref[i], want);
			}
		}
}

static void test_f16_to_f32(void **state)
{
	/* every half, against the scalar path and hand-checked values */
	static uint16_t h[65536];
	static float a[65536], b[65536];
	for (size_t i = 0; i < 65536; i++)
		h[i] = (uint16_t)i;
	for (size_t off = 9; off-- > 0;) { /* every tail of the 8-wide loop; off 0 last */
		vec_f16_to_f32(a, h + off, 65536 - off);
		vec_f16_to_f32_scalar(b, h + off, 65536 - off);
		for (size_t i = 0; i < 65536 - off; i++)
			if (memcmp(&a[i], &b[i], sizeof(float)) && !(isnan(a[i]) && isnan(b[i])))
				fail_msg("half 0x%04x: %a vs scalar %a", (unsigned)h[off + i], a[i], b[i]);
	}
	assert_true(a[0x3c00] == 1.0f && a[0xc000] == -2.0f && a[0x0001] == 0x1p-24f);
	assert_true(isinf(a[0x7c00]) && isnan(a[0x7e00]) && a[0x7bff] == 65504.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rmsnorm),
		cmocka_unit_test(test_f16_to_f32),
		cmocka_unit_test(test_swiglu_matches_scalar),
		cmocka_unit_test(test_swiglu_known_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
