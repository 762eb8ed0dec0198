/* embedded.c: lookup in the table tools/embed.c generates. Linear: the table
 * is small and looked up once per static request or once at start-up. */
#include "base/embedded.h"

#include <string.h>

const struct embedded_file *embedded_find(const char *path)
{
	for (const struct embedded_file *f = embedded_files; f->path; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}
