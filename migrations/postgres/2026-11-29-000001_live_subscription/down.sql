ALTER TABLE tokens ADD COLUMN subscription_end_date DATE NOT NULL DEFAULT '1970-01-01';
UPDATE tokens SET subscription_end_date = (SELECT subscription_end_date FROM projects WHERE projects.id = tokens.project_id);
