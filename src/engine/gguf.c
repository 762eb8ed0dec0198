/*
 * gguf.c: GGUF v3 parsing with every read bounds-checked.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv; then
 * n_kv key/values (string key, u32 type, value; arrays are u32 element type,
 * u64 count, elements); then n_tensors infos (string name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset); then padding to general.alignment
 * (default 32) and the data section, where each tensor starts at its offset.
 *
 * A cursor walks the header; every read first checks the bytes remaining, so
 * lengths and counts from the file are never trusted before they are proved to
 * fit. Keys and tensor names are kept sorted in an index, which both finds
 * duplicates (refused) and serves lookups by binary search.
 */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct kv {
	char *key;
	uint32_t type;
	union {
		uint64_t u;
		int64_t i;
		double f;
	} num;
	char *str;      /* GGUF_STRING */
	uint32_t etype; /* GGUF_ARRAY */
	size_t n;
	void *arr; /* numeric: n elements; string: char *[n] followed by the bytes */
};

struct gguf {
	const uint8_t *base;
	size_t size;
	bool mapped;
	uint32_t align;
	size_t nkv;
	struct kv *kv;
	size_t *kv_sorted;
	size_t nt;
	struct tensor *t;
	size_t *t_sorted;
};

struct cur {
	const uint8_t *p;
	size_t pos, size;
	struct errinfo *e;
};

static const uint8_t vsize[GGUF__MAX] = {
	[GGUF_U8] = 1, [GGUF_I8] = 1, [GGUF_U16] = 2, [GGUF_I16] = 2, [GGUF_U32] = 4, [GGUF_I32] = 4,
	[GGUF_F32] = 4, [GGUF_BOOL] = 1, [GGUF_U64] = 8, [GGUF_I64] = 8, [GGUF_F64] = 8,
};

