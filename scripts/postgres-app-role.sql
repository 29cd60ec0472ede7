-- The least-privilege role `eng-intel serve` runs as (docs/DEPLOY.md, "Database role").
-- Run it as the database owner after `eng-intel migrate`, in the service's database:
--
--   psql -d engineering_intelligence -v app_role=eng_intel_app -v app_password='…' \
--        -f scripts/postgres-app-role.sql
--
-- The app role reads the organisation tables and reads and writes the thread tables;
-- it owns nothing and cannot change the schema. Re-running it is harmless.
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_role', :'app_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role') \gexec
ALTER ROLE :"app_role" LOGIN PASSWORD :'app_password';
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'app_role') \gexec
GRANT USAGE ON SCHEMA public TO :"app_role";
-- Organisation tables (and the migrations bookkeeping, which `serve` reads): read only.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"app_role";
-- Conversations: read and write.
GRANT SELECT, INSERT, UPDATE, DELETE ON chat_threads, chat_messages, deleted_threads TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";
