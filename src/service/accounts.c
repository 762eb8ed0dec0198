/*
 * accounts.c: sign-up, email verification, password reset and change, the
 * profile, staff actions and security alerts. Sign-in and sessions are in
 * sessions.c, API keys in apikeys.c; all three share accounts.h and the
 * helpers of accounts_int.h.
 *
 * Choices worth stating:
 *
 * Age (AGE-1, AGE-2, SEC-7). The birth date is read, used to compute an
 * age, and dropped. Under 13 the request is refused before anything is
 * written, and nothing about it reaches the log beyond the route and the
 * status (the access log never holds bodies). 13 to 17 need a parent's
 * email and consent; we keep only age_group = 'minor', the year-month from
 * which they count as adults (adult_from: the month after their 18th
 * birthday, so mature-content checks (AGE-5) work without the day), the
 * parent's email sealed, and when consent was given. Adults keep only
 * age_group = 'adult'.
 *
 * Duplicate email at sign-up (account enumeration). A sign-up form cannot
 * hide that an email is taken: the account cannot be made and the person
 * must be told. We answer 409 and limit what a prober gains: the duplicate
 * check runs only after the Argon2id hash (so a probe costs what a sign-up
 * costs), every 409 counts against the caller's address in the sign-in
 * throttle, and sign-in and password reset reveal nothing at all.
 */
#include "service/accounts.h"
#include "store/privacy.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "service/accounts_int.h"
#include "service/device.h"
#include "service/mail.h"
#include "service/password.h"
#include "service/vault.h"

#define FORGOT_FLOOR_MS 300 /* a reset request always takes at least this long */
#define FORGOT_REPEAT_S 60  /* at most one reset mail a minute per account */

static const char *const role_names[ACCT_ROLE__MAX] = {
	[ACCT_ROLE_NONE] = "none", [ACCT_ROLE_USER] = "user",
	[ACCT_ROLE_SUPPORT] = "support", [ACCT_ROLE_ADMIN] = "admin",
};

enum acct_role acct_role_parse(const char *s)
{
	for (int r = ACCT_ROLE_USER; s && r < ACCT_ROLE__MAX; r++)
		if (!strcmp(s, role_names[r]))
			return (enum acct_role)r;
	return ACCT_ROLE_NONE;
}

const char *acct_role_name(enum acct_role r)
{
	return r < ACCT_ROLE__MAX ? role_names[r] : "none";
}

int acct_init(struct app *app, struct errinfo *e)
{
	return password_init(app->cfg, e);
}

/* --- shared helpers (accounts_int.h) -------------------------------------- */

void acct_new_id(char *out, size_t n, const char *prefix)
{
	unsigned char r[12];
	char hex[25];
	crypto_random(r, sizeof r);
	crypto_hex(hex, r, sizeof r);
	snprintf(out, n, "%s%s", prefix, hex);
}

int acct_audit(struct db_conn *c, const char *actor, const char *subject, const char *event,
	       const char *detail, const char *ip)
{
	return store_audit_add(c, actor, subject, event, detail, ip);
}

void acct_base_url(const struct app *app, char *out, size_t n)
{
	const char *pub = app->cfg->server.public_url;
	if (*pub) {
		snprintf(out, n, "%s", pub);
		size_t l = strlen(out);
		if (l && out[l - 1] == '/')
			out[l - 1] = '\0';
		return;
	}
	snprintf(out, n, "%s://%s", app->cfg->server.tls_cert[0] ? "https" : "http",
		 app->cfg->server.listen);
}

int acct_open_field(struct app *app, struct db_conn *c, const char *user_id,
		    enum store_user_field f, struct buf *out, int *present)
{
	static const char *const purpose[USER_FIELD__MAX] = {
		[USER_EMAIL] = "email", [USER_PARENT_EMAIL] = "parent_email",
		[USER_NAME] = "profile.name", [USER_PHONE] = "profile.phone",
		[USER_COMPANY] = "profile.company", [USER_BILLING_ADDRESS] = "profile.billing_address",
		[USER_TOTP_SECRET] = "totp_secret",
	};
	struct buf sealed;
	buf_init(&sealed, 1 << 20);
	int rc = store_user_sealed(c, user_id, f, &sealed, present);
	if (rc == ERR_OK && *present)
		rc = vault_open(c, app->keys, user_id, purpose[f], sealed.data, sealed.len, out);
	buf_free(&sealed);
	return rc;
}

static int seal_field(struct app *app, struct db_conn *c, const char *user_id,
		      enum store_user_field f, const char *v)
{
	static const char *const purpose[USER_FIELD__MAX] = {
		[USER_EMAIL] = "email", [USER_PARENT_EMAIL] = "parent_email",
		[USER_NAME] = "profile.name", [USER_PHONE] = "profile.phone",
		[USER_COMPANY] = "profile.company", [USER_BILLING_ADDRESS] = "profile.billing_address",
		[USER_TOTP_SECRET] = "totp_secret",
	};
	if (!v)
		return store_user_set_sealed(c, user_id, f, NULL, 0);
	struct buf b;
	buf_init(&b, 0);
	int rc = vault_seal(c, app->keys, user_id, purpose[f], v, strlen(v), &b);
	if (rc == ERR_OK)
		rc = store_user_set_sealed(c, user_id, f, b.data, b.len);
	buf_free(&b);
	return rc;
}

