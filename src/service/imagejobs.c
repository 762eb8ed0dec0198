/*
 * imagejobs.c: image models, their job workers, and job progress (see
 * imagejobs.h). The gallery's functions are in gallery.c.
 *
 * Why the database is the queue (and not an in-memory list, as text uses):
 * an image is paid for before it is made and may take long; a job that only
 * lived in memory would be lost, with its credits held, by any restart. The
 * row is the job; the worker's memory holds only its progress.
 */
#include "service/imagejobs.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/datafile.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "engine/image/image.h"
#include "engine/image/pngio.h"
#include "service/credits.h"
#include "service/privacy.h"
#include "service/usage.h"
#include "service/vault.h"
#include "store/images.h"

#define MAX_WAITERS 256

struct progress {
	char job[40];      /* "" when idle */
	int step, steps, image_index, n;
};

struct waiter {
	char job[40];
	struct imagejob_waiter w;
};

struct worker {
	struct imagejobs *j;
	int model;         /* index into j->m */
	pthread_t th;
	bool started;
};

struct imagejobs {
	struct app *app;
	struct imagemodel m[CONFIG_MAX_MODELS];
	struct worker w[CONFIG_MAX_MODELS];
	struct progress prog[CONFIG_MAX_MODELS];
	int n;
	pthread_mutex_t mu;     /* guards prog, waiters, stop */
	pthread_cond_t cv;      /* a job was queued, or stop */
	struct waiter waiters[MAX_WAITERS];
	int nwaiters;
	bool stop;
};

/* --- models ----------------------------------------------------------------- */

/* The committed default: the working directory (a checkout), beside the
 * binary (build/../models) or an install prefix; ATELIER_DEFAULT_IMAGE_MODEL
 * first. */
static bool find_default(char *out, size_t n)
{
	return datafile_find("ATELIER_DEFAULT_IMAGE_MODEL", "shapes-diffusion.safetensors", out, n);
}

static void load(struct imagemodel *m)
{
	if (strcmp(m->cfg.backend, "builtin")) {
		m->available = m->cfg.base_url[0] != '\0';
		m->size = m->cfg.size ? (int)m->cfg.size : 1024;
		if (!m->available)
			snprintf(m->reason, sizeof m->reason, "no base_url configured");
		return;
	}
	struct errinfo e = {0};
	int rc = image_model_open(&m->engine, m->cfg.path, (int)m->cfg.threads, &e);
	if (rc) {
		snprintf(m->reason, sizeof m->reason, "cannot load the model file: %s", e.msg[0] ? e.msg : err_str(rc));
		log_error("imagemodel.unavailable", "\"model\":\"%s\",\"reason\":\"%s\"", log_str(m->cfg.name),
			  log_str(m->reason));
		return;
	}
	m->size = image_model_size(m->engine);
	m->available = true;
	log_info("imagemodel.loaded", "\"model\":\"%s\",\"size\":%d", log_str(m->cfg.name), m->size);
}

int imagejobs_count(const struct imagejobs *j)
{
	return j ? j->n : 0;
}

const struct imagemodel *imagejobs_model(const struct imagejobs *j, int i)
{
	return j && i >= 0 && i < j->n ? &j->m[i] : NULL;
}

const struct imagemodel *imagejobs_find(const struct imagejobs *j, const char *name)
{
	if (!j || !j->n)
		return NULL;
	if (!name || !name[0])
		return &j->m[0];
	for (int i = 0; i < j->n; i++)
		if (!strcmp(j->m[i].cfg.name, name))
			return &j->m[i];
	return NULL;
}

int64_t imagejobs_cost(const struct config_model *m, int n, int steps)
{
	int64_t extra = steps > IMAGEJOBS_BASE_STEPS ? steps - IMAGEJOBS_BASE_STEPS : 0;
	return (int64_t)n * (m->price_image + m->price_step * extra);
}

/* --- waiters and progress ----------------------------------------------------- */

