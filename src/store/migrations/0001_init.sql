-- 0001_init: the foundation's tables.
-- owner_keys: one data key per owner (user or API customer's end user),
-- wrapped by the master key. Deleting the row is crypto-erasure: whatever was
-- sealed under it, anywhere, can no longer be read.
CREATE TABLE owner_keys (
	owner TEXT PRIMARY KEY,
	wrapped BLOB NOT NULL,
	created_at INTEGER NOT NULL
);

-- audit: append-only record of security events (SEC-4, SEC-5). Later issues
-- add event kinds; rows are never updated, and deleted only by retention.
CREATE TABLE audit (
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	actor TEXT,
	subject TEXT,
	event TEXT NOT NULL,
	detail TEXT,
	ip TEXT
);
CREATE INDEX audit_subject ON audit(subject, at);
CREATE INDEX audit_actor ON audit(actor, at);
CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
