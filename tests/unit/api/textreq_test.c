/* textreq_test.c: request checks for /v1/chat/completions and /v1/completions,
 * each bad parameter named in `param`; costs rounded up. REQ: GEN-1 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/textreq.h"

static int parse(const char *json, bool chat, struct textreq *r, struct errinfo *e)
{
	json_t *b = json_loads(json, 0, NULL);
	assert_non_null(b);
	int rc = textreq_parse(b, chat, r, e);
	json_decref(b); /* r borrows from b: tests read only numbers after this */
	return rc;
}

static void good_chat(void **st)
{
	struct textreq r;
	struct errinfo e = {0};
	json_t *b = json_loads("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"hi\"}],"
			       "\"temperature\":0.5,\"top_p\":0.9,\"max_completion_tokens\":7,\"stop\":[\"a\",\"b\"],\"seed\":3,\"n\":2,"
			       "\"logprobs\":true,\"top_logprobs\":3,\"user\":\"u1\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}", 0, NULL);
	assert_int_equal(textreq_parse(b, true, &r, &e), 0);
	assert_int_equal(r.n_msgs, 2);
	assert_string_equal(r.msgs[1].role, "user");
	assert_true(r.temperature == 0.5);
	assert_int_equal(r.max_tokens, 7);
	assert_int_equal(r.n_stop, 2);
	assert_true(r.has_seed && r.seed == 3);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.top_logprobs, 3);
	assert_string_equal(r.user, "u1");
	assert_true(r.stream && r.include_usage);
	json_decref(b);
}

static void bad_params_name_the_field(void **st)
{
	static const struct { const char *body, *field; } cases[] = {
		{"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
		{"{\"model\":\"m\"}", "messages"},
		{"{\"model\":\"m\",\"messages\":[]}", "messages"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}", "messages"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"1\"}", "temperature"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":2.5}", "temperature"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":-1}", "top_p"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", "max_tokens"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}", "max_tokens"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":5}", "n"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"\"]}", "stop"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":3}", "stop"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":\"1\"}", "seed"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"presence_penalty\":3}", "presence_penalty"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"frequency_penalty\":-3}", "frequency_penalty"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}", "top_logprobs"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"user\":7}", "user"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}", "stream"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_usage\":true}}", "stream_options"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct textreq r;
		struct errinfo e = {0};
		int rc = parse(cases[i].body, true, &r, &e);
		if (rc != ERR_INVALID || strcmp(e.field, cases[i].field))
			fail_msg("case %zu (%s): rc %d field '%s'", i, cases[i].body, rc, e.field);
	}
}

static void completions_prompt(void **st)
{
	struct textreq r;
	struct errinfo e = {0};
	assert_int_equal(parse("{\"model\":\"m\",\"prompt\":\"\"}", false, &r, &e), ERR_INVALID);
	assert_string_equal(e.field, "prompt");
	assert_int_equal(parse("{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", false, &r, &e), ERR_INVALID);
	assert_int_equal(parse("{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":6}", false, &r, &e), ERR_INVALID);
	assert_string_equal(e.field, "logprobs");
	assert_int_equal(parse("{\"model\":\"m\",\"prompt\":\"a\",\"echo\":true}", false, &r, &e), ERR_UNSUPPORTED);
	assert_int_equal(parse("{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":2}", false, &r, &e), 0);
	assert_true(r.logprobs);
	assert_int_equal(r.top_logprobs, 2);
}

/* REQ: PAY-5 — worst case per 1K tokens, rounded up; a zero price costs 0 */
static void costs(void **st)
{
	assert_int_equal(textreq_cost(1, 1, 0, 0), 1);
	assert_int_equal(textreq_cost(1000, 1000, 1000, 2000), 3000);
	assert_int_equal(textreq_cost(1001, 1000, 0, 0), 1001);
	assert_int_equal(textreq_cost(1500, 1, 0, 0), 2);
	assert_int_equal(textreq_cost(100, 0, 100, 0), 0);
	assert_true(textreq_cost(INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_chat),
		cmocka_unit_test(bad_params_name_the_field),
		cmocka_unit_test(completions_prompt),
		cmocka_unit_test(costs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
