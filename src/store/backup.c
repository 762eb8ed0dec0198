/*
 * backup.c: an online, consistent copy of the SQLite database through the
 * backup API (SEC-6), and compacting a copy so no free page keeps old data.
 * The encryption and the key escrow are service/backup.c's.
 */
#include "store/backup.h"

#include <sqlite3.h>

int store_backup_file(const char *src_path, const char *dst_path)
{
	sqlite3 *src = NULL, *dst = NULL;
	int rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(src, 5000);
		/* one step copies every page under one read transaction: a
		 * consistent snapshot while the server keeps writing (WAL) */
		sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
		if (!b) {
			rc = SQLITE_ERROR;
		} else {
			rc = sqlite3_backup_step(b, -1);
			int fin = sqlite3_backup_finish(b);
			rc = rc == SQLITE_DONE ? fin : rc;
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	sqlite3_close(src);
	sqlite3_close(dst);
	return rc == SQLITE_OK ? ERR_OK : ERR_DB;
}

int store_compact(struct db_conn *c)
{
	int rc = db_exec(c, "PRAGMA secure_delete=ON");
	if (rc == ERR_OK)
		rc = db_exec(c, "VACUUM");
	if (rc == ERR_OK)
		rc = db_exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
	return rc;
}
