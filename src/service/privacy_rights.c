/*
 * privacy_rights.c: rectification of the email, restriction and objection,
 * the consent ledger and policy changes, privacy requests with deadlines,
 * and API customers' end users (PRIV-3, PRIV-6..8, PRIV-10..12, AGE-3,
 * OPS-6, COOK-2). See privacy.h.
 *
 * Which processing rests on legitimate interest, and so can be objected to:
 * today only aggregate statistics of usage ("analytics") and profiling,
 * neither of which Atelier does; marketing and model improvement rest on
 * consent, and an objection to them also withdraws that consent. Security
 * processing (sign-in throttling, new-device alerts) is necessary for the
 * account's protection and continues under restriction and under DNT/GPC.
 */
#include "service/privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "service/accounts.h"
#include "service/accounts_int.h"
#include "service/mail.h"
#include "service/receipt.h"
#include "service/textmodels.h"
#include "service/vault.h"
#include "store/store.h"

#define EMAIL_CHANGE_TTL 86400

/* ISO 8601 UTC text, or null for 0. */
static json_t *api_time_json(int64_t t)
{
	char s[32];
	if (!t)
		return json_null();
	time_iso8601(s, sizeof s, t);
	return json_string(s);
}

static void wipe_buf(struct buf *b)
{
	if (b->data)
		crypto_wipe(b->data, b->len);
	buf_free(b);
}

/* --- rectification: email ---------------------------------------------------------- */

int privacy_email_change_request(struct app *app, const char *user_id, const char *new_email,
				 const char *ip, struct errinfo *e)
{
	char email[256], bidx[CRYPTO_HASH_HEX], token[ACCT_TOKEN], th[CRYPTO_HASH_HEX], base[CONFIG_STR], body[1024];
	int rc = acct_email_normalize(new_email, email, sizeof email, e);
	if (rc)
		return rc;
	crypto_blind_index(app->keys, bidx, email, strlen(email));
	struct buf sealed;
	buf_init(&sealed, 0);
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	int64_t now = time_now();
	if ((rc = db_begin(c)))
		goto out;
	if ((rc = store_user_by_email(c, bidx, &u)) == ERR_OK) {
		rc = err_set(e, ERR_EXISTS, "email", strcmp(u.id, user_id) ? "this email belongs to another account"
									  : "this is already your email");
		goto out;
	}
	if (rc != ERR_NOTFOUND)
		goto out;
	crypto_token(token, sizeof token, NULL);
	acct_token_hash(token, th);
	acct_base_url(app, base, sizeof base);
	snprintf(body, sizeof body,
		 "Someone asked to make this the email address of an Atelier account.\n\n"
		 "If it was you, confirm it with this link (it works once, for 24 hours):\n\n"
		 "%s/#/confirm-email?token=%s\n\n"
		 "Until then the account keeps its old address. If it was not you, ignore this message.\n",
		 base, token);
	if ((rc = vault_seal(c, app->keys, user_id, "email_change", email, strlen(email), &sealed)) ||
	    (rc = store_email_change_add(c, th, user_id, bidx, sealed.data, sealed.len, now, now + EMAIL_CHANGE_TTL)) ||
	    (rc = mail_enqueue(app, c, email, "Confirm your new Atelier email address", body, "email.change")) ||
	    (rc = store_audit_add(c, user_id, user_id, "account.email_change_requested", NULL, ip)) ||
	    (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&sealed);
	crypto_wipe(email, sizeof email);
	crypto_wipe(token, sizeof token);
	crypto_wipe(body, sizeof body);
	return rc;
}

int privacy_email_change_confirm(struct app *app, const char *token, const char *ip,
				 struct errinfo *e)
{
	if (!acct_token_wellformed(token, NULL))
		return err_set(e, ERR_INVALID, "token", "this confirmation link is not valid");
	char th[CRYPTO_HASH_HEX], uid[40], bidx[72];
	acct_token_hash(token, th);
	struct buf sealed, email, resealed, old;
	buf_init(&sealed, 0);
	buf_init(&email, 0);
	buf_init(&resealed, 0);
	buf_init(&old, 0);
	struct db_conn *c = db_get(app->db);
	int present = 0;
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = store_email_change_take(c, th, time_now(), uid, bidx, &sealed))) {
		if (rc == ERR_NOTFOUND)
			rc = err_set(e, ERR_INVALID, "token", "this confirmation link is not valid, used or expired");
		goto out;
	}
	if ((rc = vault_open(c, app->keys, uid, "email_change", sealed.data, sealed.len, &email)) ||
	    (rc = acct_open_field(app, c, uid, USER_EMAIL, &old, &present)) ||
	    (rc = vault_seal(c, app->keys, uid, "email", email.data, email.len, &resealed)))
		goto out;
	rc = store_user_set_email(c, uid, bidx, resealed.data, resealed.len, time_now());
	if (rc == ERR_EXISTS)
		err_set(e, rc, "email", "this email now belongs to another account");
	/* the old address hears of it: a change it did not make is an alarm */
	if (rc == ERR_OK && present)
		rc = mail_enqueue(app, c, old.data, "The email of your Atelier account was changed",
				  "The email address of your Atelier account was changed to a new one, confirmed "
				  "from that address. If this was not you, reset your password and write to us.\n",
				  "alert.email");
	if (rc || (rc = store_audit_add(c, uid, uid, "account.email_changed", NULL, ip)) || (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&sealed);
	wipe_buf(&email);
	wipe_buf(&old);
	buf_free(&resealed);
	return rc;
}

