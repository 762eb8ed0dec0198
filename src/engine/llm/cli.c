/*
 * cli.c: the engine's command-line entry points.
 *
 *   atelier run MODEL.gguf -p TEXT [-n N] [--seed N] [--temp T] [--top-k K]
 *               [--top-p P] [--min-p P] [--threads N] [--ctx N] [--chat]
 *   atelier model info MODEL.gguf
 *   atelier model logits MODEL.gguf --tokens 1,2,3 [--mode batch|step|slots]
 *               [--greedy N] [--threads N]      (hidden: for the reference tests)
 *   atelier bench MODEL.gguf [--threads N] [--prompt N] [--gen N]
 *
 * Errors are printed with what was wrong and return exit status 1; bad usage
 * returns 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "engine/gguf.h"
#include "engine/llm/generate.h"
#include "engine/llm/model.h"
#include "engine/llm/sampler.h"
#include "engine/llm/template.h"
#include "engine/quant.h"
#include "engine/tensor.h"
#include "main_cmds.h"

#if __has_include("engine/llm/tokenizer.h")
#include "engine/llm/tokenizer.h"
#include "engine/llm/vocab.h"
#define HAVE_TOKENIZER 1
#endif

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_f32(const char *s, float *out)
{
	char *end;
	errno = 0;
	float v = strtof(s, &end);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int usage_err(const char *cmd, const char *msg)
{
	fprintf(stderr, "atelier %s: %s\n", cmd, msg);
	return 2;
}

static int fail(const char *cmd, const struct errinfo *e)
{
	fprintf(stderr, "atelier %s: %s: %s\n", cmd, err_str(e->code), e->msg);
	return 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- model info ---- */

static int model_info(const char *path)
{
	struct errinfo e = {0};
	struct gguf *g = NULL;
	if (gguf_open(&g, path, &e))
		return fail("model info", &e);
	printf("file: %s (%zu bytes, alignment %u)\n", path, gguf_file_size(g), gguf_alignment(g));
	printf("metadata (%zu):\n", gguf_kv_count(g));
	for (size_t i = 0; i < gguf_kv_count(g); i++) {
		char val[120];
		gguf_kv_describe(g, i, val, sizeof val);
		printf("  %-48s %-6s %s\n", gguf_kv_key(g, i), gguf_vtype_name(gguf_kv_type(g, i)), val);
	}
	printf("tensors (%zu):\n", gguf_tensor_count(g));
	for (size_t i = 0; i < gguf_tensor_count(g); i++) {
		const struct tensor *t = gguf_tensor_at(g, i);
		char shape[96] = "";
		size_t o = 0;
		for (uint32_t d = 0; d < t->n_dims && o < sizeof shape; d++)
			o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%" PRIu64, d ? " x " : "", t->ne[d]);
		printf("  %-40s %-5s [%s] %zu bytes\n", t->name, tensor_type_name(t->type), shape, t->nbytes);
	}
	gguf_free(g);
	struct llm_model *m = NULL;
	if (llm_model_load(&m, path, &e)) {
		printf("model: cannot run: %s\n", e.msg);
		return 1;
	}
	const struct llm_hparams *hp = llm_model_hparams(m);
	printf("model: %s, %u layers, width %u, %u heads (%u kv, dim %u), ffn %u, vocab %u, context %u, "
	       "rope %s base %g, %s output, weights %s, %.1f MiB per token\n",
	       hp->arch_name, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_ff, hp->n_vocab,
	       hp->n_ctx_train, hp->rope_neox ? "neox" : "normal", hp->rope_base, hp->tied_output ? "tied" : "separate",
	       tensor_type_name(hp->wtype), (double)llm_model_weight_bytes(m) / 1048576.0);
	llm_model_free(m);
	return 0;
}

/* ---- model logits (reference tests) ---- */

