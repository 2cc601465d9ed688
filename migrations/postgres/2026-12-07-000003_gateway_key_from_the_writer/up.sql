-- The same column as SQLite's, so that one write serves both; PostgreSQL's lookup goes by its
-- index on the whole digest and never reads it.
ALTER TABLE tokens ADD COLUMN secret_key BIGINT;
