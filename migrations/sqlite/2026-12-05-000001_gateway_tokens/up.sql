-- SQLite only: what the gateway asks of a token, found by its secret's digest in one B-tree.
-- The lookup through the tokens table read three pages out of a million tokens' worth (the
-- digest index, the token's wide row, its products): with secrets asked at random, most of a
-- cache miss's cost. This table is the gateway's copy of those columns, keyed by digest
-- (WITHOUT ROWID: the row is the index entry), with the token's products in one column as
-- ` code code ` (codes hold no spaces). Triggers keep it in step with tokens and
-- token_products, whoever writes them (a node, `tollgate project put`, a migration).
-- PostgreSQL keeps its plain lookup: there, a miss costs a round trip more than its pages.
-- A later migration that rebuilds tokens or token_products must drop these triggers first.
CREATE TABLE gateway_tokens (
    digest TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    registry_username TEXT NOT NULL,
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- When the current secret was issued: re-generated, or else created.
    issued_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    expires_on DATE,
    products TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO gateway_tokens
    (digest, token_id, registry_username, project_id, kind, issued_at, revoked_at, expires_on, products)
SELECT t.secret_digest, t.id, t.registry_username, t.project_id, t.kind,
    coalesce(t.secret_regenerated_at, t.created_at), t.revoked_at, t.expires_on,
    ' ' || coalesce((SELECT group_concat(p.product_code, ' ') FROM token_products p WHERE p.token_id = t.id), '') || ' '
FROM tokens t;

CREATE TRIGGER gateway_tokens_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO gateway_tokens
        (digest, token_id, registry_username, project_id, kind, issued_at, revoked_at, expires_on, products)
    VALUES (new.secret_digest, new.id, new.registry_username, new.project_id, new.kind,
        coalesce(new.secret_regenerated_at, new.created_at), new.revoked_at, new.expires_on,
        ' ' || coalesce((SELECT group_concat(p.product_code, ' ') FROM token_products p WHERE p.token_id = new.id), '') || ' ');
END;

CREATE TRIGGER gateway_tokens_update AFTER UPDATE OF secret_digest, id, registry_username, project_id, kind,
    created_at, secret_regenerated_at, revoked_at, expires_on ON tokens BEGIN
    DELETE FROM gateway_tokens WHERE digest = old.secret_digest;
    INSERT INTO gateway_tokens
        (digest, token_id, registry_username, project_id, kind, issued_at, revoked_at, expires_on, products)
    VALUES (new.secret_digest, new.id, new.registry_username, new.project_id, new.kind,
        coalesce(new.secret_regenerated_at, new.created_at), new.revoked_at, new.expires_on,
        ' ' || coalesce((SELECT group_concat(p.product_code, ' ') FROM token_products p WHERE p.token_id = new.id), '') || ' ');
END;

CREATE TRIGGER gateway_tokens_delete AFTER DELETE ON tokens BEGIN
    DELETE FROM gateway_tokens WHERE digest = old.secret_digest;
END;

CREATE TRIGGER gateway_tokens_product_insert AFTER INSERT ON token_products BEGIN
    UPDATE gateway_tokens SET products = products || new.product_code || ' '
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = new.token_id);
END;

CREATE TRIGGER gateway_tokens_product_delete AFTER DELETE ON token_products BEGIN
    UPDATE gateway_tokens SET products = replace(products, ' ' || old.product_code || ' ', ' ')
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = old.token_id);
END;

CREATE TRIGGER gateway_tokens_product_update AFTER UPDATE ON token_products BEGIN
    UPDATE gateway_tokens SET products = replace(products, ' ' || old.product_code || ' ', ' ')
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = old.token_id);
    UPDATE gateway_tokens SET products = products || new.product_code || ' '
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = new.token_id);
END;
