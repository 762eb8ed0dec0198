/*
 * arena.h: request-scoped memory (h2o's habit). Everything allocated from an
 * arena is freed at once by arena_free(); no individual free.
 */
#ifndef ATELIER_BASE_ARENA_H
#define ATELIER_BASE_ARENA_H

#include <stddef.h>

struct arena;

/* A new arena whose total allocations may not pass cap bytes (0: 64 MiB). */
struct arena *arena_new(size_t cap);

/* n bytes aligned to 16, zeroed; NULL when out of memory or past the cap. */
void *arena_alloc(struct arena *a, size_t n);

/* A copy of s (n bytes, then a NUL) in the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);

/* printf into the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Free every block. Accepts NULL. */
void arena_free(struct arena *a);

#endif
