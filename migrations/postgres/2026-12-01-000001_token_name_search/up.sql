-- Searching token names (`name_key LIKE '%text%'`) by trigrams, where the database has
-- pg_trgm (a trusted extension since PostgreSQL 13: the database's owner may create it): a
-- search then reads the names that contain the text, not every token of the project. Without
-- it, the migration goes on and a search scans the project's tokens as before.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available (%): token name searches scan the project''s tokens', SQLERRM;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX tokens_name_search ON tokens USING gin (name_key gin_trgm_ops);
    END IF;
END
$$;