static void set_progress(struct imagejobs *j, int mi, const char *job, int step, int steps, int image_index, int n)
{
	struct imagejob_waiter w = {0};
	pthread_mutex_lock(&j->mu);
	struct progress *p = &j->prog[mi];
	snprintf(p->job, sizeof p->job, "%s", job ? job : "");
	p->step = step;
	p->steps = steps;
	p->image_index = image_index;
	p->n = n;
	for (int i = 0; job && i < j->nwaiters; i++)
		if (!strcmp(j->waiters[i].job, job))
			w = j->waiters[i].w;
	pthread_mutex_unlock(&j->mu);
	if (w.progress)
		w.progress(w.arg, step, steps, image_index, n);
}

/* Take the waiter of job (if any) out of the list. */
static bool take_waiter(struct imagejobs *j, const char *job, struct imagejob_waiter *out)
{
	bool found = false;
	pthread_mutex_lock(&j->mu);
	for (int i = 0; i < j->nwaiters; i++)
		if (!strcmp(j->waiters[i].job, job)) {
			*out = j->waiters[i].w;
			j->waiters[i] = j->waiters[--j->nwaiters];
			found = true;
			break;
		}
	pthread_mutex_unlock(&j->mu);
	return found;
}

/* --- running a job --------------------------------------------------------------- */

struct run {
	struct imagejobs *j;
	int mi;
	const char *job;
	int image_index, n;
};

static int on_step(void *arg, int done, int total)
{
	struct run *r = arg;
	set_progress(r->j, r->mi, r->job, done, total, r->image_index, r->n);
	pthread_mutex_lock(&r->j->mu);
	bool stop = r->j->stop;
	pthread_mutex_unlock(&r->j->mu);
	return stop;
}

static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
	return buf_append(ud, p, sz * nm) ? 0 : sz * nm;
}

/* The upstream's POST {base_url}/images/generations with b64_json; each
 * PNG into pngs[i]. */
static int run_upstream(const struct imagemodel *m, const char *prompt, const char *negative, int n,
			const json_t *params, struct buf *pngs, struct errinfo *e)
{
	char url[CONFIG_STR + 32], auth[CONFIG_STR + 32] = "", size[32];
	size_t bl = strlen(m->cfg.base_url);
	while (bl && m->cfg.base_url[bl - 1] == '/')
		bl--;
	snprintf(url, sizeof url, "%.*s/images/generations", (int)bl, m->cfg.base_url);
	if (m->cfg.api_key[0])
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", m->cfg.api_key);
	snprintf(size, sizeof size, "%dx%d", m->size, m->size);
	json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "model",
				 m->cfg.upstream_model[0] ? m->cfg.upstream_model : m->cfg.name, "prompt", prompt, "n", n,
				 "size", size, "response_format", "b64_json");
	/* our extensions travel too: an OpenAI-compatible server ignores or refuses them */
	const char *ext[] = {"seed", "steps", "guidance", "sampler"};
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		json_t *v = json_object_get(params, ext[i]);
		if (v)
			json_object_set(body, ext[i], v);
	}
	if (negative && negative[0])
		json_object_set_new(body, "negative_prompt", json_string(negative));
	char *txt = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct buf out;
	buf_init(&out, 64u << 20);
	int rc = ERR_OK;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	if (!c || !txt) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	if (auth[0])
		h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, txt);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode cc = curl_easy_perform(c);
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	if (cc != CURLE_OK) {
		rc = err_set(e, ERR_IO, NULL, "upstream_unreachable");
		goto out;
	}
	if (st != 200) {
		rc = err_set(e, ERR_IO, NULL, "upstream_http_%ld", st);
		goto out;
	}
	json_t *v = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
	json_t *data = json_object_get(v, "data");
	if (!json_is_array(data) || json_array_size(data) != (size_t)n) {
		json_decref(v);
		rc = err_set(e, ERR_CORRUPT, NULL, "upstream_bad_answer");
		goto out;
	}
	for (int i = 0; i < n && !rc; i++) {
		const char *b64 = json_string_value(json_object_get(json_array_get(data, (size_t)i), "b64_json"));
		size_t bn = b64 ? strlen(b64) : 0, len = 0;
		char *dst;
		if (!b64 || buf_extend(&pngs[i], bn, &dst) ||
		    sodium_base642bin((unsigned char *)dst, bn, b64, bn, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL)) {
			rc = err_set(e, ERR_CORRUPT, NULL, "upstream_bad_image");
			break;
		}
		pngs[i].len = len;
		/* what we store and hand out is a PNG we can read, at the size we offer */
		uint8_t *rgb = NULL;
		int w = 0, hh = 0;
		if (pngio_decode(pngs[i].data, pngs[i].len, &rgb, &w, &hh, NULL) || w != m->size || hh != m->size)
			rc = err_set(e, ERR_CORRUPT, NULL, "upstream_bad_image");
		free(rgb);
	}
	json_decref(v);
