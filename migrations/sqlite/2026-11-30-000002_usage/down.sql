DROP TABLE token_usage;
ALTER TABLE tokens DROP COLUMN last_used_from;
