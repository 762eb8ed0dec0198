/*
 * gallery.c: each owner's images (GEN-4, GEN-5): metadata with the prompt
 * opened under the owner's key, the PNG, paging, deletion, keeping, signed
 * links, and the one audited staff view (SEC-5).
 *
 * Signed links are a keyed hash (BLAKE2b under the server's blind-index
 * key, domain-separated) of owner, image and expiry. The signature alone
 * never opens an image: the route also requires the caller to be the owner.
 * A bearer-only link (anyone holding it can fetch) was rejected: it would
 * let a leaked URL show someone's image to anyone (GEN-5).
 */
#include "service/imagejobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "service/vault.h"
#include "store/images.h"
#include "store/store.h"

static json_t *iso(int64_t t)
{
	if (!t)
		return json_null();
	char s[32];
	time_iso8601(s, sizeof s, t);
	return json_string(s);
}

static json_t *opened(struct app *app, struct db_conn *c, const char *owner, const char *purpose, const void *p,
		      size_t n)
{
	if (!p || !n)
		return json_null();
	struct buf pt;
	buf_init(&pt, 0);
	json_t *v = vault_open(c, app->keys, owner, purpose, p, n, &pt) == ERR_OK
			    ? json_stringn(pt.data ? pt.data : "", pt.len)
			    : json_string("(unreadable)");
	crypto_wipe(pt.data, pt.len);
	buf_free(&pt);
	return v;
}

static json_t *meta_json(struct app *app, struct db_conn *c, const struct store_image *im, const void *p, size_t np,
			 const void *q, size_t nq)
{
	char size[32];
	snprintf(size, sizeof size, "%lldx%lld", (long long)im->width, (long long)im->height);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:s, s:I, s:I, s:I, s:f, s:s, s:I, s:b, s:o, s:o, s:o}",
			      "id", im->id, "object", "image", "model", im->model, "prompt",
			      opened(app, c, im->owner, "image.prompt", p, np), "negative_prompt",
			      opened(app, c, im->owner, "image.negative_prompt", q, nq), "seed", (json_int_t)im->seed,
			      "size", size, "width", (json_int_t)im->width, "height", (json_int_t)im->height, "steps",
			      (json_int_t)im->steps, "guidance", im->guidance, "sampler", im->sampler, "bytes",
			      (json_int_t)im->bytes, "kept", im->kept, "expires_at", iso(im->expires_at), "created_at",
			      iso(im->created_at), "job", im->job_id[0] ? json_string(im->job_id) : json_null());
	json_object_set_new(o, "strength", im->strength > 0 ? json_real(im->strength) : json_null());
	return o;
}

int gallery_get(struct app *app, const char *owner, const char *id, json_t **meta, struct buf *png)
{
	struct store_image im;
	struct buf p, q, sealed;
	buf_init(&p, 0);
	buf_init(&q, 0);
	buf_init(&sealed, 0);
	struct db_conn *c = db_get(app->db);
	int rc = store_image_get(c, id, owner, time_now(), &im, meta ? &p : NULL, meta ? &q : NULL,
				 png ? &sealed : NULL);
	if (!rc && png)
		rc = vault_open(c, app->keys, im.owner, "image.png", sealed.data, sealed.len, png);
	if (!rc && meta && !(*meta = meta_json(app, c, &im, p.data, p.len, q.data, q.len)))
		rc = ERR_NOMEM;
	db_put(c);
	buf_free(&p);
	buf_free(&q);
	buf_free(&sealed);
	return rc;
}

struct lctx {
	struct app *app;
	struct db_conn *c;
	json_t *data;
	char last[40];
};

static int list_row(void *arg, const struct store_image *im, const void *p, size_t np, const void *q, size_t nq)
{
	struct lctx *x = arg;
	json_array_append_new(x->data, meta_json(x->app, x->c, im, p, np, q, nq));
	snprintf(x->last, sizeof x->last, "%s", im->id);
	return ERR_OK;
}

