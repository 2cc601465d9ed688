-- Usage per token: the client address it was last used from, and its uses per day (kept for
-- 30 days), both written in coalesced batches off the request path.
ALTER TABLE tokens ADD COLUMN last_used_from TEXT;
CREATE TABLE token_usage (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    pulls BIGINT NOT NULL,
    PRIMARY KEY (token_id, day)
);
CREATE INDEX token_usage_day ON token_usage (day);
