DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens (user_id);
DROP INDEX tokens_project_created;
CREATE INDEX tokens_project_created ON tokens (project_id, created_at, id);
