/*
 * image.h: text-to-image generation with a pixel-space diffusion model read
 * from a safetensors file: the public API of src/engine/image/.
 *
 * A model file carries its hyperparameters in metadata ("atelier.arch", JSON)
 * and its caption vocabulary ("atelier.vocab", a JSON list), the text encoder
 * under "text.", the UNet under "unet." and the training noise schedule as
 * "schedule.alphas_cumprod" [T]. Sampling is classifier-free guided
 * (eps = eps_uncond + g (eps_cond - eps_uncond), the unconditional input
 * being the negative prompt's encoding, or the empty caption's when there is
 * none, as in Stable Diffusion pipelines), with the predicted clean image
 * clipped to [-1, 1] at every step. Samplers: DDIM (eta 0, deterministic)
 * and Euler ancestral ("euler": k-diffusion's sample_euler_ancestral in
 * sigma space, drawing fresh noise from the seeded generator at every step).
 * Image to image: the init image is noised to the timestep strength*steps
 * from the end, and sampling continues from there.
 *
 * One image_model serves one generation at a time (its buffers are shared).
 */
#ifndef ATELIER_ENGINE_IMAGE_IMAGE_H
#define ATELIER_ENGINE_IMAGE_IMAGE_H

#include <stdint.h>

#include "base/err.h"

#define IMAGE_MAX_STEPS 1000
#define IMAGE_MAX_PROMPT 4096

enum image_sampler { IMAGE_DDIM, IMAGE_EULER, IMAGE_SAMPLER__MAX };

struct image_params {
	const char *prompt;           /* caption; "" for unconditional */
	const char *negative;         /* caption the guidance steers away from: it replaces the empty
	                               * caption as the unconditional input; NULL or "" = none (the
	                               * same bytes as before it existed); unused when guidance = 1 */
	int steps;                    /* 1..IMAGE_MAX_STEPS */
	uint64_t seed;
	float guidance;               /* 1 = no guidance (one UNet pass per step); 0..30 */
	enum image_sampler sampler;
	const uint8_t *init_rgb;      /* [size][size][3] or NULL: image to image */
	float strength;               /* img2img: 0 < strength <= 1 */
	const uint8_t *mask;          /* [size][size] with init_rgb, or NULL: 255 = repaint, 0 = keep the
	                               * init picture, between = a blend (inpainting) */
	const float *init_noise;      /* [3][size][size] replacing the seeded first draw, or NULL (tests) */
	int t_max;                    /* first timestep; 0 = the model's default ("atelier.sample_t_max"
	                               * metadata, else T-1) */
	/* Called after each sampling step with the steps done (1..total) and the
	 * total this image runs (img2img runs fewer than steps); a non-zero
	 * return cancels the generation (ERR_BUSY, "cancelled"). NULL: none.
	 * It never changes the numbers. */
	int (*on_step)(void *arg, int done, int total);
	void *step_arg;
};

struct image_model;
struct unet;
struct textenc;
struct imgk;

/* Open and check a model; threads: 0 = one per CPU. */
int image_model_open(struct image_model **out, const char *path, int threads, struct errinfo *e);
void image_model_free(struct image_model *m);

/* Pixels per side of the images this model makes. */
int image_model_size(const struct image_model *m);

/* Generate one image into rgb [size][size][3]; x_out (may be NULL) receives the
 * final sample [3][size][size] in [-1, 1] before quantisation. */
int image_generate(struct image_model *m, const struct image_params *p, uint8_t *rgb, float *x_out,
		   struct errinfo *e);

/* "ddim" or "euler". */
int image_sampler_parse(const char *s, enum image_sampler *out);

/* Parts, for tests and benches (owned by m). */
struct unet *image_model_unet(struct image_model *m);
struct textenc *image_model_textenc(struct image_model *m);
struct imgk *image_model_kernels(struct image_model *m);
int image_model_ctx_dims(const struct image_model *m, int *dim, int *len);

#endif
