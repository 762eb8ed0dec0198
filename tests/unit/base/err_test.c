/* err_test.c: every error code has a name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/err.h"

static void every_code_is_named(void **st)
{
	for (int c = 0; c > ERR__MIN; c--)
		assert_string_not_equal(err_str(c), "unknown");
	assert_string_equal(err_str(ERR__MIN), "unknown");
	assert_string_equal(err_str(5), "unknown");
}

static void err_set_fills(void **st)
{
	struct errinfo e;
	assert_int_equal(err_set(&e, ERR_INVALID, "name", "bad %d", 3), ERR_INVALID);
	assert_string_equal(e.msg, "bad 3");
	assert_string_equal(e.field, "name");
	assert_int_equal(err_set(NULL, ERR_IO, NULL, "x"), ERR_IO);
	err_clear(&e);
	assert_int_equal(e.code, ERR_OK);
	assert_string_equal(e.msg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_code_is_named),
		cmocka_unit_test(err_set_fills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
