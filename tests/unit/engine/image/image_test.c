/* image_test.c: the step hook of image_generate (it sees every step, can
 * cancel, and never changes the numbers), the negative prompt (it changes
 * the image; an empty one is no negative prompt, byte for byte; an overlong
 * one is refused by name), and the in-memory PNG codec
 * (round trip, truncation, a header that declares too large an image). Uses
 * the committed default model, run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "engine/image/image.h"
#include "engine/image/pngio.h"

static struct image_model *m;

static int setup(void **st)
{
	struct errinfo e = {0};
	int rc = image_model_open(&m, "models/shapes-diffusion.safetensors", 1, &e);
	if (rc)
		print_error("cannot open the default model: %s\n", e.msg);
	return rc ? -1 : 0;
}

static int teardown(void **st)
{
	image_model_free(m);
	return 0;
}

struct seen {
	int calls, last_done, total, cancel_at;
};

static int hook(void *arg, int done, int total)
{
	struct seen *s = arg;
	s->calls++;
	assert_int_equal(done, s->last_done + 1);
	s->last_done = done;
	s->total = total;
	return s->cancel_at && done == s->cancel_at;
}

static void step_hook_sees_every_step_and_changes_nothing(void **st)
{
	int S = image_model_size(m);
	uint8_t *a = malloc((size_t)S * S * 3), *b = malloc((size_t)S * S * 3);
	struct image_params p = {.prompt = "two red circles on a blue background, top left", .steps = 4, .seed = 9,
				 .guidance = 3, .sampler = IMAGE_EULER};
	struct errinfo e = {0};
	assert_int_equal(image_generate(m, &p, a, NULL, &e), ERR_OK);
	struct seen s = {0};
	p.on_step = hook;
	p.step_arg = &s;
	assert_int_equal(image_generate(m, &p, b, NULL, &e), ERR_OK);
	assert_int_equal(s.calls, 4);
	assert_int_equal(s.total, 4);
	assert_memory_equal(a, b, (size_t)S * S * 3);
	/* image to image runs the last strength*steps steps, and says so */
	struct seen s2 = {0};
	p.init_rgb = a;
	p.strength = 0.5f;
	p.step_arg = &s2;
	assert_int_equal(image_generate(m, &p, b, NULL, &e), ERR_OK);
	assert_int_equal(s2.calls, 2);
	assert_int_equal(s2.total, 2);
	/* a non-zero return cancels */
	struct seen s3 = {.cancel_at = 2};
	p.init_rgb = NULL;
	p.step_arg = &s3;
	assert_int_equal(image_generate(m, &p, b, NULL, &e), ERR_BUSY);
	assert_int_equal(s3.calls, 2);
	free(a);
	free(b);
}

/* Inpainting: 0 keeps the init picture exactly, 255 everywhere is plain
 * image to image, and a half mask changes only its half. */
static void mask_keeps_and_repaints(void **st)
{
	int S = image_model_size(m);
	size_t n = (size_t)S * S * 3;
	uint8_t *init = malloc(n), *plain = malloc(n), *out = malloc(n), *mask = malloc((size_t)S * S);
	for (size_t i = 0; i < n; i++)
		init[i] = (uint8_t)((i * 7) & 0xff);
	struct image_params p = {.prompt = "a green square on a white background, center", .steps = 4, .seed = 3,
				 .guidance = 3, .sampler = IMAGE_DDIM, .init_rgb = init, .strength = 0.75f};
	struct errinfo e = {0};
	assert_int_equal(image_generate(m, &p, plain, NULL, &e), ERR_OK);
	memset(mask, 255, (size_t)S * S);
	p.mask = mask;
	assert_int_equal(image_generate(m, &p, out, NULL, &e), ERR_OK);
	assert_memory_equal(out, plain, n);
	memset(mask, 0, (size_t)S * S);
	assert_int_equal(image_generate(m, &p, out, NULL, &e), ERR_OK);
	assert_memory_equal(out, init, n);
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++)
			mask[y * S + x] = x < S / 2 ? 255 : 0; /* repaint the left half */
	assert_int_equal(image_generate(m, &p, out, NULL, &e), ERR_OK);
	for (int y = 0; y < S; y++)
		assert_memory_equal(out + ((size_t)y * S + S / 2) * 3, init + ((size_t)y * S + S / 2) * 3, (size_t)(S / 2) * 3);
	p.init_rgb = NULL;
	assert_int_equal(image_generate(m, &p, out, NULL, &e), ERR_INVALID);
	free(init);
	free(plain);
	free(out);
	free(mask);
}

/* The negative prompt replaces the empty caption as the unconditional
 * input (issue 8): none, NULL and "" give the same bytes, a caption gives
 * others, for text to image and image to image, both samplers. */