out:
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	free(txt);
	buf_free(&out);
	return rc;
}

/* MOD-1: every output passes here before it is stored or returned. The
 * moderation service is not built yet (its own issue): this is where it
 * will be called, and a refusal will fail the job and release the hold.
 * Until then it checks nothing and accepts every image. */
static int moderate_output(struct imagejobs *j, const char *owner, const struct buf *png)
{
	(void)j;
	(void)owner;
	(void)png;
	return ERR_OK; /* pending: moderation is not implemented */
}

static int64_t jint(const json_t *o, const char *k, int64_t d)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : d;
}

static double jreal(const json_t *o, const char *k, double d)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : d;
}

/* Store the images, end the job, in one transaction. ERR_NOTFOUND when the
 * job is gone (its owner was erased meanwhile): nothing is stored. */
static int store_results(struct imagejobs *j, const struct store_imagejob *job, const json_t *params,
			 const char *prompt, const char *negative, struct buf *pngs, int n, int size)
{
	struct app *app = j->app;
	int64_t now = time_now(), ttl = jint(params, "ttl", 0);
	struct buf sp, sn, spng;
	buf_init(&sp, 0);
	buf_init(&sn, 0);
	buf_init(&spng, 0);
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = store_imagejob_finish(c, job->id, "done", NULL, now)))
		goto out;
	for (int i = 0; i < n && !rc; i++) {
		struct store_image im = {0};
		char tok[CRYPTO_TOKEN_CHARS];
		crypto_token(tok, sizeof tok, "");
		snprintf(im.id, sizeof im.id, "img_%.24s", tok);
		for (char *q = im.id; *q; q++)
			if (*q == '-')
				*q = 'x';
		snprintf(im.owner, sizeof im.owner, "%s", job->owner);
		snprintf(im.job_id, sizeof im.job_id, "%s", job->id);
		snprintf(im.end_user, sizeof im.end_user, "%s", job->end_user);
		snprintf(im.model, sizeof im.model, "%s", job->model);
		const char *smp = json_string_value(json_object_get(params, "sampler"));
		snprintf(im.sampler, sizeof im.sampler, "%s", smp ? smp : "ddim");
		im.idx = i;
		im.seed = jint(params, "seed", 0) + i;
		im.width = im.height = size;
		im.steps = jint(params, "steps", 0);
		im.guidance = jreal(params, "guidance", 0);
		im.strength = job->init.len || json_object_get(params, "strength") ? jreal(params, "strength", 0) : 0;
		im.kept = ttl <= 0;
		im.expires_at = ttl > 0 ? now + ttl : 0;
		im.created_at = now;
		buf_reset(&sp);
		buf_reset(&sn);
		buf_reset(&spng);
		if ((rc = vault_seal(c, app->keys, job->owner, "image.prompt", prompt, strlen(prompt), &sp)))
			break;
		if (negative && negative[0] &&
		    (rc = vault_seal(c, app->keys, job->owner, "image.negative_prompt", negative, strlen(negative), &sn)))
			break;
		if ((rc = vault_seal(c, app->keys, job->owner, "image.png", pngs[i].data, pngs[i].len, &spng)))
			break;
		rc = store_image_insert(c, &im, sp.data, sp.len, sn.len ? sn.data : NULL, sn.len, spng.data, spng.len);
	}
	if (!rc)
		rc = db_commit(c);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&sp);
	buf_free(&sn);
	buf_free(&spng);
	return rc;
}

