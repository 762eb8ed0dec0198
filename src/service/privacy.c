/*
 * privacy.c: access, portability and erasure (PRIV-1, PRIV-2, PRIV-4,
 * PRIV-5, PAY-4), and the export worker. The other rights are in
 * privacy_rights.c.
 *
 * Both export and erasure walk the one list of owner-scoped tables in
 * store/privacy.c, so a new table is one row there and both follow.
 *
 * Export files are sealed under the user's own key (vault purpose
 * "export:<id>") rather than a key per export: erasing the user then makes
 * every copy unreadable with nothing else to remember, and a download needs
 * no second secret. The file is written to DATA_DIR/exports/ only sealed;
 * the ZIP exists in clear only in memory.
 *
 * Erasure is one transaction: rows deleted (secure_delete overwrites them in
 * the file), billing records pseudonymized, queued mail to the user dropped,
 * the user's key destroyed, the erasure journaled. After the commit the WAL
 * is checkpointed and truncated (db_scrub) so no page image of the deleted
 * rows stays in it, and the backup escrow is rewritten without the user's
 * escrow key (service/backup.c), so old backups cannot open their content
 * either. The receipt may be mailed to the address being erased: that one
 * message is queued in the same transaction, sealed under a key of its own,
 * and it and its key are deleted once it is delivered (or after [retention]
 * mail_outbox): the only place the address lives on, for minutes.
 */
#include "service/privacy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "service/accounts_int.h"
#include "service/backup.h"
#include "service/imagejobs.h"
#include "service/mail.h"
#include "service/password.h"
#include "service/receipt.h"
#include "service/textmodels.h"
#include "service/vault.h"
#include "store/store.h"

#define EXPORT_MAX (1024u * 1024 * 1024) /* a ZIP larger than 1 GiB is refused */

/* --- helpers -------------------------------------------------------------------- */

static void export_path(const struct app *app, const char *id, char *out, size_t n)
{
	snprintf(out, n, "%s/exports/%s.sealed", app->data_dir, id);
}

static int read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	int rc = ERR_OK;
	char tmp[65536];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = ERR_IO;
			break;
		}
		if (r == 0)
			break;
		if ((rc = buf_append(out, tmp, (size_t)r)))
			break;
	}
	close(fd);
	return rc;
}

/* Write atomically: a temporary file, fsync, rename. Mode 0600. */
static int write_file(const char *path, const void *p, size_t n)
{
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR_IO;
	const char *c = p;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, c, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			return ERR_IO;
		}
		c += w;
		left -= (size_t)w;
	}
	if (fsync(fd) || close(fd) || rename(tmp, path)) {
		unlink(tmp);
		return ERR_IO;
	}
	return ERR_OK;
}

/* The user's email, opened; *present 0 when the row has none. */
static int user_email(struct app *app, struct db_conn *c, const char *uid, struct buf *out)
{
	int present = 0;
	int rc = acct_open_field(app, c, uid, USER_EMAIL, out, &present);
	if (rc == ERR_OK && !present)
		rc = ERR_NOTFOUND;
	return rc;
}

static void wipe_buf(struct buf *b)
{
	if (b->data)
		crypto_wipe(b->data, b->len);
	buf_free(b);
}

/* --- queued mail to the user (the outbox has no owner column) ----------------------- */

struct ids {
	char (*v)[40];
	size_t n, cap;
};

static void add_id(void *arg, const char *id)
{
	struct ids *x = arg;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		void *p = realloc(x->v, cap * sizeof *x->v);
		if (!p)
			return;
		x->v = p;
		x->cap = cap;
	}
	snprintf(x->v[x->n++], 40, "%s", id);
}

