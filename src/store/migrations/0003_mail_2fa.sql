-- 0003_mail_2fa: the mail outbox, two-factor authentication and single
-- sign-on state.
--
-- mail_outbox: messages waiting for the sender thread (service/mail.c). The
-- recipient, subject and body are sealed under a key of their own (vault
-- owner "mail:<id>"); the row and that key are deleted once the message is
-- delivered or given up, so nothing of it stays readable anywhere. kind is a
-- short constant for logs and metrics. next_attempt doubles as the claim: a
-- sender pushes it forward before delivering, so two nodes never send twice.
CREATE TABLE mail_outbox (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	rcpt BLOB NOT NULL,
	subject BLOB NOT NULL,
	body BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt);

-- Two-factor authentication (ACC-5). The confirmed secret lives in
-- users.totp_secret_sealed (0002), with users.totp_enabled and
-- users.totp_last_step, which refuses a code whose step was already used.
-- totp_pending: a secret being enrolled, sealed under the user's key
-- (purpose "totp_pending"), until a first code confirms it.
CREATE TABLE totp_pending (
	user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	secret_sealed BLOB NOT NULL,
	created_at INTEGER NOT NULL
);

-- recovery_codes: ten single-use codes per user, kept only as a keyed hash
-- (blind-index key; without the master key a stolen table cannot be
-- brute-forced offline). Using one deletes its row.
CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	code_hash TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, code_hash)
);

-- totp_throttle: wrong second factors per user in the current window.
CREATE TABLE totp_throttle (
	user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	failures INTEGER NOT NULL,
	window_start INTEGER NOT NULL
);

-- oidc_flows: a sign-in with Google in progress (ACC-6), found by the hash
-- of its state; holds the nonce and the PKCE verifier for the callback, and
-- is deleted when used or expired (minutes).
CREATE TABLE oidc_flows (
	state_hash TEXT PRIMARY KEY,
	nonce TEXT NOT NULL,
	verifier TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
