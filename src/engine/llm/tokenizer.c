/*
 * tokenizer.c: SentencePiece-style and byte-level BPE tokenizers (see tokenizer.h).
 *
 * Both schemes are the same loop underneath: start from small symbols (UTF-8
 * characters for SentencePiece, bytes for byte-level BPE), and repeatedly
 * merge the best adjacent pair, "best" being the highest score of the merged
 * piece (SentencePiece) or the lowest merge rank (BPE), leftmost on ties. A
 * heap of candidate pairs with lazy invalidation makes that O(n log n); the
 * naive rescan of all pairs after each merge is O(n^2) and a long run of one
 * character would stall a worker.
 *
 * Lookups are open-addressing hash tables built once in tok_new: vocabulary
 * string -> id, and (left id, right id) -> (rank, merged id) for BPE merges,
 * so byte-level BPE never builds strings while encoding.
 *
 * Pre-tokenizer regexes are facts about each model family (the patterns its
 * tokenizer.json declares), compiled with PCRE2 in UTF + UCP mode so \p{L},
 * \p{N} and \s follow Unicode as the Python and Rust originals do.
 */
#include "engine/llm/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* GPT-2 (r50k); also "default" and unknown pre names. The last `\s+` catches
 * whitespace before a non-space that `\s+(?!\S)` leaves. */
