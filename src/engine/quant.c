/*
 * quant.c: scalar and AVX2 dot-product kernels per weight type, and the
 * quantization of activations to Q8_0 / Q8_K.
 *
 * The AVX2 functions carry __attribute__((target(...))) rather than building
 * the file with -mavx2, so the rest of the file (and the scalar fallbacks)
 * stays runnable on any x86-64 and no Makefile rule is needed; which table is
 * used is decided once at run time with __builtin_cpu_supports. The block
 * layouts are described in tensor.c; the scalar kernels here follow them
 * literally and are what tests/unit/engine/quant_test.c checks the AVX2 ones
 * against.
 */
#include "engine/quant.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tensor.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define QUANT_X86 1
#endif

/* Internal activation blocks. */
struct act_q8_0 {
	float d;
	int32_t nsum; /* -sum(q): Q4_0 kernels multiply unsigned nibbles and subtract 8 * sum(q) */
	int8_t q[32];
};
struct act_q8_k {
	float d;
	int8_t q[256];
	int16_t bsum[16];
};

size_t quant_act_block(enum quant_act act)
{
	return act == QUANT_ACT_Q8_0 ? 32 : act == QUANT_ACT_Q8_K ? 256 : 1;
}

size_t quant_act_bytes(enum quant_act act, size_t n)
{
	switch (act) {
	case QUANT_ACT_Q8_0: return n / 32 * sizeof(struct act_q8_0);
	case QUANT_ACT_Q8_K: return n / 256 * sizeof(struct act_q8_k);
	default: return n * sizeof(float);
	}
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/* ---- activation conversion (shared by both ISAs: cheap next to the dots) ---- */

static void act_f32(const float *x, void *out, size_t n)
{
	memcpy(out, x, n * sizeof(float));
}

static void act_q8_0(const float *x, void *out, size_t n)
{
	struct act_q8_0 *b = out;
	for (size_t i = 0; i < n / 32; i++, x += 32) {
		float amax = 0;
		for (int j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		float d = amax / 127.0f, id = d ? 1.0f / d : 0;
		b[i].d = d;
		int sum = 0;
		for (int j = 0; j < 32; j++) {
			b[i].q[j] = (int8_t)lrintf(x[j] * id);
			sum += b[i].q[j];
		}
		b[i].nsum = -sum;
	}
}

static void act_q8_k(const float *x, void *out, size_t n)
{
	struct act_q8_k *b = out;
	for (size_t i = 0; i < n / 256; i++, x += 256) {
		float amax = 0;
		for (int j = 0; j < 256; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		float d = amax / 127.0f, id = d ? 1.0f / d : 0;
		b[i].d = d;
		for (int j = 0; j < 256; j++)
			b[i].q[j] = (int8_t)lrintf(x[j] * id);
		for (int g = 0; g < 16; g++) {
			int s = 0;
			for (int j = 0; j < 16; j++)
				s += b[i].q[16 * g + j];
			b[i].bsum[g] = (int16_t)s;
		}
	}
}

/* ---- scalar reference kernels ---- */

static float dot_f32(size_t n, const void *w, const void *a)
{
	const float *x = w, *y = a;
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i] * y[i];
	return s;
}

static float dot_f16(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const float *y = a;
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += tensor_f16_to_f32(rd16(x + 2 * i)) * y[i];
	return s;
}

static float dot_bf16(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const float *y = a;
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += tensor_bf16_to_f32(rd16(x + 2 * i)) * y[i];
	return s;
}

static float dot_q8_0(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_0 *y = a;
	float s = 0;
	for (size_t b = 0; b < n / 32; b++, x += 34) {
		int si = 0;
		for (int j = 0; j < 32; j++)
			si += (int8_t)x[2 + j] * y[b].q[j];
		s += tensor_f16_to_f32(rd16(x)) * y[b].d * (float)si;
	}
	return s;
}

static float dot_q4_0(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_0 *y = a;
	float s = 0;
	for (size_t b = 0; b < n / 32; b++, x += 18) {
		int si = 0;
		for (int j = 0; j < 16; j++) {
			si += ((x[2 + j] & 0xF) - 8) * y[b].q[j];
			si += ((x[2 + j] >> 4) - 8) * y[b].q[j + 16];
		}
		s += tensor_f16_to_f32(rd16(x)) * y[b].d * (float)si;
	}
	return s;
}

static void scale_min_k4(int j, const uint8_t *q, int *sc, int *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

/* Q4_K and Q5_K: sum over sub-blocks of d*sc*sum(q*a) - dmin*m*sum(a). */
static float dot_q45_k(size_t n, const void *w, const void *a, bool five)
{
	const uint8_t *x = w;
	const struct act_q8_k *y = a;
	size_t bb = five ? 176 : 144;
	float s = 0;
	for (size_t b = 0; b < n / 256; b++, x += bb) {
		const uint8_t *scales = x + 4, *qh = x + 16, *qs = five ? x + 48 : x + 16;
		int sumq = 0, summ = 0;
		for (int c = 0; c < 4; c++) {
			int s1, m1, s2, m2, d1 = 0, d2 = 0;
			scale_min_k4(2 * c, scales, &s1, &m1);
			scale_min_k4(2 * c + 1, scales, &s2, &m2);
			for (int l = 0; l < 32; l++) {
				int lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
				if (five) {
					lo += ((qh[l] >> (2 * c)) & 1) << 4;
					hi += ((qh[l] >> (2 * c + 1)) & 1) << 4;
				}
				d1 += lo * y[b].q[64 * c + l];
				d2 += hi * y[b].q[64 * c + 32 + l];
			}
			sumq += s1 * d1 + s2 * d2;
			summ += m1 * (y[b].bsum[4 * c] + y[b].bsum[4 * c + 1]) +
				m2 * (y[b].bsum[4 * c + 2] + y[b].bsum[4 * c + 3]);
		}
		float d = tensor_f16_to_f32(rd16(x)), dmin = tensor_f16_to_f32(rd16(x + 2));
		s += y[b].d * (d * (float)sumq - dmin * (float)summ);
	}
	return s;
}

static float dot_q4_k(size_t n, const void *w, const void *a) { return dot_q45_k(n, w, a, false); }
static float dot_q5_k(size_t n, const void *w, const void *a) { return dot_q45_k(n, w, a, true); }

static float dot_q6_k(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_k *y = a;
	float s = 0;
	for (size_t b = 0; b < n / 256; b++, x += 210) {
		const uint8_t *ql = x, *qh = x + 128;
		const int8_t *sc = (const int8_t *)(x + 192);
		const int8_t *q8 = y[b].q;
		int sum = 0;
		for (int h = 0; h < 2; h++) {
			for (int l = 0; l < 32; l++) {
				int is = l / 16;
				int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
				int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				sum += sc[is] * q1 * q8[l] + sc[is + 2] * q2 * q8[l + 32] + sc[is + 4] * q3 * q8[l + 64] +
				       sc[is + 6] * q4 * q8[l + 96];
			}
			ql += 64;
			qh += 32;
			sc += 8;
			q8 += 128;
		}
		s += tensor_f16_to_f32(rd16(x + 208)) * y[b].d * (float)sum;
	}
	return s;
}

static const struct quant_kernel scalar[TENSOR__MAX] = {
	[TENSOR_F32] = {QUANT_ACT_F32, act_f32, dot_f32, NULL, "scalar"},
	[TENSOR_F16] = {QUANT_ACT_F32, act_f32, dot_f16, NULL, "scalar"},
	[TENSOR_BF16] = {QUANT_ACT_F32, act_f32, dot_bf16, NULL, "scalar"},
	[TENSOR_Q8_0] = {QUANT_ACT_Q8_0, act_q8_0, dot_q8_0, NULL, "scalar"},
	[TENSOR_Q4_0] = {QUANT_ACT_Q8_0, act_q8_0, dot_q4_0, NULL, "scalar"},
	[TENSOR_Q4_K] = {QUANT_ACT_Q8_K, act_q8_k, dot_q4_k, NULL, "scalar"},
	[TENSOR_Q5_K] = {QUANT_ACT_Q8_K, act_q8_k, dot_q5_k, NULL, "scalar"},
	[TENSOR_Q6_K] = {QUANT_ACT_Q8_K, act_q8_k, dot_q6_k, NULL, "scalar"},
};

/* ---- AVX2 / FMA / F16C kernels ---- */
#ifdef QUANT_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* Weight rows stream from memory once per token. The Q8_0/Q4_0 loops ask for
 * the bytes 2 KiB ahead, so more cache-line misses are in flight than the
 * hardware prefetcher alone keeps: measured on TinyLlama's shapes, 2 threads,
 * generation went from 10.9 to 16.2 tok/s (Q8_0) and 16.5 to 22.6 (Q4_0);
 * 512 B, 1 KiB, 4 KiB and 8 KiB were each slower. */
#define PREFETCH_AHEAD 2048

AVX2 static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* The eight horizontal sums of a0..a7 as one vector (lane j: a_j's sum):
 * a hadd tree then the two 128-bit halves added, 10 instructions where eight
 * hsum8 take about 40. */
AVX2 static inline __m256 hsum8x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6,
				  __m256 a7)
{
	__m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
	__m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
	return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* Sum of products of signed bytes x*y into 8 int32 lanes. */
AVX2 static inline __m256i dot_i8(__m256i x, __m256i y)
{
	__m256i ax = _mm256_sign_epi8(x, x);
	__m256i sy = _mm256_sign_epi8(y, x);
	return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

AVX2 static float dot_f32_avx2(size_t n, const void *w, const void *a)
{
	const float *x = w, *y = a;
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
	}
	float s = hsum8(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		s += x[i] * y[i];
	return s;
}

AVX2 static float dot_f16_avx2(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const float *y = a;
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 2 * i)));
		__m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 2 * i + 16)));
		s0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y + i), s0);
		s1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y + i + 8), s1);
	}
	float s = hsum8(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		s += tensor_f16_to_f32(rd16(x + 2 * i)) * y[i];
	return s;
}

