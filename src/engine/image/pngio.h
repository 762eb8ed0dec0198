/*
 * pngio.h: 8-bit RGB PNG files in and out through libpng.
 * Any PNG colour type and depth is converted to 8-bit RGB on reading (alpha
 * is dropped, composited on nothing). libpng's errors come back as
 * ERR_CORRUPT with its message, never as an abort.
 */
#ifndef ATELIER_ENGINE_IMAGE_PNGIO_H
#define ATELIER_ENGINE_IMAGE_PNGIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define PNGIO_MAX_SIDE 8192

/* Write rgb [h][w][3] to path. */
int pngio_write(const char *path, const uint8_t *rgb, int w, int h, struct errinfo *e);

/* Read path into a new buffer *rgb [h][w][3] (caller frees). Not a PNG:
 * ERR_INVALID; truncated, corrupt, or a side over PNGIO_MAX_SIDE:
 * ERR_CORRUPT with libpng's reason. */
int pngio_read(const char *path, uint8_t **rgb, int *w, int *h, struct errinfo *e);

/* Decode n bytes of PNG in memory into a new *rgb [h][w][3] (caller frees).
 * Not a PNG: ERR_INVALID; truncated, corrupt, or a side over PNGIO_MAX_SIDE
 * (checked from the header, before any pixel is decoded): ERR_CORRUPT. */
int pngio_decode(const void *png, size_t n, uint8_t **rgb, int *w, int *h, struct errinfo *e);

/* Encode rgb [h][w][3] as PNG, appended to out. Same bytes for the same
 * pixels (no time or text chunks). */
int pngio_encode(const uint8_t *rgb, int w, int h, struct buf *out, struct errinfo *e);

#endif
