/*
 * backup.c: `atelier backup` and `atelier restore` (see backup.h for the
 * design). File formats:
 *
 *   backup:  "ATELIER-BACKUP1\n" + crypto_seal(K_backup, "atelier-backup-v1", sqlite file)
 *   escrow:  "ATELIER-ESCROW1\n" + crypto_seal(K_escrow, "atelier-escrow-v1",
 *            {"keys":{owner: hex escrow key}, "erased":[owner…]})
 *
 * K_backup and K_escrow are keyed BLAKE2b (the blind-index PRF) of fixed
 * labels under the master key: without the master key neither opens.
 * Inside a backup, owner_keys.wrapped = crypto_seal(escrow[owner],
 * "escrow\x1f<owner>", the master-wrapped key).
 */
#include "service/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "store/backup.h"
#include "store/privacy.h"
#include "store/store.h"

static const char backup_magic[] = "ATELIER-BACKUP1\n";
static const char escrow_magic[] = "ATELIER-ESCROW1\n";
static pthread_mutex_t escrow_mu = PTHREAD_MUTEX_INITIALIZER;

static void derive(const struct crypto_keys *k, const char *label, unsigned char out[CRYPTO_KEY_BYTES])
{
	char hex[CRYPTO_HASH_HEX];
	crypto_blind_index(k, hex, label, strlen(label));
	for (int i = 0; i < CRYPTO_KEY_BYTES; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
	crypto_wipe(hex, sizeof hex);
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	if (!s || strlen(s) != 2 * n)
		return ERR_CORRUPT;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return ERR_CORRUPT;
		out[i] = (unsigned char)v;
	}
	return ERR_OK;
}

static int slurp(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	char tmp[65536];
	size_t r;
	int rc = ERR_OK;
	while (rc == ERR_OK && (r = fread(tmp, 1, sizeof tmp, f)) > 0)
		rc = buf_append(out, tmp, r);
	if (ferror(f))
		rc = ERR_IO;
	fclose(f);
	return rc;
}

/* Overwrite the old file in place, then put the new one in its place. */
static int replace_file(const char *path, const void *p, size_t n)
{
	char tmp[CONFIG_STR + 64];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR_IO;
	const char *c = p;
	for (size_t left = n; left;) {
		ssize_t w = write(fd, c, left);
		if (w <= 0 && errno != EINTR) {
			close(fd);
			unlink(tmp);
			return ERR_IO;
		}
		if (w > 0) {
			c += w;
			left -= (size_t)w;
		}
	}
	if (fsync(fd) || close(fd)) {
		unlink(tmp);
		return ERR_IO;
	}
	int old = open(path, O_WRONLY | O_CLOEXEC);
	if (old >= 0) {
		struct stat st;
		if (fstat(old, &st) == 0) {
			static const char zeros[4096];
			for (off_t off = 0; off < st.st_size; off += (off_t)sizeof zeros)
				if (write(old, zeros, sizeof zeros) < 0)
					break;
			fsync(old);
		}
		close(old);
	}
	return rename(tmp, path) ? ERR_IO : ERR_OK;
}

static void escrow_default(const struct config *cfg, const char *given, char *out, size_t n)
{
	if (given)
		snprintf(out, n, "%s", given);
	else
		snprintf(out, n, "%s/backup-escrow", cfg->server.data_dir);
}

/* Load the escrow file: ERR_NOTFOUND when absent. */
static int escrow_load(const struct crypto_keys *k, const char *path, json_t **out)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = slurp(path, &b);
	size_t ml = sizeof escrow_magic - 1;
	if (rc == ERR_OK && (b.len < ml + CRYPTO_SEAL_OVERHEAD || memcmp(b.data, escrow_magic, ml)))
		rc = ERR_CORRUPT;
	if (rc == ERR_OK) {
		unsigned char key[CRYPTO_KEY_BYTES];
		derive(k, "atelier/escrow-file/v1", key);
		size_t n = b.len - ml - CRYPTO_SEAL_OVERHEAD, got;
		char *pt = malloc(n + 1);
		rc = pt ? crypto_open(key, "atelier-escrow-v1", (unsigned char *)b.data + ml, b.len - ml,
				      (unsigned char *)pt, &got)
			: ERR_NOMEM;
		crypto_wipe(key, sizeof key);
		if (rc == ERR_OK) {
			*out = json_loadb(pt, got, 0, NULL);
			if (!*out || !json_is_object(json_object_get(*out, "keys")) ||
			    !json_is_array(json_object_get(*out, "erased"))) {
				json_decref(*out);
				*out = NULL;
				rc = ERR_CORRUPT;
			}
			crypto_wipe(pt, got);
		}
		free(pt);
	}
	buf_free(&b);
	return rc;
}

