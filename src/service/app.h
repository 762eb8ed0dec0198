/*
 * app.h: what every service and handler shares: the configuration, the
 * database and the keys. Built once by `atelier serve` (serve.c) and passed
 * to handlers as their context. Later capabilities add their long-lived
 * objects here (mail sender, engines, schedulers).
 */
#ifndef ATELIER_SERVICE_APP_H
#define ATELIER_SERVICE_APP_H

#include "base/config.h"
#include "crypto/crypto.h"
#include "store/db.h"

struct router;
struct mail_sender;
struct textmodels;
struct privacy_worker;
struct imagejobs;

struct app {
	const struct config *cfg;
	struct db *db;
	struct crypto_keys *keys;
	const char *data_dir;
	struct mail_sender *mail;    /* outbox sender (service/mail.h); kick after commit */
	struct privacy_worker *privacy; /* export worker (service/privacy.h); kick after queueing */
	int64_t started_at;
	const struct router *router; /* for /metrics and /openapi.json */
	struct textmodels *text;     /* text models and their schedulers (service/textmodels.h) */
	struct imagejobs *images;    /* image models, their job workers (service/imagejobs.h) */
};

#endif
