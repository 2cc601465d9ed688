ALTER TABLE projects DROP COLUMN max_service_token_days;
ALTER TABLE projects DROP COLUMN max_token_days;
