/* billing.c: charges, receipts, provider events, usage rows (0005_billing.sql). */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int store_charge_add(struct db_conn *c, const struct store_charge *ch, const char *hosted_url)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO charges(ref, owner, code, credits, amount_cents, currency, status, "
			    "hosted_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	int64_t now = time_now();
	db_bind_text(s, 1, ch->ref);
	db_bind_text(s, 2, ch->owner);
	db_bind_text(s, 3, ch->code[0] ? ch->code : NULL);
	db_bind_int(s, 4, ch->credits);
	db_bind_int(s, 5, ch->amount_cents);
	db_bind_text(s, 6, ch->currency);
	db_bind_text(s, 7, ch->status[0] ? ch->status : "created");
	db_bind_text(s, 8, hosted_url);
	db_bind_int(s, 9, now);
	db_bind_int(s, 10, now);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_charge_by_code(struct db_conn *c, const char *code, struct store_charge *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT ref, owner, code, credits, amount_cents, currency, status, created_at "
			    "FROM charges WHERE code = ?",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, code);
	rc = db_step(s);
	if (rc == 1) {
		copy(out->ref, sizeof out->ref, db_col_text(s, 0));
		copy(out->owner, sizeof out->owner, db_col_text(s, 1));
		copy(out->code, sizeof out->code, db_col_text(s, 2));
		out->credits = db_col_int(s, 3);
		out->amount_cents = db_col_int(s, 4);
		copy(out->currency, sizeof out->currency, db_col_text(s, 5));
		copy(out->status, sizeof out->status, db_col_text(s, 6));
		out->created_at = db_col_int(s, 7);
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_charge_set_status(struct db_conn *c, const char *code, const char *status)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE charges SET status = ?, updated_at = ? WHERE code = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, status);
	db_bind_int(s, 2, time_now());
	db_bind_text(s, 3, code);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_webhook_event_add(struct db_conn *c, const char *id)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO webhook_events(id, received_at) VALUES (?, ?)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_int(s, 2, time_now());
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_receipt_add(struct db_conn *c, const char *id, const char *owner, const char *charge_code,
		      int64_t credits, int64_t amount_cents, const char *currency)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO receipts(id, owner, charge_code, credits, amount_cents, currency, issued_at) "
			    "VALUES (?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, owner);
	db_bind_text(s, 3, charge_code);
	db_bind_int(s, 4, credits);
	db_bind_int(s, 5, amount_cents);
	db_bind_text(s, 6, currency);
	db_bind_int(s, 7, time_now());
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_receipts_each(struct db_conn *c, const char *owner,
			int (*fn)(void *arg, const char *id, const char *code, int64_t credits,
				  int64_t cents, const char *currency, int64_t issued_at),
			void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT id, charge_code, credits, amount_cents, currency, issued_at FROM receipts "
			    "WHERE owner = ? ORDER BY issued_at DESC, id",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	while ((rc = db_step(s)) == 1)
		if ((rc = fn(arg, db_col_text(s, 0), db_col_text(s, 1), db_col_int(s, 2), db_col_int(s, 3),
			     db_col_text(s, 4), db_col_int(s, 5))))
			break;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_usage_add(struct db_conn *c, const struct store_usage *u)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO usage(owner, at, endpoint, model, key_id, end_user, prompt_tokens, "
			    "completion_tokens, images, audio_ms, status, latency_ms, cost) "
			    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, u->owner);
	db_bind_int(s, 2, time_now());
	db_bind_text(s, 3, u->endpoint);
	db_bind_text(s, 4, u->model);
	db_bind_text(s, 5, u->key_id);
	db_bind_text(s, 6, u->end_user);
	db_bind_int(s, 7, u->prompt_tokens);
	db_bind_int(s, 8, u->completion_tokens);
	db_bind_int(s, 9, u->images);
	db_bind_int(s, 10, u->audio_ms);
	db_bind_int(s, 11, u->status);
	db_bind_int(s, 12, u->latency_ms);
	db_bind_int(s, 13, u->cost);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_usage_daily(struct db_conn *c, const char *owner, int64_t from, int64_t to,
		      int (*fn)(void *arg, const char *day, const char *model, const char *key_id,
				int64_t calls, int64_t prompt, int64_t completion, int64_t images,
				int64_t audio_ms, int64_t cost),
		      void *arg)
{
	struct db_stmt *s;
	/* day computed as integer division so the SQL is the same on PostgreSQL */
	int rc = db_prepare(c,
			    "SELECT at / 86400 AS day, COALESCE(model, ''), COALESCE(key_id, ''), COUNT(*), "
			    "SUM(prompt_tokens), SUM(completion_tokens), SUM(images), SUM(audio_ms), SUM(cost) "
			    "FROM usage WHERE owner = ? AND at >= ? AND at < ? "
			    "GROUP BY day, COALESCE(model, ''), COALESCE(key_id, '') ORDER BY day, 2, 3",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_int(s, 2, from);
	db_bind_int(s, 3, to);
	while ((rc = db_step(s)) == 1) {
		char day[11]; /* "YYYY-MM-DD": the ISO time cut after the date */
		time_iso8601(day, sizeof day, db_col_int(s, 0) * 86400);
		if ((rc = fn(arg, day, db_col_text(s, 1), db_col_text(s, 2), db_col_int(s, 3), db_col_int(s, 4),
			     db_col_int(s, 5), db_col_int(s, 6), db_col_int(s, 7), db_col_int(s, 8))))
			break;
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_usage_each(struct db_conn *c, const char *owner, int64_t from, int64_t to,
		     int (*fn)(void *arg, int64_t at, const char *endpoint, const char *model,
			       const char *key_id, int64_t prompt, int64_t completion, int64_t images,
			       int64_t audio_ms, int64_t status, int64_t latency_ms, int64_t cost),
		     void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "SELECT at, endpoint, COALESCE(model, ''), COALESCE(key_id, ''), prompt_tokens, "
			    "completion_tokens, images, audio_ms, status, latency_ms, cost FROM usage "
			    "WHERE owner = ? AND at >= ? AND at < ? ORDER BY at, id",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_int(s, 2, from);
	db_bind_int(s, 3, to);
	while ((rc = db_step(s)) == 1)
		if ((rc = fn(arg, db_col_int(s, 0), db_col_text(s, 1), db_col_text(s, 2), db_col_text(s, 3),
			     db_col_int(s, 4), db_col_int(s, 5), db_col_int(s, 6), db_col_int(s, 7),
			     db_col_int(s, 8), db_col_int(s, 9), db_col_int(s, 10))))
			break;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_usage_expire(struct db_conn *c, int64_t before, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM usage WHERE at < ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, before);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*n = db_changes(c);
	return ERR_OK;
}
