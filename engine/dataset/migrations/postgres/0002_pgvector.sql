-- Document search with embeddings (engine/store/pgvector.rs). The vectors' table,
-- document_embeddings, is created when documents are first embedded, since vector(N)
-- takes the model's dimension. A server without pgvector still migrates: document search
-- there ranks by words alone.
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS vector;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pgvector is not available (%): document search ranks by words alone', SQLERRM;
END $$;

-- Full-text search over the same expression the hybrid search matches with.
CREATE INDEX IF NOT EXISTS documents_fulltext ON documents
  USING gin (to_tsvector('english', title || ' ' || body));
