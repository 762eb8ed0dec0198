/* quant_test.c: every dot kernel against its scalar reference on random data,
 * and the scalar reference against float dequantization (tensor.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/quant.h"
#include "engine/tensor.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}
static float frand(void) { return (float)(rnd() % 20001) / 10000.0f - 1.0f; }

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* Random bytes for n values of type t, with every half-float scale set to a
 * sane positive value (random bytes there would be inf/nan). */
static void random_row(uint32_t t, uint8_t *w, size_t n)
{
	size_t bytes;
	assert_true(tensor_row_bytes(t, n, &bytes));
	for (size_t i = 0; i < bytes; i++)
		w[i] = (uint8_t)rnd();
	switch (t) {
	case TENSOR_F32:
		for (size_t i = 0; i < n; i++) { float f = frand(); memcpy(w + 4 * i, &f, 4); }
		break;
	case TENSOR_F16:
		for (size_t i = 0; i < n; i++) put16(w + 2 * i, tensor_f32_to_f16(frand()));
		break;
	case TENSOR_BF16:
		for (size_t i = 0; i < n; i++) put16(w + 2 * i, tensor_f32_to_bf16(frand()));
		break;
	case TENSOR_Q8_0:
		for (size_t b = 0; b < n / 32; b++) put16(w + 34 * b, tensor_f32_to_f16(0.01f + 0.01f * fabsf(frand())));
		break;
	case TENSOR_Q4_0:
		for (size_t b = 0; b < n / 32; b++) put16(w + 18 * b, tensor_f32_to_f16(0.05f + 0.05f * fabsf(frand())));
		break;
	case TENSOR_Q4_K:
	case TENSOR_Q5_K: {
		size_t bb = t == TENSOR_Q4_K ? 144 : 176;
		for (size_t b = 0; b < n / 256; b++) {
			put16(w + bb * b, tensor_f32_to_f16(0.001f + 0.001f * fabsf(frand())));
			put16(w + bb * b + 2, tensor_f32_to_f16(0.001f + 0.001f * fabsf(frand())));
		}
		break;
	}
	case TENSOR_Q6_K:
		for (size_t b = 0; b < n / 256; b++) put16(w + 210 * b + 208, tensor_f32_to_f16(0.001f + 0.001f * fabsf(frand())));
		break;
	}
}

static const uint32_t types[] = {TENSOR_F32, TENSOR_F16, TENSOR_BF16, TENSOR_Q8_0, TENSOR_Q4_0,
				 TENSOR_Q4_K, TENSOR_Q5_K, TENSOR_Q6_K};

/* Four rows by m vectors against the scalar kernel; a vector's sums the same
 * bits whatever m (batch invariance), a row's the same whatever rows share
 * the call, and out[i * 4 + r] for i >= m zero. */
static void check_dot4xn(uint32_t t, const struct quant_kernel *kv, const struct quant_kernel *ks, int N)
{
	enum { NMAX = 2048 };
	static uint8_t w[4][NMAX * 4], act[4][NMAX * 8];
	static float x[NMAX];
	for (int r = 0; r < 4; r++)
		random_row(t, w[r], N);
	for (int v = 0; v < 4; v++) {
		for (int i = 0; i < N; i++)
			x[i] = frand();
		ks->to_act(x, act[v], N);
	}
	const void *rows[4] = {w[0], w[1], w[2], w[3]};
	const void *a[4] = {act[0], act[1], act[2], act[3]};
	float full[16];
	kv->dot4xn(N, rows, a, 4, full);
	for (int v = 0; v < 4; v++)
		for (int r = 0; r < 4; r++) {
			float ref = ks->dot(N, w[r], act[v]);
			if (fabsf(full[v * 4 + r] - ref) > 1e-4f * fmaxf(1.0f, fabsf(ref)))
				fail_msg("%s %s dot4xn row %d vector %d: %g vs scalar %g", tensor_type_name(t), kv->isa,
					 r, v, full[v * 4 + r], ref);
		}
	for (size_t m = 1; m <= 3; m++) {
		float got[16];
		kv->dot4xn(N, rows, a, m, got);
		for (int i = 0; i < 16; i++) {
			bool used = (size_t)(i / 4) < m;
			if (used ? got[i] != full[i] : got[i] != 0.0f)
				fail_msg("%s %s dot4xn m=%zu out[%d] %.9g (m=4 gave %.9g)", tensor_type_name(t), kv->isa,
					 m, i, got[i], full[i]);
		}
	}
	/* the last group of a matrix repeats its last row: the others unchanged */
	const void *rep[4] = {w[0], w[1], w[1], w[1]};
	float got[16];
	kv->dot4xn(N, rep, a, 4, got);
	for (int v = 0; v < 4; v++)
		for (int r = 0; r < 4; r++)
			if (got[v * 4 + r] != full[v * 4 + (r < 1 ? r : 1)])
				fail_msg("%s %s dot4xn with a repeated row: out[%d] %.9g vs %.9g", tensor_type_name(t),
					 kv->isa, v * 4 + r, got[v * 4 + r], full[v * 4 + (r < 1 ? r : 1)]);
	/* a short row (the masked tail only) */
	kv->dot4xn(5, rows, a, 1, got);
	for (int r = 0; r < 4; r++) {
		float ref = ks->dot(5, w[r], act[0]);
		if (fabsf(got[r] - ref) > 1e-5f * fmaxf(1.0f, fabsf(ref)))
			fail_msg("%s %s dot4xn n=5 row %d: %g vs scalar %g", tensor_type_name(t), kv->isa, r, got[r], ref);
	}
}

