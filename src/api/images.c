/*
 * images.c: the images API (GEN-2, GEN-3, GEN-4, GEN-5, GEN-6): POST
 * /v1/images/generations (OpenAI-compatible, plus seed, steps, guidance,
 * negative_prompt, sampler, keep, async), POST /v1/images/edits (image to
 * image from a multipart upload or a gallery image, with an optional mask), job
 * status, the gallery under /api/images, signed file links, and the
 * audited staff view (SEC-5).
 *
 * A request is checked and paid for (a hold of the worst case, PAY-5) on the
 * pool thread, then queued as a job (service/imagejobs.h). With async it is
 * answered at once (202, the job); without, the answer is deferred
 * (http_defer: the connection sleeps, so no pool thread waits on an image)
 * and the job's worker thread completes it when the job ends: 200 with the
 * images, or the OpenAI error with its own status (500 engine_error, 403
 * processing_restricted, 503 server_stopping) so that SDKs see the failure.
 * Nothing is written meanwhile: a 200 sent before the job ran could not turn
 * into an error later. The job is the unit of payment, so a client that
 * leaves does not cancel it: its images land in the gallery.
 *
 * Every image route matches the owner in the query: another user, support
 * or admin gets 404 for an image or a link that is not theirs (GEN-5). The
 * only staff path is GET /api/admin/users/{id}/images with a reason, which
 * is written to the audit log (SEC-5).
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "engine/image/pngio.h"
#include "http/multipart.h"
#include "service/credits.h"
#include "service/imagejobs.h"
#include "service/upload.h"
#include "service/usage.h"

#define PROMPT_MAX 1000     /* characters */
#define STEPS_MAX 150

/* A checked request. Strings borrow from the body. */
struct imgreq {
	const char *model, *prompt, *negative, *response_format, *user, *sampler, *size;
	int64_t n, steps, seed;
	double guidance, strength;
	bool has_seed, async, keep;
};

