/* sampler_test.c: greedy, seeds, truncation and penalties. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/llm/sampler.h"

#define V 100
static float logits[V];

static void setup_logits(void)
{
	for (int i = 0; i < V; i++)
		logits[i] = (float)((i * 37) % V) / 10.0f; /* max at i where i*37%100 == 99: i = 27 */
}

static void test_greedy_and_logprob(void **state)
{
	setup_logits();
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 0;
	struct sampler *s;
	assert_int_equal(sampler_new(&s, &p, V, NULL), 0);
	float lp;
	assert_int_equal(sampler_sample(s, logits, &lp), 27);
	double sum = 0;
	for (int i = 0; i < V; i++)
		sum += exp(logits[i] - 9.9);
	assert_true(fabs(lp - (float)(-log(sum))) < 1e-4);
	sampler_free(s);
}

static void test_seed_reproducible(void **state)
{
	setup_logits();
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 2.0f;
	p.top_k = 0;
	p.top_p = 1;
	p.min_p = 0;
	p.seed = 42;
	struct sampler *a, *b, *c;
	assert_int_equal(sampler_new(&a, &p, V, NULL), 0);
	assert_int_equal(sampler_new(&b, &p, V, NULL), 0);
	p.seed = 43;
	assert_int_equal(sampler_new(&c, &p, V, NULL), 0);
	int differ = 0, distinct[V] = {0}, nd = 0;
	for (int i = 0; i < 200; i++) {
		int32_t x = sampler_sample(a, logits, NULL), y = sampler_sample(b, logits, NULL);
		assert_int_equal(x, y);
		differ += x != sampler_sample(c, logits, NULL);
		if (!distinct[x]++)
			nd++;
	}
	assert_true(differ > 10); /* another seed gives other tokens */
	assert_true(nd > 5);      /* and sampling does sample */
	sampler_free(a);
	sampler_free(b);
	sampler_free(c);
}

static void test_top_k_and_min_p_truncate(void **state)
{
	setup_logits();
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 5.0f; /* nearly flat: truncation decides */
	p.top_k = 3;
	p.top_p = 1;
	p.min_p = 0;
	struct sampler *s;
	assert_int_equal(sampler_new(&s, &p, V, NULL), 0);
	for (int i = 0; i < 300; i++) {
		int32_t t = sampler_sample(s, logits, NULL);
		assert_true(logits[t] >= 9.7f - 1e-6f); /* the top 3 are 9.9, 9.8, 9.7 */
	}
	sampler_free(s);
	p.top_k = 0;
	p.temperature = 1.0f;
	p.min_p = 0.5f; /* keeps logits within ln 2 of the best */
	assert_int_equal(sampler_new(&s, &p, V, NULL), 0);
	for (int i = 0; i < 300; i++)
		assert_true(logits[sampler_sample(s, logits, NULL)] >= 9.9f - 0.6931f);
	sampler_free(s);
}

static void test_penalties(void **state)
{
	float l[4] = {1.0f, 0.9f, 0.0f, -1.0f};
	struct sampler_params p;
	sampler_params_default(&p);
	p.temperature = 0;
	p.presence_penalty = 0.5f;
	struct sampler *s;
	assert_int_equal(sampler_new(&s, &p, 4, NULL), 0);
	assert_int_equal(sampler_sample(s, l, NULL), 0);
	sampler_accept(s, 0);
	assert_int_equal(sampler_sample(s, l, NULL), 1); /* 1.0 - 0.5 < 0.9 */
	sampler_free(s);
	p.presence_penalty = 0;
	p.repeat_penalty = 1.2f; /* 1.0 / 1.2 < 0.9 */
	assert_int_equal(sampler_new(&s, &p, 4, NULL), 0);
	sampler_accept(s, 0);
	assert_int_equal(sampler_sample(s, l, NULL), 1);
	sampler_free(s);
}

static void test_bad_params(void **state)
{
	struct sampler_params p;
	sampler_params_default(&p);
	p.top_p = 0;
	struct sampler *s = NULL;
	struct errinfo e;
	assert_int_equal(sampler_new(&s, &p, 10, &e), ERR_INVALID);
	assert_string_equal(e.field, "top_p");
	assert_null(s);
	sampler_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy_and_logprob),
		cmocka_unit_test(test_seed_reproducible),
		cmocka_unit_test(test_top_k_and_min_p_truncate),
		cmocka_unit_test(test_penalties),
		cmocka_unit_test(test_bad_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
