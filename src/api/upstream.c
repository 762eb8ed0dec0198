/*
 * upstream.c: forwarding to an OpenAI-compatible upstream server.
 *
 * The pool thread hands the call to a worker (a cached thread:
 * base/tcache.h) and waits only until the upstream's first response bytes
 * arrive (its status is then known), opens the client's stream with that
 * status and returns; the worker copies the rest as it comes. SSE events are taken apart so the model name is ours, the
 * usage chunk (always asked of the upstream, for metering) reaches the
 * client only when it asked for it, and the tokens are counted. A client
 * that leaves aborts the upstream transfer (the write callback fails).
 * Rejected: waiting for the whole answer on the pool thread (holds a thread
 * per generation) and a libcurl multi loop (one more event loop to own, for
 * no gain at the concurrency one node serves).
 */
#include "api/upstream.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "base/tcache.h"
#include "base/timeutil.h"
#include "service/credits.h"
#include "service/usage.h"

struct fwd {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	int phase;               /* 0: waiting, 1: first bytes (status known), 2: ended before any byte */
	long status;
	bool sse;                /* upstream answers with text/event-stream */
	bool passthrough;        /* a non-streamed answer over WHOLE_MAX: copied as it comes */
	struct http_stream *s;   /* set by the handler after phase 1 */
	struct http_deferred *d; /* a non-streamed request: answered whole at the end */
	bool too_long;           /* d: the answer passed WHOLE_MAX */
	bool opened;
	char url[CONFIG_STR + 64], auth[CONFIG_STR + 32], model[64];
	char *body;
	bool want_usage, stream;
	struct buf line, whole;
	int64_t prompt, completion, hold, price_p, price_c;
	struct app *app;
	char owner[40], key_id[48], endpoint[32], end_user[80];
	uint64_t start_ns;
	char curl_err[CURL_ERROR_SIZE];
	CURL *curl;
};

static void unref(struct fwd *f)
{
	pthread_mutex_lock(&f->mu);
	int left = --f->refs;
	pthread_mutex_unlock(&f->mu);
	if (left)
		return;
	free(f->body);
	buf_free(&f->line);
	buf_free(&f->whole);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}

static void take_usage(struct fwd *f, const json_t *u)
{
	if (!json_is_object(u))
		return;
	f->prompt = json_integer_value(json_object_get(u, "prompt_tokens"));
	f->completion = json_integer_value(json_object_get(u, "completion_tokens"));
}

/* One complete SSE line from the upstream. Returns nonzero to abort. */
static int sse_line(struct fwd *f, const char *l, size_t n)
{
	if (n < 6 || memcmp(l, "data: ", 6))
		return 0;
	l += 6;
	n -= 6;
	if (n == 6 && !memcmp(l, "[DONE]", 6))
		return http_stream_event(f->s, NULL, "[DONE]") ? 1 : 0;
	json_t *v = json_loadb(l, n, 0, NULL);
	if (!v)
		return 0;
	const json_t *u = json_object_get(v, "usage");
	if (json_is_object(u))
		take_usage(f, u);
	int rc = 0;
	if (json_is_object(u) && !f->want_usage && !json_array_size(json_object_get(v, "choices"))) {
		json_decref(v);
		return http_stream_gone(f->s);
	}
	if (!f->want_usage)
		json_object_del(v, "usage");
	if (json_object_get(v, "model"))
		json_object_set_new(v, "model", json_string(f->model));
	char *s = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (s)
		rc = http_stream_event(f->s, NULL, s);
	free(s);
	return rc ? 1 : 0;
}

#define WHOLE_MAX (16u << 20) /* a non-streamed answer kept whole */

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct fwd *f = ud;
	size_t n = sz * nm;
	pthread_mutex_lock(&f->mu);
	if (f->phase == 0) {
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->status);
		f->phase = 1;
		pthread_cond_broadcast(&f->cv);
	}
	while (!f->opened)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	if (f->d) {
		/* kept whole for the deferred answer; past WHOLE_MAX given up */
		if (f->whole.len + n > WHOLE_MAX) {
			f->too_long = true;
			return 0;
		}
		return buf_append(&f->whole, p, n) ? 0 : n;
	}
	if (!f->s || http_stream_gone(f->s))
		return 0;
	if (f->status == 401 || f->status == 403)
		return n; /* the handler answered 502 itself */
	if (!f->sse || f->status != 200) {
		if (!f->passthrough && f->whole.len + n <= WHOLE_MAX) {
			/* kept whole, sent at the end: errors as they are, a 200
			 * answer with our model name */
			return buf_append(&f->whole, p, n) ? 0 : n;
		}
		if (f->status != 200)
			return n; /* an error body this long is cut at WHOLE_MAX */
		/* too long to keep: what is kept, then the rest, as they are */
		if (!f->passthrough) {
			f->passthrough = true;
			if (f->whole.len && http_stream_write(f->s, f->whole.data, f->whole.len))
				return 0;
		}
		return http_stream_write(f->s, p, n) ? 0 : n;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			int rc = sse_line(f, f->line.data ? f->line.data : "", f->line.len);
			f->line.len = 0;
			if (rc)
				return 0;
		} else if (p[i] != '\r' && buf_append(&f->line, p + i, 1)) {
			return 0;
		}
	}
	return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct fwd *f = ud;
	size_t n = sz * nm;
	if (n > 13 && !strncasecmp(p, "content-type:", 13) && memmem(p, n, "text/event-stream", 17))
		f->sse = true;
	return n;
}

