/*
 * quant.h: dot-product kernels between a weight row of any computable type and
 * an activation row, plus the conversion of float activations into the form
 * each weight type's kernel consumes.
 *
 *   weights            activations
 *   F32, F16, BF16     F32 (weights converted on the fly)
 *   Q8_0, Q4_0         QUANT_ACT_Q8_0: per 32 values, float d + int8 q[32]
 *   Q4_K, Q5_K, Q6_K   QUANT_ACT_Q8_K: per 256 values, float d + int8 q[256]
 *                      + int16 sums of each 16 (for the K-quant minimums)
 *
 * The activation formats are internal (never in a file), so the scale is a
 * float rather than ggml's half. Every type has a scalar kernel, the
 * reference, and an AVX2/FMA/F16C kernel chosen at run time when the CPU has
 * those instructions (ggml's habit of a table of function pointers per type).
 */
#ifndef ATELIER_ENGINE_QUANT_H
#define ATELIER_ENGINE_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum quant_act { QUANT_ACT_F32, QUANT_ACT_Q8_0, QUANT_ACT_Q8_K };

/* Dot product of n values: weight row w (in the weight type) with activation
 * row a (in the kernel's activation form). n is a multiple of the block size. */
typedef float (*quant_dot_fn)(size_t n, const void *w, const void *a);
/* Convert n float activations into the activation form (out: quant_act_bytes). */
typedef void (*quant_act_fn)(const float *x, void *out, size_t n);
/* Four dot products of one weight row with four activation vectors:
 * out[i] = dot(n, w, a[i]). The row's blocks are unpacked once for all four,
 * which is what batched prompts and batched sequences need. */
typedef void (*quant_dot4_fn)(size_t n, const void *w, const void *const a[4], float out[4]);
/* Two weight rows against four activation vectors: out[r * 4 + i] =
 * dot(n, w[r], a[i]). Each weight vector and each activation vector is
 * loaded once for two products (float weights, where loads bound dot4). */
typedef void (*quant_dot2x4_fn)(size_t n, const void *const w[2], const void *const a[4], float out[8]);
/* dot2x4 for the last m = 1..3 vectors of a batch: out[r * 4 + i] for i < m
 * (a[i] and out[r * 4 + i] for i >= m are not touched). */
typedef void (*quant_dot2xn_fn)(size_t n, const void *const w[2], const void *const a[4], size_t m, float out[8]);

/* Four weight rows against m = 1..4 activation vectors: out[i * 4 + r] =
 * dot(n, w[r], a[i]) for i < m, and 0 for i >= m (a[i] for i >= m not read).
 * A row may be repeated to fill the four. */
typedef void (*quant_dot4xn_fn)(size_t n, const void *const w[4], const void *const a[4], size_t m, float out[16]);

struct quant_kernel {
	enum quant_act act;
	quant_act_fn to_act;
	quant_dot_fn dot;
	quant_dot4_fn dot4; /* NULL: call dot four times */
	const char *isa; /* "scalar", "avx2", "avx512vnni" or "avx512" */
	quant_dot2x4_fn dot2x4; /* NULL: call dot4 for each row */
	quant_dot2xn_fn dot2xn; /* NULL: call dot for the last tokens */
	quant_dot4xn_fn dot4xn; /* NULL: use dot2x4; else every row goes through it */
};

/* The best kernel this CPU runs for weights of type t (enum tensor_type), or
 * NULL when the engine cannot compute with t. ATELIER_ENGINE_SCALAR=1 in the
 * environment forces the scalar kernels (for comparisons). */
const struct quant_kernel *quant_kernel(uint32_t t);

/* The scalar reference kernel, and the AVX2 kernel (NULL when the CPU lacks
 * AVX2/FMA/F16C or the type has none). For tests and benchmarks. */
const struct quant_kernel *quant_kernel_scalar(uint32_t t);
const struct quant_kernel *quant_kernel_avx2(uint32_t t);
/* The AVX-512 VNNI kernel (Q8_0 and Q4_0 only; NULL otherwise or when the
 * CPU or OS lacks it). quant_kernel() prefers it unless ATELIER_ENGINE_NO_VNNI=1. */
const struct quant_kernel *quant_kernel_vnni(uint32_t t);
/* The AVX-512 (F, DQ, BW, VL) kernel for float weights (F32, F16, BF16; NULL
 * otherwise or when the CPU or OS lacks it). quant_kernel() prefers it unless
 * ATELIER_ENGINE_NO_AVX512=1. */
const struct quant_kernel *quant_kernel_avx512(uint32_t t);

/* Bytes of n activations in form act (n a multiple of that form's block). */
size_t quant_act_bytes(enum quant_act act, size_t n);

/* Elements per block of an activation form (1, 32 or 256). */
size_t quant_act_block(enum quant_act act);

#endif
