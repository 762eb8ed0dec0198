/*
 * unet.h: the denoising UNet and the weight source it is built from.
 *
 * The block layout is Stable Diffusion 1.5's (diffusers UNet2DConditionModel):
 * conv_in; per level num_res_blocks ResBlocks (GroupNorm, SiLU, 3x3 conv,
 * timestep projection) each followed by a SpatialTransformer where the level
 * has attention (GroupNorm, proj_in, self-attention, cross-attention to the
 * text encoding, GEGLU feed-forward, proj_out), a strided 3x3 conv between
 * levels; a middle ResBlock-Transformer-ResBlock; the mirror path with
 * num_res_blocks+1 ResBlocks per level fed by skip connections, nearest
 * upsampling + 3x3 conv; GroupNorm, SiLU, conv_out. Tensor names follow
 * tools/train_diffusion.py. The same code runs the default shapes model and
 * the SD1.5-shaped benchmark.
 *
 * unet_new() sizes every activation buffer for one sample at the configured
 * resolution and allocates them once; unet_forward() allocates nothing.
 */
#ifndef ATELIER_ENGINE_IMAGE_UNET_H
#define ATELIER_ENGINE_IMAGE_UNET_H

#include <stddef.h>

#include "base/err.h"

struct imgk;

#define UNET_MAX_LEVELS 6

/* Hyperparameters; a plain value read from the weights' metadata. */
struct unet_config {
	int image_size;      /* pixels (or latent cells) per side, divisible by 2^(levels-1) */
	int in_channels;     /* 3 for RGB pixels, 4 for SD latents */
	int out_channels;
	int channels;        /* base width */
	int levels;          /* entries in channel_mult / attention */
	int channel_mult[UNET_MAX_LEVELS];
	int attention[UNET_MAX_LEVELS];
	int num_res_blocks;
	int groups;          /* GroupNorm groups */
	int heads;           /* attention heads in every transformer */
	int time_sin_dim;    /* sinusoidal timestep features */
	int time_dim;        /* timestep embedding width */
	int ctx_dim;         /* text encoding width */
	int ctx_len;         /* text encoding length (tokens) */
	int pooled_text;     /* 1: the mean of the text encoding, projected, joins the timestep
	                      * embedding, so every ResBlock sees the caption (unet.pool_proj) */
	float gn_eps, ln_eps;
};

/* Where weights come from: a safetensors file, or random numbers for a bench.
 * get() returns in *out a float array of exactly the given shape (owned by
 * the source), or an error naming the tensor. */
struct unet_wsrc {
	int (*get)(struct unet_wsrc *src, const char *name, int ndim, const int *shape, const float **out,
		   struct errinfo *e);
};

struct unet;

/* Check cfg, fetch every weight from src, allocate all activations. */
int unet_new(struct unet **out, const struct unet_config *cfg, struct unet_wsrc *src, struct imgk *k,
	     struct errinfo *e);
void unet_free(struct unet *u);

/* eps [out_channels, S, S] = UNet(x [in_channels, S, S], t, ctx [ctx_dim, ctx_len]).
 * ctx is channel-major (one column per token). eps may not alias x. */
void unet_forward(struct unet *u, const float *x, float t, const float *ctx, float *eps);

/* Run later forward passes on kernel context k (e.g. another thread count). */
void unet_set_kernels(struct unet *u, struct imgk *k);

/* Multiply-adds (x2 = FLOPs) of one forward pass, counted per op kind. */
struct unet_flops {
	double conv, attn, linear; /* FLOPs: convolutions, attention scores+values, other matmuls */
};
void unet_count_flops(const struct unet *u, struct unet_flops *f);

/* Bytes of activations allocated. */
size_t unet_activation_bytes(const struct unet *u);

/* Per-kind wall time (seconds) accumulated by unet_forward since the last reset. */
struct unet_times {
	double conv, attn, linear, other;
};
void unet_times(struct unet *u, struct unet_times *t, int reset);

/* Validate a config: message names the bad field. */
int unet_config_check(const struct unet_config *cfg, struct errinfo *e);

#endif
