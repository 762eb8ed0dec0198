/* backup.h: copying and compacting the database for backups (store/backup.c). */
#ifndef ATELIER_STORE_BACKUP_H
#define ATELIER_STORE_BACKUP_H

#include "base/err.h"
#include "store/db.h"

/* Copy the SQLite database at src_path to dst_path (a new file, rollback
 * journal) as one consistent snapshot, while others keep writing. */
int store_backup_file(const char *src_path, const char *dst_path);

/* Rewrite the database so no free page or log holds deleted data. */
int store_compact(struct db_conn *c);

#endif
