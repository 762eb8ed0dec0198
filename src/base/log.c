/*
 * log.c: JSON lines on stderr. Each line is built in a local buffer and
 * written with one write(2) so lines from threads never interleave.
 */
#include "base/log.h"
#include "base/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *const names[LOG__MAX] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < LOG__MAX; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const char *log_str(const char *s)
{
	static _Thread_local char bufs[4][256];
	static _Thread_local int next;
	char *out = bufs[next++ & 3];
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o < 200; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(out + o, 8, "\\u%04x", *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return out;
}

void log_event(enum log_level lvl, const char *event, const char *fields, ...)
{
	if (lvl < min_level || lvl >= LOG__MAX)
		return;
	char line[2048];
	char ts[40];
	time_iso8601_ms(ts, sizeof ts, time_now_ms());
	int n = snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"%s\"", ts,
			 names[lvl], event);
	if (fields && *fields && n > 0 && (size_t)n < sizeof line - 2) {
		line[n++] = ',';
		va_list ap;
		va_start(ap, fields);
		int m = vsnprintf(line + n, sizeof line - (size_t)n, fields, ap);
		va_end(ap);
		if (m > 0)
			n += m;
	}
	if (n < 0 || (size_t)n > sizeof line - 3)
		n = sizeof line - 3; /* truncated: still close the object */
	line[n++] = '}';
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
