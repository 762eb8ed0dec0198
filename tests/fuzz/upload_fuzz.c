/*
 * upload_fuzz.c: libFuzzer target for the upload sniffer and decoders
 * (PNG through libpng, JPEG through libjpeg, WebP through libwebp) and the
 * square fitter.
 *
 * scripts/fuzz.sh builds it with what the next line names:
 * fuzz-link: src/service/upload.c src/base/err.c -lpng16 -ljpeg -lwebp -lm
 *
 * Seeds: tests/fuzz/corpus/upload, made by tools/make_upload_corpus.py.
 * Checked: a decode succeeds only when the sniff did, with the sniffed
 * format and size, within the limits; a failed sniff fails the decode with
 * the same code; a failed decode leaves no image; upload_decode_alpha gives
 * the same pixels; every decoded pixel and alpha sample is read (the pixels by
 * the fitter, enlarging and shrinking) so ASan sees any short buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/upload.h"

#define SIDE 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy so that reads past the input are caught exactly */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct upload_limits lim = {.max_side = SIDE, .max_pixels = 512 * 1024, .max_bytes = 1 << 20};
	struct errinfo e, es;
	enum upload_format fmt = 0;
	int w = 0, h = 0;
	int rs = upload_sniff(buf, size, &fmt, &w, &h, &es);
	struct upload_image im;
	int rc = upload_decode(buf, size, &lim, &im, &e);
	if (rs != ERR_OK && rc != rs)
		abort();
	if (rc == ERR_OK) {
		if (im.fmt != fmt || im.width != w || im.height != h || !im.rgb)
			abort();
		if (w < 1 || h < 1 || w > SIDE || h > SIDE || (int64_t)w * h > lim.max_pixels)
			abort();
		static uint8_t sq[48 * 48 * 3];
		if (upload_fit_square(&im, 48, sq, &e) != ERR_OK || upload_fit_square(&im, 3, sq, &e) != ERR_OK)
			abort();
		/* the mask path decodes the same pixels and adds a full alpha plane */
		struct upload_image im2;
		uint8_t *alpha = NULL;
		if (upload_decode_alpha(buf, size, &lim, &im2, &alpha, &e) != ERR_OK || !alpha ||
		    im2.width != w || im2.height != h || memcmp(im.rgb, im2.rgb, (size_t)w * h * 3) != 0)
			abort();
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < (size_t)w * h; i++)
			sum += alpha[i];
		free(alpha);
		upload_image_free(&im2);
		upload_image_free(&im);
		if (im.rgb)
			abort();
	} else {
		if (im.rgb || im.width || im.height)
			abort();
		if (!memchr(e.msg, '\0', sizeof e.msg) || e.code != rc)
			abort();
	}
	free(buf);
	return 0;
}
