/* gguf_test.c: the GGUF reader on files built byte by byte here: a valid one,
 * then every truncation and a set of corruptions, each refused with the
 * right code and no crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/gguf.h"

struct w {
	uint8_t b[4096];
	size_t n;
};
static void put(struct w *w, const void *p, size_t n) { memcpy(w->b + w->n, p, n); w->n += n; }
static void u32(struct w *w, uint32_t v) { put(w, &v, 4); }
static void u64(struct w *w, uint64_t v) { put(w, &v, 8); }
static void str(struct w *w, const char *s) { u64(w, strlen(s)); put(w, s, strlen(s)); }

/* Offsets worth corrupting in the file build() writes. */
static size_t off_ntensors, off_first_tensor_type, off_first_tensor_offset, off_str_len;

static void build(struct w *w)
{
	memset(w, 0, sizeof *w);
	put(w, "GGUF", 4);
	u32(w, 3);
	off_ntensors = w->n;
	u64(w, 2);
	u64(w, 5);
	str(w, "general.architecture"); u32(w, GGUF_STRING);
	off_str_len = w->n;
	str(w, "llama");
	str(w, "llama.block_count"); u32(w, GGUF_U32); u32(w, 22);
	str(w, "f"); u32(w, GGUF_F32); float f = 1.5f; put(w, &f, 4);
	str(w, "tokenizer.ggml.tokens"); u32(w, GGUF_ARRAY); u32(w, GGUF_STRING); u64(w, 3);
	str(w, "<s>"); str(w, ""); str(w, "hello");
	str(w, "scores"); u32(w, GGUF_ARRAY); u32(w, GGUF_F32); u64(w, 2); f = -1; put(w, &f, 4); f = 2; put(w, &f, 4);
	/* tensor a: F32 [8], tensor b: Q8_0 [32 x 2] */
	str(w, "a"); u32(w, 1); u64(w, 8);
	off_first_tensor_type = w->n;
	u32(w, 0);
	off_first_tensor_offset = w->n;
	u64(w, 0);
	str(w, "b"); u32(w, 2); u64(w, 32); u64(w, 2); u32(w, 8); u64(w, 32);
	while (w->n % 32) w->b[w->n++] = 0;
	for (int i = 0; i < 32 + 68; i++) w->b[w->n++] = (uint8_t)i;
}

static void test_valid(void **state)
{
	struct w w;
	build(&w);
	struct gguf *g;
	struct errinfo e;
	assert_int_equal(gguf_open_mem(&g, w.b, w.n, &e), 0);
	const char *s;
	assert_int_equal(gguf_get_str(g, "general.architecture", &s, &e), 0);
	assert_string_equal(s, "llama");
	uint32_t u;
	assert_int_equal(gguf_get_u32(g, "llama.block_count", &u, &e), 0);
	assert_int_equal(u, 22);
	float f;
	assert_int_equal(gguf_get_f32(g, "f", &f, &e), 0);
	assert_true(f == 1.5f);
	assert_int_equal(gguf_get_u32(g, "f", &u, &e), ERR_CORRUPT);
	assert_int_equal(gguf_get_u32(g, "missing", &u, &e), ERR_NOTFOUND);
	const void *arr;
	size_t n;
	assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &arr, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(((const char *const *)arr)[0], "<s>");
	assert_string_equal(((const char *const *)arr)[1], "");
	assert_string_equal(((const char *const *)arr)[2], "hello");
	assert_int_equal(gguf_get_arr(g, "scores", GGUF_F32, &arr, &n, &e), 0);
	assert_true(((const float *)arr)[1] == 2.0f);
	assert_int_equal(gguf_get_arr(g, "scores", GGUF_I32, &arr, &n, &e), ERR_CORRUPT);
	const struct tensor *t = gguf_find_tensor(g, "b");
	assert_non_null(t);
	assert_int_equal(t->type, 8);
	assert_int_equal(t->ne[1], 2);
	assert_int_equal(t->nbytes, 68);
	assert_int_equal(((const uint8_t *)t->data)[0], 32);
	assert_null(gguf_find_tensor(g, "c"));
	gguf_free(g);
	gguf_free(NULL);
}

static void test_every_truncation_fails_cleanly(void **state)
{
	struct w w;
	build(&w);
	for (size_t n = 0; n < w.n; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size so ASan sees overreads */
		memcpy(copy, w.b, n);
		struct gguf *g = NULL;
		struct errinfo e;
		int rc = gguf_open_mem(&g, copy, n, &e);
		if (rc != ERR_CORRUPT)
			fail_msg("truncation at %zu: rc %d", n, rc);
		assert_null(g);
		free(copy);
	}
}

static void expect(struct w *w, int code, const char *needle)
{
	struct gguf *g = NULL;
	struct errinfo e = {0};
	int rc = gguf_open_mem(&g, w->b, w->n, &e);
	if (rc != code || !strstr(e.msg, needle))
		fail_msg("rc %d msg '%s', wanted %d '%s'", rc, e.msg, code, needle);
	assert_null(g);
}

static void test_corruptions(void **state)
{
	struct w w;
	build(&w); w.b[0] = 'X';
	expect(&w, ERR_CORRUPT, "magic");
	build(&w); w.b[4] = 2;
	expect(&w, ERR_UNSUPPORTED, "version 2");
	build(&w); memset(w.b + off_ntensors, 0xff, 8);
	expect(&w, ERR_CORRUPT, "tensor count");
	build(&w); memset(w.b + off_str_len, 0x7f, 8);
	expect(&w, ERR_CORRUPT, "passes end of file");
	build(&w); w.b[off_first_tensor_type] = 99;
	expect(&w, ERR_UNSUPPORTED, "unknown type 99");
	build(&w); w.b[off_first_tensor_type] = 8; /* Q8_0 with 8 elements: not whole blocks */
	expect(&w, ERR_CORRUPT, "whole Q8_0 blocks");
	build(&w); w.b[off_first_tensor_offset] = 3;
	expect(&w, ERR_CORRUPT, "not aligned");
	build(&w); w.b[off_first_tensor_offset + 1] = 1; /* offset 256: past the data */
	expect(&w, ERR_CORRUPT, "passes end of file");
	build(&w); w.b[off_first_tensor_offset - 4 - 8 - 4 - 8 - 1 + 8] = 'b'; /* tensor "a" renamed "b" */
	expect(&w, ERR_CORRUPT, "duplicate tensor");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_every_truncation_fails_cleanly),
		cmocka_unit_test(test_corruptions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
