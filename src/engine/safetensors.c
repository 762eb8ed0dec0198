/*
 * safetensors.c: mmap a safetensors file and validate its header before any
 * tensor is touched (see safetensors.h for the layout).
 *
 * Checks, each with its own message: file shorter than 8 bytes, header length
 * past the end or over the cap, JSON that does not parse or is not an object,
 * duplicate keys, a tensor entry that is not an object, unknown or unsupported
 * dtype, shape not a list of at most 8 non-negative integers, element count
 * overflowing 64 bits, data_offsets not two integers with begin <= end <= data
 * size, byte size not matching shape x dtype, and two tensors overlapping.
 * jansson parses the JSON (rejecting duplicates); we keep only what we copied
 * out of it, so nothing points into the parser's memory afterwards.
 */
#include "engine/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct meta_kv {
	char *key;
	char *val;
};

struct safetensors {
	void *map; /* mmap base, or NULL for open_mem */
	size_t map_len;
	struct safetensors_tensor *t; /* [n], sorted by data offset */
	size_t n;
	struct meta_kv *meta; /* [nmeta] */
	size_t nmeta;
};

static const char *const dtype_names[SAFETENSORS__MAX] = {"F32", "F16", "BF16"};
static const size_t dtype_sizes[SAFETENSORS__MAX] = {4, 2, 2};
/* Valid in the format but not supported here: answered with ERR_UNSUPPORTED. */
static const char *const known_other[] = {"F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32",
					  "U64", "BOOL", "F8_E4M3", "F8_E5M2"};

size_t safetensors_dtype_size(enum safetensors_dtype d)
{
	return (unsigned)d < SAFETENSORS__MAX ? dtype_sizes[d] : 0;
}

static int cmp_offset(const void *a, const void *b)
{
	const struct safetensors_tensor *x = a, *y = b;
	const char *px = x->data, *py = y->data;
	if (px != py)
		return px < py ? -1 : 1;
	return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int parse_tensor(struct safetensors_tensor *t, const char *name, json_t *v,
			const unsigned char *data, uint64_t data_len, struct errinfo *e)
{
	if (!json_is_object(v))
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: tensor '%.80s' entry is not an object", name);
	json_t *dt = json_object_get(v, "dtype");
	if (!json_is_string(dt))
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: tensor '%.80s' has no dtype", name);
	const char *ds = json_string_value(dt);
	int found = -1;
	for (int i = 0; i < SAFETENSORS__MAX; i++)
		if (strcmp(ds, dtype_names[i]) == 0)
			found = i;
	if (found < 0) {
		for (size_t i = 0; i < sizeof known_other / sizeof *known_other; i++)
			if (strcmp(ds, known_other[i]) == 0)
				return err_set(e, ERR_UNSUPPORTED, "weights",
					       "safetensors: tensor '%.80s' has dtype %s (supported: F32, F16, BF16)", name, ds);
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: tensor '%.80s' has unknown dtype '%.16s'", name, ds);
	}
	t->dtype = (enum safetensors_dtype)found;
	json_t *sh = json_object_get(v, "shape");
	if (!json_is_array(sh) || json_array_size(sh) > SAFETENSORS_MAX_DIMS)
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: tensor '%.80s' shape is not a list of at most %d dims",
			       name, SAFETENSORS_MAX_DIMS);
	t->ndim = (int)json_array_size(sh);
	uint64_t nelem = 1;
	for (int i = 0; i < t->ndim; i++) {
		json_t *d = json_array_get(sh, (size_t)i);
		if (!json_is_integer(d) || json_integer_value(d) < 0)
			return err_set(e, ERR_CORRUPT, "weights", "safetensors: tensor '%.80s' dim %d is not a non-negative integer", name, i);
		uint64_t dim = (uint64_t)json_integer_value(d);
		if (dim != 0 && nelem > UINT64_MAX / dim)
			return err_set(e, ERR_CORRUPT, "weights", "safetensors: tensor '%.80s' shape overflows", name);
		nelem *= dim;
		t->shape[i] = (int64_t)dim;
	}
	t->nelem = nelem;
	json_t *off = json_object_get(v, "data_offsets");
	if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
	    !json_is_integer(json_array_get(off, 1)))
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: tensor '%.80s' data_offsets is not [begin, end]", name);
	json_int_t b = json_integer_value(json_array_get(off, 0));
	json_int_t en = json_integer_value(json_array_get(off, 1));
	if (b < 0 || en < b || (uint64_t)en > data_len)
		return err_set(e, ERR_CORRUPT, "weights",
			       "safetensors: tensor '%.80s' data_offsets [%lld, %lld] outside the %llu data bytes", name,
			       (long long)b, (long long)en, (unsigned long long)data_len);
	uint64_t es = dtype_sizes[t->dtype];
	if (nelem > UINT64_MAX / es || nelem * es != (uint64_t)(en - b))
		return err_set(e, ERR_CORRUPT, "weights",
			       "safetensors: tensor '%.80s' has %lld bytes but its shape and dtype need %llu", name,
			       (long long)(en - b), (unsigned long long)(nelem <= UINT64_MAX / es ? nelem * es : 0));
	t->data = data + b;
	t->nbytes = (size_t)(en - b);
	return ERR_OK;
}

