/*
 * sqlite.c: the SQLite backend of db.h.
 *
 * WAL journal (readers never block the writer), foreign keys on, a busy
 * timeout, synchronous=FULL (a committed payment survives a power cut; lazy
 * commits, below, trade that for latency where the request path needs it), and
 * secure_delete so erased rows are overwritten with zeros in the file rather
 * than left in free pages (PRIV-4). Migrations are the embedded files
 * src/store/migrations/NNNN_name.sql, applied in order, each in a transaction
 * together with its row in schema_migrations.
 *
 * The pool is a fixed array of connections guarded by a mutex and a
 * condition variable; each connection caches its prepared statements.
 *
 * Lazy commits (db_begin_lazy) run at synchronous=NORMAL: in WAL mode the
 * commit is appended to the log without a flush. A barrier thread, woken by
 * the first lazy commit after a barrier, waits DB_LAZY_SYNC_MS (so one flush
 * covers every commit in that window) and fsyncs the log file through a
 * descriptor of its own: every commit appended before that is then durable,
 * exactly as a FULL commit's own flush would make it. It takes no SQLite
 * lock, so no writer waits for the disk. (The first version rewrote a
 * sync_barrier row with a FULL commit, whose flush held the write lock: every
 * commit of those 0.3-8 ms waited, the most part of the API's p99. It remains
 * the fallback where the log file cannot be opened.) The same thread runs the WAL checkpoints:
 * a hook on every connection asks for one when the log passes 1000 pages,
 * instead of SQLite's automatic checkpoint inside whichever commit crossed
 * the line (a request would wait for megabytes to be copied and flushed).
 */
#include "store/db.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/embedded.h"
#include "base/log.h"
#include "base/timeutil.h"

#define STMT_CACHE 128

struct db_stmt {
	struct db_conn *conn;
	const char *sql; /* the caller's string, compared by pointer then content */
	sqlite3_stmt *st;
};

struct db_conn {
	struct db *db;
	sqlite3 *h;
	bool busy;       /* handed out */
	bool in_tx;
	bool lazy;       /* in a lazy transaction: synchronous=NORMAL until it ends */
	int nstmt;
	struct db_stmt stmts[STMT_CACHE];
};

struct db {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	struct db_conn *conns;
	int version;
	/* the barrier and checkpoint thread: flags and counters under sync_mu
	 * (never held across disk work), its own connection under conn_mu */
	struct db_conn sync;
	pthread_mutex_t sync_mu, conn_mu;
	pthread_cond_t sync_cv;
	pthread_t sync_thread;
	bool sync_started, sync_stop, dirty, ckpt;
	uint64_t barriers, checkpoints;
	char wal_path[4096]; /* the log file ("" in memory); its descriptor, under conn_mu */
	int wal_fd;
};

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
		return ERR_OK;
	case SQLITE_CONSTRAINT:
		return ERR_EXISTS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ERR_BUSY;
	case SQLITE_NOMEM:
		return ERR_NOMEM;
	case SQLITE_TOOBIG:
		return ERR_TOOBIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return ERR_CORRUPT;
	default:
		return ERR_DB;
	}
}

/* WAL pages after which a commit asks for a checkpoint (SQLite's own
 * automatic checkpoint threshold, which this hook replaces). */
#define WAL_CHECKPOINT_PAGES 1000

/* After every commit, outside the write lock: a long log is checkpointed by
 * the sync thread, not by the request that happened to commit the page that
 * crossed the threshold (a checkpoint copies and flushes megabytes). */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
	(void)h;
	(void)name;
	struct db *db = arg;
	if (pages >= WAL_CHECKPOINT_PAGES) {
		pthread_mutex_lock(&db->sync_mu);
		if (!db->ckpt) {
			db->ckpt = true;
			pthread_cond_signal(&db->sync_cv);
		}
		pthread_mutex_unlock(&db->sync_mu);
	}
	return SQLITE_OK;
}

