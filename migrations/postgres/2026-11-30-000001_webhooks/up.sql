-- Webhooks of a project, and their outbox: a delivery row is written in the same transaction
-- as the change it reports, and leaves the pending state only when a receiver answered 2xx or
-- every retry failed. A node claims a delivery with a lease before sending it, so that two
-- nodes never send one delivery at the same time.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    signing_secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_project ON webhooks (project_id, created_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    last_duration_ms BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);

-- Reminders already sent (`expiring:30`, `expiring:7`, `expiring:1`, `expired`) for a
-- subscription or a token ending on `last_day`: each once, even with several schedulers.
CREATE TABLE lifecycle_notices (
    subject TEXT NOT NULL,
    notice TEXT NOT NULL,
    last_day DATE NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (subject, notice, last_day)
);

-- Work that one node at a time does (the expiry scheduler): whoever holds the lease.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until_at TIMESTAMP NOT NULL
);