/* Mark a running job failed. false when it is gone (its owner was erased). */
static bool fail_job(struct db *db, const struct store_imagejob *job, const char *why)
{
	struct db_conn *c = db_get(db);
	int rc = store_imagejob_finish(c, job->id, "failed", why, time_now());
	db_put(c);
	if (rc && rc != ERR_NOTFOUND)
		log_error("imagejob.finish", "\"job\":\"%s\",\"error\":\"%s\"", job->id, err_str(rc));
	return rc != ERR_NOTFOUND;
}

/* A usage row for a job that ended (USE-1): counts, status, latency; never
 * the prompt. */
static void meter(struct db *db, const struct store_imagejob *job, int n, int status, int64_t cost, int64_t start_ms)
{
	struct store_usage u = {
		.owner = job->owner,
		.endpoint = job->endpoint,
		.model = job->model,
		.key_id = job->key_id[0] ? job->key_id : NULL,
		.end_user = job->end_user[0] ? job->end_user : NULL,
		.images = status == 200 ? n : 0,
		.status = status,
		.latency_ms = start_ms ? time_now_ms() - start_ms : 0,
		.cost = status == 200 ? cost : 0,
	};
	if (usage_record(db, &u))
		log_error("imagejob.usage", "\"job\":\"%s\"", job->id);
}

