-- The tokens with a last day of their own, by that day: the expiry reminders look every minute
-- for those ending within a month (PostgreSQL's twin is built CONCURRENTLY; SQLite's one
-- writer builds it in the migration's transaction).
CREATE INDEX tokens_expires_on ON tokens (expires_on) WHERE expires_on IS NOT NULL;