/* Hash a token for storage. */
void acct_token_hash(const char *token, char out[CRYPTO_HASH_HEX])
{
	crypto_sha256_hex(out, token, strlen(token));
}

/* A token looks like what crypto_token makes: 43 base64url characters. */
bool acct_token_wellformed(const char *t, const char *prefix)
{
	size_t pl = prefix ? strlen(prefix) : 0;
	if (!t || (pl && strncmp(t, prefix, pl)))
		return false;
	t += pl;
	size_t n = 0;
	for (; t[n]; n++)
		if (!isalnum((unsigned char)t[n]) && t[n] != '-' && t[n] != '_')
			return false;
	return n == CRYPTO_TOKEN_CHARS - 1;
}

/* --- security alerts (ACC-9) ---------------------------------------------- */

static const struct {
	const char *kind, *subject, *text;
} alerts[ACCT_ALERT__MAX] = {
	[ACCT_ALERT_NEW_DEVICE] = {"alert.login", "New sign-in to your Atelier account",
				   "Your Atelier account was signed in to from a device we had not seen before."},
	[ACCT_ALERT_PASSWORD_CHANGED] = {"alert.password", "Your Atelier password was changed",
					 "The password of your Atelier account was changed, and your other sessions were signed out."},
	[ACCT_ALERT_2FA_CHANGED] = {"alert.2fa", "Two-factor sign-in changed on your Atelier account",
				    "Two-factor authentication was turned on or off for your Atelier account."},
	[ACCT_ALERT_KEY_CREATED] = {"alert.key", "A new API key was created on your Atelier account",
				    "A new API key was created for your Atelier account."},
};

int acct_alert(struct app *app, struct db_conn *c, const char *user_id, enum acct_alert kind,
	       const char *detail)
{
	if (kind >= ACCT_ALERT__MAX)
		return ERR_INTERNAL;
	/* PRIV-6: while processing is restricted, no mail but about the
	 * restriction itself */
	int64_t restricted_since = 0;
	if (store_restriction_get(c, user_id, &restricted_since) == ERR_OK && restricted_since)
		return ERR_OK;
	struct buf email, body;
	buf_init(&email, 1024);
	buf_init(&body, 8192);
	int present = 0;
	int rc = acct_open_field(app, c, user_id, USER_EMAIL, &email, &present);
	if (rc == ERR_OK && !present)
		rc = ERR_NOTFOUND;
	if (rc == ERR_OK) {
		char when[32], base[CONFIG_STR];
		time_iso8601(when, sizeof when, time_now());
		acct_base_url(app, base, sizeof base);
		buf_printf(&body,
			   "%s\n\nWhen: %s (UTC)\n%s%s%s\n"
			   "If this was you, there is nothing to do. If it was not, reset your "
			   "password at %s/#/forgot and review your sessions and API keys.\n",
			   alerts[kind].text, when, detail ? "What: " : "", detail ? detail : "",
			   detail ? "\n" : "", base);
		rc = mail_enqueue(app, c, email.data, alerts[kind].subject, body.data, alerts[kind].kind);
	}
	crypto_wipe(email.data ? email.data : (char *)"", email.len);
	buf_free(&email);
	buf_free(&body);
	return rc;
}

/* --- validation --------------------------------------------------------------- */

int acct_email_normalize(const char *in, char *out, size_t n, struct errinfo *e)
{
	if (!in)
		return err_set(e, ERR_INVALID, "email", "email is required");
	while (isspace((unsigned char)*in))
		in++;
	size_t l = strlen(in);
	while (l && isspace((unsigned char)in[l - 1]))
		l--;
	if (l < 3 || l > 254 || l >= n)
		return err_set(e, ERR_INVALID, "email", "email must be an address of 3 to 254 characters");
	const char *at = NULL;
	for (size_t i = 0; i < l; i++) {
		unsigned char ch = (unsigned char)in[i];
		/* plain ASCII addresses only: nothing that could end a mail header
		 * or add a recipient */
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),:;<>[\\]", ch))
			return err_set(e, ERR_INVALID, "email", "email has a character an address cannot have");
		if (ch == '@') {
			if (at)
				return err_set(e, ERR_INVALID, "email", "email must have exactly one @");
			at = in + i;
		}
		out[i] = (char)tolower(ch);
	}
	out[l] = '\0';
	if (!at)
		return err_set(e, ERR_INVALID, "email", "email must have an @");
	size_t local = (size_t)(at - in), domain = l - local - 1;
	const char *d = out + local + 1;
	if (local == 0 || local > 64 || domain < 3 || !strchr(d, '.') || d[0] == '.' ||
	    d[domain - 1] == '.' || strstr(d, ".."))
		return err_set(e, ERR_INVALID, "email", "email must look like name@example.org");
	return ERR_OK;
}