static void run_job(struct imagejobs *j, int mi, struct store_imagejob *job)
{
	struct app *app = j->app;
	const struct imagemodel *m = &j->m[mi];
	struct errinfo e = {0};
	json_t *params = json_loadb(job->params.data ? job->params.data : "{}", job->params.len, 0, NULL);
	int n = (int)jint(params, "n", 1), steps = (int)jint(params, "steps", 25);
	if (n < 1 || n > IMAGEJOBS_MAX_N)
		n = 1;
	struct buf prompt, negative, init, pngs[IMAGEJOBS_MAX_N];
	buf_init(&prompt, 0);
	buf_init(&negative, 0);
	buf_init(&init, 0);
	for (int i = 0; i < IMAGEJOBS_MAX_N; i++)
		buf_init(&pngs[i], 64u << 20);
	uint8_t *rgb = NULL;
	int rc = ERR_OK;
	bool stopped = false;
	struct db_conn *c = db_get(app->db);
	rc = vault_open(c, app->keys, job->owner, "image.prompt", job->prompt.data, job->prompt.len, &prompt);
	if (!rc && job->negative.len)
		rc = vault_open(c, app->keys, job->owner, "image.negative_prompt", job->negative.data, job->negative.len,
				&negative);
	if (!rc && job->init.len)
		rc = vault_open(c, app->keys, job->owner, "image.init", job->init.data, job->init.len, &init);
	db_put(c);
	if (!rc && (buf_append(&prompt, "", 1) || buf_append(&negative, "", 1)))
		rc = ERR_NOMEM;
	if (rc) {
		err_set(&e, rc, NULL, "cannot_open_content");
		goto end;
	}
	/* PRIV-6: a restriction asked for after the job was queued stops it */
	if (privacy_restricted(app, job->owner)) {
		rc = err_set(&e, ERR_FORBIDDEN, NULL, "processing_restricted");
		goto end;
	}
	set_progress(j, mi, job->id, 0, steps, 0, n);
	if (m->engine) {
		size_t S = (size_t)m->size;
		if (init.len && init.len != S * S * 3 && init.len != S * S * 4) {
			rc = err_set(&e, ERR_CORRUPT, NULL, "bad_init_image");
			goto end;
		}
		rgb = malloc(S * S * 3);
		if (!rgb) {
			rc = err_set(&e, ERR_NOMEM, NULL, "out_of_memory");
			goto end;
		}
		const char *smp = json_string_value(json_object_get(params, "sampler"));
		enum image_sampler sampler = IMAGE_DDIM;
		if (smp)
			image_sampler_parse(smp, &sampler);
		for (int i = 0; i < n && !rc; i++) {
			struct run r = {j, mi, job->id, i, n};
			struct image_params p = {
				.prompt = prompt.data,
				.negative = negative.data, /* "" when the job has none */
				.steps = steps,
				.seed = (uint64_t)jint(params, "seed", 0) + (uint64_t)i,
				.guidance = (float)jreal(params, "guidance", 3),
				.sampler = sampler,
				.init_rgb = init.len ? (const uint8_t *)init.data : NULL,
				.strength = (float)jreal(params, "strength", 0.75),
				.mask = init.len == S * S * 4 ? (const uint8_t *)init.data + S * S * 3 : NULL,
				.on_step = on_step,
				.step_arg = &r,
			};
			rc = image_generate(m->engine, &p, rgb, NULL, &e);
			if (rc == ERR_BUSY) {
				stopped = true;
				break;
			}
			if (!rc)
				rc = pngio_encode(rgb, m->size, m->size, &pngs[i], &e);
		}
		if (rc && !stopped && !e.msg[0])
			err_set(&e, rc, NULL, "engine_error");
	} else {
		rc = run_upstream(m, prompt.data, negative.data, n, params, pngs, &e);
	}
	for (int i = 0; i < n && !rc; i++)
		if ((rc = moderate_output(j, job->owner, &pngs[i])))
			err_set(&e, rc, NULL, "moderation_refused");
end:;
	if (stopped) {
		/* the server is stopping: the job stays 'running' and start-up
		 * puts it back in the queue; its hold stays open */
		set_progress(j, mi, NULL, 0, 0, 0, 0);
		goto out;
	}
	int64_t cost = jint(params, "cost", 0), start_ms = jint(params, "start_ms", 0);
	int status = 200;
	bool erased = false;
	if (!rc) {
		/* charge first, then store: a crash between the two re-runs the job,
		 * whose settle then finds the hold closed and charges nothing again */
		if (job->hold_id) {
			int r2 = credits_settle(app->db, job->hold_id, cost, job->model);
			if (r2 && r2 != ERR_NOTFOUND)
				log_error("imagejob.charge", "\"job\":\"%s\",\"error\":\"%s\"", job->id, err_str(r2));
		}
		rc = store_results(j, job, params, prompt.data, negative.data, pngs, n, m->size);
		if (rc == ERR_NOTFOUND) {
			erased = true; /* the owner was erased while it ran: nothing of it may be written */
		} else if (rc) {
			log_error("imagejob.store", "\"job\":\"%s\",\"error\":\"%s\"", job->id, err_str(rc));
			erased = !fail_job(app->db, job, "store_failed");
			status = 500;
		}
	} else {
		if (job->hold_id) {
			int r2 = credits_release(app->db, job->hold_id);
			if (r2 && r2 != ERR_NOTFOUND)
				log_error("imagejob.release", "\"job\":\"%s\",\"error\":\"%s\"", job->id, err_str(r2));
		}
		log_warn("imagejob.failed", "\"job\":\"%s\",\"model\":\"%s\",\"reason\":\"%s\"", job->id,
			 log_str(job->model), log_str(e.msg));
		erased = !fail_job(app->db, job, e.msg[0] ? e.msg : err_str(rc));
		status = 500;
	}
	if (erased)
		status = 410;
	else
		meter(app->db, job, n, status, cost, start_ms);
	set_progress(j, mi, NULL, 0, 0, 0, 0);
	struct imagejob_waiter w;
	if (take_waiter(j, job->id, &w)) {
		char ids[IMAGEJOBS_MAX_N][40];
		int nids = 0;
		if (status == 200) {
			c = db_get(app->db);
			store_image_ids_of_job(c, job->id, ids, IMAGEJOBS_MAX_N, &nids);
			db_put(c);
		}
		/* the job's own failure (ERR_FORBIDDEN: restricted meanwhile) tells
		 * a waiting caller what to answer */
		int wrc = status == 200 ? ERR_OK
			  : status == 410 ? ERR_NOTFOUND
			  : rc == ERR_FORBIDDEN ? ERR_FORBIDDEN : ERR_INTERNAL;
		w.done(w.arg, job->id, wrc, ids, nids);
	}
	log_info("imagejob.done", "\"job\":\"%s\",\"model\":\"%s\",\"status\":%d,\"images\":%d", job->id,
		 log_str(job->model), status, status == 200 ? n : 0);
out:
	free(rgb);
	crypto_wipe(prompt.data, prompt.len);
	crypto_wipe(negative.data, negative.len);
	buf_free(&prompt);
	buf_free(&negative);
	buf_free(&init);
	for (int i = 0; i < IMAGEJOBS_MAX_N; i++)
		buf_free(&pngs[i]);
	json_decref(params);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct imagejobs *j = w->j;
	struct store_imagejob job;
	store_imagejob_init(&job);
	for (;;) {
		pthread_mutex_lock(&j->mu);
		bool stop = j->stop;
		pthread_mutex_unlock(&j->mu);
		if (stop)
			break;
		struct db_conn *c = db_get(j->app->db);
		int rc = store_imagejob_claim(c, j->m[w->model].cfg.name, time_now(), &job);
		db_put(c);
		if (rc == ERR_OK) {
			run_job(j, w->model, &job);
			continue;
		}
		if (rc != ERR_NOTFOUND)
			log_error("imagejob.claim", "\"error\":\"%s\"", err_str(rc));
		/* nothing queued: sleep until a submit (or a second, for jobs that
		 * another node queued) */
		pthread_mutex_lock(&j->mu);
		if (!j->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&j->cv, &j->mu, &ts);
		}
		pthread_mutex_unlock(&j->mu);
	}
	store_imagejob_free(&job);
	return NULL;
}