static int bad(struct errinfo *e, const char *field, const char *fmt, const char *a)
{
	return err_set(e, ERR_INVALID, field, fmt, a);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int str_field(const json_t *b, const char *k, const char **out, struct errinfo *e)
{
	return api_str(b, k, false, out, e);
}

static int int_field(const json_t *b, const char *k, int64_t lo, int64_t hi, int64_t *out, bool *present,
		     struct errinfo *e)
{
	const json_t *v = json_object_get(b, k);
	if (!v || json_is_null(v))
		return ERR_OK;
	if (!json_is_integer(v))
		return bad(e, k, "%s must be an integer", k);
	json_int_t x = json_integer_value(v);
	if (x < lo || x > hi)
		return err_set(e, ERR_INVALID, k, "%s must be from %lld to %lld", k, (long long)lo, (long long)hi);
	*out = x;
	if (present)
		*present = true;
	return ERR_OK;
}

static int num_field(const json_t *b, const char *k, double lo, double hi, bool lo_open, double *out,
		     struct errinfo *e)
{
	const json_t *v = json_object_get(b, k);
	if (!v || json_is_null(v))
		return ERR_OK;
	if (!json_is_number(v))
		return bad(e, k, "%s must be a number", k);
	double d = json_number_value(v);
	if (!isfinite(d) || d < lo || d > hi || (lo_open && d <= lo))
		return err_set(e, ERR_INVALID, k, "%s must be %s%g to %g", k, lo_open ? "more than " : "from ", lo, hi);
	*out = d;
	return ERR_OK;
}

static int bool_field(const json_t *b, const char *k, bool *out, struct errinfo *e)
{
	const json_t *v = json_object_get(b, k);
	if (!v || json_is_null(v))
		return ERR_OK;
	if (!json_is_boolean(v))
		return bad(e, k, "%s must be true or false", k);
	*out = json_is_true(v);
	return ERR_OK;
}

/* Check body field by field; edit adds strength. */
static int parse(const json_t *b, bool edit, struct imgreq *r, struct errinfo *e)
{
	static const char *const gen_fields[] = {"model", "prompt", "n", "size", "response_format", "user", "seed",
						 "steps", "guidance", "negative_prompt", "sampler", "async", "keep",
						 "quality", "style", NULL};
	static const char *const edit_fields[] = {"model", "prompt", "n", "size", "response_format", "user", "seed",
						  "steps", "guidance", "negative_prompt", "sampler", "async", "keep",
						  "strength", "image_id", NULL};
	memset(r, 0, sizeof *r);
	r->n = 1;
	r->steps = 25;
	r->guidance = 3;
	r->strength = 0.75;
	int rc;
	if (!json_is_object(b))
		return err_set(e, ERR_INVALID, NULL, "the body must be a JSON object");
	if ((rc = api_only_fields(b, edit ? edit_fields : gen_fields, e)))
		return rc;
	if ((rc = str_field(b, "model", &r->model, e)) || (rc = api_str(b, "prompt", true, &r->prompt, e)) ||
	    (rc = str_field(b, "size", &r->size, e)) || (rc = str_field(b, "response_format", &r->response_format, e)) ||
	    (rc = str_field(b, "user", &r->user, e)) || (rc = str_field(b, "negative_prompt", &r->negative, e)) ||
	    (rc = str_field(b, "sampler", &r->sampler, e)))
		return rc;
	size_t pl = utf8_chars(r->prompt);
	if (pl < 1 || pl > PROMPT_MAX)
		return err_set(e, ERR_INVALID, "prompt", "prompt must be 1 to %d characters (it has %zu)", PROMPT_MAX, pl);
	if (r->negative && utf8_chars(r->negative) > PROMPT_MAX)
		return err_set(e, ERR_INVALID, "negative_prompt", "negative_prompt must be at most %d characters", PROMPT_MAX);
	if (r->user && strlen(r->user) > 256)
		return err_set(e, ERR_INVALID, "user", "user must be at most 256 characters");
	if (r->response_format && strcmp(r->response_format, "url") && strcmp(r->response_format, "b64_json"))
		return err_set(e, ERR_INVALID, "response_format", "response_format must be url or b64_json");
	if (r->sampler && strcmp(r->sampler, "ddim") && strcmp(r->sampler, "euler"))
		return err_set(e, ERR_INVALID, "sampler", "sampler must be ddim or euler");
	if ((rc = int_field(b, "n", 1, IMAGEJOBS_MAX_N, &r->n, NULL, e)) ||
	    (rc = int_field(b, "steps", 1, STEPS_MAX, &r->steps, NULL, e)) ||
	    (rc = int_field(b, "seed", 0, (1LL << 53) - 1, &r->seed, &r->has_seed, e)) ||
	    (rc = num_field(b, "guidance", 0, 30, false, &r->guidance, e)) ||
	    (rc = bool_field(b, "async", &r->async, e)) || (rc = bool_field(b, "keep", &r->keep, e)))
		return rc;
	if (edit && (rc = num_field(b, "strength", 0, 1, true, &r->strength, e)))
		return rc;
	const char *q = NULL;
	if ((rc = str_field(b, "quality", &q, e)) || (rc = str_field(b, "style", &q, e)))
		return rc;
	if (!r->response_format)
		r->response_format = "url";
	if (!r->sampler)
		r->sampler = "ddim";
	return ERR_OK;
}

/* --- the sync answer ---------------------------------------------------------- */

struct wait {
	pthread_mutex_t mu;          /* held by the handler while it defers */
	struct app *app;
	struct http_deferred *d;     /* NULL when deferring failed (the answer was a 500) */
	char owner[40], model[64];
	char base[CONFIG_STR];       /* scheme://host of url answers */
	bool b64, drop;              /* drop: ephemeral b64 answer, delete after */
	int64_t created;
	int64_t seed;
	json_t *revised;             /* the prompt as used, for revised_prompt */
};

static void wait_free(struct wait *w)
{
	json_decref(w->revised);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* data[] of an answer for the job's images. */
static json_t *answer_data(struct app *app, const char *base, const char *owner, bool b64, char (*ids)[40], int nids,
			   json_t *prompt, int *rc)
{
	json_t *data = json_array();
	*rc = ERR_OK;
	for (int i = 0; i < nids && !*rc; i++) {
		json_t *meta = NULL;
		struct buf png;
		buf_init(&png, 64u << 20);
		*rc = gallery_get(app, owner, ids[i], &meta, b64 ? &png : NULL);
		if (!*rc) {
			json_t *x = json_pack("{s:s, s:O, s:O}", "id", ids[i], "seed", json_object_get(meta, "seed"),
					      "revised_prompt", prompt);
			if (b64) {
				size_t bl = sodium_base64_encoded_len(png.len, sodium_base64_VARIANT_ORIGINAL);
				char *enc = malloc(bl);
				if (enc) {
					sodium_bin2base64(enc, bl, (const unsigned char *)png.data, png.len,
							  sodium_base64_VARIANT_ORIGINAL);
					json_object_set_new(x, "b64_json", json_string(enc));
				} else {
					*rc = ERR_NOMEM;
				}
				free(enc);
			} else {
				char link[256], url[CONFIG_STR + 256];
				gallery_link(app, owner, ids[i], time_now() + app->cfg->retention.image_links, link, sizeof link);
				snprintf(url, sizeof url, "%s%s", base, link);
				json_object_set_new(x, "url", json_string(url));
			}
			json_array_append_new(data, x);
		}
		json_decref(meta);
		buf_free(&png);
	}
	return data;
}

/* The job ended (on its worker thread): complete the deferred answer. rc is
 * the job's: ERR_OK, ERR_BUSY (the server stops; the job runs again when it
 * is back), ERR_FORBIDDEN (processing restricted meanwhile), else it
 * failed and its hold was released. */
static void on_done(void *arg, const char *job_id, int rc, char (*ids)[40], int nids)
{
	struct wait *w = arg;
	pthread_mutex_lock(&w->mu);
	pthread_mutex_unlock(&w->mu);
	if (w->d) {
		json_t *v = NULL;
		int r2 = ERR_OK;
		if (!rc) {
			json_t *data = answer_data(w->app, w->base, w->owner, w->b64, ids, nids, w->revised, &r2);
			if (!r2)
				v = json_pack("{s:I, s:o, s:s, s:s}", "created", (json_int_t)w->created, "data", data, "model",
					      w->model, "job", job_id);
			else
				json_decref(data);
		}
		if (v && w->drop) {
			/* ephemeral mode: a b64_json answer is the only copy (GEN-4),
			 * gone before the answer leaves, so nothing the client reads
			 * after it still finds the image; a client that left meanwhile
			 * loses it, as with any lost answer */
			const char *del[IMAGEJOBS_MAX_N];
			for (int i = 0; i < nids; i++)
				del[i] = ids[i];
			gallery_delete(w->app, w->owner, del, nids, NULL);
		}
		if (v) {
			http_deferred_json(w->d, 200, v);
		} else if (rc == ERR_BUSY) {
			http_deferred_header(w->d, "Retry-After", "5");
			http_deferred_error(w->d, 503, "server_error", "server_stopping", NULL,
					    "the server is stopping; job %s runs when it is back", job_id);
		} else if (rc == ERR_FORBIDDEN) {
			http_deferred_error(w->d, 403, "permission_error", "processing_restricted", NULL,
					    "processing of this account's data was restricted; nothing was charged");
		} else if (rc) {
			http_deferred_error(w->d, 500, "server_error", "engine_error", NULL,
					    "the image could not be made (job %s); nothing was charged", job_id);
		} else {
			/* made and stored, but not readable back now */
			http_deferred_error(w->d, 500, "server_error", NULL, NULL,
					    "the images were made (job %s) but cannot be read; see your gallery", job_id);
		}
		w->d = NULL;
	}
	wait_free(w);
}

/* --- generations ------------------------------------------------------------------ */

static void end_user_hash(struct app *app, const char *owner, const char *user, char out[CRYPTO_HASH_HEX])
{
	out[0] = '\0';
	if (!user)
		return;
	char buf[40 + 1 + 256 + 1];
	int n = snprintf(buf, sizeof buf, "%s\x1f%s", owner, user);
	crypto_blind_index(app->keys, out, buf, (size_t)n);
}

/* Refuse before any work: a usage row with the status, nothing charged. */
static void refuse(struct http_request *req, struct http_response *res, struct app *app, const char *endpoint,
		   const char *model, int rc, const struct errinfo *e)
{
	api_error(res, rc, e);
	struct store_usage u = {
		.owner = req->who.user_id,
		.endpoint = endpoint,
		.model = model ? model : "",
		.key_id = req->who.key_id[0] ? req->who.key_id : NULL,
		.status = api_status_for(rc),
		.latency_ms = (int64_t)((time_mono_ns() - req->start_ns) / 1000000),
	};
	usage_record(app->db, &u);
}

/* Queue r (init_rgb: image to image, or NULL) and answer. */
static void run(struct http_request *req, struct http_response *res, struct app *app, const char *endpoint,
		const struct imgreq *r, const struct imagemodel *m, const uint8_t *init_rgb, const uint8_t *mask)
{
	struct errinfo e = {0};
	int64_t cost = imagejobs_cost(&m->cfg, (int)r->n, (int)r->steps), hold = 0;
	int rc;
	char idem[96];
	snprintf(idem, sizeof idem, "img:%s:%" PRIu64, req->id, req->start_ns);
	/* the charge point: the worst case before any work (PAY-5) */
	if (cost > 0 && (rc = credits_reserve(app->db, req->who.user_id, cost, idem, &hold))) {
		err_set(&e, rc, NULL,
			rc == ERR_PAYMENT ? "Your balance does not cover this request (%" PRId64 " micro-credits); add credits or ask for fewer images or steps"
					  : "cannot reserve credits (%" PRId64 ")",
			cost);
		return refuse(req, res, app, endpoint, m->cfg.name, rc, &e);
	}
	bool ephemeral = !strcmp(app->cfg->retention.images, "ephemeral") && !r->keep;
	bool b64 = !strcmp(r->response_format, "b64_json");
	char eu[CRYPTO_HASH_HEX];
	end_user_hash(app, req->who.user_id, r->user, eu);
	uint64_t seed = (uint64_t)r->seed;
	if (!r->has_seed) {
		crypto_random(&seed, sizeof seed);
		seed &= (1ULL << 53) - 1; /* exact in every JSON reader */
	}
	struct imagejob_spec s = {
		.owner = req->who.user_id,
		.model = m->cfg.name,
		.key_id = req->who.key_id,
		.end_user = eu,
		.endpoint = endpoint,
		.prompt = r->prompt,
		.negative = r->negative,
		.init_rgb = init_rgb,
		.mask = mask,
		.strength = (float)r->strength,
		.n = (int)r->n,
		.steps = (int)r->steps,
		.guidance = (float)r->guidance,
		.sampler = r->sampler,
		.seed = seed,
		.hold = hold,
		.cost = cost,
		/* ephemeral: kept until the link (or the async answer) expires */
		.ttl = ephemeral ? app->cfg->retention.image_links : 0,
		.start_ms = time_now_ms() - (int64_t)((time_mono_ns() - req->start_ns) / 1000000),
	};
	char id[40];
	struct wait *w = NULL;
	struct imagejob_waiter iw = {NULL, on_done, NULL};
	if (!r->async) {
		w = calloc(1, sizeof *w);
		if (!w) {
			if (hold)
				credits_release(app->db, hold);
			err_set(&e, ERR_NOMEM, NULL, "out of memory");
			return refuse(req, res, app, endpoint, m->cfg.name, ERR_NOMEM, &e);
		}
		pthread_mutex_init(&w->mu, NULL);
		w->app = app;
		snprintf(w->owner, sizeof w->owner, "%s", req->who.user_id);
		snprintf(w->model, sizeof w->model, "%s", m->cfg.name);
		w->b64 = b64;
		w->drop = ephemeral && b64;
		w->created = time_now();
		/* links are absolute: [server] public_url, else the address the client used */
		const char *host = http_header_get(req, "Host");
		if (app->cfg->server.public_url[0])
			snprintf(w->base, sizeof w->base, "%s", app->cfg->server.public_url);
		else if (host && strlen(host) < 200 && !strpbrk(host, "/\\\"<> "))
			snprintf(w->base, sizeof w->base, "%s://%s", req->tls ? "https" : "http", host);
		size_t bl = strlen(w->base);
		while (bl && w->base[bl - 1] == '/')
			w->base[--bl] = '\0';
		w->revised = json_string(r->prompt);
		iw.arg = w;
		pthread_mutex_lock(&w->mu);
	}
	rc = imagejobs_submit(app->images, &s, w ? &iw : NULL, id, &e);
	if (rc) {
		if (w) {
			pthread_mutex_unlock(&w->mu);
			wait_free(w);
		}
		if (hold)
			credits_release(app->db, hold);
		if (rc == ERR_BUSY)
			http_set_header(res, "Retry-After", "2");
		return refuse(req, res, app, endpoint, m->cfg.name, rc, &e);
	}
	if (!w) {
		json_t *st = NULL;
		if (imagejobs_status(app->images, req->who.user_id, id, &st) == ERR_OK) {
			char loc[96];
			snprintf(loc, sizeof loc, "/api/images/jobs/%s", id);
			http_set_header(res, "Location", loc);
			http_json(res, 202, st);
		} else {
			http_error(res, 500, "server_error", NULL, NULL, "the job was queued but cannot be read");
		}
		return;
	}
	/* the connection sleeps until on_done answers; a client that leaves
	 * meanwhile is not noticed, and its job goes on to the gallery */
	w->d = http_defer(req, res);
	pthread_mutex_unlock(&w->mu);
}

static const struct imagemodel *pick_model(struct http_request *req, struct http_response *res, struct app *app,
					   const char *endpoint, struct imgreq *r)
{
	const struct imagemodel *m = imagejobs_find(app->images, r->model);
	struct errinfo e = {0};
	if (!m) {
		refuse(req, res, app, endpoint, r->model, ERR_NOTFOUND, NULL);
		http_error(res, 404, "invalid_request_error", "model_not_found", "model",
			   "The image model '%.64s' does not exist; GET /v1/models lists the models",
			   r->model ? r->model : "(default)");
		return NULL;
	}
	if (!m->available) {
		err_set(&e, ERR_BUSY, "model", "the model '%s' is unavailable: %s", m->cfg.name, m->reason);
		refuse(req, res, app, endpoint, m->cfg.name, ERR_BUSY, &e);
		return NULL;
	}
	char want[32];
	snprintf(want, sizeof want, "%dx%d", m->size, m->size);
	if (r->size && strcmp(r->size, want)) {
		err_set(&e, ERR_INVALID, "size", "size '%.32s' is not supported by model '%s'; supported sizes: %s", r->size,
			m->cfg.name, want);
		refuse(req, res, app, endpoint, m->cfg.name, ERR_INVALID, &e);
		return NULL;
	}
	return m;
}

static void generations(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *endpoint = "/v1/images/generations";
	struct imgreq r;
	struct errinfo e = {0};
	int rc = parse(req->json, false, &r, &e);
	if (rc)
		return refuse(req, res, app, endpoint, NULL, rc, &e);
	const struct imagemodel *m = pick_model(req, res, app, endpoint, &r);
	if (m)
		run(req, res, app, endpoint, &r, m, NULL, NULL);
}

/* --- edits (image to image, GEN-3) ------------------------------------------------ */

#define EDIT_MAX_PARTS 24

/* The text fields of a form as the JSON body a generation takes: numbers
 * and booleans from their text (forms carry only text), the rest strings. */
static json_t *form_json(const struct multipart_part *parts, size_t n, struct errinfo *e)
{
	static const char *const ints[] = {"n", "seed", "steps", NULL}, *const reals[] = {"guidance", "strength", NULL},
				  *const bools[] = {"async", "keep", NULL};
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++) {
		const struct multipart_part *p = &parts[i];
		if (!strcmp(p->name, "image") || !strcmp(p->name, "image[]") || !strcmp(p->name, "mask"))
			continue;
		if (p->filename[0]) {
			err_set(e, ERR_INVALID, p->name, "field '%.60s' must be text, not a file", p->name);
			json_decref(o);
			return NULL;
		}
		char *v = strndup((const char *)p->data, p->len);
		if (!v || strlen(v) != p->len) {
			free(v);
			err_set(e, ERR_INVALID, p->name, "field '%.60s' must be text", p->name);
			json_decref(o);
			return NULL;
		}
		json_t *x = NULL;
		char *end;
		for (const char *const *k = ints; *k && !x; k++)
			if (!strcmp(*k, p->name)) {
				long long l = strtoll(v, &end, 10);
				x = *v && !*end ? json_integer(l) : json_string(v);
			}
		for (const char *const *k = reals; *k && !x; k++)
			if (!strcmp(*k, p->name)) {
				double d = strtod(v, &end);
				x = *v && !*end ? json_real(d) : json_string(v);
			}
		for (const char *const *k = bools; *k && !x; k++)
			if (!strcmp(*k, p->name))
				x = !strcmp(v, "true") ? json_true() : !strcmp(v, "false") ? json_false() : json_string(v);
		if (!x)
			x = json_string(v);
		free(v);
		if (!x) {
			err_set(e, ERR_INVALID, p->name, "field '%.60s' must be UTF-8 text", p->name);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, p->name, x);
	}
	return o;
}

/* The mask (OpenAI's: transparent where the picture is to change), the
 * same size as the picture, fitted like it, into mask [size][size] with 255
 * where to repaint. */
static int mask_image(struct app *app, const struct multipart_part *part, int w, int h, int size, uint8_t *mask,
		      struct errinfo *e)
{
	struct upload_limits lim = {.max_side = 4096, .max_pixels = 4096 * 4096,
				    .max_bytes = (size_t)app->cfg->server.upload_limit};
	struct upload_image im = {0}, plane = {0};
	uint8_t *alpha = NULL, *fitted = NULL;
	int rc = upload_decode_alpha(part->data, part->len, &lim, &im, &alpha, e);
	if (rc == ERR_CORRUPT || rc == ERR_UNSUPPORTED)
		rc = ERR_INVALID;
	bool clear = false;
	for (size_t i = 0; !rc && alpha && i < (size_t)im.width * im.height && !clear; i++)
		clear = alpha[i] < 255;
	if (!rc && !clear)
		rc = err_set(e, ERR_INVALID, "mask",
			     "mask has no transparent pixel: it must be transparent where the image is to change");
	if (!rc && (im.width != w || im.height != h))
		rc = err_set(e, ERR_INVALID, "mask", "mask is %dx%d but the image is %dx%d; they must match", im.width,
			     im.height, w, h);
	size_t px = (size_t)w * h;
	if (!rc && !(plane.rgb = malloc(px * 3)))
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
	if (!rc && !(fitted = malloc((size_t)size * size * 3)))
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
	if (!rc) {
		/* fit the alpha plane as a grey picture, the same way as the image */
		plane.fmt = UPLOAD_PNG;
		plane.width = w;
		plane.height = h;
		for (size_t i = 0; i < px; i++)
			plane.rgb[i * 3] = plane.rgb[i * 3 + 1] = plane.rgb[i * 3 + 2] = alpha[i];
		rc = upload_fit_square(&plane, size, fitted, e);
	}
	if (!rc)
		for (size_t i = 0; i < (size_t)size * size; i++)
			mask[i] = (uint8_t)(255 - fitted[i * 3]);
	if (rc && !e->field[0])
		snprintf(e->field, sizeof e->field, "mask");
	free(alpha);
	free(fitted);
	upload_image_free(&plane);
	upload_image_free(&im);
	return rc;
}

/* The start picture, fitted to size x size, into rgb: an uploaded file
 * (decoded safely, metadata dropped) or one of the caller's gallery images;
 * and, when maskpart is not NULL, its mask into mask. */
static int init_image(struct http_request *req, struct app *app, const struct multipart_part *file,
		      const char *image_id, const struct multipart_part *maskpart, int size, uint8_t *rgb,
		      uint8_t *mask, struct errinfo *e)
{
	struct upload_image im = {0};
	int rc;
	if (file) {
		struct upload_limits lim = {.max_side = 4096, .max_pixels = 4096 * 4096,
					    .max_bytes = (size_t)app->cfg->server.upload_limit};
		rc = upload_decode(file->data, file->len, &lim, &im, e);
		if (rc == ERR_CORRUPT || rc == ERR_UNSUPPORTED)
			rc = ERR_INVALID; /* the caller's file, not our data */
		if (rc) {
			snprintf(e->field, sizeof e->field, "image");
			return rc;
		}
	} else {
		struct buf png;
		buf_init(&png, 64u << 20);
		rc = gallery_get(app, req->who.user_id, image_id, NULL, &png);
		if (rc == ERR_OK) {
			im.fmt = UPLOAD_PNG;
			rc = pngio_decode(png.data, png.len, &im.rgb, &im.width, &im.height, e);
		} else if (rc == ERR_NOTFOUND) {
			err_set(e, ERR_NOTFOUND, "image_id", "no image '%.40s' in your gallery", image_id);
		}
		buf_free(&png);
		if (rc)
			return rc;
	}
	rc = upload_fit_square(&im, size, rgb, e);
	if (!rc && maskpart)
		rc = mask_image(app, maskpart, im.width, im.height, size, mask, e);
	upload_image_free(&im);
	return rc;
}

static void edits(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *endpoint = "/v1/images/edits";
	struct errinfo e = {0};
	struct multipart_part parts[EDIT_MAX_PARTS];
	size_t np = 0;
	const char *ct = http_header_get(req, "Content-Type");
	int rc = multipart_parse(ct ? ct : "", (const uint8_t *)(req->body.data ? req->body.data : ""), req->body.len,
				 parts, EDIT_MAX_PARTS, &np, &e);
	if (rc)
		return refuse(req, res, app, endpoint, NULL, rc, &e);
	json_t *body = form_json(parts, np, &e);
	if (!body)
		return refuse(req, res, app, endpoint, NULL, ERR_INVALID, &e);
	struct imgreq r;
	const char *image_id = NULL;
	rc = parse(body, true, &r, &e);
	if (!rc)
		rc = api_str(body, "image_id", false, &image_id, &e);
	const struct multipart_part *file = multipart_get(parts, np, "image");
	if (!file)
		file = multipart_get(parts, np, "image[]");
	if (!rc && !file == !image_id)
		rc = err_set(&e, ERR_INVALID, "image", "send exactly one of an image file or image_id");
	if (!rc && file && !file->filename[0])
		rc = err_set(&e, ERR_INVALID, "image", "image must be a file");
	const struct multipart_part *maskpart = multipart_get(parts, np, "mask");
	if (!rc && maskpart && !maskpart->filename[0])
		rc = err_set(&e, ERR_INVALID, "mask", "mask must be a file");
	if (rc) {
		json_decref(body);
		return refuse(req, res, app, endpoint, NULL, rc, &e);
	}
	const struct imagemodel *m = pick_model(req, res, app, endpoint, &r);
	if (m && !m->engine) {
		err_set(&e, ERR_INVALID, "model", "image edits run on this server's own models; '%s' is an upstream model",
			m->cfg.name);
		refuse(req, res, app, endpoint, m->cfg.name, ERR_INVALID, &e);
		m = NULL;
	}
	uint8_t *rgb = m ? malloc((size_t)m->size * m->size * 4) : NULL; /* pixels, then the mask */
	uint8_t *mask = rgb ? rgb + (size_t)m->size * m->size * 3 : NULL;
	if (m && !rgb) {
		err_set(&e, ERR_NOMEM, NULL, "out of memory");
		refuse(req, res, app, endpoint, m->cfg.name, ERR_NOMEM, &e);
	} else if (m && (rc = init_image(req, app, file, image_id, maskpart, m->size, rgb, mask, &e))) {
		refuse(req, res, app, endpoint, m->cfg.name, rc, &e);
	} else if (m) {
		run(req, res, app, endpoint, &r, m, rgb, maskpart ? mask : NULL);
	}
	free(rgb);
	json_decref(body);
}

/* --- jobs and gallery ------------------------------------------------------------------- */

static void job_status(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	json_t *v = NULL;
	int rc = imagejobs_status(app->images, req->who.user_id, http_param(req, "id"), &v);
	if (rc)
		return api_error(res, rc, NULL);
	http_json(res, 200, v);
}

static void list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	const char *before = http_query(req, "before");
	int limit;
	if (api_query_limit(req, 20, 100, &limit, &e))
		return api_error(res, ERR_INVALID, &e);
	json_t *v = NULL;
	int rc = gallery_list(app, req->who.user_id, before && before[0] ? before : NULL, limit, &v, &e);
	if (rc)
		return api_error(res, rc, &e);
	http_json(res, 200, v);
}

