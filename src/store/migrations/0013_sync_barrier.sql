-- 0013_sync_barrier: one row the store rewrites with a durable commit to make
-- every earlier lazy commit durable too (db_begin_lazy in store/db.h): in
-- WAL mode a synced commit syncs the log, and the log holds commits in order.
CREATE TABLE sync_barrier (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n INTEGER NOT NULL
);
INSERT INTO sync_barrier (id, n) VALUES (1, 0);
