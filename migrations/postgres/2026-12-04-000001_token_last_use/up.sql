-- A token's last use (when, and from which client address) in a narrow table of its own: the
-- gateway's usage writer rewrites it for every token used, and a token's own row is wide.
-- With a million tokens asked about at random, the writer rewrote nearly every page of tokens
-- every few seconds, each page's first change after a checkpoint a full page in the WAL. Room
-- on each page for the rows' newer versions keeps those updates heap-only (no index entry).
-- No row: never used.
CREATE TABLE token_last_use (
    token_id TEXT PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    used_at TIMESTAMP NOT NULL,
    used_from TEXT
) WITH (fillfactor = 85);
INSERT INTO token_last_use (token_id, used_at, used_from)
    SELECT id, last_used_at, last_used_from FROM tokens WHERE last_used_at IS NOT NULL;
ALTER TABLE tokens DROP COLUMN last_used_at, DROP COLUMN last_used_from;
-- tokens' rows are no longer rewritten on every use.
ALTER TABLE tokens RESET (fillfactor);