static int parse(struct safetensors *f, const unsigned char *buf, size_t len, struct errinfo *e)
{
	int rc = ERR_OK;
	json_t *root = NULL;
	if (len < 8)
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: file is %zu bytes, shorter than the 8-byte header length", len);
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = (hl << 8) | buf[i];
	if (hl > len - 8)
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: header length %llu runs past the end of the %zu-byte file",
			       (unsigned long long)hl, len);
	if (hl > SAFETENSORS_MAX_HEADER)
		return err_set(e, ERR_TOOBIG, "weights", "safetensors: header of %llu bytes is over the cap",
			       (unsigned long long)hl);
	json_error_t jerr;
	root = json_loadb((const char *)buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = err_set(e, ERR_CORRUPT, "weights", "safetensors: header JSON: %.120s (at byte %d)", jerr.text, jerr.position);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = err_set(e, ERR_CORRUPT, "weights", "safetensors: header is not a JSON object");
		goto out;
	}
	const unsigned char *data = buf + 8 + hl;
	uint64_t data_len = len - 8 - hl;
	size_t cap = json_object_size(root);
	if (cap > SAFETENSORS_MAX_TENSORS) {
		rc = err_set(e, ERR_TOOBIG, "weights", "safetensors: %zu tensors, over the cap", cap);
		goto out;
	}
	f->t = calloc(cap ? cap : 1, sizeof *f->t);
	if (!f->t) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val)
	{
		if (strcmp(key, "__metadata__") == 0) {
			if (!json_is_object(val)) {
				rc = err_set(e, ERR_CORRUPT, "weights", "safetensors: __metadata__ is not an object");
				goto out;
			}
			size_t nm = json_object_size(val);
			f->meta = calloc(nm ? nm : 1, sizeof *f->meta);
			if (!f->meta) {
				rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
				goto out;
			}
			const char *mk;
			json_t *mv;
			json_object_foreach(val, mk, mv)
			{
				if (!json_is_string(mv)) {
					rc = err_set(e, ERR_CORRUPT, "weights", "safetensors: metadata '%.80s' is not a string", mk);
					goto out;
				}
				struct meta_kv *m = &f->meta[f->nmeta];
				m->key = strdup(mk);
				m->val = strdup(json_string_value(mv));
				f->nmeta++;
				if (!m->key || !m->val) {
					rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
					goto out;
				}
			}
			continue;
		}
		struct safetensors_tensor *t = &f->t[f->n];
		rc = parse_tensor(t, key, val, data, data_len, e);
		if (rc)
			goto out;
		t->name = strdup(key);
		if (!t->name) {
			rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
			goto out;
		}
		f->n++;
	}
	qsort(f->t, f->n, sizeof *f->t, cmp_offset);
	for (size_t i = 1; i < f->n; i++) {
		const char *prev_end = (const char *)f->t[i - 1].data + f->t[i - 1].nbytes;
		if ((const char *)f->t[i].data < prev_end) {
			rc = err_set(e, ERR_CORRUPT, "weights", "safetensors: tensors '%.80s' and '%.80s' overlap",
				     f->t[i - 1].name, f->t[i].name);
			goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

static int open_common(struct safetensors **out, void *map, size_t maplen, const void *buf, size_t len,
		       struct errinfo *e)
{
	*out = NULL;
	struct safetensors *f = calloc(1, sizeof *f);
	if (!f) {
		if (map)
			munmap(map, maplen);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	f->map = map;
	f->map_len = maplen;
	int rc = parse(f, buf, len, e);
	if (rc) {
		safetensors_close(f);
		return rc;
	}
	*out = f;
	return ERR_OK;
}

int safetensors_open_mem(struct safetensors **out, const void *buf, size_t len, struct errinfo *e)
{
	return open_common(out, NULL, 0, buf, len, e);
}

int safetensors_open(struct safetensors **out, const char *path, struct errinfo *e)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "weights", "cannot open %.200s: %s", path,
			       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "weights", "%.200s is not a regular file", path);
	}
	size_t len = (size_t)st.st_size;
	if (len < 8) {
		close(fd);
		return err_set(e, ERR_CORRUPT, "weights", "safetensors: %.200s is %zu bytes, too short", path, len);
	}
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return err_set(e, ERR_IO, "weights", "cannot map %.200s: %s", path, strerror(errno));
	return open_common(out, map, len, map, len, e);
}

