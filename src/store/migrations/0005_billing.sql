-- 0005_billing: payments (PAY-2, PAY-3, PAY-4) and usage (USE-1, USE-2).

-- charges: one per checkout. Only what the ledger and the receipt need:
-- no wallet address, no card detail, no payer data from the provider.
CREATE TABLE charges (
	ref TEXT PRIMARY KEY,            -- our internal reference, sent as metadata
	owner TEXT NOT NULL,
	code TEXT UNIQUE,                -- the provider's charge code
	credits INTEGER NOT NULL CHECK (credits > 0),   -- micro-credits bought
	amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
	currency TEXT NOT NULL,
	status TEXT NOT NULL DEFAULT 'created',
	hosted_url TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX charges_owner ON charges(owner, created_at);

-- receipts: the billing record of a completed purchase, kept for
-- [retention] billing. Erasure replaces owner by a pseudonym.
CREATE TABLE receipts (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	charge_code TEXT NOT NULL UNIQUE,
	credits INTEGER NOT NULL,
	amount_cents INTEGER NOT NULL,
	currency TEXT NOT NULL,
	issued_at INTEGER NOT NULL,
	pseudonymized_at INTEGER
);
CREATE INDEX receipts_owner ON receipts(owner, issued_at);

-- webhook_events: provider event IDs already handled, so a repeat is ignored.
CREATE TABLE webhook_events (
	id TEXT PRIMARY KEY,
	received_at INTEGER NOT NULL
);

-- usage: one row per API call (USE-1). Never prompt or output text.
-- end_user is the keyed hash of the customer's `user` field (PRIV-10).
CREATE TABLE usage (
	id INTEGER PRIMARY KEY,
	owner TEXT NOT NULL,
	at INTEGER NOT NULL,
	endpoint TEXT NOT NULL,
	model TEXT,
	key_id TEXT,
	end_user TEXT,
	prompt_tokens INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	images INTEGER NOT NULL DEFAULT 0,
	audio_ms INTEGER NOT NULL DEFAULT 0,
	status INTEGER NOT NULL,
	latency_ms INTEGER NOT NULL,
	cost INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_owner_at ON usage(owner, at);
CREATE INDEX usage_end_user ON usage(owner, end_user);
CREATE INDEX usage_at ON usage(at);
