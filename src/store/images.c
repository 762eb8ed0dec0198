/* images.c: image jobs and the gallery (images.h, 0011_images.sql). */
#include "store/images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cpy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static void bind_opt_blob(struct db_stmt *s, int i, const struct buf *b)
{
	if (b->len)
		db_bind_blob(s, i, b->data, b->len);
	else
		db_bind_null(s, i);
}

static int take_blob(struct db_stmt *s, int i, struct buf *out)
{
	if (!out || db_col_null(s, i))
		return ERR_OK;
	size_t n;
	const void *p = db_col_blob(s, i, &n);
	return n ? buf_append(out, p, n) : ERR_OK;
}

void store_imagejob_init(struct store_imagejob *j)
{
	memset(j, 0, sizeof *j);
	buf_init(&j->params, 1 << 16);
	buf_init(&j->prompt, 1 << 16);
	buf_init(&j->negative, 1 << 16);
	buf_init(&j->init, 16u << 20);
}

void store_imagejob_free(struct store_imagejob *j)
{
	buf_free(&j->params);
	buf_free(&j->prompt);
	buf_free(&j->negative);
	buf_free(&j->init);
}

int store_imagejob_insert(struct db_conn *c, const struct store_imagejob *j)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO image_jobs(id, owner, model, state, params, prompt_sealed, negative_sealed, init_sealed,"
			    " hold_id, key_id, end_user, endpoint, created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, j->id);
	db_bind_text(s, 2, j->owner);
	db_bind_text(s, 3, j->model);
	db_bind_text(s, 4, j->params.data ? j->params.data : "{}");
	db_bind_blob(s, 5, j->prompt.data ? j->prompt.data : "", j->prompt.len);
	bind_opt_blob(s, 6, &j->negative);
	bind_opt_blob(s, 7, &j->init);
	db_bind_int(s, 8, j->hold_id);
	db_bind_text(s, 9, j->key_id[0] ? j->key_id : NULL);
	db_bind_text(s, 10, j->end_user[0] ? j->end_user : NULL);
	db_bind_text(s, 11, j->endpoint);
	db_bind_int(s, 12, j->created_at);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

#define JOB_COLS                                                                                                      \
	"id, owner, model, state, params, hold_id, key_id, end_user, endpoint, error, created_at, started_at,"        \
	" finished_at, prompt_sealed, negative_sealed, init_sealed"

static int read_job(struct db_stmt *s, bool with_content, struct store_imagejob *j)
{
	cpy(j->id, sizeof j->id, db_col_text(s, 0));
	cpy(j->owner, sizeof j->owner, db_col_text(s, 1));
	cpy(j->model, sizeof j->model, db_col_text(s, 2));
	cpy(j->state, sizeof j->state, db_col_text(s, 3));
	buf_reset(&j->params);
	const char *p = db_col_text(s, 4);
	int rc = buf_puts(&j->params, p ? p : "{}");
	j->hold_id = db_col_int(s, 5);
	cpy(j->key_id, sizeof j->key_id, db_col_text(s, 6));
	cpy(j->end_user, sizeof j->end_user, db_col_text(s, 7));
	cpy(j->endpoint, sizeof j->endpoint, db_col_text(s, 8));
	cpy(j->error, sizeof j->error, db_col_text(s, 9));
	j->created_at = db_col_int(s, 10);
	j->started_at = db_col_int(s, 11);
	j->finished_at = db_col_int(s, 12);
	buf_reset(&j->prompt);
	buf_reset(&j->negative);
	buf_reset(&j->init);
	if (with_content && !rc && !(rc = take_blob(s, 13, &j->prompt)) && !(rc = take_blob(s, 14, &j->negative)))
		rc = take_blob(s, 15, &j->init);
	return rc;
}

int store_imagejob_claim(struct db_conn *c, const char *model, int64_t now, struct store_imagejob *j)
{
	for (;;) {
		struct db_stmt *s;
		int rc = db_prepare(c, "SELECT " JOB_COLS " FROM image_jobs WHERE model = ? AND state = 'queued'"
				       " ORDER BY created_at, rowid LIMIT 1", &s);
		if (rc)
			return rc;
		db_bind_text(s, 1, model);
		rc = db_step(s);
		if (rc == 1)
			rc = read_job(s, true, j);
		else if (rc == 0)
			rc = ERR_NOTFOUND;
		db_done(s);
		if (rc)
			return rc;
		if ((rc = db_prepare(c, "UPDATE image_jobs SET state = 'running', started_at = ? WHERE id = ? AND state = 'queued'", &s)))
			return rc;
		db_bind_int(s, 1, now);
		db_bind_text(s, 2, j->id);
		rc = db_step(s);
		db_done(s);
		if (rc < 0)
			return rc;
		if (db_changes(c) == 1) {
			cpy(j->state, sizeof j->state, "running");
			j->started_at = now;
			return ERR_OK;
		}
		/* another worker took it first: try the next */
	}
}

int store_imagejob_get(struct db_conn *c, const char *id, const char *owner, bool with_content,
		       struct store_imagejob *j)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT " JOB_COLS " FROM image_jobs WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	rc = db_step(s);
	if (rc == 1)
		rc = read_job(s, with_content, j);
	else if (rc == 0)
		rc = ERR_NOTFOUND;
	db_done(s);
	return rc;
}