static const char RE_GPT2[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* Llama 3. The original writes (?i:'s|'t|...); the explicit classes avoid
 * PCRE2's Unicode case folding, which would let "'ſ" (long s) match "'s". */
static const char RE_LLAMA3[] =
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
	"|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* Qwen2: as Llama 3 but digits one at a time. */
static const char RE_QWEN2[] =
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
	"|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* SmolLM, StarCoder: digits isolated first, then GPT-2 on each piece. */
static const char RE_DIGIT[] = "\\p{N}";

#define MAX_RE 2

enum kind { KIND_SPM, KIND_BPE };

struct span {
	uint32_t off, len;
};

struct merge_slot {
	uint64_t key; /* (left id << 32 | right id) + 1; 0 marks an empty slot */
	int32_t rank, id;
};

struct tokenizer {
	enum kind kind;
	size_t n;
	char *text;          /* all vocabulary strings, NUL-separated */
	struct span *str;    /* [n] vocabulary string of each token */
	char *bytes;         /* what decoding each token emits */
	struct span *dec;    /* [n] */
	float *scores;       /* [n] */
	unsigned char *type; /* [n] enum tok_type */
	int32_t bos, eos, unk, pad;
	bool add_bos;
	bool ignore_merges; /* Llama 3: a pre-token that is itself a token is kept whole */
	int32_t *tab;       /* vocabulary string -> id, -1 empty; tab_mask + 1 slots */
	size_t tab_mask;
	struct merge_slot *mtab; /* BPE merges; mtab_mask + 1 slots */
	size_t mtab_mask;
	int32_t byte_tok[256]; /* the token for each byte alone (BPE) or <0xNN> (SPM); -1 if none */
	pcre2_code *re[MAX_RE];
	int nre;
	int32_t *special; /* special tokens by first byte, then longest first */
	size_t nspecial;
	uint32_t sp_first[257]; /* special[sp_first[b] .. sp_first[b+1]) start with byte b */
};

/* ------------------------------------------------------------------ helpers */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a: short keys, no attacker-chosen vocabulary */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static size_t table_size(size_t n)
{
	size_t s = 16;
	while (s < n * 2)
		s <<= 1;
	return s;
}

static int32_t lookup(const struct tokenizer *t, const char *s, size_t n)
{
	for (size_t i = hash_bytes(s, n) & t->tab_mask;; i = (i + 1) & t->tab_mask) {
		int32_t id = t->tab[i];
		if (id < 0)
			return -1;
		if (t->str[id].len == n && memcmp(t->text + t->str[id].off, s, n) == 0)
			return id;
	}
}

static const struct merge_slot *merge_find(const struct tokenizer *t, int32_t a, int32_t b)
{
	if (!t->mtab)
		return NULL;
	uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
	for (size_t i = hash_u64(key) & t->mtab_mask;; i = (i + 1) & t->mtab_mask) {
		if (t->mtab[i].key == 0)
			return NULL;
		if (t->mtab[i].key == key)
			return &t->mtab[i];
	}
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static bool utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* GPT-2's byte <-> unicode map: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes map to U+0100.. in byte order. Built once per process. */
static uint16_t b2u[256];
static int16_t u2b[0x100 + 68];

static void byte_map_init(void)
{
	uint32_t k = 0;
	for (unsigned b = 0; b < 256; b++) {
		bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
		b2u[b] = (uint16_t)(keep ? b : 256 + k++);
	}
	for (unsigned c = 0; c < sizeof u2b / sizeof u2b[0]; c++)
		u2b[c] = -1;
	for (unsigned b = 0; b < 256; b++)
		u2b[b2u[b]] = (int16_t)b;
}

static uint32_t byte_to_cp(unsigned b)
{
	return b2u[b];
}

static size_t put_cp(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	o[0] = (char)(0xC0 | (cp >> 6));
	o[1] = (char)(0x80 | (cp & 0x3F));
	return 2; /* the map never goes past U+07FF */
}

static uint32_t get_cp(const unsigned char *s, size_t len, size_t *k)
{
	*k = len;
	if (len == 1)
		return s[0];
	if (len == 2)
		return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	if (len == 3)
		return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
	return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
	       ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

static int parse_byte_piece(const char *s)
{
	/* "<0xNN>" with two upper- or lower-case hex digits */
	if (strlen(s) != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>')
		return -1;
	int v = 0;
	for (int i = 3; i < 5; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			return -1;
	}
	return v;
}

static bool is_special(unsigned char type)
{
	return type == TOK_TYPE_CONTROL || type == TOK_TYPE_UNKNOWN || type == TOK_TYPE_USER;
}

/* ------------------------------------------------------------------ construction */

void tok_free(struct tokenizer *t)
{
	if (!t)
		return;
	free(t->text);
	free(t->str);
	free(t->bytes);
	free(t->dec);
	free(t->scores);
	free(t->type);
	free(t->tab);
	free(t->mtab);
	for (int i = 0; i < t->nre; i++)
		pcre2_code_free(t->re[i]);
	free(t->special);
	free(t);
}

static int add_regex(struct tokenizer *t, const char *pat, struct errinfo *e)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
	if (!re)
		return err_set(e, ERR_INTERNAL, NULL, "pre-tokenizer regex does not compile (error %d at %zu)", ec,
			(size_t)eo);
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: the interpreter is the fallback */
	t->re[t->nre++] = re;
	return 0;
}

static int set_pre(struct tokenizer *t, const char *pre, struct errinfo *e)
{
	int rc;
	if (!pre || !strcmp(pre, "default") || !strcmp(pre, "gpt-2") || !strcmp(pre, "gpt2"))
		return add_regex(t, RE_GPT2, e);
	if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "llama-v3") ||
		!strcmp(pre, "smaug-bpe") || !strcmp(pre, "dbrx")) {
		t->ignore_merges = !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "llama-v3");
		return add_regex(t, RE_LLAMA3, e);
	}
	if (!strcmp(pre, "qwen2") || !strcmp(pre, "stablelm2") || !strcmp(pre, "deepseek-r1-qwen"))
		return add_regex(t, RE_QWEN2, e);
	if (!strcmp(pre, "smollm") || !strcmp(pre, "starcoder") || !strcmp(pre, "refact")) {
		rc = add_regex(t, RE_DIGIT, e);
		return rc ? rc : add_regex(t, RE_GPT2, e);
	}
	/* A family we do not know: GPT-2's regex is what llama.cpp falls back to. */
	return add_regex(t, RE_GPT2, e);
}

