/*
 * arena.c: a chain of blocks; big requests get a block of their own.
 */
#include "base/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 8192

struct block {
	struct block *next;
	size_t used, size;
	_Alignas(16) unsigned char mem[];
};

struct arena {
	struct block *head;
	size_t total, cap;
};

struct arena *arena_new(size_t cap)
{
	struct arena *a = calloc(1, sizeof *a);
	if (a)
		a->cap = cap ? cap : (size_t)64 << 20;
	return a;
}

void *arena_alloc(struct arena *a, size_t n)
{
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + 15) & ~(size_t)15;
	if (!n)
		n = 16;
	struct block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t sz = n > BLOCK ? n : BLOCK;
		if (a->total + sz > a->cap)
			return NULL;
		b = malloc(sizeof *b + sz);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = sz;
		a->total += sz;
		if (a->head && n > BLOCK) {
			/* keep the partly used head in front for small allocations */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->mem + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	struct block *b = a->head;
	while (b) {
		struct block *n = b->next;
		free(b);
		b = n;
	}
	free(a);
}
