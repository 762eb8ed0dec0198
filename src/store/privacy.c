/*
 * privacy.c: the list of owner-scoped tables, and the privacy center's
 * typed queries (see privacy.h).
 *
 * Export SQL builds each row's JSON in the database (json_object), so the
 * list stays one row per table and the service never learns column names.
 * (PostgreSQL's json_build_object takes the same arguments: the pg backend
 * maps the one function name.)
 */
#include "store/privacy.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "store/store.h"

/* Erasure order: children before their parents (foreign keys), the user
 * row after everything that points to it, the owner's key last. */
static const struct store_privacy_table tables[] = {
	{"sessions", "user_id", "sessions",
	 "SELECT json_object('id', id, 'created_at', created_at, 'last_seen', last_seen, 'expires_at', expires_at,"
	 " 'browser', browser, 'os', os, 'network', network) FROM sessions WHERE user_id = ?1 ORDER BY created_at",
	 {NULL}, "SELECT COUNT(*) FROM sessions WHERE user_id = ?1", "DELETE FROM sessions WHERE user_id = ?1",
	 ERASE_DELETE, "your sign-in sessions: device (browser, OS), network, times; never the cookie"},
	{"api_keys", "user_id", "api_keys",
	 "SELECT json_object('id', id, 'name', name, 'prefix', prefix, 'scopes', scopes, 'created_at', created_at,"
	 " 'last_used', last_used, 'expires_at', expires_at) FROM api_keys WHERE user_id = ?1 ORDER BY created_at",
	 {NULL}, "SELECT COUNT(*) FROM api_keys WHERE user_id = ?1", "DELETE FROM api_keys WHERE user_id = ?1",
	 ERASE_DELETE, "your API keys' metadata; the secret itself is never stored"},
	{"auth_tokens", "user_id", "mailed_links",
	 "SELECT json_object('kind', kind, 'created_at', created_at, 'expires_at', expires_at, 'used_at', used_at)"
	 " FROM auth_tokens WHERE user_id = ?1 ORDER BY created_at",
	 {NULL}, "SELECT COUNT(*) FROM auth_tokens WHERE user_id = ?1", "DELETE FROM auth_tokens WHERE user_id = ?1",
	 ERASE_DELETE, "verification and password-reset links we mailed you (when, used or not)"},
	{"known_devices", "user_id", "known_devices",
	 "SELECT json_object('device_hash', device, 'first_seen', first_seen) FROM known_devices WHERE user_id = ?1",
	 {NULL}, "SELECT COUNT(*) FROM known_devices WHERE user_id = ?1",
	 "DELETE FROM known_devices WHERE user_id = ?1", ERASE_DELETE,
	 "devices you signed in from, as keyed hashes, so a new one can be told to you"},
	{"totp_pending", "user_id", "two_factor_enrolment",
	 "SELECT json_object('started_at', created_at) FROM totp_pending WHERE user_id = ?1",
	 {NULL}, "SELECT COUNT(*) FROM totp_pending WHERE user_id = ?1",
	 "DELETE FROM totp_pending WHERE user_id = ?1", ERASE_DELETE,
	 "a two-factor enrolment you started and have not confirmed (the secret itself is not exported)"},
	{"recovery_codes", "user_id", "two_factor_recovery_codes",
	 "SELECT json_object('created_at', created_at) FROM recovery_codes WHERE user_id = ?1 ORDER BY created_at",
	 {NULL}, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1",
	 "DELETE FROM recovery_codes WHERE user_id = ?1", ERASE_DELETE,
	 "how many unused recovery codes you have (kept only as keyed hashes, so not the codes)"},
	{"totp_throttle", "user_id", "two_factor_failures",
	 "SELECT json_object('failures', failures, 'window_start', window_start) FROM totp_throttle WHERE user_id = ?1",
	 {NULL}, "SELECT COUNT(*) FROM totp_throttle WHERE user_id = ?1",
	 "DELETE FROM totp_throttle WHERE user_id = ?1", ERASE_DELETE,
	 "wrong second-factor codes in the current window"},
	{"auth_throttle", "", "sign_in_failures",
	 "SELECT json_object('failures', failures, 'window_start', window_start, 'locked_until', locked_until)"
	 " FROM auth_throttle WHERE key = 'u:' || ?1",
	 {NULL}, "SELECT COUNT(*) FROM auth_throttle WHERE key = 'u:' || ?1",
	 "DELETE FROM auth_throttle WHERE key = 'u:' || ?1", ERASE_DELETE,
	 "failed sign-ins to your account in the current window"},
	{"email_changes", "user_id", "pending_email_change",
	 "SELECT json_object('created_at', created_at, 'expires_at', expires_at), email_sealed FROM email_changes"
	 " WHERE user_id = ?1",
	 {"email_change", NULL}, "SELECT COUNT(*) FROM email_changes WHERE user_id = ?1",
	 "DELETE FROM email_changes WHERE user_id = ?1", ERASE_DELETE, "a new email address waiting for confirmation"},
	{"consents", "user_id", "consents",
	 "SELECT json_object('kind', kind, 'granted', json(CASE granted WHEN 1 THEN 'true' ELSE 'false' END),"
	 " 'policy_version', policy_version, 'at', at, 'source', source) FROM consents WHERE user_id = ?1 ORDER BY id",
	 {NULL}, "SELECT COUNT(*) FROM consents WHERE user_id = ?1", "DELETE FROM consents WHERE user_id = ?1",
	 ERASE_DELETE, "every consent you gave or withdrew, with the policy version and time"},
	{"privacy_restrictions", "user_id", "restriction",
	 "SELECT json_object('since', since) FROM privacy_restrictions WHERE user_id = ?1",
	 {NULL}, "SELECT COUNT(*) FROM privacy_restrictions WHERE user_id = ?1",
	 "DELETE FROM privacy_restrictions WHERE user_id = ?1", ERASE_DELETE, "whether processing is restricted, since when"},
	{"privacy_objections", "user_id", "objections",
	 "SELECT json_object('purpose', purpose, 'at', at), note_sealed FROM privacy_objections WHERE user_id = ?1 ORDER BY id",
	 {"objection.note", NULL}, "SELECT COUNT(*) FROM privacy_objections WHERE user_id = ?1",
	 "DELETE FROM privacy_objections WHERE user_id = ?1", ERASE_DELETE, "your objections to processing, in your words"},
	{"privacy_exports", "user_id", "exports",
	 "SELECT json_object('id', id, 'state', state, 'created_at', created_at, 'ready_at', ready_at, 'expires_at', expires_at)"
	 " FROM privacy_exports WHERE user_id = ?1 ORDER BY created_at",
	 {NULL}, "SELECT COUNT(*) FROM privacy_exports WHERE user_id = ?1",
	 "DELETE FROM privacy_exports WHERE user_id = ?1", ERASE_DELETE, "copies of your data you asked for (this one included)"},
	{"privacy_requests", "user_id,customer", "privacy_requests",
	 "SELECT json_object('id', id, 'kind', kind, 'channel', channel, 'status', status, 'received_at', received_at,"
	 " 'due_at', due_at, 'closed_at', closed_at, 'outcome', outcome) FROM privacy_requests WHERE user_id = ?1 ORDER BY received_at",
	 {NULL}, "SELECT COUNT(*) FROM privacy_requests WHERE user_id = ?1",
	 "UPDATE privacy_requests SET user_id = NULL WHERE user_id = ?1", ERASE_DETACH,
	 "privacy requests about your account and how they were answered"},
	/* issue #5: the opt-in chat history; messages before their conversations */
	{"chat_messages", "owner", "chat_messages",
	 "SELECT json_object('conversation', conversation, 'seq', seq, 'role', role, 'created_at', created_at),"
	 " content_sealed FROM chat_messages WHERE owner = ?1 ORDER BY conversation, seq",
	 {"chat.content", NULL}, "SELECT COUNT(*) FROM chat_messages WHERE owner = ?1",
	 "DELETE FROM chat_messages WHERE owner = ?1", ERASE_DELETE,
	 "the messages of the chats you kept (chat history on): role, text, time"},
	{"chat_conversations", "owner", "chat_conversations",
	 "SELECT json_object('id', id, 'created_at', created_at, 'updated_at', updated_at), title_sealed"
	 " FROM chat_conversations WHERE owner = ?1 ORDER BY created_at",
	 {"chat.title", NULL}, "SELECT COUNT(*) FROM chat_conversations WHERE owner = ?1",
	 "DELETE FROM chat_conversations WHERE owner = ?1", ERASE_DELETE,
	 "the chats you kept while chat history was on: title, times"},
	{"chat_settings", "owner", "chat_settings",
	 "SELECT json_object('history', json(CASE history WHEN 1 THEN 'true' ELSE 'false' END), 'updated_at', updated_at)"
	 " FROM chat_settings WHERE owner = ?1",
	 {NULL}, "SELECT COUNT(*) FROM chat_settings WHERE owner = ?1", "DELETE FROM chat_settings WHERE owner = ?1",
	 ERASE_DELETE, "whether you switched chat history on, and when"},
	{"images", "owner,end_user", "images",
	 "SELECT json_object('id', id, 'file', 'images/' || id || '.png', 'model', model, 'seed', seed, 'width', width,"
	 " 'height', height, 'steps', steps, 'guidance', guidance, 'sampler', sampler, 'strength', strength,"
	 " 'kept', json(CASE kept WHEN 1 THEN 'true' ELSE 'false' END), 'expires_at', expires_at, 'created_at', created_at,"
	 " 'job', job_id), prompt_sealed, negative_sealed FROM images WHERE owner = ?1 ORDER BY seq",
	 {"image.prompt", "image.negative_prompt", NULL}, "SELECT COUNT(*) FROM images WHERE owner = ?1",
	 "DELETE FROM images WHERE owner = ?1", ERASE_DELETE,
	 "your generated images: prompt, model, seed, size, steps, time; each picture is images/ID.png"},
	{"image_jobs", "owner,end_user", "image_jobs",
	 "SELECT json_object('id', id, 'model', model, 'state', state, 'params', json(params), 'error', error,"
	 " 'created_at', created_at, 'finished_at', finished_at), prompt_sealed, negative_sealed FROM image_jobs"
	 " WHERE owner = ?1 ORDER BY created_at",
	 {"image.prompt", "image.negative_prompt", NULL}, "SELECT COUNT(*) FROM image_jobs WHERE owner = ?1",
	 "DELETE FROM image_jobs WHERE owner = ?1", ERASE_DELETE,
	 "image generation jobs of the last day (the prompt only while a job waits or runs)"},
	{"usage", "owner,end_user", "usage",
	 "SELECT json_object('at', at, 'endpoint', endpoint, 'model', model, 'key_id', key_id, 'end_user_hash', end_user,"
	 " 'prompt_tokens', prompt_tokens, 'completion_tokens', completion_tokens, 'images', images, 'audio_ms', audio_ms,"
	 " 'status', status, 'latency_ms', latency_ms, 'cost', cost) FROM usage WHERE owner = ?1 ORDER BY id",
	 {NULL}, "SELECT COUNT(*) FROM usage WHERE owner = ?1", "DELETE FROM usage WHERE owner = ?1", ERASE_DELETE,
	 "one row per API call: endpoint, model, counts, status, times, cost; never prompts or outputs"},
	{"credit_holds", "owner", "credit_holds",
	 "SELECT json_object('ledger_id', ledger_id, 'amount', amount, 'state', state, 'created_at', created_at)"
	 " FROM credit_holds WHERE owner = ?1",
	 {NULL}, "SELECT COUNT(*) FROM credit_holds WHERE owner = ?1", "DELETE FROM credit_holds WHERE owner = ?1",
	 ERASE_DELETE, "credits reserved for generations in progress"},
	{"credit_balances", "owner", "balance",
	 "SELECT json_object('balance_micro_credits', balance) FROM credit_balances WHERE owner = ?1",
	 {NULL}, "SELECT COUNT(*) FROM credit_balances WHERE owner = ?1",
	 "DELETE FROM credit_balances WHERE owner = ?1", ERASE_DELETE, "your credit balance (micro-credits)"},
	/* purchases and refunds are billing records (PAY-4): pseudonymized by
	 * the second statement below, which only the ledger trigger allows */
	{"ledger", "owner", "ledger",
	 "SELECT json_object('id', id, 'at', at, 'kind', kind, 'amount', amount, 'model', model, 'note', note)"
	 " FROM ledger WHERE owner = ?1 ORDER BY id",
	 {NULL}, "SELECT COUNT(*) FROM ledger WHERE owner = ?1",
	 "DELETE FROM ledger WHERE owner = ?1 AND kind NOT IN ('purchase', 'refund')", ERASE_DELETE,
	 "every credit movement: purchases, grants, spends, holds"},
	{"ledger", "owner", "ledger_billing",
	 NULL, {NULL}, "SELECT COUNT(*) FROM ledger WHERE owner = ?1 AND kind IN ('purchase', 'refund')",
	 "UPDATE ledger SET owner = ?2 WHERE owner = ?1 AND kind IN ('purchase', 'refund')", ERASE_PSEUDONYMIZE,
	 "(exported with ledger)"},
	{"charges", "owner", "charges",
	 "SELECT json_object('ref', ref, 'code', code, 'credits', credits, 'amount_cents', amount_cents, 'currency', currency,"
	 " 'status', status, 'created_at', created_at, 'updated_at', updated_at) FROM charges WHERE owner = ?1 ORDER BY created_at",
	 {NULL}, "SELECT COUNT(*) FROM charges WHERE owner = ?1",
	 "UPDATE charges SET owner = ?2, hosted_url = NULL, updated_at = ?3 WHERE owner = ?1", ERASE_PSEUDONYMIZE,
	 "checkouts you started with the payment processor"},
	{"receipts", "owner", "billing_receipts",
	 "SELECT json_object('id', id, 'charge_code', charge_code, 'credits', credits, 'amount_cents', amount_cents,"
	 " 'currency', currency, 'issued_at', issued_at) FROM receipts WHERE owner = ?1 ORDER BY issued_at",
	 {NULL}, "SELECT COUNT(*) FROM receipts WHERE owner = ?1",
	 "UPDATE receipts SET owner = ?2, pseudonymized_at = ?3 WHERE owner = ?1", ERASE_PSEUDONYMIZE,
	 "receipts of your purchases (kept for tax, pseudonymized if you delete your account)"},
	{"audit", "actor,subject", "audit",
	 "SELECT json_object('at', at, 'event', event, 'by_you', json(CASE WHEN actor = ?1 THEN 'true' ELSE 'false' END),"
	 " 'detail', json(detail), 'ip', ip) FROM audit WHERE actor = ?1 OR subject = ?1 ORDER BY id",
	 {NULL}, "SELECT COUNT(*) FROM audit WHERE actor = ?1 OR subject = ?1",
	 "DELETE FROM audit WHERE actor = ?1 OR subject = ?1", ERASE_DELETE,
	 "security events about your account, with the address where security needed it"},
	{"users", "", "profile",
	 "SELECT json_object('id', id, 'username', username, 'email_verified_at', email_verified_at, 'role', role,"
	 " 'age_group', age_group, 'adult_from', adult_from, 'parent_consent_at', parent_consent_at,"
	 " 'two_factor_enabled', json(CASE totp_enabled WHEN 1 THEN 'true' ELSE 'false' END), 'created_at', created_at,"
	 " 'password_changed_at', password_changed_at), email_sealed, parent_email_sealed, name_sealed, phone_sealed,"
	 " company_sealed, billing_address_sealed FROM users WHERE id = ?1",
	 {"email", "parent_email", "profile.name", "profile.phone", "profile.company", "profile.billing_address", NULL},
	 "SELECT COUNT(*) FROM users WHERE id = ?1", "DELETE FROM users WHERE id = ?1", ERASE_DELETE,
	 "your account and profile, opened from their sealed form; the password hash and 2FA secret are not included"},
	{"owner_keys", "owner", "keys", NULL, {NULL}, "SELECT COUNT(*) FROM owner_keys WHERE owner = ?1",
	 "DELETE FROM owner_keys WHERE owner = ?1", ERASE_DELETE,
	 "(not exported: the key your content is sealed with; destroying it is what makes every copy unreadable)"},
};

