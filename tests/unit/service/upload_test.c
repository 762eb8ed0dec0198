/* upload_test.c: sniffing, bounded decoding and square fitting of uploads.
 * Fixtures are encoded in the test with libpng, libjpeg and libwebp, so each
 * test states the pixels it expects back. REQ: GEN-3 (image-to-image from an
 * uploaded image); the metadata test is REQ: SEC-7 (data minimisation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "base/err.h"
#include "http/multipart.h"
#include "service/upload.h"

/* ---- encoders ----------------------------------------------------------- */

struct mbuf {
	uint8_t *p;
	size_t n, cap;
};

static void mput(struct mbuf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void png_w(png_structp p, png_bytep d, png_size_t n)
{
	mput(png_get_io_ptr(p), d, n);
}

static void png_f(png_structp p)
{
	(void)p;
}

/* A PNG options record: rows hold samples already in PNG layout. */
struct pngopt {
	int w, h, ct, depth, interlace;
	const uint8_t *rows; /* [h][rowbytes] */
	size_t rowbytes;
	const png_color *pal;
	int npal;
	const uint8_t *trns;
	int ntrns;
	const char *secret; /* written as tEXt and eXIf when set */
	int header_only;    /* stop after IHDR */
};

static struct mbuf png_make(const struct pngopt *o)
{
	struct mbuf b = {0};
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(p);
	assert_non_null(info);
	if (setjmp(png_jmpbuf(p)))
		fail_msg("libpng could not write the fixture");
	png_set_write_fn(p, &b, png_w, png_f);
	png_set_IHDR(p, info, o->w, o->h, o->depth, o->ct, o->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	if (o->pal)
		png_set_PLTE(p, info, o->pal, o->npal);
	if (o->trns)
		png_set_tRNS(p, info, o->trns, o->ntrns, NULL);
	if (o->secret) {
		png_text t = {0};
		t.compression = PNG_TEXT_COMPRESSION_NONE;
		t.key = "Comment";
		t.text = (char *)o->secret;
		png_set_text(p, info, &t, 1);
		png_set_eXIf_1(p, info, (png_uint_32)strlen(o->secret), (png_bytep)o->secret);
	}
	png_write_info(p, info);
	if (!o->header_only) {
		int passes = png_set_interlace_handling(p);
		for (int pass = 0; pass < passes; pass++)
			for (int y = 0; y < o->h; y++)
				png_write_row(p, o->rows + (size_t)y * o->rowbytes);
		png_write_end(p, info);
	}
	png_destroy_write_struct(&p, &info);
	return b;
}

static struct mbuf jpeg_make(int w, int h, int comps, J_COLOR_SPACE cs, const uint8_t *px, int progressive)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	unsigned char *out = NULL;
	unsigned long outlen = 0;
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &outlen);
	c.image_width = w;
	c.image_height = h;
	c.input_components = comps;
	c.in_color_space = cs;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 100, TRUE);
	/* 4:4:4, so that colour edges stay sharp enough to compare */
	c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < (unsigned)h) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	struct mbuf b = {0};
	mput(&b, out, outlen);
	free(out);
	return b;
}

static struct mbuf webp_make(int w, int h, const uint8_t *px, int alpha, int lossless)
{
	uint8_t *out = NULL;
	size_t n;
	if (lossless)
		n = alpha ? WebPEncodeLosslessRGBA(px, w, h, w * 4, &out) : WebPEncodeLosslessRGB(px, w, h, w * 3, &out);
	else
		n = alpha ? WebPEncodeRGBA(px, w, h, w * 4, 100, &out) : WebPEncodeRGB(px, w, h, w * 3, 100, &out);
	assert_true(n > 0);
	struct mbuf b = {0};
	mput(&b, out, n);
	WebPFree(out);
	return b;
}

/* A noisy RGB image, so encoders cannot make the file tiny. */
static uint8_t *noise(int w, int h, int comps)
{
	uint8_t *px = malloc((size_t)w * h * comps);
	uint32_t x = 12345;
	for (size_t i = 0; i < (size_t)w * h * comps; i++) {
		x = x * 1103515245u + 12345u;
		px[i] = (uint8_t)(x >> 16);
	}
	return px;
}

