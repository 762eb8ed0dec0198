/* buf_test.c: the capped growable buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"

static void append_grows_and_terminates(void **st)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_append(&b, "abc", 3), ERR_OK);
	assert_int_equal(b.len, 3000);
	assert_int_equal(b.data[3000], '\0');
	assert_memory_equal(b.data + 2997, "abc", 3);
	buf_free(&b);
}

static void cap_refuses_and_keeps_contents(void **st)
{
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "12345678"), ERR_OK);
	assert_int_equal(buf_puts(&b, "abc"), ERR_TOOBIG);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_puts(&b, "ab"), ERR_OK);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_append(&b, "x", 1), ERR_TOOBIG);
	/* an absurd size must not wrap around the cap check */
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 3), ERR_TOOBIG);
	buf_free(&b);
}

static void printf_and_json_escape(void **st)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), ERR_OK);
	assert_int_equal(buf_json_escape(&b, "q\"b\\n\n\x01"), ERR_OK);
	assert_string_equal(b.data, "42-xq\\\"b\\\\n\\n\\u0001");
	buf_free(&b);
}

static void extend_and_steal(void **st)
{
	struct buf b;
	buf_init(&b, 16);
	char *p;
	assert_int_equal(buf_extend(&b, 4, &p), ERR_OK);
	memcpy(p, "wxyz", 4);
	assert_int_equal(buf_extend(&b, 13, &p), ERR_TOOBIG);
	char *s = buf_steal(&b);
	assert_string_equal(s, "wxyz");
	assert_null(b.data);
	free(s);
	buf_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_grows_and_terminates),
		cmocka_unit_test(cap_refuses_and_keeps_contents),
		cmocka_unit_test(printf_and_json_escape),
		cmocka_unit_test(extend_and_steal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
