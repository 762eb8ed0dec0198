/*
 * config.c: schema table, INI parsing (libinih) and environment overrides.
 *
 * The schema is a table rather than an if-chain (kcgi's habit): each row knows
 * where its value lives in struct config, so parsing, defaults, environment
 * names and `config_each` all come from the same rows.
 */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ktype { K_STR, K_INT, K_SIZE, K_DURATION, K_BOOL, K_ENUM, K_CREDITS };

struct key {
	const char *section, *name;
	enum ktype type;
	size_t off, len;     /* where in struct config; len for strings */
	const char *def;     /* default, as text */
	int64_t min, max;    /* bounds for numbers */
	const char *choices; /* "a|b|c" for K_ENUM */
	bool secret;         /* never printed */
};

#define S(sec, field) offsetof(struct config, sec.field), sizeof(((struct config *)0)->sec.field)
#define N(sec, field) offsetof(struct config, sec.field), 0

static const struct key keys[] = {
	{"server", "listen", K_STR, S(server, listen), "127.0.0.1:8080", 0, 0, NULL, false},
	{"server", "data_dir", K_STR, S(server, data_dir), "var", 0, 0, NULL, false},
	{"server", "public_url", K_STR, S(server, public_url), "", 0, 0, NULL, false},
	{"server", "threads", K_INT, N(server, threads), "4", 1, 256, NULL, false},
	{"server", "workers", K_INT, N(server, workers), "4", 1, 256, NULL, false},
	{"server", "body_limit", K_SIZE, N(server, body_limit), "1MiB", 1024, (int64_t)1 << 30, NULL, false},
	{"server", "upload_limit", K_SIZE, N(server, upload_limit), "25MiB", 1024, (int64_t)4 << 30, NULL, false},
	{"server", "header_limit", K_SIZE, N(server, header_limit), "16KiB", 4096, 1 << 20, NULL, false},
	{"server", "request_timeout", K_DURATION, N(server, request_timeout), "30s", 1, 3600, NULL, false},
	{"server", "idle_timeout", K_DURATION, N(server, idle_timeout), "15s", 1, 3600, NULL, false},
	{"server", "shutdown_grace", K_DURATION, N(server, shutdown_grace), "10s", 0, 600, NULL, false},
	{"server", "max_connections", K_INT, N(server, max_connections), "1024", 1, 1000000, NULL, false},
	{"server", "tls_cert", K_STR, S(server, tls_cert), "", 0, 0, NULL, false},
	{"server", "tls_key", K_STR, S(server, tls_key), "", 0, 0, NULL, false},
	{"server", "trusted_proxies", K_STR, S(server, trusted_proxies), "", 0, 0, NULL, false},
	{"server", "debug_routes", K_BOOL, N(server, debug_routes), "false", 0, 0, NULL, false},
	{"server", "log_level", K_ENUM, S(server, log_level), "info", 0, 0, "debug|info|warn|error", false},
	{"mail", "smtp_url", K_STR, S(mail, smtp_url), "", 0, 0, NULL, true},
	{"mail", "from", K_STR, S(mail, from), "Atelier <atelier@localhost>", 0, 0, NULL, false},
	{"mail", "require_tls", K_BOOL, N(mail, require_tls), "false", 0, 0, NULL, false},
	{"mail", "max_attempts", K_INT, N(mail, max_attempts), "12", 1, 1000, NULL, false},
	{"mail", "timeout", K_DURATION, N(mail, timeout), "60s", 1, 3600, NULL, false},
	{"mail", "retry_delay", K_DURATION, N(mail, retry_delay), "30s", 1, 21600, NULL, false},
	{"oidc", "issuer", K_STR, S(oidc, issuer), "https://accounts.google.com", 0, 0, NULL, false},
	{"oidc", "client_id", K_STR, S(oidc, client_id), "", 0, 0, NULL, false},
	{"oidc", "client_secret", K_STR, S(oidc, client_secret), "", 0, 0, NULL, true},
	{"oidc", "redirect_url", K_STR, S(oidc, redirect_url), "", 0, 0, NULL, false},
	{"database", "backend", K_ENUM, S(database, backend), "sqlite", 0, 0, "sqlite|postgres", false},
	{"database", "path", K_STR, S(database, path), "", 0, 0, NULL, false},
	{"database", "url", K_STR, S(database, url), "", 0, 0, NULL, true},
	{"database", "pool", K_INT, N(database, pool), "4", 1, 256, NULL, false},
	{"database", "busy_timeout_ms", K_INT, N(database, busy_timeout_ms), "5000", 0, 600000, NULL, false},
	{"crypto", "master_key_file", K_STR, S(crypto, master_key_file), "", 0, 0, NULL, false},
	{"privacy", "controller", K_STR, S(privacy, controller), "The operator of this Atelier server", 0, 0, NULL, false},
	{"privacy", "contact_email", K_STR, S(privacy, contact_email), "privacy@localhost", 0, 0, NULL, false},
	{"privacy", "dpo_email", K_STR, S(privacy, dpo_email), "", 0, 0, NULL, false},
	{"privacy", "address", K_STR, S(privacy, address), "", 0, 0, NULL, false},
	{"privacy", "policy_version", K_STR, S(privacy, policy_version), "1", 0, 0, NULL, false},
	{"privacy", "policy_effective", K_STR, S(privacy, policy_effective), "2026-11-23", 0, 0, NULL, false},
	{"privacy", "marketing", K_BOOL, N(privacy, marketing), "false", 0, 0, NULL, false},
	{"retention", "usage_logs", K_DURATION, N(retention, usage_logs), "90d", 86400, 100LL * 365 * 86400, NULL, false},
	{"retention", "billing", K_DURATION, N(retention, billing), "7y", 86400, 100LL * 365 * 86400, NULL, false},
	{"retention", "sessions", K_DURATION, N(retention, sessions), "30d", 3600, 10LL * 365 * 86400, NULL, false},
	{"retention", "tickets", K_DURATION, N(retention, tickets), "2y", 86400, 100LL * 365 * 86400, NULL, false},
	{"retention", "exports", K_DURATION, N(retention, exports), "7d", 3600, 365LL * 86400, NULL, false},
	{"retention", "mail_outbox", K_DURATION, N(retention, mail_outbox), "7d", 3600, 365LL * 86400, NULL, false},
	{"retention", "audit", K_DURATION, N(retention, audit), "1y", 86400, 100LL * 365 * 86400, NULL, false},
	{"retention", "webhook_events", K_DURATION, N(retention, webhook_events), "90d", 86400, 10LL * 365 * 86400, NULL, false},
	{"retention", "sweep_interval", K_DURATION, N(retention, sweep_interval), "1h", 1, 86400, NULL, false},
	{"retention", "image_links", K_DURATION, N(retention, image_links), "1h", 1, 7LL * 86400, NULL, false},
	{"retention", "images", K_ENUM, S(retention, images), "until_deleted", 0, 0, "until_deleted|ephemeral", false},
	{"credits", "signup_grant", K_CREDITS, N(credits, signup_grant), "10", 0, 1000000LL * 1000000, NULL, false},
	{"credits", "hold_max_age", K_DURATION, N(credits, hold_max_age), "1h", 60, 7 * 86400, NULL, false},
	{"billing", "currency", K_ENUM, S(billing, currency), "USD", 0, 0, "USD|EUR|GBP|CHF|CAD|AUD|JPY", false},
	{"billing", "credits_per_unit", K_INT, N(billing, credits_per_unit), "100", 1, 1000000, NULL, false},
	{"billing", "min_purchase", K_INT, N(billing, min_purchase), "1", 1, 1000000, NULL, false},
	{"billing", "max_purchase", K_INT, N(billing, max_purchase), "10000", 1, 1000000, NULL, false},
	{"coinbase", "api_url", K_STR, S(coinbase, api_url), "https://api.commerce.coinbase.com", 0, 0, NULL, false},
	{"coinbase", "api_key", K_STR, S(coinbase, api_key), "", 0, 0, NULL, true},
	{"coinbase", "webhook_secret", K_STR, S(coinbase, webhook_secret), "", 0, 0, NULL, true},
	{"auth", "session_idle", K_DURATION, N(auth, session_idle), "12h", 1, 30 * 86400, NULL, false},
	{"auth", "session_absolute", K_DURATION, N(auth, session_absolute), "14d", 1, 365 * 86400, NULL, false},
	{"auth", "cookie_secure", K_BOOL, N(auth, cookie_secure), "false", 0, 0, NULL, false},
	/* OWASP's Argon2id minimum: m = 19 MiB, t = 2, p = 1 (libsodium is p = 1) */
	{"auth", "argon2_memlimit", K_SIZE, N(auth, argon2_memlimit), "19MiB", 8192, (int64_t)1 << 30, NULL, false},
	{"auth", "argon2_opslimit", K_INT, N(auth, argon2_opslimit), "2", 1, 16, NULL, false},
	{"auth", "hash_concurrency", K_INT, N(auth, hash_concurrency), "2", 1, 64, NULL, false},
	{"auth", "password_blocklist", K_STR, S(auth, password_blocklist), "/usr/share/dict/cracklib-small", 0, 0, NULL, false},
	{"auth", "verify_ttl", K_DURATION, N(auth, verify_ttl), "48h", 60, 30 * 86400, NULL, false},
	{"auth", "reset_ttl", K_DURATION, N(auth, reset_ttl), "1h", 1, 86400, NULL, false},
	{"auth", "login_free_failures", K_INT, N(auth, login_free_failures), "5", 1, 1000, NULL, false},
	{"auth", "ip_free_failures", K_INT, N(auth, ip_free_failures), "50", 1, 100000, NULL, false},
	{"auth", "lockout_base", K_DURATION, N(auth, lockout_base), "1s", 1, 3600, NULL, false},
	{"auth", "lockout_max", K_DURATION, N(auth, lockout_max), "15m", 1, 86400, NULL, false},
	{"auth", "key_cache_ttl", K_DURATION, N(auth, key_cache_ttl), "2s", 0, 60, NULL, false},
	{"auth", "failure_window", K_DURATION, N(auth, failure_window), "1h", 60, 30 * 86400, NULL, false},
};