int store_imagejob_finish(struct db_conn *c, const char *id, const char *state, const char *error,
			  int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "UPDATE image_jobs SET state = ?, error = ?, finished_at = ?, prompt_sealed = NULL,"
			    " negative_sealed = NULL, init_sealed = NULL WHERE id = ? AND state = 'running'",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, state);
	db_bind_text(s, 2, error);
	db_bind_int(s, 3, now);
	db_bind_text(s, 4, id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	return db_changes(c) == 1 ? ERR_OK : ERR_NOTFOUND;
}

static int exec_count(struct db_conn *c, const char *sql, const char *a, int64_t v, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, sql, &s);
	if (rc)
		return rc;
	int i = 1;
	if (a)
		db_bind_text(s, i++, a);
	if (v >= 0)
		db_bind_int(s, i, v);
	rc = db_step(s);
	if (rc == 1 && n) {
		*n = db_col_int(s, 0);
		rc = 0;
	} else if (rc == 0 && n) {
		*n = db_changes(c);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_imagejob_requeue(struct db_conn *c, int64_t *n)
{
	return exec_count(c, "UPDATE image_jobs SET state = 'queued', started_at = NULL WHERE state = 'running'", NULL, -1, n);
}

int store_imagejob_pending(struct db_conn *c, const char *model, int64_t *n)
{
	return exec_count(c, "SELECT COUNT(*) FROM image_jobs WHERE model = ? AND state IN ('queued', 'running')", model, -1,
			  n);
}

int store_imagejob_queued_models(struct db_conn *c, char (*models)[64], int max, int *n)
{
	struct db_stmt *s;
	*n = 0;
	int rc = db_prepare(c, "SELECT DISTINCT model FROM image_jobs WHERE state = 'queued'", &s);
	if (rc)
		return rc;
	while (*n < max && (rc = db_step(s)) == 1)
		cpy(models[(*n)++], 64, db_col_text(s, 0));
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_imagejob_expire(struct db_conn *c, int64_t before, int64_t *n)
{
	return exec_count(c, "DELETE FROM image_jobs WHERE state IN ('done', 'failed') AND finished_at < ?", NULL, before, n);
}

/* --- gallery ------------------------------------------------------------------ */

int store_image_insert(struct db_conn *c, const struct store_image *im, const void *prompt, size_t np,
		       const void *negative, size_t nn, const void *png, size_t npng)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO images(id, owner, job_id, idx, model, prompt_sealed, negative_sealed, seed, width, height,"
			    " steps, guidance, sampler, strength, png_sealed, bytes, kept, expires_at, created_at, end_user)"
			    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, im->id);
	db_bind_text(s, 2, im->owner);
	db_bind_text(s, 3, im->job_id[0] ? im->job_id : NULL);
	db_bind_int(s, 4, im->idx);
	db_bind_text(s, 5, im->model);
	db_bind_blob(s, 6, prompt, np);
	if (negative && nn)
		db_bind_blob(s, 7, negative, nn);
	else
		db_bind_null(s, 7);
	db_bind_int(s, 8, im->seed);
	db_bind_int(s, 9, im->width);
	db_bind_int(s, 10, im->height);
	db_bind_int(s, 11, im->steps);
	char g[32];
	snprintf(g, sizeof g, "%.6g", im->guidance);
	db_bind_text(s, 12, g);
	db_bind_text(s, 13, im->sampler);
	if (im->strength > 0) {
		char st[32];
		snprintf(st, sizeof st, "%.6g", im->strength);
		db_bind_text(s, 14, st);
	} else {
		db_bind_null(s, 14);
	}
	db_bind_blob(s, 15, png, npng);
	db_bind_int(s, 16, (int64_t)npng);
	db_bind_int(s, 17, im->kept ? 1 : 0);
	if (im->expires_at)
		db_bind_int(s, 18, im->expires_at);
	else
		db_bind_null(s, 18);
	db_bind_int(s, 19, im->created_at);
	db_bind_text(s, 20, im->end_user[0] ? im->end_user : NULL);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

#define IMAGE_COLS                                                                                                    \
	"id, owner, job_id, idx, model, seed, width, height, steps, CAST(guidance AS TEXT), sampler,"                \
	" CAST(strength AS TEXT), bytes, kept, expires_at, created_at, prompt_sealed, negative_sealed"

static void read_image(struct db_stmt *s, struct store_image *im)
{
	memset(im, 0, sizeof *im);
	cpy(im->id, sizeof im->id, db_col_text(s, 0));
	cpy(im->owner, sizeof im->owner, db_col_text(s, 1));
	cpy(im->job_id, sizeof im->job_id, db_col_text(s, 2));
	im->idx = db_col_int(s, 3);
	cpy(im->model, sizeof im->model, db_col_text(s, 4));
	im->seed = db_col_int(s, 5);
	im->width = db_col_int(s, 6);
	im->height = db_col_int(s, 7);
	im->steps = db_col_int(s, 8);
	const char *g = db_col_text(s, 9);
	im->guidance = g ? strtod(g, NULL) : 0;
	cpy(im->sampler, sizeof im->sampler, db_col_text(s, 10));
	const char *st = db_col_text(s, 11);
	im->strength = st ? strtod(st, NULL) : 0;
	im->bytes = db_col_int(s, 12);
	im->kept = db_col_int(s, 13) != 0;
	im->expires_at = db_col_null(s, 14) ? 0 : db_col_int(s, 14);
	im->created_at = db_col_int(s, 15);
}

int store_image_get(struct db_conn *c, const char *id, const char *owner, int64_t now, struct store_image *im,
		    struct buf *prompt, struct buf *negative, struct buf *png)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT " IMAGE_COLS ", png_sealed FROM images WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)"
			    " AND (expires_at IS NULL OR expires_at > ?3)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	db_bind_int(s, 3, now);
	rc = db_step(s);
	if (rc == 1) {
		read_image(s, im);
		rc = take_blob(s, 16, prompt);
		if (!rc)
			rc = take_blob(s, 17, negative);
		if (!rc)
			rc = take_blob(s, 18, png);
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_image_list(struct db_conn *c, const char *owner, const char *before, int limit, int64_t now,
		     int (*fn)(void *arg, const struct store_image *im, const void *prompt, size_t np,
			       const void *negative, size_t nn),
		     void *arg, bool *more)
{
	struct db_stmt *s;
	int64_t cursor = INT64_MAX;
	*more = false;
	int rc;
	if (before) {
		if ((rc = db_prepare(c, "SELECT seq FROM images WHERE id = ? AND owner = ?", &s)))
			return rc;
		db_bind_text(s, 1, before);
		db_bind_text(s, 2, owner);
		rc = db_step(s);
		if (rc == 1)
			cursor = db_col_int(s, 0);
		db_done(s);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return ERR_NOTFOUND;
	}
	if ((rc = db_prepare(c,
			     "SELECT " IMAGE_COLS " FROM images WHERE owner = ? AND seq < ?"
			     " AND (expires_at IS NULL OR expires_at > ?) ORDER BY seq DESC LIMIT ?",
			     &s)))
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_int(s, 2, cursor);
	db_bind_int(s, 3, now);
	db_bind_int(s, 4, limit + 1);
	int n = 0;
	while ((rc = db_step(s)) == 1) {
		if (n++ == limit) {
			*more = true;
			break;
		}
		struct store_image im;
		read_image(s, &im);
		size_t np = 0, nn = 0;
		const void *p = db_col_null(s, 16) ? NULL : db_col_blob(s, 16, &np);
		const void *q = db_col_null(s, 17) ? NULL : db_col_blob(s, 17, &nn);
		if ((rc = fn(arg, &im, p, np, q, nn)))
			break;
	}
	db_done(s);
	return rc < 0 ? rc : rc == 1 ? ERR_OK : rc;
}

int store_image_ids_of_job(struct db_conn *c, const char *job_id, char (*ids)[40], int max, int *n)
{
	struct db_stmt *s;
	*n = 0;
	int rc = db_prepare(c, "SELECT id FROM images WHERE job_id = ? ORDER BY idx", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, job_id);
	while (*n < max && (rc = db_step(s)) == 1)
		cpy(ids[(*n)++], 40, db_col_text(s, 0));
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_image_delete(struct db_conn *c, const char *id, const char *owner, int64_t *deleted)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM images WHERE id = ? AND owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*deleted = db_changes(c);
	return ERR_OK;
}

int store_image_keep(struct db_conn *c, const char *id, const char *owner, int64_t now, int64_t *changed)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "UPDATE images SET kept = 1, expires_at = NULL WHERE id = ? AND owner = ?"
			    " AND (expires_at IS NULL OR expires_at > ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	db_bind_int(s, 3, now);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*changed = db_changes(c);
	return ERR_OK;
}

int store_image_expire(struct db_conn *c, int64_t now, int64_t *n)
{
	return exec_count(c, "DELETE FROM images WHERE expires_at IS NOT NULL AND expires_at <= ?", NULL, now, n);
}