static int parse_tokens(const char *s, int32_t *ids, size_t cap, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (errno || end == s || v < 0 || v > INT32_MAX || *n >= cap)
			return -1;
		ids[(*n)++] = (int32_t)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return *n ? 0 : -1;
}

static void print_row(const char *tag, size_t i, const float *l, uint32_t nv)
{
	printf("%s %zu", tag, i);
	for (uint32_t j = 0; j < nv; j++)
		printf(" %.8g", l[j]);
	printf("\n");
}

static int model_logits(int argc, char **argv)
{
	const char *path = NULL, *toks = NULL, *mode = "batch";
	uint32_t greedy = 0, threads = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
			toks = argv[++i];
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "--greedy") && i + 1 < argc) {
			if (parse_u32(argv[++i], &greedy))
				return usage_err("model logits", "bad --greedy");
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (parse_u32(argv[++i], &threads))
				return usage_err("model logits", "bad --threads");
		} else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			return usage_err("model logits", "usage: model logits MODEL --tokens 1,2,3 [--mode batch|step|slots] [--greedy N]");
	}
	enum { CAP = 1024 };
	static int32_t ids[CAP];
	size_t n;
	if (!path || !toks || parse_tokens(toks, ids, CAP, &n))
		return usage_err("model logits", "need MODEL and --tokens as comma-separated ids");
	struct errinfo e = {0};
	struct llm_model *m = NULL;
	struct llm_ctx *c = NULL;
	int rc = 1;
	static struct llm_tok batch[2 * CAP];
	if (llm_model_load(&m, path, &e)) {
		fail("model logits", &e);
		goto out;
	}
	uint32_t nv = llm_model_hparams(m)->n_vocab;
	bool slots = !strcmp(mode, "slots");
	struct llm_ctx_params p = {.n_ctx = (uint32_t)(n + greedy + 1), .n_slots = slots ? 2 : 1,
				   .n_batch = (uint32_t)(2 * n), .n_logits = (uint32_t)(2 * n), .n_threads = (int)threads};
	if (llm_ctx_new(&c, m, &p, &e)) {
		fail("model logits", &e);
		goto out;
	}
	if (!strcmp(mode, "batch")) {
		for (size_t i = 0; i < n; i++)
			batch[i] = (struct llm_tok){ids[i], (int32_t)i, 0, true};
		if (llm_forward(c, batch, n, &e)) {
			fail("model logits", &e);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			print_row("logits", i, llm_logits(c, i), nv);
	} else if (!strcmp(mode, "step")) {
		for (size_t i = 0; i < n; i++) {
			batch[0] = (struct llm_tok){ids[i], (int32_t)i, 0, true};
			if (llm_forward(c, batch, 1, &e)) {
				fail("model logits", &e);
				goto out;
			}
			print_row("logits", i, llm_logits(c, 0), nv);
		}
	} else if (slots) {
		/* Slot 1 holds another sequence (the tokens reversed) advancing in the
		 * same batches, in two halves, interleaved with slot 0: its presence
		 * must not change slot 0's logits. */
		size_t h = n / 2, k = 0;
		for (size_t part = 0; part < 2; part++) {
			size_t a = part ? h : 0, b = part ? n : h;
			k = 0;
			for (size_t i = a; i < b; i++) {
				batch[k++] = (struct llm_tok){ids[n - 1 - i], (int32_t)i, 1, false};
				batch[k++] = (struct llm_tok){ids[i], (int32_t)i, 0, true};
			}
			if (k && llm_forward(c, batch, k, &e)) {
				fail("model logits", &e);
				goto out;
			}
			for (size_t i = a, j = 1; i < b; i++, j += 2)
				print_row("logits", i, llm_logits(c, j), nv);
		}
	} else {
		usage_err("model logits", "--mode must be batch, step or slots");
		goto out;
	}
	if (greedy) {
		/* Continue from the last logits one token at a time. */
		int32_t slot = 0;
		const float *l = NULL;
		batch[0] = (struct llm_tok){ids[n - 1], (int32_t)(n - 1), slot, true};
		if (llm_forward(c, batch, 1, &e)) {
			fail("model logits", &e);
			goto out;
		}
		l = llm_logits(c, 0);
		printf("greedy");
		for (uint32_t g = 0; g < greedy; g++) {
			int32_t best = 0;
			for (uint32_t j = 1; j < nv; j++)
				if (l[j] > l[best])
					best = (int32_t)j;
			printf(" %d", best);
			batch[0] = (struct llm_tok){best, (int32_t)(n + g), slot, true};
			if (llm_forward(c, batch, 1, &e)) {
				fail("model logits", &e);
				goto out;
			}
			l = llm_logits(c, 0);
		}
		printf("\n");
	}
	rc = 0;
out:
	llm_ctx_free(c);
	llm_model_free(m);
	return rc;
}