AVX2 static float dot_bf16_avx2(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const float *y = a;
	__m256 s0 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + 2 * i)));
		__m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
		s0 = _mm256_fmadd_ps(wf, _mm256_loadu_ps(y + i), s0);
	}
	float s = hsum8(s0);
	for (; i < n; i++)
		s += tensor_bf16_to_f32(rd16(x + 2 * i)) * y[i];
	return s;
}

/* Float weight rows against four activation vectors: each weight vector is
 * loaded (and widened) once for the four, with two accumulators per vector
 * to keep both FMA ports busy. LOADW(i) gives 8 weights as floats. */
#define DOT4_FLOAT(name, LOADW, scalar_w)                                                                  \
	AVX2 static void name(size_t n, const void *w, const void *const a[4], float out[4])           \
	{                                                                                                \
		const uint8_t *x = w;                                                                    \
		const float *y0 = a[0], *y1 = a[1], *y2 = a[2], *y3 = a[3];                              \
		__m256 s00 = _mm256_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, \
		       s30 = s00, s31 = s00;                                                             \
		size_t i = 0;                                                                            \
		for (; i + 16 <= n; i += 16) {                                                           \
			__m256 w0 = LOADW(i), w1 = LOADW(i + 8);                                         \
			s00 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y0 + i), s00);                         \
			s01 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y0 + i + 8), s01);                     \
			s10 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y1 + i), s10);                         \
			s11 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y1 + i + 8), s11);                     \
			s20 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y2 + i), s20);                         \
			s21 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y2 + i + 8), s21);                     \
			s30 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y3 + i), s30);                         \
			s31 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y3 + i + 8), s31);                     \
		}                                                                                        \
		out[0] = hsum8(_mm256_add_ps(s00, s01));                                                 \
		out[1] = hsum8(_mm256_add_ps(s10, s11));                                                 \
		out[2] = hsum8(_mm256_add_ps(s20, s21));                                                 \
		out[3] = hsum8(_mm256_add_ps(s30, s31));                                                 \
		for (; i < n; i++) {                                                                     \
			float wi = scalar_w(i);                                                          \
			out[0] += wi * y0[i];                                                            \
			out[1] += wi * y1[i];                                                            \
			out[2] += wi * y2[i];                                                            \
			out[3] += wi * y3[i];                                                            \
		}                                                                                        \
	}

