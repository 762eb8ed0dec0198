/*
 * embedded.h: files compiled into the binary (web/ and store/migrations/)
 * by tools/embed.c. The table ends with a NULL path.
 */
#ifndef ATELIER_BASE_EMBEDDED_H
#define ATELIER_BASE_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path;          /* as in the source tree: "web/index.html" */
	const unsigned char *data; /* NUL-terminated for convenience; len excludes it */
	size_t len;
};

extern const struct embedded_file embedded_files[];

/* The file at path, or NULL. */
const struct embedded_file *embedded_find(const char *path);

#endif
