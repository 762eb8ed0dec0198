/*
 * textreq.h: the body of POST /v1/chat/completions and /v1/completions,
 * checked field by field against OpenAI's documented types and ranges, into
 * a plain struct; and the worst-case and true cost of a call.
 *
 * Pointers in a parsed request borrow from the JSON body (which outlives the
 * handler's use of them) or from the request arena.
 */
#ifndef ATELIER_API_TEXTREQ_H
#define ATELIER_API_TEXTREQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "engine/llm/template.h"

#define TEXTREQ_MAX_MESSAGES 256
#define TEXTREQ_MAX_STOP 4
#define TEXTREQ_MAX_N 4
#define TEXTREQ_MAX_TOP 20
#define TEXTREQ_MAX_USER 256

struct textreq {
	bool chat;                 /* chat.completions (messages) or completions (prompt) */
	const char *model;
	struct tmpl_msg msgs[TEXTREQ_MAX_MESSAGES];
	size_t n_msgs;
	const char *prompt;        /* completions */
	double temperature;        /* 0..2, default 1 */
	double top_p;              /* (0..1], default 1 */
	int64_t max_tokens;        /* 0: as many as the context allows */
	const char *stop[TEXTREQ_MAX_STOP];
	size_t n_stop;
	bool has_seed;
	int64_t seed;
	int n;                     /* 1..TEXTREQ_MAX_N */
	double presence_penalty, frequency_penalty; /* -2..2 */
	bool logprobs;
	int top_logprobs;          /* 0..TEXTREQ_MAX_TOP (chat); completions: logprobs 0..5 */
	const char *user;          /* the customer's end user, or NULL */
	bool stream, include_usage;
	bool echo;                 /* completions: refused (unsupported) */
};

/* Parse and check body. ERR_INVALID with e->field naming the parameter at
 * fault, ERR_UNSUPPORTED for a feature we refuse (tools, echo, best_of > n). */
int textreq_parse(const json_t *body, bool chat, struct textreq *out, struct errinfo *e);

/* Micro-credits for tokens at a price per 1K tokens, rounded up; saturates
 * at INT64_MAX / 2 instead of overflowing. */
int64_t textreq_cost(int64_t prompt_tokens, int64_t prompt_price, int64_t completion_tokens,
		     int64_t completion_price);

#endif
