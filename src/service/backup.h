/*
 * backup.h: encrypted, consistent backups and restore, without keeping
 * erased people readable (SEC-6, PRIV-4).
 *
 * The design, and the one rejected:
 *
 * An erasure journal applied at restore alone is not enough: the backup
 * would still hold the erased owner's data key (wrapped by the master key),
 * so anyone with the backup and the master key could read their content
 * without ever running our restore. So each owner's key inside a backup is
 * sealed once more, under a per-owner escrow key. Escrow keys live in one
 * small file, DATA_DIR/backup-escrow (sealed under a key derived from the
 * master key), never inside a backup. When someone is erased the file is
 * rewritten without their escrow key (the old copy overwritten first): from
 * then on no backup, of any age, can open their content, and the file never
 * accumulates. The file also carries the erasure journal, so a restore of an
 * older backup erases again those erased since, rows included.
 *
 * The operator keeps a copy of the escrow file off the machine, like the
 * master key, and replaces that copy (never keeps versions of it) after
 * erasures; `atelier backup` rewrites it each run.
 *
 * Queued mail is not backed up: it is transient, and a restore must not send
 * old messages again.
 */
#ifndef ATELIER_SERVICE_BACKUP_H
#define ATELIER_SERVICE_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "service/app.h"

struct backup_stats {
	int64_t bytes;      /* of the backup file */
	int64_t owners;     /* owner keys escrowed (backup) or reopened (restore) */
	int64_t unreadable; /* restore: owner keys dropped (erased, no escrow key) */
	int64_t erased;     /* restore: owners erased again from the journal */
};

/* Write an encrypted backup of the live database to out (online). escrow:
 * the escrow file (NULL: DATA_DIR/backup-escrow), created or updated. */
int backup_create(struct app *app, const char *out, const char *escrow, struct backup_stats *st,
		  struct errinfo *e);

/* Restore in into cfg's data directory (the server stopped). An existing
 * database is replaced only with force. escrow as above; it must exist. */
int backup_restore(struct config *cfg, const char *in, const char *escrow, bool force,
		   struct backup_stats *st, struct errinfo *e);

/* After an erasure: rewrite the escrow file without escrow keys of owners
 * that no longer exist, with the journal. A no-op when there is no file. */
int backup_escrow_sync(struct app *app);

#endif