static const char *const vnames[GGUF__MAX] = {
	"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

const char *gguf_vtype_name(enum gguf_vtype t)
{
	return (unsigned)t < GGUF__MAX ? vnames[t] : "?";
}

static int need(struct cur *c, size_t n, const char *what)
{
	if (n > c->size - c->pos)
		return err_set(c->e, ERR_CORRUPT, NULL, "GGUF truncated: %s needs %zu bytes at offset %zu, %zu left",
			       what, n, c->pos, c->size - c->pos);
	return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int rd_u32(struct cur *c, uint32_t *v, const char *what)
{
	int rc = need(c, 4, what);
	if (rc)
		return rc;
	*v = (uint32_t)le(c->p + c->pos, 4);
	c->pos += 4;
	return 0;
}

static int rd_u64(struct cur *c, uint64_t *v, const char *what)
{
	int rc = need(c, 8, what);
	if (rc)
		return rc;
	*v = le(c->p + c->pos, 8);
	c->pos += 8;
	return 0;
}

/* A string: pointer into the image and its length, checked to fit. */
static int rd_str(struct cur *c, const char **s, size_t *n, const char *what)
{
	uint64_t len;
	int rc = rd_u64(c, &len, what);
	if (rc)
		return rc;
	if (len > c->size - c->pos)
		return err_set(c->e, ERR_CORRUPT, NULL, "GGUF corrupt: %s length %llu at offset %zu passes end of file",
			       what, (unsigned long long)len, c->pos - 8);
	*s = (const char *)c->p + c->pos;
	*n = (size_t)len;
	c->pos += (size_t)len;
	return 0;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static int rd_value(struct cur *c, struct kv *kv)
{
	int rc;
	if (kv->type == GGUF_STRING) {
		const char *s;
		size_t n;
		if ((rc = rd_str(c, &s, &n, "string value")))
			return rc;
		kv->str = dupn(s, n);
		return kv->str ? 0 : err_set(c->e, ERR_NOMEM, NULL, "out of memory reading GGUF");
	}
	if (kv->type == GGUF_ARRAY) {
		uint64_t n;
		if ((rc = rd_u32(c, &kv->etype, "array type")) || (rc = rd_u64(c, &n, "array length")))
			return rc;
		if (kv->etype == GGUF_ARRAY)
			return err_set(c->e, ERR_UNSUPPORTED, NULL, "GGUF key '%s': nested arrays are not supported",
				       kv->key);
		if (kv->etype >= GGUF__MAX)
			return err_set(c->e, ERR_CORRUPT, NULL, "GGUF key '%s': unknown array element type %u", kv->key,
				       kv->etype);
		size_t left = c->size - c->pos;
		size_t minsz = kv->etype == GGUF_STRING ? 8 : vsize[kv->etype];
		if (n > left / minsz)
			return err_set(c->e, ERR_CORRUPT, NULL,
				       "GGUF key '%s': array of %llu elements passes end of file", kv->key,
				       (unsigned long long)n);
		kv->n = (size_t)n;
		if (kv->etype == GGUF_STRING) {
			/* First pass: total bytes, every length checked. */
			size_t save = c->pos, total = 0;
			for (size_t i = 0; i < kv->n; i++) {
				const char *s;
				size_t sl;
				if ((rc = rd_str(c, &s, &sl, "array string")))
					return rc;
				total += sl + 1;
			}
			c->pos = save;
			char **ptrs = malloc(kv->n * sizeof(char *) + total + 1);
			if (!ptrs)
				return err_set(c->e, ERR_NOMEM, NULL, "out of memory reading GGUF");
			kv->arr = ptrs;
			char *dst = (char *)(ptrs + kv->n);
			for (size_t i = 0; i < kv->n; i++) {
				const char *s;
				size_t sl;
				(void)rd_str(c, &s, &sl, "array string"); /* proved to fit above */
				memcpy(dst, s, sl);
				dst[sl] = 0;
				ptrs[i] = dst;
				dst += sl + 1;
			}
			return 0;
		}
		size_t bytes = kv->n * vsize[kv->etype];
		kv->arr = malloc(bytes ? bytes : 1);
		if (!kv->arr)
			return err_set(c->e, ERR_NOMEM, NULL, "out of memory reading GGUF");
		memcpy(kv->arr, c->p + c->pos, bytes); /* host is little-endian (x86-64, arm64) */
		c->pos += bytes;
		return 0;
	}
	if (kv->type >= GGUF__MAX)
		return err_set(c->e, ERR_CORRUPT, NULL, "GGUF key '%s': unknown value type %u", kv->key, kv->type);
	int sz = vsize[kv->type];
	if ((rc = need(c, (size_t)sz, "value")))
		return rc;
	uint64_t raw = le(c->p + c->pos, sz);
	c->pos += (size_t)sz;
	switch (kv->type) {
	case GGUF_I8: kv->num.i = (int8_t)raw; break;
	case GGUF_I16: kv->num.i = (int16_t)raw; break;
	case GGUF_I32: kv->num.i = (int32_t)raw; break;
	case GGUF_I64: kv->num.i = (int64_t)raw; break;
	case GGUF_F32: {
		uint32_t r32 = (uint32_t)raw;
		float f;
		memcpy(&f, &r32, 4);
		kv->num.f = f;
		break;
	}
	case GGUF_F64: memcpy(&kv->num.f, &raw, 8); break;
	default: kv->num.u = raw; break;
	}
	return 0;
}

/* qsort_r (glibc) rather than a static context, so opens may run concurrently. */
static int cmp_kv(const void *a, const void *b, void *ctx)
{
	const struct gguf *g = ctx;
	return strcmp(g->kv[*(const size_t *)a].key, g->kv[*(const size_t *)b].key);
}
static int cmp_t(const void *a, const void *b, void *ctx)
{
	const struct gguf *g = ctx;
	return strcmp(g->t[*(const size_t *)a].name, g->t[*(const size_t *)b].name);
}

static int parse(struct gguf *g, struct errinfo *e)
{
	struct cur c = {g->base, 0, g->size, e};
	int rc;
	uint32_t version;
	uint64_t nt, nkv;
	if (g->size < 4 || memcmp(g->base, "GGUF", 4))
		return err_set(e, ERR_CORRUPT, NULL, "not a GGUF file (bad magic)");
	c.pos = 4;
	if ((rc = rd_u32(&c, &version, "version")))
		return rc;
	if (version != 3)
		return err_set(e, ERR_UNSUPPORTED, NULL, "GGUF version %u is not supported (only 3)", version);
	if ((rc = rd_u64(&c, &nt, "tensor count")) || (rc = rd_u64(&c, &nkv, "metadata count")))
		return rc;
	if (nkv > GGUF_MAX_KV || nkv > (g->size - c.pos) / 12)
		return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: metadata count %llu is impossible",
			       (unsigned long long)nkv);
	if (nt > GGUF_MAX_TENSORS || nt > (g->size - c.pos) / 24)
		return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: tensor count %llu is impossible",
			       (unsigned long long)nt);
	g->kv = calloc(nkv ? nkv : 1, sizeof *g->kv);
	g->kv_sorted = calloc(nkv ? nkv : 1, sizeof(size_t));
	g->t = calloc(nt ? nt : 1, sizeof *g->t);
	g->t_sorted = calloc(nt ? nt : 1, sizeof(size_t));
	if (!g->kv || !g->kv_sorted || !g->t || !g->t_sorted)
		return err_set(e, ERR_NOMEM, NULL, "out of memory reading GGUF");

	for (size_t i = 0; i < nkv; i++) {
		struct kv *kv = &g->kv[i];
		const char *s;
		size_t n;
		if ((rc = rd_str(&c, &s, &n, "metadata key")))
			return rc;
		if (n == 0 || n > GGUF_MAX_NAME)
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: metadata key %zu has length %zu", i, n);
		if (!(kv->key = dupn(s, n)))
			return err_set(e, ERR_NOMEM, NULL, "out of memory reading GGUF");
		g->nkv = i + 1;
		if ((rc = rd_u32(&c, &kv->type, "value type")) || (rc = rd_value(&c, kv)))
			return rc;
	}
	for (size_t i = 0; i < g->nkv; i++)
		g->kv_sorted[i] = i;
	qsort_r(g->kv_sorted, g->nkv, sizeof(size_t), cmp_kv, g);
	for (size_t i = 1; i < g->nkv; i++)
		if (!strcmp(g->kv[g->kv_sorted[i]].key, g->kv[g->kv_sorted[i - 1]].key))
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: duplicate metadata key '%s'",
				       g->kv[g->kv_sorted[i]].key);

	g->align = 32;
	long ai = gguf_find_key(g, "general.alignment");
	if (ai >= 0) {
		const struct kv *kv = &g->kv[ai];
		if (kv->type != GGUF_U32 || kv->num.u == 0 || kv->num.u > (1u << 24) ||
		    (kv->num.u & (kv->num.u - 1)))
			return err_set(e, ERR_CORRUPT, NULL,
				       "GGUF corrupt: general.alignment must be a u32 power of two");
		g->align = (uint32_t)kv->num.u;
	}

	for (size_t i = 0; i < nt; i++) {
		struct tensor *t = &g->t[i];
		const char *s;
		size_t n;
		if ((rc = rd_str(&c, &s, &n, "tensor name")))
			return rc;
		if (n == 0 || n > GGUF_MAX_NAME)
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: tensor %zu has name length %zu", i, n);
		if (!(t->name = dupn(s, n)))
			return err_set(e, ERR_NOMEM, NULL, "out of memory reading GGUF");
		g->nt = i + 1;
		if ((rc = rd_u32(&c, &t->n_dims, "tensor dims")))
			return rc;
		if (t->n_dims < 1 || t->n_dims > TENSOR_MAX_DIMS)
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: tensor '%s' has %u dimensions", t->name,
				       t->n_dims);
		uint64_t nel = 1;
		for (uint32_t d = 0; d < TENSOR_MAX_DIMS; d++) {
			t->ne[d] = 1;
			if (d < t->n_dims && (rc = rd_u64(&c, &t->ne[d], "tensor shape")))
				return rc;
			if (t->ne[d] == 0 || t->ne[d] > (UINT64_C(1) << 40) || nel > (UINT64_C(1) << 50) / t->ne[d])
				return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: tensor '%s' has a bad shape",
					       t->name);
			nel *= t->ne[d];
		}
		uint64_t off;
		if ((rc = rd_u32(&c, &t->type, "tensor type")) || (rc = rd_u64(&c, &off, "tensor offset")))
			return rc;
		t->offset = off;
		size_t rowb;
		if (!tensor_type_name(t->type))
			return err_set(e, ERR_UNSUPPORTED, NULL, "GGUF tensor '%s' has unknown type %u", t->name,
				       t->type);
		if (!tensor_row_bytes(t->type, t->ne[0], &rowb))
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: tensor '%s' row of %llu is not whole %s blocks",
				       t->name, (unsigned long long)t->ne[0], tensor_type_name(t->type));
		uint64_t rows = nel / t->ne[0];
		if (rowb && rows > SIZE_MAX / rowb)
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: tensor '%s' is too large", t->name);
		t->nbytes = (size_t)(rows * rowb);
		if (off % g->align)
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: tensor '%s' offset %llu is not aligned to %u",
				       t->name, (unsigned long long)off, g->align);
	}
	for (size_t i = 0; i < g->nt; i++)
		g->t_sorted[i] = i;
	qsort_r(g->t_sorted, g->nt, sizeof(size_t), cmp_t, g);
	for (size_t i = 1; i < g->nt; i++)
		if (!strcmp(g->t[g->t_sorted[i]].name, g->t[g->t_sorted[i - 1]].name))
			return err_set(e, ERR_CORRUPT, NULL, "GGUF corrupt: duplicate tensor '%s'",
				       g->t[g->t_sorted[i]].name);

	size_t data = c.pos + (g->align - c.pos % g->align) % g->align;
	if (data > g->size) {
		if (g->nt)
			return err_set(e, ERR_CORRUPT, NULL, "GGUF truncated: no data section");
		data = g->size;
	}
	size_t dsize = g->size - data;
	for (size_t i = 0; i < g->nt; i++) {
		struct tensor *t = &g->t[i];
		if (t->offset > dsize || t->nbytes > dsize - t->offset)
			return err_set(e, ERR_CORRUPT, NULL,
				       "GGUF truncated: tensor '%s' (%zu bytes at %llu) passes end of file", t->name,
				       t->nbytes, (unsigned long long)t->offset);
		t->data = g->base + data + t->offset;
	}
	return 0;
}

