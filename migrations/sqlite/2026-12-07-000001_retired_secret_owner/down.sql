ALTER TABLE retired_secrets DROP COLUMN registry_username;
