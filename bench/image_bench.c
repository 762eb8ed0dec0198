/*
 * image_bench.c: speed of the image engine.
 *
 *   image_bench shapes MODEL THREADS   the default model: seconds per UNet step and per image
 *                                      (25 DDIM steps, guidance 3), GFLOP/s
 *   image_bench gemm THREADS           the GEMM kernel alone on an SD-sized convolution
 *   image_bench sd THREADS [LEVELS]    a random-weight UNet with Stable Diffusion 1.5's shapes
 *                                      (320 channels x [1,2,4,4], attention on the first three
 *                                      levels, 2 ResBlocks per level, 8 heads, 768-wide context
 *                                      of 77 tokens) on a 64x64x4 latent (a 512x512 image), one
 *                                      step with 1 thread, then with THREADS; LEVELS < 4 keeps
 *                                      only the first levels
 * Prints "key value" lines: step_s, image_s, gflops and per-kernel gflops (conv, attn).
 * Random weights are made here at run time (never stored).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/image/image.h"
#include "engine/image/kernels.h"
#include "engine/image/scheduler.h"
#include "engine/image/unet.h"
#include "engine/threads.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct rand_src {
	struct unet_wsrc base;
	struct sched_rng rng;
	float **bufs;
	size_t n, cap, params;
};

static int rand_get(struct unet_wsrc *b, const char *name, int ndim, const int *shape, const float **out,
		    struct errinfo *e)
{
	struct rand_src *s = (struct rand_src *)b;
	size_t n = 1, fan_in = ndim > 1 ? 1 : 0;
	for (int i = 0; i < ndim; i++)
		n *= (size_t)shape[i];
	for (int i = 1; i < ndim; i++)
		fan_in *= (size_t)shape[i];
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->bufs = realloc(s->bufs, s->cap * sizeof *s->bufs);
	}
	float *p = malloc(sizeof(float) * n);
	if (!p || !s->bufs)
		return err_set(e, ERR_NOMEM, NULL, "out of memory for %s", name);
	s->bufs[s->n++] = p;
	s->params += n;
	int is_gain = strstr(name, "norm") && strstr(name, "weight");
	is_gain |= (strstr(name, ".ln") != NULL) && strstr(name, "weight");
	float scale = fan_in ? 1.7320508f / sqrtf((float)fan_in) : 0.02f; /* uniform, variance 1/fan_in */
	uint32_t x = (uint32_t)sched_rng_next(&s->rng) | 1u; /* xorshift32: fast enough for 860M values */
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		float u = (float)(x >> 8) * 0x1.0p-24f * 2.0f - 1.0f;
		p[i] = is_gain ? 1.0f + 0.1f * u : u * scale;
	}
	*out = p;
	return ERR_OK;
}

static void report_kernels(struct unet *u, double reps)
{
	struct unet_flops f;
	struct unet_times t;
	unet_count_flops(u, &f);
	unet_times(u, &t, 1);
	double tot = t.conv + t.attn + t.linear + t.other;
	printf("flops_per_step %.3e\n", f.conv + f.attn + f.linear);
	printf("conv_gflops %.1f\n", f.conv * reps / t.conv / 1e9);
	printf("attn_gflops %.1f\n", f.attn * reps / t.attn / 1e9);
	printf("linear_gflops %.1f\n", f.linear * reps / t.linear / 1e9);
	printf("time_share conv %.0f%% attn %.0f%% linear %.0f%% other %.0f%%\n", 100 * t.conv / tot,
	       100 * t.attn / tot, 100 * t.linear / tot, 100 * t.other / tot);
	printf("gflops %.1f\n", (f.conv + f.attn + f.linear) * reps / tot / 1e9);
}

static int bench_shapes(const char *path, int threads)
{
	struct errinfo e;
	struct image_model *m;
	if (image_model_open(&m, path, threads, &e)) {
		fprintf(stderr, "%s: %s\n", err_str(e.code), e.msg);
		return 1;
	}
	int S = image_model_size(m);
	uint8_t *rgb = malloc((size_t)S * S * 3);
	struct image_params p = {.prompt = "two red circles on a blue background, top left", .steps = 25, .seed = 1,
				 .guidance = 3.0f, .sampler = IMAGE_DDIM};
	image_generate(m, &p, rgb, NULL, &e); /* warm up */
	unet_times(image_model_unet(m), &(struct unet_times){0}, 1);
	int reps = 3;
	double t0 = now();
	for (int i = 0; i < reps; i++)
		image_generate(m, &p, rgb, NULL, &e);
	double per_image = (now() - t0) / reps;
	printf("size %d\n", S);
	printf("image_s %.4f\n", per_image);
	printf("step_s %.5f\n", per_image / p.steps);
	printf("unet_forward_s %.5f\n", per_image / (2 * p.steps));
	report_kernels(image_model_unet(m), reps * 2.0 * p.steps);
	free(rgb);
	image_model_free(m);
	return 0;
}

