/*
 * attn.c: scalar and AVX2 attention over a float32 KV cache (see attn.h).
 *
 * Under batched decode attention was a fifth of the engine's time on small
 * models: per (token, head) a function-pointer dot for every cached position
 * (each ending in a horizontal sum), libm's expf one value at a time, and a
 * weighted sum of V the compiler vectorised only with SSE. The AVX2 kernel
 * scores eight positions at once (eight accumulators reduced together with
 * hadd), exponentiates eight at once, and accumulates V rows in 256-bit
 * registers. Like quant.c it carries target attributes instead of needing
 * -mavx2, and picks the kernel once at run time.
 */
#include "engine/attn.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/avx2_math.h"

#if defined(__x86_64__) || defined(__i386__)
#define ATTN_X86 1
#endif

static void attn_scalar(size_t hd, size_t group, size_t n_pos, const float *q, const float *k, const float *v,
			size_t stride, float scale, float *scores, float *out)
{
	for (size_t g = 0; g < group; g++) {
		const float *qg = q + g * hd;
		float *sc = scores + g * n_pos, *o = out + g * hd;
		float mx = -INFINITY;
		for (size_t p = 0; p < n_pos; p++) {
			const float *kp = k + p * stride;
			float s = 0;
			for (size_t i = 0; i < hd; i++)
				s += kp[i] * qg[i];
			sc[p] = s * scale;
			if (sc[p] > mx)
				mx = sc[p];
		}
		float sum = 0;
		for (size_t p = 0; p < n_pos; p++) {
			sc[p] = expf(sc[p] - mx);
			sum += sc[p];
		}
		memset(o, 0, hd * sizeof(float));
		for (size_t p = 0; p < n_pos; p++) {
			const float *vp = v + p * stride;
			float a = sc[p] / sum;
			for (size_t i = 0; i < hd; i++)
				o[i] += a * vp[i];
		}
	}
}

#ifdef ATTN_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* Scores of eight consecutive positions: the eight accumulators are reduced
 * together (hadd tree, then the two 128-bit halves), lane j = position j. */
AVX2 static inline __m256 score8(size_t hd, const float *q, const float *k, size_t stride)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
	for (size_t c = 0; c < hd; c += 8) {
		__m256 qv = _mm256_loadu_ps(q + c);
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(k + c), qv, a0);
		a1 = _mm256_fmadd_ps(_mm256_loadu_ps(k + stride + c), qv, a1);
		a2 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 2 * stride + c), qv, a2);
		a3 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 3 * stride + c), qv, a3);
		a4 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 4 * stride + c), qv, a4);
		a5 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 5 * stride + c), qv, a5);
		a6 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 6 * stride + c), qv, a6);
		a7 = _mm256_fmadd_ps(_mm256_loadu_ps(k + 7 * stride + c), qv, a7);
	}
	__m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
	__m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
	return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

