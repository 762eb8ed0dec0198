/* textgen_test.c: the continuous-batching scheduler on the real engine with
 * a random-weight model from tools/make_test_models.py: parallel sequences
 * share forward passes and give the same tokens as alone; the queue bound
 * answers ERR_BUSY; a caller that leaves frees its slot; a prompt cached by
 * one key is reused by that key only, gives the same tokens, and is
 * forgotten when its time is up. REQ: GEN-1 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/textgen.h"

static char model[256];

struct rec {
	char text[TEXTGEN_MAX_N][4096];
	size_t len[TEXTGEN_MAX_N];
	int done, ntext, gone_after;
	int hold; /* while set, the scheduler waits inside on_text */
	uint32_t n_gen[TEXTGEN_MAX_N], n_cached[TEXTGEN_MAX_N];
	enum llm_finish fin[TEXTGEN_MAX_N];
};

static int on_text(void *ud, int i, const char *t, size_t n, int32_t tok, float lp, const float *logits)
{
	struct rec *r = ud;
	if (r->len[i] + n < sizeof r->text[i]) {
		memcpy(r->text[i] + r->len[i], t, n);
		r->len[i] += n;
	}
	__atomic_add_fetch(&r->ntext, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&r->hold, __ATOMIC_SEQ_CST))
		usleep(1000);
	return 0;
}
static int on_gone(void *ud)
{
	struct rec *r = ud;
	return r->gone_after && r->ntext >= r->gone_after;
}
static void on_done(void *ud, int i, enum llm_finish f, uint32_t n_gen, uint32_t n_cached, int rc)
{
	struct rec *r = ud;
	r->fin[i] = f;
	r->n_gen[i] = n_gen;
	r->n_cached[i] = n_cached;
	__atomic_add_fetch(&r->done, 1, __ATOMIC_SEQ_CST);
}
static const struct textgen_cb cb = {on_text, on_gone, on_done};

static void wait_done(struct rec *r, int n)
{
	for (int i = 0; i < 20000 && __atomic_load_n(&r->done, __ATOMIC_SEQ_CST) < n; i++)
		usleep(1000);
	assert_int_equal(__atomic_load_n(&r->done, __ATOMIC_SEQ_CST), n);
}

static int setup(void **st)
{
	char dir[] = "/tmp/textgen-test-XXXXXX";
	if (!mkdtemp(dir))
		return -1;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/make_test_models.py %s llama_f32 >/dev/null", dir);
	if (system(cmd))
		return -1;
	snprintf(model, sizeof model, "%s/llama_f32.gguf", dir);
	return 0;
}

static void params(struct textgen_params *p, uint64_t seed, uint32_t max)
{
	memset(p, 0, sizeof *p);
	sampler_params_default(&p->sp);
	p->sp.seed = seed;
	p->sp.top_k = 0;
	p->sp.min_p = 0;
	p->max_tokens = max;
}

static void batched_equals_alone(void **st)
{
	struct textgen *g;
	struct errinfo e = {0};
	struct textgen_options o = {.path = model, .n_ctx = 128, .threads = 1, .n_slots = 4};
	assert_int_equal(textgen_open(&g, &o, &e), 0);
	int32_t *ids;
	size_t n;
	assert_int_equal(textgen_encode_text(g, "hello there", 11, &ids, &n, &e), 0);
	struct textgen_params p;
	params(&p, 9, 24);
	static struct rec alone, many[6];
	memset(&alone, 0, sizeof alone);
	assert_int_equal(textgen_submit(g, ids, n, 1, &p, &cb, &alone, &e), 0);
	wait_done(&alone, 1);
	/* six requests on four slots: two wait, then join as slots free */
	for (int i = 0; i < 6; i++) {
		memset(&many[i], 0, sizeof many[i]);
		assert_int_equal(textgen_submit(g, ids, n, 1, &p, &cb, &many[i], &e), 0);
	}
	for (int i = 0; i < 6; i++) {
		wait_done(&many[i], 1);
		assert_int_equal(many[i].n_gen[0], alone.n_gen[0]);
		assert_memory_equal(many[i].text[0], alone.text[0], alone.len[0]);
	}
	struct textgen_stats s;
	textgen_stats(g, &s);
	assert_true(s.max_batch >= 4); /* decode steps carried several sequences */
	free(ids);
	textgen_close(g);
}

