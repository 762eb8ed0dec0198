/*
 * tokenizer_test.c: the tokenizer on small hand-made vocabularies whose right
 * answers can be worked out on paper; the comparison with real Llama 2 and
 * Llama 3 vocabularies is tests/ref/tokenizer.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/llm/tokenizer.h"

/* ------------------------------------------------------------ vocabularies */

/* GPT-2's byte-to-unicode table, written out independently of tokenizer.c. */
static void byte_char(unsigned b, char out[3])
{
	static int table[256];
	static int ready;
	if (!ready) {
		int n = 0;
		for (int x = 0; x < 256; x++) {
			bool keep = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
			table[x] = keep ? x : 256 + n++;
		}
		ready = 1;
	}
	int cp = table[b];
	if (cp < 0x80) {
		out[0] = (char)cp;
		out[1] = 0;
	} else {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		out[2] = 0;
	}
}

struct fixture {
	char *strs[512];
	const char *tokens[512];
	int32_t types[512];
	float scores[512];
	const char *merges[64];
	size_t n, nm;
	struct tokenizer *t;
};

static int32_t add(struct fixture *f, const char *s, int32_t type, float score)
{
	f->strs[f->n] = strdup(s);
	f->tokens[f->n] = f->strs[f->n];
	f->types[f->n] = type;
	f->scores[f->n] = score;
	return (int32_t)f->n++;
}

static void fixture_free(struct fixture *f)
{
	tok_free(f->t);
	for (size_t i = 0; i < f->n; i++)
		free(f->strs[i]);
	free(f);
}

/* Byte-level BPE: 256 byte tokens, then the merged tokens, then specials. */
enum { B_HELLO = 256 + 3, B_WORLD = 256 + 8, B_AA = 256 + 9, B_AAAA = 256 + 10, B_IM_START, B_IM_END, B_USER };

static struct fixture *bpe_fixture(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char c[3];
	for (unsigned b = 0; b < 256; b++) {
		byte_char(b, c);
		add(f, c, TOK_TYPE_NORMAL, 0);
	}
	static const char *const merges[] = {"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l",
		"Ġworl d", "a a", "aa aa"};
	/* merged tokens in order: he ll hell hello Ġw or Ġwor Ġworl Ġworld aa aaaa */
	static const char *const made[] = {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "Ġworl", "Ġworld",
		"aa", "aaaa"};
	for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
		add(f, made[i], TOK_TYPE_NORMAL, 0);
	for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++)
		f->merges[f->nm++] = merges[i];
	add(f, "<|im_start|>", TOK_TYPE_CONTROL, 0);
	add(f, "<|im_end|>", TOK_TYPE_CONTROL, 0);
	add(f, "<|user|>", TOK_TYPE_USER, 0);
	struct tok_vocab v = {.model = "gpt2", .pre = "gpt-2", .n_tokens = f->n, .tokens = f->tokens,
		.types = f->types, .n_merges = f->nm, .merges = f->merges, .bos = B_IM_START, .eos = B_IM_END,
		.unk = -1, .pad = -1, .add_bos = false};
	struct errinfo e = {0};
	assert_int_equal(tok_new(&f->t, &v, &e), 0);
	return f;
}

/* SentencePiece: <unk> <s> </s>, 256 byte pieces, then scored pieces. */
enum { S_UNK, S_BOS, S_EOS, S_BYTE0 };

static struct fixture *spm_fixture(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	add(f, "<unk>", TOK_TYPE_UNKNOWN, 0);
	add(f, "<s>", TOK_TYPE_CONTROL, 0);
	add(f, "</s>", TOK_TYPE_CONTROL, 0);
	for (unsigned b = 0; b < 256; b++) {
		char s[8];
		snprintf(s, sizeof s, "<0x%02X>", b);
		add(f, s, TOK_TYPE_BYTE, 0);
	}
	static const struct {
		const char *s;
		float score;
	} pieces[] = {
		{"ll", -1}, {"▁h", -2}, {"▁he", -3}, {"▁hell", -4}, {"▁hello", -5}, {"▁w", -6}, {"or", -7},
		{"▁wor", -8}, {"ld", -9}, {"▁world", -10}, {"he", -20}, {"▁▁", -30},
		{"▁", -100}, {"h", -100}, {"e", -100}, {"l", -100}, {"o", -100}, {"w", -100}, {"r", -100},
		{"d", -100}, {"a", -100}, {"aa", -50}, {"日", -100},
	};
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
		add(f, pieces[i].s, TOK_TYPE_NORMAL, pieces[i].score);
	struct tok_vocab v = {.model = "llama", .n_tokens = f->n, .tokens = f->tokens, .types = f->types,
		.scores = f->scores, .bos = S_BOS, .eos = S_EOS, .unk = S_UNK, .pad = -1, .add_bos = true};
	struct errinfo e = {0};
	assert_int_equal(tok_new(&f->t, &v, &e), 0);
	return f;
}