/* Jobs queued for a model this server no longer offers (or cannot load)
 * would wait forever with their credits held: fail them and give the
 * credits back. One node owns the queue with SQLite; a shared database's
 * other nodes may serve the model, so this is SQLite's only. */
static void fail_orphans(struct imagejobs *j)
{
	if (strcmp(j->app->cfg->database.backend, "sqlite"))
		return;
	char models[CONFIG_MAX_MODELS][64];
	int nm = 0;
	struct db_conn *c = db_get(j->app->db);
	int rc = store_imagejob_queued_models(c, models, CONFIG_MAX_MODELS, &nm);
	db_put(c);
	if (rc)
		return;
	struct store_imagejob job;
	store_imagejob_init(&job);
	for (int i = 0; i < nm; i++) {
		const struct imagemodel *m = imagejobs_find(j, models[i]);
		if (m && m->available)
			continue;
		for (;;) {
			c = db_get(j->app->db);
			rc = store_imagejob_claim(c, models[i], time_now(), &job);
			db_put(c);
			if (rc)
				break;
			if (job.hold_id)
				credits_release(j->app->db, job.hold_id);
			if (fail_job(j->app->db, &job, "model_unavailable")) {
				json_t *p = json_loadb(job.params.data ? job.params.data : "{}", job.params.len, 0, NULL);
				meter(j->app->db, &job, 0, 503, 0, jint(p, "start_ms", 0));
				json_decref(p);
			}
			log_warn("imagejob.orphaned", "\"job\":\"%s\",\"model\":\"%s\"", job.id, log_str(models[i]));
		}
	}
	store_imagejob_free(&job);
}

/* --- start, stop, submit, status -------------------------------------------------- */

int imagejobs_start(struct imagejobs **out, struct app *app, struct errinfo *e)
{
	struct imagejobs *j = calloc(1, sizeof *j);
	if (!j)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	j->app = app;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	const struct config *cfg = app->cfg;
	for (int i = 0; i < cfg->nmodels; i++)
		if (!strcmp(cfg->models[i].kind, "image"))
			j->m[j->n++].cfg = cfg->models[i];
	char path[PATH_MAX + 64];
	if (j->n == 0 && find_default(path, sizeof path)) {
		/* the committed default, free unless configured otherwise */
		struct config_model *c = &j->m[j->n++].cfg;
		snprintf(c->name, sizeof c->name, "shapes");
		snprintf(c->kind, sizeof c->kind, "image");
		snprintf(c->backend, sizeof c->backend, "builtin");
		snprintf(c->path, sizeof c->path, "%s", path);
		c->max_queue = 64;
		snprintf(c->description, sizeof c->description,
			 "Atelier's own 32x32 shapes model, trained by tools/train_diffusion.py");
	}
	for (int i = 0; i < j->n; i++)
		load(&j->m[i]);
	/* a crash left these running: they run again, and are charged once */
	int64_t requeued = 0;
	struct db_conn *c = db_get(app->db);
	int rc = store_imagejob_requeue(c, &requeued);
	db_put(c);
	if (rc) {
		imagejobs_stop(j);
		return err_set(e, rc, NULL, "cannot requeue image jobs: %s", err_str(rc));
	}
	if (requeued)
		log_info("imagejob.requeued", "\"jobs\":%lld", (long long)requeued);
	fail_orphans(j);
	for (int i = 0; i < j->n; i++) {
		if (!j->m[i].available)
			continue;
		j->w[i].j = j;
		j->w[i].model = i;
		if (pthread_create(&j->w[i].th, NULL, work, &j->w[i]) == 0)
			j->w[i].started = true;
	}
	*out = j;
	return ERR_OK;
}

