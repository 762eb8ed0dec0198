/*
 * config_model.c: [model.NAME] sections. Each section is one model the server
 * offers; its keys are a table like the fixed sections' (config.c), checked
 * the same way: an unknown key or a bad value names itself and stops
 * start-up. The environment cannot set these (a model name may contain
 * underscores, so ATELIER_MODEL_A_B_KEY would be ambiguous).
 */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mtype { M_STR, M_INT, M_CREDITS, M_ENUM };

struct mkey {
	const char *name;
	enum mtype type;
	size_t off, len;
	int64_t min, max;
	const char *choices;
};

#define MS(f) offsetof(struct config_model, f), sizeof(((struct config_model *)0)->f)
#define MN(f) offsetof(struct config_model, f), 0

static const struct mkey mkeys[] = {
	{"kind", M_ENUM, MS(kind), 0, 0, "text|image|audio"},
	{"backend", M_ENUM, MS(backend), 0, 0, "builtin|openai"},
	{"path", M_STR, MS(path), 0, 0, NULL},
	{"base_url", M_STR, MS(base_url), 0, 0, NULL},
	{"api_key", M_STR, MS(api_key), 0, 0, NULL},
	{"upstream_model", M_STR, MS(upstream_model), 0, 0, NULL},
	{"description", M_STR, MS(description), 0, 0, NULL},
	{"context", M_INT, MN(context), 0, 1 << 24, NULL},
	{"threads", M_INT, MN(threads), 0, 256, NULL},
	{"max_queue", M_INT, MN(max_queue), 0, 100000, NULL},
	{"prefix_cache", M_INT, MN(prefix_cache), 0, 86400, NULL},
	{"price_prompt", M_CREDITS, MN(price_prompt), 0, 0, NULL},
	{"price_completion", M_CREDITS, MN(price_completion), 0, 0, NULL},
	{"price_image", M_CREDITS, MN(price_image), 0, 0, NULL},
	{"price_step", M_CREDITS, MN(price_step), 0, 0, NULL},
	{"price_audio_second", M_CREDITS, MN(price_audio_second), 0, 0, NULL},
	{"size", M_INT, MN(size), 0, 8192, NULL},
};

int config_parse_credits(const char *s, int64_t *out)
{
	int64_t whole = 0, frac = 0;
	int digits = 0, fd = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++, digits++) {
		if (whole > 1000000000000LL)
			return ERR_INVALID;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		for (; isdigit((unsigned char)*p); p++, fd++) {
			if (fd == 6)
				return ERR_INVALID; /* finer than a micro-credit */
			frac = frac * 10 + (*p - '0');
		}
		if (!fd)
			return ERR_INVALID;
	}
	if (*p || (!digits && !fd))
		return ERR_INVALID;
	for (int i = fd; i < 6; i++)
		frac *= 10;
	*out = whole * 1000000 + frac;
	return ERR_OK;
}

static int valid_name(const char *n)
{
	size_t l = strlen(n);
	if (!l || l >= sizeof(((struct config_model *)0)->name))
		return 0;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.:", *p))
			return 0;
	return 1;
}

static struct config_model *model_slot(struct config *c, const char *name)
{
	for (int i = 0; i < c->nmodels; i++)
		if (!strcmp(c->models[i].name, name))
			return &c->models[i];
	if (c->nmodels == CONFIG_MAX_MODELS)
		return NULL;
	struct config_model *m = &c->models[c->nmodels++];
	memset(m, 0, sizeof *m);
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->kind, sizeof m->kind, "text");
	snprintf(m->backend, sizeof m->backend, "builtin");
	m->max_queue = 64;
	m->prefix_cache = 300; /* as the default model (TEXTMODELS_DEFAULT_PREFIX_CACHE) */
	return m;
}

static int in_choices(const char *choices, const char *v)
{
	char tmp[128];
	snprintf(tmp, sizeof tmp, "|%s|", choices);
	char needle[80];
	snprintf(needle, sizeof needle, "|%s|", v);
	return strstr(tmp, needle) != NULL;
}

