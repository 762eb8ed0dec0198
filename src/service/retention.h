/*
 * retention.h: every retention period of [retention] enforced by a sweeper
 * thread (RET-1, RET-2), and the same pass on demand for
 * `atelier privacy retention [--dry-run]`.
 */
#ifndef ATELIER_SERVICE_RETENTION_H
#define ATELIER_SERVICE_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "service/app.h"

struct retention_item {
	const char *category;  /* constant */
	int64_t period_s;      /* the configured period */
	int64_t rows;          /* rows that are (or, dry, would be) removed */
};

/* One pass over every category. With dry_run nothing changes. Fills up to
 * max items; *n gets how many. Each category is its own transaction. */
int retention_run(struct app *app, bool dry_run, struct retention_item *items, size_t max, size_t *n);

struct retention_sweeper;

/* A thread that runs a pass at start and then every interval_s seconds. */
int retention_start(struct retention_sweeper **out, struct app *app, int interval_s);

/* Stop the thread. Accepts NULL. */
void retention_stop(struct retention_sweeper *s);

#endif
