/*
 * vec.h: elementwise and per-row vector operations of the forward pass, with
 * an AVX2 path chosen at run time (ATELIER_ENGINE_SCALAR=1 forces the scalar one,
 * as for quant.h and attn.h).
 */
#ifndef ATELIER_ENGINE_VEC_H
#define ATELIER_ENGINE_VEC_H

#include <stddef.h>
#include <stdint.h>

/* SwiGLU in place: g[i] = silu(g[i]) * u[i], silu(x) = x / (1 + e^-x). */
void vec_swiglu(float *g, const float *u, size_t n);

/* The scalar reference (for tests). */
void vec_swiglu_scalar(float *g, const float *u, size_t n);

/* RMS norm: o[i] = x[i] * w[i] / sqrt(mean(x^2) + eps), the mean summed in
 * double. Both paths give the same bits (eight partial sums of exact
 * products, combined in one order). */
void vec_rmsnorm(float *o, const float *x, const float *w, size_t n, float eps);
void vec_rmsnorm_scalar(float *o, const float *x, const float *w, size_t n, float eps);

/* IEEE half to float (exact either way; F16C when the CPU has it). */
void vec_f16_to_f32(float *out, const uint16_t *in, size_t n);
void vec_f16_to_f32_scalar(float *out, const uint16_t *in, size_t n);

#endif
