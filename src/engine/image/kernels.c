/*
 * kernels.c: GEMM (packed, register-tiled, threaded), im2col convolution,
 * group/layer norm, softmax and attention for the image engine; see
 * kernels.h. Each fast kernel has a plain reference next to it.
 *
 * Why our own GEMM rather than a BLAS: the build depends on Debian packages
 * only through pkg-config and must run the same everywhere; a BLAS would add
 * a second threading runtime fighting ours for the 2 cores.
 */
#include "engine/image/kernels.h"

#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/threads.h"

#define KC 256
#define MC 120 /* multiple of every MR */
#define NC 1024 /* multiple of every NR */
#define MR_MAX 12
#define NR_MAX 32

struct imgk {
	struct threadpool *pool;
	int nth;
	enum imgk_isa isa, best;
	float *pack_a[THREADS_MAX]; /* [MC*KC] per thread */
	float *pack_b[THREADS_MAX]; /* [KC*NC] per thread */
};

static __m256 exp256(__m256 x);

static const int isa_mr[IMGK__MAX] = {4, 6, 12};
static const int isa_nr[IMGK__MAX] = {16, 16, 32};

const char *imgk_isa_name(enum imgk_isa isa)
{
	static const char *const n[IMGK__MAX] = {"scalar", "avx2+fma", "avx512f"};
	return (unsigned)isa < IMGK__MAX ? n[isa] : "?";
}

int imgk_new(struct imgk **out, struct threadpool *pool, struct errinfo *e)
{
	*out = NULL;
	struct imgk *k = calloc(1, sizeof *k);
	if (!k)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	k->pool = pool;
	k->nth = pool ? threads_count(pool) : 1;
	__builtin_cpu_init();
	k->best = IMGK_SCALAR;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		k->best = IMGK_AVX2;
	if (__builtin_cpu_supports("avx512f"))
		k->best = IMGK_AVX512;
	k->isa = k->best;
	for (int i = 0; i < k->nth; i++) {
		k->pack_a[i] = aligned_alloc(64, sizeof(float) * MC * KC);
		k->pack_b[i] = aligned_alloc(64, sizeof(float) * KC * NC);
		if (!k->pack_a[i] || !k->pack_b[i]) {
			imgk_free(k);
			return err_set(e, ERR_NOMEM, NULL, "out of memory");
		}
	}
	*out = k;
	return ERR_OK;
}

void imgk_free(struct imgk *k)
{
	if (!k)
		return;
	for (int i = 0; i < k->nth; i++) {
		free(k->pack_a[i]);
		free(k->pack_b[i]);
	}
	free(k);
}

enum imgk_isa imgk_set_isa(struct imgk *k, enum imgk_isa isa)
{
	k->isa = isa > k->best ? k->best : isa;
	return k->isa;
}

int imgk_threads(const struct imgk *k)
{
	return k->nth;
}

float imgk_silu(float x)
{
	return x / (1.0f + expf(-x));
}

float imgk_gelu(float x)
{
	return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

/* ------------------------------------------------------------------ GEMM */

void imgk_gemm_ref(int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa, const float *B,
		   ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int acc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = acc ? C[i * ldc + j] : 0.0;
			for (int kk = 0; kk < K; kk++)
				s += (double)A[i * rsa + kk * csa] * B[kk * rsb + j * csb];
			C[i * ldc + j] = (float)s;
		}
}

/* A full 12-row panel from rows of stride rsa: 16 k at a time, the 12 rows (and 4 zero ones)
 * transposed in registers and stored 12 lanes per k; returns how many k it did. A panel costs
 * about a third of a cycle per value this way, against several for a scalar transpose, which
 * matters where N is small (SD's 8x8 level has 64 columns per weight). */
__attribute__((target("avx512f"))) static int pack_a12_avx512(const float *A, ptrdiff_t rsa, int kc, float *dst)
{
	int kk = 0;
	for (; kk + 16 <= kc; kk += 16) {
		__m512 r[16], t[16], u[16];
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++)
			r[i] = i < 12 ? _mm512_loadu_ps(A + i * rsa + kk) : _mm512_setzero_ps();
#pragma GCC unroll 8
		for (int i = 0; i < 8; i++) {
			t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
			t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
		}
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++) {
			u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
			u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
			u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
			u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
		}
		/* u[4i+q] holds, in 128-bit block L, column 4L+q of rows 4i..4i+3 */
#pragma GCC unroll 4
		for (int q = 0; q < 4; q++) {
			__m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88), v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xdd);
			__m512 w0 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88),
			       w1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xdd);
			float *d = dst + (ptrdiff_t)(kk + q) * 12;
			_mm512_mask_storeu_ps(d, 0x0fff, _mm512_shuffle_f32x4(v0, w0, 0x88));
			_mm512_mask_storeu_ps(d + 4 * 12, 0x0fff, _mm512_shuffle_f32x4(v1, w1, 0x88));
			_mm512_mask_storeu_ps(d + 8 * 12, 0x0fff, _mm512_shuffle_f32x4(v0, w0, 0xdd));
			_mm512_mask_storeu_ps(d + 12 * 12, 0x0fff, _mm512_shuffle_f32x4(v1, w1, 0xdd));
		}
	}
	return kk;
}

/* Pack A[ic.., pc..] (mc x kc) into panels of mr rows: panel p holds, for each k,
 * mr consecutive values; rows past mc are zero. */
static void pack_a(const float *A, ptrdiff_t rsa, ptrdiff_t csa, int mc, int kc, int mr, float *dst)
{
	for (int p = 0; p < mc; p += mr) {
		int rows = mc - p < mr ? mc - p : mr;
		if (csa == 1 && rows == 12 && mr == 12) {
			const float *src = A + (ptrdiff_t)p * rsa;
			int done = pack_a12_avx512(src, rsa, kc, dst);
			for (int kk = done; kk < kc; kk++)
				for (int i = 0; i < 12; i++)
					dst[kk * 12 + i] = src[i * rsa + kk];
		} else if (csa == 1) {
			for (int i = 0; i < rows; i++) {
				const float *src = A + (ptrdiff_t)(p + i) * rsa;
				for (int kk = 0; kk < kc; kk++)
					dst[kk * mr + i] = src[kk];
			}
		} else {
			for (int kk = 0; kk < kc; kk++)
				for (int i = 0; i < rows; i++)
					dst[kk * mr + i] = A[(ptrdiff_t)(p + i) * rsa + kk * csa];
		}
		for (int kk = 0; kk < kc; kk++)
			for (int i = rows; i < mr; i++)
				dst[kk * mr + i] = 0.0f;
		dst += (ptrdiff_t)kc * mr;
	}
}

/* Full-width rows of a B panel (the common case), copied with vector moves. */
__attribute__((target("avx512f"))) static void pack_b_rows32(const float *src, ptrdiff_t rsb, int kc, float *d)
{
	for (int kk = 0; kk < kc; kk++, src += rsb, d += 32) {
		_mm512_store_ps(d, _mm512_loadu_ps(src));
		_mm512_store_ps(d + 16, _mm512_loadu_ps(src + 16));
	}
}

__attribute__((target("avx2"))) static void pack_b_rows16(const float *src, ptrdiff_t rsb, int kc, float *d)
{
	for (int kk = 0; kk < kc; kk++, src += rsb, d += 16) {
		_mm256_store_ps(d, _mm256_loadu_ps(src));
		_mm256_store_ps(d + 8, _mm256_loadu_ps(src + 8));
	}
}

