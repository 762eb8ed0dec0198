/* usage.c: recording calls and rendering the owner's usage as JSON or CSV. */
#include "service/usage.h"

#include <stdio.h>

#include "base/timeutil.h"

int usage_record(struct db *db, const struct store_usage *u)
{
	struct db_conn *c = db_get(db);
	/* lazy, like the charge it goes with: no disk flush on the request path */
	int rc = db_begin_lazy(c);
	if (rc == ERR_OK && (rc = store_usage_add(c, u)) == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

struct sum {
	json_t *days;
	int64_t calls, prompt, completion, images, audio_ms, cost;
};

static int add_day(void *arg, const char *day, const char *model, const char *key_id, int64_t calls,
		   int64_t prompt, int64_t completion, int64_t images, int64_t audio_ms, int64_t cost)
{
	struct sum *s = arg;
	json_array_append_new(s->days,
			      json_pack("{s:s, s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:f}", "day", day, "model",
					model, "key_id", key_id[0] ? key_id : NULL, "calls", (json_int_t)calls,
					"prompt_tokens", (json_int_t)prompt, "completion_tokens",
					(json_int_t)completion, "images", (json_int_t)images, "audio_ms",
					(json_int_t)audio_ms, "credits", (double)cost / 1e6));
	s->calls += calls;
	s->prompt += prompt;
	s->completion += completion;
	s->images += images;
	s->audio_ms += audio_ms;
	s->cost += cost;
	return 0;
}

int usage_summary(struct db *db, const char *owner, int64_t from, int64_t to, json_t **out)
{
	struct sum s = {.days = json_array()};
	struct db_conn *c = db_get(db);
	int rc = store_usage_daily(c, owner, from, to, add_day, &s);
	db_put(c);
	if (rc) {
		json_decref(s.days);
		return rc;
	}
	char f[24], t[24];
	time_iso8601(f, sizeof f, from);
	time_iso8601(t, sizeof t, to);
	*out = json_pack("{s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:f}}", "from", f, "to", t, "days",
			 s.days, "totals", "calls", (json_int_t)s.calls, "prompt_tokens",
			 (json_int_t)s.prompt, "completion_tokens", (json_int_t)s.completion, "images",
			 (json_int_t)s.images, "audio_ms", (json_int_t)s.audio_ms, "credits",
			 (double)s.cost / 1e6);
	return *out ? ERR_OK : ERR_NOMEM;
}

/* CSV fields here are our own constants, model names and key IDs from
 * configuration and the database; quote them anyway so a comma or quote in
 * a model name cannot shift columns. */
static int csv_field(struct buf *b, const char *s)
{
	int rc = buf_puts(b, "\"");
	for (const char *p = s; !rc && *p; p++)
		rc = *p == '"' ? buf_puts(b, "\"\"") : buf_append(b, p, 1);
	return rc ? rc : buf_puts(b, "\"");
}

static int add_row(void *arg, int64_t at, const char *endpoint, const char *model, const char *key_id,
		   int64_t prompt, int64_t completion, int64_t images, int64_t audio_ms, int64_t status,
		   int64_t latency_ms, int64_t cost)
{
	struct buf *b = arg;
	char ts[24];
	time_iso8601(ts, sizeof ts, at);
	int rc = buf_printf(b, "%s,", ts);
	if (!rc)
		rc = csv_field(b, endpoint);
	if (!rc)
		rc = buf_puts(b, ",");
	if (!rc)
		rc = csv_field(b, model);
	if (!rc)
		rc = buf_puts(b, ",");
	if (!rc)
		rc = csv_field(b, key_id);
	if (!rc)
		rc = buf_printf(b, ",%lld,%lld,%lld,%lld,%lld,%lld,%.6f\r\n", (long long)prompt,
				(long long)completion, (long long)images, (long long)audio_ms, (long long)status,
				(long long)latency_ms, (double)cost / 1e6);
	return rc;
}

int usage_csv(struct db *db, const char *owner, int64_t from, int64_t to, struct buf *out)
{
	int rc = buf_puts(out, "time,endpoint,model,key_id,prompt_tokens,completion_tokens,images,"
			       "audio_ms,status,latency_ms,credits\r\n");
	if (rc)
		return rc;
	struct db_conn *c = db_get(db);
	rc = store_usage_each(c, owner, from, to, add_row, out);
	db_put(c);
	return rc;
}
