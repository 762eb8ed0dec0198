/*
 * kernels.h: the compute kernels of the image engine, each with a scalar
 * reference that the unit tests match it against.
 *
 * Activations are channel-major: a feature map is [C, H*W] and a token
 * sequence is [C, N] (channels are rows), so convolutions (as im2col, packed
 * straight from the image), linear layers and attention all become one matrix
 * product C = A·B with A the weights [M, K] and B the activations [K, N].
 * imgk_gemm() takes any strides so the transposed products need no copy.
 *
 * The fast path packs A into MR-row panels and B into NR-column panels
 * (BLIS-style blocking: KC x MC and KC x NC) and runs an AVX-512 (12x32) or
 * AVX2+FMA (6x16) register-tile micro-kernel chosen at run time, with a
 * scalar fallback. Work is split over a thread pool by columns (or rows when
 * there are few columns). Pack buffers are allocated once per context, so
 * the forward pass allocates nothing.
 */
#ifndef ATELIER_ENGINE_IMAGE_KERNELS_H
#define ATELIER_ENGINE_IMAGE_KERNELS_H

#include <stddef.h>

#include "base/err.h"

struct threadpool;

enum imgk_isa { IMGK_SCALAR, IMGK_AVX2, IMGK_AVX512, IMGK__MAX };

/* Kernel context: thread pool (borrowed, may be NULL for one thread),
 * instruction set, per-thread pack buffers. */
struct imgk;

/* New context using pool (may be NULL) and the best ISA this CPU has. */
int imgk_new(struct imgk **out, struct threadpool *pool, struct errinfo *e);
void imgk_free(struct imgk *k);
/* Force an ISA (tests, benches); returns the one in effect (never better than the CPU has). */
enum imgk_isa imgk_set_isa(struct imgk *k, enum imgk_isa isa);
const char *imgk_isa_name(enum imgk_isa isa);
int imgk_threads(const struct imgk *k);

/* C[i*ldc+j] = (acc ? C : 0) + sum_k A(i,k) B(k,j), with
 * A(i,k) = A[i*rsa + k*csa] and B(k,j) = B[k*rsb + j*csb]; i<M, j<N, k<K. */
void imgk_gemm(struct imgk *k, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
	       const float *B, ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int acc);
void imgk_gemm_ref(int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa, const float *B,
		   ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int acc);

/* out [cout, ho*wo] = conv(in [cin,h,w], w [cout, cin, ks, ks]) + bias [cout] (bias may be NULL),
 * square kernel ks, zero padding pad, ho = (h + 2 pad - ks)/stride + 1. The GEMM packs its
 * B panels straight from in, so no im2col matrix is made and no scratch is needed. */
void imgk_conv2d(struct imgk *k, const float *in, int cin, int h, int w, const float *wt, const float *bias,
		 int cout, int ks, int stride, int pad, float *out);
/* Direct 7-loop convolution: the reference. */
void imgk_conv2d_ref(const float *in, int cin, int h, int w, const float *wt, const float *bias, int cout, int ks,
		     int stride, int pad, float *out);

/* y [cout, n] = W [cout, cin] x [cin, n] + b [cout] (b may be NULL). */
void imgk_linear(struct imgk *k, const float *x, int cin, int n, const float *wt, const float *b, int cout, float *y);

/* Group norm over x [c, hw] in groups of c/groups channels; y = norm * gamma + beta,
 * followed by SiLU when silu != 0. y may equal x. */
void imgk_groupnorm(const float *x, int c, int hw, int groups, const float *gamma, const float *beta, float eps,
		    int silu, float *y);
void imgk_groupnorm_ref(const float *x, int c, int hw, int groups, const float *gamma, const float *beta, float eps,
			int silu, float *y);

/* Layer norm of each token (column) of x [c, n] over its c channels; y may equal x.
 * scratch holds 2n floats. */
void imgk_layernorm(const float *x, int c, int n, const float *gamma, const float *beta, float eps, float *y,
		    float *scratch);

/* Multi-head attention, channel-major: q [c, n], kk [c, m], v [c, m] -> out [c, n];
 * heads divide c; softmax(q_h^T k_h / sqrt(c/heads)) per head. scratch holds n*m + n*c/heads floats.
 * On AVX-512 it is fused (per 32-query block: scores of a chunk of keys, online softmax, P·V) and
 * no score matrix is written; scratch then holds only packed K and V when the pack buffers are
 * too small for them. */
void imgk_attention(struct imgk *k, const float *q, const float *kk, const float *v, int c, int n, int m, int heads,
		    float *out, float *scratch);
void imgk_attention_ref(const float *q, const float *kk, const float *v, int c, int n, int m, int heads,
			float *out);

/* Row-wise softmax of s [rows, cols] after multiplying by scale, in place. */
void imgk_softmax_rows(struct imgk *k, float *s, int rows, int cols, float scale);

/* a[i] *= gelu(g[i]) for i < n (the GEGLU gate), vectorised erf within 2e-7. */
void imgk_geglu(struct imgk *k, float *a, const float *g, size_t n);

float imgk_silu(float x);
float imgk_gelu(float x); /* exact (erf) GELU, as torch's default */

#endif