/* Pack B[pc.., jc..] (kc x nc) into panels of nr columns; columns past nc are zero. */
static void pack_b(enum imgk_isa isa, const float *B, ptrdiff_t rsb, ptrdiff_t csb, int kc, int nc, int nr,
		   float *dst)
{
	for (int p = 0; p < nc; p += nr) {
		int cols = nc - p < nr ? nc - p : nr;
		if (csb == 1 && cols == nr && isa == IMGK_AVX512) {
			pack_b_rows32(B + p, rsb, kc, dst);
		} else if (csb == 1 && cols == nr && isa == IMGK_AVX2) {
			pack_b_rows16(B + p, rsb, kc, dst);
		} else if (csb == 1) {
			for (int kk = 0; kk < kc; kk++) {
				const float *src = B + kk * rsb + p;
				float *d = dst + kk * nr;
				/* a plain loop: the compiler vectorises it, a memcpy call per row costs more */
				for (int j = 0; j < cols; j++)
					d[j] = src[j];
				for (int j = cols; j < nr; j++)
					d[j] = 0.0f;
			}
		} else {
			for (int j = 0; j < cols; j++) {
				const float *src = B + (ptrdiff_t)(p + j) * csb;
				for (int kk = 0; kk < kc; kk++)
					dst[kk * nr + j] = src[kk * rsb];
			}
			for (int kk = 0; kk < kc; kk++)
				for (int j = cols; j < nr; j++)
					dst[kk * nr + j] = 0.0f;
		}
		dst += (ptrdiff_t)kc * nr;
	}
}

/* Write an MR x NR tile t (row stride nr) into C, mr x nr valid, adding when acc. */
static void store_tile(const float *t, int NR, float *C, ptrdiff_t ldc, int mr, int nr, int acc)
{
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j++)
			C[i * ldc + j] = acc ? C[i * ldc + j] + t[i * NR + j] : t[i * NR + j];
}

static void kern_scalar(int kc, const float *a, const float *b, float *C, ptrdiff_t ldc, int mr, int nr, int acc)
{
	float t[4 * 16] = {0};
	for (int kk = 0; kk < kc; kk++, a += 4, b += 16)
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 16; j++)
				t[i * 16 + j] += a[i] * b[j];
	store_tile(t, 16, C, ldc, mr, nr, acc);
}

__attribute__((target("avx2,fma"))) static void kern_avx2(int kc, const float *a, const float *b, float *C,
							  ptrdiff_t ldc, int mr, int nr, int acc)
{
	__m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
	       c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
	for (int kk = 0; kk < kc; kk++, a += 6, b += 16) {
		__m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), x;
		x = _mm256_broadcast_ss(a + 0);
		c00 = _mm256_fmadd_ps(x, b0, c00);
		c01 = _mm256_fmadd_ps(x, b1, c01);
		x = _mm256_broadcast_ss(a + 1);
		c10 = _mm256_fmadd_ps(x, b0, c10);
		c11 = _mm256_fmadd_ps(x, b1, c11);
		x = _mm256_broadcast_ss(a + 2);
		c20 = _mm256_fmadd_ps(x, b0, c20);
		c21 = _mm256_fmadd_ps(x, b1, c21);
		x = _mm256_broadcast_ss(a + 3);
		c30 = _mm256_fmadd_ps(x, b0, c30);
		c31 = _mm256_fmadd_ps(x, b1, c31);
		x = _mm256_broadcast_ss(a + 4);
		c40 = _mm256_fmadd_ps(x, b0, c40);
		c41 = _mm256_fmadd_ps(x, b1, c41);
		x = _mm256_broadcast_ss(a + 5);
		c50 = _mm256_fmadd_ps(x, b0, c50);
		c51 = _mm256_fmadd_ps(x, b1, c51);
	}
	__m256 r[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
	if (mr == 6 && nr == 16) {
		for (int i = 0; i < 6; i++) {
			float *p = C + i * ldc;
			if (acc) {
				r[2 * i] = _mm256_add_ps(r[2 * i], _mm256_loadu_ps(p));
				r[2 * i + 1] = _mm256_add_ps(r[2 * i + 1], _mm256_loadu_ps(p + 8));
			}
			_mm256_storeu_ps(p, r[2 * i]);
			_mm256_storeu_ps(p + 8, r[2 * i + 1]);
		}
		return;
	}
	float t[6 * 16];
	for (int i = 0; i < 12; i++)
		_mm256_storeu_ps(t + 8 * i, r[i]);
	store_tile(t, 16, C, ldc, mr, nr, acc);
}

__attribute__((target("avx512f"))) static void kern_avx512(int kc, const float *a, const float *b, float *C,
							   ptrdiff_t ldc, int mr, int nr, int acc)
{
	__m512 c[12][2];
	/* C is read and written once per k-block and its rows are far apart (L3 at SD's sizes):
	 * fetching the tile now hides that behind the k-loop */
	for (int i = 0; i < mr; i++) {
		_mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
		_mm_prefetch((const char *)(C + i * ldc + 31), _MM_HINT_T0);
	}
#pragma GCC unroll 12
	for (int i = 0; i < 12; i++)
		c[i][0] = c[i][1] = _mm512_setzero_ps();
	for (int kk = 0; kk < kc; kk++, a += 12, b += 32) {
		__m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
		for (int i = 0; i < 12; i++) {
			__m512 x = _mm512_set1_ps(a[i]);
			c[i][0] = _mm512_fmadd_ps(x, b0, c[i][0]);
			c[i][1] = _mm512_fmadd_ps(x, b1, c[i][1]);
		}
	}
	if (mr == 12 && nr == 32) {
#pragma GCC unroll 12
		for (int i = 0; i < 12; i++) {
			float *p = C + i * ldc;
			__m512 r0 = c[i][0], r1 = c[i][1];
			if (acc) {
				r0 = _mm512_add_ps(r0, _mm512_loadu_ps(p));
				r1 = _mm512_add_ps(r1, _mm512_loadu_ps(p + 16));
			}
			_mm512_storeu_ps(p, r0);
			_mm512_storeu_ps(p + 16, r1);
		}
		return;
	}
	float t[12 * 32];
	for (int i = 0; i < 12; i++) {
		_mm512_storeu_ps(t + 32 * i, c[i][0]);
		_mm512_storeu_ps(t + 32 * i + 16, c[i][1]);
	}
	store_tile(t, 32, C, ldc, mr, nr, acc);
}

typedef void (*kern_fn)(int, const float *, const float *, float *, ptrdiff_t, int, int, int);
static const kern_fn kernels[IMGK__MAX] = {kern_scalar, kern_avx2, kern_avx512};

/* A 3x3 (or any square) convolution seen as B = im2col(in): row k = (c, ky, kx), column
 * j = (oy, ox). */
struct conv_geom {
	const float *in; /* [cin, h, w] */
	int h, w, ks, stride, pad, wo;
};

/* Where B comes from: a strided matrix, or (cv != NULL) the im2col of an image, which
 * pack_b_conv() packs straight from the image so the cin*ks*ks x ho*wo column matrix is never
 * written (at SD's first level it is 47 MB, written then read back from memory). */
struct bsrc {
	const float *B;
	ptrdiff_t rsb, csb;
	const struct conv_geom *cv;
};

/* Pack rows [k0, k0+kc) and columns [j0, j0+nc) of im2col(g->in) into panels of nr columns, as
 * pack_b() does for a stored matrix. A panel row is cut into runs that stay on one output row. */
