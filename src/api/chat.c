/*
 * chat.c: the OpenAI-compatible text API (GEN-1, GEN-6, GEN-8):
 * GET /v1/models, POST /v1/chat/completions, POST /v1/completions.
 *
 * A builtin model's request is checked, tokenized and paid for (a credit
 * hold of the worst case) on the pool thread, then handed to the model's
 * scheduler (service/textgen.h) and the handler returns: the answer, streamed
 * (SSE) or whole (JSON), is written from the scheduler thread through an
 * http_stream, so no pool thread waits on a generation. A non-streamed
 * answer writes a space (JSON whitespace) per token while it waits, which is
 * how a client that left is noticed within one step.
 *
 * Every call writes one usage row (USE-1): endpoint, model, tokens, status,
 * latency, key, and the customer's `user` as a keyed hash scoped to the
 * customer; never the prompt or the output. Nothing here stores a
 * conversation: the studio's opt-in chat history (api/chats.c, issue #5) is
 * saved by the studio itself after each finished exchange, sealed under the
 * owner's key, and only while the owner has switched it on.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/textreq.h"
#include "api/upstream.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "service/credits.h"
#include "service/imagejobs.h"
#include "service/textmodels.h"
#include "service/usage.h"

static const char FINGERPRINT[] = "fp_atelier1";

struct choice {
	struct buf text;         /* whole answer (non-streamed) */
	json_t *logprobs;        /* content array, or NULL */
	enum llm_finish finish;
	bool started;            /* role chunk sent (chat stream) */
};

struct call {
	pthread_mutex_t mu;      /* held by the handler while it submits */
	struct app *app;
	struct http_stream *s;   /* streamed: the events */
	struct http_deferred *d; /* not streamed: the answer, given whole at the end */
	const struct textgen *gen;
	struct textreq r;        /* pointers into body, which we hold */
	json_t *body;
	char id[48], model[64], endpoint[32], owner[40], key_id[48], end_user[CRYPTO_HASH_HEX];
	int64_t created, price_c, price_p, hold;
	uint64_t start_ns;
	uint32_t n_prompt, n_gen, n_cached;
	int left, status;
	bool failed;
	struct choice ch[TEXTREQ_MAX_N];
};

/* --- answers -------------------------------------------------------------- */

/* OpenAI's shape, with the prompt tokens found in the prompt cache */
static json_t *usage_json(uint32_t p, uint32_t c, uint32_t cached)
{
	return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", (int)p, "completion_tokens", (int)c,
			 "total_tokens", (int)(p + c), "prompt_tokens_details", "cached_tokens", (int)cached);
}

static const char *finish_name(enum llm_finish f)
{
	return f == LLM_FINISH_LENGTH ? "length" : "stop";
}

static json_t *chunk_base(struct call *k)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:[]}", "id", k->id, "object",
			 k->r.chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)k->created,
			 "model", k->model, "system_fingerprint", FINGERPRINT, "choices");
}

static void send_event(struct call *k, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (s)
		http_stream_event(k->s, NULL, s);
	free(s);
}

/* One logprobs entry for a token: {token, logprob, bytes, top_logprobs}. */
static json_t *lp_entry(struct call *k, int32_t tok, float lp, const float *logits, const char *text, size_t len)
{
	json_t *top = json_array();
	int want = k->r.top_logprobs;
	if (logits && want > 0) {
		uint32_t nv = textgen_n_vocab(k->gen);
		float mx = logits[0];
		for (uint32_t i = 1; i < nv; i++)
			mx = logits[i] > mx ? logits[i] : mx;
		double sum = 0;
		for (uint32_t i = 0; i < nv; i++)
			sum += exp((double)(logits[i] - mx));
		double lse = mx + log(sum);
		int32_t best[TEXTREQ_MAX_TOP];
		int nb = 0;
		for (uint32_t i = 0; i < nv; i++) {
			int j = nb < want ? nb++ : want;
			if (j == want && logits[i] <= logits[best[want - 1]])
				continue;
			if (j == want)
				j = want - 1;
			while (j > 0 && logits[best[j - 1]] < logits[i]) {
				best[j] = best[j - 1];
				j--;
			}
			best[j] = (int32_t)i;
		}
		for (int i = 0; i < nb; i++) {
			struct buf b;
			buf_init(&b, 4096);
			textgen_token_text(k->gen, best[i], &b);
			json_array_append_new(top, json_pack("{s:s%, s:f}", "token", b.data ? b.data : "", b.len, "logprob",
							     (double)logits[best[i]] - lse));
			buf_free(&b);
		}
	}
	return json_pack("{s:s%, s:f, s:o}", "token", text, len, "logprob", (double)lp, "top_logprobs", top);
}

