-- A customer's own tokens in the list's order.
DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens (user_id, created_at, id);
