-- A token whose secret was reported leaked: revoked (when, and why) until it is re-generated.
ALTER TABLE tokens ADD COLUMN revoked_at TIMESTAMP;
ALTER TABLE tokens ADD COLUMN revocation_reason TEXT;
