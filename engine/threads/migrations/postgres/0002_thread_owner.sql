-- The API key (by name) that created a thread; '' when the server runs without keys.
ALTER TABLE chat_threads ADD COLUMN IF NOT EXISTS owner TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS chat_threads_owner ON chat_threads (owner, updated_us DESC);
