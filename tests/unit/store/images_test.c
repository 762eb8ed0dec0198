/* images_test.c: the image job queue and the gallery queries (store/images.c):
 * claiming is exclusive and ordered, a job ends once and forgets its
 * content, a crash's running jobs are requeued, an open hold of a pending
 * job survives credit recovery, and every gallery query is the owner's only
 * (GEN-5), with cursor paging and expiry (GEN-4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/images.h"
#include "store/store.h"

#include "tempdb.h"

static int setup(void **st)
{
	tempdb_open();
	return 0;
}

static int teardown(void **st)
{
	return tempdb_close();
}

static void queue(struct db_conn *c, const char *id, const char *model, int64_t at, int64_t hold)
{
	struct store_imagejob j;
	store_imagejob_init(&j);
	snprintf(j.id, sizeof j.id, "%s", id);
	snprintf(j.owner, sizeof j.owner, "u_a");
	snprintf(j.model, sizeof j.model, "%s", model);
	snprintf(j.endpoint, sizeof j.endpoint, "/v1/images/generations");
	buf_puts(&j.params, "{\"n\":1}");
	buf_puts(&j.prompt, "sealed-prompt");
	j.hold_id = hold;
	j.created_at = at;
	assert_int_equal(store_imagejob_insert(c, &j), ERR_OK);
	store_imagejob_free(&j);
}

/* REQ: PAY-5 */
static void jobs_claim_finish_requeue(void **st)
{
	struct db_conn *c = db_get(db);
	queue(c, "j2", "m", 20, 0);
	queue(c, "j1", "m", 10, 0);
	queue(c, "jx", "other", 5, 0);
	struct store_imagejob j;
	store_imagejob_init(&j);
	assert_int_equal(store_imagejob_claim(c, "m", 100, &j), ERR_OK);
	assert_string_equal(j.id, "j1"); /* oldest first, this model only */
	assert_string_equal(j.state, "running");
	assert_int_equal(j.prompt.len, strlen("sealed-prompt"));
	assert_int_equal(store_imagejob_claim(c, "m", 100, &j), ERR_OK);
	assert_string_equal(j.id, "j2");
	assert_int_equal(store_imagejob_claim(c, "m", 100, &j), ERR_NOTFOUND);
	int64_t n = -1;
	assert_int_equal(store_imagejob_pending(c, "m", &n), ERR_OK);
	assert_int_equal(n, 2);
	/* ends once; its content goes */
	assert_int_equal(store_imagejob_finish(c, "j1", "done", NULL, 200), ERR_OK);
	assert_int_equal(store_imagejob_finish(c, "j1", "failed", "x", 201), ERR_NOTFOUND);
	assert_int_equal(store_imagejob_get(c, "j1", "u_a", true, &j), ERR_OK);
	assert_string_equal(j.state, "done");
	assert_int_equal(j.prompt.len, 0);
	assert_int_equal(store_imagejob_get(c, "j1", "u_b", false, &j), ERR_NOTFOUND);
	/* a crash: j2 was running, it goes back to the queue */
	assert_int_equal(store_imagejob_requeue(c, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_imagejob_claim(c, "m", 300, &j), ERR_OK);
	assert_string_equal(j.id, "j2");
	assert_int_equal(store_imagejob_expire(c, 250, &n), ERR_OK);
	assert_int_equal(n, 1); /* j1 ended at 200 */
	store_imagejob_free(&j);
	db_put(c);
}

/* The hold of a queued job is not stale: recovery after a restart leaves it
 * for the job to settle. REQ: PAY-5 */
static void pending_job_keeps_its_hold(void **st)
{
	struct db_conn *c = db_get(db);
	int64_t g, h1, h2;
	assert_int_equal(store_ledger_add(c, "u_h", "grant", 100, "g1", 0, NULL, NULL, &g), ERR_OK);
	assert_int_equal(store_ledger_add(c, "u_h", "hold", -10, "h1", 0, NULL, NULL, &h1), ERR_OK);
	assert_int_equal(store_hold_open(c, h1, "u_h", 10), ERR_OK);
	assert_int_equal(store_ledger_add(c, "u_h", "hold", -10, "h2", 0, NULL, NULL, &h2), ERR_OK);
	assert_int_equal(store_hold_open(c, h2, "u_h", 10), ERR_OK);
	queue(c, "jh", "m2", 1, h1);
	int64_t ids[8];
	size_t n = 0;
	assert_int_equal(store_holds_stale(c, INT64_MAX, ids, 8, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], h2);
	db_put(c);
}

static int row(void *arg, const struct store_image *im, const void *p, size_t np, const void *q, size_t nq)
{
	char *out = arg;
	size_t l = strlen(out);
	snprintf(out + l, 256 - l, "%s,", im->id);
	return 0;
}

static void image(struct db_conn *c, const char *id, const char *owner, int64_t expires)
{
	struct store_image im = {.idx = 0, .seed = 7, .width = 32, .height = 32, .steps = 5, .guidance = 2.5,
				 .kept = expires == 0, .expires_at = expires, .created_at = 50};
	snprintf(im.id, sizeof im.id, "%s", id);
	snprintf(im.owner, sizeof im.owner, "%s", owner);
	snprintf(im.model, sizeof im.model, "shapes");
	snprintf(im.sampler, sizeof im.sampler, "ddim");
	assert_int_equal(store_image_insert(c, &im, "p", 1, NULL, 0, "png", 3), ERR_OK);
}

/* REQ: GEN-4 REQ: GEN-5 */
static void gallery_is_the_owners(void **st)
{
	struct db_conn *c = db_get(db);
	image(c, "i1", "u_a", 0);
	image(c, "i2", "u_a", 0);
	image(c, "ib", "u_b", 0);
	image(c, "i3", "u_a", 0);
	image(c, "ie", "u_a", 100); /* ephemeral, expires at 100 */
	char out[256] = "";
	bool more;
	assert_int_equal(store_image_list(c, "u_a", NULL, 2, 60, row, out, &more), ERR_OK);
	assert_string_equal(out, "ie,i3,");
	assert_true(more);
	out[0] = '\0';
	assert_int_equal(store_image_list(c, "u_a", "i3", 10, 60, row, out, &more), ERR_OK);
	assert_string_equal(out, "i2,i1,");
	assert_false(more);
	assert_int_equal(store_image_list(c, "u_a", "ib", 10, 60, row, out, &more), ERR_NOTFOUND);
	/* expired: gone from reads before the sweep deletes it */
	out[0] = '\0';
	assert_int_equal(store_image_list(c, "u_a", NULL, 10, 100, row, out, &more), ERR_OK);
	assert_string_equal(out, "i3,i2,i1,");
	struct store_image im;
	struct buf png;
	buf_init(&png, 0);
	assert_int_equal(store_image_get(c, "ib", "u_a", 60, &im, NULL, NULL, &png), ERR_NOTFOUND);
	assert_int_equal(store_image_get(c, "ie", "u_a", 100, &im, NULL, NULL, &png), ERR_NOTFOUND);
	assert_int_equal(store_image_get(c, "ie", "u_a", 60, &im, NULL, NULL, &png), ERR_OK);
	assert_int_equal(png.len, 3);
	assert_false(im.kept);
	assert_true(im.guidance == 2.5);
	buf_free(&png);
	int64_t n = -1;
	assert_int_equal(store_image_delete(c, "ib", "u_a", &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_image_keep(c, "ie", "u_a", 60, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_image_expire(c, 1000, &n), ERR_OK);
	assert_int_equal(n, 0); /* kept */
	assert_int_equal(store_image_get(c, "ie", "u_a", 1000, &im, NULL, NULL, NULL), ERR_OK);
	db_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jobs_claim_finish_requeue),
		cmocka_unit_test(pending_job_keeps_its_hold),
		cmocka_unit_test(gallery_is_the_owners),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
