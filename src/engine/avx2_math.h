/*
 * avx2_math.h: AVX2/FMA helpers shared by the engine's vector kernels (attn.c,
 * vec.c): horizontal sum and max of eight floats, and e^x for eight lanes.
 * Internal to src/engine; every function carries the target attribute, so
 * the including file needs no -mavx2 and calls them only from AVX2 code.
 */
#ifndef ATELIER_ENGINE_AVX2_MATH_H
#define ATELIER_ENGINE_AVX2_MATH_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2_MATH __attribute__((target("avx2,fma")))

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

/* e^x for 8 lanes, x clamped to [-87, 88]: x = n ln2 + r with |r| <= ln2/2,
 * e^r by its Taylor series to r^6 (relative error about 1.2e-7, float's own
 * rounding), times 2^n built in the exponent bits. ln2 is split in a part
 * exact in float and a remainder so n ln2 loses nothing. */
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

#endif
#endif