/* --- restriction and objection ------------------------------------------------------------ */

bool privacy_restricted(struct app *app, const char *user_id)
{
	if (!user_id || !user_id[0])
		return false;
	int64_t since = 0;
	struct db_conn *c = db_get(app->db);
	store_restriction_get(c, user_id, &since);
	db_put(c);
	return since != 0;
}

static int log_request(struct db_conn *c, const char *kind, const char *channel, const char *user_id,
		       const char *status, const char *outcome)
{
	char id[40];
	int64_t now = time_now();
	acct_new_id(id, sizeof id, "pr_");
	struct store_request r = {.id = id, .kind = kind, .channel = channel, .user_id = user_id, .status = status,
				  .received_at = now, .due_at = now + PRIVACY_REQUEST_DAYS * 86400,
				  .closed_at = strcmp(status, "done") ? 0 : now, .outcome = outcome};
	return store_request_insert(c, &r, NULL, 0, NULL);
}

/* Set or clear the restriction of user_id and, when that changed anything,
 * mail the user, audit it and record the request as answered, in one
 * transaction. actor is who asked in this system (the user, or staff);
 * detail is the audit row's JSON (may be NULL). *changed: whether it did. */
static int restrict_set(struct app *app, const char *user_id, bool on, const char *actor,
			const char *channel, const char *detail, const char *ip, bool *changed,
			struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	int rc = db_begin(c);
	int set = 0;
	int64_t n = 0;
	*changed = false;
	if (rc)
		goto out;
	if ((rc = store_user_by_id(c, user_id, &u))) {
		if (rc == ERR_NOTFOUND)
			err_set(e, rc, NULL, "no such user");
		goto out;
	}
	if (on)
		rc = store_restriction_set(c, user_id, time_now(), &set);
	else if ((rc = store_restriction_clear(c, user_id, &n)) == ERR_OK)
		set = n > 0;
	if (rc)
		goto out;
	if (set) {
		struct buf email;
		buf_init(&email, 0);
		int present = 0;
		/* the one mail a restricted account still gets: about the restriction */
		if ((rc = acct_open_field(app, c, user_id, USER_EMAIL, &email, &present)) == ERR_OK && present)
			rc = mail_enqueue(app, c, email.data,
					  on ? "Processing of your Atelier data is restricted"
					     : "The restriction on your Atelier data was lifted",
					  on ? "As you asked, we keep your data but process none of it: generation is "
					       "refused and we send you no other mail until you lift the restriction "
					       "in your privacy center.\n"
					     : "As you asked, processing of your data has resumed.\n",
					  "privacy.restriction");
		wipe_buf(&email);
		if (rc || (rc = store_audit_add(c, actor, user_id, on ? "privacy.restricted" : "privacy.unrestricted",
						detail, ip)) ||
		    (rc = log_request(c, "restriction", channel, user_id, "done", on ? "restricted" : "lifted")))
			goto out;
	}
	rc = db_commit(c);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	if (rc == ERR_OK && set) {
		*changed = true;
		mail_kick(app->mail);
		acct_key_cache_flush(); /* keys carry the restriction at once */
	}
	return rc;
}

int privacy_restrict(struct app *app, const char *user_id, bool on, const char *ip,
		     struct errinfo *e)
{
	bool changed;
	return restrict_set(app, user_id, on, user_id, "studio", NULL, ip, &changed, e);
}

/* Characters (UTF-8 code points) in s, and whether any is not blank. */
static size_t reason_chars(const char *s, bool *blank)
{
	size_t n = 0;
	*blank = true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xC0) != 0x80)
			n++;
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			*blank = false;
	}
	return n;
}