int acct_username_normalize(const char *in, char *out, size_t n, struct errinfo *e)
{
	if (!in)
		return err_set(e, ERR_INVALID, "username", "username is required");
	size_t l = strlen(in);
	if (l < 3 || l > 32 || l >= n)
		return err_set(e, ERR_INVALID, "username", "username must have 3 to 32 characters");
	for (size_t i = 0; i < l; i++) {
		char ch = (char)tolower((unsigned char)in[i]);
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		      ch == '-'))
			return err_set(e, ERR_INVALID, "username",
				       "username may hold only letters a-z, digits, '_', '.' and '-'");
		out[i] = ch;
	}
	out[l] = '\0';
	return ERR_OK;
}

static int days_in(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

static int parse_date(const char *s, int *y, int *m, int *d)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return ERR_INVALID;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return ERR_INVALID;
	*y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	*m = (s[5] - '0') * 10 + (s[6] - '0');
	*d = (s[8] - '0') * 10 + (s[9] - '0');
	if (*y < 1900 || *m < 1 || *m > 12 || *d < 1 || *d > days_in(*y, *m))
		return ERR_INVALID;
	return ERR_OK;
}

int acct_age(const char *birth, int y, int m, int d, int *age, struct errinfo *e)
{
	int by, bm, bd;
	if (parse_date(birth, &by, &bm, &bd))
		return err_set(e, ERR_INVALID, "birth_date", "birth_date must be a real date as YYYY-MM-DD");
	if (by > y || (by == y && (bm > m || (bm == m && bd > d))))
		return err_set(e, ERR_INVALID, "birth_date", "birth_date is in the future");
	int a = y - by;
	if (m < bm || (m == bm && d < bd))
		a--;
	*age = a;
	return ERR_OK;
}

static void today(int *y, int *m, int *d)
{
	time_t t = (time_t)time_now();
	struct tm tm;
	gmtime_r(&t, &tm);
	*y = tm.tm_year + 1900;
	*m = tm.tm_mon + 1;
	*d = tm.tm_mday;
}

/* Profile fields: their limits, as a table. */
static const struct {
	const char *name;
	size_t max;          /* bytes */
	const char *allowed; /* extra characters allowed besides printable text; NULL: any printable */
	bool multiline;
} fields[ACCT_F__MAX] = {
	[ACCT_F_USERNAME] = {"username", 32, NULL, false},
	[ACCT_F_NAME] = {"name", 100, NULL, false},
	[ACCT_F_PHONE] = {"phone", 32, "0123456789+-(). ", false},
	[ACCT_F_COMPANY] = {"company", 100, NULL, false},
	[ACCT_F_BILLING_ADDRESS] = {"billing_address", 500, NULL, true},
};

const char *acct_field_name(enum acct_field f)
{
	return f < ACCT_F__MAX ? fields[f].name : "?";
}

enum acct_field acct_field_parse(const char *name)
{
	for (int f = 0; f < ACCT_F__MAX; f++)
		if (!strcmp(fields[f].name, name))
			return (enum acct_field)f;
	return ACCT_F__MAX;
}

static int check_field(enum acct_field f, const char *v, struct errinfo *e)
{
	if (!v)
		return ERR_OK;
	size_t l = strlen(v);
	if (l > fields[f].max)
		return err_set(e, ERR_INVALID, fields[f].name, "%s is longer than %zu bytes",
			       fields[f].name, fields[f].max);
	for (size_t i = 0; i < l; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (fields[f].allowed && !strchr(fields[f].allowed, ch))
			return err_set(e, ERR_INVALID, fields[f].name,
				       "%s may hold only digits, spaces and + - ( ) .", fields[f].name);
		if ((ch < 0x20 && !(fields[f].multiline && (ch == '\n' || ch == '\r'))) || ch == 0x7f)
			return err_set(e, ERR_INVALID, fields[f].name, "%s has a control character",
				       fields[f].name);
	}
	return ERR_OK;
}

/* --- sign-up ------------------------------------------------------------------ */

int acct_signup(struct app *app, const struct acct_signup *s, char user_id[STORE_ID],
		struct errinfo *e)
{
	char email[256], username[40], parent[256] = "", adult_from[8] = "";
	int rc;
	const char *age_group = "adult";
	int64_t now = time_now();