int config_model_set(struct config *c, const char *name, const char *key, const char *value,
		     struct errinfo *e)
{
	char field[160];
	snprintf(field, sizeof field, "model.%s.%s", name, key);
	if (!valid_name(name))
		return err_set(e, ERR_INVALID, field,
			       "config: [model.%s]: a model name is 1..63 of letters, digits, - _ . :", name);
	const struct mkey *k = NULL;
	for (size_t i = 0; i < sizeof mkeys / sizeof mkeys[0]; i++)
		if (!strcmp(mkeys[i].name, key))
			k = &mkeys[i];
	if (!k)
		return err_set(e, ERR_INVALID, field, "config: unknown key '%s' in [model.%s]", key, name);
	struct config_model *m = model_slot(c, name);
	if (!m)
		return err_set(e, ERR_TOOBIG, field, "config: more than %d models", CONFIG_MAX_MODELS);
	char *base = (char *)m + k->off;
	switch (k->type) {
	case M_STR:
	case M_ENUM:
		if (strlen(value) >= k->len)
			return err_set(e, ERR_INVALID, field, "config: [model.%s] %s is too long", name, key);
		if (k->type == M_ENUM && !in_choices(k->choices, value))
			return err_set(e, ERR_INVALID, field, "config: [model.%s] %s must be one of %s", name,
				       key, k->choices);
		memcpy(base, value, strlen(value) + 1);
		return ERR_OK;
	case M_INT: {
		errno = 0;
		char *end;
		long long v = strtoll(value, &end, 10);
		if (end == value || *end || errno || v < k->min || v > k->max)
			return err_set(e, ERR_INVALID, field, "config: [model.%s] %s must be a number in %lld..%lld",
				       name, key, (long long)k->min, (long long)k->max);
		*(int64_t *)base = v;
		return ERR_OK;
	}
	case M_CREDITS:
		if (config_parse_credits(value, (int64_t *)base))
			return err_set(e, ERR_INVALID, field,
				       "config: [model.%s] %s must be an amount of credits like 0.25 (at most 6 decimals)",
				       name, key);
		return ERR_OK;
	}
	return ERR_INTERNAL;
}

const struct config_model *config_model_find(const struct config *c, const char *name)
{
	for (int i = 0; i < c->nmodels; i++)
		if (!strcmp(c->models[i].name, name))
			return &c->models[i];
	return NULL;
}

/* [subprocessor.NAME]: a company that processes personal data for this
 * server beyond what the configuration shows by itself (hosting, a CDN).
 * Listed publicly (OPS-1). Keys: purpose, data, location, since. */
int config_subprocessor_set(struct config *c, const char *name, const char *key, const char *value,
			    struct errinfo *e)
{
	char field[160];
	snprintf(field, sizeof field, "subprocessor.%s.%s", name, key);
	if (!valid_name(name))
		return err_set(e, ERR_INVALID, field, "config: [subprocessor.%s]: bad name", name);
	struct config_subprocessor *sp = NULL;
	for (int i = 0; i < c->nsubprocessors; i++)
		if (!strcmp(c->subprocessors[i].name, name))
			sp = &c->subprocessors[i];
	if (!sp) {
		if (c->nsubprocessors == (int)(sizeof c->subprocessors / sizeof c->subprocessors[0]))
			return err_set(e, ERR_TOOBIG, field, "config: too many sub-processors");
		sp = &c->subprocessors[c->nsubprocessors++];
		memset(sp, 0, sizeof *sp);
		snprintf(sp->name, sizeof sp->name, "%s", name);
	}
	char *dst;
	size_t n;
	if (!strcmp(key, "purpose"))
		dst = sp->purpose, n = sizeof sp->purpose;
	else if (!strcmp(key, "data"))
		dst = sp->data, n = sizeof sp->data;
	else if (!strcmp(key, "location"))
		dst = sp->location, n = sizeof sp->location;
	else if (!strcmp(key, "since"))
		dst = sp->since, n = sizeof sp->since;
	else
		return err_set(e, ERR_INVALID, field, "config: unknown key '%s' in [subprocessor.%s]", key, name);
	if (strlen(value) >= n)
		return err_set(e, ERR_INVALID, field, "config: [subprocessor.%s] %s is too long", name, key);
	memcpy(dst, value, strlen(value) + 1);
	return ERR_OK;
}