static void pack_b_conv(const struct conv_geom *g, int k0, int j0, int kc, int nc, int nr, float *dst)
{
	int kk2 = g->ks * g->ks;
	for (int p = 0; p < nc; p += nr, dst += (ptrdiff_t)kc * nr) {
		int cols = nc - p < nr ? nc - p : nr;
		for (int kk = 0; kk < kc; kk++) {
			int k = k0 + kk, c = k / kk2, ky = k % kk2 / g->ks, kx = k % g->ks;
			float *d = dst + (ptrdiff_t)kk * nr;
			int j = j0 + p, oy = j / g->wo, ox = j % g->wo;
			for (int jj = 0; jj < cols; oy++, ox = 0) {
				int len = cols - jj < g->wo - ox ? cols - jj : g->wo - ox;
				int iy = oy * g->stride + ky - g->pad;
				float *o = d + jj;
				jj += len;
				if (iy < 0 || iy >= g->h) {
					for (int t = 0; t < len; t++)
						o[t] = 0.0f;
					continue;
				}
				const float *row = g->in + ((ptrdiff_t)c * g->h + iy) * g->w;
				if (g->stride != 1) {
					for (int t = 0; t < len; t++) {
						int ix = (ox + t) * g->stride + kx - g->pad;
						o[t] = ix < 0 || ix >= g->w ? 0.0f : row[ix];
					}
					continue;
				}
				/* ix = ox + t + kx - pad: zeros left of 0 and from w on, a copy between */
				int off = ox + kx - g->pad, t0 = off < 0 ? -off : 0, t1 = g->w - off;
				t0 = t0 < len ? t0 : len;
				t1 = t1 < len ? t1 : len;
				t1 = t1 > t0 ? t1 : t0;
				for (int t = 0; t < t0; t++)
					o[t] = 0.0f;
				for (int t = t0; t < t1; t++)
					o[t] = row[off + t];
				for (int t = t1; t < len; t++)
					o[t] = 0.0f;
			}
			for (int jj = cols; jj < nr; jj++)
				d[jj] = 0.0f;
		}
	}
}

/* pack_b_conv() for 32-column panels and stride 1: each run on one output row is two masked
 * loads (lanes outside the image or outside the run read nothing) and two masked stores. */
__attribute__((target("avx512f"))) static void pack_b_conv32(const struct conv_geom *g, int k0, int j0, int kc, int nc,
							      float *dst)
{
	int kk2 = g->ks * g->ks;
	for (int p = 0; p < nc; p += 32, dst += (ptrdiff_t)kc * 32) {
		int cols = nc - p < 32 ? nc - p : 32, oy0 = (j0 + p) / g->wo, ox0 = (j0 + p) % g->wo;
		int c = k0 / kk2, ky = k0 % kk2 / g->ks, kx = k0 % g->ks;
		for (int kk = 0; kk < kc; kk++) {
			float *d = dst + (ptrdiff_t)kk * 32;
			int ox = ox0;
			for (int jj = 0, oy = oy0; jj < cols; oy++, ox = 0) {
				int len = cols - jj < g->wo - ox ? cols - jj : g->wo - ox;
				int iy = oy + ky - g->pad, off = ox + kx - g->pad;
				/* lanes t of the run with 0 <= off + t < w, inside the image row iy */
				int t0 = off < 0 ? -off : 0, t1 = g->w - off < len ? g->w - off : len;
				uint64_t run = (1ull << len) - 1, ok = 0;
				const float *src = g->in; /* read nothing when ok is 0 */
				if (iy >= 0 && iy < g->h && t1 > t0) {
					ok = ((1ull << t1) - 1) & ~((1ull << t0) - 1);
					src += ((ptrdiff_t)c * g->h + iy) * g->w + off - jj;
				}
				/* shift both masks to the run's place in the panel: lanes jj.. */
				run <<= jj;
				ok <<= jj;
				_mm512_mask_storeu_ps(d, (__mmask16)run, _mm512_maskz_loadu_ps((__mmask16)ok, src));
				_mm512_mask_storeu_ps(d + 16, (__mmask16)(run >> 16),
						      _mm512_maskz_loadu_ps((__mmask16)(ok >> 16), src + 16));
				jj += len;
			}
			for (int jj = cols; jj < 32; jj++)
				d[jj] = 0.0f;
			if (++kx == g->ks) {
				kx = 0;
				if (++ky == g->ks) {
					ky = 0;
					c++;
				}
			}
		}
	}
}

/* One thread's serial GEMM on its block, with its own pack buffers; B's columns start at j0. */
static void gemm_blocks(enum imgk_isa isa, float *pa, float *pb, int M, int N, int K, const float *A, ptrdiff_t rsa,
			ptrdiff_t csa, const struct bsrc *bs, int j0, float *C, ptrdiff_t ldc, int acc)
{
	int mr = isa_mr[isa], nr = isa_nr[isa];
	kern_fn kern = kernels[isa];
	if (K == 0) {
		if (!acc)
			for (int i = 0; i < M; i++)
				memset(C + i * ldc, 0, sizeof(float) * (size_t)N);
		return;
	}
	for (int jc = 0; jc < N; jc += NC) {
		int nc = N - jc < NC ? N - jc : NC;
		for (int pc = 0; pc < K; pc += KC) {
			int kc = K - pc < KC ? K - pc : KC;
			int a2 = acc || pc > 0;
			if (bs->cv && nr == 32 && bs->cv->stride == 1)
				pack_b_conv32(bs->cv, pc, j0 + jc, kc, nc, pb);
			else if (bs->cv)
				pack_b_conv(bs->cv, pc, j0 + jc, kc, nc, nr, pb);
			else
				pack_b(isa, bs->B + pc * bs->rsb + (j0 + jc) * bs->csb, bs->rsb, bs->csb, kc, nc, nr, pb);
			for (int ic = 0; ic < M; ic += MC) {
				int mc = M - ic < MC ? M - ic : MC;
				pack_a(A + ic * rsa + pc * csa, rsa, csa, mc, kc, mr, pa);
				for (int jr = 0; jr < nc; jr += nr) {
					int nrr = nc - jr < nr ? nc - jr : nr;
					for (int ir = 0; ir < mc; ir += mr) {
						int mrr = mc - ir < mr ? mc - ir : mr;
						kern(kc, pa + (ptrdiff_t)ir * kc, pb + (ptrdiff_t)jr * kc,
						     C + (ptrdiff_t)(ic + ir) * ldc + jc + jr, ldc, mrr, nrr, a2);
					}
				}
			}
		}
	}
}

static void gemm_serial(enum imgk_isa isa, float *pa, float *pb, int M, int N, int K, const float *A, ptrdiff_t rsa,
			ptrdiff_t csa, const float *B, ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int acc)
{
	struct bsrc bs = {B, rsb, csb, NULL};
	gemm_blocks(isa, pa, pb, M, N, K, A, rsa, csa, &bs, 0, C, ldc, acc);
}

/* C[i*ldc + j] += bias[i] for i in [i0, i1), j in [j0, j1). */
static void add_bias_block(float *C, ptrdiff_t ldc, const float *bias, int i0, int i1, int j0, int j1)
{
	for (int i = i0; i < i1; i++) {
		float b = bias[i], *c = C + i * ldc;
		for (int jj = j0; jj < j1; jj++)
			c[jj] += b;
	}
}