int cmd_model(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "info"))
		return model_info(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "logits"))
		return model_logits(argc - 2, argv + 2);
	return usage_err("model", "usage: model info MODEL.gguf");
}

/* ---- bench ---- */

static long peak_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int cmd_bench(int argc, char **argv)
{
	const char *path = NULL;
	uint32_t threads = 0, npp = 128, ntg = 32, nseq = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seqs") && i + 1 < argc) {
			if (parse_u32(argv[++i], &nseq) || nseq == 0 || nseq > 256)
				return usage_err("bench", "--seqs must be 1..256");
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (parse_u32(argv[++i], &threads) || threads == 0)
				return usage_err("bench", "bad --threads");
		} else if (!strcmp(argv[i], "--prompt") && i + 1 < argc) {
			if (parse_u32(argv[++i], &npp) || npp == 0 || npp > 4096)
				return usage_err("bench", "--prompt must be 1..4096");
		} else if (!strcmp(argv[i], "--gen") && i + 1 < argc) {
			if (parse_u32(argv[++i], &ntg) || ntg == 0 || ntg > 4096)
				return usage_err("bench", "--gen must be 1..4096");
		} else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			return usage_err("bench", "usage: bench MODEL.gguf [--threads N] [--prompt N] [--gen N] [--seqs N]");
	}
	if (!path)
		return usage_err("bench", "usage: bench MODEL.gguf [--threads N] [--prompt N] [--gen N] [--seqs N]");
	struct errinfo e = {0};
	struct llm_model *m = NULL;
	struct llm_ctx *c = NULL;
	struct llm_tok *batch = NULL;
	int rc = 1;
	if (llm_model_load(&m, path, &e)) {
		fail("bench", &e);
		goto out;
	}
	const struct llm_hparams *hp = llm_model_hparams(m);
	/* --seqs N: N sequences (slots) each get the prompt, then every
	 * generation step is one batch of N decode tokens, as the server's
	 * scheduler runs them under N clients. */
	uint32_t nb = npp < 256 ? npp : 256;
	if (nb < nseq)
		nb = nseq;
	struct llm_ctx_params p = {.n_ctx = npp + ntg + 1, .n_batch = nb, .n_slots = nseq, .n_logits = nseq,
				   .n_threads = (int)threads};
	if (llm_ctx_new(&c, m, &p, &e)) {
		fail("bench", &e);
		goto out;
	}
	const struct llm_ctx_params *cp = llm_ctx_params(c);
	if (!(batch = calloc(cp->n_batch, sizeof *batch)))
		goto out;
	uint64_t x = 12345;
	/* Warm-up: one token touches every weight page once (the mapping faults in). */
	batch[0] = (struct llm_tok){1, 0, 0, true};
	if (llm_forward(c, batch, 1, &e)) {
		fail("bench", &e);
		goto out;
	}
	double t0 = now_s();
	for (uint32_t s = 0; s < nseq; s++)
		for (uint32_t i = 0; i < npp; i += cp->n_batch) {
			uint32_t n = npp - i < cp->n_batch ? npp - i : cp->n_batch;
			for (uint32_t j = 0; j < n; j++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				batch[j] = (struct llm_tok){(int32_t)((x >> 33) % hp->n_vocab), (int32_t)(i + j),
							    (int32_t)s, i + j == npp - 1};
			}
			if (llm_forward(c, batch, n, &e)) {
				fail("bench", &e);
				goto out;
			}
		}
	double t1 = now_s();
	for (uint32_t g = 0; g < ntg; g++) {
		for (uint32_t s = 0; s < nseq; s++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			batch[s] = (struct llm_tok){(int32_t)((x >> 33) % hp->n_vocab), (int32_t)(npp + g), (int32_t)s,
						    true};
		}
		if (llm_forward(c, batch, nseq, &e)) {
			fail("bench", &e);
			goto out;
		}
	}
	double t2 = now_s();
	double pp = (double)npp * nseq / (t1 - t0), tg = (double)ntg * nseq / (t2 - t1);
	double wb = (double)llm_model_weight_bytes(m);
	const struct quant_kernel *k = quant_kernel(hp->wtype);
	printf("model %s type %s threads %d isa %s\n", hp->arch_name, tensor_type_name(hp->wtype), cp->n_threads,
	       k ? k->isa : "?");
	printf("pp %u tokens: %.2f tok/s\n", npp, pp);
	if (nseq > 1)
		printf("tg %u tokens x %u sequences: %.2f tok/s\n", ntg, nseq, tg);
	else
		printf("tg %u tokens: %.2f tok/s\n", ntg, tg);
	printf("weights per token: %.1f MiB; generation reads %.2f GB/s\n", wb / 1048576.0, wb * tg / 1e9);
	printf("peak RSS: %.1f MiB\n", (double)peak_rss_kib() / 1024.0);
	rc = 0;