static uint8_t over_white(uint8_t c, uint8_t a)
{
	return (uint8_t)((c * a + 255 * (255 - a) + 127) / 255);
}

static void decode_ok(const struct mbuf *b, enum upload_format fmt, int w, int h, struct upload_image *im)
{
	struct errinfo e;
	err_clear(&e);
	int rc = upload_decode(b->p, b->n, NULL, im, &e);
	if (rc)
		fail_msg("decode: %s %s", err_str(rc), e.msg);
	assert_int_equal(im->fmt, fmt);
	assert_int_equal(im->width, w);
	assert_int_equal(im->height, h);
	assert_non_null(im->rgb);
}

static void expect_err(const void *d, size_t n, const struct upload_limits *lim, int code, const char *part)
{
	struct errinfo e;
	struct upload_image im;
	err_clear(&e);
	int rc = upload_decode(d, n, lim, &im, &e);
	if (rc != code || !strstr(e.msg, part))
		fail_msg("got %s '%s', want %s containing '%s'", err_str(rc), e.msg, err_str(code), part);
	assert_null(im.rgb);
	assert_int_equal(im.width, 0);
}

/* ---- PNG ---------------------------------------------------------------- */

static void png_rgb_and_rgba(void **st)
{
	(void)st;
	static const uint8_t rgb[2][9] = {{255, 0, 0, 0, 255, 0, 0, 0, 255}, {1, 2, 3, 250, 251, 252, 128, 64, 32}};
	struct pngopt o = {.w = 3, .h = 2, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .rows = &rgb[0][0], .rowbytes = 9};
	struct mbuf b = png_make(&o);
	struct upload_image im;
	decode_ok(&b, UPLOAD_PNG, 3, 2, &im);
	assert_memory_equal(im.rgb, rgb, 18);
	upload_image_free(&im);
	assert_null(im.rgb);
	upload_image_free(&im); /* twice is harmless */
	upload_image_free(NULL);
	free(b.p);

	static const uint8_t rgba[1][8] = {{200, 100, 50, 128, 10, 20, 30, 0}};
	struct pngopt o2 = {.w = 2, .h = 1, .ct = PNG_COLOR_TYPE_RGBA, .depth = 8, .rows = &rgba[0][0], .rowbytes = 8};
	b = png_make(&o2);
	decode_ok(&b, UPLOAD_PNG, 2, 1, &im);
	uint8_t want[6] = {over_white(200, 128), over_white(100, 128), over_white(50, 128), 255, 255, 255};
	assert_memory_equal(im.rgb, want, 6);
	upload_image_free(&im);
	free(b.p);
}

static void png_palette_gray_16bit(void **st)
{
	(void)st;
	struct upload_image im;
	/* 4-bit palette with a tRNS entry: indices 0,1,2,3 */
	static const png_color pal[4] = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}, {255, 0, 255}};
	static const uint8_t trns[4] = {255, 255, 255, 0};
	static const uint8_t prow[2] = {0x01, 0x23};
	struct pngopt o = {.w = 4, .h = 1, .ct = PNG_COLOR_TYPE_PALETTE, .depth = 4, .rows = prow, .rowbytes = 2,
			   .pal = pal, .npal = 4, .trns = trns, .ntrns = 4};
	struct mbuf b = png_make(&o);
	decode_ok(&b, UPLOAD_PNG, 4, 1, &im);
	static const uint8_t pwant[12] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 255, 255, 255};
	assert_memory_equal(im.rgb, pwant, 12);
	upload_image_free(&im);
	free(b.p);

	/* 1-bit grey: 10100000 */
	static const uint8_t grow[1] = {0xa0};
	struct pngopt g = {.w = 3, .h = 1, .ct = PNG_COLOR_TYPE_GRAY, .depth = 1, .rows = grow, .rowbytes = 1};
	b = png_make(&g);
	decode_ok(&b, UPLOAD_PNG, 3, 1, &im);
	static const uint8_t gwant[9] = {255, 255, 255, 0, 0, 0, 255, 255, 255};
	assert_memory_equal(im.rgb, gwant, 9);
	upload_image_free(&im);
	free(b.p);

	/* 16-bit grey + alpha (big-endian samples): grey 0x8080 opaque, grey 0 at alpha 0 */
	static const uint8_t garow[8] = {0x80, 0x80, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00};
	struct pngopt ga = {.w = 2, .h = 1, .ct = PNG_COLOR_TYPE_GRAY_ALPHA, .depth = 16, .rows = garow, .rowbytes = 8};
	b = png_make(&ga);
	decode_ok(&b, UPLOAD_PNG, 2, 1, &im);
	static const uint8_t gawant[6] = {128, 128, 128, 255, 255, 255};
	assert_memory_equal(im.rgb, gawant, 6);
	upload_image_free(&im);
	free(b.p);

	/* 16-bit RGB */
	static const uint8_t r16[6] = {0xff, 0xff, 0x00, 0x00, 0x80, 0x80};
	struct pngopt o16 = {.w = 1, .h = 1, .ct = PNG_COLOR_TYPE_RGB, .depth = 16, .rows = r16, .rowbytes = 6};
	b = png_make(&o16);
	decode_ok(&b, UPLOAD_PNG, 1, 1, &im);
	static const uint8_t w16[3] = {255, 0, 128};
	assert_memory_equal(im.rgb, w16, 3);
	upload_image_free(&im);
	free(b.p);
}

