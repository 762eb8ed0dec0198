/*
 * pngio.c: PNG reading and writing (pngio.h). libpng reports errors by
 * longjmp; every local that must survive the jump is volatile or lives in a
 * struct reached through a pointer set before setjmp.
 */
#include "engine/image/pngio.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pngerr {
	char msg[160];
};

static void on_error(png_structp p, png_const_charp msg)
{
	struct pngerr *pe = png_get_error_ptr(p);
	if (pe)
		snprintf(pe->msg, sizeof pe->msg, "%s", msg);
	png_longjmp(p, 1);
}

static void on_warning(png_structp p, png_const_charp msg)
{
	(void)p;
	(void)msg;
}

int pngio_write(const char *path, const uint8_t *rgb, int w, int h, struct errinfo *e)
{
	if (w < 1 || h < 1 || w > PNGIO_MAX_SIDE || h > PNGIO_MAX_SIDE)
		return err_set(e, ERR_INVALID, "size", "image size %dx%d out of range", w, h);
	FILE *f = fopen(path, "wb");
	if (!f)
		return err_set(e, ERR_IO, "output", "cannot create %.200s: %s", path, strerror(errno));
	struct pngerr pe = {{0}};
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, on_error, on_warning);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	if (!p || !info) {
		png_destroy_write_struct(&p, &info);
		fclose(f);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	if (setjmp(png_jmpbuf(p))) {
		png_destroy_write_struct(&p, &info);
		fclose(f);
		return err_set(e, ERR_IO, "output", "writing %.200s: %s", path, pe.msg);
	}
	png_init_io(p, f);
	png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, info);
	for (int y = 0; y < h; y++)
		png_write_row(p, (png_const_bytep)(rgb + (size_t)y * w * 3));
	png_write_end(p, NULL);
	png_destroy_write_struct(&p, &info);
	if (fclose(f) != 0)
		return err_set(e, ERR_IO, "output", "closing %.200s: %s", path, strerror(errno));
	return ERR_OK;
}

struct rstate {
	FILE *f;
	png_structp p;
	png_infop info;
	uint8_t *buf;
	png_bytep *rows;
	struct pngerr pe;
};

static void rclose(struct rstate *s)
{
	if (s->p)
		png_destroy_read_struct(&s->p, s->info ? &s->info : NULL, NULL);
	if (s->f)
		fclose(s->f);
	free(s->rows);
	free(s->buf);
}

/* A memory source for libpng. */
struct memsrc {
	const uint8_t *p;
	size_t n, off;
};

static void mem_read(png_structp p, png_bytep out, png_size_t n)
{
	struct memsrc *m = png_get_io_ptr(p);
	if (n > m->n - m->off)
		png_error(p, "truncated");
	memcpy(out, m->p + m->off, n);
	m->off += n;
}

/* The decoding both readers share; the signature has been read and checked,
 * s->f is set (file) or src is (memory). name labels messages. */
static int decode(struct rstate *s, struct memsrc *src, const char *name, uint8_t **rgb, int *wp, int *hp,
		  struct errinfo *e)
{
	int rc = ERR_OK;
	s->p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s->pe, on_error, on_warning);
	if (s->p)
		s->info = png_create_info_struct(s->p);
	if (!s->p || !s->info)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	if (setjmp(png_jmpbuf(s->p)))
		return err_set(e, ERR_CORRUPT, "init", "%.200s: corrupt or truncated PNG (%s)", name, s->pe.msg);
	if (src)
		png_set_read_fn(s->p, src, mem_read);
	else
		png_init_io(s->p, s->f);
	png_set_sig_bytes(s->p, 8);
	png_set_user_limits(s->p, PNGIO_MAX_SIDE, PNGIO_MAX_SIDE);
	png_read_info(s->p, s->info);
	png_uint_32 w = png_get_image_width(s->p, s->info), h = png_get_image_height(s->p, s->info);
	int ct = png_get_color_type(s->p, s->info), depth = png_get_bit_depth(s->p, s->info);
	if (depth == 16)
		png_set_strip_16(s->p);
	if (ct == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(s->p);
	if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(s->p);
	if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(s->p);
	if (ct & PNG_COLOR_MASK_ALPHA)
		png_set_strip_alpha(s->p);
	if (png_get_valid(s->p, s->info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(s->p), png_set_strip_alpha(s->p);
	png_set_interlace_handling(s->p);
	png_read_update_info(s->p, s->info);
	if (png_get_rowbytes(s->p, s->info) != (size_t)w * 3)
		return err_set(e, ERR_UNSUPPORTED, "init", "%.200s: unsupported PNG layout", name);
	s->buf = malloc((size_t)w * h * 3);
	s->rows = malloc(sizeof(png_bytep) * h);
	if (!s->buf || !s->rows)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	for (png_uint_32 y = 0; y < h; y++)
		s->rows[y] = s->buf + (size_t)y * w * 3;
	png_read_image(s->p, s->rows);
	*rgb = s->buf;
	s->buf = NULL;
	*wp = (int)w;
	*hp = (int)h;
	return rc;
}

int pngio_read(const char *path, uint8_t **rgb, int *wp, int *hp, struct errinfo *e)
{
	*rgb = NULL;
	struct rstate *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	int rc = ERR_OK;
	unsigned char sig[8];
	s->f = fopen(path, "rb");
	if (!s->f) {
		rc = err_set(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "init", "cannot open %.200s: %s", path,
			     strerror(errno));
		goto out;
	}
	if (fread(sig, 1, 8, s->f) != 8 || png_sig_cmp(sig, 0, 8)) {
		rc = err_set(e, ERR_INVALID, "init", "%.200s is not a PNG file", path);
		goto out;
	}
	rc = decode(s, NULL, path, rgb, wp, hp, e);
out:
	rclose(s);
	free(s);
	return rc;
}

int pngio_decode(const void *png, size_t n, uint8_t **rgb, int *wp, int *hp, struct errinfo *e)
{
	*rgb = NULL;
	if (n < 8 || png_sig_cmp((png_const_bytep)png, 0, 8))
		return err_set(e, ERR_INVALID, "image", "not a PNG image");
	struct rstate *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	struct memsrc src = {png, n, 8};
	int rc = decode(s, &src, "image", rgb, wp, hp, e);
	rclose(s);
	free(s);
	return rc;
}

static void mem_write(png_structp p, png_bytep data, png_size_t n)
{
	struct buf *b = png_get_io_ptr(p);
	if (buf_append(b, data, n))
		png_error(p, "out of memory");
}

static void mem_flush(png_structp p)
{
	(void)p;
}

int pngio_encode(const uint8_t *rgb, int w, int h, struct buf *out, struct errinfo *e)
{
	if (w < 1 || h < 1 || w > PNGIO_MAX_SIDE || h > PNGIO_MAX_SIDE)
		return err_set(e, ERR_INVALID, "size", "image size %dx%d out of range", w, h);
	struct pngerr pe = {{0}};
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, on_error, on_warning);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	if (!p || !info) {
		png_destroy_write_struct(&p, &info);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	if (setjmp(png_jmpbuf(p))) {
		png_destroy_write_struct(&p, &info);
		return err_set(e, ERR_NOMEM, NULL, "encoding PNG: %s", pe.msg);
	}
	png_set_write_fn(p, out, mem_write, mem_flush);
	png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, info);
	for (int y = 0; y < h; y++)
		png_write_row(p, (png_const_bytep)(rgb + (size_t)y * w * 3));
	png_write_end(p, NULL);
	png_destroy_write_struct(&p, &info);
	return ERR_OK;
}
