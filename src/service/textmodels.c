/*
 * textmodels.c: loading the configured text models at start-up.
 */
#include "service/textmodels.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/datafile.h"
#include "base/log.h"

/* Where the committed default model may be: the working directory (a
 * checkout), beside the binary (build/../models) or an install prefix. */
static bool find_default(char *out, size_t n)
{
	return datafile_find("ATELIER_DEFAULT_MODEL", "atelier-tiny.gguf", out, n);
}

static void load(struct textmodel *m)
{
	if (strcmp(m->cfg.backend, "builtin")) {
		m->available = m->cfg.base_url[0] != '\0';
		if (!m->available)
			snprintf(m->reason, sizeof m->reason, "no base_url configured");
		return;
	}
	struct textgen_options o = {
		.path = m->cfg.path,
		.n_ctx = (uint32_t)m->cfg.context,
		.threads = (int)m->cfg.threads,
		.max_queue = (uint32_t)m->cfg.max_queue,
		.prefix_cache_s = (uint32_t)m->cfg.prefix_cache,
	};
	struct errinfo e = {0};
	int rc = textgen_open(&m->gen, &o, &e);
	if (rc) {
		snprintf(m->reason, sizeof m->reason, "cannot load the model file: %s", e.msg[0] ? e.msg : err_str(rc));
		log_error("textmodel.unavailable", "\"model\":\"%s\",\"reason\":\"%s\"", log_str(m->cfg.name),
			  log_str(m->reason));
		return;
	}
	m->available = true;
	log_info("textmodel.loaded", "\"model\":\"%s\",\"n_ctx\":%u,\"slots\":%u", log_str(m->cfg.name),
		 textgen_n_ctx(m->gen), textgen_n_slots(m->gen));
}

int textmodels_start(struct textmodels **out, const struct config *cfg, struct errinfo *e)
{
	struct textmodels *t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	for (int i = 0; i < cfg->nmodels; i++) {
		if (strcmp(cfg->models[i].kind, "text") && cfg->models[i].kind[0])
			continue;
		t->m[t->n++].cfg = cfg->models[i];
	}
	char path[PATH_MAX + 64];
	if (cfg->nmodels == 0 && find_default(path, sizeof path)) {
		/* the committed default, free unless configured otherwise */
		struct config_model *c = &t->m[t->n++].cfg;
		snprintf(c->name, sizeof c->name, "atelier-tiny");
		snprintf(c->kind, sizeof c->kind, "text");
		snprintf(c->backend, sizeof c->backend, "builtin");
		snprintf(c->path, sizeof c->path, "%s", path);
		snprintf(c->description, sizeof c->description, "Atelier's own small model, trained by tools/train_llm.py");
		c->prefix_cache = TEXTMODELS_DEFAULT_PREFIX_CACHE;
	}
	for (int i = 0; i < t->n; i++)
		load(&t->m[i]);
	*out = t;
	return ERR_OK;
}

void textmodels_forget(struct textmodels *t, const char *owner, const char *end_user)
{
	if (!t)
		return;
	/* the key the text API gives a request: owner \x1f end-user hash */
	char prefix[TEXTGEN_CACHE_KEY];
	snprintf(prefix, sizeof prefix, "%s\x1f%s", owner, end_user ? end_user : "");
	for (int i = 0; i < t->n; i++)
		if (t->m[i].gen)
			textgen_forget(t->m[i].gen, prefix);
}

void textmodels_stop(struct textmodels *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n; i++)
		textgen_close(t->m[i].gen);
	free(t);
}

struct textmodel *textmodels_find(struct textmodels *t, const char *name)
{
	for (int i = 0; t && i < t->n; i++)
		if (!strcmp(t->m[i].cfg.name, name))
			return &t->m[i];
	return NULL;
}