/* Visit each queued message addressed to email: fn(id, subject, body, m). */
static int mail_to(struct app *app, struct db_conn *c, const char *email,
		   int (*fn)(void *arg, struct db_conn *c, const char *id, const struct store_mail *m,
			     const char *subject, const char *body),
		   void *arg)
{
	struct ids ids = {0};
	int rc = store_mail_ids(c, add_id, &ids);
	for (size_t i = 0; rc == ERR_OK && i < ids.n; i++) {
		struct store_mail m = {0};
		buf_init(&m.rcpt, 0);
		buf_init(&m.subject, 0);
		buf_init(&m.body, 0);
		struct buf to, subj, body;
		buf_init(&to, 0);
		buf_init(&subj, 0);
		buf_init(&body, 0);
		char owner[48];
		snprintf(owner, sizeof owner, "mail:%s", ids.v[i]);
		int r = store_mail_get(c, ids.v[i], &m);
		if (r == ERR_OK)
			r = vault_open(c, app->keys, owner, "mail.rcpt", m.rcpt.data, m.rcpt.len, &to);
		if (r == ERR_OK && to.len == strlen(email) && !memcmp(to.data, email, to.len)) {
			if ((r = vault_open(c, app->keys, owner, "mail.subject", m.subject.data, m.subject.len, &subj)) == ERR_OK &&
			    (r = vault_open(c, app->keys, owner, "mail.body", m.body.data, m.body.len, &body)) == ERR_OK)
				rc = fn(arg, c, ids.v[i], &m, subj.data ? subj.data : "", body.data ? body.data : "");
		} else if (r != ERR_OK && r != ERR_NOTFOUND && r != ERR_CRYPTO) {
			rc = r;
		}
		wipe_buf(&to);
		wipe_buf(&subj);
		wipe_buf(&body);
		buf_free(&m.rcpt);
		buf_free(&m.subject);
		buf_free(&m.body);
	}
	free(ids.v);
	return rc;
}

/* --- export ------------------------------------------------------------------------ */

struct zfile {
	char path[96];
	char *data;    /* malloc'd; freed after zip_close */
	size_t len;
};

struct xb {
	struct app *app;
	struct db_conn *c;
	const char *owner;
	json_t *rows;
	const struct store_privacy_table *t;
};

/* "profile.name" → "name", "objection.note" → "note", "email_change" → "new_email" */
static const char *sealed_key(const char *purpose)
{
	if (!strcmp(purpose, "email_change"))
		return "new_email";
	const char *dot = strchr(purpose, '.');
	return dot ? dot + 1 : purpose;
}

static int export_row(void *arg, const char *json, const void *const *sealed, const size_t *len,
		      int nsealed)
{
	struct xb *x = arg;
	json_t *o = json_loads(json ? json : "{}", 0, NULL);
	if (!o)
		return ERR_CORRUPT;
	for (int i = 0; i < nsealed; i++) {
		const char *k = sealed_key(x->t->sealed[i]);
		if (!sealed[i]) {
			json_object_set_new(o, k, json_null());
			continue;
		}
		struct buf pt;
		buf_init(&pt, 0);
		int rc = vault_open(x->c, x->app->keys, x->owner, x->t->sealed[i], sealed[i], len[i], &pt);
		if (rc == ERR_OK)
			json_object_set_new(o, k, json_stringn(pt.data ? pt.data : "", pt.len));
		else
			json_object_set_new(o, k, json_string("(unreadable: key destroyed or data damaged)"));
		wipe_buf(&pt);
	}
	json_array_append_new(x->rows, o);
	return ERR_OK;
}

static int pending_mail(void *arg, struct db_conn *c, const char *id, const struct store_mail *m,
			const char *subject, const char *body)
{
	json_t *arr = arg;
	json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o}", "kind", m->kind, "subject", subject, "body",
					     body, "queued_at", json_integer(m->created_at)));
	return ERR_OK;
}

static const char readme_head[] =
	"Your data from Atelier\n"
	"======================\n\n"
	"This archive holds a copy of every personal datum this server keeps about your\n"
	"account, in JSON (UTF-8), one file per category. Times are Unix seconds (UTC).\n"
	"Sealed fields (email, profile, notes) were opened for you; they are stored\n"
	"encrypted under a key of your own.\n\n"
	"manifest.json   the format version, every file with its row count and SHA-256\n"
	"mail_pending.json  messages to you that are queued and not yet delivered\n";

static int add_file(struct zfile *f, size_t *nf, size_t max, const char *path, char *data, size_t len)
{
	if (*nf == max) {
		free(data);
		return ERR_INTERNAL;
	}
	struct zfile *z = &f[(*nf)++];
	snprintf(z->path, sizeof z->path, "%s", path);
	z->data = data;
	z->len = len;
	return ERR_OK;
}