void safetensors_close(struct safetensors *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free((char *)f->t[i].name);
	for (size_t i = 0; i < f->nmeta; i++) {
		free(f->meta[i].key);
		free(f->meta[i].val);
	}
	free(f->t);
	free(f->meta);
	if (f->map)
		munmap(f->map, f->map_len);
	free(f);
}

size_t safetensors_count(const struct safetensors *f)
{
	return f->n;
}

const struct safetensors_tensor *safetensors_at(const struct safetensors *f, size_t i)
{
	return i < f->n ? &f->t[i] : NULL;
}

const struct safetensors_tensor *safetensors_find(const struct safetensors *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->t[i].name, name) == 0)
			return &f->t[i];
	return NULL;
}

const char *safetensors_meta(const struct safetensors *f, const char *key)
{
	for (size_t i = 0; i < f->nmeta; i++)
		if (f->meta[i].key && strcmp(f->meta[i].key, key) == 0)
			return f->meta[i].val;
	return NULL;
}

static float half_to_f32(uint16_t h)
{
	uint32_t s = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, m = h & 0x3ff, u;
	if (ex == 0) {
		if (m == 0) {
			u = s;
		} else { /* subnormal: normalise */
			ex = 127 - 15 + 1;
			while (!(m & 0x400)) {
				m <<= 1;
				ex--;
			}
			u = s | (ex << 23) | ((m & 0x3ff) << 13);
		}
	} else if (ex == 31) {
		u = s | 0x7f800000u | (m << 13);
	} else {
		u = s | ((ex + 127 - 15) << 23) | (m << 13);
	}
	float f;
	memcpy(&f, &u, 4);
	return f;
}

void safetensors_to_f32(const struct safetensors_tensor *t, float *dst)
{
	const unsigned char *p = t->data;
	for (uint64_t i = 0; i < t->nelem; i++) {
		if (t->dtype == SAFETENSORS_F32) {
			uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
				     (uint32_t)p[4 * i + 3] << 24;
			memcpy(&dst[i], &u, 4);
		} else {
			uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
			if (t->dtype == SAFETENSORS_F16) {
				dst[i] = half_to_f32(h);
			} else {
				uint32_t u = (uint32_t)h << 16;
				memcpy(&dst[i], &u, 4);
			}
		}
	}
}
