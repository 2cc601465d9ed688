ALTER TABLE tokens DROP COLUMN expires_on;
