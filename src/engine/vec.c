/*
 * vec.c: elementwise vector operations (see vec.h).
 *
 * SwiGLU runs once per feed-forward row of every token: for the small models
 * under batched decode libm's expf, one value at a time, was a few per cent
 * of the engine's time. The AVX2 path takes eight values at once with the
 * shared exp8 (avx2_math.h, relative error about 1e-7).
 */
#include "engine/vec.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "engine/avx2_math.h"

#if defined(__x86_64__) || defined(__i386__)
#define VEC_X86 1
#endif

void vec_swiglu_scalar(float *g, const float *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

#ifdef VEC_X86
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

static bool use_avx2;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#ifdef VEC_X86
	__builtin_cpu_init();
	use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	const char *s = getenv("ATELIER_ENGINE_SCALAR");
	if (s && s[0] == '1')
		use_avx2 = false;
}

void vec_swiglu(float *g, const float *u, size_t n)
{
	pthread_once(&once, detect);
#ifdef VEC_X86
	if (use_avx2) {
		swiglu_avx2(g, u, n);
		return;
	}
#endif
	vec_swiglu_scalar(g, u, n);
}