int privacy_staff_restrict(struct app *app, const char *actor, const char *user_id, bool on,
			   const char *reason, const char *ip, bool *changed, struct errinfo *e)
{
	bool blank;
	size_t n = reason ? reason_chars(reason, &blank) : 0;
	if (!reason || blank || n > PRIVACY_REASON_MAX)
		return err_set(e, ERR_INVALID, "reason", "reason is 1 to 500 characters: why, as the user asked");
	/* the reason goes into the audit row, where the user's access log
	 * reads it (SEC-5); jansson escapes it */
	json_t *d = json_pack("{s:s, s:s}", "reason", reason, "channel", "staff");
	char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (!detail)
		return ERR_NOMEM;
	int rc = restrict_set(app, user_id, on, actor, "staff", detail, ip, changed, e);
	free(detail);
	return rc;
}

static const char *const purposes[] = {"marketing", "analytics", "model_improvement", "profiling", "other"};

int privacy_object(struct app *app, const char *user_id, const char *purpose, const char *note,
		   const char *ip, struct errinfo *e)
{
	bool ok = false;
	for (size_t i = 0; purpose && i < sizeof purposes / sizeof purposes[0]; i++)
		ok |= !strcmp(purpose, purposes[i]);
	if (!ok)
		return err_set(e, ERR_INVALID, "purpose",
			       "purpose must be marketing, analytics, model_improvement, profiling or other");
	if (note && strlen(note) > 4000)
		return err_set(e, ERR_INVALID, "note", "note is longer than 4000 bytes");
	struct buf sealed;
	buf_init(&sealed, 0);
	struct db_conn *c = db_get(app->db);
	int64_t now = time_now();
	int rc = db_begin(c);
	if (rc == ERR_OK && note && *note)
		rc = vault_seal(c, app->keys, user_id, "objection.note", note, strlen(note), &sealed);
	if (rc == ERR_OK)
		rc = store_objection_add(c, user_id, purpose, sealed.len ? sealed.data : NULL, sealed.len, now);
	/* objecting to what rests on consent withdraws the consent as well */
	const char *kind = !strcmp(purpose, "marketing") ? "marketing"
			   : !strcmp(purpose, "model_improvement") ? "data_sharing" : NULL;
	if (rc == ERR_OK && kind)
		rc = store_consent_add(c, user_id, kind, 0, NULL, now, "objection");
	if (rc == ERR_OK)
		rc = store_audit_add(c, user_id, user_id, "privacy.objection", NULL, ip);
	if (rc == ERR_OK)
		rc = log_request(c, "objection", "studio", user_id, "done", purpose);
	if (rc == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&sealed);
	return rc;
}

/* --- consent ----------------------------------------------------------------------------- */

static const char *const consent_kinds[] = {"terms", "privacy_notice", "marketing", "data_sharing"};

struct cl {
	json_t *ledger;
};

static void consent_row(void *arg, int64_t id, const char *kind, int granted, const char *version,
			int64_t at, const char *source)
{
	json_array_append_new(((struct cl *)arg)->ledger,
			      json_pack("{s:s, s:b, s:s?, s:o, s:s}", "kind", kind, "granted", granted, "policy_version",
					version, "at", api_time_json(at), "source", source));
}

int privacy_consents_get(struct app *app, const char *user_id, json_t **out)
{
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	struct cl x = {json_array()};
	int rc = store_user_by_id(c, user_id, &u);
	if (rc)
		goto out;
	/* sign-up's own records, first in the ledger */
	consent_row(&x, 0, "terms", 1, app->cfg->privacy.policy_version, u.created_at, "signup");
	if (!strcmp(u.age_group, "minor"))
		consent_row(&x, 0, "parental", 1, NULL, u.created_at, "signup (a parent or guardian)");
	if ((rc = store_consent_list(c, user_id, consent_row, &x)))
		goto out;
	json_t *cur = json_object();
	for (size_t i = 0; i < sizeof consent_kinds / sizeof consent_kinds[0]; i++) {
		int g;
		char v[32];
		if ((rc = store_consent_current(c, user_id, consent_kinds[i], &g, v, sizeof v))) {
			json_decref(cur);
			goto out;
		}
		/* terms: given at sign-up; marketing and data sharing: off by default */
		json_object_set_new(cur, consent_kinds[i], json_boolean(g < 0 ? !strcmp(consent_kinds[i], "terms") : g == 1));
	}
	char pv[32] = "", eff[16] = "", accepted[32] = "";
	int g = -1;
	if (store_policy_latest(c, pv, sizeof pv, eff, sizeof eff) != ERR_OK) {
		snprintf(pv, sizeof pv, "%s", app->cfg->privacy.policy_version);
		snprintf(eff, sizeof eff, "%s", app->cfg->privacy.policy_effective);
	}
	store_consent_current(c, user_id, "privacy_notice", &g, accepted, sizeof accepted);
	/* accepted at sign-up when no change was published since */
	bool ok = (g == 1 && !strcmp(accepted, pv)) ||
		  (g < 0 && !strcmp(pv, app->cfg->privacy.policy_version));
	int64_t since = 0;
	store_restriction_get(c, user_id, &since);
	*out = json_pack("{s:o, s:o, s:{s:s, s:s, s:b}, s:b}", "current", cur, "ledger", x.ledger, "policy", "version",
			 pv, "effective", eff, "accepted", ok, "restricted", since != 0);
	x.ledger = NULL;
out:
	db_put(c);
	json_decref(x.ledger);
	return rc;
}

