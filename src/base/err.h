/*
 * err.h: the one return-code type of the whole project.
 *
 * Every function that can fail returns 0 (ERR_OK) or a negative enum err and,
 * where the caller needs more than the code, fills a struct errinfo with a
 * human-readable message. Only api/ turns these codes into HTTP statuses
 * (api_status_for()), so the meaning of each code is stated here once.
 */
#ifndef ATELIER_BASE_ERR_H
#define ATELIER_BASE_ERR_H

#include <stddef.h>

enum err {
	ERR_OK = 0,
	ERR_NOMEM = -1,        /* allocation failed */
	ERR_INVALID = -2,      /* bad input: the message says which field */
	ERR_NOTFOUND = -3,     /* no such thing (or not visible to the caller) */
	ERR_EXISTS = -4,       /* conflicts with something already there */
	ERR_IO = -5,           /* a file or socket operation failed */
	ERR_DB = -6,           /* the database failed */
	ERR_CRYPTO = -7,       /* a cryptographic check failed (bad tag, bad signature) */
	ERR_AUTH = -8,         /* caller is not authenticated */
	ERR_FORBIDDEN = -9,    /* caller is authenticated but not allowed */
	ERR_TOOBIG = -10,      /* input over a configured limit */
	ERR_LIMIT = -11,       /* rate or quota limit reached */
	ERR_UNSUPPORTED = -12, /* a valid request for something we do not do */
	ERR_CORRUPT = -13,     /* stored or supplied data is malformed */
	ERR_BUSY = -14,        /* temporarily unavailable; retry later */
	ERR_TIMEOUT = -15,     /* took longer than allowed */
	ERR_PAYMENT = -16,     /* not enough credit */
	ERR_INTERNAL = -17,    /* the programmer's bug, caught */
	ERR__MIN = -18
};

/* A message for the person who made the request or runs the server.
 * Never holds secrets, content or personal data. */
struct errinfo {
	enum err code;
	char msg[256];
	char field[64]; /* the input field at fault, or "" */
};

/* Short constant name of a code ("invalid", "not_found"…). Never NULL. */
const char *err_str(int code);

/* Fill e (may be NULL) and return code, so callers can write
 * `return err_set(e, ERR_INVALID, "name", "must be 1..64 characters");`.
 * field may be NULL. */
int err_set(struct errinfo *e, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reset e to ERR_OK with empty message. */
void err_clear(struct errinfo *e);

#endif
