-- Whose a retired secret was: its token's registry username. A refusal says why a secret no
-- longer works (re-generated, deleted) only to the username it belonged to; to anyone else it
-- reads as an unknown secret. Secrets retired before this column existed have none, and their
-- refusals say nothing more than "unknown".
ALTER TABLE retired_secrets ADD COLUMN registry_username TEXT;
