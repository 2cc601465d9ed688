-- A token's last use (when, and from which client address) in a narrow table of its own: the
-- gateway's usage writer rewrites it for every token used, and a token's own row is wide (a
-- dozen rows to a page). With a million tokens asked about at random, the writer dirtied
-- nearly every page of tokens every few seconds; this table has about fifty rows to a page.
-- No row: never used.
CREATE TABLE token_last_use (
    token_id TEXT PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    used_at TIMESTAMP NOT NULL,
    used_from TEXT
) WITHOUT ROWID;
INSERT INTO token_last_use (token_id, used_at, used_from)
    SELECT id, last_used_at, last_used_from FROM tokens WHERE last_used_at IS NOT NULL;
ALTER TABLE tokens DROP COLUMN last_used_at;
ALTER TABLE tokens DROP COLUMN last_used_from;