static void check_type(uint32_t t, const struct quant_kernel *(*simd)(uint32_t))
{
	enum { NMAX = 2048 };
	static uint8_t w[NMAX * 4];
	static float x[NMAX], wf[NMAX];
	static uint8_t act[NMAX * 8];
	/* 33 blocks of 32 for the 32-element types: an odd count reaches the
	 * SIMD kernels' one-block tail as well as their two-block loop; float
	 * rows get an odd length so the SIMD kernels run their scalar tails */
	int N = 1056;
	if (t == TENSOR_Q4_K || t == TENSOR_Q5_K || t == TENSOR_Q6_K)
		N = 1024;
	else if (t == TENSOR_F32 || t == TENSOR_F16 || t == TENSOR_BF16)
		N = 1063;
	for (int trial = 0; trial < 20; trial++) {
		random_row(t, w, N);
		for (int i = 0; i < N; i++)
			x[i] = frand();
		const struct quant_kernel *ks = quant_kernel_scalar(t);
		assert_non_null(ks);
		ks->to_act(x, act, N);
		float ref = ks->dot(N, w, act);
		if (simd) {
			const struct quant_kernel *kv = simd(t);
			if (!kv) /* no such kernel (CPU or type): nothing to compare */
				return;
			assert_int_equal(kv->act, ks->act);
			float got = kv->dot(N, w, act);
			float tol = 1e-4f * fmaxf(1.0f, fabsf(ref));
			if (fabsf(got - ref) > tol)
				fail_msg("%s %s %g vs scalar %g", tensor_type_name(t), kv->isa, got, ref);
			if (kv->dot4) {
				/* four activation vectors: this one and three others */
				static uint8_t act4[3][NMAX * 8];
				const void *a4[4] = {act, act4[0], act4[1], act4[2]};
				float ref4[4] = {ref}, got4[4];
				for (int v = 0; v < 3; v++) {
					for (int i = 0; i < N; i++)
						x[i] = frand();
					ks->to_act(x, act4[v], N);
					ref4[v + 1] = ks->dot(N, w, act4[v]);
				}
				kv->dot4(N, w, a4, got4);
				for (int v = 0; v < 4; v++)
					if (fabsf(got4[v] - ref4[v]) > 1e-4f * fmaxf(1.0f, fabsf(ref4[v])))
						fail_msg("%s %s dot4[%d] %g vs scalar %g", tensor_type_name(t), kv->isa, v,
							 got4[v], ref4[v]);
				if (kv->dot2x4) {
					/* and a second weight row against the same four */
					static uint8_t w2[NMAX * 4];
					random_row(t, w2, N);
					const void *rows[2] = {w, w2};
					float ref8[8], got8[8];
					for (int v = 0; v < 4; v++) {
						ref8[v] = ref4[v];
						ref8[4 + v] = ks->dot(N, w2, a4[v]);
					}
					kv->dot2x4(N, rows, a4, got8);
					for (int v = 0; v < 8; v++)
						if (fabsf(got8[v] - ref8[v]) > 1e-4f * fmaxf(1.0f, fabsf(ref8[v])))
							fail_msg("%s %s dot2x4[%d] %g vs scalar %g", tensor_type_name(t),
								 kv->isa, v, got8[v], ref8[v]);
					/* the last 1..3 vectors of a batch: only out[r * 4 + i < m] written */
					for (size_t m = 1; kv->dot2xn && m <= 3; m++) {
						float gotm[8];
						for (int v = 0; v < 8; v++)
							gotm[v] = -12345.0f;
						kv->dot2xn(N, rows, a4, m, gotm);
						for (int v = 0; v < 8; v++) {
							bool used = (size_t)(v % 4) < m;
							if (!used && gotm[v] != -12345.0f)
								fail_msg("%s %s dot2xn m=%zu wrote out[%d]", tensor_type_name(t),
									 kv->isa, m, v);
							/* bit for bit what dot2x4 gives the same vector: a
							 * token's result does not depend on its batch */
							if (used && gotm[v] != got8[v])
								fail_msg("%s %s dot2xn m=%zu [%d] %.9g vs dot2x4 %.9g",
									 tensor_type_name(t), kv->isa, m, v, gotm[v], got8[v]);
						}
					}
				}
			}
			if (kv->dot4xn)
				check_dot4xn(t, kv, ks, N);
		} else {
			/* Scalar kernel against dequantized weights times float activations:
			 * only activation rounding separates them. */
			assert_true(tensor_dequant_row(t, w, wf, N));
			double exact = 0, mag = 0;
			for (int i = 0; i < N; i++) {
				exact += (double)wf[i] * x[i];
				mag += fabs((double)wf[i] * x[i]);
			}
			double tol = (ks->act == QUANT_ACT_F32 ? 1e-5 : 1.5e-2) * mag + 1e-6;
			if (fabs(ref - exact) > tol)
				fail_msg("%s scalar %g vs dequantized %g (tol %g)", tensor_type_name(t), ref, exact, tol);
		}
	}
}

