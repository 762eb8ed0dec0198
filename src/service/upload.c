/*
 * upload.c: sniffing, bounded decoding and square fitting of uploaded images
 * (upload.h). The headers are parsed here by hand, so the size of an image is
 * known, and checked against the limits, before any library sees the data;
 * the decoders are then told the same limits again as defence in depth.
 *
 * libpng and libjpeg report errors by longjmp. Each decoder keeps everything
 * that changes after its setjmp in a calloc'd state struct reached through a
 * pointer that is set before setjmp and never changed, and the only frames of
 * ours between setjmp and the jump are callbacks that hold no resources. The
 * libraries' default handlers (which print to stderr and, for libjpeg, call
 * exit()) are always replaced. Alternative rejected: decoding through
 * libpng's simplified png_image API, which cannot set user limits or skip
 * metadata chunks before they are decompressed.
 */
#include "service/upload.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
/* jpeglib.h needs stdio.h first */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

/* A progressive JPEG may hold any number of scans, each re-reading the whole
 * coefficient buffer: cap them so a small file cannot burn minutes of CPU. */
#define JPEG_MAX_SCANS 500
/* Largest ancillary PNG chunk libpng may allocate (we skip metadata anyway). */
#define PNG_CHUNK_MAX (1u << 20)

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* What the header says, beyond the public width and height. */
struct hdr {
	enum upload_format fmt;
	int w, h;
	int animated; /* WebP VP8X animation flag */
};

