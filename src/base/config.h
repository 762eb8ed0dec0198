/*
 * config.h: the server's configuration, one INI file plus environment.
 *
 * Every key is declared once in the schema table in config.c, with its type,
 * default and bounds. A key may be set in the INI file (`[server] listen = …`)
 * and overridden by the environment variable ATELIER_<SECTION>_<KEY>
 * (`ATELIER_SERVER_LISTEN`), then by command-line flags. An unknown section or
 * key, or a value of the wrong type or out of bounds, refuses start-up with a
 * message naming the key. With no file at all, the defaults run a working
 * single-machine server.
 *
 * struct config is a plain value: read it freely, never write it after load.
 */
#ifndef ATELIER_BASE_CONFIG_H
#define ATELIER_BASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CONFIG_STR 256

#define CONFIG_MAX_MODELS 32

/* One [model.NAME] section: a model the server offers, where it runs, and
 * what it costs (GEN-8, PAY-1). Prices are micro-credits (see credits.h). */
struct config_model {
	char name[64];             /* NAME of [model.NAME]: the API's model id */
	char kind[16];             /* text | image | audio */
	char backend[16];          /* builtin | openai (an upstream server) */
	char path[CONFIG_STR];     /* builtin: GGUF or safetensors file */
	char base_url[CONFIG_STR]; /* openai: https://host/v1 */
	char api_key[CONFIG_STR];  /* openai: the upstream's key (secret) */
	char upstream_model[64];   /* openai: the model id upstream; "" = name */
	int64_t context;           /* text: context cap in tokens (0 = the model's) */
	int64_t threads;           /* builtin: engine threads (0 = all cores) */
	int64_t max_queue;         /* requests waiting before 503 */
	int64_t prefix_cache;      /* builtin text: seconds a prompt's cache is kept for its owner (0 = off) */
	int64_t price_prompt;      /* per 1K prompt tokens */
	int64_t price_completion;  /* per 1K completion tokens */
	int64_t price_image;       /* per image (at the model's base size and steps) */
	int64_t price_step;        /* per image per sampling step beyond the base */
	int64_t price_audio_second;
	int64_t size;              /* image: pixels per side offered (openai; builtin: the model's own) */
	char description[CONFIG_STR];
};

