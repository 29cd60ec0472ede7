-- Ids of deleted threads: a chat naming one later does not bring the thread back.
CREATE TABLE IF NOT EXISTS deleted_threads (
    thread_id TEXT PRIMARY KEY,
    deleted_us BIGINT NOT NULL
);