int privacy_consents_put(struct app *app, const char *user_id, const json_t *changes,
			 bool privacy_signal, const char *source, struct errinfo *e)
{
	const char *k;
	json_t *v;
	if (!json_object_size(changes))
		return err_set(e, ERR_INVALID, NULL, "send at least one of marketing, data_sharing, privacy_notice, terms");
	json_object_foreach((json_t *)changes, k, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof consent_kinds / sizeof consent_kinds[0]; i++)
			known |= !strcmp(k, consent_kinds[i]);
		if (!known)
			return err_set(e, ERR_INVALID, k, "'%.40s' is not a consent; use marketing, data_sharing, privacy_notice or terms", k);
		if (!json_is_boolean(v))
			return err_set(e, ERR_INVALID, k, "%s must be true or false", k);
		if ((!strcmp(k, "terms") || !strcmp(k, "privacy_notice")) && !json_is_true(v))
			return err_set(e, ERR_UNSUPPORTED, k,
				       "the terms and notice cannot be un-accepted; to stop using Atelier, delete your account");
		/* COOK-2: a DNT or GPC signal turns optional processing off for this
		 * request, so it cannot be the request that turns it on */
		if (privacy_signal && json_is_true(v) && (!strcmp(k, "marketing") || !strcmp(k, "data_sharing")))
			return err_set(e, ERR_FORBIDDEN, k,
				       "your browser sent Do Not Track or Global Privacy Control: optional processing "
				       "cannot be turned on from this request");
	}
	char pv[32] = "", eff[16];
	struct db_conn *c = db_get(app->db);
	if (store_policy_latest(c, pv, sizeof pv, eff, sizeof eff) != ERR_OK)
		snprintf(pv, sizeof pv, "%s", app->cfg->privacy.policy_version);
	int64_t now = time_now();
	int rc = db_begin(c);
	json_object_foreach((json_t *)changes, k, v) {
		if (rc)
			break;
		int has = 0;
		/* an objection to marketing or model improvement stands until the
		 * user consents again, which lifts nothing else */
		if (json_is_true(v) && !strcmp(k, "marketing") && !app->cfg->privacy.marketing) {
			rc = err_set(e, ERR_UNSUPPORTED, k, "this server sends no marketing mail");
			break;
		}
		(void)has;
		rc = store_consent_add(c, user_id, k, json_is_true(v), pv, now, source);
	}
	if (rc == ERR_OK)
		rc = store_audit_add(c, user_id, user_id, "privacy.consent_changed", NULL, NULL);
	if (rc == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

bool privacy_may_use_for_training(struct app *app, const char *user_id)
{
	struct db_conn *c = db_get(app->db);
	int g = -1, objected = 1;
	int64_t since = 1;
	bool ok = store_consent_current(c, user_id, "data_sharing", &g, NULL, 0) == ERR_OK && g == 1 &&
		  store_restriction_get(c, user_id, &since) == ERR_OK && since == 0 &&
		  store_objection_has(c, user_id, "model_improvement", &objected) == ERR_OK && !objected;
	db_put(c);
	return ok;
}

struct pub {
	struct app *app;
	struct db_conn *c;
	const char *version, *effective;
	int64_t mailed;
	int rc;
};

static void announce(void *arg, const char *uid)
{
	struct pub *p = arg;
	if (p->rc)
		return;
	int64_t since = 0;
	store_restriction_get(p->c, uid, &since);
	if (since)
		return; /* restricted: nothing is sent but mail about the restriction */
	struct buf email;
	buf_init(&email, 0);
	int present = 0;
	if (acct_open_field(p->app, p->c, uid, USER_EMAIL, &email, &present) == ERR_OK && present) {
		char base[CONFIG_STR], body[1024];
		acct_base_url(p->app, base, sizeof base);
		snprintf(body, sizeof body,
			 "We are changing our privacy notice. Version %s takes effect on %s.\n\n"
			 "Read it at %s/privacy. The next time you sign in to the studio you will be asked\n"
			 "to accept it; you can also accept it, or delete your account, from your privacy center.\n",
			 p->version, p->effective, base);
		p->rc = mail_enqueue(p->app, p->c, email.data, "Changes to our privacy notice", body, "policy.change");
		if (p->rc == ERR_OK)
			p->mailed++;
	}
	wipe_buf(&email);
}

static void collect(void *arg, const char *id)
{
	json_array_append_new(arg, json_string(id));
}

int privacy_publish(struct app *app, const char *version, const char *effective, int64_t *mailed,
		    struct errinfo *e)
{
	if (!version || !*version || strlen(version) > 31)
		return err_set(e, ERR_INVALID, "version", "--version must be 1 to 31 characters");
	if (!effective || strlen(effective) != 10 || effective[4] != '-' || effective[7] != '-')
		return err_set(e, ERR_INVALID, "effective", "--effective must be a date YYYY-MM-DD");
	struct db_conn *c = db_get(app->db);
	json_t *ids = json_array();
	struct pub p = {app, c, version, effective, 0, ERR_OK};
	int rc = db_begin(c);
	if (rc == ERR_OK && (rc = store_policy_add(c, version, effective, time_now())) == ERR_EXISTS)
		err_set(e, rc, "version", "version %s was already published", version);
	if (rc == ERR_OK)
		rc = store_user_ids(c, collect, ids);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (rc == ERR_OK)
			announce(&p, json_string_value(v));
	if (rc == ERR_OK)
		rc = p.rc;
	if (rc == ERR_OK)
		rc = store_audit_add(c, NULL, NULL, "privacy.policy_published", NULL, NULL);
	if (rc == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	json_decref(ids);
	*mailed = p.mailed;
	return rc;
}

/* --- requests ------------------------------------------------------------------------------ */

static const char *const request_kinds[] = {"access", "portability", "rectification", "erasure",
					    "restriction", "objection", "consent", "other"};

int privacy_request_log(struct app *app, const char *kind, const char *channel, const char *user_id,
			const char *customer, const char *contact_email, const char *actor,
			char id[40], struct errinfo *e)
{
	bool ok = false;
	for (size_t i = 0; kind && i < sizeof request_kinds / sizeof request_kinds[0]; i++)
		ok |= !strcmp(kind, request_kinds[i]);
	if (!ok)
		return err_set(e, ERR_INVALID, "kind", "kind must be one of access, portability, rectification, erasure, "
						      "restriction, objection, consent, other");
	char email[256] = "", owner[48];
	int rc;
	if (contact_email && (rc = acct_email_normalize(contact_email, email, sizeof email, e))) {
		snprintf(e->field, sizeof e->field, "contact_email");
		return rc;
	}
	acct_new_id(id, 40, "pr_");
	snprintf(owner, sizeof owner, "req:%s", id);
	int64_t now = time_now();
	struct store_request r = {.id = id, .kind = kind, .channel = channel, .user_id = user_id,
				  .customer = customer, .status = "open", .received_at = now,
				  .due_at = now + PRIVACY_REQUEST_DAYS * 86400};
	struct buf sealed;
	buf_init(&sealed, 0);
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	if ((rc = db_begin(c)))
		goto out;
	if (user_id && (rc = store_user_by_id(c, user_id, &u))) {
		if (rc == ERR_NOTFOUND)
			err_set(e, rc, "user_id", "no such user");
		goto out;
	}
	if (email[0] && (rc = vault_seal(c, app->keys, owner, "request.contact", email, strlen(email), &sealed)))
		goto out;
	if ((rc = store_request_insert(c, &r, sealed.len ? sealed.data : NULL, sealed.len, NULL)) ||
	    (rc = store_audit_add(c, actor, user_id, "privacy.request_logged", NULL, NULL)) || (rc = db_commit(c)))
		goto out;
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&sealed);
	crypto_wipe(email, sizeof email);
	return rc;
}

int privacy_parent_request(struct app *app, const char *child, const char *parent_email,
			   const char *ip, struct errinfo *e)
{
	char parent[256], token[ACCT_TOKEN], th[CRYPTO_HASH_HEX], id[40], owner[48], base[CONFIG_STR], body[1200];
	int rc = acct_email_normalize(parent_email, parent, sizeof parent, e);
	if (rc) {
		snprintf(e->field, sizeof e->field, "parent_email");
		return rc;
	}
	if (!child || !*child || strlen(child) > 254)
		return err_set(e, ERR_INVALID, "child", "child must be the child's username or email");
	/* find the child now (by username or email); the answer to the caller
	 * does not depend on it */
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	char norm[256], bidx[CRYPTO_HASH_HEX];
	bool found = false;
	if (strchr(child, '@')) {
		if (acct_email_normalize(child, norm, sizeof norm, NULL) == ERR_OK) {
			crypto_blind_index(app->keys, bidx, norm, strlen(norm));
			found = store_user_by_email(c, bidx, &u) == ERR_OK;
		}
	} else {
		found = store_user_by_username(c, child, &u) == ERR_OK;
	}
	acct_new_id(id, sizeof id, "pr_");
	snprintf(owner, sizeof owner, "req:%s", id);
	crypto_token(token, sizeof token, NULL);
	acct_token_hash(token, th);
	acct_base_url(app, base, sizeof base);
	int64_t now = time_now();
	struct store_request r = {.id = id, .kind = "erasure", .channel = "parent", .user_id = found ? u.id : NULL,
				  .status = "unverified", .received_at = now, .due_at = now + PRIVACY_REQUEST_DAYS * 86400};
	struct buf sealed;
	buf_init(&sealed, 0);
	snprintf(body, sizeof body,
		 "We received a request, made with this address as a parent or guardian, to delete a child's\n"
		 "Atelier account and all its data.\n\n"
		 "To confirm the request, open this link (it works once):\n\n%s/#/privacy/parent?token=%s\n\n"
		 "If this address is the one the child gave when signing up, the account is deleted at once\n"
		 "and you get a signed receipt. Otherwise our staff will contact you within 30 days.\n"
		 "If you did not ask for this, ignore this message.\n",
		 base, token);
	if ((rc = db_begin(c)) == ERR_OK &&
	    (rc = vault_seal(c, app->keys, owner, "request.contact", parent, strlen(parent), &sealed)) == ERR_OK &&
	    (rc = store_request_insert(c, &r, sealed.data, sealed.len, th)) == ERR_OK &&
	    (rc = mail_enqueue(app, c, parent, "Confirm your request to delete a child's Atelier account", body,
			       "privacy.parent")) == ERR_OK &&
	    (rc = store_audit_add(c, NULL, found ? u.id : NULL, "privacy.parent_request", NULL, ip)) == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&sealed);
	crypto_wipe(parent, sizeof parent);
	crypto_wipe(token, sizeof token);
	crypto_wipe(body, sizeof body);
	if (rc == ERR_OK)
		mail_kick(app->mail);
	return rc;
}

int privacy_request_verify(struct app *app, const char *token, bool *erased, struct errinfo *e)
{
	*erased = false;
	if (!acct_token_wellformed(token, NULL))
		return err_set(e, ERR_INVALID, "token", "this link is not valid");
	char th[CRYPTO_HASH_HEX], id[40], uid[40], status[16], owner[48];
	acct_token_hash(token, th);
	struct db_conn *c = db_get(app->db);
	int rc = store_request_by_verify(c, th, id, uid, status);
	if (rc == ERR_NOTFOUND || (rc == ERR_OK && strcmp(status, "unverified")))
		rc = err_set(e, ERR_INVALID, "token", "this link is not valid or was used");
	if (rc) {
		db_put(c);
		return rc;
	}
	/* the requester's address against the parent's address the child gave */
	struct buf contact, sealed, parent;
	buf_init(&contact, 0);
	buf_init(&sealed, 0);
	buf_init(&parent, 0);
	snprintf(owner, sizeof owner, "req:%s", id);
	bool match = false;
	struct store_user u;
	int present = 0;
	if (uid[0] && store_user_by_id(c, uid, &u) == ERR_OK && !strcmp(u.age_group, "minor") &&
	    store_request_contact(c, id, &sealed) == ERR_OK && sealed.len &&
	    vault_open(c, app->keys, owner, "request.contact", sealed.data, sealed.len, &contact) == ERR_OK &&
	    acct_open_field(app, c, uid, USER_PARENT_EMAIL, &parent, &present) == ERR_OK && present)
		match = contact.len == parent.len && crypto_equal(contact.data, parent.data, parent.len);
	int rc2 = db_begin(c);
	if (rc2 == ERR_OK)
		rc2 = store_request_verified(c, id);
	if (rc2 == ERR_OK)
		rc2 = db_commit(c);
	if (rc2)
		db_rollback(c);
	db_put(c);
	if (rc2) {
		wipe_buf(&parent);
		wipe_buf(&contact);
		buf_free(&sealed);
		return rc2;
	}
	if (match) {
		json_t *receipt = NULL;
		struct privacy_erase_opts o = {.channel = "parent", .request_id = id, .mail_to = parent.data};
		rc = privacy_erase(app, uid, &o, &receipt, e);
		json_decref(receipt);
		*erased = rc == ERR_OK;
	}
	wipe_buf(&parent);
	wipe_buf(&contact);
	buf_free(&sealed);
	return rc;
}

struct rl {
	json_t *arr;
	int64_t now;
};

static void request_row(void *arg, const struct store_request *r)
{
	struct rl *x = arg;
	bool closed = r->closed_at != 0;
	json_array_append_new(
		x->arr, json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:s?, s:o, s:o, s:o, s:I, s:b}", "id", r->id, "kind",
				  r->kind, "channel", r->channel, "user_id", r->user_id, "customer", r->customer, "status",
				  r->status, "outcome", r->outcome, "received_at", api_time_json(r->received_at), "due_at",
				  api_time_json(r->due_at), "closed_at", api_time_json(r->closed_at), "days_left",
				  (json_int_t)(closed ? 0 : (r->due_at - x->now) / 86400), "overdue",
				  !closed && r->due_at < x->now));
}

