/*
 * safetensors.h: a checked reader for the safetensors weight format.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
 * tensor names to {"dtype","shape","data_offsets":[begin,end]} (offsets
 * relative to the byte after the header) plus an optional "__metadata__"
 * object of string values, then the tensor bytes. The file is mmapped
 * read-only; every offset, shape and size is checked before a pointer into the
 * mapping is handed out, so a corrupt or hostile file yields ERR_CORRUPT or
 * ERR_UNSUPPORTED with a message naming the tensor, never a bad read.
 * Supported dtypes: F32, F16, BF16.
 */
#ifndef ATELIER_ENGINE_SAFETENSORS_H
#define ATELIER_ENGINE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SAFETENSORS_MAX_DIMS 8
#define SAFETENSORS_MAX_HEADER (64u << 20) /* JSON header cap: 64 MiB */
#define SAFETENSORS_MAX_TENSORS 100000

enum safetensors_dtype { SAFETENSORS_F32, SAFETENSORS_F16, SAFETENSORS_BF16, SAFETENSORS__MAX };

/* One tensor; a plain value owned by the file. data points into the mapping
 * and may be unaligned: read it with safetensors_to_f32() or memcpy. */
struct safetensors_tensor {
	const char *name;
	enum safetensors_dtype dtype;
	int ndim;
	int64_t shape[SAFETENSORS_MAX_DIMS];
	uint64_t nelem;
	const void *data;
	size_t nbytes;
};

struct safetensors;

/* Map and validate the file at path. On success *out owns the mapping. */
int safetensors_open(struct safetensors **out, const char *path, struct errinfo *e);

/* Validate an in-memory image of a file; buf must outlive *out (not copied). */
int safetensors_open_mem(struct safetensors **out, const void *buf, size_t len, struct errinfo *e);

/* Unmap and free. Accepts NULL. */
void safetensors_close(struct safetensors *f);

/* Number of tensors, and the i-th (sorted by data offset), i < count. */
size_t safetensors_count(const struct safetensors *f);
const struct safetensors_tensor *safetensors_at(const struct safetensors *f, size_t i);

/* The tensor called name, or NULL. */
const struct safetensors_tensor *safetensors_find(const struct safetensors *f, const char *name);

/* The __metadata__ string value for key, or NULL. Owned by f. */
const char *safetensors_meta(const struct safetensors *f, const char *key);

/* Bytes per element of a dtype. */
size_t safetensors_dtype_size(enum safetensors_dtype d);

/* Convert t's elements to float into dst, which holds t->nelem floats. */
void safetensors_to_f32(const struct safetensors_tensor *t, float *dst);

#endif
