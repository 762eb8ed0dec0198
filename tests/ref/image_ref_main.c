/*
 * image_ref_main.c: writes the C engine's outputs for the fixed inputs of
 * tools/image_ref.py (compute), as raw float32 files, for tests/ref/image.sh
 * to compare. Built by that script against build/libatelier.a.
 *
 *   image_ref_main MODEL OUTDIR [THREADS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image/image.h"
#include "engine/image/scheduler.h"
#include "engine/image/textenc.h"
#include "engine/image/unet.h"

#define REF_CAPTION "two red circles on a gray background, top left"
#define NEG_CAPTION "red circles, bottom right"
#define I2I_CAPTION "one blue square on a white background, center"

static int dump(const char *dir, const char *name, const float *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, sizeof(float), n, f) != n) {
		fprintf(stderr, "cannot write %s\n", path);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s MODEL OUTDIR [THREADS]\n", argv[0]);
		return 2;
	}
	struct errinfo e;
	struct image_model *m;
	int threads = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 1;
	if (image_model_open(&m, argv[1], threads, &e)) {
		fprintf(stderr, "open: %s: %s\n", err_str(e.code), e.msg);
		return 1;
	}
	const char *d = argv[2];
	int S = image_model_size(m), D, L, rc = 0;
	image_model_ctx_dims(m, &D, &L);
	size_t n = 3 * (size_t)S * S;
	float *ctx = malloc(sizeof(float) * (size_t)D * L), *x = malloc(sizeof(float) * n),
	      *eps = malloc(sizeof(float) * n);
	int *ids = malloc(sizeof(int) * (size_t)L);
	uint8_t *rgb = malloc(2 * n);
	float noise8[8];
	struct sched_rng r;
	sched_rng_seed(&r, 42);
	sched_rng_normal(&r, noise8, 8);
	rc |= dump(d, "noise8.f32", noise8, 8);

	textenc_tokenize(image_model_textenc(m), REF_CAPTION, ids);
	char path[512];
	snprintf(path, sizeof path, "%s/ids.txt", d);
	FILE *f = fopen(path, "w");
	for (int i = 0; f && i < L; i++)
		fprintf(f, "%d%c", ids[i], i + 1 < L ? ' ' : '\n');
	if (f)
		fclose(f);
	textenc_forward(image_model_textenc(m), ids, ctx);
	rc |= dump(d, "ctx.f32", ctx, (size_t)D * L);

	sched_rng_seed(&r, 7);
	sched_rng_normal(&r, x, (int)n);
	unet_forward(image_model_unet(m), x, 500.0f, ctx, eps);
	rc |= dump(d, "eps.f32", eps, n);

	struct image_params p = {.prompt = REF_CAPTION, .steps = 4, .seed = 42, .guidance = 3.0f, .sampler = IMAGE_DDIM};
	if (image_generate(m, &p, rgb, x, &e))
		goto fail;
	rc |= dump(d, "sample_ddim.f32", x, n);
	p.sampler = IMAGE_EULER;
	if (image_generate(m, &p, rgb, x, &e))
		goto fail;
	rc |= dump(d, "sample_euler.f32", x, n);
	p.negative = NEG_CAPTION;
	p.sampler = IMAGE_DDIM;
	if (image_generate(m, &p, rgb, x, &e))
		goto fail;
	rc |= dump(d, "sample_ddim_neg.f32", x, n);
	p.sampler = IMAGE_EULER;
	if (image_generate(m, &p, rgb, x, &e))
		goto fail;
	rc |= dump(d, "sample_euler_neg.f32", x, n);
	for (int i = 0; i < S * S; i++) /* the fixed init pattern of image_ref.py */
		for (int c = 0; c < 3; c++)
			rgb[i * 3 + c] = (uint8_t)((7 * i + 50 * c) % 256);
	uint8_t *out = rgb + n; /* the init pattern stays in rgb for the second run */
	struct image_params q = {.prompt = I2I_CAPTION, .steps = 4, .seed = 9, .guidance = 3.0f,
				 .sampler = IMAGE_DDIM, .init_rgb = rgb, .strength = 0.5f};
	if (image_generate(m, &q, out, x, &e))
		goto fail;
	rc |= dump(d, "sample_img2img.f32", x, n);
	q.sampler = IMAGE_EULER;
	q.negative = NEG_CAPTION;
	if (image_generate(m, &q, out, x, &e))
		goto fail;
	rc |= dump(d, "sample_img2img_euler_neg.f32", x, n);
	goto out;
fail:
	fprintf(stderr, "generate: %s: %s\n", err_str(e.code), e.msg);
	rc = 1;
out:
	free(ctx);
	free(x);
	free(eps);
	free(ids);
	free(rgb);
	image_model_free(m);
	return rc;
}
