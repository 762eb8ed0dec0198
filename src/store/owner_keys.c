/* owner_keys.c: wrapped per-owner data keys (see crypto.h). */
#include "store/store.h"

#include <string.h>

#include "base/timeutil.h"

int store_owner_key_get(struct db_conn *c, const char *owner, unsigned char *out, size_t cap,
			size_t *len)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT wrapped FROM owner_keys WHERE owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	rc = db_step(s);
	if (rc == 1) {
		size_t n;
		const void *p = db_col_blob(s, 0, &n);
		if (n > cap) {
			rc = ERR_CORRUPT;
		} else {
			memcpy(out, p, n);
			*len = n;
			rc = ERR_OK;
		}
	} else if (rc == 0) {
		rc = ERR_NOTFOUND;
	}
	db_done(s);
	return rc;
}

int store_owner_key_put(struct db_conn *c, const char *owner, const unsigned char *wrapped,
			size_t len)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "INSERT INTO owner_keys(owner, wrapped, created_at) VALUES (?, ?, ?)", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	db_bind_blob(s, 2, wrapped, len);
	db_bind_int(s, 3, time_now());
	rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : ERR_OK;
}

int store_owner_key_delete(struct db_conn *c, const char *owner, int64_t *deleted)
{
	struct db_stmt *s;
	int rc = db_prepare(c, "DELETE FROM owner_keys WHERE owner = ?", &s);
	if (rc)
		return rc;
	db_bind_text(s, 1, owner);
	rc = db_step(s);
	db_done(s);
	if (rc < 0)
		return rc;
	if (deleted)
		*deleted = db_changes(c);
	return ERR_OK;
}
