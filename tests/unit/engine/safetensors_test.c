/* safetensors_test.c: header validation of the safetensors reader, one bad
 * header per test, each expected to fail with its own code and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "engine/safetensors.h"

static unsigned char file[4096];

/* Build header json + data_len bytes of data (byte i = i & 0xff) into file; returns the length. */
static size_t make(const char *json, size_t data_len)
{
	size_t n = strlen(json);
	for (int i = 0; i < 8; i++)
		file[i] = (unsigned char)((uint64_t)n >> (8 * i));
	memcpy(file + 8, json, n);
	for (size_t i = 0; i < data_len; i++)
		file[8 + n + i] = (unsigned char)i;
	return 8 + n + data_len;
}

static int open_json(const char *json, size_t data_len, struct errinfo *e, struct safetensors **f)
{
	size_t len = make(json, data_len);
	return safetensors_open_mem(f, file, len, e);
}

static void expect(const char *json, size_t data_len, int code, const char *msg_part)
{
	struct errinfo e;
	struct safetensors *f = (void *)1;
	err_clear(&e);
	int rc = open_json(json, data_len, &e, &f);
	if (rc != code || !strstr(e.msg, msg_part))
		fail_msg("header %s: got %s '%s', want %s containing '%s'", json, err_str(rc), e.msg, err_str(code), msg_part);
	assert_null(f);
}

static void valid_file_reads_tensors_and_metadata(void **st)
{
	(void)st;
	struct errinfo e;
	struct safetensors *f;
	/* a: F32 [2,2] = 16 bytes; b: F16 [3] = 6 bytes; c: BF16 [1]; empty: F32 [0] */
	static const unsigned char a_bytes[16] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0xc0};
	static const unsigned char b_bytes[6] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}; /* 1, -2, smallest subnormal */
	static const unsigned char c_bytes[2] = {0xc0, 0x3f};                         /* 1.5 */
	const char *js = "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
			 "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
			 "\"c\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[22,24]},"
			 "\"empty\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[24,24]}}";
	size_t len = make(js, 24);
	size_t d = len - 24;
	memcpy(file + d, a_bytes, 16);
	memcpy(file + d + 16, b_bytes, 6);
	memcpy(file + d + 22, c_bytes, 2);
	assert_int_equal(safetensors_open_mem(&f, file, len, &e), ERR_OK);
	assert_int_equal(safetensors_count(f), 4);
	assert_string_equal(safetensors_meta(f, "k"), "v");
	assert_null(safetensors_meta(f, "nope"));
	const struct safetensors_tensor *t = safetensors_find(f, "a");
	assert_non_null(t);
	assert_int_equal(t->ndim, 2);
	assert_int_equal(t->nelem, 4);
	float out[4];
	safetensors_to_f32(t, out);
	assert_true(out[0] == 1.0f && out[1] == 2.0f && out[2] == 3.0f && out[3] == -4.0f);
	safetensors_to_f32(safetensors_find(f, "b"), out);
	assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0x1p-24f);
	safetensors_to_f32(safetensors_find(f, "c"), out);
	assert_true(out[0] == 1.5f);
	assert_null(safetensors_find(f, "missing"));
	safetensors_close(f);
	safetensors_close(NULL);
}

static void truncated_files_are_corrupt(void **st)
{
	(void)st;
	struct errinfo e;
	struct safetensors *f;
	size_t len = make("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16);
	for (size_t cut = 0; cut < len; cut++) {
		int rc = safetensors_open_mem(&f, file, cut, &e);
		if (rc != ERR_CORRUPT)
			fail_msg("file cut to %zu of %zu bytes: got %s", cut, len, err_str(rc));
	}
	assert_int_equal(safetensors_open_mem(&f, file, len, &e), ERR_OK);
	safetensors_close(f);
}

static void header_length_past_end(void **st)
{
	(void)st;
	struct errinfo e;
	struct safetensors *f;
	size_t len = make("{}", 0);
	file[7] = 0xff; /* 2^63-ish */
	assert_int_equal(safetensors_open_mem(&f, file, len, &e), ERR_CORRUPT);
	assert_non_null(strstr(e.msg, "runs past the end"));
}

static void overlapping_tensors(void **st)
{
	(void)st;
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
	       16, ERR_CORRUPT, "overlap");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
	       16, ERR_CORRUPT, "overlap");
}

static void bad_dtypes(void **st)
{
	(void)st;
	expect("{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4, ERR_UNSUPPORTED, "I8");
	expect("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, ERR_UNSUPPORTED, "F64");
	expect("{\"a\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, ERR_CORRUPT, "unknown dtype");
	expect("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ERR_CORRUPT, "no dtype");
}

static void offsets_past_end_or_wrong_size(void **st)
{
	(void)st;
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, ERR_CORRUPT, "outside");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,4]}}", 16, ERR_CORRUPT, "outside");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-4,12]}}", 16, ERR_CORRUPT, "outside");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, ERR_CORRUPT, "need 12");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16, ERR_CORRUPT, "data_offsets");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1.5]}}", 16, ERR_CORRUPT, "data_offsets");
}

static void bad_shapes(void **st)
{
	(void)st;
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, ERR_CORRUPT, "dim 0");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, ERR_CORRUPT,
	       "at most 8");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", 4, ERR_CORRUPT,
	       "overflows");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4, ERR_CORRUPT,
	       "need");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":\"4\",\"data_offsets\":[0,4]}}", 4, ERR_CORRUPT, "shape");
}

static void bad_json(void **st)
{
	(void)st;
	expect("{\"a\":", 0, ERR_CORRUPT, "header JSON");
	expect("[1,2]", 0, ERR_CORRUPT, "not a JSON object");
	expect("{\"a\":3}", 0, ERR_CORRUPT, "not an object");
	expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
	       8, ERR_CORRUPT, "header JSON");
	expect("{\"__metadata__\":{\"k\":3}}", 0, ERR_CORRUPT, "metadata");
	expect("{\"__metadata__\":[]}", 0, ERR_CORRUPT, "__metadata__");
}

static void open_missing_and_real_file(void **st)
{
	(void)st;
	struct errinfo e;
	struct safetensors *f;
	assert_int_equal(safetensors_open(&f, "/nonexistent/x.safetensors", &e), ERR_NOTFOUND);
	char path[] = "/tmp/st_testXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = make("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
	assert_int_equal(write(fd, file, len), (ssize_t)len);
	close(fd);
	assert_int_equal(safetensors_open(&f, path, &e), ERR_OK);
	assert_int_equal(safetensors_at(f, 0)->nelem, 2);
	assert_null(safetensors_at(f, 1));
	safetensors_close(f);
	truncate(path, 3);
	assert_int_equal(safetensors_open(&f, path, &e), ERR_CORRUPT);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_file_reads_tensors_and_metadata),
		cmocka_unit_test(truncated_files_are_corrupt),
		cmocka_unit_test(header_length_past_end),
		cmocka_unit_test(overlapping_tensors),
		cmocka_unit_test(bad_dtypes),
		cmocka_unit_test(offsets_past_end_or_wrong_size),
		cmocka_unit_test(bad_shapes),
		cmocka_unit_test(bad_json),
		cmocka_unit_test(open_missing_and_real_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