const char *upload_format_name(enum upload_format fmt)
{
	switch (fmt) {
	case UPLOAD_PNG:
		return "png";
	case UPLOAD_JPEG:
		return "jpeg";
	case UPLOAD_WEBP:
		return "webp";
	}
	return "unknown";
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static unsigned le16(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t le24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static uint32_t le32(const uint8_t *p)
{
	return le24(p) | (uint32_t)p[3] << 24;
}

/* Is d[0..len) a proper prefix of magic[0..mlen)? (a truncated signature) */
static int prefix_of(const uint8_t *d, size_t len, const void *magic, size_t mlen)
{
	return len < mlen && memcmp(d, magic, len) == 0;
}

static int sniff_png(const uint8_t *d, size_t len, struct hdr *h, struct errinfo *e)
{
	/* signature, then IHDR: length 13, "IHDR", width, height, depth, colour type... */
	if (len < 8 + 8 + 13)
		return err_set(e, ERR_CORRUPT, "image", "truncated PNG header");
	if (be32(d + 8) != 13 || memcmp(d + 12, "IHDR", 4) != 0)
		return err_set(e, ERR_CORRUPT, "image", "PNG does not start with an IHDR chunk");
	uint32_t w = be32(d + 16), ht = be32(d + 20);
	if (w == 0 || ht == 0 || w > 0x7fffffffu || ht > 0x7fffffffu)
		return err_set(e, ERR_CORRUPT, "image", "PNG declares an invalid size");
	h->w = (int)w;
	h->h = (int)ht;
	return ERR_OK;
}

/* SOFn markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC). */
static int is_sof(unsigned m)
{
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

static int sniff_jpeg(const uint8_t *d, size_t len, struct hdr *h, struct errinfo *e)
{
	size_t pos = 2; /* after SOI */
	for (;;) {
		if (pos >= len)
			return err_set(e, ERR_CORRUPT, "image", "truncated JPEG header (no frame header)");
		if (d[pos] != 0xff)
			return err_set(e, ERR_CORRUPT, "image", "bad JPEG marker in header");
		while (pos < len && d[pos] == 0xff) /* fill bytes */
			pos++;
		if (pos >= len)
			return err_set(e, ERR_CORRUPT, "image", "truncated JPEG header (no frame header)");
		unsigned m = d[pos++];
		if ((m >= 0xd0 && m <= 0xd7) || m == 0x01) /* RSTn, TEM: no length */
			continue;
		if (m == 0x00 || m == 0xd8 || m == 0xd9)
			return err_set(e, ERR_CORRUPT, "image", "bad JPEG marker in header");
		if (m == 0xda)
			return err_set(e, ERR_CORRUPT, "image", "JPEG scan before its frame header");
		if (len - pos < 2)
			return err_set(e, ERR_CORRUPT, "image", "truncated JPEG header");
		unsigned seglen = be16(d + pos);
		if (seglen < 2)
			return err_set(e, ERR_CORRUPT, "image", "bad JPEG segment length");
		if (is_sof(m)) {
			/* length, precision, height, width, components */
			if (seglen < 8 || len - pos < 8)
				return err_set(e, ERR_CORRUPT, "image", "truncated JPEG frame header");
			unsigned ht = be16(d + pos + 3), w = be16(d + pos + 5);
			if (ht == 0)
				return err_set(e, ERR_UNSUPPORTED, "image",
					       "JPEG whose height is given after the image (DNL) is not supported");
			if (w == 0)
				return err_set(e, ERR_CORRUPT, "image", "JPEG declares a zero width");
			h->w = (int)w;
			h->h = (int)ht;
			return ERR_OK;
		}
		if (len - pos < seglen)
			return err_set(e, ERR_CORRUPT, "image", "truncated JPEG header");
		pos += seglen;
	}
}

static int sniff_webp(const uint8_t *d, size_t len, struct hdr *h, struct errinfo *e)
{
	/* "RIFF" size "WEBP", then the first chunk: fourcc, size, payload */
	if (len < 20)
		return err_set(e, ERR_CORRUPT, "image", "truncated WebP header");
	const uint8_t *c = d + 20;
	uint32_t w, ht;
	if (memcmp(d + 12, "VP8 ", 4) == 0) {
		/* frame tag (3 bytes, bit 0 clear on a key frame), start code 9d 01 2a, 14-bit sizes */
		if (len < 30)
			return err_set(e, ERR_CORRUPT, "image", "truncated WebP header");
		if ((c[0] & 1) != 0 || c[3] != 0x9d || c[4] != 0x01 || c[5] != 0x2a)
			return err_set(e, ERR_CORRUPT, "image", "bad WebP (VP8) frame header");
		w = le16(c + 6) & 0x3fff;
		ht = le16(c + 8) & 0x3fff;
	} else if (memcmp(d + 12, "VP8L", 4) == 0) {
		/* signature 0x2f, then 14 bits width-1, 14 bits height-1, alpha, 3-bit version */
		if (len < 25)
			return err_set(e, ERR_CORRUPT, "image", "truncated WebP header");
		uint32_t bits = le32(c + 1);
		if (c[0] != 0x2f || (bits >> 29) != 0)
			return err_set(e, ERR_CORRUPT, "image", "bad WebP (VP8L) header");
		w = (bits & 0x3fff) + 1;
		ht = ((bits >> 14) & 0x3fff) + 1;
	} else if (memcmp(d + 12, "VP8X", 4) == 0) {
		/* flags, 3 reserved bytes, 24-bit canvas width-1 and height-1 */
		if (len < 30)
			return err_set(e, ERR_CORRUPT, "image", "truncated WebP header");
		h->animated = (c[0] & 0x02) != 0;
		w = le24(c + 4) + 1;
		ht = le24(c + 7) + 1;
	} else {
		return err_set(e, ERR_CORRUPT, "image", "WebP file with an unknown first chunk");
	}
	if (w == 0 || ht == 0)
		return err_set(e, ERR_CORRUPT, "image", "WebP declares a zero size");
	h->w = (int)w;
	h->h = (int)ht;
	return ERR_OK;
}

/* The message for bytes that are none of our formats, naming the common ones. */
static int unsupported(const uint8_t *d, size_t len, struct errinfo *e)
{
	const char *what = NULL;
	if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
		what = "GIF";
	else if (len >= 14 && d[0] == 'B' && d[1] == 'M')
		what = "BMP";
	else if (len >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
		what = "TIFF";
	else if (len >= 12 && memcmp(d + 4, "ftyp", 4) == 0)
		what = "HEIC/AVIF (ISO media)";
	else if (len >= 12 && memcmp(d, "RIFF", 4) == 0)
		what = "a RIFF file that is not WebP";
	else if (len >= 4 && (memcmp(d, "<svg", 4) == 0 || memcmp(d, "<?xm", 4) == 0))
		what = "SVG/XML";
	if (len == 0)
		return err_set(e, ERR_UNSUPPORTED, "image", "the upload is empty; send a PNG, JPEG or WebP image");
	if (what)
		return err_set(e, ERR_UNSUPPORTED, "image", "%s is not supported; send a PNG, JPEG or WebP image", what);
	return err_set(e, ERR_UNSUPPORTED, "image", "not a PNG, JPEG or WebP image");
}

static int sniff(const uint8_t *d, size_t len, struct hdr *h, struct errinfo *e)
{
	memset(h, 0, sizeof *h);
	if (len >= 8 && memcmp(d, png_sig, 8) == 0) {
		h->fmt = UPLOAD_PNG;
		return sniff_png(d, len, h, e);
	}
	if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) {
		h->fmt = UPLOAD_JPEG;
		return sniff_jpeg(d, len, h, e);
	}
	if (len >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) {
		h->fmt = UPLOAD_WEBP;
		return sniff_webp(d, len, h, e);
	}
	if (len > 0 && prefix_of(d, len, png_sig, 8))
		return err_set(e, ERR_CORRUPT, "image", "truncated PNG signature");
	if (len > 0 && prefix_of(d, len, "\xff\xd8\xff", 3))
		return err_set(e, ERR_CORRUPT, "image", "truncated JPEG signature");
	if (len > 0 && len < 12 && memcmp(d, "RIFF", len < 4 ? len : 4) == 0 &&
	    (len <= 8 || memcmp(d + 8, "WEBP", len - 8) == 0))
		return err_set(e, ERR_CORRUPT, "image", "truncated WebP signature");
	return unsupported(d, len, e);
}

int upload_sniff(const void *data, size_t len, enum upload_format *fmt, int *w, int *h, struct errinfo *e)
{
	if (!data && len)
		return err_set(e, ERR_INVALID, "image", "no data");
	struct hdr hd;
	int rc = sniff(data, len, &hd, e);
	if (rc)
		return rc;
	if (fmt)
		*fmt = hd.fmt;
	if (w)
		*w = hd.w;
	if (h)
		*h = hd.h;
	return ERR_OK;
}

/* RGBA -> RGB over white, in place (the output never overtakes the input);
 * the alpha samples go to alpha ([npix]) when it is not NULL. */
static void composite_white(uint8_t *buf, size_t npix, uint8_t *alpha)
{
	for (size_t i = 0; i < npix; i++) {
		const uint8_t *s = buf + i * 4;
		unsigned a = s[3], na = 255 - a;
		if (alpha)
			alpha[i] = (uint8_t)a;
		uint8_t r = (uint8_t)((s[0] * a + 255 * na + 127) / 255);
		uint8_t g = (uint8_t)((s[1] * a + 255 * na + 127) / 255);
		uint8_t b = (uint8_t)((s[2] * a + 255 * na + 127) / 255);
		buf[i * 3] = r;
		buf[i * 3 + 1] = g;
		buf[i * 3 + 2] = b;
	}
}

/* Shrink an RGBA buffer made RGB in place; keeps the old block if realloc fails. */
static uint8_t *shrink_to_rgb(uint8_t *buf, size_t npix, uint8_t *alpha)
{
	composite_white(buf, npix, alpha);
	uint8_t *r = realloc(buf, npix * 3);
	return r ? r : buf;
}

/* ---- PNG ---------------------------------------------------------------- */

struct pstate {
	const uint8_t *data;
	size_t len, pos;
	png_structp p;
	png_infop info;
	uint8_t *buf;     /* [h][w][4] */
	png_bytep *rows;  /* [h] into buf */
	char msg[160];
};

static void png_on_error(png_structp p, png_const_charp msg)
{
	struct pstate *s = png_get_error_ptr(p);
	snprintf(s->msg, sizeof s->msg, "%s", msg);
	png_longjmp(p, 1);
}

static void png_on_warning(png_structp p, png_const_charp msg)
{
	(void)p;
	(void)msg;
}

static void png_read_mem(png_structp p, png_bytep out, png_size_t n)
{
	struct pstate *s = png_get_io_ptr(p);
	if (n > s->len - s->pos)
		png_error(p, "truncated file");
	memcpy(out, s->data + s->pos, n);
	s->pos += n;
}

/* Chunks that carry metadata, or nothing we use: never read into memory. */
static const png_byte png_skip[] = "tEXt\0zTXt\0iTXt\0eXIf\0iCCP\0tIME\0pHYs\0sPLT\0hIST\0oFFs\0pCAL\0sCAL\0bKGD\0"
				   "sBIT\0";

static int decode_png(const uint8_t *data, size_t len, const struct hdr *hd, int max_side, struct upload_image *out,
		      uint8_t *alpha, struct errinfo *e)
{
	struct pstate *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	int rc = ERR_OK;
	s->data = data;
	s->len = len;
	s->p = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_on_error, png_on_warning);
	if (s->p)
		s->info = png_create_info_struct(s->p);
	if (!s->p || !s->info) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (setjmp(png_jmpbuf(s->p))) {
		rc = err_set(e, ERR_CORRUPT, "image", "corrupt or truncated PNG (%s)", s->msg);
		goto out;
	}
	png_set_read_fn(s->p, s, png_read_mem);
	png_set_user_limits(s->p, (png_uint_32)max_side, (png_uint_32)max_side);
	png_set_chunk_malloc_max(s->p, PNG_CHUNK_MAX);
	png_set_chunk_cache_max(s->p, 128);
	png_set_keep_unknown_chunks(s->p, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
	png_set_keep_unknown_chunks(s->p, PNG_HANDLE_CHUNK_NEVER, png_skip, (int)(sizeof png_skip / 5));
	png_read_info(s->p, s->info);
	png_uint_32 w = png_get_image_width(s->p, s->info), h = png_get_image_height(s->p, s->info);
	if ((int)w != hd->w || (int)h != hd->h) {
		rc = err_set(e, ERR_CORRUPT, "image", "PNG size does not match its header");
		goto out;
	}
	int ct = png_get_color_type(s->p, s->info), depth = png_get_bit_depth(s->p, s->info);
	/* every colour type to 8-bit RGBA */
	if (depth == 16)
		png_set_scale_16(s->p);
	if (ct == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(s->p);
	if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(s->p);
	if (png_get_valid(s->p, s->info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(s->p);
	else if (!(ct & PNG_COLOR_MASK_ALPHA))
		png_set_add_alpha(s->p, 0xff, PNG_FILLER_AFTER);
	if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(s->p);
	png_set_interlace_handling(s->p);
	png_read_update_info(s->p, s->info);
	if (png_get_rowbytes(s->p, s->info) != (size_t)w * 4) {
		rc = err_set(e, ERR_UNSUPPORTED, "image", "unsupported PNG layout");
		goto out;
	}
	s->buf = malloc((size_t)w * h * 4);
	s->rows = malloc(sizeof(png_bytep) * h);
	if (!s->buf || !s->rows) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	for (png_uint_32 y = 0; y < h; y++)
		s->rows[y] = s->buf + (size_t)y * w * 4;
	png_read_image(s->p, s->rows);
	/* read on to IEND (skipping what is there) so that a truncated file is refused */
	png_read_end(s->p, NULL);
	out->rgb = shrink_to_rgb(s->buf, (size_t)w * h, alpha);
	s->buf = NULL;
	out->width = (int)w;
	out->height = (int)h;
out:
	if (s->p)
		png_destroy_read_struct(&s->p, s->info ? &s->info : NULL, NULL);
	free(s->rows);
	free(s->buf);
	free(s);
	return rc;
}

/* ---- JPEG --------------------------------------------------------------- */

struct jstate {
	struct jpeg_decompress_struct ci;
	struct jpeg_error_mgr jerr;
	struct jpeg_progress_mgr prog;
	jmp_buf jb;
	int created;
	char msg[JMSG_LENGTH_MAX];
	uint8_t *buf; /* [h][w][3] */
};

static void jpeg_on_error(j_common_ptr ci)
{
	struct jstate *s = ci->client_data;
	ci->err->format_message(ci, s->msg);
	longjmp(s->jb, 1);
}

/* Warnings are not printed. A premature end of file is an error: libjpeg
 * would otherwise pad the image with grey and call it a success. */
static void jpeg_on_message(j_common_ptr ci, int level)
{
	if (level < 0) {
		ci->err->num_warnings++;
		if (ci->err->msg_code == JWRN_JPEG_EOF)
			jpeg_on_error(ci);
	}
}

static void jpeg_on_output(j_common_ptr ci)
{
	(void)ci;
}

static void jpeg_on_progress(j_common_ptr ci)
{
	struct jstate *s = ci->client_data;
	if (s->ci.input_scan_number > JPEG_MAX_SCANS) {
		s->jerr.msg_code = 0;
		snprintf(s->msg, sizeof s->msg, "more than %d scans", JPEG_MAX_SCANS);
		longjmp(s->jb, 1);
	}
}

static int decode_jpeg(const uint8_t *data, size_t len, const struct hdr *hd, int max_side, int64_t max_pixels,
		       struct upload_image *out, struct errinfo *e)
{
	struct jstate *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	int rc = ERR_OK;
	s->ci.err = jpeg_std_error(&s->jerr);
	s->jerr.error_exit = jpeg_on_error;
	s->jerr.emit_message = jpeg_on_message;
	s->jerr.output_message = jpeg_on_output;
	if (setjmp(s->jb)) {
		int code = s->jerr.msg_code;
		if (code == JERR_BAD_PRECISION || code == JERR_NOT_COMPILED || code == JERR_ARITH_NOTIMPL)
			rc = err_set(e, ERR_UNSUPPORTED, "image", "unsupported JPEG variant (%s)", s->msg);
		else
			rc = err_set(e, ERR_CORRUPT, "image", "corrupt or truncated JPEG (%s)", s->msg);
		goto out;
	}
	jpeg_create_decompress(&s->ci);
	s->created = 1;
	s->ci.client_data = s;
	s->prog.progress_monitor = jpeg_on_progress;
	s->ci.progress = &s->prog;
	/* coefficient buffers of a progressive image are ~2 bytes per sample */
	s->ci.mem->max_memory_to_use = (long)(max_pixels * 8 + (32l << 20));
	jpeg_mem_src(&s->ci, data, (unsigned long)len);
	if (jpeg_read_header(&s->ci, TRUE) != JPEG_HEADER_OK) {
		rc = err_set(e, ERR_CORRUPT, "image", "JPEG has no image");
		goto out;
	}
	JDIMENSION w = s->ci.image_width, h = s->ci.image_height;
	if (w > (JDIMENSION)max_side || h > (JDIMENSION)max_side || (int64_t)w * h > max_pixels) {
		rc = err_set(e, ERR_TOOBIG, "image", "JPEG is %ux%u, over the limits", (unsigned)w, (unsigned)h);
		goto out;
	}
	if ((int)w != hd->w || (int)h != hd->h) {
		rc = err_set(e, ERR_CORRUPT, "image", "JPEG size does not match its header");
		goto out;
	}
	if (s->ci.jpeg_color_space == JCS_CMYK || s->ci.jpeg_color_space == JCS_YCCK) {
		rc = err_set(e, ERR_UNSUPPORTED, "image", "CMYK JPEG is not supported; convert the image to RGB");
		goto out;
	}
	if (s->ci.num_components != 1 && s->ci.num_components != 3) {
		rc = err_set(e, ERR_UNSUPPORTED, "image", "JPEG with %d colour components is not supported",
			     s->ci.num_components);
		goto out;
	}
	s->ci.out_color_space = JCS_RGB;
	jpeg_start_decompress(&s->ci);
	if (s->ci.output_width != w || s->ci.output_height != h || s->ci.output_components != 3) {
		rc = err_set(e, ERR_UNSUPPORTED, "image", "unsupported JPEG layout");
		goto out;
	}
	s->buf = malloc((size_t)w * h * 3);
	if (!s->buf) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	while (s->ci.output_scanline < h) {
		JSAMPROW row = s->buf + (size_t)s->ci.output_scanline * w * 3;
		if (jpeg_read_scanlines(&s->ci, &row, 1) != 1) {
			rc = err_set(e, ERR_CORRUPT, "image", "truncated JPEG");
			goto out;
		}
	}
	/* read on to EOI so that a truncated file is refused */
	jpeg_finish_decompress(&s->ci);
	out->rgb = s->buf;
	s->buf = NULL;
	out->width = (int)w;
	out->height = (int)h;
out:
	if (s->created)
		jpeg_destroy_decompress(&s->ci);
	free(s->buf);
	free(s);
	return rc;
}

/* ---- WebP --------------------------------------------------------------- */

static int decode_webp(const uint8_t *data, size_t len, const struct hdr *hd, struct upload_image *out,
		       uint8_t *alpha, struct errinfo *e)
{
	if (hd->animated)
		return err_set(e, ERR_UNSUPPORTED, "image", "animated WebP is not supported; send a still image");
	WebPBitstreamFeatures f;
	VP8StatusCode st = WebPGetFeatures(data, len, &f);
	if (st == VP8_STATUS_NOT_ENOUGH_DATA)
		return err_set(e, ERR_CORRUPT, "image", "truncated WebP");
	if (st == VP8_STATUS_UNSUPPORTED_FEATURE)
		return err_set(e, ERR_UNSUPPORTED, "image", "WebP uses a feature that is not supported");
	if (st != VP8_STATUS_OK)
		return err_set(e, ERR_CORRUPT, "image", "corrupt WebP (status %d)", (int)st);
	if (f.has_animation)
		return err_set(e, ERR_UNSUPPORTED, "image", "animated WebP is not supported; send a still image");
	if (f.width != hd->w || f.height != hd->h)
		return err_set(e, ERR_CORRUPT, "image", "WebP size does not match its header");
	size_t npix = (size_t)f.width * f.height;
	int bpp = f.has_alpha ? 4 : 3;
	uint8_t *buf = malloc(npix * bpp);
	if (!buf)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	uint8_t *r = f.has_alpha ? WebPDecodeRGBAInto(data, len, buf, npix * 4, f.width * 4)
				 : WebPDecodeRGBInto(data, len, buf, npix * 3, f.width * 3);
	if (!r) {
		free(buf);
		return err_set(e, ERR_CORRUPT, "image", "corrupt or truncated WebP");
	}
	out->rgb = f.has_alpha ? shrink_to_rgb(buf, npix, alpha) : buf;
	out->width = f.width;
	out->height = f.height;
	return ERR_OK;
}

/* ---- decode, free, fit -------------------------------------------------- */

/* upload_decode, and upload_decode_alpha when alpha_out is not NULL. */
static int decode(const void *data, size_t len, const struct upload_limits *lim, struct upload_image *out,
		  uint8_t **alpha_out, struct errinfo *e)
{
	uint8_t *alpha = NULL;
	if (alpha_out)
		*alpha_out = NULL;
	if (!out)
		return err_set(e, ERR_INVALID, "image", "no output image");
	memset(out, 0, sizeof *out);
	if (!data && len)
		return err_set(e, ERR_INVALID, "image", "no data");
	int max_side = UPLOAD_HARD_MAX_SIDE;
	int64_t max_pixels = UPLOAD_HARD_MAX_PIXELS;
	size_t max_bytes = UPLOAD_HARD_MAX_BYTES;
	if (lim && lim->max_side > 0 && lim->max_side < max_side)
		max_side = lim->max_side;
	if (lim && lim->max_pixels > 0 && lim->max_pixels < max_pixels)
		max_pixels = lim->max_pixels;
	if (lim && lim->max_bytes > 0 && lim->max_bytes < max_bytes)
		max_bytes = lim->max_bytes;
	if (len > max_bytes)
		return err_set(e, ERR_TOOBIG, "image", "the upload is %zu bytes; the limit is %zu bytes", len, max_bytes);
	struct hdr hd;
	int rc = sniff(data, len, &hd, e);
	if (rc)
		return rc;
	if (hd.w > max_side || hd.h > max_side)
		return err_set(e, ERR_TOOBIG, "image", "the image is %dx%d; each side may be at most %d pixels", hd.w,
			       hd.h, max_side);
	if ((int64_t)hd.w * hd.h > max_pixels)
		return err_set(e, ERR_TOOBIG, "image", "the image is %dx%d; it may have at most %lld pixels", hd.w,
			       hd.h, (long long)max_pixels);
	if (alpha_out) {
		/* opaque unless the decoder finds alpha samples */
		alpha = malloc((size_t)hd.w * hd.h);
		if (!alpha)
			return err_set(e, ERR_NOMEM, NULL, "out of memory");
		memset(alpha, 255, (size_t)hd.w * hd.h);
	}
	switch (hd.fmt) {
	case UPLOAD_PNG:
		rc = decode_png(data, len, &hd, max_side, out, alpha, e);
		break;
	case UPLOAD_JPEG:
		rc = decode_jpeg(data, len, &hd, max_side, max_pixels, out, e);
		break;
	case UPLOAD_WEBP:
		rc = decode_webp(data, len, &hd, out, alpha, e);
		break;
	}
	if (rc) {
		free(out->rgb);
		memset(out, 0, sizeof *out);
		free(alpha);
		return rc;
	}
	out->fmt = hd.fmt;
	if (alpha_out)
		*alpha_out = alpha;
	return ERR_OK;
}

int upload_decode(const void *data, size_t len, const struct upload_limits *lim, struct upload_image *out,
		  struct errinfo *e)
{
	return decode(data, len, lim, out, NULL, e);
}

int upload_decode_alpha(const void *data, size_t len, const struct upload_limits *lim, struct upload_image *out,
			uint8_t **alpha, struct errinfo *e)
{
	if (!alpha) {
		if (out)
			memset(out, 0, sizeof *out);
		return err_set(e, ERR_INVALID, "image", "no alpha output");
	}
	return decode(data, len, lim, out, alpha, e);
}

void upload_image_free(struct upload_image *im)
{
	if (!im)
		return;
	free(im->rgb);
	memset(im, 0, sizeof *im);
}

/* Resampling weights for one axis: output i reads src[start[i] .. start[i]+cnt[i])
 * with weights w[i*stride ..], summing to 1. */
struct axis {
	int *start, *cnt;
	float *w;
	int stride;
};

static void axis_free(struct axis *a)
{
	free(a->start);
	free(a->cnt);
	free(a->w);
}

/* The source window [c0, c0+m) (m source pixels, c0 may be fractional) onto
 * size outputs: box filter (exact area overlap) when shrinking, bilinear
 * between pixel centres when enlarging. n = source length. */
static int axis_make(struct axis *a, int n, double c0, double m, int size)
{
	double f = m / size; /* source pixels per output pixel */
	a->stride = f >= 1 ? (int)ceil(f) + 2 : 2;
	a->start = malloc(sizeof(int) * size);
	a->cnt = malloc(sizeof(int) * size);
	a->w = malloc(sizeof(float) * (size_t)size * a->stride);
	if (!a->start || !a->cnt || !a->w)
		return ERR_NOMEM;
	for (int i = 0; i < size; i++) {
		float *w = a->w + (size_t)i * a->stride;
		if (f >= 1) {
			double lo = c0 + i * f, hi = lo + f;
			int j0 = (int)floor(lo), j1 = (int)ceil(hi);
			if (j0 < 0)
				j0 = 0;
			if (j1 > n)
				j1 = n;
			if (j1 <= j0)
				j1 = j0 + 1;
			double sum = 0;
			int k = 0;
			for (int j = j0; j < j1 && k < a->stride; j++, k++) {
				double ov = fmin(hi, j + 1) - fmax(lo, j);
				w[k] = (float)(ov > 0 ? ov : 0);
				sum += w[k];
			}
			for (int q = 0; q < k; q++)
				w[q] = sum > 0 ? (float)(w[q] / sum) : 1.0f / k;
			a->start[i] = j0;
			a->cnt[i] = k;
		} else {
			double c = c0 + (i + 0.5) * f - 0.5;
			if (c < 0)
				c = 0;
			if (c > n - 1)
				c = n - 1;
			int j = (int)floor(c);
			double t = c - j;
			if (j >= n - 1) {
				a->start[i] = n - 1;
				a->cnt[i] = 1;
				w[0] = 1;
			} else {
				a->start[i] = j;
				a->cnt[i] = 2;
				w[0] = (float)(1 - t);
				w[1] = (float)t;
			}
		}
	}
	return ERR_OK;
}

int upload_fit_square(const struct upload_image *im, int size, uint8_t *rgb_out, struct errinfo *e)
{
	if (!im || !im->rgb || im->width < 1 || im->height < 1 || !rgb_out)
		return err_set(e, ERR_INVALID, "image", "no image to fit");
	if (size < 1 || size > UPLOAD_HARD_MAX_SIDE)
		return err_set(e, ERR_INVALID, "size", "size %d is outside 1..%d", size, UPLOAD_HARD_MAX_SIDE);
	int w = im->width, h = im->height;
	double m = w < h ? w : h; /* the centred square's side, in source pixels */
	struct axis ax = {0}, ay = {0};
	float *row = NULL; /* one source row band, weighted: [w][3] */
	int rc = ERR_OK;
	if (axis_make(&ax, w, (w - m) / 2, m, size) || axis_make(&ay, h, (h - m) / 2, m, size)) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	row = malloc(sizeof(float) * (size_t)w * 3);
	if (!row) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	/* the columns any output reads */
	int x0 = ax.start[0], x1 = ax.start[size - 1] + ax.cnt[size - 1];
	for (int oy = 0; oy < size; oy++) {
		/* vertical pass over the needed columns, then horizontal */
		memset(row + (size_t)x0 * 3, 0, sizeof(float) * (size_t)(x1 - x0) * 3);
		const float *wy = ay.w + (size_t)oy * ay.stride;
		for (int k = 0; k < ay.cnt[oy]; k++) {
			const uint8_t *src = im->rgb + ((size_t)(ay.start[oy] + k) * w + x0) * 3;
			float *d = row + (size_t)x0 * 3;
			float wk = wy[k];
			for (int i = 0; i < (x1 - x0) * 3; i++)
				d[i] += wk * src[i];
		}
		uint8_t *o = rgb_out + (size_t)oy * size * 3;
		for (int ox = 0; ox < size; ox++) {
			const float *wx = ax.w + (size_t)ox * ax.stride;
			float r = 0, g = 0, b = 0;
			for (int k = 0; k < ax.cnt[ox]; k++) {
				const float *p = row + (size_t)(ax.start[ox] + k) * 3;
				r += wx[k] * p[0];
				g += wx[k] * p[1];
				b += wx[k] * p[2];
			}
			float v[3] = {r, g, b};
			for (int c = 0; c < 3; c++) {
				float x = v[c] + 0.5f;
				o[ox * 3 + c] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
			}
		}
	}
out:
	axis_free(&ax);
	axis_free(&ay);
	free(row);
	return rc;
}