int privacy_requests_list(struct app *app, const char *actor, int limit, json_t **out)
{
	struct rl x = {json_array(), time_now()};
	struct db_conn *c = db_get(app->db);
	int rc = store_request_list(c, NULL, limit, request_row, &x);
	if (rc == ERR_OK)
		rc = store_audit_add(c, actor, NULL, "admin.privacy_requests_viewed", NULL, NULL);
	db_put(c);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return ERR_OK;
}

int privacy_my_requests(struct app *app, const char *user_id, json_t **out)
{
	struct rl x = {json_array(), time_now()};
	struct db_conn *c = db_get(app->db);
	int rc = store_request_list(c, user_id, 200, request_row, &x);
	db_put(c);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return ERR_OK;
}

static void access_row(const struct store_audit_row *r, const char *role, void *arg)
{
	/* the reason staff gave, where the event has one (a credit grant's);
	 * the rest of the detail is for the audit reader, not repeated here */
	json_t *d = r->detail ? json_loads(r->detail, 0, NULL) : NULL;
	json_t *why = d ? json_object_get(d, "reason") : NULL;
	const char *reason = json_is_string(why) && json_string_length(why) ? json_string_value(why) : NULL;
	json_array_append_new(arg, json_pack("{s:o, s:s, s:s, s:s?}", "at", api_time_json(r->at), "actor_role",
					     role ? role : "former staff", "event", r->event, "reason", reason));
	json_decref(d);
}

