/*
 * cli.c: `atelier draw MODEL.safetensors -p "prompt" [--negative "prompt"]
 * [--steps N] [--seed N] [--guidance G] [--sampler ddim|euler]
 * [--init IMG.png --strength S] [--threads N] -o out.png` — one image from
 * the command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/image/image.h"
#include "engine/image/pngio.h"
#include "main_cmds.h"


static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_float(const char *s, float lo, float hi, float *out)
{
	char *end;
	errno = 0;
	float v = strtof(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: atelier draw MODEL.safetensors -p PROMPT [--negative PROMPT] [--steps N] [--seed N]\n"
			"                    [--guidance G] [--sampler ddim|euler] [--init IMG.png --strength S]\n"
			"                    [--threads N] -o OUT.png\n");
	return 2;
}

int cmd_draw(int argc, char **argv)
{
	const char *model = NULL, *out = NULL, *init = NULL;
	struct image_params p = {.prompt = NULL, .steps = 25, .seed = 0, .guidance = 3.0f, .sampler = IMAGE_DDIM,
				 .strength = 0.6f};
	long threads = 0, v;
	int rc = 1, have_strength = 0;
	struct image_model *m = NULL;
	uint8_t *rgb = NULL, *init_rgb = NULL;
	struct errinfo e;
	err_clear(&e);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = a[0] == '-' && a[1] != '\0';
		if (takes && !val) {
			fprintf(stderr, "draw: %s needs a value\n", a);
			return usage();
		}
		if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
			p.prompt = val;
		} else if (!strcmp(a, "--negative")) {
			p.negative = val;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
			out = val;
		} else if (!strcmp(a, "--steps")) {
			if (parse_long(val, 1, IMAGE_MAX_STEPS, &v))
				return fprintf(stderr, "draw: --steps must be 1..%d\n", IMAGE_MAX_STEPS), 2;
			p.steps = (int)v;
		} else if (!strcmp(a, "--seed")) {
			if (parse_u64(val, &p.seed))
				return fprintf(stderr, "draw: --seed must be a non-negative integer\n"), 2;
		} else if (!strcmp(a, "--guidance")) {
			if (parse_float(val, 0.0f, 30.0f, &p.guidance))
				return fprintf(stderr, "draw: --guidance must be 0..30\n"), 2;
		} else if (!strcmp(a, "--sampler")) {
			if (image_sampler_parse(val, &p.sampler))
				return fprintf(stderr, "draw: --sampler must be ddim or euler\n"), 2;
		} else if (!strcmp(a, "--init")) {
			init = val;
		} else if (!strcmp(a, "--strength")) {
			if (parse_float(val, 0.0f, 1.0f, &p.strength) || p.strength <= 0.0f)
				return fprintf(stderr, "draw: --strength must be in (0, 1]\n"), 2;
			have_strength = 1;
		} else if (!strcmp(a, "--t-max")) {
			if (parse_long(val, 1, 100000, &v))
				return fprintf(stderr, "draw: --t-max must be a positive integer\n"), 2;
			p.t_max = (int)v;
		} else if (!strcmp(a, "--threads")) {
			if (parse_long(val, 1, 256, &threads))
				return fprintf(stderr, "draw: --threads must be 1..256\n"), 2;
		} else if (a[0] == '-') {
			fprintf(stderr, "draw: unknown option %s\n", a);
			return usage();
		} else if (!model) {
			model = a;
			continue;
		} else {
			return usage();
		}
		i++;
	}
	if (!model || !p.prompt || !out)
		return usage();
	if (have_strength && !init)
		return fprintf(stderr, "draw: --strength needs --init\n"), 2;
	if (image_model_open(&m, model, (int)threads, &e)) {
		fprintf(stderr, "draw: %s: %s\n", err_str(e.code), e.msg);
		goto out;
	}
	int S = image_model_size(m);
	if (init) {
		int w, h;
		if (pngio_read(init, &init_rgb, &w, &h, &e)) {
			fprintf(stderr, "draw: %s: %s\n", err_str(e.code), e.msg);
			goto out;
		}
		if (w != S || h != S) {
			fprintf(stderr, "draw: invalid: init image is %dx%d, this model makes %dx%d\n", w, h, S, S);
			goto out;
		}
		p.init_rgb = init_rgb;
	}
	rgb = malloc((size_t)S * S * 3);
	if (!rgb) {
		fprintf(stderr, "draw: out of memory\n");
		goto out;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (image_generate(m, &p, rgb, NULL, &e) || pngio_write(out, rgb, S, S, &e)) {
		fprintf(stderr, "draw: %s: %s\n", err_str(e.code), e.msg);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "draw: wrote %s (%dx%d, %d steps, seed %" PRIu64 ", %.2f s)\n", out, S, S, p.steps, p.seed,
		(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
	rc = 0;
out:
	free(rgb);
	free(init_rgb);
	image_model_free(m);
	return rc;
}