#define LOADW_F32(i) _mm256_loadu_ps((const float *)x + (i))
#define SCALARW_F32(i) ((const float *)x)[i]
#define LOADW_F16(i) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 2 * (i))))
#define SCALARW_F16(i) tensor_f16_to_f32(rd16(x + 2 * (i)))
#define LOADW_BF16(i)                                                                                   \
	_mm256_castsi256_ps(                                                                             \
		_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + 2 * (i)))), 16))
#define SCALARW_BF16(i) tensor_bf16_to_f32(rd16(x + 2 * (i)))
DOT4_FLOAT(dot4_f32_avx2, LOADW_F32, SCALARW_F32)
DOT4_FLOAT(dot4_f16_avx2, LOADW_F16, SCALARW_F16)
DOT4_FLOAT(dot4_bf16_avx2, LOADW_BF16, SCALARW_BF16)

/* Two rows by M vectors, 8 values per step: 2 weight and M activation loads
 * feed 2M independent FMA chains (dot4 needs 5 loads per 4 FMAs). M is a
 * constant in every caller, so the loops over q unroll and the accumulators
 * stay in registers. */
#define DOT2XM_FLOAT(name, LOADW, scalar_w)                                                               \
	AVX2 static inline __attribute__((always_inline)) void name(size_t n, const void *const w[2],  \
								    const void *const a[4], int M, float out[8]) \
	{                                                                                                \
		const uint8_t *x0 = w[0], *x1 = w[1];                                                    \
		const float *y[4];                                                                       \
		__m256 s0[4], s1[4];                                                                     \
		_Pragma("GCC unroll 4") for (int q = 0; q < M; q++) {                                                            \
			y[q] = a[q];                                                                     \
			s0[q] = s1[q] = _mm256_setzero_ps();                                             \
		}                                                                                        \
		size_t i = 0;                                                                            \
		for (; i + 8 <= n; i += 8) {                                                             \
			const uint8_t *x = x0;                                                           \
			__m256 w0 = LOADW(i);                                                            \
			x = x1;                                                                          \
			__m256 w1 = LOADW(i);                                                            \
			_Pragma("GCC unroll 4") for (int q = 0; q < M; q++) {                                                    \
				__m256 v = _mm256_loadu_ps(y[q] + i);                                    \
				s0[q] = _mm256_fmadd_ps(w0, v, s0[q]);                                   \
				s1[q] = _mm256_fmadd_ps(w1, v, s1[q]);                                   \
			}                                                                                \
		}                                                                                        \
		/* one reduction tree whatever M, so a token's result does not      \
		 * depend on how many others share its pass (batch invariance) */  \
		for (int q = M; q < 4; q++)                                                              \
			s0[q] = s1[q] = _mm256_setzero_ps();                                             \
		if (M == 4)                                                                              \
			_mm256_storeu_ps(out, hsum8x8(s0[0], s0[1], s0[2], s0[3], s1[0], s1[1], s1[2], s1[3])); \
		else {                                                                                   \
			float all[8];                                                                    \
			_mm256_storeu_ps(all, hsum8x8(s0[0], s0[1], s0[2], s0[3], s1[0], s1[1], s1[2], s1[3])); \
			for (int q = 0; q < M; q++) {                                                    \
				out[q] = all[q];                                                         \
				out[4 + q] = all[4 + q];                                                 \
			}                                                                                \
		}                                                                                        \
		for (; i < n; i++) {                                                                     \
			const uint8_t *x = x0;                                                           \
			float u0 = scalar_w(i);                                                          \
			x = x1;                                                                          \
			float u1 = scalar_w(i);                                                          \
			_Pragma("GCC unroll 4") for (int q = 0; q < M; q++) {                                                    \
				out[q] += u0 * y[q][i];                                                  \
				out[4 + q] += u1 * y[q][i];                                              \
			}                                                                                \
		}                                                                                        \
	}