static int open_conn(struct db_conn *c, const struct db_options *o, struct errinfo *e)
{
	int rc = sqlite3_open_v2(o->path, &c->h,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return err_set(e, ERR_DB, "database.path", "database: cannot open %s: %s", o->path,
			       c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(c->h, o->busy_timeout_ms);
	sqlite3_extended_result_codes(c->h, 1);
	sqlite3_wal_hook(c->h, wal_hook, c->db);
	static const char *const pragmas =
		"PRAGMA journal_mode=WAL;"
		"PRAGMA foreign_keys=ON;"
		"PRAGMA synchronous=FULL;"
		"PRAGMA secure_delete=ON;"
		"PRAGMA temp_store=MEMORY;";
	char *msg = NULL;
	rc = sqlite3_exec(c->h, pragmas, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		err_set(e, ERR_DB, "database.path", "database: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return ERR_DB;
	}
	return ERR_OK;
}

static int cmp_files(const void *a, const void *b)
{
	return strcmp((*(const struct embedded_file *const *)a)->path,
		      (*(const struct embedded_file *const *)b)->path);
}

static int migrate(struct db *db, struct errinfo *e)
{
	struct db_conn *c = &db->conns[0];
	int rc = db_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
	if (rc)
		return err_set(e, rc, NULL, "database: cannot create schema_migrations: %s", db_errmsg(c));

	const struct embedded_file *files[256];
	size_t nf = 0;
	static const char prefix[] = "src/store/migrations/";
	for (const struct embedded_file *f = embedded_files; f->path && nf < 256; f++) {
		size_t pl = strlen(f->path);
		if (strncmp(f->path, prefix, sizeof prefix - 1) == 0 && pl > 4 &&
		    strcmp(f->path + pl - 4, ".sql") == 0 && !strstr(f->path, ".pg.sql"))
			files[nf++] = f;
	}
	qsort(files, nf, sizeof files[0], cmp_files);

	struct db_stmt *s;
	int current = 0;
	if ((rc = db_prepare(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &s)))
		return err_set(e, rc, NULL, "database: %s", db_errmsg(c));
	if (db_step(s) == 1)
		current = (int)db_col_int(s, 0);
	db_done(s);

	for (size_t i = 0; i < nf; i++) {
		const char *name = files[i]->path + sizeof prefix - 1;
		int version = atoi(name); /* our own embedded file name, not input */
		if (version <= 0)
			return err_set(e, ERR_CORRUPT, NULL, "database: migration %s has no number", name);
		if (version <= current)
			continue;
		if ((rc = db_begin(c)))
			return err_set(e, rc, NULL, "database: %s", db_errmsg(c));
		char *msg = NULL;
		if (sqlite3_exec(c->h, (const char *)files[i]->data, NULL, NULL, &msg) != SQLITE_OK) {
			err_set(e, ERR_DB, NULL, "database: migration %s failed: %s", name, msg ? msg : "?");
			sqlite3_free(msg);
			db_rollback(c);
			return ERR_DB;
		}
		if ((rc = db_prepare(c, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)", &s)) == 0) {
			db_bind_int(s, 1, version);
			db_bind_text(s, 2, name);
			db_bind_int(s, 3, time_now());
			rc = db_step(s) < 0 ? ERR_DB : ERR_OK;
			db_done(s);
		}
		if (rc || (rc = db_commit(c))) {
			db_rollback(c);
			return err_set(e, ERR_DB, NULL, "database: migration %s: %s", name, db_errmsg(c));
		}
		log_info("db.migrated", "\"version\":%d,\"name\":\"%s\"", version, log_str(name));
		current = version;
	}
	db->version = current;
	return ERR_OK;
}

/* The log file's descriptor, opened again if the file was replaced (SQLite
 * deletes the log when its last connection closes); -1 if there is none. */
static int wal_fd(struct db *db)
{
	struct stat a, b;
	if (db->wal_fd >= 0 && (fstat(db->wal_fd, &a) || stat(db->wal_path, &b) || a.st_ino != b.st_ino ||
				a.st_dev != b.st_dev)) {
		close(db->wal_fd);
		db->wal_fd = -1;
	}
	if (db->wal_fd < 0 && db->wal_path[0])
		db->wal_fd = open(db->wal_path, O_RDONLY | O_CLOEXEC);
	return db->wal_fd;
}

/* Make every commit so far durable: fsync the log (no SQLite lock held), or
 * where there is no log file, one FULL commit of the barrier row. sync_mu is
 * not held across it: a lazy commit that sets the dirty flag meanwhile must
 * not wait for this flush. */
static int barrier(struct db *db)
{
	pthread_mutex_lock(&db->conn_mu);
	pthread_mutex_lock(&db->sync_mu);
	db->dirty = false; /* commits from now on ask for the next barrier */
	pthread_mutex_unlock(&db->sync_mu);
	int rc, fd = wal_fd(db);
	if (fd >= 0) {
		rc = fsync(fd) ? ERR_IO : ERR_OK;
	} else {
		struct db_conn *c = &db->sync;
		rc = db_begin(c);
		if (rc == ERR_OK)
			rc = db_exec(c, "UPDATE sync_barrier SET n = n + 1 WHERE id = 1");
		if (rc == ERR_OK)
			rc = db_commit(c);
		if (rc)
			db_rollback(c);
	}
	pthread_mutex_unlock(&db->conn_mu);
	pthread_mutex_lock(&db->sync_mu);
	if (rc) {
		db->dirty = true; /* try again on the next round */
		log_error("db.sync", "\"error\":\"%s\"", err_str(rc));
	} else {
		db->barriers++;
	}
	pthread_mutex_unlock(&db->sync_mu);
	return rc;
}

/* A passive checkpoint: copies what no reader still needs into the
 * database file, never waiting for (or blocking) readers and writers. */
static void checkpoint(struct db *db)
{
	pthread_mutex_lock(&db->conn_mu);
	int rc = sqlite3_wal_checkpoint_v2(db->sync.h, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	pthread_mutex_unlock(&db->conn_mu);
	pthread_mutex_lock(&db->sync_mu);
	if (rc == SQLITE_OK)
		db->checkpoints++;
	else
		log_warn("db.checkpoint", "\"error\":\"%s\"", sqlite3_errstr(rc));
	pthread_mutex_unlock(&db->sync_mu);
}

static void *sync_main(void *arg)
{
	struct db *db = arg;
	pthread_mutex_lock(&db->sync_mu);
	for (;;) {
		while (!db->dirty && !db->ckpt && !db->sync_stop)
			pthread_cond_wait(&db->sync_cv, &db->sync_mu);
		if (db->dirty && !db->sync_stop) {
			/* gather the commits of the next few milliseconds into one flush */
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_nsec += DB_LAZY_SYNC_MS * 1000000L;
			t.tv_sec += t.tv_nsec / 1000000000L;
			t.tv_nsec %= 1000000000L;
			while (!db->sync_stop && pthread_cond_timedwait(&db->sync_cv, &db->sync_mu, &t) == 0)
				;
		}
		bool dirty = db->dirty, ckpt = db->ckpt, stop = db->sync_stop;
		db->ckpt = false;
		pthread_mutex_unlock(&db->sync_mu);
		if (dirty)
			barrier(db);
		if (ckpt && !stop)
			checkpoint(db);
		pthread_mutex_lock(&db->sync_mu);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&db->sync_mu);
	return NULL;
}

int db_sync(struct db *db)
{
	return barrier(db);
}

uint64_t db_checkpoint_count(struct db *db)
{
	pthread_mutex_lock(&db->sync_mu);
	uint64_t n = db->checkpoints;
	pthread_mutex_unlock(&db->sync_mu);
	return n;
}

uint64_t db_sync_count(struct db *db)
{
	pthread_mutex_lock(&db->sync_mu);
	uint64_t n = db->barriers;
	pthread_mutex_unlock(&db->sync_mu);
	return n;
}

int db_open(struct db **out, const struct db_options *o, struct errinfo *e)
{
	*out = NULL;
	if (o->backend && strcmp(o->backend, "sqlite") != 0)
		return err_set(e, ERR_UNSUPPORTED, "database.backend",
			       "database: backend '%s' is not built into this binary yet", o->backend);
	struct db *db = calloc(1, sizeof *db);
	if (!db)
		return ERR_NOMEM;
	db->wal_fd = -1;
	db->sync.db = db;
	pthread_mutex_init(&db->sync_mu, NULL);
	pthread_mutex_init(&db->conn_mu, NULL);
	pthread_cond_init(&db->sync_cv, NULL);
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->cv, NULL);
	db->n = o->pool > 0 ? o->pool : 1;
	db->conns = calloc((size_t)db->n, sizeof *db->conns);
	int rc = db->conns ? ERR_OK : ERR_NOMEM;
	for (int i = 0; rc == ERR_OK && i < db->n; i++) {
		db->conns[i].db = db;
		rc = open_conn(&db->conns[i], o, e);
		/* the first connection creates the file and switches it to WAL,
		 * so migrations run before any other connection reads the schema */
		if (rc == ERR_OK && i == 0)
			rc = migrate(db, e);
	}
	db->sync.db = db;
	if (rc == ERR_OK)
		rc = open_conn(&db->sync, o, e);
	if (rc == ERR_OK) {
		const char *fn = sqlite3_db_filename(db->sync.h, "main");
		if (fn && fn[0] && strlen(fn) + 5 <= sizeof db->wal_path)
			snprintf(db->wal_path, sizeof db->wal_path, "%s-wal", fn);
	}
	if (rc == ERR_OK) {
		if (pthread_create(&db->sync_thread, NULL, sync_main, db))
			rc = err_set(e, ERR_INTERNAL, NULL, "database: cannot start the sync thread");
		else
			db->sync_started = true;
	}
	if (rc) {
		db_close(db);
		return rc;
	}
	*out = db;
	return ERR_OK;
}

static void close_conn(struct db_conn *c)
{
	for (int i = 0; i < c->nstmt; i++)
		sqlite3_finalize(c->stmts[i].st);
	c->nstmt = 0;
	if (c->h)
		sqlite3_close(c->h);
	c->h = NULL;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->sync_started) {
		pthread_mutex_lock(&db->sync_mu);
		db->sync_stop = true;
		pthread_cond_signal(&db->sync_cv);
		pthread_mutex_unlock(&db->sync_mu);
		pthread_join(db->sync_thread, NULL); /* runs a last barrier if one is due */
	}
	if (db->wal_fd >= 0)
		close(db->wal_fd);
	close_conn(&db->sync);
	for (int i = 0; db->conns && i < db->n; i++)
		close_conn(&db->conns[i]);
	free(db->conns);
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	pthread_mutex_destroy(&db->sync_mu);
	pthread_mutex_destroy(&db->conn_mu);
	pthread_cond_destroy(&db->sync_cv);
	free(db);
}

struct db_conn *db_get(struct db *db)
{
	pthread_mutex_lock(&db->mu);
	for (;;) {
		for (int i = 0; i < db->n; i++)
			if (!db->conns[i].busy) {
				db->conns[i].busy = true;
				pthread_mutex_unlock(&db->mu);
				return &db->conns[i];
			}
		pthread_cond_wait(&db->cv, &db->mu);
	}
}

void db_put(struct db_conn *c)
{
	if (!c)
		return;
	if (c->in_tx) {
		log_warn("db.open_transaction", "\"note\":\"rolled back at release\"");
		db_rollback(c);
	}
	struct db *db = c->db;
	pthread_mutex_lock(&db->mu);
	c->busy = false;
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mu);
}

int db_ping(struct db *db)
{
	struct db_conn *c = db_get(db);
	struct db_stmt *s;
	int rc = db_prepare(c, "SELECT 1", &s);
	if (rc == ERR_OK) {
		rc = db_step(s) == 1 && db_col_int(s, 0) == 1 ? ERR_OK : ERR_DB;
		db_done(s);
	}
	db_put(c);
	return rc;
}

int db_schema_version(struct db *db)
{
	return db->version;
}

int db_exec(struct db_conn *c, const char *sql)
{
	int rc = sqlite3_exec(c->h, sql, NULL, NULL, NULL);
	return map_rc(rc);
}

/* Back to synced commits. Outside a transaction the pragma cannot fail
 * short of memory; if it did, the connection would only flush less. */
static void end_lazy(struct db_conn *c)
{
	if (db_exec(c, "PRAGMA synchronous=FULL"))
		log_error("db.sync_level", "\"note\":\"connection left at synchronous=NORMAL\"");
	c->lazy = false;
}

int db_begin(struct db_conn *c)
{
	int rc = db_exec(c, "BEGIN IMMEDIATE");
	if (rc == ERR_OK)
		c->in_tx = true;
	return rc;
}

int db_begin_lazy(struct db_conn *c)
{
	/* the level cannot change inside a transaction: set it first */
	int rc = db_exec(c, "PRAGMA synchronous=NORMAL");
	if (rc)
		return rc;
	c->lazy = true;
	if ((rc = db_begin(c)))
		end_lazy(c);
	return rc;
}

int db_commit(struct db_conn *c)
{
	int rc = db_exec(c, "COMMIT");
	if (rc == ERR_OK)
		c->in_tx = false;
	if (c->lazy && rc == ERR_OK) {
		end_lazy(c);
		struct db *db = c->db;
		pthread_mutex_lock(&db->sync_mu);
		if (!db->dirty) {
			db->dirty = true;
			pthread_cond_signal(&db->sync_cv);
		}
		pthread_mutex_unlock(&db->sync_mu);
	}
	return rc;
}

void db_rollback(struct db_conn *c)
{
	if (!sqlite3_get_autocommit(c->h))
		sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
	c->in_tx = false;
	if (c->lazy)
		end_lazy(c);
}

int db_prepare(struct db_conn *c, const char *sql, struct db_stmt **out)
{
	for (int i = 0; i < c->nstmt; i++)
		if (c->stmts[i].sql == sql || strcmp(c->stmts[i].sql, sql) == 0) {
			*out = &c->stmts[i];
			return ERR_OK;
		}
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v3(c->h, sql, -1,
				    c->nstmt < STMT_CACHE ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
	if (rc != SQLITE_OK) {
		log_error("db.prepare", "\"error\":\"%s\"", log_str(sqlite3_errmsg(c->h)));
		return map_rc(rc);
	}
	if (c->nstmt == STMT_CACHE) {
		/* cache full: evict the last slot; callers never hold two
		 * statements beyond the cache size at once */
		sqlite3_finalize(c->stmts[STMT_CACHE - 1].st);
		c->nstmt--;
	}
	struct db_stmt *s = &c->stmts[c->nstmt++];
	s->conn = c;
	s->sql = sql;
	s->st = st;
	*out = s;
	return ERR_OK;
}

int db_bind_text(struct db_stmt *s, int i, const char *v)
{
	if (!v)
		return db_bind_null(s, i);
	return map_rc(sqlite3_bind_text(s->st, i, v, -1, SQLITE_TRANSIENT));
}

int db_bind_int(struct db_stmt *s, int i, int64_t v)
{
	return map_rc(sqlite3_bind_int64(s->st, i, v));
}

int db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n)
{
	return map_rc(sqlite3_bind_blob64(s->st, i, p ? p : "", n, SQLITE_TRANSIENT));
}

int db_bind_null(struct db_stmt *s, int i)
{
	return map_rc(sqlite3_bind_null(s->st, i));
}

int db_step(struct db_stmt *s)
{
	int rc = sqlite3_step(s->st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	int e = map_rc(rc);
	if (e != ERR_EXISTS)
		log_error("db.step", "\"error\":\"%s\"", log_str(sqlite3_errmsg(s->conn->h)));
	return e ? e : ERR_DB;
}

const char *db_col_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s->st, i);
}

int64_t db_col_int(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(s->st, i);
}

const void *db_col_blob(struct db_stmt *s, int i, size_t *len)
{
	const void *p = sqlite3_column_blob(s->st, i);
	*len = (size_t)sqlite3_column_bytes(s->st, i);
	return p;
}

bool db_col_null(struct db_stmt *s, int i)
{
	return sqlite3_column_type(s->st, i) == SQLITE_NULL;
}

void db_done(struct db_stmt *s)
{
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
}

int64_t db_changes(struct db_conn *c)
{
	return sqlite3_changes64(c->h);
}

const char *db_errmsg(struct db_conn *c)
{
	return sqlite3_errmsg(c->h);
}

int db_scrub(struct db *db)
{
	struct db_conn *c = db_get(db);
	int rc = db_exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
	db_put(c);
	return rc;
}
