/*
 * password.c: the common-password list as an open-addressing hash set, the
 * policy checks, and Argon2id behind a counting semaphore.
 *
 * The list is Debian's cracklib-small (cracklib-runtime): 54k words and
 * common passwords, lower-cased. We refuse a password whose lower-cased
 * form is on it. (We do not apply cracklib's mangling rules: NIST 800-63B
 * asks only for a list of values known to be commonly used or compromised,
 * and rules that refuse "Password1!" style variants of every word annoy more
 * than they protect once the hash is memory-hard.)
 */
#include "service/password.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "crypto/crypto.h"

#define WAIT_MS 2000 /* how long a hash waits for a slot before ERR_BUSY */

static struct {
	pthread_mutex_t mu;
	bool loaded;
	char **slots;    /* open addressing; NULL = empty */
	size_t nslots;   /* a power of two */
	size_t count;
	char *blob;      /* all entries, NUL-separated */
	bool sem_ok;
	sem_t sem;
	int64_t sem_size;
	unsigned long long ops;
	size_t mem;
	char dummy[PASSWORD_HASH_MAX];
} P = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Small fallback when the list file is missing: the most common passwords. */
static const char *const builtin[] = {
	"password", "12345678", "123456789", "1234567890", "qwertyuiop", "iloveyou", "password1",
	"11111111", "00000000", "abc12345", "sunshine", "princess", "football", "baseball",
	"welcome1", "trustno1", "passw0rd", "superman", "starwars", "letmein1", "qwerty123",
	"1q2w3e4r", "computer", "whatever", "dragon12", "michael1", "asdfghjk", "zaq12wsx",
};

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static void set_add(char *w)
{
	size_t n = strlen(w);
	size_t i = fnv(w, n) & (P.nslots - 1);
	while (P.slots[i]) {
		if (!strcmp(P.slots[i], w))
			return;
		i = (i + 1) & (P.nslots - 1);
	}
	P.slots[i] = w;
	P.count++;
}

static int load_list(const char *path)
{
	FILE *f = path && *path ? fopen(path, "r") : NULL;
	size_t size = 0;
	if (f) {
		fseek(f, 0, SEEK_END);
		long l = ftell(f);
		fseek(f, 0, SEEK_SET);
		size = l > 0 ? (size_t)l : 0;
	}
	if (size > (64u << 20)) { /* not a word list */
		fclose(f);
		f = NULL;
		size = 0;
	}
	size_t nb = sizeof builtin / sizeof builtin[0];
	size_t bsize = 0;
	for (size_t i = 0; i < nb; i++)
		bsize += strlen(builtin[i]) + 1;
	P.blob = malloc(size + bsize + 1);
	if (!P.blob) {
		if (f)
			fclose(f);
		return ERR_NOMEM;
	}
	size_t got = f ? fread(P.blob, 1, size, f) : 0;
	if (f)
		fclose(f);
	else
		log_warn("password.blocklist", "\"missing\":\"%s\",\"fallback\":%zu", log_str(path), nb);
	char *p = P.blob + got;
	for (size_t i = 0; i < nb; i++) {
		size_t l = strlen(builtin[i]);
		memcpy(p, builtin[i], l);
		p[l] = '\n';
		p += l + 1;
	}
	*p = '\0';
	size_t lines = 0;
	for (char *q = P.blob; q < p; q++)
		lines += *q == '\n';
	P.nslots = 1024;
	while (P.nslots < lines * 2 + 16)
		P.nslots <<= 1;
	P.slots = calloc(P.nslots, sizeof *P.slots);
	if (!P.slots)
		return ERR_NOMEM;
	char *line = P.blob;
	for (char *q = P.blob; q < p; q++) {
		if (*q != '\n')
			continue;
		*q = '\0';
		char *end = q;
		while (end > line && (end[-1] == '\r' || end[-1] == ' '))
			*--end = '\0';
		for (char *c = line; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (*line)
			set_add(line);
		line = q + 1;
	}
	return ERR_OK;
}

int password_init(const struct config *cfg, struct errinfo *e)
{
	int rc = ERR_OK;
	pthread_mutex_lock(&P.mu);
	if (!P.loaded) {
		if ((rc = load_list(cfg->auth.password_blocklist)) == ERR_OK)
			P.loaded = true;
	}
	P.ops = (unsigned long long)cfg->auth.argon2_opslimit;
	P.mem = (size_t)cfg->auth.argon2_memlimit;
	if (P.sem_ok && P.sem_size != cfg->auth.hash_concurrency) {
		sem_destroy(&P.sem);
		P.sem_ok = false;
	}
	if (!P.sem_ok) {
		sem_init(&P.sem, 0, (unsigned)cfg->auth.hash_concurrency);
		P.sem_size = cfg->auth.hash_concurrency;
		P.sem_ok = true;
	}
	/* the dummy hash for unknown accounts, with the current parameters */
	if (rc == ERR_OK) {
		char pw[32];
		crypto_random(pw, sizeof pw);
		if (crypto_pwhash_str(P.dummy, pw, sizeof pw, P.ops, P.mem) != 0)
			rc = err_set(e, ERR_NOMEM, "auth.argon2_memlimit",
				     "auth: cannot compute an Argon2id hash with these limits");
		crypto_wipe(pw, sizeof pw);
	}
	pthread_mutex_unlock(&P.mu);
	if (rc == ERR_NOMEM && e && !e->msg[0])
		err_set(e, rc, NULL, "auth: out of memory loading the password block list");
	return rc;
}

size_t password_blocklist_size(void)
{
	return P.count;
}

int password_is_common(const char *pw, size_t n)
{
	if (!P.slots || n == 0 || n > 256)
		return 0;
	char low[257];
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)pw[i]);
	low[n] = '\0';
	int found = 0;
	if (strlen(low) == n) { /* an embedded NUL is never on the list */
		size_t i = fnv(low, n) & (P.nslots - 1);
		while (P.slots[i]) {
			if (!strcmp(P.slots[i], low)) {
				found = 1;
				break;
			}
			i = (i + 1) & (P.nslots - 1);
		}
	}
	crypto_wipe(low, sizeof low);
	return found;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static int same_ci(const char *pw, size_t n, const char *s)
{
	return s && strlen(s) == n && strncasecmp(pw, s, n) == 0;
}

