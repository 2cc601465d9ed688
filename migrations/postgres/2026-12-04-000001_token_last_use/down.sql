ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMP, ADD COLUMN last_used_from TEXT;
ALTER TABLE tokens SET (fillfactor = 85);
UPDATE tokens t SET last_used_at = u.used_at, last_used_from = u.used_from
    FROM token_last_use u WHERE u.token_id = t.id;
DROP TABLE token_last_use;
