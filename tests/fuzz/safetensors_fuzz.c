/*
 * safetensors_fuzz.c: libFuzzer target for the safetensors header parser.
 *
 * scripts/fuzz.sh builds it with what the next line names:
 * fuzz-link: src/engine/safetensors.c src/base/err.c -ljansson
 *
 * Or by hand:
 *   clang -std=c17 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/safetensors_fuzz.c src/engine/safetensors.c src/base/err.c \
 *     $(pkg-config --cflags --libs jansson) -o build-fuzz/safetensors_fuzz
 *   build-fuzz/safetensors_fuzz -max_total_time=15 build-fuzz/corpus tests/fuzz/corpus/safetensors
 *
 * Every accepted file must describe tensors that lie inside the buffer, do
 * not overlap, and whose sizes match shape x dtype; the target checks that
 * and reads every byte through safetensors_to_f32 so ASan sees any overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy so that reads past the input are caught exactly */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct safetensors *f = NULL;
	struct errinfo e;
	if (safetensors_open_mem(&f, buf, size, &e) == ERR_OK) {
		const char *prev_end = NULL;
		for (size_t i = 0; i < safetensors_count(f); i++) {
			const struct safetensors_tensor *t = safetensors_at(f, i);
			const char *p = t->data;
			if (p < (const char *)buf || p + t->nbytes > (const char *)buf + size)
				abort();
			if (t->nbytes != t->nelem * safetensors_dtype_size(t->dtype))
				abort();
			if (prev_end && p < prev_end)
				abort();
			prev_end = p + t->nbytes;
			if (safetensors_find(f, t->name) == NULL)
				abort();
			if (t->nelem <= (1u << 20)) {
				float *out = malloc(sizeof(float) * (t->nelem ? t->nelem : 1));
				if (out) {
					safetensors_to_f32(t, out);
					free(out);
				}
			}
		}
		(void)safetensors_meta(f, "atelier.arch");
		safetensors_close(f);
	}
	free(buf);
	return 0;
}