static void queue_bound_and_cancel(void **st)
{
	struct textgen *g;
	struct errinfo e = {0};
	struct textgen_options o = {.path = model, .n_ctx = 128, .threads = 1, .n_slots = 1, .max_queue = 1};
	assert_int_equal(textgen_open(&g, &o, &e), 0);
	int32_t ids[3] = {1, 70, 71};
	struct textgen_params p;
	params(&p, 1, 100);
	static struct rec a, b, c;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&c, 0, sizeof c);
	/* a's first piece holds the scheduler inside its callback, so a is
	 * surely still generating while b queues and c is refused, whatever
	 * the machine's speed */
	a.hold = 1;
	p.max_tokens = 100;
	assert_int_equal(textgen_submit(g, ids, 3, 1, &p, &cb, &a, &e), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&a.ntext, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	if (!__atomic_load_n(&a.ntext, __ATOMIC_SEQ_CST))
		fail_msg("a produced no text (done=%d)", a.done);
	struct textgen_stats s = {0};
	textgen_stats(g, &s);
	assert_int_equal(s.active, 1);
	/* a holds the only slot; b waits; c finds the queue full */
	assert_int_equal(textgen_submit(g, ids, 3, 1, &p, &cb, &b, &e), 0);
	assert_int_equal(textgen_submit(g, ids, 3, 1, &p, &cb, &c, &e), ERR_BUSY);
	__atomic_store_n(&a.gone_after, 1, __ATOMIC_SEQ_CST); /* now a's caller leaves */
	__atomic_store_n(&a.hold, 0, __ATOMIC_SEQ_CST);
	wait_done(&a, 1);
	if (a.fin[0] != LLM_FINISH_CANCEL)
		fail_msg("a ended with %d after %u tokens", a.fin[0], a.n_gen[0]);
	assert_true(a.n_gen[0] < 100); /* stopped before max_tokens */
	wait_done(&b, 1); /* the slot a freed went to b */
	assert_int_equal(b.fin[0] == LLM_FINISH_LENGTH || b.fin[0] == LLM_FINISH_STOP, 1);
	/* a prompt that fills the context is refused */
	int32_t big[128] = {0};
	assert_int_equal(textgen_submit(g, big, 128, 1, &p, &cb, &c, &e), ERR_TOOBIG);
	textgen_close(g);
}

/* The test model's vocabulary is bytes: hot sampling draws the byte 0x00
 * among the others, and none of it reaches the text (the studio could not
 * save a reply with a NUL, and JSON parsers refuse \u0000). */
static void no_nul_in_text(void **st)
{
	struct textgen *g;
	struct errinfo e = {0};
	struct textgen_options o = {.path = model, .n_ctx = 512, .threads = 1, .n_slots = 4};
	assert_int_equal(textgen_open(&g, &o, &e), 0);
	int32_t ids[3] = {1, 70, 71};
	struct textgen_params p;
	static struct rec r[8];
	size_t total = 0;
	for (int i = 0; i < 8; i++) {
		params(&p, 100 + i, 400);
		p.sp.temperature = 50.0f; /* nearly uniform over the 259 tokens */
		memset(&r[i], 0, sizeof r[i]);
		assert_int_equal(textgen_submit(g, ids, 3, 1, &p, &cb, &r[i], &e), 0);
	}
	for (int i = 0; i < 8; i++) {
		wait_done(&r[i], 1);
		assert_null(memchr(r[i].text[0], 0, r[i].len[0]));
		total += r[i].n_gen[0];
	}
	assert_true(total > 1000); /* enough draws that 0x00 came up (p > 0.98) */
	textgen_close(g);
}