struct gemm_job {
	struct imgk *k;
	int M, N, K;
	const float *A;
	ptrdiff_t rsa, csa, ldc;
	const struct bsrc *bs;
	float *C;
	const float *bias; /* [M] added to every column, or NULL */
	int acc, split_n;
};

/* Each thread computes, then adds the bias to, its own block of C while it is still warm. */
static void gemm_worker(void *ctx, int ith, int nth)
{
	struct gemm_job *g = ctx;
	int isa = g->k->isa, unit = g->split_n ? isa_nr[isa] : isa_mr[isa];
	int total = g->split_n ? g->N : g->M;
	int blocks = (total + unit - 1) / unit;
	int b0 = (int)((long)blocks * ith / nth), b1 = (int)((long)blocks * (ith + 1) / nth);
	int s = b0 * unit, e = b1 * unit < total ? b1 * unit : total;
	if (s >= e)
		return;
	if (g->split_n) {
		gemm_blocks(isa, g->k->pack_a[ith], g->k->pack_b[ith], g->M, e - s, g->K, g->A, g->rsa, g->csa, g->bs, s,
			    g->C + s, g->ldc, g->acc);
		if (g->bias)
			add_bias_block(g->C, g->ldc, g->bias, 0, g->M, s, e);
	} else {
		struct bsrc bs = *g->bs;
		gemm_blocks(isa, g->k->pack_a[ith], g->k->pack_b[ith], e - s, g->N, g->K, g->A + s * g->rsa, g->rsa,
			    g->csa, &bs, 0, g->C + s * g->ldc, g->ldc, g->acc);
		if (g->bias)
			add_bias_block(g->C, g->ldc, g->bias, s, e, 0, g->N);
	}
}

/* imgk_gemm() with B from any source and an optional bias. */
static void gemm_run(struct imgk *k, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
		     const struct bsrc *bs, float *C, ptrdiff_t ldc, int acc, const float *bias)
{
	if (M <= 0 || N <= 0)
		return;
	struct gemm_job g = {k, M, N, K, A, rsa, csa, ldc, bs, C, bias, acc, 1};
	int nr = isa_nr[k->isa], mr = isa_mr[k->isa];
	/* Split the longer side (unless it has fewer tiles than threads): every thread packs all of
	 * the other operand, and A is the weights, read from memory. Splitting N whenever it had a
	 * few tiles per thread made both threads pack all 59 MB of a 1280-channel 16x16 conv's
	 * weights. */
	int tn = N / nr, tm = M / mr;
	g.split_n = N >= M ? tn >= k->nth || tn >= tm : tm < k->nth && tn >= tm;
	long flops = 2L * M * N * K;
	if (k->nth == 1 || !k->pool || flops < 200000)
		gemm_worker(&g, 0, 1);
	else
		threads_run(k->pool, gemm_worker, &g);
}

void imgk_gemm(struct imgk *k, int M, int N, int K, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
	       const float *B, ptrdiff_t rsb, ptrdiff_t csb, float *C, ptrdiff_t ldc, int acc)
{
	struct bsrc bs = {B, rsb, csb, NULL};
	gemm_run(k, M, N, K, A, rsa, csa, &bs, C, ldc, acc, NULL);
}

/* ------------------------------------------------------------------ conv */

void imgk_conv2d(struct imgk *k, const float *in, int cin, int h, int w, const float *wt, const float *bias,
		 int cout, int ks, int stride, int pad, float *out)
{
	int ho = (h + 2 * pad - ks) / stride + 1, wo = (w + 2 * pad - ks) / stride + 1;
	int n = ho * wo, kd = cin * ks * ks;
	struct conv_geom g = {in, h, w, ks, stride, pad, wo};
	struct bsrc bs = {in, n, 1, NULL};
	if (!(ks == 1 && stride == 1 && pad == 0))
		bs.cv = &g;
	gemm_run(k, cout, n, kd, wt, kd, 1, &bs, out, n, 0, bias);
}

void imgk_conv2d_ref(const float *in, int cin, int h, int w, const float *wt, const float *bias, int cout, int ks,
		     int stride, int pad, float *out)
{
	int ho = (h + 2 * pad - ks) / stride + 1, wo = (w + 2 * pad - ks) / stride + 1;
	for (int co = 0; co < cout; co++)
		for (int oy = 0; oy < ho; oy++)
			for (int ox = 0; ox < wo; ox++) {
				double s = bias ? bias[co] : 0.0;
				for (int ci = 0; ci < cin; ci++)
					for (int ky = 0; ky < ks; ky++)
						for (int kx = 0; kx < ks; kx++) {
							int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
							if (iy < 0 || iy >= h || ix < 0 || ix >= w)
								continue;
							s += (double)wt[((co * cin + ci) * ks + ky) * ks + kx] *
							     in[(ci * h + iy) * w + ix];
						}
				out[(co * ho + oy) * wo + ox] = (float)s;
			}
}

void imgk_linear(struct imgk *k, const float *x, int cin, int n, const float *wt, const float *b, int cout, float *y)
{
	struct bsrc bs = {x, n, 1, NULL};
	gemm_run(k, cout, n, cin, wt, cin, 1, &bs, y, n, 0, b);
}

/* ------------------------------------------------------------------ norms */

/* y[j] = silu(x[j] * a + b) for j < n, 8 lanes at a time. */
__attribute__((target("avx2,fma"))) static void affine_silu_avx2(const float *x, int n, float a, float b, float *y)
{
	__m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b), one = _mm256_set1_ps(1.0f);
	__m256 lim = _mm256_set1_ps(87.0f);
	int j = 0;
	for (; j + 8 <= n; j += 8) {
		__m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), va, vb);
		__m256 e = exp256(_mm256_min_ps(_mm256_sub_ps(_mm256_setzero_ps(), v), lim));
		_mm256_storeu_ps(y + j, _mm256_div_ps(v, _mm256_add_ps(one, e)));
	}
	for (; j < n; j++)
		y[j] = imgk_silu(x[j] * a + b);
}

static int have_avx2(void)
{
	static int v = -1;
	if (v < 0)
		v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	return v;
}

void imgk_groupnorm(const float *x, int c, int hw, int groups, const float *gamma, const float *beta, float eps,
		    int silu, float *y)
{
	int cg = c / groups;
	size_t cnt = (size_t)cg * hw;
	for (int g = 0; g < groups; g++) {
		const float *xg = x + (ptrdiff_t)g * cg * hw;
		float *yg = y + (ptrdiff_t)g * cg * hw;
		/* two passes: the mean, then the centred variance (no cancellation) */
		float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		size_t i = 0;
		for (; i + 4 <= cnt; i += 4) {
			s0 += xg[i];
			s1 += xg[i + 1];
			s2 += xg[i + 2];
			s3 += xg[i + 3];
		}
		for (; i < cnt; i++)
			s0 += xg[i];
		float mean = (s0 + s1 + s2 + s3) / (float)cnt;
		s0 = s1 = s2 = s3 = 0;
		for (i = 0; i + 4 <= cnt; i += 4) {
			float d0 = xg[i] - mean, d1 = xg[i + 1] - mean, d2 = xg[i + 2] - mean, d3 = xg[i + 3] - mean;
			s0 += d0 * d0;
			s1 += d1 * d1;
			s2 += d2 * d2;
			s3 += d3 * d3;
		}
		for (; i < cnt; i++)
			s0 += (xg[i] - mean) * (xg[i] - mean);
		float rstd = 1.0f / sqrtf((s0 + s1 + s2 + s3) / (float)cnt + eps);
		for (int cc = 0; cc < cg; cc++) {
			int ch = g * cg + cc;
			float a = rstd * gamma[ch], b = beta[ch] - mean * a;
			const float *xs = xg + (ptrdiff_t)cc * hw;
			float *ys = yg + (ptrdiff_t)cc * hw;
			if (silu && have_avx2())
				affine_silu_avx2(xs, hw, a, b, ys);
			else if (silu)
				for (int j = 0; j < hw; j++)
					ys[j] = imgk_silu(xs[j] * a + b);
			else
				for (int j = 0; j < hw; j++)
					ys[j] = xs[j] * a + b;
		}
	}
}

