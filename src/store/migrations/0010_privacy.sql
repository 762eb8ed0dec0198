-- 0010_privacy: the privacy center (PRIV-1..12, AGE-3, OPS-6, SEC-6).
--
-- No table here references users(id) with a cascade: erasure deletes each
-- owner-scoped table explicitly (store/privacy.c, one row per table) so the
-- deletion receipt can count what went.

-- privacy_exports: export jobs and their results (PRIV-1, PRIV-2). The file
-- lives under DATA_DIR/exports/<id>.sealed, sealed under the user's own key
-- (so erasing the user makes any copy of it unreadable); the row is the job
-- queue the worker thread claims from.
CREATE TABLE privacy_exports (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'ready', 'failed')),
	created_at INTEGER NOT NULL,
	ready_at INTEGER,
	expires_at INTEGER,
	size INTEGER,
	sha256 TEXT
);
CREATE INDEX privacy_exports_user ON privacy_exports(user_id, created_at);
CREATE INDEX privacy_exports_state ON privacy_exports(state, created_at);

-- consents: append-only ledger (PRIV-7, PRIV-8, PRIV-12). The current state
-- of a kind is its newest row; withdrawal is a new row with granted = 0.
-- Sign-up's own acceptance and parental consent are read from users
-- (created_at, parent_consent_at) and shown as the first rows of the ledger.
CREATE TABLE consents (
	id INTEGER PRIMARY KEY,
	user_id TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('terms', 'privacy_notice', 'marketing', 'data_sharing', 'parental')),
	granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
	policy_version TEXT,
	at INTEGER NOT NULL,
	source TEXT NOT NULL
);
CREATE INDEX consents_user ON consents(user_id, kind, id);
CREATE TRIGGER consents_append_only BEFORE UPDATE ON consents
BEGIN
	SELECT RAISE(ABORT, 'consents are append-only');
END;

-- privacy_restrictions: while a row exists, nothing is processed for the
-- user (PRIV-6): generation routes refuse, optional mail is not sent.
CREATE TABLE privacy_restrictions (
	user_id TEXT PRIMARY KEY,
	since INTEGER NOT NULL
);

-- privacy_objections: objections to processing on legitimate interest
-- (PRIV-6). note_sealed: the user's own words, sealed under their key.
CREATE TABLE privacy_objections (
	id INTEGER PRIMARY KEY,
	user_id TEXT NOT NULL,
	purpose TEXT NOT NULL CHECK (purpose IN ('marketing', 'analytics', 'model_improvement', 'profiling', 'other')),
	note_sealed BLOB,
	at INTEGER NOT NULL
);
CREATE INDEX privacy_objections_user ON privacy_objections(user_id, purpose);

-- privacy_requests: every request about personal data, from any channel,
-- with its 30-day deadline (PRIV-11, AGE-3, OPS-6). contact_sealed is the
-- requester's address (a parent's, a data subject writing in), sealed under
-- vault owner "req:<id>"; verify_hash is the SHA-256 of the mailed token.
-- user_id is cleared when that account is erased: the request stays as
-- evidence that it was answered, and points to nobody.
CREATE TABLE privacy_requests (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('access', 'portability', 'rectification', 'erasure', 'restriction',
					   'objection', 'consent', 'other')),
	channel TEXT NOT NULL CHECK (channel IN ('studio', 'api', 'mail', 'parent', 'staff')),
	user_id TEXT,
	customer TEXT,
	contact_sealed BLOB,
	status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('unverified', 'open', 'done', 'refused')),
	received_at INTEGER NOT NULL,
	due_at INTEGER NOT NULL,
	closed_at INTEGER,
	verify_hash TEXT UNIQUE,
	outcome TEXT
);
CREATE INDEX privacy_requests_user ON privacy_requests(user_id);
CREATE INDEX privacy_requests_due ON privacy_requests(status, due_at);

-- policy_versions: material changes published with `atelier privacy
-- publish` (PRIV-12); acceptance is a 'privacy_notice' row in consents.
CREATE TABLE policy_versions (
	version TEXT PRIMARY KEY,
	effective TEXT NOT NULL,
	published_at INTEGER NOT NULL
);

-- email_changes: a new address waits here, sealed, until the link mailed to
-- it is used (PRIV-3); only then does it replace the old one.
CREATE TABLE email_changes (
	hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	email_bidx TEXT NOT NULL,
	email_sealed BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX email_changes_user ON email_changes(user_id);

-- erasures: the erasure journal. One row per erased owner (a random ID that
-- no longer points to anyone), the time and the receipt. The backup escrow
-- file mirrors it, so a restored old backup is erased again (SEC-6).
CREATE TABLE erasures (
	owner TEXT PRIMARY KEY,
	at INTEGER NOT NULL,
	receipt_id TEXT NOT NULL
);

-- Billing records outlive the account (PAY-4): erasure replaces the owner of
-- purchase entries by a pseudonym. The ledger stays append-only in every
-- other respect: the one update allowed changes owner to a 'pn_' pseudonym
-- and nothing else.
DROP TRIGGER ledger_append_only;
CREATE TRIGGER ledger_append_only BEFORE UPDATE ON ledger
WHEN NOT (substr(NEW.owner, 1, 3) = 'pn_' AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.kind = OLD.kind
	  AND NEW.amount = OLD.amount AND NEW.idem = OLD.idem AND NEW.hold_id IS OLD.hold_id
	  AND NEW.model IS OLD.model AND NEW.note IS OLD.note)
BEGIN
	SELECT RAISE(ABORT, 'ledger is append-only');
END;