void imagejobs_stop(struct imagejobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	for (int i = 0; i < j->n; i++)
		if (j->w[i].started)
			pthread_join(j->w[i].th, NULL);
	/* waiters of jobs that never ran are told, so their connections end */
	for (int i = 0; i < j->nwaiters; i++)
		j->waiters[i].w.done(j->waiters[i].w.arg, j->waiters[i].job, ERR_BUSY, NULL, 0);
	j->nwaiters = 0;
	for (int i = 0; i < j->n; i++)
		image_model_free(j->m[i].engine);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

int imagejobs_submit(struct imagejobs *j, const struct imagejob_spec *s, const struct imagejob_waiter *w,
		     char id[40], struct errinfo *e)
{
	const struct imagemodel *m = imagejobs_find(j, s->model);
	if (!m || !m->available)
		return err_set(e, ERR_BUSY, "model", "the model is unavailable");
	struct app *app = j->app;
	struct store_imagejob job;
	store_imagejob_init(&job);
	char tok[CRYPTO_TOKEN_CHARS];
	crypto_token(tok, sizeof tok, "");
	snprintf(job.id, sizeof job.id, "imgjob_%.24s", tok);
	for (char *q = job.id; *q; q++)
		if (*q == '-')
			*q = 'x';
	snprintf(job.owner, sizeof job.owner, "%s", s->owner);
	snprintf(job.model, sizeof job.model, "%s", m->cfg.name);
	snprintf(job.key_id, sizeof job.key_id, "%s", s->key_id ? s->key_id : "");
	snprintf(job.end_user, sizeof job.end_user, "%s", s->end_user ? s->end_user : "");
	snprintf(job.endpoint, sizeof job.endpoint, "%s", s->endpoint);
	job.hold_id = s->hold;
	job.created_at = time_now();
	json_t *p = json_pack("{s:i, s:i, s:f, s:s, s:I, s:I, s:I, s:I, s:i}", "n", s->n, "steps", s->steps, "guidance",
			      (double)s->guidance, "sampler", s->sampler ? s->sampler : "ddim", "seed",
			      (json_int_t)s->seed, "cost", (json_int_t)s->cost, "ttl", (json_int_t)s->ttl, "start_ms",
			      (json_int_t)s->start_ms, "size", m->size);
	if (s->init_rgb)
		json_object_set_new(p, "strength", json_real((double)s->strength));
	if (s->mask)
		json_object_set_new(p, "masked", json_true());
	char *ptxt = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	int rc = ptxt ? buf_puts(&job.params, ptxt) : ERR_NOMEM;
	free(ptxt);
	struct db_conn *c = db_get(app->db);
	if (rc || (rc = db_begin(c)))
		goto out;
	int64_t pending = 0;
	if ((rc = store_imagejob_pending(c, m->cfg.name, &pending)))
		goto out;
	if (m->cfg.max_queue > 0 && pending >= m->cfg.max_queue) {
		rc = err_set(e, ERR_BUSY, "model", "the model '%s' has %lld jobs waiting; try again shortly", m->cfg.name,
			     (long long)pending);
		goto out;
	}
	if ((rc = vault_seal(c, app->keys, s->owner, "image.prompt", s->prompt, strlen(s->prompt), &job.prompt)))
		goto out;
	if (s->negative && s->negative[0] &&
	    (rc = vault_seal(c, app->keys, s->owner, "image.negative_prompt", s->negative, strlen(s->negative),
			     &job.negative)))
		goto out;
	if (s->init_rgb) {
		/* the start picture and its mask (if any) travel as one sealed blob:
		 * [S][S][3] pixels, then [S][S] mask */
		size_t px = (size_t)m->size * m->size;
		struct buf raw;
		buf_init(&raw, 0);
		rc = buf_append(&raw, s->init_rgb, px * 3);
		if (!rc && s->mask)
			rc = buf_append(&raw, s->mask, px);
		if (!rc)
			rc = vault_seal(c, app->keys, s->owner, "image.init", raw.data, raw.len, &job.init);
		crypto_wipe(raw.data, raw.len);
		buf_free(&raw);
		if (rc)
			goto out;
	}
	if ((rc = store_imagejob_insert(c, &job)))
		goto out;
	/* the waiter first, so the worker cannot finish before it is there */
	if (w) {
		pthread_mutex_lock(&j->mu);
		if (j->nwaiters == MAX_WAITERS) {
			pthread_mutex_unlock(&j->mu);
			rc = err_set(e, ERR_BUSY, NULL, "too many waiting requests; try again shortly, or use async");
			goto out;
		}
		struct waiter *x = &j->waiters[j->nwaiters++];
		snprintf(x->job, sizeof x->job, "%s", job.id);
		x->w = *w;
		pthread_mutex_unlock(&j->mu);
	}
	rc = db_commit(c);
	if (rc && w) {
		struct imagejob_waiter dummy;
		take_waiter(j, job.id, &dummy);
	}
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	if (!rc) {
		snprintf(id, 40, "%s", job.id);
		pthread_mutex_lock(&j->mu);
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->mu);
	} else if (!e || !e->msg[0]) {
		err_set(e, rc, NULL, "cannot queue the job");
	}
	store_imagejob_free(&job);
	return rc;
}