static void negative_prompt_changes_only_when_given(void **st)
{
	int S = image_model_size(m);
	size_t n = (size_t)S * S * 3;
	uint8_t *init = malloc(n), *none = malloc(n), *empty = malloc(n), *neg = malloc(n);
	float *xa = malloc(sizeof(float) * n), *xb = malloc(sizeof(float) * n);
	for (size_t i = 0; i < n; i++)
		init[i] = (uint8_t)((i * 13) & 0xff);
	struct errinfo e = {0};
	for (int img2img = 0; img2img < 2; img2img++)
		for (int smp = 0; smp < IMAGE_SAMPLER__MAX; smp++) {
			struct image_params p = {.prompt = "two red circles on a white background, top left", .steps = 4,
						 .seed = 11, .guidance = 3, .sampler = (enum image_sampler)smp,
						 .init_rgb = img2img ? init : NULL, .strength = 0.75f};
			assert_int_equal(image_generate(m, &p, none, xa, &e), ERR_OK);
			p.negative = "";
			assert_int_equal(image_generate(m, &p, empty, xb, &e), ERR_OK);
			assert_memory_equal(none, empty, n);
			assert_memory_equal(xa, xb, sizeof(float) * n); /* before quantisation too */
			p.negative = "red circles, bottom right";
			assert_int_equal(image_generate(m, &p, neg, NULL, &e), ERR_OK);
			assert_memory_not_equal(none, neg, n);
			/* without guidance there is no unconditional branch to replace */
			p.guidance = 1;
			assert_int_equal(image_generate(m, &p, neg, NULL, &e), ERR_OK);
			p.negative = NULL;
			assert_int_equal(image_generate(m, &p, none, NULL, &e), ERR_OK);
			assert_memory_equal(none, neg, n);
		}
	char *long_neg = malloc(IMAGE_MAX_PROMPT + 2);
	memset(long_neg, 'a', IMAGE_MAX_PROMPT + 1);
	long_neg[IMAGE_MAX_PROMPT + 1] = '\0';
	struct image_params p = {.prompt = "a red circle", .negative = long_neg, .steps = 1, .guidance = 3};
	assert_int_equal(image_generate(m, &p, neg, NULL, &e), ERR_INVALID);
	assert_string_equal(e.field, "negative_prompt");
	long_neg[IMAGE_MAX_PROMPT] = '\0'; /* at the limit: accepted */
	assert_int_equal(image_generate(m, &p, neg, NULL, &e), ERR_OK);
	free(long_neg);
	free(init);
	free(none);
	free(empty);
	free(neg);
	free(xa);
	free(xb);
}

static void png_round_trip_and_bad_input(void **st)
{
	uint8_t rgb[5 * 3 * 3];
	for (size_t i = 0; i < sizeof rgb; i++)
		rgb[i] = (uint8_t)(i * 17);
	struct buf png, png2;
	buf_init(&png, 0);
	buf_init(&png2, 0);
	struct errinfo e = {0};
	assert_int_equal(pngio_encode(rgb, 5, 3, &png, &e), ERR_OK);
	assert_int_equal(pngio_encode(rgb, 5, 3, &png2, &e), ERR_OK);
	assert_int_equal(png.len, png2.len); /* the same pixels, the same bytes */
	assert_memory_equal(png.data, png2.data, png.len);
	uint8_t *out = NULL;
	int w = 0, h = 0;
	assert_int_equal(pngio_decode(png.data, png.len, &out, &w, &h, &e), ERR_OK);
	assert_int_equal(w, 5);
	assert_int_equal(h, 3);
	assert_memory_equal(out, rgb, sizeof rgb);
	free(out);
	assert_int_equal(pngio_decode(png.data, png.len - 20, &out, &w, &h, &e), ERR_CORRUPT);
	assert_null(out);
	assert_int_equal(pngio_decode("GIF89a....", 10, &out, &w, &h, &e), ERR_INVALID);
	/* a header that declares 20000 x 20000: refused from the header */
	unsigned char *big = (unsigned char *)png.data;
	big[16] = 0, big[17] = 0, big[18] = 0x4e, big[19] = 0x20; /* width 20000 (the CRC is now wrong too) */
	assert_int_equal(pngio_decode(png.data, png.len, &out, &w, &h, &e), ERR_CORRUPT);
	assert_null(out);
	buf_free(&png);
	buf_free(&png2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(step_hook_sees_every_step_and_changes_nothing),
		cmocka_unit_test(mask_keeps_and_repaints),
		cmocka_unit_test(negative_prompt_changes_only_when_given),
		cmocka_unit_test(png_round_trip_and_bad_input),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
