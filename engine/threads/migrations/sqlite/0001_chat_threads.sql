-- Conversation threads and their messages (timestamps: microseconds since the Unix epoch).
CREATE TABLE chat_threads (
    thread_id     TEXT    PRIMARY KEY,
    title         TEXT    NOT NULL,
    created_us    INTEGER NOT NULL,
    updated_us    INTEGER NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chat_threads_recent ON chat_threads (updated_us DESC, created_us DESC);

CREATE TABLE chat_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id  TEXT    NOT NULL REFERENCES chat_threads (thread_id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    content    TEXT    NOT NULL,
    meta       TEXT    NOT NULL DEFAULT '{}',
    created_us INTEGER NOT NULL
);
CREATE INDEX chat_messages_thread ON chat_messages (thread_id, id);
