/* vec_test.c: vec_swiglu (the AVX2 path on CPUs that have it) against the
 * scalar reference, over lengths that leave every tail and over inputs from
 * deep negative (silu underflows towards 0) to large positive (silu = x). */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swiglu_matches_scalar),
		cmocka_unit_test(test_swiglu_known_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