static void get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	json_t *v = NULL;
	int rc = gallery_get(app, req->who.user_id, http_param(req, "id"), &v, NULL);
	if (rc)
		return api_error(res, rc, NULL);
	http_json(res, 200, v);
}

static void file(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *id = http_param(req, "id"), *exp = http_query(req, "exp"), *sig = http_query(req, "sig");
	struct errinfo e = {0};
	err_set(&e, ERR_NOTFOUND, NULL, "no such image");
	/* a signed link works for its owner only, and only until it expires */
	if ((exp || sig) && !gallery_link_ok(app, req->who.user_id, id, exp, sig))
		return api_error(res, ERR_NOTFOUND, &e);
	struct buf png;
	buf_init(&png, 64u << 20);
	int rc = gallery_get(app, req->who.user_id, id, NULL, &png);
	if (rc) {
		buf_free(&png);
		return api_error(res, rc, &e);
	}
	http_text(res, 200, "image/png", png.data ? png.data : "", png.len);
	buf_free(&png);
	http_set_header(res, "Cache-Control", "private, no-store");
	const char *dl = http_query(req, "download");
	if (dl && !strcmp(dl, "1")) {
		char cd[96];
		snprintf(cd, sizeof cd, "attachment; filename=\"%.40s.png\"", id);
		http_set_header(res, "Content-Disposition", cd);
	}
}

