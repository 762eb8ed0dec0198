/*
 * credits.c: ledger movements, each one transaction on one connection.
 *
 * Why holds are ledger entries rather than a separate "reserved" counter: the
 * balance the database protects is then the spendable balance, so two
 * concurrent reservations cannot both pass a check made in code and then
 * overdraw; the second one's INSERT fails the CHECK inside its own
 * transaction (PAY-5).
 */
#include "service/credits.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "store/store.h"

static int valid_amount(int64_t amount)
{
	return amount > 0 && amount <= CREDITS_MAX;
}

int credits_add(struct db *db, const char *owner, const char *kind, int64_t amount,
		const char *idem, const char *note, bool *applied)
{
	if (applied)
		*applied = false;
	if (!valid_amount(amount))
		return ERR_INVALID;
	if (strcmp(kind, "purchase") && strcmp(kind, "grant") && strcmp(kind, "refund"))
		return ERR_INVALID;
	struct db_conn *c = db_get(db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	rc = store_ledger_add(c, owner, kind, amount, idem, 0, NULL, note, NULL);
	if (rc == ERR_EXISTS) { /* already applied: idempotent success */
		db_rollback(c);
		rc = ERR_OK;
		goto out;
	}
	if (rc || (rc = db_commit(c))) {
		db_rollback(c);
		goto out;
	}
	if (applied)
		*applied = true;
out:
	db_put(c);
	return rc;
}

int credits_grant_audited(struct db *db, const char *actor, const char *user_id, int64_t amount,
			  const char *idem, const char *reason)
{
	if (!valid_amount(amount))
		return ERR_INVALID;
	struct db_conn *c = db_get(db);
	struct store_user u;
	json_t *d = json_pack("{s:s, s:I}", "reason", reason ? reason : "", "micro_credits", (json_int_t)amount);
	char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	int rc = detail ? db_begin(c) : ERR_NOMEM;
	if (rc)
		goto out;
	if ((rc = store_user_by_id(c, user_id, &u)) ||
	    (rc = store_ledger_add(c, user_id, "grant", amount, idem, 0, NULL, reason, NULL)) ||
	    (rc = store_audit_add(c, actor, user_id, "credits.granted", detail, NULL)) ||
	    (rc = db_commit(c)))
		db_rollback(c);
out:
	free(detail);
	db_put(c);
	return rc;
}

int credits_reserve(struct db *db, const char *owner, int64_t amount, const char *idem,
		    int64_t *hold)
{
	if (!valid_amount(amount))
		return ERR_INVALID;
	struct db_conn *c = db_get(db);
	/* lazy: a hold that a power cut erases was for a request that died with
	 * the power, and a durable commit after it (a queued image job) syncs it */
	int rc = db_begin_lazy(c);
	if (rc)
		goto out;
	rc = store_ledger_add(c, owner, "hold", -amount, idem, 0, NULL, NULL, hold);
	if (rc == ERR_EXISTS) {
		char o[80];
		int64_t amt;
		db_rollback(c);
		rc = store_ledger_by_idem(c, idem, hold, o, sizeof o, &amt);
		if (rc == ERR_OK && (strcmp(o, owner) || amt != -amount))
			rc = ERR_EXISTS; /* the key was used for something else */
		goto out;
	}
	if (rc == ERR_OK)
		rc = store_hold_open(c, *hold, owner, amount);
	if (rc || (rc = db_commit(c)))
		db_rollback(c);
out:
	db_put(c);
	return rc;
}

/* Close a hold and move its credits: release the hold, then spend. */
static int close_hold(struct db *db, int64_t hold, int64_t actual, const char *model)
{
	struct db_conn *c = db_get(db);
	char owner[80];
	int64_t amount;
	char idem[64];
	/* lazy: durable within DB_LAZY_SYNC_MS; a power cut inside that window
	 * leaves the hold open, and start-up releases it (the customer's gain) */
	int rc = db_begin_lazy(c);
	if (rc)
		goto out;
	rc = store_hold_close(c, hold, actual >= 0 ? "settled" : "released", owner, sizeof owner, &amount);
	if (rc)
		goto fail;
	snprintf(idem, sizeof idem, "release:%lld", (long long)hold);
	if ((rc = store_ledger_add(c, owner, "release", amount, idem, hold, NULL, NULL, NULL)))
		goto fail;
	if (actual > 0) {
		if (actual > amount) {
			log_warn("credits.clamped", "\"hold\":%lld,\"held\":%lld,\"actual\":%lld",
				 (long long)hold, (long long)amount, (long long)actual);
			actual = amount;
		}
		snprintf(idem, sizeof idem, "spend:%lld", (long long)hold);
		if ((rc = store_ledger_add(c, owner, "spend", -actual, idem, hold, model, NULL, NULL)))
			goto fail;
	}
	if ((rc = db_commit(c)))
		goto fail;
	goto out;
fail:
	db_rollback(c);
out:
	db_put(c);
	return rc;
}

int credits_settle(struct db *db, int64_t hold, int64_t actual, const char *model)
{
	if (actual < 0)
		return ERR_INVALID;
	return close_hold(db, hold, actual, model);
}

int credits_release(struct db *db, int64_t hold)
{
	return close_hold(db, hold, -1, NULL);
}

int credits_recover(struct db *db, int64_t max_age_s, size_t *n)
{
	*n = 0;
	int64_t ids[256];
	size_t got;
	int64_t before = max_age_s > 0 ? time_now() - max_age_s : INT64_MAX;
	for (;;) {
		struct db_conn *c = db_get(db);
		int rc = store_holds_stale(c, before, ids, 256, &got);
		db_put(c);
		if (rc)
			return rc;
		for (size_t i = 0; i < got; i++) {
			rc = credits_release(db, ids[i]);
			if (rc == ERR_OK)
				(*n)++;
			else if (rc != ERR_NOTFOUND) /* closed meanwhile: fine */
				return rc;
		}
		if (got < 256)
			break;
	}
	if (*n)
		log_info("credits.recovered", "\"holds\":%zu", *n);
	return ERR_OK;
}

int credits_balance(struct db *db, const char *owner, int64_t *balance)
{
	struct db_conn *c = db_get(db);
	int rc = store_balance(c, owner, balance);
	db_put(c);
	return rc;
}

int credits_check(struct db *db, const char *owner)
{
	struct db_conn *c = db_get(db);
	int64_t bal, sum;
	int rc = store_balance(c, owner, &bal);
	if (!rc)
		rc = store_ledger_sum(c, owner, &sum);
	db_put(c);
	if (rc)
		return rc;
	return bal == sum ? ERR_OK : ERR_CORRUPT;
}