int imagejobs_status(struct imagejobs *j, const char *owner, const char *id, json_t **out)
{
	struct store_imagejob job;
	store_imagejob_init(&job);
	struct db_conn *c = db_get(j->app->db);
	int rc = store_imagejob_get(c, id, owner, false, &job);
	char ids[IMAGEJOBS_MAX_N][40];
	int nids = 0;
	if (!rc && !strcmp(job.state, "done"))
		rc = store_image_ids_of_job(c, id, ids, IMAGEJOBS_MAX_N, &nids);
	db_put(c);
	if (rc) {
		store_imagejob_free(&job);
		return rc;
	}
	json_t *params = json_loadb(job.params.data ? job.params.data : "{}", job.params.len, 0, NULL);
	int n = (int)jint(params, "n", 1), steps = (int)jint(params, "steps", 0);
	int step = 0, image_index = 0;
	if (!strcmp(job.state, "done")) {
		step = steps;
		image_index = n;
	} else if (!strcmp(job.state, "running")) {
		pthread_mutex_lock(&j->mu);
		for (int i = 0; i < j->n; i++)
			if (!strcmp(j->prog[i].job, id)) {
				step = j->prog[i].step;
				steps = j->prog[i].steps ? j->prog[i].steps : steps;
				image_index = j->prog[i].image_index;
			}
		pthread_mutex_unlock(&j->mu);
	}
	json_t *imgs = json_array();
	for (int i = 0; i < nids; i++)
		json_array_append_new(imgs, json_string(ids[i]));
	char at[32];
	time_iso8601(at, sizeof at, job.created_at);
	*out = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:s}", "id", job.id, "object", "image.job",
			 "status", job.state, "model", job.model, "step", step, "steps", steps, "image_index", image_index,
			 "n", n, "images", imgs, "error", job.error[0] ? json_string(job.error) : json_null(),
			 "created_at", at);
	json_decref(params);
	store_imagejob_free(&job);
	return *out ? ERR_OK : ERR_NOMEM;
}