	/* AGE-1 first: under 13, nothing else is looked at, written or logged */
	if (!s->staff) {
		int y, m, d, age;
		if (!s->birth_date)
			return err_set(e, ERR_INVALID, "birth_date", "birth_date is required (YYYY-MM-DD)");
		today(&y, &m, &d);
		if ((rc = acct_age(s->birth_date, y, m, d, &age, e)))
			return rc;
		if (age < 13)
			return err_set(e, ERR_UNSUPPORTED, "birth_date",
				       "you must be at least 13 years old to use Atelier; nothing was stored");
		if (age < 18) {
			if (!s->parent_email)
				return err_set(e, ERR_UNSUPPORTED, "parent_email",
					       "under 18: a parent or guardian's email is required");
			if ((rc = acct_email_normalize(s->parent_email, parent, sizeof parent, e))) {
				snprintf(e->field, sizeof e->field, "parent_email");
				return rc;
			}
			if (!s->parent_consent)
				return err_set(e, ERR_UNSUPPORTED, "parent_consent",
					       "under 18: a parent or guardian must consent (parent_consent: true)");
			int by = (s->birth_date[0] - '0') * 1000 + (s->birth_date[1] - '0') * 100 +
				 (s->birth_date[2] - '0') * 10 + (s->birth_date[3] - '0');
			int bm = (s->birth_date[5] - '0') * 10 + (s->birth_date[6] - '0');
			/* the month after the 18th birthday's month */
			int ay = by + 18 + (bm == 12), am = bm == 12 ? 1 : bm + 1;
			snprintf(adult_from, sizeof adult_from, "%04d-%02d", ay, am);
			age_group = "minor";
		}
	}
	if ((rc = acct_email_normalize(s->email, email, sizeof email, e)) ||
	    (rc = acct_username_normalize(s->username, username, sizeof username, e)))
		return rc;
	if (parent[0] && !strcmp(parent, email))
		return err_set(e, ERR_UNSUPPORTED, "parent_email",
			       "the parent or guardian's email must not be your own");
	const char *opt[ACCT_F__MAX] = {NULL, s->name, s->phone, s->company, s->billing_address};
	for (int f = ACCT_F_NAME; f < ACCT_F__MAX; f++)
		if ((rc = check_field((enum acct_field)f, opt[f], e)))
			return rc;
	enum acct_role role = s->role ? acct_role_parse(s->role) : ACCT_ROLE_USER;
	if (role == ACCT_ROLE_NONE)
		return err_set(e, ERR_INVALID, "role", "role must be user, support or admin");
	if ((rc = password_check(s->password, s->password_len, username, email, e)))
		return rc;
	int64_t retry;
	if (s->ip && acct_throttle_locked(app, NULL, "ip", s->ip, &retry))
		return err_set(e, ERR_LIMIT, NULL, "too many failed attempts from your address; retry in %lld s",
			       (long long)retry);

	char hash[PASSWORD_HASH_MAX];
	if ((rc = password_hash(s->password, s->password_len, hash, e)))
		return rc;