/* One SD1.5-shaped UNet with random weights, one step at 1 thread and at `threads`. */
static int bench_sd(int threads, int levels)
{
	struct errinfo e;
	struct unet_config c = {.image_size = 64, .in_channels = 4, .out_channels = 4, .channels = 320, .levels = levels,
				.channel_mult = {1, 2, 4, 4}, .attention = {1, 1, 1, 0}, .num_res_blocks = 2,
				.groups = 32, .heads = 8, .time_sin_dim = 320, .time_dim = 1280, .ctx_dim = 768,
				.ctx_len = 77, .gn_eps = 1e-5f, .ln_eps = 1e-5f};
	struct rand_src src = {.base.get = rand_get};
	sched_rng_seed(&src.rng, 1);
	struct threadpool *pool = NULL;
	struct imgk *k1 = NULL, *kn = NULL;
	struct unet *u = NULL;
	int rc = 1;
	double t0 = now();
	if (threads_new(&pool, threads, &e) || imgk_new(&k1, NULL, &e) || imgk_new(&kn, pool, &e) ||
	    unet_new(&u, &c, &src.base, k1, &e)) {
		fprintf(stderr, "%s: %s\n", err_str(e.code), e.msg);
		goto out;
	}
	printf("sd_levels %d\n", levels);
	printf("params %.1fM (random, made in %.1f s)\n", src.params / 1e6, now() - t0);
	printf("activations_MB %.0f\n", unet_activation_bytes(u) / 1048576.0);
	size_t n = 4 * 64 * 64;
	float *x = malloc(sizeof(float) * n), *eps = malloc(sizeof(float) * n), *ctx = malloc(sizeof(float) * 768 * 77);
	struct sched_rng r;
	sched_rng_seed(&r, 2);
	sched_rng_normal(&r, x, (int)n);
	sched_rng_normal(&r, ctx, 768 * 77);
	for (int pass = 0; pass < 2; pass++) {
		int nth = pass ? threads : 1;
		if (pass && threads == 1)
			break;
		unet_set_kernels(u, pass ? kn : k1);
		unet_times(u, &(struct unet_times){0}, 1);
		t0 = now();
		unet_forward(u, x, 500.0f, ctx, eps);
		double dt = now() - t0;
		printf("threads %d\n", nth);
		printf("step_s %.3f\n", dt);
		report_kernels(u, 1);
	}
	free(x);
	free(eps);
	free(ctx);
	rc = 0;
out:
	unet_free(u);
	imgk_free(k1);
	imgk_free(kn);
	threads_free(pool);
	for (size_t i = 0; i < src.n; i++)
		free(src.bufs[i]);
	free(src.bufs);
	return rc;
}

/* The raw GEMM kernel on an SD-sized convolution (M=320, K=2880, N=4096). */
static int bench_gemm(int threads)
{
	struct errinfo e;
	struct threadpool *pool = NULL;
	struct imgk *k = NULL;
	int M = 320, K = 2880, N = 4096;
	if (threads_new(&pool, threads, &e) || imgk_new(&k, threads > 1 ? pool : NULL, &e))
		return 1;
	float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N),
	      *C = malloc(sizeof(float) * (size_t)M * N);
	struct sched_rng r;
	sched_rng_seed(&r, 3);
	sched_rng_normal(&r, A, M * K);
	sched_rng_normal(&r, B, K * N);
	imgk_gemm(k, M, N, K, A, K, 1, B, N, 1, C, N, 0);
	int reps = 3;
	double t0 = now();
	for (int i = 0; i < reps; i++)
		imgk_gemm(k, M, N, K, A, K, 1, B, N, 1, C, N, 0);
	double dt = (now() - t0) / reps;
	printf("gemm_gflops %.1f\n", 2.0 * M * N * K / dt / 1e9);
	free(A);
	free(B);
	free(C);
	imgk_free(k);
	threads_free(pool);
	return 0;
}

/* SD level-0 self-attention alone: c=320, 8 heads, 4096 queries and keys. */
static int bench_attn(int threads)
{
	struct errinfo e;
	struct threadpool *pool = NULL;
	struct imgk *k = NULL;
	int c = 320, n = 4096, heads = 8;
	if (threads_new(&pool, threads, &e) || imgk_new(&k, threads > 1 ? pool : NULL, &e))
		return 1;
	float *q = malloc(sizeof(float) * (size_t)c * n), *kk = malloc(sizeof(float) * (size_t)c * n),
	      *v = malloc(sizeof(float) * (size_t)c * n), *o = malloc(sizeof(float) * (size_t)c * n),
	      *s = malloc(sizeof(float) * ((size_t)n * n + (size_t)n * c / heads));
	struct sched_rng r;
	sched_rng_seed(&r, 4);
	sched_rng_normal(&r, q, c * n);
	sched_rng_normal(&r, kk, c * n);
	sched_rng_normal(&r, v, c * n);
	imgk_attention(k, q, kk, v, c, n, n, heads, o, s);
	double t0 = now();
	imgk_attention(k, q, kk, v, c, n, n, heads, o, s);
	double dt = now() - t0;
	printf("attn_gflops %.1f\n", 4.0 * n * n * c / dt / 1e9);
	free(q);
	free(kk);
	free(v);
	free(o);
	free(s);
	imgk_free(k);
	threads_free(pool);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "attn"))
		return bench_attn((int)strtol(argv[2], NULL, 10));
	if (argc >= 4 && !strcmp(argv[1], "shapes"))
		return bench_shapes(argv[2], (int)strtol(argv[3], NULL, 10));
	if (argc >= 3 && !strcmp(argv[1], "gemm"))
		return bench_gemm((int)strtol(argv[2], NULL, 10));
	if (argc >= 3 && !strcmp(argv[1], "sd"))
		return bench_sd((int)strtol(argv[2], NULL, 10), argc > 3 ? (int)strtol(argv[3], NULL, 10) : 4);
	fprintf(stderr, "usage: image_bench shapes MODEL THREADS | sd THREADS [LEVELS]\n");
	return 2;
}