static int32_t id_of(const struct fixture *f, const char *s)
{
	int32_t id = tok_lookup(f->t, s);
	assert_true(id >= 0);
	return id;
}

static void encode(const struct fixture *f, const char *s, size_t len, bool bos, bool special, int32_t *ids,
	size_t cap, size_t *n)
{
	assert_int_equal(tok_encode(f->t, s, len, bos, special, ids, cap, n), 0);
}

/* decode ids one at a time through a stream; caller frees */
static char *decode(const struct fixture *f, const int32_t *ids, size_t n, size_t *len)
{
	struct tok_stream st = {0};
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tok_decode_piece(f->t, &st, ids[i], &b), 0);
	*len = b.len;
	if (!b.data)
		return strdup("");
	return buf_steal(&b);
}

/* ------------------------------------------------------------ byte-level BPE */

static void test_bpe_merges(void **state)
{
	struct fixture *f = bpe_fixture();
	int32_t ids[16];
	size_t n;
	encode(f, "hello world", 11, true, false, ids, 16, &n);
	/* vocabulary add_bos is false: no BOS even though the caller asked */
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], id_of(f, "hello"));
	assert_int_equal(ids[1], id_of(f, "Ġworld"));
	assert_int_equal(ids[0], B_HELLO);
	assert_int_equal(ids[1], B_WORLD);
	fixture_free(f);
}

static void test_bpe_rank_order(void **state)
{
	struct fixture *f = bpe_fixture();
	int32_t ids[16];
	size_t n;
	/* equal ranks merge left to right: aaa -> aa a */
	encode(f, "aaa", 3, false, false, ids, 16, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], B_AA);
	assert_int_equal(ids[1], 'a');
	/* aaaaa -> aa aa a -> aaaa a */
	encode(f, "aaaaa", 5, false, false, ids, 16, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], B_AAAA);
	assert_int_equal(ids[1], 'a');
	/* the pre-tokenizer splits "hello,world" into hello , world (no space: no Ġworld) */
	encode(f, "hello,world", 11, false, false, ids, 16, &n);
	assert_int_equal(ids[0], B_HELLO);
	assert_int_equal(ids[1], ',');
	assert_true(n > 3);
	fixture_free(f);
}

static void check_roundtrip(const struct fixture *f, const char *s, size_t len, const char *prefix)
{
	size_t cap = 4 * len + 8, n, dl;
	int32_t *ids = malloc(cap * sizeof(*ids));
	encode(f, s, len, true, false, ids, cap, &n);
	char *d = decode(f, ids, n, &dl);
	size_t pl = strlen(prefix);
	assert_int_equal(dl, len + (len ? pl : 0));
	if (len) {
		assert_memory_equal(d, prefix, pl);
		assert_memory_equal(d + pl, s, len);
	}
	free(d);
	free(ids);
}

static const char *const samples[] = {
	"hello world",
	"",
	" ",
	"  two leading, trailing  ",
	"tabs\tand\nnewlines\n\n\r\n",
	"caf\xC3\xA9 na\xC3\xAFve \xCE\xA9",
	"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
	"emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
	"numbers 1234567 3.14 -0x1F",
	"<|not special|> <s> text",
	"It's we're I'M",
};

static void test_bpe_roundtrip(void **state)
{
	struct fixture *f = bpe_fixture();
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
		check_roundtrip(f, samples[i], strlen(samples[i]), "");
	check_roundtrip(f, "a\0b", 3, ""); /* NUL is valid UTF-8 */
	fixture_free(f);
}

