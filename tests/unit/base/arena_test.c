/* arena_test.c: request-scoped memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/arena.h"

static void alloc_aligned_zeroed(void **st)
{
	struct arena *a = arena_new(0);
	for (int i = 1; i < 2000; i += 7) {
		unsigned char *p = arena_alloc(a, (size_t)i);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		for (int k = 0; k < i; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xab, (size_t)i);
	}
	void *big = arena_alloc(a, 100000); /* larger than a block */
	assert_non_null(big);
	assert_string_equal(arena_strdup(a, "hello"), "hello");
	assert_string_equal(arena_printf(a, "%d:%s", 7, "x"), "7:x");
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	arena_free(a);
	arena_free(NULL);
}

static void cap_is_enforced(void **st)
{
	struct arena *a = arena_new(20000);
	assert_non_null(arena_alloc(a, 8000));
	assert_null(arena_alloc(a, 50000));
	assert_null(arena_alloc(a, SIZE_MAX - 8));
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alloc_aligned_zeroed),
		cmocka_unit_test(cap_is_enforced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