/* Decoded bytes of token i into o (room for 4 * len bytes); returns the length. */
static size_t decode_form(const struct tokenizer *t, size_t i, char *o)
{
	const char *s = t->text + t->str[i].off;
	size_t len = t->str[i].len, k = 0;
	unsigned char type = t->type[i];
	if (type == TOK_TYPE_CONTROL || type == TOK_TYPE_UNKNOWN || type == TOK_TYPE_UNUSED)
		return 0;
	if (t->kind == KIND_SPM) {
		int b;
		if (type == TOK_TYPE_BYTE && (b = parse_byte_piece(s)) >= 0) {
			o[0] = (char)b;
			return 1;
		}
		for (size_t j = 0; j < len;) {
			if (j + 3 <= len && !memcmp(s + j, "\xE2\x96\x81", 3)) {
				o[k++] = ' ';
				j += 3;
			} else
				o[k++] = s[j++];
		}
		return k;
	}
	if (type == TOK_TYPE_USER) /* added tokens are stored as raw text */
		goto raw;
	for (size_t j = 0; j < len;) {
		size_t n = utf8_seq((const unsigned char *)s + j, len - j), used;
		if (!n)
			goto raw;
		uint32_t cp = get_cp((const unsigned char *)s + j, n, &used);
		int b = cp < sizeof u2b / sizeof u2b[0] ? u2b[cp] : -1;
		if (b < 0)
			goto raw; /* not byte-level text: some vocabularies store added tokens raw */
		o[k++] = (char)b;
		j += used;
	}
	return k;
raw:
	memcpy(o, s, len);
	return len;
}