static void test_bpe_special(void **state)
{
	struct fixture *f = bpe_fixture();
	int32_t ids[64];
	size_t n;
	const char *s = "<|im_start|>hello<|im_end|>";
	encode(f, s, strlen(s), false, true, ids, 64, &n);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], B_IM_START);
	assert_int_equal(ids[1], B_HELLO);
	assert_int_equal(ids[2], B_IM_END);
	/* without parse_special, control tokens are just text */
	encode(f, s, strlen(s), false, false, ids, 64, &n);
	assert_true(n > 3);
	for (size_t i = 0; i < n; i++)
		assert_true(ids[i] != B_IM_START && ids[i] != B_IM_END);
	/* user-defined tokens are always recognised */
	encode(f, "a<|user|>a", 10, false, false, ids, 64, &n);
	assert_int_equal(n, 3);
	assert_int_equal(ids[1], B_USER);
	/* control tokens decode to nothing, user-defined ones to their text */
	struct tok_stream st = {0};
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(tok_decode_piece(f->t, &st, B_IM_START, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(tok_decode_piece(f->t, &st, B_USER, &b), 0);
	assert_string_equal(b.data, "<|user|>");
	buf_free(&b);
	fixture_free(f);
}

/* ------------------------------------------------------------ SentencePiece */

static void test_spm_merges_and_prefix(void **state)
{
	struct fixture *f = spm_fixture();
	int32_t ids[16];
	size_t n;
	encode(f, "hello world", 11, true, false, ids, 16, &n);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], S_BOS);
	assert_int_equal(ids[1], id_of(f, "▁hello"));
	assert_int_equal(ids[2], id_of(f, "▁world"));
	/* no BOS when the caller does not ask */
	encode(f, "hello", 5, false, false, ids, 16, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id_of(f, "▁hello"));
	/* "▁▁hello": ▁h (-2) outranks ▁▁ (-30), so the first ▁ stays alone */
	encode(f, " hello", 6, false, false, ids, 16, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], id_of(f, "▁"));
	assert_int_equal(ids[1], id_of(f, "▁hello"));
	/* "▁▁": nothing better competes */
	encode(f, " ", 1, false, false, ids, 16, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id_of(f, "▁▁"));
	fixture_free(f);
}

static void test_spm_byte_fallback(void **state)
{
	struct fixture *f = spm_fixture();
	int32_t ids[16];
	size_t n;
	encode(f, "h\xC3\xA9", 3, false, false, ids, 16, &n); /* é is not a piece */
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], id_of(f, "▁h"));
	assert_int_equal(ids[1], S_BYTE0 + 0xC3);
	assert_int_equal(ids[2], S_BYTE0 + 0xA9);
	/* a character that is a piece is not split into bytes */
	encode(f, "\xE6\x97\xA5", 3, false, false, ids, 16, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[1], id_of(f, "日"));
	fixture_free(f);
}

static void test_spm_roundtrip(void **state)
{
	struct fixture *f = spm_fixture();
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
		check_roundtrip(f, samples[i], strlen(samples[i]), " ");
	fixture_free(f);
}

/* ------------------------------------------------------------ contract */

static void test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\xFF", "a\x80", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
		"\xF5\x80\x80\x80", "\xE2\x82", "abc\xF0\x9F\x98",
	};
	struct fixture *fs[2] = {bpe_fixture(), spm_fixture()};
	int32_t ids[16];
	size_t n = 99;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			assert_int_equal(tok_encode(fs[k]->t, bad[i], strlen(bad[i]), false, false, ids, 16, &n),
				ERR_INVALID);
			assert_int_equal(n, 0);
		}
	fixture_free(fs[0]);
	fixture_free(fs[1]);
}

