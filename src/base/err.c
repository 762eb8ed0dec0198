/*
 * err.c: names and messages for enum err. Kept as a table indexed by the
 * negated code so that a new code without a name fails the unit test.
 */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {
	[0] = "ok",
	[-ERR_NOMEM] = "out_of_memory",
	[-ERR_INVALID] = "invalid",
	[-ERR_NOTFOUND] = "not_found",
	[-ERR_EXISTS] = "exists",
	[-ERR_IO] = "io",
	[-ERR_DB] = "database",
	[-ERR_CRYPTO] = "crypto",
	[-ERR_AUTH] = "unauthenticated",
	[-ERR_FORBIDDEN] = "forbidden",
	[-ERR_TOOBIG] = "too_big",
	[-ERR_LIMIT] = "limit",
	[-ERR_UNSUPPORTED] = "unsupported",
	[-ERR_CORRUPT] = "corrupt",
	[-ERR_BUSY] = "busy",
	[-ERR_TIMEOUT] = "timeout",
	[-ERR_PAYMENT] = "payment_required",
	[-ERR_INTERNAL] = "internal",
};

const char *err_str(int code)
{
	if (code > 0 || code <= ERR__MIN)
		return "unknown";
	const char *n = names[-code];
	return n ? n : "unknown";
}

int err_set(struct errinfo *e, int code, const char *field, const char *fmt, ...)
{
	if (!e)
		return code;
	e->code = code;
	snprintf(e->field, sizeof e->field, "%s", field ? field : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return code;
}

void err_clear(struct errinfo *e)
{
	if (!e)
		return;
	e->code = ERR_OK;
	e->msg[0] = '\0';
	e->field[0] = '\0';
}