static int sp_cmp_ctx_len(const struct tokenizer *t, int32_t a, int32_t b)
{
	unsigned char fa = (unsigned char)t->text[t->str[a].off], fb = (unsigned char)t->text[t->str[b].off];
	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (t->str[a].len != t->str[b].len)
		return t->str[a].len > t->str[b].len ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Insertion of specials sorted by (first byte, longest first); there are a few hundred at most. */
static void sort_specials(struct tokenizer *t)
{
	for (size_t i = 1; i < t->nspecial; i++) {
		int32_t x = t->special[i];
		size_t j = i;
		while (j > 0 && sp_cmp_ctx_len(t, t->special[j - 1], x) > 0) {
			t->special[j] = t->special[j - 1];
			j--;
		}
		t->special[j] = x;
	}
	size_t k = 0;
	for (unsigned b = 0; b <= 256; b++) {
		while (k < t->nspecial && (unsigned char)t->text[t->str[t->special[k]].off] < b)
			k++;
		t->sp_first[b] = (uint32_t)k;
	}
}

static int build_merges(struct tokenizer *t, const struct tok_vocab *v, struct errinfo *e)
{
	char tmp[2 * TOK_MAX_PIECE + 2];
	t->mtab_mask = table_size(v->n_merges) - 1;
	t->mtab = calloc(t->mtab_mask + 1, sizeof(*t->mtab));
	if (!t->mtab)
		return ERR_NOMEM;
	for (size_t r = 0; r < v->n_merges; r++) {
		const char *m = v->merges[r];
		if (!m)
			return err_set(e, ERR_CORRUPT, "tokenizer.ggml.merges", "merge %zu is missing", r);
		size_t ml = strlen(m);
		const char *sp = memchr(m + (ml > 0), ' ', ml > 0 ? ml - 1 : 0);
		if (!sp || ml > sizeof(tmp) - 1)
			return err_set(e, ERR_CORRUPT, "tokenizer.ggml.merges", "merge %zu is not \"a b\"", r);
		size_t la = (size_t)(sp - m), lb = ml - la - 1;
		int32_t a = lookup(t, m, la), b = lookup(t, sp + 1, lb);
		memcpy(tmp, m, la);
		memcpy(tmp + la, sp + 1, lb);
		int32_t ab = lookup(t, tmp, la + lb);
		if (a < 0 || b < 0 || ab < 0)
			continue; /* llama.cpp skips such merges too; they can never fire */
		uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
		for (size_t i = hash_u64(key) & t->mtab_mask;; i = (i + 1) & t->mtab_mask) {
			if (t->mtab[i].key == key)
				break; /* a repeated merge keeps its first (best) rank */
			if (t->mtab[i].key == 0) {
				t->mtab[i] = (struct merge_slot){key, (int32_t)r, ab};
				break;
			}
		}
	}
	return 0;
}

int tok_new(struct tokenizer **out, const struct tok_vocab *v, struct errinfo *e)
{
	int rc = 0;
	struct tokenizer *t = NULL;
	size_t total = 0;
	char *o;

	*out = NULL;
	if (!v || !v->model || !v->tokens || v->n_tokens == 0)
		return err_set(e, ERR_INVALID, "tokenizer", "no vocabulary");
	if (v->n_tokens > TOK_MAX_VOCAB)
		return err_set(e, ERR_TOOBIG, "tokenizer.ggml.tokens", "%zu tokens (most %zu)", v->n_tokens,
			TOK_MAX_VOCAB);
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, byte_map_init);
	t = calloc(1, sizeof(*t));
	if (!t)
		return ERR_NOMEM;
	if (!strcmp(v->model, "llama"))
		t->kind = KIND_SPM;
	else if (!strcmp(v->model, "gpt2"))
		t->kind = KIND_BPE;
	else {
		rc = err_set(e, ERR_UNSUPPORTED, "tokenizer.ggml.model", "tokenizer model \"%.32s\"", v->model);
		goto out;
	}
	if (t->kind == KIND_BPE && (!v->merges || v->n_merges == 0)) {
		rc = err_set(e, ERR_CORRUPT, "tokenizer.ggml.merges", "a gpt2 tokenizer needs merges");
		goto out;
	}
	t->n = v->n_tokens;
	for (size_t i = 0; i < t->n; i++) {
		if (!v->tokens[i]) {
			rc = err_set(e, ERR_CORRUPT, "tokenizer.ggml.tokens", "token %zu is missing", i);
			goto out;
		}
		size_t l = strlen(v->tokens[i]);
		if (l > TOK_MAX_PIECE) {
			rc = err_set(e, ERR_CORRUPT, "tokenizer.ggml.tokens", "token %zu is %zu bytes long", i, l);
			goto out;
		}
		total += l + 1;
	}
	t->text = malloc(total);
	t->bytes = malloc(total * 4);
	t->str = calloc(t->n, sizeof(*t->str));
	t->dec = calloc(t->n, sizeof(*t->dec));
	t->scores = calloc(t->n, sizeof(*t->scores));
	t->type = calloc(t->n, 1);
	t->tab_mask = table_size(t->n) - 1;
	t->tab = malloc((t->tab_mask + 1) * sizeof(*t->tab));
	t->special = malloc(t->n * sizeof(*t->special));
	if (!t->text || !t->bytes || !t->str || !t->dec || !t->scores || !t->type || !t->tab || !t->special) {
		rc = ERR_NOMEM;
		goto out;
	}
	memset(t->tab, 0xff, (t->tab_mask + 1) * sizeof(*t->tab));
	for (int b = 0; b < 256; b++)
		t->byte_tok[b] = -1;

	o = t->text;
	for (size_t i = 0; i < t->n; i++) {
		size_t l = strlen(v->tokens[i]);
		memcpy(o, v->tokens[i], l + 1);
		t->str[i] = (struct span){(uint32_t)(o - t->text), (uint32_t)l};
		o += l + 1;
		t->scores[i] = v->scores ? v->scores[i] : 0.0f;
		int32_t ty = v->types ? v->types[i] : TOK_TYPE_NORMAL;
		if (!v->types && t->kind == KIND_SPM && parse_byte_piece(v->tokens[i]) >= 0)
			ty = TOK_TYPE_BYTE;
		if (ty < TOK_TYPE_NORMAL || ty > TOK_TYPE_BYTE)
			ty = TOK_TYPE_NORMAL;
		t->type[i] = (unsigned char)ty;
		/* first wins on duplicate strings, as in llama.cpp */
		if (lookup(t, o - l - 1, l) < 0) {
			size_t h = hash_bytes(o - l - 1, l) & t->tab_mask;
			while (t->tab[h] >= 0)
				h = (h + 1) & t->tab_mask;
			t->tab[h] = (int32_t)i;
		}
		if (is_special(t->type[i]) && l > 0)
			t->special[t->nspecial++] = (int32_t)i;
	}
	o = t->bytes;
	for (size_t i = 0; i < t->n; i++) {
		size_t k = decode_form(t, i, o);
		t->dec[i] = (struct span){(uint32_t)(o - t->bytes), (uint32_t)k};
		o += k;
	}
	sort_specials(t);

	if (t->kind == KIND_SPM) {
		for (size_t i = 0; i < t->n; i++) {
			int b = parse_byte_piece(t->text + t->str[i].off);
			if (t->type[i] == TOK_TYPE_BYTE && b >= 0 && t->byte_tok[b] < 0)
				t->byte_tok[b] = (int32_t)i;
		}
	} else {
		for (unsigned b = 0; b < 256; b++) {
			char s[2];
			size_t k = put_cp(s, byte_to_cp(b));
			t->byte_tok[b] = lookup(t, s, k);
		}
		rc = build_merges(t, v, e);
		if (rc)
			goto out;
		rc = set_pre(t, v->pre, e);
		if (rc)
			goto out;
	}
	t->bos = v->bos;
	t->eos = v->eos;
	t->unk = v->unk;
	t->pad = v->pad;
	if (t->bos >= (int32_t)t->n || t->eos >= (int32_t)t->n || t->unk >= (int32_t)t->n || t->pad >= (int32_t)t->n) {
		rc = err_set(e, ERR_CORRUPT, "tokenizer", "a special token id is out of range");
		goto out;
	}
	t->add_bos = v->add_bos;
	*out = t;
	t = NULL;
out:
	tok_free(t);
	return rc;
}

