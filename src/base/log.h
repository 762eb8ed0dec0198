/*
 * log.h: one JSON line per event on stderr.
 *
 * Fields are written by the caller as JSON members (`"status":200`) so a log
 * line holds only what the call site chose to put there. The rule, stated
 * once: never a password, token, key, prompt, email, image or other content;
 * IP addresses only where security needs them (DESIGN "Logs", USE-3).
 */
#ifndef ATELIER_BASE_LOG_H
#define ATELIER_BASE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG__MAX };

/* Lines below this level are dropped. Default LOG_INFO. */
void log_set_level(enum log_level lvl);

/* Parse "debug", "info", "warn", "error"; -1 if none. */
int log_level_parse(const char *s);

/* Write {"time":…,"level":…,"event":event,<fields>}. fields is a printf
 * format producing zero or more comma-separated JSON members, or NULL.
 * Strings from outside must go through log_str() first. */
void log_event(enum log_level lvl, const char *event, const char *fields, ...)
	__attribute__((format(printf, 3, 4)));

/* Escape s for use inside a JSON string in a log line; returns a pointer to a
 * thread-local buffer (one of 4, reused in turn), truncated at 200 bytes. */
const char *log_str(const char *s);

#define log_info(ev, ...) log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)

#endif
