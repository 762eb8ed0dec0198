-- 0006_oidc: sign-up after a Google sign-in found no account (ACC-6).
--
-- Google vouches for an email but gives no birth date, which sign-up needs
-- for the age rules (AGE-1, AGE-2); so no account is made silently. The
-- callback keeps the verified email here, sealed under a key of its own
-- (vault owner "sso:<token_hash>"), and sends the browser to the studio's
-- sign-up with a token; POST /api/auth/signup with that token creates the
-- account already verified. The row is found by the SHA-256 of the token,
-- works once (deleted with its key when used) and for minutes; expired
-- rows and their keys go when the next one is written.
-- (Numbered 0006: 0004 and 0005 are taken by credits and billing.)
CREATE TABLE oidc_signups (
	token_hash TEXT PRIMARY KEY,
	email_sealed BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX oidc_signups_expiry ON oidc_signups(expires_at);
