-- 0012_chat_history: the studio's opt-in chat history (issue #5, SEC-3).
-- Nothing is stored unless the owner switched history on (chat_settings);
-- titles and message contents are sealed under the owner's key. Switching
-- history off deletes every conversation of the owner (messages cascade).
CREATE TABLE chat_settings (
	owner TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	history INTEGER NOT NULL DEFAULT 0 CHECK (history IN (0, 1)),
	updated_at INTEGER NOT NULL
);

CREATE TABLE chat_conversations (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	title_sealed BLOB,               -- NULL: untitled
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX chat_conversations_owner ON chat_conversations(owner, updated_at);

CREATE TABLE chat_messages (
	conversation TEXT NOT NULL REFERENCES chat_conversations(id) ON DELETE CASCADE,
	owner TEXT NOT NULL,             -- the conversation's owner, so every query matches it
	seq INTEGER NOT NULL,            -- 0-based order within the conversation
	role TEXT NOT NULL CHECK (role IN ('user','assistant','system')),
	content_sealed BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (conversation, seq)
);
CREATE INDEX chat_messages_owner ON chat_messages(owner);
