/*
 * images.h: the typed queries of image jobs and the gallery (0011_images).
 *
 * Sealed columns (prompt, negative prompt, start picture, PNG) travel as
 * opaque blobs: service/ seals and opens them with the owner's key (SEC-3).
 * Every gallery query that a user's request reaches takes the owner and
 * matches it in SQL, so another user's image reads as "not found" (GEN-5).
 */
#ifndef ATELIER_STORE_IMAGES_H
#define ATELIER_STORE_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/db.h"

/* --- jobs ------------------------------------------------------------------ */

struct store_imagejob {
	char id[40], owner[40], model[64], state[12], key_id[48], end_user[72], endpoint[32], error[96];
	int64_t hold_id, created_at, started_at, finished_at;
	struct buf params;           /* JSON text */
	struct buf prompt, negative, init; /* sealed; empty when NULL (or not asked for) */
};

/* Buffers of j: init before use, free after. */
void store_imagejob_init(struct store_imagejob *j);
void store_imagejob_free(struct store_imagejob *j);

/* Insert a queued job (state ignored). */
int store_imagejob_insert(struct db_conn *c, const struct store_imagejob *j);

/* The oldest queued job of model, moved to running at now, into j (with
 * its sealed content). ERR_NOTFOUND when none is queued. */
int store_imagejob_claim(struct db_conn *c, const char *model, int64_t now, struct store_imagejob *j);

/* Job id (of owner, unless owner is NULL) into j; content only when
 * with_content. ERR_NOTFOUND when there is none. */
int store_imagejob_get(struct db_conn *c, const char *id, const char *owner, bool with_content,
		       struct store_imagejob *j);

/* End a running job: state "done" or "failed", error a short constant or
 * NULL; its sealed content is cleared. ERR_NOTFOUND when it was not
 * running (ended already). */
int store_imagejob_finish(struct db_conn *c, const char *id, const char *state, const char *error,
			  int64_t now);

/* Put every running job back in the queue (start-up after a crash); *n
 * counts them. */
int store_imagejob_requeue(struct db_conn *c, int64_t *n);

/* Jobs of model queued or running. */
int store_imagejob_pending(struct db_conn *c, const char *model, int64_t *n);

/* The distinct models of queued jobs (64 bytes each, at most max). */
int store_imagejob_queued_models(struct db_conn *c, char (*models)[64], int max, int *n);

/* Delete jobs that ended before `before`; *n counts them. */
int store_imagejob_expire(struct db_conn *c, int64_t before, int64_t *n);

/* --- gallery ----------------------------------------------------------------- */

struct store_image {
	char id[40], owner[40], job_id[40], model[64], sampler[12];
	char end_user[72];          /* the customer's end user (keyed hash) or "" */
	int64_t idx, seed, width, height, steps, bytes, expires_at, created_at; /* expires_at 0: none */
	double guidance, strength;  /* strength 0: text to image */
	bool kept;
};

/* Insert an image with its sealed prompt (negative may be NULL) and PNG. */
int store_image_insert(struct db_conn *c, const struct store_image *im, const void *prompt, size_t np,
		       const void *negative, size_t nn, const void *png, size_t npng);

/* Image id of owner (any owner when NULL) into im; the sealed prompt,
 * negative prompt and PNG are appended to the buffers that are not NULL.
 * Expired images read as gone. ERR_NOTFOUND when there is none. */
int store_image_get(struct db_conn *c, const char *id, const char *owner, int64_t now, struct store_image *im,
		    struct buf *prompt, struct buf *negative, struct buf *png);

/* The owner's images, newest first, at most limit, after the cursor image
 * `before` (NULL: from the newest). fn gets each row and its sealed prompt
 * (valid during the call). *more: whether older ones remain. ERR_NOTFOUND
 * when `before` is not one of the owner's images. */
int store_image_list(struct db_conn *c, const char *owner, const char *before, int limit, int64_t now,
		     int (*fn)(void *arg, const struct store_image *im, const void *prompt, size_t np,
			       const void *negative, size_t nn),
		     void *arg, bool *more);

/* The IDs of a job's images in order (40 bytes each, at most max). */
int store_image_ids_of_job(struct db_conn *c, const char *job_id, char (*ids)[40], int max, int *n);

/* Delete image id of owner; *deleted: rows removed (0: not theirs or gone). */
int store_image_delete(struct db_conn *c, const char *id, const char *owner, int64_t *deleted);

/* Keep image id of owner for good (no expiry); *changed: rows changed. */
int store_image_keep(struct db_conn *c, const char *id, const char *owner, int64_t now, int64_t *changed);

/* Delete images whose expiry passed; *n counts them. */
int store_image_expire(struct db_conn *c, int64_t now, int64_t *n);

#endif