int gguf_open_mem(struct gguf **out, const void *data, size_t size, struct errinfo *e)
{
	*out = NULL;
	struct gguf *g = calloc(1, sizeof *g);
	if (!g)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	g->base = data;
	g->size = size;
	int rc = parse(g, e);
	if (rc) {
		gguf_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

int gguf_open(struct gguf **out, const char *path, struct errinfo *e)
{
	*out = NULL;
	int rc = 0;
	struct gguf *g = NULL;
	void *map = MAP_FAILED;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = err_set(e, ERR_IO, NULL, "cannot open model file: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = err_set(e, ERR_IO, NULL, "model file is not a regular file");
		goto out;
	}
	if (st.st_size < 24) {
		rc = err_set(e, ERR_CORRUPT, NULL, "not a GGUF file (%lld bytes)", (long long)st.st_size);
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = err_set(e, ERR_IO, NULL, "cannot map model file: %s", strerror(errno));
		goto out;
	}
	if (!(g = calloc(1, sizeof *g))) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	g->base = map;
	g->size = (size_t)st.st_size;
	g->mapped = true;
	map = MAP_FAILED;
	if ((rc = parse(g, e)))
		goto out;
	*out = g;
	g = NULL;
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	gguf_free(g);
	if (fd >= 0)
		close(fd);
	return rc;
}

void gguf_free(struct gguf *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nkv; i++) {
		free(g->kv[i].key);
		free(g->kv[i].str);
		free(g->kv[i].arr);
	}
	for (size_t i = 0; i < g->nt; i++)
		free((char *)g->t[i].name);
	free(g->kv);
	free(g->kv_sorted);
	free(g->t);
	free(g->t_sorted);
	if (g->mapped)
		munmap((void *)g->base, g->size);
	free(g);
}

size_t gguf_kv_count(const struct gguf *g) { return g->nkv; }
const char *gguf_kv_key(const struct gguf *g, size_t i) { return i < g->nkv ? g->kv[i].key : NULL; }
enum gguf_vtype gguf_kv_type(const struct gguf *g, size_t i) { return i < g->nkv ? g->kv[i].type : GGUF__MAX; }
size_t gguf_tensor_count(const struct gguf *g) { return g->nt; }
const struct tensor *gguf_tensor_at(const struct gguf *g, size_t i) { return i < g->nt ? &g->t[i] : NULL; }
uint32_t gguf_alignment(const struct gguf *g) { return g->align; }
size_t gguf_file_size(const struct gguf *g) { return g->size; }

long gguf_find_key(const struct gguf *g, const char *key)
{
	size_t lo = 0, hi = g->nkv;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->kv[g->kv_sorted[mid]].key, key);
		if (c == 0)
			return (long)g->kv_sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct tensor *gguf_find_tensor(const struct gguf *g, const char *name)
{
	size_t lo = 0, hi = g->nt;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->t[g->t_sorted[mid]].name, name);
		if (c == 0)
			return &g->t[g->t_sorted[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int lookup(const struct gguf *g, const char *key, const struct kv **kv, struct errinfo *e)
{
	long i = gguf_find_key(g, key);
	if (i < 0)
		return err_set(e, ERR_NOTFOUND, NULL, "GGUF metadata '%s' is missing", key);
	*kv = &g->kv[i];
	return 0;
}

static bool is_signed(uint32_t t) { return t == GGUF_I8 || t == GGUF_I16 || t == GGUF_I32 || t == GGUF_I64; }
static bool is_unsigned(uint32_t t) { return t == GGUF_U8 || t == GGUF_U16 || t == GGUF_U32 || t == GGUF_U64; }

int gguf_get_i64(const struct gguf *g, const char *key, int64_t *out, struct errinfo *e)
{
	const struct kv *kv = NULL;
	int rc = lookup(g, key, &kv, e);
	if (rc)
		return rc;
	if (is_signed(kv->type)) {
		*out = kv->num.i;
		return 0;
	}
	if (is_unsigned(kv->type) && kv->num.u <= INT64_MAX) {
		*out = (int64_t)kv->num.u;
		return 0;
	}
	return err_set(e, ERR_CORRUPT, NULL, "GGUF metadata '%s' is not an integer (%s)", key,
		       gguf_vtype_name(kv->type));
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out, struct errinfo *e)
{
	int64_t v;
	int rc = gguf_get_i64(g, key, &v, e);
	if (rc)
		return rc;
	if (v < 0 || v > UINT32_MAX)
		return err_set(e, ERR_CORRUPT, NULL, "GGUF metadata '%s' = %lld is out of range", key, (long long)v);
	*out = (uint32_t)v;
	return 0;
}

int gguf_get_f32(const struct gguf *g, const char *key, float *out, struct errinfo *e)
{
	const struct kv *kv = NULL;
	int rc = lookup(g, key, &kv, e);
	if (rc)
		return rc;
	if (kv->type != GGUF_F32 && kv->type != GGUF_F64)
		return err_set(e, ERR_CORRUPT, NULL, "GGUF metadata '%s' is not a float (%s)", key,
			       gguf_vtype_name(kv->type));
	*out = (float)kv->num.f;
	return 0;
}

int gguf_get_bool(const struct gguf *g, const char *key, bool *out, struct errinfo *e)
{
	const struct kv *kv = NULL;
	int rc = lookup(g, key, &kv, e);
	if (rc)
		return rc;
	if (kv->type != GGUF_BOOL)
		return err_set(e, ERR_CORRUPT, NULL, "GGUF metadata '%s' is not a bool (%s)", key,
			       gguf_vtype_name(kv->type));
	*out = kv->num.u != 0;
	return 0;
}

int gguf_get_str(const struct gguf *g, const char *key, const char **out, struct errinfo *e)
{
	const struct kv *kv = NULL;
	int rc = lookup(g, key, &kv, e);
	if (rc)
		return rc;
	if (kv->type != GGUF_STRING)
		return err_set(e, ERR_CORRUPT, NULL, "GGUF metadata '%s' is not a string (%s)", key,
			       gguf_vtype_name(kv->type));
	*out = kv->str;
	return 0;
}

int gguf_get_arr(const struct gguf *g, const char *key, enum gguf_vtype etype, const void **data, size_t *n,
		 struct errinfo *e)
{
	const struct kv *kv = NULL;
	int rc = lookup(g, key, &kv, e);
	if (rc)
		return rc;
	if (kv->type != GGUF_ARRAY || kv->etype != etype)
		return err_set(e, ERR_CORRUPT, NULL, "GGUF metadata '%s' is not an array of %s", key,
			       gguf_vtype_name(etype));
	*data = kv->arr;
	*n = kv->n;
	return 0;
}

bool gguf_kv_arr_info(const struct gguf *g, size_t i, enum gguf_vtype *etype, size_t *n)
{
	if (i >= g->nkv || g->kv[i].type != GGUF_ARRAY)
		return false;
	*etype = g->kv[i].etype;
	*n = g->kv[i].n;
	return true;
}

void gguf_kv_describe(const struct gguf *g, size_t i, char *out, size_t cap)
{
	if (!cap)
		return;
	out[0] = 0;
	if (i >= g->nkv)
		return;
	const struct kv *kv = &g->kv[i];
	switch (kv->type) {
	case GGUF_STRING: {
		/* Printable ASCII only, truncated: metadata is not trusted text. */
		size_t o = 0, max = cap > 4 ? cap - 4 : 0;
		if (o < max)
			out[o++] = '"';
		for (const char *s = kv->str; *s && o + 1 < max; s++)
			out[o++] = (*s >= 32 && *s < 127) ? *s : '?';
		if (kv->str[0] && o + 1 >= max && cap > 4) {
			out[o++] = '.';
			out[o++] = '.';
		}
		if (o + 1 < cap)
			out[o++] = '"';
		out[o] = 0;
		break;
	}
	case GGUF_ARRAY:
		snprintf(out, cap, "[%s x %zu]", gguf_vtype_name(kv->etype), kv->n);
		break;
	case GGUF_F32:
	case GGUF_F64:
		snprintf(out, cap, "%g", kv->num.f);
		break;
	case GGUF_BOOL:
		snprintf(out, cap, "%s", kv->num.u ? "true" : "false");
		break;
	default:
		if (is_signed(kv->type))
			snprintf(out, cap, "%lld", (long long)kv->num.i);
		else
			snprintf(out, cap, "%llu", (unsigned long long)kv->num.u);
	}
}