	char id[STORE_ID], bidx[CRYPTO_HASH_HEX];
	acct_new_id(id, sizeof id, "u_");
	crypto_blind_index(app->keys, bidx, email, strlen(email));
	struct buf sealed_email, sealed_parent;
	buf_init(&sealed_email, 0);
	buf_init(&sealed_parent, 0);
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	if ((rc = db_begin(c)))
		goto out;
	if (store_user_by_email(c, bidx, &u) == ERR_OK) {
		db_rollback(c);
		acct_throttle_fail(app, c, "ip", s->ip);
		rc = err_set(e, ERR_EXISTS, "email",
			     "this email cannot be used to sign up; if it is yours, sign in or reset your password");
		goto out;
	}
	if (store_user_by_username(c, username, &u) == ERR_OK) {
		rc = err_set(e, ERR_EXISTS, "username", "this username is taken");
		goto out;
	}
	if (s->vouch && (rc = s->vouch(app, c, email, s->vouch_arg, e)))
		goto out;
	if ((rc = vault_seal(c, app->keys, id, "email", email, strlen(email), &sealed_email)))
		goto out;
	if (parent[0] && (rc = vault_seal(c, app->keys, id, "parent_email", parent, strlen(parent),
					  &sealed_parent)))
		goto out;
	struct store_user_new nu = {
		.id = id, .username = username, .email_bidx = bidx, .password_hash = hash,
		.role = acct_role_name(role), .age_group = age_group,
		.adult_from = adult_from[0] ? adult_from : NULL,
		.email_sealed = sealed_email.data, .email_sealed_len = sealed_email.len,
		.parent_email_sealed = parent[0] ? sealed_parent.data : NULL,
		.parent_email_sealed_len = sealed_parent.len,
		.parent_consent_at = parent[0] ? now : 0,
		.email_verified_at = s->staff || s->vouch ? now : 0, .now = now,
	};
	if ((rc = store_user_insert(c, &nu))) {
		if (rc == ERR_EXISTS) /* lost a race with the same email or username */
			err_set(e, ERR_EXISTS, NULL, "this email or username is taken");
		goto out;
	}
	for (int f = ACCT_F_NAME; f < ACCT_F__MAX; f++) {
		static const enum store_user_field col[ACCT_F__MAX] = {
			[ACCT_F_NAME] = USER_NAME, [ACCT_F_PHONE] = USER_PHONE,
			[ACCT_F_COMPANY] = USER_COMPANY, [ACCT_F_BILLING_ADDRESS] = USER_BILLING_ADDRESS,
		};
		if (opt[f] && *opt[f] && (rc = seal_field(app, c, id, col[f], opt[f])))
			goto out;
	}
	if (!s->staff) {
		char token[ACCT_TOKEN], th[CRYPTO_HASH_HEX], base[CONFIG_STR], body[1024];
		acct_base_url(app, base, sizeof base);
		if (!s->vouch) { /* a vouched email needs no confirmation mail */
			crypto_token(token, sizeof token, NULL);
			acct_token_hash(token, th);
			if ((rc = store_token_insert(c, th, "verify", id, now, now + app->cfg->auth.verify_ttl)))
				goto out;
			snprintf(body, sizeof body,
				 "Welcome to Atelier, %s.\n\nConfirm your email address by opening this link "
				 "(it works once, for %lld hours):\n\n%s/#/verify?token=%s\n\n"
				 "If you did not sign up, ignore this message.\n",
				 username, (long long)(app->cfg->auth.verify_ttl / 3600), base, token);
			rc = mail_enqueue(app, c, email, "Confirm your email for Atelier", body, "verify");
			crypto_wipe(token, sizeof token);
			crypto_wipe(body, sizeof body);
			if (rc)
				goto out;
		}
		if (parent[0]) {
			snprintf(body, sizeof body,
				 "The Atelier user %s, who is under 18, signed up and named you as the "
				 "parent or guardian who consented. If you did not consent, or want the "
				 "account and its data deleted, reply to this message or open a request "
				 "at %s/#/privacy.\n",
				 username, base);
			if ((rc = mail_enqueue(app, c, parent, "Your consent for an Atelier account", body,
					       "parent.consent")))
				goto out;
		}
		/* the device that signs up is known: its first sign-in is no surprise */
		if (s->user_agent || s->ip) {
			char dev[CRYPTO_HASH_HEX];
			int is_new;
			acct_device_key(app, s->user_agent, s->ip, dev, NULL, 0);
			if ((rc = store_device_add(c, id, dev, now, &is_new)))
				goto out;
		}
	}
	char detail[96];
	snprintf(detail, sizeof detail, "{\"age_group\":\"%s\",\"role\":\"%s\"%s}", age_group,
		 acct_role_name(role), s->staff ? ",\"via\":\"cli\"" : s->vouch ? ",\"via\":\"sso\"" : "");
	if ((rc = acct_audit(c, id, id, "account.signup", detail, s->ip)))
		goto out;
	if ((rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
	snprintf(user_id, STORE_ID, "%s", id);
	log_info("account.signup", "\"user\":\"%s\",\"age_group\":\"%s\"", id, age_group);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	crypto_wipe(hash, sizeof hash);
	crypto_wipe(email, sizeof email);
	crypto_wipe(parent, sizeof parent);
	buf_free(&sealed_email);
	buf_free(&sealed_parent);
	if (rc && e && !e->msg[0])
		err_set(e, rc, NULL, "cannot create the account now");
	return rc;
}

/* --- single-use tokens ------------------------------------------------------ */

/* Check a mailed token of kind; on success *user_id is filled. */
static int token_check(struct db_conn *c, const char *token, const char *kind,
		       char th[CRYPTO_HASH_HEX], char user_id[STORE_ID], struct errinfo *e)
{
	const char *what = !strcmp(kind, "reset") ? "password-reset" : "verification";
	if (!acct_token_wellformed(token, NULL))
		return err_set(e, ERR_INVALID, "token", "this %s link is not valid", what);
	acct_token_hash(token, th);
	int64_t exp, used;
	int rc = store_token_get(c, th, kind, user_id, STORE_ID, &exp, &used);
	if (rc == ERR_NOTFOUND)
		return err_set(e, ERR_INVALID, "token", "this %s link is not valid", what);
	if (rc)
		return rc;
	if (used)
		return err_set(e, ERR_INVALID, "token", "this %s link has already been used", what);
	if (exp <= time_now())
		return err_set(e, ERR_INVALID, "token", "this %s link has expired; ask for a new one", what);
	return ERR_OK;
}

int acct_verify_email(struct app *app, const char *token, struct errinfo *e)
{
	char th[CRYPTO_HASH_HEX], uid[STORE_ID];
	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	int64_t changed = 0;
	if (rc || (rc = token_check(c, token, "verify", th, uid, e)))
		goto out;
	if ((rc = store_token_use(c, th, time_now(), &changed)))
		goto out;
	if (!changed) {
		rc = err_set(e, ERR_INVALID, "token", "this verification link has already been used");
		goto out;
	}
	if ((rc = store_user_set_verified(c, uid, time_now())) ||
	    (rc = acct_audit(c, uid, uid, "account.email_verified", NULL, NULL)))
		goto out;
	/* the welcome grant ([credits] signup_grant), once per account, in the
	 * same transaction as the verification that earns it */
	if (app->cfg->credits.signup_grant > 0) {
		char idem[STORE_ID + 16];
		snprintf(idem, sizeof idem, "grant:signup:%s", uid);
		rc = store_ledger_add(c, uid, "grant", app->cfg->credits.signup_grant, idem, 0, NULL,
				      "welcome grant", NULL);
		if (rc == ERR_EXISTS)
			rc = ERR_OK;
		if (rc)
			goto out;
	}
	if ((rc = db_commit(c)))
		goto out;
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

static void sleep_until(uint64_t start_ns, int floor_ms)
{
	uint64_t end = start_ns + (uint64_t)floor_ms * 1000000ull;
	uint64_t now = time_mono_ns();
	if (now >= end)
		return;
	uint64_t left = end - now;
	struct timespec ts = {(time_t)(left / 1000000000ull), (long)(left % 1000000000ull)};
	nanosleep(&ts, NULL);
}

int acct_password_forgot(struct app *app, const char *email_in, const char *ip)
{
	uint64_t t0 = time_mono_ns();
	char email[256], bidx[CRYPTO_HASH_HEX];
	int rc = ERR_OK;
	if (acct_email_normalize(email_in, email, sizeof email, NULL) == ERR_OK) {
		crypto_blind_index(app->keys, bidx, email, strlen(email));
		struct db_conn *c = db_get(app->db);
		struct store_user u;
		int64_t newest = 0, now = time_now();
		if (store_user_by_email(c, bidx, &u) == ERR_OK &&
		    store_token_newest(c, u.id, "reset", &newest) == ERR_OK &&
		    now - newest >= FORGOT_REPEAT_S && (rc = db_begin(c)) == ERR_OK) {
			char token[ACCT_TOKEN], th[CRYPTO_HASH_HEX], base[CONFIG_STR], body[1024];
			crypto_token(token, sizeof token, NULL);
			acct_token_hash(token, th);
			acct_base_url(app, base, sizeof base);
			snprintf(body, sizeof body,
				 "Someone asked to reset the password of your Atelier account (%s).\n\n"
				 "To choose a new password, open this link (it works once, for %lld "
				 "minutes):\n\n%s/#/reset?token=%s\n\n"
				 "If it was not you, ignore this message: your password stays as it is.\n",
				 u.username, (long long)(app->cfg->auth.reset_ttl / 60), base, token);
			if ((rc = store_token_delete_user(c, u.id, "reset")) ||
			    (rc = store_token_insert(c, th, "reset", u.id, now,
						     now + app->cfg->auth.reset_ttl)) ||
			    (rc = mail_enqueue(app, c, email, "Reset your Atelier password", body, "reset")) ||
			    (rc = acct_audit(c, NULL, u.id, "auth.reset_requested", NULL, ip)) ||
			    (rc = db_commit(c)))
				db_rollback(c);
			else
				mail_kick(app->mail);
			crypto_wipe(token, sizeof token);
			crypto_wipe(body, sizeof body);
		}
		db_put(c);
	}
	crypto_wipe(email, sizeof email);
	/* the same time whether or not the account exists */
	sleep_until(t0, FORGOT_FLOOR_MS);
	if (rc)
		log_warn("auth.forgot", "\"error\":\"%s\"", err_str(rc));
	return ERR_OK;
}

/* Set a user's password on c and do what follows a change: end sessions
 * (all but keep_session), forget failures, alert, audit. */
static int password_set(struct app *app, struct db_conn *c, const char *uid, const char *hash,
			const char *keep_session, const char *event, const char *ip)
{
	int rc;
	char key[STORE_ID + 4];
	snprintf(key, sizeof key, "u:%s", uid);
	if ((rc = store_user_set_password(c, uid, hash, time_now())) ||
	    (rc = acct_sessions_end_all(c, uid, keep_session)) ||
	    (rc = store_token_delete_user(c, uid, "reset")) || (rc = store_throttle_delete(c, key)) ||
	    (rc = acct_alert(app, c, uid, ACCT_ALERT_PASSWORD_CHANGED, NULL)) ||
	    (rc = acct_audit(c, uid, uid, event, NULL, ip)))
		return rc;
	return ERR_OK;
}

/* The user's username and email, for the password policy. */
static int identity_of(struct app *app, struct db_conn *c, const char *uid, struct store_user *u,
		       struct buf *email)
{
	int present;
	int rc = store_user_by_id(c, uid, u);
	if (rc == ERR_OK)
		rc = acct_open_field(app, c, uid, USER_EMAIL, email, &present);
	return rc;
}

int acct_password_reset(struct app *app, const char *token, const char *pw, size_t n,
			const char *ip, struct errinfo *e)
{
	char th[CRYPTO_HASH_HEX], uid[STORE_ID], hash[PASSWORD_HASH_MAX] = "";
	struct store_user u;
	struct buf email;
	buf_init(&email, 1024);
	struct db_conn *c = db_get(app->db);
	int64_t changed = 0;
	int rc = token_check(c, token, "reset", th, uid, e);
	if (rc || (rc = identity_of(app, c, uid, &u, &email)))
		goto out;
	db_put(c); /* not held during the hash */
	c = NULL;
	if ((rc = password_check(pw, n, u.username, email.data, e)) ||
	    (rc = password_hash(pw, n, hash, e)))
		goto out;
	c = db_get(app->db);
	if ((rc = db_begin(c)))
		goto out;
	if ((rc = store_token_use(c, th, time_now(), &changed)))
		goto out;
	if (!changed) {
		rc = err_set(e, ERR_INVALID, "token", "this password-reset link has already been used");
		goto out;
	}
	/* holding the link proves the mailbox: the email counts as verified */
	if ((rc = store_user_set_verified(c, uid, time_now())) ||
	    (rc = password_set(app, c, uid, hash, NULL, "auth.password_reset", ip)) ||
	    (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
out:
	if (c) {
		if (rc)
			db_rollback(c);
		db_put(c);
	}
	crypto_wipe(hash, sizeof hash);
	if (email.data)
		crypto_wipe(email.data, email.len);
	buf_free(&email);
	return rc;
}

int acct_password_change(struct app *app, const char *uid, const char *session_id,
			 const char *cur, size_t curn, const char *pw, size_t n, const char *ip,
			 struct errinfo *e)
{
	char hash[PASSWORD_HASH_MAX] = "";
	struct store_user u;
	struct buf email;
	buf_init(&email, 1024);
	struct db_conn *c = db_get(app->db);
	int rc = identity_of(app, c, uid, &u, &email);
	db_put(c);
	c = NULL;
	if (rc)
		goto out;
	int64_t retry;
	if (acct_throttle_locked(app, NULL, "u", uid, &retry)) {
		rc = err_set(e, ERR_LIMIT, NULL, "too many wrong passwords; retry in %lld s", (long long)retry);
		goto out;
	}
	int rehash;
	rc = password_verify(u.password_hash, cur, curn, &rehash);
	if (rc == ERR_AUTH) {
		acct_throttle_fail(app, NULL, "u", uid);
		rc = err_set(e, ERR_FORBIDDEN, "current_password", "the current password is wrong");
		goto out;
	}
	if (rc) {
		err_set(e, rc, NULL, "the server is busy; retry in a moment");
		goto out;
	}
	if ((rc = password_check(pw, n, u.username, email.data, e)) ||
	    (rc = password_hash(pw, n, hash, e)))
		goto out;
	c = db_get(app->db);
	if ((rc = db_begin(c)) ||
	    (rc = password_set(app, c, uid, hash, session_id, "auth.password_changed", ip)) ||
	    (rc = db_commit(c)))
		goto out;
	mail_kick(app->mail);
out:
	if (c) {
		if (rc)
			db_rollback(c);
		db_put(c);
	}
	crypto_wipe(hash, sizeof hash);
	if (email.data)
		crypto_wipe(email.data, email.len);
	buf_free(&email);
	return rc;
}

/* --- profile ----------------------------------------------------------------- */

static const enum store_user_field field_col[ACCT_F__MAX] = {
	[ACCT_F_USERNAME] = USER_FIELD__MAX, [ACCT_F_NAME] = USER_NAME, [ACCT_F_PHONE] = USER_PHONE,
	[ACCT_F_COMPANY] = USER_COMPANY, [ACCT_F_BILLING_ADDRESS] = USER_BILLING_ADDRESS,
};

int acct_me(struct app *app, const char *user_id, struct arena *a, struct acct_me *out,
	    struct errinfo *e)
{
	memset(out, 0, sizeof *out);
	struct db_conn *c = db_get(app->db);
	struct buf b;
	buf_init(&b, 1 << 20);
	int present = 0;
	int rc = store_user_by_id(c, user_id, &out->user);
	if (rc == ERR_NOTFOUND)
		err_set(e, ERR_AUTH, NULL, "this account no longer exists");
	if (rc == ERR_OK && (rc = acct_open_field(app, c, user_id, USER_EMAIL, &b, &present)) == ERR_OK)
		out->email = arena_strndup(a, b.data ? b.data : "", b.len);
	out->field[ACCT_F_USERNAME] = out->user.username;
	for (int f = ACCT_F_NAME; rc == ERR_OK && f < ACCT_F__MAX; f++) {
		buf_reset(&b);
		rc = acct_open_field(app, c, user_id, field_col[f], &b, &present);
		if (rc == ERR_OK && present)
			out->field[f] = arena_strndup(a, b.data, b.len);
	}
	db_put(c);
	if (b.data)
		crypto_wipe(b.data, b.size);
	buf_free(&b);
	return rc == ERR_NOTFOUND ? ERR_AUTH : rc;
}

int acct_update(struct app *app, const char *uid, const struct acct_patch *p, const char *ip,
		struct errinfo *e)
{
	char username[40] = "";
	int rc;
	for (int f = 0; f < ACCT_F__MAX; f++) {
		if (!p->set[f])
			continue;
		if (f == ACCT_F_USERNAME) {
			if ((rc = acct_username_normalize(p->val[f], username, sizeof username, e)))
				return rc;
		} else if ((rc = check_field((enum acct_field)f, p->val[f], e))) {
			return rc;
		}
	}
	struct db_conn *c = db_get(app->db);
	char detail[256] = "{\"fields\":[";
	size_t dl = strlen(detail);
	if ((rc = db_begin(c)))
		goto out;
	for (int f = 0; f < ACCT_F__MAX; f++) {
		if (!p->set[f])
			continue;
		if (f == ACCT_F_USERNAME) {
			rc = store_user_set_username(c, uid, username);
			if (rc == ERR_EXISTS)
				err_set(e, ERR_EXISTS, "username", "this username is taken");
		} else {
			const char *v = p->val[f] && *p->val[f] ? p->val[f] : NULL;
			rc = seal_field(app, c, uid, field_col[f], v);
		}
		if (rc)
			goto out;
		dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "%s\"%s\"",
				       detail[dl - 1] == '[' ? "" : ",", fields[f].name);
	}
	snprintf(detail + dl, sizeof detail - dl, "]}");
	if ((rc = acct_audit(c, uid, uid, "account.updated", detail, ip)) || (rc = db_commit(c)))
		goto out;
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

/* --- staff ---------------------------------------------------------------------- */

struct search_ctx {
	void (*fn)(const struct store_user *u, void *arg);
	void *arg;
	int n;
};

static void count_row(const struct store_user *u, void *arg)
{
	struct search_ctx *x = arg;
	x->n++;
	x->fn(u, x->arg);
}

int acct_admin_search(struct app *app, const char *actor, const char *q, const char *email_in,
		      int limit, void (*fn)(const struct store_user *u, void *arg), void *arg,
		      const char *ip, struct errinfo *e)
{
	struct search_ctx x = {fn, arg, 0};
	char email[256], detail[96];
	int rc;
	struct db_conn *c = db_get(app->db);
	if (email_in) {
		if ((rc = acct_email_normalize(email_in, email, sizeof email, e)))
			goto out;
		char bidx[CRYPTO_HASH_HEX];
		crypto_blind_index(app->keys, bidx, email, strlen(email));
		struct store_user u;
		rc = store_user_by_email(c, bidx, &u);
		if (rc == ERR_OK)
			count_row(&u, &x);
		else if (rc != ERR_NOTFOUND)
			goto out;
	} else {
		if (q && strlen(q) > 64) {
			rc = err_set(e, ERR_INVALID, "q", "q is longer than 64 characters");
			goto out;
		}
		if ((rc = store_user_search(c, q ? q : "", limit, count_row, &x)))
			goto out;
	}
	/* SEC-5: staff access to personal data is logged, with what was asked */
	snprintf(detail, sizeof detail, "{\"by\":\"%s\",\"results\":%d}", email_in ? "email" : "username",
		 x.n);
	rc = acct_audit(c, actor, NULL, "admin.users_searched", detail, ip);
out:
	db_put(c);
	return rc;
}

int acct_admin_set_role(struct app *app, const char *actor, const char *uid, const char *role,
			const char *ip, struct errinfo *e)
{
	enum acct_role r = acct_role_parse(role);
	if (r == ACCT_ROLE_NONE)
		return err_set(e, ERR_INVALID, "role", "role must be user, support or admin");
	if (!strcmp(actor, uid))
		return err_set(e, ERR_FORBIDDEN, "role",
			       "you cannot change your own role; ask another admin");
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	char detail[96];
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = store_user_by_id(c, uid, &u))) {
		if (rc == ERR_NOTFOUND)
			err_set(e, rc, NULL, "no such user");
		goto out;
	}
	snprintf(detail, sizeof detail, "{\"from\":\"%s\",\"to\":\"%s\"}", u.role, acct_role_name(r));
	/* a change of privilege ends the user's sessions: they sign in again
	 * and get a new session ID with the new role */
	if ((rc = store_user_set_role(c, uid, acct_role_name(r))) ||
	    (rc = acct_sessions_end_all(c, uid, NULL)) ||
	    (rc = acct_audit(c, actor, uid, "admin.role_changed", detail, ip)) || (rc = db_commit(c)))
		goto out;
	acct_key_cache_flush(); /* the user's keys carry the new role at once */
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

int acct_admin_counts(struct app *app, struct store_counts *out)
{
	int64_t now = time_now();
	struct db_conn *c = db_get(app->db);
	int rc = store_counts_get(c, now, now - app->cfg->auth.session_idle, out);
	db_put(c);
	return rc;
}

int acct_admin_audit(struct app *app, const char *actor, const char *subject, const char *event,
		     int limit, void (*fn)(const struct store_audit_row *r, void *arg), void *arg,
		     const char *ip)
{
	struct db_conn *c = db_get(app->db);
	int rc = store_audit_list(c, subject, event, limit, fn, arg);
	if (rc == ERR_OK)
		rc = acct_audit(c, actor, subject, "admin.audit_viewed", NULL, ip);
	db_put(c);
	return rc;
}
