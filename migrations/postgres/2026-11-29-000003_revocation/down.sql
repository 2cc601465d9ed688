ALTER TABLE tokens DROP COLUMN revocation_reason;
ALTER TABLE tokens DROP COLUMN revoked_at;