static void png_interlaced(void **st)
{
	(void)st;
	int w = 13, h = 11;
	uint8_t *px = noise(w, h, 3);
	struct pngopt o = {.w = w, .h = h, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .interlace = PNG_INTERLACE_ADAM7,
			   .rows = px, .rowbytes = (size_t)w * 3};
	struct mbuf b = png_make(&o);
	struct upload_image im;
	decode_ok(&b, UPLOAD_PNG, w, h, &im);
	assert_memory_equal(im.rgb, px, (size_t)w * h * 3);
	upload_image_free(&im);
	free(b.p);
	free(px);
}

/* REQ: SEC-7 — text and EXIF chunks are not carried over: only pixels leave. */
static void png_metadata_is_dropped(void **st)
{
	(void)st;
	static const char secret[] = "GPS 48.8584N 2.2945E owner=alice@example.com";
	static const uint8_t rgb[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
	struct pngopt o = {.w = 2, .h = 2, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .rows = rgb, .rowbytes = 6,
			   .secret = secret};
	struct mbuf b = png_make(&o);
	/* the fixture really carries the metadata */
	assert_non_null(memmem(b.p, b.n, "alice@example.com", 17));
	assert_non_null(memmem(b.p, b.n, "eXIf", 4));
	assert_non_null(memmem(b.p, b.n, "tEXt", 4));
	struct upload_image im;
	decode_ok(&b, UPLOAD_PNG, 2, 2, &im);
	assert_memory_equal(im.rgb, rgb, 12);
	/* struct upload_image holds format, size and pixels, nothing else */
	assert_int_equal(sizeof im, sizeof(struct {
				 enum upload_format f;
				 int w, h;
				 uint8_t *p;
			 }));
	assert_null(memmem(im.rgb, 12, "alice", 5));
	upload_image_free(&im);
	free(b.p);
}

/* ---- JPEG --------------------------------------------------------------- */

static void assert_near(const uint8_t *got, const uint8_t *want, size_t n, int tol)
{
	for (size_t i = 0; i < n; i++)
		if (abs((int)got[i] - (int)want[i]) > tol)
			fail_msg("sample %zu: got %d, want %d (±%d)", i, got[i], want[i], tol);
}

static void jpeg_colour_gray_progressive(void **st)
{
	(void)st;
	int w = 16, h = 8;
	uint8_t *px = malloc((size_t)w * h * 3);
	for (int i = 0; i < w * h; i++) { /* left half orange, right half teal, 8x8 blocks */
		int x = i % w;
		px[i * 3] = x < 8 ? 220 : 20;
		px[i * 3 + 1] = x < 8 ? 120 : 160;
		px[i * 3 + 2] = x < 8 ? 40 : 150;
	}
	for (int prog = 0; prog < 2; prog++) {
		struct mbuf b = jpeg_make(w, h, 3, JCS_RGB, px, prog);
		struct upload_image im;
		decode_ok(&b, UPLOAD_JPEG, w, h, &im);
		assert_near(im.rgb, px, (size_t)w * h * 3, 4);
		upload_image_free(&im);
		free(b.p);
	}
	free(px);

	uint8_t gray[64];
	memset(gray, 77, sizeof gray);
	struct mbuf b = jpeg_make(8, 8, 1, JCS_GRAYSCALE, gray, 0);
	struct upload_image im;
	decode_ok(&b, UPLOAD_JPEG, 8, 8, &im);
	for (int i = 0; i < 64 * 3; i++)
		assert_true(abs(im.rgb[i] - 77) <= 1);
	upload_image_free(&im);
	free(b.p);
}

static void jpeg_cmyk_refused(void **st)
{
	(void)st;
	uint8_t cmyk[8 * 8 * 4];
	memset(cmyk, 100, sizeof cmyk);
	struct mbuf b = jpeg_make(8, 8, 4, JCS_CMYK, cmyk, 0);
	expect_err(b.p, b.n, NULL, ERR_UNSUPPORTED, "CMYK");
	free(b.p);
}

/* A progressive JPEG whose last scan is repeated: 50 copies decode, 600 are
 * refused (each scan re-reads the whole image; the cap bounds the CPU). */
static void jpeg_scan_count_capped(void **st)
{
	(void)st;
	uint8_t px[16 * 16];
	for (int i = 0; i < 256; i++)
		px[i] = (uint8_t)(i * 7);
	struct mbuf j = jpeg_make(16, 16, 1, JCS_GRAYSCALE, px, 1);
	size_t sos = 0;
	for (size_t i = 0; i + 1 < j.n; i++)
		if (j.p[i] == 0xff && j.p[i + 1] == 0xda)
			sos = i; /* entropy-coded data never holds ff da: ff is stuffed as ff 00 */
	assert_true(sos > 0);
	assert_true(j.p[j.n - 2] == 0xff && j.p[j.n - 1] == 0xd9);
	size_t scan = j.n - 2 - sos;
	int copies[2] = {50, 600};
	for (int c = 0; c < 2; c++) {
		struct mbuf b = {0};
		mput(&b, j.p, j.n - 2);
		for (int k = 0; k < copies[c]; k++)
			mput(&b, j.p + sos, scan);
		mput(&b, "\xff\xd9", 2);
		struct upload_image im;
		struct errinfo e;
		int rc = upload_decode(b.p, b.n, NULL, &im, &e);
		if (c == 0 && rc != ERR_OK)
			fail_msg("50 extra scans: %s %s", err_str(rc), e.msg);
		if (c == 1 && (rc != ERR_CORRUPT || !strstr(e.msg, "more than 500 scans")))
			fail_msg("600 extra scans: got %s '%s'", err_str(rc), rc ? e.msg : "");
		upload_image_free(&im);
		free(b.p);
	}
	free(j.p);
}

/* A JPEG sent as "photo.png" with Content-Type image/png is still a JPEG. */
static void jpeg_named_png_is_jpeg(void **st)
{
	(void)st;
	uint8_t px[8 * 8 * 3];
	memset(px, 90, sizeof px);
	struct mbuf j = jpeg_make(8, 8, 3, JCS_RGB, px, 0);
	struct mbuf body = {0};
	const char *head = "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.png\"\r\n"
			   "Content-Type: image/png\r\n\r\n";
	mput(&body, head, strlen(head));
	mput(&body, j.p, j.n);
	mput(&body, "\r\n--b--\r\n", 9);
	struct multipart_part parts[4];
	size_t n;
	struct errinfo e;
	assert_int_equal(multipart_parse("multipart/form-data; boundary=b", body.p, body.n, parts, 4, &n, &e), ERR_OK);
	const struct multipart_part *img = multipart_get(parts, n, "image");
	assert_non_null(img);
	assert_string_equal(img->filename, "photo.png");
	assert_string_equal(img->content_type, "image/png");
	enum upload_format fmt = 0;
	int w = 0, h = 0;
	assert_int_equal(upload_sniff(img->data, img->len, &fmt, &w, &h, &e), ERR_OK);
	assert_int_equal(fmt, UPLOAD_JPEG);
	assert_int_equal(w, 8);
	assert_int_equal(h, 8);
	assert_string_equal(upload_format_name(fmt), "jpeg");
	struct upload_image im;
	decode_ok(&(struct mbuf){(uint8_t *)img->data, img->len, 0}, UPLOAD_JPEG, 8, 8, &im);
	upload_image_free(&im);
	free(j.p);
	free(body.p);
}

/* ---- WebP --------------------------------------------------------------- */

static void webp_lossless_lossy_alpha(void **st)
{
	(void)st;
	int w = 5, h = 4;
	uint8_t *px = noise(w, h, 3);
	struct mbuf b = webp_make(w, h, px, 0, 1);
	struct upload_image im;
	decode_ok(&b, UPLOAD_WEBP, w, h, &im);
	assert_memory_equal(im.rgb, px, (size_t)w * h * 3);
	upload_image_free(&im);
	free(b.p);
	free(px);

	/* lossless with alpha: one opaque, one half, one clear pixel */
	static const uint8_t rgba[12] = {10, 200, 30, 255, 200, 100, 50, 128, 1, 2, 3, 0};
	b = webp_make(3, 1, rgba, 1, 1);
	decode_ok(&b, UPLOAD_WEBP, 3, 1, &im);
	uint8_t want[9] = {10, 200, 30, over_white(200, 128), over_white(100, 128), over_white(50, 128), 255, 255, 255};
	assert_memory_equal(im.rgb, want, 9);
	upload_image_free(&im);
	free(b.p);

	/* lossy: a flat colour comes back close */
	uint8_t flat[16 * 16 * 3];
	for (int i = 0; i < 16 * 16; i++)
		flat[i * 3] = 180, flat[i * 3 + 1] = 90, flat[i * 3 + 2] = 60;
	b = webp_make(16, 16, flat, 0, 0);
	assert_memory_equal(b.p + 12, "VP8 ", 4);
	decode_ok(&b, UPLOAD_WEBP, 16, 16, &im);
	assert_near(im.rgb, flat, sizeof flat, 6);
	upload_image_free(&im);
	free(b.p);
}

static void put_le(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void webp_animated_refused(void **st)
{
	(void)st;
	/* RIFF, VP8X with the animation flag, ANIM chunk (background, loop count) */
	uint8_t f[12 + 18 + 14] = {0};
	memcpy(f, "RIFF", 4);
	put_le(f + 4, sizeof f - 8, 4);
	memcpy(f + 8, "WEBP", 4);
	memcpy(f + 12, "VP8X", 4);
	put_le(f + 16, 10, 4);
	f[20] = 0x02;
	put_le(f + 24, 63, 3);
	put_le(f + 27, 31, 3);
	memcpy(f + 30, "ANIM", 4);
	put_le(f + 34, 6, 4);
	int w, h;
	enum upload_format fmt;
	assert_int_equal(upload_sniff(f, sizeof f, &fmt, &w, &h, NULL), ERR_OK);
	assert_int_equal(fmt, UPLOAD_WEBP);
	assert_int_equal(w, 64);
	assert_int_equal(h, 32);
	expect_err(f, sizeof f, NULL, ERR_UNSUPPORTED, "animated");
}

/* The alpha plane for an edit mask: PNG palette tRNS and RGBA, WebP alpha,
 * opaque for a JPEG; the RGB is the same as upload_decode's. */
static void alpha_plane_for_masks(void **st)
{
	(void)st;
	static const uint8_t rgba[1][8] = {{200, 100, 50, 128, 10, 20, 30, 0}};
	struct pngopt o = {.w = 2, .h = 1, .ct = PNG_COLOR_TYPE_RGBA, .depth = 8, .rows = &rgba[0][0], .rowbytes = 8};
	struct mbuf files[4];
	files[0] = png_make(&o);
	files[1] = webp_make(2, 1, &rgba[0][0], 1, 1);
	uint8_t px[8 * 8 * 3];
	memset(px, 90, sizeof px);
	files[2] = jpeg_make(8, 8, 3, JCS_RGB, px, 0);
	static const uint8_t rgb[6] = {1, 2, 3, 4, 5, 6};
	struct pngopt o2 = {.w = 2, .h = 1, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .rows = rgb, .rowbytes = 6};
	files[3] = png_make(&o2);
	for (int f = 0; f < 4; f++) {
		struct upload_image im, im2;
		uint8_t *alpha = (uint8_t *)1;
		struct errinfo e;
		int rc = upload_decode_alpha(files[f].p, files[f].n, NULL, &im, &alpha, &e);
		if (rc)
			fail_msg("file %d: %s", f, e.msg);
		assert_non_null(alpha);
		assert_int_equal(upload_decode(files[f].p, files[f].n, NULL, &im2, &e), ERR_OK);
		assert_memory_equal(im.rgb, im2.rgb, (size_t)im.width * im.height * 3);
		if (f < 2) {
			assert_int_equal(alpha[0], 128);
			assert_int_equal(alpha[1], 0);
		} else {
			for (int i = 0; i < im.width * im.height; i++)
				assert_int_equal(alpha[i], 255);
		}
		free(alpha);
		upload_image_free(&im);
		upload_image_free(&im2);
		free(files[f].p);
	}
	/* errors leave no plane */
	uint8_t *alpha = (uint8_t *)1;
	struct upload_image im;
	assert_int_equal(upload_decode_alpha("GIF89a", 6, NULL, &im, &alpha, NULL), ERR_UNSUPPORTED);
	assert_null(alpha);
	assert_int_equal(upload_decode_alpha(rgb, 6, NULL, &im, NULL, NULL), ERR_INVALID);
}

/* ---- limits ------------------------------------------------------------- */

/* A 20000x20000 PNG header in a file of a few dozen bytes: refused from the
 * header, before libpng is called or any pixel is allocated. ERR_TOOBIG with
 * our message can only come from that check: libpng would have failed its
 * own user limit (ERR_CORRUPT), and the 3000x3000 file, within the side
 * limit, would have reached the pixel allocation and then failed for want of
 * image data (ERR_CORRUPT). */
static void huge_declared_size_refused(void **st)
{
	(void)st;
	struct pngopt o = {.w = 20000, .h = 20000, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .header_only = 1};
	struct mbuf b = png_make(&o);
	assert_true(b.n < 100);
	struct upload_limits lim = {.max_side = 4096, .max_pixels = 4096 * 4096, .max_bytes = 1 << 20};
	expect_err(b.p, b.n, &lim, ERR_TOOBIG, "at most 4096 pixels");
	expect_err(b.p, b.n, NULL, ERR_TOOBIG, "at most 16384 pixels"); /* the hard cap */
	int w, h;
	assert_int_equal(upload_sniff(b.p, b.n, NULL, &w, &h, NULL), ERR_OK);
	assert_int_equal(w, 20000);
	free(b.p);

	/* each side fine, the area over */
	struct pngopt o2 = {.w = 3000, .h = 3000, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .header_only = 1};
	b = png_make(&o2);
	struct upload_limits lim2 = {.max_side = 4096, .max_pixels = 4000000, .max_bytes = 1 << 20};
	expect_err(b.p, b.n, &lim2, ERR_TOOBIG, "at most 4000000 pixels");
	free(b.p);

	/* a JPEG frame header of 60000x50000 */
	static const uint8_t jh[] = {0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0xc3, 0x50, 0xea, 0x60, 1, 1, 0x11, 0};
	expect_err(jh, sizeof jh, &lim, ERR_TOOBIG, "at most 4096 pixels");
	/* a WebP canvas of 16M x 16M */
	uint8_t wh[30] = {0};
	memcpy(wh, "RIFF", 4);
	put_le(wh + 4, 22, 4);
	memcpy(wh + 8, "WEBPVP8X", 8);
	put_le(wh + 16, 10, 4);
	put_le(wh + 24, 0xffffff, 3);
	put_le(wh + 27, 0xffffff, 3);
	expect_err(wh, sizeof wh, &lim, ERR_TOOBIG, "at most 4096 pixels");

	/* the byte limit */
	uint8_t px[12] = {0};
	struct pngopt o3 = {.w = 2, .h = 2, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .rows = px, .rowbytes = 6};
	b = png_make(&o3);
	struct upload_limits lim3 = {.max_bytes = 10};
	expect_err(b.p, b.n, &lim3, ERR_TOOBIG, "the limit is 10 bytes");
	free(b.p);
}

static void truncated_files_are_corrupt(void **st)
{
	(void)st;
	int w = 32, h = 24;
	uint8_t *px = noise(w, h, 3);
	struct pngopt o = {.w = w, .h = h, .ct = PNG_COLOR_TYPE_RGB, .depth = 8, .rows = px, .rowbytes = (size_t)w * 3};
	struct mbuf files[4] = {png_make(&o), jpeg_make(w, h, 3, JCS_RGB, px, 0), webp_make(w, h, px, 0, 1),
				webp_make(w, h, px, 0, 0)};
	for (int f = 0; f < 4; f++) {
		size_t cuts[] = {1, 2, 5, 11, 16, 21, 26, 40, files[f].n / 2, files[f].n - 20, files[f].n - 1};
		for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
			struct errinfo e;
			struct upload_image im;
			int rc = upload_decode(files[f].p, cuts[c], NULL, &im, &e);
			if (rc != ERR_CORRUPT)
				fail_msg("file %d cut to %zu of %zu: got %s '%s', want corrupt", f, cuts[c], files[f].n,
					 err_str(rc), rc ? e.msg : "");
		}
		struct upload_image im;
		decode_ok(&files[f], f == 0 ? UPLOAD_PNG : f == 1 ? UPLOAD_JPEG : UPLOAD_WEBP, w, h, &im);
		upload_image_free(&im);
		free(files[f].p);
	}
	free(px);
}

static void other_formats_unsupported(void **st)
{
	(void)st;
	static const char text[] = "hello, this is a text file\n";
	expect_err(text, sizeof text - 1, NULL, ERR_UNSUPPORTED, "not a PNG, JPEG or WebP");
	static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00"
				     "\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
	expect_err(gif, sizeof gif - 1, NULL, ERR_UNSUPPORTED, "GIF");
	uint8_t bmp[58] = {'B', 'M'};
	put_le(bmp + 2, sizeof bmp, 4);
	put_le(bmp + 10, 54, 4);
	put_le(bmp + 14, 40, 4);
	put_le(bmp + 18, 1, 4);
	put_le(bmp + 22, 1, 4);
	put_le(bmp + 26, 1, 2);
	put_le(bmp + 28, 24, 2);
	expect_err(bmp, sizeof bmp, NULL, ERR_UNSUPPORTED, "BMP");
	expect_err("", 0, NULL, ERR_UNSUPPORTED, "empty");
	static const uint8_t wav[16] = "RIFF\x08\x00\x00\x00WAVEfmt ";
	expect_err(wav, sizeof wav, NULL, ERR_UNSUPPORTED, "not WebP");
	assert_int_equal(upload_sniff(text, sizeof text - 1, NULL, NULL, NULL, NULL), ERR_UNSUPPORTED);
}

/* ---- fit_square --------------------------------------------------------- */

static void fit(const uint8_t *px, int w, int h, int size, uint8_t *out)
{
	struct upload_image im = {UPLOAD_PNG, w, h, (uint8_t *)px};
	struct errinfo e;
	int rc = upload_fit_square(&im, size, out, &e);
	if (rc)
		fail_msg("fit %dx%d -> %d: %s", w, h, size, e.msg);
}

static void fit_square_crops_and_scales(void **st)
{
	(void)st;
	/* wide 6x2 -> 2: the centre two columns, unscaled */
	uint8_t wide[2 * 6 * 3], out[8 * 8 * 3];
	for (int i = 0; i < 2 * 6 * 3; i++)
		wide[i] = (uint8_t)(i * 5);
	fit(wide, 6, 2, 2, out);
	for (int y = 0; y < 2; y++)
		assert_memory_equal(out + y * 6, wide + (y * 6 + 2) * 3, 6);

	/* tall 2x4 rows of 0,100,200,250 -> 2: rows 100 and 200 */
	uint8_t tall[4 * 2 * 3];
	static const uint8_t rv[4] = {0, 100, 200, 250};
	for (int y = 0; y < 4; y++)
		memset(tall + y * 6, rv[y], 6);
	fit(tall, 2, 4, 2, out);
	assert_int_equal(out[0], 100);
	assert_int_equal(out[5], 100);
	assert_int_equal(out[6], 200);
	assert_int_equal(out[11], 200);

	/* 8x4 -> 2: each output the mean of a 2x2 block of the centre 4x4 */
	uint8_t big[4 * 8 * 3];
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 8; x++)
			for (int c = 0; c < 3; c++)
				big[(y * 8 + x) * 3 + c] = (uint8_t)(x * 10 + y * 40 + c);
	fit(big, 8, 4, 2, out);
	for (int oy = 0; oy < 2; oy++)
		for (int ox = 0; ox < 2; ox++)
			for (int c = 0; c < 3; c++) {
				/* block columns 2+2ox.., rows 2oy..: mean x = 2.5+2ox, mean y = 0.5+2oy */
				int want = (int)((2.5 + 2 * ox) * 10 + (0.5 + 2 * oy) * 40 + c + 0.5);
				assert_int_equal(out[(oy * 2 + ox) * 3 + c], want);
			}

	/* enlarging 2x2 -> 4 is bilinear between pixel centres: 0, 50, 150, 200 */
	static const uint8_t two[12] = {0, 0, 0, 200, 200, 200, 0, 0, 0, 200, 200, 200};
	fit(two, 2, 2, 4, out);
	static const uint8_t row[4] = {0, 50, 150, 200};
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 4; x++)
			assert_int_equal(out[(y * 4 + x) * 3 + 1], row[x]);

	/* a flat colour stays flat, shrinking (non-integer ratio) and enlarging */
	uint8_t flat[7 * 5 * 3];
	for (int i = 0; i < 7 * 5; i++)
		flat[i * 3] = 17, flat[i * 3 + 1] = 130, flat[i * 3 + 2] = 251;
	int sizes[] = {1, 3, 4, 8};
	for (int s = 0; s < 4; s++) {
		fit(flat, 7, 5, sizes[s], out);
		for (int i = 0; i < sizes[s] * sizes[s]; i++)
			assert_true(out[i * 3] == 17 && out[i * 3 + 1] == 130 && out[i * 3 + 2] == 251);
		fit(flat, 5, 7, sizes[s], out);
		assert_true(out[0] == 17 && out[1] == 130 && out[2] == 251);
	}

	/* misuse */
	struct upload_image im = {UPLOAD_PNG, 7, 5, flat};
	struct errinfo e;
	assert_int_equal(upload_fit_square(&im, 0, out, &e), ERR_INVALID);
	assert_int_equal(upload_fit_square(&im, UPLOAD_HARD_MAX_SIDE + 1, out, &e), ERR_INVALID);
	assert_int_equal(upload_fit_square(NULL, 4, out, &e), ERR_INVALID);
	struct upload_image none = {0};
	assert_int_equal(upload_fit_square(&none, 4, out, &e), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(png_rgb_and_rgba),
		cmocka_unit_test(png_palette_gray_16bit),
		cmocka_unit_test(png_interlaced),
		cmocka_unit_test(png_metadata_is_dropped),
		cmocka_unit_test(jpeg_colour_gray_progressive),
		cmocka_unit_test(jpeg_cmyk_refused),
		cmocka_unit_test(jpeg_scan_count_capped),
		cmocka_unit_test(jpeg_named_png_is_jpeg),
		cmocka_unit_test(webp_lossless_lossy_alpha),
		cmocka_unit_test(webp_animated_refused),
		cmocka_unit_test(alpha_plane_for_masks),
		cmocka_unit_test(huge_declared_size_refused),
		cmocka_unit_test(truncated_files_are_corrupt),
		cmocka_unit_test(other_formats_unsupported),
		cmocka_unit_test(fit_square_crops_and_scales),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