/* ------------------------------------------------------------------ encoding */

struct sym {
	int32_t prev, next;
	uint32_t start, len; /* bytes of the subject */
	int32_t id;          /* BPE: token of the symbol */
};

struct cand {
	double key; /* higher is better: score (SPM) or -rank (BPE) */
	int32_t left, right;
	uint32_t size; /* left.len + right.len when pushed: a mismatch later means stale */
	int32_t id;
};

struct enc {
	const struct tokenizer *t;
	int32_t *ids;
	size_t cap, n;
	struct sym *sym;   /* scratch, [len + 2] */
	struct cand *heap; /* scratch, [3 * (len + 2)] */
	size_t nheap;
	char *norm;        /* SPM normalised text / BPE mapped pre-token, [3 * len + 4] */
	pcre2_match_data *md;
};

static int emit(struct enc *c, int32_t id)
{
	if (c->n >= c->cap)
		return ERR_TOOBIG;
	c->ids[c->n++] = id;
	return 0;
}

static bool cand_better(const struct cand *a, const struct cand *b)
{
	return a->key > b->key || (a->key == b->key && a->left < b->left);
}

static void heap_push(struct enc *c, struct cand x)
{
	size_t i = c->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!cand_better(&x, &c->heap[p]))
			break;
		c->heap[i] = c->heap[p];
		i = p;
	}
	c->heap[i] = x;
}

static struct cand heap_pop(struct enc *c)
{
	struct cand top = c->heap[0], x = c->heap[--c->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, b = i;
		const struct cand *best = &x;
		if (l < c->nheap && cand_better(&c->heap[l], best)) {
			b = l;
			best = &c->heap[l];
		}
		if (r < c->nheap && cand_better(&c->heap[r], best))
			b = r;
		if (b == i)
			break;
		c->heap[i] = c->heap[b];
		i = b;
	}
	if (c->nheap)
		c->heap[i] = x;
	return top;
}

static bool spm_mergeable(unsigned char type)
{
	return type == TOK_TYPE_NORMAL || type == TOK_TYPE_USER;
}