static void del(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *id = http_param(req, "id");
	struct errinfo e = {0};
	int rc = gallery_delete(app, req->who.user_id, &id, 1, &e);
	if (rc)
		return api_error(res, rc, &e);
	http_json(res, 200, json_pack("{s:s, s:b}", "id", id, "deleted", 1));
}

static void bulk_delete(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	static const char *const fields[] = {"ids", NULL};
	int rc = api_only_fields(req->json, fields, &e);
	json_t *ids = json_object_get(req->json, "ids");
	if (!rc && (!json_is_array(ids) || json_array_size(ids) < 1 || json_array_size(ids) > 100))
		rc = err_set(&e, ERR_INVALID, "ids", "ids must be an array of 1 to 100 image IDs");
	const char *v[100];
	size_t n = json_array_size(ids);
	for (size_t i = 0; !rc && i < n; i++)
		if (!(v[i] = json_string_value(json_array_get(ids, i))))
			rc = err_set(&e, ERR_INVALID, "ids", "ids must be strings");
	if (!rc)
		rc = gallery_delete(app, req->who.user_id, v, (int)n, &e);
	if (rc)
		return api_error(res, rc, &e);
	http_json(res, 200, json_pack("{s:I}", "deleted", (json_int_t)n));
}

static void keep(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *id = http_param(req, "id");
	int rc = gallery_keep(app, req->who.user_id, id);
	if (rc)
		return api_error(res, rc, NULL);
	json_t *v = NULL;
	if ((rc = gallery_get(app, req->who.user_id, id, &v, NULL)))
		return api_error(res, rc, NULL);
	http_json(res, 200, v);
}

