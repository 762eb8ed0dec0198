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
