DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens (user_id);