int privacy_export_build(struct app *app, const char *user_id, struct buf *zip, json_t **manifest_out)
{
	size_t nt;
	const struct store_privacy_table *tabs = store_privacy_tables(&nt);
	struct zfile files[64], *pics = NULL;
	size_t nf = 0, npics = 0;
	json_t *pic_ids = json_array();
	int rc = ERR_OK;
	json_t *manifest = json_pack("{s:s, s:i, s:i, s:s, s:I, s:[]}", "format", "atelier-export", "schema_version", 1,
				     "database_schema", db_schema_version(app->db), "account", user_id,
				     "generated_at", (json_int_t)time_now(), "files");
	json_t *mfiles = json_object_get(manifest, "files");
	struct buf readme;
	buf_init(&readme, 0);
	buf_puts(&readme, readme_head);
	struct db_conn *c = db_get(app->db);
	struct store_user u;
	if ((rc = store_user_by_id(c, user_id, &u)))
		goto out;
	for (size_t i = 0; i < nt && rc == ERR_OK; i++) {
		const struct store_privacy_table *t = &tabs[i];
		if (!t->export_sql)
			continue;
		struct xb x = {app, c, user_id, json_array(), t};
		rc = store_privacy_rows(c, t, user_id, export_row, &x);
		if (rc == ERR_OK && !strcmp(t->table, "images")) {
			size_t k;
			json_t *row;
			json_array_foreach(x.rows, k, row) json_array_append(pic_ids, json_object_get(row, "id"));
		}
		if (rc == ERR_OK) {
			char path[96];
			snprintf(path, sizeof path, "data/%s.json", t->category);
			char *s = json_dumps(x.rows, JSON_INDENT(1) | JSON_ENSURE_ASCII);
			if (!s) {
				rc = ERR_NOMEM;
			} else {
				char sha[CRYPTO_HASH_HEX];
				size_t len = strlen(s);
				crypto_sha256_hex(sha, s, len);
				json_array_append_new(mfiles, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "path", path,
									"category", t->category, "table", t->table, "rows",
									(json_int_t)json_array_size(x.rows), "bytes",
									(json_int_t)len, "sha256", sha));
				buf_printf(&readme, "%-32s %s\n", path, t->note);
				rc = add_file(files, &nf, 64, path, s, len);
			}
		}
		json_decref(x.rows);
	}
	if (rc == ERR_OK) {
		struct buf email;
		buf_init(&email, 0);
		json_t *mail = json_array();
		if (user_email(app, c, user_id, &email) == ERR_OK)
			rc = mail_to(app, c, email.data, pending_mail, mail);
		wipe_buf(&email);
		char *s = json_dumps(mail, JSON_INDENT(1) | JSON_ENSURE_ASCII);
		char sha[CRYPTO_HASH_HEX];
		if (s) {
			crypto_sha256_hex(sha, s, strlen(s));
			json_array_append_new(mfiles, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "path", "mail_pending.json",
								"category", "mail_pending", "table", "mail_outbox", "rows",
								(json_int_t)json_array_size(mail), "bytes", (json_int_t)strlen(s),
								"sha256", sha));
			if (rc == ERR_OK)
				rc = add_file(files, &nf, 64, "mail_pending.json", s, strlen(s));
			else
				free(s);
		} else if (rc == ERR_OK) {
			rc = ERR_NOMEM;
		}
		json_decref(mail);
	}
	db_put(c);
	c = NULL;
	if (rc)
		goto out;
	/* each picture as images/ID.png, opened from its sealed form */
	if (json_array_size(pic_ids) && !(pics = calloc(json_array_size(pic_ids), sizeof *pics))) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (size_t k = 0; k < json_array_size(pic_ids); k++) {
		const char *pid = json_string_value(json_array_get(pic_ids, k));
		struct buf png;
		buf_init(&png, 64u << 20);
		if (!pid || gallery_get(app, user_id, pid, NULL, &png) != ERR_OK) {
			buf_free(&png);
			continue;
		}
		struct zfile *z = &pics[npics++];
		snprintf(z->path, sizeof z->path, "images/%.40s.png", pid);
		z->data = png.data;
		z->len = png.len;
	}
	if (npics)
		buf_puts(&readme, "images/ID.png                    each generated image, as the PNG you were given\n");
	buf_puts(&readme,
		 "\nBilling receipts and purchase entries of the ledger are kept for the billing\n"
		 "retention period even after you delete your account, with your identity\n"
		 "replaced by a random pseudonym. Everything else goes at once.\n"
		 "Usage rows never hold prompts or outputs.\n");
	char *m = json_dumps(manifest, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	char *r = strndup(readme.data ? readme.data : "", readme.len);
	if (!m || !r) {
		free(m);
		free(r);
		rc = ERR_NOMEM;
		goto out;
	}
	add_file(files, &nf, 64, "manifest.json", m, strlen(m));
	add_file(files, &nf, 64, "README.txt", r, strlen(r));

	/* the ZIP in memory: the clear export never touches the disk */
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
	zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
	if (!za) {
		if (src)
			zip_source_free(src);
		rc = ERR_NOMEM;
		zip_error_fini(&ze);
		goto out;
	}
	zip_source_keep(src);
	for (size_t i = 0; i < nf + npics && rc == ERR_OK; i++) {
		struct zfile *f = i < nf ? &files[i] : &pics[i - nf];
		zip_source_t *fs = zip_source_buffer(za, f->data, f->len, 0);
		if (!fs || zip_file_add(za, f->path, fs, ZIP_FL_ENC_UTF_8) < 0) {
			if (fs)
				zip_source_free(fs);
			rc = ERR_NOMEM;
		}
	}
	if (rc || zip_close(za) < 0) {
		if (rc == ERR_OK)
			zip_discard(za);
		else
			zip_discard(za);
		zip_source_free(src);
		zip_error_fini(&ze);
		rc = rc ? rc : ERR_IO;
		goto out;
	}
	if (zip_source_open(src) == 0) {
		zip_source_seek(src, 0, SEEK_END);
		zip_int64_t len = zip_source_tell(src);
		zip_source_seek(src, 0, SEEK_SET);
		char *dst;
		if (len < 0 || (uint64_t)len > EXPORT_MAX)
			rc = ERR_TOOBIG;
		else if ((rc = buf_extend(zip, (size_t)len, &dst)) == ERR_OK &&
			 zip_source_read(src, dst, (zip_uint64_t)len) != len)
			rc = ERR_IO;
		zip_source_close(src);
	} else {
		rc = ERR_IO;
	}
	zip_source_free(src);
	zip_error_fini(&ze);
out:
	if (c)
		db_put(c);
	for (size_t i = 0; i < nf; i++) {
		crypto_wipe(files[i].data, files[i].len);
		free(files[i].data);
	}
	for (size_t i = 0; i < npics; i++) {
		crypto_wipe(pics[i].data, pics[i].len);
		free(pics[i].data);
	}
	free(pics);
	json_decref(pic_ids);
	buf_free(&readme);
	if (rc == ERR_OK && manifest_out)
		*manifest_out = json_incref(manifest);
	json_decref(manifest);
	return rc;
}

