/*
 * vec.c: elementwise vector operations (see vec.h).
 *
 * SwiGLU runs once per feed-forward row of every token: for the small models
 * under batched decode libm's expf, one value at a time, was a few per cent
 * of the engine's time. The AVX2 path takes eight values at once with the
 * shared exp8 (avx2_math.h, relative error about 1e-7).
 *
 * The norms and the embedding rows are the serial work between a batched
 * step's parallel jobs: compiled for any x86-64 (SSE2), a 256-wide norm took
 * about 0.2 us and a half-precision row one conversion at a time, together a
 * tenth of a 16-token step of the small models. Their AVX2 and F16C paths
 * give the scalar paths' bits exactly: a float's square is exact in double,
 * so a fused multiply-add rounds the same as the separate add.
 */
#include "engine/vec.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "engine/avx2_math.h"
#include "engine/tensor.h"

#if defined(__x86_64__) || defined(__i386__)
#define VEC_X86 1
#endif

void vec_swiglu_scalar(float *g, const float *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void vec_rmsnorm_scalar(float *o, const float *x, const float *w, size_t n, float eps)
{
	double p[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t q = 0; q < 8; q++)
			p[q] += (double)x[i + q] * x[i + q];
	for (; i < n; i++)
		p[i % 8] += (double)x[i] * x[i];
	double ss = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
	float s = (float)(1.0 / sqrt(ss / (double)n + eps));
	for (i = 0; i < n; i++)
		o[i] = x[i] * s * w[i];
}

void vec_f16_to_f32_scalar(float *out, const uint16_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = tensor_f16_to_f32(in[i]);
}

#ifdef VEC_X86
AVX2_MATH static void rmsnorm_avx2(float *o, const float *x, const float *w, size_t n, float eps)
{
	/* lanes 0-3 and 4-7 are the scalar path's partial sums p[0..7] */
	__m256d lo = _mm256_setzero_pd(), hi = lo;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		__m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
		lo = _mm256_fmadd_pd(a, a, lo);
		hi = _mm256_fmadd_pd(b, b, hi);
	}
	double p[8];
	_mm256_storeu_pd(p, lo);
	_mm256_storeu_pd(p + 4, hi);
	for (; i < n; i++)
		p[i % 8] += (double)x[i] * x[i];
	double ss = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
	float s = (float)(1.0 / sqrt(ss / (double)n + eps));
	__m256 vs = _mm256_set1_ps(s);
	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
	for (; i < n; i++)
		o[i] = x[i] * s * w[i];
}

__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(float *out, const uint16_t *in, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
	vec_f16_to_f32_scalar(out + i, in + i, n - i);
}

AVX2_MATH static void swiglu_avx2(float *g, const float *u, size_t n)
{
	__m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(g + i);
		__m256 d = _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, x)));
		_mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, d), _mm256_loadu_ps(u + i)));
	}
	vec_swiglu_scalar(g + i, u + i, n - i);
}
#endif

static bool use_avx2, use_f16c;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#ifdef VEC_X86
	__builtin_cpu_init();
	use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	/* clang 14's __builtin_cpu_supports does not know "f16c" (cpuid leaf 1,
	 * ECX bit 29) */
	unsigned a, b, c, d;
	use_f16c = __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
#endif
	const char *s = getenv("ATELIER_ENGINE_SCALAR");
	if (s && s[0] == '1')
		use_avx2 = use_f16c = false;
}

/* The vector path when the CPU has it (and ATELIER_ENGINE_SCALAR is not
 * set), else the scalar one. */
#ifdef VEC_X86
#define DISPATCH(use, fast, scalar, ...)          \
	do {                                      \
		pthread_once(&once, detect);      \
		if (use)                          \
			fast(__VA_ARGS__);        \
		else                              \
			scalar(__VA_ARGS__);      \
	} while (0)
#else
#define DISPATCH(use, fast, scalar, ...)          \
	do {                                      \
		pthread_once(&once, detect);      \
		scalar(__VA_ARGS__);              \
	} while (0)
#endif

void vec_swiglu(float *g, const float *u, size_t n)
{
	DISPATCH(use_avx2, swiglu_avx2, vec_swiglu_scalar, g, u, n);
}

void vec_rmsnorm(float *o, const float *x, const float *w, size_t n, float eps)
{
	DISPATCH(use_avx2, rmsnorm_avx2, vec_rmsnorm_scalar, o, x, w, n, eps);
}

void vec_f16_to_f32(float *out, const uint16_t *in, size_t n)
{
	DISPATCH(use_f16c, f16_to_f32_f16c, vec_f16_to_f32_scalar, out, in, n);
}
