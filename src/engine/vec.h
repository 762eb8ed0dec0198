/*
 * vec.h: elementwise vector operations of the forward pass, with an AVX2
 * path chosen at run time (ATELIER_ENGINE_SCALAR=1 forces the scalar one,
 * as for quant.h and attn.h).
 */
#ifndef ATELIER_ENGINE_VEC_H
#define ATELIER_ENGINE_VEC_H

#include <stddef.h>

/* SwiGLU in place: g[i] = silu(g[i]) * u[i], silu(x) = x / (1 + e^-x). */
void vec_swiglu(float *g, const float *u, size_t n);

/* The scalar reference (for tests). */
void vec_swiglu_scalar(float *g, const float *u, size_t n);

#endif
