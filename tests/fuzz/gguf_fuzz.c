/* gguf_fuzz.c: libFuzzer target for the GGUF reader (gguf_open_mem and every
 * accessor over what it returns). Build and run with scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/gguf.h"
#include "engine/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf *g = NULL;
	struct errinfo e;
	if (gguf_open_mem(&g, data, size, &e))
		return 0;
	char buf[128];
	for (size_t i = 0; i < gguf_kv_count(g); i++) {
		const char *key = gguf_kv_key(g, i);
		gguf_kv_describe(g, i, buf, sizeof buf);
		uint32_t u;
		int64_t v;
		float f;
		bool b;
		const char *s;
		const void *arr;
		size_t n;
		gguf_get_u32(g, key, &u, &e);
		gguf_get_i64(g, key, &v, &e);
		gguf_get_f32(g, key, &f, &e);
		gguf_get_bool(g, key, &b, &e);
		if (!gguf_get_str(g, key, &s, &e))
			(void)s[0];
		enum gguf_vtype et;
		if (gguf_kv_arr_info(g, i, &et, &n) && !gguf_get_arr(g, key, et, &arr, &n, &e) && n) {
			if (et == GGUF_STRING)
				(void)((const char *const *)arr)[n - 1][0];
			else
				(void)((const uint8_t *)arr)[0];
		}
	}
	/* Dequantize the first row of each tensor: proves the bounds hold. */
	float row[256 * 4];
	for (size_t i = 0; i < gguf_tensor_count(g); i++) {
		const struct tensor *t = gguf_tensor_at(g, i);
		if (gguf_find_tensor(g, t->name) != t)
			abort();
		if (t->ne[0] <= sizeof row / sizeof row[0] && t->nbytes)
			tensor_dequant_row(t->type, t->data, row, t->ne[0]);
	}
	gguf_free(g);
	return 0;
}
