-- 0004_credits: the credit ledger (PAY-1, PAY-5).
-- ledger is append-only; each row moves `amount` micro-credits (positive in,
-- negative out) for one owner, with an idempotency key so a retried purchase,
-- grant or spend is recorded once. The balance is derived from the ledger by
-- a trigger, in the same statement, and a CHECK keeps it from going below
-- zero: an entry that would overdraw fails as a whole, whatever the code
-- above does. Rows are never updated (a trigger refuses it); they are
-- deleted only whole, per owner, by erasure and retention.
CREATE TABLE credit_balances (
	owner TEXT PRIMARY KEY,
	balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0)
);

CREATE TABLE ledger (
	id INTEGER PRIMARY KEY,
	owner TEXT NOT NULL,
	at INTEGER NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('purchase','grant','hold','release','spend','refund','expiry')),
	amount INTEGER NOT NULL,
	idem TEXT NOT NULL UNIQUE,
	hold_id INTEGER REFERENCES ledger(id),
	model TEXT,
	note TEXT
);
CREATE INDEX ledger_owner ON ledger(owner, at);

-- holds: reservations of worst-case cost. state moves open -> settled or
-- released exactly once; a crash leaves it open, and start-up releases it.
CREATE TABLE credit_holds (
	ledger_id INTEGER PRIMARY KEY REFERENCES ledger(id),
	owner TEXT NOT NULL,
	amount INTEGER NOT NULL CHECK (amount > 0),
	state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','settled','released')),
	created_at INTEGER NOT NULL
);
CREATE INDEX credit_holds_open ON credit_holds(state, created_at);

CREATE TRIGGER ledger_apply AFTER INSERT ON ledger
BEGIN
	INSERT INTO credit_balances(owner, balance) VALUES (NEW.owner, 0) ON CONFLICT(owner) DO NOTHING;
	UPDATE credit_balances SET balance = balance + NEW.amount WHERE owner = NEW.owner;
END;

CREATE TRIGGER ledger_append_only BEFORE UPDATE ON ledger
BEGIN
	SELECT RAISE(ABORT, 'ledger is append-only');
END;