out:
	free(batch);
	llm_ctx_free(c);
	llm_model_free(m);
	return rc;
}

/* ---- run ---- */

#ifdef HAVE_TOKENIZER
struct run_state {
	const struct tokenizer *tok;
	struct tok_stream st;
};

static int run_piece(void *ud, int32_t tok, struct buf *out)
{
	struct run_state *rs = ud;
	return tok_decode_piece(rs->tok, &rs->st, tok, out);
}

static int run_emit(void *ud, const char *text, size_t len, int32_t tok, float logprob)
{
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return 0;
}
#endif


int cmd_run(int argc, char **argv)
{
	const char *path = NULL, *prompt = NULL;
	uint32_t n = 128, threads = 0, ctx = 0, seed = 0;
	bool chat = false, have_seed = false;
	struct sampler_params sp;
	sampler_params_default(&sp);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		int bad = 0;
		if (!strcmp(a, "-p") && more)
			prompt = argv[++i];
		else if (!strcmp(a, "-n") && more)
			bad = parse_u32(argv[++i], &n);
		else if (!strcmp(a, "--seed") && more) {
			bad = parse_u32(argv[++i], &seed);
			have_seed = true;
		} else if (!strcmp(a, "--temp") && more)
			bad = parse_f32(argv[++i], &sp.temperature);
		else if (!strcmp(a, "--top-k") && more)
			bad = parse_u32(argv[++i], (uint32_t *)&sp.top_k);
		else if (!strcmp(a, "--top-p") && more)
			bad = parse_f32(argv[++i], &sp.top_p);
		else if (!strcmp(a, "--min-p") && more)
			bad = parse_f32(argv[++i], &sp.min_p);
		else if (!strcmp(a, "--repeat-penalty") && more)
			bad = parse_f32(argv[++i], &sp.repeat_penalty);
		else if (!strcmp(a, "--threads") && more)
			bad = parse_u32(argv[++i], &threads);
		else if (!strcmp(a, "--ctx") && more)
			bad = parse_u32(argv[++i], &ctx);
		else if (!strcmp(a, "--chat"))
			chat = true;
		else if (!path && a[0] != '-')
			path = a;
		else
			bad = 1;
		if (bad)
			return usage_err("run", "usage: run MODEL.gguf -p TEXT [-n TOKENS] [--seed N] [--temp T] "
						"[--top-k K] [--top-p P] [--min-p P] [--threads N] [--ctx N] [--chat]");
	}
	if (!path || !prompt)
		return usage_err("run", "need MODEL.gguf and -p TEXT");
	sp.seed = have_seed ? seed : (uint64_t)time(NULL);