DOT2XM_FLOAT(dot2xm_f32, LOADW_F32, SCALARW_F32)
DOT2XM_FLOAT(dot2xm_f16, LOADW_F16, SCALARW_F16)
DOT2XM_FLOAT(dot2xm_bf16, LOADW_BF16, SCALARW_BF16)

/* The fixed-M entry points: dot2x4, and dot2xn switching to an M of 1..3. */
#define DOT2X_FLOAT(type)                                                                                 \
	AVX2 static void dot2x4_##type##_avx2(size_t n, const void *const w[2], const void *const a[4],  \
					      float out[8])                                              \
	{                                                                                                \
		dot2xm_##type(n, w, a, 4, out);                                                          \
	}                                                                                                \
	AVX2 static void dot2xn_##type##_avx2(size_t n, const void *const w[2], const void *const a[4],  \
					      size_t m, float out[8])                                    \
	{                                                                                                \
		if (m == 1)                                                                              \
			dot2xm_##type(n, w, a, 1, out);                                                  \
		else if (m == 2)                                                                         \
			dot2xm_##type(n, w, a, 2, out);                                                  \
		else if (m == 3)                                                                         \
			dot2xm_##type(n, w, a, 3, out);                                                  \
		else                                                                                     \
			dot2xm_##type(n, w, a, 4, out);                                                  \
	}
DOT2X_FLOAT(f32)
DOT2X_FLOAT(f16)
DOT2X_FLOAT(bf16)

AVX2 static inline float f16s(const uint8_t *p)
{
	return _cvtsh_ss(rd16(p));
}

/* Two blocks per iteration into two accumulators: the FMA chain of one
 * accumulator would otherwise bound the loop. */
AVX2 static float dot_q8_0_avx2(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_0 *y = a;
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t nb = n / 32, b = 0;
	for (; b + 2 <= nb; b += 2, x += 68) {
		_mm_prefetch((const char *)x + PREFETCH_AHEAD, _MM_HINT_T0);
		_mm_prefetch((const char *)x + PREFETCH_AHEAD + 64, _MM_HINT_T0);
		__m256i p0 = dot_i8(_mm256_loadu_si256((const __m256i *)(x + 2)),
				    _mm256_loadu_si256((const __m256i *)y[b].q));
		__m256i p1 = dot_i8(_mm256_loadu_si256((const __m256i *)(x + 36)),
				    _mm256_loadu_si256((const __m256i *)y[b + 1].q));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p0), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x + 34) * y[b + 1].d), _mm256_cvtepi32_ps(p1), acc1);
	}
	for (; b < nb; b++, x += 34) {
		__m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)(x + 2)),
				   _mm256_loadu_si256((const __m256i *)y[b].q));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p), acc0);
	}
	return hsum8(_mm256_add_ps(acc0, acc1));
}

/* The 32 nibbles of a Q4_0 block as unsigned bytes 0..15: low nibbles
 * (elements 0..15) in the low lane, high nibbles (16..31) in the high. */
AVX2 static inline __m256i q4_0_nibbles(const uint8_t *qs)
{
	__m128i t = _mm_loadu_si128((const __m128i *)qs);
	return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0xF));
}

/* Q4_0 weights are nibble - 8. The nibbles are unsigned, so they multiply
 * the signed activations directly (maddubs: unsigned x signed, at most
 * 2 * 15 * 127 per pair, no saturation); each of the 8 int32 lanes then
 * adds -sum(q), taking 8 * sum(q) off the block's total: the same integer
 * as the scalar kernel, with no sign juggling. */
AVX2 static float dot_q4_0_avx2(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_0 *y = a;
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t nb = n / 32, b = 0;
	for (; b + 2 <= nb; b += 2, x += 36) {
		_mm_prefetch((const char *)x + PREFETCH_AHEAD, _MM_HINT_T0);
		__m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q4_0_nibbles(x + 2),
								    _mm256_loadu_si256((const __m256i *)y[b].q)), ones);
		__m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q4_0_nibbles(x + 20),
								    _mm256_loadu_si256((const __m256i *)y[b + 1].q)), ones);
		p0 = _mm256_add_epi32(p0, _mm256_set1_epi32(y[b].nsum));
		p1 = _mm256_add_epi32(p1, _mm256_set1_epi32(y[b + 1].nsum));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p0), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x + 18) * y[b + 1].d), _mm256_cvtepi32_ps(p1), acc1);
	}
	for (; b < nb; b++, x += 18) {
		__m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q4_0_nibbles(x + 2),
								   _mm256_loadu_si256((const __m256i *)y[b].q)), ones);
		p = _mm256_add_epi32(p, _mm256_set1_epi32(y[b].nsum));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p), acc0);
	}
	return hsum8(_mm256_add_ps(acc0, acc1));
}