void imgk_groupnorm_ref(const float *x, int c, int hw, int groups, const float *gamma, const float *beta, float eps,
			int silu, float *y)
{
	int cg = c / groups;
	for (int g = 0; g < groups; g++) {
		double m = 0, v = 0;
		size_t cnt = (size_t)cg * hw;
		for (size_t i = 0; i < cnt; i++)
			m += x[(size_t)g * cnt + i];
		m /= (double)cnt;
		for (size_t i = 0; i < cnt; i++) {
			double d = x[(size_t)g * cnt + i] - m;
			v += d * d;
		}
		v /= (double)cnt;
		for (size_t i = 0; i < cnt; i++) {
			int ch = g * cg + (int)(i / (size_t)hw);
			double r = (x[(size_t)g * cnt + i] - m) / sqrt(v + eps) * gamma[ch] + beta[ch];
			if (silu)
				r = r / (1.0 + exp(-r));
			y[(size_t)g * cnt + i] = (float)r;
		}
	}
}

void imgk_layernorm(const float *x, int c, int n, const float *gamma, const float *beta, float eps, float *y,
		    float *scratch)
{
	float *mean = scratch, *var = scratch + n;
	for (int j = 0; j < n; j++)
		mean[j] = var[j] = 0.0f;
	for (int ch = 0; ch < c; ch++)
		for (int j = 0; j < n; j++)
			mean[j] += x[(ptrdiff_t)ch * n + j];
	for (int j = 0; j < n; j++)
		mean[j] /= (float)c;
	for (int ch = 0; ch < c; ch++)
		for (int j = 0; j < n; j++) {
			float d = x[(ptrdiff_t)ch * n + j] - mean[j];
			var[j] += d * d;
		}
	for (int j = 0; j < n; j++)
		var[j] = 1.0f / sqrtf(var[j] / (float)c + eps);
	for (int ch = 0; ch < c; ch++)
		for (int j = 0; j < n; j++)
			y[(ptrdiff_t)ch * n + j] = (x[(ptrdiff_t)ch * n + j] - mean[j]) * var[j] * gamma[ch] + beta[ch];
}

/* ------------------------------------------------------------------ GEGLU */

/* gelu(x) = x/2 (1 + erf(x/sqrt 2)) with erf from Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
__attribute__((target("avx2,fma"))) static void geglu_avx2(float *a, const float *g, size_t n)
{
	const __m256 p = _mm256_set1_ps(0.3275911f), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
	const __m256 a1 = _mm256_set1_ps(0.254829592f), a2 = _mm256_set1_ps(-0.284496736f),
		     a3 = _mm256_set1_ps(1.421413741f), a4 = _mm256_set1_ps(-1.453152027f),
		     a5 = _mm256_set1_ps(1.061405429f), rs2 = _mm256_set1_ps(0.70710678118654752f);
	const __m256 sign = _mm256_set1_ps(-0.0f);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(g + i);
		__m256 z = _mm256_mul_ps(x, rs2);
		__m256 az = _mm256_andnot_ps(sign, z);
		__m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(p, az, one));
		__m256 poly = _mm256_fmadd_ps(a5, t, a4);
		poly = _mm256_fmadd_ps(poly, t, a3);
		poly = _mm256_fmadd_ps(poly, t, a2);
		poly = _mm256_fmadd_ps(poly, t, a1);
		poly = _mm256_mul_ps(poly, t);
		__m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az)));
		__m256 erf = _mm256_fnmadd_ps(poly, e, one); /* 1 - poly e, for |z| */
		erf = _mm256_or_ps(erf, _mm256_and_ps(sign, z)); /* odd */
		__m256 gl = _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, erf));
		_mm256_storeu_ps(a + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), gl));
	}
	for (; i < n; i++)
		a[i] *= imgk_gelu(g[i]);
}

void imgk_geglu(struct imgk *k, float *a, const float *g, size_t n)
{
	if (k->isa >= IMGK_AVX2) {
		geglu_avx2(a, g, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		a[i] *= imgk_gelu(g[i]);
}

/* ------------------------------------------------------------------ attention */

/* exp(x) for x <= 0 via 2^(x log2 e) split into integer and fraction with a degree-6
 * polynomial: relative error below 2e-7, enough for softmax weights. */
__attribute__((target("avx2,fma"))) static __m256 exp256(__m256 x)
{
	x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
	__m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f));
	__m256 fi = _mm256_floor_ps(t);
	__m256 f = _mm256_sub_ps(t, fi);
	__m256 p = _mm256_set1_ps(1.5353362e-4f);
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3398874e-3f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6184808e-3f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5503047e-2f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022652e-1f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718e-1f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fi), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"))) static void softmax_row_avx2(float *s, int cols, float scale)
{
	float mx = -INFINITY;
	for (int j = 0; j < cols; j++)
		mx = s[j] > mx ? s[j] : mx;
	__m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(mx * scale), acc = _mm256_setzero_ps();
	int j = 0;
	for (; j + 8 <= cols; j += 8) {
		__m256 v = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(s + j), vs, vm));
		_mm256_storeu_ps(s + j, v);
		acc = _mm256_add_ps(acc, v);
	}
	float tmp[8], sum = 0;
	_mm256_storeu_ps(tmp, acc);
	for (int i = 0; i < 8; i++)
		sum += tmp[i];
	for (; j < cols; j++) {
		s[j] = expf(s[j] * scale - mx * scale);
		sum += s[j];
	}
	__m256 inv = _mm256_set1_ps(1.0f / sum);
	for (j = 0; j + 8 <= cols; j += 8)
		_mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), inv));
	for (; j < cols; j++)
		s[j] *= 1.0f / sum;
}

static void softmax_row(float *s, int cols, float scale)
{
	float mx = -INFINITY, sum = 0;
	for (int j = 0; j < cols; j++)
		mx = s[j] > mx ? s[j] : mx;
	for (int j = 0; j < cols; j++) {
		s[j] = expf((s[j] - mx) * scale);
		sum += s[j];
	}
	for (int j = 0; j < cols; j++)
		s[j] /= sum;
}

/* s[j] = exp((s[j] - max) * scale); returns the sum (the caller divides later). */
__attribute__((target("avx2,fma"))) static float exp_row_avx2(float *s, int cols, float scale)
{
	__m256 vmx = _mm256_set1_ps(-INFINITY);
	int j = 0;
	for (; j + 8 <= cols; j += 8)
		vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + j));
	float tmp[8], mx = -INFINITY, sum = 0;
	_mm256_storeu_ps(tmp, vmx);
	for (int i = 0; i < 8; i++)
		mx = tmp[i] > mx ? tmp[i] : mx;
	for (; j < cols; j++)
		mx = s[j] > mx ? s[j] : mx;
	__m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(mx * scale), acc = _mm256_setzero_ps();
	for (j = 0; j + 8 <= cols; j += 8) {
		__m256 v = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(s + j), vs, vm));
		_mm256_storeu_ps(s + j, v);
		acc = _mm256_add_ps(acc, v);
	}
	_mm256_storeu_ps(tmp, acc);
	for (int i = 0; i < 8; i++)
		sum += tmp[i];
	for (; j < cols; j++) {
		s[j] = expf(s[j] * scale - mx * scale);
		sum += s[j];
	}
	return sum;
}

