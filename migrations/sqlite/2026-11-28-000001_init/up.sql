-- Tollgate's schema: projects and their subscription, users, service users, tokens, audit.
-- The same shape as the PostgreSQL schema; dates and timestamps are ISO-8601 text (UTC).

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    subscription_end_date DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE products (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE subscription_products (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    product_code TEXT NOT NULL REFERENCES products (code),
    PRIMARY KEY (project_id, product_code)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE service_users (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (project_id, name_key)
);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    kind TEXT NOT NULL CHECK (kind IN ('user', 'service')),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    service_user_id TEXT REFERENCES service_users (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    registry_username TEXT NOT NULL UNIQUE,
    secret_digest TEXT NOT NULL UNIQUE,
    secret_last4 TEXT NOT NULL,
    subscription_end_date DATE NOT NULL,
    last_used_at TIMESTAMP,
    secret_regenerated_at TIMESTAMP,
    UNIQUE (project_id, name_key),
    CHECK ((kind = 'user' AND user_id IS NOT NULL AND service_user_id IS NULL)
        OR (kind = 'service' AND service_user_id IS NOT NULL AND user_id IS NULL))
);
CREATE INDEX tokens_project_created ON tokens (project_id, created_at, id);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_service_user ON tokens (service_user_id);

CREATE TABLE token_products (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    product_code TEXT NOT NULL REFERENCES products (code),
    PRIMARY KEY (token_id, product_code)
);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    occurred_at TIMESTAMP NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    target_name TEXT NOT NULL,
    request_id TEXT NOT NULL,
    client_address TEXT,
    details TEXT
);
CREATE INDEX audit_events_project ON audit_events (project_id, id);

-- SQLite only: every write transaction first updates this row, which takes the database's
-- write lock at the start of the transaction (waiting out busy_timeout) instead of failing
-- with SQLITE_BUSY when a read transaction later tries to upgrade to a write.
CREATE TABLE write_gate (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    writes BIGINT NOT NULL
);
INSERT INTO write_gate (id, writes) VALUES (1, 0);
