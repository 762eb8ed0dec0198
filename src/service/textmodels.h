/*
 * textmodels.h: the text models this server offers (GEN-8): every
 * [model.NAME] section of kind text, or, with no model configured at all,
 * the committed default models/atelier-tiny.gguf as "atelier-tiny".
 * Builtin models are loaded at start-up; one that cannot be loaded is kept
 * in the list as unavailable, with the reason logged, and never stops the
 * server.
 */
#ifndef ATELIER_SERVICE_TEXTMODELS_H
#define ATELIER_SERVICE_TEXTMODELS_H

#include <stdbool.h>

#include "base/config.h"
#include "service/textgen.h"

/* Seconds the default model keeps a prompt's cache for its owner. */
#define TEXTMODELS_DEFAULT_PREFIX_CACHE 300

struct textmodel {
	struct config_model cfg;   /* a copy (the default model has no section) */
	struct textgen *gen;       /* builtin and loaded; else NULL */
	bool available;            /* builtin: loaded; openai: configured */
	char reason[256];          /* why not, for /v1/models and the log */
};

struct textmodels {
	struct textmodel m[CONFIG_MAX_MODELS];
	int n;
};

/* Load every text model of cfg (or the default). Fails only when out of
 * memory. */
int textmodels_start(struct textmodels **out, const struct config *cfg, struct errinfo *e);

/* Forget the prompt caches of an account (end_user NULL: all of its own and
 * its end users') or of one end user of it (the keyed hash of `user`), in
 * every builtin model. Accepts NULL t. */
void textmodels_forget(struct textmodels *t, const char *owner, const char *end_user);

/* Stop the schedulers and free. Accepts NULL. */
void textmodels_stop(struct textmodels *t);

/* The model named name, or NULL. */
struct textmodel *textmodels_find(struct textmodels *t, const char *name);

#endif