static void test_caps(void **state)
{
	struct fixture *f = bpe_fixture();
	int32_t ids[4];
	size_t n;
	/* "a b c d e" needs 9 ids: a, then Ġ and a letter for each " x" (no such merges) */
	assert_int_equal(tok_encode(f->t, "a b c d e", 9, false, false, ids, 4, &n), ERR_TOOBIG);
	assert_int_equal(n, 4);
	assert_int_equal(tok_encode(f->t, "hello", 5, false, false, ids, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tok_encode(f->t, "hello", 5, false, false, ids, 0, &n), ERR_TOOBIG);
	/* text over TOK_MAX_TEXT is refused before it is read */
	char *big = malloc(TOK_MAX_TEXT + 1);
	memset(big, 'a', TOK_MAX_TEXT + 1);
	assert_int_equal(tok_encode(f->t, big, TOK_MAX_TEXT + 1, false, false, ids, 4, &n), ERR_TOOBIG);
	free(big);
	/* a capped output buffer makes decode fail cleanly */
	struct tok_stream st = {0};
	struct buf b;
	buf_init(&b, 3);
	assert_int_equal(tok_decode_piece(f->t, &st, B_HELLO, &b), ERR_TOOBIG);
	buf_free(&b);
	fixture_free(f);
}

/* Long runs must stay near-linear: a quadratic merge loop would take minutes here. */
static void test_long_inputs(void **state)
{
	struct fixture *fs[2] = {bpe_fixture(), spm_fixture()};
	size_t len = (size_t)1 << 20;
	char *s = malloc(len);
	for (int k = 0; k < 2; k++) {
		memset(s, 'a', len);
		check_roundtrip(fs[k], s, len, k ? " " : "");
		memset(s, ' ', len);
		check_roundtrip(fs[k], s, len, k ? " " : "");
		for (size_t i = 0; i < len; i++)
			s[i] = "ab \n1"[i % 5];
		check_roundtrip(fs[k], s, len, k ? " " : "");
	}
	/* aaaa... merges to aaaa tokens: 2^20 / 4 of them */
	int32_t *ids = malloc(len * sizeof(*ids));
	size_t n;
	memset(s, 'a', len);
	encode(fs[0], s, len, false, false, ids, len, &n);
	assert_int_equal(n, len / 4);
	free(ids);
	free(s);
	fixture_free(fs[0]);
	fixture_free(fs[1]);
}

static void test_stream_holds_partial_utf8(void **state)
{
	struct fixture *f = spm_fixture();
	struct tok_stream st = {0};
	struct buf b;
	buf_init(&b, 0);
	/* € = E2 82 AC in three byte tokens: nothing until the last */
	assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + 0xE2, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + 0x82, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + 0xAC, &b), 0);
	assert_string_equal(b.data, "\xE2\x82\xAC");
	/* a 4-byte emoji */
	buf_reset(&b);
	const unsigned char smile[] = {0xF0, 0x9F, 0x98, 0x80};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(b.len, 0);
		assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + smile[i], &b), 0);
	}
	assert_string_equal(b.data, "\xF0\x9F\x98\x80");
	/* a byte that can never start a character becomes U+FFFD */
	buf_reset(&b);
	assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + 0xFF, &b), 0);
	assert_string_equal(b.data, "\xEF\xBF\xBD");
	/* a held lead followed by text: U+FFFD, then the text */
	buf_reset(&b);
	assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + 0xE2, &b), 0);
	assert_int_equal(tok_decode_piece(f->t, &st, id_of(f, "▁hello"), &b), 0);
	assert_string_equal(b.data, "\xEF\xBF\xBD hello");
	/* E0 must be followed by A0..BF: E0 80 is refused at once */
	buf_reset(&b);
	assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + 0xE0, &b), 0);
	assert_int_equal(tok_decode_piece(f->t, &st, S_BYTE0 + 0x80, &b), 0);
	assert_string_equal(b.data, "\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_int_equal(st.npending, 0);
	/* ids out of range */
	assert_int_equal(tok_decode_piece(f->t, &st, -1, &b), ERR_INVALID);
	assert_int_equal(tok_decode_piece(f->t, &st, (int32_t)tok_count(f->t), &b), ERR_INVALID);
	buf_free(&b);
	fixture_free(f);
}

static void test_bpe_stream_splits_multibyte(void **state)
{
	/* byte-level tokens split 😀 across four ids; the stream emits it once whole */
	struct fixture *f = bpe_fixture();
	int32_t ids[8];
	size_t n;
	encode(f, "\xF0\x9F\x98\x80", 4, false, false, ids, 8, &n);
	assert_int_equal(n, 4);
	struct tok_stream st = {0};
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(b.len, 0);
		assert_int_equal(tok_decode_piece(f->t, &st, ids[i], &b), 0);
	}
	assert_string_equal(b.data, "\xF0\x9F\x98\x80");
	buf_free(&b);
	fixture_free(f);
}

static void test_new_errors(void **state)
{
	const char *toks[] = {"a", "b"};
	struct tokenizer *t = (struct tokenizer *)1;
	struct errinfo e = {0};
	struct tok_vocab v = {.model = "bert", .n_tokens = 2, .tokens = toks, .bos = -1, .eos = -1, .unk = -1, .pad = -1};
	assert_int_equal(tok_new(&t, &v, &e), ERR_UNSUPPORTED);
	assert_null(t);
	v.model = "gpt2"; /* byte-level BPE without merges */
	assert_int_equal(tok_new(&t, &v, &e), ERR_CORRUPT);
	v.model = "llama";
	v.bos = 5; /* out of range */
	assert_int_equal(tok_new(&t, &v, &e), ERR_CORRUPT);
	v.bos = -1;
	assert_int_equal(tok_new(&t, &v, &e), 0);
	assert_int_equal(tok_count(t), 2);
	assert_int_equal(tok_lookup(t, "b"), 1);
	assert_int_equal(tok_lookup(t, "c"), -1);
	tok_free(t);
	tok_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bpe_merges),
		cmocka_unit_test(test_bpe_rank_order),
		cmocka_unit_test(test_bpe_roundtrip),
		cmocka_unit_test(test_bpe_special),
		cmocka_unit_test(test_spm_merges_and_prefix),
		cmocka_unit_test(test_spm_byte_fallback),
		cmocka_unit_test(test_spm_roundtrip),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_long_inputs),
		cmocka_unit_test(test_stream_holds_partial_utf8),
		cmocka_unit_test(test_bpe_stream_splits_multibyte),
		cmocka_unit_test(test_new_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
