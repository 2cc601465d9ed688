ALTER TABLE tokens DROP COLUMN secret_key;