AVX2 static float dot_q45_k_avx2(size_t n, const void *w, const void *a, bool five)
{
	const uint8_t *x = w;
	const struct act_q8_k *y = a;
	size_t bb = five ? 176 : 144;
	const __m256i m4 = _mm256_set1_epi8(0xF);
	__m256 acc = _mm256_setzero_ps();
	float accm = 0;
	for (size_t b = 0; b < n / 256; b++, x += bb) {
		const uint8_t *scales = x + 4, *qs = five ? x + 48 : x + 16;
		int sc[8], m[8];
		for (int j = 0; j < 8; j++)
			scale_min_k4(j, scales, &sc[j], &m[j]);
		int summ = 0;
		for (int j = 0; j < 8; j++)
			summ += m[j] * (y[b].bsum[2 * j] + y[b].bsum[2 * j + 1]);
		__m256i qh = five ? _mm256_loadu_si256((const __m256i *)(x + 16)) : _mm256_setzero_si256();
		__m256i sumi = _mm256_setzero_si256();
		for (int c = 0; c < 4; c++) {
			__m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
			__m256i lo = _mm256_and_si256(bits, m4);
			__m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
			if (five) {
				__m256i bl = _mm256_set1_epi8((char)(1 << (2 * c)));
				__m256i bh = _mm256_set1_epi8((char)(1 << (2 * c + 1)));
				__m256i sixteen = _mm256_set1_epi8(16);
				lo = _mm256_or_si256(lo, _mm256_and_si256(
							     _mm256_cmpeq_epi8(_mm256_and_si256(qh, bl), bl), sixteen));
				hi = _mm256_or_si256(hi, _mm256_and_si256(
							     _mm256_cmpeq_epi8(_mm256_and_si256(qh, bh), bh), sixteen));
			}
			__m256i y0 = _mm256_loadu_si256((const __m256i *)(y[b].q + 64 * c));
			__m256i y1 = _mm256_loadu_si256((const __m256i *)(y[b].q + 64 * c + 32));
			__m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_set1_epi16((short)sc[2 * c]));
			__m256i p1 =
				_mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_set1_epi16((short)sc[2 * c + 1]));
			sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
		}
		float d = f16s(x) * y[b].d, dmin = f16s(x + 2) * y[b].d;
		acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
		accm += dmin * (float)summ;
	}
	return hsum8(acc) - accm;
}

AVX2 static float dot_q4_k_avx2(size_t n, const void *w, const void *a) { return dot_q45_k_avx2(n, w, a, false); }
AVX2 static float dot_q5_k_avx2(size_t n, const void *w, const void *a) { return dot_q45_k_avx2(n, w, a, true); }

AVX2 static float dot_q6_k_avx2(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_k *y = a;
	const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
	__m256 acc = _mm256_setzero_ps();
	float accoff = 0;
	for (size_t b = 0; b < n / 256; b++, x += 210) {
		const uint8_t *ql = x, *qhp = x + 128;
		const int8_t *sc = (const int8_t *)(x + 192);
		int off = 0;
		for (int j = 0; j < 16; j++)
			off += sc[j] * y[b].bsum[j];
		__m256i sumi = _mm256_setzero_si256();
		for (int h = 0; h < 2; h++) {
			__m256i l0 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h));
			__m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32));
			__m256i qh = _mm256_loadu_si256((const __m256i *)(qhp + 32 * h));
			__m256i q[4];
			q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
			q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
					       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
			q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
					       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
			q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
					       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
			for (int k = 0; k < 4; k++) {
				__m256i yy = _mm256_loadu_si256((const __m256i *)(y[b].q + 128 * h + 32 * k));
				__m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[8 * h + 2 * k + 1]),
							       _mm_set1_epi16(sc[8 * h + 2 * k]));
				sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], yy), scv));
			}
		}
		/* The stored values are q+32; subtract 32 * sum(sc * a) per 16-group. */
		__m256 fs = _mm256_cvtepi32_ps(sumi);
		float d = f16s(x + 208) * y[b].d;
		acc = _mm256_fmadd_ps(_mm256_set1_ps(d), fs, acc);
		accoff += d * 32.0f * (float)off;
	}
	return hsum8(acc) - accoff;
}


/* One weight block against four activation vectors: the weight bytes are
 * loaded (and for Q4_0 unpacked) once; four independent accumulators. The
 * per-block integer sums are those of the one-vector kernels. */
#define DOT4_BODY(BYTES, PREP, PAIR)                                                        \
	const uint8_t *x = w;                                                                      \
	const struct act_q8_0 *y0 = a[0], *y1 = a[1], *y2 = a[2], *y3 = a[3];                     \
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),      \
	       s3 = _mm256_setzero_ps();                                                           \
	for (size_t b = 0; b < n / 32; b++, x += (BYTES)) {                                        \
		_mm_prefetch((const char *)x + PREFETCH_AHEAD, _MM_HINT_T0);                        \
		PREP;                                                                              \
		__m256 dx = _mm256_set1_ps(f16s(x));                                               \
		s0 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(y0[b].d)),                   \
				     _mm256_cvtepi32_ps(PAIR(y0)), s0);                             \
		s1 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(y1[b].d)),                   \
				     _mm256_cvtepi32_ps(PAIR(y1)), s1);                             \
		s2 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(y2[b].d)),                   \
				     _mm256_cvtepi32_ps(PAIR(y2)), s2);                             \
		s3 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(y3[b].d)),                   \
				     _mm256_cvtepi32_ps(PAIR(y3)), s3);                             \
	}                                                                                          \
	out[0] = hsum8(s0);                                                                        \
	out[1] = hsum8(s1);                                                                        \
	out[2] = hsum8(s2);                                                                        \
	out[3] = hsum8(s3)

