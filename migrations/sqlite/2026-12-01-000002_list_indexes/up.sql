-- A project's tokens in the list's order, with the columns its filters read (name, kind,
-- revocation, own last day): a filtered or searched page reads index entries in order and
-- looks up only the rows that match, not every row of the project.
DROP INDEX tokens_project_created;
CREATE INDEX tokens_project_created ON tokens (project_id, created_at, id, name_key, kind, revoked_at, expires_on);
-- A customer's own tokens in the list's order.
DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens (user_id, created_at, id);
