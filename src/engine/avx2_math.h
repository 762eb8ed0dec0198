/*
 * avx2_math.h: AVX2/FMA helpers shared by the engine's vector kernels (attn.c,
 * vec.c, llm/sampler.c): horizontal sum and max of eight floats, and e^x for
 * eight lanes (exp8), with a sixteen-lane AVX-512 twin (exp16) and a scalar
 * one (exp1) that give exp8's bits lane for lane. Internal to src/engine;
 * every vector function carries its target attribute, so the including file
 * needs no -mavx2 and calls them only from code of that target.
 */
#ifndef ATELIER_ENGINE_AVX2_MATH_H
#define ATELIER_ENGINE_AVX2_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^x, x clamped to [-87, 88]: x = n ln2 + r with |r| <= ln2/2, e^r by its
 * Taylor series to r^6 (relative error about 1.2e-7, float's own rounding),
 * times 2^n built in the exponent bits. ln2 is split in a part exact in
 * float and a remainder so n ln2 loses nothing. Below -87 it is e^-87, not
 * 0, and a NaN is taken as -87 (the clamp's max returns its second operand).
 *
 * exp1, exp8 and exp16 are one function in three widths: the same operations
 * in the same order, each rounded once in float (every multiply-add fused),
 * so they return the same bits for the same x; the sampler's probabilities
 * depend on it (sampler_test compares them on every x <= 0, and checks
 * that exp1 never falls as x rises). exp1 is written for those bits, not
 * speed: fmaf is a libm call where the compiler may not emit FMA itself. */
static inline float exp1(float x)
{
	x = x > -87.0f ? x : -87.0f; /* maxps(x, -87) */
	x = x < 88.0f ? x : 88.0f;   /* minps(x, 88) */
	float n = rintf(x * 1.44269504f);
	float r = fmaf(-n, 0.693359375f, x);
	r = fmaf(-n, -2.12194440e-4f, r);
	float p = 1.0f / 720;
	p = fmaf(p, r, 1.0f / 120);
	p = fmaf(p, r, 1.0f / 24);
	p = fmaf(p, r, 1.0f / 6);
	p = fmaf(p, r, 0.5f);
	p = fmaf(p, r, 1.0f);
	p = fmaf(p, r, 1.0f);
	uint32_t e = (uint32_t)((int32_t)n + 127) << 23;
	float s;
	memcpy(&s, &e, sizeof s);
	return p * s;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2_MATH __attribute__((target("avx2,fma")))
#define AVX512_MATH __attribute__((target("avx2,fma,avx512f")))

AVX2_MATH static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

AVX2_MATH static inline float hmax8(__m256 v)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* exp1 for 8 lanes (see exp1). */
AVX2_MATH static inline __m256 exp8(__m256 x)
{
	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
				   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.0f / 720);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* exp1 for 16 lanes: exp8's operations at AVX-512's width (roundscale by 0
 * is round's nearest integer). */
AVX512_MATH static inline __m512 exp16(__m512 x)
{
	x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
	__m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
					_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
	__m512 p = _mm512_set1_ps(1.0f / 720);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	__m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
	return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

#endif
#endif