/* SentencePiece: try the pair (l, r) of symbols over subject s. */
static void spm_pair(struct enc *c, const char *s, int32_t l, int32_t r)
{
	if (l < 0 || r < 0)
		return;
	uint32_t size = c->sym[l].len + c->sym[r].len;
	int32_t id = lookup(c->t, s + c->sym[l].start, size);
	if (id < 0 || !spm_mergeable(c->t->type[id]))
		return;
	heap_push(c, (struct cand){c->t->scores[id], l, r, size, id});
}

static void bpe_pair(struct enc *c, int32_t l, int32_t r)
{
	if (l < 0 || r < 0 || c->sym[l].id < 0 || c->sym[r].id < 0)
		return;
	const struct merge_slot *m = merge_find(c->t, c->sym[l].id, c->sym[r].id);
	if (!m)
		return;
	heap_push(c, (struct cand){-(double)m->rank, l, r, c->sym[l].len + c->sym[r].len, m->id});
}

/* The merge loop shared by both schemes over c->sym[0..ns). */
static void merge_all(struct enc *c, const char *s, int32_t ns, bool spm)
{
	c->nheap = 0;
	for (int32_t i = 0; i + 1 < ns; i++) {
		if (spm)
			spm_pair(c, s, i, i + 1);
		else
			bpe_pair(c, i, i + 1);
	}
	while (c->nheap) {
		struct cand x = heap_pop(c);
		struct sym *l = &c->sym[x.left], *r = &c->sym[x.right];
		if (l->len == 0 || r->len == 0 || l->next != x.right || l->len + r->len != x.size)
			continue; /* stale: one side changed since it was pushed */
		l->len += r->len;
		l->id = x.id;
		l->next = r->next;
		if (r->next >= 0)
			c->sym[r->next].prev = x.left;
		r->len = 0;
		if (spm) {
			spm_pair(c, s, l->prev, x.left);
			spm_pair(c, s, x.left, l->next);
		} else {
			bpe_pair(c, l->prev, x.left);
			bpe_pair(c, x.left, l->next);
		}
	}
}

/* SentencePiece on one stretch of text without special tokens. */
static int spm_segment(struct enc *c, const char *text, size_t len, bool prefix)
{
	const struct tokenizer *t = c->t;
	size_t m = 0;
	int rc;
	if (prefix)
		memcpy(c->norm + m, "\xE2\x96\x81", 3), m += 3;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ')
			memcpy(c->norm + m, "\xE2\x96\x81", 3), m += 3;
		else
			c->norm[m++] = text[i];
	}
	const char *s = c->norm;
	int32_t ns = 0;
	for (size_t i = 0; i < m;) {
		size_t k = utf8_seq((const unsigned char *)s + i, m - i);
		c->sym[ns] = (struct sym){ns - 1, ns + 1, (uint32_t)i, (uint32_t)k, -1};
		ns++;
		i += k;
	}
	if (ns == 0)
		return 0;
	c->sym[ns - 1].next = -1;
	merge_all(c, s, ns, true);
	for (int32_t i = 0; i >= 0; i = c->sym[i].next) {
		const struct sym *y = &c->sym[i];
		int32_t id = lookup(t, s + y->start, y->len);
		if (id >= 0 && spm_mergeable(t->type[id])) {
			if ((rc = emit(c, id)))
				return rc;
			continue;
		}
		/* not a piece: byte fallback, else unk (a merged symbol is always a piece) */
		for (uint32_t b = 0; b < y->len; b++) {
			int32_t bt = t->byte_tok[(unsigned char)s[y->start + b]];
			if (bt < 0) {
				if (t->unk >= 0 && (rc = emit(c, t->unk)))
					return rc;
				break;
			}
			if ((rc = emit(c, bt)))
				return rc;
		}
	}
	return 0;
}

