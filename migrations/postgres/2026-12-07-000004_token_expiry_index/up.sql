-- The tokens with a last day of their own, by that day: the expiry reminders look every minute
-- for those ending within a month, and without it read every token of every project with
-- webhooks (a million-token table, inside the reminders' write transaction).
-- CONCURRENTLY: built without blocking writes to tokens, so the nodes still serving (the
-- previous release's, in a rolling upgrade) go on making and re-generating tokens meanwhile.
-- It cannot run in a transaction (metadata.toml) and must be the file's only statement (a
-- string of several is one implicit transaction). Should the build fail half-way, PostgreSQL
-- leaves an invalid index of this name: `DROP INDEX CONCURRENTLY tokens_expires_on` and start
-- a node again (migrations/README.md).
CREATE INDEX CONCURRENTLY IF NOT EXISTS tokens_expires_on ON tokens (expires_on) WHERE expires_on IS NOT NULL
