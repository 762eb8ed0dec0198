/*
 * gguf.h: a reader for GGUF v3 model files.
 *
 * The file is mapped read-only; tensor data is used in place from the mapping.
 * Everything read from the file (counts, lengths, types, offsets, sizes) is
 * checked before use, so a truncated or hostile file yields ERR_CORRUPT or
 * ERR_UNSUPPORTED with a message naming what is wrong, never a crash.
 *
 * Strings in GGUF are length-prefixed; the reader copies keys, string values
 * and string-array elements into NUL-terminated storage it owns, so callers
 * get plain `const char *` (and `const char *const *` for string arrays).
 * Numeric arrays are copied to aligned storage as well.
 */
#ifndef ATELIER_ENGINE_GGUF_H
#define ATELIER_ENGINE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/tensor.h"

enum gguf_vtype {
	GGUF_U8 = 0,
	GGUF_I8 = 1,
	GGUF_U16 = 2,
	GGUF_I16 = 3,
	GGUF_U32 = 4,
	GGUF_I32 = 5,
	GGUF_F32 = 6,
	GGUF_BOOL = 7,
	GGUF_STRING = 8,
	GGUF_ARRAY = 9,
	GGUF_U64 = 10,
	GGUF_I64 = 11,
	GGUF_F64 = 12,
	GGUF__MAX
};

/* Limits that keep a hostile header from asking for absurd work. */
#define GGUF_MAX_KV (1u << 20)
#define GGUF_MAX_TENSORS (1u << 20)
#define GGUF_MAX_NAME 4096

struct gguf;

/* Map and parse path. *out is owned by the caller (gguf_free). */
int gguf_open(struct gguf **out, const char *path, struct errinfo *e);

/* Parse a file image already in memory (borrowed: must outlive the result). */
int gguf_open_mem(struct gguf **out, const void *data, size_t size, struct errinfo *e);

/* Unmap and free. Accepts NULL. */
void gguf_free(struct gguf *g);

/* Metadata. Keys are indexed 0..gguf_kv_count()-1 in file order. */
size_t gguf_kv_count(const struct gguf *g);
const char *gguf_kv_key(const struct gguf *g, size_t i);
enum gguf_vtype gguf_kv_type(const struct gguf *g, size_t i);
/* Index of key, or -1. */
long gguf_find_key(const struct gguf *g, const char *key);

/* Typed getters: ERR_NOTFOUND when the key is absent, ERR_CORRUPT when it has
 * another type (the message names the key). Integer getters accept any
 * integer type whose value fits; gguf_get_f32 accepts F32 and F64. */
int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out, struct errinfo *e);
int gguf_get_i64(const struct gguf *g, const char *key, int64_t *out, struct errinfo *e);
int gguf_get_f32(const struct gguf *g, const char *key, float *out, struct errinfo *e);
int gguf_get_bool(const struct gguf *g, const char *key, bool *out, struct errinfo *e);
/* The string (owned by g, NUL-terminated). */
int gguf_get_str(const struct gguf *g, const char *key, const char **out, struct errinfo *e);
/* An array whose elements have type etype: *data is an aligned array of n
 * elements (for GGUF_STRING, a `const char *const *`). Owned by g. */
int gguf_get_arr(const struct gguf *g, const char *key, enum gguf_vtype etype, const void **data,
		 size_t *n, struct errinfo *e);

/* Element type and length of array key i (false when not an array). */
bool gguf_kv_arr_info(const struct gguf *g, size_t i, enum gguf_vtype *etype, size_t *n);

/* Short text for value i (numbers, quoted strings truncated, arrays as
 * "[TYPE x N]"), written into out (cap bytes, always NUL-terminated). */
void gguf_kv_describe(const struct gguf *g, size_t i, char *out, size_t cap);

/* Name of a value type ("u32", "string"…). */
const char *gguf_vtype_name(enum gguf_vtype t);

/* Tensors, in file order; data points into the mapping. */
size_t gguf_tensor_count(const struct gguf *g);
const struct tensor *gguf_tensor_at(const struct gguf *g, size_t i);
/* NULL when absent. */
const struct tensor *gguf_find_tensor(const struct gguf *g, const char *name);

/* Alignment of the data section, and the file's total size. */
uint32_t gguf_alignment(const struct gguf *g);
size_t gguf_file_size(const struct gguf *g);

#endif