/* Byte-level BPE on one pre-token. */
static int bpe_word(struct enc *c, const char *s, size_t len)
{
	const struct tokenizer *t = c->t;
	int rc;
	if (t->ignore_merges) {
		size_t m = 0;
		for (size_t i = 0; i < len; i++)
			m += put_cp(c->norm + m, byte_to_cp((unsigned char)s[i]));
		int32_t id = lookup(t, c->norm, m);
		if (id >= 0)
			return emit(c, id);
	}
	for (size_t i = 0; i < len; i++) {
		int32_t id = t->byte_tok[(unsigned char)s[i]];
		c->sym[i] = (struct sym){(int32_t)i - 1, (int32_t)i + 1, (uint32_t)i, 1, id};
	}
	c->sym[len - 1].next = -1;
	merge_all(c, s, (int32_t)len, false);
	for (int32_t i = 0; i >= 0; i = c->sym[i].next) {
		int32_t id = c->sym[i].id;
		if (id < 0)
			id = t->unk;
		if (id >= 0 && (rc = emit(c, id)))
			return rc;
	}
	return 0;
}

/* Split s[0..len) by regex number lvl, recursing into the next regex for
 * every match and every gap between matches; the last level runs BPE. */
static int pretok(struct enc *c, const char *s, size_t len, int lvl)
{
	const struct tokenizer *t = c->t;
	if (len == 0)
		return 0;
	if (lvl == t->nre)
		return bpe_word(c, s, len);
	size_t pos = 0, gap = 0;
	int rc;
	while (pos < len) {
		int r = pcre2_match(t->re[lvl], (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, c->md, NULL);
		if (r == PCRE2_ERROR_NOMATCH)
			break;
		if (r < 0)
			return ERR_INTERNAL;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
		size_t ms = ov[0], me = ov[1];
		if (me == ms) { /* cannot happen with our patterns; step one character */
			pos = ms + utf8_seq((const unsigned char *)s + ms, len - ms);
			continue;
		}
		if (ms > gap && (rc = pretok(c, s + gap, ms - gap, lvl + 1)))
			return rc;
		if ((rc = pretok(c, s + ms, me - ms, lvl + 1)))
			return rc;
		pos = gap = me;
	}
	return gap < len ? pretok(c, s + gap, len - gap, lvl + 1) : 0;
}

static int segment(struct enc *c, const char *s, size_t len, bool after_special_or_start)
{
	if (c->t->kind == KIND_SPM)
		return len ? spm_segment(c, s, len, after_special_or_start) : 0;
	return pretok(c, s, len, 0);
}

/* Longest special token at s[0..len), or -1. */
static int32_t special_at(const struct tokenizer *t, const char *s, size_t len, bool parse_special)
{
	unsigned char b = (unsigned char)s[0];
	for (uint32_t k = t->sp_first[b]; k < t->sp_first[b + 1]; k++) {
		int32_t id = t->special[k];
		if (!parse_special && t->type[id] != TOK_TYPE_USER)
			continue;
		size_t l = t->str[id].len;
		if (l <= len && !memcmp(s, t->text + t->str[id].off, l))
			return id;
	}
	return -1;
}

int tok_encode(const struct tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
	int32_t *ids, size_t cap, size_t *n)
{
	int rc = 0;
	struct enc c = {.t = t, .ids = ids, .cap = cap};
	*n = 0;
	if (len > TOK_MAX_TEXT)
		return ERR_TOOBIG;
	if (len && !text)
		return ERR_INVALID;
	if (!len)
		text = ""; /* no arithmetic on a NULL pointer below */
	if (!utf8_valid(text, len))
		return ERR_INVALID;
	/* symbols: bytes (BPE) or characters plus the "▁" prefix (SPM), each
	 * space becoming one "▁" character; candidates: at most three per symbol */
	size_t scratch = len + 2;
	c.sym = malloc(scratch * sizeof(*c.sym));
	c.heap = malloc(3 * scratch * sizeof(*c.heap));
	c.norm = malloc(3 * len + 4);
	if (t->nre)
		c.md = pcre2_match_data_create(1, NULL);
	if (!c.sym || !c.heap || !c.norm || (t->nre && !c.md)) {
		rc = ERR_NOMEM;
		goto out;
	}
	if (add_bos && t->add_bos && t->bos >= 0 && (rc = emit(&c, t->bos)))
		goto out;
	size_t start = 0;
	bool fresh = true; /* at the start, or just after a special token */
	for (size_t i = 0; i < len;) {
		int32_t id = t->nspecial ? special_at(t, text + i, len - i, parse_special) : -1;
		if (id < 0) {
			i++;
			continue;
		}
		if ((rc = segment(&c, text + start, i - start, fresh)))
			goto out;
		if ((rc = emit(&c, id)))
			goto out;
		i += t->str[id].len;
		start = i;
		fresh = true;
		/* only a stretch of text resets the prefix flag */
		continue;
	}
	if ((rc = segment(&c, text + start, len - start, fresh)))
		goto out;
out:
	*n = c.n;
	free(c.sym);
	free(c.heap);
	free(c.norm);
	pcre2_match_data_free(c.md);
	return rc;
}

/* ------------------------------------------------------------------ decoding */

static int put_fffd(struct buf *out)
{
	return buf_append(out, "\xEF\xBF\xBD", 3);
}

static size_t seq_need(unsigned char lead)
{
	return lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
}

/* Whether b may stand at position pos (>= 1) of a sequence led by lead. */
static bool cont_ok(unsigned char lead, size_t pos, unsigned char b)
{
	unsigned char lo = 0x80, hi = 0xBF;
	if (pos == 1) {
		if (lead == 0xE0)
			lo = 0xA0;
		else if (lead == 0xED)
			hi = 0x9F;
		else if (lead == 0xF0)
			lo = 0x90;
		else if (lead == 0xF4)
			hi = 0x8F;
	}
	return b >= lo && b <= hi;
}

/* One byte through the hold-back state machine. */
static int feed(struct tok_stream *st, unsigned char b, struct buf *out)
{
	int rc;
	if (st->npending) {
		if (cont_ok(st->pending[0], st->npending, b)) {
			st->pending[st->npending++] = b;
			if (st->npending < seq_need(st->pending[0]))
				return 0;
			rc = buf_append(out, st->pending, st->npending);
			st->npending = 0;
			return rc;
		}
		/* the held sequence cannot complete: replace it, then take b afresh */
		st->npending = 0;
		if ((rc = put_fffd(out)))
			return rc;
	}
	if (b < 0x80)
		return buf_append(out, &b, 1);
	if (b >= 0xC2 && b <= 0xF4) {
		st->pending[0] = b;
		st->npending = 1;
		return 0;
	}
	return put_fffd(out);
}

int tok_decode_piece(const struct tokenizer *t, struct tok_stream *st, int32_t id, struct buf *out)
{
	int rc;
	if (id < 0 || (size_t)id >= t->n)
		return ERR_INVALID;
	if (st->npending >= 4 || (st->npending && (st->pending[0] < 0xC2 || st->pending[0] > 0xF4)))
		st->npending = 0; /* a state we never produce: start clean */
	const unsigned char *p = (const unsigned char *)t->bytes + t->dec[id].off;
	size_t n = t->dec[id].len, i = 0, run = 0;
	while (i < n) {
		size_t k = st->npending ? 0 : utf8_seq(p + i, n - i);
		if (k) { /* complete sequences go straight through */
			run += k;
			i += k;
			continue;
		}
		if (run && (rc = buf_append(out, p + i - run, run)))
			return rc;
		run = 0;
		if ((rc = feed(st, p[i++], out)))
			return rc;
	}
	if (run && (rc = buf_append(out, p + n - run, run)))
		return rc;
	return 0;
}

int32_t tok_lookup(const struct tokenizer *t, const char *piece)
{
	if (!t || !piece)
		return -1;
	return lookup(t, piece, strlen(piece));
}

size_t tok_count(const struct tokenizer *t)
{
	return t ? t->n : 0;
}