#define YQ(y) _mm256_loadu_si256((const __m256i *)(y)[b].q)
#define Q8_PAIR_AVX2(y) _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(YQ(y), qx)), ones)
#define Q4_PAIR_AVX2(y) \
	_mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(u, YQ(y)), ones), _mm256_set1_epi32((y)[b].nsum))

AVX2 static void dot4_q8_0_avx2(size_t n, const void *w, const void *const a[4], float out[4])
{
	const __m256i ones = _mm256_set1_epi16(1);
	DOT4_BODY(34,
		  __m256i qx = _mm256_loadu_si256((const __m256i *)(x + 2)); __m256i ax = _mm256_sign_epi8(qx, qx),
		  Q8_PAIR_AVX2);
}

AVX2 static void dot4_q4_0_avx2(size_t n, const void *w, const void *const a[4], float out[4])
{
	const __m256i ones = _mm256_set1_epi16(1);
	DOT4_BODY(18, __m256i u = q4_0_nibbles(x + 2), Q4_PAIR_AVX2);
}

static const struct quant_kernel avx2[TENSOR__MAX] = {
	[TENSOR_F32] = {QUANT_ACT_F32, act_f32, dot_f32_avx2, dot4_f32_avx2, "avx2", dot2x4_f32_avx2, dot2xn_f32_avx2},
	[TENSOR_F16] = {QUANT_ACT_F32, act_f32, dot_f16_avx2, dot4_f16_avx2, "avx2", dot2x4_f16_avx2, dot2xn_f16_avx2},
	[TENSOR_BF16] = {QUANT_ACT_F32, act_f32, dot_bf16_avx2, dot4_bf16_avx2, "avx2", dot2x4_bf16_avx2, dot2xn_bf16_avx2},
	[TENSOR_Q8_0] = {QUANT_ACT_Q8_0, act_q8_0, dot_q8_0_avx2, dot4_q8_0_avx2, "avx2"},
	[TENSOR_Q4_0] = {QUANT_ACT_Q8_0, act_q8_0, dot_q4_0_avx2, dot4_q4_0_avx2, "avx2"},
	[TENSOR_Q4_K] = {QUANT_ACT_Q8_K, act_q8_k, dot_q4_k_avx2, NULL, "avx2"},
	[TENSOR_Q5_K] = {QUANT_ACT_Q8_K, act_q8_k, dot_q5_k_avx2, NULL, "avx2"},
	[TENSOR_Q6_K] = {QUANT_ACT_Q8_K, act_q8_k, dot_q6_k_avx2, NULL, "avx2"},
};

/* ---- AVX-512 VNNI (256-bit, EVEX) kernels for the 32-element block types ----
 * vpdpbusd multiplies unsigned by signed bytes and adds each group of four
 * products into an int32 lane in one instruction, replacing maddubs + madd. */
#define VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))

VNNI static float dot_q8_0_vnni(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_0 *y = a;
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t nb = n / 32, b = 0;
	for (; b + 2 <= nb; b += 2, x += 68) {
		_mm_prefetch((const char *)x + PREFETCH_AHEAD, _MM_HINT_T0);
		_mm_prefetch((const char *)x + PREFETCH_AHEAD + 64, _MM_HINT_T0);
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(x + 2));
		__m256i x1 = _mm256_loadu_si256((const __m256i *)(x + 36));
		__m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x0),
						 _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[b].q), x0));
		__m256i p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x1),
						 _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[b + 1].q), x1));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p0), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x + 34) * y[b + 1].d), _mm256_cvtepi32_ps(p1), acc1);
	}
	for (; b < nb; b++, x += 34) {
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(x + 2));
		__m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x0),
						_mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[b].q), x0));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p), acc0);
	}
	return hsum8(_mm256_add_ps(acc0, acc1));
}

/* As dot_q4_0_avx2, with each block's lanes starting from -sum(q). */
VNNI static float dot_q4_0_vnni(size_t n, const void *w, const void *a)
{
	const uint8_t *x = w;
	const struct act_q8_0 *y = a;
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t nb = n / 32, b = 0;
	for (; b + 2 <= nb; b += 2, x += 36) {
		_mm_prefetch((const char *)x + PREFETCH_AHEAD, _MM_HINT_T0);
		__m256i p0 = _mm256_dpbusd_epi32(_mm256_set1_epi32(y[b].nsum), q4_0_nibbles(x + 2),
						 _mm256_loadu_si256((const __m256i *)y[b].q));
		__m256i p1 = _mm256_dpbusd_epi32(_mm256_set1_epi32(y[b + 1].nsum), q4_0_nibbles(x + 20),
						 _mm256_loadu_si256((const __m256i *)y[b + 1].q));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p0), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x + 18) * y[b + 1].d), _mm256_cvtepi32_ps(p1), acc1);
	}
	for (; b < nb; b++, x += 18) {
		__m256i p = _mm256_dpbusd_epi32(_mm256_set1_epi32(y[b].nsum), q4_0_nibbles(x + 2),
						_mm256_loadu_si256((const __m256i *)y[b].q));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16s(x) * y[b].d), _mm256_cvtepi32_ps(p), acc0);
	}
	return hsum8(_mm256_add_ps(acc0, acc1));
}


#define Q8_PAIR_VNNI(y) _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, _mm256_sign_epi8(YQ(y), qx))
#define Q4_PAIR_VNNI(y) _mm256_dpbusd_epi32(_mm256_set1_epi32((y)[b].nsum), u, YQ(y))

