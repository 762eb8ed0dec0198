/*
 * usage.h: the per-call usage log (USE-1) and the owner's views of it
 * (USE-2). A row says which endpoint and model, how many tokens, images or
 * seconds, the status, the latency and the cost; never the prompt or the
 * output.
 */
#ifndef ATELIER_SERVICE_USAGE_H
#define ATELIER_SERVICE_USAGE_H

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/db.h"
#include "store/store.h"

/* Append one row. */
int usage_record(struct db *db, const struct store_usage *u);

/* The owner's usage in [from, to) by day, model and key, as JSON:
 * {"from","to","days":[{"day","model","key_id","calls",...}],"totals":{...}} */
int usage_summary(struct db *db, const char *owner, int64_t from, int64_t to, json_t **out);

/* The same rows one per call, as CSV with a header line. */
int usage_csv(struct db *db, const char *owner, int64_t from, int64_t to, struct buf *out);

#endif