#ifndef HAVE_TOKENIZER
	(void)chat;
	(void)ctx;
	(void)threads;
	(void)n;
	return usage_err("run", "this build has no tokenizer (src/engine/llm/tokenizer.c)");
#else
	struct errinfo e = {0};
	struct llm_model *m = NULL;
	struct llm_ctx *c = NULL;
	struct tokenizer *tk = NULL;
	struct sampler *s = NULL;
	struct buf text;
	int32_t *ids = NULL;
	int rc = 1;
	buf_init(&text, 1 << 20);
	if (llm_model_load(&m, path, &e))
		goto fail;
	const struct llm_hparams *hp = llm_model_hparams(m);
	struct tok_vocab v;
	if (llm_vocab_from_gguf(llm_model_gguf(m), &v, &e) || tok_new(&tk, &v, &e))
		goto fail;
	const char *input = prompt;
	if (chat) {
		const char *tmpl = NULL;
		gguf_get_str(llm_model_gguf(m), "tokenizer.chat_template", &tmpl, NULL);
		struct tmpl_msg msg = {"user", prompt};
		if (tmpl_format(tmpl_detect(tmpl), &msg, 1, true, &text, &e))
			goto fail;
		input = text.data;
	}
	struct llm_ctx_params p = {.n_ctx = ctx, .n_threads = (int)threads};
	if (llm_ctx_new(&c, m, &p, &e))
		goto fail;
	size_t cap = llm_ctx_params(c)->n_ctx, nids;
	if (!(ids = malloc(cap * sizeof *ids))) {
		err_set(&e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	int trc = tok_encode(tk, input, strlen(input), v.add_bos, chat, ids, cap, &nids);
	if (trc) {
		err_set(&e, trc, "prompt", trc == ERR_TOOBIG ? "prompt is longer than the context of %zu tokens"
							 : "prompt cannot be tokenized (invalid UTF-8?)", cap);
		goto fail;
	}
	if (sampler_new(&s, &sp, hp->n_vocab, &e))
		goto fail;
	int32_t eos[2];
	size_t neos = 0;
	if (v.eos >= 0)
		eos[neos++] = v.eos;
	int32_t eot = tok_lookup(tk, "<|eot_id|>");
	if (eot < 0)
		eot = tok_lookup(tk, "<|im_end|>");
	if (eot >= 0)
		eos[neos++] = eot;
	struct llm_gen_params gp = {.max_tokens = n, .eos = eos, .n_eos = neos};
	struct run_state rs = {.tok = tk};
	struct llm_gen_result res;
	if (llm_generate(c, 0, ids, nids, s, &gp, run_piece, run_emit, &rs, &res, &e))
		goto fail;
	fprintf(stderr, "\n[%u prompt tokens %.1f tok/s, %u generated %.1f tok/s]\n", res.n_prompt,
		res.prompt_ms > 0 ? res.n_prompt * 1e3 / res.prompt_ms : 0, res.n_gen,
		res.gen_ms > 0 ? res.n_gen * 1e3 / res.gen_ms : 0);
	rc = 0;
	goto out;
fail:
	fail("run", &e);
out:
	free(ids);
	buf_free(&text);
	sampler_free(s);
	tok_free(tk);
	llm_ctx_free(c);
	llm_model_free(m);
	return rc;
#endif
}