static int escrow_save(const struct crypto_keys *k, const char *path, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		return ERR_NOMEM;
	size_t n = strlen(s), ml = sizeof escrow_magic - 1, got;
	unsigned char *out = malloc(ml + n + CRYPTO_SEAL_OVERHEAD);
	int rc = out ? ERR_OK : ERR_NOMEM;
	if (rc == ERR_OK) {
		unsigned char key[CRYPTO_KEY_BYTES];
		derive(k, "atelier/escrow-file/v1", key);
		memcpy(out, escrow_magic, ml);
		rc = crypto_seal(key, "atelier-escrow-v1", s, n, out + ml, &got);
		crypto_wipe(key, sizeof key);
		if (rc == ERR_OK)
			rc = replace_file(path, out, ml + got);
	}
	crypto_wipe(s, n);
	free(s);
	free(out);
	return rc;
}

/* Serialize escrow rewrites within this process and across processes. */
static int escrow_lock(const char *path)
{
	char lk[CONFIG_STR + 64];
	snprintf(lk, sizeof lk, "%s.lock", path);
	pthread_mutex_lock(&escrow_mu);
	int fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	return fd;
}

static void escrow_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&escrow_mu);
}

static void add_erased(void *arg, const char *owner)
{
	json_t *arr = arg;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(v), owner))
			return;
	json_array_append_new(arr, json_string(owner));
}

struct live {
	json_t *set;
};

static int live_owner(void *arg, const char *owner, const void *w, size_t n)
{
	json_object_set_new(((struct live *)arg)->set, owner, json_true());
	return ERR_OK;
}

/* Drop escrow keys of owners absent from keep (an object used as a set) and
 * of every erased owner; record the live erasure journal. */
static int escrow_prune(struct db *live, json_t *doc, json_t *keep)
{
	json_t *keys = json_object_get(doc, "keys"), *erased = json_object_get(doc, "erased");
	struct db_conn *c = db_get(live);
	int rc = store_erasure_each(c, add_erased, erased);
	db_put(c);
	if (rc)
		return rc;
	const char *owner;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(keys, tmp, owner, v) {
		if (!json_object_get(keep, owner))
			json_object_del(keys, owner);
	}
	size_t i;
	json_array_foreach(erased, i, v)
		json_object_del(keys, json_string_value(v));
	return ERR_OK;
}

int backup_escrow_sync(struct app *app)
{
	char path[CONFIG_STR + 32];
	escrow_default(app->cfg, NULL, path, sizeof path);
	if (access(path, F_OK))
		return ERR_OK;
	int fd = escrow_lock(path);
	json_t *doc = NULL;
	struct live l = {json_object()};
	int rc = escrow_load(app->keys, path, &doc);
	if (rc == ERR_OK) {
		struct db_conn *c = db_get(app->db);
		rc = store_owner_keys_each(c, live_owner, &l);
		db_put(c);
	}
	if (rc == ERR_OK && (rc = escrow_prune(app->db, doc, l.set)) == ERR_OK)
		rc = escrow_save(app->keys, path, doc);
	escrow_unlock(fd);
	json_decref(doc);
	json_decref(l.set);
	if (rc)
		log_error("backup.escrow_sync", "\"error\":\"%s\"", err_str(rc));
	return rc;
}

/* --- backup -------------------------------------------------------------------------- */

static void db_path(const struct config *cfg, char *out, size_t n)
{
	if (cfg->database.path[0])
		snprintf(out, n, "%s", cfg->database.path);
	else
		snprintf(out, n, "%s/atelier.db", cfg->server.data_dir);
}