int privacy_export_request(struct app *app, const char *user_id, char id[40], struct errinfo *e)
{
	struct db_conn *c = db_get(app->db);
	int64_t now = time_now();
	int rc = db_begin(c);
	struct export_busy {
		int busy;
	} b = {0};
	if (rc)
		goto out;
	/* one export in the making at a time */
	struct ids ids = {0};
	if ((rc = store_export_ids(c, user_id, add_id, &ids)) == ERR_OK)
		for (size_t i = 0; i < ids.n; i++) {
			struct store_export x;
			if (store_export_get(c, ids.v[i], &x) == ERR_OK &&
			    (!strcmp(x.state, "queued") || !strcmp(x.state, "running")))
				b.busy = 1;
		}
	free(ids.v);
	if (rc)
		goto out;
	if (b.busy) {
		rc = err_set(e, ERR_LIMIT, NULL, "an export of your data is already being prepared");
		goto out;
	}
	acct_new_id(id, 40, "ex_");
	struct store_request r = {.id = NULL, .kind = "access", .channel = "studio", .user_id = user_id,
				  .status = "done", .received_at = now, .due_at = now + PRIVACY_REQUEST_DAYS * 86400,
				  .closed_at = now, .outcome = id};
	char rid[40];
	acct_new_id(rid, sizeof rid, "pr_");
	r.id = rid;
	if ((rc = store_export_insert(c, id, user_id, now)) ||
	    (rc = store_request_insert(c, &r, NULL, 0, NULL)) ||
	    (rc = store_audit_add(c, user_id, user_id, "privacy.export_requested", NULL, NULL)) ||
	    (rc = db_commit(c)))
		goto out;
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	return rc;
}