AVX2 static void attn_avx2(size_t hd, size_t group, size_t n_pos, const float *q, const float *k, const float *v,
			   size_t stride, float scale, float *scores, float *out)
{
	if (hd % 8) {
		attn_scalar(hd, group, n_pos, q, k, v, stride, scale, scores, out);
		return;
	}
	__m256 vscale = _mm256_set1_ps(scale);
	for (size_t g = 0; g < group; g++) {
		const float *qg = q + g * hd;
		float *sc = scores + g * n_pos, *o = out + g * hd;
		__m256 vmx = _mm256_set1_ps(-INFINITY);
		size_t p = 0;
		for (; p + 8 <= n_pos; p += 8) {
			__m256 s = _mm256_mul_ps(score8(hd, qg, k + p * stride, stride), vscale);
			_mm256_storeu_ps(sc + p, s);
			vmx = _mm256_max_ps(vmx, s);
		}
		float mx = hmax8(vmx);
		for (; p < n_pos; p++) {
			const float *kp = k + p * stride;
			__m256 a = _mm256_setzero_ps();
			for (size_t c = 0; c < hd; c += 8)
				a = _mm256_fmadd_ps(_mm256_loadu_ps(kp + c), _mm256_loadu_ps(qg + c), a);
			sc[p] = hsum8(a) * scale;
			if (sc[p] > mx)
				mx = sc[p];
		}

		__m256 vm = _mm256_set1_ps(mx), vsum = _mm256_setzero_ps();
		for (p = 0; p + 8 <= n_pos; p += 8) {
			__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(sc + p), vm));
			_mm256_storeu_ps(sc + p, e);
			vsum = _mm256_add_ps(vsum, e);
		}
		float sum = hsum8(vsum);
		for (; p < n_pos; p++) {
			sc[p] = expf(sc[p] - mx);
			sum += sc[p];
		}

		float inv = 1.0f / sum;
		size_t c = 0;
		for (; c + 32 <= hd; c += 32) {
			/* two positions per step into separate sums: each sum's FMA
			 * chain then waits on its own latency half as often */
			__m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, e0 = o0, e1 = o0, e2 = o0, e3 = o0;
			const float *vp = v + c;
			for (p = 0; p + 2 <= n_pos; p += 2, vp += 2 * stride) {
				__m256 a = _mm256_set1_ps(sc[p]), b = _mm256_set1_ps(sc[p + 1]);
				o0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp), o0);
				o1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp + 8), o1);
				o2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp + 16), o2);
				o3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp + 24), o3);
				e0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vp + stride), e0);
				e1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vp + stride + 8), e1);
				e2 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vp + stride + 16), e2);
				e3 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vp + stride + 24), e3);
			}
			if (p < n_pos) {
				__m256 a = _mm256_set1_ps(sc[p]);
				o0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp), o0);
				o1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp + 8), o1);
				o2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp + 16), o2);
				o3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vp + 24), o3);
			}
			__m256 vi = _mm256_set1_ps(inv);
			_mm256_storeu_ps(o + c, _mm256_mul_ps(_mm256_add_ps(o0, e0), vi));
			_mm256_storeu_ps(o + c + 8, _mm256_mul_ps(_mm256_add_ps(o1, e1), vi));
			_mm256_storeu_ps(o + c + 16, _mm256_mul_ps(_mm256_add_ps(o2, e2), vi));
			_mm256_storeu_ps(o + c + 24, _mm256_mul_ps(_mm256_add_ps(o3, e3), vi));
		}
		for (; c < hd; c += 8) {
			__m256 o0 = _mm256_setzero_ps(), e0 = o0;
			const float *vp = v + c;
			for (p = 0; p + 2 <= n_pos; p += 2, vp += 2 * stride) {
				o0 = _mm256_fmadd_ps(_mm256_set1_ps(sc[p]), _mm256_loadu_ps(vp), o0);
				e0 = _mm256_fmadd_ps(_mm256_set1_ps(sc[p + 1]), _mm256_loadu_ps(vp + stride), e0);
			}
			if (p < n_pos)
				o0 = _mm256_fmadd_ps(_mm256_set1_ps(sc[p]), _mm256_loadu_ps(vp), o0);
			_mm256_storeu_ps(o + c, _mm256_mul_ps(_mm256_add_ps(o0, e0), _mm256_set1_ps(inv)));
		}
	}
}
#endif

static bool have_avx2, force_scalar;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#ifdef ATTN_X86
	__builtin_cpu_init();
	have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	const char *s = getenv("ATELIER_ENGINE_SCALAR");
	force_scalar = s && s[0] == '1';
}

attn_fn attn_kernel_scalar(void)
{
	return attn_scalar;
}

attn_fn attn_kernel_avx2(void)
{
	pthread_once(&once, detect);
#ifdef ATTN_X86
	if (have_avx2)
		return attn_avx2;
#endif
	return NULL;
}

attn_fn attn_kernel(void)
{
	pthread_once(&once, detect);
	attn_fn f = force_scalar ? NULL : attn_kernel_avx2();
	return f ? f : attn_scalar;
}
