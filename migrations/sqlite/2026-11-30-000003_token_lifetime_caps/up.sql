-- The longest a project's user and service tokens may last, in days from when they are
-- generated or re-generated (none: up to the subscription's end). Part of the subscription.
ALTER TABLE projects ADD COLUMN max_token_days INTEGER;
ALTER TABLE projects ADD COLUMN max_service_token_days INTEGER;