int privacy_export_run(struct app *app, const char *id)
{
	struct store_export x;
	struct db_conn *c = db_get(app->db);
	int rc = store_export_get(c, id, &x);
	db_put(c);
	if (rc)
		return rc;
	struct buf zip, sealed;
	buf_init(&zip, 0);
	buf_init(&sealed, 0);
	char sha[CRYPTO_HASH_HEX] = "", path[CONFIG_STR + 64], purpose[64];
	snprintf(purpose, sizeof purpose, "export:%s", id);
	export_path(app, id, path, sizeof path);
	rc = privacy_export_build(app, x.user_id, &zip, NULL);
	if (rc == ERR_OK) {
		crypto_sha256_hex(sha, zip.data, zip.len);
		c = db_get(app->db);
		rc = vault_seal(c, app->keys, x.user_id, purpose, zip.data, zip.len, &sealed);
		db_put(c);
	}
	wipe_buf(&zip);
	if (rc == ERR_OK) {
		char dir[CONFIG_STR + 16];
		snprintf(dir, sizeof dir, "%s/exports", app->data_dir);
		mkdir(dir, 0700);
		rc = write_file(path, sealed.data, sealed.len);
	}
	int64_t now = time_now(), size = (int64_t)zip.len;
	c = db_get(app->db);
	int rc2 = db_begin(c);
	if (rc2 == ERR_OK)
		rc2 = store_export_finish(c, id, rc ? "failed" : "ready", now, rc ? 0 : now + app->cfg->retention.exports,
					  size, sha);
	/* tell the user it is ready, with the link (nothing of the data) */
	if (rc2 == ERR_OK && rc == ERR_OK) {
		struct buf email;
		buf_init(&email, 0);
		if (user_email(app, c, x.user_id, &email) == ERR_OK) {
			char base[CONFIG_STR], body[1024], until[32];
			acct_base_url(app, base, sizeof base);
			time_iso8601(until, sizeof until, now + app->cfg->retention.exports);
			snprintf(body, sizeof body,
				 "The copy of your data you asked for is ready.\n\n"
				 "Download it, signed in, from your privacy center:\n%s/#/privacy\n"
				 "(or GET %s/api/privacy/exports/%s)\n\n"
				 "It stays available until %s (UTC) and is then deleted.\n",
				 base, base, id, until);
			rc2 = mail_enqueue(app, c, email.data, "Your Atelier data export is ready", body, "privacy.export");
		}
		wipe_buf(&email);
	}
	if (rc2 == ERR_OK)
		rc2 = db_commit(c);
	if (rc2)
		db_rollback(c);
	db_put(c);
	buf_free(&sealed);
	if (rc2 == ERR_OK && rc == ERR_OK)
		mail_kick(app->mail);
	if (rc)
		unlink(path);
	log_info("privacy.export", "\"export\":\"%s\",\"status\":\"%s\",\"bytes\":%lld", id, rc ? err_str(rc) : "ready",
		 (long long)size);
	return rc ? rc : rc2;
}

int privacy_export_fetch(struct app *app, const char *user_id, const char *id, struct buf *zip,
			 struct errinfo *e)
{
	struct store_export x;
	struct db_conn *c = db_get(app->db);
	int rc = store_export_get(c, id, &x);
	/* another account's export answers exactly like a missing one */
	if (rc == ERR_NOTFOUND || (rc == ERR_OK && strcmp(x.user_id, user_id))) {
		rc = err_set(e, ERR_NOTFOUND, NULL, "no such export");
		goto out;
	}
	if (rc)
		goto out;
	if (!strcmp(x.state, "queued") || !strcmp(x.state, "running")) {
		rc = err_set(e, ERR_BUSY, NULL, "this export is still being prepared; you will get an email");
		goto out;
	}
	if (strcmp(x.state, "ready") || x.expires_at <= time_now()) {
		rc = err_set(e, ERR_NOTFOUND, NULL, "this export has expired or failed; ask for a new one");
		goto out;
	}
	char path[CONFIG_STR + 64], purpose[64];
	export_path(app, id, path, sizeof path);
	snprintf(purpose, sizeof purpose, "export:%s", id);
	struct buf sealed;
	buf_init(&sealed, 0);
	rc = read_file(path, &sealed);
	if (rc == ERR_OK)
		rc = vault_open(c, app->keys, user_id, purpose, sealed.data, sealed.len, zip);
	buf_free(&sealed);
	if (rc == ERR_NOTFOUND)
		err_set(e, rc, NULL, "this export has expired; ask for a new one");
	if (rc == ERR_OK)
		store_audit_add(c, user_id, user_id, "privacy.export_downloaded", NULL, NULL);
out:
	db_put(c);
	return rc;
}

