ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMP;
ALTER TABLE tokens ADD COLUMN last_used_from TEXT;
UPDATE tokens SET (last_used_at, last_used_from) =
    (SELECT used_at, used_from FROM token_last_use WHERE token_id = tokens.id);
DROP TABLE token_last_use;