int privacy_access_log(struct app *app, const char *user_id, int limit, json_t **out)
{
	json_t *arr = json_array();
	struct db_conn *c = db_get(app->db);
	int rc = arr ? store_audit_about(c, user_id, limit, access_row, arr) : ERR_NOMEM;
	db_put(c);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return ERR_OK;
}

int privacy_request_close(struct app *app, const char *actor, const char *id, const char *status,
			  const char *outcome, struct errinfo *e)
{
	if (!status || (strcmp(status, "done") && strcmp(status, "refused")))
		return err_set(e, ERR_INVALID, "status", "status must be done or refused");
	if (outcome && strlen(outcome) > 500)
		return err_set(e, ERR_INVALID, "outcome", "outcome is longer than 500 bytes");
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc == ERR_OK && (rc = store_request_close(c, id, status, outcome, time_now())) == ERR_NOTFOUND)
		err_set(e, rc, NULL, "no such request");
	if (rc == ERR_OK)
		rc = store_audit_add(c, actor, NULL, "admin.privacy_request_closed", NULL, NULL);
	if (rc == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

/* --- end users of API customers ------------------------------------------------------------- */

void privacy_end_user_hash(const struct crypto_keys *k, const char *customer, const char *user,
			   char out[CRYPTO_HASH_HEX])
{
	/* the text API's convention (api/chat.c on the textapi branch):
	 * scoped per customer, so two customers' "user-1" hash apart */
	char buf[40 + 1 + 512 + 1];
	int n = snprintf(buf, sizeof buf, "%s\x1f%s", customer, user);
	crypto_blind_index(k, out, buf, n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n);
	crypto_wipe(buf, sizeof buf);
}

static int check_user(const char *user, struct errinfo *e)
{
	if (!user || !*user || strlen(user) > 512)
		return err_set(e, ERR_INVALID, "user", "user must be the `user` value you send with requests (1 to 512 bytes)");
	return ERR_OK;
}

static int eu_row(void *arg, const char *json)
{
	json_t *o = json_loads(json, 0, NULL);
	if (!o)
		return ERR_CORRUPT;
	json_array_append_new(arg, o);
	return ERR_OK;
}

int privacy_subject_export(struct app *app, const char *customer, const char *user, json_t **out,
			   struct errinfo *e)
{
	int rc = check_user(user, e);
	if (rc)
		return rc;
	char eu[CRYPTO_HASH_HEX];
	privacy_end_user_hash(app->keys, customer, user, eu);
	size_t nt;
	const struct store_eu_table *t = store_eu_tables(&nt);
	json_t *data = json_object();
	struct db_conn *c = db_get(app->db);
	for (size_t i = 0; rc == ERR_OK && i < nt; i++) {
		json_t *rows = json_array();
		rc = store_eu_rows(c, &t[i], customer, eu, eu_row, rows);
		json_object_set_new(data, t[i].category, rows);
	}
	if (rc == ERR_OK)
		rc = log_request(c, "access", "api", NULL, "done", "end-user export") == ERR_OK
			     ? store_audit_add(c, customer, NULL, "privacy.subject_exported", NULL, NULL)
			     : ERR_DB;
	db_put(c);
	if (rc) {
		json_decref(data);
		return rc;
	}
	char when[32];
	time_iso8601(when, sizeof when, time_now());
	*out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "object", "privacy.subject_export", "user", user, "end_user_hash",
			 eu, "generated_at", when, "data", data);
	return ERR_OK;
}