int password_check(const char *pw, size_t n, const char *username, const char *email,
		   struct errinfo *e)
{
	if (n > PASSWORD_MAX_BYTES)
		return err_set(e, ERR_UNSUPPORTED, "password",
			       "password is longer than %d bytes", PASSWORD_MAX_BYTES);
	if (utf8_chars(pw, n) < PASSWORD_MIN_CHARS)
		return err_set(e, ERR_UNSUPPORTED, "password",
			       "password must have at least %d characters", PASSWORD_MIN_CHARS);
	if (password_is_common(pw, n))
		return err_set(e, ERR_UNSUPPORTED, "password",
			       "this password is on a list of common passwords; choose another");
	if (same_ci(pw, n, username) || same_ci(pw, n, email))
		return err_set(e, ERR_UNSUPPORTED, "password",
			       "the password must not be your username or email");
	return ERR_OK;
}

static int slot_take(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	ts.tv_nsec += (WAIT_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(&P.sem, &ts) != 0) {
		if (errno == EINTR)
			continue;
		return ERR_BUSY;
	}
	return ERR_OK;
}

int password_hash(const char *pw, size_t n, char out[PASSWORD_HASH_MAX], struct errinfo *e)
{
	if (!P.sem_ok)
		return err_set(e, ERR_INTERNAL, NULL, "password_init was not called");
	if (slot_take())
		return err_set(e, ERR_BUSY, NULL, "the server is busy; retry in a moment");
	int r = crypto_pwhash_str(out, pw, n, P.ops, P.mem);
	sem_post(&P.sem);
	return r == 0 ? ERR_OK : err_set(e, ERR_NOMEM, NULL, "cannot hash the password now");
}

int password_verify(const char *hash, const char *pw, size_t n, int *rehash)
{
	*rehash = 0;
	if (!P.sem_ok)
		return ERR_INTERNAL;
	if (slot_take())
		return ERR_BUSY;
	int ok = crypto_pwhash_str_verify(hash ? hash : P.dummy, pw, n) == 0;
	sem_post(&P.sem);
	if (!hash)
		return ERR_AUTH;
	if (!ok)
		return ERR_AUTH;
	*rehash = crypto_pwhash_str_needs_rehash(hash, P.ops, P.mem) != 0;
	return ERR_OK;
}