/* The client has left (or its answer could not be set up). */
static bool call_gone(struct call *k)
{
	return k->r.stream ? !k->s || http_stream_gone(k->s) : !k->d || http_deferred_gone(k->d);
}

static int on_text(void *ud, int index, const char *text, size_t len, int32_t tok, float lp, const float *logits)
{
	struct call *k = ud;
	pthread_mutex_lock(&k->mu);
	pthread_mutex_unlock(&k->mu);
	if (!k->s && !k->d)
		return 1;
	struct choice *c = &k->ch[index];
	json_t *lpe = NULL;
	if (k->r.logprobs && tok >= 0)
		lpe = lp_entry(k, tok, lp, logits, text, len);
	if (!k->r.stream) {
		if (lpe)
			json_array_append_new(c->logprobs, lpe);
		if (len && buf_append(&c->text, text, len))
			return 1;
		return http_deferred_gone(k->d); /* a client that left stops the generation */
	}
	if (!len && !lpe && c->started)
		return http_stream_gone(k->s);
	json_t *v = chunk_base(k), *chs = json_object_get(v, "choices"), *x;
	if (k->r.chat) {
		json_t *delta = json_pack("{s:s%}", "content", text, len);
		if (!c->started)
			json_object_set_new(delta, "role", json_string("assistant"));
		x = json_pack("{s:i, s:o, s:o, s:n}", "index", index, "delta", delta, "logprobs",
			      lpe ? json_pack("{s:[o]}", "content", lpe) : json_null(), "finish_reason");
	} else {
		x = json_pack("{s:i, s:s%, s:o, s:n}", "index", index, "text", text, len, "logprobs",
			      lpe ? json_pack("{s:[s%], s:[f], s:[o]}", "tokens", text, len, "token_logprobs", (double)lp,
					      "top_logprobs", json_object())
				  : json_null(),
			      "finish_reason");
		if (lpe)
			json_decref(lpe);
	}
	c->started = true;
	json_array_append_new(chs, x);
	send_event(k, v);
	return http_stream_gone(k->s);
}

static int on_gone(void *ud)
{
	struct call *k = ud;
	/* the handler may still be opening the stream: wait for it */
	pthread_mutex_lock(&k->mu);
	pthread_mutex_unlock(&k->mu);
	return call_gone(k);
}

/* The whole answer (non-streamed). */
static json_t *full_answer(struct call *k)
{
	json_t *chs = json_array();
	for (int i = 0; i < k->r.n; i++) {
		struct choice *c = &k->ch[i];
		json_t *lp = json_null();
		if (c->logprobs)
			lp = k->r.chat ? json_pack("{s:O}", "content", c->logprobs) : json_pack("{s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs");
		if (!k->r.chat && c->logprobs) {
			size_t j;
			json_t *e;
			json_array_foreach(c->logprobs, j, e) {
				json_array_append(json_object_get(lp, "tokens"), json_object_get(e, "token"));
				json_array_append(json_object_get(lp, "token_logprobs"), json_object_get(e, "logprob"));
				json_array_append_new(json_object_get(lp, "top_logprobs"), json_object());
			}
		}
		const char *t = c->text.data ? c->text.data : "";
		if (k->r.chat)
			json_array_append_new(chs, json_pack("{s:i, s:{s:s, s:s%, s:n}, s:o, s:s}", "index", i, "message",
							     "role", "assistant", "content", t, c->text.len, "refusal",
							     "logprobs", lp, "finish_reason", finish_name(c->finish)));
		else
			json_array_append_new(chs, json_pack("{s:i, s:s%, s:o, s:s}", "index", i, "text", t, c->text.len,
							     "logprobs", lp, "finish_reason", finish_name(c->finish)));
	}
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o}", "id", k->id, "object",
			 k->r.chat ? "chat.completion" : "text_completion", "created", (json_int_t)k->created, "model",
			 k->model, "system_fingerprint", FINGERPRINT, "choices", chs, "usage",
			 usage_json(k->n_prompt, k->n_gen, k->n_cached));
}

