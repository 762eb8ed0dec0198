/*
 * attn.h: the attention kernel of the forward pass, for a float32 KV cache:
 * the query heads that share one KV head (grouped-query attention) against
 * that head's cached keys and values.
 *
 * As with quant.h, a scalar kernel is the reference and an AVX2/FMA kernel is
 * chosen at run time when the CPU has those instructions;
 * ATELIER_ENGINE_SCALAR=1 forces the scalar one.
 */
#ifndef ATELIER_ENGINE_ATTN_H
#define ATELIER_ENGINE_ATTN_H

#include <stddef.h>

/* Softmax attention of `group` query heads over positions 0..n_pos-1 (n_pos
 * >= 1) of one KV head:
 *   q      [group][hd]          queries, rotary embedding applied
 *   k, v   [n_pos] rows of hd,  row p at k + p * stride (floats)
 *   scores [group][n_pos]       scratch
 *   out    [group][hd]          out[g] = sum_p softmax(scale * q[g]·k[p])[p] * v[p]
 */
typedef void (*attn_fn)(size_t hd, size_t group, size_t n_pos, const float *q, const float *k, const float *v,
			size_t stride, float scale, float *scores, float *out);

/* The kernel the engine uses on this CPU. */
attn_fn attn_kernel(void);

/* The scalar reference, and the AVX2 kernel (NULL when the CPU lacks
 * AVX2/FMA). For tests and benchmarks. */
attn_fn attn_kernel_scalar(void);
attn_fn attn_kernel_avx2(void);

#endif