VNNI static void dot4_q8_0_vnni(size_t n, const void *w, const void *const a[4], float out[4])
{
	DOT4_BODY(34,
		  __m256i qx = _mm256_loadu_si256((const __m256i *)(x + 2)); __m256i ax = _mm256_abs_epi8(qx),
		  Q8_PAIR_VNNI);
}

VNNI static void dot4_q4_0_vnni(size_t n, const void *w, const void *const a[4], float out[4])
{
	DOT4_BODY(18, __m256i u = q4_0_nibbles(x + 2), Q4_PAIR_VNNI);
}

/* Types without a VNNI kernel use the AVX2 one. */
static const struct quant_kernel vnni[TENSOR__MAX] = {
	[TENSOR_Q8_0] = {QUANT_ACT_Q8_0, act_q8_0, dot_q8_0_vnni, dot4_q8_0_vnni, "avx512vnni"},
	[TENSOR_Q4_0] = {QUANT_ACT_Q8_0, act_q8_0, dot_q4_0_vnni, dot4_q4_0_vnni, "avx512vnni"},
};

/* ---- AVX-512 kernels for float weights: four rows by up to four vectors ----
 * Per 16 values, 4 weight loads (widened once) and m activation loads feed 4m
 * independent FMA chains of 16 lanes, where dot2x4 did 8 lanes with 6 loads
 * per 8 FMAs. Each (row, vector) pair has one accumulator whatever m and
 * whichever rows share the call, reduced by the same tree, so a token's
 * result is bit for bit the same alone or in a batch, and a row the same
 * whatever its neighbours (the caller repeats a row to fill the last four). */
#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq")))

#define LOADW16_F32(x, i, k) _mm512_maskz_loadu_ps((k), (const float *)(x) + (i))
#define LOADW16_F16(x, i, k) _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((k), (const uint16_t *)(x) + (i)))
#define LOADW16_BF16(x, i, k)                                                                            \
	_mm512_castsi512_ps(_mm512_slli_epi32(                                                           \
		_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16((k), (const uint16_t *)(x) + (i))), 16))

AVX512 static inline __m256 half_sum(__m512 v)
{
	return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
}

#define DOT4XM_512(name, LOADW16)                                                                          \
	AVX512 static inline __attribute__((always_inline)) void name(size_t n, const void *const w[4],  \
								      const void *const a[4], int M,      \
								      float out[16])                      \
	{                                                                                                 \
		const float *y[4];                                                                        \
		__m512 s[4][4];                                                                           \
		_Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)                                       \
		{                                                                                         \
			y[q] = a[q < M ? q : 0];                                                          \
			s[0][q] = s[1][q] = s[2][q] = s[3][q] = _mm512_setzero_ps();                      \
		}                                                                                         \
		size_t i = 0;                                                                             \
		__mmask16 all = 0xFFFF;                                                                   \
		for (; i + 16 <= n; i += 16) {                                                            \
			__m512 w0 = LOADW16(w[0], i, all), w1 = LOADW16(w[1], i, all);                    \
			__m512 w2 = LOADW16(w[2], i, all), w3 = LOADW16(w[3], i, all);                    \
			_Pragma("GCC unroll 4") for (int q = 0; q < M; q++)                               \
			{                                                                                 \
				__m512 v = _mm512_loadu_ps(y[q] + i);                                     \
				s[0][q] = _mm512_fmadd_ps(w0, v, s[0][q]);                                \
				s[1][q] = _mm512_fmadd_ps(w1, v, s[1][q]);                                \
				s[2][q] = _mm512_fmadd_ps(w2, v, s[2][q]);                                \
				s[3][q] = _mm512_fmadd_ps(w3, v, s[3][q]);                                \
			}                                                                                 \
		}                                                                                         \
		if (i < n) {                                                                              \
			/* the last 1..15 values: masked loads give zeros past n */                       \
			__mmask16 k = (__mmask16)((1u << (n - i)) - 1);                                   \
			__m512 w0 = LOADW16(w[0], i, k), w1 = LOADW16(w[1], i, k);                        \
			__m512 w2 = LOADW16(w[2], i, k), w3 = LOADW16(w[3], i, k);                        \
			_Pragma("GCC unroll 4") for (int q = 0; q < M; q++)                               \
			{                                                                                 \
				__m512 v = _mm512_maskz_loadu_ps(k, y[q] + i);                            \
				s[0][q] = _mm512_fmadd_ps(w0, v, s[0][q]);                                \
				s[1][q] = _mm512_fmadd_ps(w1, v, s[1][q]);                                \
				s[2][q] = _mm512_fmadd_ps(w2, v, s[2][q]);                                \
				s[3][q] = _mm512_fmadd_ps(w3, v, s[3][q]);                                \
			}                                                                                 \
		}                                                                                         \
		/* unused vectors' accumulators are zero: the tree is the same. The   \
		 * sums come out vector by vector, four rows each */                      \
		_mm256_storeu_ps(out, hsum8x8(half_sum(s[0][0]), half_sum(s[1][0]), half_sum(s[2][0]),    \
					      half_sum(s[3][0]), half_sum(s[0][1]), half_sum(s[1][1]),    \
					      half_sum(s[2][1]), half_sum(s[3][1])));                     \
		_mm256_storeu_ps(out + 8, hsum8x8(half_sum(s[0][2]), half_sum(s[1][2]), half_sum(s[2][2]), \
						  half_sum(s[3][2]), half_sum(s[0][3]), half_sum(s[1][3]), \
						  half_sum(s[2][3]), half_sum(s[3][3])));                  \
	}