static float exp_row(float *s, int cols, float scale)
{
	float mx = -INFINITY, sum = 0;
	for (int j = 0; j < cols; j++)
		mx = s[j] > mx ? s[j] : mx;
	for (int j = 0; j < cols; j++) {
		s[j] = expf((s[j] - mx) * scale);
		sum += s[j];
	}
	return sum;
}

struct softmax_job {
	float *s;
	int rows, cols, simd;
	float scale;
};

static void softmax_worker(void *ctx, int ith, int nth)
{
	struct softmax_job *j = ctx;
	int r0 = (int)((long)j->rows * ith / nth), r1 = (int)((long)j->rows * (ith + 1) / nth);
	for (int r = r0; r < r1; r++) {
		if (j->simd)
			softmax_row_avx2(j->s + (ptrdiff_t)r * j->cols, j->cols, j->scale);
		else
			softmax_row(j->s + (ptrdiff_t)r * j->cols, j->cols, j->scale);
	}
}

void imgk_softmax_rows(struct imgk *k, float *s, int rows, int cols, float scale)
{
	struct softmax_job j = {s, rows, cols, k->isa >= IMGK_AVX2, scale};
	if (k->pool && k->nth > 1 && (long)rows * cols > 16384)
		threads_run(k->pool, softmax_worker, &j);
	else
		softmax_worker(&j, 0, 1);
}

struct attn_job {
	struct imgk *k;
	const float *q, *kk, *v;
	int c, n, m, heads;
	float *out, *scratch;
	atomic_int next; /* AVX-512 path: the next (head, query block) to take */
};

#define ATTN_QB 48 /* query rows per block: a 48 x m score block stays in L2 */

static int roundup(int x, int r)
{
	return (x + r - 1) / r * r;
}

/* Thread ith owns query rows [r0, r1) of every head: its rows of the score matrix and of O^T
 * in scratch are its own, so threads never wait on each other. Every query block reuses the
 * thread's first ATTN_QB score rows; when it owns enough rows, the rows after those hold K_h and
 * V_h^T packed once per head (instead of once per block). */
static void attn_worker(void *ctx, int ith, int nth)
{
	struct attn_job *j = ctx;
	struct imgk *k = j->k;
	int n = j->n, m = j->m, d = j->c / j->heads, mr = isa_mr[k->isa], nr = isa_nr[k->isa];
	kern_fn kern = kernels[k->isa];
	int blocks = (n + mr - 1) / mr;
	int r0 = (int)((long)blocks * ith / nth) * mr, r1 = (int)((long)blocks * (ith + 1) / nth) * mr;
	if (r1 > n)
		r1 = n;
	if (r0 >= r1)
		return;
	float scale = 1.0f / sqrtf((float)d);
	float *ot = j->scratch + (size_t)n * m;
	int mp = roundup(m, nr), dp = roundup(d, nr);
	size_t kpack = (size_t)d * mp, vpack = (size_t)m * dp;
	/* prepacking needs d <= KC (one k-block for the scores) and room after the first block */
	int pre = d <= KC && r1 - r0 > ATTN_QB && (size_t)(r1 - r0 - ATTN_QB) * m >= kpack + vpack + 16;
	/* the micro-kernels load packed panels with aligned loads: start on 64 bytes */
	float *kp = j->scratch + (size_t)(r0 + ATTN_QB) * m;
	kp += ((64 - (uintptr_t)kp % 64) % 64) / sizeof(float);
	float *vp = kp + kpack;
	float sums[ATTN_QB];
	for (int h = 0; h < j->heads; h++) {
		const float *qh = j->q + (ptrdiff_t)h * d * n, *kh = j->kk + (ptrdiff_t)h * d * m;
		const float *vh = j->v + (ptrdiff_t)h * d * m;
		float *oh = j->out + (ptrdiff_t)h * d * n;
		if (pre) {
			pack_b(k->isa, kh, m, 1, d, m, nr, kp);
			for (int pc = 0; pc < m; pc += KC) {
				int kc = m - pc < KC ? m - pc : KC;
				pack_b(k->isa, vh + pc, 1, m, kc, d, nr, vp + (size_t)pc * dp);
			}
		}
		for (int i0 = r0; i0 < r1; i0 += ATTN_QB) {
			int rows = r1 - i0 < ATTN_QB ? r1 - i0 : ATTN_QB;
			float *sb = j->scratch + (size_t)r0 * m, *ob = ot + (size_t)i0 * d; /* one score block per thread */
			float *pa = k->pack_a[ith];
			/* S[i,j] = sum_t qh[t,i] kh[t,j]: A = qh^T (row stride 1, column stride n) */
			if (pre) {
				pack_a(qh + i0, 1, n, rows, d, mr, pa);
				for (int jr = 0; jr < m; jr += nr)
					for (int ir = 0; ir < rows; ir += mr)
						kern(d, pa + (size_t)ir * d, kp + (size_t)jr * d, sb + (size_t)ir * m + jr, m,
						     rows - ir < mr ? rows - ir : mr, m - jr < nr ? m - jr : nr, 0);
			} else {
				gemm_serial(k->isa, pa, k->pack_b[ith], rows, m, d, qh + i0, 1, n, kh, m, 1, sb, m, 0);
			}
			for (int r = 0; r < rows; r++)
				sums[r] = k->isa >= IMGK_AVX2 ? exp_row_avx2(sb + (size_t)r * m, m, scale)
							      : exp_row(sb + (size_t)r * m, m, scale);
			/* O^T[i,t] = sum_j P[i,j] vh[t,j] with P unnormalised: A = P (contiguous),
			 * B = vh^T (m x d); O = vh P^T instead would pack the scores through a transpose. */
			if (pre) {
				for (int pc = 0; pc < m; pc += KC) {
					int kc = m - pc < KC ? m - pc : KC;
					pack_a(sb + pc, m, 1, rows, kc, mr, pa);
					for (int jr = 0; jr < d; jr += nr)
						for (int ir = 0; ir < rows; ir += mr)
							kern(kc, pa + (size_t)ir * kc, vp + (size_t)pc * dp + (size_t)jr * kc,
							     ob + (size_t)ir * d + jr, d, rows - ir < mr ? rows - ir : mr,
							     d - jr < nr ? d - jr : nr, pc > 0);
				}
			} else {
				gemm_serial(k->isa, pa, k->pack_b[ith], rows, d, m, sb, m, 1, vh, 1, m, ob, d, 0);
			}
			for (int i = 0; i < rows; i++) {
				float inv = 1.0f / sums[i];
				for (int t = 0; t < d; t++)
					oh[(size_t)t * n + i0 + i] = ob[(size_t)i * d + t] * inv;
			}
		}
	}
}

/* The AVX-512 path works on S^T rather than S: a block of 32 queries is the 32 lanes of two
 * registers, keys are the rows. The softmax over keys then runs down the columns (vertical max
 * and sum, no horizontal reductions), and the probabilities of a chunk of keys, stored key by
 * key, are already the packed B operand of O_h = V_h P^T: O comes out channel-major, as the
 * caller wants it, and head dims pad only to the 8-row tile of that product (40 -> 40) where
 * the generic GEMM padded them to its 32-column tile (40 -> 64). Keys go by in chunks with an
 * online softmax (a running max per query; the partial O and sum are rescaled when it grows),
 * so one chunk's scores stay in L1 and no n x m matrix is written. */