/* One connection cache for every upstream request, so a gateway keeps its
 * connections to each upstream open between requests instead of paying a
 * TCP (and TLS) handshake each time. libcurl calls the lock functions around
 * the shared cache. */
static CURLSH *share;
static pthread_once_t share_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	pthread_mutex_lock(&share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u)
{
	pthread_mutex_unlock(&share_mu[d]);
}

static void share_init(void)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_mu[i], NULL);
	share = curl_share_init();
	if (!share)
		return;
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

/* A non-streamed request's answer, from the whole upstream answer: *out
 * (its body, an OpenAI error for a failure) and the status, which the usage
 * row records too. Sent after the charge and the usage row, so a client that
 * has its answer finds both. */
static json_t *fail_value(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *fail_value(const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return http_error_value("server_error", code, NULL, msg);
}

static int answer_whole(struct fwd *f, CURLcode cc, json_t **out)
{
	if (f->too_long) {
		*out = fail_value("upstream_error", "The upstream server of model '%s' gave an answer over %u MiB", f->model,
				  WHOLE_MAX >> 20);
		return 502;
	}
	if (f->phase == 0 || f->phase == 2) {
		if (cc != CURLE_OK && f->status == 0) {
			*out = fail_value("upstream_unavailable",
					  "The upstream server of model '%s' cannot be reached; try again later", f->model);
			return 503;
		}
		*out = fail_value("upstream_error", "The upstream server of model '%s' gave an empty answer (HTTP %ld)",
				  f->model, f->status);
		return 502;
	}
	if (f->status == 401 || f->status == 403) {
		*out = fail_value("upstream_auth", "the upstream server refused this server's credentials");
		return 502;
	}
	if (cc != CURLE_OK) {
		*out = fail_value("upstream_error", "The upstream server of model '%s' stopped answering", f->model);
		return 502;
	}
	json_t *v = json_loadb(f->whole.data ? f->whole.data : "", f->whole.len, 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		*out = fail_value("upstream_error", "The upstream server of model '%s' answered HTTP %ld with no JSON object",
				  f->model, f->status);
		return 502;
	}
	int status = f->status >= 200 && f->status <= 599 ? (int)f->status : 502;
	if (status == 200) {
		take_usage(f, json_object_get(v, "usage"));
		if (json_object_get(v, "model"))
			json_object_set_new(v, "model", json_string(f->model)); /* ours, as in streams */
	}
	*out = v; /* errors as the upstream gave them (the OpenAI shape) */
	return status;
}

/* The threads that wait on upstream calls, kept a minute when idle. */
static struct tcache workers = TCACHE_INIT(60000);

static void work(void *arg)
{
	struct fwd *f = arg;
	uint64_t t_start = time_mono_ns(), t_done = 0;
	CURL *c = curl_easy_init();
	pthread_once(&share_once, share_init);
	if (c && share)
		curl_easy_setopt(c, CURLOPT_SHARE, share);
	struct curl_slist *h = NULL;
	CURLcode cc = CURLE_FAILED_INIT;
	f->curl = c;
	if (c) {
		h = curl_slist_append(h, "Content-Type: application/json");
		if (f->auth[0])
			h = curl_slist_append(h, f->auth);
		curl_easy_setopt(c, CURLOPT_URL, f->url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, f->body);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
		curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->curl_err);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		cc = curl_easy_perform(c);
		t_done = time_mono_ns();
		long st = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
		pthread_mutex_lock(&f->mu);
		if (f->phase == 0) {
			/* no body at all: connection failed, or an empty answer */
			f->status = st;
			f->phase = 2;
			pthread_cond_broadcast(&f->cv);
			while (!f->opened)
				pthread_cond_wait(&f->cv, &f->mu);
		}
		pthread_mutex_unlock(&f->mu);
	}
	int status;
	json_t *whole = NULL;
	if (f->d)
		status = answer_whole(f, cc, &whole);
	else if (!f->s)
		status = cc == CURLE_OK ? (int)f->status : 503;
	else if (http_stream_gone(f->s))
		status = 499;
	else
		status = cc == CURLE_OK ? (int)f->status : 502;
	if (f->s && !http_stream_gone(f->s)) {
		if (f->status != 200 && f->status != 401 && f->status != 403 && f->whole.len)
			http_stream_write(f->s, f->whole.data, f->whole.len);
		else if (f->status == 200 && !f->sse && !f->passthrough) {
			json_t *v = json_loadb(f->whole.data ? f->whole.data : "", f->whole.len, 0, NULL);
			take_usage(f, json_object_get(v, "usage"));
			char *out = NULL;
			if (json_is_object(v) && json_object_get(v, "model")) {
				json_object_set_new(v, "model", json_string(f->model)); /* ours, as in streams */
				out = json_dumps(v, JSON_COMPACT);
			}
			if (out)
				http_stream_write(f->s, out, strlen(out));
			else if (f->whole.len) /* not JSON we can edit: as it came */
				http_stream_write(f->s, f->whole.data, f->whole.len);
			free(out);
			json_decref(v);
		}
		if (cc != CURLE_OK && f->status == 200 && f->sse)
			http_stream_event(f->s, NULL, "{\"error\":{\"message\":\"the upstream server stopped answering\",\"type\":\"server_error\",\"code\":\"upstream_error\"}}");
	}
	if (cc != CURLE_OK)
		log_warn("upstream.failed", "\"model\":\"%s\",\"error\":\"%s\"", log_str(f->model), curl_easy_strerror(cc));
	if (f->hold) {
		int64_t cost = textreq_cost(f->prompt, f->price_p, f->completion, f->price_c);
		int rc = status == 200 ? credits_settle(f->app->db, f->hold, cost, f->model)
				       : credits_release(f->app->db, f->hold);
		if (rc)
			log_error("textapi.charge", "\"error\":\"%s\"", err_str(rc));
	}
	struct store_usage u = {
		.owner = f->owner,
		.endpoint = f->endpoint,
		.model = f->model,
		.key_id = f->key_id,
		.end_user = f->end_user,
		.prompt_tokens = f->prompt,
		.completion_tokens = f->completion,
		.status = status,
		.latency_ms = (int64_t)((time_mono_ns() - f->start_ns) / 1000000),
		.cost = status == 200 ? textreq_cost(f->prompt, f->price_p, f->completion, f->price_c) : 0,
	};
	usage_record(f->app->db, &u);
	if (f->d) {
		http_deferred_json(f->d, status, whole);
		f->d = NULL;
	}
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	http_stream_close(f->s);
	/* our own time: before the call, and after the upstream's answer ended */
	if (t_done)
		metrics_upstream_overhead((t_start - f->start_ns) + (time_mono_ns() - t_done));
	unref(f);
}