struct config {
	struct {
		char listen[CONFIG_STR];       /* host:port */
		char data_dir[CONFIG_STR];     /* var/ */
		char public_url[CONFIG_STR];   /* e.g. https://atelier.example; "" = derived */
		int64_t threads;               /* HTTP pool threads */
		int64_t workers;               /* threads for slow handlers (password hashing) */
		int64_t body_limit;            /* bytes, default request body cap */
		int64_t upload_limit;          /* bytes, for routes that take uploads */
		int64_t header_limit;          /* bytes, for the request line and headers */
		int64_t request_timeout;       /* seconds a request may take to arrive */
		int64_t idle_timeout;          /* seconds of silence before a connection closes */
		int64_t shutdown_grace;        /* seconds to finish requests at SIGTERM */
		int64_t max_connections;
		char tls_cert[CONFIG_STR];     /* PEM path; with tls_key turns on native TLS */
		char tls_key[CONFIG_STR];
		char trusted_proxies[CONFIG_STR]; /* comma-separated IPs whose X-Forwarded-For counts */
		bool debug_routes;             /* test-only routes under /api/debug */
		char log_level[16];
	} server;
	struct {
		char smtp_url[CONFIG_STR];     /* smtp://host:port or smtps://; "" = files under DATA_DIR/mail/ */
		char from[CONFIG_STR];         /* From: header, "Name <addr>" or "addr" */
		bool require_tls;              /* refuse to send over SMTP without TLS (STARTTLS or smtps) */
		int64_t max_attempts;          /* deliveries tried before a message is dropped */
		int64_t timeout;               /* seconds one SMTP delivery may take */
		int64_t retry_delay;           /* seconds before the first retry; doubles each time, at most 6h */
	} mail;
	struct {
		char issuer[CONFIG_STR];       /* OpenID provider, discovery at ISSUER/.well-known/openid-configuration */
		char client_id[CONFIG_STR];    /* "" = Google sign-in off */
		char client_secret[CONFIG_STR];
		char redirect_url[CONFIG_STR]; /* "" = PUBLIC_URL/api/auth/oidc/google/callback */
	} oidc;
	struct {
		char backend[16];              /* sqlite | postgres */
		char path[CONFIG_STR];         /* sqlite file; "" = DATA_DIR/atelier.db */
		char url[CONFIG_STR];          /* postgres conninfo */
		int64_t pool;                  /* connections */
		int64_t busy_timeout_ms;
	} database;
	struct {
		char master_key_file[CONFIG_STR]; /* "" = DATA_DIR/master.key */
	} crypto;
	struct {
		int64_t signup_grant;        /* micro-credits granted at verified sign-up (0: none) */
		int64_t hold_max_age;        /* seconds before an unsettled hold is released */
	} credits;
	struct {
		char currency[8];            /* ISO 4217 code prices are charged in */
		int64_t credits_per_unit;    /* credits bought by 1 unit of currency */
		int64_t min_purchase;        /* currency units */
		int64_t max_purchase;
	} billing;
	struct {
		char api_url[CONFIG_STR];    /* Coinbase Commerce API base */
		char api_key[CONFIG_STR];    /* secret */
		char webhook_secret[CONFIG_STR]; /* secret: HMAC key of X-CC-Webhook-Signature */
	} coinbase;
	struct {
		char controller[CONFIG_STR];   /* the company running this server */
		char contact_email[CONFIG_STR];
		char dpo_email[CONFIG_STR];     /* data protection officer, if any */
		char address[CONFIG_STR];
		char policy_version[32];
		char policy_effective[16];      /* YYYY-MM-DD */
		bool marketing;                 /* does the company send marketing mail at all */
	} privacy;
	struct {
		int64_t usage_logs, billing, sessions, tickets, exports, mail_outbox, audit, webhook_events;
		char images[16];                /* until_deleted | ephemeral */
		int64_t image_links;            /* seconds an image's signed link works; ephemeral images live as long */
		int64_t sweep_interval;         /* seconds between sweeper passes */
	} retention;
	struct config_subprocessor {
		char name[64], purpose[CONFIG_STR], data[CONFIG_STR], location[64], since[16];
	} subprocessors[16];               /* [subprocessor.NAME] sections */
	int nsubprocessors;
	struct {
		int64_t session_idle;          /* seconds without a request before a session ends */
		int64_t session_absolute;      /* seconds a session lives at most */
		bool cookie_secure;            /* Secure + __Host- cookie without native TLS (behind a TLS proxy) */
		int64_t argon2_memlimit;       /* bytes of memory per Argon2id hash */
		int64_t argon2_opslimit;       /* Argon2id passes (t) */
		int64_t hash_concurrency;      /* Argon2id hashes running at once, at most */
		char password_blocklist[CONFIG_STR]; /* file of common passwords, one a line */
		int64_t verify_ttl;            /* seconds an email-verification link works */
		int64_t reset_ttl;             /* seconds a password-reset link works */
		int64_t login_free_failures;   /* failed sign-ins per account before delays start */
		int64_t ip_free_failures;      /* failed sign-ins per client address before delays start */
		int64_t lockout_base;          /* seconds of the first delay; doubles each failure */
		int64_t lockout_max;           /* longest delay, seconds */
		int64_t failure_window;        /* seconds after which failures are forgotten */
		int64_t key_cache_ttl;         /* seconds a checked API key is remembered (0: never) */
	} auth;
	struct config_model models[CONFIG_MAX_MODELS]; /* [model.NAME] sections */
	int nmodels;
};

/* Defaults into c. */
void config_defaults(struct config *c);

/* Defaults, then the file at path (NULL: none; a missing named file is an
 * error), then the environment. e names the key at fault. */
int config_load(struct config *c, const char *path, struct errinfo *e);

/* Set one key by section and name from text, as the file would.
 * Used by flags and tests. */
int config_set(struct config *c, const char *section, const char *key, const char *value,
	       struct errinfo *e);

/* Parse a size such as "1MiB", "512KiB", "64k", "1048576" into bytes. */
int config_parse_size(const char *s, int64_t *out);

/* Parse an amount of credits with up to 6 decimals ("0.5", "12",
 * "0.000125") into micro-credits. */
int config_parse_credits(const char *s, int64_t *out);

/* The model named name, or NULL. */
const struct config_model *config_model_find(const struct config *c, const char *name);

/* Parse a duration such as "30s", "15m", "2h", "90d", "7y", "45" (seconds). */
int config_parse_duration(const char *s, int64_t *out);

/* Visit every key with its current value as text (for `atelier config` and
 * the privacy notice). Secrets are never passed: their value reads "(set)". */
void config_each(const struct config *c,
		 void (*fn)(const char *section, const char *key, const char *value, void *arg),
		 void *arg);

#endif