static void staff_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct errinfo e = {0};
	const char *reason = http_query(req, "reason");
	if (!reason || strlen(reason) < 3 || strlen(reason) > 500) {
		err_set(&e, ERR_INVALID, "reason", "reason is required (3 to 500 characters): it is written to the audit log");
		return api_error(res, ERR_INVALID, &e);
	}
	json_t *v = NULL;
	int rc = gallery_staff_list(app, req->who.user_id, http_param(req, "id"), reason, 100, &v, &e);
	if (rc)
		return api_error(res, rc, &e);
	http_json(res, 200, v);
}

const struct route api_images_routes[] = {
	{"POST", "/v1/images/generations", generations, GUARD_USER, SCOPE_GENERATE, RL_GENERATE, ROUTE_JSON,
	 "image generation (OpenAI-compatible; async: true answers 202 with a job)"},
	{"POST", "/v1/images/edits", edits, GUARD_USER, SCOPE_GENERATE, RL_GENERATE, ROUTE_UPLOAD,
	 "image to image (OpenAI-compatible multipart: image or image_id, prompt, strength, ...)"},
	{"GET", "/api/images/jobs/{id}", job_status, GUARD_USER, SCOPE_GENERATE, RL_READ, 0,
	 "an image job: status, step k of n, image i of n, images"},
	{"GET", "/api/images", list, GUARD_USER, SCOPE_READ, RL_READ, 0, "your gallery, newest first (limit, before)"},
	{"POST", "/api/images/delete", bulk_delete, GUARD_USER, SCOPE_GENERATE, RL_WRITE, ROUTE_JSON,
	 "delete images {ids:[...]}: all or nothing"},
	{"GET", "/api/images/{id}", get, GUARD_USER, SCOPE_READ, RL_READ, 0, "an image's metadata"},
	{"DELETE", "/api/images/{id}", del, GUARD_USER, SCOPE_GENERATE, RL_WRITE, 0, "delete an image"},
	{"GET", "/api/images/{id}/file", file, GUARD_USER, SCOPE_READ, RL_READ, 0,
	 "an image's PNG (owner only; ?download=1 as an attachment)"},
	{"POST", "/api/images/{id}/keep", keep, GUARD_USER, SCOPE_GENERATE, RL_WRITE, 0,
	 "keep an image for good ([retention] images = ephemeral)"},
	{"GET", "/api/admin/users/{id}/images", staff_list, GUARD_ADMIN, 0, RL_READ, 0,
	 "a user's images' metadata, with a reason that is audited (SEC-5)"},
	{0},
};
