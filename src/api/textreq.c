/*
 * textreq.c: checks for the text generation request bodies, one small
 * checker per parameter kind, so the tests can walk every parameter's
 * wrong types and out-of-range values. Unknown members are ignored, as
 * OpenAI does for fields newer than a client or server.
 */
#include "api/textreq.h"

#include <math.h>
#include <string.h>

static int bad(struct errinfo *e, const char *field, const char *what)
{
	return err_set(e, ERR_INVALID, field, "%s %s", field, what);
}

/* A number in [lo, hi], or absent/null (keeps *out). */
static int num(const json_t *b, const char *k, double lo, double hi, double *out, struct errinfo *e)
{
	const json_t *v = json_object_get(b, k);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return bad(e, k, "must be a number");
	double d = json_number_value(v);
	if (!isfinite(d) || d < lo || d > hi) {
		err_set(e, ERR_INVALID, k, "%s must be from %g to %g", k, lo, hi);
		return ERR_INVALID;
	}
	*out = d;
	return 0;
}

static int integer(const json_t *b, const char *k, int64_t lo, int64_t hi, int64_t *out, bool *present,
		   struct errinfo *e)
{
	const json_t *v = json_object_get(b, k);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return bad(e, k, "must be an integer");
	json_int_t x = json_integer_value(v);
	if (x < lo || x > hi) {
		err_set(e, ERR_INVALID, k, "%s must be from %lld to %lld", k, (long long)lo, (long long)hi);
		return ERR_INVALID;
	}
	*out = x;
	if (present)
		*present = true;
	return 0;
}

