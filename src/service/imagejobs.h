/*
 * imagejobs.h: image generation as persisted jobs (GEN-2, GEN-3, GEN-4), the
 * image models this server offers, and each owner's gallery.
 *
 * A request is checked and paid for (a credit hold of the worst case) by
 * api/images.c, then becomes a row in image_jobs (queued) with its prompt
 * sealed under the owner's key (SEC-3). Each image model has one worker
 * thread that claims its queued jobs one at a time (one image_model serves
 * one generation at a time), runs them (the builtin engine, or the model's
 * upstream server), stores the images sealed in the gallery, settles the
 * hold and marks the job done, or releases the hold and marks it failed.
 * Progress (step k of n, image i of n) lives in memory. At start-up jobs left
 * running by a crash go back to the queue; their holds survive
 * credits_recover, so a restart loses no paid job and charges it once.
 *
 * With no [model.*] of kind image configured, the committed default
 * models/shapes-diffusion.safetensors is offered as "shapes".
 */
#ifndef ATELIER_SERVICE_IMAGEJOBS_H
#define ATELIER_SERVICE_IMAGEJOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"
#include "service/app.h"

#define IMAGEJOBS_MAX_N 4
#define IMAGEJOBS_BASE_STEPS 25 /* steps included in price_image */

struct image_model;

struct imagemodel {
	struct config_model cfg;   /* a copy (the default model has no section) */
	struct image_model *engine;/* builtin and loaded; else NULL */
	int size;                  /* pixels per side (upstream: [model] size, default 1024) */
	bool available;
	char reason[256];
};

/* What a job does; content pointers are the caller's until submit returns. */
struct imagejob_spec {
	const char *owner, *model, *key_id, *end_user, *endpoint;
	const char *prompt, *negative;  /* negative may be NULL */
	const uint8_t *init_rgb;        /* [size][size][3] or NULL (image to image) */
	const uint8_t *mask;            /* [size][size] with init_rgb, or NULL: 255 repaint, 0 keep */
	float strength;
	int n, steps;
	float guidance;
	const char *sampler;            /* "ddim" | "euler" */
	uint64_t seed;                  /* image i uses seed + i */
	int64_t hold;                   /* credit hold (0: free) */
	int64_t cost;                   /* settled on success */
	int64_t ttl;                    /* > 0: images expire this many seconds after they are made (ephemeral) */
	int64_t start_ms;               /* request start, for the usage row's latency */
};

/* A waiter: called on the worker thread. progress (may be NULL) after each
 * step; done once when the job ends, with the job's image IDs: rc ERR_OK, or
 * why it did not: ERR_BUSY (the server stops; the job runs after a restart),
 * ERR_FORBIDDEN (processing restricted), ERR_NOTFOUND (the owner was
 * erased), ERR_INTERNAL (it failed; its hold was released). */
struct imagejob_waiter {
	void (*progress)(void *arg, int step, int steps, int image_index, int n);
	void (*done)(void *arg, const char *job_id, int rc, char (*ids)[40], int nids);
	void *arg;
};

struct imagejobs;

/* Load the image models of cfg (or the default), put jobs a crash left
 * running back in the queue and start one worker per available model. */
int imagejobs_start(struct imagejobs **out, struct app *app, struct errinfo *e);

/* Stop the workers (a running job stops within one step and goes back to
 * the queue) and free. Accepts NULL. */
void imagejobs_stop(struct imagejobs *j);

/* Number of models and the i-th; the model named name (NULL or "": the
 * first) or NULL. */
int imagejobs_count(const struct imagejobs *j);
const struct imagemodel *imagejobs_model(const struct imagejobs *j, int i);
const struct imagemodel *imagejobs_find(const struct imagejobs *j, const char *name);

/* Worst-case cost in micro-credits of n images at steps. */
int64_t imagejobs_cost(const struct config_model *m, int n, int steps);

/* Queue a job (the hold is the job's from here on). ERR_BUSY when the
 * model's queue is full. w (may be NULL) is told of progress and the end.
 * id: 40 bytes. */
int imagejobs_submit(struct imagejobs *j, const struct imagejob_spec *s, const struct imagejob_waiter *w,
		     char id[40], struct errinfo *e);

/* A job of owner as JSON: {id, object, status, model, step, steps,
 * image_index, n, images:[ids], error, created_at}. ERR_NOTFOUND when it is
 * not theirs. */
int imagejobs_status(struct imagejobs *j, const char *owner, const char *id, json_t **out);

/* --- gallery -------------------------------------------------------------- */

/* The image's metadata as JSON, prompt opened: {id, object:"image", model,
 * prompt, negative_prompt, seed, size, width, height, steps, guidance,
 * sampler, strength, bytes, kept, expires_at, created_at, job}. */
int gallery_get(struct app *app, const char *owner, const char *id, json_t **meta, struct buf *png);

/* The owner's images, newest first: {data:[meta...], next}. before: the
 * cursor (an image ID) or NULL; limit 1..100. */
int gallery_list(struct app *app, const char *owner, const char *before, int limit, json_t **out,
		 struct errinfo *e);

/* Delete ids (all the owner's, or nothing: ERR_NOTFOUND naming the first
 * that is not), in one transaction. */
int gallery_delete(struct app *app, const char *owner, const char *const *ids, int n, struct errinfo *e);

/* Keep an image for good (ephemeral mode). */
int gallery_keep(struct app *app, const char *owner, const char *id);

/* Staff view (SEC-5): the user's images' metadata, newest first, with an
 * audit row naming the actor and the reason in the same transaction. */
int gallery_staff_list(struct app *app, const char *actor, const char *user_id, const char *reason,
		       int limit, json_t **out, struct errinfo *e);

/* A signed link to an image's file, valid until exp (Unix seconds) and only
 * for its owner: "/api/images/ID/file?exp=EXP&sig=SIG". */
void gallery_link(struct app *app, const char *owner, const char *id, int64_t exp, char *out, size_t n);

/* 1 when sig is the signature of (owner, id, exp) and exp has not passed. */
int gallery_link_ok(struct app *app, const char *owner, const char *id, const char *exp, const char *sig);

#endif
