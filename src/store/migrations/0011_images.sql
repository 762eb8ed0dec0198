-- 0011_images: image generation jobs and each owner's gallery (GEN-2..5).
-- Prompts and pictures are sealed under the owner's key (SEC-3); nothing
-- here holds them in the clear. A job's prompt is cleared when the job ends
-- (the images keep their own sealed copy, if they are kept).
CREATE TABLE image_jobs (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	model TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed')),
	params TEXT NOT NULL,            -- JSON: n, size, steps, guidance, sampler, seed, strength, ...; never content
	prompt_sealed BLOB,              -- NULL once the job ended
	negative_sealed BLOB,
	init_sealed BLOB,                -- image to image: the start picture (RGB), NULL once the job ended
	hold_id INTEGER NOT NULL DEFAULT 0, -- credit hold settled (done) or released (failed) exactly once
	key_id TEXT,
	end_user TEXT,                   -- the customer's `user`, keyed hash
	endpoint TEXT NOT NULL,
	error TEXT,                      -- a short reason, never content
	created_at INTEGER NOT NULL,
	started_at INTEGER,
	finished_at INTEGER
);
CREATE INDEX image_jobs_queue ON image_jobs(model, state, created_at);
CREATE INDEX image_jobs_owner ON image_jobs(owner);

CREATE TABLE images (
	seq INTEGER PRIMARY KEY,         -- gallery order and paging cursor
	id TEXT NOT NULL UNIQUE,
	owner TEXT NOT NULL,
	end_user TEXT,                   -- the API customer's `user`, keyed hash (PRIV-10)
	job_id TEXT,
	idx INTEGER NOT NULL DEFAULT 0,  -- index within its job
	model TEXT NOT NULL,
	prompt_sealed BLOB NOT NULL,
	negative_sealed BLOB,
	seed INTEGER NOT NULL,
	width INTEGER NOT NULL,
	height INTEGER NOT NULL,
	steps INTEGER NOT NULL,
	guidance REAL NOT NULL,
	sampler TEXT NOT NULL,
	strength REAL,                   -- image to image only
	png_sealed BLOB NOT NULL,
	bytes INTEGER NOT NULL,
	kept INTEGER NOT NULL DEFAULT 1,
	expires_at INTEGER,              -- NULL: until the owner deletes it
	created_at INTEGER NOT NULL
);
CREATE INDEX images_owner ON images(owner, seq);
CREATE INDEX images_job ON images(job_id, idx);
CREATE INDEX images_end_user ON images(owner, end_user) WHERE end_user IS NOT NULL;
CREATE INDEX images_expiry ON images(expires_at) WHERE expires_at IS NOT NULL;