static int boolean(const json_t *b, const char *k, bool *out, struct errinfo *e)
{
	const json_t *v = json_object_get(b, k);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad(e, k, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int messages(const json_t *b, struct textreq *r, struct errinfo *e)
{
	const json_t *m = json_object_get(b, "messages");
	if (!m || !json_is_array(m))
		return bad(e, "messages", "must be an array of messages");
	size_t n = json_array_size(m);
	if (n == 0)
		return bad(e, "messages", "must not be empty");
	if (n > TEXTREQ_MAX_MESSAGES)
		return err_set(e, ERR_INVALID, "messages", "at most %d messages", TEXTREQ_MAX_MESSAGES);
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(m, i);
		const char *role = json_string_value(json_object_get(x, "role"));
		const json_t *c = json_object_get(x, "content");
		if (!json_is_object(x) || !role)
			return err_set(e, ERR_INVALID, "messages", "messages[%zu] needs a role", i);
		if (!strcmp(role, "developer"))
			role = "system";
		if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
			return err_set(e, ERR_INVALID, "messages",
				       "messages[%zu].role must be system, user or assistant", i);
		/* content: a string, or an array holding one text part */
		if (json_is_array(c) && json_array_size(c) == 1 &&
		    !strcmp(json_string_value(json_object_get(json_array_get(c, 0), "type")) ?: "", "text"))
			c = json_object_get(json_array_get(c, 0), "text");
		if (!json_is_string(c))
			return err_set(e, ERR_INVALID, "messages", "messages[%zu].content must be a string", i);
		if (strlen(json_string_value(c)) != json_string_length(c))
			return err_set(e, ERR_INVALID, "messages", "messages[%zu].content contains NUL", i);
		r->msgs[i] = (struct tmpl_msg){role, json_string_value(c)};
	}
	r->n_msgs = n;
	return 0;
}

int textreq_parse(const json_t *b, bool chat, struct textreq *r, struct errinfo *e)
{
	memset(r, 0, sizeof *r);
	r->chat = chat;
	r->temperature = 1;
	r->top_p = 1;
	r->n = 1;
	int rc;
	if (!json_is_object(b))
		return bad(e, "body", "must be a JSON object");
	r->model = json_string_value(json_object_get(b, "model"));
	if (!r->model || !r->model[0])
		return bad(e, "model", "is required (a string; GET /v1/models lists them)");
	if (chat) {
		if ((rc = messages(b, r, e)))
			return rc;
	} else {
		const json_t *p = json_object_get(b, "prompt");
		if (json_is_array(p) && json_array_size(p) == 1)
			p = json_array_get(p, 0);
		if (!json_is_string(p))
			return bad(e, "prompt", "must be a string");
		if (!json_string_length(p))
			return bad(e, "prompt", "must not be empty");
		if (strlen(json_string_value(p)) != json_string_length(p))
			return bad(e, "prompt", "contains NUL");
		r->prompt = json_string_value(p);
		bool echo = false;
		if ((rc = boolean(b, "echo", &echo, e)))
			return rc;
		if (echo)
			return err_set(e, ERR_UNSUPPORTED, "echo", "echo is not supported");
	}
	if ((rc = num(b, "temperature", 0, 2, &r->temperature, e)) || (rc = num(b, "top_p", 0, 1, &r->top_p, e)) ||
	    (rc = num(b, "presence_penalty", -2, 2, &r->presence_penalty, e)) ||
	    (rc = num(b, "frequency_penalty", -2, 2, &r->frequency_penalty, e)))
		return rc;
	if ((rc = integer(b, "max_tokens", 1, 1 << 24, &r->max_tokens, NULL, e)) ||
	    (rc = integer(b, "max_completion_tokens", 1, 1 << 24, &r->max_tokens, NULL, e)))
		return rc;
	int64_t n = 1;
	if ((rc = integer(b, "n", 1, TEXTREQ_MAX_N, &n, NULL, e)))
		return rc;
	r->n = (int)n;
	if ((rc = integer(b, "seed", INT64_MIN, INT64_MAX, &r->seed, &r->has_seed, e)))
		return rc;
	const json_t *stop = json_object_get(b, "stop");
	if (json_is_string(stop)) {
		if (!json_string_length(stop) || json_string_length(stop) > 256)
			return bad(e, "stop", "strings must be 1 to 256 bytes");
		r->stop[r->n_stop++] = json_string_value(stop);
	} else if (json_is_array(stop)) {
		if (json_array_size(stop) > TEXTREQ_MAX_STOP)
			return err_set(e, ERR_INVALID, "stop", "at most %d stop sequences", TEXTREQ_MAX_STOP);
		for (size_t i = 0; i < json_array_size(stop); i++) {
			const json_t *s = json_array_get(stop, i);
			if (!json_is_string(s) || !json_string_length(s) || json_string_length(s) > 256)
				return bad(e, "stop", "must hold strings of 1 to 256 bytes");
			r->stop[r->n_stop++] = json_string_value(s);
		}
	} else if (stop && !json_is_null(stop)) {
		return bad(e, "stop", "must be a string or an array of strings");
	}
	if (chat) {
		int64_t top = 0;
		if ((rc = boolean(b, "logprobs", &r->logprobs, e)) ||
		    (rc = integer(b, "top_logprobs", 0, TEXTREQ_MAX_TOP, &top, NULL, e)))
			return rc;
		if (top && !r->logprobs)
			return bad(e, "top_logprobs", "needs logprobs: true");
		r->top_logprobs = (int)top;
	} else {
		int64_t lp = -1;
		if ((rc = integer(b, "logprobs", 0, 5, &lp, NULL, e)))
			return rc;
		r->logprobs = lp >= 0;
		r->top_logprobs = lp > 0 ? (int)lp : 0;
	}
	const json_t *u = json_object_get(b, "user");
	if (u && !json_is_null(u)) {
		if (!json_is_string(u) || json_string_length(u) > TEXTREQ_MAX_USER)
			return err_set(e, ERR_INVALID, "user", "user must be a string of at most %d bytes",
				       TEXTREQ_MAX_USER);
		r->user = json_string_length(u) ? json_string_value(u) : NULL;
	}
	if ((rc = boolean(b, "stream", &r->stream, e)))
		return rc;
	const json_t *so = json_object_get(b, "stream_options");
	if (so && !json_is_null(so)) {
		if (!json_is_object(so))
			return bad(e, "stream_options", "must be an object");
		if (!r->stream)
			return bad(e, "stream_options", "is only allowed with stream: true");
		if ((rc = boolean(so, "include_usage", &r->include_usage, e)))
			return rc;
	}
	const json_t *tools = json_object_get(b, "tools");
	if (tools && !json_is_null(tools) && json_array_size(tools))
		return err_set(e, ERR_UNSUPPORTED, "tools", "tools are not supported by this model");
	return 0;
}

int64_t textreq_cost(int64_t pt, int64_t pp, int64_t ct, int64_t pc)
{
	__int128 v = (__int128)pt * pp + (__int128)ct * pc;
	v = (v + 999) / 1000;
	return v > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)v;
}