struct krow {
	char owner[128];
	unsigned char wrapped[CRYPTO_WRAPPED_BYTES + CRYPTO_SEAL_OVERHEAD];
	size_t n;
};

struct krows {
	struct krow *v;
	size_t n, cap;
};

static int collect_key(void *arg, const char *owner, const void *w, size_t n)
{
	struct krows *k = arg;
	if (strlen(owner) >= sizeof k->v[0].owner || n > sizeof k->v[0].wrapped)
		return ERR_CORRUPT;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		void *p = realloc(k->v, cap * sizeof *k->v);
		if (!p)
			return ERR_NOMEM;
		k->v = p;
		k->cap = cap;
	}
	struct krow *r = &k->v[k->n++];
	snprintf(r->owner, sizeof r->owner, "%s", owner);
	memcpy(r->wrapped, w, n);
	r->n = n;
	return ERR_OK;
}

static int open_copy(const char *path, struct db **out, struct errinfo *e)
{
	struct db_options o = {.backend = "sqlite", .path = path, .pool = 1, .busy_timeout_ms = 5000};
	return db_open(out, &o, e);
}

int backup_create(struct app *app, const char *out, const char *escrow_in, struct backup_stats *st,
		  struct errinfo *e)
{
	char src[CONFIG_STR + 32], tmp[CONFIG_STR + 64], escrow[CONFIG_STR + 32];
	db_path(app->cfg, src, sizeof src);
	snprintf(tmp, sizeof tmp, "%s/.backup-%d.db", app->data_dir, (int)getpid());
	escrow_default(app->cfg, escrow_in, escrow, sizeof escrow);
	memset(st, 0, sizeof *st);
	unlink(tmp);
	json_t *doc = NULL, *keep = json_object();
	struct krows keys = {0};
	struct db *copy = NULL;
	struct buf file, sealed;
	buf_init(&file, 0);
	buf_init(&sealed, 0);
	int fd = escrow_lock(escrow);
	int rc = escrow_load(app->keys, escrow, &doc);
	if (rc == ERR_NOTFOUND) {
		doc = json_pack("{s:{}, s:[]}", "keys", "erased");
		rc = ERR_OK;
	} else if (rc) {
		err_set(e, rc, NULL, "cannot read the escrow file %s (%s)", escrow, err_str(rc));
		goto out;
	}
	if ((rc = store_backup_file(src, tmp))) {
		err_set(e, rc, NULL, "cannot copy the database");
		goto out;
	}
	chmod(tmp, 0600);
	if ((rc = open_copy(tmp, &copy, e)))
		goto out;
	struct db_conn *c = db_get(copy);
	/* queued mail stays out of backups (transient; never sent twice) */
	int64_t dropped;
	if ((rc = db_begin(c)) == ERR_OK)
		rc = store_retention_delete(c, "mail_outbox", INT64_MAX, &dropped);
	if (rc == ERR_OK)
		rc = store_owner_keys_each(c, collect_key, &keys);
	json_t *ek = json_object_get(doc, "keys");
	for (size_t i = 0; rc == ERR_OK && i < keys.n; i++) {
		struct krow *r = &keys.v[i];
		unsigned char k[CRYPTO_KEY_BYTES];
		json_t *h = json_object_get(ek, r->owner);
		if (!h || unhex(json_string_value(h), k, sizeof k)) {
			char hex[2 * CRYPTO_KEY_BYTES + 1];
			crypto_random(k, sizeof k);
			crypto_hex(hex, k, sizeof k);
			json_object_set_new(ek, r->owner, json_string(hex));
			crypto_wipe(hex, sizeof hex);
		}
		json_object_set_new(keep, r->owner, json_true());
		char aad[160];
		snprintf(aad, sizeof aad, "escrow\x1f%s", r->owner);
		unsigned char sealedk[sizeof r->wrapped + CRYPTO_SEAL_OVERHEAD];
		size_t got;
		if ((rc = crypto_seal(k, aad, r->wrapped, r->n, sealedk, &got)) == ERR_OK)
			rc = store_owner_key_replace(c, r->owner, sealedk, got);
		crypto_wipe(k, sizeof k);
		st->owners++;
	}
	if (rc == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	if (rc == ERR_OK)
		rc = store_compact(c);
	db_put(c);
	db_close(copy);
	copy = NULL;
	if (rc) {
		err_set(e, rc, NULL, "cannot prepare the copy (%s)", err_str(rc));
		goto out;
	}
	/* escrow keys of owners still alive (here or in this backup), none of
	 * anyone erased; written before the backup exists */
	struct live l = {keep};
	c = db_get(app->db);
	rc = store_owner_keys_each(c, live_owner, &l);
	db_put(c);
	if (rc == ERR_OK && (rc = escrow_prune(app->db, doc, keep)) == ERR_OK)
		rc = escrow_save(app->keys, escrow, doc);
	if (rc) {
		err_set(e, rc, NULL, "cannot write the escrow file %s", escrow);
		goto out;
	}
	if ((rc = slurp(tmp, &file)))
		goto out;
	unsigned char key[CRYPTO_KEY_BYTES];
	derive(app->keys, "atelier/backup-file/v1", key);
	size_t ml = sizeof backup_magic - 1, got;
	char *dst;
	if ((rc = buf_extend(&sealed, ml + file.len + CRYPTO_SEAL_OVERHEAD, &dst)) == ERR_OK) {
		memcpy(dst, backup_magic, ml);
		rc = crypto_seal(key, "atelier-backup-v1", file.data, file.len, (unsigned char *)dst + ml, &got);
		sealed.len = ml + got;
	}
	crypto_wipe(key, sizeof key);
	if (rc == ERR_OK)
		rc = replace_file(out, sealed.data, sealed.len);
	if (rc)
		err_set(e, rc, NULL, "cannot write %s", out);
	st->bytes = (int64_t)sealed.len;
out:
	escrow_unlock(fd);
	if (copy)
		db_close(copy);
	if (file.data)
		crypto_wipe(file.data, file.len);
	buf_free(&file);
	buf_free(&sealed);
	unlink(tmp);
	free(keys.v);
	json_decref(doc);
	json_decref(keep);
	return rc;
}

/* --- restore ------------------------------------------------------------------------- */

int backup_restore(struct config *cfg, const char *in, const char *escrow_in, bool force,
		   struct backup_stats *st, struct errinfo *e)
{
	char dbp[CONFIG_STR + 32], tmp[CONFIG_STR + 64], escrow[CONFIG_STR + 32], kpath[CONFIG_STR + 32];
	db_path(cfg, dbp, sizeof dbp);
	snprintf(tmp, sizeof tmp, "%s.restoring", dbp);
	escrow_default(cfg, escrow_in, escrow, sizeof escrow);
	if (cfg->crypto.master_key_file[0])
		snprintf(kpath, sizeof kpath, "%s", cfg->crypto.master_key_file);
	else
		snprintf(kpath, sizeof kpath, "%s/master.key", cfg->server.data_dir);
	memset(st, 0, sizeof *st);
	if (!force && access(dbp, F_OK) == 0)
		return err_set(e, ERR_EXISTS, NULL, "%s exists; stop the server and pass --force to replace it", dbp);
	if (access(kpath, R_OK))
		return err_set(e, ERR_NOTFOUND, NULL, "the master key %s is needed to open a backup", kpath);
	struct crypto_keys *keys = NULL;
	json_t *doc = NULL;
	struct db *db = NULL;
	struct krows kr = {0};
	struct buf b;
	buf_init(&b, 0);
	unsigned char *pt = NULL;
	size_t ptn = 0;
	int rc = crypto_keys_load(&keys, kpath, e);
	if (rc)
		goto out;
	if ((rc = escrow_load(keys, escrow, &doc))) {
		err_set(e, rc, NULL, "the escrow file %s is needed to restore (%s)", escrow, err_str(rc));
		goto out;
	}
	if ((rc = slurp(in, &b))) {
		err_set(e, rc, NULL, "cannot read %s", in);
		goto out;
	}
	size_t ml = sizeof backup_magic - 1;
	if (b.len < ml + CRYPTO_SEAL_OVERHEAD || memcmp(b.data, backup_magic, ml)) {
		rc = err_set(e, ERR_CORRUPT, NULL, "%s is not an Atelier backup", in);
		goto out;
	}
	unsigned char key[CRYPTO_KEY_BYTES];
	derive(keys, "atelier/backup-file/v1", key);
	pt = malloc(b.len);
	rc = pt ? crypto_open(key, "atelier-backup-v1", (unsigned char *)b.data + ml, b.len - ml, pt, &ptn) : ERR_NOMEM;
	crypto_wipe(key, sizeof key);
	if (rc) {
		err_set(e, rc, NULL, "%s does not open with this master key (or was altered)", in);
		goto out;
	}
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, pt, ptn) != (ssize_t)ptn || fsync(fd)) {
		if (fd >= 0)
			close(fd);
		rc = err_set(e, ERR_IO, NULL, "cannot write %s", tmp);
		goto out;
	}
	close(fd);
	if ((rc = open_copy(tmp, &db, e)))
		goto out;
	struct db_conn *c = db_get(db);
	json_t *ek = json_object_get(doc, "keys"), *erased = json_object_get(doc, "erased");
	if ((rc = db_begin(c)) == ERR_OK)
		rc = store_owner_keys_each(c, collect_key, &kr);
	for (size_t i = 0; rc == ERR_OK && i < kr.n; i++) {
		struct krow *r = &kr.v[i];
		unsigned char k[CRYPTO_KEY_BYTES], wrapped[sizeof r->wrapped];
		size_t got = 0;
		char aad[160];
		snprintf(aad, sizeof aad, "escrow\x1f%s", r->owner);
		json_t *h = json_object_get(ek, r->owner);
		int ok = h && unhex(json_string_value(h), k, sizeof k) == ERR_OK &&
			 crypto_open(k, aad, r->wrapped, r->n, wrapped, &got) == ERR_OK;
		crypto_wipe(k, sizeof k);
		if (ok) {
			rc = store_owner_key_replace(c, r->owner, wrapped, got);
			st->owners++;
		} else {
			/* no escrow key: the owner was erased after this backup */
			rc = store_owner_key_delete(c, r->owner, NULL);
			st->unreadable++;
		}
		crypto_wipe(wrapped, sizeof wrapped);
	}
	/* the journal: erase again everyone erased since (rows, not just keys) */
	size_t nt, i;
	json_t *v;
	const struct store_privacy_table *tabs = store_privacy_tables(&nt);
	json_array_foreach(erased, i, v) {
		const char *owner = json_string_value(v);
		if (rc || !owner)
			break;
		char pseudo[40];
		unsigned char r[12];
		crypto_random(r, sizeof r);
		memcpy(pseudo, "pn_", 3);
		crypto_hex(pseudo + 3, r, sizeof r);
		int64_t total = 0;
		for (size_t t = 0; rc == ERR_OK && t < nt; t++) {
			int64_t n = 0;
			rc = store_privacy_erase(c, &tabs[t], owner, pseudo, time_now(), &n);
			total += n;
		}
		if (rc == ERR_OK)
			rc = store_erasure_add(c, owner, time_now(), "restore");
		if (total)
			st->erased++;
	}
	if (rc == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	if (rc == ERR_OK)
		rc = store_compact(c);
	db_put(c);
	db_close(db);
	db = NULL;
	if (rc) {
		err_set(e, rc, NULL, "cannot apply the escrow to the restored database (%s)", err_str(rc));
		goto out;
	}
	char side[CONFIG_STR + 48];
	snprintf(side, sizeof side, "%s-wal", dbp);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", dbp);
	unlink(side);
	snprintf(side, sizeof side, "%s-wal", tmp);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", tmp);
	unlink(side);
	if (rename(tmp, dbp))
		rc = err_set(e, ERR_IO, NULL, "cannot move the restored database into place");
out:
	if (db)
		db_close(db);
	if (rc)
		unlink(tmp);
	if (pt) {
		crypto_wipe(pt, ptn);
		free(pt);
	}
	buf_free(&b);
	free(kr.v);
	json_decref(doc);
	crypto_keys_free(keys);
	return rc;
}
