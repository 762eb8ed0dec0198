-- 0002_accounts: users, sessions, API keys, single-use tokens, sign-in
-- throttling and known devices (ACC-1..10, AGE-1, AGE-2).
--
-- What is stored about a person, and why (SEC-7, data minimization):
--   * the email only sealed under the user's own key (email_sealed), and a
--     keyed hash of its normalized form (email_bidx) to find it;
--   * the username in clear: it is public within the service and must be
--     unique case-insensitively;
--   * never the birth date: only age_group ('adult' or 'minor'), and for a
--     minor the year-month from which they count as an adult (adult_from,
--     "YYYY-MM": the month after they turn 18, so the day is never kept),
--     plus the parent's email (sealed) and the time consent was given;
--   * optional profile fields (name, phone, company, billing address) sealed.
CREATE TABLE users (
	id TEXT PRIMARY KEY,
	username TEXT NOT NULL UNIQUE COLLATE NOCASE,
	email_bidx TEXT NOT NULL UNIQUE,
	email_sealed BLOB NOT NULL,
	email_verified_at INTEGER,
	password_hash TEXT NOT NULL,
	role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'support', 'admin')),
	age_group TEXT NOT NULL CHECK (age_group IN ('adult', 'minor')),
	adult_from TEXT,
	parent_email_sealed BLOB,
	parent_consent_at INTEGER,
	name_sealed BLOB,
	phone_sealed BLOB,
	company_sealed BLOB,
	billing_address_sealed BLOB,
	-- two-factor (ACC-5) is the mail2fa branch's: the secret is sealed
	-- under the user's key; totp_last_step refuses a replayed code.
	totp_enabled INTEGER NOT NULL DEFAULT 0,
	totp_secret_sealed BLOB,
	totp_last_step INTEGER,
	created_at INTEGER NOT NULL,
	password_changed_at INTEGER NOT NULL,
	CHECK (age_group = 'adult' OR (adult_from IS NOT NULL AND parent_consent_at IS NOT NULL
				       AND parent_email_sealed IS NOT NULL))
);

-- sessions: the cookie value is 256 random bits, kept only as its SHA-256.
-- id is the public handle shown in GET /api/me/sessions. The device is kept
-- as parsed browser and OS names, and the place as the client's /24 (IPv4)
-- or /48 (IPv6) network: there is no GeoIP database, and a network is as
-- close to a place as we need (ACC-10) without keeping the address.
CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL UNIQUE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	browser TEXT NOT NULL,
	os TEXT NOT NULL,
	network TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- api_keys: the secret is shown once; only its SHA-256 is kept, with the
-- first 8 characters for the user to recognise it. Revocation deletes the row.
CREATE TABLE api_keys (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	prefix TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	scopes INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	last_used INTEGER,
	expires_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id);

-- auth_tokens: single-use, expiring tokens sent by mail (email verification,
-- password reset) or returned by a sign-in that needs a second factor
-- ('2fa'). Kept as SHA-256 only; used_at makes them single-use.
CREATE TABLE auth_tokens (
	hash TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('verify', 'reset', '2fa')),
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at INTEGER
);
CREATE INDEX auth_tokens_user ON auth_tokens(user_id, kind);

-- auth_throttle: failed sign-ins per account ("u:<id>", or "l:<keyed hash of
-- the login>" when no account matches, so both behave the same) and per
-- client address ("ip:<address>"). Rows age out with their window.
CREATE TABLE auth_throttle (
	key TEXT PRIMARY KEY,
	failures INTEGER NOT NULL,
	window_start INTEGER NOT NULL,
	locked_until INTEGER NOT NULL
);

-- known_devices: a keyed hash of (browser, OS, network) per user, so a
-- sign-in from a new device can be told by mail (ACC-9).
CREATE TABLE known_devices (
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	device TEXT NOT NULL,
	first_seen INTEGER NOT NULL,
	PRIMARY KEY (user_id, device)
);
