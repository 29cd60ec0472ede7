-- Conversation threads and their messages (timestamps: microseconds since the Unix epoch).
CREATE TABLE IF NOT EXISTS chat_threads (
    thread_id     TEXT   PRIMARY KEY,
    title         TEXT   NOT NULL,
    created_us    BIGINT NOT NULL,
    updated_us    BIGINT NOT NULL,
    message_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chat_threads_recent ON chat_threads (updated_us DESC, created_us DESC);

CREATE TABLE IF NOT EXISTS chat_messages (
    id         BIGSERIAL PRIMARY KEY,
    thread_id  TEXT   NOT NULL REFERENCES chat_threads (thread_id) ON DELETE CASCADE,
    role       TEXT   NOT NULL CHECK (role IN ('user', 'assistant')),
    content    TEXT   NOT NULL,
    meta       TEXT   NOT NULL DEFAULT '{}',
    created_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_messages_thread ON chat_messages (thread_id, id);
