/*
 * upload.h: safe decoding of user-uploaded images (PNG, JPEG, WebP) for
 * image-to-image generation (REQ: GEN-3).
 *
 * The format is taken from the magic bytes only, never from a file name or a
 * declared content type. Sizes are read from the header and checked against
 * the caller's limits before any pixel is decoded or allocated, so a tiny file
 * that declares a huge image (a decompression bomb) costs nothing. Only pixels
 * leave: EXIF, ICC profiles, text chunks and XMP are skipped by the decoders
 * and never returned (REQ: SEC-7, data minimisation). EXIF orientation is not
 * applied; ICC profiles are ignored and samples are taken as sRGB.
 */
#ifndef ATELIER_SERVICE_UPLOAD_H
#define ATELIER_SERVICE_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum upload_format { UPLOAD_PNG = 1, UPLOAD_JPEG, UPLOAD_WEBP };

/* Hard caps that apply whatever the caller's limits say; a limit of 0 in
 * struct upload_limits means "the hard cap". */
#define UPLOAD_HARD_MAX_SIDE 16384
#define UPLOAD_HARD_MAX_PIXELS ((int64_t)64 * 1024 * 1024)
#define UPLOAD_HARD_MAX_BYTES ((size_t)64 * 1024 * 1024)

/* Limits on one upload: the encoded size in bytes, each side in pixels, and
 * width*height. 0 in a field means the hard cap above. */
struct upload_limits {
	int max_side;
	int64_t max_pixels;
	size_t max_bytes;
};

/* A decoded upload. rgb: [height][width][3], 8-bit sRGB, alpha composited
 * over white; malloc'd, owned by the struct, freed by upload_image_free(). */
struct upload_image {
	enum upload_format fmt;
	int width, height;
	uint8_t *rgb;
};

/* Short lower-case name of a format ("png", "jpeg", "webp"; "unknown"). */
const char *upload_format_name(enum upload_format fmt);

/* Identify the format by magic bytes only and read width/height from the
 * header without decoding pixels. ERR_UNSUPPORTED for anything that is not
 * PNG, JPEG or WebP (the message names GIF, BMP, TIFF, HEIC/AVIF, SVG when it
 * sees them); ERR_CORRUPT for a truncated or bad header. fmt, w, h are set
 * only on success; any of them may be NULL. */
int upload_sniff(const void *data, size_t len, enum upload_format *fmt, int *w, int *h, struct errinfo *e);

/* Sniff, check len <= max_bytes, each side <= max_side and w*h <= max_pixels
 * (ERR_TOOBIG, the message naming the limit) before any decoding or pixel
 * allocation, then decode to RGB. Further errors: ERR_CORRUPT (bad or
 * truncated data), ERR_UNSUPPORTED (CMYK JPEG, animated WebP, other formats),
 * ERR_NOMEM, ERR_INVALID (NULL arguments). On error out is zeroed; on success
 * the caller frees it with upload_image_free(). lim may be NULL (hard caps). */
int upload_decode(const void *data, size_t len, const struct upload_limits *lim, struct upload_image *out,
		  struct errinfo *e);

/* upload_decode, and also the alpha plane, for an edit mask (OpenAI's
 * "mask": transparent where the image is to be changed): *alpha receives
 * [height][width] bytes, 0 transparent .. 255 opaque, all 255 for an image
 * without alpha (every JPEG); malloc'd, caller frees. out->rgb is as from
 * upload_decode. On error *alpha is NULL and out is zeroed. */
int upload_decode_alpha(const void *data, size_t len, const struct upload_limits *lim, struct upload_image *out,
			uint8_t **alpha, struct errinfo *e);

/* Frees im->rgb and zeroes im. Accepts NULL and an already freed image. */
void upload_image_free(struct upload_image *im);

/* Scale the image so that its shorter side becomes size (area averaging when
 * shrinking, bilinear when enlarging) and crop the centre: rgb_out receives
 * [size][size][3] (caller-allocated). ERR_INVALID for a bad image or size
 * outside 1..UPLOAD_HARD_MAX_SIDE, ERR_NOMEM. */
int upload_fit_square(const struct upload_image *im, int size, uint8_t *rgb_out, struct errinfo *e);

#endif