DOT4XM_512(dot4xm_f32_512, LOADW16_F32)
DOT4XM_512(dot4xm_f16_512, LOADW16_F16)
DOT4XM_512(dot4xm_bf16_512, LOADW16_BF16)

#define DOT4X_512(type)                                                                                   \
	AVX512 static void dot4xn_##type##_avx512(size_t n, const void *const w[4], const void *const a[4], \
						  size_t m, float out[16])                                \
	{                                                                                                 \
		if (m == 1)                                                                               \
			dot4xm_##type##_512(n, w, a, 1, out);                                             \
		else if (m == 2)                                                                          \
			dot4xm_##type##_512(n, w, a, 2, out);                                             \
		else if (m == 3)                                                                          \
			dot4xm_##type##_512(n, w, a, 3, out);                                             \
		else                                                                                      \
			dot4xm_##type##_512(n, w, a, 4, out);                                             \
	}
DOT4X_512(f32)
DOT4X_512(f16)
DOT4X_512(bf16)

/* Types without an AVX-512 kernel use the VNNI or AVX2 one. */
static const struct quant_kernel avx512[TENSOR__MAX] = {
	[TENSOR_F32] = {QUANT_ACT_F32, act_f32, dot_f32_avx2, dot4_f32_avx2, "avx512", dot2x4_f32_avx2,
			dot2xn_f32_avx2, dot4xn_f32_avx512},
	[TENSOR_F16] = {QUANT_ACT_F32, act_f32, dot_f16_avx2, dot4_f16_avx2, "avx512", dot2x4_f16_avx2,
			dot2xn_f16_avx2, dot4xn_f16_avx512},
	[TENSOR_BF16] = {QUANT_ACT_F32, act_f32, dot_bf16_avx2, dot4_bf16_avx2, "avx512", dot2x4_bf16_avx2,
			 dot2xn_bf16_avx2, dot4xn_bf16_avx512},
};
#endif

static bool have_avx2, have_vnni, have_avx512;
static bool force_scalar, no_vnni, no_avx512;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#ifdef QUANT_X86
	__builtin_cpu_init();
	/* clang 14's __builtin_cpu_supports does not know "f16c": ask cpuid
	 * (leaf 1, ECX bit 29) for that one. */
	unsigned a, b, c, d;
	bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
	have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
	/* AVX-512 VNNI with 256-bit (VL) forms: cpuid leaf 7 (EBX 16 AVX512F,
	 * EBX 31 AVX512VL, ECX 11 AVX512_VNNI), and the OS saving the opmask
	 * and upper ZMM state (XCR0 bits 1, 2, 5, 6, 7) behind OSXSAVE. */
	bool osxsave = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27));
	if (have_avx2 && osxsave && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 16)) &&
	    (b & (1u << 31)) && (c & (1u << 11))) {
		unsigned lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		have_vnni = (lo & 0xE6) == 0xE6;
	}
	/* AVX-512 F, DQ, BW and VL (leaf 7 EBX bits 16, 17, 30, 31), with the
	 * same OS state */
	if (have_avx2 && osxsave && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 16)) &&
	    (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31))) {
		unsigned lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		have_avx512 = (lo & 0xE6) == 0xE6;
	}
#endif
	const char *s = getenv("ATELIER_ENGINE_SCALAR");
	force_scalar = s && s[0] == '1';
	s = getenv("ATELIER_ENGINE_NO_VNNI");
	no_vnni = s && s[0] == '1';
	s = getenv("ATELIER_ENGINE_NO_AVX512");
	no_avx512 = s && s[0] == '1';
}

const struct quant_kernel *quant_kernel_scalar(uint32_t t)
{
	return t < TENSOR__MAX && scalar[t].dot ? &scalar[t] : NULL;
}

/* The kernel of table for type t, if the CPU has what it needs (have). */
#define KERNEL_ACCESSOR(name, have, table)                                         \
	const struct quant_kernel *name(uint32_t t)                                 \
	{                                                                           \
		pthread_once(&once, detect);                                        \
		return KERNEL_FROM(have, table, t);                                 \
	}
#ifdef QUANT_X86
#define KERNEL_FROM(have, table, t) ((have) && (t) < TENSOR__MAX && (table)[t].dot ? &(table)[t] : NULL)
#else
#define KERNEL_FROM(have, table, t) ((void)(have), (void)(t), (const struct quant_kernel *)NULL)
#endif
KERNEL_ACCESSOR(quant_kernel_avx2, have_avx2, avx2)
KERNEL_ACCESSOR(quant_kernel_vnni, have_vnni, vnni)
KERNEL_ACCESSOR(quant_kernel_avx512, have_avx512, avx512)

const struct quant_kernel *quant_kernel(uint32_t t)
{
	pthread_once(&once, detect);
	if (force_scalar)
		return quant_kernel_scalar(t);
	const struct quant_kernel *k = no_avx512 ? NULL : quant_kernel_avx512(t);
	if (!k && !no_vnni)
		k = quant_kernel_vnni(t);
	if (!k)
		k = quant_kernel_avx2(t);
	return k ? k : quant_kernel_scalar(t);
}
