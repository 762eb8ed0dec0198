/* datafile.c: see datafile.h. */
#include "base/datafile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool datafile_find(const char *env, const char *name, char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[l > 0 ? l : 0] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	const char *v = env ? getenv(env) : NULL;
	char cands[4][PATH_MAX + 64];
	int nc = 0;
	if (v && v[0])
		snprintf(cands[nc++], sizeof cands[0], "%s", v);
	snprintf(cands[nc++], sizeof cands[0], "models/%s", name);
	snprintf(cands[nc++], sizeof cands[0], "%s/../models/%s", exe, name);
	snprintf(cands[nc++], sizeof cands[0], "/usr/share/atelier/models/%s", name);
	for (int i = 0; i < nc; i++)
		if (access(cands[i], R_OK) == 0) {
			snprintf(out, n, "%s", cands[i]);
			return true;
		}
	return false;
}