static void list_row(void *arg, const struct store_export *x)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "id", x->id, "status", x->state,
					     "created_at", (json_int_t)x->created_at, "ready_at", (json_int_t)x->ready_at,
					     "expires_at", (json_int_t)x->expires_at, "bytes", (json_int_t)x->size));
}

int privacy_export_list(struct app *app, const char *user_id, json_t **out)
{
	*out = json_array();
	struct db_conn *c = db_get(app->db);
	int rc = store_export_list(c, user_id, list_row, *out);
	db_put(c);
	return rc;
}

static void unlink_export(void *arg, const char *id)
{
	const struct app *app = arg;
	char path[CONFIG_STR + 64];
	export_path(app, id, path, sizeof path);
	unlink(path);
}

int privacy_export_sweep(struct app *app, int64_t *removed)
{
	struct db_conn *c = db_get(app->db);
	int64_t n = 0;
	int rc = db_begin(c);
	struct ids ids = {0};
	if (rc == ERR_OK && (rc = store_export_expire(c, time_now(), add_id, &ids, &n)) == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	for (size_t i = 0; rc == ERR_OK && i < ids.n; i++)
		unlink_export(app, ids.v[i]);
	free(ids.v);
	/* files whose row is gone (erased, expired while the server was down) */
	char dir[CONFIG_STR + 16];
	snprintf(dir, sizeof dir, "%s/exports", app->data_dir);
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			char id[40];
			const char *dot = strstr(de->d_name, ".sealed");
			if (!dot || dot[7] || (size_t)(dot - de->d_name) >= sizeof id)
				continue;
			snprintf(id, sizeof id, "%.*s", (int)(dot - de->d_name), de->d_name);
			int exists = 1;
			if (store_export_exists(c, id, &exists) == ERR_OK && !exists) {
				unlink_export(app, id);
				n++;
			}
		}
		closedir(d);
	}
	db_put(c);
	if (removed)
		*removed = n;
	return rc;
}

/* --- the worker --------------------------------------------------------------------- */

struct privacy_worker {
	struct app *app;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, kicked;
};

