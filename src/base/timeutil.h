/* timeutil.h: clocks and time formats. */
#ifndef ATELIER_BASE_TIMEUTIL_H
#define ATELIER_BASE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch. */
int64_t time_now_ms(void);

/* Wall-clock seconds since the Unix epoch. */
int64_t time_now(void);

/* Monotonic nanoseconds, for measuring durations. */
uint64_t time_mono_ns(void);

/* "2026-11-23T10:54:24.123Z" into out (at least 25 bytes). */
void time_iso8601_ms(char *out, size_t n, int64_t ms);

/* "2026-11-23T10:54:24Z" into out (at least 21 bytes). */
void time_iso8601(char *out, size_t n, int64_t secs);

#endif
