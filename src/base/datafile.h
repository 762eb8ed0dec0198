/*
 * datafile.h: finding the files that ship with Atelier (the default models).
 */
#ifndef ATELIER_BASE_DATAFILE_H
#define ATELIER_BASE_DATAFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The first readable of: $env (when set and not empty), models/NAME in the
 * working directory, ../models/NAME beside the running binary, and
 * /usr/share/atelier/models/NAME. Its path goes to out; false when none. */
bool datafile_find(const char *env, const char *name, char *out, size_t n);

#endif