int privacy_subject_erase(struct app *app, const char *customer, const char *user, json_t **receipt,
			  struct errinfo *e)
{
	int rc = check_user(user, e);
	if (rc)
		return rc;
	char eu[CRYPTO_HASH_HEX], owner[160], rid[40], when[32];
	privacy_end_user_hash(app->keys, customer, user, eu);
	snprintf(owner, sizeof owner, "eu:%s:%s", customer, eu);
	acct_new_id(rid, sizeof rid, "er_");
	int64_t now = time_now();
	time_iso8601(when, sizeof when, now);
	size_t nt;
	const struct store_eu_table *t = store_eu_tables(&nt);
	json_t *removed = json_object();
	int64_t total = 0;
	int destroyed = 0;
	struct db_conn *c = db_get(app->db);
	if ((rc = db_begin(c)))
		goto out;
	for (size_t i = 0; rc == ERR_OK && i < nt; i++) {
		int64_t n = 0;
		if ((rc = store_eu_erase(c, &t[i], customer, eu, &n)) == ERR_OK && n) {
			json_object_set_new(removed, t[i].category, json_integer(n));
			total += n;
		}
	}
	if (rc || (rc = vault_destroy(c, owner, &destroyed)))
		goto out;
	if (!total && !destroyed) {
		rc = err_set(e, ERR_NOTFOUND, "user", "nothing is held about this end user (or it was already erased)");
		goto out;
	}
	if (destroyed)
		json_object_set_new(removed, "keys", json_integer(1));
	if ((rc = store_erasure_add(c, owner, now, rid)) ||
	    (rc = log_request(c, "erasure", "api", NULL, "done", rid)) ||
	    (rc = store_audit_add(c, customer, NULL, "privacy.subject_erased", NULL, NULL)))
		goto out;
	*receipt = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "type", "end_user_erasure", "receipt_id", rid, "customer",
			     customer, "end_user_hash", eu, "erased_at", when, "removed", removed);
	if (!*receipt || (rc = receipt_sign(app->keys, *receipt)))
		goto out;
	rc = db_commit(c);
out:
	if (rc) {
		db_rollback(c);
		if (receipt && *receipt) {
			json_decref(*receipt);
			*receipt = NULL;
		}
	}
	db_put(c);
	json_decref(removed);
	if (rc == ERR_OK) {
		db_scrub(app->db);
		textmodels_forget(app->text, customer, eu);
	}
	return rc;
}