/* One usage row (USE-1) and the charge: settle what was done, release on
 * failure or cancellation. Tokens only; never text. */
static void meter(struct app *app, const char *owner, const char *endpoint, const char *model, const char *key_id,
		  const char *end_user, int64_t prompt, int64_t completion, int status, uint64_t start_ns,
		  int64_t hold, int64_t cost)
{
	if (hold > 0) {
		int rc = status == 200 ? credits_settle(app->db, hold, cost, model) : credits_release(app->db, hold);
		if (rc)
			log_error("textapi.charge", "\"error\":\"%s\"", err_str(rc));
	}
	struct store_usage u = {
		.owner = owner,
		.endpoint = endpoint,
		.model = model,
		.key_id = key_id,
		.end_user = end_user,
		.prompt_tokens = prompt,
		.completion_tokens = completion,
		.status = status,
		.latency_ms = (int64_t)((time_mono_ns() - start_ns) / 1000000),
		.cost = status == 200 ? cost : 0,
	};
	int rc = usage_record(app->db, &u);
	if (rc)
		log_error("textapi.usage", "\"error\":\"%s\"", err_str(rc));
}

static void free_call(struct call *k)
{
	for (int i = 0; i < TEXTREQ_MAX_N; i++) {
		buf_free(&k->ch[i].text);
		json_decref(k->ch[i].logprobs);
	}
	json_decref(k->body);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

static void finish_call(struct call *k)
{
	bool gone = call_gone(k);
	int status = k->failed ? 500 : gone ? 499 : 200;
	int64_t cost = textreq_cost(k->n_prompt * (int64_t)k->r.n, k->price_p, k->n_gen, k->price_c);
	meter(k->app, k->owner, k->endpoint, k->model, k->key_id, k->end_user, k->n_prompt * (int64_t)k->r.n, k->n_gen,
	      status, k->start_ns, k->hold, cost);
	if (!gone) {
		if (k->r.stream) {
			if (k->failed)
				send_event(k, json_pack("{s:{s:s, s:s, s:s}}", "error", "message", "the model failed",
							"type", "server_error", "code", "engine_error"));
			if (k->r.include_usage) {
				json_t *v = chunk_base(k);
				json_object_set_new(v, "usage", usage_json(k->n_prompt * (uint32_t)k->r.n, k->n_gen, k->n_cached));
				send_event(k, v);
			}
			http_stream_event(k->s, NULL, "[DONE]");
		}
	}
	if (!k->r.stream) {
		/* the real status: a failure is a 500, not an error under a 200 */
		if (k->failed)
			http_deferred_error(k->d, 500, "server_error", "engine_error", NULL, "the model failed");
		else if (gone)
			http_deferred_error(k->d, 499, "invalid_request_error", "client_closed", NULL, "the client left");
		else {
			json_t *v = full_answer(k);
			json_object_set_new(v, "usage", usage_json(k->n_prompt * (uint32_t)k->r.n, k->n_gen, k->n_cached));
			http_deferred_json(k->d, 200, v);
		}
		k->d = NULL;
	}
	http_stream_close(k->s);
	free_call(k);
}

static void on_done(void *ud, int index, enum llm_finish f, uint32_t n_gen, uint32_t n_cached, int rc)
{
	struct call *k = ud;
	pthread_mutex_lock(&k->mu);
	pthread_mutex_unlock(&k->mu);
	k->ch[index].finish = f;
	k->n_gen += n_gen;
	k->n_cached += n_cached;
	if (rc)
		k->failed = true;
	if (k->r.stream && !rc && f != LLM_FINISH_CANCEL && !on_gone(k)) {
		json_t *v = chunk_base(k);
		json_array_append_new(json_object_get(v, "choices"),
				      k->r.chat ? json_pack("{s:i, s:{}, s:n, s:s}", "index", index, "delta", "logprobs",
							    "finish_reason", finish_name(f))
						: json_pack("{s:i, s:s, s:n, s:s}", "index", index, "text", "", "logprobs",
							    "finish_reason", finish_name(f)));
		send_event(k, v);
	}
	if (--k->left == 0)
		finish_call(k);
}

static const struct textgen_cb callbacks = {on_text, on_gone, on_done};

/* --- handlers -------------------------------------------------------------- */

static void end_user_hash(struct app *app, const char *owner, const char *user, char out[CRYPTO_HASH_HEX])
{
	out[0] = '\0';
	if (!user)
		return;
	/* scoped per customer: the same `user` of two customers hashes apart */
	char buf[40 + 1 + TEXTREQ_MAX_USER + 1];
	int n = snprintf(buf, sizeof buf, "%s\x1f%s", owner, user);
	crypto_blind_index(app->keys, out, buf, (size_t)n);
}

/* Refuse before any work: a usage row with the status, no charge. */
static void refuse(struct http_request *req, struct http_response *res, struct app *app, const struct textreq *r,
		   const char *endpoint, int rc, struct errinfo *e)
{
	char eu[CRYPTO_HASH_HEX];
	end_user_hash(app, req->who.user_id, r->user, eu);
	api_error(res, rc, e);
	meter(app, req->who.user_id, endpoint, r->model ? r->model : "", req->who.key_id, eu, 0, 0,
	      api_status_for(rc), req->start_ns, 0, 0);
}

static void generate(struct http_request *req, struct http_response *res, void *ctx, bool chat)
{
	struct app *app = ctx;
	const char *endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
	struct textreq r;
	struct errinfo e = {0};
	int rc = textreq_parse(req->json, chat, &r, &e);
	if (rc)
		return refuse(req, res, app, &r, endpoint, rc, &e);
	struct textmodel *m = textmodels_find(app->text, r.model);
	if (!m) {
		http_error(res, 404, "invalid_request_error", "model_not_found", "model",
			   "The model '%.64s' does not exist; GET /v1/models lists the models", r.model);
		meter(app, req->who.user_id, endpoint, "", req->who.key_id, "", 0, 0, 404, req->start_ns, 0, 0);
		return;
	}
	if (!m->available) {
		err_set(&e, ERR_BUSY, "model", "the model '%s' is unavailable: %s", m->cfg.name, m->reason);
		return refuse(req, res, app, &r, endpoint, ERR_BUSY, &e);
	}
	if (!m->gen) {
		char eu[CRYPTO_HASH_HEX];
		end_user_hash(app, req->who.user_id, r.user, eu);
		upstream_forward(req, res, app, &m->cfg, &r, endpoint, eu);
		return;
	}
	int32_t *ids = NULL;
	size_t n_ids = 0;
	rc = chat ? textgen_encode_chat(m->gen, r.msgs, r.n_msgs, &ids, &n_ids, &e)
		  : textgen_encode_text(m->gen, r.prompt, strlen(r.prompt), &ids, &n_ids, &e);
	if (rc)
		return refuse(req, res, app, &r, endpoint, rc, &e);
	uint32_t n_ctx = textgen_n_ctx(m->gen);
	if (n_ids + 1 > n_ctx) {
		free(ids);
		http_error(res, 400, "invalid_request_error", "context_length_exceeded", "messages",
			   "This model's maximum context length is %u tokens; the prompt has %zu tokens", n_ctx, n_ids);
		meter(app, req->who.user_id, endpoint, r.model, req->who.key_id, "", (int64_t)n_ids, 0, 400,
		      req->start_ns, 0, 0);
		return;
	}
	int64_t room = (int64_t)n_ctx - (int64_t)n_ids;
	int64_t max_tokens = r.max_tokens && r.max_tokens < room ? r.max_tokens : room;

	struct call *k = calloc(1, sizeof *k);
	if (!k) {
		free(ids);
		http_error(res, 500, "server_error", NULL, NULL, "out of memory");
		return;
	}
	pthread_mutex_init(&k->mu, NULL);
	k->app = app;
	k->gen = m->gen;
	k->r = r;
	k->body = json_incref(req->json);
	k->n_prompt = (uint32_t)n_ids;
	k->price_p = m->cfg.price_prompt;
	k->price_c = m->cfg.price_completion;
	k->start_ns = req->start_ns;
	k->created = time_now();
	k->left = r.n;
	char tok[CRYPTO_TOKEN_CHARS];
	crypto_token(tok, sizeof tok, "");
	snprintf(k->id, sizeof k->id, "%s%.29s", chat ? "chatcmpl-" : "cmpl-", tok);
	snprintf(k->model, sizeof k->model, "%s", m->cfg.name);
	snprintf(k->endpoint, sizeof k->endpoint, "%s", endpoint);
	snprintf(k->owner, sizeof k->owner, "%s", req->who.user_id);
	snprintf(k->key_id, sizeof k->key_id, "%s", req->who.key_id);
	end_user_hash(app, req->who.user_id, r.user, k->end_user);
	for (int i = 0; i < r.n; i++) {
		buf_init(&k->ch[i].text, 1 << 24);
		if (r.logprobs)
			k->ch[i].logprobs = json_array();
	}

	/* the charge point: reserve the worst case before any work (PAY-5);
	 * a zero price passes through here too and holds nothing */
	int64_t worst = textreq_cost((int64_t)n_ids * r.n, k->price_p, max_tokens * r.n, k->price_c);
	if (worst > 0) {
		char idem[64];
		snprintf(idem, sizeof idem, "gen:%s", k->id);
		rc = credits_reserve(app->db, k->owner, worst, idem, &k->hold);
		if (rc) {
			free(ids);
			free_call(k);
			err_set(&e, rc, NULL, rc == ERR_PAYMENT ? "Your balance does not cover this request (up to %" PRId64 " micro-credits); add credits or lower max_tokens" : "cannot reserve credits", worst);
			return refuse(req, res, app, &r, endpoint, rc, &e);
		}
	}

	struct textgen_params p = {.max_tokens = (uint32_t)max_tokens, .n_stop = r.n_stop, .want_logprob = r.logprobs,
				     .want_logits = r.top_logprobs > 0};
	sampler_params_default(&p.sp);
	p.sp.temperature = (float)r.temperature;
	p.sp.top_p = (float)r.top_p;
	p.sp.top_k = 0;
	p.sp.min_p = 0;
	p.sp.presence_penalty = (float)r.presence_penalty;
	p.sp.frequency_penalty = (float)r.frequency_penalty;
	if (r.has_seed)
		p.sp.seed = (uint64_t)r.seed;
	else
		crypto_random(&p.sp.seed, sizeof p.sp.seed);
	for (size_t i = 0; i < r.n_stop; i++)
		p.stop[i] = r.stop[i];
	/* a cached prompt is reused by the same account, and within an API
	 * customer's account by the same end user only */
	snprintf(p.cache_key, sizeof p.cache_key, "%s\x1f%s", k->owner, k->end_user);

	pthread_mutex_lock(&k->mu);
	rc = textgen_submit(m->gen, ids, n_ids, r.n, &p, &callbacks, k, &e);
	free(ids);
	if (rc) {
		pthread_mutex_unlock(&k->mu);
		if (k->hold)
			credits_release(app->db, k->hold);
		free_call(k);
		if (rc == ERR_BUSY)
			http_set_header(res, "Retry-After", "1");
		return refuse(req, res, app, &r, endpoint, rc, &e);
	}
	if (r.stream)
		k->s = http_stream_open(req, res, 200, "text/event-stream");
	else
		k->d = http_defer(req, res); /* answered whole, with its real status */
	if (!k->s && !k->d)
		k->failed = true; /* the callbacks see a gone client and cancel */
	pthread_mutex_unlock(&k->mu);
}

static void chat_completions(struct http_request *req, struct http_response *res, void *ctx)
{
	generate(req, res, ctx, true);
}

static void completions(struct http_request *req, struct http_response *res, void *ctx)
{
	generate(req, res, ctx, false);
}

static void models(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	json_t *data = json_array();
	for (int i = 0; app->text && i < app->text->n; i++) {
		struct textmodel *m = &app->text->m[i];
		bool up = m->available;
		const char *why = m->reason;
		if (up && !m->gen && !upstream_alive(&m->cfg)) {
			up = false;
			why = "the upstream server does not answer";
		}
		json_t *x = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:{s:s, s:s}}", "id", m->cfg.name, "object", "model",
				      "created", (json_int_t)app->started_at, "owned_by", "atelier", "backend",
				      m->cfg.backend, "available", up, "pricing", "prompt_per_1k", "", "completion_per_1k", "");
		char p[32];
		snprintf(p, sizeof p, "%" PRId64, m->cfg.price_prompt);
		json_object_set_new(json_object_get(x, "pricing"), "prompt_per_1k", json_string(p));
		snprintf(p, sizeof p, "%" PRId64, m->cfg.price_completion);
		json_object_set_new(json_object_get(x, "pricing"), "completion_per_1k", json_string(p));
		if (m->gen)
			json_object_set_new(x, "context_length", json_integer(textgen_n_ctx(m->gen)));
		if (!up)
			json_object_set_new(x, "unavailable_reason", json_string(why));
		json_array_append_new(data, x);
	}
	/* image models (GEN-8): their one size and their prices */
	for (int i = 0; i < imagejobs_count(app->images); i++) {
		const struct imagemodel *m = imagejobs_model(app->images, i);
		char size[32], pi[32], ps[32];
		snprintf(size, sizeof size, "%dx%d", m->size, m->size);
		snprintf(pi, sizeof pi, "%" PRId64, m->cfg.price_image);
		snprintf(ps, sizeof ps, "%" PRId64, m->cfg.price_step);
		json_t *x = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:b, s:[s], s:{s:s, s:s, s:i}}", "id", m->cfg.name,
				      "object", "model", "created", (json_int_t)app->started_at, "owned_by", "atelier",
				      "kind", "image", "backend", m->cfg.backend, "available", m->available, "sizes", size,
				      "pricing", "image", pi, "step_beyond_base", ps, "base_steps", IMAGEJOBS_BASE_STEPS);
		if (!m->available)
			json_object_set_new(x, "unavailable_reason", json_string(m->reason));
		json_array_append_new(data, x);
	}
	http_json(res, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

const struct route api_chat_routes[] = {
	{"GET", "/v1/models", models, GUARD_USER, SCOPE_GENERATE, RL_READ, 0, "the models on offer, with availability"},
	{"POST", "/v1/chat/completions", chat_completions, GUARD_USER, SCOPE_GENERATE, RL_GENERATE, ROUTE_JSON,
	 "chat completion (OpenAI-compatible; stream: true for server-sent events)"},
	{"POST", "/v1/completions", completions, GUARD_USER, SCOPE_GENERATE, RL_GENERATE, ROUTE_JSON,
	 "text completion (OpenAI-compatible)"},
	{0},
};