/* Tables with an owner-like column that hold nothing about a person by
 * that column, with the reason. */
static const char *const not_personal[] = {
	"erasures",       /* written at erasure: an ID that no longer points to anyone */
	"schema_migrations",
	"mail_outbox",    /* its "subject" is a mail's subject; rows are found by their
			   * sealed recipient (service/privacy.c, mail_to) */
};

const struct store_privacy_table *store_privacy_tables(size_t *n)
{
	*n = sizeof tables / sizeof tables[0];
	return tables;
}

int store_privacy_rows(struct db_conn *c, const struct store_privacy_table *t, const char *owner,
		       int (*fn)(void *arg, const char *json, const void *const *sealed,
				 const size_t *len, int nsealed),
		       void *arg)
{
	if (!t->export_sql)
		return ERR_OK;
	struct db_stmt *s;
	int rc = db_prepare(c, t->export_sql, &s);
	if (rc)
		return rc;
	int ns = 0;
	while (ns < STORE_PRIVACY_SEALED && t->sealed[ns])
		ns++;
	db_bind_text(s, 1, owner);
	while ((rc = db_step(s)) == 1) {
		const void *p[STORE_PRIVACY_SEALED];
		size_t l[STORE_PRIVACY_SEALED];
		for (int i = 0; i < ns; i++) {
			p[i] = db_col_null(s, i + 1) ? NULL : db_col_blob(s, i + 1, &l[i]);
			if (!p[i])
				l[i] = 0;
		}
		if ((rc = fn(arg, db_col_text(s, 0), p, l, ns)))
			break;
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

static int count1(struct db_conn *c, const char *sql, const char *a, const char *b, int64_t *n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, sql, &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, a);
	if (b)
		db_bind_text(s, 2, b);
	rc = db_step(s);
	*n = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_privacy_count(struct db_conn *c, const struct store_privacy_table *t, const char *owner,
			int64_t *n)
{
	return count1(c, t->count_sql, owner, NULL, n);
}

int store_privacy_erase(struct db_conn *c, const struct store_privacy_table *t, const char *owner,
			const char *pseudonym, int64_t now, int64_t *changed)
{
	struct db_stmt *s;
	int rc = db_prepare(c, t->erase_sql, &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	if (strstr(t->erase_sql, "?2"))
		db_bind_text(s, 2, pseudonym);
	if (strstr(t->erase_sql, "?3"))
		db_bind_int(s, 3, now);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*changed = db_changes(c);
	return ERR_OK;
}

static int registered(const char *table)
{
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
		if (!strcmp(tables[i].table, table))
			return 1;
	for (size_t i = 0; i < sizeof not_personal / sizeof not_personal[0]; i++)
		if (!strcmp(not_personal[i], table))
			return 1;
	return 0;
}

int store_privacy_unregistered(struct db_conn *c, void (*fn)(void *arg, const char *table,
							      const char *column),
			       void *arg, int *n)
{
	struct db_stmt *s;
	*n = 0;
	int rc = db_prepare(c,
			    "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p"
			    " WHERE m.type = 'table' AND p.name IN ('owner', 'user_id', 'subject', 'actor', 'customer',"
			    " 'end_user', 'owner_id', 'account_id') ORDER BY m.name",
			    &s);
	if (rc)
		return rc;
	while ((rc = db_step(s)) == 1) {
		const char *t = db_col_text(s, 0);
		if (!registered(t)) {
			(*n)++;
			if (fn)
				fn(arg, t, db_col_text(s, 1));
		}
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

/* --- end users ------------------------------------------------------------------ */

static const struct store_eu_table eu_tables[] = {
	{"usage", "usage",
	 "SELECT json_object('at', at, 'endpoint', endpoint, 'model', model, 'prompt_tokens', prompt_tokens,"
	 " 'completion_tokens', completion_tokens, 'images', images, 'audio_ms', audio_ms, 'status', status,"
	 " 'latency_ms', latency_ms) FROM usage WHERE owner = ?1 AND end_user = ?2 ORDER BY id",
	 "SELECT COUNT(*) FROM usage WHERE owner = ?1 AND end_user = ?2",
	 "DELETE FROM usage WHERE owner = ?1 AND end_user = ?2"},
	{"images", "images",
	 "SELECT json_object('id', id, 'model', model, 'seed', seed, 'width', width, 'height', height, 'steps', steps,"
	 " 'created_at', created_at, 'expires_at', expires_at) FROM images WHERE owner = ?1 AND end_user = ?2 ORDER BY seq",
	 "SELECT COUNT(*) FROM images WHERE owner = ?1 AND end_user = ?2",
	 "DELETE FROM images WHERE owner = ?1 AND end_user = ?2"},
	{"image_jobs", "image_jobs",
	 "SELECT json_object('id', id, 'model', model, 'state', state, 'created_at', created_at, 'finished_at', finished_at)"
	 " FROM image_jobs WHERE owner = ?1 AND end_user = ?2 ORDER BY created_at",
	 "SELECT COUNT(*) FROM image_jobs WHERE owner = ?1 AND end_user = ?2",
	 "DELETE FROM image_jobs WHERE owner = ?1 AND end_user = ?2"},
};

const struct store_eu_table *store_eu_tables(size_t *n)
{
	*n = sizeof eu_tables / sizeof eu_tables[0];
	return eu_tables;
}

int store_eu_rows(struct db_conn *c, const struct store_eu_table *t, const char *customer,
		  const char *eu, int (*fn)(void *arg, const char *json), void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c, t->export_sql, &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, customer);
	db_bind_text(s, 2, eu);
	while ((rc = db_step(s)) == 1)
		if ((rc = fn(arg, db_col_text(s, 0))))
			break;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_eu_count(struct db_conn *c, const struct store_eu_table *t, const char *customer,
		   const char *eu, int64_t *n)
{
	return count1(c, t->count_sql, customer, eu, n);
}

int store_eu_erase(struct db_conn *c, const struct store_eu_table *t, const char *customer,
		   const char *eu, int64_t *changed)
{
	struct db_stmt *s;
	int rc = db_prepare(c, t->erase_sql, &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, customer);
	db_bind_text(s, 2, eu);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*changed = db_changes(c);
	return ERR_OK;
}

/* --- exports -------------------------------------------------------------------- */

static void cp(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int store_export_insert(struct db_conn *c, const char *id, const char *user_id, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO privacy_exports(id, user_id, created_at) VALUES (?, ?, ?)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	db_bind_text(s, 2, user_id);
	db_bind_int(s, 3, now);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

#define EXPORT_COLS "id, user_id, state, created_at, ready_at, expires_at, size, sha256"

static void export_row(struct db_stmt *s, struct store_export *x)
{
	cp(x->id, sizeof x->id, db_col_text(s, 0));
	cp(x->user_id, sizeof x->user_id, db_col_text(s, 1));
	cp(x->state, sizeof x->state, db_col_text(s, 2));
	x->created_at = db_col_int(s, 3);
	x->ready_at = db_col_int(s, 4);
	x->expires_at = db_col_int(s, 5);
	x->size = db_col_int(s, 6);
	cp(x->sha256, sizeof x->sha256, db_col_text(s, 7));
}

int store_export_claim(struct db_conn *c, struct store_export *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT " EXPORT_COLS " FROM privacy_exports WHERE state = 'queued' ORDER BY created_at LIMIT 1", &s);
	if (rc)
		return rc;
	rc = db_step(s);
	if (rc == 1)
		export_row(s, out);
	db_done(s);
	if (rc <= 0)
		return rc < 0 ? rc : ERR_NOTFOUND;
	if ((rc = db_prepare(c, "UPDATE privacy_exports SET state = 'running' WHERE id = ? AND state = 'queued'", &s)))
		return rc;
	db_bind_text(s, 1, out->id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	return db_changes(c) == 1 ? ERR_OK : ERR_NOTFOUND;
}

int store_export_requeue(struct db_conn *c)
{
	return db_exec(c, "UPDATE privacy_exports SET state = 'queued' WHERE state = 'running'");
}

int store_export_finish(struct db_conn *c, const char *id, const char *state, int64_t now,
			int64_t expires_at, int64_t size, const char *sha256)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE privacy_exports SET state = ?, ready_at = ?, expires_at = ?, size = ?, sha256 = ?"
			       " WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, state);
	db_bind_int(s, 2, now);
	db_bind_int(s, 3, expires_at);
	db_bind_int(s, 4, size);
	db_bind_text(s, 5, sha256);
	db_bind_text(s, 6, id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_export_get(struct db_conn *c, const char *id, struct store_export *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT " EXPORT_COLS " FROM privacy_exports WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	rc = db_step(s);
	if (rc == 1)
		export_row(s, out);
	db_done(s);
	return rc < 0 ? rc : rc == 1 ? ERR_OK : ERR_NOTFOUND;
}

int store_export_list(struct db_conn *c, const char *user_id,
		      void (*fn)(void *arg, const struct store_export *x), void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT " EXPORT_COLS " FROM privacy_exports WHERE user_id = ? ORDER BY created_at DESC", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	while ((rc = db_step(s)) == 1) {
		struct store_export x;
		export_row(s, &x);
		fn(arg, &x);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

static int each_id(struct db_conn *c, const char *sql, const char *p1, int64_t p1i,
		   void (*fn)(void *arg, const char *id), void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c, sql, &s);
	if (rc)
		return rc;
	if (p1)
		db_bind_text(s, 1, p1);
	else if (strchr(sql, '?'))
		db_bind_int(s, 1, p1i);
	while ((rc = db_step(s)) == 1)
		fn(arg, db_col_text(s, 0));
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_export_ids(struct db_conn *c, const char *user_id, void (*fn)(void *arg, const char *id),
		     void *arg)
{
	return each_id(c, "SELECT id FROM privacy_exports WHERE user_id = ?", user_id, 0, fn, arg);
}

int store_export_expire(struct db_conn *c, int64_t now, void (*fn)(void *arg, const char *id),
			void *arg, int64_t *n)
{
	int rc = each_id(c, "SELECT id FROM privacy_exports WHERE expires_at IS NOT NULL AND expires_at <= ?", NULL,
			 now, fn, arg);
	struct db_stmt *s;
	if (rc || (rc = db_prepare(c, "DELETE FROM privacy_exports WHERE expires_at IS NOT NULL AND expires_at <= ?", &s)))
		return rc;
	db_bind_int(s, 1, now);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	if (n)
		*n = db_changes(c);
	return ERR_OK;
}

int store_export_set_expiry(struct db_conn *c, const char *id, int64_t at)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE privacy_exports SET expires_at = ? WHERE id = ? AND state = 'ready'", &s);
	if (rc)
		return rc;
	db_bind_int(s, 1, at);
	db_bind_text(s, 2, id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : db_changes(c) ? ERR_OK : ERR_NOTFOUND;
}

int store_export_exists(struct db_conn *c, const char *id, int *exists)
{
	int64_t n = 0;
	int rc = count1(c, "SELECT COUNT(*) FROM privacy_exports WHERE id = ?1", id, NULL, &n);
	*exists = n > 0;
	return rc;
}

/* --- consents, restriction, objections ------------------------------------------------ */

int store_consent_add(struct db_conn *c, const char *user_id, const char *kind, int granted,
		      const char *policy_version, int64_t at, const char *source)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO consents(user_id, kind, granted, policy_version, at, source)"
			       " VALUES (?, ?, ?, ?, ?, ?)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, kind);
	db_bind_int(s, 3, granted ? 1 : 0);
	db_bind_text(s, 4, policy_version);
	db_bind_int(s, 5, at);
	db_bind_text(s, 6, source);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_consent_list(struct db_conn *c, const char *user_id,
		       void (*fn)(void *arg, int64_t id, const char *kind, int granted,
				  const char *version, int64_t at, const char *source),
		       void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT id, kind, granted, policy_version, at, source FROM consents WHERE user_id = ? ORDER BY id", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	while ((rc = db_step(s)) == 1)
		fn(arg, db_col_int(s, 0), db_col_text(s, 1), (int)db_col_int(s, 2), db_col_text(s, 3),
		   db_col_int(s, 4), db_col_text(s, 5));
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_consent_current(struct db_conn *c, const char *user_id, const char *kind, int *granted,
			  char *version, size_t vn)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT granted, policy_version FROM consents WHERE user_id = ? AND kind = ? ORDER BY id DESC LIMIT 1", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, kind);
	rc = db_step(s);
	*granted = rc == 1 ? (int)db_col_int(s, 0) : -1;
	if (version)
		cp(version, vn, rc == 1 ? db_col_text(s, 1) : "");
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_restriction_set(struct db_conn *c, const char *user_id, int64_t now, int *created)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO privacy_restrictions(user_id, since) VALUES (?, ?) ON CONFLICT(user_id) DO NOTHING", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_int(s, 2, now);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*created = db_changes(c) > 0;
	return ERR_OK;
}

int store_restriction_clear(struct db_conn *c, const char *user_id, int64_t *deleted)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM privacy_restrictions WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	*deleted = db_changes(c);
	return ERR_OK;
}

int store_restriction_get(struct db_conn *c, const char *user_id, int64_t *since)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT since FROM privacy_restrictions WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	rc = db_step(s);
	*since = rc == 1 ? db_col_int(s, 0) : 0;
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_objection_add(struct db_conn *c, const char *user_id, const char *purpose,
			const void *note, size_t n, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO privacy_objections(user_id, purpose, note_sealed, at) VALUES (?, ?, ?, ?)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, purpose);
	if (note)
		db_bind_blob(s, 3, note, n);
	else
		db_bind_null(s, 3);
	db_bind_int(s, 4, now);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_objection_has(struct db_conn *c, const char *user_id, const char *purpose, int *has)
{
	int64_t n = 0;
	int rc = count1(c, "SELECT COUNT(*) FROM privacy_objections WHERE user_id = ?1 AND purpose = ?2", user_id,
			purpose, &n);
	*has = n > 0;
	return rc;
}

/* --- requests --------------------------------------------------------------------- */

int store_request_insert(struct db_conn *c, const struct store_request *r, const void *contact,
			 size_t contact_len, const char *verify_hash)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO privacy_requests(id, kind, channel, user_id, customer, contact_sealed, status,"
			       " received_at, due_at, closed_at, verify_hash, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, r->id);
	db_bind_text(s, 2, r->kind);
	db_bind_text(s, 3, r->channel);
	db_bind_text(s, 4, r->user_id);
	db_bind_text(s, 5, r->customer);
	if (contact)
		db_bind_blob(s, 6, contact, contact_len);
	else
		db_bind_null(s, 6);
	db_bind_text(s, 7, r->status ? r->status : "open");
	db_bind_int(s, 8, r->received_at);
	db_bind_int(s, 9, r->due_at);
	if (r->closed_at)
		db_bind_int(s, 10, r->closed_at);
	else
		db_bind_null(s, 10);
	db_bind_text(s, 11, verify_hash);
	db_bind_text(s, 12, r->outcome);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_request_close(struct db_conn *c, const char *id, const char *status, const char *outcome,
			int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE privacy_requests SET status = ?, outcome = ?, closed_at = ?, verify_hash = NULL WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, status);
	db_bind_text(s, 2, outcome);
	db_bind_int(s, 3, now);
	db_bind_text(s, 4, id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	return db_changes(c) ? ERR_OK : ERR_NOTFOUND;
}

int store_request_by_verify(struct db_conn *c, const char *hash, char id[40], char user_id[40],
			    char status[16])
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT id, user_id, status FROM privacy_requests WHERE verify_hash = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, hash);
	rc = db_step(s);
	if (rc == 1) {
		cp(id, 40, db_col_text(s, 0));
		cp(user_id, 40, db_col_text(s, 1));
		cp(status, 16, db_col_text(s, 2));
	}
	db_done(s);
	return rc < 0 ? rc : rc == 1 ? ERR_OK : ERR_NOTFOUND;
}

int store_request_contact(struct db_conn *c, const char *id, struct buf *out)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT contact_sealed FROM privacy_requests WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	rc = db_step(s);
	if (rc == 1 && !db_col_null(s, 0)) {
		size_t n;
		const void *p = db_col_blob(s, 0, &n);
		rc = buf_append(out, p, n) ? ERR_NOMEM : 1;
	}
	db_done(s);
	return rc < 0 ? rc : rc == 1 ? ERR_OK : ERR_NOTFOUND;
}

int store_request_verified(struct db_conn *c, const char *id)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE privacy_requests SET status = 'open', verify_hash = NULL WHERE id = ? AND status = 'unverified'", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : db_changes(c) ? ERR_OK : ERR_NOTFOUND;
}

int store_request_list(struct db_conn *c, const char *user_id, int limit,
		       void (*fn)(void *arg, const struct store_request *r), void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT id, kind, channel, user_id, customer, status, outcome, received_at, due_at, closed_at"
			       " FROM privacy_requests WHERE (? IS NULL OR user_id = ?)"
			       " ORDER BY status IN ('done', 'refused'),"
			       " CASE WHEN status IN ('done', 'refused') THEN -received_at ELSE due_at END LIMIT ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	db_bind_text(s, 2, user_id);
	db_bind_int(s, 3, limit);
	while ((rc = db_step(s)) == 1) {
		struct store_request r = {
			db_col_text(s, 0), db_col_text(s, 1), db_col_text(s, 2), db_col_text(s, 3),
			db_col_text(s, 4), db_col_text(s, 5), db_col_text(s, 6),
			db_col_int(s, 7), db_col_int(s, 8), db_col_int(s, 9),
		};
		fn(arg, &r);
	}
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

/* --- policy, email change, erasures, users, mail, keys ---------------------------------- */

int store_policy_add(struct db_conn *c, const char *version, const char *effective, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO policy_versions(version, effective, published_at) VALUES (?, ?, ?)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, version);
	db_bind_text(s, 2, effective);
	db_bind_int(s, 3, now);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_policy_latest(struct db_conn *c, char *version, size_t vn, char *effective, size_t en)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT version, effective FROM policy_versions ORDER BY published_at DESC, rowid DESC LIMIT 1", &s);
	if (rc)
		return rc;
	rc = db_step(s);
	if (rc == 1) {
		cp(version, vn, db_col_text(s, 0));
		cp(effective, en, db_col_text(s, 1));
	}
	db_done(s);
	return rc < 0 ? rc : rc == 1 ? ERR_OK : ERR_NOTFOUND;
}

int store_email_change_add(struct db_conn *c, const char *hash, const char *user_id,
			   const char *bidx, const void *sealed, size_t n, int64_t now,
			   int64_t expires_at)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM email_changes WHERE user_id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, user_id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	if ((rc = db_prepare(c, "INSERT INTO email_changes(hash, user_id, email_bidx, email_sealed, created_at, expires_at)"
				" VALUES (?, ?, ?, ?, ?, ?)", &s)))
		return rc;
	db_bind_text(s, 1, hash);
	db_bind_text(s, 2, user_id);
	db_bind_text(s, 3, bidx);
	db_bind_blob(s, 4, sealed, n);
	db_bind_int(s, 5, now);
	db_bind_int(s, 6, expires_at);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_email_change_take(struct db_conn *c, const char *hash, int64_t now, char user_id[40],
			    char bidx[72], struct buf *sealed)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT user_id, email_bidx, email_sealed FROM email_changes WHERE hash = ? AND expires_at > ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, hash);
	db_bind_int(s, 2, now);
	rc = db_step(s);
	if (rc == 1) {
		size_t n;
		const void *p = db_col_blob(s, 2, &n);
		cp(user_id, 40, db_col_text(s, 0));
		cp(bidx, 72, db_col_text(s, 1));
		rc = buf_append(sealed, p, n) ? ERR_NOMEM : 1;
	}
	db_done(s);
	if (rc != 1)
		return rc < 0 ? rc : ERR_NOTFOUND;
	if ((rc = db_prepare(c, "DELETE FROM email_changes WHERE hash = ?", &s)))
		return rc;
	db_bind_text(s, 1, hash);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_user_set_email(struct db_conn *c, const char *user_id, const char *bidx,
			 const void *sealed, size_t n, int64_t now)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE users SET email_bidx = ?, email_sealed = ?, email_verified_at = ? WHERE id = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, bidx);
	db_bind_blob(s, 2, sealed, n);
	db_bind_int(s, 3, now);
	db_bind_text(s, 4, user_id);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	return db_changes(c) ? ERR_OK : ERR_NOTFOUND;
}

int store_erasure_add(struct db_conn *c, const char *owner, int64_t at, const char *receipt_id)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO erasures(owner, at, receipt_id) VALUES (?, ?, ?) ON CONFLICT(owner) DO NOTHING", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_int(s, 2, at);
	db_bind_text(s, 3, receipt_id);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_erasure_each(struct db_conn *c, void (*fn)(void *arg, const char *owner), void *arg)
{
	return each_id(c, "SELECT owner FROM erasures ORDER BY at", NULL, 0, fn, arg);
}

int store_user_ids(struct db_conn *c, void (*fn)(void *arg, const char *id), void *arg)
{
	return each_id(c, "SELECT id FROM users ORDER BY created_at", NULL, 0, fn, arg);
}

int store_mail_ids(struct db_conn *c, void (*fn)(void *arg, const char *id), void *arg)
{
	return each_id(c, "SELECT id FROM mail_outbox ORDER BY created_at", NULL, 0, fn, arg);
}

int store_owner_keys_each(struct db_conn *c,
			  int (*fn)(void *arg, const char *owner, const void *wrapped, size_t n),
			  void *arg)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT owner, wrapped FROM owner_keys ORDER BY owner", &s);
	if (rc)
		return rc;
	while ((rc = db_step(s)) == 1) {
		size_t n;
		const void *p = db_col_blob(s, 1, &n);
		if ((rc = fn(arg, db_col_text(s, 0), p, n)))
			break;
	}
	db_done(s);
	return rc < 0 ? rc : rc > 1 ? ERR_INTERNAL : ERR_OK;
}

int store_owner_key_replace(struct db_conn *c, const char *owner, const void *wrapped, size_t n)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "UPDATE owner_keys SET wrapped = ? WHERE owner = ?", &s);
	if (rc)
		return rc;
	db_bind_blob(s, 1, wrapped, n);
	db_bind_text(s, 2, owner);
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}