#define ATTN_QW 32 /* queries per block: two zmm registers of lanes */
#define ATTN_KR 12 /* keys per score tile */
#define ATTN_VR 8 /* head channels per P·V tile */
#define ATTN_KB 120 /* keys per chunk, a multiple of ATTN_KR: its scores, 15 KiB, stay in L1 */

/* 2^x, x clamped below at -126: the polynomial of exp256 and a scalef for the exponent. */
__attribute__((target("avx512f"))) static __m512 exp2_512(__m512 x)
{
	x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
	__m512 fi = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
	__m512 f = _mm512_sub_ps(x, fi);
	__m512 p = _mm512_set1_ps(1.5353362e-4f);
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3398874e-3f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6184808e-3f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5503047e-2f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022652e-1f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
	return _mm512_scalef_ps(p, fi);
}

/* Scores of 12 keys x 32 queries: s[r*32 + i] = sum_t kt[t*12 + r] qb[t*32 + i], and
 * mx[i] = max(mx[i], s[r*32 + i]) over the rows r < rows that are real keys. */
__attribute__((target("avx512f"))) static void attn_scores_avx512(int d, const float *kt, const float *qb, float *s,
								  float *mx, int rows)
{
	__m512 c[ATTN_KR][2];
#pragma GCC unroll 12
	for (int r = 0; r < ATTN_KR; r++)
		c[r][0] = c[r][1] = _mm512_setzero_ps();
	for (int t = 0; t < d; t++, kt += ATTN_KR, qb += ATTN_QW) {
		__m512 b0 = _mm512_load_ps(qb), b1 = _mm512_load_ps(qb + 16);
#pragma GCC unroll 12
		for (int r = 0; r < ATTN_KR; r++) {
			__m512 x = _mm512_set1_ps(kt[r]);
			c[r][0] = _mm512_fmadd_ps(x, b0, c[r][0]);
			c[r][1] = _mm512_fmadd_ps(x, b1, c[r][1]);
		}
	}
	__m512 m0 = _mm512_load_ps(mx), m1 = _mm512_load_ps(mx + 16);
#pragma GCC unroll 12
	for (int r = 0; r < ATTN_KR; r++) {
		_mm512_store_ps(s + r * ATTN_QW, c[r][0]);
		_mm512_store_ps(s + r * ATTN_QW + 16, c[r][1]);
		if (r < rows) {
			m0 = _mm512_max_ps(m0, c[r][0]);
			m1 = _mm512_max_ps(m1, c[r][1]);
		}
	}
	_mm512_store_ps(mx, m0);
	_mm512_store_ps(mx + 16, m1);
}