static int list(struct app *app, struct db_conn *c, const char *owner, const char *before, int limit, json_t **out,
		struct errinfo *e)
{
	struct lctx x = {app, c, json_array(), ""};
	bool more = false;
	int rc = store_image_list(c, owner, before, limit, time_now(), list_row, &x, &more);
	if (rc) {
		json_decref(x.data);
		if (rc == ERR_NOTFOUND)
			err_set(e, ERR_INVALID, "before", "the cursor is not one of your images");
		return rc == ERR_NOTFOUND ? ERR_INVALID : rc;
	}
	*out = json_pack("{s:s, s:o, s:o}", "object", "list", "data", x.data, "next",
			 more ? json_string(x.last) : json_null());
	return ERR_OK;
}

int gallery_list(struct app *app, const char *owner, const char *before, int limit, json_t **out,
		 struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	int rc = list(app, c, owner, before, limit, out, e);
	db_put(c);
	return rc;
}

int gallery_delete(struct app *app, const char *owner, const char *const *ids, int n, struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	for (int i = 0; !rc && i < n; i++) {
		int64_t del = 0;
		if ((rc = store_image_delete(c, ids[i], owner, &del)))
			break;
		if (del != 1)
			rc = err_set(e, ERR_NOTFOUND, "ids", "no image '%.40s' in your gallery; nothing was deleted", ids[i]);
	}
	if (!rc)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	if (!rc)
		db_scrub(app->db); /* deleted pictures must not linger in the write-ahead log */
	return rc;
}

int gallery_keep(struct app *app, const char *owner, const char *id)
{
	int64_t changed = 0;
	struct db_conn *c = db_get(app->db);
	int rc = store_image_keep(c, id, owner, time_now(), &changed);
	db_put(c);
	return rc ? rc : changed ? ERR_OK : ERR_NOTFOUND;
}

int gallery_staff_list(struct app *app, const char *actor, const char *user_id, const char *reason, int limit,
		       json_t **out, struct errinfo *e)
{
	struct store_user u;
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = store_user_by_id(c, user_id, &u))) {
		err_set(e, rc, NULL, "no such user");
		goto out;
	}
	json_t *d = json_pack("{s:s, s:s}", "reason", reason, "what", "images");
	char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	/* the access is on record before anything is read (SEC-5) */
	rc = detail ? store_audit_add(c, actor, user_id, "staff.images_viewed", detail, NULL) : ERR_NOMEM;
	free(detail);
	if (!rc)
		rc = list(app, c, user_id, NULL, limit, out, e);
	if (!rc)
		rc = db_commit(c);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

static void sign(struct app *app, const char *owner, const char *id, const char *exp, char out[CRYPTO_HASH_HEX])
{
	char msg[160];
	int n = snprintf(msg, sizeof msg, "image-link\x1f%s\x1f%s\x1f%s", owner, id, exp);
	crypto_blind_index(app->keys, out, msg, (size_t)n);
}

void gallery_link(struct app *app, const char *owner, const char *id, int64_t exp, char *out, size_t n)
{
	char e[24], sig[CRYPTO_HASH_HEX];
	snprintf(e, sizeof e, "%lld", (long long)exp);
	sign(app, owner, id, e, sig);
	snprintf(out, n, "/api/images/%s/file?exp=%s&sig=%s", id, e, sig);
}

int gallery_link_ok(struct app *app, const char *owner, const char *id, const char *exp, const char *sig)
{
	if (!exp || !sig || strlen(exp) > 20 || strlen(sig) != CRYPTO_HASH_HEX - 1)
		return 0;
	char *end;
	long long t = strtoll(exp, &end, 10);
	if (*end || end == exp || t < time_now())
		return 0;
	char want[CRYPTO_HASH_HEX];
	sign(app, owner, id, exp, want);
	return crypto_equal(want, sig, CRYPTO_HASH_HEX - 1);
}