#define NKEYS (sizeof keys / sizeof keys[0])

int config_model_set(struct config *c, const char *name, const char *key, const char *value,
		     struct errinfo *e); /* config_model.c */
int config_subprocessor_set(struct config *c, const char *name, const char *key, const char *value,
			    struct errinfo *e); /* config_model.c */

static int parse_num_suffix(const char *s, int64_t *out, const char *const *suffixes,
			    const int64_t *mult)
{
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return ERR_INVALID;
	while (*end == ' ')
		end++;
	int64_t m = 1;
	if (*end) {
		int found = 0;
		for (int i = 0; suffixes[i]; i++)
			if (strcasecmp(end, suffixes[i]) == 0) {
				m = mult[i];
				found = 1;
				break;
			}
		if (!found)
			return ERR_INVALID;
	}
	if (v > INT64_MAX / m)
		return ERR_INVALID;
	*out = v * m;
	return ERR_OK;
}

int config_parse_size(const char *s, int64_t *out)
{
	static const char *const sfx[] = {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", NULL};
	static const int64_t mul[] = {1, 1 << 10, 1 << 10, 1 << 10, 1 << 20, 1 << 20, 1 << 20,
				      1 << 30, 1 << 30, 1 << 30};
	return parse_num_suffix(s, out, sfx, mul);
}

int config_parse_duration(const char *s, int64_t *out)
{
	static const char *const sfx[] = {"s", "m", "h", "d", "w", "y", NULL};
	static const int64_t mul[] = {1, 60, 3600, 86400, 7 * 86400, 365 * 86400};
	return parse_num_suffix(s, out, sfx, mul);
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0"))
		*out = false;
	else
		return ERR_INVALID;
	return ERR_OK;
}

static bool in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

static int apply(struct config *c, const struct key *k, const char *v, struct errinfo *e)
{
	char *base = (char *)c + k->off;
	char field[96];
	snprintf(field, sizeof field, "%s.%s", k->section, k->name);
	int64_t n = 0;
	int rc = ERR_OK;
	switch (k->type) {
	case K_STR:
	case K_ENUM:
		if (strlen(v) >= k->len)
			return err_set(e, ERR_INVALID, field, "config: [%s] %s is longer than %zu characters",
				       k->section, k->name, k->len - 1);
		if (k->type == K_ENUM && !in_choices(k->choices, v))
			return err_set(e, ERR_INVALID, field, "config: [%s] %s must be one of %s",
				       k->section, k->name, k->choices);
		memcpy(base, v, strlen(v) + 1);
		return ERR_OK;
	case K_BOOL:
		if (parse_bool(v, (bool *)base))
			return err_set(e, ERR_INVALID, field, "config: [%s] %s must be true or false",
				       k->section, k->name);
		return ERR_OK;
	case K_INT: {
		errno = 0;
		char *end;
		long long x = strtoll(v, &end, 10);
		if (end == v || *end || errno)
			rc = ERR_INVALID;
		n = x;
		break;
	}
	case K_SIZE:
		rc = config_parse_size(v, &n);
		break;
	case K_DURATION:
		rc = config_parse_duration(v, &n);
		break;
	case K_CREDITS:
		rc = config_parse_credits(v, &n);
		break;
	}
	if (rc)
		return err_set(e, ERR_INVALID, field, "config: [%s] %s: cannot read '%s' as a %s",
			       k->section, k->name, v,
			       k->type == K_INT ? "number" : k->type == K_SIZE ? "size"
			       : k->type == K_CREDITS ? "credit amount" : "duration");
	if (n < k->min || n > k->max)
		return err_set(e, ERR_INVALID, field,
			       "config: [%s] %s = %s is out of range (%" PRId64 "..%" PRId64 ")",
			       k->section, k->name, v, k->min, k->max);
	*(int64_t *)base = n;
	return ERR_OK;
}

static const struct key *find(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

int config_set(struct config *c, const char *section, const char *key, const char *value,
	       struct errinfo *e)
{
	if (strncmp(section, "model.", 6) == 0)
		return config_model_set(c, section + 6, key, value, e);
	if (strncmp(section, "subprocessor.", 13) == 0)
		return config_subprocessor_set(c, section + 13, key, value, e);
	const struct key *k = find(section, key);
	if (!k) {
		bool known_section = false;
		for (size_t i = 0; i < NKEYS; i++)
			if (!strcmp(keys[i].section, section))
				known_section = true;
		char field[96];
		snprintf(field, sizeof field, "%s.%s", section, key);
		if (!known_section)
			return err_set(e, ERR_INVALID, field, "config: unknown section [%s] (key %s)",
				       section, key);
		return err_set(e, ERR_INVALID, field, "config: unknown key '%s' in [%s]", key, section);
	}
	return apply(c, k, value, e);
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NKEYS; i++) {
		int rc = apply(c, &keys[i], keys[i].def, NULL);
		(void)rc; /* defaults are checked by the unit test */
	}
}

struct ini_ctx {
	struct config *c;
	struct errinfo *e;
	int rc;
};

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	if (x->rc)
		return 0;
	if (!name) /* a section header alone */
		return 1;
	x->rc = config_set(x->c, section, name, value, x->e);
	return x->rc ? 0 : 1;
}

