/* credits.c: ledger entries, derived balances and holds (0004_credits.sql). */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"

int store_ledger_add(struct db_conn *c, const char *owner, const char *kind, int64_t amount,
		     const char *idem, int64_t hold_id, const char *model, const char *note,
		     int64_t *id)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "INSERT INTO ledger(owner, at, kind, amount, idem, hold_id, model, note) "
			    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_int(s, 2, time_now());
	db_bind_text(s, 3, kind);
	db_bind_int(s, 4, amount);
	db_bind_text(s, 5, idem);
	if (hold_id > 0)
		db_bind_int(s, 6, hold_id);
	else
		db_bind_null(s, 6);
	db_bind_text(s, 7, model);
	db_bind_text(s, 8, note);
	rc = db_step(s);
	if (rc == 1 && id)
		*id = db_col_int(s, 0);
	if (rc == 1)
		rc = db_step(s) < 0 ? ERR_DB : ERR_OK;
	db_done(s);
	if (rc == ERR_EXISTS) {
		/* two constraints can fail here: the idempotency key (a repeat)
		 * or the balance CHECK (an overdraft). Tell them apart. */
		int64_t other;
		char o[8];
		if (store_ledger_by_idem(c, idem, &other, o, sizeof o, &other) == ERR_NOTFOUND)
			return ERR_PAYMENT;
	}
	return rc;
}

int store_ledger_by_idem(struct db_conn *c, const char *idem, int64_t *id, char *owner,
			 size_t owner_len, int64_t *amount)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT id, owner, amount FROM ledger WHERE idem = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, idem);
	rc = db_step(s);
	if (rc == 1) {
		*id = db_col_int(s, 0);
		snprintf(owner, owner_len, "%s", db_col_text(s, 1));
		*amount = db_col_int(s, 2);
		rc = ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

static int one_int(struct db_conn *c, const char *sql, const char *owner, int64_t *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c, sql, &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	rc = db_step(s);
	*out = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_balance(struct db_conn *c, const char *owner, int64_t *balance)
{
	return one_int(c, "SELECT balance FROM credit_balances WHERE owner = ?", owner, balance);
}

int store_ledger_sum(struct db_conn *c, const char *owner, int64_t *sum)
{
	return one_int(c, "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE owner = ?", owner, sum);
}

int store_hold_open(struct db_conn *c, int64_t ledger_id, const char *owner, int64_t amount)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO credit_holds(ledger_id, owner, amount, created_at) VALUES (?, ?, ?, ?)", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, ledger_id);
	db_bind_text(s, 2, owner);
	db_bind_int(s, 3, amount);
	db_bind_int(s, 4, time_now());
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_hold_close(struct db_conn *c, int64_t ledger_id, const char *state, char *owner,
		     size_t owner_len, int64_t *amount)
{
	struct db_stmt *s;
	int rc = db_prepare(c,
			    "UPDATE credit_holds SET state = ? WHERE ledger_id = ? AND state = 'open' "
			    "RETURNING owner, amount",
			    &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, state);
	db_bind_int(s, 2, ledger_id);
	rc = db_step(s);
	if (rc == 1) {
		snprintf(owner, owner_len, "%s", db_col_text(s, 0));
		*amount = db_col_int(s, 1);
		rc = db_step(s) < 0 ? ERR_DB : ERR_OK;
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_holds_stale(struct db_conn *c, int64_t before, int64_t *ids, size_t max, size_t *n)
{
	struct db_stmt *s;
	*n = 0;
	int rc = db_prepare(c, "SELECT ledger_id FROM credit_holds WHERE state = 'open' AND created_at < ?"
			    /* a queued or running image job still owns its hold: it
			     * runs after a restart and settles then (PAY-5) */
			    " AND ledger_id NOT IN (SELECT hold_id FROM image_jobs WHERE state IN ('queued', 'running'))"
			    " ORDER BY ledger_id LIMIT ?", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, before);
	db_bind_int(s, 2, (int64_t)max);
	while ((rc = db_step(s)) == 1)
		ids[(*n)++] = db_col_int(s, 0);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