static void test_scalar_matches_dequant(void **state)
{
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		check_type(types[i], NULL);
}

static void test_avx2_matches_scalar(void **state)
{
	if (!quant_kernel_avx2(TENSOR_Q8_0))
		skip();
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		check_type(types[i], quant_kernel_avx2);
}

static void test_vnni_matches_scalar(void **state)
{
	if (!quant_kernel_vnni(TENSOR_Q8_0))
		skip();
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		check_type(types[i], quant_kernel_vnni);
	/* the kernel the engine picks on this CPU is the VNNI one */
	assert_string_equal(quant_kernel(TENSOR_Q4_0)->isa, "avx512vnni");
}

static void test_avx512_matches_scalar(void **state)
{
	if (!quant_kernel_avx512(TENSOR_F16))
		skip();
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		check_type(types[i], quant_kernel_avx512);
	/* the kernel the engine picks for float weights on this CPU */
	assert_string_equal(quant_kernel(TENSOR_F16)->isa, "avx512");
	assert_non_null(quant_kernel(TENSOR_BF16)->dot4xn);
}

static void test_f16_roundtrip(void **state)
{
	assert_int_equal(tensor_f32_to_f16(1.0f), 0x3c00);
	assert_int_equal(tensor_f32_to_f16(-2.0f), 0xc000);
	assert_int_equal(tensor_f32_to_f16(65504.0f), 0x7bff);
	assert_int_equal(tensor_f32_to_f16(1e6f), 0x7c00);
	assert_true(tensor_f16_to_f32(0x0001) > 5.9e-8f && tensor_f16_to_f32(0x0001) < 6.0e-8f);
	for (uint32_t h = 0; h < 0x7c00; h++)
		assert_int_equal(tensor_f32_to_f16(tensor_f16_to_f32((uint16_t)h)), h);
	assert_int_equal(tensor_f32_to_bf16(1.0f), 0x3f80);
	assert_true(tensor_bf16_to_f32(0x3f80) == 1.0f);
}

static void test_q8_0_known_block(void **state)
{
	uint8_t blk[34] = {0};
	put16(blk, tensor_f32_to_f16(0.5f));
	for (int i = 0; i < 32; i++)
		blk[2 + i] = (uint8_t)(int8_t)(i - 16);
	float out[32];
	assert_true(tensor_dequant_row(TENSOR_Q8_0, blk, out, 32));
	for (int i = 0; i < 32; i++)
		assert_true(out[i] == 0.5f * (float)(i - 16));
	assert_false(tensor_dequant_row(TENSOR_Q2_K, blk, out, 256));
	size_t b;
	assert_false(tensor_row_bytes(TENSOR_Q8_0, 33, &b));
	assert_true(tensor_row_bytes(TENSOR_Q6_K, 512, &b));
	assert_int_equal(b, 420);
}

static void test_unsupported_kernels(void **state)
{
	assert_null(quant_kernel(TENSOR_Q2_K));
	assert_null(quant_kernel(999));
	assert_non_null(quant_kernel(TENSOR_Q4_K));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_matches_dequant),
		cmocka_unit_test(test_avx2_matches_scalar),
		cmocka_unit_test(test_vnni_matches_scalar),
		cmocka_unit_test(test_avx512_matches_scalar),
		cmocka_unit_test(test_f16_roundtrip),
		cmocka_unit_test(test_q8_0_known_block),
		cmocka_unit_test(test_unsupported_kernels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