/* 8 head channels x 32 queries of O: ob[r*32 + i] = ob[r*32 + i] alpha[i] + sum_{j<kv} vp[j*8 + r] p[j*32 + i]. */
__attribute__((target("avx512f"))) static void attn_pv_avx512(int kv, const float *vp, const float *p, float *ob,
							      const float *alpha)
{
	__m512 a0 = _mm512_load_ps(alpha), a1 = _mm512_load_ps(alpha + 16), c[ATTN_VR][2];
#pragma GCC unroll 8
	for (int r = 0; r < ATTN_VR; r++) {
		c[r][0] = _mm512_mul_ps(_mm512_load_ps(ob + r * ATTN_QW), a0);
		c[r][1] = _mm512_mul_ps(_mm512_load_ps(ob + r * ATTN_QW + 16), a1);
	}
	for (int j = 0; j < kv; j++, vp += ATTN_VR, p += ATTN_QW) {
		__m512 b0 = _mm512_load_ps(p), b1 = _mm512_load_ps(p + 16);
#pragma GCC unroll 8
		for (int r = 0; r < ATTN_VR; r++) {
			__m512 x = _mm512_set1_ps(vp[r]);
			c[r][0] = _mm512_fmadd_ps(x, b0, c[r][0]);
			c[r][1] = _mm512_fmadd_ps(x, b1, c[r][1]);
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < ATTN_VR; r++) {
		_mm512_store_ps(ob + r * ATTN_QW, c[r][0]);
		_mm512_store_ps(ob + r * ATTN_QW + 16, c[r][1]);
	}
}

/* One thread's buffers for the AVX-512 path, each on 64 bytes. */
struct attn_bufs {
	float *kt; /* [ceil(m/12)][d][12]: K_h^T in 12-key panels, keys past m zero */
	float *vp; /* [ceil(d/8)][m][8]: V_h in 8-channel panels, channels past d zero */
	float *sb; /* [ATTN_KB][32]: one chunk's scores, then probabilities */
	float *qb; /* [d][32]: the query block times log2(e)/sqrt(d), queries past n zero */
	float *ob; /* [roundup(d, 8)][32]: the block's unnormalised O */
};

static size_t attn_bufs_floats(int m, int d)
{
	return (size_t)roundup(m, ATTN_KR) * d + (size_t)roundup(d, ATTN_VR) * m + ATTN_KB * ATTN_QW +
	       (size_t)d * ATTN_QW + (size_t)roundup(d, ATTN_VR) * ATTN_QW + 5 * 16;
}

static void attn_bufs_carve(struct attn_bufs *b, float *p, int m, int d)
{
	float *q = p + ((64 - (uintptr_t)p % 64) % 64) / sizeof(float);
	float **dst[5] = {&b->kt, &b->vp, &b->sb, &b->qb, &b->ob};
	size_t len[5] = {(size_t)roundup(m, ATTN_KR) * d, (size_t)roundup(d, ATTN_VR) * m, ATTN_KB * ATTN_QW,
			 (size_t)d * ATTN_QW, (size_t)roundup(d, ATTN_VR) * ATTN_QW};
	for (int i = 0; i < 5; i++) {
		*dst[i] = q;
		q += roundup((int)len[i], 16);
	}
}

/* Where thread ith keeps its buffers: its GEMM B pack buffer when they fit there, else its
 * share of the scores scratch (which this path does not otherwise need); NULL if neither. */
static float *attn_bufs_place(struct attn_job *j, int ith, int nth, int d)
{
	size_t need = attn_bufs_floats(j->m, d);
	if (need <= (size_t)KC * NC)
		return j->k->pack_b[ith];
	size_t have = ((size_t)j->n * j->m + (size_t)j->n * d) / (size_t)nth;
	return need <= have ? j->scratch + have * (size_t)ith : NULL;
}

/* Work is handed out a query block at a time from a shared counter over (head, block), so a
 * thread that loses its core to another process does less of it instead of holding the other
 * up; a thread packs K_h and V_h when it first meets head h (at most once per head). */
__attribute__((target("avx512f"))) static void attn_worker_avx512(void *ctx, int ith, int nth)
{
	struct attn_job *j = ctx;
	int n = j->n, m = j->m, d = j->c / j->heads, dv = roundup(d, ATTN_VR);
	int nb = (n + ATTN_QW - 1) / ATTN_QW, total = nb * j->heads, h = -1;
	struct attn_bufs bf;
	attn_bufs_carve(&bf, attn_bufs_place(j, ith, nth, d), m, d);
	float qs = 1.44269504088896341f / sqrtf((float)d); /* softmax in base 2: fold log2(e) into q */
	_Alignas(64) float mx[ATTN_QW], alpha[ATTN_QW];
	const float *qh = NULL;
	float *oh = NULL;
	for (int idx = atomic_fetch_add(&j->next, 1); idx < total; idx = atomic_fetch_add(&j->next, 1)) {
		int b = idx % nb;
		if (idx / nb != h) {
			h = idx / nb;
			const float *kh = j->kk + (ptrdiff_t)h * d * m, *vh = j->v + (ptrdiff_t)h * d * m;
			qh = j->q + (ptrdiff_t)h * d * n;
			oh = j->out + (ptrdiff_t)h * d * n;
			for (int p = 0; p < m; p += ATTN_KR) {
				float *dst = bf.kt + (size_t)p * d;
				for (int t = 0; t < d; t++)
					for (int r = 0; r < ATTN_KR; r++)
						dst[t * ATTN_KR + r] = p + r < m ? kh[(size_t)t * m + p + r] : 0.0f;
			}
			for (int t0 = 0; t0 < dv; t0 += ATTN_VR) {
				float *dst = bf.vp + (size_t)t0 * m;
				for (int jj = 0; jj < m; jj++)
					for (int r = 0; r < ATTN_VR; r++)
						dst[jj * ATTN_VR + r] = t0 + r < d ? vh[(size_t)(t0 + r) * m + jj] : 0.0f;
			}
		}
		int i0 = b * ATTN_QW, qn = n - i0 < ATTN_QW ? n - i0 : ATTN_QW;
		__mmask16 k0 = qn >= 16 ? 0xffff : (__mmask16)((1u << qn) - 1);
		__mmask16 k1 = qn >= 32 ? 0xffff : qn <= 16 ? 0 : (__mmask16)((1u << (qn - 16)) - 1);
		__m512 vs = _mm512_set1_ps(qs);
		/* d rows n floats apart are too many streams for the hardware prefetcher: with few
		 * keys (cross-attention, 77) the misses on q and out took a third of the time, so the
		 * next block's lines are fetched one block ahead */
		int pf = b + 1 < nb;
		for (int t = 0; t < d; t++) {
			const float *src = qh + (size_t)t * n + i0;
			if (pf) {
				_mm_prefetch((const char *)(src + ATTN_QW), _MM_HINT_T0);
				_mm_prefetch((const char *)(src + ATTN_QW + 16), _MM_HINT_T0);
				_mm_prefetch((const char *)(oh + (size_t)t * n + i0 + ATTN_QW), _MM_HINT_T0);
				_mm_prefetch((const char *)(oh + (size_t)t * n + i0 + ATTN_QW + 16), _MM_HINT_T0);
			}
			_mm512_store_ps(bf.qb + t * ATTN_QW, _mm512_mul_ps(_mm512_maskz_loadu_ps(k0, src), vs));
			_mm512_store_ps(bf.qb + t * ATTN_QW + 16,
					_mm512_mul_ps(_mm512_maskz_loadu_ps(k1, src + 16), vs));
		}
		memset(bf.ob, 0, sizeof(float) * (size_t)dv * ATTN_QW);
		__m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, l0 = _mm512_setzero_ps(), l1 = l0;
		for (int pc = 0; pc < m; pc += ATTN_KB) {
			int kv = m - pc < ATTN_KB ? m - pc : ATTN_KB;
			_mm512_store_ps(mx, m0);
			_mm512_store_ps(mx + 16, m1);
			for (int p = 0; p < kv; p += ATTN_KR)
				attn_scores_avx512(d, bf.kt + (size_t)(pc + p) * d, bf.qb, bf.sb + p * ATTN_QW, mx,
						   kv - p);
			__m512 n0 = _mm512_load_ps(mx), n1 = _mm512_load_ps(mx + 16);
			__m512 a0 = exp2_512(_mm512_sub_ps(m0, n0)), a1 = exp2_512(_mm512_sub_ps(m1, n1));
			l0 = _mm512_mul_ps(l0, a0);
			l1 = _mm512_mul_ps(l1, a1);
			m0 = n0;
			m1 = n1;
			for (int jj = 0; jj < kv; jj++) {
				float *s = bf.sb + jj * ATTN_QW;
				__m512 p0 = exp2_512(_mm512_sub_ps(_mm512_load_ps(s), m0));
				__m512 p1 = exp2_512(_mm512_sub_ps(_mm512_load_ps(s + 16), m1));
				_mm512_store_ps(s, p0);
				_mm512_store_ps(s + 16, p1);
				l0 = _mm512_add_ps(l0, p0);
				l1 = _mm512_add_ps(l1, p1);
			}
			_mm512_store_ps(alpha, a0);
			_mm512_store_ps(alpha + 16, a1);
			for (int t0 = 0; t0 < dv; t0 += ATTN_VR)
				attn_pv_avx512(kv, bf.vp + (size_t)t0 * m + (size_t)pc * ATTN_VR, bf.sb,
					       bf.ob + t0 * ATTN_QW, alpha);
		}
		__m512 r0 = _mm512_div_ps(_mm512_set1_ps(1.0f), l0), r1 = _mm512_div_ps(_mm512_set1_ps(1.0f), l1);
		for (int t = 0; t < d; t++) {
			float *dst = oh + (size_t)t * n + i0;
			_mm512_mask_storeu_ps(dst, k0, _mm512_mul_ps(_mm512_load_ps(bf.ob + t * ATTN_QW), r0));
			_mm512_mask_storeu_ps(dst + 16, k1,
					      _mm512_mul_ps(_mm512_load_ps(bf.ob + t * ATTN_QW + 16), r1));
		}
	}
}

void imgk_attention(struct imgk *k, const float *q, const float *kk, const float *v, int c, int n, int m, int heads,
		    float *out, float *scratch)
{
	struct attn_job j = {.k = k, .q = q, .kk = kk, .v = v, .c = c, .n = n, .m = m, .heads = heads, .out = out,
			     .scratch = scratch};
	atomic_init(&j.next, 0);
	int nth = k->pool && k->nth > 1 && (long)n * m * c > 100000 ? k->nth : 1;
	threads_fn fn = attn_worker;
	if (k->isa == IMGK_AVX512 && attn_bufs_place(&j, 0, nth, c / heads))
		fn = attn_worker_avx512;
	if (nth > 1)
		threads_run(k->pool, fn, &j);
	else
		fn(&j, 0, 1);
}

void imgk_attention_ref(const float *q, const float *kk, const float *v, int c, int n, int m, int heads,
			float *out)
{
	int d = c / heads;
	double *p = malloc(sizeof(double) * (size_t)m);
	if (!p)
		abort();
	for (int h = 0; h < heads; h++)
		for (int i = 0; i < n; i++) {
			double mx = -INFINITY, sum = 0;
			for (int j = 0; j < m; j++) {
				double s = 0;
				for (int t = 0; t < d; t++)
					s += (double)q[(h * d + t) * n + i] * kk[(h * d + t) * m + j];
				p[j] = s / sqrt((double)d);
				mx = p[j] > mx ? p[j] : mx;
			}
			for (int j = 0; j < m; j++) {
				p[j] = exp(p[j] - mx);
				sum += p[j];
			}
			for (int t = 0; t < d; t++) {
				double o = 0;
				for (int j = 0; j < m; j++)
					o += p[j] / sum * v[(h * d + t) * m + j];
				out[(h * d + t) * n + i] = (float)o;
			}
		}
	free(p);
}
