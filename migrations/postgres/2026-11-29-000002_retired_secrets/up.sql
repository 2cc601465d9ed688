-- Digests of secrets that no longer work, and why: so that a client presenting one is told
-- that it was re-generated or that its token was deleted, rather than "unknown". Only the
-- holder of such a secret can learn this, and never which token it was.
CREATE TABLE retired_secrets (
    digest TEXT PRIMARY KEY,
    reason TEXT NOT NULL CHECK (reason IN ('regenerated', 'deleted')),
    retired_at TIMESTAMP NOT NULL
);