static void *work(void *arg)
{
	struct privacy_worker *w = arg;
	struct app *app = w->app;
	struct db_conn *c = db_get(app->db);
	store_export_requeue(c);
	db_put(c);
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		w->kicked = 0;
		pthread_mutex_unlock(&w->mu);
		for (;;) {
			struct store_export x;
			c = db_get(app->db);
			int rc = db_begin(c);
			if (rc == ERR_OK && (rc = store_export_claim(c, &x)) == ERR_OK)
				rc = db_commit(c);
			if (rc)
				db_rollback(c);
			db_put(c);
			if (rc)
				break;
			privacy_export_run(app, x.id);
		}
		privacy_export_sweep(app, NULL);
		pthread_mutex_lock(&w->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 60;
		while (!w->stop && !w->kicked && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int privacy_start(struct privacy_worker **out, struct app *app)
{
	struct privacy_worker *w = calloc(1, sizeof *w);
	if (!w)
		return ERR_NOMEM;
	w->app = app;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, work, w)) {
		free(w);
		return ERR_NOMEM;
	}
	*out = w;
	return ERR_OK;
}

void privacy_kick(struct privacy_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->kicked = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void privacy_stop(struct privacy_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

/* --- erasure ------------------------------------------------------------------------- */

struct drop_ctx {
	int64_t n;
};

static int drop_mail(void *arg, struct db_conn *c, const char *id, const struct store_mail *m,
		     const char *subject, const char *body)
{
	struct drop_ctx *x = arg;
	char owner[48];
	snprintf(owner, sizeof owner, "mail:%s", id);
	int rc = store_mail_delete(c, id);
	if (rc == ERR_OK)
		rc = vault_destroy(c, owner, NULL);
	if (rc == ERR_OK)
		x->n++;
	return rc;
}

int privacy_erase(struct app *app, const char *user_id, const struct privacy_erase_opts *o,
		  json_t **receipt, struct errinfo *e)
{
	uint64_t t0 = time_mono_ns();
	int64_t now = time_now();
	char pseudonym[40], rid[40], when[32], until[32], detail[160];
	acct_new_id(pseudonym, sizeof pseudonym, "pn_");
	acct_new_id(rid, sizeof rid, "er_");
	time_iso8601(when, sizeof when, now);
	time_iso8601(until, sizeof until, now + app->cfg->retention.billing);
	json_t *removed = json_object(), *pseudo = json_object(), *doc = NULL;
	struct buf email;
	buf_init(&email, 0);
	struct ids exports = {0};
	struct store_user u;
	*receipt = NULL;

	struct db_conn *c = db_get(app->db);
	int rc = db_begin(c);
	if (rc)
		goto out;
	if ((rc = store_user_by_id(c, user_id, &u))) {
		if (rc == ERR_NOTFOUND)
			err_set(e, rc, NULL, "no such account (already erased?)");
		goto out;
	}
	/* the address, while it can still be opened: to find queued mail to
	 * it, and to send the receipt there if asked */
	if ((rc = user_email(app, c, user_id, &email)) && rc != ERR_NOTFOUND)
		goto out;
	rc = ERR_OK;
	struct drop_ctx dm = {0};
	if (email.len && (rc = mail_to(app, c, email.data, drop_mail, &dm)))
		goto out;
	if (dm.n)
		json_object_set_new(removed, "mail_pending", json_integer(dm.n));
	if ((rc = store_export_ids(c, user_id, add_id, &exports)))
		goto out;

	size_t nt;
	const struct store_privacy_table *tabs = store_privacy_tables(&nt);
	for (size_t i = 0; i < nt; i++) {
		int64_t n = 0;
		if ((rc = store_privacy_erase(c, &tabs[i], user_id, pseudonym, now, &n)))
			goto out;
		if (!n)
			continue;
		json_t *into = tabs[i].how == ERASE_PSEUDONYMIZE ? pseudo : removed;
		const char *cat = tabs[i].how == ERASE_DETACH ? "privacy_requests_detached" : tabs[i].category;
		json_t *prev = json_object_get(into, cat);
		json_object_set_new(into, cat, json_integer((prev ? json_integer_value(prev) : 0) + n));
	}
	if ((rc = store_erasure_add(c, user_id, now, rid)))
		goto out;
	bool self = o->actor && !strcmp(o->actor, user_id);
	snprintf(detail, sizeof detail, "{\"receipt\":\"%s\",\"by\":\"%s\",\"age_group\":\"%s\"}", rid,
		 self ? "self" : o->channel ? o->channel : "system", u.age_group);
	/* the audit row about the erasure names the receipt, not the person */
	if ((rc = store_audit_add(c, self ? NULL : o->actor, NULL, "privacy.account_erased", detail, NULL)))
		goto out;
	char reqid[40];
	acct_new_id(reqid, sizeof reqid, "pr_");
	struct store_request req = {.id = reqid, .kind = "erasure", .channel = o->channel ? o->channel : "studio",
				    .status = "done", .received_at = now,
				    .due_at = now + PRIVACY_REQUEST_DAYS * 86400, .closed_at = now, .outcome = rid};
	if (o->request_id)
		rc = store_request_close(c, o->request_id, "done", rid, now);
	else
		rc = store_request_insert(c, &req, NULL, 0, NULL);
	if (rc)
		goto out;

	char base[CONFIG_STR];
	acct_base_url(app, base, sizeof base);
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:{s:O, s:s}, s:s, s:s}", "type", "account_erasure",
			"receipt_id", rid, "account", user_id, "erased_at", when, "server", base, "removed", removed,
			"billing_records_kept", "pseudonymized", pseudo, "kept_until", until, "crypto_erasure",
			"the account's content key was destroyed: sealed copies anywhere, backups included, cannot be opened",
			"note", "verify with `atelier privacy verify-receipt FILE` or the key at /.well-known/atelier-receipt-key");
	if (!doc || (rc = receipt_sign(app->keys, doc)))
		goto out;
	const char *to = o->mail_to ? o->mail_to : o->mail_receipt && email.len ? email.data : NULL;
	if (to) {
		char *js = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		struct buf body;
		buf_init(&body, 0);
		buf_printf(&body,
			   "The Atelier account %s was deleted on %s (UTC), with all its data.\n"
			   "Billing records the law makes us keep now carry a random pseudonym instead.\n\n"
			   "This is the signed deletion receipt (keep it as proof):\n\n%s\n\n"
			   "This address was erased with the account: after this message is delivered, we hold\n"
			   "nothing that leads back to it.\n",
			   u.username, when, js ? js : "{}");
		free(js);
		rc = mail_enqueue(app, c, to, "Your Atelier account was deleted", body.data, "privacy.erased");
		buf_free(&body);
		if (rc)
			goto out;
	}
	rc = db_commit(c);
out:
	if (rc)
		db_rollback(c);
	db_put(c);
	wipe_buf(&email);
	json_decref(removed);
	json_decref(pseudo);
	if (rc) {
		json_decref(doc);
		free(exports.v);
		if (e && !e->msg[0])
			err_set(e, rc, NULL, "the account could not be erased; nothing was changed");
		return rc;
	}
	/* after the commit: nothing of the rows may linger in files */
	for (size_t i = 0; i < exports.n; i++)
		unlink_export(app, exports.v[i]);
	free(exports.v);
	db_scrub(app->db);
	/* and nothing of the account's prompts in the models' memory */
	textmodels_forget(app->text, user_id, NULL);
	backup_escrow_sync(app);
	mail_kick(app->mail);
	log_info("privacy.erased", "\"receipt\":\"%s\",\"ms\":%llu", rid,
		 (unsigned long long)((time_mono_ns() - t0) / 1000000));
	*receipt = doc;
	return ERR_OK;
}

struct recent_ctx {
	const char *sid;
	int64_t created_at;
};

static void session_age(const struct store_session *s, void *arg)
{
	struct recent_ctx *r = arg;
	if (!strcmp(s->id, r->sid))
		r->created_at = s->created_at;
}

int privacy_delete_account(struct app *app, const char *user_id, const char *session_id,
			   const char *password, bool mail_receipt, const char *ip, json_t **receipt,
			   struct errinfo *e)
{
	struct store_user u;
	struct db_conn *c = db_get(app->db);
	int rc = store_user_by_id(c, user_id, &u);
	struct recent_ctx r = {session_id, 0};
	if (rc == ERR_OK && session_id && session_id[0])
		rc = store_session_list(c, user_id, session_age, &r);
	bool recent = r.created_at && time_now() - r.created_at <= PRIVACY_REAUTH_S;
	db_put(c);
	if (rc == ERR_NOTFOUND)
		return err_set(e, ERR_AUTH, NULL, "this account no longer exists");
	if (rc)
		return rc;
	if (!password) {
		if (!recent)
			return err_set(e, ERR_FORBIDDEN, "password",
				       "deleting your account needs your password (field 'password')");
	} else {
		int64_t retry;
		if (acct_throttle_locked(app, NULL, "u", user_id, &retry))
			return err_set(e, ERR_LIMIT, NULL, "too many wrong passwords; retry in %lld s", (long long)retry);
		int rehash;
		rc = password_verify(u.password_hash, password, strlen(password), &rehash);
		if (rc == ERR_AUTH) {
			acct_throttle_fail(app, NULL, "u", user_id);
			return err_set(e, ERR_FORBIDDEN, "password", "the password is wrong; nothing was deleted");
		}
		if (rc)
			return err_set(e, rc, NULL, "the server is busy; retry in a moment");
	}
	struct privacy_erase_opts o = {.actor = user_id, .channel = "studio", .mail_receipt = mail_receipt, .ip = ip};
	return privacy_erase(app, user_id, &o, receipt, e);
}

int privacy_staff_erase(struct app *app, const char *user_id, bool any_account,
			const struct privacy_erase_opts *o, json_t **receipt, struct errinfo *e)
{
	struct store_user u;
	struct db_conn *c = db_get(app->db);
	int rc = store_user_by_id(c, user_id, &u);
	db_put(c);
	if (rc == ERR_NOTFOUND)
		return err_set(e, rc, NULL, "no such user");
	if (rc)
		return rc;
	if (!any_account && strcmp(u.age_group, "minor"))
		return err_set(e, ERR_FORBIDDEN, NULL,
			       "support staff may erase a child's account at once; other accounts need an admin");
	return privacy_erase(app, user_id, o, receipt, e);
}

int privacy_export_expire_now(struct app *app, const char *id)
{
	struct db_conn *c = db_get(app->db);
	int rc = store_export_set_expiry(c, id, time_now() - 1);
	db_put(c);
	return rc;
}
