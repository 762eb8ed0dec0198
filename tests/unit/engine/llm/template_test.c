/* template_test.c: family detection and the exact text of each family;
 * generate.c's stop-string hold-back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/llm/generate.h"
#include "engine/llm/template.h"

static const struct tmpl_msg conv[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};

static void check(enum tmpl_family f, const char *want)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(tmpl_format(f, conv, 4, true, &b, NULL), 0);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void test_detect(void **state)
{
	assert_int_equal(tmpl_detect("{% for m in messages %}<|im_start|>{{ m.role }}"), TMPL_CHATML);
	assert_int_equal(tmpl_detect("{{ '<|start_header_id|>' + m.role + '<|end_header_id|>' }}"), TMPL_LLAMA3);
	assert_int_equal(tmpl_detect("{{ '<|user|>\\n' + m.content + eos_token }}"), TMPL_ZEPHYR);
	assert_int_equal(tmpl_detect("{{ bos_token + '[INST] ' + content + ' [/INST]' }}"), TMPL_LLAMA2);
	assert_int_equal(tmpl_detect(NULL), TMPL_CHATML);
	assert_int_equal(tmpl_detect("something else"), TMPL_CHATML);
}

static void test_formats(void **state)
{
	check(TMPL_CHATML, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
			   "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
	check(TMPL_LLAMA3, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
			   "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
			   "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
			   "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
			   "<|start_header_id|>assistant<|end_header_id|>\n\n");
	check(TMPL_ZEPHYR, "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello</s>\n<|user|>\nBye</s>\n<|assistant|>\n");
	check(TMPL_LLAMA2, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]");
}

static void test_bad_role(void **state)
{
	struct tmpl_msg bad = {"robot", "x"};
	struct buf b;
	buf_init(&b, 0);
	struct errinfo e;
	assert_int_equal(tmpl_format(TMPL_CHATML, &bad, 1, true, &b, &e), ERR_INVALID);
	assert_string_equal(e.field, "role");
	buf_free(&b);
}

static void test_stop_holdback(void **state)
{
	const char *stop[] = {"</end>", "\n\n"};
	assert_int_equal(llm_stop_holdback("hello </e", 9, stop, 2), 3);
	assert_int_equal(llm_stop_holdback("hello\n", 6, stop, 2), 1);
	assert_int_equal(llm_stop_holdback("hello", 5, stop, 2), 0);
	assert_int_equal(llm_stop_holdback("<", 1, stop, 2), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_bad_role),
		cmocka_unit_test(test_stop_holdback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
