/*
 * retention.c: the sweeper. Each category's cut-off is now minus its
 * configured period; what is older goes, in one transaction per category.
 * Holds of credits that were never settled are released here as well, so a
 * crashed worker on another node cannot keep a user's credits reserved.
 */
#include "service/retention.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "service/credits.h"
#include "store/store.h"

int retention_run(struct app *app, bool dry_run, struct retention_item *items, size_t max, size_t *n)
{
	const struct config *c = app->cfg;
	const struct {
		const char *name;
		int64_t period;
	} cats[] = {
		{"usage_logs", c->retention.usage_logs},
		{"mail_outbox", c->retention.mail_outbox},
		{"webhook_events", c->retention.webhook_events},
		{"audit", c->retention.audit},
		{"billing", c->retention.billing},
		{"sessions", c->retention.sessions},
		{"images_expired", 0},
		{"image_jobs", 86400},
	};
	*n = 0;
	int64_t now = time_now();
	for (size_t i = 0; i < sizeof cats / sizeof cats[0] && *n < max; i++) {
		struct retention_item *it = &items[(*n)++];
		it->category = cats[i].name;
		it->period_s = cats[i].period;
		it->rows = 0;
		int64_t before = now - cats[i].period;
		struct db_conn *conn = db_get(app->db);
		int rc;
		if (dry_run) {
			rc = store_retention_count(conn, cats[i].name, before, &it->rows);
		} else if ((rc = db_begin(conn)) == ERR_OK) {
			rc = store_retention_delete(conn, cats[i].name, before, &it->rows);
			if (rc == ERR_OK)
				rc = db_commit(conn);
			if (rc)
				db_rollback(conn);
		}
		db_put(conn);
		if (rc)
			return rc;
		if (!dry_run && it->rows)
			log_info("retention.deleted", "\"category\":\"%s\",\"rows\":%lld", it->category,
				 (long long)it->rows);
	}
	if (!dry_run) {
		size_t released;
		int rc = credits_recover(app->db, c->credits.hold_max_age, &released);
		if (rc)
			return rc;
		/* erased rows must not linger in the write-ahead log */
		db_scrub(app->db);
	}
	return ERR_OK;
}

struct retention_sweeper {
	struct app *app;
	int interval;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static void *sweep(void *arg)
{
	struct retention_sweeper *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		struct retention_item items[16];
		size_t n;
		int rc = retention_run(s->app, false, items, 16, &n);
		if (rc)
			log_error("retention.failed", "\"error\":\"%s\"", err_str(rc));
		pthread_mutex_lock(&s->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += s->interval;
		while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int retention_start(struct retention_sweeper **out, struct app *app, int interval_s)
{
	struct retention_sweeper *s = calloc(1, sizeof *s);
	if (!s)
		return ERR_NOMEM;
	s->app = app;
	s->interval = interval_s > 0 ? interval_s : 3600;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->th, NULL, sweep, s)) {
		free(s);
		return ERR_NOMEM;
	}
	*out = s;
	return ERR_OK;
}

void retention_stop(struct retention_sweeper *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