/* Submit ids with a cache key and wait; the record. */
static struct rec *run_one(struct textgen *g, const int32_t *ids, size_t n, const char *key, uint64_t seed)
{
	static struct rec rs[16];
	static int next;
	struct rec *r = &rs[next++ % 16];
	memset(r, 0, sizeof *r);
	struct textgen_params p;
	params(&p, seed, 20);
	snprintf(p.cache_key, sizeof p.cache_key, "%s", key);
	struct errinfo e = {0};
	assert_int_equal(textgen_submit(g, ids, n, 1, &p, &cb, r, &e), 0);
	wait_done(r, 1);
	return r;
}

static void assert_same_answer(const struct rec *a, const struct rec *b)
{
	assert_int_equal(a->n_gen[0], b->n_gen[0]);
	assert_int_equal(a->len[0], b->len[0]);
	assert_memory_equal(a->text[0], b->text[0], a->len[0]);
}

static void prompt_cache(void **st)
{
	struct textgen *g;
	struct errinfo e = {0};
	struct textgen_options o = {.path = model, .n_ctx = 256, .threads = 1, .n_slots = 4, .prefix_cache_s = 60};
	assert_int_equal(textgen_open(&g, &o, &e), 0);
	static const char text[] = "a prompt long enough to be worth keeping";
	int32_t *ids;
	size_t n;
	assert_int_equal(textgen_encode_text(g, text, sizeof text - 1, &ids, &n, &e), 0);
	assert_true(n > 20);
	struct rec *first = run_one(g, ids, n, "alice", 5);
	assert_int_equal(first->n_cached[0], 0);
	/* the same prompt, same key: all but the last token from the cache,
	 * the same tokens as computing it all */
	struct rec *again = run_one(g, ids, n, "alice", 5);
	assert_int_equal(again->n_cached[0], n - 1);
	assert_same_answer(first, again);
	/* a longer prompt that starts with the cached one */
	int32_t longer[256];
	assert_true(n + 8 <= sizeof longer / sizeof *longer);
	memcpy(longer, ids, n * sizeof *ids);
	for (size_t i = 0; i < 8; i++)
		longer[n + i] = 65 + (int32_t)i;
	struct rec *ext = run_one(g, longer, n + 8, "alice", 6);
	assert_true(ext->n_cached[0] >= n);
	assert_true(ext->n_cached[0] < n + 8);
	/* another key, or none, never reuses alice's: computed whole, and the
	 * same answers */
	struct rec *bob = run_one(g, longer, n + 8, "bob", 6);
	assert_int_equal(bob->n_cached[0], 0);
	assert_same_answer(ext, bob);
	struct rec *anon = run_one(g, ids, n, "", 5);
	assert_int_equal(anon->n_cached[0], 0);
	assert_same_answer(first, anon);
	struct textgen_stats s;
	textgen_stats(g, &s);
	assert_int_equal(s.cached_tokens, again->n_cached[0] + ext->n_cached[0]);
	/* forgetting a key (an erasure): bob's gone, alice's kept */
	textgen_forget(g, "bob");
	assert_int_equal(run_one(g, longer, n + 8, "bob", 6)->n_cached[0], 0);
	assert_true(run_one(g, longer, n + 8, "alice", 6)->n_cached[0] >= n);
	textgen_close(g);

	/* kept for prefix_cache_s only */
	o.prefix_cache_s = 1;
	assert_int_equal(textgen_open(&g, &o, &e), 0);
	run_one(g, ids, n, "alice", 5);
	assert_int_equal(run_one(g, ids, n, "alice", 5)->n_cached[0], n - 1);
	usleep(1300 * 1000);
	assert_int_equal(run_one(g, ids, n, "alice", 5)->n_cached[0], 0);
	textgen_close(g);

	/* off: nothing kept */
	o.prefix_cache_s = 0;
	assert_int_equal(textgen_open(&g, &o, &e), 0);
	run_one(g, ids, n, "alice", 5);
	assert_int_equal(run_one(g, ids, n, "alice", 5)->n_cached[0], 0);
	textgen_close(g);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batched_equals_alone),
		cmocka_unit_test(queue_bound_and_cancel),
		cmocka_unit_test(no_nul_in_text),
		cmocka_unit_test(prompt_cache),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