static void env_name(char *out, size_t n, const struct key *k)
{
	snprintf(out, n, "ATELIER_%s_%s", k->section, k->name);
	for (char *p = out; *p; p++)
		*p = (char)(*p == '.' ? '_' : toupper((unsigned char)*p));
}

int config_load(struct config *c, const char *path, struct errinfo *e)
{
	config_defaults(c);
	if (path) {
		FILE *f = fopen(path, "r");
		if (!f)
			return err_set(e, ERR_IO, "config", "config: cannot open %s: %s", path,
				       strerror(errno));
		struct ini_ctx x = {c, e, ERR_OK};
		int line = ini_parse_file(f, on_ini, &x);
		fclose(f);
		if (x.rc) {
			/* prefix the line number to the key's message */
			char msg[sizeof e->msg + CONFIG_STR + 32];
			snprintf(msg, sizeof msg, "%s (%s line %d)", e->msg, path, line);
			snprintf(e->msg, sizeof e->msg, "%.*s", (int)sizeof e->msg - 1, msg);
			return x.rc;
		}
		if (line)
			return err_set(e, ERR_INVALID, "config", "config: %s line %d: syntax error", path, line);
	}
	{
		int y, mo, d;
		char tail;
		if (sscanf(c->privacy.policy_effective, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3 ||
		    mo < 1 || mo > 12 || d < 1 || d > 31)
			return err_set(e, ERR_INVALID, "privacy.policy_effective",
				       "config: [privacy] policy_effective must be a date YYYY-MM-DD");
	}
	for (int i = 0; i < c->nmodels; i++) {
		const struct config_model *m = &c->models[i];
		char field[96];
		snprintf(field, sizeof field, "model.%s", m->name);
		if (!strcmp(m->backend, "builtin") && !m->path[0])
			return err_set(e, ERR_INVALID, field, "config: [model.%s] backend = builtin needs path", m->name);
		if (!strcmp(m->backend, "openai") && strncmp(m->base_url, "http://", 7) &&
		    strncmp(m->base_url, "https://", 8))
			return err_set(e, ERR_INVALID, field,
				       "config: [model.%s] backend = openai needs base_url = http(s)://…", m->name);
	}
	for (size_t i = 0; i < NKEYS; i++) {
		char name[128];
		env_name(name, sizeof name, &keys[i]);
		const char *v = getenv(name);
		if (!v)
			continue;
		int rc = apply(c, &keys[i], v, e);
		if (rc) {
			char msg[sizeof e->msg + 160];
			snprintf(msg, sizeof msg, "%s (from %s)", e->msg, name);
			snprintf(e->msg, sizeof e->msg, "%.*s", (int)sizeof e->msg - 1, msg);
			return rc;
		}
	}
	return ERR_OK;
}

void config_each(const struct config *c,
		 void (*fn)(const char *section, const char *key, const char *value, void *arg),
		 void *arg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const char *base = (const char *)c + k->off;
		char v[CONFIG_STR + 32];
		switch (k->type) {
		case K_STR:
		case K_ENUM:
			snprintf(v, sizeof v, "%s", k->secret && *base ? "(set)" : base);
			break;
		case K_BOOL:
			snprintf(v, sizeof v, "%s", *(const bool *)base ? "true" : "false");
			break;
		default:
			snprintf(v, sizeof v, "%" PRId64, *(const int64_t *)base);
		}
		fn(k->section, k->name, v, arg);
	}
}
