/*
 * db.h: the one interface to the database.
 *
 * service/ never sees SQL: it calls typed functions that live in store/
 * (store_*.c) and are written against this small portable layer. The layer
 * hides the backend: SQLite (sqlite.c, the default, no setup) now and
 * PostgreSQL (pg.c) for scale-out, so the same typed functions and the same
 * tests run on both. SQL written for it uses `?` placeholders and the portable
 * subset of both dialects.
 *
 * Connections come from a pool: db_get() blocks until one is free; a
 * connection is used by one thread at a time and returned with db_put().
 * Statements are prepared once per connection and cached, so repeated calls
 * cost a bind and a step.
 */
#ifndef ATELIER_STORE_DB_H
#define ATELIER_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct db;
struct db_conn;
struct db_stmt;

struct db_options {
	const char *backend;     /* "sqlite" (default) or "postgres" */
	const char *path;        /* sqlite: file path */
	const char *url;         /* postgres: conninfo */
	int pool;                /* connections, >= 1 */
	int busy_timeout_ms;     /* sqlite: wait for a lock this long */
};

/* Open the database, apply pending migrations (each in its own transaction)
 * and fill the pool. */
int db_open(struct db **out, const struct db_options *o, struct errinfo *e);

/* Close every connection. Accepts NULL. */
void db_close(struct db *db);

/* ERR_OK if the database answers a trivial query. */
int db_ping(struct db *db);

/* Highest migration version applied. */
int db_schema_version(struct db *db);

/* A connection for this thread's exclusive use; never NULL. */
struct db_conn *db_get(struct db *db);

/* Give c back to the pool. If a transaction is still open it is rolled back. */
void db_put(struct db_conn *c);

/* Transactions. db_begin takes the write lock at once (SQLite: BEGIN
 * IMMEDIATE) so two writers never deadlock on an upgrade. */
int db_begin(struct db_conn *c);
int db_commit(struct db_conn *c);
void db_rollback(struct db_conn *c);

/* A transaction whose commit does not wait for the disk: visible to every
 * connection at once, and made durable by a background barrier within
 * DB_LAZY_SYNC_MS. A process crash loses nothing (the data is written);
 * only a power cut inside that window can lose the last such commits, whole
 * (never half of one). For metering on the request path (credit holds,
 * settlements, usage rows), where a synced commit would put a disk flush
 * (milliseconds, tens at the tail) into every request. Money that arrives
 * (payments, grants) and erasure use db_begin. Commit with db_commit. */
#define DB_LAZY_SYNC_MS 20
int db_begin_lazy(struct db_conn *c);

/* Make every commit so far durable now (the barrier the background thread
 * runs); db_close runs it too. */
int db_sync(struct db *db);
/* Barriers run so far (tests). */
uint64_t db_sync_count(struct db *db);
/* Checkpoints the sync thread ran so far (tests). The log is checkpointed
 * there, once it passes 1000 pages, never inside a request's commit. */
uint64_t db_checkpoint_count(struct db *db);

/* Run SQL with no parameters and no rows (DDL, pragmas). */
int db_exec(struct db_conn *c, const char *sql);

/* A cached prepared statement for sql. Finish with db_done() before
 * preparing the same SQL again on this connection. */
int db_prepare(struct db_conn *c, const char *sql, struct db_stmt **out);

/* Bind parameter i (1-based). Text and blobs are copied. */
int db_bind_text(struct db_stmt *s, int i, const char *v);
int db_bind_int(struct db_stmt *s, int i, int64_t v);
int db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n);
int db_bind_null(struct db_stmt *s, int i);

/* Step: 1 when a row is ready, 0 when done, or a negative error
 * (ERR_EXISTS for a unique or check constraint, ERR_BUSY when locked). */
int db_step(struct db_stmt *s);

/* Columns of the current row (0-based). Pointers stay valid until the next
 * step or db_done. NULL text reads as NULL. */
const char *db_col_text(struct db_stmt *s, int i);
int64_t db_col_int(struct db_stmt *s, int i);
const void *db_col_blob(struct db_stmt *s, int i, size_t *len);
bool db_col_null(struct db_stmt *s, int i);

/* Reset the statement for reuse. */
void db_done(struct db_stmt *s);

/* Rows changed by the last INSERT/UPDATE/DELETE on c. */
int64_t db_changes(struct db_conn *c);

/* The message of the last error on c, for logs; never holds bound values. */
const char *db_errmsg(struct db_conn *c);

/* Make sure deleted content leaves no trace in the files: checkpoint and
 * truncate the write-ahead log (SQLite). Used after erasure. */
int db_scrub(struct db *db);

#endif