void upstream_forward(struct http_request *req, struct http_response *res, struct app *app,
		      const struct config_model *m, const struct textreq *r, const char *endpoint,
		      const char *end_user)
{
	struct fwd *f = calloc(1, sizeof *f);
	if (!f) {
		http_error(res, 500, "server_error", NULL, NULL, "out of memory");
		return;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->refs = 2;
	f->app = app;
	f->start_ns = req->start_ns;
	f->stream = r->stream;
	f->want_usage = r->include_usage;
	f->price_p = m->price_prompt;
	f->price_c = m->price_completion;
	buf_init(&f->line, 1 << 20);
	buf_init(&f->whole, WHOLE_MAX);
	snprintf(f->model, sizeof f->model, "%s", m->name);
	snprintf(f->owner, sizeof f->owner, "%s", req->who.user_id);
	snprintf(f->key_id, sizeof f->key_id, "%s", req->who.key_id);
	snprintf(f->endpoint, sizeof f->endpoint, "%s", endpoint);
	snprintf(f->end_user, sizeof f->end_user, "%s", end_user);
	size_t bl = strlen(m->base_url);
	while (bl && m->base_url[bl - 1] == '/')
		bl--;
	snprintf(f->url, sizeof f->url, "%.*s%s", (int)bl, m->base_url, endpoint + 3); /* drop "/v1" */
	if (m->api_key[0])
		snprintf(f->auth, sizeof f->auth, "Authorization: Bearer %s", m->api_key);

	json_t *b = json_deep_copy(req->json);
	json_object_set_new(b, "model", json_string(m->upstream_model[0] ? m->upstream_model : m->name));
	/* The end user's identity stays here. The upstream gets a pseudonym of
	 * the caller instead (a keyed hash of account and end user: the same
	 * caller always the same, nothing else to learn from it), so an
	 * upstream that caches prompts per `user`, as Atelier does, never
	 * reuses one caller's prompt for another, and cannot be used to time
	 * someone else's. */
	char pseudo[CRYPTO_HASH_HEX], who[40 + 1 + CRYPTO_HASH_HEX + 16];
	int wn = snprintf(who, sizeof who, "upstream-user\x1f%s\x1f%s", req->who.user_id, end_user);
	crypto_blind_index(app->keys, pseudo, who, wn < 0 ? 0 : (size_t)wn >= sizeof who ? sizeof who - 1 : (size_t)wn);
	json_object_set_new(b, "user", json_pack("s+", "atelier-", pseudo));
	if (r->stream)
		json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
	f->body = json_dumps(b, JSON_COMPACT);
	json_decref(b);

	/* worst case before any work: every byte of the body a token */
	int64_t mt = r->max_tokens ? r->max_tokens : 4096;
	int64_t worst = textreq_cost((int64_t)req->body.len, f->price_p, mt * r->n, f->price_c);
	if (worst > 0) {
		char idem[64];
		snprintf(idem, sizeof idem, "up:%s:%" PRIu64, req->id, req->start_ns);
		int rc = credits_reserve(app->db, f->owner, worst, idem, &f->hold);
		if (rc) {
			struct errinfo e = {0};
			err_set(&e, rc, NULL, "%s", rc == ERR_PAYMENT ? "Your balance does not cover this request; add credits or lower max_tokens" : "cannot reserve credits");
			api_error(res, rc, &e);
			struct store_usage u = {.owner = f->owner, .endpoint = endpoint, .model = f->model,
						.key_id = f->key_id, .end_user = f->end_user, .status = api_status_for(rc),
						.latency_ms = (int64_t)((time_mono_ns() - f->start_ns) / 1000000)};
			usage_record(app->db, &u);
			f->refs = 1;
			unref(f);
			return;
		}
	}
	if (!r->stream) {
		/* answered whole when the upstream's answer has ended: the
		 * connection sleeps meanwhile, holding no server thread */
		f->opened = true;
		if (f->body && !(f->d = http_defer(req, res))) {
			if (f->hold)
				credits_release(app->db, f->hold);
			f->refs = 1;
			unref(f);
			return; /* res is a 500 */
		}
	}
	if (!f->body || tcache_run(&workers, work, f)) {
		if (f->hold)
			credits_release(app->db, f->hold);
		f->refs = 1;
		if (f->d)
			http_deferred_error(f->d, 500, "server_error", NULL, NULL, "cannot start the upstream request");
		else
			http_error(res, 500, "server_error", NULL, NULL, "cannot start the upstream request");
		unref(f);
		return;
	}
	if (!r->stream) {
		unref(f);
		return;
	}
	pthread_mutex_lock(&f->mu);
	while (f->phase == 0)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->phase == 2 && f->status == 0) {
		http_error(res, 503, "server_error", "upstream_unavailable", NULL,
			   "The upstream server of model '%s' cannot be reached; try again later", f->model);
	} else if (f->phase == 2) {
		http_error(res, 502, "server_error", "upstream_error", NULL, "The upstream server of model '%s' gave an empty answer (HTTP %ld)", f->model, f->status);
	} else {
		long st = f->status;
		if (st == 0)
			st = 200;
		if (st == 401 || st == 403) {
			f->s = http_stream_open(req, res, 502, "application/json");
			const char *msg = "{\"error\":{\"message\":\"the upstream server refused this server's credentials\",\"type\":\"server_error\",\"code\":\"upstream_auth\",\"param\":null}}";
			if (f->s)
				http_stream_write(f->s, msg, strlen(msg));
		} else {
			f->s = http_stream_open(req, res, (int)st, f->sse ? "text/event-stream" : "application/json");
		}
	}
	f->opened = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	unref(f);
}

bool upstream_alive(const struct config_model *m)
{
	CURL *c = curl_easy_init();
	if (!c)
		return false;
	char url[CONFIG_STR + 16], auth[CONFIG_STR + 32];
	size_t bl = strlen(m->base_url);
	while (bl && m->base_url[bl - 1] == '/')
		bl--;
	snprintf(url, sizeof url, "%.*s/models", (int)bl, m->base_url);
	struct curl_slist *h = NULL;
	if (m->api_key[0]) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", m->api_key);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode cc = curl_easy_perform(c);
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return cc == CURLE_OK && st > 0 && st < 500;
}
